/* events.h: the behaviour-event store (engine/events/, docs/privacy.md, docs/events-format.md).
 *
 * An LMDB environment of its own (DIR/events/ beside the catalog, which never holds a user key),
 * keyed by pseudonyms (souk/keys.h). It holds the events, the features kept up to date as they
 * arrive (item popularity by day, per-user recent history, per-session sequences, item-item
 * co-occurrence counting distinct users), consent records, search history, tags, erasure jobs
 * and suppression records, and the per-user state behind distinct-user counts of analytics.
 * Every derived table is a function of the retained events (and consent, tag deletions): a
 * rebuild from them equals the incrementally maintained state (souk_events_check).
 *
 * Time is always passed in (now, in milliseconds since the epoch): the server and indexer pass
 * the clock, tests pass an injected one.
 *
 * Threads: one souk_events handle may be used by many threads; writes are serialized (by
 * LMDB's writer lock, across processes too), reads run in parallel. */
#ifndef SOUK_EVENTS_H
#define SOUK_EVENTS_H

#include "souk/keys.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum souk_ev_type {
    SOUK_EV_IMPRESSION = 0,
    SOUK_EV_VIEW,
    SOUK_EV_SEARCH,
    SOUK_EV_CLICK,
    SOUK_EV_CART,
    SOUK_EV_PURCHASE,
    SOUK_EV_FAVORITE,
    SOUK_EV_NTYPES
} souk_ev_type;

/* "impression", "view", ...; NULL out of range. */
const char *souk_ev_type_name(souk_ev_type t);

#define SOUK_ITEM_MAX 256    /* bytes of an item id (as the catalog's ids) */
#define SOUK_EVQUERY_MAX 256 /* bytes of a search event's query */
#define SOUK_COUNTRY_LEN 2

/* One event (P2: the allow-list). Strings are NUL-terminated copies. */
typedef struct souk_event {
    souk_ev_type type;
    char user[SOUK_USER_MAX + 1]; /* raw id; "" anonymous (then session may still be set) */
    char session[SOUK_USER_MAX + 1];
    char item[SOUK_ITEM_MAX + 1];     /* required except for search */
    char query[SOUK_EVQUERY_MAX + 1]; /* search only: the one free text allowed */
    int64_t ts_ms;
    char country[SOUK_COUNTRY_LEN + 1]; /* ISO 3166-1 alpha-2, upper case, or "" */
    char region[SOUK_REGION_MAX + 1];
    int32_t nhits; /* search events recorded by the server: hits found; -1 unknown */
} souk_event;

/* Parses one NDJSON line (P2). Known fields: user, session, type, item, query, ts (RFC 3339),
 * loc {country, region}. Unknown fields are dropped (counted in *dropped, may be NULL); a bad
 * field (wrong type, bad UTF-8, control characters, over its cap, a query on a non-search event,
 * an unknown type, a bad timestamp or country code) is SOUK_EINVAL with err naming the field
 * and the problem. */
int souk_event_parse(const char *line, size_t len, souk_event *ev, unsigned *dropped, char *err,
                     size_t errlen);

/* ------------------------------------------------------------------ the store */

typedef struct souk_events souk_events;

/* Retention periods in seconds (P15); 0 keeps forever. */
typedef struct souk_retention {
    int64_t events_s;      /* view/click/cart/purchase/favorite/search events (default 365 d) */
    int64_t impressions_s; /* impression events (exposure log, default 30 d) */
    int64_t history_s;     /* search history (default 180 d) */
} souk_retention;

typedef struct souk_consent {
    int recorded;        /* 0: no record, the defaults below apply */
    int personalization; /* P3 */
    int location;        /* P6 */
    int search_history;  /* P11 */
    int minor;           /* P7: non-personalized unless guardian_consent */
    int guardian_consent;
    uint32_t policy_version; /* P25: the policy version the record was given under */
    int64_t updated_ms;
} souk_consent;

