/* souk_index.c: souk-index, the command-line indexer.
 *
 *   souk-index --data DIR [--schema FILE] catalog [FILE|-] [--follow] [--rejects FILE]
 *              [--batch N] [--threads N] [--from-start] [--quiet]
 *   souk-index --data DIR stats [--detail]
 *   souk-index --data DIR dump [--terms] [ID ...]
 *   souk-index --data DIR check
 *   souk-index --data DIR events [FILE|-] [--follow] [--from-start] [--rejects FILE] [--batch N
 * (50000)]
 *              [--now RFC3339] --pseudonym-key FILE [store options]
 *   souk-index --data DIR events-sweep [--now RFC3339] --pseudonym-key FILE [store options]
 *   souk-index --data DIR events-check --pseudonym-key FILE [store options]
 *     store options: --retention-events-days N (365) --retention-impressions-days N (30)
 *       --retention-history-days N (180) (0 keeps forever) --consent-default LIST (the consent of
 *       users with no record: a comma list of personalization, location, search_history, or
 *       none; default none) --halflife-days D (14) --cooc-items-max N (256)
 *
 * Exit status: 0 success (rejected lines are reported, not fatal), 1 failure, 2 usage. */
#include "souk/document.h"
#include "souk/events.h"
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
                    "  store options: --retention-events-days N --retention-impressions-days N\n"
                    "    --retention-history-days N --consent-default personalization,location,"
                    "search_history|none\n"
                    "    --halflife-days D --cooc-items-max N\n");
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
    const char *key, *now, *rejects, *file;
    int follow, from_start, quiet;
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

typedef enum { EV_INGEST, EV_SWEEP, EV_CHECK } ev_cmd;

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
    if (cmd != EV_SWEEP &&
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
    if (strcmp(cmd, "events") == 0)
        return cmd_events(data, EV_INGEST, argc - i, argv + i);
    if (strcmp(cmd, "events-sweep") == 0)
        return cmd_events(data, EV_SWEEP, argc - i, argv + i);
    if (strcmp(cmd, "events-check") == 0)
        return cmd_events(data, EV_CHECK, argc - i, argv + i);
    usage();
    return 2;
}
