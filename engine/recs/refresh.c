/* refresh.c: the neighbour lists kept by a background refresh (souk_recs_opts.refresh_ms,
 * recs.h; docs/architecture.md "Neighbour lists").
 *
 * Counting one item's list from the store (souk_cooc) walks the sets of each of its users, a
 * cursor descent per user: 1.5-2.7 ms for the most popular MovieLens movie. A refresh instead
 * reads every user's set once (souk_cooc_sets_each, one sequential walk of uset), turns it into
 * interned item numbers, transposes it (each item's sets), and counts each item's neighbours in
 * a dense array: the counts are the same function of the store as souk_cooc's, and the lists
 * (normalized and cut as rc_neighbours cuts them, bit for bit: the same formulas on the same
 * doubles, the same order) replace the whole table at once. The refresh runs on a thread of the
 * handle when co-occurrence changed (souk_cooc_stamp), at most every refresh_ms and at least 3
 * times its own last duration apart (so it takes at most a quarter of a core however large the
 * store), at the lowest priority (nice 19: requests on the same core come first), and on the
 * caller's thread from souk_recs_open and from an erasure (souk_events_on_erased), which is how
 * an erased user's contribution leaves the cached lists before the job reports completed. */
#include "core/qsort_inline.h"
#include "souk/buf.h"
#include "recs/recs_int.h"

#include <errno.h>
#include <math.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ENTRIES_MAX (1u << 24) /* list entries one refresh keeps (8 bytes each) */
#define LISTS_MAX (1u << 17)   /* lists one refresh keeps (half the table's cap) */

void rc_tmpl_note(souk_recs *r, const rc_norm *key)
{
    rc_norm t = *key;
    t.item = 0;
    for (uint32_t i = 0; i < r->ntmpl; i++)
        if (memcmp(&r->tmpl[i], &t, sizeof t) == 0)
            return;
    if (r->ntmpl == RC_TEMPLATES)
        return; /* lists of further models are counted when asked, and live model_ttl_ms */
    r->tmpl[r->ntmpl++] = t;
    if (r->has_refresher) {
        pthread_mutex_lock(&r->tmu);
        r->twake = 1;
        pthread_cond_signal(&r->tcond);
        pthread_mutex_unlock(&r->tmu);
    }
}

/* ------------------------------------------------------------------ the sets, in memory */

/* One kind's sets: set s holds it[off[s] .. off[s + 1]) (interned ids); and transposed, item g
 * is in the sets iset[ioff[g] .. ioff[g + 1]). */
typedef struct ksets {
    uint32_t *off, *it;
    size_t nsets, nit, capsets, capit;
    uint32_t *ioff, *iset;
} ksets;

typedef struct gather {
    souk_recs *r;
    ksets k[2];
    int rc;
} gather;

static int grow_u32(uint32_t **v, size_t *cap, size_t need)
{
    return souk_grow_first((void **)v, cap, need, sizeof **v, SIZE_MAX, 4096);
}

static int gather_set(void *arg, souk_cooc_kind kind, const char *const *items, const size_t *lens,
                      size_t n)
{
    gather *g = arg;
    ksets *k = &g->k[kind];
    if (grow_u32(&k->off, &k->capsets, k->nsets + 2) || grow_u32(&k->it, &k->capit, k->nit + n))
        return g->rc = SOUK_ENOMEM;
    if (!k->nsets)
        k->off[0] = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t id = rc_intern(g->r, items[i], lens[i], 1);
        if (id == UINT32_MAX)
            return g->rc = SOUK_ENOMEM;
        k->it[k->nit++] = id;
    }
    k->off[++k->nsets] = (uint32_t)k->nit;
    return 0;
}

