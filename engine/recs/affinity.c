/* affinity.c: the personal component of search (docs/ranking.md "Personal affinity"), built
 * from the user's retained history when the user may be personalized.
 *
 * A user's profile (category and brand shares, neighbour documents) is kept for the next search
 * in a small table keyed by a keyed hash of the user id (a per-process random key: no raw id and
 * no pseudonym is kept), valid only while the event store and the index are unchanged
 * (souk_events_stamp, the column generation): any consent change, deletion, erasure or new event
 * makes it stale, and it is rebuilt from the store. */
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
#define AFF_SLOTS 1024

typedef struct aval {
    char v[64];
    uint32_t len;
    double w;
} aval;

typedef struct aprof {
    aval cat[AFF_VALUES], brand[AFF_VALUES];
    size_t ncat, nbrand, nnb;
    double maxcat, maxbrand;
    uint32_t nbdoc[AFF_NB];
    double nbw[AFF_NB];
    int parts; /* components present (0: not personal) */
} aprof;

typedef struct rc_aff_slot {
    uint8_t key[16];
    uint64_t stamp, generation;
    int used;
    aprof p;
} rc_aff_slot;

struct souk_affinity {
    souk_docview *dv;
    int catf, brandf;
    aprof p;
};

void rc_aff_init(souk_recs *r)
{
    if (sodium_init() >= 0)
        randombytes_buf(r->aff_key, sizeof r->aff_key);
}

typedef struct hl {
    char items[AFF_ITEMS][SOUK_ITEM_MAX + 1];
    size_t n;
} hl;

static int take(void *arg, souk_ev_type type, const char *item, int64_t ts)
{
    (void)type, (void)ts;
    hl *h = arg;
    for (size_t i = 0; i < h->n; i++)
        if (!strcmp(h->items[i], item))
            return 0;
    if (h->n < AFF_ITEMS && strlen(item) <= SOUK_ITEM_MAX)
        strcpy(h->items[h->n++], item);
    return h->n >= AFF_ITEMS ? 1 : 0;
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

/* The profile from the store (p zeroed by the caller). */
static int build(souk_recs *r, souk_searcher *s, souk_affinity *a, const char *user, size_t len,
                 int64_t now)
{
    aprof *p = &a->p;
    souk_consent c;
    if (souk_consent_get(r->o.events, user, len, &c) != SOUK_OK || !souk_consent_personalize(&c))
        return SOUK_OK;
    hl *h = souk_calloc(1, sizeof *h);
    if (!h)
        return SOUK_ENOMEM;
    int rc = souk_user_history(r->o.events, user, len, AFF_ITEMS, take, h);
    if (rc == 1)
        rc = SOUK_OK;
    if (rc || !h->n) {
        souk_free(h);
        return rc;
    }
    souk_reader *rd = souk_searcher_reader(s);
    for (size_t i = 0; i < h->n; i++) {
        uint32_t d;
        if (souk_reader_docid(rd, h->items[i], strlen(h->items[i]), &d) != SOUK_OK)
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
            uint32_t idx = rc_intern(r, h->items[i], strlen(h->items[i]), 0);
            if (idx == UINT32_MAX)
                continue;
            for (int kind = 0; kind < 2; kind++) {
                rc_norm key;
                memset(&key, 0, sizeof key);
                key.kind = (uint32_t)kind;
                key.item = idx;
                key.norm = SOUK_NORM_COSINE;
                key.min_users = m.min_users;
                key.k = m.neighbours;
                key.alpha = m.alpha;
                key.shrink = m.shrink;
                rc_nb *nb;
                uint32_t n;
                if (rc_neighbours(r, snap, snap->stamp, &key, &nb, &n) != SOUK_OK)
                    continue;
                for (uint32_t j = 0; j < n && j < AFF_NB_EACH; j++) {
                    const char *id = rc_str(r, nb[j].item);
                    uint32_t d;
                    if (souk_reader_docid(rd, id, strlen(id), &d) != SOUK_OK)
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
    p->parts = (p->ncat > 0) + (p->nbrand > 0) + (p->nnb > 0);
    souk_free(h);
    return SOUK_OK;
}

int souk_affinity_load(souk_recs *r, souk_searcher *s, const char *user, size_t len, int64_t now,
                       souk_affinity **out)
{
    *out = NULL;
    if (!r || !user || !len)
        return SOUK_OK;
    souk_affinity *a = souk_calloc(1, sizeof *a);
    if (!a)
        return SOUK_ENOMEM;
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
    uint8_t key[16];
    crypto_generichash(key, sizeof key, (const uint8_t *)user, len, r->aff_key, sizeof r->aff_key);
    uint64_t stamp = souk_events_stamp(r->o.events), gen = souk_docview_generation(a->dv);
    uint32_t slot = (uint32_t)(key[0] | key[1] << 8) % AFF_SLOTS;
    int hit = 0;
    pthread_mutex_lock(&r->amu);
    if (!r->aff)
        r->aff = souk_calloc(AFF_SLOTS, sizeof *r->aff);
    rc_aff_slot *e = r->aff ? &r->aff[slot] : NULL;
    if (e && e->used && e->stamp == stamp && e->generation == gen &&
        !memcmp(e->key, key, sizeof key)) {
        a->p = e->p;
        hit = 1;
    }
    pthread_mutex_unlock(&r->amu);
    if (!hit) {
        if ((rc = build(r, s, a, user, len, now)) != SOUK_OK) {
            souk_affinity_free(a);
            return rc;
        }
        pthread_mutex_lock(&r->amu);
        if (e) {
            memcpy(e->key, key, sizeof key);
            e->stamp = stamp, e->generation = gen, e->used = 1;
            e->p = a->p;
        }
        pthread_mutex_unlock(&r->amu);
    }
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
    for (size_t q = 0; q < p->nnb; q++)
        if (p->nbdoc[q] == docid) {
            sum += p->nbw[q];
            break;
        }
    double v = sum / p->parts;
    return v > 1 ? 1 : v < 0 ? 0 : v;
}
