/* test_algolia_http.c: Algolia's search protocol (api/ep_algolia.c, docs/algolia.md) against a
 * real souk-server on the first 3,000 records of the Debian catalog. Every supported parameter
 * is compared with what /v1/search answers for the same request under the mapping of
 * docs/algolia.md (hits, their order, counts, facet counts); InstantSearch's disjunctive batch
 * is compared with /v1/search's own disjunctive facets and with the same queries sent one at a
 * time; replica names sort as configured; the key is read from the x-algolia-api-key header and
 * query parameter; unsupported parameters are refused by name; bad input (bad JSON, bad UTF-8,
 * a body over the limit, too many queries, nested facetFilters) gets a 400 or 413 naming the
 * problem, in Algolia's error shape. Personalization: with Souk's signed user token (X-User-Token)
 * of a consenting user with a history, the hits are /v1/search's personal order for that token;
 * an unsigned userToken parameter leaves the search anonymous. */
#include "check.h"
#include "kit/fixture.h"
#include "kit/http.h"

#include "souk/keys.h"
#include "souk/souk.h"

#include <cjson/cJSON.h>
#include <time.h>

#define SKEY "algolia-test-search-key"
#define AKEY "algolia-test-admin-key"
#define INDEX "debian"
#define QS "?x-algolia-agent=test&x-algolia-api-key=" SKEY "&x-algolia-application-id=souk"

static char dir[] = "/tmp/souk-algolia-XXXXXX";
static char data_dir[512], cfg_path[512];
static int port;

/* POST body to an Algolia path (the key in the query string, as the browser client sends it,
 * with its text/plain body); the parsed response (NULL when not JSON) and the status. */
static cJSON *alg(const char *path, const char *body, int *status)
{
    char target[1024];
    REQUIRE(snprintf(target, sizeof target, "%s%s", path, QS) < (int)sizeof target);
    kit_resp r = {0};
    *status = kit_call(port, "POST", target, NULL, NULL, "text/plain", body, strlen(body), &r);
    cJSON *j = r.body ? cJSON_Parse(r.body) : NULL;
    if (*status != 200 && getenv("SOUK_TEST_VERBOSE"))
        fprintf(stderr, "  %s -> %d %.300s\n", path, *status, r.body ? r.body : "");
    kit_resp_free(&r);
    return j;
}

/* The single result of POST /1/indexes/debian/query with body; 200 required. */
static cJSON *query(const char *body)
{
    int st;
    cJSON *j = alg("/1/indexes/" INDEX "/query", body, &st);
    CHECK(st == 200);
    if (st != 200)
        fprintf(stderr, "  query %s -> %d\n", body, st);
    return j;
}

/* GET /v1/search?params (URL-escaped already); 200 required. */
static cJSON *native(const char *params)
{
    char target[4096];
    REQUIRE(snprintf(target, sizeof target, "/v1/search?%s", params) < (int)sizeof target);
    kit_resp r = {0};
    int st = kit_get(port, target, SKEY, &r);
    CHECK(st == 200);
    if (st != 200)
        fprintf(stderr, "  native %s -> %d %.300s\n", params, st, r.body ? r.body : "");
    cJSON *j = r.body ? cJSON_Parse(r.body) : NULL;
    kit_resp_free(&r);
    return j;
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* The ids of the hits: objectID (Algolia) or id (native), joined by spaces into out. */
static void ids(const cJSON *res, const char *key, char *out, size_t cap)
{
    out[0] = 0;
    size_t n = 0;
    const cJSON *h;
    cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(res, "hits"))
    {
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, key));
        n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, "%s ", id ? id : "?");
    }
}

/* Algolia's hits equal the native hits, in order, and nbHits the native total. */
static void same_hits(const cJSON *a, const cJSON *nat, const char *what)
{
    char x[8192], y[8192];
    ids(a, "objectID", x, sizeof x);
    ids(nat, "id", y, sizeof y);
    /* Empty only where the native search finds nothing (a typo without typo tolerance). */
    CHECK((x[0] || num(nat, "total") == 0) && strcmp(x, y) == 0);
    CHECK(num(a, "nbHits") == num(nat, "total"));
    if (strcmp(x, y) != 0 || num(a, "nbHits") != num(nat, "total"))
        fprintf(stderr, "  %s:\n    algolia %.0f: %.400s\n    native  %.0f: %.400s\n", what,
                num(a, "nbHits"), x, num(nat, "total"), y);
}

