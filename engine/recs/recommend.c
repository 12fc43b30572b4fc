/* recommend.c: souk_recommend, the types' candidates and the business rules (recs.h).
 *
 * Every type makes a ranked list of candidates; the rules then walk it in order and keep a
 * candidate when it is in the catalog, passes the filter, is not the current item, is not an
 * item the user bought (unless its category is replenishable) nor, for for_you, any item of the
 * user's history, and its cap-field value has fewer than cap results yet. When the list runs
 * out before n results, backfill walks the items by popularity with the same rules (then
 * without the cap, then the rest of the catalog), each labelled backfill_popular. */
#include "events/hmap.h"
#include "souk/buf.h"
#include "recs/recs_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const type_names[SOUK_REC_NTYPES] = {
    "bought_together", "viewed_together", "similar", "trending", "popular", "for_you"};
static const char *const why_names[SOUK_WHY_N] = {
    "because_viewed", "because_bought", "bought_together_with", "similar_to_current",
    "popular_in",     "trending",       "backfill_popular"};

const char *souk_rec_type_name(souk_rec_type t)
{
    return (unsigned)t < SOUK_REC_NTYPES ? type_names[t] : NULL;
}

int souk_rec_type_parse(const char *name, size_t len, souk_rec_type *out)
{
    for (int t = 0; t < SOUK_REC_NTYPES; t++)
        if (strlen(type_names[t]) == len && memcmp(type_names[t], name, len) == 0) {
            *out = (souk_rec_type)t;
            return SOUK_OK;
        }
    return SOUK_EINVAL;
}

const char *souk_rec_why_name(souk_rec_why w)
{
    return (unsigned)w < SOUK_WHY_N ? why_names[w] : NULL;
}

int souk_rec_reason(const souk_rec *r, char *buf, size_t len)
{
    const char *name = souk_rec_why_name(r->why);
    if (!name)
        name = "";
    if (r->why_arg[0])
        return snprintf(buf, len, "%s:%s", name, r->why_arg);
    return snprintf(buf, len, "%s", name);
}

/* ------------------------------------------------------------------ the handle */

static char *dup_str(const char *s)
{
    return s ? souk_strndup(s, strlen(s)) : NULL;
}

int souk_recs_open(const souk_recs_opts *o, souk_recs **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!o || !o->events) {
        snprintf(err, errlen, "recommenders: no event store");
        return SOUK_EINVAL;
    }
    souk_recs *r = souk_calloc(1, sizeof *r);
    if (!r)
        return SOUK_ENOMEM;
    r->o = *o;
    if (!r->o.min_users)
        r->o.min_users = 2;
    if (r->o.together_shrink == 0)
        r->o.together_shrink = 2;
    else if (r->o.together_shrink < 0)
        r->o.together_shrink = 0;
    if (r->o.together_alpha == 0)
        r->o.together_alpha = 0.5;
    else if (r->o.together_alpha < 0)
        r->o.together_alpha = 0;
    if (!(r->o.trending_halflife_days > 0))
        r->o.trending_halflife_days = 2;
    if (!r->o.cache_ms)
        r->o.cache_ms = 1000;
    if (!r->o.model_ttl_ms)
        r->o.model_ttl_ms = 60000;
    r->category_field = dup_str(o->category_field);
    r->cap_field = dup_str(o->cap_field);
    r->o.category_field = r->o.cap_field = NULL;
    r->o.replenishable = NULL;
    if (o->nreplenishable) {
        r->repl = souk_calloc(o->nreplenishable, sizeof *r->repl);
        for (size_t i = 0; r->repl && i < o->nreplenishable; i++)
            if ((r->repl[i] = dup_str(o->replenishable[i])))
                r->nrepl++;
    }
    pthread_mutex_init(&r->mu, NULL);
    pthread_mutex_init(&r->bmu, NULL);
    atomic_init(&r->building, 0);
    pthread_mutex_init(&r->imu, NULL);
    pthread_mutex_init(&r->nmu, NULL);
    pthread_mutex_init(&r->amu, NULL);
    rc_aff_init(r);
    atomic_init(&r->nids, 0);
    pthread_mutex_init(&r->rmu, NULL);
    pthread_mutex_init(&r->tmu, NULL);
    pthread_cond_init(&r->tcond, NULL);
    if (r->o.refresh_ms) {
        /* The handle's own models first, every list made before the first request. */
        souk_recs_model m;
        rc_model_defaults(r, NULL, &m);
        rc_norm key;
        pthread_mutex_lock(&r->nmu);
        for (uint32_t kind = 0; kind < 2; kind++) {
            rc_key_model(&m, kind, 0, &key);
            rc_tmpl_note(r, &key);
            rc_key_together(r, kind, 0, &key);
            rc_tmpl_note(r, &key);
        }
        pthread_mutex_unlock(&r->nmu);
        int rc = souk_recs_refresh(r, 0, NULL);
        if (rc == SOUK_OK)
            rc = rc_refresher_start(r);
        if (rc != SOUK_OK) {
            snprintf(err, errlen, "recommenders: the neighbour lists: %s", souk_strerror(rc));
            souk_recs_close(r);
            return rc;
        }
    }
    *out = r;
    return SOUK_OK;
}

