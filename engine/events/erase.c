/* erase.c: erasure jobs (P12-P14): account cancellation as an asynchronous job with observable
 * states pending -> running -> completed | failed, idempotent and resumable after a kill at any
 * point.
 *
 * souk_erase_start commits, in one transaction, the suppression record (supp: the user's
 * suppression hash, P14) and the job (jobs: state, times, the hash and, until its rows are
 * gone, the user's pseudonym). From that commit on nothing of the user is served (the consent
 * reads as all off, the user's own lists are empty) and the user's events are refused
 * (SUPPRESSED). The suppression record stays for good: its purpose is that replaying an old
 * event log does not bring the user back (docs/privacy.md).
 *
 * souk_erase_run brings every pending or running job to completed, in an order chosen so that
 * no byte of the pseudonym survives and any prefix of the steps resumes:
 *   1. pending -> running (one commit);
 *   2. the erasure ledger gets the job's line (backup.c, P23: what a restore of an older copy
 *      re-applies), then one transaction deletes every row of the user (souk__ev_forget_user
 * without keeping the events, and the consent record) AND drops the pseudonym from the job record:
 * the job is now "running without a pseudonym", which means "rows gone, compaction due";
 *   3. the environment is compacted into a new generation (souk__ev_compact), so no free or
 *      reused page keeps old bytes of the user or of the job record;
 *   4. the audit line, then running -> completed (one commit, writing nothing of the user).
 * A kill before 2 commits repeats 2 (the pseudonym is still in the job); a kill after it
 * compacts again. Several jobs share one compaction. */
#include "events/events_int.h"
#include "souk/buf.h"

#include <sodium.h>
#include <string.h>

void (*souk__ev_erase_hook)(int step);

#define JOB_ID_LEN 16
#define JOB_BASE (1 + 8 + 8 + SOUK_SUPPRESS_LEN)
#define JOB_FULL (JOB_BASE + SOUK_PSEUDO_LEN)

static void hook(int step)
{
    if (souk__ev_erase_hook)
        souk__ev_erase_hook(step);
}

static void put_i64le(uint8_t *p, int64_t x)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)((uint64_t)x >> (8 * i));
}

static int64_t get_i64le(const uint8_t *p)
{
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u |= (uint64_t)p[i] << (8 * i);
    return (int64_t)u;
}

/* One job record, decoded. */
typedef struct job {
    uint8_t id[JOB_ID_LEN];
    int state;
    int64_t created, updated;
    uint8_t hash[SOUK_SUPPRESS_LEN];
    int has_up;
    uint8_t up[SOUK_PSEUDO_LEN];
} job;

static int job_decode(const MDB_val *k, const MDB_val *v, job *j)
{
    const uint8_t *p = v->mv_data;
    if (k->mv_size != JOB_ID_LEN || (v->mv_size != JOB_BASE && v->mv_size != JOB_FULL) ||
        p[0] > SOUK_JOB_FAILED)
        return SOUK_ECORRUPT;
    memcpy(j->id, k->mv_data, JOB_ID_LEN);
    j->state = p[0];
    j->created = get_i64le(p + 1);
    j->updated = get_i64le(p + 9);
    memcpy(j->hash, p + 17, SOUK_SUPPRESS_LEN);
    j->has_up = v->mv_size == JOB_FULL;
    if (j->has_up)
        memcpy(j->up, p + JOB_BASE, SOUK_PSEUDO_LEN);
    return SOUK_OK;
}

static int job_put(souk_events *s, MDB_txn *txn, const job *j)
{
    uint8_t val[JOB_FULL];
    val[0] = (uint8_t)j->state;
    put_i64le(val + 1, j->created);
    put_i64le(val + 9, j->updated);
    memcpy(val + 17, j->hash, SOUK_SUPPRESS_LEN);
    if (j->has_up)
        memcpy(val + JOB_BASE, j->up, SOUK_PSEUDO_LEN);
    MDB_val k = {JOB_ID_LEN, (void *)j->id}, v = {j->has_up ? JOB_FULL : JOB_BASE, val};
    return souk_kv_err(mdb_put(txn, s->jobs, &k, &v, 0));
}

