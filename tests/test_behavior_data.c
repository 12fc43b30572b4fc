/* test_behavior_data.c: the test kit's behaviour-data readers (tests/kit/behavior.c) on the
 * real files, so that a change to the data, its path or the mapping is caught: Groceries
 * (../shared/data) and MovieLens (data/test-data/movielens, made by scripts/test-data.sh). The
 * counts are the data sets' documented ones (../shared/data/README.md), the others were counted
 * on the files with awk. */
#include "check.h"
#include "kit/behavior.h"
#include "souk/events.h"
#include "souk/index.h"
#include "souk/search.h"
#include "souk/souk.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <string.h>

/* Every line is one JSON object with exactly the event fields, user and session carrying the
 * prefix, ts in RFC 3339 UTC. Returns the line count. */
static size_t check_lines(const char *buf, size_t len, const char *prefix)
{
    size_t n = 0, bad = 0;
    for (const char *p = buf; p < buf + len;) {
        const char *e = memchr(p, '\n', (size_t)(buf + len - p));
        REQUIRE(e);
        cJSON *j = cJSON_ParseWithLength(p, (size_t)(e - p));
        const cJSON *u = cJSON_GetObjectItemCaseSensitive(j, "user");
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "session");
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "type");
        const cJSON *i = cJSON_GetObjectItemCaseSensitive(j, "item");
        const cJSON *ts = cJSON_GetObjectItemCaseSensitive(j, "ts");
        int ok = j && cJSON_GetArraySize(j) == 5 && cJSON_IsString(u) && cJSON_IsString(s) &&
                 cJSON_IsString(t) && cJSON_IsString(i) && cJSON_IsString(ts) &&
                 strncmp(u->valuestring, prefix, strlen(prefix)) == 0 &&
                 strncmp(s->valuestring, u->valuestring, strlen(u->valuestring)) == 0 &&
                 s->valuestring[strlen(u->valuestring)] == '@' &&
                 (strcmp(t->valuestring, "view") == 0 || strcmp(t->valuestring, "purchase") == 0) &&
                 i->valuestring[0] && strlen(ts->valuestring) == 20 && ts->valuestring[10] == 'T' &&
                 ts->valuestring[19] == 'Z' &&
                 /* the session's day is the event's day (a MovieLens purchase one second after
                  * its view at 23:59:59 is the exception, none in the data) */
                 strncmp(s->valuestring + strlen(u->valuestring) + 1, ts->valuestring, 10) == 0;
        if (!ok && bad++ < 3)
            fprintf(stderr, "bad line: %.*s\n", (int)(e - p), p);
        cJSON_Delete(j);
        /* And the store's own parser takes it, every field known. */
        souk_event ev;
        unsigned dropped = 0;
        char err[256];
        if ((souk_event_parse(p, (size_t)(e - p), &ev, &dropped, err, sizeof err) != 0 ||
             dropped != 0 || ev.ts_ms <= 0 ||
             (ev.type != SOUK_EV_VIEW && ev.type != SOUK_EV_PURCHASE)) &&
            bad++ < 3)
            fprintf(stderr, "souk_event_parse: %s: %.*s\n", err, (int)(e - p), p);
        n++;
        p = e + 1;
    }
    CHECK_EQ_U64(bad, 0);
    return n;
}

