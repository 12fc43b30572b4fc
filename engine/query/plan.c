/* plan.c: a parsed query tree becomes a tree of posting cursors (one structure per operator,
 * engine/query/match_*.c), within the expansion budget of wildcards and terms. */
#include "souk/buf.h"
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

/* ------------------------------------------------------------------ cursors */

cur *souk__cur_new(const cur_ops *ops, ckind kind, size_t size, uint32_t nkids)
{
    cur *c = souk_calloc(1, size);
    if (!c)
        return NULL;
    c->ops = ops;
    c->kind = kind;
    c->scored = 1;
    c->factor = 1.0;
    if (nkids) {
        c->kids = souk_calloc(nkids, sizeof *c->kids);
        if (!c->kids) {
            souk_free(c);
            return NULL;
        }
    }
    c->nkids = nkids;
    return c;
}

void souk__cur_free(cur *c)
{
    if (!c)
        return;
    if (c->ops->destroy)
        c->ops->destroy(c);
    for (uint32_t i = 0; i < c->nkids; i++)
        souk__cur_free(c->kids[i]);
    souk_free(c->kids);
    souk_free(c);
}

int souk__cur_next_by_skip(souk_searcher *s, cur *c)
{
    return c->ops->skip_to(s, c, c->did + 1);
}

/* ------------------------------------------------------------------ building the tree */

/* Fails the build when one more term (n more) would exceed the expansion budget. */
static int over_budget(souk__plan_ctx *b, size_t n)
{
    if (b->nterms + n <= b->max_terms)
        return 0;
    if (!b->over)
        snprintf(b->err, b->errlen,
                 "the query expands to more than %u terms (wildcard and partial-word "
                 "completions, typo candidates, synonyms and codes count)",
                 b->max_terms);
    b->over = 1;
    return 1;
}

/* The operator of each kind, and a new cursor of that kind. */
static cur *cur_new(ckind kind, uint32_t nkids)
{
    static const cur_ops *const ops[] = {
        [C_OR] = &souk__or_ops,         [C_AND] = &souk__and_ops,
        [C_ANDNOT] = &souk__andnot_ops, [C_MAYBE] = &souk__maybe_ops,
        [C_FILTER] = &souk__filter_ops, [C_PHRASE] = &souk__phrase_ops,
        [C_NEAR] = &souk__phrase_ops,   [C_SCALE] = &souk__scale_ops,
        [C_NONE] = &souk__none_ops};
    return souk__cur_new(ops[kind], kind, sizeof(cur), nkids);
}

static void set_unscored(cur *c)
{
    c->scored = 0;
    c->max_score = 0;
    for (uint32_t i = 0; i < c->nkids; i++)
        set_unscored(c->kids[i]);
}

static cur *make_one_term(souk__plan_ctx *b, const char *term, size_t len, uint32_t wqf)
{
    int rc;
    if (over_budget(b, 1))
        return NULL;
    b->nterms++;
    cur *c = souk__term_new(b->s, term, len, wqf, &rc);
    if (!c && !b->rc)
        b->rc = rc;
    return c;
}

/* Under a profile's field weights (docs/ranking.md), a word or stem outside phrases becomes
 * the OR of its field terms, each scaled by its field's weight and scored by its own
 * statistics, plus the word itself unscored when some text field is not weighted, so the
 * documents that match never change with the weights, only their scores. */
static cur *make_term_bm25f(souk__plan_ctx *b, const char *term, size_t len, uint32_t wqf);

static cur *make_term(souk__plan_ctx *b, const char *term, size_t len, uint32_t wqf)
{
    const souk_rank_profile *p = b->s->sig.p;
    if (!p || !p->nfield_weights || b->in_phrase || !souk__sig_unprefixed(term, len))
        return make_one_term(b, term, len, wqf);
    if (p->field_model == SOUK_FIELD_MODEL_BM25F)
        return make_term_bm25f(b, term, len, wqf);
    const souk_schema *sc = souk_index_schema(b->s->ix);
    size_t ntext = 0, nweighted = 0;
    for (size_t f = 0; f < sc->nfields; f++)
        ntext += sc->fields[f].type == SOUK_FIELD_TEXT;
    for (size_t i = 0; i < p->nfield_weights; i++)
        nweighted += p->field_weight[i] > 0;
    cur *c = cur_new(C_OR, (uint32_t)p->nfield_weights + 1);
    if (!c) {
        b->rc = b->rc ? b->rc : SOUK_ENOMEM;
        return NULL;
    }
    uint32_t nk = 0;
    for (size_t i = 0; i < p->nfield_weights; i++) {
        double w = p->field_weight[i];
        if (!(w > 0))
            continue;
        char t[512];
        size_t tl = souk__sig_field_term(term, len, sc->fields[p->field[i]].prefix, t, sizeof t);
        if (!tl)
            continue;
        cur *k = make_one_term(b, t, tl, wqf);
        if (!k) {
            c->nkids = nk;
            souk__cur_free(c);
            return NULL;
        }
        if (k->kind == C_NONE) {
            souk__cur_free(k);
            continue;
        }
        k->factor = w;
        k->max_score *= w;
        c->max_score += k->max_score;
        c->kids[nk++] = k;
    }
    if (nweighted < ntext) { /* the word itself, for the match set only */
        cur *k = make_one_term(b, term, len, wqf);
        if (!k) {
            c->nkids = nk;
            souk__cur_free(c);
            return NULL;
        }
        if (k->kind == C_NONE) {
            souk__cur_free(k);
        } else {
            set_unscored(k);
            c->kids[nk++] = k;
        }
    }
    c->nkids = nk;
    if (nk == 0) {
        souk__cur_free(c);
        return cur_new(C_NONE, 0);
    }
    return c;
}

