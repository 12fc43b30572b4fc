/* ep_algolia.c: Algolia's search protocol, so that the stock `algoliasearch` client and
 * InstantSearch run against souk-server unchanged (docs/algolia.md).
 *
 *   POST /1/indexes/{index}/query                 one search
 *   POST /1/indexes/STAR/queries                  several ({"requests":[...]}), as InstantSearch
 *                                                 sends them (STAR: a literal '*'); an entry with
 *                                                 "type":"facet" is a search for facet values
 *   POST /1/indexes/{index}/facets/{facet}/query  search for facet values
 *
 * Each query's parameters (the "params" URL-encoded string, JSON fields, or both) are read
 * into one request and answered from the engine directly, as /v1/search answers them: the same
 * parse, the same souk_search_query or souk_find, so the hits, their order and the counts are
 * those of /v1/search with the same request (docs/algolia.md gives the mapping). A parameter
 * Souk does not support is refused by name (400), never ignored.
 *
 * InstantSearch's disjunctive facets: with a facet F refined, it sends the main query and, per
 * refined disjunctive facet, the same query without F's refinements, hitsPerPage 0 and facets
 * [F]. Such a query is recognised (its filter parts are the main query's minus those testing F
 * alone) and answered from the main query's single pass: souk_find counts F a second time
 * disjunctively (souk_facet_spec.conjunctive unset), and facet_result.matched is that query's
 * nbHits. So the batch costs one search, as /v1/search's own disjunctive facets do. */
#include "algolia.h"
#include "souk/browse.h"
#include "souk/document.h"
#include "souk/highlight.h"
#include "souk/json_strict.h"
#include "souk/lexicon.h"
#include "souk/profile.h"
#include "souk/recs.h"
#include "souk/souk.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALG_MAX_REQUESTS 50      /* queries in one multi-query (Algolia's own limit) */
#define ALG_DEFAULT_HPP 20       /* Algolia's default hitsPerPage */
#define ALG_MAX_LIST 64          /* attributes in one list parameter */
#define ALG_PREFIX_EXPANSIONS 50 /* as /v1/search's prefix=true */
#define ALG_PERSONAL_WINDOW 20   /* as /v1/search's personal window (docs/ranking.md) */

/* ------------------------------------------------------------------ errors */

/* Algolia's error body {"message": ..., "status": N}; returns status. */
static int afail(sk_ctx *c, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int afail(sk_ctx *c, int status, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->out->len = 0;
    c->content_type = "application/json";
    sk_buf_str(c->out, "{\"message\":");
    sk_buf_json_str(c->out, msg, strlen(msg));
    sk_buf_printf(c->out, ",\"status\":%d}\n", status);
    c->status = status;
    return status;
}

int sk_algolia_endpoint(int ep)
{
    return ep == SK_EP_sk_ep_algolia_queries || ep == SK_EP_sk_ep_algolia_index;
}

void sk_algolia_error_shape(sk_ctx *c)
{
    if (c->out->len < 9 || memcmp(c->out->p, "{\"error\":", 9) != 0)
        return;
    cJSON *root = cJSON_ParseWithLength(c->out->p, c->out->len);
    const char *m = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(root, "error"), "message"));
    char msg[600];
    snprintf(msg, sizeof msg, "%s", m ? m : "error");
    cJSON_Delete(root);
    afail(c, c->status, "%s", msg);
}

int sk_algolia_query_key(const sk_ctx *c, char *key, size_t *len, int *over)
{
    const char *s = c->query_string, *end = s ? s + c->query_len : NULL;
    static const char name[] = "x-algolia-api-key=";
    while (s && s < end) {
        const char *amp = memchr(s, '&', (size_t)(end - s));
        const char *e = amp ? amp : end;
        if ((size_t)(e - s) >= sizeof name - 1 && strncasecmp(s, name, sizeof name - 1) == 0) {
            sk_buf v = {0};
            v.max = SK_HDR_KEY_MAX * 3 + 16;
            const char *vs = s + sizeof name - 1;
            int bad = sk_url_decode(vs, (size_t)(e - vs), 0, &v);
            *over = bad || v.len > SK_HDR_KEY_MAX;
            *len = *over ? 0 : v.len;
            if (!*over && v.len)
                memcpy(key, v.p, v.len);
            key[*len] = 0;
            sk_buf_free(&v);
            return 1;
        }
        s = e + 1;
    }
    return 0;
}

/* ------------------------------------------------------------------ configuration */

