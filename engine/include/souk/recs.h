/* recs.h: recommendations and personalized search (engine/recs/, docs/api.md "GET
 * /v1/recommend", docs/ranking.md "Personal signals").
 *
 * The recommenders read the behaviour-event store's features (souk/events.h: decayed
 * popularity, item-item co-occurrence counting distinct users, each user's retained history)
 * and the catalog (through a souk_searcher: item ids, the category and brand columns, filters,
 * text search for "similar"). The store keeps its features up to date as events arrive, and the
 * user's history is read on every request, so a new event changes the next for_you answer; the
 * item-item neighbour lists are computed from the store and cached (lazily, or by a background
 * refresh: souk_recs_opts.refresh_ms).
 *
 * Consent (P3-P5, P7) is checked here, on every request: a request with a user id is personal
 * only when souk_consent_personalize allows it for that user now; otherwise, and for a user with
 * no retained history, the answer is the non-personal one, byte for byte the answer to the same
 * request without a user (P4).
 *
 * Reasons (P9): every result carries one reason from the closed set of souk_rec_why; a
 * because_* reason cites an item of the user's retained history as souk_user_items lists it
 * at the time of the request (an item deleted from the history, or under a deleted tag, is not
 * in it and has no effect).
 *
 * Threads: one souk_recs may be used by many threads at once; each thread passes its own
 * souk_searcher (souk/search.h) over the catalog. */
#ifndef SOUK_RECS_H
#define SOUK_RECS_H

#include "souk/events.h"
#include "souk/search.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum souk_rec_type {
    SOUK_REC_BOUGHT_TOGETHER = 0, /* item required: co-occurrence in carts and purchases */
    SOUK_REC_VIEWED_TOGETHER,     /* item required: co-occurrence in views, clicks, favorites */
    SOUK_REC_SIMILAR,             /* item required: the item's salient terms through search */
    SOUK_REC_TRENDING,            /* short-half-life popularity (optional category) */
    SOUK_REC_POPULAR,             /* the store's decayed popularity (optional category) */
    SOUK_REC_FOR_YOU,             /* personal: item-based from the user's retained history */
    SOUK_REC_NTYPES
} souk_rec_type;

/* "bought_together", "viewed_together", "similar", "trending", "popular", "for_you"; NULL out
 * of range. */
const char *souk_rec_type_name(souk_rec_type t);
/* SOUK_OK, or SOUK_EINVAL for an unknown name. */
int souk_rec_type_parse(const char *name, size_t len, souk_rec_type *out);

/* The closed set of reasons (P9). */
typedef enum souk_rec_why {
    SOUK_WHY_BECAUSE_VIEWED = 0, /* arg: an item the user viewed (clicked, favorited) */
    SOUK_WHY_BECAUSE_BOUGHT,     /* arg: an item the user bought (or carted) */
    SOUK_WHY_BOUGHT_TOGETHER,    /* "bought_together_with", arg: the current item */
    SOUK_WHY_SIMILAR,            /* "similar_to_current", arg: the current item */
    SOUK_WHY_POPULAR_IN,         /* arg: the category */
    SOUK_WHY_TRENDING,           /* no arg */
    SOUK_WHY_BACKFILL_POPULAR,   /* no arg: added to reach n after the rules removed candidates */
    SOUK_WHY_N
} souk_rec_why;

/* "because_viewed", "because_bought", "bought_together_with", "similar_to_current",
 * "popular_in", "trending", "backfill_popular"; NULL out of range. */
const char *souk_rec_why_name(souk_rec_why w);

/* Co-occurrence normalizations (bought_together, viewed_together, and for_you's item-item
 * similarity), with c = distinct users who have both items, a and b = distinct users who have
 * each (the store's cooc and item-user counts), N = distinct users with any item of the kind:
 *   COUNT   c
 *   COSINE  c / (a^alpha * b^(1-alpha) + shrink)    (alpha 0.5: cosine)
 *   LIFT    c / (a * b + shrink)    (lift up to the constant factor N, which does not change
 *                                     an item's ranking) */
typedef enum souk_rec_norm { SOUK_NORM_COSINE = 0, SOUK_NORM_LIFT, SOUK_NORM_COUNT } souk_rec_norm;

