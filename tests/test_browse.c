/* test_browse.c: filters, facets and sorting (souk/browse.h) on the first 15,000 records of the
 * Debian catalog, each checked against a brute-force pass over the catalog records themselves:
 * filter match sets, disjunctive facet counts (keyword, multi-valued debtags, number ranges),
 * sort orders with paging, and the errors of the filter language. */
#include "check.h"
#include "kit/fixture.h"
#include "souk/browse.h"
#include "souk/index.h"
#include "souk/souk.h"

#include <cjson/cJSON.h>
#include <math.h>

#define NREC 15000

typedef struct rec {
    char *id;
    char *section;
    char **tags;
    int ntags;
    double size, dl;
    uint32_t docid;
} rec;

static rec recs[NREC];
static size_t nrec;
static souk_index *ix;
static souk_searcher *srch;
static const souk_schema *schema;

static int fid(const char *name)
{
    return souk_schema_field(schema, name, strlen(name))->id;
}

static int has_tag(const rec *r, const char *t)
{
    for (int i = 0; i < r->ntags; i++)
        if (strcmp(r->tags[i], t) == 0)
            return 1;
    return 0;
}

/* Brute-force predicates, one per filter expression below. */
typedef int (*pred)(const rec *r);
static int p_games(const rec *r)
{
    return strcmp(r->section, "games") == 0;
}
static int p_not_games(const rec *r)
{
    return !p_games(r);
}
static int p_program(const rec *r)
{
    return has_tag(r, "role::program");
}
static int p_in(const rec *r)
{
    return has_tag(r, "use::editing") || has_tag(r, "works-with::text");
}
static int p_games_strategy(const rec *r)
{
    return p_games(r) && has_tag(r, "game::strategy");
}
static int p_big(const rec *r)
{
    return r->size > 10000;
}
static int p_range(const rec *r)
{
    return r->size >= 100 && r->size <= 1000;
}
static int p_mixed(const rec *r)
{
    return !(strcmp(r->section, "libs") == 0 || strcmp(r->section, "libdevel") == 0) &&
           r->dl <= 50000;
}
static int p_not_tag(const rec *r)
{
    return !has_tag(r, "role::program");
}

static const struct {
    const char *expr;
    pred p;
} filters[] = {
    {"section = games", p_games},
    {"section != 'games'", p_not_games},
    {"tags = \"role::program\"", p_program},
    {"tags IN [\"use::editing\", \"works-with::text\"]", p_in},
    {"section = games AND tags = \"game::strategy\"", p_games_strategy},
    {"installed_size_kb > 10000", p_big},
    {"installed_size_kb 100 TO 1000", p_range},
    {"NOT (section = libs OR section = libdevel) and download_size_b <= 50000", p_mixed},
    {"tags != \"role::program\"", p_not_tag},
};

static void load(const char *ndjson)
{
    FILE *f = fopen(ndjson, "r");
    REQUIRE(f);
    char *line = NULL;
    size_t cap = 0;
    souk_reader *r;
    REQUIRE(souk_reader_new(ix, &r) == 0);
    while (nrec < NREC && getline(&line, &cap, f) > 0) {
        cJSON *j = cJSON_Parse(line);
        REQUIRE(j);
        rec *x = &recs[nrec];
        x->id = strdup(cJSON_GetObjectItem(j, "id")->valuestring);
        const char *sec = cJSON_GetStringValue(cJSON_GetObjectItem(j, "section"));
        x->section = strdup(sec ? sec : "");
        const cJSON *tags = cJSON_GetObjectItem(j, "tags"), *t;
        x->ntags = cJSON_GetArraySize(tags);
        x->tags = calloc((size_t)x->ntags + 1, sizeof *x->tags);
        int k = 0;
        cJSON_ArrayForEach(t, tags) x->tags[k++] = strdup(t->valuestring);
        const cJSON *sz = cJSON_GetObjectItem(j, "installed_size_kb");
        const cJSON *dl = cJSON_GetObjectItem(j, "download_size_b");
        x->size = cJSON_IsNumber(sz) ? sz->valuedouble : NAN;
        x->dl = cJSON_IsNumber(dl) ? dl->valuedouble : NAN;
        REQUIRE(souk_reader_docid(r, x->id, strlen(x->id), &x->docid) == 0);
        cJSON_Delete(j);
        nrec++;
    }
    free(line);
    fclose(f);
    souk_reader_free(r);
}

