/* ep_events.c: POST /v1/events, a batch of behaviour events (docs/api.md): NDJSON, one event per
 * line (souk_event_parse: the allow-list of P2), at most SK_EVENTS_MAX lines that are not blank.
 * Every line gets a result: its outcome in the store, or "rejected" with the reason; the good
 * events of a batch are stored in one transaction even when others are rejected. Unknown fields
 * are dropped and counted. */
#include "api_int.h"
#include "souk/events.h"
#include "souk/souk.h"

#include <sodium.h>
#include <string.h>

#define SK_EVENTS_MAX 1000

static const char *outcome_name(souk_ev_outcome o)
{
    switch (o) {
    case SOUK_EVO_STORED:
        return "stored";
    case SOUK_EVO_ANONYMOUS:
        return "anonymous";
    case SOUK_EVO_DUPLICATE:
        return "duplicate";
    case SOUK_EVO_SUPPRESSED:
        return "suppressed";
    case SOUK_EVO_EXPIRED:
        return "expired";
    }
    return "stored";
}

/* 1 when the line holds only spaces, tabs and CRs (skipped, no event). */
static int blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
            return 0;
    return 1;
}

int sk_ep_events(sk_ctx *c)
{
    const sk_request *r = c->req;
    souk_events *s = sk_events_store(c);
    if (!s)
        return c->status;
    if (sk_no_params(c))
        return c->status;
    if (r->has_content_type && !r->ndjson_body)
        return sk_fail(c, 415, "unsupported_media_type", NULL,
                       "the body must be NDJSON, one event per line (Content-Type: "
                       "application/x-ndjson)");
    const char *b = r->body.p ? r->body.p : "";
    size_t blen = r->body.len;
    /* Count the events first: an oversized batch is refused whole. */
    size_t nlines = 0, nev = 0;
    for (size_t i = 0; i < blen;) {
        const char *nl = memchr(b + i, '\n', blen - i);
        size_t e = nl ? (size_t)(nl - b) : blen;
        nlines++;
        if (!blank(b + i, e - i) && ++nev > SK_EVENTS_MAX)
            return sk_fail(c, 400, "batch_too_large", NULL,
                           "a batch holds at most %d events (one per line); send more batches",
                           SK_EVENTS_MAX);
        i = e + 1;
    }
    if (nev == 0)
        return sk_fail(c, 400, "empty_batch", NULL,
                       "the body holds no event (NDJSON: one JSON object per line)");
    souk_event *ev = souk_calloc(nev, sizeof *ev);
    souk_ev_outcome *out = souk_calloc(nev, sizeof *out);
    /* Per line: index into ev (>= 0) or -1 blank or -2 rejected (with its message). */
    int32_t *slot = souk_calloc(nlines ? nlines : 1, sizeof *slot);
    char(*why)[200] = souk_calloc(nev, sizeof *why);
    if (!ev || !out || !slot || !why) {
        souk_free(ev);
        souk_free(out);
        souk_free(slot);
        souk_free(why);
        return sk_fail(c, 500, "internal", NULL, "out of memory");
    }
    size_t ngood = 0, nrej = 0, ln = 0;
    unsigned dropped = 0;
    for (size_t i = 0; i < blen; ln++) {
        const char *nl = memchr(b + i, '\n', blen - i);
        size_t e = nl ? (size_t)(nl - b) : blen;
        size_t len = e - i;
        if (len && b[i + len - 1] == '\r')
            len--;
        if (blank(b + i, len)) {
            slot[ln] = -1;
        } else {
            unsigned d = 0;
            char err[200];
            if (souk_event_parse(b + i, len, &ev[ngood], &d, err, sizeof err) == 0) {
                slot[ln] = (int32_t)ngood++;
                dropped += d;
            } else {
                snprintf(why[nrej++], sizeof why[0], "%s", err);
                slot[ln] = -2;
            }
        }
        i = e + 1;
    }
    souk_ev_counts counts = {0};
    int rc = 0;
    char err[512] = "";
    if (ngood)
        rc = souk_events_enqueue(s, ev, ngood, sk_now_ms(), out, &counts, err, sizeof err);
    if (ngood)
        sk_bg_flush(c->w->st); /* the background thread adds them (inbox.c) */
    if (rc == SOUK_ETOOBIG) {
        sk_fail(c, 503, "events_backlog", NULL,
                "the events were not accepted: %s (nothing of this batch was kept)", err);
    } else if (rc) {
        sk_fail(c, rc == SOUK_EINVAL ? 400 : 500, rc == SOUK_EINVAL ? "invalid_event" : "internal",
                NULL, "the events were not stored: %s", err);
    } else {
        sk_buf *o = c->out;
        sk_buf_printf(o,
                      "{\"request_id\":\"%s\",\"events\":%zu,\"accepted\":%zu,\"rejected\":%zu,"
                      "\"dropped_fields\":%u,\"counts\":{\"stored\":%llu,\"anonymous\":%llu,"
                      "\"duplicate\":%llu,\"suppressed\":%llu,\"expired\":%llu},\"results\":[",
                      c->request_id, ngood + nrej, ngood, nrej, dropped,
                      (unsigned long long)counts.stored, (unsigned long long)counts.anonymous,
                      (unsigned long long)counts.duplicate, (unsigned long long)counts.suppressed,
                      (unsigned long long)counts.expired);
        size_t k = 0, first = 1;
        for (size_t l = 0; l < nlines; l++) {
            if (slot[l] == -1)
                continue;
            sk_buf_printf(o, "%s{\"line\":%zu,\"status\":", first ? "" : ",", l + 1);
            first = 0;
            if (slot[l] >= 0) {
                sk_buf_printf(o, "\"%s\"}", outcome_name(out[slot[l]]));
            } else {
                sk_buf_str(o, "\"rejected\",\"error\":");
                sk_buf_json_str(o, why[k], strlen(why[k]));
                sk_buf_str(o, "}");
                k++;
            }
        }
        if (sk_buf_str(o, "]}\n"))
            sk_fail(c, 500, "internal", NULL, "out of memory building the response");
    }
    sodium_memzero(ev, nev * sizeof *ev); /* raw user ids */
    souk_free(ev);
    souk_free(out);
    souk_free(slot);
    souk_free(why);
    return c->status;
}
