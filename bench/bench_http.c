/* bench_http.c: souk-bench http, the query server under load.
 *
 *   souk-bench http [--catalog FILE.jsonl[.xz]] [--work DIR] [--duration S] [--conns N]
 *                   [--keep]
 *
 * It indexes the Debian catalog, starts souk-server on it pinned to CPU 0 (one loop), and
 * drives it with h2load (Debian's nghttp2-client, HTTP/1.1, keep-alive, 64 connections) pinned
 * to CPU 1, cycling through the real query mix of ../shared/data/queries/ (WANDS, TREC DL 2020,
 * MS MARCO dev, Best Buy suggestions). Latency percentiles come from h2load's per-request log.
 * In the same run it measures:
 *   - the in-process ceiling: the same requests through the server's own handler (routing,
 *     search, response JSON, no sockets) on CPU 0, and the engine alone (souk_search);
 *   - the HTTP ceiling: nginx from Debian serving a static file of the mean response size, on
 *     CPU 0 with one worker, under the same h2load load;
 *   - p99 at 80% of the peak rate, from an open-loop client of its own (open_loop: Poisson
 *     arrivals, latency from each request's scheduled arrival; h2load --rps sends in bursts);
 *   - both modes of the server (reuseport loops, and one loop with a thread pool) on both cores,
 *     unpinned, for the choice between them.
 * The last line printed is JSON. Loads go to 127.0.0.1 only, for a bounded time.
 *
 *   souk-bench http --api algolia [--catalog FILE] [--work DIR] [--duration S] [--rounds N]
 *                                 [--conns N] [--keep]
 *
 * compares Algolia's protocol (api/ep_algolia.c, docs/algolia.md) with /v1/search side by side:
 * for each query of the same real mix, InstantSearch's request (a multi-query: the main query
 * with two refined disjunctive facets, section and a numeric range, and one query per refined
 * facet without its refinement) against the same search through /v1/search (its own disjunctive
 * facets, the same filter, highlighting). The server (one loop) is pinned to CPU 0 and the
 * clients (keep-alive connections of the test kit, one thread each) to CPU 1; rounds (10) of a
 * run of each API (5 s), the order alternating (ABBA), every run on queries of the mix not sent
 * before (a run right after another on the same queries found the searcher's dictionary cache
 * warm for their terms, and measured 1.6 times faster). Last line: JSON with algolia_qps and
 * native_qps (the means) and ratio_vs_native (the median of the rounds' ratios). */
#include "api_int.h"
#include "bench.h"
#include "kit/http.h"
#include "souk/search.h"
#include "souk/souk.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct qlist {
    char **q;
    size_t n, cap;
} qlist;

typedef struct load_result {
    double qps, p50, p99, p999, mean_us;
    unsigned long done, failed, non200;
} load_result;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof set, &set);
}

static void ql_add(qlist *l, const char *q)
{
    bench_grow((void **)&l->q, &l->cap, l->n + 1, sizeof *l->q);
    l->q[l->n++] = strdup(q);
}

/* The real query mix: every query of the logs, in file order, up to max. */
static void load_mix(const char *root, qlist *l, size_t max)
{
    const char *files[] = {"queries/wands/query.csv", "queries/msmarco/topics.dl20.txt",
                           "queries/msmarco/topics.msmarco-passage.dev-subset.txt"};
    char path[PATH_MAX + 128], *line = NULL;
    size_t cap = 0, per = max / 4;
    ssize_t len;
    for (size_t f = 0; f < 3; f++) {
        snprintf(path, sizeof path, "%s/../shared/data/%s", root, files[f]);
        FILE *in = fopen(path, "r");
        size_t got = 0;
        while (in && got < per && (len = getline(&line, &cap, in)) > 0) {
            while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                line[--len] = 0;
            char *q = strchr(line, '\t');
            if (!q || !q[1])
                continue;
            q++;
            char *end = strchr(q, '\t');
            if (end)
                *end = 0;
            if (strcmp(q, "query") == 0)
                continue;
            ql_add(l, q);
            got++;
        }
        if (in)
            fclose(in);
    }
    snprintf(path, sizeof path, "%s/../shared/data/queries/algolia-bestbuy/query_suggestions.json",
             root);
    FILE *in = fopen(path, "r");
    if (in) {
        fseek(in, 0, SEEK_END);
        long sz = ftell(in);
        fseek(in, 0, SEEK_SET);
        char *buf = malloc((size_t)sz + 1);
        if (fread(buf, 1, (size_t)sz, in) == (size_t)sz) {
            buf[sz] = 0;
            cJSON *j = cJSON_Parse(buf), *e;
            size_t got = 0;
            cJSON_ArrayForEach(e, j)
            {
                const char *q = cJSON_GetStringValue(cJSON_GetObjectItem(e, "query"));
                if (q && *q && got++ < per)
                    ql_add(l, q);
            }
            cJSON_Delete(j);
        }
        free(buf);
        fclose(in);
    }
    free(line);
}

static void url_encode(const char *s, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && o + 4 < cap; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.')
            out[o++] = (char)*p;
        else if (*p == ' ')
            out[o++] = '+';
        else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    out[o] = 0;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Runs argv pinned to cpu (-1: unpinned) and returns its pid; stdout to out_path if given. */
static pid_t spawn(char *const argv[], int cpu, const char *out_path)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (cpu >= 0)
            pin(cpu);
        if (out_path) {
            FILE *f = freopen(out_path, "w", stdout);
            (void)f;
        }
        execvp(argv[0], argv);
        _exit(127);
    }
    return pid;
}

