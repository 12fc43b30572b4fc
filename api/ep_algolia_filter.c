/* ep_algolia_filter.c: Algolia's filter parameters in Souk's filter language (souk/browse.h).
 *
 *   facetFilters   ["section:games", ["tags:a", "tags:-b"]]  outer AND, inner OR; "attr:-v"
 *                  negates, "attr:\-v" is the value "-v"          -> parts of an AND
 *   numericFilters ["price>=10", "size:10 TO 20", ["a<1", "b>2"]]  -> parts of an AND
 *   filters        section:games AND (price < 10 OR NOT tags:"a b") AND size:10 TO 20
 *
 * Every attribute is checked against the schema (exists, filterable, the value has its type)
 * and an error names the parameter and the attribute. What Souk's language cannot say is
 * refused by name (docs/algolia.md): tag filters (_tags), optional filters, scores ("<score=N>"),
 * and comparisons between attributes. */
#include "algolia.h"
#include "souk/souk.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 16

static int bad(char *msg, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(char *msg, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, n, fmt, ap);
    va_end(ap);
    return -1;
}

/* The field an attribute names, checked filterable; NULL with msg. */
static const souk_field *attr_field(const souk_schema *s, const char *pname, const char *a,
                                    size_t n, char *msg, size_t msglen)
{
    if (n == 5 && memcmp(a, "_tags", 5) == 0) {
        bad(msg, msglen, "%s: _tags filters are not supported (Souk has no tags attribute)", pname);
        return NULL;
    }
    const souk_field *f = n ? souk_schema_field(s, a, n) : NULL;
    if (!f || !(f->flags & SOUK_F_FILTERABLE) || f->type == SOUK_FIELD_TEXT) {
        bad(msg, msglen, "%s: attribute '%.*s' is %s", pname, (int)(n < 64 ? n : 64), a,
            f ? "not filterable" : "not in the index's schema");
        return NULL;
    }
    return f;
}

/* A number from v[0, n) (trimmed); 0 or -1. */
static int number(const char *v, size_t n, double *out)
{
    while (n && isspace((unsigned char)*v))
        v++, n--;
    while (n && isspace((unsigned char)v[n - 1]))
        n--;
    char tmp[64];
    if (n == 0 || n >= sizeof tmp)
        return -1;
    memcpy(tmp, v, n);
    tmp[n] = 0;
    char *e;
    double d = strtod(tmp, &e);
    if (*e || !isfinite(d))
        return -1;
    *out = d;
    return 0;
}

/* Appends a quoted keyword value. */
static int add_quoted(sk_buf *b, const char *v, size_t n)
{
    if (sk_buf_add(b, "\"", 1))
        return -1;
    for (size_t i = 0; i < n; i++) {
        if ((v[i] == '"' || v[i] == '\\') && sk_buf_add(b, "\\", 1))
            return -1;
        if (sk_buf_add(b, &v[i], 1))
            return -1;
    }
    return sk_buf_add(b, "\"", 1);
}

/* Appends the condition "attribute equals value" (negated: does not hold it). */
static int add_eq(const souk_field *f, sk_buf *b, const char *v, size_t n, int neg,
                  const char *pname, char *msg, size_t msglen)
{
    if (neg && sk_buf_str(b, "NOT "))
        return -1;
    if (sk_buf_printf(b, "%s = ", f->name))
        return -1;
    if (f->type == SOUK_FIELD_NUMBER) {
        double d;
        if (number(v, n, &d))
            return bad(msg, msglen, "%s: attribute '%s' takes a number, not '%.*s'", pname, f->name,
                       (int)(n < 64 ? n : 64), v);
        return sk_buf_printf(b, "%.17g", d);
    }
    if (f->type == SOUK_FIELD_BOOL) {
        int t = n == 4 && strncasecmp(v, "true", 4) == 0;
        int fa = n == 5 && strncasecmp(v, "false", 5) == 0;
        if (!t && !fa)
            return bad(msg, msglen, "%s: attribute '%s' takes true or false", pname, f->name);
        return sk_buf_str(b, t ? "true" : "false");
    }
    return add_quoted(b, v, n);
}

/* One facet filter "attr:value" into b; *field gets its field id. */
static int facet_one(const souk_schema *s, sk_buf *b, const char *str, int *field, char *msg,
                     size_t msglen)
{
    const char *colon = strchr(str, ':');
    if (!colon)
        return bad(msg, msglen, "facetFilters: '%.64s' is not attribute:value", str);
    const souk_field *f = attr_field(s, "facetFilters", str, (size_t)(colon - str), msg, msglen);
    if (!f)
        return -1;
    const char *v = colon + 1;
    int neg = 0;
    if (v[0] == '-')
        neg = 1, v++;
    else if (v[0] == '\\' && v[1] == '-')
        v++;
    *field = f->id;
    return add_eq(f, b, v, strlen(v), neg, "facetFilters", msg, msglen);
}

