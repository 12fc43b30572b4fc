/* reco.h: the offline evaluation protocol of souk-bench reco (docs/evaluation.md): real
 * behaviour logs (tests/kit/behavior.h) as interactions, the per-user temporal split, the
 * metrics with their standard errors, and the baselines computed in the bench (popularity,
 * item-kNN with cosine similarity, EASE through LAPACK). Souk's own recommenders are asked in
 * bench_reco.c; everything here needs no Souk code but the event parser. */
#ifndef SOUK_BENCH_RECO_H
#define SOUK_BENCH_RECO_H

#include "kit/behavior.h"

#include <stddef.h>
#include <stdint.h>

/* One event of the log, as parsed from the kit's NDJSON (souk_event_parse). */
typedef struct rev {
    uint32_t user, item;
    uint32_t group; /* the split's unit: MovieLens a rating (user x movie), Groceries a basket */
    int64_t ts_ms;
    uint32_t off, len; /* the event's line in rdata.text (without its newline) */
    uint8_t purchase;
} rev;

typedef struct rdata {
    behavior_set set;
    char *text; /* the kit's NDJSON stream */
    size_t textlen;
    rev *ev; /* sorted by user, then the group's first time, then log order */
    size_t nev;
    size_t *ustart; /* nusers + 1: user u's events are ev[ustart[u] .. ustart[u+1]) */
    size_t nusers, nitems, ngroups;
    char **user_id; /* as in the events ("ml-u1", "gr-1808") */
    char **item_id; /* as in the events and the catalog ("ml-31", "whole-milk") */
    int64_t last_ms;
} rdata;

/* Loads the data set's event stream and orders it. Returns 0, or -1 with err. */
int rdata_load(rdata *d, behavior_set set, char *err, size_t errlen);
void rdata_free(rdata *d);

/* A split: per event, whether it is in the training part (1), held out (2) or unused (0). The
 * temporal split of one user: their groups ordered by first time; the last ceil(frac x G)
 * groups held out, the rest trained on; a user with fewer than 2 groups (in the part split)
 * only trains. split_of(parent) splits parent's training part again (validation). */
typedef struct rsplit {
    uint8_t *part; /* nev */
    size_t train_events, test_events, users_split;
} rsplit;

int rsplit_make(const rdata *d, const rsplit *parent, double frac, rsplit *out);
void rsplit_free(rsplit *s);

/* Writes the training events of s as NDJSON (the log's own lines, in log order) to path. */
int rsplit_write_train(const rdata *d, const rsplit *s, const char *path);

/* The binary user x item training matrix of a split, as per-user item lists (distinct,
 * ascending) and per-item user counts. */
typedef struct rtrain {
    uint32_t **items; /* nusers lists */
    uint32_t *nitem;
    uint32_t *pop; /* nitems: distinct training users */
    size_t nusers, nitems;
} rtrain;

int rtrain_make(const rdata *d, const rsplit *s, rtrain *t);
void rtrain_free(rtrain *t);

/* ------------------------------------------------------------------ metrics */

#define RECO_K 20 /* the longest list scored (Recall@20) */

/* Per-unit metric values (a unit is a test user, or a basket in basket completion). */
typedef struct rscores {
    double *ndcg10, *recall20, *hr10;
    size_t n, cap;
    uint8_t *covered; /* nitems: recommended in some top-10 */
    size_t nitems;
} rscores;

int rscores_init(rscores *r, size_t nitems);
void rscores_free(rscores *r);
/* Scores one ranked list (top, ntop <= RECO_K) against the relevant items rel (distinct). */
void rscores_add(rscores *r, const uint32_t *top, size_t ntop, const uint32_t *rel, size_t nrel);
/* Adds one unit's values directly (basket completion averages its queries first). */
void rscores_push(rscores *r, double ndcg, double recall, double hr);

typedef struct rstat {
    double mean, se;
} rstat;
rstat rstat_of(const double *v, size_t n);
/* The paired difference a - b (same units, same order). */
rstat rstat_diff(const double *a, const double *b, size_t n);
double rscores_coverage(const rscores *r);

/* ------------------------------------------------------------------ the evaluation loop */

/* A ranking model: writes up to k item ids, best first, for user u, never an item with
 * excl[item] set (the user's training items). Returns the count. */
typedef size_t (*rrank_fn)(void *m, uint32_t u, const uint8_t *excl, uint32_t *top, size_t k);

/* The test units of a split: users with at least one held-out item they did not train on. */
typedef struct rtest {
    uint32_t *users;
    uint32_t **rel;
    uint32_t *nrel;
    size_t n;
} rtest;

int rtest_make(const rdata *d, const rsplit *s, const rtrain *t, rtest *out);
void rtest_free(rtest *t);

/* Ranks every test user with fn and scores them into r (initialised here). */
int reco_evaluate(const rtrain *t, const rtest *te, rrank_fn fn, void *m, rscores *r);

/* Top-k of a dense score vector, skipping excl; ties by lower item index; items with score
 * -INFINITY never returned. */
size_t reco_topk(const double *score, size_t n, const uint8_t *excl, uint32_t *top, size_t k);

/* ------------------------------------------------------------------ baselines */

/* Popularity: distinct training users per item. */
size_t reco_pop_rank(void *t, uint32_t u, const uint8_t *excl, uint32_t *top, size_t k);

/* Item-kNN: s(i,j) = c_ij / (sqrt(n_i n_j) + shrink), each item's kmax best neighbours kept;
 * a user's score of j sums s(i,j) over their training items i whose k best hold j. */
typedef struct rknn {
    const rtrain *t;
    uint32_t kmax, k;
    double shrink;
    uint32_t *nb; /* nitems x kmax neighbours, best first */
    float *sim;   /* their similarities */
    uint32_t *nnb;
    double *score; /* nitems scratch */
} rknn;

int rknn_build(rknn *m, const rtrain *t, const uint32_t *cooc, uint32_t kmax, double shrink);
void rknn_free(rknn *m);
size_t reco_knn_rank(void *m, uint32_t u, const uint8_t *excl, uint32_t *top, size_t k);

/* Item co-occurrence counts c_ij (distinct users with both), nitems x nitems, dense. */
uint32_t *reco_cooc(const rtrain *t);

/* EASE (Steck 2019): B = I - P diag(1/diag(P)), P = (G + lambda I)^-1 over the items with at
 * least min_users training users (the others are never recommended by it), G = X^T X. The
 * inversion is LAPACK's (dpotrf + dpotri). */
typedef struct rease {
    const rtrain *t;
    uint32_t *map;   /* nitems: index in the model, or UINT32_MAX */
    uint32_t *items; /* m model items */
    size_t m;
    double *B; /* m x m, column-major */
    double *score, *mscore;
    double seconds; /* the inversion's wall time */
} rease;

int rease_build(rease *m, const rtrain *t, const uint32_t *cooc, uint32_t min_users, double lambda,
                char *err, size_t errlen);
void rease_free(rease *m);
size_t reco_ease_rank(void *m, uint32_t u, const uint8_t *excl, uint32_t *top, size_t k);

#endif
