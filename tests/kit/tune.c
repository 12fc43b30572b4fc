/* tune.c: relevance tuning of a ranking profile on an IR test collection (tune.h). */
#include "tune.h"

#include "souk/ingest.h"
#include "souk/lexicon.h"
#include "souk/search.h"

#include <fcntl.h>
#include <stddef.h>
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
    *p = (tune_params){1.0, 0.5, 1, 1, 1, 0, 5, 0, 0};
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
    out->proximity_weight = p->prox;
    out->proximity_window = (uint32_t)p->window;
}

int tune_eval(souk_index *ix, const ircoll *c, const tune_params *p, souk_eval_scores *out)
{
    enum { DEPTH = 1000 };
    souk_searcher *s = NULL;
    souk_eval *e = souk_eval_new();
    souk_hit *hits = malloc(DEPTH * sizeof *hits);
    souk_lexicon *lex = NULL;
    char err[512], docid[64];
    int rc = -1;
    if (!e || !hits || souk_searcher_new(ix, &s) != 0 || ircoll_add_judgements(c, e) != 0)
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
    rc = souk_eval_compute(e, out) == 0 ? 0 : -1;
out:
    souk_searcher_free(s);
    souk_lexicon_free(lex);
    souk_eval_free(e);
    free(hits);
    return rc;
}

/* The tuning objective: the mean of MAP and nDCG@10. */
static double objective(const souk_eval_scores *sc)
{
    return (sc->map + sc->ndcg10) / 2;
}

int tune_search(souk_index *ix, const ircoll *c, int rounds, tune_params *best, FILE *log)
{
    /* Each parameter's grid (docs/benchmarks.md): 5 + 5 + 2 + 5 + 1 + 5 + 5 + 4 + 2 values. */
    static const double onoff[] = {0, 1}, k1s[] = {0.6, 0.9, 1.2, 1.6, 2.0},
                        bs[] = {0.3, 0.5, 0.65, 0.75, 0.9}, titles[] = {0.5, 1, 1.5, 2, 3},
                        bodies[] = {1}, authors[] = {0, 0.25, 0.5, 1, 1.5},
                        proxs[] = {0, 0.25, 0.5, 1, 2}, windows[] = {2, 3, 5, 8};
    struct {
        const char *name;
        const double *grid;
        size_t n;
        size_t off;
    } dims[] = {
        {"k1", k1s, 5, offsetof(tune_params, k1)},
        {"b", bs, 5, offsetof(tune_params, b)},
        {"fields", onoff, 2, offsetof(tune_params, fields)},
        {"title", titles, 5, offsetof(tune_params, w_title)},
        {"body", bodies, 1, offsetof(tune_params, w_body)},
        {"authors", authors, 5, offsetof(tune_params, w_authors)},
        {"proximity", proxs, 5, offsetof(tune_params, prox)},
        {"window", windows, 4, offsetof(tune_params, window)},
        {"stop", onoff, 2, offsetof(tune_params, stop)},
    };
    tune_params_default(best);
    souk_eval_scores sc;
    if (tune_eval(ix, c, best, &sc) != 0)
        return -1;
    double best_obj = objective(&sc);
    int evals = 1;
    char buf[256];
    if (log) {
        tune_params_format(best, buf, sizeof buf);
        fprintf(log, "start %s: MAP %.4f nDCG@10 %.4f\n", buf, sc.map, sc.ndcg10);
    }
    for (int r = 0; r < rounds; r++) {
        int changed = 0;
        for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++) {
            double *slot = (double *)((char *)best + dims[d].off);
            double keep = *slot;
            for (size_t g = 0; g < dims[d].n; g++) {
                if (dims[d].grid[g] == keep)
                    continue;
                tune_params t = *best;
                *(double *)((char *)&t + dims[d].off) = dims[d].grid[g];
                if (tune_eval(ix, c, &t, &sc) != 0)
                    return -1;
                evals++;
                /* A strict gain only: ties keep the earlier (simpler) setting. */
                if (objective(&sc) > best_obj + 1e-9) {
                    best_obj = objective(&sc);
                    *best = t;
                    changed = 1;
                    if (log) {
                        tune_params_format(best, buf, sizeof buf);
                        fprintf(log, "round %d %s: %s: MAP %.4f nDCG@10 %.4f\n", r + 1,
                                dims[d].name, buf, sc.map, sc.ndcg10);
                    }
                }
            }
        }
        if (!changed)
            break;
    }
    return evals;
}
