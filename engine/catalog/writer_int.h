/* writer_int.h: private to the index writer (engine/catalog/writer*.c), what its parts share:
 * the batch buffer (writer_batch.c: arena, position pool, ops and their id map), the term
 * slices and groups that hold a batch's postings changes (writer_slices.c), merging a term's
 * changes into its postings (writer_postings.c), the parallel encoder of a new index's
 * postings (writer_bulk.c), the store records and the thread that writes them ahead of the
 * commit (writer_store.c), and the commit itself (writer.c). Not part of the API. Everything
 * here runs on the thread that owns the writer unless its comment says otherwise. */
#ifndef SOUK_WRITER_INT_H
#define SOUK_WRITER_INT_H

#include "core/hashtab.h"
#include "catalog/index_int.h"
#include "core/varint.h"
#include "souk/souk.h"

#include <lmdb.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define PREFETCH(p) souk__prefetch(p)

typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t used, cap;
    uint8_t data[];
} arena_chunk;

typedef struct arena {
    arena_chunk *head;
    size_t total;
} arena;

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
    souk_itab idmap; /* id -> op index (+ 1) */
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
    int cause; /* the LMDB or errno code behind the attempt's error (souk__writer_err), or 0 */
    char err[512];
};

typedef struct store_ahead store_ahead;

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
/* The table of dead changes keeps its entries in its slots, not in an array beside it, so it is
 * not a souk_itab (core/hashtab.h): its counts are what the slices' read-back updates, one
 * load per change, and they are cleared in place between passes. */
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
    souk_itab gmap; /* term -> group index (+ 1) */
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

/* The new length of the document of change t, DOCLEN_UNKNOWN when it must be looked up. */
static inline uint32_t change_doclen(const commit_ctx *c, const tchange *t)
{
    uint32_t i = t->docid - c->dl_lo;
    return t->docid >= c->dl_lo && i < c->dl_n ? c->dl[i] : DOCLEN_UNKNOWN;
}

static inline tgroup *grp(const commit_ctx *c, size_t i)
{
    return &c->gchunk[i >> GROUP_BITS][i & (GROUP_CHUNK - 1)];
}

/* A group in the term-order sort: the first 8 bytes of the term decide most comparisons. */
typedef struct grank {
    uint64_t prefix;
    uint32_t idx;
} grank;

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

/* Phase 4's set-up: the touched terms sorted into term order. It runs in a thread of its own;
 * none of it touches LMDB, so the writer thread writes the document records meanwhile. */
typedef struct group_job {
    commit_ctx *c;
    grank *rank;
    pthread_t th;
    int started;
} group_job;

/* Terms per chunk of the bulk encoder (writer_bulk.c); a batch of fewer terms merges serially. */
#define BULK_CHUNK 2048

/* ------------------------------------------------------------------ writer.c */

/* Every function of the writer returns 0 or a SOUK_E* code. An LMDB or errno code is converted
 * by this, at the call that returned it: it returns the SOUK_E* code for rc (souk_kv_err;
 * MDB_MAP_FULL is SOUK_EFULL, which makes the commit grow the map and retry) and, when w is not
 * NULL, keeps rc in w->cause, so that the message names LMDB's own error and the commit can
 * tell a refused append (MDB_KEYEXIST) from other failures. w is NULL on the store thread,
 * which reports no error of its own. An rc of 0 gives 0. */
int souk__writer_err(souk_writer *w, int rc);

/* ------------------------------------------------------------------ writer_batch.c */

/* n bytes from arena a, 8-byte aligned, valid until souk__arena_free; NULL when out of memory. */
void *souk__arena_alloc(arena *a, size_t n);
/* A copy of p[0, n) in a (a valid pointer when n is 0); NULL when out of memory. */
void *souk__arena_dup(arena *a, const void *p, size_t n);
/* Frees every chunk of a. */
void souk__arena_free(arena *a);
/* Copies src[0, n) into the pool; *at gets the index of the first. */
int souk__pos_pool_add(pos_pool *p, const uint32_t *src, size_t n, uint32_t *at);
/* Empties the pool, keeping its unit table; souk__pos_pool_free frees everything. */
void souk__pos_pool_clear(pos_pool *p);
void souk__pos_pool_free(pos_pool *p);
/* The batch's op for id (*created: it is new and zeroed but for its id); NULL when out of
 * memory. The pointer is valid until the next op is added. */
op *souk__op_for(souk_writer *w, const char *id, size_t len, int *created);
/* Removes the op souk__op_for created last (its upsert or delete was refused). */
void souk__op_drop_last(souk_writer *w);
/* Decides, for an op just created, whether its id is new to the batch's snapshot. */
int souk__classify_new_op(souk_writer *w, op *o);

