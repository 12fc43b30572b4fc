/* ep_profile.c: one ranking profile (docs/api.md, "Ranking profiles"), admin key:
 *   GET /v1/profiles/{name}                  the current version's document
 *   PUT /v1/profiles/{name}                  a new version (validated first; an invalid document
 *                                            is refused naming the member, the current stays)
 *   GET /v1/profiles/{name}/versions         every version, oldest first
 *   GET /v1/profiles/{name}/versions/{n}     version n's document
 * A rollback is the PUT of an old version's document: it becomes the next version. */
#include "api_int.h"
#include "souk/profile.h"
#include "souk/profstore.h"
#include "souk/souk.h"

#include <stdlib.h>
#include <string.h>

/* {"name","version","updated","profile":<document>} of version (0: current). */
static int write_version(sk_ctx *c, souk_profstore *ps, const char *name, uint32_t version)
{
    char err[512], *doc;
    size_t len;
    uint32_t got;
    int64_t ms;
    int rc = souk_profstore_get(ps, name, version, &doc, &len, &got, &ms, err, sizeof err);
    if (rc == SOUK_ENOTFOUND)
        return sk_fail(c, 404, "not_found", NULL,
                       version ? "profile \"%s\" has no version %u" : "no profile named \"%s\"",
                       name, version);
    if (rc)
        return sk_fail(c, 500, "internal", NULL, "%s", err);
    sk_buf_str(c->out, "{\"name\":");
    sk_buf_json_str(c->out, name, strlen(name));
    sk_buf_printf(c->out, ",\"version\":%u", got);
    sk_write_time(c->out, ms);
    sk_buf_str(c->out, ",\"profile\":");
    sk_buf_add(c->out, doc, len);
    souk_free(doc);
    if (sk_buf_str(c->out, "}\n"))
        return sk_fail(c, 500, "internal", NULL, "out of memory building the response");
    return 200;
}

typedef struct vctx {
    sk_buf *b;
    int n;
    uint32_t last;
} vctx;

static int one_version(void *ctx, const char *name, uint32_t version, int64_t updated_ms)
{
    (void)name;
    vctx *v = ctx;
    sk_buf_printf(v->b, "%s{\"version\":%u", v->n++ ? "," : "", version);
    sk_write_time(v->b, updated_ms);
    v->last = version;
    return sk_buf_str(v->b, "}");
}

int sk_ep_profile(sk_ctx *c)
{
    int rc = sk_no_params(c);
    if (rc)
        return rc;
    souk_profstore *ps = sk_profiles_store(c);
    if (!ps)
        return c->status;
    /* name, name/versions or name/versions/N */
    const char *arg = c->path_arg;
    size_t alen = c->path_arg_len;
    const char *slash = memchr(arg, '/', alen);
    size_t nl = slash ? (size_t)(slash - arg) : alen;
    if (!souk_profile_name_ok(arg, nl))
        return sk_fail(c, 400, "invalid_parameter", "name",
                       "a profile name has 1 to %d of the characters A-Z a-z 0-9 _ - .",
                       SOUK_PROFILE_NAME_MAX);
    char name[SOUK_PROFILE_NAME_MAX + 1];
    memcpy(name, arg, nl);
    name[nl] = 0;
    if (!slash) {
        if (c->req->method == HTTP_GET)
            return write_version(c, ps, name, 0);
        const sk_request *r = c->req;
        if (r->has_content_type && !r->json_body)
            return sk_fail(c, 415, "unsupported_media_type", NULL,
                           "a profile is a JSON body (Content-Type: application/json)");
        if (r->body.len > SOUK_PROFILE_MAX_BYTES)
            return sk_fail(c, 413, "body_too_large", NULL, "a profile document is at most %u bytes",
                           SOUK_PROFILE_MAX_BYTES);
        uint32_t v;
        if ((rc = sk_profiles_put(c, name, r->body.p ? r->body.p : "", r->body.len, &v)))
            return rc;
        return write_version(c, ps, name, v);
    }
    const char *rest = slash + 1;
    size_t rl = alen - nl - 1;
    if (c->req->method != HTTP_GET)
        return sk_fail(c, 405, "method_not_allowed", NULL, "versions are read only: PUT %s",
                       "/v1/profiles/{name} stores a new one");
    if (rl == 8 && memcmp(rest, "versions", 8) == 0) {
        vctx v = {c->out, 0, 0};
        sk_buf_str(c->out, "{\"name\":");
        sk_buf_json_str(c->out, name, nl);
        sk_buf_str(c->out, ",\"versions\":[");
        char err[512];
        rc = souk_profstore_versions(ps, name, one_version, &v, err, sizeof err);
        if (rc == SOUK_ENOTFOUND)
            return sk_fail(c, 404, "not_found", NULL, "no profile named \"%s\"", name);
        if (rc)
            return sk_fail(c, 500, "internal", NULL, "%s", err);
        if (sk_buf_printf(c->out, "],\"current\":%u}\n", v.last))
            return sk_fail(c, 500, "internal", NULL, "out of memory building the response");
        return 200;
    }
    if (rl > 9 && memcmp(rest, "versions/", 9) == 0) {
        const char *vs = rest + 9;
        size_t vl = rl - 9;
        uint32_t n = 0;
        int ok = vl >= 1 && vl <= 9 && vs[0] >= '1' && vs[0] <= '9';
        for (size_t i = 0; ok && i < vl; i++) {
            ok = vs[i] >= '0' && vs[i] <= '9';
            n = n * 10 + (uint32_t)(vs[i] - '0');
        }
        if (!ok)
            return sk_fail(c, 400, "invalid_parameter", "version",
                           "a version is a whole number from 1");
        return write_version(c, ps, name, n);
    }
    return sk_fail(c, 404, "not_found", NULL,
                   "no endpoint at this path (/v1/profiles/{name}, .../versions, "
                   ".../versions/{n})");
}
