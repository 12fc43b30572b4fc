/* inbox.c: accepted events waiting to be added (souk_events_enqueue, souk_events_drain).
 *
 * Adding events keeps every derived table, and a small batch dirties pages all over the
 * co-occurrence table: an add of 100 MovieLens events costs ~20 ms, most of it writing pages
 * back, and it holds LMDB's one writer lock meanwhile (docs/benchmarks.md). The server's
 * POST /v1/events therefore appends each request's events to the inbox, a file beside the
 * environment (DIR/events/inbox.log: one write and one fdatasync), and answers; its background
 * thread drains the inbox into the store in one souk__ev_add, so requests arriving together
 * share the cost of their pages, and an append never waits for an add.
 *
 * The inbox holds no raw id (P1): each event with its user and session replaced by the hex of
 * their pseudonyms (unique per user, so the add's per-user state is keyed the same), and what
 * souk__ev_precompute computed from the raw ids (event id, pseudonyms, suppression hash). Only
 * what the add would keep goes in, as it would keep it (nothing of a suppressed user, no user or
 * session for an opted-out one, no location without its consent).
 *
 * A drain renames inbox.log to inbox.<N>.drain (under inbox_mu, so appends go to a new
 * inbox.log), adds every complete record of each drain file in number order, then unlinks it.
 * A crash between the add and the unlink adds the file again, and every event is then a
 * duplicate (event ids): nothing is counted twice. A record is u32 LE length, payload, and a
 * 16-byte BLAKE2b of the payload; a torn last record (a crash mid-append, never acknowledged)
 * fails its check and ends the file. Erasure drains first (erase.c), so an erased user's inbox
 * rows are in no file when the compaction runs. One process appends to a store's inbox (the
 * server); souk-index events adds directly.
 *
 * Payload: per event: type(1), ts i64 LE, nhits i32 LE, has user(1), has session(1), item,
 * query, country, region as len(2 LE) + bytes, then the precomputed souk__ev_pre. */
#include "events/events_int.h"
#include "souk/buf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PRE_LEN sizeof(souk__ev_pre)

static size_t put_str(uint8_t *p, const char *s)
{
    size_t n = strlen(s);
    p[0] = (uint8_t)n;
    p[1] = (uint8_t)(n >> 8);
    memcpy(p + 2, s, n);
    return 2 + n;
}

static size_t enc_event(uint8_t *p, const souk_event *e, const souk__ev_pre *pre)
{
    size_t o = 0;
    p[o++] = (uint8_t)e->type;
    int64_t ts = e->ts_ms;
    int32_t nh = e->nhits;
    memcpy(p + o, &ts, 8);
    o += 8;
    memcpy(p + o, &nh, 4);
    o += 4;
    p[o++] = e->user[0] != 0;
    p[o++] = e->session[0] != 0;
    o += put_str(p + o, e->item);
    o += put_str(p + o, e->query);
    o += put_str(p + o, e->country);
    o += put_str(p + o, e->region);
    memcpy(p + o, pre, PRE_LEN);
    return o + PRE_LEN;
}

static int get_str(const uint8_t **p, const uint8_t *end, char *out, size_t cap)
{
    if (end - *p < 2)
        return -1;
    size_t n = (size_t)(*p)[0] | (size_t)(*p)[1] << 8;
    if (n >= cap || (size_t)(end - *p - 2) < n)
        return -1;
    memcpy(out, *p + 2, n);
    out[n] = 0;
    *p += 2 + n;
    return 0;
}

/* Decodes one event at *p; its user and session become the hex of their pseudonyms. */
static int dec_event(const uint8_t **p, const uint8_t *end, souk_event *e, souk__ev_pre *pre)
{
    memset(e, 0, sizeof *e);
    if (end - *p < 15)
        return -1;
    const uint8_t *q = *p;
    e->type = (souk_ev_type)q[0];
    memcpy(&e->ts_ms, q + 1, 8);
    memcpy(&e->nhits, q + 9, 4);
    int has_user = q[13], has_session = q[14];
    *p = q + 15;
    if (get_str(p, end, e->item, sizeof e->item) || get_str(p, end, e->query, sizeof e->query) ||
        get_str(p, end, e->country, sizeof e->country) ||
        get_str(p, end, e->region, sizeof e->region) || (size_t)(end - *p) < PRE_LEN ||
        (unsigned)e->type >= SOUK_EV_NTYPES)
        return -1;
    memcpy(pre, *p, PRE_LEN);
    *p += PRE_LEN;
    if (has_user)
        sodium_bin2hex(e->user, sizeof e->user, pre->up, SOUK_PSEUDO_LEN);
    if (has_session)
        sodium_bin2hex(e->session, sizeof e->session, pre->sp, SOUK_PSEUDO_LEN);
    return 0;
}

