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

/* Xapian's BM25Weight::init termweight for a term with termfreq df and query frequency wqf. */
double souk__bm25_termweight(const souk__bm25_model *m, double df, double wqf);
/* Xapian's BM25Weight::get_sumpart: the part of a posting with wdf in a document of length len. */
double souk__bm25_sumpart(const souk__bm25_model *m, double termweight, uint32_t wdf, uint32_t len);
/* Upper bound of the BM25 part of any posting of block b. */
double souk__bm25_block_bound(const souk__bm25_model *m, double termweight, const souk_block *b);

#endif
