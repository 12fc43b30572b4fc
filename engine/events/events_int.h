/* events_int.h: private to engine/events/: the store's layout and the helpers its files share.
 * docs/events-format.md describes the same layout for readers of the data.
 *
 * Files under DIR/events/ (the store's directory):
 *   CURRENT        the name of the live generation ("g<N>"), replaced by rename()
 *   g<N>/data.mdb  the LMDB environment of generation N. A compaction (erasure, P13) copies the
 *                  live environment with MDB_CP_COMPACT into g<N+1>, renames CURRENT to it, marks
 *                  g<N> retired (meta "retired" = N+1, committed while holding the writer lock,
 *                  so nothing commits to g<N> after the copy) and removes g<N>. A writer that
 *                  finds its generation retired reopens CURRENT and retries.
 *   audit.log      the append-only audit log (P18), outside the generations
 *
 * Conventions: pseudonyms are SOUK_PSEUDO_LEN bytes (kid + 16); times are int64 milliseconds,
 * big-endian in keys (so LMDB orders them); days are uint32 (ms / 86400000), big-endian; item
 * ids and queries in keys are NUL-terminated where something follows them. Counters are uint32
 * or uint64 little-endian values.
 *
 * Named databases (every derived table is a function of "ev", consent and tag deletions):
 *   meta     "version" -> u32; "stream" -> offset u64 + hash (resume, as the catalog);
 *            "kid" -> u8, the key id every pseudonym of the generation is under (P24);
 *            "retired" -> u64 generation (only in a retired environment)
 *   ev       ts(8) + eid(16) -> event record (below). eid = keyed BLAKE2b of the canonical event
 *            (raw user included), so a replay finds the same key: applies nothing twice.
 *   uev      upseudo(17) + ts(8) + eid(16) -> empty. The user's events (personalized only).
 *   sess     spseudo(17) + ts(8) + eid(16) -> type(1) + item. Session sequences.
 *   usess    upseudo(17) + spseudo(17) -> empty. A user's sessions (erasure, P21).
 *   pop      item NUL + day(4) -> u64[SOUK_EV_NTYPES] counts. Item-level, no user: popularity.
 *   uset     upseudo(17) + kind(1) + item -> ts(8) + eid(16) of the item's first event of
 *            that kind (the one that selected it). The items (at most cooc_items_max per
 *            kind, the first distinct ones of the user's retained events in (ts, eid) order) that
 *            form the user's co-occurrence pairs. Per-user state behind distinct-user counts.
 *   iuser    kind(1) + item -> upseudo(17), sorted duplicates (MDB_DUPSORT | MDB_DUPFIXED): the
 *            users whose uset of that kind holds the item (uset transposed). Kinds: BOUGHT =
 *            cart, purchase; VIEWED = view, click, favorite. Items whose ids are longer than
 *            SOUK_COOC_ITEM_MAX bytes take no part. Co-occurrence is read from it, not stored:
 *            cooc(kind, A, B) = the users of A (iuser) whose uset of kind holds B
 *            (features.c); the item's distinct users = its number of duplicates.
 *   consent  upseudo(17) -> the consent record, 14 bytes: layout(1) = 1, flags(1: 1 =
 *            personalization, 2 = location, 4 = search_history, 8 = minor, 16 =
 *            guardian_consent), policy_version u32 LE, updated_ms i64 LE
 *            (souk__ev_consent_read, souk__ev_consent_encode in consent_read.c)
 *   shist    upseudo(17) + ts(8) + eid(16) -> query. Search history (P11); a primary table
 *            (written with search_history consent whatever personalization says), not derived.
 *   tags     upseudo(17) + tag NUL -> u32 count + i64 last_ms (LE) + why. Derived from the
 *            user's personalized view/click/cart/purchase/favorite events whose item carries the
 *            tag (opts.item_tags), leaving out events older than the tag's tagdel or the item's
 *            idel time; last_ms and why ("<type>:<item>") are those of the latest such event
 *            (ties: the greater why).
 *   tagdel   upseudo(17) + tag NUL -> i64 deletion ms (P8: not derived again from older events)
 *   idel     upseudo(17) + item NUL -> i64 deletion ms (P8 items: same rule)
 *   qstat    period-day(4) + query NUL + upseudo(17) -> u32 searches, u32 zero-result searches
 *            (LE). Per-user state behind distinct-user counts of analytics (P16), derived from
 *            the search events stored under a pseudonym; the query is normalized
 *            (souk__ev_query_norm). Anonymous searches and those of users with personalization
 *            off (stored under no user key) count in no analytics cell: a cell counts distinct
 *            people, and nothing tells two anonymous searches of one person apart.
 *   supp     suppression hash(16) -> i64 erased ms (P14).
 *   jobs     job id(16) -> state(1) + i64 created + i64 updated + suppression hash(16) +
 *            [upseudo(17) while pending or running; dropped when completed]
 *
 * Event record (value of ev): type(1), flags(1: 1 = has user, 2 = has session, 4 = has
 * location, 8 = nhits known), [upseudo 17], [spseudo 17], [country 2, region len(1) + bytes],
 * [nhits u32], item len(2) + bytes, query len(2) + bytes. */
