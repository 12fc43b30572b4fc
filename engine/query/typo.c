/* typo.c: typo tolerance and "did you mean". A query word of at least 5 letters also matches
 * dictionary words one edit away, and from 9 letters two edits away (Meilisearch's rule), scored
 * at a fraction of an exact match so exact matches rank first. Distances are between the words
 * as typed and the unstemmed words of the catalog (the unprefixed terms TermGenerator indexes
 * beside the "Z" stems: stems of a word and of its misspelling can be further apart than the
 * words). When a text field opts out of typos (schema typo_words), the dictionary is made of the
 * SOUK_TYPO_PREFIX terms instead (the other text fields' words) and candidates match only those,
 * so a typo never reaches the opted-out field. The words are kept in memory per index
 * generation, grouped by length; each candidate of a plausible length is checked with Myers'
 * bit-parallel edit distance. Keyword and field-prefixed terms (part numbers, codes) are never
 * expanded. "Did you mean" asks Xapian's spelling support (souk/spelling.h). */
#include "souk/buf.h"
#include "catalog/reader.h"
#include "query/match_int.h"
#include "souk/souk.h"
#include "souk/analysis.h"
#include "souk/spelling.h"
#include "text/spelltable.h"
#include "query/typo.h"

#include <stdatomic.h>
#include <string.h>

#define MAXLEN 48

struct souk__typo_dict {
    atomic_int refs;
    uint64_t generation;
    /* unprefixed terms grouped by length: byl[len] .. byl[len + 1] in `terms` */
    char **terms;
    uint32_t *df;
    size_t n;
    size_t byl[MAXLEN + 2];
};

typedef struct collect {
    char **terms;
    uint32_t *df;
    uint8_t *len;
    size_t n, cap;
    int failed;
} collect;

typedef struct strip {
    souk_term_iter_fn fn;
    void *ctx;
} strip;

static int on_prefixed(void *ctx, const char *term, size_t len, const souk_term_info *info)
{
    const strip *st = ctx;
    if (len < 6 || memcmp(term, SOUK_TYPO_PREFIX, 6) != 0)
        return 1; /* past the prefix */
    return st->fn(st->ctx, term + 6, len - 6, info);
}

int souk__typo_words(souk_reader *r, souk_term_iter_fn fn, void *ctx)
{
    if (!souk_index_schema(souk__reader_index(r))->typo_words)
        return souk_reader_terms(r, "a", 1, fn, ctx); /* prefixes are upper case, codes digits */
    strip st = {fn, ctx};
    return souk_reader_terms(r, SOUK_TYPO_PREFIX, 6, on_prefixed, &st);
}

static int on_term(void *ctx, const char *term, size_t len, const souk_term_info *info)
{
    collect *c = ctx;
    if (len < 2 || len > MAXLEN)
        return 0;
    /* Three arrays of one capacity: each grows alike from the same one. */
    size_t ct = c->cap, cd = c->cap, cl = c->cap;
    if (souk_grow((void **)&c->terms, &ct, c->n + 1, sizeof *c->terms, SIZE_MAX) ||
        souk_grow((void **)&c->df, &cd, c->n + 1, sizeof *c->df, SIZE_MAX) ||
        souk_grow((void **)&c->len, &cl, c->n + 1, sizeof *c->len, SIZE_MAX)) {
        c->failed = 1;
        return 1;
    }
    c->cap = ct;
    c->terms[c->n] = souk_strndup(term, len);
    if (!c->terms[c->n]) {
        c->failed = 1;
        return 1;
    }
    c->df[c->n] = info->df;
    c->len[c->n++] = (uint8_t)len;
    return 0;
}

void souk__typo_release(souk__typo_dict *t)
{
    if (!t || atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; i < t->n; i++)
        souk_free(t->terms[i]);
    souk_free(t->terms);
    souk_free(t->df);
    souk_free(t);
}

static int build(souk_reader *r, uint64_t gen, souk__typo_dict **out)
{
    collect c = {0};
    int rc = souk__typo_words(r, on_term, &c);
    souk__typo_dict *t = souk_calloc(1, sizeof *t);
    if (!rc && (c.failed || !t))
        rc = SOUK_ENOMEM;
    if (!rc) {
        t->terms = souk_malloc((c.n ? c.n : 1) * sizeof *t->terms);
        t->df = souk_malloc((c.n ? c.n : 1) * sizeof *t->df);
        if (!t->terms || !t->df)
            rc = SOUK_ENOMEM;
    }
    if (!rc) {
        /* Counting sort by length. */
        size_t count[MAXLEN + 2] = {0};
        for (size_t i = 0; i < c.n; i++)
            count[c.len[i] + 1]++;
        for (int l = 1; l <= MAXLEN + 1; l++)
            count[l] += count[l - 1];
        memcpy(t->byl, count, sizeof t->byl);
        for (size_t i = 0; i < c.n; i++) {
            size_t at = count[c.len[i]]++;
            t->terms[at] = c.terms[i];
            t->df[at] = c.df[i];
        }
        t->n = c.n;
        t->generation = gen;
        atomic_init(&t->refs, 1);
        c.n = 0; /* the strings now belong to t */
    }
    for (size_t i = 0; i < c.n; i++)
        souk_free(c.terms[i]);
    souk_free(c.terms);
    souk_free(c.df);
    souk_free(c.len);
    if (rc) {
        if (t) {
            souk_free(t->terms);
            souk_free(t->df);
            souk_free(t);
        }
        return rc;
    }
    *out = t;
    return 0;
}

