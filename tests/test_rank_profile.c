/* test_rank_profile.c: a ranking profile's signals (souk/rank.h, docs/ranking.md) applied by the
 * matcher on every path, and explanations that add up to the score. On Cranfield and CACM
 * (their own queries) and the Debian catalog (the query texts of WANDS, Best Buy and MS MARCO),
 * under a profile with every signal on (k1 and b, field weights, proximity, and on the catalog
 * three boosts: log1p, linear and decay):
 *   - pruned top 10 (MaxScore, block-max AND) equals the exhaustive top 10, and both equal the
 *     best 10 of every match scored by souk_search_each (the filters' path): the bounds account
 *     for every signal;
 *   - each hit's explanation parts add up to its score (1e-9) and name each signal;
 *   - a one-word query's score is the sum over the profile's fields of weight x the BM25 of the
 *     field's own term, searched on its own (an independent computation);
 *   - souk_find (filter, facets, request boost, sort, cursor) and browsing give each hit its
 *     score (boosts computed here from the stored document);
 *   - a profile of default values ranks exactly as no profile. */
#include "check.h"
#include "ircoll.h"
#include "querylog.h"
#include "tune.h"
#include "souk/browse.h"
#include "souk/ingest.h"
#include "souk/souk.h"

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <math.h>

#define K 10

static char tmp[] = "/tmp/souk-test-rank-profile-XXXXXX";
static size_t nqueries, nexplained, nsingle, nfind, nprox_hits;
static int parts_absent;

typedef struct parts_sum {
    double sum;
    int prox, boosts, terms;
    double prox_part;
} parts_sum;

static void on_part(void *ctx, const souk_explain_part *p)
{
    parts_sum *ps = ctx;
    ps->sum += p->part;
    if (p->kind == SOUK_EXPLAIN_PROXIMITY) {
        ps->prox++;
        ps->prox_part = p->part;
    } else if (p->kind == SOUK_EXPLAIN_BOOST) {
        ps->boosts++;
    } else {
        ps->terms++;
        CHECK(p->kind == SOUK_EXPLAIN_TERM);
    }
}

typedef struct all_hits {
    souk_hit *h;
    size_t n, cap;
} all_hits;

static int collect(void *ctx, uint32_t docid, double score)
{
    all_hits *a = ctx;
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 1024;
        a->h = realloc(a->h, a->cap * sizeof *a->h);
        REQUIRE(a->h);
    }
    a->h[a->n++] = (souk_hit){docid, score};
    return 0;
}

static int cmp_hit(const void *x, const void *y)
{
    const souk_hit *a = x, *b = y;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    return a->docid < b->docid ? -1 : a->docid > b->docid;
}

static int same_hits(const char *what, const souk_hit *a, size_t na, const souk_hit *b, size_t nb)
{
    if (na != nb) {
        fprintf(stderr, "%s: %zu hits vs %zu\n", what, na, nb);
        return 0;
    }
    for (size_t i = 0; i < na; i++)
        if (a[i].docid != b[i].docid || fabs(a[i].score - b[i].score) > 1e-9) {
            /* equal scores may tie in either order only if they are equal to the bit */
            fprintf(stderr, "%s: hit %zu: docid %u score %.17g vs docid %u score %.17g\n", what, i,
                    a[i].docid, a[i].score, b[i].docid, b[i].score);
            return 0;
        }
    return 1;
}

/* The boosts of p for the stored document docid, from its JSON (independent of the engine). */
static double boosts_from_doc(souk_searcher *s, const souk_rank_profile *p, uint32_t docid)
{
    const char *id, *json;
    size_t il, jl;
    REQUIRE(souk_reader_doc(souk_searcher_reader(s), docid, &id, &il, &json, &jl) == 0);
    cJSON *root = cJSON_ParseWithLength(json, jl);
    REQUIRE(root);
    const souk_schema *sc = souk_searcher_schema(s);
    double sum = 0;
    for (size_t i = 0; i < p->nboosts; i++) {
        const souk_boost_signal *b = &p->boosts[i];
        cJSON *v = cJSON_GetObjectItemCaseSensitive(root, sc->fields[b->field].name);
        if (!cJSON_IsNumber(v))
            continue;
        double x = v->valuedouble;
        if (b->fn == SOUK_BOOST_LOG1P)
            sum += x > 0 ? b->weight * log1p(x) : 0;
        else if (b->fn == SOUK_BOOST_LINEAR)
            sum += b->weight * x;
        else {
            double d = fabs(x - b->origin) - b->offset;
            sum += b->weight * pow(b->decay, (d > 0 ? d : 0) / b->scale);
        }
    }
    cJSON_Delete(root);
    return sum;
}

