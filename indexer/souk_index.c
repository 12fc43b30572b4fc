/* souk_index.c: souk-index, the command-line indexer.
 *
 *   souk-index --data DIR [--schema FILE] catalog [FILE|-] [--follow] [--rejects FILE]
 *              [--batch N] [--threads N] [--from-start] [--quiet]
 *   souk-index --data DIR catalog --from nats://HOST:PORT[,HOST:PORT...]/STREAM [--durable NAME]
 *              [--until-caught-up] [--batch N] [--rejects FILE]
 *     (follows a JetStream stream: indexer/souk_index_nats.c, docs/scaling.md)
 *   souk-index --data DIR digest
 *   souk-index --data DIR events --from nats://HOST:PORT/STREAM [--region R] [--durable NAME]
 *              [--until-caught-up] --pseudonym-key FILE [store options]
 *     (the logical digest of the index, souk/digest.h: equal for replicas with equal contents)
 *   souk-index --data DIR stats [--detail]
 *   souk-index --data DIR dump [--terms] [ID ...]
 *   souk-index --data DIR check
 *   souk-index --data DIR events [FILE|-] [--follow] [--from-start] [--rejects FILE] [--batch N
 * (50000)]
 *              [--now RFC3339] --pseudonym-key FILE [store options]
 *   souk-index --data DIR events-sweep [--now RFC3339] --pseudonym-key FILE [store options]
 *   souk-index --data DIR events-check --pseudonym-key FILE [store options]
 *   souk-index --data DIR events-rekey --pseudonym-key FILE [store options]
 *     (moves every pseudonym to the ring's current key id, P24; docs/privacy.md)
 *   souk-index --data DIR compact
 *     (P22: rewrites the index and the spelling table from their live rows, so no byte of a deleted
 *     record survives; no other process may have the index open)
 *   souk-index --data DIR backup DEST --pseudonym-key FILE [store options]
 *   souk-index --data DIR restore SRC [--replace] [--ledger FILE]... --pseudonym-key FILE
 *              [store options]
 *     (P23: a consistent compacted copy while the server serves; a restore that re-applies the
 *     suppression records and every erasure of the ledgers before anything serves it)
 *     store options: --retention-events-days N (365) --retention-impressions-days N (30)
 *       --retention-history-days N (180) (0 keeps forever) --consent-default LIST (the consent of
 *       users with no record: a comma list of personalization, location, search_history, or
 *       none; default none) --halflife-days D (14) --cooc-items-max N (256)
 *
 * Exit status: 0 success (rejected lines are reported, not fatal), 1 failure, 2 usage. */
#include "souk/digest.h"
#include "souk/document.h"
#include "souk/events.h"
#include "souk/index.h"
#include "souk/ingest.h"
#include "souk/souk.h"
#include "souk/profstore.h"
#include "souk/spelling.h"

#include "souk_index_nats.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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
                    "       souk-index --data DIR catalog --from nats://HOST:PORT/STREAM "
                    "[--durable NAME]\n"
                    "                  [--until-caught-up] [--batch N] [--rejects FILE]\n"
                    "       souk-index --data DIR digest\n"
                    "       souk-index --data DIR events --from nats://HOST:PORT/STREAM "
                    "[--region R] [--durable NAME]\n"
                    "                  [--until-caught-up] --pseudonym-key FILE [store options]\n"
                    "       souk-index --data DIR stats [--detail]\n"
                    "       souk-index --data DIR dump [--terms] [ID ...]\n"
                    "       souk-index --data DIR check\n"
                    "       souk-index --data DIR events [FILE|-] [--follow] [--from-start]\n"
                    "                  [--rejects FILE] [--batch N] [--now RFC3339]\n"
                    "                  --pseudonym-key FILE [store options]\n"
                    "       souk-index --data DIR events-sweep [--now RFC3339] --pseudonym-key "
                    "FILE [store options]\n"
                    "       souk-index --data DIR events-check --pseudonym-key FILE [store "
                    "options]\n"
                    "       souk-index --data DIR events-rekey --pseudonym-key FILE [store "
                    "options]\n"
                    "       souk-index --data DIR compact\n"
                    "       souk-index --data DIR backup DEST --pseudonym-key FILE [store "
                    "options]\n"
                    "       souk-index --data DIR restore SRC [--replace] [--ledger FILE]... "
                    "--pseudonym-key FILE [store options]\n"
                    "  store options: --retention-events-days N --retention-impressions-days N\n"
                    "    --retention-history-days N --consent-default personalization,location,"
                    "search_history|none\n"
                    "    --halflife-days D --cooc-items-max N\n");
}

/* The catalog ingest's caught-up hook: brings the spelling table up to the index. */
typedef struct spelling_hook {
    uint64_t words; /* words in the table after the last sync that changed it */
} spelling_hook;

