/* browse.c: souk_find, storefront search over the whole match set (souk/browse.h). Every
 * document matching the query is visited once (souk_search_each): the filter's top-level parts
 * are evaluated on the columns, the facets count it when it passes every part except those of
 * their own field, and the documents passing everything compete in a heap of offset + limit
 * ordered by the sort keys. */
#include "catalog/columns.h"
#include "query/filter_int.h"
#include "catalog/reader.h"
#include "core/topk.h"
#include "query/match_int.h"
#include "souk/browse.h"
#include "souk/souk.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fctx {
    const souk_find_opts *o;
    souk__columns *cols;
    souk__cfilter cf;
    uint64_t own[SOUK_MAX_FACETS];
    uint64_t *count[SOUK_MAX_FACETS];
    uint64_t matched[SOUK_MAX_FACETS];
    double smin[SOUK_MAX_FACETS], smax[SOUK_MAX_FACETS], ssum[SOUK_MAX_FACETS];
    uint64_t scount[SOUK_MAX_FACETS];
    souk_hit *heap;
    size_t n, k;
    uint64_t total;
    uint32_t after_pos[SOUK_MAX_SORT]; /* string keys of o->after: souk__col_key_pos */
} fctx;

/* Compares two hits by the sort keys: < 0 when a comes first. */
static int order(const fctx *c, const souk_hit *a, const souk_hit *b)
{
    const souk_find_opts *o = c->o;
    for (size_t i = 0; i < o->nsort; i++) {
        const souk_sort_key *k = &o->sort[i];
        if (k->field < 0) {
            if (a->score != b->score)
                return (a->score > b->score) == !!k->desc ? -1 : 1;
            continue;
        }
        const souk__col *col = &c->cols->col[k->field];
        if (col->num) {
            double x = col->num[a->docid], y = col->num[b->docid];
            int xn = isnan(x), yn = isnan(y);
            if (xn || yn) {
                if (xn != yn)
                    return xn ? 1 : -1; /* absent values last */
                continue;
            }
            if (x != y)
                return (x < y) == !k->desc ? -1 : 1;
        } else {
            uint32_t ox = col->sord[a->docid], oy = col->sord[b->docid];
            if (ox == UINT32_MAX || oy == UINT32_MAX) {
                if (ox != oy)
                    return ox == UINT32_MAX ? 1 : -1; /* absent values last */
                continue;
            }
            uint32_t rx = col->rank[ox], ry = col->rank[oy];
            if (rx != ry)
                return (rx < ry) == !k->desc ? -1 : 1;
        }
    }
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    return a->docid < b->docid ? -1 : a->docid > b->docid;
}

/* 1 when a comes after b in the requested order. */
static inline int order_after(const fctx *c, const souk_hit *a, const souk_hit *b)
{
    return order(c, a, b) > 0;
}

/* The heap keeps the k first documents; its root is the last of them. */
SOUK_TOPK_DEFINE(firsts, souk_hit, fctx, order_after)

static void offer(fctx *c, uint32_t docid, double score)
{
    firsts_offer(c, c->heap, &c->n, c->k, (souk_hit){docid, score});
}

/* 1 when (docid, score) comes after the cursor position in the order. */
static int after_cursor(const fctx *c, uint32_t docid, double score)
{
    const souk_find_opts *o = c->o;
    const souk_find_after *a = o->after;
    for (size_t i = 0; i < o->nsort; i++) {
        const souk_sort_key *k = &o->sort[i];
        double x, y;
        if (k->field < 0) {
            x = score;
            y = a->score;
        } else if (!c->cols->col[k->field].num) {
            const souk__col *col = &c->cols->col[k->field];
            uint32_t o = col->sord[docid];
            int xn = o == UINT32_MAX, yn = a->klen[i] == SOUK_SORT_KEY_ABSENT;
            if (xn || yn) {
                if (xn != yn)
                    return xn; /* absent values come last */
                continue;
            }
            uint32_t xp = 2 * col->rank[o] + 1, yp = c->after_pos[i];
            if (xp != yp)
                return (xp < yp) == !!k->desc;
            continue;
        } else {
            x = c->cols->col[k->field].num[docid];
            y = a->vals[i];
            int xn = isnan(x), yn = isnan(y);
            if (xn || yn) {
                if (xn != yn)
                    return xn; /* absent values come last */
                continue;
            }
        }
        if (x != y)
            return (x < y) == !!k->desc; /* descending: smaller comes after */
    }
    if (score != a->score)
        return score < a->score;
    return docid > a->docid;
}

