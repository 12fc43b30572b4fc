/* Peer engines for the indexing benchmark: SQLite FTS5 (in a forked child) and Sphinx 2.2
 * (the external `indexer` program), each indexing the catalog NDJSON so that Souk's indexing
 * time, peak memory and index size can be compared with theirs. See peers.h. */
#define _DEFAULT_SOURCE /* wait4, realpath */

#include "peers.h"

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
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

#define SPHINX_INDEX_NAME "catalog"

/* ---------------------------------------------------------------- small helpers */

static void set_detail(peer_index_result *out, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(out->detail, sizeof out->detail, fmt, ap);
    va_end(ap);
}

double bench_now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Write "dir/name" into buf; -1 if it does not fit. */
int bench_path_join(char *buf, size_t size, const char *dir, const char *name)
{
    int n = snprintf(buf, size, "%s/%s", dir, name);

    return (n < 0 || (size_t)n >= size) ? -1 : 0;
}

/* Size of a regular file; -1 if it does not exist or is not a regular file. */
static int file_size(const char *path, unsigned long long *size)
{
    struct stat st;

    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return -1;
    *size = (unsigned long long)st.st_size;
    return 0;
}

/* Create `workdir` if it is missing, check that it is an empty directory and store its
   absolute path in abs. Returns 0, or -1 with a message in out->detail. */
static int prepare_workdir(const char *workdir, char *abs, peer_index_result *out)
{
    DIR *dir = NULL;
    struct dirent *de;

    if (mkdir(workdir, 0777) != 0 && errno != EEXIST) {
        set_detail(out, "cannot create workdir %s: %s", workdir, strerror(errno));
        goto fail;
    }
    if (realpath(workdir, abs) == NULL) {
        set_detail(out, "cannot resolve workdir %s: %s", workdir, strerror(errno));
        goto fail;
    }
    dir = opendir(abs);
    if (dir == NULL) {
        set_detail(out, "cannot open workdir %s: %s", abs, strerror(errno));
        goto fail;
    }
    while ((de = readdir(dir)) != NULL) {
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
            set_detail(out, "workdir %s is not empty (contains %s)", abs, de->d_name);
            goto fail;
        }
    }
    closedir(dir);
    return 0;
fail:
    if (dir != NULL)
        closedir(dir);
    return -1;
}

/* Resident set size of the calling process now, in kB; -1 if /proc is not readable. A child
   forked now starts with this much resident (its page tables are copied), and Linux keeps
   that figure in the child's peak RSS even across exec. */
long bench_rss_kb(void)
{
    unsigned long pages_total, pages_resident;
    FILE *fp = fopen("/proc/self/statm", "r");
    int n;

    if (fp == NULL)
        return -1;
    n = fscanf(fp, "%lu %lu", &pages_total, &pages_resident);
    fclose(fp);
    return n == 2 ? (long)(pages_resident * (unsigned long)sysconf(_SC_PAGESIZE) / 1024) : -1;
}

/* waitpid-style wait for one child that also collects its resource usage. */
int bench_wait_child(pid_t pid, int *status, struct rusage *ru)
{
    pid_t r;

    do {
        r = wait4(pid, status, 0, ru);
    } while (r < 0 && errno == EINTR);
    return r == pid ? 0 : -1;
}

