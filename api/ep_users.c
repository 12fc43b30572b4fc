/* ep_users.c: /v1/users/{id} (admin), what the platform's backend does to a user.
 *
 * PUT sets the flags a user may not set on their own record (P7): {"minor": bool,
 * "guardian_consent": bool}, either or both; the user's other consent fields keep their value.
 * A minor is not personalized until guardian_consent is true. 200 with the consent record.
 *
 * DELETE erases the user (account cancellation, P12-P14).
 * Serving stops using the user's data when this answers (the suppression record is committed
 * first); the rest runs as a job on the server's background thread (bg.c), whose state
 * GET /v1/erasures/{job} shows. 202 {"job","state"}; idempotent: erasing a user again returns
 * the same job. The raw id appears nowhere but in this request (the access log names the route,
 * the audit log a suppression hash). */
#include "api_int.h"
#include "souk/events.h"
#include "souk/json_strict.h"
#include "souk/souk.h"

#include <cjson/cJSON.h>
#include <string.h>

static const char *const state_names[] = {"pending", "running", "completed", "failed"};

const char *sk_job_state_name(int st)
{
    return st >= 0 && st <= SOUK_JOB_FAILED ? state_names[st] : "unknown";
}

/* PUT: the backend-owned flags of the user's consent record. */
static int put_flags(sk_ctx *c, souk_events *s)
{
    const sk_request *r = c->req;
    if (r->has_content_type && !r->json_body)
        return sk_fail(c, 415, "unsupported_media_type", NULL,
                       "the body must be JSON (Content-Type: application/json)");
    const char *b = r->body.p ? r->body.p : "";
    char err[256] = "";
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(b, r->body.len, &end, 0);
    if (souk_json_strict(b, r->body.len, j, end, err, sizeof err) || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return sk_fail(c, 400, "invalid_json", NULL, "the body must be a JSON object%s%s",
                       *err ? ": " : "", err);
    }
    souk_consent cs;
    int rc = souk_consent_get(s, c->path_arg, c->path_arg_len, &cs);
    if (rc) {
        cJSON_Delete(j);
        return sk_fail_store(c, rc, "read the consent");
    }
    souk_consent n = cs;
    int any = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, j)
    {
        int *dst = strcmp(it->string, "minor") == 0              ? &n.minor
                   : strcmp(it->string, "guardian_consent") == 0 ? &n.guardian_consent
                                                                 : NULL;
        if (dst && cJSON_IsBool(it)) {
            *dst = cJSON_IsTrue(it);
            any = 1;
            continue;
        }
        char field[64];
        snprintf(field, sizeof field, "%.60s", it->string);
        for (size_t i = 0; field[i]; i++)
            if ((unsigned char)field[i] < 0x20 || (unsigned char)field[i] >= 0x7f)
                field[i] = '?';
        cJSON_Delete(j);
        if (dst)
            return sk_fail(c, 400, "invalid_parameter", field, "\"%s\" must be true or false",
                           field);
        return sk_fail(c, 400, "unknown_field", field,
                       "unknown field \"%s\" (known: minor, guardian_consent; the user sets the "
                       "rest with PUT /v1/me/consent)",
                       field);
    }
    cJSON_Delete(j);
    if (!any)
        return sk_fail(c, 400, "invalid_parameter", NULL,
                       "the body sets nothing (fields: minor, guardian_consent)");
    if (!cs.recorded)
        n.policy_version = c->cfg->ev.policy_version;
    n.recorded = 1;
    rc = souk_consent_set(s, c->path_arg, c->path_arg_len, &n, sk_now_ms(), err, sizeof err);
    if (rc == SOUK_EINVAL)
        return sk_fail(c, 400, "invalid_consent", NULL, "%s", err);
    if (rc)
        return sk_fail(c, 500, "internal", NULL, "the flags were not recorded: %s", err);
    if ((rc = souk_consent_get(s, c->path_arg, c->path_arg_len, &cs)) != 0)
        return sk_fail_store(c, rc, "read the consent");
    sk_buf_printf(c->out,
                  "{\"request_id\":\"%s\",\"minor\":%s,\"guardian_consent\":%s,"
                  "\"personalized\":%s}\n",
                  c->request_id, cs.minor ? "true" : "false",
                  cs.guardian_consent ? "true" : "false",
                  souk_consent_personalize(&cs) ? "true" : "false");
    return 200;
}

int sk_ep_users(sk_ctx *c)
{
    souk_events *s = sk_events(c);
    if (!s || sk_no_params(c))
        return c->status;
    if (c->path_arg_len > SOUK_USER_MAX || memchr(c->path_arg, 0, c->path_arg_len))
        return sk_fail(c, 400, "invalid_parameter", "id", "a user id is 1 to %d bytes",
                       SOUK_USER_MAX);
    if (c->req->method == HTTP_PUT)
        return put_flags(c, s);
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
