/* event.c: one NDJSON behaviour event -> souk_event (P2: the allow-list). A line is refused
 * whole when it is over its cap, is not one strict JSON object (souk/json_strict.h), or has a
 * bad known field; unknown fields are dropped and counted. */
#include "events/events_int.h"
#include "souk/json_strict.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#define EV_LINE_MAX 65536

static const char *const type_names[SOUK_EV_NTYPES] = {"impression", "view",     "search",  "click",
                                                       "cart",       "purchase", "favorite"};

const char *souk_ev_type_name(souk_ev_type t)
{
    return (unsigned)t < SOUK_EV_NTYPES ? type_names[t] : NULL;
}

static int days_from_civil(int y, int m, int d, int64_t *out)
{
    /* Howard Hinnant's days_from_civil. */
    y -= m <= 2;
    int era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (unsigned)((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1);
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    *out = (int64_t)era * 146097 + (int64_t)doe - 719468;
    return 0;
}

static int digits(const char *s, int n, int *v)
{
    int x = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        x = x * 10 + (s[i] - '0');
    }
    *v = x;
    return 0;
}

int souk__ev_parse_time(const char *s, size_t n, int64_t *ms)
{
    int Y, M, D, h, m, sec;
    if (n < 20 || digits(s, 4, &Y) || s[4] != '-' || digits(s + 5, 2, &M) || s[7] != '-' ||
        digits(s + 8, 2, &D) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &m) || s[16] != ':' ||
        digits(s + 17, 2, &sec))
        return -1;
    static const int mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
    if (Y < 1970 || M < 1 || M > 12 || D < 1 || D > mdays[M - 1] || (M == 2 && D == 29 && !leap) ||
        h > 23 || m > 59 || sec > 59)
        return -1;
    size_t i = 19;
    int64_t frac = 0;
    if (i < n && s[i] == '.') {
        size_t k = ++i;
        int scale = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (scale < 3) {
                frac = frac * 10 + (s[i] - '0');
                scale++;
            }
            i++;
        }
        if (i == k || i - k > 9)
            return -1;
        while (scale++ < 3)
            frac *= 10;
    }
    int64_t off = 0;
    if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
        i++;
    } else if (i + 6 == n && (s[i] == '+' || s[i] == '-')) {
        int oh, om;
        if (digits(s + i + 1, 2, &oh) || s[i + 3] != ':' || digits(s + i + 4, 2, &om) || oh > 23 ||
            om > 59)
            return -1;
        off = (int64_t)(oh * 60 + om) * 60000 * (s[i] == '-' ? -1 : 1);
        i += 6;
    } else {
        return -1;
    }
    if (i != n)
        return -1;
    int64_t days;
    days_from_civil(Y, M, D, &days);
    *ms = ((days * 24 + h) * 60 + m) * 60000 + (int64_t)sec * 1000 + frac - off;
    return 0;
}

/* Copies the string field j (may be NULL: absent) named name into out (cap bytes + NUL).
 * Returns 1 when copied, 0 when absent or null, -1 with err when bad. */
static int text_field(const cJSON *j, const char *name, char *out, size_t cap, int allow_null,
                      char *err, size_t errlen)
{
    out[0] = 0;
    if (!j || (allow_null && cJSON_IsNull(j)))
        return 0;
    if (!cJSON_IsString(j)) {
        snprintf(err, errlen, "%s: not a string", name);
        return -1;
    }
    size_t n = strlen(j->valuestring);
    if (n == 0) {
        snprintf(err, errlen, "%s: empty", name);
        return -1;
    }
    if (n > cap) {
        snprintf(err, errlen, "%s: longer than %zu bytes", name, cap);
        return -1;
    }
    if (!souk__ev_utf8_ok((const unsigned char *)j->valuestring, n, 1)) {
        snprintf(err, errlen, "%s: not valid UTF-8 text (bad bytes or a control character)", name);
        return -1;
    }
    memcpy(out, j->valuestring, n + 1);
    return 1;
}

