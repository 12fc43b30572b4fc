/* match_int.h: private structures of the query engine shared by engine/query/match.c (searcher,
 * tree building, top-k, MaxScore, explanations) and the operator files engine/match_*.c, one
 * per query operator. Every operator is a posting cursor with the same interface (cur_ops):
 * skip_to, next, score, and an upper bound of its score (max_score). */
#ifndef SOUK_MATCH_INT_H
#define SOUK_MATCH_INT_H

#include "catalog/reader.h"
#include "rank/bm25.h"
#include "souk/search.h"
#include "souk/souk.h"

#define DID_END UINT32_MAX

typedef enum {
    C_TERM,
    C_OR,
    C_AND,
    C_ANDNOT,
    C_MAYBE,
    C_FILTER,
    C_PHRASE,
    C_NEAR,
    C_SCALE,
    C_ALL,
    C_NONE,
    C_FIELDS
} ckind;

typedef struct cur cur;

/* The interface of a posting cursor. skip_to moves to the first match >= d (d >= 1) and may
 * assume the cursor is before d; next moves to the next match (from did 0: the first); both set
 * did, DID_END at the end, and return 0 or an error. score is the current document's score
 * (called only on scored cursors). destroy frees what the operator allocated beyond struct cur
 * and its kids. */
typedef struct cur_ops {
    int (*skip_to)(souk_searcher *s, cur *c, uint32_t d);
    int (*next)(souk_searcher *s, cur *c);
    double (*score)(souk_searcher *s, cur *c);
    void (*destroy)(cur *c);
} cur_ops;

/* The part every cursor shares; operators with state of their own embed it first. did is the
 * current document (0 before the start, DID_END at the end). */
struct cur {
    const cur_ops *ops;
    ckind kind;
    uint32_t did;
    double max_score; /* upper bound of score() on any document */
    int scored;       /* contributes to the score */
    double factor;    /* weight multiplier (SCALE_WEIGHT) */
    cur **kids;
    uint32_t nkids;
    uint32_t window; /* PHRASE and NEAR */
};

/* TERM (engine/query/match_term.c): one term's postings, block by block, decoded lazily. */
typedef struct term_cur {
    cur base;
    souk_postings pl;
    int pl_open;
    souk_block blk;
    int have_blk;
    uint32_t docs[SOUK_BLOCK_MAX], wdfs[SOUK_BLOCK_MAX];
    uint32_t n, i;
    int docs_ready, pos_ready, wdf_ready;
    double blk_bound; /* score bound of the current block */
    uint32_t npos[SOUK_BLOCK_MAX];
    uint32_t posoff[SOUK_BLOCK_MAX + 1];
    uint32_t *pos;
    size_t poscap;
    double termweight;
} term_cur;

#define TERM(c) ((term_cur *)(c))

/* FIELDS (engine/query/match_fields.c): a word under BM25F field weights; w[i] is the weight of
 * kids[i] (kids[0], the word itself: unused). */
typedef struct fields_cur {
    cur base;
    double w[SOUK_MAX_PROFILE_FIELDS + 1];
} fields_cur;

/* The longest proximity word kept (bytes, without prefix). */
#define SOUK_MAX_TERM_BYTES 64

/* The running search's profile signals beyond BM25 (signals.c). */
typedef struct souk__sig {
    const souk_rank_profile *p; /* NULL: none (the default ranking) */
    int on;                     /* proximity or boosts to add */
    double bound;               /* upper bound of all they add to any document's score */
    struct souk__columns *cols; /* the boosts' number columns */
    const double *boost_col[SOUK_MAX_BOOSTS];
    size_t nboosts;
    /* proximity: a cursor per (field, word), the fields' first cursor, the pair weights */
    cur *prox[SOUK_MAX_FIELDS * 8];
    size_t nprox, field_first[SOUK_MAX_FIELDS], nfields, nwords;
    uint32_t window;
    double pair_w[8][8];
    double prox_bound;
} souk__sig;

