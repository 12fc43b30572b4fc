/* tune.h: relevance tuning of a ranking profile (souk/rank.h) on an IR test collection
 * (ircoll.h), shared by `souk-bench tune` and tests/test_rank_tune.c. A profile is described by
 * a few parameters (BM25 k1 and b, the weights of the title, body and authors fields, the
 * proximity weight and window, English stop words on or off), searched by coordinate ascent
 * over a fixed grid of each (docs/benchmarks.md), judged by the mean of MAP and nDCG@10 on the
 * tuning collection only. */
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
    double fields; /* 1: the field weights apply; 0: the default text score (no field weights) */
} tune_params;

/* The starting point: Souk's default ranking (k1 1, b 0.5, every field 1, no proximity, no
 * stop words), which ranks exactly as no profile. */
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
/* Coordinate ascent from the default over each parameter's grid, at most rounds passes, on
 * c alone; *best the parameters found, each step logged to log (NULL: quiet). Returns the
 * number of evaluations, or -1 on an error. */
int tune_search(souk_index *ix, const ircoll *c, int rounds, tune_params *best, FILE *log);

#endif
