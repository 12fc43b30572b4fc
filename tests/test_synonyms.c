/* test_synonyms.c: synonyms and stop words through the real souk-server (issue 16, item 3),
 * over HTTP on an index of the first 3,000 records of the Debian catalog plus four stream items:
 *
 *   zqx-ssd         "Zqxacme SSD 1TB"                  zqx-tv          "Zqxview TV 55 inch"
 *   zqx-soliddrive  "Zqxbolt solid state drive 2TB"    zqx-television  "Zqxpix television 42 inch"
 *
 * The groups ssd = solid state drive, tv = television, vcs = version control system and the
 * stop words the, of, a, for come with a SIGHUP reload of the server's configuration. Each
 * group is checked in both directions (one word finds the expression, the expression finds the
 * word), at the start, middle and end of a query, under operator=or, operator=and, a profile
 * that sets "and", prefix=true (the partial last word completes an expression) and typo=true,
 * inside a query with a field filter; a misspelt word of an expression reaches its synonyms with
 * typo=true; a synonym match scores as the words it is (a typo's at 0.3); stop words are
 * dropped (also under AND and prefix search) unless the query has nothing else; synonyms count
 * toward limits.max_query_terms.
 *
 * SOUK_TEST_SERVER names another souk-server binary (to show that an older build fails). */
#include "check.h"
#include "kit/fixture.h"
#include "kit/http.h"
#include "souk/souk.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <time.h>

static char dir[] = "/tmp/souk-test-synonyms-XXXXXX";
static char data_dir[512], cfg_path[512];
static const char *server_bin = SOUK_BIN_DIR "/souk-server";

/* ------------------------------------------------------------------ the server process */

static void start_server(kit_server *s)
{
    kit_start_bin(
        s, server_bin,
        (const char *[]){"--data", data_dir, "--config", cfg_path, "--threads", "2", NULL});
}

/* No keys: development mode (said explicitly). extra: more members, or NULL. */
static void write_config(const char *extra)
{
    FILE *f = fopen(cfg_path, "w");
    REQUIRE(f);
    fprintf(f, "{\"development\":true,\"profiles\":{\"strict\":{\"operator\":\"and\"}}%s%s}\n",
            extra ? "," : "", extra ? extra : "");
    fclose(f);
}

static const char *LEXICON =
    "\"synonyms\":[[\"ssd\",\"solid state drive\"],[\"tv\",\"television\"],"
    "[\"vcs\",\"version control system\"]],\"stop_words\":[\"the\",\"of\",\"a\",\"for\"]";

/* ------------------------------------------------------------------ searches */

typedef struct result {
    int status;
    int total;
    int n;
    char ids[50][128];
    double scores[50];
    char *body;
} result;

/* Searches q (form-encoded by the caller: '+' for spaces) with more parameters (or "") and
 * 50 hits a page. */
static void search(int port, const char *q, const char *params, result *r)
{
    char target[2048];
    snprintf(target, sizeof target, "/v1/search?q=%s&per_page=50%s%s", q, params[0] ? "&" : "",
             params);
    memset(r, 0, sizeof *r);
    kit_resp resp;
    r->status = kit_get_close(port, target, NULL, 10000, &resp);
    r->body = resp.body;
    cJSON *j = cJSON_Parse(r->body ? r->body : "");
    const cJSON *t = cJSON_GetObjectItem(j, "total"), *h;
    r->total = cJSON_IsNumber(t) ? t->valueint : -1;
    cJSON_ArrayForEach(h, cJSON_GetObjectItem(j, "hits"))
    {
        if (r->n < 50) {
            snprintf(r->ids[r->n], 128, "%s", cJSON_GetStringValue(cJSON_GetObjectItem(h, "id")));
            r->scores[r->n] = cJSON_GetObjectItem(h, "score")->valuedouble;
            r->n++;
        }
    }
    cJSON_Delete(j);
}

/* The rank of id in r (0 first), or -1. */
static int rank_of(const result *r, const char *id)
{
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->ids[i], id) == 0)
            return i;
    return -1;
}

static int failures_seen;