typedef struct souk_events_opts {
    const souk_keyring *keys; /* pseudonymization ring (required; the store keeps no secret) */
    souk_retention retention;
    souk_consent consent_default; /* for users with no record (built-in: everything off) */
    uint32_t policy_version;      /* current policy; a purpose added after a record's version
                                     starts off for it (P25) */
    double halflife_days;         /* popularity decay (default 14) */
    uint32_t history_max;         /* per-user recent items kept for personalization (default 200) */
    uint32_t cooc_items_max;      /* per-user items that form co-occurrence pairs (default 256) */
    size_t map_max;               /* largest map (default 64 GiB) */
    /* Tags of an item (P8), from the catalog (e.g. "category:<section>"): writes up to max
     * NUL-terminated names of at most 63 bytes into tags and returns how many. NULL: no tags. */
    int (*item_tags)(void *arg, const char *item, char (*tags)[64], int max);
    void *item_tags_arg;
    int rdonly;
} souk_events_opts;

/* Opens (creating unless rdonly) the store of the data directory dir: it lives in dir/events/
 * (created mode 0700; its files 0600). Errors name the directory and the cause. */
int souk_events_open(const char *dir, const souk_events_opts *o, souk_events **out, char *err,
                     size_t errlen);
void souk_events_close(souk_events *s);

/* What happened to each event of a batch. */
typedef enum souk_ev_outcome {
    SOUK_EVO_STORED = 0, /* stored under the user's pseudonym (personalization on) */
    SOUK_EVO_ANONYMOUS,  /* stored under no user key (anonymous, or opted out: P5) */
    SOUK_EVO_DUPLICATE,  /* the same event is already stored (replays apply nothing twice) */
    SOUK_EVO_SUPPRESSED, /* the user was erased (P14) */
    SOUK_EVO_EXPIRED     /* older than its retention: not stored */
} souk_ev_outcome;

typedef struct souk_ev_counts {
    uint64_t stored, anonymous, duplicate, suppressed, expired;
} souk_ev_counts;

/* Adds n events in one transaction at time now, maintaining every feature. outcome (may be
 * NULL) gets one entry per event. A search event with a user and search_history consent is
 * also added to the user's search history. */
int souk_events_add(souk_events *s, const souk_event *ev, size_t n, int64_t now,
                    souk_ev_outcome *outcome, souk_ev_counts *counts, char *err, size_t errlen);

/* The inbox (engine/events/inbox.c): souk_events_enqueue appends n events to DIR/events/inbox.log
 * and makes them durable (one fdatasync; no raw id is stored: pseudonyms and event ids are
 * computed first; it never waits for an add) and returns what adding them would do as the
 * store stands (outcome and counts, as souk_events_add);
 * souk_events_drain adds everything queued in one souk_events_add and removes it from the
 * inbox, exactly once even across a crash (a re-added event is a duplicate). The server queues
 * POST /v1/events and drains on its background thread, so that requests arriving together
 * share one add. Erasure and consent changes see drained events only: callers drain first
 * (souk_erase_run does). */
int souk_events_enqueue(souk_events *s, const souk_event *ev, size_t n, int64_t now,
                        souk_ev_outcome *outcome, souk_ev_counts *counts, char *err, size_t errlen);
int souk_events_drain(souk_events *s, int64_t now, souk_ev_counts *counts, char *err,
                      size_t errlen);

typedef struct souk_ev_ingest_opts {
    size_t batch;  /* events per transaction (default 10000) */
    FILE *rejects; /* rejected lines as NDJSON {line, offset, error}; may be NULL */
    int follow;
    int from_start;
    int progress;
    volatile sig_atomic_t *stop;
    int64_t now_ms; /* 0: the clock */
} souk_ev_ingest_opts;

typedef struct souk_ev_ingest_stats {
    uint64_t lines, rejected, dropped_fields, commits, resumed_at;
    souk_ev_counts counts;
    double seconds;
} souk_ev_ingest_stats;

/* Reads an event stream from fd, resumable like the catalog stream (souk/ingest.h): the offset
 * and the hash of what precedes it are committed with each batch. */
