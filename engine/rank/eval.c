/* eval.c: TREC-style relevance evaluation (see souk/eval.h). Every (query, document) pair that
 * is judged or ranked is one record, found through an open-addressing hash table; queries are
 * interned the same way. souk_eval_compute buckets the records by query, sorts each run and
 * computes the metrics. */
#include "core/hashtab.h"
#include "souk/buf.h"
#include "souk/eval.h"
#include "souk/souk.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NDCG_DEPTH 10
#define P_DEPTH 10

typedef struct eval_pair {
    char *docid;
    size_t q;      /* index in queries */
    uint64_t hash; /* of (q, docid) */
    double score;
    int grade;
    unsigned char judged;
    unsigned char ranked;
} eval_pair;

typedef struct eval_qry {
    char *qid;
    uint64_t hash;
} eval_qry;

struct souk_eval {
    souk_eval_ties ties;
    unsigned k;       /* cut-off of nDCG@k, P@k, Recall@k */
    size_t max_pairs; /* 0: no bound */
    unsigned res_k;   /* the k of the last computation */
    eval_qry *queries;
    size_t nqueries, capqueries;
    eval_pair *pairs;
    size_t npairs, cappairs;
    souk_itab qtab;       /* qid -> queries index */
    souk_itab ptab;       /* (query, docid) -> pairs index */
    souk_eval_query *res; /* last computation, sorted by qid */
    size_t nres;
};

static uint64_t hash_bytes(uint64_t h, const char *s)
{
    /* FNV-1a, 64-bit */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

static uint64_t hash_qid(const char *qid)
{
    return hash_bytes(14695981039346656037ull, qid);
}

static uint64_t hash_pair(size_t q, const char *docid)
{
    uint64_t h = 14695981039346656037ull ^ (uint64_t)q;
    h *= 1099511628211ull;
    return hash_bytes(h, docid);
}

/* The stored hashes of query i and pair i, for the tables' growth. */
static uint64_t query_hash(const void *ctx, size_t i)
{
    return ((const souk_eval *)ctx)->queries[i].hash;
}

static uint64_t pair_hash(const void *ctx, size_t i)
{
    return ((const souk_eval *)ctx)->pairs[i].hash;
}

static char *dup_str(const char *s)
{
    return souk_strndup(s, strlen(s));
}

/* Finds or adds query qid; writes its index to *q. */
static int intern_query(souk_eval *e, const char *qid, size_t *q)
{
    uint64_t h = hash_qid(qid);
    int rc = souk_itab_reserve(&e->qtab, e->nqueries, 64, query_hash, e);
    if (rc)
        return rc;
    size_t j = souk_itab_first(&e->qtab, h);
    for (; e->qtab.slot[j]; j = souk_itab_next(&e->qtab, j)) {
        const eval_qry *qq = &e->queries[e->qtab.slot[j] - 1];
        if (qq->hash == h && strcmp(qq->qid, qid) == 0) {
            *q = e->qtab.slot[j] - 1;
            return SOUK_OK;
        }
    }
    if (souk_grow((void **)&e->queries, &e->capqueries, e->nqueries + 1, sizeof *e->queries,
                  SIZE_MAX))
        return SOUK_ENOMEM;
    char *copy = dup_str(qid);
    if (!copy)
        return SOUK_ENOMEM;
    e->queries[e->nqueries] = (eval_qry){copy, h};
    e->qtab.slot[j] = (uint32_t)++e->nqueries;
    *q = e->nqueries - 1;
    return SOUK_OK;
}

/* Finds or adds the pair (qid, docid); writes it to *out. */
static int intern_pair(souk_eval *e, const char *qid, const char *docid, eval_pair **out)
{
    size_t q;
    int rc = intern_query(e, qid, &q);
    if (rc)
        return rc;
    uint64_t h = hash_pair(q, docid);
    rc = souk_itab_reserve(&e->ptab, e->npairs, 64, pair_hash, e);
    if (rc)
        return rc;
    size_t j = souk_itab_first(&e->ptab, h);
    for (; e->ptab.slot[j]; j = souk_itab_next(&e->ptab, j)) {
        eval_pair *p = &e->pairs[e->ptab.slot[j] - 1];
        if (p->hash == h && p->q == q && strcmp(p->docid, docid) == 0) {
            *out = p;
            return SOUK_OK;
        }
    }
    if (e->max_pairs && e->npairs >= e->max_pairs)
        return SOUK_ETOOBIG;
    if (souk_grow((void **)&e->pairs, &e->cappairs, e->npairs + 1, sizeof *e->pairs,
                  e->max_pairs ? e->max_pairs : SIZE_MAX))
        return SOUK_ENOMEM;
    char *copy = dup_str(docid);
    if (!copy)
        return SOUK_ENOMEM;
    e->pairs[e->npairs] = (eval_pair){.docid = copy, .q = q, .hash = h};
    e->ptab.slot[j] = (uint32_t)++e->npairs;
    *out = &e->pairs[e->npairs - 1];
    return SOUK_OK;
}

souk_eval *souk_eval_new(void)
{
    souk_eval *e = souk_calloc(1, sizeof *e);
    if (e) {
        e->ties = SOUK_EVAL_TIES_TREC;
        e->k = 10;
    }
    return e;
}

int souk_eval_set_k(souk_eval *e, unsigned k)
{
    if (!e || k < 1 || k > SOUK_EVAL_MAX_K)
        return SOUK_EINVAL;
    e->k = k;
    return SOUK_OK;
}

int souk_eval_set_max_pairs(souk_eval *e, size_t max)
{
    if (!e)
        return SOUK_EINVAL;
    e->max_pairs = max;
    return SOUK_OK;
}

void souk_eval_free(souk_eval *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->nqueries; i++)
        souk_free(e->queries[i].qid);
    for (size_t i = 0; i < e->npairs; i++)
        souk_free(e->pairs[i].docid);
    souk_free(e->queries);
    souk_free(e->pairs);
    souk_itab_free(&e->qtab);
    souk_itab_free(&e->ptab);
    souk_free(e->res);
    souk_free(e);
}

