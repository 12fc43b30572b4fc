/* index.c: opening the LMDB index, meta, and the read side (snapshots, dictionary, postings,
 * documents). The write side is in writer.c. See docs/index-format.md. */
#include "catalog/index_int.h"
#include "souk/souk.h"
#include "core/kv.h"
#include "core/varint.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define DEFAULT_MAPSIZE ((size_t)1 << 36) /* 64 GiB of address space; the file grows as used */

size_t souk__post_key(const char *term, size_t len, uint32_t docid, uint8_t *out)
{
    memcpy(out, term, len);
    out[len] = 0;
    be32_put(out + len + 1, docid);
    return len + 5;
}

int souk__dict_decode(const uint8_t *p, size_t len, souk__dict *d)
{
    const uint8_t *end = p + len;
    uint64_t cf;
    if (varint_get32(&p, end, &d->info.df) || varint_get(&p, end, &cf) ||
        varint_get32(&p, end, &d->info.max_wdf) || varint_get32(&p, end, &d->info.nblocks))
        return SOUK_ECORRUPT;
    d->info.cf = cf;
    d->inline_block = d->info.nblocks == 0 ? p : NULL;
    d->inline_len = d->info.nblocks == 0 ? (size_t)(end - p) : 0;
    if (d->info.nblocks != 0 && p != end)
        return SOUK_ECORRUPT;
    return SOUK_OK;
}

size_t souk__dict_encode(const souk_term_info *info, const uint8_t *inline_block, size_t inline_len,
                         uint8_t *out)
{
    uint8_t *p = out;
    p += varint_put(p, info->df);
    p += varint_put(p, info->cf);
    p += varint_put(p, info->max_wdf);
    p += varint_put(p, info->nblocks);
    if (info->nblocks == 0 && inline_len) {
        memcpy(p, inline_block, inline_len);
        p += inline_len;
    }
    return (size_t)(p - out);
}

/* The SOUK_E* code of LMDB's code rc, which *cause (when not NULL) keeps for the message. */
static int lmdb_fail(int rc, int *cause)
{
    if (cause)
        *cause = rc;
    return souk_kv_err(rc);
}

int souk__txn_begin(souk_index *ix, unsigned flags, MDB_txn **txn, int *cause)
{
    int mrc = 0;
    return souk_kv_txn_begin(ix->env, flags, txn, &mrc) ? lmdb_fail(mrc, cause) : SOUK_OK;
}

int souk__meta_get_u64(MDB_txn *txn, souk_index *ix, const char *key, uint64_t *v, int *cause)
{
    MDB_val k = {strlen(key), (void *)key}, d;
    int rc = mdb_get(txn, ix->meta, &k, &d);
    if (rc == MDB_NOTFOUND) {
        *v = 0;
        return SOUK_OK;
    }
    if (rc)
        return lmdb_fail(rc, cause);
    if (d.mv_size != 8)
        return SOUK_ECORRUPT;
    *v = le64_get(d.mv_data);
    return SOUK_OK;
}

int souk__meta_put_u64(MDB_txn *txn, souk_index *ix, const char *key, uint64_t v, int *cause)
{
    uint8_t buf[8];
    le64_put(buf, v);
    MDB_val k = {strlen(key), (void *)key}, d = {8, buf};
    int rc = mdb_put(txn, ix->meta, &k, &d, 0);
    return rc ? lmdb_fail(rc, cause) : SOUK_OK;
}

/* Opens the index's named databases in txn (f: 0, or MDB_CREATE). SOUK_OK, SOUK_ENOTFOUND when
 * one is missing, or another SOUK_E* code with LMDB's in *cause. */
static int open_dbis(souk_index *ix, MDB_txn *txn, unsigned f, int *cause)
{
    struct {
        const char *name;
        MDB_dbi *dbi;
    } dbs[] = {{"meta", &ix->meta},         {"terms", &ix->terms}, {"post", &ix->post},
               {"doclen", &ix->doclen},     {"docs", &ix->docs},   {"ids", &ix->ids},
               {"termlist", &ix->termlist}, {"attr", &ix->attr}};
    for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
        int rc = mdb_dbi_open(txn, dbs[i].name, f, dbs[i].dbi);
        if (rc)
            return lmdb_fail(rc, cause);
    }
    return SOUK_OK;
}

