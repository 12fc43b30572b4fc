/* test_segments_http.c: segment statistics (P16, GET /v1/analytics/segments) through the real
 * souk-index and souk-server on 127.0.0.1, over real behaviour data (tests/kit/behavior.c), both
 * moved so that their last event is an hour ago:
 *   - the Groceries purchase log, each member given a coarse location derived from its member
 *     number (four countries, two regions each; "LU" is small), plus one member's 10,000 extra
 *     events (event stuffing);
 *   - MovieLens views and purchases over the MovieLens catalog, whose sections are the items'
 *     categories.
 * The expected tables are computed here, independently, from the event files and the catalog:
 * for the last 366 days, per country, region and category, the distinct users, their events
 * (impressions left out) and their purchases. The server's tables must list exactly the cells
 * with at least k = 50 distinct users (the default), with exact numbers, report the rest only as
 * suppressed_rows, say thresholded; one member's 10,000 events count once in users; k below
 * analytics_k is refused; noise gives the same table twice and keeps the suppressed cells out. */
#include "check.h"
#include "kit/behavior.h"
#include "kit/http.h"
#include "souk/souk.h"

#include <cjson/cJSON.h>
#include <sodium.h>
#include <sys/stat.h>
#include <time.h>

static char dir[] = "/tmp/souk-test-segments-XXXXXX";
static char data_dir[512], cfg_path[512], pring[700], tring[700];
static const char *NKEY = "seg-analyst-key-0123", *SKEY = "seg-search-key-4567";
static kit_server srv;
static int64_t g_from, g_to;
static char g_from_day[16], g_to_day[16];

/* ------------------------------------------------------------------ the expected tables */

#define MAXCELLS 256
typedef struct cell {
    char name[100];
    char **users; /* distinct user ids (owned) */
    size_t nusers, cap;
    uint64_t events, purchases;
    char **pusers; /* distinct purchasing users */
    size_t npusers, pcap;
} cell;
static cell cells[3][MAXCELLS]; /* by country, region, category */
static int ncells[3];

static void add_user(char ***arr, size_t *n, size_t *cap, const char *u)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*arr)[i], u))
            return;
    if (*n == *cap) {
        *cap = *cap ? 2 * *cap : 64;
        *arr = realloc(*arr, *cap * sizeof **arr);
        REQUIRE(*arr);
    }
    (*arr)[(*n)++] = strdup(u);
}

static void note(int by, const char *name, const char *user, int purchase)
{
    cell *c = NULL;
    for (int i = 0; i < ncells[by]; i++)
        if (!strcmp(cells[by][i].name, name))
            c = &cells[by][i];
    if (!c) {
        REQUIRE(ncells[by] < MAXCELLS);
        c = &cells[by][ncells[by]++];
        snprintf(c->name, sizeof c->name, "%s", name);
    }
    add_user(&c->users, &c->nusers, &c->cap, user);
    c->events++;
    if (purchase) {
        c->purchases++;
        add_user(&c->pusers, &c->npusers, &c->pcap, user);
    }
}

/* movie id -> section, from the catalog lines. */
static cJSON *g_sections;

static void expect_file(const char *path)
{
    FILE *f = fopen(path, "r");
    REQUIRE(f);
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        cJSON *j = cJSON_Parse(line);
        REQUIRE(j);
        const char *user = cJSON_GetStringValue(cJSON_GetObjectItem(j, "user"));
        const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(j, "type"));
        const char *item = cJSON_GetStringValue(cJSON_GetObjectItem(j, "item"));
        const char *ts = cJSON_GetStringValue(cJSON_GetObjectItem(j, "ts"));
        struct tm tm = {0};
        REQUIRE(ts && strptime(ts, "%Y-%m-%dT%H:%M:%SZ", &tm));
        int64_t ms = (int64_t)timegm(&tm) * 1000;
        if (user && ms >= g_from && ms < g_to && strcmp(type, "impression")) {
            int purchase = !strcmp(type, "purchase");
            const cJSON *loc = cJSON_GetObjectItem(j, "loc");
            if (loc) {
                const char *country = cJSON_GetStringValue(cJSON_GetObjectItem(loc, "country"));
                const char *region = cJSON_GetStringValue(cJSON_GetObjectItem(loc, "region"));
                char rg[100];
                note(0, country, user, purchase);
                snprintf(rg, sizeof rg, "%s/%s", country, region);
                note(1, rg, user, purchase);
            }
            const char *sec =
                item ? cJSON_GetStringValue(cJSON_GetObjectItem(g_sections, item)) : NULL;
            if (sec)
                note(2, sec, user, purchase);
        }
        cJSON_Delete(j);
    }
    free(line);
    fclose(f);
}

