/* rewrite.c: a query rewritten before matching: synonyms and stop words (the searcher's lexicon),
 * typo candidates, and the joined code terms of part numbers. */
#include "catalog/columns.h"
#include "query/match_int.h"
#include "souk/lexicon.h"
#include "query/typo.h"
#include "text/codes.h"
#include "core/varint.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int souk__query_clone(const souk_query *q, size_t extra_nodes, size_t extra_kids, souk_query **out)
{
    souk_query *e = souk_calloc(1, sizeof *e);
    if (!e || !(e->nodes = souk_calloc(q->nnodes + extra_nodes + 1, sizeof *e->nodes)) ||
        !(e->kids = souk_calloc(q->nkids + extra_kids + 1, sizeof *e->kids)))
        goto fail;
    if (q->nkids) /* a one-node query may have no kids array at all */
        memcpy(e->kids, q->kids, q->nkids * sizeof *q->kids);
    e->nkids = q->nkids;
    e->nnodes = q->nnodes; /* terms NULL until copied: souk_query_free handles a partial copy */
    e->root = q->root;
    for (size_t i = 0; i < q->nnodes; i++) {
        e->nodes[i] = q->nodes[i];
        e->nodes[i].term = NULL;
        if (q->nodes[i].term &&
            !(e->nodes[i].term = souk_strndup(q->nodes[i].term, q->nodes[i].term_len)))
            goto fail;
    }
    *out = e;
    return 0;
fail:
    souk_query_free(e);
    return SOUK_ENOMEM;
}

static int rewrite_query_inner(souk_searcher *s, const souk_query *q, const souk_search_opts *o,
                               souk_query **t, char *err, size_t errlen);

typedef struct code_collect {
    souk_searcher *s;
    const souk_query *q; /* the query the codes join: its own words are not added again */
    char terms[16][64];
    size_t len[16];
    size_t n;
} code_collect;

static void on_code(void *ctx, const char *term, size_t len)
{
    code_collect *c = ctx;
    souk_term_info ti;
    for (size_t i = 0; i < c->n; i++)
        if (c->len[i] == len && memcmp(c->terms[i], term, len) == 0)
            return;
    if (c->n < 16 && len < 64 && souk_reader_term(c->s->r, term, len, &ti) == 0) {
        memcpy(c->terms[c->n], term, len);
        c->len[c->n++] = len;
    }
    /* A join that is a word of the catalog ("M8 x 40" -> m8x40) matches as that word, unless
     * the query has that word already (typed as one word: "M8x40", "1tb"), which would count
     * it twice. */
    size_t pl = strlen(SOUK_CODE_PREFIX);
    if (c->n < 16 && len > pl && souk_reader_term(c->s->r, term + pl, len - pl, &ti) == 0) {
        for (size_t i = 0; i < c->n; i++)
            if (c->len[i] == len - pl && memcmp(c->terms[i], term + pl, len - pl) == 0)
                return;
        for (size_t i = 0; i < c->q->nnodes; i++) {
            const souk_qnode *qn = &c->q->nodes[i];
            if (qn->op == SOUK_QOP_TERM && qn->term_len == len - pl &&
                memcmp(qn->term, term + pl, len - pl) == 0)
                return;
        }
        memcpy(c->terms[c->n], term + pl, len - pl);
        c->len[c->n++] = len - pl;
    }
}

/* With SOUK_QP_CODES: q OR the joined code terms of its text that the index has (codes.c),
 * into *out (NULL when there are none). */
static int add_codes(souk_searcher *s, const souk_query *q, souk_query **out)
{
    *out = NULL;
    code_collect c = {.s = s, .q = q};
    souk__codes(q->text, q->text_len, 1, on_code, &c, 64);
    if (!c.n)
        return 0;
    souk_query *e;
    if (souk__query_clone(q, c.n + 1, c.n + 1, &e))
        return SOUK_ENOMEM;
    uint32_t root = (uint32_t)e->nnodes++;
    e->nodes[root] = (souk_qnode){
        .op = SOUK_QOP_OR, .first_kid = (uint32_t)e->nkids, .nkids = (uint32_t)c.n + 1};
    e->kids[e->nkids++] = q->root;
    for (size_t i = 0; i < c.n; i++) {
        uint32_t k = (uint32_t)e->nnodes++;
        e->nodes[k] = (souk_qnode){.op = SOUK_QOP_TERM, .wqf = 1};
        if (!(e->nodes[k].term = souk_strndup(c.terms[i], c.len[i])))
            goto fail;
        e->nodes[k].term_len = c.len[i];
        e->kids[e->nkids++] = k;
    }
    e->root = root;
    e->text = souk_strndup(q->text, q->text_len);
    e->text_len = q->text_len;
    e->lang = q->lang ? souk_strndup(q->lang, strlen(q->lang)) : NULL;
    *out = e;
    return 0;
fail:
    souk_query_free(e);
    return SOUK_ENOMEM;
}

int souk__rewrite_query(souk_searcher *s, const souk_query *q, const souk_search_opts *o,
                        souk_query **t, char *err, size_t errlen)
{
    int rc = rewrite_query_inner(s, q, o, t, err, errlen);
    if (rc || !(o->qp_flags & SOUK_QP_CODES) || !q->text)
        return rc;
    /* Codes last: synonyms and typos work on the plain words; the codes join the root. */
    souk_query *withcodes = NULL;
    const souk_query *base = *t ? *t : q;
    souk_query view = *base;
    view.text = q->text;
    view.text_len = q->text_len;
    view.lang = q->lang;
    if ((rc = add_codes(s, &view, &withcodes)) != 0) {
        snprintf(err, errlen, "codes: %s", souk_strerror(rc));
        return rc;
    }
    if (withcodes) {
        souk_query_free(*t);
        *t = withcodes;
    }
    return 0;
}

/* *t gets q rewritten by the searcher's lexicon (synonyms, stop words) and, with
 * SOUK_QP_TYPO, typo candidates (typo.c); it stays NULL when nothing changes. */
static int rewrite_query_inner(souk_searcher *s, const souk_query *q, const souk_search_opts *o,
                               souk_query **t, char *err, size_t errlen)
{
    *t = NULL;
    souk_query *lx = NULL;
    int rc = s->lex ? souk__lexicon_apply(s->lex, q, (o->qp_flags & SOUK_QP_TYPO) != 0,
                                          SOUK_TYPO_WEIGHT, &lx)
                    : 0;
    if (rc) {
        snprintf(err, errlen, "synonyms: %s", souk_strerror(rc));
        return rc;
    }
    if (lx && q->text) { /* the typo pass reads the query's text and language */
        lx->text = souk_strndup(q->text, q->text_len);
        lx->text_len = q->text_len;
        lx->lang = souk_strndup(q->lang, strlen(q->lang));
    }
    if (!(o->qp_flags & SOUK_QP_TYPO)) {
        *t = lx;
        return 0;
    }
    rc = souk__typo_expand(s, lx ? lx : q, SOUK_TYPO_WEIGHT, t);
    if (rc)
        snprintf(err, errlen, "typo tolerance: %s", souk_strerror(rc));
    if (*t)
        souk_query_free(lx);
    else
        *t = lx;
    return rc;
}
