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
    souk_segment_opts o = {0};
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
    sk_table_params tp;
    if ((rc = sk_table_params_parse(c, set[P_FROM] ? &v[P_FROM] : NULL, set[P_TO] ? &v[P_TO] : NULL,
                                    set[P_K] ? &v[P_K] : NULL, set[P_NOISE] ? &v[P_NOISE] : NULL,
                                    set[P_LIMIT] ? &v[P_LIMIT] : NULL, "segments", &tp)) != 0)
        goto done;
    o.from_ms = tp.from_ms, o.to_ms = tp.to_ms, o.k = tp.k, o.limit = tp.limit, o.noise = tp.noise;
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
