/* xapian.h: the C face of Souk's only C++ file, engine/text/xapian_wrapper.cc. It wraps the parts
 * of Xapian that Souk uses: text analysis (tokenize, lowercase, stem, CJK n-grams), query parsing
 * to a flat tree that Souk's own matcher evaluates, and a real Xapian database used as a test
 * oracle and as the benchmark reference.
 *
 * No C++ exception crosses this boundary: every function catches everything and returns a
 * SOUK_E* code, with the detail in the handle's last message or the caller's buffer. */
#ifndef SOUK_XAPIAN_H
#define SOUK_XAPIAN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- analysis */

/* Per-thread analysis state: stemmers per language and a bounded stem cache. Not thread-safe:
 * give each thread its own. */
typedef struct souk_analyzer souk_analyzer;

/* Receives one term occurrence. `term` is borrowed for the duration of the call. pos == 0 means
 * the term carries no position (the "Z" stemmed form), else it is the 1-based term position. */
typedef void (*souk_term_fn)(void *ctx, const char *term, size_t len, uint32_t pos,
                             uint32_t wdf_inc);

/* Creates an analyzer. *out is owned by the caller and freed with souk_analyzer_free. */
int souk_analyzer_new(souk_analyzer **out);
void souk_analyzer_free(souk_analyzer *a);

/* Returns the Xapian stemmer name for a language code or name ("en", "german", "zh", "none"),
 * "none" for CJK languages and "none", or NULL when unsupported. Static storage. */
const char *souk_language_stemmer(const char *lang);

/* Xapian::Unicode::tolower of one Unicode code point (the simple one-to-one case mapping of
 * Xapian's tables). */
unsigned souk_unicode_tolower(unsigned ch);

/* Analyzes UTF-8 `text` exactly as Xapian::TermGenerator::index_text(text, wdf_inc, prefix) with
 * the stemmer of `lang`, STEM_SOME, FLAG_CJK_NGRAM and no stopper. *termpos is the running term
 * position of the document and is advanced. Terms are passed to fn. Uses a fast tokenizer with a
 * stem cache, and falls back to the real TermGenerator for text it does not handle (CJK).
 * wdf_inc must be at least 1 (SOUK_EINVAL otherwise). */
int souk_analyze(souk_analyzer *a, const char *text, size_t len, const char *lang,
                 const char *prefix, uint32_t wdf_inc, uint32_t *termpos, souk_term_fn fn,
                 void *ctx);

/* One term occurrence of souk_analyze_view: the term is bytes[off, off + len), pos its position
 * (0: none, a "Z" stem term); each adds the call's wdf_inc. */
typedef struct souk_term_occ {
    uint32_t off, len, pos;
} souk_term_occ;

typedef struct souk_term_view {
    const char *bytes;
    size_t nbytes;
    const souk_term_occ *occ;
    size_t n;
} souk_term_view;

/* souk_analyze without a callback per term: the occurrences, in the order souk_analyze would
 * pass them, are left in the analyzer (valid until its next call) and described by *out. */
int souk_analyze_view(souk_analyzer *a, const char *text, size_t len, const char *lang,
                      const char *prefix, uint32_t wdf_inc, uint32_t *termpos, souk_term_view *out);

/* Same contract, always through Xapian::TermGenerator (the reference the fast path is tested
 * against). The order of calls may differ from souk_analyze; the multiset is the same. */
int souk_analyze_xapian(souk_analyzer *a, const char *text, size_t len, const char *lang,
                        const char *prefix, uint32_t wdf_inc, uint32_t *termpos, souk_term_fn fn,
                        void *ctx);

/* The last error message of the analyzer; valid until the next call on it. */
const char *souk_analyzer_errmsg(const souk_analyzer *a);

/* Counters of souk_analyze, for benchmarks: calls handled fast, calls that fell back. */
void souk_analyzer_counts(const souk_analyzer *a, uint64_t *fast, uint64_t *fallback);

/* ---------------------------------------------------------------- query parsing */

typedef enum souk_qop {
    SOUK_QOP_TERM = 0,     /* leaf: term, wqf, pos */
    SOUK_QOP_AND,          /* all children */
    SOUK_QOP_OR,           /* any child, scores summed */
    SOUK_QOP_AND_NOT,      /* first child minus the others */
    SOUK_QOP_AND_MAYBE,    /* first child; others add score only */
    SOUK_QOP_FILTER,       /* first child scored, others filter without score */
    SOUK_QOP_PHRASE,       /* children adjacent and in order, within `window` positions */
    SOUK_QOP_NEAR,         /* children within `window` positions, any order */
    SOUK_QOP_WILDCARD,     /* leaf: `term` is a prefix; matches every term starting with it */
    SOUK_QOP_SYNONYM,      /* children scored as one term */
    SOUK_QOP_SCALE_WEIGHT, /* one child, score multiplied by `scale` (0: pure filter) */
    SOUK_QOP_MATCH_ALL,    /* leaf: every document */
    SOUK_QOP_MATCH_NOTHING,
    SOUK_QOP_XOR,
    SOUK_QOP_ELITE_SET,
    SOUK_QOP_MAX,
    SOUK_QOP_VALUE_RANGE
} souk_qop;

