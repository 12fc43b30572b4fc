/* test_rank_eval_http.c: POST /v1/rank-eval through the real souk-server, on Cranfield indexed
 * by souk-index (schema ircoll.json with the authors as a filterable keyword), with Cranfield's own
 * judged queries (grades as gains, tests/kit/ircoll.h) and two profiles: none (the default ranking)
 * and "and" (a configuration profile setting operator=and).
 *
 * What it proves:
 *   - every figure (per profile: MAP, nDCG@k, P@k, Recall@k, MRR; per query: AP, nDCG, P, Recall,
 *     RR) equals what a small implementation in this test computes from the hits that
 *     GET /v1/search returns for the same query, filter and profile, at k = 10 and k = 5: the
 *     endpoint evaluates the rankings /v1/search really serves;
 *   - the deltas are the second profile's values minus the first's, sorted by |delta nDCG|;
 *   - a filter applies (a query filtered to nothing scores 0);
 *   - only an admin key may call it; bad input is refused with a field naming it (unknown
 *     member, k out of range, a grade that is not an integer, too many queries, an unknown
 *     profile, a malformed filter); a request over its time budget answers 503. */
#include "check.h"
#include "kit/http.h"
#include "kit/ircoll.h"
#include "souk/souk.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <sys/wait.h>

#define AKEY "rank-eval-admin-key"
#define SKEY "rank-eval-search-key"
#define NQ 60

static char dir[256], data_dir[512], cfg_path[512];
static kit_server srv;
static ircoll *coll;

static void write_config(unsigned max_search_ms)
{
    FILE *f = fopen(cfg_path, "w");
    REQUIRE(f);
    char a[80], s[80];
    snprintf(a, sizeof a, "%s", kit_hash_key(AKEY));
    snprintf(s, sizeof s, "%s", kit_hash_key(SKEY));
    fprintf(f,
            "{\"admin_keys\":[\"%s\"],\"search_keys\":[\"%s\"],"
            "\"profiles\":{\"and\":{\"operator\":\"and\"}},\"limits\":{\"max_search_ms\":%u,\"max_"
            "body_bytes\":4194304}}\n",
            a, s, max_search_ms);
    fclose(f);
}

/* The judged queries: Cranfield's first NQ, ratings = gains of their judgements. The second
 * query carries a filter that matches no document. */
static cJSON *judged_queries(void)
{
    cJSON *arr = cJSON_CreateArray();
    REQUIRE(arr);
    for (size_t i = 0; i < NQ && i < coll->nqueries; i++) {
        const ircoll_query *q = &coll->queries[i];
        cJSON *o = cJSON_CreateObject(), *r = cJSON_CreateObject();
        REQUIRE(o && r);
        cJSON_AddItemToArray(arr, o);
        cJSON_AddStringToObject(o, "id", q->id);
        cJSON_AddStringToObject(o, "query", q->text);
        if (i == 1)
            cJSON_AddStringToObject(o, "filter", "authors = \"nobody at all\"");
        for (size_t j = 0; j < coll->njudgements; j++) {
            const ircoll_judgement *g = &coll->judgements[j];
            if (strcmp(g->qid, q->id) == 0 && !cJSON_GetObjectItemCaseSensitive(r, g->docid))
                cJSON_AddNumberToObject(r, g->docid, g->gain);
        }
        cJSON_AddItemToObject(o, "ratings", r);
    }
    return arr;
}

static int post(const char *body, const char *key, kit_resp *r)
{
    return kit_call(srv.port, "POST", "/v1/rank-eval", key, NULL, "application/json", body,
                    strlen(body), r);
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    if (!cJSON_IsNumber(v)) {
        fprintf(stderr, "'%s' missing or not a number\n", k);
        check_failures++;
        return NAN;
    }
    return v->valuedouble;
}