void souk_recs_close(souk_recs *r)
{
    if (!r)
        return;
    rc_refresher_stop(r);
    rc_snap_stop(r);
    rc_snap_put(r->cur);
    rc_cache_free(r);
    souk_free(r->aff);
    pthread_mutex_destroy(&r->amu);
    pthread_mutex_destroy(&r->imu);
    pthread_mutex_destroy(&r->nmu);
    for (size_t i = 0; i < r->nrepl; i++)
        souk_free(r->repl[i]);
    souk_free(r->repl);
    souk_free(r->category_field);
    souk_free(r->cap_field);
    pthread_mutex_destroy(&r->mu);
    pthread_mutex_destroy(&r->bmu);
    pthread_mutex_destroy(&r->rmu);
    pthread_mutex_destroy(&r->tmu);
    pthread_cond_destroy(&r->tcond);
    souk_free(r);
}

void rc_model_defaults(const souk_recs *r, const souk_recs_model *in, souk_recs_model *m)
{
    static const souk_recs_model zero;
    *m = in ? *in : (r ? r->o.model : zero);
    if (!in && r)
        *m = r->o.model;
    if (!m->neighbours)
        m->neighbours = 100;
    if (m->neighbours > 1000)
        m->neighbours = 1000;
    if (!m->history)
        m->history = 20;
    if (m->history > 200)
        m->history = 200;
    if (m->shrink < 0)
        m->shrink = 0; /* 0: none, the default */
    if (m->alpha == 0)
        m->alpha = 0.5;
    else if (m->alpha < 0)
        m->alpha = 0;
    if (m->recency_halflife_days == 0)
        m->recency_halflife_days = 365;
    else if (m->recency_halflife_days < 0)
        m->recency_halflife_days = 0;
    if (m->bought_weight == 0)
        m->bought_weight = 1;
    if (m->viewed_weight == 0)
        m->viewed_weight = 0.5;
    else if (m->viewed_weight < 0)
        m->viewed_weight = 0;
    if (m->pop_blend == 0)
        m->pop_blend = 0.3;
    else if (m->pop_blend < 0)
        m->pop_blend = 0;
    if (m->pop_damp <= 0)
        m->pop_damp = 3;
    if (!m->min_users)
        m->min_users = r ? r->o.min_users : 2;
}

void rc_key_together(const souk_recs *r, uint32_t kind, uint32_t item, rc_norm *key)
{
    memset(key, 0, sizeof *key);
    key->kind = kind;
    key->item = item;
    key->norm = r->o.together_norm;
    key->min_users = r->o.min_users;
    key->k = 4 * SOUK_REC_MAX + 200;
    key->alpha = r->o.together_alpha;
    key->shrink = r->o.together_shrink;
}

void rc_key_model(const souk_recs_model *m, uint32_t kind, uint32_t item, rc_norm *key)
{
    memset(key, 0, sizeof *key);
    key->kind = kind;
    key->item = item;
    key->norm = SOUK_NORM_COSINE;
    key->min_users = m->min_users;
    key->k = m->neighbours;
    key->alpha = m->alpha;
    key->shrink = m->shrink;
}

/* ------------------------------------------------------------------ a request */

/* One item of the user's history, collapsed over event types (newest first). */
typedef struct hitem {
    char *item;
    int bought; /* a cart or purchase event */
    int64_t ts;
} hitem;

typedef struct group {
    const char *v;
    uint32_t len, count;
} group;

typedef struct req {
    souk_recs *r;
    souk_searcher *s;
    const souk_schema *sc;
    const souk_rec_request *q;
    rc_snap *snap;
    souk_reader *rd;
    souk_docview *dv;
    souk_filter *filter;
    int catf, capf;
    uint32_t cap;
    uint32_t cur_doc; /* the current item's docid, UINT32_MAX: none */
    /* the user's history (personal requests only) */
    int personal;
    hitem *h;
    size_t nh, hcap;
    hmap hist; /* item -> index into h (uint32) */
    /* output */
    souk_rec *out;
    size_t nout;
    group *groups;
    size_t ngroups;
    souk_rec_stats st;
} req;

typedef struct cand {
    const char *item;
    double score;
    souk_rec_why why;
    const char *arg; /* NULL with POPULAR_IN: the item's own category */
} cand;

