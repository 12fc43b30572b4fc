/* topk.c: the k best hits of a cursor tree: a heap ordered by score then docid, filled by an
 * exhaustive walk, by MaxScore over a plain OR (terms sorted by their score bound; once k hits are
 * in, the terms whose bounds together cannot beat the k-th score only probe documents the others
 * found), or by block-max AND. */
#include "catalog/columns.h"
#include "query/match_int.h"
#include "souk/lexicon.h"
#include "query/typo.h"
#include "text/codes.h"
#include "core/topk.h"
#include "core/varint.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------ top k */

typedef struct topk {
    souk_hit *h;
    size_t n, k;
} topk;

/* Worse: lower score, or equal score and higher docid. */
static inline int worse(const topk *t, const souk_hit *a, const souk_hit *b)
{
    (void)t;
    return a->score < b->score || (a->score == b->score && a->docid > b->docid);
}

SOUK_TOPK_DEFINE(hits, souk_hit, topk, worse)

/* Offers a hit; returns 1 when the heap is full and its worst score may have changed. */
static int topk_offer(topk *t, uint32_t docid, double score)
{
    return hits_offer(t, t->h, &t->n, t->k, (souk_hit){docid, score});
}

static int cmp_hits(const void *a, const void *b)
{
    const souk_hit *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return x->docid < y->docid ? -1 : x->docid > y->docid;
}

/* The profile's signals (signals.c) on a text score: *score becomes the full score; 0 when
 * the document cannot enter a full heap whose worst is theta (its proximity, the costly part,
 * is then not computed). */
static int with_signals(souk_searcher *s, const topk *t, double theta, uint32_t d, double *score)
{
    if (!s->sig.on)
        return 1;
    if (t->n == t->k) {
        double most = *score + souk__sig_boosts_only(s, d) + s->sig.prox_bound;
        if (most + 1e-12 * fabs(most) + 1e-12 <= theta)
            return 0;
    }
    *score = souk__sig_add(s, d, *score);
    return 1;
}

/* The threshold text bounds are compared with: theta less all the signals can add, a hair
 * lower so that rounding never prunes a document that could enter. */
static double text_threshold(const souk_searcher *s, double theta)
{
    if (!s->sig.on)
        return theta;
    double x = theta - s->sig.bound;
    return x - 1e-12 * (fabs(theta) + s->sig.bound);
}

/* Exhaustive: every match is scored. */
static int run_exhaustive(souk_searcher *s, cur *root, topk *t, souk_search_stats *st)
{
    int rc = cur_next(s, root);
    while (!rc && root->did != DID_END && !souk__tick(s, 1)) {
        st->matched++;
        st->scored++;
        double score = cur_score(s, root);
        if (with_signals(s, t, t->n == t->k ? t->h[0].score : -INFINITY, root->did, &score))
            topk_offer(t, root->did, score);
        rc = cur_next(s, root);
    }
    return rc;
}

/* Leaf indices by their cursors' score bounds (ctx: the leaves), ties in tree order. */
static int cmp_leaf_by_bound(const void *a, const void *b, void *ctx)
{
    cur *const *leaves = ctx;
    uint32_t i = *(const uint32_t *)a, j = *(const uint32_t *)b;
    double x = leaves[i]->max_score, y = leaves[j]->max_score;
    if (x != y)
        return x < y ? -1 : 1;
    return i < j ? -1 : i > j;
}

/* The shape of an OR tree whose nested ORs are flattened for MaxScore, in preorder: a leaf
 * names its cursor, an inner OR counts its children. Summing over it reproduces the order in
 * which the OR cursors add their children's scores. */
typedef struct shape {
    uint32_t leaf; /* index into the leaves, or UINT32_MAX for a nested OR */
    uint32_t nkids;
} shape;

/* Counts the leaves and shape entries of c's subtree (c an OR being flattened). */
static void shape_count(const cur *c, uint32_t *leaves, uint32_t *entries)
{
    for (uint32_t i = 0; i < c->nkids; i++) {
        const cur *k = c->kids[i];
        (*entries)++;
        if (k->kind == C_OR && k->scored && k->factor == 1.0 && k->nkids)
            shape_count(k, leaves, entries);
        else
            (*leaves)++;
    }
}