/* Describe a wait status in buf ("exit status N" / "killed by signal N"). */
void bench_describe_status(int status, char *buf, size_t size)
{
    if (WIFEXITED(status))
        snprintf(buf, size, "exit status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, size, "killed by signal %d", WTERMSIG(status));
    else
        snprintf(buf, size, "wait status 0x%x", (unsigned)status);
}

int bench_run(char *const argv[], const char *out_path, int err_too, int *status, struct rusage *ru,
              char *err, size_t errlen)
{
    int errpipe[2] = {-1, -1};
    int child_errno = 0, rc = -1;
    pid_t pid;
    ssize_t n;

    /* The exec-failure pipe: closed by a successful exec, carries errno otherwise. */
    if (pipe2(errpipe, O_CLOEXEC) != 0) {
        snprintf(err, errlen, "pipe: %s", strerror(errno));
        goto out;
    }
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        goto out;
    }
    if (pid == 0) {
        int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0666);

        if (fd >= 0 && dup2(fd, STDOUT_FILENO) >= 0 && (!err_too || dup2(fd, STDERR_FILENO) >= 0)) {
            if (fd > STDERR_FILENO)
                close(fd);
            execvp(argv[0], argv);
        }
        child_errno = errno;
        if (write(errpipe[1], &child_errno, sizeof child_errno) < 0)
            _exit(127);
        _exit(127);
    }
    close(errpipe[1]);
    errpipe[1] = -1;
    do {
        n = read(errpipe[0], &child_errno, sizeof child_errno);
    } while (n < 0 && errno == EINTR);
    if (bench_wait_child(pid, status, ru) != 0) {
        snprintf(err, errlen, "wait4 on %s: %s", argv[0], strerror(errno));
        goto out;
    }
    if (n == (ssize_t)sizeof child_errno) {
        snprintf(err, errlen, "cannot run %s: %s", argv[0], strerror(child_errno));
        goto out;
    }
    rc = 0;
out:
    if (errpipe[0] >= 0)
        close(errpipe[0]);
    if (errpipe[1] >= 0)
        close(errpipe[1]);
    return rc;
}

/* ---------------------------------------------------------------- NDJSON reading */

typedef struct ndjson_reader {
    FILE *fp;
    char *line;
    size_t cap;
    unsigned long lineno; /* 1-based number of the line last read; the document id */
    cJSON *doc;           /* the document of that line, owned by the reader */
} ndjson_reader;

static int ndjson_open(ndjson_reader *r, const char *path)
{
    memset(r, 0, sizeof *r);
    r->fp = fopen(path, "r");
    return r->fp != NULL ? 0 : -1;
}

static void ndjson_close(ndjson_reader *r)
{
    cJSON_Delete(r->doc);
    free(r->line);
    if (r->fp != NULL)
        fclose(r->fp);
    memset(r, 0, sizeof *r);
}

/* Advance to the next non-blank line. Returns 1 with r->doc set, 0 at end of file, -1 on a
   read error or a line that is not a JSON object (message in err). */
static int ndjson_next(ndjson_reader *r, char *err, size_t errsize)
{
    ssize_t len;
    size_t i;

    cJSON_Delete(r->doc);
    r->doc = NULL;
    for (;;) {
        errno = 0;
        len = getline(&r->line, &r->cap, r->fp);
        if (len < 0) {
            if (ferror(r->fp)) {
                snprintf(err, errsize, "read error after line %lu: %s", r->lineno, strerror(errno));
                return -1;
            }
            return 0;
        }
        r->lineno++;
        for (i = 0; i < (size_t)len && strchr(" \t\r\n", r->line[i]) != NULL; i++)
            ;
        if (i < (size_t)len)
            break;
    }
    r->doc = cJSON_ParseWithLength(r->line, (size_t)len);
    if (r->doc == NULL || !cJSON_IsObject(r->doc)) {
        snprintf(err, errsize, "line %lu is not a JSON object", r->lineno);
        return -1;
    }
    return 1;
}

/* The string member `key` of `doc`, or "" if it is missing or not a string. */
static const char *json_string(const cJSON *doc, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(doc, key);

    return (cJSON_IsString(item) && item->valuestring != NULL) ? item->valuestring : "";
}

/* ---------------------------------------------------------------- SQLite FTS5 */

/* What the FTS5 child sends back through its pipe. */
typedef struct fts5_report {
    int ok;
    double seconds;
    unsigned long docs;
    long start_rss_kb; /* child's peak RSS before it did anything (inherited at fork) */
    char msg[400];
} fts5_report;

