/* bench_events.c: souk-bench events, the behaviour-event store on real data (MovieLens
 * ml-latest-small, tests/kit/behavior.h: 100,004 ratings of 671 users -> 100,004 view events
 * and 51,568 purchase events).
 *
 *   souk-bench events [--work DIR] [--duration S] [--conns N] [--searches N] [--keep]
 *                     [--no-http]
 *
 * Parts, each reported as it ends, and a JSON line last:
 *   1. events_per_s: the events replayed through souk_events_ingest (from an NDJSON file, the
 *      default batch) into a fresh store with every feature maintained (item tags from the
 *      movies' genres, consent on for every user, retention 0 since the data is 1995-2016),
 *      repeated into fresh stores for at least --duration seconds (default 30); the ingest's
 *      own seconds are summed. peak_rss_mb: the process's high-water mark after the replays.
 *   2. erasure, in process, on the last (full) store: the heaviest user (547, 3,422 events)
 *      from souk_erase_start to souk_erase_run's return (deletion and compaction), while a
 *      thread runs what a personalized search reads (a catalog search on the movies' index,
 *      the popular items and a user's recent items); their p99 before and during.
 *   3. over HTTP (a souk-server on 127.0.0.1 with the movies as its catalog, started as
 *      bench_http.c starts it): http_events_per_s, POST /v1/events in batches of 100 lines
 *      from --conns connections (default 2), into a fresh events store per round, rounds for
 *      at least --duration seconds; consent_overhead_us: the p50 of a search with the heaviest
 *      user's X-User-Token minus the p50 without, alternating, in the same run; and the
 *      erasure through the server (erasure_seconds_http) with searches running.
 * erasure_seconds in the JSON is the HTTP one when the server ran it, else the in-process one
 * (erasure_where says which). A part that cannot run is null in the JSON, with its reason
 * printed. */
#include "bench.h"
#include "check.h"
#include "kit/behavior.h"
#include "kit/http.h"
#include "souk/buf.h"
#include "souk/events.h"
#include "souk/index.h"
#include "souk/keys.h"
#include "souk/search.h"
#include "souk/souk.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The server's names for the event API (docs/api.md of ev-server). */
#define EV_PATH "/v1/events"
#define EV_BATCH 100

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long peak_rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            kb = atol(line + 6);
    if (f)
        fclose(f);
    return kb;
}

static void rm_rf(const char *dir)
{
    char cmd[2 * PATH_MAX];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "souk-bench events: could not remove %s\n", dir);
}

