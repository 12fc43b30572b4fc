/* bench_search.c: `souk-bench search`, the query benchmark. In one process, single thread,
 * warm, with identical queries, analysis and top-k, it runs Souk and Xapian side by side on the
 * Debian catalog: the same analyzed documents go into both (tests/kit/oracle.h builds the Xapian
 * database from the Souk index, docid for docid). Query classes, from the real query logs in
 * ../shared/data/queries/ and from document text:
 *   or      2-3-word queries, default operator OR
 *   and     the same queries, default operator AND
 *   phrase  2-word phrases taken from package titles
 * For each class it reports q/s, p50 and p99 for both engines, the ratio, and whether Souk's top
 * 10 equals Xapian's full ranking cut at 10 for every query. The same queries also run on SQLite
 * FTS5 in-process (porter unicode61, bm25 rank; its ranking formula differs, so its overlap@10
 * with Souk's top 10 is reported beside its speed), and on Sphinx's searchd over SphinxQL (the
 * `souk-bench index` Sphinx index, searchd started on 127.0.0.1 for the run and stopped after).
 * The last line is JSON.
 *
 *   souk-bench search [--catalog FILE.jsonl[.xz]] [--corpus debian|large] [--work DIR]
 *                     [--rounds N] [--keep]
 *
 * --corpus large searches a corpus of over 500,000 real documents instead (bench/corpus.c:
 * the Debian catalog, GCIDE, WordNet and CC-CEDICT), with indexer/schemas/ircoll.json.
 *
 * With --work DIR naming a directory a --keep run left, the indexes there are reused (for
 * profiling the query path alone). */
#include "bench.h"
#include "oracle.h"
#include "corpus.h"
#include "peers.h"
#include "souk/ingest.h"
#include "souk/schema.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <fcntl.h>
#include <mysql.h>
#include <netinet/in.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <limits.h>
#include <time.h>
#include <unistd.h>

#define K 10

typedef struct qset {
    const char *name;
    char **q;
    size_t n, cap;
    unsigned flags;
} qset;

typedef struct result {
    double qps, p50, p99, mean;
} result;

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static void qs_add(qset *s, const char *q)
{
    bench_grow((void **)&s->q, &s->cap, s->n + 1, sizeof *s->q);
    s->q[s->n++] = strdup(q);
}

static int words(const char *q)
{
    int n = 0, in = 0;
    for (const char *p = q; *p; p++) {
        int w = (unsigned char)*p > ' ';
        n += w && !in;
        in = w;
    }
    return n;
}

/* Real queries of 2-3 words from the logs. */
static void load_queries(const char *root, qset *s, size_t max)
{
    char path[PATH_MAX + 128];
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    const char *files[] = {"queries/wands/query.csv", "queries/msmarco/topics.dl20.txt",
                           "queries/msmarco/topics.msmarco-passage.dev-subset.txt"};
    for (size_t f = 0; f < 3 && s->n < max; f++) {
        snprintf(path, sizeof path, "%s/../shared/data/%s", root, files[f]);
        FILE *in = fopen(path, "r");
        if (!in)
            continue;
        while (s->n < max && (len = getline(&line, &cap, in)) > 0) {
            while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                line[--len] = 0;
            char *q = strchr(line, '\t');
            if (!q)
                continue;
            q++;
            char *end = strchr(q, '\t');
            if (end)
                *end = 0;
            int w = words(q);
            if (w >= 2 && w <= 3)
                qs_add(s, q);
        }
        fclose(in);
    }
    snprintf(path, sizeof path, "%s/../shared/data/queries/algolia-bestbuy/query_suggestions.json",
             root);
    FILE *in = fopen(path, "r");
    if (in) {
        fseek(in, 0, SEEK_END);
        long sz = ftell(in);
        fseek(in, 0, SEEK_SET);
        char *buf = malloc((size_t)sz + 1);
        if (fread(buf, 1, (size_t)sz, in) == (size_t)sz) {
            buf[sz] = 0;
            cJSON *j = cJSON_Parse(buf), *e;
            cJSON_ArrayForEach(e, j)
            {
                cJSON *q = cJSON_GetObjectItem(e, "query");
                if (cJSON_IsString(q) && words(q->valuestring) >= 2 && words(q->valuestring) <= 3 &&
                    s->n < max + 600)
                    qs_add(s, q->valuestring);
            }
            cJSON_Delete(j);
        }
        free(buf);
        fclose(in);
    }
    free(line);
}

