/* rank.h: ranking parameters (the rank layer, engine/rank/). */
#ifndef SOUK_RANK_H
#define SOUK_RANK_H

#include <stddef.h>
#include <stdint.h>

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

/* ---- Ranking profiles (issue 21): the signals an analyst tunes, applied at query time ---- */

/* How a business-signal boost turns a number field's value v into a score part. */
typedef enum souk_boost_fn {
    SOUK_BOOST_LOG1P = 0,  /* weight * log1p(max(0, v)): counts (popularity, stock, sales) */
    SOUK_BOOST_LINEAR = 1, /* weight * v */
    /* weight * decay ^ (max(0, |v - origin| - offset) / scale): 1 at the origin (within
     * offset), `decay` (0 < decay < 1) at scale beyond it; dates are numbers (epoch seconds) */
    SOUK_BOOST_DECAY = 2
} souk_boost_fn;

/* One business-signal boost, added to the text score of every hit. */
typedef struct souk_boost_signal {
    int field; /* schema index of a number field */
    souk_boost_fn fn;
    double weight;                       /* -1000 .. 1000 */
    double origin, scale, offset, decay; /* SOUK_BOOST_DECAY only */
} souk_boost_signal;

#define SOUK_MAX_BOOSTS 16
#define SOUK_MAX_PROFILE_FIELDS 64 /* = SOUK_MAX_FIELDS */

/* The ranking signals of one profile version, as the engine applies them. A profile of
 * SOUK_RANK_PROFILE_DEFAULT ranks exactly as Souk ranks without a profile (Xapian's BM25). */
#define SOUK_FIELD_MODEL_SUM 0   /* per-field BM25, summed */
#define SOUK_FIELD_MODEL_BM25F 1 /* weighted wdf summed over fields, one saturation */

typedef struct souk_rank_profile {
    souk_bm25 bm25; /* k1, b (k3, min_normlen as Xapian) */
    /* Query-time field weights. nfield_weights 0: the default text score (a word's unprefixed
     * term, whose wdf already carries the schema's index-time weight). Otherwise, with
     * field_model SOUK_FIELD_MODEL_SUM, a query word scores the sum over the listed text fields
     * of field_weight[i] times its BM25 in that field alone (the field's own term and
     * statistics); with SOUK_FIELD_MODEL_BM25F, its BM25 with the word's own idf and one
     * saturation of the weighted term frequency sum of field_weight[i] x its wdf in field i.
     * Fields not listed score 0 in both. */
    int field[SOUK_MAX_PROFILE_FIELDS];
    double field_weight[SOUK_MAX_PROFILE_FIELDS];
    size_t nfield_weights;
    int field_model; /* SOUK_FIELD_MODEL_* */
    /* Proximity bonus: proximity_weight (0: off) times a closeness of the query's words
     * within proximity_window positions of each other in one field (docs/ranking.md gives
     * the formula); 0 for one-word queries. */
    double proximity_weight;
    uint32_t proximity_window;
    souk_boost_signal boosts[SOUK_MAX_BOOSTS];
    size_t nboosts;
    /* Weight of the personal affinity of personalized search (docs/ranking.md); 0: off. */
    double personal_weight;
} souk_rank_profile;

#define SOUK_RANK_PROFILE_DEFAULT_PERSONAL_WEIGHT 0.1

#ifdef __cplusplus
}
#endif
#endif
