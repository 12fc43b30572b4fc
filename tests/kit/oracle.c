/* oracle.c: the Xapian oracle built from a Souk index, and the comparison of Souk's rankings
 * with Xapian's (tests/kit/oracle.h). */
#include "oracle.h"
#include "souk/buf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int oracle_term_cb(void *ctx, const char *term, size_t len, const souk_term_info *info)
{
    oracle_build *b = ctx;
    (void)info;
    /* Two arrays of one capacity: each grows alike from the same one. */
    size_t ct = b->capterms, cl = b->capterms;
    if (souk_grow((void **)&b->terms, &ct, b->nterms + 1, sizeof *b->terms, SIZE_MAX) ||
        souk_grow((void **)&b->lens, &cl, b->nterms + 1, sizeof *b->lens, SIZE_MAX)) {
        b->failed = 1;
        return 1;
    }
    b->capterms = ct;
    uint32_t ti = (uint32_t)b->nterms++;
    b->terms[ti] = malloc(len + 1);
    memcpy(b->terms[ti], term, len);
    b->terms[ti][len] = 0;
    b->lens[ti] = len;
    souk_postings p;
    souk_block blk;
    if (souk_postings_open(b->r, term, len, &p)) {
        b->failed = 1;
        return 1;
    }
    while (souk_postings_next_block(&p, 0, &blk) == 0) {
        uint32_t d[SOUK_BLOCK_MAX], w[SOUK_BLOCK_MAX], np[SOUK_BLOCK_MAX];
        size_t total = 0;
        souk_block_positions(&blk, np, NULL, 0, &total);
        if (souk_grow((void **)&b->pos, &b->cappos, b->npos + total, sizeof *b->pos, SIZE_MAX) ||
            souk_block_docids(&blk, d) || souk_block_wdfs(&blk, w) ||
            souk_block_positions(&blk, np, b->pos + b->npos, total, &total)) {
            b->failed = 1;
            break;
        }
        size_t at = b->npos;
        for (uint32_t i = 0; i < blk.count; i++) {
            if (d[i] >= b->ndocs) {
                b->failed = 1;
                break;
            }
            oracle_doc *od = &b->docs[d[i]];
            if (souk_grow((void **)&od->p, &od->cap, od->n + 1, sizeof *od->p, SIZE_MAX)) {
                b->failed = 1;
                break;
            }
            od->p[od->n++] = (oracle_posting){ti, w[i], (uint32_t)at, np[i]};
            at += np[i];
        }
        b->npos += total;
    }
    souk_postings_close(&p);
    return b->failed;
}

int oracle_build_xapian(souk_index *ix, const char *xpath)
{
    return oracle_build_xapian_ex(ix, xpath, NULL, NULL);
}

int oracle_build_xapian_ex(souk_index *ix, const char *xpath, oracle_values_fn vfn, void *vctx)
{
    oracle_build b;
    memset(&b, 0, sizeof b);
    souk_stats st;
    if (souk_reader_new(ix, &b.r) || souk_reader_stats(b.r, &st))
        return -1;
    b.ndocs = st.next_docid;
    if (st.docs + 1 != st.next_docid) {
        fprintf(stderr, "oracle: the index has docid gaps (%llu docs, next docid %llu)\n",
                (unsigned long long)st.docs, (unsigned long long)st.next_docid);
        souk_reader_free(b.r);
        return -1;
    }
    b.docs = calloc(b.ndocs + 1, sizeof *b.docs);
    souk_reader_terms(b.r, NULL, 0, oracle_term_cb, &b);
    char err[512];
    souk_xdb *x;
    int rc = b.failed ? -1 : souk_xdb_open(xpath, 1, &x, err, sizeof err);
    if (rc == 0) {
        souk_xterm *xt = NULL;
        size_t cap = 0;
        for (uint32_t d = 1; d < b.ndocs && rc == 0; d++) {
            oracle_doc *od = &b.docs[d];
            if (od->n > cap) {
                cap = od->n;
                xt = realloc(xt, cap * sizeof *xt);
            }
            for (uint32_t i = 0; i < od->n; i++) {
                oracle_posting *p = &od->p[i];
                xt[i] = (souk_xterm){b.terms[p->term], b.lens[p->term], p->wdf, b.pos + p->pos_at,
                                     p->npos};
            }
            uint32_t xd = 0;
            if (vfn) {
                souk_xvalue vals[16];
                size_t nv = vfn(vctx, b.r, d, vals);
                rc = souk_xdb_add_doc(x, xt, od->n, vals, nv, &xd);
            } else {
                rc = souk_xdb_add_terms(x, xt, od->n, NULL, 0, &xd);
            }
            if (rc == 0 && xd != d) {
                fprintf(stderr, "oracle: Xapian docid %u for Souk docid %u\n", xd, d);
                rc = -1;
            }
        }
        free(xt);
        if (rc == 0)
            rc = souk_xdb_commit(x);
        if (rc)
            fprintf(stderr, "oracle: %s\n", souk_xdb_errmsg(x));
        souk_xdb_close(x);
    } else {
        fprintf(stderr, "oracle: %s\n", err);
    }
    for (size_t i = 0; i < b.nterms; i++)
        free(b.terms[i]);
    for (size_t d = 0; d <= b.ndocs; d++)
        free(b.docs[d].p);
    free(b.terms);
    free(b.lens);
    free(b.pos);
    free(b.docs);
    souk_reader_free(b.r);
    return rc;
}

int oracle_equal(const char *what, const souk_hit *h, size_t nh, const uint32_t *xd,
                 const double *xs, size_t nx, size_t k)
{
    size_t want = nx < k ? nx : k;
    if (nh != want) {
        fprintf(stderr, "%s: Souk has %zu hits, Xapian %zu\n", what, nh, want);
        return 0;
    }
    for (size_t i = 0; i < nh; i++) {
        if (fabs(h[i].score - xs[i]) > 1e-9) {
            fprintf(stderr, "%s: rank %zu: score %.17g (docid %u), Xapian %.17g (docid %u)\n", what,
                    i + 1, h[i].score, h[i].docid, xs[i], xd[i]);
            return 0;
        }
        if (h[i].docid == xd[i])
            continue;
        /* A near-tie: the document must be in Xapian's list with (almost) the same score. */
        int found = 0;
        for (size_t j = 0; j < nx && !found; j++)
            found = xd[j] == h[i].docid && fabs(xs[j] - h[i].score) < 1e-9;
        if (!found) {
            fprintf(stderr, "%s: rank %zu: docid %u (%.17g), Xapian docid %u (%.17g)\n", what,
                    i + 1, h[i].docid, h[i].score, xd[i], xs[i]);
            return 0;
        }
    }
    return 1;
}