int sk_algolia_config_check(const cJSON *o, char *err, size_t errlen)
{
    if (!cJSON_IsObject(o)) {
        snprintf(err, errlen, "\"algolia\" must be an object {\"index\", \"replicas\"}");
        return SOUK_EINVAL;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, o)
    {
        if (strcmp(it->string, "index") == 0) {
            const char *s = cJSON_GetStringValue(it);
            if (!s || !*s || strlen(s) > 128 || strchr(s, '/')) {
                snprintf(err, errlen, "\"algolia.index\" must be a name of 1 to 128 bytes");
                return SOUK_EINVAL;
            }
        } else if (strcmp(it->string, "replicas") == 0) {
            if (!cJSON_IsObject(it)) {
                snprintf(err, errlen, "\"algolia.replicas\" must be an object of replicas");
                return SOUK_EINVAL;
            }
            const cJSON *r;
            cJSON_ArrayForEach(r, it)
            {
                if (!cJSON_IsObject(r) || !*r->string || strlen(r->string) > 128 ||
                    strchr(r->string, '/')) {
                    snprintf(err, errlen,
                             "\"algolia.replicas\".\"%.64s\" must be an object {\"sort\", "
                             "\"profile\"} under a name of 1 to 128 bytes",
                             r->string);
                    return SOUK_EINVAL;
                }
                const cJSON *m;
                cJSON_ArrayForEach(m, r)
                {
                    if ((strcmp(m->string, "sort") != 0 && strcmp(m->string, "profile") != 0) ||
                        !cJSON_IsString(m) || !*m->valuestring || strlen(m->valuestring) > 4096) {
                        snprintf(err, errlen,
                                 "\"algolia.replicas\".\"%.64s\".\"%.64s\": a replica has "
                                 "\"sort\" (as /v1/search's sort) and \"profile\" (a ranking "
                                 "profile's name), both strings",
                                 r->string, m->string);
                        return SOUK_EINVAL;
                    }
                }
            }
        } else {
            snprintf(err, errlen, "unknown field \"algolia.%.64s\" (known: index, replicas)",
                     it->string);
            return SOUK_EINVAL;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ one query's parameters */

typedef struct snip {
    const char *name;
    uint32_t words;
} snip;

typedef struct aq {
    cJSON *own; /* everything parsed for this query (strings below are borrowed from it) */
    const char *index;
    const char *sort, *profile; /* the replica's (borrowed from the configuration) */
    const char *query;
    size_t qlen;
    const char *params; /* the "params" string as given, echoed */
    int64_t page;
    uint32_t hpp;
    int has_offset;
    uint32_t offset, length;
    const char *facets[SOUK_MAX_FACETS];
    size_t nfacets;
    uint32_t max_values;
    int sort_alpha;
    sk_alg_filter filt;
    const char *retrieve[ALG_MAX_LIST];
    size_t nretrieve; /* 0 with retrieve_all */
    int retrieve_all;
    const char *hl[ALG_MAX_LIST];
    size_t nhl;
    int hl_default;
    snip snips[ALG_MAX_LIST];
    size_t nsnips;
    const char *pre, *post;
    int typo, prefix;
    int ranking_info, click, analytics;
    const char *user_token, *auth_token; /* userToken, authenticatedUserToken (borrowed) */
    int facet_search;
    const char *facet, *facet_query;
    uint32_t max_facet_hits;
    uint64_t seen;
    /* the batch: merged into query `into` (-1: runs itself); the disjunctive spec's index */
    int into;
    int disj_spec;
    int disj_specs[SOUK_MAX_FACETS]; /* this query's own facets' specs (-1: none) */
} aq;

enum {
    A_QUERY,
    A_PAGE,
    A_HPP,
    A_OFFSET,
    A_LENGTH,
    A_FACETS,
    A_MAXVPF,
    A_SORTFV,
    A_FACETFILTERS,
    A_NUMERICFILTERS,
    A_FILTERS,
    A_TAGFILTERS,
    A_RETRIEVE,
    A_HIGHLIGHT,
    A_SNIPPET,
    A_PRE,
    A_POST,
    A_TYPO,
    A_QUERYTYPE,
    A_RANKINGINFO,
    A_ANALYTICS,
    A_CLICK,
    A_USERTOKEN,
    A_AUTHUSERTOKEN,
    A_DISTINCT,
    A_FACETQUERY,
    A_MAXFACETHITS,
    A_SNIPPETELLIPSIS,
    A_FACETNAME,
    A_COUNT
};
static const char *const anames[] = {"query",
                                     "page",
                                     "hitsPerPage",
                                     "offset",
                                     "length",
                                     "facets",
                                     "maxValuesPerFacet",
                                     "sortFacetValuesBy",
                                     "facetFilters",
                                     "numericFilters",
                                     "filters",
                                     "tagFilters",
                                     "attributesToRetrieve",
                                     "attributesToHighlight",
                                     "attributesToSnippet",
                                     "highlightPreTag",
                                     "highlightPostTag",
                                     "typoTolerance",
                                     "queryType",
                                     "getRankingInfo",
                                     "analytics",
                                     "clickAnalytics",
                                     "userToken",
                                     "authenticatedUserToken",
                                     "distinct",
                                     "facetQuery",
                                     "maxFacetHits",
                                     "snippetEllipsisText",
                                     "facetName"};
_Static_assert(sizeof anames / sizeof anames[0] == A_COUNT, "a name for every parameter");

/* Parameters of Algolia's search API that Souk refuses, each with the reason given in the 400
 * (docs/algolia.md has the table). Anything else unknown is refused as unknown. */
static const struct {
    const char *name, *why;
} refused[] = {
    {"optionalFilters", "Souk has no optional filters (score boosts by filter)"},
    {"sumOrFiltersScores", "Souk has no filter scores"},
    {"restrictSearchableAttributes", "Souk searches every text field; use a ranking profile"},
    {"aroundLatLng", "Souk has no geo search"},
    {"aroundLatLngViaIP", "Souk has no geo search"},
    {"aroundRadius", "Souk has no geo search"},
    {"aroundPrecision", "Souk has no geo search"},
    {"minimumAroundRadius", "Souk has no geo search"},
    {"insideBoundingBox", "Souk has no geo search"},
    {"insidePolygon", "Souk has no geo search"},
    {"naturalLanguages", "Souk has no natural-language presets"},
    {"ruleContexts", "Souk's rules are ranking profiles' curation, chosen by replica"},
    {"personalizationImpact", "Souk's personal weight is the ranking profile's"},
    {"enablePersonalization", "personalization follows Souk's signed user token"},
    {"enableRules", "Souk's rules are ranking profiles' curation, chosen by replica"},
    {"enableABTest", "Souk has no A/B tests"},
    {"enableReRanking", "Souk has no dynamic re-ranking"},
    {"reRankingApplyFilter", "Souk has no dynamic re-ranking"},
    {"ignorePlurals", "Souk stems by the index's language"},
    {"removeStopWords", "Souk's stop words are the configuration's or the profile's"},
    {"queryLanguages", "Souk analyses in the index's language"},
    {"decompoundQuery", "Souk does not decompound"},
    {"minWordSizefor1Typo", "Souk's typo thresholds are fixed (docs/api.md, typo)"},
    {"minWordSizefor2Typos", "Souk's typo thresholds are fixed (docs/api.md, typo)"},
    {"allowTyposOnNumericTokens", "Souk's typo rules are fixed"},
    {"disableTypoToleranceOnAttributes", "Souk's typo rules are fixed"},
    {"removeWordsIfNoResults", "Souk never drops query words"},
    {"advancedSyntax", "Souk's query syntax is Xapian's (docs/api.md, q)"},
    {"optionalWords", "Souk has no optional words; words are ANDed as Algolia does"},
    {"disableExactOnAttributes", "Souk has no exact-match criterion"},
    {"exactOnSingleWordQuery", "Souk has no exact-match criterion"},
    {"alternativesAsExact", "Souk has no exact-match criterion"},
    {"advancedSyntaxFeatures", "Souk's query syntax is Xapian's"},
    {"replaceSynonymsInHighlight", "Souk highlights what matched"},
    {"minProximity", "Souk's proximity is the ranking profile's"},
    {"responseFields", "Souk answers every field of the response"},
    {"percentileComputation", "Souk has no percentile setting"},
    {"attributeCriteriaComputedByMinProximity", "Souk has no such criterion"},
    {"renderingContent", "Souk has no merchandising content"},
    {"synonyms", "Souk's synonyms are the configuration's or the profile's"},
    {"restrictHighlightAndSnippetArrays", "Souk highlights string fields only"},
    {"facetingAfterDistinct", "Souk has no distinct"},
    {"aroundLatLngViaIp", "Souk has no geo search"},
    {"analyticsTags", "Souk's analytics are its own (docs/api.md, analytics)"},
    {"attributesToRetrieveNested", "Souk retrieves top-level fields"},
    {"mode", "Souk has no neural search mode"},
    {"semanticSearch", "Souk has no semantic search"},
    {"hitsPerPageLimit", "not a search parameter"},
    {"cursor", "Algolia's browse cursor is not supported; page through with page"},
    {"similarQuery", "Souk has no similar-query search"},
    {"relevancyStrictness", "Souk has no relevancy strictness"},
    {"aroundRadiusMeters", "Souk has no geo search"},
    {"getRankingInfoDetails", "use getRankingInfo"},
    {"ranking", "Souk's ranking is BM25 and the ranking profile's signals, chosen by replica"},
    {"attributeCriteriaComputedBy", "Souk has no such criterion"},
    {"extensions", "Souk has no search extensions"},
};

static int lookup_param(sk_ctx *c, const char *name, int *id)
{
    for (int i = 0; i < A_COUNT; i++)
        if (strcmp(anames[i], name) == 0) {
            *id = i;
            return 0;
        }
    char shown[72];
    snprintf(shown, sizeof shown, "%.64s", name);
    for (size_t i = 0; shown[i]; i++)
        if ((unsigned char)shown[i] < 0x20 || (unsigned char)shown[i] >= 0x7f)
            shown[i] = '?';
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        if (strcmp(refused[i].name, name) == 0)
            return afail(c, 400, "Unsupported parameter: %s (%s)", shown, refused[i].why);
    return afail(c, 400, "Unknown parameter: %s", shown);
}

/* A string value (JSON string, or a number as the params string gives every value). */
static int v_str(sk_ctx *c, const cJSON *v, const char *name, const char **out)
{
    if (!cJSON_IsString(v))
        return afail(c, 400, "%s must be a string", name);
    size_t n = strlen(v->valuestring);
    if (n > 4096 || souk_utf8_check(v->valuestring, n) != n)
        return afail(c, 400, "%s must be UTF-8 text of at most 4096 bytes", name);
    *out = v->valuestring;
    return 0;
}

static int v_int(sk_ctx *c, const cJSON *v, const char *name, int64_t min, int64_t max,
                 int64_t *out)
{
    double d;
    if (cJSON_IsNumber(v)) {
        d = v->valuedouble;
    } else if (cJSON_IsString(v) && v->valuestring[0] && strlen(v->valuestring) < 20) {
        char *e;
        d = strtod(v->valuestring, &e);
        if (*e)
            d = NAN;
    } else {
        d = NAN;
    }
    if (!(d >= (double)min && d <= (double)max) || d != floor(d))
        return afail(c, 400, "%s must be an integer from %lld to %lld", name, (long long)min,
                     (long long)max);
    *out = (int64_t)d;
    return 0;
}

static int v_bool(sk_ctx *c, const cJSON *v, const char *name, int *out)
{
    if (cJSON_IsBool(v)) {
        *out = cJSON_IsTrue(v);
        return 0;
    }
    const char *s = cJSON_GetStringValue(v);
    if (s && (strcmp(s, "true") == 0 || strcmp(s, "1") == 0))
        *out = 1;
    else if (s && (strcmp(s, "false") == 0 || strcmp(s, "0") == 0))
        *out = 0;
    else if (cJSON_IsNumber(v) && (v->valuedouble == 0 || v->valuedouble == 1))
        *out = v->valuedouble == 1;
    else
        return afail(c, 400, "%s must be true or false", name);
    return 0;
}

/* A list of strings: a JSON array, a string holding one, or comma-separated names. The items
 * stay owned by q->own. */
static int v_list(sk_ctx *c, aq *q, const cJSON *v, const char *name, const char **out, size_t *n)
{
    cJSON *arr = NULL;
    if (cJSON_IsString(v)) {
        const char *s = v->valuestring;
        if (s[0] == '[') {
            arr = cJSON_Parse(s);
        } else {
            arr = cJSON_CreateArray();
            while (arr && *s) {
                size_t l = strcspn(s, ",");
                char *one = souk_strndup(s, l);
                cJSON *it = one ? cJSON_CreateString(one) : NULL;
                souk_free(one);
                if (!it) {
                    cJSON_Delete(arr);
                    return afail(c, 500, "out of memory");
                }
                cJSON_AddItemToArray(arr, it);
                s += l;
                if (*s == ',')
                    s++;
            }
        }
        if (!cJSON_IsArray(arr)) {
            cJSON_Delete(arr);
            return afail(c, 400, "%s must be a list of strings", name);
        }
        cJSON_AddItemToArray(q->own, arr);
        v = arr;
    }
    if (!cJSON_IsArray(v))
        return afail(c, 400, "%s must be a list of strings", name);
    *n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, v)
    {
        if (!cJSON_IsString(it))
            return afail(c, 400, "%s must be a list of strings", name);
        if (*n == ALG_MAX_LIST)
            return afail(c, 400, "%s takes at most %d attributes", name, ALG_MAX_LIST);
        out[(*n)++] = it->valuestring;
    }
    return 0;
}

static int field_ok(const souk_schema *s, const char *name, int need)
{
    const souk_field *f = souk_schema_field(s, name, strlen(name));
    return f && (!need || (f->flags & need));
}

/* Sets parameter id of q from value v. */
static int set_aparam(sk_ctx *c, aq *q, int id, const cJSON *v)
{
    const char *name = anames[id];
    const souk_schema *s = souk_index_schema(c->w->st->ix);
    const sk_limits *lim = &c->cfg->limits;
    char msg[300] = "";
    int64_t n;
    int b, rc = 0;
    if (q->seen & (1ull << id))
        return afail(c, 400, "%s is given more than once", name);
    q->seen |= 1ull << id;
    switch (id) {
    case A_QUERY:
        if ((rc = v_str(c, v, name, &q->query)))
            return rc;
        q->qlen = strlen(q->query);
        if (q->qlen > lim->max_query_bytes)
            return afail(c, 400, "query is longer than %zu bytes", lim->max_query_bytes);
        return 0;
    case A_PAGE:
        if ((rc = v_int(c, v, name, 0, lim->max_depth, &n)))
            return rc;
        q->page = n;
        return 0;
    case A_HPP:
        if ((rc = v_int(c, v, name, 0, lim->max_per_page, &n)))
            return rc;
        q->hpp = (uint32_t)n;
        return 0;
    case A_OFFSET:
    case A_LENGTH:
        if ((rc = v_int(c, v, name, 0, id == A_OFFSET ? lim->max_depth : lim->max_per_page, &n)))
            return rc;
        *(id == A_OFFSET ? &q->offset : &q->length) = (uint32_t)n;
        q->has_offset = 1;
        return 0;
    case A_FACETS: {
        const char *tmp[ALG_MAX_LIST];
        size_t k;
        if ((rc = v_list(c, q, v, name, tmp, &k)))
            return rc;
        q->nfacets = 0;
        for (size_t i = 0; i < k; i++) {
            if (strcmp(tmp[i], "*") == 0) { /* every facetable field */
                q->nfacets = 0;
                for (size_t f = 0; f < s->nfields; f++)
                    if ((s->fields[f].flags & SOUK_F_FACETABLE) && q->nfacets < SOUK_MAX_FACETS)
                        q->facets[q->nfacets++] = s->fields[f].name;
                return 0;
            }
            if (!field_ok(s, tmp[i], SOUK_F_FACETABLE))
                return afail(c, 400, "facets: attribute '%.64s' is not facetable", tmp[i]);
            if (q->nfacets == lim->max_facets || q->nfacets == SOUK_MAX_FACETS)
                return afail(c, 400, "facets: at most %u facets", lim->max_facets);
            q->facets[q->nfacets++] = tmp[i];
        }
        return 0;
    }
    case A_MAXVPF:
        if ((rc = v_int(c, v, name, 1, 1000, &n)))
            return rc;
        q->max_values = (uint32_t)n;
        return 0;
    case A_MAXFACETHITS:
        if ((rc = v_int(c, v, name, 1, 100, &n)))
            return rc;
        q->max_facet_hits = (uint32_t)n;
        return 0;
    case A_SORTFV: {
        const char *sv;
        if ((rc = v_str(c, v, name, &sv)))
            return rc;
        if (strcmp(sv, "count") != 0 && strcmp(sv, "alpha") != 0)
            return afail(c, 400, "sortFacetValuesBy must be \"count\" or \"alpha\"");
        q->sort_alpha = sv[0] == 'a';
        return 0;
    }
    case A_FACETFILTERS:
    case A_NUMERICFILTERS:
        if (sk_alg_filter_facets(s, &q->filt, v, id == A_NUMERICFILTERS, msg, sizeof msg))
            return afail(c, 400, "%s", msg);
        return 0;
    case A_FILTERS: {
        const char *fs;
        if ((rc = v_str(c, v, name, &fs)))
            return rc;
        if (sk_alg_filter_filters(s, &q->filt, fs, strlen(fs), msg, sizeof msg))
            return afail(c, 400, "%s", msg);
        return 0;
    }
    case A_TAGFILTERS:
        /* InstantSearch sends "" when no tag is refined; any tag is refused. */
        if ((cJSON_IsString(v) && !v->valuestring[0]) ||
            (cJSON_IsArray(v) && cJSON_GetArraySize(v) == 0))
            return 0;
        return afail(c, 400,
                     "Unsupported parameter: tagFilters (Souk has no _tags attribute; "
                     "filter on a keyword field with facetFilters)");
    case A_RETRIEVE: {
        size_t k;
        if ((rc = v_list(c, q, v, name, q->retrieve, &k)))
            return rc;
        q->nretrieve = k;
        q->retrieve_all = 0;
        for (size_t i = 0; i < k; i++) {
            if (strcmp(q->retrieve[i], "*") == 0)
                q->retrieve_all = 1;
            else if (q->retrieve[i][0] == '-')
                return afail(c, 400,
                             "attributesToRetrieve: excluding attributes ('%.64s') is "
                             "not supported",
                             q->retrieve[i]);
            else if (!field_ok(s, q->retrieve[i], SOUK_F_STORED) &&
                     strcmp(q->retrieve[i], "objectID") != 0)
                return afail(c, 400, "attributesToRetrieve: attribute '%.64s' is not stored",
                             q->retrieve[i]);
        }
        return 0;
    }
    case A_HIGHLIGHT: {
        if ((rc = v_list(c, q, v, name, q->hl, &q->nhl)))
            return rc;
        q->hl_default = 0;
        for (size_t i = 0; i < q->nhl; i++)
            if (strcmp(q->hl[i], "*") == 0)
                q->hl_default = 1;
            else if (!field_ok(s, q->hl[i], SOUK_F_STORED))
                return afail(c, 400, "attributesToHighlight: attribute '%.64s' is not stored",
                             q->hl[i]);
        if (q->hl_default)
            q->nhl = 0;
        return 0;
    }
    case A_SNIPPET: {
        const char *tmp[ALG_MAX_LIST];
        size_t k;
        if ((rc = v_list(c, q, v, name, tmp, &k)))
            return rc;
        for (size_t i = 0; i < k; i++) {
            const char *colon = strchr(tmp[i], ':');
            size_t nl = colon ? (size_t)(colon - tmp[i]) : strlen(tmp[i]);
            long words = 10; /* Algolia's default snippet length */
            if (colon) {
                char *e;
                words = strtol(colon + 1, &e, 10);
                if (*e || words < 1 || words > 1000)
                    return afail(c, 400,
                                 "attributesToSnippet: '%.64s' is not attribute:N with N "
                                 "from 1 to 1000",
                                 tmp[i]);
            }
            const souk_field *f = souk_schema_field(s, tmp[i], nl);
            if (!f || !(f->flags & SOUK_F_STORED) || f->type != SOUK_FIELD_TEXT)
                return afail(c, 400, "attributesToSnippet: '%.64s' is not a stored text attribute",
                             tmp[i]);
            q->snips[q->nsnips].name = f->name;
            q->snips[q->nsnips++].words = (uint32_t)words;
        }
        return 0;
    }
    case A_PRE:
    case A_POST: {
        const char *t;
        if ((rc = v_str(c, v, name, &t)))
            return rc;
        if (strlen(t) > 64)
            return afail(c, 400, "%s is longer than 64 bytes", name);
        *(id == A_PRE ? &q->pre : &q->post) = t;
        return 0;
    }
    case A_SNIPPETELLIPSIS: {
        const char *t;
        if ((rc = v_str(c, v, name, &t)))
            return rc;
        if (strcmp(t, "\xe2\x80\xa6") != 0)
            return afail(c, 400,
                         "snippetEllipsisText: Souk's snippets mark a cut with \"\xe2\x80\xa6\" "
                         "only");
        return 0;
    }
    case A_TYPO: {
        const char *t = cJSON_GetStringValue(v);
        if (t && (strcmp(t, "min") == 0 || strcmp(t, "strict") == 0))
            return afail(c, 400, "typoTolerance: \"%s\" is not supported (true or false)", t);
        return v_bool(c, v, name, &q->typo);
    }
    case A_QUERYTYPE: {
        const char *t;
        if ((rc = v_str(c, v, name, &t)))
            return rc;
        if (strcmp(t, "prefixLast") == 0)
            q->prefix = 1;
        else if (strcmp(t, "prefixNone") == 0)
            q->prefix = 0;
        else
            return afail(c, 400, "queryType: \"%.32s\" is not supported (prefixLast or prefixNone)",
                         t);
        return 0;
    }
    case A_RANKINGINFO:
        return v_bool(c, v, name, &q->ranking_info);
    case A_ANALYTICS:
        return v_bool(c, v, name, &q->analytics);
    case A_CLICK:
        return v_bool(c, v, name, &q->click);
    case A_USERTOKEN:
        return v_str(c, v, name, &q->user_token); /* read by answer (personalization) */
    case A_AUTHUSERTOKEN:
        return v_str(c, v, name, &q->auth_token);
    case A_DISTINCT:
        if (cJSON_IsNumber(v) ? v->valuedouble == 0 : (v_bool(c, v, name, &b) == 0 && !b))
            return 0;
        return afail(c, 400,
                     "Unsupported parameter: distinct (Souk has no distinct; only "
                     "distinct=false is accepted)");
    case A_FACETQUERY:
        return v_str(c, v, name, &q->facet_query);
    case A_FACETNAME: { /* the 4.x helper's copy of the facet searched: it must agree */
        const char *t;
        if ((rc = v_str(c, v, name, &t)))
            return rc;
        if (!q->facet_search || strcmp(t, q->facet) != 0)
            return afail(c, 400, "facetName '%.64s' is not the facet searched", t);
        return 0;
    }
    }
    return 0;
}

/* Reads every member of obj (JSON fields of a request) except those of the request object
 * itself (skip: NULL-terminated names). */
static int read_members(sk_ctx *c, aq *q, const cJSON *obj, const char *const *skip)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, obj)
    {
        int s = 0;
        for (size_t k = 0; skip && skip[k]; k++)
            s |= strcmp(skip[k], it->string) == 0;
        if (s)
            continue;
        int id = 0, rc;
        if ((rc = lookup_param(c, it->string, &id)) || (rc = set_aparam(c, q, id, it)))
            return rc;
    }
    return 0;
}