/* The score of the one-term query term for docid under bm25 (0 when docid lacks it). */
static double term_score(souk_searcher *s, const char *term, const souk_bm25 *bm, uint32_t docid)
{
    souk_qnode n = {.op = SOUK_QOP_TERM, .wqf = 1, .term = (char *)term, .term_len = strlen(term)};
    souk_query q = {.nodes = &n, .nnodes = 1, .root = 0};
    souk_search_opts o = {K, *bm, 0, NULL, 0, 0, NULL};
    double total = 0;
    parts_sum ps = {0};
    int rc = souk_search_explain_parts(s, &q, &o, docid, on_part, &ps, &total);
    if (rc == SOUK_ENOTFOUND)
        return 0;
    REQUIRE(rc == 0);
    return total;
}

/* Every check on one query under profile p. */
static void check_query(souk_searcher *s, const char *q, unsigned flags, const souk_rank_profile *p,
                        const char *name)
{
    char err[512], what[700];
    snprintf(what, sizeof what, "%s%s %.200s", name, flags ? " [AND]" : "", q);
    souk_hit pr[K], ex[K];
    size_t npr = 0, nex = 0;
    souk_search_opts o = {K, SOUK_BM25_DEFAULT, 0, NULL, flags, 0, p};
    int rc = souk_search(s, q, strlen(q), &o, pr, &npr, NULL, err, sizeof err);
    o.no_prune = 1;
    int rc2 = souk_search(s, q, strlen(q), &o, ex, &nex, NULL, err, sizeof err);
    CHECK(rc == rc2);
    if (rc)
        return; /* a query the parser refuses, with and without pruning alike */
    nqueries++;
    if (!same_hits(what, pr, npr, ex, nex)) {
        check_failures++;
        return;
    }
    /* Every match through souk_search_each, the filters' and facets' path. */
    souk_query *pq;
    size_t nf;
    const souk_qp_field *fields = souk_searcher_fields(s, &nf);
    REQUIRE(souk_query_parse(q, strlen(q), "en", fields, nf, flags, &pq, err, sizeof err) == 0);
    all_hits a = {0};
    REQUIRE(souk_search_each(s, pq, &o, collect, &a, err, sizeof err) == 0);
    if (a.n > 1)
        qsort(a.h, a.n, sizeof *a.h, cmp_hit);
    if (!same_hits(what, ex, nex, a.h, a.n < K ? a.n : K))
        check_failures++;
    /* Explanations: the parts add up to the score. */
    for (size_t i = 0; i < npr; i++) {
        parts_sum ps = {0};
        double total = 0;
        REQUIRE(souk_search_explain_parts(s, pq, &o, pr[i].docid, on_part, &ps, &total) == 0);
        nexplained++;
        if (fabs(ps.sum - pr[i].score) > 1e-9 || fabs(total - pr[i].score) > 1e-9) {
            fprintf(stderr, "%s: docid %u: parts add to %.17g, total %.17g, score %.17g\n", what,
                    pr[i].docid, ps.sum, total, pr[i].score);
            check_failures++;
        }
        CHECK(ps.prox == (p->proximity_weight != 0));
        CHECK_EQ_U64((uint64_t)ps.boosts, p->nboosts);
        nprox_hits += ps.prox_part > 0;
    }
    /* One word: the sum over the fields of weight x the field term's own BM25. */
    if (pq->nnodes == 1 && pq->nodes[0].op == SOUK_QOP_TERM && pq->nodes[0].term[0] == 'Z' &&
        p->nboosts == 0) {
        const souk_schema *sc = souk_searcher_schema(s);
        for (size_t i = 0; i < npr; i++) {
            double want = 0;
            for (size_t f = 0; f < p->nfield_weights; f++) {
                char t[600];
                snprintf(t, sizeof t, "Z%s%s", sc->fields[p->field[f]].prefix,
                         pq->nodes[0].term + 1);
                want += p->field_weight[f] * term_score(s, t, &p->bm25, pr[i].docid);
            }
            nsingle++;
            if (fabs(want - pr[i].score) > 1e-9 * (1 + fabs(want))) {
                fprintf(stderr, "%s: docid %u: fields give %.17g, the search %.17g\n", what,
                        pr[i].docid, want, pr[i].score);
                check_failures++;
            }
        }
    }
    souk_query_free(pq);
    free(a.h);
}

