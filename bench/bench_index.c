/* bench_index.c: `souk-bench index`, the indexing benchmark. It indexes the full Debian package
 * catalog (NDJSON, decompressed once, untimed, into the work dir) with four engines side by side:
 * Souk (souk_ingest), Xapian (TermGenerator through souk_xdb_add_text), SQLite FTS5 and Sphinx
 * (bench/peers.c), Sphinx twice: as the issue set it (title and description indexed, nothing
 * stored) and as `sphinx_full`, keeping what Souk's schema keeps (title and description stored,
 * the keyword fields as string attributes, the numbers as attributes). Every engine runs in its own
 * forked child of this small process, so the peak RSS reported (wait4 ru_maxrss) is that engine's
 * alone. It prints a table of docs, seconds, docs/s, peak RSS and on-disk sizes (postings +
 * positions + dictionary, document store, total), the Souk/peer ratios, and as the last line one
 * JSON object with all figures.
 *
 *   souk-bench index [--catalog FILE.jsonl[.xz]] [--work DIR]
 *                    [--engines souk,xapian,fts5,sphinx,sphinx_full] [--rounds N] [--keep]
 *
 * With --rounds N (1 to 9, default 1) every selected engine indexes N times, round by round, in
 * the listed order in odd rounds and in reverse order in even ones, each time into a fresh dir.
 * An engine's figures are those of its median round (by time); each Souk/peer docs/s ratio is the
 * median of the ratios measured within one round, which the shared, noisy machines need.
 *
 * The catalog defaults to ../shared/data/catalog/debian-packages.jsonl.xz and the Souk schema to
 * indexer/schemas/debian-packages.json, both relative to the project's source tree
 * (bench_locate: $SOUK_SOURCE_DIR or the tree the build was configured from). A missing catalog
 * prints "SKIP: ..." and exits 0. Exit status: 0 when every selected engine succeeded, 1 otherwise,
 * 2 on a usage error. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* wait4, mkdtemp, nftw, readlink */
#endif

#include "bench.h"
#include "souk/buf.h"
#include "peers.h"

#include "souk/index.h"
#include "souk/ingest.h"
#include "souk/schema.h"
#include "souk/souk.h"
#include "souk/spelling.h"
#include "xdb.h"

#include <cjson/cJSON.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

#define CATALOG_REL "../shared/data/catalog/debian-packages.jsonl.xz"
#define SCHEMA_REL "indexer/schemas/debian-packages.json"
#define XAPIAN_COMMIT_DOCS 100000
#define SOUK_BATCH_DOCS 100000
#define SOUK_THREADS 2

enum { ENG_SOUK = 0, ENG_XAPIAN, ENG_FTS5, ENG_SPHINX, ENG_SPHINX_FULL, ENG_COUNT };

static const char *const engine_names[ENG_COUNT] = {"souk", "xapian", "fts5", "sphinx",
                                                    "sphinx_full"};

/* Paths shared by all engines; all absolute or relative to the current directory. */
typedef struct bench_ctx {
    char ndjson[PATH_MAX];          /* the decompressed catalog every engine reads */
    char schema[PATH_MAX];          /* Souk schema file */
    char work[PATH_MAX];            /* work directory */
    char souk_dir[PATH_MAX];        /* Souk data dir */
    char souk_rejects[PATH_MAX];    /* Souk rejected lines (outside its data dir) */
    char xapian_dir[PATH_MAX];      /* Xapian database as written */
    char xapian_compact[PATH_MAX];  /* xapian-compact output */
    char xapian_log[PATH_MAX];      /* xapian-compact's output */
    char fts5_dir[PATH_MAX];        /* peer_fts5_index work dir */
    char sphinx_dir[PATH_MAX];      /* peer_sphinx_index work dir */
    char sphinx_full_dir[PATH_MAX]; /* the same, with every field Souk keeps */
} bench_ctx;

/* What one engine run measured. Passed from the child to the parent through a pipe, so it holds
 * no pointers. */
typedef struct engine_result {
    int ran;                        /* selected and attempted */
    int ok;                         /* succeeded */
    unsigned long long docs;        /* records indexed */
    double seconds;                 /* timed part: parse + index + commit */
    long peak_rss_kb;               /* peak RSS of the process that indexed */
    long fork_rss_kb;               /* RSS of its parent when that process was forked */
    long child_rss_kb;              /* peak RSS (wait4) of the run_in_child child */
    long bench_rss_kb;              /* souk-bench's RSS when it forked that child */
    unsigned long long index_bytes; /* postings + positions + dictionary on disk */
    unsigned long long store_bytes; /* document store on disk */
    unsigned long long other_bytes; /* other structures (term lists, lengths, attributes...) */
    unsigned long long total_bytes; /* everything the engine keeps on disk */
    /* Souk only */
    double commit_seconds, wait_seconds;
    double spelling_seconds; /* Souk: the spelling table, built after the timed ingest */
    unsigned long long rejected, ndocs, terms;
    unsigned long long pay_postings, pay_positions, pay_dict;
    /* Xapian only: after xapian-compact */
    int have_compact;
    unsigned long long compact_index_bytes, compact_total_bytes;
    double compact_seconds;
    char detail[1024]; /* what was counted, or why it failed */
} engine_result;

typedef int (*child_fn)(const bench_ctx *ctx, engine_result *res);

/* ---------------------------------------------------------------- small helpers */

static void set_detail(engine_result *res, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(res->detail, sizeof res->detail, fmt, ap);
    va_end(ap);
}

/* Append to res->detail. */
static void add_detail(engine_result *res, const char *fmt, ...)
{
    size_t len = strlen(res->detail);
    va_list ap;

    if (len + 1 >= sizeof res->detail)
        return;
    va_start(ap, fmt);
    vsnprintf(res->detail + len, sizeof res->detail - len, fmt, ap);
    va_end(ap);
}

/* Write "dir/name" into buf; -1 if it does not fit. */
/* Size of the regular file path, 0 if it does not exist. */
static unsigned long long file_bytes(const char *path)
{
    struct stat st;

    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return 0;
    return (unsigned long long)st.st_size;
}