static void fts5_fill(fts5_report *rep, sqlite3 *db, const char *what)
{
    snprintf(rep->msg, sizeof rep->msg, "%s: %s", what,
             db != NULL ? sqlite3_errmsg(db) : "out of memory");
}

/* Body of the forked child: build the contentless FTS5 index in dbpath and report. */
static void fts5_child(const char *ndjson, const char *dbpath, fts5_report *rep)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *ins = NULL;
    ndjson_reader rd;
    struct rusage ru;
    double t0;
    int rc;

    memset(&rd, 0, sizeof rd);
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        rep->start_rss_kb = ru.ru_maxrss;
    if (ndjson_open(&rd, ndjson) != 0) {
        snprintf(rep->msg, sizeof rep->msg, "cannot open %s: %s", ndjson, strerror(errno));
        goto fail;
    }
    if (sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK) {
        fts5_fill(rep, db, "sqlite3_open_v2");
        goto fail;
    }
    rc = sqlite3_exec(db,
                      "CREATE VIRTUAL TABLE catalog USING fts5(title, description, "
                      "content='', tokenize='porter unicode61')",
                      NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        if (strstr(sqlite3_errmsg(db), "no such module") != NULL)
            snprintf(rep->msg, sizeof rep->msg, "this SQLite library (%s) has no FTS5: %s",
                     sqlite3_libversion(), sqlite3_errmsg(db));
        else
            fts5_fill(rep, db, "CREATE VIRTUAL TABLE");
        goto fail;
    }
    if (sqlite3_prepare_v2(db,
                           "INSERT INTO catalog(rowid, title, description) "
                           "VALUES(?, ?, ?)",
                           -1, &ins, NULL) != SQLITE_OK) {
        fts5_fill(rep, db, "prepare INSERT");
        goto fail;
    }

    t0 = bench_now_seconds();
    if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        fts5_fill(rep, db, "BEGIN");
        goto fail;
    }
    while ((rc = ndjson_next(&rd, rep->msg, sizeof rep->msg)) == 1) {
        sqlite3_bind_int64(ins, 1, (sqlite3_int64)rd.lineno);
        sqlite3_bind_text(ins, 2, json_string(rd.doc, "title"), -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 3, json_string(rd.doc, "description"), -1, SQLITE_STATIC);
        if (sqlite3_step(ins) != SQLITE_DONE) {
            fts5_fill(rep, db, "INSERT");
            goto fail;
        }
        sqlite3_reset(ins);
        rep->docs++;
    }
    if (rc < 0)
        goto fail;
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        fts5_fill(rep, db, "COMMIT");
        goto fail;
    }
    rep->seconds = bench_now_seconds() - t0;

    sqlite3_finalize(ins);
    ins = NULL;
    if (sqlite3_close(db) != SQLITE_OK) {
        fts5_fill(rep, db, "sqlite3_close");
        goto fail;
    }
    db = NULL;
    ndjson_close(&rd);
    rep->ok = 1;
    return;
fail:
    sqlite3_finalize(ins);
    sqlite3_close(db);
    ndjson_close(&rd);
    rep->ok = 0;
}

/* Untimed: copy the documents into a plain rowid table of storepath, as SQLite would keep
   them if the FTS5 table were not contentless. Returns 0, or -1 with a message in err. */
