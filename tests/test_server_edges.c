/* test_server_edges.c: the promises of docs/api.md that the other server tests leave out, through
 * the real souk-server on 127.0.0.1 over an index of the first 2,000 Debian records:
 *   - start-up refusals: every usage error exits 2, an index that cannot be opened, an access log
 *     that cannot be written and each kind of configuration error exit 1 with a message naming
 *     the fault (and a reload to such a file is refused, the running limits staying);
 *   - chunked request bodies: one split into chunks equals the same body sent with
 *     Content-Length; malformed chunk framing is 400 `bad_request` and closes; a chunked body at
 *     `max_body_bytes` is read, one byte over is 413 `body_too_large` and closes;
 *   - limits after a reload: a lowered and a raised limit apply after SIGHUP, the per-request ones
 *     (`max_per_page`) on every connection, the framing ones (`max_body_bytes`) on connections
 *     accepted after the reload;
 *   - draining: a request finished after SIGTERM on an open connection is answered with
 *     `Connection: close` and the connection closes; an idle one closes unanswered; no new
 *     connection is accepted;
 *   - `X-Request-Id`: echoed when plain and at most 64 characters, in the header and the body's
 *     `request_id`; replaced by a new id when longer (65, 4,000 bytes) or not plain;
 *   - 500 `internal` and 503 `index_unavailable`: an index whose meta record is damaged (through
 *     raw LMDB, as a disk or another program could) cannot be read: `/healthz` answers 503
 *     `index_unavailable` with `Retry-After`, `/v1/search` and `/v1/items/{id}` 500 `internal`,
 *     each in the documented error shape; once the record is repaired the same server answers
 *     200 again. No fault injection: the server's code is the production code. */
#include "http_kit.h"

#include "souk/souk.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <lmdb.h>
#include <sys/stat.h>
#include <time.h>

static char dir[] = "/tmp/souk-test-edges-XXXXXX";
static char data_dir[512], cfg_path[512];
static const char *SKEY = "edges-search-key-0123", *AKEY = "edges-admin-key-4567";
static char skey_hash[80], akey_hash[80];

/* ------------------------------------------------------------------ helpers */

/* Writes the config file: the two keys and `limits` (a JSON object's members, may be ""). */
static void write_config(const char *limits)
{
    FILE *f = fopen(cfg_path, "w");
    REQUIRE(f);
    fprintf(f, "{\"search_keys\":[\"%s\"],\"admin_keys\":[\"%s\"],\"limits\":{%s}}\n", skey_hash,
            akey_hash, limits);
    fclose(f);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    REQUIRE(f);
    fputs(text, f);
    fclose(f);
}

/* Runs souk-server with `args` (shell words) until it exits; its exit status, stderr in msg. */
static int server_exit(const char *args, char *msg, size_t cap)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s/souk-server' %s 2>&1 >/dev/null </dev/null", SOUK_BIN_DIR, args);
    FILE *p = popen(cmd, "r");
    REQUIRE(p);
    size_t n = fread(msg, 1, cap - 1, p);
    msg[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* The error code of a JSON error body and whether the body has the documented shape:
 * {"error":{"code":"…","message":"…"[,"field":"…"]},"request_id":"…"} with request_id equal to
 * the X-Request-Id header. */
static int error_shape(const kit_resp *r, const char *code)
{
    char rid[128];
    cJSON *j = cJSON_Parse(r->body ? r->body : "");
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "error");
    const char *c = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "code"));
    const char *m = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, "message"));
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "request_id"));
    int ok = cJSON_IsObject(j) && cJSON_GetArraySize(j) == 2 && c && strcmp(c, code) == 0 && m &&
             *m && id && kit_header(r, "X-Request-Id", rid, sizeof rid) && strcmp(id, rid) == 0 &&
             strstr(r->head, "\r\nContent-Type: application/json");
    if (!ok)
        fprintf(stderr, "  wanted error %s, got %d %s\n", code, r->status, r->body ? r->body : "");
    cJSON_Delete(j);
    return ok;
}

/* The value of an unlabelled counter in /metrics, or -1. */
static long long metric(int port, const char *name)
{
    kit_resp r;
    long long v = -1;
    if (kit_get(port, "/metrics", AKEY, &r) == 200) {
        char pat[128];
        snprintf(pat, sizeof pat, "\n%s ", name);
        const char *p = strstr(r.body, pat);
        if (p)
            v = strtoll(p + strlen(pat), NULL, 10);
    }
    kit_resp_free(&r);
    return v;
}