/* Adds one h2load process's results to r: its q/s (over the measured duration, from its
 * summary) and the latencies of its requests that started after the warm-up second. */
static int load_add(const char *log, const char *out, load_result *r, double **lat, size_t *n,
                    size_t *cap)
{
    FILE *f = fopen(log, "r");
    if (!f)
        return -1;
    size_t first = *n;
    unsigned long long t, t0 = ~0ull, *start = NULL;
    size_t scap = 0, all = 0;
    int status;
    double us;
    while (fscanf(f, "%llu %d %lf", &t, &status, &us) == 3) {
        bench_grow((void **)lat, cap, *n + 1, sizeof **lat);
        bench_grow((void **)&start, &scap, all + 1, sizeof *start);
        start[all++] = t;
        (*lat)[(*n)++] = status == 200 ? us : -us;
        if (t < t0)
            t0 = t;
    }
    fclose(f);
    size_t keep = first;
    for (size_t i = 0; i < all; i++) {
        if (start[i] < t0 + 1000000)
            continue;
        double v = (*lat)[first + i];
        if (v < 0) {
            r->non200++;
            v = -v;
        }
        (*lat)[keep++] = v;
    }
    *n = keep;
    free(start);
    f = fopen(out, "r");
    char line[512];
    int got = 0;
    while (f && fgets(line, sizeof line, f)) {
        unsigned long tot, started, done, ok, failed;
        double secs, rate;
        if (sscanf(line, "requests: %lu total, %lu started, %lu done, %lu succeeded, %lu failed",
                   &tot, &started, &done, &ok, &failed) == 5) {
            r->done += done;
            r->failed += failed;
        }
        if (sscanf(line, "finished in %lfs, %lf req/s", &secs, &rate) == 2) {
            r->qps += rate;
            got = 1;
        }
    }
    if (f)
        fclose(f);
    return got ? 0 : -1;
}

/* h2load for duration seconds with conns connections in nproc processes (their starts spread
 * over one request interval, so rate-limited clients do not all fire in the same millisecond:
 * h2load's --rps timers of one process tick together), pinned to cpu (-1: unpinned). rps is
 * the rate of each connection; 0 = as fast as it can. Each process cycles through the query
 * mix from its own offset. */
static int h2load(const char *work, const qlist *mix, int port, int conns, int nproc, int duration,
                  double rps, int cpu, load_result *r)
{
    memset(r, 0, sizeof *r);
    pid_t pids[64];
    char log[64][PATH_MAX], out[64][PATH_MAX];
    if (nproc < 1 || nproc > 64 || conns % nproc)
        return -1;
    for (int p = 0; p < nproc; p++) {
        char c[16], d[16], rate[48], logopt[PATH_MAX + 16], uris[PATH_MAX];
        snprintf(c, sizeof c, "%d", conns / nproc);
        snprintf(d, sizeof d, "%d", duration);
        snprintf(log[p], sizeof log[p], "%s/h2load.%d.log", work, p);
        snprintf(out[p], sizeof out[p], "%s/h2load.%d.out", work, p);
        snprintf(uris, sizeof uris, "%s/uris.%d.txt", work, p);
        snprintf(logopt, sizeof logopt, "--log-file=%s", log[p]);
        snprintf(rate, sizeof rate, "--rps=%.3f", rps);
        FILE *f = fopen(uris, "w");
        if (!f)
            return -1;
        char enc[4096];
        for (size_t i = 0; i < mix->n; i++) {
            const char *q = mix->q[(i + (size_t)p * mix->n / (size_t)nproc) % mix->n];
            if (port < 0) {
                fprintf(f, "http://127.0.0.1:%d/resp.json\n", -port);
                break;
            }
            url_encode(q, enc, sizeof enc);
            fprintf(f, "http://127.0.0.1:%d/v1/search?q=%s\n", port, enc);
        }
        fclose(f);
        char *argv[20];
        int a = 0;
        argv[a++] = "h2load";
        argv[a++] = "--h1";
        argv[a++] = "-c";
        argv[a++] = c;
        argv[a++] = "-t";
        argv[a++] = "1";
        argv[a++] = "-m";
        argv[a++] = "1";
        argv[a++] = "-D";
        argv[a++] = d;
        argv[a++] = "--warm-up-time=1";
        argv[a++] = logopt;
        if (rps > 0)
            argv[a++] = rate;
        argv[a++] = "-i";
        argv[a++] = uris;
        argv[a] = NULL;
        unlink(log[p]); /* h2load appends to its log */
        pids[p] = spawn(argv, cpu, out[p]);
        if (rps > 0 && nproc > 1)
            usleep((useconds_t)(1e6 / rps / nproc));
    }
    int rc = 0;
    for (int p = 0; p < nproc; p++) {
        int status;
        if (pids[p] < 0 || waitpid(pids[p], &status, 0) != pids[p] || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0) {
            fprintf(stderr, "souk-bench http: h2load failed (see %s)\n", out[p]);
            rc = -1;
        }
    }
    double *lat = NULL;
    size_t n = 0, cap = 0;
    for (int p = 0; p < nproc && !rc; p++)
        rc = load_add(log[p], out[p], r, &lat, &n, &cap);
    if (!rc && n) {
        double sum = 0;
        qsort(lat, n, sizeof *lat, cmp_d);
        for (size_t i = 0; i < n; i++)
            sum += lat[i];
        r->p50 = lat[n / 2];
        r->p99 = lat[(size_t)((double)n * 0.99)];
        r->p999 = lat[(size_t)((double)n * 0.999)];
        r->mean_us = sum / (double)n;
    }
    free(lat);
    return rc || !n ? -1 : 0;
}

