/* test_analyst_http.c: query analytics for analysts through the real souk-server (issue 21,
 * "Query analytics", P16), on the MovieLens catalog with events derived from MovieLens's real
 * ratings (tests/kit/behavior.h) and analytics_k = 20.
 *
 * Events (sent to POST /v1/events): every user who rated "Toy Story" (ml-1) searched
 * "toy story" and clicked it 10 s later; every user who rated "Jumanji" (ml-2) searched
 * "jumanji", saw an impression of it 5 s later, and one in five clicked it; the raters of a
 * movie with fewer than k raters searched its title and clicked it. Then 22 users with tokens
 * search "jumanjii", "photoplay" and "terminator2" through GET /v1/search, which find nothing
 * (their search events carry nhits 0); then Terminator 2 (ml-589, held back until now) is
 * indexed and the configuration gains the synonym group photoplay = movie (SIGHUP).
 *
 * What it proves:
 *   - kind=low_ctr: the rows' users, searches, clicks and ctr equal the counts derived here
 *     from the ratings, lowest ctr first; the movie under k is left out (suppressed_rows), and
 *     a k above a row's users removes it; zero-result searches are not in it;
 *   - kind=zero_results with its rule suggestions: "jumanjii" would match with typo tolerance
 *     (finding ml-2) and matches nothing as is or live; "photoplay" would match by the configured
 *     synonyms and matches now; "terminator2" by part-number joining (finding
 *     Terminator 2, which the catalog gained since) and matches now; suggest=false leaves the
 *     rules out; suggest on another kind is refused;
 *   - POST /v1/analytics/dry-run: a proposed synonym jumanjii = jumanji returns Jumanji where
 *     the live search returns nothing, and changes nothing (the same search after it still
 *     finds nothing); bad proposals are refused naming the field; only analyst or admin keys. */
#include "check.h"
#include "kit/behavior.h"
#include "kit/http.h"
#include "souk/keys.h"
#include "souk/souk.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <sodium.h>
#include <sys/stat.h>
#include <time.h>

#define SKEY "analyst-test-search-key"
#define NKEY "analyst-test-analyst-key"
#define IKEY "analyst-test-ingest-key"
#define K 20
#define ZR_USERS 22

static char dir[256], data_dir[512], cfg_path[512], pring[600], tring[600];
static kit_server srv;
static souk_keyring *tkr;

static void write_config(const char *extra)
{
    char hs[80], hn[80], hi[80];
    snprintf(hs, sizeof hs, "%s", kit_hash_key(SKEY));
    snprintf(hn, sizeof hn, "%s", kit_hash_key(NKEY));
    snprintf(hi, sizeof hi, "%s", kit_hash_key(IKEY));
    FILE *f = fopen(cfg_path, "w");
    REQUIRE(f);
    fprintf(f,
            "{\"search_keys\":[\"%s\"],\"analyst_keys\":[\"%s\"],\"ingest_keys\":[\"%s\"],"
            "\"pseudonym_key_file\":\"%s\",\"token_key_file\":\"%s\",\"analytics_k\":%d,"
            "\"policy_version\":2,"
            "\"consent_default\":{\"personalization\":true,\"search_history\":true}%s%s}\n",
            hs, hn, hi, pring, tring, K, extra ? "," : "", extra ? extra : "");
    fclose(f);
}

static int call(const char *method, const char *target, const char *key, const char *token,
                const char *ctype, const char *body, kit_resp *r)
{
    return kit_call(srv.port, method, target, key, token, ctype, body, body ? strlen(body) : 0, r);
}

/* ------------------------------------------------------------------ the events */

typedef struct users {
    char (*id)[48];
    size_t n, cap;
} users;

static void users_add(users *u, const char *id)
{
    for (size_t i = 0; i < u->n; i++)
        if (strcmp(u->id[i], id) == 0)
            return;
    if (u->n == u->cap) {
        u->cap = u->cap ? 2 * u->cap : 64;
        u->id = realloc(u->id, u->cap * sizeof *u->id);
        REQUIRE(u->id);
    }
    snprintf(u->id[u->n++], sizeof u->id[0], "%s", id);
}

static size_t n_toy, n_jumanji, n_jumanji_clicks, n_rare;
static char rare_query[128];

static void iso(int64_t ms, char *out, size_t cap)
{
    time_t t = (time_t)(ms / 1000);
    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
}

