/* digest.c (test kit): the logical index digest of digest.h, computed through the public reader
 * API, and the consistency check of an index directory. */
#include "digest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t dg_mix(uint64_t h, const void *p, size_t n)
{
    const uint8_t *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint64_t dg_u64(uint64_t h, uint64_t v)
{
    return dg_mix(h, &v, sizeof v);
}

static void dg_add(digest *d, uint64_t h)
{
    h ^= h >> 31;
    h *= 0x7fb5d329728ea185ull;
    h ^= h >> 27;
    d->sum += h;
    d->xsum ^= h * 0x81dadef4bc2dd44dull;
}

static int dg_doc(void *ctx, uint32_t docid, const char *id, size_t id_len, const char *json,
                  size_t json_len)
{
    digest *d = ((void **)ctx)[0];
    souk_reader *r = ((void **)ctx)[1];
    uint32_t len = 0;
    souk_reader_doclen(r, docid, &len);
    uint64_t ih = dg_mix(0xcbf29ce484222325ull, id, id_len);
    if (docid < d->nids)
        d->idhash[docid] = ih;
    uint64_t h = dg_mix(ih, json, json_len);
    dg_add(d, dg_u64(h, len));
    d->docs++;
    return 0;
}

static int dg_term(void *ctx, const char *term, size_t len, const souk_term_info *info)
{
    digest *d = ((void **)ctx)[0];
    souk_reader *r = ((void **)ctx)[1];
    uint64_t th = dg_mix(0x84222325cbf29ce4ull, term, len);
    dg_add(d, dg_u64(dg_u64(dg_u64(th, info->df), info->cf), info->max_wdf));
    d->terms++;
    souk_postings p;
    souk_block b;
    if (souk_postings_open(r, term, len, &p))
        return 1;
    while (souk_postings_next_block(&p, 0, &b) == 0) {
        uint32_t ids[SOUK_BLOCK_MAX], w[SOUK_BLOCK_MAX], np[SOUK_BLOCK_MAX];
        static uint32_t pos[1 << 16];
        size_t total;
        if (souk_block_docids(&b, ids) || souk_block_wdfs(&b, w) ||
            souk_block_positions(&b, np, pos, sizeof pos / sizeof pos[0], &total))
            break;
        size_t at = 0;
        for (uint32_t i = 0; i < b.count; i++) {
            uint64_t h = dg_u64(th, ids[i] < d->nids ? d->idhash[ids[i]] : ids[i]);
            h = dg_u64(h, w[i]);
            h = dg_mix(h, pos + at, np[i] * sizeof(uint32_t));
            dg_add(d, h);
            at += np[i];
            d->positions += np[i];
        }
        d->postings += b.count;
    }
    souk_postings_close(&p);
    return 0;
}

int index_digest(const char *dir, digest *d)
{
    char err[512];
    souk_index *ix;
    memset(d, 0, sizeof *d);
    if (souk_index_open(dir, NULL, SOUK_INDEX_RDONLY, &ix, err, sizeof err)) {
        fprintf(stderr, "digest: %s\n", err);
        return -1;
    }
    souk_reader *r;
    souk_stats st;
    if (souk_reader_new(ix, &r) || souk_reader_stats(r, &st)) {
        souk_index_close(ix);
        return -1;
    }
    d->nids = st.next_docid + 1;
    d->idhash = calloc(d->nids, sizeof *d->idhash);
    void *ctx[2] = {d, r};
    int rc = souk_reader_docs(r, dg_doc, ctx);
    if (!rc)
        rc = souk_reader_terms(r, NULL, 0, dg_term, ctx);
    d->total_len = st.total_len;
    dg_add(d, dg_u64(dg_u64(0, st.docs), st.total_len));
    free(d->idhash);
    d->idhash = NULL;
    souk_reader_free(r);
    souk_index_close(ix);
    return rc;
}

int index_check_dir(const char *dir)
{
    char err[512];
    souk_index *ix;
    if (souk_index_open(dir, NULL, SOUK_INDEX_RDONLY, &ix, err, sizeof err)) {
        fprintf(stderr, "check: %s\n", err);
        return -1;
    }
    souk_reader *r;
    souk_check_stats cs;
    int rc = souk_reader_new(ix, &r);
    if (!rc) {
        rc = souk_index_check(r, &cs, err, sizeof err);
        if (rc)
            fprintf(stderr, "check: %s\n", err);
        souk_reader_free(r);
    }
    souk_index_close(ix);
    return rc;
}