/* A key ring of one random key at path, mode 0600. */
static int write_ring(const char *path)
{
    unsigned char k[32];
    FILE *r = fopen("/dev/urandom", "rb");
    if (!r || fread(k, 1, sizeof k, r) != sizeof k) {
        if (r)
            fclose(r);
        return -1;
    }
    fclose(r);
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

/* ------------------------------------------------------------------ the movies' genres */

typedef struct movies {
    char **genres; /* by movieId: "drama|romance" lower case, or NULL */
    size_t n;
    char **words; /* title words, for the query mix */
    size_t nwords;
} movies;

static int movies_load(movies *m)
{
    FILE *f = fopen(behavior_path(BEHAVIOR_MOVIELENS, "movies.tsv"), "r");
    if (!f)
        return -1;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    m->n = 200000;
    m->genres = calloc(m->n, sizeof *m->genres);
    m->words = calloc(20000, sizeof *m->words);
    if (!m->genres || !m->words) {
        fclose(f);
        return -1;
    }
    while ((len = getline(&line, &cap, f)) > 0) {
        char *t1 = strchr(line, '\t'), *t2 = t1 ? strchr(t1 + 1, '\t') : NULL,
             *t3 = t2 ? strchr(t2 + 1, '\t') : NULL;
        unsigned long id = strtoul(line, NULL, 10);
        if (!t3 || !isdigit((unsigned char)line[0]) || id >= m->n)
            continue;
        *t1 = *t2 = 0;
        char *g = t3 + 1;
        g[strcspn(g, "\r\n")] = 0;
        for (char *p = g; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        if (g[0] && g[0] != '(')
            m->genres[id] = strdup(g);
        /* The title's first word of 4+ letters: a query a user of this catalog types. */
        if (m->nwords < 20000) {
            for (char *w = strtok(t1 + 1, " ,.:()!?'\"&-"); w; w = strtok(NULL, " ,.:()!?'\"&-"))
                if (strlen(w) >= 4) {
                    m->words[m->nwords++] = strdup(w);
                    break;
                }
        }
    }
    free(line);
    fclose(f);
    return 0;
}

/* souk_events_opts.item_tags: "category:<genre>" for each genre of "ml-<id>". */
static int movie_tags(void *arg, const char *item, char (*tags)[64], int max)
{
    const movies *m = arg;
    unsigned long id;
    if (strncmp(item, "ml-", 3) != 0 || (id = strtoul(item + 3, NULL, 10)) >= m->n ||
        !m->genres[id])
        return 0;
    int n = 0;
    const char *g = m->genres[id];
    while (*g && n < max) {
        size_t l = strcspn(g, "|");
        snprintf(tags[n++], 64, "category:%.*s", (int)(l < 50 ? l : 50), g);
        g += l + (g[l] == '|');
    }
    return n;
}

/* ------------------------------------------------------------------ 1. the in-process replay */

typedef struct ctx {
    char root[PATH_MAX], bindir[PATH_MAX], work[PATH_MAX];
    char events[PATH_MAX + 64];     /* MovieLens events, times as in the data */
    char events_now[PATH_MAX + 64]; /* the same moved to the present (for the server) */
    char ring[PATH_MAX + 64], tokring[PATH_MAX + 64];
    behavior_stats st, st_now;
    movies mv;
    souk_keyring *kr;
    double duration;
    int conns;
    size_t searches;
} ctx;

static void store_opts(ctx *c, souk_events_opts *o)
{
    memset(o, 0, sizeof *o);
    o->keys = c->kr;
    o->consent_default.personalization = 1;
    o->consent_default.search_history = 1;
    o->consent_default.location = 1;
    o->item_tags = movie_tags;
    o->item_tags_arg = &c->mv;
}

/* Replays into fresh stores for c->duration; leaves the last one open in *keep. */
static int replay(ctx *c, double *eps, int *rounds, souk_events **keep, char *keepdir,
                  size_t keepcap)
{
    souk_events_opts o;
    store_opts(c, &o);
    int64_t now = c->st.last_ms + 86400000LL;
    double spent = 0, t_start = now_s();
    uint64_t events = 0;
    char err[512];
    *keep = NULL;
    for (int r = 0;; r++) {
        snprintf(keepdir, keepcap, "%s/store-%d", c->work, r);
        souk_events *s;
        mkdir(keepdir, 0700);
        if (souk_events_open(keepdir, &o, &s, err, sizeof err) != 0) {
            fprintf(stderr, "souk-bench events: %s\n", err);
            return -1;
        }
        int fd = open(c->events, O_RDONLY);
        if (fd < 0) {
            souk_events_close(s);
            return -1;
        }
        souk_ev_ingest_opts io = {.now_ms = now};
        souk_ev_ingest_stats ist;
        memset(&ist, 0, sizeof ist);
        double t0 = now_s();
        int rc = souk_events_ingest(s, fd, "movielens.ndjson", &io, &ist, err, sizeof err);
        double t1 = now_s();
        close(fd);
        if (rc != 0) {
            fprintf(stderr, "souk-bench events: ingest: %s\n", err);
            souk_events_close(s);
            return -1;
        }
        spent += t1 - t0;
        events += ist.lines - ist.rejected;
        printf("  round %d: %" PRIu64 " lines in %.2f s (%.0f events/s): stored %" PRIu64
               ", anonymous %" PRIu64 ", duplicate %" PRIu64 ", expired %" PRIu64
               ", rejected %" PRIu64 "\n",
               r + 1, ist.lines, t1 - t0, (double)ist.lines / (t1 - t0), ist.counts.stored,
               ist.counts.anonymous, ist.counts.duplicate, ist.counts.expired, ist.rejected);
        fflush(stdout);
        *rounds = r + 1;
        if (now_s() - t_start >= c->duration) {
            *keep = s;
            break;
        }
        souk_events_close(s);
        rm_rf(keepdir);
    }
    *eps = spent > 0 ? (double)events / spent : 0;
    return 0;
}

/* ------------------------------------------------------------------ 2. erasure in process */

typedef struct lat {
    double *v;
    size_t n, cap;
} lat;

static void lat_add(lat *l, double us)
{
    if (souk_grow((void **)&l->v, &l->cap, l->n + 1, sizeof *l->v, SIZE_MAX))
        return;
    l->v[l->n++] = us;
}

typedef struct reader_arg {
    ctx *c;
    souk_events *s;
    souk_searcher *se; /* the movies' index (NULL: events reads only) */
    int64_t now;
    atomic_int phase; /* 0 before, 1 during, 2 stop */
    lat before, during;
} reader_arg;

static int count_item(void *arg, souk_ev_type t, const char *item, int64_t ts)
{
    (void)t, (void)item, (void)ts;
    ++*(size_t *)arg;
    return 0;
}

static void *reader(void *p)
{
    reader_arg *a = p;
    size_t i = 0;
    char err[256], user[32];
    souk_hit hits[10];
    for (int ph; (ph = atomic_load(&a->phase)) < 2; i++) {
        double t0 = now_s();
        if (a->se) {
            const char *q = a->c->mv.nwords ? a->c->mv.words[i % a->c->mv.nwords] : "love";
            souk_search_opts o = {.k = 10};
            size_t nh;
            souk_searcher_refresh(a->se);
            souk_search(a->se, q, strlen(q), &o, hits, &nh, NULL, err, sizeof err);
        }
        size_t n = 0;
        souk_popular_items(a->s, a->now, 10, count_item, &n);
        snprintf(user, sizeof user, "ml-u%zu", 1 + (i * 7) % 671);
        souk_user_items(a->s, user, strlen(user), 50, count_item, &n);
        double us = (now_s() - t0) * 1e6;
        lat_add(ph == 0 ? &a->before : &a->during, us);
    }
    return NULL;
}

static int erase_inprocess(ctx *c, souk_events *s, double *secs, double *p99b, double *p99d)
{
    char err[512], data[PATH_MAX + 32];
    reader_arg a;
    memset(&a, 0, sizeof a);
    a.c = c;
    a.s = s;
    a.now = c->st.last_ms + 2 * 86400000LL;
    atomic_init(&a.phase, 0);
    souk_index *ix = NULL;
    snprintf(data, sizeof data, "%s/movies-index", c->work);
    if (souk_index_open(data, NULL, SOUK_INDEX_RDONLY, &ix, err, sizeof err) != 0 ||
        souk_searcher_new(ix, &a.se) != 0) {
        fprintf(stderr, "  (no movies index: events reads only: %s)\n", err);
        if (ix)
            souk_index_close(ix);
        ix = NULL;
        a.se = NULL;
    }
    pthread_t th;
    pthread_create(&th, NULL, reader, &a);
    usleep(2000000);
    atomic_store(&a.phase, 1);
    char job[33];
    souk_job_state state = SOUK_JOB_PENDING;
    int64_t upd;
    double t0 = now_s();
    const char *u = c->st.heaviest_id;
    int rc = souk_erase_start(s, u, strlen(u), a.now, job, err, sizeof err);
    if (rc == 0) {
        int n = souk_erase_run(s, a.now, err, sizeof err);
        rc = n < 0 ? n : souk_erase_state(s, job, &state, &upd, err, sizeof err);
    }
    double t1 = now_s();
    usleep(200000);
    atomic_store(&a.phase, 2);
    pthread_join(th, NULL);
    if (rc != 0 || state != SOUK_JOB_COMPLETED)
        fprintf(stderr, "souk-bench events: erasure: %s (state %d)\n", rc ? err : "not completed",
                (int)state);
    *secs = t1 - t0;
    *p99b = bench_pct(a.before.v, a.before.n, 0.99);
    *p99d = bench_pct(a.during.v, a.during.n, 0.99);
    printf("  erased %s (%zu events) in %.3f s; reads: %zu before (p99 %.0f us), %zu during "
           "(p99 %.0f us)\n",
           u, c->st.heaviest_events, *secs, a.before.n, *p99b, a.during.n, *p99d);
    if (a.se)
        souk_searcher_free(a.se);
    if (ix)
        souk_index_close(ix);
    free(a.before.v);
    free(a.during.v);
    return rc == 0 && state == SOUK_JOB_COMPLETED ? 0 : -1;
}

/* ------------------------------------------------------------------ 3. over HTTP */

typedef struct srv {
    pid_t pid;
    int port;
} srv;

static const char *SEARCH_KEY = "bench-search-key-0123456789abcdef";
static const char *INGEST_KEY = "bench-ingest-key-0123456789abcdef";
static const char *ADMIN_KEY = "bench-admin-key-0123456789abcdef";

/* "sha256:<hex>", a key as the server's config holds it (souk-server --hash-key). */
static void hash_key(const char *key, char out[80])
{
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, (const unsigned char *)key, strlen(key));
    memcpy(out, "sha256:", 7);
    sodium_bin2hex(out + 7, 80 - 7, h, sizeof h);
}

static int srv_start(ctx *c, const char *data, const char *config, srv *s)
{
    char out[PATH_MAX + 32], bin[PATH_MAX + 32];
    snprintf(out, sizeof out, "%s/server.out", c->work);
    snprintf(bin, sizeof bin, "%s/souk-server", c->bindir);
    unlink(out);
    s->pid = fork();
    if (s->pid == 0) {
        char errf[PATH_MAX + 32];
        snprintf(errf, sizeof errf, "%s/server.err", c->work);
        if (!freopen(out, "w", stdout) || !freopen(errf, "a", stderr))
            _exit(127);
        execl(bin, bin, "--data", data, "--listen", "127.0.0.1:0", "--config", config,
              (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
        usleep(50000);
        FILE *f = fopen(out, "r");
        char line[512] = "";
        if (f && fgets(line, sizeof line, f)) {
            fclose(f);
            const char *p = strstr(line, "127.0.0.1:");
            s->port = p ? atoi(p + 10) : 0;
            return s->port ? 0 : -1;
        }
        if (f)
            fclose(f);
        int st;
        if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
            s->pid = 0;
            return -1;
        }
    }
    return -1;
}

static void srv_stop(srv *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        waitpid(s->pid, NULL, 0);
    }
    s->pid = 0;
}

/* The event file split into bodies of EV_BATCH lines. */
typedef struct batches {
    char **body;
    size_t *len;
    size_t n;
    size_t lines;
} batches;

static int batches_load(const char *path, batches *b)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char *line = NULL;
    size_t cap = 0, bcap = 0;
    ssize_t len;
    FILE *cur = NULL;
    char *buf = NULL;
    size_t blen = 0, in = 0;
    memset(b, 0, sizeof *b);
    while ((len = getline(&line, &cap, f)) > 0) {
        if (!cur)
            cur = open_memstream(&buf, &blen);
        fwrite(line, 1, (size_t)len, cur);
        b->lines++;
        if (++in == EV_BATCH) {
            fclose(cur);
            cur = NULL;
            in = 0;
            size_t lcap = bcap;
            bench_grow((void **)&b->body, &bcap, b->n + 1, sizeof *b->body);
            bench_grow((void **)&b->len, &lcap, b->n + 1, sizeof *b->len);
            b->body[b->n] = buf;
            b->len[b->n++] = blen;
        }
    }
    if (cur) {
        fclose(cur);
        size_t lcap = bcap;
        bench_grow((void **)&b->body, &bcap, b->n + 1, sizeof *b->body);
        bench_grow((void **)&b->len, &lcap, b->n + 1, sizeof *b->len);
        b->body[b->n] = buf;
        b->len[b->n++] = blen;
    }
    free(line);
    fclose(f);
    return 0;
}

