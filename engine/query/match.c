/* match.c: the query engine (souk/search.h). A parsed query tree becomes a tree of posting
 * cursors, one structure per operator, each with next, skip_to and score, and an upper bound
 * of its score (max_score). Scores are Xapian 1.4's BM25 (weight/bm25weight.cc) computed with
 * the same operations in the same order, so rankings equal Xapian's (tests/test_oracle.c).
 *
 * The operators live one per file (engine/match_*.c) behind the cursor interface of
 * engine/query/match_int.h; this file builds the cursor tree, keeps the searcher's snapshot and
 * statistics, and runs the top k.
 *
 * Top-k: a heap of the k best hits, ordered by score then docid. A plain OR of terms runs
 * MaxScore: terms sorted by their score bound; once k hits are in, the terms whose bounds
 * together cannot beat the k-th score no longer drive the iteration and are only probed for
 * documents the others found. */
#include "catalog/columns.h"
#include "query/match_int.h"
#include "souk/lexicon.h"
#include "query/typo.h"
#include "text/codes.h"
#include "text/spelltable.h"
#include "core/varint.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------ time budget */

uint64_t souk_clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void souk_searcher_set_budget(souk_searcher *s, const souk_budget *b)
{
    if (b)
        s->budget = *b;
    else
        memset(&s->budget, 0, sizeof s->budget);
}

int souk__budget_begin(souk_searcher *s)
{
    const souk_budget *b = &s->budget;
    s->stopped = 0;
    /* Without a budget the clock is never read: the counter starts out of reach. */
    if (!b->deadline_ns && !b->should_stop) {
        s->tick_left = INT64_MAX / 2;
        return 0;
    }
    uint64_t now = souk_clock_ns();
    s->next_poll_ns = now + SOUK_STOP_POLL_NS;
    s->tick_left = SOUK__TICK_UNITS;
    /* A search that waited past its deadline (in a queue, or past the drain's cut) does not
     * even expand its query. */
    if (b->deadline_ns && now >= b->deadline_ns) {
        s->stopped = SOUK_STOP_DEADLINE;
        s->tick_left = 0;
    }
    return s->stopped;
}

int souk__tick_slow(souk_searcher *s)
{
    const souk_budget *b = &s->budget;
    if (s->stopped) {
        s->tick_left = 0;
        return 1;
    }
    if (!b->deadline_ns && !b->should_stop) {
        s->tick_left = INT64_MAX / 2;
        return 0;
    }
    s->tick_left = SOUK__TICK_UNITS;
    uint64_t now = souk_clock_ns();
    if (b->deadline_ns && now >= b->deadline_ns) {
        s->stopped = SOUK_STOP_DEADLINE;
    } else if (b->should_stop && now >= s->next_poll_ns) {
        s->next_poll_ns = now + SOUK_STOP_POLL_NS;
        if (b->should_stop(b->stop_ctx))
            s->stopped = SOUK_STOP_CANCELLED;
    }
    if (s->stopped)
        s->tick_left = 0;
    return s->stopped != 0;
}

int souk_search_stopped(const souk_searcher *s)
{
    return s->stopped;
}

/* ------------------------------------------------------------------ statistics */

/* ------------------------------------------------------------------ dictionary cache */

#define DICT_SLOTS 4096 /* a power of two; filled to half at most */

struct souk__dict_slot {
    uint64_t hash;
    char *term; /* NULL: an empty slot */
    uint32_t len;
    int found;
    souk__dict d; /* inline_block points at inl */
    uint8_t *inl;
};

void souk__dict_clear(souk_searcher *s)
{
    if (!s->dict)
        return;
    for (uint32_t i = 0; i < DICT_SLOTS && s->dict_used; i++) {
        if (s->dict[i].term) {
            souk_free(s->dict[i].term);
            souk_free(s->dict[i].inl);
            s->dict[i].term = NULL;
            s->dict_used--;
        }
    }
}

