/* match.c: the query engine's entry points (souk/search.h): a parsed query is rewritten
 * (rewrite.c), built into a tree of posting cursors (plan.c; one structure per operator, each
 * with next, skip_to, score and an upper bound of its score, in engine/query/match_*.c behind
 * the cursor interface of engine/query/match_int.h), and run for the top k (topk.c). Scores are
 * Xapian 1.4's BM25 (bm25.c) computed with the same operations in the same order, so rankings
 * equal Xapian's (tests/test_oracle.c). The searcher itself is in searcher.c, explanations of a
 * score in explain.c. */
#include "catalog/columns.h"
#include "query/match_int.h"
#include "souk/lexicon.h"
#include "query/typo.h"
#include "text/codes.h"
#include "text/spelltable.h"
#include "core/varint.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Sets the searcher's BM25 parameters and profile signals for o and builds q's cursor tree
 * into *root. A profile's k1 and b replace o->bm25; its field weights expand each word as the
 * tree is built (plan.c); its proximity and boosts are added to text scores (signals.c). */
int souk__prepare(souk_searcher *s, const souk_query *q, const souk_search_opts *o, cur **root,
                  char *err, size_t errlen)
{
    souk_bm25 def = SOUK_BM25_DEFAULT;
    const souk_bm25 *p = o->profile ? &o->profile->bm25 : &o->bm25;
    s->bm.p = p->k1 == 0 && p->b == 0 && p->k3 == 0 ? def : *p;
    *root = NULL;
    if (souk__knorm_prepare(s)) {
        snprintf(err, errlen, "out of memory");
        return SOUK_ENOMEM;
    }
    err[0] = 0;
    int src = souk__sig_prepare(s, q, o->profile, err, errlen);
    if (src) {
        souk__sig_release(s);
        return src;
    }
    souk__plan_ctx b = {s,
                        q,
                        err,
                        errlen,
                        o->max_expansions,
                        0,
                        0,
                        s->budget.max_terms ? s->budget.max_terms : SOUK_MAX_QUERY_TERMS,
                        0,
                        1,
                        0};
    *root = souk__plan_build(&b, q->root);
    if (!*root) {
        souk__sig_release(s);
        if (b.over)
            return SOUK_ETOOBIG; /* the message is in err */
        /* The query's own problems name themselves in err (SOUK_EQUERY); the rest is the
         * index's or memory's, not the user's. */
        if (b.rc && b.rc != SOUK_ENOMEM) {
            snprintf(err, errlen, "reading the index: %s", souk_strerror(b.rc));
            return b.rc;
        }
        if (!err[0]) {
            snprintf(err, errlen, "out of memory building the query");
            return SOUK_ENOMEM;
        }
        return SOUK_EQUERY;
    }
    return 0;
}

void souk__finish(souk_searcher *s, cur *root)
{
    souk__cur_free(root);
    souk__sig_release(s);
}

static int plain_search_query(souk_searcher *s, const souk_query *q, const souk_search_opts *o,
                              souk_hit *hits, size_t *nhits, souk_search_stats *st, char *err,
                              size_t errlen)
{
    souk_search_stats local;
    if (!st)
        st = &local;
    memset(st, 0, sizeof *st);
    *nhits = 0;
    if (o->k == 0)
        return SOUK_OK;
    cur *root;
    int brc = souk__prepare(s, q, o, &root, err, errlen);
    if (brc)
        return brc;
    int rc = souk__topk_run(s, root, o, hits, nhits, st);
    souk__finish(s, root);
    if (rc) {
        snprintf(err, errlen, "reading postings: %s", souk_strerror(rc));
        return rc;
    }
    st->stopped = s->stopped;
    if (s->stopped)
        st->pruned = 1; /* matched counts only what was seen: a lower bound */
    return SOUK_OK;
}

static int plain_search_each(souk_searcher *s, const souk_query *q, const souk_search_opts *o,
                             souk_match_fn fn, void *ctx, char *err, size_t errlen)
{
    cur *root;
    int rc = souk__prepare(s, q, o, &root, err, errlen), stop = 0;
    if (rc)
        return rc;
    int sig = s->sig.on;
    rc = cur_next(s, root);
    while (!rc && !stop && root->did != DID_END && !souk__tick(s, 1)) {
        double score = root->scored ? cur_score(s, root) : 0;
        if (sig)
            score = souk__sig_add(s, root->did, score);
        stop = fn(ctx, root->did, score);
        if (!stop)
            rc = cur_next(s, root);
    }
    souk__finish(s, root);
    if (rc) {
        snprintf(err, errlen, "reading postings: %s", souk_strerror(rc));
        return rc;
    }
    return SOUK_OK;
}

int souk_search(souk_searcher *s, const char *q, size_t len, const souk_search_opts *o,
                souk_hit *hits, size_t *nhits, souk_search_stats *st, char *err, size_t errlen)
{
    souk_query *pq;
    const char *lang = o->lang ? o->lang : souk_index_schema(s->ix)->default_language;
    int rc = souk_query_parse(q, len, lang, s->fields, s->nfields, o->qp_flags, &pq, err, errlen);
    if (rc)
        return rc;
    rc = souk_search_query(s, pq, o, hits, nhits, st, err, errlen);
    souk_query_free(pq);
    return rc;
}

/* ------------------------------------------------------------------ searching */

int souk_search_query(souk_searcher *s, const souk_query *q, const souk_search_opts *o,
                      souk_hit *hits, size_t *nhits, souk_search_stats *st, char *err,
                      size_t errlen)
{
    souk_query *t = NULL;
    if (souk__budget_begin(s)) { /* out of time before it starts: nothing examined */
        souk_search_stats local;
        st = st ? st : &local;
        memset(st, 0, sizeof *st);
        st->stopped = s->stopped;
        st->pruned = 1;
        *nhits = 0;
        return SOUK_OK;
    }
    int rc = souk__rewrite_query(s, q, o, &t, err, errlen);
    if (!rc)
        rc = plain_search_query(s, t ? t : q, o, hits, nhits, st, err, errlen);
    souk_query_free(t);
    return rc;
}

int souk_search_each(souk_searcher *s, const souk_query *q, const souk_search_opts *o,
                     souk_match_fn fn, void *ctx, char *err, size_t errlen)
{
    souk_query *t = NULL;
    if (souk__budget_begin(s))
        return SOUK_OK; /* out of time before it starts: nothing examined */
    int rc = souk__rewrite_query(s, q, o, &t, err, errlen);
    if (!rc)
        rc = plain_search_each(s, t ? t : q, o, fn, ctx, err, errlen);
    souk_query_free(t);
    return rc;
}