/* Under BM25F field weights: a FIELDS cursor (match_fields.c) over the word's own term and its
 * weighted fields' terms, so the matches are the word's, scored with its idf. */
static cur *make_term_bm25f(souk__plan_ctx *b, const char *term, size_t len, uint32_t wqf)
{
    const souk_rank_profile *p = b->s->sig.p;
    const souk_schema *sc = souk_index_schema(b->s->ix);
    cur *word = make_one_term(b, term, len, wqf);
    if (!word || word->kind == C_NONE)
        return word;
    fields_cur *f = (fields_cur *)souk__cur_new(&souk__fields_ops, C_FIELDS, sizeof(fields_cur),
                                                (uint32_t)p->nfield_weights + 1);
    if (!f) {
        souk__cur_free(word);
        b->rc = b->rc ? b->rc : SOUK_ENOMEM;
        return NULL;
    }
    cur *c = &f->base;
    set_unscored(word);
    c->kids[0] = word;
    uint32_t nk = 1;
    double tf_max = 0;
    for (size_t i = 0; i < p->nfield_weights; i++) {
        double w = p->field_weight[i];
        if (!(w > 0))
            continue;
        char t[512];
        size_t tl = souk__sig_field_term(term, len, sc->fields[p->field[i]].prefix, t, sizeof t);
        if (!tl)
            continue;
        cur *k = make_one_term(b, t, tl, wqf);
        if (!k) {
            c->nkids = nk;
            souk__cur_free(c);
            return NULL;
        }
        if (k->kind == C_NONE) {
            souk__cur_free(k);
            continue;
        }
        set_unscored(k);
        f->w[nk] = w;
        tf_max += w * TERM(k)->pl.info.max_wdf;
        c->kids[nk++] = k;
    }
    c->nkids = nk;
    /* The score's bound: the largest weighted tf over the smallest length normalisation (the
     * score grows with tf and falls with the normalisation). */
    double kmin = souk__bm25_norm(&b->s->bm, 0);
    c->max_score = tf_max > 0 ? TERM(word)->termweight * (tf_max / (kmin + tf_max)) : 0;
    return c;
}

typedef struct wild_ctx {
    const char *prefix;
    size_t len;
    char **terms;
    size_t *lens;
    size_t n, cap;
    int over;
    uint32_t max; /* 0: every completion (Xapian's wildcard); else the max most frequent */
    uint32_t *df; /* with max: min-heap of the kept completions by df */
    size_t limit; /* without max: more completions than this is over the expansion budget */
    int oom;      /* an allocation failed: the completions are not all there */
} wild_ctx;

static void wild_swap(wild_ctx *w, size_t a, size_t b)
{
    char *t = w->terms[a];
    w->terms[a] = w->terms[b];
    w->terms[b] = t;
    size_t l = w->lens[a];
    w->lens[a] = w->lens[b];
    w->lens[b] = l;
    uint32_t d = w->df[a];
    w->df[a] = w->df[b];
    w->df[b] = d;
}