int souk_events_ingest(souk_events *s, int fd, const char *name, const souk_ev_ingest_opts *o,
                       souk_ev_ingest_stats *st, char *err, size_t errlen);

/* ------------------------------------------------------------------ users' own data */

/* The user's consent (the defaults when none is recorded). */
int souk_consent_get(souk_events *s, const char *user, size_t len, souk_consent *out);
/* Records c for the user at now. Turning personalization off deletes the user's profile,
 * recent history, session links and tags, and withdraws the user's co-occurrence
 * contributions (P5); turning search_history off clears the search history. Audited (P18). */
int souk_consent_set(souk_events *s, const char *user, size_t len, const souk_consent *c,
                     int64_t now, char *err, size_t errlen);
/* 1 when personalized features may be used for the user now: personalization on, and not a
 * minor without guardian consent (P3, P7). The check the server makes on every request. */
int souk_consent_personalize(const souk_consent *c);

/* Calls fn for each entry, newest first, up to max (0: all). */
typedef int (*souk_history_fn)(void *arg, int64_t ts_ms, const char *query, size_t len);
int souk_history_list(souk_events *s, const char *user, size_t len, uint32_t max,
                      souk_history_fn fn, void *arg);
int souk_history_clear(souk_events *s, const char *user, size_t len, int64_t now);

/* Items that personalize for the user (the settled P8 reading): type, item, latest time. */
typedef int (*souk_item_fn)(void *arg, souk_ev_type type, const char *item, int64_t ts_ms);
int souk_user_items(souk_events *s, const char *user, size_t len, uint32_t max, souk_item_fn fn,
                    void *arg);
/* Deletes one item from the user's history and every feature it feeds (P8). */
int souk_user_item_delete(souk_events *s, const char *user, size_t len, const char *item,
                          int64_t now);

/* Tags (P8): readable names such as "category:fasteners", each with its reason. A deleted tag
 * is not derived again from events older than the deletion. Tag names come from the caller
 * (item -> tags, from the catalog) through souk_tags_derive. */
typedef int (*souk_tag_fn)(void *arg, const char *tag, uint32_t count, int64_t last_ms,
                           const char *why);
int souk_tags_list(souk_events *s, const char *user, size_t len, souk_tag_fn fn, void *arg);
int souk_tag_delete(souk_events *s, const char *user, size_t len, const char *tag, int64_t now);

/* The user's data as one JSON document (P19): everything the inventory lists for the user.
 * *json is allocated with souk_malloc. */
int souk_user_export(souk_events *s, const char *user, size_t len, int64_t now, char **json,
                     size_t *json_len);

/* ------------------------------------------------------------------ erasure (P12-P14) */

typedef enum souk_job_state {
    SOUK_JOB_PENDING = 0,
    SOUK_JOB_RUNNING,
    SOUK_JOB_COMPLETED,
    SOUK_JOB_FAILED
} souk_job_state;

/* Starts erasing user: from this call on, the user's data is not served (the suppression
 * record is committed first) and its events are refused. job_id gets a random id (32 hex
 * digits). Idempotent: erasing an erased or erasing user returns the existing job. */
int souk_erase_start(souk_events *s, const char *user, size_t len, int64_t now, char job_id[33],
                     char *err, size_t errlen);
int souk_erase_state(souk_events *s, const char *job_id, souk_job_state *state, int64_t *updated,
                     char *err, size_t errlen);
/* Runs pending and running jobs to completion (deletes every row of the user, then compacts
 * the environment and swaps the compacted copy in, so no free page keeps the user's bytes).
 * Resumes after a crash. Returns the number of jobs completed, or a SOUK_E* code. */
int souk_erase_run(souk_events *s, int64_t now, char *err, size_t errlen);
/* Sets fn (NULL: none) to be called by souk_erase_run, on its thread, after the erased users'
 * rows are gone and the store compacted, and before their jobs are marked completed: what
 * caches item-level features computed from the store (engine/recs/'s neighbour lists)
 * recomputes them there, so that a job reports completed only once nothing served holds the
 * users' contribution. Set it before souk_erase_run can run. */
