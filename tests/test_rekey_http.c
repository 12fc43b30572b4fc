/* test_rekey_http.c: key rotation (P24, docs/privacy.md "Key rotation") through the real
 * programs: souk-index events / events-rekey / events-check, souk-server over HTTP on 127.0.0.1,
 * and tokens minted by the library's souk_token_mint (what souk-token runs), over the first 3,000
 * purchases of the Groceries log (tests/kit/behavior.c) moved to the present:
 *   - under ring {1}: the users' history, search history and export are served with their token;
 *   - rings {1, 2}: a token signed with kid 1 keeps working and a new token carries kid 2; the
 *     store stays under kid 1 until re-keyed, so everything is still served;
 *   - a ring that lacks the store's kid is refused with an error naming the kid; a ring of mode
 *     0644 is refused naming the permissions;
 *   - events-rekey cut by kill -9 at spread moments, then run to the end while the server
 *     serves (which follows the swap: the users' history is served unchanged at once):
 *     events-check equals a rebuild, the store reports kid 2;
 *   - rings {root, 2} (the old kid retired) and token ring {2}: the kid-1 token is 401, a kid-2
 *     token reads the same history, search history and export as before; replaying the event
 *     log stores nothing (event ids survive the rotation);
 *   - a byte scan of every file under the data directory finds none of the users' old
 *     pseudonyms (user and session, binary and hex), and does find the new one (the scan works). */
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

static char dir[] = "/tmp/souk-test-rekey-XXXXXX";
static char data_dir[512], cfg_path[512], pring[700], tring[700], events_path[700], ring1[700];
static const char *SKEY = "rekey-search-key-0123", *AKEY = "rekey-admin-key-4567";
static char hexa[65], hexb[65], hexta[65], hextb[65];
static kit_server srv;

static void random_hex(char out[65])
{
    uint8_t k[32];
    randombytes_buf(k, sizeof k);
    sodium_bin2hex(out, 65, k, sizeof k);
}

/* Writes a ring file (lines given as text) at mode 0600. */
static void write_ring(const char *path, const char *lines)
{
    FILE *f = fopen(path, "w");
    REQUIRE(f);
    fputs(lines, f);
    REQUIRE(fclose(f) == 0);
    REQUIRE(chmod(path, 0600) == 0);
}

static void rings(const char *p, const char *t)
{
    write_ring(pring, p);
    write_ring(tring, t);
}

static const char *mint(const char *user, int64_t ttl)
{
    static char tok[SOUK_TOKEN_MAX + 1];
    char err[256];
    souk_keyring *kr;
    REQUIRE(souk_keyring_load(tring, NULL, &kr, err, sizeof err) == 0);
    REQUIRE(souk_token_mint(kr, user, strlen(user), time(NULL), ttl, NULL, tok, sizeof tok) == 0);
    souk_keyring_free(kr);
    return tok;
}

static int get(const char *target, const char *key, const char *token, kit_resp *r)
{
    return kit_call(srv.port, "GET", target, key, token, NULL, NULL, 0, r);
}