#define SUM_LEN 16

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Appends one record (payload row[0..len)) to inbox.log and makes it durable. */
static int append(souk_events *s, const uint8_t *row, size_t len, char *err, size_t errlen)
{
    uint8_t head[4] = {(uint8_t)len, (uint8_t)(len >> 8), (uint8_t)(len >> 16),
                       (uint8_t)(len >> 24)};
    uint8_t sum[SUM_LEN];
    crypto_generichash(sum, sizeof sum, row, len, NULL, 0);
    pthread_mutex_lock(&s->inbox_mu);
    int rc = SOUK_OK;
    if (s->inbox_bytes + len > SOUK_INBOX_MAX) {
        /* Accepting faster than the adds keep up: the caller says so (503), nothing is lost. */
        pthread_mutex_unlock(&s->inbox_mu);
        snprintf(err, errlen, "%s: the inbox holds %zu MiB not yet added; retry shortly", s->dir,
                 s->inbox_bytes >> 20);
        return SOUK_ETOOBIG;
    }
    if (s->inbox_fd < 0) {
        char path[4200];
        snprintf(path, sizeof path, "%s/inbox.log", s->dir);
        s->inbox_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    }
    if (s->inbox_fd < 0 || write_all(s->inbox_fd, head, 4) || write_all(s->inbox_fd, row, len) ||
        write_all(s->inbox_fd, sum, sizeof sum) || fdatasync(s->inbox_fd)) {
        snprintf(err, errlen, "%s/inbox.log: %s", s->dir, strerror(errno));
        rc = errno == ENOSPC ? SOUK_EFULL : SOUK_EIO;
        /* A record cut short stays unacknowledged: the next append starts a clean file. */
        if (s->inbox_fd >= 0)
            close(s->inbox_fd);
        s->inbox_fd = -1;
    } else
        s->inbox_bytes += 4 + len + SUM_LEN;
    pthread_mutex_unlock(&s->inbox_mu);
    return rc;
}

/* What adding e would do now, as far as the store's state tells before the add: expired,
 * suppressed, duplicate (already stored), stored (personal) or anonymous; *loc: whether its
 * location may be kept (P6); *hist: whether the user keeps a search history. */
static souk_ev_outcome predict(souk_events *s, MDB_txn *txn, const souk_event *e,
                               const souk__ev_pre *pre, int64_t now, int *loc, int *hist)
{
    *loc = *hist = 0;
    if (souk__ev_expired(s, e->type, e->ts_ms, now))
        return SOUK_EVO_EXPIRED;
    souk_consent c = s->o.consent_default;
    if (e->user[0]) {
        MDB_val k = {SOUK_SUPPRESS_LEN, (void *)(pre->up + SOUK_PSEUDO_LEN)}, v;
        if (mdb_get(txn, s->supp, &k, &v) == 0)
            return SOUK_EVO_SUPPRESSED;
        if (souk__ev_consent_read(s, txn, pre->up, &c) != SOUK_OK)
            c = s->o.consent_default;
    }
    *loc = c.location;
    *hist = c.search_history;
    uint8_t key[8 + SOUK_EID_LEN];
    souk__be64(key, (uint64_t)e->ts_ms);
    memcpy(key + 8, pre->eid, SOUK_EID_LEN);
    MDB_val k = {sizeof key, key}, v;
    if (mdb_get(txn, s->ev, &k, &v) == 0)
        return SOUK_EVO_DUPLICATE;
    return e->user[0] && souk__ev_personalize(&c) ? SOUK_EVO_STORED : SOUK_EVO_ANONYMOUS;
}

