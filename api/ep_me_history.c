/* ep_me_history.c: GET /v1/me/history, the viewed, carted, bought (and other) items that
 * personalize for the token's user, newest first (P8, settled reading), each deletable with
 * DELETE /v1/me/history/{item}; ?limit=N (default 100, at most 1000). */
#include "api_int.h"
#include "souk/events.h"
#include "souk/souk.h"

#include <string.h>

typedef struct items_out {
    sk_buf *b;
    size_t n;
} items_out;

static int on_item(void *arg, souk_ev_type type, const char *item, int64_t ts_ms)
{
    items_out *o = arg;
    const char *t = souk_ev_type_name(type);
    sk_buf_printf(o->b, "%s{\"type\":\"%s\",\"item\":", o->n++ ? "," : "", t ? t : "unknown");
    sk_buf_json_str(o->b, item, strlen(item));
    return sk_buf_printf(o->b, ",\"ts_ms\":%lld}", (long long)ts_ms) ? 1 : 0;
}

int sk_ep_me_history(sk_ctx *c)
{
    souk_events *s = sk_events(c);
    uint32_t limit;
    if (!s || sk_limit_param(c, &limit))
        return c->status;
    sk_buf_printf(c->out, "{\"request_id\":\"%s\",\"items\":[", c->request_id);
    items_out o = {c->out, 0};
    int rc = souk_user_items(s, c->user.user, c->user.user_len, limit, on_item, &o);
    if (rc)
        return sk_fail_store(c, rc, "read the history");
    if (sk_buf_str(c->out, "]}\n"))
        return sk_fail(c, 500, "internal", NULL, "out of memory building the response");
    return 200;
}
