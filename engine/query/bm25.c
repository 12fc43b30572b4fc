/* bm25.c: Xapian 1.4's BM25 (weight/bm25weight.cc) with the same operations in the same order,
 * the per-document length normalisation cache, and the score bounds of postings blocks. */
#include "catalog/columns.h"
#include "query/match_int.h"
#include "souk/lexicon.h"
#include "query/typo.h"
#include "text/codes.h"
#include "core/varint.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------ BM25 */

/* Xapian's BM25Weight::init termweight for a term with termfreq df and query wqf. */
double souk__bm25_termweight(const souk_searcher *s, double df, double wqf)
{
    const souk_bm25 *p = &s->p;
    double tw = (s->N - df + 0.5) / (df + 0.5);
    if (tw < 2)
        tw = tw * 0.5 + 1;
    double termweight = log(tw) * ((p->k3 + 1) * wqf / (p->k3 + wqf));
    termweight *= (p->k1 + 1);
    return termweight;
}

/* Xapian's BM25Weight::get_sumpart. */
double souk__bm25_sumpart(const souk_searcher *s, double termweight, uint32_t wdf, uint32_t len)
{
    const souk_bm25 *p = &s->p;
    double normlen = (double)len * s->len_factor;
    if (normlen < p->min_normlen)
        normlen = p->min_normlen;
    double wdf_double = wdf;
    double denom = p->k1 * (normlen * p->b + (1 - p->b)) + wdf_double;
    return termweight * (wdf_double / denom);
}

/* Makes the length-normalisation cache valid for the current snapshot and parameters. */
int souk__knorm_prepare(souk_searcher *s)
{
    if (s->knorm_valid && s->knorm_generation == s->generation &&
        memcmp(&s->knorm_p, &s->p, sizeof s->p) == 0)
        return 0;
    size_t need = (size_t)s->next_docid + 1;
    if (need > s->knorm_cap) {
        double *k = souk_realloc(s->knorm, need * sizeof *k);
        if (!k)
            return SOUK_ENOMEM;
        s->knorm = k;
        s->knorm_cap = need;
    }
    memset(s->knorm, 0xff, need * sizeof *s->knorm); /* all NaN */
    s->knorm_p = s->p;
    s->knorm_generation = s->generation;
    s->knorm_valid = 1;
    return 0;
}

/* bm25_sumpart for the document's own length, with its normalisation cached: the same
 * operations as Xapian (k1 * (normlen * b + (1 - b)), then + wdf), so the same result. */
double souk__bm25_knorm(souk_searcher *s, uint32_t docid)
{
    const souk_bm25 *p = &s->p;
    double normlen = (double)souk__doclen(s, docid) * s->len_factor;
    if (normlen < p->min_normlen)
        normlen = p->min_normlen;
    double k = p->k1 * (normlen * p->b + (1 - p->b));
    s->knorm[docid] = k;
    return k;
}

/* Upper bound of the BM25 part of any posting of block b. With A = k1 * b / avlen and
 * C = k1 * (1 - b), the normalisation is at least A * len + C, so a posting's part is at most
 * 1 / (1 + A * (len / wdf) + C / wdf) <= 1 / (1 + A * min(len / wdf) + C / max wdf); the smaller
 * of that and the part at (max wdf, min doclen) bounds the block. */
double souk__bm25_block_bound(const souk_searcher *s, double termweight, const souk_block *b)
{
    if (b->max_wdf == 0)
        return 0;
    double simple = souk__bm25_sumpart(s, termweight, b->max_wdf, b->min_doclen);
    const souk_bm25 *p = &s->p;
    double A = p->k1 * p->b * s->len_factor, C = p->k1 * (1 - p->b);
    double ratio = b->min_len_per_wdf;
    if (!(ratio >= 0))
        return simple;
    double tight = termweight / (1 + A * ratio + C / b->max_wdf);
    return tight < simple ? tight : simple;
}
