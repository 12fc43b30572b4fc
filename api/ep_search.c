/* ep_search.c: GET and POST /v1/search.
 *
 * Parameters come from the query string (GET) or a JSON object body (POST), with the same
 * names and checks: every value is validated and an error names the parameter. An unknown
 * parameter is an error rather than ignored, so a misspelt "per_pgae" is noticed. The search
 * runs on the worker's searcher, refreshed first, so a commit acknowledged by the indexer is
 * visible to the very next request. Stored fields are copied into the response as stored (they
 * are JSON already). */
#include "api_int.h"
#include "souk/analysis.h"
#include "explain_tree.h"
#include "souk/browse.h"
#include "souk/document.h"
#include "souk/highlight.h"
#include "souk/json_strict.h"
#include "souk/lexicon.h"
#include "souk/profile.h"
#include "souk/recs.h"
#include "souk/souk.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>
#include <sodium.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Completions of the last word kept with prefix=true (the most frequent ones). */
#define SK_PREFIX_EXPANSIONS 50

typedef struct sparams {
    sk_buf *q;
    int has_q;
    uint32_t page, per_page;
    int explain;
    int prefix;
    int typo;
    int highlight;
    int suggest;
    char lang[16];
    int and_op;
    unsigned seen;
    char *filter, *facets, *sort, *boost, *cursor, *profile; /* owned copies */
    uint32_t facet_size;
    sk_cprofile *cp;  /* the profile version named by profile (a reference), or NULL */
    int draft;        /* cp is the request's profile_draft, not a stored version */
    sk_curation *cu;  /* its curation of this query, or NULL */
    uint64_t min_seq; /* read your writes: the catalog stream sequence to have applied (0: none) */
} sparams;

enum {
    P_Q,
    P_PAGE,
    P_PER_PAGE,
    P_EXPLAIN,
    P_LANG,
    P_OPERATOR,
    P_FILTER,
    P_FACETS,
    P_SORT,
    P_BOOST,
    P_FACET_SIZE,
    P_PREFIX,
    P_TYPO,
    P_HIGHLIGHT,
    P_CURSOR,
    P_PROFILE,
    P_SUGGEST,
    P_MIN_SEQ,
    P_COUNT
};
static const char *const names[] = {"q",          "page",    "per_page", "explain",   "lang",
                                    "operator",   "filter",  "facets",   "sort",      "boost",
                                    "facet_size", "prefix",  "typo",     "highlight", "cursor",
                                    "profile",    "suggest", "min_seq"};

_Static_assert(sizeof names / sizeof names[0] == P_COUNT, "a name for every parameter");

/* Parses a decimal integer in [min, max]. */
static int parse_uint(const char *s, size_t n, uint32_t min, uint32_t max, uint32_t *out)
{
    if (n == 0 || n > 9)
        return -1;
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (uint32_t)(s[i] - '0');
    }
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* Sets parameter `id` from a string (GET) or from a JSON value (POST, jv != NULL). */
static int set_param(sk_ctx *c, sparams *p, int id, const char *s, size_t n, const cJSON *jv)
{
    const sk_limits *lim = &c->cfg->limits;
    const char *name = names[id];
    if (p->seen & (1u << id))
        return sk_fail(c, 400, "invalid_parameter", name, "%s is given more than once", name);
    p->seen |= 1u << id;
    char *joined = NULL;
    if (jv && id == P_FACETS && cJSON_IsArray(jv)) {
        sk_buf j = {0};
        const cJSON *it;
        cJSON_ArrayForEach(it, jv)
        {
            if (!cJSON_IsString(it)) {
                sk_buf_free(&j);
                return sk_fail(c, 400, "invalid_parameter", name,
                               "facets must be a string or an array of strings");
            }
            if (j.len)
                sk_buf_add(&j, ",", 1);
            sk_buf_str(&j, it->valuestring);
        }
        joined = j.p ? j.p : souk_strndup("", 0);
        s = joined;
        n = j.len;
        jv = NULL;
    }
    char num[24];
    if (jv && id == P_MIN_SEQ) {
        if (!cJSON_IsNumber(jv) || jv->valuedouble < 0 || jv->valuedouble > 9007199254740992.0)
            return sk_fail(c, 400, "invalid_parameter", name,
                           "min_seq must be a stream sequence (a whole number)");
        snprintf(num, sizeof num, "%.0f", jv->valuedouble);
        s = num;
        n = strlen(num);
        jv = NULL;
    }
    if (jv) {
        if (id == P_PAGE || id == P_PER_PAGE || id == P_FACET_SIZE) {
            if (!cJSON_IsNumber(jv))
                return sk_fail(c, 400, "invalid_parameter", name, "%s must be a number", name);
        } else if (id == P_EXPLAIN || id == P_PREFIX || id == P_TYPO || id == P_SUGGEST ||
                   id == P_HIGHLIGHT) {
            /* A JSON boolean, as a frontend sends it; the GET spellings ("true", "1", ...) as
             * strings are accepted too, for clients written against the query string. */
            if (cJSON_IsBool(jv)) {
                s = cJSON_IsTrue(jv) ? "true" : "false";
                n = strlen(s);
            } else if (cJSON_IsString(jv)) {
                s = jv->valuestring;
                n = strlen(s);
            } else {
                return sk_fail(c, 400, "invalid_parameter", name, "%s must be true or false", name);
            }
        } else {
            if (!cJSON_IsString(jv))
                return sk_fail(c, 400, "invalid_parameter", name, "%s must be a string", name);
            s = jv->valuestring;
            n = strlen(s);
        }
    }
    uint32_t v;
    switch (id) {
    case P_MIN_SEQ:
        if (sk_min_seq_parse(s, n, &p->min_seq) != 0)
            return sk_fail(c, 400, "invalid_parameter", name,
                           "min_seq must be a stream sequence (a whole number)");
        return 0;
    case P_Q:
        if (n > lim->max_query_bytes)
            return sk_fail(c, 400, "invalid_parameter", name, "q is longer than %zu bytes",
                           lim->max_query_bytes);
        if (souk_utf8_check(s, n) != n)
            return sk_fail(c, 400, "invalid_parameter", name, "q is not valid UTF-8 (at byte %zu)",
                           souk_utf8_check(s, n));
        if (memchr(s, 0, n))
            return sk_fail(c, 400, "invalid_parameter", name, "q contains a NUL byte");
        p->q->len = 0;
        if (sk_buf_add(p->q, s, n))
            return sk_fail(c, 500, "internal", NULL, "out of memory");
        p->has_q = 1;
        return 0;
    case P_FILTER:
    case P_FACETS:
    case P_SORT:
    case P_CURSOR:
    case P_PROFILE:
    case P_BOOST: {
        if (n > 4096 || souk_utf8_check(s, n) != n || memchr(s, 0, n)) {
            souk_free(joined);
            return sk_fail(c, 400, "invalid_parameter", name,
                           "%s must be UTF-8 text of at most 4096 bytes", name);
        }
        char *copy = souk_strndup(s, n);
        souk_free(joined);
        if (!copy)
            return sk_fail(c, 500, "internal", NULL, "out of memory");
        char **slot = id == P_FILTER    ? &p->filter
                      : id == P_FACETS  ? &p->facets
                      : id == P_SORT    ? &p->sort
                      : id == P_CURSOR  ? &p->cursor
                      : id == P_PROFILE ? &p->profile
                                        : &p->boost;
        *slot = copy;
        return 0;
    }
    case P_FACET_SIZE:
    case P_PAGE:
    case P_PER_PAGE: {
        uint32_t max = id == P_PAGE         ? lim->max_depth
                       : id == P_FACET_SIZE ? 1000
                                            : lim->max_per_page;
        int bad;
        if (jv)
            bad = !(jv->valuedouble >= 1 && jv->valuedouble <= max &&
                    jv->valuedouble == (double)(uint32_t)jv->valuedouble);
        else
            bad = parse_uint(s, n, 1, max, &v) != 0;
        if (bad)
            return sk_fail(c, 400, "invalid_parameter", name, "%s must be an integer from 1 to %u",
                           name, max);
        if (jv)
            v = (uint32_t)jv->valuedouble;
        if (id == P_PAGE)
            p->page = v;
        else if (id == P_FACET_SIZE)
            p->facet_size = v;
        else
            p->per_page = v;
        return 0;
    }
    case P_EXPLAIN:
    case P_PREFIX:
    case P_TYPO:
    case P_SUGGEST:
    case P_HIGHLIGHT: {
        int *dst = id == P_EXPLAIN   ? &p->explain
                   : id == P_PREFIX  ? &p->prefix
                   : id == P_TYPO    ? &p->typo
                   : id == P_SUGGEST ? &p->suggest
                                     : &p->highlight;
        if ((n == 4 && memcmp(s, "true", 4) == 0) || (n == 1 && s[0] == '1'))
            *dst = 1;
        else if ((n == 5 && memcmp(s, "false", 5) == 0) || (n == 1 && s[0] == '0'))
            *dst = 0;
        else
            return sk_fail(c, 400, "invalid_parameter", name, "%s must be true or false", name);
        return 0;
    }
    case P_LANG:
        if (n == 0 || n >= sizeof p->lang || memchr(s, 0, n))
            return sk_fail(c, 400, "invalid_parameter", name, "lang must be a language code");
        memcpy(p->lang, s, n);
        p->lang[n] = 0;
        if (!souk_language_stemmer(p->lang))
            return sk_fail(c, 400, "invalid_parameter", name, "unsupported language");
        return 0;
    case P_OPERATOR:
        if (n == 2 && memcmp(s, "or", 2) == 0)
            p->and_op = 0;
        else if (n == 3 && memcmp(s, "and", 3) == 0)
            p->and_op = 1;
        else
            return sk_fail(c, 400, "invalid_parameter", name, "operator must be \"or\" or \"and\"");
        return 0;
    }
    return 0;
}

