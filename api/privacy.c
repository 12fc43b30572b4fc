/* privacy.c: what the endpoints of behaviour events and users' own data share (docs/api.md,
 * "Behaviour events and privacy"): the clock, the store, and the search event a personal search
 * leaves in the user's history.
 *
 * A search event is not written on the search's path (a write transaction costs a search a
 * millisecond, docs/benchmarks.md): it joins an in-memory queue that the background thread
 * (bg.c) adds to the store in one transaction per drain, so searches arriving together share a
 * commit. Every endpoint that reads or changes a user's data drains the queue first
 * (sk_events), so a user's own search is in the history they read next, a clear or a consent
 * change sees every search made before it, and nothing queued outlives an erasure unrecorded
 * (a queued event of an erased user is refused when added: suppressed). A search event is never
 * acknowledged to anyone; a kill -9 loses what is queued (at most SK_EVQ_MAX events, usually
 * the last few milliseconds'). */
#include "api_int.h"
#include "souk/document.h"
#include "souk/events.h"
#include "souk/index.h"
#include "souk/souk.h"

#include <cjson/cJSON.h>
#include <sodium.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t sk_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ the search-event queue */

#define SK_EVQ_MAX 4096

static pthread_mutex_t evq_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t evq_flush_lock = PTHREAD_MUTEX_INITIALIZER; /* one drain at a time */
static souk_event *evq;
static size_t evq_n;

int sk_events_flush(souk_events *s)
{
    if (!s)
        return 0;
    pthread_mutex_lock(&evq_flush_lock);
    pthread_mutex_lock(&evq_lock);
    souk_event *batch = evq;
    size_t n = evq_n;
    evq = NULL;
    evq_n = 0;
    pthread_mutex_unlock(&evq_lock);
    char err[512];
    int rc = souk_events_drain(s, sk_now_ms(), NULL, err, sizeof err);
    if (rc)
        fprintf(stderr, "souk-server: queued events were not added yet: %s\n", err);
    if (n) {
        int arc = souk_events_add(s, batch, n, sk_now_ms(), NULL, NULL, err, sizeof err);
        if (arc)
            fprintf(stderr, "souk-server: %zu search event%s not recorded: %s\n", n,
                    n == 1 ? " was" : "s were", err);
        rc = rc ? rc : arc;
        sodium_memzero(batch, n * sizeof *batch); /* raw user ids */
    }
    souk_free(batch);
    pthread_mutex_unlock(&evq_flush_lock);
    return rc;
}

/* Queues ev; a full queue is drained here first (back-pressure on the searches that fill it). */
static void evq_push(sk_ctx *c, const souk_event *ev)
{
    for (int tries = 0; tries < 2; tries++) {
        pthread_mutex_lock(&evq_lock);
        if (!evq)
            evq = souk_malloc(SK_EVQ_MAX * sizeof *evq);
        if (evq && evq_n < SK_EVQ_MAX) {
            evq[evq_n++] = *ev;
            int first = evq_n == 1;
            pthread_mutex_unlock(&evq_lock);
            if (first)
                sk_bg_flush(c->w->st);
            return;
        }
        int oom = !evq;
        pthread_mutex_unlock(&evq_lock);
        if (oom)
            break;
        sk_events_flush(c->w->st->events);
    }
    fprintf(stderr, "souk-server: a search event was not recorded: out of memory\n");
}

souk_events *sk_events_store(sk_ctx *c)
{
    souk_events *s = c->w->st->events;
    if (!s)
        sk_fail(c, 404, "events_disabled", NULL,
                "this server keeps no behaviour events (no \"pseudonym_key_file\" configured)");
    return s;
}

souk_events *sk_events(sk_ctx *c)
{
    souk_events *s = sk_events_store(c);
    if (s)
        sk_events_flush(s);
    return s;
}

int sk_fail_store(sk_ctx *c, int rc, const char *what)
{
    return sk_fail(c, 500, "internal", NULL, "the event store failed to %s (%s)", what,
                   souk_strerror(rc));
}

/* The length of the longest prefix of s (at most max bytes) that ends on a UTF-8 character
 * boundary; -1 when s is not valid UTF-8. */
static long utf8_prefix(const char *s, size_t n, size_t max)
{
    size_t i = 0, last = 0;
    while (i < n) {
        unsigned char b = (unsigned char)s[i];
        size_t k = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
        if (!k || i + k > n)
            return -1;
        for (size_t j = 1; j < k; j++)
            if (((unsigned char)s[i + j] & 0xc0) != 0x80)
                return -1;
        i += k;
        if (i <= max)
            last = i;
    }
    return (long)last;
}

