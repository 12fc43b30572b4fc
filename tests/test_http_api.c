/* test_http_api.c: the storefront API's contract through the real souk-server over HTTP, on an
 * index of the first 3,000 records of the Debian catalog:
 *  - every parameter of /v1/search gives the same response through GET and through POST
 *    (request id and timing aside), and every boolean takes JSON true/false in a POST;
 *  - explain and did_you_mean on every path (filter, facets, sort, boost, cursor): the parts of
 *    an explanation add up to the hit's score within 1e-9 on many real queries;
 *  - every limit of the config's limits table that a request can reach (max_per_page also as
 *    the default page size) at the limit and one past it, the header and idle timeouts with a
 *    margin either side;
 *  - /metrics latency histograms by endpoint and status class, counted.
 * send_timeout_ms, max_queue, max_output_bytes and max_search_ms are covered by test_server.c,
 * test_hostile_http.c and test_hostile_query.c. */
#include "check.h"
#include "kit/fixture.h"
#include "kit/http.h"
#include "souk/souk.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <sys/socket.h>
#include <time.h>

static char dir[] = "/tmp/souk-test-http-api-XXXXXX";
static char data_dir[512], cfg_path[512];

/* ------------------------------------------------------------------ HTTP (tests/kit/http.h) */

static kit_conn *dial(int port)
{
    kit_conn *c = kit_dial(port);
    REQUIRE(c);
    return c;
}

/* Sends raw on c and reads one response (Content-Length framed). Returns 0 or -1. */
static int exchange(kit_conn *c, const char *raw, size_t len, kit_resp *r)
{
    return kit_send(c, raw, len) ? -1 : kit_read(c, r);
}

static void get(int port, const char *target, kit_resp *r)
{
    REQUIRE(kit_get(port, target, NULL, r) >= 0);
}

static void post(int port, const char *body, kit_resp *r)
{
    REQUIRE(kit_post(port, "/v1/search", body, NULL, r) >= 0);
}

#define EXPECT_STATUS(r, st, what)                                                                 \
    do {                                                                                           \
        CHECK((r).status == (st));                                                                 \
        if ((r).status != (st))                                                                    \
            fprintf(stderr, "  %s: got %d %.300s\n", (what), (r).status,                           \
                    (r).body ? (r).body : "");                                                     \
    } while (0)

/* ------------------------------------------------------------------ the server process */

static void start_server(kit_server *s)
{
    kit_start(s,
              (const char *[]){"--data", data_dir, "--config", cfg_path, "--threads", "2", NULL});
}

static void stop_server(kit_server *s)
{
    CHECK(kit_stop(s) == 0);
}

/* No keys: every endpoint open (development mode, said explicitly), so the test needs no
 * credentials. */
static void write_config(const char *limits, int synonyms)
{
    FILE *f = fopen(cfg_path, "w");
    REQUIRE(f);
    fprintf(f,
            "{\"development\":true,%s\"profiles\":{\"popular\":{\"boost\":\"installed_size_kb:0."
            "25\",\"typo\":true}},"
            "\"limits\":{%s}}\n",
            synonyms ? "\"synonyms\":[[\"editor\",\"ide\"],[\"game\",\"puzzle\"]]," : "", limits);
    fclose(f);
}

/* ------------------------------------------------------------------ GET and POST agree */

