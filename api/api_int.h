/* api_int.h: the query server's private interfaces, shared by the files of api/.
 *
 * The server has three layers, each usable without the one above it:
 *   http.c      HTTP/1.1 request framing over http_parser (no sockets): bytes in, one complete
 *               request out at a time, with the configured size caps;
 *   router.c    a request in, a complete HTTP response out: route table, credentials, CORS,
 *               errors, metrics; the endpoints live in one file each (ep_*.c);
 *   server.c    the libuv loops: accept, read, time out, write, drain on SIGTERM.
 * The fuzz driver (fuzz_http.c) runs the first two layers on arbitrary bytes. */
#ifndef SOUK_API_INT_H
#define SOUK_API_INT_H

#include "souk/buf.h"
#include "souk/events.h"
#include "souk/keys.h"
#include "souk/search.h"

#include <http_parser.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------ buffers */

/* A growable byte buffer with a hard cap: the engine's souk_buf (souk/buf.h), under the names
 * every endpoint uses. Functions return 0 or SOUK_ENOMEM/SOUK_ETOOBIG and leave the buffer as it
 * was on failure. */
typedef souk_buf sk_buf;

int sk_buf_reserve(sk_buf *b, size_t extra);
int sk_buf_add(sk_buf *b, const void *p, size_t n);
int sk_buf_str(sk_buf *b, const char *s);
int sk_buf_printf(sk_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s as a JSON string literal (quotes included); invalid UTF-8 becomes U+FFFD. */
int sk_buf_json_str(sk_buf *b, const char *s, size_t n);
void sk_buf_free(sk_buf *b);

/* ------------------------------------------------------------------ configuration */

#define SK_KEY_HASH_LEN 32 /* SHA-256 */

typedef struct sk_limits {
    size_t max_header_bytes; /* request line + headers; over it: 431 */
    size_t max_url_bytes;    /* request target; over it: 414 */
    size_t max_body_bytes;   /* over it: 413 */
    size_t max_query_bytes;  /* the q parameter; over it: 400 */
    uint32_t max_facets;     /* facets per request */
    uint32_t max_per_page;
    uint32_t max_depth;           /* page * per_page */
    uint32_t max_connections;     /* per listening loop; over it: 503 */
    uint32_t max_queue;           /* queue mode: requests waiting or running; over it: 429 */
    uint32_t header_timeout_ms;   /* from a request's first byte to its last */
    uint32_t idle_timeout_ms;     /* between requests on a keep-alive connection */
    uint32_t max_header_count;    /* header lines of a request (trailers too); over it: 431 */
    size_t max_output_bytes;      /* unsent response bytes of a connection before reading pauses */
    uint32_t send_timeout_ms;     /* a connection whose client reads nothing for this long closes */
    uint32_t max_search_ms;       /* a search's matching stops after this: partial, timed_out */
    uint32_t max_query_terms;     /* the expansion budget of a query; over it: 400 */
    size_t max_events_body_bytes; /* the body of POST /v1/events; over it: 413 */
    uint32_t max_insights_events_per_minute; /* POST /1/events: items a user, a minute; 429 */
    uint32_t doc_cache_mb; /* each worker's cache of decoded stored documents; 0: none */
} sk_limits;

/* The behaviour-event settings (docs/api.md, "Behaviour events and privacy"): on when
 * "pseudonym_key_file" is set. The pseudonymization ring, the retention periods, the consent
 * defaults and the policy version are read at start (the store is opened with them); a reload
 * that changes them is refused. The token ring, the ingest and analyst keys and analytics_k
 * follow reloads. */
typedef struct sk_events_cfg {
    int enabled;
    char *pseudonym_key_file, *token_key_file;
    souk_keyring *pseudonym_ring; /* loaded to check it; the server opens the store with it */
    souk_keyring *token_ring;     /* NULL: no user tokens */
    souk_retention retention;
    souk_consent consent_default;
    uint32_t policy_version;
    uint32_t analytics_k;
    uint32_t sweep_interval_s;
    /* "region": the region this server's users belong to (docs/scaling.md); "" none. A user
     * token carrying another region (or none) is refused with 403 wrong_region. */
    char region[16];
} sk_events_cfg;

/* The recommenders' settings ("recommendations" in the configuration, docs/api.md): read at
 * start, with the event store (souk/recs.h, souk_recs_opts). */
typedef struct sk_recs_cfg {
    uint32_t min_users; /* 0: the default */
    uint32_t cap;
    char **replenishable;
    size_t nreplenishable;
    char *category_field, *cap_field;
} sk_recs_cfg;

/* The reloadable configuration (--config FILE, reloaded on SIGHUP). Reference counted: a
 * request holds the configuration it started with. */
typedef struct sk_config {
    atomic_int refs;
    uint8_t (*search_keys)[SK_KEY_HASH_LEN];
    size_t nsearch_keys;
    uint8_t (*admin_keys)[SK_KEY_HASH_LEN];
    size_t nadmin_keys;
    uint8_t (*ingest_keys)[SK_KEY_HASH_LEN]; /* POST /v1/events */
    size_t ningest_keys;
    uint8_t (*analyst_keys)[SK_KEY_HASH_LEN]; /* k-anonymous analytics */
    size_t nanalyst_keys;
    sk_events_cfg ev;
    sk_recs_cfg recs;
    char **cors_origins; /* "*" allows any origin */
    size_t ncors;
    sk_limits limits;
    struct souk_lexicon *lexicon; /* synonyms and stop words; NULL: none */
    struct cJSON *lexicon_src;    /* {"synonyms","stop_words"} as configured (dry runs); NULL */
    struct sk_profile *profiles;  /* named ranking profiles */
    size_t nprofiles;
    int has_cursor_key; /* "cursor_secret" was set: cursor_key derives from it */
    uint8_t cursor_key[32];
    char *storefront_dir;     /* "storefront.dir": the storefront page's files; NULL: none */
    char *storefront_lib_dir; /* "storefront.lib_dir": the npm bundles it loads; NULL: none */
    struct cJSON *algolia;    /* the "algolia" object as configured (algolia.h), or NULL */
} sk_config;

/* A named ranking profile: defaults for a search's parameters (NULL / -1: not set). */
typedef struct sk_profile {
    char *name;
    char *boost, *sort;
    int typo, prefix, and_op;
} sk_profile;

/* Loads path (NULL: the built-in defaults: no keys, no CORS, no events). Synonyms and stop words
 * are analysed in language lang (the index's). Key files may not lie inside datadir (may be
 * NULL). On error returns SOUK_EINVAL or SOUK_EIO with a message naming the problem in err.
 * *out has one reference. */
int sk_config_load(const char *path, const char *lang, const char *datadir, sk_config **out,
                   char *err, size_t errlen);
/* 0 when b may replace a (SIGHUP): the settings the event store was opened with are equal;
 * else SOUK_EINVAL with err naming the first that differs. */
int sk_config_events_same(const sk_config *a, const sk_config *b, char *err, size_t errlen);
/* Total number of keys of every kind (0: development mode). */
size_t sk_config_nkeys(const sk_config *c);
void sk_config_ref(sk_config *c);
void sk_config_unref(sk_config *c);
/* SHA-256 of key into out. */
void sk_key_hash(const char *key, size_t len, uint8_t out[SK_KEY_HASH_LEN]);

/* ------------------------------------------------------------------ HTTP framing */

#define SK_HDR_KEY_MAX 256
#define SK_HDR_ORIGIN_MAX 256
#define SK_HDR_RID_MAX 64

/* One parsed request. Strings are NUL-terminated; header values longer than their field are
 * marked by the *_over flags and treated as invalid. */
typedef struct sk_request {
    unsigned method; /* enum http_method */
    sk_buf url;
    sk_buf body;
    int keep_alive;
    int json_body; /* Content-Type is application/json */
    int has_content_type;
    int expect_continue; /* Expect: 100-continue */
    char api_key[SK_HDR_KEY_MAX + 1];
    size_t api_key_len;
    int api_key_over;
    char origin[SK_HDR_ORIGIN_MAX + 1];
    int origin_over;
    char request_id[SK_HDR_RID_MAX + 1]; /* X-Request-Id when it is safe to echo */
    int request_id_over;
    char acr_method[16];                 /* Access-Control-Request-Method */
    int auth_scheme_bad;                 /* Authorization without the Bearer scheme */
    char user_token[SOUK_TOKEN_MAX + 1]; /* X-User-Token */
    size_t user_token_len;
    int user_token_over;
    int ndjson_body; /* Content-Type is application/x-ndjson */
} sk_request;

/* Parsing state of one connection. */
typedef struct sk_http {
    http_parser parser;
    sk_limits limits;
    sk_request req;
    size_t header_bytes;
    int in_message;   /* the current request has begun */
    int started;      /* a byte of the next request (even a bare CRLF before it) has arrived */
    int headers_done; /* later header lines are chunked trailers: counted, never used */
    uint32_t header_count;
    int host_count;
    int te_count;
    char te[16]; /* Transfer-Encoding, truncated */
    size_t te_len;
    int auth_header;   /* the credential came in Authorization */
    int token_count;   /* X-User-Token lines */
    size_t body_limit; /* max_body_bytes, or max_events_body_bytes for POST /v1/events */
    int complete;      /* the current request is complete */
    int error;         /* nonzero: HTTP status to answer, then close */
    const char *error_msg;
    char field[40]; /* current header name, lower-cased, truncated */
    size_t field_len;
    int field_over;
    int last_was_value;
    int cur_header; /* which header the value belongs to */
    size_t value_len;
    uint64_t chunk_left;  /* bytes of the current chunk's data still to come */
    int crlf_seen;        /* bytes of the CRLF after a chunk's data checked (2: none due) */
    const char *feed_end; /* one past the bytes of the current sk_http_feed call */
} sk_http;

void sk_http_init(sk_http *h, const sk_limits *lim);
void sk_http_free(sk_http *h);
/* Parses up to len bytes; stops after one complete request (h->complete) or an error
 * (h->error). Returns the number of bytes consumed. */
size_t sk_http_feed(sk_http *h, const char *buf, size_t len);
/* Readies h for the next request on the connection (after h->complete). */
void sk_http_next(sk_http *h);

/* ------------------------------------------------------------------ metrics */

/* Methods of a route (api/endpoints.h). */
#define SK_GET (1u << HTTP_GET)
#define SK_POST (1u << HTTP_POST)
#define SK_PUT (1u << HTTP_PUT)
#define SK_DELETE (1u << HTTP_DELETE)
#define SK_HEAD (1u << HTTP_HEAD)

/* Endpoint numbers, in the order of api/endpoints.h (SK_EP_sk_ep_search, ...), then EP_OTHER
 * for requests that reached no endpoint. */
#define SK_ENDPOINT(path, label, methods, auth, handler) SK_EP_##handler,
enum {
#include "endpoints.h"
    EP_OTHER,
    EP_COUNT
};
#undef SK_ENDPOINT
#define SK_NSTATUS 18
#define SK_NBUCKETS 16
/* Status classes of the latency histograms: 1xx to 5xx (anything else counts as 5xx). */
#define SK_NCLASSES 5

/* Counters of one thread. Only the owning thread writes them (relaxed stores); /metrics sums
 * every registered set. */
typedef struct sk_metrics {
    atomic_uint_fast64_t count[EP_COUNT][SK_NSTATUS];
    atomic_uint_fast64_t bucket[EP_COUNT][SK_NCLASSES][SK_NBUCKETS];
    atomic_uint_fast64_t sum_us[EP_COUNT][SK_NCLASSES];
    atomic_uint_fast64_t searches_timed_out; /* stopped by limits.max_search_ms or the drain */
    atomic_uint_fast64_t searches_cancelled; /* stopped because the client went away */
    /* the worker's cache of decoded stored documents (souk_searcher_doc), after its last
     * request: lookups answered from it, lookups not, bytes held */
    atomic_uint_fast64_t doc_cache_hits, doc_cache_misses, doc_cache_bytes;
    struct sk_metrics *next;
} sk_metrics;

extern const int sk_status_codes[SK_NSTATUS];
extern const double sk_bucket_le_us[SK_NBUCKETS - 1];

/* ------------------------------------------------------------------ router and endpoints */

/* State shared by every thread of one server. */
typedef struct sk_server_state {
    souk_index *ix;
    const char *data_dir;
    _Atomic(sk_config *) config; /* swap with sk_state_set_config */
    atomic_int draining;         /* SIGTERM received: new requests get 503 */
    /* Set with draining: searches still running at this sk_now_ns() time stop (partial
     * results), so the drain ends on time. 0: no drain. */
    atomic_uint_fast64_t drain_cut_ns;
    atomic_long connections; /* open connections, all loops */
    atomic_uint_fast64_t reloads;
    sk_metrics *metrics; /* list of every thread's counters */
    void *metrics_lock;  /* pthread_mutex_t */
    FILE *access_log;    /* NULL: none */
    void *log_lock;
    souk_events *events;    /* the behaviour-event store; NULL: events are off */
    struct souk_recs *recs; /* the recommenders over it (engine/recs/); NULL with no store */
    struct sk_bg *bg;       /* the erasure and retention thread (bg.c) */
    /* The ranking profiles (profiles.c); NULL: none. */
    struct sk_profiles *profiles;
} sk_server_state;

/* Takes a reference to the current configuration; release with sk_config_unref. */
sk_config *sk_state_config(sk_server_state *st);
/* Installs c (takes over its reference) and releases the previous configuration. */
void sk_state_set_config(sk_server_state *st, sk_config *c);

/* What one thread needs to answer requests: a searcher (a searcher belongs to one thread), a
 * hits buffer, its metrics and a request-id sequence. */
typedef struct sk_worker {
    sk_server_state *st;
    souk_searcher *searcher;
    souk_hit *hits;
    size_t hits_cap;
    sk_metrics *m;
    char rid_prefix[9];
    uint64_t rid_seq;
    sk_buf scratch; /* decoded parameters */
    /* The socket of the connection whose request is being answered (-1: none, as in the fuzz
     * driver): a search polls it to stop when the client has gone (ep_search.c). Set by the
     * server before each sk_handle on the worker's thread. */
    int conn_fd;
    struct sk_ptable *ptable;       /* the profiles this worker serves with (profiles.c) */
    struct souk_analyzer *analyzer; /* normal forms of queries for curation; lazily made */
} sk_worker;

int sk_worker_new(sk_server_state *st, sk_worker **out);
void sk_worker_free(sk_worker *w);

/* A request as an endpoint sees it. */
typedef struct sk_ctx {
    sk_worker *w;
    sk_config *cfg;
    const sk_request *req;
    const char *path;     /* decoded path, NUL-terminated */
    const char *path_arg; /* what the route's "{id}" matched (decoded), or NULL */
    size_t path_arg_len;
    const char *query_string;
    size_t query_len;
    char request_id[SK_HDR_RID_MAX + 1];
    sk_buf *out; /* the response body (JSON or text) */
    const char *content_type;
    const char *extra_headers; /* NULL, or more response header lines, each ending in CRLF */
    int status;
    int is_admin;
    int has_user; /* a valid X-User-Token: user holds its claims */
    souk_token_claims user;
    long long nhits; /* a search's hits found (ep_search.c), for its search event; -1 */
    int ep;          /* the endpoint's number (SK_EP_*), EP_OTHER before routing */
    uint64_t t0_ns;
} sk_ctx;

/* Writes the complete HTTP response to req into out (appended). keep_alive_ok is 0 when the
 * connection closes after this response. Runs on any thread that owns w. Returns the status. */
int sk_handle(sk_worker *w, const sk_request *req, int keep_alive_ok, sk_buf *out);
/* Writes an error response outside the router (framing errors, overload, timeouts) into out
 * (appended), with an X-Request-Id and the body's request_id like every response: the client's
 * own from req when req is given and its headers were read (req->request_id is then checked),
 * else a new one from w (NULL: a random one, for a thread that owns no worker). Runs on the
 * thread that owns w. */
void sk_error_response(sk_worker *w, const sk_request *req, int status, const char *code,
                       const char *message, int close, sk_buf *out);
/* Records a response in m. */
void sk_metrics_record(sk_metrics *m, int ep, int status, uint64_t us);

/* Sets the error body {"error":{"code","message","field"}} and status; returns status. */
int sk_fail(sk_ctx *c, int status, const char *code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* The endpoints' handlers (api/endpoints.h): each writes its response body into c->out and
 * returns the status (sk_fail for errors). */
#define SK_ENDPOINT(path, label, methods, auth, handler) int handler(sk_ctx *c);
#include "endpoints.h"
#undef SK_ENDPOINT

/* The route table: api/endpoints.h, in order (EP_OTHER has no entry). */
/* SK_AUTH_SEARCH: a search or admin key; SK_AUTH_ADMIN: an admin key; SK_AUTH_INGEST: an ingest
 * or admin key; SK_AUTH_ANALYST: an analyst or admin key; SK_AUTH_USER: a valid user token
 * (X-User-Token), which alone names the user (c->user); SK_AUTH_EVENTS: checked by the handler
 * (POST /1/events: a key in the query string, a user token in each event), with preflights. */
enum {
    SK_AUTH_NONE,
    SK_AUTH_SEARCH,
    SK_AUTH_ADMIN,
    SK_AUTH_INGEST,
    SK_AUTH_ANALYST,
    SK_AUTH_USER,
    SK_AUTH_EVENTS
};
typedef struct sk_route {
    const char *pattern; /* "/v1/items/{id}" */
    const char *label;   /* metrics label */
    unsigned methods;    /* bit per enum http_method */
    int auth;
    int (*handler)(sk_ctx *c);
} sk_route;
extern const sk_route sk_routes[EP_COUNT - 1];
/* The label of endpoint number ep (EP_OTHER: "other"). */
const char *sk_endpoint_label(int ep);

/* Percent-decodes s (with '+' as space when plus_space) into out (NUL-terminated). Returns 0,
 * or -1 on a malformed escape. */
int sk_url_decode(const char *s, size_t n, int plus_space, sk_buf *out);

uint64_t sk_now_ns(void);

/* ------------------------------------------------------------------ analytics tables */

/* A boolean parameter's value: "true"/"1" or "false"/"0" into *out; else 400 naming it. 0, or
 * the status answered. */
int sk_param_bool(sk_ctx *c, const sk_buf *v, const char *name, int *out);

/* What every k-anonymous table takes (P16; docs/api.md): the period (from's first to to's last
 * millisecond, UTC; default the 30 days up to today; at most 366 days), k (default and floor
 * the configured analytics_k), noise (default off) and limit (1 to 1,000, default 100). */
typedef struct sk_table_params {
    int64_t from_ms, to_ms;
    uint32_t k, limit;
    int noise;
} sk_table_params;

/* Parses those parameters (each NULL when the request did not give it) into *out; what names
 * what a k leaves out in its error ("rows", "segments"). 0, or the status of the 400 answered. */
int sk_table_params_parse(sk_ctx *c, const sk_buf *from, const sk_buf *to, const sk_buf *k,
                          const sk_buf *noise, const sk_buf *limit, const char *what,
                          sk_table_params *out);

/* ------------------------------------------------------------------ ranking profiles */

/* One compiled profile version (profiles.c): the parsed document and the lexicon of its own
 * synonyms and stop words (NULL: it has none, the configuration's apply). Immutable and
 * reference counted, so a request keeps the version it started with. */
typedef struct sk_cprofile {
    atomic_int refs;
    char *name;
    uint32_t version;
    int64_t updated_ms;
    struct souk_profile *p;
    struct souk_lexicon *lex;
} sk_cprofile;

/* Opens the profile store in DIR/profiles and adds the configuration's profiles that it does
 * not hold yet as their version 1; then st->profiles serves the current versions. 0, or a
 * SOUK_E* code with err. On the main thread, before the workers start. */
int sk_profiles_open(sk_server_state *st, const sk_config *cfg, char *err, size_t errlen);
/* After a reload: the configuration's profiles that the store does not hold yet become their
 * version 1 (existing profiles are left as they are: the store is their source of truth).
 * Errors are logged. Any thread. */
void sk_profiles_seed(sk_server_state *st, const sk_config *cfg);
void sk_profiles_close(sk_server_state *st);
/* The compiled profile that spec ("name" or "name@version") names, with one reference
 * (sk_cprofile_unref); the current versions come from the worker's table, refreshed when a
 * version was stored since (one atomic load per request). 0, or the status of the 400 answered
 * (unknown name or version, naming it). On the worker's thread. */
int sk_profile_resolve(sk_ctx *c, const char *spec, sk_cprofile **out);
/* A profile document not stored (POST /v1/search's "profile_draft", the analyst page's preview),
 * validated against the index's schema and compiled for one request as "draft" version 0. 0, or
 * the status answered (400 `invalid_profile`, the member's path after "profile_draft."). */
int sk_profile_draft(sk_ctx *c, const char *doc, size_t len, sk_cprofile **out);
void sk_cprofile_unref(sk_cprofile *cp);
/* The profile store of the endpoints /v1/profiles...; NULL when the server has none (404
 * answered). */
struct souk_profstore *sk_profiles_store(sk_ctx *c);
/* Validates doc as a profile, stores it as the next version of name and publishes it to every
 * worker. 0 and *version, or the status answered (400 `invalid_profile` naming the member in
 * "field"; the current version stays). On a worker's thread. */
int sk_profiles_put(sk_ctx *c, const char *name, const char *doc, size_t len, uint32_t *version);
/* Appends ,"updated":"YYYY-MM-DDTHH:MM:SS.mmmZ" for ms since the epoch (ep_profiles.c). */
void sk_write_time(sk_buf *b, int64_t ms);
struct souk_filter;

/* The curation of one search (curation.c): the docids of the items its profile's rule for
 * the query hides, and of those it pins at positions (1-based over the whole order), with the
 * score each had among the matches (0 when it was not one). */
typedef struct sk_curation {
    int on;
    uint32_t hide[100];
    size_t nhide;
    uint32_t pin[20], pos[20];
    double pscore[20];
    size_t npins;
} sk_curation;

/* Loads into cu the rule of cp (NULL: none) matching q[0, qn) (exact, else normalized), its
 * item ids looked up in the worker's snapshot: ids not in the index are left out. 0, or the
 * status answered (500). On the worker's thread, after the searcher's refresh. */
int sk_curation_load(sk_ctx *c, const sk_cprofile *cp, const char *q, size_t qn, sk_curation *cu);
/* Leaves out the pins that do not pass filter f (struct souk_filter). */
int sk_curation_filter(sk_ctx *c, sk_curation *cu, const struct souk_filter *f);
/* Removes the hidden and the pinned items from hits[0, *n), keeping the order; a pinned item's
 * score is kept in cu. */
void sk_curation_drop(sk_curation *cu, souk_hit *hits, size_t *n);
/* The curated order of the first k positions into out (k slots): the pins at their positions
 * (with pins 0: none), the hits in[0, n) around them, a pin past the last hit right after it.
 * src[i] is the index in `in` of out[i], or -1 for a pin. Returns the number written. */
size_t sk_curation_place(const sk_curation *cu, int pins, const souk_hit *in, size_t n,
                         souk_hit *out, int32_t *src, size_t k);
/* Releases what w holds of the profiles (sk_worker_free). */
void sk_worker_profiles_free(sk_worker *w);

/* ------------------------------------------------------------------ behaviour events */

/* Wall-clock milliseconds since the epoch (what the event store is given as now). */
int64_t sk_now_ms(void);
/* The event store, or answers 404 `events_disabled` and returns NULL. Drains the search-event
 * queue first (sk_events_flush), so what the endpoint reads or changes follows every search
 * made before it. */
souk_events *sk_events(sk_ctx *c);
/* The same without the drain (POST /v1/events, which only queues). */
souk_events *sk_events_store(sk_ctx *c);
/* Adds the queued search events to s in one transaction (privacy.c). Any thread. */
int sk_events_flush(souk_events *s);
/* Answers 500 `internal` for an event-store error code rc (SOUK_ENOMEM, SOUK_EIO, ...). */
int sk_fail_store(sk_ctx *c, int rc, const char *what);
/* Records a personal search (ep_search.c): with a user token and search_history consent, a
 * search event for query q with c->nhits joins the queue the background thread drains. Errors
 * are logged, never fail the search. */
void sk_record_search(sk_ctx *c, const char *q, size_t qlen);

/* Reads the query string's parameters named names[0..n) into vals (set[i]: given); an unknown
 * or repeated parameter or a malformed escape answers 400 and returns the status. */
int sk_params(sk_ctx *c, const char *const *names, size_t n, sk_buf *vals, int *set);
/* "pending", "running", "completed", "failed" (souk_job_state). */
const char *sk_job_state_name(int st);
/* ?limit=N (1..1000, default 100) of the /v1/me lists; 0 or the status. */
int sk_limit_param(sk_ctx *c, uint32_t *limit);
/* 400 `unknown_parameter` when the request has a query string. */
int sk_no_params(sk_ctx *c);
/* The event store's item_tags callback (souk_events_opts): "category:<section, else category>" of
 * the catalog item, as souk-index events derives it, read through a per-thread reader of the
 * index arg (a souk_index). */
int sk_item_tags(void *arg, const char *item, char (*tags)[64], int max);

/* The background thread of the event store: erasure jobs (woken by sk_bg_wake and at start, so
 * jobs left by a crash resume) and the retention sweep every interval_s seconds. */
int sk_bg_start(sk_server_state *st, uint32_t interval_s);
void sk_bg_wake(sk_server_state *st);
/* Asks the background thread to drain the search-event queue (sk_events_flush). */
void sk_bg_flush(sk_server_state *st);
/* Stops the thread after a last drain of the queue. */
void sk_bg_stop(sk_server_state *st);

/* ------------------------------------------------------------------ replication (replication.c) */

/* The streams a replica follows from NATS JetStream (docs/scaling.md). */
enum { SK_REPL_CATALOG, SK_REPL_EVENTS, SK_REPL_KINDS };
/* How long a request with min_seq waits for its sequence before 503 not_caught_up. */
#define SK_MIN_SEQ_WAIT_MS 1000

typedef struct sk_repl {
    int configured; /* the store was fed from a stream, or a status file exists */
    int has_status; /* the indexer's status file was read */
    char stream[72];
    uint64_t applied;      /* committed in the store */
    uint64_t stream_last;  /* the stream's last sequence as the indexer last saw it */
    uint64_t lag;          /* stream_last - applied */
    int connected;         /* the indexer reached NATS at its last look */
    int64_t status_age_ms; /* age of the status file */
} sk_repl;

/* The applied sequence of stream kind (the store's own committed position); returns 1 when the
 * store was fed from a stream, 0 (with *seq 0) otherwise. Any thread. */
int sk_repl_applied(sk_server_state *st, int kind, uint64_t *seq);
/* Everything above of kind into *r; returns r->configured. Any thread. */
int sk_repl_read(sk_server_state *st, int kind, sk_repl *r);
/* ,"replication":{...} for /healthz (nothing for a server fed from files). */
void sk_repl_json(sk_server_state *st, sk_buf *o);
/* The souk_replication_* gauges for /metrics. */
void sk_repl_metrics(sk_server_state *st, sk_buf *o);
/* A min_seq value: decimal digits, at most 19. 0 or -1. */
int sk_min_seq_parse(const char *s, size_t n, uint64_t *out);
/* 0 when min_seq (0: none) of stream kind is applied, else answers 503 not_caught_up with the
 * applied sequence and returns 503. */
int sk_min_seq_check(sk_ctx *c, int kind, uint64_t min_seq);
/* 1 when req is a GET /v1/search or /v1/recommend whose query string's min_seq is not applied
 * yet: the server holds it on a timer (server.c) for up to SK_MIN_SEQ_WAIT_MS before answering. */
int sk_min_seq_pending(sk_server_state *st, const sk_request *req);

#endif
