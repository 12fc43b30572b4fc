/* match_fields.c: FIELDS, a word under a profile's BM25F field weights (docs/ranking.md): the
 * word's own postings give the matches and its idf; the score combines the word's wdf in each
 * weighted field (its prefixed term) into one weighted term frequency, saturated once:
 *
 *     tf = sum over fields of weight_f * wdf_f(d)
 *     score = termweight(word) * tf / (knorm(d) + tf)
 *
 * with knorm the document's BM25 length normalisation. kids[0] is the word's term, kids[1..]
 * the field terms (weights in fields_cur.w), all unscored; the field terms are moved only when
 * a document is scored. */
#include "query/match_int.h"

static int fields_skip_to(souk_searcher *s, cur *c, uint32_t d)
{
    int rc = cur_skip_to(s, c->kids[0], d);
    c->did = c->kids[0]->did;
    return rc;
}

static int fields_next(souk_searcher *s, cur *c)
{
    int rc = cur_next(s, c->kids[0]);
    c->did = c->kids[0]->did;
    return rc;
}

double souk__fields_tf(souk_searcher *s, cur *c)
{
    const fields_cur *f = (const fields_cur *)c;
    double tf = 0;
    for (uint32_t i = 1; i < c->nkids; i++) {
        cur *k = c->kids[i];
        if (cur_skip_to(s, k, c->did) == 0 && k->did == c->did)
            tf += f->w[i] * souk__term_wdf(k);
    }
    return tf;
}

static double fields_score(souk_searcher *s, cur *c)
{
    double tf = souk__fields_tf(s, c);
    if (!(tf > 0))
        return 0;
    double k = s->knorm[c->did];
    if (k != k)
        k = souk__bm25_knorm(s, c->did);
    /* The operations of souk__bm25_doc, so that weights of 1 over every field give the default
     * BM25 to the bit (the word's wdf is then the sum of its fields' wdfs). */
    return c->factor * (TERM(c->kids[0])->termweight * (tf / (k + tf)));
}

const cur_ops souk__fields_ops = {fields_skip_to, fields_next, fields_score, NULL};