/* Runs a shell command; its exit status. */
static int run(const char *cmd)
{
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

#define NUSERS 8
static char users[NUSERS][64];
static char *before_hist[NUSERS], *before_export[NUSERS], *before_shist[NUSERS];

/* The users to follow: the ids of the first NUSERS distinct users of the event file. */
static void pick_users(void)
{
    FILE *f = fopen(events_path, "r");
    REQUIRE(f);
    char line[1024];
    int n = 0;
    while (n < NUSERS && fgets(line, sizeof line, f)) {
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
        if (!seen)
            snprintf(users[n++], sizeof users[0], "%s", u);
    }
    fclose(f);
    REQUIRE(n == NUSERS);
}

static void start(void)
{
    const char *args[] = {"--data", data_dir, "--config", cfg_path, "--threads", "2", NULL};
    kit_start(&srv, args);
}

/* Under ring {1}: each user's history (non-empty), a search recorded in search history, export. */
static void phase_before(void)
{
    start();
    for (int i = 0; i < NUSERS; i++) {
        char tok[SOUK_TOKEN_MAX + 1];
        snprintf(tok, sizeof tok, "%s", mint(users[i], 3600));
        CHECK(strncmp(tok, "v1.1.", 5) == 0);
        kit_resp r;
        CHECK(get("/v1/search?q=editor", SKEY, tok, &r) == 200);
        kit_resp_free(&r);
    }
    /* The searches reach the store through the server's queue; a user-data request drains it. */
    for (int i = 0; i < NUSERS; i++) {
        char tok[SOUK_TOKEN_MAX + 1];
        snprintf(tok, sizeof tok, "%s", mint(users[i], 3600));
        int st;
        before_hist[i] = kit_user_body(srv.port, "/v1/me/history", tok, &st);
        CHECK(st == 200 && strstr(before_hist[i], "\"item\""));
        before_shist[i] = kit_user_body(srv.port, "/v1/me/search-history", tok, &st);
        CHECK(st == 200 && strstr(before_shist[i], "editor"));
        before_export[i] = kit_user_body(srv.port, "/v1/me/export", tok, &st);
        CHECK(st == 200);
    }
    CHECK(kit_stop(&srv) == 0);
}

/* Rings {1, 2}: old tokens work, new ones carry kid 2, the data is still served. */
static void phase_both(char *tok1)
{
    char p[300], t[300];
    snprintf(p, sizeof p, "1 %s\n2 %s\n", hexa, hexb);
    snprintf(t, sizeof t, "1 %s\n2 %s\n", hexta, hextb);
    rings(p, t);
    start();
    int st;
    char *b = kit_user_body(srv.port, "/v1/me/history", tok1, &st);
    CHECK(st == 200 && !strcmp(b, before_hist[0]));
    free(b);
    char tok2[SOUK_TOKEN_MAX + 1];
    snprintf(tok2, sizeof tok2, "%s", mint(users[0], 3600));
    CHECK(strncmp(tok2, "v1.2.", 5) == 0);
    b = kit_user_body(srv.port, "/v1/me/history", tok2, &st);
    CHECK(st == 200 && !strcmp(b, before_hist[0]));
    free(b);
    CHECK(kit_stop(&srv) == 0);
}

static void refusals(void)
{
    char cmd[2048], out[2048], p[300];
    /* A ring without the store's kid: refused, naming it. */
    char bad[760];
    snprintf(bad, sizeof bad, "%s.nokid", pring);
    snprintf(p, sizeof p, "0 %s\n2 %s\n", hexa, hexb);
    write_ring(bad, p);
    snprintf(cmd, sizeof cmd, "'%s/souk-index' --data '%s' events-check --pseudonym-key '%s'",
             SOUK_BIN_DIR, data_dir, bad);
    CHECK(kit_run_into(cmd, out, sizeof out) == 1 && strstr(out, "key id 1"));
    /* Looser than 0600: refused, naming the permissions. */
    REQUIRE(chmod(pring, 0644) == 0);
    snprintf(cmd, sizeof cmd, "'%s/souk-index' --data '%s' events-rekey --pseudonym-key '%s'",
             SOUK_BIN_DIR, data_dir, pring);
    CHECK(kit_run_into(cmd, out, sizeof out) == 1 && strstr(out, "looser than 0600"));
    REQUIRE(chmod(pring, 0600) == 0);
    unlink(bad);
}

/* events-rekey killed at spread moments, then to the end. */
static void rekey_with_kills(void)
{
    char bin[600];
    snprintf(bin, sizeof bin, "%s/souk-index", SOUK_BIN_DIR);
    int killed = 0;
    for (int i = 0; i < 6; i++) {
        pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            int fd = open("/dev/null", O_WRONLY);
            if (fd >= 0) {
                dup2(fd, 1);
                dup2(fd, 2);
            }
            execl(bin, bin, "--data", data_dir, "events-rekey", "--pseudonym-key", pring,
                  (char *)NULL);
            _exit(127);
        }
        usleep((useconds_t)(3000 + i * 9000));
        int st;
        if (kill(pid, SIGKILL) == 0)
            killed++;
        REQUIRE(waitpid(pid, &st, 0) == pid);
        /* After every kill the store opens and checks (with the ring that holds both kids). */
        char cmd[2048];
        snprintf(cmd, sizeof cmd,
                 "'%s/souk-index' --data '%s' events-check --pseudonym-key '%s' >/dev/null",
                 SOUK_BIN_DIR, data_dir, pring);
        CHECK(run(cmd) == 0);
    }
    fprintf(stderr, "  events-rekey: %d run(s) killed\n", killed);
    /* The run to the end while the server serves: it follows the swap at its next transaction. */
    start();
    char cmd[2048], out[2048];
    snprintf(cmd, sizeof cmd, "'%s/souk-index' --data '%s' events-rekey --pseudonym-key '%s'",
             SOUK_BIN_DIR, data_dir, pring);
    CHECK(kit_run_into(cmd, out, sizeof out) == 0 && strstr(out, "\"to_kid\":2"));
    fprintf(stderr, "  events-rekey: %s", out);
    for (int i = 0; i < NUSERS; i++) {
        char tok[SOUK_TOKEN_MAX + 1];
        snprintf(tok, sizeof tok, "%s", mint(users[i], 3600));
        int st;
        char *b = kit_user_body(srv.port, "/v1/me/history", tok, &st);
        CHECK(st == 200 && !strcmp(b, before_hist[i]));
        free(b);
    }
    CHECK(kit_stop(&srv) == 0);
    /* A second run has nothing left to move. */
    CHECK(kit_run_into(cmd, out, sizeof out) == 0 && strstr(out, "\"from_kid\":2") &&
          strstr(out, "\"pseudonyms_moved\":0"));
}

