/* match_all.c: ALL (every stored document, as Xapian's MatchAll: the empty term, whose wdf in a
 * document is its length) and NONE (no document: absent terms, MatchNothing). ALL walks the
 * stored-document bitmap of the snapshot's columns: the document store itself is tens of
 * megabytes to page through. */
#include "catalog/columns.h"
#include "query/match_int.h"
#include "core/varint.h"

typedef struct all_cur {
    cur base;
    souk__columns *cols; /* the snapshot's stored-document bitmap (columns.c), referenced */
    double termweight;
} all_cur;

static int all_skip_to(souk_searcher *s, cur *c, uint32_t d)
{
    (void)s;
    c->did = souk__columns_next_doc(((all_cur *)c)->cols, d); /* UINT32_MAX is DID_END */
    return 0;
}

static int all_next(souk_searcher *s, cur *c)
{
    return all_skip_to(s, c, c->did + 1);
}

static double all_score(souk_searcher *s, cur *c)
{
    uint32_t len = souk__doclen(s, c->did);
    return c->factor * souk__bm25_sumpart(&s->bm, ((all_cur *)c)->termweight, len, len);
}

static void all_destroy(cur *c)
{
    souk__columns_release(((all_cur *)c)->cols);
}

const cur_ops souk__all_ops = {all_skip_to, all_next, all_score, all_destroy};

cur *souk__all_new(souk_searcher *s)
{
    all_cur *a = (all_cur *)souk__cur_new(&souk__all_ops, C_ALL, sizeof *a, 0);
    if (!a)
        return NULL;
    if (souk__columns_get(s->r, s->generation, s->next_docid, &a->cols) != 0) {
        souk__cur_free(&a->base);
        return NULL;
    }
    a->termweight = souk__bm25_termweight(&s->bm, s->bm.N, 1);
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