/* souk_find with a filter, facets and the request boost, then sorted with a cursor page, under
 * p: each hit's score is souk_search_each's plus the request boost; and browsing: the boosts. */
static void check_find(souk_searcher *s, const char *q, const souk_rank_profile *p,
                       const char *filter, int boost_field, int facet_field, int sort_field)
{
    char err[512];
    const souk_schema *sc = souk_searcher_schema(s);
    size_t nf;
    const souk_qp_field *fields = souk_searcher_fields(s, &nf);
    souk_query *pq = NULL;
    if (q)
        REQUIRE(souk_query_parse(q, strlen(q), "en", fields, nf, 0, &pq, err, sizeof err) == 0);
    souk_filter *f = NULL;
    if (filter)
        REQUIRE(souk_filter_parse(sc, filter, strlen(filter), &f, err, sizeof err) == 0);
    souk_find_opts fo;
    memset(&fo, 0, sizeof fo);
    fo.search = (souk_search_opts){0, SOUK_BM25_DEFAULT, 0, NULL, 0, 0, p};
    fo.filter = f;
    fo.limit = K;
    fo.boost_field = boost_field;
    fo.boost_weight = 0.25;
    if (facet_field >= 0) {
        fo.facets[0].field = facet_field;
        fo.facets[0].max_values = 5;
        fo.nfacets = 1;
    }
    for (int sorted = 0; sorted < 2; sorted++) {
        if (sorted) {
            fo.sort[0] = (souk_sort_key){sort_field, 1};
            fo.nsort = 1;
        }
        souk_find_result res;
        REQUIRE(souk_find(s, pq, &fo, &res, err, sizeof err) == 0);
        /* the next page through a cursor */
        souk_find_result res2;
        memset(&res2, 0, sizeof res2);
        souk_find_after after;
        if (res.nhits) {
            souk_find_position(&res, &fo, res.nhits - 1, &after);
            souk_find_opts fo2 = fo;
            fo2.after = &after;
            REQUIRE(souk_find(s, pq, &fo2, &res2, err, sizeof err) == 0);
        }
        souk_find_result *rs[2] = {&res, &res2};
        for (int r = 0; r < 2; r++)
            for (size_t i = 0; i < rs[r]->nhits; i++) {
                uint32_t d = rs[r]->hits[i].docid;
                double want, rb = souk_find_boost(rs[r], &fo, d, NULL);
                if (pq) {
                    parts_sum ps = {0};
                    double total = 0;
                    REQUIRE(souk_search_explain_parts(s, pq, &fo.search, d, on_part, &ps, &total) ==
                            0);
                    want = ps.sum + rb;
                    CHECK(fabs(total + rb - rs[r]->hits[i].score) < 1e-9);
                } else {
                    want = boosts_from_doc(s, p, d) + rb;
                }
                nfind++;
                if (fabs(want - rs[r]->hits[i].score) > 1e-9 * (1 + fabs(want))) {
                    fprintf(stderr, "find %s%s: docid %u: parts %.17g, score %.17g\n",
                            q ? q : "(browse)", sorted ? " sorted" : "", d, want,
                            rs[r]->hits[i].score);
                    check_failures++;
                }
            }
        souk_find_result_free(&res);
        souk_find_result_free(&res2);
    }
    souk_filter_free(f);
    souk_query_free(pq);
}

/* A profile of default values ranks as no profile, to the bit. */
static void check_default(souk_searcher *s, const qlist *qs)
{
    souk_rank_profile d;
    memset(&d, 0, sizeof d);
    d.bm25 = (souk_bm25)SOUK_BM25_DEFAULT;
    char err[512];
    size_t n = 0;
    for (size_t i = 0; i < qs->n; i++) {
        souk_hit a[K], b[K];
        size_t na = 0, nb = 0;
        souk_search_opts o = {K, SOUK_BM25_DEFAULT, 0, NULL, 0, 0, NULL};
        int rc = souk_search(s, qs->q[i], strlen(qs->q[i]), &o, a, &na, NULL, err, sizeof err);
        o.profile = &d;
        int rc2 = souk_search(s, qs->q[i], strlen(qs->q[i]), &o, b, &nb, NULL, err, sizeof err);
        CHECK(rc == rc2);
        CHECK_EQ_U64(na, nb);
        for (size_t k = 0; k < na && k < nb; k++)
            if (a[k].docid != b[k].docid || a[k].score != b[k].score) {
                fprintf(stderr, "default profile: %s: hit %zu differs\n", qs->q[i], k);
                check_failures++;
                break;
            }
        n++;
    }
    printf("test_rank_profile: default profile equal to no profile on %zu queries\n", n);
}

