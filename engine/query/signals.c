/* signals.c: the ranking profile's signals beyond BM25 (souk/rank.h, docs/ranking.md), applied
 * by the matcher on every path: the proximity bonus of the query's words in one field and the
 * business-signal boosts of number fields. Each is added to a document's text score, and each
 * has a bound over every document (souk__sig.bound) that MaxScore and block-max AND add to
 * their text bounds, so pruning stays exact. Field weights are applied when the cursor tree is
 * built (plan.c), k1 and b when the search starts (match.c). */
#include "catalog/columns.h"
#include "query/match_int.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* The proximity words kept (pairs grow as the square). */
#define SIG_MAX_WORDS 8

/* 1 when term is a text term without a field prefix: a word ("foo") or its stem ("Zfoo").
 * Prefixes are upper-case ASCII, words and stems never start with one. */
int souk__sig_unprefixed(const char *term, size_t len)
{
    if (len == 0)
        return 0;
    if (term[0] == 'Z')
        return len > 1 && !(term[1] >= 'A' && term[1] <= 'Z');
    return !(term[0] >= 'A' && term[0] <= 'Z');
}

/* The term of word/stem term t in the field with prefix p: "Zfoo" -> "Z" p "foo", "foo" -> p
 * "foo". Returns its length, 0 when it does not fit. */
size_t souk__sig_field_term(const char *t, size_t len, const char *p, char *out, size_t cap)
{
    size_t pl = strlen(p);
    if (len + pl + 1 > cap)
        return 0;
    if (t[0] == 'Z') {
        out[0] = 'Z';
        memcpy(out + 1, p, pl);
        memcpy(out + 1 + pl, t + 1, len - 1);
    } else {
        memcpy(out, p, pl);
        memcpy(out + pl, t, len);
    }
    out[len + pl] = 0;
    return len + pl;
}

/* The query's distinct unstemmed words, in query order: the text parsed again without
 * stemming (stems carry no positions), else the tree's unprefixed unstemmed terms. */
static int sig_words(souk_searcher *s, const souk_query *q, char words[][SOUK_MAX_TERM_BYTES],
                     size_t *nwords)
{
    souk_query *raw = NULL;
    const souk_query *src = q;
    char err[128];
    if (q->text && q->text_len &&
        souk_query_parse(q->text, q->text_len, "none", s->fields, s->nfields, 0, &raw, err,
                         sizeof err) == 0)
        src = raw;
    *nwords = 0;
    for (size_t i = 0; i < src->nnodes && *nwords < SIG_MAX_WORDS; i++) {
        const souk_qnode *n = &src->nodes[i];
        if (n->op != SOUK_QOP_TERM || !n->term || n->term[0] == 'Z' ||
            !souk__sig_unprefixed(n->term, n->term_len) || n->term_len >= SOUK_MAX_TERM_BYTES)
            continue;
        int dup = 0;
        for (size_t j = 0; j < *nwords && !dup; j++)
            dup = strlen(words[j]) == n->term_len && memcmp(words[j], n->term, n->term_len) == 0;
        if (dup)
            continue;
        memcpy(words[*nwords], n->term, n->term_len);
        words[*nwords][n->term_len] = 0;
        (*nwords)++;
    }
    souk_query_free(raw);
    return 0;
}

/* Weight of field f in the profile: its listed weight, 1 when the profile lists none, 0 when
 * it lists others. */
static double sig_field_weight(const souk_rank_profile *p, int f)
{
    if (p->nfield_weights == 0)
        return 1;
    for (size_t i = 0; i < p->nfield_weights; i++)
        if (p->field[i] == f)
            return p->field_weight[i];
    return 0;
}

/* The range of number column f over the snapshot, cached per generation. */
static void sig_range(souk_searcher *s, const souk__col *col, int f, double *lo, double *hi)
{
    if (s->range_generation != s->generation || !s->range_valid) {
        memset(s->range_have, 0, sizeof s->range_have);
        s->range_generation = s->generation;
        s->range_valid = 1;
    }
    if (!s->range_have[f]) {
        double a = INFINITY, b = -INFINITY;
        for (uint32_t d = 0; d < s->sig.cols->ndocs; d++) {
            double v = col->num[d];
            if (v == v) {
                a = v < a ? v : a;
                b = v > b ? v : b;
            }
        }
        s->range_lo[f] = a;
        s->range_hi[f] = b;
        s->range_have[f] = 1;
    }
    *lo = s->range_lo[f];
    *hi = s->range_hi[f];
}