/* The response without what differs between any two requests (request id, timing). */
static char *normalized(const char *body)
{
    cJSON *j = cJSON_Parse(body);
    if (!j)
        return strdup("(not JSON)");
    cJSON_DeleteItemFromObject(j, "request_id");
    cJSON_DeleteItemFromObject(j, "took_us");
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

typedef struct pcase {
    const char *get;  /* the query string: name=value pairs, values unescaped, joined by '|' */
    const char *post; /* the same as a JSON body */
} pcase;

/* Builds a query string from "name=value|name=value" with the values escaped. */
static void build_qs(const char *spec, char *out, size_t cap)
{
    char tmp[2048], esc[4096];
    snprintf(tmp, sizeof tmp, "%s", spec);
    size_t o = 0;
    for (char *save = NULL, *kv = strtok_r(tmp, "|", &save); kv; kv = strtok_r(NULL, "|", &save)) {
        char *eq = strchr(kv, '=');
        REQUIRE(eq);
        *eq = 0;
        kit_url_escape(eq + 1, esc, sizeof esc);
        o += (size_t)snprintf(out + o, cap - o, "%s%s=%s", o ? "&" : "", kv, esc);
    }
    out[o] = 0;
}

static void test_get_post(int port)
{
    /* A cursor to follow, from the first page of a sorted search. */
    kit_resp r;
    get(port, "/v1/search?q=editor&sort=installed_size_kb:desc,_score&per_page=3", &r);
    REQUIRE(r.status == 200);
    cJSON *j = cJSON_Parse(r.body);
    const char *cur = cJSON_GetStringValue(cJSON_GetObjectItem(j, "next_cursor"));
    REQUIRE(cur);
    char cursor[512];
    snprintf(cursor, sizeof cursor, "%s", cur);
    cJSON_Delete(j);
    free(r.body);
    char cget[700], cpost[800];
    snprintf(cget, sizeof cget,
             "q=editor|sort=installed_size_kb:desc,_score|per_page=3"
             "|cursor=%s",
             cursor);
    snprintf(cpost, sizeof cpost,
             "{\"q\":\"editor\",\"sort\":\"installed_size_kb:desc,_score\",\"per_page\":3,"
             "\"cursor\":\"%s\"}",
             cursor);

    const pcase cases[] = {
        {"q=text editor", "{\"q\":\"text editor\"}"},
        {"q=", "{\"q\":\"\"}"},
        {"q=editor|page=2|per_page=5", "{\"q\":\"editor\",\"page\":2,\"per_page\":5}"},
        {"q=editor|explain=true", "{\"q\":\"editor\",\"explain\":true}"},
        {"q=editor|explain=false", "{\"q\":\"editor\",\"explain\":false}"},
        {"q=Spiel|lang=de", "{\"q\":\"Spiel\",\"lang\":\"de\"}"},
        {"q=text editor|operator=and", "{\"q\":\"text editor\",\"operator\":\"and\"}"},
        {"q=editor|filter=section = editors",
         "{\"q\":\"editor\",\"filter\":\"section = editors\"}"},
        {"q=editor|facets=section,installed_size_kb:0:100:1000:100000",
         "{\"q\":\"editor\",\"facets\":\"section,installed_size_kb:0:100:1000:100000\"}"},
        {"q=editor|facets=section,tags", "{\"q\":\"editor\",\"facets\":[\"section\",\"tags\"]}"},
        {"q=editor|facets=tags|facet_size=3",
         "{\"q\":\"editor\",\"facets\":\"tags\",\"facet_size\":3}"},
        {"q=editor|sort=installed_size_kb:asc,_score",
         "{\"q\":\"editor\",\"sort\":\"installed_size_kb:asc,_score\"}"},
        {"q=editor|boost=installed_size_kb:0.5",
         "{\"q\":\"editor\",\"boost\":\"installed_size_kb:0.5\"}"},
        {"q=edit|prefix=true", "{\"q\":\"edit\",\"prefix\":true}"},
        {"q=edit|prefix=false", "{\"q\":\"edit\",\"prefix\":false}"},
        {"q=edtiors|typo=true", "{\"q\":\"edtiors\",\"typo\":true}"},
        {"q=edtiors|typo=false", "{\"q\":\"edtiors\",\"typo\":false}"},
        {"q=text editor|highlight=true", "{\"q\":\"text editor\",\"highlight\":true}"},
        {"q=text editor|highlight=false", "{\"q\":\"text editor\",\"highlight\":false}"},
        {"q=txet edtor|suggest=true", "{\"q\":\"txet edtor\",\"suggest\":true}"},
        {"q=txet edtor|suggest=false", "{\"q\":\"txet edtor\",\"suggest\":false}"},
        {"q=game|profile=popular", "{\"q\":\"game\",\"profile\":\"popular\"}"},
        {cget, cpost},
        {"q=text editor|page=1|per_page=4|explain=true|lang=en|operator=or|"
         "filter=installed_size_kb < 5000|facets=section|facet_size=2|"
         "sort=_score|boost=installed_size_kb:0.1|prefix=true|typo=true|"
         "highlight=true|suggest=true|profile=popular",
         "{\"q\":\"text editor\",\"page\":1,\"per_page\":4,\"explain\":true,\"lang\":\"en\","
         "\"operator\":\"or\",\"filter\":\"installed_size_kb < 5000\",\"facets\":[\"section\"],"
         "\"facet_size\":2,\"sort\":\"_score\",\"boost\":\"installed_size_kb:0.1\","
         "\"prefix\":true,\"typo\":true,\"highlight\":true,\"suggest\":true,"
         "\"profile\":\"popular\"}"},
    };
    int same = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char qs[4096], target[4200];
        build_qs(cases[i].get, qs, sizeof qs);
        snprintf(target, sizeof target, "/v1/search?%s", qs);
        kit_resp g, p;
        get(port, target, &g);
        post(port, cases[i].post, &p);
        EXPECT_STATUS(g, 200, target);
        EXPECT_STATUS(p, 200, cases[i].post);
        char *a = normalized(g.body ? g.body : ""), *b = normalized(p.body ? p.body : "");
        CHECK(strcmp(a, b) == 0);
        if (strcmp(a, b) == 0)
            same++;
        else
            fprintf(stderr, "  GET %s\n    %.300s\n  POST %s\n    %.300s\n", target, a,
                    cases[i].post, b);
        free(a);
        free(b);
        free(g.body);
        free(p.body);
    }
    fprintf(stderr, "  GET = POST: %d of %zu parameter sets\n", same,
            sizeof cases / sizeof cases[0]);

    /* Every boolean: true/false in JSON; anything else is named. */
    const char *bools[] = {"explain", "prefix", "typo", "highlight", "suggest"};
    for (size_t i = 0; i < 5; i++) {
        char body[128], cb[64];
        snprintf(body, sizeof body, "{\"q\":\"editor\",\"%s\":3}", bools[i]);
        post(port, body, &r);
        EXPECT_STATUS(r, 400, body);
        CHECK(strcmp(kit_err_code(&r, cb, sizeof cb), "invalid_parameter") == 0);
        CHECK(strstr(r.body, bools[i]) != NULL);
        free(r.body);
    }
    /* Numbers as JSON numbers. */
    post(port, "{\"q\":\"editor\",\"per_page\":2.5}", &r);
    EXPECT_STATUS(r, 400, "per_page 2.5");
    free(r.body);
}