static void shape_fill(cur *c, cur **leaves, uint32_t *nl, shape *sh, uint32_t *ne)
{
    for (uint32_t i = 0; i < c->nkids; i++) {
        cur *k = c->kids[i];
        shape *e = &sh[(*ne)++];
        if (k->kind == C_OR && k->scored && k->factor == 1.0 && k->nkids) {
            e->leaf = UINT32_MAX;
            e->nkids = k->nkids;
            shape_fill(k, leaves, nl, sh, ne);
        } else {
            e->leaf = *nl;
            e->nkids = 0;
            leaves[(*nl)++] = k;
        }
    }
}

/* Sum of the hit leaves under the next n entries from *i, in tree order; *any: one was hit. */
static double shape_sum(const shape *sh, uint32_t *i, uint32_t n, const double *part,
                        const uint32_t *stamp, uint32_t gen, int *any)
{
    double sum = 0;
    for (uint32_t k = 0; k < n; k++) {
        const shape *e = &sh[(*i)++];
        if (e->leaf != UINT32_MAX) {
            if (stamp[e->leaf] == gen) {
                sum += part[e->leaf];
                *any = 1;
            }
        } else {
            int sub = 0;
            double v = shape_sum(sh, i, e->nkids, part, stamp, gen, &sub);
            if (sub) {
                sum += v;
                *any = 1;
            }
        }
    }
    return sum;
}

/* MaxScore over the children of an OR (root->kids), nested ORs flattened into their leaves:
 * "a b, c d" parses as a OR (b OR c OR d), and a nested OR as one list would cover every
 * document any of its terms does, however common, and so disable pruning. */
