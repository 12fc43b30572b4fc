/* test_souk_eval.c: the souk-eval program end to end on Cranfield and CACM. Each collection is
 * written as a catalog stream, TREC qrels and a topics file (tests/kit/ircoll.h), indexed by
 * souk-index, run by `souk-eval run` (top 1000) and evaluated by `souk-eval --json`:
 *   - the figures equal those of docs/benchmarks.md ("Relevance"), to their four decimals;
 *   - every query's AP, nDCG@k, P@k, Recall@k and RR, and the averages, agree to 1e-9 with an
 *     independent implementation (Python: its own file parsing and trec_eval ordering,
 *     scikit-learn's ndcg_score, AP, P@k, Recall@k and RR by hand), at k = 10 and k = 20;
 *   - the deltas between two runs (OR and AND) are the differences of the per-query values,
 *     sorted by impact;
 *   - malformed qrels and run lines are refused with the file and line, usage errors with 2. */
#include "check.h"
#include "kit/ircoll.h"
#include "souk/souk.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char tmp[256];

/* Runs cmd; returns its exit status (-1 when it did not exit). */
static int run(const char *cmd)
{
    int st = system(cmd);
    return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Runs cmd and returns its standard output (malloc'd), or NULL. *status gets the exit status. */
static char *capture(const char *cmd, int *status)
{
    FILE *p = popen(cmd, "r");
    if (!p)
        return NULL;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    REQUIRE(buf);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += n;
        if (cap - len < 4096) {
            cap *= 2;
            buf = realloc(buf, cap);
            REQUIRE(buf);
        }
    }
    buf[len] = '\0';
    int st = pclose(p);
    *status = st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return buf;
}

/* The independent implementation. It parses the two files itself, orders each query's run as
 * trec_eval does (score descending, ties by document id descending), gives the retrieved
 * documents distinct scores from that order, then: nDCG@k by sklearn.metrics.ndcg_score over the
 * retrieved documents, k unjudged fillers and the judged documents not retrieved (below the
 * fillers, so they never enter the top k but do enter the ideal); AP, P@k, Recall@k and RR by
 * hand. Prints "qid ndcg ap p recall rr" per query with a relevant judgement. */
static const char py_script[] =
    "import sys\n"
    "from sklearn.metrics import ndcg_score\n"
    "k = int(sys.argv[3])\n"
    "qrels, run = {}, {}\n"
    "for line in open(sys.argv[1]):\n"
    "    f = line.split()\n"
    "    if f: qrels.setdefault(f[0], {})[f[2]] = int(f[3])\n"
    "for line in open(sys.argv[2]):\n"
    "    f = line.split()\n"
    "    if f: run.setdefault(f[0], {})[f[2]] = float(f[4])\n"
    "for q in sorted(qrels):\n"
    "    rel = {d: g for d, g in qrels[q].items() if g > 0}\n"
    "    if not rel: continue\n"
    "    r = run.get(q, {})\n"
    "    ranked = sorted(r, key=lambda d: d, reverse=True)\n"
    "    ranked = sorted(ranked, key=lambda d: -r[d])\n"
    "    docs = list(ranked) + [\"#filler%d\" % i for i in range(k)]\n"
    "    docs += [d for d in sorted(qrels[q]) if d not in r]\n"
    "    yt = [[max(qrels[q].get(d, 0), 0) for d in docs]]\n"
    "    ys = [[float(len(docs) - i) for i in range(len(docs))]]\n"
    "    ndcg = ndcg_score(yt, ys, k=k)\n"
    "    hits, ap, rr, atk = 0, 0.0, 0.0, 0\n"
    "    for i, d in enumerate(ranked, 1):\n"
    "        if d in rel:\n"
    "            hits += 1\n"
    "            ap += hits / i\n"
    "            if hits == 1: rr = 1.0 / i\n"
    "            if i <= k: atk += 1\n"
    "    print(q, repr(ndcg), repr(ap / len(rel)), repr(atk / k), repr(atk / len(rel)), "
    "repr(rr))\n";

static const char *find_python(void)
{
    static const char *const cands[] = {"python3", "/usr/bin/python3"};
    for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "%s -c 'import sklearn.metrics' >/dev/null 2>&1", cands[i]);
        if (run(cmd) == 0)
            return cands[i];
    }
    return NULL;
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v)) {
        fprintf(stderr, "key '%s' missing or not a number\n", key);
        check_failures++;
        return NAN;
    }
    return v->valuedouble;
}