/* ------------------------------------------------------------------ explain and did_you_mean */

/* Checks every hit of a response has an explanation whose parts add up to its score; returns
 * the number of hits checked. */
static int kinds[4]; /* term, typo, synonym, prefix parts seen */

/* Checks a node of an explanation tree: its score is the sum of its parts' (1e-9), and so for
 * every node below; returns the nodes checked. */
static int tree_nodes, tree_boosts;
static int check_tree(const char *what, const cJSON *node)
{
    const cJSON *parts = cJSON_GetObjectItem(node, "parts");
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(node, "name"));
    tree_boosts += name && strcmp(name, "boost") == 0;
    tree_nodes++;
    if (!parts)
        return 1;
    double sum = 0, score = cJSON_GetObjectItem(node, "score")->valuedouble;
    int n = 1;
    const cJSON *k;
    cJSON_ArrayForEach(k, parts)
    {
        sum += cJSON_GetObjectItem(k, "score")->valuedouble;
        n += check_tree(what, k);
    }
    CHECK(fabs(sum - score) <= 1e-9);
    if (fabs(sum - score) > 1e-9)
        fprintf(stderr, "  %s: tree node %s: parts add up to %.17g, score %.17g\n", what,
                name ? name : "(root)", sum, score);
    return n;
}

static int check_explained(const char *what, const char *body, int *boosts)
{
    cJSON *j = cJSON_Parse(body);
    REQUIRE(j);
    int n = 0;
    const cJSON *h;
    cJSON_ArrayForEach(h, cJSON_GetObjectItem(j, "hits"))
    {
        const cJSON *ex = cJSON_GetObjectItem(h, "explain");
        double score = cJSON_GetObjectItem(h, "score")->valuedouble, sum = 0;
        CHECK(cJSON_IsArray(ex));
        if (!cJSON_IsArray(ex)) {
            fprintf(stderr, "  %s: a hit without explain\n", what);
            break;
        }
        const cJSON *part;
        cJSON_ArrayForEach(part, ex)
        {
            sum += cJSON_GetObjectItem(part, "score")->valuedouble;
            if (cJSON_GetObjectItem(part, "boost"))
                ++*boosts;
            const char *k = cJSON_GetStringValue(cJSON_GetObjectItem(part, "kind"));
            static const char *names[] = {"term", "typo", "synonym", "prefix"};
            for (int i = 0; k && i < 4; i++)
                kinds[i] += strcmp(k, names[i]) == 0;
        }
        CHECK(fabs(sum - score) <= 1e-9);
        if (fabs(sum - score) > 1e-9)
            fprintf(stderr, "  %s: parts add up to %.17g, score %.17g\n", what, sum, score);
        /* The same as a tree: the root is the score, each node the sum of its parts. */
        const cJSON *tree = cJSON_GetObjectItem(h, "explanation");
        CHECK(cJSON_IsObject(tree));
        if (cJSON_IsObject(tree)) {
            CHECK(fabs(cJSON_GetObjectItem(tree, "score")->valuedouble - score) <= 1e-9);
            const cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItem(tree, "parts"), 0);
            CHECK(first &&
                  strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(first, "name")), "text") == 0);
            check_tree(what, tree);
        }
        n++;
    }
    cJSON_Delete(j);
    return n;
}