int souk__typo_slot(void)
{
    static atomic_int slot;
    return souk__gen_slot(&slot);
}

static int gen_build(souk_reader *r, uint64_t generation, void *arg, void **out)
{
    souk__typo_dict *t;
    (void)arg;
    int rc = build(r, generation, &t);
    if (!rc)
        *out = t;
    return rc;
}

static void gen_acquire(void *obj)
{
    atomic_fetch_add_explicit(&((souk__typo_dict *)obj)->refs, 1, memory_order_relaxed);
}

static void gen_release(void *obj)
{
    souk__typo_release(obj);
}

int souk__typo_get(souk_reader *r, uint64_t generation, souk__typo_dict **out)
{
    static const souk__gen_ops ops = {gen_build, gen_acquire, gen_release};
    void *obj;
    int rc = souk__gen_get(r, souk__typo_slot(), generation, &ops, NULL, &obj);
    if (!rc)
        *out = obj;
    return rc;
}

void souk__typo_pattern_init(souk__typo_pattern *p, const char *w, size_t m)
{
    memset(p->peq, 0, sizeof p->peq);
    p->m = m;
    for (size_t i = 0; i < m; i++)
        p->peq[(uint8_t)w[i]] |= 1ull << i;
}

/* Levenshtein distance of the pattern (m <= 64 bytes) and t, or k + 1 when it exceeds k (Myers
 * 1999, bit-parallel, one machine word). */
int souk__typo_distance_p(const souk__typo_pattern *p, const char *t, size_t n, int k)
{
    size_t m = p->m;
    uint64_t pv = ~0ull, mv = 0, last = 1ull << (m - 1);
    int score = (int)m;
    for (size_t j = 0; j < n; j++) {
        uint64_t eq = p->peq[(uint8_t)t[j]];
        uint64_t xv = eq | mv;
        uint64_t xh = (((eq & pv) + pv) ^ pv) | eq;
        uint64_t ph = mv | ~(xh | pv);
        uint64_t mh = pv & xh;
        if (ph & last)
            score++;
        else if (mh & last)
            score--;
        ph = (ph << 1) | 1;
        mh <<= 1;
        pv = mh | ~(xv | ph);
        mv = ph & xv;
        /* The score can fall by at most one per remaining column. */
        if (score - (int)(n - j - 1) > k)
            return k + 1;
    }
    return score;
}

static int distance(const char *p, size_t m, const char *t, size_t n, int k)
{
    souk__typo_pattern pat;
    souk__typo_pattern_init(&pat, p, m);
    return souk__typo_distance_p(&pat, t, n, k);
}

/* Up to max words within k edits of w (not w itself), fewest edits first, then most frequent. */
static size_t typo_candidates(const souk__typo_dict *t, const char *w, size_t len, int k,
                              souk__typo_cand *out, size_t max)
{
    size_t n = 0;
    if (len == 0 || len > MAXLEN)
        return 0;
    for (size_t l = len > (size_t)k ? len - (size_t)k : 1; l <= len + (size_t)k && l <= MAXLEN;
         l++) {
        for (size_t i = t->byl[l]; i < t->byl[l + 1]; i++) {
            const char *c = t->terms[i];
            if (l == len && memcmp(c, w, len) == 0)
                continue; /* the word itself */
            int d = distance(w, len, c, l, k);
            if (d > k)
                continue;
            /* Keep the best: fewer edits, then more frequent. */
            souk__typo_cand x = {c, l, t->df[i], d};
            size_t at = n < max ? n++ : max;
            if (at == max) {
                souk__typo_cand *worst = &out[max - 1];
                if (d > worst->edits || (d == worst->edits && x.df <= worst->df))
                    continue;
                at = max - 1;
            }
            while (at > 0 &&
                   (out[at - 1].edits > d || (out[at - 1].edits == d && out[at - 1].df < x.df))) {
                out[at] = out[at - 1];
                at--;
            }
            out[at] = x;
        }
    }
    return n;
}

