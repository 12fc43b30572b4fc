/* souk_index.c: souk-index, the command-line indexer.
 *
 *   souk-index --data DIR [--schema FILE] catalog [FILE|-] [--follow] [--rejects FILE]
 *              [--batch N] [--threads N] [--from-start] [--quiet]
 *   souk-index --data DIR stats [--detail]
 *   souk-index --data DIR dump [--terms] [ID ...]
 *   souk-index --data DIR check
 *
 * Exit status: 0 success (rejected lines are reported, not fatal), 1 failure, 2 usage. */
#include "souk/document.h"
#include "souk/index.h"
#include "souk/ingest.h"
#include "souk/souk.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void usage(void)
{
    fprintf(stderr, "usage: souk-index --data DIR [--schema FILE] catalog [FILE|-] [--follow]\n"
                    "                  [--rejects FILE] [--batch N] [--threads N] [--from-start] "
                    "[--quiet] [--no-spelling]\n"
                    "       souk-index --data DIR stats [--detail]\n"
                    "       souk-index --data DIR dump [--terms] [ID ...]\n"
                    "       souk-index --data DIR check\n");
}

static int cmd_catalog(const char *data, const char *schema_path, int argc, char **argv)
{
    const char *file = "-", *rejects_path = NULL;
    souk_ingest_opts o;
    memset(&o, 0, sizeof o);
    o.threads = 2;
    o.batch_docs = 100000;
    o.progress = isatty(2);
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--follow") == 0)
            o.follow = 1;
        else if (strcmp(argv[i], "--from-start") == 0)
            o.from_start = 1;
        else if (strcmp(argv[i], "--no-spelling") == 0)
            o.no_spelling = 1;
        else if (strcmp(argv[i], "--quiet") == 0)
            o.progress = 0;
        else if (strcmp(argv[i], "--rejects") == 0 && i + 1 < argc)
            rejects_path = argv[++i];
        else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc)
            o.batch_docs = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            o.threads = atoi(argv[++i]);
        else if (argv[i][0] == '-' && argv[i][1])
            return usage(), 2;
        else
            file = argv[i];
    }
    char err[512];
    souk_schema *schema = NULL;
    if (schema_path) {
        if (souk_schema_load(schema_path, &schema, err, sizeof err)) {
            fprintf(stderr, "souk-index: %s\n", err);
            return 1;
        }
    }
    souk_index *ix = NULL;
    int rc = souk_index_open(data, schema, 0, &ix, err, sizeof err);
    if (rc == SOUK_ESCHEMA && !schema_path && strstr(err, "schema is required")) {
        /* A new index without --schema: the embedded procurement schema. */
        if (souk_schema_parse(souk_schema_default_json, strlen(souk_schema_default_json), &schema,
                              err, sizeof err) == 0)
            rc = souk_index_open(data, schema, 0, &ix, err, sizeof err);
    }
    souk_schema_free(schema);
    if (rc) {
        fprintf(stderr, "souk-index: %s\n", err);
        return 1;
    }
    int fd = 0;
    if (strcmp(file, "-") != 0 && (fd = open(file, O_RDONLY | O_CLOEXEC)) < 0) {
        fprintf(stderr, "souk-index: cannot open '%s': %s\n", file, strerror(errno));
        souk_index_close(ix);
        return 1;
    }
    char rpath[4096];
    if (!rejects_path) {
        snprintf(rpath, sizeof rpath, "%s/rejects.ndjson", data);
        rejects_path = rpath;
    }
    o.rejects = fopen(rejects_path, "a");
    if (!o.rejects)
        fprintf(stderr, "souk-index: cannot open rejects file '%s': %s\n", rejects_path,
                strerror(errno));
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    o.stop = &g_stop;
    souk_ingest_stats st;
    rc = souk_ingest(ix, fd, strcmp(file, "-") ? file : "stdin", &o, &st, err, sizeof err);
    if (o.rejects)
        fclose(o.rejects);
    if (fd)
        close(fd);
    souk_index_close(ix);
    printf("{\"read\":%llu,\"records\":%llu,\"indexed\":%llu,\"added\":%llu,\"replaced\":%llu,"
           "\"unchanged\":%llu,\"deleted\":%llu,\"delete_missing\":%llu,\"rejected\":%llu,"
           "\"commits\":%llu,\"resumed_at\":%llu,\"restarted\":%s,\"seconds\":%.3f,\"commit_"
           "seconds\":%.3f,"
           "\"wait_seconds\":%.3f,\"spelling_seconds\":%.3f,\"spelling_words\":%llu,"
           "\"docs_per_s\":%.0f}\n",
           (unsigned long long)st.lines, (unsigned long long)st.records,
           (unsigned long long)(st.added + st.replaced), (unsigned long long)st.added,
           (unsigned long long)st.replaced, (unsigned long long)st.unchanged,
           (unsigned long long)st.deleted, (unsigned long long)st.delete_missing,
           (unsigned long long)st.rejected, (unsigned long long)st.commits,
           (unsigned long long)st.resumed_at, st.restarted ? "true" : "false", st.seconds,
           st.commit_seconds, st.wait_seconds, st.spelling_seconds,
           (unsigned long long)st.spelling_words, st.seconds > 0 ? st.records / st.seconds : 0.0);
    if (rc) {
        fprintf(stderr, "souk-index: %s\n", err);
        return 1;
    }
    if (st.spelling_failed) {
        /* The index is committed, but a table left behind is a failure to report (issue 17: a
         * full disk exited 0 here); the message with its cause is already on stderr. */
        fprintf(stderr, "souk-index: the spelling table could not be brought up to date\n");
        return 1;
    }
    if (st.rejected)
        fprintf(stderr, "souk-index: %llu line(s) rejected, see %s\n",
                (unsigned long long)st.rejected, rejects_path);
    return 0;
}

