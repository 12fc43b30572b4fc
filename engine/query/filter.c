/* filter.c: the filter expression language of souk/browse.h: a recursive-descent parser into
 * a small tree, checked against the schema (field exists, is filterable, value has the field's
 * type), and its evaluation on the attribute columns. */
#include "souk/buf.h"
#include "query/filter_int.h"
#include "souk/souk.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NODES 512
#define MAX_DEPTH 32
#define MAX_IN 1024

typedef struct parser {
    const souk_schema *s;
    const char *p, *start, *end;
    souk_filter *f;
    char *err;
    size_t errlen;
    int depth;
    int oom; /* a failure was out of memory, not the expression */
} parser;

static int fail(parser *ps, const char *fmt, const char *what)
{
    if (strncmp(fmt, "out of memory", 13) == 0)
        ps->oom = 1;
    char msg[200];
    snprintf(msg, sizeof msg, fmt, what ? what : "");
    snprintf(ps->err, ps->errlen, "filter: %s (at byte %ld)", msg, (long)(ps->p - ps->start));
    return -1;
}

static void skip_ws(parser *ps)
{
    while (ps->p < ps->end && isspace((unsigned char)*ps->p))
        ps->p++;
}

/* Matches keyword kw (case-insensitive, whole word). */
static int accept_kw(parser *ps, const char *kw)
{
    skip_ws(ps);
    size_t n = strlen(kw);
    if ((size_t)(ps->end - ps->p) < n || strncasecmp(ps->p, kw, n) != 0)
        return 0;
    if (ps->p + n < ps->end && (isalnum((unsigned char)ps->p[n]) || ps->p[n] == '_'))
        return 0;
    ps->p += n;
    return 1;
}

static int accept_ch(parser *ps, char c)
{
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == c) {
        ps->p++;
        return 1;
    }
    return 0;
}

static int new_node(parser *ps, int kind)
{
    souk_filter *f = ps->f;
    if (f->n == MAX_NODES)
        return fail(ps, "more than 512 conditions%s", NULL);
    if (souk_grow((void **)&f->nodes, &f->cap, f->n + 1, sizeof *f->nodes, MAX_NODES))
        return fail(ps, "out of memory%s", NULL);
    memset(&f->nodes[f->n], 0, sizeof f->nodes[f->n]);
    f->nodes[f->n].kind = kind;
    f->nodes[f->n].a = f->nodes[f->n].b = -1;
    return (int)f->n++;
}

/* A value: "quoted", a number, or a bare word. *str gets an owned copy for strings. */
static int parse_value(parser *ps, char **str, size_t *slen, double *num, int *is_num)
{
    skip_ws(ps);
    *str = NULL;
    *is_num = 0;
    if (ps->p >= ps->end)
        return fail(ps, "a value is missing%s", NULL);
    if (*ps->p == '"' || *ps->p == '\'') {
        char q = *ps->p++;
        char *buf = souk_malloc((size_t)(ps->end - ps->p) + 1);
        size_t n = 0;
        if (!buf)
            return fail(ps, "out of memory%s", NULL);
        while (ps->p < ps->end && *ps->p != q) {
            if (*ps->p == '\\' && ps->p + 1 < ps->end)
                ps->p++;
            buf[n++] = *ps->p++;
        }
        if (ps->p >= ps->end) {
            souk_free(buf);
            return fail(ps, "a quoted value is not closed%s", NULL);
        }
        ps->p++;
        buf[n] = 0;
        *str = buf;
        *slen = n;
        return 0;
    }
    const char *b = ps->p;
    while (ps->p < ps->end && !isspace((unsigned char)*ps->p) && !strchr("()[],=!<>\"'", *ps->p))
        ps->p++;
    if (ps->p == b)
        return fail(ps, "a value is missing%s", NULL);
    size_t n = (size_t)(ps->p - b);
    char tmp[64];
    if (n < sizeof tmp) {
        memcpy(tmp, b, n);
        tmp[n] = 0;
        char *e;
        errno = 0;
        double d = strtod(tmp, &e);
        if (*e == 0 && errno == 0 && isfinite(d)) {
            *num = d;
            *is_num = 1;
        }
    }
    *str = souk_strndup(b, n);
    *slen = n;
    return *str ? 0 : fail(ps, "out of memory%s", NULL);
}