/* One node of a parsed query. Children are kids[first_kid .. first_kid + nkids). */
typedef struct souk_qnode {
    souk_qop op;
    uint32_t first_kid;
    uint32_t nkids;
    uint32_t wqf;    /* TERM: within-query frequency */
    uint32_t pos;    /* TERM: position in the query */
    uint32_t window; /* PHRASE/NEAR */
    double scale;    /* SCALE_WEIGHT */
    char *term;      /* TERM and WILDCARD; NUL-terminated, owned by the query */
    size_t term_len;
} souk_qnode;

/* A parsed query: a flat tree, nodes[root] is the root. Free with souk_query_free. */
typedef struct souk_query {
    souk_qnode *nodes;
    size_t nnodes;
    uint32_t *kids;
    size_t nkids;
    uint32_t root;
    char *description; /* Xapian's own description of the parsed query, for debugging */
    char *text;        /* the query text and language it was parsed from (typo tolerance) */
    size_t text_len;
    char *lang;
    int fast_path; /* 1: built by the plain-word fast path, 0: by Xapian's QueryParser */
} souk_query;

/* A field the query parser knows: "name:word" searches terms with `prefix`. boolean != 0 makes it
 * a filter field ("section:games" filters on the exact term prefix+value). */
typedef struct souk_qp_field {
    const char *name;
    const char *prefix;
    int boolean;
} souk_qp_field;

#define SOUK_QP_DEFAULT_AND 1u  /* default operator AND instead of OR */
#define SOUK_QP_PARTIAL 2u      /* last word also matches as a prefix (search as you type) */
#define SOUK_QP_NO_FAST_PATH 4u /* always through Xapian's QueryParser (tests compare the two) */
/* Search, not parsing: typo tolerance. Words of 5+ letters outside phrases also match words one
 * edit away (two from 9 letters), scored at SOUK_TYPO_WEIGHT times an exact match. */
#define SOUK_QP_TYPO 8u
#define SOUK_TYPO_WEIGHT 0.3
/* Search, not parsing: part numbers and codes ("DIN933", "6204 2RS") also match as joined code
 * terms however they are spaced or hyphenated (docs/part-numbers.md). */
#define SOUK_QP_CODES 16u

/* Parses a user query with Xapian::QueryParser (stemmer of `lang`, STEM_SOME, phrases, boolean
 * operators, +/-, field prefixes, trailing-* wildcards, CJK n-grams). On success *out is owned by
 * the caller. On a syntax error returns SOUK_EQUERY with the reason in err; so does a query
 * nesting brackets more than 64 deep or holding more than 256 boolean operators (the tree is
 * evaluated recursively on threads with small stacks). The parser is cached per thread, and
 * plain-word queries take a fast path that builds the same tree without QueryParser. */
int souk_query_parse(const char *q, size_t len, const char *lang, const souk_qp_field *fields,
                     size_t nfields, unsigned flags, souk_query **out, char *err, size_t errlen);
void souk_query_free(souk_query *q);

/* ---------------------------------------------------------------- Xapian database (oracle) */

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

/* ---------------------------------------------------------------- spelling */

/* Xapian's spelling support (Database::add_spelling, get_spelling_suggestion) on a Glass
 * database of its own, which holds only the spelling table and, in its metadata, the index
 * generation it was last brought up to (engine/query/spelling.c keeps it in step with the index). A
 * handle is not thread-safe: give each thread its own. */
typedef struct souk_xspell souk_xspell;

/* Opens the spelling database at path: writable (created if missing) or read-only
 * (SOUK_ENOTFOUND when there is none). */
int souk_xspell_open(const char *path, int writable, souk_xspell **out, char *err, size_t errlen);
void souk_xspell_close(souk_xspell *sp);
const char *souk_xspell_errmsg(const souk_xspell *sp);

/* A read-only handle moves to the latest commit. */
int souk_xspell_reopen(souk_xspell *sp);

/* The generation stamped by the last souk_xspell_commit (0: none yet). */
int souk_xspell_generation(souk_xspell *sp, uint64_t *gen);

/* Calls fn for every word of the spelling table in byte order, with its frequency; fn returns
 * nonzero to stop. */
typedef int (*souk_xspell_fn)(void *ctx, const char *word, size_t len, uint64_t freq);
int souk_xspell_words(souk_xspell *sp, souk_xspell_fn fn, void *ctx);

/* Raises (delta > 0) or lowers (delta < 0) a word's frequency; at 0 the word is gone. Writable
 * handles only; seen by readers after souk_xspell_commit. */
int souk_xspell_change(souk_xspell *sp, const char *word, size_t len, int64_t delta);

/* Commits the changes with the index generation they bring the table up to. */
int souk_xspell_commit(souk_xspell *sp, uint64_t generation);

/* Xapian's suggestion for word (Database::get_spelling_suggestion: the most frequent word of
 * the table within max_edits edits), written NUL-terminated to out; *outlen 0 when there is
 * none. */
int souk_xspell_suggest(souk_xspell *sp, const char *word, size_t len, unsigned max_edits,
                        char *out, size_t outcap, size_t *outlen);

#ifdef __cplusplus
}
#endif
#endif
