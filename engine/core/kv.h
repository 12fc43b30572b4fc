/* kv.h: the LMDB layer every store sits on (the catalog index in engine/catalog/, and next the
 * behaviour-event store): an environment in a directory, transactions that adopt a map another
 * process grew, growth of a full map, and LMDB's and errno's codes turned into SOUK_E* codes.
 * Only this layer and the stores call mdb_* (scripts/check-layers.sh). */
#ifndef SOUK_CORE_KV_H
#define SOUK_CORE_KV_H

#include <lmdb.h>
#include <stddef.h>

typedef struct souk_kv_opts {
    size_t mapsize;      /* address space to reserve; the file grows as used */
    unsigned maxdbs;     /* named databases */
    unsigned maxreaders; /* reader slots (one per open read transaction) */
    unsigned mode;       /* file mode of a new environment's files, e.g. 0640 */
    int rdonly;          /* open for reading only: the directory must hold an environment */
} souk_kv_opts;

/* Opens the environment in dir (creating dir, one level, unless rdonly), without thread-local
 * reader slots (MDB_NOTLS: a read transaction may move between threads) and without read-ahead.
 * Slots of crashed readers are cleared, and the map grows to cover a file written through a
 * larger map. A reader of a directory with no data file, or one too short to hold LMDB's two
 * meta pages (a writer killed while creating it), gets SOUK_ENOTFOUND. Returns SOUK_OK and *env,
 * or a SOUK_E* code with err naming dir and the cause. */
int souk_kv_open(const char *dir, const souk_kv_opts *o, MDB_env **env, char *err, size_t errlen);

/* Begins a transaction (flags: 0 or MDB_RDONLY), adopting a map size another process grew.
 * Returns SOUK_OK or the SOUK_E* code of LMDB's failure (souk_kv_err); LMDB's own code in
 * *cause when cause is not NULL (0 on success), for a message that names it. */
int souk_kv_txn_begin(MDB_env *env, unsigned flags, MDB_txn **txn, int *cause);

/* After MDB_MAP_FULL: doubles the map, up to max bytes. SOUK_OK, or SOUK_EFULL past max or when
 * LMDB refuses. No transaction of this process may be open. */
int souk_kv_grow(MDB_env *env, size_t max);

/* The SOUK_E* code of an LMDB (MDB_*) or errno code; 0 stays 0. */
int souk_kv_err(int rc);

/* A row transform of souk_kv_copy_logical: for the row (k, v) of the database named name, sets
 * (*nk, *nv), which may point into kbuf (SOUK_KV_XFORM_KEY bytes) and vbuf (SOUK_KV_XFORM_VAL
 * bytes) or stay k and v. SOUK_OK, SOUK_KV_SKIP (the row is not copied), or an error that stops
 * the copy. Called once more after every
 * row with name NULL and kbuf the copy's write transaction (an MDB_txn *), to add rows. */
#define SOUK_KV_SKIP 1 /* an xform's answer: leave the row out of the copy */
#define SOUK_KV_XFORM_KEY 512
#define SOUK_KV_XFORM_VAL 4096
typedef int (*souk_kv_xform_fn)(void *arg, const char *name, const MDB_val *k, const MDB_val *v,
                                MDB_val *nk, MDB_val *nv, unsigned char *kbuf, unsigned char *vbuf);
/* Copies every named database of src, row by row in one read transaction (a consistent
 * snapshot; it may run while another process writes), into a new environment in dir (created,
 * or existing and empty) whose files get mode, each row through xf when it is not NULL, and
 * syncs it. No page of the copy keeps a byte of a row deleted from src (kvcopy.c: unlike
 * MDB_CP_COMPACT). SOUK_OK, or a SOUK_E* code with err. */
int souk_kv_copy_logical(MDB_env *src, const char *dir, unsigned mode, souk_kv_xform_fn xf,
                         void *arg, char *err, size_t errlen);

#endif
