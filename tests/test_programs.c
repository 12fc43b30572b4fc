/* test_programs.c: the command-line programs as a user runs them. souk-search's hits, scores and
 * explanations equal the engine's own (souk_search) for OR, AND and --k; `souk-index stats
 * --detail` agrees with the reader's statistics; `--rejects FILE` gets each rejected line with
 * its line number and reason; a rerun resumes after the last commit and `--from-start` replays
 * everything as unchanged; usage errors exit 2 with the usage text and a missing index exits 1
 * with a message. */
#include "check.h"
#include "kit/fixture.h"
#include "souk/index.h"
#include "souk/search.h"
#include "souk/souk.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <sys/wait.h>

static char dir[] = "/tmp/souk-test-programs-XXXXXX";
static char data[600], stream[600];

#define PROFILE_OPTS                                                                               \
    "--k1 1.3 --b 0.6 --field title=3 --proximity 0.5 --window 4 "                                 \
    "--boost installed_size_kb:log1p:0.2"

static void test_search_program(void)
{
    char err[512];
    souk_index *ix;
    souk_searcher *s;
    REQUIRE(souk_index_open(data, NULL, SOUK_INDEX_RDONLY, &ix, err, sizeof err) == 0);
    REQUIRE(souk_searcher_new(ix, &s) == 0);
    static const struct {
        const char *q;
        const char *opts;
        unsigned flags;
        unsigned k;
        int profile; /* ranked with the profile below */
    } cases[] = {
        {"text editor", "--k 7", 0, 7, 0},
        {"text editor", "--k 5 --and", SOUK_QP_DEFAULT_AND, 5, 0},
        {"\"command line\" tool", "", 0, 10, 0},
        {"library -python", "--k 20 --no-prune", 0, 20, 0},
        {"text editor", PROFILE_OPTS " --k 8", 0, 8, 1},
        {"command line tool", PROFILE_OPTS " --k 10 --and", SOUK_QP_DEFAULT_AND, 10, 1},
    };
    /* The profile of PROFILE_OPTS, as the engine takes it. */
    const souk_schema *sc = souk_index_schema(ix);
    souk_rank_profile prof;
    memset(&prof, 0, sizeof prof);
    prof.bm25 = (souk_bm25){1.3, 1.0, 0.6, 0.5};
    prof.field[0] = souk_schema_field(sc, "title", 5)->id;
    prof.field_weight[0] = 3;
    prof.nfield_weights = 1;
    prof.proximity_weight = 0.5;
    prof.proximity_window = 4;
    prof.boosts[0] = (souk_boost_signal){
        souk_schema_field(sc, "installed_size_kb", 17)->id, SOUK_BOOST_LOG1P, 0.2, 0, 0, 0, 0};
    prof.nboosts = 1;
    int trees = 0;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char cmd[1600];
        snprintf(cmd, sizeof cmd, "'%s/souk-search' --data '%s' %s --explain '%s'", SOUK_BIN_DIR,
                 data, cases[c].opts, cases[c].q);
        int st;
        char *out = kit_run(cmd, 0, &st);
        CHECK(st == 0);
        souk_hit want[32];
        size_t nw = 0;
        souk_search_opts o = {cases[c].k,
                              SOUK_BM25_DEFAULT,
                              0,
                              NULL,
                              cases[c].flags,
                              0,
                              cases[c].profile ? &prof : NULL};
        REQUIRE(souk_search(s, cases[c].q, strlen(cases[c].q), &o, want, &nw, NULL, err,
                            sizeof err) == 0);
        CHECK(nw > 0);
        size_t got = 0;
        int summary = 0;
        for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
            cJSON *j = cJSON_Parse(line);
            REQUIRE(j);
            const cJSON *id = cJSON_GetObjectItem(j, "id"),
                        *score = cJSON_GetObjectItem(j, "score");
            if (!id) { /* the closing summary line */
                summary = cJSON_GetObjectItem(j, "hits") &&
                          (size_t)cJSON_GetObjectItem(j, "hits")->valuedouble == nw;
                cJSON_Delete(j);
                continue;
            }
            if (got < nw) {
                const char *wid, *json;
                size_t il, jl;
                REQUIRE(souk_reader_doc(souk_searcher_reader(s), want[got].docid, &wid, &il, &json,
                                        &jl) == 0);
                CHECK(strlen(id->valuestring) == il && memcmp(id->valuestring, wid, il) == 0);
                CHECK(fabs(score->valuedouble - want[got].score) < 1e-9);
                /* The explanation's parts sum to the score. */
                double sum = 0;
                const cJSON *part;
                cJSON_ArrayForEach(part, cJSON_GetObjectItem(j, "explain")) sum +=
                    cJSON_GetObjectItem(part, "score")->valuedouble;
                CHECK(fabs(sum - score->valuedouble) < 1e-9);
                /* The tree: the root is the score, text the sum of its terms. */
                const cJSON *tree = cJSON_GetObjectItem(j, "explanation");
                CHECK(tree && fabs(cJSON_GetObjectItem(tree, "score")->valuedouble -
                                   score->valuedouble) < 1e-9);
                double tsum = 0;
                const cJSON *node;
                cJSON_ArrayForEach(node, cJSON_GetObjectItem(tree, "parts")) tsum +=
                    cJSON_GetObjectItem(node, "score")->valuedouble;
                CHECK(fabs(tsum - score->valuedouble) < 1e-9);
                trees +=
                    cases[c].profile && cJSON_GetArraySize(cJSON_GetObjectItem(tree, "parts")) == 3;
            }
            got++;
            cJSON_Delete(j);
        }
        if (got != nw)
            fprintf(stderr, "  souk-search %s '%s': %zu hits, the engine %zu\n", cases[c].opts,
                    cases[c].q, got, nw);
        CHECK(got == nw);
        CHECK(summary);
        free(out);
    }
    CHECK(trees >= 10); /* text, proximity and the boost on every profile hit */
    souk_searcher_free(s);
    souk_index_close(ix);
}

