/* server.c: souk-server, the libuv HTTP/JSON query server.
 *
 *   souk-server --data DIR [--listen HOST:PORT] [--config FILE] [--threads N]
 *               [--mode reuseport|queue] [--access-log FILE|-]
 *   souk-server --hash-key      (reads a key on stdin, prints the line for the config file)
 *
 * Two ways to use both cores, chosen by --mode (docs/benchmarks.md measures them):
 *   queue      one loop accepts, reads and writes; searches run on libuv's thread pool
 *              (uv_queue_work) with one searcher per pool thread; over limits.max_queue
 *              requests waiting or running, a request gets 429. The default: measured 5-9%
 *              more queries per second than reuseport on two cores shared with the clients.
 *   reuseport  N loops, one per thread, each with its own listening socket on the same port
 *              (SO_REUSEPORT: the kernel spreads connections over them) and its own searcher;
 *              a request is answered on the loop that read it, shortest first within a loop
 *              iteration.
 * A connection serves one request at a time: the parser pauses after each request, and the
 * rest of a pipelined burst waits in the read buffer, which stops growing (reading pauses) at
 * its cap. Responses go out in request order. A client that sends requests without reading the
 * answers is not answered further (nor read) while more than limits.max_output_bytes of its
 * responses are unsent, and resumes when they drain below a quarter of that, as nginx and h2o
 * do; a connection whose writes make no progress for send_timeout_ms is closed. Timers close
 * idle keep-alive connections and answer 408 to a request that does not arrive in time
 * (slowloris), counted from its first byte, a bare CRLF before it included. Past
 * max_connections a new connection gets 503 and is closed.
 *
 * Signals are handled by the main thread's loop: SIGHUP reloads --config (a bad file is
 * reported and the old configuration stays); SIGTERM and SIGINT drain: listeners close,
 * requests already received are answered, later requests get 503, idle connections close, and
 * the process exits 0 (connections still open after the drain timeout are closed). Searches
 * still running DRAIN_CUT_MS after the signal stop with partial results (ep_search.c), so the
 * drain ends within its timeout. */
#include "api_int.h"
#include "souk/recs.h"
#include "souk/souk.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#define READ_CHUNK 65536

/* Xapian 1.4.22's QueryParser leaks a little on some syntax errors (tests/kit/check.c); sanitizer
 * builds tell LeakSanitizer to ignore allocations made inside it, and only those. */
#if defined(__SANITIZE_ADDRESS__)
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:Xapian::QueryParser::Internal::parse_query\n";
}
#endif
#define DRAIN_TIMEOUT_MS 10000
/* Searches still running this long after SIGTERM stop with what they found (ep_search.c), so
 * their answers are written before the drain timeout closes the connections. */
#define DRAIN_CUT_MS 9000
#define LINGER_MS 2000

enum { MODE_REUSEPORT, MODE_QUEUE };

typedef struct loop_ctx loop_ctx;

typedef struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_shutdown_t shutdown;
    uv_work_t work;
    loop_ctx *lc;
    sk_http http;
    char *in;
    size_t in_len, in_cap, in_max;
    sk_buf out;
    sk_buf work_out;
    int busy;      /* queue mode: a request is on the thread pool */
    int writing;   /* writes in flight */
    int closing;   /* close once the writes are done */
    int lingering; /* shut down; reading and dropping until EOF */
    int gone;      /* the peer closed or errored */
    int reading;
    int out_blocked; /* over max_output_bytes unsent: neither reading nor answering */
    size_t queued;   /* bytes handed to uv_write and not yet written */
    size_t out_max, out_low;
    uint32_t send_timeout_ms;
    int handles; /* handles still open (tcp, timer) */
    uint64_t msg_t0;
    struct conn *prev, *next;
    struct conn *rprev, *rnext; /* on the loop's resume list */
    int deferred;
    size_t cost;  /* estimated cost of the waiting request */
    uint64_t seq; /* arrival order in the batch */
    /* min_seq (api/replication.c): the request waits on the loop's seq timer, busy meanwhile,
     * until its sequence is applied or the bound passes; then it is answered (checked once). */
    int seq_waiting, seq_checked;
    uint64_t seq_deadline_ms;
    struct conn *snext;
} conn;

struct loop_ctx {
    uv_loop_t loop;
    uv_tcp_t listener;
    uv_async_t wake;
    uv_timer_t drain_timer;
    int listening;
    int drain_timer_on;
    int fd;
    sk_worker *worker;
    sk_server_state *st;
    conn *conns;
    conn *resume; /* connections with a request waiting for their next turn */
    uv_check_t resume_check;
    uv_idle_t resume_idle;
    uv_prepare_t prepare;
    uint64_t iter; /* loop iterations */
    int drained;   /* on_wake has run: no batching any more */
    uint64_t seq;
    conn **batch;
    size_t batch_cap;
    pthread_t thread;
    int mode;
    atomic_long inflight; /* queue mode */
    uv_timer_t seq_timer; /* polls the applied sequence for the requests waiting on min_seq */
    int seq_timer_init;
    conn *seq_wait;
};

static _Thread_local sk_worker *pool_worker;
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static sk_worker *pool_workers[256];
static size_t npool_workers;

static void conn_process(conn *c);
static void conn_flush(conn *c);
static void on_idle(uv_idle_t *h);

/* ------------------------------------------------------------------ closing */

