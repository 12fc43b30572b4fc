/* rekey.c: the re-keying job of P24 (souk_events_rekey): moves every pseudonym of the store to
 * the key ring's current key id.
 *
 * The store holds no raw id, so a pseudonym cannot be recomputed under a new key; but a
 * pseudonym is an invertible function of the id's inner value (souk/keys.h), so it moves from
 * one kid to another with both secrets (souk_pseudonym_rekey). The job copies the live
 * generation row by row into a new one (souk__ev_swap, the copy a compaction makes), rewriting
 * each pseudonym on the way, and records the new kid in meta "kid"; the swap then makes the copy
 * live at once for every process. Every pseudonym in the store is at a known place of a known
 * table (events_int.h); a table this file does not know stops the job rather than being copied
 * with old pseudonyms in it. */
#include "events/events_int.h"

#include <string.h>
#include <unistd.h>

typedef struct rekey_ctx {
    souk_events *s;
    uint8_t to;
    souk_rekey_stats st;
} rekey_ctx;

/* Moves the pseudonym at p to the target kid; counts it. */
static int move(rekey_ctx *x, uint8_t *p, int *changed)
{
    if (p[0] == x->to)
        return SOUK_OK;
    if (souk_pseudonym_rekey(x->s->o.keys, p, x->to, p) != SOUK_OK)
        return SOUK_EINVAL; /* a kid the ring lacks */
    x->st.moved++;
    *changed = 1;
    return SOUK_OK;
}

/* Where the pseudonyms of a table's keys are. */
enum { AT_NONE, AT_PREFIX, AT_PREFIX2, AT_SUFFIX, AT_EV, AT_JOBS, AT_VALUE };

static const struct {
    const char *name;
    int at;
} tables[] = {
    {"meta", AT_NONE},     {"pop", AT_NONE},     {"cooc", AT_NONE},     {"supp", AT_NONE},
    {"uev", AT_PREFIX},    {"sess", AT_PREFIX},  {"uset", AT_PREFIX},   {"consent", AT_PREFIX},
    {"shist", AT_PREFIX},  {"tags", AT_PREFIX},  {"tagdel", AT_PREFIX}, {"idel", AT_PREFIX},
    {"usess", AT_PREFIX2}, {"qstat", AT_SUFFIX}, {"ev", AT_EV},         {"jobs", AT_JOBS},
    {"iuser", AT_VALUE}, /* each value one user's pseudonym (sorted duplicates) */
};

_Static_assert(SOUK_EV_REC_MAX <= SOUK_KV_XFORM_VAL, "an ev record fits the copy's value buffer");

#define JOB_BASE_LEN (1 + 8 + 8 + SOUK_SUPPRESS_LEN) /* erase.c's record without its pseudonym */