/* Algolia's facet `name` ({"value":count}) equals the native facet's values and counts. */
static void same_facet(const cJSON *a, const cJSON *nat, const char *name, const char *what)
{
    const cJSON *af =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(a, "facets"), name);
    const cJSON *nv = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(nat, "facets"), name),
        "values");
    int ok = cJSON_IsObject(af) && cJSON_IsArray(nv) &&
             cJSON_GetArraySize(af) == cJSON_GetArraySize(nv) && cJSON_GetArraySize(nv) > 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, nv)
    {
        const char *val = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(v, "value"));
        const cJSON *c = val ? cJSON_GetObjectItemCaseSensitive(af, val) : NULL;
        if (!c || c->valuedouble != num(v, "count"))
            ok = 0;
    }
    CHECK(ok);
    if (!ok) {
        char *x = cJSON_PrintUnformatted(af), *y = cJSON_PrintUnformatted(nv);
        fprintf(stderr, "  %s facet %s:\n    algolia %.400s\n    native  %.400s\n", what, name,
                x ? x : "null", y ? y : "null");
        free(x);
        free(y);
    }
}

/* Each parameter against /v1/search. The mapping: query -> q with operator=and, prefix=true,
 * typo=true (typoTolerance, queryType change them); page + 1, hitsPerPage -> per_page; facets
 * and maxValuesPerFacet -> facets and facet_size; the filters -> filter. */