/* souk-eval --json on qrels and the runs; returns the parsed report. */
static cJSON *evaluate(const char *qrels, const char *runs, int k)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s/souk-eval' --json --k %d '%s' %s", SOUK_BIN_DIR, k, qrels, runs);
    int st;
    char *out = capture(cmd, &st);
    REQUIRE(out);
    CHECK(st == 0);
    cJSON *j = cJSON_Parse(out);
    if (!j)
        fprintf(stderr, "souk-eval output is not JSON: %.300s\n", out);
    REQUIRE(j);
    free(out);
    return j;
}

static const cJSON *find_qid(const cJSON *per_query, const char *qid)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, per_query)
    {
        const cJSON *q = cJSON_GetObjectItemCaseSensitive(it, "qid");
        if (cJSON_IsString(q) && strcmp(q->valuestring, qid) == 0)
            return it;
    }
    return NULL;
}

/* Every counted query of the run (first of the report) against the Python implementation. */
static void cross_check(const char *py, const char *qrels, const char *runfile, int k,
                        const cJSON *report)
{
    const cJSON *r0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(report, "runs"), 0);
    const cJSON *pq = cJSON_GetObjectItemCaseSensitive(r0, "per_query");
    REQUIRE(r0 && pq);
    static char cmd[sizeof py_script + 4096];
    snprintf(cmd, sizeof cmd, "%s -c '%s' '%s' '%s' %d", py, py_script, qrels, runfile, k);
    FILE *pp = popen(cmd, "r");
    REQUIRE(pp);
    char line[512];
    size_t nlines = 0, bad = 0;
    double sum[5] = {0};
    while (fgets(line, sizeof line, pp)) {
        char qid[64];
        double v[5]; /* ndcg ap p recall rr */
        if (sscanf(line, "%63s %lf %lf %lf %lf %lf", qid, &v[0], &v[1], &v[2], &v[3], &v[4]) != 6) {
            fprintf(stderr, "unexpected python output: %s", line);
            check_failures++;
            continue;
        }
        nlines++;
        for (int i = 0; i < 5; i++)
            sum[i] += v[i];
        const cJSON *q = find_qid(pq, qid);
        if (!q) {
            fprintf(stderr, "query %s missing from souk-eval's per_query\n", qid);
            check_failures++;
            continue;
        }
        static const char *const keys[5] = {"ndcg", "ap", "precision", "recall", "rr"};
        for (int i = 0; i < 5; i++) {
            double s = num(q, keys[i]);
            if (!(fabs(s - v[i]) <= 1e-9)) {
                if (bad++ < 10)
                    fprintf(stderr, "query %s %s@%d: souk-eval %.17g, python %.17g\n", qid, keys[i],
                            k, s, v[i]);
                check_failures++;
            }
        }
        CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(q, "counted")));
    }
    int st = pclose(pp);
    CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(nlines > 0 && (double)nlines == num(r0, "queries"));
    if (nlines) {
        static const char *const keys[5] = {"ndcg", "map", "precision", "recall", "mrr"};
        for (int i = 0; i < 5; i++)
            CHECK(fabs(num(r0, keys[i]) - sum[i] / (double)nlines) <= 1e-9);
    }
    printf("test_souk_eval: %s k=%d: %zu queries agree with python/sklearn to 1e-9\n", runfile, k,
           nlines);
}

