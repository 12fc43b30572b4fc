/* souk_eval.c: souk-eval, relevance evaluation from TREC files (docs/evaluation.md, "Rank
 * evaluation").
 *
 *   souk-eval [--k N] [--json] [--per-query] [--deltas N] [--ties trec|asc] [--max-pairs N]
 *             QRELS RUN [RUN...]
 *   souk-eval run --data DIR --topics FILE [--depth N] [--tag T] [--and] [--lang L] [--out FILE]
 *
 * The first form reads TREC qrels ("qid iteration docno grade") and one or more TREC run files
 * ("qid Q0 docno rank score tag"), from any engine, and prints per run MAP, nDCG@k, P@k,
 * Recall@k and MRR (overall, and per query with --per-query or --json), then the per-query
 * deltas between the first two runs, sorted by impact. The metrics are souk/eval.h's.
 *
 * The second form writes a TREC run from a Souk index: one search per line of the topics file
 * ("qid query text..."), the top --depth hits (default 1000) with their scores, by the same
 * souk_search the server's relevance path calls with default ranking.
 *
 * Exit status: 0, 1 on an error of the data (the message names the file and line), 2 on a usage
 * error. */
#include "souk/eval.h"
#include "souk/search.h"
#include "souk/souk.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_MAX_PAIRS 20000000u /* about 1.5 GB of evaluator state at most */
#define TOPIC_MAX 65536             /* bytes of one line of a topics file */

static void usage(void)
{
    fprintf(stderr,
            "usage: souk-eval [--k N] [--json] [--per-query] [--deltas N] [--ties trec|asc]\n"
            "                 [--max-pairs N] QRELS RUN [RUN...]\n"
            "       souk-eval run --data DIR --topics FILE [--depth N] [--tag T] [--and]\n"
            "                 [--lang L] [--out FILE]\n");
}

/* Parses a decimal integer in [min, max] for option name; 0 or -1 (message printed). */
static int parse_num(const char *name, const char *s, unsigned long min, unsigned long max,
                     unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end || errno || *s == '-' || v < min || v > max) {
        fprintf(stderr, "souk-eval: %s must be an integer from %lu to %lu, not '%s'\n", name, min,
                max, s);
        return -1;
    }
    *out = v;
    return 0;
}

/* ------------------------------------------------------------------ run: a run file from an index
 */