/* ------------------------------------------------------------------ open-loop load */

/* An open-loop client on the calling thread (pinned by the caller): requests of the mix arrive
 * at `rate` a second with exponential gaps (Poisson arrivals, a fixed seed), each sent on a free
 * one of `conns` keep-alive connections, or queued until one frees; a request's latency runs from
 * its scheduled arrival to its response's last byte, so time spent waiting for a connection
 * counts (no coordinated omission). h2load --rps, by contrast, sends every connection's request
 * on one timer tick: bursts of `conns` requests at once, whose queueing it then measures (at 40%
 * of the peak its p50 was 3 ms). The first second is a warm-up. */
typedef struct ol_conn {
    int fd, busy;
    double sched; /* the arrival time of the request in flight */
    char *buf;
    size_t len, cap, need; /* bytes read; the response's whole length once its head is read */
} ol_conn;

static int ol_dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

/* The whole length of a response whose head is in b[0, n), 0 while the head is incomplete. */
static size_t ol_need(const char *b, size_t n)
{
    const char *e = memmem(b, n, "\r\n\r\n", 4);
    if (!e)
        return 0;
    const char *cl = memmem(b, (size_t)(e - b), "Content-Length:", 15);
    if (!cl)
        cl = memmem(b, (size_t)(e - b), "content-length:", 15);
    return (size_t)(e + 4 - b) + (cl ? strtoul(cl + 15, NULL, 10) : 0);
}

static int open_loop(int port, const qlist *mix, int conns, double rate, int duration,
                     load_result *r)
{
    memset(r, 0, sizeof *r);
    if (conns < 1 || conns > 1000 || rate <= 0)
        return -1;
    ol_conn *c = calloc((size_t)conns, sizeof *c);
    int ep = epoll_create1(0);
    size_t maxn = (size_t)(rate * (duration + 2)) + 16;
    double *lat = malloc(maxn * sizeof *lat);
    char **reqs = calloc(mix->n, sizeof *reqs);
    size_t *reqlen = calloc(mix->n, sizeof *reqlen);
    if (!c || ep < 0 || !lat || !reqs || !reqlen)
        return -1;
    char enc[4096];
    for (size_t i = 0; i < mix->n; i++) {
        url_encode(mix->q[i], enc, sizeof enc);
        size_t cap = strlen(enc) + 128;
        reqs[i] = malloc(cap);
        reqlen[i] = (size_t)snprintf(
            reqs[i], cap, "GET /v1/search?q=%s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", enc);
    }
    int rc = 0;
    for (int i = 0; i < conns && !rc; i++) {
        c[i].fd = ol_dial(port);
        c[i].cap = 1 << 16;
        c[i].buf = malloc(c[i].cap);
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        if (c[i].fd < 0 || !c[i].buf || epoll_ctl(ep, EPOLL_CTL_ADD, c[i].fd, &ev) != 0)
            rc = -1;
    }
    unsigned long long x = 88172645463325252ull; /* xorshift: the same arrivals every run */
    double t0 = now_s(), next = t0, warm = t0 + 1, end = t0 + 1 + duration;
    double *queue = malloc(maxn * sizeof *queue); /* arrivals waiting for a connection */
    size_t qh = 0, qt = 0, nlat = 0, sent = 0;
    if (!queue)
        rc = -1;
    while (!rc) {
        double now = now_s();
        /* Arrivals due: onto the queue. */
        while (next <= now && next < end && qt < maxn) {
            queue[qt++] = next;
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            next += -log(((double)(x >> 11) + 0.5) / 9007199254740992.0) / rate;
        }
        /* Queued arrivals onto free connections. */
        for (int i = 0; i < conns && qh < qt; i++) {
            if (c[i].busy)
                continue;
            const char *q = reqs[sent % mix->n];
            size_t ql = reqlen[sent % mix->n];
            if (write(c[i].fd, q, ql) != (ssize_t)ql) {
                r->failed++;
                rc = -1;
                break;
            }
            sent++;
            c[i].busy = 1;
            c[i].sched = queue[qh++];
            c[i].len = c[i].need = 0;
        }
        int inflight = 0;
        for (int i = 0; i < conns; i++)
            inflight += c[i].busy;
        if (next >= end && qh == qt && !inflight)
            break;
        double wait = next < end ? next - now_s() : 0.05;
        struct epoll_event evs[64];
        int n = epoll_wait(ep, evs, 64, wait > 0 ? (int)(wait * 1000) : 0);
        for (int k = 0; k < n; k++) {
            ol_conn *o = &c[evs[k].data.u32];
            for (;;) {
                bench_grow((void **)&o->buf, &o->cap, o->len + 1, 1);
                ssize_t got = read(o->fd, o->buf + o->len, o->cap - o->len);
                if (got <= 0) {
                    if (got == 0 || (errno != EAGAIN && errno != EINTR))
                        rc = -1;
                    break;
                }
                o->len += (size_t)got;
            }
            if (!o->need)
                o->need = ol_need(o->buf, o->len);
            if (o->busy && o->need && o->len >= o->need) {
                double done = now_s();
                if (strncmp(o->buf, "HTTP/1.1 200", 12) != 0)
                    r->non200++;
                if (o->sched >= warm && nlat < maxn)
                    lat[nlat++] = (done - o->sched) * 1e6;
                o->busy = 0;
                o->len = o->need = 0;
            }
        }
    }
    if (!rc && nlat) {
        qsort(lat, nlat, sizeof *lat, cmp_d);
        double sum = 0;
        for (size_t i = 0; i < nlat; i++)
            sum += lat[i];
        r->done = nlat;
        r->qps = (double)nlat / duration;
        r->p50 = lat[nlat / 2];
        r->p99 = lat[(size_t)((double)nlat * 0.99)];
        r->p999 = lat[(size_t)((double)nlat * 0.999)];
        r->mean_us = sum / (double)nlat;
    }
    for (int i = 0; i < conns; i++) {
        if (c[i].fd > 0)
            close(c[i].fd);
        free(c[i].buf);
    }
    for (size_t i = 0; i < mix->n; i++)
        free(reqs[i]);
    free(reqs);
    free(reqlen);
    free(queue);
    free(lat);
    free(c);
    close(ep);
    return rc || !nlat ? -1 : 0;
}

