/* writer.c: batched writes to the LMDB index. A batch of upserts and deletes is buffered in
 * memory, then applied in one write transaction: documents are resolved against the id table,
 * per-term changes are grouped, and each touched term's postings blocks are merged, so every
 * statistic (N, total length, df, collection frequency, per-block maxima) stays exact. Meta,
 * including the stream offset, is written in the same transaction, so a crash at any moment
 * leaves the state of the last commit. */
#include "catalog/index_int.h"
#include "core/qsort_inline.h"
#include "souk/souk.h"
#include "core/varint.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define PREFETCH(p) souk__prefetch(p)

/* ------------------------------------------------------------------ arena */

typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t used, cap;
    uint8_t data[];
} arena_chunk;

typedef struct arena {
    arena_chunk *head;
    size_t total;
} arena;

void *souk__arena_alloc(arena *a, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    if (!a->head || a->head->used + n > a->head->cap) {
        /* 1 MiB with the header, so a chunk fills jemalloc's 1 MiB size class
         * instead of spilling into the 1.25 MiB one. */
        size_t std = (1u << 20) - sizeof(arena_chunk);
        size_t cap = n > std ? n : std;
        arena_chunk *c = souk_malloc(sizeof *c + cap);
        if (!c)
            return NULL;
        c->next = a->head;
        c->used = 0;
        c->cap = cap;
        a->head = c;
        a->total += cap;
    }
    void *p = a->head->data + a->head->used;
    a->head->used += n;
    return p;
}

void *souk__arena_dup(arena *a, const void *p, size_t n)
{
    void *d = souk__arena_alloc(a, n ? n : 1);
    if (d && n)
        memcpy(d, p, n);
    return d;
}

void souk__arena_free(arena *a)
{
    while (a->head) {
        arena_chunk *n = a->head->next;
        souk_free(a->head);
        a->head = n;
    }
    a->total = 0;
}

/* ------------------------------------------------------------------ positions pool */

/* The positions of the batch's documents, addressed by a 32-bit index so that a change of one
 * term's postings (tchange) needs no 8-byte pointer to them. Index i lives in unit i >> POS_UNIT
 * at offset i & (POS_UNIT_LEN - 1); a document's positions are contiguous, and one longer than a
 * unit gets a region of its own spanning several units. */
#define POS_UNIT 18
#define POS_UNIT_LEN ((uint64_t)1 << POS_UNIT)
#define POS_UNITS ((size_t)1 << (32 - POS_UNIT))
#define POS_DEL UINT32_MAX /* tchange.pos of a delete: no position there */

typedef struct pos_pool {
    uint32_t **unit; /* POS_UNITS entries, allocated on first use */
    void **regions;  /* the allocations, to free */
    size_t nregions, capregions;
    uint64_t next;  /* the next free index */
    uint64_t avail; /* the end of the region next is in */
    size_t bytes;
} pos_pool;

static inline const uint32_t *pos_at(const pos_pool *p, uint32_t i)
{
    return p->unit[i >> POS_UNIT] + (i & (POS_UNIT_LEN - 1));
}

/* The positions of a posting with npos of them from index i (a valid pointer when npos is 0). */
static inline const uint32_t *pos_of(const pos_pool *p, uint32_t i, uint32_t npos)
{
    static const uint32_t none[1];
    return npos ? pos_at(p, i) : none;
}

/* Copies n positions into the pool; *at gets the index of the first. */
int souk__pos_pool_add(pos_pool *p, const uint32_t *src, size_t n, uint32_t *at)
{
    if (p->next + n > p->avail) {
        if (!p->unit && !(p->unit = souk_calloc(POS_UNITS, sizeof *p->unit)))
            return ENOMEM;
        uint64_t start = (p->next + POS_UNIT_LEN - 1) & ~(POS_UNIT_LEN - 1);
        uint64_t len = n > POS_UNIT_LEN ? n : POS_UNIT_LEN;
        /* The last unit is never handed out, so no index reaches POS_DEL. */
        if (start + len > (uint64_t)(POS_UNITS - 1) << POS_UNIT)
            return SOUK_EFULL;
        if (p->nregions == p->capregions) {
            size_t nc = p->capregions ? p->capregions * 2 : 64;
            void **r = souk_realloc(p->regions, nc * sizeof *r);
            if (!r)
                return ENOMEM;
            p->regions = r;
            p->capregions = nc;
        }
        uint32_t *m = souk_malloc(len * sizeof *m);
        if (!m)
            return ENOMEM;
        p->regions[p->nregions++] = m;
        p->bytes += len * sizeof *m;
        for (uint64_t u = 0; u * POS_UNIT_LEN < len; u++)
            p->unit[(start >> POS_UNIT) + u] = m + u * POS_UNIT_LEN;
        p->next = start;
        p->avail = start + len;
    }
    *at = (uint32_t)p->next;
    if (n)
        memcpy(p->unit[p->next >> POS_UNIT] + (p->next & (POS_UNIT_LEN - 1)), src, n * sizeof *src);
    p->next += n;
    return 0;
}

/* Empties the pool (the unit table is kept). */
void souk__pos_pool_clear(pos_pool *p)
{
    for (size_t i = 0; i < p->nregions; i++)
        souk_free(p->regions[i]);
    p->nregions = 0;
    p->next = p->avail = 0;
    p->bytes = 0;
}

void souk__pos_pool_free(pos_pool *p)
{
    souk__pos_pool_clear(p);
    souk_free(p->regions);
    souk_free(p->unit);
}

/* ------------------------------------------------------------------ batch */

typedef struct op {
    int del;
    const char *id;
    uint32_t id_len;
    uint64_t hash;
    souk_dterm *terms;
    uint32_t nterms;
    uint32_t pos_base; /* its positions in the pool, from this index on */
    uint32_t doclen;
    const char *stored; /* blob */
    uint32_t stored_len;
    const uint8_t *termlist; /* blob */
    uint32_t termlist_len;
    souk_dattr *attrs;
    uint32_t nattrs;
    /* Pre-grouped: the id was new when first seen in this batch, so its docid was assigned at
     * once and its postings were grouped by term on arrival; grouped: its current version's
     * changes are in the term slices (commit_ctx), live. */
    int pregrouped;
    uint32_t docid;
    int grouped;
    /* Store records written ahead of the commit (store_ahead): stored_early when those of its
     * current version (early_ver) are committed, early_any when any version's were queued. */
    int stored_early, early_any;
    uint32_t early_ver;
} op;

struct commit_ctx;

struct souk_writer {
    souk_index *ix;
    arena mem;
    pos_pool pos; /* the ops' positions */
    op *ops;
    size_t nops, capops;
    /* id -> op index, open addressing, 0 = empty, else index + 1 */
    uint32_t *idmap;
    size_t idcap;
    /* Grouping of postings by term, kept across upserts of a batch (see commit_ctx). */
    struct commit_ctx *cc;
    MDB_txn *snap;       /* read snapshot the batch's "is this id new" answers come from */
    uint64_t snap_gen;   /* its generation */
    uint64_t next_docid; /* next docid to assign to a new id */
    /* Store records of new documents written ahead of the commit (store_ahead). */
    struct store_ahead *sa; /* its thread, while it runs */
    size_t new_ops;         /* upserts of new ids so far in the batch */
    int store_off;          /* no more for this batch */
    int store_used;         /* some store transaction of this batch committed */
    uint32_t store_max;     /* the largest docid written ahead */
    int no_append;          /* this attempt uses no MDB_APPEND (a retry after MDB_KEYEXIST) */
    char err[512];
};

void souk__grouping_clear(struct commit_ctx *c);
static void commit_ctx_free(struct commit_ctx *c);
static struct commit_ctx *commit_ctx_new(souk_writer *w);
int souk__classify_new_op(souk_writer *w, op *o);
int souk__pregroup(souk_writer *w, op *o, const souk_dterm *terms);
void souk__store_upsert(souk_writer *w, op *o);
int souk__mark_dead(souk_writer *w, op *o);
size_t souk__grouping_bytes(const struct commit_ctx *c);

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

typedef struct store_ahead store_ahead;
void souk__store_finish(souk_writer *w, int abort);

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

/* Finds the slot of id in the id map (an empty slot when absent). */
static size_t idmap_slot(souk_writer *w, const char *id, size_t len)
{
    size_t mask = w->idcap - 1, i = souk__hash(id, len) & mask;
    while (w->idmap[i]) {
        const op *o = &w->ops[w->idmap[i] - 1];
        if (o->id_len == len && memcmp(o->id, id, len) == 0)
            return i;
        i = (i + 1) & mask;
    }
    return i;
}

static int idmap_grow(souk_writer *w)
{
    size_t ncap = w->idcap ? w->idcap * 2 : 4096;
    uint32_t *old = w->idmap;
    size_t ocap = w->idcap;
    w->idmap = souk_calloc(ncap, sizeof *w->idmap);
    if (!w->idmap) {
        w->idmap = old;
        return SOUK_ENOMEM;
    }
    w->idcap = ncap;
    for (size_t i = 0; i < ocap; i++) {
        if (old[i]) {
            const op *o = &w->ops[old[i] - 1];
            w->idmap[idmap_slot(w, o->id, o->id_len)] = old[i];
        }
    }
    souk_free(old);
    return SOUK_OK;
}