static int fts5_write_store(const char *ndjson, const char *storepath, char *err, size_t errsize)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *ins = NULL;
    ndjson_reader rd;
    char *tags = NULL;
    int rc;

    memset(&rd, 0, sizeof rd);
    if (ndjson_open(&rd, ndjson) != 0) {
        snprintf(err, errsize, "cannot open %s: %s", ndjson, strerror(errno));
        goto fail;
    }
    if (sqlite3_open_v2(storepath, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
            SQLITE_OK ||
        sqlite3_exec(db,
                     "CREATE TABLE docstore(id TEXT, title TEXT, description TEXT, "
                     "section TEXT, tags TEXT); BEGIN",
                     NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db,
                           "INSERT INTO docstore(rowid, id, title, description, "
                           "section, tags) VALUES(?, ?, ?, ?, ?, ?)",
                           -1, &ins, NULL) != SQLITE_OK) {
        snprintf(err, errsize, "store.db: %s", db != NULL ? sqlite3_errmsg(db) : "no memory");
        goto fail;
    }
    while ((rc = ndjson_next(&rd, err, errsize)) == 1) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(rd.doc, "tags");

        tags = cJSON_IsArray(t) ? cJSON_PrintUnformatted(t) : NULL;
        sqlite3_bind_int64(ins, 1, (sqlite3_int64)rd.lineno);
        sqlite3_bind_text(ins, 2, json_string(rd.doc, "id"), -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 3, json_string(rd.doc, "title"), -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 4, json_string(rd.doc, "description"), -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 5, json_string(rd.doc, "section"), -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 6, tags != NULL ? tags : "[]", -1, SQLITE_STATIC);
        if (sqlite3_step(ins) != SQLITE_DONE) {
            snprintf(err, errsize, "store.db INSERT: %s", sqlite3_errmsg(db));
            goto fail;
        }
        sqlite3_reset(ins);
        cJSON_free(tags);
        tags = NULL;
    }
    if (rc < 0)
        goto fail;
    if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        snprintf(err, errsize, "store.db COMMIT: %s", sqlite3_errmsg(db));
        goto fail;
    }
    sqlite3_finalize(ins);
    sqlite3_close(db);
    ndjson_close(&rd);
    return 0;
fail:
    cJSON_free(tags);
    sqlite3_finalize(ins);
    sqlite3_close(db);
    ndjson_close(&rd);
    return -1;
}

/* Index `ndjson` with a contentless SQLite FTS5 table in `workdir` (see peers.h). */
int peer_fts5_index(const char *ndjson, const char *workdir, peer_index_result *out)
{
    char dir[PATH_MAX], dbpath[PATH_MAX], storepath[PATH_MAX], how[64], err[400];
    int fds[2] = {-1, -1};
    fts5_report rep;
    struct rusage ru;
    pid_t pid = -1;
    size_t got = 0;
    ssize_t n;
    int status;
    double t0;

    memset(out, 0, sizeof *out);
    memset(&rep, 0, sizeof rep);
    if (prepare_workdir(workdir, dir, out) != 0)
        goto fail;
    if (bench_path_join(dbpath, sizeof dbpath, dir, "fts5.db") != 0 ||
        bench_path_join(storepath, sizeof storepath, dir, "store.db") != 0) {
        set_detail(out, "workdir path too long");
        goto fail;
    }
    if (pipe(fds) != 0) {
        set_detail(out, "pipe: %s", strerror(errno));
        goto fail;
    }
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        set_detail(out, "fork: %s", strerror(errno));
        goto fail;
    }
    if (pid == 0) {
        const char *p;
        size_t left;

        close(fds[0]);
        fts5_child(ndjson, dbpath, &rep);
        p = (const char *)&rep;
        left = sizeof rep;
        while (left > 0) {
            n = write(fds[1], p, left);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                _exit(2);
            p += n;
            left -= (size_t)n;
        }
        _exit(rep.ok ? 0 : 1);
    }

    close(fds[1]);
    fds[1] = -1;
    while (got < sizeof rep) {
        n = read(fds[0], (char *)&rep + got, sizeof rep - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fds[0]);
    fds[0] = -1;
    if (bench_wait_child(pid, &status, &ru) != 0) {
        pid = -1;
        set_detail(out, "wait4 on the FTS5 child: %s", strerror(errno));
        goto fail;
    }
    pid = -1;
    if (got != sizeof rep) {
        bench_describe_status(status, how, sizeof how);
        set_detail(out, "FTS5 child died without a report (%s)", how);
        goto fail;
    }
    rep.msg[sizeof rep.msg - 1] = '\0';
    if (!rep.ok || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        set_detail(out, "FTS5 indexing failed: %s", rep.msg[0] != '\0' ? rep.msg : "?");
        goto fail;
    }
    out->seconds = rep.seconds;
    out->docs = rep.docs;
    out->peak_rss_kb = ru.ru_maxrss;
    if (file_size(dbpath, &out->index_bytes) != 0) {
        set_detail(out, "FTS5 child succeeded but %s is missing", dbpath);
        goto fail;
    }

    t0 = bench_now_seconds();
    if (fts5_write_store(ndjson, storepath, err, sizeof err) != 0) {
        set_detail(out, "FTS5 document store: %s", err);
        goto fail;
    }
    if (file_size(storepath, &out->store_bytes) != 0) {
        set_detail(out, "%s is missing after writing it", storepath);
        goto fail;
    }
    set_detail(out,
               "index: fts5.db %llu B (SQLite %s, contentless fts5(title, description), "
               "porter unicode61, one transaction, child RSS at fork %ld kB); "
               "store: store.db %llu B (plain table docstore(id, title, description, section, "
               "tags), written untimed afterwards in %.2f s)",
               out->index_bytes, sqlite3_libversion(), rep.start_rss_kb, out->store_bytes,
               bench_now_seconds() - t0);
    return 0;
fail:
    if (fds[0] >= 0)
        close(fds[0]);
    if (fds[1] >= 0)
        close(fds[1]);
    if (pid > 0)
        bench_wait_child(pid, &status, &ru);
    return -1;
}

