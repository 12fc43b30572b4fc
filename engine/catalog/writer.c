/* writer.c: batched writes to the LMDB index. A batch of upserts and deletes is buffered in
 * memory, then applied in one write transaction: documents are resolved against the id table,
 * per-term changes are grouped, and each touched term's postings blocks are merged, so every
 * statistic (N, total length, df, collection frequency, per-block maxima) stays exact. Meta,
 * including the stream offset, is written in the same transaction, so a crash at any moment
 * leaves the state of the last commit.
 *
 * This file holds the public API (souk/index.h) and the commit, step by step (commit_once); the
 * batch buffer, the term slices, the postings merge, the bulk encoder and the store records are
 * in the other writer_*.c files, which share writer_int.h. */
#include "catalog/writer_int.h"
#include "core/kv.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
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
    souk_itab_clear(&w->idmap);
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
    souk_itab_free(&w->idmap);
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
    if (!rc)
        return 0;
    if (w)
        w->cause = rc;
    return souk_kv_err(rc);
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
    souk_itab_free(&c->gmap);
    souk_free(c->dead);
    souk_free(c);
}

/* One attempt at applying the batch in a write transaction, and what its steps share. */
typedef struct commit_run {
    souk_writer *w;
    commit_ctx *c;
    souk_index *ix;
    souk_commit_stats *st;
    /* Every op is resolved against the id table inside the transaction and grouped afresh: the
     * path taken when the snapshot the batch was grouped against is stale, and on retries. */
    int regroup;
    uint64_t N, total_len, next_docid, gen; /* meta, as the attempt changes it */
    uint64_t meta_next; /* next_docid as committed: store records from here on are orphans */
    uint64_t first_new; /* the first docid the batch hands out */
    int early;          /* store records went out ahead (store_ahead) and are still valid */
    dchange *dcs;       /* the document-level changes, in op order */
    size_t ndc;
    dlset *dls; /* their new lengths */
    size_t ndl;
    grank *rank; /* the touched terms in term order, sorted by gj */
    group_job gj;
    int grouping; /* gj's thread is running */
} commit_run;

/* Opens the write transaction and reads meta; regroups the batch if another writer committed
 * since its snapshot; decides where appends may be used; deletes orphaned store records. The
 * sort of the touched terms (phase 4's set-up) starts on a thread of its own before anything
 * else when every op was grouped on arrival (then no change is added later), else in
 * write_records. */
static int begin_commit(commit_run *r)
{
    souk_writer *w = r->w;
    commit_ctx *c = r->c;
    souk_index *ix = r->ix;
    int rc;
    souk__store_finish(w, 0); /* the last store transaction of the batch */
    int all_grouped = !r->regroup && w->snap;
    for (size_t i = 0; i < w->nops && all_grouped; i++)
        all_grouped = w->ops[i].pregrouped;
    if (all_grouped) {
        if ((rc = souk__start_grouping(c, &r->gj, &r->rank)) != 0)
            return rc;
        r->grouping = 1;
    }
    if ((rc = souk__txn_begin(ix, 0, &c->txn, &w->cause)) != 0) {
        c->txn = NULL;
        return step_fail(c, rc, "begin write");
    }
    if ((rc = souk__meta_get_u64(c->txn, ix, "N", &r->N, &w->cause)) ||
        (rc = souk__meta_get_u64(c->txn, ix, "total_len", &r->total_len, &w->cause)) ||
        (rc = souk__meta_get_u64(c->txn, ix, "next_docid", &r->next_docid, &w->cause)) ||
        (rc = souk__meta_get_u64(c->txn, ix, "generation", &r->gen, &w->cause)))
        return step_fail(c, rc, "read meta");
    if (r->next_docid == 0)
        r->next_docid = 1;
    r->meta_next = r->next_docid;
    /* Records written ahead stay valid while nobody else committed: then their docids stand. */
    r->early = w->store_used && !r->regroup && w->snap && r->gen == w->snap_gen;
    if (!r->regroup && w->snap && r->gen != w->snap_gen)
        r->regroup = 1; /* another writer committed since the snapshot */
    if (r->regroup) {
        if (r->grouping) {
            souk__group_changes_finish(&r->gj); /* it sorted the arrival-time terms: start afresh */
            r->grouping = 0;
            souk_free(r->rank);
            r->rank = NULL;
        }
        if ((rc = souk__ungroup_terms(w)) != 0)
            return rc;
        souk__grouping_clear(c);
        for (size_t i = 0; i < w->nops; i++) {
            w->ops[i].pregrouped = 0;
            w->ops[i].grouped = 0;
        }
    } else if (w->snap) {
        r->next_docid = w->next_docid;
    }
    r->first_new = r->next_docid;
    if (!r->regroup) {
        /* Pre-grouped docids were assigned from the snapshot's next docid. */
        uint64_t snap_next = w->snap ? r->first_new : r->next_docid;
        for (size_t i = 0; i < w->nops; i++)
            if (w->ops[i].pregrouped && !w->ops[i].del && w->ops[i].docid < snap_next)
                snap_next = w->ops[i].docid;
        r->first_new = snap_next;
    }
    MDB_stat ms;
    mdb_stat(c->txn, ix->post, &ms);
    c->post_append = !w->no_append && ms.ms_entries == 0;
    mdb_stat(c->txn, ix->terms, &ms);
    c->terms_append = !w->no_append && ms.ms_entries == 0;
    r->dcs = souk_calloc(w->nops + 1, sizeof *r->dcs);
    r->dls = souk_calloc(w->nops + 1, sizeof *r->dls);
    if (!r->dcs || !r->dls)
        return SOUK_ENOMEM;
    if (!r->early && (rc = souk__delete_orphans(w, ix, c->txn, r->meta_next)) != 0)
        return step_fail(c, rc, "delete orphaned store records");
    return 0;
}