static void test_groceries(void)
{
    char err[512];
    behavior_stats st;
    char *buf = NULL;
    size_t len = 0;
    REQUIRE(behavior_events_buf(BEHAVIOR_GROCERIES, NULL, &buf, &len, &st, err, sizeof err) == 0);
    CHECK_EQ_U64(st.records, 38765);
    CHECK_EQ_U64(st.events, 38765);
    CHECK_EQ_U64(st.purchases, 38765);
    CHECK_EQ_U64(st.views, 0);
    CHECK_EQ_U64(st.users, 3898);
    CHECK_EQ_U64(st.sessions, 14963);
    CHECK_EQ_U64(st.items, 167);
    CHECK(strcmp(st.heaviest_user, "3180") == 0);
    CHECK(strcmp(st.heaviest_id, "gr-3180") == 0);
    CHECK_EQ_U64(st.heaviest_events, 36);
    CHECK_EQ_U64(check_lines(buf, len, "gr-"), 38765);
    /* The first line of the file: 1808,21-07-2015,tropical fruit (data line 1: 12:00:01). */
    const char *first =
        "{\"user\":\"gr-1808\",\"session\":\"gr-1808@2015-07-21\",\"type\":"
        "\"purchase\",\"item\":\"tropical-fruit\",\"ts\":\"2015-07-21T12:00:01Z\"}\n";
    CHECK(strncmp(buf, first, strlen(first)) == 0);
    CHECK(strstr(buf, "\"item\":\"rolls-buns\""));
    CHECK(strstr(buf, "\"item\":\"uht-milk\""));
    CHECK(strstr(buf, "\"item\":\"liquor-appetizer\""));
    CHECK(strstr(buf, "\"item\":\"cream-cheese\"")); /* "cream cheese " */
    CHECK(strstr(buf, "\"ts\":\"2014-01-01T"));
    CHECK(strstr(buf, "\"ts\":\"2015-12-30T"));
    CHECK(!strstr(buf, "\"ts\":\"2013-") && !strstr(buf, "\"ts\":\"2016-"));

    /* The same bytes through a file; limits; one member; a prefix. */
    char path[] = "/tmp/souk-test-behavior.XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    close(fd);
    behavior_stats fst;
    REQUIRE(behavior_events_file(BEHAVIOR_GROCERIES, NULL, path, &fst, err, sizeof err) == 0);
    FILE *f = fopen(path, "r");
    REQUIRE(f);
    char *fb = malloc(len + 2);
    REQUIRE(fb);
    CHECK_EQ_U64(fread(fb, 1, len + 1, f), len);
    fclose(f);
    unlink(path);
    CHECK(memcmp(fb, buf, len) == 0);
    free(fb);

    behavior_opts o = {.user_prefix = "zq7marker-", .only_user = "3180"};
    char *b2;
    size_t l2;
    REQUIRE(behavior_events_buf(BEHAVIOR_GROCERIES, &o, &b2, &l2, &st, err, sizeof err) == 0);
    CHECK_EQ_U64(st.records, 36);
    CHECK_EQ_U64(st.users, 1);
    CHECK(strcmp(st.heaviest_id, "zq7marker-gr-3180") == 0);
    CHECK_EQ_U64(check_lines(b2, l2, "zq7marker-gr-3180"), 36);
    free(b2);

    o = (behavior_opts){.max_records = 1000, .max_events = 700};
    REQUIRE(behavior_events_buf(BEHAVIOR_GROCERIES, &o, &b2, &l2, &st, err, sizeof err) == 0);
    CHECK_EQ_U64(st.records, 1000);
    CHECK_EQ_U64(st.events, 700);
    CHECK(l2 < len && memcmp(b2, buf, l2) == 0); /* a prefix of the whole stream */
    free(b2);
    free(buf);
}

