/* profstore.c: the versioned profile store (souk/profstore.h), its own LMDB environment.
 *
 * It lives in the catalog layer because the catalog is the store of what sits beside the index
 * (the layering lets only the stores call LMDB), and in an environment of its own rather than a
 * database of the index's: the indexer is the index's one writer, and the server writes
 * profiles while the indexer runs; two environments never wait on each other's writer lock.
 *
 * Databases:
 *   heads     name -> BE32 current version, BE64 time stored (ms)
 *   versions  name \0 BE32 version -> BE64 time stored (ms), the document's bytes */
#include "souk/profstore.h"
#include "core/kv.h"
#include "souk/souk.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define MAP_START ((size_t)64 << 20)
#define MAP_MAX ((size_t)4 << 30)
#define NAME_MAX_BYTES 255

struct souk_profstore {
    MDB_env *env;
    MDB_dbi heads, versions;
};

static void be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void be64(uint8_t *p, int64_t s)
{
    uint64_t v = (uint64_t)s;
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static int64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return (int64_t)v;
}

static int lmdb_fail(int mrc, const char *what, char *err, size_t errlen)
{
    snprintf(err, errlen, "profile store: %s: %s", what, mdb_strerror(mrc));
    return souk_kv_err(mrc);
}

int souk_profstore_open(const char *dir, souk_profstore **out, char *err, size_t errlen)
{
    souk_profstore *ps = souk_calloc(1, sizeof *ps);
    if (!ps)
        return SOUK_ENOMEM;
    souk_kv_opts ko = {MAP_START, 4, 126, 0640, 0};
    int rc = souk_kv_open(dir, &ko, &ps->env, err, errlen);
    if (rc) {
        souk_free(ps);
        return rc;
    }
    MDB_txn *txn;
    int mrc = 0;
    if (souk_kv_txn_begin(ps->env, 0, &txn, &mrc) == SOUK_OK) {
        if ((mrc = mdb_dbi_open(txn, "heads", MDB_CREATE, &ps->heads)) == 0 &&
            (mrc = mdb_dbi_open(txn, "versions", MDB_CREATE, &ps->versions)) == 0)
            mrc = mdb_txn_commit(txn);
        else
            mdb_txn_abort(txn);
    }
    if (mrc) {
        rc = lmdb_fail(mrc, dir, err, errlen);
        mdb_env_close(ps->env);
        souk_free(ps);
        return rc;
    }
    *out = ps;
    return 0;
}

void souk_profstore_close(souk_profstore *ps)
{
    if (!ps)
        return;
    mdb_env_close(ps->env);
    souk_free(ps);
}

uint64_t souk_profstore_stamp(souk_profstore *ps)
{
    MDB_envinfo info;
    if (mdb_env_info(ps->env, &info) != 0)
        return 0;
    return (uint64_t)info.me_last_txnid;
}

static int check_name(const char *name, char *err, size_t errlen)
{
    size_t n = strlen(name);
    if (n == 0 || n > NAME_MAX_BYTES) {
        snprintf(err, errlen, "profile store: a name has 1 to %d bytes", NAME_MAX_BYTES);
        return SOUK_EINVAL;
    }
    return 0;
}

/* One attempt at a put: SOUK_OK, or a SOUK_E* code with err (SOUK_EFULL: the map is full, grow
 * it and try again). */
static int put_once(souk_profstore *ps, const char *name, const char *doc, size_t len,
                    int64_t now_ms, int if_absent, uint32_t *version, char *err, size_t errlen)
{
    MDB_txn *txn;
    int mrc = 0;
    if (souk_kv_txn_begin(ps->env, 0, &txn, &mrc) != SOUK_OK)
        return lmdb_fail(mrc, "put", err, errlen);
    size_t nl = strlen(name);
    MDB_val hk = {nl, (void *)name}, hv;
    uint32_t cur = 0;
    mrc = mdb_get(txn, ps->heads, &hk, &hv);
    if (mrc == 0 && hv.mv_size == 12)
        cur = get32(hv.mv_data);
    else if (mrc != MDB_NOTFOUND && mrc != 0)
        goto fail;
    if (if_absent && cur) {
        mdb_txn_abort(txn);
        *version = 0;
        return 0;
    }
    if (cur == UINT32_MAX) {
        mdb_txn_abort(txn);
        snprintf(err, errlen, "profile store: '%s' has no version number left", name);
        return SOUK_ETOOBIG;
    }
    uint32_t next = cur + 1;
    uint8_t key[NAME_MAX_BYTES + 5];
    memcpy(key, name, nl);
    key[nl] = 0;
    be32(key + nl + 1, next);
    MDB_val vk = {nl + 5, key}, vv = {8 + len, NULL};
    if ((mrc = mdb_put(txn, ps->versions, &vk, &vv, MDB_RESERVE)) != 0)
        goto fail;
    be64(vv.mv_data, now_ms);
    memcpy((uint8_t *)vv.mv_data + 8, doc, len);
    uint8_t head[12];
    be32(head, next);
    be64(head + 4, now_ms);
    hv = (MDB_val){12, head};
    if ((mrc = mdb_put(txn, ps->heads, &hk, &hv, 0)) != 0)
        goto fail;
    if ((mrc = mdb_txn_commit(txn)) != 0)
        return lmdb_fail(mrc, "put", err, errlen);
    *version = next;
    return 0;
fail:
    mdb_txn_abort(txn);
    return lmdb_fail(mrc, "put", err, errlen);
}

