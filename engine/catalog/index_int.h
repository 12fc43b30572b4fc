/* index_int.h: private structures of the LMDB index shared by index.c (open, read) and
 * writer.c (batched writes). Not part of the public API. */
#ifndef SOUK_INDEX_INT_H
#define SOUK_INDEX_INT_H

#include "souk/index.h"

#include <lmdb.h>
#include <pthread.h>

#define SOUK_FORMAT_VERSION 3
#define SOUK_DOCLEN_CHUNK 512 /* document lengths per doclen record */
#define SOUK_INLINE_MAX 512   /* largest postings block kept inside its dictionary entry */

struct souk__columns;
struct souk__typo_dict;

/* A structure built once per index generation and shared by every searcher (the attribute
 * columns, the typo dictionary): the newest built, with a reference held by the cache, and the
 * generation being built now, so concurrent requests after a commit wait for one build instead
 * of each building their own. Guarded by souk_index.cols_lock. */
typedef struct souk__gen_cache {
    void *obj;
    uint64_t generation; /* of obj */
    uint64_t building;   /* generation a thread is building (0: none) */
    uint64_t builds;     /* builds completed */
} souk__gen_cache;

/* How a cached structure is built and referenced. */
typedef struct souk__gen_ops {
    int (*build)(souk_reader *r, uint64_t generation, void *arg, void **out);
    void (*acquire)(void *obj);
    void (*release)(void *obj);
} souk__gen_ops;

struct souk_index {
    MDB_env *env;
    MDB_dbi meta, terms, post, doclen, docs, ids, termlist, attr;
    souk_schema *schema;
    char *dir; /* the data directory (the spelling table lives in it) */
    unsigned flags;
    /* Attribute columns of the latest snapshot seen (engine/catalog/columns.c), shared by every
     * searcher of this index; cols_lock guards the pointer. */
    souk__gen_cache cols;
    souk__gen_cache typo; /* engine/query/typo.c, same lock */
    pthread_mutex_t cols_lock;
    pthread_cond_t cols_cv; /* a build finished */
};

/* The cache's structure for generation (r's snapshot at that generation), with a reference for
 * the caller: the cached one, the one another thread is building (waited for), or built now. */
int souk__gen_get(souk_reader *r, souk__gen_cache *gc, uint64_t generation,
                  const souk__gen_ops *ops, void *arg, void **out);

/* Frees the column cache (engine/catalog/columns.c); called by souk_index_close. */
void souk__columns_release(struct souk__columns *c);
void souk__typo_release(struct souk__typo_dict *t);

struct souk_reader {
    souk_index *ix;
    MDB_txn *txn;
    int active;
    uint8_t *buf; /* unpacked stored document or term list; valid until the next call */
    size_t cap;
    char err[256];
};

/* Decoded dictionary entry, with a pointer to inline postings (borrowed from LMDB). */
typedef struct souk__dict {
    souk_term_info info;
    const uint8_t *inline_block;
    size_t inline_len;
} souk__dict;

/* The dictionary entry of term in r's snapshot (its inline postings borrowed from LMDB, valid
 * for the snapshot). Returns 0, SOUK_ENOTFOUND or an error. */
struct souk__dict;
int souk__reader_dict(souk_reader *r, const char *term, size_t len, struct souk__dict *d);

/* souk_postings_open from an entry read earlier: d's inline postings must stay valid while p is
 * used. */
int souk__postings_open_dict(souk_reader *r, const char *term, size_t len,
                             const struct souk__dict *d, souk_postings *p);

/* Calls fn with the docid of every stored document (in external-id order), from the small ids
 * database rather than the document store. */
int souk__reader_docids(souk_reader *r, void (*fn)(void *ctx, uint32_t docid), void *ctx);

/* Parses a dictionary value. Returns 0 or SOUK_ECORRUPT. */
int souk__dict_decode(const uint8_t *p, size_t len, souk__dict *d);

/* Encodes a dictionary value into out (at least 40 + inline_len bytes); returns its length. */
size_t souk__dict_encode(const souk_term_info *info, const uint8_t *inline_block, size_t inline_len,
                         uint8_t *out);

/* Begins a read transaction, adopting a map size grown by another process. */
int souk__txn_begin(souk_index *ix, unsigned flags, MDB_txn **txn);

/* Meta helpers: u64 values under string keys. Missing keys read as 0. */
int souk__meta_get_u64(MDB_txn *txn, souk_index *ix, const char *key, uint64_t *v);
int souk__meta_put_u64(MDB_txn *txn, souk_index *ix, const char *key, uint64_t v);

/* Builds the postings key term \0 BE32(docid) into out (len + 5 bytes); returns its length. */
size_t souk__post_key(const char *term, size_t len, uint32_t docid, uint8_t *out);

/* Maps an LMDB error to a SOUK_E* code. */
int souk__mdb_err(int rc);

#endif
