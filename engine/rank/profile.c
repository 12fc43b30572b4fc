/* profile.c: ranking profile documents parsed and validated against the schema (souk/profile.h).
 * Every error names the member by its path ("boosts[2].field"), so an analyst editing a long
 * document sees where it is wrong; unknown members are refused rather than ignored, so a
 * misspelt "proximty" is noticed. */
#include "souk/profile.h"
#include "souk/json_strict.h"
#include "souk/souk.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct pctx {
    const souk_schema *s;
    souk_analyzer *a;
    char *err;
    size_t errlen;
} pctx;

static int fail(pctx *x, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(pctx *x, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->err, x->errlen, fmt, ap);
    va_end(ap);
    return rc;
}

int souk_profile_name_ok(const char *name, size_t len)
{
    if (len == 0 || len > SOUK_PROFILE_NAME_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return 0;
    }
    return 1;
}

/* A finite number in [lo, hi] at path. */
static int number(pctx *x, const cJSON *v, const char *path, double lo, double hi, double *out)
{
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return fail(x, SOUK_EINVAL, "%s: must be a number", path);
    if (v->valuedouble < lo || v->valuedouble > hi)
        return fail(x, SOUK_EINVAL, "%s: %.17g is not in [%g, %g]", path, v->valuedouble, lo, hi);
    *out = v->valuedouble;
    return 0;
}

/* A string of 1 to SOUK_PROFILE_MAX_TEXT bytes at path, copied into *out. */
static int text(pctx *x, const cJSON *v, const char *path, char **out)
{
    if (!cJSON_IsString(v))
        return fail(x, SOUK_EINVAL, "%s: must be a string", path);
    size_t n = strlen(v->valuestring);
    if (n == 0 || n > SOUK_PROFILE_MAX_TEXT)
        return fail(x, SOUK_EINVAL, "%s: must hold 1 to %u bytes", path, SOUK_PROFILE_MAX_TEXT);
    if (!(*out = souk_strndup(v->valuestring, n)))
        return SOUK_ENOMEM;
    return 0;
}

static int parse_bm25(pctx *x, const cJSON *o, souk_profile *p)
{
    if (!cJSON_IsObject(o))
        return fail(x, SOUK_EINVAL, "bm25: must be an object {\"k1\", \"b\"}");
    const cJSON *it;
    cJSON_ArrayForEach(it, o)
    {
        int rc;
        if (strcmp(it->string, "k1") == 0)
            rc = number(x, it, "bm25.k1", 0, 10, &p->rank.bm25.k1);
        else if (strcmp(it->string, "b") == 0)
            rc = number(x, it, "bm25.b", 0, 1, &p->rank.bm25.b);
        else
            rc = fail(x, SOUK_EINVAL, "bm25.%.64s: unknown member (k1, b)", it->string);
        if (rc)
            return rc;
    }
    return 0;
}

static int parse_fields(pctx *x, const cJSON *o, souk_profile *p)
{
    if (!cJSON_IsObject(o))
        return fail(x, SOUK_EINVAL, "fields: must be an object of text field names to weights");
    const cJSON *it;
    char path[128];
    cJSON_ArrayForEach(it, o)
    {
        snprintf(path, sizeof path, "fields.%.64s", it->string);
        const souk_field *f = souk_schema_field(x->s, it->string, strlen(it->string));
        if (!f)
            return fail(x, SOUK_EINVAL, "%s: the schema has no field \"%.64s\"", path, it->string);
        if (f->type != SOUK_FIELD_TEXT)
            return fail(x, SOUK_EINVAL, "%s: \"%.64s\" is not a text field", path, it->string);
        if (!f->prefix[0])
            return fail(x, SOUK_EINVAL,
                        "%s: \"%.64s\" has no terms of its own to weight at query time (the "
                        "schema gives it no \"prefix\")",
                        path, it->string);
        if (p->rank.nfield_weights == SOUK_MAX_PROFILE_FIELDS)
            return fail(x, SOUK_ETOOBIG, "fields: at most %d", SOUK_MAX_PROFILE_FIELDS);
        double w;
        int rc = number(x, it, path, 0, 100, &w);
        if (rc)
            return rc;
        p->rank.field[p->rank.nfield_weights] = f->id;
        p->rank.field_weight[p->rank.nfield_weights++] = w;
    }
    return 0;
}

