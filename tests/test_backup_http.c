/* test_backup_http.c: backups and restores (P23, docs/privacy.md "Backups") through the real
 * programs: souk-index backup / restore / events-check and souk-server over HTTP on 127.0.0.1,
 * over the first 500 Debian records and the first 3,000 purchases of the Groceries log
 * (tests/kit/behavior.c) moved to the present:
 *   - `souk-index backup` runs while the server answers searches (every one 200), and takes the
 *     ranking profiles' versions with it (a version stored after the backup is gone after the
 *     restore);
 *   - a user is erased through DELETE /v1/users/{id} after the backup;
 *   - `restore` into the live data directory without --replace is refused, naming the flag;
 *     five restores cut by kill -9 at spread moments, then one to the end, which reports the
 * re-applied erasure (one ledger entry, one suppression record, one job record, one user erased);
 *   - the restarted server serves nothing of the erased user (history and search history
 *     empty, export 404 "erased"; the erasure job reads completed; the user's new events are
 * refused as suppressed), and serves the other users and the catalog as before the backup;
 *   - events-check equals a rebuild; a byte scan of every file under the data directory finds
 *     neither the user's raw id nor its pseudonyms (user and session, binary and hex), while the
 *     backup still holds them (so the restore removed them) and the data directory holds another
 *     user's pseudonym (so the scan finds what is there). */
#include "check.h"
#include "kit/behavior.h"
#include "kit/fixture.h"
#include "kit/http.h"
#include "kit/scan.h"
#include "souk/keys.h"
#include "souk/souk.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

static char dir[] = "/tmp/souk-test-backup-XXXXXX";
static char data_dir[512], bk_dir[512], cfg_path[512], pring[700], tring[700], events_path[700];
static const char *SKEY = "backup-search-key-0123", *AKEY = "backup-admin-key-4567",
                  *IKEY = "backup-ingest-key-89ab";
static kit_server srv;

static const char *mint(const char *user)
{
    static char tok[SOUK_TOKEN_MAX + 1];
    char err[256];
    souk_keyring *kr;
    REQUIRE(souk_keyring_load(tring, NULL, &kr, err, sizeof err) == 0);
    REQUIRE(souk_token_mint(kr, user, strlen(user), time(NULL), 3600, NULL, tok, sizeof tok) == 0);
    souk_keyring_free(kr);
    return tok;
}

static int call(const char *method, const char *target, const char *key, const char *token,
                const char *ctype, const char *body, size_t blen, kit_resp *r)
{
    return kit_call(srv.port, method, target, key, token, ctype, body, blen, r);
}

/* The part of a search body from "total" to before "next_cursor" (request id, timing and the
 * cursor, which names the index file it was made on, left out). */
static char *search_part(const char *q)
{
    kit_resp r;
    char target[256];
    snprintf(target, sizeof target, "/v1/search?q=%s", q);
    CHECK(call("GET", target, SKEY, NULL, NULL, NULL, 0, &r) == 200);
    const char *a = r.body ? strstr(r.body, "\"total\"") : NULL;
    const char *e = a ? strstr(a, "\"next_cursor\"") : NULL;
    char *out = strndup(a ? a : "", a && e ? (size_t)(e - a) : 0);
    kit_resp_free(&r);
    REQUIRE(out);
    return out;
}

#define NUSERS 4
static char users[NUSERS][64], sess0[128];

/* The first NUSERS distinct users of the event file, and the first session of users[0]. */
static void pick_users(void)
{
    FILE *f = fopen(events_path, "r");
    REQUIRE(f);
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        char *p = strstr(line, "\"user\":\"");
        REQUIRE(p);
        p += 8;
        char *e = strchr(p, '"');
        REQUIRE(e && e - p < 63);
        char u[64];
        memcpy(u, p, (size_t)(e - p));
        u[e - p] = 0;
        int seen = 0;
        for (int i = 0; i < n; i++)
            seen |= !strcmp(users[i], u);
        if (!seen && n < NUSERS)
            snprintf(users[n++], sizeof users[0], "%s", u);
        if (!sess0[0] && n > 0 && !strcmp(u, users[0])) {
            char *s = strstr(line, "\"session\":\"");
            REQUIRE(s);
            s += 11;
            char *se = strchr(s, '"');
            REQUIRE(se && se - s < 127);
            memcpy(sess0, s, (size_t)(se - s));
            sess0[se - s] = 0;
        }
    }
    fclose(f);
    REQUIRE(n == NUSERS && sess0[0]);
}

