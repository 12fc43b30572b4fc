/* match_all.c: ALL (every stored document, as Xapian's MatchAll: the empty term, whose wdf in a
 * document is its length) and NONE (no document: absent terms, MatchNothing). */
#include "match_int.h"
#include "varint.h"

typedef struct all_cur {
    cur base;
    MDB_cursor *docs;
    double termweight;
} all_cur;

static int all_skip_to(souk_searcher *s, cur *c, uint32_t d)
{
    all_cur *a = (all_cur *)c;
    uint8_t key[4];
    be32_put(key, d);
    MDB_val k = {4, key}, v;
    int rc = mdb_cursor_get(a->docs, &k, &v, MDB_SET_RANGE);
    (void)s;
    if (rc == MDB_NOTFOUND) {
        c->did = DID_END;
        return 0;
    }
    if (rc || k.mv_size != 4)
        return SOUK_ECORRUPT;
    c->did = be32_get(k.mv_data);
    return 0;
}

static double all_score(souk_searcher *s, cur *c)
{
    uint32_t len = souk__doclen(s, c->did);
    return c->factor * souk__bm25_sumpart(s, ((all_cur *)c)->termweight, len, len);
}

static void all_destroy(cur *c)
{
    all_cur *a = (all_cur *)c;
    if (a->docs)
        mdb_cursor_close(a->docs);
}

const cur_ops souk__all_ops = {all_skip_to, souk__cur_next_by_skip, all_score, all_destroy};

cur *souk__all_new(souk_searcher *s)
{
    all_cur *a = (all_cur *)souk__cur_new(&souk__all_ops, C_ALL, sizeof *a, 0);
    if (!a)
        return NULL;
    if (mdb_cursor_open(s->r->txn, s->ix->docs, &a->docs) != 0) {
        souk__cur_free(&a->base);
        return NULL;
    }
    a->termweight = souk__bm25_termweight(s, s->N, 1);
    a->base.max_score = a->termweight; /* wdf / (norm + wdf) < 1 */
    return &a->base;
}

static int none_skip_to(souk_searcher *s, cur *c, uint32_t d)
{
    (void)s;
    (void)d;
    c->did = DID_END;
    return 0;
}

static double none_score(souk_searcher *s, cur *c)
{
    (void)s;
    (void)c;
    return 0;
}

const cur_ops souk__none_ops = {none_skip_to, souk__cur_next_by_skip, none_score, NULL};
