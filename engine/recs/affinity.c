/* affinity.c: the personal component of search (docs/ranking.md "Personal affinity"), built
 * from the user's retained history when the user may be personalized.
 *
 * A user's profile (category and brand shares, neighbour documents) is kept for the next search
 * in a small table keyed by a keyed hash of the user id (a per-process random key: no raw id and
 * no pseudonym is kept), valid only while the event store and the index are unchanged
 * (souk_events_stamp, the column generation): any consent change, deletion, erasure or new event
 * makes it stale, and it is rebuilt from the store. The consent read with it is kept beside it
 * under the same key and stamp (a consent change commits to the store, so it takes effect on the
 * next request), for the search-history decision of the same request.
 *
 * Documents of interned items (the neighbours, the history) are kept in a direct-mapped table
 * for the index generation, so a profile built for one user reuses the catalog lookups of the
 * users before. */
#include "recs/recs_int.h"

#include <sodium.h>
#include <string.h>

/* How much history the affinities read: the most recent items, and the neighbours of the most
 * recent of them. */
#define AFF_ITEMS 50
#define AFF_NB_ITEMS 5
#define AFF_NB_EACH 10
#define AFF_NB (AFF_NB_ITEMS * AFF_NB_EACH * 2)
#define AFF_VALUES 16
#define AFF_SLOTS 2048 /* about 8 MB */
#define AFF_WAYS 8     /* a user's profile goes in one of the 8 slots of its set */
#define AFF_DOCS 16384 /* interned id -> docid, direct-mapped (a power of two) */

typedef struct aval {
    char v[64];
    uint32_t len;
    double w;
} aval;

typedef struct aprof {
    aval cat[AFF_VALUES], brand[AFF_VALUES];
    size_t ncat, nbrand, nnb;
    double maxcat, maxbrand;
    uint32_t nbdoc[AFF_NB]; /* ascending, for a binary search */
    double nbw[AFF_NB];
    int parts; /* components present (0: not personal) */
} aprof;

typedef struct rc_aff_slot {
    uint8_t key[crypto_shorthash_siphashx24_BYTES];
    uint64_t stamp, generation, last; /* last: when it was last used (the set's clock) */
    int used, consent_ok;             /* consent_ok: consent was read (else unknown) */
    souk_consent consent;
    aprof p;
} rc_aff_slot;

struct rc_aff_cache {
    rc_aff_slot slot[AFF_SLOTS];
    uint64_t clock;
    uint64_t dgen;           /* the index generation of the documents below */
    uint32_t dkey[AFF_DOCS]; /* interned id + 1; 0: empty */
    uint32_t ddoc[AFF_DOCS]; /* its docid, UINT32_MAX when the index has none */
};

struct souk_affinity {
    souk_docview *dv;
    int catf, brandf, consent_ok;
    souk_consent consent;
    aprof p;
};

void rc_aff_init(souk_recs *r)
{
    if (sodium_init() >= 0)
        randombytes_buf(r->aff_key, sizeof r->aff_key);
}

#define HL_SLOTS 128 /* > 2 * AFF_ITEMS, a power of two */

typedef struct hl {
    char items[AFF_ITEMS][SOUK_ITEM_MAX + 1];
    uint32_t lens[AFF_ITEMS];
    size_t n;
    uint8_t at[HL_SLOTS]; /* item index + 1 by hash of the id; 0: empty */
} hl;

static uint32_t id_hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

/* The user's distinct items, newest first (an item comes once per event type). */
static int take(void *arg, souk_ev_type type, const char *item, int64_t ts)
{
    (void)type, (void)ts;
    hl *h = arg;
    size_t len = strlen(item);
    if (len > SOUK_ITEM_MAX)
        return 0;
    uint32_t p = id_hash(item, len) & (HL_SLOTS - 1);
    for (; h->at[p]; p = (p + 1) & (HL_SLOTS - 1)) {
        size_t i = h->at[p] - 1u;
        if (h->lens[i] == len && !memcmp(h->items[i], item, len))
            return 0;
    }
    if (h->n < AFF_ITEMS) {
        memcpy(h->items[h->n], item, len + 1);
        h->lens[h->n] = (uint32_t)len;
        h->at[p] = (uint8_t)(++h->n);
    }
    return h->n >= AFF_ITEMS ? 1 : 0;
}

