/* bench_tune.c: souk-bench tune: relevance tuning of a ranking profile (tests/kit/tune.h) on one
 * IR collection, evaluated on the other. Tuning reads only the tuning collection's queries and
 * judgements; the held-out collection is indexed and evaluated once, with the default ranking
 * and with the tuned profile. Both directions by default (Cranfield -> CACM, CACM ->
 * Cranfield); the tuned parameters are printed as lines tests/test_rank_tune.c reads.
 *
 * The method (tests/kit/tune.h, docs/benchmarks.md): coordinate ascent from the default on the
 * risk-sensitive objective, each query's loss against the default counted 1 + ALPHA times
 * (--risk, default 1; 0: the mean, the former method). Variants measured in
 * docs/benchmarks.md: --cv FOLDS chooses ALPHA among 0, 0.5, 1 and 2 by cross-validation over
 * the tuning collection's queries; --bags N takes each parameter's median over N ascents on
 * bootstrap resamples of the queries; --one-se NSE then keeps, among the settings evaluated,
 * the closest to the default within NSE standard errors of the best; --min-gain G keeps a move
 * only when it gains more than G (relative). */
#include "bench.h"
#include "ircoll.h"
#include "tune.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int load(const char *root, ircoll_kind k, ircoll **out)
{
    char dir[4096], err[512];
    if (snprintf(dir, sizeof dir, "%s/../shared/data/ir/%s", root, ircoll_name(k)) >=
        (int)sizeof dir) {
        fprintf(stderr, "souk-bench tune: path too long: %s\n", root);
        return -1;
    }
    if (ircoll_load(k, dir, out, err, sizeof err) != 0) {
        printf("SKIP: %s: %s\n", ircoll_name(k), err);
        return 1;
    }
    return 0;
}

static void report(const char *what, const souk_eval_scores *d, const souk_eval_scores *t)
{
    printf("  %-26s default MAP %.4f nDCG@10 %.4f | tuned MAP %.4f (%+.1f%%) nDCG@10 %.4f "
           "(%+.1f%%)\n",
           what, d->map, d->ndcg10, t->map, 100 * (t->map / d->map - 1), t->ndcg10,
           100 * (t->ndcg10 / d->ndcg10 - 1));
}