/* The URL-encoded params string into JSON strings, then read as members. */
static int read_params_string(sk_ctx *c, aq *q, const char *s)
{
    cJSON *obj = cJSON_CreateObject();
    if (!obj)
        return afail(c, 500, "out of memory");
    cJSON_AddItemToArray(q->own, obj);
    sk_buf name = {0}, val = {0};
    int rc = 0;
    const char *end = s + strlen(s);
    while (s < end) {
        const char *amp = memchr(s, '&', (size_t)(end - s));
        const char *e = amp ? amp : end;
        const char *eq = memchr(s, '=', (size_t)(e - s));
        if (e > s) {
            const char *ne = eq ? eq : e;
            if (sk_url_decode(s, (size_t)(ne - s), 1, &name) ||
                (eq && sk_url_decode(eq + 1, (size_t)(e - eq - 1), 1, &val))) {
                rc = afail(c, 400, "params has a malformed %%-escape");
                break;
            }
            if (!eq)
                val.len = 0;
            if (sk_buf_add(&name, "", 1) || sk_buf_add(&val, "", 1)) {
                rc = afail(c, 500, "out of memory");
                break;
            }
            if (souk_utf8_check(val.p, val.len - 1) != val.len - 1 ||
                memchr(val.p, 0, val.len - 1)) {
                rc = afail(c, 400, "params: the value of %.64s is not valid UTF-8", name.p);
                break;
            }
            cJSON *it = cJSON_CreateString(val.p);
            if (!it) {
                rc = afail(c, 500, "out of memory");
                break;
            }
            cJSON_AddItemToObject(obj, name.p, it);
            int id = 0;
            if ((rc = lookup_param(c, name.p, &id)) || (rc = set_aparam(c, q, id, it)))
                break;
        }
        s = e + 1;
    }
    sk_buf_free(&name);
    sk_buf_free(&val);
    return rc;
}