static void post_events(const char *body)
{
    kit_resp r;
    int st = call("POST", "/v1/events", IKEY, NULL, "application/x-ndjson", body, &r);
    if (st != 200)
        fprintf(stderr, "POST /v1/events: %d %s\n", st, r.body ? r.body : "");
    REQUIRE(st == 200);
    kit_resp_free(&r);
}

/* The raters of ml-1, ml-2 and of one movie with 3 to 10 raters, from the real ratings; their
 * searches and clicks, posted in batches. */
static void send_events(void)
{
    char *buf = NULL, err[512];
    size_t len = 0;
    behavior_stats st;
    REQUIRE(behavior_events_buf(BEHAVIOR_MOVIELENS, NULL, &buf, &len, &st, err, sizeof err) == 0);
    users toy = {0}, jum = {0};
    /* raters per movie, for the rare one: item -> users (a small linear table is enough for
     * the first movies met) */
    enum { NM = 400 };
    static char items[NM][32];
    static users per[NM];
    size_t nm = 0;
    for (char *line = buf; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        cJSON *e = cJSON_Parse(line);
        const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(e, "type"));
        const char *user = cJSON_GetStringValue(cJSON_GetObjectItem(e, "user"));
        const char *item = cJSON_GetStringValue(cJSON_GetObjectItem(e, "item"));
        if (type && user && item && strcmp(type, "view") == 0) {
            if (strcmp(item, "ml-1") == 0)
                users_add(&toy, user);
            else if (strcmp(item, "ml-2") == 0)
                users_add(&jum, user);
            size_t i = 0;
            while (i < nm && strcmp(items[i], item) != 0)
                i++;
            if (i == nm && nm < NM)
                snprintf(items[nm++], sizeof items[0], "%s", item);
            if (i < NM)
                users_add(&per[i], user);
        }
        cJSON_Delete(e);
        line = nl ? nl + 1 : NULL;
    }
    free(buf);
    size_t rare = NM;
    for (size_t i = 0; i < nm && rare == NM; i++)
        if (per[i].n >= 3 && per[i].n <= 10 && strcmp(items[i], "ml-1") && strcmp(items[i], "ml-2"))
            rare = i;
    REQUIRE(rare < NM);
    snprintf(rare_query, sizeof rare_query, "rare movie %s", items[rare]);
    n_toy = toy.n;
    n_jumanji = jum.n;
    n_rare = per[rare].n;
    REQUIRE(n_toy >= K && n_jumanji >= K);
    int64_t t0 = ((int64_t)time(NULL) - 3 * 86400) * 1000;
    size_t cap = 1 << 20, blen = 0, lines = 0;
    char *body = malloc(cap), ts[32];
    REQUIRE(body);