static int by_cand(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? 1 : -1;
    return strcmp(x->item, y->item);
}

static int path_covers(const char *p, size_t pl, const char *v, size_t vl)
{
    return vl >= pl && memcmp(p, v, pl) == 0 &&
           (vl == pl || (vl >= pl + 3 && memcmp(v + pl, " > ", 3) == 0));
}

static int field_index(const souk_schema *sc, const char *name)
{
    if (!name)
        return -1;
    const souk_field *f = souk_schema_field(sc, name, strlen(name));
    return f ? (int)f->id : -1;
}

#define MAXV 16

/* Applies the rules to one candidate; 1 when it joined the output. */
static int accept(req *x, const char *item, double score, souk_rec_why why, const char *arg,
                  int backfill, int use_cap, int restrict_cat)
{
    const souk_rec_request *q = x->q;
    if (x->nout >= q->n)
        return 0;
    size_t il = strlen(item);
    if (il == 0 || il > SOUK_ITEM_MAX)
        return 0;
    if (x->personal && q->type == SOUK_REC_FOR_YOU && !(q->flags & SOUK_REC_KEEP_SEEN) &&
        hm_get(&x->hist, item, il))
        return 0; /* seen: before any catalog read */
    uint32_t d;
    if (souk_reader_docid(x->rd, item, il, &d) != SOUK_OK || d == x->cur_doc)
        return 0;
    for (size_t i = 0; i < x->nout; i++)
        if (x->out[i].docid == d)
            return 0;
    if (!souk_docview_pass(x->dv, d)) {
        x->st.removed++;
        return 0;
    }
    const char *cv[MAXV];
    uint32_t cl[MAXV];
    size_t nc = x->catf >= 0 ? souk_docview_keywords(x->dv, x->catf, d, cv, cl, MAXV) : 0;
    if (restrict_cat && q->category) {
        int ok = 0;
        for (size_t i = 0; i < nc && !ok; i++)
            ok = path_covers(q->category, strlen(q->category), cv[i], cl[i]);
        if (!ok)
            return 0;
    }
    if (x->personal) {
        uint32_t *hi = hm_get(&x->hist, item, il);
        if (hi) {
            if (q->type == SOUK_REC_FOR_YOU && !(q->flags & SOUK_REC_KEEP_SEEN))
                return 0;
            if (x->h[*hi].bought) {
                int repl = 0;
                for (size_t i = 0; i < nc && !repl; i++)
                    for (size_t j = 0; j < x->r->nrepl && !repl; j++)
                        repl = path_covers(x->r->repl[j], strlen(x->r->repl[j]), cv[i], cl[i]);
                if (!repl) {
                    x->st.removed++;
                    return 0;
                }
            }
        }
    }
    group *g = NULL;
    if (x->capf >= 0) {
        const char *gv[1];
        uint32_t gl[1];
        if (souk_docview_keywords(x->dv, x->capf, d, gv, gl, 1) == 1) {
            for (size_t i = 0; i < x->ngroups && !g; i++)
                if (x->groups[i].len == gl[0] && memcmp(x->groups[i].v, gv[0], gl[0]) == 0)
                    g = &x->groups[i];
            if (!g) {
                g = &x->groups[x->ngroups++];
                *g = (group){gv[0], gl[0], 0};
            }
            if (use_cap && !(q->flags & SOUK_REC_NO_CAP) && g->count >= x->cap) {
                x->st.removed++;
                return 0;
            }
        }
    }
    if (g)
        g->count++;
    souk_rec *o = &x->out[x->nout++];
    memcpy(o->item, item, il + 1);
    o->docid = d;
    o->score = score;
    o->backfill = backfill;
    o->why_arg[0] = 0;
    if (backfill) {
        o->why = SOUK_WHY_BACKFILL_POPULAR;
        x->st.backfilled++;
    } else {
        o->why = why;
        if (why == SOUK_WHY_POPULAR_IN && !arg) {
            if (nc) {
                size_t n = cl[0] < SOUK_ITEM_MAX ? cl[0] : SOUK_ITEM_MAX;
                memcpy(o->why_arg, cv[0], n);
                o->why_arg[n] = 0;
            } else {
                o->why = SOUK_WHY_TRENDING;
            }
        } else if (arg) {
            snprintf(o->why_arg, sizeof o->why_arg, "%s", arg);
        }
    }
    return 1;
}

/* ------------------------------------------------------------------ history */

