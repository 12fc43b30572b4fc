/* recs_int.h: private to engine/recs/: the recommenders' shared state.
 *
 * A snapshot (snapshot.c) holds what every request reads and nothing personal: each item with
 * events (its popularity, trend and distinct users of each co-occurrence kind), the items in
 * popularity and trend order, and a cache of normalized neighbour lists (one per kind, item and
 * normalization) filled on first use. It is rebuilt from the store by the first request that
 * finds it older than cache_ms while the store has changed (souk_events_stamp), and freed when
 * its last reader lets it go, so a snapshot, and every neighbour list in it, is at most about
 * cache_ms behind the store (an erased user's contributions included). The user's history is
 * never cached: it is read from the store on every request. */
#ifndef SOUK_RECS_INT_H
#define SOUK_RECS_INT_H

#include "souk/browse.h"
#include "souk/recs.h"
#include "souk/souk.h"

#include <pthread.h>
#include <stdatomic.h>

typedef struct rc_item {
    char *id;
    double pop, trend;
    uint32_t users[2]; /* souk_item_users of BOUGHT, VIEWED */
} rc_item;

typedef struct rc_nb {
    uint32_t item; /* index in the snapshot */
    float sim;
} rc_nb;

/* The normalization of a neighbour list: its cache key with the kind and the item. */
typedef struct rc_norm {
    uint32_t kind; /* souk_cooc_kind */
    uint32_t item;
    uint32_t norm; /* souk_rec_norm */
    uint32_t min_users;
    uint32_t k; /* neighbours kept */
    uint32_t pad;
    double alpha, shrink;
} rc_norm;

typedef struct rc_nlist {
    rc_norm key;
    uint32_t n;
    rc_nb v[];
} rc_nlist;

typedef struct rc_snap {
    atomic_int refs;
    uint64_t stamp, built_ns;
    rc_item *items;
    uint32_t n;
    uint32_t *htab; /* item id -> index + 1 (0: empty) */
    uint32_t hcap;
    uint32_t *by_pop, *by_trend;
    double maxpop, maxtrend;
    pthread_mutex_t mu; /* the neighbour cache */
    rc_nlist **ntab;
    uint32_t ncap, nused;
} rc_snap;

struct souk_recs {
    souk_recs_opts o;
    char *category_field, *cap_field;
    char **repl;
    size_t nrepl;
    pthread_mutex_t mu;    /* cur */
    pthread_mutex_t build; /* one rebuild at a time */
    rc_snap *cur;
};

/* The current snapshot (rebuilt first when stale), with a reference; NULL on an error (rc). */
rc_snap *rc_snap_get(souk_recs *r, int64_t now, int *rc);
void rc_snap_put(rc_snap *s);
void rc_snap_free(rc_snap *s);
/* The index of item in s, or UINT32_MAX. */
uint32_t rc_snap_find(const rc_snap *s, const char *item, size_t len);
/* Copies the neighbour list of key (key.item an index of s) into *out (souk_malloc, *n items,
 * best first), computing it from the store's co-occurrence on a miss. */
int rc_neighbours(souk_recs *r, rc_snap *s, const rc_norm *key, rc_nb **out, uint32_t *n);

/* The model with its defaults filled in. */
void rc_model_defaults(const souk_recs *r, const souk_recs_model *in, souk_recs_model *out);

#endif