static void start(void)
{
    const char *args[] = {"--data", data_dir, "--config", cfg_path, "--threads", "2", NULL};
    kit_start(&srv, args);
}

int main(void)
{
    souk_alloc_init();
    REQUIRE(sodium_init() >= 0);
    int skip = behavior_skip(BEHAVIOR_GROCERIES, "test_backup_http");
    if (skip)
        return skip;
    if (!debian_catalog())
        return TEST_SKIP;
    REQUIRE(mkdtemp(dir));
    char keys[600], cmd[4096], out[4096], err[512];
    snprintf(keys, sizeof keys, "%s/keys", dir);
    REQUIRE(mkdir(keys, 0700) == 0);
    snprintf(data_dir, sizeof data_dir, "%s/index", dir);
    snprintf(bk_dir, sizeof bk_dir, "%s/backup", dir);
    snprintf(cfg_path, sizeof cfg_path, "%s/server.json", dir);
    snprintf(pring, sizeof pring, "%s/pseudonym.ring", keys);
    snprintf(tring, sizeof tring, "%s/token.ring", keys);
    snprintf(events_path, sizeof events_path, "%s/events.ndjson", dir);
    kit_write_ring(pring, 0600);
    kit_write_ring(tring, 0600);
    REQUIRE(kit_debian_index(data_dir, 500, "--quiet") == 0);
    behavior_opts bo = {0};
    bo.user_prefix = "bk-";
    bo.max_records = 3000;
    bo.end_ms = (int64_t)time(NULL) * 1000 - 3600 * 1000;
    behavior_stats bs;
    REQUIRE(behavior_events_file(BEHAVIOR_GROCERIES, &bo, events_path, &bs, err, sizeof err) == 0);
    snprintf(cmd, sizeof cmd,
             "'%s/souk-index' --data '%s' events '%s' --pseudonym-key '%s' "
             "--consent-default personalization,search_history >/dev/null",
             SOUK_BIN_DIR, data_dir, events_path, pring);
    REQUIRE(system(cmd) == 0);
    pick_users();
    char hs[80], ha[80], hi[80];
    snprintf(hs, sizeof hs, "%s", kit_hash_key(SKEY));
    snprintf(ha, sizeof ha, "%s", kit_hash_key(AKEY));
    snprintf(hi, sizeof hi, "%s", kit_hash_key(IKEY));
    FILE *f = fopen(cfg_path, "w");
    REQUIRE(f);
    fprintf(f,
            "{\"search_keys\":[\"%s\"],\"admin_keys\":[\"%s\"],\"ingest_keys\":[\"%s\"],"
            "\"pseudonym_key_file\":\"%s\",\"token_key_file\":\"%s\",\"policy_version\":2,"
            "\"consent_default\":{\"personalization\":true,\"search_history\":true}}\n",
            hs, ha, hi, pring, tring);
    fclose(f);

    start();
    /* Every user searches once (search history), then the state before the backup. */
    char *before_hist[NUSERS], *before_export[NUSERS];
    for (int i = 0; i < NUSERS; i++) {
        kit_resp r;
        CHECK(call("GET", "/v1/search?q=editor", SKEY, mint(users[i]), NULL, NULL, 0, &r) == 200);
        kit_resp_free(&r);
    }
    for (int i = 0; i < NUSERS; i++) {
        int st;
        before_hist[i] = kit_user_body(srv.port, "/v1/me/history", mint(users[i]), &st);
        CHECK(st == 200 && strstr(before_hist[i], "\"item\""));
        before_export[i] = kit_user_body(srv.port, "/v1/me/export", mint(users[i]), &st);
        CHECK(st == 200 && strstr(before_export[i], "editor"));
    }
    char *before_search = search_part("editor");
    /* Two versions of a ranking profile (DIR/profiles) before the backup. */
    const char *pv1 = "{\"bm25\":{\"k1\":1.5}}", *pv2 = "{\"bm25\":{\"k1\":1.7}}";
    {
        kit_resp r;
        CHECK(call("PUT", "/v1/profiles/bk", AKEY, NULL, "application/json", pv1, strlen(pv1),
                   &r) == 200);
        kit_resp_free(&r);
        CHECK(call("PUT", "/v1/profiles/bk", AKEY, NULL, "application/json", pv2, strlen(pv2),
                   &r) == 200);
        kit_resp_free(&r);
    }

    /* The backup, while the server answers. */
    char bin[600];
    snprintf(bin, sizeof bin, "%s/souk-index", SOUK_BIN_DIR);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        if (fd >= 0)
            dup2(fd, 1);
        execl(bin, bin, "--data", data_dir, "backup", bk_dir, "--pseudonym-key", pring,
              (char *)NULL);
        _exit(127);
    }
    int served = 0, ok = 0, st;
    for (;; served++) {
        kit_resp r;
        ok += call("GET", "/v1/search?q=python", SKEY, NULL, NULL, NULL, 0, &r) == 200;
        kit_resp_free(&r);
        if (waitpid(pid, &st, WNOHANG) == pid)
            break;
    }
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK(ok == served + 1);
    fprintf(stderr, "  backup: %d searches answered while it ran\n", served + 1);

    /* The erasure, after the backup. */
    char target[256], job[64] = "";
    snprintf(target, sizeof target, "/v1/users/%s", users[0]);
    kit_resp r;
    /* A third profile version after the backup: the restore brings back the backup's two. */
    CHECK(call("PUT", "/v1/profiles/bk", AKEY, NULL, "application/json", "{}", 2, &r) == 200);
    kit_resp_free(&r);
    CHECK(call("DELETE", target, AKEY, NULL, NULL, NULL, 0, &r) == 202);
    const char *jp = r.body ? strstr(r.body, "\"job\":\"") : NULL;
    if (jp)
        snprintf(job, sizeof job, "%.32s", jp + 7);
    kit_resp_free(&r);
    CHECK(strlen(job) == 32);
    char jt[128];
    snprintf(jt, sizeof jt, "/v1/erasures/%s", job);
    int done = 0;
    for (int i = 0; i < 600 && !done; i++) {
        CHECK(call("GET", jt, AKEY, NULL, NULL, NULL, 0, &r) == 200);
        done = r.body && strstr(r.body, "\"state\":\"completed\"");
        kit_resp_free(&r);
        if (!done)
            usleep(50000);
    }
    CHECK(done);
    CHECK(kit_stop(&srv) == 0);

    /* The restore: refused without --replace; then done, re-applying the erasure. */
    snprintf(cmd, sizeof cmd, "'%s' --data '%s' restore '%s' --pseudonym-key '%s'", bin, data_dir,
             bk_dir, pring);
    CHECK(kit_run_into(cmd, out, sizeof out) == 1 && strstr(out, "--replace"));
    /* Restores cut by kill -9 at spread moments: each leaves the data directory whole (the old
     * one, or the restored one), and the next run finishes. */
    int killed = 0;
    for (int i = 0; i < 5; i++) {
        pid_t kp = fork();
        REQUIRE(kp >= 0);
        if (kp == 0) {
            int fd = open("/dev/null", O_WRONLY);
            if (fd >= 0) {
                dup2(fd, 1);
                dup2(fd, 2);
            }
            execl(bin, bin, "--data", data_dir, "restore", bk_dir, "--replace", "--pseudonym-key",
                  pring, (char *)NULL);
            _exit(127);
        }
        usleep((useconds_t)(2000 + i * 15000));
        killed += kill(kp, SIGKILL) == 0;
        int kst;
        REQUIRE(waitpid(kp, &kst, 0) == kp);
        char p[700];
        snprintf(p, sizeof p, "%s/data.mdb", data_dir);
        CHECK(access(p, R_OK) == 0 || access(data_dir, F_OK) != 0);
    }
    fprintf(stderr, "  restore: %d run(s) killed\n", killed);
    snprintf(cmd, sizeof cmd, "'%s' --data '%s' restore '%s' --replace --pseudonym-key '%s'", bin,
             data_dir, bk_dir, pring);
    CHECK(kit_run_into(cmd, out, sizeof out) == 0 && strstr(out, "\"ledger_entries\":1,") &&
          strstr(out, "\"suppressions_added\":1,") && strstr(out, "\"jobs_added\":1,") &&
          strstr(out, "\"users_erased\":1}"));
    fprintf(stderr, "  restore: %s", out);
    snprintf(cmd, sizeof cmd, "'%s' --data '%s' events-check --pseudonym-key '%s'", bin, data_dir,
             pring);
    CHECK(kit_run_into(cmd, out, sizeof out) == 0 && strstr(out, "\"check\":\"ok\""));

    start();
    /* Nothing of the erased user. */
    char *b = kit_user_body(srv.port, "/v1/me/history", mint(users[0]), &st);
    CHECK(st == 200 && !strstr(b, "\"item\""));
    free(b);
    b = kit_user_body(srv.port, "/v1/me/search-history", mint(users[0]), &st);
    CHECK(st == 200 && !strstr(b, "editor"));
    free(b);
    b = kit_user_body(srv.port, "/v1/me/export", mint(users[0]), &st);
    CHECK(st == 404 && strstr(b, "erased") && !strstr(b, "editor") && !strstr(b, "\"item\""));
    free(b);
    CHECK(call("GET", jt, AKEY, NULL, NULL, NULL, 0, &r) == 200 && r.body &&
          strstr(r.body, "\"state\":\"completed\""));
    kit_resp_free(&r);
    char body[512], ts[32];
    time_t t = time(NULL) - 30;
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    int n = snprintf(body, sizeof body,
                     "{\"user\":\"%s\",\"type\":\"view\",\"item\":\"vim\",\"ts\":\"%s\"}\n",
                     users[0], ts);
    CHECK(call("POST", "/v1/events", IKEY, NULL, "application/x-ndjson", body, (size_t)n, &r) ==
              200 &&
          r.body && strstr(r.body, "\"suppressed\""));
    kit_resp_free(&r);
    /* The others and the catalog as before the backup. */
    for (int i = 1; i < NUSERS; i++) {
        b = kit_user_body(srv.port, "/v1/me/history", mint(users[i]), &st);
        CHECK(st == 200 && !strcmp(b, before_hist[i]));
        free(b);
        b = kit_user_body(srv.port, "/v1/me/export", mint(users[i]), &st);
        CHECK(st == 200 && !strcmp(b, before_export[i]));
        free(b);
    }
    /* The profile store as it was backed up: two versions, the second current. */
    CHECK(call("GET", "/v1/profiles/bk", AKEY, NULL, NULL, NULL, 0, &r) == 200 && r.body &&
          strstr(r.body, "\"version\":2") && strstr(r.body, "1.7"));
    kit_resp_free(&r);
    CHECK(call("GET", "/v1/profiles/bk/versions/3", AKEY, NULL, NULL, NULL, 0, &r) == 404);
    kit_resp_free(&r);
    char *after_search = search_part("editor");
    CHECK(after_search[0] && !strcmp(after_search, before_search));
    if (strcmp(after_search, before_search))
        fprintf(stderr, "  search before: %s\n  search after:  %s\n", before_search, after_search);
    free(after_search);
    free(before_search);
    CHECK(kit_stop(&srv) == 0);

    /* The byte scan. */
    souk_keyring *kr;
    REQUIRE(souk_keyring_load(pring, NULL, &kr, err, sizeof err) == 0);
    uint8_t up[SOUK_PSEUDO_LEN], sp[SOUK_PSEUDO_LEN], other[SOUK_PSEUDO_LEN];
    REQUIRE(souk_pseudonym(kr, 0, SOUK_PSEUDO_USER, users[0], strlen(users[0]), up) == 0);
    REQUIRE(souk_pseudonym(kr, 0, SOUK_PSEUDO_SESSION, sess0, strlen(sess0), sp) == 0);
    REQUIRE(souk_pseudonym(kr, 0, SOUK_PSEUDO_USER, users[1], strlen(users[1]), other) == 0);
    souk_keyring_free(kr);
    char uhex[40], shex[40];
    sodium_bin2hex(uhex, sizeof uhex, up + 1, SOUK_PSEUDO_LEN - 1);
    sodium_bin2hex(shex, sizeof shex, sp + 1, SOUK_PSEUDO_LEN - 1);
    kit_needles gone, pos, oth;
    kit_needles_init(&gone);
    kit_needle_add(&gone, users[0], strlen(users[0]));
    kit_needle_add(&gone, up + 1, SOUK_PSEUDO_LEN - 1);
    kit_needle_add(&gone, uhex, strlen(uhex));
    kit_needle_add(&gone, sp + 1, SOUK_PSEUDO_LEN - 1);
    kit_needle_add(&gone, shex, strlen(shex));
    CHECK(kit_scan(data_dir, &gone, 0) == 0);
    kit_needles_init(&pos);
    kit_needle_add(&pos, up + 1, SOUK_PSEUDO_LEN - 1);
    CHECK(kit_scan(bk_dir, &pos, KIT_SCAN_QUIET) > 0); /* the backup predates the erasure */
    kit_needles_init(&oth);
    kit_needle_add(&oth, other + 1, SOUK_PSEUDO_LEN - 1);
    CHECK(kit_scan(data_dir, &oth, KIT_SCAN_QUIET) > 0);

    for (int i = 0; i < NUSERS; i++) {
        free(before_hist[i]);
        free(before_export[i]);
    }
    if (!check_failures) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        CHECK(system(cmd) == 0);
    }
    return check_done("test_backup_http");
}