static void test_parameters(void)
{
    static const struct {
        const char *alg, *nat;
    } cases[] = {
        {"{\"query\":\"editor\"}", "q=editor&operator=and&prefix=true&typo=true&per_page=20"},
        {"{\"params\":\"query=text%20editor&hitsPerPage=5&page=1\"}",
         "q=text%20editor&operator=and&prefix=true&typo=true&per_page=5&page=2"},
        {"{\"query\":\"editr\",\"typoTolerance\":false}",
         "q=editr&operator=and&prefix=true&typo=false&per_page=20"},
        {"{\"query\":\"editr\",\"typoTolerance\":true}",
         "q=editr&operator=and&prefix=true&typo=true&per_page=20"},
        {"{\"query\":\"edit\",\"queryType\":\"prefixNone\"}",
         "q=edit&operator=and&prefix=false&typo=true&per_page=20"},
        {"{\"query\":\"\",\"hitsPerPage\":5,\"page\":3}", "per_page=5&page=4"},
        {"{\"query\":\"library\",\"facetFilters\":[\"section:libs\"],\"hitsPerPage\":10}",
         "q=library&operator=and&prefix=true&typo=true&per_page=10&filter=section%20%3D%20libs"},
        {"{\"query\":\"library\",\"facetFilters\":[[\"section:libs\",\"section:devel\"],"
         "\"section:-doc\"]}",
         "q=library&operator=and&prefix=true&typo=true&per_page=20&filter=section%20IN%20%5Blibs%"
         "2Cdevel%5D%20AND%20NOT%20section%20%3D%20doc"},
        {"{\"query\":\"python\",\"numericFilters\":[\"installed_size_kb>=100\","
         "\"installed_size_kb<2000\"]}",
         "q=python&operator=and&prefix=true&typo=true&per_page=20&filter=installed_size_kb%20%3E%"
         "3D%20100%20AND%20installed_size_kb%20%3C%202000"},
        {"{\"query\":\"python\",\"numericFilters\":\"installed_size_kb:100 TO 2000\"}",
         "q=python&operator=and&prefix=true&typo=true&per_page=20&filter=installed_size_kb%20100%"
         "20TO%202000"},
        {"{\"query\":\"data\",\"filters\":\"(section:libs OR section:\\\"python\\\") AND NOT "
         "installed_size_kb > 500\"}",
         "q=data&operator=and&prefix=true&typo=true&per_page=20&filter=(section%20%3D%20libs%20OR%"
         "20section%20%3D%20python)%20AND%20NOT%20installed_size_kb%20%3E%20500"},
        {"{\"query\":\"game\",\"filters\":\"installed_size_kb:10 TO 800\",\"hitsPerPage\":3}",
         "q=game&operator=and&prefix=true&typo=true&per_page=3&filter=installed_size_kb%2010%20TO%"
         "20800"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cJSON *a = query(cases[i].alg), *n = native(cases[i].nat);
        same_hits(a, n, cases[i].alg);
        cJSON_Delete(a);
        cJSON_Delete(n);
    }
    /* Facets: counts of a facet no filter tests are the native ones; maxValuesPerFacet is
     * facet_size. A number facet gives facets_stats. */
    cJSON *a =
        query("{\"query\":\"editor\",\"facets\":[\"section\",\"tags\",\"installed_size_kb\"],"
              "\"maxValuesPerFacet\":5}");
    cJSON *n = native("q=editor&operator=and&prefix=true&typo=true&per_page=20&facets=section,"
                      "tags&facet_size=5");
    same_hits(a, n, "facets");
    same_facet(a, n, "section", "facets");
    same_facet(a, n, "tags", "facets");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(a, "facets_stats"), "installed_size_kb");
    CHECK(num(st, "min") >= 0 && num(st, "max") >= num(st, "min") &&
          num(st, "avg") >= num(st, "min"));
    CHECK(num(a, "page") == 0 && num(a, "hitsPerPage") == 20 && num(a, "nbPages") >= 1);
    cJSON_Delete(a);
    cJSON_Delete(n);
    /* facets_stats of a small set, computed here from the native hits. */
    a = query("{\"query\":\"vim\",\"facets\":[\"installed_size_kb\"],\"hitsPerPage\":100}");
    n = native("q=vim&operator=and&prefix=true&typo=true&per_page=100");
    double mn = 1e300, mx = -1, sum = 0;
    int cnt = 0;
    const cJSON *h;
    cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(n, "hits"))
    {
        double v = num(cJSON_GetObjectItemCaseSensitive(h, "fields"), "installed_size_kb");
        mn = v < mn ? v : mn;
        mx = v > mx ? v : mx;
        sum += v;
        cnt++;
    }
    st = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(a, "facets_stats"),
                                          "installed_size_kb");
    CHECK(cnt > 0 && cnt < 100 && num(st, "min") == mn && num(st, "max") == mx &&
          num(st, "sum") == sum);
    cJSON_Delete(a);
    cJSON_Delete(n);
    /* A conjunctive facet (refined, not asked disjunctively): counted over the whole filter,
     * as Algolia counts: the one value refined, with the whole count. */
    a = query(
        "{\"query\":\"library\",\"facetFilters\":[\"section:libs\"],\"facets\":[\"section\"]}");
    const cJSON *sf =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(a, "facets"), "section");
    CHECK(cJSON_GetArraySize(sf) == 1 && num(sf, "libs") == num(a, "nbHits"));
    cJSON_Delete(a);
    /* Retrieval and highlighting: only the fields asked, objectID always; the tags asked;
     * snippets of N words. */
    a = query("{\"query\":\"text editor\",\"attributesToRetrieve\":[\"section\"],"
              "\"attributesToHighlight\":[\"title\"],\"highlightPreTag\":\"<b>\","
              "\"highlightPostTag\":\"</b>\",\"attributesToSnippet\":[\"description:5\"],"
              "\"hitsPerPage\":3}");
    h = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(a, "hits"), 0);
    CHECK(cJSON_GetObjectItemCaseSensitive(h, "section") &&
          !cJSON_GetObjectItemCaseSensitive(h, "title") &&
          cJSON_GetObjectItemCaseSensitive(h, "objectID"));
    const cJSON *hr = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(h, "_highlightResult"), "title");
    const char *hv = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(hr, "value"));
    const char *ml = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(hr, "matchLevel"));
    CHECK(hv && strstr(hv, "<b>") && strstr(hv, "</b>") && !strstr(hv, "<em>"));
    CHECK(ml && (strcmp(ml, "full") == 0 || strcmp(ml, "partial") == 0));
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(hr, "matchedWords")) >= 1);
    CHECK(cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(hr, "fullyHighlighted")));
    const cJSON *sr = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(h, "_snippetResult"), "description");
    const char *sv = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(sr, "value"));
    int words = 0;
    for (const char *p = sv; p && *p; p++)
        words += *p == ' ';
    CHECK(sv && words <= 12);
    CHECK(!cJSON_GetObjectItemCaseSensitive(a, "queryID"));
    cJSON_Delete(a);
    /* clickAnalytics: a queryID of 32 hex digits; getRankingInfo: the score's parts. */
    a = query("{\"query\":\"editor\",\"clickAnalytics\":true,\"getRankingInfo\":true,"
              "\"hitsPerPage\":2}");
    const char *qid = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "queryID"));
    CHECK(qid && strlen(qid) == 32 && strspn(qid, "0123456789abcdef") == 32);
    h = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(a, "hits"), 0);
    const cJSON *ri = cJSON_GetObjectItemCaseSensitive(h, "_rankingInfo");
    CHECK(num(ri, "score") > 0 &&
          cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(ri, "explain")) >= 1);
    cJSON_Delete(a);
    /* offset and length. */
    a = query("{\"query\":\"editor\",\"offset\":5,\"length\":4}");
    n = native("q=editor&operator=and&prefix=true&typo=true&per_page=4&page=2");
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(a, "hits")) == 4);
    char x[4096], y[4096];
    ids(a, "objectID", x, sizeof x);
    ids(n, "id", y, sizeof y);
    /* native page 2 of 4 is hits 4..7; offset 5 is hits 5..8: compare the overlap. */
    CHECK(strlen(x) > 0 && strstr(y, strtok(x, " ")) != NULL);
    cJSON_Delete(a);
    cJSON_Delete(n);
}