/* Phase 1: resolves each op against the id table: a docid for each new id, the old length and
 * term list of each changed one, the ids records written; counts what the batch does. */
static int resolve_ops(commit_run *r)
{
    souk_writer *w = r->w;
    commit_ctx *c = r->c;
    souk_index *ix = r->ix;
    souk_commit_stats *st = r->st;
    int rc;
    for (size_t i = 0; i < w->nops; i++) {
        op *o = &w->ops[i];
        MDB_val k = {o->id_len, (void *)o->id}, d;
        dchange *dc = &r->dcs[r->ndc];
        memset(dc, 0, sizeof *dc);
        dc->opi = (uint32_t)i;
        if (o->pregrouped) {
            /* New in this batch: docid and postings are ready. */
            if (o->del) {
                if (r->early && o->early_any && (rc = delete_store(c, o->docid)) != 0)
                    return step_fail(c, rc, "delete a record written ahead");
                st->delete_missing++;
                continue;
            }
            dc->docid = o->docid;
            r->N++;
            st->added++;
        } else {
            rc = mdb_get(c->txn, ix->ids, &k, &d);
            if (rc && rc != MDB_NOTFOUND)
                return step_fail(c, souk__writer_err(w, rc), "read ids");
            int exists = rc == 0;
            if (exists && d.mv_size != 12)
                return step_fail(c, SOUK_ECORRUPT, "read ids");
            if (exists) {
                dc->docid = be32_get(d.mv_data);
                uint64_t old_hash = le64_get((const uint8_t *)d.mv_data + 4);
                if (!o->del && old_hash == o->hash) {
                    st->unchanged++;
                    continue;
                }
                dc->existed = 1;
                if ((rc = souk__doclen_get(c, dc->docid, &dc->old_doclen)) != 0 ||
                    (rc = load_old_terms(c, dc)) != 0)
                    return step_fail(c, rc, "read old document");
                c->dl_chunk_valid = 0;
                r->total_len -= dc->old_doclen;
                if (o->del) {
                    r->N--;
                    st->deleted++;
                    if ((rc = mdb_del(c->txn, ix->ids, &k, NULL)) != 0)
                        return step_fail(c, souk__writer_err(w, rc), "write ids");
                } else {
                    st->replaced++;
                }
            } else {
                if (o->del) {
                    st->delete_missing++;
                    continue;
                }
                if (r->next_docid >= UINT32_MAX)
                    return ids_exhausted(w);
                dc->docid = (uint32_t)r->next_docid++;
                r->N++;
                st->added++;
            }
        }
        if (!o->del) {
            dc->o = o;
            r->total_len += o->doclen;
            uint8_t v[12];
            be32_put(v, dc->docid);
            le64_put(v + 4, o->hash);
            MDB_val dv = {12, v};
            if ((rc = mdb_put(c->txn, ix->ids, &k, &dv, 0)) != 0)
                return step_fail(c, souk__writer_err(w, rc), "write ids");
        }
        r->dls[r->ndl].docid = dc->docid;
        r->dls[r->ndl].len = o->del ? 0 : o->doclen;
        r->ndl++;
        r->ndc++;
    }
    return 0;
}