int souk_eval_set_ties(souk_eval *e, souk_eval_ties ties)
{
    if (!e || (ties != SOUK_EVAL_TIES_TREC && ties != SOUK_EVAL_TIES_DOCID_ASC))
        return SOUK_EINVAL;
    e->ties = ties;
    return SOUK_OK;
}

int souk_eval_judge(souk_eval *e, const char *qid, const char *docid, int grade)
{
    if (!e || !qid || !*qid || !docid || !*docid)
        return SOUK_EINVAL;
    eval_pair *p;
    int rc = intern_pair(e, qid, docid, &p);
    if (rc)
        return rc;
    if (p->judged)
        return SOUK_EINVAL;
    p->judged = 1;
    p->grade = grade;
    return SOUK_OK;
}

int souk_eval_result(souk_eval *e, const char *qid, const char *docid, double score)
{
    if (!e || !qid || !*qid || !docid || !*docid || isnan(score))
        return SOUK_EINVAL;
    eval_pair *p;
    int rc = intern_pair(e, qid, docid, &p);
    if (rc)
        return rc;
    if (p->ranked)
        return SOUK_EINVAL;
    p->ranked = 1;
    p->score = score;
    return SOUK_OK;
}

/* ------------------------------------------------------------------ TREC files */

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Splits line in place at blanks (space, tab, CR, VT, FF); stores up to max tokens and returns
 * how many there are in all. */
static size_t split_fields(char *line, char **tok, size_t max)
{
    size_t n = 0;
    char *s = line;
    for (;;) {
        while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\v' || *s == '\f' || *s == '\n')
            s++;
        if (!*s)
            return n;
        if (n < max)
            tok[n] = s;
        n++;
        while (*s && *s != ' ' && *s != '\t' && *s != '\r' && *s != '\v' && *s != '\f' &&
               *s != '\n')
            s++;
        if (*s)
            *s++ = '\0';
    }
}

enum { FILE_QRELS, FILE_RUN };

