/* test_analyst_page.c: the analyst page (api/analyst/, docs/analyst.md) end to end in a real
 * browser. It indexes the first 3,000 records of the Debian catalog with souk-index, starts
 * souk-server with an admin key and two ranking profiles, and runs tests/analyst_page.js, which
 * drives Debian's chromium (headless) through npm's playwright-core: it loads /analyst/, is
 * refused with a wrong key and accepted with the right one, compares the default ranking with a
 * profile side by side, checks that both columns equal what /v1/search answers and that every
 * move mark agrees with them, opens a hit's explanation; loads a stored profile into the editor,
 * previews an edit against the current version (both columns equal to /v1/search with the
 * profile and with the edit as profile_draft; nothing stored), saves it as the next version and
 * sees it listed, is refused with the member named for an invalid edit; runs an evaluation of
 * judged queries under two profiles and shows the endpoint's MAP and nDCG with a bar per query
 * delta; and shows the k-anonymous popular-query table (5 users' searches sent to
 * POST /v1/events, k = 3) as the endpoint gives it. It takes screenshots into the build tree
 * (docs/analyst.png is one). Here, in C: the page's files are served with their types and
 * a Content-Security-Policy, an unknown file is a JSON 404, and no file needs a key (the page
 * holds no data; every call it makes needs the admin key). Skips, with the reason, without
 * chromium or playwright-core (scripts/install-deps.sh and scripts/test-data.sh install them). */
#include "check.h"
#include "kit/fixture.h"
#include "kit/http.h"

#include <sodium.h>
#include <sys/stat.h>
#include <time.h>

#define AKEY "analyst-page-admin-key"
#define SKEY "analyst-page-search-key"
#define IKEY "analyst-page-ingest-key"
#define NUSERS 5

static char dir[] = "/tmp/souk-analyst-XXXXXX";

static void test_static_files(int port)
{
    static const struct {
        const char *path, *type;
    } files[] = {{"/analyst/", "text/html; charset=utf-8"},
                 {"/analyst/index.html", "text/html; charset=utf-8"},
                 {"/analyst/analyst.js", "text/javascript; charset=utf-8"},
                 {"/analyst/analyst.css", "text/css; charset=utf-8"}};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        kit_resp r = {0};
        char h[256];
        CHECK(kit_get(port, files[i].path, NULL, &r) == 200);
        CHECK(kit_header(&r, "Content-Type", h, sizeof h) && strcmp(h, files[i].type) == 0);
        CHECK(kit_header(&r, "Content-Security-Policy", h, sizeof h) &&
              strstr(h, "default-src 'self'"));
        CHECK(kit_header(&r, "X-Content-Type-Options", h, sizeof h) && strcmp(h, "nosniff") == 0);
        CHECK(r.body_len > 100);
        kit_resp_free(&r);
    }
    kit_resp r = {0};
    char code[64];
    CHECK(kit_get(port, "/analyst/../souk.h", NULL, &r) == 404);
    CHECK(strcmp(kit_err_code(&r, code, sizeof code), "not_found") == 0);
    kit_resp_free(&r);
    CHECK(kit_get(port, "/analyst", NULL, &r) == 404);
    kit_resp_free(&r);
    /* What the page calls needs the admin key: a search key is not enough for profiles. */
    CHECK(kit_get(port, "/metrics", SKEY, &r) == 403);
    kit_resp_free(&r);
}

/* NUSERS users each search "text editor" (and one user "rare query"), for the analytics tab. */
static void send_events(int port)
{
    char body[4096] = "", ts[32];
    time_t now = time(NULL);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    for (int u = 0; u < NUSERS; u++) {
        size_t l = strlen(body);
        snprintf(body + l, sizeof body - l,
                 "{\"user\":\"page-user-%d\",\"session\":\"s%d\",\"type\":\"search\","
                 "\"query\":\"%s\",\"ts\":\"%s\"}\n",
                 u, u, u == 0 ? "rare query" : "text editor", ts);
        if (u == 0) {
            l = strlen(body);
            snprintf(body + l, sizeof body - l,
                     "{\"user\":\"page-user-0\",\"session\":\"s0\",\"type\":\"search\","
                     "\"query\":\"text editor\",\"ts\":\"%s\"}\n",
                     ts);
        }
    }
    kit_resp r = {0};
    CHECK(kit_call(port, "POST", "/v1/events", IKEY, NULL, "application/x-ndjson", body,
                   strlen(body), &r) == 200);
    kit_resp_free(&r);
}

int main(void)
{
    REQUIRE(sodium_init() >= 0);
    const char *pw = SOUK_SOURCE_DIR "/data/test-data/playwright-core/package.json";
    const char *chromium = getenv("CHROMIUM") ? getenv("CHROMIUM") : "/usr/bin/chromium";
    REQUIRE(mkdtemp(dir));
    char idx[600], cfg[600], shots[600], cmd[4096];
    snprintf(idx, sizeof idx, "%s/index", dir);
    snprintf(cfg, sizeof cfg, "%s/server.json", dir);
    snprintf(shots, sizeof shots, "%s/analyst-screenshots", SOUK_BIN_DIR);
    mkdir(shots, 0755);
    if (kit_debian_index(idx, 3000, "--no-spelling") != 0)
        return TEST_SKIP;
    char ha[80], hs[80], hi[80], pring[700];
    snprintf(ha, sizeof ha, "%s", kit_hash_key(AKEY));
    snprintf(hs, sizeof hs, "%s", kit_hash_key(SKEY));
    snprintf(hi, sizeof hi, "%s", kit_hash_key(IKEY));
    snprintf(pring, sizeof pring, "%s/pseudonym.ring", dir);
    kit_write_ring(pring, 0600);
    snprintf(cmd, sizeof cmd,
             "{\"admin_keys\":[\"%s\"],\"search_keys\":[\"%s\"],\"ingest_keys\":[\"%s\"],"
             "\"pseudonym_key_file\":\"%s\",\"analytics_k\":3,"
             "\"consent_default\":{\"personalization\":true},"
             "\"profiles\":{\"popular\":{\"boost\":\"installed_size_kb:0.5\"},"
             "\"strict\":{\"operator\":\"and\"}}}\n",
             ha, hs, hi, pring);
    kit_write_file(cfg, cmd);
    kit_server srv;
    const char *args[] = {"--data", idx, "--config", cfg, "--threads", "2", NULL};
    kit_start(&srv, args);
    test_static_files(srv.port);
    send_events(srv.port);

    if (access(pw, R_OK) != 0 || access(chromium, X_OK) != 0) {
        skip_part("the browser part needs Debian's chromium and npm's playwright-core "
                  "(scripts/install-deps.sh, scripts/test-data.sh)");
    } else {
        snprintf(cmd, sizeof cmd,
                 "PLAYWRIGHT_CORE='%s/data/test-data/playwright-core' CHROMIUM='%s' "
                 "node '%s/tests/analyst_page.js' %d '%s' '%s'",
                 SOUK_SOURCE_DIR, chromium, SOUK_SOURCE_DIR, srv.port, AKEY, shots);
        int st;
        char *out = kit_run(cmd, 1, &st);
        fputs(out, stderr);
        CHECK(st == 0 && strstr(out, "ok "));
        free(out);
    }
    CHECK(kit_stop(&srv) == 0);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    return check_done("test_analyst_page");
}
