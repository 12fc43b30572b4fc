/* ep_profiles.c: GET /v1/profiles, the stored ranking profiles: each name with its current
 * version and when that version was stored (docs/api.md, "Ranking profiles"). Admin key. */
#include "api_int.h"
#include "souk/profstore.h"
#include "souk/souk.h"

#include <string.h>
#include <time.h>

/* Appends ,"updated":"2026-12-07T21:55:14.123Z" for ms since the epoch (0: "" when unknown). */
void sk_write_time(sk_buf *b, int64_t ms)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    char ts[32];
    gmtime_r(&s, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    sk_buf_printf(b, ",\"updated\":\"%s.%03dZ\"", ts, (int)(ms % 1000));
}

typedef struct list_ctx {
    sk_buf *b;
    int n;
} list_ctx;

static int one(void *ctx, const char *name, uint32_t version, int64_t updated_ms)
{
    list_ctx *l = ctx;
    sk_buf_str(l->b, l->n++ ? ",{\"name\":" : "{\"name\":");
    sk_buf_json_str(l->b, name, strlen(name));
    sk_buf_printf(l->b, ",\"version\":%u", version);
    sk_write_time(l->b, updated_ms);
    return sk_buf_str(l->b, "}");
}

int sk_ep_profiles(sk_ctx *c)
{
    int rc = sk_no_params(c);
    if (rc)
        return rc;
    souk_profstore *ps = sk_profiles_store(c);
    if (!ps)
        return c->status;
    char err[512];
    list_ctx l = {c->out, 0};
    sk_buf_str(c->out, "{\"profiles\":[");
    rc = souk_profstore_list(ps, one, &l, err, sizeof err);
    if (rc)
        return sk_fail(c, 500, "internal", NULL, "%s", rc == SOUK_ENOMEM ? "out of memory" : err);
    if (sk_buf_str(c->out, "]}\n"))
        return sk_fail(c, 500, "internal", NULL, "out of memory building the response");
    return 200;
}