/* ------------------------------------------------------------------ the server's tables */

static char *table(const char *by, const char *metric, const char *extra, int *status)
{
    char target[512];
    snprintf(target, sizeof target, "/v1/analytics/segments?by=%s&metric=%s&from=%s&to=%s%s", by,
             metric, g_from_day, g_to_day, extra);
    kit_resp r;
    *status = kit_call(srv.port, "GET", target, NKEY, NULL, NULL, NULL, 0, &r);
    char *b = strdup(r.body ? r.body : "");
    kit_resp_free(&r);
    return b;
}

/* The server's table of (by, metric) equals the expected one at k. */
static void compare(int by, const char *byname, const char *metric, uint32_t k)
{
    int st;
    char *body = table(byname, metric, "&limit=1000", &st);
    CHECK(st == 200);
    cJSON *j = cJSON_Parse(body);
    REQUIRE(j);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(j, "thresholded")));
    CHECK(cJSON_GetObjectItem(j, "k")->valuedouble == k);
    const cJSON *rows = cJSON_GetObjectItem(j, "rows");
    int purchases = !strcmp(metric, "purchases"), events = !strcmp(metric, "events");
    int want_rows = 0, want_supp = 0;
    for (int i = 0; i < ncells[by]; i++) {
        const cell *c = &cells[by][i];
        size_t users = purchases ? c->npusers : c->nusers;
        if (purchases && users == 0)
            continue;
        if (users < k) {
            want_supp++;
            continue;
        }
        want_rows++;
        int found = 0;
        const cJSON *row;
        cJSON_ArrayForEach(row, rows)
        {
            if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(row, "segment")), c->name))
                continue;
            found = 1;
            CHECK_EQ_U64(cJSON_GetObjectItem(row, "users")->valuedouble, users);
            if (events)
                CHECK_EQ_U64(cJSON_GetObjectItem(row, "events")->valuedouble, c->events);
            if (purchases)
                CHECK_EQ_U64(cJSON_GetObjectItem(row, "purchases")->valuedouble, c->purchases);
        }
        if (!found)
            fprintf(stderr, "  %s %s: cell %s (%zu users) missing\n", byname, metric, c->name,
                    users);
        CHECK(found);
    }
    CHECK_EQ_U64(cJSON_GetArraySize(rows), want_rows);
    CHECK_EQ_U64(cJSON_GetObjectItem(j, "suppressed_rows")->valuedouble, want_supp);
    fprintf(stderr, "  by=%s metric=%s: %d rows, %d suppressed\n", byname, metric, want_rows,
            want_supp);
    CHECK(want_rows > 0 && want_supp > 0); /* the data exercises both sides of k */
    cJSON_Delete(j);
    free(body);
}

/* ------------------------------------------------------------------ data */

/* Adds a location to each Groceries event by member number, and 10,000 events of one member. */
static void locate(const char *in, const char *out, const char *stuffed, int64_t stuff_ms)
{
    static const char *const where[4][3] = {
        {"CN", "Beijing", "Shanghai"}, {"DE", "Berlin", "Bayern"}, {"FR", "Paris", "Lyon"}};
    FILE *f = fopen(in, "r"), *g = fopen(out, "w");
    REQUIRE(f && g);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        const char *u = strstr(line, "\"user\":\"sg-gr-");
        REQUIRE(u && line[n - 2] == '}');
        long num = strtol(u + 14, NULL, 10);
        const char *country, *region;
        if (num % 200 == 0) {
            country = "LU";
            region = "Luxembourg";
        } else {
            int c = num % 2 == 0 ? 0 : (num % 5 == 1 || num % 5 == 3) ? 1 : 2;
            country = where[c][0];
            region = where[c][1 + (num / 7) % 2];
        }
        fprintf(g, "%.*s,\"loc\":{\"country\":\"%s\",\"region\":\"%s\"}}\n", (int)(n - 2), line,
                country, region);
    }
    free(line);
    char ts[32];
    time_t t = (time_t)(stuff_ms / 1000);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    for (int i = 0; i < 10000; i++)
        fprintf(g,
                "{\"user\":\"%s\",\"type\":\"view\",\"item\":\"stuffing-%d\",\"ts\":\"%s\","
                "\"loc\":{\"country\":\"DE\",\"region\":\"Berlin\"}}\n",
                stuffed, i, ts);
    fclose(f);
    REQUIRE(fclose(g) == 0);
}