struct souk_searcher {
    souk_index *ix;
    souk_reader *r;
    souk_qp_field fields[SOUK_MAX_FIELDS];
    size_t nfields;
    /* statistics of the snapshot */
    uint64_t next_docid;
    /* document lengths: chunk pointers into the snapshot, fetched lazily */
    const uint32_t **chunks;
    size_t nchunks;
    souk__bm25_model bm; /* BM25 parameters and the snapshot's statistics (engine/rank/) */
    /* Per-document BM25 length normalisation k1 * (normlen * b + 1 - b), computed on first use
     * (NaN until then) and valid for one generation and one set of parameters. */
    double *knorm;
    size_t knorm_cap;
    uint64_t generation, knorm_generation;
    souk_bm25 knorm_p;
    int knorm_valid;
    const struct souk_lexicon *lex; /* synonyms and stop words (lexicon.c), borrowed */
    /* The spelling table (souk/spelling.h), opened by the first "did you mean" and moved to the
     * latest Xapian commit when the searcher's generation changes; spell_tried: the generation
     * at which opening last failed (no table yet), not retried before the next commit. */
    struct souk_xspell *spell;
    uint64_t spell_generation, spell_tried;
    /* Dictionary entries of recent query terms (inline postings copied), valid for one
     * generation: a term's B-tree lookup is a fifth of a small query. */
    struct souk__dict_slot *dict;
    uint32_t dict_used;
    uint64_t dict_generation;
    /* The running search's time budget and cancellation (souk__tick): units of work left
     * before the next look at the clock, the deadline (0: none), the next call of stop_fn,
     * and why the search stopped (SOUK_STOP_*, 0 while it runs). */
    souk_budget budget; /* souk_searcher_set_budget */
    int64_t tick_left;
    uint64_t next_poll_ns;
    int stopped;
    char err[256];
    /* Last, so that the fields above keep their cache lines: the running search's profile
     * signals (signals.c), and the number columns' ranges for boost bounds, valid for one
     * generation. */
    souk__sig sig;
    double range_lo[SOUK_MAX_FIELDS], range_hi[SOUK_MAX_FIELDS];
    uint8_t range_have[SOUK_MAX_FIELDS];
    uint64_t range_generation;
    int range_valid;
    /* The cache of decoded stored documents (doccache.c): its slots, their buffers' bytes and
     * the budget for them, the use counter and the counts of lookups. */
    struct souk__doc_slot *docs;
    size_t doc_bytes, doc_budget;
    uint32_t doc_tick;
    uint64_t doc_hits, doc_misses;
};

void souk__doc_cache_free(souk_searcher *s);

/* Units of work (documents visited, blocks loaded) between two looks at the clock. */
#define SOUK__TICK_UNITS 1024

/* Starts a search under the searcher's budget (match.c); nonzero when its deadline has
 * already passed (s->stopped set): the search should return at once, with nothing. */
int souk__budget_begin(souk_searcher *s);
/* The slow half of souk__tick: reads the clock, calls the stop callback when due. */
int souk__tick_slow(souk_searcher *s);

/* Charges units of work to the running search; nonzero once it must stop (its deadline passed
 * or it was cancelled; s->stopped says which). Cheap: a subtraction, and the clock read only
 * every SOUK__TICK_UNITS units. */
static inline int souk__tick(souk_searcher *s, int64_t units)
{
    s->tick_left -= units;
    return s->tick_left > 0 ? 0 : souk__tick_slow(s);
}

/* lexicon.c: q rewritten with l's synonyms and stop words into *out, or *out NULL when nothing
 * applies. With typo (SOUK_QP_TYPO), a word of 5+ letters also matches an expression's word one
 * edit away (two from 9 letters), and the alternatives it brings weigh typo_weight. */
int souk__lexicon_apply(const struct souk_lexicon *l, const souk_query *q, int typo,
                        double typo_weight, souk_query **out);

/* A copy of q (terms duplicated) with room for extra_nodes more nodes and extra_kids more
 * kids; *out owned by the caller (souk_query_free). */
int souk__query_clone(const souk_query *q, size_t extra_nodes, size_t extra_kids, souk_query **out);

/* q as the search runs it: the searcher's synonyms and stop words, then typo candidates with
 * SOUK_QP_TYPO (match.c). *t is NULL when nothing changes; else owned by the caller. */
