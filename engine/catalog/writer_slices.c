/* writer_slices.c: the index writer's term slices and groups: each distinct term a batch
 * touches has a group, and its postings changes are kept with it as they arrive (a chain of
 * varint records in slab blocks); changes of a replaced version are counted dead; the commit
 * reads them back in term order. */
#include "souk/buf.h"
#include "catalog/writer_int.h"
#include "core/qsort_inline.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ term slices */

/* n bytes (at most SLAB_LEN - SLAB_FIRST), their reference in *ref; NULL when out of memory. */
static uint8_t *slab_alloc(slab *s, size_t n, uint32_t *ref)
{
    if (s->used == 0 || s->off + n > SLAB_LEN) {
        if (s->used == s->nchunk) {
            if (!s->chunk && !(s->chunk = souk_calloc(SLAB_MAX_CHUNKS, sizeof *s->chunk)))
                return NULL;
            if (s->nchunk == SLAB_MAX_CHUNKS)
                return NULL;
            if (!(s->chunk[s->nchunk] = souk_malloc(SLAB_LEN)))
                return NULL;
            s->nchunk++;
        }
        s->used++;
        s->off = SLAB_FIRST;
    }
    *ref = (uint32_t)((s->used - 1) << SLAB_BITS | s->off);
    uint8_t *p = s->chunk[s->used - 1] + s->off;
    s->off += n;
    s->bytes += n;
    return p;
}

/* Forgets everything handed out (the chunks are kept). */
static void slab_reset(slab *s)
{
    s->used = 0;
    s->off = 0;
    s->bytes = 0;
}

void souk__slab_free(slab *s)
{
    for (size_t i = 0; i < s->nchunk; i++)
        souk_free(s->chunk[i]);
    souk_free(s->chunk);
    memset(s, 0, sizeof *s);
}

/* The group of a term, or NULL; *slot gets its slot in the map (the empty one when absent). */
static tgroup *group_find(const commit_ctx *c, const char *term, uint32_t len, uint64_t hash,
                          size_t *slot)
{
    uint64_t head = 0;
    memcpy(&head, term, len < 8 ? len : 8);
    if (!c->gmap.slot)
        return NULL;
    size_t s = souk_itab_first(&c->gmap, hash);
    for (; c->gmap.slot[s]; s = souk_itab_next(&c->gmap, s)) {
        tgroup *g = grp(c, c->gmap.slot[s] - 1);
        if (g->hash == hash && g->len == len && g->head == head &&
            (len <= 8 || souk__bytes_eq(g->term + 8, term + 8, len - 8)))
            return g;
    }
    if (slot)
        *slot = s;
    return NULL;
}

/* The hash of group g's term, for the map's growth. */
static uint64_t group_hash(const void *ctx, size_t g)
{
    return grp(ctx, g)->hash;
}

/* Finds or adds the group of a term. */
static tgroup *group_for(commit_ctx *c, const char *term, uint32_t len, uint64_t hash)
{
    if (souk_itab_reserve(&c->gmap, c->ngroups, 1 << 16, group_hash, c))
        return NULL;
    size_t s;
    tgroup *g = group_find(c, term, len, hash, &s);
    if (g)
        return g;
    if (c->ngroups == c->ngchunk * GROUP_CHUNK) {
        if (souk_grow_first((void **)&c->gchunk, &c->capgchunk, c->ngchunk + 1, sizeof *c->gchunk,
                            SIZE_MAX, 64))
            return NULL;
        if (!(c->gchunk[c->ngchunk] = souk_malloc(GROUP_CHUNK * sizeof(tgroup))))
            return NULL;
        c->ngchunk++;
    }
    g = grp(c, c->ngroups);
    memset(g, 0, sizeof *g);
    g->term =
        souk__arena_dup(&c->w->mem, term, len); /* the caller's copy may not outlive the batch */
    if (!g->term)
        return NULL;
    g->len = len;
    g->hash = hash;
    memcpy(&g->head, term, len < 8 ? len : 8);
    g->idx = (uint32_t)c->ngroups;
    c->ngroups++;
    c->gmap.slot[s] = (uint32_t)c->ngroups;
    return g;
}

