/* match_scale.c: SCALE_WEIGHT: one part with its score multiplied by a factor (0: a pure
 * filter, unscored). */
#include "query/match_int.h"

static int scale_skip_to(souk_searcher *s, cur *c, uint32_t d)
{
    int rc = cur_skip_to(s, c->kids[0], d);
    c->did = c->kids[0]->did;
    return rc;
}

static int scale_next(souk_searcher *s, cur *c)
{
    int rc = cur_next(s, c->kids[0]);
    c->did = c->kids[0]->did;
    return rc;
}

static double scale_score(souk_searcher *s, cur *c)
{
    return c->factor * cur_score(s, c->kids[0]);
}

const cur_ops souk__scale_ops = {scale_skip_to, scale_next, scale_score, NULL};