/* The new lengths of the docids handed out in this batch, for the postings merge. */
static int new_lengths(commit_run *r)
{
    commit_ctx *c = r->c;
    if (r->next_docid - r->first_new > UINT32_MAX)
        return ids_exhausted(r->w); /* cannot happen: docids stay below UINT32_MAX */
    c->dl_lo = (uint32_t)r->first_new;
    c->dl_n = (uint32_t)(r->next_docid - r->first_new);
    if (!(c->dl = souk_malloc(((size_t)c->dl_n + 1) * sizeof *c->dl)))
        return SOUK_ENOMEM;
    memset(c->dl, 0xff, (size_t)c->dl_n * sizeof *c->dl); /* DOCLEN_UNKNOWN */
    for (size_t i = 0; i < r->ndc; i++) {
        const dchange *dc = &r->dcs[i];
        if (dc->o && dc->docid >= c->dl_lo && dc->docid - c->dl_lo < c->dl_n)
            c->dl[dc->docid - c->dl_lo] = dc->o->doclen;
    }
    return 0;
}

/* Phase 2: the per-term changes of the ops not grouped on arrival: puts for their new terms,
 * deletes for the vanished old ones. */
static int group_old_changes(commit_run *r)
{
    commit_ctx *c = r->c;
    for (size_t i = 0; i < r->ndc; i++) {
        dchange *dc = &r->dcs[i];
        op *o = dc->o;
        if (o && o->pregrouped)
            continue;
        uint32_t a = 0, b = 0, na = dc->nold, nb = o ? o->nterms : 0;
        while (a < na || b < nb) {
            int rc;
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
                return rc;
        }
    }
    return 0;
}

/* Phase 3: document records and lengths (the postings merge reads the new lengths), while the
 * touched terms are sorted on another thread. The ops are in the order their ids first
 * appeared, which is not docid order: a new id first seen in a delete gets its docid only at
 * its later upsert, after ids upserted in between. So a record is appended only when its docid
 * is past every key written so far (the high-water mark: the index's docids end below
 * first_new, the records written ahead at store_max). */
static int write_records(commit_run *r)
{
    souk_writer *w = r->w;
    commit_ctx *c = r->c;
    int rc;
    if (!r->grouping && (rc = souk__start_grouping(c, &r->gj, &r->rank)) != 0)
        return rc;
    r->grouping = 1;
    uint64_t high = r->first_new - 1;
    if (r->early && w->store_max > high)
        high = w->store_max;
    rc = 0;
    for (size_t i = 0; i < r->ndc && !rc; i++) {
        const op *o = r->dcs[i].o;
        int ahead = r->early && o && o->stored_early;
        int append = !w->no_append && r->dcs[i].docid > high;
        if (append)
            high = r->dcs[i].docid;
        if ((rc = write_doc(c, &r->dcs[i], append, !ahead)) != 0)
            step_fail(c, rc, "write document");
    }
    if (!rc && (rc = write_doclens(c, r->dls, r->ndl)) != 0)
        step_fail(c, rc, "write lengths");
    souk__group_changes_finish(&r->gj);
    r->grouping = 0;
    c->dl_chunk_valid = 0;
    return rc;
}

/* Phase 4: each touched term's changes merged into its postings, in term order; into an empty
 * index the terms are encoded in parallel (souk__bulk_merge). */
static int merge_postings(commit_run *r)
{
    souk_writer *w = r->w;
    commit_ctx *c = r->c;
    int rc;
    souk__dead_rewind(c);
    if (c->terms_append && c->post_append && c->ngroups > BULK_CHUNK) {
        rc = souk__bulk_merge(c, r->rank);
        if (rc == SOUK_EINVAL) {
            /* Not all new after all: the attempt fails (souk_writer_commit does not retry). */
            snprintf(w->err, sizeof w->err, "batch holds deletes for a new index");
            return rc;
        }
        return rc ? step_fail(c, rc, "writing postings") : 0;
    }
    for (size_t i = 0; i < c->ngroups; i++) {
        tgroup *tg = grp(c, r->rank[i].idx);
        uint32_t n;
        if ((rc = souk__group_read(c, tg, &c->dec, &c->dec_cap, &n)) != 0)
            return rc;
        tchange *ch = c->dec;
        if (n == 0)
            continue;
        if (tg->unsorted && (rc = souk__sort_changes(ch, n, &c->scratch, &c->scratch_cap)) != 0)
            return rc;
        if ((rc = souk__merge_term(c, tg->term, tg->len, ch, n)) != 0) {
            if (!w->err[0] || rc != SOUK_EFULL)
                snprintf(w->err, sizeof w->err, "merging postings of term '%.*s': %s",
                         (int)(tg->len > 64 ? 64 : tg->len), tg->term, why(w, rc));
            return rc;
        }
    }
    return 0;
}

