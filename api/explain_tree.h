/* explain_tree.h: a hit's score as a tree of named components, for explain=true on every path
 * of /v1/search (docs/api.md): text (per term, and per field under a profile's field weights,
 * each with idf, tf and length normalization), the proximity bonus, each boost (the profile's
 * and the request's), the personal component and curation. Every node's score is the sum of
 * its parts', and the root's is the hit's score. */
#ifndef SK_EXPLAIN_TREE_H
#define SK_EXPLAIN_TREE_H

#include "api_int.h"
#include "souk/schema.h"
#include "souk/search.h"

/* What a scored term is to the query as typed ("term", "prefix", "typo", "synonym", "code"),
 * for the unprefixed term t (a field term is given without its field prefix) and the factor
 * the query put on it (field weight excluded). */
typedef const char *(*sk_term_kind_fn)(const souk_query *q, const char *t, size_t len,
                                       double factor);

typedef struct sk_xpart {
    souk_explain_part p;
    char term[264], word[264]; /* the term as scored, and without its field prefix */
    size_t wlen;
    const char *kind;
} sk_xpart;

typedef struct sk_xtree {
    sk_xpart *v;
    size_t n, cap;
    int oom;
    const souk_schema *sc;
    const souk_query *q;
    sk_term_kind_fn kind;
    /* the parts that are not the engine's: the request's boost, the personal component and
     * curation (has_*: present) */
    int has_request_boost, has_personal, pinned;
    const char *rb_field;
    double rb_value, rb_weight, rb_score;
    double pers_affinity, pers_weight, pers_top, pers_score;
} sk_xtree;

void sk_xtree_init(sk_xtree *t, const souk_schema *sc, const souk_query *q, sk_term_kind_fn kind);
/* A souk_explain_part_fn collecting the engine's parts (ctx: the tree). */
void sk_xtree_add(void *ctx, const souk_explain_part *p);
/* ,"explanation":{...} for a hit of score score. */
void sk_xtree_write(sk_buf *b, const sk_xtree *t, double score);
void sk_xtree_free(sk_xtree *t);
/* The name of a boost function (souk_boost_fn). */
const char *sk_boost_fn_name(int fn);
/* A query matching every document unscored: explains a browsed hit's boosts. */
const souk_query *sk_browse_query(void);

#endif