/* The job of suppression hash h (a scan: jobs are few). SOUK_ENOTFOUND when none. */
static int job_find(souk_events *s, MDB_txn *txn, const uint8_t h[SOUK_SUPPRESS_LEN], job *out)
{
    MDB_cursor *cur;
    int rc = souk_kv_err(mdb_cursor_open(txn, s->jobs, &cur));
    if (rc)
        return rc;
    MDB_val k, v;
    int r = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
    rc = SOUK_ENOTFOUND;
    while (r == 0) {
        job j;
        if (job_decode(&k, &v, &j) == SOUK_OK && !memcmp(j.hash, h, SOUK_SUPPRESS_LEN)) {
            *out = j;
            rc = SOUK_OK;
            break;
        }
        r = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (rc == SOUK_ENOTFOUND && r != MDB_NOTFOUND)
        rc = souk_kv_err(r);
    mdb_cursor_close(cur);
    return rc;
}

static void hex(const uint8_t *p, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[p[i] >> 4];
        out[2 * i + 1] = d[p[i] & 15];
    }
    out[2 * n] = 0;
}

struct start_args {
    job *j; /* in: the new job; out: the job of the user */
    int64_t now;
    int fresh;
};

static int start_write(souk_events *s, MDB_txn *txn, void *arg)
{
    struct start_args *a = arg;
    souk__ev_user_fix(s, a->j->up);
    job old;
    int rc = job_find(s, txn, a->j->hash, &old);
    if (rc == SOUK_OK) {
        a->fresh = 0;
        if (old.state == SOUK_JOB_FAILED) {
            /* Try again: a failed job kept the pseudonym (it fails only before step 2). */
            old.state = SOUK_JOB_PENDING;
            old.updated = a->now;
            if ((rc = job_put(s, txn, &old)) != SOUK_OK)
                return rc;
        }
        *a->j = old;
        return SOUK_OK;
    }
    if (rc != SOUK_ENOTFOUND)
        return rc;
    a->fresh = 1;
    uint8_t t[8];
    put_i64le(t, a->now);
    MDB_val k = {SOUK_SUPPRESS_LEN, a->j->hash}, v = {8, t};
    int r = mdb_put(txn, s->supp, &k, &v, MDB_NOOVERWRITE);
    if (r && r != MDB_KEYEXIST) /* suppressed before (a restore): the job is new */
        return souk_kv_err(r);
    return job_put(s, txn, a->j);
}

int souk_erase_start(souk_events *s, const char *user, size_t len, int64_t now, char job_id[33],
                     char *err, size_t errlen)
{
    if (!user || !len || len > SOUK_USER_MAX || memchr(user, 0, len)) {
        snprintf(err, errlen, "erase: the user id must be 1..%d bytes without NUL", SOUK_USER_MAX);
        return SOUK_EINVAL;
    }
    job j = {0};
    int rc = souk__ev_user(s, user, len, j.up);
    if (rc) {
        snprintf(err, errlen, "erase: %s", souk_strerror(rc));
        return rc;
    }
    souk_suppress_hash(s->o.keys, user, len, j.hash);
    randombytes_buf(j.id, sizeof j.id);
    j.state = SOUK_JOB_PENDING;
    j.created = j.updated = now;
    j.has_up = 1;
    struct start_args a = {&j, now, 0};
    rc = souk__ev_write(s, start_write, &a);
    int fresh = a.fresh;
    sodium_memzero(j.up, sizeof j.up);
    if (rc) {
        snprintf(err, errlen, "erase: %s", souk_strerror(rc));
        return rc;
    }
    hex(j.id, JOB_ID_LEN, job_id);
    /* Every start of a job not yet completed is audited (a repeat is a repeated request), so a
     * kill between the commit and the audit line loses nothing the next call does not write. */
    if (fresh || j.state != SOUK_JOB_COMPLETED) {
        rc = souk__ev_audit_hash(s, "erase_start", j.hash, fresh ? "" : "repeated", now);
        if (rc)
            snprintf(err, errlen, "erase: started, but the audit log failed: %s",
                     souk_strerror(rc));
    }
    return rc;
}

