/* souk_index_nats.c: the JetStream follower of souk-index (see souk_index_nats.h).
 *
 * One loop on one thread: fetch up to a batch from the pull consumer (250 ms wait), hand each new
 * message to the sink, commit when the batch is full, the stream drained or a second passed, then
 * acknowledge the batch's last message (the consumer acknowledges all: AckAll). What makes it
 * exactly once is the sequence committed with the batch, not the consumer: a message at or below
 * it is a redelivery and skipped, and whenever delivery may have skipped something (a restart,
 * a lost connection, a gap in the consumer's own delivery count) the consumer is deleted and
 * created again to start at the committed sequence + 1. */
#include "souk_index_nats.h"
#include "souk/buf.h"
#include "nats_link.h"
#include "souk/document.h"
#include "souk/souk.h"

#include <cjson/cJSON.h>

#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A batch is committed when the stream is drained (the usual case of a replica keeping up: the
 * lag is then a fetch and a commit), when it holds the batch size, or when its first message has
 * waited this long (a replica that cannot keep up). A catch-up thus commits in batches as large
 * as a file ingest's: commits into a non-empty index cost far more per document in small
 * batches (docs/benchmarks.md: 2.4 s of commits for the catalog in batches of 10,000, 0.6 s in
 * one). */
#define NF_COMMIT_AFTER_S 10.0
/* With --until-caught-up: how long a stream that cannot be reached or read is waited for. */
#define NF_UNTIL_WAIT_S 120

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

void nf_default_durable(const char *dir, const char *kind, char out[40])
{
    char host[256] = "", path[PATH_MAX];
    gethostname(host, sizeof host - 1);
    if (!realpath(dir, path))
        snprintf(path, sizeof path, "%s", dir);
    crypto_generichash_state st;
    uint8_t h[8];
    crypto_generichash_init(&st, NULL, 0, sizeof h);
    crypto_generichash_update(&st, (const uint8_t *)host, strlen(host) + 1);
    crypto_generichash_update(&st, (const uint8_t *)path, strlen(path) + 1);
    crypto_generichash_update(&st, (const uint8_t *)kind, strlen(kind));
    crypto_generichash_final(&st, h, sizeof h);
    char hex[17];
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    snprintf(out, 40, "souk-%s", hex);
}

typedef struct follower {
    const nf_sink *s;
    const nf_opts *o;
    nf_stats *st;
    nl_addr addr;
    natsConnection *nc;
    jsCtx *js;
    natsSubscription *sub;
    char fp[96];           /* "nats:STREAM:<created ns>" */
    uint64_t committed;    /* sequence stored with the last commit */
    uint64_t buffered;     /* sequence of the last message handed to the sink (>= committed) */
    uint64_t consumer_seq; /* the consumer's delivery count of the last message seen */
    natsMsg *last;         /* the last buffered message, acknowledged after the commit */
    double first_buffered;
    int connected;
    double status_at, info_at;
} follower;