int souk_events_enqueue(souk_events *s, const souk_event *ev, size_t n, int64_t now,
                        souk_ev_outcome *outcome, souk_ev_counts *counts, char *err, size_t errlen)
{
    err[0] = 0;
    if (s->o.rdonly) {
        snprintf(err, errlen, "%s: opened read-only", s->dir);
        return SOUK_EINVAL;
    }
    if (n == 0)
        return SOUK_OK;
    /* The longest encoding: 15 bytes, four strings with their lengths, the precomputed part. */
    size_t per =
        15 + 8 + SOUK_ITEM_MAX + SOUK_EVQUERY_MAX + SOUK_COUNTRY_LEN + SOUK_REGION_MAX + PRE_LEN;
    uint8_t *row = souk_malloc(n * per);
    souk__ev_pre *pre = souk_calloc(n, sizeof *pre);
    hmap cache;
    hm_init(&cache, SOUK_PSEUDO_LEN + SOUK_SUPPRESS_LEN);
    int rc = row && pre ? SOUK_OK : SOUK_ENOMEM;
    size_t len = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        if ((unsigned)ev[i].type >= SOUK_EV_NTYPES) {
            snprintf(err, errlen, "event %zu: bad type", i);
            rc = SOUK_EINVAL;
        } else
            rc = souk__ev_precompute(s, &cache, &ev[i], &pre[i]);
    }
    hm_free(&cache); /* raw ids */
    /* Only what the add would keep goes in, as it would keep it: nothing of a suppressed user
     * (erased: P13), an opted-out or anonymous user's event with no user or session (P5), no
     * location without its consent (P6). The add decides again when the inbox is drained. */
    MDB_txn *txn = NULL;
    if (!rc)
        rc = souk__ev_begin(s, MDB_RDONLY, &txn);
    souk_event e;
    for (size_t i = 0; i < n && !rc; i++) {
        int loc, hist;
        souk_ev_outcome o = predict(s, txn, &ev[i], &pre[i], now, &loc, &hist);
        if (outcome)
            outcome[i] = o;
        if (counts) {
            uint64_t *f[] = {&counts->stored, &counts->anonymous, &counts->duplicate,
                             &counts->suppressed, &counts->expired};
            (*f[o])++;
        }
        if (o != SOUK_EVO_STORED && o != SOUK_EVO_ANONYMOUS)
            continue;
        e = ev[i];
        souk__ev_pre p = pre[i];
        if (o == SOUK_EVO_ANONYMOUS) {
            /* A search still joins the search history of a user who keeps it (PRIVACY.md's
             * settled questions): the user stays, the session does not. */
            if (!(e.type == SOUK_EV_SEARCH && hist)) {
                e.user[0] = 0;
                memset(p.up, 0, sizeof p.up);
            }
            e.session[0] = 0;
            memset(p.sp, 0, sizeof p.sp);
        }
        if (!loc)
            e.country[0] = e.region[0] = 0;
        len += enc_event(row + len, &e, &p);
    }
    if (txn)
        souk__ev_abort(s, txn);
    sodium_memzero(&e, sizeof e);
    if (!rc && len)
        rc = append(s, row, len, err, errlen);
    if (rc && !err[0])
        snprintf(err, errlen, "%s: queueing %zu events: %s", s->dir, n, souk_strerror(rc));
    if (row)
        sodium_memzero(row, n * per);
    souk_free(row);
    souk_free(pre);
    return rc;
}

/* Adds every complete record of the drain file path, then removes it. */
static int drain_file(souk_events *s, const char *path, int64_t now, souk_ev_counts *counts,
                      char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return SOUK_EIO;
    }
    struct stat sb;
    uint8_t *buf = NULL;
    size_t size = 0;
    int rc = SOUK_OK;
    if (fstat(fd, &sb) != 0)
        rc = SOUK_EIO;
    else if ((size = (size_t)sb.st_size) > 0 && !(buf = souk_malloc(size)))
        rc = SOUK_ENOMEM;
    for (size_t got = 0; !rc && got < size;) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            rc = SOUK_EIO;
        else
            got += (size_t)r;
    }
    close(fd);
    souk_event *evs = NULL;
    souk__ev_pre *pre = NULL;
    size_t n = 0, cap = 0;
    for (size_t at = 0; !rc && at + 4 + SUM_LEN <= size;) {
        size_t len = (size_t)buf[at] | (size_t)buf[at + 1] << 8 | (size_t)buf[at + 2] << 16 |
                     (size_t)buf[at + 3] << 24;
        uint8_t sum[SUM_LEN];
        if (len > size - at - 4 - SUM_LEN)
            break; /* torn */
        crypto_generichash(sum, sizeof sum, buf + at + 4, len, NULL, 0);
        if (sodium_memcmp(sum, buf + at + 4 + len, SUM_LEN) != 0)
            break;
        const uint8_t *p = buf + at + 4, *end = p + len;
        while (p < end && !rc) {
            if (n == cap) { /* two arrays of one capacity, each grown from it */
                size_t ce = cap, cp = cap;
                if ((rc = souk_grow_first((void **)&evs, &ce, n + 1, sizeof *evs, SIZE_MAX,
                                          1024)) != SOUK_OK ||
                    (rc = souk_grow_first((void **)&pre, &cp, n + 1, sizeof *pre, SIZE_MAX,
                                          1024)) != SOUK_OK)
                    break;
                cap = ce < cp ? ce : cp;
            }
            if (dec_event(&p, end, &evs[n], &pre[n]) != 0)
                rc = SOUK_ECORRUPT;
            else
                n++;
        }
        at += 4 + len + SUM_LEN;
    }
    if (buf)
        sodium_memzero(buf, size);
    souk_free(buf);
    if (rc == SOUK_EIO)
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
    else if (rc)
        snprintf(err, errlen, "%s: %s", path, souk_strerror(rc));
    if (!rc && n)
        rc = souk__ev_add(s, evs, pre, n, now, NULL, counts, NULL, 0, err, errlen);
    if (!rc) {
        pthread_mutex_lock(&s->inbox_mu);
        s->inbox_bytes = s->inbox_bytes > size ? s->inbox_bytes - size : 0;
        pthread_mutex_unlock(&s->inbox_mu);
    }
    if (!rc && unlink(path) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        rc = SOUK_EIO;
    }
    if (evs)
        sodium_memzero(evs, cap * sizeof *evs);
    souk_free(evs);
    souk_free(pre);
    return rc;
}