/* Size of dir/name, 0 if it does not exist. */
static unsigned long long dir_file_bytes(const char *dir, const char *name)
{
    char path[PATH_MAX];

    if (bench_path_join(path, sizeof path, dir, name) != 0)
        return 0;
    return file_bytes(path);
}

/* Sum of the sizes of the regular files directly in dir whose names start with prefix ("" for
 * all). */
static unsigned long long dir_bytes(const char *dir, const char *prefix)
{
    unsigned long long sum = 0;
    struct dirent *de;
    DIR *d = opendir(dir);

    if (d == NULL)
        return 0;
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
            sum += dir_file_bytes(dir, de->d_name);
    }
    closedir(d);
    return sum;
}

/* Resident set size of this process now, in kB; -1 if /proc is not readable. */
static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    if (remove(path) != 0 && errno != ENOENT)
        fprintf(stderr, "souk-bench: cannot remove %s: %s\n", path, strerror(errno));
    return 0;
}

/* Remove path and everything below it (symbolic links are removed, not followed). */
static void remove_tree(const char *path)
{
    struct stat st;

    if (lstat(path, &st) != 0)
        return;
    nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Removes what engine e wrote in the work dir, for its next round. */
static void clear_engine_dirs(const bench_ctx *ctx, int e)
{
    if (e == ENG_SOUK) {
        remove_tree(ctx->souk_dir);
        remove_tree(ctx->souk_rejects);
    } else if (e == ENG_XAPIAN) {
        remove_tree(ctx->xapian_dir);
        remove_tree(ctx->xapian_compact);
        remove_tree(ctx->xapian_log);
    } else if (e == ENG_FTS5) {
        remove_tree(ctx->fts5_dir);
    } else if (e == ENG_SPHINX) {
        remove_tree(ctx->sphinx_dir);
    } else {
        remove_tree(ctx->sphinx_full_dir);
    }
}

/* 1 if dir does not exist or is an empty directory. */
static int dir_missing_or_empty(const char *dir)
{
    struct dirent *de;
    DIR *d = opendir(dir);
    int empty = 1;

    if (d == NULL)
        return errno == ENOENT;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
            empty = 0;
            break;
        }
    }
    closedir(d);
    return empty;
}

/* Run argv (looked up in PATH) with stdout going to out_path (created or truncated) and, if
 * err_too, stderr as well. Returns 0 when it exited with status 0, else -1 with a message in
 * err. */
static int run_program(char *const argv[], const char *out_path, int err_too, char *err,
                       size_t errlen)
{
    int status;
    struct rusage ru;
    char how[64];

    if (bench_run(argv, out_path, err_too, &status, &ru, err, errlen) != 0)
        return -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        bench_describe_status(status, how, sizeof how);
        snprintf(err, errlen, "%s failed (%s)", argv[0], how);
        return -1;
    }
    return 0;
}

/* Run fn(ctx, res) in a forked child and copy its result back into *res, with the child's peak
 * RSS (wait4) in res->child_rss_kb and souk-bench's RSS at the fork in res->bench_rss_kb.
 * Returns 0 when the child reported success. */
static int run_in_child(child_fn fn, const bench_ctx *ctx, engine_result *res)
{
    int fds[2] = {-1, -1};
    engine_result got;
    struct rusage ru;
    size_t have = 0;
    char how[64];
    int status, rc = -1;
    long fork_rss = bench_rss_kb();
    pid_t pid;
    ssize_t n;

    memset(&got, 0, sizeof got);
    if (pipe2(fds, O_CLOEXEC) != 0) {
        set_detail(res, "pipe: %s", strerror(errno));
        goto out;
    }
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        set_detail(res, "fork: %s", strerror(errno));
        goto out;
    }
    if (pid == 0) {
        const char *p = (const char *)res;
        size_t left = sizeof *res;

        close(fds[0]);
        res->ok = fn(ctx, res) == 0;
        while (left > 0) {
            n = write(fds[1], p, left);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                _exit(2);
            p += n;
            left -= (size_t)n;
        }
        _exit(res->ok ? 0 : 1);
    }
    close(fds[1]);
    fds[1] = -1;
    while (have < sizeof got) {
        n = read(fds[0], (char *)&got + have, sizeof got - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        have += (size_t)n;
    }
    if (bench_wait_child(pid, &status, &ru) != 0) {
        set_detail(res, "wait4: %s", strerror(errno));
        goto out;
    }
    if (have != sizeof got) {
        bench_describe_status(status, how, sizeof how);
        set_detail(res, "child died without a report (%s)", how);
        goto out;
    }
    got.detail[sizeof got.detail - 1] = '\0';
    *res = got;
    res->child_rss_kb = ru.ru_maxrss;
    res->bench_rss_kb = fork_rss;
    rc = res->ok ? 0 : -1;
out:
    if (fds[0] >= 0)
        close(fds[0]);
    if (fds[1] >= 0)
        close(fds[1]);
    return rc;
}

/* ---------------------------------------------------------------- Souk */