int souk__term_postings(souk_searcher *s, const char *term, size_t len, souk_postings *p)
{
    if (len == 0 || len > 500)
        return SOUK_ENOTFOUND;
    if (!s->dict)
        s->dict = souk_calloc(DICT_SLOTS, sizeof *s->dict);
    uint64_t h = souk__hash(term, len);
    struct souk__dict_slot *e = NULL;
    if (s->dict) {
        for (uint32_t i = (uint32_t)h & (DICT_SLOTS - 1);; i = (i + 1) & (DICT_SLOTS - 1)) {
            e = &s->dict[i];
            if (!e->term)
                break;
            if (e->hash == h && e->len == len && memcmp(e->term, term, len) == 0) {
                if (!e->found)
                    return SOUK_ENOTFOUND;
                return souk__postings_open_dict(s->r, term, len, &e->d, p);
            }
        }
    }
    souk__dict d;
    int rc = souk__reader_dict(s->r, term, len, &d);
    if (rc && rc != SOUK_ENOTFOUND)
        return rc;
    /* Remember it while there is room (entries are never evicted within a generation, so the
     * inline postings a cursor borrows stay put). */
    if (e && s->dict_used < DICT_SLOTS / 2) {
        char *t = souk_strndup(term, len);
        uint8_t *inl = !rc && d.inline_len ? souk_malloc(d.inline_len) : NULL;
        if (t && (rc || !d.inline_len || inl)) {
            e->hash = h;
            e->term = t;
            e->len = (uint32_t)len;
            e->found = !rc;
            e->inl = inl;
            if (!rc) {
                e->d = d;
                if (inl) {
                    memcpy(inl, d.inline_block, d.inline_len);
                    e->d.inline_block = inl;
                }
            }
            s->dict_used++;
        } else {
            souk_free(t);
            souk_free(inl);
        }
    }
    return rc ? rc : souk__postings_open_dict(s->r, term, len, &d, p);
}

static int load_stats(souk_searcher *s)
{
    souk_stats st;
    int rc = souk_reader_stats(s->r, &st);
    if (rc)
        return rc;
    s->N = (double)st.docs;
    /* Xapian: average length = total / N; len_factor = 1 / average (0 when empty). */
    double avlen = st.docs ? (double)st.total_len / (double)st.docs : 0.0;
    s->len_factor = avlen != 0.0 ? 1.0 / avlen : 0.0;
    s->next_docid = st.next_docid;
    s->generation = st.generation;
    if (s->dict_generation != st.generation) {
        souk__dict_clear(s);
        s->dict_generation = st.generation;
    }
    if (s->knorm_generation != st.generation)
        s->knorm_valid = 0;
    size_t need = (size_t)(st.next_docid / SOUK_DOCLEN_CHUNK) + 1;
    if (need > s->nchunks) {
        const uint32_t **nc = souk_realloc(s->chunks, need * sizeof *nc);
        if (!nc)
            return SOUK_ENOMEM;
        s->chunks = nc;
        s->nchunks = need;
    }
    memset(s->chunks, 0, s->nchunks * sizeof *s->chunks);
    return SOUK_OK;
}

uint32_t souk__doclen(souk_searcher *s, uint32_t docid)
{
    size_t c = docid / SOUK_DOCLEN_CHUNK;
    if (c >= s->nchunks)
        return 0;
    if (!s->chunks[c] && souk__reader_doclen_chunk(s->r, (uint32_t)c, &s->chunks[c]) != 0)
        return 0;
    return s->chunks[c][docid % SOUK_DOCLEN_CHUNK];
}

