/* bench_profiles.c: souk-bench profiles, what a ranking profile costs a search.
 *
 *   souk-bench profiles [--catalog FILE.jsonl[.xz]] [--work DIR] [--seconds S] [--keep]
 *
 * It indexes the Debian catalog, opens the profile store in the index's folder as souk-server
 * does (api/profiles.c), stores a profile in three versions, and runs the same real queries
 * (WANDS, ../shared/data/queries/wands/query.csv) through the server's own request handler
 * (routing, profile resolution, search, response JSON; no sockets), one thread on CPU 0, in
 * 12 rounds that alternate between the runs (each run first in 3 of them), so that they share
 * the machine's state:
 *   none        no profile
 *   current     profile=p (the current version: the worker's table, one atomic load)
 *               (every profile here keeps Xapian's BM25 parameters, so all runs rank alike)
 *   curated     profile=c, whose 1,000 normalized curation rules match none of the queries
 *               (each search computes its normal form and compares it with every rule)
 *   version     profile=p@1 (an older version: read from the store and compiled per request)
 * and prints each run's q/s and its ratio to "none". The last line printed is JSON. */
#include "api_int.h"
#include "bench.h"
#include "souk/index.h"
#include "souk/souk.h"

#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void url_encode(const char *s, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (; *s && o + 4 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.') {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = 0;
}

/* Stores doc as the next version of name through the server's own PUT path. */
static void put(sk_worker *w, sk_config *cfg, const char *name, const char *doc)
{
    sk_request req = {0};
    req.method = HTTP_PUT;
    req.keep_alive = 1;
    req.json_body = req.has_content_type = 1;
    sk_buf_printf(&req.url, "/v1/profiles/%s", name);
    sk_buf_str(&req.body, doc);
    sk_buf out = {0};
    (void)cfg;
    int st = sk_handle(w, &req, 1, &out);
    if (st != 200) {
        fprintf(stderr, "souk-bench profiles: PUT %s: %d %.*s\n", name, st, (int)out.len, out.p);
        exit(1);
    }
    sk_buf_free(&out);
    sk_buf_free(&req.url);
    sk_buf_free(&req.body);
}