/* Marks the nodes under a PHRASE or NEAR: their positions matter, so they keep their words. */
static void mark_positional(const souk_query *q, uint32_t i, int under, uint8_t *pos)
{
    const souk_qnode *n = &q->nodes[i];
    pos[i] = (uint8_t)under;
    int u = under || n->op == SOUK_QOP_PHRASE || n->op == SOUK_QOP_NEAR;
    for (uint32_t k = 0; k < n->nkids; k++)
        mark_positional(q, q->kids[n->first_kid + k], u, pos);
}

#define TYPO_CANDS 8
#define MAXPOS 64

typedef struct words {
    char raw[MAXPOS + 1][MAXLEN + 1];  /* the word at each position */
    char stem[MAXPOS + 1][MAXLEN + 2]; /* its "Z" term */
    uint32_t last;
} words;

static void on_word(void *ctx, const char *term, size_t len, uint32_t pos, uint32_t wdf_inc)
{
    words *w = ctx;
    (void)wdf_inc;
    if (pos) {
        w->last = pos <= MAXPOS && len <= MAXLEN ? pos : 0;
        if (w->last) {
            memcpy(w->raw[pos], term, len);
            w->raw[pos][len] = 0;
        }
    } else if (w->last && len <= MAXLEN + 1) {
        memcpy(w->stem[w->last], term, len);
        w->stem[w->last][len] = 0;
    }
}

/* The words of q's text by position, raw and in their "Z" form, as analysis gives them; *out
 * NULL when the analyzer refuses the text (nothing to compare with). *tp gets the last
 * position. Returns 0 or SOUK_ENOMEM. The pairing of a stem with the word before it relies on
 * the fast analyzer's order of events (text order); its Xapian fallback gives term order, but
 * never runs for a query: queries are short, and the fast path declines only on a language
 * Xapian refuses (analysis refused here too) or on running out of memory (reported). */
static int query_words(const souk_query *q, words **out, uint32_t *tp)
{
    *out = NULL;
    *tp = 0;
    words *w = souk_calloc(1, sizeof *w);
    souk_analyzer *an = NULL;
    int rc = w ? souk_analyzer_new(&an) : SOUK_ENOMEM;
    if (rc) {
        souk_free(w);
        return rc;
    }
    rc = souk_analyze(an, q->text, q->text_len, q->lang, "", 1, tp, on_word, w);
    if (rc) {
        souk_free(w);
        w = NULL;
    }
    souk_analyzer_free(an);
    *out = w;
    return rc == SOUK_ENOMEM ? rc : 0; /* any other refusal: nothing to compare with */
}

int souk__typo_expand(souk_searcher *s, const souk_query *q, double weight, souk_query **out)
{
    souk_reader *r = s->r;
    *out = NULL;
    if (!q->text || !q->lang)
        return 0; /* a query not made by souk_query_parse: nothing to compare with */
    uint8_t *pos = souk_calloc(q->nnodes ? q->nnodes : 1, 1);
    words *w = NULL;
    souk__typo_dict *t = NULL;
    souk_query *e = NULL;
    uint32_t tp;
    int rc = pos ? query_words(q, &w, &tp) : SOUK_ENOMEM;
    if (rc || !w)
        goto out; /* text the analyzer refuses: no typo expansion */
    mark_positional(q, q->root, 0, pos);
    int typo_words = souk_index_schema(souk__reader_index(r))->typo_words;
    if ((rc = souk__typo_get(r, s->generation, &t)) != 0)
        goto out;
    /* Worst case: each term gains 3 + TYPO_CANDS nodes and as many kids. */
    if ((rc = souk__query_clone(q, q->nnodes * (3 + TYPO_CANDS), q->nnodes * (3 + TYPO_CANDS),
                                &e)) != 0)
        goto out;
    for (size_t i = 0; i < q->nnodes; i++) {
        const souk_qnode *n = &q->nodes[i];
        if (n->op != SOUK_QOP_TERM || pos[i] || n->term_len < 2 || n->term[0] != 'Z' ||
            n->pos == 0 || n->pos > MAXPOS || strcmp(w->stem[n->pos], n->term) != 0)
            continue;
        const char *word = w->raw[n->pos];
        size_t wl = strlen(word);
        if (wl < 5)
            continue;
        int k = wl >= 9 ? 2 : 1;
        souk__typo_cand c[TYPO_CANDS];
        size_t nc = typo_candidates(t, word, wl, k, c, TYPO_CANDS);
        if (!nc)
            continue;
        /* The term becomes OR(term, SCALE_WEIGHT(weight, OR(candidates))). */
        uint32_t exact = (uint32_t)e->nnodes++, scale = (uint32_t)e->nnodes++,
                 alts = (uint32_t)e->nnodes++;
        e->nodes[exact] = e->nodes[i];
        souk_qnode * or = &e->nodes[i];
        or->op = SOUK_QOP_OR;
        or->term = NULL;
        or->term_len = 0;
        or->first_kid = (uint32_t)e->nkids;
        or->nkids = 2;
        e->kids[e->nkids++] = exact;
        e->kids[e->nkids++] = scale;
        e->nodes[scale] = (souk_qnode){.op = SOUK_QOP_SCALE_WEIGHT,
                                       .first_kid = (uint32_t)e->nkids,
                                       .nkids = 1,
                                       .scale = weight};
        e->kids[e->nkids++] = alts;
        e->nodes[alts] =
            (souk_qnode){.op = SOUK_QOP_OR, .first_kid = (uint32_t)e->nkids, .nkids = (uint32_t)nc};
        uint32_t first = (uint32_t)e->nnodes;
        for (size_t a = 0; a < nc; a++)
            e->kids[e->nkids++] = first + (uint32_t)a;
        for (size_t a = 0; a < nc; a++) {
            souk_qnode *x = &e->nodes[e->nnodes++];
            *x = (souk_qnode){.op = SOUK_QOP_TERM, .wqf = 1, .pos = n->pos};
            size_t pl = typo_words ? 6 : 0;
            x->term = souk_malloc(pl + c[a].len + 1);
            if (!x->term) {
                rc = SOUK_ENOMEM;
                goto out;
            }
            memcpy(x->term, SOUK_TYPO_PREFIX, pl);
            memcpy(x->term + pl, c[a].term, c[a].len);
            x->term[pl + c[a].len] = 0;
            x->term_len = pl + c[a].len;
        }
    }
out:
    souk_free(pos);
    souk_free(w);
    souk__typo_release(t);
    if (rc) {
        souk_query_free(e);
        return rc;
    }
    *out = e;
    return 0;
}