static int run_maxscore(souk_searcher *s, cur *root, topk *t, souk_search_stats *st)
{
    uint32_t m = 0, nshape = 0, nl = 0, ne = 0, gen = 0;
    shape_count(root, &m, &nshape);
    cur **tl = souk_malloc(m * sizeof *tl);
    cur **leaves = souk_malloc(m * sizeof *leaves);
    shape *sh = souk_malloc(nshape * sizeof *sh);
    double *ub = souk_malloc(m * sizeof *ub);
    /* A document's parts are summed in the tree's own order, as the OR cursors sum them, so
     * pruned and exhaustive runs give bit-identical scores (and the same order of ties). */
    double *part = souk_malloc(m * sizeof *part);
    uint32_t *pos = souk_malloc(m * sizeof *pos), *stamp = souk_calloc(m, sizeof *stamp);
    int rc = 0;
    if (!tl || !leaves || !sh || !ub || !part || !pos || !stamp) {
        rc = SOUK_ENOMEM;
        goto out;
    }
    shape_fill(root, leaves, &nl, sh, &ne);
    int flat = nshape == m;
    /* Sorted by bound through their positions in tree order: pos[i] is tl[i]'s leaf index.
     * (Looking each one up among the leaves instead cost m * m: 6.7e9 steps, about a minute,
     * for twenty 4,096-term wildcards.) */
    for (uint32_t j = 0; j < m; j++)
        pos[j] = j;
    qsort_r(pos, m, sizeof *pos, cmp_leaf_by_bound, leaves);
    for (uint32_t i = 0; i < m; i++)
        tl[i] = leaves[pos[i]];
    double acc = 0;
    for (uint32_t i = 0; i < m; i++) {
        acc += tl[i]->max_score;
        /* A hair of slack: bounds and scores are summed in different orders. */
        ub[i] = acc * (1 + 1e-12) + 1e-12;
        if ((rc = cur_next(s, tl[i])) != 0)
            goto out;
    }
    double theta = -INFINITY, pth = -INFINITY; /* pth: text_threshold(theta) */
    uint32_t first = 0;                        /* tl[first..m) are essential */
    for (;;) {
        /* The time budget: the scan below costs one step per essential list. */
        if (souk__tick(s, (int64_t)(m - first) / 8 + 1))
            break;
        uint32_t d = DID_END;
        for (uint32_t i = first; i < m; i++)
            if (tl[i]->did < d)
                d = tl[i]->did;
        if (d == DID_END)
            break;
        if (t->n == t->k && first < m) {
            /* Block-max: while no document up to the end of the nearest essential block can
             * beat theta, skip that block range without decoding it. */
            uint32_t last = DID_END;
            for (uint32_t i = first; i < m; i++)
                if (tl[i]->kind == C_TERM && tl[i]->did != DID_END &&
                    TERM(tl[i])->blk.last_docid < last)
                    last = TERM(tl[i])->blk.last_docid;
            /* Documents d..last hold only terms whose current block starts at or before last;
             * a list already past last contributes nothing there. */
            double bound = first ? ub[first - 1] : 0;
            for (uint32_t i = first; i < m; i++)
                if (tl[i]->did <= last)
                    bound += tl[i]->kind == C_TERM ? TERM(tl[i])->blk_bound : tl[i]->max_score;
            if (bound * (1 + 1e-12) + 1e-12 <= pth && last != DID_END) {
                for (uint32_t i = first; i < m; i++) {
                    if (tl[i]->kind != C_TERM || tl[i]->did > last)
                        continue;
                    if (TERM(tl[i])->blk.last_docid == last)
                        rc = souk__term_next_block(s, tl[i]);
                    else
                        rc = souk__term_skip_to(s, tl[i], last + 1);
                    if (rc)
                        goto out;
                }
                st->pruned = 1;
                continue;
            }
        }
        if (t->n == t->k) {
            /* The document's bound from the blocks it is in: skip it unscored if too low. */
            double bound = first ? ub[first - 1] : 0;
            for (uint32_t i = first; i < m; i++)
                if (tl[i]->did == d)
                    bound += tl[i]->kind == C_TERM ? TERM(tl[i])->blk_bound : tl[i]->max_score;
            if (bound * (1 + 1e-12) + 1e-12 <= pth) {
                for (uint32_t i = first; i < m; i++)
                    if (tl[i]->did == d && (rc = cur_next(s, tl[i])) != 0)
                        goto out;
                continue;
            }
        }
        double score = 0;
        if (++gen == 0) { /* the stamps wrapped: clear them */
            memset(stamp, 0, m * sizeof *stamp);
            gen = 1;
        }
        for (uint32_t i = first; i < m; i++) {
            if (tl[i]->did == d) {
                double p = cur_score(s, tl[i]);
                score += p;
                part[pos[i]] = p;
                stamp[pos[i]] = gen;
                if ((rc = cur_next(s, tl[i])) != 0)
                    goto out;
            }
        }
        int dropped = 0;
        for (uint32_t j = first; j-- > 0;) {
            if (score + ub[j] <= pth) {
                dropped = 1;
                break;
            }
            if ((rc = cur_skip_to(s, tl[j], d)) != 0)
                goto out;
            if (tl[j]->did == d) {
                double p = cur_score(s, tl[j]);
                score += p;
                part[pos[j]] = p;
                stamp[pos[j]] = gen;
            }
        }
        st->scored++;
        if (dropped)
            continue;
        if (flat) { /* no nested ORs: the leaves in tree order */
            score = 0;
            for (uint32_t j = 0; j < m; j++)
                if (stamp[j] == gen)
                    score += part[j];
        } else {
            uint32_t at = 0;
            int any = 0;
            score = shape_sum(sh, &at, root->nkids, part, stamp, gen, &any);
        }
        score *= root->factor;
        if (!with_signals(s, t, theta, d, &score))
            continue;
        /* Documents come in docid order, so a tie with the heap's worst never enters. */
        if (t->n == t->k && !(score > theta))
            continue;
        if (topk_offer(t, d, score) && t->n == t->k) {
            theta = t->h[0].score;
            pth = text_threshold(s, theta);
            while (first < m && ub[first] <= pth) {
                first++;
                st->pruned = 1;
            }
        }
    }
out:
    st->matched = st->scored; /* with pruning, a lower bound of the matches */
    souk_free(tl);
    souk_free(leaves);
    souk_free(sh);
    souk_free(ub);
    souk_free(part);
    souk_free(pos);
    souk_free(stamp);
    return rc;
}