static souk_index *open_existing(const char *data)
{
    char err[512];
    souk_index *ix;
    if (souk_index_open(data, NULL, SOUK_INDEX_RDONLY, &ix, err, sizeof err)) {
        fprintf(stderr, "souk-index: %s\n", err);
        return NULL;
    }
    return ix;
}

static int cmd_stats(const char *data, int detail)
{
    souk_index *ix = open_existing(data);
    if (!ix)
        return 1;
    souk_reader *r;
    souk_stats s;
    if (souk_reader_new(ix, &r) || souk_reader_stats(r, &s)) {
        fprintf(stderr, "souk-index: cannot read the index\n");
        souk_index_close(ix);
        return 1;
    }
    printf("{\"docs\":%llu,\"terms\":%llu,\"bytes\":%llu,\"total_length\":%llu,"
           "\"generation\":%llu,\"stream_offset\":%llu,\"bytes_postings_dictionary\":%llu,"
           "\"bytes_dictionary\":%llu,\"bytes_store\":%llu,\"bytes_other\":%llu",
           (unsigned long long)s.docs, (unsigned long long)s.terms,
           (unsigned long long)s.bytes_file, (unsigned long long)s.total_len,
           (unsigned long long)s.generation, (unsigned long long)s.stream_offset,
           (unsigned long long)s.bytes_postings, (unsigned long long)s.bytes_dictionary,
           (unsigned long long)s.bytes_store, (unsigned long long)s.bytes_other);
    int rc = 0;
    if (detail) {
        souk_check_stats cs;
        char err[512];
        if (souk_index_check(r, &cs, err, sizeof err)) {
            fprintf(stderr, "souk-index: check failed: %s\n", err);
            rc = 1;
        } else {
            printf(",\"postings\":%llu,\"positions\":%llu,\"blocks\":%llu,\"inline_terms\":%llu,"
                   "\"payload_postings\":%llu,\"payload_positions\":%llu,"
                   "\"payload_dictionary\":%llu",
                   (unsigned long long)cs.postings, (unsigned long long)cs.positions,
                   (unsigned long long)cs.blocks, (unsigned long long)cs.inline_terms,
                   (unsigned long long)cs.postings_bytes, (unsigned long long)cs.positions_bytes,
                   (unsigned long long)(cs.dict_bytes + cs.post_key_bytes));
        }
    }
    printf("}\n");
    souk_reader_free(r);
    souk_index_close(ix);
    return rc;
}

static int cmd_check(const char *data)
{
    souk_index *ix = open_existing(data);
    if (!ix)
        return 1;
    souk_reader *r;
    souk_check_stats cs;
    char err[512];
    int rc = souk_reader_new(ix, &r);
    if (rc == 0) {
        rc = souk_index_check(r, &cs, err, sizeof err);
        souk_reader_free(r);
    } else {
        snprintf(err, sizeof err, "%s", souk_strerror(rc));
    }
    souk_index_close(ix);
    if (rc) {
        fprintf(stderr, "souk-index: check failed: %s\n", err);
        return 1;
    }
    printf("{\"ok\":true,\"docs\":%llu,\"terms\":%llu,\"postings\":%llu,\"positions\":%llu}\n",
           (unsigned long long)cs.docs, (unsigned long long)cs.terms,
           (unsigned long long)cs.postings, (unsigned long long)cs.positions);
    return 0;
}

/* ------------------------------------------------------------------ dump */

typedef struct dump_ctx {
    souk_reader *r;
    uint32_t docid;
    cJSON *terms;
    int with_terms;
    int rc;
} dump_ctx;

