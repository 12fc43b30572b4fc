/* ep_analytics_dry_run.c: POST /v1/analytics/dry-run (analyst key), what a proposed synonym
 * would do, against the live index, changing nothing; and the rule suggestions of the
 * zero-result report (GET /v1/analytics/queries?kind=zero_results), which dry-run each released
 * query under each existing rule (docs/api.md, "Query analytics").
 *
 * Dry run: the query is searched twice through /v1/search's own handler (sk_subsearch) with the
 * same parameters: "before" with the configured lexicon, "after" with a lexicon built for this
 * request from the configured synonyms and stop words plus the proposed groups, set on the
 * worker's searcher for that one call and put back at once. Nothing is stored; the next request
 * of the worker sets the configured lexicon again in any case (router.c). */
#include "analyst.h"
#include "souk/lexicon.h"
#include "souk/souk.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define DR_MAX_GROUPS 100
#define DR_MAX_EXPR 64
#define DR_MAX_PER_PAGE 100
/* Zero-result rows whose rules are dry-run, per report. */
#define RULES_MAX_ROWS 50
#define RULES_HITS 3

/* Appends the strings of the array arr to v (cap entries) at *n. */
static int add_strings(const cJSON *arr, const char **v, size_t cap, size_t *n)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        if (!cJSON_IsString(it) || *n == cap)
            return -1;
        v[(*n)++] = it->valuestring;
    }
    return 0;
}

/* A lexicon of the configured stop words (cfg->lexicon_src), the configured synonyms when
 * configured is set, and the groups of proposed (an array of groups, checked by the caller). */
static int build_lexicon(sk_ctx *c, int configured, const cJSON *proposed, souk_lexicon **out,
                         char *err, size_t errlen)
{
    const cJSON *src = c->cfg->lexicon_src;
    const cJSON *syn = configured ? cJSON_GetObjectItemCaseSensitive(src, "synonyms") : NULL;
    const cJSON *stop = cJSON_GetObjectItemCaseSensitive(src, "stop_words");
    size_t ng = (size_t)cJSON_GetArraySize(syn) + (size_t)cJSON_GetArraySize(proposed);
    size_t ns = (size_t)cJSON_GetArraySize(stop);
    const char ***groups = souk_calloc(ng + 1, sizeof *groups);
    const char **stops = souk_calloc(ns + 1, sizeof *stops);
    size_t g = 0, si = 0;
    int rc = groups && stops ? 0 : SOUK_ENOMEM;
    const cJSON *lists[2] = {syn, proposed};
    for (int l = 0; l < 2 && !rc; l++) {
        const cJSON *grp;
        cJSON_ArrayForEach(grp, lists[l])
        {
            size_t n = (size_t)cJSON_GetArraySize(grp), k = 0;
            if (!(groups[g] = souk_calloc(n + 1, sizeof **groups))) {
                rc = SOUK_ENOMEM;
                break;
            }
            if (add_strings(grp, groups[g], n, &k)) {
                rc = SOUK_EINVAL;
                snprintf(err, errlen, "a synonym group holds something other than strings");
                g++;
                break;
            }
            g++;
        }
    }
    if (!rc && add_strings(stop, stops, ns, &si))
        rc = SOUK_EINVAL;
    if (!rc)
        rc = souk_lexicon_new(souk_index_schema(c->w->st->ix)->default_language,
                              (const char *const *const *)groups, g, stops, si, out, err, errlen);
    for (size_t i = 0; groups && i < g; i++)
        souk_free((void *)groups[i]);
    souk_free(groups);
    souk_free(stops);
    return rc;
}

/* {"total", "hits":[{"id","score"}]} of a sub-search response. */
static cJSON *summary(const cJSON *resp)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(resp, "total"), *h;
    cJSON_AddNumberToObject(o, "total", cJSON_IsNumber(t) ? t->valuedouble : 0);
    cJSON *arr = cJSON_AddArrayToObject(o, "hits");
    cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(resp, "hits"))
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(h, "id");
        const cJSON *sc = cJSON_GetObjectItemCaseSensitive(h, "score");
        cJSON *x = cJSON_CreateObject();
        if (!arr || !x || !cJSON_IsString(id)) {
            cJSON_Delete(x);
            continue;
        }
        cJSON_AddItemToArray(arr, x);
        cJSON_AddStringToObject(x, "id", id->valuestring);
        if (cJSON_IsNumber(sc))
            cJSON_AddNumberToObject(x, "score", sc->valuedouble);
    }
    return o;
}