/* The test's own metrics of one query from GET /v1/search's hits. v: ap ndcg p recall rr;
 * returns 0 when the query has no relevant judgement (not counted). */
static int own_metrics(const cJSON *q, const char *profile, int k, double v[5])
{
    char target[8192], esc[6000];
    kit_url_escape(cJSON_GetObjectItemCaseSensitive(q, "query")->valuestring, esc, sizeof esc);
    int n = snprintf(target, sizeof target, "/v1/search?q=%s&per_page=%d", esc, k);
    if (profile)
        n += snprintf(target + n, sizeof target - (size_t)n, "&profile=%s", profile);
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(q, "filter");
    if (f) {
        kit_url_escape(f->valuestring, esc, sizeof esc);
        snprintf(target + n, sizeof target - (size_t)n, "&filter=%s", esc);
    }
    kit_resp r;
    REQUIRE(kit_get(srv.port, target, SKEY, &r) == 200);
    cJSON *j = cJSON_Parse(r.body);
    REQUIRE(j);
    const cJSON *ratings = cJSON_GetObjectItemCaseSensitive(q, "ratings"), *it;
    int grades[1000], ng = 0;
    cJSON_ArrayForEach(it, ratings) if (it->valueint > 0 && ng < 1000) grades[ng++] = it->valueint;
    for (int a = 0; a < ng; a++) /* descending */
        for (int b = a + 1; b < ng; b++)
            if (grades[b] > grades[a]) {
                int t = grades[a];
                grades[a] = grades[b];
                grades[b] = t;
            }
    double ap = 0, dcg = 0, idcg = 0, rr = 0;
    int rank = 0, found = 0;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(j, "hits"))
    {
        rank++;
        const cJSON *g =
            cJSON_GetObjectItemCaseSensitive(ratings, cJSON_GetObjectItem(it, "id")->valuestring);
        if (!g || g->valueint <= 0)
            continue;
        found++;
        ap += (double)found / rank;
        if (found == 1)
            rr = 1.0 / rank;
        dcg += g->valueint / log2(rank + 1.0);
    }
    for (int i = 0; i < ng && i < k; i++)
        idcg += grades[i] / log2(i + 2.0);
    cJSON_Delete(j);
    kit_resp_free(&r);
    if (!ng)
        return 0;
    v[0] = ap / ng;
    v[1] = idcg > 0 ? dcg / idcg : 0;
    v[2] = (double)found / k;
    v[3] = (double)found / ng;
    v[4] = rr;
    return 1;
}

static const cJSON *by_id(const cJSON *arr, const char *id)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(it, "id");
        if (cJSON_IsString(x) && strcmp(x->valuestring, id) == 0)
            return it;
    }
    return NULL;
}