static int hist_add(void *arg, souk_ev_type type, const char *item, int64_t ts)
{
    req *x = arg;
    size_t il = strlen(item);
    int created;
    uint32_t *hi = hm_put(&x->hist, item, il, &created);
    if (!hi)
        return SOUK_ENOMEM;
    int bought = type == SOUK_EV_CART || type == SOUK_EV_PURCHASE;
    if (!created) {
        hitem *h = &x->h[*hi];
        h->bought |= bought;
        if (ts > h->ts)
            h->ts = ts;
        return SOUK_OK;
    }
    int rc = souk_grow_first((void **)&x->h, &x->hcap, x->nh + 1, sizeof *x->h, SIZE_MAX, 64);
    if (rc)
        return rc;
    *hi = (uint32_t)x->nh;
    hitem *h = &x->h[x->nh];
    if (!(h->item = souk_strndup(item, il)))
        return SOUK_ENOMEM;
    h->bought = bought;
    h->ts = ts;
    x->nh++;
    return SOUK_OK;
}

/* The user's most recent distinct items read by a request: the exclusions (bought, seen) and
 * for_you's history come from them. */
#define RC_HISTORY_MAX 200

/* Loads the user's history when the request may be personal (consent now, P3, P7). */
static int load_history(req *x)
{
    const souk_rec_request *q = x->q;
    if (!q->user || !q->user_len)
        return SOUK_OK;
    souk_consent c;
    if (souk_consent_get(x->r->o.events, q->user, q->user_len, &c) != SOUK_OK ||
        !souk_consent_personalize(&c))
        return SOUK_OK;
    int rc = souk_user_history(x->r->o.events, q->user, q->user_len, RC_HISTORY_MAX, hist_add, x);
    if (rc)
        return rc;
    x->personal = x->nh > 0;
    return SOUK_OK;
}

/* ------------------------------------------------------------------ candidates */

typedef struct cands {
    cand *v;
    size_t n, cap;
} cands;

static int cands_push(cands *c, const char *item, double score, souk_rec_why why, const char *arg)
{
    int rc = souk_grow_first((void **)&c->v, &c->cap, c->n + 1, sizeof *c->v, SIZE_MAX, 256);
    if (rc)
        return rc;
    c->v[c->n++] = (cand){item, score, why, arg};
    return SOUK_OK;
}

/* The model's candidates this many at most are examined by the rules. */
static size_t examine_max(uint32_t n)
{
    return 10 * (size_t)n + 1000;
}

static int together(req *x, cands *c)
{
    uint32_t i = rc_intern(x->r, x->q->item, strlen(x->q->item), 0);
    if (i == UINT32_MAX)
        return SOUK_OK;
    int bought = x->q->type == SOUK_REC_BOUGHT_TOGETHER;
    rc_norm key;
    rc_key_together(x->r, bought ? SOUK_COOC_BOUGHT : SOUK_COOC_VIEWED, i, &key);
    rc_nb *nb;
    uint32_t n;
    int rc = rc_neighbours(x->r, x->snap, x->snap->stamp, &key, &nb, &n);
    for (uint32_t j = 0; !rc && j < n; j++)
        rc = cands_push(c, rc_str(x->r, nb[j].item), nb[j].sim,
                        bought ? SOUK_WHY_BOUGHT_TOGETHER : SOUK_WHY_SIMILAR, x->q->item);
    souk_free(nb);
    return rc;
}

/* An accumulator of item-kNN scores: interned id -> score and best contributor. */
typedef struct acc_ent {
    uint32_t key; /* id + 1; 0: empty */
    uint32_t by;  /* history index of the best contribution */
    double score, best;
} acc_ent;

/* The slot of id in t (cap a power of two): its entry, or the empty one where it goes. */
static size_t acc_slot(const acc_ent *t, size_t cap, uint32_t id)
{
    size_t p = (id * 2654435761u) & (cap - 1);
    while (t[p].key && t[p].key != id + 1)
        p = (p + 1) & (cap - 1);
    return p;
}

/* Doubles the table; 0 or SOUK_ENOMEM. */
static int acc_grow(acc_ent **t, size_t *cap)
{
    size_t ncap = 2 * *cap;
    acc_ent *n = souk_calloc(ncap, sizeof *n);
    if (!n)
        return SOUK_ENOMEM;
    for (size_t i = 0; i < *cap; i++)
        if ((*t)[i].key)
            n[acc_slot(n, ncap, (*t)[i].key - 1)] = (*t)[i];
    souk_free(*t);
    *t = n, *cap = ncap;
    return SOUK_OK;
}

/* Entries the accumulator may hold: the bound of one request's work. */
#define ACC_MAX (1u << 19)