static int parse_id(const char *job_id, uint8_t id[JOB_ID_LEN])
{
    if (!job_id || strlen(job_id) != 2 * JOB_ID_LEN)
        return SOUK_EINVAL;
    size_t bin;
    if (sodium_hex2bin(id, JOB_ID_LEN, job_id, 2 * JOB_ID_LEN, NULL, &bin, NULL) != 0 ||
        bin != JOB_ID_LEN)
        return SOUK_EINVAL;
    return SOUK_OK;
}

int souk_erase_state(souk_events *s, const char *job_id, souk_job_state *state, int64_t *updated,
                     char *err, size_t errlen)
{
    uint8_t id[JOB_ID_LEN];
    if (parse_id(job_id, id)) {
        snprintf(err, errlen, "erase: a job id is 32 hex digits");
        return SOUK_EINVAL;
    }
    MDB_txn *txn;
    int rc = souk__ev_begin(s, MDB_RDONLY, &txn);
    if (rc) {
        snprintf(err, errlen, "erase: %s", souk_strerror(rc));
        return rc;
    }
    MDB_val k = {JOB_ID_LEN, id}, v;
    int r = mdb_get(txn, s->jobs, &k, &v);
    job j;
    rc = r == MDB_NOTFOUND ? SOUK_ENOTFOUND : r ? souk_kv_err(r) : job_decode(&k, &v, &j);
    souk__ev_abort(s, txn);
    if (rc) {
        snprintf(err, errlen, "erase: %s",
                 rc == SOUK_ENOTFOUND ? "no such job" : souk_strerror(rc));
        return rc;
    }
    *state = (souk_job_state)j.state;
    if (updated)
        *updated = j.updated;
    return SOUK_OK;
}

/* The pending and running jobs. *out allocated with souk_malloc. */
static int jobs_open(souk_events *s, job **out, size_t *n)
{
    MDB_txn *txn;
    int rc = souk__ev_begin(s, MDB_RDONLY, &txn);
    if (rc)
        return rc;
    MDB_cursor *cur;
    rc = souk_kv_err(mdb_cursor_open(txn, s->jobs, &cur));
    job *v = NULL;
    size_t cnt = 0, cap = 0;
    if (rc == SOUK_OK) {
        MDB_val k, d;
        int r = mdb_cursor_get(cur, &k, &d, MDB_FIRST);
        while (r == 0) {
            job j;
            if (job_decode(&k, &d, &j) == SOUK_OK &&
                (j.state == SOUK_JOB_PENDING || j.state == SOUK_JOB_RUNNING)) {
                if ((rc = souk_grow((void **)&v, &cap, cnt + 1, sizeof *v, SIZE_MAX)) != SOUK_OK)
                    break;
                v[cnt++] = j;
            }
            r = mdb_cursor_get(cur, &k, &d, MDB_NEXT);
        }
        if (rc == SOUK_OK && r != MDB_NOTFOUND)
            rc = souk_kv_err(r);
        mdb_cursor_close(cur);
    }
    souk__ev_abort(s, txn);
    if (rc) {
        souk_free(v);
        return rc;
    }
    *out = v;
    *n = cnt;
    return SOUK_OK;
}

struct job_set_args {
    job *j;
    int state;
    int64_t now;
};

static int job_set_write(souk_events *s, MDB_txn *txn, void *arg)
{
    struct job_set_args *a = arg;
    job *j = a->j;
    MDB_val k = {JOB_ID_LEN, j->id}, v;
    int r = mdb_get(txn, s->jobs, &k, &v);
    int rc = r ? souk_kv_err(r) : job_decode(&k, &v, j);
    if (rc == SOUK_OK && j->state != SOUK_JOB_COMPLETED) {
        j->state = a->state;
        j->updated = a->now;
        rc = job_put(s, txn, j);
    }
    return rc;
}

/* Writes j's state (re-reading the record, so a concurrent runner's progress is kept). */
static int job_set(souk_events *s, job *j, int state, int64_t now)
{
    struct job_set_args a = {j, state, now};
    return souk__ev_write(s, job_set_write, &a);
}

