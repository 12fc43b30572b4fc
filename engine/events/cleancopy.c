/* cleancopy.c: the copy behind a compaction that must leave no byte of erased data (P13): the
 * event store's use of core's logical copy (souk_kv_copy_logical, engine/core/kvcopy.c), which
 * rebuilds every page from the live rows, where LMDB's MDB_CP_COMPACT keeps the bytes of deleted
 * rows inside live pages (a user's pseudonym survived an erasure there, found by
 * tests/test_privacy_store.c's byte scan). */
#include "events/events_int.h"

int souk__ev_copy_clean(MDB_env *src, const char *dir, char *err, size_t errlen)
{
    return souk_kv_copy_logical(src, dir, 0600, NULL, NULL, err, errlen);
}

int souk__ev_copy_xform(MDB_env *src, const char *dir, souk__ev_xform_fn xf, void *arg, char *err,
                        size_t errlen)
{
    return souk_kv_copy_logical(src, dir, 0600, xf, arg, err, errlen);
}