typedef struct post_arg {
    int port;
    const batches *b;
    size_t from, step;
    size_t ok, failed;
    unsigned long long stored, anonymous;
    int last_status;
    char last_body[256];
} post_arg;

static void *poster(void *p)
{
    post_arg *a = p;
    kit_conn *k = kit_dial(a->port);
    char head[512];
    for (size_t i = a->from; i < a->b->n; i += a->step) {
        if (!k && !(k = kit_dial(a->port))) {
            a->failed++;
            continue;
        }
        int hl = snprintf(head, sizeof head,
                          "POST " EV_PATH " HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Api-Key: %s\r\n"
                          "Content-Type: application/x-ndjson\r\nContent-Length: %zu\r\n\r\n",
                          INGEST_KEY, a->b->len[i]);
        kit_resp r = {0};
        if (kit_send(k, head, (size_t)hl) || kit_send(k, a->b->body[i], a->b->len[i]) ||
            kit_read(k, &r)) {
            a->failed++;
            kit_close(k);
            k = NULL;
            continue;
        }
        a->last_status = r.status;
        if (r.status >= 200 && r.status < 300) {
            a->ok++;
            const char *v = r.body ? strstr(r.body, "\"stored\":") : NULL;
            if (v)
                a->stored += strtoull(v + 9, NULL, 10);
            v = r.body ? strstr(r.body, "\"anonymous\":") : NULL;
            if (v)
                a->anonymous += strtoull(v + 12, NULL, 10);
        } else {
            a->failed++;
            snprintf(a->last_body, sizeof a->last_body, "%s", r.body ? r.body : "");
        }
        kit_resp_free(&r);
    }
    kit_close(k);
    return NULL;
}