static void test_index_program(void)
{
    char cmd[2048];
    int st;
    /* stats --detail against the reader's own statistics. */
    snprintf(cmd, sizeof cmd, "'%s/souk-index' --data '%s' stats --detail", SOUK_BIN_DIR, data);
    char *out = kit_run(cmd, 0, &st);
    CHECK(st == 0);
    cJSON *j = cJSON_Parse(out);
    REQUIRE(j);
    char err[512];
    souk_index *ix;
    souk_reader *r;
    souk_stats is;
    REQUIRE(souk_index_open(data, NULL, SOUK_INDEX_RDONLY, &ix, err, sizeof err) == 0);
    REQUIRE(souk_reader_new(ix, &r) == 0 && souk_reader_stats(r, &is) == 0);
    CHECK_EQ_U64(cJSON_GetObjectItem(j, "docs")->valuedouble, is.docs);
    CHECK_EQ_U64(is.docs, 301);
    CHECK_EQ_U64(cJSON_GetObjectItem(j, "total_length")->valuedouble, is.total_len);
    CHECK_EQ_U64(cJSON_GetObjectItem(j, "stream_offset")->valuedouble, is.stream_offset);
    const char *detail[] = {"postings", "positions", "blocks", "inline_terms", "bytes_store"};
    for (size_t i = 0; i < sizeof detail / sizeof detail[0]; i++)
        CHECK(cJSON_GetObjectItem(j, detail[i]) &&
              cJSON_GetObjectItem(j, detail[i])->valuedouble > 0);
    souk_reader_free(r);
    souk_index_close(ix);
    cJSON_Delete(j);
    free(out);

    /* The rejects file of the first run: the two bad lines, numbered, with their reasons. */
    char rj[700];
    snprintf(rj, sizeof rj, "%s/rejects.ndjson", dir);
    FILE *f = fopen(rj, "r");
    REQUIRE(f);
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        cJSON *x = cJSON_Parse(line);
        REQUIRE(x);
        int ln = (int)cJSON_GetObjectItem(x, "line")->valuedouble;
        const char *e = cJSON_GetStringValue(cJSON_GetObjectItem(x, "error"));
        CHECK(e && ((ln == 301 && strstr(e, "malformed JSON")) ||
                    (ln == 303 && strstr(e, "'id' is missing"))));
        n++;
        cJSON_Delete(x);
    }
    fclose(f);
    CHECK(n == 2);

    /* A rerun resumes after the last commit and reads nothing; --from-start replays all. */
    snprintf(cmd, sizeof cmd, "'%s/souk-index' --data '%s' catalog '%s' --no-spelling",
             SOUK_BIN_DIR, data, stream);
    out = kit_run(cmd, 0, &st);
    CHECK(st == 0);
    j = cJSON_Parse(out);
    REQUIRE(j);
    CHECK_EQ_U64(cJSON_GetObjectItem(j, "read")->valuedouble, 0);
    CHECK_EQ_U64(cJSON_GetObjectItem(j, "resumed_at")->valuedouble, is.stream_offset);
    cJSON_Delete(j);
    free(out);
    snprintf(cmd, sizeof cmd, "'%s/souk-index' --data '%s' catalog '%s' --no-spelling --from-start",
             SOUK_BIN_DIR, data, stream);
    out = kit_run(cmd, 0, &st);
    CHECK(st == 0);
    j = cJSON_Parse(out);
    REQUIRE(j);
    CHECK_EQ_U64(cJSON_GetObjectItem(j, "read")->valuedouble, 303);
    CHECK_EQ_U64(cJSON_GetObjectItem(j, "unchanged")->valuedouble, 301);
    CHECK_EQ_U64(cJSON_GetObjectItem(j, "added")->valuedouble, 0);
    CHECK_EQ_U64(cJSON_GetObjectItem(j, "rejected")->valuedouble, 2);
    cJSON_Delete(j);
    free(out);
}