/* ---------------------------------------------------------------- Sphinx */

/* Locate the executable `name` (a path if it contains '/', else searched in PATH) and store
   its path in buf. Returns 0, or -1 if there is no such executable. */
static int find_program(const char *name, char *buf, size_t size)
{
    const char *path = getenv("PATH");
    const char *p, *end;
    int n;

    if (strchr(name, '/') != NULL) {
        n = snprintf(buf, size, "%s", name);
        return (n > 0 && (size_t)n < size && access(buf, X_OK) == 0) ? 0 : -1;
    }
    for (p = path != NULL ? path : "/usr/bin:/bin";; p = end + 1) {
        end = strchr(p, ':');
        if (end == NULL)
            end = p + strlen(p);
        if (end == p)
            n = snprintf(buf, size, "./%s", name);
        else
            n = snprintf(buf, size, "%.*s/%s", (int)(end - p), p, name);
        if (n > 0 && (size_t)n < size && access(buf, X_OK) == 0)
            return 0;
        if (*end == '\0')
            return -1;
    }
}

/* 1 if `s` can go verbatim into sphinx.conf and, single-quoted, into a shell command. */
static int conf_safe(const char *s)
{
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s < 0x20 || strchr("'#\\\" ", *s) != NULL)
            return 0;
    }
    return 1;
}

/* Write `s` as one TSV field: tabs, newlines, other control characters and backslashes
   (which the Sphinx TSV reader might treat as escapes) become spaces. All of them separate
   words under Sphinx's default charset_table anyway, so tokenization is unchanged. */
static void tsv_field(FILE *fp, const char *s)
{
    for (; *s != '\0'; s++)
        putc(((unsigned char)*s < 0x20 || *s == '\\') ? ' ' : *s, fp);
}

/* The keyword fields of the Debian catalog that Souk's schema indexes, filters on and stores,
   and its two numbers: what the "full" Sphinx configuration also gets, as attributes. */
static const char *const sphinx_strings[] = {"section",  "tags",    "version", "maintainer",
                                             "homepage", "depends", "source"};
static const char *const sphinx_numbers[] = {"installed_size_kb", "download_size_b"};