/* Returns a fresh op for id: the op already in the batch for this id (last write wins) or a new
 * one. NULL when out of memory. */
op *souk__op_for(souk_writer *w, const char *id, size_t len, int *created)
{
    *created = 0;
    if ((w->nops + 1) * 2 > w->idcap && idmap_grow(w))
        return NULL;
    size_t slot = idmap_slot(w, id, len);
    if (w->idmap[slot])
        return &w->ops[w->idmap[slot] - 1];
    if (w->nops == w->capops) {
        size_t nc = w->capops ? w->capops * 2 : 1024;
        op *n = souk_realloc(w->ops, nc * sizeof *n);
        if (!n)
            return NULL;
        w->ops = n;
        w->capops = nc;
    }
    op *o = &w->ops[w->nops++];
    memset(o, 0, sizeof *o);
    o->id = souk__arena_dup(&w->mem, id, len);
    if (!o->id) {
        w->nops--;
        return NULL;
    }
    o->id_len = (uint32_t)len;
    w->idmap[slot] = (uint32_t)w->nops;
    *created = 1;
    return o;
}

int souk_writer_upsert(souk_writer *w, const souk_doc *d)
{
    int created;
    op *o = souk__op_for(w, d->id, d->id_len, &created);
    if (!o)
        return SOUK_ENOMEM;
    if (created && souk__classify_new_op(w, o))
        return SOUK_EIO;
    int mrc = souk__mark_dead(w, o); /* before its term list is replaced */
    if (mrc)
        return mrc == ENOMEM ? SOUK_ENOMEM : SOUK_EIO;
    size_t npos = 0;
    for (uint32_t i = 0; i < d->nterms; i++)
        npos += d->terms[i].npos;
    o->del = 0;
    o->hash = d->hash;
    o->doclen = d->doclen;
    o->nterms = d->nterms;
    int prc = souk__pos_pool_add(&w->pos, d->positions, npos, &o->pos_base);
    if (prc)
        return prc == ENOMEM ? SOUK_ENOMEM : SOUK_EFULL;
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
        int rc = souk__pregroup(w, o, d->terms);
        if (rc)
            return rc == ENOMEM ? SOUK_ENOMEM : SOUK_EFULL;
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
    int created;
    op *o = souk__op_for(w, id, len, &created);
    if (!o)
        return SOUK_ENOMEM;
    if (created && souk__classify_new_op(w, o))
        return SOUK_EIO;
    int mrc = souk__mark_dead(w, o); /* an earlier version in this batch is dropped */
    if (mrc)
        return mrc == ENOMEM ? SOUK_ENOMEM : SOUK_EIO;
    o->del = 1;
    o->nterms = 0;
    o->nattrs = 0;
    return SOUK_OK;
}

/* ------------------------------------------------------------------ commit */

/* A change of one term's postings for one document: put (new posting) or delete, as the commit
 * reads it back from the term's slice (see below), one term at a time. The document's length
 * comes from commit_ctx.dl. */
typedef struct tchange {
    uint32_t docid;
    uint32_t wdf;
    uint32_t npos;
    uint32_t pos; /* index of the first position in the pool (souk_writer.pos), POS_DEL: delete */
} tchange;

#define CH_DEL(t) ((t)->pos == POS_DEL)

/* ------------------------------------------------------------------ term slices */

/* A batch's changes of one term's postings are kept with the term as they arrive, as varint
 * records (docid delta, wdf, position count, position-pool delta) in a chain of blocks carved
 * from 1 MiB slab chunks; a term's blocks double from 32 bytes up to 4 KiB. That is about 5
 * bytes a change, where a 16-byte change in arrival order plus a copy grouped by term took 36:
 * the changes are most of a batch's memory, and fresh memory is slow to touch on these
 * machines. A block starts with the slab reference of the next block and the length of its
 * records (both u32, written when it is full); a record never straddles two blocks. Chunks are
 * kept for the next batch. */
#define SLAB_BITS 20
#define SLAB_LEN ((size_t)1 << SLAB_BITS)
#define SLAB_MAX_CHUNKS ((size_t)1 << (32 - SLAB_BITS)) /* a reference is 32 bits */
#define SLAB_FIRST 8 /* no chunk hands out its first bytes: reference 0 means none */
#define BLK_HDR 8
#define BLK_MIN 32
#define BLK_LEVELS 8 /* 32 bytes to 4 KiB */
#define REC_MAX 20   /* four varints of at most 5 bytes each */

typedef struct slab {
    uint8_t **chunk; /* SLAB_MAX_CHUNKS entries, allocated on first use */
    size_t nchunk;   /* allocated */
    size_t used;     /* in use; the last of them is being carved */
    size_t off;      /* its next free byte */
    size_t bytes;    /* handed out */
} slab;

static inline uint8_t *slab_ptr(const slab *s, uint32_t ref)
{
    return s->chunk[ref >> SLAB_BITS] + (ref & (SLAB_LEN - 1));
}

/* n bytes (at most SLAB_LEN - SLAB_FIRST), their reference in *ref; NULL when out of memory. */
static uint8_t *slab_alloc(slab *s, size_t n, uint32_t *ref)
{
    if (s->used == 0 || s->off + n > SLAB_LEN) {
        if (s->used == s->nchunk) {
            if (!s->chunk && !(s->chunk = souk_calloc(SLAB_MAX_CHUNKS, sizeof *s->chunk)))
                return NULL;
            if (s->nchunk == SLAB_MAX_CHUNKS)
                return NULL;
            if (!(s->chunk[s->nchunk] = souk_malloc(SLAB_LEN)))
                return NULL;
            s->nchunk++;
        }
        s->used++;
        s->off = SLAB_FIRST;
    }
    *ref = (uint32_t)((s->used - 1) << SLAB_BITS | s->off);
    uint8_t *p = s->chunk[s->used - 1] + s->off;
    s->off += n;
    s->bytes += n;
    return p;
}

/* Forgets everything handed out (the chunks are kept). */
static void slab_reset(slab *s)
{
    s->used = 0;
    s->off = 0;
    s->bytes = 0;
}

void souk__slab_free(slab *s)
{
    for (size_t i = 0; i < s->nchunk; i++)
        souk_free(s->chunk[i]);
    souk_free(s->chunk);
    memset(s, 0, sizeof *s);
}

/* A distinct term touched by the batch, with the slice of its changes: 64 bytes. */
typedef struct tgroup {
    const char *term;
    uint64_t hash;
    uint64_t head;        /* the term's first 8 bytes, zero-padded: short terms compare in place */
    uint8_t *wp;          /* where its next record goes, in its last block */
    uint32_t first, last; /* its first and last blocks (slab references; 0: none yet) */
    uint32_t len;
    uint32_t n;          /* changes of the term */
    uint32_t last_docid; /* docid of its latest change */
    uint32_t last_pos;   /* position-pool index of its latest change with positions */
    uint32_t idx;        /* its index among the batch's groups */
    uint16_t left;       /* bytes free in its last block */
    uint8_t level;       /* size of its last block: BLK_MIN << level */
    uint8_t unsorted;    /* some change came after one with a larger docid */
} tgroup;

/* Groups live in 1 MiB chunks, so they never move as the batch grows. */
#define GROUP_BITS 14
#define GROUP_CHUNK ((size_t)1 << GROUP_BITS)

/* Changes of a document version grouped on arrival and replaced in the same batch are dead: for
 * each of its terms, the first `dead` changes of (term, docid) in arrival order are skipped
 * (`seen` counts them during one pass over the slices). */
typedef struct dead_ent {
    uint64_t key; /* (group index + 1) << 32 | docid; 0: empty */
    uint32_t dead, seen;
} dead_ent;

/* A decoded postings list. */
#define DOCLEN_UNKNOWN UINT32_MAX /* plist doclen not known: look it up */

typedef struct plist {
    uint32_t n, cap;
    uint32_t *docids, *wdfs, *npos, *doclens;
    uint32_t *pos;
    size_t npos_total, pos_cap;
} plist;

/* The document-level change of one op resolved at commit. */
typedef struct dchange {
    uint32_t docid;
    op *o;       /* NULL: delete */
    int existed; /* the docid held a document before */
    uint32_t old_doclen;
    char **old_terms; /* sorted, NUL-terminated, from the stored term list */
    uint32_t *old_lens;
    uint32_t nold;
    uint32_t opi; /* index of the op */
} dchange;

