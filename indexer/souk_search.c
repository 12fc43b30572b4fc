/* souk_search.c: souk-search, a command-line search for debugging the query engine.
 *
 *   souk-search --data DIR [--k N] [--explain] [--no-prune] [--and] [--lang L] QUERY
 *
 * Prints one JSON line per hit, best first: {"id","docid","score"} (with --explain also the
 * score of each matching term), then a summary line {"hits","scored","pruned","took_us"}. */
#include "souk/search.h"
#include "souk/souk.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void on_term(void *ctx, const char *term, size_t len, uint32_t wdf, uint32_t doclen,
                    double termweight, double part)
{
    cJSON *arr = ctx, *o = cJSON_CreateObject();
    char *t = souk_strndup(term, len);
    cJSON_AddStringToObject(o, "term", t ? t : "");
    souk_free(t);
    cJSON_AddNumberToObject(o, "wdf", wdf);
    cJSON_AddNumberToObject(o, "doclen", doclen);
    cJSON_AddNumberToObject(o, "termweight", termweight);
    cJSON_AddNumberToObject(o, "score", part);
    cJSON_AddItemToArray(arr, o);
}

int main(int argc, char **argv)
{
    const char *data = NULL, *query = NULL;
    souk_search_opts o = {10, SOUK_BM25_DEFAULT, 0, NULL, 0, 0, NULL};
    int explain = 0;
    souk_alloc_init();
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--data") == 0 && i + 1 < argc)
            data = argv[++i];
        else if (strcmp(argv[i], "--k") == 0 && i + 1 < argc)
            o.k = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--lang") == 0 && i + 1 < argc)
            o.lang = argv[++i];
        else if (strcmp(argv[i], "--explain") == 0)
            explain = 1;
        else if (strcmp(argv[i], "--no-prune") == 0)
            o.no_prune = 1;
        else if (strcmp(argv[i], "--and") == 0)
            o.qp_flags |= SOUK_QP_DEFAULT_AND;
        else
            query = argv[i];
    }
    if (!data || !query || o.k == 0 || o.k > 100000) {
        fprintf(stderr, "usage: souk-search --data DIR [--k N] [--explain] [--no-prune] [--and] "
                        "[--lang L] QUERY\n");
        return 2;
    }
    char err[512];
    souk_index *ix;
    if (souk_index_open(data, NULL, SOUK_INDEX_RDONLY, &ix, err, sizeof err)) {
        fprintf(stderr, "souk-search: %s\n", err);
        return 1;
    }
    souk_searcher *s;
    if (souk_searcher_new(ix, &s)) {
        fprintf(stderr, "souk-search: cannot read the index\n");
        souk_index_close(ix);
        return 1;
    }
    souk_hit *hits = souk_calloc(o.k, sizeof *hits);
    size_t n = 0;
    souk_search_stats st;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = souk_search(s, query, strlen(query), &o, hits, &n, &st, err, sizeof err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (rc) {
        fprintf(stderr, "souk-search: %s\n", err);
    } else {
        souk_query *pq = NULL;
        size_t nf;
        const souk_qp_field *fields = souk_searcher_fields(s, &nf);
        if (explain)
            souk_query_parse(query, strlen(query),
                             o.lang ? o.lang : souk_index_schema(ix)->default_language, fields, nf,
                             o.qp_flags, &pq, err, sizeof err);
        for (size_t i = 0; i < n; i++) {
            const char *id, *json;
            size_t il, jl;
            cJSON *line = cJSON_CreateObject();
            if (souk_reader_doc(souk_searcher_reader(s), hits[i].docid, &id, &il, &json, &jl) ==
                0) {
                char *idz = souk_strndup(id, il);
                cJSON_AddStringToObject(line, "id", idz ? idz : "");
                souk_free(idz);
            }
            cJSON_AddNumberToObject(line, "docid", hits[i].docid);
            cJSON_AddNumberToObject(line, "score", hits[i].score);
            if (pq) {
                cJSON *terms = cJSON_CreateArray();
                double total;
                souk_search_explain(s, pq, &o, hits[i].docid, on_term, terms, &total);
                cJSON_AddItemToObject(line, "explain", terms);
            }
            char *txt = cJSON_PrintUnformatted(line);
            if (txt)
                puts(txt);
            souk_free(txt);
            cJSON_Delete(line);
        }
        souk_query_free(pq);
        printf("{\"hits\":%zu,\"scored\":%llu,\"pruned\":%s,\"took_us\":%.0f}\n", n,
               (unsigned long long)st.scored, st.pruned ? "true" : "false",
               (t1.tv_sec - t0.tv_sec) * 1e6 + (t1.tv_nsec - t0.tv_nsec) / 1e3);
    }
    souk_free(hits);
    souk_searcher_free(s);
    souk_index_close(ix);
    return rc ? 1 : 0;
}
