/* ep_me_search_history.c: GET /v1/me/search-history (the token's user's searches, newest first;
 * ?limit=N, default 100, at most 1000) and DELETE /v1/me/search-history (clears it at once, for
 * personal autocomplete and features too: P11). The engine audits the clear (P18). */
#include "api_int.h"
#include "souk/events.h"
#include "souk/souk.h"

#include <string.h>

typedef struct hist_out {
    sk_buf *b;
    size_t n;
} hist_out;

static int on_entry(void *arg, int64_t ts_ms, const char *query, size_t len)
{
    hist_out *h = arg;
    sk_buf_printf(h->b, "%s{\"ts_ms\":%lld,\"query\":", h->n++ ? "," : "", (long long)ts_ms);
    sk_buf_json_str(h->b, query, len);
    return sk_buf_str(h->b, "}") ? 1 : 0;
}

int sk_ep_me_search_history(sk_ctx *c)
{
    souk_events *s = sk_events(c);
    if (!s)
        return c->status;
    const char *u = c->user.user;
    size_t ul = c->user.user_len;
    if (c->req->method == HTTP_DELETE) {
        if (sk_no_params(c))
            return c->status;
        int rc = souk_history_clear(s, u, ul, sk_now_ms());
        if (rc)
            return sk_fail_store(c, rc, "clear the search history");
        sk_buf_printf(c->out, "{\"request_id\":\"%s\",\"cleared\":true}\n", c->request_id);
        return 200;
    }
    uint32_t limit;
    if (sk_limit_param(c, &limit))
        return c->status;
    sk_buf_printf(c->out, "{\"request_id\":\"%s\",\"entries\":[", c->request_id);
    hist_out h = {c->out, 0};
    int rc = souk_history_list(s, u, ul, limit, on_entry, &h);
    if (rc)
        return sk_fail_store(c, rc, "read the search history");
    if (sk_buf_str(c->out, "]}\n"))
        return sk_fail(c, 500, "internal", NULL, "out of memory building the response");
    return 200;
}