/* A replica sorts as configured; an unknown index is a 404. */
static void test_replicas(void)
{
    cJSON *a;
    int st;
    a = alg("/1/indexes/debian_size_asc/query", "{\"query\":\"editor\",\"hitsPerPage\":10}", &st);
    cJSON *n = native("q=editor&operator=and&prefix=true&typo=true&per_page=10&sort="
                      "installed_size_kb:asc");
    CHECK(st == 200);
    same_hits(a, n, "replica");
    CHECK(strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "index")),
                 "debian_size_asc") == 0);
    cJSON_Delete(a);
    cJSON_Delete(n);
    a = alg("/1/indexes/nope/query", "{\"query\":\"editor\"}", &st);
    CHECK(st == 404 && num(a, "status") == 404 &&
          strstr(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "message")), "nope"));
    cJSON_Delete(a);
}

/* InstantSearch's batch: the main query with two refined facets and a numeric range, and one
 * query per refined facet without its refinements, hitsPerPage 0. Each result equals the same
 * query sent alone, and the disjunctive counts equal /v1/search's own. */
static void test_disjunctive_batch(void)
{
    const char *main_q =
        "{\"indexName\":\"debian\",\"params\":\"query=lib&facets=%5B%22section%22%2C"
        "%22tags%22%2C%22installed_size_kb%22%5D&maxValuesPerFacet=10&facetFilters="
        "%5B%5B%22section%3Alibs%22%2C%22section%3Adevel%22%5D%5D&numericFilters=%5B"
        "%22installed_size_kb%3E%3D50%22%5D&highlightPreTag=__ais-highlight__&"
        "highlightPostTag=__%2Fais-highlight__&page=0\"}";
    const char *aux1 = "{\"indexName\":\"debian\",\"params\":\"query=lib&facets=section&"
                       "maxValuesPerFacet=10&numericFilters=%5B%22installed_size_kb%3E%3D50%22%5D&"
                       "hitsPerPage=0&page=0&analytics=false&clickAnalytics=false\"}";
    const char *aux2 = "{\"indexName\":\"debian\",\"params\":\"query=lib&facets=installed_size_kb&"
                       "maxValuesPerFacet=10&facetFilters=%5B%5B%22section%3Alibs%22%2C%22section%"
                       "3Adevel%22%5D%5D&hitsPerPage=0&page=0&analytics=false&clickAnalytics="
                       "false\"}";
    char body[8192];
    REQUIRE(snprintf(body, sizeof body, "{\"requests\":[%s,%s,%s]}", main_q, aux1, aux2) <
            (int)sizeof body);
    int st;
    cJSON *b = alg("/1/indexes/*/queries", body, &st);
    CHECK(st == 200);
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(b, "results");
    CHECK(cJSON_GetArraySize(res) == 3);
    /* The two disjunctive queries were answered with the main query's pass. */
    CHECK(!cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(res, 0), "souk"));
    for (int i = 1; i < 3; i++)
        CHECK(num(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(res, i), "souk"),
                  "answered_with") == 0);
    /* Each alone (one query a request: nothing to merge) gives the same result. */
    const char *alone[] = {main_q, aux1, aux2};
    for (int i = 0; i < 3; i++) {
        REQUIRE(snprintf(body, sizeof body, "{\"requests\":[%s]}", alone[i]) < (int)sizeof body);
        cJSON *one = alg("/1/indexes/*/queries", body, &st);
        const cJSON *x = cJSON_GetArrayItem(res, i),
                    *y = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(one, "results"), 0);
        CHECK(num(x, "nbHits") == num(y, "nbHits") && num(x, "nbHits") > 0);
        char *fx = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(x, "facets"));
        char *fy = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(y, "facets"));
        char *sx = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(x, "facets_stats"));
        char *sy = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(y, "facets_stats"));
        CHECK(fx && fy && strcmp(fx, fy) == 0 && sx && sy && strcmp(sx, sy) == 0);
        if (!fx || !fy || strcmp(fx, fy) != 0)
            fprintf(stderr, "  batch %d:\n    %.300s\n    %.300s\n", i, fx, fy);
        free(fx);
        free(fy);
        free(sx);
        free(sy);
        cJSON_Delete(one);
    }
    /* The disjunctive counts of section are /v1/search's (which ignores section's own filter
     * part) and nbHits the total without it. */
    cJSON *n = native("q=lib&operator=and&prefix=true&typo=true&per_page=20&facets=section&"
                      "facet_size=10&filter=section%20IN%20%5Blibs%2Cdevel%5D%20AND%20installed_"
                      "size_kb%20%3E%3D%2050");
    cJSON *n2 = native("q=lib&operator=and&prefix=true&typo=true&per_page=20&filter=installed_"
                       "size_kb%20%3E%3D%2050");
    same_facet(cJSON_GetArrayItem(res, 1), n, "section", "disjunctive section");
    same_hits(cJSON_GetArrayItem(res, 0), n, "batch main");
    CHECK(num(cJSON_GetArrayItem(res, 1), "nbHits") == num(n2, "total"));
    cJSON_Delete(n);
    cJSON_Delete(n2);
    cJSON_Delete(b);
}