/* Starts souk-server and returns its port (0 on failure). */
static int server_start(const char *bin, const char *data, const char *mode, const char *threads,
                        int cpu, const char *work, pid_t *pid)
{
    char out[PATH_MAX];
    snprintf(out, sizeof out, "%s/server.out", work);
    char *argv[] = {(char *)bin,     "--data",        (char *)data, "--listen",
                    "127.0.0.1:0",   "--mode",        (char *)mode, "--threads",
                    (char *)threads, "--development", NULL};
    *pid = spawn(argv, cpu, out);
    for (int i = 0; i < 100; i++) {
        usleep(50000);
        FILE *f = fopen(out, "r");
        char line[512] = "";
        if (f && fgets(line, sizeof line, f)) {
            fclose(f);
            const char *p = strstr(line, "127.0.0.1:");
            return p ? atoi(p + 10) : 0;
        }
        if (f)
            fclose(f);
    }
    return 0;
}

static void stop(pid_t pid)
{
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

/* The in-process ceilings on cpu 0: the server's handler without sockets, and souk_search; and
 * the handler without its document cache (limits.doc_cache_mb 0), measured after. */
static void in_process(const char *data, const qlist *l, double secs, double *handler_qps,
                       double *engine_qps, double *nocache_qps, double *mean_bytes)
{
    pin(0);
    char err[512];
    sk_server_state st = {0};
    pthread_mutex_t m1 = PTHREAD_MUTEX_INITIALIZER, m2 = PTHREAD_MUTEX_INITIALIZER;
    st.metrics_lock = &m1;
    st.log_lock = &m2;
    sk_config *cfg;
    sk_worker *w;
    if (sk_config_load(NULL, "en", NULL, &cfg, err, sizeof err) ||
        souk_index_open(data, NULL, SOUK_INDEX_RDONLY, &st.ix, err, sizeof err)) {
        fprintf(stderr, "souk-bench http: %s\n", err);
        exit(1);
    }
    atomic_init(&st.config, cfg);
    if (sk_worker_new(&st, &w))
        exit(1);
    sk_request *reqs = calloc(l->n, sizeof *reqs);
    char enc[4096];
    for (size_t i = 0; i < l->n; i++) {
        url_encode(l->q[i], enc, sizeof enc);
        reqs[i].method = HTTP_GET;
        reqs[i].keep_alive = 1;
        sk_buf_str(&reqs[i].url, "/v1/search?q=");
        sk_buf_str(&reqs[i].url, enc);
    }
    sk_buf out = {0};
    size_t done = 0, bytes = 0;
    double t0 = now_s(), t;
    do {
        for (size_t i = 0; i < l->n; i++) {
            out.len = 0;
            sk_handle(w, &reqs[i], 1, &out);
            bytes += out.len;
        }
        done += l->n;
    } while ((t = now_s() - t0) < secs);
    *handler_qps = (double)done / t;
    *mean_bytes = (double)bytes / (double)done;
    /* The service time of each request of the mix (one pass, warm): the tail of a single loop
     * under load starts here (a request waits for those ahead of it). */
    double *svc = malloc(l->n * sizeof *svc);
    if (svc) {
        for (size_t i = 0; i < l->n; i++) {
            double a = now_s();
            out.len = 0;
            sk_handle(w, &reqs[i], 1, &out);
            svc[i] = (now_s() - a) * 1e6;
        }
        qsort(svc, l->n, sizeof *svc, cmp_d);
        double sum = 0, over = 0;
        for (size_t i = 0; i < l->n; i++) {
            sum += svc[i];
            over += svc[i] > 1000 ? svc[i] : 0;
        }
        printf("in-process service time of the mix's requests: p50 %.0f us, p90 %.0f, p99 %.0f, "
               "p99.9 %.0f, max %.0f; requests over 1 ms take %.1f%% of the time\n",
               svc[l->n / 2], svc[l->n * 9 / 10], svc[l->n * 99 / 100], svc[l->n * 999 / 1000],
               svc[l->n - 1], 100 * over / sum);
        fflush(stdout); /* before the load generators are forked */
        free(svc);
    }
    cfg->limits.doc_cache_mb = 0; /* read by sk_handle at each request */
    done = 0;
    t0 = now_s();
    do {
        for (size_t i = 0; i < l->n; i++) {
            out.len = 0;
            sk_handle(w, &reqs[i], 1, &out);
        }
        done += l->n;
    } while ((t = now_s() - t0) < secs);
    *nocache_qps = (double)done / t;
    souk_hit hits[10];
    souk_search_opts o = {10, SOUK_BM25_DEFAULT, 0, NULL, 0, 0, NULL};
    done = 0;
    t0 = now_s();
    do {
        for (size_t i = 0; i < l->n; i++) {
            size_t n;
            souk_searcher_refresh(w->searcher);
            souk_search(w->searcher, l->q[i], strlen(l->q[i]), &o, hits, &n, NULL, err, sizeof err);
        }
        done += l->n;
    } while ((t = now_s() - t0) < secs);
    *engine_qps = (double)done / t;
    for (size_t i = 0; i < l->n; i++)
        sk_buf_free(&reqs[i].url);
    free(reqs);
    sk_buf_free(&out);
    sk_worker_free(w);
    souk_index_close(st.ix);
    cpu_set_t all;
    CPU_ZERO(&all);
    for (int c = 0; c < CPU_SETSIZE; c++)
        CPU_SET(c, &all);
    sched_setaffinity(0, sizeof all, &all);
}

/* nginx with one worker on cpu 0 serving a file of `bytes` bytes; returns its port. */
static int nginx_start(const char *work, size_t bytes, pid_t *pid)
{
    char path[PATH_MAX], conf[PATH_MAX];
    snprintf(path, sizeof path, "%s/static", work);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/static/resp.json", work);
    FILE *f = fopen(path, "w");
    if (!f)
        return 0;
    for (size_t i = 0; i < bytes; i++)
        fputc(i + 1 == bytes ? '\n' : 'x', f);
    fclose(f);
    int port = 0;
    for (int tries = 0; tries < 20 && !port; tries++) {
        int cand = 20000 + (int)(random() % 20000);
        snprintf(conf, sizeof conf, "%s/nginx.conf", work);
        f = fopen(conf, "w");
        fprintf(f,
                "%sworker_processes 1;\ndaemon off;\npid %s/nginx.pid;\nerror_log %s/nginx.err;\n"
                "events { worker_connections 1024; }\n"
                "http { access_log off; client_body_temp_path %s/tmp; proxy_temp_path %s/tmp;\n"
                "  fastcgi_temp_path %s/tmp; uwsgi_temp_path %s/tmp; scgi_temp_path %s/tmp;\n"
                "  keepalive_requests 1000000;\n"
                "  server { listen 127.0.0.1:%d; location / { root %s/static; "
                "default_type application/json; } } }\n",
                getuid() == 0 ? "user root;\n" : "", work, work, work, work, work, work, work, cand,
                work);
        fclose(f);
        char *argv[] = {"nginx", "-c", conf, "-p", (char *)work, NULL};
        *pid = spawn(argv, 0, NULL);
        usleep(300000);
        int status;
        if (waitpid(*pid, &status, WNOHANG) == 0)
            port = cand;
    }
    return port;
}

static void print_row(const char *name, const load_result *r)
{
    printf("%-34s %9.0f %8.0f %8.0f %9.0f %8lu\n", name, r->qps, r->p50, r->p99, r->p999,
           r->failed + r->non200);
}

/* What both modes share: their options (each mode's defaults and bounds; --procs is the native
 * run's, --rounds the Algolia comparison's), the catalog indexed into a work directory, the
 * query mix. 0 when ready, 2 on a usage error, 1 on a failure, -1 when the benchmark cannot run
 * here (a SKIP line printed). */
#define ALG_BENCH_ROUNDS 50

typedef struct http_run {
    char root[PATH_MAX - 128], bindir[PATH_MAX], catalog[PATH_MAX], work[PATH_MAX - 128];
    char data[PATH_MAX], server[PATH_MAX + 16];
    int duration, conns, procs, rounds, keep;
    int loads[8], nloads; /* --loads: the open-loop runs' rates, in % of the peak (80 always) */
    qlist mix;
} http_run;

static int http_prepare(int argc, char **argv, int algolia, http_run *r)
{
    const char *name = algolia ? "http-algolia" : "http";
    r->duration = algolia ? 5 : 10;
    r->conns = algolia ? 16 : 64;
    r->procs = 64;
    r->rounds = 10;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (strcmp(a, "--api") == 0 && more)
            i++;
        else if (strcmp(a, "--catalog") == 0 && more)
            snprintf(r->catalog, sizeof r->catalog, "%s", argv[++i]);
        else if (strcmp(a, "--work") == 0 && more)
            snprintf(r->work, sizeof r->work, "%s", argv[++i]);
        else if (strcmp(a, "--duration") == 0 && more)
            r->duration = atoi(argv[++i]);
        else if (strcmp(a, "--conns") == 0 && more)
            r->conns = atoi(argv[++i]);
        else if (!algolia && strcmp(a, "--procs") == 0 && more)
            r->procs = atoi(argv[++i]);
        else if (algolia && strcmp(a, "--rounds") == 0 && more)
            r->rounds = atoi(argv[++i]);
        else if (!algolia && strcmp(a, "--loads") == 0 && more) {
            char *e = argv[++i];
            while (*e && r->nloads < 7) {
                long v = strtol(e, &e, 10);
                if (v < 1 || v > 200)
                    break;
                if (v != 80)
                    r->loads[r->nloads++] = (int)v;
                e += *e == ',';
            }
        } else if (strcmp(a, "--keep") == 0)
            r->keep = 1;
        else {
            fprintf(stderr, algolia ? "usage: souk-bench http --api algolia [--catalog FILE] "
                                      "[--work DIR] [--duration S] [--rounds N] [--conns N] "
                                      "[--keep]\n"
                                    : "usage: souk-bench http [--catalog FILE] [--work DIR] "
                                      "[--duration S] [--conns N] [--procs N] [--loads P,P...] "
                                      "[--keep]\n");
            return 2;
        }
    }
    if (r->duration < 1 || r->duration > 120 ||
        (algolia ? r->conns < 1 || r->conns > 256 || r->rounds < 1 || r->rounds > ALG_BENCH_ROUNDS
                 : r->conns < 1 || r->conns > 1000 || r->procs < 1 || r->procs > 64 ||
                       r->conns % r->procs)) {
        if (algolia)
            fprintf(stderr,
                    "souk-bench http --api algolia: --duration 1..120, --rounds 1..%d, "
                    "--conns 1..256\n",
                    ALG_BENCH_ROUNDS);
        else
            fprintf(stderr, "souk-bench http: --duration 1..120, --conns 1..1000, --procs 1..64 "
                            "dividing --conns\n");
        return 2;
    }
    if (bench_locate(r->root, sizeof r->root, r->bindir, sizeof r->bindir) != 0)
        return 1;
    if (bench_catalog(r->root, r->catalog, sizeof r->catalog))
        return -1;
    if (!algolia) {
        if (system("command -v h2load >/dev/null && command -v nginx >/dev/null") != 0 &&
            access("/usr/sbin/nginx", X_OK) != 0) {
            printf("SKIP: h2load (nghttp2-client) or nginx (nginx-light) is not installed\n");
            return -1;
        }
        setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 0);
    }
    if (bench_workdir(name, r->work, sizeof r->work))
        return 1;
    snprintf(r->data, sizeof r->data, "%s/souk", r->work);
    snprintf(r->server, sizeof r->server, "%s/souk-server", r->bindir);
    if (bench_index_debian(name, r->catalog, r->root, r->bindir, r->data) != 0)
        return 1;
    load_mix(r->root, &r->mix, algolia ? 8000 : 2000);
    if (r->mix.n == 0) {
        printf("SKIP: no queries under ../shared/data/queries/\n");
        return -1;
    }
    return 0;
}

