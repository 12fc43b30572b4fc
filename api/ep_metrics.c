/* ep_metrics.c: GET /metrics in the Prometheus text format (version 0.0.4): request counts by
 * endpoint and status, latency histograms by endpoint and status class (1xx to 5xx), open
 * connections, configuration reloads, and the index's generation, documents and file size
 * (docs/api.md lists every name). Needs an admin key. */
#include "api_int.h"
#include "souk/souk.h"

#include <pthread.h>
#include <string.h>

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

int sk_ep_metrics(sk_ctx *c)
{
    sk_server_state *st = c->w->st;
    uint64_t count[EP_COUNT][SK_NSTATUS] = {{0}},
             bucket[EP_COUNT][SK_NCLASSES][SK_NBUCKETS] = {{{0}}},
             sum[EP_COUNT][SK_NCLASSES] = {{0}}, timed_out = 0, cancelled = 0, dc_hits = 0,
             dc_misses = 0, dc_bytes = 0;
    pthread_mutex_lock(st->metrics_lock);
    for (sk_metrics *m = st->metrics; m; m = m->next) {
        timed_out += LOAD(m->searches_timed_out);
        cancelled += LOAD(m->searches_cancelled);
        dc_hits += LOAD(m->doc_cache_hits);
        dc_misses += LOAD(m->doc_cache_misses);
        dc_bytes += LOAD(m->doc_cache_bytes);
        for (int e = 0; e < EP_COUNT; e++) {
            for (int s = 0; s < SK_NSTATUS; s++)
                count[e][s] += LOAD(m->count[e][s]);
            for (int k = 0; k < SK_NCLASSES; k++) {
                for (int b = 0; b < SK_NBUCKETS; b++)
                    bucket[e][k][b] += LOAD(m->bucket[e][k][b]);
                sum[e][k] += LOAD(m->sum_us[e][k]);
            }
        }
    }
    pthread_mutex_unlock(st->metrics_lock);
    sk_buf *o = c->out;
    c->content_type = "text/plain; version=0.0.4";
    sk_buf_str(o, "# HELP souk_http_requests_total HTTP requests answered, by endpoint and "
                  "status.\n# TYPE souk_http_requests_total counter\n");
    for (int e = 0; e < EP_COUNT; e++)
        for (int s = 0; s < SK_NSTATUS - 1; s++) {
            if (!count[e][s])
                continue;
            char code[8];
            if (sk_status_codes[s])
                snprintf(code, sizeof code, "%d", sk_status_codes[s]);
            else
                snprintf(code, sizeof code, "other");
            sk_buf_printf(o, "souk_http_requests_total{endpoint=\"%s\",status=\"%s\"} %llu\n",
                          sk_endpoint_label(e), code, (unsigned long long)count[e][s]);
        }
    sk_buf_str(o, "# HELP souk_http_request_duration_seconds Time from a complete request to "
                  "its response, by endpoint and status class.\n"
                  "# TYPE souk_http_request_duration_seconds histogram\n");
    /* A series appears once a response of its endpoint and class has been counted, as the
     * Prometheus client libraries do with labelled series. */
    for (int e = 0; e < EP_COUNT; e++)
        for (int k = 0; k < SK_NCLASSES; k++) {
            uint64_t cum = 0;
            for (int b = 0; b < SK_NBUCKETS; b++)
                cum += bucket[e][k][b];
            if (!cum)
                continue;
            char lab[64];
            snprintf(lab, sizeof lab, "endpoint=\"%s\",status_class=\"%dxx\"", sk_endpoint_label(e),
                     k + 1);
            cum = 0;
            for (int b = 0; b < SK_NBUCKETS; b++) {
                cum += bucket[e][k][b];
                if (b < SK_NBUCKETS - 1)
                    sk_buf_printf(o,
                                  "souk_http_request_duration_seconds_bucket{%s,le=\"%g\"} %llu\n",
                                  lab, sk_bucket_le_us[b] / 1e6, (unsigned long long)cum);
                else
                    sk_buf_printf(
                        o, "souk_http_request_duration_seconds_bucket{%s,le=\"+Inf\"} %llu\n", lab,
                        (unsigned long long)cum);
            }
            sk_buf_printf(o, "souk_http_request_duration_seconds_sum{%s} %.6f\n", lab,
                          sum[e][k] / 1e6);
            sk_buf_printf(o, "souk_http_request_duration_seconds_count{%s} %llu\n", lab,
                          (unsigned long long)cum);
        }
    sk_buf_printf(o,
                  "# HELP souk_http_open_connections Connections open now.\n"
                  "# TYPE souk_http_open_connections gauge\nsouk_http_open_connections %ld\n",
                  atomic_load(&st->connections));
    sk_buf_printf(o,
                  "# HELP souk_searches_timed_out_total Searches stopped by limits.max_search_ms "
                  "or the drain, answered with partial results.\n"
                  "# TYPE souk_searches_timed_out_total counter\nsouk_searches_timed_out_total "
                  "%llu\n"
                  "# HELP souk_searches_cancelled_total Searches stopped because the client closed "
                  "its connection.\n"
                  "# TYPE souk_searches_cancelled_total counter\nsouk_searches_cancelled_total "
                  "%llu\n",
                  (unsigned long long)timed_out, (unsigned long long)cancelled);
    sk_buf_printf(o,
                  "# HELP souk_doc_cache_hits_total Stored documents served from the workers' "
                  "caches of decoded documents (limits.doc_cache_mb).\n"
                  "# TYPE souk_doc_cache_hits_total counter\nsouk_doc_cache_hits_total %llu\n"
                  "# HELP souk_doc_cache_misses_total Stored documents read from the index "
                  "(looked up and decompressed).\n"
                  "# TYPE souk_doc_cache_misses_total counter\nsouk_doc_cache_misses_total %llu\n"
                  "# HELP souk_doc_cache_bytes Bytes held by the workers' document caches.\n"
                  "# TYPE souk_doc_cache_bytes gauge\nsouk_doc_cache_bytes %llu\n",
                  (unsigned long long)dc_hits, (unsigned long long)dc_misses,
                  (unsigned long long)dc_bytes);
    sk_buf_printf(o,
                  "# HELP souk_config_reloads_total Configurations loaded by SIGHUP.\n"
                  "# TYPE souk_config_reloads_total counter\nsouk_config_reloads_total %llu\n",
                  (unsigned long long)atomic_load(&st->reloads));
    uint64_t col_builds, typo_builds;
    souk_index_cache_stats(st->ix, &col_builds, &typo_builds);
    sk_buf_printf(o,
                  "# HELP souk_cache_builds_total Per-generation structures built: attribute "
                  "columns, typo dictionary (once per commit; the warmer builds them ahead).\n"
                  "# TYPE souk_cache_builds_total counter\n"
                  "souk_cache_builds_total{cache=\"columns\"} %llu\n"
                  "souk_cache_builds_total{cache=\"typo\"} %llu\n",
                  (unsigned long long)col_builds, (unsigned long long)typo_builds);
    souk_stats is;
    if (souk_searcher_refresh(c->w->searcher) == 0 &&
        souk_reader_stats(souk_searcher_reader(c->w->searcher), &is) == 0)
        sk_buf_printf(o,
                      "# HELP souk_index_generation Committed batches of the index.\n"
                      "# TYPE souk_index_generation gauge\nsouk_index_generation %llu\n"
                      "# HELP souk_index_documents Documents in the index.\n"
                      "# TYPE souk_index_documents gauge\nsouk_index_documents %llu\n"
                      "# HELP souk_index_size_bytes Size of the index's data file.\n"
                      "# TYPE souk_index_size_bytes gauge\nsouk_index_size_bytes %llu\n",
                      (unsigned long long)is.generation, (unsigned long long)is.docs,
                      (unsigned long long)is.bytes_file);
    sk_repl_metrics(st, o); /* souk_replication_*: a replica fed from NATS JetStream */
    return 200;
}