static int by_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The numbers of the drain files in the store's directory, sorted (souk_malloc'd). */
static int drain_files(const char *dir, uint64_t **out, size_t *n)
{
    DIR *d = opendir(dir);
    if (!d)
        return SOUK_EIO;
    uint64_t *v = NULL;
    size_t cnt = 0, cap = 0;
    struct dirent *de;
    int rc = SOUK_OK;
    while ((de = readdir(d)) != NULL) {
        unsigned long long x;
        char tail[16];
        if (sscanf(de->d_name, "inbox.%llu.%15s", &x, tail) != 2 || strcmp(tail, "drain") != 0)
            continue;
        if ((rc = souk_grow((void **)&v, &cap, cnt + 1, sizeof *v, SIZE_MAX)) != SOUK_OK)
            break;
        v[cnt++] = x;
    }
    closedir(d);
    if (rc) {
        souk_free(v);
        return rc;
    }
    if (cnt)
        qsort(v, cnt, sizeof *v, by_u64);
    *out = v;
    *n = cnt;
    return SOUK_OK;
}

int souk_events_drain(souk_events *s, int64_t now, souk_ev_counts *counts, char *err, size_t errlen)
{
    err[0] = 0;
    if (s->o.rdonly)
        return SOUK_OK;
    pthread_mutex_lock(&s->drain_mu);
    uint64_t *nums = NULL;
    size_t nn = 0;
    int rc = drain_files(s->dir, &nums, &nn);
    char log[4200], path[4200];
    snprintf(log, sizeof log, "%s/inbox.log", s->dir);
    if (!rc) {
        /* What is appended until now becomes the next drain file. */
        struct stat sb;
        pthread_mutex_lock(&s->inbox_mu);
        if (s->inbox_seq == 0)
            s->inbox_seq = nn ? nums[nn - 1] + 1 : 1;
        if (stat(log, &sb) == 0 && sb.st_size > 0) {
            snprintf(path, sizeof path, "%s/inbox.%llu.drain", s->dir,
                     (unsigned long long)s->inbox_seq);
            if (rename(log, path) == 0) {
                if (s->inbox_fd >= 0)
                    close(s->inbox_fd);
                s->inbox_fd = -1;
                uint64_t *nv = souk_realloc(nums, (nn + 1) * sizeof *nv);
                if (nv) {
                    nums = nv;
                    nums[nn++] = s->inbox_seq;
                } else
                    rc = SOUK_ENOMEM;
                s->inbox_seq++;
            } else {
                snprintf(err, errlen, "%s: %s", log, strerror(errno));
                rc = SOUK_EIO;
            }
        }
        pthread_mutex_unlock(&s->inbox_mu);
    } else
        snprintf(err, errlen, "%s: listing the inbox: %s", s->dir, souk_strerror(rc));
    for (size_t i = 0; i < nn && !rc; i++) {
        snprintf(path, sizeof path, "%s/inbox.%llu.drain", s->dir, (unsigned long long)nums[i]);
        rc = drain_file(s, path, now, counts, err, errlen);
    }
    souk_free(nums);
    pthread_mutex_unlock(&s->drain_mu);
    return rc;
}
