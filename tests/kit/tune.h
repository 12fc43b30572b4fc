/* tune.h: relevance tuning of a ranking profile (souk/rank.h) on an IR test collection
 * (ircoll.h), shared by `souk-bench tune` and tests/test_rank_tune.c. A profile is described by
 * a few parameters (BM25 k1 and b, the weights of the title, body and authors fields, the
 * proximity weight and window, English stop words on or off), searched by coordinate ascent
 * over a fixed grid of each (docs/benchmarks.md), judged on the tuning collection only by each
 * query's (AP + nDCG@10) / 2: their mean, or its risk-sensitive form (losses against the
 * default counted more). Single-threaded; a tune_set belongs to one thread. */
#ifndef SOUK_KIT_TUNE_H
#define SOUK_KIT_TUNE_H

#include "ircoll.h"
#include "souk/eval.h"
#include "souk/index.h"
#include "souk/rank.h"

#include <stdio.h>

typedef struct tune_params {
    double k1, b;
    double w_title, w_body, w_authors; /* query-time field weights */
    double prox;                       /* proximity weight (0: off) */
    double window;                     /* proximity window, in positions */
    double stop;                       /* 1: English stop words dropped from queries */
    double fields; /* 0: the default text score (no field weights); 1: field weights, per-field
                      BM25 summed; 2: field weights, BM25F */
} tune_params;

/* The starting point: Souk's default ranking (k1 1, b 0.5, no proximity, no stop words) as
 * BM25F with every field at weight 1, which ranks exactly as no profile (the word's wdf is the
 * sum of its fields'), so that the field weights can move from it. */
void tune_params_default(tune_params *p);
/* "k1=1.2 b=0.75 fields=1 title=2 body=1 authors=0 proximity=0.5 window=5 stop=1" and back. */
void tune_params_format(const tune_params *p, char *out, size_t size);
int tune_params_parse(const char *s, tune_params *p);

/* Indexes collection c into a new index at dir (schema indexer/schemas/ircoll.json). */
int tune_index(const ircoll *c, const char *dir, souk_index **out, char *err, size_t errlen);
/* The profile of p on ix's schema. */
void tune_profile(const souk_index *ix, const tune_params *p, souk_rank_profile *out);
/* MAP, nDCG@10, P@10 and MRR of the top 1,000 of each of c's queries on ix, ranked by p's
 * profile (NULL: no profile, the default ranking). */
int tune_eval(souk_index *ix, const ircoll *c, const tune_params *p, souk_eval_scores *out);
/* The evaluations of one collection's queries, each setting evaluated once (a cache), so
 * that tuning on subsets of the queries (resamples, folds) costs no more search. Owned by the
 * caller (tune_set_free); ix and c are borrowed and must outlive it. */
typedef struct tune_set tune_set;
/* 0, or -1 when out of memory. */
int tune_set_new(souk_index *ix, const ircoll *c, tune_set **out);
void tune_set_free(tune_set *ts);
/* The per-query objective ((AP + nDCG@10) / 2 of each judged query, tune_set_nqueries of them,
 * in a fixed order) of p, evaluated on first use; borrowed until ts is freed. NULL on an
 * error. */
const double *tune_set_eval(tune_set *ts, const tune_params *p);
size_t tune_set_nqueries(const tune_set *ts);
/* Settings evaluated so far. */
size_t tune_set_evals(const tune_set *ts);

typedef struct tune_opts {
    int rounds;      /* passes over the parameters, at most */
    double min_gain; /* a move is kept when it raises the objective by more than this (relative) */
    double risk;     /* 0: the mean objective; > 0: risk-sensitive (URisk), the default's mean
                        plus the mean change from it, each query's loss counted 1 + risk times */
} tune_opts;
/* Coordinate ascent from the default over each parameter's grid, at most o->rounds passes, on
 * the queries weighted by w (NULL: each 1; a resample's counts, or 0/1 for a fold). Each step
 * moves one parameter to its best grid value, kept only when it raises the weighted objective
 * (o->risk) by more than o->min_gain (relative; 0: any gain; ties keep the earlier setting).
 * *best the parameters found; each step logged to log (NULL: quiet). Returns 0, or -1 on an
 * error. */
int tune_ascent(tune_set *ts, const double *w, const tune_opts *o, tune_params *best, FILE *log);
/* Bootstrap aggregation: nbags coordinate ascents (as tune_ascent), each on a resample of the
 * queries drawn with replacement (a fixed seed), then each parameter's median over the bags
 * (the field weights over the bags with a field model on, the window over those with
 * proximity on; the field model the most frequent). Returns 0, or -1 on an error. */
int tune_bagged(tune_set *ts, int nbags, const tune_opts *o, tune_params *out, FILE *log);

/* The distance of p from the default, in grid steps summed over the parameters that matter
 * (the field weights only with a field model, the window only with proximity). */
double tune_distance(const tune_params *p);
/* The one-standard-error rule: among the settings evaluated so far in ts, those whose mean
 * objective is below best's by at most nse standard errors of the paired per-query
 * difference, the one closest to the default (tune_distance; ties: the higher objective).
 * Returns 0, or -1 on an error. */
int tune_one_se(tune_set *ts, const tune_params *best, double nse, tune_params *out, FILE *log);

/* k-fold cross-validation of tune_ascent with o over the queries (query i in fold i % folds):
 * *out the mean objective of each query under the setting tuned without its fold. */
int tune_cv(tune_set *ts, int folds, const tune_opts *o, double *out);

#endif