/* One search; its latency in microseconds, or -1. */
static double search_once(kit_conn *k, const char *q, const char *token)
{
    char req[4096], esc[512];
    kit_url_escape(q, esc, sizeof esc);
    int n = snprintf(req, sizeof req,
                     "GET /v1/search?q=%s HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Api-Key: %s\r\n"
                     "%s%s%s\r\n",
                     esc, SEARCH_KEY, token ? "X-User-Token: " : "", token ? token : "",
                     token ? "\r\n" : "");
    kit_resp r = {0};
    double t0 = now_s();
    if (kit_send(k, req, (size_t)n) || kit_read(k, &r))
        return -1;
    double us = (now_s() - t0) * 1e6;
    int ok = r.status == 200;
    kit_resp_free(&r);
    return ok ? us : -1;
}

typedef struct search_arg {
    ctx *c;
    int port;
    atomic_int phase;
    lat before, during;
    size_t failed;
} search_arg;

static void *http_searcher(void *p)
{
    search_arg *a = p;
    kit_conn *k = kit_dial(a->port);
    for (size_t i = 0; k; i++) {
        int ph = atomic_load(&a->phase);
        if (ph >= 2)
            break;
        const char *q = a->c->mv.words[(i * 31) % a->c->mv.nwords];
        double us = search_once(k, q, NULL);
        if (us < 0) {
            a->failed++;
            kit_close(k);
            k = kit_dial(a->port);
            continue;
        }
        lat_add(ph == 0 ? &a->before : &a->during, us);
    }
    kit_close(k);
    return NULL;
}