int souk_event_parse(const char *line, size_t len, souk_event *out, unsigned *dropped, char *err,
                     size_t errlen)
{
    if (len > EV_LINE_MAX) {
        snprintf(err, errlen, "event: longer than %d bytes", EV_LINE_MAX);
        return SOUK_EINVAL;
    }
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(line, len, &end, 0);
    if (!j) {
        int rc = souk_json_strict(line, len, NULL, NULL, err, errlen);
        if (rc == SOUK_OK)
            snprintf(err, errlen, "event: not JSON (near byte %zu)",
                     end ? (size_t)(end - line) : (size_t)0);
        return rc == SOUK_ENOMEM ? SOUK_ENOMEM : SOUK_EINVAL;
    }
    int rc = SOUK_EINVAL;
    souk_event ev;
    unsigned drop = 0;
    if (!cJSON_IsObject(j)) {
        snprintf(err, errlen, "event: not a JSON object");
        goto out;
    }
    if ((rc = souk_json_strict(line, len, j, end, err, errlen)) != SOUK_OK)
        goto out;
    rc = SOUK_EINVAL;
    memset(&ev, 0, sizeof ev);
    ev.nhits = -1;
    const cJSON *user = NULL, *session = NULL, *type = NULL, *item = NULL, *query = NULL,
                *ts = NULL, *loc = NULL, *nhits = NULL;
    for (const cJSON *f = j->child; f; f = f->next) {
        const char *k = f->string;
        if (!strcmp(k, "user"))
            user = f;
        else if (!strcmp(k, "session"))
            session = f;
        else if (!strcmp(k, "type"))
            type = f;
        else if (!strcmp(k, "item"))
            item = f;
        else if (!strcmp(k, "query"))
            query = f;
        else if (!strcmp(k, "ts"))
            ts = f;
        else if (!strcmp(k, "loc"))
            loc = f;
        else if (!strcmp(k, "nhits"))
            nhits = f;
        else
            drop++;
    }
    if (!type) {
        snprintf(err, errlen, "type: missing");
        goto out;
    }
    if (!cJSON_IsString(type)) {
        snprintf(err, errlen, "type: not a string");
        goto out;
    }
    int t = -1;
    for (int i = 0; i < SOUK_EV_NTYPES; i++)
        if (!strcmp(type->valuestring, type_names[i]))
            t = i;
    if (t < 0) {
        snprintf(err, errlen,
                 "type: unknown event type (one of impression, view, search, click, "
                 "cart, purchase, favorite)");
        goto out;
    }
    ev.type = (souk_ev_type)t;
    if (text_field(user, "user", ev.user, SOUK_USER_MAX, 1, err, errlen) < 0 ||
        text_field(session, "session", ev.session, SOUK_USER_MAX, 1, err, errlen) < 0 ||
        text_field(item, "item", ev.item, SOUK_ITEM_MAX, 1, err, errlen) < 0)
        goto out;
    if (query && !cJSON_IsNull(query) && ev.type != SOUK_EV_SEARCH) {
        snprintf(err, errlen, "query: free text is allowed on search events only");
        goto out;
    }
    if (text_field(query, "query", ev.query, SOUK_EVQUERY_MAX, 1, err, errlen) < 0)
        goto out;
    if (ev.type == SOUK_EV_SEARCH && !ev.query[0]) {
        snprintf(err, errlen, "query: missing (a search event needs its query)");
        goto out;
    }
    if (ev.type != SOUK_EV_SEARCH && !ev.item[0]) {
        snprintf(err, errlen, "item: missing");
        goto out;
    }
    if (nhits && !cJSON_IsNull(nhits)) {
        if (ev.type != SOUK_EV_SEARCH || !cJSON_IsNumber(nhits) || nhits->valuedouble < 0 ||
            nhits->valuedouble > 2147483647.0 ||
            nhits->valuedouble != (double)(int32_t)nhits->valuedouble) {
            snprintf(err, errlen, "nhits: a count of hits, on search events only");
            goto out;
        }
        ev.nhits = (int32_t)nhits->valuedouble;
    }
    if (!ts) {
        snprintf(err, errlen, "ts: missing");
        goto out;
    }
    if (!cJSON_IsString(ts) ||
        souk__ev_parse_time(ts->valuestring, strlen(ts->valuestring), &ev.ts_ms) != 0) {
        snprintf(err, errlen, "ts: not an RFC 3339 time (e.g. 2024-05-01T12:00:00Z)");
        goto out;
    }
    if (loc && !cJSON_IsNull(loc)) {
        if (!cJSON_IsObject(loc)) {
            snprintf(err, errlen, "loc: not an object");
            goto out;
        }
        for (const cJSON *f = loc->child; f; f = f->next) {
            if (!strcmp(f->string, "country")) {
                const char *c = cJSON_IsString(f) ? f->valuestring : "";
                if (strlen(c) != 2 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z') {
                    snprintf(err, errlen, "loc.country: not an ISO 3166-1 alpha-2 code (e.g. DE)");
                    goto out;
                }
                memcpy(ev.country, c, 3);
            } else if (!strcmp(f->string, "region")) {
                if (text_field(f, "loc.region", ev.region, SOUK_REGION_MAX, 1, err, errlen) < 0)
                    goto out;
            } else {
                drop++;
            }
        }
        if (ev.region[0] && !ev.country[0]) {
            snprintf(err, errlen, "loc.region: needs loc.country");
            goto out;
        }
    }
    *out = ev;
    if (dropped)
        *dropped = drop;
    rc = SOUK_OK;
out:
    cJSON_Delete(j);
    return rc;
}
