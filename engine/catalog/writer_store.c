/* writer_store.c: the index writer's store records (docs and termlist), and the store-ahead
 * thread that writes a large batch's new records in transactions of their own before its
 * commit; orphans such records leave are deleted here. */
#include "souk/buf.h"
#include "catalog/writer_int.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

/* mdb_put, with MDB_APPEND when af holds it. An append whose key does not sort after the
 * database's last key fails with MDB_KEYEXIST (without MDB_NOOVERWRITE nothing else does), and
 * is then done as an ordinary put: a wrong guess about the order costs page fill, never the
 * commit. (Issue 17: a batch whose docids reached the store out of order failed every rerun.) */
int souk__put_or_append(souk_writer *w, MDB_txn *txn, MDB_dbi dbi, MDB_val *k, MDB_val *d,
                        unsigned flags, unsigned af)
{
    size_t size = d->mv_size;
    void *data = d->mv_data;
    int rc = mdb_put(txn, dbi, k, d, flags | af);
    if (rc == MDB_KEYEXIST && (af & MDB_APPEND)) {
        d->mv_size = size;
        d->mv_data = data;
        rc = mdb_put(txn, dbi, k, d, flags);
    }
    return rc ? souk__writer_err(w, rc) : 0;
}

/* Writes a document's store record (varint id length, id, stored-fields blob), in place
 * (MDB_RESERVE), and its term list (the blob made by the analysis thread) in txn. */
int souk__put_store(souk_writer *w, MDB_txn *txn, const souk_index *ix, const store_rec *r,
                    unsigned af)
{
    uint8_t key[4], vl[10];
    be32_put(key, r->docid);
    size_t n = varint_put(vl, r->id_len);
    MDB_val k = {4, key}, d = {n + r->id_len + r->stored_len, NULL};
    int rc = souk__put_or_append(w, txn, ix->docs, &k, &d, MDB_RESERVE, af);
    if (rc)
        return rc;
    uint8_t *p = d.mv_data;
    memcpy(p, vl, n);
    memcpy(p + n, r->id, r->id_len);
    memcpy(p + n + r->id_len, r->stored, r->stored_len);
    d.mv_size = r->termlist_len;
    d.mv_data = (void *)r->termlist;
    return souk__put_or_append(w, txn, ix->termlist, &k, &d, 0, af);
}

/* Store records (docs, termlist) at docids from next_docid on belong to no document: store
 * transactions of a batch that never committed left them (see store_ahead). Readers ignore them;
 * the next batch removes them before it writes store records. */
int souk__delete_orphans(souk_writer *w, souk_index *ix, MDB_txn *txn, uint64_t next_docid)
{
    if (next_docid > UINT32_MAX)
        return 0;
    MDB_dbi dbs[2] = {ix->docs, ix->termlist};
    for (int i = 0; i < 2; i++) {
        MDB_cursor *cur;
        int rc = mdb_cursor_open(txn, dbs[i], &cur);
        if (rc)
            return souk__writer_err(w, rc);
        for (;;) {
            uint8_t key[4];
            be32_put(key, (uint32_t)next_docid);
            MDB_val k = {4, key}, d;
            rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
            if (rc)
                break;
            if ((rc = mdb_cursor_del(cur, 0)) != 0)
                break;
        }
        mdb_cursor_close(cur);
        if (rc != MDB_NOTFOUND)
            return souk__writer_err(w, rc);
    }
    return 0;
}

/* ------------------------------------------------------------------ store records ahead */

/* A large batch of new documents writes their store records and term lists (most of the bytes
 * a commit writes) ahead of its commit: a thread of the batch puts them in transactions of
 * their own, STORE_TXN_DOCS documents each, as they arrive, so that the copying, write-out
 * and fsync of those bytes overlap the analysis instead of lengthening the commit. Nothing
 * refers to these records until the batch's own transaction (ids, postings, meta) commits; a
 * crash in between leaves them as orphans past next_docid, which readers skip and the next
 * batch deletes (souk__delete_orphans). Any failure, or another writer's commit, stops it for the
 * batch: the batch keeps its own copy of every record, and its commit writes what did not go
 * out. The thread reads only the entries queued for it (the records live in the batch's arena
 * until the batch is cleared), never the ops. */