int bench_tune(int argc, char **argv)
{
    int rounds = 3, bags = 0;
    double min_gain = 0, nse = -1, risk = 1;
    int folds = 0;
    const char *only = NULL, *eval = NULL;
    char work[4096] = "";
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--tune-on") == 0 && i + 1 < argc)
            only = argv[++i];
        else if (strcmp(argv[i], "--bags") == 0 && i + 1 < argc)
            bags = atoi(argv[++i]);
        else if (strcmp(argv[i], "--cv") == 0 && i + 1 < argc)
            folds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--risk") == 0 && i + 1 < argc)
            risk = atof(argv[++i]);
        else if (strcmp(argv[i], "--one-se") == 0 && i + 1 < argc)
            nse = atof(argv[++i]);
        else if (strcmp(argv[i], "--min-gain") == 0 && i + 1 < argc)
            min_gain = atof(argv[++i]);
        else if (strcmp(argv[i], "--eval") == 0 && i + 1 < argc)
            eval = argv[++i];
        else if (strcmp(argv[i], "--work") == 0 && i + 1 < argc)
            snprintf(work, sizeof work, "%s", argv[++i]);
        else {
            fprintf(stderr, "usage: souk-bench tune [--rounds N] [--tune-on cranfield|cacm] "
                            "[--risk ALPHA] [--cv FOLDS] [--bags N] [--one-se NSE] "
                            "[--min-gain G] [--eval PARAMS] [--work DIR]\n");
            return 2;
        }
    }
    if (rounds < 1 || rounds > 10) {
        fprintf(stderr, "souk-bench tune: --rounds must be 1 to 10\n");
        return 2;
    }
    char root[4096], bindir[4096];
    if (bench_locate(root, sizeof root, bindir, sizeof bindir) != 0)
        return 1;
    ircoll *c[2] = {NULL, NULL};
    int lr = load(root, IRCOLL_CRANFIELD, &c[0]);
    if (lr == 0)
        lr = load(root, IRCOLL_CACM, &c[1]);
    if (lr != 0)
        return lr < 0; /* 1 after an error; 0 after the SKIP line */
    if (bench_workdir("tune", work, sizeof work) != 0)
        return 1;
    souk_index *ix[2] = {NULL, NULL};
    char err[512], dir[4200];
    for (int i = 0; i < 2; i++) {
        snprintf(dir, sizeof dir, "%s/%s", work, ircoll_name(c[i]->kind));
        if (tune_index(c[i], dir, &ix[i], err, sizeof err) != 0) {
            fprintf(stderr, "souk-bench tune: indexing %s: %s\n", ircoll_name(c[i]->kind), err);
            return 1;
        }
    }
    int rc = 0;
    tune_params given;
    if (eval && tune_params_parse(eval, &given) != 0) {
        fprintf(stderr, "souk-bench tune: --eval wants \"k1=K b=B title=T body=B authors=A "
                        "proximity=P window=W stop=0|1\"\n");
        rc = 2;
    }
    for (int i = 0; eval && i < 2 && !rc; i++) { /* one profile on both collections */
        souk_eval_scores d, t;
        if (tune_eval(ix[i], c[i], NULL, &d) || tune_eval(ix[i], c[i], &given, &t)) {
            rc = 1;
            break;
        }
        report(ircoll_name(c[i]->kind), &d, &t);
    }
    for (int i = 0; !eval && i < 2 && !rc; i++) {
        int held = 1 - i;
        if (only && strcmp(only, ircoll_name(c[i]->kind)) != 0)
            continue;
        printf("tune on %s (%d rounds of coordinate ascent), evaluate on %s\n",
               ircoll_name(c[i]->kind), rounds, ircoll_name(c[held]->kind));
        tune_params best;
        int64_t t0 = bench_wall_ms();
        tune_set *ts = NULL;
        int trc = tune_set_new(ix[i], c[i], &ts);
        tune_opts to = {rounds, min_gain, risk};
        if (trc == 0 && folds > 1) { /* the risk weight chosen by cross-validation */
            static const double risks[] = {0, 0.5, 1, 2};
            double best_cv = -1;
            for (size_t k = 0; k < sizeof risks / sizeof *risks && trc == 0; k++) {
                tune_opts ko = {rounds, min_gain, risks[k]};
                double cv;
                trc = tune_cv(ts, folds, &ko, &cv);
                printf("  %d-fold cross-validation, risk %g: %.4f\n", folds, risks[k], cv);
                if (trc == 0 && cv > best_cv + 1e-9) {
                    best_cv = cv;
                    to.risk = risks[k];
                }
            }
        }
        if (trc == 0)
            trc = bags > 0 ? tune_bagged(ts, bags, &to, &best, stdout)
                           : tune_ascent(ts, NULL, &to, &best, stdout);
        if (trc == 0 && nse >= 0) {
            tune_params top = best;
            trc = tune_one_se(ts, &top, nse, &best, stdout);
        }
        size_t evals = ts ? tune_set_evals(ts) : 0;
        tune_set_free(ts);
        if (trc != 0) {
            fprintf(stderr, "souk-bench tune: tuning failed\n");
            rc = 1;
            break;
        }
        souk_eval_scores d0, t0s, d1, t1;
        if (tune_eval(ix[i], c[i], NULL, &d0) || tune_eval(ix[i], c[i], &best, &t0s) ||
            tune_eval(ix[held], c[held], NULL, &d1) || tune_eval(ix[held], c[held], &best, &t1)) {
            rc = 1;
            break;
        }
        char buf[256];
        tune_params_format(&best, buf, sizeof buf);
        printf("  %zu evaluations in %lld ms\n", evals, (long long)(bench_wall_ms() - t0));
        printf("  tuned on %s: %s\n", ircoll_name(c[i]->kind), buf);
        report("tuning collection", &d0, &t0s);
        report("held-out collection", &d1, &t1);
    }
    for (int i = 0; i < 2; i++) {
        souk_index_close(ix[i]);
        ircoll_free(c[i]);
    }
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", work);
    if (system(cmd) != 0)
        fprintf(stderr, "souk-bench tune: could not remove %s\n", work);
    return rc;
}
