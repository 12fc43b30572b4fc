/* kvcopy.c: the logical copy of an LMDB environment (souk_kv_copy_logical, core/kv.h): what a
 * compaction or a backup that must leave no byte of deleted data copies with.
 *
 * LMDB's own compacting copy (mdb_env_copy2 with MDB_CP_COMPACT) drops free pages but copies
 * each live page as it is, and a live page keeps, between its node pointers and its nodes, the
 * bytes of rows deleted from it earlier: an erased user's pseudonym survived there (found by
 * tests/test_privacy_store.c's byte scan). This copy is logical instead: every named database
 * is read row by row, in one read transaction (so the copy is one consistent snapshot), and
 * appended in key order to a new environment. Every page of the new file is built from the live
 * rows alone, so its unused bytes are zeros or copies of live rows.
 *
 * Costs: one pass over the live rows and one write transaction in the new environment. */
#include "core/kv.h"

#include "souk/souk.h"

#include <stdio.h>
#include <string.h>

/* Copies the database named name (len bytes) of rt into wt, each row through xf when it is not
 * NULL (its keys may then come in another order, so rows are put rather than appended). */
static int copy_db(MDB_txn *rt, MDB_txn *wt, const char *name, size_t len, souk_kv_xform_fn xf,
                   void *arg)
{
    char nm[512];
    if (len >= sizeof nm || memchr(name, 0, len))
        return SOUK_ECORRUPT;
    memcpy(nm, name, len);
    nm[len] = 0;
    MDB_dbi from, to;
    unsigned flags;
    int rc = mdb_dbi_open(rt, nm, 0, &from);
    if (rc == 0)
        rc = mdb_dbi_flags(rt, from, &flags);
    if (rc == 0)
        rc = mdb_dbi_open(wt, nm, (flags & ~MDB_CREATE) | MDB_CREATE, &to);
    if (rc)
        return souk_kv_err(rc);
    MDB_cursor *c;
    if ((rc = mdb_cursor_open(rt, from, &c)) != 0)
        return souk_kv_err(rc);
    MDB_val k, v;
    unsigned put = xf ? 0 : (flags & MDB_DUPSORT) ? MDB_APPENDDUP : MDB_APPEND;
    int r = mdb_cursor_get(c, &k, &v, MDB_FIRST), xrc = SOUK_OK;
    static _Thread_local unsigned char kb[SOUK_KV_XFORM_KEY], vb[SOUK_KV_XFORM_VAL];
    while (r == 0) {
        MDB_val nk = k, nv = v;
        if (xf && (xrc = xf(arg, nm, &k, &v, &nk, &nv, kb, vb)) != SOUK_OK) {
            if (xrc != SOUK_KV_SKIP)
                break;
            xrc = SOUK_OK; /* the row is left out */
            r = mdb_cursor_get(c, &k, &v, MDB_NEXT);
            continue;
        }
        if ((rc = mdb_put(wt, to, &nk, &nv, put)) != 0)
            break;
        r = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    mdb_cursor_close(c);
    if (xrc)
        return xrc;
    if (rc)
        return souk_kv_err(rc);
    return r == MDB_NOTFOUND ? SOUK_OK : souk_kv_err(r);
}

int souk_kv_copy_logical(MDB_env *src, const char *dir, unsigned mode, souk_kv_xform_fn xf,
                         void *arg, char *err, size_t errlen)
{
    MDB_envinfo info;
    int mrc = mdb_env_info(src, &info);
    if (mrc) {
        snprintf(err, errlen, "copying to '%s': %s", dir, mdb_strerror(mrc));
        return souk_kv_err(mrc);
    }
    souk_kv_opts ko = {info.me_mapsize, 32, 126, mode, 0};
    MDB_env *dst;
    int rc = souk_kv_open(dir, &ko, &dst, err, errlen);
    if (rc)
        return rc;
    MDB_txn *rt = NULL, *wt = NULL;
    MDB_cursor *names = NULL;
    MDB_dbi main_db;
    if ((mrc = mdb_txn_begin(src, NULL, MDB_RDONLY, &rt)) != 0 ||
        (mrc = mdb_txn_begin(dst, NULL, 0, &wt)) != 0 ||
        (mrc = mdb_dbi_open(rt, NULL, 0, &main_db)) != 0 || /* the main database: the names */
        (mrc = mdb_cursor_open(rt, main_db, &names)) != 0)
        goto lmdb_fail;
    MDB_val k, v;
    int r = mdb_cursor_get(names, &k, &v, MDB_FIRST);
    while (r == 0) {
        if ((rc = copy_db(rt, wt, k.mv_data, k.mv_size, xf, arg)) != 0) {
            snprintf(err, errlen, "copying database '%.*s' to '%s': %s", (int)k.mv_size,
                     (const char *)k.mv_data, dir, souk_strerror(rc));
            goto out;
        }
        r = mdb_cursor_get(names, &k, &v, MDB_NEXT);
    }
    if (r != MDB_NOTFOUND) {
        mrc = r;
        goto lmdb_fail;
    }
    mdb_cursor_close(names);
    names = NULL;
    if (xf && (rc = xf(arg, NULL, NULL, NULL, NULL, NULL, (unsigned char *)wt, NULL)) != SOUK_OK) {
        snprintf(err, errlen, "copying to '%s': %s", dir, souk_strerror(rc));
        goto out;
    }
    mrc = mdb_txn_commit(wt);
    wt = NULL;
    if (mrc)
        goto lmdb_fail;
    if ((mrc = mdb_env_sync(dst, 1)) != 0)
        goto lmdb_fail;
    rc = SOUK_OK;
    goto out;
lmdb_fail:
    snprintf(err, errlen, "copying to '%s': %s", dir, mdb_strerror(mrc));
    rc = souk_kv_err(mrc);
out:
    if (names)
        mdb_cursor_close(names);
    if (wt)
        mdb_txn_abort(wt);
    if (rt)
        mdb_txn_abort(rt);
    mdb_env_close(dst);
    return rc;
}