/* Search for facet values, by its own endpoint and as a "type":"facet" request. */
static void test_facet_search(void)
{
    int st;
    cJSON *a = alg("/1/indexes/debian/facets/section/query",
                   "{\"facetQuery\":\"li\",\"params\":\"query=data&maxFacetHits=5\"}", &st);
    CHECK(st == 200);
    cJSON *n = native("q=data&operator=and&prefix=true&typo=true&per_page=1&facets=section&facet_"
                      "size=1000");
    const cJSON *nv = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(n, "facets"), "section"),
        "values");
    const cJSON *fh = cJSON_GetObjectItemCaseSensitive(a, "facetHits"), *h;
    CHECK(cJSON_GetArraySize(fh) >= 1 && cJSON_GetArraySize(fh) <= 5);
    cJSON_ArrayForEach(h, fh)
    {
        const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "value"));
        const char *hl = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "highlighted"));
        CHECK(v && strncasecmp(v, "li", 2) == 0 && hl && strncmp(hl, "<em>", 4) == 0);
        double want = -1;
        const cJSON *x;
        cJSON_ArrayForEach(x, nv)
        {
            if (v &&
                strcmp(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(x, "value")), v) == 0)
                want = num(x, "count");
        }
        CHECK(num(h, "count") == want);
    }
    cJSON *b = alg("/1/indexes/*/queries",
                   "{\"requests\":[{\"indexName\":\"debian\",\"type\":\"facet\",\"facet\":"
                   "\"section\",\"facetQuery\":\"li\",\"query\":\"data\",\"maxFacetHits\":5}]}",
                   &st);
    char *x = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(a, "facetHits"));
    char *y = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(b, "results"), 0), "facetHits"));
    CHECK(st == 200 && x && y && strcmp(x, y) == 0);
    free(x);
    free(y);
    cJSON_Delete(a);
    cJSON_Delete(b);
    cJSON_Delete(n);
}

/* The message of an Algolia error contains `want`, with the status. */
static void refused(const char *path, const char *body, int status, const char *want)
{
    int st;
    cJSON *a = alg(path, body, &st);
    const char *m = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(a, "message"));
    CHECK(st == status && num(a, "status") == status && m && strstr(m, want));
    if (!(st == status && m && strstr(m, want)))
        fprintf(stderr, "  refused %.200s: %d %s (want %d '%s')\n", body, st, m ? m : "(none)",
                status, want);
    cJSON_Delete(a);
}

