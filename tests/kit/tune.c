/* tune.c: relevance tuning of a ranking profile on an IR test collection (tune.h). */
#include "tune.h"
#include "souk/buf.h"

#include "souk/ingest.h"
#include "souk/lexicon.h"
#include "souk/search.h"

#include <fcntl.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* English function words: articles, pronouns, auxiliaries, prepositions, conjunctions and the
 * question words of the collections' natural-language queries. */
static const char *const stop_words[] = {
    "a",     "about", "above", "after", "again", "all",    "also",  "am",    "an",   "and",
    "any",   "are",   "as",    "at",    "be",    "been",   "being", "both",  "but",  "by",
    "can",   "could", "did",   "do",    "does",  "each",   "for",   "from",  "had",  "has",
    "have",  "how",   "i",     "if",    "in",    "into",   "is",    "it",    "its",  "may",
    "me",    "more",  "most",  "must",  "my",    "no",     "not",   "of",    "on",   "or",
    "other", "our",   "over",  "same",  "shall", "should", "so",    "some",  "such", "than",
    "that",  "the",   "their", "them",  "then",  "there",  "these", "they",  "this", "those",
    "to",    "under", "up",    "very",  "was",   "we",     "were",  "what",  "when", "where",
    "which", "while", "who",   "whom",  "why",   "will",   "with",  "would", "you",  "your"};

void tune_params_default(tune_params *p)
{
    *p = (tune_params){1.0, 0.5, 1, 1, 1, 0, 5, 0, 2};
}

void tune_params_format(const tune_params *p, char *out, size_t size)
{
    snprintf(out, size,
             "k1=%g b=%g fields=%g title=%g body=%g authors=%g proximity=%g window=%g stop=%g",
             p->k1, p->b, p->fields, p->w_title, p->w_body, p->w_authors, p->prox, p->window,
             p->stop);
}

int tune_params_parse(const char *s, tune_params *p)
{
    tune_params_default(p);
    int n = sscanf(s,
                   " k1=%lf b=%lf fields=%lf title=%lf body=%lf authors=%lf proximity=%lf "
                   "window=%lf stop=%lf",
                   &p->k1, &p->b, &p->fields, &p->w_title, &p->w_body, &p->w_authors, &p->prox,
                   &p->window, &p->stop);
    return n == 9 ? 0 : -1;
}