void souk_events_on_erased(souk_events *s, void (*fn)(void *arg), void *arg);

/* ------------------------------------------------------------------ key rotation (P24) */

typedef struct souk_rekey_stats {
    uint8_t from_kid, to_kid; /* the store's kid before and after */
    uint64_t rows;            /* rows whose key or value held a pseudonym */
    uint64_t moved;           /* pseudonyms moved to the new kid */
} souk_rekey_stats;
/* Moves every pseudonym of the store to the key ring's current kid (P24): drains the inbox
 * (when no other process has the store open; otherwise the server's own drain moves the inbox's
 * pseudonyms as it adds them), then copies the live generation into a new one with each pseudonym
 * rewritten (without raw ids: souk_pseudonym_rekey) and swaps it in as a compaction does, so no
 * page of the old generation stays on disk. The copy holds the store's writer lock (writes wait,
 * reads go on); a crash before the swap leaves the old generation live and a rerun starts again.
 * From the swap on, new data uses the new kid; the old kid's secret can then leave the ring. */
int souk_events_rekey(souk_events *s, int64_t now, souk_rekey_stats *st, char *err, size_t errlen);

/* ------------------------------------------------------------------ backups (P23) */

/* Writes a consistent, compacted copy of the store into dest/events (dest is created when
 * missing; dest/events must not exist): the live generation copied row by row from one read
 * transaction while writers go on (no page keeps a deleted row's bytes), then the audit log, the
 * inbox and the erasure ledger. SOUK_OK, or a SOUK_E* code with err. */
int souk_events_backup(souk_events *s, const char *dest, char *err, size_t errlen);

typedef struct souk_ledger_stats {
    uint64_t entries;            /* distinct erasures in the ledgers */
    uint64_t suppressions_added; /* suppression records the store lacked */
    uint64_t jobs_added;         /* completed job records the store lacked */
    uint64_t users_erased;       /* users of the store whose rows were deleted */
} souk_ledger_stats;
/* Re-applies erasure ledgers (the store's own DIR/events/erasures.log, and paths[0, n)) to a
 * restored store before it serves (P23, backup.c): appends to the store's ledger the entries it
 * lacks, adds the suppression records (P14) and completed job records it lacks, deletes every
 * row of each user whose pseudonym's ledger hash is listed (as an erasure does), then compacts.
 * A ledger line that does not parse is SOUK_ECORRUPT naming the file and line (a torn last line
 * is skipped). */
int souk_events_apply_ledger(souk_events *s, const char *const *paths, size_t n, int64_t now,
                             souk_ledger_stats *st, char *err, size_t errlen);

/* ------------------------------------------------------------------ retention (P15) */

typedef struct souk_sweep_stats {
    uint64_t events, impressions, history, items_touched;
} souk_sweep_stats;
/* Deletes what is older than its retention period at now, and updates every derived table. */
int souk_events_sweep(souk_events *s, int64_t now, souk_sweep_stats *st, char *err, size_t errlen);

/* Rebuilds every derived table from the retained events in memory and compares it with the
 * stored one (counts exactly, floating values within 1e-9 relative). SOUK_OK or SOUK_ECORRUPT
 * with err naming the first difference. */
int souk_events_check(souk_events *s, char *err, size_t errlen);

/* ------------------------------------------------------------------ features (for recs/) */

/* Decayed popularity of item at now: sum over retained events of weight(type) *
 * 2^(-age/halflife). 0 when unseen. */
double souk_popularity(souk_events *s, const char *item, int64_t now);
/* The n most popular items at now; fn is called in order. */
int souk_popular_items(souk_events *s, int64_t now, uint32_t n, souk_item_fn fn, void *arg);