static void test_usage_errors(void)
{
    static const struct {
        const char *args;
        int status;
        const char *says;
    } cases[] = {
        {"souk-search --data DATA", 2, "usage: souk-search"},
        {"souk-search 'text editor'", 2, "usage: souk-search"},
        {"souk-search --data MISSING 'text editor'", 1, "souk-search"},
        {"souk-index --data DATA frobnicate", 2, "usage: souk-index"},
        {"souk-index catalog", 2, "usage: souk-index"},
        {"souk-index --data DATA catalog STREAM --no-such-option", 2, "usage: souk-index"},
        {"souk-index --data MISSING stats", 1, "souk-index"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char args[1600] = "", cmd[2048];
        /* Substitute the paths. */
        for (const char *p = cases[i].args; *p;) {
            if (strncmp(p, "DATA", 4) == 0) {
                strcat(args, data);
                p += 4;
            } else if (strncmp(p, "MISSING", 7) == 0) {
                strcat(args, dir);
                strcat(args, "/no-such-index");
                p += 7;
            } else if (strncmp(p, "STREAM", 6) == 0) {
                strcat(args, stream);
                p += 6;
            } else {
                strncat(args, p++, 1);
            }
        }
        snprintf(cmd, sizeof cmd, "'%s'/%s", SOUK_BIN_DIR, args);
        int st;
        char *out = kit_run(cmd, 1, &st);
        int ok = st == cases[i].status && strstr(out, cases[i].says);
        if (!ok)
            fprintf(stderr, "  %s: want exit %d and \"%s\"; got exit %d: %s\n", cases[i].args,
                    cases[i].status, cases[i].says, st, out);
        CHECK(ok);
        free(out);
    }
}

int main(void)
{
    souk_alloc_init();
    const char *src = debian_catalog();
    if (!src)
        return TEST_SKIP;
    REQUIRE(mkdtemp(dir));
    snprintf(data, sizeof data, "%s/index", dir);
    snprintf(stream, sizeof stream, "%s/stream.ndjson", dir);
    char cmd[8192];
    /* 300 real records, then a malformed line, a good one and one without an id. */
    REQUIRE(kit_debian_records(stream, 300) == 0);
    snprintf(cmd, sizeof cmd,
             "printf '%%s\\n' '{\"id\":\"bad1\",' "
             "'{\"id\":\"ok1\",\"title\":\"fine\"}' '{\"title\":\"no id\"}' >> '%s'",
             stream);
    REQUIRE(system(cmd) == 0);
    snprintf(cmd, sizeof cmd,
             "'%s/souk-index' --data '%s' --schema '%s/indexer/schemas/debian-packages.json' "
             "catalog '%s' --rejects '%s/rejects.ndjson' --no-spelling --quiet >/dev/null 2>&1",
             SOUK_BIN_DIR, data, SOUK_SOURCE_DIR, stream, dir);
    REQUIRE(system(cmd) == 0);

    test_search_program();
    test_index_program();
    test_usage_errors();

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    return check_done("test_programs");
}