/* The catalog indexes with its schema, and a title search finds its movie. */
static void index_catalog(void)
{
    char dir[] = "/tmp/souk-test-behavior.XXXXXX", nd[600], data[600], cmd[4096], err[512];
    REQUIRE(mkdtemp(dir));
    snprintf(nd, sizeof nd, "%s/movies.ndjson", dir);
    snprintf(data, sizeof data, "%s/index", dir);
    FILE *f = fopen(nd, "w");
    REQUIRE(f);
    size_t n = 0;
    REQUIRE(movielens_catalog_write(f, 0, &n, err, sizeof err) == 0);
    REQUIRE(fclose(f) == 0);
    snprintf(cmd, sizeof cmd, "'%s/souk-index' --data '%s' --schema '%s' catalog '%s' >/dev/null",
             SOUK_BIN_DIR, data, movielens_schema_path(), nd);
    REQUIRE(system(cmd) == 0);
    souk_index *ix;
    souk_searcher *s;
    REQUIRE(souk_index_open(data, NULL, SOUK_INDEX_RDONLY, &ix, err, sizeof err) == 0);
    REQUIRE(souk_searcher_new(ix, &s) == 0);
    souk_reader *r = souk_searcher_reader(s);
    uint32_t docid;
    CHECK(souk_reader_docid(r, "ml-1029", 7, &docid) == 0);
    CHECK(souk_reader_docid(r, "ml-31", 5, &docid) == 0);
    souk_search_opts o = {.k = 3};
    souk_hit hits[3];
    size_t nh = 0;
    CHECK(souk_search(s, "dumbo", 5, &o, hits, &nh, NULL, err, sizeof err) == 0);
    CHECK(nh >= 1);
    const char *id, *json;
    size_t il, jl;
    CHECK(nh >= 1 && souk_reader_doc(r, hits[0].docid, &id, &il, &json, &jl) == 0 && il == 7 &&
          memcmp(id, "ml-1029", 7) == 0);
    souk_searcher_free(s);
    souk_index_close(ix);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

static void test_movielens(void)
{
    char err[512];
    behavior_stats st;
    char *buf = NULL;
    size_t len = 0;
    REQUIRE(behavior_events_buf(BEHAVIOR_MOVIELENS, NULL, &buf, &len, &st, err, sizeof err) == 0);
    CHECK_EQ_U64(st.records, 100004);
    CHECK_EQ_U64(st.views, 100004);
    CHECK_EQ_U64(st.purchases, 51568); /* ratings >= 4 */
    CHECK_EQ_U64(st.events, 100004 + 51568);
    CHECK_EQ_U64(st.users, 671);
    CHECK_EQ_U64(st.items, 9066);
    CHECK(strcmp(st.heaviest_user, "547") == 0);
    CHECK_EQ_U64(st.heaviest_events, 3422);
    CHECK_EQ_U64(st.first_ms, 789652009LL * 1000);
    CHECK(st.last_ms >= 1476640644LL * 1000 && st.last_ms <= 1476640645LL * 1000);
    CHECK(st.sessions > st.users && st.sessions < st.records);
    CHECK_EQ_U64(check_lines(buf, len, "ml-u"), 100004 + 51568);
    /* ratings.tsv starts "1 31 2.5 1260759144": a view only; "1 1129 2.0", "1 1172 4.0 ...". */
    const char *first = "{\"user\":\"ml-u1\",\"session\":\"ml-u1@2009-12-14\",\"type\":\"view\","
                        "\"item\":\"ml-31\",\"ts\":\"2009-12-14T02:52:24Z\"}\n";
    CHECK(strncmp(buf, first, strlen(first)) == 0);
    free(buf);

    /* The heaviest user alone, moved to the present. */
    int64_t end = 1780000000123LL;
    behavior_opts o = {.user_prefix = "m4rk-", .only_user = "547", .end_ms = end};
    REQUIRE(behavior_events_buf(BEHAVIOR_MOVIELENS, &o, &buf, &len, &st, err, sizeof err) == 0);
    CHECK_EQ_U64(st.records, 2391);
    CHECK_EQ_U64(st.events, 3422);
    CHECK(strcmp(st.heaviest_id, "m4rk-ml-u547") == 0);
    CHECK(st.last_ms <= end && st.last_ms > end - 86400000LL);
    CHECK(st.shift_ms % 86400000LL == 0);
    CHECK_EQ_U64(check_lines(buf, len, "m4rk-ml-u547"), 3422);
    free(buf);

    /* The catalog. */
    size_t n = 0;
    REQUIRE(movielens_catalog_buf(0, &buf, &len, &n, err, sizeof err) == 0);
    CHECK_EQ_U64(n, 9066);
    size_t lines = 0, with_title = 0, with_tags = 0;
    for (char *p = buf; p < buf + len;) {
        char *e = strchr(p, '\n');
        REQUIRE(e);
        cJSON *j = cJSON_ParseWithLength(p, (size_t)(e - p));
        CHECK(j && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "id")));
        with_title += cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "title"));
        with_tags += cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, "tags"));
        cJSON_Delete(j);
        lines++;
        p = e + 1;
    }
    CHECK_EQ_U64(lines, 9066);
    CHECK(with_title >= 9060);
    CHECK_EQ_U64(with_tags, 9066 - 17); /* 17 "(no genres listed)" */
    CHECK(strstr(buf,
                 "{\"id\":\"ml-1029\",\"title\":\"Dumbo\",\"year\":1941,\"section\":\"animation\","
                 "\"tags\":[\"animation\",\"children\",\"drama\",\"musical\"]}\n"));
    CHECK(strstr(buf, "Am\xc3\xa9lie")); /* UTF-8, not R's "<U+00E9>" */
    free(buf);
    index_catalog();
    REQUIRE(movielens_catalog_buf(10, &buf, &len, &n, err, sizeof err) == 0);
    CHECK_EQ_U64(n, 10);
    free(buf);
    CHECK(access(movielens_schema_path(), R_OK) == 0);
}

int main(void)
{
    int ran = 0;
    char why[512];
    if (behavior_present(BEHAVIOR_GROCERIES, why, sizeof why)) {
        test_groceries();
        ran++;
    } else {
        skip_part(why);
    }
    if (behavior_present(BEHAVIOR_MOVIELENS, why, sizeof why)) {
        test_movielens();
        ran++;
    } else {
        skip_part(why);
    }
    if (!ran)
        return TEST_SKIP;
    return check_done("test_behavior_data");
}
