/* explain.c: each scored term's part of a document's score (souk_search_explain). */
#include "catalog/columns.h"
#include "query/match_int.h"
#include "souk/lexicon.h"
#include "query/typo.h"
#include "text/codes.h"
#include "core/varint.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------ explain */

typedef struct explain_ctx {
    souk_searcher *s;
    souk_explain_fn fn; /* one of fn and pfn */
    souk_explain_part_fn pfn;
    void *ctx;
} explain_ctx;

/* The field of a profile's field term (its prefix after any "Z"), or -1. */
static int term_field(souk_searcher *s, const char *t, size_t len, double *weight)
{
    const souk_rank_profile *p = s->sig.p;
    *weight = 1;
    if (!p || !p->nfield_weights || souk__sig_unprefixed(t, len))
        return -1;
    const souk_schema *sc = souk_index_schema(s->ix);
    size_t off = t[0] == 'Z' ? 1 : 0;
    int best = -1;
    size_t best_len = 0;
    for (size_t i = 0; i < p->nfield_weights; i++) {
        const char *pre = sc->fields[p->field[i]].prefix;
        size_t pl = strlen(pre);
        if (pl > best_len && len >= off + pl && memcmp(t + off, pre, pl) == 0 &&
            souk__sig_unprefixed(t + off + pl, len - off - pl)) {
            best = p->field[i];
            best_len = pl;
            *weight = p->field_weight[i];
        }
    }
    return best;
}

/* A word under BM25F field weights (match_fields.c): one part, the word's, with the weighted
 * term frequency in value (wdf: its whole part) and the same operations as the score. */
static void explain_fields(explain_ctx *e, cur *c, double factor)
{
    term_cur *t = TERM(c->kids[0]);
    double tf = souk__fields_tf(e->s, c);
    uint32_t len = souk__doclen(e->s, c->did);
    const souk_bm25 *bp = &e->s->bm.p;
    double k = souk__bm25_norm(&e->s->bm, len);
    double part = tf > 0 ? t->termweight * (tf / (k + tf)) : 0;
    uint32_t wdf = tf < 4e9 ? (uint32_t)tf : UINT32_MAX;
    if (e->pfn) {
        souk_explain_part p;
        memset(&p, 0, sizeof p);
        p.term = t->pl.term;
        p.len = t->pl.len;
        p.wdf = wdf;
        p.doclen = len;
        p.termweight = t->termweight;
        p.factor = factor;
        p.part = factor * part;
        p.kind = SOUK_EXPLAIN_TERM;
        p.field = -1;
        p.field_weight = 1;
        p.idf = t->termweight / (bp->k1 + 1);
        p.norm = k;
        p.value = tf;
        e->pfn(e->ctx, &p);
    } else {
        e->fn(e->ctx, t->pl.term, t->pl.len, wdf, len, t->termweight, factor * part);
    }
}

/* Reports each scored term that matches the current document, with its part of the score. */
static void explain_walk(explain_ctx *e, cur *c, double factor)
{
    if (!c->scored)
        return;
    factor *= c->factor;
    if (c->kind == C_TERM) {
        term_cur *t = TERM(c);
        uint32_t len = souk__doclen(e->s, c->did);
        uint32_t wdf = souk__term_wdf(c);
        double part = souk__bm25_sumpart(&e->s->bm, t->termweight, wdf, len);
        if (e->pfn) {
            const souk_bm25 *bp = &e->s->bm.p;
            souk_explain_part p;
            memset(&p, 0, sizeof p);
            p.term = t->pl.term;
            p.len = t->pl.len;
            p.wdf = wdf;
            p.doclen = len;
            p.termweight = t->termweight;
            p.factor = factor;
            p.part = factor * part;
            p.kind = SOUK_EXPLAIN_TERM;
            p.field = term_field(e->s, t->pl.term, t->pl.len, &p.field_weight);
            p.idf = t->termweight / (bp->k1 + 1);
            p.norm = souk__bm25_norm(&e->s->bm, len);
            p.value = NAN;
            e->pfn(e->ctx, &p);
        } else {
            e->fn(e->ctx, t->pl.term, t->pl.len, wdf, len, t->termweight, factor * part);
        }
        return;
    }
    if (c->kind == C_FIELDS) {
        explain_fields(e, c, factor);
        return;
    }
    for (uint32_t i = 0; i < c->nkids; i++) {
        cur *k = c->kids[i];
        if (k->did == c->did || c->kind == C_AND || c->kind == C_PHRASE || c->kind == C_NEAR)
            explain_walk(e, k, factor);
        if (c->kind == C_ANDNOT || c->kind == C_FILTER || c->kind == C_SCALE)
            break;
    }
}