static void run_ircoll(ircoll_kind k, const char *rel)
{
    const char *dir = shared_data(rel);
    if (!dir) {
        parts_absent++;
        return;
    }
    char path[4096], err[512];
    snprintf(path, sizeof path, "%s", dir);
    ircoll *c;
    REQUIRE(ircoll_load(k, path, &c, err, sizeof err) == 0);
    snprintf(path, sizeof path, "%s/%s", tmp, ircoll_name(k));
    souk_index *ix;
    REQUIRE(tune_index(c, path, &ix, err, sizeof err) == 0);
    souk_searcher *s;
    REQUIRE(souk_searcher_new(ix, &s) == 0);
    const souk_schema *sc = souk_index_schema(ix);
    souk_rank_profile p;
    memset(&p, 0, sizeof p);
    p.bm25 = (souk_bm25){1.4, 1.0, 0.7, 0.5};
    const char *names[] = {"title", "body", "authors"};
    const double w[] = {2.0, 1.0, 0.5};
    for (int i = 0; i < 3; i++) {
        p.field[i] = souk_schema_field(sc, names[i], strlen(names[i]))->id;
        p.field_weight[i] = w[i];
    }
    p.nfield_weights = 3;
    p.proximity_weight = 0.7;
    p.proximity_window = 4;
    size_t before = nqueries;
    qlist qs = {0};
    for (size_t i = 0; i < c->nqueries; i++) {
        check_query(s, c->queries[i].text, 0, &p, ircoll_name(k));
        if (i % 4 == 0)
            check_query(s, c->queries[i].text, SOUK_QP_DEFAULT_AND, &p, ircoll_name(k));
        qlist_add(&qs, c->queries[i].text);
    }
    /* one-word queries: the field weights checked term by term */
    const char *words[] = {"boundary", "flow", "pressure", "algorithm", "compiler", "memory",
                           "heat",     "wing", "program",  "language",  "system",   "shock"};
    souk_rank_profile p1 = p;
    p1.proximity_weight = 0;
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        check_query(s, words[i], 0, &p1, ircoll_name(k));
    check_default(s, &qs);
    printf("test_rank_profile: %s: %zu queries checked\n", ircoll_name(k), nqueries - before);
    qlist_free(&qs);
    souk_searcher_free(s);
    souk_index_close(ix);
    ircoll_free(c);
}

static souk_index *build_debian(const char *deb)
{
    char cmd[8192], nd[512], dir[512], schema[4096], err[512];
    snprintf(nd, sizeof nd, "%s/debian.ndjson", tmp);
    snprintf(cmd, sizeof cmd, "xz -dc '%s' | head -n 15000 > '%s'", deb, nd);
    REQUIRE(system(cmd) == 0);
    snprintf(dir, sizeof dir, "%s/debian", tmp);
    snprintf(schema, sizeof schema, "%s/indexer/schemas/debian-packages.json", SOUK_SOURCE_DIR);
    souk_schema *sc;
    souk_index *ix;
    REQUIRE(souk_schema_load(schema, &sc, err, sizeof err) == 0);
    REQUIRE(souk_index_open(dir, sc, 0, &ix, err, sizeof err) == 0);
    souk_schema_free(sc);
    int fd = open(nd, O_RDONLY);
    REQUIRE(fd >= 0);
    souk_ingest_opts o;
    memset(&o, 0, sizeof o);
    o.batch_docs = 1000000;
    o.threads = 2;
    souk_ingest_stats st;
    REQUIRE(souk_ingest(ix, fd, nd, &o, &st, err, sizeof err) == 0);
    close(fd);
    return ix;
}

