/* behavior.h (test kit): real behaviour data as event streams of souk/events.h (NDJSON, one
 * event a line: {"user","session","type","item","ts"}), for the event-store tests and
 * souk-bench events.
 *
 * Two data sets:
 *   - Groceries: ../shared/data/behavior/groceries/Groceries_dataset.csv (or
 *     $SOUK_SHARED_DATA/...), "transaction_number,date,items": 38,765 purchase lines of 3,898
 *     members, dd-mm-yyyy dates in 2014-2015, one item a line; a basket is member x date
 *     (14,963 of them).
 *   - MovieLens ml-latest-small: data/test-data/movielens/{ratings.tsv,movies.tsv} (or
 *     $SOUK_MOVIELENS_DIR), extracted from Debian's r-cran-dslabs by scripts/test-data.sh at
 *     set-up time (its terms forbid redistribution: never committed). ratings.tsv is
 *     "userId movieId rating timestamp" (100,004 ratings of 671 users, 1995-2016), movies.tsv
 *     "movieId title year genres" (9,066 movies; "NA" for a missing title or year, genres
 *     joined with '|').
 *
 * The mapping to events (deterministic: the same options give the same bytes):
 *   Groceries, one purchase event per line, in file order:
 *     user    "<prefix>gr-<transaction_number>"
 *     session "<user>@<yyyy-mm-dd>" (the basket: member x date)
 *     item    the item name slugged: lower case, each run of other than [a-z0-9] one '-', no
 *             leading or trailing '-' ("rolls/buns" -> "rolls-buns", "UHT-milk" -> "uht-milk")
 *     ts      the date at 12:00:00Z plus (line number % 43200) seconds, the line number
 *             counting data lines from 1: two purchases of one basket differ in time (the store
 *             takes equal events for replays) and stay on the basket's day.
 *   MovieLens, in file order (by user), for each rating:
 *     a view event at the rating's timestamp, and when rating >= 4 also a purchase event one
 *     second later (both in the same session);
 *     user    "<prefix>ml-u<userId>"
 *     session "<user>@<yyyy-mm-dd>" (user x UTC day of the rating)
 *     item    "ml-<movieId>" (the catalog id of movielens_catalog_write)
 *   Timestamps are RFC 3339 in UTC, whole seconds ("2015-07-21T12:00:07Z").
 *
 * The data is old: a store with the default retention (365 days) at the clock's now expires
 * every event. Ingest with retention 0, or pass the data's end as now (behavior_stats.last_ms),
 * or move the data to the present with behavior_opts.end_ms.
 *
 * The prefix (behavior_opts.user_prefix) marks every user id, and so every session id: tests
 * give a unique marker and scan the store's files for it after an erasure. */
#ifndef SOUK_KIT_BEHAVIOR_H
#define SOUK_KIT_BEHAVIOR_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum behavior_set { BEHAVIOR_GROCERIES = 0, BEHAVIOR_MOVIELENS = 1 } behavior_set;

/* "groceries" or "movielens"; NULL for another value. */
const char *behavior_name(behavior_set set);

/* The path of the data file: Groceries_dataset.csv, or MovieLens's "ratings.tsv" or
 * "movies.tsv" (file; ignored for Groceries). A static buffer; the file may be absent. */
const char *behavior_path(behavior_set set, const char *file);

/* 1 when the data set's files are readable; 0 with msg (may be NULL) saying what is missing
 * and how to get it. */
int behavior_present(behavior_set set, char *msg, size_t msglen);

/* For a test that needs the data set: 0 when it is present; otherwise prints
 * "<test>: SKIP: <why>" on stderr and returns TEST_SKIP (77, or 1 under SOUK_NO_SKIP), the code
 * the test returns from main. */
int behavior_skip(behavior_set set, const char *test);

typedef struct behavior_opts {
    const char *user_prefix; /* prepended to every user id (so every session id); NULL: none */
    size_t max_records;      /* source records read (Groceries lines, MovieLens ratings); 0: all */
    size_t max_events;       /* events written; 0: all */
    const char *only_user;   /* a source user id ("1808", "547"): only its records; NULL: all */
    int64_t end_ms; /* not 0: every time moves by whole days so that the latest selected event
                       falls on end_ms's day at or before end_ms (sessions keep their days) */
} behavior_opts;

typedef struct behavior_stats {
    size_t records; /* source records read (after only_user and max_records) */
    size_t events;  /* events written */
    size_t views, purchases;
    size_t users;              /* distinct users among the events written */
    size_t sessions;           /* distinct sessions (Groceries: baskets) */
    size_t items;              /* distinct items */
    int64_t first_ms, last_ms; /* earliest and latest event written (after end_ms's move) */
    int64_t shift_ms;          /* what end_ms moved every time by (0 without it) */
    char heaviest_user[48];    /* the source id of the user with the most events written */
    char heaviest_id[200];     /* that user's id as written (with the prefix) */
    size_t heaviest_events;
} behavior_stats;

/* Writes the data set's events (the mapping above) to out. o and st may be NULL. Returns 0,
 * SOUK_EIO (a file missing or unreadable, or a write failing), SOUK_EINVAL (a malformed line:
 * err names the file and line), SOUK_ENOMEM. err may be NULL. */
int behavior_events_write(behavior_set set, const behavior_opts *o, FILE *out, behavior_stats *st,
                          char *err, size_t errlen);

/* The same into a buffer: *buf (NUL-terminated, free with free()) of *len bytes. */
int behavior_events_buf(behavior_set set, const behavior_opts *o, char **buf, size_t *len,
                        behavior_stats *st, char *err, size_t errlen);

/* The same into a file at path (created or truncated). */
int behavior_events_file(behavior_set set, const behavior_opts *o, const char *path,
                         behavior_stats *st, char *err, size_t errlen);

/* MovieLens's movies as a catalog stream (schema indexer/schemas/movielens.json), one line per
 * movie of movies.tsv in file order, up to max (0: all):
 *   {"id":"ml-<movieId>","title":"...","year":1995,"section":"drama","tags":["drama","romance"]}
 * section is the first genre and tags every genre, lower case (the event store's item tags
 * come from the catalog's section: "category:<section>"); a missing title, year or genre list
 * ("NA", "(no genres listed)") leaves its field out. *n (may be NULL) gets the count. Errors as
 * behavior_events_write. */
int movielens_catalog_write(FILE *out, size_t max, size_t *n, char *err, size_t errlen);
int movielens_catalog_buf(size_t max, char **buf, size_t *len, size_t *n, char *err, size_t errlen);

/* The schema file of that catalog (a static buffer). */
const char *movielens_schema_path(void);

#endif
