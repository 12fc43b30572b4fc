/* nats_link.c: nats:// addresses, connections and streams (see nats_link.h). */
#include "nats_link.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t nl_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int nl_addr_parse(const char *url, nl_addr *a, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    if (strncmp(url, "nats://", 7) != 0) {
        snprintf(err, errlen, "'%s': a NATS address starts with nats://", url);
        return -1;
    }
    const char *p = url + 7, *slash = strchr(p, '/');
    if (!slash || !slash[1]) {
        snprintf(err, errlen, "'%s': no stream name: nats://HOST:PORT[,HOST:PORT...]/STREAM", url);
        return -1;
    }
    const char *st = slash + 1;
    size_t sl = strlen(st);
    if (sl > 64 ||
        strspn(st, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") != sl) {
        snprintf(err, errlen, "'%s': a stream name is 1 to 64 letters, digits, '_' or '-'", st);
        return -1;
    }
    memcpy(a->stream, st, sl + 1);
    while (p < slash) {
        const char *comma = memchr(p, ',', (size_t)(slash - p));
        const char *end = comma ? comma : slash;
        size_t n = (size_t)(end - p);
        const char *colon = memchr(p, ':', n);
        if (n == 0 || !colon || colon == p || colon + 1 == end ||
            strspn(colon + 1, "0123456789") < (size_t)(end - colon - 1)) {
            snprintf(err, errlen, "'%.*s': a server is HOST:PORT", (int)n, p);
            return -1;
        }
        if (a->nservers == NL_MAX_SERVERS || n + 8 > sizeof a->servers[0]) {
            snprintf(err, errlen, "'%s': at most %d servers of at most 150 bytes", url,
                     NL_MAX_SERVERS);
            return -1;
        }
        snprintf(a->servers[a->nservers++], sizeof a->servers[0], "nats://%.*s", (int)n, p);
        p = comma ? comma + 1 : slash;
    }
    if (a->nservers == 0) {
        snprintf(err, errlen, "'%s': no server", url);
        return -1;
    }
    return 0;
}

int nl_connect(const nl_addr *a, const char *client_name, jsOptions *jo, natsConnection **nc,
               jsCtx **js, char *err, size_t errlen)
{
    natsOptions *o = NULL;
    const char *urls[NL_MAX_SERVERS];
    for (int i = 0; i < a->nservers; i++)
        urls[i] = a->servers[i];
    *nc = NULL;
    *js = NULL;
    natsStatus s = natsOptions_Create(&o);
    if (s == NATS_OK)
        s = natsOptions_SetServers(o, urls, a->nservers);
    if (s == NATS_OK)
        s = natsOptions_SetName(o, client_name);
    if (s == NATS_OK)
        s = natsOptions_SetMaxReconnect(o, -1); /* for ever: a node down is not fatal */
    if (s == NATS_OK)
        s = natsOptions_SetReconnectWait(o, 200);
    if (s == NATS_OK)
        s = natsOptions_SetTimeout(o, 2000);
    /* Retry a first connection that fails (the cluster still starting) for ever, in the
     * background: the caller's requests then fail with timeouts until it is up. */
    if (s == NATS_OK)
        s = natsOptions_SetRetryOnFailedConnect(o, true, NULL, NULL);
    if (s == NATS_OK)
        s = natsConnection_Connect(nc, o);
    if (s == NATS_NOT_YET_CONNECTED)
        s = NATS_OK;
    if (s == NATS_OK)
        s = natsConnection_JetStream(js, *nc, jo);
    natsOptions_Destroy(o);
    if (s != NATS_OK) {
        snprintf(err, errlen, "connecting to %s: %s", a->servers[0], natsStatus_GetText(s));
        nl_close(*nc, *js);
        *nc = NULL;
        *js = NULL;
        return -1;
    }
    return 0;
}

void nl_close(natsConnection *nc, jsCtx *js)
{
    if (js)
        jsCtx_Destroy(js);
    if (nc) {
        natsConnection_Close(nc);
        natsConnection_Destroy(nc);
    }
}

int nl_ensure_stream(natsConnection *nc, jsCtx *js, const char *stream, const char *prefix,
                     int replicas, int listed, double max_age_s, int *replicas_out, char *err,
                     size_t errlen)
{
    jsStreamInfo *si = NULL;
    jsErrCode jerr = 0;
    int64_t max_age = max_age_s > 0 ? (int64_t)(max_age_s * 1e9) : 0; /* nanoseconds */
    natsStatus s = js_GetStreamInfo(&si, js, stream, NULL, &jerr);
    if (s == NATS_OK) {
        if (replicas_out)
            *replicas_out = (int)si->Config->Replicas;
        if (max_age > 0 && si->Config->MaxAge != max_age) {
            jsStreamConfig cfg = *si->Config; /* the stream's own, MaxAge changed */
            cfg.MaxAge = max_age;
            jsStreamInfo *ui = NULL;
            s = js_UpdateStream(&ui, js, &cfg, NULL, &jerr);
            jsStreamInfo_Destroy(ui);
            if (s != NATS_OK) {
                snprintf(err, errlen, "setting stream %s's retention: %s (%d)", stream,
                         natsStatus_GetText(s), (int)jerr);
                jsStreamInfo_Destroy(si);
                return -1;
            }
        }
        jsStreamInfo_Destroy(si);
        return 0;
    }
    if (s != NATS_NOT_FOUND && jerr != JSStreamNotFoundErr) {
        snprintf(err, errlen, "stream %s: %s (%d)", stream, natsStatus_GetText(s), (int)jerr);
        return -1;
    }
    if (replicas <= 0) {
        char **ds = NULL;
        int nds = 0;
        replicas = listed >= 3 ? 3 : 1;
        if (natsConnection_GetDiscoveredServers(nc, &ds, &nds) == NATS_OK) {
            if (nds >= 2)
                replicas = 3;
            for (int i = 0; i < nds; i++)
                free(ds[i]);
            free(ds);
        }
    }
    char subject[96];
    snprintf(subject, sizeof subject, "%s.*", prefix);
    const char *subjects[1] = {subject};
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = stream;
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    cfg.Replicas = replicas;
    cfg.Duplicates = (int64_t)120 * 1000000000; /* nanoseconds */
    cfg.MaxAge = max_age;
    if (max_age > 0 && cfg.Duplicates > max_age)
        cfg.Duplicates = max_age; /* JetStream refuses a duplicate window beyond MaxAge */
    s = js_AddStream(&si, js, &cfg, NULL, &jerr);
    if (s != NATS_OK) {
        snprintf(err, errlen, "creating stream %s (%s, R=%d): %s (%d: %s)", stream, subject,
                 replicas, natsStatus_GetText(s), (int)jerr, nats_GetLastError(NULL));
        return -1;
    }
    if (replicas_out)
        *replicas_out = replicas;
    jsStreamInfo_Destroy(si);
    return 0;
}
