/* lexicon.c: synonyms and stop words applied to parsed queries, so they change without
 * reindexing (the server reloads them with its configuration).
 *
 * A synonym group lists equivalent expressions of one or more words ("ssd", "solid state
 * drive"). Expressions are analysed like queries (same stemmer), so "drives" in a query matches
 * "drive" in a group. Wherever in the query the words of an expression appear at consecutive
 * positions among the parts of one OR or AND (the longest expression that starts at a word
 * wins), they also match every other expression of the group: a one-word expression as its
 * stem, a longer one as a phrase. Under OR the alternatives join the OR; under AND the words and
 * their alternatives become one required part, OR(AND(words), alternatives), so "solid state
 * drive 1tb" finds "ssd 1tb"; a word alone under another operator (FILTER, AND_NOT, ...)
 * becomes OR(word, alternatives). The partial last word of prefix search (OR(WILDCARD, TERM))
 * matches an expression's last word it begins (two letters or more); with typo tolerance a word
 * of 5+ letters matches an expression's word within the typo distance, and the alternatives it
 * brings weigh SOUK_TYPO_WEIGHT. Phrases are left as they are. Stop words are dropped from the
 * parts of every OR and AND (never the partial last word, which may be the start of another
 * word), unless every word of the query is one. The alternatives are terms like any other:
 * they count toward the searcher's term budget when the cursors are built (match.c). */
#include "souk/buf.h"
#include "query/match_int.h"
#include "souk/lexicon.h"
#include "souk/analysis.h"
#include "query/typo.h"
#include "souk/souk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXW 8    /* words in one expression */
#define MAXPOS 64 /* query positions whose words typo tolerance compares */
#define RAWLEN 48 /* the longest such word, in bytes */

typedef struct expr {
    char *stem[MAXW]; /* "Z" terms, for matching the query */
    char *raw[MAXW];  /* words, for phrases */
    int n;
} expr;

/* An expression by its first word's stem, for finding the expressions a query word starts. */
typedef struct first {
    const char *stem;
    uint32_t x;
} first;

struct souk_lexicon {
    expr *exprs; /* the expressions of a group are consecutive */
    int *group;  /* group of each expression */
    size_t n;
    first *by_first; /* every expression, sorted by its first stem */
    char **stop;     /* "Z" terms of the stop words */
    size_t nstop;
};

typedef struct acc {
    expr *e;
    int failed;
} acc;

static void on_word(void *ctx, const char *term, size_t len, uint32_t pos, uint32_t wdf)
{
    acc *a = ctx;
    (void)wdf;
    if (pos) {
        if (a->e->n == MAXW) {
            a->failed = 1;
            return;
        }
        a->e->raw[a->e->n++] = souk_strndup(term, len);
    } else if (a->e->n && !a->e->stem[a->e->n - 1]) {
        a->e->stem[a->e->n - 1] = souk_strndup(term, len);
    }
}

static int analyze(souk_analyzer *an, const char *text, const char *lang, expr *e, char *err,
                   size_t errlen)
{
    memset(e, 0, sizeof *e);
    acc a = {e, 0};
    uint32_t tp = 0;
    if (souk_analyze(an, text, strlen(text), lang, "", 1, &tp, on_word, &a) || a.failed ||
        e->n == 0) {
        snprintf(err, errlen, "\"%s\" is not 1 to %d words", text, MAXW);
        return SOUK_EINVAL;
    }
    for (int i = 0; i < e->n; i++)
        if (!e->raw[i])
            return SOUK_ENOMEM;
        else if (!e->stem[i]) /* words without a stem (numbers): match the word itself */
            e->stem[i] = souk_strndup(e->raw[i], strlen(e->raw[i]));
    return 0;
}

void souk_lexicon_free(souk_lexicon *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        for (int k = 0; k < l->exprs[i].n; k++) {
            souk_free(l->exprs[i].stem[k]);
            souk_free(l->exprs[i].raw[k]);
        }
    for (size_t i = 0; i < l->nstop; i++)
        souk_free(l->stop[i]);
    souk_free(l->exprs);
    souk_free(l->group);
    souk_free(l->by_first);
    souk_free(l->stop);
    souk_free(l);
}

static int cmp_first(const void *a, const void *b)
{
    const first *x = a, *y = b;
    int c = strcmp(x->stem, y->stem);
    return c ? c : (x->x > y->x) - (x->x < y->x);
}

