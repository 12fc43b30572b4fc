/* snapshot.c: the recommenders' shared, non-personal state (recs_int.h): interned item ids, the
 * snapshot of popularity, trend and distinct users per item, and the neighbour-list cache. */
#include "core/qsort_inline.h"
#include "recs/recs_int.h"

#include <math.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

static uint64_t hash_bytes(const void *p, size_t n)
{
    const uint8_t *b = p;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

/* ------------------------------------------------------------------ interned ids */

static uint32_t ifind(const souk_recs *r, const char *item, size_t len, uint64_t h)
{
    if (!r->ihcap)
        return UINT32_MAX;
    for (uint64_t i = h & (r->ihcap - 1);; i = (i + 1) & (r->ihcap - 1)) {
        uint32_t v = r->ihash[i];
        if (!v)
            return UINT32_MAX;
        const char *s = rc_str(r, v - 1);
        if (strlen(s) == len && memcmp(s, item, len) == 0)
            return v - 1;
    }
}

uint32_t rc_intern(souk_recs *r, const char *item, size_t len, int add)
{
    uint64_t h = hash_bytes(item, len);
    pthread_mutex_lock(&r->imu);
    uint32_t id = ifind(r, item, len, h);
    if (id != UINT32_MAX || !add)
        goto out;
    uint32_t n = atomic_load(&r->nids);
    if (n >= RC_CHUNK * RC_CHUNKS)
        goto out;
    if (2 * (n + 1) > r->ihcap) {
        uint32_t cap = r->ihcap ? 2 * r->ihcap : 4096;
        uint32_t *t = souk_calloc(cap, sizeof *t);
        if (!t)
            goto out;
        for (uint32_t i = 0; i < r->ihcap; i++)
            if (r->ihash[i]) {
                const char *s = rc_str(r, r->ihash[i] - 1);
                uint64_t j = hash_bytes(s, strlen(s)) & (cap - 1);
                while (t[j])
                    j = (j + 1) & (cap - 1);
                t[j] = r->ihash[i];
            }
        souk_free(r->ihash);
        r->ihash = t, r->ihcap = cap;
    }
    if (!r->chunks[n / RC_CHUNK] &&
        !(r->chunks[n / RC_CHUNK] = souk_calloc(RC_CHUNK, sizeof(char *))))
        goto out;
    char *s = souk_strndup(item, len);
    if (!s)
        goto out;
    r->chunks[n / RC_CHUNK][n % RC_CHUNK] = s;
    uint64_t j = h & (r->ihcap - 1);
    while (r->ihash[j])
        j = (j + 1) & (r->ihcap - 1);
    r->ihash[j] = n + 1;
    atomic_store(&r->nids, n + 1); /* publishes the string */
    id = n;
out:
    pthread_mutex_unlock(&r->imu);
    return id;
}

/* ------------------------------------------------------------------ snapshots */

void rc_snap_free(rc_snap *s)
{
    if (!s)
        return;
    souk_free(s->items);
    souk_free(s->of_gid);
    souk_free(s->by_pop);
    souk_free(s->by_trend);
    souk_free(s);
}

void rc_snap_put(rc_snap *s)
{
    if (s && atomic_fetch_sub(&s->refs, 1) == 1)
        rc_snap_free(s);
}

typedef struct build {
    souk_recs *r;
    rc_snap *s;
    uint32_t cap;
    int rc;
} build;

static int add_item(void *arg, const char *item, double pop, double trend)
{
    build *b = arg;
    rc_snap *s = b->s;
    if (s->n == b->cap) {
        uint32_t cap = b->cap ? 2 * b->cap : 1024;
        rc_item *x = souk_realloc(s->items, (size_t)cap * sizeof *x);
        if (!x)
            return b->rc = SOUK_ENOMEM;
        s->items = x, b->cap = cap;
    }
    uint32_t gid = rc_intern(b->r, item, strlen(item), 1);
    if (gid == UINT32_MAX)
        return b->rc = SOUK_ENOMEM;
    rc_item *e = &s->items[s->n++];
    memset(e, 0, sizeof *e);
    e->gid = gid;
    e->id = rc_str(b->r, gid);
    e->pop = pop, e->trend = trend;
    return 0;
}

typedef struct users_ctx {
    souk_recs *r;
    rc_snap *s;
    int kind;
} users_ctx;

static int set_users(void *arg, const char *item, uint32_t users)
{
    users_ctx *u = arg;
    uint32_t gid = rc_intern(u->r, item, strlen(item), 0);
    rc_item *it = gid == UINT32_MAX ? NULL : (rc_item *)rc_item_of(u->s, gid);
    if (it)
        it->users[u->kind] = users;
    return 0;
}

/* Orders of the snapshot's items: by popularity, by trend (then popularity), then by id (a
 * total order: ids are distinct). */
static inline int pop_less(const rc_snap *s, uint32_t a, uint32_t b)
{
    const rc_item *x = &s->items[a], *y = &s->items[b];
    if (x->pop != y->pop)
        return x->pop > y->pop;
    return strcmp(x->id, y->id) < 0;
}

static inline int trend_less(const rc_snap *s, uint32_t a, uint32_t b)
{
    const rc_item *x = &s->items[a], *y = &s->items[b];
    if (x->trend != y->trend)
        return x->trend > y->trend;
    return pop_less(s, a, b);
}

SOUK_QSORT_DEFINE(sort_by_pop, uint32_t, const rc_snap *, pop_less)
SOUK_QSORT_DEFINE(sort_by_trend, uint32_t, const rc_snap *, trend_less)

static int snap_build(souk_recs *r, int64_t now, uint64_t stamp, rc_snap **out)
{
    rc_snap *s = souk_calloc(1, sizeof *s);
    if (!s)
        return SOUK_ENOMEM;
    atomic_init(&s->refs, 1);
    s->stamp = stamp;
    s->built_ns = souk_clock_ns();
    build b = {r, s, 0, 0};
    int rc = souk_popularity_each(r->o.events, now, r->o.trending_halflife_days, add_item, &b);
    if (!rc)
        rc = b.rc;
    if (!rc) {
        s->ngid = atomic_load(&r->nids);
        s->of_gid = souk_calloc(s->ngid + 1, sizeof *s->of_gid);
        s->by_pop = souk_malloc(((size_t)s->n + 1) * sizeof *s->by_pop);
        s->by_trend = souk_malloc(((size_t)s->n + 1) * sizeof *s->by_trend);
        if (!s->of_gid || !s->by_pop || !s->by_trend)
            rc = SOUK_ENOMEM;
    }
    for (uint32_t i = 0; !rc && i < s->n; i++) {
        s->of_gid[s->items[i].gid] = i + 1;
        s->by_pop[i] = s->by_trend[i] = i;
        if (s->items[i].pop > s->maxpop)
            s->maxpop = s->items[i].pop;
        if (s->items[i].trend > s->maxtrend)
            s->maxtrend = s->items[i].trend;
    }
    for (int kind = 0; kind < 2 && !rc; kind++) {
        users_ctx u = {r, s, kind};
        rc = souk_item_users_each(r->o.events, (souk_cooc_kind)kind, set_users, &u);
    }
    if (!rc) {
        sort_by_pop(s, s->by_pop, s->n);
        sort_by_trend(s, s->by_trend, s->n);
    }
    if (rc) {
        rc_snap_free(s);
        return rc;
    }
    *out = s;
    return SOUK_OK;
}

/* Installs n as the current snapshot (its reference moves to r). */
static void snap_install(souk_recs *r, rc_snap *n)
{
    atomic_store(&n->checked_ns, souk_clock_ns());
    pthread_mutex_lock(&r->mu);
    rc_snap *old = r->cur;
    r->cur = n;
    pthread_mutex_unlock(&r->mu);
    rc_snap_put(old);
}

typedef struct rebuild_arg {
    souk_recs *r;
    int64_t now;
    uint64_t stamp;
} rebuild_arg;

/* The rebuild thread: builds, installs, and lets the next rebuild be claimed. */
static void *rebuild_main(void *p)
{
    rebuild_arg *a = p;
    rc_snap *n = NULL;
    if (snap_build(a->r, a->now, a->stamp, &n) == SOUK_OK)
        snap_install(a->r, n);
    atomic_store(&a->r->building, 0);
    souk_free(a);
    return NULL;
}

void rc_snap_stop(souk_recs *r)
{
    if (r->has_builder)
        pthread_join(r->builder, NULL);
    r->has_builder = 0;
}

rc_snap *rc_snap_get(souk_recs *r, int64_t now, int *rcp)
{
    *rcp = SOUK_OK;
    pthread_mutex_lock(&r->mu);
    rc_snap *s = r->cur;
    if (s)
        atomic_fetch_add(&s->refs, 1);
    pthread_mutex_unlock(&r->mu);
    uint64_t t = souk_clock_ns();
    if (s && t - atomic_load(&s->checked_ns) < (uint64_t)r->o.cache_ms * 1000000u)
        return s;
    /* Stale by age: rebuilt when the store changed. With a snapshot, a thread of its own builds
     * the next one while requests go on with this one (no request pays for a rebuild); with
     * none yet, the first request builds it and the others wait for it. */
    uint64_t stamp = souk_events_stamp(r->o.events);
    if (s && stamp == s->stamp) {
        atomic_store(&s->checked_ns, t);
        return s;
    }
    int idle = 0;
    if (s) {
        if (atomic_compare_exchange_strong(&r->building, &idle, 1)) {
            atomic_store(&s->checked_ns, t); /* no second claim before cache_ms */
            pthread_mutex_lock(&r->bmu);
            rc_snap_stop(r); /* the previous builder has finished: reap it */
            rebuild_arg *a = souk_malloc(sizeof *a);
            if (a) {
                *a = (rebuild_arg){r, now, stamp};
                if (pthread_create(&r->builder, NULL, rebuild_main, a) == 0) {
                    r->has_builder = 1;
                    a = NULL;
                }
            }
            pthread_mutex_unlock(&r->bmu);
            if (a) {
                souk_free(a);
                atomic_store(&r->building, 0);
            }
        }
        return s;
    }
    for (;;) {
        idle = 0;
        if (atomic_compare_exchange_strong(&r->building, &idle, 1))
            break;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&r->mu);
        rc_snap *c = r->cur;
        if (c)
            atomic_fetch_add(&c->refs, 1);
        pthread_mutex_unlock(&r->mu);
        if (c)
            return c;
    }
    pthread_mutex_lock(&r->mu);
    rc_snap *c = r->cur;
    if (c)
        atomic_fetch_add(&c->refs, 1);
    pthread_mutex_unlock(&r->mu);
    if (c) {
        atomic_store(&r->building, 0);
        return c;
    }
    rc_snap *n = NULL;
    int rc = snap_build(r, now, stamp, &n);
    if (rc) {
        atomic_store(&r->building, 0);
        *rcp = rc;
        return NULL;
    }
    atomic_fetch_add(&n->refs, 1); /* the caller's */
    snap_install(r, n);
    atomic_store(&r->building, 0);
    return n;
}