/* The docid of interned item gid (id its string, len bytes) in generation gen of the index,
 * through the cache; UINT32_MAX when the index has no such document. */
static uint32_t doc_of(souk_recs *r, souk_reader *rd, uint64_t gen, uint32_t gid, const char *id,
                       size_t len)
{
    uint32_t d = UINT32_MAX;
    if (gid == UINT32_MAX)
        return souk_reader_docid(rd, id, len, &d) == SOUK_OK ? d : UINT32_MAX;
    uint32_t slot = (gid * 2654435761u) >> (32 - 14);
    int hit = 0;
    pthread_mutex_lock(&r->amu);
    struct rc_aff_cache *c = r->aff;
    if (c && c->dgen == gen && c->dkey[slot] == gid + 1) {
        d = c->ddoc[slot];
        hit = 1;
    }
    pthread_mutex_unlock(&r->amu);
    if (hit)
        return d;
    if (souk_reader_docid(rd, id, len, &d) != SOUK_OK)
        d = UINT32_MAX;
    pthread_mutex_lock(&r->amu);
    if (c) {
        if (c->dgen != gen) {
            memset(c->dkey, 0, sizeof c->dkey);
            c->dgen = gen;
        }
        c->dkey[slot] = gid + 1;
        c->ddoc[slot] = d;
    }
    pthread_mutex_unlock(&r->amu);
    return d;
}

static void count_value(aval *a, size_t *n, double *max, const char *v, uint32_t len)
{
    if (len >= sizeof a[0].v)
        return;
    size_t i = 0;
    while (i < *n && !(a[i].len == len && memcmp(a[i].v, v, len) == 0))
        i++;
    if (i == *n) {
        if (*n == AFF_VALUES)
            return;
        memcpy(a[i].v, v, len);
        a[i].len = len;
        a[i].w = 0;
        (*n)++;
    }
    a[i].w += 1;
    if (a[i].w > *max)
        *max = a[i].w;
}

static int field_of(souk_searcher *s, const char *name)
{
    const souk_field *f = souk_schema_field(souk_searcher_schema(s), name, strlen(name));
    return f && f->type == SOUK_FIELD_KEYWORD ? (int)f->id : -1;
}

