/* writer.c: batched writes to the LMDB index. A batch of upserts and deletes is buffered in
 * memory, then applied in one write transaction: documents are resolved against the id table,
 * per-term changes are grouped, and each touched term's postings blocks are merged, so every
 * statistic (N, total length, df, collection frequency, per-block maxima) stays exact. Meta,
 * including the stream offset, is written in the same transaction, so a crash at any moment
 * leaves the state of the last commit. */
#include "catalog/writer_int.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

static void commit_ctx_free(struct commit_ctx *c);
static struct commit_ctx *commit_ctx_new(souk_writer *w);

int souk_writer_new(souk_index *ix, souk_writer **out)
{
    if (ix->flags & SOUK_INDEX_RDONLY)
        return SOUK_EINVAL;
    souk_writer *w = souk_calloc(1, sizeof *w);
    if (!w)
        return SOUK_ENOMEM;
    w->ix = ix;
    w->cc = commit_ctx_new(w);
    if (!w->cc) {
        souk_free(w);
        return SOUK_ENOMEM;
    }
    *out = w;
    return SOUK_OK;
}

static void batch_clear(souk_writer *w)
{
    souk__store_finish(w, 1);
    w->new_ops = 0;
    w->store_off = w->store_used = 0;
    w->store_max = 0;
    souk__arena_free(&w->mem);
    souk__pos_pool_clear(&w->pos);
    w->nops = 0;
    if (w->idmap)
        memset(w->idmap, 0, w->idcap * sizeof *w->idmap);
    souk__grouping_clear(w->cc);
    if (w->snap)
        mdb_txn_abort(w->snap);
    w->snap = NULL;
}

void souk_writer_free(souk_writer *w)
{
    if (!w)
        return;
    souk__store_finish(w, 1);
    if (w->snap)
        mdb_txn_abort(w->snap);
    commit_ctx_free(w->cc);
    souk__arena_free(&w->mem);
    souk__pos_pool_free(&w->pos);
    souk_free(w->ops);
    souk_free(w->idmap);
    souk_free(w);
}

const char *souk_writer_errmsg(const souk_writer *w)
{
    return w->err;
}

size_t souk_writer_pending(const souk_writer *w, size_t *bytes)
{
    if (bytes)
        *bytes = w->mem.total + w->pos.bytes + souk__grouping_bytes(w->cc);
    return w->nops;
}

/* Says that every docid is in use; returns SOUK_ENOIDS. A larger map would not help. */
static int ids_exhausted(souk_writer *w)
{
    snprintf(w->err, sizeof w->err, "document ids exhausted: all %u are in use", UINT32_MAX - 1);
    return SOUK_ENOIDS;
}

