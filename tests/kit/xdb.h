/* xdb.h: a real Xapian database (tests/kit/xdb.cc), used as test oracle and as the benchmark
 * reference. Test-only: linked into the tests and souk-bench, never into the library.
 *
 * No C++ exception crosses this boundary: every function catches everything and returns a
 * SOUK_E* code, with the detail in the handle's last message or the caller's buffer. */
#ifndef SOUK_TEST_XDB_H
#define SOUK_TEST_XDB_H

#include "souk/analysis.h"
#include "souk/queryparse.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct souk_xdb souk_xdb;

/* Opens (creating if needed) a writable Xapian database at path, or a read-only one. */
int souk_xdb_open(const char *path, int writable, souk_xdb **out, char *err, size_t errlen);
void souk_xdb_close(souk_xdb *db);
const char *souk_xdb_errmsg(const souk_xdb *db);

/* One analyzed term of a document for souk_xdb_add_terms: positions may be NULL/0. A term with
 * wdf 0 and no positions is a boolean term. */
typedef struct souk_xterm {
    const char *term;
    size_t len;
    uint32_t wdf;
    const uint32_t *positions;
    uint32_t npositions;
} souk_xterm;

/* Adds a document made of already analyzed terms, with `data` as its document data. The new
 * Xapian docid is written to *docid. */
int souk_xdb_add_terms(souk_xdb *db, const souk_xterm *terms, size_t n, const char *data,
                       size_t data_len, uint32_t *docid);

/* A document value for souk_xdb_add_doc: a number (stored sortable_serialise'd) or a string. */
typedef struct souk_xvalue {
    unsigned slot;
    int is_number;
    double number;
    const char *str;
    size_t len;
} souk_xvalue;

/* Adds a document of analyzed terms with value slots (for facet benchmarks). */
int souk_xdb_add_doc(souk_xdb *db, const souk_xterm *terms, size_t n, const souk_xvalue *values,
                     size_t nvalues, uint32_t *docid);

/* Runs q (len 0: every document) filtered by value slot filter_slot <= filter_max, with a
 * ValueCountMatchSpy on each of slots over the whole match set: *matches gets the match count,
 * *counted the sum of all value counts (a checksum to compare with Souk's facets). */
int souk_xdb_facets(souk_xdb *db, const char *q, size_t len, const char *lang,
                    const souk_qp_field *fields, size_t nfields, const unsigned *slots,
                    size_t nslots, unsigned filter_slot, double filter_max, uint64_t *matches,
                    uint64_t *counted);

/* One field for souk_xdb_add_text: text analysed by TermGenerator (boolean == 0) or added as one
 * boolean term prefix+text (boolean != 0). */
typedef struct souk_xfield {
    const char *text;
    size_t len;
    const char *prefix;
    const char *lang;
    uint32_t wdf_inc;
    int boolean;
} souk_xfield;

/* Indexes a document the way a plain Xapian application does: TermGenerator for text fields
 * (positions between fields separated by 100), boolean terms, and `data` stored. */
int souk_xdb_add_text(souk_xdb *db, const souk_xfield *fields, size_t n, const char *data,
                      size_t data_len);

int souk_xdb_commit(souk_xdb *db);

/* Runs query q (parsed exactly as souk_query_parse does, with the database for wildcards)
 * with Xapian's BM25 and returns hits first .. first + maxitems of the ranking (docids and
 * weights, best first, ties by ascending docid). *matches gets Xapian's match estimate. */
int souk_xdb_search(souk_xdb *db, const char *q, size_t len, const char *lang,
                    const souk_qp_field *fields, size_t nfields, unsigned flags, uint32_t first,
                    uint32_t maxitems, uint32_t *docids, double *scores, size_t *n,
                    uint64_t *matches);

/* Document count, total length and term count statistics of the database. */
int souk_xdb_stats(souk_xdb *db, uint64_t *docs, uint64_t *total_len);

/* Reads back the terms of Xapian document docid: calls fn once per posting (term, pos, wdf
 * passed as wdf_inc on the first call for the term with pos 0 when it has no positions). Used by
 * tests to compare Souk's index with Xapian's. */
int souk_xdb_termlist(souk_xdb *db, uint32_t docid, souk_term_fn fn, void *ctx);

#ifdef __cplusplus
}
#endif
#endif