/* 2-word phrases from the stored titles. */
static void load_phrases(souk_reader *r, qset *s, size_t max)
{
    for (uint32_t d = 1; s->n < max && d < 200000; d += 97) {
        const char *id, *json;
        size_t il, jl;
        if (souk_reader_doc(r, d, &id, &il, &json, &jl))
            break;
        cJSON *j = cJSON_ParseWithLength(json, jl);
        cJSON *t = j ? cJSON_GetObjectItem(j, "title") : NULL;
        if (cJSON_IsString(t)) {
            char a[64], b[64];
            if (sscanf(t->valuestring, "%63[A-Za-z] %63[A-Za-z]", a, b) == 2) {
                char q[160];
                snprintf(q, sizeof q, "\"%s %s\"", a, b);
                qs_add(s, q);
            }
        }
        cJSON_Delete(j);
    }
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static result summarize(double *lat, size_t n, double total_us)
{
    result r;
    qsort(lat, n, sizeof *lat, cmp_d);
    r.qps = n / (total_us / 1e6);
    r.p50 = lat[n / 2];
    r.p99 = lat[(size_t)(n * 0.99)];
    r.mean = total_us / n;
    return r;
}

/* Turns a query into an FTS5 expression of its words: OR (cls 0), AND (1) or one phrase (2).
 * Returns 0 when the query has no word. */
static int fts5_expr(const char *q, int cls, char *out, size_t cap)
{
    size_t n = 0;
    int words = 0, in = 0;
    const char *join = cls == 1 ? " AND " : " OR ";
    if (cls == 2)
        out[n++] = '"';
    for (const char *p = q; *p && n + 8 < cap; p++) {
        int w = isalnum((unsigned char)*p) || (unsigned char)*p >= 0x80;
        if (w && !in) {
            if (words && cls != 2) {
                size_t jl = strlen(join);
                memcpy(out + n, join, jl);
                n += jl;
            } else if (words) {
                out[n++] = ' ';
            }
            if (cls != 2)
                out[n++] = '"';
            words++;
        } else if (!w && in && cls != 2) {
            out[n++] = '"';
        }
        if (w)
            out[n++] = *p;
        in = w;
    }
    if (in && cls != 2)
        out[n++] = '"';
    if (cls == 2)
        out[n++] = '"';
    out[n] = 0;
    return words > 0;
}

/* Turns a query into a SphinxQL MATCH expression of its words: OR (cls 0: w1 | w2), AND (1: w1
 * w2) or one phrase (2: "w1 w2"). Returns 0 when the query has no word. */
static int sphinx_expr(const char *q, int cls, char *out, size_t cap)
{
    size_t n = 0;
    int words = 0, in = 0;
    if (cls == 2)
        out[n++] = '"';
    for (const char *p = q; *p && n + 8 < cap; p++) {
        int w = isalnum((unsigned char)*p) || (unsigned char)*p >= 0x80;
        if (w && !in && words) {
            if (cls == 0) {
                memcpy(out + n, " | ", 3);
                n += 3;
            } else {
                out[n++] = ' ';
            }
        }
        if (w) {
            out[n++] = *p;
            if (!in)
                words++;
        }
        in = w;
    }
    if (cls == 2)
        out[n++] = '"';
    out[n] = 0;
    return words > 0;
}

/* A free TCP port on 127.0.0.1 (the kernel's choice), or 0. */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int port = 0;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &al) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* Starts searchd for the Sphinx index in sdir on 127.0.0.1 and connects to it. Returns the
 * connection (and *pid) or NULL when Sphinx is not available. */
