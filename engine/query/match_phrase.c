/* match_phrase.c: PHRASE (the terms in query order, within `window` positions) and NEAR (the
 * terms in any order within `window` positions): an AND of terms whose candidates are then
 * checked on positions. Scored as the sum of the terms, as Xapian does. */
#include "query/match_int.h"

/* On the current document: do the kids' positions satisfy the operator? */
static int positions_match(cur *c, int *ok)
{
    const uint32_t *p[64];
    uint32_t n[64];
    uint32_t k = c->nkids < 64 ? c->nkids : 64;
    for (uint32_t i = 0; i < k; i++) {
        cur *t = c->kids[i];
        if (t->kind != C_TERM)
            return SOUK_EINVAL;
        int rc = souk__term_positions(t, &p[i], &n[i]);
        if (rc)
            return rc;
        if (n[i] == 0) {
            *ok = 0;
            return 0;
        }
    }
    *ok = 0;
    if (c->kind == C_PHRASE) {
        /* For each start, take the earliest position of each next term after the previous. */
        for (uint32_t a = 0; a < n[0] && !*ok; a++) {
            uint32_t prev = p[0][a], j;
            for (j = 1; j < k; j++) {
                uint32_t q = 0;
                while (q < n[j] && p[j][q] <= prev)
                    q++;
                if (q == n[j] || p[j][q] - p[0][a] >= c->window)
                    break;
                prev = p[j][q];
            }
            if (j == k)
                *ok = 1;
        }
    } else {
        /* Some window [s, s + window) holds a position of every term. */
        for (uint32_t i = 0; i < k && !*ok; i++) {
            for (uint32_t a = 0; a < n[i] && !*ok; a++) {
                uint32_t start = p[i][a], j;
                for (j = 0; j < k; j++) {
                    uint32_t q = 0;
                    while (q < n[j] && p[j][q] < start)
                        q++;
                    if (q == n[j] || p[j][q] - start >= c->window)
                        break;
                }
                if (j == k)
                    *ok = 1;
            }
        }
    }
    return 0;
}

static int phrase_skip_to(souk_searcher *s, cur *c, uint32_t d)
{
    for (;;) {
        int rc = souk__and_align(s, c, c->nkids, d);
        if (rc || c->did == DID_END)
            return rc;
        int ok;
        if ((rc = positions_match(c, &ok)) != 0)
            return rc;
        if (ok)
            return 0;
        d = c->did + 1;
    }
}

static double phrase_score(souk_searcher *s, cur *c)
{
    double sum = 0;
    for (uint32_t i = 0; i < c->nkids; i++)
        sum += cur_score(s, c->kids[i]);
    return c->factor * sum;
}

const cur_ops souk__phrase_ops = {phrase_skip_to, souk__cur_next_by_skip, phrase_score, NULL};
