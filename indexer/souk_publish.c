/* souk_publish.c: souk-publish, puts a catalog or event stream on NATS JetStream for the Souk
 * nodes that follow it (docs/scaling.md):
 *
 *   souk-publish catalog|events [--region cn|eu] --to nats://HOST:PORT[,HOST:PORT...]/STREAM
 *                [--replicas N] [--window N] [--timeout SECONDS] [--retention-days D] FILE|-
 *
 * One NDJSON record a message: catalog records on the subject "catalog.records", events on
 * "events.<region>.<type>" (--region is required for events: a region's behaviour data stays in
 * its region's stream). The stream is created when missing, with subjects "catalog.*" or
 * "events.<region>.*", file storage and N copies (default: 3 on a cluster, 1 on a single server).
 * Messages are published asynchronously with at most --window (4096) awaiting their JetStream
 * acknowledgement; when acknowledgements stop for 2 s (a node killed, a leader elected) every
 * message still waiting is taken back and sent again, as is every message JetStream refused. Each
 * carries a message id (Nats-Msg-Id: a BLAKE2b of the kind, its line number and its bytes), so the
 * stream stores a resent message, or a whole rerun of the same input within the stream's 2-minute
 * duplicate window, once.
 *
 * An event stream keeps a message --retention-days (default 365, the event store's own
 * --retention-events-days) and JetStream deletes it then, so the log holds behaviour data no
 * longer than the stores fed from it (set on creation, and updated on a stream that has another
 * retention); the catalog stream keeps its records (0: no limit, unless --retention-days).
 *
 * Lines that are not JSON objects (catalog) or not valid events (souk_event_parse) are rejected
 * on stderr with their line number and not published; blank lines are skipped. Prints one JSON
 * line: {"stream","replicas","retention_s","published","acked","duplicates","rejected","last_seq",
 * "seconds"}
 * where last_seq is the highest stream sequence acknowledged (what a reader passes as min_seq).
 * Exit status: 0 when every published message was acknowledged, 1 otherwise (the count is on
 * stderr), 2 usage. */
#include "nats_link.h"
#include "souk/events.h"
#include "souk/souk.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LINE_CAP ((size_t)1 << 20) /* a NATS message is at most 1 MiB by default */

/* One record of the window being published: its bytes are ours, so a message the library lost
 * (a node killed, a leader elected) is sent again as a new message with the same id. */
typedef struct rec {
    char *data;
    int len;
    uint64_t lineno;
    char subj[64];
    char id[64]; /* 32 hex digits of BLAKE2b, '-', the line number */
    int acked;
} rec;

typedef struct pub_state {
    pthread_mutex_t mu;
    rec *win;
    size_t n; /* records in the window */
    uint64_t acked, duplicates, last_seq, resent;
    char last_error[200];
} pub_state;

static pub_state g;

/* The window's record with this message id (its line number after the '-'), or NULL. */
static rec *find_rec(const char *id)
{
    const char *dash = id ? strrchr(id, '-') : NULL;
    if (!dash)
        return NULL;
    uint64_t line = strtoull(dash + 1, NULL, 10);
    size_t lo = 0, hi = g.n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (g.win[mid].lineno < line)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < g.n && g.win[lo].lineno == line ? &g.win[lo] : NULL;
}

/* JetStream's answer for one message (a library thread): the record is acknowledged, or stays
 * unacknowledged to be sent again by the main thread. The message is always destroyed here. */
static void on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
    (void)js;
    (void)closure;
    const char *id = NULL;
    natsMsgHeader_Get(msg, "Nats-Msg-Id", &id);
    pthread_mutex_lock(&g.mu);
    rec *r = find_rec(id);
    if (pa && r && !r->acked) {
        r->acked = 1;
        if (pa->Duplicate)
            g.duplicates++;
        else
            g.acked++;
        if (pa->Sequence > g.last_seq)
            g.last_seq = pa->Sequence;
    } else if (pae) {
        snprintf(g.last_error, sizeof g.last_error, "%s%s%s", natsStatus_GetText(pae->Err),
                 pae->ErrText ? ": " : "", pae->ErrText ? pae->ErrText : "");
    }
    pthread_mutex_unlock(&g.mu);
    natsMsg_Destroy(msg);
}

