/* ingest.c: catalog stream -> index (see souk/ingest.h).
 *
 * The main thread reads lines into chunks; analysis threads turn each chunk into analyzed
 * documents (JSON parsing, validation, Xapian analysis), and the main thread hands the results
 * to the writer in stream order and commits in batches. Results are consumed strictly in order,
 * so the index does not depend on the number of threads. */
#include "souk/buf.h"
#include "core/stream_hash.h"
#include "souk/ingest.h"
#include "souk/document.h"
#include "souk/souk.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CHUNK_LINES 256
#define NSLOTS 8
#define FP_LEN 80
#define REJECT_ECHO 10 /* rejects also echoed on stderr, at most */

enum { SLOT_EMPTY, SLOT_FILLED, SLOT_BUSY, SLOT_DONE };

typedef struct lineres {
    int rc;
    int del;
    char err[240];
    souk_doc doc;
} lineres;

typedef struct slot {
    int state;
    size_t n;
    char *data; /* line bytes */
    size_t len, cap;
    size_t off[CHUNK_LINES + 1]; /* line i is data[off[i], off[i+1]) minus the newline */
    uint64_t lineno[CHUNK_LINES];
    uint64_t end_offset[CHUNK_LINES];       /* stream offset after line i */
    souk_stream_hash end_hash[CHUNK_LINES]; /* hash of the stream up to there */
    int toolong[CHUNK_LINES];               /* line was over the cap: only its head is kept */
    lineres res[CHUNK_LINES];
    uint8_t *mem; /* copies of analyzed documents */
    size_t mlen, mcap;
} slot;

typedef struct ingest_ctx {
    souk_index *ix;
    const souk_schema *schema;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    slot slots[NSLOTS];
    int quit;
    int oom;
} ingest_ctx;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Bump copy into the slot's memory; offsets are fixed up by the caller via base moves, so the
 * slot memory is sized before use (see analyze_slot). */
static void *slot_copy(slot *s, const void *p, size_t n)
{
    size_t at = (s->mlen + 7) & ~(size_t)7;
    if (at + n > s->mcap)
        return NULL;
    if (n)
        memcpy(s->mem + at, p, n);
    s->mlen = at + n;
    return s->mem + at;
}

/* Size needed to copy doc into slot memory. */
static size_t doc_size(const souk_doc *d)
{
    size_t n = d->id_len + d->stored_len + d->termlist_len + 96;
    size_t npos = 0;
    for (uint32_t i = 0; i < d->nterms; i++) {
        n += d->terms[i].len + 8;
        npos += d->terms[i].npos;
    }
    n += d->nterms * sizeof(souk_dterm) + npos * 4 + d->nattrs * (sizeof(souk_dattr) + 8);
    for (uint32_t i = 0; i < d->nattrs; i++)
        n += d->attrs[i].str_len + 8;
    return n;
}

/* Copies doc (builder memory) into the slot so it survives the next parse. */
static int keep_doc(slot *s, souk_doc *d)
{
    size_t need = doc_size(d);
    if (s->mlen + need + 64 > s->mcap)
        return SOUK_ENOMEM; /* caller grows and retries the whole slot */
    souk_doc c = *d;
    size_t npos = 0;
    for (uint32_t i = 0; i < d->nterms; i++)
        npos += d->terms[i].npos;
    c.id = slot_copy(s, d->id, d->id_len);
    c.stored = d->stored_len ? slot_copy(s, d->stored, d->stored_len) : "";
    c.termlist = d->termlist_len ? slot_copy(s, d->termlist, d->termlist_len) : NULL;
    if (d->termlist_len && !c.termlist)
        return SOUK_ENOMEM;
    souk_dterm *t = slot_copy(s, d->terms, d->nterms * sizeof *t);
    c.positions = slot_copy(s, d->positions, npos * 4);
    souk_dattr *a = slot_copy(s, d->attrs, d->nattrs * sizeof *a);
    if ((d->nterms && !t) || (d->nattrs && !a) || !c.id || !c.stored || (npos && !c.positions))
        return SOUK_ENOMEM;
    for (uint32_t i = 0; i < d->nterms; i++) {
        t[i].term = slot_copy(s, d->terms[i].term, d->terms[i].len);
        if (!t[i].term)
            return SOUK_ENOMEM;
    }
    for (uint32_t i = 0; i < d->nattrs; i++) {
        if (d->attrs[i].str) {
            a[i].str = slot_copy(s, d->attrs[i].str, d->attrs[i].str_len ? d->attrs[i].str_len : 1);
            if (!a[i].str)
                return SOUK_ENOMEM;
        }
    }
    c.terms = t;
    c.attrs = a;
    *d = c;
    return SOUK_OK;
}

