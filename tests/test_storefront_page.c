/* test_storefront_page.c: the InstantSearch storefront (examples/storefront/,
 * docs/algolia-insights.md) end to end in a real browser. It turns the whole Debian catalog into
 * the storefront's catalog (examples/storefront/catalog.py), indexes it with souk-index and the
 * storefront's schema, starts souk-server with a search key, both key rings, the Algolia replicas
 * and the storefront's directories (the page from examples/storefront/, the npm bundles from
 * data/test-data/storefront-lib), and runs tests/storefront_page.js, which drives Debian's
 * chromium (headless) through npm's playwright-core: a query with a typo, a category of the
 * hierarchical menu, two sections, one maintainer, a size range, a sort and page 3, each step's
 * hits, result count and facet counts equal to /v1/search's answer to the same request; a hit
 * clicked by a consenting shopper in the user's history through POST /1/events; after an opt-out a
 * click stores nothing of the shopper; the no-results state. It takes a screenshot into the build
 * tree (docs/storefront.png is one). Here, in C: the page's six files are served with their types
 * and a Content-Security-Policy, any other name is a JSON 404, and a config naming a missing
 * directory is refused. Skips, with the reason, without chromium, playwright-core, the npm bundles
 * or python3 (scripts/install-deps.sh and scripts/test-data.sh install them). */
#include "check.h"
#include "kit/fixture.h"
#include "kit/http.h"
#include "souk/keys.h"
#include "souk/souk.h"

#include <sodium.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#define SKEY "storefront-search-key"
#define AKEY "storefront-admin-key"

static char dir[] = "/tmp/souk-storefront-XXXXXX";

static void test_static_files(int port)
{
    static const struct {
        const char *path, *type;
    } files[] = {
        {"/storefront/", "text/html; charset=utf-8"},
        {"/storefront/index.html", "text/html; charset=utf-8"},
        {"/storefront/storefront.js", "text/javascript; charset=utf-8"},
        {"/storefront/storefront.css", "text/css; charset=utf-8"},
        {"/storefront/lib/instantsearch.production.min.js", "text/javascript; charset=utf-8"},
        {"/storefront/lib/algoliasearch-lite.umd.js", "text/javascript; charset=utf-8"},
        {"/storefront/lib/search-insights.min.js", "text/javascript; charset=utf-8"}};
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
    static const char *const absent[] = {"/storefront/../COPYING",
                                         "/storefront/catalog.py",
                                         "/storefront/debian-storefront.json",
                                         "/storefront/lib/../index.html",
                                         "/storefront/lib/x.js",
                                         "/storefront"};
    for (size_t i = 0; i < sizeof absent / sizeof *absent; i++) {
        kit_resp r = {0};
        char code[64];
        CHECK(kit_get(port, absent[i], NULL, &r) == 404);
        CHECK(strcmp(kit_err_code(&r, code, sizeof code), "not_found") == 0);
        kit_resp_free(&r);
    }
}

/* souk-server with a config naming a directory that does not exist: exit 1 naming it. */
static void test_config_refusal(const char *idx)
{
    char cfg[700], cmd[4096];
    REQUIRE(snprintf(cfg, sizeof cfg, "%s/bad.json", dir) < (int)sizeof cfg);
    REQUIRE(snprintf(cmd, sizeof cmd,
                     "{\"development\":true,\"storefront\":{\"dir\":\"%s/no-such-dir\"}}\n",
                     dir) < (int)sizeof cmd);
    kit_write_file(cfg, cmd);
    REQUIRE(snprintf(cmd, sizeof cmd, "'%s/souk-server' --data '%s' --config '%s' </dev/null",
                     SOUK_BIN_DIR, idx, cfg) < (int)sizeof cmd);
    int st;
    char *out = kit_run(cmd, 1, &st);
    CHECK(st == 1 && strstr(out, "storefront.dir") && strstr(out, "no-such-dir"));
    free(out);
}