static int usage(const char *why)
{
    if (why)
        fprintf(stderr, "souk-publish: %s\n", why);
    fprintf(stderr, "usage: souk-publish catalog|events [--region cn|eu] --to "
                    "nats://HOST:PORT[,HOST:PORT...]/STREAM\n"
                    "                    [--replicas N] [--window N] [--timeout SECONDS]\n"
                    "                    [--retention-days D] FILE|-\n"
                    "       souk-publish erase --user ID [--user ID ...] --to "
                    "nats://HOST:PORT/STREAM\n");
    return 2;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Waits up to 2 s for the acknowledgements still outstanding; when some are missing then, takes
 * the waiting messages back from the library and destroys them (their records stay
 * unacknowledged and are sent again). */
static void settle(jsCtx *js)
{
    jsPubOptions wo;
    jsPubOptions_Init(&wo);
    wo.MaxWait = 2000;
    if (js_PublishAsyncComplete(js, &wo) != NATS_TIMEOUT)
        return;
    natsMsgList pending = {0};
    if (js_PublishAsyncGetPendingList(&pending, js) == NATS_OK)
        natsMsgList_Destroy(&pending);
    pthread_mutex_lock(&g.mu);
    snprintf(g.last_error, sizeof g.last_error, "acknowledgements stopped for 2 s");
    pthread_mutex_unlock(&g.mu);
}

/* Publishes every record of the window until each is acknowledged (sending the others again,
 * each time as a new message with its id) or the deadline passes. 0, or -1 with err. */
static int publish_window(jsCtx *js, double deadline, char *err, size_t errlen)
{
    for (int attempt = 0;; attempt++) {
        size_t sent = 0;
        for (size_t i = 0; i < g.n; i++) {
            pthread_mutex_lock(&g.mu);
            int done = g.win[i].acked;
            pthread_mutex_unlock(&g.mu);
            if (done)
                continue;
            natsMsg *m = NULL;
            if (natsMsg_Create(&m, g.win[i].subj, NULL, g.win[i].data, g.win[i].len) != NATS_OK ||
                natsMsgHeader_Set(m, "Nats-Msg-Id", g.win[i].id) != NATS_OK) {
                natsMsg_Destroy(m);
                snprintf(err, errlen, "out of memory");
                return -1;
            }
            natsStatus s;
            while ((s = js_PublishMsgAsync(js, &m, NULL)) != NATS_OK) {
                if (mono_s() > deadline) {
                    natsMsg_Destroy(m);
                    snprintf(err, errlen, "publishing: %s", natsStatus_GetText(s));
                    return -1;
                }
                if (s != NATS_TIMEOUT) /* the connection away; a stall waited StallWait */
                    usleep(50000);
            }
            natsMsg_Destroy(m); /* no effect: the library owns it */
            sent++;
        }
        if (attempt > 0)
            g.resent += sent;
        settle(js);
        size_t missing = 0;
        pthread_mutex_lock(&g.mu);
        for (size_t i = 0; i < g.n; i++)
            missing += !g.win[i].acked;
        pthread_mutex_unlock(&g.mu);
        if (missing == 0)
            return 0;
        if (mono_s() > deadline) {
            snprintf(err, errlen, "%zu messages not acknowledged in time (last error: %s)", missing,
                     g.last_error[0] ? g.last_error : "none");
            return -1;
        }
        usleep(100000);
    }
}

/* The subject of one event line: events.<region>.<type>; -1 with err when it is not an event. */
static int event_subject(const char *region, const char *line, size_t len, char *subj, size_t cap,
                         char *err, size_t errlen)
{
    static souk_event ev;
    unsigned dropped = 0;
    if (souk_event_parse(line, len, &ev, &dropped, err, errlen) != 0)
        return -1;
    const char *t = souk_ev_type_name(ev.type);
    snprintf(subj, cap, "events.%s.%s", region, t ? t : "other");
    return 0;
}

#define ERASE_USERS_MAX 1000

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* souk-publish erase --user ID [--user ID ...] --to nats://.../STREAM: reads the whole stream
 * once through an ephemeral pull consumer and erases (js_EraseMsg: deleted, its bytes
 * overwritten in the store) every message whose event's "user" is one of the IDs (up to
 * ERASE_USERS_MAX: a batch of erasures costs one scan), so that replaying the stream cannot
 * bring them back (P14, docs/scaling.md). Prints {"stream","users","scanned","erased"}; exit 1
 * on a failure. */