static const char *const num_ops[] = {"<=", ">=", "!=", "<", ">", "="};

/* One numeric filter "attr<op>number" or "attr:lo TO hi" into b. */
static int numeric_one(const souk_schema *s, sk_buf *b, const char *str, int *field, char *msg,
                       size_t msglen)
{
    size_t an = strcspn(str, "<>=!: ");
    const char *p = str + an;
    while (*p == ' ')
        p++;
    const souk_field *f = attr_field(s, "numericFilters", str, an, msg, msglen);
    if (!f)
        return -1;
    if (f->type != SOUK_FIELD_NUMBER)
        return bad(msg, msglen, "numericFilters: attribute '%s' is not a number", f->name);
    *field = f->id;
    double lo, hi;
    if (*p == ':') {
        const char *to = strstr(p + 1, " TO ");
        if (!to || number(p + 1, (size_t)(to - p - 1), &lo) || number(to + 4, strlen(to + 4), &hi))
            return bad(msg, msglen, "numericFilters: '%.64s' is not attribute:low TO high", str);
        return sk_buf_printf(b, "%s %.17g TO %.17g", f->name, lo, hi);
    }
    for (size_t k = 0; k < sizeof num_ops / sizeof num_ops[0]; k++) {
        size_t ol = strlen(num_ops[k]);
        if (strncmp(p, num_ops[k], ol) == 0) {
            if (number(p + ol, strlen(p + ol), &lo))
                return bad(msg, msglen,
                           "numericFilters: '%.64s' does not compare with a number (comparing "
                           "two attributes is not supported)",
                           str);
            return sk_buf_printf(b, "%s %s %.17g", f->name, num_ops[k], lo);
        }
    }
    return bad(msg, msglen, "numericFilters: '%.64s' has no operator (<, <=, =, !=, >=, >, TO)",
               str);
}

/* Ends the current part: a NUL after it, its field recorded. */
static int end_part(sk_alg_filter *f, size_t start, int field)
{
    if (sk_buf_add(&f->expr, "", 1))
        return -1;
    f->off[f->nparts] = start;
    f->field[f->nparts] = field;
    f->nparts++;
    return 0;
}

int sk_alg_filter_facets(const souk_schema *s, sk_alg_filter *f, const cJSON *v, int numeric,
                         char *msg, size_t msglen)
{
    const char *pname = numeric ? "numericFilters" : "facetFilters";
    cJSON *owned = NULL;
    if (cJSON_IsString(v)) {
        /* The string forms: a JSON array, or comma-separated filters (an AND). */
        const char *str = v->valuestring;
        if (str[0] == '[') {
            owned = cJSON_Parse(str);
            if (!cJSON_IsArray(owned)) {
                cJSON_Delete(owned);
                return bad(msg, msglen, "%s: not a JSON array", pname);
            }
        } else {
            owned = cJSON_CreateArray();
            const char *p = str;
            while (owned && *p) {
                size_t n = strcspn(p, ",");
                char *one = souk_strndup(p, n);
                cJSON *it = one ? cJSON_CreateString(one) : NULL;
                souk_free(one);
                if (!it) {
                    cJSON_Delete(owned);
                    return bad(msg, msglen, "out of memory");
                }
                cJSON_AddItemToArray(owned, it);
                p += n;
                if (*p == ',')
                    p++;
            }
        }
        v = owned;
    }
    if (!cJSON_IsArray(v))
        return bad(msg, msglen, "%s must be an array (of strings or arrays of strings)", pname);
    int rc = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, v)
    {
        if (f->nparts == SK_ALG_MAX_PARTS) {
            rc = bad(msg, msglen, "%s: at most %d filters in all", pname, SK_ALG_MAX_PARTS);
            break;
        }
        size_t start = f->expr.len;
        int field = -2;
        if (cJSON_IsString(it)) {
            rc = numeric ? numeric_one(s, &f->expr, it->valuestring, &field, msg, msglen)
                         : facet_one(s, &f->expr, it->valuestring, &field, msg, msglen);
        } else if (cJSON_IsArray(it)) {
            const cJSON *o;
            int n = 0;
            rc = sk_buf_str(&f->expr, "(");
            cJSON_ArrayForEach(o, it)
            {
                int fo = -1;
                if (!cJSON_IsString(o)) {
                    rc = bad(msg, msglen,
                             "%s: an inner array holds strings only (arrays nest two deep)", pname);
                    break;
                }
                if (++n > 256) {
                    rc = bad(msg, msglen, "%s: at most 256 filters in an OR", pname);
                    break;
                }
                if (n > 1 && sk_buf_str(&f->expr, " OR "))
                    rc = -1;
                if (rc || (rc = numeric ? numeric_one(s, &f->expr, o->valuestring, &fo, msg, msglen)
                                        : facet_one(s, &f->expr, o->valuestring, &fo, msg, msglen)))
                    break;
                field = field == -2 || field == fo ? fo : -1;
            }
            if (!rc && n == 0)
                rc = bad(msg, msglen, "%s: an inner array is empty", pname);
            if (!rc)
                rc = sk_buf_str(&f->expr, ")");
        } else {
            rc = bad(msg, msglen, "%s: an element is neither a string nor an array of strings",
                     pname);
        }
        if (rc || (rc = end_part(f, start, field < 0 ? -1 : field)))
            break;
    }
    cJSON_Delete(owned);
    if (rc && !msg[0])
        bad(msg, msglen, "out of memory");
    return rc ? -1 : 0;
}