static int xform(void *arg, const char *name, const MDB_val *k, const MDB_val *v, MDB_val *nk,
                 MDB_val *nv, uint8_t *kbuf, uint8_t *vbuf)
{
    rekey_ctx *x = arg;
    if (!name) { /* after every row: the generation's kid */
        MDB_txn *wt = (MDB_txn *)kbuf;
        MDB_dbi meta;
        MDB_val mk = {3, "kid"}, mv = {1, &x->to};
        int rc = mdb_dbi_open(wt, "meta", MDB_CREATE, &meta);
        if (rc == 0)
            rc = mdb_put(wt, meta, &mk, &mv, 0);
        return souk_kv_err(rc);
    }
    int at = -1;
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++)
        if (!strcmp(tables[i].name, name))
            at = tables[i].at;
    if (at < 0)
        return SOUK_EFORMAT; /* a table that may hold pseudonyms this job does not know */
    int changed = 0, rc = SOUK_OK;
    switch (at) {
    case AT_NONE:
        return SOUK_OK;
    case AT_PREFIX:
    case AT_PREFIX2:
    case AT_SUFFIX: {
        size_t need = at == AT_PREFIX2 ? 2 * SOUK_PSEUDO_LEN : SOUK_PSEUDO_LEN;
        if (k->mv_size < need || k->mv_size > 511)
            return SOUK_ECORRUPT;
        memcpy(kbuf, k->mv_data, k->mv_size);
        if (at == AT_SUFFIX)
            rc = move(x, kbuf + k->mv_size - SOUK_PSEUDO_LEN, &changed);
        else
            rc = move(x, kbuf, &changed);
        if (rc == SOUK_OK && at == AT_PREFIX2)
            rc = move(x, kbuf + SOUK_PSEUDO_LEN, &changed);
        nk->mv_data = kbuf;
        nk->mv_size = k->mv_size;
        break;
    }
    case AT_VALUE:
        if (v->mv_size != SOUK_PSEUDO_LEN)
            return SOUK_ECORRUPT;
        memcpy(vbuf, v->mv_data, v->mv_size);
        rc = move(x, vbuf, &changed);
        nv->mv_data = vbuf;
        break;
    case AT_JOBS:
        if (v->mv_size != JOB_BASE_LEN + SOUK_PSEUDO_LEN)
            return SOUK_OK; /* no pseudonym: the job has dropped it */
        memcpy(vbuf, v->mv_data, v->mv_size);
        rc = move(x, vbuf + JOB_BASE_LEN, &changed);
        nv->mv_data = vbuf;
        break;
    case AT_EV: {
        souk__evrec r;
        if ((rc = souk__ev_decode(k, v, &r)) != SOUK_OK)
            return rc;
        uint8_t up[SOUK_PSEUDO_LEN], sp[SOUK_PSEUDO_LEN];
        if (r.upseudo) {
            memcpy(up, r.upseudo, sizeof up);
            if ((rc = move(x, up, &changed)) != SOUK_OK)
                return rc;
            r.upseudo = up;
        }
        if (r.spseudo) {
            memcpy(sp, r.spseudo, sizeof sp);
            if ((rc = move(x, sp, &changed)) != SOUK_OK)
                return rc;
            r.spseudo = sp;
        }
        if (changed) {
            nv->mv_size = souk__ev_encode(&r, vbuf);
            nv->mv_data = vbuf;
        }
        break;
    }
    }
    if (changed)
        x->st.rows++;
    return rc;
}

/* mdb_reader_list's callback: notes a reader slot of another process ("pid thread txnid"). */
static int other_reader(const char *msg, void *ctx)
{
    long pid = 0;
    if (sscanf(msg, " %ld", &pid) == 1 && pid > 0 && pid != (long)getpid())
        *(long *)ctx = pid;
    return 0;
}

static int copy_rekey(souk_events *s, MDB_env *src, const char *dir, void *arg, char *err,
                      size_t errlen)
{
    (void)s;
    return souk__ev_copy_xform(src, dir, xform, arg, err, errlen);
}

int souk_events_rekey(souk_events *s, int64_t now, souk_rekey_stats *st, char *err, size_t errlen)
{
    if (s->o.rdonly) {
        snprintf(err, errlen, "rekey: the store is open read-only");
        return SOUK_EINVAL;
    }
    /* The inbox holds pseudonyms too. With no other process on the store, its events go into the
     * store first, where the copy moves them, and its files are unlinked. With one (the server,
     * which appends to the inbox: a drain from here could lose an append racing the rename),
     * the server's own drain adds them later, moving each pseudonym to the store's kid
     * (souk__ev_add): the old kid must then stay in the ring until the inbox is empty. */
    long other = 0;
    mdb_reader_check(s->env, NULL);
    mdb_reader_list(s->env, other_reader, &other);
    int rc = other ? SOUK_OK : souk_events_drain(s, now, NULL, err, errlen);
    if (rc)
        return rc;
    rekey_ctx x = {s, souk_keyring_current(s->o.keys), {0}};
    x.st.from_kid = s->kid;
    x.st.to_kid = x.to;
    rc = souk__ev_swap(s, copy_rekey, &x, err, errlen);
    if (rc) {
        char why[256];
        snprintf(why, sizeof why, "%s", err);
        snprintf(err, errlen, "rekey to key id %u: %s%s", (unsigned)x.to, why,
                 rc == SOUK_EINVAL ? " (a pseudonym is under a key id the ring lacks)"
                 : rc == SOUK_EFORMAT
                     ? " (a table the re-keying does not know: it may hold pseudonyms)"
                     : "");
        return rc;
    }
    if (st)
        *st = x.st;
    return SOUK_OK;
}
