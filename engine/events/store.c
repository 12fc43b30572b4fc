/* store.c: the behaviour-event store's environment (events_int.h): opening DIR/events, its
 * generations (CURRENT, g<N>/), transactions that follow a swapped generation and grow a full
 * map, and the compaction that swaps a compacted copy in (erasure, P13). */
#include "events/events_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAP_START ((size_t)1 << 30)

static int fsync_path(const char *path, int dir)
{
    int fd = open(path, (dir ? O_RDONLY | O_DIRECTORY : O_RDWR) | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* Reads DIR/events/CURRENT: the live generation's number, 0 when there is none. */
static int read_current(const char *dir, uint64_t *gen)
{
    char path[4096], buf[32];
    snprintf(path, sizeof path, "%s/CURRENT", dir);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *gen = 0;
        return errno == ENOENT ? SOUK_OK : SOUK_EIO;
    }
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n < 2 || buf[0] != 'g')
        return SOUK_ECORRUPT;
    buf[n] = 0;
    char *end;
    unsigned long long g = strtoull(buf + 1, &end, 10);
    if (g == 0 || (*end && *end != '\n'))
        return SOUK_ECORRUPT;
    *gen = g;
    return SOUK_OK;
}

/* Writes CURRENT = g<gen> through CURRENT.tmp, fsync and rename, then fsyncs the directory. */
static int write_current(const char *dir, uint64_t gen)
{
    char tmp[4096], path[4096], buf[32];
    snprintf(tmp, sizeof tmp, "%s/CURRENT.tmp", dir);
    snprintf(path, sizeof path, "%s/CURRENT", dir);
    int n = snprintf(buf, sizeof buf, "g%llu\n", (unsigned long long)gen);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return SOUK_EIO;
    int ok = write(fd, buf, (size_t)n) == n && fsync(fd) == 0;
    close(fd);
    if (!ok || rename(tmp, path) != 0 || fsync_path(dir, 1) != 0)
        return SOUK_EIO;
    return SOUK_OK;
}

/* Removes the generation directory g<gen>: its files, then itself. */
static void remove_gen(const char *dir, uint64_t gen)
{
    char p[4096];
    static const char *const files[] = {"data.mdb", "lock.mdb"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(p, sizeof p, "%s/g%llu/%s", dir, (unsigned long long)gen, files[i]);
        unlink(p);
    }
    snprintf(p, sizeof p, "%s/g%llu", dir, (unsigned long long)gen);
    rmdir(p);
}

static const struct {
    const char *name;
    size_t off;
    unsigned flags;
} dbs[] = {
#define DB(x)                                                                                      \
    {                                                                                              \
#x, offsetof(souk_events, x), 0                                                            \
    }
    DB(meta),    DB(ev),
    DB(uev),     DB(sess),
    DB(usess),   DB(pop),
    DB(uset),    {"iuser", offsetof(souk_events, iuser), MDB_DUPSORT | MDB_DUPFIXED},
    DB(consent), DB(shist),
    DB(tags),    DB(tagdel),
    DB(idel),    DB(qstat),
    DB(supp),    DB(jobs),
#undef DB
};

/* Format 1 -> 2, in txn: iuser filled from uset (each row upseudo + kind + item gives the
 * duplicate upseudo under kind + item), the pair table cooc dropped, then every user's uset
 * (with its iuser rows, tags and usess) recomputed from the retained events with this open's
 * options (souk__ev_user_refresh), so the migrated store equals a rebuild even when
 * cooc_items_max changed with the format. */
