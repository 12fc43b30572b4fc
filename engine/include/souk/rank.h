/* rank.h: ranking parameters (the rank layer, engine/rank/). */
#ifndef SOUK_RANK_H
#define SOUK_RANK_H

#ifdef __cplusplus
extern "C" {
#endif

/* BM25 parameters; Xapian's defaults (k1 1, k2 0, k3 1, b 0.5, min_normlen 0.5). */
typedef struct souk_bm25 {
    double k1, k3, b, min_normlen;
} souk_bm25;

#define SOUK_BM25_DEFAULT                                                                          \
    {                                                                                              \
        1.0, 1.0, 0.5, 0.5                                                                         \
    }

#ifdef __cplusplus
}
#endif
#endif