/* The index name: the primary (the configuration's "algolia.index", else the schema's name)
 * or a replica (its sort and profile). 0, or the 404 answered. */
static int resolve_index(sk_ctx *c, aq *q, const char *name)
{
    const cJSON *cfg = c->cfg->algolia;
    const char *primary = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cfg, "index"));
    if (!primary)
        primary = souk_index_schema(c->w->st->ix)->name;
    q->index = name;
    if (strcmp(name, primary) == 0)
        return 0;
    const cJSON *r =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cfg, "replicas"), name);
    if (!r)
        return afail(c, 404, "Index %.128s does not exist", name);
    q->sort = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "sort"));
    q->profile = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(r, "profile"));
    return 0;
}

static void aq_init(aq *q)
{
    memset(q, 0, sizeof *q);
    q->own = cJSON_CreateArray();
    q->hpp = ALG_DEFAULT_HPP;
    q->max_values = 100; /* Algolia's default maxValuesPerFacet */
    q->max_facet_hits = 10;
    q->hl_default = 1;
    q->retrieve_all = 1;
    q->pre = "<em>";
    q->post = "</em>";
    q->typo = 1;
    q->prefix = 1;
    q->analytics = 1;
    q->into = -1;
    q->disj_spec = -1;
    q->query = "";
}

static void aq_free(aq *q)
{
    cJSON_Delete(q->own);
    sk_alg_filter_free(&q->filt);
}

/* One request object of a multi-query, or the body of a single query (index and facet given
 * by the path then). */
static int read_request(sk_ctx *c, aq *q, const cJSON *obj, const char *index, const char *facet)
{
    static const char *const skip[] = {"indexName", "params", "type", "facet", NULL};
    if (!cJSON_IsObject(obj))
        return afail(c, 400, "a request must be a JSON object");
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(obj, "indexName");
    if (!index) {
        if (!cJSON_IsString(in) || !in->valuestring[0])
            return afail(c, 400, "a request needs indexName");
        index = in->valuestring;
    } else if (in) {
        return afail(c, 400, "indexName goes in the path of this endpoint");
    }
    int rc = resolve_index(c, q, index);
    if (rc)
        return rc;
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(obj, "type");
    const cJSON *fc = cJSON_GetObjectItemCaseSensitive(obj, "facet");
    if (type && (!cJSON_IsString(type) || (strcmp(type->valuestring, "default") != 0 &&
                                           strcmp(type->valuestring, "facet") != 0)))
        return afail(c, 400, "type must be \"default\" or \"facet\"");
    q->facet_search = facet || (type && strcmp(type->valuestring, "facet") == 0);
    if (q->facet_search) {
        if (!facet && !cJSON_IsString(fc))
            return afail(c, 400, "a facet request needs facet");
        q->facet = facet ? facet : fc->valuestring;
        if (!field_ok(souk_index_schema(c->w->st->ix), q->facet, SOUK_F_FACETABLE))
            return afail(c, 400, "Cannot search in '%.64s' attribute, it is not facetable",
                         q->facet);
    } else if (fc && !cJSON_IsNull(fc)) {
        return afail(c, 400, "facet is for type \"facet\" requests");
    }
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(obj, "params");
    if (params) {
        if (!cJSON_IsString(params))
            return afail(c, 400, "params must be a URL-encoded string");
        q->params = params->valuestring;
        if ((rc = read_params_string(c, q, params->valuestring)))
            return rc;
    }
    return read_members(c, q, obj, skip);
}

/* ------------------------------------------------------------------ running a query */

/* The compiled replica profile of q (NULL: none) and its request defaults. */
typedef struct run {
    souk_query *pq; /* NULL: browsing */
    souk_search_opts so;
    souk_find_opts fo;
    souk_find_result res; /* the storefront path */
    int found;            /* res is set */
    souk_hit *hits;       /* the page (into w->hits or res.hits) */
    size_t nhits;
    uint64_t total;
    int exhaustive;
    int stopped;
    sk_cprofile *cp;
    souk_hit *own_hits; /* the personal window re-ranked (souk_malloc'd), or NULL */
    uint32_t first;     /* offset of the page in the order */
    uint32_t count;     /* hits asked for */
} run;

static void run_free(run *r)
{
    if (r->pq)
        souk_query_free(r->pq);
    if (r->found)
        souk_find_result_free(&r->res);
    souk_free(r->own_hits);
    sk_cprofile_unref(r->cp);
    memset(r, 0, sizeof *r);
}

static int field_id(const souk_schema *s, const char *name, size_t n)
{
    const souk_field *f = souk_schema_field(s, name, n);
    return f ? f->id : -1;
}

/* "price:asc,_score" -> sort keys (the replica's, validated here as /v1/search does). */
static int parse_sort(sk_ctx *c, const char *s, souk_find_opts *o)
{
    const souk_schema *sc = souk_index_schema(c->w->st->ix);
    while (*s) {
        size_t n = strcspn(s, ",");
        const char *colon = memchr(s, ':', n);
        size_t fl = colon ? (size_t)(colon - s) : n;
        if (o->nsort == SOUK_MAX_SORT)
            return afail(c, 500, "the replica's sort has more than %d keys", SOUK_MAX_SORT);
        souk_sort_key *k = &o->sort[o->nsort++];
        k->field = fl == 6 && memcmp(s, "_score", 6) == 0 ? -1 : field_id(sc, s, fl);
        k->desc = k->field < 0;
        if (k->field < 0 && !(fl == 6 && memcmp(s, "_score", 6) == 0))
            return afail(c, 500, "the replica's sort names an unknown field '%.*s'",
                         (int)(fl < 64 ? fl : 64), s);
        if (colon)
            k->desc = n - fl - 1 == 4 && memcmp(colon + 1, "desc", 4) == 0;
        s += n;
        if (*s == ',')
            s++;
    }
    return 0;
}

static int parse_boost(sk_ctx *c, const char *s, souk_find_opts *o)
{
    const char *colon = strchr(s, ':');
    char *end;
    double w = colon ? strtod(colon + 1, &end) : 0;
    o->boost_field = colon ? field_id(souk_index_schema(c->w->st->ix), s, (size_t)(colon - s)) : -1;
    if (!colon || end == colon + 1 || *end || !isfinite(w) || o->boost_field < 0)
        return afail(c, 500, "the replica's profile has an invalid boost '%.64s'", s);
    o->boost_weight = w;
    return 0;
}

/* Adds a facet spec for field name to fo; returns its index, or -1 (answered). */
static int add_spec(sk_ctx *c, souk_find_opts *fo, const char *name, uint32_t max_values,
                    int conjunctive)
{
    const souk_schema *s = souk_index_schema(c->w->st->ix);
    for (size_t i = 0; i < fo->nfacets; i++)
        if (!!fo->facets[i].conjunctive == !!conjunctive &&
            strcmp(s->fields[fo->facets[i].field].name, name) == 0)
            return (int)i;
    if (fo->nfacets == SOUK_MAX_FACETS) {
        afail(c, 400, "facets: at most %d facets in one batch of queries", SOUK_MAX_FACETS);
        return -1;
    }
    souk_facet_spec *sp = &fo->facets[fo->nfacets];
    memset(sp, 0, sizeof *sp);
    sp->field = field_id(s, name, strlen(name));
    sp->max_values = max_values;
    sp->conjunctive = conjunctive;
    sp->stats = s->fields[sp->field].type == SOUK_FIELD_NUMBER;
    return (int)fo->nfacets++;
}

/* Personalized search, as /v1/search's (docs/ranking.md "personal"): the window hits[0, n)
 * (the best text hits) re-ranked by text + weight * affinity * the window's best text score, then
 * the page [first, first + count) of it becomes r's hits. */
static int personalize(sk_ctx *c, run *r, const souk_affinity *aff, const souk_hit *hits, size_t n)
{
    double w = r->cp ? r->cp->p->rank.personal_weight : SOUK_PERSONAL_WEIGHT;
    souk_hit *h = souk_malloc((n ? n : 1) * sizeof *h);
    if (!h)
        return afail(c, 500, "out of memory");
    double top = n ? hits[0].score : 0;
    for (size_t i = 0; i < n; i++) {
        h[i] = hits[i];
        h[i].score +=
            w * souk_affinity_of(aff, c->w->searcher, hits[i].docid) * (top > 0 ? top : 0);
    }
    for (size_t i = 1; i < n; i++) { /* by score descending, then docid (a window of 20) */
        souk_hit x = h[i];
        size_t j = i;
        for (; j > 0 && (h[j - 1].score < x.score ||
                         (h[j - 1].score == x.score && h[j - 1].docid > x.docid));
             j--)
            h[j] = h[j - 1];
        h[j] = x;
    }
    r->own_hits = h;
    r->hits = h + (r->first < n ? r->first : n);
    r->nhits = r->first < n ? (n - r->first < r->count ? n - r->first : r->count) : 0;
    return 0;
}

/* Runs query q (with the disjunctive facets of the queries merged into it, merged[0,
 * nmerged)); aff: the user's affinities (NULL: anonymous). */
