/* curation.c: pinned and hidden items of a profile's curation rules (docs/api.md, "Ranking
 * profiles"), applied by ep_search.c on every path: the matches come back from the engine with
 * room for the items to take out (the k wanted plus the hidden and pinned ones), the hidden and
 * the pinned items are taken out of them, the personal re-rank (if any) runs, and the pins are
 * put at their positions of the whole order, so every page (page=N) and cursor page shows each
 * item at most once and never a hidden one. */
#include "api_int.h"
#include "souk/analysis.h"
#include "souk/browse.h"
#include "souk/index.h"
#include "souk/profile.h"
#include "souk/souk.h"

#include <string.h>

int sk_curation_load(sk_ctx *c, const sk_cprofile *cp, const char *q, size_t qn, sk_curation *cu)
{
    memset(cu, 0, sizeof *cu);
    if (!cp || !cp->p->nrules || qn == 0)
        return 0;
    const souk_profile *p = cp->p;
    char norm[SOUK_PROFILE_NORM_MAX];
    norm[0] = 0;
    int any_norm = 0;
    for (size_t i = 0; i < p->nrules && !any_norm; i++)
        any_norm = p->rules[i].normalized;
    if (any_norm) {
        if (!c->w->analyzer && souk_analyzer_new(&c->w->analyzer))
            return sk_fail(c, 500, "internal", NULL, "out of memory");
        souk_profile_normalize(c->w->analyzer, q, qn, norm, sizeof norm);
    }
    const souk_curation_rule *r = souk_profile_rule(p, q, qn, norm);
    if (!r)
        return 0;
    souk_reader *rd = souk_searcher_reader(c->w->searcher);
    uint32_t d;
    for (size_t i = 0; i < r->nhide && cu->nhide < sizeof cu->hide / sizeof cu->hide[0]; i++)
        if (souk_reader_docid(rd, r->hide[i], strlen(r->hide[i]), &d) == 0)
            cu->hide[cu->nhide++] = d;
    for (size_t i = 0; i < r->npins && cu->npins < sizeof cu->pin / sizeof cu->pin[0]; i++)
        if (souk_reader_docid(rd, r->pins[i].id, strlen(r->pins[i].id), &d) == 0) {
            cu->pin[cu->npins] = d;
            cu->pos[cu->npins++] = r->pins[i].position;
        }
    cu->on = cu->nhide || cu->npins;
    return 0;
}

int sk_curation_filter(sk_ctx *c, sk_curation *cu, const struct souk_filter *f)
{
    if (!cu->npins || !f)
        return 0;
    souk_docview *v;
    if (souk_docview_open(c->w->searcher, &v) || souk_docview_filter(v, f)) {
        if (v)
            souk_docview_close(v);
        return sk_fail(c, 500, "internal", NULL, "cannot read the attribute columns");
    }
    size_t m = 0;
    for (size_t i = 0; i < cu->npins; i++)
        if (souk_docview_pass(v, cu->pin[i])) {
            cu->pin[m] = cu->pin[i];
            cu->pos[m++] = cu->pos[i];
        }
    cu->npins = m;
    souk_docview_close(v);
    cu->on = cu->nhide || cu->npins;
    return 0;
}

void sk_curation_drop(sk_curation *cu, souk_hit *hits, size_t *n)
{
    size_t m = 0;
    for (size_t i = 0; i < *n; i++) {
        uint32_t d = hits[i].docid;
        int out = 0;
        for (size_t h = 0; h < cu->nhide && !out; h++)
            out = cu->hide[h] == d;
        for (size_t k = 0; k < cu->npins && !out; k++)
            if (cu->pin[k] == d) {
                cu->pscore[k] = hits[i].score;
                out = 1;
            }
        if (!out)
            hits[m++] = hits[i];
    }
    *n = m;
}

size_t sk_curation_place(const sk_curation *cu, int pins, const souk_hit *in, size_t n,
                         souk_hit *out, int32_t *src, size_t k)
{
    size_t np = pins ? cu->npins : 0, pi = 0, j = 0, m = 0;
    while (m < k) {
        if (pi < np && cu->pos[pi] == m + 1) {
            out[m] = (souk_hit){cu->pin[pi], cu->pscore[pi]};
            src[m++] = -1;
            pi++;
        } else if (j < n) {
            out[m] = in[j];
            src[m++] = (int32_t)j++;
        } else if (pi < np) { /* past the last hit */
            out[m] = (souk_hit){cu->pin[pi], cu->pscore[pi]};
            src[m++] = -1;
            pi++;
        } else {
            break;
        }
    }
    return m;
}
