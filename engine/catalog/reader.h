/* reader.h: what the layers above the catalog (engine/query/, engine/rank/) may use of an
 * index beyond the public souk/index.h: dictionary entries with their inline postings, document
 * length chunks borrowed from the snapshot, and per-generation cache slots that those layers
 * fill with their own structures. The index's own structures stay in catalog/index_int.h. */
#ifndef SOUK_CATALOG_READER_H
#define SOUK_CATALOG_READER_H

#include "souk/index.h"

#include <stdatomic.h>

#define SOUK_DOCLEN_CHUNK 512 /* document lengths per doclen record */

/* Decoded dictionary entry, with a pointer to inline postings (borrowed from LMDB). */
typedef struct souk__dict {
    souk_term_info info;
    const uint8_t *inline_block;
    size_t inline_len;
} souk__dict;

/* The dictionary entry of term in r's snapshot (its inline postings borrowed from LMDB, valid
 * for the snapshot). Returns 0, SOUK_ENOTFOUND or an error. */
int souk__reader_dict(souk_reader *r, const char *term, size_t len, souk__dict *d);

/* souk_postings_open from an entry read earlier: d's inline postings must stay valid while p is
 * used. */
int souk__postings_open_dict(souk_reader *r, const char *term, size_t len, const souk__dict *d,
                             souk_postings *p);

/* The SOUK_DOCLEN_CHUNK document lengths of chunk (docids chunk * SOUK_DOCLEN_CHUNK on), borrowed
 * from r's snapshot (valid until the snapshot is released or refreshed). Returns 0,
 * SOUK_ENOTFOUND (no document in the chunk) or an error. */
int souk__reader_doclen_chunk(souk_reader *r, uint32_t chunk, const uint32_t **lens);

/* The index r reads, and the index's data directory (where the spelling table lives). */
souk_index *souk__reader_index(const souk_reader *r);
const char *souk__index_dir(const souk_index *ix);

/* Per-generation caches: a structure built once per index generation and shared by every
 * searcher of the index (the attribute columns, the typo dictionary), in a slot of the index.
 * Each kind of structure takes a slot once per process (souk__gen_slot, under pthread_once);
 * the index keeps the newest built with a reference, and the generation being built now, so
 * concurrent requests after a commit wait for one build instead of each building their own. */
typedef struct souk__gen_ops {
    int (*build)(souk_reader *r, uint64_t generation, void *arg, void **out);
    void (*acquire)(void *obj);
    void (*release)(void *obj); /* also called when the index closes */
} souk__gen_ops;

#define SOUK_GEN_SLOTS 8

/* The slot number (0..SOUK_GEN_SLOTS-1) of one kind of structure, kept in *cell (a static
 * atomic_int starting at 0, one per kind): taken on the first call, the same after. Aborts past
 * the last slot, a programming error. Thread-safe. */
int souk__gen_slot(atomic_int *cell);

/* The slot's structure for generation (r's snapshot at that generation), with a reference for
 * the caller: the cached one, the one another thread is building (waited for), or built now. */
int souk__gen_get(souk_reader *r, int slot, uint64_t generation, const souk__gen_ops *ops,
                  void *arg, void **out);

/* Whether the slot holds a structure (of any generation), and how many it built. */
int souk__gen_cached(souk_index *ix, int slot);
uint64_t souk__gen_builds(souk_index *ix, int slot);

#endif
