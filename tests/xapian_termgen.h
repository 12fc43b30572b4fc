/* xapian_termgen.h: a test-only C face of Xapian's own TermGenerator and database readers, for
 * tests/test_ingest_oracle.c. It is compiled into that test only (tests/xapian_termgen.cc), not
 * into the library: the library's wrapper (engine/text/xapian_wrapper.cc) stays free of test code.
 *
 * A database is built document by document exactly as a Xapian application would build it
 * (TermGenerator::index_text with a stemmer, STEM_SOME, FLAG_CJK_NGRAM, no stopper; add_term;
 * add_boolean_term); each document's terms, wdf and positions are read back from the document
 * before it is added, and the database's statistics and dictionary after. No C++ exception
 * crosses this interface: every function returns 0, or -1 with the reason in xtg_errmsg(). One
 * handle belongs to one thread. */
#ifndef SOUK_TEST_XAPIAN_TERMGEN_H
#define SOUK_TEST_XAPIAN_TERMGEN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xtg_db xtg_db;

/* Creates (overwriting) a writable Glass database at path, never synced to disk, whose
 * TermGenerator stems with Xapian's stemmer `stemmer` ("english"; "none": no stemming). *out is
 * freed with xtg_close. */
int xtg_create(const char *path, const char *stemmer, xtg_db **out, char *err, size_t errlen);
/* Opens the database at path read-only. */
int xtg_open(const char *path, xtg_db **out, char *err, size_t errlen);
void xtg_close(xtg_db *db);
/* The last error; valid until the next call on db. */
const char *xtg_errmsg(const xtg_db *db);

/* Starts a new document (term position 0). */
int xtg_doc_begin(xtg_db *db);
/* TermGenerator::index_text(text, wdf_inc, prefix) into the current document. */
int xtg_doc_text(xtg_db *db, const char *text, size_t len, uint32_t wdf_inc, const char *prefix);
/* TermGenerator::get_termpos, set_termpos, increase_termpos. */
uint32_t xtg_doc_termpos(xtg_db *db);
int xtg_doc_set_termpos(xtg_db *db, uint32_t pos);
int xtg_doc_increase_termpos(xtg_db *db, uint32_t delta);
/* Document::add_term(term, wdf) (a term without positions) and add_boolean_term(term). */
int xtg_doc_term(xtg_db *db, const char *term, size_t len, uint32_t wdf);
int xtg_doc_boolean(xtg_db *db, const char *term, size_t len);
/* Adds the document with `data` as its data; its docid goes to *docid. */
int xtg_doc_end(xtg_db *db, const char *data, size_t len, uint32_t *docid);
int xtg_commit(xtg_db *db);

/* The terms of the current document (before xtg_doc_end) in byte order, with their wdf and
 * positions: fn(ctx, term, len, wdf, positions, npositions), the positions borrowed for the
 * call. Read from the document in memory, so it costs no database access. */
int xtg_doc_terms(xtg_db *db,
                  void (*fn)(void *ctx, const char *term, size_t len, uint32_t wdf,
                             const uint32_t *pos, size_t npos),
                  void *ctx);

/* Document count and total length. */
int xtg_stats(xtg_db *db, uint64_t *docs, uint64_t *total_len);
/* Every term of the database in byte order with its document and collection frequency; fn
 * returns nonzero to stop. */
int xtg_terms(xtg_db *db,
              int (*fn)(void *ctx, const char *term, size_t len, uint32_t df, uint64_t cf),
              void *ctx);

#ifdef __cplusplus
}
#endif
#endif