/* Step 2: every row of the user goes, and the pseudonym leaves the job, in one commit. */
static int job_forget_write(souk_events *s, MDB_txn *txn, void *arg)
{
    struct job_set_args *a = arg;
    job *j = a->j;
    MDB_val k = {JOB_ID_LEN, j->id}, v;
    int r = mdb_get(txn, s->jobs, &k, &v);
    int rc = r ? souk_kv_err(r) : job_decode(&k, &v, j);
    if (rc == SOUK_OK && j->has_up) {
        rc = souk__ev_forget_user(s, txn, j->up, 0);
        if (rc == SOUK_OK) {
            MDB_val ck = {SOUK_PSEUDO_LEN, j->up};
            r = mdb_del(txn, s->consent, &ck, NULL);
            rc = r == MDB_NOTFOUND ? SOUK_OK : souk_kv_err(r);
        }
        if (rc == SOUK_OK) {
            job w = *j;
            sodium_memzero(w.up, sizeof w.up);
            w.has_up = 0;
            w.state = SOUK_JOB_RUNNING;
            w.updated = a->now;
            rc = job_put(s, txn, &w);
        }
    }
    return rc;
}

static int job_forget(souk_events *s, job *j, int64_t now)
{
    /* The ledger line first (P23): a restore of an older copy erases the user again. A kill
     * between the two writes the line again on the next run (a restore takes each once). */
    int rc = souk__ev_ledger_append(s, j->id, j->up, j->hash, now);
    if (rc)
        return rc;
    struct job_set_args a = {j, SOUK_JOB_RUNNING, now};
    rc = souk__ev_write(s, job_forget_write, &a);
    if (rc == SOUK_OK) {
        sodium_memzero(j->up, sizeof j->up);
        j->has_up = 0;
    }
    return rc;
}

void souk_events_on_erased(souk_events *s, void (*fn)(void *arg), void *arg)
{
    s->erased = fn;
    s->erased_arg = arg;
}

int souk_erase_run(souk_events *s, int64_t now, char *err, size_t errlen)
{
    job *jobs = NULL;
    size_t n = 0;
    /* Queued events first (inbox.c): an erased user's are refused as they are added, and their
     * inbox rows are deleted before the compaction. */
    int rc = souk_events_drain(s, now, NULL, err, errlen);
    if (rc)
        return rc;
    rc = jobs_open(s, &jobs, &n);
    if (rc) {
        snprintf(err, errlen, "erase: reading the jobs: %s", souk_strerror(rc));
        return rc;
    }
    int done = 0;
    size_t ok = 0;
    for (size_t i = 0; i < n; i++) {
        job *j = &jobs[i];
        if (j->state == SOUK_JOB_PENDING) {
            rc = job_set(s, j, SOUK_JOB_RUNNING, now);
            if (rc)
                goto fail;
            hook(1);
        }
        if (j->has_up) {
            rc = job_forget(s, j, now);
            if (rc == SOUK_ECORRUPT) {
                /* The user's rows do not read: the job fails, keeping its pseudonym so that a
                 * new souk_erase_start retries it. */
                int frc = job_set(s, j, SOUK_JOB_FAILED, now);
                if (frc == SOUK_OK)
                    souk__ev_audit_hash(s, "erase_failed", j->hash, souk_strerror(rc), now);
                snprintf(err, errlen, "erase: job failed: %s", souk_strerror(rc));
                sodium_memzero(jobs, n * sizeof *jobs);
                souk_free(jobs);
                return rc;
            }
            if (rc)
                goto fail;
            hook(2);
        }
        jobs[ok++] = *j;
    }
    if (ok) {
        rc = souk__ev_compact(s, err, errlen);
        if (rc) {
            sodium_memzero(jobs, n * sizeof *jobs);
            souk_free(jobs);
            return rc;
        }
        hook(3);
        if (s->erased)
            s->erased(s->erased_arg);
    }
    for (size_t i = 0; i < ok; i++) {
        /* The audit line first: a kill between the two repeats the line on the next run rather
         * than losing it. */
        rc = souk__ev_audit_hash(s, "erase_complete", jobs[i].hash, "", now);
        if (rc)
            goto fail;
        rc = job_set(s, &jobs[i], SOUK_JOB_COMPLETED, now);
        if (rc)
            goto fail;
        hook(4);
        done++;
    }
    sodium_memzero(jobs, n * sizeof *jobs);
    souk_free(jobs);
    return done;
fail:
    snprintf(err, errlen, "erase: %s", souk_strerror(rc));
    sodium_memzero(jobs, n * sizeof *jobs);
    souk_free(jobs);
    return rc;
}
