/* test_algolia_client.c: the stock npm `algoliasearch` client (v5 liteClient) and InstantSearch.js
 * against souk-server, through tests/algolia_client.js (Node): 300 generated searches sent as
 * multi-queries by the client (queries, pages, hitsPerPage, typoTolerance, facetFilters with OR
 * groups and negation, numericFilters, facets) and a facet-value search, each compared with what
 * /v1/search answers for the same request (hits and their order, nbHits, facet counts); then
 * InstantSearch itself, headless (its connectors and request builder, no DOM), through a session
 * of a query with a typo, two values of one refinement list and one of another, a numeric range,
 * a replica sort and page 3: at each step its hits, count and refinement-list counts equal
 * /v1/search's. The index is the first 3,000 records of the Debian catalog. Skips, with the
 * reason, without node or the npm packages (scripts/test-data.sh fetches them into
 * data/test-data/algolia-js). */
#include "check.h"
#include "kit/fixture.h"
#include "kit/http.h"

#define SKEY "algolia-client-search-key"

static char dir[] = "/tmp/souk-algolia-client-XXXXXX";

int main(void)
{
    const char *js = SOUK_SOURCE_DIR "/data/test-data/algolia-js";
    char probe[1024], cmd[4096];
    REQUIRE(snprintf(probe, sizeof probe, "%s/node_modules/instantsearch.js/package.json", js) <
            (int)sizeof probe);
    int st = system("node --version >/dev/null 2>&1");
    if (st != 0 || access(probe, R_OK) != 0) {
        skip_part("needs node and npm's algoliasearch and instantsearch.js in "
                  "data/test-data/algolia-js (scripts/install-deps.sh, scripts/test-data.sh)");
        return TEST_SKIP;
    }
    if (!debian_catalog())
        return TEST_SKIP;
    REQUIRE(mkdtemp(dir));
    char idx[600], cfg[600];
    REQUIRE(snprintf(idx, sizeof idx, "%s/index", dir) < (int)sizeof idx);
    REQUIRE(snprintf(cfg, sizeof cfg, "%s/server.json", dir) < (int)sizeof cfg);
    REQUIRE(kit_debian_index(idx, 3000, "") == 0);
    REQUIRE(snprintf(cmd, sizeof cmd,
                     "{\"search_keys\":[\"%s\"],\"algolia\":{\"index\":\"debian\","
                     "\"replicas\":{\"debian_size_asc\":{\"sort\":\"installed_size_kb:asc\"}}}}\n",
                     kit_hash_key(SKEY)) < (int)sizeof cmd);
    kit_write_file(cfg, cmd);
    kit_server srv;
    kit_start(&srv, (const char *[]){"--data", idx, "--config", cfg, "--threads", "2", NULL});
    REQUIRE(snprintf(cmd, sizeof cmd, "node '%s/tests/algolia_client.js' %d '%s' '%s'",
                     SOUK_SOURCE_DIR, srv.port, SKEY, js) < (int)sizeof cmd);
    char *out = kit_run(cmd, 1, &st);
    fputs(out, stderr);
    CHECK(st == 0 && strstr(out, " 0 failures"));
    free(out);
    CHECK(kit_stop(&srv) == 0);
    REQUIRE(snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir) < (int)sizeof cmd);
    CHECK(system(cmd) == 0);
    return check_done("test_algolia_client");
}