int sk_ep_analytics_dry_run(sk_ctx *c)
{
    cJSON *root = NULL, *params = NULL, *before = NULL, *after = NULL, *resp = NULL;
    souk_lexicon *lex = NULL;
    int rc = sk_parse_body(c, &root);
    if (rc)
        return rc;
    const cJSON *query = NULL, *synonyms = NULL, *m;
    params = cJSON_CreateObject();
    if (!params) {
        rc = sk_fail(c, 500, "internal", NULL, "out of memory");
        goto out;
    }
    int per_page = 10;
    cJSON_ArrayForEach(m, root)
    {
        if (strcmp(m->string, "query") == 0) {
            if (!cJSON_IsString(m)) {
                rc = sk_fail(c, 400, "invalid_parameter", "query", "query must be a string");
                goto out;
            }
            query = m;
        } else if (strcmp(m->string, "synonyms") == 0) {
            synonyms = m;
        } else if (strcmp(m->string, "typo") == 0 || strcmp(m->string, "filter") == 0 ||
                   strcmp(m->string, "operator") == 0 || strcmp(m->string, "lang") == 0) {
            /* passed to /v1/search as they are: it checks them */
            cJSON_AddItemToObject(params, m->string, cJSON_Duplicate(m, 1));
        } else if (strcmp(m->string, "per_page") == 0) {
            if (!cJSON_IsNumber(m) || m->valuedouble != (double)(int)m->valuedouble ||
                m->valuedouble < 1 || m->valuedouble > DR_MAX_PER_PAGE) {
                rc = sk_fail(c, 400, "invalid_parameter", "per_page",
                             "per_page must be an integer from 1 to %d", DR_MAX_PER_PAGE);
                goto out;
            }
            per_page = (int)m->valuedouble;
        } else {
            rc = sk_fail(c, 400, "unknown_parameter", m->string,
                         "unknown parameter \"%.40s\" (query, synonyms, typo, filter, operator, "
                         "lang, per_page)",
                         m->string);
            goto out;
        }
    }
    if (!query || !query->valuestring[0]) {
        rc =
            sk_fail(c, 400, "invalid_parameter", "query", "query is required (a non-empty string)");
        goto out;
    }
    size_t ng = cJSON_IsArray(synonyms) ? (size_t)cJSON_GetArraySize(synonyms) : 0;
    if (!cJSON_IsArray(synonyms) || ng < 1 || ng > DR_MAX_GROUPS) {
        rc = sk_fail(c, 400, "invalid_parameter", "synonyms",
                     "synonyms must be an array of 1 to %d proposed groups, each an array of 2 to "
                     "%d expressions ([[\"ssd\", \"solid state drive\"]])",
                     DR_MAX_GROUPS, DR_MAX_EXPR);
        goto out;
    }
    size_t gi = 0;
    cJSON_ArrayForEach(m, synonyms)
    {
        size_t n = cJSON_IsArray(m) ? (size_t)cJSON_GetArraySize(m) : 0;
        const cJSON *e;
        int ok = n >= 2 && n <= DR_MAX_EXPR;
        cJSON_ArrayForEach(e, m) ok &= cJSON_IsString(e) && e->valuestring[0] != '\0';
        if (!ok) {
            char f[48];
            snprintf(f, sizeof f, "synonyms[%zu]", gi);
            rc = sk_fail(c, 400, "invalid_parameter", f, "%s must list 2 to %d non-empty strings",
                         f, DR_MAX_EXPR);
            goto out;
        }
        gi++;
    }
    char err[512] = "";
    int lrc = build_lexicon(c, 1, synonyms, &lex, err, sizeof err);
    if (lrc == SOUK_ENOMEM) {
        rc = sk_fail(c, 500, "internal", NULL, "out of memory");
        goto out;
    }
    if (lrc) {
        rc = sk_fail(c, 400, "invalid_parameter", "synonyms", "synonyms: %s", err);
        goto out;
    }
    cJSON_AddStringToObject(params, "q", query->valuestring);
    cJSON_AddNumberToObject(params, "per_page", per_page);
    int st = sk_subsearch(c, params, &before);
    if (st != 200) {
        rc = before ? sk_fail_sub(c, st, before, "before")
                    : sk_fail(c, 500, "internal", NULL, "out of memory");
        goto out;
    }
    souk_searcher_set_lexicon(c->w->searcher, lex);
    st = sk_subsearch(c, params, &after);
    souk_searcher_set_lexicon(c->w->searcher, c->cfg->lexicon);
    if (st != 200) {
        rc = after ? sk_fail_sub(c, st, after, "after")
                   : sk_fail(c, 500, "internal", NULL, "out of memory");
        goto out;
    }
    resp = cJSON_CreateObject();
    cJSON *b = summary(before), *a = summary(after), *added = cJSON_CreateArray();
    if (!resp || !b || !a || !added) {
        cJSON_Delete(b);
        cJSON_Delete(a);
        cJSON_Delete(added);
        rc = sk_fail(c, 500, "internal", NULL, "out of memory");
        goto out;
    }
    cJSON_AddStringToObject(resp, "query", query->valuestring);
    cJSON_AddItemToObject(resp, "synonyms", cJSON_Duplicate(synonyms, 1));
    cJSON_AddItemToObject(resp, "before", b);
    cJSON_AddItemToObject(resp, "after", a);
    /* The ids of "after" missing from "before" (the page's): what the proposal brings. */
    const cJSON *h, *g;
    cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(a, "hits"))
    {
        const char *id = cJSON_GetObjectItemCaseSensitive(h, "id")->valuestring;
        int seen = 0;
        cJSON_ArrayForEach(g, cJSON_GetObjectItemCaseSensitive(b, "hits")) seen |=
            strcmp(cJSON_GetObjectItemCaseSensitive(g, "id")->valuestring, id) == 0;
        if (!seen)
            cJSON_AddItemToArray(added, cJSON_CreateString(id));
    }
    cJSON_AddItemToObject(resp, "added", added);
    cJSON_AddBoolToObject(resp, "stored", 0);
    char *txt = cJSON_PrintUnformatted(resp);
    if (!txt) {
        rc = sk_fail(c, 500, "internal", NULL, "out of memory building the response");
        goto out;
    }
    sk_buf_printf(c->out, "{\"request_id\":\"%s\",", c->request_id);
    sk_buf_add(c->out, txt + 1, strlen(txt) - 1);
    cJSON_free(txt);
    rc = sk_buf_str(c->out, "\n") ? sk_fail(c, 500, "internal", NULL, "out of memory") : 200;
