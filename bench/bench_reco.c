/* bench_reco.c: souk-bench reco, the offline evaluation of the recommenders
 * (docs/evaluation.md) and, with --http, their serving cost.
 *
 *   souk-bench reco [--work DIR] [--data movielens|groceries|both|none] [--ease-min N]
 *                   [--no-tune-souk] [--random-key] [--store-halflife DAYS]
 *                   [--store-cooc-items N] [--http] [--duration S] [--keep]
 *
 * --store-halflife and --store-cooc-items set the replayed stores' popularity decay and per-user
 * co-occurrence items (souk_events_opts) for diagnostics; without them the store's defaults,
 * which are what the product serves, are measured.
 *
 * For each data set (tests/kit/behavior.h): the per-user temporal split (reco.h: the last 20%
 * of each user's groups held out; validation carved from the training part the same way);
 * the baselines (popularity, item-kNN tuned on validation, EASE with lambda tuned on
 * validation) computed here; Souk's recommenders (souk/recs.h, in process) asked for every test
 * user after the training events were replayed through souk_events_ingest into a fresh store.
 * Each model: NDCG@10, Recall@20, HR@10 (mean and standard error over test users), catalog
 * coverage of the top-10 lists, and the paired per-user difference against Souk's for_you.
 * Groceries adds basket completion: given one item of a held-out basket, rank the rest of it
 * (bought_together against popularity). A JSON line last. */
#include "souk/buf.h"
#include "bench.h"
#include "kit/http.h"
#include "reco.h"
#include "souk/events.h"
#include "souk/index.h"
#include "souk/keys.h"
#include "souk/search.h"
#include "souk/souk.h"
#include "souk/recs.h"

#include <ctype.h>
#include <sched.h>
#include <signal.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HOLDOUT 0.2

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void rm_rf(const char *dir)
{
    char cmd[2 * PATH_MAX];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "souk-bench reco: could not remove %s\n", dir);
}

/* The JSON value of x, null when not measured. */
static void json_num(FILE *f, const char *key, double x, int ok, int last)
{
    if (ok && isfinite(x))
        fprintf(f, "\"%s\":%.6g%s", key, x, last ? "" : ",");
    else
        fprintf(f, "\"%s\":null%s", key, last ? "" : ",");
}

/* ------------------------------------------------------------------ results */

typedef struct model_res {
    char name[64];
    char params[160];
    rscores sc;
    int ran;
} model_res;

static void print_header(const char *what)
{
    printf("  %-26s %-16s %-16s %-16s %8s  %s\n", what, "NDCG@10", "Recall@20", "HR@10", "coverage",
           "params");
}

static void print_row(const model_res *m)
{
    rstat a = rstat_of(m->sc.ndcg10, m->sc.n), b = rstat_of(m->sc.recall20, m->sc.n),
          c = rstat_of(m->sc.hr10, m->sc.n);
    printf("  %-26s %.4f ± %.4f  %.4f ± %.4f  %.4f ± %.4f  %7.1f%%  %s\n", m->name, a.mean, a.se,
           b.mean, b.se, c.mean, c.se, 100 * rscores_coverage(&m->sc), m->params);
}

/* The paired difference of each metric, m - ref. */
static void print_diff(const model_res *m, const model_res *ref)
{
    if (m->sc.n != ref->sc.n || !m->sc.n)
        return;
    rstat a = rstat_diff(m->sc.ndcg10, ref->sc.ndcg10, m->sc.n),
          b = rstat_diff(m->sc.recall20, ref->sc.recall20, m->sc.n),
          c = rstat_diff(m->sc.hr10, ref->sc.hr10, m->sc.n);
    printf("  %-26s %+.4f ± %.4f (%+.1f SE)  %+.4f ± %.4f  %+.4f ± %.4f\n", m->name, a.mean, a.se,
           a.se > 0 ? a.mean / a.se : 0, b.mean, b.se, c.mean, c.se);
}

static double mean_ndcg(const model_res *m)
{
    return m->ran ? rstat_of(m->sc.ndcg10, m->sc.n).mean : NAN;
}

/* ------------------------------------------------------------------ tuning the baselines */

typedef struct split_set {
    rsplit test, val;       /* val splits test's training part */
    rtrain train, vtrain;   /* the training matrices of each */
    rtest tusers, vusers;   /* their test units */
    uint32_t *cooc, *vcooc; /* item co-occurrence of each training part */
} split_set;

static int splits_make(const rdata *d, split_set *s)
{
    memset(s, 0, sizeof *s);
    if (rsplit_make(d, NULL, HOLDOUT, &s->test) || rsplit_make(d, &s->test, HOLDOUT, &s->val) ||
        rtrain_make(d, &s->test, &s->train) || rtrain_make(d, &s->val, &s->vtrain) ||
        rtest_make(d, &s->test, &s->train, &s->tusers) ||
        rtest_make(d, &s->val, &s->vtrain, &s->vusers))
        return -1;
    s->cooc = reco_cooc(&s->train);
    s->vcooc = reco_cooc(&s->vtrain);
    return s->cooc && s->vcooc ? 0 : -1;
}

static void splits_free(split_set *s)
{
    rsplit_free(&s->test);
    rsplit_free(&s->val);
    rtrain_free(&s->train);
    rtrain_free(&s->vtrain);
    rtest_free(&s->tusers);
    rtest_free(&s->vusers);
    free(s->cooc);
    free(s->vcooc);
}

static const uint32_t KNN_K[] = {10, 20, 50, 100, 200, 400};
static const double KNN_SHRINK[] = {0, 10, 50, 200, 1000};
static const double EASE_LAMBDA[] = {20, 50, 100, 200, 500, 1000, 2000, 5000, 20000};

typedef struct tuned {
    uint32_t knn_k;
    double knn_shrink, knn_val;
    double ease_lambda, ease_val;
} tuned;

static int tune_baselines(const split_set *s, uint32_t ease_min, tuned *tu)
{
    char err[512];
    tu->knn_val = tu->ease_val = -1;
    printf("  validation: %zu users, %zu training events\n", s->vusers.n, s->val.train_events);
    uint32_t kmax = KNN_K[sizeof KNN_K / sizeof *KNN_K - 1];
    for (size_t a = 0; a < sizeof KNN_SHRINK / sizeof *KNN_SHRINK; a++) {
        rknn m;
        if (rknn_build(&m, &s->vtrain, s->vcooc, kmax, KNN_SHRINK[a]) != 0)
            return -1;
        printf("    item-kNN shrink %-4g NDCG@10 by k:", KNN_SHRINK[a]);
        for (size_t b = 0; b < sizeof KNN_K / sizeof *KNN_K; b++) {
            m.k = KNN_K[b];
            rscores r;
            if (reco_evaluate(&s->vtrain, &s->vusers, reco_knn_rank, &m, &r) != 0)
                return -1;
            double v = rstat_of(r.ndcg10, r.n).mean;
            printf(" %u:%.4f", KNN_K[b], v);
            if (v > tu->knn_val) {
                tu->knn_val = v;
                tu->knn_k = KNN_K[b];
                tu->knn_shrink = KNN_SHRINK[a];
            }
            rscores_free(&r);
        }
        printf("\n");
        fflush(stdout);
        rknn_free(&m);
    }
    printf("    item-kNN chosen: k %u, shrink %g (validation NDCG@10 %.4f)\n", tu->knn_k,
           tu->knn_shrink, tu->knn_val);
    printf("    EASE (items with >= %u training users) NDCG@10 by lambda:", ease_min);
    for (size_t a = 0; a < sizeof EASE_LAMBDA / sizeof *EASE_LAMBDA; a++) {
        rease m;
        if (rease_build(&m, &s->vtrain, s->vcooc, ease_min, EASE_LAMBDA[a], err, sizeof err)) {
            fprintf(stderr, "souk-bench reco: %s\n", err);
            return -1;
        }
        rscores r;
        if (reco_evaluate(&s->vtrain, &s->vusers, reco_ease_rank, &m, &r) != 0)
            return -1;
        double v = rstat_of(r.ndcg10, r.n).mean;
        printf(" %g:%.4f", EASE_LAMBDA[a], v);
        fflush(stdout);
        if (v > tu->ease_val) {
            tu->ease_val = v;
            tu->ease_lambda = EASE_LAMBDA[a];
        }
        if (a == 0)
            printf(" (%zu items, inversion %.1f s)", m.m, m.seconds);
        rscores_free(&r);
        rease_free(&m);
    }
    printf("\n    EASE chosen: lambda %g (validation NDCG@10 %.4f)\n", tu->ease_lambda,
           tu->ease_val);
    return 0;
}

/* ------------------------------------------------------------------ Souk's recommenders */

typedef struct ctx {
    char root[PATH_MAX], bindir[PATH_MAX], work[PATH_MAX];
    char ring[PATH_MAX + 64];
    souk_keyring *kr;
    uint32_t ease_min;
    int tune_souk;
    int random_key;          /* --random-key: a random pseudonym key (else a fixed one) */
    double halflife_days;    /* the store's popularity decay (0: its default) */
    uint32_t cooc_items_max; /* the store's per-user co-occurrence items (0: its default) */
    char **genres;           /* MovieLens: by movieId, "drama|romance" lower case */
    size_t ngenres;
} ctx;