static void test_errors(void)
{
    const char *q = "/1/indexes/debian/query";
    refused(q, "{\"query\":\"x\",\"optionalFilters\":[\"section:libs\"]}", 400, "optionalFilters");
    refused(q, "{\"params\":\"query=x&aroundLatLng=1%2C2\"}", 400, "aroundLatLng");
    refused(q, "{\"query\":\"x\",\"bogusParam\":1}", 400, "bogusParam");
    refused(q, "{\"query\":\"x\",\"distinct\":true}", 400, "distinct");
    refused(q, "{\"query\":\"x\",\"tagFilters\":[\"a\"]}", 400, "tagFilters");
    refused(q, "{\"query\":\"x\",\"typoTolerance\":\"min\"}", 400, "typoTolerance");
    refused(q, "{\"query\":\"x\",\"facets\":[\"description\"]}", 400, "description");
    refused(q, "{\"query\":\"x\",\"facetFilters\":[\"nofield:1\"]}", 400, "nofield");
    refused(q, "{\"query\":\"x\",\"facetFilters\":[[[\"section:libs\"]]]}", 400, "facetFilters");
    refused(q, "{\"query\":\"x\",\"numericFilters\":[\"installed_size_kb>abc\"]}", 400,
            "numericFilters");
    refused(q, "{\"query\":\"x\",\"filters\":\"section:libs AND (\"}", 400, "filters");
    refused(q, "{\"query\":\"x\",\"filters\":\"_tags:a\"}", 400, "_tags");
    refused(q, "{\"query\":\"x\",\"hitsPerPage\":-1}", 400, "hitsPerPage");
    refused(q, "{\"query\":\"x\",\"page\":\"two\"}", 400, "page");
    refused(q, "{\"query\":\"x\",\"query\":\"y\"}", 400, "duplicate");
    refused(q, "{\"params\":\"query=x\",\"query\":\"y\"}", 400, "query");
    refused(q, "{\"query\":", 400, "not valid JSON");
    refused(q, "[1,2]", 400, "object");
    refused(q, "{\"query\":\"\xff\xfe\"}", 400, "UTF-8");
    refused(q, "{\"params\":\"query=%FF\"}", 400, "UTF-8");
    refused("/1/indexes/debian/browse", "{}", 404, "no endpoint");
    refused("/1/indexes/*/queries", "{\"requests\":[]}", 400, "requests");
    refused("/1/indexes/*/queries", "{\"requests\":[{\"query\":\"x\"}]}", 400, "indexName");
    refused("/1/indexes/*/queries", "{\"requests\":[],\"strategy\":\"stopIfEnoughMatches\"}", 400,
            "strategy");
    /* Deeply nested facetFilters: refused by JSON nesting or by the two-level rule. */
    char deep[8192];
    size_t n = 0;
    n += (size_t)snprintf(deep + n, sizeof deep - n, "{\"query\":\"x\",\"facetFilters\":");
    for (int i = 0; i < 2000; i++)
        deep[n++] = '[';
    for (int i = 0; i < 2000; i++)
        deep[n++] = ']';
    deep[n++] = '}';
    deep[n] = 0;
    int st;
    cJSON *a = alg(q, deep, &st);
    CHECK(st == 400 && num(a, "status") == 400);
    cJSON_Delete(a);
    /* Too many queries (51). */
    char *big = malloc(64 * 60 + 64);
    REQUIRE(big);
    n = (size_t)sprintf(big, "{\"requests\":[");
    for (int i = 0; i < 51; i++)
        n += (size_t)sprintf(big + n, "%s{\"indexName\":\"debian\",\"query\":\"a\"}", i ? "," : "");
    sprintf(big + n, "]}");
    refused("/1/indexes/*/queries", big, 400, "1 to 50");
    free(big);
    /* A body over max_body_bytes (64 KiB here): 413, before any parse. */
    size_t bl = 100000;
    char *huge = malloc(bl + 32);
    REQUIRE(huge);
    memset(huge, ' ', bl + 32);
    memcpy(huge, "{\"query\":\"", 10);
    memcpy(huge + bl, "\"}", 3);
    a = alg(q, huge, &st);
    CHECK(st == 413);
    cJSON_Delete(a);
    free(huge);
}

/* Credentials: x-algolia-api-key as header or query parameter; a wrong or missing key is
 * refused in Algolia's shape; the application id is ignored; CORS preflight allows the
 * client's headers. */
static void test_credentials(void)
{
    const char *body = "{\"query\":\"editor\"}";
    char raw[1024];
    kit_resp r = {0};
    int n = snprintf(raw, sizeof raw,
                     "POST /1/indexes/debian/query HTTP/1.1\r\nHost: t\r\nx-algolia-api-key: %s\r\n"
                     "x-algolia-application-id: anything\r\ncontent-type: text/plain\r\n"
                     "Content-Length: %zu\r\n\r\n%s",
                     SKEY, strlen(body), body);
    REQUIRE(n < (int)sizeof raw);
    CHECK(kit_request(port, raw, (size_t)n, &r) == 200);
    kit_resp_free(&r);
    CHECK(kit_call(port, "POST", "/1/indexes/debian/query?x-algolia-api-key=wrong", NULL, NULL,
                   "text/plain", body, strlen(body), &r) == 401);
    CHECK(r.body && strstr(r.body, "\"status\":401") && strstr(r.body, "\"message\""));
    kit_resp_free(&r);
    CHECK(kit_call(port, "POST", "/1/indexes/debian/query", NULL, NULL, "text/plain", body,
                   strlen(body), &r) == 401);
    kit_resp_free(&r);
    /* The router's own errors are in Algolia's shape too (405 here). */
    CHECK(kit_call(port, "GET", "/1/indexes/*/queries?x-algolia-api-key=" SKEY, NULL, NULL, NULL,
                   NULL, 0, &r) == 405);
    CHECK(r.body && strstr(r.body, "\"status\":405") && strstr(r.body, "\"message\":"));
    kit_resp_free(&r);
    /* An unknown query-string parameter is refused. */
    CHECK(kit_call(port, "POST", "/1/indexes/debian/query?x-algolia-api-key=" SKEY "&query=x", NULL,
                   NULL, "text/plain", body, strlen(body), &r) == 400);
    kit_resp_free(&r);
    n = snprintf(raw, sizeof raw,
                 "OPTIONS /1/indexes/*/queries HTTP/1.1\r\nHost: t\r\nOrigin: https://shop.test\r\n"
                 "Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: "
                 "x-algolia-api-key, x-algolia-application-id, content-type\r\n\r\n");
    CHECK(kit_request(port, raw, (size_t)n, &r) == 204);
    char h[512];
    CHECK(kit_header(&r, "Access-Control-Allow-Origin", h, sizeof h) &&
          strcmp(h, "https://shop.test") == 0);
    CHECK(kit_header(&r, "Access-Control-Allow-Headers", h, sizeof h) &&
          strstr(h, "X-Algolia-API-Key") && strstr(h, "X-Algolia-Application-Id"));
    kit_resp_free(&r);
}