#define FLUSH_IF_FULL()                                                                            \
    do {                                                                                           \
        if (++lines % 300 == 0) {                                                                  \
            post_events(body);                                                                     \
            blen = 0;                                                                              \
            body[0] = '\0';                                                                        \
        }                                                                                          \
    } while (0)
    for (size_t i = 0; i < toy.n; i++) {
        int64_t t = t0 + (int64_t)i * 60000;
        iso(t, ts, sizeof ts);
        blen += (size_t)snprintf(body + blen, cap - blen,
                                 "{\"user\":\"%s\",\"type\":\"search\",\"query\":\"Toy  Story\","
                                 "\"ts\":\"%s\"}\n",
                                 toy.id[i], ts);
        iso(t + 10000, ts, sizeof ts);
        blen += (size_t)snprintf(
            body + blen, cap - blen,
            "{\"user\":\"%s\",\"type\":\"click\",\"item\":\"ml-1\",\"ts\":\"%s\"}\n", toy.id[i],
            ts);
        FLUSH_IF_FULL();
    }
    for (size_t i = 0; i < jum.n; i++) {
        int64_t t = t0 + 86400000 + (int64_t)i * 60000;
        iso(t, ts, sizeof ts);
        blen += (size_t)snprintf(body + blen, cap - blen,
                                 "{\"user\":\"%s\",\"type\":\"search\",\"query\":\"jumanji\","
                                 "\"ts\":\"%s\"}\n",
                                 jum.id[i], ts);
        iso(t + 5000, ts, sizeof ts);
        blen += (size_t)snprintf(body + blen, cap - blen,
                                 "{\"user\":\"%s\",\"type\":\"impression\",\"item\":\"ml-2\","
                                 "\"ts\":\"%s\"}\n",
                                 jum.id[i], ts);
        if (i % 5 == 0) {
            iso(t + 10000, ts, sizeof ts);
            blen += (size_t)snprintf(body + blen, cap - blen,
                                     "{\"user\":\"%s\",\"type\":\"click\",\"item\":\"ml-2\","
                                     "\"ts\":\"%s\"}\n",
                                     jum.id[i], ts);
            n_jumanji_clicks++;
        }
        FLUSH_IF_FULL();
    }
    for (size_t i = 0; i < per[rare].n; i++) {
        int64_t t = t0 + 2 * 86400000 + (int64_t)i * 60000;
        iso(t, ts, sizeof ts);
        blen += (size_t)snprintf(body + blen, cap - blen,
                                 "{\"user\":\"%s\",\"type\":\"search\",\"query\":\"%s\","
                                 "\"ts\":\"%s\"}\n",
                                 per[rare].id[i], rare_query, ts);
        iso(t + 10000, ts, sizeof ts);
        blen +=
            (size_t)snprintf(body + blen, cap - blen,
                             "{\"user\":\"%s\",\"type\":\"click\",\"item\":\"%s\",\"ts\":\"%s\"}\n",
                             per[rare].id[i], items[rare], ts);
    }
    if (blen)
        post_events(body);
    free(body);
    free(toy.id);
    free(jum.id);
    for (size_t i = 0; i < nm; i++)
        free(per[i].id);
    printf("test_analyst_http: %zu searchers of toy story, %zu of jumanji (%zu clicked), %zu of "
           "'%s'\n",
           n_toy, n_jumanji, n_jumanji_clicks, n_rare, rare_query);
}

/* 22 users with tokens search two queries that find nothing, through the server. */
static void zero_result_searches(void)
{
    for (int u = 0; u < ZR_USERS; u++) {
        char user[32], tok[SOUK_TOKEN_MAX + 1];
        snprintf(user, sizeof user, "zr-user-%d", u);
        REQUIRE(souk_token_mint(tkr, user, strlen(user), time(NULL), 3600, NULL, tok, sizeof tok) ==
                0);
        static const char *const qs[] = {"/v1/search?q=jumanjii", "/v1/search?q=photoplay",
                                         "/v1/search?q=terminator2"};
        for (int i = 0; i < 3; i++) {
            kit_resp r;
            CHECK(call("GET", qs[i], SKEY, tok, NULL, NULL, &r) == 200 &&
                  strstr(r.body, "\"total\":0,"));
            kit_resp_free(&r);
        }
    }
}

/* Moves the record of ml-589 from the catalog stream at path to a stream of its own at later. */
static void split_catalog(const char *path, const char *later)
{
    char tmp[700];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *in = fopen(path, "r"), *out = fopen(tmp, "w"), *lt = fopen(later, "w");
    REQUIRE(in && out && lt);
    char *line = NULL;
    size_t cap = 0;
    int moved = 0;
    while (getline(&line, &cap, in) > 0) {
        int is = strstr(line, "\"id\":\"ml-589\"") != NULL;
        moved += is;
        fputs(line, is ? lt : out);
    }
    free(line);
    fclose(in);
    REQUIRE(fclose(out) == 0 && fclose(lt) == 0 && moved == 1);
    REQUIRE(rename(tmp, path) == 0);
}

/* ------------------------------------------------------------------ the reports */

static cJSON *report(const char *target, int want)
{
    kit_resp r;
    int st = call("GET", target, NKEY, NULL, NULL, NULL, &r);
    if (st != want)
        fprintf(stderr, "%s: %d %s\n", target, st, r.body ? r.body : "");
    CHECK(st == want);
    cJSON *j = cJSON_Parse(r.body ? r.body : "");
    kit_resp_free(&r);
    REQUIRE(j);
    return j;
}