static const rec *by_docid(uint32_t d)
{
    for (size_t i = 0; i < nrec; i++)
        if (recs[i].docid == d)
            return &recs[i];
    return NULL;
}

static souk_filter *parse(const char *e)
{
    souk_filter *f = NULL;
    char err[256];
    if (souk_filter_parse(schema, e, strlen(e), &f, err, sizeof err))
        fprintf(stderr, "  %s: %s\n", e, err);
    return f;
}

static void test_filters(void)
{
    for (size_t i = 0; i < sizeof filters / sizeof filters[0]; i++) {
        souk_find_opts o;
        memset(&o, 0, sizeof o);
        o.limit = NREC;
        o.boost_field = -1;
        o.filter = parse(filters[i].expr);
        REQUIRE(o.filter);
        souk_find_result res;
        char err[256];
        REQUIRE(souk_find(srch, NULL, &o, &res, err, sizeof err) == 0);
        size_t want = 0;
        for (size_t k = 0; k < nrec; k++)
            want += filters[i].p(&recs[k]) != 0;
        CHECK(res.total == want && res.nhits == want);
        size_t bad = 0;
        for (size_t k = 0; k < res.nhits; k++) {
            const rec *x = by_docid(res.hits[k].docid);
            bad += !x || !filters[i].p(x);
        }
        CHECK(bad == 0);
        /* Browsing without sort keys: index order, unscored. */
        for (size_t k = 0; k < res.nhits; k++)
            CHECK(res.hits[k].score == 0 && (k == 0 || res.hits[k].docid > res.hits[k - 1].docid));
        printf("test_browse: filter %-70s %6llu documents (brute force %zu)\n", filters[i].expr,
               (unsigned long long)res.total, want);
        souk_find_result_free(&res);
        souk_filter_free((souk_filter *)o.filter);
    }
}

/* Every numeric comparison at values that occur in the data (the smallest, 0 when present, the
 * most frequent, the largest), where an operator's boundary decides: "<=" against "<", "!="
 * against a missing value. A document without the field fails every comparison but "!=". */
static int num_pred(const char *op, double v, double x)
{
    if (isnan(v))
        return strcmp(op, "!=") == 0;
    if (strcmp(op, "=") == 0)
        return v == x;
    if (strcmp(op, "!=") == 0)
        return v != x;
    if (strcmp(op, "<") == 0)
        return v < x;
    if (strcmp(op, "<=") == 0)
        return v <= x;
    if (strcmp(op, ">") == 0)
        return v > x;
    return v >= x;
}

static void test_number_boundaries(void)
{
    double lo = INFINITY, hi = -INFINITY, mode = NAN;
    size_t zeros = 0, best = 0;
    for (size_t k = 0; k < nrec; k++) {
        double v = recs[k].size;
        if (isnan(v))
            continue;
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
        zeros += v == 0;
        size_t same = 0;
        for (size_t j = 0; j < nrec && k % 97 == 0; j++) /* a sample is enough for the mode */
            same += recs[j].size == v;
        if (same > best) {
            best = same;
            mode = v;
        }
    }
    REQUIRE(best > 1 && lo < mode && mode < hi);
    double vals[4] = {lo, mode, hi, 0};
    size_t nv = zeros && lo != 0 ? 4 : 3;
    const char *ops[] = {"=", "!=", "<", "<=", ">", ">="};
    for (size_t i = 0; i < nv; i++)
        for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
            char expr[96];
            snprintf(expr, sizeof expr, "installed_size_kb %s %.17g", ops[o], vals[i]);
            souk_find_opts fo;
            memset(&fo, 0, sizeof fo);
            fo.limit = NREC;
            fo.boost_field = -1;
            fo.filter = parse(expr);
            REQUIRE(fo.filter);
            souk_find_result res;
            char err[256];
            REQUIRE(souk_find(srch, NULL, &fo, &res, err, sizeof err) == 0);
            size_t want = 0, bad = 0;
            for (size_t k = 0; k < nrec; k++)
                want += num_pred(ops[o], recs[k].size, vals[i]);
            for (size_t k = 0; k < res.nhits; k++) {
                const rec *x = by_docid(res.hits[k].docid);
                bad += !x || !num_pred(ops[o], x->size, vals[i]);
            }
            if (res.total != want || bad)
                fprintf(stderr, "test_browse: %s: %llu documents, brute force %zu, %zu wrong\n",
                        expr, (unsigned long long)res.total, want, bad);
            CHECK(res.total == want && res.nhits == want && bad == 0);
            souk_find_result_free(&res);
            souk_filter_free((souk_filter *)fo.filter);
        }
    printf("test_browse: every numeric operator at %zu boundary values (%.17g, %.17g, %.17g%s)\n",
           nv, lo, mode, hi, nv == 4 ? ", 0" : "");
}