/* Personalized search: a user who viewed games; the same token through both APIs gives the same
 * personal order, which differs from the anonymous one somewhere; the token carried in the
 * body's authenticatedUserToken or userToken too; an unsigned or altered userToken is
 * anonymous. */
static void test_personal(const char *tok)
{
    const char *qs[] = {"game", "puzzle", "strategy", "arcade", "board"};
    int differs = 0;
    for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        char body[256], target[512], x[4096], y[4096], z[4096], u[4096];
        REQUIRE(snprintf(body, sizeof body, "{\"query\":\"%s\",\"hitsPerPage\":10}", qs[i]) <
                (int)sizeof body);
        kit_resp r = {0};
        CHECK(kit_call(port, "POST", "/1/indexes/debian/query" QS, NULL, tok, "text/plain", body,
                       strlen(body), &r) == 200);
        cJSON *a = cJSON_Parse(r.body ? r.body : "");
        kit_resp_free(&r);
        REQUIRE(snprintf(target, sizeof target,
                         "/v1/search?q=%s&operator=and&prefix=true&typo=true&per_page=10",
                         qs[i]) < (int)sizeof target);
        CHECK(kit_call(port, "GET", target, SKEY, tok, NULL, NULL, 0, &r) == 200);
        cJSON *n = cJSON_Parse(r.body ? r.body : "");
        kit_resp_free(&r);
        ids(a, "objectID", x, sizeof x);
        ids(n, "id", y, sizeof y);
        CHECK(x[0] && strcmp(x, y) == 0);
        if (strcmp(x, y) != 0)
            fprintf(stderr, "  personal %s:\n    %s\n    %s\n", qs[i], x, y);
        cJSON_Delete(a);
        cJSON_Delete(n);
        /* Anonymous, with an unsigned userToken: the anonymous native order. */
        REQUIRE(snprintf(body, sizeof body,
                         "{\"query\":\"%s\",\"hitsPerPage\":10,\"userToken\":\"alg-user\"}",
                         qs[i]) < (int)sizeof body);
        a = query(body);
        REQUIRE(snprintf(target, sizeof target,
                         "q=%s&operator=and&prefix=true&typo=true&per_page=10",
                         qs[i]) < (int)sizeof target);
        n = native(target);
        ids(a, "objectID", z, sizeof z);
        ids(n, "id", u, sizeof u);
        CHECK(strcmp(z, u) == 0);
        differs |= strcmp(x, z) != 0;
        cJSON_Delete(a);
        cJSON_Delete(n);
        /* The signed token carried as the client carries it (authenticatedUserToken, or
         * userToken) personalizes as the header does; the same token altered is anonymous. */
        const char *members[] = {"authenticatedUserToken", "userToken", "userToken"};
        for (int k = 0; k < 3; k++) {
            char t[1024], big[2048], w[4096];
            REQUIRE(snprintf(t, sizeof t, "%s", tok) < (int)sizeof t);
            if (k == 2)
                t[strlen(t) - 2] = t[strlen(t) - 2] == 'A' ? 'B' : 'A';
            REQUIRE(snprintf(big, sizeof big, "{\"query\":\"%s\",\"hitsPerPage\":10,\"%s\":\"%s\"}",
                             qs[i], members[k], t) < (int)sizeof big);
            a = query(big);
            ids(a, "objectID", w, sizeof w);
            if (strcmp(w, k == 2 ? u : x) != 0)
                fprintf(stderr, "  %s%s %s:\n    %s\n", k == 2 ? "altered " : "", members[k], qs[i],
                        w);
            CHECK(strcmp(w, k == 2 ? u : x) == 0);
            cJSON_Delete(a);
        }
    }
    CHECK(differs);
}