/* ------------------------------------------------------------------ filters */

typedef struct fparser {
    const souk_schema *s;
    const char *p, *end;
    sk_buf *out;
    sk_alg_filter *f;
    char *msg;
    size_t msglen;
    int depth;
} fparser;

static void ws(fparser *ps)
{
    while (ps->p < ps->end && isspace((unsigned char)*ps->p))
        ps->p++;
}

static int kw(fparser *ps, const char *k)
{
    ws(ps);
    size_t n = strlen(k);
    if ((size_t)(ps->end - ps->p) >= n && memcmp(ps->p, k, n) == 0 &&
        (ps->p + n == ps->end || isspace((unsigned char)ps->p[n]) || ps->p[n] == '(')) {
        ps->p += n;
        return 1;
    }
    return 0;
}

/* An attribute name or a value: "quoted" (with \ escapes) or a bare token. into tok. */
static int token(fparser *ps, sk_buf *tok, int value)
{
    ws(ps);
    tok->len = 0;
    if (ps->p < ps->end && (*ps->p == '"' || *ps->p == '\'')) {
        char q = *ps->p++;
        while (ps->p < ps->end && *ps->p != q) {
            if (*ps->p == '\\' && ps->p + 1 < ps->end)
                ps->p++;
            if (sk_buf_add(tok, ps->p++, 1))
                return -1;
        }
        if (ps->p >= ps->end)
            return bad(ps->msg, ps->msglen, "filters: a quoted string is not closed");
        ps->p++;
    } else {
        const char *stop = value ? "() \t\r\n" : "():<>=! \t\r\n";
        const char *b = ps->p;
        while (ps->p < ps->end && !strchr(stop, *ps->p))
            ps->p++;
        if (ps->p == b)
            return bad(ps->msg, ps->msglen, "filters: %s expected at '%.20s'",
                       value ? "a value" : "an attribute", ps->p < ps->end ? ps->p : "the end");
        if (sk_buf_add(tok, b, (size_t)(ps->p - b)))
            return -1;
    }
    return sk_buf_add(tok, "", 1) ? -1 : 0;
}

static int f_or(fparser *ps);