/* Brute-force facet counts: values and their counts, most first. */
typedef struct vcount {
    const char *value;
    uint64_t count;
} vcount;

static void vc_add(vcount *vc, size_t *n, const char *value)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp(vc[i].value, value) == 0) {
            vc[i].count++;
            return;
        }
    vc[(*n)++] = (vcount){value, 1};
}

static int cmp_vcount(const void *a, const void *b)
{
    const vcount *x = a, *y = b;
    return x->count > y->count ? -1 : x->count < y->count;
}

/* A facet's values against the brute-force counts: the engine's values are the top max_values
 * by count (ties in any order), each with its own count, and `other` counts the rest. */
static void check_top_values(const char *name, const souk_facet_result *f, vcount *vc, size_t n,
                             size_t max_values)
{
    qsort(vc, n, sizeof *vc, cmp_vcount);
    size_t want_n = n < max_values ? n : max_values;
    CHECK_EQ_U64(f->nvalues, want_n);
    uint64_t rest = 0;
    for (size_t i = want_n; i < n; i++)
        rest += vc[i].count;
    CHECK_EQ_U64(f->other, rest);
    for (size_t v = 0; v < f->nvalues && v < want_n; v++) {
        const souk_facet_value *fv = &f->values[v];
        uint64_t own = 0;
        for (size_t i = 0; i < n; i++)
            if (strlen(vc[i].value) == fv->len && memcmp(vc[i].value, fv->value, fv->len) == 0)
                own = vc[i].count;
        if (fv->count != own || fv->count != vc[v].count)
            fprintf(stderr,
                    "  facet %s value %zu '%.*s': %llu, brute force %llu (rank count %llu)\n", name,
                    v, (int)fv->len, fv->value, (unsigned long long)fv->count,
                    (unsigned long long)own, (unsigned long long)vc[v].count);
        CHECK(fv->count == own && fv->count == vc[v].count);
    }
}

/* Facets of the query "editor" under "section = editors AND installed_size_kb < 5000": the
 * section facet ignores the section part, the size facet the size part, tags use both. */
