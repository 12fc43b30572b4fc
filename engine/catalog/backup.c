/* backup.c: copies of the index environment made row by row (core's souk_kv_copy_logical), so
 * that no page of the copy holds the bytes of a deleted record (a supplier's personal data in a
 * deleted item, P22; LMDB's MDB_CP_COMPACT keeps such bytes inside live pages):
 *   - souk_index_backup, the catalog's part of `souk-index backup` (P23): a consistent copy from
 *     one read transaction while writers and the server go on;
 *   - souk_index_compact, `souk-index compact` (P22): the copy replaces the index's data file,
 *     with no other process attached.
 * The spelling table (DIR/spelling/) is derived data and is not copied: the indexer rebuilds it. */
#include "catalog/index_int.h"
#include "core/kv.h"
#include "souk/index.h"
#include "souk/souk.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int souk_index_backup(souk_index *ix, const char *dest, char *err, size_t errlen)
{
    if (mkdir(dest, 0750) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create '%s': %s", dest, strerror(errno));
        return SOUK_EIO;
    }
    return souk_kv_copy_logical(ix->env, dest, 0640, NULL, NULL, err, errlen);
}

/* mdb_reader_list's callback: counts reader slots of other processes ("pid thread txnid"). */
static int other_reader(const char *msg, void *ctx)
{
    long pid = 0;
    if (sscanf(msg, " %ld", &pid) == 1 && pid > 0 && pid != (long)getpid()) {
        long *first = ctx;
        if (!*first)
            *first = pid;
    }
    return 0;
}

static void fsync_path(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int souk_index_compact(const char *dir, char *err, size_t errlen)
{
    souk_index *ix;
    int rc = souk_index_open(dir, NULL, 0, &ix, err, errlen);
    if (rc)
        return rc;
    char tmp[4096], from[4200], to[4200];
    snprintf(tmp, sizeof tmp, "%s/compact.new", dir);
    snprintf(from, sizeof from, "%s/data.mdb", tmp);
    snprintf(to, sizeof to, "%s/data.mdb", dir);
    /* Another process attached (the server, a reader) would keep reading the replaced file. */
    long other = 0;
    mdb_reader_check(ix->env, NULL);
    mdb_reader_list(ix->env, other_reader, &other);
    if (other) {
        snprintf(err, errlen,
                 "compact: process %ld has the index '%s' open; stop it (the server, a "
                 "follower) before compacting",
                 other, dir);
        souk_index_close(ix);
        return SOUK_EINVAL;
    }
    /* The writer lock for the whole copy and the switch: no commit can land in the old file. */
    MDB_txn *w = NULL;
    int mrc = 0;
    if (souk_kv_txn_begin(ix->env, 0, &w, &mrc) != SOUK_OK) {
        snprintf(err, errlen, "compact: '%s': %s", dir, mdb_strerror(mrc));
        souk_index_close(ix);
        return souk_kv_err(mrc);
    }
    unlink(from);
    snprintf(to, sizeof to, "%s/lock.mdb", tmp);
    unlink(to);
    rmdir(tmp);
    snprintf(to, sizeof to, "%s/data.mdb", dir);
    if (mkdir(tmp, 0750) != 0) {
        snprintf(err, errlen, "compact: cannot create '%s': %s", tmp, strerror(errno));
        rc = SOUK_EIO;
    } else {
        rc = souk_kv_copy_logical(ix->env, tmp, 0640, NULL, NULL, err, errlen);
    }
    if (rc == SOUK_OK) {
        fsync_path(from);
        if (rename(from, to) != 0) {
            snprintf(err, errlen, "compact: renaming '%s': %s", from, strerror(errno));
            rc = SOUK_EIO;
        } else {
            fsync_path(dir);
        }
    }
    mdb_txn_abort(w);
    souk_index_close(ix);
    snprintf(to, sizeof to, "%s/lock.mdb", tmp);
    unlink(to);
    unlink(from);
    rmdir(tmp);
    return rc;
}