/* Checks that q (with params) finds every id of want and none of nowant (NULL-terminated). */
static void expect(int port, const char *q, const char *params, const char *const *want,
                   const char *const *nowant)
{
    result r;
    search(port, q, params, &r);
    int ok = r.status == 200;
    for (const char *const *w = want; w && *w; w++)
        ok &= rank_of(&r, *w) >= 0;
    for (const char *const *w = nowant; w && *w; w++)
        ok &= rank_of(&r, *w) < 0;
    if (!ok) {
        fprintf(stderr, "  q=%s %s: status %d, %d hits:", q, params, r.status, r.n);
        for (int i = 0; i < r.n && i < 8; i++)
            fprintf(stderr, " %s", r.ids[i]);
        fprintf(stderr, "\n");
        failures_seen++;
    }
    CHECK(ok);
    free(r.body);
}

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

/* ------------------------------------------------------------------ the checks */

static void test_multiword_to_word(int port)
{
    /* The expression finds the one-word synonym, under every operator. */
    const char *ops[] = {"",
                         "operator=and",
                         "profile=strict",
                         "prefix=true",
                         "operator=and&prefix=true",
                         "profile=strict&prefix=true",
                         "typo=true",
                         "operator=and&typo=true",
                         "operator=and&typo=true&prefix=true"};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        expect(port, "solid+state+drive", ops[i], L("zqx-ssd", "zqx-soliddrive"), NULL);
        /* At the end, in the middle and at the start of a query: under AND the expression and
         * its synonym make one required part. */
        expect(port, "zqxacme+solid+state+drive", ops[i], L("zqx-ssd"), NULL);
        expect(port, "zqxacme+solid+state+drive+1tb", ops[i], L("zqx-ssd"), NULL);
        expect(port, "solid+state+drive+1tb", ops[i], L("zqx-ssd"), NULL);
        expect(port, "zqxpix+television", ops[i], L("zqx-television"), NULL);
        expect(port, "zqxview+television", ops[i], L("zqx-tv"), NULL);
        if (strstr(ops[i], "and") || strstr(ops[i], "strict")) {
            expect(port, "solid+state+drive+1tb", ops[i], L("zqx-ssd"), L("zqx-soliddrive"));
            expect(port, "zqxview+television", ops[i], L("zqx-tv"), L("zqx-television"));
        }
    }
    /* The partial last word of prefix search completes an expression. */
    expect(port, "solid+state+dri", "prefix=true", L("zqx-ssd", "zqx-soliddrive"), NULL);
    expect(port, "solid+state+dri", "prefix=true&operator=and", L("zqx-ssd", "zqx-soliddrive"),
           NULL);
    expect(port, "zqxview+televi", "prefix=true&operator=and", L("zqx-tv"), L("zqx-television"));
    /* Inside a query with a field filter. */
    expect(port, "section:zqxshop+solid+state+drive", "operator=and",
           L("zqx-ssd", "zqx-soliddrive"), L("zqx-tv"));
    /* A negation beside them. */
    expect(port, "solid+state+drive+-zqxbolt", "operator=and", L("zqx-ssd"), L("zqx-soliddrive"));
    /* Highlighting marks the synonym that matched. */
    result r;
    search(port, "solid+state+drive", "operator=and&highlight=true&filter=section+%3D+zqxshop", &r);
    CHECK(r.status == 200 && r.body && strstr(r.body, "Zqxacme <em>SSD</em>"));
    free(r.body);
}

static void test_word_to_multiword(int port)
{
    const char *ops[] = {"",
                         "operator=and",
                         "profile=strict",
                         "prefix=true",
                         "operator=and&prefix=true",
                         "typo=true",
                         "operator=and&typo=true"};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        expect(port, "ssd", ops[i], L("zqx-ssd", "zqx-soliddrive"), NULL);
        expect(port, "2tb+ssd", ops[i], L("zqx-soliddrive"), NULL);
        expect(port, "zqxbolt+ssd+2tb", ops[i], L("zqx-soliddrive"), NULL);
        expect(port, "zqxpix+tv", ops[i], L("zqx-television"), NULL);
        if (strstr(ops[i], "and") || strstr(ops[i], "strict"))
            expect(port, "2tb+ssd", ops[i], L("zqx-soliddrive"), L("zqx-ssd"));
    }
    expect(port, "section:zqxshop+ssd", "operator=and", L("zqx-ssd", "zqx-soliddrive"), NULL);
    /* The whole match set: the two SSD items of the stream, through either expression. */
    result a, b;
    search(port, "ssd", "filter=section+%3D+zqxshop", &a);
    search(port, "solid+state+drive", "filter=section+%3D+zqxshop&operator=and", &b);
    CHECK(a.status == 200 && a.total == 2);
    CHECK(b.status == 200 && b.total == 2);
    free(a.body);
    free(b.body);
}

