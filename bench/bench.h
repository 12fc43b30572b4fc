/* bench.h: entry points of souk-bench's benchmarks. */
#ifndef SOUK_BENCH_H
#define SOUK_BENCH_H

/* souk-bench index: indexing throughput, memory and size, Souk beside Xapian, FTS5, Sphinx. */
int bench_index(int argc, char **argv);

/* souk-bench search: query throughput and latency, Souk beside Xapian, same results. */
int bench_search(int argc, char **argv);

/* souk-bench http: the query server under h2load, beside its in-process and nginx ceilings. */
int bench_http(int argc, char **argv);

/* souk-bench facets: filter + 3 facets over the whole match set, Souk beside Xapian's
 * ValueCountMatchSpy. */
int bench_facets(int argc, char **argv);

#endif