static int transpose(ksets *k, uint32_t ngid)
{
    k->ioff = souk_calloc((size_t)ngid + 1, sizeof *k->ioff);
    k->iset = souk_malloc((k->nit ? k->nit : 1) * sizeof *k->iset);
    if (!k->ioff || !k->iset)
        return SOUK_ENOMEM;
    for (size_t i = 0; i < k->nit; i++)
        k->ioff[k->it[i] + 1]++;
    for (uint32_t g = 0; g < ngid; g++)
        k->ioff[g + 1] += k->ioff[g];
    uint32_t *fill = souk_malloc(((size_t)ngid + 1) * sizeof *fill);
    if (!fill)
        return SOUK_ENOMEM;
    memcpy(fill, k->ioff, ((size_t)ngid + 1) * sizeof *fill);
    for (size_t s = 0; s < k->nsets; s++)
        for (uint32_t i = k->off[s]; i < k->off[s + 1]; i++)
            k->iset[fill[k->it[i]]++] = (uint32_t)s;
    souk_free(fill);
    return SOUK_OK;
}

static void ksets_free(ksets *k)
{
    souk_free(k->off);
    souk_free(k->it);
    souk_free(k->ioff);
    souk_free(k->iset);
}

/* ------------------------------------------------------------------ the lists */

/* A heap of the k best seen, its root the worst of them. */
static void heap_down(const souk_recs *r, rc_nb *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, w = i;
        if (l < n && rc_nb_better(r, h[w], h[l]))
            w = l;
        if (l + 1 < n && rc_nb_better(r, h[w], h[l + 1]))
            w = l + 1;
        if (w == i)
            return;
        rc_nb t = h[i];
        h[i] = h[w], h[w] = t;
        i = w;
    }
}

static void heap_up(const souk_recs *r, rc_nb *h, size_t i)
{
    while (i) {
        size_t p = (i - 1) / 2;
        if (!rc_nb_better(r, h[p], h[i]))
            return;
        rc_nb t = h[i];
        h[i] = h[p], h[p] = t;
        i = p;
    }
}

SOUK_QSORT_DEFINE(sort_nb, rc_nb, const souk_recs *, rc_nb_better)

/* The table being built: open addressing on the key. */
typedef struct table {
    rc_nlist **v;
    uint32_t cap, used;
    uint64_t entries;
} table;

static void table_put(table *t, rc_nlist *l)
{
    uint32_t i = (uint32_t)(rc_key_hash(&l->key) & (t->cap - 1));
    while (t->v[i])
        i = (i + 1) & (t->cap - 1);
    t->v[i] = l;
    t->used++;
    t->entries += l->n;
}