void sk_record_search(sk_ctx *c, const char *q, size_t qlen)
{
    souk_events *s = c->w->st->events;
    if (!s || !c->has_user)
        return;
    while (qlen && (q[qlen - 1] == ' ' || q[qlen - 1] == '\t'))
        qlen--;
    if (!qlen) /* browsing: no query to remember */
        return;
    souk_consent cs;
    if (souk_consent_get(s, c->user.user, c->user.user_len, &cs) || !cs.search_history)
        return; /* history only with search_history consent (docs/privacy.md) */
    long n = utf8_prefix(q, qlen, SOUK_EVQUERY_MAX);
    if (n <= 0)
        return;
    souk_event evs, *ev = &evs;
    memset(ev, 0, sizeof *ev);
    ev->type = SOUK_EV_SEARCH;
    memcpy(ev->user, c->user.user, c->user.user_len);
    for (long i = 0; i < n; i++) /* a query is one line of text */
        ev->query[i] = (unsigned char)q[i] < 0x20 || q[i] == 0x7f ? ' ' : q[i];
    int64_t now = sk_now_ms();
    ev->ts_ms = now;
    ev->nhits = c->nhits < 0 ? -1 : c->nhits > INT32_MAX ? INT32_MAX : (int32_t)c->nhits;
    evq_push(c, ev);
    sodium_memzero(ev, sizeof *ev);
}

/* ------------------------------------------------------------------ item tags (P8) */

/* One catalog reader per thread that adds events (the store calls sk_item_tags from it). */
static pthread_key_t tag_reader_key;
static pthread_once_t tag_reader_once = PTHREAD_ONCE_INIT;

static void tag_reader_free(void *p)
{
    souk_reader_free(p);
}

static void tag_reader_init(void)
{
    pthread_key_create(&tag_reader_key, tag_reader_free);
}

int sk_item_tags(void *arg, const char *item, char (*tags)[64], int max)
{
    souk_index *ix = arg;
    pthread_once(&tag_reader_once, tag_reader_init);
    souk_reader *r = pthread_getspecific(tag_reader_key);
    if (!r) {
        if (souk_reader_new(ix, &r))
            return 0;
        pthread_setspecific(tag_reader_key, r);
    } else if (souk_reader_refresh(r)) {
        return 0;
    }
    int n = 0;
    uint32_t docid;
    const char *id, *json;
    size_t il, jl;
    if (max > 0 && souk_reader_docid(r, item, strlen(item), &docid) == 0 &&
        souk_reader_doc(r, docid, &id, &il, &json, &jl) == 0 && jl) {
        n = souk_doc_tags(json, jl, tags, max); /* as souk-index events derives them */
    }
    souk_reader_release(r);
    return n;
}

/* ------------------------------------------------------------------ parameters */

int sk_params(sk_ctx *c, const char *const *names, size_t n, sk_buf *vals, int *set)
{
    for (size_t i = 0; i < n; i++)
        set[i] = 0;
    if (!c->query_string)
        return 0;
    const char *s = c->query_string, *end = s + c->query_len;
    sk_buf name = {0};
    name.max = 1024;
    int rc = 0;
    while (s < end) {
        const char *amp = memchr(s, '&', (size_t)(end - s));
        const char *e = amp ? amp : end;
        const char *eq = memchr(s, '=', (size_t)(e - s));
        if (e > s) {
            const char *ne = eq ? eq : e;
            name.len = 0;
            if (sk_url_decode(s, (size_t)(ne - s), 1, &name)) {
                rc = sk_fail(c, 400, "bad_request", NULL,
                             "the query string has a malformed %%-escape");
                break;
            }
            size_t k = 0;
            while (k < n &&
                   !(strlen(names[k]) == name.len && memcmp(names[k], name.p, name.len) == 0))
                k++;
            if (k == n) {
                char shown[48];
                snprintf(shown, sizeof shown, "%.*s", (int)(name.len < 40 ? name.len : 40),
                         name.p ? name.p : "");
                for (size_t i = 0; shown[i]; i++)
                    if ((unsigned char)shown[i] < 0x20 || (unsigned char)shown[i] >= 0x7f)
                        shown[i] = '?';
                rc = sk_fail(c, 400, "unknown_parameter", shown, "unknown parameter \"%s\"", shown);
                break;
            }
            if (set[k]) {
                rc = sk_fail(c, 400, "invalid_parameter", names[k], "\"%s\" is given twice",
                             names[k]);
                break;
            }
            vals[k].len = 0;
            vals[k].max = 4096;
            if (sk_url_decode(eq ? eq + 1 : e, eq ? (size_t)(e - eq - 1) : 0, 1, &vals[k])) {
                rc = sk_fail(c, 400, "bad_request", NULL,
                             "the query string has a malformed %%-escape or is too long");
                break;
            }
            set[k] = 1;
        }
        s = e + 1;
    }
    sk_buf_free(&name);
    return rc;
}