static MYSQL *sphinx_start(const char *sdir, pid_t *pid)
{
    char conf[PATH_MAX + 64], base[PATH_MAX + 64], line[1024];
    snprintf(base, sizeof base, "%s/sphinx.conf", sdir);
    snprintf(conf, sizeof conf, "%s/searchd.conf", sdir);
    FILE *in = fopen(base, "r"), *out = in ? fopen(conf, "w") : NULL;
    int port = free_port();
    if (!in || !out || !port) {
        if (in)
            fclose(in);
        if (out)
            fclose(out);
        return NULL;
    }
    while (fgets(line, sizeof line, in))
        fputs(line, out);
    fclose(in);
    fprintf(out,
            "searchd\n{\n    listen = 127.0.0.1:%d:mysql41\n    pid_file = %s/searchd.pid\n"
            "    log = %s/searchd.log\n    binlog_path =\n    workers = threads\n}\n",
            port, sdir, sdir);
    fclose(out);
    *pid = fork();
    if (*pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(devnull, 2);
        execlp("searchd", "searchd", "--config", conf, "--nodetach", (char *)NULL);
        _exit(127);
    }
    if (*pid < 0)
        return NULL;
    for (int i = 0; i < 100; i++) { /* up to 10 s for searchd to listen */
        MYSQL *m = mysql_init(NULL);
        if (m && mysql_real_connect(m, "127.0.0.1", "", "", NULL, (unsigned)port, NULL, 0))
            return m;
        if (m)
            mysql_close(m);
        int status;
        if (waitpid(*pid, &status, WNOHANG) == *pid)
            return NULL;
        usleep(100000);
    }
    return NULL;
}

static void sphinx_stop(MYSQL *m, pid_t pid)
{
    if (m)
        mysql_close(m);
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
}

/* Runs one SphinxQL top-10 query; fills ids (line numbers) and returns how many, or -1. */
static int sphinx_query(MYSQL *m, const char *expr, long *ids)
{
    char sql[4200];
    snprintf(sql, sizeof sql, "SELECT id FROM catalog WHERE MATCH('%s') LIMIT 10", expr);
    if (mysql_query(m, sql) != 0)
        return -1;
    MYSQL_RES *r = mysql_store_result(m);
    if (!r)
        return -1;
    int n = 0;
    MYSQL_ROW row;
    while ((row = mysql_fetch_row(r)) != NULL && n < 10)
        ids[n++] = atol(row[0]);
    mysql_free_result(r);
    return n;
}

/* The external id of each catalog line (1-based), for mapping FTS5 rowids. */
static char **line_ids(const char *ndjson, size_t *n)
{
    FILE *f = fopen(ndjson, "r");
    if (!f)
        return NULL;
    size_t cap = 70000, k = 1;
    char **ids = calloc(cap, sizeof *ids), *line = NULL;
    size_t lcap = 0;
    while (getline(&line, &lcap, f) > 0) {
        bench_grow((void **)&ids, &cap, k + 1, sizeof *ids);
        cJSON *j = cJSON_Parse(line);
        cJSON *id = j ? cJSON_GetObjectItem(j, "id") : NULL;
        ids[k++] = strdup(cJSON_IsString(id) ? id->valuestring : "");
        cJSON_Delete(j);
    }
    free(line);
    fclose(f);
    *n = k;
    return ids;
}