/* Analyzes every line of a slot with builder b. */
static void analyze_slot(slot *s, souk_docbuilder *b, size_t max_record)
{
    s->mlen = 0;
    for (size_t i = 0; i < s->n; i++) {
        lineres *r = &s->res[i];
        const char *line = s->data + s->off[i];
        size_t len = s->off[i + 1] - s->off[i];
        r->err[0] = 0;
        if (s->toolong[i]) {
            snprintf(r->err, sizeof r->err, "record is longer than the limit of %zu bytes",
                     max_record);
            r->rc = SOUK_ETOOBIG;
            continue;
        }
        r->rc = souk_docbuilder_parse(b, line, len, &r->del, &r->doc, r->err, sizeof r->err);
        if (r->rc)
            continue;
        for (;;) {
            size_t save = s->mlen;
            int rc = keep_doc(s, &r->doc);
            if (rc == 0)
                break;
            /* Grow: the slot memory moves, so re-base earlier documents. */
            s->mlen = save;
            size_t ncap = s->mcap ? s->mcap * 2 : (1u << 20);
            while (ncap < s->mlen + doc_size(&r->doc) + 64)
                ncap *= 2;
            uint8_t *old = s->mem, *nm = souk_malloc(ncap);
            if (!nm) {
                r->rc = SOUK_ENOMEM;
                snprintf(r->err, sizeof r->err, "out of memory");
                break;
            }
            if (old)
                memcpy(nm, old, s->mlen);
            ptrdiff_t delta = nm - old;
            for (size_t k = 0; k < i; k++) {
                souk_doc *d = &s->res[k].doc;
                if (s->res[k].rc || !old)
                    continue;
#define REBASE(p) ((p) = (void *)((uint8_t *)(p) + delta))
                /* The arrays first: their elements are then fixed in the new copy. */
                REBASE(d->terms);
                REBASE(d->positions);
                REBASE(d->attrs);
                REBASE(d->id);
                if (d->stored_len)
                    REBASE(d->stored);
                if (d->termlist_len)
                    REBASE(d->termlist);
                for (uint32_t t = 0; t < d->nterms; t++)
                    REBASE(((souk_dterm *)d->terms)[t].term);
                for (uint32_t t = 0; t < d->nattrs; t++)
                    if (d->attrs[t].str)
                        REBASE(((souk_dattr *)d->attrs)[t].str);
#undef REBASE
            }
            souk_free(old);
            s->mem = nm;
            s->mcap = ncap;
        }
    }
}

typedef struct worker {
    ingest_ctx *ctx;
    pthread_t th;
} worker;

static void *worker_main(void *arg)
{
    worker *wk = arg;
    ingest_ctx *c = wk->ctx;
    souk_docbuilder *b = NULL;
    if (souk_docbuilder_new(c->schema, &b)) {
        pthread_mutex_lock(&c->mu);
        c->oom = 1;
        pthread_cond_broadcast(&c->cv);
        pthread_mutex_unlock(&c->mu);
        return NULL;
    }
    pthread_mutex_lock(&c->mu);
    for (;;) {
        slot *s = NULL;
        for (int i = 0; i < NSLOTS && !s; i++)
            if (c->slots[i].state == SLOT_FILLED)
                s = &c->slots[i];
        if (!s) {
            if (c->quit)
                break;
            pthread_cond_wait(&c->cv, &c->mu);
            continue;
        }
        s->state = SLOT_BUSY;
        pthread_mutex_unlock(&c->mu);
        analyze_slot(s, b, c->schema->max_record_bytes);
        pthread_mutex_lock(&c->mu);
        s->state = SLOT_DONE;
        pthread_cond_broadcast(&c->cv);
    }
    pthread_mutex_unlock(&c->mu);
    souk_docbuilder_free(b);
    return NULL;
}

