/* search.h: the query engine. A parsed query tree (souk/queryparse.h) is evaluated over the LMDB
 * postings with Xapian's BM25 weighting, and the top k documents are returned, best first, ties
 * broken by docid. Plain OR queries of terms use MaxScore with the per-block maxima of the
 * postings, so a query matching most of the catalog does not score every match.
 *
 * Threads: a souk_searcher belongs to one thread at a time; make one per thread. */
#ifndef SOUK_SEARCH_H
#define SOUK_SEARCH_H

#include "souk/index.h"
#include "souk/queryparse.h"
#include "souk/rank.h"

#include <stddef.h>
#include <stdint.h>

typedef struct souk_searcher souk_searcher;

typedef struct souk_search_opts {
    uint32_t k; /* number of hits wanted */
    souk_bm25 bm25;
    int no_prune;      /* 1: score every match (for tests and comparisons) */
    const char *lang;  /* query language (NULL: the schema's default) */
    unsigned qp_flags; /* SOUK_QP_* */
    /* Wildcards and the partial last word (SOUK_QP_PARTIAL): 0 expands to every completion, as
     * Xapian does (at most 4096, else an error); N keeps the N completions of highest document
     * frequency (at most 10 for a one-letter prefix, 25 for two letters), so short prefixes stay
     * fast (search as you type). */
    uint32_t max_expansions;
    /* The ranking profile's signals (souk/rank.h), borrowed for the call. NULL: the default
     * ranking (Xapian's BM25 with bm25 above). When set, its bm25 replaces the one above. */
    const struct souk_rank_profile *profile;
} souk_search_opts;

/* A searcher's budget for each search (souk_searcher_set_budget): what one request may cost.
 *
 * max_terms, the expansion budget: the most terms a query may match after all rewriting
 * (synonyms, typo candidates, part-number codes, wildcard and partial-word completions),
 * counted as the posting lists it opens; a wildcard repeated within one OR or AND expands once
 * (its completions weigh as many times as it is repeated). Over it the search fails with
 * SOUK_ETOOBIG and the reason in err, before any posting is read. 0: SOUK_MAX_QUERY_TERMS.
 *
 * deadline_ns, the time budget: a CLOCK_MONOTONIC time (souk_clock_ns) past which matching
 * stops and the search returns what it found so far, with souk_search_stats.stopped (or
 * souk_find_result.stopped) SOUK_STOP_DEADLINE. The clock is read about every thousand
 * documents or blocks of work, so a search ends within microseconds of the deadline. 0: none.
 *
 * should_stop, cancellation: when set, called on the searching thread about every
 * SOUK_STOP_POLL_NS of matching (never before the first such interval, so a fast search never
 * calls it); nonzero stops the search as the deadline does, with SOUK_STOP_CANCELLED. */
typedef struct souk_budget {
    uint32_t max_terms;
    uint64_t deadline_ns;
    int (*should_stop)(void *ctx);
    void *stop_ctx;
} souk_budget;

/* The default expansion budget (souk_budget.max_terms). */
#define SOUK_MAX_QUERY_TERMS 4096

/* Why a search ended before it had seen every match (souk_search_stats.stopped). */
#define SOUK_STOP_DEADLINE 1  /* souk_budget.deadline_ns passed */
#define SOUK_STOP_CANCELLED 2 /* souk_budget.should_stop returned nonzero */

/* How often, in nanoseconds of matching, souk_budget.should_stop is called. */
#define SOUK_STOP_POLL_NS 2000000ull

/* Now on CLOCK_MONOTONIC, in nanoseconds: the clock of souk_budget.deadline_ns. */
uint64_t souk_clock_ns(void);

typedef struct souk_hit {
    uint32_t docid;
    double score;
} souk_hit;

typedef struct souk_search_stats {
    uint64_t scored;  /* documents fully scored */
    uint64_t matched; /* documents that matched: exact without pruning, else a lower bound */
    int pruned;       /* MaxScore skipped some documents */
    int stopped;      /* 0, or SOUK_STOP_*: the hits are the best of the documents seen before */
} souk_search_stats;

/* Creates a searcher over ix (borrowed). *out owned by the caller. */
int souk_searcher_new(souk_index *ix, souk_searcher **out);
void souk_searcher_free(souk_searcher *s);

/* Sets the budget of every search that follows on s (souk_search, souk_search_query,
 * souk_search_each, souk_find, souk_search_explain), copied; NULL restores the default (no
 * deadline, no cancellation, SOUK_MAX_QUERY_TERMS terms). A server sets it per request. */
void souk_searcher_set_budget(souk_searcher *s, const souk_budget *b);

/* Makes the next search see the latest commit. Cheap; call once per request. */
int souk_searcher_refresh(souk_searcher *s);

/* The reader of the searcher's current snapshot (for documents and statistics). */
souk_reader *souk_searcher_reader(souk_searcher *s);

/* A stored document (its external id and stored-fields JSON, as souk_reader_doc) through the
 * searcher's cache of decoded documents: a hot item is neither looked up nor decompressed again
 * while the index stays at one commit. The pointers are valid until the next call on s (or its
 * reader) or the next refresh. */
int souk_searcher_doc(souk_searcher *s, uint32_t docid, const char **id, size_t *id_len,
                      const char **json, size_t *json_len);

/* The cache's byte budget for documents (their id and JSON; 0, the default: no cache). At
 * most 32,768 documents of at most 32 KiB each are kept; lowering the budget empties it. */
void souk_searcher_set_doc_cache(souk_searcher *s, size_t bytes);