static void evaluate(int k)
{
    cJSON *req = cJSON_CreateObject(), *qs = judged_queries();
    cJSON_AddItemToObject(req, "queries", qs);
    cJSON *profiles = cJSON_AddArrayToObject(req, "profiles");
    cJSON_AddItemToArray(profiles, cJSON_CreateNull());
    cJSON_AddItemToArray(profiles, cJSON_CreateString("and"));
    cJSON_AddNumberToObject(req, "k", k);
    char *body = cJSON_PrintUnformatted(req);
    kit_resp r;
    int st = post(body, AKEY, &r);
    if (st != 200)
        fprintf(stderr, "rank-eval: %d %s\n", st, r.body ? r.body : "");
    REQUIRE(st == 200);
    cJSON *j = cJSON_Parse(r.body);
    REQUIRE(j);
    CHECK(num(j, "k") == k && num(j, "queries") == NQ);
    const cJSON *profs = cJSON_GetObjectItemCaseSensitive(j, "profiles");
    CHECK(cJSON_GetArraySize(profs) == 2);
    for (int pi = 0; pi < 2; pi++) {
        const cJSON *p = cJSON_GetArrayItem(profs, pi);
        const char *name = pi ? "and" : NULL;
        CHECK(pi ? cJSON_IsString(cJSON_GetObjectItem(p, "profile"))
                 : cJSON_IsNull(cJSON_GetObjectItem(p, "profile")));
        double sum[5] = {0};
        int counted = 0;
        const cJSON *q;
        cJSON_ArrayForEach(q, qs)
        {
            double v[5];
            const char *id = cJSON_GetObjectItem(q, "id")->valuestring;
            const cJSON *got = by_id(cJSON_GetObjectItem(p, "per_query"), id);
            REQUIRE(got);
            if (!own_metrics(q, name, k, v)) {
                CHECK(cJSON_IsFalse(cJSON_GetObjectItem(got, "counted")));
                continue;
            }
            counted++;
            static const char *const keys[5] = {"ap", "ndcg", "precision", "recall", "rr"};
            for (int i = 0; i < 5; i++) {
                sum[i] += v[i];
                if (!(fabs(num(got, keys[i]) - v[i]) <= 1e-12)) {
                    fprintf(stderr, "profile %s query %s %s@%d: endpoint %.17g, own %.17g\n",
                            name ? name : "(none)", id, keys[i], k, num(got, keys[i]), v[i]);
                    check_failures++;
                }
            }
            if (strcmp(id, "2") == 0) /* filtered to nothing */
                CHECK(num(got, "retrieved") == 0 && num(got, "ap") == 0);
        }
        CHECK(num(p, "queries") == counted && counted >= NQ - 2);
        static const char *const avg[5] = {"map", "ndcg", "precision", "recall", "mrr"};
        for (int i = 0; i < 5; i++)
            CHECK(fabs(num(p, avg[i]) - sum[i] / counted) <= 1e-12);
        printf("test_rank_eval_http: k=%d profile %s: MAP %.4f nDCG %.4f P %.4f Recall %.4f MRR "
               "%.4f over %d queries\n",
               k, name ? name : "(none)", num(p, "map"), num(p, "ndcg"), num(p, "precision"),
               num(p, "recall"), num(p, "mrr"), counted);
    }
    /* Deltas: "and" minus none, by impact. */
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "deltas");
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(d, "baseline")) &&
          strcmp(cJSON_GetObjectItem(d, "profile")->valuestring, "and") == 0);
    const cJSON *it;
    double prev = INFINITY;
    int nd = 0, moved = 0;
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(d, "queries"))
    {
        const char *id = cJSON_GetObjectItem(it, "id")->valuestring;
        const cJSON *a = by_id(cJSON_GetObjectItem(cJSON_GetArrayItem(profs, 0), "per_query"), id);
        const cJSON *b = by_id(cJSON_GetObjectItem(cJSON_GetArrayItem(profs, 1), "per_query"), id);
        REQUIRE(a && b);
        double dn = num(it, "ndcg");
        CHECK(fabs(dn - (num(b, "ndcg") - num(a, "ndcg"))) <= 1e-12);
        CHECK(fabs(num(it, "ap") - (num(b, "ap") - num(a, "ap"))) <= 1e-12);
        CHECK(fabs(dn) <= prev);
        prev = fabs(dn);
        moved += dn != 0;
        nd++;
    }
    CHECK(nd == (int)num(cJSON_GetArrayItem(profs, 0), "queries") && moved > 0);
    cJSON_Delete(j);
    kit_resp_free(&r);
    cJSON_free(body);
    cJSON_Delete(req);
}

/* A request with the judged queries' first query only, patched by `extra` members. */
static void expect_error(const char *body, const char *key, int want, const char *code,
                         const char *field)
{
    kit_resp r;
    int st = post(body, key, &r);
    char c[64];
    kit_err_code(&r, c, sizeof c);
    cJSON *j = cJSON_Parse(r.body ? r.body : "");
    const cJSON *f = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "error"), "field");
    int ok = st == want && (!code || strcmp(c, code) == 0) &&
             (!field || (cJSON_IsString(f) && strcmp(f->valuestring, field) == 0));
    if (!ok) {
        fprintf(stderr, "want %d %s field %s, got %d: %s\n  for %.200s\n", want, code ? code : "",
                field ? field : "", st, r.body ? r.body : "", body);
        check_failures++;
    }
    cJSON_Delete(j);
    kit_resp_free(&r);
}