static int parse_proximity(pctx *x, const cJSON *o, souk_profile *p)
{
    if (!cJSON_IsObject(o))
        return fail(x, SOUK_EINVAL, "proximity: must be an object {\"weight\", \"window\"}");
    p->rank.proximity_window = 8;
    const cJSON *it;
    cJSON_ArrayForEach(it, o)
    {
        int rc;
        double w;
        if (strcmp(it->string, "weight") == 0) {
            rc = number(x, it, "proximity.weight", 0, 1000, &p->rank.proximity_weight);
        } else if (strcmp(it->string, "window") == 0) {
            if (!(rc = number(x, it, "proximity.window", 1, 64, &w)) && w != floor(w))
                rc = fail(x, SOUK_EINVAL, "proximity.window: must be a whole number");
            p->rank.proximity_window = (uint32_t)w;
        } else {
            rc = fail(x, SOUK_EINVAL, "proximity.%.64s: unknown member (weight, window)",
                      it->string);
        }
        if (rc)
            return rc;
    }
    return 0;
}

static int parse_boost(pctx *x, const cJSON *o, size_t i, souk_boost_signal *b)
{
    char path[96];
    if (!cJSON_IsObject(o))
        return fail(x, SOUK_EINVAL, "boosts[%zu]: must be an object", i);
    const cJSON *fn = cJSON_GetObjectItemCaseSensitive(o, "function");
    const cJSON *fl = cJSON_GetObjectItemCaseSensitive(o, "field");
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(o, "weight");
    if (!fl)
        return fail(x, SOUK_EINVAL, "boosts[%zu].field: missing", i);
    if (!fn)
        return fail(x, SOUK_EINVAL, "boosts[%zu].function: missing (log1p, linear or decay)", i);
    if (!w)
        return fail(x, SOUK_EINVAL, "boosts[%zu].weight: missing", i);
    if (!cJSON_IsString(fl))
        return fail(x, SOUK_EINVAL, "boosts[%zu].field: must be a string", i);
    const souk_field *f = souk_schema_field(x->s, fl->valuestring, strlen(fl->valuestring));
    if (!f)
        return fail(x, SOUK_EINVAL, "boosts[%zu].field: the schema has no field \"%.64s\"", i,
                    fl->valuestring);
    if (f->type != SOUK_FIELD_NUMBER)
        return fail(x, SOUK_EINVAL, "boosts[%zu].field: \"%.64s\" is not a number field", i,
                    fl->valuestring);
    if (!(f->flags & (SOUK_F_FILTERABLE | SOUK_F_FACETABLE | SOUK_F_SORTABLE)))
        return fail(x, SOUK_EINVAL,
                    "boosts[%zu].field: \"%.64s\" has no attribute column (make it filterable, "
                    "facetable or sortable in the schema)",
                    i, fl->valuestring);
    b->field = f->id;
    if (!cJSON_IsString(fn))
        return fail(x, SOUK_EINVAL, "boosts[%zu].function: must be a string", i);
    if (strcmp(fn->valuestring, "log1p") == 0)
        b->fn = SOUK_BOOST_LOG1P;
    else if (strcmp(fn->valuestring, "linear") == 0)
        b->fn = SOUK_BOOST_LINEAR;
    else if (strcmp(fn->valuestring, "decay") == 0)
        b->fn = SOUK_BOOST_DECAY;
    else
        return fail(x, SOUK_EINVAL,
                    "boosts[%zu].function: \"%.32s\" is not one of log1p, linear, decay", i,
                    fn->valuestring);
    b->decay = 0.5;
    int has_origin = 0, has_scale = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, o)
    {
        const char *k = it->string;
        int rc = 0;
        snprintf(path, sizeof path, "boosts[%zu].%.32s", i, k);
        if (strcmp(k, "field") == 0 || strcmp(k, "function") == 0)
            continue;
        if (strcmp(k, "weight") == 0) {
            rc = number(x, it, path, -1000, 1000, &b->weight);
        } else if (strcmp(k, "origin") == 0 || strcmp(k, "scale") == 0 ||
                   strcmp(k, "offset") == 0 || strcmp(k, "decay") == 0) {
            if (b->fn != SOUK_BOOST_DECAY)
                return fail(x, SOUK_EINVAL, "%s: only a decay boost has %s", path, k);
            if (k[0] == 'o' && k[1] == 'r') {
                rc = number(x, it, path, -1e15, 1e15, &b->origin);
                has_origin = 1;
            } else if (k[0] == 's') {
                rc = number(x, it, path, 1e-9, 1e15, &b->scale);
                has_scale = 1;
            } else if (k[0] == 'o') {
                rc = number(x, it, path, 0, 1e15, &b->offset);
            } else {
                rc = number(x, it, path, 1e-6, 1 - 1e-6, &b->decay);
            }
        } else {
            rc = fail(x, SOUK_EINVAL,
                      "%s: unknown member (field, function, weight, origin, scale, offset, decay)",
                      path);
        }
        if (rc)
            return rc;
    }
    if (b->fn == SOUK_BOOST_DECAY && !has_origin)
        return fail(x, SOUK_EINVAL, "boosts[%zu].origin: missing (a decay needs origin and scale)",
                    i);
    if (b->fn == SOUK_BOOST_DECAY && !has_scale)
        return fail(x, SOUK_EINVAL, "boosts[%zu].scale: missing (a decay needs origin and scale)",
                    i);
    return 0;
}

