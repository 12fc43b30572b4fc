/* bench_main.c: souk-bench, the benchmark driver. Subcommands:
 *   souk-bench index [--catalog FILE.jsonl[.xz]] [--work DIR] [--engines souk,xapian,fts5,sphinx]
 *   souk-bench search [--catalog FILE.jsonl[.xz]] [--work DIR] [--rounds N] [--keep]
 *   souk-bench facets [--catalog FILE.jsonl[.xz]] [--work DIR] [--rounds N] [--keep]
 *   souk-bench http [--catalog FILE.jsonl[.xz]] [--work DIR] [--duration S] [--conns N] [--keep]
 * Each prints a human report and, last, one JSON line with the results. */
#include "bench.h"
#include "souk/souk.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    souk_alloc_init();
    if (argc < 2) {
        fprintf(stderr, "usage: souk-bench index|search|facets|http [options]\n");
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
    fprintf(stderr, "souk-bench: unknown benchmark '%s'\n", argv[1]);
    return 2;
}
