/* reco.c: the protocol, metrics and baselines of reco.h. */
#include "reco.h"

#include "souk/buf.h"
#include "souk/events.h"
#include "souk/souk.h"

#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------------ string interning */

typedef struct strtab {
    char **s;
    uint32_t *slot; /* cap: index + 1, 0 empty */
    size_t n, cap, scap;
} strtab;

static uint64_t fnv(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h ^ (h >> 29);
}

static int64_t intern(strtab *t, const char *s)
{
    if ((t->n + 1) * 2 > t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 4096;
        uint32_t *ns = calloc(nc, sizeof *ns);
        if (!ns)
            return -1;
        for (size_t i = 0; i < t->n; i++) {
            size_t j = fnv(t->s[i]) & (nc - 1);
            while (ns[j])
                j = (j + 1) & (nc - 1);
            ns[j] = (uint32_t)i + 1;
        }
        free(t->slot);
        t->slot = ns;
        t->cap = nc;
    }
    size_t j = fnv(s) & (t->cap - 1);
    while (t->slot[j]) {
        if (strcmp(t->s[t->slot[j] - 1], s) == 0)
            return t->slot[j] - 1;
        j = (j + 1) & (t->cap - 1);
    }
    if (souk_grow((void **)&t->s, &t->scap, t->n + 1, sizeof *t->s, SIZE_MAX))
        return -1;
    if (!(t->s[t->n] = strdup(s)))
        return -1;
    t->slot[j] = (uint32_t)t->n + 1;
    return (int64_t)t->n++;
}

/* ------------------------------------------------------------------ loading */

typedef struct gkey {
    uint32_t user, key; /* MovieLens: the item; Groceries: the session's index */
    uint32_t group;
} gkey;

static const rdata *sort_d;
static const int64_t *sort_gfirst;

static int cmp_ev(const void *a, const void *b)
{
    const rev *x = a, *y = b;
    if (x->user != y->user)
        return x->user < y->user ? -1 : 1;
    int64_t gx = sort_gfirst[x->group], gy = sort_gfirst[y->group];
    if (gx != gy)
        return gx < gy ? -1 : 1;
    if (x->group != y->group)
        return x->group < y->group ? -1 : 1;
    return x->off < y->off ? -1 : x->off > y->off;
}

int rdata_load(rdata *d, behavior_set set, char *err, size_t errlen)
{
    memset(d, 0, sizeof *d);
    d->set = set;
    behavior_stats st;
    if (behavior_events_buf(set, NULL, &d->text, &d->textlen, &st, err, errlen) != 0)
        return -1;
    d->last_ms = st.last_ms;
    strtab users = {0}, items = {0}, groups = {0};
    size_t cap = st.events + 1;
    d->ev = calloc(cap, sizeof *d->ev);
    souk_event *e = malloc(sizeof *e);
    int64_t *gfirst = NULL;
    size_t gcap = 0;
    if (!d->ev || !e)
        goto oom;
    char key[2 * SOUK_USER_MAX + SOUK_ITEM_MAX + 8];
    for (size_t off = 0; off < d->textlen;) {
        const char *line = d->text + off;
        const char *nl = memchr(line, '\n', d->textlen - off);
        size_t len = nl ? (size_t)(nl - line) : d->textlen - off;
        if (len) {
            if (souk_event_parse(line, len, e, NULL, err, errlen) != 0)
                goto fail;
            if (!e->user[0] || !e->item[0]) {
                snprintf(err, errlen, "an event without a user or an item");
                goto fail;
            }
            int64_t u = intern(&users, e->user), it = intern(&items, e->item);
            /* MovieLens: a rating is the user's view and purchase of one movie; Groceries: a
             * basket is the session (member x day). */
            if (set == BEHAVIOR_MOVIELENS)
                snprintf(key, sizeof key, "%s\n%s", e->user, e->item);
            else
                snprintf(key, sizeof key, "%s", e->session);
            int64_t g = intern(&groups, key);
            if (u < 0 || it < 0 || g < 0 || d->nev == cap)
                goto oom;
            if ((size_t)g >= gcap) {
                size_t was = gcap;
                if (souk_grow((void **)&gfirst, &gcap, (size_t)g + 1, sizeof *gfirst, SIZE_MAX))
                    goto oom;
                for (size_t i = was; i < gcap; i++)
                    gfirst[i] = INT64_MAX;
            }
            if (e->ts_ms < gfirst[g])
                gfirst[g] = e->ts_ms;
            rev *r = &d->ev[d->nev++];
            r->user = (uint32_t)u;
            r->item = (uint32_t)it;
            r->group = (uint32_t)g;
            r->ts_ms = e->ts_ms;
            r->off = (uint32_t)off;
            r->len = (uint32_t)len;
            r->purchase = e->type == SOUK_EV_PURCHASE;
        }
        off += len + 1;
    }
    sort_d = d;
    sort_gfirst = gfirst;
    qsort(d->ev, d->nev, sizeof *d->ev, cmp_ev);
    d->nusers = users.n;
    d->nitems = items.n;
    d->ngroups = groups.n;
    d->user_id = users.s;
    d->item_id = items.s;
    for (size_t i = 0; i < groups.n; i++)
        free(groups.s[i]);
    free(groups.s);
    free(groups.slot);
    free(users.slot);
    free(items.slot);
    free(gfirst);
    free(e);
    d->ustart = calloc(d->nusers + 1, sizeof *d->ustart);
    if (!d->ustart) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < d->nev; i++)
        d->ustart[d->ev[i].user + 1]++;
    for (size_t u = 0; u < d->nusers; u++)
        d->ustart[u + 1] += d->ustart[u];
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
fail:
    free(e);
    free(gfirst);
    for (size_t i = 0; i < groups.n; i++)
        free(groups.s[i]);
    free(groups.s);
    free(groups.slot);
    d->user_id = users.s;
    d->nusers = users.n;
    d->item_id = items.s;
    d->nitems = items.n;
    free(users.slot);
    free(items.slot);
    rdata_free(d);
    return -1;
}

