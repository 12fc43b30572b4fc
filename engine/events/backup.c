/* backup.c: backups of the event store and the erasure ledger (P23).
 *
 * souk_events_backup copies the live generation row by row (souk__ev_copy_clean: one read
 * transaction, a consistent snapshot while the server writes; no page keeps a deleted row's
 * bytes) into DEST/events/g1, names it in DEST/events/CURRENT, and copies the files beside the
 * generations: the audit log, the inbox (events accepted and not yet added; pseudonyms only) and
 * the erasure ledger.
 *
 * The erasure ledger, DIR/events/erasures.log, outside the generations so that no compaction
 * rewrites it: one line per erasure, appended and fsynced by the erasure job before it deletes
 * the user's rows (erase.c), "v1 <ms> <job id> <suppression hash> <ledger hash>" in hex. It holds
 * no raw id and no pseudonym: the suppression hash is the P14 record, and the ledger hash
 * (souk_pseudonym_ledger) is a keyed hash of the pseudonym's inner value, which finds the user's
 * rows in an older copy (its pseudonyms hash to it, under whatever kid) but is not itself a key
 * of any row. souk_events_apply_ledger re-applies ledgers to a restored store before it serves:
 * the suppression records, the erasures (every row of a matching user deleted as the erasure job
 * deletes them, then a compaction), and the completed job records. */
#include "events/events_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LEDGER_FILE "erasures.log"
#define LEDGER_LINE_MAX 160
#define LEDGER_FILE_MAX ((size_t)256 << 20) /* about 1.7 million erasures */

static void hexs(const uint8_t *p, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[p[i] >> 4];
        out[2 * i + 1] = d[p[i] & 15];
    }
    out[2 * n] = 0;
}

int souk__ev_ledger_append(souk_events *s, const uint8_t job_id[16],
                           const uint8_t up[SOUK_PSEUDO_LEN], const uint8_t hash[SOUK_SUPPRESS_LEN],
                           int64_t now)
{
    uint8_t lh[SOUK_LEDGER_LEN];
    if (souk_pseudonym_ledger(s->o.keys, up, lh) != SOUK_OK)
        return SOUK_EINVAL;
    char j[33], h[33], l[33], line[LEDGER_LINE_MAX], path[4200];
    hexs(job_id, 16, j);
    hexs(hash, SOUK_SUPPRESS_LEN, h);
    hexs(lh, SOUK_LEDGER_LEN, l);
    int n = snprintf(line, sizeof line, "v1 %lld %s %s %s\n", (long long)now, j, h, l);
    snprintf(path, sizeof path, "%s/" LEDGER_FILE, s->dir);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return SOUK_EIO;
    int ok = write(fd, line, (size_t)n) == n && fsync(fd) == 0;
    close(fd);
    return ok ? SOUK_OK : SOUK_EIO;
}

/* ------------------------------------------------------------------ backup */

/* Copies the regular file from to to (mode 0600, synced); a missing from is no error. */
static int copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return errno == ENOENT ? SOUK_OK : SOUK_EIO;
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0) {
        close(in);
        return SOUK_EIO;
    }
    char buf[65536];
    int rc = SOUK_OK;
    for (;;) {
        ssize_t r = read(in, buf, sizeof buf);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            rc = SOUK_EIO;
        if (r <= 0)
            break;
        if (write(out, buf, (size_t)r) != r) {
            rc = SOUK_EIO;
            break;
        }
    }
    if (rc == SOUK_OK && fsync(out) != 0)
        rc = SOUK_EIO;
    close(in);
    close(out);
    return rc;
}

/* The copy leaves out meta "retired": a generation another process retired while it was copied
 * holds the same rows as its successor, and the copy must read as live. */
static int backup_xform(void *arg, const char *name, const MDB_val *k, const MDB_val *v,
                        MDB_val *nk, MDB_val *nv, unsigned char *kbuf, unsigned char *vbuf)
{
    (void)arg, (void)v, (void)nk, (void)nv, (void)kbuf, (void)vbuf;
    if (name && !strcmp(name, "meta") && k->mv_size == 7 && !memcmp(k->mv_data, "retired", 7))
        return SOUK_KV_SKIP;
    return SOUK_OK;
}