/* SIGHUP, then waits (up to 5 s) until souk_config_reloads_total reaches `want`. */
static int reload(kit_server *s, long long want)
{
    kill(s->pid, SIGHUP);
    for (int i = 0; i < 100; i++) {
        if (metric(s->port, "souk_config_reloads_total") >= want)
            return 1;
        usleep(50000);
    }
    return 0;
}

/* A POST /v1/search with a Content-Length body on connection c; the status. */
static int post_on(kit_conn *c, const char *body, kit_resp *r)
{
    size_t bl = strlen(body);
    char *raw = malloc(bl + 512);
    REQUIRE(raw);
    int n = snprintf(raw, 512,
                     "POST /v1/search HTTP/1.1\r\nHost: t\r\nX-Api-Key: %s\r\nContent-Type: "
                     "application/json\r\nContent-Length: %zu\r\n\r\n",
                     SKEY, bl);
    memcpy(raw + n, body, bl);
    int rc = kit_send(c, raw, (size_t)n + bl) || kit_read(c, r) ? -1 : r->status;
    free(raw);
    return rc;
}

/* A JSON body of exactly `len` bytes searching "editor": {"q":"editor"} padded with spaces. */
static char *padded_body(size_t len)
{
    static const char head[] = "{\"q\":\"editor\"";
    REQUIRE(len >= sizeof head);
    char *b = malloc(len + 1);
    REQUIRE(b);
    memcpy(b, head, sizeof head - 1);
    memset(b + sizeof head - 1, ' ', len - sizeof head);
    b[len - 1] = '}';
    b[len] = 0;
    return b;
}

/* The part of a search response that does not vary between two equal requests: from "total" to
 * just before "took_us". */
static char *stable_part(const kit_resp *r)
{
    const char *a = r->body ? strstr(r->body, "\"total\"") : NULL;
    const char *b = a ? strstr(a, ",\"took_us\"") : NULL;
    return a && b ? strndup(a, (size_t)(b - a)) : strdup("(none)");
}

/* ------------------------------------------------------------------ start-up refusals */

/* Copies tmpl into out with %D replaced by the quoted index directory and %K by the search key's
 * hash. */
static void expand(const char *tmpl, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = 0;
    for (const char *s = tmpl; *s && o + 1 < cap;) {
        if (s[0] == '%' && (s[1] == 'D' || s[1] == 'K')) {
            o += (size_t)snprintf(out + o, cap - o, s[1] == 'D' ? "'%s'" : "%s",
                                  s[1] == 'D' ? data_dir : skey_hash);
            s += 2;
        } else {
            out[o++] = *s++;
            out[o] = 0;
        }
    }
    REQUIRE(o + 1 < cap);
}