int souk_lexicon_new(const char *lang, const char *const *const *groups, size_t ngroups,
                     const char *const *stop, size_t nstop, souk_lexicon **out, char *err,
                     size_t errlen)
{
    souk_lexicon *l = souk_calloc(1, sizeof *l);
    souk_analyzer *an = NULL;
    int rc = l ? souk_analyzer_new(&an) : SOUK_ENOMEM;
    size_t total = 0;
    for (size_t g = 0; g < ngroups; g++)
        for (const char *const *e = groups[g]; *e; e++)
            total++;
    if (!rc && (!(l->exprs = souk_calloc(total + 1, sizeof *l->exprs)) ||
                !(l->group = souk_calloc(total + 1, sizeof *l->group)) ||
                !(l->stop = souk_calloc(nstop + 1, sizeof *l->stop))))
        rc = SOUK_ENOMEM;
    for (size_t g = 0; g < ngroups && !rc; g++)
        for (const char *const *e = groups[g]; *e && !rc; e++) {
            rc = analyze(an, *e, lang, &l->exprs[l->n], err, errlen);
            l->group[l->n++] = (int)g;
        }
    for (size_t i = 0; i < nstop && !rc; i++) {
        expr e;
        rc = analyze(an, stop[i], lang, &e, err, errlen);
        if (!rc && e.n != 1) {
            snprintf(err, errlen, "stop word \"%s\" is not one word", stop[i]);
            rc = SOUK_EINVAL;
        }
        if (!rc) {
            l->stop[l->nstop++] = e.stem[0];
            e.stem[0] = NULL;
        }
        for (int k = 0; k < e.n; k++) {
            souk_free(e.stem[k]);
            souk_free(e.raw[k]);
        }
    }
    souk_analyzer_free(an);
    if (!rc && !(l->by_first = souk_calloc(l->n + 1, sizeof *l->by_first)))
        rc = SOUK_ENOMEM;
    for (size_t i = 0; !rc && i < l->n; i++)
        l->by_first[i] = (first){l->exprs[i].stem[0], (uint32_t)i};
    if (!rc)
        qsort(l->by_first, l->n, sizeof *l->by_first, cmp_first);
    if (rc) {
        souk_lexicon_free(l);
        return rc;
    }
    *out = l;
    return 0;
}

/* ------------------------------------------------------------------ applying it */

static int is_stop(const souk_lexicon *l, const char *t)
{
    for (size_t i = 0; i < l->nstop; i++)
        if (strcmp(l->stop[i], t) == 0)
            return 1;
    return 0;
}

/* Appends a node; returns its index or -1. */
static int add_node(souk_query *e, size_t *capn, souk_qnode n)
{
    if (e->nnodes == *capn) {
        size_t cap = *capn * 2 + 16;
        souk_qnode *p = souk_realloc(e->nodes, cap * sizeof *p);
        if (!p)
            return -1;
        e->nodes = p;
        *capn = cap;
    }
    e->nodes[e->nnodes] = n;
    return (int)e->nnodes++;
}

static int add_kid(souk_query *e, size_t *capk, uint32_t k)
{
    if (e->nkids == *capk) {
        size_t cap = *capk * 2 + 16;
        uint32_t *p = souk_realloc(e->kids, cap * sizeof *p);
        if (!p)
            return -1;
        e->kids = p;
        *capk = cap;
    }
    e->kids[e->nkids++] = k;
    return 0;
}

static int term_node(souk_query *e, size_t *capn, const char *t, uint32_t pos)
{
    souk_qnode n = {.op = SOUK_QOP_TERM, .wqf = 1, .pos = pos};
    n.term = souk_strndup(t, strlen(t));
    n.term_len = strlen(t);
    if (!n.term)
        return -1;
    int i = add_node(e, capn, n);
    if (i < 0)
        souk_free(n.term);
    return i;
}

/* A word of the query: a TERM with a position, or the partial last word of prefix search,
 * OR(WILDCARD, TERM). */
typedef struct word {
    uint32_t node;                 /* its node */
    const char *stem;              /* its TERM's term */
    const char *wild;              /* the partial word, or NULL */
    const char *raw;               /* the word as typed (lower case) when typos count, else NULL */
    const souk__typo_pattern *pat; /* raw ready for the edit distance (5 to 64 letters) */
    uint32_t pos;
    int used; /* placed (in an expression or alone) or dropped */
} word;