#define STORE_AHEAD_MIN 1024 /* new documents a batch holds before it starts */
#define STORE_TXN_DOCS 8192
#define STORE_TXN_SECONDS 0.2
#define STORE_WAKE 256 /* queued entries that wake the thread */

typedef struct store_entry {
    store_rec r;
    uint32_t opi, ver; /* the op and the version of it the entry holds */
    unsigned af;       /* MDB_APPEND when the docid is past every earlier one */
} store_entry;

struct store_ahead {
    souk_index *ix;
    uint64_t gen; /* the generation the batch's docids were assigned against */
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    store_entry *q; /* queued by the writer thread, in order */
    size_t n, cap;
    size_t taken; /* entries the thread has put */
    size_t done;  /* entries committed: a prefix of q */
    int closing;  /* commit what is open and stop (1), or abort it and stop (2) */
    int failed;   /* stopped early: entries from done on are not out */
};

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Opens a store transaction; the batch's first also removes orphans of an earlier batch. */
static int store_txn_begin(store_ahead *sa, MDB_txn **txn, int first)
{
    uint64_t gen, next;
    int rc = souk__txn_begin(sa->ix, 0, txn, NULL);
    if (rc) {
        *txn = NULL;
        return rc;
    }
    if ((rc = souk__meta_get_u64(*txn, sa->ix, "generation", &gen, NULL)) == 0 &&
        (rc = souk__meta_get_u64(*txn, sa->ix, "next_docid", &next, NULL)) == 0) {
        if (gen != sa->gen)
            rc = SOUK_EINVAL; /* another writer committed: the docids are not ours */
        else if (first)
            rc = souk__delete_orphans(NULL, sa->ix, *txn, next ? next : 1);
    }
    if (rc) {
        mdb_txn_abort(*txn);
        *txn = NULL;
    }
    return rc;
}

/* The store thread: puts queued entries, committing every STORE_TXN_DOCS documents, and after
 * at most STORE_TXN_SECONDS with a transaction open, so that another writer waits for LMDB's
 * write lock no longer than that. */
static void *store_thread(void *arg)
{
    store_ahead *sa = arg;
    MDB_txn *txn = NULL;
    size_t in_txn = 0;
    int first = 1, rc = 0;
    double opened = 0;
    store_entry batch[256];
    pthread_mutex_lock(&sa->mu);
    for (;;) {
        int timed_out = 0;
        while (sa->taken == sa->n && !sa->closing && !timed_out) {
            if (!txn) {
                pthread_cond_wait(&sa->cv, &sa->mu);
                continue;
            }
            double until = opened + STORE_TXN_SECONDS;
            struct timespec dl = {(time_t)until, (long)((until - (double)(time_t)until) * 1e9)};
            timed_out = pthread_cond_timedwait(&sa->cv, &sa->mu, &dl) == ETIMEDOUT;
        }
        if (sa->closing == 2)
            break;
        if (txn && (sa->closing || timed_out || in_txn >= STORE_TXN_DOCS ||
                    mono_now() - opened >= STORE_TXN_SECONDS)) {
            size_t upto = sa->taken;
            pthread_mutex_unlock(&sa->mu);
            rc = souk__writer_err(NULL, mdb_txn_commit(txn));
            txn = NULL;
            in_txn = 0;
            pthread_mutex_lock(&sa->mu);
            if (rc) {
                sa->failed = 1;
                break;
            }
            sa->done = upto;
            continue;
        }
        if (sa->taken == sa->n)
            break; /* closing, and nothing is open */
        size_t k = sa->n - sa->taken < 256 ? sa->n - sa->taken : 256;
        memcpy(batch, sa->q + sa->taken, k * sizeof *batch);
        pthread_mutex_unlock(&sa->mu);
        if (!txn) {
            rc = store_txn_begin(sa, &txn, first);
            opened = mono_now();
            first = 0;
        }
        for (size_t i = 0; i < k && rc == 0; i++)
            rc = souk__put_store(NULL, txn, sa->ix, &batch[i].r, batch[i].af);
        in_txn += k;
        pthread_mutex_lock(&sa->mu);
        if (rc) {
            sa->failed = 1;
            break;
        }
        sa->taken += k;
    }
    pthread_mutex_unlock(&sa->mu);
    if (txn)
        mdb_txn_abort(txn);
    return NULL;
}

