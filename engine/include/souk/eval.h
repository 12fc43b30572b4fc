/* eval.h: offline relevance evaluation in the manner of trec_eval. Relevance judgements (qrels)
 * and a ranked run are loaded from TREC files or added one by one, then MAP, nDCG@10, P@10, MRR
 * and, at a cut-off k (souk_eval_set_k, default 10), nDCG@k, P@k and Recall@k are computed per
 * query and averaged. This file is the project's one implementation of these metrics: souk-eval
 * and POST /v1/rank-eval both compute through it.
 *
 * Definitions (a document is relevant when its grade is > 0; unjudged documents are
 * non-relevant; R is the number of relevant judged documents of the query):
 *   AP      = sum over the ranks k of relevant retrieved documents of P@k, divided by R. The
 *             whole run is used (no 1000-document cut-off as in trec_eval's default).
 *   nDCG@10 = DCG@10 / IDCG@10 with DCG@10 = sum over k = 1..10 of gain(k) / log2(k + 1) and
 *             gain = the grade itself when > 0, else 0 (linear gain, as trec_eval's ndcg_cut,
 *             not 2^grade - 1). IDCG@10 is the DCG@10 of the judged grades sorted descending.
 *             Callers map their grades to gains before adding them, e.g. Cranfield's scale
 *             1 (best) .. 4 (least) as gain 5 - grade.
 *   P@10    = relevant documents among the first 10, divided by 10 (also for shorter runs).
 *   RR      = 1 / rank of the first relevant document, 0 if none is retrieved.
 *   nDCG@k, P@k: as nDCG@10 and P@10 with the cut-off k instead of 10.
 *   Recall@k = relevant documents among the first k, divided by R (trec_eval's recall_k).
 * The averages (MAP, mean nDCG@10, mean P@10, MRR) are over the queries that have at least one
 * relevant judgement; such a query with no results in the run scores 0 on every metric. Queries
 * without a relevant judgement (only in the run, or judged all non-relevant) are reported per
 * query but do not count in the averages.
 *
 * Ranking: a query's results are ordered by score, descending. Equal scores are ordered by
 * document id (strcmp), DESCENDING by default: that is what trec_eval actually does (its
 * comp_sim_docno compares ptr2->docno with ptr1->docno). SOUK_EVAL_TIES_DOCID_ASC selects
 * ascending document ids instead. The rank column of a run file is ignored, as in trec_eval.
 *
 * Threads: an evaluator belongs to one thread at a time. */
#ifndef SOUK_EVAL_H
#define SOUK_EVAL_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct souk_eval souk_eval;

/* How results with equal scores are ordered. */
typedef enum souk_eval_ties {
    SOUK_EVAL_TIES_TREC = 0,     /* document id descending, as trec_eval (the default) */
    SOUK_EVAL_TIES_DOCID_ASC = 1 /* document id ascending */
} souk_eval_ties;

/* Averages over the queries with at least one relevant judgement. */
typedef struct souk_eval_scores {
    double map;      /* mean average precision */
    double ndcg10;   /* mean nDCG@10 */
    double p10;      /* mean precision at 10 */
    double mrr;      /* mean reciprocal rank */
    size_t nqueries; /* queries averaged over (0: every average is 0) */
    unsigned k;      /* the cut-off of the three below */
    double ndcg_k;   /* mean nDCG@k */
    double p_k;      /* mean precision at k */
    double recall_k; /* mean recall at k */
} souk_eval_scores;

/* Scores of one query. */
typedef struct souk_eval_query {
    const char *qid; /* borrowed: valid until the evaluator is freed */
    double ap;
    double ndcg10;
    double p10;
    double rr;
    double ndcg_k; /* at the evaluator's cut-off k */
    double p_k;
    double recall_k;
    size_t nrel;     /* judged relevant documents (grade > 0) */
    size_t nret;     /* documents in the run */
    size_t nrel_ret; /* relevant documents in the run */
    int counted;     /* 1 when nrel > 0, i.e. the query counts in the averages */
} souk_eval_query;

/* Returns a new, empty evaluator owned by the caller (souk_eval_free), or NULL when out of
 * memory. */
souk_eval *souk_eval_new(void);

/* Frees the evaluator and everything it holds. NULL is allowed. */
void souk_eval_free(souk_eval *e);