/* Checks a value against field fd and stores it in node x. */
static int set_value(parser *ps, fnode *x, const souk_field *fd, char *str, size_t slen, double num,
                     int is_num)
{
    if (fd->type == SOUK_FIELD_NUMBER) {
        souk_free(str);
        if (!is_num)
            return fail(ps, "field '%s' takes a number", fd->name);
        if (x->nvals == 0)
            x->lo = num;
        else
            x->hi = num;
        x->nvals++;
        return 0;
    }
    if (fd->type == SOUK_FIELD_BOOL) {
        int t = slen == 4 && strncasecmp(str, "true", 4) == 0;
        int f = slen == 5 && strncasecmp(str, "false", 5) == 0;
        souk_free(str);
        if (!t && !f)
            return fail(ps, "field '%s' takes true or false", fd->name);
        x->lo = t ? 1 : 0;
        x->nvals = 1;
        return 0;
    }
    if (x->nvals == MAX_IN) {
        souk_free(str);
        return fail(ps, "IN takes at most 1024 values%s", NULL);
    }
    char **v = souk_realloc(x->strs, (x->nvals + 1) * sizeof *v);
    size_t *l = v ? souk_realloc(x->lens, (x->nvals + 1) * sizeof *l) : NULL;
    if (v)
        x->strs = v;
    if (!v || !l) {
        souk_free(str);
        return fail(ps, "out of memory%s", NULL);
    }
    x->lens = l;
    x->strs[x->nvals] = str;
    x->lens[x->nvals++] = slen;
    return 0;
}

static int parse_or(parser *ps);

static int parse_cond(parser *ps)
{
    skip_ws(ps);
    const char *b = ps->p;
    while (ps->p < ps->end && (isalnum((unsigned char)*ps->p) || *ps->p == '_' || *ps->p == '.'))
        ps->p++;
    if (ps->p == b)
        return fail(ps, "a field name is expected%s", NULL);
    char name[128];
    size_t nl = (size_t)(ps->p - b);
    if (nl >= sizeof name)
        return fail(ps, "a field name is too long%s", NULL);
    memcpy(name, b, nl);
    name[nl] = 0;
    const souk_field *fd = souk_schema_field(ps->s, name, nl);
    if (!fd)
        return fail(ps, "unknown field '%s'", name);
    if (!(fd->flags & SOUK_F_FILTERABLE))
        return fail(ps, "field '%s' is not filterable", name);
    if (fd->type == SOUK_FIELD_TEXT)
        return fail(ps, "field '%s' is text: search it in q", name);
    int id = new_node(ps, F_CMP);
    if (id < 0)
        return -1;
    fnode *x;
#define X (&ps->f->nodes[id])
    X->field = fd->id;
    char *str;
    size_t slen;
    double num;
    int is_num;
    skip_ws(ps);
    if (accept_kw(ps, "IN")) {
        X->op = OP_IN;
        if (!accept_ch(ps, '['))
            return fail(ps, "IN wants [values]%s", NULL);
        if (fd->type != SOUK_FIELD_KEYWORD)
            return fail(ps, "IN works on keyword fields, not '%s'", name);
        do {
            if (parse_value(ps, &str, &slen, &num, &is_num) ||
                set_value(ps, X, fd, str, slen, num, is_num))
                return -1;
        } while (accept_ch(ps, ','));
        if (!accept_ch(ps, ']'))
            return fail(ps, "']' expected%s", NULL);
        return id;
    }
    static const struct {
        const char *tok;
        int op;
    } ops[] = {{"!=", OP_NE}, {"<=", OP_LE}, {">=", OP_GE},
               {"=", OP_EQ},  {"<", OP_LT},  {">", OP_GT}};
    size_t k = 0;
    for (; k < sizeof ops / sizeof ops[0]; k++) {
        size_t tl = strlen(ops[k].tok);
        if ((size_t)(ps->end - ps->p) >= tl && memcmp(ps->p, ops[k].tok, tl) == 0) {
            ps->p += tl;
            break;
        }
    }
    if (k == sizeof ops / sizeof ops[0]) {
        /* field LOW TO HIGH */
        if (fd->type != SOUK_FIELD_NUMBER)
            return fail(ps, "an operator (=, !=, <, <=, >, >=, IN, TO) is expected after '%s'",
                        name);
        X->op = OP_RANGE;
        if (parse_value(ps, &str, &slen, &num, &is_num) ||
            set_value(ps, X, fd, str, slen, num, is_num))
            return -1;
        if (!accept_kw(ps, "TO"))
            return fail(ps, "an operator (=, !=, <, <=, >, >=, IN, TO) is expected after '%s'",
                        name);
        if (parse_value(ps, &str, &slen, &num, &is_num) ||
            set_value(ps, X, fd, str, slen, num, is_num))
            return -1;
        return id;
    }
    X->op = ops[k].op;
    if (fd->type != SOUK_FIELD_NUMBER && X->op != OP_EQ && X->op != OP_NE)
        return fail(ps, "field '%s' only compares with = and !=", name);
    if (parse_value(ps, &str, &slen, &num, &is_num) || set_value(ps, X, fd, str, slen, num, is_num))
        return -1;
    (void)x;
#undef X
    return id;
}