static int run_algolia(http_run *r);
static int run_native(http_run *r);

int bench_http(int argc, char **argv)
{
    int algolia = 0;
    for (int i = 0; i + 1 < argc; i++)
        if (strcmp(argv[i], "--api") == 0) {
            if (strcmp(argv[i + 1], "algolia") != 0) {
                fprintf(stderr, "souk-bench http: --api algolia is the only other API\n");
                return 2;
            }
            algolia = 1;
        }
    http_run *r = calloc(1, sizeof *r);
    if (!r)
        return 1;
    int rc = http_prepare(argc, argv, algolia, r);
    if (rc == 0) {
        rc = algolia ? run_algolia(r) : run_native(r);
        if (!r->keep) {
            char cmd[3 * PATH_MAX];
            snprintf(cmd, sizeof cmd, "rm -rf '%s'", r->work);
            if (system(cmd) != 0)
                rc = 1;
        }
    }
    free(r);
    return rc < 0 ? 0 : rc;
}

/* The native run (the header comment's first part). */
static int run_native(http_run *r)
{
    int duration = r->duration, conns = r->conns, nproc = r->procs;
    const char *work = r->work, *data = r->data, *server = r->server;
    qlist mix = r->mix;
    printf("souk-bench http: %zu real queries, %d connections, %d s per run, server on CPU 0, "
           "h2load on CPU 1\n",
           mix.n, conns, duration);
    fflush(stdout);

    double handler_qps, engine_qps, nocache_qps, mean_bytes;
    in_process(data, &mix, 5, &handler_qps, &engine_qps, &nocache_qps, &mean_bytes);

    pid_t spid;
    int port = server_start(server, data, "reuseport", "1", 0, work, &spid);
    if (!port) {
        fprintf(stderr, "souk-bench http: the server did not start\n");
        return 1;
    }
    load_result peak, at80;
    int rc = h2load(work, &mix, port, conns, nproc, duration, 0, 1, &peak);
    if (rc == 0) {
        /* 80% of the peak, open loop (Poisson arrivals) from this thread on CPU 1. */
        pin(1);
        rc = open_loop(port, &mix, conns, 0.8 * peak.qps, duration, &at80);
        for (int l = 0; l < r->nloads && rc == 0; l++) {
            load_result lr;
            char name[64];
            rc = open_loop(port, &mix, conns, r->loads[l] / 100.0 * peak.qps, duration, &lr);
            snprintf(name, sizeof name, "  at %d%% of that rate, open loop", r->loads[l]);
            if (rc == 0) {
                print_row(name, &lr);
                fflush(stdout); /* before the next load generators are forked */
            }
        }
        cpu_set_t all;
        CPU_ZERO(&all);
        for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
            CPU_SET(cpu, &all);
        sched_setaffinity(0, sizeof all, &all);
    }
    stop(spid);
    if (rc)
        return 1;

    /* The modes on both cores (server and load share them: for the choice, not the ceiling). */
    load_result mode_r[2];
    const char *modes[2] = {"reuseport", "queue"};
    for (int m = 0; m < 2; m++) {
        port = server_start(server, data, modes[m], "2", -1, work, &spid);
        if (!port || h2load(work, &mix, port, conns, nproc, duration, 0, -1, &mode_r[m])) {
            stop(spid);
            return 1;
        }
        stop(spid);
    }

    pid_t npid;
    load_result ng = {0};
    int nport = nginx_start(work, (size_t)mean_bytes, &npid);
    if (nport) {
        /* Fewer load processes here: nginx is fast enough for h2load's own cost to show. */
        h2load(work, &mix, -nport, conns, nproc > 16 ? 16 : nproc, duration, 0, 1, &ng);
        kill(npid, SIGQUIT);
        waitpid(npid, NULL, 0);
    } else {
        fprintf(stderr, "souk-bench http: nginx did not start (see %s/nginx.err)\n", work);
    }

    printf("\n%-34s %9s %8s %8s %9s %8s\n", "run", "q/s", "p50 us", "p99 us", "p99.9 us", "errors");
    print_row("souk-server, 1 loop on CPU 0", &peak);
    print_row("  at 80% of that rate, open loop", &at80);
    print_row("souk-server reuseport, 2 loops", &mode_r[0]);
    print_row("souk-server queue, 1 loop + 2 pool", &mode_r[1]);
    if (nport)
        print_row("nginx static file, 1 worker", &ng);
    printf("in-process on CPU 0: handler %.0f q/s (without its document cache %.0f), engine "
           "alone %.0f q/s; mean response %.0f bytes\n",
           handler_qps, nocache_qps, engine_qps, mean_bytes);
    printf("HTTP / in-process handler = %.2f; HTTP / engine = %.2f; HTTP / nginx = %.2f\n",
           peak.qps / handler_qps, peak.qps / engine_qps, ng.qps > 0 ? peak.qps / ng.qps : 0);
    printf("{\"qps\":%.0f,\"p50_us\":%.0f,\"p99_us\":%.0f,\"p999_us\":%.0f,"
           "\"in_process_qps\":%.0f,\"engine_qps\":%.0f,\"ratio_vs_in_process\":%.3f,"
           "\"ratio_vs_engine\":%.3f,\"nginx_qps\":%.0f,\"ratio_vs_nginx\":%.3f,"
           "\"qps_at_80pct\":%.0f,\"p99_us_at_80pct\":%.0f,\"qps_reuseport_2\":%.0f,"
           "\"qps_queue_2\":%.0f,\"in_process_no_doc_cache_qps\":%.0f,\"errors\":%lu}\n",
           peak.qps, peak.p50, peak.p99, peak.p999, handler_qps, engine_qps, peak.qps / handler_qps,
           peak.qps / engine_qps, ng.qps, ng.qps > 0 ? peak.qps / ng.qps : 0, at80.qps, at80.p99,
           mode_r[0].qps, mode_r[1].qps, nocache_qps,
           peak.failed + peak.non200 + at80.failed + at80.non200);
    return 0;
}