/* Parses one non-blank line of a qrels or run file and adds it. */
static int add_line(souk_eval *e, int kind, char **tok, size_t ntok, const char *path,
                    size_t lineno, char *err, size_t errlen)
{
    if (kind == FILE_QRELS) {
        if (ntok != 4) {
            set_err(err, errlen, "%s:%zu: expected 4 fields 'qid iteration docid grade', found %zu",
                    path, lineno, ntok);
            return SOUK_EINVAL;
        }
        char *end;
        errno = 0;
        long g = strtol(tok[3], &end, 10);
        if (*end || errno || g < -1000000 || g > 1000000) {
            set_err(err, errlen, "%s:%zu: grade '%s' is not an integer", path, lineno, tok[3]);
            return SOUK_EINVAL;
        }
        int rc = souk_eval_judge(e, tok[0], tok[2], (int)g);
        if (rc == SOUK_ETOOBIG)
            set_err(err, errlen, "%s:%zu: more than %zu judged or ranked documents in all", path,
                    lineno, e->max_pairs);
        else if (rc == SOUK_EINVAL)
            set_err(err, errlen, "%s:%zu: document '%s' is judged twice for query '%s'", path,
                    lineno, tok[2], tok[0]);
        else if (rc)
            set_err(err, errlen, "%s:%zu: %s", path, lineno, souk_strerror(rc));
        return rc;
    }
    if (ntok != 6) {
        set_err(err, errlen, "%s:%zu: expected 6 fields 'qid Q0 docid rank score tag', found %zu",
                path, lineno, ntok);
        return SOUK_EINVAL;
    }
    char *end;
    errno = 0;
    double score = strtod(tok[4], &end);
    if (*end || end == tok[4] || isnan(score)) {
        set_err(err, errlen, "%s:%zu: score '%s' is not a number", path, lineno, tok[4]);
        return SOUK_EINVAL;
    }
    int rc = souk_eval_result(e, tok[0], tok[2], score);
    if (rc == SOUK_ETOOBIG)
        set_err(err, errlen, "%s:%zu: more than %zu judged or ranked documents in all", path,
                lineno, e->max_pairs);
    else if (rc == SOUK_EINVAL)
        set_err(err, errlen, "%s:%zu: document '%s' appears twice in the run of query '%s'", path,
                lineno, tok[2], tok[0]);
    else if (rc)
        set_err(err, errlen, "%s:%zu: %s", path, lineno, souk_strerror(rc));
    return rc;
}

static int load_file(souk_eval *e, int kind, const char *path, char *err, size_t errlen)
{
    if (!e || !path) {
        set_err(err, errlen, "invalid argument");
        return SOUK_EINVAL;
    }
    FILE *fp = fopen(path, "r");
    if (!fp) {
        set_err(err, errlen, "cannot open '%s': %s", path, strerror(errno));
        return SOUK_EIO;
    }
    char *line = NULL; /* getline's buffer, from the C library */
    size_t cap = 0, lineno = 0;
    int rc = SOUK_OK;
    while (getline(&line, &cap, fp) >= 0) {
        lineno++;
        char *tok[6];
        size_t ntok = split_fields(line, tok, 6);
        if (ntok == 0)
            continue;
        rc = add_line(e, kind, tok, ntok, path, lineno, err, errlen);
        if (rc)
            goto out;
    }
    if (ferror(fp)) {
        set_err(err, errlen, "cannot read '%s': %s", path, strerror(errno));
        rc = SOUK_EIO;
    }
out:
    free(line);
    fclose(fp);
    return rc;
}

int souk_eval_load_qrels(souk_eval *e, const char *path, char *err, size_t errlen)
{
    return load_file(e, FILE_QRELS, path, err, errlen);
}

int souk_eval_load_run(souk_eval *e, const char *path, char *err, size_t errlen)
{
    return load_file(e, FILE_RUN, path, err, errlen);
}

/* ------------------------------------------------------------------ metrics */

static int cmp_ranked_trec(const void *a, const void *b)
{
    const eval_pair *x = *(const eval_pair *const *)a, *y = *(const eval_pair *const *)b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return strcmp(y->docid, x->docid);
}

static int cmp_ranked_asc(const void *a, const void *b)
{
    const eval_pair *x = *(const eval_pair *const *)a, *y = *(const eval_pair *const *)b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return strcmp(x->docid, y->docid);
}

static int cmp_int_desc(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x < y) - (x > y);
}

static int all_digits(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return 0;
    }
    return 1;
}

static int cmp_qid(const char *a, const char *b)
{
    if (all_digits(a) && all_digits(b)) {
        const char *x = a, *y = b;
        while (*x == '0' && x[1])
            x++;
        while (*y == '0' && y[1])
            y++;
        size_t lx = strlen(x), ly = strlen(y);
        if (lx != ly)
            return lx < ly ? -1 : 1;
        int c = strcmp(x, y);
        if (c)
            return c;
    }
    return strcmp(a, b);
}