/* The erasure through the server: an admin request, then its job polled until completed. */
static int erase_http(ctx *c, int port, double *secs, double *p99b, double *p99d)
{
    search_arg a;
    memset(&a, 0, sizeof a);
    a.c = c;
    a.port = port;
    atomic_init(&a.phase, 0);
    pthread_t th;
    pthread_create(&th, NULL, http_searcher, &a);
    usleep(2000000);
    atomic_store(&a.phase, 1);
    char target[512], esc[256], job[128] = "", req[1024];
    kit_url_escape(c->st_now.heaviest_id, esc, sizeof esc);
    int rl = snprintf(req, sizeof req,
                      "DELETE /v1/users/%s HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Api-Key: %s\r\n"
                      "Content-Length: 0\r\n\r\n",
                      esc, ADMIN_KEY);
    kit_resp r = {0};
    double t0 = now_s(), t1 = t0;
    int st = kit_request(port, req, (size_t)rl, &r);
    int ok = 0;
    const char *j = st == 202 && r.body ? json_string_value(r.body, "job") : NULL;
    if (j)
        snprintf(job, sizeof job, "%.*s", (int)strcspn(j, "\""), j);
    else
        fprintf(stderr, "  DELETE /v1/users/%s: %d %s\n", esc, st, r.body ? r.body : "");
    kit_resp_free(&r);
    while (job[0] && now_s() - t0 < 600) {
        snprintf(target, sizeof target, "/v1/erasures/%s", job);
        if (kit_get(port, target, ADMIN_KEY, &r) != 200 || !r.body) {
            kit_resp_free(&r);
            break;
        }
        const char *s = json_string_value(r.body, "state");
        int done = s && strncmp(s, "completed\"", 10) == 0;
        int failed = s && strncmp(s, "failed\"", 7) == 0;
        kit_resp_free(&r);
        if (done || failed) {
            t1 = now_s();
            ok = done;
            break;
        }
        usleep(10000);
    }
    usleep(200000);
    atomic_store(&a.phase, 2);
    pthread_join(th, NULL);
    *secs = t1 - t0;
    *p99b = bench_pct(a.before.v, a.before.n, 0.99);
    *p99d = bench_pct(a.during.v, a.during.n, 0.99);
    if (ok)
        printf("  erased %s over HTTP in %.3f s; searches: %zu before (p99 %.0f us), %zu during "
               "(p99 %.0f us), %zu failed\n",
               c->st_now.heaviest_id, *secs, a.before.n, *p99b, a.during.n, *p99d, a.failed);
    free(a.before.v);
    free(a.during.v);
    return ok ? 0 : -1;
}