/* A synonym match scores as the words it is: zqx-ssd found through "solid state drive" under
 * AND scores what "ssd" gives it (its only matching term), and under OR the expression's
 * words add nothing it lacks. */
static void test_scores(int port)
{
    result w, e, o;
    search(port, "ssd", "", &w);
    search(port, "solid+state+drive", "operator=and", &e);
    search(port, "solid+state+drive", "", &o);
    int iw = rank_of(&w, "zqx-ssd"), ie = rank_of(&e, "zqx-ssd"), io = rank_of(&o, "zqx-ssd");
    CHECK(iw >= 0 && ie >= 0 && io >= 0);
    if (iw >= 0 && ie >= 0 && io >= 0) {
        CHECK(fabs(w.scores[iw] - e.scores[ie]) <= 1e-9 * w.scores[iw]);
        CHECK(fabs(w.scores[iw] - o.scores[io]) <= 1e-9 * w.scores[iw]);
        printf("test_synonyms: zqx-ssd scores %.6f for \"ssd\", %.6f for \"solid state drive\" "
               "(AND), %.6f (OR)\n",
               w.scores[iw], e.scores[ie], o.scores[io]);
    }
    free(w.body);
    free(e.body);
    free(o.body);
}

/* With typo=true a misspelt word of an expression (5+ letters, one edit) still reaches the
 * group's other expressions, at the typo weight: zqx-tv, which has "tv" alone, scores for
 * "televsion" 0.3 times what "tv" gives it. */
static void test_typos(int port)
{
    expect(port, "televsion", "typo=true", L("zqx-tv", "zqx-television"), NULL);
    expect(port, "televsion", "", NULL, L("zqx-tv", "zqx-television"));
    expect(port, "zqxview+televsion", "typo=true&operator=and", L("zqx-tv"), L("zqx-television"));
    expect(port, "solid+state+drave+1tb", "typo=true&operator=and", L("zqx-ssd"),
           L("zqx-soliddrive"));
    expect(port, "solid+state+drave", "typo=true&prefix=true&operator=and",
           L("zqx-ssd", "zqx-soliddrive"), NULL);
    result t, f;
    search(port, "tv", "", &t);
    search(port, "televsion", "typo=true", &f);
    int it = rank_of(&t, "zqx-tv"), jf = rank_of(&f, "zqx-tv");
    CHECK(it >= 0 && jf >= 0);
    if (it >= 0 && jf >= 0) {
        CHECK(fabs(0.3 * t.scores[it] - f.scores[jf]) <= 1e-9 * t.scores[it]);
        printf("test_synonyms: zqx-tv scores %.6f for \"tv\", %.6f for \"televsion\" with "
               "typos\n",
               t.scores[it], f.scores[jf]);
    }
    free(t.body);
    free(f.body);
}

static void same_hits(int port, const char *q1, const char *q2, const char *params)
{
    result a, b;
    search(port, q1, params, &a);
    search(port, q2, params, &b);
    int same = a.status == 200 && b.status == 200 && a.n == b.n && a.total == b.total && a.n > 0;
    for (int i = 0; same && i < a.n; i++)
        same = strcmp(a.ids[i], b.ids[i]) == 0 && a.scores[i] == b.scores[i];
    if (!same)
        fprintf(stderr, "  %s and %s (%s) differ: %d/%d hits, total %d/%d\n", q1, q2, params, a.n,
                b.n, a.total, b.total);
    CHECK(same);
    free(a.body);
    free(b.body);
}

static void test_stop_words(int port)
{
    /* Dropped wherever they are, under every operator, also with prefix search. */
    same_hits(port, "the+ssd", "ssd", "");
    same_hits(port, "the+ssd", "ssd", "operator=and");
    same_hits(port, "drive+for+the+zqxacme", "drive+zqxacme", "");
    same_hits(port, "a+version+of+the+editor", "version+editor", "operator=and");
    same_hits(port, "the+zqxacm", "zqxacm", "prefix=true&operator=and");
    same_hits(port, "the+editor+of+a+vcs", "editor+vcs", "prefix=true");
    expect(port, "the+zqxacme", "operator=and", L("zqx-ssd"), NULL);
    expect(port, "the+zqxacm", "operator=and&prefix=true", L("zqx-ssd"), NULL);
    expect(port, "section:zqxshop+the+ssd", "operator=and", L("zqx-ssd"), NULL);
    /* Only stop words: kept, so the query still finds what has them. */
    result r;
    search(port, "the", "", &r);
    CHECK(r.status == 200 && r.n > 0);
    free(r.body);
    search(port, "the+of", "operator=and", &r);
    CHECK(r.status == 200 && r.n > 0);
    free(r.body);
    /* In a phrase a stop word stays: "state of the art" is not "state art". */
    result p, q;
    search(port, "%22state+of+the+art%22", "", &p);
    search(port, "%22state+art%22", "", &q);
    CHECK(p.status == 200 && p.total > 0 && q.total != p.total);
    free(p.body);
    free(q.body);
}