/* Writes the status file (atomically: a temporary file renamed over it). */
static void write_status(follower *f, int force)
{
    double now = mono_s();
    if (!f->o->status_path || (!force && now - f->status_at < 0.2))
        return;
    f->status_at = now;
    char tmp[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", f->o->status_path) >= (int)sizeof tmp)
        return;
    FILE *fo = fopen(tmp, "w");
    if (!fo)
        return;
    fprintf(fo,
            "{\"kind\":\"%s\",\"stream\":\"%s\",\"applied_seq\":%llu,\"stream_last_seq\":%llu,"
            "\"connected\":%s,\"updated_ms\":%lld}\n",
            f->o->kind, f->addr.stream, (unsigned long long)f->committed,
            (unsigned long long)f->st->stream_last, f->connected ? "true" : "false",
            (long long)nl_now_ms());
    if (fclose(fo) == 0)
        rename(tmp, f->o->status_path);
    else
        unlink(tmp);
}

/* The stream's last sequence and creation time; 0 on success. */
static int stream_info(follower *f, int64_t *created)
{
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    if (js_GetStreamInfo(&si, f->js, f->addr.stream, NULL, &jerr) != NATS_OK)
        return -1;
    f->st->stream_last = si->State.LastSeq;
    if (created)
        *created = si->Created;
    jsStreamInfo_Destroy(si);
    f->info_at = mono_s();
    return 0;
}

/* Commits what is buffered, then acknowledges it. 0, or -1 with err from the sink. */
static int commit(follower *f, char *err, size_t errlen)
{
    if (f->buffered == f->committed)
        return 0;
    if (f->s->commit(f->s->ctx, f->buffered, f->fp, err, errlen) != 0)
        return -1;
    f->committed = f->buffered;
    f->st->commits++;
    if (f->last) {
        natsMsg_Ack(f->last, NULL); /* best effort: a lost ack only means a redelivery */
        natsMsg_Destroy(f->last);
        f->last = NULL;
    }
    write_status(f, 1);
    return 0;
}

static void drop_consumer(follower *f)
{
    if (f->sub) {
        natsSubscription_Unsubscribe(f->sub);
        natsSubscription_Destroy(f->sub);
        f->sub = NULL;
    }
    natsMsg_Destroy(f->last);
    f->last = NULL;
}

/* (Re)creates the durable consumer to deliver from committed + 1 and binds a pull subscription
 * to it. 0 on success, -1 (NATS unreachable or the stream missing: the caller waits). */
static int make_consumer(follower *f, char *why, size_t whylen)
{
    jsErrCode jerr = 0;
    drop_consumer(f);
    natsStatus s = js_DeleteConsumer(f->js, f->addr.stream, f->o->durable, NULL, &jerr);
    if (s != NATS_OK && s != NATS_NOT_FOUND && jerr != JSConsumerNotFoundErr) {
        snprintf(why, whylen, "deleting consumer %s: %s", f->o->durable, natsStatus_GetText(s));
        return -1;
    }
    jsConsumerConfig cc;
    jsConsumerConfig_Init(&cc);
    cc.Durable = f->o->durable;
    cc.AckPolicy = js_AckAll;
    cc.AckWait = (int64_t)60 * 1000000000; /* ns: far above a batch's commit */
    cc.MaxAckPending = 1 << 20;
    cc.FilterSubject = f->o->filter;
    if (f->committed > 0) {
        cc.DeliverPolicy = js_DeliverByStartSequence;
        cc.OptStartSeq = f->committed + 1;
    } else {
        cc.DeliverPolicy = js_DeliverAll;
    }
    jsConsumerInfo *ci = NULL;
    s = js_AddConsumer(&ci, f->js, f->addr.stream, &cc, NULL, &jerr);
    if (s != NATS_OK) {
        snprintf(why, whylen, "creating consumer %s: %s (%d)", f->o->durable, natsStatus_GetText(s),
                 (int)jerr);
        return -1;
    }
    jsConsumerInfo_Destroy(ci);
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = f->addr.stream;
    so.Consumer = f->o->durable;
    s = js_PullSubscribe(&f->sub, f->js, f->o->filter ? f->o->filter : "", f->o->durable, NULL, &so,
                         &jerr);
    if (s != NATS_OK) {
        snprintf(why, whylen, "subscribing: %s (%d)", natsStatus_GetText(s), (int)jerr);
        f->sub = NULL;
        return -1;
    }
    f->consumer_seq = 0;
    f->buffered = f->committed;
    f->st->restarts++;
    return 0;
}

/* Connects and resolves the stream, the stored position and the consumer; waits (reporting
 * once) while NATS is unreachable. 1 when ready, 0 when stopped, -1 on a sink error or, with
 * until_caught_up, when the stream stays out of reach for NF_UNTIL_WAIT_S. */
static int start(follower *f, char *err, size_t errlen)
{
    char why[300] = "", said[300] = "";
    double t0 = mono_s();
    for (;;) {
        if (f->o->stop && *f->o->stop)
            return 0;
        /* A run that ends when caught up does not wait forever: a stream it cannot reach or
         * read for NF_UNTIL_WAIT_S is an error that names why. */
        if (f->o->until_caught_up && why[0] && mono_s() - t0 > NF_UNTIL_WAIT_S) {
            snprintf(err, errlen, "%s: gave up after %d s", why, NF_UNTIL_WAIT_S);
            return -1;
        }
        int64_t created = 0;
        if (stream_info(f, &created) == 0) {
            char want[96];
            snprintf(want, sizeof want, "nats:%s:%lld", f->addr.stream, (long long)created);
            uint64_t seq = 0;
            int other = 0;
            if (f->s->applied(f->s->ctx, want, &seq, &other) != 0) {
                snprintf(err, errlen, "reading the applied sequence");
                return -1;
            }
            if (other && !f->o->quiet)
                fprintf(stderr,
                        "souk-index: the store was not fed by stream %s as it stands (another "
                        "source, or the stream created anew): applying it from its first "
                        "message\n",
                        f->addr.stream);
            f->committed = seq;
            snprintf(f->fp, sizeof f->fp, "%s", want);
            if (make_consumer(f, why, sizeof why) == 0) {
                f->connected = 1;
                write_status(f, 1);
                return 1;
            }
        } else {
            snprintf(why, sizeof why, "stream %s not reachable (%s)", f->addr.stream,
                     natsConnection_Status(f->nc) == NATS_CONN_STATUS_CONNECTED
                         ? "no such stream, or no JetStream leader yet"
                         : "not connected");
        }
        f->connected = 0;
        write_status(f, 0);
        if (strcmp(why, said) != 0 && !f->o->quiet) {
            fprintf(stderr, "souk-index: %s: waiting\n", why);
            snprintf(said, sizeof said, "%s", why);
        }
        usleep(250000);
    }
}

int nf_follow(const nf_sink *s, const nf_opts *o, nf_stats *st, char *err, size_t errlen)
{
    follower f;
    memset(&f, 0, sizeof f);
    memset(st, 0, sizeof *st);
    f.s = s;
    f.o = o;
    f.st = st;
    double t0 = mono_s();
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium failed to initialise");
        return -1;
    }
    if (nl_addr_parse(o->url, &f.addr, err, errlen) != 0)
        return -1;
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = 2000;
    if (nl_connect(&f.addr, "souk-index", &jo, &f.nc, &f.js, err, errlen) != 0)
        return -1;
    int batch = o->batch ? (int)(o->batch < 100000 ? o->batch : 100000) : 10000;
    int fetch_max = batch < 1000 ? batch : 1000;
    int rc = 0, synced = 0;
    int r = start(&f, err, errlen);
    if (r <= 0) {
        rc = r;
        goto out;
    }
    while (!(o->stop && *o->stop)) {
        natsMsgList list = {0};
        jsErrCode jerr = 0;
        natsStatus ns = natsSubscription_Fetch(&list, f.sub, fetch_max, 250, &jerr);
        int lost = 0;
        uint64_t pending_after = 1;
        if (ns == NATS_OK) {
            for (int i = 0; i < list.Count; i++) {
                natsMsg *m = list.Msgs[i];
                jsMsgMetaData *meta = NULL;
                if (natsMsg_GetMetaData(&meta, m) != NATS_OK)
                    continue; /* not a stream message (a status): nothing to apply */
                uint64_t seq = meta->Sequence.Stream, cseq = meta->Sequence.Consumer;
                pending_after = meta->NumPending;
                if (seq + meta->NumPending > st->stream_last)
                    st->stream_last = seq + meta->NumPending;
                jsMsgMetaData_Destroy(meta);
                st->messages++;
                if (cseq != f.consumer_seq + 1) {
                    /* The consumer delivered something this subscription never received (a
                     * pull answered into a dropped connection): start again after what is
                     * applied rather than acknowledge past it. */
                    lost = 1;
                    break;
                }
                f.consumer_seq = cseq;
                if (seq <= f.buffered) {
                    st->skipped++;
                    continue;
                }
                if (s->apply(s->ctx, seq, natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), err,
                             errlen) != 0) {
                    natsMsgList_Destroy(&list);
                    rc = -1;
                    goto out;
                }
                if (f.buffered == f.committed)
                    f.first_buffered = mono_s();
                f.buffered = seq;
                st->applied++;
                natsMsg_Destroy(f.last);
                f.last = m;
                list.Msgs[i] = NULL; /* kept for its acknowledgement */
            }
            natsMsgList_Destroy(&list);
            int drained = !lost && pending_after == 0;
            if (lost || drained || f.buffered - f.committed >= (uint64_t)batch ||
                mono_s() - f.first_buffered > NF_COMMIT_AFTER_S) {
                if (commit(&f, err, errlen) != 0) {
                    rc = -1;
                    goto out;
                }
            }
            if (!lost) {
                synced = 0;
                write_status(&f, 0);
                continue;
            }
        } else if (ns == NATS_TIMEOUT) {
            /* Nothing new within the wait: commit what is buffered, look at the stream. */
            if (commit(&f, err, errlen) != 0) {
                rc = -1;
                goto out;
            }
            if (mono_s() - f.info_at > 0.5 && stream_info(&f, NULL) != 0)
                lost = natsConnection_Status(f.nc) != NATS_CONN_STATUS_CONNECTED;
            if (!lost && f.committed < st->stream_last && f.buffered == f.committed) {
                /* The stream's last messages may be gone (expired by its retention, or erased):
                 * when the consumer has nothing left to deliver, what is applied is all there
                 * is, and the replica is caught up with no lag. */
                jsConsumerInfo *ci = NULL;
                jsErrCode cerr = 0;
                if (js_GetConsumerInfo(&ci, f.js, f.addr.stream, o->durable, NULL, &cerr) ==
                        NATS_OK &&
                    ci && ci->NumPending == 0)
                    st->stream_last = f.committed;
                jsConsumerInfo_Destroy(ci);
            }
            if (!lost) {
                f.connected = 1;
                if (!synced && f.committed >= st->stream_last) {
                    if (s->caught_up && st->commits)
                        s->caught_up(s->ctx);
                    synced = 1;
                }
                write_status(&f, 0);
                if (o->until_caught_up && f.committed >= st->stream_last &&
                    mono_s() - f.info_at < 0.6)
                    break;
                continue;
            }
        } else {
            lost = 1;
        }
        /* The connection, the consumer or its leader went away, or delivery skipped: keep
         * what is applied and start over from it. */
        if (commit(&f, err, errlen) != 0) {
            rc = -1;
            goto out;
        }
        f.connected = 0;
        write_status(&f, 1);
        usleep(100000);
        if ((r = start(&f, err, errlen)) <= 0) {
            rc = r;
            goto out;
        }
    }
    if (rc == 0 && commit(&f, err, errlen) != 0)
        rc = -1;