static void errors(void)
{
    const char *ok =
        "{\"queries\":[{\"query\":\"flow\",\"ratings\":{\"1\":1}}],\"profiles\":[null]}";
    kit_resp r;
    CHECK(post(ok, AKEY, &r) == 200);
    kit_resp_free(&r);
    expect_error(ok, SKEY, 403, "forbidden", NULL);
    expect_error(ok, NULL, 401, NULL, NULL);
    expect_error("{\"queries\":[{\"query\":\"flow\",\"ratings\":{\"1\":1}}],\"profiles\":[null],"
                 "\"k\":0}",
                 AKEY, 400, "invalid_parameter", "k");
    expect_error("{\"queries\":[{\"query\":\"flow\",\"ratings\":{\"1\":1}}],\"profiles\":[null],"
                 "\"depth\":3}",
                 AKEY, 400, "unknown_parameter", "depth");
    expect_error("{\"queries\":[{\"query\":\"flow\",\"ratings\":{\"1\":1.5}}],\"profiles\":[null]}",
                 AKEY, 400, "invalid_parameter", "queries[0].ratings");
    expect_error("{\"queries\":[{\"query\":\"flow\",\"ratings\":{}}],\"profiles\":[null]}", AKEY,
                 400, "invalid_parameter", "queries[0].ratings");
    expect_error("{\"queries\":[{\"query\":\"flow\",\"ratings\":{\"1\":1},\"user\":\"x\"}],"
                 "\"profiles\":[null]}",
                 AKEY, 400, "unknown_parameter", "queries[0].user");
    expect_error("{\"queries\":[{\"ratings\":{\"1\":1}}],\"profiles\":[null]}", AKEY, 400,
                 "invalid_parameter", "queries[0]");
    expect_error("{\"queries\":[{\"query\":\"flow\",\"ratings\":{\"1\":1}}]}", AKEY, 400,
                 "invalid_parameter", "profiles");
    expect_error("{\"queries\":[{\"query\":\"flow\",\"ratings\":{\"1\":1}}],"
                 "\"profiles\":[null,\"no-such-profile\"]}",
                 AKEY, 400, "invalid_parameter", "profiles[1]");
    expect_error("{\"queries\":[{\"query\":\"flow\",\"ratings\":{\"1\":1}},{\"query\":\"wing\","
                 "\"filter\":\"title:(\",\"ratings\":{\"1\":1}}],\"profiles\":[null]}",
                 AKEY, 400, NULL, "queries[1].filter");
    expect_error("{\"queries\":[{\"id\":\"a\",\"query\":\"flow\",\"ratings\":{\"1\":1}},{\"id\":"
                 "\"a\",\"query\":\"wing\",\"ratings\":{\"1\":1}}],\"profiles\":[null]}",
                 AKEY, 400, "invalid_parameter", "queries[1]");
    expect_error("[1]", AKEY, 400, "bad_request", NULL);
    /* 501 queries: over the budget of 500. */
    size_t cap = 600 * 64, len = 0;
    char *big = malloc(cap);
    REQUIRE(big);
    len += (size_t)snprintf(big, cap, "{\"profiles\":[null],\"queries\":[");
    for (int i = 0; i < 501; i++)
        len += (size_t)snprintf(big + len, cap - len,
                                "%s{\"query\":\"flow\",\"ratings\":{\"1\":1}}", i ? "," : "");
    snprintf(big + len, cap - len, "]}");
    expect_error(big, AKEY, 400, "invalid_parameter", "queries");
    free(big);
}

