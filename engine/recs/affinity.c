/* affinity.c: the personal component of search (docs/ranking.md "personal"), built from the
 * user's retained history at the start of a search when the user may be personalized. */
#include "events/hmap.h"
#include "recs/recs_int.h"

#include <math.h>
#include <string.h>

/* How much history the affinities read: the most recent items, and the neighbours of the most
 * recent of them. */
#define AFF_ITEMS 50
#define AFF_NB_ITEMS 5
#define AFF_NB_EACH 10
#define AFF_VALUES 32

typedef struct aval {
    char v[128];
    uint32_t len;
    double w;
} aval;

struct souk_affinity {
    souk_docview *dv;
    int catf, brandf;
    aval cat[AFF_VALUES], brand[AFF_VALUES];
    size_t ncat, nbrand;
    double maxcat, maxbrand;
    hmap nb;   /* docid (4 bytes) -> double weight in [0, 1] */
    int parts; /* components present: the divisor that keeps a(d) within [0, 1] */
};

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

int souk_affinity_load(souk_recs *r, souk_searcher *s, const char *user, size_t len, int64_t now,
                       souk_affinity **out)
{
    *out = NULL;
    if (!r || !user || !len)
        return SOUK_OK;
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
    souk_affinity *a = souk_calloc(1, sizeof *a);
    if (!a) {
        souk_free(h);
        return SOUK_ENOMEM;
    }
    hm_init(&a->nb, sizeof(double));
    a->catf = r->category_field ? field_of(s, r->category_field) : field_of(s, "category");
    if (a->catf < 0 && !r->category_field)
        a->catf = field_of(s, "section");
    a->brandf = r->cap_field ? field_of(s, r->cap_field) : field_of(s, "brand");
    if (a->brandf == a->catf)
        a->brandf = -1;
    souk_reader *rd = souk_searcher_reader(s);
    if ((rc = souk_docview_open(s, &a->dv)) != SOUK_OK)
        goto fail;
    for (size_t i = 0; i < h->n; i++) {
        uint32_t d;
        if (souk_reader_docid(rd, h->items[i], strlen(h->items[i]), &d) != SOUK_OK)
            continue;
        const char *v[1];
        uint32_t l[1];
        if (a->catf >= 0 && souk_docview_keywords(a->dv, a->catf, d, v, l, 1) == 1)
            count_value(a->cat, &a->ncat, &a->maxcat, v[0], l[0]);
        if (a->brandf >= 0 && souk_docview_keywords(a->dv, a->brandf, d, v, l, 1) == 1)
            count_value(a->brand, &a->nbrand, &a->maxbrand, v[0], l[0]);
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
                    double *w = hm_put(&a->nb, &d, sizeof d, NULL);
                    if (w) {
                        *w += nb[j].sim;
                        if (*w > maxnb)
                            maxnb = *w;
                    }
                }
                souk_free(nb);
            }
        }
        rc_snap_put(snap);
    }
    if (maxnb > 0)
        for (size_t i = 0; i < a->nb.cap; i++)
            if (a->nb.e[i].kv)
                *(double *)hm_val(&a->nb, &a->nb.e[i]) /= maxnb;
    a->parts = (a->ncat > 0) + (a->nbrand > 0) + (a->nb.n > 0);
    souk_free(h);
    if (!a->parts) {
        souk_affinity_free(a);
        return SOUK_OK;
    }
    *out = a;
    return SOUK_OK;
fail:
    souk_free(h);
    souk_affinity_free(a);
    return rc;
}

void souk_affinity_free(souk_affinity *a)
{
    if (!a)
        return;
    souk_docview_close(a->dv);
    hm_free(&a->nb);
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
    if (!a || !a->parts)
        return 0;
    double sum = value_w(a, a->cat, a->ncat, a->maxcat, a->catf, docid) +
                 value_w(a, a->brand, a->nbrand, a->maxbrand, a->brandf, docid);
    const double *w = hm_get(&a->nb, &docid, sizeof docid);
    if (w)
        sum += *w;
    double v = sum / a->parts;
    return v > 1 ? 1 : v < 0 ? 0 : v;
}