/* Child: ingest the catalog into a fresh Souk data dir, timing souk_ingest. */
static int souk_ingest_child(const bench_ctx *ctx, engine_result *res)
{
    souk_schema *schema = NULL;
    souk_index *ix = NULL;
    souk_ingest_opts o;
    souk_ingest_stats st;
    FILE *rejects = NULL;
    char err[512];
    int fd = -1, rc = -1;
    double t0;

    if (souk_schema_load(ctx->schema, &schema, err, sizeof err) != 0) {
        set_detail(res, "schema %s: %s", ctx->schema, err);
        goto out;
    }
    if (souk_index_open(ctx->souk_dir, schema, 0, &ix, err, sizeof err) != 0) {
        set_detail(res, "souk_index_open %s: %s", ctx->souk_dir, err);
        goto out;
    }
    fd = open(ctx->ndjson, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        set_detail(res, "cannot open %s: %s", ctx->ndjson, strerror(errno));
        goto out;
    }
    rejects = fopen(ctx->souk_rejects, "w");
    if (rejects == NULL) {
        set_detail(res, "cannot create %s: %s", ctx->souk_rejects, strerror(errno));
        goto out;
    }
    memset(&o, 0, sizeof o);
    o.threads = SOUK_THREADS;
    o.batch_docs = SOUK_BATCH_DOCS;
    o.progress = 0;
    o.from_start = 1;
    o.rejects = rejects;
    /* The peers build no spelling data: the spelling table is timed on its own, after. */
    t0 = bench_now_seconds();
    if (souk_ingest(ix, fd, ctx->ndjson, &o, &st, err, sizeof err) != 0) {
        set_detail(res, "souk_ingest: %s", err);
        goto out;
    }
    res->seconds = bench_now_seconds() - t0;
    souk_spelling_stats ss;
    t0 = bench_now_seconds();
    if (souk_spelling_sync(ix, &ss, err, sizeof err) != 0) {
        set_detail(res, "souk_spelling_sync: %s", err);
        goto out;
    }
    res->spelling_seconds = bench_now_seconds() - t0;
    res->docs = st.records;
    res->rejected = st.rejected;
    res->commit_seconds = st.commit_seconds;
    res->wait_seconds = st.wait_seconds;
    set_detail(res,
               "%llu lines, %llu records (%llu added, %llu replaced), %llu rejected, %llu "
               "commits; ",
               (unsigned long long)st.lines, (unsigned long long)st.records,
               (unsigned long long)st.added, (unsigned long long)st.replaced,
               (unsigned long long)st.rejected, (unsigned long long)st.commits);
    rc = 0;
out:
    if (rejects != NULL)
        fclose(rejects);
    if (fd >= 0)
        close(fd);
    souk_index_close(ix);
    souk_schema_free(schema);
    return rc;
}

/* Child, untimed: the sizes of the Souk index and a full consistency check. */
static int souk_stats_child(const bench_ctx *ctx, engine_result *res)
{
    souk_index *ix = NULL;
    souk_reader *r = NULL;
    souk_check_stats cs;
    souk_stats s;
    char err[512];
    int rc = -1, e;

    if (souk_index_open(ctx->souk_dir, NULL, SOUK_INDEX_RDONLY, &ix, err, sizeof err) != 0) {
        set_detail(res, "souk_index_open %s: %s", ctx->souk_dir, err);
        goto out;
    }
    e = souk_reader_new(ix, &r);
    if (e == 0)
        e = souk_reader_stats(r, &s);
    if (e != 0) {
        set_detail(res, "souk_reader_stats: %s", souk_strerror(e));
        goto out;
    }
    if (souk_index_check(r, &cs, err, sizeof err) != 0) {
        set_detail(res, "souk_index_check: %s", err);
        goto out;
    }
    res->ndocs = s.docs;
    res->terms = s.terms;
    res->index_bytes = s.bytes_postings;
    res->store_bytes = s.bytes_store;
    res->other_bytes = s.bytes_other;
    res->total_bytes = s.bytes_file;
    res->pay_postings = cs.postings_bytes;
    res->pay_positions = cs.positions_bytes;
    res->pay_dict = cs.dict_bytes + cs.post_key_bytes;
    set_detail(res,
               "%llu docs, %llu terms; pages: postings+positions %llu B, dictionary %llu B, "
               "store %llu B, other %llu B, data file %llu B; payload: postings %llu B, "
               "positions %llu B, dictionary+keys %llu B; check ok",
               (unsigned long long)s.docs, (unsigned long long)s.terms,
               (unsigned long long)(s.bytes_postings - s.bytes_dictionary),
               (unsigned long long)s.bytes_dictionary, (unsigned long long)s.bytes_store,
               (unsigned long long)s.bytes_other, (unsigned long long)s.bytes_file,
               (unsigned long long)cs.postings_bytes, (unsigned long long)cs.positions_bytes,
               (unsigned long long)(cs.dict_bytes + cs.post_key_bytes));
    rc = 0;
out:
    souk_reader_free(r);
    souk_index_close(ix);
    return rc;
}

/* Souk: timed ingest in one child, then sizes and check in another. */
static int run_souk(const bench_ctx *ctx, engine_result *res)
{
    engine_result st;
    int rc = -1;

    memset(&st, 0, sizeof st);
    if (run_in_child(souk_ingest_child, ctx, res) != 0)
        goto out;
    res->peak_rss_kb = res->child_rss_kb;
    res->fork_rss_kb = res->bench_rss_kb;
    if (run_in_child(souk_stats_child, ctx, &st) != 0) {
        set_detail(res, "%s", st.detail);
        res->ok = 0;
        goto out;
    }
    res->ndocs = st.ndocs;
    res->terms = st.terms;
    res->index_bytes = st.index_bytes;
    res->store_bytes = st.store_bytes;
    res->other_bytes = st.other_bytes;
    res->total_bytes = st.total_bytes;
    res->pay_postings = st.pay_postings;
    res->pay_positions = st.pay_positions;
    res->pay_dict = st.pay_dict;
    add_detail(res,
               "commit %.2f s, waiting for analysis %.2f s; then the spelling table %.2f s "
               "(not in docs/s); %s",
               res->commit_seconds, res->wait_seconds, res->spelling_seconds, st.detail);
    if (res->rejected > 0)
        add_detail(res, "; rejected lines in %s", ctx->souk_rejects);
    rc = 0;
out:
    return rc;
}

/* ---------------------------------------------------------------- Xapian */

/* The string member key of doc, "" if missing or not a string. */
static const char *json_str(const cJSON *doc, const char *key)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(doc, key);

    return (cJSON_IsString(it) && it->valuestring != NULL) ? it->valuestring : "";
}

static souk_xfield text_field(const char *text, const char *prefix, uint32_t wdf_inc)
{
    souk_xfield f;

    f.text = text;
    f.len = strlen(text);
    f.prefix = prefix;
    f.lang = "en";
    f.wdf_inc = wdf_inc;
    f.boolean = 0;
    return f;
}

static souk_xfield bool_field(const char *text, const char *prefix)
{
    souk_xfield f;

    f.text = text;
    f.len = strlen(text);
    f.prefix = prefix;
    f.lang = NULL;
    f.wdf_inc = 0;
    f.boolean = 1;
    return f;
}