void souk__sig_release(souk_searcher *s)
{
    souk__sig *g = &s->sig;
    if (!g->p && !g->cols && !g->nprox)
        return; /* nothing set: the default ranking's searches pay nothing more */
    for (size_t i = 0; i < g->nprox; i++)
        souk__cur_free(g->prox[i]);
    souk__columns_release(g->cols);
    memset(g, 0, sizeof *g);
}

int souk__sig_prepare(souk_searcher *s, const souk_query *q, const souk_rank_profile *p, char *err,
                      size_t errlen)
{
    souk__sig_release(s);
    souk__sig *g = &s->sig;
    g->p = p;
    if (!p)
        return 0;
    const souk_schema *sc = souk_index_schema(s->ix);
    for (size_t i = 0; i < p->nfield_weights; i++) {
        int f = p->field[i];
        if (f < 0 || (size_t)f >= sc->nfields || sc->fields[f].type != SOUK_FIELD_TEXT ||
            !sc->fields[f].prefix[0]) {
            snprintf(err, errlen,
                     "profile field weight: field '%s' is not a text field with a "
                     "prefix",
                     f >= 0 && (size_t)f < sc->nfields ? sc->fields[f].name : "?");
            return SOUK_EINVAL;
        }
    }
    g->on = p->nboosts > 0 || p->proximity_weight != 0;
    if (!g->on)
        return 0;
    /* Boosts: the number columns and each boost's bound over the snapshot. */
    if (p->nboosts) {
        int rc = souk__columns_get(s->r, s->generation, s->next_docid, &g->cols);
        if (rc) {
            snprintf(err, errlen, "reading the attribute columns: %s", souk_strerror(rc));
            return rc;
        }
    }
    for (size_t i = 0; i < p->nboosts && i < SOUK_MAX_BOOSTS; i++) {
        const souk_boost_signal *b = &p->boosts[i];
        int f = b->field;
        if (f < 0 || (size_t)f >= sc->nfields || !g->cols->col[f].num ||
            sc->fields[f].type != SOUK_FIELD_NUMBER) {
            snprintf(err, errlen, "profile boost: field '%s' is not a number attribute",
                     f >= 0 && (size_t)f < sc->nfields ? sc->fields[f].name : "?");
            return SOUK_EINVAL;
        }
        if (b->fn == SOUK_BOOST_DECAY && !(b->scale > 0 && b->decay > 0 && b->decay < 1)) {
            snprintf(err, errlen,
                     "profile boost on '%s': a decay needs scale > 0 and "
                     "0 < decay < 1",
                     sc->fields[f].name);
            return SOUK_EINVAL;
        }
        double lo, hi, bound = 0; /* documents without the field add 0 */
        sig_range(s, &g->cols->col[f], f, &lo, &hi);
        if (lo <= hi) {
            double w = b->weight, m = 0;
            if (b->fn == SOUK_BOOST_LOG1P)
                m = w > 0 ? w * log1p(hi > 0 ? hi : 0) : 0;
            else if (b->fn == SOUK_BOOST_LINEAR)
                m = w * hi > w * lo ? w * hi : w * lo;
            else
                m = w > 0 ? w : 0;
            bound = m > 0 ? m : 0;
        }
        g->boost_col[i] = g->cols->col[f].num;
        g->bound += bound;
        g->nboosts = i + 1;
    }
    /* Proximity: a cursor per word and prefixed text field of positive weight. */
    if (p->proximity_weight != 0 && q) {
        char words[SIG_MAX_WORDS][SOUK_MAX_TERM_BYTES];
        size_t nw = 0;
        sig_words(s, q, words, &nw);
        g->window = p->proximity_window ? p->proximity_window : 5;
        for (size_t f = 0; nw > 1 && f < sc->nfields; f++) {
            const souk_field *fd = &sc->fields[f];
            if (fd->type != SOUK_FIELD_TEXT || !fd->prefix[0] || !(sig_field_weight(p, (int)f) > 0))
                continue;
            size_t base = g->nprox;
            for (size_t w = 0; w < nw; w++) {
                char t[SOUK_MAX_TERM_BYTES + 16];
                size_t tl =
                    souk__sig_field_term(words[w], strlen(words[w]), fd->prefix, t, sizeof t);
                int rc = SOUK_ENOMEM;
                cur *c = tl ? souk__term_new(s, t, tl, 1, &rc) : NULL;
                if (!c) {
                    if (!tl)
                        continue;
                    snprintf(err, errlen, "opening proximity postings: %s", souk_strerror(rc));
                    return rc;
                }
                c->scored = 0;
                c->max_score = 0;
                g->prox[g->nprox++] = c;
            }
            g->field_first[g->nfields] = base;
            g->nfields++;
        }
        g->nwords = nw;
        /* Pair weights: the smaller idf of the two words, (N - df + 0.5) / (df + 0.5) as BM25
         * takes it (the word's own unprefixed statistics). */
        double idf[SIG_MAX_WORDS];
        for (size_t w = 0; w < nw; w++) {
            souk_term_info info;
            double df =
                souk_reader_term(s->r, words[w], strlen(words[w]), &info) == 0 ? info.df : 0;
            idf[w] = souk__bm25_termweight(&s->bm, df, 1) / (s->bm.p.k1 + 1);
            if (!(idf[w] > 0))
                idf[w] = 0;
        }
        double pb = 0;
        for (size_t i = 0; i < nw; i++)
            for (size_t j = i + 1; j < nw; j++) {
                g->pair_w[i][j] = idf[i] < idf[j] ? idf[i] : idf[j];
                pb += g->pair_w[i][j];
            }
        g->prox_bound = p->proximity_weight > 0 ? p->proximity_weight * pb : 0;
        g->bound += g->prox_bound;
    }
    return 0;
}

