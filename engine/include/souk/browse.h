/* browse.h: storefront search over the whole match set: filters, facets with exact counts,
 * sorting by any number of fields, paging, and an additive business boost.
 *
 * Filters are expressions over the schema's filterable fields:
 *   section = games AND (tags = "role::program" OR tags IN ["use::editing", "works-with::text"])
 *   price >= 10 AND price < 100      price 10 TO 100      NOT in_stock = false
 *   category = "Tools > Fasteners"   (a category path matches itself and every level below)
 * Keyword values are quoted strings or bare words; numbers compare as doubles; a multi-valued
 * field matches when any of its values does. Facets count over the whole match set, and a
 * facet's counts ignore the top-level AND parts of the filter that only test that facet's own
 * field (disjunctive facets), as storefronts expect. Attribute values are read from a column
 * cache built once per index generation and shared by every searcher of the index.
 *
 * Threads: like souk_search, on the searcher's thread. */
#ifndef SOUK_BROWSE_H
#define SOUK_BROWSE_H

#include "souk/collate.h"
#include "souk/search.h"

#include <stddef.h>
#include <stdint.h>

typedef struct souk_filter souk_filter;

/* Parses a filter against schema s. On error returns SOUK_EINVAL with a message naming the
 * problem and its byte offset. *out owned by the caller. */
int souk_filter_parse(const souk_schema *s, const char *expr, size_t len, souk_filter **out,
                      char *err, size_t errlen);
void souk_filter_free(souk_filter *f);

/* One sort key: a sortable field (or relevance, field -1), ascending or descending. Numbers
 * compare as numbers, keywords as bytes, text fields by collation key (souk_collation_key); a
 * multi-valued keyword by its first value. Documents without a value sort last either way.
 * Relevance descending, then docid, break the last ties. */
typedef struct souk_sort_key {
    int field;
    int desc;
} souk_sort_key;

#define SOUK_MAX_SORT 8
#define SOUK_MAX_FACETS 32
#define SOUK_MAX_RANGES 32

/* A facet: a facetable keyword field's values by count (the top max_values), or a number
 * field's counts in the buckets [edges[i], edges[i+1]) (with nedges edges, nedges-1 buckets),
 * or, with stats and no edges, a number field's statistics alone (min, max, sum, count of the
 * documents that have a value; souk_facet_result.stat_*). A facet counts disjunctively (over
 * the documents passing every filter part but its own field's) unless conjunctive is set: then
 * it counts over the documents passing the whole filter. */
typedef struct souk_facet_spec {
    int field;
    uint32_t max_values;
    double edges[SOUK_MAX_RANGES + 1];
    size_t nedges;
    int stats;
    int conjunctive;
} souk_facet_spec;

typedef struct souk_facet_value {
    const char *value; /* keyword value (borrowed from the result), or NULL for a bucket */
    size_t len;
    double from, to; /* bucket */
    uint64_t count;
} souk_facet_value;

typedef struct souk_facet_result {
    int field;
    souk_facet_value *values;
    size_t nvalues;
    uint64_t other; /* documents counted in values beyond max_values */
    /* The documents the facet counts over: those passing every filter part but the facet's
     * own (disjunctive); what a query without this facet's refinements would find. */
    uint64_t matched;
    /* A stats facet: over the counted documents with a value (stat_count of them). */
    double stat_min, stat_max, stat_sum;
    uint64_t stat_count;
} souk_facet_result;

#define SOUK_SORT_KEY_ABSENT UINT32_MAX

/* A position in a result order, for deep paging (search_after): the sort keys' values, the
 * score and the docid of the last hit seen. A number key is in vals[i] (NAN: absent); a
 * keyword or text key is the klen[i] bytes of key[i] (SOUK_SORT_KEY_ABSENT: absent). */
typedef struct souk_find_after {
    double vals[SOUK_MAX_SORT];
    uint32_t klen[SOUK_MAX_SORT];
    uint8_t key[SOUK_MAX_SORT][SOUK_SORT_KEY_MAX];
    double score;
    uint32_t docid;
} souk_find_after;