static int cmp_result(const void *a, const void *b)
{
    return cmp_qid(((const souk_eval_query *)a)->qid, ((const souk_eval_query *)b)->qid);
}

/* DCG of the first depth gains of a ranking: sum of gain / log2(rank + 1). The one DCG of the
 * project: the run's (grade of each retrieved relevant document, 0 otherwise) and the ideal
 * (the judged grades sorted descending) both come here. */
static double dcg(const int *gains, size_t n, size_t depth)
{
    double d = 0;
    for (size_t k = 0; k < n && k < depth; k++)
        if (gains[k] > 0)
            d += (double)gains[k] / log2((double)(k + 2));
    return d;
}

/* Scores one query from its ranked pairs (sorted) and its relevant grades (sorted
 * descending); gains is scratch of nret entries. */
static void score_query(souk_eval_query *r, eval_pair **ranked, size_t nret, const int *grades,
                        size_t nrel, unsigned kcut, int *gains)
{
    r->nrel = nrel;
    r->nret = nret;
    r->counted = nrel > 0;
    double ap = 0, rr = 0;
    size_t hits = 0, hits10 = 0, hitsk = 0;
    for (size_t k = 0; k < nret; k++) {
        const eval_pair *p = ranked[k];
        int rel = p->judged && p->grade > 0;
        gains[k] = rel ? p->grade : 0;
        if (!rel)
            continue;
        hits++;
        ap += (double)hits / (double)(k + 1);
        if (hits == 1)
            rr = 1.0 / (double)(k + 1);
        if (k < P_DEPTH)
            hits10++;
        if (k < kcut)
            hitsk++;
    }
    double idcg10 = dcg(grades, nrel, NDCG_DEPTH), idcgk = dcg(grades, nrel, kcut);
    r->nrel_ret = hits;
    r->ap = nrel ? ap / (double)nrel : 0;
    r->ndcg10 = idcg10 > 0 ? dcg(gains, nret, NDCG_DEPTH) / idcg10 : 0;
    r->p10 = nrel ? (double)hits10 / P_DEPTH : 0;
    r->rr = nrel ? rr : 0;
    r->ndcg_k = idcgk > 0 ? dcg(gains, nret, kcut) / idcgk : 0;
    r->p_k = nrel ? (double)hitsk / (double)kcut : 0;
    r->recall_k = nrel ? (double)hitsk / (double)nrel : 0;
}

int souk_eval_compute(souk_eval *e, souk_eval_scores *out)
{
    if (!e)
        return SOUK_EINVAL;
    int rc = SOUK_ENOMEM;
    size_t nq = e->nqueries, np = e->npairs;
    /* Bucket the pairs by query: start[q] .. start[q + 1] in order[]. */
    size_t *start = souk_calloc(nq + 1, sizeof *start);
    eval_pair **order = souk_malloc((np ? np : 1) * sizeof *order);
    eval_pair **ranked = souk_malloc((np ? np : 1) * sizeof *ranked);
    int *grades = souk_malloc((np ? np : 1) * sizeof *grades);
    int *gains = souk_malloc((np ? np : 1) * sizeof *gains);
    souk_eval_query *res = souk_calloc(nq ? nq : 1, sizeof *res);
    if (!start || !order || !ranked || !grades || !gains || !res)
        goto fail;
    for (size_t i = 0; i < np; i++)
        start[e->pairs[i].q + 1]++;
    for (size_t q = 0; q < nq; q++)
        start[q + 1] += start[q];
    for (size_t i = 0; i < np; i++) {
        size_t q = e->pairs[i].q;
        order[start[q]++] = &e->pairs[i];
    }
    for (size_t q = nq; q > 0; q--)
        start[q] = start[q - 1];
    start[0] = 0;

    souk_eval_scores sum = {0};
    for (size_t q = 0; q < nq; q++) {
        size_t nret = 0, nrel = 0;
        for (size_t i = start[q]; i < start[q + 1]; i++) {
            eval_pair *p = order[i];
            if (p->ranked)
                ranked[nret++] = p;
            if (p->judged && p->grade > 0)
                grades[nrel++] = p->grade;
        }
        qsort(ranked, nret, sizeof *ranked,
              e->ties == SOUK_EVAL_TIES_DOCID_ASC ? cmp_ranked_asc : cmp_ranked_trec);
        qsort(grades, nrel, sizeof *grades, cmp_int_desc);
        souk_eval_query *r = &res[q];
        r->qid = e->queries[q].qid;
        score_query(r, ranked, nret, grades, nrel, e->k, gains);
        if (r->counted) {
            sum.map += r->ap;
            sum.ndcg10 += r->ndcg10;
            sum.p10 += r->p10;
            sum.mrr += r->rr;
            sum.ndcg_k += r->ndcg_k;
            sum.p_k += r->p_k;
            sum.recall_k += r->recall_k;
            sum.nqueries++;
        }
    }
    qsort(res, nq, sizeof *res, cmp_result);
    if (sum.nqueries) {
        double n = (double)sum.nqueries;
        sum.map /= n;
        sum.ndcg10 /= n;
        sum.p10 /= n;
        sum.mrr /= n;
        sum.ndcg_k /= n;
        sum.p_k /= n;
        sum.recall_k /= n;
    }
    sum.k = e->k;
    e->res_k = e->k;
    souk_free(e->res);
    e->res = res;
    e->nres = nq;
    res = NULL;
    if (out)
        *out = sum;
    rc = SOUK_OK;
fail:
    souk_free(start);
    souk_free(order);
    souk_free(ranked);
    souk_free(grades);
    souk_free(gains);
    souk_free(res);
    return rc;
}