static int parse_not(parser *ps)
{
    /* The top level is depth 1: MAX_DEPTH levels of brackets (or NOT) are allowed. */
    if (++ps->depth > MAX_DEPTH + 1)
        return fail(ps, "nested more than 32 deep%s", NULL);
    int r;
    if (accept_kw(ps, "NOT")) {
        int id = new_node(ps, F_NOT);
        int kid = id < 0 ? -1 : parse_not(ps);
        if (kid < 0)
            return -1;
        ps->f->nodes[id].a = kid;
        r = id;
    } else if (accept_ch(ps, '(')) {
        r = parse_or(ps);
        if (r >= 0 && !accept_ch(ps, ')'))
            return fail(ps, "')' expected%s", NULL);
    } else {
        r = parse_cond(ps);
    }
    ps->depth--;
    return r;
}

/* A left-associative chain of `next` joined by keyword kw into nodes of kind. */
static int parse_chain(parser *ps, int (*next)(parser *), const char *kw, int kind)
{
    int l = next(ps);
    while (l >= 0 && accept_kw(ps, kw)) {
        int r = next(ps);
        if (r < 0)
            return -1;
        int id = new_node(ps, kind);
        if (id < 0)
            return -1;
        ps->f->nodes[id].a = l;
        ps->f->nodes[id].b = r;
        l = id;
    }
    return l;
}

static int parse_and(parser *ps)
{
    return parse_chain(ps, parse_not, "AND", F_AND);
}

static int parse_or(parser *ps)
{
    return parse_chain(ps, parse_and, "OR", F_OR);
}

void souk_filter_free(souk_filter *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n; i++) {
        for (size_t k = 0; k < f->nodes[i].nvals && f->nodes[i].strs; k++)
            souk_free(f->nodes[i].strs[k]);
        souk_free(f->nodes[i].strs);
        souk_free(f->nodes[i].lens);
    }
    souk_free(f->nodes);
    souk_free(f);
}

int souk_filter_parse(const souk_schema *s, const char *expr, size_t len, souk_filter **out,
                      char *err, size_t errlen)
{
    souk_filter *f = souk_calloc(1, sizeof *f);
    if (!f) {
        snprintf(err, errlen, "filter: out of memory");
        return SOUK_ENOMEM;
    }
    parser ps = {s, expr, expr, expr + len, f, err, errlen, 0, 0};
    int root = parse_or(&ps);
    if (root >= 0) {
        skip_ws(&ps);
        if (ps.p < ps.end)
            root = fail(&ps, "unexpected text after the expression%s", NULL);
    }
    if (root < 0) {
        souk_filter_free(f);
        return ps.oom ? SOUK_ENOMEM : SOUK_EINVAL;
    }
    f->root = root;
    *out = f;
    return 0;
}

/* ------------------------------------------------------------------ evaluation */