/* Finds a parameter name; returns its id, or fails the request. */
static int lookup(sk_ctx *c, const char *name, size_t n, int *id)
{
    for (int i = 0; i < P_COUNT; i++)
        if (strlen(names[i]) == n && memcmp(names[i], name, n) == 0) {
            *id = i;
            return 0;
        }
    char shown[48];
    snprintf(shown, sizeof shown, "%.*s", (int)(n < 40 ? n : 40), name);
    for (size_t i = 0; shown[i]; i++)
        if ((unsigned char)shown[i] < 0x20 || (unsigned char)shown[i] >= 0x7f)
            shown[i] = '?';
    return sk_fail(c, 400, "unknown_parameter", shown, "unknown parameter \"%s\"", shown);
}

static int parse_get(sk_ctx *c, sparams *p)
{
    if (!c->query_string)
        return 0;
    const char *s = c->query_string, *end = s + c->query_len;
    sk_buf name = {0}, val = {0};
    int rc = 0;
    while (s && s < end) {
        const char *amp = memchr(s, '&', (size_t)(end - s));
        const char *e = amp ? amp : end;
        const char *eq = memchr(s, '=', (size_t)(e - s));
        if (e > s) {
            const char *ne = eq ? eq : e;
            int id;
            if (sk_url_decode(s, (size_t)(ne - s), 1, &name) ||
                (eq && sk_url_decode(eq + 1, (size_t)(e - eq - 1), 1, &val))) {
                rc = sk_fail(c, 400, "bad_request", NULL,
                             "the query string has a malformed %%-escape");
                break;
            }
            if (!eq)
                val.len = 0;
            if ((rc = lookup(c, name.p, name.len, &id)) ||
                (rc = set_param(c, p, id, val.p ? val.p : "", val.len, NULL)))
                break;
        }
        s = e + 1;
    }
    sk_buf_free(&name);
    sk_buf_free(&val);
    return rc;
}

/* "profile_draft" (POST only, admin key): a profile document tried without storing it, as the
 * analyst page previews an edit; it ranks this request as a stored profile would. */
static int set_draft(sk_ctx *c, sparams *p, const cJSON *v)
{
    if (!c->is_admin)
        return sk_fail(c, 403, "forbidden", "profile_draft", "profile_draft needs the admin key");
    if (!cJSON_IsObject(v))
        return sk_fail(c, 400, "invalid_parameter", "profile_draft",
                       "profile_draft must be a profile document (a JSON object)");
    char *doc = cJSON_PrintUnformatted(v);
    if (!doc)
        return sk_fail(c, 500, "internal", NULL, "out of memory");
    int rc = sk_profile_draft(c, doc, strlen(doc), &p->cp);
    cJSON_free(doc);
    if (!rc)
        p->draft = 1;
    return rc;
}

static int parse_post(sk_ctx *c, sparams *p)
{
    const sk_request *r = c->req;
    if (r->has_content_type && !r->json_body)
        return sk_fail(c, 415, "unsupported_media_type", NULL,
                       "the body must be JSON (Content-Type: application/json)");
    if (c->query_len)
        return sk_fail(c, 400, "bad_request", NULL,
                       "POST takes its parameters in the JSON body, not the query string");
    if (souk_utf8_check(r->body.p ? r->body.p : "", r->body.len) != r->body.len)
        return sk_fail(c, 400, "bad_request", NULL, "the body is not valid UTF-8");
    /* What cJSON accepts but would change the request's meaning (a repeated key, a NUL that
     * cuts a filter short, a BOM, trailing data) is refused: souk/json_strict.h. */
    const char *body = r->body.p ? r->body.p : "", *end = NULL;
    char why[160];
    cJSON *root = cJSON_ParseWithLengthOpts(body, r->body.len, &end, 0);
    int src = souk_json_strict(body, r->body.len, root, end, why, sizeof why);
    if (src) {
        cJSON_Delete(root);
        if (src == SOUK_ENOMEM)
            return sk_fail(c, 500, "internal", NULL, "out of memory");
        return sk_fail(c, 400, "invalid_json", NULL, "the body is refused: %s", why);
    }
    if (!root) {
        const char *ep = cJSON_GetErrorPtr();
        long at = ep && r->body.p && ep >= r->body.p ? (long)(ep - r->body.p) : 0;
        return sk_fail(c, 400, "bad_request", NULL,
                       "the body is not valid JSON (error near byte %ld)", at);
    }
    int rc = 0;
    if (!cJSON_IsObject(root)) {
        rc = sk_fail(c, 400, "bad_request", NULL, "the body must be a JSON object");
    } else {
        const cJSON *it;
        cJSON_ArrayForEach(it, root)
        {
            int id;
            if (strcmp(it->string, "profile_draft") == 0) {
                if ((rc = set_draft(c, p, it)) != 0)
                    break;
                continue;
            }
            if ((rc = lookup(c, it->string, strlen(it->string), &id)) ||
                (rc = set_param(c, p, id, NULL, 0, it)))
                break;
        }
    }
    cJSON_Delete(root);
    return rc;
}

typedef struct explain_out {
    sk_buf *b;
    int first;
    const souk_query *q; /* the query as parsed, before synonyms, typos and codes */
    sk_xtree *tree;      /* the same parts as a tree (explain_tree.h) */
} explain_out;

/* What a scored term is to the query the user typed: "term" (one of its words), "prefix" (a
 * completion of a wildcard or of the partial last word), "typo" (a candidate one or two edits
 * away, weighted down), "code" (a part number's joined code) or "synonym" (added by a synonym
 * group of the configuration). t is the term without any profile field prefix, factor the
 * query's weight on it (a profile's field weight excluded). */
static const char *term_kind(const souk_query *q, const char *t, size_t len, double factor)
{
    if (factor != 1.0)
        return "typo";
    if (len > 6 && memcmp(t, "XCODE:", 6) == 0)
        return "code";
    for (size_t i = 0; q && i < q->nnodes; i++) {
        const souk_qnode *n = &q->nodes[i];
        if (!n->term)
            continue;
        if (n->op == SOUK_QOP_TERM && n->term_len == len && memcmp(n->term, t, len) == 0)
            return "term";
        if (n->op == SOUK_QOP_WILDCARD && n->term_len <= len &&
            memcmp(n->term, t, n->term_len) == 0)
            return "prefix";
    }
    return "synonym";
}