typedef struct commit_ctx {
    souk_writer *w;
    souk_index *ix;
    MDB_txn *txn;
    arena tmp;
    /* The batch's changes, in term slices. */
    slab slab;
    tgroup **gchunk; /* groups, GROUP_CHUNK a chunk */
    size_t ngchunk, capgchunk;
    size_t ngroups;
    uint32_t *gmap; /* open addressing, group index + 1 */
    size_t gcap;
    dead_ent *dead; /* open addressing */
    size_t ndead, deadcap;
    uint32_t dead_lo, dead_hi; /* docids of the dead entries lie in [dead_lo, dead_hi] */
    tchange *dec;              /* one term's changes, read back (serial merge) */
    size_t dec_cap;
    plist e, o;
    uint8_t *buf;
    size_t bufcap;
    uint8_t *tlbuf; /* an unpacked old term list */
    size_t tlcap;
    tchange *scratch; /* for souk__sort_changes */
    size_t scratch_cap;
    int post_append, terms_append;
    /* New lengths of the docids [dl_lo, dl_lo + dl_n) the batch hands out; DOCLEN_UNKNOWN for
     * the others, which are looked up. */
    uint32_t *dl;
    uint32_t dl_lo, dl_n;
    uint32_t dl_chunk_no;
    int dl_chunk_valid;
    uint32_t dl_chunk[SOUK_DOCLEN_CHUNK];
} commit_ctx;

int souk__plist_reserve(plist *p, uint32_t n, size_t npos)
{
    if (n > p->cap) {
        uint32_t nc = p->cap ? p->cap : 256;
        while (nc < n)
            nc *= 2;
        uint32_t *a = souk_realloc(p->docids, nc * sizeof *a);
        if (!a)
            return SOUK_ENOMEM;
        p->docids = a;
        a = souk_realloc(p->wdfs, nc * sizeof *a);
        if (!a)
            return SOUK_ENOMEM;
        p->wdfs = a;
        a = souk_realloc(p->npos, nc * sizeof *a);
        if (!a)
            return SOUK_ENOMEM;
        p->npos = a;
        a = souk_realloc(p->doclens, nc * sizeof *a);
        if (!a)
            return SOUK_ENOMEM;
        p->doclens = a;
        p->cap = nc;
    }
    if (npos > p->pos_cap) {
        size_t nc = p->pos_cap ? p->pos_cap : 1024;
        while (nc < npos)
            nc *= 2;
        uint32_t *a = souk_realloc(p->pos, nc * sizeof *a);
        if (!a)
            return SOUK_ENOMEM;
        p->pos = a;
        p->pos_cap = nc;
    }
    return SOUK_OK;
}

void souk__plist_free(plist *p)
{
    souk_free(p->docids);
    souk_free(p->wdfs);
    souk_free(p->npos);
    souk_free(p->doclens);
    souk_free(p->pos);
    memset(p, 0, sizeof *p);
}

static int plist_push(plist *p, uint32_t docid, uint32_t wdf, uint32_t npos, const uint32_t *pos,
                      uint32_t doclen)
{
    int rc = souk__plist_reserve(p, p->n + 1, p->npos_total + npos);
    if (rc)
        return rc;
    p->doclens[p->n] = doclen;
    p->docids[p->n] = docid;
    p->wdfs[p->n] = wdf;
    p->npos[p->n] = npos;
    if (npos)
        memcpy(p->pos + p->npos_total, pos, npos * sizeof *pos);
    p->npos_total += npos;
    p->n++;
    return SOUK_OK;
}

/* Appends a decoded block to p. */
static int plist_add_block(plist *p, const souk_block *b)
{
    uint32_t d[SOUK_BLOCK_MAX], f[SOUK_BLOCK_MAX], np[SOUK_BLOCK_MAX];
    int rc;
    if ((rc = souk_block_docids(b, d)) || (rc = souk_block_wdfs(b, f)))
        return rc;
    size_t total = 0;
    rc = souk_block_positions(b, np, NULL, 0, &total);
    if (rc && rc != SOUK_ETOOBIG)
        return rc;
    if ((rc = souk__plist_reserve(p, p->n + b->count, p->npos_total + total)) != 0)
        return rc;
    if (total && (rc = souk_block_positions(b, np, p->pos + p->npos_total, total, &total)) != 0)
        return rc;
    memcpy(p->docids + p->n, d, b->count * sizeof *d);
    memcpy(p->wdfs + p->n, f, b->count * sizeof *f);
    memcpy(p->npos + p->n, np, b->count * sizeof *np);
    for (uint32_t i = 0; i < b->count; i++)
        p->doclens[p->n + i] = DOCLEN_UNKNOWN;
    p->n += b->count;
    p->npos_total += total;
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

/* Sets the writer's message for LMDB error rc in step what; an I/O error names the data file,
 * and a full disk says so (issue 17: it said "Input/output error"). */
static int mdb_fail(commit_ctx *c, int rc, const char *what)
{
    const char *dir = NULL;
    if (rc == EIO || rc == ENOSPC || rc == EDQUOT)
        mdb_env_get_path(c->ix->env, &dir);
    if (dir && disk_full(c->ix, rc))
        snprintf(c->w->err, sizeof c->w->err, "%s: no space left on device (writing %s/data.mdb)",
                 what, dir);
    else if (dir)
        snprintf(c->w->err, sizeof c->w->err, "%s: %s (writing %s/data.mdb)", what,
                 mdb_strerror(rc), dir);
    else
        snprintf(c->w->err, sizeof c->w->err, "%s: %s", what, mdb_strerror(rc));
    return rc;
}

/* Reads the length of docid inside the write transaction (copying a chunk at a time). */
int souk__doclen_get(commit_ctx *c, uint32_t docid, uint32_t *len)
{
    uint32_t chunk = docid / SOUK_DOCLEN_CHUNK;
    if (!c->dl_chunk_valid || c->dl_chunk_no != chunk) {
        uint8_t key[4];
        be32_put(key, chunk);
        MDB_val k = {4, key}, d;
        int rc = mdb_get(c->txn, c->ix->doclen, &k, &d);
        if (rc == MDB_NOTFOUND)
            memset(c->dl_chunk, 0, sizeof c->dl_chunk);
        else if (rc)
            return rc;
        else if (d.mv_size != sizeof c->dl_chunk)
            return MDB_CORRUPTED;
        else
            memcpy(c->dl_chunk, d.mv_data, sizeof c->dl_chunk);
        c->dl_chunk_no = chunk;
        c->dl_chunk_valid = 1;
    }
    *len = c->dl_chunk[docid % SOUK_DOCLEN_CHUNK];
    return 0;
}

int souk__buf_reserve(commit_ctx *c, size_t n)
{
    if (n <= c->bufcap)
        return 0;
    size_t nc = c->bufcap ? c->bufcap : 65536;
    while (nc < n)
        nc *= 2;
    uint8_t *b = souk_realloc(c->buf, nc);
    if (!b)
        return ENOMEM;
    c->buf = b;
    c->bufcap = nc;
    return 0;
}

/* Encodes postings o[from, to) as one block into c->buf; returns its length via *len. */
/* Describes postings o[from, to) as a block to encode, given each document's length (lens may
 * alias o->doclens). *npos_out gets the number of positions. */
void souk__block_input(const plist *o, const uint32_t *lens, uint32_t from, uint32_t to,
                       size_t pos_from, souk_block_in *in, size_t *npos_out)
{
    uint32_t min_dl = UINT32_MAX;
    double min_ratio = INFINITY;
    size_t npos = 0;
    int has_pos = 0;
    for (uint32_t i = from; i < to; i++) {
        uint32_t dl = lens[i];
        if (dl < min_dl)
            min_dl = dl;
        if (o->wdfs[i] && (double)dl / o->wdfs[i] < min_ratio)
            min_ratio = (double)dl / o->wdfs[i];
        npos += o->npos[i];
        has_pos |= o->npos[i] != 0;
    }
    /* Rounded down, so the bound it gives stays an upper bound. */
    float ratio = (float)min_ratio;
    if ((double)ratio > min_ratio)
        ratio = nextafterf(ratio, 0.0f);
    souk_block_in b = {
        to - from,         o->docids + from, o->wdfs + from, has_pos ? o->npos + from : NULL,
        o->pos + pos_from, min_dl,           ratio,          NULL};
    *in = b;
    *npos_out = npos;
}

/* Encodes postings o[from, to) as one block into c->buf; returns its length via *len. */
static int encode_range(commit_ctx *c, plist *o, uint32_t from, uint32_t to, size_t pos_from,
                        size_t *len)
{
    for (uint32_t i = from; i < to; i++) {
        if (o->doclens[i] == DOCLEN_UNKNOWN) {
            int rc = souk__doclen_get(c, o->docids[i], &o->doclens[i]);
            if (rc)
                return rc;
        }
    }
    souk_block_in in;
    size_t npos;
    souk__block_input(o, o->doclens, from, to, pos_from, &in, &npos);
    if (souk__buf_reserve(c, souk_block_bound(to - from, npos)))
        return ENOMEM;
    *len = souk_block_encode(&in, c->buf);
    return 0;
}

/* Writes postings o as blocks of SOUK_BLOCK_MAX into the post database; counts them. */
static int write_blocks(commit_ctx *c, const char *term, uint32_t tlen, plist *o, uint32_t *nblocks)
{
    size_t pos_at = 0;
    for (uint32_t from = 0; from < o->n; from += SOUK_BLOCK_MAX) {
        uint32_t to = from + SOUK_BLOCK_MAX < o->n ? from + SOUK_BLOCK_MAX : o->n;
        size_t len;
        int rc = encode_range(c, o, from, to, pos_at, &len);
        if (rc)
            return rc;
        for (uint32_t i = from; i < to; i++)
            pos_at += o->npos[i];
        uint8_t key[520];
        MDB_val k = {souk__post_key(term, tlen, o->docids[to - 1], key), key};
        MDB_val d = {len, c->buf};
        rc = mdb_put(c->txn, c->ix->post, &k, &d, c->post_append ? MDB_APPEND : 0);
        if (rc)
            return rc;
        (*nblocks)++;
    }
    return 0;
}

/* The new length of the document of change t, DOCLEN_UNKNOWN when it must be looked up. */
static inline uint32_t change_doclen(const commit_ctx *c, const tchange *t)
{
    uint32_t i = t->docid - c->dl_lo;
    return t->docid >= c->dl_lo && i < c->dl_n ? c->dl[i] : DOCLEN_UNKNOWN;
}

/* Merges existing postings e with changes ch[i..j) (sorted by docid) into o, updating the term's
 * df/cf and noting whether an existing posting at max_wdf changed. */
static int merge_changes(const commit_ctx *c, const plist *e, const tchange *ch, size_t ni,
                         plist *o, souk_term_info *info, int *max_touched)
{
    size_t a = 0, b = 0, pa = 0;
    o->n = 0;
    o->npos_total = 0;
    while (a < e->n || b < ni) {
        const tchange *t = b < ni ? &ch[b] : NULL;
        int rc;
        if (a < e->n && (!t || e->docids[a] < t->docid)) {
            rc = plist_push(o, e->docids[a], e->wdfs[a], e->npos[a], e->pos + pa, e->doclens[a]);
            pa += e->npos[a];
            a++;
        } else {
            int same = a < e->n && e->docids[a] == t->docid;
            if (same) {
                info->df--;
                info->cf -= e->wdfs[a];
                if (e->wdfs[a] >= info->max_wdf)
                    *max_touched = 1;
                pa += e->npos[a];
                a++;
            }
            if (!CH_DEL(t)) {
                rc = plist_push(o, t->docid, t->wdf, t->npos, pos_of(&c->w->pos, t->pos, t->npos),
                                change_doclen(c, t));
                info->df++;
                info->cf += t->wdf;
                if (t->wdf > info->max_wdf)
                    info->max_wdf = t->wdf;
            } else {
                rc = 0;
            }
            b++;
        }
        if (rc)
            return rc;
    }
    return 0;
}

/* Recomputes a term's max wdf from its postings blocks' headers. */
static int rescan_max_wdf(commit_ctx *c, const char *term, uint32_t tlen, uint32_t *max)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(c->txn, c->ix->post, &cur);
    if (rc)
        return rc;
    uint8_t key[520];
    MDB_val k = {souk__post_key(term, tlen, 0, key), key}, d;
    *max = 0;
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        const uint8_t *kk = k.mv_data;
        if (k.mv_size != tlen + 5 || memcmp(kk, term, tlen) || kk[tlen])
            break;
        souk_block b;
        if (souk_block_parse(d.mv_data, d.mv_size, &b)) {
            rc = MDB_CORRUPTED;
            break;
        }
        if (b.max_wdf > *max)
            *max = b.max_wdf;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
}

