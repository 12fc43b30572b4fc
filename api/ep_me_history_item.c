/* ep_me_history_item.c: DELETE /v1/me/history/{item}: the item leaves the token's user's history
 * and every feature and model input it fed, at once; it is not derived again from events older
 * than the deletion (P8). The engine audits it (P18). */
#include "api_int.h"
#include "souk/events.h"
#include "souk/souk.h"

#include <string.h>

int sk_ep_me_history_item(sk_ctx *c)
{
    souk_events *s = sk_events(c);
    if (!s || sk_no_params(c))
        return c->status;
    if (c->path_arg_len > SOUK_ITEM_MAX || memchr(c->path_arg, 0, c->path_arg_len))
        return sk_fail(c, 400, "invalid_parameter", "item", "not an item id (1 to %d bytes)",
                       SOUK_ITEM_MAX);
    int rc = souk_user_item_delete(s, c->user.user, c->user.user_len, c->path_arg, sk_now_ms());
    if (rc == SOUK_ENOTFOUND)
        return sk_fail(c, 404, "not_found", "item", "this item is not in your history");
    if (rc)
        return sk_fail_store(c, rc, "delete the item");
    sk_buf_printf(c->out, "{\"request_id\":\"%s\",\"deleted\":true}\n", c->request_id);
    return 200;
}
