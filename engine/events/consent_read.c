/* consent_read.c: the consent record's fixed layout (events_int.h) read and written for the
 * store's own files; the consent API itself (souk_consent_get/set) is consent.c. */
#include "events/events_int.h"

#include <string.h>

void souk__ev_consent_encode(const souk_consent *c, uint8_t out[SOUK_EV_CONSENT_LEN])
{
    out[0] = 1;
    out[1] = (uint8_t)((c->personalization ? 1 : 0) | (c->location ? 2 : 0) |
                       (c->search_history ? 4 : 0) | (c->minor ? 8 : 0) |
                       (c->guardian_consent ? 16 : 0));
    for (int i = 0; i < 4; i++)
        out[2 + i] = (uint8_t)(c->policy_version >> (8 * i));
    uint64_t u = (uint64_t)c->updated_ms;
    for (int i = 0; i < 8; i++)
        out[6 + i] = (uint8_t)(u >> (8 * i));
}

int souk__ev_consent_read(souk_events *s, MDB_txn *txn, const uint8_t upseudo[SOUK_PSEUDO_LEN],
                          souk_consent *out)
{
    MDB_val k = {SOUK_PSEUDO_LEN, (void *)upseudo}, v;
    int rc = mdb_get(txn, s->consent, &k, &v);
    if (rc == MDB_NOTFOUND) {
        *out = s->o.consent_default;
        out->recorded = 0;
        return SOUK_OK;
    }
    if (rc)
        return souk_kv_err(rc);
    const uint8_t *p = v.mv_data;
    if (v.mv_size != SOUK_EV_CONSENT_LEN || p[0] != 1)
        return SOUK_ECORRUPT;
    souk_consent c;
    memset(&c, 0, sizeof c);
    c.recorded = 1;
    c.personalization = p[1] & 1;
    c.location = (p[1] >> 1) & 1;
    c.search_history = (p[1] >> 2) & 1;
    c.minor = (p[1] >> 3) & 1;
    c.guardian_consent = (p[1] >> 4) & 1;
    uint64_t u = 0;
    for (int i = 0; i < 4; i++)
        c.policy_version |= (uint32_t)p[2 + i] << (8 * i);
    for (int i = 0; i < 8; i++)
        u |= (uint64_t)p[6 + i] << (8 * i);
    c.updated_ms = (int64_t)u;
    *out = c;
    return SOUK_OK;
}

int souk__ev_personalize(const souk_consent *c)
{
    return c->personalization && (!c->minor || c->guardian_consent);
}