int souk_events_backup(souk_events *s, const char *dest, char *err, size_t errlen)
{
    char d[4096], g[4200], p[4200], q[4400];
    snprintf(d, sizeof d, "%s/events", dest);
    snprintf(g, sizeof g, "%s/g1", d);
    if ((mkdir(dest, 0700) != 0 && errno != EEXIST) || mkdir(d, 0700) != 0 || mkdir(g, 0700) != 0) {
        snprintf(err, errlen, "backup: cannot create '%s': %s", errno == EEXIST ? d : g,
                 errno == EEXIST ? "it exists (back up into a new directory)" : strerror(errno));
        return SOUK_EIO;
    }
    /* A transaction of the store's own pins its live generation (reopening it if another process
     * swapped one in) for the copy's snapshot. */
    MDB_txn *txn;
    int rc = souk__ev_begin(s, MDB_RDONLY, &txn);
    if (rc) {
        snprintf(err, errlen, "backup: %s", souk_strerror(rc));
        return rc;
    }
    rc = souk_kv_copy_logical(s->env, g, 0600, backup_xform, NULL, err, errlen);
    souk__ev_abort(s, txn);
    if (rc)
        return rc;
    snprintf(p, sizeof p, "%s/CURRENT", d);
    FILE *f = fopen(p, "w");
    if (!f || fputs("g1\n", f) < 0 || fflush(f) != 0 || fsync(fileno(f)) != 0) {
        if (f)
            fclose(f);
        snprintf(err, errlen, "backup: writing '%s': %s", p, strerror(errno));
        return SOUK_EIO;
    }
    fclose(f);
    /* The files beside the generations; the ledger last, so that it holds every erasure the
     * snapshot may lack. */
    static const char *const files[] = {"audit.log", "inbox.log"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", s->dir, files[i]);
        snprintf(q, sizeof q, "%s/%s", d, files[i]);
        if ((rc = copy_file(p, q)) != SOUK_OK)
            goto file_fail;
    }
    DIR *dir = opendir(s->dir);
    struct dirent *e;
    while (dir && (e = readdir(dir)) != NULL) {
        size_t n = strlen(e->d_name);
        if (strncmp(e->d_name, "inbox.", 6) || n < 12 || strcmp(e->d_name + n - 6, ".drain"))
            continue;
        snprintf(p, sizeof p, "%s/%s", s->dir, e->d_name);
        snprintf(q, sizeof q, "%s/%s", d, e->d_name);
        if ((rc = copy_file(p, q)) != SOUK_OK) {
            closedir(dir);
            goto file_fail;
        }
    }
    if (dir)
        closedir(dir);
    snprintf(p, sizeof p, "%s/" LEDGER_FILE, s->dir);
    snprintf(q, sizeof q, "%s/" LEDGER_FILE, d);
    if ((rc = copy_file(p, q)) != SOUK_OK)
        goto file_fail;
    return SOUK_OK;
file_fail:
    snprintf(err, errlen, "backup: copying '%s' to '%s': %s", p, q, strerror(errno));
    return rc;
}

/* ------------------------------------------------------------------ applying ledgers */

typedef struct lentry {
    int64_t ms;
    uint8_t job[16];
    uint8_t lh[SOUK_LEDGER_LEN];
    int found;
} lentry;

static int unhex(const char *s, size_t n, uint8_t *out)
{
    size_t bl;
    return sodium_hex2bin(out, n / 2, s, n, NULL, &bl, NULL) == 0 && bl == n / 2 ? 0 : -1;
}

/* Reads the ledger at path into m (suppression hash -> lentry). A missing file is empty; a last
 * line without its newline (a torn append) is left out; any other bad line is SOUK_ECORRUPT. */
