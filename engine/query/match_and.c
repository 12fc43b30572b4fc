/* match_and.c: AND (every part matches; the score is the sum of all parts) and FILTER (every
 * part matches; only the first part is scored, the others filter). */
#include "query/match_int.h"

int souk__and_align(souk_searcher *s, cur *c, uint32_t n, uint32_t d)
{
    uint32_t target = d;
    for (;;) {
        int moved = 0;
        for (uint32_t i = 0; i < n; i++) {
            int rc = cur_skip_to(s, c->kids[i], target);
            if (rc)
                return rc;
            if (c->kids[i]->did == DID_END) {
                c->did = DID_END;
                return 0;
            }
            if (c->kids[i]->did > target) {
                target = c->kids[i]->did;
                moved = 1;
            }
        }
        if (!moved) {
            c->did = target;
            return 0;
        }
    }
}

static int and_skip_to(souk_searcher *s, cur *c, uint32_t d)
{
    return souk__and_align(s, c, c->nkids, d);
}

static double and_score(souk_searcher *s, cur *c)
{
    double sum = 0;
    for (uint32_t i = 0; i < c->nkids; i++)
        sum += cur_score(s, c->kids[i]);
    return c->factor * sum;
}

static double filter_score(souk_searcher *s, cur *c)
{
    return c->factor * cur_score(s, c->kids[0]);
}

const cur_ops souk__and_ops = {and_skip_to, souk__cur_next_by_skip, and_score, NULL};
const cur_ops souk__filter_ops = {and_skip_to, souk__cur_next_by_skip, filter_score, NULL};