/* Applies the changes ch[0..n) (sorted by docid) of one term to its dictionary entry and
 * postings. */
int souk__merge_term(commit_ctx *c, const char *term, uint32_t tlen, const tchange *ch, size_t n)
{
    MDB_val k = {tlen, (void *)term}, d;
    souk_term_info info = {0, 0, 0, 0};
    souk__dict dd;
    /* Into an empty dictionary (appending) no term can exist yet. */
    int rc = c->terms_append ? MDB_NOTFOUND : mdb_get(c->txn, c->ix->terms, &k, &d);
    int max_touched = 0;
    int existed = rc == 0;
    if (rc && rc != MDB_NOTFOUND)
        return rc;
    c->e.n = 0;
    c->e.npos_total = 0;
    if (existed) {
        if (souk__dict_decode(d.mv_data, d.mv_size, &dd))
            return MDB_CORRUPTED;
        info = dd.info;
    }
    if (!existed || info.nblocks == 0) {
        if (existed && dd.inline_len) {
            souk_block b;
            if (souk_block_parse(dd.inline_block, dd.inline_len, &b))
                return MDB_CORRUPTED;
            if ((rc = plist_add_block(&c->e, &b)) != 0)
                return rc == SOUK_ENOMEM ? ENOMEM : MDB_CORRUPTED;
        }
        if ((rc = merge_changes(c, &c->e, ch, n, &c->o, &info, &max_touched)) != 0)
            return rc;
        if (c->o.n == 0) {
            rc = existed ? mdb_del(c->txn, c->ix->terms, &k, NULL) : 0;
            return rc;
        }
        if (max_touched) {
            info.max_wdf = 0;
            for (uint32_t i = 0; i < c->o.n; i++)
                if (c->o.wdfs[i] > info.max_wdf)
                    info.max_wdf = c->o.wdfs[i];
        }
        size_t blen = 0;
        int inl = 0;
        if (c->o.n <= SOUK_BLOCK_MAX) {
            if ((rc = encode_range(c, &c->o, 0, c->o.n, 0, &blen)) != 0)
                return rc;
            inl = blen <= SOUK_INLINE_MAX;
        }
        info.nblocks = 0;
        if (!inl) {
            if ((rc = write_blocks(c, term, tlen, &c->o, &info.nblocks)) != 0)
                return rc;
            blen = 0;
        }
        uint8_t dv[64 + SOUK_INLINE_MAX];
        MDB_val v = {souk__dict_encode(&info, c->buf, blen, dv), dv};
        rc = mdb_put(c->txn, c->ix->terms, &k, &v, (!existed && c->terms_append) ? MDB_APPEND : 0);
        return rc;
    }
    /* Postings in the post database: merge block by block. */
    MDB_cursor *cur;
    if ((rc = mdb_cursor_open(c->txn, c->ix->post, &cur)) != 0)
        return rc;
    size_t i = 0;
    uint8_t key[520];
    while (i < n && rc == 0) {
        MDB_val bk = {souk__post_key(term, tlen, ch[i].docid, key), key}, bd;
        rc = mdb_cursor_get(cur, &bk, &bd, MDB_SET_RANGE);
        const uint8_t *kk = bk.mv_data;
        int in_term = rc == 0 && bk.mv_size == tlen + 5 && !memcmp(kk, term, tlen) && !kk[tlen];
        size_t j = i;
        c->e.n = 0;
        c->e.npos_total = 0;
        if (in_term) {
            uint32_t last = be32_get(kk + tlen + 1);
            while (j < n && ch[j].docid <= last)
                j++;
        } else {
            if (rc && rc != MDB_NOTFOUND)
                break;
            /* Past the last block: extend the last block if it has room. */
            rc = rc == 0 ? mdb_cursor_get(cur, &bk, &bd, MDB_PREV)
                         : mdb_cursor_get(cur, &bk, &bd, MDB_LAST);
            kk = bk.mv_data;
            in_term = rc == 0 && bk.mv_size == tlen + 5 && !memcmp(kk, term, tlen) && !kk[tlen];
            j = n;
            rc = 0;
        }
        if (in_term) {
            souk_block b;
            if (souk_block_parse(bd.mv_data, bd.mv_size, &b)) {
                rc = MDB_CORRUPTED;
                break;
            }
            if (j > i && (b.count < SOUK_BLOCK_MAX || ch[i].docid <= b.last_docid)) {
                if ((rc = plist_add_block(&c->e, &b)) != 0) {
                    rc = rc == SOUK_ENOMEM ? ENOMEM : MDB_CORRUPTED;
                    break;
                }
                if ((rc = mdb_cursor_del(cur, 0)) != 0)
                    break;
                info.nblocks--;
            }
        }
        if ((rc = merge_changes(c, &c->e, ch + i, j - i, &c->o, &info, &max_touched)) != 0)
            break;
        int save = c->post_append;
        c->post_append = 0;
        rc = write_blocks(c, term, tlen, &c->o, &info.nblocks);
        c->post_append = save;
        i = j;
    }
    mdb_cursor_close(cur);
    if (rc)
        return rc;
    if (info.df == 0) {
        if (info.nblocks != 0)
            return MDB_CORRUPTED;
        return mdb_del(c->txn, c->ix->terms, &k, NULL);
    }
    if (max_touched && (rc = rescan_max_wdf(c, term, tlen, &info.max_wdf)) != 0)
        return rc;
    uint8_t dv[64];
    MDB_val v = {souk__dict_encode(&info, NULL, 0, dv), dv};
    return mdb_put(c->txn, c->ix->terms, &k, &v, 0);
}