static void test_explain_everywhere(int port)
{
    static const char *queries[] = {
        "text editor", "editor",        "game",        "puzzle game", "python library",
        "network",     "font",          "perl module", "audio",       "video player",
        "web server",  "documentation", "development", "kernel",      "xml parser",
        "database",    "image viewer",  "shell",       "compiler",    "email client",
        "theme",       "java",          "ruby",        "graphics",    "utility",
        "edtior",      "libary python", "mathematics", "chess",       "terminal emulator",
        "ide",         "puzzle",        "mus*",        "edit*",
    };
    static const char *options[] = {
        "&filter=installed_size_kb%20%3E%3D%20100",
        "&boost=installed_size_kb:0.3",
        "&boost=download_size_b:-0.2&filter=section%20!%3D%20libs",
        "&facets=section&boost=installed_size_kb:1.5",
        "&sort=installed_size_kb:desc,_score",
        "&typo=true&boost=installed_size_kb:0.7&filter=installed_size_kb%20%3C%2010000",
        "&profile=popular&facets=tags",
        "&operator=and&boost=installed_size_kb:2",
    };
    int hits = 0, boosts = 0, requests = 0;
    for (size_t q = 0; q < sizeof queries / sizeof queries[0]; q++)
        for (size_t o = 0; o < sizeof options / sizeof options[0]; o++) {
            char esc[256], target[1024];
            kit_url_escape(queries[q], esc, sizeof esc);
            snprintf(target, sizeof target, "/v1/search?q=%s&explain=true&per_page=10%s", esc,
                     options[o]);
            kit_resp r;
            get(port, target, &r);
            EXPECT_STATUS(r, 200, target);
            if (r.status == 200)
                hits += check_explained(target, r.body, &boosts);
            requests++;
            free(r.body);
        }
    /* Browsing: no query, the boost is the whole score. */
    kit_resp r;
    get(port, "/v1/search?q=&explain=true&boost=installed_size_kb:0.5&filter=section%20%3D%20games",
        &r);
    EXPECT_STATUS(r, 200, "browse");
    hits += check_explained("browse", r.body, &boosts);
    free(r.body);
    /* A cursor page. */
    get(port, "/v1/search?q=game&explain=true&per_page=3&boost=installed_size_kb:0.5", &r);
    cJSON *j = cJSON_Parse(r.body);
    char target[1024];
    snprintf(target, sizeof target,
             "/v1/search?q=game&explain=true&per_page=3&boost=installed_size_kb:0.5&cursor=%s",
             cJSON_GetStringValue(cJSON_GetObjectItem(j, "next_cursor")));
    cJSON_Delete(j);
    free(r.body);
    get(port, target, &r);
    EXPECT_STATUS(r, 200, "cursor");
    CHECK(check_explained("cursor", r.body, &boosts) == 3);
    free(r.body);
    fprintf(stderr, "  explain: %d requests, %d hits whose parts add up, %d boost parts\n",
            requests, hits, boosts);
    fprintf(stderr, "  parts: %d terms, %d typo candidates, %d synonyms, %d prefix completions\n",
            kinds[0], kinds[1], kinds[2], kinds[3]);
    fprintf(stderr, "  explanation trees: %d nodes checked, %d boost nodes\n", tree_nodes,
            tree_boosts);
    CHECK(tree_nodes > 5000 && tree_boosts > 500);
    CHECK(hits > 1000);
    CHECK(boosts > 500);
    CHECK(kinds[0] > 1000 && kinds[1] > 0 && kinds[2] > 0 && kinds[3] > 0);

    /* did_you_mean on every path, when nothing matches. */
    static const char *paths[] = {"", "&filter=section%20%3D%20editors", "&facets=section",
                                  "&sort=installed_size_kb:asc", "&boost=installed_size_kb:1"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        snprintf(target, sizeof target, "/v1/search?q=txet%%20edtor&suggest=true%s", paths[i]);
        get(port, target, &r);
        EXPECT_STATUS(r, 200, target);
        CHECK(strstr(r.body, "\"total\":0,"));
        CHECK(strstr(r.body, "\"did_you_mean\":\"text editor\""));
        if (!strstr(r.body, "\"did_you_mean\":\"text editor\""))
            fprintf(stderr, "  %s: %.300s\n", target, r.body);
        free(r.body);
    }
}

