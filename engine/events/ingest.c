/* ingest.c: souk_events_ingest: an NDJSON event stream -> the store, in batches, resumable like
 * the catalog stream (engine/catalog/ingest.c): each batch commits, in the same transaction, the
 * stream offset after its last line and a hash of every byte before it (meta "stream"). A
 * regular file whose bytes before that offset hash the same resumes there; any other stream is
 * read from its start, which is safe: event ids make a replay apply nothing twice (DUPLICATE).
 *
 * Rejected lines go to the rejects file as {line, offset, error}, without the line itself: a
 * rejected event may hold a raw user id, which no log of the store keeps (P1). */
#include "core/stream_hash.h"
#include "events/events_int.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define READ_CHUNK ((size_t)1 << 20)
#define LINE_MAX_BYTES 65536

int souk__ev_stream_pos(souk_events *s, uint64_t out[5])
{
    MDB_txn *txn;
    int rc = souk__ev_begin(s, MDB_RDONLY, &txn);
    if (rc)
        return rc;
    MDB_val k = {6, "stream"}, v;
    rc = mdb_get(txn, s->meta, &k, &v);
    if (rc == 0 && v.mv_size == 40)
        memcpy(out, v.mv_data, 40);
    souk__ev_abort(s, txn);
    return rc == 0 ? (v.mv_size == 40 ? SOUK_OK : SOUK_ECORRUPT) : souk_kv_err(rc);
}

/* 1 when fd holds the stream stopped at off with hash want: at least off bytes, a newline at
 * off - 1, and the same hash of [0, off) (returned in *h). 0 otherwise, -1 on a read error. */
static int same_stream(int fd, uint64_t off, uint64_t want, souk_stream_hash *h)
{
    uint8_t *buf = souk_malloc(READ_CHUNK);
    if (!buf)
        return -1;
    memset(h, 0, sizeof *h);
    uint64_t at = 0;
    int rc = 1;
    uint8_t lastb = 0;
    while (at < off) {
        size_t n = off - at < READ_CHUNK ? (size_t)(off - at) : READ_CHUNK;
        ssize_t got = pread(fd, buf, n, (off_t)at);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            rc = got < 0 ? -1 : 0;
            break;
        }
        souk__sh_update(h, buf, (size_t)got);
        at += (uint64_t)got;
        lastb = buf[got - 1];
    }
    souk_free(buf);
    if (rc == 1 && (lastb != '\n' || souk__sh_final(h) != want))
        rc = 0;
    return rc;
}

static void reject(const souk_ev_ingest_opts *o, const char *name, uint64_t line, uint64_t off,
                   const char *why, uint64_t nrej)
{
    if (nrej < 10)
        fprintf(stderr, "souk: %s:%llu: rejected: %s\n", name, (unsigned long long)line, why);
    else if (nrej == 10)
        fprintf(stderr, "souk: further rejects only in the rejects file\n");
    if (!o->rejects)
        return;
    cJSON *j = cJSON_CreateObject();
    if (!j)
        return;
    cJSON_AddNumberToObject(j, "line", (double)line);
    cJSON_AddNumberToObject(j, "offset", (double)off);
    cJSON_AddStringToObject(j, "error", why);
    char *t = cJSON_PrintUnformatted(j);
    if (t) {
        fprintf(o->rejects, "%s\n", t);
        cJSON_free(t);
    }
    cJSON_Delete(j);
}