/* With max_search_ms 1 the whole request may take 20 ms: 500 Cranfield queries under five
 * profiles cannot, and the answer is 503 rank_eval_timeout, not a late or partial report. */
static void budget(void)
{
    write_config(1);
    kit_reload(&srv);
    usleep(300000);
    cJSON *req = cJSON_CreateObject(), *qs = cJSON_AddArrayToObject(req, "queries");
    for (size_t i = 0; i < 500; i++) {
        const ircoll_query *q = &coll->queries[i % coll->nqueries];
        cJSON *o = cJSON_CreateObject(), *r = cJSON_CreateObject();
        cJSON_AddItemToArray(qs, o);
        char id[16];
        snprintf(id, sizeof id, "b%zu", i);
        cJSON_AddStringToObject(o, "id", id);
        cJSON_AddStringToObject(o, "query", q->text);
        cJSON_AddNumberToObject(r, "1", 1);
        cJSON_AddItemToObject(o, "ratings", r);
    }
    cJSON *p = cJSON_AddArrayToObject(req, "profiles");
    for (int i = 0; i < 5; i++)
        cJSON_AddItemToArray(p, i % 2 ? cJSON_CreateString("and") : cJSON_CreateNull());
    char *body = cJSON_PrintUnformatted(req);
    expect_error(body, AKEY, 503, "rank_eval_timeout", NULL);
    cJSON_free(body);
    cJSON_Delete(req);
    write_config(1000);
    kit_reload(&srv);
    usleep(300000);
}

int main(void)
{
    souk_alloc_init();
    const char *base = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/souk-test-rank-eval-XXXXXX", base && *base ? base : "/tmp");
    REQUIRE(mkdtemp(dir));
    const char *cran = shared_data("ir/cranfield");
    if (!cran)
        return TEST_SKIP;
    char path[4096], err[512], nd[600], cmd[8192];
    snprintf(path, sizeof path, "%s", cran);
    REQUIRE(ircoll_load(IRCOLL_CRANFIELD, path, &coll, err, sizeof err) == 0);
    snprintf(nd, sizeof nd, "%s/cranfield.ndjson", dir);
    FILE *f = fopen(nd, "w");
    REQUIRE(f && ircoll_write_ndjson(coll, f) == 0 && fclose(f) == 0);
    snprintf(data_dir, sizeof data_dir, "%s/data", dir);
    snprintf(cfg_path, sizeof cfg_path, "%s/config.json", dir);
    /* indexer/schemas/ircoll.json with the authors as a filterable keyword. */
    char schema[600];
    snprintf(schema, sizeof schema, "%s/schema.json", dir);
    f = fopen(schema, "w");
    REQUIRE(f);
    fputs("{\"name\":\"ircoll_filter\",\"default_language\":\"en\",\"unknown_fields\":\"reject\","
          "\"fields\":[{\"name\":\"title\",\"type\":\"text\",\"stored\":true},"
          "{\"name\":\"body\",\"type\":\"text\",\"stored\":true},{\"name\":\"authors\","
          "\"type\":\"keyword\",\"prefix\":\"XA:\",\"filterable\":true,\"stored\":true}]}\n",
          f);
    REQUIRE(fclose(f) == 0);
    snprintf(cmd, sizeof cmd,
             "'%s/souk-index' --data '%s' --schema '%s' catalog '%s' --quiet >/dev/null",
             SOUK_BIN_DIR, data_dir, schema, nd);
    REQUIRE(system(cmd) == 0);
    write_config(1000);
    kit_start(&srv,
              (const char *[]){"--data", data_dir, "--config", cfg_path, "--threads", "1", NULL});
    evaluate(10);
    evaluate(5);
    errors();
    budget();
    CHECK(kit_stop(&srv) == 0);
    ircoll_free(coll);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    return check_done("test_rank_eval_http");
}
