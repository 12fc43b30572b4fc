/* spelltable.cc: the Xapian spelling table (text/spelltable.h): a Glass database of
 * its own holding only Xapian's spelling table and the index generation it was brought up to.
 *
 * Every extern "C" function catches every exception and maps it to a SOUK_E* code. */
#include "text/spelltable.h"
#include "text/text_int.h"

#include <cstdio>
#include <cstdlib>
#include <cstddef>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

struct souk_xspell : XHandle {
};

extern "C" int souk_xspell_open(const char *path, int writable, souk_xspell **out, char *err,
                                size_t errlen)
{
    souk_xspell *sp = nullptr;
    try {
        sp = new souk_xspell();
        /* Writable: an existing table only (DB_OPEN). A directory without the version file
         * (iamglass, the last file Xapian writes when it creates a database) is no table. */
        sp->open(path, writable, Xapian::DB_BACKEND_GLASS | (writable ? Xapian::DB_OPEN : 0));
        *out = sp;
        return SOUK_OK;
    } catch (const Xapian::DatabaseNotFoundError &e) {
        set_err(err, errlen, e.get_description());
        delete sp;
        return SOUK_ENOTFOUND;
    } catch (const Xapian::DatabaseOpeningError &e) {
        set_err(err, errlen, e.get_description());
        delete sp;
        return writable ? SOUK_EXAPIAN : SOUK_ENOTFOUND;
    } catch (const Xapian::Error &e) {
        set_err(err, errlen, e.get_description());
    } catch (...) {
        set_err(err, errlen, "cannot open the spelling database");
    }
    delete sp;
    return SOUK_EXAPIAN;
}

extern "C" int souk_xspell_create(const char *path, souk_xspell **out, char *err, size_t errlen)
{
    souk_xspell *sp = nullptr;
    try {
        sp = new souk_xspell();
        sp->open(path, 1, Xapian::DB_BACKEND_GLASS | Xapian::DB_CREATE);
        *out = sp;
        return SOUK_OK;
    } catch (const Xapian::Error &e) {
        set_err(err, errlen, e.get_description());
    } catch (...) {
        set_err(err, errlen, "cannot create the spelling database");
    }
    delete sp;
    return SOUK_EXAPIAN;
}

extern "C" void souk_xspell_close(souk_xspell *sp)
{
    delete sp;
}

extern "C" const char *souk_xspell_errmsg(const souk_xspell *sp)
{
    return sp ? sp->err.c_str() : "no spelling database";
}

extern "C" int souk_xspell_reopen(souk_xspell *sp)
{
    try {
        sp->db().reopen();
        return SOUK_OK;
    }
    XDB_CATCH(sp)
}

extern "C" int souk_xspell_generation(souk_xspell *sp, uint64_t *gen)
{
    try {
        std::string v = sp->db().get_metadata("souk_generation");
        *gen = v.empty() ? 0 : std::strtoull(v.c_str(), nullptr, 10);
        return SOUK_OK;
    }
    XDB_CATCH(sp)
}

extern "C" int souk_xspell_words(souk_xspell *sp, souk_xspell_fn fn, void *ctx)
{
    try {
        Xapian::Database &d = sp->db();
        for (Xapian::TermIterator it = d.spellings_begin(); it != d.spellings_end(); ++it) {
            std::string w = *it;
            if (fn(ctx, w.data(), w.size(), it.get_termfreq()))
                break;
        }
        return SOUK_OK;
    }
    XDB_CATCH(sp)
}

extern "C" int souk_xspell_change(souk_xspell *sp, const char *word, size_t len, int64_t delta)
{
    if (!sp->rw)
        return SOUK_EINVAL;
    try {
        std::string w(word, len);
        /* Xapian counts in termcount (32 bits): large changes go in steps. */
        const int64_t step = 0x7fffffff;
        while (delta > 0) {
            int64_t d = delta < step ? delta : step;
            sp->rw->add_spelling(w, (Xapian::termcount)d);
            delta -= d;
        }
        while (delta < 0) {
            int64_t d = -delta < step ? -delta : step;
            sp->rw->remove_spelling(w, (Xapian::termcount)d);
            delta += d;
        }
        return SOUK_OK;
    }
    XDB_CATCH(sp)
}

extern "C" int souk_xspell_commit(souk_xspell *sp, uint64_t generation)
{
    if (!sp->rw)
        return SOUK_EINVAL;
    try {
        sp->rw->set_metadata("souk_generation", std::to_string(generation));
        sp->rw->commit();
        return SOUK_OK;
    }
    XDB_CATCH(sp)
}

extern "C" int souk_xspell_suggest(souk_xspell *sp, const char *word, size_t len,
                                   unsigned max_edits, char *out, size_t outcap, size_t *outlen)
{
    *outlen = 0;
    try {
        std::string s;
        for (int attempt = 0;; attempt++) {
            try {
                s = sp->db().get_spelling_suggestion(std::string(word, len), max_edits);
                break;
            } catch (const Xapian::DatabaseModifiedError &) {
                /* The indexer committed twice while we read: see the newest revision. */
                if (attempt == 3)
                    throw;
                sp->db().reopen();
            }
        }
        if (s.size() >= outcap)
            return SOUK_ETOOBIG;
        memcpy(out, s.data(), s.size());
        out[s.size()] = 0;
        *outlen = s.size();
        return SOUK_OK;
    }
    XDB_CATCH(sp)
}
