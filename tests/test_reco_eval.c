/* test_reco_eval.c: the arithmetic of souk-bench reco's protocol (bench/reco.c,
 * docs/evaluation.md) on hand-made data: the metrics and their standard errors, the top-k
 * with its tie order, the per-user temporal split and the validation carved from it, the
 * exclusion of training items, popularity, item-kNN and EASE against values worked out by hand
 * (EASE's 2-item closed form: B_12 = c / (n_1 + lambda), B_21 = c / (n_2 + lambda)). */
#include "../bench/reco.h"
#include "check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int near(double a, double b)
{
    return fabs(a - b) < 1e-9;
}

static void test_metrics(void)
{
    rscores r;
    REQUIRE(rscores_init(&r, 10) == 0);
    /* relevant {1, 9}; the list 5, 1, 7: one hit at rank 2. */
    uint32_t top[] = {5, 1, 7}, rel[] = {1, 9};
    rscores_add(&r, top, 3, rel, 2);
    double idcg = 1 + 1 / log2(3);
    CHECK(near(r.ndcg10[0], (1 / log2(3)) / idcg));
    CHECK(near(r.recall20[0], 0.5));
    CHECK(near(r.hr10[0], 1));
    /* no hit */
    uint32_t top2[] = {2, 3};
    rscores_add(&r, top2, 2, rel, 2);
    CHECK(near(r.ndcg10[1], 0) && near(r.recall20[1], 0) && near(r.hr10[1], 0));
    /* a hit at rank 11..20 counts for recall only; 25 relevant: recall over min(20, 25) */
    uint32_t top3[20], rel3[25];
    for (uint32_t i = 0; i < 20; i++)
        top3[i] = 100 + i;
    for (uint32_t i = 0; i < 25; i++)
        rel3[i] = 110 + i; /* ascending; the list's ranks 11..20 are relevant */
    rscores r3;
    REQUIRE(rscores_init(&r3, 200) == 0);
    rscores_add(&r3, top3, 20, rel3, 25);
    CHECK(near(r3.ndcg10[0], 0) && near(r3.hr10[0], 0) && near(r3.recall20[0], 10.0 / 20));
    /* coverage: the top 10 of the first two lists, {5, 1, 7, 2, 3} of 10 items */
    CHECK(near(rscores_coverage(&r), 0.5));
    rscores_free(&r3);

    double v[] = {1, 2, 3}, w[] = {1, 1, 1};
    rstat s = rstat_of(v, 3);
    CHECK(near(s.mean, 2) && near(s.se, 1 / sqrt(3)));
    rstat d = rstat_diff(v, w, 3); /* 0, 1, 2 */
    CHECK(near(d.mean, 1) && near(d.se, 1 / sqrt(3)));
    rscores_free(&r);
}

static void test_topk(void)
{
    double sc[] = {1, 3, 3, -INFINITY, 2, 5};
    uint8_t ex[] = {0, 0, 0, 0, 0, 1};
    uint32_t top[4];
    size_t n = reco_topk(sc, 6, ex, top, 4);
    /* 5 excluded, 3 never; ties by lower index */
    CHECK(n == 4 && top[0] == 1 && top[1] == 2 && top[2] == 4 && top[3] == 0);
}

/* Three users: u0 with 10 ratings of items 0..9 at times 9..0 (so the newest are items 0, 1),
 * u1 with one rating (item 3), u2 with 5 ratings of items 5..9 in time order. */
static void make_data(rdata *d)
{
    memset(d, 0, sizeof *d);
    d->nusers = 3;
    d->nitems = 10;
    d->nev = 16;
    d->ev = calloc(d->nev, sizeof *d->ev);
    d->ustart = calloc(4, sizeof *d->ustart);
    size_t k = 0;
    /* sorted by user, then group time */
    for (int t = 0; t < 10; t++) {
        uint32_t item = (uint32_t)(9 - t);
        d->ev[k++] = (rev){.user = 0, .item = item, .group = (uint32_t)t, .ts_ms = t};
    }
    d->ev[k++] = (rev){.user = 1, .item = 3, .group = 10, .ts_ms = 0};
    for (int t = 0; t < 5; t++)
        d->ev[k++] =
            (rev){.user = 2, .item = (uint32_t)(5 + t), .group = (uint32_t)(11 + t), .ts_ms = t};
    d->ustart[0] = 0;
    d->ustart[1] = 10;
    d->ustart[2] = 11;
    d->ustart[3] = 16;
    d->ngroups = 16;
}

