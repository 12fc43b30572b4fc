/* snapshot.c: the recommenders' shared, non-personal snapshot of the store's features
 * (recs_int.h): popularity and trend tables, distinct users per item, normalized neighbour
 * lists. */
#include "recs/recs_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint64_t hash_str(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)p[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

uint32_t rc_snap_find(const rc_snap *s, const char *item, size_t len)
{
    if (!s->hcap)
        return UINT32_MAX;
    for (uint64_t h = hash_str(item, len) & (s->hcap - 1);; h = (h + 1) & (s->hcap - 1)) {
        uint32_t v = s->htab[h];
        if (!v)
            return UINT32_MAX;
        const char *id = s->items[v - 1].id;
        if (strlen(id) == len && memcmp(id, item, len) == 0)
            return v - 1;
    }
}

void rc_snap_free(rc_snap *s)
{
    if (!s)
        return;
    for (uint32_t i = 0; i < s->n; i++)
        souk_free(s->items[i].id);
    for (uint32_t i = 0; i < s->ncap; i++)
        souk_free(s->ntab[i]);
    souk_free(s->ntab);
    souk_free(s->items);
    souk_free(s->htab);
    souk_free(s->by_pop);
    souk_free(s->by_trend);
    pthread_mutex_destroy(&s->mu);
    souk_free(s);
}

void rc_snap_put(rc_snap *s)
{
    if (s && atomic_fetch_sub(&s->refs, 1) == 1)
        rc_snap_free(s);
}

typedef struct build {
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
    rc_item *e = &s->items[s->n];
    memset(e, 0, sizeof *e);
    if (!(e->id = souk_strndup(item, strlen(item))))
        return b->rc = SOUK_ENOMEM;
    e->pop = pop, e->trend = trend;
    s->n++;
    return 0;
}

typedef struct users_ctx {
    rc_snap *s;
    int kind;
} users_ctx;

static int set_users(void *arg, const char *item, uint32_t users)
{
    users_ctx *u = arg;
    uint32_t i = rc_snap_find(u->s, item, strlen(item));
    if (i != UINT32_MAX)
        u->s->items[i].users[u->kind] = users;
    return 0;
}

static const rc_snap *sort_snap; /* qsort has no context argument; guarded by r->build */

static int by_pop(const void *a, const void *b)
{
    const rc_item *x = &sort_snap->items[*(const uint32_t *)a];
    const rc_item *y = &sort_snap->items[*(const uint32_t *)b];
    if (x->pop != y->pop)
        return x->pop < y->pop ? 1 : -1;
    return strcmp(x->id, y->id);
}

static int by_trend(const void *a, const void *b)
{
    const rc_item *x = &sort_snap->items[*(const uint32_t *)a];
    const rc_item *y = &sort_snap->items[*(const uint32_t *)b];
    if (x->trend != y->trend)
        return x->trend < y->trend ? 1 : -1;
    return by_pop(a, b);
}

static int snap_build(souk_recs *r, int64_t now, uint64_t stamp, rc_snap **out)
{
    rc_snap *s = souk_calloc(1, sizeof *s);
    if (!s)
        return SOUK_ENOMEM;
    atomic_init(&s->refs, 1);
    pthread_mutex_init(&s->mu, NULL);
    s->stamp = stamp;
    s->built_ns = souk_clock_ns();
    build b = {s, 0, 0};
    int rc = souk_popularity_each(r->o.events, now, r->o.trending_halflife_days, add_item, &b);
    if (!rc)
        rc = b.rc;
    if (!rc) {
        s->hcap = 16;
        while (s->hcap < 2 * s->n + 2)
            s->hcap *= 2;
        s->htab = souk_calloc(s->hcap, sizeof *s->htab);
        s->by_pop = souk_malloc(((size_t)s->n + 1) * sizeof *s->by_pop);
        s->by_trend = souk_malloc(((size_t)s->n + 1) * sizeof *s->by_trend);
        s->ncap = 1024;
        s->ntab = souk_calloc(s->ncap, sizeof *s->ntab);
        if (!s->htab || !s->by_pop || !s->by_trend || !s->ntab)
            rc = SOUK_ENOMEM;
    }
    for (uint32_t i = 0; !rc && i < s->n; i++) {
        const char *id = s->items[i].id;
        uint64_t h = hash_str(id, strlen(id)) & (s->hcap - 1);
        while (s->htab[h])
            h = (h + 1) & (s->hcap - 1);
        s->htab[h] = i + 1;
        s->by_pop[i] = s->by_trend[i] = i;
        if (s->items[i].pop > s->maxpop)
            s->maxpop = s->items[i].pop;
        if (s->items[i].trend > s->maxtrend)
            s->maxtrend = s->items[i].trend;
    }
    for (int kind = 0; kind < 2 && !rc; kind++) {
        users_ctx u = {s, kind};
        rc = souk_item_users_each(r->o.events, (souk_cooc_kind)kind, set_users, &u);
    }
    if (!rc) {
        sort_snap = s;
        qsort(s->by_pop, s->n, sizeof *s->by_pop, by_pop);
        qsort(s->by_trend, s->n, sizeof *s->by_trend, by_trend);
        sort_snap = NULL;
    }
    if (rc) {
        rc_snap_free(s);
        return rc;
    }
    *out = s;
    return SOUK_OK;
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
    if (s && t - s->built_ns < (uint64_t)r->o.cache_ms * 1000000u)
        return s;
    /* Stale by age: rebuild when the store changed (one thread builds, the others go on with
     * the snapshot they have; with none yet, they wait for it). */
    uint64_t stamp = souk_events_stamp(r->o.events);
    if (s && stamp == s->stamp) {
        s->built_ns = t; /* racy but harmless: any thread may push the age check forward */
        return s;
    }
    if (s && pthread_mutex_trylock(&r->build) != 0)
        return s;
    if (!s)
        pthread_mutex_lock(&r->build);
    /* Someone may have rebuilt it meanwhile. */
    pthread_mutex_lock(&r->mu);
    rc_snap *c = r->cur;
    if (c && c != s && c->stamp == stamp) {
        atomic_fetch_add(&c->refs, 1);
        pthread_mutex_unlock(&r->mu);
        pthread_mutex_unlock(&r->build);
        rc_snap_put(s);
        return c;
    }
    pthread_mutex_unlock(&r->mu);
    rc_snap *n = NULL;
    int rc = snap_build(r, now, stamp, &n);
    if (rc) {
        pthread_mutex_unlock(&r->build);
        if (s)
            return s; /* serve the older one */
        *rcp = rc;
        return NULL;
    }
    atomic_fetch_add(&n->refs, 1); /* the caller's */
    pthread_mutex_lock(&r->mu);
    rc_snap *old = r->cur;
    r->cur = n;
    pthread_mutex_unlock(&r->mu);
    pthread_mutex_unlock(&r->build);
    rc_snap_put(old);
    rc_snap_put(s);
    return n;
}

