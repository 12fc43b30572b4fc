/* check.c: full consistency check of an index snapshot (souk_index_check). Used by the crash
 * tests after every kill, by `souk-index check`, and for the byte split in `stats --detail`. */
#include "catalog/index_int.h"
#include "souk/souk.h"
#include "core/varint.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct check_ctx {
    souk_reader *r;
    souk_check_stats *st;
    char *err;
    size_t errlen;
    int rc;
    uint32_t *doclens; /* by docid, from the doclen column */
    uint32_t *seen;    /* postings per docid */
    uint32_t *tl;      /* term list length per docid + 1 (0: no document) */
    uint64_t ndocids;
    uint64_t wdf_sum;
} check_ctx;

#define CFAIL(...)                                                                                 \
    do {                                                                                           \
        snprintf(c->err, c->errlen, __VA_ARGS__);                                                  \
        c->rc = SOUK_ECORRUPT;                                                                     \
        return 1;                                                                                  \
    } while (0)

/* A read that failed with rc: out of memory and I/O errors are reported as what they are (an
 * allocation that failed is no damage); anything else is corruption. */
#define RFAIL(code, ...)                                                                           \
    do {                                                                                           \
        int r_ = (code);                                                                           \
        snprintf(c->err, c->errlen, __VA_ARGS__);                                                  \
        c->rc = r_ == SOUK_ENOMEM || r_ == SOUK_EIO ? r_ : SOUK_ECORRUPT;                          \
        return 1;                                                                                  \
    } while (0)

static int check_term(void *ctx, const char *term, size_t len, const souk_term_info *info)
{
    check_ctx *c = ctx;
    souk_postings p;
    souk_block b;
    uint32_t d[SOUK_BLOCK_MAX], w[SOUK_BLOCK_MAX], np[SOUK_BLOCK_MAX];
    uint64_t df = 0, cf = 0, nblocks = 0;
    uint32_t maxw = 0, prev = 0;
    c->st->terms++;
    c->st->dict_bytes += len + 8;
    int orc = souk_postings_open(c->r, term, len, &p);
    if (orc)
        RFAIL(orc, "term '%.*s': postings do not open (%s)", (int)len, term, souk_strerror(orc));
    if (info->nblocks == 0)
        c->st->inline_terms++;
    int rc;
    while ((rc = souk_postings_next_block(&p, 0, &b)) == 0) {
        nblocks++;
        if (souk_block_docids(&b, d) || souk_block_wdfs(&b, w)) {
            souk_postings_close(&p);
            CFAIL("term '%.*s': a block does not decode", (int)len, term);
        }
        size_t total = 0;
        uint32_t posbuf[4096];
        rc = souk_block_positions(&b, np, posbuf, sizeof posbuf / sizeof posbuf[0], &total);
        if (rc && rc != SOUK_ETOOBIG) {
            souk_postings_close(&p);
            CFAIL("term '%.*s': positions do not decode", (int)len, term);
        }
        uint32_t bmax = 0, bmin = UINT32_MAX;
        double bratio = INFINITY;
        for (uint32_t i = 0; i < b.count; i++) {
            if (d[i] <= prev || d[i] >= c->ndocids) {
                souk_postings_close(&p);
                CFAIL("term '%.*s': docids out of order or unknown (%u)", (int)len, term, d[i]);
            }
            prev = d[i];
            if (c->tl[d[i]] == 0) {
                souk_postings_close(&p);
                CFAIL("term '%.*s': posting for deleted document %u", (int)len, term, d[i]);
            }
            if (w[i] > bmax)
                bmax = w[i];
            if (c->doclens[d[i]] < bmin)
                bmin = c->doclens[d[i]];
            if (w[i] && (double)c->doclens[d[i]] / w[i] < bratio)
                bratio = (double)c->doclens[d[i]] / w[i];
            if (np[i] > w[i] && w[i] != 0) {
                souk_postings_close(&p);
                CFAIL("term '%.*s': more positions than wdf in document %u", (int)len, term, d[i]);
            }
            c->seen[d[i]]++;
            cf += w[i];
        }
        if (bmax != b.max_wdf || bmin != b.min_doclen ||
            (bmax && !((double)b.min_len_per_wdf <= bratio &&
                       (double)nextafterf(b.min_len_per_wdf, INFINITY) > bratio))) {
            souk_postings_close(&p);
            CFAIL("term '%.*s': block maxima stale (max wdf %u/%u, min length %u/%u)", (int)len,
                  term, b.max_wdf, bmax, b.min_doclen, bmin);
        }
        if (bmax > maxw)
            maxw = bmax;
        df += b.count;
        c->st->positions += total;
        c->st->positions_bytes += b.pos_len;
        c->st->postings_bytes += b.docs_len + b.wdfs_len + 12;
        if (info->nblocks)
            c->st->post_key_bytes += len + 5;
    }
    souk_postings_close(&p);
    if (rc != SOUK_ENOTFOUND)
        RFAIL(rc, "term '%.*s': postings read error (%s)", (int)len, term, souk_strerror(rc));
    if (df != info->df || cf != info->cf || maxw != info->max_wdf ||
        (info->nblocks && nblocks != info->nblocks) || df == 0)
        CFAIL("term '%.*s': dictionary says df %u cf %llu max %u blocks %u; postings have df %llu "
              "cf %llu max %u blocks %llu",
              (int)len, term, info->df, (unsigned long long)info->cf, info->max_wdf, info->nblocks,
              (unsigned long long)df, (unsigned long long)cf, maxw, (unsigned long long)nblocks);
    c->st->postings += df;
    c->st->blocks += nblocks;
    c->wdf_sum += cf;
    return 0;
}

