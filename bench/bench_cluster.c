/* bench_cluster.c: souk-bench cluster, replication through NATS JetStream (docs/scaling.md),
 * with the real programs and a nats-server of its own on free ports of 127.0.0.1:
 *   - catalog ingest through JetStream beside the same catalog read from a file, in alternating
 *     rounds of fresh indexes (souk-index --from ... --until-caught-up against souk-index FILE;
 *     both without the spelling table): ingest_ratio_vs_file = the median over rounds of file
 *     seconds / stream seconds (the order alternates, so drift on a shared machine cancels);
 *   - replicas_identical: a second stream replica killed with SIGKILL halfway and restarted; true
 *     when every stream-built index's digest (souk-index digest) equals the file-built one's;
 *   - replica lag under a sustained event load: events written to souk-publish's standard input
 *     at --rate events/s (20,000) for --seconds (10) while a replica follows; the lag of line i
 *     is the time from writing it to the replica's committed sequence reaching it (its status
 *     file, polled every 5 ms); lag_p99_ms is the 99th percentile.
 *
 *   souk-bench cluster [--catalog FILE] [--rounds N] [--rate N] [--seconds N] [--work DIR]
 *
 * The last line is JSON: {"ingest_ratio_vs_file","lag_p99_ms","replicas_identical",...}
 * (lag_p99_ms -1 when the replica did not apply every event within 2 minutes). */
#include "bench.h"
#include "kit/fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) || getsockname(fd, (void *)&a, &l)) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

static pid_t spawn(const char *cmd, const char *log)
{
    pid_t pid = fork();
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

/* The number after "key": in text (the last occurrence); -1. */
static double num_after(const char *text, const char *key)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = NULL;
    for (const char *q = text ? strstr(text, pat) : NULL; q; q = strstr(q + 1, pat))
        p = q;
    return p ? atof(p + strlen(pat)) : -1;
}

static int run_ok(const char *cmd, char **out)
{
    int status;
    char *o = kit_run(cmd, 1, &status);
    if (status != 0)
        fprintf(stderr, "souk-bench cluster: failed (%d): %s\n%s\n", status, cmd, o ? o : "");
    if (out)
        *out = o;
    else
        free(o);
    return status;
}

static double median(double *v, int n)
{
    return bench_pct(v, (size_t)n, 0.5);
}

/* The applied sequence in DIR/nats-events.json; -1. */
static long long applied(const char *status)
{
    FILE *f = fopen(status, "r");
    if (!f)
        return -1;
    char b[512];
    size_t n = fread(b, 1, sizeof b - 1, f);
    fclose(f);
    b[n] = 0;
    return (long long)num_after(b, "applied_seq");
}