static int f_cond(fparser *ps)
{
    sk_buf a = {0}, v = {0}, w = {0};
    int rc = token(ps, &a, 0);
    const souk_field *f =
        rc ? NULL : attr_field(ps->s, "filters", a.p, a.len - 1, ps->msg, ps->msglen);
    if (!f) {
        rc = -1;
        goto out;
    }
    ps->f->filters_fields[f->id / 64] |= 1ull << (f->id % 64);
    ws(ps);
    if (ps->p < ps->end && *ps->p == ':') {
        ps->p++;
        if ((rc = token(ps, &v, 1)))
            goto out;
        const char *save = ps->p;
        if (kw(ps, "TO")) {
            double lo, hi;
            if ((rc = token(ps, &w, 1)))
                goto out;
            if (f->type != SOUK_FIELD_NUMBER || number(v.p, v.len - 1, &lo) ||
                number(w.p, w.len - 1, &hi)) {
                rc = bad(ps->msg, ps->msglen,
                         "filters: '%s:%s TO %s' needs a number attribute and numbers", f->name,
                         v.p, w.p);
                goto out;
            }
            rc = sk_buf_printf(ps->out, "%s %.17g TO %.17g", f->name, lo, hi);
            goto out;
        }
        ps->p = save;
        if (v.len > 1 && v.p[0] == '<') {
            rc = bad(ps->msg, ps->msglen, "filters: scores (<score=N>) are not supported");
            goto out;
        }
        rc = add_eq(f, ps->out, v.p, v.len - 1, 0, "filters", ps->msg, ps->msglen);
        goto out;
    }
    for (size_t k = 0; k < sizeof num_ops / sizeof num_ops[0]; k++) {
        size_t ol = strlen(num_ops[k]);
        if ((size_t)(ps->end - ps->p) >= ol && memcmp(ps->p, num_ops[k], ol) == 0) {
            ps->p += ol;
            double d;
            if ((rc = token(ps, &v, 1)))
                goto out;
            if (f->type != SOUK_FIELD_NUMBER || number(v.p, v.len - 1, &d)) {
                rc = bad(ps->msg, ps->msglen,
                         "filters: '%s %s %s' compares a number attribute with a number", f->name,
                         num_ops[k], v.p);
                goto out;
            }
            rc = sk_buf_printf(ps->out, "%s %s %.17g", f->name, num_ops[k], d);
            goto out;
        }
    }
    rc = bad(ps->msg, ps->msglen, "filters: attribute '%s' is not followed by ':' or an operator",
             f->name);
out:
    sk_buf_free(&a);
    sk_buf_free(&v);
    sk_buf_free(&w);
    return rc;
}

static int f_not(fparser *ps)
{
    if (++ps->depth > MAX_DEPTH)
        return bad(ps->msg, ps->msglen, "filters: nested more than %d deep", MAX_DEPTH);
    int rc;
    if (kw(ps, "NOT")) {
        rc = sk_buf_str(ps->out, "NOT ");
        if (!rc)
            rc = f_not(ps);
    } else {
        ws(ps);
        if (ps->p < ps->end && *ps->p == '(') {
            ps->p++;
            rc = sk_buf_str(ps->out, "(");
            if (!rc)
                rc = f_or(ps);
            ws(ps);
            if (!rc && (ps->p >= ps->end || *ps->p != ')'))
                rc = bad(ps->msg, ps->msglen, "filters: ')' expected");
            if (!rc) {
                ps->p++;
                rc = sk_buf_str(ps->out, ")");
            }
        } else {
            rc = f_cond(ps);
        }
    }
    ps->depth--;
    return rc;
}

static int f_and(fparser *ps)
{
    int rc = f_not(ps);
    while (!rc && kw(ps, "AND"))
        rc = sk_buf_str(ps->out, " AND ") ? -1 : f_not(ps);
    return rc;
}

static int f_or(fparser *ps)
{
    int rc = f_and(ps);
    while (!rc && kw(ps, "OR"))
        rc = sk_buf_str(ps->out, " OR ") ? -1 : f_and(ps);
    return rc;
}

int sk_alg_filter_filters(const souk_schema *s, sk_alg_filter *f, const char *src, size_t len,
                          char *msg, size_t msglen)
{
    msg[0] = 0;
    fparser ps = {s, src, src + len, &f->filters, f, msg, msglen, 0};
    ws(&ps);
    if (ps.p == ps.end)
        return 0;
    int rc = f_or(&ps);
    ws(&ps);
    if (!rc && ps.p != ps.end)
        rc =
            bad(msg, msglen, "filters: unexpected '%.20s' (at byte %ld)", ps.p, (long)(ps.p - src));
    if (rc && !msg[0])
        bad(msg, msglen, "out of memory");
    if (rc)
        f->filters.len = 0;
    return rc ? -1 : 0;
}

int sk_alg_filter_join(const sk_alg_filter *f, sk_buf *out)
{
    out->len = 0;
    for (size_t i = 0; i < f->nparts; i++)
        if ((i && sk_buf_str(out, " AND ")) || sk_buf_str(out, f->expr.p + f->off[i]))
            return -1;
    if (f->filters.len) {
        if ((f->nparts && sk_buf_str(out, " AND ")) || sk_buf_str(out, "(") ||
            sk_buf_add(out, f->filters.p, f->filters.len) || sk_buf_str(out, ")"))
            return -1;
    }
    return sk_buf_add(out, "", 1) ? -1 : (out->len--, 0);
}

void sk_alg_filter_free(sk_alg_filter *f)
{
    sk_buf_free(&f->expr);
    sk_buf_free(&f->filters);
}