/* Block-max AND over an AND of terms (Ding and Suel's block-max idea applied to
 * conjunctions): once the top k is full, the blocks of all terms that hold the next candidate
 * give a bound of any document they share; while it cannot beat theta, the range up to the end
 * of the nearest block is skipped without decoding a docid. Candidates are then aligned and
 * scored as the AND cursor does (the same sum in the same order), so results are bit-identical
 * to exhaustive evaluation. */
static int run_blockmax_and(souk_searcher *s, cur *root, topk *t, souk_search_stats *st)
{
    uint32_t n = root->nkids, target = 1;
    double theta = -INFINITY, pth = -INFINITY; /* pth: text_threshold(theta) */
    for (;;) {
        if (souk__tick(s, 1))
            break;
        if (t->n == t->k) {
            /* Put every term on the block that may hold target, reading headers only. */
            int moved;
            do {
                moved = 0;
                for (uint32_t i = 0; i < n; i++) {
                    term_cur *tc = TERM(root->kids[i]);
                    if (tc->base.did == DID_END)
                        goto done;
                    if (!tc->have_blk || target > tc->blk.last_docid) {
                        int rc = souk__term_load(s, root->kids[i], target);
                        if (rc)
                            return rc;
                        if (tc->base.did == DID_END)
                            goto done;
                    }
                    if (tc->blk.first_docid > target) {
                        target = tc->blk.first_docid; /* nothing of this term before */
                        moved = 1;
                    }
                }
            } while (moved);
            double bound = 0;
            uint32_t last = DID_END;
            for (uint32_t i = 0; i < n; i++) {
                bound += TERM(root->kids[i])->blk_bound;
                if (TERM(root->kids[i])->blk.last_docid < last)
                    last = TERM(root->kids[i])->blk.last_docid;
            }
            if (bound * (1 + 1e-12) + 1e-12 <= pth) {
                st->pruned = 1;
                if (last == DID_END)
                    break;
                target = last + 1;
                continue;
            }
        }
        int rc = souk__and_align(s, root, n, target);
        if (rc)
            return rc;
        uint32_t d = root->did;
        if (d == DID_END)
            break;
        target = d + 1;
        if (t->n == t->k) {
            /* The blocks that hold d: skip it unscored when they cannot beat theta. */
            double bound = 0;
            for (uint32_t i = 0; i < n; i++)
                bound += TERM(root->kids[i])->blk_bound;
            if (bound * (1 + 1e-12) + 1e-12 <= pth) {
                st->pruned = 1;
                continue;
            }
        }
        st->scored++;
        double score = cur_score(s, root);
        if (!with_signals(s, t, theta, d, &score))
            continue;
        if (topk_offer(t, d, score) && t->n == t->k) {
            theta = t->h[0].score;
            pth = text_threshold(s, theta);
        }
    }
done:
    st->matched = st->scored; /* with pruning, a lower bound of the matches */
    return 0;
}

/* An AND of two or more scored terms at weight 1: what run_blockmax_and evaluates. */
static int blockmax_and_applies(const cur *root)
{
    if (root->kind != C_AND || !root->scored || root->factor != 1.0 || root->nkids < 2)
        return 0;
    for (uint32_t i = 0; i < root->nkids; i++)
        if (root->kids[i]->kind != C_TERM || !root->kids[i]->scored)
            return 0;
    return 1;
}

int souk__topk_run(souk_searcher *s, cur *root, const souk_search_opts *o, souk_hit *hits,
                   size_t *nhits, souk_search_stats *st)
{
    topk t = {hits, 0, o->k};
    /* MaxScore needs only each child's bound: terms, phrases, nested ORs and the rest all
     * report one (blocks of terms give tighter bounds). */
    int prune = !o->no_prune && root->kind == C_OR && root->scored && root->factor == 1.0;
    int rc = prune                                        ? run_maxscore(s, root, &t, st)
             : !o->no_prune && blockmax_and_applies(root) ? run_blockmax_and(s, root, &t, st)
                                                          : run_exhaustive(s, root, &t, st);
    if (!rc) {
        qsort(hits, t.n, sizeof *hits, cmp_hits);
        *nhits = t.n;
    }
    return rc;
}