static int migrate_v1(souk_events *s, MDB_txn *txn)
{
    MDB_dbi cooc;
    int mrc = mdb_dbi_open(txn, "cooc", 0, &cooc);
    if (mrc == 0)
        mrc = mdb_drop(txn, cooc, 1);
    else if (mrc == MDB_NOTFOUND)
        mrc = 0;
    MDB_cursor *c = NULL;
    if (!mrc)
        mrc = mdb_cursor_open(txn, s->uset, &c);
    MDB_val k, v;
    int r = mrc ? mrc : mdb_cursor_get(c, &k, &v, MDB_FIRST);
    while (r == 0) {
        size_t il = k.mv_size - SOUK_PSEUDO_LEN - 1;
        if (k.mv_size > SOUK_PSEUDO_LEN + 1 && il <= SOUK_COOC_ITEM_MAX) {
            uint8_t ik[1 + SOUK_COOC_ITEM_MAX];
            memcpy(ik, (const uint8_t *)k.mv_data + SOUK_PSEUDO_LEN, 1 + il);
            MDB_val key = {1 + il, ik}, user = {SOUK_PSEUDO_LEN, k.mv_data};
            int prc = mdb_put(txn, s->iuser, &key, &user, MDB_NODUPDATA);
            if (prc && prc != MDB_KEYEXIST) {
                r = prc;
                break;
            }
        }
        r = mdb_cursor_get(c, &k, &v, MDB_NEXT);
    }
    if (c)
        mdb_cursor_close(c);
    if (r != MDB_NOTFOUND)
        return souk_kv_err(r);
    /* The users with personalized events (uev), then each one's derived rows. */
    hmap users;
    hm_init(&users, 0);
    int rc = souk__ev_cooc_bump(s, txn);
    if (!rc)
        rc = souk_kv_err(mdb_cursor_open(txn, s->uev, &c));
    if (!rc) {
        r = mdb_cursor_get(c, &k, &v, MDB_FIRST);
        while (r == 0 && k.mv_size >= SOUK_PSEUDO_LEN) {
            if (!hm_put(&users, k.mv_data, SOUK_PSEUDO_LEN, NULL)) {
                r = ENOMEM;
                break;
            }
            r = mdb_cursor_get(c, &k, &v, MDB_NEXT);
        }
        mdb_cursor_close(c);
        rc = r == MDB_NOTFOUND ? SOUK_OK : r == ENOMEM ? SOUK_ENOMEM : souk_kv_err(r);
    }
    souk__ev_delta d;
    souk__ev_delta_init(&d);
    for (size_t i = 0; i < users.cap && !rc; i++)
        if (users.e[i].kv)
            rc = souk__ev_user_refresh(s, txn, users.e[i].kv, &d);
    if (!rc)
        rc = souk__ev_delta_apply(s, txn, &d);
    souk__ev_delta_free(&d);
    hm_free(&users);
    if (rc)
        return rc;
    MDB_val vk = {7, "version"};
    uint32_t ver = SOUK_EV_FORMAT;
    MDB_val vv = {4, &ver};
    return souk_kv_err(mdb_put(txn, s->meta, &vk, &vv, 0));
}

/* Opens generation gen's environment and its databases into s. */
static int open_gen(souk_events *s, uint64_t gen, char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/g%llu", s->dir, (unsigned long long)gen);
    if (!s->o.rdonly)
        mkdir(path, 0700); /* before souk_kv_open's 0750: the store's files are personal data */
    souk_kv_opts ko = {s->o.map_max < MAP_START ? s->o.map_max : MAP_START, 32, 510, 0600,
                       s->o.rdonly};
    MDB_env *env;
    int rc = souk_kv_open(path, &ko, &env, err, errlen);
    if (rc)
        return rc;
    MDB_txn *txn;
    int mrc = 0;
    if (souk_kv_txn_begin(env, s->o.rdonly ? MDB_RDONLY : 0, &txn, &mrc) != SOUK_OK)
        goto fail;
    /* The format first: a format-1 store has no iuser table (and a read-only handle cannot
     * create one). */
    uint32_t ver = 0;
    int found = 0;
    if ((mrc = mdb_dbi_open(txn, "meta", s->o.rdonly ? 0 : MDB_CREATE, &s->meta)) != 0) {
        mdb_txn_abort(txn);
        goto fail;
    }
    MDB_val k = {7, "version"}, v;
    if (mdb_get(txn, s->meta, &k, &v) == 0) {
        found = 1;
        if (v.mv_size == 4)
            memcpy(&ver, v.mv_data, 4);
    }
    if (found && !(ver == SOUK_EV_FORMAT || (ver == 1 && !s->o.rdonly))) {
        mdb_txn_abort(txn);
        if (ver == 1)
            snprintf(err, errlen,
                     "'%s': event store format 1 (co-occurrence pair rows); this build reads %u: "
                     "open it once writable (souk-index events, events-check, or souk-server) "
                     "to migrate it",
                     path, SOUK_EV_FORMAT);
        else
            snprintf(err, errlen, "'%s': event store format %u, this build reads %u", path, ver,
                     SOUK_EV_FORMAT);
        mdb_env_close(env);
        return SOUK_EFORMAT;
    }
    for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
        MDB_dbi *d = (MDB_dbi *)((char *)s + dbs[i].off);
        if ((mrc = mdb_dbi_open(txn, dbs[i].name, dbs[i].flags | (s->o.rdonly ? 0 : MDB_CREATE),
                                d)) != 0) {
            mdb_txn_abort(txn);
            goto fail;
        }
    }
    if (found && ver == 1) {
        if ((rc = migrate_v1(s, txn)) != SOUK_OK) {
            mdb_txn_abort(txn);
            snprintf(err, errlen, "'%s': migrating the event store from format 1: %s", path,
                     souk_strerror(rc));
            mdb_env_close(env);
            return rc;
        }
    } else if (!found && !s->o.rdonly) {
        ver = SOUK_EV_FORMAT;
        v.mv_size = 4;
        v.mv_data = &ver;
        if ((mrc = mdb_put(txn, s->meta, &k, &v, 0)) != 0) {
            mdb_txn_abort(txn);
            goto fail;
        }
    }
    /* The key id the generation's pseudonyms are under (P24): new data uses it too, so that a
     * user's rows are never split between two kids. A store written before the id was kept
     * used the ring's current key, and gets that id now. */
    uint8_t kid = souk_keyring_current(s->o.keys);
    MDB_val kk = {3, "kid"}, kv;
    if (mdb_get(txn, s->meta, &kk, &kv) == 0 && kv.mv_size == 1) {
        kid = *(const uint8_t *)kv.mv_data;
    } else if (!s->o.rdonly) {
        kv.mv_size = 1;
        kv.mv_data = &kid;
        if ((mrc = mdb_put(txn, s->meta, &kk, &kv, 0)) != 0) {
            mdb_txn_abort(txn);
            goto fail;
        }
    }
    if (!souk_keyring_has(s->o.keys, kid)) {
        mdb_txn_abort(txn);
        snprintf(err, errlen,
                 "'%s': the store's pseudonyms are under key id %u, which the key ring no longer "
                 "holds (put that key back, run events-rekey, then retire it)",
                 path, (unsigned)kid);
        mdb_env_close(env);
        return SOUK_EINVAL;
    }
    if ((mrc = mdb_txn_commit(txn)) != 0) /* a read-only one too: it keeps the handles */
        goto fail;
    s->kid = kid;
    s->env = env;
    s->gen = gen;
    return SOUK_OK;