int souk_index_open(const char *dir, const souk_schema *schema, unsigned flags, souk_index **out,
                    char *err, size_t errlen)
{
    souk_index *ix = souk_calloc(1, sizeof *ix);
    if (ix) {
        pthread_mutex_init(&ix->gen_lock, NULL);
        pthread_cond_init(&ix->gen_cv, NULL);
    }
    MDB_txn *txn = NULL;
    int rc, cause = 0, src = SOUK_EIO;
    if (!ix) {
        snprintf(err, errlen, "out of memory");
        return SOUK_ENOMEM;
    }
    ix->flags = flags;
    if (!(ix->dir = souk_strndup(dir, strlen(dir)))) {
        souk_index_close(ix);
        snprintf(err, errlen, "out of memory");
        return SOUK_ENOMEM;
    }
    souk_kv_opts ko = {DEFAULT_MAPSIZE, 16, 510, 0640, (flags & SOUK_INDEX_RDONLY) != 0};
    if ((src = souk_kv_open(dir, &ko, &ix->env, err, errlen)) != 0) {
        if (src == SOUK_ENOTFOUND)
            snprintf(err, errlen, "'%s' holds no Souk index", dir);
        else if (errlen > 8 && strncmp(err, "opening ", 8) == 0) {
            char cause[512];
            snprintf(cause, sizeof cause, "%s", err + 8);
            snprintf(err, errlen, "opening index %s", cause);
        }
        goto fail;
    }
    if ((src = souk__txn_begin(ix, (flags & SOUK_INDEX_RDONLY) ? MDB_RDONLY : 0, &txn, &cause)) !=
        0)
        goto store_fail;
    src = open_dbis(ix, txn, (flags & SOUK_INDEX_RDONLY) ? 0 : MDB_CREATE, &cause);
    if (src == SOUK_ENOTFOUND) {
        snprintf(err, errlen, "'%s' holds no Souk index", dir);
        goto fail;
    }
    if (src)
        goto store_fail;
    uint64_t format;
    if ((src = souk__meta_get_u64(txn, ix, "format", &format, &cause)) != 0)
        goto store_fail;
    MDB_val k = {6, "schema"}, d;
    rc = mdb_get(txn, ix->meta, &k, &d);
    if (format == 0) {
        /* A new index. */
        if (!schema) {
            snprintf(err, errlen, "'%s' is a new index: a schema is required", dir);
            src = SOUK_ESCHEMA;
            goto fail;
        }
        if (flags & SOUK_INDEX_RDONLY) {
            snprintf(err, errlen, "'%s' holds no Souk index", dir);
            src = SOUK_ENOTFOUND;
            goto fail;
        }
        if ((src = souk__meta_put_u64(txn, ix, "format", SOUK_FORMAT_VERSION, &cause)) != 0)
            goto store_fail;
        MDB_val sv = {strlen(schema->json), schema->json};
        if ((rc = mdb_put(txn, ix->meta, &k, &sv, 0)) != 0) {
            src = lmdb_fail(rc, &cause);
            goto store_fail;
        }
        src = souk_schema_parse(schema->json, strlen(schema->json), &ix->schema, err, errlen);
        if (src)
            goto fail;
    } else {
        if (format != SOUK_FORMAT_VERSION) {
            snprintf(err, errlen, "index format %llu, this build reads %d",
                     (unsigned long long)format, SOUK_FORMAT_VERSION);
            src = SOUK_EFORMAT;
            goto fail;
        }
        if (rc) {
            snprintf(err, errlen, "index has no stored schema");
            src = SOUK_ECORRUPT;
            goto fail;
        }
        if (schema && (d.mv_size != strlen(schema->json) ||
                       memcmp(d.mv_data, schema->json, d.mv_size) != 0)) {
            snprintf(err, errlen,
                     "schema '%s' differs from the one the index was built with; use a new data "
                     "directory or the same schema",
                     schema->name);
            src = SOUK_ESCHEMA;
            goto fail;
        }
        src = souk_schema_parse(d.mv_data, d.mv_size, &ix->schema, err, errlen);
        if (src)
            goto fail;
    }
    if ((rc = mdb_txn_commit(txn)) != 0) {
        txn = NULL;
        src = lmdb_fail(rc, &cause);
        goto store_fail;
    }
    *out = ix;
    return SOUK_OK;
store_fail:
    snprintf(err, errlen, "opening index '%s': %s", dir,
             cause ? mdb_strerror(cause) : souk_strerror(src));
fail:
    if (txn)
        mdb_txn_abort(txn);
    souk_index_close(ix);
    return src;
}