static int ledger_read(const char *path, hmap *m, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT)
            return SOUK_OK;
        snprintf(err, errlen, "ledger '%s': %s", path, strerror(errno));
        return SOUK_EIO;
    }
    char line[LEDGER_LINE_MAX + 2];
    int lineno = 0, rc = SOUK_OK;
    size_t total = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t n = strlen(line);
        total += n;
        if (n == 0 || line[n - 1] != '\n') {
            if (feof(f))
                break; /* torn last append */
            rc = SOUK_ECORRUPT;
        }
        long long ms = 0;
        char j[40], h[40], l[40];
        if (rc == SOUK_OK && (sscanf(line, "v1 %lld %39s %39s %39s", &ms, j, h, l) != 4 ||
                              strlen(j) != 32 || strlen(h) != 32 || strlen(l) != 32))
            rc = SOUK_ECORRUPT;
        lentry e = {0};
        uint8_t hb[SOUK_SUPPRESS_LEN];
        e.ms = ms;
        if (rc == SOUK_OK && (unhex(j, 32, e.job) || unhex(h, 32, hb) || unhex(l, 32, e.lh)))
            rc = SOUK_ECORRUPT;
        if (rc == SOUK_OK && total > LEDGER_FILE_MAX)
            rc = SOUK_ETOOBIG;
        if (rc) {
            snprintf(err, errlen, "ledger '%s': line %d: %s", path, lineno,
                     rc == SOUK_ETOOBIG ? "the file is over its size cap"
                                        : "not \"v1 <ms> <job> <hash> <ledger hash>\"");
            break;
        }
        int created;
        lentry *slot = hm_put(m, hb, sizeof hb, &created);
        if (!slot) {
            rc = SOUK_ENOMEM;
            break;
        }
        if (created || e.ms < slot->ms)
            *slot = e;
    }
    fclose(f);
    return rc;
}

typedef struct apply_ctx {
    hmap *entries; /* suppression hash -> lentry */
    hmap by_lh;    /* ledger hash -> suppression hash */
    hmap users;    /* upseudo -> (nothing): the restored copy's users found erased */
    souk_ledger_stats st;
} apply_ctx;

/* Notes the user up when its ledger hash is in the ledgers. */
static int note_user(souk_events *s, apply_ctx *x, const uint8_t *up)
{
    uint8_t lh[SOUK_LEDGER_LEN];
    if (souk_pseudonym_ledger(s->o.keys, up, lh) != SOUK_OK)
        return SOUK_EINVAL;
    if (!hm_get(&x->by_lh, lh, sizeof lh))
        return SOUK_OK;
    return hm_put(&x->users, up, SOUK_PSEUDO_LEN, NULL) ? SOUK_OK : SOUK_ENOMEM;
}

/* Every user pseudonym of the store whose ledger hash is listed: from each table a user's rows
 * may be in. */
static int find_users(souk_events *s, MDB_txn *txn, apply_ctx *x)
{
    const MDB_dbi prefix[] = {s->uev,   s->usess, s->uset,   s->consent,
                              s->shist, s->tags,  s->tagdel, s->idel};
    int rc = SOUK_OK;
    for (size_t i = 0; i < sizeof prefix / sizeof prefix[0] + 2 && rc == SOUK_OK; i++) {
        MDB_dbi dbi = i < 8 ? prefix[i] : i == 8 ? s->qstat : s->ev;
        MDB_cursor *c;
        if ((rc = souk_kv_err(mdb_cursor_open(txn, dbi, &c))) != SOUK_OK)
            return rc;
        MDB_val k, v;
        int r = mdb_cursor_get(c, &k, &v, MDB_FIRST);
        uint8_t last[SOUK_PSEUDO_LEN] = {0};
        while (r == 0 && rc == SOUK_OK) {
            const uint8_t *up = NULL;
            souk__evrec rec;
            if (i < 8 && k.mv_size >= SOUK_PSEUDO_LEN)
                up = k.mv_data;
            else if (i == 8 && k.mv_size >= SOUK_PSEUDO_LEN)
                up = (const uint8_t *)k.mv_data + k.mv_size - SOUK_PSEUDO_LEN;
            else if (i == 9 && souk__ev_decode(&k, &v, &rec) == SOUK_OK)
                up = rec.upseudo;
            if (up && memcmp(up, last, SOUK_PSEUDO_LEN)) {
                memcpy(last, up, SOUK_PSEUDO_LEN);
                rc = note_user(s, x, up);
            }
            r = mdb_cursor_get(c, &k, &v, MDB_NEXT);
        }
        mdb_cursor_close(c);
        if (rc == SOUK_OK && r != MDB_NOTFOUND)
            rc = souk_kv_err(r);
    }
    return rc;
}