static int run_query(sk_ctx *c, aq *q, aq **merged, size_t nmerged, const souk_affinity *aff,
                     run *r)
{
    sk_worker *w = c->w;
    const souk_schema *schema = souk_index_schema(w->st->ix);
    char err[512];
    int rc;
    int typo = q->typo, prefix = q->prefix, and_op = 1;
    const char *sort = q->sort, *boost = NULL;
    if (q->profile) {
        if ((rc = sk_profile_resolve(c, q->profile, &r->cp)))
            return afail(c, 500, "the replica's profile '%s' cannot be used", q->profile);
        const souk_profile *pr = r->cp->p;
        if (r->cp->lex)
            souk_searcher_set_lexicon(w->searcher, r->cp->lex); /* reset by the router */
        if (!sort)
            sort = pr->sort;
        boost = pr->boost;
        if (pr->typo >= 0 && !(q->seen & (1ull << A_TYPO)))
            typo = pr->typo;
        if (pr->prefix >= 0 && !(q->seen & (1ull << A_QUERYTYPE)))
            prefix = pr->prefix;
        if (pr->and_op >= 0)
            and_op = pr->and_op;
    }
    /* The page: page * hitsPerPage, or offset and length. */
    r->first = q->has_offset ? q->offset : (uint32_t)q->page * q->hpp;
    r->count = q->has_offset ? q->length : q->hpp;
    if ((uint64_t)r->first + r->count > c->cfg->limits.max_depth) {
        r->count = r->first < c->cfg->limits.max_depth ? c->cfg->limits.max_depth - r->first : 0;
        if (!q->has_offset && q->page > 0 && r->count < q->hpp)
            r->count = 0; /* a page past the limit is empty, as Algolia's paginationLimitedTo */
    }
    /* Personal only on the relevance path of a query (not browsing), within the window, as
     * /v1/search. */
    size_t qtrim = q->qlen;
    while (qtrim && (q->query[qtrim - 1] == ' ' || q->query[qtrim - 1] == '\t'))
        qtrim--;
    int personal =
        aff && !sort && qtrim && r->count > 0 && r->first + r->count <= ALG_PERSONAL_WINDOW;
    souk_search_opts so = {personal ? ALG_PERSONAL_WINDOW : r->first + r->count,
                           SOUK_BM25_DEFAULT,
                           0,
                           NULL,
                           (and_op ? SOUK_QP_DEFAULT_AND : 0u) | (prefix ? SOUK_QP_PARTIAL : 0u) |
                               (typo ? SOUK_QP_TYPO : 0u) | SOUK_QP_CODES,
                           prefix ? ALG_PREFIX_EXPANSIONS : 0,
                           r->cp ? &r->cp->p->rank : NULL};
    if (r->cp)
        so.bm25 = r->cp->p->rank.bm25;
    r->so = so;
    const char *qs = q->query;
    size_t qn = q->qlen;
    while (qn && (qs[qn - 1] == ' ' || qs[qn - 1] == '\t'))
        qn--;
    if (qn) {
        size_t nf;
        const souk_qp_field *fields = souk_searcher_fields(w->searcher, &nf);
        rc = souk_query_parse(qs, qn, schema->default_language, fields, nf, so.qp_flags, &r->pq,
                              err, sizeof err);
        if (rc == SOUK_EQUERY || rc == SOUK_EINVAL)
            return afail(c, 400, "query: %s", err);
        if (rc)
            return afail(c, 500, "query parser: %s", err);
    }
    sk_buf fexpr = {0};
    if (sk_alg_filter_join(&q->filt, &fexpr)) {
        sk_buf_free(&fexpr);
        return afail(c, 500, "out of memory");
    }
    int facets = q->nfacets || nmerged || q->facet_search;
    /* Plain relevance, as /v1/search: the top k by MaxScore, its count maybe a lower bound. */
    if (r->pq && !fexpr.len && !facets && !sort && !boost && r->count > 0) {
        sk_buf_free(&fexpr);
        if (w->hits_cap < so.k) {
            souk_hit *h = souk_realloc(w->hits, (size_t)so.k * sizeof *h);
            if (!h)
                return afail(c, 500, "out of memory");
            w->hits = h;
            w->hits_cap = so.k;
        }
        souk_search_stats st;
        size_t n = 0;
        rc = souk_search_query(w->searcher, r->pq, &so, w->hits, &n, &st, err, sizeof err);
        if (rc)
            return rc == SOUK_ETOOBIG  ? afail(c, 400, "query is too complex: %s", err)
                   : rc == SOUK_EQUERY ? afail(c, 400, "query: %s", err)
                                       : afail(c, 500, "%s", err);
        r->hits = n > r->first ? w->hits + r->first : w->hits;
        r->nhits = n > r->first ? n - r->first : 0;
        r->total = st.matched;
        r->exhaustive = !st.pruned && !st.stopped;
        r->stopped = st.stopped;
        return personal ? personalize(c, r, aff, w->hits, n) : 0;
    }
    /* The storefront path: filter, facets, sort over the whole match set. */
    souk_find_opts *fo = &r->fo;
    memset(fo, 0, sizeof *fo);
    fo->search = so;
    fo->offset = personal ? 0 : r->first;
    fo->limit = personal ? ALG_PERSONAL_WINDOW : r->count;
    fo->boost_field = -1;
    souk_filter *f = NULL;
    if (fexpr.len && souk_filter_parse(schema, fexpr.p, fexpr.len, &f, err, sizeof err)) {
        sk_buf_free(&fexpr);
        return afail(c, 400, "filters: %s", err);
    }
    sk_buf_free(&fexpr);
    fo->filter = f;
    rc = 0;
    if (q->facet_search) {
        if (add_spec(c, fo, q->facet, 0, 1) < 0) /* every value: facetQuery picks */
            rc = c->status;
        fo->limit = 0;
        fo->offset = 0;
    }
    for (size_t i = 0; !rc && i < q->nfacets; i++)
        if ((q->disj_specs[i] = add_spec(c, fo, q->facets[i], q->max_values, 1)) < 0)
            rc = c->status;
    for (size_t i = 0; !rc && i < nmerged; i++)
        if ((merged[i]->disj_spec =
                 add_spec(c, fo, merged[i]->facets[0], merged[i]->max_values, 0)) < 0)
            rc = c->status;
    if (!rc && sort)
        rc = parse_sort(c, sort, fo);
    if (!rc && boost)
        rc = parse_boost(c, boost, fo);
    if (rc) {
        souk_filter_free(f);
        return rc;
    }
    rc = souk_find(w->searcher, r->pq, fo, &r->res, err, sizeof err);
    souk_filter_free(f);
    if (rc)
        return rc == SOUK_EINVAL    ? afail(c, 400, "%s", err)
               : rc == SOUK_EQUERY  ? afail(c, 400, "query: %s", err)
               : rc == SOUK_ETOOBIG ? afail(c, 400, "query is too complex: %s", err)
                                    : afail(c, 500, "%s", err);
    r->found = 1;
    r->hits = r->res.hits;
    r->nhits = r->res.nhits;
    r->total = r->res.total;
    r->exhaustive = !r->res.stopped;
    r->stopped = r->res.stopped;
    return personal ? personalize(c, r, aff, r->res.hits, r->res.nhits) : 0;
}

/* ------------------------------------------------------------------ writing results */

/* Appends v[0, n) as a JSON string's characters (no quotes). */
static void json_chars(sk_buf *b, const char *v, size_t n)
{
    size_t at = b->len;
    sk_buf_json_str(b, v, n);
    if (b->len >= at + 2) { /* drop the quotes sk_buf_json_str added */
        memmove(b->p + at, b->p + at + 1, b->len - at - 2);
        b->len -= 2;
    }
}

/* Souk's highlighted HTML (escaped text, <em> marks) as Algolia's value: the text as stored
 * with pre and post around the matches, as a JSON string; the marked words into words. */
typedef struct marks {
    char words[16][64];
    size_t nwords;
    int segments;
    int whole; /* the whole value is one mark */
} marks;