#ifndef SOUK_EVENTS_INT_H
#define SOUK_EVENTS_INT_H

#include "core/kv.h"
#include "souk/events.h"

#include "events/hmap.h"

#include <pthread.h>

/* Format 2: co-occurrence as iuser (each item's users) read against uset; format 1 stored
 * pair rows in a cooc table, which a writable open migrates (store.c). */
#define SOUK_EV_FORMAT 2
#define SOUK_EID_LEN 16
/* Bytes the inbox may hold before souk_events_enqueue refuses (SOUK_ETOOBIG): a backlog of
 * about 100,000 events, a few seconds of adds. */
#define SOUK_INBOX_MAX ((size_t)64 << 20)

enum { EVF_USER = 1, EVF_SESSION = 2, EVF_LOC = 4, EVF_NHITS = 8 };

struct souk_events {
    char *dir; /* DIR/events */
    souk_events_opts o;
    pthread_rwlock_t swap; /* held for reading by every transaction; for writing by the swap */
    MDB_env *env;
    uint64_t gen;
    MDB_dbi meta, ev, uev, sess, usess, pop, uset, iuser, consent, shist, tags, tagdel, idel, qstat,
        supp, jobs;
    pthread_mutex_t inbox_mu; /* the inbox file (inbox.c): appends, and its swap for a drain */
    int inbox_fd;             /* DIR/events/inbox.log open for appending, or -1 */
    uint64_t inbox_seq;       /* the next drain file's number; 0: not yet read from the dir */
    size_t inbox_bytes;       /* appended by this process and not yet added (SOUK_INBOX_MAX) */
    pthread_mutex_t drain_mu; /* one drain at a time */
    int audit_fd;
    uint8_t eid_key[16]; /* BLAKE2b key of event ids, derived from the ring's root (open) */
    uint8_t kid;         /* the key id of the live generation's pseudonyms (meta "kid"); changes
                            only with a generation, under swap held for writing */
    struct hmap *ids;    /* raw user/session id -> pseudonym (+ suppression hash); only touched
                            inside a write transaction (LMDB's writer lock serializes it) */
    void *wbatch;        /* write.c's batch maps, kept from one add to the next (writer only) */
    void (*erased)(void *arg); /* souk_events_on_erased: called before jobs complete */
    void *erased_arg;
};

/* Frees write.c's batch maps (souk_events_close). */
void souk__ev_batch_free(souk_events *s);

/* Transactions of the store: they hold s->swap for reading until commit or abort, and begin on
 * the live generation (reopening it when another process swapped one in). */
int souk__ev_begin(souk_events *s, unsigned flags, MDB_txn **txn);
int souk__ev_commit(souk_events *s, MDB_txn *txn);
void souk__ev_abort(souk_events *s, MDB_txn *txn);

/* After SOUK_EFULL (MDB_MAP_FULL) from a put or a commit, with no transaction of this process
 * open on s: doubles the map up to map_max. SOUK_OK or SOUK_EFULL. */
int souk__ev_grow(souk_events *s);

/* Runs fn(s, txn, arg) in a write transaction and commits it; when fn or the commit returns
 * SOUK_EFULL, aborts, grows the map and runs fn again (fn must be repeatable: it may only change
 * its own state through txn). Returns fn's code or the commit's. */
