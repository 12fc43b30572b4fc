/* ingest.h: reading a catalog stream (NDJSON, one record a line) into the index, in batches.
 * Bad lines are rejected with their line number and reason, and written to a rejects file;
 * every good line still lands. The stream position is committed with each batch, so a rerun on
 * the same file resumes after the last commit, and a rerun from the start converges to the same
 * index (upserts of unchanged records are no-ops). */
#ifndef SOUK_INGEST_H
#define SOUK_INGEST_H

#include "souk/index.h"

#include <signal.h>
#include <stdio.h>

typedef struct souk_ingest_opts {
    size_t batch_docs;  /* commit after this many records (default 50000) */
    size_t batch_bytes; /* or when the batch holds this much memory (default 1 GiB) */
    FILE *rejects;      /* rejected lines as NDJSON {line, offset, error, record}; may be NULL */
    int follow;         /* at end of file, commit and wait for more (until *stop) */
    int from_start;     /* ignore a stored stream position */
    int progress;       /* progress line on stderr */
    int threads;        /* analysis threads (default: 2) */
    /* Called whenever the stream is caught up: after the commit that reached the end of the
     * available input, and once at the first catch-up of a run that had nothing new (so a
     * derived store missing or behind from an earlier run is repaired). The indexer program
     * brings the spelling table up to date here (souk_spelling_sync, souk/spelling.h).
     * A nonzero return is reported on stderr and counted in caught_up_failed; the index stays
     * committed. NULL: nothing. */
    int (*caught_up)(void *ctx, souk_index *ix, char *err, size_t errlen);
    void *caught_up_ctx;
    volatile sig_atomic_t *stop; /* nonzero: commit what is read and return; may be NULL */
} souk_ingest_opts;

typedef struct souk_ingest_stats {
    uint64_t lines;    /* lines read in this run */
    uint64_t records;  /* well-formed records */
    uint64_t rejected; /* lines rejected */
    uint64_t added, replaced, unchanged, deleted, delete_missing;
    uint64_t commits;
    uint64_t resumed_at; /* byte offset the run started from */
    int restarted;       /* the index was at another stream (or this one truncated or rotated
                            while followed): read from byte 0 (see souk_ingest) */
    double seconds;
    double commit_seconds;    /* of which spent writing batches */
    double wait_seconds;      /* of which waiting for analysis threads */
    double caught_up_seconds; /* of which in souk_ingest_opts.caught_up */
    int caught_up_failed;     /* a caught_up call failed (reported on stderr; index committed) */
} souk_ingest_stats;

/* Reads the stream from fd (a file, pipe or terminal) until end of file (or *stop in follow mode)
 * and writes it into ix. name is used in messages (and, following a regular file, is its path).
 * Returns 0, or an error code with err set when the index cannot be written (rejected lines are
 * not errors).
 *
 * A regular file resumes after the last commit's offset only when it is the same stream: it
 * holds at least that many bytes, the byte before the offset is a newline, and the hash of
 * every byte before it equals the one committed (docs/index-format.md, "Stream identity"). Any
 * other file is read from byte 0, with a message on stderr and st->restarted set: that is
 * exact, because ingest is idempotent (an unchanged record is a no-op). In follow mode a file
 * truncated below what was read, or replaced at its path, is also read again from byte 0 (the
 * new file is dup2'd onto fd). */
int souk_ingest(souk_index *ix, int fd, const char *name, const souk_ingest_opts *opts,
                souk_ingest_stats *st, char *err, size_t errlen);

#endif
