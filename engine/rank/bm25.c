/* bm25.c: Xapian 1.4's BM25 (weight/bm25weight.cc), computed with the same operations in the same
 * order so that scores are bit-identical to Xapian's, and the score bounds of postings blocks. */
#include "rank/bm25.h"

#include <math.h>

/* Xapian's BM25Weight::init termweight for a term with termfreq df and query wqf. */
double souk__bm25_termweight(const souk__bm25_model *m, double df, double wqf)
{
    const souk_bm25 *p = &m->p;
    double tw = (m->N - df + 0.5) / (df + 0.5);
    if (tw < 2)
        tw = tw * 0.5 + 1;
    double termweight = log(tw) * ((p->k3 + 1) * wqf / (p->k3 + wqf));
    termweight *= (p->k1 + 1);
    return termweight;
}

/* Xapian's BM25Weight::get_sumpart. */
double souk__bm25_sumpart(const souk__bm25_model *m, double termweight, uint32_t wdf, uint32_t len)
{
    double wdf_double = wdf;
    double denom = souk__bm25_norm(m, len) + wdf_double;
    return termweight * (wdf_double / denom);
}

/* Upper bound of the BM25 part of any posting of block b. With A = k1 * b / avlen and
 * C = k1 * (1 - b), the normalisation is at least A * len + C, so a posting's part is at most
 * 1 / (1 + A * (len / wdf) + C / wdf) <= 1 / (1 + A * min(len / wdf) + C / max wdf); the smaller
 * of that and the part at (max wdf, min doclen) bounds the block. */
double souk__bm25_block_bound(const souk__bm25_model *m, double termweight, const souk_block *b)
{
    if (b->max_wdf == 0)
        return 0;
    double simple = souk__bm25_sumpart(m, termweight, b->max_wdf, b->min_doclen);
    const souk_bm25 *p = &m->p;
    double A = p->k1 * p->b * m->len_factor, C = p->k1 * (1 - p->b);
    double ratio = b->min_len_per_wdf;
    if (!(ratio >= 0))
        return simple;
    double tight = termweight / (1 + A * ratio + C / b->max_wdf);
    return tight < simple ? tight : simple;
}