typedef enum souk_cooc_kind { SOUK_COOC_BOUGHT = 0, SOUK_COOC_VIEWED = 1 } souk_cooc_kind;
/* Items that co-occur with item, by the number of distinct users who have both. */
typedef int (*souk_cooc_fn)(void *arg, const char *item, uint32_t users);
int souk_cooc(souk_events *s, souk_cooc_kind kind, const char *item, uint32_t max, souk_cooc_fn fn,
              void *arg);
/* A value that changes whenever co-occurrence may have (a transaction added or deleted an iuser
 * row, or the store changed generation): souk_events_stamp, less the commits that leave every
 * co-occurrence count as it was (searches, consent, most of a returning user's views). */
uint64_t souk_cooc_stamp(souk_events *s);
/* Calls fn once per user and kind with the items of the user's co-occurrence set of that kind
 * (the sets souk_cooc counts), items longer than SOUK_COOC_ITEM_MAX (250) bytes left out, in
 * one read transaction: items[i] (lens[i] bytes, not NUL-terminated) stay valid during the
 * call only. No user identity is passed. *stamp (when not NULL) receives souk_cooc_stamp of
 * that transaction. fn returns nonzero to stop (returned). Cost: one walk of uset. */
typedef int (*souk_cooc_set_fn)(void *arg, souk_cooc_kind kind, const char *const *items,
                                const size_t *lens, size_t n);
int souk_cooc_sets_each(souk_events *s, souk_cooc_set_fn fn, void *arg, uint64_t *stamp);
/* Distinct users with the item in their co-occurrence set of kind (the users who could form a
 * pair with it: the normalization of cosine and lift); 0 when none or on an error. */
uint32_t souk_item_users(souk_events *s, souk_cooc_kind kind, const char *item);
/* Calls fn for every item with a nonzero souk_item_users count of kind, in item order; fn
 * returns nonzero to stop. */
int souk_item_users_each(souk_events *s, souk_cooc_kind kind, souk_cooc_fn fn, void *arg);
/* Every item's popularity (pop: souk_popularity's sum, with the store's half-life) and its trend
 * (the same sum with a half-life of trend_halflife_days), both aged from the latest day with any
 * event rather than from now: the values change only when the store does, their order is the
 * order at any later now (souk_popularity's own ages differ from these by one factor), and old
 * data does not underflow. In item order; fn returns nonzero to stop. now is unused (kept for a
 * retention cut). */
typedef int (*souk_pop_fn)(void *arg, const char *item, double pop, double trend);
int souk_popularity_each(souk_events *s, int64_t now, double trend_halflife_days, souk_pop_fn fn,
                         void *arg);
/* The history that may personalize for the user (P8), newest first, from the user's most
 * recent max distinct items (0: all): souk_user_items' entries (type, item, latest time), less
 * those whose latest event is not after the deletion of one of the item's tags (a deleted tag
 * removes its items' effect, as it removes the tag). Reads only the events it reports, newest
 * first, so its cost follows max, not the length of the user's history. fn's nonzero return
 * stops the walk and is returned. */
int souk_user_history(souk_events *s, const char *user, size_t len, uint32_t max, souk_item_fn fn,
                      void *arg);
/* A value that changes whenever a transaction commits to the store (its last committed
 * transaction and generation): caches of features compare it to know they are current. */
uint64_t souk_events_stamp(souk_events *s);
/* A session's items, oldest first. */
int souk_session_items(souk_events *s, const char *session, size_t len, uint32_t max,
                       souk_item_fn fn, void *arg);

/* ------------------------------------------------------------------ analytics (P16) */