/* Child: index the catalog the way a plain Xapian application would, timing parse + index +
 * commit. */
static int xapian_child(const bench_ctx *ctx, engine_result *res)
{
    souk_xfield *fields = NULL, *grown;
    const cJSON *tags, *tag;
    souk_xdb *db = NULL;
    cJSON *doc = NULL;
    FILE *fp = NULL;
    char *line = NULL;
    size_t cap = 0, nf, fcap = 0, need;
    unsigned long long lineno = 0, bad = 0;
    char err[512];
    ssize_t len;
    int rc = -1, e;
    double t0;

    fp = fopen(ctx->ndjson, "r");
    if (fp == NULL) {
        set_detail(res, "cannot open %s: %s", ctx->ndjson, strerror(errno));
        goto out;
    }
    if (souk_xdb_open(ctx->xapian_dir, 1, &db, err, sizeof err) != 0) {
        set_detail(res, "souk_xdb_open %s: %s", ctx->xapian_dir, err);
        goto out;
    }
    t0 = bench_now_seconds();
    while ((len = getline(&line, &cap, fp)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0)
            continue;
        doc = cJSON_ParseWithLength(line, (size_t)len);
        if (doc == NULL || !cJSON_IsObject(doc)) {
            bad++;
            cJSON_Delete(doc);
            doc = NULL;
            continue;
        }
        tags = cJSON_GetObjectItemCaseSensitive(doc, "tags");
        need = 4 + (size_t)(cJSON_IsArray(tags) ? cJSON_GetArraySize(tags) : 0);
        if (need > fcap) {
            grown = realloc(fields, need * sizeof *fields);
            if (grown == NULL) {
                set_detail(res, "out of memory");
                goto out;
            }
            fields = grown;
            fcap = need;
        }
        nf = 0;
        fields[nf++] = text_field(json_str(doc, "title"), "S", 2);
        fields[nf++] = text_field(json_str(doc, "title"), "", 2);
        fields[nf++] = text_field(json_str(doc, "description"), "", 1);
        if (json_str(doc, "section")[0] != '\0')
            fields[nf++] = bool_field(json_str(doc, "section"), "XSECTION:");
        if (cJSON_IsArray(tags)) {
            cJSON_ArrayForEach(tag, tags)
            {
                if (cJSON_IsString(tag) && tag->valuestring != NULL && tag->valuestring[0] != '\0')
                    fields[nf++] = bool_field(tag->valuestring, "XTAG:");
            }
        }
        e = souk_xdb_add_text(db, fields, nf, line, (size_t)len);
        if (e != 0) {
            set_detail(res, "line %llu: souk_xdb_add_text: %s", lineno, souk_xdb_errmsg(db));
            goto out;
        }
        cJSON_Delete(doc);
        doc = NULL;
        res->docs++;
        if (res->docs % XAPIAN_COMMIT_DOCS == 0 && souk_xdb_commit(db) != 0) {
            set_detail(res, "souk_xdb_commit: %s", souk_xdb_errmsg(db));
            goto out;
        }
    }
    if (ferror(fp)) {
        set_detail(res, "read error on %s", ctx->ndjson);
        goto out;
    }
    if (souk_xdb_commit(db) != 0) {
        set_detail(res, "souk_xdb_commit: %s", souk_xdb_errmsg(db));
        goto out;
    }
    res->seconds = bench_now_seconds() - t0;
    set_detail(res, "%llu lines, %llu docs, %llu not JSON objects; ", lineno, res->docs, bad);
    rc = 0;
out:
    souk_xdb_close(db);
    cJSON_Delete(doc);
    free(fields);
    free(line);
    if (fp != NULL)
        fclose(fp);
    return rc;
}

/* Xapian: timed indexing in a child, then (untimed) sizes and xapian-compact. */
static int run_xapian(const bench_ctx *ctx, engine_result *res)
{
    char *argv[4];
    char err[512];
    double t0;
    int rc = -1;

    if (run_in_child(xapian_child, ctx, res) != 0)
        goto out;
    res->peak_rss_kb = res->child_rss_kb;
    res->fork_rss_kb = res->bench_rss_kb;
    res->index_bytes = dir_file_bytes(ctx->xapian_dir, "postlist.glass") +
                       dir_file_bytes(ctx->xapian_dir, "position.glass");
    res->store_bytes = dir_file_bytes(ctx->xapian_dir, "docdata.glass");
    res->other_bytes = dir_file_bytes(ctx->xapian_dir, "termlist.glass");
    res->total_bytes = dir_bytes(ctx->xapian_dir, "");
    add_detail(res,
               "postlist.glass %llu B + position.glass %llu B (glass keeps the dictionary "
               "in the postlist table); store: docdata.glass %llu B; other: termlist.glass "
               "%llu B; all files %llu B",
               dir_file_bytes(ctx->xapian_dir, "postlist.glass"),
               dir_file_bytes(ctx->xapian_dir, "position.glass"), res->store_bytes,
               res->other_bytes, res->total_bytes);

    argv[0] = (char *)"xapian-compact";
    argv[1] = (char *)ctx->xapian_dir;
    argv[2] = (char *)ctx->xapian_compact;
    argv[3] = NULL;
    t0 = bench_now_seconds();
    if (run_program(argv, ctx->xapian_log, 1, err, sizeof err) != 0) {
        add_detail(res, "; xapian-compact: %s (install xapian-tools; log %s)", err,
                   ctx->xapian_log);
    } else {
        res->have_compact = 1;
        res->compact_seconds = bench_now_seconds() - t0;
        res->compact_index_bytes = dir_file_bytes(ctx->xapian_compact, "postlist.glass") +
                                   dir_file_bytes(ctx->xapian_compact, "position.glass");
        res->compact_total_bytes = dir_bytes(ctx->xapian_compact, "");
        add_detail(res,
                   "; xapian-compact (%.2f s, untimed): postlist+position %llu B, all "
                   "files %llu B",
                   res->compact_seconds, res->compact_index_bytes, res->compact_total_bytes);
    }
    rc = 0;
out:
    return rc;
}

/* ---------------------------------------------------------------- FTS5 and Sphinx */