static int cmd_erase(const char **users, size_t nusers, const char *to, long timeout_s)
{
    char err[512];
    nl_addr addr;
    if (nl_addr_parse(to, &addr, err, sizeof err) != 0)
        return usage(err);
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = 5000;
    if (nl_connect(&addr, "souk-publish", &jo, &nc, &js, err, sizeof err) != 0) {
        fprintf(stderr, "souk-publish: %s\n", err);
        return 1;
    }
    double deadline = mono_s() + (double)timeout_s;
    uint64_t scanned = 0, erased = 0, last = 0;
    int rc = 1;
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    natsSubscription *sub = NULL;
    /* The stream and a reader on it, retried within the timeout: while the cluster elects its
     * leaders (a node restarted), its metadata leader can answer "no such stream" for a stream
     * that exists, for a while. */
    for (;;) {
        natsStatus s = js_GetStreamInfo(&si, js, addr.stream, NULL, &jerr);
        if (s == NATS_OK) {
            last = si->State.LastSeq;
            jsStreamInfo_Destroy(si);
            si = NULL;
            jsSubOptions so;
            jsSubOptions_Init(&so);
            so.Stream = addr.stream;
            so.Config.AckPolicy = js_AckNone;
            so.Config.DeliverPolicy = js_DeliverAll;
            s = js_PullSubscribe(&sub, js, "events.>", NULL, NULL, &so, &jerr);
            if (s == NATS_OK)
                break;
            sub = NULL;
            snprintf(err, sizeof err, "reading stream %s: %s (JetStream error %d)", addr.stream,
                     natsStatus_GetText(s), (int)jerr);
        } else {
            snprintf(err, sizeof err, "stream %s: not reachable or absent: %s (JetStream error %d)",
                     addr.stream, natsStatus_GetText(s), (int)jerr);
        }
        if (mono_s() > deadline) {
            fprintf(stderr, "souk-publish: %s\n", err);
            goto out;
        }
        usleep(500000);
    }
    uint64_t seen_seq = 0, pending = UINT64_MAX; /* messages after the last one read */
    int idle = 0;
    while (seen_seq < last) {
        if (mono_s() > deadline) {
            fprintf(stderr, "souk-publish: erase: not done in %lds\n", timeout_s);
            goto out;
        }
        natsMsgList list = {0};
        natsStatus s = natsSubscription_Fetch(&list, sub, 1000, 1000, &jerr);
        if (s == NATS_TIMEOUT || s == NATS_NOT_FOUND) {
            /* Nothing within the wait: done when the last message read had none after it (the
             * stream's last sequences deleted), or after 3 idle waits when none came at all;
             * otherwise the server is slow (a node restarted, a busy machine): wait again. */
            if (pending == 0 || (pending == UINT64_MAX && ++idle >= 3))
                break;
            continue;
        }
        if (s != NATS_OK) {
            fprintf(stderr, "souk-publish: erase: %s\n", natsStatus_GetText(s));
            goto out;
        }
        for (int i = 0; i < list.Count; i++) {
            jsMsgMetaData *meta = NULL;
            if (natsMsg_GetMetaData(&meta, list.Msgs[i]) != NATS_OK)
                continue;
            uint64_t seq = meta->Sequence.Stream;
            pending = meta->NumPending;
            jsMsgMetaData_Destroy(meta);
            seen_seq = seq;
            scanned++;
            cJSON *j = cJSON_ParseWithLength(natsMsg_GetData(list.Msgs[i]),
                                             (size_t)natsMsg_GetDataLength(list.Msgs[i]));
            const cJSON *u = j ? cJSON_GetObjectItemCaseSensitive(j, "user") : NULL;
            const char *uv = cJSON_IsString(u) ? u->valuestring : NULL;
            int match = uv && bsearch(&uv, users, nusers, sizeof *users, cmp_cstr) != NULL;
            cJSON_Delete(j);
            if (match) {
                if (js_EraseMsg(js, addr.stream, seq, NULL, &jerr) != NATS_OK) {
                    fprintf(stderr, "souk-publish: erasing message %llu: error %d\n",
                            (unsigned long long)seq, (int)jerr);
                    natsMsgList_Destroy(&list);
                    goto out;
                }
                erased++;
            }
        }
        natsMsgList_Destroy(&list);
    }
    printf("{\"stream\":\"%s\",\"users\":%zu,\"scanned\":%llu,\"erased\":%llu}\n", addr.stream,
           nusers, (unsigned long long)scanned, (unsigned long long)erased);
    rc = 0;
out:
    if (sub) {
        natsSubscription_Unsubscribe(sub);
        natsSubscription_Destroy(sub);
    }
    nl_close(nc, js);
    return rc;
}