static int for_you(req *x, cands *c, double *blend_out)
{
    souk_recs_model m;
    rc_model_defaults(x->r, x->q->model, &m);
    size_t hn = x->nh < m.history ? x->nh : m.history;
    size_t cap = 4096;
    acc_ent *t = souk_calloc(cap, sizeof *t);
    if (!t)
        return SOUK_ENOMEM;
    size_t used = 0;
    uint32_t signal = 0;
    int rc = SOUK_OK;
    for (size_t hi = 0; hi < hn && !rc; hi++) {
        const hitem *h = &x->h[hi];
        uint32_t idx = rc_intern(x->r, h->item, strlen(h->item), 0);
        if (idx == UINT32_MAX)
            continue;
        double w = h->bought ? m.bought_weight : m.viewed_weight;
        if (m.recency_halflife_days > 0) {
            double age = (double)(x->q->now_ms - h->ts) / 86400000.0;
            w *= exp2(-(age > 0 ? age : 0) / m.recency_halflife_days);
        }
        if (!(w > 0))
            continue;
        int got = 0;
        for (int kind = 0; kind < 2 && !rc; kind++) {
            rc_norm key;
            rc_key_model(&m, (uint32_t)kind, idx, &key);
            rc_nb *nb;
            uint32_t n;
            if ((rc = rc_neighbours(x->r, x->snap, x->snap->stamp, &key, &nb, &n)) != SOUK_OK)
                break;
            got |= n > 0;
            for (uint32_t j = 0; j < n; j++) {
                double v = w * nb[j].sim;
                size_t p = acc_slot(t, cap, nb[j].item);
                if (!t[p].key) {
                    if (2 * (used + 1) > cap) {
                        if (used >= ACC_MAX || acc_grow(&t, &cap) != SOUK_OK)
                            continue; /* full: the bound of one request's work */
                        p = acc_slot(t, cap, nb[j].item);
                    }
                    t[p].key = nb[j].item + 1;
                    t[p].by = (uint32_t)hi;
                    used++;
                }
                t[p].score += v;
                if (v > t[p].best) {
                    t[p].best = v;
                    t[p].by = (uint32_t)hi;
                }
            }
            souk_free(nb);
        }
        signal += got;
    }
    double maxs = 0;
    for (size_t p = 0; p < cap; p++)
        if (t[p].key && t[p].score > maxs)
            maxs = t[p].score;
    double blend = m.pop_blend * m.pop_damp / (m.pop_damp + signal);
    double maxpop = x->snap->maxpop > 0 ? x->snap->maxpop : 1;
    for (size_t p = 0; p < cap && !rc; p++) {
        if (!t[p].key)
            continue;
        const rc_item *it = rc_item_of(x->snap, t[p].key - 1);
        const hitem *h = &x->h[t[p].by];
        const char *id = rc_str(x->r, t[p].key - 1);
        if (!(x->q->flags & SOUK_REC_KEEP_SEEN) && hm_get(&x->hist, id, strlen(id)))
            continue; /* the user's own items never reach the rules */
        rc = cands_push(c, id, t[p].score / maxs + blend * (it ? it->pop : 0) / maxpop,
                        h->bought ? SOUK_WHY_BECAUSE_BOUGHT : SOUK_WHY_BECAUSE_VIEWED, h->item);
    }
    /* Popular items as candidates of their own (the blend): those not scored above. */
    size_t np = x->snap->n < examine_max(x->q->n) ? x->snap->n : examine_max(x->q->n);
    for (size_t j = 0; j < np && !rc && blend > 0; j++) {
        const rc_item *it = &x->snap->items[x->snap->by_pop[j]];
        size_t p = acc_slot(t, cap, it->gid);
        if (!t[p].key &&
            ((x->q->flags & SOUK_REC_KEEP_SEEN) || !hm_get(&x->hist, it->id, strlen(it->id))))
            rc = cands_push(c, it->id, blend * it->pop / maxpop, SOUK_WHY_POPULAR_IN, NULL);
    }
    souk_free(t);
    *blend_out = blend;
    x->st.history = (uint32_t)hn;
    return rc;
}

/* ------------------------------------------------------------------ similar */

typedef struct tctx {
    souk_reader *rd;
    uint64_t ndocs;
    struct sterm {
        char t[64];
        size_t len;
        double idf;
    } v[256];
    size_t n;
} tctx;

static void term_seen(void *ctx, const char *term, size_t len)
{
    tctx *c = ctx;
    if (!len || len >= 64 || c->n == 256)
        return;
    unsigned char f = (unsigned char)term[0];
    /* Unprefixed words and keyword values (X<FIELD>:value), not stems, field-prefixed copies of
     * words, or typo-dictionary words. */
    int word = !(f >= 'A' && f <= 'Z');
    int kw = f == 'X' && memchr(term, ':', len) && !(len > 6 && memcmp(term, "XTYPO:", 6) == 0);
    if (!word && !kw)
        return;
    souk_term_info ti;
    if (souk_reader_term(c->rd, term, len, &ti) != SOUK_OK || ti.df < 2)
        return;
    struct sterm *s = &c->v[c->n++];
    memcpy(s->t, term, len);
    s->t[len] = 0;
    s->len = len;
    s->idf = log(((double)c->ndocs + 1) / ti.df);
}