/* Keeps the w->max completions of highest df (ties: the first in byte order). */
static int collect_top(wild_ctx *w, const char *term, size_t len, uint32_t df)
{
    if (!w->terms) {
        w->terms = souk_calloc(w->max, sizeof *w->terms);
        w->lens = souk_calloc(w->max, sizeof *w->lens);
        w->df = souk_calloc(w->max, sizeof *w->df);
        if (!w->terms || !w->lens || !w->df) {
            w->oom = 1;
            return 1;
        }
    }
    if (w->n == w->max && df <= w->df[0])
        return 0;
    char *copy = souk_strndup(term, len);
    if (!copy) {
        w->oom = 1;
        return 1;
    }
    size_t i;
    if (w->n < w->max) {
        i = w->n++;
    } else {
        souk_free(w->terms[0]);
        w->terms[0] = w->terms[--w->n];
        w->lens[0] = w->lens[w->n];
        w->df[0] = w->df[w->n];
        for (size_t k = 0;;) { /* sift down */
            size_t l = 2 * k + 1, r = l + 1, m = k;
            if (l < w->n && w->df[l] < w->df[m])
                m = l;
            if (r < w->n && w->df[r] < w->df[m])
                m = r;
            if (m == k)
                break;
            wild_swap(w, k, m);
            k = m;
        }
        i = w->n++;
    }
    w->terms[i] = copy;
    w->lens[i] = len;
    w->df[i] = df;
    while (i > 0 && w->df[(i - 1) / 2] > w->df[i]) { /* sift up */
        wild_swap(w, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
    return 0;
}

static int collect_wild(void *ctx, const char *term, size_t len, const souk_term_info *info)
{
    wild_ctx *w = ctx;
    if (len < w->len || memcmp(term, w->prefix, w->len) != 0)
        return 1;
    if (w->max)
        return collect_top(w, term, len, info->df);
    if (w->n == w->limit) {
        w->over = 1;
        return 1;
    }
    /* Two arrays of one capacity: each grows alike from the same one. */
    size_t ct = w->cap, cl = w->cap;
    if (souk_grow((void **)&w->terms, &ct, w->n + 1, sizeof *w->terms, SIZE_MAX) ||
        souk_grow((void **)&w->lens, &cl, w->n + 1, sizeof *w->lens, SIZE_MAX)) {
        w->oom = 1;
        return 1;
    }
    w->cap = ct;
    if (!(w->terms[w->n] = souk_strndup(term, len))) {
        w->oom = 1;
        return 1;
    }
    w->lens[w->n++] = len;
    return 0;
}

/* Estimated number of matches of a cursor, for ordering AND's parts. */
static uint64_t est_matches(const cur *c)
{
    if (c->kind == C_TERM)
        return TERM(c)->pl.info.df;
    if (c->kind == C_NONE)
        return 0;
    return UINT64_MAX;
}

static int cmp_by_rarity(const void *a, const void *b)
{
    uint64_t x = est_matches(*(cur *const *)a), y = est_matches(*(cur *const *)b);
    return x < y ? -1 : x > y;
}

cur *souk__plan_build(souk__plan_ctx *b, uint32_t idx)
{
    const souk_qnode *n = &b->q->nodes[idx];
    const uint32_t *kids = b->q->kids ? b->q->kids + n->first_kid : NULL;
    cur *c = NULL;
    switch (n->op) {
    case SOUK_QOP_TERM:
        return make_term(b, n->term, n->term_len, n->wqf ? n->wqf : 1);
    case SOUK_QOP_WILDCARD: {
        /* Expanded over the dictionary; each expansion scored as its own term (Xapian weights
         * a wildcard as one synonym term; see docs/ranking.md). */
        /* With a cap, one- and two-letter prefixes keep fewer completions: their union covers
         * most of the catalog and each completion costs MaxScore a list. */
        uint32_t max = b->max_expansions;
        if (max && n->term_len <= 2)
            max = max < (n->term_len == 1 ? 10u : 25u) ? max : (n->term_len == 1 ? 10u : 25u);
        /* Collection stops one past what the budget leaves, so an over-wide wildcard costs
         * a short dictionary scan, not its whole range. */
        wild_ctx w = {n->term, n->term_len, NULL, NULL, 0,
                      0,       0,           max,  NULL, (size_t)(b->max_terms - b->nterms),
                      0};
        int trc = souk_reader_terms(b->s->r, n->term, n->term_len, collect_wild, &w);
        if (!trc && w.oom)
            trc = SOUK_ENOMEM; /* not a shorter expansion: an error */
        if (trc && !b->rc)
            b->rc = trc;
        if (!trc && (w.over || over_budget(b, w.n)))
            trc = over_budget(b, w.n + 1);
        c = trc ? NULL : cur_new(w.n ? C_OR : C_NONE, (uint32_t)w.n);
        for (size_t i = 0; c && i < w.n; i++) {
            c->kids[i] = make_term(b, w.terms[i], w.lens[i], 1);
            if (!c->kids[i]) {
                souk__cur_free(c);
                c = NULL;
            } else {
                /* A wildcard repeated k times in its OR or AND is built once, each completion
                 * weighing k: the sum the k copies would add, at the cost of one. */
                c->kids[i]->factor = b->weight;
                c->kids[i]->max_score *= b->weight;
                c->max_score += c->kids[i]->max_score;
            }
        }
        for (size_t i = 0; i < w.n; i++)
            souk_free(w.terms[i]);
        souk_free(w.terms);
        souk_free(w.lens);
        souk_free(w.df);
        return c;
    }
    case SOUK_QOP_MATCH_ALL:
        return souk__all_new(b->s);
    case SOUK_QOP_MATCH_NOTHING:
        return cur_new(C_NONE, 0);
    case SOUK_QOP_OR:
    case SOUK_QOP_SYNONYM:
        c = cur_new(C_OR, n->nkids);
        break;
    case SOUK_QOP_AND:
        c = cur_new(C_AND, n->nkids);
        break;
    case SOUK_QOP_AND_NOT:
        c = cur_new(C_ANDNOT, n->nkids);
        break;
    case SOUK_QOP_AND_MAYBE:
        c = cur_new(C_MAYBE, n->nkids);
        break;
    case SOUK_QOP_FILTER:
        c = cur_new(C_FILTER, n->nkids);
        break;
    case SOUK_QOP_PHRASE:
        c = cur_new(C_PHRASE, n->nkids);
        break;
    case SOUK_QOP_NEAR:
        c = cur_new(C_NEAR, n->nkids);
        break;
    case SOUK_QOP_SCALE_WEIGHT:
        c = cur_new(C_SCALE, n->nkids);
        break;
    default:
        snprintf(b->err, b->errlen, "query operator %d is not supported", (int)n->op);
        return NULL;
    }
    if (!c)
        return NULL;
    c->window = n->window;
    /* The same wildcard twice among an OR's or AND's parts ("li* li*") is built once, with its
     * weight multiplied: the matches are the same, the scores the sum of the copies (to the
     * last bit for two copies), and k copies cost one expansion instead of k. */
    uint32_t *mult = NULL, nwild = 0;
    for (uint32_t i = 0; (c->kind == C_OR || c->kind == C_AND) && i < n->nkids && nwild < 2; i++)
        nwild += b->q->nodes[kids[i]].op == SOUK_QOP_WILDCARD;
    if (nwild > 1) {
        if (!(mult = souk_calloc(n->nkids, sizeof *mult))) {
            souk__cur_free(c);
            return NULL;
        }
        for (uint32_t i = 0; i < n->nkids; i++) {
            const souk_qnode *ki = &b->q->nodes[kids[i]];
            mult[i] = 1;
            for (uint32_t j = 0; ki->op == SOUK_QOP_WILDCARD && j < i; j++) {
                const souk_qnode *kj = &b->q->nodes[kids[j]];
                if (mult[j] && kj->op == SOUK_QOP_WILDCARD && kj->term_len == ki->term_len &&
                    memcmp(kj->term, ki->term, ki->term_len) == 0) {
                    mult[j]++;
                    mult[i] = 0;
                    break;
                }
            }
        }
    }
    uint32_t nk = 0;
    for (uint32_t i = 0; i < n->nkids; i++) {
        if (mult && !mult[i])
            continue;
        b->weight = mult ? mult[i] : 1;
        int was = b->in_phrase;
        b->in_phrase = was || c->kind == C_PHRASE || c->kind == C_NEAR;
        c->kids[nk] = souk__plan_build(b, kids[i]);
        b->in_phrase = was;
        b->weight = 1;
        if (!c->kids[nk]) {
            souk_free(mult);
            souk__cur_free(c);
            return NULL;
        }
        nk++;
    }
    souk_free(mult);
    c->nkids = nk;
    if (c->kind == C_AND)
        qsort(c->kids, c->nkids, sizeof *c->kids, cmp_by_rarity); /* the rarest leads */
    switch (c->kind) {
    case C_OR:
    case C_AND:
    case C_PHRASE:
    case C_NEAR:
        for (uint32_t i = 0; i < c->nkids; i++)
            c->max_score += c->kids[i]->max_score;
        break;
    case C_FILTER:
    case C_ANDNOT:
        for (uint32_t i = 1; i < c->nkids; i++)
            set_unscored(c->kids[i]);
        c->max_score = c->kids[0]->max_score;
        break;
    case C_MAYBE:
        for (uint32_t i = 0; i < c->nkids; i++)
            c->max_score += c->kids[i]->max_score;
        break;
    case C_SCALE:
        c->factor = n->scale;
        if (n->scale == 0)
            set_unscored(c);
        c->max_score = c->kids[0]->max_score * (n->scale > 0 ? n->scale : 0);
        break;
    default:
        break;
    }
    if (c->kind == C_PHRASE || c->kind == C_NEAR) {
        for (uint32_t i = 0; i < c->nkids; i++) {
            if (c->kids[i]->kind == C_NONE) {
                /* A phrase with an absent term matches nothing. */
                souk__cur_free(c);
                return cur_new(C_NONE, 0);
            }
            if (c->kids[i]->kind != C_TERM) {
                snprintf(b->err, b->errlen, "phrases of non-terms are not supported");
                souk__cur_free(c);
                return NULL;
            }
        }
        if (c->window == 0)
            c->window = c->nkids;
    }
    return c;
}
