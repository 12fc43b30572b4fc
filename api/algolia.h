/* algolia.h: what the Algolia search protocol (docs/algolia.md) shares with the rest of api/:
 * the "algolia" member of the configuration, the credential Algolia's browser client sends in
 * the query string, and the Algolia shape of the router's own errors on these endpoints.
 *
 * The endpoints themselves are api/ep_algolia.c (requests, execution, responses) and
 * api/ep_algolia_filter.c (Algolia's facetFilters, numericFilters and filters translated to the
 * filter language of souk/browse.h). */
#ifndef SOUK_API_ALGOLIA_H
#define SOUK_API_ALGOLIA_H

#include "api_int.h"

struct cJSON;

/* Validates the configuration's "algolia" object:
 *   {"index": "products",                          the primary index name (default: the
 *                                                  schema's name)
 *    "replicas": {"products_price_asc": {"sort": "price:asc", "profile": "popular"}, ...}}
 * 0, or SOUK_EINVAL with err naming the member. */
int sk_algolia_config_check(const struct cJSON *o, char *err, size_t errlen);

/* 1 when endpoint number ep is one of the Algolia protocol's. */
int sk_algolia_endpoint(int ep);

/* The key of an Algolia request that carries it as the query parameter x-algolia-api-key (the
 * browser client's default), into key (SK_HDR_KEY_MAX + 1 bytes) and *len; *over when longer.
 * 1 when the parameter is there, else 0. */
int sk_algolia_query_key(const sk_ctx *c, char *key, size_t *len, int *over);

/* Rewrites an error body of the router ({"error":{"message"...}}) on an Algolia endpoint into
 * Algolia's shape {"message":..., "status":N}, which the client shows to its caller. */
void sk_algolia_error_shape(sk_ctx *c);

/* The filter translation (ep_algolia_filter.c). A filter is built as top-level parts joined by
 * AND; each part remembers the single field it tests (-1: several), as souk_find's disjunctive
 * facets see it. */
#define SK_ALG_MAX_PARTS 128
typedef struct sk_alg_filter {
    sk_buf expr;                  /* the parts, each NUL-terminated, one after the other */
    size_t off[SK_ALG_MAX_PARTS]; /* where each part starts in expr */
    int field[SK_ALG_MAX_PARTS];  /* its one field, or -1 */
    size_t nparts;                /* facetFilters and numericFilters parts */
    sk_buf filters;               /* the "filters" parameter translated, or empty */
    uint64_t filters_fields[4];   /* the fields it names (a bit per field id) */
} sk_alg_filter;

/* Appends the parts of facetFilters (v: an array of strings or arrays of strings, or a string)
 * or numericFilters (numeric 1). 0, or fills msg with the problem naming the parameter and
 * returns -1. */
int sk_alg_filter_facets(const souk_schema *s, sk_alg_filter *f, const struct cJSON *v, int numeric,
                         char *msg, size_t msglen);
/* Translates Algolia's filters syntax into f->filters. 0, or -1 with msg. */
int sk_alg_filter_filters(const souk_schema *s, sk_alg_filter *f, const char *src, size_t len,
                          char *msg, size_t msglen);
/* The whole filter in Souk's language into out (NUL-terminated; empty: no filter). */
int sk_alg_filter_join(const sk_alg_filter *f, sk_buf *out);
void sk_alg_filter_free(sk_alg_filter *f);

#endif
