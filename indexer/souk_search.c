/* souk_search.c: souk-search, a command-line search for debugging the query engine.
 *
 *   souk-search --data DIR [--k N] [--explain] [--no-prune] [--and] [--lang L]
 *               [--k1 X] [--b X] [--field NAME=W]... [--proximity W] [--window N]
 *               [--boost FIELD:log1p|linear:W | FIELD:decay:W:ORIGIN:SCALE:OFFSET:DECAY]...
 *               QUERY
 *
 * The ranking-profile options (docs/ranking.md) rank with a profile: BM25's k1 and b, field
 * weights, the proximity bonus and business-signal boosts. Prints one JSON line per hit, best
 * first: {"id","docid","score"} (with --explain also "explain", each part of the score, and
 * "explanation", the same as a tree whose nodes add up), then a summary line
 * {"hits","scored","pruned","took_us"}. */
#include "souk/schema.h"
#include "souk/search.h"
#include "souk/souk.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct xout {
    cJSON *flat;           /* "explain" */
    cJSON *text, *signals; /* the tree's text parts and its other parts */
    double text_score;
    const souk_schema *sc;
} xout;

static void on_part(void *ctx, const souk_explain_part *p)
{
    xout *x = ctx;
    cJSON *o = cJSON_CreateObject(), *t = cJSON_CreateObject();
    if (p->kind == SOUK_EXPLAIN_TERM) {
        char *term = souk_strndup(p->term, p->len);
        cJSON_AddStringToObject(o, "term", term ? term : "");
        cJSON_AddStringToObject(t, "name", "term");
        cJSON_AddStringToObject(t, "term", term ? term : "");
        souk_free(term);
        if (p->field >= 0) {
            cJSON_AddStringToObject(o, "field", x->sc->fields[p->field].name);
            cJSON_AddStringToObject(t, "field", x->sc->fields[p->field].name);
            cJSON_AddNumberToObject(t, "weight", p->field_weight);
        }
        cJSON_AddNumberToObject(o, "wdf", p->wdf);
        cJSON_AddNumberToObject(o, "doclen", p->doclen);
        cJSON_AddNumberToObject(o, "termweight", p->termweight);
        cJSON_AddNumberToObject(t, "idf", p->idf);
        cJSON_AddNumberToObject(t, "tf", p->wdf);
        cJSON_AddNumberToObject(t, "norm", p->norm);
        cJSON_AddNumberToObject(t, "factor", p->factor);
        x->text_score += p->part;
    } else if (p->kind == SOUK_EXPLAIN_PROXIMITY) {
        cJSON_AddNumberToObject(o, "proximity", p->value);
        cJSON_AddStringToObject(t, "name", "proximity");
        cJSON_AddNumberToObject(t, "closeness", p->value);
        cJSON_AddNumberToObject(t, "weight", p->weight);
    } else {
        cJSON_AddStringToObject(o, "boost", x->sc->fields[p->field].name);
        cJSON_AddStringToObject(t, "name", "boost");
        cJSON_AddStringToObject(t, "field", x->sc->fields[p->field].name);
        cJSON_AddNumberToObject(t, "weight", p->weight);
        if (p->value == p->value)
            cJSON_AddNumberToObject(t, "value", p->value);
    }
    cJSON_AddNumberToObject(o, "score", p->part);
    cJSON_AddNumberToObject(t, "score", p->part);
    cJSON_AddItemToArray(x->flat, o);
    cJSON_AddItemToArray(p->kind == SOUK_EXPLAIN_TERM ? x->text : x->signals, t);
}