/* ------------------------------------------------------------------ line reader */

typedef struct reader {
    int fd;
    char *buf;
    size_t start, end, cap;
    int eof;
    uint64_t offset; /* stream offset of buf[start] */
    uint64_t line;
    souk_stream_hash hash; /* of the stream's bytes [0, offset) */
} reader;

/* Reads more bytes; returns 1 if any arrived, 0 at end of file, -1 on error. */
/* What reader_fill and fill_slot return when a buffer cannot grow (-1: a read error, errno). */
#define READ_NOMEM (-2)

static int reader_fill(reader *r)
{
    if (r->start > 0 && r->start == r->end) {
        r->start = r->end = 0;
    } else if (r->start > r->cap / 2) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    if (r->end == r->cap) {
        size_t nc = r->cap * 2;
        char *nb = souk_realloc(r->buf, nc);
        if (!nb)
            return READ_NOMEM;
        r->buf = nb;
        r->cap = nc;
    }
    for (;;) {
        ssize_t n = read(r->fd, r->buf + r->end, r->cap - r->end);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            return 0;
        r->end += (size_t)n;
        return 1;
    }
}

/* The stream's identity as stored in meta (stream_fp) with each commit: the hash of every byte
 * before the committed offset, and the file's device and inode (reported, not required: a
 * rotated file whose bytes up to the offset are the same bytes resumes correctly). */
static void fingerprint(const souk_stream_hash *h, const struct stat *sb, char out[FP_LEN])
{
    snprintf(out, FP_LEN, "sh1:%016llx:%llu:%llu", (unsigned long long)souk__sh_final(h),
             sb ? (unsigned long long)sb->st_dev : 0ull,
             sb ? (unsigned long long)sb->st_ino : 0ull);
}

/* Writes one rejected line to the rejects file (NDJSON) and, for the first few, to stderr. */
static void reject(const souk_ingest_opts *o, const char *name, uint64_t line, uint64_t offset,
                   const char *why, const char *rec, size_t len, uint64_t nrej)
{
    if (nrej < REJECT_ECHO)
        fprintf(stderr, "souk: %s:%llu: rejected: %s\n", name, (unsigned long long)line, why);
    else if (nrej == REJECT_ECHO)
        fprintf(stderr, "souk: further rejects only in the rejects file\n");
    if (!o->rejects)
        return;
    char head[513];
    size_t n = len < 512 ? len : 512;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)rec[i];
        head[i] = (ch < 0x20 || ch >= 0x80) ? '?' : (char)ch; /* keep the rejects file UTF-8 */
    }
    head[n] = 0;
    cJSON *j = cJSON_CreateObject();
    if (!j)
        return;
    cJSON_AddNumberToObject(j, "line", (double)line);
    cJSON_AddNumberToObject(j, "offset", (double)offset);
    cJSON_AddStringToObject(j, "error", why);
    cJSON_AddStringToObject(j, "record", head);
    char *t = cJSON_PrintUnformatted(j);
    if (t) {
        fprintf(o->rejects, "%s\n", t);
        souk_free(t);
    }
    cJSON_Delete(j);
}

/* Fills slot s with up to CHUNK_LINES complete lines. Returns the number of lines, 0 at the end of
 * the available input, -1 on read error. In follow mode a partial last line is left unread. */
