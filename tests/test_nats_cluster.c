/* test_nats_cluster.c: replication through NATS JetStream end to end (docs/scaling.md), with
 * real programs only: a 3-node nats-server cluster with JetStream on free ports of 127.0.0.1 in a
 * temporary directory, souk-publish, two replicas of souk-index following the streams, and
 * souk-server.
 *
 *   1. The Debian catalog (with later updates and deletes) is published while both replicas
 *      follow it; at random moments one NATS node and one replica's indexer are killed with
 *      SIGKILL and restarted. Both replicas converge to the digest (souk-index digest) of a
 *      single-node ingest of the same records from a file, with the same document count.
 *   2. Behaviour events (Groceries) go the same way to a regional stream (events.eu.*): again a
 *      node and a replica's event indexer are killed; both replicas end with exactly the events of
 *      a file ingest, and the restarted indexer applied nothing twice (no duplicates).
 *   3. min_seq: a record published and searched at once with the sequence souk-publish returned
 *      is either found or refused with 503 not_caught_up, never missing from a 200.
 *   4. NATS down: with every node killed the replica keeps serving its index and reports that it
 *      does not reach NATS; when the nodes return it catches up with what is published then.
 *   5. Regions: a server configured for region eu refuses user tokens of region cn (and without a
 *      region) with 403 wrong_region, and serves an eu user; CN users' events, on their own
 *      stream and followed by a CN replica, leave no pseudonym or raw id in the EU replicas' data
 *      directories and logs (byte scan, with the CN store as the positive control).
 *   6. Erasure across the log: `souk-publish erase --user A --user B` erases both users'
 *      messages from the stream in one scan; read back, none is left; a replica rebuilt from the
 *      stream holds no byte of them (their pseudonyms and raw ids), and does hold the other user
 *      published with them.
 *   7. Retention reaches the log: an event stream made with --retention-days keeps its events
 *      that long (JetStream's MaxAge); a replica built at once holds them, one built after the
 *      retention has passed holds none; a stream made without the option keeps 365 days.
 *
 * The region byte scan, erasure and retention run before part 4 (see main).
 * The random moments come from a seed printed at the start (SOUK_TEST_SEED=N repeats a run). */
#include "check.h"
#include "kit/behavior.h"
#include "kit/fixture.h"
#include "kit/http.h"
#include "kit/scan.h"
#include "souk/events.h"
#include "souk/keys.h"
#include "souk/souk.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#define NNODES 3

typedef struct node {
    pid_t pid;
    int port, cport;
} node;