/* ------------------------------------------------------------------ did you mean */

/* The searcher's spelling table at its generation, or NULL when the index has none. */
static souk_xspell *spelling_of(souk_searcher *s)
{
    if (s->spell) {
        if (s->spell_generation != s->generation) {
            if (souk_xspell_reopen(s->spell) != 0) {
                souk_xspell_close(s->spell);
                s->spell = NULL;
                return NULL;
            }
            s->spell_generation = s->generation;
        }
        return s->spell;
    }
    if (s->spell_tried == s->generation + 1)
        return NULL;
    char path[4096], err[256];
    if (souk_spelling_path(souk__index_dir(s->ix), path, sizeof path) != 0 ||
        souk_xspell_open(path, 0, &s->spell, err, sizeof err) != 0) {
        s->spell = NULL;
        s->spell_tried = s->generation + 1;
        return NULL;
    }
    s->spell_generation = s->generation;
    return s->spell;
}

int souk__suggest(souk_searcher *s, const souk_query *q, char **out)
{
    souk_reader *r = s->r;
    *out = NULL;
    if (!q->text || !q->lang)
        return 0;
    souk_xspell *sp = spelling_of(s);
    if (!sp)
        return 0;
    words *w = NULL;
    char *res = NULL;
    uint32_t tp;
    int rc = query_words(q, &w, &tp);
    if (rc || !w)
        goto out;
    /* The query's words in order; each unknown word of 3+ letters replaced by Xapian's
     * suggestion when this snapshot has it (the table may be a commit behind). */
    size_t cap = q->text_len * 2 + 64, len = 0;
    int changed = 0;
    res = souk_malloc(cap);
    if (!res) {
        rc = SOUK_ENOMEM;
        goto out;
    }
    int typo_words = souk_index_schema(souk__reader_index(r))->typo_words;
    for (uint32_t p = 1; p <= MAXPOS && p <= tp; p++) {
        const char *word = w->raw[p];
        size_t wl = strlen(word);
        if (!wl)
            continue;
        const char *use = word;
        size_t ul = wl;
        souk_term_info ti;
        char sug[MAXLEN + 8];
        size_t sl = 0;
        if (wl >= 3 && souk_reader_term(r, word, wl, &ti) == SOUK_ENOTFOUND &&
            souk_xspell_suggest(sp, word, wl, wl >= 6 ? 2 : 1, sug + 6, sizeof sug - 6, &sl) == 0 &&
            sl) {
            memcpy(sug, SOUK_TYPO_PREFIX, 6);
            if (typo_words ? souk_reader_term(r, sug, sl + 6, &ti) == 0
                           : souk_reader_term(r, sug + 6, sl, &ti) == 0) {
                use = sug + 6;
                ul = sl;
                changed = 1;
            }
        }
        if (len + ul + 2 > cap)
            break;
        if (len)
            res[len++] = ' ';
        memcpy(res + len, use, ul);
        len += ul;
    }
    res[len] = 0;
    if (!changed) {
        souk_free(res);
        res = NULL;
    }
out:
    souk_free(w);
    if (rc) {
        souk_free(res);
        return rc;
    }
    *out = res;
    return 0;
}
