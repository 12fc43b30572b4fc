/* writer_bulk.c: the index writer's parallel encoder for an empty index: two threads encode the
 * new terms' dictionary entries and postings blocks, in chunks of terms, while the writer thread
 * appends them to LMDB in term order. */
#include "souk/buf.h"
#include "catalog/writer_int.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

/* ------------------------------------------------------------------ bulk encoding */

/* Into an empty index every touched term is new, and its blocks depend only on its changes:
 * two threads encode the terms, in chunks, while the writer thread appends the results to LMDB
 * in term order. Output records: u8 database (0 terms, 1 post), u32 key length, u32 value length,
 * key, value. */
#define BULK_THREADS 2

typedef struct bulk_chunk {
    uint8_t *buf;
    size_t len, cap;
    int done, rc;
} bulk_chunk;

typedef struct bulk_job {
    commit_ctx *c;
    const grank *rank;
    size_t ngroups, nchunks, next;
    bulk_chunk *chunks;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
} bulk_job;

static int bulk_reserve(bulk_chunk *k, size_t n)
{
    return souk_grow_first((void **)&k->buf, &k->cap, k->len + n, 1, SIZE_MAX, 1 << 16);
}

/* Appends one record; the value is written by the caller into the returned space. */
static uint8_t *bulk_record(bulk_chunk *k, int db, const void *key, uint32_t klen, uint32_t vmax)
{
    if (bulk_reserve(k, 9 + (size_t)klen + vmax))
        return NULL;
    uint8_t *p = k->buf + k->len;
    p[0] = (uint8_t)db;
    memcpy(p + 1, &klen, 4);
    memcpy(p + 9, key, klen);
    return p;
}

static void bulk_record_done(bulk_chunk *k, uint8_t *rec, uint32_t klen, uint32_t vlen)
{
    memcpy(rec + 5, &vlen, 4);
    k->len += 9 + (size_t)klen + vlen;
}

/* The bulk encoder's view of one term's postings: arrays filled straight from its changes, and
 * each posting's positions left where the analysis put them. */
typedef struct bulk_list {
    plist p; /* docids, wdfs, npos, doclens (no positions) */
    const uint32_t **pos_each;
    size_t pos_cap;
    tchange *scratch; /* for souk__sort_changes */
    size_t scratch_cap;
    tchange *dec; /* the term's changes, read back from its slice */
    size_t dec_cap;
} bulk_list;

/* Encodes one new term (all puts, lengths known) into chunk k. */
static int bulk_term(const commit_ctx *c, bulk_chunk *k, const tgroup *tg, tchange *ch, uint32_t n,
                     bulk_list *bl)
{
    if (tg->unsorted && souk__sort_changes(ch, n, &bl->scratch, &bl->scratch_cap))
        return SOUK_ENOMEM;
    plist *o = &bl->p;
    if (souk__plist_reserve(o, n, 0))
        return SOUK_ENOMEM;
    if (souk_grow_first((void **)&bl->pos_each, &bl->pos_cap, n, sizeof *bl->pos_each, SIZE_MAX,
                        256))
        return SOUK_ENOMEM;
    souk_term_info info = {0, 0, 0, 0};
    uint64_t cf = 0;
    uint32_t max_wdf = 0, del = 0;
    for (uint32_t i = 0; i < n; i++) {
        const tchange *t = &ch[i];
        uint32_t dl = change_doclen(c, t);
        del |= CH_DEL(t) | (dl == DOCLEN_UNKNOWN);
        o->docids[i] = t->docid;
        o->wdfs[i] = t->wdf;
        o->npos[i] = t->npos;
        o->doclens[i] = dl;
        bl->pos_each[i] = pos_of(&c->w->pos, t->pos, t->npos);
        cf += t->wdf;
        max_wdf = t->wdf > max_wdf ? t->wdf : max_wdf;
    }
    if (del)
        return SOUK_EINVAL; /* not a new term (or an old document): the serial path handles it */
    o->n = n;
    info.df = n;
    info.cf = cf;
    info.max_wdf = max_wdf;
    uint8_t scratch[SOUK_INLINE_MAX + 64];
    souk_block_in in;
    size_t npos;
    if (n <= SOUK_BLOCK_MAX) {
        souk__block_input(o, o->doclens, 0, n, 0, &in, &npos);
        in.pos_each = bl->pos_each;
        if (souk_block_bound(n, npos) <= sizeof scratch) {
            size_t blen = souk_block_encode(&in, scratch);
            if (blen <= SOUK_INLINE_MAX) {
                uint8_t *rec = bulk_record(k, 0, tg->term, tg->len, 64 + (uint32_t)blen);
                if (!rec)
                    return SOUK_ENOMEM;
                size_t vlen = souk__dict_encode(&info, scratch, blen, rec + 9 + tg->len);
                bulk_record_done(k, rec, tg->len, (uint32_t)vlen);
                return 0;
            }
        }
    }
    for (uint32_t from = 0; from < n; from += SOUK_BLOCK_MAX) {
        uint32_t to = from + SOUK_BLOCK_MAX < n ? from + SOUK_BLOCK_MAX : n;
        souk__block_input(o, o->doclens, from, to, 0, &in, &npos);
        in.pos_each = bl->pos_each + from;
        uint8_t key[520];
        size_t klen = souk__post_key(tg->term, tg->len, o->docids[to - 1], key);
        uint8_t *rec =
            bulk_record(k, 1, key, (uint32_t)klen, (uint32_t)souk_block_bound(to - from, npos));
        if (!rec)
            return SOUK_ENOMEM;
        size_t vlen = souk_block_encode(&in, rec + 9 + klen);
        bulk_record_done(k, rec, (uint32_t)klen, (uint32_t)vlen);
        info.nblocks++;
    }
    uint8_t *rec = bulk_record(k, 0, tg->term, tg->len, 64);
    if (!rec)
        return SOUK_ENOMEM;
    size_t vlen = souk__dict_encode(&info, NULL, 0, rec + 9 + tg->len);
    bulk_record_done(k, rec, tg->len, (uint32_t)vlen);
    return 0;
}