int souk_writer_upsert(souk_writer *w, const souk_doc *d)
{
    int created, rc;
    w->err[0] = 0;
    op *o = souk__op_for(w, d->id, d->id_len, &created);
    if (!o)
        return SOUK_ENOMEM;
    if (created && (rc = souk__classify_new_op(w, o)) != 0) {
        souk__op_drop_last(w);
        return rc;
    }
    /* An id new to the index takes its docid now: refused before anything of the op changes
     * (docids are never reused, and UINT32_MAX is never handed out). */
    if (o->pregrouped && o->docid == 0 && w->next_docid >= UINT32_MAX) {
        if (created)
            souk__op_drop_last(w);
        return ids_exhausted(w);
    }
    if ((rc = souk__mark_dead(w, o)) != 0) /* before its term list is replaced */
        return rc;
    size_t npos = 0;
    for (uint32_t i = 0; i < d->nterms; i++)
        npos += d->terms[i].npos;
    o->del = 0;
    o->hash = d->hash;
    o->doclen = d->doclen;
    o->nterms = d->nterms;
    if ((rc = souk__pos_pool_add(&w->pos, d->positions, npos, &o->pos_base)) != 0)
        return rc;
    o->stored = souk__arena_dup(&w->mem, d->stored, d->stored_len);
    o->stored_len = d->stored_len;
    o->termlist = souk__arena_dup(&w->mem, d->termlist, d->termlist_len);
    o->termlist_len = d->termlist_len;
    o->nattrs = d->nattrs;
    o->attrs = souk__arena_alloc(&w->mem, d->nattrs * sizeof *o->attrs);
    if (!o->stored || !o->termlist || !o->attrs)
        return SOUK_ENOMEM;
    for (uint32_t i = 0; i < d->nattrs; i++) {
        o->attrs[i] = d->attrs[i];
        if (d->attrs[i].str) {
            o->attrs[i].str = souk__arena_dup(&w->mem, d->attrs[i].str, d->attrs[i].str_len);
            if (!o->attrs[i].str)
                return SOUK_ENOMEM;
        }
    }
    if (o->pregrouped) {
        /* Grouped now; the terms need no copy of their own (a new term's group copies it). */
        o->terms = NULL;
        if ((rc = souk__pregroup(w, o, d->terms)) != 0)
            return rc == SOUK_ENOIDS ? ids_exhausted(w) : rc;
        souk__store_upsert(w, o);
        return SOUK_OK;
    }
    /* An id the index already has: merged against its old version at commit. */
    o->terms = souk__arena_alloc(&w->mem, d->nterms * sizeof *o->terms);
    if (!o->terms)
        return SOUK_ENOMEM;
    for (uint32_t i = 0; i < d->nterms; i++) {
        o->terms[i] = d->terms[i];
        o->terms[i].term = souk__arena_dup(&w->mem, d->terms[i].term, d->terms[i].len);
        if (!o->terms[i].term)
            return SOUK_ENOMEM;
    }
    return SOUK_OK;
}

int souk_writer_delete(souk_writer *w, const char *id, size_t len)
{
    int created, rc;
    w->err[0] = 0;
    op *o = souk__op_for(w, id, len, &created);
    if (!o)
        return SOUK_ENOMEM;
    if (created && (rc = souk__classify_new_op(w, o)) != 0) {
        souk__op_drop_last(w);
        return rc;
    }
    if ((rc = souk__mark_dead(w, o)) != 0) /* an earlier version in this batch is dropped */
        return rc;
    o->del = 1;
    o->nterms = 0;
    o->nattrs = 0;
    return SOUK_OK;
}

/* Below this much free space, a write that came up short was the file system filling up. */
#define DISK_FULL_SLACK ((uint64_t)1 << 20)

/* Whether LMDB's error rc means the disk under ix is full: LMDB passes ENOSPC on, but reports a
 * write that came up short as EIO (mdb_page_flush), which is how a full disk usually shows. */
static int disk_full(const souk_index *ix, int rc)
{
    if (rc == ENOSPC || rc == EDQUOT)
        return 1;
    const char *dir;
    struct statvfs fs;
    if (rc != EIO || mdb_env_get_path(ix->env, &dir) != 0 || statvfs(dir, &fs) != 0)
        return 0;
    uint64_t left = (uint64_t)(geteuid() == 0 ? fs.f_bfree : fs.f_bavail) * fs.f_frsize;
    return left < DISK_FULL_SLACK;
}

int souk__writer_err(souk_writer *w, int rc)
{
    if (w)
        w->cause = rc;
    return souk__mdb_err(rc);
}

/* What went wrong with SOUK_E* code rc: LMDB's (or the system's) message for the code behind
 * it, when there is one. */
static const char *why(const souk_writer *w, int rc)
{
    return w->cause ? mdb_strerror(w->cause) : souk_strerror(rc);
}

/* Sets the writer's message for error rc (a SOUK_E* code) in step what; an I/O error names the
 * data file, and a full disk says so (issue 17: it said "Input/output error"). Returns rc. */
static int step_fail(commit_ctx *c, int rc, const char *what)
{
    int cause = c->w->cause;
    const char *dir = NULL;
    if (cause == EIO || cause == ENOSPC || cause == EDQUOT)
        mdb_env_get_path(c->ix->env, &dir);
    if (dir && disk_full(c->ix, cause))
        snprintf(c->w->err, sizeof c->w->err, "%s: no space left on device (writing %s/data.mdb)",
                 what, dir);
    else if (dir)
        snprintf(c->w->err, sizeof c->w->err, "%s: %s (writing %s/data.mdb)", what, why(c->w, rc),
                 dir);
    else
        snprintf(c->w->err, sizeof c->w->err, "%s: %s", what, why(c->w, rc));
    return rc;
}

