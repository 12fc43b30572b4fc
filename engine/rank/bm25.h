/* bm25.h: the BM25 signal (rank/bm25.c): Xapian 1.4's BM25 with its parameters and the
 * collection statistics of one snapshot. */
#ifndef SOUK_RANK_BM25_H
#define SOUK_RANK_BM25_H

#include "souk/block.h"
#include "souk/rank.h"

#include <stdint.h>

typedef struct souk__bm25_model {
    souk_bm25 p;       /* k1, k3, b, min_normlen */
    double N;          /* documents in the snapshot */
    double len_factor; /* 1 / average document length (0 for an empty index) */
} souk__bm25_model;

/* Xapian's length normalisation of a document of length len, k1 * (normlen * b + (1 - b)) with
 * normlen = len / average length, at least min_normlen: a posting's part is
 * termweight * wdf / (norm + wdf). The one place it is computed (scoring, bounds, explanations),
 * with Xapian's operations in Xapian's order. len 0 gives the smallest normalisation. */
static inline double souk__bm25_norm(const souk__bm25_model *m, uint32_t len)
{
    double normlen = (double)len * m->len_factor;
    if (normlen < m->p.min_normlen)
        normlen = m->p.min_normlen;
    return m->p.k1 * (normlen * m->p.b + (1 - m->p.b));
}

/* Xapian's BM25Weight::init termweight for a term with termfreq df and query frequency wqf. */
double souk__bm25_termweight(const souk__bm25_model *m, double df, double wqf);
/* Xapian's BM25Weight::get_sumpart: the part of a posting with wdf in a document of length len. */
double souk__bm25_sumpart(const souk__bm25_model *m, double termweight, uint32_t wdf, uint32_t len);
/* Upper bound of the BM25 part of any posting of block b. */
double souk__bm25_block_bound(const souk__bm25_model *m, double termweight, const souk_block *b);

#endif