static int put_i64(uint8_t *p, int64_t x)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)((uint64_t)x >> (8 * i));
    return 8;
}

/* One transaction: the suppression records and completed job records of every entry, and the
 * rows of every user found. */
static int apply_write(souk_events *s, MDB_txn *txn, void *arg)
{
    apply_ctx *x = arg;
    x->st.suppressions_added = x->st.jobs_added = x->st.users_erased = 0;
    hm_clear(&x->users);
    int rc = find_users(s, txn, x);
    for (size_t ii = 0; rc == SOUK_OK && ii < x->entries->cap; ii++) {
        const hm_ent *ent = &x->entries->e[ii];
        if (!ent->kv)
            continue;
        const uint8_t *it_key = ent->kv;
        const void *it_val = hm_val(x->entries, ent);
        (void)it_val;
        const lentry *e = it_val;
        MDB_val k = {SOUK_SUPPRESS_LEN, (void *)it_key}, v;
        uint8_t ms[8];
        put_i64(ms, e->ms);
        v.mv_size = 8;
        v.mv_data = ms;
        int r = mdb_put(txn, s->supp, &k, &v, MDB_NOOVERWRITE);
        if (r == 0)
            x->st.suppressions_added++;
        else if (r != MDB_KEYEXIST)
            rc = souk_kv_err(r);
        /* The job record, completed, unless the copy has the job (then erase_run finishes it). */
        MDB_val jk = {16, (void *)e->job}, jv;
        r = rc ? 0 : mdb_get(txn, s->jobs, &jk, &jv);
        if (r == MDB_NOTFOUND) {
            uint8_t rec[1 + 8 + 8 + SOUK_SUPPRESS_LEN];
            rec[0] = SOUK_JOB_COMPLETED;
            put_i64(rec + 1, e->ms);
            put_i64(rec + 9, e->ms);
            memcpy(rec + 17, it_key, SOUK_SUPPRESS_LEN);
            jv.mv_size = sizeof rec;
            jv.mv_data = rec;
            if ((r = mdb_put(txn, s->jobs, &jk, &jv, 0)) == 0)
                x->st.jobs_added++;
        }
        if (r && r != MDB_NOTFOUND && rc == SOUK_OK)
            rc = souk_kv_err(r);
    }
    for (size_t ii = 0; rc == SOUK_OK && ii < x->users.cap; ii++) {
        const hm_ent *ent = &x->users.e[ii];
        if (!ent->kv)
            continue;
        const uint8_t *it_key = ent->kv;
        const void *it_val = hm_val(&x->users, ent);
        (void)it_val;
        uint8_t up[SOUK_PSEUDO_LEN];
        memcpy(up, it_key, sizeof up);
        rc = souk__ev_forget_user(s, txn, up, 0);
        if (rc == SOUK_OK) {
            MDB_val ck = {SOUK_PSEUDO_LEN, up};
            int r = mdb_del(txn, s->consent, &ck, NULL);
            rc = r == MDB_NOTFOUND ? SOUK_OK : souk_kv_err(r);
        }
        x->st.users_erased++;
    }
    return rc;
}