static int parse_boosts(pctx *x, const cJSON *o, souk_profile *p)
{
    if (!cJSON_IsArray(o))
        return fail(x, SOUK_EINVAL, "boosts: must be an array");
    if (cJSON_GetArraySize(o) > SOUK_MAX_BOOSTS)
        return fail(x, SOUK_ETOOBIG, "boosts: at most %d", SOUK_MAX_BOOSTS);
    const cJSON *it;
    cJSON_ArrayForEach(it, o)
    {
        int rc = parse_boost(x, it, p->rank.nboosts, &p->rank.boosts[p->rank.nboosts]);
        if (rc)
            return rc;
        p->rank.nboosts++;
    }
    return 0;
}

/* "sort": "price:asc,_score": each key a field of the schema that can sort, or _score. */
static int check_sort(pctx *x, const char *s)
{
    const char *p = s;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        const char *colon = memchr(p, ':', n);
        size_t fl = colon ? (size_t)(colon - p) : n;
        if (!(fl == 6 && memcmp(p, "_score", 6) == 0)) {
            const souk_field *f = souk_schema_field(x->s, p, fl);
            if (!f || !(f->flags & SOUK_F_SORTABLE))
                return fail(x, SOUK_EINVAL, "defaults.sort: \"%.*s\" is not a sortable field",
                            (int)(fl < 64 ? fl : 64), p);
        }
        if (colon && !(n - fl - 1 == 3 && memcmp(colon + 1, "asc", 3) == 0) &&
            !(n - fl - 1 == 4 && memcmp(colon + 1, "desc", 4) == 0))
            return fail(x, SOUK_EINVAL, "defaults.sort: a sort direction is asc or desc");
        p += n;
        if (*p == ',')
            p++;
    }
    return 0;
}

/* "boost": "popularity:0.5", the storefront boost parameter. */
static int check_boost(pctx *x, const char *s)
{
    const char *colon = strchr(s, ':');
    char *end;
    double w = colon ? strtod(colon + 1, &end) : 0;
    if (!colon || end == colon + 1 || *end || !isfinite(w) || fabs(w) > 1000)
        return fail(x, SOUK_EINVAL,
                    "defaults.boost: must be field:weight with a weight from -1000 to 1000");
    const souk_field *f = souk_schema_field(x->s, s, (size_t)(colon - s));
    if (!f || f->type != SOUK_FIELD_NUMBER)
        return fail(x, SOUK_EINVAL, "defaults.boost: \"%.*s\" is not a number field",
                    (int)((size_t)(colon - s) < 64 ? (size_t)(colon - s) : 64), s);
    return 0;
}

