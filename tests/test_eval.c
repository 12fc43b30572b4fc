/* test_eval.c: the relevance evaluator (souk/eval.h). Hand-computed cases for each metric (ties,
 * unjudged documents, queries without relevant documents, missing and empty runs, cut-offs, the
 * configurable k of nDCG@k, P@k and Recall@k, per-query deltas, the pair bound),
 * TREC file loading and its error messages, and a cross-check of nDCG@10, AP, P@10 and RR on
 * random runs against scikit-learn's ndcg_score and a small pure-Python implementation. */
#include "check.h"
#include "souk/eval.h"
#include "souk/souk.h"

#include <math.h>
#include <stdint.h>
#include <sys/wait.h>

#define EPS 1e-12

static int close_to(double a, double b, double eps)
{
    return fabs(a - b) <= eps;
}

#define CHECK_NEAR(a, b)                                                                           \
    do {                                                                                           \
        double a_ = (a), b_ = (b);                                                                 \
        if (!close_to(a_, b_, EPS)) {                                                              \
            fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%.17g != %.17g)\n", __FILE__,          \
                    __LINE__, #a, #b, a_, b_);                                                     \
            check_failures++;                                                                      \
        }                                                                                          \
    } while (0)

static souk_eval_query get_query(const souk_eval *e, const char *qid)
{
    souk_eval_query q = {0};
    int rc = souk_eval_query_find(e, qid, &q);
    if (rc) {
        fprintf(stderr, "query '%s' not found (%d)\n", qid, rc);
        check_failures++;
    }
    return q;
}

/* The evaluator of the main hand-computed case, filled through the API. */
static souk_eval *case_basic(void)
{
    souk_eval *e = souk_eval_new();
    REQUIRE(e);
    /* Query 1: three relevant documents (d1 grade 3, d2 grade 1, d3 grade 2), d4 judged
     * non-relevant (grade 0) and d9 judged -1 (non-relevant, never retrieved). */
    REQUIRE(souk_eval_judge(e, "1", "d1", 3) == 0);
    REQUIRE(souk_eval_judge(e, "1", "d2", 1) == 0);
    REQUIRE(souk_eval_judge(e, "1", "d3", 2) == 0);
    REQUIRE(souk_eval_judge(e, "1", "d4", 0) == 0);
    REQUIRE(souk_eval_judge(e, "1", "d9", -1) == 0);
    /* Run of query 1, added out of order: d4 0.9, d1 0.8, d5 0.7 (unjudged), d2 0.6. */
    REQUIRE(souk_eval_result(e, "1", "d2", 0.6) == 0);
    REQUIRE(souk_eval_result(e, "1", "d4", 0.9) == 0);
    REQUIRE(souk_eval_result(e, "1", "d5", 0.7) == 0);
    REQUIRE(souk_eval_result(e, "1", "d1", 0.8) == 0);
    /* Query 2: one relevant document, but no run at all. */
    REQUIRE(souk_eval_judge(e, "2", "d1", 1) == 0);
    /* Query 3: judged, but nothing relevant; it has a run. */
    REQUIRE(souk_eval_judge(e, "3", "d7", 0) == 0);
    REQUIRE(souk_eval_result(e, "3", "d7", 0.5) == 0);
    /* Query 4: only in the run. */
    REQUIRE(souk_eval_result(e, "4", "d1", 1.0) == 0);
    return e;
}

static void check_basic(souk_eval *e)
{
    souk_eval_scores s;
    REQUIRE(souk_eval_compute(e, &s) == 0);
    /* Query 1 ranking: 1 d4 (non-rel), 2 d1 (grade 3), 3 d5 (unjudged), 4 d2 (grade 1); d3 is
     * not retrieved. R = 3.
     *   AP   = (P@2 + P@4) / R = (1/2 + 2/4) / 3 = 1/3
     *   P@10 = 2 / 10 = 0.2
     *   RR   = 1/2 (first relevant at rank 2)
     *   DCG@10  = 3 / log2(3) + 1 / log2(5)                      (ranks 2 and 4)
     *   IDCG@10 = 3 / log2(2) + 2 / log2(3) + 1 / log2(4) = 3.5 + 2 / log2(3)
     *   nDCG@10 = (1.8927892607 + 0.4306765581) / (3.5 + 1.2618595071) = 0.4879331... */
    double ndcg1 = (3 / log2(3) + 1 / log2(5)) / (3.5 + 2 / log2(3));
    CHECK(close_to(ndcg1, 0.48793, 1e-5));
    souk_eval_query q = get_query(e, "1");
    CHECK_NEAR(q.ap, 1.0 / 3);
    CHECK_NEAR(q.p10, 0.2);
    CHECK_NEAR(q.rr, 0.5);
    CHECK_NEAR(q.ndcg10, ndcg1);
    CHECK_EQ_U64(q.nrel, 3);
    CHECK_EQ_U64(q.nret, 4);
    CHECK_EQ_U64(q.nrel_ret, 2);
    CHECK(q.counted == 1);
    /* Query 2: relevant documents but no run: 0 on every metric, and counted. */
    q = get_query(e, "2");
    CHECK(q.counted == 1 && q.ap == 0 && q.ndcg10 == 0 && q.p10 == 0 && q.rr == 0);
    CHECK_EQ_U64(q.nret, 0);
    /* Queries 3 (nothing relevant) and 4 (no judgements) are reported but not counted. */
    q = get_query(e, "3");
    CHECK(q.counted == 0 && q.nrel == 0 && q.nret == 1 && q.ap == 0 && q.ndcg10 == 0);
    q = get_query(e, "4");
    CHECK(q.counted == 0 && q.nrel == 0 && q.nret == 1);
    /* Averages over queries 1 and 2:
     *   MAP = (1/3 + 0) / 2 = 1/6, P@10 = (0.2 + 0) / 2 = 0.1, MRR = (0.5 + 0) / 2 = 0.25,
     *   nDCG@10 = (0.4879331 + 0) / 2. */
    CHECK_EQ_U64(s.nqueries, 2);
    CHECK_NEAR(s.map, 1.0 / 6);
    CHECK_NEAR(s.p10, 0.1);
    CHECK_NEAR(s.mrr, 0.25);
    CHECK_NEAR(s.ndcg10, ndcg1 / 2);
    /* Per-query listing: every qid, in numeric order. */
    CHECK_EQ_U64(souk_eval_nqueries(e), 4);
    const char *want[] = {"1", "2", "3", "4"};
    for (size_t i = 0; i < 4; i++) {
        souk_eval_query r;
        CHECK(souk_eval_query_at(e, i, &r) == 0 && strcmp(r.qid, want[i]) == 0);
    }
    souk_eval_query r;
    CHECK(souk_eval_query_at(e, 4, &r) == SOUK_EINVAL);
    CHECK(souk_eval_query_find(e, "5", &r) == SOUK_ENOTFOUND);
}

static void test_ties(void)
{
    souk_eval *e = souk_eval_new();
    REQUIRE(e);
    /* One relevant document "a" (grade 1); "a", "b", "c" tie at 1.0 and "d" (non-relevant)
     * scores 2.0, so "d" is first either way. */
    REQUIRE(souk_eval_judge(e, "t", "a", 1) == 0);
    REQUIRE(souk_eval_judge(e, "t", "d", 0) == 0);
    REQUIRE(souk_eval_result(e, "t", "b", 1.0) == 0);
    REQUIRE(souk_eval_result(e, "t", "a", 1.0) == 0);
    REQUIRE(souk_eval_result(e, "t", "d", 2.0) == 0);
    REQUIRE(souk_eval_result(e, "t", "c", 1.0) == 0);
    /* trec_eval order, ties by docid descending: d, c, b, a. "a" is at rank 4:
     *   AP = (1/4) / 1 = 0.25, RR = 0.25, P@10 = 0.1, nDCG@10 = (1 / log2(5)) / (1 / log2(2))
     *   = 0.4306765581 */
    souk_eval_scores s;
    REQUIRE(souk_eval_compute(e, &s) == 0);
    CHECK_EQ_U64(s.nqueries, 1);
    CHECK_NEAR(s.map, 0.25);
    CHECK_NEAR(s.mrr, 0.25);
    CHECK_NEAR(s.p10, 0.1);
    CHECK_NEAR(s.ndcg10, 1 / log2(5));
    /* Ascending docids: d, a, b, c. "a" at rank 2: AP = RR = 0.5, nDCG@10 = 1 / log2(3). */
    CHECK(souk_eval_set_ties(e, SOUK_EVAL_TIES_DOCID_ASC) == 0);
    REQUIRE(souk_eval_compute(e, &s) == 0);
    CHECK_NEAR(s.map, 0.5);
    CHECK_NEAR(s.mrr, 0.5);
    CHECK_NEAR(s.p10, 0.1);
    CHECK_NEAR(s.ndcg10, 1 / log2(3));
    CHECK(souk_eval_set_ties(e, (souk_eval_ties)7) == SOUK_EINVAL);
    souk_eval_free(e);
}

static void test_cutoffs(void)
{
    souk_eval *e = souk_eval_new();
    REQUIRE(e);
    char doc[32];
    /* Query "p": 12 relevant documents (grade 2) ranked 1..12, a perfect run:
     *   AP = 12 * 1 / 12 = 1, P@10 = 10 / 10 = 1, RR = 1, nDCG@10 = 1 (DCG = IDCG). */
    for (int i = 0; i < 12; i++) {
        snprintf(doc, sizeof doc, "r%02d", i);
        REQUIRE(souk_eval_judge(e, "p", doc, 2) == 0);
        REQUIRE(souk_eval_result(e, "p", doc, 100.0 - i) == 0);
    }
    /* Query "late": ten unjudged documents first, then the only relevant one (grade 3) at rank
     * 11: AP = (1/11) / 1, RR = 1/11, P@10 = 0, nDCG@10 = 0 (beyond the cut-off). */
    for (int i = 0; i < 10; i++) {
        snprintf(doc, sizeof doc, "u%02d", i);
        REQUIRE(souk_eval_result(e, "late", doc, -1.0 - i) == 0);
    }
    REQUIRE(souk_eval_judge(e, "late", "rel", 3) == 0);
    REQUIRE(souk_eval_result(e, "late", "rel", -20.0) == 0);
    /* Query "ideal": relevant grades 1, 4, 2 with the run in the order grade 1, 2, 4:
     *   DCG  = 1 / log2(2) + 2 / log2(3) + 4 / log2(4) = 1 + 1.2618595071 + 2 = 4.2618595071
     *   IDCG = 4 / log2(2) + 2 / log2(3) + 1 / log2(4) = 4 + 1.2618595071 + 0.5 = 5.7618595071
     *   nDCG@10 = 0.7396676... AP = (1 + 1 + 1) / 3 = 1 (all at the top), P@10 = 0.3. */
    REQUIRE(souk_eval_judge(e, "ideal", "x", 1) == 0);
    REQUIRE(souk_eval_judge(e, "ideal", "y", 4) == 0);
    REQUIRE(souk_eval_judge(e, "ideal", "z", 2) == 0);
    REQUIRE(souk_eval_result(e, "ideal", "x", 3) == 0);
    REQUIRE(souk_eval_result(e, "ideal", "z", 2) == 0);
    REQUIRE(souk_eval_result(e, "ideal", "y", 1) == 0);
    souk_eval_scores s;
    REQUIRE(souk_eval_compute(e, &s) == 0);
    souk_eval_query q = get_query(e, "p");
    CHECK_NEAR(q.ap, 1);
    CHECK_NEAR(q.p10, 1);
    CHECK_NEAR(q.rr, 1);
    CHECK_NEAR(q.ndcg10, 1);
    q = get_query(e, "late");
    CHECK_NEAR(q.ap, 1.0 / 11);
    CHECK_NEAR(q.rr, 1.0 / 11);
    CHECK_NEAR(q.p10, 0);
    CHECK_NEAR(q.ndcg10, 0);
    q = get_query(e, "ideal");
    double ndcg = (1 + 2 / log2(3) + 2) / (4 + 2 / log2(3) + 0.5);
    CHECK(close_to(ndcg, 0.73967, 1e-5));
    CHECK_NEAR(q.ndcg10, ndcg);
    CHECK_NEAR(q.ap, 1);
    CHECK_NEAR(q.p10, 0.3);
    /* Means over the three: MAP = (1 + 1/11 + 1) / 3, MRR the same, P@10 = (1 + 0 + 0.3) / 3,
     * nDCG@10 = (1 + 0 + 0.7396676) / 3. */
    CHECK_EQ_U64(s.nqueries, 3);
    CHECK_NEAR(s.map, (2 + 1.0 / 11) / 3);
    CHECK_NEAR(s.mrr, (2 + 1.0 / 11) / 3);
    CHECK_NEAR(s.p10, 1.3 / 3);
    CHECK_NEAR(s.ndcg10, (1 + ndcg) / 3);
    souk_eval_free(e);
}

/* The configurable cut-off k (nDCG@k, P@k, Recall@k), the deltas between two evaluators and the
 * pair bound, on the basic case by hand. */
static void test_k_and_deltas(void)
{
    souk_eval *a = case_basic();
    souk_eval_scores s;
    /* Default k = 10: nDCG@k and P@k are nDCG@10 and P@10; query 1 found 2 of its 3 relevant
     * documents in its top 10: Recall@10 = 2/3; query 2 none: 0. */
    REQUIRE(souk_eval_compute(a, &s) == 0);
    CHECK(s.k == 10);
    CHECK_NEAR(s.ndcg_k, s.ndcg10);
    CHECK_NEAR(s.p_k, s.p10);
    CHECK_NEAR(s.recall_k, (2.0 / 3) / 2);
    /* k = 3: ranking d4, d1 (grade 3), d5; one relevant in the top 3 of R = 3:
     *   P@3 = 1/3, Recall@3 = 1/3, nDCG@3 = (3 / log2(3)) / (3 + 2 / log2(3) + 1 / log2(4)).
     * MAP, MRR, nDCG@10 and P@10 do not move. */
    double map10 = s.map, ndcg10 = s.ndcg10;
    CHECK(souk_eval_set_k(a, 3) == 0);
    REQUIRE(souk_eval_compute(a, &s) == 0);
    souk_eval_query q = get_query(a, "1");
    CHECK_NEAR(q.p_k, 1.0 / 3);
    CHECK_NEAR(q.recall_k, 1.0 / 3);
    CHECK_NEAR(q.ndcg_k, (3 / log2(3)) / (3.5 + 2 / log2(3)));
    CHECK(s.k == 3 && s.map == map10 && s.ndcg10 == ndcg10);
    CHECK_NEAR(s.recall_k, 1.0 / 6);
    /* k = 1: the first document is not relevant. */
    CHECK(souk_eval_set_k(a, 1) == 0);
    REQUIRE(souk_eval_compute(a, &s) == 0);
    q = get_query(a, "1");
    CHECK(q.p_k == 0 && q.recall_k == 0 && q.ndcg_k == 0);
    CHECK(souk_eval_set_k(a, 0) == SOUK_EINVAL);
    CHECK(souk_eval_set_k(a, SOUK_EVAL_MAX_K + 1) == SOUK_EINVAL);

    /* Deltas: b has the same judgements and a perfect run for query 1 (d1, d3, d2 by grade):
     * AP 1, nDCG@10 1; query 2 still has no run. Queries 3 and 4 count in neither. */
    souk_eval *b = souk_eval_new();
    REQUIRE(b);
    REQUIRE(souk_eval_judge(b, "1", "d1", 3) == 0 && souk_eval_judge(b, "1", "d2", 1) == 0 &&
            souk_eval_judge(b, "1", "d3", 2) == 0 && souk_eval_judge(b, "2", "d1", 1) == 0 &&
            souk_eval_judge(b, "3", "d7", 0) == 0);
    REQUIRE(souk_eval_result(b, "1", "d1", 3) == 0 && souk_eval_result(b, "1", "d3", 2) == 0 &&
            souk_eval_result(b, "1", "d2", 1) == 0);
    REQUIRE(souk_eval_compute(b, NULL) == 0);
    souk_eval_delta *d = NULL;
    size_t n = 0;
    CHECK(souk_eval_deltas(a, b, &d, &n) == SOUK_EINVAL); /* a is at k = 1 */
    CHECK(souk_eval_set_k(a, 10) == 0);
    REQUIRE(souk_eval_compute(a, NULL) == 0);
    REQUIRE(souk_eval_deltas(a, b, &d, &n) == 0);
    CHECK_EQ_U64(n, 2);
    double ndcg1 = (3 / log2(3) + 1 / log2(5)) / (3.5 + 2 / log2(3));
    if (n == 2) {
        CHECK(strcmp(d[0].qid, "1") == 0 && strcmp(d[1].qid, "2") == 0);
        CHECK_NEAR(d[0].ndcg_k, 1 - ndcg1);
        CHECK_NEAR(d[0].ap, 1 - 1.0 / 3);
        CHECK_NEAR(d[0].recall_k, 1 - 2.0 / 3);
        CHECK_NEAR(d[0].rr, 0.5);
        CHECK_NEAR(d[0].ap_a, 1.0 / 3);
        CHECK(d[1].ndcg_k == 0 && d[1].ap == 0);
    }
    souk_free(d);
    /* The other way round: the same queries, negated, same order. */
    REQUIRE(souk_eval_deltas(b, a, &d, &n) == 0);
    CHECK(n == 2 && strcmp(d[0].qid, "1") == 0);
    if (n == 2)
        CHECK_NEAR(d[0].ndcg_k, ndcg1 - 1);
    souk_free(d);
    souk_eval_free(a);
    souk_eval_free(b);

    /* The pair bound: three pairs fit, the fourth is refused; a pair already held is not new. */
    souk_eval *e = souk_eval_new();
    REQUIRE(e && souk_eval_set_max_pairs(e, 3) == 0);
    CHECK(souk_eval_judge(e, "q", "a", 1) == 0);
    CHECK(souk_eval_judge(e, "q", "b", 1) == 0);
    CHECK(souk_eval_result(e, "q", "a", 1.0) == 0);
    CHECK(souk_eval_result(e, "q", "c", 0.5) == 0);
    CHECK(souk_eval_result(e, "q", "d", 0.2) == SOUK_ETOOBIG);
    CHECK(souk_eval_judge(e, "r", "a", 1) == SOUK_ETOOBIG);
    souk_eval_free(e);
}

static void test_empty(void)
{
    /* Nothing at all: no query counts, every average is 0. */
    souk_eval *e = souk_eval_new();
    REQUIRE(e);
    souk_eval_scores s = {.map = 1, .ndcg10 = 1, .p10 = 1, .mrr = 1, .nqueries = 9};
    REQUIRE(souk_eval_compute(e, &s) == 0);
    CHECK(s.nqueries == 0 && s.map == 0 && s.ndcg10 == 0 && s.p10 == 0 && s.mrr == 0);
    CHECK_EQ_U64(souk_eval_nqueries(e), 0);
    /* Qrels but an empty run: two queries with relevant documents, both 0. */
    REQUIRE(souk_eval_judge(e, "1", "a", 1) == 0);
    REQUIRE(souk_eval_judge(e, "2", "b", 2) == 0);
    REQUIRE(souk_eval_compute(e, &s) == 0);
    CHECK(s.nqueries == 2 && s.map == 0 && s.ndcg10 == 0 && s.p10 == 0 && s.mrr == 0);
    /* A run but no qrels: nothing counts. */
    souk_eval_free(e);
    e = souk_eval_new();
    REQUIRE(e);
    REQUIRE(souk_eval_result(e, "1", "a", 1) == 0);
    REQUIRE(souk_eval_compute(e, &s) == 0);
    CHECK(s.nqueries == 0 && s.map == 0);
    CHECK_EQ_U64(souk_eval_nqueries(e), 1);
    souk_eval_free(e);
    souk_eval_free(NULL);
}

static void test_api_errors(void)
{
    souk_eval *e = souk_eval_new();
    REQUIRE(e);
    CHECK(souk_eval_judge(e, NULL, "d", 1) == SOUK_EINVAL);
    CHECK(souk_eval_judge(e, "q", "", 1) == SOUK_EINVAL);
    CHECK(souk_eval_result(e, "q", "d", NAN) == SOUK_EINVAL);
    CHECK(souk_eval_judge(e, "q", "d", 1) == 0);
    CHECK(souk_eval_judge(e, "q", "d", 2) == SOUK_EINVAL);  /* judged twice */
    CHECK(souk_eval_result(e, "q", "d", 1) == 0);           /* judged and ranked: fine */
    CHECK(souk_eval_result(e, "q", "d", 2) == SOUK_EINVAL); /* ranked twice */
    CHECK(souk_eval_result(e, "q2", "d", 2) == 0);          /* same docid, other query */
    souk_eval_query q;
    CHECK(souk_eval_query_at(e, 0, &q) == SOUK_EINVAL); /* nothing computed yet */
    /* Many documents and queries, to grow the tables. */
    char qid[16], doc[16];
    for (int i = 0; i < 5000; i++) {
        snprintf(qid, sizeof qid, "%d", i % 37);
        snprintf(doc, sizeof doc, "doc%d", i);
        REQUIRE(souk_eval_judge(e, qid, doc, i % 3) == 0);
        REQUIRE(souk_eval_result(e, qid, doc, (double)(i % 101)) == 0);
    }
    souk_eval_scores s;
    REQUIRE(souk_eval_compute(e, &s) == 0);
    CHECK_EQ_U64(souk_eval_nqueries(e), 39);
    CHECK_EQ_U64(s.nqueries, 38);
    CHECK(s.map > 0 && s.map <= 1 && s.ndcg10 > 0 && s.ndcg10 <= 1);
    souk_eval_free(e);
}

/* ------------------------------------------------------------------ files */

static char tmpdir[256];

static void write_file(const char *name, const char *text, char *path, size_t pathlen)
{
    snprintf(path, pathlen, "%s/%s", tmpdir, name);
    FILE *fp = fopen(path, "w");
    REQUIRE(fp);
    fputs(text, fp);
    REQUIRE(fclose(fp) == 0);
}

static void expect_load_error(int run, const char *text, int want_rc, const char *needle)
{
    char path[512], err[512] = "";
    write_file(run ? "bad.run" : "bad.qrels", text, path, sizeof path);
    souk_eval *e = souk_eval_new();
    REQUIRE(e);
    int rc = run ? souk_eval_load_run(e, path, err, sizeof err)
                 : souk_eval_load_qrels(e, path, err, sizeof err);
    CHECK(rc == want_rc);
    if (!strstr(err, needle)) {
        fprintf(stderr, "load error '%s' does not mention '%s'\n", err, needle);
        check_failures++;
    }
    souk_eval_free(e);
    unlink(path);
}

static void test_files(void)
{
    /* The basic case again, from TREC files: tabs, CRLF, trailing spaces, a blank line, and
     * rank columns that contradict the scores (they are ignored). */
    char qrels[512], run[512], err[512] = "";
    write_file("basic.qrels",
               "1 0 d1 3\n1\t0\td2\t1\r\n1 0 d3 2   \n\n1 0 d4 0\n1 0 d9 -1\n2 0 d1 1\n"
               "3 0 d7 0",
               qrels, sizeof qrels);
    write_file("basic.run",
               "1 Q0 d2 1 0.6 tag\r\n1 Q0 d4 2 9e-1 tag\n  1 Q0 d5 3 0.7 tag\n"
               "1 Q0 d1 4 0.8 tag\n\r\n3 Q0 d7 1 0.5 tag\n4 Q0 d1 1 1 tag\n",
               run, sizeof run);
    souk_eval *e = souk_eval_new();
    REQUIRE(e);
    int rc = souk_eval_load_qrels(e, qrels, err, sizeof err);
    if (rc)
        fprintf(stderr, "%s\n", err);
    REQUIRE(rc == 0);
    rc = souk_eval_load_run(e, run, err, sizeof err);
    if (rc)
        fprintf(stderr, "%s\n", err);
    REQUIRE(rc == 0);
    check_basic(e);
    souk_eval_free(e);
    unlink(qrels);
    unlink(run);

    expect_load_error(0, "1 0 d1 1\n\n1 0 d2\n", SOUK_EINVAL, "bad.qrels:3: expected 4 fields");
    expect_load_error(0, "1 0 d1 x\n", SOUK_EINVAL, ":1: grade 'x' is not an integer");
    expect_load_error(0, "1 0 d1 2.5\n", SOUK_EINVAL, ":1: grade '2.5'");
    expect_load_error(0, "1 0 d1 1\n1 0 d1 2\n", SOUK_EINVAL, ":2: document 'd1' is judged twice");
    expect_load_error(1, "1 Q0 d1 1 0.5\n", SOUK_EINVAL, "bad.run:1: expected 6 fields");
    expect_load_error(1, "1 Q0 d1 1 0.5 t\n1 Q0 d2 2 high t\n", SOUK_EINVAL,
                      ":2: score 'high' is not a number");
    expect_load_error(1, "1 Q0 d1 1 nan t\n", SOUK_EINVAL, ":1: score 'nan'");
    expect_load_error(1, "1 Q0 d1 1 0.5 t\n1 Q0 d1 2 0.4 t\n", SOUK_EINVAL,
                      ":2: document 'd1' appears twice in the run of query '1'");
    e = souk_eval_new();
    REQUIRE(e);
    snprintf(qrels, sizeof qrels, "%s/does-not-exist", tmpdir);
    CHECK(souk_eval_load_qrels(e, qrels, err, sizeof err) == SOUK_EIO);
    CHECK(strstr(err, "does-not-exist") != NULL);
    CHECK(souk_eval_load_run(e, qrels, NULL, 0) == SOUK_EIO);
    souk_eval_free(e);
}

/* ------------------------------------------------------------------ cross-check */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
    /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ull;
}