typedef struct http_result {
    double eps, p50_anon, p50_user, erase_s, p99b, p99d;
    int ran_ingest, ran_consent, ran_erase;
} http_result;

static int http_part(ctx *c, http_result *hr)
{
    char data[PATH_MAX + 32], config[PATH_MAX + 32], evdir[PATH_MAX + 64], err[512];
    snprintf(data, sizeof data, "%s/movies-index", c->work);
    snprintf(config, sizeof config, "%s/server.json", c->work);
    snprintf(evdir, sizeof evdir, "%s/events", data);
    char cfg[4 * PATH_MAX];
    char hs[80], hi[80], ha[80], bin[PATH_MAX + 32];
    snprintf(bin, sizeof bin, "%s/souk-server", c->bindir);
    if (access(bin, X_OK) != 0) {
        fprintf(stderr, "souk-bench events: %s is not built\n", bin);
        return -1;
    }
    hash_key(SEARCH_KEY, hs);
    hash_key(INGEST_KEY, hi);
    hash_key(ADMIN_KEY, ha);
    snprintf(cfg, sizeof cfg,
             "{\"search_keys\":[\"%s\"],\"ingest_keys\":[\"%s\"],\"admin_keys\":[\"%s\"],"
             "\"pseudonym_key_file\":\"%s\",\"token_key_file\":\"%s\","
             "\"retention\":{\"events_days\":0,\"impressions_days\":0,\"history_days\":0},"
             "\"consent_default\":{\"personalization\":true,\"location\":true,"
             "\"search_history\":true}}\n",
             hs, hi, ha, c->ring, c->tokring);
    kit_write_file(config, cfg);

    batches b;
    if (batches_load(c->events_now, &b) != 0)
        return -1;
    double spent = 0, t_start = now_s();
    size_t events = 0;
    srv s = {0};
    for (int round = 0;; round++) {
        rm_rf(evdir);
        if (srv_start(c, data, config, &s) != 0) {
            fprintf(stderr,
                    "souk-bench events: souk-server did not start with %s (see %s/server.err)\n",
                    config, c->work);
            srv_stop(&s);
            return -1;
        }
        int n = c->conns;
        post_arg *pa = calloc((size_t)n, sizeof *pa);
        pthread_t *th = calloc((size_t)n, sizeof *th);
        double t0 = now_s();
        for (int i = 0; i < n; i++) {
            pa[i] = (post_arg){.port = s.port, .b = &b, .from = (size_t)i, .step = (size_t)n};
            pthread_create(&th[i], NULL, poster, &pa[i]);
        }
        size_t ok = 0, failed = 0;
        unsigned long long stored = 0, anonymous = 0;
        for (int i = 0; i < n; i++) {
            pthread_join(th[i], NULL);
            ok += pa[i].ok;
            failed += pa[i].failed;
            stored += pa[i].stored;
            anonymous += pa[i].anonymous;
        }
        double t1 = now_s();
        if (failed) {
            fprintf(stderr, "souk-bench events: %zu of %zu POST " EV_PATH " failed (last: %d %s)\n",
                    failed, b.n, pa[0].last_status, pa[0].last_body);
            free(pa);
            free(th);
            srv_stop(&s);
            return -1;
        }
        free(pa);
        free(th);
        spent += t1 - t0;
        events += b.lines;
        printf("  HTTP round %d: %zu events in %zu requests in %.2f s (%.0f events/s): stored "
               "%llu, anonymous %llu\n",
               round + 1, b.lines, ok, t1 - t0, (double)b.lines / (t1 - t0), stored, anonymous);
        fflush(stdout);
        if (now_s() - t_start >= c->duration)
            break;
        srv_stop(&s);
    }
    hr->eps = (double)events / spent;
    hr->ran_ingest = 1;

    /* Consent overhead: the same queries with and without the heaviest user's token. */
    souk_keyring *tk;
    char token[SOUK_TOKEN_MAX];
    const char *u = c->st_now.heaviest_id;
    if (souk_keyring_load(c->tokring, NULL, &tk, err, sizeof err) == 0 &&
        souk_token_mint(tk, u, strlen(u), bench_wall_ms() / 1000, 3600, NULL, token,
                        sizeof token) == 0) {
        kit_conn *k = kit_dial(s.port);
        lat an = {0}, us = {0};
        size_t bad = 0;
        for (size_t i = 0; k && i < 2 * c->searches; i++) {
            const char *q = c->mv.words[(i / 2 * 17) % c->mv.nwords];
            double t = search_once(k, q, i % 2 ? token : NULL);
            if (t < 0) {
                bad++;
                kit_close(k);
                k = kit_dial(s.port);
                continue;
            }
            lat_add(i % 2 ? &us : &an, t);
        }
        kit_close(k);
        hr->p50_anon = bench_pct(an.v, an.n, 0.5);
        hr->p50_user = bench_pct(us.v, us.n, 0.5);
        printf("  searches: p50 %.0f us without a user token, %.0f us with (%zu and %zu, %zu "
               "failed)\n",
               hr->p50_anon, hr->p50_user, an.n, us.n, bad);
        hr->ran_consent = an.n > 0 && us.n > 0;
        free(an.v);
        free(us.v);
        souk_keyring_free(tk);
    } else {
        fprintf(stderr, "souk-bench events: token: %s\n", err);
    }

    hr->ran_erase = erase_http(c, s.port, &hr->erase_s, &hr->p99b, &hr->p99d) == 0;
    srv_stop(&s);
    for (size_t i = 0; i < b.n; i++)
        free(b.body[i]);
    free(b.body);
    free(b.len);
    return 0;
}