static inline tgroup *grp(const commit_ctx *c, size_t i)
{
    return &c->gchunk[i >> GROUP_BITS][i & (GROUP_CHUNK - 1)];
}

/* The group of a term, or NULL; *slot gets its slot in the map (the empty one when absent). */
static tgroup *group_find(const commit_ctx *c, const char *term, uint32_t len, uint64_t hash,
                          size_t *slot)
{
    uint64_t head = 0;
    memcpy(&head, term, len < 8 ? len : 8);
    if (!c->gmap)
        return NULL;
    size_t mask = c->gcap - 1, s = hash & mask;
    while (c->gmap[s]) {
        tgroup *g = grp(c, c->gmap[s] - 1);
        if (g->hash == hash && g->len == len && g->head == head &&
            (len <= 8 || souk__bytes_eq(g->term + 8, term + 8, len - 8)))
            return g;
        s = (s + 1) & mask;
    }
    if (slot)
        *slot = s;
    return NULL;
}

/* Finds or adds the group of a term. */
static tgroup *group_for(commit_ctx *c, const char *term, uint32_t len, uint64_t hash)
{
    if ((c->ngroups + 1) * 2 > c->gcap) {
        size_t nc = c->gcap ? c->gcap * 2 : 1 << 16;
        uint32_t *m = souk_calloc(nc, sizeof *m);
        if (!m)
            return NULL;
        for (size_t g = 0; g < c->ngroups; g++) {
            size_t s = grp(c, g)->hash & (nc - 1);
            while (m[s])
                s = (s + 1) & (nc - 1);
            m[s] = (uint32_t)g + 1;
        }
        souk_free(c->gmap);
        c->gmap = m;
        c->gcap = nc;
    }
    size_t s;
    tgroup *g = group_find(c, term, len, hash, &s);
    if (g)
        return g;
    if (c->ngroups == c->ngchunk * GROUP_CHUNK) {
        if (c->ngchunk == c->capgchunk) {
            size_t nc = c->capgchunk ? c->capgchunk * 2 : 64;
            tgroup **n = souk_realloc(c->gchunk, nc * sizeof *n);
            if (!n)
                return NULL;
            c->gchunk = n;
            c->capgchunk = nc;
        }
        if (!(c->gchunk[c->ngchunk] = souk_malloc(GROUP_CHUNK * sizeof(tgroup))))
            return NULL;
        c->ngchunk++;
    }
    g = grp(c, c->ngroups);
    memset(g, 0, sizeof *g);
    g->term =
        souk__arena_dup(&c->w->mem, term, len); /* the caller's copy may not outlive the batch */
    if (!g->term)
        return NULL;
    g->len = len;
    g->hash = hash;
    memcpy(&g->head, term, len < 8 ? len : 8);
    g->idx = (uint32_t)c->ngroups;
    c->ngroups++;
    c->gmap[s] = (uint32_t)c->ngroups;
    return g;
}

static inline uint64_t zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t unzigzag(uint64_t u)
{
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

/* Reads a varint the writer wrote itself (so it is well formed). */
static inline uint64_t varint_read(const uint8_t **pp)
{
    const uint8_t *p = *pp;
    uint64_t v = *p & 0x7f;
    unsigned shift = 7;
    while (*p++ & 0x80) {
        v |= (uint64_t)(*p & 0x7f) << shift;
        shift += 7;
    }
    *pp = p;
    return v;
}

/* Appends a change to the slice of its term. A record: the docid's zigzag delta from the term's
 * previous change; wdf << 2 | (position count == wdf) << 1 | delete; the position count unless it
 * equals wdf (and not for a delete); the zigzag delta of the position-pool index from the term's
 * previous change with positions, when it has any. */
int souk__add_change(commit_ctx *c, const char *term, uint32_t len, uint64_t hash, uint32_t docid,
                     uint32_t wdf, uint32_t npos, uint32_t pos)
{
    tgroup *g = group_for(c, term, len, hash);
    if (!g)
        return ENOMEM;
    if (g->left < REC_MAX) {
        unsigned level = g->first ? g->level + (g->level < BLK_LEVELS - 1) : 0;
        size_t size = (size_t)BLK_MIN << level;
        uint32_t ref;
        uint8_t *b = slab_alloc(&c->slab, size, &ref);
        if (!b)
            return ENOMEM;
        memset(b, 0, BLK_HDR);
        if (g->first) {
            uint8_t *last = slab_ptr(&c->slab, g->last);
            uint32_t used = (uint32_t)(g->wp - (last + BLK_HDR));
            memcpy(last, &ref, 4);
            memcpy(last + 4, &used, 4);
        } else {
            g->first = ref;
        }
        g->last = ref;
        g->level = (uint8_t)level;
        g->wp = b + BLK_HDR;
        g->left = (uint16_t)(size - BLK_HDR);
    }
    uint8_t *p = g->wp;
    int del = pos == POS_DEL;
    p += varint_put(p, zigzag((int64_t)docid - (int64_t)g->last_docid));
    p += varint_put(p, (uint64_t)wdf << 2 | (uint64_t)(npos == wdf) << 1 | (uint64_t)del);
    if (!del && npos != wdf)
        p += varint_put(p, npos);
    if (!del && npos) {
        p += varint_put(p, zigzag((int64_t)pos - (int64_t)g->last_pos));
        g->last_pos = pos;
    }
    g->left = (uint16_t)(g->left - (p - g->wp));
    g->wp = p;
    if (g->n && g->last_docid >= docid)
        g->unsorted = 1;
    g->last_docid = docid;
    g->n++;
    return 0;
}

static inline uint64_t dead_key(uint32_t gidx, uint32_t docid)
{
    return (uint64_t)(gidx + 1) << 32 | docid;
}

static inline size_t dead_slot(uint64_t key, size_t cap)
{
    return (size_t)((key * 0x9e3779b97f4a7c15ull) >> 32) & (cap - 1);
}

static dead_ent *dead_find(const commit_ctx *c, uint64_t key)
{
    size_t mask = c->deadcap - 1;
    for (size_t s = dead_slot(key, c->deadcap); c->dead[s].key; s = (s + 1) & mask)
        if (c->dead[s].key == key)
            return &c->dead[s];
    return NULL;
}

/* One more dead change of (group gidx, docid). */
static int dead_add(commit_ctx *c, uint32_t gidx, uint32_t docid)
{
    if ((c->ndead + 1) * 2 > c->deadcap) {
        size_t nc = c->deadcap ? c->deadcap * 2 : 256;
        dead_ent *m = souk_calloc(nc, sizeof *m);
        if (!m)
            return ENOMEM;
        for (size_t i = 0; i < c->deadcap; i++) {
            if (!c->dead[i].key)
                continue;
            size_t s = dead_slot(c->dead[i].key, nc);
            while (m[s].key)
                s = (s + 1) & (nc - 1);
            m[s] = c->dead[i];
        }
        souk_free(c->dead);
        c->dead = m;
        c->deadcap = nc;
    }
    uint64_t key = dead_key(gidx, docid);
    dead_ent *e = dead_find(c, key);
    if (!e) {
        size_t s = dead_slot(key, c->deadcap);
        while (c->dead[s].key)
            s = (s + 1) & (c->deadcap - 1);
        e = &c->dead[s];
        e->key = key;
        c->ndead++;
        if (c->ndead == 1 || docid < c->dead_lo)
            c->dead_lo = docid;
        if (c->ndead == 1 || docid > c->dead_hi)
            c->dead_hi = docid;
    }
    e->dead++;
    return 0;
}

/* Starts a pass over the slices: no dead change seen yet. */
void souk__dead_rewind(commit_ctx *c)
{
    for (size_t i = 0; c->ndead && i < c->deadcap; i++)
        c->dead[i].seen = 0;
}

/* Reads group g's live changes back, in arrival order, into *buf (grown as needed); *n gets
 * their number. Threads may read distinct groups at once. */
int souk__group_read(commit_ctx *c, const tgroup *g, tchange **buf, size_t *cap, uint32_t *n)
{
    if (g->n > *cap) {
        size_t nc = *cap ? *cap : 1024;
        while (nc < g->n)
            nc *= 2;
        tchange *t = souk_realloc(*buf, nc * sizeof *t);
        if (!t)
            return ENOMEM;
        *buf = t;
        *cap = nc;
    }
    tchange *out = *buf;
    uint32_t k = 0, docid = 0, pos = 0;
    for (uint32_t ref = g->first; ref;) {
        const uint8_t *b = slab_ptr(&c->slab, ref), *p = b + BLK_HDR, *end;
        if (ref == g->last) {
            end = g->wp;
            ref = 0;
        } else {
            uint32_t used;
            memcpy(&used, b + 4, 4);
            memcpy(&ref, b, 4);
            end = p + used;
            PREFETCH(slab_ptr(&c->slab, ref)); /* the next block, while this one is read */
        }
        while (p < end) {
            tchange t;
            docid = (uint32_t)((int64_t)docid + unzigzag(varint_read(&p)));
            uint64_t h = varint_read(&p);
            int del = (int)(h & 1);
            t.docid = docid;
            t.wdf = (uint32_t)(h >> 2);
            t.npos = del ? 0 : (h & 2) ? t.wdf : (uint32_t)varint_read(&p);
            t.pos = del ? POS_DEL : 0;
            if (t.npos) {
                pos = (uint32_t)((int64_t)pos + unzigzag(varint_read(&p)));
                t.pos = pos;
            }
            if (c->ndead && docid >= c->dead_lo && docid <= c->dead_hi) {
                dead_ent *e = dead_find(c, dead_key(g->idx, docid));
                if (e && e->seen < e->dead) {
                    e->seen++;
                    continue;
                }
            }
            out[k++] = t;
        }
    }
    *n = k;
    return 0;
}

/* A group in the term-order sort: the first 8 bytes of the term decide most comparisons. */
typedef struct grank {
    uint64_t prefix;
    uint32_t idx;
} grank;

static inline int group_less(const commit_ctx *c, grank a, grank b)
{
    if (a.prefix != b.prefix)
        return a.prefix < b.prefix;
    const tgroup *x = grp(c, a.idx), *y = grp(c, b.idx);
    size_t n = x->len < y->len ? x->len : y->len;
    int r = memcmp(x->term, y->term, n);
    return r ? r < 0 : x->len < y->len;
}

/* Sorts touched terms into term order (distinct terms never compare equal). */
SOUK_QSORT_DEFINE(sort_groups, grank, const commit_ctx *, group_less)

/* The batch's groups in term order. */
void souk__rank_groups(const commit_ctx *c, grank *rank)
{
    for (size_t i = 0; i < c->ngroups; i++) {
        const tgroup *g = grp(c, i);
        rank[i].idx = (uint32_t)i;
        rank[i].prefix = souk__prefix8(g->term, g->len);
    }
    sort_groups(c, rank, c->ngroups);
}

static int cmp_change(const void *a, const void *b)
{
    uint32_t x = ((const tchange *)a)->docid, y = ((const tchange *)b)->docid;
    return x < y ? -1 : x > y;
}

/* Sorts a term's changes by docid. They come nearly sorted: docids are handed out in arrival
 * order, and only a document repeated in the batch or an update of an old one comes late. So the
 * ascending run is kept in place, the late changes are sorted apart and merged back in (linear
 * for the usual few), instead of sorting the whole list. *scratch (2n changes) is reused. */
int souk__sort_changes(tchange *ch, uint32_t n, tchange **scratch, size_t *cap)
{
    if ((size_t)n * 2 > *cap) {
        size_t nc = *cap ? *cap : 1024;
        while (nc < (size_t)n * 2)
            nc *= 2;
        tchange *t = souk_realloc(*scratch, nc * sizeof *t);
        if (!t)
            return ENOMEM;
        *scratch = t;
        *cap = nc;
    }
    tchange *late = *scratch, *out = *scratch + n;
    uint32_t m = 0, k = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (m == 0 || ch[i].docid > ch[m - 1].docid)
            ch[m++] = ch[i];
        else
            late[k++] = ch[i];
    }
    if (k == 0)
        return 0;
    if (k > n / 8) {
        /* Not nearly sorted after all: sort everything. */
        memcpy(ch + m, late, k * sizeof *ch);
        qsort(ch, n, sizeof *ch, cmp_change);
        return 0;
    }
    qsort(late, k, sizeof *late, cmp_change);
    uint32_t a = 0, b = 0, o = 0;
    while (a < m || b < k)
        out[o++] = (b == k || (a < m && ch[a].docid <= late[b].docid)) ? ch[a++] : late[b++];
    memcpy(ch, out, n * sizeof *ch);
    return 0;
}

