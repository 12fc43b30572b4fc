/* oracle.h: builds a Xapian database (the test oracle) holding exactly the analyzed documents of
 * a Souk index, docid for docid, and compares Souk's rankings with Xapian's. Shared by the oracle
 * tests and the relevance and search benchmarks (tests/kit/oracle.c, in souk_testkit). */
#ifndef SOUK_TEST_ORACLE_H
#define SOUK_TEST_ORACLE_H

#include "souk/index.h"
#include "souk/search.h"
#include "souk/souk.h"
#include "xdb.h"

#include <stddef.h>
#include <stdint.h>

/* A Souk index inverted per document: each document's postings (term, wdf, positions), read
 * from the dictionary and the postings by oracle_term_cb. */
typedef struct oracle_posting {
    uint32_t term; /* index into the term table */
    uint32_t wdf;
    uint32_t pos_at, npos;
} oracle_posting;

typedef struct oracle_doc {
    oracle_posting *p;
    uint32_t n;
    size_t cap;
} oracle_doc;

typedef struct oracle_build {
    char **terms;
    size_t *lens;
    size_t nterms, capterms;
    uint32_t *pos;
    size_t npos, cappos;
    oracle_doc *docs;
    size_t ndocs;
    souk_reader *r;
    int failed;
} oracle_build;

/* A souk_reader_terms callback (ctx: an oracle_build whose r, docs and ndocs are set): appends
 * the term to b->terms and each of its postings to the document's list in b->docs, positions to
 * b->pos. Returns nonzero, with b->failed set, when the postings cannot be read or name a docid
 * of ndocs or more. Everything it allocates belongs to b. */
int oracle_term_cb(void *ctx, const char *term, size_t len, const souk_term_info *info);

/* Values of Souk docid d for the Xapian document (facet benchmarks): fills v (room for 16),
 * returns the count. */
typedef size_t (*oracle_values_fn)(void *ctx, souk_reader *r, uint32_t d, souk_xvalue *v);

/* Builds the Xapian database at xpath from the Souk index ix, which must be freshly built (docids
 * 1..N without gaps): every Souk docid becomes the same Xapian docid, with the same terms, wdf and
 * positions, so the two hold the same statistics. vfn (may be NULL) gives each document's value
 * slots. Returns 0 on success, else nonzero with the reason on stderr. */
int oracle_build_xapian_ex(souk_index *ix, const char *xpath, oracle_values_fn vfn, void *vctx);
/* oracle_build_xapian_ex without values. */
int oracle_build_xapian(souk_index *ix, const char *xpath);

/* Compares Souk's top hits with Xapian's ranking (xd/xs, nx entries, more than k when
 * possible). Equal when the ids agree in order, allowing only swaps between documents whose
 * scores differ by less than 1e-9 (float summation order), and all scores agree within 1e-9.
 * Returns 1 when equal; otherwise prints why to stderr (prefixed by what) and returns 0. */
int oracle_equal(const char *what, const souk_hit *h, size_t nh, const uint32_t *xd,
                 const double *xs, size_t nx, size_t k);

#endif