/* Python: parses the two files itself; nDCG@10 by sklearn.metrics.ndcg_score over the judged
 * and retrieved documents (documents missing from the run get scores below every retrieved
 * one, which is why every run has at least 10 documents: they never reach the top 10); AP,
 * P@10 and RR by hand. Prints "qid ndcg ap p10 rr" per query with a relevant document. */
static const char py_script[] =
    "import sys\n"
    "from sklearn.metrics import ndcg_score\n"
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
    "    docs = sorted(set(r) | set(qrels[q]))\n"
    "    low = min(r.values(), default=0.0) - 1.0\n"
    "    missing = [d for d in docs if d not in r]\n"
    "    score = dict(r)\n"
    "    for i, d in enumerate(missing): score[d] = low - i\n"
    "    yt = [[max(qrels[q].get(d, 0), 0) for d in docs]]\n"
    "    ys = [[score[d] for d in docs]]\n"
    "    ndcg = ndcg_score(yt, ys, k=10)\n"
    "    ranked = sorted(r, key=lambda d: -r[d])\n"
    "    hits, ap, rr, p10 = 0, 0.0, 0.0, 0\n"
    "    for k, d in enumerate(ranked, 1):\n"
    "        if d in rel:\n"
    "            hits += 1\n"
    "            ap += hits / k\n"
    "            if hits == 1: rr = 1.0 / k\n"
    "            if k <= 10: p10 += 1\n"
    "    print(q, repr(ndcg), repr(ap / len(rel)), repr(p10 / 10), repr(rr))\n";