void souk_find_position(const souk_find_result *res, const souk_find_opts *o, size_t i,
                        souk_find_after *out)
{
    memset(out, 0, sizeof *out);
    const souk_hit *h = &res->hits[i];
    for (size_t k = 0; k < o->nsort; k++) {
        int f = o->sort[k].field;
        const souk__col *col = f >= 0 ? &res->cols->col[f] : NULL;
        out->vals[k] = col && col->num ? col->num[h->docid] : NAN;
        out->klen[k] = SOUK_SORT_KEY_ABSENT;
        if (col && col->sord && col->sord[h->docid] != UINT32_MAX) {
            uint32_t ord = col->sord[h->docid];
            out->klen[k] = col->klens[ord];
            memcpy(out->key[k], col->keys[ord], col->klens[ord]);
        }
    }
    out->score = h->score;
    out->docid = h->docid;
}

double souk_find_boost(const souk_find_result *res, const souk_find_opts *o, uint32_t docid,
                       double *value)
{
    double v = NAN;
    if (o->boost_field >= 0 && res->cols && docid < res->cols->ndocs &&
        res->cols->col[o->boost_field].num)
        v = res->cols->col[o->boost_field].num[docid];
    if (value)
        *value = v;
    /* The same operations as on_match, so the parts add up to the score exactly. */
    return !isnan(v) && v > 0 ? o->boost_weight * log1p(v) : 0;
}