static const cJSON *row_of(const cJSON *j, const char *query)
{
    const cJSON *row;
    cJSON_ArrayForEach(row, cJSON_GetObjectItem(j, "rows"))
    {
        const char *q = cJSON_GetStringValue(cJSON_GetObjectItem(row, "query"));
        if (q && strcmp(q, query) == 0)
            return row;
    }
    return NULL;
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItem(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static void low_ctr(void)
{
    /* The events go through the server's inbox: wait until they are drained. */
    cJSON *j = NULL;
    for (int i = 0; i < 100; i++) {
        cJSON_Delete(j);
        j = report("/v1/analytics/queries?kind=low_ctr", 200);
        if (row_of(j, "toy story") && row_of(j, "jumanji"))
            break;
        usleep(100000);
    }
    CHECK(strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(j, "kind")), "low_ctr") == 0);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(j, "thresholded")) && num(j, "k") == K);
    const cJSON *toy = row_of(j, "toy story"), *jum = row_of(j, "jumanji");
    REQUIRE(toy && jum);
    CHECK(num(toy, "users") == n_toy && num(toy, "searches") == n_toy &&
          num(toy, "clicks") == n_toy && num(toy, "ctr") == 1);
    CHECK(num(jum, "users") == n_jumanji && num(jum, "searches") == n_jumanji &&
          num(jum, "clicks") == n_jumanji_clicks);
    CHECK(fabs(num(jum, "ctr") - (double)n_jumanji_clicks / n_jumanji) < 1e-12);
    /* lowest first */
    CHECK(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "rows"), 0) == jum);
    /* under k: left out, counted; zero-result searches are not click-through rows */
    CHECK(!row_of(j, rare_query) && num(j, "suppressed_rows") >= 1);
    CHECK(!row_of(j, "jumanjii") && !row_of(j, "photoplay"));
    printf("test_analyst_http: low_ctr: jumanji %g/%g = %.3f, toy story %g/%g\n",
           num(jum, "clicks"), num(jum, "searches"), num(jum, "ctr"), num(toy, "clicks"),
           num(toy, "searches"));
    cJSON_Delete(j);
    /* A k above Jumanji's users removes it. */
    char target[128];
    snprintf(target, sizeof target, "/v1/analytics/queries?kind=low_ctr&k=%zu", n_jumanji + 1);
    j = report(target, 200);
    CHECK(!row_of(j, "jumanji") && (n_toy <= n_jumanji || row_of(j, "toy story")));
    cJSON_Delete(j);
    j = report("/v1/analytics/queries?kind=low_ctr&noise=true", 200);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(j, "noise")) && !row_of(j, rare_query));
    cJSON_Delete(j);
}

static void zero_results(void)
{
    cJSON *j = report("/v1/analytics/queries?kind=zero_results", 200);
    const cJSON *typo = row_of(j, "jumanjii"), *syn = row_of(j, "photoplay");
    REQUIRE(typo && syn);
    CHECK(num(typo, "users") == ZR_USERS && num(syn, "users") == ZR_USERS);
    const cJSON *rules = cJSON_GetObjectItem(typo, "rules");
    CHECK(num(cJSON_GetObjectItem(rules, "as_is"), "total") == 0);
    CHECK(num(cJSON_GetObjectItem(rules, "live"), "total") == 0);
    CHECK(num(cJSON_GetObjectItem(rules, "synonyms"), "total") == 0);
    const cJSON *t = cJSON_GetObjectItem(rules, "typo");
    CHECK(num(t, "total") > 0);
    int has_ml2 = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(t, "ids")) has_ml2 |=
        strcmp(it->valuestring, "ml-2") == 0;
    CHECK(has_ml2);
    const cJSON *w = cJSON_GetObjectItem(typo, "would_match");
    CHECK(cJSON_GetArraySize(w) >= 1 && strcmp(cJSON_GetArrayItem(w, 0)->valuestring, "typo") == 0);
    CHECK(cJSON_IsFalse(cJSON_GetObjectItem(typo, "matches_now")));
    rules = cJSON_GetObjectItem(syn, "rules");
    CHECK(num(cJSON_GetObjectItem(rules, "as_is"), "total") == 0);
    CHECK(num(cJSON_GetObjectItem(rules, "synonyms"), "total") > 0);
    /* ... and names the configured group that does it */
    const cJSON *groups = cJSON_GetObjectItem(cJSON_GetObjectItem(rules, "synonyms"), "groups");
    CHECK(cJSON_GetArraySize(groups) == 1 &&
          strcmp(cJSON_GetArrayItem(cJSON_GetArrayItem(groups, 0), 0)->valuestring, "photoplay") ==
              0);
    int says_syn = 0;
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(syn, "would_match")) says_syn |=
        strcmp(it->valuestring, "synonyms") == 0;
    CHECK(says_syn && cJSON_IsTrue(cJSON_GetObjectItem(syn, "matches_now")));
    /* Terminator 2 arrived after the searches: the part-number rule joins "terminator2" to the
     * code term of "Terminator 2"; /v1/search (which joins codes) finds it now. */
    const cJSON *code = row_of(j, "terminator2");
    REQUIRE(code);
    rules = cJSON_GetObjectItem(code, "rules");
    CHECK(num(cJSON_GetObjectItem(rules, "as_is"), "total") == 0);
    const cJSON *pn = cJSON_GetObjectItem(rules, "part_numbers");
    CHECK(num(pn, "total") >= 1 && cJSON_GetArraySize(cJSON_GetObjectItem(pn, "ids")) >= 1 &&
          strcmp(cJSON_GetArrayItem(cJSON_GetObjectItem(pn, "ids"), 0)->valuestring, "ml-589") ==
              0);
    int says_pn = 0;
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(code, "would_match")) says_pn |=
        strcmp(it->valuestring, "part_numbers") == 0;
    CHECK(says_pn && cJSON_IsTrue(cJSON_GetObjectItem(code, "matches_now")));
    CHECK(cJSON_IsFalse(cJSON_GetObjectItem(j, "rules_truncated")));
    printf("test_analyst_http: zero_results: jumanjii would match by typo (%g), photoplay by "
           "synonyms (%g)\n",
           num(t, "total"), num(cJSON_GetObjectItem(rules, "synonyms"), "total"));
    cJSON_Delete(j);
    j = report("/v1/analytics/queries?kind=zero_results&suggest=false", 200);
    CHECK(row_of(j, "jumanjii") && !cJSON_GetObjectItem(row_of(j, "jumanjii"), "rules"));
    cJSON_Delete(j);
    j = report("/v1/analytics/queries?kind=popular&suggest=true", 400);
    cJSON_Delete(j);
    j = report("/v1/analytics/queries?kind=zero_results&suggest=maybe", 400);
    cJSON_Delete(j);
}