int souk__ev_write(souk_events *s, int (*fn)(souk_events *, MDB_txn *, void *), void *arg);

/* The consent record of upseudo as of txn: the stored one (recorded = 1), or the store's
 * defaults (opts.consent_default, recorded = 0) when there is none. SOUK_OK, or a SOUK_E* code
 * for an LMDB error or a malformed record (SOUK_ECORRUPT). */
int souk__ev_consent_read(souk_events *s, MDB_txn *txn, const uint8_t upseudo[SOUK_PSEUDO_LEN],
                          souk_consent *out);
#define SOUK_EV_CONSENT_LEN 14
/* Encodes c into the 14-byte record the consent database holds. */
void souk__ev_consent_encode(const souk_consent *c, uint8_t out[SOUK_EV_CONSENT_LEN]);
/* The same answer as souk_consent_personalize (consent.c): personalization on, and not a minor
 * without guardian consent (P3, P7). */
int souk__ev_personalize(const souk_consent *c);

/* The event id of e: a keyed BLAKE2b of its canonical form (the layout above). Thread-safe. */
void souk__ev_id(const souk_events *s, const souk_event *e, uint8_t eid[SOUK_EID_LEN]);
/* What an event's add needs that is a pure function of the event and the key ring, so the
 * ingest's parser thread computes it: the event id, and the pseudonyms. */
typedef struct souk__ev_pre {
    uint8_t eid[SOUK_EID_LEN];
    uint8_t up[SOUK_PSEUDO_LEN + SOUK_SUPPRESS_LEN]; /* user pseudonym + suppression hash */
    uint8_t sp[SOUK_PSEUDO_LEN];                     /* session pseudonym */
} souk__ev_pre;
/* The pseudonym (and for users the suppression hash after it) of a raw id, through cache (an
 * hmap of value size SOUK_PSEUDO_LEN + SOUK_SUPPRESS_LEN, owned by one thread); NULL when out
 * of memory or the id is too long. */
const uint8_t *souk__ev_ids_get(hmap *cache, const souk_keyring *kr, uint8_t kid,
                                souk_pseudo_domain dom, const char *id, size_t len);
int souk__ev_precompute(const souk_events *s, hmap *cache, const souk_event *e, souk__ev_pre *out);
/* souk_events_add with what souk__ev_precompute gives computed beforehand (pre, may be NULL),
 * also committing stream[0, stream_len) as meta "stream" in the same transaction (the ingest's
 * resume position) when stream is not NULL. */
int souk__ev_add(souk_events *s, const souk_event *ev, const souk__ev_pre *pre, size_t n,
                 int64_t now, souk_ev_outcome *outcome, souk_ev_counts *counts, const void *stream,
                 size_t stream_len, char *err, size_t errlen);
/* The stored meta "stream" (40 bytes: offset, line, hash, device, inode, u64 LE each) into
 * out; SOUK_ENOTFOUND when there is none. */
int souk__ev_stream_pos(souk_events *s, uint64_t out[5]);

/* Compacts the live environment into a new generation and swaps it in (the layout above).
 * No transaction of this process may be open on s. */
int souk__ev_compact(souk_events *s, char *err, size_t errlen);

/* Pseudonym of a user id under the store's key id (s->kid); the users' data is keyed by it. */
int souk__ev_user(souk_events *s, const char *user, size_t len, uint8_t out[SOUK_PSEUDO_LEN]);
/* Inside a transaction: moves up (from souk__ev_user before the transaction began) to the
 * generation's kid, in case a re-keying swapped a generation in between (P24). */
void souk__ev_user_fix(const souk_events *s, uint8_t up[SOUK_PSEUDO_LEN]);

/* Withdraws every personal row of the user (upseudo) in txn and updates the derived tables as a
 * rebuild would: uev, sess and usess of the user's sessions, uset and its iuser rows,
 * tags, tagdel, idel, shist, qstat rows. With keep_events, the user's ev rows stay as rows
 * under no user key (opt-out, P5); without, they are deleted (erasure, P13), with their pop
 * counts. */
int souk__ev_forget_user(souk_events *s, MDB_txn *txn, const uint8_t upseudo[SOUK_PSEUDO_LEN],
                         int keep_events);