/* Reads and copies the stored term list of docid. */
static int load_old_terms(commit_ctx *c, dchange *dc)
{
    uint8_t key[4];
    be32_put(key, dc->docid);
    MDB_val k = {4, key}, d;
    int rc = mdb_get(c->txn, c->ix->termlist, &k, &d);
    if (rc)
        return rc == MDB_NOTFOUND ? SOUK_ECORRUPT : souk__writer_err(c->w, rc);
    long tl = souk_blob_unpack(d.mv_data, d.mv_size, &c->tlbuf, &c->tlcap);
    if (tl < 0)
        return tl == SOUK_ENOMEM ? SOUK_ENOMEM : SOUK_ECORRUPT;
    const uint8_t *p = c->tlbuf, *end = p + tl;
    size_t n = 0, cap = 64;
    char **terms = souk__arena_alloc(&c->tmp, cap * sizeof *terms);
    uint32_t *lens = souk__arena_alloc(&c->tmp, cap * sizeof *lens);
    char term[512];
    uint32_t len = 0;
    int r;
    while (terms && lens && (r = souk__termlist_next(&p, end, term, sizeof term, &len)) != 0) {
        if (r < 0)
            return SOUK_ECORRUPT;
        if (n == cap) {
            char **nt = souk__arena_alloc(&c->tmp, cap * 2 * sizeof *nt);
            uint32_t *nl = souk__arena_alloc(&c->tmp, cap * 2 * sizeof *nl);
            if (!nt || !nl)
                return SOUK_ENOMEM;
            memcpy(nt, terms, cap * sizeof *nt);
            memcpy(nl, lens, cap * sizeof *nl);
            terms = nt;
            lens = nl;
            cap *= 2;
        }
        terms[n] = souk__arena_dup(&c->tmp, term, len);
        lens[n] = len;
        if (!terms[n])
            return SOUK_ENOMEM;
        n++;
    }
    if (!terms || !lens)
        return SOUK_ENOMEM;
    dc->old_terms = terms;
    dc->old_lens = lens;
    dc->nold = (uint32_t)n;
    return 0;
}

static int term_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    size_t n = al < bl ? al : bl;
    int r = memcmp(a, b, n);
    if (r)
        return r;
    return al < bl ? -1 : al > bl;
}

/* Deletes a docid's store record and term list, if any. */
static int delete_store(commit_ctx *c, uint32_t docid)
{
    uint8_t key[4];
    be32_put(key, docid);
    MDB_val k = {4, key};
    int rc = mdb_del(c->txn, c->ix->docs, &k, NULL);
    if (rc == 0 || rc == MDB_NOTFOUND)
        rc = mdb_del(c->txn, c->ix->termlist, &k, NULL);
    return rc == MDB_NOTFOUND || rc == 0 ? 0 : souk__writer_err(c->w, rc);
}

/* Writes the document-level records of one change: store and term list (unless they went out
 * ahead, see store_ahead), attributes. */