/* Copy a peer result into an engine result. */
static void from_peer(engine_result *res, const peer_index_result *p)
{
    res->docs = p->docs;
    res->seconds = p->seconds;
    res->peak_rss_kb = p->peak_rss_kb;
    res->index_bytes = p->index_bytes;
    res->store_bytes = p->store_bytes;
    set_detail(res, "%s", p->detail);
}

/* Child: peer_fts5_index, called from a fresh small process (peak RSS is its own child's). */
static int fts5_child(const bench_ctx *ctx, engine_result *res)
{
    peer_index_result p;
    long rss = bench_rss_kb();
    int rc = peer_fts5_index(ctx->ndjson, ctx->fts5_dir, &p);

    from_peer(res, &p);
    res->fork_rss_kb = rss;
    return rc;
}

/* Child: peer_sphinx_index, called from a fresh small process (peak RSS is the indexer's). */
static int sphinx_child_in(const char *dir, int full, const bench_ctx *ctx, engine_result *res)
{
    peer_index_result p;
    long rss = bench_rss_kb();
    int rc = peer_sphinx_index(ctx->ndjson, dir, full, &p);

    from_peer(res, &p);
    res->fork_rss_kb = rss;
    return rc;
}

static int sphinx_child(const bench_ctx *ctx, engine_result *res)
{
    return sphinx_child_in(ctx->sphinx_dir, 0, ctx, res);
}

static int sphinx_full_child(const bench_ctx *ctx, engine_result *res)
{
    return sphinx_child_in(ctx->sphinx_full_dir, 1, ctx, res);
}

static int run_fts5(const bench_ctx *ctx, engine_result *res)
{
    if (run_in_child(fts5_child, ctx, res) != 0)
        return -1;
    res->total_bytes = res->index_bytes + res->store_bytes;
    return 0;
}

/* Runs one Sphinx configuration; the total counts all index files (catalog.sp?), not the TSV
 * input, config or log. */
static int run_sphinx_in(child_fn fn, const char *dir, const bench_ctx *ctx, engine_result *res)
{
    if (run_in_child(fn, ctx, res) != 0)
        return -1;
    res->total_bytes = dir_bytes(dir, "catalog.sp");
    return 0;
}

static int run_sphinx(const bench_ctx *ctx, engine_result *res)
{
    return run_sphinx_in(sphinx_child, ctx->sphinx_dir, ctx, res);
}

static int run_sphinx_full(const bench_ctx *ctx, engine_result *res)
{
    return run_sphinx_in(sphinx_full_child, ctx->sphinx_full_dir, ctx, res);
}

/* ---------------------------------------------------------------- report */

/* The report line; an append that fails (out of memory) is remembered, and the report says so
 * instead of printing a truncated line. */
typedef struct json_buf {
    souk_buf b;
    int failed;
} json_buf;