/* An RFC 3339 time (date, 'T', time, optional fraction, 'Z' or an offset) -> ms since the epoch.
 * 0, or -1 when s[0, n) is not one (or is before 1970). */
int souk__ev_parse_time(const char *s, size_t n, int64_t *ms);

/* 1 when s[0, n) is well-formed UTF-8 (no overlong form, no surrogate, nothing past U+10FFFF)
 * and, with no_controls, holds no C0 or C1 control character and no DEL. */
static inline int souk__ev_utf8_ok(const unsigned char *s, size_t n, int no_controls)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            if (no_controls && (c < 0x20 || c == 0x7f))
                return 0;
            i++;
            continue;
        }
        size_t len;
        unsigned cp, min;
        if (c >= 0xc2 && c <= 0xdf)
            len = 2, cp = c & 0x1f, min = 0x80;
        else if ((c & 0xf0) == 0xe0)
            len = 3, cp = c & 0x0f, min = 0x800;
        else if (c >= 0xf0 && c <= 0xf4)
            len = 4, cp = c & 0x07, min = 0x10000;
        else
            return 0;
        if (i + len > n)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3fu);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        if (no_controls && cp < 0xa0)
            return 0;
        i += len;
    }
    return 1;
}

#define SOUK_COOC_ITEM_MAX 250
enum { KIND_NONE = -1 };
/* The co-occurrence kind of an event type: BOUGHT, VIEWED, or KIND_NONE. */
static inline int souk__ev_kind(int type)
{
    return type == SOUK_EV_CART || type == SOUK_EV_PURCHASE ? SOUK_COOC_BOUGHT
           : type == SOUK_EV_VIEW || type == SOUK_EV_CLICK || type == SOUK_EV_FAVORITE
               ? SOUK_COOC_VIEWED
               : KIND_NONE;
}
/* 1 when the type feeds tags (P8). */
static inline int souk__ev_tagging(int type)
{
    return souk__ev_kind(type) != KIND_NONE;
}

/* A decoded ev row; pointers borrow from the key and value. */
typedef struct souk__evrec {
    int64_t ts;
    const uint8_t *eid;
    int type, flags;
    const uint8_t *upseudo, *spseudo; /* NULL when absent */
    char country[3];
    const char *region;
    size_t region_len;
    int32_t nhits;
    const char *item, *query;
    size_t item_len, query_len;
} souk__evrec;
#define SOUK_EV_REC_MAX                                                                            \
    (2 + 2 * SOUK_PSEUDO_LEN + 3 + SOUK_REGION_MAX + 4 + 4 + SOUK_ITEM_MAX + SOUK_EVQUERY_MAX)
/* Decodes an ev row; SOUK_ECORRUPT when malformed. */
int souk__ev_decode(const MDB_val *k, const MDB_val *v, souk__evrec *r);
/* Encodes r's value (not its key) into buf (SOUK_EV_REC_MAX bytes); returns its length. */
size_t souk__ev_encode(const souk__evrec *r, uint8_t *buf);

static inline void souk__be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}
static inline uint64_t souk__rd_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}
static inline void souk__be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8),
    p[3] = (uint8_t)v;
}
static inline uint32_t souk__rd_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
#define SOUK_DAY_MS 86400000LL
static inline uint32_t souk__ev_day(int64_t ts)
{
    return (uint32_t)(ts / SOUK_DAY_MS);
}
/* 1 when an event of type at ts is past its retention at now (ts + period <= now). */
int souk__ev_expired(const souk_events *s, int type, int64_t ts, int64_t now);

/* The query as analytics count it: ASCII letters lower-cased, runs of white space made one space,
 * trimmed. Writes at most SOUK_EVQUERY_MAX bytes + NUL into out; returns the length. */
size_t souk__ev_query_norm(const char *q, size_t n, char *out);

/* Counter deltas of one transaction, applied to pop, iuser and qstat at its end in key order. */
typedef struct souk__ev_delta {
    hmap pop;   /* item NUL day(4) -> int64[SOUK_EV_NTYPES] */
    hmap memb;  /* kind(1) item NUL upseudo(17) -> int64: +1 entered, -1 left the user's uset */
    hmap qstat; /* day(4) query NUL upseudo -> int64[2] */
    uint64_t items_touched;
} souk__ev_delta;
void souk__ev_delta_init(souk__ev_delta *d);
void souk__ev_delta_free(souk__ev_delta *d);
int souk__ev_delta_pop(souk__ev_delta *d, const char *item, size_t len, uint32_t day, int type,
                       int64_t by);