/* ------------------------------------------------------------------ --api algolia */

typedef struct reqset {
    char **raw; /* whole HTTP requests */
    size_t *len;
    size_t n;
} reqset;

typedef struct client_arg {
    const reqset *rs;
    int port;
    size_t start;
    double until;
    unsigned long done, errors;
} client_arg;

static void *client_run(void *arg)
{
    client_arg *a = arg;
    pin(1);
    kit_conn *c = kit_dial(a->port);
    size_t i = a->start;
    kit_resp r = {0};
    while (c && now_s() < a->until) {
        size_t k = i++ % a->rs->n;
        if (kit_send(c, a->rs->raw[k], a->rs->len[k]) || kit_read(c, &r)) {
            a->errors++;
            break;
        }
        if (r.status == 200)
            a->done++;
        else
            a->errors++;
        kit_resp_free(&r);
    }
    kit_close(c);
    return NULL;
}

/* conns client threads on CPU 1 for secs seconds, client i from request cursor[i] on, which
 * moves past the requests it sent: the next run, of either API, goes on with queries not sent
 * just before (the searcher's dictionary cache would be warm for their terms). The rate of 200
 * answers. */
static double drive(const reqset *rs, int port, int conns, double secs, size_t *cursor,
                    unsigned long *errors)
{
    pthread_t t[256];
    client_arg a[256];
    double t0 = now_s();
    for (int i = 0; i < conns; i++) {
        a[i] = (client_arg){rs, port, cursor[i], t0 + secs, 0, 0};
        pthread_create(&t[i], NULL, client_run, &a[i]);
    }
    unsigned long done = 0;
    for (int i = 0; i < conns; i++) {
        pthread_join(t[i], NULL);
        done += a[i].done;
        *errors += a[i].errors;
        cursor[i] += a[i].done + a[i].errors;
    }
    return (double)done / (now_s() - t0);
}