static int sync_spelling(void *ctx, souk_index *ix, char *err, size_t errlen)
{
    souk_spelling_stats ss;
    int rc = souk_spelling_sync(ix, &ss, err, errlen);
    if (rc == 0 && !ss.up_to_date)
        ((spelling_hook *)ctx)->words = ss.words;
    return rc;
}

/* souk-index catalog --from nats://HOST:PORT/STREAM: follows the stream into ix (closed here)
 * until SIGINT/SIGTERM or, with --until-caught-up, until every message is applied
 * (indexer/souk_index_nats.c). */
static int catalog_from_nats(const char *data, souk_index *ix, const char *url, const char *durable,
                             int until_caught_up, souk_ingest_opts *io, const char *rejects_path,
                             spelling_hook *sh)
{
    char dname[40], status[4096], err[512];
    if (!durable) {
        nf_default_durable(data, "catalog", dname);
        durable = dname;
    }
    if (snprintf(status, sizeof status, "%s/nats-catalog.json", data) >= (int)sizeof status) {
        fprintf(stderr, "souk-index: the data directory's path is too long\n");
        souk_index_close(ix);
        return 1;
    }
    FILE *rejects = NULL;
    char rpath[4096];
    if (!rejects_path &&
        snprintf(rpath, sizeof rpath, "%s/rejects.ndjson", data) < (int)sizeof rpath)
        rejects_path = rpath;
    if (rejects_path && !(rejects = fopen(rejects_path, "a")))
        fprintf(stderr, "souk-index: cannot open rejects file '%s': %s\n", rejects_path,
                strerror(errno));
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    nf_opts no = {url,       durable,        "catalog.*",     status,
                  "catalog", io->batch_docs, until_caught_up, !io->progress,
                  &g_stop};
    nf_stats st;
    nf_catalog_stats cs;
    int rc = nf_follow_catalog(ix, rejects, io->caught_up, io->caught_up_ctx, &no, &st, &cs, err,
                               sizeof err);
    if (rejects)
        fclose(rejects);
    souk_index_close(ix);
    printf("{\"stream\":\"%s\",\"durable\":\"%s\",\"applied_seq\":%llu,\"stream_last_seq\":%llu,"
           "\"messages\":%llu,\"applied\":%llu,\"skipped\":%llu,\"records\":%llu,"
           "\"rejected\":%llu,\"added\":%llu,\"replaced\":%llu,\"unchanged\":%llu,"
           "\"deleted\":%llu,\"commits\":%llu,\"consumers\":%llu,\"spelling_words\":%llu,"
           "\"seconds\":%.3f,\"docs_per_s\":%.0f}\n",
           strrchr(url, '/') + 1, durable, (unsigned long long)st.applied_seq,
           (unsigned long long)st.stream_last, (unsigned long long)st.messages,
           (unsigned long long)st.applied, (unsigned long long)st.skipped,
           (unsigned long long)cs.records, (unsigned long long)cs.rejected,
           (unsigned long long)cs.commit.added, (unsigned long long)cs.commit.replaced,
           (unsigned long long)cs.commit.unchanged, (unsigned long long)cs.commit.deleted,
           (unsigned long long)st.commits, (unsigned long long)st.restarts,
           (unsigned long long)sh->words, st.seconds,
           st.seconds > 0 ? (double)cs.records / st.seconds : 0.0);
    if (rc) {
        fprintf(stderr, "souk-index: %s\n", err);
        return 1;
    }
    return 0;
}

/* souk-index digest: the logical digest of the index (souk/digest.h) as JSON. */
static int cmd_digest(const char *data)
{
    char err[512];
    souk_index *ix = NULL;
    if (souk_index_open(data, NULL, SOUK_INDEX_RDONLY, &ix, err, sizeof err)) {
        fprintf(stderr, "souk-index: %s\n", err);
        return 1;
    }
    souk_digest d;
    uint64_t seq = 0, line = 0;
    char fp[128] = "";
    souk_index_stream_pos(ix, &seq, &line, fp, sizeof fp);
    int rc = souk_index_digest(ix, &d, err, sizeof err);
    souk_index_close(ix);
    if (rc) {
        fprintf(stderr, "souk-index: %s\n", err);
        return 1;
    }
    printf("{\"digest\":\"%s\",\"docs\":%llu,\"terms\":%llu,\"postings\":%llu,"
           "\"positions\":%llu,\"applied_seq\":%llu}\n",
           d.hex, (unsigned long long)d.docs, (unsigned long long)d.terms,
           (unsigned long long)d.postings, (unsigned long long)d.positions,
           strncmp(fp, "nats:", 5) == 0 ? (unsigned long long)seq : 0ull);
    return 0;
}