void souk_index_close(souk_index *ix)
{
    if (!ix)
        return;
    if (ix->env)
        mdb_env_close(ix->env);
    souk_schema_free(ix->schema);
    souk_free(ix->dir);
    for (int i = 0; i < SOUK_GEN_SLOTS; i++)
        if (ix->gen[i].obj)
            ix->gen[i].ops->release(ix->gen[i].obj);
    pthread_mutex_destroy(&ix->gen_lock);
    pthread_cond_destroy(&ix->gen_cv);
    souk_free(ix);
}

const souk_schema *souk_index_schema(const souk_index *ix)
{
    return ix->schema;
}

int souk__gen_slot(atomic_int *cell)
{
    int v = atomic_load(cell);
    if (v)
        return v - 1;
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    static int next;
    pthread_mutex_lock(&lock);
    if (!(v = atomic_load(cell))) {
        if (next == SOUK_GEN_SLOTS)
            abort();
        v = ++next;
        atomic_store(cell, v);
    }
    pthread_mutex_unlock(&lock);
    return v - 1;
}

int souk__gen_get(souk_reader *r, int slot, uint64_t generation, const souk__gen_ops *ops,
                  void *arg, void **out)
{
    souk_index *ix = r->ix;
    souk__gen_cache *gc = &ix->gen[slot];
    pthread_mutex_lock(&ix->gen_lock);
    for (;;) {
        if (gc->obj && gc->generation == generation) {
            ops->acquire(gc->obj);
            *out = gc->obj;
            pthread_mutex_unlock(&ix->gen_lock);
            return 0;
        }
        if (gc->building != generation)
            break;
        pthread_cond_wait(&ix->gen_cv, &ix->gen_lock); /* another thread builds it */
    }
    int mine = gc->building == 0;
    if (mine)
        gc->building = generation;
    pthread_mutex_unlock(&ix->gen_lock);
    void *obj = NULL;
    int rc = ops->build(r, generation, arg, &obj);
    pthread_mutex_lock(&ix->gen_lock);
    if (!rc) {
        gc->builds++;
        if (!gc->obj || gc->generation < generation) {
            if (gc->obj)
                ops->release(gc->obj);
            ops->acquire(obj);
            gc->obj = obj;
            gc->ops = ops;
            gc->generation = generation;
        }
    }
    if (mine) {
        gc->building = 0;
        pthread_cond_broadcast(&ix->gen_cv);
    }
    pthread_mutex_unlock(&ix->gen_lock);
    if (!rc)
        *out = obj;
    return rc;
}

int souk__gen_cached(souk_index *ix, int slot)
{
    pthread_mutex_lock(&ix->gen_lock);
    int cached = ix->gen[slot].obj != NULL;
    pthread_mutex_unlock(&ix->gen_lock);
    return cached;
}

uint64_t souk__gen_builds(souk_index *ix, int slot)
{
    pthread_mutex_lock(&ix->gen_lock);
    uint64_t n = ix->gen[slot].builds;
    pthread_mutex_unlock(&ix->gen_lock);
    return n;
}

souk_index *souk__reader_index(const souk_reader *r)
{
    return r->ix;
}

const char *souk__index_dir(const souk_index *ix)
{
    return ix->dir;
}

/* ------------------------------------------------------------------ readers */