/* Notes that item entered (by = 1) or left (by = -1) the user's uset of kind: the iuser row
 * (kind item, upseudo) is added or deleted when the deltas are applied. Called wherever a uset
 * changes (write.c, user.c); an item id longer than SOUK_COOC_ITEM_MAX takes no part. */
int souk__ev_delta_member(souk__ev_delta *d, int kind, const uint8_t *upseudo, const char *item,
                          size_t len, int64_t by);
/* The qstat cell of a search event stored under upseudo. */
int souk__ev_delta_qstat(souk__ev_delta *d, const souk__evrec *r, int64_t by);
/* Counts one more change of iuser in meta "coocgen" (souk_cooc_stamp): every transaction that
 * adds or deletes an iuser row calls it. */
int souk__ev_cooc_bump(souk_events *s, MDB_txn *txn);
/* Writes the deltas in key order (rows reaching zero are deleted). */
int souk__ev_delta_apply(souk_events *s, MDB_txn *txn, souk__ev_delta *d);

/* tagdel and idel values: the deletion time, i64 LE ms. The deletion time of (upseudo, name) in
 * dbi (tagdel or idel), INT64_MIN when none. */
int64_t souk__ev_del_time(MDB_txn *txn, MDB_dbi dbi, const uint8_t *upseudo, const char *name,
                          size_t len);
/* 1 when dbi holds a key starting with prefix[0, n). */
int souk__ev_has_prefix(MDB_txn *txn, MDB_dbi dbi, const uint8_t *prefix, size_t n);
/* Deletes every row of dbi whose key starts with prefix[0, n). */
int souk__ev_del_prefix(MDB_txn *txn, MDB_dbi dbi, const uint8_t *prefix, size_t n);

#define SOUK_EV_TAGS_MAX 8 /* tags of one item taken from opts.item_tags */
typedef struct souk__ev_tagval {
    uint32_t count;
    int64_t last_ms;
    char why[96]; /* "<type>:<item>", cut at 95 bytes */
} souk__ev_tagval;
/* Notes count events like r in a tag value (count, and the latest event's time and why). */
void souk__ev_tag_note(souk__ev_tagval *tv, uint32_t count, const souk__evrec *r);
/* The tags row's value of tv into out (12 + 96 bytes); returns its length. */
size_t souk__ev_tag_encode(const souk__ev_tagval *tv, uint8_t *out);

/* One user's derived personal state, built from the user's events fed in (ts, eid) order. */
typedef struct souk__ev_model {
    hmap uset[2];             /* item -> ts(8) + eid(16), per kind */
    hmap tags;                /* tag -> souk__ev_tagval */
    hmap sessions;            /* spseudo -> (nothing) */
    int has_idel, has_tagdel; /* -1: not looked up yet */
} souk__ev_model;
void souk__ev_model_init(souk__ev_model *m);
void souk__ev_model_free(souk__ev_model *m);
void souk__ev_model_clear(souk__ev_model *m);
/* Feeds the user's next event (in (ts, eid) order) to the model. */
int souk__ev_model_add(souk_events *s, MDB_txn *txn, const uint8_t *upseudo, souk__ev_model *m,
                       const souk__evrec *r);

/* Recomputes the user's derived personal rows (uset and its iuser rows through d, tags,
 * usess) from the user's retained events, idel and tagdel, as a rebuild would: what the sweeper
 * runs for users whose events expired, and what the control plane (userdata.c) runs after an item
 * or tag deletion (P8). */
int souk__ev_user_refresh(souk_events *s, MDB_txn *txn, const uint8_t upseudo[SOUK_PSEUDO_LEN],
                          souk__ev_delta *d);