/* Phase 5: meta (counts, next docid, generation, stream position) in the same transaction, and
 * the commit. */
static int write_meta_and_commit(commit_run *r, const souk_stream_pos *pos)
{
    souk_writer *w = r->w;
    commit_ctx *c = r->c;
    souk_index *ix = r->ix;
    int rc;
    int *cause = &w->cause;
    if ((rc = souk__meta_put_u64(c->txn, ix, "N", r->N, cause)) ||
        (rc = souk__meta_put_u64(c->txn, ix, "total_len", r->total_len, cause)) ||
        (rc = souk__meta_put_u64(c->txn, ix, "next_docid", r->next_docid, cause)) ||
        (rc = souk__meta_put_u64(c->txn, ix, "generation", r->gen + 1, cause)) ||
        (pos && (rc = souk__meta_put_u64(c->txn, ix, "stream_offset", pos->offset, cause))) ||
        (pos && (rc = souk__meta_put_u64(c->txn, ix, "stream_line", pos->line, cause))))
        return step_fail(c, rc, "write meta");
    if (pos && pos->fingerprint) {
        MDB_val k = {9, "stream_fp"}, d = {strlen(pos->fingerprint), (void *)pos->fingerprint};
        if ((rc = mdb_put(c->txn, ix->meta, &k, &d, 0)) != 0)
            return step_fail(c, souk__writer_err(w, rc), "write meta");
    }
    rc = mdb_txn_commit(c->txn);
    c->txn = NULL;
    return rc ? step_fail(c, souk__writer_err(w, rc), "committing the transaction") : 0;
}

/* Ends an attempt, committed or not: waits for the sort, aborts an open transaction, frees the
 * attempt's memory (the batch stays). */
static void end_commit(commit_run *r)
{
    commit_ctx *c = r->c;
    if (r->grouping)
        souk__group_changes_finish(
            &r->gj); /* its thread reads the batch: wait before anything goes */
    if (c->txn)
        mdb_txn_abort(c->txn);
    commit_ctx_reset(c);
    souk_free(r->dcs);
    souk_free(r->dls);
    souk_free(r->rank);
}

/* One attempt at applying the batch in a write transaction (see commit_run for regroup). */
static int commit_once(souk_writer *w, const souk_stream_pos *pos, souk_commit_stats *st,
                       int regroup)
{
    commit_run r;
    memset(&r, 0, sizeof r);
    r.w = w;
    r.c = w->cc;
    r.ix = w->ix;
    r.st = st;
    r.regroup = regroup;
    r.c->w = w;
    r.c->ix = w->ix;
    int rc;
    if ((rc = begin_commit(&r)) == 0 && (rc = resolve_ops(&r)) == 0 &&
        (rc = new_lengths(&r)) == 0 && (rc = group_old_changes(&r)) == 0 &&
        (rc = write_records(&r)) == 0 && (rc = merge_postings(&r)) == 0)
        rc = write_meta_and_commit(&r, pos);
    end_commit(&r);
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
        if (souk_kv_grow(w->ix->env, SIZE_MAX) != SOUK_OK)
            break;
    }
    snprintf(w->err, sizeof w->err, "index map full");
    return SOUK_EFULL;
}

int souk_index_stream_pos(souk_index *ix, uint64_t *offset, uint64_t *line, char *fingerprint,
                          size_t cap)
{
    MDB_txn *txn;
    int rc = souk__txn_begin(ix, MDB_RDONLY, &txn, NULL);
    if (rc)
        return rc;
    if ((rc = souk__meta_get_u64(txn, ix, "stream_offset", offset, NULL)) == 0 &&
        (rc = souk__meta_get_u64(txn, ix, "stream_line", line, NULL)) == 0 && fingerprint && cap) {
        MDB_val k = {9, "stream_fp"}, d;
        fingerprint[0] = 0;
        if (mdb_get(txn, ix->meta, &k, &d) == 0 && d.mv_size < cap) {
            memcpy(fingerprint, d.mv_data, d.mv_size);
            fingerprint[d.mv_size] = 0;
        }
    }
    mdb_txn_abort(txn);
    return rc;
}
