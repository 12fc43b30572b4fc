/* columns.c: attribute columns for filters, facets and sorting. One scan of the attr database
 * (docs/index-format.md) builds, per field, a dense array of numbers by docid, or for keywords
 * a dictionary of distinct values and each document's value ordinals (a category path adds an
 * ordinal for each of its levels, as its boolean terms do). The columns of the latest
 * generation are cached in the index and shared, reference-counted, by every searcher; a
 * searcher whose snapshot is older than the cache builds its own private copy. */
#include "souk/buf.h"
#include "catalog/columns.h"
#include "souk/collate.h"
#include "catalog/index_int.h"
#include "souk/souk.h"
#include "core/varint.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static uint32_t hash_bytes(const char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)p[i]) * 16777619u;
    return h;
}

uint32_t souk__col_lookup(const souk__col *c, const char *v, size_t n)
{
    if (!c->vtab.cap)
        return UINT32_MAX;
    for (size_t i = souk_itab_first(&c->vtab, hash_bytes(v, n)); c->vtab.slot[i];
         i = souk_itab_next(&c->vtab, i)) {
        uint32_t o = c->vtab.slot[i] - 1;
        if (c->vlens[o] == n && memcmp(c->vals[o], v, n) == 0)
            return o;
    }
    return UINT32_MAX;
}

/* The hash of ordinal i's value, for the value table's growth. */
static uint64_t value_hash(const void *ctx, size_t i)
{
    const souk__col *c = ctx;
    return hash_bytes(c->vals[i], c->vlens[i]);
}

/* Interns v; returns its ordinal or UINT32_MAX when out of memory. */
static uint32_t intern(souk__col *c, const char *v, size_t n)
{
    if (souk_itab_reserve(&c->vtab, c->nvals, 1024, value_hash, c))
        return UINT32_MAX;
    size_t i = souk_itab_first(&c->vtab, hash_bytes(v, n));
    for (; c->vtab.slot[i]; i = souk_itab_next(&c->vtab, i)) {
        uint32_t o = c->vtab.slot[i] - 1;
        if (c->vlens[o] == n && memcmp(c->vals[o], v, n) == 0)
            return o;
    }
    /* Two arrays of one capacity: each grows alike from the same one. */
    size_t cv = c->vcap, cl = c->vcap;
    if (souk_grow((void **)&c->vals, &cv, (size_t)c->nvals + 1, sizeof *c->vals, UINT32_MAX - 1) ||
        souk_grow((void **)&c->vlens, &cl, (size_t)c->nvals + 1, sizeof *c->vlens, UINT32_MAX - 1))
        return UINT32_MAX;
    c->vcap = (uint32_t)cv;
    char *copy = souk_strndup(v, n);
    if (!copy)
        return UINT32_MAX;
    c->vals[c->nvals] = copy;
    c->vlens[c->nvals] = (uint32_t)n;
    c->vtab.slot[i] = c->nvals + 1;
    return c->nvals++;
}

typedef struct build {
    souk__columns *cols;
    const souk_schema *s;
    /* keyword values as (docid, ordinal) pairs per field, in docid order */
    uint32_t *pairs[SOUK_MAX_FIELDS];
    size_t npairs[SOUK_MAX_FIELDS], cap[SOUK_MAX_FIELDS];
    int failed;
} build;

static void add_pair(build *b, int f, uint32_t docid, uint32_t ord)
{
    if (ord == UINT32_MAX) {
        b->failed = SOUK_ENOMEM;
        return;
    }
    if (souk_grow((void **)&b->pairs[f], &b->cap[f], b->npairs[f] + 1, 2 * sizeof *b->pairs[f],
                  SIZE_MAX)) {
        b->failed = SOUK_ENOMEM;
        return;
    }
    b->pairs[f][2 * b->npairs[f]] = docid;
    b->pairs[f][2 * b->npairs[f] + 1] = ord;
    b->npairs[f]++;
}

static int on_record(void *ctx, uint32_t docid, const uint8_t *p, size_t len)
{
    build *b = ctx;
    souk__columns *cols = b->cols;
    const uint8_t *end = p + len;
    if (docid >= cols->ndocs)
        return 0; /* committed after the snapshot's stats: cannot happen within one snapshot */
    while (p < end && !b->failed) {
        uint8_t f = *p++;
        if (f >= b->s->nfields) {
            b->failed = SOUK_ECORRUPT;
            return 1;
        }
        souk__col *c = &cols->col[f];
        int type = b->s->fields[f].type;
        if (type == SOUK_FIELD_KEYWORD || type == SOUK_FIELD_TEXT) {
            uint64_t l;
            if (varint_get(&p, end, &l) || l > (uint64_t)(end - p)) {
                b->failed = SOUK_ECORRUPT;
                return 1;
            }
            const char *v = (const char *)p;
            p += l;
            if (type == SOUK_FIELD_KEYWORD && (b->s->fields[f].flags & SOUK_F_PATH))
                for (size_t i = 0; i + 3 <= l; i++)
                    if (memcmp(v + i, " > ", 3) == 0)
                        add_pair(b, f, docid, intern(c, v, i));
            uint32_t o = intern(c, v, (size_t)l);
            if (type == SOUK_FIELD_KEYWORD)
                add_pair(b, f, docid, o);
            else if (o == UINT32_MAX)
                b->failed = SOUK_ENOMEM;
            if (c->sord && c->sord[docid] == UINT32_MAX)
                c->sord[docid] = o; /* the first value sorts */
        } else {
            if ((size_t)(end - p) < 8) {
                b->failed = SOUK_ECORRUPT;
                return 1;
            }
            double d;
            memcpy(&d, p, 8);
            p += 8;
            if (c->num && isnan(c->num[docid]))
                c->num[docid] = d; /* the first value */
        }
    }
    return b->failed != 0;
}

