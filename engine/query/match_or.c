/* match_or.c: OR: any part matches; the score is the sum of the matching parts. Also SYNONYM
 * and the expansions of a wildcard. */
#include "query/match_int.h"

static void or_min(cur *c)
{
    uint32_t m = DID_END;
    for (uint32_t i = 0; i < c->nkids; i++)
        if (c->kids[i]->did < m)
            m = c->kids[i]->did;
    c->did = m;
}

static int or_skip_to(souk_searcher *s, cur *c, uint32_t d)
{
    int rc = 0;
    for (uint32_t i = 0; i < c->nkids && !rc; i++)
        rc = cur_skip_to(s, c->kids[i], d);
    or_min(c);
    return rc;
}

static int or_next(souk_searcher *s, cur *c)
{
    if (c->did == 0)
        return or_skip_to(s, c, 1);
    uint32_t at = c->did;
    int rc = 0;
    for (uint32_t i = 0; i < c->nkids && !rc; i++)
        if (c->kids[i]->did == at)
            rc = cur_next(s, c->kids[i]);
    or_min(c);
    return rc;
}

static double or_score(souk_searcher *s, cur *c)
{
    double sum = 0;
    for (uint32_t i = 0; i < c->nkids; i++)
        if (c->kids[i]->did == c->did)
            sum += cur_score(s, c->kids[i]);
    return c->factor * sum;
}

const cur_ops souk__or_ops = {or_skip_to, or_next, or_score, NULL};