out:
    souk_lexicon_free(lex);
    cJSON_Delete(resp);
    cJSON_Delete(before);
    cJSON_Delete(after);
    cJSON_Delete(params);
    cJSON_Delete(root);
    return rc;
}

/* ------------------------------------------------------------------ zero-result rule suggestions
 */

/* One engine search of q under flags with lexicon lex: {"total", "ids":[first RULES_HITS]}, or
 * NULL on error (a query the parser refuses, over its budget). */
static cJSON *try_rule(sk_ctx *c, const char *q, unsigned flags, const souk_lexicon *lex)
{
    sk_worker *w = c->w;
    souk_hit hits[RULES_HITS];
    size_t n = 0;
    souk_search_stats st;
    char err[256];
    souk_search_opts o = {RULES_HITS, SOUK_BM25_DEFAULT, 0, NULL, flags, 0, NULL};
    souk_budget bud = {.max_terms = c->cfg->limits.max_query_terms,
                       .deadline_ns =
                           sk_now_ns() + (uint64_t)c->cfg->limits.max_search_ms * 1000000u};
    souk_searcher_set_lexicon(w->searcher, lex);
    souk_searcher_set_budget(w->searcher, &bud);
    int rc = souk_search(w->searcher, q, strlen(q), &o, hits, &n, &st, err, sizeof err);
    souk_searcher_set_budget(w->searcher, NULL);
    souk_searcher_set_lexicon(w->searcher, c->cfg->lexicon);
    if (rc)
        return NULL;
    cJSON *r = cJSON_CreateObject(), *ids = r ? cJSON_AddArrayToObject(r, "ids") : NULL;
    if (!ids) {
        cJSON_Delete(r);
        return NULL;
    }
    cJSON_AddNumberToObject(r, "total", (double)st.matched);
    for (size_t i = 0; i < n; i++) {
        const char *id, *json;
        size_t il, jl;
        if (souk_reader_doc(souk_searcher_reader(w->searcher), hits[i].docid, &id, &il, &json, &jl))
            continue;
        char *z = souk_strndup(id, il);
        if (z)
            cJSON_AddItemToArray(ids, cJSON_CreateString(z));
        souk_free(z);
    }
    return r;
}

/* Lower-cases the ASCII letters of s into out and splits it into words (runs of letters and
 * digits, or any byte >= 0x80): returns the count, the words NUL-separated in out. */
static size_t words_of(const char *s, char *out, size_t cap, const char **w, size_t maxw)
{
    size_t n = 0, o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && o + 2 < cap;) {
        while (*p && !(isalnum(*p) || *p >= 0x80))
            p++;
        if (!*p)
            break;
        if (n < maxw)
            w[n] = out + o;
        while ((isalnum(*p) || *p >= 0x80) && o + 2 < cap)
            out[o++] = (char)tolower(*p++);
        out[o++] = '\0';
        n++;
    }
    return n < maxw ? n : maxw;
}