static void write_marked(sk_buf *b, const char *h, size_t n, const char *pre, const char *post,
                         marks *m)
{
    sk_buf raw = {0};
    size_t i = 0, mark_start = 0;
    int in = 0;
    memset(m, 0, sizeof *m);
    while (i < n) {
        if (n - i >= 4 && memcmp(h + i, "<em>", 4) == 0) {
            sk_buf_str(&raw, pre);
            in = 1;
            mark_start = raw.len;
            if (i == 0)
                m->whole = 1;
            i += 4;
        } else if (n - i >= 5 && memcmp(h + i, "</em>", 5) == 0) {
            size_t wl = raw.len - mark_start;
            if (in && m->nwords < 16 && wl < 64) {
                char wd[64];
                for (size_t k = 0; k < wl; k++)
                    wd[k] = (char)tolower((unsigned char)raw.p[mark_start + k]);
                wd[wl] = 0;
                size_t k = 0;
                while (k < m->nwords && strcmp(m->words[k], wd) != 0)
                    k++;
                if (k == m->nwords)
                    memcpy(m->words[m->nwords++], wd, wl + 1);
            }
            m->segments++;
            sk_buf_str(&raw, post);
            in = 0;
            i += 5;
            if (i < n)
                m->whole = 0;
        } else if (h[i] == '&') {
            static const struct {
                const char *ent;
                char ch;
            } ents[] = {
                {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&#39;", '\''}};
            size_t k = 0;
            for (; k < sizeof ents / sizeof ents[0]; k++) {
                size_t el = strlen(ents[k].ent);
                if (n - i >= el && memcmp(h + i, ents[k].ent, el) == 0) {
                    sk_buf_add(&raw, &ents[k].ch, 1);
                    i += el;
                    break;
                }
            }
            if (k == sizeof ents / sizeof ents[0])
                sk_buf_add(&raw, h + i++, 1);
        } else {
            if (m->segments && !in)
                m->whole = 0;
            sk_buf_add(&raw, h + i++, 1);
        }
    }
    if (!m->segments)
        m->whole = 0;
    sk_buf_json_str(b, raw.p ? raw.p : "", raw.len);
    sk_buf_free(&raw);
}

/* The query's words (lower-cased ASCII letters and digits, others kept as bytes), for
 * matchLevel. */
static size_t query_words(const char *q, size_t n, char words[16][64])
{
    size_t nw = 0, i = 0;
    while (i < n && nw < 16) {
        while (i < n && !isalnum((unsigned char)q[i]) && (unsigned char)q[i] < 0x80)
            i++;
        size_t l = 0;
        while (i < n && (isalnum((unsigned char)q[i]) || (unsigned char)q[i] >= 0x80)) {
            if (l < 63)
                words[nw][l++] = (char)tolower((unsigned char)q[i]);
            i++;
        }
        if (l) {
            words[nw][l] = 0;
            nw++;
        }
    }
    return nw;
}

/* {"value":..., "matchLevel":..., "matchedWords":[...], "fullyHighlighted":...} */
static void write_hl_object(sk_buf *b, const char *h, size_t n, const aq *q, char qw[16][64],
                            size_t nqw, int snippet)
{
    marks m;
    sk_buf_str(b, "{\"value\":");
    write_marked(b, h, n, q->pre, q->post, &m);
    /* A query word counts as matched when a marked word starts with it or it starts with the
     * marked word (a stem); a typo's match leaves the level partial. */
    size_t matched = 0;
    sk_buf mw = {0};
    for (size_t i = 0; i < nqw; i++) {
        int hit = 0;
        for (size_t k = 0; k < m.nwords && !hit; k++) {
            size_t a = strlen(qw[i]), bl = strlen(m.words[k]);
            hit = (bl >= a && memcmp(m.words[k], qw[i], a) == 0) ||
                  (a >= bl && bl >= 3 && memcmp(qw[i], m.words[k], bl) == 0);
        }
        if (hit) {
            sk_buf_str(&mw, matched ? "," : "");
            sk_buf_json_str(&mw, qw[i], strlen(qw[i]));
            matched++;
        }
    }
    const char *level = !m.segments ? "none" : matched == nqw ? "full" : "partial";
    sk_buf_printf(b, ",\"matchLevel\":\"%s\"", level);
    if (!snippet) {
        sk_buf_str(b, ",\"matchedWords\":[");
        if (mw.len)
            sk_buf_add(b, mw.p, mw.len);
        sk_buf_printf(b, "],\"fullyHighlighted\":%s", m.whole ? "true" : "false");
    }
    sk_buf_str(b, "}");
    sk_buf_free(&mw);
}

/* _highlightResult and _snippetResult of one hit. doc is its stored fields. */
static void write_highlights(sk_ctx *c, const aq *q, souk_highlighter *hl, const cJSON *doc)
{
    const souk_schema *sc = souk_index_schema(c->w->st->ix);
    sk_buf *b = c->out;
    char qw[16][64];
    size_t nqw = query_words(q->query, q->qlen, qw);
    sk_buf_str(b, ",\"_highlightResult\":{");
    int first = 1;
    for (size_t f = 0; f < sc->nfields; f++) {
        const souk_field *fd = &sc->fields[f];
        int want = 0;
        if (q->hl_default)
            want = fd->type == SOUK_FIELD_TEXT && (fd->flags & SOUK_F_STORED);
        for (size_t i = 0; !want && i < q->nhl; i++)
            want = strcmp(q->hl[i], fd->name) == 0;
        const char *v =
            want ? cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, fd->name)) : NULL;
        if (!v)
            continue;
        char *res = NULL;
        size_t rl, nm;
        size_t vl = strlen(v);
        sk_buf_str(b, first ? "" : ",");
        first = 0;
        sk_buf_json_str(b, fd->name, strlen(fd->name));
        sk_buf_str(b, ":");
        if (hl && fd->type == SOUK_FIELD_TEXT &&
            souk_highlight(hl, v, vl, 0, &res, &rl, &nm) == 0) {
            write_hl_object(b, res, rl, q, qw, nqw, 0);
            souk_free(res);
        } else { /* not text (or nothing searched): the value, unmarked */
            sk_buf_str(b, "{\"value\":");
            sk_buf_json_str(b, v, vl);
            sk_buf_str(b, ",\"matchLevel\":\"none\",\"matchedWords\":[],"
                          "\"fullyHighlighted\":false}");
        }
    }
    sk_buf_str(b, "}");
    if (!q->nsnips)
        return;
    sk_buf_str(b, ",\"_snippetResult\":{");
    first = 1;
    for (size_t i = 0; i < q->nsnips; i++) {
        const char *v =
            cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, q->snips[i].name));
        if (!v)
            continue;
        sk_buf_str(b, first ? "" : ",");
        first = 0;
        sk_buf_json_str(b, q->snips[i].name, strlen(q->snips[i].name));
        sk_buf_str(b, ":");
        char *res = NULL;
        size_t rl, nm;
        if (hl && souk_highlight(hl, v, strlen(v), q->snips[i].words, &res, &rl, &nm) == 0) {
            write_hl_object(b, res, rl, q, qw, nqw, 1);
            souk_free(res);
        } else {
            sk_buf_str(b, "{\"value\":");
            sk_buf_json_str(b, v, strlen(v));
            sk_buf_str(b, ",\"matchLevel\":\"none\"}");
        }
    }
    sk_buf_str(b, "}");
}

typedef struct rinfo {
    sk_buf *b;
    int first;
    const souk_schema *sc;
} rinfo;

static void on_rank_part(void *ctx, const souk_explain_part *p)
{
    rinfo *ri = ctx;
    sk_buf_str(ri->b, ri->first ? "{" : ",{");
    ri->first = 0;
    if (p->kind == SOUK_EXPLAIN_PROXIMITY) {
        sk_buf_printf(ri->b, "\"proximity\":%.17g,\"score\":%.17g}", p->value, p->part);
        return;
    }
    if (p->kind == SOUK_EXPLAIN_BOOST) {
        const char *fn = p->field >= 0 ? ri->sc->fields[p->field].name : "";
        sk_buf_str(ri->b, "\"boost\":");
        sk_buf_json_str(ri->b, fn, strlen(fn));
        sk_buf_printf(ri->b, ",\"score\":%.17g}", p->part);
        return;
    }
    sk_buf_str(ri->b, "\"term\":");
    sk_buf_json_str(ri->b, p->term, p->len);
    if (p->field >= 0) {
        sk_buf_str(ri->b, ",\"field\":");
        sk_buf_json_str(ri->b, ri->sc->fields[p->field].name,
                        strlen(ri->sc->fields[p->field].name));
    }
    sk_buf_printf(ri->b, ",\"wdf\":%u,\"factor\":%.17g,\"score\":%.17g}", p->wdf, p->factor,
                  p->part);
}

/* One hit: its stored fields (attributesToRetrieve), objectID, highlights, ranking info. */
static void write_hit(sk_ctx *c, const aq *q, run *r, souk_highlighter *hl, const souk_hit *h,
                      int first)
{
    sk_buf *b = c->out;
    const char *id, *json;
    size_t il, jl;
    if (souk_searcher_doc(c->w->searcher, h->docid, &id, &il, &json, &jl))
        return;
    cJSON *doc = cJSON_ParseWithLength(json, jl);
    sk_buf_str(b, first ? "{" : ",{");
    int any = 0;
    const cJSON *it;
    /* Every field: the stored object's members as stored (they are JSON already), unless the
     * schema has a field named objectID, which the item id replaces. */
    static const char oid[] = "objectID";
    const souk_schema *sc0 = souk_index_schema(c->w->st->ix);
    size_t lo = 0, hi = jl;
    while (lo < hi && json[lo] != '{')
        lo++;
    while (hi > lo && json[hi - 1] != '}')
        hi--;
    int verbatim = q->retrieve_all && !souk_schema_field(sc0, oid, sizeof oid - 1);
    const cJSON *members = verbatim ? NULL : doc;
    if (verbatim && hi > lo + 1) {
        const char *in = json + lo + 1;
        size_t inl = hi - lo - 2;
        while (inl && (in[0] == ' ' || in[0] == '\n'))
            in++, inl--;
        if (inl) {
            sk_buf_add(b, in, inl);
            any = 1;
        }
    }
    cJSON_ArrayForEach(it, members)
    {
        int keep = q->retrieve_all;
        for (size_t i = 0; !keep && i < q->nretrieve; i++)
            keep = strcmp(q->retrieve[i], it->string) == 0;
        if (!keep || strcmp(it->string, "objectID") == 0)
            continue;
        char *v = cJSON_PrintUnformatted(it);
        if (!v)
            continue;
        sk_buf_str(b, any ? "," : "");
        any = 1;
        sk_buf_json_str(b, it->string, strlen(it->string));
        sk_buf_str(b, ":");
        sk_buf_str(b, v);
        cJSON_free(v);
    }
    sk_buf_str(b, any ? ",\"objectID\":" : "\"objectID\":");
    sk_buf_json_str(b, id, il);
    write_highlights(c, q, r->pq ? hl : NULL, doc);
    if (q->ranking_info) {
        const souk_schema *sc = souk_index_schema(c->w->st->ix);
        rinfo ri = {b, 1, sc};
        double total;
        sk_buf_printf(b,
                      ",\"_rankingInfo\":{\"nbTypos\":0,\"userScore\":0,\"score\":%.17g,"
                      "\"explain\":[",
                      h->score);
        if (r->pq)
            souk_search_explain_parts(c->w->searcher, r->pq, &r->so, h->docid, on_rank_part, &ri,
                                      &total);
        sk_buf_str(b, "]}");
    }
    sk_buf_str(b, "}");
    cJSON_Delete(doc);
}

typedef struct fval {
    const char *v;
    size_t len;
    uint64_t count;
} fval;

static int cmp_alpha(const void *a, const void *b)
{
    const fval *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int d = memcmp(x->v, y->v, n);
    return d ? d : (x->len > y->len) - (x->len < y->len);
}

/* "name":{"value":count,...} of one facet result (values sorted by count, or alpha). */
static void write_facet_values(sk_buf *b, const souk_facet_result *fr, int alpha)
{
    size_t n = fr->nvalues;
    fval *v = souk_malloc((n ? n : 1) * sizeof *v);
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        v[i] = (fval){fr->values[i].value, fr->values[i].len, fr->values[i].count};
    if (alpha && n > 1)
        qsort(v, n, sizeof *v, cmp_alpha);
    sk_buf_str(b, "{");
    for (size_t i = 0; i < n; i++) {
        if (!v[i].v)
            continue;
        sk_buf_str(b, i ? "," : "");
        sk_buf_json_str(b, v[i].v, v[i].len);
        sk_buf_printf(b, ":%llu", (unsigned long long)v[i].count);
    }
    sk_buf_str(b, "}");
    souk_free(v);
}