static void on_handle_closed(uv_handle_t *h)
{
    conn *c = h->data;
    if (--c->handles > 0)
        return;
    loop_ctx *lc = c->lc;
    if (c->deferred) {
        if (c->rprev)
            c->rprev->rnext = c->rnext;
        else
            lc->resume = c->rnext;
        if (c->rnext)
            c->rnext->rprev = c->rprev;
    }
    if (c->prev)
        c->prev->next = c->next;
    else
        lc->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    atomic_fetch_sub(&lc->st->connections, 1);
    sk_http_free(&c->http);
    sk_buf_free(&c->out);
    sk_buf_free(&c->work_out);
    souk_free(c->in);
    souk_free(c);
}

static void conn_close_now(conn *c)
{
    if (uv_is_closing((uv_handle_t *)&c->tcp))
        return;
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
    uv_close((uv_handle_t *)&c->timer, on_handle_closed);
}

static void on_linger_timeout(uv_timer_t *t)
{
    conn_close_now(t->data);
}

/* The client read nothing for send_timeout_ms while responses waited for it. */
static void on_send_timeout(uv_timer_t *t)
{
    conn *c = t->data;
    c->gone = 1;
    if (!c->busy) /* else work_done finishes it */
        conn_close_now(c);
}

/* Bytes of responses not yet written to the socket. */
static size_t conn_unsent(const conn *c)
{
    return c->out.len + c->queued;
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    conn *c = req->data;
    if (status < 0 || c->gone) {
        conn_close_now(c);
        return;
    }
    /* Read and drop what the peer still sends, so closing does not reset the connection
     * before the peer has read our last response. */
    c->lingering = 1;
    uv_timer_start(&c->timer, on_linger_timeout, LINGER_MS, 0);
}

/* Closes after pending writes (and never while a request is on the thread pool). */
static void conn_finish(conn *c)
{
    c->closing = 1;
    if (c->writing && !c->lingering && !uv_is_closing((uv_handle_t *)&c->timer))
        uv_timer_start(&c->timer, on_send_timeout, c->send_timeout_ms, 0);
    if (c->busy || c->writing || uv_is_closing((uv_handle_t *)&c->tcp) || c->lingering)
        return;
    if (c->gone) {
        conn_close_now(c);
        return;
    }
    c->shutdown.data = c;
    if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_shutdown))
        conn_close_now(c);
    else
        c->lingering = 1;
}

/* ------------------------------------------------------------------ writing */

typedef struct write_req {
    uv_write_t req;
    char *data;
    size_t len;
} write_req;

static void conn_arm_timer(conn *c);

static void on_write(uv_write_t *req, int status)
{
    write_req *wr = (write_req *)req;
    conn *c = req->data;
    c->queued -= wr->len;
    souk_free(wr->data);
    souk_free(wr);
    c->writing--;
    if (status < 0) {
        c->gone = 1;
        conn_finish(c);
        return;
    }
    if (c->closing) {
        conn_finish(c);
        return;
    }
    if (c->out_blocked && conn_unsent(c) <= c->out_low) {
        c->out_blocked = 0;
        conn_process(c); /* answers what waits in the read buffer, and reads again */
        return;
    }
    conn_arm_timer(c); /* progress: a new send deadline, or the idle timer */
}

static void conn_flush(conn *c)
{
    if (c->out.len == 0 || uv_is_closing((uv_handle_t *)&c->tcp) || c->gone)
        return;
    write_req *wr = souk_malloc(sizeof *wr);
    if (!wr) {
        c->gone = 1;
        conn_finish(c);
        return;
    }
    wr->data = c->out.p;
    wr->len = c->out.len;
    uv_buf_t b = uv_buf_init(c->out.p, (unsigned)c->out.len);
    c->out.p = NULL;
    c->out.len = c->out.cap = 0;
    wr->req.data = c;
    if (uv_write(&wr->req, (uv_stream_t *)&c->tcp, &b, 1, on_write)) {
        souk_free(wr->data);
        souk_free(wr);
        c->gone = 1;
        conn_finish(c);
        return;
    }
    c->writing++;
    c->queued += wr->len;
}

/* ------------------------------------------------------------------ timers */

static void on_timer(uv_timer_t *t)
{
    conn *c = t->data;
    if (c->lingering || c->closing)
        return;
    if (c->http.started && !c->http.complete) {
        sk_error_response(c->lc->worker, NULL, 408, "request_timeout",
                          "the request did not arrive in time", 1, &c->out);
        sk_metrics_record(c->lc->worker->m, EP_OTHER, 408, 0);
        conn_flush(c);
    }
    conn_finish(c);
}

/* Arms the connection's timer for its state: the request deadline while a request arrives
 * (from its first byte, never extended), the send deadline while answers wait for a client
 * that does not read them, the idle timeout between requests, nothing while a request runs. */
static void conn_arm_timer(conn *c)
{
    if (c->lingering || c->closing || uv_is_closing((uv_handle_t *)&c->timer))
        return;
    const sk_limits *l = &c->http.limits;
    if (c->busy) {
        uv_timer_stop(&c->timer);
    } else if (c->out_blocked) {
        c->msg_t0 = 0;
        uv_timer_start(&c->timer, on_send_timeout, c->send_timeout_ms, 0);
    } else if (c->http.started && !c->http.complete) {
        uint64_t now = uv_now(&c->lc->loop);
        if (!c->msg_t0) {
            c->msg_t0 = now;
            uv_timer_start(&c->timer, on_timer, l->header_timeout_ms, 0);
        }
    } else if (c->writing) {
        c->msg_t0 = 0;
        uv_timer_start(&c->timer, on_send_timeout, c->send_timeout_ms, 0);
    } else {
        c->msg_t0 = 0;
        uv_timer_start(&c->timer, on_timer,
                       atomic_load(&c->lc->st->draining) ? 1 : l->idle_timeout_ms, 0);
    }
}