/* The profile's proximity bonus and boosts of docid, each reported as its own part. */
static void explain_signals(explain_ctx *e, uint32_t docid)
{
    souk_searcher *s = e->s;
    if (!s->sig.on || !e->pfn)
        return;
    const souk_rank_profile *p = s->sig.p;
    if (p->proximity_weight != 0) {
        souk_explain_part x;
        memset(&x, 0, sizeof x);
        x.kind = SOUK_EXPLAIN_PROXIMITY;
        x.field = -1;
        x.factor = 1;
        x.weight = p->proximity_weight;
        x.part = souk__sig_proximity(s, docid, &x.value);
        x.term = "";
        e->pfn(e->ctx, &x);
    }
    for (size_t i = 0; i < s->sig.nboosts; i++) {
        souk_explain_part x;
        memset(&x, 0, sizeof x);
        x.kind = SOUK_EXPLAIN_BOOST;
        x.boost = (int)i;
        x.fn = (int)p->boosts[i].fn;
        x.field = p->boosts[i].field;
        x.factor = 1;
        x.weight = p->boosts[i].weight;
        x.part = souk__sig_boost(s, i, docid, &x.value);
        x.term = "";
        e->pfn(e->ctx, &x);
    }
}

static int plain_search_explain(souk_searcher *s, const souk_query *q, const souk_search_opts *o,
                                uint32_t docid, const explain_ctx *e, double *total)
{
    char err[256];
    cur *root;
    int rc = souk__prepare(s, q, o, &root, err, sizeof err);
    if (rc)
        return rc;
    rc = cur_skip_to(s, root, docid);
    if (!rc && root->did != docid)
        rc = SOUK_ENOTFOUND;
    if (!rc) {
        /* MAYBE parts are positioned by scoring, so score first. */
        double text = root->scored ? cur_score(s, root) : 0;
        *total = s->sig.on ? souk__sig_add(s, docid, text) : text;
        explain_ctx ec = *e;
        explain_walk(&ec, root, 1.0);
        /* souk__sig_add moved the proximity cursors to docid; reading them again is free. */
        explain_signals(&ec, docid);
    }
    souk__finish(s, root);
    return rc;
}

static int search_explain(souk_searcher *s, const souk_query *q, const souk_search_opts *o,
                          uint32_t docid, const explain_ctx *e, double *total)
{
    souk_query *t = NULL;
    char err[128];
    int rc = souk__rewrite_query(s, q, o, &t, err, sizeof err);
    if (!rc)
        rc = plain_search_explain(s, t ? t : q, o, docid, e, total);
    souk_query_free(t);
    return rc;
}

int souk_search_explain(souk_searcher *s, const souk_query *q, const souk_search_opts *o,
                        uint32_t docid, souk_explain_fn fn, void *ctx, double *total)
{
    explain_ctx e = {s, fn, NULL, ctx};
    return search_explain(s, q, o, docid, &e, total);
}

int souk_search_explain_parts(souk_searcher *s, const souk_query *q, const souk_search_opts *o,
                              uint32_t docid, souk_explain_part_fn fn, void *ctx, double *total)
{
    explain_ctx e = {s, NULL, fn, ctx};
    return search_explain(s, q, o, docid, &e, total);
}