int souk_reader_new(souk_index *ix, souk_reader **out)
{
    souk_reader *r = souk_calloc(1, sizeof *r);
    if (!r)
        return SOUK_ENOMEM;
    r->ix = ix;
    int rc = souk__txn_begin(ix, MDB_RDONLY, &r->txn, NULL);
    if (rc) {
        souk_free(r);
        return rc;
    }
    r->active = 1;
    *out = r;
    return SOUK_OK;
}

void souk_reader_free(souk_reader *r)
{
    if (!r)
        return;
    if (r->txn)
        mdb_txn_abort(r->txn);
    souk_free(r->buf);
    souk_free(r);
}

void souk_reader_release(souk_reader *r)
{
    if (r->active) {
        mdb_txn_reset(r->txn);
        r->active = 0;
    }
}

int souk_reader_refresh(souk_reader *r)
{
    souk_reader_release(r);
    int cause = mdb_txn_renew(r->txn), rc = souk_kv_err(cause);
    if (cause == MDB_MAP_RESIZED) {
        mdb_txn_abort(r->txn);
        r->txn = NULL;
        rc = souk__txn_begin(r->ix, MDB_RDONLY, &r->txn, &cause);
    }
    if (rc) {
        snprintf(r->err, sizeof r->err, "read snapshot: %s", mdb_strerror(cause));
        return rc;
    }
    r->active = 1;
    return SOUK_OK;
}

const char *souk_reader_errmsg(const souk_reader *r)
{
    return r->err;
}

static uint64_t db_bytes(MDB_txn *txn, MDB_dbi dbi)
{
    MDB_stat st;
    if (mdb_stat(txn, dbi, &st))
        return 0;
    return (uint64_t)(st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages) * st.ms_psize;
}

int souk_reader_stats(souk_reader *r, souk_stats *st)
{
    souk_index *ix = r->ix;
    int rc;
    memset(st, 0, sizeof *st);
    if ((rc = souk__meta_get_u64(r->txn, ix, "N", &st->docs, NULL)) ||
        (rc = souk__meta_get_u64(r->txn, ix, "total_len", &st->total_len, NULL)) ||
        (rc = souk__meta_get_u64(r->txn, ix, "next_docid", &st->next_docid, NULL)) ||
        (rc = souk__meta_get_u64(r->txn, ix, "generation", &st->generation, NULL)) ||
        (rc = souk__meta_get_u64(r->txn, ix, "stream_offset", &st->stream_offset, NULL)))
        return rc;
    MDB_stat ms;
    if ((rc = mdb_stat(r->txn, ix->terms, &ms)) != 0)
        return souk_kv_err(rc);
    st->terms = ms.ms_entries;
    st->bytes_dictionary = db_bytes(r->txn, ix->terms);
    st->bytes_postings = st->bytes_dictionary + db_bytes(r->txn, ix->post);
    st->bytes_store = db_bytes(r->txn, ix->docs);
    st->bytes_other = db_bytes(r->txn, ix->termlist) + db_bytes(r->txn, ix->doclen) +
                      db_bytes(r->txn, ix->attr) + db_bytes(r->txn, ix->ids) +
                      db_bytes(r->txn, ix->meta);
    MDB_envinfo ei;
    mdb_env_info(ix->env, &ei);
    st->bytes_file = (uint64_t)(ei.me_last_pgno + 1) * ms.ms_psize;
    return SOUK_OK;
}

int souk_reader_term(souk_reader *r, const char *term, size_t len, souk_term_info *info)
{
    if (len == 0 || len > 500)
        return SOUK_ENOTFOUND;
    MDB_val k = {len, (void *)term}, d;
    int rc = mdb_get(r->txn, r->ix->terms, &k, &d);
    if (rc)
        return souk_kv_err(rc);
    souk__dict dd;
    if (souk__dict_decode(d.mv_data, d.mv_size, &dd))
        return SOUK_ECORRUPT;
    *info = dd.info;
    return SOUK_OK;
}