/* ------------------------------------------------------------------ writer_slices.c */

/* Appends a change of term's postings for docid to the term's slice (pos: POS_DEL for a
 * delete, else the index of its first position in the pool). */
int souk__add_change(commit_ctx *c, const char *term, uint32_t len, uint64_t hash, uint32_t docid,
                     uint32_t wdf, uint32_t npos, uint32_t pos);
/* Groups a new op's postings (terms borrowed) by term, assigning its docid first. */
int souk__pregroup(souk_writer *w, op *o, const souk_dterm *terms);
/* Marks the changes of o's current version, grouped on arrival, dead. */
int souk__mark_dead(souk_writer *w, op *o);
/* Starts a pass over the slices: no dead change seen yet. */
void souk__dead_rewind(commit_ctx *c);
/* Reads group g's live changes back in arrival order into *buf (grown, *cap entries); *n gets
 * their number. Threads may read distinct groups at once. */
int souk__group_read(commit_ctx *c, const tgroup *g, tchange **buf, size_t *cap, uint32_t *n);
/* Sorts ch[0, n) by docid (nearly sorted input is cheap); *scratch is reused. */
int souk__sort_changes(tchange *ch, uint32_t n, tchange **scratch, size_t *cap);
/* The next term of a front-coded term list: 1 a term, 0 the end, -1 malformed. */
int souk__termlist_next(const uint8_t **p, const uint8_t *end, char *term, size_t cap,
                        uint32_t *len);
/* Allocates *rank and starts sorting the groups into it on a thread of its own. */
int souk__start_grouping(commit_ctx *c, group_job *gj, grank **rank);
/* Waits for the sort started by souk__start_grouping. */
void souk__group_changes_finish(group_job *j);
/* Rebuilds the term array of each op grouped on arrival from the slices (for a regroup). */
int souk__ungroup_terms(souk_writer *w);
/* Forgets every grouped change, keeping the buffers; souk__slab_free frees a slab. */
void souk__grouping_clear(commit_ctx *c);
size_t souk__grouping_bytes(const commit_ctx *c);
void souk__slab_free(slab *s);

/* ------------------------------------------------------------------ writer_postings.c */

/* Makes room in p for n postings and npos positions. */
int souk__plist_reserve(plist *p, uint32_t n, size_t npos);
void souk__plist_free(plist *p);
/* Describes postings o[from, to) as a block to encode; *npos_out gets their positions. */
void souk__block_input(const plist *o, const uint32_t *lens, uint32_t from, uint32_t to,
                       size_t pos_from, souk_block_in *in, size_t *npos_out);
/* The stored length of docid, read in c's transaction. */
int souk__doclen_get(commit_ctx *c, uint32_t docid, uint32_t *len);
/* Grows c->buf to n bytes. */
int souk__buf_reserve(commit_ctx *c, size_t n);
/* Applies the changes ch[0, n) (sorted by docid) of one term to its dictionary entry and
 * postings. */
int souk__merge_term(commit_ctx *c, const char *term, uint32_t tlen, const tchange *ch, size_t n);

/* ------------------------------------------------------------------ writer_bulk.c */

/* Into an empty index: encodes every group in parallel and appends them in term order. */
int souk__bulk_merge(commit_ctx *c, const grank *rank);

/* ------------------------------------------------------------------ writer_store.c */

/* The next three take the writer whose error an LMDB failure is (souk__writer_err), or NULL
 * on the store thread. */
/* mdb_put with MDB_APPEND when af holds it, an ordinary put when the append is refused. */
int souk__put_or_append(souk_writer *w, MDB_txn *txn, MDB_dbi dbi, MDB_val *k, MDB_val *d,
                        unsigned flags, unsigned af);
/* Writes a document's store record and term list in txn. */
int souk__put_store(souk_writer *w, MDB_txn *txn, const souk_index *ix, const store_rec *r,
                    unsigned af);
/* Deletes the store records at docids from next_docid on (orphans of an uncommitted batch). */
int souk__delete_orphans(souk_writer *w, souk_index *ix, MDB_txn *txn, uint64_t next_docid);
/* Called for each upsert of a new id, once its records are in the batch: may queue them for
 * the store thread (starting it). */
void souk__store_upsert(souk_writer *w, op *o);
/* Stops the store thread, committing (abort 0) or aborting what it holds. */
void souk__store_finish(souk_writer *w, int abort);

#endif
