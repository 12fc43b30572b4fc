/* match_term.c: the TERM cursor: one term's postings, block by block. A block's header is read
 * on arrival (its first docid is the current document); docids, wdfs and positions are decoded
 * when first needed, so skipping over a block costs one header. */
#include "query/match_int.h"

#include <string.h>

/* Loads the term's next block holding docids >= d (d 0: the next block). */
static int term_load(souk_searcher *s, term_cur *t, uint32_t d)
{
    if (d && t->have_blk && d <= t->blk.last_docid)
        return 0; /* the current block already may hold d */
    int rc = souk_postings_next_block(&t->pl, d, &t->blk);
    if (rc == SOUK_ENOTFOUND) {
        t->base.did = DID_END;
        t->have_blk = 0;
        return 0;
    }
    if (rc)
        return rc;
    s->tick_left--; /* a block read is work for the time budget (souk__tick) */
    t->n = t->blk.count;
    t->i = 0;
    t->have_blk = 1;
    t->docs_ready = 0;
    t->pos_ready = 0;
    t->wdf_ready = 0;
    t->base.did = t->blk.first_docid;
    t->blk_bound = t->base.scored
                       ? t->base.factor * souk__bm25_block_bound(&s->bm, t->termweight, &t->blk)
                       : 0;
    return 0;
}

static int term_docs(term_cur *t)
{
    if (t->docs_ready)
        return 0;
    int rc = souk_block_docids(&t->blk, t->docs);
    t->docs_ready = rc == 0;
    return rc;
}

static int term_next(souk_searcher *s, cur *c)
{
    term_cur *t = TERM(c);
    if (c->did == 0)
        return term_load(s, t, 1);
    if (t->have_blk && t->i + 1 < t->n) {
        int rc = term_docs(t);
        if (rc)
            return rc;
        c->did = t->docs[++t->i];
        return 0;
    }
    return term_load(s, t, 0);
}

int souk__term_skip_to(souk_searcher *s, cur *c, uint32_t d)
{
    term_cur *t = TERM(c);
    if (c->did != 0 && c->did >= d)
        return 0;
    if (!t->have_blk || d > t->blk.last_docid) {
        int rc = term_load(s, t, d);
        if (rc || c->did >= d)
            return rc;
    }
    int rc = term_docs(t);
    if (rc)
        return rc;
    /* The first docid >= d in the block (d <= its last docid): galloping from the current
     * posting, as a skip in an AND usually lands a few postings on, then a branch-free binary
     * search over the bracket found. */
    const uint32_t *docs = t->docs;
    uint32_t lo = t->i, n = t->n;
    if (docs[lo] < d) {
        uint32_t step = 1, hi = lo + 1;
        while (hi < n - 1 && docs[hi] < d) {
            lo = hi;
            step *= 2;
            hi = lo + step < n - 1 ? lo + step : n - 1;
        }
        /* docs[lo] < d <= docs[hi]: find the first >= d in (lo, hi]. */
        const uint32_t *base = docs + lo + 1;
        uint32_t len = hi - lo;
        while (len > 1) {
            uint32_t half = len / 2;
            base = base[half - 1] < d ? base + half : base;
            len -= half;
        }
        lo = (uint32_t)(base - docs);
    }
    t->i = lo;
    c->did = docs[lo];
    return 0;
}

int souk__term_load(souk_searcher *s, cur *c, uint32_t d)
{
    return term_load(s, TERM(c), d);
}

int souk__term_next_block(souk_searcher *s, cur *c)
{
    if (c->did == DID_END)
        return 0;
    return term_load(s, TERM(c), 0);
}

uint32_t souk__term_wdf(cur *c)
{
    term_cur *t = TERM(c);
    if (!t->wdf_ready) {
        if (souk_block_wdfs(&t->blk, t->wdfs) != 0)
            memset(t->wdfs, 0, sizeof t->wdfs); /* corrupt block: score nothing */
        t->wdf_ready = 1;
    }
    return t->wdfs[t->i];
}

int souk__term_positions(cur *c, const uint32_t **p, uint32_t *n)
{
    term_cur *t = TERM(c);
    if (!t->pos_ready) {
        size_t total = 0;
        int rc = souk_block_positions(&t->blk, t->npos, t->pos, t->poscap, &total);
        if (rc == SOUK_ETOOBIG) {
            uint32_t *np = souk_realloc(t->pos, total * sizeof *np);
            if (!np)
                return SOUK_ENOMEM;
            t->pos = np;
            t->poscap = total;
            rc = souk_block_positions(&t->blk, t->npos, t->pos, t->poscap, &total);
        }
        if (rc)
            return rc;
        t->posoff[0] = 0;
        for (uint32_t i = 0; i < t->n; i++)
            t->posoff[i + 1] = t->posoff[i] + t->npos[i];
        t->pos_ready = 1;
    }
    *p = t->pos + t->posoff[t->i];
    *n = t->npos[t->i];
    return 0;
}

static double term_score(souk_searcher *s, cur *c)
{
    return c->factor * souk__bm25_doc(s, TERM(c)->termweight, souk__term_wdf(c), c->did);
}

static void term_destroy(cur *c)
{
    term_cur *t = TERM(c);
    if (t->pl_open)
        souk_postings_close(&t->pl);
    souk_free(t->pos);
}

const cur_ops souk__term_ops = {souk__term_skip_to, term_next, term_score, term_destroy};

cur *souk__term_new(souk_searcher *s, const char *term, size_t len, uint32_t wqf, int *rc)
{
    term_cur *t = (term_cur *)souk__cur_new(&souk__term_ops, C_TERM, sizeof *t, 0);
    *rc = SOUK_ENOMEM;
    if (!t)
        return NULL;
    int prc = souk__term_postings(s, term, len, &t->pl);
    if (prc) {
        souk__cur_free(&t->base);
        if (prc == SOUK_ENOTFOUND)
            return souk__cur_new(&souk__none_ops, C_NONE, sizeof(cur), 0);
        *rc = prc;
        return NULL;
    }
    t->pl_open = 1;
    t->termweight = souk__bm25_termweight(&s->bm, (double)t->pl.info.df, (double)wqf);
    t->base.max_score =
        t->pl.info.max_wdf ? souk__bm25_sumpart(&s->bm, t->termweight, t->pl.info.max_wdf, 0) : 0;
    return &t->base;
}