void rdata_free(rdata *d)
{
    for (size_t i = 0; d->user_id && i < d->nusers; i++)
        free(d->user_id[i]);
    for (size_t i = 0; d->item_id && i < d->nitems; i++)
        free(d->item_id[i]);
    free(d->user_id);
    free(d->item_id);
    free(d->ev);
    free(d->ustart);
    free(d->text);
    memset(d, 0, sizeof *d);
}

/* ------------------------------------------------------------------ the split */

int rsplit_make(const rdata *d, const rsplit *parent, double frac, rsplit *out)
{
    memset(out, 0, sizeof *out);
    out->part = calloc(d->nev ? d->nev : 1, 1);
    if (!out->part)
        return -1;
    for (size_t u = 0; u < d->nusers; u++) {
        size_t a = d->ustart[u], b = d->ustart[u + 1];
        /* The user's groups within the part being split, in time order (events are sorted so
         * a group's events are contiguous). */
        size_t groups = 0;
        uint32_t prev = UINT32_MAX;
        for (size_t i = a; i < b; i++)
            if (!parent || parent->part[i] == 1) {
                if (d->ev[i].group != prev)
                    groups++;
                prev = d->ev[i].group;
            }
        size_t hold = groups >= 2 ? (size_t)ceil(frac * (double)groups - 1e-9) : 0;
        if (hold >= groups)
            hold = groups - 1;
        size_t keep = groups - hold, seen = 0;
        prev = UINT32_MAX;
        for (size_t i = a; i < b; i++) {
            if (parent && parent->part[i] != 1)
                continue;
            if (d->ev[i].group != prev)
                seen++;
            prev = d->ev[i].group;
            out->part[i] = seen <= keep ? 1 : 2;
            if (out->part[i] == 1)
                out->train_events++;
            else
                out->test_events++;
        }
        if (hold)
            out->users_split++;
    }
    return 0;
}

void rsplit_free(rsplit *s)
{
    free(s->part);
    memset(s, 0, sizeof *s);
}

static int cmp_off(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int rsplit_write_train(const rdata *d, const rsplit *s, const char *path)
{
    /* In log order: the offsets of the training events, sorted. */
    uint32_t *idx = malloc((s->train_events + 1) * sizeof *idx);
    if (!idx)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < d->nev; i++)
        if (s->part[i] == 1)
            idx[n++] = d->ev[i].off;
    qsort(idx, n, sizeof *idx, cmp_off);
    FILE *f = fopen(path, "w");
    if (!f) {
        free(idx);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const char *line = d->text + idx[i];
        const char *nl = memchr(line, '\n', d->textlen - idx[i]);
        size_t len = nl ? (size_t)(nl - line) : d->textlen - idx[i];
        fwrite(line, 1, len, f);
        fputc('\n', f);
    }
    free(idx);
    return fclose(f) == 0 ? 0 : -1;
}