static int write_doc(commit_ctx *c, const dchange *dc, int append, int store)
{
    souk_index *ix = c->ix;
    uint8_t key[5];
    be32_put(key, dc->docid);
    MDB_val k = {4, key}, d;
    int rc;
    const op *o = dc->o;
    unsigned af = append ? MDB_APPEND : 0;
    if (!o) {
        if ((rc = mdb_del(c->txn, ix->docs, &k, NULL)) != 0 ||
            (rc = mdb_del(c->txn, ix->termlist, &k, NULL)) != 0)
            return souk__writer_err(c->w, rc);
        rc = mdb_del(c->txn, ix->attr, &k, NULL);
        return rc == MDB_NOTFOUND || rc == 0 ? 0 : souk__writer_err(c->w, rc);
    }
    if (store) {
        store_rec r = store_rec_of(o, dc->docid);
        if ((rc = souk__put_store(c->w, c->txn, ix, &r, af)) != 0)
            return rc;
    }
    size_t need;
    uint8_t *p;
    /* Attributes: one record per document, key BE32 docid; per value: u8 field id, then for
     * numbers and bools 8 bytes (double), for keywords a varint length and the bytes. */
    need = 0;
    for (uint32_t i = 0; i < o->nattrs; i++)
        need += 1 + (o->attrs[i].str ? o->attrs[i].str_len + 5 : 8);
    if (need == 0) {
        rc = dc->existed ? mdb_del(c->txn, ix->attr, &k, NULL) : 0;
        return rc == MDB_NOTFOUND || rc == 0 ? 0 : souk__writer_err(c->w, rc);
    }
    if ((rc = souk__buf_reserve(c, need)) != 0)
        return rc;
    p = c->buf;
    for (uint32_t i = 0; i < o->nattrs; i++) {
        *p++ = o->attrs[i].field;
        if (o->attrs[i].str) {
            p += varint_put(p, o->attrs[i].str_len);
            memcpy(p, o->attrs[i].str, o->attrs[i].str_len);
            p += o->attrs[i].str_len;
        } else {
            memcpy(p, &o->attrs[i].num, 8);
            p += 8;
        }
    }
    d.mv_size = (size_t)(p - c->buf);
    d.mv_data = c->buf;
    return souk__put_or_append(c->w, c->txn, ix->attr, &k, &d, 0, af);
}

typedef struct dlset {
    uint32_t docid, len;
} dlset;

static int cmp_dlset(const void *a, const void *b)
{
    uint32_t x = ((const dlset *)a)->docid, y = ((const dlset *)b)->docid;
    return x < y ? -1 : x > y;
}

/* Writes document lengths, a chunk of SOUK_DOCLEN_CHUNK at a time. */
static int write_doclens(commit_ctx *c, dlset *s, size_t n)
{
    qsort(s, n, sizeof *s, cmp_dlset);
    uint32_t chunk[SOUK_DOCLEN_CHUNK];
    for (size_t i = 0; i < n;) {
        uint32_t no = s[i].docid / SOUK_DOCLEN_CHUNK;
        uint8_t key[4];
        be32_put(key, no);
        MDB_val k = {4, key}, d;
        int rc = mdb_get(c->txn, c->ix->doclen, &k, &d);
        if (rc == MDB_NOTFOUND)
            memset(chunk, 0, sizeof chunk);
        else if (rc)
            return souk__writer_err(c->w, rc);
        else if (d.mv_size != sizeof chunk)
            return SOUK_ECORRUPT;
        else
            memcpy(chunk, d.mv_data, sizeof chunk);
        while (i < n && s[i].docid / SOUK_DOCLEN_CHUNK == no) {
            chunk[s[i].docid % SOUK_DOCLEN_CHUNK] = s[i].len;
            i++;
        }
        d.mv_size = sizeof chunk;
        d.mv_data = chunk;
        if ((rc = mdb_put(c->txn, c->ix->doclen, &k, &d, 0)) != 0)
            return souk__writer_err(c->w, rc);
    }
    return 0;
}

/* Releases the per-transaction state of c (not the grouping). */
static void commit_ctx_reset(commit_ctx *c)
{
    souk__arena_free(&c->tmp);
    souk_free(c->dl);
    c->dl = NULL;
    c->dl_n = 0;
    c->txn = NULL;
    c->dl_chunk_valid = 0;
}

static commit_ctx *commit_ctx_new(souk_writer *w)
{
    commit_ctx *c = souk_calloc(1, sizeof(commit_ctx));
    if (c) {
        c->w = w;
        c->ix = w->ix;
    }
    return c;
}

static void commit_ctx_free(commit_ctx *c)
{
    if (!c)
        return;
    commit_ctx_reset(c);
    souk__plist_free(&c->e);
    souk__plist_free(&c->o);
    souk_free(c->buf);
    souk_free(c->tlbuf);
    souk_free(c->scratch);
    souk_free(c->dec);
    souk__slab_free(&c->slab);
    for (size_t i = 0; i < c->ngchunk; i++)
        souk_free(c->gchunk[i]);
    souk_free(c->gchunk);
    souk_free(c->gmap);
    souk_free(c->dead);
    souk_free(c);
}