/* Rings {root, 2} and token ring {2}: the old kid is gone. */
static void phase_after(const char *tok1)
{
    char p[300], t[300], cmd[2048], out[2048];
    snprintf(p, sizeof p, "0 %s\n2 %s\n", hexa, hexb);
    snprintf(t, sizeof t, "2 %s\n", hextb);
    rings(p, t);
    snprintf(cmd, sizeof cmd, "'%s/souk-index' --data '%s' events-check --pseudonym-key '%s'",
             SOUK_BIN_DIR, data_dir, pring);
    CHECK(kit_run_into(cmd, out, sizeof out) == 0 && strstr(out, "\"check\":\"ok\""));
    start();
    kit_resp r;
    CHECK(get("/v1/me/history", NULL, tok1, &r) == 401);
    kit_resp_free(&r);
    for (int i = 0; i < NUSERS; i++) {
        char tok[SOUK_TOKEN_MAX + 1];
        snprintf(tok, sizeof tok, "%s", mint(users[i], 3600));
        int st;
        char *b = kit_user_body(srv.port, "/v1/me/history", tok, &st);
        CHECK(st == 200 && !strcmp(b, before_hist[i]));
        free(b);
        b = kit_user_body(srv.port, "/v1/me/search-history", tok, &st);
        CHECK(st == 200 && !strcmp(b, before_shist[i]));
        free(b);
        b = kit_user_body(srv.port, "/v1/me/export", tok, &st);
        CHECK(st == 200 && !strcmp(b, before_export[i]));
        if (strcmp(b, before_export[i]))
            fprintf(stderr, "  export before: %.300s\n  export after:  %.300s\n", before_export[i],
                    b);
        free(b);
    }
    CHECK(kit_stop(&srv) == 0);
    /* Replaying the log stores nothing: event ids are keyed with the root, not the rotated key. */
    REQUIRE(snprintf(cmd, sizeof cmd,
                     "'%s/souk-index' --data '%s' events '%s' --from-start --pseudonym-key '%s' "
                     "--consent-default personalization,search_history",
                     SOUK_BIN_DIR, data_dir, events_path, pring) < (int)sizeof cmd);
    CHECK(kit_run_into(cmd, out, sizeof out) == 0 && strstr(out, "\"stored\":0,"));
}

/* No old pseudonym of the users (user and session domains, binary and hex) is left anywhere. */
static void byte_scan(void)
{
    char err[256];
    souk_keyring *old, *cur;
    REQUIRE(souk_keyring_load(ring1, NULL, &old, err, sizeof err) == 0);
    REQUIRE(souk_keyring_load(pring, NULL, &cur, err, sizeof err) == 0);
    enum { PER = 4 };
    static uint8_t bin[NUSERS * 2][SOUK_PSEUDO_LEN];
    static char hex[NUSERS * 2][2 * SOUK_PSEUDO_LEN + 1];
    const uint8_t *needles[NUSERS * PER];
    size_t lens[NUSERS * PER];
    int nn = 0;
    for (int i = 0; i < NUSERS; i++) {
        /* The session of the user's first event: "<user>@<yyyy-mm-dd>" is the kit's form; take
         * it from the event file. */
        char sess[128] = "";
        FILE *f = fopen(events_path, "r");
        REQUIRE(f);
        char line[1024], key[100];
        snprintf(key, sizeof key, "\"session\":\"%s@", users[i]);
        while (!sess[0] && fgets(line, sizeof line, f)) {
            char *p = strstr(line, key);
            if (p) {
                p += 11;
                char *e = strchr(p, '"');
                if (e && e - p < 127) {
                    memcpy(sess, p, (size_t)(e - p));
                    sess[e - p] = 0;
                }
            }
        }
        fclose(f);
        REQUIRE(sess[0]);
        REQUIRE(souk_pseudonym(old, 1, SOUK_PSEUDO_USER, users[i], strlen(users[i]), bin[2 * i]) ==
                0);
        REQUIRE(souk_pseudonym(old, 1, SOUK_PSEUDO_SESSION, sess, strlen(sess), bin[2 * i + 1]) ==
                0);
        for (int d = 0; d < 2; d++) {
            sodium_bin2hex(hex[2 * i + d], sizeof hex[0], bin[2 * i + d] + 1, SOUK_PSEUDO_LEN - 1);
            needles[nn] = bin[2 * i + d] + 1;
            lens[nn++] = SOUK_PSEUDO_LEN - 1;
            needles[nn] = (const uint8_t *)hex[2 * i + d];
            lens[nn++] = strlen(hex[2 * i + d]);
        }
    }
    kit_needles nd;
    kit_needles_init(&nd);
    for (int i = 0; i < nn; i++)
        kit_needle_add(&nd, needles[i], lens[i]);
    CHECK(kit_scan(data_dir, &nd, 0) == 0);
    /* The scan finds what is there: the first user's new pseudonym. */
    uint8_t now[SOUK_PSEUDO_LEN];
    REQUIRE(souk_pseudonym(cur, 0, SOUK_PSEUDO_USER, users[0], strlen(users[0]), now) == 0);
    CHECK(now[0] == 2 && memcmp(now, bin[0], SOUK_PSEUDO_LEN) != 0);
    kit_needles fresh;
    kit_needles_init(&fresh);
    kit_needle_add(&fresh, now + 1, SOUK_PSEUDO_LEN - 1);
    CHECK(kit_scan(data_dir, &fresh, KIT_SCAN_QUIET) > 0);
    souk_keyring_free(old);
    souk_keyring_free(cur);
}