/* ------------------------------------------------------------------ limits */

/* A GET whose request target has exactly `url` bytes and whose request line and headers count
 * exactly `hdr` bytes as the server counts them (target, and each header line's name, value,
 * ": " and CRLF), with `lines` header lines. */
static void get_sized(int port, size_t url, size_t hdr, int lines, kit_resp *r)
{
    char *target = malloc(url + 1);
    /* "/healthz?" followed by padding: the health check takes no parameters and ignores them */
    snprintf(target, url + 1, "/healthz?");
    memset(target + 9, 'a', url - 9);
    target[url] = 0;
    size_t used = url + strlen("Host") + 1 + 4; /* Host: t */
    REQUIRE(lines >= 1 && used + (size_t)(lines - 1) * 6 <= hdr);
    size_t cap = url + hdr + 256;
    char *raw = malloc(cap);
    size_t o = (size_t)snprintf(raw, cap, "GET %s HTTP/1.1\r\nHost: t\r\n", target);
    for (int i = 1; i < lines; i++) {
        /* "X: v" costs 1 + len(v) + 4; the last line takes the rest */
        size_t left = hdr - used, vl = i == lines - 1 ? left - 5 : 1;
        o += (size_t)snprintf(raw + o, cap - o, "X: ");
        memset(raw + o, 'v', vl);
        o += vl;
        o += (size_t)snprintf(raw + o, cap - o, "\r\n");
        used += 5 + vl;
    }
    REQUIRE(used == hdr);
    o += (size_t)snprintf(raw + o, cap - o, "\r\n");
    REQUIRE(kit_request(port, raw, o, r) >= 0);
    free(raw);
    free(target);
}