fail:
    snprintf(err, errlen, "'%s': %s", path, mdb_strerror(mrc));
    mdb_env_close(env);
    return souk_kv_err(mrc);
}

/* (Re)opens the generation CURRENT names, closing the one s has. Writable stores create g1 when
 * there is none. Called with s->swap held for writing (or before s is shared). */
static int open_current(souk_events *s, char *err, size_t errlen)
{
    uint64_t gen;
    int rc = read_current(s->dir, &gen);
    if (rc) {
        snprintf(err, errlen, "'%s/CURRENT': %s", s->dir,
                 rc == SOUK_EIO ? strerror(errno) : "not a generation name");
        return rc;
    }
    if (gen != 0) {
        /* CURRENT names a generation: it must be there (souk_kv_open would create an empty one). */
        char p[4096];
        struct stat sb;
        snprintf(p, sizeof p, "%s/g%llu/data.mdb", s->dir, (unsigned long long)gen);
        if (stat(p, &sb) != 0) {
            snprintf(err, errlen, "'%s': CURRENT names g%llu, which is missing", s->dir,
                     (unsigned long long)gen);
            return SOUK_ECORRUPT;
        }
    } else {
        if (s->o.rdonly) {
            snprintf(err, errlen, "'%s' holds no event store", s->dir);
            return SOUK_ENOTFOUND;
        }
        gen = 1;
        remove_gen(s->dir, 1); /* a creation that crashed before CURRENT */
    }
    if (s->env) {
        mdb_env_close(s->env);
        s->env = NULL;
    }
    if ((rc = open_gen(s, gen, err, errlen)) != 0)
        return rc;
    if (!s->o.rdonly) {
        uint64_t cur;
        if (read_current(s->dir, &cur) == 0 && cur == 0 && (rc = write_current(s->dir, gen))) {
            snprintf(err, errlen, "'%s/CURRENT': %s", s->dir, strerror(errno));
            return rc;
        }
        /* Older generations a crash left behind (a swap removes its own). */
        DIR *d = opendir(s->dir);
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL) {
            char *end;
            if (e->d_name[0] != 'g')
                continue;
            unsigned long long g = strtoull(e->d_name + 1, &end, 10);
            if (*end == 0 && g > 0 && g < gen)
                remove_gen(s->dir, g);
        }
        if (d)
            closedir(d);
    }
    return SOUK_OK;
}

