/* digest.c: the logical digest of an index (see souk/digest.h). */
#include "souk/digest.h"
#include "souk/block.h"
#include "souk/souk.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

typedef struct dg {
    souk_reader *r;
    uint64_t lane[4];
    uint8_t (*idh)[16]; /* docid -> BLAKE2b-128 of the external id */
    uint64_t nids;
    uint32_t *pos; /* positions of one block */
    size_t pos_cap;
    souk_digest *out;
    int rc;
} dg;

/* Adds one item, given as the BLAKE2b-256 of its parts, to the multiset sum. */
static void dg_item(dg *d, crypto_generichash_state *st)
{
    uint8_t h[32];
    uint64_t v[4];
    crypto_generichash_final(st, h, sizeof h);
    memcpy(v, h, sizeof v);
    for (int i = 0; i < 4; i++)
        d->lane[i] += v[i];
}

static void dg_begin(crypto_generichash_state *st, char kind)
{
    crypto_generichash_init(st, NULL, 0, 32);
    crypto_generichash_update(st, (const uint8_t *)&kind, 1);
}

static void dg_u32(crypto_generichash_state *st, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    crypto_generichash_update(st, b, 4);
}

static void dg_bytes(crypto_generichash_state *st, const void *p, size_t n)
{
    dg_u32(st, (uint32_t)n);
    if (n)
        crypto_generichash_update(st, p, n);
}

static int dg_doc(void *ctx, uint32_t docid, const char *id, size_t id_len, const char *json,
                  size_t json_len)
{
    dg *d = ctx;
    uint32_t len = 0;
    souk_reader_doclen(d->r, docid, &len);
    if (docid < d->nids)
        crypto_generichash(d->idh[docid], 16, (const uint8_t *)id, id_len, NULL, 0);
    crypto_generichash_state st;
    dg_begin(&st, 'D');
    dg_bytes(&st, id, id_len);
    dg_bytes(&st, json, json_len);
    dg_u32(&st, len);
    dg_item(d, &st);
    d->out->docs++;
    return 0;
}

static int dg_term(void *ctx, const char *term, size_t len, const souk_term_info *info)
{
    dg *d = ctx;
    crypto_generichash_state st;
    dg_begin(&st, 'T');
    dg_bytes(&st, term, len);
    dg_u32(&st, info->df);
    dg_u32(&st, (uint32_t)info->cf);
    dg_u32(&st, (uint32_t)(info->cf >> 32));
    dg_u32(&st, info->max_wdf);
    dg_item(d, &st);
    d->out->terms++;
    souk_postings p;
    souk_block b;
    if ((d->rc = souk_postings_open(d->r, term, len, &p)) != 0)
        return 1;
    int rc;
    while ((rc = souk_postings_next_block(&p, 0, &b)) == 0) {
        uint32_t ids[SOUK_BLOCK_MAX], w[SOUK_BLOCK_MAX], np[SOUK_BLOCK_MAX];
        size_t total = 0;
        if ((rc = souk_block_docids(&b, ids)) || (rc = souk_block_wdfs(&b, w)))
            break;
        while ((rc = souk_block_positions(&b, np, d->pos, d->pos_cap, &total)) == SOUK_ETOOBIG) {
            uint32_t *np2 = souk_realloc(d->pos, total * sizeof *np2);
            if (!np2) {
                rc = SOUK_ENOMEM;
                break;
            }
            d->pos = np2;
            d->pos_cap = total;
        }
        if (rc)
            break;
        size_t at = 0;
        for (uint32_t i = 0; i < b.count; i++) {
            dg_begin(&st, 'P');
            dg_bytes(&st, term, len);
            if (ids[i] < d->nids)
                crypto_generichash_update(&st, d->idh[ids[i]], 16);
            dg_u32(&st, w[i]);
            dg_bytes(&st, d->pos + at, np[i] * sizeof(uint32_t));
            dg_item(d, &st);
            at += np[i];
            d->out->positions += np[i];
        }
        d->out->postings += b.count;
    }
    souk_postings_close(&p);
    if (rc != SOUK_ENOTFOUND) {
        d->rc = rc ? rc : SOUK_ECORRUPT;
        return 1;
    }
    return 0;
}

int souk_index_digest(souk_index *ix, souk_digest *out, char *err, size_t errlen)
{
    dg d;
    souk_digest res;
    memset(&d, 0, sizeof d);
    memset(&res, 0, sizeof res);
    d.out = &res;
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium failed to initialise");
        return SOUK_EIO;
    }
    souk_stats s;
    int rc = souk_reader_new(ix, &d.r);
    if (rc || (rc = souk_reader_stats(d.r, &s)) != 0) {
        snprintf(err, errlen, "digest: reading the index: %s", souk_strerror(rc));
        goto out;
    }
    d.nids = s.next_docid + 1;
    d.pos_cap = 1 << 16;
    d.idh = souk_calloc(d.nids, sizeof *d.idh);
    d.pos = souk_malloc(d.pos_cap * sizeof *d.pos);
    if (!d.idh || !d.pos) {
        rc = SOUK_ENOMEM;
        snprintf(err, errlen, "digest: out of memory");
        goto out;
    }
    if ((rc = souk_reader_docs(d.r, dg_doc, &d)) != 0 ||
        (rc = souk_reader_terms(d.r, NULL, 0, dg_term, &d)) != 0 || (rc = d.rc) != 0) {
        snprintf(err, errlen, "digest: reading the index: %s", souk_strerror(rc));
        goto out;
    }
    crypto_generichash_state st;
    dg_begin(&st, 'S');
    for (int i = 0; i < 4; i++) {
        dg_u32(&st, (uint32_t)d.lane[i]);
        dg_u32(&st, (uint32_t)(d.lane[i] >> 32));
    }
    uint64_t counts[6] = {s.docs, s.total_len, res.docs, res.terms, res.postings, res.positions};
    for (int i = 0; i < 6; i++) {
        dg_u32(&st, (uint32_t)counts[i]);
        dg_u32(&st, (uint32_t)(counts[i] >> 32));
    }
    uint8_t h[32];
    crypto_generichash_final(&st, h, sizeof h);
    sodium_bin2hex(res.hex, sizeof res.hex, h, sizeof h);
    *out = res;
out:
    souk_free(d.idh);
    souk_free(d.pos);
    if (d.r)
        souk_reader_free(d.r);
    return rc;
}