static void test_facets(void)
{
    souk_query *q;
    char err[256];
    size_t nf;
    const souk_qp_field *qf = souk_searcher_fields(srch, &nf);
    REQUIRE(souk_query_parse("editor", 6, "en", qf, nf, 0, &q, err, sizeof err) == 0);
    /* The query's own match set, from the engine's top-k path with room for everything. */
    souk_hit *all = calloc(NREC, sizeof *all);
    size_t nall = 0;
    souk_search_opts so = {NREC, SOUK_BM25_DEFAULT, 1, NULL, 0, 0, NULL};
    REQUIRE(souk_search_query(srch, q, &so, all, &nall, NULL, err, sizeof err) == 0);
    souk_find_opts o;
    memset(&o, 0, sizeof o);
    o.limit = 10;
    o.boost_field = -1;
    o.filter = parse("section = editors AND installed_size_kb < 5000");
    o.facets[0].field = fid("section");
    o.facets[0].max_values = 10;
    o.facets[1].field = fid("tags");
    o.facets[2].field = fid("installed_size_kb");
    double edges[] = {0, 100, 1000, 5000, 100000};
    memcpy(o.facets[2].edges, edges, sizeof edges);
    o.facets[2].nedges = 5;
    o.nfacets = 3;
    souk_find_result res;
    REQUIRE(souk_find(srch, q, &o, &res, err, sizeof err) == 0);
    /* Brute force. */
    size_t total = 0, buckets[4] = {0};
    int checked = 0;
    for (size_t i = 0; i < nall; i++) {
        const rec *x = by_docid(all[i].docid);
        REQUIRE(x);
        int sec = strcmp(x->section, "editors") == 0, small = x->size < 5000;
        total += sec && small;
        if (sec)
            for (int b = 0; b < 4; b++)
                buckets[b] += x->size >= edges[b] && x->size < edges[b + 1];
    }
    CHECK(res.total == total);
    for (size_t v = 0; v < res.facets[0].nvalues; v++) {
        const souk_facet_value *fv = &res.facets[0].values[v];
        uint64_t want = 0;
        for (size_t i = 0; i < nall; i++) {
            const rec *x = by_docid(all[i].docid);
            want += x->size < 5000 && strlen(x->section) == fv->len &&
                    memcmp(x->section, fv->value, fv->len) == 0;
        }
        CHECK(fv->count == want);
        checked++;
    }
    for (size_t v = 0; v < res.facets[1].nvalues; v++) {
        const souk_facet_value *fv = &res.facets[1].values[v];
        char tag[256];
        snprintf(tag, sizeof tag, "%.*s", (int)fv->len, fv->value);
        uint64_t want = 0;
        for (size_t i = 0; i < nall; i++) {
            const rec *x = by_docid(all[i].docid);
            want += strcmp(x->section, "editors") == 0 && x->size < 5000 && has_tag(x, tag);
        }
        CHECK(fv->count == want);
        checked++;
    }
    CHECK(res.facets[2].nvalues == 4);
    for (int b = 0; b < 4; b++)
        CHECK(res.facets[2].values[b].count == buckets[b]);
    /* Every value, independently: the sections (under the size part only) and the tags (under
     * both parts), top ten each by count, and `other` exactly the rest. */
    vcount *vc = calloc(NREC * 4, sizeof *vc);
    size_t nvc = 0;
    for (size_t i = 0; i < nall; i++) {
        const rec *x = by_docid(all[i].docid);
        if (x->size < 5000)
            vc_add(vc, &nvc, x->section);
    }
    check_top_values("section", &res.facets[0], vc, nvc, 10);
    nvc = 0;
    for (size_t i = 0; i < nall; i++) {
        const rec *x = by_docid(all[i].docid);
        if (strcmp(x->section, "editors") == 0 && x->size < 5000)
            for (int t = 0; t < x->ntags; t++)
                vc_add(vc, &nvc, x->tags[t]);
    }
    check_top_values("tags", &res.facets[1], vc, nvc,
                     o.facets[1].max_values ? o.facets[1].max_values : SIZE_MAX); /* 0: all */
    free(vc);
    /* Values come by count, most first; more than ten sections match "editor", and the rest
     * is counted in other. */
    CHECK(res.facets[0].nvalues == 10 && res.facets[0].other > 0);
    for (size_t v = 1; v < res.facets[0].nvalues; v++)
        CHECK(res.facets[0].values[v - 1].count >= res.facets[0].values[v].count);
    printf("test_browse: facets of \"editor\": %llu documents, %d facet values checked, "
           "sections: %s %llu, %s %llu, ...\n",
           (unsigned long long)res.total, checked + 4, res.facets[0].values[0].value,
           (unsigned long long)res.facets[0].values[0].count, res.facets[0].values[1].value,
           (unsigned long long)res.facets[0].values[1].count);
    souk_find_result_free(&res);
    souk_filter_free((souk_filter *)o.filter);
    souk_query_free(q);
    free(all);
}

static const rec *cmp_ctx_unused;

