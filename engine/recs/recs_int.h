/* recs_int.h: private to engine/recs/: the recommenders' shared state.
 *
 * Items have stable numbers for the life of the handle (interned ids: rc_intern), so that what
 * is cached survives a snapshot.
 *
 * A snapshot (snapshot.c) holds what every request reads and nothing personal: each item with
 * events (its popularity, trend and distinct users of each co-occurrence kind) and the items in
 * popularity and trend order. When a request finds it older than cache_ms while the store has
 * changed (souk_events_stamp), a thread is started that builds the next one and swaps it in
 * (the requests meanwhile read the current one); it is freed when its last reader lets it go.
 *
 * Normalized neighbour lists (one per kind, item and normalization: the item-item model) are
 * cached on first use; a list is used while it is younger than model_ttl_ms (60 s) or the store
 * has not changed since it was computed, else computed again. So the popularity tables are at
 * most about cache_ms behind the store, the model at most model_ttl_ms (an erased user's
 * contributions included: the refit schedule the privacy guide allows an item-item model). With
 * o.refresh_ms (souk-server), refresh.c makes every list instead, off the request path, and
 * replaces the table whole (ngen counts the replacements); a request then uses any list it
 * finds, and an erasure refreshes before its job completes. The user's history is never cached:
 * it is read from the store on every request. */
#ifndef SOUK_RECS_INT_H
#define SOUK_RECS_INT_H

#include "souk/browse.h"
#include "souk/recs.h"
#include "souk/souk.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

typedef struct rc_item {
    uint32_t gid; /* interned id */
    const char *id;
    double pop, trend;
    uint32_t users[2]; /* souk_item_users of BOUGHT, VIEWED */
} rc_item;

typedef struct rc_nb {
    uint32_t item; /* interned id */
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
    rc_norm key; /* first: the table compares it */
    uint64_t stamp, built_ns;
    uint32_t n;
    rc_nb v[];
} rc_nlist;

typedef struct rc_snap {
    atomic_int refs;
    uint64_t stamp, built_ns;
    _Atomic uint64_t checked_ns; /* when the stamp was last found current */
    rc_item *items;
    uint32_t n;
    uint32_t *of_gid; /* interned id -> index + 1 (0: not in the snapshot) */
    uint32_t ngid;
    uint32_t *by_pop, *by_trend;
    double maxpop, maxtrend;
} rc_snap;

#define RC_TEMPLATES 16u /* models the refresh keeps lists for */
#define RC_CHUNK 4096u
#define RC_CHUNKS 4096u /* at most 16 M distinct items */

struct souk_recs {
    souk_recs_opts o;
    char *category_field, *cap_field;
    char **repl;
    size_t nrepl;
    pthread_mutex_t mu;  /* cur */
    atomic_int building; /* a snapshot build is under way (one at a time) */
    pthread_mutex_t bmu; /* builder */
    pthread_t builder;   /* the last rebuild thread, joined by the next one or at close */
    int has_builder;
    rc_snap *cur;
    /* interned item ids: strings by id in chunks (published before nids counts them) */
    pthread_mutex_t imu;
    char **chunks[RC_CHUNKS];
    atomic_uint nids;
    uint32_t *ihash; /* id + 1 */
    uint32_t ihcap;
    /* personalized search: recent users' affinities (affinity.c), keyed by a keyed hash of the
     * user id (no raw id is kept), valid while the store and the index are unchanged, and the
     * documents of interned items for the index generation (affinity.c) */
    pthread_mutex_t amu;
    struct rc_aff_cache *aff;
    uint8_t aff_key[32];
    /* neighbour lists */
    pthread_mutex_t nmu;
    rc_nlist **ntab;
    uint32_t ncap, nused;
    /* the background refresh (refresh.c; o.refresh_ms > 0): the models asked for (keys with item
     * 0) and the table's generation (both under nmu: a list counted on a request is kept only
     * when no refresh replaced the table meanwhile) */
    rc_norm tmpl[RC_TEMPLATES];
    uint32_t ntmpl;
    uint64_t ngen;
    pthread_mutex_t rmu; /* one refresh at a time; refreshed_* */
    uint64_t refreshed_stamp;
    uint32_t refreshed_ntmpl;
    pthread_mutex_t tmu; /* the refresh thread's stop and wake */
    pthread_cond_t tcond;
    int tstop, twake, has_refresher;
    pthread_t refresher;
};

/* The neighbour-list keys of the together types and of the for_you model (m with its defaults
 * filled in), for kind and item. */
void rc_key_together(const souk_recs *r, uint32_t kind, uint32_t item, rc_norm *key);
void rc_key_model(const souk_recs_model *m, uint32_t kind, uint32_t item, rc_norm *key);
/* Notes key's model (under nmu) so that the next refresh makes its lists; wakes the refresh
 * thread for a new one. */
void rc_tmpl_note(souk_recs *r, const rc_norm *key);
/* Starts and stops the refresh thread (refresh.c). */
int rc_refresher_start(souk_recs *r);
void rc_refresher_stop(souk_recs *r);
/* Builds the snapshot on the calling thread and installs it (no other build runs meanwhile). */
int rc_snap_refresh(souk_recs *r, int64_t now);
/* Replaces the list table by tab (cap slots, used lists) under nmu, and frees the old one. */
void rc_table_install(souk_recs *r, rc_nlist **tab, uint32_t cap, uint32_t used);
uint64_t rc_key_hash(const rc_norm *k);

/* The current snapshot (rebuilt first when stale), with a reference; NULL on an error (rc). */
rc_snap *rc_snap_get(souk_recs *r, int64_t now, int *rc);
void rc_snap_put(rc_snap *s);
/* Waits for a rebuild thread (souk_recs_close). */
void rc_snap_stop(souk_recs *r);
void rc_snap_free(rc_snap *s);
/* The interned id of item (added when add), or UINT32_MAX (absent, or out of memory). */
uint32_t rc_intern(souk_recs *r, const char *item, size_t len, int add);
static inline const char *rc_str(const souk_recs *r, uint32_t id)
{
    return r->chunks[id / RC_CHUNK][id % RC_CHUNK];
}
/* The order of a neighbour list: similarity descending, then item id (not the interned number,
 * which depends on what the handle met first: two handles on one store make the same lists). */
static inline int rc_nb_better(const souk_recs *r, rc_nb x, rc_nb y)
{
    if (x.sim != y.sim)
        return x.sim > y.sim;
    return x.item != y.item && strcmp(rc_str(r, x.item), rc_str(r, y.item)) < 0;
}
/* The snapshot's item of interned id, or NULL. */
static inline const rc_item *rc_item_of(const rc_snap *s, uint32_t gid)
{
    return gid < s->ngid && s->of_gid[gid] ? &s->items[s->of_gid[gid] - 1] : NULL;
}
/* Copies the neighbour list of key (key.item an interned id) into *out (souk_malloc, *n items,
 * best first), computing it from the store's co-occurrence when the cache has no current one
 * (stamp: the store's souk_events_stamp now). */
int rc_neighbours(souk_recs *r, rc_snap *s, uint64_t stamp, const rc_norm *key, rc_nb **out,
                  uint32_t *n);
void rc_cache_free(souk_recs *r);
/* The affinity cache's key (affinity.c). */
void rc_aff_init(souk_recs *r);

/* The model with its defaults filled in. */
void rc_model_defaults(const souk_recs *r, const souk_recs_model *in, souk_recs_model *out);

#endif
