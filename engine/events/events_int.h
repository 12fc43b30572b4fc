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
 *            "retired" -> u64 generation (only in a retired environment)
 *   ev       ts(8) + eid(16) -> event record (below). eid = keyed BLAKE2b of the canonical event
 *            (raw user included), so a replay finds the same key: applies nothing twice.
 *   uev      upseudo(17) + ts(8) + eid(16) -> empty. The user's events (personalized only).
 *   sess     spseudo(17) + ts(8) + eid(16) -> type(1) + item. Session sequences.
 *   usess    upseudo(17) + spseudo(17) -> empty. A user's sessions (erasure, P21).
 *   pop      item NUL + day(4) -> u64[SOUK_EV_NTYPES] counts. Item-level, no user: popularity.
 *   uset     upseudo(17) + kind(1) + item -> u32 seq. The items (at most cooc_items_max per
 *            kind, the first distinct ones of the user's retained events in (ts, eid) order) that
 *            form the user's co-occurrence pairs. Per-user state behind distinct-user counts.
 *   cooc     kind(1) + itemA NUL + itemB -> u32 users. Both orders are stored.
 *   consent  upseudo(17) -> the consent record, 14 bytes: layout(1) = 1, flags(1: 1 =
 *            personalization, 2 = location, 4 = search_history, 8 = minor, 16 =
 *            guardian_consent), policy_version u32 LE, updated_ms i64 LE
 *            (souk__ev_consent_read, souk__ev_consent_encode in consent_read.c)
 *   shist    upseudo(17) + ts(8) -> query. Search history (P11).
 *   tags     upseudo(17) + tag NUL -> u32 count + i64 last_ms + why.
 *   tagdel   upseudo(17) + tag NUL -> i64 deletion ms (P8: not derived again from older events)
 *   idel     upseudo(17) + item NUL -> i64 deletion ms (P8 items: same rule)
 *   qstat    period-day(4) + query NUL + upseudo(17) -> u32 searches, u32 zero-result searches.
 *            Per-user state behind distinct-user counts of analytics (P16).
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

#include <pthread.h>

#define SOUK_EV_FORMAT 1
#define SOUK_EID_LEN 16

enum { EVF_USER = 1, EVF_SESSION = 2, EVF_LOC = 4, EVF_NHITS = 8 };

struct souk_events {
    char *dir; /* DIR/events */
    souk_events_opts o;
    pthread_rwlock_t swap; /* held for reading by every transaction; for writing by the swap */
    MDB_env *env;
    uint64_t gen;
    MDB_dbi meta, ev, uev, sess, usess, pop, uset, cooc, consent, shist, tags, tagdel, idel, qstat,
        supp, jobs;
    int audit_fd;
};

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

/* Compacts the live environment into a new generation and swaps it in (the layout above).
 * No transaction of this process may be open on s. */
int souk__ev_compact(souk_events *s, char *err, size_t errlen);

/* Pseudonym of a user id with the current key; the users' data is keyed by it. */
int souk__ev_user(souk_events *s, const char *user, size_t len, uint8_t out[SOUK_PSEUDO_LEN]);

/* Withdraws every personal row of the user (upseudo) in txn and updates the derived tables as a
 * rebuild would: uev, sess and usess of the user's sessions, uset and its cooc contributions,
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

/* ------------------------------------------------------------------ control plane
 * consent.c, user.c, erase.c, analytics.c, audit.c (the users' own data, erasure, released
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
 *   idel:   the user's events of the item with ts_ms <= the deletion ms feed no per-user or
 *           per-session table (uset and its cooc pairs, tags, sess) and are not listed by
 *           souk_user_items; they stay in ev/uev (and pop) until retention or erasure.
 *
 * jobs value: state(1) + created i64 LE + updated i64 LE + suppression hash(16) [+ upseudo(17)].
 * A running job without the pseudonym has deleted the user's rows and waits for the
 * compaction (erase.c). */

/* P25: turns off in c every purpose that appeared after c->policy_version or after the store's
 * current policy version (the table above). souk_consent_get applies it to what
 * souk__ev_consent_read gives; souk_consent_set stores no purpose its version lacks. */
void souk__ev_consent_policy(const souk_events *s, souk_consent *c);
/* Recomputes the user's derived rows (uset and its cooc contributions, tags, the user's sess
 * rows) from the user's retained events, honouring tagdel and idel, as a rebuild would (store
 * core). Used after a tag or item deletion. */
int souk__ev_user_derive(souk_events *s, MDB_txn *txn, const uint8_t upseudo[SOUK_PSEUDO_LEN]);
/* 1 when the suppression hash of user is in supp (the user is erased or being erased). */
int souk__ev_suppressed(souk_events *s, MDB_txn *txn, const char *user, size_t len);
/* Test hook of erase.c: called at each step of souk_erase_run (1: job marked running, 2: rows
 * deleted and pseudonym dropped, 3: compacted, 4: completed); NULL in production. */
extern void (*souk__ev_erase_hook)(int step);
/* souk_audit with the subject given by its suppression hash (erase.c has no raw id). */
int souk__ev_audit_hash(souk_events *s, const char *action, const uint8_t h[SOUK_SUPPRESS_LEN],
                        const char *detail, int64_t now);
/* Deletes every row of db whose key starts with prefix (plen bytes) (consent.c). */
int souk__ev_del_prefix(MDB_txn *txn, MDB_dbi db, const void *prefix, size_t plen);

#endif