int tune_index(const ircoll *c, const char *dir, souk_index **out, char *err, size_t errlen)
{
    char nd[4096], schema[4096];
    snprintf(nd, sizeof nd, "%s.ndjson", dir);
    snprintf(schema, sizeof schema, "%s/indexer/schemas/ircoll.json", SOUK_SOURCE_DIR);
    FILE *f = fopen(nd, "w");
    if (!f || ircoll_write_ndjson(c, f) != 0) {
        snprintf(err, errlen, "writing %s", nd);
        if (f)
            fclose(f);
        return -1;
    }
    fclose(f);
    souk_schema *sc;
    if (souk_schema_load(schema, &sc, err, errlen) != 0)
        return -1;
    int rc = souk_index_open(dir, sc, 0, out, err, errlen);
    souk_schema_free(sc);
    if (rc)
        return -1;
    int fd = open(nd, O_RDONLY);
    souk_ingest_opts o;
    memset(&o, 0, sizeof o);
    o.batch_docs = 1000000;
    o.threads = 2;
    souk_ingest_stats st;
    rc = fd < 0 ? -1 : souk_ingest(*out, fd, nd, &o, &st, err, errlen);
    if (fd >= 0)
        close(fd);
    unlink(nd);
    if (rc) {
        souk_index_close(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

void tune_profile(const souk_index *ix, const tune_params *p, souk_rank_profile *out)
{
    const souk_schema *sc = souk_index_schema((souk_index *)ix);
    memset(out, 0, sizeof *out);
    out->bm25 = (souk_bm25){p->k1, 1.0, p->b, 0.5};
    const char *names[] = {"title", "body", "authors"};
    const double w[] = {p->w_title, p->w_body, p->w_authors};
    for (int i = 0; p->fields > 0 && i < 3; i++) {
        const souk_field *f = souk_schema_field(sc, names[i], strlen(names[i]));
        if (!f)
            continue;
        out->field[out->nfield_weights] = f->id;
        out->field_weight[out->nfield_weights++] = w[i];
    }
    out->field_model = p->fields == 2 ? SOUK_FIELD_MODEL_BM25F : SOUK_FIELD_MODEL_SUM;
    out->proximity_weight = p->prox;
    out->proximity_window = (uint32_t)p->window;
}

/* Ranks every query of c on ix by p (NULL: the default ranking) into e. */
static int run_queries(souk_index *ix, const ircoll *c, const tune_params *p, souk_eval *e)
{
    enum { DEPTH = 1000 };
    souk_searcher *s = NULL;
    souk_hit *hits = malloc(DEPTH * sizeof *hits);
    souk_lexicon *lex = NULL;
    char err[512], docid[64];
    int rc = -1;
    if (!hits || souk_searcher_new(ix, &s) != 0 || ircoll_add_judgements(c, e) != 0)
        goto out;
    if (p && p->stop > 0) {
        if (souk_lexicon_new("en", NULL, 0, stop_words, sizeof stop_words / sizeof *stop_words,
                             &lex, err, sizeof err) != 0)
            goto out;
        souk_searcher_set_lexicon(s, lex);
    }
    souk_rank_profile prof;
    if (p)
        tune_profile(ix, p, &prof);
    for (size_t i = 0; i < c->nqueries; i++) {
        const char *q = c->queries[i].text;
        souk_search_opts o = {DEPTH, SOUK_BM25_DEFAULT, 0, NULL, 0, 0, p ? &prof : NULL};
        size_t nh = 0;
        if (souk_search(s, q, strlen(q), &o, hits, &nh, NULL, err, sizeof err) != 0)
            continue; /* a query the parser refuses: an empty run */
        for (size_t k = 0; k < nh; k++) {
            const char *id, *json;
            size_t il, jl;
            if (souk_reader_doc(souk_searcher_reader(s), hits[k].docid, &id, &il, &json, &jl))
                goto out;
            snprintf(docid, sizeof docid, "%.*s", (int)il, id);
            souk_eval_result(e, c->queries[i].id, docid, hits[k].score);
        }
    }
    rc = 0;
out:
    souk_searcher_free(s);
    souk_lexicon_free(lex);
    free(hits);
    return rc;
}

int tune_eval(souk_index *ix, const ircoll *c, const tune_params *p, souk_eval_scores *out)
{
    souk_eval *e = souk_eval_new();
    int rc = e && run_queries(ix, c, p, e) == 0 && souk_eval_compute(e, out) == 0 ? 0 : -1;
    souk_eval_free(e);
    return rc;
}

/* The per-query objective: the mean of a query's AP and nDCG@10, so that its mean over the
 * queries is (MAP + nDCG@10) / 2. */
typedef struct tune_entry {
    tune_params p;
    double *q; /* one per judged query, in the evaluator's query order */
} tune_entry;

struct tune_set {
    souk_index *ix;
    const ircoll *c;
    size_t nq;
    tune_entry *e;
    size_t n, cap;
};

int tune_set_new(souk_index *ix, const ircoll *c, tune_set **out)
{
    tune_set *ts = calloc(1, sizeof *ts);
    if (!ts)
        return -1;
    ts->ix = ix;
    ts->c = c;
    *out = ts;
    return 0;
}

void tune_set_free(tune_set *ts)
{
    if (!ts)
        return;
    for (size_t i = 0; i < ts->n; i++)
        free(ts->e[i].q);
    free(ts->e);
    free(ts);
}

size_t tune_set_evals(const tune_set *ts)
{
    return ts->n;
}

size_t tune_set_nqueries(const tune_set *ts)
{
    return ts->nq;
}

static int same_params(const tune_params *a, const tune_params *b)
{
    return a->k1 == b->k1 && a->b == b->b && a->w_title == b->w_title && a->w_body == b->w_body &&
           a->w_authors == b->w_authors && a->prox == b->prox && a->window == b->window &&
           a->stop == b->stop && a->fields == b->fields;
}

const double *tune_set_eval(tune_set *ts, const tune_params *p)
{
    for (size_t i = 0; i < ts->n; i++)
        if (same_params(&ts->e[i].p, p))
            return ts->e[i].q;
    if (souk_grow_first((void **)&ts->e, &ts->cap, ts->n + 1, sizeof *ts->e, SIZE_MAX, 64))
        return NULL;
    souk_eval *e = souk_eval_new();
    double *q = NULL;
    if (!e || run_queries(ts->ix, ts->c, p, e) != 0 || souk_eval_compute(e, NULL) != 0)
        goto fail;
    size_t n = souk_eval_nqueries(e), nq = 0;
    q = malloc((n ? n : 1) * sizeof *q);
    if (!q)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        souk_eval_query eq;
        if (souk_eval_query_at(e, i, &eq) != 0)
            goto fail;
        if (eq.counted)
            q[nq++] = (eq.ap + eq.ndcg10) / 2;
    }
    if (ts->n > 0 && nq != ts->nq)
        goto fail; /* the judged queries are those of the judgements: never differ */
    ts->nq = nq;
    ts->e[ts->n++] = (tune_entry){*p, q};
    souk_eval_free(e);
    return q;
fail:
    free(q);
    souk_eval_free(e);
    return NULL;
}

/* The weighted mean of q (weights w, NULL: all 1). */
static double wmean(const double *q, const double *w, size_t n)
{
    double s = 0, sw = 0;
    for (size_t i = 0; i < n; i++) {
        double wi = w ? w[i] : 1;
        s += wi * q[i];
        sw += wi;
    }
    return sw > 0 ? s / sw : 0;
}

/* Each parameter's grid (docs/benchmarks.md): 5 + 5 + 3 + 5 + 1 + 5 + 5 + 4 + 2 values. */
static const double onoff[] = {0, 1}, models[] = {0, 1, 2}, k1s[] = {0.6, 0.9, 1.2, 1.6, 2.0},
                    bs[] = {0.3, 0.5, 0.65, 0.75, 0.9}, titles[] = {0.5, 1, 1.5, 2, 3},
                    bodies[] = {1}, authors[] = {0, 0.25, 0.5, 1, 1.5},
                    proxs[] = {0, 0.25, 0.5, 1, 2}, windows[] = {2, 3, 5, 8};
static const struct dim {
    const char *name;
    const double *grid;
    size_t n;
    size_t off;
} dims[] = {
    {"k1", k1s, 5, offsetof(tune_params, k1)},
    {"b", bs, 5, offsetof(tune_params, b)},
    {"fields", models, 3, offsetof(tune_params, fields)},
    {"title", titles, 5, offsetof(tune_params, w_title)},
    {"body", bodies, 1, offsetof(tune_params, w_body)},
    {"authors", authors, 5, offsetof(tune_params, w_authors)},
    {"proximity", proxs, 5, offsetof(tune_params, prox)},
    {"window", windows, 4, offsetof(tune_params, window)},
    {"stop", onoff, 2, offsetof(tune_params, stop)},
};
enum { NDIMS = sizeof dims / sizeof dims[0] };

static double *slot(tune_params *p, size_t d)
{
    return (double *)((char *)p + dims[d].off);
}

static double value(const tune_params *p, size_t d)
{
    return *(const double *)((const char *)p + dims[d].off);
}

/* The risk-sensitive objective (Wang, Bennett and Collins-Thompson, 2012): the default's mean
 * plus the mean per-query change from the default, each loss counted 1 + risk times; with
 * risk 0, the mean. */
static double risk_mean(const double *q, const double *q0, const double *w, size_t n, double risk)
{
    if (risk == 0)
        return wmean(q, w, n);
    double s = 0, sw = 0;
    for (size_t i = 0; i < n; i++) {
        double wi = w ? w[i] : 1, d = q[i] - q0[i];
        s += wi * (q0[i] + (d < 0 ? (1 + risk) * d : d));
        sw += wi;
    }
    return sw > 0 ? s / sw : 0;
}

int tune_ascent(tune_set *ts, const double *w, const tune_opts *o, tune_params *best, FILE *log)
{
    int rounds = o->rounds;
    double min_gain = o->min_gain;
    tune_params_default(best);
    const double *q0 = tune_set_eval(ts, best), *q;
    if (!q0)
        return -1;
    double best_obj = risk_mean(q0, q0, w, ts->nq, o->risk);
    char buf[256];
    if (log) {
        tune_params_format(best, buf, sizeof buf);
        fprintf(log, "start %s: %.4f\n", buf, best_obj);
    }
    for (int r = 0; r < rounds; r++) {
        int changed = 0;
        for (size_t d = 0; d < NDIMS; d++) {
            double keep = *slot(best, d);
            tune_params cand = *best;
            double cand_obj = best_obj;
            for (size_t g = 0; g < dims[d].n; g++) {
                if (dims[d].grid[g] == keep)
                    continue;
                tune_params t = *best;
                *slot(&t, d) = dims[d].grid[g];
                if (!(q = tune_set_eval(ts, &t)))
                    return -1;
                double obj = risk_mean(q, q0, w, ts->nq, o->risk);
                if (obj > cand_obj + 1e-9) {
                    cand_obj = obj;
                    cand = t;
                }
            }
            /* A move is kept when it gains at least min_gain (relative); ties keep the
             * earlier (simpler) setting. */
            if (cand_obj > best_obj * (1 + min_gain) + 1e-9) {
                best_obj = cand_obj;
                *best = cand;
                changed = 1;
                if (log) {
                    tune_params_format(best, buf, sizeof buf);
                    fprintf(log, "round %d %s: %s: %.4f\n", r + 1, dims[d].name, buf, best_obj);
                }
            }
        }
        if (!changed)
            break;
    }
    return 0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* A small deterministic generator (xorshift64*), so that a run is reproducible. */
static uint64_t next_rand(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

int tune_bagged(tune_set *ts, int nbags, const tune_opts *o, tune_params *out, FILE *log)
{
    tune_params d0;
    tune_params_default(&d0);
    if (!tune_set_eval(ts, &d0))
        return -1;
    size_t nq = ts->nq;
    double *w = malloc((nq ? nq : 1) * sizeof *w);
    tune_params *bag = malloc((size_t)(nbags > 0 ? nbags : 1) * sizeof *bag);
    double *v = malloc((size_t)(nbags > 0 ? nbags : 1) * sizeof *v);
    int rc = -1;
    if (!w || !bag || !v || nq == 0)
        goto out;
    uint64_t seed = 0x9E3779B97F4A7C15ULL;
    char buf[256];
    for (int b = 0; b < nbags; b++) {
        memset(w, 0, nq * sizeof *w);
        for (size_t i = 0; i < nq; i++)
            w[next_rand(&seed) % nq] += 1;
        if (tune_ascent(ts, w, o, &bag[b], NULL) != 0)
            goto out;
        if (log) {
            tune_params_format(&bag[b], buf, sizeof buf);
            fprintf(log, "bag %d: %s\n", b + 1, buf);
        }
    }
    /* Each parameter: the median over the bags where it matters (the field weights where a
     * field model is on, the window where proximity is on); the field model: the most
     * frequent. */
    tune_params_default(out);
    int count[3] = {0, 0, 0};
    for (int b = 0; b < nbags; b++)
        count[(int)bag[b].fields]++;
    out->fields = count[2] >= count[1] && count[2] >= count[0] ? 2 : count[1] > count[0] ? 1 : 0;
    for (size_t d = 0; d < NDIMS; d++) {
        if (strcmp(dims[d].name, "fields") == 0)
            continue;
        int title_like = d >= 3 && d <= 5, is_window = strcmp(dims[d].name, "window") == 0;
        int n = 0;
        for (int b = 0; b < nbags; b++) {
            if (title_like && bag[b].fields == 0)
                continue;
            if (is_window && bag[b].prox == 0)
                continue;
            v[n++] = *slot(&bag[b], d);
        }
        if (n > 1)
            qsort(v, (size_t)n, sizeof *v, cmp_double);
        if (n > 0)
            *slot(out, d) = v[(n - 1) / 2];
    }
    rc = 0;
out:
    free(w);
    free(bag);
    free(v);
    return rc;
}

/* Where v lies on dimension d's grid, in steps: its index, or halfway between the two values
 * around it when it is not on the grid (the default k1 of 1). */
static double grid_pos(size_t d, double v)
{
    const struct dim *g = &dims[d];
    for (size_t i = 0; i < g->n; i++) {
        if (g->grid[i] == v)
            return (double)i;
        if (g->grid[i] > v)
            return (double)i - 0.5;
    }
    return (double)g->n - 0.5;
}

double tune_distance(const tune_params *p)
{
    tune_params d0;
    tune_params_default(&d0);
    double dist = 0;
    for (size_t d = 0; d < NDIMS; d++) {
        int title_like = d >= 3 && d <= 5, is_window = strcmp(dims[d].name, "window") == 0;
        if (title_like && p->fields == 0)
            continue;
        if (is_window && p->prox == 0)
            continue;
        double a = grid_pos(d, value(p, d)), b = grid_pos(d, value(&d0, d));
        dist += a > b ? a - b : b - a;
    }
    return dist;
}

int tune_one_se(tune_set *ts, const tune_params *best, double nse, tune_params *out, FILE *log)
{
    const double *qb = tune_set_eval(ts, best);
    if (!qb)
        return -1;
    size_t nq = ts->nq;
    *out = *best;
    double out_dist = tune_distance(best), out_obj = wmean(qb, NULL, nq);
    for (size_t k = 0; k < ts->n; k++) {
        const double *q = ts->e[k].q;
        double m = 0, ss = 0;
        for (size_t i = 0; i < nq; i++)
            m += qb[i] - q[i];
        m /= (double)nq;
        for (size_t i = 0; i < nq; i++)
            ss += (qb[i] - q[i] - m) * (qb[i] - q[i] - m);
        double se = nq > 1 ? sqrt(ss / (double)(nq - 1) / (double)nq) : 0;
        if (m > nse * se)
            continue; /* worse than the best by more than nse standard errors */
        double dist = tune_distance(&ts->e[k].p), obj = wmean(q, NULL, nq);
        if (dist < out_dist || (dist == out_dist && obj > out_obj)) {
            *out = ts->e[k].p;
            out_dist = dist;
            out_obj = obj;
        }
    }
    if (log) {
        char buf[256];
        tune_params_format(out, buf, sizeof buf);
        fprintf(log, "within %g SE of the best, closest to the default: %s: %.4f\n", nse, buf,
                out_obj);
    }
    return 0;
}

int tune_cv(tune_set *ts, int folds, const tune_opts *o, double *out)
{
    tune_params d0;
    tune_params_default(&d0);
    if (!tune_set_eval(ts, &d0) || folds < 2)
        return -1;
    size_t nq = ts->nq;
    double *w = malloc((nq ? nq : 1) * sizeof *w), sum = 0;
    if (!w)
        return -1;
    for (int f = 0; f < folds; f++) {
        for (size_t i = 0; i < nq; i++)
            w[i] = (int)(i % (size_t)folds) == f ? 0 : 1;
        tune_params p;
        const double *q;
        if (tune_ascent(ts, w, o, &p, NULL) != 0 || !(q = tune_set_eval(ts, &p))) {
            free(w);
            return -1;
        }
        for (size_t i = 0; i < nq; i++)
            if (w[i] == 0)
                sum += q[i];
    }
    free(w);
    *out = nq ? sum / (double)nq : 0;
    return 0;
}