typedef enum souk_qstat_kind {
    SOUK_QSTAT_POPULAR = 0,
    SOUK_QSTAT_ZERO_RESULTS,
    SOUK_QSTAT_LOW_CTR /* click-through per query, lowest first (analytics.c, "low_ctr") */
} souk_qstat_kind;
typedef struct souk_qstat_opts {
    souk_qstat_kind kind;
    int64_t from_ms, to_ms; /* the period */
    uint32_t k;             /* suppression threshold, distinct users (default 50) */
    uint32_t limit;
    int noise;      /* add discrete-Laplace noise, seeded by report and period */
    double epsilon; /* noise scale (default 1.0) */
} souk_qstat_opts;
/* Writes the table as JSON: {"kind","from","to","k","thresholded":true,"noise",
 * "rows":[{"query","users","searches"}],"suppressed_rows":n}. Rows under k are left out and
 * not recoverable from any total in the table. SOUK_QSTAT_LOW_CTR's rows are
 * {"query","users","searches","clicks","ctr"} (searches: those that showed results; clicks:
 * those followed by a click; ctr = clicks / searches), lowest ctr first, plus "window_ms"; it
 * reads the events of the period and returns SOUK_ETOOBIG past SOUK_QSTAT_CTR_MAX_EVENTS. */
#define SOUK_QSTAT_CTR_MAX_EVENTS 10000000u
int souk_query_stats(souk_events *s, const souk_qstat_opts *o, char **json, size_t *json_len);

/* Segment statistics (segments.c): per country, region ("CN/<region>") or item category (the
 * catalog's "category:<name>" tags), the distinct users with events in the period (metric users),
 * their events (events; impressions left out), or their purchases (purchases: the cell's users
 * are then the purchasing users). Only events stored under a pseudonym count; a location cell
 * needs the location (stored with location consent only). */
typedef enum souk_seg_by { SOUK_SEG_COUNTRY = 0, SOUK_SEG_REGION, SOUK_SEG_CATEGORY } souk_seg_by;
typedef enum souk_seg_metric {
    SOUK_SEG_USERS = 0,
    SOUK_SEG_EVENTS,
    SOUK_SEG_PURCHASES
} souk_seg_metric;
typedef struct souk_segment_opts {
    souk_seg_by by;
    souk_seg_metric metric;
    int64_t from_ms, to_ms; /* the period [from, to) */
    uint32_t k;             /* suppression threshold, distinct users (default 50) */
    uint32_t limit;         /* rows published (0: all) */
    int noise;              /* add discrete-Laplace noise, fixed per report and period */
    double epsilon;         /* per published number (default 1.0) */
} souk_segment_opts;
/* Writes the table as JSON: {"by","metric","from","to","k","thresholded":true,"noise",
 * ["epsilon","events_cap"],"rows":[{"segment","users"[,<metric>]}],"suppressed_rows":n}, rows
 * by published users then value, descending. Cells under k distinct users are left out and not
 * recoverable from the table. SOUK_ETOOBIG past 4 Mi distinct (cell, user) pairs. *json is
 * allocated with souk_malloc. */
int souk_segment_stats(souk_events *s, const souk_segment_opts *o, char **json, size_t *json_len);

/* ------------------------------------------------------------------ audit (P18) */

/* Appends one line to the store's audit log (DIR/events/audit.log, append-only, fsynced):
 * {"ts","action","subject":<suppression hash hex>,"detail"}; never a raw id or a pseudonym. */
int souk_audit(souk_events *s, const char *action, const char *user, size_t len, const char *detail,
               int64_t now);

/* ------------------------------------------------------------------ fed from a replicated log */

/* souk_events_add, committing in the same transaction the log position seq of the stream named
 * fp (e.g. "nats:EVENTS_EU:<created>") as the store's stream position (engine/events/seqpos.c;
 * docs/scaling.md). Event ids still make a replay apply nothing twice. */
int souk_events_add_seq(souk_events *s, const souk_event *ev, size_t n, int64_t now, uint64_t seq,
                        const char *fp, souk_ev_counts *counts, char *err, size_t errlen);
/* The log position committed for the stream named fp (NULL: any log): *seq (0 when none); *other 1
 * when the store's position belongs to something else (a file, another stream). */
int souk_events_seq(souk_events *s, const char *fp, uint64_t *seq, int *other);
/* The number of events stored. */
int souk_events_count(souk_events *s, uint64_t *n);

#ifdef __cplusplus
}
#endif
#endif
