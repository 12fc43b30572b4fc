/* replication.c: what souk-server says about a replica fed from NATS JetStream
 * (docs/scaling.md): the applied stream sequence of the catalog index and of the event store
 * (read from the stores themselves: the sequence committed with the last batch), the stream's
 * last sequence and whether the indexer reaches NATS (from the status file souk-index writes
 * beside the index, DIR/nats-catalog.json and DIR/nats-events.json, at most 0.2 s old while it
 * runs), and min_seq: the read-your-writes wait of /v1/search and /v1/recommend. The server
 * itself never talks to NATS: a replica keeps serving what it has whatever NATS does. */
#include "api_int.h"
#include "souk/events.h"
#include "souk/souk.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const kind_names[SK_REPL_KINDS] = {"catalog", "events"};

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int sk_repl_applied(sk_server_state *st, int kind, uint64_t *seq)
{
    *seq = 0;
    if (kind == SK_REPL_CATALOG) {
        uint64_t off = 0, line = 0;
        char fp[128] = "";
        if (souk_index_stream_pos(st->ix, &off, &line, fp, sizeof fp) != 0 ||
            strncmp(fp, "nats:", 5) != 0)
            return 0;
        *seq = off;
        return 1;
    }
    int other = 0;
    if (!st->events || souk_events_seq(st->events, NULL, seq, &other) != 0 || *seq == 0)
        return 0;
    return 1;
}

int sk_repl_read(sk_server_state *st, int kind, sk_repl *r)
{
    memset(r, 0, sizeof *r);
    r->configured = sk_repl_applied(st, kind, &r->applied);
    char path[4200];
    if (!st->data_dir || snprintf(path, sizeof path, "%s/nats-%s.json", st->data_dir,
                                  kind_names[kind]) >= (int)sizeof path)
        return r->configured;
    FILE *f = fopen(path, "r");
    if (!f)
        return r->configured;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    cJSON *j = cJSON_Parse(buf);
    if (!j)
        return r->configured;
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "stream"),
                *last = cJSON_GetObjectItemCaseSensitive(j, "stream_last_seq"),
                *conn = cJSON_GetObjectItemCaseSensitive(j, "connected"),
                *upd = cJSON_GetObjectItemCaseSensitive(j, "updated_ms");
    if (cJSON_IsString(s) && cJSON_IsNumber(last) && cJSON_IsNumber(upd)) {
        r->configured = 1;
        r->has_status = 1;
        snprintf(r->stream, sizeof r->stream, "%s", s->valuestring);
        r->stream_last = (uint64_t)last->valuedouble;
        r->connected = cJSON_IsTrue(conn);
        r->status_age_ms = wall_ms() - (int64_t)upd->valuedouble;
        if (r->status_age_ms < 0)
            r->status_age_ms = 0;
    }
    cJSON_Delete(j);
    if (r->stream_last < r->applied)
        r->stream_last = r->applied; /* the status file is older than the last commit */
    r->lag = r->stream_last - r->applied;
    return r->configured;
}

void sk_repl_json(sk_server_state *st, sk_buf *o)
{
    int any = 0;
    for (int k = 0; k < SK_REPL_KINDS; k++) {
        sk_repl r;
        if (!sk_repl_read(st, k, &r))
            continue;
        sk_buf_printf(o, "%s\"%s\":{\"applied_seq\":%llu", any ? "," : ",\"replication\":{",
                      kind_names[k], (unsigned long long)r.applied);
        if (r.has_status) {
            sk_buf_str(o, ",\"stream\":");
            sk_buf_json_str(o, r.stream, strlen(r.stream));
            sk_buf_printf(o,
                          ",\"stream_last_seq\":%llu,\"lag\":%llu,\"connected\":%s,"
                          "\"status_age_ms\":%lld",
                          (unsigned long long)r.stream_last, (unsigned long long)r.lag,
                          r.connected ? "true" : "false", (long long)r.status_age_ms);
        }
        sk_buf_str(o, "}");
        any = 1;
    }
    if (any)
        sk_buf_str(o, "}");
}