/* Whether node i is a word; if so, *w describes it. */
static int word_of(const souk_query *q, uint32_t i, word *w)
{
    const souk_qnode *n = &q->nodes[i];
    *w = (word){.node = i};
    if (n->op == SOUK_QOP_TERM && n->pos && n->term) {
        w->stem = n->term;
        w->pos = n->pos;
        return 1;
    }
    if (n->op != SOUK_QOP_OR || n->nkids != 2)
        return 0;
    const souk_qnode *a = &q->nodes[q->kids[n->first_kid]];
    const souk_qnode *b = &q->nodes[q->kids[n->first_kid + 1]];
    if (a->op != SOUK_QOP_WILDCARD || b->op != SOUK_QOP_TERM || !b->pos || !a->term || !b->term)
        return 0;
    w->stem = b->term;
    w->wild = a->term;
    w->pos = b->pos;
    return 1;
}

/* How query word w matches word j of ex: 1 by its stem or, the partial last word of prefix
 * search (two letters or more), as a prefix of the expression's last word; 2 as a typo (with
 * typo tolerance: 5+ letters, one edit, two from 9 letters, as typo.c counts); 0 not at all. */
static int word_matches(const word *w, const expr *ex, int j)
{
    if (strcmp(w->stem, ex->stem[j]) == 0)
        return 1;
    size_t wl = w->wild ? strlen(w->wild) : 0;
    if (wl >= 2 && j == ex->n - 1 && strncmp(ex->raw[j], w->wild, wl) == 0)
        return 1;
    if (!w->pat)
        return 0;
    size_t rl = w->pat->m, el = strlen(ex->raw[j]);
    int k = rl >= 9 ? 2 : 1;
    if (el + (size_t)k < rl || rl + (size_t)k < el)
        return 0;
    return souk__typo_distance_p(w->pat, ex->raw[j], el, k) <= k ? 2 : 0;
}

/* Whether ex matches from ws[k] on: ws[k] its first word, the others unplaced words at the
 * next positions. Their indices go to at[]. Returns 0, 1, or 2 when a word matched as a typo. */
static int expr_at(const expr *ex, const word *ws, uint32_t nw, uint32_t k, uint32_t *at)
{
    int how = ws[k].used ? 0 : word_matches(&ws[k], ex, 0);
    if (!how)
        return 0;
    at[0] = k;
    for (int j = 1; j < ex->n; j++) {
        uint32_t m = nw;
        int h = 0;
        for (uint32_t x = 0; x < nw && m == nw; x++)
            if (!ws[x].used && ws[x].pos == ws[k].pos + (uint32_t)j &&
                (h = word_matches(&ws[x], ex, j)) != 0)
                m = x;
        if (m == nw)
            return 0;
        at[j] = m;
        how = h > how ? h : how;
    }
    return how;
}

/* A growable list of node indices. */
typedef struct idlist {
    uint32_t *v;
    size_t n, cap;
} idlist;

static int push(idlist *a, uint32_t x)
{
    if (souk_grow((void **)&a->v, &a->cap, a->n + 1, sizeof *a->v, SIZE_MAX))
        return -1;
    a->v[a->n++] = x;
    return 0;
}

typedef struct rw {
    const souk_lexicon *l;
    const souk_query *q; /* the query as parsed: structure is read from here */
    souk_query *e;       /* its copy, being rewritten */
    size_t capn, capk;
    uint8_t *mark; /* per expression, at one place: 2 matched there (3 as a typo), 1 already
                      an alternative */
    int all_stop;  /* every word of the query is a stop word: none is dropped */
    int changed;
    double typo_weight;
    char (*raw)[RAWLEN + 1]; /* with typo tolerance: the query's words by position, else NULL */
    souk__typo_pattern *pat; /* and each ready for the edit distance (m 0: too short) */
} rw;

/* A new node of operator op over the nodes kids[0..n); returns its index or -1. */
static int node_over(rw *w, souk_qop op, const uint32_t *kids, size_t n)
{
    uint32_t first = (uint32_t)w->e->nkids;
    for (size_t k = 0; k < n; k++)
        if (add_kid(w->e, &w->capk, kids[k]))
            return -1;
    return add_node(w->e, &w->capn,
                    (souk_qnode){.op = op, .first_kid = first, .nkids = (uint32_t)n});
}

