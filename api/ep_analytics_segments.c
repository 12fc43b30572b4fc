/* ep_analytics_segments.c: GET /v1/analytics/segments (analyst), k-anonymous segment statistics
 * (P16): ?by=country|region|category&metric=users|events|purchases&from=YYYY-MM-DD&to=YYYY-MM-DD
 * &k=N&noise=true|false&limit=N. The period is from's first to to's last millisecond (UTC;
 * default the 30 days up to today; at most 366 days). k may be raised, never lowered below the
 * configured analytics_k (default 50): a segment with fewer distinct users is left out, and no
 * total in the table recovers it. noise=true adds the engine's discrete-Laplace noise, fixed per
 * report and period (souk_segment_stats, engine/events/segments.c). */
#include "api_int.h"
#include "souk/events.h"
#include "souk/souk.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* The index of v in names[0, n), or -1. */
static int one_of(const sk_buf *v, const char *const *names, int n)
{
    for (int i = 0; v->p && i < n; i++)
        if (!strcmp(v->p, names[i]))
            return i;
    return -1;
}

int sk_ep_analytics_segments(sk_ctx *c)
{
    souk_events *s = sk_events(c);
    if (!s)
        return c->status;
    enum { P_BY, P_METRIC, P_FROM, P_TO, P_K, P_NOISE, P_LIMIT, P_N };
    static const char *const names[P_N] = {"by", "metric", "from", "to", "k", "noise", "limit"};
    static const char *const bys[] = {"country", "region", "category"};
    static const char *const metrics[] = {"users", "events", "purchases"};
    sk_buf v[P_N];
    memset(v, 0, sizeof v);
    int set[P_N];
    int rc = sk_params(c, names, P_N, v, set);
    souk_segment_opts o = {.k = c->cfg->ev.analytics_k, .limit = 100};
    int64_t today = sk_now_ms() / DAY_MS * DAY_MS;
    o.to_ms = today + DAY_MS;
    o.from_ms = today - 29 * DAY_MS;
    if (rc)
        goto done;
    int by = set[P_BY] ? one_of(&v[P_BY], bys, 3) : -1;
    if (by < 0) {
        rc = sk_fail(c, 400, "invalid_parameter", "by",
                     "by must be \"country\", \"region\" or \"category\"%s",
                     set[P_BY] ? "" : " (it is required)");
        goto done;
    }
    o.by = (souk_seg_by)by;
    int metric = set[P_METRIC] ? one_of(&v[P_METRIC], metrics, 3) : 0;
    if (metric < 0) {
        rc = sk_fail(c, 400, "invalid_parameter", "metric",
                     "metric must be \"users\", \"events\" or \"purchases\"");
        goto done;
    }
    o.metric = (souk_seg_metric)metric;
    if (set[P_FROM] && (o.from_ms = parse_day(&v[P_FROM])) < 0) {
        rc = sk_fail(c, 400, "invalid_parameter", "from", "from must be a date YYYY-MM-DD");
        goto done;
    }
    if (set[P_TO]) {
        int64_t t = parse_day(&v[P_TO]);
        if (t < 0) {
            rc = sk_fail(c, 400, "invalid_parameter", "to", "to must be a date YYYY-MM-DD");
            goto done;
        }
        o.to_ms = t + DAY_MS;
    }
    if (o.from_ms >= o.to_ms || o.to_ms - o.from_ms > 366 * DAY_MS) {
        rc = sk_fail(c, 400, "invalid_parameter", "from",
                     "the period from..to must run forward and span at most 366 days");
        goto done;
    }
    for (int i = P_K; i <= P_LIMIT; i += 2) { /* k and limit: integers */
        if (!set[i])
            continue;
        char *end;
        long n = v[i].p ? strtol(v[i].p, &end, 10) : -1;
        if (!v[i].p || !*v[i].p || *end || n < 1 || n > 1000000 || (i == P_LIMIT && n > 1000)) {
            rc =
                sk_fail(c, 400, "invalid_parameter", names[i], "%s must be an integer from 1 to %d",
                        names[i], i == P_LIMIT ? 1000 : 1000000);
            goto done;
        }
        if (i == P_K && n < (long)c->cfg->ev.analytics_k) {
            rc = sk_fail(c, 400, "k_too_small", "k",
                         "k may not be below the configured analytics_k (%u): segments with fewer "
                         "distinct users are never released",
                         c->cfg->ev.analytics_k);
            goto done;
        }
        *(i == P_K ? &o.k : &o.limit) = (uint32_t)n;
    }
    if (set[P_NOISE]) {
        const char *n = v[P_NOISE].p ? v[P_NOISE].p : "";
        if (strcmp(n, "true") == 0 || strcmp(n, "1") == 0)
            o.noise = 1;
        else if (strcmp(n, "false") == 0 || strcmp(n, "0") == 0)
            o.noise = 0;
        else {
            rc = sk_fail(c, 400, "invalid_parameter", "noise", "noise must be true or false");
            goto done;
        }
    }
    char *json = NULL;
    size_t len = 0;
    rc = souk_segment_stats(s, &o, &json, &len);
    if (rc == SOUK_ETOOBIG) {
        rc = sk_fail(c, 400, "period_too_large", "from",
                     "the period holds too many (segment, user) pairs for one report: ask for a "
                     "shorter period");
        goto done;
    }
    if (rc) {
        rc = sk_fail_store(c, rc, "compute the statistics");
        goto done;
    }
    /* The engine's table (an object), with the request id first. */
    sk_buf_printf(c->out, "{\"request_id\":\"%s\",", c->request_id);
    rc = sk_buf_add(c->out, json + 1, len - 1);
    souk_free(json);
    if (rc || sk_buf_str(c->out, "\n"))
        rc = sk_fail(c, 500, "internal", NULL, "out of memory building the response");
    else
        rc = 200;
done:
    for (int i = 0; i < P_N; i++)
        sk_buf_free(&v[i]);
    return rc;
}