/* One part, into the flat list ("explain") and the tree ("explanation"). */
static void on_part(void *ctx, const souk_explain_part *p)
{
    explain_out *e = ctx;
    size_t had = e->tree->n;
    sk_xtree_add(e->tree, p);
    const sk_xpart *x = e->tree->n > had ? &e->tree->v[e->tree->n - 1] : NULL;
    sk_buf_str(e->b, e->first ? "{" : ",{");
    e->first = 0;
    if (p->kind == SOUK_EXPLAIN_PROXIMITY) {
        sk_buf_printf(e->b, "\"proximity\":%.17g,\"weight\":%.17g,\"score\":%.17g}", p->value,
                      p->weight, p->part);
        return;
    }
    if (p->kind == SOUK_EXPLAIN_BOOST) {
        const char *fname = e->tree->sc->fields[p->field].name;
        sk_buf_str(e->b, "\"boost\":");
        sk_buf_json_str(e->b, fname, strlen(fname));
        sk_buf_printf(e->b, ",\"source\":\"profile\",\"fn\":\"%s\"", sk_boost_fn_name(p->fn));
        if (isnan(p->value))
            sk_buf_str(e->b, ",\"value\":null");
        else
            sk_buf_printf(e->b, ",\"value\":%.17g", p->value);
        sk_buf_printf(e->b, ",\"weight\":%.17g,\"score\":%.17g}", p->weight, p->part);
        return;
    }
    sk_buf_str(e->b, "\"term\":");
    sk_buf_json_str(e->b, p->term, p->len);
    if (p->field >= 0) {
        const char *fname = e->tree->sc->fields[p->field].name;
        sk_buf_str(e->b, ",\"field\":");
        sk_buf_json_str(e->b, fname, strlen(fname));
    }
    sk_buf_printf(e->b,
                  ",\"kind\":\"%s\",\"wdf\":%u,\"doclen\":%u,\"termweight\":%.17g,"
                  "\"factor\":%.17g,\"score\":%.17g}",
                  x ? x->kind : term_kind(e->q, p->term, p->len, p->factor), p->wdf, p->doclen,
                  p->termweight, p->factor, p->part);
}

/* Field id of name[0..n) in the index's schema, or -1. */
static int field_id(sk_ctx *c, const char *name, size_t n)
{
    const souk_field *f = souk_schema_field(souk_index_schema(c->w->st->ix), name, n);
    return f ? f->id : -1;
}

/* "section,tags,price:0:10:100" -> facet specs. */
static int parse_facets(sk_ctx *c, const char *s, uint32_t size, souk_find_opts *o)
{
    const char *p = s;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        const char *colon = memchr(p, ':', n);
        size_t fl = colon ? (size_t)(colon - p) : n;
        if (o->nfacets == c->cfg->limits.max_facets || o->nfacets == SOUK_MAX_FACETS)
            return sk_fail(c, 400, "invalid_parameter", "facets", "at most %u facets",
                           c->cfg->limits.max_facets < SOUK_MAX_FACETS ? c->cfg->limits.max_facets
                                                                       : SOUK_MAX_FACETS);
        souk_facet_spec *sp = &o->facets[o->nfacets];
        memset(sp, 0, sizeof *sp);
        sp->field = field_id(c, p, fl);
        sp->max_values = size;
        if (sp->field < 0)
            return sk_fail(c, 400, "invalid_parameter", "facets", "unknown facet field '%.*s'",
                           (int)(fl < 64 ? fl : 64), p);
        const char *q = colon;
        while (q && q < p + n) {
            char *end;
            if (sp->nedges == SOUK_MAX_RANGES + 1)
                return sk_fail(c, 400, "invalid_parameter", "facets",
                               "a range facet takes at most %d edges", SOUK_MAX_RANGES + 1);
            double v = strtod(q + 1, &end);
            if (end == q + 1 || !isfinite(v) || (end < p + n && *end != ':'))
                return sk_fail(c, 400, "invalid_parameter", "facets",
                               "range edges are numbers separated by ':'");
            sp->edges[sp->nedges++] = v;
            q = end < p + n ? end : NULL;
        }
        o->nfacets++;
        p += n;
        if (*p == ',')
            p++;
    }
    return 0;
}

/* "price:asc,popularity:desc,_score" -> sort keys. */
static int parse_sort(sk_ctx *c, const char *s, souk_find_opts *o)
{
    const char *p = s;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        const char *colon = memchr(p, ':', n);
        size_t fl = colon ? (size_t)(colon - p) : n;
        if (o->nsort == SOUK_MAX_SORT)
            return sk_fail(c, 400, "invalid_parameter", "sort", "at most %d sort keys",
                           SOUK_MAX_SORT);
        souk_sort_key *k = &o->sort[o->nsort];
        if (fl == 6 && memcmp(p, "_score", 6) == 0) {
            k->field = -1;
            k->desc = 1;
        } else {
            k->field = field_id(c, p, fl);
            k->desc = 0;
            if (k->field < 0)
                return sk_fail(c, 400, "invalid_parameter", "sort", "unknown sort field '%.*s'",
                               (int)(fl < 64 ? fl : 64), p);
        }
        if (colon) {
            size_t dl = n - fl - 1;
            if (dl == 3 && memcmp(colon + 1, "asc", 3) == 0)
                k->desc = 0;
            else if (dl == 4 && memcmp(colon + 1, "desc", 4) == 0)
                k->desc = 1;
            else
                return sk_fail(c, 400, "invalid_parameter", "sort",
                               "a sort direction is asc or desc");
        }
        o->nsort++;
        p += n;
        if (*p == ',')
            p++;
    }
    return 0;
}

/* "popularity:0.5" -> boost. */
static int parse_boost(sk_ctx *c, const char *s, souk_find_opts *o)
{
    const char *colon = strchr(s, ':');
    char *end;
    double w = colon ? strtod(colon + 1, &end) : 0;
    if (!colon || end == colon + 1 || *end || !isfinite(w) || fabs(w) > 1000)
        return sk_fail(c, 400, "invalid_parameter", "boost",
                       "boost is field:weight with a weight from -1000 to 1000");
    o->boost_field = field_id(c, s, (size_t)(colon - s));
    o->boost_weight = w;
    if (o->boost_field < 0)
        return sk_fail(c, 400, "invalid_parameter", "boost", "unknown boost field");
    return 0;
}

static void free_params(sparams *p)
{
    souk_free(p->filter);
    souk_free(p->facets);
    souk_free(p->sort);
    souk_free(p->boost);
    souk_free(p->cursor);
    souk_free(p->profile);
    sk_cprofile_unref(p->cp);
}

/* Resolves profile=name or name@version (profiles.c) and applies its request defaults to the
 * parameters the request did not set; its synonyms and stop words (when it has any) replace
 * the configuration's for this request. */
static int apply_profile(sk_ctx *c, sparams *p)
{
    if (p->draft && (p->profile || p->cursor))
        return sk_fail(c, 400, "invalid_parameter", "profile_draft",
                       "profile_draft goes without profile and without cursor");
    int rc = p->draft ? 0 : sk_profile_resolve(c, p->profile, &p->cp);
    if (rc)
        return rc;
    const souk_profile *pr = p->cp->p;
    if (p->cp->lex)
        souk_searcher_set_lexicon(c->w->searcher, p->cp->lex); /* reset by the router */
    if (pr->boost && !(p->seen & (1u << P_BOOST)) &&
        !(p->boost = souk_strndup(pr->boost, strlen(pr->boost))))
        return sk_fail(c, 500, "internal", NULL, "out of memory");
    if (pr->sort && !(p->seen & (1u << P_SORT)) &&
        !(p->sort = souk_strndup(pr->sort, strlen(pr->sort))))
        return sk_fail(c, 500, "internal", NULL, "out of memory");
    if (pr->typo >= 0 && !(p->seen & (1u << P_TYPO)))
        p->typo = pr->typo;
    if (pr->prefix >= 0 && !(p->seen & (1u << P_PREFIX)))
        p->prefix = pr->prefix;
    if (pr->and_op >= 0 && !(p->seen & (1u << P_OPERATOR)))
        p->and_op = pr->and_op;
    return 0;
}