static int parse_defaults(pctx *x, const cJSON *o, souk_profile *p)
{
    if (!cJSON_IsObject(o))
        return fail(x, SOUK_EINVAL, "defaults: must be an object");
    const cJSON *it;
    cJSON_ArrayForEach(it, o)
    {
        const char *k = it->string;
        int rc = 0;
        if (strcmp(k, "typo") == 0 || strcmp(k, "prefix") == 0) {
            if (!cJSON_IsBool(it))
                return fail(x, SOUK_EINVAL, "defaults.%s: must be true or false", k);
            *(k[0] == 't' ? &p->typo : &p->prefix) = cJSON_IsTrue(it);
        } else if (strcmp(k, "operator") == 0) {
            if (!cJSON_IsString(it) ||
                (strcmp(it->valuestring, "and") != 0 && strcmp(it->valuestring, "or") != 0))
                return fail(x, SOUK_EINVAL, "defaults.operator: must be \"and\" or \"or\"");
            p->and_op = it->valuestring[0] == 'a';
        } else if (strcmp(k, "sort") == 0) {
            if (!(rc = text(x, it, "defaults.sort", &p->sort)))
                rc = check_sort(x, p->sort);
        } else if (strcmp(k, "boost") == 0) {
            if (!(rc = text(x, it, "defaults.boost", &p->boost)))
                rc = check_boost(x, p->boost);
        } else {
            rc = fail(x, SOUK_EINVAL,
                      "defaults.%.64s: unknown member (typo, prefix, operator, sort, boost)", k);
        }
        if (rc)
            return rc;
    }
    return 0;
}

static int parse_synonyms(pctx *x, const cJSON *o, souk_profile *p)
{
    if (!cJSON_IsArray(o))
        return fail(x, SOUK_EINVAL, "synonyms: must be an array of arrays of expressions");
    size_t n = (size_t)cJSON_GetArraySize(o);
    if (n > SOUK_PROFILE_MAX_SYNONYM_GROUPS)
        return fail(x, SOUK_ETOOBIG, "synonyms: at most %d groups",
                    SOUK_PROFILE_MAX_SYNONYM_GROUPS);
    if (!(p->groups = souk_calloc(n + 1, sizeof *p->groups)))
        return SOUK_ENOMEM;
    const cJSON *g;
    char path[64];
    cJSON_ArrayForEach(g, o)
    {
        size_t i = p->ngroups;
        size_t m = cJSON_IsArray(g) ? (size_t)cJSON_GetArraySize(g) : 0;
        if (m < 2 || m > SOUK_PROFILE_MAX_GROUP_SIZE)
            return fail(x, SOUK_EINVAL, "synonyms[%zu]: must list 2 to %d expressions", i,
                        SOUK_PROFILE_MAX_GROUP_SIZE);
        if (!(p->groups[i] = souk_calloc(m + 1, sizeof **p->groups)))
            return SOUK_ENOMEM;
        p->ngroups++;
        size_t j = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, g)
        {
            snprintf(path, sizeof path, "synonyms[%zu][%zu]", i, j);
            int rc = text(x, e, path, &p->groups[i][j]);
            if (rc)
                return rc;
            j++;
        }
    }
    return 0;
}