void souk__columns_release(souk__columns *c)
{
    if (!c || atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (int f = 0; f < SOUK_MAX_FIELDS; f++) {
        souk__col *k = &c->col[f];
        souk_free(k->num);
        souk_free(k->off);
        souk_free(k->ord);
        for (uint32_t i = 0; i < k->nvals; i++)
            souk_free(k->vals[i]);
        souk_free(k->vals);
        souk_free(k->vlens);
        souk_itab_free(&k->vtab);
        souk_free(k->sord);
        for (uint32_t i = 0; k->keys_own && i < k->nvals; i++)
            souk_free(k->keys[i]);
        souk_free(k->keys);
        souk_free(k->klens);
        souk_free(k->rank);
        souk_free(k->by_key);
    }
    souk_free(c->exists);
    souk_free(c);
}

static void on_docid(void *ctx, uint32_t docid)
{
    souk__columns *c = ctx;
    if (docid < c->ndocs)
        c->exists[docid / 64] |= 1ull << (docid % 64);
}

uint32_t souk__columns_next_doc(const souk__columns *c, uint32_t d)
{
    if (d >= c->ndocs)
        return UINT32_MAX;
    size_t w = d / 64, nw = (c->ndocs + 63) / 64;
    uint64_t bits = c->exists[w] & (~0ull << (d % 64));
    while (!bits) {
        if (++w == nw)
            return UINT32_MAX;
        bits = c->exists[w];
    }
    return (uint32_t)(w * 64 + (unsigned)__builtin_ctzll(bits));
}

/* Compares two sort keys as byte strings (a prefix first): < 0, 0, > 0. */
static int key_cmp(const uint8_t *a, uint32_t al, const uint8_t *b, uint32_t bl);

static int cmp_key_ord(const void *x, const void *y, void *ctx)
{
    const souk__col *c = ctx;
    uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    return key_cmp(c->keys[a], c->klens[a], c->keys[b], c->klens[b]);
}

static int key_cmp(const uint8_t *a, uint32_t al, const uint8_t *b, uint32_t bl)
{
    int r = memcmp(a, b, al < bl ? al : bl);
    return r ? r : (al > bl) - (al < bl);
}

/* The sort keys of a sortable keyword or text column and their ranks. */
static int sort_keys(souk__col *c)
{
    uint32_t n = c->nvals;
    c->keys = souk_calloc(n ? n : 1, sizeof *c->keys);
    c->klens = souk_malloc((n ? n : 1) * sizeof *c->klens);
    c->rank = souk_malloc((n ? n : 1) * sizeof *c->rank);
    uint32_t *by = souk_malloc((n ? n : 1) * sizeof *by);
    int rc = 0;
    if (!c->keys || !c->klens || !c->rank || !by) {
        rc = SOUK_ENOMEM;
        goto out;
    }
    c->keys_own = c->type == SOUK_FIELD_TEXT;
    for (uint32_t o = 0; o < n; o++) {
        if (c->keys_own) {
            uint8_t k[SOUK_SORT_KEY_MAX];
            size_t kl = souk_collation_key(c->vals[o], c->vlens[o], k);
            if (!(c->keys[o] = souk_malloc(kl ? kl : 1))) {
                rc = SOUK_ENOMEM;
                goto out;
            }
            memcpy(c->keys[o], k, kl);
            c->klens[o] = (uint32_t)kl;
        } else {
            c->keys[o] = (uint8_t *)c->vals[o];
            c->klens[o] = c->vlens[o] < SOUK_SORT_KEY_MAX ? c->vlens[o] : SOUK_SORT_KEY_MAX;
        }
        by[o] = o;
    }
    qsort_r(by, n, sizeof *by, cmp_key_ord, c);
    for (uint32_t i = 0, r = 0; i < n; i++) {
        if (i && cmp_key_ord(&by[i - 1], &by[i], c) != 0)
            r++;
        c->rank[by[i]] = r;
    }
    c->by_key = by;
    by = NULL;
out:
    souk_free(by);
    return rc;
}

uint32_t souk__col_key_pos(const souk__col *c, const uint8_t *k, uint32_t kl)
{
    uint32_t lo = 0, hi = c->nvals; /* the first key >= k is at lo */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2, o = c->by_key[mid];
        if (key_cmp(c->keys[o], c->klens[o], k, kl) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == c->nvals)
        return lo ? 2 * (c->rank[c->by_key[lo - 1]] + 1) : 0;
    uint32_t o = c->by_key[lo];
    return 2 * c->rank[o] + (key_cmp(c->keys[o], c->klens[o], k, kl) == 0);
}

static int columns_build(souk_reader *r, const souk_stats *st, souk__columns **out)
{
    const souk_schema *s = souk_index_schema(r->ix);
    souk__columns *cols = souk_calloc(1, sizeof *cols);
    if (!cols)
        return SOUK_ENOMEM;
    atomic_init(&cols->refs, 1);
    cols->generation = st->generation;
    cols->ndocs = (uint32_t)st->next_docid + 1;
    build b = {cols, s, {0}, {0}, {0}, 0};
    int rc = 0;
    cols->exists = souk_calloc((cols->ndocs + 63) / 64, sizeof *cols->exists);
    if (!cols->exists)
        rc = SOUK_ENOMEM;
    else
        rc = souk__reader_docids(r, on_docid, cols);
    for (size_t f = 0; f < s->nfields && !rc; f++) {
        const souk_field *fd = &s->fields[f];
        souk__col *c = &cols->col[f];
        c->type = fd->type;
        if (!(fd->flags & (SOUK_F_FILTERABLE | SOUK_F_FACETABLE | SOUK_F_SORTABLE)))
            continue;
        c->present = 1;
        if (fd->type == SOUK_FIELD_NUMBER || fd->type == SOUK_FIELD_BOOL) {
            c->num = souk_malloc(cols->ndocs * sizeof *c->num);
            if (!c->num)
                rc = SOUK_ENOMEM;
            for (uint32_t d = 0; c->num && d < cols->ndocs; d++)
                c->num[d] = NAN;
        } else if (fd->flags & SOUK_F_SORTABLE) {
            c->sord = souk_malloc(cols->ndocs * sizeof *c->sord);
            if (!c->sord)
                rc = SOUK_ENOMEM;
            else
                memset(c->sord, 0xff, cols->ndocs * sizeof *c->sord);
        }
    }
    if (!rc)
        rc = souk_reader_attrs(r, on_record, &b);
    if (!rc)
        rc = b.failed;
    for (size_t f = 0; f < s->nfields && !rc; f++) {
        souk__col *c = &cols->col[f];
        if (!c->present || c->type != SOUK_FIELD_KEYWORD)
            continue;
        c->off = souk_calloc(cols->ndocs + 1, sizeof *c->off);
        c->ord = souk_malloc((b.npairs[f] ? b.npairs[f] : 1) * sizeof *c->ord);
        if (!c->off || !c->ord) {
            rc = SOUK_ENOMEM;
            break;
        }
        /* Pairs arrive in docid order (the attr scan is ordered). */
        for (size_t i = 0; i < b.npairs[f]; i++)
            c->off[b.pairs[f][2 * i] + 1]++;
        for (uint32_t d = 0; d < cols->ndocs; d++)
            c->off[d + 1] += c->off[d];
        for (size_t i = 0; i < b.npairs[f]; i++)
            c->ord[i] = b.pairs[f][2 * i + 1];
    }
    for (size_t f = 0; f < s->nfields && !rc; f++)
        if (cols->col[f].sord)
            rc = sort_keys(&cols->col[f]);
    for (int f = 0; f < SOUK_MAX_FIELDS; f++)
        souk_free(b.pairs[f]);
    if (rc) {
        souk__columns_release(cols);
        return rc;
    }
    *out = cols;
    return 0;
}

int souk__columns_slot(void)
{
    static atomic_int slot;
    return souk__gen_slot(&slot);
}

static int gen_build(souk_reader *r, uint64_t generation, void *arg, void **out)
{
    souk_stats st = {.generation = generation, .next_docid = *(const uint64_t *)arg};
    souk__columns *c;
    int rc = columns_build(r, &st, &c);
    if (!rc)
        *out = c;
    return rc;
}

static void gen_acquire(void *obj)
{
    atomic_fetch_add_explicit(&((souk__columns *)obj)->refs, 1, memory_order_relaxed);
}

static void gen_release(void *obj)
{
    souk__columns_release(obj);
}

int souk__columns_get(souk_reader *r, uint64_t generation, uint64_t next_docid, souk__columns **out)
{
    static const souk__gen_ops ops = {gen_build, gen_acquire, gen_release};
    void *obj;
    int rc = souk__gen_get(r, souk__columns_slot(), generation, &ops, &next_docid, &obj);
    if (!rc)
        *out = obj;
    return rc;
}
