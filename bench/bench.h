/* bench.h: entry points of souk-bench's benchmarks. */
#ifndef SOUK_BENCH_H
#define SOUK_BENCH_H

#include <stddef.h>
#include <stdint.h>

/* The set-up the benchmarks share (bench_main.c). */

/* The project's source tree ($SOUK_SOURCE_DIR, else the tree the build was configured from, so a
 * build directory may be anywhere) and, when bindir is not NULL, this executable's folder (where
 * souk-index and souk-server are). Returns 0, or -1 when a path does not fit or
 * /proc/self/exe cannot be read. */
int bench_locate(char *root, size_t rootlen, char *bindir, size_t binlen);

/* The catalog: catalog as given (--catalog), or when empty the Debian catalog of the shared data
 * (../shared/data/catalog/debian-packages.jsonl.xz). Returns 0 when it is readable, or 1 after
 * printing the SKIP line. */
int bench_catalog(const char *root, char *catalog, size_t size);

/* The work folder of benchmark `name`: work as given (--work, created when missing), or when
 * empty a fresh /tmp/souk-bench-NAME.XXXXXX. Returns 0, or -1 with a message. */
int bench_workdir(const char *name, char *work, size_t size);

/* Indexes the Debian catalog (xz or plain NDJSON) into dir with souk-index from bindir and the
 * schema of the source tree root, unless dir already holds an index. Returns 0, or -1 with a
 * message naming the benchmark. */
int bench_index_debian(const char *name, const char *catalog, const char *root, const char *bindir,
                       const char *dir);

/* souk-bench index: indexing throughput, memory and size, Souk beside Xapian, FTS5, Sphinx. */
int bench_index(int argc, char **argv);

/* souk-bench search: query throughput and latency, Souk beside Xapian, same results. */
int bench_search(int argc, char **argv);

/* souk-bench http: the query server under h2load, beside its in-process and nginx ceilings. */
int bench_http(int argc, char **argv);

/* souk-bench facets: filter + 3 facets over the whole match set, Souk beside Xapian's
 * ValueCountMatchSpy. */
int bench_facets(int argc, char **argv);

/* souk-bench profiles: what a ranking profile (current, curated, an older version) costs a
 * search, through the server's request handler. */
int bench_profiles(int argc, char **argv);

/* souk-bench events: the behaviour-event store on MovieLens: replay throughput in process and
 * over HTTP, the cost of a user token on a search, and an erasure under search load. */
int bench_events(int argc, char **argv);

/* souk-bench reco: the recommenders' offline evaluation (docs/evaluation.md) on MovieLens and
 * Groceries beside popularity, item-kNN and EASE, and with --http their serving latency. */
int bench_reco(int argc, char **argv);

/* souk-bench cluster (bench_cluster.c): catalog ingest through NATS JetStream beside a file,
 * replicas' digests, replica lag under a sustained event load. */
int bench_cluster(int argc, char **argv);

/* souk-bench rank-eval (bench_rank_eval.c): POST /v1/rank-eval beside the same evaluation over
 * GET /v1/search and over the engine, on Cranfield. */
int bench_rank_eval(int argc, char **argv);
/* souk-bench tune: a ranking profile tuned on Cranfield evaluated on CACM and the other way
 * round (bench_tune.c, tests/kit/tune.h). */
int bench_tune(int argc, char **argv);

/* Wall-clock milliseconds since the epoch (bench_main.c). */
int64_t bench_wall_ms(void);
/* The p-quantile (0..1) of v[0..n), which it sorts; NAN when n is 0 (bench_main.c). */
double bench_pct(double *v, size_t n, double p);
/* souk_grow (souk/buf.h) with no cap, for the benchmarks' own lists: exits with a message when
 * out of memory, as a benchmark cannot go on without its data (bench_main.c). */
void bench_grow(void **p, size_t *cap, size_t need, size_t elem_size);

#endif