static void run_debian(void)
{
    const char *deb = debian_catalog();
    if (!deb) {
        parts_absent++;
        return;
    }
    souk_index *ix = build_debian(deb);
    souk_searcher *s;
    REQUIRE(souk_searcher_new(ix, &s) == 0);
    const souk_schema *sc = souk_index_schema(ix);
#define FIELD(n) (souk_schema_field(sc, n, strlen(n))->id)
    souk_rank_profile p;
    memset(&p, 0, sizeof p);
    p.bm25 = (souk_bm25){1.3, 1.0, 0.65, 0.5};
    /* The Debian schema gives only the title terms of its own (prefix S; the description's
     * prefixed copy would cost 71% more index, docs/benchmarks.md), so only it is weighted here;
     * Cranfield and CACM weight all three of their fields. */
    p.field[0] = FIELD("title");
    p.field_weight[0] = 3;
    p.nfield_weights = 1;
    p.proximity_weight = 0.6;
    p.proximity_window = 5;
    p.boosts[0] =
        (souk_boost_signal){FIELD("installed_size_kb"), SOUK_BOOST_LOG1P, 0.15, 0, 0, 0, 0};
    p.boosts[1] =
        (souk_boost_signal){FIELD("download_size_b"), SOUK_BOOST_DECAY, 1.5, 0, 2e6, 1e5, 0.5};
    p.boosts[2] =
        (souk_boost_signal){FIELD("installed_size_kb"), SOUK_BOOST_LINEAR, -1e-6, 0, 0, 0, 0};
    p.nboosts = 3;
    qlist qs = {0};
    const char *qp;
    size_t want = 0;
    if ((qp = shared_data("queries/wands/query.csv"))) {
        qlog_load_column(&qs, qp, 1, 480, 1);
        want += 470;
    }
    if ((qp = shared_data("queries/algolia-bestbuy/query_suggestions.json"))) {
        qlog_load_bestbuy(&qs, qp, 1000);
        want += 500;
    }
    if ((qp = shared_data("queries/msmarco/topics.msmarco-passage.dev-subset.txt"))) {
        qlog_load_column(&qs, qp, 1, qs.n + 400, 0);
        want += 390;
    }
    parts_absent += want < 1360;
    size_t before = nqueries;
    for (size_t i = 0; i < qs.n; i++) {
        check_query(s, qs.q[i], 0, &p, "debian");
        if (i % 4 == 0)
            check_query(s, qs.q[i], SOUK_QP_DEFAULT_AND, &p, "debian");
    }
    CHECK(nqueries - before >= want);
    /* one-word queries without boosts: the field weights checked term by term */
    souk_rank_profile p1 = p;
    p1.nboosts = 0;
    const char *words[] = {"editor", "python", "library", "server", "game", "font",
                           "kernel", "music",  "network", "image",  "mail", "database"};
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        check_query(s, words[i], 0, &p1, "debian");
    /* the storefront path and browsing */
    for (size_t i = 0; i < qs.n; i += 10)
        check_find(s, qs.q[i], &p, "installed_size_kb >= 0", FIELD("download_size_b"),
                   FIELD("section"), FIELD("installed_size_kb"));
    check_find(s, NULL, &p, "section = utils", -1, FIELD("section"), FIELD("installed_size_kb"));
    check_find(s, NULL, &p, NULL, FIELD("installed_size_kb"), -1, FIELD("download_size_b"));
    check_default(s, &qs);
    printf("test_rank_profile: debian: %zu queries checked\n", nqueries - before);
    qlist_free(&qs);
    souk_searcher_free(s);
    souk_index_close(ix);
}

int main(void)
{
    souk_alloc_init();
    REQUIRE(mkdtemp(tmp));
    run_ircoll(IRCOLL_CRANFIELD, "ir/cranfield");
    run_ircoll(IRCOLL_CACM, "ir/cacm");
    run_debian();
    printf("test_rank_profile: %zu queries, %zu explanations added up, %zu one-word hits checked "
           "field by field, %zu storefront hits, %zu hits with a proximity bonus\n",
           nqueries, nexplained, nsingle, nfind, nprox_hits);
    CHECK(nqueries >= 1600);
    CHECK(nprox_hits > 100);
    CHECK(nsingle > 100);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmp);
    if (!check_failures && parts_absent) {
        fprintf(stderr, "test_rank_profile: SKIP: %d part(s) had no data\n", parts_absent);
        return TEST_SKIP;
    }
    return check_done("test_rank_profile");
}
