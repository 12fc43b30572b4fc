/* ep_erasures.c: GET /v1/erasures/{job} (admin): the state of an erasure job,
 * pending -> running -> completed | failed (P12). */
#include "api_int.h"
#include "souk/events.h"
#include "souk/souk.h"

#include <string.h>

int sk_ep_erasures(sk_ctx *c)
{
    souk_events *s = sk_events(c);
    if (!s || sk_no_params(c))
        return c->status;
    char job[33];
    int ok = c->path_arg_len == 32;
    for (size_t i = 0; ok && i < 32; i++)
        ok = strchr("0123456789abcdef", c->path_arg[i]) != NULL && c->path_arg[i];
    if (!ok)
        return sk_fail(c, 400, "invalid_parameter", "job",
                       "a job id is 32 lower-case hex digits, as DELETE /v1/users/{id} returns");
    memcpy(job, c->path_arg, 32);
    job[32] = 0;
    souk_job_state st;
    int64_t updated;
    char err[256];
    int rc = souk_erase_state(s, job, &st, &updated, err, sizeof err);
    if (rc == SOUK_ENOTFOUND)
        return sk_fail(c, 404, "not_found", "job", "no erasure job with this id");
    if (rc)
        return sk_fail(c, 500, "internal", NULL, "reading the job: %s", err);
    sk_buf_printf(c->out,
                  "{\"request_id\":\"%s\",\"job\":\"%s\",\"state\":\"%s\",\"updated_ms\":%lld}\n",
                  c->request_id, job, sk_job_state_name((int)st), (long long)updated);
    return 200;
}
