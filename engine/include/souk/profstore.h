/* profstore.h: the versioned store of ranking profile documents beside an index (issue 21).
 *
 * A profile is a name and a list of versions 1, 2, 3, ...: each version is a JSON document (as
 * given, validated by the caller through souk/profile.h) and the time it was stored. Every put
 * appends version n+1, which becomes current; old versions are kept and stay readable (a
 * rollback is the put of an old version's document). The store is its own small LMDB
 * environment in a directory (DIR/profiles/ beside the index, docs/index-format.md): one
 * transaction per put, committed with LMDB's durable sync, so a process killed at any moment
 * leaves either the old or the new version current, never a torn one.
 *
 * Threads: a store may be used from any thread; writes are serialized by LMDB's writer lock. */
#ifndef SOUK_PROFSTORE_H
#define SOUK_PROFSTORE_H

#include <stddef.h>
#include <stdint.h>

typedef struct souk_profstore souk_profstore;

/* Opens (creating when absent) the store in dir. SOUK_OK and *out (souk_profstore_close), or a
 * SOUK_E* code with err naming dir and the cause. */
int souk_profstore_open(const char *dir, souk_profstore **out, char *err, size_t errlen);
void souk_profstore_close(souk_profstore *ps);

/* Stores doc[0, len) as the next version of name and makes it current, stamped now_ms. With
 * if_absent, stores it as version 1 only when name has no version yet (*version 0 when it
 * had). SOUK_OK and *version, or SOUK_EINVAL (an empty name, over 255 bytes), SOUK_EFULL,
 * SOUK_EIO with err. */
int souk_profstore_put(souk_profstore *ps, const char *name, const char *doc, size_t len,
                       int64_t now_ms, int if_absent, uint32_t *version, char *err, size_t errlen);

/* Version `version` of name (0: the current one): *doc (NUL-terminated copy, souk_free'd by the
 * caller) and its length, the version number and the time it was stored. SOUK_ENOTFOUND when
 * name or that version does not exist. */
int souk_profstore_get(souk_profstore *ps, const char *name, uint32_t version, char **doc,
                       size_t *len, uint32_t *got_version, int64_t *updated_ms, char *err,
                       size_t errlen);

/* The store's last committed transaction id: it changes with every put, by this process or
 * another one that has the store open. Lock-free (reads LMDB's meta pages); any thread. */
uint64_t souk_profstore_stamp(souk_profstore *ps);

/* Called for each profile (name order) or each version of one (ascending); a nonzero return
 * stops the walk and is returned. name is borrowed for the call. */
typedef int (*souk_profstore_fn)(void *ctx, const char *name, uint32_t version, int64_t updated_ms);

/* Each profile with its current version and that version's time. */
int souk_profstore_list(souk_profstore *ps, souk_profstore_fn fn, void *ctx, char *err,
                        size_t errlen);
/* Each version of name, oldest first; SOUK_ENOTFOUND when it has none. */
int souk_profstore_versions(souk_profstore *ps, const char *name, souk_profstore_fn fn, void *ctx,
                            char *err, size_t errlen);

/* Copies the store into dest (created), consistent from one read transaction while puts go on
 * (`souk-index backup`, P23): row by row, as the index's backup is. SOUK_OK, or a SOUK_E* code
 * with err. */
int souk_profstore_backup(souk_profstore *ps, const char *dest, char *err, size_t errlen);

#endif