static int parse_stop_words(pctx *x, const cJSON *o, souk_profile *p)
{
    if (!cJSON_IsArray(o))
        return fail(x, SOUK_EINVAL, "stop_words: must be an array of words");
    size_t n = (size_t)cJSON_GetArraySize(o);
    if (n > SOUK_PROFILE_MAX_STOP_WORDS)
        return fail(x, SOUK_ETOOBIG, "stop_words: at most %d", SOUK_PROFILE_MAX_STOP_WORDS);
    if (!(p->stop = souk_calloc(n + 1, sizeof *p->stop)))
        return SOUK_ENOMEM;
    const cJSON *e;
    char path[48];
    cJSON_ArrayForEach(e, o)
    {
        snprintf(path, sizeof path, "stop_words[%zu]", p->nstop);
        int rc = text(x, e, path, &p->stop[p->nstop]);
        if (rc)
            return rc;
        p->nstop++;
    }
    return 0;
}

static int by_position(const void *a, const void *b)
{
    const souk_pin *x = a, *y = b;
    return x->position < y->position ? -1 : x->position > y->position;
}

static int parse_rule(pctx *x, const cJSON *o, size_t i, souk_curation_rule *r)
{
    char path[96];
    if (!cJSON_IsObject(o))
        return fail(x, SOUK_EINVAL, "curation[%zu]: must be an object", i);
    const cJSON *q = cJSON_GetObjectItemCaseSensitive(o, "query");
    if (!q)
        return fail(x, SOUK_EINVAL, "curation[%zu].query: missing", i);
    const cJSON *it;
    cJSON_ArrayForEach(it, o)
    {
        const char *k = it->string;
        if (strcmp(k, "query") == 0 || strcmp(k, "pin") == 0 || strcmp(k, "hide") == 0)
            continue;
        if (strcmp(k, "match") == 0) {
            if (!cJSON_IsString(it) || (strcmp(it->valuestring, "exact") != 0 &&
                                        strcmp(it->valuestring, "normalized") != 0))
                return fail(x, SOUK_EINVAL,
                            "curation[%zu].match: must be \"exact\" or \"normalized\"", i);
            r->normalized = it->valuestring[0] == 'n';
            continue;
        }
        return fail(x, SOUK_EINVAL, "curation[%zu].%.64s: unknown member (query, match, pin, hide)",
                    i, k);
    }
    snprintf(path, sizeof path, "curation[%zu].query", i);
    char *qs;
    int rc = text(x, q, path, &qs);
    if (rc)
        return rc;
    if (r->normalized) {
        char norm[SOUK_PROFILE_NORM_MAX];
        size_t nl = souk_profile_normalize(x->a, qs, strlen(qs), norm, sizeof norm);
        souk_free(qs);
        if (nl == 0)
            return fail(x, SOUK_EINVAL, "%s: has no word to match", path);
        if (!(qs = souk_strndup(norm, nl)))
            return SOUK_ENOMEM;
    } else {
        /* Exact: as written, without the spaces around it (as a search trims q). */
        size_t a = 0, n = strlen(qs);
        while (a < n && (qs[a] == ' ' || qs[a] == '\t'))
            a++;
        while (n > a && (qs[n - 1] == ' ' || qs[n - 1] == '\t'))
            n--;
        if (n == a) {
            souk_free(qs);
            return fail(x, SOUK_EINVAL, "%s: must not be blank", path);
        }
        memmove(qs, qs + a, n - a);
        qs[n - a] = 0;
    }
    r->query = qs;
    const cJSON *pins = cJSON_GetObjectItemCaseSensitive(o, "pin");
    const cJSON *hide = cJSON_GetObjectItemCaseSensitive(o, "hide");
    if (!pins && !hide)
        return fail(x, SOUK_EINVAL, "curation[%zu]: a rule needs pin or hide", i);
    if (pins) {
        if (!cJSON_IsArray(pins))
            return fail(x, SOUK_EINVAL, "curation[%zu].pin: must be an array", i);
        size_t n = (size_t)cJSON_GetArraySize(pins);
        if (n > SOUK_PROFILE_MAX_PINS)
            return fail(x, SOUK_ETOOBIG, "curation[%zu].pin: at most %d items", i,
                        SOUK_PROFILE_MAX_PINS);
        if (!(r->pins = souk_calloc(n + 1, sizeof *r->pins)))
            return SOUK_ENOMEM;
        cJSON_ArrayForEach(it, pins)
        {
            size_t j = r->npins;
            if (!cJSON_IsObject(it))
                return fail(x, SOUK_EINVAL,
                            "curation[%zu].pin[%zu]: must be an object {\"id\", \"position\"}", i,
                            j);
            const cJSON *m;
            cJSON_ArrayForEach(m, it)
            {
                if (strcmp(m->string, "id") != 0 && strcmp(m->string, "position") != 0)
                    return fail(x, SOUK_EINVAL,
                                "curation[%zu].pin[%zu].%.64s: unknown member (id, position)", i, j,
                                m->string);
            }
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(it, "id");
            const cJSON *pos = cJSON_GetObjectItemCaseSensitive(it, "position");
            snprintf(path, sizeof path, "curation[%zu].pin[%zu].id", i, j);
            if (!id)
                return fail(x, SOUK_EINVAL, "%s: missing", path);
            if ((rc = text(x, id, path, &r->pins[j].id)))
                return rc;
            r->npins++;
            snprintf(path, sizeof path, "curation[%zu].pin[%zu].position", i, j);
            double pv;
            if (!pos)
                return fail(x, SOUK_EINVAL, "%s: missing", path);
            if ((rc = number(x, pos, path, 1, SOUK_PROFILE_MAX_POSITION, &pv)))
                return rc;
            if (pv != floor(pv))
                return fail(x, SOUK_EINVAL, "%s: must be a whole number", path);
            r->pins[j].position = (uint32_t)pv;
            for (size_t k = 0; k < j; k++) {
                if (r->pins[k].position == r->pins[j].position)
                    return fail(x, SOUK_EINVAL, "%s: position %u is already pinned", path,
                                r->pins[j].position);
                if (strcmp(r->pins[k].id, r->pins[j].id) == 0)
                    return fail(x, SOUK_EINVAL,
                                "curation[%zu].pin[%zu].id: \"%.64s\" is "
                                "already pinned",
                                i, j, r->pins[j].id);
            }
        }
        if (r->npins > 1)
            qsort(r->pins, r->npins, sizeof *r->pins, by_position);
    }
    if (hide) {
        if (!cJSON_IsArray(hide))
            return fail(x, SOUK_EINVAL, "curation[%zu].hide: must be an array of item ids", i);
        size_t n = (size_t)cJSON_GetArraySize(hide);
        if (n > SOUK_PROFILE_MAX_HIDES)
            return fail(x, SOUK_ETOOBIG, "curation[%zu].hide: at most %d items", i,
                        SOUK_PROFILE_MAX_HIDES);
        if (!(r->hide = souk_calloc(n + 1, sizeof *r->hide)))
            return SOUK_ENOMEM;
        cJSON_ArrayForEach(it, hide)
        {
            snprintf(path, sizeof path, "curation[%zu].hide[%zu]", i, r->nhide);
            if ((rc = text(x, it, path, &r->hide[r->nhide])))
                return rc;
            r->nhide++;
            for (size_t k = 0; k < r->npins; k++)
                if (strcmp(r->pins[k].id, r->hide[r->nhide - 1]) == 0)
                    return fail(x, SOUK_EINVAL, "%s: \"%.64s\" is both pinned and hidden", path,
                                r->pins[k].id);
        }
    }
    return 0;
}