/* The profile from the store (p zeroed by the caller), and the consent it was read under. */
static int build(souk_recs *r, souk_searcher *s, souk_affinity *a, const char *user, size_t len,
                 int64_t now)
{
    aprof *p = &a->p;
    if (souk_consent_get(r->o.events, user, len, &a->consent) != SOUK_OK)
        return SOUK_OK;
    a->consent_ok = 1;
    if (!souk_consent_personalize(&a->consent))
        return SOUK_OK;
    hl *h = souk_malloc(sizeof *h); /* only n and at need clearing */
    if (!h)
        return SOUK_ENOMEM;
    h->n = 0;
    memset(h->at, 0, sizeof h->at);
    int rc = souk_user_history(r->o.events, user, len, AFF_ITEMS, take, h);
    if (rc == 1)
        rc = SOUK_OK;
    if (rc || !h->n) {
        souk_free(h);
        return rc;
    }
    souk_reader *rd = souk_searcher_reader(s);
    uint64_t gen = souk_docview_generation(a->dv);
    uint32_t gids[AFF_NB_ITEMS];
    for (size_t i = 0; i < h->n; i++) {
        uint32_t gid = rc_intern(r, h->items[i], h->lens[i], 0);
        if (i < AFF_NB_ITEMS)
            gids[i] = gid;
        uint32_t d = doc_of(r, rd, gen, gid, h->items[i], h->lens[i]);
        if (d == UINT32_MAX)
            continue;
        const char *v[1];
        uint32_t l[1];
        if (a->catf >= 0 && souk_docview_keywords(a->dv, a->catf, d, v, l, 1) == 1)
            count_value(p->cat, &p->ncat, &p->maxcat, v[0], l[0]);
        if (a->brandf >= 0 && souk_docview_keywords(a->dv, a->brandf, d, v, l, 1) == 1)
            count_value(p->brand, &p->nbrand, &p->maxbrand, v[0], l[0]);
    }
    /* The recently viewed items' neighbours (the for_you model's lists, default settings). */
    int rcs;
    rc_snap *snap = rc_snap_get(r, now, &rcs);
    double maxnb = 0;
    if (snap) {
        souk_recs_model m;
        rc_model_defaults(r, NULL, &m);
        for (size_t i = 0; i < h->n && i < AFF_NB_ITEMS; i++) {
            uint32_t idx = gids[i];
            if (idx == UINT32_MAX)
                continue;
            for (int kind = 0; kind < 2; kind++) {
                rc_norm key;
                rc_key_model(&m, (uint32_t)kind, idx, &key);
                rc_nb *nb;
                uint32_t n;
                if (rc_neighbours(r, snap, snap->stamp, &key, &nb, &n) != SOUK_OK)
                    continue;
                for (uint32_t j = 0; j < n && j < AFF_NB_EACH; j++) {
                    const char *id = rc_str(r, nb[j].item);
                    uint32_t d = doc_of(r, rd, gen, nb[j].item, id, strlen(id));
                    if (d == UINT32_MAX)
                        continue;
                    size_t q = 0;
                    while (q < p->nnb && p->nbdoc[q] != d)
                        q++;
                    if (q == p->nnb) {
                        if (p->nnb == AFF_NB)
                            continue;
                        p->nbdoc[p->nnb] = d;
                        p->nbw[p->nnb++] = 0;
                    }
                    p->nbw[q] += nb[j].sim;
                    if (p->nbw[q] > maxnb)
                        maxnb = p->nbw[q];
                }
                souk_free(nb);
            }
        }
        rc_snap_put(snap);
    }
    for (size_t q = 0; q < p->nnb && maxnb > 0; q++)
        p->nbw[q] /= maxnb;
    /* By docid, for souk_affinity_of's binary search. */
    for (size_t q = 1; q < p->nnb; q++) {
        uint32_t d = p->nbdoc[q];
        double w = p->nbw[q];
        size_t j = q;
        for (; j > 0 && p->nbdoc[j - 1] > d; j--) {
            p->nbdoc[j] = p->nbdoc[j - 1];
            p->nbw[j] = p->nbw[j - 1];
        }
        p->nbdoc[j] = d;
        p->nbw[j] = w;
    }
    p->parts = (p->ncat > 0) + (p->nbrand > 0) + (p->nnb > 0);
    souk_free(h);
    return SOUK_OK;
}

/* Copies the parts of a profile in use (a slot is about 4 KB, a profile often much less). */
static void prof_copy(aprof *to, const aprof *from)
{
    to->ncat = from->ncat, to->nbrand = from->nbrand, to->nnb = from->nnb;
    to->maxcat = from->maxcat, to->maxbrand = from->maxbrand;
    to->parts = from->parts;
    memcpy(to->cat, from->cat, from->ncat * sizeof *from->cat);
    memcpy(to->brand, from->brand, from->nbrand * sizeof *from->brand);
    memcpy(to->nbdoc, from->nbdoc, from->nnb * sizeof *from->nbdoc);
    memcpy(to->nbw, from->nbw, from->nnb * sizeof *from->nbw);
}