static void *bulk_thread(void *arg)
{
    bulk_job *j = arg;
    bulk_list o;
    memset(&o, 0, sizeof o);
    for (;;) {
        pthread_mutex_lock(&j->mu);
        size_t ci = j->next < j->nchunks && !j->stop ? j->next++ : j->nchunks;
        pthread_mutex_unlock(&j->mu);
        if (ci >= j->nchunks)
            break;
        bulk_chunk *k = &j->chunks[ci];
        int rc = 0;
        size_t end = (ci + 1) * BULK_CHUNK < j->ngroups ? (ci + 1) * BULK_CHUNK : j->ngroups;
        for (size_t r = ci * BULK_CHUNK; r < end && !rc; r++) {
            /* The groups come in term order, at random places: fetch them, then their first
             * blocks and terms, a few ahead. */
            if (r + 8 < end)
                PREFETCH(grp(j->c, j->rank[r + 8].idx));
            if (r + 4 < end) {
                const tgroup *ahead = grp(j->c, j->rank[r + 4].idx);
                PREFETCH(slab_ptr(&j->c->slab, ahead->first));
                PREFETCH(ahead->term);
            }
            const tgroup *tg = grp(j->c, j->rank[r].idx);
            uint32_t n;
            rc = souk__group_read(j->c, tg, &o.dec, &o.dec_cap, &n);
            if (!rc && n)
                rc = bulk_term(j->c, k, tg, o.dec, n, &o);
        }
        pthread_mutex_lock(&j->mu);
        k->rc = rc;
        k->done = 1;
        pthread_cond_broadcast(&j->cv);
        pthread_mutex_unlock(&j->mu);
    }
    souk__plist_free(&o.p);
    souk_free(o.pos_each);
    souk_free(o.scratch);
    souk_free(o.dec);
    return NULL;
}

/* Encodes every group in parallel and appends the results in term order. Returns 0, a SOUK_E*
 * code, or SOUK_EINVAL when a term turned out not to be new (a delete, or a change of a document
 * the index already had; the attempt fails and its transaction is aborted). */
int souk__bulk_merge(commit_ctx *c, const grank *rank)
{
    bulk_job j;
    memset(&j, 0, sizeof j);
    j.c = c;
    j.rank = rank;
    j.ngroups = c->ngroups;
    j.nchunks = (c->ngroups + BULK_CHUNK - 1) / BULK_CHUNK;
    j.chunks = souk_calloc(j.nchunks + 1, sizeof *j.chunks);
    if (!j.chunks)
        return SOUK_ENOMEM;
    pthread_mutex_init(&j.mu, NULL);
    pthread_cond_init(&j.cv, NULL);
    pthread_t th[BULK_THREADS];
    int started = 0, rc = 0;
    for (int i = 0; i < BULK_THREADS; i++)
        if (pthread_create(&th[i], NULL, bulk_thread, &j) == 0)
            started++;
    if (started == 0)
        bulk_thread(&j); /* no threads: encode everything here */
    /* One cursor per database: an append through a cursor already at the end skips the search
     * from the root that every mdb_put does. */
    MDB_cursor *cur[2] = {NULL, NULL};
    if ((rc = mdb_cursor_open(c->txn, c->ix->terms, &cur[0])) == 0)
        rc = mdb_cursor_open(c->txn, c->ix->post, &cur[1]);
    if (rc)
        rc = souk__writer_err(c->w, rc);
    for (size_t ci = 0; ci < j.nchunks && !rc; ci++) {
        bulk_chunk *k = &j.chunks[ci];
        pthread_mutex_lock(&j.mu);
        while (!k->done)
            pthread_cond_wait(&j.cv, &j.mu);
        pthread_mutex_unlock(&j.mu);
        if ((rc = k->rc) != 0)
            break;
        for (size_t at = 0; at < k->len && !rc;) {
            uint8_t *p = k->buf + at;
            uint32_t klen, vlen;
            memcpy(&klen, p + 1, 4);
            memcpy(&vlen, p + 5, 4);
            MDB_val key = {klen, p + 9}, val = {vlen, p + 9 + klen};
            if ((rc = mdb_cursor_put(cur[p[0] ? 1 : 0], &key, &val, MDB_APPEND)) != 0)
                rc = souk__writer_err(c->w, rc);
            at += 9 + (size_t)klen + vlen;
        }
        souk_free(k->buf);
        k->buf = NULL;
    }
    for (int i = 0; i < 2; i++)
        if (cur[i])
            mdb_cursor_close(cur[i]);
    pthread_mutex_lock(&j.mu);
    j.stop = 1;
    pthread_mutex_unlock(&j.mu);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    for (size_t ci = 0; ci < j.nchunks; ci++)
        souk_free(j.chunks[ci].buf);
    souk_free(j.chunks);
    pthread_mutex_destroy(&j.mu);
    pthread_cond_destroy(&j.cv);
    return rc;
}