int main(void)
{
    souk_alloc_init();
    REQUIRE(sodium_init() >= 0);
    int skip = behavior_skip(BEHAVIOR_GROCERIES, "test_rekey_http");
    if (skip)
        return skip;
    if (!debian_catalog())
        return TEST_SKIP;
    REQUIRE(mkdtemp(dir));
    char keys[600], cmd[4096], err[512];
    snprintf(keys, sizeof keys, "%s/keys", dir);
    REQUIRE(mkdir(keys, 0700) == 0);
    snprintf(data_dir, sizeof data_dir, "%s/index", dir);
    snprintf(cfg_path, sizeof cfg_path, "%s/server.json", dir);
    snprintf(pring, sizeof pring, "%s/pseudonym.ring", keys);
    snprintf(tring, sizeof tring, "%s/token.ring", keys);
    snprintf(ring1, sizeof ring1, "%s/pseudonym-1.ring", keys);
    snprintf(events_path, sizeof events_path, "%s/events.ndjson", dir);
    random_hex(hexa);
    random_hex(hexb);
    random_hex(hexta);
    random_hex(hextb);
    char p[300], t[300];
    snprintf(p, sizeof p, "1 %s\n", hexa);
    snprintf(t, sizeof t, "1 %s\n", hexta);
    rings(p, t);
    write_ring(ring1, p);
    REQUIRE(kit_debian_index(data_dir, 500, "--quiet") == 0);

    behavior_opts bo = {0};
    bo.user_prefix = "rk-";
    bo.max_records = 3000;
    bo.end_ms = (int64_t)time(NULL) * 1000 - 3600 * 1000;
    behavior_stats bs;
    REQUIRE(behavior_events_file(BEHAVIOR_GROCERIES, &bo, events_path, &bs, err, sizeof err) == 0);
    snprintf(cmd, sizeof cmd,
             "'%s/souk-index' --data '%s' events '%s' --pseudonym-key '%s' "
             "--consent-default personalization,search_history >/dev/null",
             SOUK_BIN_DIR, data_dir, events_path, pring);
    REQUIRE(run(cmd) == 0);
    pick_users();
    FILE *f = fopen(cfg_path, "w");
    REQUIRE(f);
    char hs[80], ha[80];
    snprintf(hs, sizeof hs, "%s", kit_hash_key(SKEY));
    snprintf(ha, sizeof ha, "%s", kit_hash_key(AKEY));
    fprintf(f,
            "{\"search_keys\":[\"%s\"],\"admin_keys\":[\"%s\"],"
            "\"pseudonym_key_file\":\"%s\",\"token_key_file\":\"%s\",\"policy_version\":2,"
            "\"consent_default\":{\"personalization\":true,\"search_history\":true}}\n",
            hs, ha, pring, tring);
    fclose(f);

    phase_before();
    char tok1[SOUK_TOKEN_MAX + 1];
    snprintf(tok1, sizeof tok1, "%s", mint(users[0], 3600));
    phase_both(tok1);
    refusals();
    rekey_with_kills();
    phase_after(tok1);
    byte_scan();
    for (int i = 0; i < NUSERS; i++) {
        free(before_hist[i]);
        free(before_shist[i]);
        free(before_export[i]);
    }
    if (!check_failures) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        CHECK(system(cmd) == 0);
    }
    return check_done("test_rekey_http");
}