int main(void)
{
    souk_alloc_init();
    REQUIRE(sodium_init() >= 0);
    int skip = behavior_skip(BEHAVIOR_GROCERIES, "test_segments_http");
    if (!skip)
        skip = behavior_skip(BEHAVIOR_MOVIELENS, "test_segments_http");
    if (skip)
        return skip;
    REQUIRE(mkdtemp(dir));
    char keys[600], path[700], gr[700], grl[700], ml[700], cmd[4096], err[512];
    snprintf(keys, sizeof keys, "%s/keys", dir);
    REQUIRE(mkdir(keys, 0700) == 0);
    snprintf(data_dir, sizeof data_dir, "%s/index", dir);
    snprintf(cfg_path, sizeof cfg_path, "%s/server.json", dir);
    snprintf(pring, sizeof pring, "%s/pseudonym.ring", keys);
    snprintf(tring, sizeof tring, "%s/token.ring", keys);
    kit_write_ring(pring, 0600);
    kit_write_ring(tring, 0600);

    /* The MovieLens catalog, and its sections for the expected tables. */
    char *cat;
    size_t catlen, nmovies;
    REQUIRE(movielens_catalog_buf(0, &cat, &catlen, &nmovies, err, sizeof err) == 0);
    snprintf(path, sizeof path, "%s/movies.ndjson", dir);
    FILE *f = fopen(path, "w");
    REQUIRE(f && fwrite(cat, 1, catlen, f) == catlen && fclose(f) == 0);
    g_sections = cJSON_CreateObject();
    for (char *l = cat, *e; l < cat + catlen; l = e + 1) {
        e = strchr(l, '\n');
        REQUIRE(e);
        *e = 0;
        cJSON *j = cJSON_Parse(l);
        REQUIRE(j);
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(j, "id"));
        const char *sec = cJSON_GetStringValue(cJSON_GetObjectItem(j, "section"));
        if (id && sec)
            cJSON_AddStringToObject(g_sections, id, sec);
        cJSON_Delete(j);
    }
    free(cat);
    snprintf(cmd, sizeof cmd, "'%s/souk-index' --data '%s' --schema '%s' catalog '%s' --quiet",
             SOUK_BIN_DIR, data_dir, movielens_schema_path(), path);
    REQUIRE(system(cmd) == 0);

    /* The events, both ending an hour ago; the period is the last 366 days up to today. */
    int64_t now = (int64_t)time(NULL) * 1000;
    behavior_opts bo = {0};
    bo.end_ms = now - 3600 * 1000;
    bo.user_prefix = "sg-";
    behavior_stats bs;
    snprintf(gr, sizeof gr, "%s/groceries.ndjson", dir);
    snprintf(grl, sizeof grl, "%s/groceries-loc.ndjson", dir);
    snprintf(ml, sizeof ml, "%s/movielens.ndjson", dir);
    REQUIRE(behavior_events_file(BEHAVIOR_GROCERIES, &bo, gr, &bs, err, sizeof err) == 0);
    char stuffed[200];
    snprintf(stuffed, sizeof stuffed, "%s", bs.heaviest_id);
    locate(gr, grl, stuffed, bs.last_ms - 60000);
    REQUIRE(behavior_events_file(BEHAVIOR_MOVIELENS, &bo, ml, &bs, err, sizeof err) == 0);
    int64_t day = 86400000LL;
    g_to = now / day * day + day;
    g_from = g_to - 366 * day;
    time_t a = (time_t)(g_from / 1000), b = (time_t)(g_to / 1000 - 1);
    strftime(g_from_day, sizeof g_from_day, "%Y-%m-%d", gmtime(&a));
    strftime(g_to_day, sizeof g_to_day, "%Y-%m-%d", gmtime(&b));
    const char *files[] = {grl, ml};
    for (int i = 0; i < 2; i++) {
        snprintf(cmd, sizeof cmd,
                 "'%s/souk-index' --data '%s' events '%s' --pseudonym-key '%s' "
                 "--retention-events-days 0 --consent-default personalization,location >/dev/null",
                 SOUK_BIN_DIR, data_dir, files[i], pring);
        REQUIRE(system(cmd) == 0);
        expect_file(files[i]);
    }

    char hs[80], hn[80];
    snprintf(hs, sizeof hs, "%s", kit_hash_key(SKEY));
    snprintf(hn, sizeof hn, "%s", kit_hash_key(NKEY));
    f = fopen(cfg_path, "w");
    REQUIRE(f);
    fprintf(f,
            "{\"search_keys\":[\"%s\"],\"analyst_keys\":[\"%s\"],"
            "\"pseudonym_key_file\":\"%s\",\"token_key_file\":\"%s\","
            "\"retention\":{\"events_days\":0},\"policy_version\":2,"
            "\"consent_default\":{\"personalization\":true,\"location\":true}}\n",
            hs, hn, pring, tring);
    fclose(f);
    const char *args[] = {"--data", data_dir, "--config", cfg_path, "--threads", "2", NULL};
    kit_start(&srv, args);

    compare(0, "country", "users", 50);
    compare(0, "country", "events", 50);
    compare(1, "region", "users", 50);
    compare(1, "region", "purchases", 50);
    compare(2, "category", "users", 50);
    compare(2, "category", "events", 50);

    /* One member's 10,000 events: in DE's events, once in its users. */
    for (int i = 0; i < ncells[0]; i++)
        if (!strcmp(cells[0][i].name, "DE"))
            CHECK(cells[0][i].events > 10000);

    /* Errors: k below analytics_k, a bad by, a search key. */
    int st;
    char *bd = table("country", "users", "&k=49", &st);
    CHECK(st == 400 && strstr(bd, "k_too_small"));
    free(bd);
    bd = table("planet", "users", "", &st);
    CHECK(st == 400 && strstr(bd, "\"by\""));
    free(bd);
    kit_resp r;
    CHECK(kit_call(srv.port, "GET", "/v1/analytics/segments?by=country", SKEY, NULL, NULL, NULL, 0,
                   &r) == 403);
    kit_resp_free(&r);

    /* Noise: the same table twice; no suppressed cell appears; some number moved. */
    char *n1 = table("region", "events", "&noise=true&limit=1000", &st);
    CHECK(st == 200);
    char *n2 = table("region", "events", "&noise=true&limit=1000", &st);
    const char *p1 = strstr(n1, "\"by\""), *p2 = strstr(n2, "\"by\"");
    CHECK(p1 && p2 && !strcmp(p1, p2));
    char *exact = table("region", "events", "&limit=1000", &st);
    cJSON *jn = cJSON_Parse(n1), *je = cJSON_Parse(exact);
    REQUIRE(jn && je);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(jn, "rows")) ==
          cJSON_GetArraySize(cJSON_GetObjectItem(je, "rows")));
    CHECK(cJSON_GetObjectItem(jn, "events_cap") != NULL);
    int moved = 0;
    const cJSON *row;
    cJSON_ArrayForEach(row, cJSON_GetObjectItem(jn, "rows"))
    {
        const char *seg = cJSON_GetStringValue(cJSON_GetObjectItem(row, "segment"));
        for (int i = 0; i < ncells[1]; i++)
            if (!strcmp(cells[1][i].name, seg)) {
                CHECK(cells[1][i].nusers >= 50);
                moved |= cJSON_GetObjectItem(row, "users")->valuedouble != cells[1][i].nusers;
            }
    }
    CHECK(moved);
    cJSON_Delete(jn);
    cJSON_Delete(je);
    free(n1);
    free(n2);
    free(exact);

    CHECK(kit_stop(&srv) == 0);
    cJSON_Delete(g_sections);
    if (!check_failures) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        CHECK(system(cmd) == 0);
    }
    return check_done("test_segments_http");
}