/* ------------------------------------------------------------------ requests */

/* Answers c's request on worker w (on the calling thread), telling w the connection's socket so
 * a search can notice that its client left (ep_search.c polls it). */
static void conn_handle(conn *c, sk_worker *w, int keep_alive_ok, sk_buf *out)
{
    uv_os_fd_t fd = -1;
    if (uv_fileno((uv_handle_t *)&c->tcp, &fd))
        fd = -1;
    w->conn_fd = fd;
    sk_handle(w, &c->http.req, keep_alive_ok, out);
    w->conn_fd = -1;
}

static void work_run(uv_work_t *req)
{
    conn *c = req->data;
    if (!pool_worker) {
        if (sk_worker_new(c->lc->st, &pool_worker) == 0) {
            pthread_mutex_lock(&pool_lock);
            if (npool_workers < sizeof pool_workers / sizeof pool_workers[0])
                pool_workers[npool_workers++] = pool_worker;
            pthread_mutex_unlock(&pool_lock);
        }
    }
    int keep = !atomic_load(&c->lc->st->draining);
    if (pool_worker)
        conn_handle(c, pool_worker, keep, &c->work_out);
    else
        sk_error_response(NULL, &c->http.req, 500, "internal", "out of memory", 1, &c->work_out);
}

static void work_done(uv_work_t *req, int status)
{
    conn *c = req->data;
    (void)status;
    c->busy = 0;
    atomic_fetch_sub(&c->lc->inflight, 1);
    if (c->gone) {
        c->work_out.len = 0; /* the peer left mid-request: the late result is dropped */
        conn_finish(c);
        return;
    }
    int close = !c->http.req.keep_alive || atomic_load(&c->lc->st->draining) || c->closing;
    sk_buf_add(&c->out, c->work_out.p, c->work_out.len);
    c->work_out.len = 0;
    sk_http_next(&c->http);
    if (close) {
        conn_flush(c);
        conn_finish(c);
        return;
    }
    conn_process(c);
}

/* 1 when req asks GET or HEAD /healthz (origin-form, with or without a query string): a
 * health check, answered ahead of searches. */
static int is_healthz(const sk_request *req)
{
    const char *u = req->url.p;
    return (req->method == HTTP_GET || req->method == HTTP_HEAD) && u && req->url.len >= 8 &&
           memcmp(u, "/healthz", 8) == 0 && (req->url.len == 8 || u[8] == '?');
}

static int conn_dispatch(conn *c);

/* Every SEQ_POLL_MS, the requests waiting for their min_seq whose sequence is now applied, whose
 * wait is over (SK_MIN_SEQ_WAIT_MS) or whose client left are taken off the list and answered
 * (the endpoint then answers 503 not_caught_up if the sequence is still not applied). */
#define SEQ_POLL_MS 5
static void on_seq_timer(uv_timer_t *t)
{
    loop_ctx *lc = t->data;
    uint64_t now = uv_now(&lc->loop);
    int draining = atomic_load(&lc->st->draining);
    conn **pp = &lc->seq_wait;
    while (*pp) {
        conn *c = *pp;
        if (!c->gone && !draining && now < c->seq_deadline_ms &&
            sk_min_seq_pending(lc->st, &c->http.req)) {
            pp = &c->snext;
            continue;
        }
        *pp = c->snext;
        c->snext = NULL;
        c->seq_waiting = 0;
        c->busy = 0;
        if (c->gone || c->closing) {
            conn_finish(c);
            continue;
        }
        c->seq_checked = 1;
        if (conn_dispatch(c)) {
            conn_flush(c);
            uv_read_stop((uv_stream_t *)&c->tcp);
            c->reading = 0;
            conn_finish(c);
            continue;
        }
        conn_process(c); /* writes the answer, parses what follows */
    }
    if (!lc->seq_wait)
        uv_timer_stop(t);
}

/* Holds c's request until its min_seq is applied (see on_seq_timer). */
static void seq_wait_add(conn *c)
{
    loop_ctx *lc = c->lc;
    if (!lc->seq_timer_init) {
        uv_timer_init(&lc->loop, &lc->seq_timer);
        lc->seq_timer.data = lc;
        lc->seq_timer_init = 1;
    }
    c->busy = 1; /* nothing else is read or answered on c meanwhile, and it is not freed */
    c->seq_waiting = 1;
    c->seq_deadline_ms = uv_now(&lc->loop) + SK_MIN_SEQ_WAIT_MS;
    c->snext = lc->seq_wait;
    lc->seq_wait = c;
    if (!uv_is_active((uv_handle_t *)&lc->seq_timer))
        uv_timer_start(&lc->seq_timer, on_seq_timer, SEQ_POLL_MS, SEQ_POLL_MS);
}