int bench_search(int argc, char **argv)
{
    char root[PATH_MAX - 128], catalog[PATH_MAX] = "", work[PATH_MAX - 128] = "", cmd[3 * PATH_MAX];
    int rounds = 5, keep = 0, large = 0, only = -1;
    if (bench_locate(root, sizeof root, NULL, 0) != 0)
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
        else if (strcmp(argv[i], "--corpus") == 0 && i + 1 < argc)
            large = strcmp(argv[++i], "large") == 0;
        else if (strcmp(argv[i], "--class") == 0 && i + 1 < argc) {
            /* One query class only, for profiling (perf record souk-bench search --class and). */
            i++;
            only = strcmp(argv[i], "or") == 0 ? 0 : strcmp(argv[i], "and") == 0 ? 1 : 2;
        } else {
            fprintf(stderr, "usage: souk-bench search [--catalog FILE] [--work DIR] "
                            "[--rounds N] [--keep] [--corpus large] [--class or|and|phrase]\n");
            return 2;
        }
    }
    if (bench_catalog(root, catalog, sizeof catalog))
        return 0;
    if (bench_workdir("search", work, sizeof work))
        return 1;
    char nd[PATH_MAX + 32], sdir[PATH_MAX + 32], xdir[PATH_MAX + 32], schema[PATH_MAX + 64];
    snprintf(nd, sizeof nd, "%s/catalog.ndjson", work);
    snprintf(sdir, sizeof sdir, "%s/souk", work);
    snprintf(xdir, sizeof xdir, "%s/xapian", work);
    snprintf(schema, sizeof schema, "%s/indexer/schemas/%s.json", root,
             large ? "ircoll" : "debian-packages");
    char err[512], probe[PATH_MAX + 64];
    souk_schema *sc;
    souk_index *ix;
    snprintf(probe, sizeof probe, "%s/souk/data.mdb", work);
    int reuse = access(probe, R_OK) == 0;
    snprintf(probe, sizeof probe, "%s/xapian/iamglass", work);
    reuse = reuse && access(probe, R_OK) == 0;
    if (reuse) {
        if (souk_index_open(sdir, NULL, SOUK_INDEX_RDONLY, &ix, err, sizeof err)) {
            fprintf(stderr, "souk-bench search: %s\n", err);
            return 1;
        }
        fprintf(stderr, "souk-bench search: reusing the indexes in %s\n", work);
        goto search;
    }
    snprintf(cmd, sizeof cmd, "xz -dcf '%s' > '%s'", catalog, nd);
    if (system(cmd) != 0)
        return 1;
    if (large) {
        /* The large corpus replaces the catalog file (the FTS5 peer indexes only the Debian
         * catalog's title/description, so it is skipped for this corpus). */
        char big[PATH_MAX + 32];
        size_t ndocs = 0;
        snprintf(big, sizeof big, "%s/large.ndjson", work);
        if (corpus_build(nd, work, big, &ndocs, err, sizeof err) != 0) {
            fprintf(stderr, "souk-bench search: %s\n", err);
            return 1;
        }
        fprintf(stderr, "souk-bench search: large corpus: %zu documents%s%s\n", ndocs,
                err[0] ? "; " : "", err);
        if (rename(big, nd) != 0)
            return 1;
    }
    if (souk_schema_load(schema, &sc, err, sizeof err) ||
        souk_index_open(sdir, sc, 0, &ix, err, sizeof err)) {
        fprintf(stderr, "souk-bench search: %s\n", err);
        return 1;
    }
    souk_schema_free(sc);
    int fd = open(nd, O_RDONLY);
    souk_ingest_opts io;
    memset(&io, 0, sizeof io);
    io.batch_docs = 10000000;
    io.threads = 2;
    souk_ingest_stats ist;
    if (fd < 0 || souk_ingest(ix, fd, nd, &io, &ist, err, sizeof err)) {
        fprintf(stderr, "souk-bench search: %s\n", err);
        return 1;
    }
    close(fd);
    fprintf(stderr, "souk-bench search: indexed %llu docs; building the Xapian oracle...\n",
            (unsigned long long)ist.added);
    if (oracle_build_xapian(ix, xdir)) {
        fprintf(stderr, "souk-bench search: cannot build the Xapian database\n");
        return 1;
    }