static void test_start_errors(void)
{
    char msg[4096], args[2048];
    /* Usage errors: exit 2. */
    static const char *const usage[] = {
        "",                                                 /* no --data */
        "--data",                                           /* option without its value */
        "--data %D --threads 0 --development",              /* threads below 1 */
        "--data %D --threads 65 --development",             /* threads above 64 */
        "--data %D --mode fastest --development",           /* unknown mode */
        "--data %D --colour blue --development",            /* unknown option */
        "--data %D --listen 127.0.0.1 --development",       /* no port */
        "--data %D --listen 127.0.0.1:99999 --development", /* port out of range */
        "--data %D --listen 127.0.0.1:http --development",  /* port not a number */
        "--data %D --listen localhost:0 --development",     /* not an IPv4 address */
        "--data %D --development --config D/none.json",     /* contradictory */
    };
    for (size_t i = 0; i < sizeof usage / sizeof usage[0]; i++) {
        char a[1024];
        expand(usage[i], a, sizeof a);
        int st = server_exit(a, msg, sizeof msg);
        CHECK(st == 2);
        if (st != 2)
            fprintf(stderr, "  souk-server %s: exit %d, %s\n", a, st, msg);
    }
    /* An index that cannot be opened: exit 1, the directory named. */
    char empty[600];
    snprintf(empty, sizeof empty, "%s/empty", dir);
    REQUIRE(mkdir(empty, 0755) == 0);
    snprintf(args, sizeof args, "--data '%s' --listen 127.0.0.1:0 --development", empty);
    CHECK(server_exit(args, msg, sizeof msg) == 1 && strstr(msg, empty));
    /* An access log that cannot be opened: exit 1, the file named. */
    snprintf(args, sizeof args,
             "--data '%s' --listen 127.0.0.1:0 --development --access-log '%s/no/such/dir/log'",
             data_dir, dir);
    CHECK(server_exit(args, msg, sizeof msg) == 1 && strstr(msg, "no/such/dir/log"));
    /* A config file that is absent. */
    snprintf(args, sizeof args, "--data '%s' --listen 127.0.0.1:0 --config '%s/absent.json'",
             data_dir, dir);
    CHECK(server_exit(args, msg, sizeof msg) == 1 && strstr(msg, "absent.json"));

    /* Configuration errors: exit 1 and a message naming the field at fault (docs/api.md:
     * "unknown fields are errors"; "every limit is an integer from 1 to its maximum; anything
     * else refuses the file"). %K is a valid key hash. */
    static const struct {
        const char *json, *names;
    } bad[] = {
        {"[1,2]", "not a JSON object"},
        {"{\"search_keys\":", "not a JSON object"},
        {"{\"search_keys\":\"%K\"}", "search_keys"},
        {"{\"search_keys\":[\"%K\"],\"admin_keys\":[\"sha256:0123\"]}", "admin_keys"},
        {"{\"search_keys\":[\"plain-key-not-a-hash\"]}", "search_keys"},
        {"{\"search_keys\":[\"%K\"],\"limits\":[1]}", "limits"},
        {"{\"search_keys\":[\"%K\"],\"limits\":{\"max_pages\":5}}", "limits.max_pages"},
        {"{\"search_keys\":[\"%K\"],\"limits\":{\"max_per_page\":0}}", "limits.max_per_page"},
        {"{\"search_keys\":[\"%K\"],\"limits\":{\"max_per_page\":10001}}", "limits.max_per_page"},
        {"{\"search_keys\":[\"%K\"],\"limits\":{\"max_per_page\":2.5}}", "limits.max_per_page"},
        {"{\"search_keys\":[\"%K\"],\"limits\":{\"max_per_page\":\"5\"}}", "limits.max_per_page"},
        {"{\"search_keys\":[\"%K\"],\"limits\":{\"max_search_ms\":60001}}", "limits.max_search_ms"},
        {"{\"search_keys\":[\"%K\"],\"limits\":{\"max_query_terms\":65537}}",
         "limits.max_query_terms"},
        {"{\"search_keys\":[\"%K\"],\"profiles\":[]}", "profiles"},
        {"{\"search_keys\":[\"%K\"],\"profiles\":{\"cheap\":1}}", "cheap"},
        {"{\"search_keys\":[\"%K\"],\"profiles\":{\"cheap\":{\"speed\":1}}}", "speed"},
        {"{\"search_keys\":[\"%K\"],\"profiles\":{\"cheap\":{\"operator\":\"xor\"}}}", "operator"},
        {"{\"search_keys\":[\"%K\"],\"profiles\":{\"cheap\":{\"typo\":\"yes\"}}}", "typo"},
        {"{\"search_keys\":[\"%K\"],\"cursor_secret\":\"short\"}", "cursor_secret"},
        {"{\"search_keys\":[\"%K\"],\"cursor_secret\":12345678901234567890}", "cursor_secret"},
        {"{\"development\":\"yes\"}", "development"},
        {"{\"development\":true,\"search_keys\":[\"%K\"]}", "development"},
        {"{\"search_keys\":[\"%K\"],\"cors_origins\":\"*\"}", "cors_origins"},
        {"{\"search_keys\":[\"%K\"],\"cors_origins\":[\"https://a.example b\"]}", "cors_origins"},
        {"{\"search_keys\":[\"%K\"],\"cors_origins\":[\"\"]}", "cors_origins"},
        {"{\"search_keys\":[\"%K\"],\"cors_origins\":[7]}", "cors_origins"},
        {"{\"search_keys\":[\"%K\"],\"colour\":\"blue\"}", "colour"},
        {"{\"search_keys\":[\"%K\"],\"synonyms\":{\"a\":\"b\"}}", "synonyms"},
        {"{\"search_keys\":[\"%K\"],\"synonyms\":[[\"tv\",3]]}", "synonyms"},
        {"{\"search_keys\":[\"%K\"],\"synonyms\":[\"tv\",\"television\"]}", "synonyms"},
        {"{\"search_keys\":[\"%K\"],\"stop_words\":[\"the\",1]}", "stop_words"},
        {"{\"search_keys\":[\"%K\"],\"stop_words\":\"the\"}", "stop_words"},
    };
    char bad_path[600];
    snprintf(bad_path, sizeof bad_path, "%s/bad.json", dir);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char json[1024];
        expand(bad[i].json, json, sizeof json);
        write_file(bad_path, json);
        snprintf(args, sizeof args, "--data '%s' --listen 127.0.0.1:0 --config '%s'", data_dir,
                 bad_path);
        int st = server_exit(args, msg, sizeof msg);
        CHECK(st == 1 && strstr(msg, bad[i].names));
        if (st != 1 || !strstr(msg, bad[i].names))
            fprintf(stderr, "  config %s: exit %d, %s\n", json, st, msg);
    }
    /* A file over 1 MiB (valid JSON otherwise: spaces). */
    FILE *f = fopen(bad_path, "w");
    REQUIRE(f);
    fprintf(f, "{\"search_keys\":[\"%s\"]", skey_hash);
    for (int i = 0; i < (1 << 20); i++)
        fputc(' ', f);
    fputs("}\n", f);
    fclose(f);
    snprintf(args, sizeof args, "--data '%s' --listen 127.0.0.1:0 --config '%s'", data_dir,
             bad_path);
    CHECK(server_exit(args, msg, sizeof msg) == 1 && strstr(msg, "1 MiB"));
}

