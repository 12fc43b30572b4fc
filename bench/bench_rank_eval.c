/* bench_rank_eval.c: souk-bench rank-eval, the cost of POST /v1/rank-eval beside the same
 * evaluation done by a client over GET /v1/search, in one run.
 *
 *   souk-bench rank-eval [--rounds N] [--work DIR] [--keep]
 *
 * Cranfield (225 judged queries, tests/kit/ircoll.h) is indexed by souk-index; then, in
 * process on CPU 0 with the server's own handler (sk_handle, no sockets, as `souk-bench http`
 * measures its in-process ceiling), each round evaluates every query at k = 10 three ways:
 *   - endpoint: one POST /v1/rank-eval request holding the 225 judged queries (profile null);
 *   - client:   225 GET /v1/search?q=...&per_page=10 through the handler, each response parsed
 *               (cJSON) and its ids given to souk/eval.h, as an analyst's script would;
 *   - engine:   souk_search top 10 and souk/eval.h directly (the floor).
 * Printed: the median milliseconds of a whole evaluation for each, the ratios, and MAP from
 * each (equal, or the run fails). The last line is JSON. */
#include "bench.h"
#include "api_int.h"
#include "kit/ircoll.h"
#include "souk/eval.h"
#include "souk/souk.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void url_escape(const char *s, sk_buf *out)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.') {
            sk_buf_add(out, p, 1);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            sk_buf_add(out, e, 3);
        }
    }
}

