/* text_int.h: private to engine/text/ (and the Xapian oracle, which parses queries with the
 * same parser): what its C++ files share. A C++ header: it includes <xapian.h>. */
#ifndef SOUK_TEXT_INT_H
#define SOUK_TEXT_INT_H

#include "souk/souk.h"
#include "souk/queryparse.h"

#include <xapian.h>

#include <cstdio>
#include <string>
#include <unordered_map>

namespace
{

/* Copies a message into a caller buffer, always NUL-terminated. */
void set_err(char *err, size_t errlen, const std::string &msg)
{
    if (err && errlen) {
        std::snprintf(err, errlen, "%s", msg.c_str());
    }
}

} // namespace

/* A Xapian database opened read-only or writable, with the last error: what the oracle
 * database (souk_xdb) and the spelling table (souk_xspell) share. */
struct XHandle {
    Xapian::Database *ro = nullptr;
    Xapian::WritableDatabase *rw = nullptr;
    std::string err;

    Xapian::Database &db()
    {
        return rw ? *rw : *ro;
    }
    void open(const char *path, int writable, int flags)
    {
        if (writable)
            rw = new Xapian::WritableDatabase(path, Xapian::DB_CREATE_OR_OPEN | flags);
        else
            ro = new Xapian::Database(path);
    }
    ~XHandle()
    {
        try {
            if (rw)
                rw->close();
        } catch (...) {
        }
        delete rw;
        delete ro;
    }
};

#define XDB_CATCH(db)                                                                              \
    catch (const Xapian::Error &e)                                                                 \
    {                                                                                              \
        (db)->err = e.get_description();                                                           \
        return SOUK_EXAPIAN;                                                                       \
    }                                                                                              \
    catch (const std::bad_alloc &)                                                                 \
    {                                                                                              \
        return SOUK_ENOMEM;                                                                        \
    }                                                                                              \
    catch (...)                                                                                    \
    {                                                                                              \
        (db)->err = "unknown C++ exception";                                                       \
        return SOUK_EXAPIAN;                                                                       \
    }

/* The parser of this thread, kept while the configuration stays the same: building one (its
 * stemmer above all) costs more than parsing a short query. */
struct ParserCache {
    std::string key;
    Xapian::QueryParser qp;
    std::string stem_name; /* the fast path's stemmer */
    Xapian::Stem stem;
    /* The fast path's stems, word -> stem (Snowball costs about 0.3 us a word); cleared when
     * the language changes or the cache fills. */
    std::unordered_map<std::string, std::string> stems;
};

/* Parses text the way every Souk query is parsed (the oracle uses the same function). */
Xapian::Query parse_with_xapian(const char *text, size_t len, const char *sname,
                                const souk_qp_field *fields, size_t nfields, unsigned flags,
                                Xapian::Database *db, ParserCache *cache);

#endif