int souk_events_apply_ledger(souk_events *s, const char *const *paths, size_t n, int64_t now,
                             souk_ledger_stats *st, char *err, size_t errlen)
{
    if (s->o.rdonly) {
        snprintf(err, errlen, "ledger: the store is open read-only");
        return SOUK_EINVAL;
    }
    hmap entries;
    hm_init(&entries, sizeof(lentry));
    apply_ctx x;
    memset(&x, 0, sizeof x);
    x.entries = &entries;
    hm_init(&x.by_lh, SOUK_SUPPRESS_LEN);
    hm_init(&x.users, 1);
    /* The store's own ledger, then the others. */
    char own[4200];
    snprintf(own, sizeof own, "%s/" LEDGER_FILE, s->dir);
    hmap mine;
    hm_init(&mine, sizeof(lentry));
    int rc = ledger_read(own, &mine, err, errlen);
    for (size_t i = 0; i < n && rc == SOUK_OK; i++)
        rc = ledger_read(paths[i], &entries, err, errlen);
    for (size_t ii = 0; rc == SOUK_OK && ii < mine.cap; ii++) {
        const hm_ent *ent = &mine.e[ii];
        if (!ent->kv)
            continue;
        const uint8_t *it_key = ent->kv;
        const void *it_val = hm_val(&mine, ent);
        (void)it_val;
        int created;
        lentry *e = hm_put(&entries, it_key, SOUK_SUPPRESS_LEN, &created);
        if (!e)
            rc = SOUK_ENOMEM;
        else if (created)
            *e = *(const lentry *)it_val;
    }
    for (size_t ii = 0; rc == SOUK_OK && ii < entries.cap; ii++) {
        const hm_ent *ent = &entries.e[ii];
        if (!ent->kv)
            continue;
        const uint8_t *it_key = ent->kv;
        const void *it_val = hm_val(&entries, ent);
        (void)it_val;
        const lentry *e = it_val;
        uint8_t *h = hm_put(&x.by_lh, e->lh, SOUK_LEDGER_LEN, NULL);
        if (!h)
            rc = SOUK_ENOMEM;
        else
            memcpy(h, it_key, SOUK_SUPPRESS_LEN);
        x.st.entries++;
    }
    /* Entries the store's own ledger lacks join it first, so the restored directory's ledger
     * holds every erasure from here on. */
    if (rc == SOUK_OK) {
        int fd = open(own, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0)
            rc = SOUK_EIO;
        for (size_t ii = 0; rc == SOUK_OK && ii < entries.cap; ii++) {
            const hm_ent *ent = &entries.e[ii];
            if (!ent->kv)
                continue;
            const uint8_t *it_key = ent->kv;
            const void *it_val = hm_val(&entries, ent);
            (void)it_val;
            if (hm_get(&mine, it_key, SOUK_SUPPRESS_LEN))
                continue;
            const lentry *e = it_val;
            char j[33], h[33], l[33], line[LEDGER_LINE_MAX];
            hexs(e->job, 16, j);
            hexs(it_key, SOUK_SUPPRESS_LEN, h);
            hexs(e->lh, SOUK_LEDGER_LEN, l);
            int len = snprintf(line, sizeof line, "v1 %lld %s %s %s\n", (long long)e->ms, j, h, l);
            if (write(fd, line, (size_t)len) != len)
                rc = SOUK_EIO;
        }
        if (fd >= 0) {
            if (rc == SOUK_OK && fsync(fd) != 0)
                rc = SOUK_EIO;
            close(fd);
        }
        if (rc)
            snprintf(err, errlen, "ledger: appending to '%s': %s", own, strerror(errno));
    }
    if (rc == SOUK_OK && (rc = souk__ev_write(s, apply_write, &x)) != SOUK_OK)
        snprintf(err, errlen, "ledger: applying: %s", souk_strerror(rc));
    for (size_t ii = 0; rc == SOUK_OK && ii < x.users.cap; ii++) {
        const hm_ent *ent = &x.users.e[ii];
        if (!ent->kv)
            continue;
        const uint8_t *it_key = ent->kv;
        const void *it_val = hm_val(&x.users, ent);
        (void)it_val;
        uint8_t lh[SOUK_LEDGER_LEN];
        souk_pseudonym_ledger(s->o.keys, it_key, lh);
        const uint8_t *h = hm_get(&x.by_lh, lh, sizeof lh);
        if (h)
            souk__ev_audit_hash(s, "erase_reapplied", h, "restore", now);
    }
    /* Every byte of the users found goes with a compaction, as after an erasure. */
    if (rc == SOUK_OK && x.st.users_erased)
        rc = souk__ev_compact(s, err, errlen);
    if (rc == SOUK_OK && st)
        *st = x.st;
    hm_free(&entries);
    hm_free(&mine);
    hm_free(&x.by_lh);
    hm_free(&x.users);
    return rc;
}