/* Cursors: "c2.<docid>.<score>.<sort values>...<tag>" with the numbers as hex bit patterns, so
 * a position round-trips exactly, and keyword or text sort values as 's' and their sort key's
 * bytes in hex ('n': no value; write_cursor), and a tag binding the position to the search it came
 * from: a keyed BLAKE2b-128 (libsodium's crypto_generichash) of the position and of every parameter
 * that decides the order (q, filter, sort, boost, operator, lang, typo, prefix). A cursor used
 * with another search, or edited, is refused. The key is derived from the config's
 * "cursor_secret" when it has one (servers sharing it accept each other's cursors, across
 * restarts); else it is random per process, and a restart or another server refuses the
 * cursor (docs/api.md). Opaque to clients. */
#define CURSOR_TAG_BYTES 16

static uint8_t process_cursor_key[32];
static pthread_once_t process_cursor_once = PTHREAD_ONCE_INIT;

static void make_process_cursor_key(void)
{
    randombytes_buf(process_cursor_key, sizeof process_cursor_key);
}

static void tag_part(crypto_generichash_state *st, const char *p, size_t n)
{
    uint8_t len[4] = {(uint8_t)(n >> 24), (uint8_t)(n >> 16), (uint8_t)(n >> 8), (uint8_t)n};
    crypto_generichash_update(st, len, sizeof len);
    crypto_generichash_update(st, (const uint8_t *)p, n);
}

static void tag_str(crypto_generichash_state *st, const char *s)
{
    tag_part(st, s ? "+" : "-", 1);
    tag_part(st, s ? s : "", s ? strlen(s) : 0);
}

static void cursor_tag(const sk_ctx *c, const sparams *p, const char *pos, size_t plen,
                       uint8_t tag[CURSOR_TAG_BYTES])
{
    const uint8_t *key = c->cfg->cursor_key;
    if (!c->cfg->has_cursor_key) {
        pthread_once(&process_cursor_once, make_process_cursor_key);
        key = process_cursor_key;
    }
    crypto_generichash_state st;
    crypto_generichash_init(&st, key, 32, CURSOR_TAG_BYTES);
    tag_part(&st, pos, plen);
    tag_part(&st, p->q->p ? p->q->p : "", p->q->len);
    tag_str(&st, p->filter);
    tag_str(&st, p->sort);
    tag_str(&st, p->boost);
    tag_str(&st, p->lang);
    if (p->cp) { /* the profile version: a new version is another order */
        char prof[96];
        snprintf(prof, sizeof prof, "%s@%u", p->cp->name, p->cp->version);
        tag_str(&st, prof);
    }
    char flags[3] = {(char)('0' + p->and_op), (char)('0' + p->typo), (char)('0' + p->prefix)};
    tag_part(&st, flags, sizeof flags);
    crypto_generichash_final(&st, tag, CURSOR_TAG_BYTES);
}

/* 1 when sort key k of o is a keyword or text field: its cursor value is a byte string. */
static int string_key(const sk_ctx *c, const souk_find_opts *o, size_t k)
{
    int f = o->sort[k].field;
    if (f < 0)
        return 0;
    int t = souk_index_schema(c->w->st->ix)->fields[f].type;
    return t == SOUK_FIELD_KEYWORD || t == SOUK_FIELD_TEXT;
}

/* The position: "c2.<docid>.<score>" then per sort key ".<16 hex digits>" (a number),
 * ".s<hex bytes>" (a keyword's value or a text field's collation key) or ".n" (no value). */
#define CURSOR_POS_MAX (32 + 17 * (SOUK_MAX_SORT + 1) + SOUK_MAX_SORT * (2 + 2 * SOUK_SORT_KEY_MAX))

static void write_cursor(const sk_ctx *c, const sparams *p, const souk_find_after *a,
                         const souk_find_opts *o)
{
    char pos[CURSOR_POS_MAX];
    uint64_t bits;
    memcpy(&bits, &a->score, 8);
    int n = snprintf(pos, sizeof pos, "c2.%x.%016llx", a->docid, (unsigned long long)bits);
    for (size_t i = 0; o && i < o->nsort; i++) {
        if (string_key(c, o, i)) {
            if (a->klen[i] == SOUK_SORT_KEY_ABSENT) {
                n += snprintf(pos + n, sizeof pos - (size_t)n, ".n");
            } else {
                n += snprintf(pos + n, sizeof pos - (size_t)n, ".s");
                sodium_bin2hex(pos + n, sizeof pos - (size_t)n, a->key[i], a->klen[i]);
                n += (int)(2 * a->klen[i]);
            }
            continue;
        }
        memcpy(&bits, &a->vals[i], 8);
        n += snprintf(pos + n, sizeof pos - (size_t)n, ".%016llx", (unsigned long long)bits);
    }
    uint8_t tag[CURSOR_TAG_BYTES];
    char hex[2 * CURSOR_TAG_BYTES + 1];
    cursor_tag(c, p, pos, (size_t)n, tag);
    sodium_bin2hex(hex, sizeof hex, tag, sizeof tag);
    sk_buf_printf(c->out, ",\"next_cursor\":\"%s.%s\"", pos, hex);
}

/* Returns 0, CURSOR_MALFORMED (not a cursor) or CURSOR_MISMATCH (a cursor of another search,
 * another sort order, or another cursor key). */
enum { CURSOR_MALFORMED = -1, CURSOR_MISMATCH = -2 };

static int read_cursor(const sk_ctx *c, const sparams *p, const souk_find_opts *o,
                       souk_find_after *a)
{
    const char *s = p->cursor;
    memset(a, 0, sizeof *a);
    size_t len = strlen(s);
    if (strncmp(s, "c2.", 3) != 0 || len < 3 + 2 * CURSOR_TAG_BYTES + 1 ||
        len > CURSOR_POS_MAX + 2 * CURSOR_TAG_BYTES || s[len - 2 * CURSOR_TAG_BYTES - 1] != '.')
        return CURSOR_MALFORMED;
    size_t plen = len - 2 * CURSOR_TAG_BYTES - 1;
    uint8_t want[CURSOR_TAG_BYTES], got[CURSOR_TAG_BYTES];
    size_t bl = 0;
    if (strspn(s + plen + 1, "0123456789abcdef") != 2 * CURSOR_TAG_BYTES ||
        sodium_hex2bin(got, sizeof got, s + plen + 1, 2 * CURSOR_TAG_BYTES, NULL, &bl, NULL) ||
        bl != sizeof got)
        return CURSOR_MALFORMED;
    char *end;
    unsigned long d = strtoul(s + 3, &end, 16);
    if (*end != '.' || d > UINT32_MAX)
        return CURSOR_MALFORMED;
    a->docid = (uint32_t)d;
    size_t nvals = 0;
    int kinds_ok = 1; /* each value has the kind of its sort key */
    while (end < s + plen) {
        const char *q = end + 1;
        if (end[0] != '.' || nvals > SOUK_MAX_SORT)
            return CURSOR_MALFORMED;
        int str = nvals > 0 && nvals <= o->nsort && string_key(c, o, nvals - 1);
        if (*q == 'n' || *q == 's') { /* not hex digits: a number starts with neither */
            if (nvals == 0)
                return CURSOR_MALFORMED;
            size_t hl = strspn(q + 1, "0123456789abcdef");
            if (*q == 'n' ? hl != 0 : hl % 2 || hl > 2 * SOUK_SORT_KEY_MAX)
                return CURSOR_MALFORMED;
            end = (char *)q + 1 + hl;
            if (end > s + plen)
                return CURSOR_MALFORMED;
            if (!str) {
                kinds_ok = 0;
            } else if (*q == 'n') {
                a->klen[nvals - 1] = SOUK_SORT_KEY_ABSENT;
            } else {
                sodium_hex2bin(a->key[nvals - 1], SOUK_SORT_KEY_MAX, q + 1, hl, NULL, &bl, NULL);
                a->klen[nvals - 1] = (uint32_t)bl;
            }
            nvals++;
            continue;
        }
        if (strspn(q, "0123456789abcdef") < 16)
            return CURSOR_MALFORMED;
        unsigned long long bits = strtoull(q, &end, 16);
        if (end != q + 16)
            return CURSOR_MALFORMED;
        double v;
        memcpy(&v, &bits, 8);
        if (nvals == 0)
            a->score = v;
        else
            a->vals[nvals - 1] = v;
        if (str)
            kinds_ok = 0;
        nvals++;
    }
    if (end != s + plen || nvals == 0)
        return CURSOR_MALFORMED;
    cursor_tag(c, p, s, plen, want);
    if (sodium_memcmp(want, got, sizeof want) != 0 || nvals != o->nsort + 1 || !kinds_ok)
        return CURSOR_MISMATCH;
    return 0;
}