static void rs_add(reqset *rs, const char *raw, size_t len)
{
    rs->raw = realloc(rs->raw, (rs->n + 1) * sizeof *rs->raw);
    rs->len = realloc(rs->len, (rs->n + 1) * sizeof *rs->len);
    rs->raw[rs->n] = malloc(len);
    memcpy(rs->raw[rs->n], raw, len);
    rs->len[rs->n++] = len;
}

/* One InstantSearch request of query q (its main query and the two disjunctive queries), and
 * the same search through /v1/search. */
static void build_pair(const char *q, reqset *alg, reqset *nat)
{
    static const char *filt = "section IN [\"libs\", \"devel\", \"utils\"] AND installed_size_kb "
                              ">= 10 AND installed_size_kb <= 100000";
    char enc[4096], fenc[1024], raw[16384];
    url_encode(q, enc, sizeof enc);
    url_encode(filt, fenc, sizeof fenc);
    int n = snprintf(raw, sizeof raw,
                     "GET /v1/search?q=%s&operator=and&prefix=true&typo=true&highlight=true&"
                     "per_page=20&facets=section,tags&facet_size=10&filter=%s HTTP/1.1\r\n"
                     "Host: b\r\n\r\n",
                     enc, fenc);
    if (n <= 0 || n >= (int)sizeof raw)
        return;
    cJSON *body = cJSON_CreateObject(), *reqs = cJSON_AddArrayToObject(body, "requests");
    for (int k = 0; k < 3; k++) {
        cJSON *r = cJSON_CreateObject(), *ff = cJSON_CreateArray(), * or = cJSON_CreateArray();
        cJSON_AddStringToObject(r, "indexName", "debian_packages");
        cJSON_AddStringToObject(r, "query", q);
        cJSON_AddStringToObject(r, "highlightPreTag", "__ais-highlight__");
        cJSON_AddStringToObject(r, "highlightPostTag", "__/ais-highlight__");
        cJSON_AddNumberToObject(r, "maxValuesPerFacet", 10);
        cJSON_AddNumberToObject(r, "page", 0);
        cJSON_AddItemToArray(or, cJSON_CreateString("section:devel"));
        cJSON_AddItemToArray(or, cJSON_CreateString("section:libs"));
        cJSON_AddItemToArray(or, cJSON_CreateString("section:utils"));
        cJSON_AddItemToArray(ff, or);
        cJSON *nf = cJSON_CreateArray();
        cJSON_AddItemToArray(nf, cJSON_CreateString("installed_size_kb>=10"));
        cJSON_AddItemToArray(nf, cJSON_CreateString("installed_size_kb<=100000"));
        if (k == 0) {
            const char *f[] = {"installed_size_kb", "section", "tags"};
            cJSON_AddItemToObject(r, "facets", cJSON_CreateStringArray(f, 3));
        } else {
            cJSON_AddStringToObject(r, "facets", k == 1 ? "section" : "installed_size_kb");
            cJSON_AddNumberToObject(r, "hitsPerPage", 0);
            cJSON_AddFalseToObject(r, "analytics");
            cJSON_AddFalseToObject(r, "clickAnalytics");
        }
        if (k != 1)
            cJSON_AddItemToObject(r, "facetFilters", ff);
        else
            cJSON_Delete(ff);
        if (k != 2)
            cJSON_AddItemToObject(r, "numericFilters", nf);
        else
            cJSON_Delete(nf);
        cJSON_AddItemToArray(reqs, r);
    }
    char *b = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    int m = b ? snprintf(raw + n, sizeof raw - (size_t)n,
                         "POST /1/indexes/*/queries HTTP/1.1\r\nHost: b\r\n"
                         "Content-Type: text/plain\r\nContent-Length: %zu\r\n\r\n%s",
                         strlen(b), b)
              : -1;
    if (m > 0 && m < (int)sizeof raw - n) {
        rs_add(nat, raw, (size_t)n);
        rs_add(alg, raw + n, (size_t)m);
    }
    free(b);
}