int bench_profiles(int argc, char **argv)
{
    char root[PATH_MAX - 128], catalog[PATH_MAX] = "", work[PATH_MAX - 128] = "", cmd[3 * PATH_MAX];
    char bindir[PATH_MAX];
    double secs = 3;
    int keep = 0;
    if (bench_locate(root, sizeof root, bindir, sizeof bindir) != 0)
        return 1;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--catalog") == 0 && i + 1 < argc)
            snprintf(catalog, sizeof catalog, "%s", argv[++i]);
        else if (strcmp(argv[i], "--work") == 0 && i + 1 < argc)
            snprintf(work, sizeof work, "%s", argv[++i]);
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            secs = atof(argv[++i]);
        else if (strcmp(argv[i], "--keep") == 0)
            keep = 1;
        else {
            fprintf(stderr, "usage: souk-bench profiles [--catalog FILE] [--work DIR] "
                            "[--seconds S] [--keep]\n");
            return 2;
        }
    }
    if (!(secs >= 0.5 && secs <= 60)) {
        fprintf(stderr, "souk-bench profiles: --seconds 0.5..60\n");
        return 2;
    }
    if (bench_catalog(root, catalog, sizeof catalog))
        return 0;
    if (bench_workdir("profiles", work, sizeof work))
        return 1;
    char data[PATH_MAX];
    snprintf(data, sizeof data, "%s/souk", work);
    if (bench_index_debian("profiles", catalog, root, bindir, data) != 0)
        return 1;
    /* The queries: WANDS, as the server would get them. */
    char path[PATH_MAX + 64], *line = NULL, enc[2048];
    snprintf(path, sizeof path, "%s/../shared/data/queries/wands/query.csv", root);
    FILE *in = fopen(path, "r");
    if (!in) {
        printf("SKIP: %s is absent\n", path);
        return 0;
    }
    size_t cap = 0, nq = 0;
    ssize_t len;
    char **qs = calloc(1000, sizeof *qs);
    while (nq < 1000 && (len = getline(&line, &cap, in)) > 0) {
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = 0;
        char *q = strchr(line, '\t');
        if (!q || !q[1] || strcmp(q + 1, "query") == 0)
            continue;
        char *end = strchr(++q, '\t');
        if (end)
            *end = 0;
        url_encode(q, enc, sizeof enc);
        qs[nq++] = strdup(enc);
    }
    fclose(in);
    free(line);

    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(0, &one);
    sched_setaffinity(0, sizeof one, &one);
    char err[512];
    sk_server_state st = {0};
    pthread_mutex_t m1 = PTHREAD_MUTEX_INITIALIZER, m2 = PTHREAD_MUTEX_INITIALIZER;
    st.metrics_lock = &m1;
    st.log_lock = &m2;
    st.data_dir = data;
    sk_config *cfg;
    sk_worker *w;
    if (sk_config_load(NULL, "en", NULL, &cfg, err, sizeof err) ||
        souk_index_open(data, NULL, SOUK_INDEX_RDONLY, &st.ix, err, sizeof err) ||
        sk_profiles_open(&st, cfg, err, sizeof err)) {
        fprintf(stderr, "souk-bench profiles: %s\n", err);
        return 1;
    }
    atomic_init(&st.config, cfg);
    if (sk_worker_new(&st, &w))
        return 1;
    /* Xapian's parameters in both versions, so every run ranks alike and the ratios are the
     * cost of the profile itself. */
    put(w, cfg, "p", "{\"bm25\":{\"k1\":1,\"b\":0.5}}");
    put(w, cfg, "p", "{\"bm25\":{\"k1\":1,\"b\":0.5},\"personalization\":0.2}");
    /* 1,000 normalized rules that match none of the queries. */
    size_t dcap = 200000;
    char *doc = malloc(dcap);
    size_t dl = (size_t)snprintf(doc, dcap, "{\"curation\":[");
    for (int i = 0; i < 1000; i++)
        dl += (size_t)snprintf(doc + dl, dcap - dl,
                               "%s{\"query\":\"zqx rule %d\",\"match\":\"normalized\","
                               "\"hide\":[\"zqx-%d\"]}",
                               i ? "," : "", i, i);
    snprintf(doc + dl, dcap - dl, "]}");
    put(w, cfg, "c", doc);
    free(doc);

    const char *runs[] = {"none", "current", "curated", "version"};
    const char *suffix[] = {"", "&profile=p", "&profile=c", "&profile=p@1"};
    enum { NRUNS = 4 };
    sk_request *reqs = calloc(nq * NRUNS, sizeof *reqs);
    for (int r = 0; r < NRUNS; r++)
        for (size_t i = 0; i < nq; i++) {
            sk_request *q = &reqs[(size_t)r * nq + i];
            q->method = HTTP_GET;
            q->keep_alive = 1;
            sk_buf_printf(&q->url, "/v1/search?q=%s%s", qs[i], suffix[r]);
        }
    double t[NRUNS] = {0};
    size_t done[NRUNS] = {0}, bad = 0;
    sk_buf out = {0};
    /* Rounds of every run in turn, about secs seconds of each in all. */
    for (int round = 0; round < 12; round++)
        for (int rr = 0; rr < NRUNS; rr++) {
            int r = (rr + round) % NRUNS; /* each run takes every place in the rounds */
            double t0 = now_s();
            do {
                for (size_t i = 0; i < nq; i++) {
                    out.len = 0;
                    bad += sk_handle(w, &reqs[(size_t)r * nq + i], 1, &out) != 200;
                }
                done[r] += nq;
            } while (now_s() - t0 < secs / 12);
            t[r] += now_s() - t0;
        }
    double qps[NRUNS];
    printf("souk-bench profiles: %zu WANDS queries through the request handler, one thread on "
           "CPU 0, %.1f s per run in 12 rounds\n",
           nq, secs);
    printf("%-10s %10s %8s\n", "run", "q/s", "ratio");
    for (int r = 0; r < NRUNS; r++) {
        qps[r] = (double)done[r] / t[r];
        printf("%-10s %10.0f %8.3f\n", runs[r], qps[r], qps[r] / qps[0]);
    }
    printf("{\"queries\":%zu,\"none_qps\":%.0f,\"current_qps\":%.0f,\"curated_qps\":%.0f,"
           "\"version_qps\":%.0f,\"ratio_current\":%.3f,\"ratio_curated\":%.3f,"
           "\"ratio_version\":%.3f,\"errors\":%zu}\n",
           nq, qps[0], qps[1], qps[2], qps[3], qps[1] / qps[0], qps[2] / qps[0], qps[3] / qps[0],
           bad);
    for (size_t i = 0; i < nq * NRUNS; i++)
        sk_buf_free(&reqs[i].url);
    for (size_t i = 0; i < nq; i++)
        free(qs[i]);
    free(qs);
    free(reqs);
    sk_buf_free(&out);
    sk_worker_free(w);
    sk_profiles_close(&st);
    sk_config_unref(cfg);
    souk_index_close(st.ix);
    if (!keep) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", work);
        if (system(cmd) != 0)
            return 1;
    }
    return bad ? 1 : 0;
}
