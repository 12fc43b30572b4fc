/* test_rank_tune.c: the relevance target of the ranking-profile signals (docs/benchmarks.md).
 * The profiles `souk-bench tune` found on one collection (tests/rank_tune_profiles.txt) are
 * evaluated on the other, held-out collection against the default BM25:
 *   - tuned on Cranfield, on CACM: MAP and nDCG@10 each at least 5% better (the target);
 *   - tuned on CACM, on Cranfield: MAP at least 5% better, nDCG@10 better than the default
 *     (the target is not met for nDCG@10 in this direction: +4.3%; docs/benchmarks.md);
 * and on each tuning collection, the tuned profile beats each of its signals switched off
 * (BM25F field weights, proximity, stop words, k1 and b back to the default; those it uses),
 * so a signal that stops working fails here; and `souk-bench tune --tune-on cacm` still finds
 * the CACM profile of the file, so the file is the method's result and not a stale one. */
#include "check.h"
#include "ircoll.h"
#include "tune.h"
#include "souk/souk.h"

#include <stdlib.h>
#include <string.h>

static char tmp[] = "/tmp/souk-test-rank-tune-XXXXXX";

static double objective(const souk_eval_scores *s)
{
    return (s->map + s->ndcg10) / 2;
}

/* Runs `souk-bench tune --tune-on cacm` (the method itself, through the program) and returns
 * in line the parameters it printed after "tuned on cacm: ". */
static int bench_tuned_on_cacm(char *line, size_t size)
{
    char cmd[4400], buf[1024];
    REQUIRE(snprintf(cmd, sizeof cmd, "nice -n 19 '%s/souk-bench' tune --tune-on cacm 2>&1",
                     SOUK_BIN_DIR) < (int)sizeof cmd);
    FILE *f = popen(cmd, "r");
    REQUIRE(f);
    int found = 0;
    const char *tag = "  tuned on cacm: ";
    while (fgets(buf, sizeof buf, f)) {
        if (strncmp(buf, tag, strlen(tag)) == 0) {
            buf[strcspn(buf, "\n")] = '\0';
            found = snprintf(line, size, "%s", buf + strlen(tag)) < (int)size;
        }
    }
    int st = pclose(f);
    return found && st == 0 ? 0 : -1;
}

static int read_profile(const char *name, tune_params *p)
{
    char path[4096], line[512];
    snprintf(path, sizeof path, "%s/tests/rank_tune_profiles.txt", SOUK_SOURCE_DIR);
    FILE *f = fopen(path, "r");
    REQUIRE(f);
    int found = 0;
    size_t nl = strlen(name);
    while (!found && fgets(line, sizeof line, f))
        if (strncmp(line, name, nl) == 0 && line[nl] == ' ')
            found = tune_params_parse(line + nl + 1, p) == 0;
    fclose(f);
    return found ? 0 : -1;
}

int main(void)
{
    souk_alloc_init();
    REQUIRE(mkdtemp(tmp));
    const char *rel[2] = {"ir/cranfield", "ir/cacm"};
    ircoll_kind kinds[2] = {IRCOLL_CRANFIELD, IRCOLL_CACM};
    ircoll *c[2] = {NULL, NULL};
    souk_index *ix[2] = {NULL, NULL};
    char err[512], dir[4096];
    int absent = 0;
    for (int i = 0; i < 2; i++) {
        const char *d = shared_data(rel[i]);
        if (!d) {
            absent = 1;
            continue;
        }
        snprintf(dir, sizeof dir, "%s", d);
        REQUIRE(ircoll_load(kinds[i], dir, &c[i], err, sizeof err) == 0);
        snprintf(dir, sizeof dir, "%s/%s", tmp, ircoll_name(kinds[i]));
        REQUIRE(tune_index(c[i], dir, &ix[i], err, sizeof err) == 0);
    }
    for (int i = 0; !absent && i < 2; i++) {
        int held = 1 - i;
        tune_params p;
        REQUIRE(read_profile(ircoll_name(kinds[i]), &p) == 0);
        souk_eval_scores d, t;
        REQUIRE(tune_eval(ix[held], c[held], NULL, &d) == 0);
        REQUIRE(tune_eval(ix[held], c[held], &p, &t) == 0);
        double gmap = t.map / d.map - 1, gndcg = t.ndcg10 / d.ndcg10 - 1;
        printf("test_rank_tune: tuned on %s, on %s: MAP %.4f -> %.4f (%+.1f%%), nDCG@10 %.4f -> "
               "%.4f (%+.1f%%)\n",
               ircoll_name(kinds[i]), ircoll_name(kinds[held]), d.map, t.map, 100 * gmap, d.ndcg10,
               t.ndcg10, 100 * gndcg);
        if (kinds[i] == IRCOLL_CRANFIELD) {
            CHECK(gmap >= 0.05);
            CHECK(gndcg >= 0.05);
        } else {
            CHECK(gmap >= 0.05);
            CHECK(gndcg > 0);
        }
        /* Each signal earns its place on the tuning collection. */
        souk_eval_scores full;
        REQUIRE(tune_eval(ix[i], c[i], &p, &full) == 0);
        tune_params off[4] = {p, p, p, p};
        off[0].prox = 0;
        off[1].stop = 0;
        off[2].k1 = 1.0;
        off[2].b = 0.5;
        off[3].fields = 0;
        static const char *names[4] = {"proximity", "stop words", "k1 and b", "field weights"};
        const int on[4] = {p.prox != 0, p.stop != 0, p.k1 != 1.0 || p.b != 0.5, p.fields != 0};
        int used = 0;
        for (int k = 0; k < 4; k++) {
            if (!on[k])
                continue;
            used++;
            souk_eval_scores a;
            REQUIRE(tune_eval(ix[i], c[i], &off[k], &a) == 0);
            printf("test_rank_tune: on %s without %s: MAP %.4f nDCG@10 %.4f (tuned %.4f %.4f)\n",
                   ircoll_name(kinds[i]), names[k], a.map, a.ndcg10, full.map, full.ndcg10);
            CHECK(objective(&full) > objective(&a));
        }
        CHECK(used >= 3);
    }
    if (!absent) { /* the file is what the method finds now (CACM: the quicker of the two) */
        char line[1024], want[256];
        tune_params p;
        REQUIRE(read_profile("cacm", &p) == 0);
        tune_params_format(&p, want, sizeof want);
        REQUIRE(bench_tuned_on_cacm(line, sizeof line) == 0);
        printf("test_rank_tune: souk-bench tune --tune-on cacm: %s\n", line);
        CHECK(strcmp(line, want) == 0);
    }
    for (int i = 0; i < 2; i++) {
        souk_index_close(ix[i]);
        ircoll_free(c[i]);
    }
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmp);
    if (!check_failures && absent) {
        fprintf(stderr, "test_rank_tune: SKIP: the IR collections are absent\n");
        return TEST_SKIP;
    }
    return check_done("test_rank_tune");
}
