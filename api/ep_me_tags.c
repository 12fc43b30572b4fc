/* ep_me_tags.c: GET /v1/me/tags, every tag used to personalize for the token's user, in readable
 * form with its count, latest time and reason (P8); each deletable with DELETE /v1/me/tags/{tag}.
 */
#include "api_int.h"
#include "souk/events.h"
#include "souk/souk.h"

#include <string.h>

typedef struct tags_out {
    sk_buf *b;
    size_t n;
} tags_out;

static int on_tag(void *arg, const char *tag, uint32_t count, int64_t last_ms, const char *why)
{
    tags_out *o = arg;
    sk_buf_str(o->b, o->n++ ? ",{\"tag\":" : "{\"tag\":");
    sk_buf_json_str(o->b, tag, strlen(tag));
    sk_buf_printf(o->b, ",\"count\":%u,\"last_ms\":%lld,\"why\":", count, (long long)last_ms);
    sk_buf_json_str(o->b, why ? why : "", why ? strlen(why) : 0);
    return sk_buf_str(o->b, "}") ? 1 : 0;
}

int sk_ep_me_tags(sk_ctx *c)
{
    souk_events *s = sk_events(c);
    if (!s || sk_no_params(c))
        return c->status;
    sk_buf_printf(c->out, "{\"request_id\":\"%s\",\"tags\":[", c->request_id);
    tags_out o = {c->out, 0};
    int rc = souk_tags_list(s, c->user.user, c->user.user_len, on_tag, &o);
    if (rc)
        return sk_fail_store(c, rc, "read the tags");
    if (sk_buf_str(c->out, "]}\n"))
        return sk_fail(c, 500, "internal", NULL, "out of memory building the response");
    return 200;
}