/* One keyword field as a TSV field: a string, or an array of strings joined by spaces. */
static void tsv_keyword(FILE *fp, const cJSON *doc, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, key);
    if (cJSON_IsString(v)) {
        tsv_field(fp, v->valuestring);
    } else if (cJSON_IsArray(v)) {
        const cJSON *e;
        int first = 1;
        cJSON_ArrayForEach(e, v)
        {
            if (!cJSON_IsString(e))
                continue;
            if (!first)
                putc(' ', fp);
            tsv_field(fp, e->valuestring);
            first = 0;
        }
    }
}

/* Untimed: convert the NDJSON to "id<TAB>title<TAB>description" lines, id = line number; with
   full, the keyword and number fields follow (sphinx_strings, sphinx_numbers).
   Returns 0 with the row count in *rows, or -1 with a message in err. */
static int sphinx_write_tsv(const char *ndjson, const char *tsvpath, int full, unsigned long *rows,
                            char *err, size_t errsize)
{
    ndjson_reader rd;
    FILE *fp = NULL;
    int rc;

    *rows = 0;
    memset(&rd, 0, sizeof rd);
    if (ndjson_open(&rd, ndjson) != 0) {
        snprintf(err, errsize, "cannot open %s: %s", ndjson, strerror(errno));
        goto fail;
    }
    fp = fopen(tsvpath, "w");
    if (fp == NULL) {
        snprintf(err, errsize, "cannot create %.300s: %s", tsvpath, strerror(errno));
        goto fail;
    }
    while ((rc = ndjson_next(&rd, err, errsize)) == 1) {
        fprintf(fp, "%lu\t", rd.lineno);
        tsv_field(fp, json_string(rd.doc, "title"));
        putc('\t', fp);
        tsv_field(fp, json_string(rd.doc, "description"));
        for (size_t k = 0; full && k < sizeof sphinx_strings / sizeof sphinx_strings[0]; k++) {
            putc('\t', fp);
            tsv_keyword(fp, rd.doc, sphinx_strings[k]);
        }
        for (size_t k = 0; full && k < sizeof sphinx_numbers / sizeof sphinx_numbers[0]; k++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(rd.doc, sphinx_numbers[k]);
            fprintf(fp, "\t%.0f", cJSON_IsNumber(v) && v->valuedouble >= 0 ? v->valuedouble : 0);
        }
        putc('\n', fp);
        (*rows)++;
    }
    if (rc < 0)
        goto fail;
    rc = ferror(fp);
    if (fclose(fp) != 0 || rc != 0) {
        fp = NULL;
        snprintf(err, errsize, "write error on %.300s", tsvpath);
        goto fail;
    }
    fp = NULL;
    ndjson_close(&rd);
    return 0;
fail:
    if (fp != NULL)
        fclose(fp);
    ndjson_close(&rd);
    return -1;
}

/* Write the Sphinx configuration: one tsvpipe source reading tsvpath, one plain index at
   indexpath. Returns 0, or -1 with a message in err. */