typedef struct doc_ctx {
    check_ctx *c;
    uint64_t docs;
    uint32_t nterms;
} doc_ctx;

static void count_term(void *ctx, const char *term, size_t len)
{
    (void)term;
    (void)len;
    ((doc_ctx *)ctx)->nterms++;
}

static int check_doc(void *ctx, uint32_t docid, const char *id, size_t id_len, const char *json,
                     size_t json_len)
{
    doc_ctx *dc = ctx;
    check_ctx *c = dc->c;
    (void)json;
    (void)json_len;
    uint32_t back;
    int rc = souk_reader_docid(c->r, id, id_len, &back);
    if (rc && rc != SOUK_ENOTFOUND)
        RFAIL(rc, "document %u: reading the id table: %s", docid, souk_strerror(rc));
    if (rc || back != docid)
        CFAIL("document %u ('%.*s'): id table does not point back", docid, (int)id_len, id);
    if (docid >= c->ndocids)
        CFAIL("document %u is past next_docid", docid);
    dc->nterms = 0;
    if ((rc = souk_reader_termlist(c->r, docid, count_term, dc)) != 0)
        RFAIL(rc, "document %u: term list missing (%s)", docid, souk_strerror(rc));
    c->tl[docid] = dc->nterms + 1;
    dc->docs++;
    return 0;
}

int souk_index_check(souk_reader *r, souk_check_stats *st, char *err, size_t errlen)
{
    souk_stats s;
    int rc = souk_reader_stats(r, &s);
    if (rc) {
        snprintf(err, errlen, "cannot read meta");
        return rc;
    }
    memset(st, 0, sizeof *st);
    check_ctx c = {r, st, err, errlen, 0, NULL, NULL, NULL, s.next_docid ? s.next_docid : 1, 0};
    c.doclens = souk_calloc(c.ndocids, sizeof *c.doclens);
    c.seen = souk_calloc(c.ndocids, sizeof *c.seen);
    c.tl = souk_calloc(c.ndocids, sizeof *c.tl);
    if (!c.doclens || !c.seen || !c.tl) {
        souk_free(c.doclens);
        souk_free(c.seen);
        souk_free(c.tl);
        snprintf(err, errlen, "out of memory");
        return SOUK_ENOMEM;
    }
    uint64_t len_sum = 0, nonzero = 0;
    for (uint64_t d = 1; d < c.ndocids; d++) {
        if ((rc = souk_reader_doclen(r, (uint32_t)d, &c.doclens[d])) != 0) {
            snprintf(err, errlen, "reading the length of document %llu: %s", (unsigned long long)d,
                     souk_strerror(rc));
            break;
        }
        len_sum += c.doclens[d];
        nonzero += c.doclens[d] != 0;
    }
    doc_ctx dc = {&c, 0, 0};
    if (!rc) {
        rc = souk_reader_docs(r, check_doc, &dc);
        if (rc && !c.rc)
            snprintf(err, errlen, "reading the documents: %s", souk_strerror(rc));
        if (c.rc)
            rc = c.rc;
    }
    if (!rc) {
        rc = souk_reader_terms(r, NULL, 0, check_term, &c);
        if (rc && !c.rc)
            snprintf(err, errlen, "reading the dictionary: %s", souk_strerror(rc));
        if (c.rc)
            rc = c.rc;
    }
    for (uint64_t d = 1; !rc && d < c.ndocids; d++) {
        if (c.tl[d] == 0 && c.doclens[d] != 0) {
            snprintf(err, errlen, "deleted document %llu still has a length",
                     (unsigned long long)d);
            rc = SOUK_ECORRUPT;
        } else if (c.tl[d] && c.tl[d] - 1 != c.seen[d]) {
            snprintf(err, errlen, "document %llu: term list has %u terms, postings %u",
                     (unsigned long long)d, c.tl[d] - 1, c.seen[d]);
            rc = SOUK_ECORRUPT;
        }
    }
    if (!rc) {
        st->docs = dc.docs;
        if (dc.docs != s.docs || len_sum != s.total_len || c.wdf_sum != s.total_len) {
            snprintf(err, errlen,
                     "meta says N %llu total length %llu; documents %llu, lengths sum %llu, wdf "
                     "sum %llu",
                     (unsigned long long)s.docs, (unsigned long long)s.total_len,
                     (unsigned long long)dc.docs, (unsigned long long)len_sum,
                     (unsigned long long)c.wdf_sum);
            rc = SOUK_ECORRUPT;
        }
    }
    (void)nonzero;
    souk_free(c.tl);
    souk_free(c.doclens);
    souk_free(c.seen);
    return rc;
}