typedef struct souk_find_opts {
    souk_search_opts search;   /* BM25, language and parser flags (k is ignored) */
    const souk_filter *filter; /* NULL: none */
    souk_sort_key sort[SOUK_MAX_SORT];
    size_t nsort; /* 0: by relevance */
    uint32_t offset, limit;
    souk_facet_spec facets[SOUK_MAX_FACETS];
    size_t nfacets;
    int boost_field; /* -1: none; else score += boost_weight * log1p(max(0, value)) */
    double boost_weight;
    const souk_find_after *after; /* NULL, or only hits after this position */
    /* Documents left out as if they did not match: of the total, every facet count and the
     * hits (a curation's hidden items). Sorted ascending, borrowed for the call. */
    const uint32_t *exclude;
    size_t nexclude;
} souk_find_opts;

typedef struct souk_find_result {
    souk_hit *hits; /* offset..offset+limit of the order, best first */
    size_t nhits;
    uint64_t total; /* exact number of matching documents that pass the filter (unless stopped) */
    /* 0, or SOUK_STOP_* when the searcher's budget (souk_budget) ended the match early: then
     * total, the facet counts and the page cover only the documents seen (in index order). */
    int stopped;
    souk_facet_result facets[SOUK_MAX_FACETS];
    size_t nfacets;
    struct souk__columns *cols; /* keeps the facet strings alive */
} souk_find_result;

/* Runs q (NULL: every document) with the options. On success res holds the page and the
 * facets; free with souk_find_result_free. Errors: SOUK_EQUERY (query), SOUK_EINVAL (a field
 * not usable as asked: the message names it), SOUK_ENOMEM, index errors. */
int souk_find(souk_searcher *s, const souk_query *q, const souk_find_opts *o, souk_find_result *res,
              char *err, size_t errlen);
void souk_find_result_free(souk_find_result *res);

/* The position of res->hits[i] in the order of o, for the next page's o->after. */
void souk_find_position(const souk_find_result *res, const souk_find_opts *o, size_t i,
                        souk_find_after *out);

/* The business boost of docid under o (o->boost_field), the part souk_find added to its score:
 * boost_weight * log1p(value) for a positive value, else 0. *value (when value is not NULL)
 * receives the field's value, NAN when the document has none. res is the result of the
 * souk_find call made with o (its columns); any thread that owns res. */
double souk_find_boost(const souk_find_result *res, const souk_find_opts *o, uint32_t docid,
                       double *value);

/* Per-document reads over the searcher's attribute columns (its current snapshot), for callers
 * that rank candidates themselves: keyword values and filter tests one docid at a time. On the
 * searcher's thread; close before the searcher is refreshed or freed. */
typedef struct souk_docview souk_docview;
/* The schema of the searcher's index. */
const souk_schema *souk_searcher_schema(souk_searcher *s);
int souk_docview_open(souk_searcher *s, souk_docview **out);
void souk_docview_close(souk_docview *v);
/* Binds filter f (NULL: none) for souk_docview_pass; f must outlive the binding. */
int souk_docview_filter(souk_docview *v, const souk_filter *f);
/* The index generation the view reads (its docids hold within it). */
uint64_t souk_docview_generation(const souk_docview *v);
/* 1 when docid is a stored document. */
int souk_docview_exists(const souk_docview *v, uint32_t docid);
/* 1 when docid is stored and passes the bound filter. */
int souk_docview_pass(const souk_docview *v, uint32_t docid);
/* The first stored docid >= docid, or UINT32_MAX. */
uint32_t souk_docview_next(const souk_docview *v, uint32_t docid);
/* Up to max values of the keyword field (a schema field index) of docid, borrowed from the
 * view: their number (0 when the field has no column). */
size_t souk_docview_keywords(const souk_docview *v, int field, uint32_t docid, const char **vals,
                             uint32_t *lens, size_t max);

#endif