int main(void)
{
    souk_alloc_init();
    REQUIRE(sodium_init() >= 0);
    const char *pw = SOUK_SOURCE_DIR "/data/test-data/playwright-core/package.json";
    const char *lib = SOUK_SOURCE_DIR "/data/test-data/storefront-lib";
    const char *chromium = getenv("CHROMIUM") ? getenv("CHROMIUM") : "/usr/bin/chromium";
    char probe[1024];
    REQUIRE(snprintf(probe, sizeof probe, "%s/search-insights.min.js", lib) < (int)sizeof probe);
    if (access(probe, R_OK) != 0 || system("python3 -c 0 2>/dev/null") != 0) {
        fprintf(stderr, "SKIP: the storefront needs its npm bundles (scripts/storefront-libs.sh, "
                        "run by scripts/test-data.sh) and python3\n");
        return TEST_SKIP;
    }
    REQUIRE(mkdtemp(dir));
    char raw[600], cat[600], idx[600], cfg[600], keys[600], pring[700], tring[700], shots[600];
    char cmd[8192];
    REQUIRE(snprintf(raw, sizeof raw, "%s/debian.ndjson", dir) < (int)sizeof raw);
    REQUIRE(snprintf(cat, sizeof cat, "%s/storefront.ndjson", dir) < (int)sizeof cat);
    REQUIRE(snprintf(idx, sizeof idx, "%s/index", dir) < (int)sizeof idx);
    REQUIRE(snprintf(cfg, sizeof cfg, "%s/server.json", dir) < (int)sizeof cfg);
    REQUIRE(snprintf(keys, sizeof keys, "%s/keys", dir) < (int)sizeof keys);
    REQUIRE(snprintf(pring, sizeof pring, "%s/pseudonym.ring", keys) < (int)sizeof pring);
    REQUIRE(snprintf(tring, sizeof tring, "%s/token.ring", keys) < (int)sizeof tring);
    REQUIRE(snprintf(shots, sizeof shots, "%s/storefront-screenshots", SOUK_BIN_DIR) <
            (int)sizeof shots);
    mkdir(shots, 0755);
    REQUIRE(mkdir(keys, 0700) == 0);
    if (kit_debian_records(raw, 0) != 0)
        return TEST_SKIP;
    REQUIRE(snprintf(cmd, sizeof cmd,
                     "python3 '%s/examples/storefront/catalog.py' <'%s' >'%s' && "
                     "'%s/souk-index' --data '%s' --schema "
                     "'%s/examples/storefront/debian-storefront.json' catalog '%s' --quiet "
                     "--no-spelling",
                     SOUK_SOURCE_DIR, raw, cat, SOUK_BIN_DIR, idx, SOUK_SOURCE_DIR,
                     cat) < (int)sizeof cmd);
    int st;
    char *out = kit_run(cmd, 1, &st);
    if (st != 0)
        fprintf(stderr, "%s", out);
    REQUIRE(st == 0);
    free(out);
    test_config_refusal(idx);

    kit_write_ring(pring, 0600);
    kit_write_ring(tring, 0600);
    char hs[80], ha[80];
    snprintf(hs, sizeof hs, "%s", kit_hash_key(SKEY));
    snprintf(ha, sizeof ha, "%s", kit_hash_key(AKEY));
    REQUIRE(snprintf(cmd, sizeof cmd,
                     "{\"search_keys\":[\"%s\"],\"admin_keys\":[\"%s\"],"
                     "\"pseudonym_key_file\":\"%s\",\"token_key_file\":\"%s\","
                     "\"consent_default\":{\"personalization\":false},"
                     "\"algolia\":{\"index\":\"debian\",\"replicas\":{"
                     "\"debian_size_asc\":{\"sort\":\"installed_size_kb:asc\"},"
                     "\"debian_size_desc\":{\"sort\":\"installed_size_kb:desc\"}}},"
                     "\"storefront\":{\"dir\":\"%s/examples/storefront\",\"lib_dir\":\"%s\"}}\n",
                     hs, ha, pring, tring, SOUK_SOURCE_DIR, lib) < (int)sizeof cmd);
    kit_write_file(cfg, cmd);
    kit_server srv;
    const char *args[] = {"--data", idx, "--config", cfg, "--threads", "2", NULL};
    kit_start(&srv, args);
    test_static_files(srv.port);

    if (access(pw, R_OK) != 0 || access(chromium, X_OK) != 0) {
        skip_part("the browser part needs Debian's chromium and npm's playwright-core "
                  "(scripts/install-deps.sh, scripts/test-data.sh)");
    } else {
        char tok[SOUK_TOKEN_MAX + 1], err[256];
        souk_keyring *kr;
        REQUIRE(souk_keyring_load(tring, NULL, &kr, err, sizeof err) == 0);
        REQUIRE(souk_token_mint(kr, "shopper-1", 9, (int64_t)time(NULL), 3600, NULL, tok,
                                sizeof tok) == 0);
        souk_keyring_free(kr);
        REQUIRE(snprintf(cmd, sizeof cmd,
                         "PLAYWRIGHT_CORE='%s/data/test-data/playwright-core' CHROMIUM='%s' "
                         "node '%s/tests/storefront_page.js' %d '%s' '%s' '%s'",
                         SOUK_SOURCE_DIR, chromium, SOUK_SOURCE_DIR, srv.port, SKEY, tok,
                         shots) < (int)sizeof cmd);
        out = kit_run(cmd, 1, &st);
        fputs(out, stderr);
        CHECK(st == 0 && strstr(out, "ok "));
        free(out);
    }
    CHECK(kit_stop(&srv) == 0);
    REQUIRE(snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir) < (int)sizeof cmd);
    CHECK(system(cmd) == 0);
    return check_done("test_storefront_page");
}