static int cmp_sort(const void *a, const void *b)
{
    const rec *x = *(const rec *const *)a, *y = *(const rec *const *)b;
    /* download_size_b ascending, then installed_size_kb descending, absent last, then docid */
    int xn = isnan(x->dl), yn = isnan(y->dl);
    if (xn != yn)
        return xn ? 1 : -1;
    if (!xn && x->dl != y->dl)
        return x->dl < y->dl ? -1 : 1;
    xn = isnan(x->size), yn = isnan(y->size);
    if (xn != yn)
        return xn ? 1 : -1;
    if (!xn && x->size != y->size)
        return x->size > y->size ? -1 : 1;
    return x->docid < y->docid ? -1 : x->docid > y->docid;
}

static void test_sort(void)
{
    const rec **games = calloc(nrec, sizeof *games);
    size_t n = 0;
    for (size_t i = 0; i < nrec; i++)
        if (p_games(&recs[i]))
            games[n++] = &recs[i];
    qsort(games, n, sizeof *games, cmp_sort);
    souk_find_opts o;
    memset(&o, 0, sizeof o);
    o.filter = parse("section = games");
    o.sort[0] = (souk_sort_key){fid("download_size_b"), 0};
    o.sort[1] = (souk_sort_key){fid("installed_size_kb"), 1};
    o.nsort = 2;
    o.boost_field = -1;
    int pages = 0;
    for (uint32_t off = 0; off < n; off += 37) {
        o.offset = off;
        o.limit = 37;
        souk_find_result res;
        char err[256];
        REQUIRE(souk_find(srch, NULL, &o, &res, err, sizeof err) == 0);
        CHECK(res.total == n);
        for (size_t k = 0; k < res.nhits; k++)
            CHECK(res.hits[k].docid == games[off + k]->docid);
        CHECK(res.nhits == (n - off < 37 ? n - off : 37));
        souk_find_result_free(&res);
        pages++;
    }
    printf("test_browse: sort by download size then installed size desc: %zu games in %d pages "
           "equal to the brute-force order\n",
           n, pages);
    souk_filter_free((souk_filter *)o.filter);
    free(games);
    (void)cmp_ctx_unused;
}

static void test_errors(void)
{
    const char *bad[] = {"nosuchfield = 1",         "version = 1.0",
                         "installed_size_kb = abc", "(section = games",
                         "section = games AND",     "section < games",
                         "section IN [a, b",        "title = x",
                         "section = 'unclosed",     "installed_size_kb 1 TO",
                         "section = games extra"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        souk_filter *f = NULL;
        char err[256] = "";
        CHECK(souk_filter_parse(schema, bad[i], strlen(bad[i]), &f, err, sizeof err) ==
              SOUK_EINVAL);
        CHECK(f == NULL && strstr(err, "filter: ") && strstr(err, "at byte"));
    }
    char deep[200] = "";
    for (int i = 0; i < 40; i++)
        strcat(deep, "(");
    souk_filter *f = NULL;
    char err[256];
    CHECK(souk_filter_parse(schema, deep, strlen(deep), &f, err, sizeof err) == SOUK_EINVAL);
    souk_find_opts o;
    memset(&o, 0, sizeof o);
    o.boost_field = -1;
    o.facets[0].field = fid("version"); /* not facetable */
    o.nfacets = 1;
    souk_find_result res;
    CHECK(souk_find(srch, NULL, &o, &res, err, sizeof err) == SOUK_EINVAL &&
          strstr(err, "not facetable"));
    o.nfacets = 0;
    o.sort[0] = (souk_sort_key){fid("section"), 0}; /* not sortable */
    o.nsort = 1;
    CHECK(souk_find(srch, NULL, &o, &res, err, sizeof err) == SOUK_EINVAL &&
          strstr(err, "not sortable"));
}

/* The searcher's document cache (souk_searcher_doc) gives what the reader gives, for every
 * document, in any order, with the budget held: a budget too small for all of them (only
 * some cached, the rest served from the reader), then one that holds them all (the second pass
 * answered from the cache), then none. */