/* ------------------------------------------------------------------ neighbour lists */

uint64_t rc_key_hash(const rc_norm *k)
{
    return hash_bytes(k, sizeof *k);
}

typedef struct nb_ctx {
    souk_recs *r;
    rc_snap *s;
    const rc_norm *key;
    double a; /* users of the item */
    rc_nb *v;
    size_t n, cap;
    int rc;
} nb_ctx;

static int nb_add(void *arg, const char *item, uint32_t users)
{
    nb_ctx *c = arg;
    if (users < c->key->min_users)
        return 1; /* souk_cooc calls in decreasing users: none of the rest passes */
    uint32_t gid = rc_intern(c->r, item, strlen(item), 1);
    if (gid == UINT32_MAX || gid == c->key->item)
        return 0;
    const rc_item *it = rc_item_of(c->s, gid);
    double b = it ? it->users[c->key->kind] : 0;
    if (b < users)
        b = users;
    double a = c->a < users ? users : c->a, sim;
    switch (c->key->norm) {
    case SOUK_NORM_COUNT:
        sim = users;
        break;
    case SOUK_NORM_LIFT:
        sim = users / (a * b + c->key->shrink);
        break;
    default:
        sim = users / (pow(a, c->key->alpha) * pow(b, 1 - c->key->alpha) + c->key->shrink);
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 256;
        rc_nb *x = souk_realloc(c->v, cap * sizeof *x);
        if (!x) {
            c->rc = SOUK_ENOMEM;
            return 1;
        }
        c->v = x, c->cap = cap;
    }
    c->v[c->n++] = (rc_nb){gid, (float)sim};
    return 0;
}