/* 1 when every word of expression e is among the n words of q. */
static int expr_in(const char *e, const char *const *q, size_t n)
{
    char buf[512];
    const char *w[16];
    size_t m = words_of(e, buf, sizeof buf, w, 16);
    for (size_t i = 0; i < m; i++) {
        int found = 0;
        for (size_t j = 0; j < n && !found; j++)
            found = strcmp(w[i], q[j]) == 0;
        if (!found)
            return 0;
    }
    return m > 0;
}

/* The configured synonym groups that make q match: the groups with an expression whose words
 * are all words of q (as typed, lower-cased), each confirmed by a search of q with the stop
 * words and that group alone; at most 10 tried. A group that matches only through stemming is
 * not named (the "synonyms" rule's total still counts it). */
static cJSON *matching_groups(sk_ctx *c, const char *q)
{
    cJSON *out = cJSON_CreateArray();
    const cJSON *syn = cJSON_GetObjectItemCaseSensitive(c->cfg->lexicon_src, "synonyms"), *g;
    char qbuf[1024];
    const char *qw[64];
    size_t nq = words_of(q, qbuf, sizeof qbuf, qw, 64), tried = 0;
    cJSON_ArrayForEach(g, syn)
    {
        if (!out || tried == 10)
            break;
        const cJSON *e;
        int cand = 0;
        cJSON_ArrayForEach(e, g) cand |= cJSON_IsString(e) && expr_in(e->valuestring, qw, nq);
        if (!cand)
            continue;
        tried++;
        cJSON *one = cJSON_CreateArray();
        souk_lexicon *lex = NULL;
        char err[256];
        if (one && cJSON_AddItemToArray(one, cJSON_Duplicate(g, 1)) &&
            build_lexicon(c, 0, one, &lex, err, sizeof err) == SOUK_OK) {
            cJSON *r = try_rule(c, q, 0, lex);
            if (r && cJSON_GetObjectItemCaseSensitive(r, "total")->valuedouble > 0)
                cJSON_AddItemToArray(out, cJSON_Duplicate(g, 1));
            cJSON_Delete(r);
        }
        souk_lexicon_free(lex);
        cJSON_Delete(one);
    }
    return out;
}

int sk_zero_result_rules(sk_ctx *c, cJSON *table, uint64_t deadline)
{
    if (souk_searcher_refresh(c->w->searcher))
        return SOUK_EIO;
    cJSON *row;
    size_t i = 0;
    int truncated = 0;
    cJSON_ArrayForEach(row, cJSON_GetObjectItemCaseSensitive(table, "rows"))
    {
        const cJSON *q = cJSON_GetObjectItemCaseSensitive(row, "query");
        if (!cJSON_IsString(q))
            continue;
        if (i++ >= RULES_MAX_ROWS || sk_now_ns() > deadline) {
            truncated = 1;
            continue;
        }
        static const struct {
            const char *name;
            unsigned flags;
            int lexicon;
        } rules[] = {{"as_is", 0, 0},
                     {"synonyms", 0, 1},
                     {"typo", SOUK_QP_TYPO, 0},
                     {"part_numbers", SOUK_QP_CODES, 0},
                     {"live", SOUK_QP_CODES, 1}};
        cJSON *obj = cJSON_CreateObject(), *would = cJSON_CreateArray();
        if (!obj || !would) {
            cJSON_Delete(obj);
            cJSON_Delete(would);
            return SOUK_ENOMEM;
        }
        cJSON_AddItemToObject(row, "rules", obj);
        double as_is = -1, live = -1;
        for (size_t r = 0; r < sizeof rules / sizeof rules[0]; r++) {
            if (rules[r].lexicon && !c->cfg->lexicon)
                continue; /* no synonyms configured: nothing to try */
            cJSON *x = try_rule(c, q->valuestring, rules[r].flags,
                                rules[r].lexicon ? c->cfg->lexicon : NULL);
            if (!x) {
                cJSON_AddItemToObject(obj, rules[r].name, cJSON_CreateNull());
                continue;
            }
            double total = cJSON_GetObjectItemCaseSensitive(x, "total")->valuedouble;
            if (rules[r].lexicon && r == 1 && total > 0)
                cJSON_AddItemToObject(x, "groups", matching_groups(c, q->valuestring));
            if (r == 0)
                as_is = total;
            else if (strcmp(rules[r].name, "live") == 0)
                live = total;
            else if (total > 0 && as_is == 0 && strcmp(rules[r].name, "live") != 0)
                cJSON_AddItemToArray(would, cJSON_CreateString(rules[r].name));
            cJSON_AddItemToObject(obj, rules[r].name, x);
        }
        cJSON_AddItemToObject(row, "would_match", would);
        cJSON_AddBoolToObject(row, "matches_now", live > 0 || as_is > 0);
    }
    cJSON_AddBoolToObject(table, "rules_truncated", truncated);
    return SOUK_OK;
}