/* Stops the thread: commit (or abort) what it holds; marks the ops whose current versions'
 * records are committed. */
void souk__store_finish(souk_writer *w, int abort)
{
    store_ahead *sa = w->sa;
    if (!sa)
        return;
    pthread_mutex_lock(&sa->mu);
    sa->closing = abort ? 2 : 1;
    pthread_cond_broadcast(&sa->cv);
    pthread_mutex_unlock(&sa->mu);
    pthread_join(sa->th, NULL);
    for (size_t i = 0; i < sa->done && !abort; i++) {
        op *o = &w->ops[sa->q[i].opi];
        if (o->early_ver == sa->q[i].ver)
            o->stored_early = 1;
    }
    if (sa->done && !abort)
        w->store_used = 1;
    pthread_mutex_destroy(&sa->mu);
    pthread_cond_destroy(&sa->cv);
    souk_free(sa->q);
    souk_free(sa);
    w->sa = NULL;
    w->store_off = 1; /* nothing more goes ahead in this batch */
}

static int store_start(souk_writer *w)
{
    store_ahead *sa = souk_calloc(1, sizeof *sa);
    if (!sa)
        return SOUK_ENOMEM;
    sa->ix = w->ix;
    sa->gen = w->snap_gen;
    pthread_mutex_init(&sa->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&sa->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&sa->th, NULL, store_thread, sa) != 0) {
        pthread_mutex_destroy(&sa->mu);
        pthread_cond_destroy(&sa->cv);
        souk_free(sa);
        return SOUK_ENOMEM;
    }
    w->sa = sa;
    return 0;
}

/* Queues op o's current version. */
static void store_queue(souk_writer *w, op *o)
{
    store_ahead *sa = w->sa;
    pthread_mutex_lock(&sa->mu);
    if (sa->failed) {
        pthread_mutex_unlock(&sa->mu);
        return;
    }
    if (souk_grow_first((void **)&sa->q, &sa->cap, sa->n + 1, sizeof *sa->q, SIZE_MAX, 4096)) {
        sa->failed = 1; /* what is queued still goes out */
        pthread_mutex_unlock(&sa->mu);
        return;
    }
    store_entry *e = &sa->q[sa->n++];
    e->r = store_rec_of(o, o->docid);
    e->opi = (uint32_t)(o - w->ops);
    e->ver = o->early_ver;
    e->af = o->docid > w->store_max ? MDB_APPEND : 0;
    /* Woken a batch at a time (it takes 256 per round): one wake-up per document cost more
     * in context switches than the puts themselves. */
    if (sa->n - sa->taken >= STORE_WAKE)
        pthread_cond_signal(&sa->cv);
    pthread_mutex_unlock(&sa->mu);
    if (o->docid > w->store_max)
        w->store_max = o->docid;
    o->early_any = 1;
}

/* Called for each upsert of a new id, once its records are in the batch. */
void souk__store_upsert(souk_writer *w, op *o)
{
    o->stored_early = 0; /* this version's records are not out yet */
    o->early_ver++;
    if (w->store_off)
        return;
    if (w->sa) {
        store_queue(w, o);
        return;
    }
    if (++w->new_ops < STORE_AHEAD_MIN)
        return;
    if (store_start(w) != 0) {
        w->store_off = 1;
        return;
    }
    /* The backlog first, in docid order (the order ops were made in). */
    for (size_t i = 0; i < w->nops; i++)
        if (w->ops[i].pregrouped && !w->ops[i].del)
            store_queue(w, &w->ops[i]);
}