/* The deltas of a two-run report: b - a of the per-query values, sorted by impact. */
static void check_deltas(const cJSON *report)
{
    const cJSON *runs = cJSON_GetObjectItemCaseSensitive(report, "runs");
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(runs, 0), "per_query");
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(runs, 1), "per_query");
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(report, "deltas"), "queries");
    REQUIRE(a && b && d);
    size_t n = 0, nonzero = 0;
    double prev = INFINITY, prev_ap = INFINITY;
    const cJSON *it;
    cJSON_ArrayForEach(it, d)
    {
        const char *qid = cJSON_GetObjectItemCaseSensitive(it, "qid")->valuestring;
        const cJSON *qa = find_qid(a, qid), *qb = find_qid(b, qid);
        REQUIRE(qa && qb);
        double dn = num(it, "ndcg"), dap = num(it, "ap");
        CHECK(fabs(dn - (num(qb, "ndcg") - num(qa, "ndcg"))) <= 1e-12);
        CHECK(fabs(dap - (num(qb, "ap") - num(qa, "ap"))) <= 1e-12);
        CHECK(fabs(num(it, "recall") - (num(qb, "recall") - num(qa, "recall"))) <= 1e-12);
        /* by impact: |nDCG| descending, then |AP| descending */
        CHECK(fabs(dn) < prev || (fabs(dn) == prev && fabs(dap) <= prev_ap));
        prev = fabs(dn);
        prev_ap = fabs(dap);
        nonzero += dn != 0;
        n++;
    }
    double counted = num(cJSON_GetArrayItem(runs, 0), "queries");
    CHECK((double)n == counted);
    CHECK(nonzero > 0); /* AND and OR rank differently */
    printf("test_souk_eval: %zu deltas (%zu with a change of nDCG), sorted by impact\n", n,
           nonzero);
}

/* Writes a collection's stream, qrels and topics, indexes it, writes the runs, evaluates them.
 * want_*: the figures of docs/benchmarks.md. */