/* Texts longer than this many bytes get a snippet instead of the whole text. */
#define SK_SNIPPET_OVER 300
#define SK_SNIPPET_WORDS 30

/* ,"highlight":{"field":"marked HTML",...} for the stored text fields of one hit. */
static void write_highlight(sk_ctx *c, souk_highlighter *h, const char *json, size_t jl)
{
    const souk_schema *sc = souk_index_schema(c->w->st->ix);
    cJSON *doc = cJSON_ParseWithLength(json, jl);
    sk_buf *b = c->out;
    sk_buf_str(b, ",\"highlight\":{");
    int first = 1;
    for (size_t f = 0; doc && f < sc->nfields; f++) {
        const souk_field *fd = &sc->fields[f];
        if (fd->type != SOUK_FIELD_TEXT || !(fd->flags & SOUK_F_STORED))
            continue;
        const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, fd->name));
        if (!v)
            continue;
        char *res;
        size_t rl, nm;
        size_t vl = strlen(v);
        if (souk_highlight(h, v, vl, vl > SK_SNIPPET_OVER ? SK_SNIPPET_WORDS : 0, &res, &rl, &nm))
            continue;
        sk_buf_str(b, first ? "" : ",");
        first = 0;
        sk_buf_json_str(b, fd->name, strlen(fd->name));
        sk_buf_str(b, ":");
        sk_buf_json_str(b, res, rl);
        souk_free(res);
    }
    sk_buf_str(b, "}");
    cJSON_Delete(doc);
}

/* A search's stop test (souk_budget.should_stop), called by the engine every couple of
 * milliseconds of matching. The search stops when the drain cuts searches (the drain then ends
 * on time) or when its client has gone: the request is answered on a thread that cannot see
 * the connection close while it searches, so the socket is polled here, without blocking; a
 * hang-up (close, or shutdown of the client's sending side) or an error ends the work that
 * nobody will read. */
typedef struct stop_state {
    sk_ctx *c;
    int gone;             /* the client went away (else the drain stopped it) */
    uint64_t deadline_ns; /* the request's time budget ends (sk_now_ns) */
} stop_state;

static int should_stop(void *ctx)
{
    stop_state *ss = ctx;
    sk_worker *w = ss->c->w;
    uint64_t cut = atomic_load(&w->st->drain_cut_ns);
    if (cut && sk_now_ns() >= cut)
        return 1;
    if (w->conn_fd < 0)
        return 0;
    struct pollfd pfd = {.fd = w->conn_fd, .events = POLLRDHUP};
    if (poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
        ss->gone = 1;
        return 1;
    }
    return 0;
}

/* Counts a search that stopped early (stopped: SOUK_STOP_*) in the worker's metrics. */
static void count_stopped(sk_ctx *c, const stop_state *ss, int stopped)
{
    if (!stopped)
        return;
    if (ss->gone)
        atomic_fetch_add_explicit(&c->w->m->searches_cancelled, 1, memory_order_relaxed);
    else
        atomic_fetch_add_explicit(&c->w->m->searches_timed_out, 1, memory_order_relaxed);
}

/* ,"did_you_mean":"..." for a query that found nothing, when the spelling table has a
 * suggestion. */
static void write_suggestion(sk_ctx *c, const souk_query *pq)
{
    char *sugg = NULL;
    if (souk_suggest(c->w->searcher, pq, &sugg) == 0 && sugg) {
        sk_buf_str(c->out, ",\"did_you_mean\":");
        sk_buf_json_str(c->out, sugg, strlen(sugg));
    }
    souk_free(sugg);
}

/* The personal component's weight: the profile's "personalization", else the default. */
static double personal_weight(const sparams *p)
{
    return p->cp ? p->cp->p->rank.personal_weight : SOUK_PERSONAL_WEIGHT;
}

/* Personalized search (docs/ranking.md "personal"): with a user token and consent, the relevance
 * path ranks the best PERSONAL_WINDOW text hits by text + personal, where personal = weight *
 * affinity(d) * the best text score of the window (affinity in [0, 1], so the boost is bounded
 * by weight times the top score). */
#define PERSONAL_WINDOW 20

typedef struct phit {
    souk_hit h;
    double text, part, aff;
} phit;

/* Sorts the window (at most PERSONAL_WINDOW hits) by score descending, then docid: an insertion
 * sort, cheaper than qsort's indirect merge sort for so few records. */
static void sort_phits(phit *ph, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        phit x = ph[i];
        size_t j = i;
        for (; j > 0 && (ph[j - 1].h.score < x.h.score ||
                         (ph[j - 1].h.score == x.h.score && ph[j - 1].h.docid > x.h.docid));
             j--)
            ph[j] = ph[j - 1];
        ph[j] = x;
    }
}

/* ,"explain":[...] for one hit of the storefront path: every scored term's part (typo
 * candidates and synonyms are terms of the rewritten query, with their weight factor already
 * in their part), the profile's proximity and boosts, then the request's business boost and the
 * personal component (pers: NULL when none), so the parts add up to the hit's score; then the
 * same as a tree (,"explanation":{...}). pq is NULL when browsing (score: the boosts alone). */
static void write_find_explain(sk_ctx *c, const souk_query *pq, const souk_find_opts *o,
                               const souk_find_result *res, uint32_t docid, double score,
                               const phit *pers, double top, double pw)
{
    sk_buf *b = c->out;
    sk_xtree tree;
    const souk_schema *sc = souk_index_schema(c->w->st->ix);
    sk_xtree_init(&tree, sc, pq, term_kind);
    explain_out e = {b, 1, pq, &tree};
    sk_buf_str(b, ",\"explain\":[");
    if (pq || o->search.profile) {
        double total;
        souk_search_explain_parts(c->w->searcher, pq ? pq : sk_browse_query(), &o->search, docid,
                                  on_part, &e, &total);
    }
    if (o->boost_field >= 0) {
        double value;
        double part = souk_find_boost(res, o, docid, &value);
        const char *fname = sc->fields[o->boost_field].name;
        sk_buf_str(b, e.first ? "{\"boost\":" : ",{\"boost\":");
        e.first = 0;
        sk_buf_json_str(b, fname, strlen(fname));
        if (isnan(value))
            sk_buf_str(b, ",\"value\":null");
        else
            sk_buf_printf(b, ",\"value\":%.17g", value);
        sk_buf_printf(b, ",\"weight\":%.17g,\"score\":%.17g}", o->boost_weight, part);
        tree.has_request_boost = 1;
        tree.rb_field = fname;
        tree.rb_value = value;
        tree.rb_weight = o->boost_weight;
        tree.rb_score = part;
    }
    if (pers) { /* the personal component, its own part */
        sk_buf_printf(b,
                      "%s{\"personal\":\"affinity\",\"affinity\":%.17g,"
                      "\"weight\":%.17g,\"score\":%.17g}",
                      e.first ? "" : ",", pers->aff, pw, pers->part);
        tree.has_personal = 1;
        tree.pers_affinity = pers->aff;
        tree.pers_weight = pw;
        tree.pers_top = top;
        tree.pers_score = pers->part;
    }
    sk_buf_str(b, "]");
    sk_xtree_write(b, &tree, score);
    sk_xtree_free(&tree);
}