/* A new node for the alternative ey at query position pos: its stem, or a phrase of its words;
 * returns its index or -1. */
static int alt_node(rw *w, const expr *ey, uint32_t pos)
{
    if (ey->n == 1)
        return term_node(w->e, &w->capn, ey->stem[0], pos);
    uint32_t ids[MAXW];
    for (int j = 0; j < ey->n; j++) {
        int t = term_node(w->e, &w->capn, ey->raw[j], pos + (uint32_t)j);
        if (t < 0)
            return -1;
        ids[j] = (uint32_t)t;
    }
    int ph = node_over(w, SOUK_QOP_PHRASE, ids, (size_t)ey->n);
    if (ph >= 0)
        w->e->nodes[ph].window = (uint32_t)ey->n;
    return ph;
}

static int rewrite(rw *w, uint32_t i);

/* The first expression of y's group. */
static size_t group_first(const souk_lexicon *l, size_t y)
{
    while (y > 0 && l->group[y - 1] == l->group[y])
        y--;
    return y;
}

/* The new kids, into *out, of a node of operator op whose kids were kids[0..nk). Words at
 * consecutive positions that form an expression of the lexicon (the longest that starts at a
 * word) also match the other expressions of its group: under OR the alternatives join the OR,
 * under AND the expression and its alternatives become one required part, OR(AND(words),
 * alternatives), and under any other operator each word stands alone, OR(word, alternatives).
 * Under OR and AND, stop words are dropped (not the partial word of prefix search). Other kids
 * are rewritten in turn. */