static int write_run(int argc, char **argv)
{
    const char *data = NULL, *topics = NULL, *tag = "souk", *out = NULL;
    souk_search_opts o = {1000, SOUK_BM25_DEFAULT, 0, NULL, 0, 0, NULL};
    for (int i = 2; i < argc; i++) {
        unsigned long v;
        if (strcmp(argv[i], "--data") == 0 && i + 1 < argc)
            data = argv[++i];
        else if (strcmp(argv[i], "--topics") == 0 && i + 1 < argc)
            topics = argv[++i];
        else if (strcmp(argv[i], "--tag") == 0 && i + 1 < argc)
            tag = argv[++i];
        else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            out = argv[++i];
        else if (strcmp(argv[i], "--lang") == 0 && i + 1 < argc)
            o.lang = argv[++i];
        else if (strcmp(argv[i], "--and") == 0)
            o.qp_flags |= SOUK_QP_DEFAULT_AND;
        else if (strcmp(argv[i], "--depth") == 0 && i + 1 < argc) {
            if (parse_num("--depth", argv[++i], 1, 100000, &v))
                return 2;
            o.k = (uint32_t)v;
        } else {
            fprintf(stderr, "souk-eval run: unknown argument '%s'\n", argv[i]);
            usage();
            return 2;
        }
    }
    if (!data || !topics) {
        usage();
        return 2;
    }
    for (const char *t = tag; *t; t++)
        if (*t == ' ' || *t == '\t' || *t == '\n' || *t == '\r') {
            fprintf(stderr, "souk-eval run: --tag may not contain blanks\n");
            return 2;
        }
    char err[512];
    FILE *in = fopen(topics, "r");
    if (!in) {
        fprintf(stderr, "souk-eval run: cannot open '%s': %s\n", topics, strerror(errno));
        return 1;
    }
    souk_index *ix;
    if (souk_index_open(data, NULL, SOUK_INDEX_RDONLY, &ix, err, sizeof err)) {
        fprintf(stderr, "souk-eval run: %s\n", err);
        fclose(in);
        return 1;
    }
    souk_searcher *s = NULL;
    souk_hit *hits = souk_calloc(o.k, sizeof *hits);
    FILE *fo = out ? fopen(out, "w") : stdout;
    int rc = 0;
    if (!fo) {
        fprintf(stderr, "souk-eval run: cannot create '%s': %s\n", out, strerror(errno));
        rc = 1;
        goto done;
    }
    if (!hits || souk_searcher_new(ix, &s)) {
        fprintf(stderr, "souk-eval run: cannot read the index\n");
        rc = 1;
        goto done;
    }
    char *line = NULL; /* getline's buffer, from the C library */
    size_t cap = 0, lineno = 0, nq = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, in)) >= 0) {
        lineno++;
        if ((size_t)len > TOPIC_MAX) {
            fprintf(stderr, "souk-eval run: %s:%zu: the line is longer than %d bytes\n", topics,
                    lineno, TOPIC_MAX);
            rc = 1;
            break;
        }
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            continue;
        char *qid = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        if (*p)
            *p++ = '\0';
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p) {
            fprintf(stderr, "souk-eval run: %s:%zu: expected 'qid query text', found no query\n",
                    topics, lineno);
            rc = 1;
            break;
        }
        size_t n = 0;
        souk_search_stats st;
        if (souk_search(s, p, strlen(p), &o, hits, &n, &st, err, sizeof err)) {
            fprintf(stderr, "souk-eval run: %s:%zu: query '%s': %s\n", topics, lineno, qid, err);
            rc = 1;
            break;
        }
        for (size_t i = 0; i < n; i++) {
            const char *id, *json;
            size_t il, jl;
            if (souk_reader_doc(souk_searcher_reader(s), hits[i].docid, &id, &il, &json, &jl))
                continue;
            fprintf(fo, "%s Q0 %.*s %zu %.17g %s\n", qid, (int)il, id, i + 1, hits[i].score, tag);
        }
        nq++;
    }
    free(line);
    if (!rc && ferror(in)) {
        fprintf(stderr, "souk-eval run: cannot read '%s'\n", topics);
        rc = 1;
    }
    if (fo && (fflush(fo) || ferror(fo))) {
        fprintf(stderr, "souk-eval run: cannot write the run: %s\n", strerror(errno));
        rc = 1;
    }
    if (!rc)
        fprintf(stderr, "souk-eval run: %zu queries, top %u each\n", nq, o.k);
done:
    if (fo && fo != stdout)
        fclose(fo);
    fclose(in);
    souk_free(hits);
    souk_searcher_free(s);
    souk_index_close(ix);
    return rc;
}

/* ------------------------------------------------------------------ evaluation */

static cJSON *query_json(const souk_eval_query *q)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "qid", q->qid);
    cJSON_AddNumberToObject(o, "ap", q->ap);
    cJSON_AddNumberToObject(o, "ndcg", q->ndcg_k);
    cJSON_AddNumberToObject(o, "precision", q->p_k);
    cJSON_AddNumberToObject(o, "recall", q->recall_k);
    cJSON_AddNumberToObject(o, "rr", q->rr);
    cJSON_AddNumberToObject(o, "relevant", (double)q->nrel);
    cJSON_AddNumberToObject(o, "retrieved", (double)q->nret);
    cJSON_AddNumberToObject(o, "relevant_retrieved", (double)q->nrel_ret);
    cJSON_AddBoolToObject(o, "counted", q->counted);
    return o;
}