static inline uint64_t zigzag(int64_t v)
{
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t unzigzag(uint64_t u)
{
    return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

/* Reads a varint the writer wrote itself (so it is well formed). */
static inline uint64_t varint_read(const uint8_t **pp)
{
    const uint8_t *p = *pp;
    uint64_t v = *p & 0x7f;
    unsigned shift = 7;
    while (*p++ & 0x80) {
        v |= (uint64_t)(*p & 0x7f) << shift;
        shift += 7;
    }
    *pp = p;
    return v;
}

/* Appends a change to the slice of its term. A record: the docid's zigzag delta from the term's
 * previous change; wdf << 2 | (position count == wdf) << 1 | delete; the position count unless it
 * equals wdf (and not for a delete); the zigzag delta of the position-pool index from the term's
 * previous change with positions, when it has any. */
int souk__add_change(commit_ctx *c, const char *term, uint32_t len, uint64_t hash, uint32_t docid,
                     uint32_t wdf, uint32_t npos, uint32_t pos)
{
    tgroup *g = group_for(c, term, len, hash);
    if (!g)
        return SOUK_ENOMEM;
    if (g->left < REC_MAX) {
        unsigned level = g->first ? g->level + (g->level < BLK_LEVELS - 1) : 0;
        size_t size = (size_t)BLK_MIN << level;
        uint32_t ref;
        uint8_t *b = slab_alloc(&c->slab, size, &ref);
        if (!b)
            return SOUK_ENOMEM;
        memset(b, 0, BLK_HDR);
        if (g->first) {
            uint8_t *last = slab_ptr(&c->slab, g->last);
            uint32_t used = (uint32_t)(g->wp - (last + BLK_HDR));
            memcpy(last, &ref, 4);
            memcpy(last + 4, &used, 4);
        } else {
            g->first = ref;
        }
        g->last = ref;
        g->level = (uint8_t)level;
        g->wp = b + BLK_HDR;
        g->left = (uint16_t)(size - BLK_HDR);
    }
    uint8_t *p = g->wp;
    int del = pos == POS_DEL;
    p += varint_put(p, zigzag((int64_t)docid - (int64_t)g->last_docid));
    p += varint_put(p, (uint64_t)wdf << 2 | (uint64_t)(npos == wdf) << 1 | (uint64_t)del);
    if (!del && npos != wdf)
        p += varint_put(p, npos);
    if (!del && npos) {
        p += varint_put(p, zigzag((int64_t)pos - (int64_t)g->last_pos));
        g->last_pos = pos;
    }
    g->left = (uint16_t)(g->left - (p - g->wp));
    g->wp = p;
    if (g->n && g->last_docid >= docid)
        g->unsorted = 1;
    g->last_docid = docid;
    g->n++;
    return 0;
}

static inline uint64_t dead_key(uint32_t gidx, uint32_t docid)
{
    return (uint64_t)(gidx + 1) << 32 | docid;
}

static inline size_t dead_slot(uint64_t key, size_t cap)
{
    return (size_t)((key * 0x9e3779b97f4a7c15ull) >> 32) & (cap - 1);
}

static dead_ent *dead_find(const commit_ctx *c, uint64_t key)
{
    size_t mask = c->deadcap - 1;
    for (size_t s = dead_slot(key, c->deadcap); c->dead[s].key; s = (s + 1) & mask)
        if (c->dead[s].key == key)
            return &c->dead[s];
    return NULL;
}

/* One more dead change of (group gidx, docid). */
static int dead_add(commit_ctx *c, uint32_t gidx, uint32_t docid)
{
    if ((c->ndead + 1) * 2 > c->deadcap) {
        size_t nc = c->deadcap ? c->deadcap * 2 : 256;
        dead_ent *m = souk_calloc(nc, sizeof *m);
        if (!m)
            return SOUK_ENOMEM;
        for (size_t i = 0; i < c->deadcap; i++) {
            if (!c->dead[i].key)
                continue;
            size_t s = dead_slot(c->dead[i].key, nc);
            while (m[s].key)
                s = (s + 1) & (nc - 1);
            m[s] = c->dead[i];
        }
        souk_free(c->dead);
        c->dead = m;
        c->deadcap = nc;
    }
    uint64_t key = dead_key(gidx, docid);
    dead_ent *e = dead_find(c, key);
    if (!e) {
        size_t s = dead_slot(key, c->deadcap);
        while (c->dead[s].key)
            s = (s + 1) & (c->deadcap - 1);
        e = &c->dead[s];
        e->key = key;
        c->ndead++;
        if (c->ndead == 1 || docid < c->dead_lo)
            c->dead_lo = docid;
        if (c->ndead == 1 || docid > c->dead_hi)
            c->dead_hi = docid;
    }
    e->dead++;
    return 0;
}

/* Starts a pass over the slices: no dead change seen yet. */
void souk__dead_rewind(commit_ctx *c)
{
    for (size_t i = 0; c->ndead && i < c->deadcap; i++)
        c->dead[i].seen = 0;
}

/* Reads group g's live changes back, in arrival order, into *buf (grown as needed); *n gets
 * their number. Threads may read distinct groups at once. */
int souk__group_read(commit_ctx *c, const tgroup *g, tchange **buf, size_t *cap, uint32_t *n)
{
    if (souk_grow_first((void **)buf, cap, g->n, sizeof **buf, SIZE_MAX, 1024))
        return SOUK_ENOMEM;
    tchange *out = *buf;
    uint32_t k = 0, docid = 0, pos = 0;
    for (uint32_t ref = g->first; ref;) {
        const uint8_t *b = slab_ptr(&c->slab, ref), *p = b + BLK_HDR, *end;
        if (ref == g->last) {
            end = g->wp;
            ref = 0;
        } else {
            uint32_t used;
            memcpy(&used, b + 4, 4);
            memcpy(&ref, b, 4);
            end = p + used;
            PREFETCH(slab_ptr(&c->slab, ref)); /* the next block, while this one is read */
        }
        while (p < end) {
            tchange t;
            docid = (uint32_t)((int64_t)docid + unzigzag(varint_read(&p)));
            uint64_t h = varint_read(&p);
            int del = (int)(h & 1);
            t.docid = docid;
            t.wdf = (uint32_t)(h >> 2);
            t.npos = del ? 0 : (h & 2) ? t.wdf : (uint32_t)varint_read(&p);
            t.pos = del ? POS_DEL : 0;
            if (t.npos) {
                pos = (uint32_t)((int64_t)pos + unzigzag(varint_read(&p)));
                t.pos = pos;
            }
            if (c->ndead && docid >= c->dead_lo && docid <= c->dead_hi) {
                dead_ent *e = dead_find(c, dead_key(g->idx, docid));
                if (e && e->seen < e->dead) {
                    e->seen++;
                    continue;
                }
            }
            out[k++] = t;
        }
    }
    *n = k;
    return 0;
}

static inline int group_less(const commit_ctx *c, grank a, grank b)
{
    if (a.prefix != b.prefix)
        return a.prefix < b.prefix;
    const tgroup *x = grp(c, a.idx), *y = grp(c, b.idx);
    size_t n = x->len < y->len ? x->len : y->len;
    int r = memcmp(x->term, y->term, n);
    return r ? r < 0 : x->len < y->len;
}

/* Sorts touched terms into term order (distinct terms never compare equal). */
SOUK_QSORT_DEFINE(sort_groups, grank, const commit_ctx *, group_less)

/* Fills rank[0, ngroups) with the batch's groups in term order. */
static void rank_groups(const commit_ctx *c, grank *rank)
{
    for (size_t i = 0; i < c->ngroups; i++) {
        const tgroup *g = grp(c, i);
        rank[i].idx = (uint32_t)i;
        rank[i].prefix = souk__prefix8(g->term, g->len);
    }
    sort_groups(c, rank, c->ngroups);
}

static int cmp_change(const void *a, const void *b)
{
    uint32_t x = ((const tchange *)a)->docid, y = ((const tchange *)b)->docid;
    return x < y ? -1 : x > y;
}

/* Sorts a term's changes by docid. They come nearly sorted: docids are handed out in arrival
 * order, and only a document repeated in the batch or an update of an old one comes late. So the
 * ascending run is kept in place, the late changes are sorted apart and merged back in (linear
 * for the usual few), instead of sorting the whole list. *scratch (2n changes) is reused. */
int souk__sort_changes(tchange *ch, uint32_t n, tchange **scratch, size_t *cap)
{
    if (souk_grow_first((void **)scratch, cap, (size_t)n * 2, sizeof **scratch, SIZE_MAX, 1024))
        return SOUK_ENOMEM;
    tchange *late = *scratch, *out = *scratch + n;
    uint32_t m = 0, k = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (m == 0 || ch[i].docid > ch[m - 1].docid)
            ch[m++] = ch[i];
        else
            late[k++] = ch[i];
    }
    if (k == 0)
        return 0;
    if (k > n / 8) {
        /* Not nearly sorted after all: sort everything. */
        memcpy(ch + m, late, k * sizeof *ch);
        qsort(ch, n, sizeof *ch, cmp_change);
        return 0;
    }
    qsort(late, k, sizeof *late, cmp_change);
    uint32_t a = 0, b = 0, o = 0;
    while (a < m || b < k)
        out[o++] = (b == k || (a < m && ch[a].docid <= late[b].docid)) ? ch[a++] : late[b++];
    memcpy(ch, out, n * sizeof *ch);
    return 0;
}

/* Reads the next term of an unpacked front-coded term list into term[0, *len), where term holds
 * the previous one. 1: a term; 0: the end; -1: malformed. */
int souk__termlist_next(const uint8_t **p, const uint8_t *end, char *term, size_t cap,
                        uint32_t *len)
{
    if (*p >= end)
        return 0;
    uint32_t shared, suffix;
    if (varint_get32(p, end, &shared) || varint_get32(p, end, &suffix) || shared > *len ||
        (size_t)shared + suffix > cap || suffix > (size_t)(end - *p))
        return -1;
    memcpy(term + shared, *p, suffix);
    *p += suffix;
    *len = shared + suffix;
    return 1;
}

/* ------------------------------------------------------------------ grouping by term */

static void *group_main(void *arg)
{
    group_job *j = arg;
    rank_groups(j->c, j->rank);
    return NULL;
}

/* Starts the sort; souk__group_changes_finish waits for it. */
static int group_changes_start(group_job *j, commit_ctx *c, grank *rank)
{
    memset(j, 0, sizeof *j);
    j->c = c;
    j->rank = rank;
    j->started = pthread_create(&j->th, NULL, group_main, j) == 0;
    if (!j->started)
        group_main(j); /* no thread: sort here, before the document records */
    return 0;
}

void souk__group_changes_finish(group_job *j)
{
    if (j->started)
        pthread_join(j->th, NULL);
}

/* Forgets every grouped change (kept: buffers for reuse). */
void souk__grouping_clear(commit_ctx *c)
{
    c->ngroups = 0;
    souk_itab_clear(&c->gmap);
    slab_reset(&c->slab);
    if (c->ndead)
        memset(c->dead, 0, c->deadcap * sizeof *c->dead);
    c->ndead = 0;
}

size_t souk__grouping_bytes(const commit_ctx *c)
{
    return c->slab.bytes;
}

/* The lookups of a document's terms are cache misses on the map, then the group, then its
 * term and last block; prefetching them a few terms ahead, stage by stage, lets them overlap.
 * Only hints: a wrong guess (a collision, a group not there yet) costs nothing but the fetch.
 * They read the first slot of each probe sequence (souk_itab_first) straight from the map. */
#define PF_MAP 24
#define PF_GROUP 14
#define PF_TAIL 6

static inline void prefetch_groups(const commit_ctx *c, const souk_dterm *terms, uint32_t i,
                                   uint32_t n)
{
    size_t mask = c->gmap.cap - 1;
    if (i + PF_MAP < n)
        PREFETCH(&c->gmap.slot[terms[i + PF_MAP].hash & mask]);
    if (i + PF_GROUP < n) {
        uint32_t e = c->gmap.slot[terms[i + PF_GROUP].hash & mask];
        if (e)
            PREFETCH(grp(c, e - 1));
    }
    if (i + PF_TAIL < n) {
        const souk_dterm *t = &terms[i + PF_TAIL];
        uint32_t e = c->gmap.slot[t->hash & mask];
        if (e) {
            const tgroup *g = grp(c, e - 1);
            if (g->hash == t->hash) {
                PREFETCH(g->wp);
                if (g->len > 8)
                    PREFETCH(g->term + 8);
            }
        }
    }
}

/* Groups the postings of a pre-grouped op's current version (terms borrowed) by term. */
int souk__pregroup(souk_writer *w, op *o, const souk_dterm *terms)
{
    commit_ctx *c = w->cc;
    if (o->docid == 0) {
        if (w->next_docid >= UINT32_MAX)
            return SOUK_ENOIDS; /* souk_writer_upsert checks first */
        o->docid = (uint32_t)w->next_docid++;
    }
    uint32_t n = o->nterms;
    for (uint32_t i = 0; i < n; i++) {
        if (c->gmap.slot)
            prefetch_groups(c, terms, i, n);
        const souk_dterm *t = &terms[i];
        int rc = souk__add_change(c, t->term, t->len, t->hash, o->docid, t->wdf, t->npos,
                                  o->pos_base + t->pos_off);
        if (rc)
            return rc;
    }
    o->grouped = 1;
    return 0;
}

/* The changes of op o's current version, grouped on arrival, become dead (a later version or a
 * delete in the batch replaces it). Its term list names their terms. */
int souk__mark_dead(souk_writer *w, op *o)
{
    if (!o->grouped)
        return 0;
    commit_ctx *c = w->cc;
    long tl = souk_blob_unpack(o->termlist, o->termlist_len, &c->tlbuf, &c->tlcap);
    if (tl < 0)
        return tl == SOUK_ENOMEM ? SOUK_ENOMEM : SOUK_ECORRUPT;
    const uint8_t *p = c->tlbuf, *end = p + tl;
    char term[512];
    uint32_t len = 0, n = 0;
    int r;
    while ((r = souk__termlist_next(&p, end, term, sizeof term, &len)) > 0) {
        tgroup *g = group_find(c, term, len, souk__hash(term, len), NULL);
        if (!g)
            return SOUK_ECORRUPT; /* cannot happen: its terms were grouped */
        if (dead_add(c, g->idx, o->docid))
            return SOUK_ENOMEM;
        n++;
    }
    if (r < 0 || n != o->nterms)
        return SOUK_ECORRUPT;
    o->grouped = 0;
    return 0;
}

/* A batch grouped on arrival keeps no term array per document (the slices hold the terms);
 * regrouping needs them back: each op's live changes are its terms, read here term by term in
 * byte order, with their positions in the op's own copy. */
int souk__ungroup_terms(souk_writer *w)
{
    commit_ctx *c = w->cc;
    uint32_t lo = UINT32_MAX, hi = 0;
    for (size_t i = 0; i < w->nops; i++) {
        const op *o = &w->ops[i];
        if (o->pregrouped && !o->terms && !o->del) {
            lo = o->docid < lo ? o->docid : lo;
            hi = o->docid > hi ? o->docid : hi;
        }
    }
    if (lo > hi)
        return 0;
    uint32_t *opof = souk_calloc((size_t)(hi - lo) + 1, sizeof *opof); /* docid - lo: op + 1 */
    uint32_t *fill = souk_calloc(w->nops + 1, sizeof *fill);
    grank *rank = souk_malloc((c->ngroups + 1) * sizeof *rank);
    int rc = opof && fill && rank ? 0 : SOUK_ENOMEM;
    for (size_t i = 0; i < w->nops && !rc; i++) {
        op *o = &w->ops[i];
        if (!o->pregrouped || o->terms || o->del)
            continue;
        if (!(o->terms =
                  souk__arena_alloc(&w->mem, (o->nterms ? o->nterms : 1) * sizeof *o->terms)))
            rc = SOUK_ENOMEM;
        opof[o->docid - lo] = (uint32_t)i + 1;
    }
    if (!rc) {
        rank_groups(c, rank);
        souk__dead_rewind(c);
    }
    for (size_t r = 0; r < c->ngroups && !rc; r++) {
        const tgroup *g = grp(c, rank[r].idx);
        uint32_t n;
        if ((rc = souk__group_read(c, g, &c->dec, &c->dec_cap, &n)) != 0)
            break;
        for (uint32_t k = 0; k < n; k++) {
            const tchange *ch = &c->dec[k];
            /* Changes of other ops (an earlier attempt's, of documents the index had) stay out. */
            if (CH_DEL(ch) || ch->docid < lo || ch->docid > hi || !opof[ch->docid - lo])
                continue;
            uint32_t oi = opof[ch->docid - lo] - 1;
            op *o = &w->ops[oi];
            if (fill[oi] == o->nterms) {
                rc = SOUK_ECORRUPT; /* cannot happen: a grouped op's changes are its terms */
                break;
            }
            souk_dterm *t = &o->terms[fill[oi]++];
            t->term = g->term;
            t->len = g->len;
            t->hash = g->hash;
            t->wdf = ch->wdf;
            t->npos = ch->npos;
            t->pos_off = ch->npos ? ch->pos - o->pos_base : 0;
        }
    }
    for (size_t i = 0; i < w->nops && !rc; i++) {
        const op *o = &w->ops[i];
        if (o->pregrouped && !o->del && o->docid >= lo && o->docid <= hi &&
            opof[o->docid - lo] == i + 1 && fill[i] != o->nterms)
            rc = SOUK_ECORRUPT; /* some of its changes were not found */
    }
    souk_free(opof);
    souk_free(fill);
    souk_free(rank);
    return rc;
}

/* Allocates phase 4's term order and starts sorting into it (group_changes_start). */
int souk__start_grouping(commit_ctx *c, group_job *gj, grank **rank)
{
    *rank = souk_malloc((c->ngroups + 1) * sizeof **rank);
    if (!*rank)
        return SOUK_ENOMEM;
    return group_changes_start(gj, c, *rank);
}
