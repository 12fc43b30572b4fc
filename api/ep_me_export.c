/* ep_me_export.c: GET /v1/me/export, the token's user's personal data as one JSON document
 * (P19: everything docs/privacy.md's inventory lists for the user; souk_user_export, which audits
 * it). */
#include "api_int.h"
#include "souk/events.h"
#include "souk/souk.h"

#include <string.h>

int sk_ep_me_export(sk_ctx *c)
{
    souk_events *s = sk_events(c);
    if (!s || sk_no_params(c))
        return c->status;
    char *json = NULL;
    size_t len = 0;
    int rc = souk_user_export(s, c->user.user, c->user.user_len, sk_now_ms(), &json, &len);
    if (rc == SOUK_ENOTFOUND) /* erased, or being erased: its suppression record is all there is */
        return sk_fail(c, 404, "not_found", NULL,
                       "no personal data is held for this user: it has been erased");
    if (rc)
        return sk_fail_store(c, rc, "export your data");
    rc = sk_buf_add(c->out, json, len);
    if (!rc && (len == 0 || json[len - 1] != '\n'))
        rc = sk_buf_str(c->out, "\n");
    souk_free(json);
    if (rc)
        return sk_fail(c, 500, "internal", NULL, "out of memory building the response");
    return 200;
}