search:;
    /* SQLite FTS5 over the same catalog (built once, untimed; kept with --keep). */
    char fdir[PATH_MAX + 32], fdb[PATH_MAX + 64];
    snprintf(fdir, sizeof fdir, "%s/fts5", work);
    snprintf(fdb, sizeof fdb, "%s/fts5.db", fdir);
    if (!large && access(fdb, R_OK) != 0) {
        peer_index_result pr;
        if (access(nd, R_OK) != 0) {
            snprintf(cmd, sizeof cmd, "xz -dcf '%s' > '%s'", catalog, nd);
            if (system(cmd) != 0)
                return 1;
        }
        if (peer_fts5_index(nd, fdir, &pr) != 0)
            fprintf(stderr, "souk-bench search: FTS5: %s\n", pr.detail);
    }
    sqlite3 *fts = NULL;
    sqlite3_stmt *fq = NULL;
    size_t nlines = 0;
    char **lids = NULL;
    if (!large && sqlite3_open_v2(fdb, &fts, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(fts,
                           "SELECT rowid FROM catalog WHERE catalog MATCH ?1 ORDER BY rank "
                           "LIMIT 10",
                           -1, &fq, NULL) == SQLITE_OK)
        lids = line_ids(nd, &nlines);
    if (!lids)
        fprintf(stderr, "souk-bench search: FTS5 not available: %s\n",
                fts ? sqlite3_errmsg(fts) : "cannot open");
    /* Sphinx: the index `souk-bench index` builds (built here, untimed, if missing). */
    MYSQL *sph = NULL;
    pid_t sph_pid = -1;
    if (!large && lids) {
        char sdir[PATH_MAX + 32], spi[PATH_MAX + 64];
        snprintf(sdir, sizeof sdir, "%s/sphinx", work);
        snprintf(spi, sizeof spi, "%s/catalog.spi", sdir);
        if (access(spi, R_OK) != 0) {
            peer_index_result pr;
            if (peer_sphinx_index(nd, sdir, 0, &pr) != 0)
                fprintf(stderr, "souk-bench search: Sphinx: %s\n", pr.detail);
        }
        sph = sphinx_start(sdir, &sph_pid);
        if (!sph) {
            fprintf(stderr, "souk-bench search: Sphinx searchd not available\n");
            sphinx_stop(NULL, sph_pid);
            sph_pid = -1;
        }
    }
    souk_searcher *s;
    souk_xdb *x;
    if (souk_searcher_new(ix, &s) || souk_xdb_open(xdir, 0, &x, err, sizeof err))
        return 1;
    souk_stats st;
    souk_reader_stats(souk_searcher_reader(s), &st);
    size_t nf;
    const souk_qp_field *fields = souk_searcher_fields(s, &nf);
    qset sets[3] = {
        {"or", NULL, 0, 0, 0}, {"and", NULL, 0, 0, SOUK_QP_DEFAULT_AND}, {"phrase", NULL, 0, 0, 0}};
    load_queries(root, &sets[0], 1400);
    for (size_t i = 0; i < sets[0].n; i++)
        qs_add(&sets[1], sets[0].q[i]);
    load_phrases(souk_searcher_reader(s), &sets[2], 600);
    uint32_t *xd = malloc((st.docs + 1) * sizeof *xd);
    double *xs = malloc((st.docs + 1) * sizeof *xs);
    result rs[3][4];
    double overlap[3] = {0, 0, 0}, sph_overlap[3] = {0, 0, 0};
    int identical = 1;
    size_t mismatches = 0;
    printf("souk-bench search: %s, %llu docs; top %d; %d timed rounds; single thread, warm\n",
           large ? "large corpus" : "Debian catalog", (unsigned long long)st.docs, K, rounds);
    printf("%-7s %6s | %10s %8s %8s | %10s %8s %8s | %6s", "class", "queries", "souk q/s", "p50 us",
           "p99 us", "xapian q/s", "p50 us", "p99 us", "ratio");
    if (lids)
        printf(" | %9s %8s %8s %7s", "fts5 q/s", "p50 us", "p99 us", "ovl@10");
    if (sph)
        printf(" | %9s %8s %8s %7s", "sphinx q/s", "p50 us", "p99 us", "ovl@10");
    printf("\n");
    for (int c = 0; c < 3; c++) {
        qset *q = &sets[c];
        if (only >= 0 && c != only) {
            memset(rs[c], 0, sizeof rs[c]);
            continue;
        }
        souk_hit hits[K];
        size_t nh, nx;
        /* Identical results: Souk's top 10 against Xapian's full ranking (untimed). */
        for (size_t i = 0; i < q->n; i++) {
            souk_search_opts o = {K, SOUK_BM25_DEFAULT, 0, NULL, q->flags, 0, NULL};
            int a = souk_search(s, q->q[i], strlen(q->q[i]), &o, hits, &nh, NULL, err, sizeof err);
            int b = souk_xdb_search(x, q->q[i], strlen(q->q[i]), "en", fields, nf, q->flags, 0,
                                    (uint32_t)st.docs, xd, xs, &nx, NULL);
            if (a || b || !oracle_equal(q->q[i], hits, nh, xd, xs, nx, K)) {
                identical = 0;
                mismatches++;
            }
        }
        /* FTS5: overlap of its top 10 with Souk's (untimed). */
        size_t ov_n = 0;
        double ov_sum = 0;
        char expr[2048];
        for (size_t i = 0; lids && i < q->n; i++) {
            souk_search_opts o = {K, SOUK_BM25_DEFAULT, 0, NULL, q->flags, 0, NULL};
            if (!fts5_expr(q->q[i], c, expr, sizeof expr) ||
                souk_search(s, q->q[i], strlen(q->q[i]), &o, hits, &nh, NULL, err, sizeof err) !=
                    0 ||
                nh == 0)
                continue;
            sqlite3_reset(fq);
            sqlite3_bind_text(fq, 1, expr, -1, SQLITE_STATIC);
            size_t common = 0;
            while (sqlite3_step(fq) == SQLITE_ROW) {
                sqlite3_int64 row = sqlite3_column_int64(fq, 0);
                if (row <= 0 || (size_t)row >= nlines)
                    continue;
                for (size_t k = 0; k < nh; k++) {
                    const char *id, *json;
                    size_t il, jl;
                    if (souk_reader_doc(souk_searcher_reader(s), hits[k].docid, &id, &il, &json,
                                        &jl) == 0 &&
                        strlen(lids[row]) == il && memcmp(lids[row], id, il) == 0)
                        common++;
                }
            }
            ov_sum += (double)common / nh;
            ov_n++;
        }
        overlap[c] = ov_n ? ov_sum / ov_n : 0;
        /* Sphinx: the same overlap measure. */
        ov_n = 0;
        ov_sum = 0;
        for (size_t i = 0; sph && i < q->n; i++) {
            souk_search_opts o = {K, SOUK_BM25_DEFAULT, 0, NULL, q->flags, 0, NULL};
            long ids[10];
            int ns;
            if (!sphinx_expr(q->q[i], c, expr, sizeof expr) ||
                souk_search(s, q->q[i], strlen(q->q[i]), &o, hits, &nh, NULL, err, sizeof err) !=
                    0 ||
                nh == 0 || (ns = sphinx_query(sph, expr, ids)) < 0)
                continue;
            size_t common = 0;
            for (int r = 0; r < ns; r++) {
                if (ids[r] <= 0 || (size_t)ids[r] >= nlines)
                    continue;
                for (size_t k = 0; k < nh; k++) {
                    const char *id, *json;
                    size_t il, jl;
                    if (souk_reader_doc(souk_searcher_reader(s), hits[k].docid, &id, &il, &json,
                                        &jl) == 0 &&
                        strlen(lids[ids[r]]) == il && memcmp(lids[ids[r]], id, il) == 0)
                        common++;
                }
            }
            ov_sum += (double)common / nh;
            ov_n++;
        }
        sph_overlap[c] = ov_n ? ov_sum / ov_n : 0;
        double *lat = malloc(q->n * rounds * sizeof *lat);
        memset(&rs[c][2], 0, 2 * sizeof rs[c][2]);
        for (int e = 0; e < 4; e++) {
            if ((e == 2 && !lids) || (e == 3 && !sph))
                continue;
            size_t m = 0;
            double total = 0;
            for (int r = -1; r < rounds; r++) { /* round -1 warms up */
                for (size_t i = 0; i < q->n; i++) {
                    double t0 = now_us();
                    if (e == 0) {
                        souk_search_opts o = {K, SOUK_BM25_DEFAULT, 0, NULL, q->flags, 0, NULL};
                        souk_search(s, q->q[i], strlen(q->q[i]), &o, hits, &nh, NULL, err,
                                    sizeof err);
                    } else if (e == 3) {
                        long ids[10];
                        if (sphinx_expr(q->q[i], c, expr, sizeof expr))
                            sphinx_query(sph, expr, ids);
                    } else if (e == 2) {
                        /* The expression is built inside the timing, as a client would. */
                        if (fts5_expr(q->q[i], c, expr, sizeof expr)) {
                            sqlite3_reset(fq);
                            sqlite3_bind_text(fq, 1, expr, -1, SQLITE_STATIC);
                            while (sqlite3_step(fq) == SQLITE_ROW)
                                ;
                        }
                    } else {
                        souk_xdb_search(x, q->q[i], strlen(q->q[i]), "en", fields, nf, q->flags, 0,
                                        K, xd, xs, &nx, NULL);
                    }
                    double dt = now_us() - t0;
                    if (r >= 0) {
                        lat[m++] = dt;
                        total += dt;
                    }
                }
            }
            rs[c][e] = summarize(lat, m, total);
        }
        free(lat);
        printf("%-7s %6zu | %10.0f %8.0f %8.0f | %10.0f %8.0f %8.0f | %6.2f", q->name, q->n,
               rs[c][0].qps, rs[c][0].p50, rs[c][0].p99, rs[c][1].qps, rs[c][1].p50, rs[c][1].p99,
               rs[c][0].qps / rs[c][1].qps);
        if (lids)
            printf(" | %9.0f %8.0f %8.0f %7.2f", rs[c][2].qps, rs[c][2].p50, rs[c][2].p99,
                   overlap[c]);
        if (sph)
            printf(" | %9.0f %8.0f %8.0f %7.2f", rs[c][3].qps, rs[c][3].p50, rs[c][3].p99,
                   sph_overlap[c]);
        printf("\n");
    }
    printf("identical results: %s (%zu mismatching queries)\n", identical ? "yes" : "no",
           mismatches);
    /* The cost of a ranking profile with every signal on (docs/ranking.md): the same queries,
     * timed beside the default ranking in the same rounds, alternating per query. */
    const souk_schema *psc = souk_index_schema(ix);
    souk_rank_profile prof;
    memset(&prof, 0, sizeof prof);
    prof.bm25 = (souk_bm25){1.2, 1.0, 0.75, 0.5};
    const souk_field *pf[4] = {souk_schema_field(psc, "title", 5),
                               souk_schema_field(psc, "description", 11),
                               souk_schema_field(psc, "installed_size_kb", 17),
                               souk_schema_field(psc, "download_size_b", 15)};
    if (pf[0] && pf[1] && pf[2] && pf[3] && pf[0]->prefix[0] && pf[1]->prefix[0]) {
        prof.field[0] = pf[0]->id;
        prof.field_weight[0] = 3;
        prof.field[1] = pf[1]->id;
        prof.field_weight[1] = 1;
        prof.nfield_weights = 2;
        prof.proximity_weight = 0.5;
        prof.proximity_window = 5;
        prof.boosts[0] = (souk_boost_signal){pf[2]->id, SOUK_BOOST_LOG1P, 0.1, 0, 0, 0, 0};
        prof.boosts[1] = (souk_boost_signal){pf[3]->id, SOUK_BOOST_DECAY, 0.5, 0, 1e6, 1e5, 0.5};
        prof.nboosts = 2;
        printf("profile (k1 1.2, b 0.75, title 3, description 1, proximity 0.5, log1p and decay "
               "boosts) beside the default, same rounds:\n");
        for (int c = 0; c < 3; c++) {
            qset *q = &sets[c];
            if (only >= 0 && c != only)
                continue;
            souk_hit hits[K];
            size_t nh;
            double *lat[2] = {malloc(q->n * rounds * sizeof(double)),
                              malloc(q->n * rounds * sizeof(double))};
            double total[2] = {0, 0};
            size_t m = 0;
            for (int r = -1; r < rounds; r++)
                for (size_t i = 0; i < q->n; i++)
                    for (int e = 0; e < 2; e++) {
                        souk_search_opts o = {K, SOUK_BM25_DEFAULT, 0, NULL, q->flags,
                                              0, e ? &prof : NULL};
                        double t0 = now_us();
                        souk_search(s, q->q[i], strlen(q->q[i]), &o, hits, &nh, NULL, err,
                                    sizeof err);
                        double dt = now_us() - t0;
                        if (r >= 0) {
                            lat[e][m] = dt;
                            total[e] += dt;
                            m += e;
                        }
                    }
            result d = summarize(lat[0], m, total[0]), pr = summarize(lat[1], m, total[1]);
            printf("%-7s default %8.0f q/s p50 %5.0f p99 %6.0f | profile %8.0f q/s p50 %5.0f "
                   "p99 %6.0f | ratio %.2f\n",
                   q->name, d.qps, d.p50, d.p99, pr.qps, pr.p50, pr.p99, pr.qps / d.qps);
            free(lat[0]);
            free(lat[1]);
        }
    }
    printf("{\"qps_ratio_or\":%.3f,\"qps_ratio_and\":%.3f,\"qps_ratio_phrase\":%.3f,"
           "\"souk_qps_or\":%.0f,\"xapian_qps_or\":%.0f,\"souk_qps_and\":%.0f,"
           "\"xapian_qps_and\":%.0f,\"souk_qps_phrase\":%.0f,\"xapian_qps_phrase\":%.0f,"
           "\"p50_us_or\":%.1f,\"p99_us_or\":%.1f,\"p99_us_and\":%.1f,\"p99_us_phrase\":%.1f,"
           "\"xapian_p99_us_or\":%.1f,\"queries_or\":%zu,\"queries_and\":%zu,"
           "\"queries_phrase\":%zu,\"fts5_qps_or\":%.0f,\"fts5_qps_and\":%.0f,"
           "\"fts5_qps_phrase\":%.0f,\"fts5_overlap10_or\":%.3f,\"fts5_overlap10_and\":%.3f,"
           "\"fts5_overlap10_phrase\":%.3f,\"sphinx_qps_or\":%.0f,\"sphinx_qps_and\":%.0f,"
           "\"sphinx_qps_phrase\":%.0f,\"sphinx_overlap10_or\":%.3f,"
           "\"sphinx_overlap10_and\":%.3f,\"sphinx_overlap10_phrase\":%.3f,\"identical\":%s}\n",
           rs[0][0].qps / rs[0][1].qps, rs[1][0].qps / rs[1][1].qps, rs[2][0].qps / rs[2][1].qps,
           rs[0][0].qps, rs[0][1].qps, rs[1][0].qps, rs[1][1].qps, rs[2][0].qps, rs[2][1].qps,
           rs[0][0].p50, rs[0][0].p99, rs[1][0].p99, rs[2][0].p99, rs[0][1].p99, sets[0].n,
           sets[1].n, sets[2].n, rs[0][2].qps, rs[1][2].qps, rs[2][2].qps, overlap[0], overlap[1],
           overlap[2], rs[0][3].qps, rs[1][3].qps, rs[2][3].qps, sph_overlap[0], sph_overlap[1],
           sph_overlap[2], identical ? "true" : "false");
    sphinx_stop(sph, sph_pid);
    sqlite3_finalize(fq);
    sqlite3_close(fts);
    for (size_t i = 0; lids && i < nlines; i++)
        free(lids[i]);
    free(lids);
    free(xd);
    free(xs);
    souk_xdb_close(x);
    souk_searcher_free(s);
    souk_index_close(ix);
    if (!keep) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", work);
        if (system(cmd) != 0)
            fprintf(stderr, "souk-bench search: could not remove %s\n", work);
    }
    return identical ? 0 : 1;
}