static int by_idf(const void *a, const void *b)
{
    const struct sterm *x = a, *y = b;
    if (x->idf != y->idf)
        return x->idf < y->idf ? 1 : -1;
    return strcmp(x->t, y->t);
}

#define SIMILAR_TERMS 24

/* The Jaccard overlap of two documents' keyword values over every keyword column (category,
 * tags, brand...). */
static double keyword_overlap(req *x, uint32_t a, uint32_t b)
{
    size_t inter = 0, uni = 0;
    for (size_t f = 0; f < x->sc->nfields; f++) {
        if (x->sc->fields[f].type != SOUK_FIELD_KEYWORD)
            continue;
        const char *av[MAXV], *bv[MAXV];
        uint32_t al[MAXV], bl[MAXV];
        int id = x->sc->fields[f].id;
        size_t na = souk_docview_keywords(x->dv, id, a, av, al, MAXV);
        size_t nb = souk_docview_keywords(x->dv, id, b, bv, bl, MAXV);
        size_t both = 0;
        for (size_t i = 0; i < na; i++)
            for (size_t j = 0; j < nb; j++)
                if (al[i] == bl[j] && memcmp(av[i], bv[j], al[i]) == 0) {
                    both++;
                    break;
                }
        inter += both;
        uni += na + nb - both;
    }
    return uni ? (double)inter / (double)uni : 0;
}

static int similar(req *x, cands *c, char ***owned, size_t *nowned)
{
    tctx *t = souk_calloc(1, sizeof *t);
    if (!t)
        return SOUK_ENOMEM;
    t->rd = x->rd;
    souk_stats st;
    int rc = souk_reader_stats(x->rd, &st);
    t->ndocs = rc ? 1 : st.docs;
    if (!rc)
        rc = souk_reader_termlist(x->rd, x->cur_doc, term_seen, t);
    if (rc || !t->n) {
        souk_free(t);
        return rc;
    }
    qsort(t->v, t->n, sizeof t->v[0], by_idf);
    size_t nt = t->n < SIMILAR_TERMS ? t->n : SIMILAR_TERMS;
    souk_qnode nodes[1 + SIMILAR_TERMS];
    uint32_t kids[SIMILAR_TERMS];
    memset(nodes, 0, sizeof nodes);
    nodes[0].op = SOUK_QOP_OR;
    nodes[0].first_kid = 0;
    nodes[0].nkids = (uint32_t)nt;
    for (size_t i = 0; i < nt; i++) {
        nodes[1 + i].op = SOUK_QOP_TERM;
        nodes[1 + i].wqf = 1;
        nodes[1 + i].pos = (uint32_t)i + 1;
        nodes[1 + i].term = t->v[i].t;
        nodes[1 + i].term_len = t->v[i].len;
        kids[i] = (uint32_t)(1 + i);
    }
    souk_query query;
    memset(&query, 0, sizeof query);
    query.nodes = nodes;
    query.nnodes = 1 + nt;
    query.kids = kids;
    query.nkids = nt;
    query.root = 0;
    /* The text candidates: a few times n (the filter, when given, is applied by the search). */
    size_t k = 4 * (size_t)x->q->n + 40;
    souk_hit *hits = souk_malloc(k * sizeof *hits);
    size_t nhits = 0;
    char err[256];
    souk_find_result fr;
    memset(&fr, 0, sizeof fr);
    int used_find = 0;
    if (!hits) {
        rc = SOUK_ENOMEM;
    } else if (x->filter) {
        souk_find_opts fo;
        memset(&fo, 0, sizeof fo);
        fo.search.bm25 = (souk_bm25)SOUK_BM25_DEFAULT;
        fo.filter = x->filter;
        fo.limit = (uint32_t)k;
        fo.boost_field = -1;
        rc = souk_find(x->s, &query, &fo, &fr, err, sizeof err);
        used_find = 1;
        if (!rc) {
            nhits = fr.nhits;
            memcpy(hits, fr.hits, nhits * sizeof *hits);
        }
    } else {
        souk_search_opts so;
        memset(&so, 0, sizeof so);
        so.k = (uint32_t)k;
        so.bm25 = (souk_bm25)SOUK_BM25_DEFAULT;
        rc = souk_search_query(x->s, &query, &so, hits, &nhits, NULL, err, sizeof err);
    }
    if (used_find)
        souk_find_result_free(&fr);
    souk_free(t);
    /* Re-rank: the text score (relative to the best), the share of keyword values (category,
     * tags, brand) with the current item, and a little popularity. */
    double best = 0;
    for (size_t i = 0; i < nhits; i++)
        if (hits[i].docid != x->cur_doc && hits[i].score > best)
            best = hits[i].score;
    if (best <= 0)
        best = 1;
    double lmax = log1p(x->snap->maxpop > 0 ? x->snap->maxpop : 1);
    char **ids = souk_calloc(nhits ? nhits : 1, sizeof *ids);
    if (!ids)
        rc = SOUK_ENOMEM;
    for (size_t i = 0; !rc && i < nhits; i++) {
        if (hits[i].docid == x->cur_doc)
            continue;
        const char *id, *json;
        size_t idl, jl;
        if (souk_reader_doc(x->rd, hits[i].docid, &id, &idl, &json, &jl) != SOUK_OK)
            continue;
        if (!(ids[*nowned] = souk_strndup(id, idl))) {
            rc = SOUK_ENOMEM;
            break;
        }
        const char *item = ids[(*nowned)++];
        uint32_t gid = rc_intern(x->r, item, idl, 0);
        const rc_item *it = gid == UINT32_MAX ? NULL : rc_item_of(x->snap, gid);
        double pop = it ? it->pop : 0;
        double score = 0.6 * hits[i].score / best +
                       0.3 * keyword_overlap(x, x->cur_doc, hits[i].docid) +
                       0.1 * log1p(pop) / lmax;
        rc = cands_push(c, item, score, SOUK_WHY_SIMILAR, x->q->item);
    }
    *owned = ids;
    souk_free(hits);
    return rc;
}