/* ------------------------------------------------------------------ the training matrix */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static size_t uniq(uint32_t *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_u32);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (m == 0 || v[m - 1] != v[i])
            v[m++] = v[i];
    return m;
}

int rtrain_make(const rdata *d, const rsplit *s, rtrain *t)
{
    memset(t, 0, sizeof *t);
    t->nusers = d->nusers;
    t->nitems = d->nitems;
    t->items = calloc(d->nusers, sizeof *t->items);
    t->nitem = calloc(d->nusers, sizeof *t->nitem);
    t->pop = calloc(d->nitems, sizeof *t->pop);
    if (!t->items || !t->nitem || !t->pop)
        return -1;
    for (size_t u = 0; u < d->nusers; u++) {
        size_t a = d->ustart[u], b = d->ustart[u + 1], n = 0;
        t->items[u] = malloc((b - a + 1) * sizeof **t->items);
        if (!t->items[u])
            return -1;
        for (size_t i = a; i < b; i++)
            if (s->part[i] == 1)
                t->items[u][n++] = d->ev[i].item;
        t->nitem[u] = (uint32_t)uniq(t->items[u], n);
        for (size_t i = 0; i < t->nitem[u]; i++)
            t->pop[t->items[u][i]]++;
    }
    return 0;
}

void rtrain_free(rtrain *t)
{
    for (size_t u = 0; t->items && u < t->nusers; u++)
        free(t->items[u]);
    free(t->items);
    free(t->nitem);
    free(t->pop);
    memset(t, 0, sizeof *t);
}

int rtest_make(const rdata *d, const rsplit *s, const rtrain *t, rtest *out)
{
    memset(out, 0, sizeof *out);
    out->users = malloc((d->nusers + 1) * sizeof *out->users);
    out->rel = calloc(d->nusers + 1, sizeof *out->rel);
    out->nrel = calloc(d->nusers + 1, sizeof *out->nrel);
    uint8_t *mark = calloc(d->nitems + 1, 1);
    if (!out->users || !out->rel || !out->nrel || !mark) {
        free(mark);
        return -1;
    }
    for (size_t u = 0; u < d->nusers; u++) {
        for (size_t i = 0; i < t->nitem[u]; i++)
            mark[t->items[u][i]] = 1;
        size_t a = d->ustart[u], b = d->ustart[u + 1], n = 0;
        uint32_t *rel = malloc((b - a + 1) * sizeof *rel);
        if (!rel) {
            free(mark);
            return -1;
        }
        for (size_t i = a; i < b; i++)
            if (s->part[i] == 2 && !mark[d->ev[i].item])
                rel[n++] = d->ev[i].item;
        n = uniq(rel, n);
        for (size_t i = 0; i < t->nitem[u]; i++)
            mark[t->items[u][i]] = 0;
        if (n == 0) {
            free(rel);
            continue;
        }
        out->users[out->n] = (uint32_t)u;
        out->rel[out->n] = rel;
        out->nrel[out->n++] = (uint32_t)n;
    }
    free(mark);
    return 0;
}

void rtest_free(rtest *t)
{
    for (size_t i = 0; t->rel && i < t->n; i++)
        free(t->rel[i]);
    free(t->users);
    free(t->rel);
    free(t->nrel);
    memset(t, 0, sizeof *t);
}

/* ------------------------------------------------------------------ metrics */

int rscores_init(rscores *r, size_t nitems)
{
    memset(r, 0, sizeof *r);
    r->nitems = nitems;
    r->covered = calloc(nitems + 1, 1);
    return r->covered ? 0 : -1;
}

void rscores_free(rscores *r)
{
    free(r->ndcg10);
    free(r->recall20);
    free(r->hr10);
    free(r->covered);
    memset(r, 0, sizeof *r);
}

void rscores_push(rscores *r, double ndcg, double recall, double hr)
{
    /* Three arrays of one capacity: each grows alike from the same one. */
    size_t ca = r->cap, cb = r->cap, cc = r->cap;
    if (souk_grow((void **)&r->ndcg10, &ca, r->n + 1, sizeof *r->ndcg10, SIZE_MAX) ||
        souk_grow((void **)&r->recall20, &cb, r->n + 1, sizeof *r->recall20, SIZE_MAX) ||
        souk_grow((void **)&r->hr10, &cc, r->n + 1, sizeof *r->hr10, SIZE_MAX))
        abort();
    r->cap = ca;
    r->ndcg10[r->n] = ndcg;
    r->recall20[r->n] = recall;
    r->hr10[r->n++] = hr;
}