/* One attempt at applying the batch in a write transaction. With regroup, every op is resolved
 * against the id table inside the transaction and grouped afresh (the path taken when the
 * snapshot the batch was grouped against is stale, and on retries). */
static int commit_once(souk_writer *w, const souk_stream_pos *pos, souk_commit_stats *st,
                       int regroup)
{
    souk_index *ix = w->ix;
    commit_ctx *c = w->cc;
    c->w = w;
    c->ix = ix;
    dchange *dcs = NULL;
    dlset *dls = NULL;
    grank *rank = NULL;
    size_t ndc = 0, ndl = 0;
    group_job gj;
    int grouping = 0; /* gj's threads are running */
    int early = 0;    /* store records went out ahead (store_ahead) and are still valid */
    int rc;
    souk__store_finish(w, 0); /* the last store transaction of the batch */
    /* Phase 4's set-up (sorting the touched terms) runs in a thread of its own while this thread
     * writes: from the start when every op was grouped on arrival (then phase 2 adds no change),
     * else after phase 2. */
    int all_grouped = !regroup && w->snap;
    for (size_t i = 0; i < w->nops && all_grouped; i++)
        all_grouped = w->ops[i].pregrouped;
    if (all_grouped) {
        if ((rc = souk__start_grouping(c, &gj, &rank)) != 0)
            goto out;
        grouping = 1;
    }
    if ((rc = souk__txn_begin(ix, 0, &c->txn)) != 0) {
        c->txn = NULL;
        step_fail(c, rc = souk__writer_err(w, rc), "begin write");
        goto out;
    }
    uint64_t N, total_len, next_docid, gen;
    if ((rc = souk__meta_get_u64(c->txn, ix, "N", &N)) ||
        (rc = souk__meta_get_u64(c->txn, ix, "total_len", &total_len)) ||
        (rc = souk__meta_get_u64(c->txn, ix, "next_docid", &next_docid)) ||
        (rc = souk__meta_get_u64(c->txn, ix, "generation", &gen))) {
        step_fail(c, rc = souk__writer_err(w, rc), "read meta");
        goto out;
    }
    if (next_docid == 0)
        next_docid = 1;
    uint64_t meta_next = next_docid; /* store records from here on are orphans */
    /* Records written ahead stay valid while nobody else committed: then their docids stand. */
    early = w->store_used && !regroup && w->snap && gen == w->snap_gen;
    if (!regroup && w->snap && gen != w->snap_gen)
        regroup = 1; /* another writer committed since the snapshot */
    if (regroup) {
        if (grouping) {
            souk__group_changes_finish(&gj); /* it sorted the arrival-time terms: start afresh */
            grouping = 0;
            souk_free(rank);
            rank = NULL;
        }
        all_grouped = 0;
        if ((rc = souk__ungroup_terms(w)) != 0)
            goto out;
        souk__grouping_clear(c);
        for (size_t i = 0; i < w->nops; i++) {
            w->ops[i].pregrouped = 0;
            w->ops[i].grouped = 0;
        }
    } else if (w->snap) {
        next_docid = w->next_docid;
    }
    uint64_t first_new = next_docid;
    if (!regroup) {
        /* Pre-grouped docids were assigned from the snapshot's next docid. */
        uint64_t snap_next = w->snap ? first_new : next_docid;
        for (size_t i = 0; i < w->nops; i++)
            if (w->ops[i].pregrouped && !w->ops[i].del && w->ops[i].docid < snap_next)
                snap_next = w->ops[i].docid;
        first_new = snap_next;
    }
    MDB_stat ms;
    mdb_stat(c->txn, ix->post, &ms);
    c->post_append = !w->no_append && ms.ms_entries == 0;
    mdb_stat(c->txn, ix->terms, &ms);
    c->terms_append = !w->no_append && ms.ms_entries == 0;
    dcs = souk_calloc(w->nops + 1, sizeof *dcs);
    dls = souk_calloc(w->nops + 1, sizeof *dls);
    if (!dcs || !dls) {
        rc = SOUK_ENOMEM;
        goto out;
    }
    if (!early && (rc = souk__delete_orphans(w, ix, c->txn, meta_next)) != 0) {
        step_fail(c, rc, "delete orphaned store records");
        goto out;
    }
    /* Phase 1: resolve each op against the id table. */
    for (size_t i = 0; i < w->nops; i++) {
        op *o = &w->ops[i];
        MDB_val k = {o->id_len, (void *)o->id}, d;
        dchange *dc = &dcs[ndc];
        memset(dc, 0, sizeof *dc);
        dc->opi = (uint32_t)i;
        if (o->pregrouped) {
            /* New in this batch: docid and postings are ready. */
            if (o->del) {
                if (early && o->early_any && (rc = delete_store(c, o->docid)) != 0) {
                    step_fail(c, rc, "delete a record written ahead");
                    goto out;
                }
                st->delete_missing++;
                continue;
            }
            dc->docid = o->docid;
            N++;
            st->added++;
        } else {
            rc = mdb_get(c->txn, ix->ids, &k, &d);
            if (rc && rc != MDB_NOTFOUND) {
                step_fail(c, rc = souk__writer_err(w, rc), "read ids");
                goto out;
            }
            int exists = rc == 0;
            if (exists && d.mv_size != 12) {
                step_fail(c, rc = SOUK_ECORRUPT, "read ids");
                goto out;
            }
            rc = 0;
            if (exists) {
                dc->docid = be32_get(d.mv_data);
                uint64_t old_hash = le64_get((const uint8_t *)d.mv_data + 4);
                if (!o->del && old_hash == o->hash) {
                    st->unchanged++;
                    continue;
                }
                dc->existed = 1;
                if ((rc = souk__doclen_get(c, dc->docid, &dc->old_doclen)) != 0 ||
                    (rc = load_old_terms(c, dc)) != 0) {
                    step_fail(c, rc, "read old document");
                    goto out;
                }
                c->dl_chunk_valid = 0;
                total_len -= dc->old_doclen;
                if (o->del) {
                    N--;
                    st->deleted++;
                    if ((rc = mdb_del(c->txn, ix->ids, &k, NULL)) != 0) {
                        step_fail(c, rc = souk__writer_err(w, rc), "write ids");
                        goto out;
                    }
                } else {
                    st->replaced++;
                }
            } else {
                if (o->del) {
                    st->delete_missing++;
                    continue;
                }
                if (next_docid >= UINT32_MAX) {
                    rc = ids_exhausted(w);
                    goto out;
                }
                dc->docid = (uint32_t)next_docid++;
                N++;
                st->added++;
            }
        }
        if (!o->del) {
            dc->o = o;
            total_len += o->doclen;
            uint8_t v[12];
            be32_put(v, dc->docid);
            le64_put(v + 4, o->hash);
            MDB_val dv = {12, v};
            if ((rc = mdb_put(c->txn, ix->ids, &k, &dv, 0)) != 0) {
                step_fail(c, rc = souk__writer_err(w, rc), "write ids");
                goto out;
            }
        }
        dls[ndl].docid = dc->docid;
        dls[ndl].len = o->del ? 0 : o->doclen;
        ndl++;
        ndc++;
    }
    /* The new lengths of the docids handed out in this batch, for the postings merge. */
    if (next_docid - first_new > UINT32_MAX) {
        rc = ids_exhausted(w); /* cannot happen: docids stay below UINT32_MAX */
        goto out;
    }
    c->dl_lo = (uint32_t)first_new;
    c->dl_n = (uint32_t)(next_docid - first_new);
    if (!(c->dl = souk_malloc(((size_t)c->dl_n + 1) * sizeof *c->dl))) {
        rc = SOUK_ENOMEM;
        goto out;
    }
    memset(c->dl, 0xff, (size_t)c->dl_n * sizeof *c->dl); /* DOCLEN_UNKNOWN */
    for (size_t i = 0; i < ndc; i++)
        if (dcs[i].o && dcs[i].docid >= c->dl_lo && dcs[i].docid - c->dl_lo < c->dl_n)
            c->dl[dcs[i].docid - c->dl_lo] = dcs[i].o->doclen;
    /* Phase 2: per-term changes of the resolved ops: puts for the new terms, deletes for
     * vanished old ones. (Pre-grouped ops were grouped as they arrived.) */
    for (size_t i = 0; i < ndc; i++) {
        dchange *dc = &dcs[i];
        op *o = dc->o;
        if (o && o->pregrouped)
            continue;
        uint32_t a = 0, b = 0, na = dc->nold, nb = o ? o->nterms : 0;
        while (a < na || b < nb) {
            int cmp = a >= na   ? 1
                      : b >= nb ? -1
                                : term_cmp(dc->old_terms[a], dc->old_lens[a], o->terms[b].term,
                                           o->terms[b].len);
            if (cmp < 0) {
                rc = souk__add_change(c, dc->old_terms[a], dc->old_lens[a],
                                      souk__hash(dc->old_terms[a], dc->old_lens[a]), dc->docid, 0,
                                      0, POS_DEL);
                a++;
            } else {
                const souk_dterm *t = &o->terms[b];
                rc = souk__add_change(c, t->term, t->len, t->hash, dc->docid, t->wdf, t->npos,
                                      o->pos_base + t->pos_off);
                a += cmp == 0;
                b++;
            }
            if (rc)
                goto out;
        }
    }
    if (!grouping && (rc = souk__start_grouping(c, &gj, &rank)) != 0)
        goto out;
    grouping = 1;
    /* Phase 3: document records and lengths (postings merging below reads the new lengths).
     * The ops are in the order their ids first appeared, which is not docid order: a new id
     * first seen in a delete gets its docid only at its later upsert, after ids upserted in
     * between. So a record is appended only when its docid is past every key written so far
     * (the high-water mark: the index's docids end below first_new, the records written ahead
     * at store_max). */
    uint64_t high = first_new - 1;
    if (early && w->store_max > high)
        high = w->store_max;
    for (size_t i = 0; i < ndc && !rc; i++) {
        const op *o = dcs[i].o;
        int ahead = early && o && o->stored_early;
        int append = !w->no_append && dcs[i].docid > high;
        if (append)
            high = dcs[i].docid;
        if ((rc = write_doc(c, &dcs[i], append, !ahead)) != 0)
            step_fail(c, rc, "write document");
    }
    if (!rc && (rc = write_doclens(c, dls, ndl)) != 0)
        step_fail(c, rc, "write lengths");
    souk__group_changes_finish(&gj);
    grouping = 0;
    if (rc)
        goto out;
    c->dl_chunk_valid = 0;
    /* Into an empty index, terms are encoded in parallel (see souk__bulk_merge). */
    int bulk = c->terms_append && c->post_append && c->ngroups > BULK_CHUNK;
    souk__dead_rewind(c);
    if (bulk) {
        rc = souk__bulk_merge(c, rank);
        if (rc == SOUK_EINVAL) {
            /* Not all new after all: abort this attempt; the retry merges serially. */
            snprintf(w->err, sizeof w->err, "batch holds deletes for a new index");
            goto out;
        }
        if (rc) {
            step_fail(c, rc, "writing postings");
            goto out;
        }
    }
    for (size_t r = 0; !bulk && r < c->ngroups; r++) {
        tgroup *tg = grp(c, rank[r].idx);
        uint32_t n;
        if ((rc = souk__group_read(c, tg, &c->dec, &c->dec_cap, &n)) != 0)
            goto out;
        tchange *ch = c->dec;
        if (n == 0)
            continue;
        if (tg->unsorted && (rc = souk__sort_changes(ch, n, &c->scratch, &c->scratch_cap)) != 0)
            goto out;
        if ((rc = souk__merge_term(c, tg->term, tg->len, ch, n)) != 0) {
            if (!w->err[0] || rc != SOUK_EFULL)
                snprintf(w->err, sizeof w->err, "merging postings of term '%.*s': %s",
                         (int)(tg->len > 64 ? 64 : tg->len), tg->term, why(w, rc));
            goto out;
        }
    }
    /* Phase 5: meta, in the same transaction. */
    if ((rc = souk__meta_put_u64(c->txn, ix, "N", N)) ||
        (rc = souk__meta_put_u64(c->txn, ix, "total_len", total_len)) ||
        (rc = souk__meta_put_u64(c->txn, ix, "next_docid", next_docid)) ||
        (rc = souk__meta_put_u64(c->txn, ix, "generation", gen + 1)) ||
        (pos && (rc = souk__meta_put_u64(c->txn, ix, "stream_offset", pos->offset))) ||
        (pos && (rc = souk__meta_put_u64(c->txn, ix, "stream_line", pos->line)))) {
        step_fail(c, rc = souk__writer_err(w, rc), "write meta");
        goto out;
    }
    if (pos && pos->fingerprint) {
        MDB_val k = {9, "stream_fp"}, d = {strlen(pos->fingerprint), (void *)pos->fingerprint};
        if ((rc = mdb_put(c->txn, ix->meta, &k, &d, 0)) != 0) {
            step_fail(c, rc = souk__writer_err(w, rc), "write meta");
            goto out;
        }
    }
    rc = mdb_txn_commit(c->txn);
    c->txn = NULL;
    if (rc)
        step_fail(c, rc = souk__writer_err(w, rc), "committing the transaction");
out:
    if (grouping)
        souk__group_changes_finish(&gj); /* its threads read the batch: wait before anything goes */
    if (c->txn)
        mdb_txn_abort(c->txn);
    commit_ctx_reset(c);
    souk_free(dcs);
    souk_free(dls);
    souk_free(rank);
    return rc;
}