/* ------------------------------------------------------------------ souk_recommend */

static int backfill(req *x, int use_cap)
{
    rc_snap *s = x->snap;
    size_t lim = s->n;
    for (size_t j = 0; j < lim && x->nout < x->q->n; j++) {
        const rc_item *it = &s->items[s->by_pop[j]];
        accept(x, it->id, it->pop, SOUK_WHY_BACKFILL_POPULAR, NULL, 1, use_cap, 0);
    }
    return SOUK_OK;
}

/* The rest of the catalog in docid order (items with no events), at most this many looked at. */
#define CATALOG_WALK_MAX 200000u

static void backfill_catalog(req *x)
{
    uint32_t seen = 0;
    for (uint32_t d = souk_docview_next(x->dv, 0);
         d != UINT32_MAX && x->nout < x->q->n && seen < CATALOG_WALK_MAX;
         d = souk_docview_next(x->dv, d + 1), seen++) {
        if (!souk_docview_pass(x->dv, d))
            continue;
        const char *id, *json;
        size_t idl, jl;
        if (souk_reader_doc(x->rd, d, &id, &idl, &json, &jl) != SOUK_OK || idl > SOUK_ITEM_MAX)
            continue;
        char item[SOUK_ITEM_MAX + 1];
        memcpy(item, id, idl);
        item[idl] = 0;
        accept(x, item, 0, SOUK_WHY_BACKFILL_POPULAR, NULL, 1, 0, 0);
    }
}