int main(int argc, char **argv)
{
    souk_alloc_init();
    if (argc > 1 && strcmp(argv[1], "run") == 0)
        return write_run(argc, argv);
    unsigned long k = 10, max_pairs = DEFAULT_MAX_PAIRS, ndeltas = 20;
    int json = 0, per_query = 0, deltas_set = 0;
    souk_eval_ties ties = SOUK_EVAL_TIES_TREC;
    const char *files[64];
    int nfiles = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--k") == 0 && i + 1 < argc) {
            if (parse_num("--k", argv[++i], 1, SOUK_EVAL_MAX_K, &k))
                return 2;
        } else if (strcmp(argv[i], "--max-pairs") == 0 && i + 1 < argc) {
            if (parse_num("--max-pairs", argv[++i], 1, 1000000000ul, &max_pairs))
                return 2;
        } else if (strcmp(argv[i], "--deltas") == 0 && i + 1 < argc) {
            if (parse_num("--deltas", argv[++i], 0, 1000000000ul, &ndeltas))
                return 2;
            deltas_set = 1;
        } else if (strcmp(argv[i], "--ties") == 0 && i + 1 < argc) {
            i++;
            if (strcmp(argv[i], "trec") == 0)
                ties = SOUK_EVAL_TIES_TREC;
            else if (strcmp(argv[i], "asc") == 0)
                ties = SOUK_EVAL_TIES_DOCID_ASC;
            else {
                fprintf(stderr, "souk-eval: --ties must be trec or asc, not '%s'\n", argv[i]);
                return 2;
            }
        } else if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (strcmp(argv[i], "--per-query") == 0) {
            per_query = 1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "souk-eval: unknown option '%s'\n", argv[i]);
            usage();
            return 2;
        } else if (nfiles == (int)(sizeof files / sizeof files[0])) {
            fprintf(stderr, "souk-eval: at most %zu files (qrels and runs)\n",
                    sizeof files / sizeof files[0]);
            return 2;
        } else {
            files[nfiles++] = argv[i];
        }
    }
    if (nfiles < 2) {
        usage();
        return 2;
    }
    if (json && !deltas_set)
        ndeltas = (unsigned long)-1;
    int nruns = nfiles - 1, rc = 0;
    souk_eval **ev = souk_calloc((size_t)nruns, sizeof *ev);
    souk_eval_scores *sc = souk_calloc((size_t)nruns, sizeof *sc);
    char err[1024];
    if (!ev || !sc) {
        fprintf(stderr, "souk-eval: out of memory\n");
        return 1;
    }
    /* One evaluator per run, each with the qrels: the pair bound applies to each. */
    for (int r = 0; r < nruns && !rc; r++) {
        ev[r] = souk_eval_new();
        if (!ev[r] || souk_eval_set_k(ev[r], (unsigned)k) ||
            souk_eval_set_max_pairs(ev[r], max_pairs) || souk_eval_set_ties(ev[r], ties)) {
            fprintf(stderr, "souk-eval: out of memory\n");
            rc = 1;
            break;
        }
        if (souk_eval_load_qrels(ev[r], files[0], err, sizeof err) ||
            souk_eval_load_run(ev[r], files[r + 1], err, sizeof err) ||
            souk_eval_compute(ev[r], &sc[r])) {
            fprintf(stderr, "souk-eval: %s\n", err[0] ? err : "out of memory");
            rc = 1;
        }
        err[0] = '\0';
    }
    souk_eval_delta *d = NULL;
    size_t nd = 0;
    if (!rc && nruns >= 2 && souk_eval_deltas(ev[0], ev[1], &d, &nd)) {
        fprintf(stderr, "souk-eval: out of memory\n");
        rc = 1;
    }
    if (rc)
        goto out;
    if (json) {
        cJSON *root = cJSON_CreateObject(), *runs = cJSON_AddArrayToObject(root, "runs");
        cJSON_AddStringToObject(root, "qrels", files[0]);
        cJSON_AddNumberToObject(root, "k", (double)k);
        for (int r = 0; r < nruns; r++) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddItemToArray(runs, o);
            cJSON_AddStringToObject(o, "run", files[r + 1]);
            cJSON_AddNumberToObject(o, "queries", (double)sc[r].nqueries);
            cJSON_AddNumberToObject(o, "map", sc[r].map);
            cJSON_AddNumberToObject(o, "ndcg", sc[r].ndcg_k);
            cJSON_AddNumberToObject(o, "precision", sc[r].p_k);
            cJSON_AddNumberToObject(o, "recall", sc[r].recall_k);
            cJSON_AddNumberToObject(o, "mrr", sc[r].mrr);
            cJSON_AddNumberToObject(o, "ndcg@10", sc[r].ndcg10);
            cJSON_AddNumberToObject(o, "p@10", sc[r].p10);
            cJSON *pq = cJSON_AddArrayToObject(o, "per_query");
            for (size_t i = 0; i < souk_eval_nqueries(ev[r]); i++) {
                souk_eval_query q;
                if (souk_eval_query_at(ev[r], i, &q) == 0)
                    cJSON_AddItemToArray(pq, query_json(&q));
            }
        }
        if (nruns >= 2) {
            cJSON *dl = cJSON_AddObjectToObject(root, "deltas");
            cJSON_AddStringToObject(dl, "baseline", files[1]);
            cJSON_AddStringToObject(dl, "run", files[2]);
            cJSON *arr = cJSON_AddArrayToObject(dl, "queries");
            for (size_t i = 0; i < nd && i < ndeltas; i++) {
                cJSON *o = cJSON_CreateObject();
                cJSON_AddItemToArray(arr, o);
                cJSON_AddStringToObject(o, "qid", d[i].qid);
                cJSON_AddNumberToObject(o, "ndcg", d[i].ndcg_k);
                cJSON_AddNumberToObject(o, "ap", d[i].ap);
                cJSON_AddNumberToObject(o, "precision", d[i].p_k);
                cJSON_AddNumberToObject(o, "recall", d[i].recall_k);
                cJSON_AddNumberToObject(o, "rr", d[i].rr);
            }
        }
        char *txt = cJSON_PrintUnformatted(root);
        if (!txt) {
            fprintf(stderr, "souk-eval: out of memory\n");
            rc = 1;
        } else {
            puts(txt);
            cJSON_free(txt);
        }
        cJSON_Delete(root);
        goto out;
    }
    printf("%-32s %7s %8s %8s %8s %9s %8s\n", "run", "queries", "MAP", "nDCG@k", "P@k", "Recall@k",
           "MRR");
    for (int r = 0; r < nruns; r++)
        printf("%-32s %7zu %8.4f %8.4f %8.4f %9.4f %8.4f\n", files[r + 1], sc[r].nqueries,
               sc[r].map, sc[r].ndcg_k, sc[r].p_k, sc[r].recall_k, sc[r].mrr);
    printf("(k = %lu; averages over the queries with a relevant judgement)\n", k);
    if (per_query) {
        for (int r = 0; r < nruns; r++) {
            printf("\n%s: qid AP nDCG@k P@k Recall@k RR relevant retrieved\n", files[r + 1]);
            for (size_t i = 0; i < souk_eval_nqueries(ev[r]); i++) {
                souk_eval_query q;
                if (souk_eval_query_at(ev[r], i, &q) == 0)
                    printf("%s %.4f %.4f %.4f %.4f %.4f %zu %zu%s\n", q.qid, q.ap, q.ndcg_k, q.p_k,
                           q.recall_k, q.rr, q.nrel, q.nret, q.counted ? "" : " (not counted)");
            }
        }
    }
    if (nruns >= 2 && ndeltas) {
        printf("\nper-query deltas, %s minus %s, by impact (|delta nDCG@k|, then |delta AP|):\n",
               files[2], files[1]);
        printf("%-12s %9s %9s %9s %9s\n", "qid", "nDCG@k", "AP", "P@k", "Recall@k");
        for (size_t i = 0; i < nd && i < ndeltas; i++)
            printf("%-12s %+9.4f %+9.4f %+9.4f %+9.4f\n", d[i].qid, d[i].ndcg_k, d[i].ap, d[i].p_k,
                   d[i].recall_k);
        if (nd > ndeltas)
            printf("(%zu more; --deltas N shows more)\n", nd - ndeltas);
    }
out:
    souk_free(d);
    for (int r = 0; r < nruns; r++)
        souk_eval_free(ev[r]);
    souk_free(ev);
    souk_free(sc);
    return rc;
}
