/* match_maybe.c: AND_MAYBE: the documents of the first part; the other parts add their scores
 * where they match too. */
#include "query/match_int.h"

static int maybe_skip_to(souk_searcher *s, cur *c, uint32_t d)
{
    int rc = cur_skip_to(s, c->kids[0], d);
    c->did = c->kids[0]->did;
    return rc;
}

static double maybe_score(souk_searcher *s, cur *c)
{
    double sum = cur_score(s, c->kids[0]);
    for (uint32_t i = 1; i < c->nkids; i++) {
        if (cur_skip_to(s, c->kids[i], c->did) == 0 && c->kids[i]->did == c->did)
            sum += cur_score(s, c->kids[i]);
    }
    return c->factor * sum;
}

const cur_ops souk__maybe_ops = {maybe_skip_to, souk__cur_next_by_skip, maybe_score, NULL};