/* "FIELD:fn:W[:ORIGIN:SCALE:OFFSET:DECAY]" into b; 0, or -1 naming the problem on stderr. */
static int parse_boost(const souk_schema *sc, const char *arg, souk_boost_signal *b)
{
    char name[128], fn[16];
    memset(b, 0, sizeof *b);
    int n = sscanf(arg, "%127[^:]:%15[^:]:%lf:%lf:%lf:%lf:%lf", name, fn, &b->weight, &b->origin,
                   &b->scale, &b->offset, &b->decay);
    const souk_field *f = n >= 3 ? souk_schema_field(sc, name, strlen(name)) : NULL;
    if (!f || f->type != SOUK_FIELD_NUMBER) {
        fprintf(stderr, "souk-search: --boost '%s': want a number field, a function and a weight\n",
                arg);
        return -1;
    }
    b->field = f->id;
    if (strcmp(fn, "log1p") == 0 && n == 3)
        b->fn = SOUK_BOOST_LOG1P;
    else if (strcmp(fn, "linear") == 0 && n == 3)
        b->fn = SOUK_BOOST_LINEAR;
    else if (strcmp(fn, "decay") == 0 && n == 7)
        b->fn = SOUK_BOOST_DECAY;
    else {
        fprintf(stderr,
                "souk-search: --boost '%s': the function is log1p, linear or "
                "decay:W:ORIGIN:SCALE:OFFSET:DECAY\n",
                arg);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *data = NULL, *query = NULL;
    souk_search_opts o = {10, SOUK_BM25_DEFAULT, 0, NULL, 0, 0, NULL};
    int explain = 0, use_profile = 0;
    souk_rank_profile prof;
    memset(&prof, 0, sizeof prof);
    prof.bm25 = (souk_bm25)SOUK_BM25_DEFAULT;
    const char *fields_arg[SOUK_MAX_PROFILE_FIELDS], *boosts_arg[SOUK_MAX_BOOSTS];
    size_t nfields_arg = 0, nboosts_arg = 0;
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
        else if (strcmp(argv[i], "--k1") == 0 && i + 1 < argc)
            use_profile = 1, prof.bm25.k1 = strtod(argv[++i], NULL);
        else if (strcmp(argv[i], "--b") == 0 && i + 1 < argc)
            use_profile = 1, prof.bm25.b = strtod(argv[++i], NULL);
        else if (strcmp(argv[i], "--proximity") == 0 && i + 1 < argc)
            use_profile = 1, prof.proximity_weight = strtod(argv[++i], NULL);
        else if (strcmp(argv[i], "--window") == 0 && i + 1 < argc)
            use_profile = 1, prof.proximity_window = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--field") == 0 && i + 1 < argc &&
                 nfields_arg < SOUK_MAX_PROFILE_FIELDS)
            use_profile = 1, fields_arg[nfields_arg++] = argv[++i];
        else if (strcmp(argv[i], "--boost") == 0 && i + 1 < argc && nboosts_arg < SOUK_MAX_BOOSTS)
            use_profile = 1, boosts_arg[nboosts_arg++] = argv[++i];
        else
            query = argv[i];
    }
    if (!data || !query || o.k == 0 || o.k > 100000) {
        fprintf(stderr, "usage: souk-search --data DIR [--k N] [--explain] [--no-prune] [--and] "
                        "[--lang L] [--k1 X] [--b X] [--field NAME=W]... [--proximity W] "
                        "[--window N] [--boost FIELD:FN:W[:ORIGIN:SCALE:OFFSET:DECAY]]... "
                        "QUERY\n");
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
    const souk_schema *sc = souk_index_schema(ix);
    int bad = 0;
    for (size_t i = 0; i < nfields_arg && !bad; i++) {
        const char *eq = strchr(fields_arg[i], '=');
        const souk_field *f =
            eq ? souk_schema_field(sc, fields_arg[i], (size_t)(eq - fields_arg[i])) : NULL;
        if (!f || f->type != SOUK_FIELD_TEXT || !f->prefix[0]) {
            fprintf(stderr,
                    "souk-search: --field '%s': want NAME=WEIGHT of a text field with a "
                    "prefix\n",
                    fields_arg[i]);
            bad = 1;
            break;
        }
        prof.field[prof.nfield_weights] = f->id;
        prof.field_weight[prof.nfield_weights++] = strtod(eq + 1, NULL);
    }
    for (size_t i = 0; i < nboosts_arg && !bad; i++)
        bad = parse_boost(sc, boosts_arg[i], &prof.boosts[prof.nboosts++]) != 0;
    if (bad) {
        souk_searcher_free(s);
        souk_index_close(ix);
        return 2;
    }
    if (use_profile)
        o.profile = &prof;
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
                xout x = {cJSON_CreateArray(), cJSON_CreateArray(), cJSON_CreateArray(), 0, sc};
                double total = 0;
                souk_search_explain_parts(s, pq, &o, hits[i].docid, on_part, &x, &total);
                cJSON_AddItemToObject(line, "explain", x.flat);
                cJSON *tree = cJSON_CreateObject(), *parts = cJSON_CreateArray(),
                      *text = cJSON_CreateObject();
                cJSON_AddNumberToObject(tree, "score", total);
                cJSON_AddStringToObject(text, "name", "text");
                cJSON_AddNumberToObject(text, "score", x.text_score);
                cJSON_AddItemToObject(text, "parts", x.text);
                cJSON_AddItemToArray(parts, text);
                cJSON *k;
                while ((k = cJSON_DetachItemFromArray(x.signals, 0)) != NULL)
                    cJSON_AddItemToArray(parts, k);
                cJSON_Delete(x.signals);
                cJSON_AddItemToObject(tree, "parts", parts);
                cJSON_AddItemToObject(line, "explanation", tree);
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