int souk_reader_terms(souk_reader *r, const char *start, size_t len, souk_term_iter_fn fn,
                      void *ctx)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(r->txn, r->ix->terms, &c);
    if (rc)
        return souk_kv_err(rc);
    MDB_val k = {len, (void *)start}, d;
    rc = len ? mdb_cursor_get(c, &k, &d, MDB_SET_RANGE) : mdb_cursor_get(c, &k, &d, MDB_FIRST);
    while (rc == 0) {
        souk__dict dd;
        if (souk__dict_decode(d.mv_data, d.mv_size, &dd)) {
            rc = MDB_CORRUPTED;
            break;
        }
        if (fn(ctx, k.mv_data, k.mv_size, &dd.info))
            break;
        rc = mdb_cursor_get(c, &k, &d, MDB_NEXT);
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? SOUK_OK : souk_kv_err(rc);
}

int souk__reader_dict(souk_reader *r, const char *term, size_t len, souk__dict *dd)
{
    if (len == 0 || len > 500)
        return SOUK_ENOTFOUND;
    MDB_val k = {len, (void *)term}, d;
    int rc = mdb_get(r->txn, r->ix->terms, &k, &d);
    if (rc)
        return souk_kv_err(rc);
    return souk__dict_decode(d.mv_data, d.mv_size, dd) ? SOUK_ECORRUPT : 0;
}

int souk_postings_open(souk_reader *r, const char *term, size_t len, souk_postings *p)
{
    souk__dict dd;
    memset(p, 0, sizeof *p);
    int rc = souk__reader_dict(r, term, len, &dd);
    return rc ? rc : souk__postings_open_dict(r, term, len, &dd, p);
}

int souk__postings_open_dict(souk_reader *r, const char *term, size_t len, const souk__dict *d,
                             souk_postings *p)
{
    int rc;
    souk__dict dd = *d;
    memset(p, 0, sizeof *p);
    p->r = r;
    memcpy(p->term, term, len);
    p->len = len;
    p->info = dd.info;
    if (dd.info.nblocks == 0) {
        p->inline_block = dd.inline_block;
        p->inline_len = dd.inline_len;
        return SOUK_OK;
    }
    MDB_cursor *c;
    if ((rc = mdb_cursor_open(r->txn, r->ix->post, &c)) != 0)
        return souk_kv_err(rc);
    p->cursor = c;
    return SOUK_OK;
}

int souk_postings_next_block(souk_postings *p, uint32_t docid, souk_block *b)
{
    if (!p->cursor) {
        if (p->inline_done || !p->inline_block)
            return SOUK_ENOTFOUND;
        p->inline_done = 1;
        if (souk_block_parse(p->inline_block, p->inline_len, b))
            return SOUK_ECORRUPT;
        return b->last_docid >= docid ? SOUK_OK : SOUK_ENOTFOUND;
    }
    uint8_t key[520];
    MDB_val k, d;
    int rc;
    const uint8_t *kk;
    if (p->started) {
        /* Most skips land in the next block: one step instead of a tree search. */
        rc = mdb_cursor_get(p->cursor, &k, &d, MDB_NEXT);
        if (rc)
            return souk_kv_err(rc);
        kk = k.mv_data;
        if (k.mv_size != p->len + 5 || memcmp(kk, p->term, p->len) != 0 || kk[p->len] != 0)
            return SOUK_ENOTFOUND;
        if (docid && be32_get(kk + p->len + 1) < docid)
            goto search;
        goto found;
    }
search:
    k.mv_size = souk__post_key(p->term, p->len, docid, key);
    k.mv_data = key;
    rc = mdb_cursor_get(p->cursor, &k, &d, MDB_SET_RANGE);
    p->started = 1;
    if (rc)
        return souk_kv_err(rc);
    kk = k.mv_data;
found:
    if (k.mv_size != p->len + 5 || memcmp(kk, p->term, p->len) != 0 || kk[p->len] != 0)
        return SOUK_ENOTFOUND;
    if (souk_block_parse(d.mv_data, d.mv_size, b) || b->last_docid != be32_get(kk + p->len + 1))
        return SOUK_ECORRUPT;
    return SOUK_OK;
}

void souk_postings_close(souk_postings *p)
{
    if (p->cursor)
        mdb_cursor_close(p->cursor);
    p->cursor = NULL;
}

