/* docview.c: per-document reads over a searcher's attribute columns (souk/browse.h,
 * souk_docview): keyword values and filter tests one document at a time, for callers that rank
 * candidates themselves (engine/recs/). */
#include "catalog/columns.h"
#include "catalog/reader.h"
#include "query/filter_int.h"
#include "query/match_int.h"
#include "souk/browse.h"
#include "souk/souk.h"

#include <string.h>

struct souk_docview {
    souk__columns *cols;
    souk__cfilter cf;
    int bound;
};

const souk_schema *souk_searcher_schema(souk_searcher *s)
{
    return souk_index_schema(s->ix);
}

int souk_docview_open(souk_searcher *s, souk_docview **out)
{
    *out = NULL;
    souk_docview *v = souk_calloc(1, sizeof *v);
    if (!v)
        return SOUK_ENOMEM;
    int rc = souk__columns_get(souk_searcher_reader(s), s->generation, s->next_docid, &v->cols);
    if (rc) {
        souk_free(v);
        return rc;
    }
    *out = v;
    return SOUK_OK;
}

void souk_docview_close(souk_docview *v)
{
    if (!v)
        return;
    if (v->bound)
        souk__filter_release(&v->cf);
    souk__columns_release(v->cols);
    souk_free(v);
}

int souk_docview_filter(souk_docview *v, const souk_filter *f)
{
    if (v->bound)
        souk__filter_release(&v->cf);
    v->bound = 0;
    if (!f)
        return SOUK_OK;
    int rc = souk__filter_compile(f, v->cols, &v->cf);
    if (rc == SOUK_OK)
        v->bound = 1;
    return rc;
}

uint64_t souk_docview_generation(const souk_docview *v)
{
    return v->cols->generation;
}

int souk_docview_exists(const souk_docview *v, uint32_t docid)
{
    return docid < v->cols->ndocs && (v->cols->exists[docid >> 6] >> (docid & 63) & 1);
}

int souk_docview_pass(const souk_docview *v, uint32_t docid)
{
    if (!souk_docview_exists(v, docid))
        return 0;
    return !v->bound || souk__filter_failed(&v->cf, docid) == 0;
}

uint32_t souk_docview_next(const souk_docview *v, uint32_t docid)
{
    return souk__columns_next_doc(v->cols, docid);
}

size_t souk_docview_keywords(const souk_docview *v, int field, uint32_t docid, const char **vals,
                             uint32_t *lens, size_t max)
{
    if (field < 0 || field >= SOUK_MAX_FIELDS || docid >= v->cols->ndocs)
        return 0;
    const souk__col *c = &v->cols->col[field];
    if (!c->present || !c->off || !c->ord)
        return 0;
    size_t n = 0;
    for (uint32_t i = c->off[docid]; i < c->off[docid + 1] && n < max; i++, n++) {
        vals[n] = c->vals[c->ord[i]];
        lens[n] = c->vlens[c->ord[i]];
    }
    return n;
}