out:
    drop_consumer(&f);
    st->applied_seq = f.committed;
    st->seconds = mono_s() - t0;
    f.connected = 0; /* the indexer stopped: nobody follows the stream for this store now */
    write_status(&f, 1);
    nl_close(f.nc, f.js);
    return rc;
}

/* ------------------------------------------------------------------ the catalog's sink */

typedef struct cat_sink {
    souk_index *ix;
    souk_writer *w;
    souk_docbuilder *b;
    FILE *rejects;
    nf_catalog_stats *cs;
} cat_sink;

static int cat_applied(void *ctx, const char *want, uint64_t *seq, int *other)
{
    cat_sink *c = ctx;
    uint64_t off = 0, line = 0;
    char fp[128] = "";
    *seq = 0;
    *other = 0;
    int rc = souk_index_stream_pos(c->ix, &off, &line, fp, sizeof fp);
    if (rc == SOUK_ENOTFOUND)
        return 0;
    if (rc)
        return rc;
    if (strcmp(fp, want) == 0)
        *seq = off;
    else
        *other = off > 0;
    return 0;
}

static int cat_apply(void *ctx, uint64_t seq, const char *data, size_t len, char *err,
                     size_t errlen)
{
    cat_sink *c = ctx;
    int del = 0;
    souk_doc doc;
    char why[240];
    int rc = souk_docbuilder_parse(c->b, data, len, &del, &doc, why, sizeof why);
    if (rc == SOUK_ENOMEM) {
        snprintf(err, errlen, "out of memory analysing stream message %llu",
                 (unsigned long long)seq);
        return -1;
    }
    if (rc) {
        if (c->cs->rejected++ < 10)
            fprintf(stderr, "souk: stream message %llu: rejected: %s\n", (unsigned long long)seq,
                    why);
        if (c->rejects) {
            cJSON *j = cJSON_CreateObject();
            if (j) {
                cJSON_AddNumberToObject(j, "seq", (double)seq);
                cJSON_AddStringToObject(j, "error", why);
                char *t = cJSON_PrintUnformatted(j);
                if (t)
                    fprintf(c->rejects, "%s\n", t);
                souk_free(t);
                cJSON_Delete(j);
            }
        }
        return 0;
    }
    c->cs->records++;
    rc = del ? souk_writer_delete(c->w, doc.id, doc.id_len) : souk_writer_upsert(c->w, &doc);
    if (rc) {
        snprintf(err, errlen, "buffering the batch: %s", souk_writer_errmsg(c->w));
        return -1;
    }
    return 0;
}