static int genres_load(ctx *c)
{
    FILE *f = fopen(behavior_path(BEHAVIOR_MOVIELENS, "movies.tsv"), "r");
    if (!f)
        return -1;
    c->ngenres = 400000;
    c->genres = calloc(c->ngenres, sizeof *c->genres);
    char *line = NULL;
    size_t cap = 0;
    while (c->genres && getline(&line, &cap, f) > 0) {
        char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL,
             *t3 = t2 ? strchr(t2 + 1, '\t') : NULL;
        unsigned long id = strtoul(line, NULL, 10);
        if (!t3 || !isdigit((unsigned char)line[0]) || id >= c->ngenres)
            continue;
        char *g = t3 + 1;
        g[strcspn(g, "\r\n")] = 0;
        for (char *p = g; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        if (g[0] && g[0] != '(')
            c->genres[id] = strdup(g);
    }
    free(line);
    fclose(f);
    return c->genres ? 0 : -1;
}

/* A key ring of one key at path, mode 0600: random, or when fixed a constant one. The
 * pseudonyms order the store's rows, and through them the order in which equal candidates
 * and co-occurrence rows are met; a fixed key makes a run repeat the previous one exactly
 * (the evaluation's data is public: the key protects nothing here). */
static int write_ring(const char *path, int fixed)
{
    unsigned char k[32];
    if (fixed) {
        for (int i = 0; i < 32; i++)
            k[i] = (unsigned char)(i * 37 + 11);
    } else {
        FILE *r = fopen("/dev/urandom", "rb");
        if (!r || fread(k, 1, sizeof k, r) != sizeof k) {
            if (r)
                fclose(r);
            return -1;
        }
        fclose(r);
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return -1;
    char line[80];
    int n = snprintf(line, sizeof line, "1 ");
    for (int i = 0; i < 32; i++)
        n += snprintf(line + n, sizeof line - (size_t)n, "%02x", k[i]);
    line[n++] = '\n';
    int ok = write(fd, line, (size_t)n) == n;
    return close(fd) == 0 && ok ? 0 : -1;
}

/* souk_events_opts.item_tags: "category:<genre>" for each genre of "ml-<id>". */
static int movie_tags(void *arg, const char *item, char (*tags)[64], int max)
{
    const ctx *c = arg;
    unsigned long id;
    if (strncmp(item, "ml-", 3) != 0 || (id = strtoul(item + 3, NULL, 10)) >= c->ngenres ||
        !c->genres[id])
        return 0;
    int n = 0;
    const char *g = c->genres[id];
    while (*g && n < max) {
        size_t l = strcspn(g, "|");
        snprintf(tags[n++], 64, "category:%.*s", (int)(l < 50 ? l : 50), g);
        g += l + (g[l] == '|');
    }
    return n;
}

/* The catalog of a data set as a Souk index at dir (schema indexer/schemas/movielens.json):
 * the movies, or one record per Groceries item (title the item's words, section "groceries"). */
static int catalog_build(ctx *c, const rdata *d, const char *dir)
{
    char nd[2 * PATH_MAX], cmd[6 * PATH_MAX], err[512];
    snprintf(nd, sizeof nd, "%s.ndjson", dir);
    FILE *f = fopen(nd, "w");
    if (!f)
        return -1;
    if (d->set == BEHAVIOR_MOVIELENS) {
        size_t n;
        if (movielens_catalog_write(f, 0, &n, err, sizeof err) != 0) {
            fprintf(stderr, "souk-bench reco: catalog: %s\n", err);
            fclose(f);
            return -1;
        }
    } else {
        for (size_t i = 0; i < d->nitems; i++) {
            char title[256];
            snprintf(title, sizeof title, "%s", d->item_id[i]);
            for (char *p = title; *p; p++)
                if (*p == '-')
                    *p = ' ';
            fprintf(f, "{\"id\":\"%s\",\"title\":\"%s\",\"section\":\"groceries\"}\n",
                    d->item_id[i], title);
        }
    }
    if (fclose(f) != 0)
        return -1;
    snprintf(cmd, sizeof cmd,
             "'%s/souk-index' --data '%s' --schema '%s' catalog '%s' --quiet >/dev/null", c->bindir,
             dir, movielens_schema_path(), nd);
    return system(cmd) == 0 ? 0 : -1;
}

/* A fresh store at dir with the training events of s replayed through souk_events_ingest. */
static int store_replay(ctx *c, const rdata *d, const rsplit *s, const char *dir, souk_events **out)
{
    char path[PATH_MAX + 32], err[512];
    snprintf(path, sizeof path, "%s.train.ndjson", dir);
    if (rsplit_write_train(d, s, path) != 0)
        return -1;
    souk_events_opts o;
    memset(&o, 0, sizeof o);
    o.keys = c->kr;
    o.consent_default.personalization = 1;
    o.consent_default.search_history = 1;
    o.consent_default.location = 1;
    /* A default given under the current policy (P25: a default of version 0 would predate every
     * purpose and grant none). */
    o.policy_version = o.consent_default.policy_version = 2;
    o.halflife_days = c->halflife_days;
    o.cooc_items_max = c->cooc_items_max;
    if (d->set == BEHAVIOR_MOVIELENS) {
        o.item_tags = movie_tags;
        o.item_tags_arg = c;
    }
    mkdir(dir, 0700);
    if (souk_events_open(dir, &o, out, err, sizeof err) != 0) {
        fprintf(stderr, "souk-bench reco: %s\n", err);
        return -1;
    }
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    souk_ev_ingest_opts io = {.now_ms = d->last_ms + 86400000LL};
    souk_ev_ingest_stats ist;
    memset(&ist, 0, sizeof ist);
    double t0 = now_s();
    int rc = souk_events_ingest(*out, fd, "train.ndjson", &io, &ist, err, sizeof err);
    close(fd);
    if (rc != 0) {
        fprintf(stderr, "souk-bench reco: ingest: %s\n", err);
        return -1;
    }
    printf("    replayed %" PRIu64 " training events into a fresh store in %.2f s (stored %" PRIu64
           ", rejected %" PRIu64 ")\n",
           ist.lines, now_s() - t0, ist.counts.stored, ist.rejected);
    return 0;
}

/* An item's index in the data set, by binary search over a sorted copy of the ids. */
typedef struct item_ix {
    const rdata *d;
    uint32_t *order; /* item indices sorted by id */
} item_ix;

static const rdata *ix_d;
static int cmp_item_id(const void *a, const void *b)
{
    return strcmp(ix_d->item_id[*(const uint32_t *)a], ix_d->item_id[*(const uint32_t *)b]);
}

static int item_ix_make(item_ix *x, const rdata *d)
{
    x->d = d;
    x->order = malloc((d->nitems + 1) * sizeof *x->order);
    if (!x->order)
        return -1;
    for (size_t i = 0; i < d->nitems; i++)
        x->order[i] = (uint32_t)i;
    ix_d = d;
    qsort(x->order, d->nitems, sizeof *x->order, cmp_item_id);
    return 0;
}

static int64_t item_find(const item_ix *x, const char *id)
{
    size_t lo = 0, hi = x->d->nitems;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(x->d->item_id[x->order[mid]], id);
        if (c == 0)
            return x->order[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

typedef struct souk_model {
    const rdata *d;
    item_ix ix;
    souk_recs *recs;
    souk_searcher *se;
    souk_rec_type type;
    souk_recs_model model;
    int64_t now;
    souk_rec out[SOUK_REC_MAX];
    size_t errors, asked, personal, backfilled;
    char lasterr[256];
} souk_model;

/* souk_recommend's answer, without excluded items (n = SOUK_REC_MAX so that the exclusion can
 * remove what the store's capped history does not: the protocol excludes every training item). */
static size_t souk_rank(void *mp, uint32_t u, const uint8_t *excl, uint32_t *top, size_t k)
{
    souk_model *m = mp;
    const char *user = m->d->user_id[u];
    souk_rec_request q = {.type = m->type,
                          .user = user,
                          .user_len = strlen(user),
                          .n = SOUK_REC_MAX,
                          .now_ms = m->now,
                          .model = &m->model,
                          .flags = SOUK_REC_NO_CAP};
    size_t n = 0, got = 0;
    souk_rec_stats st;
    memset(&st, 0, sizeof st);
    if (souk_recommend(m->recs, m->se, &q, m->out, &n, &st, m->lasterr, sizeof m->lasterr) != 0) {
        m->errors++;
        return 0;
    }
    m->asked++;
    m->personal += st.personal != 0;
    m->backfilled += st.backfilled;
    for (size_t i = 0; i < n && got < k; i++) {
        int64_t it = item_find(&m->ix, m->out[i].item);
        if (it < 0 || excl[it])
            continue;
        int dup = 0;
        for (size_t j = 0; j < got; j++)
            dup |= top[j] == (uint32_t)it;
        if (!dup)
            top[got++] = (uint32_t)it;
    }
    return got;
}

/* bought_together for one query item: its list without the item itself. */
static size_t souk_item_rank(souk_model *m, uint32_t item, uint32_t *top, size_t k)
{
    souk_rec_request q = {.type = SOUK_REC_BOUGHT_TOGETHER,
                          .item = m->d->item_id[item],
                          .n = (uint32_t)(k + 1),
                          .now_ms = m->now,
                          .flags = SOUK_REC_NO_CAP};
    size_t n = 0, got = 0;
    if (souk_recommend(m->recs, m->se, &q, m->out, &n, NULL, m->lasterr, sizeof m->lasterr) != 0) {
        m->errors++;
        return 0;
    }
    for (size_t i = 0; i < n && got < k; i++) {
        int64_t it = item_find(&m->ix, m->out[i].item);
        if (it >= 0 && (uint32_t)it != item)
            top[got++] = (uint32_t)it;
    }
    return got;
}

static int count_item(void *arg, souk_ev_type t, const char *item, int64_t ts)
{
    (void)t, (void)item, (void)ts;
    ++*(size_t *)arg;
    return 0;
}

typedef struct souk_env {
    souk_events *ev;
    souk_index *cat;
    souk_model m;
} souk_env;

static int souk_env_open(ctx *c, const rdata *d, const rsplit *s, const char *store,
                         const char *catalog, souk_env *e)
{
    char err[512];
    memset(e, 0, sizeof *e);
    if (store_replay(c, d, s, store, &e->ev) != 0)
        return -1;
    souk_recs_opts ro;
    memset(&ro, 0, sizeof ro);
    ro.events = e->ev;
    if (souk_index_open(catalog, NULL, SOUK_INDEX_RDONLY, &e->cat, err, sizeof err) != 0 ||
        souk_searcher_new(e->cat, &e->m.se) != 0 ||
        souk_recs_open(&ro, &e->m.recs, err, sizeof err) != 0 || item_ix_make(&e->m.ix, d)) {
        fprintf(stderr, "souk-bench reco: %s\n", err);
        return -1;
    }
    e->m.d = d;
    e->m.type = SOUK_REC_FOR_YOU;
    e->m.now = d->last_ms + 86400000LL;
    /* A probe of what the recommenders will read for the first user. */
    souk_consent cs;
    size_t ni = 0, nh = 0;
    const char *u0 = d->user_id[0];
    int crc = souk_consent_get(e->ev, u0, strlen(u0), &cs);
    int irc = souk_user_items(e->ev, u0, strlen(u0), 0, count_item, &ni);
    int hrc = souk_user_history(e->ev, u0, strlen(u0), 0, count_item, &nh);
    printf("    probe %s: consent rc %d personalize %d; souk_user_items rc %d: %zu; "
           "souk_user_history rc %d: %zu\n",
           u0, crc, crc == 0 ? souk_consent_personalize(&cs) : -1, irc, ni, hrc, nh);
    return 0;
}

static void souk_env_close(souk_env *e)
{
    if (e->m.recs)
        souk_recs_close(e->m.recs);
    if (e->m.se)
        souk_searcher_free(e->m.se);
    if (e->cat)
        souk_index_close(e->cat);
    if (e->ev)
        souk_events_close(e->ev);
    free(e->m.ix.order);
}

static void model_str(const souk_recs_model *m, char *buf, size_t len)
{
    snprintf(buf, len,
             "neighbours %u, shrink %g, alpha %g, viewed %g, blend %g, history %u, recency %g d",
             m->neighbours ? m->neighbours : 100, m->shrink ? m->shrink : 5,
             m->alpha ? m->alpha : 0.5, m->viewed_weight ? m->viewed_weight : 0.5,
             m->pop_blend ? m->pop_blend : 0.1, m->history ? m->history : 50,
             m->recency_halflife_days);
}

/* for_you's knobs tuned on validation, one at a time from the defaults (a coordinate search:
 * the evaluation is a replay of hundreds of users per setting). */
static void tune_souk(souk_env *e, const split_set *s, souk_recs_model *best)
{
    memset(best, 0, sizeof *best);
    rscores r;
    double bestv = -1;
    if (reco_evaluate(&s->vtrain, &s->vusers, souk_rank, &e->m, &r) == 0) {
        bestv = rstat_of(r.ndcg10, r.n).mean;
        rscores_free(&r);
    }
    printf("    for_you defaults: validation NDCG@10 %.4f (%zu of %zu answers personal)\n", bestv,
           e->m.personal, e->m.asked);
    static const double nb[] = {50, 200, 400}, sh[] = {-1, 20, 100}, al[] = {0.3, 0.7},
                        vw[] = {-1, 1}, bl[] = {-1, 0.3, 1, 3, 10}, hi[] = {20, 100, 200},
                        rh[] = {30, 365};
    struct knob {
        const char *name;
        const double *v;
        size_t n;
    } knobs[] = {{"neighbours", nb, 3},           {"shrink", sh, 3},    {"alpha", al, 2},
                 {"viewed_weight", vw, 2},        {"pop_blend", bl, 5}, {"history", hi, 3},
                 {"recency_halflife_days", rh, 2}};
    for (size_t k = 0; k < sizeof knobs / sizeof *knobs; k++) {
        for (size_t i = 0; i < knobs[k].n; i++) {
            souk_recs_model t = *best;
            double v = knobs[k].v[i];
            switch (k) {
            case 0:
                t.neighbours = (uint32_t)v;
                break;
            case 1:
                t.shrink = v;
                break;
            case 2:
                t.alpha = v;
                break;
            case 3:
                t.viewed_weight = v;
                break;
            case 4:
                t.pop_blend = v;
                break;
            case 5:
                t.history = (uint32_t)v;
                break;
            default:
                t.recency_halflife_days = v;
            }
            e->m.model = t;
            if (reco_evaluate(&s->vtrain, &s->vusers, souk_rank, &e->m, &r) != 0)
                continue;
            double x = rstat_of(r.ndcg10, r.n).mean;
            rscores_free(&r);
            printf("    for_you %s %g: %.4f\n", knobs[k].name, v, x);
            fflush(stdout);
            if (x > bestv) {
                bestv = x;
                *best = t;
            }
        }
    }
    char buf[160];
    model_str(best, buf, sizeof buf);
    printf("    for_you chosen: %s (validation NDCG@10 %.4f)\n", buf, bestv);
    e->m.model = *best;
}

/* ------------------------------------------------------------------ basket completion */

typedef size_t (*item_rank_fn)(void *m, uint32_t item, uint32_t *top, size_t k);

static size_t pop_item_rank(void *tp, uint32_t item, uint32_t *top, size_t k)
{
    const rtrain *t = tp;
    uint8_t *excl = calloc(t->nitems + 1, 1);
    if (!excl)
        return 0;
    excl[item] = 1;
    size_t n = reco_pop_rank((void *)t, 0, excl, top, k);
    free(excl);
    return n;
}

static size_t knn_item_rank(void *mp, uint32_t item, uint32_t *top, size_t k)
{
    rknn *m = mp;
    size_t n = 0;
    for (uint32_t b = 0; b < m->nnb[item] && n < k; b++)
        top[n++] = m->nb[(size_t)item * m->kmax + b];
    return n;
}

/* Item-to-item co-occurrence scorers for the basket-completion diagnostics: c_qj from distinct
 * users (the event store's definition) or from training baskets, normalized as
 * c_qj / (n_q^alpha n_j^(1-alpha) + shrink) (alpha 1: the count, i.e. P(j | q) ranking; alpha
 * 0.5: cosine); items with no co-occurrence follow by popularity. */
typedef struct cooc_scorer {
    const rtrain *t;
    const uint32_t *c; /* nitems x nitems */
    const uint32_t *n; /* the items' counts at the same level */
    double alpha, shrink;
    double *score;
} cooc_scorer;

static size_t cooc_item_rank(void *mp, uint32_t q, uint32_t *top, size_t k)
{
    cooc_scorer *m = mp;
    size_t ni = m->t->nitems;
    const uint32_t *row = m->c + (size_t)q * ni;
    for (size_t j = 0; j < ni; j++)
        m->score[j] =
            j == q || !row[j]
                ? -INFINITY
                : row[j] / (pow(m->n[q], m->alpha) * pow(m->n[j], 1 - m->alpha) + m->shrink);
    size_t got = reco_topk(m->score, ni, NULL, top, k);
    if (got < k) {
        uint8_t *ex = calloc(ni + 1, 1);
        uint32_t pop[RECO_K];
        if (!ex)
            return got;
        ex[q] = 1;
        for (size_t a = 0; a < got; a++)
            ex[top[a]] = 1;
        size_t np = reco_pop_rank((void *)m->t, 0, ex, pop, k - got);
        for (size_t a = 0; a < np; a++)
            top[got++] = pop[a];
        free(ex);
    }
    return got;
}

/* Co-occurrence over the training baskets (distinct items of each basket) and each item's
 * basket count. */
static uint32_t *basket_cooc(const rdata *d, const rsplit *s, uint32_t **count)
{
    size_t ni = d->nitems;
    uint32_t *c = calloc(ni * ni + 1, sizeof *c), *n = calloc(ni + 1, sizeof *n);
    uint32_t *it = malloc((d->nev + 1) * sizeof *it);
    if (!c || !n || !it) {
        free(c);
        free(n);
        free(it);
        return NULL;
    }
    for (size_t i = 0; i < d->nev;) {
        size_t j = i, m = 0;
        while (j < d->nev && d->ev[j].group == d->ev[i].group)
            j++;
        if (s->part[i] == 1) {
            for (size_t a = i; a < j; a++) {
                int dup = 0;
                for (size_t b = 0; b < m; b++)
                    dup |= it[b] == d->ev[a].item;
                if (!dup)
                    it[m++] = d->ev[a].item;
            }
            for (size_t a = 0; a < m; a++) {
                n[it[a]]++;
                for (size_t b = 0; b < m; b++)
                    if (a != b)
                        c[(size_t)it[a] * ni + it[b]]++;
            }
        }
        i = j;
    }
    free(it);
    *count = n;
    return c;
}

/* Is there any pair signal at all? Pearson's chi-square over the item pairs whose expected
 * count under independence is at least 5, for the training baskets as they are and for the
 * same baskets with their items shuffled across baskets (sizes kept, duplicates within a
 * basket merged; a fixed seed). Equal values mean the baskets carry no association beyond
 * chance, and no co-occurrence model can beat popularity on them. */
static double pair_chi2(const rdata *d, const uint32_t *bitems, const size_t *bstart, size_t nb,
                        size_t *npairs)
{
    size_t ni = d->nitems;
    uint32_t *c = calloc(ni * ni + 1, sizeof *c), *n = calloc(ni + 1, sizeof *n);
    double chi = 0;
    *npairs = 0;
    if (!c || !n)
        goto out;
    size_t tot = 0;
    for (size_t b = 0; b < nb; b++) {
        const uint32_t *it = bitems + bstart[b];
        size_t m = bstart[b + 1] - bstart[b];
        for (size_t a = 0; a < m; a++) {
            int dup = 0;
            for (size_t x = 0; x < a; x++)
                dup |= it[x] == it[a];
            if (dup)
                continue;
            n[it[a]]++;
            for (size_t x = 0; x < m; x++) {
                int dx = 0;
                for (size_t y = 0; y < x; y++)
                    dx |= it[y] == it[x];
                if (!dx && it[x] > it[a])
                    c[(size_t)it[a] * ni + it[x]]++;
            }
        }
        tot++;
    }
    for (size_t i = 0; i < ni; i++)
        for (size_t j = i + 1; j < ni; j++) {
            double e = (double)n[i] * (double)n[j] / (double)tot;
            if (e >= 5) {
                double o = c[i * ni + j];
                chi += (o - e) * (o - e) / e;
                ++*npairs;
            }
        }
out:
    free(c);
    free(n);
    return chi;
}

static void basket_signal(const rdata *d, const rsplit *s)
{
    uint32_t *items = malloc((d->nev + 1) * sizeof *items);
    size_t *start = malloc((d->ngroups + 2) * sizeof *start), nb = 0, n = 0;
    if (!items || !start) {
        free(items);
        free(start);
        return;
    }
    for (size_t i = 0; i < d->nev;) {
        size_t j = i;
        while (j < d->nev && d->ev[j].group == d->ev[i].group)
            j++;
        if (s->part[i] == 1) {
            start[nb++] = n;
            for (size_t a = i; a < j; a++)
                items[n++] = d->ev[a].item;
        }
        i = j;
    }
    start[nb] = n;
    size_t np;
    double real = pair_chi2(d, items, start, nb, &np);
    printf("  pair signal in the training baskets: chi-square %.0f over %zu pairs (expected >= 5); "
           "items shuffled across baskets:",
           real, np);
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (int r = 0; r < 3; r++) {
        for (size_t i = n; i > 1; i--) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            size_t k = (size_t)(x % i);
            uint32_t t = items[i - 1];
            items[i - 1] = items[k];
            items[k] = t;
        }
        printf(" %.0f (%zu)", pair_chi2(d, items, start, nb, &np), np);
    }
    printf("\n");
    free(items);
    free(start);
}

static size_t souk_item_rank_fn(void *mp, uint32_t item, uint32_t *top, size_t k)
{
    return souk_item_rank(mp, item, top, k);
}

/* Basket completion over the held-out baskets with at least two distinct items: for each
 * item q of the basket, the model's list for q against the rest of the basket; a basket's
 * values are the means over its items (the unit of the standard errors). */
static int basket_eval(const rdata *d, const rsplit *s, size_t nitems, item_rank_fn fn, void *m,
                       rscores *r)
{
    if (rscores_init(r, nitems) != 0)
        return -1;
    uint32_t *items = malloc((d->nev + 1) * sizeof *items), *rel = NULL;
    rel = malloc((d->nev + 1) * sizeof *rel);
    if (!items || !rel) {
        free(items);
        free(rel);
        return -1;
    }
    uint32_t top[RECO_K];
    for (size_t i = 0; i < d->nev;) {
        size_t j = i;
        while (j < d->nev && d->ev[j].group == d->ev[i].group)
            j++;
        if (s->part[i] == 2) {
            size_t n = 0;
            for (size_t a = i; a < j; a++)
                items[n++] = d->ev[a].item;
            /* distinct */
            size_t m2 = 0;
            for (size_t a = 0; a < n; a++) {
                int dup = 0;
                for (size_t b = 0; b < m2; b++)
                    dup |= items[b] == items[a];
                if (!dup)
                    items[m2++] = items[a];
            }
            if (m2 >= 2) {
                rscores one;
                if (rscores_init(&one, nitems) != 0)
                    break;
                for (size_t q = 0; q < m2; q++) {
                    size_t nr = 0;
                    for (size_t a = 0; a < m2; a++)
                        if (a != q)
                            rel[nr++] = items[a];
                    /* ascending for rscores_add */
                    for (size_t a = 1; a < nr; a++)
                        for (size_t b = a; b > 0 && rel[b - 1] > rel[b]; b--) {
                            uint32_t t = rel[b];
                            rel[b] = rel[b - 1];
                            rel[b - 1] = t;
                        }
                    size_t nt = fn(m, items[q], top, RECO_K);
                    rscores_add(&one, top, nt, rel, nr);
                }
                for (size_t a = 0; a < nitems; a++)
                    r->covered[a] |= one.covered[a];
                rscores_push(r, rstat_of(one.ndcg10, one.n).mean,
                             rstat_of(one.recall20, one.n).mean, rstat_of(one.hr10, one.n).mean);
                rscores_free(&one);
            }
        }
        i = j;
    }
    free(items);
    free(rel);
    return 0;
}

/* ------------------------------------------------------------------ --http: serving cost */

static const char *SEARCH_KEY = "reco-search-key-0123456789abcdef";
static const char *INGEST_KEY = "reco-ingest-key-0123456789abcdef";
static const char *ADMIN_KEY = "reco-admin-key-0123456789abcdef";

typedef struct lat {
    double *v;
    size_t n, cap, failed;
    double *took; /* the server's own took_us of each answer (n of them when present) */
    size_t ntook, tcap;
    int last_status;
    char last_body[200];
} lat;

static void lat_add(lat *l, double us)
{
    if (souk_grow((void **)&l->v, &l->cap, l->n + 1, sizeof *l->v, SIZE_MAX))
        return;
    l->v[l->n++] = us;
}

/* Copies what l gained since it held n values and nt took_us into to (the same answers, sorted
 * into a phase of their own). */
static void lat_since(const lat *l, size_t n, size_t nt, lat *to)
{
    for (size_t i = n; i < l->n; i++)
        lat_add(to, l->v[i]);
    for (size_t i = nt; i < l->ntook; i++) {
        if (souk_grow((void **)&to->took, &to->tcap, to->ntook + 1, sizeof *to->took, SIZE_MAX))
            return;
        to->took[to->ntook++] = l->took[i];
    }
    if (l->failed)
        to->last_status = l->last_status;
}

static void lat_free(lat *l)
{
    free(l->v);
    free(l->took);
}

/* One GET on k; its latency in microseconds added to l, or a failure counted (k redialled). */
static void get_once(kit_conn **k, int port, const char *target, const char *token, lat *l)
{
    char req[4096];
    int n = snprintf(
        req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Api-Key: %s\r\n%s%s%s\r\n",
        target, SEARCH_KEY, token ? "X-User-Token: " : "", token ? token : "", token ? "\r\n" : "");
    kit_resp r = {0};
    double t0 = now_s();
    if (!*k || kit_send(*k, req, (size_t)n) || kit_read(*k, &r)) {
        l->failed++;
        kit_resp_free(&r);
        kit_close(*k);
        *k = kit_dial(port);
        return;
    }
    double us = (now_s() - t0) * 1e6;
    if (r.status == 200) {
        lat_add(l, us);
        const char *tk = r.body ? strstr(r.body, "\"took_us\":") : NULL;
        if (tk) {
            if (!souk_grow((void **)&l->took, &l->tcap, l->ntook + 1, sizeof *l->took, SIZE_MAX))
                l->took[l->ntook++] = strtod(tk + 10, NULL);
        }
    } else {
        l->failed++;
        l->last_status = r.status;
        snprintf(l->last_body, sizeof l->last_body, "%s", r.body ? r.body : "");
    }
    kit_resp_free(&r);
}

typedef struct http_res {
    double p99_foryou, p99_bt, p99_similar, p50_anon, p50_pers, mean_anon, mean_pers, overhead;
    double p50_hist;
    /* the server's own took_us: p99 of each type, p50 of the searches */
    double srv_p99_foryou, srv_p99_bt, srv_p99_similar, srv_p50_anon, srv_p50_pers;
    /* by phase: a user's first round (caches keyed by the user cold), later rounds */
    double p99_foryou_first, p99_foryou_again, srv_p99_foryou_first, srv_p99_foryou_again;
    double overhead_first, overhead_again;
    double refresh_ms; /* one refresh of every neighbour list (souk_recs_refresh) */
    int ran_rec, ran_search;
} http_res;

static void lat_report(const char *what, lat *l, double *p99)
{
    double p50 = bench_pct(l->v, l->n, 0.5);
    *p99 = bench_pct(l->v, l->n, 0.99);
    printf("    %-34s %6zu ok, %4zu failed: p50 %6.0f us, p99 %6.0f us", what, l->n, l->failed, p50,
           *p99);
    if (l->ntook)
        printf(" (server's took_us: p50 %.0f, p99 %.0f)", bench_pct(l->took, l->ntook, 0.5),
               bench_pct(l->took, l->ntook, 0.99));
    if (l->failed && l->last_status)
        printf(" (last failure %d %.120s)", l->last_status, l->last_body);
    printf("\n");
}

/* Starts souk-server on data with a config written to config (consent on by default for
 * personalization; for search history as history says), pinned to CPU 0 in one loop, and this
 * process on CPU 1. Returns the port, or 0. */
static int srv_up(ctx *c, const char *data, const char *config, const char *tokring, int history,
                  pid_t *pidp)
{
    char bin[PATH_MAX + 32], out[PATH_MAX + 32], errf[PATH_MAX + 32], cfg[4 * PATH_MAX];
    snprintf(bin, sizeof bin, "%s/souk-server", c->bindir);
    snprintf(out, sizeof out, "%s/server.out", c->work);
    snprintf(errf, sizeof errf, "%s/server.err", c->work);
    char hs[80], hi[80], ha[80];
    snprintf(hs, sizeof hs, "%s", kit_hash_key(SEARCH_KEY));
    snprintf(hi, sizeof hi, "%s", kit_hash_key(INGEST_KEY));
    snprintf(ha, sizeof ha, "%s", kit_hash_key(ADMIN_KEY));
    snprintf(cfg, sizeof cfg,
             "{\"search_keys\":[\"%s\"],\"ingest_keys\":[\"%s\"],\"admin_keys\":[\"%s\"],"
             "\"pseudonym_key_file\":\"%s\",\"token_key_file\":\"%s\","
             "\"retention\":{\"events_days\":0,\"impressions_days\":0,\"history_days\":0},"
             "\"consent_default\":{\"personalization\":true,\"location\":true,"
             "\"search_history\":%s},\"policy_version\":2}\n",
             hs, hi, ha, c->ring, tokring, history ? "true" : "false");
    kit_write_file(config, cfg);
    unlink(out);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(0, &one);
        sched_setaffinity(0, sizeof one, &one);
        if (!freopen(out, "w", stdout) || !freopen(errf, "a", stderr))
            _exit(127);
        execl(bin, bin, "--data", data, "--listen", "127.0.0.1:0", "--config", config, "--mode",
              "reuseport", "--threads", "1", (char *)NULL);
        _exit(127);
    }
    cpu_set_t other;
    CPU_ZERO(&other);
    CPU_SET(1, &other);
    sched_setaffinity(0, sizeof other, &other);
    int port = 0;
    for (int i = 0; i < 400 && !port && pid > 0; i++) {
        usleep(50000);
        FILE *f = fopen(out, "r");
        char line[512] = "";
        if (f && fgets(line, sizeof line, f)) {
            const char *p = strstr(line, "127.0.0.1:");
            port = p ? atoi(p + 10) : 0;
        }
        if (f)
            fclose(f);
        if (!port && waitpid(pid, NULL, WNOHANG) == pid)
            pid = 0;
    }
    if (!port) {
        fprintf(stderr, "souk-bench reco: souk-server did not start (see %s)\n", errf);
        if (pid > 0) {
            kill(pid, SIGTERM);
            waitpid(pid, NULL, 0);
        }
        pid = 0;
    }
    *pidp = pid;
    return port;
}

static void srv_down(pid_t pid)
{
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
}

/* The server on the MovieLens-derived data: the movies as its catalog, the whole log (moved to
 * the present) replayed into its event store before it starts; one loop on CPU 0 (reuseport,
 * --threads 1, pinned), this client on CPU 1, one connection, requests one after another. */
static int http_part(ctx *c, double duration, http_res *hr)
{
    char data[PATH_MAX + 32], config[PATH_MAX + 32], err[512], tokring[PATH_MAX + 64];
    char bin[PATH_MAX + 32];
    memset(hr, 0, sizeof *hr);
    snprintf(data, sizeof data, "%s/http-data", c->work);
    snprintf(config, sizeof config, "%s/server.json", c->work);
    snprintf(tokring, sizeof tokring, "%s/keys/token.ring", c->work);
    snprintf(bin, sizeof bin, "%s/souk-server", c->bindir);
    if (access(bin, X_OK) != 0 || write_ring(tokring, 0) != 0) {
        fprintf(stderr, "souk-bench reco: %s is not built\n", bin);
        return -1;
    }
    rdata d;
    if (rdata_load(&d, BEHAVIOR_MOVIELENS, err, sizeof err) != 0 ||
        catalog_build(c, &d, data) != 0) {
        fprintf(stderr, "souk-bench reco: --http: %s\n", err);
        return -1;
    }
    /* The log moved to the present, into DATA/events. */
    char evpath[PATH_MAX + 32];
    snprintf(evpath, sizeof evpath, "%s/events-now.ndjson", c->work);
    behavior_opts bo = {.end_ms = bench_wall_ms()};
    behavior_stats st;
    souk_events *ev = NULL;
    souk_events_opts o;
    memset(&o, 0, sizeof o);
    o.keys = c->kr;
    o.consent_default.personalization = o.consent_default.search_history =
        o.consent_default.location = 1;
    o.policy_version = o.consent_default.policy_version = 2;
    o.item_tags = movie_tags;
    o.item_tags_arg = c;
    int fd = -1;
    if (behavior_events_file(BEHAVIOR_MOVIELENS, &bo, evpath, &st, err, sizeof err) != 0 ||
        souk_events_open(data, &o, &ev, err, sizeof err) != 0 ||
        (fd = open(evpath, O_RDONLY)) < 0) {
        fprintf(stderr, "souk-bench reco: --http: %s\n", err);
        rdata_free(&d);
        return -1;
    }
    souk_ev_ingest_opts io = {.now_ms = bench_wall_ms()};
    souk_ev_ingest_stats ist;
    memset(&ist, 0, sizeof ist);
    int rc = souk_events_ingest(ev, fd, "events-now.ndjson", &io, &ist, err, sizeof err);
    close(fd);
    if (rc == 0) {
        /* What the server's refresh of the neighbour lists costs on this store (souk-server
         * makes them once before it listens, then after changes): the best of 3. */
        souk_recs_opts ro = {.events = ev, .refresh_ms = 3600000};
        souk_recs *r = NULL;
        souk_recs_refresh_stats best = {0}, rs;
        if (souk_recs_open(&ro, &r, err, sizeof err) == 0) {
            for (int i = 0; i < 3; i++)
                if (souk_recs_refresh(r, 0, &rs) == 0 &&
                    (!best.ns_total || rs.ns_total < best.ns_total))
                    best = rs;
            souk_recs_close(r);
            printf("  --http: refresh of the neighbour lists: %" PRIu64 " sets of %" PRIu64
                   " items read in %.1f ms, %" PRIu64 " lists of %" PRIu64
                   " neighbours counted in %.1f ms, %.1f ms in all (best of 3)\n",
                   best.sets, best.set_items, best.ns_read / 1e6, best.lists, best.entries,
                   best.ns_count / 1e6, best.ns_total / 1e6);
            hr->refresh_ms = best.ns_total / 1e6;
        }
    }
    souk_events_close(ev);
    if (rc != 0) {
        fprintf(stderr, "souk-bench reco: --http: ingest: %s\n", err);
        rdata_free(&d);
        return -1;
    }
    printf("  --http: %" PRIu64 " events replayed into the server's store\n", ist.lines);
    pid_t pid = 0;
    int port = srv_up(c, data, config, tokring, 0, &pid);
    if (!port) {
        rdata_free(&d);
        return -1;
    }
    /* Tokens of the users, items by training popularity order of the log (every rated movie
     * appears; the requests cycle over the first 2000 users' tokens and items). */
    souk_keyring *tk = NULL;
    size_t nu = d.nusers;
    char(*tokens)[SOUK_TOKEN_MAX] = calloc(nu, sizeof *tokens);
    if (souk_keyring_load(tokring, NULL, &tk, err, sizeof err) != 0 || !tokens) {
        fprintf(stderr, "souk-bench reco: token ring: %s\n", err);
        nu = 0;
    }
    for (size_t u = 0; u < nu; u++)
        if (souk_token_mint(tk, d.user_id[u], strlen(d.user_id[u]), bench_wall_ms() / 1000, 3600,
                            NULL, tokens[u], sizeof tokens[u]) != 0)
            tokens[u][0] = 0;
    souk_keyring_free(tk);
    kit_conn *k = kit_dial(port);
    lat lfy = {0}, lbt = {0}, lsim = {0}, lan = {0}, lpe = {0};
    /* The same answers by phase: the users are visited in a fixed permutation, so the first nu
     * rounds are each user's first request (what is kept per user is cold), later ones repeat. */
    lat ph[2][3];
    memset(ph, 0, sizeof ph);
    char target[1024], esc[512];
    double t_end = now_s() + duration;
    /* Round-robin over the request kinds, so load drifts hit each the same. */
    for (size_t i = 0; nu && now_s() < t_end; i++) {
        size_t u = (i * 7919) % nu, it = (i * 104729) % d.nitems;
        lat *phase = ph[i >= nu];
        size_t m0[3] = {lfy.n, lan.n, lpe.n}, t0[3] = {lfy.ntook, lan.ntook, lpe.ntook};
        snprintf(target, sizeof target, "/v1/recommend?type=for_you&n=10");
        get_once(&k, port, target, tokens[u], &lfy);
        kit_url_escape(d.item_id[it], esc, sizeof esc);
        snprintf(target, sizeof target, "/v1/recommend?type=bought_together&item=%s&n=10", esc);
        get_once(&k, port, target, NULL, &lbt);
        snprintf(target, sizeof target, "/v1/recommend?type=similar&item=%s&n=10", esc);
        get_once(&k, port, target, NULL, &lsim);
        /* The same query anonymous and personalized, in alternating order. */
        const char *title = d.item_id[it];
        (void)title;
        static const char *const words[] = {"love", "star", "night", "man", "war",   "girl",
                                            "dead", "life", "king",  "day", "world", "story"};
        kit_url_escape(words[i % (sizeof words / sizeof *words)], esc, sizeof esc);
        snprintf(target, sizeof target, "/v1/search?q=%s", esc);
        if (i % 2) {
            get_once(&k, port, target, NULL, &lan);
            get_once(&k, port, target, tokens[u], &lpe);
        } else {
            get_once(&k, port, target, tokens[u], &lpe);
            get_once(&k, port, target, NULL, &lan);
        }
        lat_since(&lfy, m0[0], t0[0], &phase[0]);
        lat_since(&lan, m0[1], t0[1], &phase[1]);
        lat_since(&lpe, m0[2], t0[2], &phase[2]);
    }
    kit_close(k);
    srv_down(pid);
    /* The same searches with search history consent on: each personalized search then also
     * records a search event (api/privacy.c), which the figure above leaves out. */
    lat lhist = {0}, lhan = {0};
    port = nu ? srv_up(c, data, config, tokring, 1, &pid) : 0;
    k = port ? kit_dial(port) : NULL;
    t_end = now_s() + duration / 4;
    for (size_t i = 0; k && now_s() < t_end; i++) {
        size_t u = (i * 7919) % nu;
        static const char *const words[] = {"love", "star", "night", "man", "war", "girl"};
        snprintf(target, sizeof target, "/v1/search?q=%s", words[i % 6]);
        get_once(&k, port, target, NULL, &lhan);
        get_once(&k, port, target, tokens[u], &lhist);
    }
    kit_close(k);
    if (port)
        srv_down(pid);
    lat_report("GET /v1/recommend for_you", &lfy, &hr->p99_foryou);
    lat_report("GET /v1/recommend bought_together", &lbt, &hr->p99_bt);
    lat_report("GET /v1/recommend similar", &lsim, &hr->p99_similar);
    double p99a, p99p;
    for (size_t i = 0; i < lan.n; i++)
        hr->mean_anon += lan.v[i] / (double)lan.n;
    for (size_t i = 0; i < lpe.n; i++)
        hr->mean_pers += lpe.v[i] / (double)lpe.n;
    lat_report("GET /v1/search anonymous", &lan, &p99a);
    lat_report("GET /v1/search with a user token", &lpe, &p99p);
    hr->srv_p99_foryou = bench_pct(lfy.took, lfy.ntook, 0.99);
    hr->srv_p99_bt = bench_pct(lbt.took, lbt.ntook, 0.99);
    hr->srv_p99_similar = bench_pct(lsim.took, lsim.ntook, 0.99);
    hr->srv_p50_anon = bench_pct(lan.took, lan.ntook, 0.5);
    hr->srv_p50_pers = bench_pct(lpe.took, lpe.ntook, 0.5);
    hr->p50_anon = bench_pct(lan.v, lan.n, 0.5);
    hr->p50_pers = bench_pct(lpe.v, lpe.n, 0.5);
    hr->overhead = hr->p50_pers / hr->p50_anon - 1;
    printf("    personalized search overhead: p50 %+.1f%%, mean %+.1f%%, p99 %+.1f%%\n",
           100 * hr->overhead, 100 * (hr->mean_pers / hr->mean_anon - 1), 100 * (p99p / p99a - 1));
    for (int f = 0; f < 2; f++) {
        double p99fy, p99pa, p99pp;
        printf("  %s:\n", f ? "returning users (rounds after each user's first)"
                            : "each user's first round (caches kept per user are cold)");
        lat_report("GET /v1/recommend for_you", &ph[f][0], &p99fy);
        lat_report("GET /v1/search anonymous", &ph[f][1], &p99pa);
        lat_report("GET /v1/search with a user token", &ph[f][2], &p99pp);
        double ov =
            bench_pct(ph[f][2].v, ph[f][2].n, 0.5) / bench_pct(ph[f][1].v, ph[f][1].n, 0.5) - 1;
        printf("    personalized search overhead: p50 %+.1f%% (server's took_us p50 %+.1f%%)\n",
               100 * ov,
               100 * (bench_pct(ph[f][2].took, ph[f][2].ntook, 0.5) /
                          bench_pct(ph[f][1].took, ph[f][1].ntook, 0.5) -
                      1));
        *(f ? &hr->p99_foryou_again : &hr->p99_foryou_first) = p99fy;
        *(f ? &hr->srv_p99_foryou_again : &hr->srv_p99_foryou_first) =
            bench_pct(ph[f][0].took, ph[f][0].ntook, 0.99);
        *(f ? &hr->overhead_again : &hr->overhead_first) = ov;
    }
    for (int f = 0; f < 2; f++)
        for (int j = 0; j < 3; j++)
            lat_free(&ph[f][j]);
    double p99h, p99ha;
    printf("  with search history consent on (each personalized search also records an event):\n");
    lat_report("GET /v1/search anonymous", &lhan, &p99ha);
    lat_report("GET /v1/search with a user token", &lhist, &p99h);
    hr->p50_hist = bench_pct(lhist.v, lhist.n, 0.5);
    free(lhist.v);
    free(lhist.took);
    free(lhan.v);
    free(lhan.took);
    hr->ran_rec = lfy.n && lbt.n && lsim.n && !lfy.failed && !lbt.failed && !lsim.failed;
    hr->ran_search = lan.n && lpe.n && !lan.failed && !lpe.failed;
    free(lfy.v);
    free(lfy.took);
    free(lbt.v);
    free(lbt.took);
    free(lsim.v);
    free(lsim.took);
    free(lan.v);
    free(lan.took);
    free(lpe.v);
    free(lpe.took);
    free(tokens);
    rdata_free(&d);
    return 0;
}

/* ------------------------------------------------------------------ one data set */

typedef struct set_res {
    double foryou_ndcg, foryou_se, pop_ndcg, knn_ndcg, ease_ndcg;
    double bt_ndcg, popc_ndcg;
    double foryou_vs_knn, foryou_vs_knn_se, foryou_vs_ease, foryou_vs_ease_se;
    double foryou_vs_pop, foryou_vs_pop_se, bt_vs_pop, bt_vs_pop_se;
    int ran_foryou, ran_bt;
} set_res;

static void set_res_init(set_res *r)
{
    r->foryou_ndcg = r->foryou_se = r->pop_ndcg = r->knn_ndcg = r->ease_ndcg = NAN;
    r->bt_ndcg = r->popc_ndcg = NAN;
    r->foryou_vs_knn = r->foryou_vs_knn_se = r->foryou_vs_ease = r->foryou_vs_ease_se = NAN;
    r->foryou_vs_pop = r->foryou_vs_pop_se = r->bt_vs_pop = r->bt_vs_pop_se = NAN;
    r->ran_foryou = r->ran_bt = 0;
}

static int run_set(ctx *c, behavior_set set, set_res *res)
{
    char err[512], dir[PATH_MAX + 64], cat[PATH_MAX + 64];
    rdata d;
    double t0 = now_s();
    set_res_init(res);
    if (rdata_load(&d, set, err, sizeof err) != 0) {
        fprintf(stderr, "souk-bench reco: %s: %s\n", behavior_name(set), err);
        return -1;
    }
    split_set s;
    if (splits_make(&d, &s) != 0) {
        fprintf(stderr, "souk-bench reco: out of memory\n");
        rdata_free(&d);
        return -1;
    }
    printf("%s: %zu events, %zu users, %zu items, %zu %s; test split: %zu users split, %zu "
           "training and %zu held-out events, %zu test users\n",
           behavior_name(set), d.nev, d.nusers, d.nitems, d.ngroups,
           set == BEHAVIOR_MOVIELENS ? "ratings" : "baskets", s.test.users_split,
           s.test.train_events, s.test.test_events, s.tusers.n);
    fflush(stdout);
    tuned tu;
    memset(&tu, 0, sizeof tu);
    if (tune_baselines(&s, set == BEHAVIOR_MOVIELENS ? c->ease_min : 1, &tu) != 0) {
        splits_free(&s);
        rdata_free(&d);
        return -1;
    }
    /* The test split. */
    enum { M_FORYOU, M_POP, M_KNN, M_EASE, M_N };
    model_res mr[M_N];
    memset(mr, 0, sizeof mr);
    snprintf(mr[M_FORYOU].name, sizeof mr[0].name, "souk for_you");
    snprintf(mr[M_POP].name, sizeof mr[0].name, "popularity");
    snprintf(mr[M_KNN].name, sizeof mr[0].name, "item-kNN (cosine)");
    snprintf(mr[M_EASE].name, sizeof mr[0].name, "EASE");
    mr[M_POP].ran = reco_evaluate(&s.train, &s.tusers, reco_pop_rank, &s.train, &mr[M_POP].sc) == 0;
    rknn knn;
    if (rknn_build(&knn, &s.train, s.cooc, tu.knn_k, tu.knn_shrink) == 0) {
        mr[M_KNN].ran = reco_evaluate(&s.train, &s.tusers, reco_knn_rank, &knn, &mr[M_KNN].sc) == 0;
        snprintf(mr[M_KNN].params, sizeof mr[0].params, "k %u, shrink %g", tu.knn_k, tu.knn_shrink);
        rknn_free(&knn);
    }
    rease ease;
    uint32_t emin = set == BEHAVIOR_MOVIELENS ? c->ease_min : 1;
    if (rease_build(&ease, &s.train, s.cooc, emin, tu.ease_lambda, err, sizeof err) == 0) {
        mr[M_EASE].ran =
            reco_evaluate(&s.train, &s.tusers, reco_ease_rank, &ease, &mr[M_EASE].sc) == 0;
        snprintf(mr[M_EASE].params, sizeof mr[0].params,
                 "lambda %g, %zu items (>= %u users), inversion %.1f s", tu.ease_lambda, ease.m,
                 emin, ease.seconds);
        rease_free(&ease);
    } else {
        fprintf(stderr, "souk-bench reco: %s\n", err);
    }
    snprintf(cat, sizeof cat, "%s/%s-catalog", c->work, behavior_name(set));
    souk_env ve, te;
    int have_cat = catalog_build(c, &d, cat) == 0;
    if (!have_cat)
        fprintf(stderr, "souk-bench reco: indexing the %s catalog failed\n", behavior_name(set));
    souk_recs_model chosen;
    memset(&chosen, 0, sizeof chosen);
    if (have_cat && c->tune_souk) {
        printf("  for_you on validation (training part replayed into a fresh store):\n");
        snprintf(dir, sizeof dir, "%s/%s-val-store", c->work, behavior_name(set));
        if (souk_env_open(c, &d, &s.val, dir, cat, &ve) == 0)
            tune_souk(&ve, &s, &chosen);
        souk_env_close(&ve);
    }
    int have_te = 0;
    if (have_cat) {
        printf("  the test split's training part replayed:\n");
        snprintf(dir, sizeof dir, "%s/%s-test-store", c->work, behavior_name(set));
        have_te = souk_env_open(c, &d, &s.test, dir, cat, &te) == 0;
    }
    if (have_te) {
        te.m.model = chosen;
        double t1 = now_s();
        mr[M_FORYOU].ran =
            reco_evaluate(&s.train, &s.tusers, souk_rank, &te.m, &mr[M_FORYOU].sc) == 0;
        model_str(&chosen, mr[M_FORYOU].params, sizeof mr[0].params);
        printf("    for_you: %zu users in %.2f s, %zu personal answers, %zu backfilled items, %zu "
               "errors%s%s\n",
               s.tusers.n, now_s() - t1, te.m.personal, te.m.backfilled, te.m.errors,
               te.m.errors ? ": " : "", te.m.errors ? te.m.lasterr : "");
    }
    printf("  test (%zu users; full ranking over %zu items, training items excluded):\n",
           s.tusers.n, d.nitems);
    print_header("model");
    for (int i = 0; i < M_N; i++)
        if (mr[i].ran)
            print_row(&mr[i]);
    if (mr[M_FORYOU].ran) {
        printf("  paired difference against souk for_you (model - for_you, per test user):\n");
        for (int i = M_POP; i < M_N; i++)
            if (mr[i].ran)
                print_diff(&mr[i], &mr[M_FORYOU]);
        rstat fy = rstat_of(mr[M_FORYOU].sc.ndcg10, mr[M_FORYOU].sc.n);
        res->ran_foryou = 1;
        res->foryou_ndcg = fy.mean;
        res->foryou_se = fy.se;
        size_t n = mr[M_FORYOU].sc.n;
        rstat k = rstat_diff(mr[M_FORYOU].sc.ndcg10, mr[M_KNN].sc.ndcg10, n),
              e = rstat_diff(mr[M_FORYOU].sc.ndcg10, mr[M_EASE].sc.ndcg10, n),
              p = rstat_diff(mr[M_FORYOU].sc.ndcg10, mr[M_POP].sc.ndcg10, n);
        res->foryou_vs_knn = k.mean;
        res->foryou_vs_knn_se = k.se;
        res->foryou_vs_ease = e.mean;
        res->foryou_vs_ease_se = e.se;
        res->foryou_vs_pop = p.mean;
        res->foryou_vs_pop_se = p.se;
    } else if (mr[M_KNN].ran) {
        printf("  paired difference against item-kNN (no for_you in this build):\n");
        print_diff(&mr[M_EASE], &mr[M_KNN]);
        print_diff(&mr[M_POP], &mr[M_KNN]);
    }
    res->pop_ndcg = mean_ndcg(&mr[M_POP]);
    res->knn_ndcg = mean_ndcg(&mr[M_KNN]);
    res->ease_ndcg = mean_ndcg(&mr[M_EASE]);

    if (set == BEHAVIOR_GROCERIES) {
        model_res bc[3];
        memset(bc, 0, sizeof bc);
        snprintf(bc[0].name, sizeof bc[0].name, "souk bought_together");
        snprintf(bc[1].name, sizeof bc[0].name, "popularity");
        snprintf(bc[2].name, sizeof bc[0].name, "cosine (item-kNN)");
        bc[1].ran = basket_eval(&d, &s.test, d.nitems, pop_item_rank, &s.train, &bc[1].sc) == 0;
        rknn cos;
        if (rknn_build(&cos, &s.train, s.cooc, (uint32_t)d.nitems, tu.knn_shrink) == 0) {
            bc[2].ran = basket_eval(&d, &s.test, d.nitems, knn_item_rank, &cos, &bc[2].sc) == 0;
            snprintf(bc[2].params, sizeof bc[0].params, "shrink %g", tu.knn_shrink);
            rknn_free(&cos);
        }
        if (have_te) {
            size_t e0 = te.m.errors;
            bc[0].ran =
                basket_eval(&d, &s.test, d.nitems, souk_item_rank_fn, &te.m, &bc[0].sc) == 0;
            snprintf(bc[0].params, sizeof bc[0].params, "defaults; %zu errors", te.m.errors - e0);
        }
        printf("  basket completion (%zu held-out baskets of >= 2 items; each item ranks the rest "
               "of its basket, no exclusion but the item):\n",
               bc[1].sc.n);
        print_header("model");
        for (int i = 0; i < 3; i++)
            if (bc[i].ran)
                print_row(&bc[i]);
        if (bc[0].ran) {
            printf("  paired difference against souk bought_together (per basket):\n");
            print_diff(&bc[1], &bc[0]);
            print_diff(&bc[2], &bc[0]);
            rstat p = rstat_diff(bc[0].sc.ndcg10, bc[1].sc.ndcg10, bc[0].sc.n);
            res->bt_vs_pop = p.mean;
            res->bt_vs_pop_se = p.se;
            res->bt_ndcg = mean_ndcg(&bc[0]);
            res->ran_bt = 1;
        }
        /* Diagnostics for bought_together's design: which co-occurrence and normalization
         * beats popularity here (each against popularity, paired per basket). */
        uint32_t *bcount = NULL, *bc_c = basket_cooc(&d, &s.test, &bcount);
        if (bc_c && bc[1].ran) {
            printf("  basket completion diagnostics (co-occurrence variants; difference to "
                   "popularity per basket):\n");
            double *sc = malloc((d.nitems + 1) * sizeof *sc);
            static const double alphas[] = {0.5, 0.8, 1.0};
            for (int lvl = 0; lvl < 2 && sc; lvl++)
                for (size_t ai = 0; ai < 3; ai++) {
                    cooc_scorer cs = {.t = &s.train,
                                      .c = lvl ? bc_c : s.cooc,
                                      .n = lvl ? bcount : s.train.pop,
                                      .alpha = alphas[ai],
                                      .shrink = 2,
                                      .score = sc};
                    rscores r;
                    if (basket_eval(&d, &s.test, d.nitems, cooc_item_rank, &cs, &r) != 0)
                        continue;
                    rstat m = rstat_of(r.ndcg10, r.n),
                          df = rstat_diff(r.ndcg10, bc[1].sc.ndcg10, r.n);
                    printf("    %-8s alpha %.1f: NDCG@10 %.4f ± %.4f, - popularity %+.4f ± %.4f "
                           "(%+.1f SE), coverage %.1f%%\n",
                           lvl ? "baskets" : "users", alphas[ai], m.mean, m.se, df.mean, df.se,
                           df.se > 0 ? df.mean / df.se : 0, 100 * rscores_coverage(&r));
                    rscores_free(&r);
                }
            free(sc);
        }
        free(bc_c);
        free(bcount);
        basket_signal(&d, &s.test);
        res->popc_ndcg = mean_ndcg(&bc[1]);
        for (int i = 0; i < 3; i++)
            rscores_free(&bc[i].sc);
    }
    if (have_te)
        souk_env_close(&te);
    for (int i = 0; i < M_N; i++)
        rscores_free(&mr[i].sc);
    splits_free(&s);
    rdata_free(&d);
    printf("  (%s: %.1f s)\n", behavior_name(set), now_s() - t0);
    fflush(stdout);
    return 0;
}

/* ------------------------------------------------------------------ main */

int bench_reco(int argc, char **argv)
{
    ctx c;
    memset(&c, 0, sizeof c);
    c.ease_min = 3;
    c.tune_souk = 1;
    int keep = 0, do_ml = 1, do_gr = 1, http = 0;
    double duration = 20;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--work") == 0 && i + 1 < argc)
            snprintf(c.work, sizeof c.work, "%s", argv[++i]);
        else if (strcmp(argv[i], "--data") == 0 && i + 1 < argc) {
            const char *v = argv[++i];
            do_ml = strcmp(v, "movielens") == 0 || strcmp(v, "both") == 0;
            do_gr = strcmp(v, "groceries") == 0 || strcmp(v, "both") == 0;
        } else if (strcmp(argv[i], "--ease-min") == 0 && i + 1 < argc)
            c.ease_min = (uint32_t)atoi(argv[++i]);
        else if (strcmp(argv[i], "--no-tune-souk") == 0)
            c.tune_souk = 0;
        else if (strcmp(argv[i], "--random-key") == 0)
            c.random_key = 1;
        else if (strcmp(argv[i], "--store-halflife") == 0 && i + 1 < argc)
            c.halflife_days = atof(argv[++i]);
        else if (strcmp(argv[i], "--store-cooc-items") == 0 && i + 1 < argc)
            c.cooc_items_max = (uint32_t)atoi(argv[++i]);
        else if (strcmp(argv[i], "--keep") == 0)
            keep = 1;
        else if (strcmp(argv[i], "--http") == 0)
            http = 1;
        else if (strcmp(argv[i], "--duration") == 0 && i + 1 < argc)
            duration = atof(argv[++i]);
        else {
            fprintf(stderr,
                    "usage: souk-bench reco [--work DIR] [--data movielens|groceries|both|none] "
                    "[--ease-min N] [--no-tune-souk] [--random-key] [--store-halflife DAYS] "
                    "[--store-cooc-items N] [--http] [--duration S] [--keep]\n");
            return 2;
        }
    }
    char why[512], err[512];
    if (do_ml && !behavior_present(BEHAVIOR_MOVIELENS, why, sizeof why)) {
        printf("SKIP: %s\n", why);
        return 0;
    }
    if (do_gr && !behavior_present(BEHAVIOR_GROCERIES, why, sizeof why)) {
        printf("SKIP: %s\n", why);
        return 0;
    }
    if (bench_locate(c.root, sizeof c.root, c.bindir, sizeof c.bindir) != 0 ||
        bench_workdir("reco", c.work, sizeof c.work) != 0)
        return 1;
    char keys[PATH_MAX + 16];
    snprintf(keys, sizeof keys, "%s/keys", c.work);
    mkdir(keys, 0700);
    snprintf(c.ring, sizeof c.ring, "%s/pseudonym.ring", keys);
    if (write_ring(c.ring, !c.random_key) != 0 ||
        souk_keyring_load(c.ring, NULL, &c.kr, err, sizeof err) != 0 || genres_load(&c) != 0) {
        fprintf(stderr, "souk-bench reco: set-up: %s\n", err);
        return 1;
    }
    printf("souk-bench reco: work %s\n", c.work);
    set_res ml, gr;
    int ok = 1;
    set_res_init(&ml);
    set_res_init(&gr);
    if (do_ml)
        ok &= run_set(&c, BEHAVIOR_MOVIELENS, &ml) == 0;
    if (do_gr)
        ok &= run_set(&c, BEHAVIOR_GROCERIES, &gr) == 0;
    if (ml.ran_foryou)
        printf("targets, MovieLens: for_you - item-kNN NDCG@10 %+.4f ± %.4f (%.1f SE; target > 2): "
               "%s; for_you - EASE %+.4f ± %.4f (target >= 0): %s\n",
               ml.foryou_vs_knn, ml.foryou_vs_knn_se, ml.foryou_vs_knn / ml.foryou_vs_knn_se,
               ml.foryou_vs_knn > 2 * ml.foryou_vs_knn_se ? "met" : "NOT met", ml.foryou_vs_ease,
               ml.foryou_vs_ease_se, ml.foryou_vs_ease >= 0 ? "met" : "NOT met");
    if (gr.ran_bt)
        printf("targets, Groceries: bought_together - popularity (completion NDCG@10) %+.4f ± "
               "%.4f (%.1f SE; target > 2): %s\n",
               gr.bt_vs_pop, gr.bt_vs_pop_se, gr.bt_vs_pop / gr.bt_vs_pop_se,
               gr.bt_vs_pop > 2 * gr.bt_vs_pop_se ? "met" : "NOT met");
    if (gr.ran_foryou)
        printf("targets, Groceries: for_you - popularity NDCG@10 %+.4f ± %.4f (target >= 0): %s\n",
               gr.foryou_vs_pop, gr.foryou_vs_pop_se, gr.foryou_vs_pop >= 0 ? "met" : "NOT met");
    http_res hr;
    memset(&hr, 0, sizeof hr);
    if (http) {
        printf("serving over HTTP (souk-server on one core, %.0f s):\n", duration);
        http_part(&c, duration, &hr);
    }
    printf("{\"bench\":\"reco\",");
    json_num(stdout, "for_you_ndcg10", ml.foryou_ndcg, ml.ran_foryou, 0);
    json_num(stdout, "popularity_ndcg10", ml.pop_ndcg, do_ml, 0);
    json_num(stdout, "itemknn_ndcg10", ml.knn_ndcg, do_ml, 0);
    json_num(stdout, "ease_ndcg10", ml.ease_ndcg, do_ml, 0);
    json_num(stdout, "for_you_se", ml.foryou_se, ml.ran_foryou, 0);
    json_num(stdout, "for_you_minus_itemknn", ml.foryou_vs_knn, ml.ran_foryou, 0);
    json_num(stdout, "for_you_minus_itemknn_se", ml.foryou_vs_knn_se, ml.ran_foryou, 0);
    json_num(stdout, "for_you_minus_ease", ml.foryou_vs_ease, ml.ran_foryou, 0);
    json_num(stdout, "for_you_minus_ease_se", ml.foryou_vs_ease_se, ml.ran_foryou, 0);
    json_num(stdout, "groceries_for_you_ndcg10", gr.foryou_ndcg, gr.ran_foryou, 0);
    json_num(stdout, "groceries_popularity_ndcg10", gr.pop_ndcg, do_gr, 0);
    json_num(stdout, "bought_together_completion_ndcg10", gr.bt_ndcg, gr.ran_bt, 0);
    json_num(stdout, "popularity_completion_ndcg10", gr.popc_ndcg, do_gr, 0);
    json_num(stdout, "bought_together_minus_popularity_se", gr.bt_vs_pop_se, gr.ran_bt, 0);
    json_num(stdout, "p99_us_for_you", hr.p99_foryou, hr.ran_rec, 0);
    json_num(stdout, "p99_us_bought_together", hr.p99_bt, hr.ran_rec, 0);
    json_num(stdout, "p99_us_similar", hr.p99_similar, hr.ran_rec, 0);
    json_num(stdout, "server_p99_us_for_you", hr.srv_p99_foryou, hr.ran_rec, 0);
    json_num(stdout, "lists_refresh_ms", hr.refresh_ms, hr.refresh_ms > 0, 0);
    json_num(stdout, "server_p99_us_bought_together", hr.srv_p99_bt, hr.ran_rec, 0);
    json_num(stdout, "server_p99_us_similar", hr.srv_p99_similar, hr.ran_rec, 0);
    json_num(stdout, "server_search_p50_us_anonymous", hr.srv_p50_anon, hr.ran_search, 0);
    json_num(stdout, "server_search_p50_us_personal", hr.srv_p50_pers, hr.ran_search, 0);
    json_num(stdout, "search_p50_us_anonymous", hr.p50_anon, hr.ran_search, 0);
    json_num(stdout, "search_p50_us_personal", hr.p50_pers, hr.ran_search, 0);
    json_num(stdout, "search_p50_us_personal_with_history", hr.p50_hist, hr.ran_search, 0);
    json_num(stdout, "p99_us_for_you_first", hr.p99_foryou_first, hr.ran_rec, 0);
    json_num(stdout, "p99_us_for_you_returning", hr.p99_foryou_again, hr.ran_rec, 0);
    json_num(stdout, "server_p99_us_for_you_first", hr.srv_p99_foryou_first, hr.ran_rec, 0);
    json_num(stdout, "server_p99_us_for_you_returning", hr.srv_p99_foryou_again, hr.ran_rec, 0);
    json_num(stdout, "personal_search_overhead_first", hr.overhead_first, hr.ran_search, 0);
    json_num(stdout, "personal_search_overhead_returning", hr.overhead_again, hr.ran_search, 0);
    json_num(stdout, "personal_search_overhead", hr.overhead, hr.ran_search, 1);
    printf("}\n");
    souk_keyring_free(c.kr);
    for (size_t i = 0; c.genres && i < c.ngenres; i++)
        free(c.genres[i]);
    free(c.genres);
    if (!keep)
        rm_rf(c.work);
    return ok ? 0 : 1;
}