/* Adds term's posting for the dumped document: [term, wdf, [positions]]. */
static void dump_term(void *ctx, const char *term, size_t len)
{
    dump_ctx *d = ctx;
    souk_postings p;
    souk_block b;
    if (souk_postings_open(d->r, term, len, &p)) {
        d->rc = 1;
        return;
    }
    int found = 0;
    while (!found && souk_postings_next_block(&p, d->docid, &b) == 0) {
        uint32_t ids[SOUK_BLOCK_MAX], w[SOUK_BLOCK_MAX], np[SOUK_BLOCK_MAX];
        static uint32_t pos[1 << 16];
        size_t total;
        if (souk_block_docids(&b, ids) || souk_block_wdfs(&b, w) ||
            souk_block_positions(&b, np, pos, sizeof pos / sizeof pos[0], &total))
            break;
        size_t at = 0;
        for (uint32_t i = 0; i < b.count; i++) {
            if (ids[i] == d->docid) {
                cJSON *e = cJSON_CreateArray();
                char *tz = souk_strndup(term, len);
                cJSON_AddItemToArray(e, cJSON_CreateString(tz ? tz : ""));
                souk_free(tz);
                cJSON_AddItemToArray(e, cJSON_CreateNumber(w[i]));
                cJSON *pa = cJSON_CreateArray();
                for (uint32_t k = 0; k < np[i]; k++)
                    cJSON_AddItemToArray(pa, cJSON_CreateNumber(pos[at + k]));
                cJSON_AddItemToArray(e, pa);
                cJSON_AddItemToArray(d->terms, e);
                found = 1;
                break;
            }
            at += np[i];
        }
        if (b.last_docid >= d->docid)
            break;
    }
    souk_postings_close(&p);
    if (!found)
        d->rc = 1;
}

static int dump_one(dump_ctx *d, uint32_t docid, const char *id, size_t id_len, const char *json,
                    size_t json_len)
{
    uint32_t dl = 0;
    souk_reader_doclen(d->r, docid, &dl);
    cJSON *o = cJSON_CreateObject();
    char *idz = souk_strndup(id, id_len);
    cJSON_AddStringToObject(o, "id", idz);
    souk_free(idz);
    cJSON_AddNumberToObject(o, "docid", docid);
    cJSON_AddNumberToObject(o, "doclen", dl);
    cJSON *doc = cJSON_ParseWithLength(json, json_len);
    cJSON_AddItemToObject(o, "fields", doc ? doc : cJSON_CreateNull());
    if (d->with_terms) {
        d->terms = cJSON_CreateArray();
        d->docid = docid;
        cJSON_AddItemToObject(o, "terms", d->terms);
        if (souk_reader_termlist(d->r, docid, dump_term, d))
            d->rc = 1;
    }
    char *t = cJSON_PrintUnformatted(o);
    if (t) {
        puts(t);
        souk_free(t);
    }
    cJSON_Delete(o);
    return d->rc;
}

static int dump_cb(void *ctx, uint32_t docid, const char *id, size_t id_len, const char *json,
                   size_t json_len)
{
    return dump_one(ctx, docid, id, id_len, json, json_len);
}

static int cmd_dump(const char *data, int argc, char **argv)
{
    souk_index *ix = open_existing(data);
    if (!ix)
        return 1;
    dump_ctx d;
    memset(&d, 0, sizeof d);
    int nids = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--terms") == 0)
            d.with_terms = 1;
        else
            nids++;
    }
    if (souk_reader_new(ix, &d.r)) {
        souk_index_close(ix);
        return 1;
    }
    int rc = 0;
    if (nids == 0) {
        rc = souk_reader_docs(d.r, dump_cb, &d) ? 1 : d.rc;
    } else {
        for (int i = 0; i < argc; i++) {
            if (strcmp(argv[i], "--terms") == 0)
                continue;
            uint32_t docid;
            const char *id, *json;
            size_t il, jl;
            if (souk_reader_docid(d.r, argv[i], strlen(argv[i]), &docid) ||
                souk_reader_doc(d.r, docid, &id, &il, &json, &jl)) {
                fprintf(stderr, "souk-index: no document with id '%s'\n", argv[i]);
                rc = 1;
                continue;
            }
            rc |= dump_one(&d, docid, id, il, json, jl);
        }
    }
    if (d.rc)
        fprintf(stderr, "souk-index: term list and postings disagree\n");
    souk_reader_free(d.r);
    souk_index_close(ix);
    return rc;
}

int main(int argc, char **argv)
{
    const char *data = NULL, *schema = NULL;
    int i = 1;
    souk_alloc_init();
    for (; i < argc; i++) {
        if (strcmp(argv[i], "--data") == 0 && i + 1 < argc)
            data = argv[++i];
        else if (strcmp(argv[i], "--schema") == 0 && i + 1 < argc)
            schema = argv[++i];
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return usage(), 0;
        else
            break;
    }
    if (!data || i >= argc) {
        usage();
        return 2;
    }
    const char *cmd = argv[i++];
    if (strcmp(cmd, "catalog") == 0)
        return cmd_catalog(data, schema, argc - i, argv + i);
    if (strcmp(cmd, "stats") == 0)
        return cmd_stats(data, i < argc && strcmp(argv[i], "--detail") == 0);
    if (strcmp(cmd, "dump") == 0)
        return cmd_dump(data, argc - i, argv + i);
    if (strcmp(cmd, "check") == 0)
        return cmd_check(data);
    usage();
    return 2;
}