static int rewrite_kids(rw *w, souk_qop op, const uint32_t *kids, uint32_t nk, idlist *out)
{
    const souk_lexicon *l = w->l;
    int listy = op == SOUK_QOP_OR || op == SOUK_QOP_AND;
    word *ws = souk_calloc(nk + 1, sizeof *ws);
    idlist unit = {0}, fuzzy = {0};
    int rc = -1;
    if (!ws)
        goto done;
    uint32_t nw = 0;
    for (uint32_t k = 0; k < nk; k++)
        if (word_of(w->q, kids[k], &ws[nw])) {
            if (w->raw && ws[nw].pos <= MAXPOS && w->raw[ws[nw].pos][0]) {
                ws[nw].raw = w->raw[ws[nw].pos];
                ws[nw].pat = w->pat[ws[nw].pos].m ? &w->pat[ws[nw].pos] : NULL;
            }
            nw++;
        }
    for (uint32_t k = 0; k < nk; k++) {
        uint32_t x = 0;
        while (x < nw && ws[x].node != kids[k])
            x++;
        if (x == nw) { /* not a word */
            if (rewrite(w, kids[k]) || push(out, kids[k]))
                goto done;
            continue;
        }
        if (ws[x].used)
            continue; /* placed with an expression that starts earlier */
        /* The expressions that may start here: those whose first stem is this word's (found by
         * binary search), or every one for the partial word and with typo tolerance. */
        size_t lo = 0, hi = l->n;
        if (!ws[x].wild && !ws[x].raw) {
            size_t a = 0, b = l->n;
            while (a < b) {
                size_t m = a + (b - a) / 2;
                if (strcmp(l->by_first[m].stem, ws[x].stem) < 0)
                    a = m + 1;
                else
                    b = m;
            }
            lo = hi = a;
            while (hi < l->n && strcmp(l->by_first[hi].stem, ws[x].stem) == 0)
                hi++;
        }
        int best = 0;
        uint32_t at[MAXW], best_at[MAXW];
        for (size_t c = lo; c < hi; c++) {
            size_t y = l->by_first[c].x;
            if (l->exprs[y].n > best && (listy || l->exprs[y].n == 1) &&
                expr_at(&l->exprs[y], ws, nw, x, at)) {
                best = l->exprs[y].n;
                memcpy(best_at, at, sizeof at);
            }
        }
        if (!best) {
            ws[x].used = 1;
            if (listy && !w->all_stop && !ws[x].wild && is_stop(l, ws[x].stem)) {
                w->changed = 1; /* a stop word: dropped */
                continue;
            }
            if (push(out, kids[k]))
                goto done;
            continue;
        }
        /* Every expression of that length that matches these words, and the others of their
         * groups as alternatives. */
        memset(w->mark, 0, l->n);
        for (size_t c = lo; c < hi; c++) {
            size_t y = l->by_first[c].x;
            int how = l->exprs[y].n == best ? expr_at(&l->exprs[y], ws, nw, x, at) : 0;
            if (how && memcmp(at, best_at, (size_t)best * sizeof *at) == 0)
                w->mark[y] = (uint8_t)(how + 1);
        }
        unit.n = 0;
        for (int j = 0; j < best; j++) {
            ws[best_at[j]].used = 1;
            if (push(&unit, ws[best_at[j]].node))
                goto done;
        }
        if (op == SOUK_QOP_AND && best > 1) { /* the words as typed, all required */
            int a = node_over(w, SOUK_QOP_AND, unit.v, unit.n);
            if (a < 0)
                goto done;
            unit.v[0] = (uint32_t)a;
            unit.n = 1;
        }
        size_t nwords = unit.n;
        /* A group matched only through a typo brings its alternatives at the typo weight. */
        for (size_t y = 0; y < l->n; y++) {
            if (w->mark[y] != 2 && w->mark[y] != 3)
                continue;
            int exact = 0;
            for (size_t z = group_first(l, y); z < l->n && l->group[z] == l->group[y] && !exact;
                 z++)
                exact = w->mark[z] == 2;
            if (!exact)
                continue;
            for (size_t z = group_first(l, y); z < l->n && l->group[z] == l->group[y]; z++) {
                if (w->mark[z])
                    continue;
                w->mark[z] = 1;
                int a = alt_node(w, &l->exprs[z], ws[x].pos);
                if (a < 0 || push(&unit, (uint32_t)a))
                    goto done;
            }
        }
        fuzzy.n = 0;
        for (size_t y = 0; y < l->n; y++)
            for (size_t z = w->mark[y] == 3 ? group_first(l, y) : l->n;
                 z < l->n && l->group[z] == l->group[y]; z++) {
                if (w->mark[z])
                    continue;
                w->mark[z] = 1;
                int a = alt_node(w, &l->exprs[z], ws[x].pos);
                if (a < 0 || push(&fuzzy, (uint32_t)a))
                    goto done;
            }
        if (fuzzy.n) {
            int a = fuzzy.n == 1 ? (int)fuzzy.v[0] : node_over(w, SOUK_QOP_OR, fuzzy.v, fuzzy.n);
            uint32_t ua = (uint32_t)a;
            int sc = a < 0 ? -1 : node_over(w, SOUK_QOP_SCALE_WEIGHT, &ua, 1);
            if (sc < 0 || push(&unit, (uint32_t)sc))
                goto done;
            w->e->nodes[sc].scale = w->typo_weight;
        }
        if (unit.n == nwords || op == SOUK_QOP_OR) {
            /* Under OR (or without alternatives): the parts go into the node itself. */
            w->changed |= unit.n > nwords;
            for (size_t u = 0; u < unit.n; u++)
                if (push(out, unit.v[u]))
                    goto done;
            continue;
        }
        int u = node_over(w, SOUK_QOP_OR, unit.v, unit.n);
        if (u < 0 || push(out, (uint32_t)u))
            goto done;
        w->changed = 1;
    }
    if (out->n == 0) /* only stop words here, but not in the whole query: kept */
        for (uint32_t k = 0; k < nk; k++)
            if (push(out, kids[k]))
                goto done;
    rc = 0;
done:
    souk_free(ws);
    souk_free(unit.v);
    souk_free(fuzzy.v);
    return rc;
}

/* Rewrites node i of w->e in place (its kids); phrases and leaves stay as they are. */
static int rewrite(rw *w, uint32_t i)
{
    const souk_qnode *n = &w->q->nodes[i];
    switch (n->op) {
    case SOUK_QOP_AND:
    case SOUK_QOP_OR:
    case SOUK_QOP_AND_NOT:
    case SOUK_QOP_AND_MAYBE:
    case SOUK_QOP_FILTER:
    case SOUK_QOP_SCALE_WEIGHT:
    case SOUK_QOP_SYNONYM:
        break;
    default:
        return 0;
    }
    idlist out = {0};
    int rc = rewrite_kids(w, n->op, w->q->kids + n->first_kid, n->nkids, &out);
    if (!rc) {
        uint32_t first = (uint32_t)w->e->nkids;
        for (size_t k = 0; k < out.n && !rc; k++)
            rc = add_kid(w->e, &w->capk, out.v[k]);
        w->e->nodes[i].first_kid = first;
        w->e->nodes[i].nkids = (uint32_t)out.n;
    }
    souk_free(out.v);
    return rc;
}