static void test_split(void)
{
    rdata d;
    make_data(&d);
    rsplit s, v;
    REQUIRE(rsplit_make(&d, NULL, 0.2, &s) == 0);
    /* u0: ceil(2) = 2 held out (items 1 and 0, the newest); u1: 1 group, trains only; u2:
     * ceil(1) = 1 held out (item 9). */
    for (size_t i = 0; i < 10; i++)
        CHECK(s.part[i] == (i < 8 ? 1 : 2));
    CHECK(s.part[10] == 1);
    for (size_t i = 11; i < 16; i++)
        CHECK(s.part[i] == (i < 15 ? 1 : 2));
    CHECK(s.users_split == 2 && s.train_events == 13 && s.test_events == 3);
    /* validation splits the 8 and 4 training groups: ceil(1.6) = 2 and ceil(0.8) = 1 */
    REQUIRE(rsplit_make(&d, &s, 0.2, &v) == 0);
    for (size_t i = 0; i < 10; i++)
        CHECK(v.part[i] == (i < 6 ? 1 : i < 8 ? 2 : 0));
    for (size_t i = 11; i < 16; i++)
        CHECK(v.part[i] == (i < 14 ? 1 : i < 15 ? 2 : 0));

    rtrain t;
    rtest te;
    REQUIRE(rtrain_make(&d, &s, &t) == 0 && rtest_make(&d, &s, &t, &te) == 0);
    CHECK(t.nitem[0] == 8 && t.nitem[1] == 1 && t.nitem[2] == 4);
    CHECK(t.pop[3] == 2 && t.pop[5] == 2 && t.pop[9] == 1 && t.pop[0] == 0);
    CHECK(te.n == 2 && te.users[0] == 0 && te.nrel[0] == 2 && te.rel[0][0] == 0 &&
          te.rel[0][1] == 1 && te.users[1] == 2 && te.nrel[1] == 1 && te.rel[1][0] == 9);
    /* Popularity for u2 excludes its training items 5..8: 3 (2 users) first, then by index. */
    uint8_t ex[10] = {0};
    for (size_t i = 0; i < t.nitem[2]; i++)
        ex[t.items[2][i]] = 1;
    uint32_t top[RECO_K];
    size_t n = reco_pop_rank(&t, 2, ex, top, RECO_K);
    CHECK(n == 6 && top[0] == 3 && top[1] == 2 && top[2] == 4 && top[3] == 9 && top[4] == 0);
    rscores r;
    REQUIRE(reco_evaluate(&t, &te, reco_pop_rank, &t, &r) == 0);
    CHECK(r.n == 2);
    rscores_free(&r);
    rtest_free(&te);
    rtrain_free(&t);
    rsplit_free(&v);
    rsplit_free(&s);
    free(d.ev);
    free(d.ustart);
}

static void test_models(void)
{
    /* Four users over three items: {0,1}, {0,1}, {0}, {2}. */
    rtrain t;
    memset(&t, 0, sizeof t);
    t.nusers = 4;
    t.nitems = 3;
    uint32_t a[] = {0, 1}, b[] = {0, 1}, c[] = {0}, e[] = {2};
    uint32_t *items[] = {a, b, c, e}, nitem[] = {2, 2, 1, 1}, pop[] = {3, 2, 1};
    t.items = items;
    t.nitem = nitem;
    t.pop = pop;
    uint32_t *co = reco_cooc(&t);
    REQUIRE(co);
    CHECK(co[0 * 3 + 1] == 2 && co[1 * 3 + 0] == 2 && co[0 * 3 + 0] == 3 && co[0 * 3 + 2] == 0);
    /* item-kNN: s(0,1) = 2 / (sqrt(3 * 2) + 1) */
    rknn k;
    REQUIRE(rknn_build(&k, &t, co, 5, 1) == 0);
    CHECK(k.nnb[0] == 1 && k.nb[0] == 1 && fabs(k.sim[0] - 2 / (sqrt(6) + 1)) < 1e-6);
    CHECK(k.nnb[2] == 0);
    rknn_free(&k);
    /* EASE over items with >= 2 users (0 and 1): G = [[3, 2], [2, 2]], lambda 1:
     * B_01 = 2 / (3 + 1), B_10 = 2 / (2 + 1). */
    rease m;
    char err[256];
    REQUIRE(rease_build(&m, &t, co, 2, 1, err, sizeof err) == 0);
    CHECK(m.m == 2 && m.map[2] == UINT32_MAX);
    /* column-major: B[col * m + row] = B_row,col */
    CHECK(near(m.B[1 * 2 + 0], 2.0 / 4) && near(m.B[0 * 2 + 1], 2.0 / 3));
    CHECK(near(m.B[0], 0) && near(m.B[3], 0));
    /* user 2 ({0}) scores item 1 at B_01; item 2 is outside the model and comes by popularity */
    uint8_t ex[3] = {1, 0, 0};
    uint32_t top[RECO_K];
    size_t n = reco_ease_rank(&m, 2, ex, top, 2);
    CHECK(n == 2 && top[0] == 1 && top[1] == 2 && ex[1] == 0 && ex[2] == 0);
    rease_free(&m);
    free(co);
}

int main(void)
{
    test_metrics();
    test_topk();
    test_split();
    test_models();
    return check_done("test_reco_eval");
}