static void collection(const char *name, const char *dirname, double want_map, double want_ndcg,
                       double want_p10, double want_mrr, size_t want_queries, const char *py)
{
    const char *base = shared_data(dirname);
    if (!base)
        return;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", base);
    ircoll_kind kind;
    REQUIRE(ircoll_kind_parse(name, &kind) == 0);
    ircoll *c = NULL;
    char err[512];
    REQUIRE(ircoll_load(kind, dir, &c, err, sizeof err) == 0);
    char nd[512], qrels[512], topics[512], data[512], run_or[512], run_and[512], cmd[8192];
    snprintf(nd, sizeof nd, "%s/%s.ndjson", tmp, name);
    snprintf(qrels, sizeof qrels, "%s/%s.qrels", tmp, name);
    snprintf(topics, sizeof topics, "%s/%s.topics", tmp, name);
    snprintf(data, sizeof data, "%s/%s-data", tmp, name);
    snprintf(run_or, sizeof run_or, "%s/%s-or.run", tmp, name);
    snprintf(run_and, sizeof run_and, "%s/%s-and.run", tmp, name);
    FILE *f = fopen(nd, "w");
    REQUIRE(f && ircoll_write_ndjson(c, f) == 0 && fclose(f) == 0);
    f = fopen(qrels, "w");
    REQUIRE(f && ircoll_write_qrels(c, f) == 0 && fclose(f) == 0);
    f = fopen(topics, "w");
    REQUIRE(f);
    for (size_t i = 0; i < c->nqueries; i++)
        fprintf(f, "%s %s\n", c->queries[i].id, c->queries[i].text);
    REQUIRE(fclose(f) == 0);
    snprintf(cmd, sizeof cmd,
             "'%s/souk-index' --data '%s' --schema '%s/indexer/schemas/ircoll.json' catalog '%s' "
             "--no-spelling --quiet >/dev/null",
             SOUK_BIN_DIR, data, SOUK_SOURCE_DIR, nd);
    REQUIRE(run(cmd) == 0);
    snprintf(cmd, sizeof cmd,
             "'%s/souk-eval' run --data '%s' --topics '%s' --depth 1000 --tag souk-or --out '%s'",
             SOUK_BIN_DIR, data, topics, run_or);
    REQUIRE(run(cmd) == 0);
    snprintf(cmd, sizeof cmd,
             "'%s/souk-eval' run --data '%s' --topics '%s' --and --tag souk-and > '%s'",
             SOUK_BIN_DIR, data, topics, run_and);
    REQUIRE(run(cmd) == 0);

    char runs[1100];
    snprintf(runs, sizeof runs, "'%s' '%s'", run_or, run_and);
    cJSON *rep = evaluate(qrels, runs, 10);
    const cJSON *r0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(rep, "runs"), 0);
    REQUIRE(r0);
    double map = num(r0, "map"), ndcg = num(r0, "ndcg"), p = num(r0, "precision"),
           mrr = num(r0, "mrr"), rec = num(r0, "recall");
    printf("test_souk_eval: %s: %g queries, MAP %.4f nDCG@10 %.4f P@10 %.4f Recall@10 %.4f "
           "MRR %.4f\n",
           name, num(r0, "queries"), map, ndcg, p, rec, mrr);
    /* docs/benchmarks.md prints four decimals. */
    CHECK(fabs(map - want_map) < 5e-5);
    CHECK(fabs(ndcg - want_ndcg) < 5e-5);
    CHECK(fabs(p - want_p10) < 5e-5);
    CHECK(fabs(mrr - want_mrr) < 5e-5);
    CHECK(num(r0, "queries") == (double)want_queries);
    CHECK(num(r0, "ndcg@10") == ndcg && num(r0, "p@10") == p);
    check_deltas(rep);
    if (py)
        cross_check(py, qrels, run_or, 10, rep);
    cJSON_Delete(rep);
    rep = evaluate(qrels, runs, 20);
    const cJSON *r20 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(rep, "runs"), 0);
    CHECK(num(r20, "map") == map && num(r20, "ndcg@10") == ndcg);
    CHECK(num(r20, "recall") >= rec); /* deeper cut-off, at least as many found */
    if (py) {
        cross_check(py, qrels, run_or, 20, rep);
        /* The AND run too, on its own (its own file first). */
        cJSON *ra = evaluate(qrels, run_and, 20);
        cross_check(py, qrels, run_and, 20, ra);
        cJSON_Delete(ra);
    }
    cJSON_Delete(rep);
    /* The text report names every run and the deltas. */
    snprintf(cmd, sizeof cmd, "'%s/souk-eval' --per-query '%s' %s", SOUK_BIN_DIR, qrels, runs);
    int st;
    char *txt = capture(cmd, &st);
    REQUIRE(txt);
    CHECK(st == 0 && strstr(txt, "MAP") && strstr(txt, "per-query deltas") && strstr(txt, run_and));
    char first[128];
    snprintf(first, sizeof first, "%.4f", map);
    CHECK(strstr(txt, first) != NULL);
    free(txt);
    ircoll_free(c);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    REQUIRE(f);
    fputs(text, f);
    REQUIRE(fclose(f) == 0);
}

/* A command that must exit with want and print needle on stderr. */
static void expect_failure(const char *args, int want, const char *needle)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s/souk-eval' %s 2>&1 >/dev/null", tmp, SOUK_BIN_DIR,
             args);
    int st;
    char *out = capture(cmd, &st);
    REQUIRE(out);
    if (st != want || !strstr(out, needle)) {
        fprintf(stderr, "souk-eval %s: exit %d (want %d), stderr '%s' (want '%s')\n", args, st,
                want, out, needle);
        check_failures++;
    }
    free(out);
}

