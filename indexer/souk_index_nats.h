/* souk_index_nats.h: souk-index following a NATS JetStream stream (--from nats://...), for the
 * catalog and the behaviour events alike (docs/scaling.md). The follower fetches batches from a
 * durable pull consumer and hands each message to a sink, which applies it to its store; the
 * sink commits a batch together with the stream sequence of its last message in one LMDB
 * transaction, and only then is the batch acknowledged. On (re)start the consumer is created
 * anew to deliver from the stored sequence + 1, not from its ack floor: a node killed at any
 * moment applies every message exactly once. */
#ifndef SOUK_INDEX_NATS_H
#define SOUK_INDEX_NATS_H

#include "souk/events.h"
#include "souk/index.h"

#include <signal.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>

/* What the follower feeds. Every callback runs on the follower's thread. */
typedef struct nf_sink {
    /* The sequence committed for the stream named fp ("nats:STREAM:<created ns>"): *seq, 0 when
     * none; *other 1 when the store's position is of something else (a file, another stream
     * or the same name created anew). */
    int (*applied)(void *ctx, const char *fp, uint64_t *seq, int *other);
    /* Buffers one message (a rejected record is the sink's to report, not an error); nonzero
     * with err set stops the follower. */
    int (*apply)(void *ctx, uint64_t seq, const char *data, size_t len, char *err, size_t errlen);
    /* Commits what was buffered with seq and fp as the stream position, in one transaction. */
    int (*commit)(void *ctx, uint64_t seq, const char *fp, char *err, size_t errlen);
    /* Called when the stream is drained after a commit (the catalog syncs its spelling table);
     * may be NULL. */
    void (*caught_up)(void *ctx);
    void *ctx;
} nf_sink;

typedef struct nf_opts {
    const char *url;         /* nats://HOST:PORT[,HOST:PORT...]/STREAM */
    const char *durable;     /* the consumer's durable name */
    const char *filter;      /* subject filter, e.g. "events.eu.*"; NULL: the whole stream */
    const char *status_path; /* the replication status file the server reads */
    const char *kind;        /* "catalog" or "events", in the status file */
    size_t batch;            /* messages per commit at most */
    int until_caught_up;     /* stop once every message in the stream is applied */
    int quiet;
    volatile sig_atomic_t *stop;
} nf_opts;

typedef struct nf_stats {
    uint64_t messages; /* delivered to this run */
    uint64_t applied;  /* handed to the sink */
    uint64_t skipped;  /* at or below the applied sequence: redeliveries */
    uint64_t commits;
    uint64_t restarts;    /* consumers created (1 + recoveries) */
    uint64_t applied_seq; /* committed sequence at the end */
    uint64_t stream_last; /* the stream's last sequence, as last seen */
    double seconds;
} nf_stats;

/* Follows the stream until *stop (or, with until_caught_up, until drained). Connection losses,
 * a node down and leader elections are waited out (the status file says so meanwhile). Returns
 * 0, or -1 with err on a sink failure or a bad address. */
int nf_follow(const nf_sink *s, const nf_opts *o, nf_stats *st, char *err, size_t errlen);

typedef struct nf_catalog_stats {
    uint64_t records, rejected;
    souk_commit_stats commit; /* added, replaced, unchanged, deleted, delete_missing */
} nf_catalog_stats;

/* The caught-up hook (souk_ingest_opts.caught_up's signature). */
typedef int (*nf_catalog_hook)(void *ctx, souk_index *ix, char *err, size_t errlen);

/* Follows a catalog stream into ix: each message one NDJSON record, parsed and buffered as the
 * file ingest does (rejected records go to rejects as {"seq","error"} and the first ten to
 * stderr), each batch committed with its last sequence as the index's stream position
 * (offset = line = sequence, fingerprint "nats:STREAM:<created>"). hook (may be NULL) runs when
 * the stream is drained after a commit. */
int nf_follow_catalog(souk_index *ix, FILE *rejects, nf_catalog_hook hook, void *hook_ctx,
                      const nf_opts *o, nf_stats *st, nf_catalog_stats *cs, char *err,
                      size_t errlen);

typedef struct nf_events_stats {
    uint64_t events, rejected;
    souk_ev_counts counts; /* stored, anonymous, duplicate, suppressed, expired */
} nf_events_stats;

/* Follows an event stream into s: each message one NDJSON event (souk_event_parse; rejected
 * ones reported on stderr by sequence, without their content), each batch added with
 * souk_events_add_seq at now_ms (0: the clock). */
int nf_follow_events(souk_events *s, int64_t now_ms, const nf_opts *o, nf_stats *st,
                     nf_events_stats *es, char *err, size_t errlen);

/* A durable name for the data directory dir when none is given: "souk-" and 16 hex digits of a
 * BLAKE2b of the host name and dir's real path. */
void nf_default_durable(const char *dir, const char *kind, char out[40]);

#endif