int main(void)
{
    souk_alloc_init();
    const char *src = debian_catalog();
    if (!src)
        return TEST_SKIP;
    if (getenv("SOUK_TEST_SERVER"))
        server_bin = getenv("SOUK_TEST_SERVER");
    REQUIRE(mkdtemp(dir));
    snprintf(data_dir, sizeof data_dir, "%s/index", dir);
    snprintf(cfg_path, sizeof cfg_path, "%s/server.json", dir);
    char stream[600], cmd[8192];
    /* One stream: the first 3,000 records, then the stream items. */
    snprintf(stream, sizeof stream, "%s/records.ndjson", dir);
    REQUIRE(kit_debian_records(stream, 3000) == 0);
    FILE *f = fopen(stream, "a");
    REQUIRE(f);
    fputs("{\"id\":\"zqx-ssd\",\"title\":\"Zqxacme SSD 1TB\",\"description\":\"Portable SSD, "
          "1TB, USB-C.\",\"section\":\"zqxshop\"}\n"
          "{\"id\":\"zqx-soliddrive\",\"title\":\"Zqxbolt solid state drive 2TB\","
          "\"description\":\"Internal solid state drive with 2TB.\",\"section\":\"zqxshop\"}\n"
          "{\"id\":\"zqx-tv\",\"title\":\"Zqxview TV 55 inch\",\"description\":\"Smart TV.\","
          "\"section\":\"zqxshop\"}\n"
          "{\"id\":\"zqx-television\",\"title\":\"Zqxpix television 42 inch\","
          "\"description\":\"LED television.\",\"section\":\"zqxshop\"}\n",
          f);
    fclose(f);
    snprintf(cmd, sizeof cmd,
             "'%s/souk-index' --data '%s' --schema '%s/indexer/schemas/debian-packages.json' "
             "catalog - < '%s' >/dev/null",
             SOUK_BIN_DIR, data_dir, SOUK_SOURCE_DIR, stream);
    REQUIRE(system(cmd) == 0);

    write_config(NULL);
    kit_server s;
    start_server(&s);
    /* The premise: without the groups, AND does not cross from one expression to the other. */
    expect(s.port, "solid+state+drive", "operator=and", L("zqx-soliddrive"), L("zqx-ssd"));
    expect(s.port, "ssd", "", L("zqx-ssd"), L("zqx-soliddrive"));
    /* The groups and stop words arrive with a reload. */
    write_config(LEXICON);
    kit_reload(&s);
    for (int i = 0; i < 100; i++) {
        result r;
        search(s.port, "ssd", "", &r);
        int ready = rank_of(&r, "zqx-soliddrive") >= 0;
        free(r.body);
        if (ready)
            break;
        usleep(50000);
    }
    failures_seen = 0;
    test_multiword_to_word(s.port);
    test_word_to_multiword(s.port);
    test_scores(s.port);
    test_typos(s.port);
    test_stop_words(s.port);
    printf("test_synonyms: %d searches did not find what they should\n", failures_seen);

    /* Synonyms count toward limits.max_query_terms: "ssd" is 4 terms (ssd, and the phrase's
     * solid, state, drive), over a budget of 3. */
    write_config(
        "\"synonyms\":[[\"ssd\",\"solid state drive\"]],\"limits\":{\"max_query_terms\":3}");
    kit_reload(&s);
    usleep(300000);
    result r;
    search(s.port, "ssd", "", &r);
    CHECK(r.status == 400 && r.body && strstr(r.body, "query_too_complex"));
    free(r.body);
    search(s.port, "zqxacme+ssd", "operator=and", &r);
    CHECK(r.status == 400 && r.body && strstr(r.body, "query_too_complex"));
    free(r.body);
    search(s.port, "drive", "", &r);
    CHECK(r.status == 200 && r.n > 0);
    free(r.body);
    CHECK(kit_stop(&s) == 0);

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    return check_done("test_synonyms");
}