/* Sum over occurrence pairs of a and b within window of 1 / distance^2. */
static double pair_closeness(const uint32_t *a, uint32_t na, const uint32_t *b, uint32_t nb,
                             uint32_t window)
{
    double acc = 0;
    uint32_t lo = 0;
    for (uint32_t i = 0; i < na; i++) {
        while (lo < nb && b[lo] + window < a[i])
            lo++;
        for (uint32_t j = lo; j < nb && b[j] <= a[i] + window; j++)
            if (b[j] != a[i]) {
                double d = b[j] > a[i] ? b[j] - a[i] : a[i] - b[j];
                acc += 1 / (d * d);
            }
    }
    return acc;
}

double souk__sig_proximity(souk_searcher *s, uint32_t docid, double *closeness)
{
    souk__sig *g = &s->sig;
    *closeness = 0;
    if (!g->nfields || g->nwords < 2)
        return 0;
    double acc[SIG_MAX_WORDS][SIG_MAX_WORDS];
    memset(acc, 0, sizeof acc);
    const uint32_t *pos[SIG_MAX_WORDS];
    uint32_t npos[SIG_MAX_WORDS];
    for (size_t f = 0; f < g->nfields; f++) {
        size_t base = g->field_first[f];
        size_t n = (f + 1 < g->nfields ? g->field_first[f + 1] : g->nprox) - base;
        for (size_t w = 0; w < n; w++) {
            cur *c = g->prox[base + w];
            npos[w] = 0;
            if (c->kind != C_TERM)
                continue;
            if (cur_skip_to(s, c, docid) || c->did != docid)
                continue;
            if (souk__term_positions(c, &pos[w], &npos[w]))
                npos[w] = 0;
        }
        for (size_t i = 0; i < n; i++)
            for (size_t j = i + 1; j < n; j++)
                if (npos[i] && npos[j])
                    acc[i][j] += pair_closeness(pos[i], npos[i], pos[j], npos[j], g->window);
    }
    double sum = 0;
    for (size_t i = 0; i < g->nwords; i++)
        for (size_t j = i + 1; j < g->nwords; j++)
            if (acc[i][j] > 0) {
                *closeness += acc[i][j];
                sum += g->pair_w[i][j] * (acc[i][j] / (1 + acc[i][j]));
            }
    return g->p->proximity_weight * sum;
}

double souk__sig_boost(const souk_searcher *s, size_t i, uint32_t docid, double *value)
{
    const souk__sig *g = &s->sig;
    const souk_boost_signal *b = &g->p->boosts[i];
    double v = docid < g->cols->ndocs ? g->boost_col[i][docid] : NAN;
    if (value)
        *value = v;
    if (v != v)
        return 0;
    switch (b->fn) {
    case SOUK_BOOST_LOG1P:
        return v > 0 ? b->weight * log1p(v) : 0;
    case SOUK_BOOST_LINEAR:
        return b->weight * v;
    default: {
        double d = fabs(v - b->origin) - b->offset;
        return b->weight * pow(b->decay, (d > 0 ? d : 0) / b->scale);
    }
    }
}

double souk__sig_add(souk_searcher *s, uint32_t docid, double text)
{
    double c;
    double score = text + souk__sig_proximity(s, docid, &c);
    for (size_t i = 0; i < s->sig.nboosts; i++)
        score += souk__sig_boost(s, i, docid, NULL);
    return score;
}

double souk__sig_boosts_only(const souk_searcher *s, uint32_t docid)
{
    double b = 0;
    for (size_t i = 0; i < s->sig.nboosts; i++)
        b += souk__sig_boost(s, i, docid, NULL);
    return b;
}