int souk_searcher_new(souk_index *ix, souk_searcher **out)
{
    souk_searcher *s = souk_calloc(1, sizeof *s);
    if (!s)
        return SOUK_ENOMEM;
    s->ix = ix;
    int rc = souk_reader_new(ix, &s->r);
    if (rc) {
        souk_free(s);
        return rc;
    }
    const souk_schema *sc = souk_index_schema(ix);
    for (size_t i = 0; i < sc->nfields; i++) {
        const souk_field *f = &sc->fields[i];
        if (f->type == SOUK_FIELD_TEXT && f->prefix[0]) {
            s->fields[s->nfields++] = (souk_qp_field){f->name, f->prefix, 0};
        } else if ((f->type == SOUK_FIELD_KEYWORD || f->type == SOUK_FIELD_BOOL) &&
                   (f->flags & (SOUK_F_FILTERABLE | SOUK_F_FACETABLE))) {
            s->fields[s->nfields++] = (souk_qp_field){f->name, f->prefix, 1};
        }
    }
    if ((rc = load_stats(s)) != 0) {
        souk_searcher_free(s);
        return rc;
    }
    *out = s;
    return SOUK_OK;
}

void souk_searcher_free(souk_searcher *s)
{
    if (!s)
        return;
    souk_reader_free(s->r);
    souk_xspell_close(s->spell);
    souk__dict_clear(s);
    souk_free(s->dict);
    souk_free(s->chunks);
    souk_free(s->knorm);
    souk_free(s);
}

int souk_searcher_refresh(souk_searcher *s)
{
    int rc = souk_reader_refresh(s->r);
    return rc ? rc : load_stats(s);
}

souk_reader *souk_searcher_reader(souk_searcher *s)
{
    return s->r;
}

const souk_qp_field *souk_searcher_fields(souk_searcher *s, size_t *n)
{
    *n = s->nfields;
    return s->fields;
}

/* ------------------------------------------------------------------ BM25 */

/* Xapian's BM25Weight::init termweight for a term with termfreq df and query wqf. */
double souk__bm25_termweight(const souk_searcher *s, double df, double wqf)
{
    const souk_bm25 *p = &s->p;
    double tw = (s->N - df + 0.5) / (df + 0.5);
    if (tw < 2)
        tw = tw * 0.5 + 1;
    double termweight = log(tw) * ((p->k3 + 1) * wqf / (p->k3 + wqf));
    termweight *= (p->k1 + 1);
    return termweight;
}

/* Xapian's BM25Weight::get_sumpart. */
double souk__bm25_sumpart(const souk_searcher *s, double termweight, uint32_t wdf, uint32_t len)
{
    const souk_bm25 *p = &s->p;
    double normlen = (double)len * s->len_factor;
    if (normlen < p->min_normlen)
        normlen = p->min_normlen;
    double wdf_double = wdf;
    double denom = p->k1 * (normlen * p->b + (1 - p->b)) + wdf_double;
    return termweight * (wdf_double / denom);
}

/* Makes the length-normalisation cache valid for the current snapshot and parameters. */
static int knorm_prepare(souk_searcher *s)
{
    if (s->knorm_valid && s->knorm_generation == s->generation &&
        memcmp(&s->knorm_p, &s->p, sizeof s->p) == 0)
        return 0;
    size_t need = (size_t)s->next_docid + 1;
    if (need > s->knorm_cap) {
        double *k = souk_realloc(s->knorm, need * sizeof *k);
        if (!k)
            return SOUK_ENOMEM;
        s->knorm = k;
        s->knorm_cap = need;
    }
    memset(s->knorm, 0xff, need * sizeof *s->knorm); /* all NaN */
    s->knorm_p = s->p;
    s->knorm_generation = s->generation;
    s->knorm_valid = 1;
    return 0;
}

/* bm25_sumpart for the document's own length, with its normalisation cached: the same
 * operations as Xapian (k1 * (normlen * b + (1 - b)), then + wdf), so the same result. */
double souk__bm25_knorm(souk_searcher *s, uint32_t docid)
{
    const souk_bm25 *p = &s->p;
    double normlen = (double)souk__doclen(s, docid) * s->len_factor;
    if (normlen < p->min_normlen)
        normlen = p->min_normlen;
    double k = p->k1 * (normlen * p->b + (1 - p->b));
    s->knorm[docid] = k;
    return k;
}

/* Upper bound of the BM25 part of any posting of block b. With A = k1 * b / avlen and
 * C = k1 * (1 - b), the normalisation is at least A * len + C, so a posting's part is at most
 * 1 / (1 + A * (len / wdf) + C / wdf) <= 1 / (1 + A * min(len / wdf) + C / max wdf); the smaller
 * of that and the part at (max wdf, min doclen) bounds the block. */