int main(int argc, char **argv)
{
    const char *kind = NULL, *region = NULL, *to = NULL, *file = NULL;
    const char *users[ERASE_USERS_MAX];
    size_t nusers = 0;
    long replicas = 0, window = 4096, timeout_s = 120;
    double retention_days = -1;
    souk_alloc_init();
    if (sodium_init() < 0)
        return fprintf(stderr, "souk-publish: libsodium failed to initialise\n"), 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if ((strcmp(a, "--region") == 0 || strcmp(a, "--to") == 0 || strcmp(a, "--user") == 0 ||
             strcmp(a, "--replicas") == 0 || strcmp(a, "--window") == 0 ||
             strcmp(a, "--timeout") == 0 || strcmp(a, "--retention-days") == 0) &&
            i + 1 >= argc)
            return usage("an option needs a value");
        if (strcmp(a, "--region") == 0)
            region = argv[++i];
        else if (strcmp(a, "--to") == 0)
            to = argv[++i];
        else if (strcmp(a, "--user") == 0) {
            if (nusers == ERASE_USERS_MAX)
                return usage("erase takes at most 1000 --user IDs at once");
            if (!argv[i + 1][0])
                return usage("--user needs a non-empty ID");
            users[nusers++] = argv[++i];
        } else if (strcmp(a, "--replicas") == 0)
            replicas = strtol(argv[++i], NULL, 10);
        else if (strcmp(a, "--window") == 0)
            window = strtol(argv[++i], NULL, 10);
        else if (strcmp(a, "--timeout") == 0)
            timeout_s = strtol(argv[++i], NULL, 10);
        else if (strcmp(a, "--retention-days") == 0) {
            char *end;
            retention_days = strtod(argv[++i], &end);
            if (*end || !(retention_days > 0 && retention_days <= 36500))
                return usage("--retention-days is a number of days above 0, at most 36500");
        } else if (a[0] == '-' && a[1])
            return usage("unknown option");
        else if (!kind)
            kind = a;
        else if (!file)
            file = a;
        else
            return usage("too many arguments");
    }
    if (kind && strcmp(kind, "erase") == 0) {
        if (!nusers || !to)
            return usage("erase needs --user ID (one or more) and --to nats://HOST:PORT/STREAM");
        qsort(users, nusers, sizeof *users, cmp_cstr);
        return cmd_erase(users, nusers, to, timeout_s);
    }
    if (nusers)
        return usage("--user applies to erase only");
    if (!kind || (strcmp(kind, "catalog") != 0 && strcmp(kind, "events") != 0))
        return usage("the first argument is catalog, events or erase");
    int events = strcmp(kind, "events") == 0;
    if (!to)
        return usage("--to nats://HOST:PORT/STREAM is required");
    if (!file)
        return usage("FILE (or - for stdin) is required");
    if (events && (!region || strspn(region, "abcdefghijklmnopqrstuvwxyz") != strlen(region) ||
                   strlen(region) < 2 || strlen(region) > 8))
        return usage("events need --region (2 to 8 lower-case letters, e.g. cn or eu): a "
                     "region's behaviour data goes to its own stream");
    if (!events && region)
        return usage("--region applies to events only (the catalog goes to every region)");
    if (replicas < 0 || replicas > 5)
        return usage("--replicas is 1 to 5");
    if (window < 1 || window > 1000000)
        return usage("--window is 1 to 1000000");
    if (timeout_s < 1)
        return usage("--timeout is at least 1 second");
    if (retention_days < 0)
        retention_days = events ? 365 : 0;
    char err[512];
    nl_addr addr;
    if (nl_addr_parse(to, &addr, err, sizeof err) != 0)
        return usage(err);
    FILE *in = strcmp(file, "-") == 0 ? stdin : fopen(file, "rb");
    if (!in) {
        fprintf(stderr, "souk-publish: cannot open '%s': %s\n", file, strerror(errno));
        return 1;
    }
    pthread_mutex_init(&g.mu, NULL);
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = 5000;
    jo.PublishAsync.MaxPending = window;
    jo.PublishAsync.AckHandler = on_ack;
    jo.PublishAsync.StallWait = 500;
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    double t0 = mono_s(), deadline = t0 + (double)timeout_s;
    int rc = 1, replicas_out = 0;
    char prefix[32];
    snprintf(prefix, sizeof prefix, events ? "events.%s" : "catalog", region ? region : "");
    if (nl_connect(&addr, "souk-publish", &jo, &nc, &js, err, sizeof err) != 0) {
        fprintf(stderr, "souk-publish: %s\n", err);
        goto out;
    }
    /* The stream: retried while the cluster elects its leaders or is still starting. */
    for (;;) {
        if (nl_ensure_stream(nc, js, addr.stream, prefix, (int)replicas, addr.nservers,
                             retention_days * 86400, &replicas_out, err, sizeof err) == 0)
            break;
        if (mono_s() > deadline) {
            fprintf(stderr, "souk-publish: %s\n", err);
            goto out;
        }
        usleep(250000);
    }
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    uint64_t lineno = 0, published = 0, rejected = 0;
    int failed = 0, eof = 0;
    g.win = calloc((size_t)window, sizeof *g.win);
    if (!g.win) {
        fprintf(stderr, "souk-publish: out of memory\n");
        goto out;
    }
    while (!eof && !failed) {
        /* Fill the window. */
        pthread_mutex_lock(&g.mu);
        for (size_t i = 0; i < g.n; i++)
            free(g.win[i].data);
        g.n = 0;
        pthread_mutex_unlock(&g.mu);
        while (g.n < (size_t)window) {
            if ((len = getline(&line, &lcap, in)) < 0) {
                eof = 1;
                break;
            }
            lineno++;
            while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                len--;
            size_t b = 0;
            while (b < (size_t)len && (line[b] == ' ' || line[b] == '\t'))
                b++;
            if (b == (size_t)len)
                continue;
            rec *r = &g.win[g.n];
            char why[256] = "";
            snprintf(r->subj, sizeof r->subj, "catalog.records");
            if ((size_t)len > LINE_CAP) {
                snprintf(why, sizeof why, "record is longer than %zu bytes", LINE_CAP);
            } else if (events) {
                event_subject(region, line, (size_t)len, r->subj, sizeof r->subj, why, sizeof why);
            } else {
                cJSON *j = cJSON_ParseWithLength(line, (size_t)len);
                if (!j || !cJSON_IsObject(j))
                    snprintf(why, sizeof why, "not a JSON object");
                cJSON_Delete(j);
            }
            if (why[0]) {
                if (rejected++ < 10)
                    fprintf(stderr, "souk-publish: %s:%llu: rejected: %s\n", file,
                            (unsigned long long)lineno, why);
                continue;
            }
            /* The message id: the same line of the same input is the same message. */
            unsigned char h[16];
            crypto_generichash_state hs;
            crypto_generichash_init(&hs, NULL, 0, sizeof h);
            crypto_generichash_update(&hs, (const unsigned char *)kind, strlen(kind));
            crypto_generichash_update(&hs, (const unsigned char *)&lineno, sizeof lineno);
            crypto_generichash_update(&hs, (const unsigned char *)line, (size_t)len);
            crypto_generichash_final(&hs, h, sizeof h);
            char hex[33];
            sodium_bin2hex(hex, sizeof hex, h, sizeof h);
            snprintf(r->id, sizeof r->id, "%s-%llu", hex, (unsigned long long)lineno);
            r->data = malloc((size_t)len + 1);
            if (!r->data) {
                fprintf(stderr, "souk-publish: out of memory\n");
                failed = 1;
                break;
            }
            memcpy(r->data, line, (size_t)len);
            r->len = (int)len;
            r->lineno = lineno;
            r->acked = 0;
            pthread_mutex_lock(&g.mu);
            g.n++;
            pthread_mutex_unlock(&g.mu);
        }
        if (failed || g.n == 0)
            break;
        if (publish_window(js, deadline, err, sizeof err) != 0) {
            fprintf(stderr, "souk-publish: %s\n", err);
            failed = 1;
        }
        published += g.n;
    }
    free(line);
    pthread_mutex_lock(&g.mu);
    uint64_t missing = published - g.acked - g.duplicates;
    printf("{\"stream\":\"%s\",\"replicas\":%d,\"retention_s\":%.0f,\"published\":%llu,"
           "\"acked\":%llu,\"duplicates\":%llu,\"rejected\":%llu,\"resent\":%llu,"
           "\"last_seq\":%llu,\"seconds\":%.3f}\n",
           addr.stream, replicas_out, retention_days * 86400, (unsigned long long)published,
           (unsigned long long)g.acked, (unsigned long long)g.duplicates,
           (unsigned long long)rejected, (unsigned long long)g.resent,
           (unsigned long long)g.last_seq, mono_s() - t0);
    rc = (missing || failed) ? 1 : 0;
    for (size_t i = 0; i < g.n; i++)
        free(g.win[i].data);
    g.n = 0;
    pthread_mutex_unlock(&g.mu);
out:
    if (in != stdin)
        fclose(in);
    nl_close(nc, js);
    free(g.win);
    return rc;
}