static int cmd_catalog(const char *data, const char *schema_path, int argc, char **argv)
{
    const char *file = "-", *rejects_path = NULL, *from = NULL, *durable = NULL;
    int until_caught_up = 0;
    souk_ingest_opts o;
    memset(&o, 0, sizeof o);
    o.threads = 2;
    o.batch_docs = 100000;
    o.progress = isatty(2);
    spelling_hook sh = {0};
    o.caught_up = sync_spelling;
    o.caught_up_ctx = &sh;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--follow") == 0)
            o.follow = 1;
        else if (strcmp(argv[i], "--from-start") == 0)
            o.from_start = 1;
        else if (strcmp(argv[i], "--no-spelling") == 0)
            o.caught_up = NULL;
        else if (strcmp(argv[i], "--quiet") == 0)
            o.progress = 0;
        else if (strcmp(argv[i], "--rejects") == 0 && i + 1 < argc)
            rejects_path = argv[++i];
        else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc)
            o.batch_docs = strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            o.threads = atoi(argv[++i]);
        else if (strcmp(argv[i], "--from") == 0 && i + 1 < argc)
            from = argv[++i];
        else if (strcmp(argv[i], "--durable") == 0 && i + 1 < argc)
            durable = argv[++i];
        else if (strcmp(argv[i], "--until-caught-up") == 0)
            until_caught_up = 1;
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
    if (from)
        return catalog_from_nats(data, ix, from, durable, until_caught_up, &o, rejects_path, &sh);
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
           st.commit_seconds, st.wait_seconds, st.caught_up_seconds, (unsigned long long)sh.words,
           st.seconds > 0 ? st.records / st.seconds : 0.0);
    if (rc) {
        fprintf(stderr, "souk-index: %s\n", err);
        return 1;
    }
    if (st.caught_up_failed) {
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

/* ------------------------------------------------------------------ the event store */

/* The catalog's tags of an item for the event store (P8): souk_doc_tags of its stored fields. */
typedef struct tag_src {
    souk_index *ix;
    souk_reader *r;
} tag_src;

static int item_tags(void *arg, const char *item, char (*tags)[64], int max)
{
    tag_src *t = arg;
    uint32_t docid;
    const char *id, *json;
    size_t idl, jl;
    if (!t->r || max < 1 || souk_reader_docid(t->r, item, strlen(item), &docid) != 0 ||
        souk_reader_doc(t->r, docid, &id, &idl, &json, &jl) != 0)
        return 0;
    return souk_doc_tags(json, jl, tags, max);
}

typedef struct ev_cli {
    const char *key, *now, *rejects, *file, *from, *region, *durable;
    int follow, from_start, quiet, until_caught_up;
    size_t batch;
    souk_events_opts o;
} ev_cli;

/* Parses the options of the events commands into c. Returns 0, or 2 (usage) after a message. */
static int ev_options(ev_cli *c, int argc, char **argv, int takes_file)
{
    memset(c, 0, sizeof *c);
    c->file = "-";
    /* Larger batches rewrite each co-occurrence row fewer times (on MovieLens-shaped data 100,000
     * events cost 0.9 s of CPU in one batch and 2.1 s in batches of 10,000); two batches of
     * parsed events (about 830 bytes each) are in memory at once. */
    c->batch = 50000;
    c->o.retention.events_s = 365 * 86400LL;
    c->o.retention.impressions_s = 30 * 86400LL;
    c->o.retention.history_s = 180 * 86400LL;
    c->o.policy_version = 1;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--follow") == 0 && takes_file)
            c->follow = 1;
        else if (strcmp(a, "--from-start") == 0 && takes_file)
            c->from_start = 1;
        else if (strcmp(a, "--quiet") == 0)
            c->quiet = 1;
        else if (strcmp(a, "--rejects") == 0 && v && takes_file)
            c->rejects = argv[++i];
        else if (strcmp(a, "--batch") == 0 && v && takes_file)
            c->batch = strtoul(argv[++i], NULL, 10);
        else if (strcmp(a, "--now") == 0 && v)
            c->now = argv[++i];
        else if (strcmp(a, "--from") == 0 && v && takes_file)
            c->from = argv[++i];
        else if (strcmp(a, "--region") == 0 && v && takes_file)
            c->region = argv[++i];
        else if (strcmp(a, "--durable") == 0 && v && takes_file)
            c->durable = argv[++i];
        else if (strcmp(a, "--until-caught-up") == 0 && takes_file)
            c->until_caught_up = 1;
        else if (strcmp(a, "--pseudonym-key") == 0 && v)
            c->key = argv[++i];
        else if (strcmp(a, "--retention-events-days") == 0 && v)
            c->o.retention.events_s = (int64_t)(atof(argv[++i]) * 86400);
        else if (strcmp(a, "--retention-impressions-days") == 0 && v)
            c->o.retention.impressions_s = (int64_t)(atof(argv[++i]) * 86400);
        else if (strcmp(a, "--retention-history-days") == 0 && v)
            c->o.retention.history_s = (int64_t)(atof(argv[++i]) * 86400);
        else if (strcmp(a, "--halflife-days") == 0 && v)
            c->o.halflife_days = atof(argv[++i]);
        else if (strcmp(a, "--cooc-items-max") == 0 && v)
            c->o.cooc_items_max = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (strcmp(a, "--consent-default") == 0 && v) {
            char list[256];
            snprintf(list, sizeof list, "%s", argv[++i]);
            for (char *save = NULL, *w = strtok_r(list, ",", &save); w;
                 w = strtok_r(NULL, ",", &save)) {
                if (strcmp(w, "personalization") == 0)
                    c->o.consent_default.personalization = 1;
                else if (strcmp(w, "location") == 0)
                    c->o.consent_default.location = 1;
                else if (strcmp(w, "search_history") == 0)
                    c->o.consent_default.search_history = 1;
                else if (strcmp(w, "none") != 0) {
                    fprintf(stderr, "souk-index: --consent-default: unknown purpose '%s'\n", w);
                    return 2;
                }
            }
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "souk-index: unknown option '%s'\n", a);
            return 2;
        } else if (takes_file)
            c->file = a;
        else
            return usage(), 2;
    }
    if (!c->key) {
        fprintf(stderr, "souk-index: the event store needs --pseudonym-key FILE (a key ring, mode "
                        "0600, outside the data directory)\n");
        return 2;
    }
    return 0;
}