static int fill_slot(reader *r, slot *s, size_t max_record, int follow)
{
    s->n = 0;
    s->len = 0;
    s->off[0] = 0;
    while (s->n < CHUNK_LINES) {
        char *nl = memchr(r->buf + r->start, '\n', r->end - r->start);
        size_t avail = r->end - r->start;
        int toolong = 0;
        size_t linelen, consumed;
        if (!nl && avail <= max_record + 1 && !r->eof) {
            int f = reader_fill(r);
            if (f < 0)
                return f;
            if (f == 0)
                r->eof = 1;
            continue;
        }
        if (nl) {
            linelen = (size_t)(nl - (r->buf + r->start));
            consumed = linelen + 1;
        } else if (avail > max_record + 1) {
            /* Over the cap with no newline in sight: keep a head, skip to the newline. */
            toolong = 1;
            linelen = 256;
            consumed = avail;
        } else {
            /* End of file with a partial last line. */
            if (avail == 0 || follow)
                break;
            linelen = avail;
            consumed = avail;
        }
        if (linelen > max_record)
            toolong = 1;
        size_t keep = toolong ? (linelen < 256 ? linelen : 256) : linelen;
        if (souk_grow_first((void **)&s->data, &s->cap, s->len + keep, 1, SIZE_MAX, 65536))
            return READ_NOMEM;
        memcpy(s->data + s->len, r->buf + r->start, keep);
        s->len += keep;
        souk__sh_update(&r->hash, r->buf + r->start, consumed);
        r->start += consumed;
        r->offset += consumed;
        if (toolong && !nl) {
            /* Discard the rest of the long line as it arrives. */
            for (;;) {
                if (r->start == r->end) {
                    int f = reader_fill(r);
                    if (f <= 0) {
                        r->eof = f == 0;
                        break;
                    }
                }
                char *q = memchr(r->buf + r->start, '\n', r->end - r->start);
                size_t skip = q ? (size_t)(q - (r->buf + r->start)) + 1 : r->end - r->start;
                souk__sh_update(&r->hash, r->buf + r->start, skip);
                r->start += skip;
                r->offset += skip;
                if (q)
                    break;
            }
        }
        r->line++;
        /* Trailing CR of CRLF files is not part of the record. */
        if (!toolong && keep && s->data[s->len - 1] == '\r')
            s->len--;
        s->toolong[s->n] = toolong;
        s->lineno[s->n] = r->line;
        s->end_offset[s->n] = r->offset;
        s->end_hash[s->n] = r->hash;
        s->n++;
        s->off[s->n] = s->len;
    }
    return (int)s->n;
}

/* Commits the writer's batch with the stream position reached (offset, line, and the hash of
 * the bytes before offset; sb: the file, or NULL), and adds what it did to st. */
static int commit_batch(souk_writer *w, const struct stat *sb, uint64_t offset, uint64_t line,
                        const souk_stream_hash *hash, souk_ingest_stats *st, char *err,
                        size_t errlen)
{
    char fp[FP_LEN];
    fingerprint(hash, sb, fp);
    souk_stream_pos pos = {offset, line, fp};
    souk_commit_stats cs = {0};
    double tc = now_s();
    int rc = souk_writer_commit(w, &pos, &cs);
    st->commit_seconds += now_s() - tc;
    if (rc != 0) {
        snprintf(err, errlen, "commit: %s", souk_writer_errmsg(w));
        return rc;
    }
    st->commits++;
    st->added += cs.added;
    st->replaced += cs.replaced;
    st->unchanged += cs.unchanged;
    st->deleted += cs.deleted;
    st->delete_missing += cs.delete_missing;
    return 0;
}

/* Runs the caller's caught-up hook (souk_ingest_opts.caught_up). A failure leaves the index as
 * committed and is reported: the next catch-up runs it again. */
static void caught_up(const souk_ingest_opts *o, souk_index *ix, const char *name,
                      souk_ingest_stats *st)
{
    if (!o->caught_up)
        return;
    char err[512] = "";
    double t = now_s();
    if (o->caught_up(o->caught_up_ctx, ix, err, sizeof err) != 0) {
        fprintf(stderr, "souk: %s: %s (the index is committed; the next run retries)\n", name,
                err[0] ? err : "caught-up hook failed");
        st->caught_up_failed = 1;
    }
    st->caught_up_seconds += now_s() - t;
}

static int is_blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
            return 0;
    return 1;
}

/* Whether the regular file fd (stat sb) is the stream the index stopped in at byte off with
 * fingerprint fp: it holds at least off bytes, the byte before off ends a line (a resume never
 * starts inside a record), and the hash of its bytes [0, off) is the stored one. Device and inode
 * are not required (a rotated file with the same bytes resumes correctly) but are named when
 * they differ. Returns 1 with the hash of those bytes in *h, 0 with the reason in *why, -1 on a
 * read error. Reads and hashes off bytes: about 0.05 s for 100 MB in the page cache. */