static void json_add(json_buf *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void json_add(json_buf *j, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (souk_buf_vprintf(&j->b, fmt, ap))
        j->failed = 1;
    va_end(ap);
}

/* "key":value with decimals digits, or "key":null. */
static void json_num(json_buf *j, const char *key, int have, double v, int decimals)
{
    json_add(j, "%s\"%s\":", j->b.len > 1 ? "," : "", key);
    if (have)
        json_add(j, "%.*f", decimals, v);
    else
        json_add(j, "null");
}

static double docs_per_s(const engine_result *r)
{
    return r->seconds > 0 ? (double)r->docs / r->seconds : 0.0;
}

#define MAX_ROUNDS 9

/* The ratio of Souk's docs/s to engine e's in each round (0 where either failed), and their
 * median (0 when no round has both). */
typedef struct round_ratios {
    int n;
    double r[MAX_ROUNDS][ENG_COUNT];
} round_ratios;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median_of(double *v, int n)
{
    if (n == 0)
        return 0;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double ratio_median(const round_ratios *rr, int e)
{
    double v[MAX_ROUNDS];
    int n = 0;
    for (int k = 0; k < rr->n; k++)
        if (rr->r[k][e] > 0)
            v[n++] = rr->r[k][e];
    return median_of(v, n);
}

/* Print one table row. */
static void print_row(const char *name, const engine_result *r)
{
    if (!r->ok) {
        printf("%-16s FAILED: %s\n", name, r->detail);
        return;
    }
    printf("%-16s %7llu %8.2f %9.0f %10.1f %15llu %12llu %12llu\n", name, r->docs, r->seconds,
           docs_per_s(r), (double)r->peak_rss_kb / 1024.0, r->index_bytes, r->store_bytes,
           r->total_bytes);
}

static void print_ratio(const char *what, int have, double num, double den)
{
    if (have && den > 0)
        printf("  %-34s %.2f\n", what, num / den);
    else
        printf("  %-34s n/a\n", what);
}

static void print_report(const char *catalog, const bench_ctx *ctx, const engine_result *res,
                         double unpack_seconds, const round_ratios *rr)
{
    const engine_result *s = &res[ENG_SOUK], *x = &res[ENG_XAPIAN], *f = &res[ENG_FTS5];
    const engine_result *sp = &res[ENG_SPHINX];
    json_buf j;
    int i;

    printf("\nsouk-bench index: %s\n", catalog);
    if (strcmp(ctx->ndjson, catalog) != 0)
        printf("  NDJSON %s: %llu B (decompressed in %.2f s, untimed)\n", ctx->ndjson,
               file_bytes(ctx->ndjson), unpack_seconds);
    else
        printf("  NDJSON: %llu B, read in place\n", file_bytes(ctx->ndjson));
    printf("  work dir %s\n\n", ctx->work);
    printf("%-16s %7s %8s %9s %10s %15s %12s %12s\n", "engine", "docs", "seconds", "docs/s",
           "peakRSS MB", "post+pos+dict B", "store B", "total B");
    for (i = 0; i < ENG_COUNT; i++) {
        if (res[i].ran)
            print_row(engine_names[i], &res[i]);
        if (i == ENG_XAPIAN && x->ran && x->ok && x->have_compact)
            printf("%-16s %7s %8s %9s %10s %15llu %12llu %12llu\n", "xapian-compact", "-", "-", "-",
                   "-", x->compact_index_bytes,
                   dir_file_bytes(ctx->xapian_compact, "docdata.glass"), x->compact_total_bytes);
    }
    printf("\n");
    for (i = 0; i < ENG_COUNT; i++) {
        if (res[i].ran && res[i].ok)
            printf("%s: peak RSS %ld kB (RSS of its parent at fork %ld kB); %s\n", engine_names[i],
                   res[i].peak_rss_kb, res[i].fork_rss_kb, res[i].detail);
    }
    /* docs/s ratios: within one run, or the median of the rounds' own ratios. */
    double rx = ratio_median(rr, ENG_XAPIAN), rsp = ratio_median(rr, ENG_SPHINX);
    double rspf = ratio_median(rr, ENG_SPHINX_FULL), rf = ratio_median(rr, ENG_FTS5);
    if (rr->n > 1) {
        printf("\nsouk/peer docs/s in each of %d rounds:\n", rr->n);
        for (i = 1; i < ENG_COUNT; i++) {
            if (!res[i].ran)
                continue;
            printf("  %-12s", engine_names[i]);
            for (int k = 0; k < rr->n; k++)
                printf(" %.2f", rr->r[k][i]);
            printf("  (median %.2f)\n", ratio_median(rr, i));
        }
    }
    printf("\nratios%s:\n", rr->n > 1 ? " (docs/s: median of the rounds)" : "");
    print_ratio("souk/xapian docs/s", rx > 0, rx, 1);
    print_ratio("souk/sphinx docs/s", rsp > 0, rsp, 1);
    print_ratio("souk/sphinx_full docs/s", rspf > 0, rspf, 1);
    print_ratio("souk/fts5 docs/s", rf > 0, rf, 1);
    print_ratio("souk_bytes/sphinx_bytes", s->ok && sp->ok, (double)s->index_bytes,
                (double)sp->index_bytes);
    print_ratio("souk_bytes/xapian_bytes", s->ok && x->ok, (double)s->index_bytes,
                (double)x->index_bytes);
    print_ratio("souk_bytes/xapian_compact_bytes", s->ok && x->ok && x->have_compact,
                (double)s->index_bytes, (double)x->compact_index_bytes);
    print_ratio("souk_bytes/fts5_bytes", s->ok && f->ok, (double)s->index_bytes,
                (double)f->index_bytes);
    print_ratio("souk/sphinx peak RSS", s->ok && sp->ok, (double)s->peak_rss_kb,
                (double)sp->peak_rss_kb);

    memset(&j, 0, sizeof j);
    json_add(&j, "{");
    for (i = 0; i < ENG_COUNT; i++) {
        const engine_result *r = &res[i];
        char key[64];

        snprintf(key, sizeof key, "%s_docs_per_s", engine_names[i]);
        json_num(&j, key, r->ok, docs_per_s(r), 0);
    }
    for (i = 0; i < ENG_COUNT; i++) {
        const engine_result *r = &res[i];
        char key[64];

        snprintf(key, sizeof key, "%s_bytes", engine_names[i]);
        json_num(&j, key, r->ok, (double)r->index_bytes, 0);
        if (i == ENG_XAPIAN)
            json_num(&j, "xapian_compact_bytes", r->ok && r->have_compact,
                     (double)r->compact_index_bytes, 0);
    }
    for (i = 0; i < ENG_COUNT; i++) {
        const engine_result *r = &res[i];
        char key[64];

        snprintf(key, sizeof key, "%s_peak_rss_kb", engine_names[i]);
        json_num(&j, key, r->ok, (double)r->peak_rss_kb, 0);
        snprintf(key, sizeof key, "%s_docs", engine_names[i]);
        json_num(&j, key, r->ok, (double)r->docs, 0);
        snprintf(key, sizeof key, "%s_seconds", engine_names[i]);
        json_num(&j, key, r->ok, r->seconds, 3);
        snprintf(key, sizeof key, "%s_store_bytes", engine_names[i]);
        json_num(&j, key, r->ok, (double)r->store_bytes, 0);
        snprintf(key, sizeof key, "%s_total_bytes", engine_names[i]);
        json_num(&j, key, r->ok, (double)r->total_bytes, 0);
    }
    json_num(&j, "souk_commit_seconds", s->ok, s->commit_seconds, 3);
    json_num(&j, "souk_wait_seconds", s->ok, s->wait_seconds, 3);
    json_num(&j, "souk_spelling_seconds", s->ok, s->spelling_seconds, 3);
    json_num(&j, "souk_rejected", s->ok, (double)s->rejected, 0);
    json_num(&j, "souk_terms", s->ok, (double)s->terms, 0);
    json_num(&j, "souk_other_bytes", s->ok, (double)s->other_bytes, 0);
    json_num(&j, "souk_payload_postings_bytes", s->ok, (double)s->pay_postings, 0);
    json_num(&j, "souk_payload_positions_bytes", s->ok, (double)s->pay_positions, 0);
    json_num(&j, "souk_payload_dictionary_bytes", s->ok, (double)s->pay_dict, 0);
    json_num(&j, "xapian_other_bytes", x->ok, (double)x->other_bytes, 0);
    json_num(&j, "xapian_compact_total_bytes", x->ok && x->have_compact,
             (double)x->compact_total_bytes, 0);
    json_num(&j, "souk_vs_xapian_docs_per_s", rx > 0, rx, 3);
    json_num(&j, "souk_vs_sphinx_docs_per_s", rsp > 0, rsp, 3);
    json_num(&j, "souk_vs_sphinx_full_docs_per_s", rspf > 0, rspf, 3);
    json_num(&j, "rounds", 1, rr->n, 0);
    json_num(&j, "souk_vs_sphinx_bytes", s->ok && sp->ok && sp->index_bytes > 0,
             sp->index_bytes > 0 ? (double)s->index_bytes / (double)sp->index_bytes : 0, 3);
    for (i = 0; i < ENG_COUNT; i++) {
        if (res[i].ran)
            json_add(&j, ",\"%s_ok\":%s", engine_names[i], res[i].ok ? "true" : "false");
    }
    json_add(&j, "}");
    if (j.failed)
        fprintf(stderr, "souk-bench index: out of memory writing the report\n");
    else
        printf("%s\n", j.b.p);
    souk_buf_free(&j.b);
}

/* ---------------------------------------------------------------- main */

static void usage(void)
{
    fprintf(stderr,
            "usage: souk-bench index [--catalog FILE.jsonl[.xz]] [--work DIR]\n"
            "                        [--engines souk,xapian,fts5,sphinx,sphinx_full] [--rounds N]\n"
            "                        [--keep]\n");
}

/* Parse "souk,xapian,..." into sel[]. Returns 0, or -1 on an unknown name. */
static int parse_engines(const char *list, int sel[ENG_COUNT])
{
    const char *p = list, *end;
    size_t len;
    int i, found;

    for (i = 0; i < ENG_COUNT; i++)
        sel[i] = 0;
    while (*p != '\0') {
        end = strchr(p, ',');
        len = end != NULL ? (size_t)(end - p) : strlen(p);
        found = 0;
        for (i = 0; i < ENG_COUNT; i++) {
            if (len == strlen(engine_names[i]) && strncmp(p, engine_names[i], len) == 0) {
                sel[i] = 1;
                found = 1;
            }
        }
        if (!found && len > 0) {
            fprintf(stderr,
                    "souk-bench index: unknown engine '%.*s' (souk, xapian, fts5, "
                    "sphinx, sphinx_full)\n",
                    (int)len, p);
            return -1;
        }
        p += len;
        if (*p == ',')
            p++;
    }
    return 0;
}

/* Decompress (xz) or just point at the catalog. Returns 0, or -1 with a message on stderr. */
static int prepare_ndjson(const char *catalog, bench_ctx *ctx)
{
    size_t len = strlen(catalog);
    char *argv[4];
    char err[512];

    if (len < 3 || strcmp(catalog + len - 3, ".xz") != 0) {
        if (snprintf(ctx->ndjson, sizeof ctx->ndjson, "%s", catalog) >= (int)sizeof ctx->ndjson)
            return -1;
        return 0;
    }
    if (bench_path_join(ctx->ndjson, sizeof ctx->ndjson, ctx->work, "catalog.jsonl") != 0)
        return -1;
    fprintf(stderr, "souk-bench index: decompressing %s into %s\n", catalog, ctx->work);
    argv[0] = (char *)"xz";
    argv[1] = (char *)"-dc";
    argv[2] = (char *)catalog;
    argv[3] = NULL;
    if (run_program(argv, ctx->ndjson, 0, err, sizeof err) != 0) {
        fprintf(stderr, "souk-bench index: decompressing %s: %s (install xz-utils)\n", catalog,
                err);
        return -1;
    }
    return 0;
}

/* souk-bench index: index the Debian package catalog with Souk, Xapian, SQLite FTS5 and Sphinx,
 * each in its own child process, and print time, docs/s, peak RSS and on-disk sizes side by
 * side, then one JSON line with every figure. argv holds the options after "index" (see the file
 * comment). Returns the exit status: 0 when every selected engine succeeded (or the catalog is
 * missing: "SKIP: ..." is printed), 1 when an engine or the setup failed, 2 on a usage error.
 * The work dir is a fresh mkdtemp dir under /tmp unless --work is given (it must then be missing
 * or empty); what the run created there is removed at the end unless --keep. */
int bench_index(int argc, char **argv)
{
    static bench_ctx ctx;
    static engine_result res[ENG_COUNT];
    static engine_result runs[MAX_ROUNDS][ENG_COUNT];
    static round_ratios rr;
    static int (*const runners[ENG_COUNT])(const bench_ctx *, engine_result *) = {
        run_souk, run_xapian, run_fts5, run_sphinx, run_sphinx_full};
    char root[PATH_MAX], catalog[PATH_MAX] = "", abs[PATH_MAX];
    const char *catalog_opt = NULL, *work_opt = NULL,
               *engines_opt = "souk,xapian,fts5,sphinx,sphinx_full";
    int sel[ENG_COUNT];
    int keep = 0, made_work = 0, made_tmp = 0, status = 1, i, failed = 0, rounds = 1;
    double t0, unpack_seconds = 0;
    struct stat st;

    memset(&ctx, 0, sizeof ctx);
    memset(res, 0, sizeof res);
    for (i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--catalog") == 0 && i + 1 < argc) {
            catalog_opt = argv[++i];
        } else if (strcmp(argv[i], "--work") == 0 && i + 1 < argc) {
            work_opt = argv[++i];
        } else if (strcmp(argv[i], "--engines") == 0 && i + 1 < argc) {
            engines_opt = argv[++i];
        } else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end != '\0' || v < 1 || v > MAX_ROUNDS) {
                fprintf(stderr, "souk-bench index: --rounds must be 1 to %d, not '%s'\n",
                        MAX_ROUNDS, argv[i]);
                usage();
                status = 2;
                goto out;
            }
            rounds = (int)v;
        } else if (strcmp(argv[i], "--keep") == 0) {
            keep = 1;
        } else {
            usage();
            status = 2;
            goto out;
        }
    }
    if (parse_engines(engines_opt, sel) != 0) {
        usage();
        status = 2;
        goto out;
    }
    if (bench_locate(root, sizeof root, NULL, 0) != 0) {
        fprintf(stderr, "souk-bench index: the source tree's path is too long\n");
        goto fail;
    }
    if (catalog_opt != NULL)
        snprintf(catalog, sizeof catalog, "%s", catalog_opt);
    else if (bench_path_join(catalog, sizeof catalog, root, CATALOG_REL) != 0)
        goto fail;
    if (stat(catalog, &st) != 0 || !S_ISREG(st.st_mode)) {
        printf("SKIP: catalog %s not found (%s); pass --catalog FILE.jsonl[.xz]\n", catalog,
               strerror(errno != 0 ? errno : EINVAL));
        status = 0;
        goto out;
    }
    if (realpath(catalog, abs) != NULL)
        snprintf(catalog, sizeof catalog, "%s", abs);
    if (bench_path_join(ctx.schema, sizeof ctx.schema, root, SCHEMA_REL) != 0)
        goto fail;

    /* The work dir. */
    if (work_opt == NULL) {
        snprintf(ctx.work, sizeof ctx.work, "/tmp/souk-bench-index.XXXXXX");
        if (mkdtemp(ctx.work) == NULL) {
            fprintf(stderr, "souk-bench index: mkdtemp: %s\n", strerror(errno));
            goto fail;
        }
        made_tmp = 1;
    } else {
        if (!dir_missing_or_empty(work_opt)) {
            fprintf(stderr, "souk-bench index: work dir %s must be missing or empty\n", work_opt);
            goto fail;
        }
        if (mkdir(work_opt, 0777) != 0 && errno != EEXIST) {
            fprintf(stderr, "souk-bench index: cannot create %s: %s\n", work_opt, strerror(errno));
            goto fail;
        }
        if (realpath(work_opt, ctx.work) == NULL) {
            fprintf(stderr, "souk-bench index: %s: %s\n", work_opt, strerror(errno));
            goto fail;
        }
    }
    made_work = 1;
    if (bench_path_join(ctx.souk_dir, sizeof ctx.souk_dir, ctx.work, "souk") != 0 ||
        bench_path_join(ctx.souk_rejects, sizeof ctx.souk_rejects, ctx.work,
                        "souk-rejects.ndjson") ||
        bench_path_join(ctx.xapian_dir, sizeof ctx.xapian_dir, ctx.work, "xapian") != 0 ||
        bench_path_join(ctx.xapian_compact, sizeof ctx.xapian_compact, ctx.work,
                        "xapian-compact") ||
        bench_path_join(ctx.xapian_log, sizeof ctx.xapian_log, ctx.work, "xapian-compact.log") ||
        bench_path_join(ctx.fts5_dir, sizeof ctx.fts5_dir, ctx.work, "fts5") != 0 ||
        bench_path_join(ctx.sphinx_dir, sizeof ctx.sphinx_dir, ctx.work, "sphinx") != 0 ||
        bench_path_join(ctx.sphinx_full_dir, sizeof ctx.sphinx_full_dir, ctx.work, "sphinx-full") !=
            0) {
        fprintf(stderr, "souk-bench index: work dir path too long\n");
        goto fail;
    }

    t0 = bench_now_seconds();
    if (prepare_ndjson(catalog, &ctx) != 0)
        goto fail;
    unpack_seconds = bench_now_seconds() - t0;

    memset(runs, 0, sizeof runs);
    memset(&rr, 0, sizeof rr);
    rr.n = rounds;
    for (int k = 0; k < rounds; k++) {
        for (int o = 0; o < ENG_COUNT; o++) {
            i = k % 2 ? ENG_COUNT - 1 - o : o;
            if (!sel[i])
                continue;
            engine_result *r = &runs[k][i];
            if (k > 0)
                clear_engine_dirs(&ctx, i);
            fprintf(stderr, "souk-bench index: indexing with %s (round %d of %d)...\n",
                    engine_names[i], k + 1, rounds);
            r->ran = 1;
            /* Untimed: the previous engine's files (Sphinx does not fsync) and the unpacked
             * catalog reach the disk now, not during this engine's own fsyncs. */
            sync();
            t0 = bench_now_seconds();
            if (runners[i](&ctx, r) != 0) {
                r->ok = 0;
                failed = 1;
                fprintf(stderr, "souk-bench index: %s FAILED: %s\n", engine_names[i], r->detail);
            } else {
                fprintf(stderr,
                        "souk-bench index: %s: %llu docs in %.2f s (%.2f s with the "
                        "untimed parts)\n",
                        engine_names[i], r->docs, r->seconds, bench_now_seconds() - t0);
            }
        }
        for (i = 1; i < ENG_COUNT; i++)
            if (runs[k][0].ok && runs[k][i].ok && docs_per_s(&runs[k][i]) > 0)
                rr.r[k][i] = docs_per_s(&runs[k][0]) / docs_per_s(&runs[k][i]);
    }
    /* Each engine's figures: its median round by time (a failed round counts as failed). */
    for (i = 0; i < ENG_COUNT; i++) {
        if (!sel[i])
            continue;
        int best = 0;
        double t[MAX_ROUNDS], med;
        int n = 0;
        for (int k = 0; k < rounds; k++)
            if (runs[k][i].ok)
                t[n++] = runs[k][i].seconds;
        if (n < rounds) {
            for (int k = 0; k < rounds; k++)
                if (!runs[k][i].ok)
                    best = k;
        } else {
            qsort(t, (size_t)n, sizeof *t, cmp_double);
            med = t[(n - 1) / 2]; /* the lower median: a real round's time */
            for (int k = 0; k < rounds; k++)
                if (runs[k][i].seconds == med)
                    best = k;
        }
        res[i] = runs[best][i];
    }
    for (i = 1; i < ENG_COUNT; i++) {
        if (res[i].ok && res[0].ok && res[i].docs != res[0].docs)
            fprintf(stderr, "souk-bench index: note: %s indexed %llu docs, souk %llu\n",
                    engine_names[i], res[i].docs, res[0].docs);
    }
    print_report(catalog, &ctx, res, unpack_seconds, &rr);
    status = failed ? 1 : 0;
    goto out;
fail:
    status = 1;
out:
    fflush(stdout);
    if (made_work && !keep) {
        if (made_tmp) {
            remove_tree(ctx.work);
        } else {
            if (ctx.ndjson[0] != '\0' && strcmp(ctx.ndjson, catalog) != 0)
                remove_tree(ctx.ndjson);
            remove_tree(ctx.souk_dir);
            remove_tree(ctx.souk_rejects);
            remove_tree(ctx.xapian_dir);
            remove_tree(ctx.xapian_compact);
            remove_tree(ctx.xapian_log);
            remove_tree(ctx.fts5_dir);
            remove_tree(ctx.sphinx_dir);
            remove_tree(ctx.sphinx_full_dir);
        }
    } else if (made_work) {
        fprintf(stderr, "souk-bench index: kept work dir %s\n", ctx.work);
    }
    return status;
}