/* Reads the next term of an unpacked front-coded term list into term[0, *len), where term holds
 * the previous one. 1: a term; 0: the end; -1: malformed. */
int souk__termlist_next(const uint8_t **p, const uint8_t *end, char *term, size_t cap,
                        uint32_t *len)
{
    if (*p >= end)
        return 0;
    uint32_t shared, suffix;
    if (varint_get32(p, end, &shared) || varint_get32(p, end, &suffix) || shared > *len ||
        (size_t)shared + suffix > cap || suffix > (size_t)(end - *p))
        return -1;
    memcpy(term + shared, *p, suffix);
    *p += suffix;
    *len = shared + suffix;
    return 1;
}

/* Reads and copies the stored term list of docid. */
static int load_old_terms(commit_ctx *c, dchange *dc)
{
    uint8_t key[4];
    be32_put(key, dc->docid);
    MDB_val k = {4, key}, d;
    int rc = mdb_get(c->txn, c->ix->termlist, &k, &d);
    if (rc)
        return rc == MDB_NOTFOUND ? MDB_CORRUPTED : rc;
    long tl = souk_blob_unpack(d.mv_data, d.mv_size, &c->tlbuf, &c->tlcap);
    if (tl < 0)
        return tl == SOUK_ENOMEM ? ENOMEM : MDB_CORRUPTED;
    const uint8_t *p = c->tlbuf, *end = p + tl;
    size_t n = 0, cap = 64;
    char **terms = souk__arena_alloc(&c->tmp, cap * sizeof *terms);
    uint32_t *lens = souk__arena_alloc(&c->tmp, cap * sizeof *lens);
    char term[512];
    uint32_t len = 0;
    int r;
    while (terms && lens && (r = souk__termlist_next(&p, end, term, sizeof term, &len)) != 0) {
        if (r < 0)
            return MDB_CORRUPTED;
        if (n == cap) {
            char **nt = souk__arena_alloc(&c->tmp, cap * 2 * sizeof *nt);
            uint32_t *nl = souk__arena_alloc(&c->tmp, cap * 2 * sizeof *nl);
            if (!nt || !nl)
                return ENOMEM;
            memcpy(nt, terms, cap * sizeof *nt);
            memcpy(nl, lens, cap * sizeof *nl);
            terms = nt;
            lens = nl;
            cap *= 2;
        }
        terms[n] = souk__arena_dup(&c->tmp, term, len);
        lens[n] = len;
        if (!terms[n])
            return ENOMEM;
        n++;
    }
    if (!terms || !lens)
        return ENOMEM;
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

/* What a document's store record and term list are made of. */
typedef struct store_rec {
    uint32_t docid;
    uint32_t id_len, stored_len, termlist_len;
    const char *id, *stored;
    const uint8_t *termlist;
} store_rec;

static inline store_rec store_rec_of(const op *o, uint32_t docid)
{
    store_rec r = {docid, o->id_len, o->stored_len, o->termlist_len, o->id, o->stored, o->termlist};
    return r;
}

/* mdb_put, with MDB_APPEND when af holds it. An append whose key does not sort after the
 * database's last key fails with MDB_KEYEXIST (without MDB_NOOVERWRITE nothing else does), and
 * is then done as an ordinary put: a wrong guess about the order costs page fill, never the
 * commit. (Issue 17: a batch whose docids reached the store out of order failed every rerun.) */
int souk__put_or_append(MDB_txn *txn, MDB_dbi dbi, MDB_val *k, MDB_val *d, unsigned flags,
                        unsigned af)
{
    size_t size = d->mv_size;
    void *data = d->mv_data;
    int rc = mdb_put(txn, dbi, k, d, flags | af);
    if (rc == MDB_KEYEXIST && (af & MDB_APPEND)) {
        d->mv_size = size;
        d->mv_data = data;
        rc = mdb_put(txn, dbi, k, d, flags);
    }
    return rc;
}

/* Writes a document's store record (varint id length, id, stored-fields blob), in place
 * (MDB_RESERVE), and its term list (the blob made by the analysis thread) in txn. */
int souk__put_store(MDB_txn *txn, const souk_index *ix, const store_rec *r, unsigned af)
{
    uint8_t key[4], vl[10];
    be32_put(key, r->docid);
    size_t n = varint_put(vl, r->id_len);
    MDB_val k = {4, key}, d = {n + r->id_len + r->stored_len, NULL};
    int rc = souk__put_or_append(txn, ix->docs, &k, &d, MDB_RESERVE, af);
    if (rc)
        return rc;
    uint8_t *p = d.mv_data;
    memcpy(p, vl, n);
    memcpy(p + n, r->id, r->id_len);
    memcpy(p + n + r->id_len, r->stored, r->stored_len);
    d.mv_size = r->termlist_len;
    d.mv_data = (void *)r->termlist;
    return souk__put_or_append(txn, ix->termlist, &k, &d, 0, af);
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
    return rc == MDB_NOTFOUND ? 0 : rc;
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
            return rc;
        rc = mdb_del(c->txn, ix->attr, &k, NULL);
        return rc == MDB_NOTFOUND ? 0 : rc;
    }
    if (store) {
        store_rec r = store_rec_of(o, dc->docid);
        if ((rc = souk__put_store(c->txn, ix, &r, af)) != 0)
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
        return rc == MDB_NOTFOUND ? 0 : rc;
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
    return souk__put_or_append(c->txn, ix->attr, &k, &d, 0, af);
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
            return rc;
        else if (d.mv_size != sizeof chunk)
            return MDB_CORRUPTED;
        else
            memcpy(chunk, d.mv_data, sizeof chunk);
        while (i < n && s[i].docid / SOUK_DOCLEN_CHUNK == no) {
            chunk[s[i].docid % SOUK_DOCLEN_CHUNK] = s[i].len;
            i++;
        }
        d.mv_size = sizeof chunk;
        d.mv_data = chunk;
        if ((rc = mdb_put(c->txn, c->ix->doclen, &k, &d, 0)) != 0)
            return rc;
    }
    return 0;
}