int bench_cluster(int argc, char **argv)
{
    char catalog[4096] = "", work[4096] = "", root[4096], bindir[4096];
    int rounds = 2, rate = 20000, seconds = 10;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--catalog") == 0 && i + 1 < argc)
            snprintf(catalog, sizeof catalog, "%s", argv[++i]);
        else if (strcmp(argv[i], "--work") == 0 && i + 1 < argc)
            snprintf(work, sizeof work, "%s", argv[++i]);
        else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--rate") == 0 && i + 1 < argc)
            rate = atoi(argv[++i]);
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: souk-bench cluster [--catalog FILE] [--rounds N] [--rate N] "
                            "[--seconds N] [--work DIR]\n");
            return 2;
        }
    }
    if (rounds < 1 || rounds > 20 || rate < 1 || seconds < 1)
        return fprintf(stderr, "souk-bench cluster: bad --rounds, --rate or --seconds\n"), 2;
    if (bench_locate(root, sizeof root, bindir, sizeof bindir) != 0)
        return 1;
    if (bench_catalog(root, catalog, sizeof catalog))
        return 0;
    if (system("nats-server --version >/dev/null 2>&1") != 0) {
        printf("SKIP: nats-server is not installed (scripts/install-deps.sh)\n");
        return 0;
    }
    int own_work = !work[0]; /* a folder of its own is removed at the end (about 600 MB) */
    if (bench_workdir("cluster", work, sizeof work) != 0)
        return 1;
    char cmd[16384], log[4200], plain[4200], ring[4200];
    int port = free_port();
    if (port < 0 || snprintf(log, sizeof log, "%s/nats.log", work) >= (int)sizeof log ||
        snprintf(plain, sizeof plain, "%s/catalog.jsonl", work) >= (int)sizeof plain ||
        snprintf(ring, sizeof ring, "%s/ring", work) >= (int)sizeof ring ||
        snprintf(cmd, sizeof cmd, "nats-server -a 127.0.0.1 -p %d -js -sd '%s/js'", port, work) >=
            (int)sizeof cmd)
        return fprintf(stderr, "souk-bench cluster: paths too long\n"), 1;
    pid_t nats = spawn(cmd, log);
    int rc = 1;
    char *out = NULL;
    if (snprintf(cmd, sizeof cmd,
                 "xz -dcf '%s' > '%s' && '%s/souk-publish' catalog --to "
                 "nats://127.0.0.1:%d/CATALOG '%s'",
                 catalog, plain, bindir, port, plain) >= (int)sizeof cmd ||
        run_ok(cmd, &out) != 0)
        goto out;
    double pub_s = num_after(out, "seconds");
    long long last = (long long)num_after(out, "last_seq");
    free(out);
    out = NULL;
    printf("published %lld records in %.3f s\n", last, pub_s);

    /* Ingest rounds, alternating file and stream. */
    double tf[20], tn[20], ratio[20];
    char dfile[80] = "", dnats[80] = "";
    int identical = 1;
    for (int r = 0; r < rounds; r++) {
        for (int k = 0; k < 2; k++) {
            int stream = (r + k) % 2;
            int len =
                stream ? snprintf(cmd, sizeof cmd,
                                  "rm -rf '%s/ix' && '%s/souk-index' --data '%s/ix' --schema "
                                  "'%s/indexer/schemas/debian-packages.json' catalog --from "
                                  "nats://127.0.0.1:%d/CATALOG --durable round%d --until-caught-up "
                                  "--no-spelling --quiet",
                                  work, bindir, work, root, port, r)
                       : snprintf(cmd, sizeof cmd,
                                  "rm -rf '%s/ix' && '%s/souk-index' --data '%s/ix' --schema "
                                  "'%s/indexer/schemas/debian-packages.json' catalog '%s' "
                                  "--no-spelling --quiet",
                                  work, bindir, work, root, plain);
            if (len >= (int)sizeof cmd)
                goto out;
            double t0 = now_s();
            if (run_ok(cmd, NULL) != 0)
                goto out;
            double t = now_s() - t0;
            (stream ? tn : tf)[r] = t;
            if (snprintf(cmd, sizeof cmd, "'%s/souk-index' --data '%s/ix' digest", bindir, work) >=
                    (int)sizeof cmd ||
                run_ok(cmd, &out) != 0)
                goto out;
            const char *d = strstr(out, "\"digest\":\"");
            char *dst = stream ? dnats : dfile;
            snprintf(dst, 80, "%.64s", d ? d + 10 : "");
            free(out);
            out = NULL;
            printf("round %d: %s %.3f s\n", r + 1, stream ? "stream" : "file  ", t);
        }
        identical &= strcmp(dfile, dnats) == 0 && dfile[0];
        ratio[r] = tf[r] / tn[r];
    }
    /* A stream replica killed halfway and restarted. */
    {
        if (snprintf(cmd, sizeof cmd,
                     "'%s/souk-index' --data '%s/killed' --schema "
                     "'%s/indexer/schemas/debian-packages.json' catalog --from "
                     "nats://127.0.0.1:%d/CATALOG --durable killed --until-caught-up "
                     "--no-spelling --quiet",
                     bindir, work, root, port) >= (int)sizeof cmd)
            goto out;
        char klog[4200];
        snprintf(klog, sizeof klog, "%s/killed.log", work);
        pid_t p = spawn(cmd, klog);
        usleep((useconds_t)(median(tn, rounds) * 0.5e6));
        kill(p, SIGKILL);
        waitpid(p, NULL, 0);
        if (run_ok(cmd, NULL) != 0)
            goto out;
        char d2[80] = "";
        if (snprintf(cmd, sizeof cmd, "'%s/souk-index' --data '%s/killed' digest", bindir, work) >=
                (int)sizeof cmd ||
            run_ok(cmd, &out) != 0)
            goto out;
        const char *d = strstr(out, "\"digest\":\"");
        snprintf(d2, sizeof d2, "%.64s", d ? d + 10 : "");
        free(out);
        out = NULL;
        identical &= strcmp(d2, dfile) == 0;
    }

    /* Replica lag under a sustained event load. */
    FILE *rf = fopen(ring, "w");
    if (!rf)
        goto out;
    fprintf(rf, "1 ");
    for (int i = 0; i < 32; i++)
        fprintf(rf, "%02x", (unsigned)(rand() & 0xff));
    fprintf(rf, "\n");
    fclose(rf);
    chmod(ring, 0600);
    char evdir[4200], status[4300], elog[4300];
    snprintf(evdir, sizeof evdir, "%s/events-replica", work);
    snprintf(status, sizeof status, "%s/nats-events.json", evdir);
    snprintf(elog, sizeof elog, "%s/events-replica.log", work);
    mkdir(evdir, 0700);
    /* The stream exists before the replica follows it (one event). */
    if (snprintf(cmd, sizeof cmd,
                 "echo '{\"type\":\"view\",\"item\":\"warm\",\"ts\":\"2026-01-01T00:00:00Z\"}' | "
                 "'%s/souk-publish' events --region eu --to nats://127.0.0.1:%d/EVENTS_EU -",
                 bindir, port) >= (int)sizeof cmd ||
        run_ok(cmd, NULL) != 0)
        goto out;
    if (snprintf(cmd, sizeof cmd,
                 "'%s/souk-index' --data '%s' events --from nats://127.0.0.1:%d/EVENTS_EU "
                 "--region eu --durable lag --quiet --pseudonym-key '%s' "
                 "--retention-events-days 0",
                 bindir, evdir, port, ring) >= (int)sizeof cmd)
        goto out;
    pid_t follower = spawn(cmd, elog);
    while (applied(status) < 1)
        usleep(10000);
    if (snprintf(cmd, sizeof cmd,
                 "'%s/souk-publish' events --region eu --window 256 --to "
                 "nats://127.0.0.1:%d/EVENTS_EU - > '%s/lag-publish.out'",
                 bindir, port, work) >= (int)sizeof cmd)
        goto out;
    FILE *pub = popen(cmd, "w");
    if (!pub)
        goto out;
    size_t n = (size_t)rate * (size_t)seconds;
    double *sent = malloc(n * sizeof *sent), *lag = malloc(n * sizeof *lag);
    if (!sent || !lag) {
        pclose(pub);
        free(sent);
        free(lag);
        goto out;
    }
    double t0 = now_s();
    size_t written = 0, seen = 0;
    long long base = 1; /* the warm-up event's sequence */
    while (seen < n) {
        double t = now_s() - t0;
        size_t due = (size_t)(t * rate);
        if (due > n)
            due = n;
        for (; written < due; written++) {
            fprintf(pub,
                    "{\"user\":\"u%zu\",\"session\":\"s%zu\",\"type\":\"view\",\"item\":\"i%zu\","
                    "\"ts\":\"2026-01-01T%02zu:%02zu:%02zuZ\"}\n",
                    written % 5000, written % 20000, written % 3001, (written / 3600) % 24,
                    (written / 60) % 60, written % 60);
            sent[written] = now_s();
        }
        if (pub)
            fflush(pub);
        long long a = applied(status);
        double tn2 = now_s();
        while (seen < written && (long long)seen + base + 1 <= a)
            lag[seen] = tn2 - sent[seen], seen++;
        if (written == n && pub) {
            pclose(pub); /* souk-publish finishes its last window */
            pub = NULL;
        }
        if (now_s() - t0 > seconds + 120)
            break;
        usleep(5000);
    }
    if (pub)
        pclose(pub);
    kill(follower, SIGTERM);
    waitpid(follower, NULL, 0);
    double p50 = bench_pct(lag, seen, 0.5) * 1e3, p99 = bench_pct(lag, seen, 0.99) * 1e3;
    printf("event load: %zu events at %d/s, %zu applied; replica lag p50 %.0f ms, p99 %.0f ms\n", n,
           rate, seen, p50, p99);
    free(sent);
    free(lag);
    double mr = median(ratio, rounds);
    double mf = median(tf, rounds), mn = median(tn, rounds);
    printf("{\"records\":%lld,\"publish_seconds\":%.3f,\"file_seconds\":%.3f,\"stream_seconds\":"
           "%.3f,\"ingest_ratio_vs_file\":%.3f,\"events\":%zu,\"events_applied\":%zu,"
           "\"lag_p50_ms\":%.0f,\"lag_p99_ms\":%.0f,\"replicas_identical\":%s}\n",
           last, pub_s, mf, mn, mr, n, seen, p50, seen == n ? p99 : -1.0,
           identical ? "true" : "false");
    rc = 0;
out:
    free(out);
    kill(nats, SIGKILL);
    waitpid(nats, NULL, 0);
    if (own_work && snprintf(cmd, sizeof cmd, "rm -rf '%s'", work) < (int)sizeof cmd &&
        system(cmd) != 0)
        fprintf(stderr, "souk-bench cluster: could not remove %s\n", work);
    return rc;
}