/* The lists of every item of kind for each model of that kind in tm (nt of them). */
static int kind_lists(const souk_recs *r, const ksets *k, uint32_t ngid, const rc_norm *tm,
                      uint32_t nt, uint64_t stamp, table *tab, souk_recs_refresh_stats *st)
{
    int rc = SOUK_OK;
    uint32_t *cnt = souk_calloc((size_t)ngid + 1, sizeof *cnt);
    uint32_t *touched = souk_malloc(((size_t)ngid + 1) * sizeof *touched);
    /* Per model: users^alpha and users^(1 - alpha) of each item (COSINE), and a heap. */
    double *pa = souk_malloc(((size_t)ngid + 1) * nt * sizeof *pa);
    double *pb = souk_malloc(((size_t)ngid + 1) * nt * sizeof *pb);
    rc_nb *heap = NULL;
    uint32_t kmax = 0;
    for (uint32_t m = 0; m < nt; m++)
        if (tm[m].k > kmax)
            kmax = tm[m].k;
    heap = souk_malloc(((size_t)kmax + 1) * sizeof *heap);
    if (!cnt || !touched || !pa || !pb || !heap) {
        rc = SOUK_ENOMEM;
        goto out;
    }
    for (uint32_t m = 0; m < nt; m++)
        for (uint32_t g = 0; g < ngid; g++) {
            double u = k->ioff[g + 1] - k->ioff[g];
            pa[(size_t)m * ngid + g] = pow(u, tm[m].alpha);
            pb[(size_t)m * ngid + g] = pow(u, 1 - tm[m].alpha);
        }
    uint64_t t = souk_clock_ns();
    for (uint32_t a = 0; a < ngid && !rc; a++) {
        uint32_t ua = k->ioff[a + 1] - k->ioff[a];
        if (!ua)
            continue;
        size_t nt_ = 0;
        for (uint32_t j = k->ioff[a]; j < k->ioff[a + 1]; j++) {
            uint32_t s = k->iset[j];
            for (uint32_t i = k->off[s]; i < k->off[s + 1]; i++) {
                uint32_t b = k->it[i];
                if (b != a && !cnt[b]++)
                    touched[nt_++] = b;
            }
        }
        for (uint32_t m = 0; m < nt && !rc; m++) {
            const rc_norm *key = &tm[m];
            if (tab->used >= LISTS_MAX || tab->entries >= ENTRIES_MAX) {
                st->truncated = 1;
                break;
            }
            size_t hn = 0;
            for (size_t i = 0; i < nt_ && key->k; i++) {
                uint32_t b = touched[i], c = cnt[b];
                if (c < key->min_users)
                    continue;
                double users = c, sim;
                switch (key->norm) {
                case SOUK_NORM_COUNT:
                    sim = users;
                    break;
                case SOUK_NORM_LIFT:
                    sim = users / ((double)ua * (k->ioff[b + 1] - k->ioff[b]) + key->shrink);
                    break;
                default:
                    sim =
                        users / (pa[(size_t)m * ngid + a] * pb[(size_t)m * ngid + b] + key->shrink);
                }
                rc_nb e = {b, (float)sim};
                if (hn < key->k) {
                    heap[hn] = e;
                    heap_up(r, heap, hn++);
                } else if (rc_nb_better(r, e, heap[0])) {
                    heap[0] = e;
                    heap_down(r, heap, hn, 0);
                }
            }
            if (hn > 1)
                sort_nb(r, heap, hn);
            rc_nlist *l = souk_malloc(sizeof *l + (hn ? hn : 1) * sizeof(rc_nb));
            if (!l) {
                rc = SOUK_ENOMEM;
                break;
            }
            l->key = *key;
            l->key.item = a;
            l->stamp = stamp;
            l->built_ns = t;
            l->n = (uint32_t)hn;
            if (hn)
                memcpy(l->v, heap, hn * sizeof *heap);
            table_put(tab, l);
            st->lists++;
            st->entries += hn;
        }
        for (size_t i = 0; i < nt_; i++)
            cnt[touched[i]] = 0;
    }
out:
    souk_free(cnt);
    souk_free(touched);
    souk_free(pa);
    souk_free(pb);
    souk_free(heap);
    return rc;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int souk_recs_refresh(souk_recs *r, int64_t now, souk_recs_refresh_stats *stp)
{
    souk_recs_refresh_stats st;
    memset(&st, 0, sizeof st);
    if (!now)
        now = wall_ms();
    uint64_t t0 = souk_clock_ns();
    pthread_mutex_lock(&r->rmu);
    pthread_mutex_lock(&r->nmu);
    rc_norm tm[RC_TEMPLATES];
    uint32_t nt = r->ntmpl;
    memcpy(tm, r->tmpl, nt * sizeof *tm);
    pthread_mutex_unlock(&r->nmu);
    gather g;
    memset(&g, 0, sizeof g);
    g.r = r;
    uint64_t stamp = 0;
    int rc = souk_cooc_sets_each(r->o.events, gather_set, &g, &stamp);
    if (!rc)
        rc = g.rc;
    uint32_t ngid = atomic_load(&r->nids);
    for (int kind = 0; kind < 2 && !rc; kind++)
        rc = transpose(&g.k[kind], ngid);
    st.ns_read = souk_clock_ns() - t0;
    /* The snapshot too (its distinct users and popularity normalize and blend the lists). */
    if (!rc)
        rc = rc_snap_refresh(r, now);
    table tab = {0};
    uint64_t t1 = souk_clock_ns();
    if (!rc) {
        tab.cap = 1024;
        while (tab.cap < 2 * (uint64_t)(ngid + 1) * (nt ? nt : 1) && tab.cap < 2 * LISTS_MAX)
            tab.cap *= 2;
        if (!(tab.v = souk_calloc(tab.cap, sizeof *tab.v)))
            rc = SOUK_ENOMEM;
    }
    for (uint32_t kind = 0; kind < 2 && !rc; kind++) {
        rc_norm km[RC_TEMPLATES];
        uint32_t nk = 0;
        for (uint32_t i = 0; i < nt; i++)
            if (tm[i].kind == kind)
                km[nk++] = tm[i];
        st.sets += g.k[kind].nsets;
        st.set_items += g.k[kind].nit;
        if (nk)
            rc = kind_lists(r, &g.k[kind], ngid, km, nk, stamp, &tab, &st);
    }
    st.ns_count = souk_clock_ns() - t1;
    for (int kind = 0; kind < 2; kind++)
        ksets_free(&g.k[kind]);
    if (rc) {
        for (uint32_t i = 0; i < tab.cap; i++)
            souk_free(tab.v ? tab.v[i] : NULL);
        souk_free(tab.v);
    } else {
        rc_table_install(r, tab.v, tab.cap, tab.used);
        r->refreshed_stamp = stamp;
        r->refreshed_ntmpl = nt;
    }
    pthread_mutex_unlock(&r->rmu);
    st.ns_total = souk_clock_ns() - t0;
    if (stp)
        *stp = st;
    return rc;
}

/* ------------------------------------------------------------------ the thread */

static void *refresher_main(void *p)
{
    souk_recs *r = p;
    /* The lowest priority (Linux: a thread's own nice value): on a core the requests share, a
     * refresh takes what they leave (an erasure's refresh runs on the erasing thread instead). */
    (void)setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19); /* else: the process's */
    uint64_t last_ns = 0;
    for (;;) {
        uint64_t wait_ms = r->o.refresh_ms;
        if (3 * last_ns / 1000000 > wait_ms)
            wait_ms = 3 * last_ns / 1000000;
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += (time_t)(wait_ms / 1000);
        until.tv_nsec += (long)(wait_ms % 1000) * 1000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        pthread_mutex_lock(&r->tmu);
        while (!r->tstop && !r->twake)
            if (pthread_cond_timedwait(&r->tcond, &r->tmu, &until) == ETIMEDOUT)
                break;
        int stop = r->tstop;
        r->twake = 0;
        pthread_mutex_unlock(&r->tmu);
        if (stop)
            break;
        pthread_mutex_lock(&r->rmu);
        uint64_t done = r->refreshed_stamp;
        uint32_t dn = r->refreshed_ntmpl;
        pthread_mutex_unlock(&r->rmu);
        pthread_mutex_lock(&r->nmu);
        uint32_t nt = r->ntmpl;
        pthread_mutex_unlock(&r->nmu);
        if (souk_cooc_stamp(r->o.events) == done && nt == dn) {
            last_ns = 0;
            continue;
        }
        souk_recs_refresh_stats st;
        if (souk_recs_refresh(r, 0, &st) == SOUK_OK)
            last_ns = st.ns_total;
    }
    return NULL;
}

int rc_refresher_start(souk_recs *r)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_destroy(&r->tcond);
    pthread_cond_init(&r->tcond, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&r->refresher, NULL, refresher_main, r))
        return SOUK_EIO;
    r->has_refresher = 1;
    return SOUK_OK;
}

void rc_refresher_stop(souk_recs *r)
{
    if (!r->has_refresher)
        return;
    pthread_mutex_lock(&r->tmu);
    r->tstop = 1;
    pthread_cond_signal(&r->tcond);
    pthread_mutex_unlock(&r->tmu);
    pthread_join(r->refresher, NULL);
    r->has_refresher = 0;
}
