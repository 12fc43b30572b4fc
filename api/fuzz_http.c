/* fuzz_http.c: libFuzzer driver for the server's request path: HTTP framing (http.c), routing,
 * credentials and every endpoint (router.c, ep_*.c) over a small real index, fed arbitrary
 * bytes in chunks whose size the first input byte picks. Built with -DSOUK_FUZZ=ON (clang);
 * fuzz_replay.c runs the saved corpus (api/fuzz/corpus/) as an ordinary ctest. */
#include "api_int.h"
#include "souk/ingest.h"
#include "souk/schema.h"
#include "souk/souk.h"

#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__) || defined(__has_feature)
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:Xapian::QueryParser::Internal::parse_query\n";
}
#endif

static const char docs[] =
    "{\"op\":\"upsert\",\"id\":\"B-933-M8x40\",\"title\":\"Hexagon head screw DIN 933 M8x40 "
    "steel 8.8 zinc plated\",\"brand\":\"Bossard\",\"category\":\"fasteners/screws\","
    "\"price\":0.12,\"currency\":\"EUR\",\"in_stock\":true,\"part_number\":\"M8x40\"}\n"
    "{\"op\":\"upsert\",\"id\":\"SKF-6204-2RS\",\"title\":\"Deep groove ball bearing "
    "6204-2RS\",\"description\":\"Sealed bearing, 20 mm bore\",\"brand\":\"SKF\",\"category\":"
    "\"bearings/ball\",\"price\":4.9,\"currency\":\"EUR\",\"in_stock\":false}\n"
    "{\"op\":\"upsert\",\"id\":\"cn-1\",\"title\":\"\xe4\xb8\x8d\xe9\x94\x88\xe9\x92\xa2"
    "\xe8\x9e\xba\xe6\xa0\x93 stainless bolt\",\"language\":\"zh\",\"price\":1.5}\n";

static char dir[] = "/tmp/souk-fuzz-XXXXXX";
static sk_server_state st;
static sk_worker *worker;
static pthread_mutex_t mlock = PTHREAD_MUTEX_INITIALIZER, llock = PTHREAD_MUTEX_INITIALIZER;

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void teardown(void)
{
    sk_worker_free(worker);
    for (sk_metrics *m = st.metrics, *next; m; m = next) {
        next = m->next;
        souk_free(m);
    }
    sk_config_unref(atomic_load(&st.config));
    souk_index_close(st.ix);
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Builds the index and a worker once; the keys are "fuzz-search-key" and "fuzz-admin-key". */
static void setup(void)
{
    char err[512], path[600];
    souk_alloc_init();
    if (!mkdtemp(dir))
        abort();
    snprintf(path, sizeof path, "%s/docs.ndjson", dir);
    FILE *f = fopen(path, "w");
    fputs(docs, f);
    fclose(f);
    snprintf(path, sizeof path, "%s/config.json", dir);
    f = fopen(path, "w");
    fputs("{\"search_keys\":[\"sha256:", f);
    uint8_t h[SK_KEY_HASH_LEN];
    sk_key_hash("fuzz-search-key", 15, h);
    for (int i = 0; i < SK_KEY_HASH_LEN; i++)
        fprintf(f, "%02x", h[i]);
    fputs("\"],\"admin_keys\":[\"sha256:", f);
    sk_key_hash("fuzz-admin-key", 14, h);
    for (int i = 0; i < SK_KEY_HASH_LEN; i++)
        fprintf(f, "%02x", h[i]);
    fputs("\"],\"cors_origins\":[\"https://shop.example\"],\"limits\":{\"max_body_bytes\":4096,"
          "\"max_header_bytes\":2048,\"max_url_bytes\":1024}}",
          f);
    fclose(f);
    sk_config *cfg;
    if (sk_config_load(path, "en", NULL, &cfg, err, sizeof err))
        abort();
    souk_schema *schema;
    if (souk_schema_parse(souk_schema_default_json, strlen(souk_schema_default_json), &schema, err,
                          sizeof err))
        abort();
    snprintf(path, sizeof path, "%s/index", dir);
    if (souk_index_open(path, schema, 0, &st.ix, err, sizeof err))
        abort();
    snprintf(path, sizeof path, "%s/docs.ndjson", dir);
    FILE *in = fopen(path, "r");
    souk_ingest_opts o = {0};
    souk_ingest_stats is;
    if (souk_ingest(st.ix, fileno(in), "fuzz", &o, &is, err, sizeof err) || is.added != 3)
        abort();
    fclose(in);
    souk_schema_free(schema);
    st.metrics_lock = &mlock;
    st.log_lock = &llock;
    atomic_init(&st.config, cfg);
    if (sk_worker_new(&st, &worker))
        abort();
    atexit(teardown);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!worker)
        setup();
    if (size == 0)
        return 0;
    size_t chunk = (size_t)(data[0] % 32) + 1;
    data++;
    size--;
    sk_config *cfg = sk_state_config(&st);
    sk_http h;
    sk_http_init(&h, &cfg->limits);
    h.req.url.max = cfg->limits.max_url_bytes;
    h.req.body.max = cfg->limits.max_body_bytes > cfg->limits.max_events_body_bytes
                         ? cfg->limits.max_body_bytes
                         : cfg->limits.max_events_body_bytes;
    sk_config_unref(cfg);
    sk_buf out = {0};
    size_t off = 0, end = 0;
    int requests = 0;
    while (off < size && requests < 64) {
        if (end <= off)
            end = off + chunk < size ? off + chunk : size;
        size_t n = sk_http_feed(&h, (const char *)data + off, end - off);
        off += n;
        if (h.error) {
            sk_error_response(worker, NULL, h.error, "bad_request", h.error_msg ? h.error_msg : "",
                              1, &out);
            break;
        }
        if (h.complete) {
            int status = sk_handle(worker, &h.req, 1, &out);
            if (status < 100 || status > 599)
                abort();
            sk_http_next(&h);
            requests++;
        } else if (n == 0 && off == end) {
            end = 0;
        } else if (n == 0) {
            break;
        }
        /* Every response must start with a status line. */
        if (out.len && memcmp(out.p, "HTTP/1.1 ", 9) != 0)
            abort();
        out.len = 0;
    }
    sk_buf_free(&out);
    sk_http_free(&h);
    return 0;
}
