/* kv.c: the LMDB environment layer (kv.h). */
#include "core/kv.h"
#include "souk/souk.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int souk_kv_err(int rc)
{
    switch (rc) {
    case 0:
        return SOUK_OK;
    case MDB_NOTFOUND:
        return SOUK_ENOTFOUND;
    case MDB_MAP_FULL:
        return SOUK_EFULL;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND:
    case MDB_INVALID:
        return SOUK_ECORRUPT;
    case MDB_VERSION_MISMATCH:
        return SOUK_EFORMAT;
    case ENOMEM:
        return SOUK_ENOMEM;
    default:
        return SOUK_EIO;
    }
}

/* Creates dir if missing (one level). */
static int ensure_dir(const char *dir, char *err, size_t errlen)
{
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            snprintf(err, errlen, "'%s' exists and is not a directory", dir);
            return SOUK_EIO;
        }
        return SOUK_OK;
    }
    if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create '%s': %s", dir, strerror(errno));
        return SOUK_EIO;
    }
    return SOUK_OK;
}

int souk_kv_open(const char *dir, const souk_kv_opts *o, MDB_env **out, char *err, size_t errlen)
{
    MDB_env *env = NULL;
    int rc, src;
    if (!o->rdonly && (src = ensure_dir(dir, err, errlen)) != 0)
        return src;
    if (o->rdonly) {
        char path[4096];
        struct stat sb;
        snprintf(path, sizeof path, "%s/data.mdb", dir);
        if (stat(path, &sb) != 0 ? errno == ENOENT : sb.st_size < 8192) {
            snprintf(err, errlen, "'%s' holds no LMDB environment", dir);
            return SOUK_ENOTFOUND;
        }
    }
    if ((rc = mdb_env_create(&env)) != 0)
        goto fail;
    mdb_env_set_maxdbs(env, o->maxdbs);
    mdb_env_set_maxreaders(env, o->maxreaders);
    mdb_env_set_mapsize(env, o->mapsize);
    unsigned ef = MDB_NOTLS | MDB_NORDAHEAD | (o->rdonly ? MDB_RDONLY : 0);
    if ((rc = mdb_env_open(env, dir, ef, (mdb_mode_t)o->mode)) != 0)
        goto fail;
    int dead = 0;
    mdb_reader_check(env, &dead);
    /* The map must cover the file written by an earlier, larger map. */
    if ((rc = mdb_env_set_mapsize(env, 0)) != 0)
        goto fail;
    *out = env;
    return SOUK_OK;
fail:
    snprintf(err, errlen, "opening '%s': %s", dir, mdb_strerror(rc));
    if (env)
        mdb_env_close(env);
    return souk_kv_err(rc);
}

int souk_kv_txn_begin(MDB_env *env, unsigned flags, MDB_txn **txn, int *cause)
{
    int rc = mdb_txn_begin(env, NULL, flags, txn);
    if (rc == MDB_MAP_RESIZED) {
        /* Another process grew the map: adopt its size and retry once. */
        mdb_env_set_mapsize(env, 0);
        rc = mdb_txn_begin(env, NULL, flags, txn);
    }
    if (cause)
        *cause = rc;
    return souk_kv_err(rc);
}

int souk_kv_grow(MDB_env *env, size_t max)
{
    MDB_envinfo ei;
    if (mdb_env_info(env, &ei) != 0 || ei.me_mapsize > max / 2)
        return SOUK_EFULL;
    return mdb_env_set_mapsize(env, ei.me_mapsize * 2) == 0 ? SOUK_OK : SOUK_EFULL;
}