static void test_doc_cache(void)
{
    souk_reader *r;
    REQUIRE(souk_reader_new(ix, &r) == 0);
    REQUIRE(souk_searcher_refresh(srch) == 0);
    size_t budgets[] = {64 << 10, 64 << 20, 0};
    for (int b = 0; b < 3; b++) {
        souk_searcher_set_doc_cache(srch, budgets[b]);
        souk_doc_cache_stats st0, st;
        souk_searcher_doc_cache_stats(srch, &st0);
        size_t bad = 0, served = 0;
        for (int pass = 0; pass < 2; pass++) {
            for (size_t k = 0; k < nrec; k++) {
                /* a stride through the records so neighbouring lookups share no set */
                const rec *x = &recs[(k * 7919) % nrec];
                const char *id, *json, *id2, *json2;
                size_t il, jl, il2, jl2;
                REQUIRE(souk_searcher_doc(srch, x->docid, &id, &il, &json, &jl) == 0);
                char *keep = malloc(il + jl + 1);
                REQUIRE(keep);
                memcpy(keep, id, il);
                memcpy(keep + il, json, jl);
                REQUIRE(souk_reader_doc(r, x->docid, &id2, &il2, &json2, &jl2) == 0);
                bad += il != il2 || jl != jl2 || memcmp(keep, id2, il) != 0 ||
                       memcmp(keep + il, json2, jl) != 0 || il != strlen(x->id) ||
                       memcmp(id, x->id, il) != 0;
                free(keep);
                served++;
            }
            souk_searcher_doc_cache_stats(srch, &st);
            CHECK(st.bytes <= budgets[b]);
        }
        CHECK_EQ_U64(bad, 0);
        CHECK_EQ_U64(st.hits - st0.hits + st.misses - st0.misses, budgets[b] ? served : 0);
        printf("doc cache, budget %zu bytes: %llu hits, %llu misses, %zu bytes held\n", budgets[b],
               (unsigned long long)(st.hits - st0.hits),
               (unsigned long long)(st.misses - st0.misses), st.bytes);
        if (b == 0) /* some of the second pass came from the cache, not all */
            CHECK(st.hits > st0.hits && st.hits - st0.hits < nrec);
        if (b == 1) /* nearly all the second pass (a set holds 4 of the docids it is given) */
            CHECK(st.hits - st0.hits >= nrec * 95 / 100);
        if (b == 2)
            CHECK_EQ_U64(st.bytes, 0);
    }
    souk_reader_free(r);
}

int main(void)
{
    souk_alloc_init();
    const char *src = debian_catalog();
    if (!src)
        return TEST_SKIP;
    char dir[] = "/tmp/souk-test-browse-XXXXXX";
    REQUIRE(mkdtemp(dir));
    char cmd[8192], file[512], data[512], err[512];
    snprintf(file, sizeof file, "%s/debian.ndjson", dir);
    snprintf(data, sizeof data, "%s/index", dir);
    REQUIRE(kit_debian_records(file, NREC) == 0);
    snprintf(cmd, sizeof cmd,
             "'%s/souk-index' --data '%s' --schema '%s/indexer/schemas/debian-packages.json' "
             "catalog '%s' >/dev/null",
             SOUK_BIN_DIR, data, SOUK_SOURCE_DIR, file);
    REQUIRE(system(cmd) == 0);
    REQUIRE(souk_index_open(data, NULL, SOUK_INDEX_RDONLY, &ix, err, sizeof err) == 0);
    schema = souk_index_schema(ix);
    REQUIRE(souk_searcher_new(ix, &srch) == 0);
    load(file);
    test_filters();
    test_number_boundaries();
    test_facets();
    test_sort();
    test_errors();
    test_doc_cache();
    souk_searcher_free(srch);
    souk_index_close(ix);
    for (size_t i = 0; i < nrec; i++) {
        free(recs[i].id);
        free(recs[i].section);
        for (int k = 0; k < recs[i].ntags; k++)
            free(recs[i].tags[k]);
        free(recs[i].tags);
    }
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    return check_failures ? 1 : 0;
}