int souk_affinity_load(souk_recs *r, souk_searcher *s, const char *user, size_t len, int64_t now,
                       souk_affinity **out, int *search_history)
{
    *out = NULL;
    if (search_history)
        *search_history = -1;
    if (!r || !user || !len)
        return SOUK_OK;
    souk_affinity *a = souk_malloc(sizeof *a);
    if (!a)
        return SOUK_ENOMEM;
    a->consent_ok = 0;
    a->catf = r->category_field ? field_of(s, r->category_field) : field_of(s, "category");
    if (a->catf < 0 && !r->category_field)
        a->catf = field_of(s, "section");
    a->brandf = r->cap_field ? field_of(s, r->cap_field) : field_of(s, "brand");
    if (a->brandf == a->catf)
        a->brandf = -1;
    int rc = souk_docview_open(s, &a->dv);
    if (rc) {
        souk_free(a);
        return rc;
    }
    uint8_t key[crypto_shorthash_siphashx24_BYTES];
    /* SipHash-128 under the per-process key: as collision-free as the key needs (16 bytes), a
     * tenth of BLAKE2b's cost on a short id. */
    crypto_shorthash_siphashx24(key, (const uint8_t *)user, len, r->aff_key);
    uint64_t stamp = souk_events_stamp(r->o.events), gen = souk_docview_generation(a->dv);
    uint32_t set = (uint32_t)(key[0] | key[1] << 8) % (AFF_SLOTS / AFF_WAYS) * AFF_WAYS;
    int hit = 0;
    pthread_mutex_lock(&r->amu);
    if (!r->aff)
        r->aff = souk_calloc(1, sizeof *r->aff);
    rc_aff_slot *e = NULL;
    if (r->aff) { /* the user's slot in the set, else the least recently used one */
        rc_aff_slot *w = &r->aff->slot[set];
        e = w;
        for (int i = 0; i < AFF_WAYS; i++) {
            if (w[i].used && !memcmp(w[i].key, key, sizeof key)) {
                e = &w[i];
                break;
            }
            if (!w[i].used || (e->used && w[i].last < e->last))
                e = &w[i];
        }
        e->last = ++r->aff->clock;
    }
    if (e && e->used && e->stamp == stamp && e->generation == gen &&
        !memcmp(e->key, key, sizeof key)) {
        a->consent_ok = e->consent_ok;
        a->consent = e->consent;
        prof_copy(&a->p, &e->p);
        hit = 1;
    }
    pthread_mutex_unlock(&r->amu);
    if (!hit) {
        memset(&a->p, 0, sizeof a->p);
        memset(&a->consent, 0, sizeof a->consent);
        if ((rc = build(r, s, a, user, len, now)) != SOUK_OK) {
            souk_affinity_free(a);
            return rc;
        }
        pthread_mutex_lock(&r->amu);
        if (e) {
            memcpy(e->key, key, sizeof key);
            e->stamp = stamp, e->generation = gen, e->used = 1;
            e->consent_ok = a->consent_ok;
            e->consent = a->consent;
            prof_copy(&e->p, &a->p);
        }
        pthread_mutex_unlock(&r->amu);
    }
    if (search_history && a->consent_ok)
        *search_history = a->consent.search_history != 0;
    if (!a->p.parts) {
        souk_affinity_free(a);
        return SOUK_OK;
    }
    *out = a;
    return SOUK_OK;
}

void souk_affinity_free(souk_affinity *a)
{
    if (!a)
        return;
    souk_docview_close(a->dv);
    souk_free(a);
}

static double value_w(const souk_affinity *a, const aval *v, size_t n, double max, int field,
                      uint32_t docid)
{
    if (field < 0 || !n || max <= 0)
        return 0;
    const char *dv[1];
    uint32_t dl[1];
    if (souk_docview_keywords(a->dv, field, docid, dv, dl, 1) != 1)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (v[i].len == dl[0] && memcmp(v[i].v, dv[0], dl[0]) == 0)
            return v[i].w / max;
    return 0;
}

double souk_affinity_of(const souk_affinity *a, souk_searcher *s, uint32_t docid)
{
    (void)s;
    if (!a || !a->p.parts)
        return 0;
    const aprof *p = &a->p;
    double sum = value_w(a, p->cat, p->ncat, p->maxcat, a->catf, docid) +
                 value_w(a, p->brand, p->nbrand, p->maxbrand, a->brandf, docid);
    size_t lo = 0, hi = p->nnb; /* nbdoc ascending */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (p->nbdoc[mid] < docid)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < p->nnb && p->nbdoc[lo] == docid)
        sum += p->nbw[lo];
    double v = sum / p->parts;
    return v > 1 ? 1 : v < 0 ? 0 : v;
}