/* "facets":{...},"facets_stats":{...} for the facets of q: each from spec specs[i] of res. */
static void write_facets(sk_ctx *c, const aq *q, const souk_find_result *res, const int *specs,
                         size_t n)
{
    const souk_schema *sc = souk_index_schema(c->w->st->ix);
    sk_buf *b = c->out;
    sk_buf_str(b, ",\"facets\":{");
    for (size_t i = 0; i < n; i++) {
        const souk_facet_result *fr = &res->facets[specs[i]];
        const char *name = sc->fields[fr->field].name;
        sk_buf_str(b, i ? "," : "");
        sk_buf_json_str(b, name, strlen(name));
        sk_buf_str(b, ":");
        write_facet_values(b, fr, q->sort_alpha);
    }
    sk_buf_str(b, "},\"facets_stats\":{");
    int first = 1;
    for (size_t i = 0; i < n; i++) {
        const souk_facet_result *fr = &res->facets[specs[i]];
        if (sc->fields[fr->field].type != SOUK_FIELD_NUMBER || !fr->stat_count)
            continue;
        const char *name = sc->fields[fr->field].name;
        sk_buf_str(b, first ? "" : ",");
        first = 0;
        sk_buf_json_str(b, name, strlen(name));
        sk_buf_printf(b, ":{\"min\":%.17g,\"max\":%.17g,\"avg\":%.17g,\"sum\":%.17g}", fr->stat_min,
                      fr->stat_max, fr->stat_sum / (double)fr->stat_count, fr->stat_sum);
    }
    sk_buf_str(b, "}");
}

/* The end of a result: counts, paging, the echo of the request, timing, queryID. */
static void write_tail(sk_ctx *c, const aq *q, uint64_t total, int exhaustive, int qi, uint64_t t0)
{
    sk_buf *b = c->out;
    uint32_t hpp = q->has_offset ? q->length : q->hpp;
    uint64_t reach = total < c->cfg->limits.max_depth ? total : c->cfg->limits.max_depth;
    uint64_t pages = hpp ? (reach + hpp - 1) / hpp : 0;
    sk_buf_printf(b,
                  ",\"nbHits\":%llu,\"page\":%lld,\"nbPages\":%llu,\"hitsPerPage\":%u,"
                  "\"exhaustiveNbHits\":%s,\"exhaustiveFacetsCount\":%s,"
                  "\"exhaustive\":{\"nbHits\":%s,\"facetsCount\":%s},\"query\":",
                  (unsigned long long)total, (long long)q->page, (unsigned long long)pages, hpp,
                  exhaustive ? "true" : "false", exhaustive ? "true" : "false",
                  exhaustive ? "true" : "false", exhaustive ? "true" : "false");
    sk_buf_json_str(b, q->query, q->qlen);
    sk_buf_str(b, ",\"params\":");
    sk_buf_json_str(b, q->params ? q->params : "", q->params ? strlen(q->params) : 0);
    sk_buf_str(b, ",\"index\":");
    sk_buf_json_str(b, q->index, strlen(q->index));
    if (q->has_offset)
        sk_buf_printf(b, ",\"offset\":%u,\"length\":%u", q->offset, q->length);
    /* queryID: the request id and the query's position, 32 hex digits as Algolia's. */
    if (q->click)
        sk_buf_printf(b, ",\"queryID\":\"%.16s%016x\"", c->request_id, (unsigned)qi);
    sk_buf_printf(b, ",\"processingTimeMS\":%llu,\"serverTimeMS\":%llu}",
                  (unsigned long long)((sk_now_ns() - t0) / 1000000),
                  (unsigned long long)((sk_now_ns() - t0) / 1000000));
}

/* The facet values of res's first spec matching facetQuery (a prefix of the value or of one of
 * its words, case-insensitive), the most frequent first. */
static void write_facet_hits(sk_ctx *c, const aq *q, const souk_find_result *res)
{
    sk_buf *b = c->out;
    const char *fq = q->facet_query ? q->facet_query : "";
    size_t fl = strlen(fq);
    sk_buf_str(b, "{\"facetHits\":[");
    uint32_t n = 0;
    const souk_facet_result *fr = &res->facets[0];
    for (size_t i = 0; i < fr->nvalues && n < q->max_facet_hits; i++) {
        const char *v = fr->values[i].value;
        size_t vl = fr->values[i].len;
        if (!v)
            continue;
        size_t at = SIZE_MAX;
        for (size_t k = 0; k + fl <= vl && at == SIZE_MAX; k++) {
            if (k && isalnum((unsigned char)v[k - 1]))
                continue; /* a word starts at k */
            if (strncasecmp(v + k, fq, fl) == 0)
                at = k;
        }
        if (at == SIZE_MAX)
            continue;
        sk_buf_str(b, n ? ",{\"value\":" : "{\"value\":");
        sk_buf_json_str(b, v, vl);
        sk_buf_str(b, ",\"highlighted\":\"");
        json_chars(b, v, at);
        if (fl) {
            json_chars(b, q->pre, strlen(q->pre));
            json_chars(b, v + at, fl);
            json_chars(b, q->post, strlen(q->post));
        }
        json_chars(b, v + at + fl, vl - at - fl);
        sk_buf_printf(b, "\",\"count\":%llu}", (unsigned long long)fr->values[i].count);
        n++;
    }
    sk_buf_printf(b,
                  "],\"exhaustiveFacetsCount\":%s,\"exhaustive\":{\"facetsCount\":%s},"
                  "\"processingTimeMS\":%llu}",
                  res->stopped ? "false" : "true", res->stopped ? "false" : "true",
                  (unsigned long long)((sk_now_ns() - c->t0_ns) / 1000000));
}

/* One query's whole result into c->out. */
static int write_result(sk_ctx *c, aq *q, run *r, int qi, uint64_t t0)
{
    sk_buf *b = c->out;
    if (q->facet_search) {
        write_facet_hits(c, q, &r->res);
        return 0;
    }
    souk_highlighter *hl = NULL;
    if (r->pq && r->nhits && souk_highlighter_new(c->w->searcher, r->pq, &r->so, &hl))
        return afail(c, 500, "out of memory");
    sk_buf_str(b, "{\"hits\":[");
    for (size_t i = 0; i < r->nhits; i++)
        write_hit(c, q, r, hl, &r->hits[i], i == 0);
    souk_highlighter_free(hl);
    sk_buf_str(b, "]");
    if (r->found && q->nfacets)
        write_facets(c, q, &r->res, q->disj_specs, q->nfacets);
    else if (q->nfacets)
        sk_buf_str(b, ",\"facets\":{},\"facets_stats\":{}");
    write_tail(c, q, r->total, r->exhaustive, qi, t0);
    return 0;
}

/* A query merged into main's pass: no hits, its facet's disjunctive counts from main's result,
 * and as nbHits the documents those counts are over. */
static void write_merged(sk_ctx *c, aq *q, const run *main, int qi, uint64_t t0)
{
    sk_buf_str(c->out, "{\"hits\":[]");
    const souk_facet_result *fr = &main->res.facets[q->disj_spec];
    int spec = q->disj_spec;
    write_facets(c, q, &main->res, &spec, 1);
    /* Souk's own member, which clients ignore: the query whose pass answered this one. */
    sk_buf_printf(c->out, ",\"souk\":{\"answered_with\":%d}", q->into);
    write_tail(c, q, fr->matched, !main->res.stopped, qi, t0);
}

/* ------------------------------------------------------------------ the batch */

/* 1 when q's filter parts are main's minus those testing field alone (as multisets). */
static int parts_without(const aq *q, const aq *main, int field)
{
    const sk_alg_filter *a = &q->filt, *m = &main->filt;
    uint8_t used[SK_ALG_MAX_PARTS] = {0};
    size_t need = 0;
    for (size_t j = 0; j < m->nparts; j++)
        need += m->field[j] != field;
    if (need != a->nparts)
        return 0;
    for (size_t i = 0; i < a->nparts; i++) {
        size_t j = 0;
        for (; j < m->nparts; j++)
            if (!used[j] && m->field[j] != field &&
                strcmp(a->expr.p + a->off[i], m->expr.p + m->off[j]) == 0)
                break;
        if (j == m->nparts)
            return 0;
        used[j] = 1;
    }
    return 1;
}

static int same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* 1 when q (hitsPerPage 0, one facet F) is InstantSearch's disjunctive query of F for main. */
static int is_disjunctive_of(sk_ctx *c, const aq *q, const aq *main)
{
    if (q->facet_search || main->facet_search || q->hpp != 0 || q->has_offset || q->nfacets != 1 ||
        main->into >= 0)
        return 0;
    const souk_field *f =
        souk_schema_field(souk_index_schema(c->w->st->ix), q->facets[0], strlen(q->facets[0]));
    if (!f || (main->filt.filters_fields[f->id / 64] & (1ull << (f->id % 64))))
        return 0; /* "filters" naming F: souk_find would drop its F-only parts too */
    int in_main = 0;
    for (size_t i = 0; i < main->nfacets; i++)
        in_main |= strcmp(main->facets[i], q->facets[0]) == 0;
    return in_main && strcmp(q->index, main->index) == 0 && q->qlen == main->qlen &&
           memcmp(q->query, main->query, q->qlen) == 0 && q->typo == main->typo &&
           q->prefix == main->prefix && q->max_values == main->max_values &&
           q->filt.filters.len == main->filt.filters.len &&
           (!q->filt.filters.len ||
            memcmp(q->filt.filters.p, main->filt.filters.p, q->filt.filters.len) == 0) &&
           same_str(q->sort, main->sort) && same_str(q->profile, main->profile) &&
           parts_without(q, main, f->id);
}