static void expect_dry_error(const char *body, const char *key, int want, const char *field)
{
    kit_resp r;
    int st = call("POST", "/v1/analytics/dry-run", key, NULL, "application/json", body, &r);
    cJSON *j = cJSON_Parse(r.body ? r.body : "");
    const cJSON *f = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "error"), "field");
    int ok = st == want && (!field || (cJSON_IsString(f) && strcmp(f->valuestring, field) == 0));
    if (!ok) {
        fprintf(stderr, "dry-run %s: want %d field %s, got %d %s\n", body, want,
                field ? field : "-", st, r.body ? r.body : "");
        check_failures++;
    }
    cJSON_Delete(j);
    kit_resp_free(&r);
}

static void dry_run(void)
{
    const char *body = "{\"query\":\"jumanjii\",\"synonyms\":[[\"jumanjii\",\"jumanji\"]]}";
    kit_resp r;
    CHECK(call("POST", "/v1/analytics/dry-run", NKEY, NULL, "application/json", body, &r) == 200);
    cJSON *j = cJSON_Parse(r.body ? r.body : "");
    kit_resp_free(&r);
    REQUIRE(j);
    CHECK(num(cJSON_GetObjectItem(j, "before"), "total") == 0);
    CHECK(num(cJSON_GetObjectItem(j, "after"), "total") >= 1);
    const cJSON *first =
        cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "after"), "hits"), 0);
    CHECK(first && strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(first, "id")), "ml-2") == 0);
    const cJSON *added = cJSON_GetObjectItem(j, "added");
    CHECK(cJSON_GetArraySize(added) >= 1 &&
          strcmp(cJSON_GetArrayItem(added, 0)->valuestring, "ml-2") == 0);
    CHECK(cJSON_IsFalse(cJSON_GetObjectItem(j, "stored")));
    cJSON_Delete(j);
    /* Nothing changed: the live search still finds nothing, on both worker threads. */
    for (int i = 0; i < 4; i++) {
        CHECK(call("GET", "/v1/search?q=jumanjii", SKEY, NULL, NULL, NULL, &r) == 200 &&
              strstr(r.body, "\"total\":0,"));
        kit_resp_free(&r);
    }
    /* With the configured synonyms: "photoplay" before the proposal already finds movies; a
     * proposal adding nothing new to the page leaves "added" empty of the old hits. */
    CHECK(
        call("POST", "/v1/analytics/dry-run", NKEY, NULL, "application/json",
             "{\"query\":\"photoplay\",\"synonyms\":[[\"photoplay\",\"jumanji\"]],\"per_page\":50}",
             &r) == 200);
    j = cJSON_Parse(r.body ? r.body : "");
    kit_resp_free(&r);
    CHECK(num(cJSON_GetObjectItem(j, "before"), "total") > 0);
    int got = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(j, "added")) got |=
        strcmp(it->valuestring, "ml-2") == 0;
    CHECK(got);
    cJSON_Delete(j);
    expect_dry_error(body, SKEY, 403, NULL);
    expect_dry_error("{\"query\":\"jumanjii\"}", NKEY, 400, "synonyms");
    expect_dry_error("{\"query\":\"jumanjii\",\"synonyms\":[[\"jumanjii\"]]}", NKEY, 400,
                     "synonyms[0]");
    expect_dry_error("{\"query\":\"jumanjii\",\"synonyms\":[[\"a\",1]]}", NKEY, 400, "synonyms[0]");
    expect_dry_error("{\"synonyms\":[[\"a\",\"b\"]]}", NKEY, 400, "query");
    expect_dry_error("{\"query\":\"x\",\"synonyms\":[[\"a\",\"b\"]],\"save\":true}", NKEY, 400,
                     "save");
    expect_dry_error("{\"query\":\"x\",\"synonyms\":[[\"a\",\"b\"]],\"per_page\":0}", NKEY, 400,
                     "per_page");
    expect_dry_error("{\"query\":\"x\",\"synonyms\":[[\"a\",\"b\"]],\"typo\":\"sometimes\"}", NKEY,
                     400, "before.typo");
}