/* Whether every word of node i (outside phrases) is a stop word; *any counts the words. */
static int only_stop(const souk_lexicon *l, const souk_query *q, uint32_t i, size_t *any)
{
    const souk_qnode *n = &q->nodes[i];
    word wd;
    if (word_of(q, i, &wd)) {
        ++*any;
        return is_stop(l, wd.stem);
    }
    if (n->op == SOUK_QOP_PHRASE || n->op == SOUK_QOP_NEAR)
        return 1;
    int all = 1;
    for (uint32_t k = 0; k < n->nkids && all; k++)
        all = only_stop(l, q, q->kids[n->first_kid + k], any);
    return all;
}

/* The words of q's text by position, lower case as analysis gives them, into raw[1..MAXPOS]
 * (words longer than RAWLEN stay empty). */
static void on_query_word(void *ctx, const char *term, size_t len, uint32_t pos, uint32_t wdf)
{
    char(*raw)[RAWLEN + 1] = ctx;
    (void)wdf;
    if (pos && pos <= MAXPOS && len <= RAWLEN) {
        memcpy(raw[pos], term, len);
        raw[pos][len] = 0;
    }
}

int souk__lexicon_apply(const souk_lexicon *l, const souk_query *q, int typo, double typo_weight,
                        souk_query **out)
{
    *out = NULL;
    if (!l || (!l->n && !l->nstop) || !q->nnodes)
        return 0;
    souk_query *e = NULL;
    int rc = souk__query_clone(q, 16, 16, &e);
    if (rc)
        return rc;
    rw w = {l, q, e, q->nnodes + 16 + 1, q->nkids + 16 + 1, NULL, 0, 0, typo_weight, NULL, NULL};
    size_t nwords = 0;
    w.all_stop = only_stop(l, q, q->root, &nwords);
    rc = SOUK_ENOMEM;
    if (!(w.mark = souk_calloc(l->n + 1, 1)))
        goto fail;
    if (typo && l->n && q->text && q->lang) {
        souk_analyzer *an = NULL;
        if (!(w.raw = souk_calloc(MAXPOS + 1, sizeof *w.raw)) || souk_analyzer_new(&an))
            goto fail;
        uint32_t tp = 0;
        if (souk_analyze(an, q->text, q->text_len, q->lang, "", 1, &tp, on_query_word, w.raw))
            memset(w.raw, 0, (MAXPOS + 1) * sizeof *w.raw); /* text it refuses: no typos */
        souk_analyzer_free(an);
        if (!(w.pat = souk_calloc(MAXPOS + 1, sizeof *w.pat)))
            goto fail;
        for (size_t p = 1; p <= MAXPOS; p++)
            if (strlen(w.raw[p]) >= 5)
                souk__typo_pattern_init(&w.pat[p], w.raw[p], strlen(w.raw[p]));
    }
    word wd;
    if (word_of(q, q->root, &wd)) {
        /* One word (or the partial word alone): as if it were the only part of an OR. */
        idlist kids = {0};
        uint32_t root = q->root;
        int r = rewrite_kids(&w, SOUK_QOP_OR, &root, 1, &kids);
        if (!r && w.changed) {
            r = node_over(&w, SOUK_QOP_OR, kids.v, kids.n);
            if (r >= 0)
                e->root = (uint32_t)r;
        }
        souk_free(kids.v);
        if (r < 0)
            goto fail;
    } else if (rewrite(&w, q->root)) {
        goto fail;
    }
    souk_free(w.mark);
    souk_free(w.raw);
    souk_free(w.pat);
    if (!w.changed) {
        souk_query_free(e);
        return 0;
    }
    *out = e;
    return 0;
fail:
    souk_free(w.mark);
    souk_free(w.raw);
    souk_free(w.pat);
    souk_query_free(e);
    return rc;
}
