/* text_int.h: what the text layer's C++ files (engine/text/queryparse.cc, spelltable.cc) share,
 * private to engine/text/ but for one reader: the test kit's Xapian oracle (tests/kit/xdb.cc)
 * opens its database with XHandle and parses queries with parse_with_xapian, so that it parses
 * exactly as souk_query_parse does. A C++ header: it includes <xapian.h>. */
#ifndef SOUK_TEXT_INT_H
#define SOUK_TEXT_INT_H

#include "souk/souk.h"
#include "souk/queryparse.h"

#include <xapian.h>

#include <cstdio>
#include <string>
#include <unordered_map>

/* Copies a message into a caller buffer, always NUL-terminated. */
inline void set_err(char *err, size_t errlen, const std::string &msg)
{
    if (err && errlen) {
        std::snprintf(err, errlen, "%s", msg.c_str());
    }
}

/* A Xapian database opened read-only or writable, with the last error: what the spelling table
 * (souk_xspell) and the oracle database (souk_xdb, tests/kit/xdb.cc) share. */
struct XHandle {
    Xapian::Database *ro = nullptr;
    Xapian::WritableDatabase *rw = nullptr;
    std::string err;

    Xapian::Database &db()
    {
        return rw ? *rw : *ro;
    }
    /* flags: the backend, and for a writable handle the action (Xapian::DB_OPEN, DB_CREATE,
     * ...; none is DB_CREATE_OR_OPEN, which is 0). */
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

/* The catch clauses of every extern "C" function on an XHandle: a Xapian error's description
 * goes to the handle, and no exception leaves. */
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

/* A query parser kept while the configuration stays the same: building one (its stemmer above
 * all) costs more than parsing a short query. Each thread has one (queryparse.cc), and so has
 * each oracle database. */
struct ParserCache {
    std::string key;
    Xapian::QueryParser qp;
    std::string stem_name; /* the fast path's stemmer */
    Xapian::Stem stem;
    /* The fast path's stems, word -> stem (Snowball costs about 0.3 us a word); cleared when
     * the language changes or the cache fills. */
    std::unordered_map<std::string, std::string> stems;
};

/* Parses text (len bytes) the way every Souk query is parsed: Xapian::QueryParser with the
 * stemmer sname (a souk_language_stemmer name), STEM_SOME, the fields, phrases, boolean
 * operators, +/-, wildcards, pure NOT and CJK n-grams, default operator and partial matching as
 * flags say (SOUK_QP_*). db (may be NULL) is set on the parser when it is built (wildcard
 * expansion); cache
 * NULL uses this thread's parser. An empty query is MatchNothing. Throws what QueryParser throws
 * (Xapian::QueryParserError on a syntax error). */
Xapian::Query parse_with_xapian(const char *text, size_t len, const char *sname,
                                const souk_qp_field *fields, size_t nfields, unsigned flags,
                                Xapian::Database *db, ParserCache *cache);

#endif