/* ------------------------------------------------------------------ chunked bodies */

/* Sends raw on a new connection; the response status (-1: none) and whether the server then
 * closed the connection. */
static int raw_then_closed(int port, const char *raw, size_t len, kit_resp *r, int *closed)
{
    kit_conn *c = kit_dial(port);
    REQUIRE(c);
    int st = kit_send(c, raw, len) || kit_read(c, r) ? -1 : r->status;
    *closed = st >= 0 && kit_closed(c);
    kit_close(c);
    return st;
}

static void test_chunked(int port)
{
    char raw[16384];
    kit_resp r, ref;
    int closed;
    /* The reference: the same body with Content-Length. */
    kit_conn *c = kit_dial(port);
    REQUIRE(c);
    REQUIRE(post_on(c, "{\"q\":\"text editor\",\"per_page\":5}", &ref) == 200);
    kit_close(c);
    char *want = stable_part(&ref);
    CHECK(strstr(want, "\"hits\":[{"));
    /* Split into three chunks, sizes in upper- and lower-case hex, one with an extension. */
    static const char *const part[] = {"{\"q\":\"text", " editor\",\"pe", "r_page\":5}    "};
    int n = snprintf(raw, sizeof raw,
                     "POST /v1/search HTTP/1.1\r\nHost: t\r\nX-Api-Key: %s\r\n"
                     "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "%zX\r\n%s\r\n%zx;ext=1\r\n%s\r\n%zx\r\n%s\r\n0\r\n\r\n",
                     SKEY, strlen(part[0]), part[0], strlen(part[1]), part[1], strlen(part[2]),
                     part[2]);
    REQUIRE(strlen(part[0]) >= 10 && strlen(part[1]) >= 10); /* hex letters in both cases */
    REQUIRE(kit_request(port, raw, (size_t)n, &r) == 200);
    char *got = stable_part(&r);
    CHECK(strcmp(got, want) == 0);
    free(got);
    kit_resp_free(&r);
    /* Chunked with Expect: 100-continue, one byte a chunk, on a kept-alive connection followed
     * by a second request on it. */
    const char *body = "{\"q\":\"text editor\",\"per_page\":5}";
    n = snprintf(raw, sizeof raw,
                 "POST /v1/search HTTP/1.1\r\nHost: t\r\nX-Api-Key: %s\r\nExpect: 100-continue\r\n"
                 "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
                 SKEY);
    for (const char *p = body; *p; p++)
        n += snprintf(raw + n, sizeof raw - (size_t)n, "1\r\n%c\r\n", *p);
    n += snprintf(raw + n, sizeof raw - (size_t)n, "0\r\n\r\n");
    c = kit_dial(port);
    REQUIRE(c);
    REQUIRE(kit_send(c, raw, (size_t)n) == 0);
    REQUIRE(kit_read(c, &r) == 0);
    CHECK(r.status == 200);
    got = stable_part(&r);
    CHECK(strcmp(got, want) == 0);
    free(got);
    kit_resp_free(&r);
    REQUIRE(kit_send(c, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", 35) == 0);
    CHECK(kit_read(c, &r) == 0 && r.status == 200);
    kit_resp_free(&r);
    kit_close(c);
    free(want);
    kit_resp_free(&ref);

    /* Malformed chunk framing: 400 bad_request, then the connection closes. */
    static const char *const broken[] = {
        "zz\r\n{\"q\":\"vim\"}\r\n0\r\n\r\n",  /* size not hex */
        "b\r\n{\"q\":\"vim\"}XX0\r\n\r\n",     /* no CRLF after the data */
        "5\r\n{\"q\":\"vim\"}\r\n0\r\n\r\n",   /* data longer than its size */
        "-b\r\n{\"q\":\"vim\"}\r\n0\r\n\r\n",  /* negative size */
        "fffffffffffffffff\r\nx\r\n0\r\n\r\n", /* size overflows */
    };
    for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++) {
        n = snprintf(raw, sizeof raw,
                     "POST /v1/search HTTP/1.1\r\nHost: t\r\nX-Api-Key: %s\r\n"
                     "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n%s",
                     SKEY, broken[i]);
        int st = raw_then_closed(port, raw, (size_t)n, &r, &closed);
        CHECK(st == 400 && error_shape(&r, "bad_request") && closed);
        if (st != 400 || !closed)
            fprintf(stderr, "  chunked case %zu: status %d closed %d\n", i, st, closed);
        kit_resp_free(&r);
    }

    /* The CRLF after a chunk's data arriving apart from it (separate reads): "\r" then "\n" is
     * read as one, "\r" then "X" refused. */
    for (int good = 1; good >= 0; good--) {
        n = snprintf(raw, sizeof raw,
                     "POST /v1/search HTTP/1.1\r\nHost: t\r\nX-Api-Key: %s\r\n"
                     "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "b\r\n{\"q\":\"vim\"}",
                     SKEY);
        c = kit_dial(port);
        REQUIRE(c);
        REQUIRE(kit_send(c, raw, (size_t)n) == 0);
        usleep(100000);
        REQUIRE(kit_send(c, "\r", 1) == 0);
        usleep(100000);
        const char *rest = good ? "\n0\r\n\r\n" : "X0\r\n\r\n";
        REQUIRE(kit_send(c, rest, strlen(rest)) == 0);
        int st = kit_read(c, &r) ? -1 : r.status;
        CHECK(good ? st == 200 : st == 400 && error_shape(&r, "bad_request") && kit_closed(c));
        if (st != (good ? 200 : 400))
            fprintf(stderr, "  split CRLF (%s): status %d\n", good ? "valid" : "invalid", st);
        kit_resp_free(&r);
        kit_close(c);
    }

    /* max_body_bytes is 4096 here: a chunked body of exactly 4096 bytes is read; 4097 bytes,
     * each chunk well under the limit, is 413 and the connection closes. */
    for (size_t len = 4096; len <= 4097; len++) {
        char *b = padded_body(len);
        n = snprintf(raw, sizeof raw,
                     "POST /v1/search HTTP/1.1\r\nHost: t\r\nX-Api-Key: %s\r\n"
                     "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
                     SKEY);
        for (size_t off = 0; off < len; off += 1000) {
            size_t k = len - off < 1000 ? len - off : 1000;
            n += snprintf(raw + n, sizeof raw - (size_t)n, "%zx\r\n%.*s\r\n", k, (int)k, b + off);
        }
        n += snprintf(raw + n, sizeof raw - (size_t)n, "0\r\n\r\n");
        free(b);
        int st = raw_then_closed(port, raw, (size_t)n, &r, &closed);
        if (len == 4096)
            CHECK(st == 200 && strstr(r.body, "\"hits\":[{"));
        else
            CHECK(st == 413 && error_shape(&r, "body_too_large") && closed);
        kit_resp_free(&r);
    }
}

/* ------------------------------------------------------------------ limits after a reload */

static void test_reload_limits(void)
{
    write_config("\"max_body_bytes\":4096,\"max_per_page\":50");
    const char *args[] = {"--data", data_dir, "--config", cfg_path, "--threads", "2", NULL};
    kit_server s;
    kit_start(&s, args);
    kit_resp r;
    char *b2000 = padded_body(2000), *b1024 = padded_body(1024);
    kit_conn *old = kit_dial(s.port);
    REQUIRE(old);
    CHECK(post_on(old, b2000, &r) == 200);
    kit_resp_free(&r);
    CHECK(kit_get(s.port, "/v1/search?q=editor&per_page=6", SKEY, &r) == 200);
    kit_resp_free(&r);

    /* Lower both. */
    write_config("\"max_body_bytes\":1024,\"max_per_page\":5");
    REQUIRE(reload(&s, 1));
    kit_conn *c = kit_dial(s.port);
    REQUIRE(c);
    CHECK(post_on(c, b1024, &r) == 200); /* at the new limit */
    kit_resp_free(&r);
    int st = post_on(c, b2000, &r); /* over it: 413, then closed */
    CHECK(st == 413 && error_shape(&r, "body_too_large"));
    kit_resp_free(&r);
    kit_close(c);
    CHECK(kit_get(s.port, "/v1/search?q=editor&per_page=5", SKEY, &r) == 200);
    kit_resp_free(&r);
    CHECK(kit_get(s.port, "/v1/search?q=editor&per_page=6", SKEY, &r) == 400 &&
          error_shape(&r, "invalid_parameter") && strstr(r.body, "\"field\":\"per_page\""));
    kit_resp_free(&r);
    /* Without per_page, the default (10) is cut to the new max_per_page. */
    CHECK(kit_get(s.port, "/v1/search?q=editor", SKEY, &r) == 200 &&
          strstr(r.body, "\"per_page\":5,"));
    kit_resp_free(&r);
    /* The connection accepted before the reload: the per-request limit applies to it too, the
     * framing limit it was accepted with stays. */
    char raw[256];
    int rl = snprintf(
        raw, sizeof raw,
        "GET /v1/search?q=editor&per_page=6 HTTP/1.1\r\nHost: t\r\nX-Api-Key: %s\r\n\r\n", SKEY);
    REQUIRE(kit_send(old, raw, (size_t)rl) == 0);
    CHECK(kit_read(old, &r) == 0 && r.status == 400);
    kit_resp_free(&r);
    CHECK(post_on(old, b2000, &r) == 200);
    kit_resp_free(&r);
    kit_close(old);

    /* Raise them again. */
    write_config("\"max_body_bytes\":8192,\"max_per_page\":60");
    REQUIRE(reload(&s, 2));
    c = kit_dial(s.port);
    REQUIRE(c);
    CHECK(post_on(c, b2000, &r) == 200);
    kit_resp_free(&r);
    kit_close(c);
    CHECK(kit_get(s.port, "/v1/search?q=editor&per_page=60", SKEY, &r) == 200);
    kit_resp_free(&r);

    /* A reload to a file with a bad limit is refused: the count stays, and so do the limits. */
    write_config("\"max_per_page\":0");
    kill(s.pid, SIGHUP);
    usleep(300000);
    CHECK(metric(s.port, "souk_config_reloads_total") == 2);
    CHECK(kit_get(s.port, "/v1/search?q=editor&per_page=60", SKEY, &r) == 200);
    kit_resp_free(&r);
    CHECK(kit_get(s.port, "/v1/search?q=editor&per_page=61", SKEY, &r) == 400);
    kit_resp_free(&r);
    /* And to a file that is gone. */
    REQUIRE(unlink(cfg_path) == 0);
    kill(s.pid, SIGHUP);
    usleep(300000);
    CHECK(metric(s.port, "souk_config_reloads_total") == 2);
    CHECK(kit_get(s.port, "/v1/search?q=editor&per_page=60", SKEY, &r) == 200);
    kit_resp_free(&r);
    free(b2000);
    free(b1024);
    CHECK(kit_stop(&s) == 0);
    write_config("\"max_body_bytes\":4096");
}

/* ------------------------------------------------------------------ draining */

static void test_drain(const char *mode)
{
    write_config("");
    const char *args[] = {"--data", data_dir, "--config", cfg_path, "--threads",
                          "2",      "--mode", mode,       NULL};
    kit_server s;
    kit_start(&s, args);
    kit_resp r;
    char raw[512];
    int n =
        snprintf(raw, sizeof raw,
                 "GET /v1/search?q=text+editor HTTP/1.1\r\nHost: t\r\nX-Api-Key: %s\r\n\r\n", SKEY);
    /* Before the signal, keep-alive answers carry no Connection: close. */
    kit_conn *busy = kit_dial(s.port), *idle = kit_dial(s.port);
    REQUIRE(busy && idle);
    REQUIRE(kit_send(busy, raw, (size_t)n) == 0 && kit_read(busy, &r) == 0);
    CHECK(r.status == 200 && !strcasestr(r.head, "\r\nConnection: close"));
    kit_resp_free(&r);
    REQUIRE(kit_send(idle, raw, (size_t)n) == 0 && kit_read(idle, &r) == 0);
    kit_resp_free(&r);
    /* Half a request, then SIGTERM, then the rest. */
    REQUIRE(kit_send(busy, raw, 40) == 0);
    usleep(100000);
    kill(s.pid, SIGTERM);
    usleep(300000);
    REQUIRE(kit_send(busy, raw + 40, (size_t)n - 40) == 0);
    REQUIRE(kit_read(busy, &r) == 0);
    CHECK(r.status == 200 && strcasestr(r.head, "\r\nConnection: close\r\n") &&
          strstr(r.body, "\"hits\":[{"));
    if (r.status != 200 || !strcasestr(r.head, "\r\nConnection: close\r\n"))
        fprintf(stderr, "  %s: answer while draining: %s\n", mode, r.head);
    kit_resp_free(&r);
    CHECK(kit_closed(busy));
    /* The idle connection was closed without an answer. */
    CHECK(kit_closed(idle));
    kit_close(busy);
    kit_close(idle);
    /* The listener is closed. */
    kit_conn *late = kit_dial(s.port);
    CHECK(late == NULL);
    kit_close(late);
    int status = 0;
    REQUIRE(waitpid(s.pid, &status, 0) == s.pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* ------------------------------------------------------------------ X-Request-Id */

static void test_request_id(int port)
{
    char raw[8192], id[4100], rid[128];
    kit_resp r;
    /* Echoed: plain (letters, digits, '-', '_', '.') and at most 64 characters, on an error
     * (401, no key) as on a success; the body's request_id is the same. */
    static const char *const plain[] = {"a", "Req-1_x.y",
                                        "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTU"
                                        "VWXYZ-_"};
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        REQUIRE(strlen(plain[i]) <= 64);
        int n = snprintf(raw, sizeof raw,
                         "GET /v1/search?q=vim HTTP/1.1\r\nHost: t\r\nX-Request-Id: %s\r\n\r\n",
                         plain[i]);
        REQUIRE(kit_request(port, raw, (size_t)n, &r) == 401);
        CHECK(error_shape(&r, "missing_credentials"));
        CHECK(kit_header(&r, "X-Request-Id", rid, sizeof rid) && strcmp(rid, plain[i]) == 0);
        kit_resp_free(&r);
    }
    /* Replaced (never cut): 65 characters, 4,000, and plain-length ids with other characters.
     * The replacement is a fresh id, different each time. */
    char seen[8][128];
    int nseen = 0;
    static const size_t lens[] = {65, 4000};
    for (size_t i = 0; i < 2; i++) {
        memset(id, 'r', lens[i]);
        id[lens[i]] = 0;
        int n = snprintf(raw, sizeof raw,
                         "GET /v1/search?q=vim HTTP/1.1\r\nHost: t\r\nX-Api-Key: %s\r\n"
                         "X-Request-Id: %s\r\n\r\n",
                         SKEY, id);
        REQUIRE(kit_request(port, raw, (size_t)n, &r) == 200);
        CHECK(kit_header(&r, "X-Request-Id", rid, sizeof rid) && !strchr(rid, 'r') && *rid);
        CHECK(strstr(r.body, rid) != NULL);
        snprintf(seen[nseen++], sizeof seen[0], "%s", rid);
        kit_resp_free(&r);
    }
    static const char *const odd[] = {"a b", "<script>", "id/1", "caf\xc3\xa9", "a\"b", "x;y"};
    for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
        int n = snprintf(raw, sizeof raw,
                         "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Request-Id: %s\r\n\r\n", odd[i]);
        REQUIRE(kit_request(port, raw, (size_t)n, &r) == 200);
        CHECK(kit_header(&r, "X-Request-Id", rid, sizeof rid) && *rid && strcmp(rid, odd[i]) != 0);
        for (const char *p = rid; *p; p++)
            CHECK(strchr("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_.", *p));
        if (nseen < 8)
            snprintf(seen[nseen++], sizeof seen[0], "%s", rid);
        kit_resp_free(&r);
    }
    for (int i = 0; i < nseen; i++)
        for (int j = 0; j < i; j++)
            CHECK(strcmp(seen[i], seen[j]) != 0);
}

/* ------------------------------------------------------------------ an index that cannot be read
 */

/* Replaces the index's meta record `name` with `val` (len bytes; len 0 deletes it), through raw
 * LMDB in this process, as another program or a damaged disk could; returns the old value's
 * length (0 when absent) and copies it to old (up to 64 bytes). */
static size_t meta_replace(const char *name, const void *val, size_t len, uint8_t *old)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta;
    REQUIRE(mdb_env_create(&env) == 0);
    REQUIRE(mdb_env_set_maxdbs(env, 16) == 0);
    REQUIRE(mdb_env_set_maxreaders(env, 510) == 0);
    REQUIRE(mdb_env_open(env, data_dir, MDB_NOTLS, 0640) == 0);
    REQUIRE(mdb_txn_begin(env, NULL, 0, &txn) == 0);
    REQUIRE(mdb_dbi_open(txn, "meta", 0, &meta) == 0);
    MDB_val k = {strlen(name), (void *)name}, v;
    size_t was = 0;
    if (mdb_get(txn, meta, &k, &v) == 0) {
        was = v.mv_size;
        REQUIRE(was <= 64);
        memcpy(old, v.mv_data, was);
    }
    if (len) {
        MDB_val nv = {len, (void *)val};
        REQUIRE(mdb_put(txn, meta, &k, &nv, 0) == 0);
    } else if (was) {
        REQUIRE(mdb_del(txn, meta, &k, NULL) == 0);
    }
    REQUIRE(mdb_txn_commit(txn) == 0);
    mdb_env_close(env);
    return was;
}

static void test_unreadable_index(void)
{
    write_config("");
    const char *args[] = {"--data", data_dir, "--config", cfg_path, "--threads", "2", NULL};
    for (int m = 0; m < 2; m++) {
        const char *margs[10];
        memcpy(margs, args, sizeof args);
        margs[6] = "--mode";
        margs[7] = m ? "reuseport" : "queue";
        margs[8] = NULL;
        kit_server s;
        kit_start(&s, margs);
        kit_resp r;
        REQUIRE(kit_get(s.port, "/v1/search?q=text+editor&per_page=3", SKEY, &r) == 200);
        char *before = stable_part(&r);
        const char *id = strstr(r.body, "\"hits\":[{\"id\":\"");
        REQUIRE(id);
        char item[300];
        snprintf(item, sizeof item, "/v1/items/%.*s", (int)strcspn(id + 15, "\""), id + 15);
        kit_resp_free(&r);
        CHECK(kit_get(s.port, item, SKEY, &r) == 200);
        kit_resp_free(&r);

        /* The document count becomes 4 bytes instead of 8: the index cannot be read. */
        uint8_t old[64];
        size_t was = meta_replace("N", "\1\0\0\0", 4, old);
        REQUIRE(was == 8);
        CHECK(kit_get(s.port, "/healthz", NULL, &r) == 503 && error_shape(&r, "index_unavailable"));
        char ra[16];
        CHECK(kit_header(&r, "Retry-After", ra, sizeof ra) && strcmp(ra, "1") == 0);
        kit_resp_free(&r);
        CHECK(kit_get(s.port, "/v1/search?q=text+editor&per_page=3", SKEY, &r) == 500 &&
              error_shape(&r, "internal"));
        kit_resp_free(&r);
        CHECK(kit_get(s.port, "/v1/search?q=&per_page=3", SKEY, &r) == 500 &&
              error_shape(&r, "internal"));
        kit_resp_free(&r);
        CHECK(kit_get(s.port, item, SKEY, &r) == 500 && error_shape(&r, "internal"));
        kit_resp_free(&r);
        /* /metrics still answers, counting the 5xx, without the index gauges it cannot read. */
        CHECK(kit_get(s.port, "/metrics", AKEY, &r) == 200);
        CHECK(strstr(r.body, "souk_http_requests_total{endpoint=\"search\",status=\"500\"} 2\n"));
        CHECK(strstr(r.body, "souk_http_requests_total{endpoint=\"items\",status=\"500\"} 1\n"));
        CHECK(strstr(r.body, "souk_http_requests_total{endpoint=\"healthz\",status=\"503\"} 1\n"));
        CHECK(!strstr(r.body, "souk_index_documents "));
        kit_resp_free(&r);

        /* Repaired: the same process reads it again, with the same answer as before. */
        uint8_t corrupt[64];
        meta_replace("N", old, was, corrupt);
        CHECK(kit_get(s.port, "/healthz", NULL, &r) == 200 && strstr(r.body, "\"status\":\"ok\""));
        kit_resp_free(&r);
        REQUIRE(kit_get(s.port, "/v1/search?q=text+editor&per_page=3", SKEY, &r) == 200);
        char *after = stable_part(&r);
        CHECK(strcmp(before, after) == 0);
        if (strcmp(before, after) != 0)
            fprintf(stderr, "  before: %s\n  after:  %s\n", before, after);
        free(before);
        free(after);
        kit_resp_free(&r);
        CHECK(kit_get(s.port, item, SKEY, &r) == 200);
        kit_resp_free(&r);
        CHECK(kit_stop(&s) == 0);
    }
}

int main(void)
{
    souk_alloc_init();
    const char *src = debian_catalog();
    if (!src)
        return TEST_SKIP;
    REQUIRE(mkdtemp(dir));
    snprintf(data_dir, sizeof data_dir, "%s/index", dir);
    snprintf(cfg_path, sizeof cfg_path, "%s/server.json", dir);
    snprintf(skey_hash, sizeof skey_hash, "%s", kit_hash_key(SKEY));
    snprintf(akey_hash, sizeof akey_hash, "%s", kit_hash_key(AKEY));
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "xz -dc '%s' | head -n 2000 | '%s/souk-index' --data '%s' --schema "
             "'%s/indexer/schemas/debian-packages.json' catalog --quiet - >/dev/null",
             src, SOUK_BIN_DIR, data_dir, SOUK_SOURCE_DIR);
    REQUIRE(system(cmd) == 0);

    test_start_errors();

    write_config("\"max_body_bytes\":4096");
    const char *args[] = {"--data", data_dir, "--config", cfg_path, "--threads", "2", NULL};
    kit_server s;
    kit_start(&s, args);
    test_chunked(s.port);
    test_request_id(s.port);
    CHECK(kit_stop(&s) == 0);

    test_reload_limits();
    test_drain("queue");
    test_drain("reuseport");
    test_unreadable_index();

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    return check_done("test_server_edges");
}