void sk_repl_metrics(sk_server_state *st, sk_buf *o)
{
    sk_repl r[SK_REPL_KINDS];
    int any = 0;
    for (int k = 0; k < SK_REPL_KINDS; k++)
        any |= sk_repl_read(st, k, &r[k]);
    if (!any)
        return;
    static const char *const help[5][2] = {
        {"souk_replication_applied_seq", "Stream sequence applied to the store (committed)."},
        {"souk_replication_stream_last_seq",
         "The stream's last sequence as the indexer last saw it."},
        {"souk_replication_lag_messages", "Messages of the stream not applied yet."},
        {"souk_replication_connected", "1 when the indexer reaches NATS."},
        {"souk_replication_status_age_seconds",
         "Age of the indexer's status file (large: the indexer is not running)."}};
    for (int m = 0; m < 5; m++) {
        sk_buf_printf(o, "# HELP %s %s\n# TYPE %s gauge\n", help[m][0], help[m][1], help[m][0]);
        for (int k = 0; k < SK_REPL_KINDS; k++) {
            if (!r[k].configured || (m > 0 && !r[k].has_status))
                continue;
            sk_buf_printf(o, "%s{stream=\"%s\"} ", help[m][0], kind_names[k]);
            if (m == 0)
                sk_buf_printf(o, "%llu\n", (unsigned long long)r[k].applied);
            else if (m == 1)
                sk_buf_printf(o, "%llu\n", (unsigned long long)r[k].stream_last);
            else if (m == 2)
                sk_buf_printf(o, "%llu\n", (unsigned long long)r[k].lag);
            else if (m == 3)
                sk_buf_printf(o, "%d\n", r[k].connected);
            else
                sk_buf_printf(o, "%.3f\n", r[k].status_age_ms / 1000.0);
        }
    }
}

int sk_min_seq_parse(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0 || n > 19)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return 0;
}

int sk_min_seq_check(sk_ctx *c, int kind, uint64_t min_seq)
{
    uint64_t applied = 0;
    if (min_seq == 0)
        return 0;
    sk_repl_applied(c->w->st, kind, &applied);
    if (applied >= min_seq)
        return 0;
    c->out->len = 0;
    c->content_type = "application/json";
    sk_buf_printf(c->out,
                  "{\"error\":{\"code\":\"not_caught_up\",\"message\":\"this replica has applied "
                  "the %s stream up to sequence %llu, not %llu yet (waited %d ms): retry, or ask "
                  "another replica\",\"field\":\"min_seq\",\"applied_seq\":%llu},"
                  "\"request_id\":\"%s\"}\n",
                  kind_names[kind], (unsigned long long)applied, (unsigned long long)min_seq,
                  SK_MIN_SEQ_WAIT_MS, (unsigned long long)applied, c->request_id);
    c->status = 503;
    return 503;
}

int sk_min_seq_pending(sk_server_state *st, const sk_request *req)
{
    const char *u = req->url.p;
    size_t n = req->url.len;
    if (!u)
        return 0;
    const char *q = memchr(u, '?', n);
    if (!q)
        return 0;
    size_t plen = (size_t)(q - u);
    int kind;
    if (plen == 10 && memcmp(u, "/v1/search", 10) == 0)
        kind = SK_REPL_CATALOG;
    else if (plen == 13 && memcmp(u, "/v1/recommend", 13) == 0)
        kind = SK_REPL_EVENTS;
    else
        return 0;
    const char *s = q + 1, *end = u + n;
    while (s < end) {
        const char *amp = memchr(s, '&', (size_t)(end - s));
        const char *e = amp ? amp : end;
        uint64_t want;
        if ((size_t)(e - s) > 8 && memcmp(s, "min_seq=", 8) == 0 &&
            sk_min_seq_parse(s + 8, (size_t)(e - s - 8), &want) == 0) {
            uint64_t applied = 0;
            sk_repl_applied(st, kind, &applied);
            return applied < want;
        }
        s = e + 1;
    }
    return 0;
}
