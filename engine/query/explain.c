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
        double part = souk__bm25_sumpart(e->s, t->termweight, wdf, len);
        if (e->pfn) {
            souk_explain_part p = {t->pl.term,    t->pl.len, wdf,          len,
                                   t->termweight, factor,    factor * part};
            e->pfn(e->ctx, &p);
        } else {
            e->fn(e->ctx, t->pl.term, t->pl.len, wdf, len, t->termweight, factor * part);
        }
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

static int plain_search_explain(souk_searcher *s, const souk_query *q, const souk_search_opts *o,
                                uint32_t docid, const explain_ctx *e, double *total)
{
    souk_bm25 def = SOUK_BM25_DEFAULT;
    s->p = o->bm25.k1 == 0 && o->bm25.b == 0 && o->bm25.k3 == 0 ? def : o->bm25;
    if (souk__knorm_prepare(s))
        return SOUK_ENOMEM;
    char err[256];
    err[0] = 0;
    souk__plan_ctx b = {s,
                        q,
                        err,
                        sizeof err,
                        o->max_expansions,
                        0,
                        0,
                        s->budget.max_terms ? s->budget.max_terms : SOUK_MAX_QUERY_TERMS,
                        0,
                        1};
    cur *root = souk__plan_build(&b, q->root);
    if (!root)
        return b.rc ? b.rc : err[0] ? SOUK_EQUERY : SOUK_ENOMEM;
    int rc = cur_skip_to(s, root, docid);
    if (!rc && root->did != docid)
        rc = SOUK_ENOTFOUND;
    if (!rc) {
        /* MAYBE parts are positioned by scoring, so score first. */
        *total = cur_score(s, root);
        explain_ctx ec = *e;
        explain_walk(&ec, root, 1.0);
    }
    souk__cur_free(root);
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