int souk_events_open(const char *dir, const souk_events_opts *o, souk_events **out, char *err,
                     size_t errlen)
{
    if (!o || !o->keys) {
        snprintf(err, errlen, "%s: the event store needs a pseudonymization key ring", dir);
        return SOUK_EINVAL;
    }
    souk_events *s = souk_calloc(1, sizeof *s);
    if (!s)
        return SOUK_ENOMEM;
    s->o = *o;
    if (s->o.halflife_days <= 0)
        s->o.halflife_days = 14;
    if (!s->o.history_max)
        s->o.history_max = 200;
    if (!s->o.cooc_items_max)
        s->o.cooc_items_max = 256;
    if (!s->o.map_max)
        s->o.map_max = (size_t)64 << 30;
    s->audit_fd = -1;
    s->inbox_fd = -1;
    /* The key of event ids: derived from the ring's root, so it is secret and survives key
     * rotations (a replay after a rotation is still a duplicate; souk/keys.h). */
    memcpy(s->eid_key, souk_keyring_stable_key(o->keys), sizeof s->eid_key);
    size_t n = strlen(dir);
    s->dir = souk_malloc(n + 8);
    if (!s->dir) {
        souk_free(s);
        return SOUK_ENOMEM;
    }
    memcpy(s->dir, dir, n);
    memcpy(s->dir + n, "/events", 8);
    if (!o->rdonly && mkdir(s->dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create '%s': %s", s->dir, strerror(errno));
        souk_free(s->dir);
        souk_free(s);
        return SOUK_EIO;
    }
    pthread_rwlock_init(&s->swap, NULL);
    pthread_mutex_init(&s->inbox_mu, NULL);
    pthread_mutex_init(&s->drain_mu, NULL);
    int rc = open_current(s, err, errlen);
    if (rc) {
        souk_events_close(s);
        return rc;
    }
    *out = s;
    return SOUK_OK;
}

void souk_events_close(souk_events *s)
{
    if (!s)
        return;
    if (s->env)
        mdb_env_close(s->env);
    if (s->audit_fd >= 0)
        close(s->audit_fd);
    if (s->inbox_fd >= 0)
        close(s->inbox_fd);
    pthread_mutex_destroy(&s->inbox_mu);
    pthread_mutex_destroy(&s->drain_mu);
    souk__ev_batch_free(s);
    if (s->ids) {
        hm_free(s->ids);
        souk_free(s->ids);
    }
    pthread_rwlock_destroy(&s->swap);
    souk_free(s->dir);
    souk_free(s);
}

/* 1 when txn's environment was retired by a swap (another process's or a crashed one's), or a
 * write transaction finds CURRENT naming another generation. */
static int stale(souk_events *s, MDB_txn *txn, unsigned flags)
{
    MDB_val k = {7, "retired"}, v;
    if (mdb_get(txn, s->meta, &k, &v) == 0)
        return 1;
    if (!(flags & MDB_RDONLY)) {
        uint64_t cur;
        if (read_current(s->dir, &cur) == 0 && cur != 0 && cur != s->gen)
            return 1;
    }
    return 0;
}

int souk__ev_begin(souk_events *s, unsigned flags, MDB_txn **txn)
{
    for (int tries = 0;; tries++) {
        pthread_rwlock_rdlock(&s->swap);
        uint64_t gen = s->gen;
        int rc = souk_kv_txn_begin(s->env, flags, txn, NULL);
        if (rc) {
            pthread_rwlock_unlock(&s->swap);
            return rc;
        }
        if (!stale(s, *txn, flags))
            return SOUK_OK;
        mdb_txn_abort(*txn);
        pthread_rwlock_unlock(&s->swap);
        if (tries >= 8)
            return SOUK_EIO;
        char err[256];
        pthread_rwlock_wrlock(&s->swap);
        rc = gen == s->gen ? open_current(s, err, sizeof err) : SOUK_OK;
        pthread_rwlock_unlock(&s->swap);
        if (rc)
            return rc;
    }
}

int souk__ev_commit(souk_events *s, MDB_txn *txn)
{
    int rc = mdb_txn_commit(txn);
    pthread_rwlock_unlock(&s->swap);
    return souk_kv_err(rc);
}

void souk__ev_abort(souk_events *s, MDB_txn *txn)
{
    mdb_txn_abort(txn);
    pthread_rwlock_unlock(&s->swap);
}

int souk__ev_grow(souk_events *s)
{
    pthread_rwlock_wrlock(&s->swap);
    int rc = souk_kv_grow(s->env, s->o.map_max);
    pthread_rwlock_unlock(&s->swap);
    return rc;
}

int souk__ev_write(souk_events *s, int (*fn)(souk_events *, MDB_txn *, void *), void *arg)
{
    for (;;) {
        MDB_txn *txn;
        int rc = souk__ev_begin(s, 0, &txn);
        if (rc)
            return rc;
        rc = fn(s, txn, arg);
        if (rc == SOUK_OK)
            rc = souk__ev_commit(s, txn);
        else
            souk__ev_abort(s, txn);
        if (rc != SOUK_EFULL)
            return rc;
        if ((rc = souk__ev_grow(s)) != SOUK_OK)
            return rc;
    }
}

static int copy_clean(souk_events *s, MDB_env *src, const char *dir, void *arg, char *err,
                      size_t errlen)
{
    (void)s, (void)arg;
    /* Not mdb_env_copy2(MDB_CP_COMPACT): it keeps deleted rows' bytes inside live pages. */
    return souk__ev_copy_clean(src, dir, err, errlen);
}

int souk__ev_compact(souk_events *s, char *err, size_t errlen)
{
    return souk__ev_swap(s, copy_clean, NULL, err, errlen);
}

int souk__ev_swap(souk_events *s, souk__ev_copy_fn copy, void *arg, char *err, size_t errlen)
{
    if (s->o.rdonly) {
        snprintf(err, errlen, "'%s': opened read-only", s->dir);
        return SOUK_EINVAL;
    }
    /* Readers keep reading the live generation while it is copied: the copy holds the swap lock
     * for reading and LMDB's writer lock, so nothing commits to it from here on (in any
     * process); only the switch to the copy takes the swap lock for writing. */
    pthread_rwlock_rdlock(&s->swap);
    MDB_txn *w = NULL;
    int rc, mrc = 0, locked = 1;
    for (;;) {
        if (souk_kv_txn_begin(s->env, 0, &w, &mrc) != SOUK_OK)
            goto lmdb_fail;
        if (!stale(s, w, 0))
            break;
        mdb_txn_abort(w);
        w = NULL;
        uint64_t gen = s->gen;
        pthread_rwlock_unlock(&s->swap);
        pthread_rwlock_wrlock(&s->swap);
        rc = gen == s->gen ? open_current(s, err, errlen) : SOUK_OK;
        pthread_rwlock_unlock(&s->swap);
        pthread_rwlock_rdlock(&s->swap);
        if (rc)
            goto out;
    }
    uint64_t old = s->gen, next = old + 1;
    char path[4096], file[4200];
    snprintf(path, sizeof path, "%s/g%llu", s->dir, (unsigned long long)next);
    remove_gen(s->dir, next); /* a copy that crashed before CURRENT named it */
    if (mkdir(path, 0700) != 0) {
        snprintf(err, errlen, "cannot create '%s': %s", path, strerror(errno));
        rc = SOUK_EIO;
        goto out;
    }
    if ((rc = copy(s, s->env, path, arg, err, errlen)) != 0)
        goto out;
    snprintf(file, sizeof file, "%s/data.mdb", path);
    if (fsync_path(file, 0) != 0 || fsync_path(path, 1) != 0 || write_current(s->dir, next)) {
        snprintf(err, errlen, "'%s': %s", path, strerror(errno));
        rc = SOUK_EIO;
        goto out;
    }
    MDB_val k = {7, "retired"}, v = {8, &next};
    if ((mrc = mdb_put(w, s->meta, &k, &v, 0)) != 0 || (mrc = mdb_txn_commit(w)) != 0) {
        w = NULL;
        goto lmdb_fail;
    }
    w = NULL;
    /* The switch. A transaction begun since the commit found the old generation retired and
     * may have switched already (open_current); either way the old files go. */
    pthread_rwlock_unlock(&s->swap);
    pthread_rwlock_wrlock(&s->swap);
    rc = SOUK_OK;
    if (s->gen == old) {
        mdb_env_close(s->env);
        s->env = NULL;
        rc = open_gen(s, next, err, errlen);
    }
    remove_gen(s->dir, old);
    fsync_path(s->dir, 1);
    goto out;
lmdb_fail:
    snprintf(err, errlen, "compacting '%s': %s", s->dir, mdb_strerror(mrc));
    rc = souk_kv_err(mrc);
out:
    if (w)
        mdb_txn_abort(w);
    if (locked)
        pthread_rwlock_unlock(&s->swap);
    return rc;
}

int souk__ev_user(souk_events *s, const char *user, size_t len, uint8_t out[SOUK_PSEUDO_LEN])
{
    return souk_pseudonym(s->o.keys, s->kid, SOUK_PSEUDO_USER, user, len, out);
}

void souk__ev_user_fix(const souk_events *s, uint8_t up[SOUK_PSEUDO_LEN])
{
    if (up[0] != s->kid)
        souk_pseudonym_rekey(s->o.keys, up, s->kid, up); /* s->kid is always in the ring */
}
