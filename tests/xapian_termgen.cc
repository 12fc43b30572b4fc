/* xapian_termgen.cc: test-only wrapper of Xapian's TermGenerator and database readers
 * (tests/xapian_termgen.h), compiled into tests/test_ingest_oracle.c only. It holds no Souk code
 * and calls none: the terms come from Xapian alone, so the test can compare what souk-index
 * stored with what Xapian makes of the same records. */
#include "xapian_termgen.h"

#include <xapian.h>

#include <cstdio>
#include <string>
#include <vector>

struct xtg_db {
    Xapian::WritableDatabase *rw = nullptr;
    Xapian::Database *ro = nullptr;
    Xapian::TermGenerator tg;
    Xapian::Document doc;
    std::string err;
    std::vector<uint32_t> pos;

    Xapian::Database &db()
    {
        return rw ? *rw : *ro;
    }
    ~xtg_db()
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

#define XTG_CATCH(db)                                                                              \
    catch (const Xapian::Error &e)                                                                 \
    {                                                                                              \
        (db)->err = e.get_description();                                                           \
        return -1;                                                                                 \
    }                                                                                              \
    catch (const std::exception &e)                                                                \
    {                                                                                              \
        (db)->err = e.what();                                                                      \
        return -1;                                                                                 \
    }                                                                                              \
    catch (...)                                                                                    \
    {                                                                                              \
        (db)->err = "unknown C++ exception";                                                       \
        return -1;                                                                                 \
    }

static int open_db(const char *path, const char *stemmer, xtg_db **out, char *err, size_t errlen)
{
    xtg_db *db = nullptr;
    try {
        db = new xtg_db();
        if (stemmer) {
            /* A scratch database: no fsync (it cost most of the build's wall time). */
            db->rw = new Xapian::WritableDatabase(path, Xapian::DB_CREATE_OR_OVERWRITE |
                                                            Xapian::DB_BACKEND_GLASS |
                                                            Xapian::DB_NO_SYNC);
            if (std::string(stemmer) != "none")
                db->tg.set_stemmer(Xapian::Stem(stemmer));
            db->tg.set_stemming_strategy(Xapian::TermGenerator::STEM_SOME);
            db->tg.set_flags(Xapian::TermGenerator::FLAG_CJK_NGRAM);
        } else {
            db->ro = new Xapian::Database(path);
        }
        *out = db;
        return 0;
    } catch (const Xapian::Error &e) {
        std::snprintf(err, errlen, "%s", e.get_description().c_str());
    } catch (...) {
        std::snprintf(err, errlen, "cannot open the Xapian database");
    }
    delete db;
    return -1;
}

extern "C" int xtg_create(const char *path, const char *stemmer, xtg_db **out, char *err,
                          size_t errlen)
{
    return open_db(path, stemmer ? stemmer : "none", out, err, errlen);
}

extern "C" int xtg_open(const char *path, xtg_db **out, char *err, size_t errlen)
{
    return open_db(path, nullptr, out, err, errlen);
}

extern "C" void xtg_close(xtg_db *db)
{
    delete db;
}

extern "C" const char *xtg_errmsg(const xtg_db *db)
{
    return db ? db->err.c_str() : "no database";
}

extern "C" int xtg_doc_begin(xtg_db *db)
{
    try {
        db->doc = Xapian::Document();
        db->tg.set_document(db->doc);
        db->tg.set_termpos(0);
        return 0;
    }
    XTG_CATCH(db)
}

extern "C" int xtg_doc_text(xtg_db *db, const char *text, size_t len, uint32_t wdf_inc,
                            const char *prefix)
{
    try {
        db->tg.index_text(std::string(text, len), wdf_inc, prefix ? prefix : "");
        return 0;
    }
    XTG_CATCH(db)
}

extern "C" uint32_t xtg_doc_termpos(xtg_db *db)
{
    return db->tg.get_termpos();
}

extern "C" int xtg_doc_set_termpos(xtg_db *db, uint32_t pos)
{
    try {
        db->tg.set_termpos(pos);
        return 0;
    }
    XTG_CATCH(db)
}

extern "C" int xtg_doc_increase_termpos(xtg_db *db, uint32_t delta)
{
    try {
        db->tg.increase_termpos(delta);
        return 0;
    }
    XTG_CATCH(db)
}

extern "C" int xtg_doc_term(xtg_db *db, const char *term, size_t len, uint32_t wdf)
{
    try {
        db->doc.add_term(std::string(term, len), wdf);
        return 0;
    }
    XTG_CATCH(db)
}

extern "C" int xtg_doc_boolean(xtg_db *db, const char *term, size_t len)
{
    try {
        db->doc.add_boolean_term(std::string(term, len));
        return 0;
    }
    XTG_CATCH(db)
}

extern "C" int xtg_doc_end(xtg_db *db, const char *data, size_t len, uint32_t *docid)
{
    try {
        db->doc.set_data(std::string(data, len));
        *docid = db->rw->add_document(db->doc);
        return 0;
    }
    XTG_CATCH(db)
}

extern "C" int xtg_commit(xtg_db *db)
{
    try {
        db->rw->commit();
        return 0;
    }
    XTG_CATCH(db)
}

extern "C" int xtg_doc_terms(xtg_db *db,
                             void (*fn)(void *ctx, const char *term, size_t len, uint32_t wdf,
                                        const uint32_t *pos, size_t npos),
                             void *ctx)
{
    try {
        for (Xapian::TermIterator t = db->doc.termlist_begin(); t != db->doc.termlist_end(); ++t) {
            const std::string term = *t;
            db->pos.clear();
            for (Xapian::PositionIterator q = t.positionlist_begin(); q != t.positionlist_end();
                 ++q)
                db->pos.push_back(*q);
            fn(ctx, term.data(), term.size(), t.get_wdf(), db->pos.data(), db->pos.size());
        }
        return 0;
    }
    XTG_CATCH(db)
}

extern "C" int xtg_stats(xtg_db *db, uint64_t *docs, uint64_t *total_len)
{
    try {
        *docs = db->db().get_doccount();
        *total_len = db->db().get_total_length();
        return 0;
    }
    XTG_CATCH(db)
}

extern "C" int
xtg_terms(xtg_db *db, int (*fn)(void *ctx, const char *term, size_t len, uint32_t df, uint64_t cf),
          void *ctx)
{
    try {
        Xapian::Database &d = db->db();
        for (Xapian::TermIterator t = d.allterms_begin(); t != d.allterms_end(); ++t) {
            const std::string term = *t;
            if (fn(ctx, term.data(), term.size(), t.get_termfreq(), d.get_collection_freq(term)))
                break;
        }
        return 0;
    }
    XTG_CATCH(db)
}