/* Answers one complete request. Returns 1 when the connection must close after it. */
static int conn_dispatch(conn *c)
{
    loop_ctx *lc = c->lc;
    sk_server_state *st = lc->st;
    int draining = atomic_load(&st->draining);
    int close = !c->http.req.keep_alive || draining;
    /* Read your writes: a search or recommendation asking for a stream sequence this replica
     * has not applied waits for it on a timer, never blocking the loop (api/replication.c). */
    if (!c->seq_checked && !draining && sk_min_seq_pending(st, &c->http.req)) {
        seq_wait_add(c);
        return 0;
    }
    c->seq_checked = 0;
    if (lc->mode == MODE_REUSEPORT) {
        conn_handle(c, lc->worker, !draining, &c->out);
        sk_http_next(&c->http);
        return close;
    }
    /* A health check is answered here on the loop, never queued behind searches (which the
     * pool may be busy with for up to limits.max_search_ms each), and never refused with 429:
     * a load balancer must see a busy server as alive. It holds no snapshot afterwards. */
    if (is_healthz(&c->http.req)) {
        conn_handle(c, lc->worker, !draining, &c->out); /* sk_handle releases the snapshot */
        sk_http_next(&c->http);
        return close;
    }
    sk_config *cfg = sk_state_config(st);
    long limit = (long)cfg->limits.max_queue;
    sk_config_unref(cfg);
    if (atomic_load(&lc->inflight) >= limit) {
        sk_error_response(lc->worker, &c->http.req, 429, "overloaded",
                          "too many requests are waiting; retry shortly", close, &c->out);
        sk_metrics_record(lc->worker->m, EP_OTHER, 429, 0);
        sk_http_next(&c->http);
        return close;
    }
    atomic_fetch_add(&lc->inflight, 1);
    c->busy = 1;
    c->work.data = c;
    c->work_out.len = 0;
    if (uv_queue_work(&lc->loop, &c->work, work_run, work_done)) {
        c->busy = 0;
        atomic_fetch_sub(&lc->inflight, 1);
        sk_error_response(lc->worker, &c->http.req, 500, "internal", "cannot queue the request", 1,
                          &c->out);
        return 1;
    }
    return 0;
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    conn *c = h->data;
    (void)hint;
    if (c->lingering) {
        static _Thread_local char sink[READ_CHUNK];
        *buf = uv_buf_init(sink, sizeof sink);
        return;
    }
    size_t want = c->in_len + READ_CHUNK;
    if (want > c->in_max)
        want = c->in_max;
    if (want > c->in_cap) {
        char *p = souk_realloc(c->in, want);
        if (p) {
            c->in = p;
            c->in_cap = want;
        }
    }
    if (c->in_cap <= c->in_len) {
        *buf = uv_buf_init(NULL, 0); /* UV_ENOBUFS: reading stops below */
        return;
    }
    *buf = uv_buf_init(c->in + c->in_len, (unsigned)(c->in_cap - c->in_len));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    conn *c = s->data;
    (void)buf;
    if (c->lingering) {
        if (nread < 0)
            conn_close_now(c);
        return;
    }
    if (nread == UV_ENOBUFS) {
        uv_read_stop(s);
        c->reading = 0;
        return;
    }
    if (nread < 0) {
        uv_read_stop(s);
        c->reading = 0;
        /* A half-closed peer still gets the answer to a request already running (a search
         * longer than 2 ms sees the hang-up itself and stops early, ep_search.c); a request
         * cut off in the middle has nobody to answer. */
        if (!c->busy || nread != UV_EOF)
            c->gone = 1;
        conn_finish(c);
        return;
    }
    c->in_len += (size_t)nread;
    conn_process(c);
}

/* Scheduling in reuseport mode: requests complete in the poll phase are not answered there;
 * they join the loop's batch, and the check phase, after every ready connection was read,
 * answers the batch cheapest first (estimated by the request's size: a long query costs more
 * to run), one request per connection; a connection's next pipelined request waits for the
 * next iteration. This is fair (libuv's read loop would otherwise answer a fast client again
 * and again while others wait: measured, 60 ms waits on one loop under 64 connections), and
 * shortest-first within an iteration keeps the many short queries from queueing behind the
 * few long ones (docs/benchmarks.md). */
static void on_prepare(uv_prepare_t *h)
{
    loop_ctx *lc = h->data;
    lc->iter++;
}

static int cmp_cost(const void *a, const void *b)
{
    const conn *x = *(conn *const *)a, *y = *(conn *const *)b;
    if (x->cost != y->cost)
        return x->cost < y->cost ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* A batch of slow searches (each up to limits.max_search_ms) yields to the loop after
 * BATCH_SLICE_NS: the rest of it waits for the next iteration, ahead of the requests read
 * meanwhile except health checks, which go first (cost 0), so /healthz waits for at most the
 * search in progress on its loop. */
#define BATCH_SLICE_NS 20000000u

/* Puts the n connections of a batch not answered yet back on the resume list, first in line
 * after health checks (cost 1, their arrival order kept). */
static void batch_yield(loop_ctx *lc, conn **rest, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        conn *c = rest[i];
        c->cost = 1;
        c->rprev = NULL;
        c->rnext = lc->resume;
        if (c->rnext)
            c->rnext->rprev = c;
        lc->resume = c;
    }
    if (!uv_is_active((uv_handle_t *)&lc->resume_idle))
        uv_idle_start(&lc->resume_idle, on_idle);
}

static void on_resume(uv_check_t *h)
{
    loop_ctx *lc = h->data;
    size_t n = 0;
    for (conn *c = lc->resume; c; c = c->rnext)
        n++;
    if (n == 0) {
        if (uv_is_active((uv_handle_t *)&lc->resume_idle))
            uv_idle_stop(&lc->resume_idle);
        return;
    }
    if (n > lc->batch_cap) {
        conn **p = souk_realloc(lc->batch, n * 2 * sizeof *p);
        if (!p)
            return; /* retried in the next iteration */
        lc->batch = p;
        lc->batch_cap = n * 2;
    }
    n = 0;
    for (conn *c = lc->resume; c; c = c->rnext)
        lc->batch[n++] = c;
    lc->resume = NULL;
    qsort(lc->batch, n, sizeof *lc->batch, cmp_cost);
    uint64_t t0 = uv_hrtime();
    for (size_t i = 0; i < n; i++) {
        conn *c = lc->batch[i];
        if (i > 0 && !lc->drained && uv_hrtime() - t0 > BATCH_SLICE_NS) {
            batch_yield(lc, lc->batch + i, n - i);
            break;
        }
        c->deferred = 0;
        c->rprev = c->rnext = NULL;
        if (c->closing || c->gone || uv_is_closing((uv_handle_t *)&c->tcp))
            continue;
        c->msg_t0 = 0;
        if (conn_dispatch(c)) {
            conn_flush(c);
            uv_read_stop((uv_stream_t *)&c->tcp);
            c->reading = 0;
            conn_finish(c);
            continue;
        }
        conn_process(c); /* writes the answer, parses what follows */
    }
    if (!lc->resume && uv_is_active((uv_handle_t *)&lc->resume_idle))
        uv_idle_stop(&lc->resume_idle);
}