/* Puts the pins of cu (with pins) among (*hits)[0, *n) (the matches without the hidden and
 * pinned items) and cuts them to k: *hits becomes a new souk_malloc'd array (the old one is
 * freed when owned, else copied into: it must then have room for k), *n the curated count, *src
 * (souk_malloc'd) the index each came from (-1: a pin), and *ph, when set, follows the same
 * order (a pin has no personal part). */
static int curate_hits(sk_ctx *c, const sk_curation *cu, int pins, souk_hit **hits, int owned,
                       size_t *n, size_t k, phit **ph, int32_t **src)
{
    souk_hit *out = souk_malloc((k ? k : 1) * sizeof *out);
    int32_t *from = souk_malloc((k ? k : 1) * sizeof *from);
    phit *nph = *ph ? souk_calloc(k ? k : 1, sizeof *nph) : NULL;
    if (!out || !from || (*ph && !nph)) {
        souk_free(out);
        souk_free(from);
        souk_free(nph);
        return sk_fail(c, 500, "internal", NULL, "out of memory");
    }
    size_t m = sk_curation_place(cu, pins, *hits, *n, out, from, k);
    for (size_t i = 0; nph && i < m; i++) {
        if (from[i] >= 0)
            nph[i] = (*ph)[from[i]];
        else /* a pin: no personal part; the window's first text score, which explain shows */
            nph[i].text = *n ? (*ph)[0].text : 0;
        nph[i].h = out[i];
    }
    if (owned) {
        souk_free(*hits);
        *hits = out;
    } else {
        memcpy(*hits, out, m * sizeof *out);
        souk_free(out);
    }
    *n = m;
    if (nph) {
        souk_free(*ph);
        *ph = nph;
    }
    *src = from;
    return 0;
}

/* The storefront path: filter, facets, sort or boost over the whole match set. */
static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static int run_find(sk_ctx *c, sparams *p, const souk_query *pq, const souk_search_opts *so,
                    const stop_state *ss, souk_affinity *aff)
{
    souk_find_opts o;
    memset(&o, 0, sizeof o);
    o.search = *so;
    o.offset = (p->page - 1) * p->per_page;
    o.limit = p->per_page;
    /* Personal (docs/ranking.md): the window from the top, re-ranked, then the page. */
    uint32_t first = o.offset;
    /* Curated: the order from the top (pins have positions in it), with room for the items
     * taken out; a cursor page takes out the same items but places no pin. */
    const sk_curation *cu = p->cu;
    uint32_t extra = cu ? (uint32_t)(cu->nhide + cu->npins) : 0;
    if (cu) {
        o.offset = 0;
        o.limit = first + p->per_page + extra;
    }
    if (aff) {
        o.offset = 0;
        o.limit = PERSONAL_WINDOW + extra;
    }
    o.boost_field = -1;
    char err[512];
    souk_filter *f = NULL;
    const souk_schema *schema = souk_index_schema(c->w->st->ix);
    if (p->filter && souk_filter_parse(schema, p->filter, strlen(p->filter), &f, err, sizeof err))
        return sk_fail(c, 400, "invalid_parameter", "filter", "%s", err);
    o.filter = f;
    /* The hidden items are left out of the total and the facet counts too, as if they did not
     * match. */
    uint32_t hide[sizeof cu->hide / sizeof cu->hide[0]];
    if (cu && cu->nhide) {
        memcpy(hide, cu->hide, cu->nhide * sizeof *hide);
        if (cu->nhide > 1)
            qsort(hide, cu->nhide, sizeof *hide, cmp_u32);
        o.exclude = hide;
        o.nexclude = cu->nhide;
    }
    int rc = 0;
    if (p->cu && (rc = sk_curation_filter(c, p->cu, f))) {
        souk_filter_free(f);
        return rc;
    }
    if ((p->facets && (rc = parse_facets(c, p->facets, p->facet_size ? p->facet_size : 10, &o))) ||
        (p->sort && (rc = parse_sort(c, p->sort, &o))) ||
        (p->boost && (rc = parse_boost(c, p->boost, &o)))) {
        souk_filter_free(f);
        return rc;
    }
    souk_find_after after;
    if (p->cursor) {
        int cr = p->page != 1 ? CURSOR_MALFORMED : read_cursor(c, p, &o, &after);
        if (cr) {
            souk_filter_free(f);
            if (cr == CURSOR_MISMATCH)
                return sk_fail(c, 400, "cursor_mismatch", "cursor",
                               "the cursor belongs to another search (q, filter, sort, boost, "
                               "operator, lang, typo or prefix differ) or to another server");
            return sk_fail(c, 400, "invalid_parameter", "cursor",
                           p->page != 1 ? "cursor and page cannot be combined"
                                        : "not a cursor of this search");
        }
        o.after = &after;
        o.offset = 0;
        if (cu) {
            o.limit = p->per_page + extra;
            first = 0;
        }
    }
    souk_find_result res;
    rc = souk_find(c->w->searcher, pq, &o, &res, err, sizeof err);
    souk_filter_free(f);
    if (rc == SOUK_EINVAL)
        return sk_fail(c, 400, "invalid_parameter", p->facets ? "facets" : "sort", "%s", err);
    if (rc == SOUK_EQUERY)
        return sk_fail(c, 400, "query_syntax", "q", "%s", err);
    if (rc == SOUK_ETOOBIG)
        return sk_fail(c, 400, "query_too_complex", "q", "%s", err);
    if (rc)
        return sk_fail(c, 500, "internal", NULL, "%s", err);
    count_stopped(c, ss, res.stopped);
    c->nhits = (long long)res.total;
    if (cu)
        sk_curation_drop(p->cu, res.hits, &res.nhits);
    phit *ph = NULL;
    double ph_top = 0;
    if (aff) {
        size_t n = res.nhits;
        ph = souk_malloc((n ? n : 1) * sizeof *ph);
        if (!ph) {
            souk_find_result_free(&res);
            return sk_fail(c, 500, "internal", NULL, "out of memory");
        }
        double top = n ? res.hits[0].score : 0;
        ph_top = top;
        for (size_t i = 0; i < n; i++) {
            ph[i].h = res.hits[i];
            ph[i].text = res.hits[i].score;
            ph[i].aff = souk_affinity_of(aff, c->w->searcher, res.hits[i].docid);
            ph[i].part = personal_weight(p) * ph[i].aff * (top > 0 ? top : 0);
            ph[i].h.score = ph[i].text + ph[i].part;
        }
        sort_phits(ph, n);
        /* The page of the re-ranked window. */
        size_t from = first < n ? first : n, to = first + p->per_page < n ? first + p->per_page : n;
        if (cu) /* the whole window: the pins go in first (below) */
            from = 0, to = n;
        for (size_t i = from; i < to; i++)
            res.hits[i - from] = ph[i].h;
        memmove(ph, ph + from, (to - from) * sizeof *ph);
        res.nhits = to - from;
    }
    int32_t *src = NULL; /* curated: where each hit came from (-1: pinned) */
    if (cu) {
        size_t n = res.nhits;
        if ((rc = curate_hits(c, cu, !o.after, &res.hits, 1, &n, first + p->per_page, &ph, &src))) {
            souk_find_result_free(&res);
            souk_free(ph);
            return rc;
        }
        size_t from = first < n ? first : n; /* the page */
        memmove(res.hits, res.hits + from, (n - from) * sizeof *res.hits);
        memmove(src, src + from, (n - from) * sizeof *src);
        if (ph)
            memmove(ph, ph + from, (n - from) * sizeof *ph);
        res.nhits = n - from;
    }
    souk_highlighter *hl = NULL;
    uint64_t deadline = ss->deadline_ns;
    if (p->highlight && pq && !res.stopped && res.nhits &&
        souk_highlighter_new(c->w->searcher, pq, so, &hl)) {
        souk_find_result_free(&res);
        souk_free(ph);
        souk_free(src);
        return sk_fail(c, 500, "internal", NULL, "out of memory");
    }
    sk_buf *b = c->out;
    sk_buf_printf(b,
                  "{\"request_id\":\"%s\",\"total\":%llu,\"total_relation\":\"%s\","
                  "\"timed_out\":%s,\"page\":%u,\"per_page\":%u,\"hits\":[",
                  c->request_id, (unsigned long long)res.total, res.stopped ? "gte" : "eq",
                  res.stopped ? "true" : "false", p->page, p->per_page);
    for (size_t i = 0; i < res.nhits; i++) {
        const char *id, *json;
        size_t il, jl;
        if (souk_searcher_doc(c->w->searcher, res.hits[i].docid, &id, &il, &json, &jl))
            continue;
        sk_buf_str(b, i ? ",{\"id\":" : "{\"id\":");
        sk_buf_json_str(b, id, il);
        if (src && src[i] < 0)
            sk_buf_str(b, ",\"curated\":\"pinned\"");
        sk_buf_printf(b, ",\"score\":%.17g,\"fields\":", res.hits[i].score);
        sk_buf_add(b, jl ? json : "{}", jl ? jl : 2);
        /* Past the time budget: hits without highlights and explanations. */
        int late = res.stopped || sk_now_ns() >= deadline;
        if (hl && !late)
            write_highlight(c, hl, json, jl);
        if (p->explain && !late)
            write_find_explain(c, pq, &o, &res, res.hits[i].docid, res.hits[i].score,
                               ph ? &ph[i] : NULL, ph ? ph_top : 0, personal_weight(p));
        sk_buf_str(b, "}");
    }
    souk_highlighter_free(hl);
    sk_buf_str(b, "]");
    if (p->suggest && res.total == 0 && !res.stopped && pq)
        write_suggestion(c, pq);
    sk_buf_str(b, ",\"facets\":{");
    for (size_t f = 0; f < res.nfacets; f++) {
        const souk_facet_result *fr = &res.facets[f];
        const char *fname = schema->fields[fr->field].name;
        sk_buf_str(b, f ? "," : "");
        sk_buf_json_str(b, fname, strlen(fname));
        sk_buf_str(b, ":{\"values\":[");
        for (size_t v = 0; v < fr->nvalues; v++) {
            const souk_facet_value *fv = &fr->values[v];
            sk_buf_str(b, v ? "," : "");
            if (fv->value) {
                sk_buf_str(b, "{\"value\":");
                sk_buf_json_str(b, fv->value, fv->len);
            } else {
                sk_buf_printf(b, "{\"from\":%.17g,\"to\":%.17g", fv->from, fv->to);
            }
            sk_buf_printf(b, ",\"count\":%llu}", (unsigned long long)fv->count);
        }
        sk_buf_printf(b, "],\"other\":%llu}", (unsigned long long)fr->other);
    }
    sk_buf_str(b, "}");
    size_t last = res.nhits ? res.nhits - 1 : 0; /* the page's last hit in the order */
    while (src && last > 0 && src[last] < 0)
        last--;
    if (!ph && res.nhits == p->per_page && !(src && src[last] < 0)) { /* where the next starts */
        souk_find_after next;
        souk_find_position(&res, &o, last, &next);
        write_cursor(c, p, &next, &o);
    }
    souk_find_result_free(&res);
    souk_free(ph);
    souk_free(src);
    uint64_t us = (sk_now_ns() - c->t0_ns) / 1000;
    if (sk_buf_printf(b, ",\"took_us\":%llu}\n", (unsigned long long)us))
        return sk_fail(c, 500, "internal", NULL, "out of memory building the response");
    return 200;
}