static int parse_curation(pctx *x, const cJSON *o, souk_profile *p)
{
    if (!cJSON_IsArray(o))
        return fail(x, SOUK_EINVAL, "curation: must be an array of rules");
    size_t n = (size_t)cJSON_GetArraySize(o);
    if (n > SOUK_PROFILE_MAX_RULES)
        return fail(x, SOUK_ETOOBIG, "curation: at most %d rules", SOUK_PROFILE_MAX_RULES);
    if (!(p->rules = souk_calloc(n + 1, sizeof *p->rules)))
        return SOUK_ENOMEM;
    const cJSON *it;
    cJSON_ArrayForEach(it, o)
    {
        /* Counted first, so that a rule failing half-way is freed with the profile. */
        int rc = parse_rule(x, it, p->nrules, &p->rules[p->nrules]);
        p->nrules++;
        if (rc)
            return rc;
    }
    return 0;
}

int souk_profile_parse(const char *json, size_t len, const souk_schema *s, souk_analyzer *a,
                       souk_profile **out, char *err, size_t errlen)
{
    pctx x = {s, a, err, errlen};
    if (len > SOUK_PROFILE_MAX_BYTES)
        return fail(&x, SOUK_ETOOBIG, "the profile document is over %u bytes",
                    SOUK_PROFILE_MAX_BYTES);
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (!root) {
        int rc = souk_json_strict(json, len, NULL, NULL, err, errlen);
        if (rc)
            return rc;
        return fail(&x, SOUK_EINVAL, "the profile is not valid JSON (near byte %zu)",
                    end && end >= json ? (size_t)(end - json) : (size_t)0);
    }
    int rc = souk_json_strict(json, len, root, end, err, errlen);
    souk_profile *p = NULL;
    if (rc)
        goto out;
    if (!cJSON_IsObject(root)) {
        rc = fail(&x, SOUK_EINVAL, "the profile must be a JSON object");
        goto out;
    }
    if (!(p = souk_calloc(1, sizeof *p))) {
        rc = SOUK_ENOMEM;
        goto out;
    }
    p->rank = (souk_rank_profile){.bm25 = SOUK_BM25_DEFAULT,
                                  .personal_weight = SOUK_RANK_PROFILE_DEFAULT_PERSONAL_WEIGHT};
    p->typo = p->prefix = p->and_op = -1;
    const cJSON *it;
    cJSON_ArrayForEach(it, root)
    {
        const char *k = it->string;
        if (strcmp(k, "bm25") == 0)
            rc = parse_bm25(&x, it, p);
        else if (strcmp(k, "fields") == 0)
            rc = parse_fields(&x, it, p);
        else if (strcmp(k, "proximity") == 0)
            rc = parse_proximity(&x, it, p);
        else if (strcmp(k, "boosts") == 0)
            rc = parse_boosts(&x, it, p);
        else if (strcmp(k, "personalization") == 0)
            rc = number(&x, it, "personalization", 0, 10, &p->rank.personal_weight);
        else if (strcmp(k, "defaults") == 0)
            rc = parse_defaults(&x, it, p);
        else if (strcmp(k, "synonyms") == 0)
            rc = parse_synonyms(&x, it, p);
        else if (strcmp(k, "stop_words") == 0)
            rc = parse_stop_words(&x, it, p);
        else if (strcmp(k, "curation") == 0)
            rc = parse_curation(&x, it, p);
        else
            rc = fail(&x, SOUK_EINVAL,
                      "%.64s: unknown member (bm25, fields, proximity, boosts, personalization, "
                      "defaults, synonyms, stop_words, curation)",
                      k);
        if (rc)
            goto out;
    }
out:
    cJSON_Delete(root);
    if (rc) {
        if (rc == SOUK_ENOMEM)
            snprintf(err, errlen, "out of memory");
        souk_profile_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

void souk_profile_free(souk_profile *p)
{
    if (!p)
        return;
    souk_free(p->sort);
    souk_free(p->boost);
    for (size_t i = 0; i < p->ngroups; i++) {
        for (size_t j = 0; p->groups[i][j]; j++)
            souk_free(p->groups[i][j]);
        souk_free(p->groups[i]);
    }
    souk_free(p->groups);
    for (size_t i = 0; i < p->nstop; i++)
        souk_free(p->stop[i]);
    souk_free(p->stop);
    for (size_t i = 0; i < p->nrules; i++) {
        souk_curation_rule *r = &p->rules[i];
        souk_free(r->query);
        for (size_t j = 0; j < r->npins; j++)
            souk_free(r->pins[j].id);
        souk_free(r->pins);
        for (size_t j = 0; j < r->nhide; j++)
            souk_free(r->hide[j]);
        souk_free(r->hide);
    }
    souk_free(p->rules);
    souk_free(p);
}

/* ------------------------------------------------------------------ normal form */

/* The base letters of U+00C0..U+017F (Latin-1 Supplement and Latin Extended-A), lower case;
 * 0 where the code point is not a letter with an accent. Capitals are already lowered by the
 * analyzer. */
static const char *const latin_base =
    /* C0 */ "aaaaaaaceeeeiiii"
             /* D0 */ "dnooooo\0ouuuuyts"
             /* E0 */ "aaaaaaaceeeeiiii"
             /* F0 */ "dnooooo\0ouuuuyty"
             /* 100 */ "aaaaaaccccccccdd"
             /* 110 */ "ddeeeeeeeeeegggg"
             /* 120 */ "gggghhhhiiiiiiii"
             /* 130 */ "iiiijjkkklllllll"
             /* 140 */ "lllnnnnnnnnnoooo"
             /* 150 */ "oooorrrrrrssssss"
             /* 160 */ "ssttttttuuuuuuuu"
             /* 170 */ "uuuuwwyyyzzzzzzs";

typedef struct norm_out {
    char *out;
    size_t cap, len;
    int full;
} norm_out;

static void norm_term(void *ctx, const char *term, size_t len, uint32_t pos, uint32_t wdf_inc)
{
    (void)wdf_inc;
    norm_out *o = ctx;
    if (pos == 0 || o->full || len == 0)
        return;
    char w[SOUK_PROFILE_MAX_TEXT * 2];
    size_t wl = 0;
    for (size_t i = 0; i < len && wl + 4 < sizeof w;) {
        unsigned char c = (unsigned char)term[i];
        if ((c == 0xC3 || c == 0xC4 || c == 0xC5) && i + 1 < len) {
            unsigned cp = ((unsigned)(c & 0x1F) << 6) | ((unsigned char)term[i + 1] & 0x3F);
            if (cp >= 0xC0 && cp <= 0x17F && latin_base[cp - 0xC0]) {
                if (cp == 0xDF) { /* ß */
                    w[wl++] = 's';
                    w[wl++] = 's';
                } else if (cp == 0xE6 || cp == 0xC6) { /* æ */
                    w[wl++] = 'a';
                    w[wl++] = 'e';
                } else {
                    w[wl++] = latin_base[cp - 0xC0];
                }
                i += 2;
                continue;
            }
        }
        w[wl++] = (char)c;
        i++;
    }
    size_t need = wl + (o->len ? 1 : 0);
    if (o->len + need + 1 > o->cap) {
        o->full = 1;
        return;
    }
    if (o->len)
        o->out[o->len++] = ' ';
    memcpy(o->out + o->len, w, wl);
    o->len += wl;
    o->out[o->len] = 0;
}

size_t souk_profile_normalize(souk_analyzer *a, const char *q, size_t n, char *out, size_t cap)
{
    norm_out o = {out, cap, 0, 0};
    if (cap)
        out[0] = 0;
    uint32_t pos = 0;
    if (cap == 0 || souk_analyze(a, q, n, "none", "", 1, &pos, norm_term, &o) != 0) {
        if (cap)
            out[0] = 0;
        return 0;
    }
    return o.len;
}

const souk_curation_rule *souk_profile_rule(const souk_profile *p, const char *q, size_t n,
                                            const char *norm)
{
    while (n && (*q == ' ' || *q == '\t')) {
        q++;
        n--;
    }
    while (n && (q[n - 1] == ' ' || q[n - 1] == '\t'))
        n--;
    const souk_curation_rule *best = NULL;
    for (size_t i = 0; i < p->nrules; i++) {
        const souk_curation_rule *r = &p->rules[i];
        if (!r->normalized && strlen(r->query) == n && memcmp(r->query, q, n) == 0)
            return r;
        if (r->normalized && !best && norm && norm[0] && strcmp(r->query, norm) == 0)
            best = r;
    }
    return best;
}