static void on_idle(uv_idle_t *h)
{
    (void)h; /* only keeps poll from blocking while the resume list is not empty */
}

static void conn_defer(conn *c)
{
    loop_ctx *lc = c->lc;
    if (c->deferred)
        return;
    c->deferred = 1;
    c->cost = is_healthz(&c->http.req) ? 0 : c->http.req.url.len + c->http.req.body.len + 2;
    c->seq = ++lc->seq;
    c->rprev = NULL;
    c->rnext = lc->resume;
    if (c->rnext)
        c->rnext->rprev = c;
    lc->resume = c;
    if (!uv_is_active((uv_handle_t *)&lc->resume_idle))
        uv_idle_start(&lc->resume_idle, on_idle);
}

static void conn_process(conn *c)
{
    size_t off = 0;
    int close = 0;
    loop_ctx *lc = c->lc;
    while (!c->busy && !c->closing && !uv_is_closing((uv_handle_t *)&c->tcp)) {
        /* Backpressure: no more answers (nor reading) for a client that does not read them;
         * on_write resumes when they drain. */
        if (conn_unsent(c) > c->out_max) {
            c->out_blocked = 1;
            break;
        }
        if (!c->http.complete) {
            if (off >= c->in_len)
                break;
            size_t n = sk_http_feed(&c->http, c->in + off, c->in_len - off);
            off += n;
            if (c->http.error) {
                sk_error_response(lc->worker, NULL, c->http.error,
                                  c->http.error == 413   ? "body_too_large"
                                  : c->http.error == 414 ? "uri_too_long"
                                  : c->http.error == 431 ? "headers_too_large"
                                                         : "bad_request",
                                  c->http.error_msg ? c->http.error_msg : "malformed request", 1,
                                  &c->out);
                sk_metrics_record(lc->worker->m, EP_OTHER, c->http.error, 0);
                close = 1;
                break;
            }
            if (!c->http.complete) {
                if (c->http.req.expect_continue && c->http.in_message) {
                    sk_buf_str(&c->out, "HTTP/1.1 100 Continue\r\n\r\n");
                    c->http.req.expect_continue = 0;
                }
                if (n == 0)
                    break;
                continue;
            }
        }
        /* A complete request is waiting: in reuseport mode for the check phase's batch (until
         * the drain, which closes the check handle). */
        if (lc->mode == MODE_REUSEPORT && !lc->drained) {
            conn_defer(c);
            break;
        }
        c->msg_t0 = 0;
        if (conn_dispatch(c)) {
            close = 1;
            break;
        }
    }
    if (off) {
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
    }
    conn_flush(c);
    if (close) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
        conn_finish(c);
        return;
    }
    if (c->out_blocked && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
    /* Read more unless the buffer is full of requests waiting their turn. */
    if (!c->reading && !c->gone && !c->closing && !c->out_blocked && c->in_len < c->in_max &&
        !uv_is_closing((uv_handle_t *)&c->tcp)) {
        if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
            c->reading = 1;
    }
    conn_arm_timer(c);
}

/* ------------------------------------------------------------------ accepting */

static void on_connection(uv_stream_t *server, int status)
{
    loop_ctx *lc = server->data;
    if (status < 0)
        return;
    conn *c = souk_calloc(1, sizeof *c);
    if (!c)
        return;
    uv_tcp_init(&lc->loop, &c->tcp);
    uv_timer_init(&lc->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->handles = 2;
    c->lc = lc;
    c->next = lc->conns;
    if (lc->conns)
        lc->conns->prev = c;
    lc->conns = c;
    long n = atomic_fetch_add(&lc->st->connections, 1) + 1;
    sk_config *cfg = sk_state_config(lc->st);
    sk_http_init(&c->http, &cfg->limits);
    c->http.req.url.max = cfg->limits.max_url_bytes;
    c->http.req.body.max = cfg->limits.max_body_bytes > cfg->limits.max_events_body_bytes
                               ? cfg->limits.max_body_bytes
                               : cfg->limits.max_events_body_bytes;
    c->in_max = cfg->limits.max_header_bytes + cfg->limits.max_body_bytes + READ_CHUNK;
    c->out.max = 0;
    c->out_max = cfg->limits.max_output_bytes;
    c->out_low = c->out_max / 4;
    c->send_timeout_ms = cfg->limits.send_timeout_ms;
    long max_conns = (long)cfg->limits.max_connections;
    sk_config_unref(cfg);
    if (uv_accept(server, (uv_stream_t *)&c->tcp)) {
        conn_close_now(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    if (n > max_conns) {
        sk_error_response(lc->worker, NULL, 503, "over_capacity", "too many open connections", 1,
                          &c->out);
        sk_metrics_record(lc->worker->m, EP_OTHER, 503, 0);
        conn_flush(c);
        conn_finish(c);
        return;
    }
    conn_process(c);
}

/* A listening socket on addr with SO_REUSEPORT (so every loop can have its own). */
static int listen_socket(const struct sockaddr_in *addr)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0)
        return -errno;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) ||
        bind(fd, (const struct sockaddr *)addr, sizeof *addr)) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