/* ------------------------------------------------------------------ neighbour lists */

static uint64_t hash_key(const rc_norm *k)
{
    return hash_str((const char *)k, sizeof *k);
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
    uint32_t i = rc_snap_find(c->s, item, strlen(item));
    if (i == UINT32_MAX || i == c->key->item)
        return 0;
    double b = c->s->items[i].users[c->key->kind];
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
    c->v[c->n++] = (rc_nb){i, (float)sim};
    return 0;
}

static int by_sim(const void *a, const void *b)
{
    const rc_nb *x = a, *y = b;
    if (x->sim != y->sim)
        return x->sim < y->sim ? 1 : -1;
    return x->item < y->item ? -1 : x->item > y->item;
}

int rc_neighbours(souk_recs *r, rc_snap *s, const rc_norm *key, rc_nb **out, uint32_t *n)
{
    *out = NULL, *n = 0;
    uint64_t h = hash_key(key);
    pthread_mutex_lock(&s->mu);
    for (uint64_t i = h & (s->ncap - 1); s->ntab[i]; i = (i + 1) & (s->ncap - 1)) {
        rc_nlist *l = s->ntab[i];
        if (memcmp(&l->key, key, sizeof *key) == 0) {
            *out = souk_malloc((l->n ? l->n : 1) * sizeof **out);
            if (*out) {
                memcpy(*out, l->v, l->n * sizeof **out);
                *n = l->n;
            }
            pthread_mutex_unlock(&s->mu);
            return *out ? SOUK_OK : SOUK_ENOMEM;
        }
    }
    pthread_mutex_unlock(&s->mu);
    const char *item = s->items[key->item].id;
    nb_ctx c = {r, s, key, s->items[key->item].users[key->kind], NULL, 0, 0, 0};
    if (c.a == 0)
        c.a = souk_item_users(r->o.events, (souk_cooc_kind)key->kind, item);
    int rc = souk_cooc(r->o.events, (souk_cooc_kind)key->kind, item, 0, nb_add, &c);
    if (!rc)
        rc = c.rc;
    if (rc) {
        souk_free(c.v);
        return rc;
    }
    qsort(c.v, c.n, sizeof *c.v, by_sim);
    if (c.n > key->k)
        c.n = key->k;
    rc_nlist *l = souk_malloc(sizeof *l + (c.n ? c.n : 1) * sizeof(rc_nb));
    if (!l) {
        souk_free(c.v);
        return SOUK_ENOMEM;
    }
    l->key = *key;
    l->n = (uint32_t)c.n;
    memcpy(l->v, c.v, c.n * sizeof *c.v);
    *out = c.v;
    *n = (uint32_t)c.n;
    /* Into the cache, unless another thread put it there first or the cache is full (it grows
     * to a quarter of a million lists; past that, lists are computed each time). */
    pthread_mutex_lock(&s->mu);
    if (4 * (s->nused + 1) > 3 * s->ncap && s->ncap < (1u << 18)) {
        uint32_t ncap = 2 * s->ncap;
        rc_nlist **t = souk_calloc(ncap, sizeof *t);
        if (t) {
            for (uint32_t i = 0; i < s->ncap; i++)
                if (s->ntab[i]) {
                    uint64_t j = hash_key(&s->ntab[i]->key) & (ncap - 1);
                    while (t[j])
                        j = (j + 1) & (ncap - 1);
                    t[j] = s->ntab[i];
                }
            souk_free(s->ntab);
            s->ntab = t, s->ncap = ncap;
        }
    }
    int stored = 0;
    if (4 * (s->nused + 1) <= 3 * s->ncap) {
        uint64_t i = h & (s->ncap - 1);
        while (s->ntab[i] && memcmp(&s->ntab[i]->key, key, sizeof *key) != 0)
            i = (i + 1) & (s->ncap - 1);
        if (!s->ntab[i]) {
            s->ntab[i] = l;
            s->nused++;
            stored = 1;
        }
    }
    pthread_mutex_unlock(&s->mu);
    if (!stored)
        souk_free(l);
    return SOUK_OK;
}