/* ------------------------------------------------------------------ bulk encoding */

/* Into an empty index every touched term is new, and its blocks depend only on its changes:
 * two threads encode the terms, in chunks, while the writer thread appends the results to LMDB
 * in term order. Output records: u8 database (0 terms, 1 post), u32 key length, u32 value length,
 * key, value. */
#define BULK_CHUNK 2048
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
    if (k->len + n <= k->cap)
        return 0;
    size_t nc = k->cap ? k->cap : 1 << 16;
    while (nc < k->len + n)
        nc *= 2;
    uint8_t *b = souk_realloc(k->buf, nc);
    if (!b)
        return ENOMEM;
    k->buf = b;
    k->cap = nc;
    return 0;
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
    uint32_t pos_cap;
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
        return ENOMEM;
    plist *o = &bl->p;
    if (souk__plist_reserve(o, n, 0))
        return ENOMEM;
    if (n > bl->pos_cap) {
        uint32_t nc = bl->pos_cap ? bl->pos_cap : 256;
        while (nc < n)
            nc *= 2;
        const uint32_t **pe = souk_realloc(bl->pos_each, nc * sizeof *pe);
        if (!pe)
            return ENOMEM;
        bl->pos_each = pe;
        bl->pos_cap = nc;
    }
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
        return EINVAL; /* not a new term (or an old document): the serial path handles it */
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
                    return ENOMEM;
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
            return ENOMEM;
        size_t vlen = souk_block_encode(&in, rec + 9 + klen);
        bulk_record_done(k, rec, (uint32_t)klen, (uint32_t)vlen);
        info.nblocks++;
    }
    uint8_t *rec = bulk_record(k, 0, tg->term, tg->len, 64);
    if (!rec)
        return ENOMEM;
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

/* Encodes every group in parallel and appends the results in term order. Returns 0, an LMDB
 * error, or EINVAL when a term turned out not to be new (then nothing was written and the caller
 * merges serially; only possible for a corrupt batch). */
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
        return ENOMEM;
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
            rc = mdb_cursor_put(cur[p[0] ? 1 : 0], &key, &val, MDB_APPEND);
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

/* ------------------------------------------------------------------ grouping by term */

/* Phase 4's set-up: the touched terms sorted into term order. It runs in a thread of its own;
 * none of it touches LMDB, so the writer thread writes the document records meanwhile. */
typedef struct group_job {
    commit_ctx *c;
    grank *rank;
    pthread_t th;
    int started;
} group_job;

static void *group_main(void *arg)
{
    group_job *j = arg;
    souk__rank_groups(j->c, j->rank);
    return NULL;
}

/* Starts the sort; souk__group_changes_finish waits for it. */
static int group_changes_start(group_job *j, commit_ctx *c, grank *rank)
{
    memset(j, 0, sizeof *j);
    j->c = c;
    j->rank = rank;
    j->started = pthread_create(&j->th, NULL, group_main, j) == 0;
    if (!j->started)
        group_main(j); /* no thread: sort here, before the document records */
    return 0;
}

void souk__group_changes_finish(group_job *j)
{
    if (j->started)
        pthread_join(j->th, NULL);
}

/* Forgets every grouped change (kept: buffers for reuse). */
void souk__grouping_clear(commit_ctx *c)
{
    c->ngroups = 0;
    if (c->gmap)
        memset(c->gmap, 0, c->gcap * sizeof *c->gmap);
    slab_reset(&c->slab);
    if (c->ndead)
        memset(c->dead, 0, c->deadcap * sizeof *c->dead);
    c->ndead = 0;
}