static void on_drain_timeout(uv_timer_t *t)
{
    loop_ctx *lc = t->data;
    for (conn *c = lc->conns; c; c = c->next)
        if (!c->busy)
            conn_close_now(c);
}

static void on_wake(uv_async_t *a)
{
    loop_ctx *lc = a->data;
    if (!atomic_load(&lc->st->draining))
        return;
    if (lc->listening) {
        uv_close((uv_handle_t *)&lc->listener, NULL);
        lc->listening = 0;
    }
    /* Requests waiting in the batch are answered now (with Connection: close); later ones are
     * answered as they complete. */
    lc->drained = 1;
    for (int i = 0; i < 64 && lc->resume; i++)
        on_resume(&lc->resume_check);
    /* Idle connections close now; busy ones after their response (Connection: close). */
    for (conn *c = lc->conns; c; c = c->next)
        if (!c->busy && !c->writing && !c->deferred && !(c->http.in_message && !c->http.complete))
            conn_finish(c);
    uv_close((uv_handle_t *)&lc->wake, NULL);
    uv_close((uv_handle_t *)&lc->resume_check, NULL);
    uv_close((uv_handle_t *)&lc->resume_idle, NULL);
    uv_close((uv_handle_t *)&lc->prepare, NULL);
    if (!lc->drain_timer_on) {
        uv_timer_init(&lc->loop, &lc->drain_timer);
        lc->drain_timer.data = lc;
        uv_timer_start(&lc->drain_timer, on_drain_timeout, DRAIN_TIMEOUT_MS, 0);
        uv_unref((uv_handle_t *)&lc->drain_timer);
        lc->drain_timer_on = 1;
    }
}

static void *loop_main(void *arg)
{
    loop_ctx *lc = arg;
    uv_run(&lc->loop, UV_RUN_DEFAULT);
    if (lc->drain_timer_on || lc->seq_timer_init) {
        if (lc->drain_timer_on)
            uv_close((uv_handle_t *)&lc->drain_timer, NULL);
        if (lc->seq_timer_init)
            uv_close((uv_handle_t *)&lc->seq_timer, NULL);
        uv_run(&lc->loop, UV_RUN_DEFAULT);
    }
    return NULL;
}

/* ------------------------------------------------------------------ main */

typedef struct server {
    sk_server_state st;
    const char *config_path;
    loop_ctx *loops;
    int nloops;
    uv_signal_t sigterm, sigint, sighup;
} server;

/* The warmer: a thread that looks at the index every 50 ms and, when it sees a new generation
 * (and at start), builds what the first filtered, faceted, sorted, browsing or typo-tolerant
 * request after a commit would otherwise build on its way (souk_searcher_warm); requests that
 * arrive meanwhile wait for that one build instead of each building their own. */
typedef struct warmer {
    sk_server_state *st;
    pthread_t thread;
    atomic_int stop;
} warmer;