int souk_profstore_put(souk_profstore *ps, const char *name, const char *doc, size_t len,
                       int64_t now_ms, int if_absent, uint32_t *version, char *err, size_t errlen)
{
    int rc = check_name(name, err, errlen);
    if (rc)
        return rc;
    for (;;) {
        rc = put_once(ps, name, doc, len, now_ms, if_absent, version, err, errlen);
        if (rc == SOUK_EFULL) {
            if (souk_kv_grow(ps->env, MAP_MAX) == SOUK_OK)
                continue;
            snprintf(err, errlen, "profile store: full (%zu bytes)", MAP_MAX);
        }
        return rc;
    }
}

int souk_profstore_get(souk_profstore *ps, const char *name, uint32_t version, char **doc,
                       size_t *len, uint32_t *got_version, int64_t *updated_ms, char *err,
                       size_t errlen)
{
    int rc = check_name(name, err, errlen);
    if (rc)
        return rc;
    MDB_txn *txn;
    int mrc = 0;
    if (souk_kv_txn_begin(ps->env, MDB_RDONLY, &txn, &mrc) != SOUK_OK)
        return lmdb_fail(mrc, "read", err, errlen);
    size_t nl = strlen(name);
    if (version == 0) {
        MDB_val hk = {nl, (void *)name}, hv;
        mrc = mdb_get(txn, ps->heads, &hk, &hv);
        if (mrc == 0 && hv.mv_size == 12)
            version = get32(hv.mv_data);
        else
            goto fail;
    }
    uint8_t key[NAME_MAX_BYTES + 5];
    memcpy(key, name, nl);
    key[nl] = 0;
    be32(key + nl + 1, version);
    MDB_val vk = {nl + 5, key}, vv;
    if ((mrc = mdb_get(txn, ps->versions, &vk, &vv)) != 0)
        goto fail;
    if (vv.mv_size < 8) {
        mdb_txn_abort(txn);
        snprintf(err, errlen, "profile store: version %u of \"%s\" is damaged", version, name);
        return SOUK_ECORRUPT;
    }
    size_t n = vv.mv_size - 8;
    char *d = souk_strndup((const char *)vv.mv_data + 8, n);
    if (!d) {
        mdb_txn_abort(txn);
        return SOUK_ENOMEM;
    }
    *updated_ms = get64(vv.mv_data);
    mdb_txn_abort(txn);
    *doc = d;
    *len = n;
    *got_version = version;
    return 0;
fail:
    mdb_txn_abort(txn);
    if (mrc == MDB_NOTFOUND || mrc == 0) {
        snprintf(err, errlen, "no profile \"%.64s\"%s", name, version ? " at that version" : "");
        return SOUK_ENOTFOUND;
    }
    return lmdb_fail(mrc, "read", err, errlen);
}

int souk_profstore_list(souk_profstore *ps, souk_profstore_fn fn, void *ctx, char *err,
                        size_t errlen)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    int mrc = 0;
    if (souk_kv_txn_begin(ps->env, MDB_RDONLY, &txn, &mrc) != SOUK_OK)
        return lmdb_fail(mrc, "read", err, errlen);
    if ((mrc = mdb_cursor_open(txn, ps->heads, &cur)) != 0) {
        mdb_txn_abort(txn);
        return lmdb_fail(mrc, "read", err, errlen);
    }
    MDB_val k, v;
    int rc = 0;
    char name[NAME_MAX_BYTES + 1];
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0 && !rc;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size > NAME_MAX_BYTES || v.mv_size != 12)
            continue;
        memcpy(name, k.mv_data, k.mv_size);
        name[k.mv_size] = 0;
        rc = fn(ctx, name, get32(v.mv_data), get64((const uint8_t *)v.mv_data + 4));
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    if (!rc && mrc != MDB_NOTFOUND)
        return lmdb_fail(mrc, "read", err, errlen);
    return rc;
}

int souk_profstore_versions(souk_profstore *ps, const char *name, souk_profstore_fn fn, void *ctx,
                            char *err, size_t errlen)
{
    int rc = check_name(name, err, errlen);
    if (rc)
        return rc;
    MDB_txn *txn;
    MDB_cursor *cur;
    int mrc = 0;
    if (souk_kv_txn_begin(ps->env, MDB_RDONLY, &txn, &mrc) != SOUK_OK)
        return lmdb_fail(mrc, "read", err, errlen);
    if ((mrc = mdb_cursor_open(txn, ps->versions, &cur)) != 0) {
        mdb_txn_abort(txn);
        return lmdb_fail(mrc, "read", err, errlen);
    }
    size_t nl = strlen(name);
    uint8_t key[NAME_MAX_BYTES + 5];
    memcpy(key, name, nl);
    key[nl] = 0;
    be32(key + nl + 1, 0);
    MDB_val k = {nl + 5, key}, v;
    size_t seen = 0;
    for (mrc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); mrc == 0 && !rc;
         mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        if (k.mv_size != nl + 5 || memcmp(k.mv_data, key, nl + 1) != 0)
            break;
        if (v.mv_size < 8)
            continue;
        seen++;
        rc = fn(ctx, name, get32((const uint8_t *)k.mv_data + nl + 1), get64(v.mv_data));
    }
    mdb_cursor_close(cur);
    mdb_txn_abort(txn);
    if (!rc && mrc != 0 && mrc != MDB_NOTFOUND)
        return lmdb_fail(mrc, "read", err, errlen);
    if (!rc && !seen) {
        snprintf(err, errlen, "no profile \"%.64s\"", name);
        return SOUK_ENOTFOUND;
    }
    return rc;
}

int souk_profstore_backup(souk_profstore *ps, const char *dest, char *err, size_t errlen)
{
    if (mkdir(dest, 0750) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create '%s': %s", dest, strerror(errno));
        return SOUK_EIO;
    }
    return souk_kv_copy_logical(ps->env, dest, 0640, NULL, NULL, err, errlen);
}