static int search(sk_ctx *c, sparams *pp, int *history);
static int search_ranked(sk_ctx *c, sparams *pp, uint32_t k, uint32_t kk, souk_affinity *aff);

int sk_ep_search(sk_ctx *c)
{
    /* The default page size is 10, cut to the limits: a default never exceeds what a request
     * may ask for (docs/api.md, per_page). */
    const sk_limits *lim = &c->cfg->limits;
    uint32_t per_page = 10;
    if (per_page > lim->max_per_page)
        per_page = lim->max_per_page;
    if (per_page > lim->max_depth)
        per_page = lim->max_depth;
    sparams p = {.q = &c->w->scratch, .page = 1, .per_page = per_page};
    c->w->scratch.len = 0;
    int rc = c->req->method == HTTP_POST ? parse_post(c, &p) : parse_get(c, &p);
    if (!rc)
        rc = sk_min_seq_check(c, SK_REPL_CATALOG, p.min_seq); /* 503 not_caught_up */
    if (!rc && (p.profile || p.draft))
        rc = apply_profile(c, &p);
    int history = -1; /* the user's search-history consent, when the personal path read it */
    if (!rc)
        rc = search(c, &p, &history);
    souk_searcher_set_budget(c->w->searcher, NULL); /* its stop_state lived in search() */
    /* With a user token: the search joins the user's history (search_history consent only).
     * The response is already written and does not depend on it. When the personal path has
     * read the consent (this request, the same state of the store) and it is off, nothing is
     * recorded without reading it again. */
    if (rc == 200 && c->has_user && history != 0)
        sk_record_search(c, p.q->p ? p.q->p : "", p.q->len);
    free_params(&p);
    return rc;
}

static int search(sk_ctx *c, sparams *pp, int *history)
{
    sk_worker *w = c->w;
    sparams p = *pp;
    int rc;
    if ((uint64_t)p.page * p.per_page > c->cfg->limits.max_depth)
        return sk_fail(c, 400, "invalid_parameter", "page", "page * per_page must not exceed %u",
                       c->cfg->limits.max_depth);
    uint32_t k = p.page * p.per_page;
    if (souk_searcher_refresh(w->searcher))
        return sk_fail(c, 500, "internal", NULL, "cannot read the index");
    /* The user's affinities, only with a token and consent (NULL otherwise: the anonymous
     * path, byte for byte, P4); only on the relevance path, within the window. */
    souk_affinity *aff = NULL;
    if (c->has_user && w->st->recs && !p.sort && !p.cursor && k <= PERSONAL_WINDOW &&
        souk_affinity_load(w->st->recs, w->searcher, c->user.user, c->user.user_len, sk_now_ms(),
                           &aff, history) != SOUK_OK)
        aff = NULL;
    uint32_t kk = aff ? PERSONAL_WINDOW : k;
    /* Curation (curation.c): room for the hidden and pinned items taken out of the matches. */
    sk_curation cu;
    if ((rc = sk_curation_load(c, p.cp, p.q->p ? p.q->p : "", p.q->len, &cu)))
        return rc;
    p.cu = cu.on ? &cu : NULL;
    kk += (uint32_t)(cu.nhide + cu.npins);
    rc = search_ranked(c, &p, k, kk, aff);
    souk_affinity_free(aff);
    return rc;
}

