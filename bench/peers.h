/* Peer engines for the indexing benchmark: index the same catalog NDJSON with SQLite FTS5 and
 * with Sphinx 2.2 (the `indexer` program) and report time, peak memory and on-disk sizes, so
 * that Souk's own indexing figures can be put next to them. */
#ifndef SOUK_BENCH_PEERS_H
#define SOUK_BENCH_PEERS_H

#include <stddef.h>
#include <sys/resource.h>
#include <sys/types.h>

/* Result of one peer indexing run. */
typedef struct peer_index_result {
    double seconds;     /* wall-clock time of the indexing itself */
    unsigned long docs; /* documents indexed */
    long peak_rss_kb;   /* peak resident memory of the process that indexed (child process) */
    unsigned long long index_bytes; /* postings + positions + dictionary bytes on disk */
    unsigned long long store_bytes; /* stored-document copy bytes (0 if the engine keeps none) */
    char detail[512];               /* which files/tables were counted, human readable */
} peer_index_result;

/* Index the catalog NDJSON file `ndjson` (one JSON object per line with string fields "id",
   "title", "description", "section" and array "tags") into the empty directory `workdir`.
   Return 0 on success, else -1 with a message in out->detail.
   About peak_rss_kb: it is the wait4() ru_maxrss of the child, and on Linux a forked child
   starts with the caller's resident pages (copied page tables), a figure the kernel keeps in
   the child's peak even across exec. So peak_rss_kb is max(caller RSS at fork, real peak) for
   Sphinx and roughly caller RSS + real use for FTS5; detail shows the caller's part. Call these
   from a small process (before loading anything big) for meaningful figures. */

/* SQLite FTS5. A forked child parses the NDJSON with cJSON and inserts title and description
   into a contentless FTS5 table (tokenize 'porter unicode61') of `workdir`/fts5.db in one
   transaction; `seconds` covers parse + insert + commit as timed by the child, `peak_rss_kb` is
   the child's (wait4), `index_bytes` is the size of fts5.db (contentless: all of it is index).
   Afterwards, untimed, the parent copies the documents (id, title, description, section, tags)
   into a plain table of `workdir`/store.db; `store_bytes` is the size of that file, i.e. what
   keeping the documents in SQLite would cost. `workdir` is created if missing and must be
   empty. No child process remains when the function returns. */
int peer_fts5_index(const char *ndjson, const char *workdir, peer_index_result *out);

/* Sphinx. The NDJSON is converted (untimed) to `workdir`/catalog.tsv (document id = line
   number, fields title and description; with `full`, also the catalog's keyword fields as
   string attributes and its numbers as integer attributes, title and description stored too,
   as Souk's schema keeps them), `workdir`/sphinx.conf is written (stem_en,
   min_word_len 1, mem_limit 256M) and `indexer --config sphinx.conf --all` is run as a child
   with its output in `workdir`/indexer.log. `seconds` and `peak_rss_kb` are those of that
   child; `docs` is the count the indexer reports; `index_bytes` is .spd + .spp + .spi;
   `store_bytes` is 0 (Sphinx 2.2 keeps no document copy). The indexer is looked up in PATH,
   or taken from the environment variable SPHINX_INDEXER if that is set. `workdir` is created
   if missing and must be empty. No child process remains when the function returns. */
int peer_sphinx_index(const char *ndjson, const char *workdir, int full, peer_index_result *out);

/* Helpers shared by the benchmarks. */

/* Monotonic clock in seconds. */
double bench_now_seconds(void);

/* dir + "/" + name into buf (size bytes); -1 when it does not fit. */
int bench_path_join(char *buf, size_t size, const char *dir, const char *name);

/* Resident set size of the calling process now, in kB; -1 if /proc is not readable. A child
   forked now starts with this much resident, and Linux keeps it in the child's peak RSS. */
long bench_rss_kb(void);

/* Waits for child pid (retrying on EINTR) and collects its resource usage; 0 or -1. */
int bench_wait_child(pid_t pid, int *status, struct rusage *ru);

/* Runs argv (looked up in PATH unless it holds a '/') with stdout, and stderr if err_too, going
   to out_path, and waits for it. Returns 0 when it ran (its wait status in *status, its resource
   usage in *ru), or -1 with a message in err when it could not be started or waited for. */
int bench_run(char *const argv[], const char *out_path, int err_too, int *status, struct rusage *ru,
              char *err, size_t errlen);

/* Describes a wait status in buf ("exit status N", "killed by signal N"). */
void bench_describe_status(int status, char *buf, size_t size);

#endif
