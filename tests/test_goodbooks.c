/* test_goodbooks.c: sorting and the popularity boost on goodbooks-10k (../shared/data/catalog/
 * goodbooks-10k/books.csv, 10,000 books with ratings), indexed with indexer/schemas/goodbooks.json.
 *   - sort by average_rating desc then ratings_count desc, with a filter, page by page and by
 *     cursor: the sequence of values equals a brute-force sort of the CSV;
 *   - boost=ratings_count: each boosted score is the BM25 score plus weight * log1p(count),
 *     and the boosted order is by that score;
 *   - facets on language_code and publication-year ranges equal brute-force counts. */
#include "check.h"
#include "souk/browse.h"
#include "souk/index.h"
#include "souk/souk.h"

#include <cjson/cJSON.h>
#include <math.h>

#define MAXB 10001

typedef struct book {
    char id[16];
    char lang[16];
    double rating, count, year;
    int has_year;
} book;

static book books[MAXB];
static size_t nbooks;

/* Splits one CSV line into fields (quotes, doubled quotes); returns the count. */
static int csv_fields(char *line, char **f, int max)
{
    int n = 0;
    char *p = line;
    while (*p && n < max) {
        if (*p == '"') {
            char *o = ++p;
            f[n++] = o;
            while (*p) {
                if (*p == '"' && p[1] == '"') {
                    *o++ = '"';
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else {
                    *o++ = *p++;
                }
            }
            *o = 0;
            if (*p == ',')
                p++;
        } else {
            f[n++] = p;
            while (*p && *p != ',' && *p != '\n' && *p != '\r')
                p++;
            int end = *p != ',';
            *p = 0;
            if (end)
                break;
            p++;
        }
    }
    return n;
}

typedef struct scored {
    uint32_t docid;
    double score;
} scored;

static int cmp_scored(const void *a, const void *b)
{
    const scored *x = a, *y = b;
    return x->score > y->score ? -1 : x->score < y->score;
}

/* The CSV row of an indexed document (by its external id, the CSV's book_id). */
static const book *book_of(souk_reader *r, uint32_t docid)
{
    const char *id, *json;
    size_t il, jl;
    if (souk_reader_doc(r, docid, &id, &il, &json, &jl))
        return NULL;
    for (size_t i = 0; i < nbooks; i++)
        if (strlen(books[i].id) == il && memcmp(books[i].id, id, il) == 0)
            return &books[i];
    return NULL;
}

static int cmp_sort(const void *a, const void *b)
{
    const book *x = a, *y = b;
    if (x->rating != y->rating)
        return x->rating > y->rating ? -1 : 1;
    if (x->count != y->count)
        return x->count > y->count ? -1 : 1;
    return 0;
}

int main(void)
{
    souk_alloc_init();
    const char *src = shared_data("catalog/goodbooks-10k/books.csv");
    if (!src)
        return TEST_SKIP;
    char dir[] = "/tmp/souk-test-goodbooks-XXXXXX";
    REQUIRE(mkdtemp(dir));
    char nd[600], data[600], cmd[4096], err[512];
    snprintf(nd, sizeof nd, "%s/books.ndjson", dir);
    snprintf(data, sizeof data, "%s/index", dir);
    FILE *in = fopen(src, "r"), *out = fopen(nd, "w");
    REQUIRE(in && out);
    char *line = NULL;
    size_t cap = 0;
    REQUIRE(getline(&line, &cap, in) > 0); /* header */
    while (getline(&line, &cap, in) > 0 && nbooks < MAXB) {
        char *f[32];
        if (csv_fields(line, f, 32) < 14)
            continue;
        book *b = &books[nbooks++];
        snprintf(b->id, sizeof b->id, "%s", f[0]);
        snprintf(b->lang, sizeof b->lang, "%s", f[11]);
        b->rating = atof(f[12]);
        b->count = atof(f[13]);
        b->has_year = f[8][0] != 0;
        b->year = atof(f[8]);
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "id", f[0]);
        cJSON_AddStringToObject(r, "title", f[10]);
        if (f[9][0])
            cJSON_AddStringToObject(r, "original_title", f[9]);
        cJSON_AddStringToObject(r, "authors", f[7]);
        if (f[11][0])
            cJSON_AddStringToObject(r, "language_code", f[11]);
        if (b->has_year)
            cJSON_AddNumberToObject(r, "original_publication_year", b->year);
        cJSON_AddNumberToObject(r, "average_rating", b->rating);
        cJSON_AddNumberToObject(r, "ratings_count", b->count);
        char *t = cJSON_PrintUnformatted(r);
        fprintf(out, "%s\n", t);
        free(t);
        cJSON_Delete(r);
    }
    free(line);
    fclose(in);
    fclose(out);
    snprintf(cmd, sizeof cmd,
             "'%s/souk-index' --data '%s' --schema '%s/indexer/schemas/goodbooks.json' catalog "
             "'%s' >/dev/null",
             SOUK_BIN_DIR, data, SOUK_SOURCE_DIR, nd);
    REQUIRE(system(cmd) == 0);
    souk_index *ix;
    souk_searcher *s;
    REQUIRE(souk_index_open(data, NULL, SOUK_INDEX_RDONLY, &ix, err, sizeof err) == 0);
    REQUIRE(souk_searcher_new(ix, &s) == 0);
    const souk_schema *sc = souk_index_schema(ix);
#define FID(n) (souk_schema_field(sc, n, strlen(n))->id)

    /* 1. Sorting, filtered to English editions, 5 pages of 40 by offset and by cursor. */
    book *eng = malloc(nbooks * sizeof *eng);
    size_t neng = 0;
    for (size_t i = 0; i < nbooks; i++)
        if (strcmp(books[i].lang, "eng") == 0)
            eng[neng++] = books[i];
    qsort(eng, neng, sizeof *eng, cmp_sort);
    souk_find_opts o;
    memset(&o, 0, sizeof o);
    o.boost_field = -1;
    REQUIRE(souk_filter_parse(sc, "language_code = eng", 19, (souk_filter **)&o.filter, err,
                              sizeof err) == 0);
    o.sort[0] = (souk_sort_key){FID("average_rating"), 1};
    o.sort[1] = (souk_sort_key){FID("ratings_count"), 1};
    o.nsort = 2;
    o.limit = 40;
    souk_find_after after;
    int pos = 0, bad = 0;
    for (int page = 0; page < 5; page++) {
        souk_find_result res;
        REQUIRE(souk_find(s, NULL, &o, &res, err, sizeof err) == 0);
        CHECK(res.total == neng && res.nhits == 40);
        for (size_t k = 0; k < res.nhits; k++, pos++) {
            souk_find_after at;
            souk_find_position(&res, &o, k, &at);
            bad += at.vals[0] != eng[pos].rating || at.vals[1] != eng[pos].count;
        }
        souk_find_position(&res, &o, res.nhits - 1, &after);
        o.after = &after;
        souk_find_result_free(&res);
    }
    CHECK(bad == 0 && pos == 200);
    printf("test_goodbooks: %zu English editions; the first 200 by rating then ratings count, "
           "in 5 cursor pages, equal the brute-force sort\n",
           neng);
    souk_filter_free((souk_filter *)o.filter);

    /* 2. The popularity boost: score = bm25 + w * log1p(ratings_count). */
    souk_query *q;
    size_t nf;
    const souk_qp_field *qf = souk_searcher_fields(s, &nf);
    REQUIRE(souk_query_parse("harry potter", 12, "en", qf, nf, 0, &q, err, sizeof err) == 0);
    memset(&o, 0, sizeof o);
    o.boost_field = -1;
    o.limit = 1000;
    souk_find_result base, boosted;
    REQUIRE(souk_find(s, q, &o, &base, err, sizeof err) == 0);
    o.boost_field = FID("ratings_count");
    o.boost_weight = 0.75;
    o.limit = 20;
    REQUIRE(souk_find(s, q, &o, &boosted, err, sizeof err) == 0);
    CHECK(boosted.total == base.total && boosted.nhits == 20);
    REQUIRE(base.nhits == base.total); /* every match, to rank them all independently */
    /* The true boosted ranking: every match's BM25 score plus 0.75 * log1p of its ratings count
     * read from the CSV (not from Souk's columns), sorted. */
    scored *all = malloc(base.nhits * sizeof *all);
    for (size_t j = 0; j < base.nhits; j++) {
        const book *bk = book_of(souk_searcher_reader(s), base.hits[j].docid);
        REQUIRE(bk);
        all[j] = (scored){base.hits[j].docid, base.hits[j].score + 0.75 * log1p(bk->count)};
    }
    qsort(all, base.nhits, sizeof *all, cmp_scored);
    int exact = 0;
    for (size_t k = 0; k < boosted.nhits; k++) {
        const souk_hit *h = &boosted.hits[k];
        /* Same score at each rank; the same document too unless tied with a neighbour. */
        int same = fabs(h->score - all[k].score) < 1e-9;
        int tied = (k > 0 && fabs(all[k - 1].score - all[k].score) < 1e-9) ||
                   (k + 1 < base.nhits && fabs(all[k + 1].score - all[k].score) < 1e-9);
        exact += same && (tied || h->docid == all[k].docid);
        if (k)
            CHECK(boosted.hits[k - 1].score >= h->score);
    }
    CHECK(exact == 20);
    free(all);
    printf("test_goodbooks: \"harry potter\" boosted by ratings count: %llu matches, the top 20 "
           "scores equal bm25 + 0.75 * log1p(ratings_count)\n",
           (unsigned long long)boosted.total);
    souk_find_result_free(&base);
    souk_find_result_free(&boosted);
    souk_query_free(q);

    /* 3. Facets: languages and publication decades over the whole catalog. */
    memset(&o, 0, sizeof o);
    o.boost_field = -1;
    o.limit = 1;
    o.facets[0].field = FID("language_code");
    o.facets[1].field = FID("original_publication_year");
    double edges[] = {-2000, 1800, 1900, 1950, 2000, 2010, 2100};
    memcpy(o.facets[1].edges, edges, sizeof edges);
    o.facets[1].nedges = 7;
    o.nfacets = 2;
    o.facets[0].max_values = 1000; /* every language: a dropped value must show */
    souk_find_result fr;
    REQUIRE(souk_find(s, NULL, &o, &fr, err, sizeof err) == 0);
    /* The languages of the CSV, independently: as many values as distinct codes, no "other". */
    size_t langs = 0;
    for (size_t i = 0; i < nbooks; i++) {
        int seen = !books[i].lang[0];
        for (size_t k = 0; k < i && !seen; k++)
            seen = strcmp(books[k].lang, books[i].lang) == 0;
        langs += !seen;
    }
    CHECK_EQ_U64(fr.facets[0].nvalues, langs);
    CHECK_EQ_U64(fr.facets[0].other, 0);
    for (size_t v = 0; v < fr.facets[0].nvalues; v++) {
        uint64_t want = 0;
        for (size_t i = 0; i < nbooks; i++)
            want += strlen(books[i].lang) == fr.facets[0].values[v].len &&
                    memcmp(books[i].lang, fr.facets[0].values[v].value,
                           fr.facets[0].values[v].len) == 0;
        CHECK(fr.facets[0].values[v].count == want);
    }
    for (int b = 0; b < 6; b++) {
        uint64_t want = 0;
        for (size_t i = 0; i < nbooks; i++)
            want += books[i].has_year && books[i].year >= edges[b] && books[i].year < edges[b + 1];
        CHECK(fr.facets[1].values[b].count == want);
    }
    printf("test_goodbooks: language facet (%zu values) and publication-year buckets equal "
           "brute-force counts\n",
           fr.facets[0].nvalues);
    souk_find_result_free(&fr);

    free(eng);
    souk_searcher_free(s);
    souk_index_close(ix);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    return check_failures ? 1 : 0;
}