static int nhits(const kit_resp *r)
{
    cJSON *j = cJSON_Parse(r->body ? r->body : "");
    int n = cJSON_GetArraySize(cJSON_GetObjectItem(j, "hits"));
    cJSON_Delete(j);
    return n;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A /metrics value for a series (0 when absent). */
static unsigned long long scrapes_ok, scrapes_refused; /* /metrics answered 200, 503 */

static unsigned long long metric(int port, const char *series)
{
    kit_resp r;
    get(port, "/metrics", &r);
    REQUIRE(r.status == 200);
    scrapes_ok++;
    const char *p = strstr(r.body, series);
    unsigned long long v = p ? strtoull(p + strlen(series), NULL, 10) : 0;
    free(r.body);
    return v;
}

/* Waits (up to 10 s) until the server counts at most max_open open connections besides the
 * scrape's own, so the closes of earlier connections are not counted against max_connections.
 * A scrape refused because of the cap itself (503) is counted in scrapes_refused. */
static void wait_connections(int port, int max_open)
{
    const char *g = "souk_http_open_connections ";
    for (int i = 0; i < 500; i++) {
        kit_resp r;
        get(port, "/metrics", &r);
        if (r.status == 503) {
            scrapes_refused++;
        } else {
            REQUIRE(r.status == 200);
            scrapes_ok++;
            const char *p = strstr(r.body, g);
            long open = p ? strtol(p + strlen(g), NULL, 10) : 1 << 20;
            if (open - 1 <= max_open) {
                free(r.body);
                return;
            }
        }
        free(r.body);
        usleep(20 * 1000);
    }
    REQUIRE(!"the server still counts the closed connections after 10 s");
}

#define HIST "souk_http_request_duration_seconds_count"

static void test_limits_and_metrics(void)
{
    write_config("\"max_per_page\":2,\"max_depth\":20,\"max_facets\":2,\"max_query_bytes\":16,"
                 "\"max_header_bytes\":600,\"max_url_bytes\":300,\"max_body_bytes\":200,"
                 "\"max_header_count\":5,\"max_connections\":8,\"max_query_terms\":3,"
                 "\"idle_timeout_ms\":1000,\"header_timeout_ms\":500",
                 0);
    kit_server s;
    start_server(&s);
    int port = s.port;
    kit_resp r;
    char cb[64];

    /* Metrics first, on the fresh server: nothing counted yet. */
    CHECK(metric(port, HIST "{endpoint=\"search\",status_class=\"2xx\"} ") == 0);
    CHECK(metric(port, HIST "{endpoint=\"metrics\",status_class=\"2xx\"} ") == 1);
    wait_connections(port, 0);

    /* max_connections (8): seven held open, the eighth answers, the ninth is refused. */
    const char *hz = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n";
    kit_conn *held[8];
    for (int i = 0; i < 7; i++) {
        held[i] = dial(port);
        REQUIRE(exchange(held[i], hz, strlen(hz), &r) == 0);
        CHECK(r.status == 200);
        free(r.body);
    }
    const char *vim = "GET /v1/search?q=vim HTTP/1.1\r\nHost: t\r\n\r\n";
    held[7] = dial(port);
    REQUIRE(exchange(held[7], vim, strlen(vim), &r) == 0);
    EXPECT_STATUS(r, 200, "the 8th connection");
    free(r.body);
    kit_conn *refused = dial(port);
    REQUIRE(exchange(refused, vim, strlen(vim), &r) == 0);
    EXPECT_STATUS(r, 503, "the 9th connection");
    CHECK(strcmp(kit_err_code(&r, cb, sizeof cb), "over_capacity") == 0);
    free(r.body);
    kit_close(refused);
    for (int i = 0; i < 8; i++)
        kit_close(held[i]);
    /* The refused connection holds its place while the server lingers on it (2 s, reading
     * nothing), as do the framing errors below: this part comes first, and the timeouts are
     * tested while it lingers. */
    wait_connections(port, 1); /* the held ones closed (the refused one may linger) */

    /* idle_timeout_ms (1000): a keep-alive connection idle for 300 ms still answers; one idle
     * past the limit is closed. header_timeout_ms (500): a request whose end never comes is
     * answered 408 once its first byte is 500 ms old. Margins, not exact edges: timers. */
    kit_conn *idle = dial(port), *slow = dial(port);
    REQUIRE(exchange(idle, hz, strlen(hz), &r) == 0);
    CHECK(r.status == 200);
    free(r.body);
    double t_slow = now_s();
    REQUIRE(kit_send(slow, hz, strlen(hz) - 2) == 0); /* all but the final CRLF */
    usleep(300 * 1000);
    REQUIRE(exchange(idle, hz, strlen(hz), &r) == 0);
    EXPECT_STATUS(r, 200, "after 300 ms idle");
    free(r.body);
    double t_idle = now_s();
    REQUIRE(exchange(slow, "", 0, &r) == 0);
    EXPECT_STATUS(r, 408, "a request unfinished for 500 ms");
    double t408 = now_s() - t_slow;
    CHECK(t408 >= 0.45);
    free(r.body);
    char byte;
    CHECK(recv(idle->fd, &byte, 1, 0) == 0); /* closed by the server */
    double idled = now_s() - t_idle;
    CHECK(idled >= 0.95 && idled < 5);
    fprintf(stderr, "  408 after %.2f s, idle connection closed after %.2f s\n", t408, idled);
    kit_close(idle);
    kit_close(slow);
    wait_connections(port, 0); /* the refused one too, after its linger */

    /* max_per_page: the default page size is cut to it. */
    get(port, "/v1/search?q=editor", &r);
    EXPECT_STATUS(r, 200, "default per_page");
    CHECK(nhits(&r) == 2 && strstr(r.body, "\"per_page\":2,"));
    free(r.body);
    post(port, "{\"q\":\"editor\",\"filter\":\"installed_size_kb >= 0\"}", &r);
    EXPECT_STATUS(r, 200, "default per_page, storefront path");
    CHECK(nhits(&r) == 2);
    free(r.body);
    get(port, "/v1/search?q=editor&per_page=2", &r);
    CHECK(r.status == 200 && nhits(&r) == 2);
    free(r.body);
    get(port, "/v1/search?q=editor&per_page=3", &r);
    EXPECT_STATUS(r, 400, "per_page 3");
    CHECK(strcmp(kit_err_code(&r, cb, sizeof cb), "invalid_parameter") == 0);
    free(r.body);

    /* max_depth: page * per_page. */
    get(port, "/v1/search?q=editor&page=10&per_page=2", &r);
    EXPECT_STATUS(r, 200, "depth 20");
    free(r.body);
    get(port, "/v1/search?q=editor&page=11", &r);
    EXPECT_STATUS(r, 400, "depth 22");
    free(r.body);
    get(port, "/v1/search?q=editor&page=21&per_page=1", &r);
    EXPECT_STATUS(r, 400, "depth 21");
    free(r.body);

    /* max_facets. */
    get(port, "/v1/search?q=editor&facets=section,tags", &r);
    EXPECT_STATUS(r, 200, "2 facets");
    free(r.body);
    get(port, "/v1/search?q=editor&facets=section,tags,maintainer", &r);
    EXPECT_STATUS(r, 400, "3 facets");
    CHECK(strstr(r.body, "\"field\":\"facets\""));
    free(r.body);

    /* max_query_bytes (16). */
    get(port, "/v1/search?q=editor%20editor%20xyz", &r); /* 17 bytes */
    EXPECT_STATUS(r, 400, "q of 17 bytes");
    free(r.body);
    get(port, "/v1/search?q=editor%20editor%20xy", &r); /* 16 bytes */
    EXPECT_STATUS(r, 200, "q of 16 bytes");
    free(r.body);

    /* max_query_terms (3), after rewriting. */
    get(port, "/v1/search?q=vim%20gcc%20tar", &r);
    EXPECT_STATUS(r, 200, "3 terms");
    free(r.body);
    get(port, "/v1/search?q=vim%20gcc%20tar%20zip", &r);
    EXPECT_STATUS(r, 400, "4 terms");
    CHECK(strcmp(kit_err_code(&r, cb, sizeof cb), "query_too_complex") == 0);
    free(r.body);

    /* max_body_bytes (200): a body of 200 bytes, then 201. */
    char body[256];
    memset(body, ' ', sizeof body);
    memcpy(body, "{\"q\":\"editor\"}", 14);
    body[200] = 0;
    post(port, body, &r);
    EXPECT_STATUS(r, 200, "body of 200 bytes");
    free(r.body);
    body[200] = ' ';
    body[201] = 0;
    post(port, body, &r);
    EXPECT_STATUS(r, 413, "body of 201 bytes");
    free(r.body);

    /* max_url_bytes (300), max_header_bytes (600), max_header_count (5). */
    get_sized(port, 300, 400, 2, &r);
    EXPECT_STATUS(r, 200, "target of 300 bytes");
    free(r.body);
    get_sized(port, 301, 400, 2, &r);
    EXPECT_STATUS(r, 414, "target of 301 bytes");
    free(r.body);
    get_sized(port, 100, 600, 3, &r);
    EXPECT_STATUS(r, 200, "headers of 600 bytes");
    free(r.body);
    get_sized(port, 100, 601, 3, &r);
    EXPECT_STATUS(r, 431, "headers of 601 bytes");
    free(r.body);
    get_sized(port, 100, 200, 5, &r);
    EXPECT_STATUS(r, 200, "5 header lines");
    free(r.body);
    get_sized(port, 100, 200, 6, &r);
    EXPECT_STATUS(r, 431, "6 header lines");
    free(r.body);

    /* Histograms by endpoint and status class, counted: searches answered 200 (2 + 1 + 1 + 1 +
     * 1 + 1 + 1 + 1 + 1: default per_page twice, per_page=2, depth 20, 2 facets, 16 bytes,
     * 3 terms, the 200-byte body, the 8th connection), refused 400 (per_page 3, two depths,
     * 3 facets, 17 bytes, 4 terms), the health checks, and the framing refusals and the
     * connection cap under "other". */
    CHECK_EQ_U64(metric(port, HIST "{endpoint=\"search\",status_class=\"2xx\"} "), 9);
    CHECK_EQ_U64(metric(port, HIST "{endpoint=\"search\",status_class=\"4xx\"} "), 6);
    CHECK_EQ_U64(metric(port, HIST "{endpoint=\"healthz\",status_class=\"2xx\"} "), 12);
    CHECK_EQ_U64(metric(port, HIST "{endpoint=\"other\",status_class=\"4xx\"} "), 5);
    CHECK_EQ_U64(metric(port, HIST "{endpoint=\"other\",status_class=\"5xx\"} "),
                 1 + scrapes_refused);
    unsigned long long before = scrapes_ok;
    CHECK_EQ_U64(metric(port, HIST "{endpoint=\"metrics\",status_class=\"2xx\"} "), before);
    CHECK(metric(port, "souk_http_request_duration_seconds_bucket{endpoint=\"search\","
                       "status_class=\"4xx\",le=\"+Inf\"} ") == 6);
    CHECK(metric(port, "souk_http_requests_total{endpoint=\"search\",status=\"400\"} ") == 6);
    /* A class with no response has no series. */
    kit_resp m;
    get(port, "/metrics", &m);
    CHECK(!strstr(m.body, "endpoint=\"search\",status_class=\"5xx\""));
    CHECK(!strstr(m.body, "endpoint=\"items\","));
    free(m.body);
    stop_server(&s);
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
    char cmd[8192];
    REQUIRE(kit_debian_index(data_dir, 3000, "") == 0);

    write_config("\"max_per_page\":50", 1);
    kit_server s;
    start_server(&s);
    test_get_post(s.port);
    test_explain_everywhere(s.port);
    stop_server(&s);
    test_limits_and_metrics();

    /* The default page size (10) cut by a limit just below it: 9, not 10. */
    write_config("\"max_per_page\":9", 1);
    start_server(&s);
    kit_resp r9 = {0};
    get(s.port, "/v1/search?q=editor", &r9);
    EXPECT_STATUS(r9, 200, "default per_page under max_per_page 9");
    CHECK(nhits(&r9) == 9 && strstr(r9.body, "\"per_page\":9,"));
    kit_resp_free(&r9);
    stop_server(&s);

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    return check_failures ? 1 : 0;
}