size_t souk_eval_nqueries(const souk_eval *e)
{
    return e ? e->nres : 0;
}

int souk_eval_query_at(const souk_eval *e, size_t i, souk_eval_query *out)
{
    if (!e || !out || i >= e->nres)
        return SOUK_EINVAL;
    *out = e->res[i];
    return SOUK_OK;
}

int souk_eval_query_find(const souk_eval *e, const char *qid, souk_eval_query *out)
{
    if (!e || !qid || !out)
        return SOUK_EINVAL;
    size_t lo = 0, hi = e->nres;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp_qid(e->res[mid].qid, qid);
        if (c == 0) {
            *out = e->res[mid];
            return SOUK_OK;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return SOUK_ENOTFOUND;
}

/* ------------------------------------------------------------------ deltas */

static int cmp_delta(const void *a, const void *b)
{
    const souk_eval_delta *x = a, *y = b;
    double dx = fabs(x->ndcg_k), dy = fabs(y->ndcg_k);
    if (dx != dy)
        return dx > dy ? -1 : 1;
    dx = fabs(x->ap);
    dy = fabs(y->ap);
    if (dx != dy)
        return dx > dy ? -1 : 1;
    return cmp_qid(x->qid, y->qid);
}

int souk_eval_deltas(const souk_eval *a, const souk_eval *b, souk_eval_delta **out, size_t *n)
{
    if (!a || !b || !out || !n || a->res_k != b->res_k)
        return SOUK_EINVAL;
    souk_eval_delta *d = souk_calloc(a->nres + b->nres + 1, sizeof *d);
    if (!d)
        return SOUK_ENOMEM;
    size_t m = 0;
    static const souk_eval_query none;
    /* Both result lists are sorted by qid: merge them. */
    size_t i = 0, j = 0;
    while (i < a->nres || j < b->nres) {
        int c = i == a->nres ? 1 : j == b->nres ? -1 : cmp_qid(a->res[i].qid, b->res[j].qid);
        const souk_eval_query *x = c <= 0 ? &a->res[i] : &none;
        const souk_eval_query *y = c >= 0 ? &b->res[j] : &none;
        const char *qid = c <= 0 ? a->res[i].qid : b->res[j].qid;
        if (c <= 0)
            i++;
        if (c >= 0)
            j++;
        if (!x->counted && !y->counted)
            continue;
        d[m++] = (souk_eval_delta){.qid = qid,
                                   .ap = y->ap - x->ap,
                                   .ndcg_k = y->ndcg_k - x->ndcg_k,
                                   .p_k = y->p_k - x->p_k,
                                   .recall_k = y->recall_k - x->recall_k,
                                   .rr = y->rr - x->rr,
                                   .ap_a = x->ap,
                                   .ndcg_k_a = x->ndcg_k};
    }
    qsort(d, m, sizeof *d, cmp_delta);
    *out = d;
    *n = m;
    return SOUK_OK;
}