static int same_stream(int fd, const struct stat *sb, uint64_t off, const char *fp,
                       souk_stream_hash *h, const char **why)
{
    unsigned long long want, dev, ino;
    if (sscanf(fp, "sh1:%16llx:%llu:%llu", &want, &dev, &ino) != 3) {
        *why = "the index holds an older kind of stream fingerprint";
        return 0;
    }
    int other = dev != (unsigned long long)sb->st_dev || ino != (unsigned long long)sb->st_ino;
    if (off > (uint64_t)sb->st_size) {
        *why = other ? "another file, shorter than that" : "the file is shorter: truncated";
        return 0;
    }
    size_t cap = (size_t)1 << 20;
    uint8_t *buf = souk_malloc(cap);
    if (!buf)
        return -1;
    memset(h, 0, sizeof *h);
    uint64_t at = 0;
    int rc = 1;
    while (at < off) {
        size_t n = off - at < cap ? (size_t)(off - at) : cap;
        ssize_t got = pread(fd, buf, n, (off_t)at);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            rc = -1;
            break;
        }
        if (got == 0) {
            *why = "the file is shorter: truncated";
            rc = 0;
            break;
        }
        souk__sh_update(h, buf, (size_t)got);
        at += (uint64_t)got;
        if (at == off && buf[got - 1] != '\n') {
            *why = other ? "another file, and that byte is inside a line"
                         : "that byte is inside a line: the file was rewritten";
            rc = 0;
        }
    }
    souk_free(buf);
    if (rc == 1 && souk__sh_final(h) != want) {
        *why = other ? "another file, with other bytes before that offset"
                     : "its bytes before that offset changed: the file was rewritten";
        rc = 0;
    }
    return rc;
}

/* Following a regular file (stat *sb, name its path or NULL) at an idle point, after a commit: when
 * the file was truncated below what was read, or another file now sits at its path (rotation), the
 * reader starts over at byte 0 of the truncated file or of the new one (dup2'd onto fd; *sb is
 * updated). Returns 1 when it did, 0 when the stream goes on, -1 when the new file cannot be
 * opened. */
static int stream_renewed(int fd, const char *name, struct stat *sb, reader *r)
{
    struct stat now, at_path;
    const char *what = NULL;
    if (fstat(fd, &now) == 0 && (uint64_t)now.st_size < r->offset + (r->end - r->start)) {
        what = "truncated";
    } else if (name && stat(name, &at_path) == 0 && S_ISREG(at_path.st_mode) &&
               (at_path.st_dev != sb->st_dev || at_path.st_ino != sb->st_ino)) {
        int nfd = open(name, O_RDONLY | O_CLOEXEC);
        if (nfd < 0)
            return -1;
        int ok = dup2(nfd, fd) == fd;
        close(nfd);
        if (!ok)
            return -1;
        what = "replaced (rotated)";
    }
    if (!what)
        return 0;
    if (lseek(fd, 0, SEEK_SET) != 0 || fstat(fd, sb) != 0)
        return -1;
    fprintf(stderr, "souk: %s: the file was %s: reading it from the start\n", name ? name : "stdin",
            what);
    r->start = r->end = 0;
    r->eof = 0;
    r->offset = r->line = 0;
    memset(&r->hash, 0, sizeof r->hash);
    return 1;
}