int souk__rewrite_query(souk_searcher *s, const souk_query *q, const souk_search_opts *o,
                        souk_query **t, char *err, size_t errlen);

/* signals.c: the profile's signals. souk__sig_prepare readies them for q (NULL: boosts only)
 * and checks the profile's fields (SOUK_EINVAL with the reason in err); souk__sig_release
 * ends them. */
int souk__sig_prepare(souk_searcher *s, const souk_query *q, const souk_rank_profile *p, char *err,
                      size_t errlen);
void souk__sig_release(souk_searcher *s);
/* text plus docid's proximity bonus plus its boosts, in that order (docids ascending). */
double souk__sig_add(souk_searcher *s, uint32_t docid, double text);
/* The boosts of docid alone (their sum) and boost i with its field value (NAN: none). */
double souk__sig_boosts_only(const souk_searcher *s, uint32_t docid);
double souk__sig_boost(const souk_searcher *s, size_t i, uint32_t docid, double *value);
/* The proximity bonus of docid; *closeness the sum of 1/d^2 over close word pairs. */
double souk__sig_proximity(souk_searcher *s, uint32_t docid, double *closeness);
/* 1 when term is an unprefixed text term (a word or "Z" + its stem). */
int souk__sig_unprefixed(const char *term, size_t len);
/* term in the field of prefix p ("Zfoo" -> "Z" p "foo"); its length, 0 when over cap. */
size_t souk__sig_field_term(const char *t, size_t len, const char *p, char *out, size_t cap);

/* Dispatch; a cursor already at or past d stays. */
static inline int cur_skip_to(souk_searcher *s, cur *c, uint32_t d)
{
    if (c->did != 0 && c->did >= d)
        return 0;
    return c->ops->skip_to(s, c, d);
}

/* Fast paths for terms, the most frequent cursors: the next posting of a decoded block, and the
 * score of a posting whose wdfs are decoded (the same operations as the TERM cursor's own). */
static inline int cur_next(souk_searcher *s, cur *c)
{
    if (c->did == DID_END)
        return 0;
    if (c->kind == C_TERM && c->did) {
        term_cur *t = (term_cur *)c;
        if (t->docs_ready && t->i + 1 < t->n) {
            c->did = t->docs[++t->i];
            return 0;
        }
    }
    return c->ops->next(s, c);
}

static inline double souk__bm25_doc(souk_searcher *s, double termweight, uint32_t wdf,
                                    uint32_t docid);

static inline double cur_score(souk_searcher *s, cur *c)
{
    if (!c->scored)
        return 0;
    if (c->kind == C_TERM && ((term_cur *)c)->wdf_ready) {
        term_cur *t = (term_cur *)c;
        return c->factor * souk__bm25_doc(s, t->termweight, t->wdfs[t->i], c->did);
    }
    return c->ops->score(s, c);
}

/* The next that every operator without a faster one uses: skip past the current document. */
int souk__cur_next_by_skip(souk_searcher *s, cur *c);

/* Allocates a cursor of size bytes (at least sizeof(cur)) with nkids kid slots. */
cur *souk__cur_new(const cur_ops *ops, ckind kind, size_t size, uint32_t nkids);
void souk__cur_free(cur *c);

/* Length of docid in the snapshot (0 when absent). */
uint32_t souk__doclen(souk_searcher *s, uint32_t docid);

/* BM25 (engine/rank/bm25.h) for docid with its length normalisation cached per searcher: the
 * same operations as souk__bm25_sumpart, so the same result. souk__bm25_knorm computes and caches
 * the normalisation (the slow path). */
double souk__bm25_knorm(souk_searcher *s, uint32_t docid);
static inline double souk__bm25_doc(souk_searcher *s, double termweight, uint32_t wdf,
                                    uint32_t docid)
{
    double k = s->knorm[docid];
    if (k != k)
        k = souk__bm25_knorm(s, docid);
    double wdf_double = wdf;
    return termweight * (wdf_double / (k + wdf_double));
}