/* ?limit=N (1..1000, default 100) into *limit; 0 or the status. */
int sk_limit_param(sk_ctx *c, uint32_t *limit)
{
    static const char *const names[] = {"limit"};
    sk_buf v[1] = {{0}};
    int set[1];
    *limit = 100;
    int rc = sk_params(c, names, 1, v, set);
    if (!rc && set[0]) {
        char *end;
        long n = v[0].p ? strtol(v[0].p, &end, 10) : 0;
        if (!v[0].p || *end || n < 1 || n > 1000)
            rc = sk_fail(c, 400, "invalid_parameter", "limit",
                         "limit must be an integer from 1 to 1000");
        else
            *limit = (uint32_t)n;
    }
    sk_buf_free(&v[0]);
    return rc;
}

int sk_no_params(sk_ctx *c)
{
    if (c->query_len)
        return sk_fail(c, 400, "unknown_parameter", NULL, "%s takes no parameters", c->path);
    return 0;
}

/* ------------------------------------------------------------------ analytics tables' parameters
 */

#define DAY_MS 86400000LL

/* "YYYY-MM-DD" -> ms of its first instant (UTC); -1 when malformed. */
static int64_t parse_day(const sk_buf *v)
{
    int y, m, d;
    char tail;
    if (!v->p || v->len != 10 || sscanf(v->p, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 ||
        v->p[4] != '-' || v->p[7] != '-' || y < 1970 || y > 9999 || m < 1 || m > 12 || d < 1 ||
        d > 31)
        return -1;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d};
    time_t t = timegm(&tm);
    if (tm.tm_mday != d) /* 2025-02-30 */
        return -1;
    return (int64_t)t * 1000;
}

int sk_param_bool(sk_ctx *c, const sk_buf *v, const char *name, int *out)
{
    const char *n = v->p ? v->p : "";
    if (strcmp(n, "true") == 0 || strcmp(n, "1") == 0)
        *out = 1;
    else if (strcmp(n, "false") == 0 || strcmp(n, "0") == 0)
        *out = 0;
    else
        return sk_fail(c, 400, "invalid_parameter", name, "%s must be true or false", name);
    return 0;
}

int sk_table_params_parse(sk_ctx *c, const sk_buf *from, const sk_buf *to, const sk_buf *k,
                          const sk_buf *noise, const sk_buf *limit, const char *what,
                          sk_table_params *out)
{
    int64_t today = sk_now_ms() / DAY_MS * DAY_MS;
    *out = (sk_table_params){today - 29 * DAY_MS, today + DAY_MS, c->cfg->ev.analytics_k, 100, 0};
    if (from && (out->from_ms = parse_day(from)) < 0)
        return sk_fail(c, 400, "invalid_parameter", "from", "from must be a date YYYY-MM-DD");
    if (to) {
        int64_t t = parse_day(to);
        if (t < 0)
            return sk_fail(c, 400, "invalid_parameter", "to", "to must be a date YYYY-MM-DD");
        out->to_ms = t + DAY_MS;
    }
    if (out->from_ms >= out->to_ms || out->to_ms - out->from_ms > 366 * DAY_MS)
        return sk_fail(c, 400, "invalid_parameter", "from",
                       "the period from..to must run forward and span at most 366 days");
    const sk_buf *ints[2] = {k, limit};
    static const char *const int_names[2] = {"k", "limit"};
    for (int i = 0; i < 2; i++) { /* k and limit: integers */
        const sk_buf *v = ints[i];
        if (!v)
            continue;
        char *end;
        long n = v->p ? strtol(v->p, &end, 10) : -1;
        if (!v->p || !*v->p || *end || n < 1 || n > 1000000 || (i == 1 && n > 1000))
            return sk_fail(c, 400, "invalid_parameter", int_names[i],
                           "%s must be an integer from 1 to %d", int_names[i],
                           i == 1 ? 1000 : 1000000);
        if (i == 0 && n < (long)c->cfg->ev.analytics_k)
            return sk_fail(c, 400, "k_too_small", "k",
                           "k may not be below the configured analytics_k (%u): %s with fewer "
                           "distinct users are never released",
                           c->cfg->ev.analytics_k, what);
        *(i == 0 ? &out->k : &out->limit) = (uint32_t)n;
    }
    return noise ? sk_param_bool(c, noise, "noise", &out->noise) : 0;
}