double souk__bm25_block_bound(const souk_searcher *s, double termweight, const souk_block *b)
{
    if (b->max_wdf == 0)
        return 0;
    double simple = souk__bm25_sumpart(s, termweight, b->max_wdf, b->min_doclen);
    const souk_bm25 *p = &s->p;
    double A = p->k1 * p->b * s->len_factor, C = p->k1 * (1 - p->b);
    double ratio = b->min_len_per_wdf;
    if (!(ratio >= 0))
        return simple;
    double tight = termweight / (1 + A * ratio + C / b->max_wdf);
    return tight < simple ? tight : simple;
}

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

typedef struct build_ctx {
    souk_searcher *s;
    const souk_query *q;
    char *err;
    size_t errlen;
    uint32_t max_expansions; /* wildcards: keep the most frequent completions; 0: all */
    int rc;                  /* an index error met while building (not the query's fault) */
    uint32_t nterms;         /* term cursors opened so far */
    uint32_t max_terms;      /* the expansion budget (souk_budget.max_terms) */
    int over;                /* the budget is exceeded: SOUK_ETOOBIG */
    uint32_t weight;         /* how many times the wildcard being built occurs (merged) */
} build_ctx;

/* Fails the build when one more term (n more) would exceed the expansion budget. */
static int over_budget(build_ctx *b, size_t n)
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

static cur *make_term(build_ctx *b, const char *term, size_t len, uint32_t wqf)
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
        if (!w->terms || !w->lens || !w->df)
            return 1;
    }
    size_t i;
    if (w->n < w->max) {
        i = w->n++;
    } else {
        if (df <= w->df[0])
            return 0;
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
    w->terms[i] = souk_strndup(term, len);
    w->lens[i] = len;
    w->df[i] = df;
    while (i > 0 && w->df[(i - 1) / 2] > w->df[i]) { /* sift up */
        wild_swap(w, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
    return w->terms[i] ? 0 : 1;
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
    if (w->n == w->cap) {
        size_t nc = w->cap ? w->cap * 2 : 64;
        char **nt = souk_realloc(w->terms, nc * sizeof *nt);
        size_t *nl = nt ? souk_realloc(w->lens, nc * sizeof *nl) : NULL;
        if (!nt || !nl) {
            if (nt)
                w->terms = nt;
            return 1;
        }
        w->terms = nt;
        w->lens = nl;
        w->cap = nc;
    }
    w->terms[w->n] = souk_strndup(term, len);
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

static cur *build(build_ctx *b, uint32_t idx)
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
                      0,       0,           max,  NULL, (size_t)(b->max_terms - b->nterms)};
        int trc = souk_reader_terms(b->s->r, n->term, n->term_len, collect_wild, &w);
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
        c->kids[nk] = build(b, kids[i]);
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

/* ------------------------------------------------------------------ top k */

typedef struct topk {
    souk_hit *h;
    size_t n, k;
} topk;

/* Worse: lower score, or equal score and higher docid. */
static int worse(const souk_hit *a, const souk_hit *b)
{
    return a->score < b->score || (a->score == b->score && a->docid > b->docid);
}

static void heap_down(topk *t, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < t->n && worse(&t->h[l], &t->h[m]))
            m = l;
        if (r < t->n && worse(&t->h[r], &t->h[m]))
            m = r;
        if (m == i)
            return;
        souk_hit x = t->h[i];
        t->h[i] = t->h[m];
        t->h[m] = x;
        i = m;
    }
}

/* Offers a hit; returns 1 when the heap is full and its worst score may have changed. */
static int topk_offer(topk *t, uint32_t docid, double score)
{
    souk_hit x = {docid, score};
    if (t->n < t->k) {
        size_t i = t->n++;
        t->h[i] = x;
        while (i > 0 && worse(&t->h[i], &t->h[(i - 1) / 2])) {
            souk_hit y = t->h[i];
            t->h[i] = t->h[(i - 1) / 2];
            t->h[(i - 1) / 2] = y;
            i = (i - 1) / 2;
        }
        return t->n == t->k;
    }
    if (!worse(&t->h[0], &x))
        return 0;
    t->h[0] = x;
    heap_down(t, 0);
    return 1;
}