static int64_t clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The ingest runs on two threads: a parser (reads, parses, hashes the stream and computes the
 * events' ids) and the caller's thread, which commits batches. Two slots pass batches between
 * them, so parsing the next batch overlaps writing this one. */
typedef struct slot {
    souk_event *evs;
    souk__ev_pre *pre;
    size_t n;
    uint64_t pos[5];
    int has_pos; /* pos is the stream position after the batch's last whole line */
    int full;
} slot;

typedef struct pipe_ctx {
    souk_events *s;
    int fd;
    const char *name;
    souk_ev_ingest_opts o;
    souk_ev_ingest_stats *st;
    struct stat sb;
    int is_file;
    souk_stream_hash hash;
    uint64_t offset, line;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    slot slots[2];
    int done;  /* the parser finished (no more slots will fill) */
    int abort; /* the writer failed: the parser stops */
    int rc;    /* the parser's error */
    char err[256];
    hmap ids; /* the parser's pseudonym cache */
} pipe_ctx;

/* Hands slot i to the writer and waits for the next one to be free. Returns 0, or -1 when the
 * writer aborted. */
static int hand_over(pipe_ctx *c, int *i)
{
    pthread_mutex_lock(&c->mu);
    c->slots[*i].full = 1;
    pthread_cond_broadcast(&c->cv);
    *i ^= 1;
    while (c->slots[*i].full && !c->abort)
        pthread_cond_wait(&c->cv, &c->mu);
    int ab = c->abort;
    pthread_mutex_unlock(&c->mu);
    c->slots[*i].n = 0;
    c->slots[*i].has_pos = 0;
    return ab ? -1 : 0;
}

static void *parser_main(void *arg)
{
    pipe_ctx *c = arg;
    const souk_ev_ingest_opts *o = &c->o;
    souk_ev_ingest_stats *st = c->st;
    size_t cap = READ_CHUNK + LINE_MAX_BYTES, start = 0, end = 0;
    char *buf = souk_malloc(cap);
    int cur = 0, rc = SOUK_OK;
    if (!buf) {
        rc = SOUK_ENOMEM;
        goto out;
    }
    souk_stream_hash pend_hash = c->hash; /* the stream up to the last complete line read */
    uint64_t pend_off = c->offset, pend_line = c->line, committed = c->offset;
    int eof = 0, skipping = 0;
    char perr[256];
#define SET_POS(sl)                                                                                \
    do {                                                                                           \
        (sl)->pos[0] = pend_off;                                                                   \
        (sl)->pos[1] = pend_line;                                                                  \
        (sl)->pos[2] = souk__sh_final(&pend_hash);                                                 \
        (sl)->pos[3] = c->is_file ? (uint64_t)c->sb.st_dev : 0;                                    \
        (sl)->pos[4] = c->is_file ? (uint64_t)c->sb.st_ino : 0;                                    \
        (sl)->has_pos = 1;                                                                         \
    } while (0)
    for (;;) {
        char *nl;
        while ((nl = memchr(buf + start, '\n', end - start)) != NULL) {
            size_t len = (size_t)(nl - (buf + start));
            const char *l = buf + start;
            uint64_t loff = pend_off;
            souk__sh_update(&pend_hash, l, len + 1);
            pend_off += len + 1;
            pend_line++;
            start += len + 1;
            if (skipping) { /* the tail of an over-long line */
                skipping = 0;
                continue;
            }
            size_t tl = len;
            while (tl && (l[tl - 1] == '\r' || l[tl - 1] == ' ' || l[tl - 1] == '\t'))
                tl--;
            if (tl == 0)
                continue;
            st->lines++;
            slot *sl = &c->slots[cur];
            unsigned dropped = 0;
            int prc = souk_event_parse(l, tl, &sl->evs[sl->n], &dropped, perr, sizeof perr);
            if (prc == SOUK_ENOMEM) {
                rc = prc;
                goto out;
            }
            if (prc) {
                reject(o, c->name, pend_line, loff, perr, st->rejected++);
                continue;
            }
            st->dropped_fields += dropped;
            if (souk__ev_precompute(c->s, &c->ids, &sl->evs[sl->n], &sl->pre[sl->n])) {
                rc = SOUK_ENOMEM;
                goto out;
            }
            if (++sl->n == o->batch) {
                SET_POS(sl);
                committed = pend_off;
                if (hand_over(c, &cur))
                    goto out;
            }
        }
        if (end - start >= LINE_MAX_BYTES) {
            /* A line over the cap: reject it and skip to its newline. */
            if (!skipping)
                reject(o, c->name, pend_line + 1, pend_off, "event: longer than 65536 bytes",
                       st->rejected++);
            skipping = 1;
            souk__sh_update(&pend_hash, buf + start, end - start);
            pend_off += end - start;
            start = end;
        }
        if (start > 0) {
            memmove(buf, buf + start, end - start);
            end -= start;
            start = 0;
        }
        if (eof)
            break;
        ssize_t got = read(c->fd, buf + end, cap - end);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            snprintf(c->err, sizeof c->err, "%s: read error: %s", c->name, strerror(errno));
            rc = SOUK_EIO;
            goto out;
        }
        if (got > 0) {
            end += (size_t)got;
            continue;
        }
        /* The end of what there is: commit, then wait for more when following. */
        if (c->slots[cur].n || pend_off != committed) {
            SET_POS(&c->slots[cur]);
            committed = pend_off;
            if (hand_over(c, &cur))
                goto out;
        }
        if (!o->follow || (o->stop && *o->stop)) {
            eof = 1;
            continue;
        }
        struct stat now;
        if (c->is_file && fstat(c->fd, &now) == 0 && (uint64_t)now.st_size < pend_off + end) {
            fprintf(stderr, "souk: %s: the file was truncated: reading it from the start\n",
                    c->name);
            lseek(c->fd, 0, SEEK_SET);
            memset(&pend_hash, 0, sizeof pend_hash);
            pend_off = pend_line = committed = 0;
            start = end = 0;
            skipping = 0;
            continue;
        }
        usleep(100 * 1000);
        if (o->stop && *o->stop)
            eof = 1;
    }
    /* A last line without its newline (not following): applied, but not committed as read, so
     * a resume reads it again (and finds it a duplicate). */
    if (end > start && !skipping) {
        slot *sl = &c->slots[cur];
        unsigned dropped = 0;
        st->lines++;
        if (souk_event_parse(buf + start, end - start, &sl->evs[0], &dropped, perr, sizeof perr))
            reject(o, c->name, pend_line + 1, pend_off, perr, st->rejected++);
        else {
            if (souk__ev_precompute(c->s, &c->ids, &sl->evs[0], &sl->pre[0])) {
                rc = SOUK_ENOMEM;
                goto out;
            }
            sl->n = 1;
            sl->has_pos = 0;
            hand_over(c, &cur);
        }
    }
#undef SET_POS
out:
    souk_free(buf);
    pthread_mutex_lock(&c->mu);
    c->rc = rc;
    c->done = 1;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    return NULL;
}