int souk_writer_commit(souk_writer *w, const souk_stream_pos *pos, souk_commit_stats *st)
{
    souk_commit_stats local;
    int regroup = 0;
    w->no_append = 0;
    for (int attempt = 0; attempt < 8; attempt++) {
        memset(&local, 0, sizeof local);
        w->err[0] = 0;
        w->cause = 0;
        int rc = commit_once(w, pos, &local, regroup);
        if (rc == 0) {
            if (st) {
                st->added += local.added;
                st->replaced += local.replaced;
                st->unchanged += local.unchanged;
                st->deleted += local.deleted;
                st->delete_missing += local.delete_missing;
            }
            batch_clear(w);
            return SOUK_OK;
        }
        /* The grouping may hold a failed attempt's changes: the next attempt regroups. */
        regroup = 1;
        if (w->cause == MDB_KEYEXIST && !w->no_append) {
            /* An append out of order that no fallback caught (postings, dictionary): such a
             * batch would fail on every rerun, so it is retried with ordinary puts. */
            w->no_append = 1;
            continue;
        }
        if (rc != SOUK_EFULL)
            return rc; /* SOUK_ENOIDS among them: a larger map would not help */
        /* Grow the map and retry the whole batch, which is still in memory. */
        MDB_envinfo ei;
        mdb_env_info(w->ix->env, &ei);
        if (mdb_env_set_mapsize(w->ix->env, ei.me_mapsize * 2) != 0)
            break;
    }
    snprintf(w->err, sizeof w->err, "index map full");
    return SOUK_EFULL;
}

int souk_index_stream_pos(souk_index *ix, uint64_t *offset, uint64_t *line, char *fingerprint,
                          size_t cap)
{
    MDB_txn *txn;
    int rc = souk__txn_begin(ix, MDB_RDONLY, &txn);
    if (rc)
        return souk__mdb_err(rc);
    if ((rc = souk__meta_get_u64(txn, ix, "stream_offset", offset)) == 0 &&
        (rc = souk__meta_get_u64(txn, ix, "stream_line", line)) == 0 && fingerprint && cap) {
        MDB_val k = {9, "stream_fp"}, d;
        fingerprint[0] = 0;
        if (mdb_get(txn, ix->meta, &k, &d) == 0 && d.mv_size < cap) {
            memcpy(fingerprint, d.mv_data, d.mv_size);
            fingerprint[d.mv_size] = 0;
        }
    }
    mdb_txn_abort(txn);
    return souk__mdb_err(rc);
}