/* The for_you model: item-kNN over the co-occurrence tables, blended with popularity. The
 * defaults are what souk-bench reco chose on MovieLens's validation split (docs/benchmarks.md),
 * except viewed_weight: MovieLens's "views" include the movies a user disliked (it chose 0),
 * a shop's views do not.
 *   score(i) = sum over history items h (the `history` most recent) of
 *                w(h) * sim(h, i)          for i among the `neighbours` best neighbours of h
 *   w(h)     = bought_weight if h was carted or bought, else viewed_weight,
 *              times 2^(-age(h) / recency_halflife_days) when that is set
 *   final(i) = score(i) / max score + blend * pop(i) / max pop,
 *   blend    = pop_blend * pop_damp / (pop_damp + signal), signal = the number of history items
 *              with at least one neighbour: weak personal signal leans towards popularity.
 * sim(h, i) is the COSINE normalization with the model's alpha and shrink of the BOUGHT kind
 * plus that of the VIEWED kind (each kind's `neighbours` best). The user's own history items are
 * never candidates. Every field 0 (or a zeroed struct) takes the default given. The history is
 * the user's 200 most recent distinct items (souk_user_history). */
typedef struct souk_recs_model {
    uint32_t neighbours;          /* per history item (default 100, at most 1000) */
    uint32_t history;             /* most recent history items used (default 20, at most 200) */
    double shrink;                /* similarity shrinkage (default 0: none) */
    double alpha;                 /* asymmetric cosine exponent (default 0.5; < 0: 0) */
    double recency_halflife_days; /* (default 365; < 0: no recency weighting) */
    double bought_weight;         /* (default 1) */
    double viewed_weight;         /* (default 0.5; < 0: 0) */
    double pop_blend;             /* (default 0.3; < 0: 0) */
    double pop_damp;              /* (default 3) */
    uint32_t min_users;           /* pairs under it ignored (default: souk_recs_opts.min_users) */
} souk_recs_model;

/* The handle's settings (all but events are optional; zeros take the defaults). */
typedef struct souk_recs_opts {
    souk_events *events;   /* borrowed; required */
    souk_recs_model model; /* for_you */
    /* bought_together / viewed_together: pairs with fewer distinct contributing users are
     * suppressed everywhere (default 2); normalization (default SOUK_NORM_COSINE) */
    uint32_t min_users;
    souk_rec_norm together_norm;
    double together_shrink; /* default 2 (< 0: 0) */
    double together_alpha;  /* default 0.5 */
    /* The catalog: the keyword field holding an item's category ("category", else "section"
     * when NULL) and the field for the diversity cap (NULL: "brand" when the schema has it,
     * else the category field). */
    const char *category_field;
    const char *cap_field;
    /* Diversity: at most cap results share one value of cap_field (default 0: ceil(n / 2);
     * UINT32_MAX: no cap). */
    uint32_t cap;
    /* Categories whose items stay recommendable after the user bought them (replenishable;
     * a category path covers its subcategories). */
    const char *const *replenishable;
    size_t nreplenishable;
    double trending_halflife_days; /* default 2 */
    /* The popularity tables (popular, trending, backfill) are rebuilt from the store at most
     * every cache_ms (default 1000) on the next request after that. */
    uint32_t cache_ms;
    /* The item-item model (normalized neighbour lists) is refitted from the store's
     * co-occurrence lazily, a list at most model_ttl_ms (default 60000) after the store changed
     * (the user's own history is read on every request, so it acts at once). */
    uint32_t model_ttl_ms;
    /* 0: as above. > 0: the neighbour lists are kept by a background refresh instead
     * (refresh.c, docs/architecture.md "Neighbour lists"): souk_recs_open computes every item's
     * lists once before it returns, a thread of the handle recomputes them all from one walk of
     * the store's sets at most every refresh_ms (and at least 3 times its own duration apart)
     * after the store changed, and a request uses the list it finds whatever its age; it counts
     * from the store only a list the last refresh did not make (an item new since, or a model
     * not asked for before it). */
    uint32_t refresh_ms;
} souk_recs_opts;

typedef struct souk_recs souk_recs;

/* Opens the recommenders over an open event store. The catalog comes with each request. */
int souk_recs_open(const souk_recs_opts *o, souk_recs **out, char *err, size_t errlen);
void souk_recs_close(souk_recs *r);

/* What one refresh of the neighbour lists did. */
typedef struct souk_recs_refresh_stats {
    uint64_t sets, set_items; /* users' sets read (per kind), their items */
    uint64_t lists, entries;  /* neighbour lists made, their neighbours */
    uint64_t ns_read, ns_count, ns_total;
    int truncated; /* 1: the entry budget stopped it; the rest are counted when asked */
} souk_recs_refresh_stats;