static int search_ranked(sk_ctx *c, sparams *pp, uint32_t k, uint32_t kk, souk_affinity *aff)
{
    sk_worker *w = c->w;
    sparams p = *pp;
    int rc;
    phit *ph = NULL;
    if (w->hits_cap < kk) {
        souk_hit *h = souk_realloc(w->hits, (size_t)kk * sizeof *h);
        if (!h)
            return sk_fail(c, 500, "internal", NULL, "out of memory");
        w->hits = h;
        w->hits_cap = kk;
    }
    souk_search_opts o = {kk,
                          SOUK_BM25_DEFAULT,
                          0,
                          p.lang[0] ? p.lang : NULL,
                          (p.and_op ? SOUK_QP_DEFAULT_AND : 0u) |
                              (p.prefix ? SOUK_QP_PARTIAL : 0u) | (p.typo ? SOUK_QP_TYPO : 0u) |
                              SOUK_QP_CODES,
                          p.prefix ? SK_PREFIX_EXPANSIONS : 0,
                          p.cp ? &p.cp->p->rank : NULL};
    if (p.cp)
        o.bm25 = p.cp->p->rank.bm25;
    /* The budgets: terms after rewriting, and time from the request's arrival (cut sooner by
     * the drain); the client's departure stops the search too. */
    stop_state ss = {c, 0, 0};
    uint64_t cut = atomic_load(&w->st->drain_cut_ns);
    souk_budget bud = {.max_terms = c->cfg->limits.max_query_terms,
                       .deadline_ns = c->t0_ns + (uint64_t)c->cfg->limits.max_search_ms * 1000000u,
                       .should_stop = should_stop,
                       .stop_ctx = &ss};
    if (cut && cut < bud.deadline_ns)
        bud.deadline_ns = cut;
    ss.deadline_ns = bud.deadline_ns;
    souk_searcher_set_budget(w->searcher, &bud); /* reset by sk_ep_search */
    souk_search_stats sst;
    size_t n = 0;
    char err[512];
    const char *lang = o.lang ? o.lang : souk_index_schema(w->st->ix)->default_language;
    /* An empty query browses the catalog: every document, in docid order. */
    souk_qnode all = {.op = SOUK_QOP_MATCH_ALL};
    souk_query browse = {.nodes = &all, .nnodes = 1};
    souk_query *pq = NULL;
    const char *qs = p.q->p ? p.q->p : "";
    size_t qn = p.q->len;
    while (qn && (qs[qn - 1] == ' ' || qs[qn - 1] == '\t'))
        qn--;
    if (qn == 0) {
        pq = &browse;
    } else {
        size_t nf;
        const souk_qp_field *fields = souk_searcher_fields(w->searcher, &nf);
        rc = souk_query_parse(qs, qn, lang, fields, nf, o.qp_flags, &pq, err, sizeof err);
        if (rc == SOUK_EQUERY || rc == SOUK_EINVAL)
            return sk_fail(c, 400, "query_syntax", "q", "%s", err);
        if (rc)
            return sk_fail(c, 500, "internal", NULL, "query parser: %s", err);
    }
    /* Browsing always takes the storefront path: its first page and its cursor pages come from
     * one order (unscored, index order, or the sort keys). */
    if (pq == &browse || p.filter || p.facets || p.sort || p.boost || p.cursor ||
        (p.cu && p.cu->nhide)) {
        rc = run_find(c, &p, pq == &browse ? NULL : pq, &o, &ss, pq == &browse ? NULL : aff);
        if (pq != &browse)
            souk_query_free(pq);
        return rc;
    }
    rc = souk_search_query(w->searcher, pq, &o, w->hits, &n, &sst, err, sizeof err);
    if (rc) {
        if (pq != &browse)
            souk_query_free(pq);
        return rc == SOUK_EQUERY    ? sk_fail(c, 400, "query_syntax", "q", "%s", err)
               : rc == SOUK_ETOOBIG ? sk_fail(c, 400, "query_too_complex", "q", "%s", err)
                                    : sk_fail(c, 500, "internal", NULL, "%s", err);
    }
    count_stopped(c, &ss, sst.stopped);
    c->nhits = (long long)sst.matched;
    if (p.cu)
        sk_curation_drop(p.cu, w->hits, &n);
    if (aff && n) {
        /* Re-rank the window by text + personal, then cut to the page. */
        ph = souk_malloc(n * sizeof *ph);
        if (!ph) {
            souk_query_free(pq);
            return sk_fail(c, 500, "internal", NULL, "out of memory");
        }
        double top = w->hits[0].score;
        for (size_t i = 0; i < n; i++) {
            ph[i].h = w->hits[i];
            ph[i].text = w->hits[i].score;
            ph[i].aff = souk_affinity_of(aff, w->searcher, w->hits[i].docid);
            ph[i].part = personal_weight(&p) * ph[i].aff * top;
            ph[i].h.score = ph[i].text + ph[i].part;
        }
        sort_phits(ph, n);
        if (n > k)
            n = k;
        for (size_t i = 0; i < n; i++)
            w->hits[i] = ph[i].h;
    }
    int32_t *src = NULL; /* curated: where each hit came from (-1: pinned) */
    if (p.cu && (rc = curate_hits(c, p.cu, 1, &w->hits, 0, &n, k, &ph, &src))) {
        souk_query_free(pq);
        return rc;
    }
    souk_highlighter *hl = NULL;
    if (p.highlight && pq != &browse && !sst.stopped && n > (size_t)(p.page - 1) * p.per_page &&
        souk_highlighter_new(w->searcher, pq, &o, &hl)) {
        souk_query_free(pq);
        souk_free(ph);
        souk_free(src);
        return sk_fail(c, 500, "internal", NULL, "out of memory");
    }
    sk_buf *b = c->out;
    uint32_t first = (p.page - 1) * p.per_page;
    sk_buf_printf(b,
                  "{\"request_id\":\"%s\",\"total\":%llu,\"total_relation\":\"%s\","
                  "\"timed_out\":%s,\"page\":%u,\"per_page\":%u,\"hits\":[",
                  c->request_id, (unsigned long long)sst.matched, sst.pruned ? "gte" : "eq",
                  sst.stopped ? "true" : "false", p.page, p.per_page);
    for (size_t i = first; i < n; i++) {
        const char *id, *json;
        size_t il, jl;
        if (souk_searcher_doc(w->searcher, w->hits[i].docid, &id, &il, &json, &jl))
            continue;
        sk_buf_str(b, i > first ? ",{\"id\":" : "{\"id\":");
        sk_buf_json_str(b, id, il);
        if (src && src[i] < 0)
            sk_buf_str(b, ",\"curated\":\"pinned\"");
        sk_buf_printf(b, ",\"score\":%.17g,\"fields\":", w->hits[i].score);
        sk_buf_add(b, jl ? json : "{}", jl ? jl : 2);
        /* Past the time budget, the remaining hits come without highlights and explanations
         * (each explanation runs the query again for its document). */
        int late = sst.stopped || sk_now_ns() >= bud.deadline_ns;
        if (hl && !late)
            write_highlight(c, hl, json, jl);
        if (p.explain && !late) {
            sk_xtree tree;
            sk_xtree_init(&tree, souk_index_schema(w->st->ix), pq, term_kind);
            explain_out e = {b, 1, pq, &tree};
            double total;
            sk_buf_str(b, ",\"explain\":[");
            if (pq != &browse || o.profile)
                souk_search_explain_parts(w->searcher, pq != &browse ? pq : sk_browse_query(), &o,
                                          w->hits[i].docid, on_part, &e, &total);
            if (ph) { /* the personal component, its own part (docs/ranking.md) */
                sk_buf_printf(b,
                              "%s{\"personal\":\"affinity\",\"affinity\":%.17g,"
                              "\"weight\":%.17g,\"top\":%.17g,\"score\":%.17g}",
                              e.first ? "" : ",", ph[i].aff, personal_weight(&p), ph[0].text,
                              ph[i].part);
                tree.has_personal = 1;
                tree.pers_affinity = ph[i].aff;
                tree.pers_weight = personal_weight(&p);
                tree.pers_top = ph[0].text;
                tree.pers_score = ph[i].part;
            }
            sk_buf_str(b, "]");
            sk_xtree_write(b, &tree, w->hits[i].score);
            sk_xtree_free(&tree);
        }
        sk_buf_str(b, "}");
    }
    souk_highlighter_free(hl);
    sk_buf_str(b, "]");
    if (p.suggest && n == 0 && pq != &browse) /* nothing found: "did you mean" */
        write_suggestion(c, pq);
    size_t last = n ? n - 1 : 0; /* the last hit of the page in the order (not a pin) */
    while (src && last > first && src[last] < 0)
        last--;
    if (!ph && n > first && n - first == p.per_page && !(src && src[last] < 0)) {
        souk_find_after next = {.score = w->hits[last].score, .docid = w->hits[last].docid};
        write_cursor(c, &p, &next, NULL);
    }
    if (pq != &browse)
        souk_query_free(pq);
    souk_free(ph);
    souk_free(src);
    uint64_t us = (sk_now_ns() - c->t0_ns) / 1000;
    if (sk_buf_printf(b, ",\"took_us\":%llu}\n", (unsigned long long)us))
        return sk_fail(c, 500, "internal", NULL, "out of memory building the response");
    return 200;
}