/* MAP of the body of a rank-eval response (its first profile). */
static double endpoint_map(const sk_buf *out)
{
    const char *b = memmem(out->p, out->len, "\r\n\r\n", 4);
    cJSON *j = b ? cJSON_ParseWithLength(b + 4, out->len - (size_t)(b + 4 - out->p)) : NULL;
    const cJSON *p = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "profiles"), 0);
    const cJSON *m = cJSON_GetObjectItem(p, "map");
    double v = cJSON_IsNumber(m) ? m->valuedouble : NAN;
    cJSON_Delete(j);
    return v;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int bench_rank_eval(int argc, char **argv)
{
    char root[4096], bindir[4096], work[4096] = "", err[512];
    int rounds = 15, keep = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--work") == 0 && i + 1 < argc)
            snprintf(work, sizeof work, "%s", argv[++i]);
        else if (strcmp(argv[i], "--keep") == 0)
            keep = 1;
        else {
            fprintf(stderr, "usage: souk-bench rank-eval [--rounds N] [--work DIR] [--keep]\n");
            return 2;
        }
    }
    if (rounds < 1 || rounds > 1000 || bench_locate(root, sizeof root, bindir, sizeof bindir))
        return 2;
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/../shared/data/ir/cranfield", root);
    ircoll *c = NULL;
    if (ircoll_load(IRCOLL_CRANFIELD, dir, &c, err, sizeof err)) {
        printf("SKIP: Cranfield: %s\n", err);
        return 0;
    }
    if (bench_workdir("rank-eval", work, sizeof work))
        return 1;
    char nd[4300], data[4300], cmd[20000];
    snprintf(nd, sizeof nd, "%s/cranfield.ndjson", work);
    snprintf(data, sizeof data, "%s/index", work);
    FILE *f = fopen(nd, "w");
    if (!f || ircoll_write_ndjson(c, f) || fclose(f)) {
        fprintf(stderr, "souk-bench rank-eval: cannot write %s\n", nd);
        return 1;
    }
    snprintf(cmd, sizeof cmd,
             "'%s/souk-index' --data '%s' --schema '%s/indexer/schemas/ircoll.json' catalog '%s' "
             "--quiet >/dev/null",
             bindir, data, root, nd);
    if (system(cmd) != 0) {
        fprintf(stderr, "souk-bench rank-eval: souk-index failed\n");
        return 1;
    }

    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(0, &one);
    sched_setaffinity(0, sizeof one, &one);
    sk_server_state st = {0};
    pthread_mutex_t m1 = PTHREAD_MUTEX_INITIALIZER, m2 = PTHREAD_MUTEX_INITIALIZER;
    st.metrics_lock = &m1;
    st.log_lock = &m2;
    sk_config *cfg;
    sk_worker *w;
    if (sk_config_load(NULL, "en", NULL, &cfg, err, sizeof err) ||
        souk_index_open(data, NULL, SOUK_INDEX_RDONLY, &st.ix, err, sizeof err)) {
        fprintf(stderr, "souk-bench rank-eval: %s\n", err);
        return 1;
    }
    atomic_init(&st.config, cfg);
    if (sk_worker_new(&st, &w))
        return 1;

    /* The endpoint's request: every query with its judgements. */
    cJSON *body = cJSON_CreateObject(), *qs = cJSON_AddArrayToObject(body, "queries");
    cJSON_AddItemToArray(cJSON_AddArrayToObject(body, "profiles"), cJSON_CreateNull());
    cJSON_AddNumberToObject(body, "k", 10);
    for (size_t i = 0; i < c->nqueries; i++) {
        cJSON *o = cJSON_CreateObject(), *r = cJSON_CreateObject();
        cJSON_AddItemToArray(qs, o);
        cJSON_AddStringToObject(o, "id", c->queries[i].id);
        cJSON_AddStringToObject(o, "query", c->queries[i].text);
        for (size_t j = 0; j < c->njudgements; j++)
            if (strcmp(c->judgements[j].qid, c->queries[i].id) == 0 &&
                !cJSON_GetObjectItemCaseSensitive(r, c->judgements[j].docid))
                cJSON_AddNumberToObject(r, c->judgements[j].docid, c->judgements[j].gain);
        cJSON_AddItemToObject(o, "ratings", r);
    }
    char *btxt = cJSON_PrintUnformatted(body);
    sk_request post;
    memset(&post, 0, sizeof post);
    post.method = HTTP_POST;
    post.keep_alive = 1;
    post.json_body = post.has_content_type = 1;
    sk_buf_str(&post.url, "/v1/rank-eval");
    sk_buf_str(&post.body, btxt);
    /* The client's requests. */
    sk_request *gets = calloc(c->nqueries, sizeof *gets);
    for (size_t i = 0; i < c->nqueries; i++) {
        gets[i].method = HTTP_GET;
        gets[i].keep_alive = 1;
        sk_buf_str(&gets[i].url, "/v1/search?per_page=10&q=");
        url_escape(c->queries[i].text, &gets[i].url);
    }
    sk_buf out = {0};
    double *t[3];
    for (int k = 0; k < 3; k++)
        t[k] = calloc((size_t)rounds, sizeof **t);
    double map[3] = {NAN, NAN, NAN};
    souk_hit hits[10];
    souk_search_opts so = {10, SOUK_BM25_DEFAULT, 0, NULL, SOUK_QP_CODES, 0, NULL};
    for (int r = 0; r < rounds; r++) {
        /* endpoint */
        double t0 = now_ms();
        out.len = 0;
        int status = sk_handle(w, &post, 1, &out);
        t[0][r] = now_ms() - t0;
        if (status != 200) {
            fprintf(stderr, "souk-bench rank-eval: the endpoint answered %d: %.*s\n", status,
                    (int)(out.len < 400 ? out.len : 400), out.p);
            return 1;
        }
        map[0] = endpoint_map(&out);
        /* client */
        t0 = now_ms();
        souk_eval *e = souk_eval_new();
        ircoll_add_judgements(c, e);
        for (size_t i = 0; i < c->nqueries; i++) {
            out.len = 0;
            sk_handle(w, &gets[i], 1, &out);
            const char *b = memmem(out.p, out.len, "\r\n\r\n", 4);
            cJSON *j = b ? cJSON_ParseWithLength(b + 4, out.len - (size_t)(b + 4 - out.p)) : NULL;
            const cJSON *h;
            double score = 10;
            cJSON_ArrayForEach(h, cJSON_GetObjectItem(j, "hits"))
            {
                souk_eval_result(e, c->queries[i].id, cJSON_GetObjectItem(h, "id")->valuestring,
                                 score--);
            }
            cJSON_Delete(j);
        }
        souk_eval_scores s;
        souk_eval_compute(e, &s);
        t[1][r] = now_ms() - t0;
        map[1] = s.map;
        souk_eval_free(e);
        /* engine */
        t0 = now_ms();
        e = souk_eval_new();
        ircoll_add_judgements(c, e);
        souk_searcher_refresh(w->searcher);
        for (size_t i = 0; i < c->nqueries; i++) {
            size_t n = 0;
            if (souk_search(w->searcher, c->queries[i].text, strlen(c->queries[i].text), &so, hits,
                            &n, NULL, err, sizeof err))
                continue;
            for (size_t k = 0; k < n; k++) {
                const char *id, *json;
                size_t il, jl;
                char docid[64];
                if (souk_reader_doc(souk_searcher_reader(w->searcher), hits[k].docid, &id, &il,
                                    &json, &jl))
                    continue;
                snprintf(docid, sizeof docid, "%.*s", (int)il, id);
                souk_eval_result(e, c->queries[i].id, docid, 10.0 - (double)k);
            }
        }
        souk_eval_compute(e, &s);
        t[2][r] = now_ms() - t0;
        map[2] = s.map;
        souk_eval_free(e);
    }
    double med[3];
    for (int k = 0; k < 3; k++) {
        qsort(t[k], (size_t)rounds, sizeof **t, cmp_d);
        med[k] = t[k][rounds / 2];
    }
    int same = fabs(map[0] - map[1]) < 1e-12 && fabs(map[1] - map[2]) < 1e-12;
    printf("rank-eval, Cranfield, %zu judged queries, k = 10, median of %d rounds on CPU 0:\n",
           c->nqueries, rounds);
    printf("  POST /v1/rank-eval (one request)          %8.2f ms   MAP@10 %.6f\n", med[0], map[0]);
    printf("  client over GET /v1/search (%zu requests) %8.2f ms   MAP@10 %.6f\n", c->nqueries,
           med[1], map[1]);
    printf("  engine: souk_search + souk/eval.h         %8.2f ms   MAP@10 %.6f\n", med[2], map[2]);
    printf("  endpoint / client %.3f, endpoint / engine %.3f, same MAP: %s\n", med[0] / med[1],
           med[0] / med[2], same ? "yes" : "NO");
    printf("{\"rank_eval_ms\":%.3f,\"client_ms\":%.3f,\"engine_ms\":%.3f,\"endpoint_over_client\":"
           "%.4f,\"endpoint_over_engine\":%.4f,\"map\":%.6f,\"same\":%s}\n",
           med[0], med[1], med[2], med[0] / med[1], med[0] / med[2], map[0],
           same ? "true" : "false");
    for (size_t i = 0; i < c->nqueries; i++)
        sk_buf_free(&gets[i].url);
    free(gets);
    sk_buf_free(&post.url);
    sk_buf_free(&post.body);
    sk_buf_free(&out);
    cJSON_free(btxt);
    cJSON_Delete(body);
    for (int k = 0; k < 3; k++)
        free(t[k]);
    sk_worker_free(w);
    souk_index_close(st.ix);
    ircoll_free(c);
    if (!keep) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", work);
        if (system(cmd) != 0)
            fprintf(stderr, "souk-bench rank-eval: could not remove %s\n", work);
    }
    return same ? 0 : 1;
}
