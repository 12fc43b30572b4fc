/* test_debian.c: the whole Debian catalog (63,440 records) through the real programs:
 * souk-index catalog, then stats, dump and check. Counts are checked against the catalog itself
 * (distinct ids), and a few known packages are looked up. */
#include "check.h"
#include "kit/fixture.h"
#include "souk/index.h"
#include "souk/souk.h"

#include <cjson/cJSON.h>

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs a command and returns its whole stdout (malloc'd), or NULL if it failed. */
static char *run(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    if (!p)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    char *out = malloc(cap);
    size_t r;
    while ((r = fread(out + n, 1, cap - n - 1, p)) > 0) {
        n += r;
        if (cap - n < 4096)
            out = realloc(out, cap *= 2);
    }
    out[n] = 0;
    if (pclose(p) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

int main(void)
{
    souk_alloc_init();
    const char *src = debian_catalog();
    if (!src)
        return TEST_SKIP;
    char dir[] = "/tmp/souk-test-debian-XXXXXX";
    REQUIRE(mkdtemp(dir));
    char cmd[8192], file[512], data[512];
    snprintf(file, sizeof file, "%s/debian.ndjson", dir);
    snprintf(data, sizeof data, "%s/index", dir);
    REQUIRE(kit_debian_records(file, 0) == 0);
    /* Distinct ids, counted independently of the engine. */
    FILE *f = fopen(file, "r");
    REQUIRE(f);
    char **ids = malloc(70000 * sizeof *ids);
    size_t n = 0, cap = 0;
    char *line = NULL;
    while (getline(&line, &cap, f) > 0 && n < 70000) {
        cJSON *j = cJSON_Parse(line);
        REQUIRE(j);
        ids[n++] = strdup(cJSON_GetObjectItem(j, "id")->valuestring);
        cJSON_Delete(j);
    }
    free(line);
    fclose(f);
    CHECK(n > 60000); /* a whole Debian catalog: 63,440 in the shared data */
    qsort(ids, n, sizeof *ids, cmp_str);
    size_t distinct = n ? 1 : 0;
    for (size_t i = 1; i < n; i++)
        distinct += strcmp(ids[i], ids[i - 1]) != 0;
    printf("test_debian: %zu records, %zu distinct ids\n", n, distinct);

    snprintf(cmd, sizeof cmd,
             "'%s/souk-index' --data '%s' --schema '%s/indexer/schemas/debian-packages.json' "
             "catalog '%s' --quiet",
             SOUK_BIN_DIR, data, SOUK_SOURCE_DIR, file);
    char *out = run(cmd);
    REQUIRE(out);
    printf("test_debian: %s", out);
    cJSON *sum = cJSON_Parse(out);
    REQUIRE(sum);
    CHECK_EQ_U64(cJSON_GetObjectItem(sum, "read")->valuedouble, n);
    CHECK_EQ_U64(cJSON_GetObjectItem(sum, "records")->valuedouble, n);
    CHECK_EQ_U64(cJSON_GetObjectItem(sum, "added")->valuedouble, distinct);
    CHECK_EQ_U64(cJSON_GetObjectItem(sum, "rejected")->valuedouble, 0);
    cJSON_Delete(sum);
    free(out);

    snprintf(cmd, sizeof cmd, "'%s/souk-index' --data '%s' stats", SOUK_BIN_DIR, data);
    out = run(cmd);
    REQUIRE(out);
    cJSON *st = cJSON_Parse(out);
    REQUIRE(st);
    CHECK_EQ_U64(cJSON_GetObjectItem(st, "docs")->valuedouble, distinct);
    CHECK(cJSON_GetObjectItem(st, "terms")->valuedouble > 150000);
    CHECK(cJSON_GetObjectItem(st, "bytes")->valuedouble > 1e6);
    cJSON_Delete(st);
    free(out);

    snprintf(cmd, sizeof cmd, "'%s/souk-index' --data '%s' check", SOUK_BIN_DIR, data);
    out = run(cmd);
    CHECK(out && strstr(out, "\"ok\":true"));
    free(out);

    /* Known packages: stored fields come back, terms are findable. */
    snprintf(cmd, sizeof cmd, "'%s/souk-index' --data '%s' dump --terms vim", SOUK_BIN_DIR, data);
    out = run(cmd);
    REQUIRE(out);
    cJSON *doc = cJSON_Parse(out);
    REQUIRE(doc);
    cJSON *fields = cJSON_GetObjectItem(doc, "fields");
    CHECK(strstr(cJSON_GetObjectItem(fields, "title")->valuestring, "Vi IMproved") != NULL);
    CHECK(strcmp(cJSON_GetObjectItem(fields, "section")->valuestring, "editors") == 0);
    int has_section = 0, has_stem = 0;
    cJSON *t;
    cJSON_ArrayForEach(t, cJSON_GetObjectItem(doc, "terms"))
    {
        const char *term = cJSON_GetArrayItem(t, 0)->valuestring;
        has_section |= strcmp(term, "XSECTION:editors") == 0;
        has_stem |= strcmp(term, "Zeditor") == 0;
    }
    CHECK(has_section && has_stem);
    cJSON_Delete(doc);
    free(out);
    snprintf(cmd, sizeof cmd, "'%s/souk-index' --data '%s' dump no-such-package 2>/dev/null",
             SOUK_BIN_DIR, data);
    CHECK(run(cmd) == NULL); /* exit status 1 */

    char err[512];
    souk_index *ix;
    souk_reader *r;
    souk_term_info ti;
    REQUIRE(souk_index_open(data, NULL, SOUK_INDEX_RDONLY, &ix, err, sizeof err) == 0);
    REQUIRE(souk_reader_new(ix, &r) == 0);
    CHECK(souk_reader_term(r, "XSECTION:editors", 16, &ti) == 0 && ti.df > 50);
    CHECK(souk_reader_term(r, "Zeditor", 7, &ti) == 0 && ti.df > 300);
    CHECK(souk_reader_term(r, "nosuchtermanywhere", 18, &ti) == SOUK_ENOTFOUND);
    souk_reader_free(r);
    souk_index_close(ix);

    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return check_done("test_debian");
}