static char g_tmp[256];
static node g_nodes[NNODES];
static char g_urls[512]; /* nats://127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3 */
static const char *g_schema = SOUK_SOURCE_DIR "/indexer/schemas/debian-packages.json";

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - (time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* A port free now on 127.0.0.1 (the kernel's pick). */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    REQUIRE(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    socklen_t l = sizeof a;
    REQUIRE(getsockname(fd, (struct sockaddr *)&a, &l) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* Every process this test started, so that a failed REQUIRE (exit) leaves none running. */
static pid_t g_pids[256];
static int g_npids;

static void kill_all(void)
{
    for (int i = 0; i < g_npids; i++)
        if (g_pids[i] > 0 && kill(g_pids[i], SIGKILL) == 0)
            waitpid(g_pids[i], NULL, 0);
}

/* Runs cmd through the shell with its output appended to log, as a process of its own (exec):
 * the pid is the program's. */
static pid_t spawn(const char *cmd, const char *log)
{
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid > 0 && g_npids < (int)(sizeof g_pids / sizeof g_pids[0]))
        g_pids[g_npids++] = pid;
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        char full[8192];
        snprintf(full, sizeof full, "exec %s", cmd);
        execl("/bin/sh", "sh", "-c", full, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* SIGKILL (or sig) and reap; returns the wait status. */
static int stop_pid(pid_t pid, int sig)
{
    int st = 0;
    if (pid <= 0)
        return 0;
    kill(pid, sig);
    waitpid(pid, &st, 0);
    for (int i = 0; i < g_npids; i++)
        if (g_pids[i] == pid)
            g_pids[i] = 0;
    return st;
}

/* A process reaped elsewhere: no longer one to kill at exit. */
static void forget(pid_t pid)
{
    for (int i = 0; i < g_npids; i++)
        if (g_pids[i] == pid)
            g_pids[i] = 0;
}

static void node_start(int i)
{
    char cmd[2048], log[400], routes[256] = "";
    for (int k = 0; k < NNODES; k++) {
        if (k == i)
            continue;
        char one[64];
        snprintf(one, sizeof one, "%snats://127.0.0.1:%d", routes[0] ? "," : "", g_nodes[k].cport);
        strcat(routes, one);
    }
    REQUIRE(snprintf(cmd, sizeof cmd,
                     "nats-server -a 127.0.0.1 -p %d -js -sd %s/nats%d -n souk-n%d --cluster_name "
                     "souk --cluster nats://127.0.0.1:%d --routes %s",
                     g_nodes[i].port, g_tmp, i, i, g_nodes[i].cport, routes) < (int)sizeof cmd);
    REQUIRE(snprintf(log, sizeof log, "%s/nats%d.log", g_tmp, i) < (int)sizeof log);
    g_nodes[i].pid = spawn(cmd, log);
}

static void node_kill(int i)
{
    stop_pid(g_nodes[i].pid, SIGKILL);
    g_nodes[i].pid = 0;
}

/* The unsigned number `key` of the JSON object in text (the last line that has it); -1. */
static long long json_num(const char *text, const char *key)
{
    long long v = -1;
    for (const char *l = text; l && *l;) {
        const char *nl = strchr(l, '\n');
        size_t n = nl ? (size_t)(nl - l) : strlen(l);
        cJSON *j = cJSON_ParseWithLength(l, n);
        const cJSON *x = j ? cJSON_GetObjectItemCaseSensitive(j, key) : NULL;
        if (cJSON_IsNumber(x))
            v = (long long)x->valuedouble;
        else if (cJSON_IsBool(x))
            v = cJSON_IsTrue(x);
        cJSON_Delete(j);
        l = nl ? nl + 1 : NULL;
    }
    return v;
}

/* The string `key` of the last JSON line of text that has it, into out; "" when none. */
static const char *json_str(const char *text, const char *key, char *out, size_t cap)
{
    out[0] = 0;
    for (const char *l = text; l && *l;) {
        const char *nl = strchr(l, '\n');
        size_t n = nl ? (size_t)(nl - l) : strlen(l);
        cJSON *j = cJSON_ParseWithLength(l, n);
        const cJSON *x = j ? cJSON_GetObjectItemCaseSensitive(j, key) : NULL;
        if (cJSON_IsString(x))
            snprintf(out, cap, "%s", x->valuestring);
        cJSON_Delete(j);
        l = nl ? nl + 1 : NULL;
    }
    return out;
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *b = malloc(1 << 16);
    REQUIRE(b);
    size_t n = fread(b, 1, (1 << 16) - 1, f);
    fclose(f);
    b[n] = 0;
    return b;
}

/* souk-publish KIND FILE to STREAM (args: more options); its last_seq, REQUIREing success. */
static long long publish(const char *kind, const char *args, const char *stream, const char *file)
{
    char cmd[2048];
    int status;
    REQUIRE(snprintf(cmd, sizeof cmd, "%s/souk-publish %s %s --to nats://%s/%s %s", SOUK_BIN_DIR,
                     kind, args, g_urls, stream, file) < (int)sizeof cmd);
    char *out = kit_run(cmd, 1, &status);
    if (status != 0)
        fprintf(stderr, "souk-publish failed (%d): %s\n", status, out);
    REQUIRE(status == 0);
    long long seq = json_num(out, "last_seq");
    free(out);
    return seq;
}

/* A replica's follower of a stream, as a process. */
typedef struct follower {
    pid_t pid;
    char dir[400], log[400], cmd[2048];
} follower;

static void follower_start(follower *f)
{
    f->pid = spawn(f->cmd, f->log);
}

static void follower_init(follower *f, const char *dir, const char *kind, const char *durable,
                          const char *ring)
{
    snprintf(f->dir, sizeof f->dir, "%s", dir);
    REQUIRE(snprintf(f->log, sizeof f->log, "%s.%s.log", dir, kind) < (int)sizeof f->log);
    if (strcmp(kind, "catalog") == 0)
        REQUIRE(snprintf(f->cmd, sizeof f->cmd,
                         "%s/souk-index --data %s --schema %s catalog --from nats://%s/CATALOG "
                         "--durable %s --no-spelling --quiet",
                         SOUK_BIN_DIR, dir, g_schema, g_urls, durable) < (int)sizeof f->cmd);
    else
        REQUIRE(snprintf(f->cmd, sizeof f->cmd,
                         "%s/souk-index --data %s events --from nats://%s/EVENTS_EU --region eu "
                         "--durable %s --quiet --pseudonym-key %s --retention-events-days 0 "
                         "--retention-impressions-days 0 --retention-history-days 0",
                         SOUK_BIN_DIR, dir, g_urls, durable, ring) < (int)sizeof f->cmd);
}

/* The applied sequence in a replica's status file of kind; -1 when none. */
static long long status_applied(const char *dir, const char *kind)
{
    char path[512];
    REQUIRE(snprintf(path, sizeof path, "%s/nats-%s.json", dir, kind) < (int)sizeof path);
    char *t = read_text(path);
    long long v = t ? json_num(t, "applied_seq") : -1;
    free(t);
    return v;
}

/* Waits until the replica in dir has applied seq of kind; 0, or -1 after timeout_s. */
static int wait_applied(const char *dir, const char *kind, long long seq, double timeout_s)
{
    double t0 = now_s();
    while (now_s() - t0 < timeout_s) {
        if (status_applied(dir, kind) >= seq)
            return 0;
        sleep_s(0.05);
    }
    fprintf(stderr, "%s: %s applied %lld, not %lld, after %.0f s\n", dir, kind,
            status_applied(dir, kind), seq, timeout_s);
    return -1;
}

/* souk-index digest of dir: the hex digest into out, and the document count. */
static long long digest_of(const char *dir, char *out, size_t cap)
{
    char cmd[1024];
    int status;
    REQUIRE(snprintf(cmd, sizeof cmd, "%s/souk-index --data %s digest", SOUK_BIN_DIR, dir) <
            (int)sizeof cmd);
    char *o = kit_run(cmd, 1, &status);
    REQUIRE(status == 0);
    json_str(o, "digest", out, cap);
    long long docs = json_num(o, "docs");
    free(o);
    return docs;
}

/* Events stored in the event store of dir (opened read-only with the ring). */
static long long events_count(const char *dir, const char *ring)
{
    souk_keyring *kr = NULL;
    char err[512];
    REQUIRE(souk_keyring_load(ring, dir, &kr, err, sizeof err) == 0);
    souk_events_opts o;
    memset(&o, 0, sizeof o);
    o.keys = kr;
    o.rdonly = 1;
    souk_events *s = NULL;
    if (souk_events_open(dir, &o, &s, err, sizeof err) != 0) {
        fprintf(stderr, "events_count: %s\n", err);
        souk_keyring_free(kr);
        return -1;
    }
    uint64_t n = 0;
    int rc = souk_events_count(s, &n);
    souk_events_close(s);
    souk_keyring_free(kr);
    return rc ? -1 : (long long)n;
}

static double rnd(double lo, double hi)
{
    return lo + (hi - lo) * (rand() / (RAND_MAX + 1.0));
}

/* Writes lines [from, to) of lines to f, each with a newline. */
static void write_lines(FILE *f, char **lines, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        fprintf(f, "%s\n", lines[i]);
}

/* The record line with its id replaced by id and its title by title (a copy to free). */
static char *with_id_title(const char *line, const char *id, const char *title)
{
    cJSON *j = cJSON_Parse(line);
    REQUIRE(j);
    cJSON_ReplaceItemInObjectCaseSensitive(j, "id", cJSON_CreateString(id));
    cJSON_ReplaceItemInObjectCaseSensitive(j, "title", cJSON_CreateString(title));
    char *t = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return t;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The distinct ids of lines, less those of lines [del_from, del_to) (deleted). */
static size_t live_ids(char **lines, size_t n, size_t del_from, size_t del_to)
{
    char **ids = calloc(n + 1, sizeof *ids);
    REQUIRE(ids);
    for (size_t i = 0; i < n; i++) {
        const char *v = json_string_value(lines[i], "id");
        REQUIRE(v);
        ids[i] = strndup(v, strcspn(v, "\""));
    }
    if (n > 1)
        qsort(ids, n, sizeof *ids, cmp_str);
    size_t live = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && strcmp(ids[i], ids[i - 1]) == 0)
            continue;
        int deleted = 0;
        for (size_t k = del_from; k < del_to && k < n && !deleted; k++) {
            const char *v = json_string_value(lines[k], "id");
            deleted = strlen(ids[i]) == strcspn(v, "\"") && strncmp(v, ids[i], strlen(ids[i])) == 0;
        }
        live += !deleted;
    }
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
    return live;
}

/* Runs the publish command pcmd (its output in plog) while NATS node victim is killed at
 * kill_node_at s and a replica's indexer f at kill_rep_at s, restarted 0.3 s later (logging to
 * its directory's name + restart_log when given); REQUIREs the publish to end well. The node
 * stays down. */
static void publish_under_faults(const char *pcmd, const char *plog, int victim,
                                 double kill_node_at, follower *f, double kill_rep_at,
                                 const char *restart_log, const char *what)
{
    double t0 = now_s();
    pid_t pub = spawn(pcmd, plog);
    int node_down = 0, rep_down = 0, pub_done = 0, pst = 0;
    while (!pub_done || !node_down || rep_down < 2) {
        double t = now_s() - t0;
        if (!node_down && t >= kill_node_at) {
            node_kill(victim);
            node_down = 1;
        }
        if (rep_down == 0 && t >= kill_rep_at) {
            stop_pid(f->pid, SIGKILL);
            rep_down = 1;
        }
        if (rep_down == 1 && t >= kill_rep_at + 0.3) {
            if (restart_log)
                REQUIRE(snprintf(f->log, sizeof f->log, "%s%s", f->dir, restart_log) <
                        (int)sizeof f->log);
            follower_start(f);
            rep_down = 2;
        }
        if (!pub_done && waitpid(pub, &pst, WNOHANG) == pub)
            pub_done = 1;
        sleep_s(0.01);
        REQUIRE(t < 300);
    }
    forget(pub);
    if (!WIFEXITED(pst) || WEXITSTATUS(pst) != 0) {
        char *l = read_text(plog);
        fprintf(stderr, "publish of %s failed: %s\n", what, l ? l : "");
        free(l);
    }
    REQUIRE(WIFEXITED(pst) && WEXITSTATUS(pst) == 0);
}

static void part_catalog(char **lines, size_t nlines, follower *cat, char *want_digest,
                         long long *want_docs, long long *last_seq)
{
    /* The stream as published: the catalog in two parts, then updates of 500 records and
     * deletes of 300; the reference is the same lines from a file. */
    size_t half = nlines / 2;
    char p1[400], p2[400], ref[400], refdir[400];
    REQUIRE(snprintf(p1, sizeof p1, "%s/part1.jsonl", g_tmp) < (int)sizeof p1);
    REQUIRE(snprintf(p2, sizeof p2, "%s/part2.jsonl", g_tmp) < (int)sizeof p2);
    REQUIRE(snprintf(ref, sizeof ref, "%s/reference.jsonl", g_tmp) < (int)sizeof ref);
    REQUIRE(snprintf(refdir, sizeof refdir, "%s/reference", g_tmp) < (int)sizeof refdir);
    FILE *f1 = fopen(p1, "w"), *f2 = fopen(p2, "w");
    REQUIRE(f1 && f2);
    write_lines(f1, lines, 0, half);
    write_lines(f2, lines, half, nlines);
    for (size_t i = 0; i < 500 && i < nlines; i++) {
        char id[300], title[64];
        const char *v = json_string_value(lines[i], "id");
        REQUIRE(v);
        snprintf(id, sizeof id, "%.*s", (int)strcspn(v, "\""), v);
        snprintf(title, sizeof title, "updated through the stream %zu", i);
        char *u = with_id_title(lines[i], id, title);
        fprintf(f2, "%s\n", u);
        free(u);
    }
    for (size_t i = 1000; i < 1300 && i < nlines; i++) {
        const char *v = json_string_value(lines[i], "id");
        fprintf(f2, "{\"id\":\"%.*s\",\"op\":\"delete\"}\n", (int)strcspn(v, "\""), v);
    }
    fclose(f1);
    fclose(f2);
    char cmd[2048];
    int status;
    REQUIRE(snprintf(cmd, sizeof cmd,
                     "cat %s %s > %s && %s/souk-index --data %s --schema %s catalog %s "
                     "--no-spelling --quiet",
                     p1, p2, ref, SOUK_BIN_DIR, refdir, g_schema, ref) < (int)sizeof cmd);
    free(kit_run(cmd, 1, &status));
    REQUIRE(status == 0);
    *want_docs = digest_of(refdir, want_digest, 65);
    CHECK_EQ_U64(*want_docs, live_ids(lines, nlines, 1000, 1300));

    /* Part 1, with a node killed at a random moment and one replica's indexer killed at
     * another; part 2 while that node is still down. */
    int victim = rand() % NNODES, rvictim = rand() % 2;
    double kill_node_at = rnd(0.05, 1.0), kill_rep_at = rnd(0.3, 4.0);
    printf("catalog: node %d killed at %.2f s, replica %c's indexer at %.2f s\n", victim,
           kill_node_at, 'A' + rvictim, kill_rep_at);
    char pcmd[2048], plog[400];
    REQUIRE(snprintf(pcmd, sizeof pcmd, "%s/souk-publish catalog --to nats://%s/CATALOG %s",
                     SOUK_BIN_DIR, g_urls, p1) < (int)sizeof pcmd);
    REQUIRE(snprintf(plog, sizeof plog, "%s/publish1.log", g_tmp) < (int)sizeof plog);
    publish_under_faults(pcmd, plog, victim, kill_node_at, &cat[rvictim], kill_rep_at, NULL,
                         "part 1");
    *last_seq = publish("catalog", "", "CATALOG", p2);
    node_start(victim);
    CHECK(*last_seq > 0);
    CHECK(*last_seq >= (long long)(nlines + 800 - (nlines < 1300 ? 800 : 0)));

    for (int r = 0; r < 2; r++) {
        CHECK(wait_applied(cat[r].dir, "catalog", *last_seq, 240) == 0);
        char d[65];
        long long docs = digest_of(cat[r].dir, d, sizeof d);
        printf("replica %c: %lld documents, digest %s\n", 'A' + r, docs, d);
        CHECK_EQ_U64(docs, *want_docs);
        CHECK(strcmp(d, want_digest) == 0);
    }
}

static void part_events(follower *ev, const char *ring)
{
    char err[512], evfile[400], refdir[400], cmd[2048];
    REQUIRE(snprintf(evfile, sizeof evfile, "%s/events.jsonl", g_tmp) < (int)sizeof evfile);
    REQUIRE(snprintf(refdir, sizeof refdir, "%s/ev-reference", g_tmp) < (int)sizeof refdir);
    behavior_stats bs;
    REQUIRE(behavior_events_file(BEHAVIOR_GROCERIES, NULL, evfile, &bs, err, sizeof err) == 0);
    int status;
    REQUIRE(snprintf(cmd, sizeof cmd,
                     "mkdir -p %s && %s/souk-index --data %s events %s --quiet --pseudonym-key %s "
                     "--retention-events-days 0 --retention-impressions-days 0 "
                     "--retention-history-days 0",
                     refdir, SOUK_BIN_DIR, refdir, evfile, ring) < (int)sizeof cmd);
    free(kit_run(cmd, 1, &status));
    REQUIRE(status == 0);
    long long want = events_count(refdir, ring);
    CHECK_EQ_U64(want, bs.events);

    int victim = rand() % NNODES, rvictim = rand() % 2;
    double kill_node_at = rnd(0.02, 0.5), kill_rep_at = rnd(0.05, 1.0);
    printf("events: node %d killed at %.2f s, replica %c's indexer at %.2f s\n", victim,
           kill_node_at, 'A' + rvictim, kill_rep_at);
    char pcmd[2048], plog[400];
    REQUIRE(snprintf(pcmd, sizeof pcmd,
                     "%s/souk-publish events --region eu --to nats://%s/EVENTS_EU %s", SOUK_BIN_DIR,
                     g_urls, evfile) < (int)sizeof pcmd);
    REQUIRE(snprintf(plog, sizeof plog, "%s/publish-events.log", g_tmp) < (int)sizeof plog);
    /* The restarted indexer's own report (at its SIGTERM below) counts duplicates. */
    publish_under_faults(pcmd, plog, victim, kill_node_at, &ev[rvictim], kill_rep_at,
                         ".events-restarted.log", "the events");
    char *pl = read_text(plog);
    long long last = pl ? json_num(pl, "last_seq") : -1;
    free(pl);
    node_start(victim);
    CHECK(last >= (long long)bs.events);
    for (int r = 0; r < 2; r++) {
        CHECK(wait_applied(ev[r].dir, "events", last, 240) == 0);
        stop_pid(ev[r].pid, SIGTERM);
        ev[r].pid = 0;
        long long n = events_count(ev[r].dir, ring);
        printf("replica %c: %lld events (file ingest: %lld)\n", 'A' + r, n, want);
        CHECK_EQ_U64(n, want);
    }
    /* Exactly once: the indexer restarted after its SIGKILL resumed after the sequence it had
     * committed, so no event reached the store twice (a replay would count as duplicates). */
    char *rl = read_text(ev[rvictim].log);
    REQUIRE(rl);
    CHECK_EQ_U64(json_num(rl, "duplicate"), 0);
    CHECK(json_num(rl, "applied_seq") == last);
    free(rl);
}

/* min_seq: publish one record and search for it at once with the sequence souk-publish
 * returned: found, or 503 not_caught_up, never a 200 without it. */
static void part_min_seq(int port, char **lines)
{
    int found = 0, refused = 0;
    for (int i = 0; i < 12; i++) {
        char id[64], word[64], path[400], target[256];
        snprintf(id, sizeof id, "minseq-%d", i);
        snprintf(word, sizeof word, "zqminseqword%dx", i);
        REQUIRE(snprintf(path, sizeof path, "%s/minseq%d.jsonl", g_tmp, i) < (int)sizeof path);
        char *rec = with_id_title(lines[i], id, word);
        kit_write_file(path, rec);
        free(rec);
        long long seq = publish("catalog", "", "CATALOG", path);
        snprintf(target, sizeof target, "/v1/search?q=%s&min_seq=%lld", word, seq);
        kit_resp r = {0};
        int st = kit_get(port, target, NULL, &r);
        if (st == 200) {
            long long total = json_num(r.body, "total");
            CHECK(total == 1);
            found += total == 1;
        } else {
            char code[64];
            CHECK_EQ_U64(st, 503);
            CHECK(strcmp(kit_err_code(&r, code, sizeof code), "not_caught_up") == 0);
            refused++;
        }
        kit_resp_free(&r);
    }
    printf("min_seq: %d found at once, %d refused with not_caught_up\n", found, refused);
    CHECK(found > 0); /* a replica that never catches up within the wait is broken */
    /* A sequence far ahead is refused after the wait, with the applied sequence. */
    kit_resp r = {0};
    double t0 = now_s();
    CHECK_EQ_U64(kit_get(port, "/v1/search?q=zqminseqword0x&min_seq=999999999", NULL, &r), 503);
    double waited = now_s() - t0;
    CHECK(waited >= 0.9 && waited < 5);
    cJSON *j = cJSON_Parse(r.body);
    const cJSON *e = j ? cJSON_GetObjectItemCaseSensitive(j, "error") : NULL;
    const cJSON *a = e ? cJSON_GetObjectItemCaseSensitive(e, "applied_seq") : NULL;
    CHECK(cJSON_IsNumber(a) && a->valuedouble > 0);
    cJSON_Delete(j);
    kit_resp_free(&r);
    CHECK_EQ_U64(kit_get(port, "/v1/search?q=x&min_seq=-1", NULL, &r), 400);
    kit_resp_free(&r);
}

/* The replication object of /healthz for the catalog: applied, lag, connected (-1: absent). */
static void healthz_repl(int port, long long *applied, long long *lag, long long *connected,
                         long long *docs)
{
    kit_resp r = {0};
    *applied = *lag = *connected = *docs = -1;
    if (kit_get(port, "/healthz", NULL, &r) != 200) {
        kit_resp_free(&r);
        return;
    }
    cJSON *j = cJSON_Parse(r.body);
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(j, "replication"), "catalog");
    const cJSON *x;
    if ((x = cJSON_GetObjectItemCaseSensitive(j, "docs")) && cJSON_IsNumber(x))
        *docs = (long long)x->valuedouble;
    if ((x = cJSON_GetObjectItemCaseSensitive(c, "applied_seq")) && cJSON_IsNumber(x))
        *applied = (long long)x->valuedouble;
    if ((x = cJSON_GetObjectItemCaseSensitive(c, "lag")) && cJSON_IsNumber(x))
        *lag = (long long)x->valuedouble;
    if ((x = cJSON_GetObjectItemCaseSensitive(c, "connected")))
        *connected = cJSON_IsTrue(x);
    cJSON_Delete(j);
    kit_resp_free(&r);
}

static void part_nats_down(int port, follower *cat, char **lines, size_t nlines)
{
    long long applied0, lag, conn, docs0, applied, docs;
    healthz_repl(port, &applied0, &lag, &conn, &docs0);
    CHECK(applied0 > 0 && docs0 > 0);
    CHECK_EQ_U64(conn, 1);
    for (int i = 0; i < NNODES; i++)
        node_kill(i);
    /* Every node down: the replica serves what it has and says it does not reach NATS. */
    double t0 = now_s();
    do {
        sleep_s(0.2);
        healthz_repl(port, &applied, &lag, &conn, &docs);
    } while (conn != 0 && now_s() - t0 < 30);
    CHECK_EQ_U64(conn, 0);
    CHECK_EQ_U64(applied, applied0);
    CHECK_EQ_U64(docs, docs0);
    kit_resp r = {0};
    CHECK_EQ_U64(kit_get(port, "/v1/search?q=editor", NULL, &r), 200);
    CHECK(json_num(r.body, "total") > 0);
    kit_resp_free(&r);
    /* The nodes return; what is published then reaches the replica. */
    for (int i = 0; i < NNODES; i++)
        node_start(i);
    char path[400];
    REQUIRE(snprintf(path, sizeof path, "%s/after.jsonl", g_tmp) < (int)sizeof path);
    FILE *f = fopen(path, "w");
    REQUIRE(f);
    for (size_t i = 0; i < 200 && i < nlines; i++) {
        char id[64], title[64];
        snprintf(id, sizeof id, "after-outage-%zu", i);
        snprintf(title, sizeof title, "published after the outage %zu", i);
        char *rec = with_id_title(lines[i], id, title);
        fprintf(f, "%s\n", rec);
        free(rec);
    }
    fclose(f);
    long long last = publish("catalog", "--timeout 60", "CATALOG", path);
    for (int k = 0; k < 2; k++)
        CHECK(wait_applied(cat[k].dir, "catalog", last, 120) == 0);
    t0 = now_s();
    do {
        sleep_s(0.1);
        healthz_repl(port, &applied, &lag, &conn, &docs);
    } while ((conn != 1 || applied != last) && now_s() - t0 < 30);
    CHECK_EQ_U64(applied, last);
    CHECK_EQ_U64(lag, 0);
    CHECK_EQ_U64(conn, 1);
    CHECK_EQ_U64(docs, docs0 + 200);
}

/* Region isolation: CN users' events go to their own stream, which a CN replica follows with
 * personalization on (so its store holds their pseudonyms: the scan's positive control); a byte
 * scan of the EU replicas' data directories and logs finds no CN user's pseudonym (user or
 * session) and no raw CN id. */
static void part_region_scan(follower *cat, const char *ring)
{
    char file[400], dirc[400], cmd[2048];
    REQUIRE(snprintf(file, sizeof file, "%s/cn.jsonl", g_tmp) < (int)sizeof file);
    REQUIRE(snprintf(dirc, sizeof dirc, "%s/replicaC", g_tmp) < (int)sizeof dirc);
    REQUIRE(mkdir(dirc, 0700) == 0);
    FILE *f = fopen(file, "w");
    REQUIRE(f);
    for (int k = 0; k < 300; k++)
        fprintf(f,
                "{\"user\":\"cnuser%02d\",\"session\":\"cnsess%02d\",\"type\":\"%s\","
                "\"item\":\"ml-%d\",\"ts\":\"2016-01-0%dT10:%02d:%02dZ\"}\n",
                k % 30, k % 30, k % 3 ? "view" : "purchase", 1 + k % 40, 1 + k % 7, k / 60, k % 60);
    fclose(f);
    long long last = publish("events", "--region cn", "EVENTS_CN", file);
    REQUIRE(snprintf(cmd, sizeof cmd,
                     "%s/souk-index --data %s events --from nats://%s/EVENTS_CN --region cn "
                     "--durable replicaC-events --until-caught-up --quiet --pseudonym-key %s "
                     "--consent-default personalization --retention-events-days 0 "
                     "--retention-impressions-days 0 --retention-history-days 0",
                     SOUK_BIN_DIR, dirc, g_urls, ring) < (int)sizeof cmd);
    int status;
    char *out = kit_run(cmd, 1, &status);
    CHECK_EQ_U64(status, 0);
    CHECK(json_num(out, "applied_seq") == last);
    free(out);
    souk_keyring *kr = NULL;
    char err[256];
    REQUIRE(souk_keyring_load(ring, dirc, &kr, err, sizeof err) == 0);
    kit_needles nd;
    kit_needles_init(&nd);
    for (int k = 0; k < 30; k++) {
        char id[32];
        uint8_t ps[SOUK_PSEUDO_LEN];
        snprintf(id, sizeof id, "cnuser%02d", k);
        REQUIRE(souk_pseudonym(kr, 0, SOUK_PSEUDO_USER, id, strlen(id), ps) == 0);
        kit_needle_add(&nd, ps, sizeof ps);
        snprintf(id, sizeof id, "cnsess%02d", k);
        REQUIRE(souk_pseudonym(kr, 0, SOUK_PSEUDO_SESSION, id, strlen(id), ps) == 0);
        kit_needle_add(&nd, ps, sizeof ps);
    }
    kit_needle_add(&nd, "cnuser", 6);
    kit_needle_add(&nd, "cnsess", 6);
    souk_keyring_free(kr);
    int in_cn = kit_scan(dirc, &nd, KIT_SCAN_QUIET);
    printf("byte scan: %d CN needles in the CN replica (the control)\n", in_cn);
    CHECK(in_cn >= 30); /* the CN users' pseudonyms are in their own region's store */
    for (int r = 0; r < 2; r++) {
        char log[500];
        int n = kit_scan(cat[r].dir, &nd, 0);
        REQUIRE(snprintf(log, sizeof log, "%s.catalog.log", cat[r].dir) < (int)sizeof log);
        n += kit_scan(log, &nd, 0);
        REQUIRE(snprintf(log, sizeof log, "%s.events.log", cat[r].dir) < (int)sizeof log);
        n += kit_scan(log, &nd, 0);
        printf("byte scan: %d CN needles in EU replica %c's directory and logs\n", n, 'A' + r);
        CHECK_EQ_U64(n, 0);
    }
}

/* Erasure across the log: a user's events erased from the stream (souk-publish erase) are gone
 * when the stream is read back, and a new replica built from the stream holds no trace of the
 * user, while another user published beside it is there (the control). */
static void part_erase(const char *ring)
{
    char file[400], dir[400], cmd[2048];
    REQUIRE(snprintf(file, sizeof file, "%s/erase.jsonl", g_tmp) < (int)sizeof file);
    REQUIRE(snprintf(dir, sizeof dir, "%s/replicaD", g_tmp) < (int)sizeof dir);
    REQUIRE(mkdir(dir, 0700) == 0);
    FILE *f = fopen(file, "w");
    REQUIRE(f);
    static const char *const who[3] = {"eraseme1", "keepme01", "eraseme2"};
    for (int k = 0; k < 12; k++)
        fprintf(f,
                "{\"user\":\"%s\",\"session\":\"erase-s%d\",\"type\":\"view\","
                "\"item\":\"ml-%d\",\"ts\":\"2016-02-01T10:00:%02dZ\"}\n",
                who[k % 3], k % 3, k, k);
    fclose(f);
    publish("events", "--region eu", "EVENTS_EU", file);
    int status;
    REQUIRE(
        snprintf(cmd, sizeof cmd,
                 "%s/souk-publish erase --user eraseme1 --user eraseme2 --to nats://%s/EVENTS_EU",
                 SOUK_BIN_DIR, g_urls) < (int)sizeof cmd);
    /* An erase is idempotent: one that fails part-way (a request timing out on a loaded
     * machine, the cluster's nodes restarted before) is run again, and the erased add up. */
    long long erased = 0, scanned = -1;
    int attempts = 0;
    char *out = NULL;
    for (; attempts < 3 && scanned < 0; attempts++) {
        out = kit_run(cmd, 1, &status);
        if (status != 0) {
            fprintf(stderr, "souk-publish erase, attempt %d: %s\n", attempts + 1, out);
        } else {
            scanned = json_num(out, "scanned");
            erased = json_num(out, "erased");
            CHECK_EQ_U64(json_num(out, "users"), 2); /* two users erased in one scan */
        }
        free(out);
    }
    CHECK_EQ_U64(status, 0);
    /* a failed attempt may have erased some before it stopped (its count is not printed) */
    CHECK(attempts == 1 ? erased == 8 : erased <= 8);
    out = kit_run(cmd, 1, &status); /* read back: nothing of the user is left to erase */
    CHECK_EQ_U64(status, 0);
    CHECK_EQ_U64(json_num(out, "erased"), 0);
    CHECK_EQ_U64(json_num(out, "scanned"), scanned - erased);
    free(out);
    REQUIRE(snprintf(cmd, sizeof cmd,
                     "%s/souk-index --data %s events --from nats://%s/EVENTS_EU --region eu "
                     "--durable replicaD-events --until-caught-up --quiet --pseudonym-key %s "
                     "--consent-default personalization --retention-events-days 0 "
                     "--retention-impressions-days 0 --retention-history-days 0",
                     SOUK_BIN_DIR, dir, g_urls, ring) < (int)sizeof cmd);
    free(kit_run(cmd, 1, &status));
    CHECK_EQ_U64(status, 0);
    souk_keyring *kr = NULL;
    char err[256];
    REQUIRE(souk_keyring_load(ring, dir, &kr, err, sizeof err) == 0);
    kit_needles gone, kept;
    kit_needles_init(&gone);
    kit_needles_init(&kept);
    uint8_t ps[SOUK_PSEUDO_LEN];
    for (int u = 0; u < 3; u += 2) { /* eraseme1, eraseme2 */
        REQUIRE(souk_pseudonym(kr, 0, SOUK_PSEUDO_USER, who[u], 8, ps) == 0);
        kit_needle_add(&gone, ps, sizeof ps);
        kit_needle_add(&gone, who[u], 8);
    }
    REQUIRE(souk_pseudonym(kr, 0, SOUK_PSEUDO_USER, "keepme01", 8, ps) == 0);
    kit_needle_add(&kept, ps, sizeof ps);
    souk_keyring_free(kr);
    int g = kit_scan(dir, &gone, 0), k = kit_scan(dir, &kept, KIT_SCAN_QUIET);
    printf("erasure: the erased users found %d times in a replica rebuilt from the stream, the "
           "other %d times\n",
           g, k);
    CHECK_EQ_U64(g, 0);
    CHECK(k > 0);
}

/* A fresh replica's event count from stream (region rt), or -1. */
static long long rebuild_count(const char *stream, const char *name, const char *ring)
{
    char dir[400], cmd[2048];
    REQUIRE(snprintf(dir, sizeof dir, "%s/%s", g_tmp, name) < (int)sizeof dir);
    REQUIRE(mkdir(dir, 0700) == 0);
    REQUIRE(snprintf(cmd, sizeof cmd,
                     "%s/souk-index --data %s events --from nats://%s/%s --region rt "
                     "--durable %s --until-caught-up --quiet --pseudonym-key %s "
                     "--consent-default personalization --retention-events-days 0 "
                     "--retention-impressions-days 0 --retention-history-days 0",
                     SOUK_BIN_DIR, dir, g_urls, stream, name, ring) < (int)sizeof cmd);
    int status;
    free(kit_run(cmd, 1, &status));
    CHECK_EQ_U64(status, 0);
    return events_count(dir, ring);
}

/* Retention on the log: events published to a stream of 5 s retention are read by a replica
 * built at once and gone for one built after 8 s; the stream's retention is what souk-publish
 * says, 365 days by default for events. */
static void part_retention(const char *ring)
{
    char file[400], cmd[2048];
    REQUIRE(snprintf(file, sizeof file, "%s/retention.jsonl", g_tmp) < (int)sizeof file);
    FILE *f = fopen(file, "w");
    REQUIRE(f);
    for (int k = 0; k < 6; k++)
        fprintf(f,
                "{\"user\":\"ret-user%d\",\"type\":\"view\",\"item\":\"ml-%d\","
                "\"ts\":\"2016-02-01T10:00:%02dZ\"}\n",
                k % 3, k, k);
    fclose(f);
    int status;
    REQUIRE(snprintf(cmd, sizeof cmd,
                     "%s/souk-publish events --region rt --retention-days 0.0000579 --to "
                     "nats://%s/EVENTS_RT %s",
                     SOUK_BIN_DIR, g_urls, file) < (int)sizeof cmd);
    char *out = kit_run(cmd, 1, &status);
    CHECK_EQ_U64(status, 0);
    CHECK_EQ_U64(json_num(out, "retention_s"), 5);
    free(out);
    double t0 = now_s();
    long long early = rebuild_count("EVENTS_RT", "replicaR1", ring);
    CHECK(now_s() - t0 < 4.5); /* else the check below proves nothing */
    CHECK_EQ_U64(early, 6);
    sleep_s(8 - (now_s() - t0));
    long long late = rebuild_count("EVENTS_RT", "replicaR2", ring);
    printf("retention: a replica built at once holds %lld events, one built after 8 s %lld\n",
           early, late);
    CHECK_EQ_U64(late, 0);
    /* The default for an event stream: the event store's own 365 days. */
    REQUIRE(snprintf(cmd, sizeof cmd,
                     "%s/souk-publish events --region rd --to nats://%s/EVENTS_RD %s", SOUK_BIN_DIR,
                     g_urls, file) < (int)sizeof cmd);
    out = kit_run(cmd, 1, &status);
    CHECK_EQ_U64(status, 0);
    CHECK_EQ_U64(json_num(out, "retention_s"), 365 * 86400);
    free(out);
}

/* Regions: a server configured for region eu (over replica A, whose event store follows
 * events.eu.*) refuses user tokens of region cn, and tokens with no region, with 403
 * wrong_region; an eu user's token is served. */
static void part_region(const char *dir, const char *ring)
{
    char tring[400], cfg[400], json[1200], cmd[1200];
    REQUIRE(snprintf(tring, sizeof tring, "%s/token-ring", g_tmp) < (int)sizeof tring);
    REQUIRE(snprintf(cfg, sizeof cfg, "%s/eu.json", g_tmp) < (int)sizeof cfg);
    kit_write_ring(tring, 0600);
    REQUIRE(snprintf(json, sizeof json,
                     "{\"pseudonym_key_file\":\"%s\",\"token_key_file\":\"%s\",\"region\":\"eu\","
                     "\"development\":true}",
                     ring, tring) < (int)sizeof json);
    kit_write_file(cfg, json);
    kit_server srv;
    const char *args[] = {"--data", dir, "--config", cfg, NULL};
    kit_start(&srv, args);
    const char *regions[] = {"eu", "cn", NULL};
    for (int i = 0; i < 3; i++) {
        int status;
        REQUIRE(snprintf(cmd, sizeof cmd, "%s/souk-token --key %s --user gr-1 --ttl 600%s%s",
                         SOUK_BIN_DIR, tring, i < 2 ? " --region " : "",
                         i < 2 ? regions[i] : "") < (int)sizeof cmd);
        char *tok = kit_run(cmd, 0, &status);
        REQUIRE(status == 0 && tok);
        tok[strcspn(tok, "\n")] = 0;
        kit_resp r = {0};
        int st = kit_call(srv.port, "GET", "/v1/me/consent", NULL, tok, NULL, NULL, 0, &r);
        char code[64];
        if (i == 0) {
            CHECK_EQ_U64(st, 200);
        } else {
            CHECK_EQ_U64(st, 403);
            CHECK(strcmp(kit_err_code(&r, code, sizeof code), "wrong_region") == 0);
        }
        kit_resp_free(&r);
        free(tok);
    }
    kit_stop(&srv);
}

int main(void)
{
    souk_alloc_init();
    if (system("nats-server --version >/dev/null 2>&1") != 0) {
        fprintf(stderr, "test_nats_cluster: SKIP: nats-server is not installed "
                        "(scripts/install-deps.sh installs Debian's nats-server)\n");
        return TEST_SKIP;
    }
    if (behavior_skip(BEHAVIOR_GROCERIES, "test_nats_cluster"))
        return TEST_SKIP;
    const char *cat_path = debian_catalog();
    if (!cat_path)
        return TEST_SKIP;
    unsigned seed = getenv("SOUK_TEST_SEED") ? (unsigned)atoi(getenv("SOUK_TEST_SEED"))
                                             : (unsigned)time(NULL) ^ (unsigned)getpid();
    printf("seed %u (SOUK_TEST_SEED=%u repeats this run)\n", seed, seed);
    srand(seed);
    snprintf(g_tmp, sizeof g_tmp, "/tmp/souk-nats-XXXXXX");
    REQUIRE(mkdtemp(g_tmp));
    atexit(kill_all);
    char ring[400];
    REQUIRE(snprintf(ring, sizeof ring, "%s/ring", g_tmp) < (int)sizeof ring);
    kit_write_ring(ring, 0600);

    size_t cap = 70000;
    char **lines = calloc(cap, sizeof *lines);
    REQUIRE(lines);
    size_t nlines = kit_debian_lines(lines, 0, cap);
    REQUIRE(nlines > 2000);

    for (int i = 0; i < NNODES; i++) {
        g_nodes[i].port = free_port();
        g_nodes[i].cport = free_port();
    }
    snprintf(g_urls, sizeof g_urls, "127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d", g_nodes[0].port,
             g_nodes[1].port, g_nodes[2].port);
    for (int i = 0; i < NNODES; i++)
        node_start(i);

    /* Two replicas, each a catalog and an event indexer, started before the streams exist. */
    follower cat[2], ev[2];
    for (int r = 0; r < 2; r++) {
        char dir[400], durable[32];
        REQUIRE(snprintf(dir, sizeof dir, "%s/replica%c", g_tmp, 'A' + r) < (int)sizeof dir);
        REQUIRE(mkdir(dir, 0700) == 0);
        snprintf(durable, sizeof durable, "replica%c-catalog", 'A' + r);
        follower_init(&cat[r], dir, "catalog", durable, ring);
        follower_start(&cat[r]);
        snprintf(durable, sizeof durable, "replica%c-events", 'A' + r);
        follower_init(&ev[r], dir, "events", durable, ring);
        follower_start(&ev[r]);
    }

    char want_digest[65];
    long long want_docs = 0, last_seq = 0;
    part_catalog(lines, nlines, cat, want_digest, &want_docs, &last_seq);
    part_events(ev, ring);

    /* Before the whole cluster is killed and restarted (part_nats_down): after that, the
     * packaged nats-server's metadata leader can lose track of a stream for good (it answers
     * "no such stream" to a consumer's creation while the stream's leader serves it). */
    part_region_scan(cat, ring);
    part_erase(ring);
    part_retention(ring);
    kit_server srv;
    const char *args[] = {"--data", cat[0].dir, "--development", NULL};
    kit_start(&srv, args);
    part_min_seq(srv.port, lines);
    part_nats_down(srv.port, cat, lines, nlines);
    kit_stop(&srv);
    part_region(cat[0].dir, ring);

    for (int r = 0; r < 2; r++)
        stop_pid(cat[r].pid, SIGTERM);
    for (int i = 0; i < NNODES; i++)
        node_kill(i);
    if (check_failures == 0) {
        char cmd[400];
        REQUIRE(snprintf(cmd, sizeof cmd, "rm -rf %s", g_tmp) < (int)sizeof cmd);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", g_tmp);
    } else {
        fprintf(stderr, "kept %s for inspection\n", g_tmp);
    }
    for (size_t i = 0; i < nlines; i++)
        free(lines[i]);
    free(lines);
    return check_done("test_nats_cluster");
}