/* ------------------------------------------------------------------ control plane
 * consent.c, userdata.c, erase.c, analytics.c, audit.c (the users' own data, erasure, released
 * statistics, audit). What the data plane shares with them:
 *
 * P25, the purposes and the policy version each appeared in (consent.c, souk__ev_consent_policy):
 *   personalization 1, search_history 1, location 2.
 * A purpose whose version is later than the record's policy version (or the store's current
 * one) is off, whatever the record says, until the user grants it under a version that has it.
 *
 * Deletions the derivations honour (P8):
 *   tagdel: the user's events with ts_ms <= the deletion ms derive that tag no more; newer ones
 *           derive it again (from a count of 0).
 *   idel:   the user's events of the item with ts_ms <= the deletion ms feed no per-user
 *           table (uset and its iuser rows, tags: souk__ev_user_refresh) and are not listed by
 *           souk_user_items; they stay in ev/uev (and pop) until retention or erasure.
 *
 * jobs value: state(1) + created i64 LE + updated i64 LE + suppression hash(16) [+ upseudo(17)].
 * A running job without the pseudonym has deleted the user's rows and waits for the
 * compaction (erase.c). */

/* P25: turns off in c every purpose that appeared after c->policy_version or after the store's
 * current policy version (the table above). A record's version 0 is the current one; a store
 * whose opts.policy_version is 0 versions no purpose. souk_consent_get applies it to what
 * souk__ev_consent_read gives; souk_consent_set stores no purpose its version lacks. */
void souk__ev_consent_policy(const souk_events *s, souk_consent *c);
/* 1 when the suppression hash of user is in supp (the user is erased or being erased). */
int souk__ev_suppressed(souk_events *s, MDB_txn *txn, const char *user, size_t len);
/* Test hook of erase.c: called at each step of souk_erase_run (1: job marked running, 2: rows
 * deleted and pseudonym dropped, 3: compacted, 4: completed); NULL in production. */
extern void (*souk__ev_erase_hook)(int step);
/* Copies the live rows of every named database of src into a new environment in dir (which
 * may exist, empty), logically, so that no unused byte of a page of the copy holds a deleted
 * row (cleancopy.c; LMDB's MDB_CP_COMPACT keeps such bytes inside live pages). What
 * souk__ev_compact copies with. Its files are mode 0600. */
int souk__ev_copy_clean(MDB_env *src, const char *dir, char *err, size_t errlen);
/* A row transform of souk__ev_copy_xform (souk_kv_xform_fn of core/kv.h; an ev record fits in
 * its SOUK_KV_XFORM_VAL bytes). */
typedef souk_kv_xform_fn souk__ev_xform_fn;
/* souk__ev_copy_clean with every row passed through xf (NULL: as is); the re-keying (P24). */
int souk__ev_copy_xform(MDB_env *src, const char *dir, souk__ev_xform_fn xf, void *arg, char *err,
                        size_t errlen);
/* Copies the live generation with copy(s, src, dir, arg, err, errlen) into a new generation and
 * swaps it in, as souk__ev_compact does (which is this with souk__ev_copy_clean). */
typedef int (*souk__ev_copy_fn)(souk_events *s, MDB_env *src, const char *dir, void *arg, char *err,
                                size_t errlen);
int souk__ev_swap(souk_events *s, souk__ev_copy_fn copy, void *arg, char *err, size_t errlen);
/* Appends the erasure of the user up (job job_id, suppression hash hash) to the erasure ledger
 * DIR/events/erasures.log and fsyncs it (backup.c, P23). */
int souk__ev_ledger_append(souk_events *s, const uint8_t job_id[16],
                           const uint8_t up[SOUK_PSEUDO_LEN], const uint8_t hash[SOUK_SUPPRESS_LEN],
                           int64_t now);
/* souk_audit with the subject given by its suppression hash (erase.c has no raw id). */
int souk__ev_audit_hash(souk_events *s, const char *action, const uint8_t h[SOUK_SUPPRESS_LEN],
                        const char *detail, int64_t now);

/* ------------------------------------------------------------------ analytics.c, shared */

struct cJSON;
/* The published noise of one number of a released table (P16): two-sided geometric (discrete
 * Laplace, e^-epsilon per unit) drawn from the keyed hash of msg[0, n), which names the report,
 * the period, the column and the cell, so the same table comes out the same every time. */
double souk__ev_noise(souk_events *s, const char *msg, size_t n, double epsilon);
/* doc printed (unformatted) into *json (souk_malloc'd) and *json_len. SOUK_OK or SOUK_ENOMEM. */
int souk__ev_json_out(const struct cJSON *doc, char **json, size_t *json_len);

#endif
