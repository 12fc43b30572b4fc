/* ep_me_tag.c: DELETE /v1/me/tags/{tag}: the tag stops personalizing for the token's user at once
 * and is not derived again from events older than the deletion (P8). The engine audits it (P18). */
#include "api_int.h"
#include "souk/events.h"
#include "souk/souk.h"

#include <string.h>

int sk_ep_me_tag(sk_ctx *c)
{
    souk_events *s = sk_events(c);
    if (!s || sk_no_params(c))
        return c->status;
    if (c->path_arg_len > 63 || memchr(c->path_arg, 0, c->path_arg_len))
        return sk_fail(c, 400, "invalid_parameter", "tag", "not a tag (1 to 63 bytes)");
    int rc = souk_tag_delete(s, c->user.user, c->user.user_len, c->path_arg, sk_now_ms());
    if (rc == SOUK_ENOTFOUND)
        return sk_fail(c, 404, "not_found", "tag", "you have no such tag");
    if (rc)
        return sk_fail_store(c, rc, "delete the tag");
    sk_buf_printf(c->out, "{\"request_id\":\"%s\",\"deleted\":true}\n", c->request_id);
    return 200;
}
