/* index_int.h: private structures of the LMDB index shared by index.c (open, read) and
 * writer.c (batched writes). Not part of the public API. */
#ifndef SOUK_INDEX_INT_H
#define SOUK_INDEX_INT_H

#include "catalog/reader.h"
#include "souk/index.h"

#include <lmdb.h>
#include <pthread.h>

#define SOUK_FORMAT_VERSION 3
#define SOUK_INLINE_MAX 512 /* largest postings block kept inside its dictionary entry */

/* One per-generation cache slot (catalog/reader.h). Guarded by souk_index.gen_lock. */
typedef struct souk__gen_cache {
    void *obj;
    uint64_t generation;      /* of obj */
    uint64_t building;        /* generation a thread is building (0: none) */
    uint64_t builds;          /* builds completed */
    const souk__gen_ops *ops; /* of obj: releases it when the index closes */
} souk__gen_cache;

struct souk_index {
    MDB_env *env;
    MDB_dbi meta, terms, post, doclen, docs, ids, termlist, attr;
    souk_schema *schema;
    char *dir; /* the data directory (the spelling table lives in it) */
    unsigned flags;
    /* Structures built once per generation and shared by every searcher of this index: the
     * attribute columns (engine/catalog/columns.c), the typo dictionary (engine/query/typo.c). */
    souk__gen_cache gen[SOUK_GEN_SLOTS];
    pthread_mutex_t gen_lock;
    pthread_cond_t gen_cv; /* a build finished */
};

struct souk_reader {
    souk_index *ix;
    MDB_txn *txn;
    int active;
    uint8_t *buf; /* unpacked stored document or term list; valid until the next call */
    size_t cap;
    char err[256];
};

/* Calls fn with the docid of every stored document (in external-id order), from the small ids
 * database rather than the document store. */
int souk__reader_docids(souk_reader *r, void (*fn)(void *ctx, uint32_t docid), void *ctx);

/* Parses a dictionary value. Returns 0 or SOUK_ECORRUPT. */
int souk__dict_decode(const uint8_t *p, size_t len, souk__dict *d);

/* Encodes a dictionary value into out (at least 40 + inline_len bytes); returns its length. */
size_t souk__dict_encode(const souk_term_info *info, const uint8_t *inline_block, size_t inline_len,
                         uint8_t *out);

/* Begins a transaction on ix (flags: 0 or MDB_RDONLY), adopting a map size grown by another
 * process. Returns SOUK_OK and *txn, or the SOUK_E* code of LMDB's error; when cause is not NULL,
 * it then gets LMDB's own code, for a message that names it (mdb_strerror). */
int souk__txn_begin(souk_index *ix, unsigned flags, MDB_txn **txn, int *cause);

/* Meta helpers: u64 values under string keys of the meta database, in txn. A missing key reads
 * as 0. Each returns SOUK_OK, SOUK_ECORRUPT for a value that is not 8 bytes, or the SOUK_E* code
 * of LMDB's error (MDB_MAP_FULL is SOUK_EFULL); on an LMDB error, a cause that is not NULL gets
 * LMDB's own code, as souk__txn_begin's does. */
int souk__meta_get_u64(MDB_txn *txn, souk_index *ix, const char *key, uint64_t *v, int *cause);
int souk__meta_put_u64(MDB_txn *txn, souk_index *ix, const char *key, uint64_t v, int *cause);

/* Builds the postings key term \0 BE32(docid) into out (len + 5 bytes); returns its length. */
size_t souk__post_key(const char *term, size_t len, uint32_t docid, uint8_t *out);

#endif