static int has(const uint32_t *rel, size_t n, uint32_t x)
{
    size_t lo = 0, hi = n; /* rel is ascending */
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (rel[mid] == x)
            return 1;
        if (rel[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

void rscores_add(rscores *r, const uint32_t *top, size_t ntop, const uint32_t *rel, size_t nrel)
{
    double dcg = 0, idcg = 0;
    size_t hits10 = 0, hits20 = 0;
    for (size_t i = 0; i < ntop && i < RECO_K; i++) {
        int h = has(rel, nrel, top[i]);
        if (i < 10) {
            if (top[i] < r->nitems)
                r->covered[top[i]] = 1;
            if (h) {
                dcg += 1.0 / log2((double)i + 2);
                hits10++;
            }
        }
        hits20 += (size_t)h;
    }
    for (size_t i = 0; i < 10 && i < nrel; i++)
        idcg += 1.0 / log2((double)i + 2);
    size_t denom = nrel < RECO_K ? nrel : RECO_K;
    rscores_push(r, idcg > 0 ? dcg / idcg : 0, denom ? (double)hits20 / (double)denom : 0,
                 hits10 ? 1.0 : 0.0);
}

rstat rstat_of(const double *v, size_t n)
{
    rstat s = {0, 0};
    if (!n)
        return s;
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += v[i];
    s.mean = sum / (double)n;
    if (n > 1) {
        double ss = 0;
        for (size_t i = 0; i < n; i++)
            ss += (v[i] - s.mean) * (v[i] - s.mean);
        s.se = sqrt(ss / (double)(n - 1) / (double)n);
    }
    return s;
}

rstat rstat_diff(const double *a, const double *b, size_t n)
{
    double *d = malloc((n + 1) * sizeof *d);
    rstat s = {NAN, NAN};
    if (!d)
        return s;
    for (size_t i = 0; i < n; i++)
        d[i] = a[i] - b[i];
    s = rstat_of(d, n);
    free(d);
    return s;
}

double rscores_coverage(const rscores *r)
{
    size_t c = 0;
    for (size_t i = 0; i < r->nitems; i++)
        c += r->covered[i];
    return r->nitems ? (double)c / (double)r->nitems : 0;
}

/* ------------------------------------------------------------------ ranking */

size_t reco_topk(const double *score, size_t n, const uint8_t *excl, uint32_t *top, size_t k)
{
    /* Insertion into a sorted list of k: n is at most ~10^4 and k 20. */
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        double s = score[i];
        if ((excl && excl[i]) || s == -INFINITY)
            continue;
        if (m == k && !(s > score[top[m - 1]]))
            continue;
        size_t j = m < k ? m++ : m - 1;
        while (j > 0 && s > score[top[j - 1]]) {
            top[j] = top[j - 1];
            j--;
        }
        top[j] = (uint32_t)i;
    }
    return m;
}

int reco_evaluate(const rtrain *t, const rtest *te, rrank_fn fn, void *m, rscores *r)
{
    if (rscores_init(r, t->nitems) != 0)
        return -1;
    uint8_t *excl = calloc(t->nitems + 1, 1);
    if (!excl)
        return -1;
    uint32_t top[RECO_K];
    for (size_t i = 0; i < te->n; i++) {
        uint32_t u = te->users[i];
        for (size_t j = 0; j < t->nitem[u]; j++)
            excl[t->items[u][j]] = 1;
        size_t n = fn(m, u, excl, top, RECO_K);
        rscores_add(r, top, n, te->rel[i], te->nrel[i]);
        for (size_t j = 0; j < t->nitem[u]; j++)
            excl[t->items[u][j]] = 0;
    }
    free(excl);
    return 0;
}

/* ------------------------------------------------------------------ popularity */

size_t reco_pop_rank(void *tp, uint32_t u, const uint8_t *excl, uint32_t *top, size_t k)
{
    const rtrain *t = tp;
    (void)u;
    size_t m = 0;
    for (size_t i = 0; i < t->nitems; i++) {
        double s = t->pop[i];
        if (excl && excl[i])
            continue;
        if (m == k && !(s > t->pop[top[m - 1]]))
            continue;
        size_t j = m < k ? m++ : m - 1;
        while (j > 0 && s > t->pop[top[j - 1]]) {
            top[j] = top[j - 1];
            j--;
        }
        top[j] = (uint32_t)i;
    }
    return m;
}

/* ------------------------------------------------------------------ co-occurrence, item-kNN */

uint32_t *reco_cooc(const rtrain *t)
{
    size_t n = t->nitems;
    uint32_t *c = calloc(n * n + 1, sizeof *c);
    if (!c)
        return NULL;
    for (size_t u = 0; u < t->nusers; u++) {
        const uint32_t *it = t->items[u];
        for (size_t a = 0; a < t->nitem[u]; a++) {
            uint32_t *row = c + (size_t)it[a] * n;
            for (size_t b = 0; b < t->nitem[u]; b++)
                row[it[b]]++;
        }
    }
    return c;
}

typedef struct nbc {
    uint32_t j;
    float s;
} nbc;

static int cmp_nbc(const void *a, const void *b)
{
    const nbc *x = a, *y = b;
    if (x->s != y->s)
        return x->s > y->s ? -1 : 1;
    return x->j < y->j ? -1 : x->j > y->j;
}

int rknn_build(rknn *m, const rtrain *t, const uint32_t *cooc, uint32_t kmax, double shrink)
{
    memset(m, 0, sizeof *m);
    size_t n = t->nitems;
    m->t = t;
    m->kmax = m->k = kmax;
    m->shrink = shrink;
    m->nb = malloc(n * kmax * sizeof *m->nb);
    m->sim = malloc(n * kmax * sizeof *m->sim);
    m->nnb = calloc(n, sizeof *m->nnb);
    m->score = malloc(n * sizeof *m->score);
    nbc *cand = malloc(n * sizeof *cand);
    if (!m->nb || !m->sim || !m->nnb || !m->score || !cand) {
        free(cand);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        size_t nc = 0;
        const uint32_t *row = cooc + i * n;
        for (size_t j = 0; j < n; j++)
            if (j != i && row[j]) {
                cand[nc].j = (uint32_t)j;
                cand[nc++].s = (float)((double)row[j] /
                                       (sqrt((double)t->pop[i] * (double)t->pop[j]) + shrink));
            }
        qsort(cand, nc, sizeof *cand, cmp_nbc);
        if (nc > kmax)
            nc = kmax;
        for (size_t a = 0; a < nc; a++) {
            m->nb[i * kmax + a] = cand[a].j;
            m->sim[i * kmax + a] = cand[a].s;
        }
        m->nnb[i] = (uint32_t)nc;
    }
    free(cand);
    return 0;
}

void rknn_free(rknn *m)
{
    free(m->nb);
    free(m->sim);
    free(m->nnb);
    free(m->score);
    memset(m, 0, sizeof *m);
}

size_t reco_knn_rank(void *mp, uint32_t u, const uint8_t *excl, uint32_t *top, size_t k)
{
    rknn *m = mp;
    const rtrain *t = m->t;
    for (size_t i = 0; i < t->nitems; i++)
        m->score[i] = -INFINITY;
    for (size_t a = 0; a < t->nitem[u]; a++) {
        uint32_t i = t->items[u][a];
        uint32_t nn = m->nnb[i] < m->k ? m->nnb[i] : m->k;
        for (uint32_t b = 0; b < nn; b++) {
            uint32_t j = m->nb[(size_t)i * m->kmax + b];
            double s = m->sim[(size_t)i * m->kmax + b];
            m->score[j] = m->score[j] == -INFINITY ? s : m->score[j] + s;
        }
    }
    size_t got = reco_topk(m->score, t->nitems, excl, top, k);
    /* A user whose neighbourhoods hold fewer than k items: popularity fills the list (the
     * same fallback for every model that can run short). */
    if (got < k) {
        uint32_t pop[RECO_K * 4];
        uint8_t *ex2 = (uint8_t *)excl;
        for (size_t a = 0; a < got; a++)
            ex2[top[a]] |= 2;
        size_t np = reco_pop_rank((void *)t, u, ex2, pop, k - got);
        for (size_t a = 0; a < got; a++)
            ex2[top[a]] &= (uint8_t)~2;
        for (size_t a = 0; a < np; a++)
            top[got++] = pop[a];
    }
    return got;
}

/* ------------------------------------------------------------------ EASE */

int rease_build(rease *m, const rtrain *t, const uint32_t *cooc, uint32_t min_users, double lambda,
                char *err, size_t errlen)
{
    memset(m, 0, sizeof *m);
    m->t = t;
    size_t n = t->nitems;
    m->map = malloc(n * sizeof *m->map);
    m->items = malloc(n * sizeof *m->items);
    m->score = malloc(n * sizeof *m->score);
    if (!m->map || !m->items || !m->score)
        goto oom;
    for (size_t i = 0; i < n; i++) {
        m->map[i] = UINT32_MAX;
        if (t->pop[i] >= min_users && t->pop[i] > 0) {
            m->map[i] = (uint32_t)m->m;
            m->items[m->m++] = (uint32_t)i;
        }
    }
    size_t mm = m->m;
    m->mscore = malloc((mm + 1) * sizeof *m->mscore);
    m->B = malloc((mm * mm + 1) * sizeof *m->B);
    if (!m->B || !m->mscore)
        goto oom;
    /* P = (G + lambda I)^-1: G is symmetric positive semi-definite, so G + lambda I is positive
     * definite: a Cholesky factorisation and its inverse. */
    double *P = m->B;
    for (size_t c = 0; c < mm; c++)
        for (size_t r = 0; r < mm; r++)
            P[c * mm + r] = cooc[(size_t)m->items[r] * n + m->items[c]];
    for (size_t i = 0; i < mm; i++)
        P[i * mm + i] += lambda;
    double t0 = mono_s();
    lapack_int info = LAPACKE_dpotrf(LAPACK_COL_MAJOR, 'L', (lapack_int)mm, P, (lapack_int)mm);
    if (info == 0)
        info = LAPACKE_dpotri(LAPACK_COL_MAJOR, 'L', (lapack_int)mm, P, (lapack_int)mm);
    m->seconds = mono_s() - t0;
    if (info != 0) {
        snprintf(err, errlen, "EASE: LAPACK dpotrf/dpotri info %d (m %zu, lambda %g)", (int)info,
                 mm, lambda);
        rease_free(m);
        return -1;
    }
    /* The lower triangle holds P; mirror it, then B_ij = -P_ij / P_jj, B_jj = 0. */
    for (size_t c = 0; c < mm; c++)
        for (size_t r = c + 1; r < mm; r++)
            P[r * mm + c] = P[c * mm + r];
    for (size_t c = 0; c < mm; c++) {
        double pjj = P[c * mm + c];
        for (size_t r = 0; r < mm; r++)
            P[c * mm + r] = r == c ? 0 : -P[c * mm + r] / pjj;
    }
    return 0;
oom:
    snprintf(err, errlen, "EASE: out of memory (%zu items)", m->m);
    rease_free(m);
    return -1;
}

void rease_free(rease *m)
{
    free(m->map);
    free(m->items);
    free(m->B);
    free(m->score);
    free(m->mscore);
    memset(m, 0, sizeof *m);
}

size_t reco_ease_rank(void *mp, uint32_t u, const uint8_t *excl, uint32_t *top, size_t k)
{
    rease *m = mp;
    const rtrain *t = m->t;
    size_t mm = m->m;
    memset(m->mscore, 0, mm * sizeof *m->mscore);
    /* score_j = sum over the user's items i of B_ij: row i of B is column i of B^T; B is
     * column-major, so B_ij for all j is the strided row i: read column j's entries i. */
    for (size_t c = 0; c < mm; c++) {
        const double *col = m->B + c * mm;
        double s = 0;
        for (size_t a = 0; a < t->nitem[u]; a++) {
            uint32_t r = m->map[t->items[u][a]];
            if (r != UINT32_MAX)
                s += col[r];
        }
        m->mscore[c] = s;
    }
    for (size_t i = 0; i < t->nitems; i++)
        m->score[i] = m->map[i] == UINT32_MAX ? -INFINITY : m->mscore[m->map[i]];
    size_t got = reco_topk(m->score, t->nitems, excl, top, k);
    if (got < k) {
        uint32_t pop[RECO_K * 4];
        uint8_t *ex2 = (uint8_t *)excl;
        for (size_t a = 0; a < got; a++)
            ex2[top[a]] |= 2;
        size_t np = reco_pop_rank((void *)t, u, ex2, pop, k - got);
        for (size_t a = 0; a < got; a++)
            ex2[top[a]] &= (uint8_t)~2;
        for (size_t a = 0; a < np; a++)
            top[got++] = pop[a];
    }
    return got;
}