/* Returns a python interpreter that can import sklearn, or NULL. The PATH's python3 comes
 * first; Debian's python3-sklearn lives in /usr/bin/python3, which a pyenv or venv python3 in
 * PATH does not see, so that one is tried next. */
static const char *find_python(void)
{
    static const char *const cands[] = {"python3", "/usr/bin/python3"};
    for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "%s -c 'import sklearn.metrics' >/dev/null 2>&1", cands[i]);
        int st = system(cmd);
        if (st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0)
            return cands[i];
    }
    return NULL;
}

static void test_cross_check(void)
{
    const char *py = find_python();
    if (!py) {
        skip_part("cross-check: python3 with sklearn is not importable "
                  "(apt-get install python3-sklearn)");
        return;
    }
    char qrels[512], run[512];
    snprintf(qrels, sizeof qrels, "%s/random.qrels", tmpdir);
    snprintf(run, sizeof run, "%s/random.run", tmpdir);
    FILE *fq = fopen(qrels, "w"), *fr = fopen(run, "w");
    REQUIRE(fq && fr);
    souk_eval *e = souk_eval_new();
    REQUIRE(e);
    /* 12 queries over a pool of 60 documents each: about half judged with grades 0..4 (mostly
     * low, some -1), a run of 10..45 documents with distinct scores (a shuffled sequence of
     * spaced values, some negative), so relevant documents are missed, unjudged documents are
     * retrieved and no two scores tie. */
    enum { NQ = 12, POOL = 60 };
    for (int q = 0; q < NQ; q++) {
        char qid[16];
        snprintf(qid, sizeof qid, "%d", 100 + q);
        int perm[POOL];
        for (int i = 0; i < POOL; i++)
            perm[i] = i;
        for (int i = POOL - 1; i > 0; i--) {
            int j = (int)(rng() % (uint64_t)(i + 1)), t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        int nret = 10 + (int)(rng() % 36), any_rel = 0;
        for (int i = 0; i < POOL; i++) {
            char doc[32];
            snprintf(doc, sizeof doc, "D%03d", (q * 37 + i * 11) % 997);
            if (rng() % 2 || (i == POOL - 1 && !any_rel)) {
                static const int grades[] = {0, 0, 0, 1, 1, 2, 3, 4, -1};
                int g = grades[rng() % 9];
                if (i == POOL - 1 && !any_rel)
                    g = 2;
                any_rel |= g > 0;
                fprintf(fq, "%s 0 %s %d\n", qid, doc, g);
                REQUIRE(souk_eval_judge(e, qid, doc, g) == 0);
            }
            if (perm[i] < nret) {
                double score = perm[i] * 0.37 - 4.0 + (double)(rng() % 1000) * 1e-4;
                fprintf(fr, "%s Q0 %s %d %.17g souk\n", qid, doc, perm[i], score);
                REQUIRE(souk_eval_result(e, qid, doc, score) == 0);
            }
        }
    }
    REQUIRE(fclose(fq) == 0 && fclose(fr) == 0);
    /* The files must give what the API gave. */
    souk_eval_scores s, sf;
    REQUIRE(souk_eval_compute(e, &s) == 0);
    souk_eval *ef = souk_eval_new();
    char err[512];
    REQUIRE(ef);
    REQUIRE(souk_eval_load_qrels(ef, qrels, err, sizeof err) == 0);
    REQUIRE(souk_eval_load_run(ef, run, err, sizeof err) == 0);
    REQUIRE(souk_eval_compute(ef, &sf) == 0);
    CHECK(s.nqueries == NQ && sf.nqueries == NQ);
    CHECK(s.map == sf.map && s.ndcg10 == sf.ndcg10 && s.p10 == sf.p10 && s.mrr == sf.mrr);
    souk_eval_free(ef);

    /* The script has no single quote, so it is passed as one shell word. */
    static char cmd[sizeof py_script + 2048];
    snprintf(cmd, sizeof cmd, "%s -c '%s' '%s' '%s'", py, py_script, qrels, run);
    FILE *pp = popen(cmd, "r");
    REQUIRE(pp);
    char line[512];
    int nlines = 0;
    double map = 0, ndcg = 0;
    while (fgets(line, sizeof line, pp)) {
        char qid[64];
        double pn, pa, pp10, prr;
        if (sscanf(line, "%63s %lf %lf %lf %lf", qid, &pn, &pa, &pp10, &prr) != 5) {
            fprintf(stderr, "unexpected python output: %s", line);
            check_failures++;
            continue;
        }
        nlines++;
        map += pa;
        ndcg += pn;
        souk_eval_query r = get_query(e, qid);
        if (!close_to(r.ndcg10, pn, 1e-9) || !close_to(r.ap, pa, 1e-9) ||
            !close_to(r.p10, pp10, 1e-12) || !close_to(r.rr, prr, 1e-12)) {
            fprintf(stderr,
                    "query %s: souk ndcg10 %.17g ap %.17g p10 %g rr %.17g; python %.17g %.17g "
                    "%g %.17g\n",
                    qid, r.ndcg10, r.ap, r.p10, r.rr, pn, pa, pp10, prr);
            check_failures++;
        }
    }
    int st = pclose(pp);
    CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(nlines == NQ);
    if (nlines) {
        CHECK(close_to(s.map, map / nlines, 1e-9));
        CHECK(close_to(s.ndcg10, ndcg / nlines, 1e-9));
    }
    printf("cross-check (%s, sklearn): %d queries, MAP %.6f nDCG@10 %.6f P@10 %.4f MRR %.6f\n", py,
           nlines, s.map, s.ndcg10, s.p10, s.mrr);
    souk_eval_free(e);
    unlink(qrels);
    unlink(run);
}

int main(void)
{
    souk_alloc_init();
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/souk_test_eval_XXXXXX", base && *base ? base : "/tmp");
    REQUIRE(mkdtemp(tmpdir) != NULL);

    souk_eval *e = case_basic();
    check_basic(e);
    souk_eval_free(e);
    test_ties();
    test_cutoffs();
    test_k_and_deltas();
    test_empty();
    test_api_errors();
    test_files();
    test_cross_check();

    rmdir(tmpdir);
    return check_done("test_eval");
}