int souk_recommend(souk_recs *r, souk_searcher *s, const souk_rec_request *q, souk_rec *out,
                   size_t *nout, souk_rec_stats *stp, char *err, size_t errlen)
{
    uint64_t t0 = souk_clock_ns();
    *nout = 0;
    err[0] = 0;
    if (!q || q->n < 1 || q->n > SOUK_REC_MAX || (unsigned)q->type >= SOUK_REC_NTYPES) {
        snprintf(err, errlen, "n must be 1 to %d", SOUK_REC_MAX);
        return SOUK_EINVAL;
    }
    int item_type = q->type == SOUK_REC_BOUGHT_TOGETHER || q->type == SOUK_REC_VIEWED_TOGETHER ||
                    q->type == SOUK_REC_SIMILAR;
    if (item_type && (!q->item || !q->item[0])) {
        snprintf(err, errlen, "type %s needs an item", souk_rec_type_name(q->type));
        return SOUK_EINVAL;
    }
    req x;
    memset(&x, 0, sizeof x);
    x.r = r, x.s = s, x.q = q, x.out = out;
    x.cur_doc = UINT32_MAX;
    x.rd = souk_searcher_reader(s);
    hm_init(&x.hist, sizeof(uint32_t));
    group groups[SOUK_REC_MAX];
    x.groups = groups;
    cands c = {0};
    char **owned = NULL;
    size_t nowned = 0;
    int rc = SOUK_OK;
    const souk_schema *sc = x.sc = souk_searcher_schema(s);
    x.catf = field_index(sc, r->category_field);
    if (x.catf < 0 && !r->category_field) {
        x.catf = field_index(sc, "category");
        if (x.catf < 0)
            x.catf = field_index(sc, "section");
    }
    x.capf = field_index(sc, r->cap_field);
    if (x.capf < 0 && !r->cap_field) {
        x.capf = field_index(sc, "brand");
        if (x.capf < 0)
            x.capf = x.catf;
    }
    /* popular_in:<category> asks for one category: the cap then holds for brands only. */
    if (q->category && x.capf == x.catf && q->type != SOUK_REC_FOR_YOU)
        x.capf = -1;
    x.cap = r->o.cap ? r->o.cap : (q->n + 1) / 2;
    if (q->filter && q->filter_len &&
        (rc = souk_filter_parse(sc, q->filter, q->filter_len, &x.filter, err, errlen)) != SOUK_OK)
        goto done;
    if ((rc = souk_docview_open(s, &x.dv)) != SOUK_OK ||
        (rc = souk_docview_filter(x.dv, x.filter)) != SOUK_OK) {
        snprintf(err, errlen, "reading the catalog's columns: %s", souk_strerror(rc));
        goto done;
    }
    if (item_type && souk_reader_docid(x.rd, q->item, strlen(q->item), &x.cur_doc) != SOUK_OK) {
        snprintf(err, errlen, "no item %s in the catalog", q->item);
        rc = SOUK_ENOTFOUND;
        goto done;
    }
    if (!(x.snap = rc_snap_get(r, q->now_ms, &rc))) {
        snprintf(err, errlen, "reading the event store: %s", souk_strerror(rc));
        goto done;
    }
    if ((rc = load_history(&x)) != SOUK_OK) {
        snprintf(err, errlen, "reading the user's history: %s", souk_strerror(rc));
        goto done;
    }
    x.st.personal = x.personal;
    double blend = 0;
    switch (q->type) {
    case SOUK_REC_BOUGHT_TOGETHER:
    case SOUK_REC_VIEWED_TOGETHER:
        rc = together(&x, &c);
        break;
    case SOUK_REC_SIMILAR:
        rc = similar(&x, &c, &owned, &nowned);
        break;
    case SOUK_REC_FOR_YOU:
        if (x.personal) {
            rc = for_you(&x, &c, &blend);
            break;
        }
        /* the non-personal answer is the popular one */
        /* FALLTHROUGH */
    case SOUK_REC_TRENDING:
    case SOUK_REC_POPULAR: {
        int trending = q->type == SOUK_REC_TRENDING;
        const uint32_t *order = trending ? x.snap->by_trend : x.snap->by_pop;
        size_t lim = x.snap->n, want = examine_max(q->n);
        for (size_t j = 0; j < lim && c.n < want && !rc; j++) {
            const rc_item *it = &x.snap->items[order[j]];
            rc = cands_push(&c, it->id, trending ? it->trend : it->pop,
                            trending ? SOUK_WHY_TRENDING : SOUK_WHY_POPULAR_IN,
                            trending ? NULL : q->category);
        }
        break;
    }
    default:
        break;
    }
    if (rc) {
        snprintf(err, errlen, "recommending: %s", souk_strerror(rc));
        goto done;
    }
    if (q->type == SOUK_REC_SIMILAR || q->type == SOUK_REC_FOR_YOU ||
        q->type == SOUK_REC_BOUGHT_TOGETHER || q->type == SOUK_REC_VIEWED_TOGETHER)
        if (c.n)
            qsort(c.v, c.n, sizeof *c.v, by_cand);
    x.st.candidates = (uint32_t)c.n;
    int restrict_cat =
        q->category && (q->type == SOUK_REC_TRENDING || q->type == SOUK_REC_POPULAR ||
                        (q->type == SOUK_REC_FOR_YOU && !x.personal));
    size_t lim = c.n < examine_max(q->n) ? c.n : examine_max(q->n);
    if (restrict_cat)
        lim = c.n; /* the category narrows the list first */
    for (size_t i = 0; i < lim && x.nout < q->n; i++)
        accept(&x, c.v[i].item, c.v[i].score, c.v[i].why, c.v[i].arg, 0, 1, restrict_cat);
    if (!(q->flags & SOUK_REC_NO_BACKFILL)) {
        backfill(&x, 1);
        if (x.nout < q->n)
            backfill(&x, 0);
        if (x.nout < q->n)
            backfill_catalog(&x);
    }
    (void)blend;
    *nout = x.nout;
done:
    if (stp) {
        x.st.ns = souk_clock_ns() - t0;
        *stp = x.st;
    }
    souk_free(c.v);
    for (size_t i = 0; i < nowned; i++)
        souk_free(owned[i]);
    souk_free(owned);
    for (size_t i = 0; i < x.nh; i++)
        souk_free(x.h[i].item);
    souk_free(x.h);
    hm_free(&x.hist);
    souk_docview_close(x.dv);
    souk_filter_free(x.filter);
    rc_snap_put(x.snap);
    return rc;
}
