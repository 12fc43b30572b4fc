/* ep_users.c: DELETE /v1/users/{id} (admin): erases the user (account cancellation, P12-P14).
 * Serving stops using the user's data when this answers (the suppression record is committed
 * first); the rest runs as a job on the server's background thread (bg.c), whose state
 * GET /v1/erasures/{job} shows. 202 {"job","state"}; idempotent: erasing a user again returns
 * the same job. The raw id appears nowhere but in this request (the access log names the route,
 * the audit log a suppression hash). */
#include "api_int.h"
#include "souk/events.h"
#include "souk/souk.h"

#include <string.h>

static const char *const state_names[] = {"pending", "running", "completed", "failed"};

const char *sk_job_state_name(int st)
{
    return st >= 0 && st <= SOUK_JOB_FAILED ? state_names[st] : "unknown";
}

int sk_ep_users(sk_ctx *c)
{
    souk_events *s = sk_events(c);
    if (!s || sk_no_params(c))
        return c->status;
    if (c->path_arg_len > SOUK_USER_MAX || memchr(c->path_arg, 0, c->path_arg_len))
        return sk_fail(c, 400, "invalid_parameter", "id", "a user id is 1 to %d bytes",
                       SOUK_USER_MAX);
    char job[33], err[256];
    int rc = souk_erase_start(s, c->path_arg, c->path_arg_len, sk_now_ms(), job, err, sizeof err);
    if (rc == SOUK_EINVAL)
        return sk_fail(c, 400, "invalid_parameter", "id", "%s", err);
    if (rc)
        return sk_fail(c, 500, "internal", NULL, "the erasure was not started: %s", err);
    souk_job_state st = SOUK_JOB_PENDING;
    int64_t updated = 0;
    souk_erase_state(s, job, &st, &updated, err, sizeof err);
    sk_bg_wake(c->w->st);
    sk_buf_printf(c->out, "{\"request_id\":\"%s\",\"job\":\"%s\",\"state\":\"%s\"}\n",
                  c->request_id, job, sk_job_state_name((int)st));
    return c->status = 202;
}
