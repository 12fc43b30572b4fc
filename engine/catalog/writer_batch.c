/* writer_batch.c: the index writer's batch buffer: an arena for the batch's bytes, the pool of
 * its documents' positions, and the ops (one per id, the last write wins) with their id map;
 * whether an op's id is new, from the batch's read snapshot. */
#include "souk/buf.h"
#include "catalog/writer_int.h"

#include <errno.h>
#include <string.h>

/* ------------------------------------------------------------------ arena */

void *souk__arena_alloc(arena *a, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    if (!a->head || a->head->used + n > a->head->cap) {
        /* 1 MiB with the header, so a chunk fills jemalloc's 1 MiB size class
         * instead of spilling into the 1.25 MiB one. */
        size_t std = (1u << 20) - sizeof(arena_chunk);
        size_t cap = n > std ? n : std;
        arena_chunk *c = souk_malloc(sizeof *c + cap);
        if (!c)
            return NULL;
        c->next = a->head;
        c->used = 0;
        c->cap = cap;
        a->head = c;
        a->total += cap;
    }
    void *p = a->head->data + a->head->used;
    a->head->used += n;
    return p;
}

void *souk__arena_dup(arena *a, const void *p, size_t n)
{
    void *d = souk__arena_alloc(a, n ? n : 1);
    if (d && n)
        memcpy(d, p, n);
    return d;
}

void souk__arena_free(arena *a)
{
    while (a->head) {
        arena_chunk *n = a->head->next;
        souk_free(a->head);
        a->head = n;
    }
    a->total = 0;
}

/* ------------------------------------------------------------------ positions pool */

/* Copies n positions into the pool; *at gets the index of the first. Returns 0, SOUK_ENOMEM, or
 * SOUK_EFULL when the batch holds 2^32 - 2^18 positions. */
int souk__pos_pool_add(pos_pool *p, const uint32_t *src, size_t n, uint32_t *at)
{
    if (p->next + n > p->avail) {
        if (!p->unit && !(p->unit = souk_calloc(POS_UNITS, sizeof *p->unit)))
            return SOUK_ENOMEM;
        uint64_t start = (p->next + POS_UNIT_LEN - 1) & ~(POS_UNIT_LEN - 1);
        uint64_t len = n > POS_UNIT_LEN ? n : POS_UNIT_LEN;
        /* The last unit is never handed out, so no index reaches POS_DEL. */
        if (start + len > (uint64_t)(POS_UNITS - 1) << POS_UNIT)
            return SOUK_EFULL;
        if (souk_grow_first((void **)&p->regions, &p->capregions, p->nregions + 1,
                            sizeof *p->regions, SIZE_MAX, 64))
            return SOUK_ENOMEM;
        uint32_t *m = souk_malloc(len * sizeof *m);
        if (!m)
            return SOUK_ENOMEM;
        p->regions[p->nregions++] = m;
        p->bytes += len * sizeof *m;
        for (uint64_t u = 0; u * POS_UNIT_LEN < len; u++)
            p->unit[(start >> POS_UNIT) + u] = m + u * POS_UNIT_LEN;
        p->next = start;
        p->avail = start + len;
    }
    *at = (uint32_t)p->next;
    if (n)
        memcpy(p->unit[p->next >> POS_UNIT] + (p->next & (POS_UNIT_LEN - 1)), src, n * sizeof *src);
    p->next += n;
    return 0;
}

/* Empties the pool (the unit table is kept). */
void souk__pos_pool_clear(pos_pool *p)
{
    for (size_t i = 0; i < p->nregions; i++)
        souk_free(p->regions[i]);
    p->nregions = 0;
    p->next = p->avail = 0;
    p->bytes = 0;
}

void souk__pos_pool_free(pos_pool *p)
{
    souk__pos_pool_clear(p);
    souk_free(p->regions);
    souk_free(p->unit);
}

/* ------------------------------------------------------------------ batch */

/* Finds the slot of id in the id map (an empty slot when absent). */
static size_t idmap_slot(souk_writer *w, const char *id, size_t len)
{
    size_t i = souk_itab_first(&w->idmap, souk__hash(id, len));
    for (; w->idmap.slot[i]; i = souk_itab_next(&w->idmap, i)) {
        const op *o = &w->ops[w->idmap.slot[i] - 1];
        if (o->id_len == len && memcmp(o->id, id, len) == 0)
            return i;
    }
    return i;
}

/* The hash of op i's id, for the map's growth. */
static uint64_t op_id_hash(const void *ctx, size_t i)
{
    const op *o = &((const souk_writer *)ctx)->ops[i];
    return souk__hash(o->id, o->id_len);
}

/* Returns a fresh op for id: the op already in the batch for this id (last write wins) or a new
 * one. NULL when out of memory. */
op *souk__op_for(souk_writer *w, const char *id, size_t len, int *created)
{
    *created = 0;
    if (souk_itab_reserve(&w->idmap, w->nops, 4096, op_id_hash, w))
        return NULL;
    size_t slot = idmap_slot(w, id, len);
    if (w->idmap.slot[slot])
        return &w->ops[w->idmap.slot[slot] - 1];
    if (souk_grow_first((void **)&w->ops, &w->capops, w->nops + 1, sizeof *w->ops, SIZE_MAX, 1024))
        return NULL;
    op *o = &w->ops[w->nops++];
    memset(o, 0, sizeof *o);
    o->id = souk__arena_dup(&w->mem, id, len);
    if (!o->id) {
        w->nops--;
        return NULL;
    }
    o->id_len = (uint32_t)len;
    w->idmap.slot[slot] = (uint32_t)w->nops;
    *created = 1;
    return o;
}

void souk__op_drop_last(souk_writer *w)
{
    const op *o = &w->ops[w->nops - 1];
    /* Linear probing: nothing inserted after the last op probed past its slot. */
    w->idmap.slot[idmap_slot(w, o->id, o->id_len)] = 0;
    w->nops--;
}

/* Makes sure the batch has its read snapshot (taken at its first operation). */
static int ensure_snapshot(souk_writer *w)
{
    if (w->snap)
        return 0;
    int rc = souk__txn_begin(w->ix, MDB_RDONLY, &w->snap, &w->cause);
    if (rc)
        return rc;
    uint64_t next;
    if ((rc = souk__meta_get_u64(w->snap, w->ix, "generation", &w->snap_gen, &w->cause)) != 0 ||
        (rc = souk__meta_get_u64(w->snap, w->ix, "next_docid", &next, &w->cause)) != 0) {
        mdb_txn_abort(w->snap);
        w->snap = NULL;
        return rc;
    }
    w->next_docid = next ? next : 1;
    return 0;
}

/* Decides, for an op just created, whether its id is new (then it is pre-grouped). */
int souk__classify_new_op(souk_writer *w, op *o)
{
    int rc = ensure_snapshot(w);
    if (rc)
        return rc;
    MDB_val k = {o->id_len, (void *)o->id}, d;
    rc = mdb_get(w->snap, w->ix->ids, &k, &d);
    if (rc == MDB_NOTFOUND) {
        o->pregrouped = 1;
        o->docid = 0;
        return 0;
    }
    o->pregrouped = 0;
    return rc ? souk__writer_err(w, rc) : 0;
}