static int sphinx_write_conf(const char *confpath, const char *tsvpath, const char *indexpath,
                             int full, char *err, size_t errsize)
{
    FILE *fp = fopen(confpath, "w");
    int bad;

    if (fp == NULL) {
        snprintf(err, errsize, "cannot create %.300s: %s", confpath, strerror(errno));
        goto fail;
    }
    fprintf(fp,
            "# Written by the Souk indexing benchmark (bench/peers.c).\n"
            "source %s\n"
            "{\n"
            "    type = tsvpipe\n"
            "    tsvpipe_command = cat '%s'\n",
            SPHINX_INDEX_NAME, tsvpath);
    if (!full) {
        fprintf(fp, "    tsvpipe_field = title\n"
                    "    tsvpipe_field = description\n");
    } else {
        /* Text fields indexed and stored, keyword fields stored as string attributes, numbers
           as integer attributes: what Souk's schema keeps, short of keyword terms. */
        fprintf(fp, "    tsvpipe_field_string = title\n"
                    "    tsvpipe_field_string = description\n");
        for (size_t k = 0; k < sizeof sphinx_strings / sizeof sphinx_strings[0]; k++)
            fprintf(fp, "    tsvpipe_attr_string = %s\n", sphinx_strings[k]);
        for (size_t k = 0; k < sizeof sphinx_numbers / sizeof sphinx_numbers[0]; k++)
            fprintf(fp, "    tsvpipe_attr_bigint = %s\n", sphinx_numbers[k]);
    }
    fprintf(fp,
            "}\n"
            "\n"
            "index %s\n"
            "{\n"
            "    source = %s\n"
            "    path = %s\n"
            "    morphology = stem_en\n"
            "    min_word_len = 1\n"
            "}\n"
            "\n"
            "indexer\n"
            "{\n"
            "    mem_limit = 256M\n"
            "}\n",
            SPHINX_INDEX_NAME, SPHINX_INDEX_NAME, indexpath);
    bad = ferror(fp);
    if (fclose(fp) != 0 || bad) {
        fp = NULL;
        snprintf(err, errsize, "write error on %.300s", confpath);
        goto fail;
    }
    return 0;
fail:
    if (fp != NULL)
        fclose(fp);
    return -1;
}

/* Scan the indexer log: the document count of its "total N docs" line (0 if absent) and the
   first ERROR/FATAL line (empty if none). */
static void sphinx_scan_log(const char *logpath, unsigned long *docs, char *errline, size_t errsize)
{
    char line[1024];
    unsigned long n;
    FILE *fp;
    int end;

    *docs = 0;
    errline[0] = '\0';
    fp = fopen(logpath, "r");
    if (fp == NULL)
        return;
    while (fgets(line, sizeof line, fp) != NULL) {
        end = 0;
        if (*docs == 0 && sscanf(line, "total %lu docs%n", &n, &end) == 1 && end > 0)
            *docs = n;
        if (errline[0] == '\0' &&
            (strstr(line, "ERROR") != NULL || strstr(line, "FATAL") != NULL)) {
            line[strcspn(line, "\r\n")] = '\0';
            snprintf(errline, errsize, "%.300s", line);
        }
    }
    fclose(fp);
}