static int cmp_hits(const void *a, const void *b)
{
    const souk_hit *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return x->docid < y->docid ? -1 : x->docid > y->docid;
}

/* Exhaustive: every match is scored. */
static int run_exhaustive(souk_searcher *s, cur *root, topk *t, souk_search_stats *st)
{
    int rc = cur_next(s, root);
    while (!rc && root->did != DID_END && !souk__tick(s, 1)) {
        st->matched++;
        st->scored++;
        topk_offer(t, root->did, cur_score(s, root));
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
    double theta = -INFINITY;
    uint32_t first = 0; /* tl[first..m) are essential */
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
            if (bound * (1 + 1e-12) + 1e-12 <= theta && last != DID_END) {
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
            if (bound * (1 + 1e-12) + 1e-12 <= theta) {
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
            if (score + ub[j] <= theta) {
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
        /* Documents come in docid order, so a tie with the heap's worst never enters. */
        if (t->n == t->k && !(score > theta))
            continue;
        if (topk_offer(t, d, score) && t->n == t->k) {
            theta = t->h[0].score;
            while (first < m && ub[first] <= theta) {
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
    double theta = -INFINITY;
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
            if (bound * (1 + 1e-12) + 1e-12 <= theta) {
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
            if (bound * (1 + 1e-12) + 1e-12 <= theta) {
                st->pruned = 1;
                continue;
            }
        }
        st->scored++;
        if (topk_offer(t, d, cur_score(s, root)) && t->n == t->k)
            theta = t->h[0].score;
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

void souk_index_cache_stats(souk_index *ix, uint64_t *column_builds, uint64_t *typo_builds)
{
    *column_builds = souk__gen_builds(ix, souk__columns_slot());
    *typo_builds = souk__gen_builds(ix, souk__typo_slot());
}

int souk_searcher_warm(souk_searcher *s)
{
    souk__columns *c;
    souk__typo_dict *t;
    int rc = 0, cols, typo;
    /* Only what requests have used: an index never searched with filters or typos costs its
     * commits nothing. */
    cols = souk__gen_cached(s->ix, souk__columns_slot());
    typo = souk__gen_cached(s->ix, souk__typo_slot());
    if (cols) {
        if ((rc = souk__columns_get(s->r, s->generation, s->next_docid, &c)) != 0)
            return rc;
        souk__columns_release(c);
    }
    if (typo) {
        if ((rc = souk__typo_get(s->r, s->generation, &t)) != 0)
            return rc;
        souk__typo_release(t);
    }
    return 0;
}

int souk_suggest(souk_searcher *s, const souk_query *q, char **out)
{
    return souk__suggest(s, q, out);
}

void souk_searcher_set_lexicon(souk_searcher *s, const souk_lexicon *l)
{
    s->lex = l;
}

/* *t gets q rewritten by the searcher's lexicon (synonyms, stop words) and, with
 * SOUK_QP_TYPO, typo candidates (typo.c); it stays NULL when nothing changes. */
int souk__query_clone(const souk_query *q, size_t extra_nodes, size_t extra_kids, souk_query **out)
{
    souk_query *e = souk_calloc(1, sizeof *e);
    if (!e || !(e->nodes = souk_calloc(q->nnodes + extra_nodes + 1, sizeof *e->nodes)) ||
        !(e->kids = souk_calloc(q->nkids + extra_kids + 1, sizeof *e->kids)))
        goto fail;
    if (q->nkids) /* a one-node query may have no kids array at all */
        memcpy(e->kids, q->kids, q->nkids * sizeof *q->kids);
    e->nkids = q->nkids;
    e->nnodes = q->nnodes; /* terms NULL until copied: souk_query_free handles a partial copy */
    e->root = q->root;
    for (size_t i = 0; i < q->nnodes; i++) {
        e->nodes[i] = q->nodes[i];
        e->nodes[i].term = NULL;
        if (q->nodes[i].term &&
            !(e->nodes[i].term = souk_strndup(q->nodes[i].term, q->nodes[i].term_len)))
            goto fail;
    }
    *out = e;
    return 0;
fail:
    souk_query_free(e);
    return SOUK_ENOMEM;
}

int souk__rewrite_query_inner(souk_searcher *s, const souk_query *q, const souk_search_opts *o,
                              souk_query **t, char *err, size_t errlen);

typedef struct code_collect {
    souk_searcher *s;
    const souk_query *q; /* the query the codes join: its own words are not added again */
    char terms[16][64];
    size_t len[16];
    size_t n;
} code_collect;

static void on_code(void *ctx, const char *term, size_t len)
{
    code_collect *c = ctx;
    souk_term_info ti;
    for (size_t i = 0; i < c->n; i++)
        if (c->len[i] == len && memcmp(c->terms[i], term, len) == 0)
            return;
    if (c->n < 16 && len < 64 && souk_reader_term(c->s->r, term, len, &ti) == 0) {
        memcpy(c->terms[c->n], term, len);
        c->len[c->n++] = len;
    }
    /* A join that is a word of the catalog ("M8 x 40" -> m8x40) matches as that word, unless
     * the query has that word already (typed as one word: "M8x40", "1tb"), which would count
     * it twice. */
    size_t pl = strlen(SOUK_CODE_PREFIX);
    if (c->n < 16 && len > pl && souk_reader_term(c->s->r, term + pl, len - pl, &ti) == 0) {
        for (size_t i = 0; i < c->n; i++)
            if (c->len[i] == len - pl && memcmp(c->terms[i], term + pl, len - pl) == 0)
                return;
        for (size_t i = 0; i < c->q->nnodes; i++) {
            const souk_qnode *qn = &c->q->nodes[i];
            if (qn->op == SOUK_QOP_TERM && qn->term_len == len - pl &&
                memcmp(qn->term, term + pl, len - pl) == 0)
                return;
        }
        memcpy(c->terms[c->n], term + pl, len - pl);
        c->len[c->n++] = len - pl;
    }
}

/* With SOUK_QP_CODES: q OR the joined code terms of its text that the index has (codes.c),
 * into *out (NULL when there are none). */
static int add_codes(souk_searcher *s, const souk_query *q, souk_query **out)
{
    *out = NULL;
    code_collect c = {.s = s, .q = q};
    souk__codes(q->text, q->text_len, 1, on_code, &c, 64);
    if (!c.n)
        return 0;
    souk_query *e;
    if (souk__query_clone(q, c.n + 1, c.n + 1, &e))
        return SOUK_ENOMEM;
    uint32_t root = (uint32_t)e->nnodes++;
    e->nodes[root] = (souk_qnode){
        .op = SOUK_QOP_OR, .first_kid = (uint32_t)e->nkids, .nkids = (uint32_t)c.n + 1};
    e->kids[e->nkids++] = q->root;
    for (size_t i = 0; i < c.n; i++) {
        uint32_t k = (uint32_t)e->nnodes++;
        e->nodes[k] = (souk_qnode){.op = SOUK_QOP_TERM, .wqf = 1};
        if (!(e->nodes[k].term = souk_strndup(c.terms[i], c.len[i])))
            goto fail;
        e->nodes[k].term_len = c.len[i];
        e->kids[e->nkids++] = k;
    }
    e->root = root;
    e->text = souk_strndup(q->text, q->text_len);
    e->text_len = q->text_len;
    e->lang = q->lang ? souk_strndup(q->lang, strlen(q->lang)) : NULL;
    *out = e;
    return 0;
fail:
    souk_query_free(e);
    return SOUK_ENOMEM;
}

int souk__rewrite_query(souk_searcher *s, const souk_query *q, const souk_search_opts *o,
                        souk_query **t, char *err, size_t errlen)
{
    int rc = souk__rewrite_query_inner(s, q, o, t, err, errlen);
    if (rc || !(o->qp_flags & SOUK_QP_CODES) || !q->text)
        return rc;
    /* Codes last: synonyms and typos work on the plain words; the codes join the root. */
    souk_query *withcodes = NULL;
    const souk_query *base = *t ? *t : q;
    souk_query view = *base;
    view.text = q->text;
    view.text_len = q->text_len;
    view.lang = q->lang;
    if ((rc = add_codes(s, &view, &withcodes)) != 0) {
        snprintf(err, errlen, "codes: %s", souk_strerror(rc));
        return rc;
    }
    if (withcodes) {
        souk_query_free(*t);
        *t = withcodes;
    }
    return 0;
}

int souk__rewrite_query_inner(souk_searcher *s, const souk_query *q, const souk_search_opts *o,
                              souk_query **t, char *err, size_t errlen)
{
    *t = NULL;
    souk_query *lx = NULL;
    int rc = s->lex ? souk__lexicon_apply(s->lex, q, (o->qp_flags & SOUK_QP_TYPO) != 0,
                                          SOUK_TYPO_WEIGHT, &lx)
                    : 0;
    if (rc) {
        snprintf(err, errlen, "synonyms: %s", souk_strerror(rc));
        return rc;
    }
    if (lx && q->text) { /* the typo pass reads the query's text and language */
        lx->text = souk_strndup(q->text, q->text_len);
        lx->text_len = q->text_len;
        lx->lang = souk_strndup(q->lang, strlen(q->lang));
    }
    if (!(o->qp_flags & SOUK_QP_TYPO)) {
        *t = lx;
        return 0;
    }
    rc = souk__typo_expand(s, lx ? lx : q, SOUK_TYPO_WEIGHT, t);
    if (rc)
        snprintf(err, errlen, "typo tolerance: %s", souk_strerror(rc));
    if (*t)
        souk_query_free(lx);
    else
        *t = lx;
    return rc;
}

/* Sets the searcher's BM25 parameters for o and builds q's cursor tree into *root. */
static int prepare(souk_searcher *s, const souk_query *q, const souk_search_opts *o, cur **root,
                   char *err, size_t errlen)
{
    souk_bm25 def = SOUK_BM25_DEFAULT;
    s->p = o->bm25.k1 == 0 && o->bm25.b == 0 && o->bm25.k3 == 0 ? def : o->bm25;
    if (knorm_prepare(s))
        return SOUK_ENOMEM;
    err[0] = 0;
    build_ctx b = {s,
                   q,
                   err,
                   errlen,
                   o->max_expansions,
                   0,
                   0,
                   s->budget.max_terms ? s->budget.max_terms : SOUK_MAX_QUERY_TERMS,
                   0,
                   1};
    *root = build(&b, q->root);
    if (!*root) {
        if (b.over)
            return SOUK_ETOOBIG; /* the message is in err */
        /* The query's own problems name themselves in err (SOUK_EQUERY); the rest is the
         * index's or memory's, not the user's. */
        if (b.rc && b.rc != SOUK_ENOMEM) {
            snprintf(err, errlen, "reading the index: %s", souk_strerror(b.rc));
            return b.rc;
        }
        if (!err[0]) {
            snprintf(err, errlen, "out of memory building the query");
            return SOUK_ENOMEM;
        }
        return SOUK_EQUERY;
    }
    return 0;
}

static int plain_search_query(souk_searcher *s, const souk_query *q, const souk_search_opts *o,
                              souk_hit *hits, size_t *nhits, souk_search_stats *st, char *err,
                              size_t errlen)
{
    souk_search_stats local;
    if (!st)
        st = &local;
    memset(st, 0, sizeof *st);
    *nhits = 0;
    if (o->k == 0)
        return SOUK_OK;
    cur *root;
    int brc = prepare(s, q, o, &root, err, errlen);
    if (brc)
        return brc;
    topk t = {hits, 0, o->k};
    /* MaxScore needs only each child's bound: terms, phrases, nested ORs and the rest all
     * report one (blocks of terms give tighter bounds). */
    int prune = !o->no_prune && root->kind == C_OR && root->scored && root->factor == 1.0;
    int rc = prune                                        ? run_maxscore(s, root, &t, st)
             : !o->no_prune && blockmax_and_applies(root) ? run_blockmax_and(s, root, &t, st)
                                                          : run_exhaustive(s, root, &t, st);
    souk__cur_free(root);
    if (rc) {
        snprintf(err, errlen, "reading postings: %s", souk_strerror(rc));
        return rc;
    }
    st->stopped = s->stopped;
    if (s->stopped)
        st->pruned = 1; /* matched counts only what was seen: a lower bound */
    qsort(hits, t.n, sizeof *hits, cmp_hits);
    *nhits = t.n;
    return SOUK_OK;
}

static int plain_search_each(souk_searcher *s, const souk_query *q, const souk_search_opts *o,
                             souk_match_fn fn, void *ctx, char *err, size_t errlen)
{
    cur *root;
    int rc = prepare(s, q, o, &root, err, errlen), stop = 0;
    if (rc)
        return rc;
    rc = cur_next(s, root);
    while (!rc && !stop && root->did != DID_END && !souk__tick(s, 1)) {
        stop = fn(ctx, root->did, root->scored ? cur_score(s, root) : 0);
        if (!stop)
            rc = cur_next(s, root);
    }
    souk__cur_free(root);
    if (rc) {
        snprintf(err, errlen, "reading postings: %s", souk_strerror(rc));
        return rc;
    }
    return SOUK_OK;
}

int souk_search(souk_searcher *s, const char *q, size_t len, const souk_search_opts *o,
                souk_hit *hits, size_t *nhits, souk_search_stats *st, char *err, size_t errlen)
{
    souk_query *pq;
    const char *lang = o->lang ? o->lang : souk_index_schema(s->ix)->default_language;
    int rc = souk_query_parse(q, len, lang, s->fields, s->nfields, o->qp_flags, &pq, err, errlen);
    if (rc)
        return rc;
    rc = souk_search_query(s, pq, o, hits, nhits, st, err, errlen);
    souk_query_free(pq);
    return rc;
}

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
    if (knorm_prepare(s))
        return SOUK_ENOMEM;
    char err[256];
    err[0] = 0;
    build_ctx b = {s,
                   q,
                   err,
                   sizeof err,
                   o->max_expansions,
                   0,
                   0,
                   s->budget.max_terms ? s->budget.max_terms : SOUK_MAX_QUERY_TERMS,
                   0,
                   1};
    cur *root = build(&b, q->root);
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

/* ------------------------------------------------------------------ typo tolerance */

int souk_search_query(souk_searcher *s, const souk_query *q, const souk_search_opts *o,
                      souk_hit *hits, size_t *nhits, souk_search_stats *st, char *err,
                      size_t errlen)
{
    souk_query *t = NULL;
    if (souk__budget_begin(s)) { /* out of time before it starts: nothing examined */
        souk_search_stats local;
        st = st ? st : &local;
        memset(st, 0, sizeof *st);
        st->stopped = s->stopped;
        st->pruned = 1;
        *nhits = 0;
        return SOUK_OK;
    }
    int rc = souk__rewrite_query(s, q, o, &t, err, errlen);
    if (!rc)
        rc = plain_search_query(s, t ? t : q, o, hits, nhits, st, err, errlen);
    souk_query_free(t);
    return rc;
}

int souk_search_each(souk_searcher *s, const souk_query *q, const souk_search_opts *o,
                     souk_match_fn fn, void *ctx, char *err, size_t errlen)
{
    souk_query *t = NULL;
    if (souk__budget_begin(s))
        return SOUK_OK; /* out of time before it starts: nothing examined */
    int rc = souk__rewrite_query(s, q, o, &t, err, errlen);
    if (!rc)
        rc = plain_search_each(s, t ? t : q, o, fn, ctx, err, errlen);
    souk_query_free(t);
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