static void malformed(void)
{
    char p[600];
    snprintf(p, sizeof p, "%s/good.qrels", tmp);
    write_text(p, "1 0 d1 2\n1 0 d2 0\n");
    snprintf(p, sizeof p, "%s/good.run", tmp);
    write_text(p, "1 Q0 d1 1 2.5 t\n1 Q0 d2 2 1.5 t\n");
    snprintf(p, sizeof p, "%s/short.qrels", tmp);
    write_text(p, "1 0 d1 2\n\n1 0 d2\n");
    snprintf(p, sizeof p, "%s/grade.qrels", tmp);
    write_text(p, "1 0 d1 2\n1 0 d2 high\n");
    snprintf(p, sizeof p, "%s/five.run", tmp);
    write_text(p, "1 Q0 d1 1 2.5 t\n1 Q0 d2 2 1.5\n");
    snprintf(p, sizeof p, "%s/score.run", tmp);
    write_text(p, "1 Q0 d1 1 2.5 t\n1 Q0 d2 2 1.5 t\n1 Q0 d3 3 x1 t\n");
    snprintf(p, sizeof p, "%s/dup.run", tmp);
    write_text(p, "1 Q0 d1 1 2.5 t\n1 Q0 d1 2 1.5 t\n");
    snprintf(p, sizeof p, "%s/big.run", tmp);
    write_text(p, "1 Q0 d1 1 2.5 t\n1 Q0 d7 2 1.5 t\n1 Q0 d8 3 1 t\n");
    snprintf(p, sizeof p, "%s/notopic.topics", tmp);
    write_text(p, "1 first query\n2\n");
    expect_failure("short.qrels good.run", 1, "short.qrels:3: expected 4 fields");
    expect_failure("grade.qrels good.run", 1, "grade.qrels:2: grade 'high' is not an integer");
    expect_failure("good.qrels five.run", 1, "five.run:2: expected 6 fields");
    expect_failure("good.qrels score.run", 1, "score.run:3: score 'x1' is not a number");
    expect_failure("good.qrels dup.run", 1, "dup.run:2: document 'd1' appears twice");
    expect_failure("good.qrels missing.run", 1, "cannot open 'missing.run'");
    /* The memory bound: 2 judged + 3 ranked pairs (d1 shared) = 4 > 3. */
    expect_failure("--max-pairs 3 good.qrels big.run", 1,
                   "big.run:3: more than 3 judged or ranked documents");
    expect_failure("--k 0 good.qrels good.run", 2, "--k must be an integer from 1 to 10000");
    expect_failure("--ties up good.qrels good.run", 2, "--ties must be trec or asc");
    expect_failure("--frobnicate good.qrels good.run", 2, "unknown option '--frobnicate'");
    expect_failure("good.qrels", 2, "usage: souk-eval");
    expect_failure("run --topics notopic.topics", 2, "usage: souk-eval");
    expect_failure("run --data nowhere --topics notopic.topics --depth 0", 2,
                   "--depth must be an integer from 1 to 100000");
    /* A good pair still evaluates: d1 (grade 2) first. */
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s/souk-eval' --json good.qrels good.run", tmp,
             SOUK_BIN_DIR);
    int st;
    char *out = capture(cmd, &st);
    REQUIRE(out);
    CHECK(st == 0 && strstr(out, "\"map\":1,") && strstr(out, "\"mrr\":1"));
    free(out);
}

int main(void)
{
    souk_alloc_init();
    const char *tbase = getenv("TMPDIR");
    snprintf(tmp, sizeof tmp, "%s/souk-test-souk-eval-XXXXXX", tbase && *tbase ? tbase : "/tmp");
    REQUIRE(mkdtemp(tmp));
    malformed();
    const char *py = find_python();
    if (!py)
        skip_part("cross-check: python3 with sklearn is not importable "
                  "(apt-get install python3-sklearn)");
    /* docs/benchmarks.md, "Relevance": Souk on the top 1,000. */
    collection("cranfield", "ir/cranfield", 0.2868, 0.3512, 0.2244, 0.5247, 225, py);
    collection("cacm", "ir/cacm", 0.3190, 0.4581, 0.2904, 0.7295, 52, py);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    CHECK(run(cmd) == 0);
    return check_done("test_souk_eval");
}