/* Chooses the order of equal scores for later computations. Returns SOUK_EINVAL for an unknown
 * value. */
int souk_eval_set_ties(souk_eval *e, souk_eval_ties ties);

/* The cut-off k of nDCG@k, P@k and Recall@k in later computations (default 10). Returns
 * SOUK_EINVAL unless 1 <= k <= SOUK_EVAL_MAX_K. */
#define SOUK_EVAL_MAX_K 10000
int souk_eval_set_k(souk_eval *e, unsigned k);

/* Bounds the memory of the evaluator: at most max (query, document) pairs, judged or ranked,
 * are held (0: no bound, the default). Past it souk_eval_judge and souk_eval_result return
 * SOUK_ETOOBIG and the file loaders name the file and line. A pair costs about 60 bytes plus
 * its document id. */
int souk_eval_set_max_pairs(souk_eval *e, size_t max);

/* Records that document docid has grade `grade` for query qid (grade <= 0: non-relevant; > 0:
 * relevant, and the gain of nDCG). The strings are copied. Returns SOUK_EINVAL for a NULL or
 * empty id or when this (qid, docid) is already judged, SOUK_ENOMEM when out of memory. */
int souk_eval_judge(souk_eval *e, const char *qid, const char *docid, int grade);

/* Adds document docid with score `score` to the run of query qid. The strings are copied.
 * Returns SOUK_EINVAL for a NULL or empty id, a NaN score, or when docid is already in the run
 * of qid; SOUK_ENOMEM when out of memory. */
int souk_eval_result(souk_eval *e, const char *qid, const char *docid, double score);

/* Adds the judgements of a TREC qrels file: lines "qid iteration docid grade" separated by
 * spaces or tabs (the iteration is ignored, the grade is an integer); blank lines are skipped
 * and CRLF endings accepted. Returns SOUK_EIO when the file cannot be read, SOUK_EINVAL for a
 * malformed line or a duplicate (err names the file and line number), SOUK_ENOMEM. On failure
 * the lines before the bad one stay added: free the evaluator. err may be NULL. */
int souk_eval_load_qrels(souk_eval *e, const char *path, char *err, size_t errlen);

/* Adds the results of a TREC run file: lines "qid Q0 docid rank score tag" (exactly six fields;
 * the Q0, rank and tag columns are ignored, the score is a number). Same errors and behaviour
 * as souk_eval_load_qrels. */
int souk_eval_load_run(souk_eval *e, const char *path, char *err, size_t errlen);

/* Computes every query's scores and the averages, written to *out (which may be NULL when only
 * the per-query scores are wanted). May be called again after more judgements or results are
 * added. Returns SOUK_ENOMEM when out of memory (then *out is untouched). */
int souk_eval_compute(souk_eval *e, souk_eval_scores *out);

/* Number of queries known at the last souk_eval_compute (every qid of the qrels or the run), 0
 * before the first. */
size_t souk_eval_nqueries(const souk_eval *e);

/* Writes the scores of the i-th query of the last computation to *out. Queries are ordered by
 * qid: numerically when both ids are all digits, else by strcmp. Returns SOUK_EINVAL when i is
 * out of range. */
int souk_eval_query_at(const souk_eval *e, size_t i, souk_eval_query *out);

/* Writes the scores of query qid from the last computation to *out. Returns SOUK_ENOTFOUND
 * when the query was not part of it. */
int souk_eval_query_find(const souk_eval *e, const char *qid, souk_eval_query *out);

/* One query's change from a baseline run a to a run b (b minus a). */
typedef struct souk_eval_delta {
    const char *qid; /* borrowed from a (or b when a lacks it): valid while both live */
    double ap, ndcg_k, p_k, recall_k, rr; /* b - a */
    double ap_a, ndcg_k_a;                /* a's values, for display */
} souk_eval_delta;

/* The per-query deltas between the last computations of a and b (same cut-off k), over the
 * queries that count in the averages of either, sorted by impact: |delta nDCG@k| descending,
 * then |delta AP| descending, then qid. A query counted in one only is compared with 0 on the
 * other side. *out (souk_free) holds *n entries. Returns SOUK_EINVAL when the cut-offs differ,
 * SOUK_ENOMEM. */
int souk_eval_deltas(const souk_eval *a, const souk_eval *b, souk_eval_delta **out, size_t *n);

#ifdef __cplusplus
}
#endif
#endif