/* Recomputes now, on the calling thread, the popularity snapshot and every neighbour list of
 * every model asked for so far (and the handle's own for_you and together models), from one
 * read of the store, and replaces the cached lists with them: after it returns, no request
 * reads a list made before it began. Used by the refresh thread, and by an erasure before its
 * job reports completed (souk_events_on_erased). One at a time (a second call waits). Bounded
 * by the store: one walk of every user's sets, sum over users of (set size)^2 counts, and at
 * most 2^24 list entries kept (st->truncated past it). st may be NULL. Any thread. */
int souk_recs_refresh(souk_recs *r, int64_t now, souk_recs_refresh_stats *st);

/* Request flags. */
#define SOUK_REC_NO_BACKFILL 1u /* fewer than n when the model has fewer (evaluation) */
#define SOUK_REC_NO_CAP 2u      /* no diversity cap (evaluation) */
#define SOUK_REC_KEEP_SEEN 4u   /* for_you: keep items of the user's history (they are left out) */

typedef struct souk_rec_request {
    souk_rec_type type;
    const char *user; /* raw user id (pseudonymized by the store), NULL or "": anonymous */
    size_t user_len;
    const char *item;     /* the current item: required by the item types, else ignored */
    const char *category; /* trending, popular: only this category path (NULL: all) */
    const char *filter;   /* a filter expression (souk/browse.h), NULL: none */
    size_t filter_len;
    uint32_t n; /* results wanted (1 .. SOUK_REC_MAX) */
    int64_t now_ms;
    const souk_recs_model *model; /* NULL: the handle's; fields 0 take the defaults */
    unsigned flags;               /* SOUK_REC_* */
} souk_rec_request;

#define SOUK_REC_MAX 100

typedef struct souk_rec {
    char item[SOUK_ITEM_MAX + 1];
    uint32_t docid;
    double score; /* the model's score (backfill: the popularity) */
    souk_rec_why why;
    char why_arg[SOUK_ITEM_MAX + 1]; /* the cited item or category; "" when none */
    int backfill;                    /* 1: added by backfill (why BACKFILL_POPULAR) */
} souk_rec;

/* Writes the reason's wire form, "because_viewed:ml-1" or "trending", NUL-terminated. Returns
 * its length (as snprintf). */
int souk_rec_reason(const souk_rec *r, char *buf, size_t len);

typedef struct souk_rec_stats {
    int personal;        /* 1: the user's history was used */
    uint32_t history;    /* history items used */
    uint32_t candidates; /* candidates the model produced */
    uint32_t removed;    /* by the filter, the bought-items rule, the cap */
    uint32_t backfilled;
    uint64_t ns; /* time spent */
} souk_rec_stats;

/* Answers one request: out (capacity q->n) receives exactly q->n results, best first, unless
 * the catalog has fewer items that pass the rules (or SOUK_REC_NO_BACKFILL); *nout their
 * number. s is the calling thread's searcher over the catalog (refreshed by the caller). st may
 * be NULL. Errors: SOUK_EINVAL (n out of range, a missing item for an item type, a bad filter:
 * err says which), SOUK_ENOTFOUND (the current item is not in the catalog), store and index
 * errors. The work of one request is bounded (docs/api.md "What one recommendation may cost":
 * the user's 200 most recent distinct items, history x 2 neighbour lists, at most 10 n + 1000
 * candidates through the rules, one search of at most 24 terms for 4 n + 40 hits). */
int souk_recommend(souk_recs *r, souk_searcher *s, const souk_rec_request *q, souk_rec *out,
                   size_t *nout, souk_rec_stats *st, char *err, size_t errlen);

/* ------------------------------------------------------------------ personalized search */

/* A user's affinities for one search (docs/ranking.md "Personal affinity"): the categories and
 * brands of the user's 50 most recent history items and the neighbours of the 5 most recent.
 * NULL (*out) when the request is not personal: no user, no consent, or no history. Free it
 * before the searcher is refreshed (it reads the searcher's columns). *search_history (when
 * not NULL) receives the user's search-history consent as read with the affinities, from the
 * same state of the store: 1 given, 0 not given, -1 unknown (not read). */
typedef struct souk_affinity souk_affinity;
int souk_affinity_load(souk_recs *r, souk_searcher *s, const char *user, size_t len, int64_t now,
                       souk_affinity **out, int *search_history);
void souk_affinity_free(souk_affinity *a);

/* The personal component for docid: weight * a(docid) * top, a in [0, 1], bounded by
 * weight * top, where top is the best text score of the result list (docs/ranking.md). */
#define SOUK_PERSONAL_WEIGHT 0.1
double souk_affinity_of(const souk_affinity *a, souk_searcher *s, uint32_t docid);

#ifdef __cplusplus
}
#endif
#endif