/* Collects the top-level AND parts of the tree under i. */
static void conjuncts(const souk_filter *f, int i, int *out, size_t *n, size_t max)
{
    if (f->nodes[i].kind == F_AND) {
        conjuncts(f, f->nodes[i].a, out, n, max);
        conjuncts(f, f->nodes[i].b, out, n, max);
    } else if (*n < max) {
        out[(*n)++] = i;
    } else {
        out[max - 1] = -1; /* too many: the last slot becomes "the rest" (never separated) */
    }
}

/* The field every condition under i tests, or -1 when they test several. */
static int only_field(const souk_filter *f, int i)
{
    const fnode *x = &f->nodes[i];
    if (x->kind == F_CMP)
        return x->field;
    int a = only_field(f, x->a);
    if (x->kind == F_NOT)
        return a;
    int b = only_field(f, x->b);
    return a == b ? a : -1;
}

int souk__filter_compile(const souk_filter *f, const souk__columns *cols, souk__cfilter *cf)
{
    memset(cf, 0, sizeof *cf);
    cf->f = f;
    cf->cols = cols;
    if (!f)
        return 0;
    cf->ords = souk_calloc(f->n, sizeof *cf->ords);
    if (!cf->ords)
        return SOUK_ENOMEM;
    for (size_t i = 0; i < f->n; i++) {
        const fnode *x = &f->nodes[i];
        if (x->kind != F_CMP || !x->strs)
            continue;
        const souk__col *c = &cols->col[x->field];
        cf->ords[i] = souk_malloc((x->nvals ? x->nvals : 1) * sizeof **cf->ords);
        if (!cf->ords[i])
            return SOUK_ENOMEM;
        for (size_t k = 0; k < x->nvals; k++)
            cf->ords[i][k] = souk__col_lookup(c, x->strs[k], x->lens[k]);
    }
    int parts[64];
    size_t n = 0;
    conjuncts(f, f->root, parts, &n, 64);
    for (size_t i = 0; i < n; i++) {
        cf->part[i] = parts[i];
        cf->part_field[i] = parts[i] >= 0 ? only_field(f, parts[i]) : -1;
    }
    cf->nparts = n;
    if (n == 64 && parts[63] == -1) {
        cf->part[63] = f->root; /* over 64 parts: evaluate the whole filter in the last slot */
        cf->part_field[63] = -1;
    }
    return 0;
}

void souk__filter_release(souk__cfilter *cf)
{
    if (cf->ords)
        for (size_t i = 0; i < cf->f->n; i++)
            souk_free(cf->ords[i]);
    souk_free(cf->ords);
    cf->ords = NULL;
}

static int eval(const souk__cfilter *cf, int i, uint32_t d)
{
    const fnode *x = &cf->f->nodes[i];
    switch (x->kind) {
    case F_AND:
        return eval(cf, x->a, d) && eval(cf, x->b, d);
    case F_OR:
        return eval(cf, x->a, d) || eval(cf, x->b, d);
    case F_NOT:
        return !eval(cf, x->a, d);
    default:
        break;
    }
    const souk__col *c = &cf->cols->col[x->field];
    if (c->num) {
        double v = d < cf->cols->ndocs ? c->num[d] : NAN;
        if (isnan(v))
            return x->op == OP_NE;
        switch (x->op) {
        case OP_EQ:
            return v == x->lo;
        case OP_NE:
            return v != x->lo;
        case OP_LT:
            return v < x->lo;
        case OP_LE:
            return v <= x->lo;
        case OP_GT:
            return v > x->lo;
        case OP_GE:
            return v >= x->lo;
        case OP_RANGE:
            return v >= x->lo && v <= x->hi;
        }
        return 0;
    }
    int any = 0;
    if (c->off && d < cf->cols->ndocs) {
        const uint32_t *want = cf->ords[i];
        for (uint32_t k = c->off[d]; k < c->off[d + 1] && !any; k++)
            for (size_t j = 0; j < x->nvals; j++)
                if (want[j] == c->ord[k]) {
                    any = 1;
                    break;
                }
    }
    return x->op == OP_NE ? !any : any;
}

uint64_t souk__filter_failed(const souk__cfilter *cf, uint32_t docid)
{
    uint64_t mask = 0;
    for (size_t i = 0; i < cf->nparts; i++)
        if (!eval(cf, cf->part[i], docid))
            mask |= 1ull << i;
    return mask;
}