/* The operators (one file each). */
extern const cur_ops souk__term_ops;   /* match_term.c */
extern const cur_ops souk__or_ops;     /* match_or.c: OR, SYNONYM, wildcard expansions */
extern const cur_ops souk__and_ops;    /* match_and.c: AND */
extern const cur_ops souk__filter_ops; /* match_and.c: FILTER (first part scored) */
extern const cur_ops souk__phrase_ops; /* match_phrase.c: PHRASE and NEAR */
extern const cur_ops souk__andnot_ops; /* match_andnot.c */
extern const cur_ops souk__maybe_ops;  /* match_maybe.c */
extern const cur_ops souk__scale_ops;  /* match_scale.c */
extern const cur_ops souk__all_ops;    /* match_all.c: every document */
extern const cur_ops souk__none_ops;   /* match_all.c: no document */
extern const cur_ops souk__fields_ops; /* match_fields.c: a word under BM25F field weights */
/* FIELDS: the current document's weighted term frequency (moves the field terms to it). */
double souk__fields_tf(souk_searcher *s, cur *c);

/* Opens term's postings through the searcher's dictionary cache (SOUK_ENOTFOUND when the index
 * lacks the term). */
int souk__term_postings(souk_searcher *s, const char *term, size_t len, souk_postings *p);

/* TERM: a cursor over term's postings (a NONE cursor when the term is absent); NULL when out of
 * memory or on an index error, with the code in *rc. */
cur *souk__term_new(souk_searcher *s, const char *term, size_t len, uint32_t wqf, int *rc);
/* Moves a TERM cursor to the first posting >= d (MaxScore's probe), or past its block. */
int souk__term_skip_to(souk_searcher *s, cur *c, uint32_t d);
int souk__term_next_block(souk_searcher *s, cur *c);
/* Puts a TERM cursor on its block that may hold d (the first with last docid >= d), reading
 * only the block's header; the cursor's document becomes the block's first. Does nothing when
 * the current block may already hold d. */
int souk__term_load(souk_searcher *s, cur *c, uint32_t d);
/* wdf of the TERM cursor's current posting; its positions (*n of them at *p). */
uint32_t souk__term_wdf(cur *c);
int souk__term_positions(cur *c, const uint32_t **p, uint32_t *n);

/* ALL: every stored document; NULL when out of memory. */
cur *souk__all_new(souk_searcher *s);

/* Brings kids [0, n) of an AND-like cursor to one docid >= d (c->did; DID_END at the end). */
int souk__and_align(souk_searcher *s, cur *c, uint32_t n, uint32_t d);

/* What building a cursor tree needs (plan.c). */
typedef struct souk__plan_ctx {
    souk_searcher *s;
    const souk_query *q;
    char *err;
    size_t errlen;
    uint32_t max_expansions; /* wildcards: keep the most frequent completions; 0: all */
    int rc;                  /* an index error met while building (not the query's fault) */
    uint32_t nterms;         /* term cursors opened so far */
    uint32_t max_terms;      /* the expansion budget (souk_budget.max_terms) */
    int over;                /* the budget is exceeded: SOUK_ETOOBIG */
    uint32_t weight;         /* how many times the wildcard being built occurs (merged) */
    int in_phrase;           /* building a phrase's terms: no field expansion */
} souk__plan_ctx;
/* Builds the cursor tree of node idx of b->q; NULL with b->rc, b->over or b->err set. */
cur *souk__plan_build(souk__plan_ctx *b, uint32_t idx);
/* Readies the searcher for q under o (BM25 parameters, the profile's signals) and builds q's
 * cursor tree into *root (match.c); release with souk__finish. */
int souk__prepare(souk_searcher *s, const souk_query *q, const souk_search_opts *o, cur **root,
                  char *err, size_t errlen);
void souk__finish(souk_searcher *s, cur *root);
/* Makes the length-normalisation cache valid for the searcher's snapshot and parameters. */
int souk__knorm_prepare(souk_searcher *s);
/* Runs root for the k = o->k best hits into hits (sorted), choosing MaxScore, block-max AND or
 * an exhaustive walk. */
int souk__topk_run(souk_searcher *s, cur *root, const souk_search_opts *o, souk_hit *hits,
                   size_t *nhits, souk_search_stats *st);

#endif
