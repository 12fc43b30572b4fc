/* bench_main.c: souk-bench, the benchmark driver. Subcommands:
 *   souk-bench index [--catalog FILE.jsonl[.xz]] [--work DIR] [--engines souk,xapian,fts5,sphinx]
 *   souk-bench search [--catalog FILE.jsonl[.xz]] [--work DIR] [--rounds N] [--keep]
 *   souk-bench facets [--catalog FILE.jsonl[.xz]] [--work DIR] [--rounds N] [--keep]
 *   souk-bench http [--catalog FILE.jsonl[.xz]] [--work DIR] [--duration S] [--conns N] [--keep]
 *   souk-bench events [--work DIR] [--duration S] [--conns N] [--searches N] [--keep] [--no-http]
 *   souk-bench reco [--work DIR] [--data movielens|groceries|both] [--ease-min N] [--http] [--keep]
 * Each prints a human report and, last, one JSON line with the results. */
#include "bench.h"
#include "souk/buf.h"
#include "souk/souk.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <time.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int bench_locate(char *root, size_t rootlen, char *bindir, size_t binlen)
{
    /* The binaries sit beside this one, wherever the build tree is. */
    if (bindir) {
        ssize_t n = readlink("/proc/self/exe", bindir, binlen - 1);
        if (n <= 0 || (size_t)n >= binlen - 1)
            return -1;
        bindir[n] = '\0';
        char *slash = strrchr(bindir, '/');
        if (slash == NULL)
            return -1;
        *slash = '\0';
    }
    /* The source tree: $SOUK_SOURCE_DIR, else the one this binary was configured from (a build
     * tree may be anywhere, so it is not found from the binary's own path). */
    const char *src = getenv("SOUK_SOURCE_DIR");
    if (!src || !src[0])
        src = SOUK_SOURCE_DIR;
    if ((size_t)snprintf(root, rootlen, "%s", src) >= rootlen)
        return -1;
    return 0;
}

int bench_catalog(const char *root, char *catalog, size_t size)
{
    if (!catalog[0])
        snprintf(catalog, size, "%s/../shared/data/catalog/debian-packages.jsonl.xz", root);
    if (access(catalog, R_OK) != 0) {
        printf("SKIP: catalog %s not found\n", catalog);
        return 1;
    }
    return 0;
}

int bench_workdir(const char *name, char *work, size_t size)
{
    if (!work[0]) {
        snprintf(work, size, "/tmp/souk-bench-%s.XXXXXX", name);
        if (!mkdtemp(work)) {
            fprintf(stderr, "souk-bench %s: mkdtemp: %s\n", name, strerror(errno));
            return -1;
        }
    } else if (mkdir(work, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "souk-bench %s: cannot create %s: %s\n", name, work, strerror(errno));
        return -1;
    }
    return 0;
}

int bench_index_debian(const char *name, const char *catalog, const char *root, const char *bindir,
                       const char *dir)
{
    char probe[PATH_MAX + 16], cmd[4 * PATH_MAX + 256];
    if (snprintf(probe, sizeof probe, "%s/data.mdb", dir) >= (int)sizeof probe) {
        fprintf(stderr, "souk-bench %s: path too long: %s\n", name, dir);
        return -1;
    }
    if (access(probe, R_OK) == 0)
        return 0;
    if (snprintf(cmd, sizeof cmd,
                 "xz -dcf '%s' | '%s/souk-index' --data '%s' --schema "
                 "'%s/indexer/schemas/debian-packages.json' catalog - >/dev/null",
                 catalog, bindir, dir, root) >= (int)sizeof cmd) {
        fprintf(stderr, "souk-bench %s: paths too long\n", name);
        return -1;
    }
    if (system(cmd) != 0) {
        fprintf(stderr, "souk-bench %s: indexing %s failed\n", name, catalog);
        return -1;
    }
    return 0;
}

void bench_grow(void **p, size_t *cap, size_t need, size_t elem_size)
{
    if (souk_grow(p, cap, need, elem_size, SIZE_MAX)) {
        fprintf(stderr, "souk-bench: out of memory\n");
        exit(1);
    }
}

int64_t bench_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double bench_pct(double *v, size_t n, double p)
{
    if (!n)
        return NAN;
    qsort(v, n, sizeof *v, cmp_d);
    size_t i = (size_t)((double)n * p);
    return v[i < n ? i : n - 1];
}

int main(int argc, char **argv)
{
    souk_alloc_init();
    if (argc < 2) {
        fprintf(stderr, "usage: souk-bench "
                        "index|search|facets|http|profiles|events|reco|rank-eval|tune|cluster "
                        "[options]\n");
        return 2;
    }
    if (strcmp(argv[1], "index") == 0)
        return bench_index(argc - 2, argv + 2);
    if (strcmp(argv[1], "search") == 0)
        return bench_search(argc - 2, argv + 2);
    if (strcmp(argv[1], "facets") == 0)
        return bench_facets(argc - 2, argv + 2);
    if (strcmp(argv[1], "http") == 0)
        return bench_http(argc - 2, argv + 2);
    if (strcmp(argv[1], "profiles") == 0)
        return bench_profiles(argc - 2, argv + 2);
    if (strcmp(argv[1], "events") == 0)
        return bench_events(argc - 2, argv + 2);
    if (strcmp(argv[1], "reco") == 0)
        return bench_reco(argc - 2, argv + 2);
    if (strcmp(argv[1], "rank-eval") == 0)
        return bench_rank_eval(argc - 2, argv + 2);
    if (strcmp(argv[1], "cluster") == 0)
        return bench_cluster(argc, argv);
    if (strcmp(argv[1], "tune") == 0)
        return bench_tune(argc - 2, argv + 2);
    fprintf(stderr, "souk-bench: unknown benchmark '%s'\n", argv[1]);
    return 2;
}
