/* spelling.c: the spelling table kept in step with the index (see souk/spelling.h). A sync reads
 * the index's words with their collection frequencies from one snapshot, and the table's words
 * with their frequencies, both in byte order, and applies the differences in one Xapian commit
 * stamped with the snapshot's generation.
 *
 * Xapian's commits are atomic, but creating a database is not: a kill in the middle leaves a
 * directory of tables without the version file (iamglass), which Xapian then refuses to open
 * or create over. So a table is only ever created whole in DIR/spelling.new and renamed to
 * DIR/spelling; a DIR/spelling that holds no table is a creation cut short under the old
 * scheme, removed and built again. Syncs take DIR/spelling.lock (flock) for their duration, so
 * two writers' syncs run one after the other and never share spelling.new. */
#include "souk/buf.h"
#include "catalog/reader.h"
#include "souk/souk.h"
#include "souk/spelling.h"
#include "text/spelltable.h"
#include "query/typo.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define MAXWORD 48

typedef struct wentry {
    char *w;
    uint32_t len;
    uint64_t freq;
} wentry;

typedef struct wlist {
    wentry *e;
    size_t n, cap;
    int failed;
} wlist;

static int push(wlist *l, const char *w, size_t len, uint64_t freq)
{
    if (souk_grow((void **)&l->e, &l->cap, l->n + 1, sizeof *l->e, SIZE_MAX)) {
        l->failed = 1;
        return 1;
    }
    char *c = souk_strndup(w, len);
    if (!c) {
        l->failed = 1;
        return 1;
    }
    l->e[l->n++] = (wentry){c, (uint32_t)len, freq};
    return 0;
}

static void wlist_free(wlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        souk_free(l->e[i].w);
    souk_free(l->e);
}

static int cmp_word(const void *a, const void *b)
{
    const wentry *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int r = memcmp(x->w, y->w, n);
    return r ? r : (x->len > y->len) - (x->len < y->len);
}

/* A word of the table: as the typo dictionary's, without CJK n-grams (U+2E80 on: lead bytes
 * 0xE2 0xBA.. and 0xE3..0xEF, 0xF0.. for the supplementary planes), which are not words. */
static int is_word(const char *w, size_t len)
{
    const unsigned char *u = (const unsigned char *)w;
    if (len < 2 || len > MAXWORD)
        return 0;
    return u[0] < 0xe3 && !(u[0] == 0xe2 && len > 1 && u[1] >= 0xba);
}

static int on_index_word(void *ctx, const char *term, size_t len, const souk_term_info *info)
{
    if (!is_word(term, len))
        return 0;
    return push(ctx, term, len, info->cf);
}

static int on_table_word(void *ctx, const char *word, size_t len, uint64_t freq)
{
    return push(ctx, word, len, freq);
}

int souk_spelling_path(const char *dir, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/spelling", dir);
    return n < 0 || (size_t)n >= cap ? SOUK_ETOOBIG : 0;
}

static int remove_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p) != 0 && errno != ENOENT ? -1 : 0;
}

/* Removes path and everything beneath it; 0 when it is gone or never was. */
static int remove_tree(const char *path)
{
    errno = 0;
    if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 || errno == ENOENT)
        return 0;
    return -1;
}

static int fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

/* Puts the finished table in tmp (committed and closed) at path: its directory entries made
 * durable, whatever is at path (a creation cut short) removed, then one rename, made durable in
 * dir. A kill before the rename leaves no table at path and the next sync builds it again. */
static int publish(const char *tmp, const char *path, const char *dir, char *err, size_t errlen)
{
    const char *what = "syncing", *where = tmp;
    if (fsync_dir(tmp) == 0) {
        what = "removing";
        where = path;
        if (remove_tree(path) == 0) {
            what = "renaming to";
            if (rename(tmp, path) == 0) {
                what = "syncing";
                where = dir;
                if (fsync_dir(dir) == 0)
                    return 0;
            }
        }
    }
    snprintf(err, errlen, "spelling: %s (%s %s)", strerror(errno), what, where);
    return SOUK_EIO;
}