/* 1 when docid is in the sorted ex[0, n). */
static int excluded(const uint32_t *ex, size_t n, uint32_t docid)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ex[mid] == docid)
            return 1;
        if (ex[mid] < docid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

static int on_match(void *ctx, uint32_t docid, double score)
{
    fctx *c = ctx;
    const souk_find_opts *o = c->o;
    if (docid >= c->cols->ndocs)
        return 0; /* newer than the columns: cannot happen within one snapshot */
    if (o->nexclude && excluded(o->exclude, o->nexclude, docid))
        return 0;
    uint64_t failed = c->cf.nparts ? souk__filter_failed(&c->cf, docid) : 0;
    for (size_t f = 0; f < o->nfacets; f++) {
        if (failed & ~c->own[f])
            continue;
        const souk_facet_spec *sp = &o->facets[f];
        const souk__col *col = &c->cols->col[sp->field];
        c->matched[f]++;
        if (sp->stats && !sp->nedges) {
            double v = col->num[docid];
            if (isnan(v))
                continue;
            if (!c->scount[f] || v < c->smin[f])
                c->smin[f] = v;
            if (!c->scount[f] || v > c->smax[f])
                c->smax[f] = v;
            c->ssum[f] += v;
            c->scount[f]++;
        } else if (sp->nedges) {
            double v = col->num[docid];
            if (isnan(v))
                continue;
            for (size_t b = 0; b + 1 < sp->nedges; b++)
                if (v >= sp->edges[b] && v < sp->edges[b + 1]) {
                    c->count[f][b]++;
                    break;
                }
        } else if (col->num) {
            double v = col->num[docid];
            if (!isnan(v))
                c->count[f][v != 0]++;
        } else {
            for (uint32_t k = col->off[docid]; k < col->off[docid + 1]; k++)
                c->count[f][col->ord[k]]++;
        }
    }
    if (failed)
        return 0;
    c->total++;
    if (o->boost_field >= 0) {
        double v = c->cols->col[o->boost_field].num[docid];
        if (!isnan(v) && v > 0)
            score += o->boost_weight * log1p(v);
    }
    if (o->after && !after_cursor(c, docid, score))
        return 0;
    offer(c, docid, score);
    return 0;
}

static int cmp_hit_order(const void *a, const void *b, void *ctx)
{
    return order(ctx, a, b);
}

typedef struct vc {
    uint32_t ord;
    uint64_t count;
    const char *val;
} vc;

static int cmp_vc(const void *a, const void *b)
{
    const vc *x = a, *y = b;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return strcmp(x->val, y->val);
}

void souk_find_result_free(souk_find_result *res)
{
    souk_free(res->hits);
    for (size_t f = 0; f < res->nfacets; f++)
        souk_free(res->facets[f].values);
    souk__columns_release(res->cols);
    memset(res, 0, sizeof *res);
}

/* Checks that the options fit the schema and the columns. */
static int check_opts(const souk_schema *s, const souk__columns *cols, const souk_find_opts *o,
                      char *err, size_t errlen)
{
    if (o->nsort > SOUK_MAX_SORT || o->nfacets > SOUK_MAX_FACETS) {
        snprintf(err, errlen, "at most %d sort keys and %d facets", SOUK_MAX_SORT, SOUK_MAX_FACETS);
        return SOUK_EINVAL;
    }
    for (size_t i = 0; i < o->nsort; i++) {
        int f = o->sort[i].field;
        if (f < 0)
            continue;
        if ((size_t)f >= s->nfields || !(s->fields[f].flags & SOUK_F_SORTABLE) ||
            !cols->col[f].present || (!cols->col[f].num && !cols->col[f].sord)) {
            snprintf(err, errlen, "field '%s' is not sortable",
                     (size_t)f < s->nfields ? s->fields[f].name : "?");
            return SOUK_EINVAL;
        }
    }
    for (size_t i = 0; i < o->nfacets; i++) {
        const souk_facet_spec *sp = &o->facets[i];
        int f = sp->field;
        if (f < 0 || (size_t)f >= s->nfields || !(s->fields[f].flags & SOUK_F_FACETABLE) ||
            !cols->col[f].present) {
            snprintf(err, errlen, "field '%s' is not facetable",
                     f >= 0 && (size_t)f < s->nfields ? s->fields[f].name : "?");
            return SOUK_EINVAL;
        }
        if (sp->nedges && s->fields[f].type != SOUK_FIELD_NUMBER) {
            snprintf(err, errlen, "range facets need a number field; '%s' is not one",
                     s->fields[f].name);
            return SOUK_EINVAL;
        }
        if (sp->nedges == 1 || sp->nedges > SOUK_MAX_RANGES + 1) {
            snprintf(err, errlen, "a range facet on '%s' needs 2 to %d edges", s->fields[f].name,
                     SOUK_MAX_RANGES + 1);
            return SOUK_EINVAL;
        }
        for (size_t b = 1; b < sp->nedges; b++)
            if (!(sp->edges[b] > sp->edges[b - 1])) {
                snprintf(err, errlen, "the range edges of '%s' must increase", s->fields[f].name);
                return SOUK_EINVAL;
            }
        if (sp->stats && (sp->nedges || s->fields[f].type != SOUK_FIELD_NUMBER)) {
            snprintf(err, errlen, "statistics need a number field without edges; '%s' is not one",
                     s->fields[f].name);
            return SOUK_EINVAL;
        }
        if (!sp->nedges && !sp->stats && s->fields[f].type == SOUK_FIELD_NUMBER) {
            snprintf(err, errlen, "facet on number field '%s' needs range edges",
                     s->fields[f].name);
            return SOUK_EINVAL;
        }
    }
    if (o->boost_field >= 0 &&
        ((size_t)o->boost_field >= s->nfields || !cols->col[o->boost_field].num)) {
        snprintf(err, errlen, "boost field '%s' is not a number attribute",
                 (size_t)o->boost_field < s->nfields ? s->fields[o->boost_field].name : "?");
        return SOUK_EINVAL;
    }
    return 0;
}

int souk_find(souk_searcher *s, const souk_query *q, const souk_find_opts *o, souk_find_result *res,
              char *err, size_t errlen)
{
    memset(res, 0, sizeof *res);
    err[0] = 0;
    fctx c = {.o = o};
    souk_reader *r = souk_searcher_reader(s);
    int rc = souk__columns_get(r, s->generation, s->next_docid, &c.cols);
    if (rc) {
        snprintf(err, errlen, "reading the attribute columns: %s", souk_strerror(rc));
        return rc;
    }
    const souk_schema *sc = souk_index_schema(souk__reader_index(r));
    if ((rc = check_opts(sc, c.cols, o, err, errlen)) != 0 ||
        (rc = souk__filter_compile(o->filter, c.cols, &c.cf)) != 0)
        goto fail;
    for (size_t f = 0; f < o->nfacets; f++) {
        for (size_t p = 0; p < c.cf.nparts && !o->facets[f].conjunctive; p++)
            if (c.cf.part_field[p] == o->facets[f].field)
                c.own[f] |= 1ull << p;
        const souk__col *col = &c.cols->col[o->facets[f].field];
        size_t n = o->facets[f].nedges ? o->facets[f].nedges : col->num ? 2 : col->nvals;
        if (o->facets[f].stats)
            n = 1;
        c.count[f] = souk_calloc(n ? n : 1, sizeof *c.count[f]);
        if (!c.count[f]) {
            rc = SOUK_ENOMEM;
            goto fail;
        }
    }
    for (size_t i = 0; o->after && i < o->nsort; i++) {
        const souk__col *col = o->sort[i].field >= 0 ? &c.cols->col[o->sort[i].field] : NULL;
        if (col && col->sord && o->after->klen[i] != SOUK_SORT_KEY_ABSENT)
            c.after_pos[i] = souk__col_key_pos(col, o->after->key[i], o->after->klen[i]);
    }
    c.k = (size_t)o->offset + o->limit;
    c.heap = souk_malloc((c.k ? c.k : 1) * sizeof *c.heap);
    if (!c.heap) {
        rc = SOUK_ENOMEM;
        goto fail;
    }
    /* Browsing (no query): every document, unscored, so the order without sort keys is the
     * index order (and no document length is read). */
    souk_qnode all[2] = {{.op = SOUK_QOP_SCALE_WEIGHT, .first_kid = 0, .nkids = 1, .scale = 0},
                         {.op = SOUK_QOP_MATCH_ALL}};
    uint32_t all_kid = 1;
    souk_query browse = {.nodes = all, .nnodes = 2, .kids = &all_kid, .nkids = 1, .root = 0};
    rc = souk_search_each(s, q ? q : &browse, &o->search, on_match, &c, err, errlen);
    if (rc)
        goto fail;
    res->stopped = souk_search_stopped(s);
    qsort_r(c.heap, c.n, sizeof *c.heap, cmp_hit_order, &c);
    res->total = c.total;
    if (c.n > o->offset) {
        res->nhits = c.n - o->offset;
        memmove(c.heap, c.heap + o->offset, res->nhits * sizeof *c.heap);
        res->hits = c.heap;
        c.heap = NULL;
    }
    for (size_t f = 0; f < o->nfacets; f++) {
        const souk_facet_spec *sp = &o->facets[f];
        const souk__col *col = &c.cols->col[sp->field];
        souk_facet_result *fr = &res->facets[f];
        fr->field = sp->field;
        fr->matched = c.matched[f];
        if (sp->stats && !sp->nedges) {
            fr->stat_min = c.smin[f];
            fr->stat_max = c.smax[f];
            fr->stat_sum = c.ssum[f];
            fr->stat_count = c.scount[f];
            fr->values = souk_calloc(1, sizeof *fr->values);
            if (!fr->values) {
                rc = SOUK_ENOMEM;
                goto fail;
            }
        } else if (sp->nedges) {
            fr->values = souk_calloc(sp->nedges, sizeof *fr->values);
            if (!fr->values) {
                rc = SOUK_ENOMEM;
                goto fail;
            }
            for (size_t b = 0; b + 1 < sp->nedges; b++) {
                fr->values[b].from = sp->edges[b];
                fr->values[b].to = sp->edges[b + 1];
                fr->values[b].count = c.count[f][b];
            }
            fr->nvalues = sp->nedges - 1;
        } else {
            size_t nv = col->num ? 2 : col->nvals, m = 0;
            vc *all_v = souk_malloc((nv ? nv : 1) * sizeof *all_v);
            if (!all_v) {
                rc = SOUK_ENOMEM;
                goto fail;
            }
            for (size_t v = 0; v < nv; v++)
                if (c.count[f][v])
                    all_v[m++] = (vc){(uint32_t)v, c.count[f][v],
                                      col->num ? (v ? "true" : "false") : col->vals[v]};
            qsort(all_v, m, sizeof *all_v, cmp_vc);
            size_t keep = sp->max_values && m > sp->max_values ? sp->max_values : m;
            fr->values = souk_calloc(keep ? keep : 1, sizeof *fr->values);
            if (!fr->values) {
                souk_free(all_v);
                rc = SOUK_ENOMEM;
                goto fail;
            }
            for (size_t v = 0; v < keep; v++) {
                fr->values[v].value = all_v[v].val;
                fr->values[v].len = strlen(all_v[v].val);
                fr->values[v].count = all_v[v].count;
            }
            for (size_t v = keep; v < m; v++)
                fr->other += all_v[v].count;
            fr->nvalues = keep;
            souk_free(all_v);
        }
        res->nfacets = f + 1;
    }
    res->cols = c.cols;
    c.cols = NULL;
    rc = 0;
fail:
    souk__filter_release(&c.cf);
    for (size_t f = 0; f < o->nfacets; f++)
        souk_free(c.count[f]);
    souk_free(c.heap);
    if (rc) {
        souk__columns_release(c.cols);
        souk_find_result_free(res);
        if (!err[0])
            snprintf(err, errlen, "%s", souk_strerror(rc));
    }
    return rc;
}