int souk__reader_doclen_chunk(souk_reader *r, uint32_t chunk, const uint32_t **lens)
{
    uint8_t key[4];
    be32_put(key, chunk);
    MDB_val k = {4, key}, d;
    int rc = mdb_get(r->txn, r->ix->doclen, &k, &d);
    if (rc)
        return souk_kv_err(rc);
    if (d.mv_size != SOUK_DOCLEN_CHUNK * 4)
        return SOUK_ECORRUPT;
    *lens = d.mv_data;
    return SOUK_OK;
}

int souk_reader_doclen(souk_reader *r, uint32_t docid, uint32_t *len)
{
    const uint32_t *lens = NULL;
    int rc = souk__reader_doclen_chunk(r, docid / SOUK_DOCLEN_CHUNK, &lens);
    if (rc == SOUK_ENOTFOUND) {
        *len = 0;
        return SOUK_OK;
    }
    if (rc)
        return rc;
    memcpy(len, (const uint8_t *)lens + (docid % SOUK_DOCLEN_CHUNK) * 4, 4);
    return SOUK_OK;
}

int souk_reader_docid(souk_reader *r, const char *id, size_t len, uint32_t *docid)
{
    if (len == 0 || len > 500)
        return SOUK_ENOTFOUND;
    MDB_val k = {len, (void *)id}, d;
    int rc = mdb_get(r->txn, r->ix->ids, &k, &d);
    if (rc)
        return souk_kv_err(rc);
    if (d.mv_size != 12)
        return SOUK_ECORRUPT;
    *docid = be32_get(d.mv_data);
    return SOUK_OK;
}

int souk__reader_docids(souk_reader *r, void (*fn)(void *ctx, uint32_t docid), void *ctx)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(r->txn, r->ix->ids, &cur);
    if (rc)
        return souk_kv_err(rc);
    MDB_val k, d;
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        if (d.mv_size != 12) {
            mdb_cursor_close(cur);
            return SOUK_ECORRUPT;
        }
        fn(ctx, be32_get(d.mv_data));
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : souk_kv_err(rc);
}

/* Splits a docs value into id and (unpacked into the reader's buffer) JSON. */
static int split_doc(souk_reader *r, const MDB_val *d, const char **id, size_t *id_len,
                     const char **json, size_t *json_len)
{
    const uint8_t *p = d->mv_data, *end = p + d->mv_size;
    uint64_t n;
    if (varint_get(&p, end, &n) || n > (uint64_t)(end - p))
        return SOUK_ECORRUPT;
    *id = (const char *)p;
    *id_len = (size_t)n;
    long jl = souk_blob_unpack(p + n, (size_t)(end - p - n), &r->buf, &r->cap);
    if (jl < 0)
        return (int)jl;
    *json = (const char *)r->buf;
    *json_len = (size_t)jl;
    return SOUK_OK;
}

int souk_reader_doc(souk_reader *r, uint32_t docid, const char **id, size_t *id_len,
                    const char **json, size_t *json_len)
{
    uint8_t key[4];
    be32_put(key, docid);
    MDB_val k = {4, key}, d;
    int rc = mdb_get(r->txn, r->ix->docs, &k, &d);
    if (rc)
        return souk_kv_err(rc);
    return split_doc(r, &d, id, id_len, json, json_len);
}