static void *warm_main(void *arg)
{
    warmer *w = arg;
    souk_searcher *s;
    if (souk_searcher_new(w->st->ix, &s) != 0)
        return NULL;
    uint64_t last = UINT64_MAX;
    while (!atomic_load(&w->stop)) {
        souk_stats is;
        souk_reader *r = souk_searcher_reader(s);
        if (souk_searcher_refresh(s) == 0 && souk_reader_stats(r, &is) == 0 &&
            is.generation != last) {
            if (souk_searcher_warm(s) == 0)
                last = is.generation;
        }
        souk_reader_release(r); /* hold no snapshot while idle */
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    souk_searcher_free(s);
    return NULL;
}

static void on_signal(uv_signal_t *h, int signum)
{
    server *s = h->data;
    if (signum == SIGHUP) {
        sk_config *c;
        char err[512];
        if (sk_config_load(s->config_path, souk_index_schema(s->st.ix)->default_language,
                           s->st.data_dir, &c, err, sizeof err)) {
            fprintf(stderr, "souk-server: reload refused, keeping the old configuration: %s\n",
                    err);
            return;
        }
        sk_config *old = sk_state_config(&s->st);
        int same = sk_config_events_same(old, c, err, sizeof err);
        sk_config_unref(old);
        if (same) {
            sk_config_unref(c);
            fprintf(stderr, "souk-server: reload refused, keeping the old configuration: %s\n",
                    err);
            return;
        }
        int open = sk_config_nkeys(c) == 0;
        sk_profiles_seed(&s->st, c);
        sk_state_set_config(&s->st, c);
        atomic_fetch_add(&s->st.reloads, 1);
        fprintf(stderr, "souk-server: configuration reloaded%s\n",
                open ? " (development mode: every endpoint is open)" : "");
        return;
    }
    fprintf(stderr, "souk-server: %s: draining\n", signum == SIGTERM ? "SIGTERM" : "SIGINT");
    atomic_store(&s->st.drain_cut_ns, sk_now_ns() + (uint64_t)DRAIN_CUT_MS * 1000000u);
    atomic_store(&s->st.draining, 1);
    for (int i = 0; i < s->nloops; i++)
        uv_async_send(&s->loops[i].wake);
    uv_close((uv_handle_t *)&s->sigterm, NULL);
    uv_close((uv_handle_t *)&s->sigint, NULL);
    uv_close((uv_handle_t *)&s->sighup, NULL);
}

static int usage(void)
{
    fprintf(stderr,
            "usage: souk-server --data DIR [--listen HOST:PORT] (--config FILE | --development)\n"
            "                   [--threads N] [--mode reuseport|queue] [--access-log FILE|-]\n"
            "       souk-server --hash-key   (key on stdin; prints \"sha256:<hex>\")\n");
    return 2;
}

static int hash_key(void)
{
    char key[1024];
    if (sodium_init() < 0 || !fgets(key, sizeof key, stdin))
        return 1;
    size_t n = strcspn(key, "\r\n");
    uint8_t h[SK_KEY_HASH_LEN];
    char hex[2 * SK_KEY_HASH_LEN + 1];
    sk_key_hash(key, n, h);
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    printf("sha256:%s\n", hex);
    return 0;
}

int main(int argc, char **argv)
{
    const char *data = NULL, *listen_on = "127.0.0.1:8080", *log_path = NULL;
    server s = {0};
    int mode = MODE_QUEUE; /* measured the faster on two shared cores: docs/benchmarks.md */
    long threads = sysconf(_SC_NPROCESSORS_ONLN);
    souk_alloc_init();
    int development = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--hash-key") == 0)
            return hash_key();
        if (strcmp(argv[i], "--development") == 0) {
            development = 1;
            continue;
        }
        if (i + 1 >= argc)
            return usage();
        if (strcmp(argv[i], "--data") == 0)
            data = argv[++i];
        else if (strcmp(argv[i], "--listen") == 0)
            listen_on = argv[++i];
        else if (strcmp(argv[i], "--config") == 0)
            s.config_path = argv[++i];
        else if (strcmp(argv[i], "--threads") == 0)
            threads = strtol(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--access-log") == 0)
            log_path = argv[++i];
        else if (strcmp(argv[i], "--mode") == 0) {
            i++;
            if (strcmp(argv[i], "reuseport") == 0)
                mode = MODE_REUSEPORT;
            else if (strcmp(argv[i], "queue") == 0)
                mode = MODE_QUEUE;
            else
                return usage();
        } else
            return usage();
    }
    if (!data || threads < 1 || threads > 64)
        return usage();
    /* Open endpoints only on request: without a config, --development; with one, its own
     * "development": true (api/config.c). */
    if (!s.config_path && !development) {
        fprintf(stderr, "souk-server: no --config: give a config with keys (docs/api.md), or "
                        "--development to serve with every endpoint open\n");
        return 2;
    }
    if (s.config_path && development) {
        fprintf(stderr, "souk-server: --development is for running without --config; in a "
                        "config file, say \"development\": true\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);

    char host[64];
    int port;
    const char *colon = strrchr(listen_on, ':');
    struct sockaddr_in addr;
    if (!colon || (size_t)(colon - listen_on) >= sizeof host ||
        sscanf(colon + 1, "%d", &port) != 1 || port < 0 || port > 65535) {
        fprintf(stderr, "souk-server: --listen wants HOST:PORT, got \"%s\"\n", listen_on);
        return 2;
    }
    memcpy(host, listen_on, (size_t)(colon - listen_on));
    host[colon - listen_on] = 0;
    if (uv_ip4_addr(host, port, &addr)) {
        fprintf(stderr, "souk-server: --listen: \"%s\" is not an IPv4 address\n", host);
        return 2;
    }

    char err[512];
    sk_config *cfg;
    if (souk_index_open(data, NULL, SOUK_INDEX_RDONLY, &s.st.ix, err, sizeof err)) {
        fprintf(stderr, "souk-server: %s\n", err);
        return 1;
    }
    if (sk_config_load(s.config_path, souk_index_schema(s.st.ix)->default_language, data, &cfg, err,
                       sizeof err)) {
        fprintf(stderr, "souk-server: %s\n", err);
        return 1;
    }
    /* Ranking profiles (docs/api.md): the versioned store in DIR/profiles, seeded with the
     * configuration's profiles it does not hold yet. */
    s.st.data_dir = data;
    if (sk_profiles_open(&s.st, cfg, err, sizeof err)) {
        fprintf(stderr, "souk-server: profiles: %s\n", err);
        return 1;
    }
    /* Behaviour events (docs/api.md): the store in DIR/events, opened with the settings of the
     * configuration read at start, which stays referenced (its key ring) until the store closes. */
    sk_config *ev_cfg = NULL;
    if (cfg->ev.enabled) {
        souk_events_opts eo = {.keys = cfg->ev.pseudonym_ring,
                               .retention = cfg->ev.retention,
                               .consent_default = cfg->ev.consent_default,
                               .policy_version = cfg->ev.policy_version,
                               .item_tags = sk_item_tags,
                               .item_tags_arg = s.st.ix};
        if (souk_events_open(data, &eo, &s.st.events, err, sizeof err)) {
            fprintf(stderr, "souk-server: behaviour events: %s\n", err);
            return 1;
        }
        souk_recs_opts ro = {.events = s.st.events,
                             .min_users = cfg->recs.min_users,
                             .cap = cfg->recs.cap,
                             .category_field = cfg->recs.category_field,
                             .cap_field = cfg->recs.cap_field,
                             .replenishable = (const char *const *)cfg->recs.replenishable,
                             .nreplenishable = cfg->recs.nreplenishable,
                             .refresh_ms = 1000};
        if (souk_recs_open(&ro, &s.st.recs, err, sizeof err)) {
            fprintf(stderr, "souk-server: recommendations: %s\n", err);
            return 1;
        }
        sk_config_ref(cfg);
        ev_cfg = cfg;
    }
    pthread_mutex_t mlock = PTHREAD_MUTEX_INITIALIZER, llock = PTHREAD_MUTEX_INITIALIZER;
    s.st.metrics_lock = &mlock;
    s.st.log_lock = &llock;
    atomic_init(&s.st.config, cfg);
    s.st.data_dir = data;
    if (log_path) {
        s.st.access_log = strcmp(log_path, "-") == 0 ? stderr : fopen(log_path, "a");
        if (!s.st.access_log) {
            fprintf(stderr, "souk-server: cannot open %s: %s\n", log_path, strerror(errno));
            return 1;
        }
    }
    if (sk_config_nkeys(cfg) == 0)
        fprintf(stderr, "souk-server: no keys configured: every endpoint is open "
                        "(development mode; see docs/api.md)\n");
    if (mode == MODE_QUEUE) {
        char n[16];
        snprintf(n, sizeof n, "%ld", threads);
        setenv("UV_THREADPOOL_SIZE", n, 1);
    }
    s.nloops = mode == MODE_QUEUE ? 1 : (int)threads;
    s.loops = souk_calloc((size_t)s.nloops, sizeof *s.loops);
    int rc = 1;
    for (int i = 0; i < s.nloops; i++) {
        loop_ctx *lc = &s.loops[i];
        lc->st = &s.st;
        lc->mode = mode;
        if (uv_loop_init(&lc->loop) || sk_worker_new(&s.st, &lc->worker)) {
            fprintf(stderr, "souk-server: cannot start loop %d\n", i);
            return 1;
        }
        int fd = listen_socket(&addr);
        if (fd < 0) {
            fprintf(stderr, "souk-server: cannot listen on %s: %s\n", listen_on, strerror(-fd));
            return 1;
        }
        if (i == 0 && port == 0) { /* the others bind the port the kernel chose */
            socklen_t al = sizeof addr;
            getsockname(fd, (struct sockaddr *)&addr, &al);
        }
        uv_tcp_init(&lc->loop, &lc->listener);
        lc->listener.data = lc;
        int e = uv_tcp_open(&lc->listener, fd);
        if (!e)
            e = uv_listen((uv_stream_t *)&lc->listener, 1024, on_connection);
        if (e) {
            fprintf(stderr, "souk-server: cannot listen on %s: %s\n", listen_on, uv_strerror(e));
            return 1;
        }
        lc->listening = 1;
        uv_check_init(&lc->loop, &lc->resume_check);
        lc->resume_check.data = lc;
        uv_check_start(&lc->resume_check, on_resume);
        uv_unref((uv_handle_t *)&lc->resume_check);
        uv_idle_init(&lc->loop, &lc->resume_idle);
        lc->resume_idle.data = lc;
        uv_prepare_init(&lc->loop, &lc->prepare);
        lc->prepare.data = lc;
        uv_prepare_start(&lc->prepare, on_prepare);
        uv_unref((uv_handle_t *)&lc->prepare);
        uv_async_init(&lc->loop, &lc->wake, on_wake);
        lc->wake.data = lc;
    }
    uv_loop_t *main_loop = uv_default_loop();
    uv_signal_init(main_loop, &s.sigterm);
    uv_signal_init(main_loop, &s.sigint);
    uv_signal_init(main_loop, &s.sighup);
    s.sigterm.data = s.sigint.data = s.sighup.data = &s;
    uv_signal_start(&s.sigterm, on_signal, SIGTERM);
    uv_signal_start(&s.sigint, on_signal, SIGINT);
    uv_signal_start(&s.sighup, on_signal, SIGHUP);
    for (int i = 0; i < s.nloops; i++)
        pthread_create(&s.loops[i].thread, NULL, loop_main, &s.loops[i]);
    if (s.st.events && sk_bg_start(&s.st, cfg->ev.sweep_interval_s)) {
        fprintf(stderr, "souk-server: cannot start the erasure and retention thread\n");
        return 1;
    }
    warmer wm = {.st = &s.st};
    atomic_init(&wm.stop, 0);
    int warming = pthread_create(&wm.thread, NULL, warm_main, &wm) == 0;
    printf("souk-server: listening on http://%s:%d (%d %s, data %s)\n", host, ntohs(addr.sin_port),
           mode == MODE_QUEUE ? (int)threads : s.nloops,
           mode == MODE_QUEUE ? "pool threads behind one loop" : "loops with SO_REUSEPORT", data);
    fflush(stdout);
    uv_run(main_loop, UV_RUN_DEFAULT);
    for (int i = 0; i < s.nloops; i++)
        pthread_join(s.loops[i].thread, NULL);
    atomic_store(&wm.stop, 1);
    if (warming)
        pthread_join(wm.thread, NULL);
    sk_bg_stop(&s.st);
    souk_recs_close(s.st.recs);
    if (s.st.events)
        souk_events_close(s.st.events);
    sk_config_unref(ev_cfg);
    rc = 0;
    for (int i = 0; i < s.nloops; i++) {
        sk_worker_free(s.loops[i].worker);
        souk_free(s.loops[i].batch);
        uv_loop_close(&s.loops[i].loop);
    }
    for (size_t i = 0; i < npool_workers; i++)
        sk_worker_free(pool_workers[i]);
    uv_loop_close(main_loop);
    uv_library_shutdown();
    for (sk_metrics *m = s.st.metrics, *next; m; m = next) {
        next = m->next;
        souk_free(m);
    }
    sk_config_unref(atomic_load(&s.st.config));
    sk_profiles_close(&s.st);
    souk_free(s.loops);
    souk_index_close(s.st.ix);
    if (s.st.access_log && s.st.access_log != stderr)
        fclose(s.st.access_log);
    fprintf(stderr, "souk-server: drained, exiting\n");
    return rc;
}