int souk_events_ingest(souk_events *s, int fd, const char *name, const souk_ev_ingest_opts *opts,
                       souk_ev_ingest_stats *st, char *err, size_t errlen)
{
    pipe_ctx *c = souk_calloc(1, sizeof *c);
    if (!c)
        return SOUK_ENOMEM;
    c->s = s;
    c->fd = fd;
    c->name = name;
    c->o = *opts;
    if (!c->o.batch)
        c->o.batch = 10000;
    c->st = st;
    memset(st, 0, sizeof *st);
    if (errlen)
        err[0] = 0;
    double t0 = mono();
    c->is_file = fstat(fd, &c->sb) == 0 && S_ISREG(c->sb.st_mode);
    int rc = SOUK_OK;
    if (c->is_file && !c->o.from_start) {
        uint64_t pos[5];
        if (souk__ev_stream_pos(s, pos) == SOUK_OK && pos[0] > 0) {
            souk_stream_hash h;
            int same = (uint64_t)c->sb.st_size >= pos[0] ? same_stream(fd, pos[0], pos[2], &h) : 0;
            if (same < 0) {
                snprintf(err, errlen, "%s: read error: %s", name, strerror(errno));
                souk_free(c);
                return SOUK_EIO;
            }
            if (same && lseek(fd, (off_t)pos[0], SEEK_SET) == (off_t)pos[0]) {
                c->hash = h;
                c->offset = pos[0];
                c->line = pos[1];
                st->resumed_at = c->offset;
                if (c->o.progress)
                    fprintf(stderr, "souk: %s: resuming after line %llu (byte %llu)\n", name,
                            (unsigned long long)c->line, (unsigned long long)c->offset);
            } else {
                fprintf(stderr,
                        "souk: %s: not the stream the store stopped in at byte %llu: reading it "
                        "from the start (events already stored count as duplicates)\n",
                        name, (unsigned long long)pos[0]);
            }
        }
    }
    for (int i = 0; i < 2; i++) {
        c->slots[i].evs = souk_malloc(c->o.batch * sizeof(souk_event));
        c->slots[i].pre = souk_malloc(c->o.batch * sizeof(souk__ev_pre));
        if (!c->slots[i].evs || !c->slots[i].pre)
            rc = SOUK_ENOMEM;
    }
    hm_init(&c->ids, SOUK_PSEUDO_LEN + SOUK_SUPPRESS_LEN);
    pthread_t th;
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    if (!rc && pthread_create(&th, NULL, parser_main, c) != 0)
        rc = SOUK_ENOMEM;
    if (!rc) {
        int i = 0;
        for (;;) {
            pthread_mutex_lock(&c->mu);
            while (!c->slots[i].full && !c->done)
                pthread_cond_wait(&c->cv, &c->mu);
            int full = c->slots[i].full;
            pthread_mutex_unlock(&c->mu);
            if (!full)
                break;
            slot *sl = &c->slots[i];
            rc = souk__ev_add(s, sl->evs, sl->pre, sl->n, c->o.now_ms ? c->o.now_ms : clock_ms(),
                              NULL, &st->counts, sl->has_pos ? sl->pos : NULL,
                              sl->has_pos ? sizeof sl->pos : 0, err, errlen);
            st->commits++;
            pthread_mutex_lock(&c->mu);
            sl->full = 0;
            if (rc)
                c->abort = 1;
            pthread_cond_broadcast(&c->cv);
            pthread_mutex_unlock(&c->mu);
            if (rc)
                break;
            i ^= 1;
        }
        pthread_join(th, NULL);
        if (!rc && c->rc) {
            rc = c->rc;
            snprintf(err, errlen, "%s", c->err[0] ? c->err : souk_strerror(rc));
        }
    }
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    hm_free(&c->ids);
    for (int i = 0; i < 2; i++) {
        souk_free(c->slots[i].evs);
        souk_free(c->slots[i].pre);
    }
    souk_free(c);
    st->seconds = mono() - t0;
    if (rc == SOUK_ENOMEM && err[0] == 0)
        snprintf(err, errlen, "%s: out of memory", name);
    return rc;
}