int souk_reader_docs(souk_reader *r,
                     int (*fn)(void *ctx, uint32_t docid, const char *id, size_t id_len,
                               const char *json, size_t json_len),
                     void *ctx)
{
    /* Records from next_docid on are orphans of a batch that never committed (written by its
     * early store transaction, see engine/catalog/writer.c): no document. */
    uint64_t next_docid = 0;
    int rc = souk__meta_get_u64(r->txn, r->ix, "next_docid", &next_docid, NULL);
    if (rc)
        return rc;
    if (next_docid == 0)
        next_docid = 1; /* written by every commit: absent, nothing has committed yet */
    MDB_cursor *c;
    if ((rc = mdb_cursor_open(r->txn, r->ix->docs, &c)) != 0)
        return souk_kv_err(rc);
    MDB_val k, d;
    int src = SOUK_OK;
    for (rc = mdb_cursor_get(c, &k, &d, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
        const char *id = NULL, *json = NULL;
        size_t il = 0, jl = 0;
        if (k.mv_size == 4 && be32_get(k.mv_data) >= next_docid) {
            rc = MDB_NOTFOUND;
            break;
        }
        if (k.mv_size != 4) {
            src = SOUK_ECORRUPT;
            break;
        }
        if ((src = split_doc(r, &d, &id, &il, &json, &jl)) != 0)
            break; /* SOUK_ECORRUPT, or SOUK_ENOMEM (no corruption) */
        if (fn(ctx, be32_get(k.mv_data), id, il, json, jl))
            break;
    }
    mdb_cursor_close(c);
    if (src)
        return src;
    return rc == 0 || rc == MDB_NOTFOUND ? SOUK_OK : souk_kv_err(rc);
}

int souk_reader_termlist(souk_reader *r, uint32_t docid,
                         void (*fn)(void *ctx, const char *term, size_t len), void *ctx)
{
    uint8_t key[4];
    be32_put(key, docid);
    MDB_val k = {4, key}, d;
    int rc = mdb_get(r->txn, r->ix->termlist, &k, &d);
    if (rc)
        return souk_kv_err(rc);
    long tl = souk_blob_unpack(d.mv_data, d.mv_size, &r->buf, &r->cap);
    if (tl < 0)
        return (int)tl;
    const uint8_t *p = r->buf, *end = p + tl;
    char term[512];
    while (p < end) {
        uint32_t shared, suffix;
        if (varint_get32(&p, end, &shared) || varint_get32(&p, end, &suffix) ||
            shared + suffix > sizeof term || suffix > (size_t)(end - p))
            return SOUK_ECORRUPT;
        memcpy(term + shared, p, suffix);
        p += suffix;
        fn(ctx, term, shared + suffix);
    }
    return SOUK_OK;
}

int souk_reader_attrs(souk_reader *r,
                      int (*fn)(void *ctx, uint32_t docid, const uint8_t *rec, size_t len),
                      void *ctx)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(r->txn, r->ix->attr, &cur);
    if (rc)
        return souk_kv_err(rc);
    MDB_val k, d;
    int stop = 0;
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST); rc == 0 && !stop;
         rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        if (k.mv_size != 4) {
            mdb_cursor_close(cur);
            return SOUK_ECORRUPT;
        }
        stop = fn(ctx, be32_get(k.mv_data), d.mv_data, d.mv_size);
    }
    mdb_cursor_close(cur);
    return rc == 0 || rc == MDB_NOTFOUND ? 0 : souk_kv_err(rc);
}

int souk_reader_attr(souk_reader *r, uint32_t docid, uint8_t field, const uint8_t **val,
                     size_t *len)
{
    uint8_t key[4];
    be32_put(key, docid);
    MDB_val k = {4, key}, d;
    int rc = mdb_get(r->txn, r->ix->attr, &k, &d);
    if (rc)
        return souk_kv_err(rc);
    const souk_schema *s = r->ix->schema;
    const uint8_t *p = d.mv_data, *end = p + d.mv_size;
    while (p < end) {
        uint8_t f = *p++;
        if (f >= s->nfields)
            return SOUK_ECORRUPT;
        const uint8_t *v = p;
        size_t n = 8;
        if (s->fields[f].type == SOUK_FIELD_KEYWORD || s->fields[f].type == SOUK_FIELD_TEXT) {
            uint64_t l;
            if (varint_get(&p, end, &l) || l > (uint64_t)(end - p))
                return SOUK_ECORRUPT;
            v = p;
            n = (size_t)l;
        } else if ((size_t)(end - p) < 8) {
            return SOUK_ECORRUPT;
        }
        p = v + n;
        if (f == field) {
            /* The first value of the field; multi-valued keywords repeat the field id. */
            *val = v;
            *len = n;
            return SOUK_OK;
        }
    }
    return SOUK_ENOTFOUND;
}