int souk_ingest(souk_index *ix, int fd, const char *name, const souk_ingest_opts *opts,
                souk_ingest_stats *st, char *err, size_t errlen)
{
    souk_ingest_opts o = *opts;
    if (!o.batch_docs)
        o.batch_docs = 50000;
    if (!o.batch_bytes)
        o.batch_bytes = (size_t)1 << 30;
    ingest_ctx c;
    memset(&c, 0, sizeof c);
    c.ix = ix;
    c.schema = souk_index_schema(ix);
    pthread_mutex_init(&c.mu, NULL);
    pthread_cond_init(&c.cv, NULL);
    reader r;
    memset(&r, 0, sizeof r);
    r.fd = fd;
    r.cap = 1u << 20;
    while (r.cap < c.schema->max_record_bytes * 2u + 2)
        r.cap *= 2;
    r.buf = souk_malloc(r.cap);
    souk_writer *w = NULL;
    souk_docbuilder *b = NULL;
    worker workers[8];
    int nthreads = o.threads < 0 ? 0 : o.threads > 8 ? 8 : o.threads, started = 0, rc = 0;
    double t0 = now_s(), last_progress = t0;
    memset(st, 0, sizeof *st);
    if (!r.buf || souk_writer_new(ix, &w) || souk_docbuilder_new(c.schema, &b)) {
        snprintf(err, errlen, "out of memory");
        rc = SOUK_ENOMEM;
        goto out;
    }
    /* Resume after the last commit when this is the same stream (a regular file), else read it
     * from the start (see same_stream). */
    struct stat sb;
    int is_file = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode);
    if (is_file && !o.from_start) {
        uint64_t off = 0, line = 0;
        char fp[FP_LEN];
        if (souk_index_stream_pos(ix, &off, &line, fp, sizeof fp) == 0 && off > 0) {
            const char *why = NULL;
            souk_stream_hash h;
            int same = same_stream(fd, &sb, off, fp, &h, &why);
            if (same < 0) {
                snprintf(err, errlen, "%s: read error: %s", name, strerror(errno));
                rc = SOUK_EIO;
                goto out;
            }
            if (same && lseek(fd, (off_t)off, SEEK_SET) == (off_t)off) {
                r.hash = h;
                r.offset = off;
                r.line = line;
                st->resumed_at = off;
                if (o.progress)
                    fprintf(stderr, "souk: %s: resuming after line %llu (byte %llu)\n", name,
                            (unsigned long long)line, (unsigned long long)off);
            } else {
                st->restarted = 1;
                fprintf(stderr,
                        "souk: %s: not the stream the index stopped in at byte %llu (%s): "
                        "reading it from the start\n",
                        name, (unsigned long long)off, why ? why : "cannot seek");
            }
        }
    }
    for (int i = 0; i < nthreads; i++) {
        workers[i].ctx = &c;
        if (pthread_create(&workers[i].th, NULL, worker_main, &workers[i]) != 0)
            break;
        started++;
    }
    size_t head = 0, tail = 0; /* next slot to fill, next slot to consume */
    int input_done = 0, synced = 0;
    uint64_t pending_offset = r.offset, pending_line = r.line;
    souk_stream_hash pending_hash = r.hash;
    const struct stat *file = is_file ? &sb : NULL;
    for (;;) {
        /* Fill free slots. */
        while (!input_done && c.slots[head % NSLOTS].state == SLOT_EMPTY && head - tail < NSLOTS) {
            slot *s = &c.slots[head % NSLOTS];
            int n = fill_slot(&r, s, c.schema->max_record_bytes, o.follow);
            if (n == READ_NOMEM) {
                snprintf(err, errlen, "%s: out of memory reading it", name);
                rc = SOUK_ENOMEM;
                goto drain;
            }
            if (n < 0) {
                snprintf(err, errlen, "%s: read error: %s", name, strerror(errno));
                rc = SOUK_EIO;
                goto drain;
            }
            if (n == 0) {
                input_done = 1;
                break;
            }
            if (started == 0) {
                analyze_slot(s, b, c.schema->max_record_bytes);
                s->state = SLOT_DONE;
            } else {
                pthread_mutex_lock(&c.mu);
                s->state = SLOT_FILLED;
                pthread_cond_signal(&c.cv);
                pthread_mutex_unlock(&c.mu);
            }
            head++;
        }
        if (tail == head) {
            /* Nothing in flight: the end of the available input. */
            size_t pend = souk_writer_pending(w, NULL);
            if (pend || pending_offset != r.offset) {
                if ((rc = commit_batch(w, file, pending_offset, pending_line, &pending_hash, st,
                                       err, errlen)) != 0)
                    goto drain;
                caught_up(&o, ix, name, st);
            } else if (!synced) {
                caught_up(&o, ix, name, st); /* a store missing or behind from an earlier run */
            }
            synced = 1;
            if (!o.follow || (o.stop && *o.stop))
                break;
            usleep(100000);
            /* Following a file: one truncated or replaced at its path is a new stream. (A
             * file redirected to stdin has no path to look at: truncation only.) */
            int renew =
                is_file ? stream_renewed(fd, strcmp(name, "stdin") ? name : NULL, &sb, &r) : 0;
            if (renew < 0) {
                snprintf(err, errlen, "%s: cannot reopen: %s", name, strerror(errno));
                rc = SOUK_EIO;
                goto drain;
            }
            if (renew) {
                pending_offset = pending_line = 0;
                memset(&pending_hash, 0, sizeof pending_hash);
                st->restarted = 1;
            }
            r.eof = 0;
            input_done = 0;
            continue;
        }
        slot *s = &c.slots[tail % NSLOTS];
        if (started) {
            double tw = now_s();
            pthread_mutex_lock(&c.mu);
            while (s->state != SLOT_DONE && !c.oom)
                pthread_cond_wait(&c.cv, &c.mu);
            pthread_mutex_unlock(&c.mu);
            st->wait_seconds += now_s() - tw;
            if (c.oom) {
                snprintf(err, errlen, "out of memory in an analysis thread");
                rc = SOUK_ENOMEM;
                goto drain;
            }
        }
        for (size_t i = 0; i < s->n; i++) {
            lineres *lr = &s->res[i];
            const char *line = s->data + s->off[i];
            size_t len = s->off[i + 1] - s->off[i];
            st->lines++;
            if (!s->toolong[i] && is_blank(line, len)) {
                /* blank lines are allowed between records */
            } else if (lr->rc == SOUK_ENOMEM) {
                snprintf(err, errlen, "out of memory analysing line %llu",
                         (unsigned long long)s->lineno[i]);
                rc = SOUK_ENOMEM;
                goto drain;
            } else if (lr->rc) {
                reject(&o, name, s->lineno[i], s->end_offset[i] - (len + 1), lr->err, line, len,
                       st->rejected);
                st->rejected++;
            } else {
                st->records++;
                int wrc = lr->del ? souk_writer_delete(w, lr->doc.id, lr->doc.id_len)
                                  : souk_writer_upsert(w, &lr->doc);
                if (wrc) {
                    const char *why = souk_writer_errmsg(w);
                    snprintf(err, errlen, "buffering the batch: %s",
                             why[0] ? why : souk_strerror(wrc));
                    rc = wrc;
                    goto drain;
                }
            }
            pending_offset = s->end_offset[i];
            pending_line = s->lineno[i];
            pending_hash = s->end_hash[i];
            size_t bytes;
            size_t pend = souk_writer_pending(w, &bytes);
            if (pend >= o.batch_docs || bytes >= o.batch_bytes) {
                if ((rc = commit_batch(w, file, pending_offset, pending_line, &pending_hash, st,
                                       err, errlen)) != 0)
                    goto drain;
            }
        }
        pthread_mutex_lock(&c.mu);
        s->state = SLOT_EMPTY;
        pthread_mutex_unlock(&c.mu);
        tail++;
        if (o.progress && now_s() - last_progress > 0.5) {
            last_progress = now_s();
            fprintf(stderr, "\rsouk: %s: %llu lines, %.0f lines/s   ", name,
                    (unsigned long long)st->lines, st->lines / (last_progress - t0));
        }
        if (o.stop && *o.stop) {
            input_done = 1;
            /* Consume what is in flight, commit, and stop: treat as end of input. */
            o.follow = 0;
        }
    }
drain:
    pthread_mutex_lock(&c.mu);
    c.quit = 1;
    pthread_cond_broadcast(&c.cv);
    pthread_mutex_unlock(&c.mu);
    for (int i = 0; i < started; i++)
        pthread_join(workers[i].th, NULL);
out:
    if (o.progress && st->lines)
        fprintf(stderr, "\n");
    st->seconds = now_s() - t0;
    for (int i = 0; i < NSLOTS; i++) {
        souk_free(c.slots[i].data);
        souk_free(c.slots[i].mem);
    }
    souk_docbuilder_free(b);
    souk_writer_free(w);
    souk_free(r.buf);
    pthread_mutex_destroy(&c.mu);
    pthread_cond_destroy(&c.cv);
    return rc;
}