int main(void)
{
    souk_alloc_init();
    REQUIRE(sodium_init() >= 0);
    int skip = behavior_skip(BEHAVIOR_MOVIELENS, "test_analyst_http");
    if (skip)
        return skip;
    const char *base = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/souk-test-analyst-XXXXXX", base && *base ? base : "/tmp");
    REQUIRE(mkdtemp(dir));
    char keys[300], path[600], later_path[600], cmd[4096], err[512];
    snprintf(later_path, sizeof later_path, "%s/later.ndjson", dir);
    snprintf(keys, sizeof keys, "%s/keys", dir);
    REQUIRE(mkdir(keys, 0700) == 0);
    snprintf(data_dir, sizeof data_dir, "%s/index", dir);
    snprintf(cfg_path, sizeof cfg_path, "%s/server.json", dir);
    snprintf(pring, sizeof pring, "%s/pseudonym.ring", keys);
    snprintf(tring, sizeof tring, "%s/token.ring", keys);
    kit_write_ring(pring, 0600);
    kit_write_ring(tring, 0600);
    REQUIRE(souk_keyring_load(tring, NULL, &tkr, err, sizeof err) == 0);
    snprintf(path, sizeof path, "%s/movies.ndjson", dir);
    FILE *f = fopen(path, "w");
    REQUIRE(f);
    REQUIRE(movielens_catalog_write(f, 0, NULL, err, sizeof err) == 0);
    REQUIRE(fclose(f) == 0);
    /* Terminator 2 (ml-589) joins the catalog only after the zero-result searches. */
    split_catalog(path, later_path);
    snprintf(cmd, sizeof cmd, "'%s/souk-index' --data '%s' --schema '%s' catalog '%s' --quiet",
             SOUK_BIN_DIR, data_dir, movielens_schema_path(), path);
    REQUIRE(system(cmd) == 0);
    write_config(NULL);
    kit_start(&srv,
              (const char *[]){"--data", data_dir, "--config", cfg_path, "--threads", "2", NULL});
    send_events();
    zero_result_searches();
    snprintf(cmd, sizeof cmd,
             "'%s/souk-index' --data '%s' --schema '%s' catalog '%s' --quiet 2>/dev/null",
             SOUK_BIN_DIR, data_dir, movielens_schema_path(), later_path);
    REQUIRE(system(cmd) == 0);
    write_config("\"synonyms\":[[\"photoplay\",\"movie\"],[\"cartoon\",\"animation\"]]");
    kit_reload(&srv);
    usleep(500000);
    low_ctr();
    zero_results();
    dry_run();
    CHECK(kit_stop(&srv) == 0);
    souk_keyring_free(tkr);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    return check_done("test_analyst_http");
}