static int cat_commit(void *ctx, uint64_t seq, const char *fp, char *err, size_t errlen)
{
    cat_sink *c = ctx;
    souk_stream_pos pos = {seq, seq, fp};
    if (souk_writer_commit(c->w, &pos, &c->cs->commit) != 0) {
        snprintf(err, errlen, "commit: %s", souk_writer_errmsg(c->w));
        return -1;
    }
    return 0;
}

static nf_catalog_hook g_hook;
static void *g_hook_ctx;
static souk_index *g_hook_ix;

static void cat_caught_up(void *ctx)
{
    (void)ctx;
    char err[512] = "";
    if (g_hook && g_hook(g_hook_ctx, g_hook_ix, err, sizeof err) != 0)
        fprintf(stderr, "souk: %s (the index is committed; the next catch-up retries)\n",
                err[0] ? err : "caught-up hook failed");
}

int nf_follow_catalog(souk_index *ix, FILE *rejects, nf_catalog_hook hook, void *hook_ctx,
                      const nf_opts *o, nf_stats *st, nf_catalog_stats *cs, char *err,
                      size_t errlen)
{
    cat_sink c = {ix, NULL, NULL, rejects, cs};
    memset(cs, 0, sizeof *cs);
    if (souk_writer_new(ix, &c.w) || souk_docbuilder_new(souk_index_schema(ix), &c.b)) {
        souk_writer_free(c.w);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    g_hook = hook;
    g_hook_ctx = hook_ctx;
    g_hook_ix = ix;
    nf_sink s = {cat_applied, cat_apply, cat_commit, cat_caught_up, &c};
    int rc = nf_follow(&s, o, st, err, errlen);
    souk_docbuilder_free(c.b);
    souk_writer_free(c.w);
    return rc;
}

/* ------------------------------------------------------------------ the event store's sink */

typedef struct ev_sink {
    souk_events *s;
    souk_event *evs;
    size_t n, cap;
    int64_t now_ms;
    nf_events_stats *es;
} ev_sink;

static int ev_applied(void *ctx, const char *want, uint64_t *seq, int *other)
{
    return souk_events_seq(((ev_sink *)ctx)->s, want, seq, other);
}

static int ev_apply(void *ctx, uint64_t seq, const char *data, size_t len, char *err, size_t errlen)
{
    ev_sink *c = ctx;
    if (souk_grow_first((void **)&c->evs, &c->cap, c->n + 1, sizeof *c->evs, SIZE_MAX, 1024) !=
        SOUK_OK) {
        snprintf(err, errlen, "out of memory buffering events");
        return -1;
    }
    char why[240];
    unsigned dropped = 0;
    if (souk_event_parse(data, len, &c->evs[c->n], &dropped, why, sizeof why) != 0) {
        /* The event itself is not echoed: it may hold a raw user id (P1). */
        if (c->es->rejected++ < 10)
            fprintf(stderr, "souk: stream message %llu: rejected: %s\n", (unsigned long long)seq,
                    why);
        return 0;
    }
    c->n++;
    c->es->events++;
    return 0;
}

static int ev_commit(void *ctx, uint64_t seq, const char *fp, char *err, size_t errlen)
{
    ev_sink *c = ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = c->now_ms ? c->now_ms : (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    if (souk_events_add_seq(c->s, c->evs, c->n, now, seq, fp, &c->es->counts, err, errlen) != 0)
        return -1;
    c->n = 0;
    return 0;
}

int nf_follow_events(souk_events *s, int64_t now_ms, const nf_opts *o, nf_stats *st,
                     nf_events_stats *es, char *err, size_t errlen)
{
    ev_sink c = {s, NULL, 0, 0, now_ms, es};
    memset(es, 0, sizeof *es);
    nf_sink sink = {ev_applied, ev_apply, ev_commit, NULL, &c};
    int rc = nf_follow(&sink, o, st, err, errlen);
    souk_free(c.evs);
    return rc;
}