/* Index `ndjson` with the Sphinx `indexer` program in `workdir` (see peers.h). */
int peer_sphinx_index(const char *ndjson, const char *workdir, int full, peer_index_result *out)
{
    static const char *const counted[] = {"spd", "spp", "spi"};
    static const char *const others[] = {"spe", "sph", "spa", "spk", "spm", "sps"};
    char dir[PATH_MAX], indexer[PATH_MAX], tsvpath[PATH_MAX], confpath[PATH_MAX];
    char logpath[PATH_MAX], indexpath[PATH_MAX], file[PATH_MAX + 16];
    char err[400], how[64];
    const char *name;
    char *argv[5];
    unsigned long long size, tsv_bytes = 0;
    unsigned long rows;
    struct rusage ru;
    int status;
    long caller_rss_kb;
    size_t len, i;
    double t0;

    memset(out, 0, sizeof *out);
    name = getenv("SPHINX_INDEXER");
    if (name == NULL || name[0] == '\0')
        name = "indexer";
    if (find_program(name, indexer, sizeof indexer) != 0) {
        set_detail(out,
                   "Sphinx indexer '%s' not found (install sphinxsearch, or set "
                   "SPHINX_INDEXER to the indexer program)",
                   name);
        goto fail;
    }
    if (prepare_workdir(workdir, dir, out) != 0)
        goto fail;
    if (!conf_safe(dir)) {
        set_detail(out,
                   "workdir %s contains a character (space, quote, #, backslash or "
                   "control) that cannot be used in sphinx.conf",
                   dir);
        goto fail;
    }
    if (bench_path_join(tsvpath, sizeof tsvpath, dir, "catalog.tsv") != 0 ||
        bench_path_join(confpath, sizeof confpath, dir, "sphinx.conf") != 0 ||
        bench_path_join(logpath, sizeof logpath, dir, "indexer.log") != 0 ||
        bench_path_join(indexpath, sizeof indexpath, dir, SPHINX_INDEX_NAME) != 0) {
        set_detail(out, "workdir path too long");
        goto fail;
    }
    if (sphinx_write_tsv(ndjson, tsvpath, full, &rows, err, sizeof err) != 0 ||
        sphinx_write_conf(confpath, tsvpath, indexpath, full, err, sizeof err) != 0) {
        set_detail(out, "Sphinx input: %s", err);
        goto fail;
    }
    file_size(tsvpath, &tsv_bytes);

    argv[0] = indexer;
    argv[1] = (char *)"--config";
    argv[2] = confpath;
    argv[3] = (char *)"--all";
    argv[4] = NULL;
    caller_rss_kb = bench_rss_kb();
    t0 = bench_now_seconds();
    if (bench_run(argv, logpath, 1, &status, &ru, err, sizeof err) != 0) {
        set_detail(out, "Sphinx indexer (log %s): %s", logpath, err);
        goto fail;
    }
    out->seconds = bench_now_seconds() - t0;
    out->peak_rss_kb = ru.ru_maxrss;

    sphinx_scan_log(logpath, &out->docs, err, sizeof err);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        bench_describe_status(status, how, sizeof how);
        set_detail(out, "Sphinx indexer failed (%s), see %s: %s", how, logpath,
                   err[0] != '\0' ? err : "no ERROR line in the log");
        goto fail;
    }
    if (out->docs != rows) {
        set_detail(out, "Sphinx indexer reported %lu docs for %lu TSV rows, see %s", out->docs,
                   rows, logpath);
        goto fail;
    }

    len = (size_t)snprintf(out->detail, sizeof out->detail, "index: ");
    for (i = 0; i < sizeof counted / sizeof counted[0]; i++) {
        snprintf(file, sizeof file, "%s.%s", indexpath, counted[i]);
        if (file_size(file, &size) != 0) {
            set_detail(out, "Sphinx indexer exited 0 but %s is missing, see %s", file, logpath);
            goto fail;
        }
        out->index_bytes += size;
        if (len < sizeof out->detail)
            len += (size_t)snprintf(out->detail + len, sizeof out->detail - len, "%s.%s %llu B, ",
                                    SPHINX_INDEX_NAME, counted[i], size);
    }
    if (len < sizeof out->detail)
        len += (size_t)snprintf(out->detail + len, sizeof out->detail - len,
                                "(stem_en); not counted: ");
    for (i = 0; i < sizeof others / sizeof others[0]; i++) {
        if (full && (strcmp(others[i], "spa") == 0 || strcmp(others[i], "sps") == 0))
            continue; /* counted as the store below */
        snprintf(file, sizeof file, "%s.%s", indexpath, others[i]);
        if (file_size(file, &size) == 0 && len < sizeof out->detail)
            len += (size_t)snprintf(out->detail + len, sizeof out->detail - len, ".%s %llu B, ",
                                    others[i], size);
    }
    out->store_bytes = 0;
    if (full) {
        /* The stored text and attributes: strings (.sps) and fixed attributes (.spa). */
        static const char *const stored[] = {"sps", "spa"};
        for (i = 0; i < 2; i++) {
            snprintf(file, sizeof file, "%s.%s", indexpath, stored[i]);
            if (file_size(file, &size) == 0)
                out->store_bytes += size;
        }
    }
    if (len < sizeof out->detail)
        snprintf(out->detail + len, sizeof out->detail - len,
                 "input catalog.tsv %llu B (untimed); %s; caller RSS at fork %ld kB", tsv_bytes,
                 full ? "title and description stored, keyword fields as string attributes, "
                        "numbers as attributes (.sps + .spa counted as the store)"
                      : "no document store",
                 caller_rss_kb);
    return 0;
fail:
    return -1;
}