typedef struct souk_doc_cache_stats {
    uint64_t hits, misses; /* souk_searcher_doc calls answered from the cache, and not */
    size_t bytes, budget;  /* held by the cache's buffers, and the budget */
} souk_doc_cache_stats;
void souk_searcher_doc_cache_stats(souk_searcher *s, souk_doc_cache_stats *st);

/* Parses and runs a user query. hits (capacity o->k) receives up to o->k hits, best first;
 * *nhits their number. On a syntax error returns SOUK_EQUERY with the reason in err. */
int souk_search(souk_searcher *s, const char *q, size_t len, const souk_search_opts *o,
                souk_hit *hits, size_t *nhits, souk_search_stats *st, char *err, size_t errlen);

/* Runs an already parsed query. Same contract. */
int souk_search_query(souk_searcher *s, const souk_query *q, const souk_search_opts *o,
                      souk_hit *hits, size_t *nhits, souk_search_stats *st, char *err,
                      size_t errlen);

/* Receives one matching document; returns nonzero to stop. */
typedef int (*souk_match_fn)(void *ctx, uint32_t docid, double score);

/* Calls fn for every document matching q, in docid order, with its full score (no pruning):
 * the base of filters, facets and sorting, which need the whole match set. Same errors as
 * souk_search_query. When the budget's deadline or should_stop ends it early it still returns
 * 0; souk_search_stopped tells why. */
int souk_search_each(souk_searcher *s, const souk_query *q, const souk_search_opts *o,
                     souk_match_fn fn, void *ctx, char *err, size_t errlen);

/* 0 when the last search on s saw every match, else why it stopped (SOUK_STOP_*). */
int souk_search_stopped(const souk_searcher *s);

/* Receives one scored term of an explanation: the term, its wdf in the document, the document's
 * length, the term's BM25 termweight and its contribution to the score. */
typedef void (*souk_explain_fn)(void *ctx, const char *term, size_t len, uint32_t wdf,
                                uint32_t doclen, double termweight, double part);

/* Explains the score of docid for query q, term by term; *total is the document's score.
 * Returns SOUK_ENOTFOUND when docid does not match q. */
int souk_search_explain(souk_searcher *s, const souk_query *q, const souk_search_opts *o,
                        uint32_t docid, souk_explain_fn fn, void *ctx, double *total);

/* What a part of an explanation is (souk_explain_part.kind). */
#define SOUK_EXPLAIN_TERM 0      /* a term's BM25 part */
#define SOUK_EXPLAIN_PROXIMITY 1 /* the profile's proximity bonus (value: the closeness) */
#define SOUK_EXPLAIN_BOOST 2     /* one of the profile's boosts (boost, field, value) */

/* One part of an explanation: a scored term with the weight factor the query put on it, or
 * (with a ranking profile) the proximity bonus or one boost. The parts add up to the score. */
typedef struct souk_explain_part {
    const char *term; /* not NUL-terminated; valid during the callback */
    size_t len;
    uint32_t wdf, doclen;
    double termweight;
    double factor; /* the product of the SCALE_WEIGHTs above the term: 0.3 for a typo candidate;
                      times the field weight of a profile's field term */
    double part;   /* factor times the term's BM25 part: its contribution to the score */
    int kind;      /* SOUK_EXPLAIN_* */
    /* TERM: the schema field whose prefixed term this is under a profile's field weights (-1:
     * the unprefixed word), that field's weight, and the term's BM25 parts before any factor:
     * idf = termweight / (k1 + 1), tf = wdf, norm = k1 * (normlen * b + 1 - b).
     * BOOST: the number field (-1 otherwise). */
    int field;
    double field_weight;
    double idf, norm;
    double weight; /* PROXIMITY, BOOST: the profile's weight */
    double value;  /* PROXIMITY: the closeness; BOOST: the field's value (NAN: none); TERM: the
                      weighted term frequency under BM25F field weights (wdf its whole part),
                      else NAN */
    int boost;     /* BOOST: its index in the profile; fn in fn */
    int fn;        /* BOOST: souk_boost_fn */
} souk_explain_part;
typedef void (*souk_explain_part_fn)(void *ctx, const souk_explain_part *p);

/* souk_search_explain, reporting each part with its factor. Same contract. */
int souk_search_explain_parts(souk_searcher *s, const souk_query *q, const souk_search_opts *o,
                              uint32_t docid, souk_explain_part_fn fn, void *ctx, double *total);

/* "Did you mean" for a parsed query: its words, each word the catalog lacks (3+ letters)
 * replaced by Xapian's spelling suggestion (Database::get_spelling_suggestion: the most frequent
 * word within 1 edit, 2 from 6 letters) from the index's spelling table (souk/spelling.h), kept
 * only when the searcher's snapshot has that word; *out NULL when there is nothing to suggest
 * or the index has no spelling table yet. *out owned by the caller (souk_free). */
int souk_suggest(souk_searcher *s, const souk_query *q, char **out);

/* Builds ahead what the first filter, facet, sort, browse or typo-tolerant search of the
 * searcher's generation would otherwise build on its way (the attribute columns and the typo
 * dictionary, shared by every searcher of the index, once per generation), each only if some
 * search has used it before: a server calls it from a background thread when it sees a
 * commit. */
int souk_searcher_warm(souk_searcher *s);

/* How many times the per-generation structures were built in this process: the attribute
 * columns (filters, facets, sorting, browsing) and the typo dictionary. Each is built once per
 * index generation however many threads ask (souk_searcher_warm builds them ahead). */
void souk_index_cache_stats(souk_index *ix, uint64_t *column_builds, uint64_t *typo_builds);

/* The query-parser fields of the index's schema (text prefixes and boolean keyword fields), for
 * souk_query_parse. Valid until the searcher is freed. */
const souk_qp_field *souk_searcher_fields(souk_searcher *s, size_t *n);

#endif