/* ------------------------------------------------------------------ the driver */

static void json_num(FILE *f, const char *key, double v, int ok, int last)
{
    if (ok && isfinite(v))
        fprintf(f, "\"%s\":%.3f%s", key, v, last ? "" : ",");
    else
        fprintf(f, "\"%s\":null%s", key, last ? "" : ",");
}

int bench_events(int argc, char **argv)
{
    ctx c;
    memset(&c, 0, sizeof c);
    c.duration = 30;
    c.conns = 2;
    c.searches = 2000;
    int keep = 0, no_http = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--work") == 0 && i + 1 < argc)
            snprintf(c.work, sizeof c.work, "%s", argv[++i]);
        else if (strcmp(argv[i], "--duration") == 0 && i + 1 < argc)
            c.duration = atof(argv[++i]);
        else if (strcmp(argv[i], "--conns") == 0 && i + 1 < argc)
            c.conns = atoi(argv[++i]);
        else if (strcmp(argv[i], "--searches") == 0 && i + 1 < argc)
            c.searches = (size_t)atol(argv[++i]);
        else if (strcmp(argv[i], "--keep") == 0)
            keep = 1;
        else if (strcmp(argv[i], "--no-http") == 0)
            no_http = 1;
        else {
            fprintf(stderr, "usage: souk-bench events [--work DIR] [--duration S] [--conns N] "
                            "[--searches N] [--keep] [--no-http]\n");
            return 2;
        }
    }
    if (c.conns < 1)
        c.conns = 1;
    char why[512], err[512];
    if (!behavior_present(BEHAVIOR_MOVIELENS, why, sizeof why)) {
        printf("SKIP: %s\n", why);
        return 0;
    }
    if (bench_locate(c.root, sizeof c.root, c.bindir, sizeof c.bindir) != 0 ||
        bench_workdir("events", c.work, sizeof c.work) != 0)
        return 1;
    if (movies_load(&c.mv) != 0 || c.mv.nwords == 0) {
        fprintf(stderr, "souk-bench events: cannot read movies.tsv\n");
        return 1;
    }
    /* The events (as in the data, and moved to the present for the server), the key rings
     * (outside every data directory), and the movies' index. */
    char keys[PATH_MAX + 16];
    snprintf(keys, sizeof keys, "%s/keys", c.work);
    mkdir(keys, 0700);
    snprintf(c.ring, sizeof c.ring, "%s/pseudonym.ring", keys);
    snprintf(c.tokring, sizeof c.tokring, "%s/token.ring", keys);
    snprintf(c.events, sizeof c.events, "%s/movielens-events.ndjson", c.work);
    snprintf(c.events_now, sizeof c.events_now, "%s/movielens-events-now.ndjson", c.work);
    behavior_opts now_opts = {.end_ms = bench_wall_ms()};
    if (write_ring(c.ring) || write_ring(c.tokring) ||
        behavior_events_file(BEHAVIOR_MOVIELENS, NULL, c.events, &c.st, err, sizeof err) ||
        behavior_events_file(BEHAVIOR_MOVIELENS, &now_opts, c.events_now, &c.st_now, err,
                             sizeof err)) {
        fprintf(stderr, "souk-bench events: set-up: %s\n", err);
        return 1;
    }
    char nd[PATH_MAX + 32], cmd[8 * PATH_MAX];
    snprintf(nd, sizeof nd, "%s/movies.ndjson", c.work);
    FILE *f = fopen(nd, "w");
    size_t nmovies = 0;
    if (!f || movielens_catalog_write(f, 0, &nmovies, err, sizeof err) || fclose(f)) {
        fprintf(stderr, "souk-bench events: catalog: %s\n", err);
        return 1;
    }
    snprintf(cmd, sizeof cmd,
             "'%s/souk-index' --data '%s/movies-index' --schema '%s' catalog '%s' >/dev/null",
             c.bindir, c.work, movielens_schema_path(), nd);
    if (system(cmd) != 0) {
        fprintf(stderr, "souk-bench events: indexing the movies failed\n");
        return 1;
    }
    if (souk_keyring_load(c.ring, NULL, &c.kr, err, sizeof err) != 0) {
        fprintf(stderr, "souk-bench events: %s\n", err);
        return 1;
    }
    printf("souk-bench events: MovieLens, %zu events (%zu views, %zu purchases) of %zu users; "
           "%zu movies; work %s\n",
           c.st.events, c.st.views, c.st.purchases, c.st.users, nmovies, c.work);

    /* 1. */
    printf("1. replay through souk_events_ingest into fresh stores, >= %.0f s\n", c.duration);
    double eps = 0, er_s = NAN, p99b = NAN, p99d = NAN;
    int rounds = 0;
    souk_events *full = NULL;
    char storedir[PATH_MAX + 32];
    int ok_replay = replay(&c, &eps, &rounds, &full, storedir, sizeof storedir) == 0;
    long rss = peak_rss_kb();
    if (ok_replay)
        printf("  %.0f events/s over %d rounds; peak RSS %.1f MB\n", eps, rounds,
               (double)rss / 1024);
    /* 2. */
    int ok_erase = 0;
    if (full) {
        printf("2. erasure of the heaviest user on the full store, in process\n");
        ok_erase = erase_inprocess(&c, full, &er_s, &p99b, &p99d) == 0;
        char cerr[512];
        if (souk_events_check(full, cerr, sizeof cerr) != 0)
            printf("  souk_events_check after the erasure: %s\n", cerr);
        souk_events_close(full);
    }
    /* 3. */
    http_result hr;
    memset(&hr, 0, sizeof hr);
    if (!no_http) {
        printf("3. over HTTP: POST " EV_PATH " in batches of %d from %d connections\n", EV_BATCH,
               c.conns);
        http_part(&c, &hr);
    }
    const char *where = hr.ran_erase ? "http" : ok_erase ? "in-process" : "none";
    if (hr.ran_ingest)
        printf("  %.0f events/s over HTTP\n", hr.eps);
    printf("{\"bench\":\"events\",\"data\":\"movielens\",\"events\":%zu,\"rounds\":%d,",
           c.st.events, rounds);
    json_num(stdout, "events_per_s", eps, ok_replay, 0);
    json_num(stdout, "peak_rss_mb", (double)rss / 1024, ok_replay && rss > 0, 0);
    json_num(stdout, "http_events_per_s", hr.eps, hr.ran_ingest, 0);
    json_num(stdout, "search_p50_us", hr.p50_anon, hr.ran_consent, 0);
    json_num(stdout, "search_p50_user_us", hr.p50_user, hr.ran_consent, 0);
    json_num(stdout, "consent_overhead_us", hr.p50_user - hr.p50_anon, hr.ran_consent, 0);
    json_num(stdout, "erasure_seconds_inprocess", er_s, ok_erase, 0);
    json_num(stdout, "erasure_reads_p99_before_us", p99b, ok_erase, 0);
    json_num(stdout, "erasure_reads_p99_during_us", p99d, ok_erase, 0);
    json_num(stdout, "erasure_seconds_http", hr.erase_s, hr.ran_erase, 0);
    json_num(stdout, "erasure_search_p99_before_us", hr.p99b, hr.ran_erase, 0);
    json_num(stdout, "erasure_search_p99_during_us", hr.p99d, hr.ran_erase, 0);
    printf("\"erasure_where\":\"%s\",", where);
    json_num(stdout, "erasure_seconds", hr.ran_erase ? hr.erase_s : er_s, hr.ran_erase || ok_erase,
             1);
    printf("}\n");
    souk_keyring_free(c.kr);
    if (!keep)
        rm_rf(c.work);
    return ok_replay ? 0 : 1;
}
