/* ep_me_consent.c: GET and PUT /v1/me/consent, the token's user's consent per feature (P3, P6,
 * P7, P11, P25; docs/api.md). PUT takes any of the fields; those left out keep their value. A
 * change applies to the very next request on every worker: every request reads the record from
 * the store, nothing caches it. Turning personalization off deletes the profile and tags, turning
 * search_history off clears the search history (souk_consent_set, which audits the change).
 * "minor" and "guardian_consent" are shown but not set here: a minor could otherwise lift the
 * guard of P7 with their own token. The platform's backend sets them (PUT /v1/users/{id},
 * admin key, ep_users.c). */
#include "api_int.h"
#include "souk/events.h"
#include "souk/json_strict.h"
#include "souk/souk.h"

#include <cjson/cJSON.h>
#include <string.h>

static void write_consent(sk_ctx *c, const souk_consent *cs)
{
    sk_buf_printf(c->out,
                  "{\"request_id\":\"%s\",\"consent\":{\"recorded\":%s,\"personalization\":%s,"
                  "\"location\":%s,\"search_history\":%s,\"minor\":%s,\"guardian_consent\":%s,"
                  "\"policy_version\":%u,\"updated_ms\":%lld},\"personalized\":%s,"
                  "\"current_policy_version\":%u}\n",
                  c->request_id, cs->recorded ? "true" : "false",
                  cs->personalization ? "true" : "false", cs->location ? "true" : "false",
                  cs->search_history ? "true" : "false", cs->minor ? "true" : "false",
                  cs->guardian_consent ? "true" : "false", cs->policy_version,
                  (long long)cs->updated_ms, souk_consent_personalize(cs) ? "true" : "false",
                  c->cfg->ev.policy_version);
}

int sk_ep_me_consent(sk_ctx *c)
{
    souk_events *s = sk_events(c);
    if (!s || sk_no_params(c))
        return c->status;
    const char *u = c->user.user;
    size_t ul = c->user.user_len;
    souk_consent cs;
    int rc = souk_consent_get(s, u, ul, &cs);
    if (rc)
        return sk_fail_store(c, rc, "read the consent");
    if (c->req->method == HTTP_GET) {
        write_consent(c, &cs);
        return 200;
    }
    const sk_request *r = c->req;
    if (r->has_content_type && !r->json_body)
        return sk_fail(c, 415, "unsupported_media_type", NULL,
                       "the body must be JSON (Content-Type: application/json)");
    const char *b = r->body.p ? r->body.p : "";
    char err[256];
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(b, r->body.len, &end, 0);
    if (souk_json_strict(b, r->body.len, j, end, err, sizeof err) || !cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return sk_fail(c, 400, "invalid_json", NULL, "the body must be a JSON object%s%s",
                       *err ? ": " : "", err);
    }
    souk_consent n = cs;
    n.policy_version = c->cfg->ev.policy_version; /* given now, under the current policy */
    const cJSON *it;
    cJSON_ArrayForEach(it, j)
    {
        static const char *const names[] = {"personalization", "location", "search_history"};
        int *dst[] = {&n.personalization, &n.location, &n.search_history};
        size_t k = 0;
        while (k < 3 && strcmp(names[k], it->string) != 0)
            k++;
        if (strcmp(it->string, "minor") == 0 || strcmp(it->string, "guardian_consent") == 0) {
            int minor = it->string[0] == 'm';
            cJSON_Delete(j);
            return sk_fail(c, 403, "forbidden_field", minor ? "minor" : "guardian_consent",
                           "\"%s\" is set by the platform's backend (PUT /v1/users/{id} with the "
                           "admin key), not with a user token",
                           minor ? "minor" : "guardian_consent");
        }
        if (k < 3 && cJSON_IsBool(it)) {
            *dst[k] = cJSON_IsTrue(it);
            continue;
        }
        if (strcmp(it->string, "policy_version") == 0 && cJSON_IsNumber(it) &&
            it->valuedouble >= 1 && it->valuedouble <= c->cfg->ev.policy_version &&
            it->valuedouble == (double)(uint32_t)it->valuedouble) {
            n.policy_version = (uint32_t)it->valuedouble;
            continue;
        }
        char field[64];
        snprintf(field, sizeof field, "%.60s", it->string);
        for (size_t i = 0; field[i]; i++)
            if ((unsigned char)field[i] < 0x20 || (unsigned char)field[i] >= 0x7f)
                field[i] = '?';
        cJSON_Delete(j);
        if (k < 3)
            return sk_fail(c, 400, "invalid_parameter", field, "\"%s\" must be true or false",
                           field);
        if (strcmp(field, "policy_version") == 0)
            return sk_fail(c, 400, "invalid_parameter", field,
                           "\"policy_version\" must be an integer from 1 to %u (the current "
                           "policy)",
                           c->cfg->ev.policy_version);
        return sk_fail(c, 400, "unknown_field", field,
                       "unknown field \"%s\" (known: personalization, location, search_history, "
                       "policy_version)",
                       field);
    }
    cJSON_Delete(j);
    n.recorded = 1;
    rc = souk_consent_set(s, u, ul, &n, sk_now_ms(), err, sizeof err);
    if (rc == SOUK_EINVAL)
        return sk_fail(c, 400, "invalid_consent", NULL, "%s", err);
    if (rc)
        return sk_fail(c, 500, "internal", NULL, "the consent was not recorded: %s", err);
    if ((rc = souk_consent_get(s, u, ul, &cs)) != 0)
        return sk_fail_store(c, rc, "read the consent");
    write_consent(c, &cs);
    return 200;
}
