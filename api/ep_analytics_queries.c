/* ep_analytics_queries.c: GET /v1/analytics/queries (analyst), k-anonymous query statistics
 * (P16): ?kind=popular|zero_results|low_ctr&from=YYYY-MM-DD&to=YYYY-MM-DD&k=N&noise=true|false
 * &limit=N&suggest=true|false. With kind=zero_results each released row also says which
 * existing rule would make it match (suggest, on by default; ep_analytics_dry_run.c).
 * The period is from's first to to's last millisecond (UTC; default the 30 days up to today).
 * k may be raised, never lowered below the configured analytics_k (default 50): a row with fewer
 * distinct users is left out, and no total in the table recovers it. noise=true adds the
 * engine's discrete-Laplace noise, fixed per report and period. */
#include "analyst.h"
#include "souk/events.h"
#include "souk/souk.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

int sk_ep_analytics_queries(sk_ctx *c)
{
    souk_events *s = sk_events(c);
    if (!s)
        return c->status;
    enum { P_KIND, P_FROM, P_TO, P_K, P_NOISE, P_LIMIT, P_SUGGEST, P_N };
    static const char *const names[P_N] = {"kind", "from", "to", "k", "noise", "limit", "suggest"};
    int suggest = -1;
    sk_buf v[P_N];
    memset(v, 0, sizeof v);
    int set[P_N];
    int rc = sk_params(c, names, P_N, v, set);
    souk_qstat_opts o = {.kind = SOUK_QSTAT_POPULAR};
    if (rc)
        goto done;
    if (set[P_KIND]) {
        if (v[P_KIND].p && strcmp(v[P_KIND].p, "popular") == 0)
            o.kind = SOUK_QSTAT_POPULAR;
        else if (v[P_KIND].p && strcmp(v[P_KIND].p, "zero_results") == 0)
            o.kind = SOUK_QSTAT_ZERO_RESULTS;
        else if (v[P_KIND].p && strcmp(v[P_KIND].p, "low_ctr") == 0)
            o.kind = SOUK_QSTAT_LOW_CTR;
        else {
            rc = sk_fail(c, 400, "invalid_parameter", "kind",
                         "kind must be \"popular\", \"zero_results\" or \"low_ctr\"");
            goto done;
        }
    }
    sk_table_params tp;
    if ((rc = sk_table_params_parse(c, set[P_FROM] ? &v[P_FROM] : NULL, set[P_TO] ? &v[P_TO] : NULL,
                                    set[P_K] ? &v[P_K] : NULL, set[P_NOISE] ? &v[P_NOISE] : NULL,
                                    set[P_LIMIT] ? &v[P_LIMIT] : NULL, "rows", &tp)) != 0)
        goto done;
    o.from_ms = tp.from_ms, o.to_ms = tp.to_ms, o.k = tp.k, o.limit = tp.limit, o.noise = tp.noise;
    if (set[P_SUGGEST]) {
        if ((rc = sk_param_bool(c, &v[P_SUGGEST], "suggest", &suggest)) != 0)
            goto done;
        if (suggest && o.kind != SOUK_QSTAT_ZERO_RESULTS) {
            rc = sk_fail(c, 400, "invalid_parameter", "suggest",
                         "suggest applies to kind=zero_results only");
            goto done;
        }
    }
    char *json = NULL;
    size_t len = 0;
    rc = souk_query_stats(s, &o, &json, &len);
    if (rc == SOUK_ETOOBIG) {
        rc = sk_fail(c, 400, "period_too_large", "from",
                     "the period holds more than %u events of searches, clicks and impressions; "
                     "ask for a shorter period",
                     SOUK_QSTAT_CTR_MAX_EVENTS);
        goto done;
    }
    if (rc) {
        rc = sk_fail_store(c, rc, "compute the statistics");
        goto done;
    }
    if (o.kind == SOUK_QSTAT_ZERO_RESULTS && suggest != 0) {
        /* The rules tried on each released query: only released rows are searched. */
        cJSON *t = cJSON_ParseWithLength(json, len);
        int rrc = t ? sk_zero_result_rules(
                          c, t, c->t0_ns + (uint64_t)c->cfg->limits.max_search_ms * 20 * 1000000u)
                    : SOUK_ENOMEM;
        char *j2 = rrc ? NULL : cJSON_PrintUnformatted(t);
        cJSON_Delete(t);
        souk_free(json);
        json = NULL;
        if (!j2) {
            rc = rrc == SOUK_EIO ? sk_fail(c, 500, "internal", NULL, "cannot read the index")
                                 : sk_fail(c, 500, "internal", NULL, "out of memory");
            goto done;
        }
        len = strlen(j2);
        json = souk_malloc(len + 1);
        if (json)
            memcpy(json, j2, len + 1);
        cJSON_free(j2);
        if (!json) {
            rc = sk_fail(c, 500, "internal", NULL, "out of memory");
            goto done;
        }
    }
    /* The engine's table, with the request id first. */
    sk_buf_printf(c->out, "{\"request_id\":\"%s\"%s", c->request_id,
                  len > 2 && json[0] == '{' ? "," : ",\"table\":");
    rc = sk_buf_add(c->out, len > 2 && json[0] == '{' ? json + 1 : json,
                    len > 2 && json[0] == '{' ? len - 1 : len);
    while (c->out->len && (c->out->p[c->out->len - 1] == '\n' || c->out->p[c->out->len - 1] == ' '))
        c->out->len--;
    if (!(len > 2 && json[0] == '{'))
        sk_buf_str(c->out, "}");
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