static int64_t ev_now(const ev_cli *c)
{
    if (!c->now)
        return 0;
    int64_t ms;
    souk_event e;
    char line[160], err[128];
    /* Through the event parser's own RFC 3339 reading. */
    snprintf(line, sizeof line, "{\"type\":\"view\",\"item\":\"x\",\"ts\":\"%s\"}", c->now);
    if (strlen(c->now) > 64 || souk_event_parse(line, strlen(line), &e, NULL, err, sizeof err))
        return -1;
    ms = e.ts_ms;
    return ms;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef enum { EV_INGEST, EV_SWEEP, EV_CHECK, EV_REKEY } ev_cmd;

/* souk-index events --from nats://HOST:PORT/STREAM [--region R]: follows an event stream into
 * the store s (indexer/souk_index_nats.c); with --region only that region's subjects
 * (events.R.*). Returns 0, or 1 after a message. */
static int events_from_nats(const char *data, souk_events *s, const ev_cli *c, int64_t now)
{
    char dname[40], status[4096], filter[64] = "", err[512];
    const char *durable = c->durable;
    if (!durable) {
        nf_default_durable(data, "events", dname);
        durable = dname;
    }
    if (c->region) {
        size_t n = strlen(c->region);
        if (n < 2 || n > 8 || strspn(c->region, "abcdefghijklmnopqrstuvwxyz") != n) {
            fprintf(stderr, "souk-index: --region: 2 to 8 lower-case letters (cn, eu, ...)\n");
            return 1;
        }
        snprintf(filter, sizeof filter, "events.%s.*", c->region);
    }
    if (snprintf(status, sizeof status, "%s/nats-events.json", data) >= (int)sizeof status) {
        fprintf(stderr, "souk-index: the data directory's path is too long\n");
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    nf_opts no = {c->from,  durable,  filter[0] ? filter : NULL, status,
                  "events", c->batch, c->until_caught_up,        c->quiet,
                  &g_stop};
    nf_stats st;
    nf_events_stats es;
    int rc = nf_follow_events(s, now, &no, &st, &es, err, sizeof err);
    printf("{\"stream\":\"%s\",\"durable\":\"%s\",\"applied_seq\":%llu,\"stream_last_seq\":%llu,"
           "\"messages\":%llu,\"applied\":%llu,\"skipped\":%llu,\"events\":%llu,"
           "\"rejected\":%llu,\"stored\":%llu,\"anonymous\":%llu,\"duplicate\":%llu,"
           "\"suppressed\":%llu,\"expired\":%llu,\"commits\":%llu,\"consumers\":%llu,"
           "\"seconds\":%.3f}\n",
           strrchr(c->from, '/') ? strrchr(c->from, '/') + 1 : c->from, durable,
           (unsigned long long)st.applied_seq, (unsigned long long)st.stream_last,
           (unsigned long long)st.messages, (unsigned long long)st.applied,
           (unsigned long long)st.skipped, (unsigned long long)es.events,
           (unsigned long long)es.rejected, (unsigned long long)es.counts.stored,
           (unsigned long long)es.counts.anonymous, (unsigned long long)es.counts.duplicate,
           (unsigned long long)es.counts.suppressed, (unsigned long long)es.counts.expired,
           (unsigned long long)st.commits, (unsigned long long)st.restarts, st.seconds);
    if (rc) {
        fprintf(stderr, "souk-index: %s\n", err);
        return 1;
    }
    return 0;
}

static int cmd_events(const char *data, ev_cmd cmd, int argc, char **argv)
{
    ev_cli c;
    int rc = ev_options(&c, argc, argv, cmd == EV_INGEST);
    if (rc)
        return rc;
    int64_t now = ev_now(&c);
    if (now < 0) {
        fprintf(stderr, "souk-index: --now: not an RFC 3339 time\n");
        return 2;
    }
    char err[512];
    souk_keyring *kr = NULL;
    if (souk_keyring_load(c.key, data, &kr, err, sizeof err)) {
        fprintf(stderr, "souk-index: %s\n", err);
        return 1;
    }
    c.o.keys = kr;
    tag_src ts = {NULL, NULL};
    if (cmd != EV_SWEEP && cmd != EV_REKEY &&
        souk_index_open(data, NULL, SOUK_INDEX_RDONLY, &ts.ix, err, sizeof err) == 0 &&
        souk_reader_new(ts.ix, &ts.r) == 0) {
        c.o.item_tags = item_tags;
        c.o.item_tags_arg = &ts;
    }
    souk_events *s = NULL;
    rc = souk_events_open(data, &c.o, &s, err, sizeof err);
    if (rc) {
        fprintf(stderr, "souk-index: %s\n", err);
        goto out;
    }
    if (cmd == EV_CHECK) {
        rc = souk_events_check(s, err, sizeof err);
        if (rc)
            fprintf(stderr, "souk-index: events-check: %s\n", err);
        else
            printf("{\"check\":\"ok\"}\n");
    } else if (cmd == EV_REKEY) {
        souk_rekey_stats st;
        rc = souk_events_rekey(s, now ? now : wall_ms(), &st, err, sizeof err);
        if (rc)
            fprintf(stderr, "souk-index: %s\n", err);
        else
            printf("{\"from_kid\":%u,\"to_kid\":%u,\"rows\":%llu,\"pseudonyms_moved\":%llu}\n",
                   (unsigned)st.from_kid, (unsigned)st.to_kid, (unsigned long long)st.rows,
                   (unsigned long long)st.moved);
    } else if (cmd == EV_SWEEP) {
        souk_sweep_stats st;
        rc = souk_events_sweep(s, now ? now : wall_ms(), &st, err, sizeof err);
        if (rc)
            fprintf(stderr, "souk-index: %s\n", err);
        else
            printf("{\"events\":%llu,\"impressions\":%llu,\"history\":%llu,\"items_touched\":"
                   "%llu}\n",
                   (unsigned long long)st.events, (unsigned long long)st.impressions,
                   (unsigned long long)st.history, (unsigned long long)st.items_touched);
    } else if (c.from) {
        rc = events_from_nats(data, s, &c, now);
    } else {
        int fd = 0;
        if (strcmp(c.file, "-") != 0 && (fd = open(c.file, O_RDONLY | O_CLOEXEC)) < 0) {
            fprintf(stderr, "souk-index: cannot open '%s': %s\n", c.file, strerror(errno));
            rc = 1;
            goto out;
        }
        souk_ev_ingest_opts io;
        memset(&io, 0, sizeof io);
        io.batch = c.batch;
        io.follow = c.follow;
        io.from_start = c.from_start;
        io.progress = !c.quiet && isatty(2);
        io.now_ms = now;
        if (c.rejects && !(io.rejects = fopen(c.rejects, "a")))
            fprintf(stderr, "souk-index: cannot open rejects file '%s': %s\n", c.rejects,
                    strerror(errno));
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        io.stop = &g_stop;
        souk_ev_ingest_stats st;
        rc = souk_events_ingest(s, fd, fd ? c.file : "stdin", &io, &st, err, sizeof err);
        if (io.rejects)
            fclose(io.rejects);
        if (fd)
            close(fd);
        printf("{\"lines\":%llu,\"rejected\":%llu,\"dropped_fields\":%llu,\"stored\":%llu,"
               "\"anonymous\":%llu,\"duplicate\":%llu,\"suppressed\":%llu,\"expired\":%llu,"
               "\"commits\":%llu,\"resumed_at\":%llu,\"seconds\":%.3f,\"events_per_s\":%.0f}\n",
               (unsigned long long)st.lines, (unsigned long long)st.rejected,
               (unsigned long long)st.dropped_fields, (unsigned long long)st.counts.stored,
               (unsigned long long)st.counts.anonymous, (unsigned long long)st.counts.duplicate,
               (unsigned long long)st.counts.suppressed, (unsigned long long)st.counts.expired,
               (unsigned long long)st.commits, (unsigned long long)st.resumed_at, st.seconds,
               st.seconds > 0 ? (double)(st.lines - st.rejected) / st.seconds : 0.0);
        if (rc)
            fprintf(stderr, "souk-index: %s\n", err);
        else if (st.rejected)
            fprintf(stderr, "souk-index: %llu line(s) rejected%s%s\n",
                    (unsigned long long)st.rejected, c.rejects ? ", see " : "",
                    c.rejects ? c.rejects : "");
    }
out:
    souk_events_close(s);
    if (ts.r)
        souk_reader_free(ts.r);
    if (ts.ix)
        souk_index_close(ts.ix);
    souk_keyring_free(kr);
    return rc ? 1 : 0;
}

/* ------------------------------------------------------------------ backup and restore (P23) */

static int exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0;
}

/* Removes path and everything under it; 0, or -1. A missing path is no error. */
static int remove_tree(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0)
        return errno == ENOENT ? 0 : -1;
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        if (!d)
            return -1;
        struct dirent *e;
        int rc = 0;
        while ((e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char sub[4096];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            rc |= remove_tree(sub);
        }
        closedir(d);
        return rc | rmdir(path);
    }
    return unlink(path);
}

