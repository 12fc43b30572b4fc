/* match_andnot.c: AND_NOT: the first part, minus documents any other part matches; scored as
 * the first part. */
#include "query/match_int.h"

static int andnot_skip_to(souk_searcher *s, cur *c, uint32_t d)
{
    for (;;) {
        int rc = cur_skip_to(s, c->kids[0], d);
        if (rc)
            return rc;
        c->did = c->kids[0]->did;
        if (c->did == DID_END)
            return 0;
        int excluded = 0;
        for (uint32_t i = 1; i < c->nkids && !excluded; i++) {
            if ((rc = cur_skip_to(s, c->kids[i], c->did)) != 0)
                return rc;
            excluded = c->kids[i]->did == c->did;
        }
        if (!excluded)
            return 0;
        d = c->did + 1;
    }
}

static double andnot_score(souk_searcher *s, cur *c)
{
    return c->factor * cur_score(s, c->kids[0]);
}

const cur_ops souk__andnot_ops = {andnot_skip_to, souk__cur_next_by_skip, andnot_score, NULL};
