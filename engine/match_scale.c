/* match_scale.c: SCALE_WEIGHT: one part with its score multiplied by a factor (0: a pure
 * filter, unscored). */
#include "match_int.h"

static int scale_skip_to(souk_searcher *s, cur *c, uint32_t d)
{
    int rc = cur_skip_to(s, c->kids[0], d);
    c->did = c->kids[0]->did;
    return rc;
}

static double scale_score(souk_searcher *s, cur *c)
{
    return c->factor * cur_score(s, c->kids[0]);
}

const cur_ops souk__scale_ops = {scale_skip_to, souk__cur_next_by_skip, scale_score, NULL};