SOUK_QSORT_DEFINE(sort_nb, rc_nb, const souk_recs *, rc_nb_better)

void rc_cache_free(souk_recs *r)
{
    for (uint32_t i = 0; i < r->ncap; i++)
        souk_free(r->ntab[i]);
    souk_free(r->ntab);
    r->ntab = NULL, r->ncap = r->nused = 0;
    uint32_t n = atomic_load(&r->nids);
    for (uint32_t i = 0; i < n; i++)
        souk_free(r->chunks[i / RC_CHUNK][i % RC_CHUNK]);
    for (uint32_t c = 0; c < RC_CHUNKS; c++)
        souk_free(r->chunks[c]);
    souk_free(r->ihash);
}

/* The slot of key in the table (an empty one when absent); under r->nmu. */
static uint32_t nslot(const souk_recs *r, const rc_norm *key, uint64_t h)
{
    uint32_t i = (uint32_t)(h & (r->ncap - 1));
    while (r->ntab[i] && memcmp(&r->ntab[i]->key, key, sizeof *key) != 0)
        i = (i + 1) & (r->ncap - 1);
    return i;
}

#define NCACHE_MAX (1u << 18) /* lists cached; past that, the table is emptied */

int rc_neighbours(souk_recs *r, rc_snap *s, uint64_t stamp, const rc_norm *key, rc_nb **out,
                  uint32_t *n)
{
    *out = NULL, *n = 0;
    uint64_t h = rc_key_hash(key), t = souk_clock_ns();
    pthread_mutex_lock(&r->nmu);
    uint64_t gen = r->ngen;
    if (r->o.refresh_ms)
        rc_tmpl_note(r, key);
    if (r->ncap) {
        rc_nlist *l = r->ntab[nslot(r, key, h)];
        /* With the refresh on, a list is used whatever its age: the refresh replaces it. */
        if (l && (l->stamp == stamp || r->o.refresh_ms ||
                  t - l->built_ns < (uint64_t)r->o.model_ttl_ms * 1000000u)) {
            *out = souk_malloc((l->n ? l->n : 1) * sizeof **out);
            if (*out) {
                memcpy(*out, l->v, l->n * sizeof **out);
                *n = l->n;
            }
            pthread_mutex_unlock(&r->nmu);
            return *out ? SOUK_OK : SOUK_ENOMEM;
        }
    }
    pthread_mutex_unlock(&r->nmu);
    const char *item = rc_str(r, key->item);
    const rc_item *self = rc_item_of(s, key->item);
    nb_ctx c = {r, s, key, self ? self->users[key->kind] : 0, NULL, 0, 0, 0};
    if (c.a == 0)
        c.a = souk_item_users(r->o.events, (souk_cooc_kind)key->kind, item);
    int rc = souk_cooc(r->o.events, (souk_cooc_kind)key->kind, item, 0, nb_add, &c);
    if (!rc)
        rc = c.rc;
    if (rc) {
        souk_free(c.v);
        return rc;
    }
    if (c.n > 1)
        sort_nb(r, c.v, c.n);
    if (c.n > key->k)
        c.n = key->k;
    rc_nlist *l = souk_malloc(sizeof *l + (c.n ? c.n : 1) * sizeof(rc_nb));
    if (!l) {
        souk_free(c.v);
        return SOUK_ENOMEM;
    }
    l->key = *key;
    l->stamp = stamp;
    l->built_ns = t;
    l->n = (uint32_t)c.n;
    if (c.n)
        memcpy(l->v, c.v, c.n * sizeof *c.v);
    *out = c.v;
    *n = (uint32_t)c.n;
    pthread_mutex_lock(&r->nmu);
    if (r->ngen != gen) {
        /* A refresh replaced the table while this list was counted: it may hold what the
         * refresh left out (an erased user's contribution), so it is not kept. */
        pthread_mutex_unlock(&r->nmu);
        souk_free(l);
        return SOUK_OK;
    }
    if (r->nused >= NCACHE_MAX) {
        for (uint32_t i = 0; i < r->ncap; i++) {
            souk_free(r->ntab[i]);
            r->ntab[i] = NULL;
        }
        r->nused = 0;
    }
    if (4 * (r->nused + 1) > 3 * r->ncap) {
        uint32_t ncap = r->ncap ? 2 * r->ncap : 1024;
        rc_nlist **tab = souk_calloc(ncap, sizeof *tab);
        if (tab) {
            rc_nlist **old = r->ntab;
            uint32_t ocap = r->ncap;
            r->ntab = tab, r->ncap = ncap;
            for (uint32_t i = 0; i < ocap; i++)
                if (old[i])
                    r->ntab[nslot(r, &old[i]->key, rc_key_hash(&old[i]->key))] = old[i];
            souk_free(old);
        }
    }
    if (4 * (r->nused + 1) <= 3 * r->ncap) {
        uint32_t i = nslot(r, key, h);
        if (r->ntab[i])
            souk_free(r->ntab[i]); /* an outdated list */
        else
            r->nused++;
        r->ntab[i] = l;
        l = NULL;
    }
    pthread_mutex_unlock(&r->nmu);
    souk_free(l);
    return SOUK_OK;
}

void rc_table_install(souk_recs *r, rc_nlist **tab, uint32_t cap, uint32_t used)
{
    pthread_mutex_lock(&r->nmu);
    rc_nlist **old = r->ntab;
    uint32_t ocap = r->ncap;
    r->ntab = tab, r->ncap = cap, r->nused = used;
    r->ngen++;
    pthread_mutex_unlock(&r->nmu);
    for (uint32_t i = 0; i < ocap; i++)
        souk_free(old[i]);
    souk_free(old);
}

int rc_snap_refresh(souk_recs *r, int64_t now)
{
    /* Claims the builder's flag, so that no rebuild thread installs an older snapshot after
     * this one. */
    for (;;) {
        int idle = 0;
        if (atomic_compare_exchange_strong(&r->building, &idle, 1))
            break;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    rc_snap *n = NULL;
    int rc = snap_build(r, now, souk_events_stamp(r->o.events), &n);
    if (rc == SOUK_OK)
        snap_install(r, n);
    atomic_store(&r->building, 0);
    return rc;
}