size_t souk__grouping_bytes(const commit_ctx *c)
{
    return c->slab.bytes;
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

/* Makes sure the batch has its read snapshot (taken at its first operation). */
static int ensure_snapshot(souk_writer *w)
{
    if (w->snap)
        return 0;
    int rc = souk__txn_begin(w->ix, MDB_RDONLY, &w->snap);
    if (rc)
        return rc;
    uint64_t next;
    if ((rc = souk__meta_get_u64(w->snap, w->ix, "generation", &w->snap_gen)) != 0 ||
        (rc = souk__meta_get_u64(w->snap, w->ix, "next_docid", &next)) != 0) {
        mdb_txn_abort(w->snap);
        w->snap = NULL;
        return rc;
    }
    w->next_docid = next ? next : 1;
    return 0;
}

/* Decides, for an op just created, whether its id is new (then it is pre-grouped). */
int souk__classify_new_op(souk_writer *w, op *o)
{
    int rc = ensure_snapshot(w);
    if (rc)
        return rc;
    MDB_val k = {o->id_len, (void *)o->id}, d;
    rc = mdb_get(w->snap, w->ix->ids, &k, &d);
    if (rc == MDB_NOTFOUND) {
        o->pregrouped = 1;
        o->docid = 0;
        return 0;
    }
    o->pregrouped = 0;
    return rc;
}

/* The lookups of a document's terms are cache misses on the map, then the group, then its
 * term and last block; prefetching them a few terms ahead, stage by stage, lets them overlap.
 * Only hints: a wrong guess (a collision, a group not there yet) costs nothing but the fetch. */
#define PF_MAP 24
#define PF_GROUP 14
#define PF_TAIL 6

static inline void prefetch_groups(const commit_ctx *c, const souk_dterm *terms, uint32_t i,
                                   uint32_t n)
{
    size_t mask = c->gcap - 1;
    if (i + PF_MAP < n)
        PREFETCH(&c->gmap[terms[i + PF_MAP].hash & mask]);
    if (i + PF_GROUP < n) {
        uint32_t e = c->gmap[terms[i + PF_GROUP].hash & mask];
        if (e)
            PREFETCH(grp(c, e - 1));
    }
    if (i + PF_TAIL < n) {
        const souk_dterm *t = &terms[i + PF_TAIL];
        uint32_t e = c->gmap[t->hash & mask];
        if (e) {
            const tgroup *g = grp(c, e - 1);
            if (g->hash == t->hash) {
                PREFETCH(g->wp);
                if (g->len > 8)
                    PREFETCH(g->term + 8);
            }
        }
    }
}

/* Groups the postings of a pre-grouped op's current version (terms borrowed) by term. */
int souk__pregroup(souk_writer *w, op *o, const souk_dterm *terms)
{
    commit_ctx *c = w->cc;
    if (o->docid == 0) {
        if (w->next_docid >= UINT32_MAX)
            return MDB_MAP_FULL;
        o->docid = (uint32_t)w->next_docid++;
    }
    uint32_t n = o->nterms;
    for (uint32_t i = 0; i < n; i++) {
        if (c->gmap)
            prefetch_groups(c, terms, i, n);
        const souk_dterm *t = &terms[i];
        int rc = souk__add_change(c, t->term, t->len, t->hash, o->docid, t->wdf, t->npos,
                                  o->pos_base + t->pos_off);
        if (rc)
            return rc;
    }
    o->grouped = 1;
    return 0;
}

/* The changes of op o's current version, grouped on arrival, become dead (a later version or a
 * delete in the batch replaces it). Its term list names their terms. */
int souk__mark_dead(souk_writer *w, op *o)
{
    if (!o->grouped)
        return 0;
    commit_ctx *c = w->cc;
    long tl = souk_blob_unpack(o->termlist, o->termlist_len, &c->tlbuf, &c->tlcap);
    if (tl < 0)
        return tl == SOUK_ENOMEM ? ENOMEM : MDB_CORRUPTED;
    const uint8_t *p = c->tlbuf, *end = p + tl;
    char term[512];
    uint32_t len = 0, n = 0;
    int r;
    while ((r = souk__termlist_next(&p, end, term, sizeof term, &len)) > 0) {
        tgroup *g = group_find(c, term, len, souk__hash(term, len), NULL);
        if (!g)
            return MDB_CORRUPTED; /* cannot happen: its terms were grouped */
        if (dead_add(c, g->idx, o->docid))
            return ENOMEM;
        n++;
    }
    if (r < 0 || n != o->nterms)
        return MDB_CORRUPTED;
    o->grouped = 0;
    return 0;
}

/* Store records (docs, termlist) at docids from next_docid on belong to no document: store
 * transactions of a batch that never committed left them (see store_ahead). Readers ignore them;
 * the next batch removes them before it writes store records. */
int souk__delete_orphans(souk_index *ix, MDB_txn *txn, uint64_t next_docid)
{
    if (next_docid > UINT32_MAX)
        return 0;
    MDB_dbi dbs[2] = {ix->docs, ix->termlist};
    for (int i = 0; i < 2; i++) {
        MDB_cursor *cur;
        int rc = mdb_cursor_open(txn, dbs[i], &cur);
        if (rc)
            return rc;
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
            return rc;
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
    int rc = souk__txn_begin(sa->ix, 0, txn);
    if (rc) {
        *txn = NULL;
        return rc;
    }
    if ((rc = souk__meta_get_u64(*txn, sa->ix, "generation", &gen)) == 0 &&
        (rc = souk__meta_get_u64(*txn, sa->ix, "next_docid", &next)) == 0) {
        if (gen != sa->gen)
            rc = MDB_BAD_TXN; /* another writer committed: the docids are not ours */
        else if (first)
            rc = souk__delete_orphans(sa->ix, *txn, next ? next : 1);
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
            rc = mdb_txn_commit(txn);
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
            rc = souk__put_store(txn, sa->ix, &batch[i].r, batch[i].af);
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
        return -1;
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
        return -1;
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
    if (sa->n == sa->cap) {
        size_t nc = sa->cap ? sa->cap * 2 : 4096;
        store_entry *q = souk_realloc(sa->q, nc * sizeof *q);
        if (!q) {
            sa->failed = 1; /* what is queued still goes out */
            pthread_mutex_unlock(&sa->mu);
            return;
        }
        sa->q = q;
        sa->cap = nc;
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

/* A batch grouped on arrival keeps no term array per document (the slices hold the terms);
 * regrouping needs them back: each op's live changes are its terms, read here term by term in
 * byte order, with their positions in the op's own copy. */
int souk__ungroup_terms(souk_writer *w)
{
    commit_ctx *c = w->cc;
    uint32_t lo = UINT32_MAX, hi = 0;
    for (size_t i = 0; i < w->nops; i++) {
        const op *o = &w->ops[i];
        if (o->pregrouped && !o->terms && !o->del) {
            lo = o->docid < lo ? o->docid : lo;
            hi = o->docid > hi ? o->docid : hi;
        }
    }
    if (lo > hi)
        return 0;
    uint32_t *opof = souk_calloc((size_t)(hi - lo) + 1, sizeof *opof); /* docid - lo: op + 1 */
    uint32_t *fill = souk_calloc(w->nops + 1, sizeof *fill);
    grank *rank = souk_malloc((c->ngroups + 1) * sizeof *rank);
    int rc = opof && fill && rank ? 0 : ENOMEM;
    for (size_t i = 0; i < w->nops && !rc; i++) {
        op *o = &w->ops[i];
        if (!o->pregrouped || o->terms || o->del)
            continue;
        if (!(o->terms =
                  souk__arena_alloc(&w->mem, (o->nterms ? o->nterms : 1) * sizeof *o->terms)))
            rc = ENOMEM;
        opof[o->docid - lo] = (uint32_t)i + 1;
    }
    if (!rc) {
        souk__rank_groups(c, rank);
        souk__dead_rewind(c);
    }
    for (size_t r = 0; r < c->ngroups && !rc; r++) {
        const tgroup *g = grp(c, rank[r].idx);
        uint32_t n;
        if ((rc = souk__group_read(c, g, &c->dec, &c->dec_cap, &n)) != 0)
            break;
        for (uint32_t k = 0; k < n; k++) {
            const tchange *ch = &c->dec[k];
            /* Changes of other ops (an earlier attempt's, of documents the index had) stay out. */
            if (CH_DEL(ch) || ch->docid < lo || ch->docid > hi || !opof[ch->docid - lo])
                continue;
            uint32_t oi = opof[ch->docid - lo] - 1;
            op *o = &w->ops[oi];
            if (fill[oi] == o->nterms) {
                rc = MDB_CORRUPTED; /* cannot happen: a grouped op's changes are its terms */
                break;
            }
            souk_dterm *t = &o->terms[fill[oi]++];
            t->term = g->term;
            t->len = g->len;
            t->hash = g->hash;
            t->wdf = ch->wdf;
            t->npos = ch->npos;
            t->pos_off = ch->npos ? ch->pos - o->pos_base : 0;
        }
    }
    for (size_t i = 0; i < w->nops && !rc; i++) {
        const op *o = &w->ops[i];
        if (o->pregrouped && !o->del && o->docid >= lo && o->docid <= hi &&
            opof[o->docid - lo] == i + 1 && fill[i] != o->nterms)
            rc = MDB_CORRUPTED; /* some of its changes were not found */
    }
    souk_free(opof);
    souk_free(fill);
    souk_free(rank);
    return rc;
}

/* Allocates phase 4's term order and starts sorting into it (group_changes_start). */
int souk__start_grouping(commit_ctx *c, group_job *gj, grank **rank)
{
    *rank = souk_malloc((c->ngroups + 1) * sizeof **rank);
    if (!*rank)
        return ENOMEM;
    return group_changes_start(gj, c, *rank);
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
        mdb_fail(c, rc, "begin write");
        goto out;
    }
    uint64_t N, total_len, next_docid, gen;
    if ((rc = souk__meta_get_u64(c->txn, ix, "N", &N)) ||
        (rc = souk__meta_get_u64(c->txn, ix, "total_len", &total_len)) ||
        (rc = souk__meta_get_u64(c->txn, ix, "next_docid", &next_docid)) ||
        (rc = souk__meta_get_u64(c->txn, ix, "generation", &gen))) {
        mdb_fail(c, rc, "read meta");
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
        rc = ENOMEM;
        goto out;
    }
    if (!early && (rc = souk__delete_orphans(ix, c->txn, meta_next)) != 0) {
        mdb_fail(c, rc, "delete orphaned store records");
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
                    mdb_fail(c, rc, "delete a record written ahead");
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
                mdb_fail(c, rc, "read ids");
                goto out;
            }
            int exists = rc == 0;
            if (exists && d.mv_size != 12) {
                rc = MDB_CORRUPTED;
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
                    mdb_fail(c, rc, "read old document");
                    goto out;
                }
                c->dl_chunk_valid = 0;
                total_len -= dc->old_doclen;
                if (o->del) {
                    N--;
                    st->deleted++;
                    if ((rc = mdb_del(c->txn, ix->ids, &k, NULL)) != 0)
                        goto out;
                } else {
                    st->replaced++;
                }
            } else {
                if (o->del) {
                    st->delete_missing++;
                    continue;
                }
                if (next_docid >= UINT32_MAX) {
                    snprintf(w->err, sizeof w->err, "docid space exhausted");
                    rc = MDB_MAP_FULL;
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
                mdb_fail(c, rc, "write ids");
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
        rc = MDB_MAP_FULL;
        goto out;
    }
    c->dl_lo = (uint32_t)first_new;
    c->dl_n = (uint32_t)(next_docid - first_new);
    if (!(c->dl = souk_malloc(((size_t)c->dl_n + 1) * sizeof *c->dl))) {
        rc = ENOMEM;
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
            mdb_fail(c, rc, "write document");
    }
    if (!rc && (rc = write_doclens(c, dls, ndl)) != 0)
        mdb_fail(c, rc, "write lengths");
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
        if (rc == EINVAL) {
            /* Not all new after all: abort this attempt; the retry merges serially. */
            snprintf(w->err, sizeof w->err, "batch holds deletes for a new index");
            goto out;
        }
        if (rc) {
            mdb_fail(c, rc, "writing postings");
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
            if (!w->err[0] || rc != MDB_MAP_FULL)
                snprintf(w->err, sizeof w->err, "merging postings of term '%.*s': %s",
                         (int)(tg->len > 64 ? 64 : tg->len), tg->term, mdb_strerror(rc));
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
        mdb_fail(c, rc, "write meta");
        goto out;
    }
    if (pos && pos->fingerprint) {
        MDB_val k = {9, "stream_fp"}, d = {strlen(pos->fingerprint), (void *)pos->fingerprint};
        if ((rc = mdb_put(c->txn, ix->meta, &k, &d, 0)) != 0)
            goto out;
    }
    rc = mdb_txn_commit(c->txn);
    c->txn = NULL;
    if (rc)
        mdb_fail(c, rc, "committing the transaction");
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
        if (rc == MDB_KEYEXIST && !w->no_append) {
            /* An append out of order that no fallback caught (postings, dictionary): such a
             * batch would fail on every rerun, so it is retried with ordinary puts. */
            w->no_append = 1;
            continue;
        }
        if (rc != MDB_MAP_FULL)
            return rc == ENOMEM ? SOUK_ENOMEM : souk__mdb_err(rc);
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