/* The Algolia comparison (the header comment's second part). */
static int run_algolia(http_run *r)
{
    int duration = r->duration, conns = r->conns, rounds = r->rounds;
    const char *work = r->work, *data = r->data, *server = r->server;
    qlist mix = r->mix;
    reqset alg = {0}, nat = {0};
    for (size_t i = 0; i < mix.n; i++)
        build_pair(mix.q[i], &alg, &nat);
    printf("souk-bench http --api algolia: %zu real queries, each as InstantSearch's multi-query "
           "(main + 2 disjunctive) and as one /v1/search; %d connections, %d rounds of %d s a run, "
           "server on CPU 0, clients on CPU 1\n",
           alg.n, conns, rounds, duration);
    fflush(stdout);
    pid_t spid;
    int port = server_start(server, data, "reuseport", "1", 0, work, &spid);
    if (!port) {
        fprintf(stderr, "souk-bench http: the server did not start\n");
        return 1;
    }
    unsigned long errors = 0;
    size_t cursor[256];
    for (int i = 0; i < conns; i++)
        cursor[i] = (size_t)i * nat.n / (size_t)conns;
    drive(&nat, port, conns, 1, cursor, &errors); /* warm-up: the columns */
    errors = 0;
    /* Rounds of a run of each API, alternating which goes first (ABBA), every run on queries not
     * sent before (the cursors move on). The machine is shared: a burst of other work lands in
     * one run of a pair, so the ratio reported is the median of the rounds' ratios (and the
     * rates are the means). */
    double nq = 0, aq = 0, ratio[ALG_BENCH_ROUNDS];
    for (int round = 0; round < rounds; round++) {
        double n, a;
        if (round % 2 == 0) {
            n = drive(&nat, port, conns, duration, cursor, &errors);
            a = drive(&alg, port, conns, duration, cursor, &errors);
        } else {
            a = drive(&alg, port, conns, duration, cursor, &errors);
            n = drive(&nat, port, conns, duration, cursor, &errors);
        }
        printf("round %d (%s first): /v1/search %.0f q/s, algolia %.0f q/s (%.3f)\n", round + 1,
               round % 2 ? "algolia" : "/v1/search", n, a, n > 0 ? a / n : 0);
        fflush(stdout);
        ratio[round] = n > 0 ? a / n : 0;
        nq += n / rounds;
        aq += a / rounds;
    }
    stop(spid);
    qsort(ratio, (size_t)rounds, sizeof *ratio, cmp_d);
    double median =
        rounds % 2 ? ratio[rounds / 2] : (ratio[rounds / 2 - 1] + ratio[rounds / 2]) / 2;
    printf("{\"algolia_qps\":%.0f,\"native_qps\":%.0f,\"ratio_vs_native\":%.3f,"
           "\"ratio_of_means\":%.3f,\"min_ratio\":%.3f,\"max_ratio\":%.3f,\"rounds\":%d,"
           "\"queries\":%zu,\"conns\":%d,\"errors\":%lu}\n",
           aq, nq, median, nq > 0 ? aq / nq : 0, ratio[0], ratio[rounds - 1], rounds, alg.n, conns,
           errors);
    return errors ? 1 : 0;
}