/* Copies the tree from into to (directories 0700, files at their mode, synced), leaving out
 * LMDB's lock files; 0, or -1 with errno. */
static int copy_tree(const char *from, const char *to)
{
    struct stat sb;
    if (lstat(from, &sb) != 0)
        return -1;
    if (S_ISDIR(sb.st_mode)) {
        if (mkdir(to, 0700) != 0 && errno != EEXIST)
            return -1;
        DIR *d = opendir(from);
        if (!d)
            return -1;
        struct dirent *e;
        int rc = 0;
        while (rc == 0 && (e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
                !strcmp(e->d_name, "lock.mdb"))
                continue;
            char a[4096], b[4096];
            snprintf(a, sizeof a, "%s/%s", from, e->d_name);
            snprintf(b, sizeof b, "%s/%s", to, e->d_name);
            rc = copy_tree(a, b);
        }
        closedir(d);
        return rc;
    }
    if (!S_ISREG(sb.st_mode))
        return 0;
    int in = open(from, O_RDONLY | O_CLOEXEC), out = -1, rc = -1;
    if (in >= 0)
        out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, sb.st_mode & 0777);
    if (out >= 0) {
        static char buf[1 << 16];
        ssize_t r;
        rc = 0;
        while ((r = read(in, buf, sizeof buf)) > 0)
            if (write(out, buf, (size_t)r) != r) {
                rc = -1;
                break;
            }
        if (r < 0 || fsync(out) != 0)
            rc = -1;
        close(out);
    }
    if (in >= 0)
        close(in);
    return rc;
}