/* Answers queries qs[0, n) as {"results":[...]} (multi) or the one result. */
/* The first authenticatedUserToken, else userToken, of the queries that verifies as a Souk
 * user token of this server's ring (and region) becomes the request's user; any other value
 * leaves the request anonymous, never an error (the client sends its own anonymous tokens). */
static void verify_client_token(sk_ctx *c, const aq *qs, size_t n)
{
    const souk_keyring *ring = c->cfg->ev.token_ring;
    if (!ring)
        return;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < n; i++) {
            const char *t = pass == 0 ? qs[i].auth_token : qs[i].user_token;
            size_t len = t ? strlen(t) : 0;
            if (!len || len > SOUK_TOKEN_MAX)
                continue;
            char err[256];
            souk_token_claims cl;
            if (souk_token_verify(ring, t, len, sk_now_ms() / 1000, &cl, err, sizeof err))
                continue;
            if (c->cfg->ev.region[0] && strcmp(cl.region, c->cfg->ev.region) != 0)
                continue;
            c->user = cl;
            c->has_user = 1;
            return;
        }
}

static int answer(sk_ctx *c, aq *qs, size_t n, int multi)
{
    sk_worker *w = c->w;
    if (souk_searcher_refresh(w->searcher))
        return afail(c, 500, "cannot read the index");
    for (size_t j = 1; j < n; j++)
        for (size_t m = 0; m < j && qs[j].into < 0; m++)
            if (is_disjunctive_of(c, &qs[j], &qs[m]))
                qs[j].into = (int)m;
    run *runs = souk_calloc(n, sizeof *runs);
    aq **merged = souk_calloc(n ? n : 1, sizeof *merged);
    if (!runs || !merged) {
        souk_free(runs);
        souk_free(merged);
        return afail(c, 500, "out of memory");
    }
    /* The budgets of /v1/search: terms after rewriting and the request's time. */
    souk_budget bud = {.max_terms = c->cfg->limits.max_query_terms,
                       .deadline_ns = c->t0_ns + (uint64_t)c->cfg->limits.max_search_ms * 1000000u};
    uint64_t cut = atomic_load(&w->st->drain_cut_ns);
    if (cut && cut < bud.deadline_ns)
        bud.deadline_ns = cut;
    souk_searcher_set_budget(w->searcher, &bud);
    /* The user's affinities: only with Souk's signed user token (X-User-Token, verified by the
     * router, or the client's authenticatedUserToken or userToken verified here) and consent;
     * a userToken that is not a valid Souk token (Algolia's anonymous ones) names no user. */
    if (!c->has_user)
        verify_client_token(c, qs, n);
    souk_affinity *aff = NULL;
    if (c->has_user && w->st->recs &&
        souk_affinity_load(w->st->recs, w->searcher, c->user.user, c->user.user_len, sk_now_ms(),
                           &aff, NULL) != SOUK_OK)
        aff = NULL;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        if (qs[i].into >= 0)
            continue;
        size_t nm = 0;
        for (size_t j = i + 1; j < n; j++)
            if (qs[j].into == (int)i)
                merged[nm++] = &qs[j];
        rc = run_query(c, &qs[i], merged, nm, aff, &runs[i]);
    }
    souk_searcher_set_budget(w->searcher, NULL);
    if (!rc) {
        c->out->len = 0;
        if (multi)
            sk_buf_str(c->out, "{\"results\":[");
        for (size_t i = 0; i < n && !rc; i++) {
            if (i)
                sk_buf_str(c->out, ",");
            if (qs[i].into >= 0)
                write_merged(c, &qs[i], &runs[qs[i].into], (int)i, c->t0_ns);
            else
                rc = write_result(c, &qs[i], &runs[i], (int)i, c->t0_ns);
        }
        if (!rc && multi)
            sk_buf_str(c->out, "]}");
        if (!rc && sk_buf_str(c->out, "\n"))
            rc = afail(c, 500, "out of memory building the response");
    }
    /* With a user token: each query asking for hits joins the user's search history (with its
     * consent, as /v1/search's), unless it says analytics=false. */
    for (size_t i = 0; !rc && c->has_user && i < n; i++)
        if (qs[i].into < 0 && !qs[i].facet_search && runs[i].count > 0 && qs[i].analytics) {
            c->nhits = (long long)runs[i].total;
            sk_record_search(c, qs[i].query, qs[i].qlen);
        }
    for (size_t i = 0; i < n; i++)
        run_free(&runs[i]);
    souk_affinity_free(aff);
    souk_free(runs);
    souk_free(merged);
    return rc ? rc : 200;
}

/* The body as JSON (whatever its Content-Type: the browser client sends text/plain to avoid
 * a CORS preflight), strictly (souk/json_strict.h). NULL with the 400 answered. */
static cJSON *read_body(sk_ctx *c)
{
    const sk_request *r = c->req;
    const char *body = r->body.p ? r->body.p : "", *end = NULL;
    if (souk_utf8_check(body, r->body.len) != r->body.len) {
        afail(c, 400, "the body is not valid UTF-8");
        return NULL;
    }
    char why[160];
    cJSON *root = cJSON_ParseWithLengthOpts(body, r->body.len, &end, 0);
    int src = souk_json_strict(body, r->body.len, root, end, why, sizeof why);
    if (src) {
        cJSON_Delete(root);
        afail(c, src == SOUK_ENOMEM ? 500 : 400, "the body is refused: %s", why);
        return NULL;
    }
    if (!root) {
        const char *ep = cJSON_GetErrorPtr();
        afail(c, 400,
              "the body is not valid JSON (error near byte %ld; arrays and objects nest "
              "at most %d deep)",
              ep && ep >= body && ep <= body + r->body.len ? (long)(ep - body) : 0L,
              CJSON_NESTING_LIMIT);
        return NULL;
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        afail(c, 400, "the body must be a JSON object");
        return NULL;
    }
    return root;
}

/* The query string holds only the client's own parameters (x-algolia-*). */
static int check_query_string(sk_ctx *c)
{
    const char *s = c->query_string, *end = s ? s + c->query_len : NULL;
    while (s && s < end) {
        const char *amp = memchr(s, '&', (size_t)(end - s));
        const char *e = amp ? amp : end;
        if (e > s && ((size_t)(e - s) < 10 || strncasecmp(s, "x-algolia-", 10) != 0))
            return afail(c, 400,
                         "Unknown query-string parameter '%.*s' (search parameters go in "
                         "the body)",
                         (int)((e - s) < 40 ? (e - s) : 40), s);
        s = e + 1;
    }
    return 0;
}

int sk_ep_algolia_queries(sk_ctx *c)
{
    int rc = check_query_string(c);
    if (rc)
        return rc;
    cJSON *root = read_body(c);
    if (!root)
        return c->status;
    const cJSON *reqs = cJSON_GetObjectItemCaseSensitive(root, "requests");
    const cJSON *it;
    cJSON_ArrayForEach(it, root)
    {
        if (strcmp(it->string, "requests") == 0)
            continue;
        if (strcmp(it->string, "strategy") == 0 && cJSON_IsString(it) &&
            strcmp(it->valuestring, "none") == 0)
            continue;
        rc = afail(c, 400, "%.64s: only \"requests\" and \"strategy\": \"none\" are supported",
                   it->string);
        cJSON_Delete(root);
        return rc;
    }
    int n = cJSON_GetArraySize(reqs);
    if (!cJSON_IsArray(reqs) || n == 0 || n > ALG_MAX_REQUESTS) {
        cJSON_Delete(root);
        return afail(c, 400, "requests must be an array of 1 to %d queries", ALG_MAX_REQUESTS);
    }
    aq *qs = souk_calloc((size_t)n, sizeof *qs);
    if (!qs) {
        cJSON_Delete(root);
        return afail(c, 500, "out of memory");
    }
    int k = 0;
    cJSON_ArrayForEach(it, reqs)
    {
        aq_init(&qs[k]);
        if (!qs[k].own || (rc = read_request(c, &qs[k], it, NULL, NULL))) {
            if (!rc)
                rc = afail(c, 500, "out of memory");
            k++;
            break;
        }
        k++;
    }
    if (!rc)
        rc = answer(c, qs, (size_t)n, 1);
    for (int i = 0; i < k; i++)
        aq_free(&qs[i]);
    souk_free(qs);
    cJSON_Delete(root);
    return rc;
}

int sk_ep_algolia_index(sk_ctx *c)
{
    /* {index}/query, or {index}/facets/{facet}/query */
    const char *a = c->path_arg;
    size_t al = c->path_arg_len;
    const char *slash = memchr(a, '/', al);
    if (!slash)
        return afail(c, 404, "no endpoint here: POST /1/indexes/{index}/query");
    char index[160], facet[160];
    size_t il = (size_t)(slash - a);
    const char *rest = slash + 1;
    size_t rl = al - il - 1;
    facet[0] = 0;
    if (rl == 5 && memcmp(rest, "query", 5) == 0) {
    } else if (rl > 13 && memcmp(rest, "facets/", 7) == 0 &&
               memcmp(rest + rl - 6, "/query", 6) == 0 && rl - 13 < sizeof facet) {
        memcpy(facet, rest + 7, rl - 13);
        facet[rl - 13] = 0;
    } else {
        return afail(c, 404,
                     "no endpoint here: /1/indexes/{index}/query or "
                     "/1/indexes/{index}/facets/{facet}/query");
    }
    if (il == 0 || il >= sizeof index)
        return afail(c, 404, "Index does not exist");
    memcpy(index, a, il);
    index[il] = 0;
    int rc = check_query_string(c);
    if (rc)
        return rc;
    cJSON *root = read_body(c);
    if (!root)
        return c->status;
    aq q;
    aq_init(&q);
    rc = q.own ? read_request(c, &q, root, index, facet[0] ? facet : NULL)
               : afail(c, 500, "out of memory");
    if (!rc)
        rc = answer(c, &q, 1, 0);
    aq_free(&q);
    cJSON_Delete(root);
    return rc;
}