int souk_spelling_sync(souk_index *ix, souk_spelling_stats *st, char *err, size_t errlen)
{
    memset(st, 0, sizeof *st);
    const char *dir = souk__index_dir(ix);
    char path[4096], tmp[4096], lock[4096];
    souk_reader *r = NULL;
    souk_xspell *sp = NULL;
    wlist ixw = {0}, spw = {0};
    souk_stats ist;
    uint64_t have = 0;
    int lockfd = -1, fresh = 0;
    int rc = souk_spelling_path(dir, path, sizeof path);
    if (rc || (size_t)snprintf(tmp, sizeof tmp, "%s.new", path) >= sizeof tmp ||
        (size_t)snprintf(lock, sizeof lock, "%s.lock", path) >= sizeof lock) {
        snprintf(err, errlen, "spelling: data directory path too long");
        return SOUK_ETOOBIG;
    }
    const char *where = path;
    lockfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lockfd >= 0)
        while ((rc = flock(lockfd, LOCK_EX)) != 0 && errno == EINTR)
            ;
    if (lockfd < 0 || rc != 0) {
        snprintf(err, errlen, "spelling: %s (locking %s)", strerror(errno), lock);
        rc = SOUK_EIO;
        goto out;
    }
    if ((rc = souk_reader_new(ix, &r)) != 0 || (rc = souk_reader_stats(r, &ist)) != 0) {
        snprintf(err, errlen, "spelling: reading the index: %s", souk_strerror(rc));
        goto out;
    }
    char xerr[400];
    rc = souk_xspell_open(path, 1, &sp, xerr, sizeof xerr);
    if (rc == SOUK_ENOTFOUND) {
        /* No table (or a creation cut short): build one whole beside it. A spelling.new left by
         * a killed sync is stale (the lock is ours). */
        fresh = 1;
        where = tmp;
        if (remove_tree(tmp) != 0) {
            rc = SOUK_EIO;
            snprintf(err, errlen, "spelling: %s (removing %s)", strerror(errno), tmp);
            goto out;
        }
        rc = souk_xspell_create(tmp, &sp, xerr, sizeof xerr);
    }
    if (rc != 0) {
        snprintf(err, errlen, "spelling: %s (opening %s)", xerr, where);
        goto out;
    }
    if ((rc = souk_xspell_generation(sp, &have)) != 0)
        goto xfail;
    st->generation = ist.generation;
    if (have == ist.generation && have != 0) {
        st->up_to_date = 1;
        goto out;
    }
    if ((rc = souk__typo_words(r, on_index_word, &ixw)) != 0) {
        snprintf(err, errlen, "spelling: reading the index's words: %s", souk_strerror(rc));
        goto out;
    }
    souk_reader_free(r); /* the words are copied: end the snapshot before the slow part */
    r = NULL;
    if ((rc = souk_xspell_words(sp, on_table_word, &spw)) != 0)
        goto xfail;
    if (ixw.failed || spw.failed) {
        rc = SOUK_ENOMEM;
        snprintf(err, errlen, "spelling: out of memory");
        goto out;
    }
    if (ixw.n)
        qsort(ixw.e, ixw.n, sizeof *ixw.e, cmp_word);
    if (spw.n)
        qsort(spw.e, spw.n, sizeof *spw.e, cmp_word);
    size_t a = 0, b = 0;
    while (a < ixw.n || b < spw.n) {
        int c = a == ixw.n ? 1 : b == spw.n ? -1 : cmp_word(&ixw.e[a], &spw.e[b]);
        const wentry *e = c <= 0 ? &ixw.e[a] : &spw.e[b];
        int64_t delta = c < 0   ? (int64_t)ixw.e[a].freq
                        : c > 0 ? -(int64_t)spw.e[b].freq
                                : (int64_t)ixw.e[a].freq - (int64_t)spw.e[b].freq;
        if (delta && (rc = souk_xspell_change(sp, e->w, e->len, delta)) != 0)
            goto xfail;
        st->added += c < 0;
        st->removed += c > 0;
        st->changed += c == 0 && delta != 0;
        a += c <= 0;
        b += c >= 0;
    }
    if ((rc = souk_xspell_commit(sp, ist.generation)) != 0)
        goto xfail;
    st->words = ixw.n;
    if (fresh) {
        souk_xspell_close(sp); /* Xapian has synced the tables and the version file */
        sp = NULL;
        rc = publish(tmp, path, dir, err, errlen);
    }
    goto out;
xfail:
    /* Name the table's directory: Xapian's messages name only a block (issue 17). */
    snprintf(err, errlen, "spelling: %s (writing %s)", souk_xspell_errmsg(sp), where);
out:
    wlist_free(&ixw);
    wlist_free(&spw);
    souk_xspell_close(sp);
    souk_reader_free(r);
    if (lockfd >= 0)
        close(lockfd); /* releases the lock */
    return rc;
}