static void fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* The folder holding path (for syncing a rename in it). */
static void parent_of(const char *path, char *out, size_t cap)
{
    snprintf(out, cap, "%s", path);
    char *sl = strrchr(out, '/');
    if (!sl)
        snprintf(out, cap, ".");
    else if (sl == out)
        sl[1] = 0;
    else
        *sl = 0;
}

static long long file_size(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 ? (long long)sb.st_size : -1;
}

/* P22: the index rewritten from its live rows, then the spelling table built whole again (a
 * Xapian table keeps deleted words' bytes in its blocks just as LMDB keeps freed pages). */
static int cmd_compact(const char *data)
{
    char err[1024], p[4200], q[4200];
    snprintf(p, sizeof p, "%s/data.mdb", data);
    long long before = file_size(p);
    if (souk_index_compact(data, err, sizeof err) != 0) {
        fprintf(stderr, "souk-index: %s\n", err);
        return 1;
    }
    long long after = file_size(p);
    snprintf(q, sizeof q, "%s/spelling.lock", data);
    int lk = open(q, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (lk < 0 || flock(lk, LOCK_EX) != 0) {
        fprintf(stderr, "souk-index: compact: locking '%s': %s\n", q, strerror(errno));
        if (lk >= 0)
            close(lk);
        return 1;
    }
    snprintf(q, sizeof q, "%s/spelling", data);
    int rm = remove_tree(q);
    snprintf(q, sizeof q, "%s/spelling.new", data);
    rm |= remove_tree(q);
    close(lk); /* the sync below takes the lock itself */
    if (rm) {
        fprintf(stderr, "souk-index: compact: removing the spelling table: %s\n", strerror(errno));
        return 1;
    }
    souk_index *ix;
    souk_spelling_stats ss;
    memset(&ss, 0, sizeof ss);
    if (souk_index_open(data, NULL, 0, &ix, err, sizeof err) != 0) {
        fprintf(stderr, "souk-index: %s\n", err);
        return 1;
    }
    int rc = souk_spelling_sync(ix, &ss, err, sizeof err);
    souk_index_close(ix);
    if (rc) {
        fprintf(stderr, "souk-index: compact: the spelling table: %s\n", err);
        return 1;
    }
    printf("{\"compacted\":true,\"bytes_before\":%lld,\"bytes_after\":%lld}\n", before, after);
    return 0;
}

static int cmd_backup(const char *data, int argc, char **argv)
{
    ev_cli c;
    int rc = ev_options(&c, argc, argv, 1);
    if (rc)
        return rc;
    const char *dest = c.file;
    char err[1024], p[4200];
    if (!strcmp(dest, "-")) {
        fprintf(stderr, "souk-index: backup: name the destination directory\n");
        return 2;
    }
    if (exists(dest)) {
        fprintf(stderr, "souk-index: backup: '%s' exists; back up into a new directory\n", dest);
        return 1;
    }
    snprintf(p, sizeof p, "%s/data.mdb", data);
    int has_catalog = exists(p);
    snprintf(p, sizeof p, "%s/events/CURRENT", data);
    int has_events = exists(p);
    if (!has_catalog && !has_events) {
        fprintf(stderr, "souk-index: backup: '%s' holds neither an index nor an event store\n",
                data);
        return 1;
    }
    souk_keyring *kr = NULL;
    if (has_events && souk_keyring_load(c.key, data, &kr, err, sizeof err)) {
        fprintf(stderr, "souk-index: %s\n", err);
        return 1;
    }
    if (mkdir(dest, 0700) != 0) {
        fprintf(stderr, "souk-index: backup: cannot create '%s': %s\n", dest, strerror(errno));
        souk_keyring_free(kr);
        return 1;
    }
    if (has_catalog) {
        souk_index *ix = open_existing(data);
        rc = ix ? souk_index_backup(ix, dest, err, sizeof err) : SOUK_EIO;
        if (ix && rc)
            fprintf(stderr, "souk-index: backup: %s\n", err);
        souk_index_close(ix);
    }
    snprintf(p, sizeof p, "%s/profiles/data.mdb", data);
    int has_profiles = exists(p);
    if (rc == 0 && has_profiles) {
        /* The ranking profiles' versions (DIR/profiles, souk/profstore.h). */
        char pdir[4200], pdest[4200];
        snprintf(pdir, sizeof pdir, "%s/profiles", data);
        snprintf(pdest, sizeof pdest, "%s/profiles", dest);
        souk_profstore *ps = NULL;
        rc = souk_profstore_open(pdir, &ps, err, sizeof err);
        if (rc == 0)
            rc = souk_profstore_backup(ps, pdest, err, sizeof err);
        if (rc)
            fprintf(stderr, "souk-index: backup: %s\n", err);
        souk_profstore_close(ps);
    }
    if (rc == 0 && has_events) {
        c.o.keys = kr;
        c.o.rdonly = 1;
        souk_events *s = NULL;
        rc = souk_events_open(data, &c.o, &s, err, sizeof err);
        if (rc == 0)
            rc = souk_events_backup(s, dest, err, sizeof err);
        if (rc)
            fprintf(stderr, "souk-index: backup: %s\n", err);
        souk_events_close(s);
    }
    souk_keyring_free(kr);
    if (rc) {
        remove_tree(dest); /* no half backup */
        return 1;
    }
    fsync_dir(dest);
    printf("{\"backup\":\"%s\",\"catalog\":%s,\"events\":%s,\"profiles\":%s}\n", dest,
           has_catalog ? "true" : "false", has_events ? "true" : "false",
           has_profiles ? "true" : "false");
    return 0;
}

static int cmd_restore(const char *data, int argc, char **argv)
{
    /* --replace and --ledger FILE first; the rest are the events options and SRC. */
    const char *ledgers[17];
    size_t nl = 0;
    int replace = 0, n = 0;
    char **rest = malloc(sizeof *rest * (size_t)(argc + 1));
    if (!rest)
        return 1;
    for (int i = 0; i < argc; i++) {
        if (!strcmp(argv[i], "--replace"))
            replace = 1;
        else if (!strcmp(argv[i], "--ledger") && i + 1 < argc && nl < 16)
            ledgers[nl++] = argv[++i];
        else
            rest[n++] = argv[i];
    }
    ev_cli c;
    int rc = ev_options(&c, n, rest, 1);
    if (rc) {
        free(rest);
        return rc;
    }
    const char *src = c.file;
    char err[1024], p[4400], tmp[4200], old[4200], parent[4200], own_ledger[4300], src_ev[4200];
    snprintf(tmp, sizeof tmp, "%s.restoring", data);
    snprintf(old, sizeof old, "%s.replaced", data);
    parent_of(data, parent, sizeof parent);
    snprintf(p, sizeof p, "%s/data.mdb", src);
    snprintf(src_ev, sizeof src_ev, "%s/events/CURRENT", src);
    rc = 1;
    souk_keyring *kr = NULL;
    souk_events *s = NULL;
    souk_index *ix = NULL;
    if (!strcmp(src, "-") || (!exists(p) && !exists(src_ev))) {
        fprintf(stderr, "souk-index: restore: '%s' is not a backup (no data.mdb, no events/)\n",
                src);
        goto out;
    }
    /* A restore killed between its two renames left the replaced directory aside: put it back,
     * so that its ledger is read again. */
    if (!exists(data) && exists(old) && rename(old, data) != 0) {
        fprintf(stderr, "souk-index: restore: cannot move '%s' back: %s\n", old, strerror(errno));
        goto out;
    }
    remove_tree(old);
    DIR *d = opendir(data);
    int nonempty = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        nonempty |= strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    if (d)
        closedir(d);
    if (nonempty && !replace) {
        fprintf(stderr,
                "souk-index: restore: '%s' holds data; pass --replace to replace it with the "
                "backup (its erasure ledger and audit log are kept)\n",
                data);
        goto out;
    }
    if (souk_keyring_load(c.key, data, &kr, err, sizeof err)) {
        fprintf(stderr, "souk-index: %s\n", err);
        goto out;
    }
    /* The copy, beside the data directory. */
    if (remove_tree(tmp) != 0 || copy_tree(src, tmp) != 0) {
        fprintf(stderr, "souk-index: restore: copying '%s' to '%s': %s\n", src, tmp,
                strerror(errno));
        goto out;
    }
    /* The data directory's own ledger and audit log are newer than the backup's. */
    snprintf(own_ledger, sizeof own_ledger, "%s/events/erasures.log", data);
    if (exists(own_ledger))
        ledgers[nl++] = own_ledger;
    snprintf(p, sizeof p, "%s/events/audit.log", data);
    if (exists(p)) {
        char q[4300];
        snprintf(q, sizeof q, "%s/events/audit.log", tmp);
        if (copy_tree(p, q) != 0) {
            fprintf(stderr, "souk-index: restore: copying '%s': %s\n", p, strerror(errno));
            goto out;
        }
    }
    snprintf(p, sizeof p, "%s/events/CURRENT", tmp);
    souk_ledger_stats ls = {0};
    if (exists(p)) {
        c.o.keys = kr;
        int64_t now = ev_now(&c);
        if ((rc = souk_events_open(tmp, &c.o, &s, err, sizeof err)) == 0)
            rc = souk_events_apply_ledger(s, ledgers, nl, now > 0 ? now : wall_ms(), &ls, err,
                                          sizeof err);
        souk_events_close(s);
        s = NULL;
        if (rc) {
            fprintf(stderr, "souk-index: restore: %s\n", err);
            rc = 1;
            goto out;
        }
    }
    /* The spelling table (derived, not in a backup). */
    snprintf(p, sizeof p, "%s/data.mdb", tmp);
    if (exists(p)) {
        souk_spelling_stats ss;
        if (souk_index_open(tmp, NULL, 0, &ix, err, sizeof err) != 0 ||
            souk_spelling_sync(ix, &ss, err, sizeof err) != 0) {
            fprintf(stderr, "souk-index: restore: %s\n", err);
            rc = 1;
            goto out;
        }
        souk_index_close(ix);
        ix = NULL;
    }
    /* The switch: the old directory aside, the copy in its place, the old one removed. */
    if ((exists(data) && rename(data, old) != 0) || rename(tmp, data) != 0) {
        fprintf(stderr, "souk-index: restore: renaming into '%s': %s\n", data, strerror(errno));
        rc = 1;
        goto out;
    }
    fsync_dir(parent);
    remove_tree(old);
    fsync_dir(parent);
    printf("{\"restored\":\"%s\",\"ledger_entries\":%llu,\"suppressions_added\":%llu,"
           "\"jobs_added\":%llu,\"users_erased\":%llu}\n",
           src, (unsigned long long)ls.entries, (unsigned long long)ls.suppressions_added,
           (unsigned long long)ls.jobs_added, (unsigned long long)ls.users_erased);
    rc = 0;
out:
    if (ix)
        souk_index_close(ix);
    souk_keyring_free(kr);
    free(rest);
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
    if (strcmp(cmd, "digest") == 0)
        return cmd_digest(data);
    if (strcmp(cmd, "check") == 0)
        return cmd_check(data);
    if (strcmp(cmd, "events") == 0)
        return cmd_events(data, EV_INGEST, argc - i, argv + i);
    if (strcmp(cmd, "events-sweep") == 0)
        return cmd_events(data, EV_SWEEP, argc - i, argv + i);
    if (strcmp(cmd, "events-check") == 0)
        return cmd_events(data, EV_CHECK, argc - i, argv + i);
    if (strcmp(cmd, "events-rekey") == 0)
        return cmd_events(data, EV_REKEY, argc - i, argv + i);
    if (strcmp(cmd, "backup") == 0)
        return cmd_backup(data, argc - i, argv + i);
    if (strcmp(cmd, "compact") == 0)
        return cmd_compact(data);
    if (strcmp(cmd, "restore") == 0)
        return cmd_restore(data, argc - i, argv + i);
    usage();
    return 2;
}
