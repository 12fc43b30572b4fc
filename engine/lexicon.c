/* lexicon.c: synonyms and stop words applied to parsed queries, so they change without
 * reindexing (the server reloads them with its configuration).
 *
 * A synonym group lists equivalent expressions of one or more words ("ssd", "solid state
 * drive"). Expressions are analysed like queries (same stemmer), so "drives" in a query matches
 * "drive" in a group. When the words of an expression appear at consecutive positions of a
 * plain query (its words under the root OR/AND), the first of them also matches every other
 * expression of the group: a one-word expression as its stem, a longer one as a phrase. Stop
 * words are dropped from plain queries, unless every word is one. */
#include "match_int.h"
#include "souk/lexicon.h"
#include "souk/souk.h"

#include <stdio.h>
#include <string.h>

#define MAXW 8 /* words in one expression */

typedef struct expr {
    char *stem[MAXW]; /* "Z" terms, for matching the query */
    char *raw[MAXW];  /* words, for phrases */
    int n;
} expr;

struct souk_lexicon {
    expr *exprs;
    int *group; /* group of each expression */
    size_t n;
    char **stop; /* "Z" terms of the stop words */
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
    souk_free(l->stop);
    souk_free(l);
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

int souk__lexicon_apply(const souk_lexicon *l, const souk_query *q, souk_query **out)
{
    *out = NULL;
    const souk_qnode *root = &q->nodes[q->root];
    /* One word is a root TERM; several are TERM children of the root OR or AND. */
    int single = root->op == SOUK_QOP_TERM;
    if (!l || (!single && root->op != SOUK_QOP_OR && root->op != SOUK_QOP_AND))
        return 0;
    uint32_t nk = single ? 1 : root->nkids;
    for (uint32_t k = 0; k < nk && !single; k++)
        if (q->nodes[q->kids[root->first_kid + k]].op != SOUK_QOP_TERM)
            return 0;
    /* A copy with room to grow (add_node and add_kid grow it further); new nodes and kids are
     * appended after the old ones, which other nodes may still use. */
    souk_query *e = NULL;
    size_t capn = q->nnodes + 16 + 1, capk = q->nkids + 16 + 1;
    int rc = souk__query_clone(q, 16, 16, &e);
    if (rc)
        return rc;
    rc = SOUK_ENOMEM;
    uint32_t *words = souk_malloc((nk ? nk : 1) * sizeof *words);
    if (!words)
        goto fail;
    if (single)
        words[0] = q->root;
    else
        memcpy(words, q->kids + root->first_kid, nk * sizeof *words);
    int changed = 0, all_stop = 1;
    for (uint32_t k = 0; k < nk; k++)
        all_stop &= is_stop(l, q->nodes[words[k]].term);
    uint32_t nroot = 0;
    uint32_t *newkids = souk_malloc((nk ? nk : 1) * sizeof *newkids);
    if (!newkids) {
        souk_free(words);
        goto fail;
    }
    for (uint32_t k = 0; k < nk; k++) {
        uint32_t w = words[k];
        const souk_qnode *wn = &q->nodes[w];
        if (!all_stop && is_stop(l, wn->term)) {
            changed = 1; /* a stop word: dropped */
            continue;
        }
        /* Expressions starting at this word's position. */
        int alt_first = -1;
        uint32_t nalt = 0;
        for (size_t x = 0; x < l->n; x++) {
            const expr *ex = &l->exprs[x];
            int match = 1;
            for (int j = 0; j < ex->n && match; j++) {
                int seen = 0;
                for (uint32_t m = 0; m < nk && !seen; m++) {
                    const souk_qnode *mn = &q->nodes[words[m]];
                    seen = mn->pos == wn->pos + (uint32_t)j && strcmp(mn->term, ex->stem[j]) == 0;
                }
                match = seen;
            }
            if (!match)
                continue;
            /* Every other expression of the group is an alternative. */
            for (size_t y = 0; y < l->n; y++) {
                if (y == x || l->group[y] != l->group[x])
                    continue;
                const expr *ey = &l->exprs[y];
                int alt;
                if (ey->n == 1) {
                    alt = term_node(e, &capn, ey->stem[0], wn->pos);
                } else {
                    souk_qnode ph = {.op = SOUK_QOP_PHRASE, .window = (uint32_t)ey->n};
                    uint32_t first = (uint32_t)e->nkids;
                    int ids[MAXW];
                    for (int j = 0; j < ey->n; j++)
                        if ((ids[j] = term_node(e, &capn, ey->raw[j], wn->pos + (uint32_t)j)) < 0)
                            goto fail_words;
                    for (int j = 0; j < ey->n; j++)
                        if (add_kid(e, &capk, (uint32_t)ids[j]))
                            goto fail_words;
                    ph.first_kid = first;
                    ph.nkids = (uint32_t)ey->n;
                    alt = add_node(e, &capn, ph);
                }
                if (alt < 0)
                    goto fail_words;
                if (alt_first < 0)
                    alt_first = alt;
                nalt++;
                /* Collected as kids; copied after the word into its OR below. */
                if (add_kid(e, &capk, (uint32_t)alt))
                    goto fail_words;
            }
        }
        if (nalt == 0) {
            newkids[nroot++] = w;
            continue;
        }
        /* OR(word, alternatives): the alternatives are the last nalt kids appended. */
        uint32_t alts_at = (uint32_t)e->nkids - nalt;
        int orn = add_node(e, &capn, (souk_qnode){.op = SOUK_QOP_OR});
        if (orn < 0)
            goto fail_words;
        uint32_t first = (uint32_t)e->nkids;
        if (add_kid(e, &capk, w))
            goto fail_words;
        for (uint32_t a = 0; a < nalt; a++)
            if (add_kid(e, &capk, e->kids[alts_at + a]))
                goto fail_words;
        e->nodes[orn].first_kid = first;
        e->nodes[orn].nkids = nalt + 1;
        newkids[nroot++] = (uint32_t)orn;
        changed = 1;
    }
    if (!changed) {
        souk_free(words);
        souk_free(newkids);
        souk_query_free(e);
        return 0;
    }
    /* The old kids stay where they are (other nodes may use them); the root gets new ones. */
    uint32_t first = (uint32_t)e->nkids;
    for (uint32_t k = 0; k < nroot; k++)
        if (add_kid(e, &capk, newkids[k]))
            goto fail_words;
    souk_free(words);
    souk_free(newkids);
    if (single) { /* a new OR root over the rewritten word */
        int r = add_node(e, &capn, (souk_qnode){.op = SOUK_QOP_OR});
        if (r < 0)
            goto fail;
        e->root = (uint32_t)r;
    }
    e->nodes[e->root].first_kid = first;
    e->nodes[e->root].nkids = nroot;
    *out = e;
    return 0;
fail_words:
    souk_free(words);
    souk_free(newkids);
fail:
    souk_query_free(e);
    return rc;
}