/* The user's history: views of the first games of the catalog (POST /v1/events). */
static void send_views(const char *ikey)
{
    cJSON *n = native("filter=section%20%3D%20games&per_page=8");
    char body[4096] = "", ts[32];
    time_t now = time(NULL);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    const cJSON *h;
    cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(n, "hits"))
    {
        size_t l = strlen(body);
        REQUIRE(snprintf(body + l, sizeof body - l,
                         "{\"user\":\"alg-user\",\"session\":\"s1\",\"type\":\"view\","
                         "\"item\":\"%s\",\"ts\":\"%s\"}\n",
                         cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(h, "id")),
                         ts) < (int)(sizeof body - l));
    }
    cJSON_Delete(n);
    kit_resp r = {0};
    CHECK(kit_call(port, "POST", "/v1/events", ikey, NULL, "application/x-ndjson", body,
                   strlen(body), &r) == 200);
    kit_resp_free(&r);
}

int main(void)
{
    souk_alloc_init();
    if (!debian_catalog())
        return TEST_SKIP;
    REQUIRE(mkdtemp(dir));
    REQUIRE(snprintf(data_dir, sizeof data_dir, "%s/index", dir) < (int)sizeof data_dir);
    REQUIRE(snprintf(cfg_path, sizeof cfg_path, "%s/server.json", dir) < (int)sizeof cfg_path);
    REQUIRE(kit_debian_index(data_dir, 3000, "") == 0);
    char cfg[2048];
    char sk[128];
    snprintf(sk, sizeof sk, "%s", kit_hash_key(SKEY));
    REQUIRE(snprintf(cfg, sizeof cfg,
                     "{\"search_keys\":[\"%s\"],\"admin_keys\":[\"%s\"],"
                     "\"cors_origins\":[\"https://shop.test\"],"
                     "\"limits\":{\"max_body_bytes\":65536},"
                     "\"algolia\":{\"index\":\"debian\",\"replicas\":{\"debian_size_asc\":"
                     "{\"sort\":\"installed_size_kb:asc\"}}}}",
                     sk, kit_hash_key(AKEY)) < (int)sizeof cfg);
    kit_write_file(cfg_path, cfg);
    kit_server s;
    kit_start(&s, (const char *[]){"--data", data_dir, "--config", cfg_path, NULL});
    port = s.port;
    test_parameters();
    test_replicas();
    test_disjunctive_batch();
    test_facet_search();
    test_errors();
    test_credentials();
    CHECK(kit_stop(&s) == 0);

    /* Personalization: the same index with the event store and user tokens. */
    char pring[700], tring[700];
    REQUIRE(snprintf(pring, sizeof pring, "%s/pseudonym.ring", dir) < (int)sizeof pring);
    REQUIRE(snprintf(tring, sizeof tring, "%s/token.ring", dir) < (int)sizeof tring);
    kit_write_ring(pring, 0600);
    kit_write_ring(tring, 0600);
    const char *ikey = "algolia-test-ingest-key";
    char ik[128];
    snprintf(ik, sizeof ik, "%s", kit_hash_key(ikey));
    REQUIRE(snprintf(cfg, sizeof cfg,
                     "{\"search_keys\":[\"%s\"],\"ingest_keys\":[\"%s\"],"
                     "\"pseudonym_key_file\":\"%s\",\"token_key_file\":\"%s\","
                     "\"consent_default\":{\"personalization\":true},"
                     "\"algolia\":{\"index\":\"debian\"}}",
                     sk, ik, pring, tring) < (int)sizeof cfg);
    kit_write_file(cfg_path, cfg);
    kit_start(&s, (const char *[]){"--data", data_dir, "--config", cfg_path, NULL});
    port = s.port;
    send_views(ikey);
    souk_keyring *tkr = NULL;
    char err[256];
    REQUIRE(souk_keyring_load(tring, data_dir, &tkr, err, sizeof err) == 0);
    char tok[SOUK_TOKEN_MAX + 1];
    REQUIRE(souk_token_mint(tkr, "alg-user", 8, time(NULL), 3600, NULL, tok, sizeof tok) == 0);
    /* POST /v1/events queues: wait until the user's history holds the 8 views. */
    int seen = 0;
    for (int i = 0; i < 100 && seen < 8; i++) {
        kit_resp r = {0};
        CHECK(kit_call(port, "GET", "/v1/me/history?limit=1000", NULL, tok, NULL, NULL, 0, &r) ==
              200);
        seen = 0;
        for (const char *p = r.body; p && (p = strstr(p, "\"item\":")); p++)
            seen++;
        kit_resp_free(&r);
        if (seen < 8)
            usleep(50000);
    }
    CHECK(seen == 8);
    test_personal(tok);
    souk_keyring_free(tkr);
    CHECK(kit_stop(&s) == 0);
    char cmd[1200];
    REQUIRE(snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir) < (int)sizeof cmd);
    CHECK(system(cmd) == 0);
    return check_failures ? 1 : 0;
}
