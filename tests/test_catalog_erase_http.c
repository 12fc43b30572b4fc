/* test_catalog_erase_http.c: a catalog delete leaves no byte of the deleted item's text (P22,
 * docs/privacy.md), through the real souk-index and souk-server on 127.0.0.1, over the first
 * 2,000 Debian records and one more: a real record copied under a new id with a supplier's
 * personal data planted in it (a maintainer's name and e-mail, a unique word in its description,
 * all with a random marker):
 * *   - the server finds the planted item;
 *   - a delete through `souk-index catalog` ({"op":"delete"}) hides it from the next search;
 *   - the byte scan of every file under the data directory still finds the planted strings
 *     after the delete (LMDB's freed pages, the spelling table's blocks), so the test has teeth;
 *   - `souk-index compact` is refused while the server has the index open, naming the process;
 *     with the server stopped, four runs cut by kill -9 each leave an index that checks whole,
 *     and a run to the end compacts, after which the byte scan finds none of the planted
 *     strings (id, name, e-mail, word; in any file: index, spelling table, anything else);
 *   - `souk-index check` passes, and the restarted server answers plain and misspelled queries
 *     (typo dictionary, spelling suggestions) exactly as before the compaction. */
#include "check.h"
#include "kit/fixture.h"
#include "kit/http.h"
#include "kit/scan.h"
#include "souk/souk.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <sys/stat.h>
#include <sys/wait.h>

static char dir[] = "/tmp/souk-test-catalog-erase-XXXXXX";
static char data_dir[512], cfg_path[512];
static const char *SKEY = "p22-search-key-0123";
static kit_server srv;

/* A search's body from "total" to before "next_cursor" (or "took_us"), malloc'd. */
static char *search_part(const char *qs, int *total)
{
    kit_resp r;
    char target[512];
    snprintf(target, sizeof target, "/v1/search?%s", qs);
    CHECK(kit_call(srv.port, "GET", target, SKEY, NULL, NULL, NULL, 0, &r) == 200);
    const char *a = r.body ? strstr(r.body, "\"total\"") : NULL;
    const char *e = a ? strstr(a, "\"next_cursor\"") : NULL;
    if (a && !e)
        e = strstr(a, "\"took_us\"");
    char *out = strndup(a ? a : "", a && e ? (size_t)(e - a) : 0);
    *total = a ? atoi(a + 8) : -1;
    kit_resp_free(&r);
    REQUIRE(out);
    return out;
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
    if (!debian_catalog())
        return TEST_SKIP;
    REQUIRE(mkdtemp(dir));
    char recs[600], plant[600], del[600], cmd[4096], out[4096];
    snprintf(data_dir, sizeof data_dir, "%s/index", dir);
    snprintf(cfg_path, sizeof cfg_path, "%s/server.json", dir);
    snprintf(recs, sizeof recs, "%s/records.ndjson", dir);
    snprintf(plant, sizeof plant, "%s/plant.ndjson", dir);
    snprintf(del, sizeof del, "%s/delete.ndjson", dir);
    REQUIRE(kit_debian_records(recs, 2000) == 0);

    /* The planted record: the 100th record under a new id, with personal data. */
    uint8_t rnd[6];
    char mark[13];
    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(mark, sizeof mark, rnd, sizeof rnd);
    for (char *p = mark; *p; p++) /* letters only: one word to the analyzer */
        *p = (char)('a' + (*p % 26));
    char id[64], name[64], mail[96], word[64];
    snprintf(id, sizeof id, "planted-%s", mark);
    snprintf(name, sizeof name, "Zq%s Plantedperson", mark);
    snprintf(mail, sizeof mail, "zq.%s@planted-example.org", mark);
    snprintf(word, sizeof word, "zqword%s", mark);
    FILE *f = fopen(recs, "r");
    REQUIRE(f);
    char *line = NULL;
    size_t cap = 0;
    for (int i = 0; i < 100; i++)
        REQUIRE(getline(&line, &cap, f) > 0);
    fclose(f);
    cJSON *j = cJSON_Parse(line);
    free(line);
    REQUIRE(j);
    cJSON_ReplaceItemInObject(j, "id", cJSON_CreateString(id));
    char maint[200], descr[8192];
    snprintf(maint, sizeof maint, "%s <%s>", name, mail);
    cJSON_ReplaceItemInObject(j, "maintainer", cJSON_CreateString(maint));
    const char *d0 = cJSON_GetStringValue(cJSON_GetObjectItem(j, "description"));
    snprintf(descr, sizeof descr, "%s\nPlease write to %s about %s.", d0 ? d0 : "", name, word);
    cJSON_ReplaceItemInObject(j, "description", cJSON_CreateString(descr));
    char *pl = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    f = fopen(plant, "w");
    REQUIRE(f && fprintf(f, "%s\n", pl) > 0 && fclose(f) == 0);
    cJSON_free(pl);
    f = fopen(del, "w");
    REQUIRE(f && fprintf(f, "{\"op\":\"delete\",\"id\":\"%s\"}\n", id) > 0 && fclose(f) == 0);

    snprintf(cmd, sizeof cmd,
             "cat '%s' '%s' | '%s/souk-index' --data '%s' --schema '%s/indexer/schemas/"
             "debian-packages.json' catalog - --quiet >/dev/null",
             recs, plant, SOUK_BIN_DIR, data_dir, SOUK_SOURCE_DIR);
    REQUIRE(system(cmd) == 0);
    f = fopen(cfg_path, "w");
    REQUIRE(f);
    fprintf(f, "{\"search_keys\":[\"%s\"]}\n", kit_hash_key(SKEY));
    fclose(f);

    start();
    int total;
    char qs[256];
    snprintf(qs, sizeof qs, "q=%s", word);
    free(search_part(qs, &total));
    CHECK(total == 1);
    /* The delete, while the server serves: the next search no longer finds it. */
    snprintf(cmd, sizeof cmd, "'%s/souk-index' --data '%s' catalog '%s' --quiet", SOUK_BIN_DIR,
             data_dir, del);
    CHECK(kit_run_into(cmd, out, sizeof out) == 0 && strstr(out, "\"deleted\":1"));
    free(search_part(qs, &total));
    CHECK(total == 0);
    char *before_plain = search_part("q=editor", &total);
    char *before_typo = search_part("q=edtor&typo=true", &total);
    CHECK(total > 0);
    char *before_sugg = search_part("q=edtor&suggest=true", &total);
    CHECK(strstr(before_sugg, "did_you_mean") && strstr(before_sugg, "editor"));
    /* Compaction refused while the server has the index open. */
    snprintf(cmd, sizeof cmd, "'%s/souk-index' --data '%s' compact", SOUK_BIN_DIR, data_dir);
    char pid[32];
    snprintf(pid, sizeof pid, "process %d", (int)srv.pid);
    CHECK(kit_run_into(cmd, out, sizeof out) == 1 && strstr(out, pid));
    CHECK(kit_stop(&srv) == 0);

    /* Lower case: the scan folds the files' bytes to lower case. */
    char lname[64], lmail[96];
    snprintf(lname, sizeof lname, "zq%s", mark);
    snprintf(lmail, sizeof lmail, "zq.%s@planted", mark);
    kit_needles nd;
    kit_needles_init(&nd);
    const char *strs[] = {id, lname, lmail, word, mark};
    for (int i = 0; i < 5; i++)
        kit_needle_add(&nd, strs[i], strlen(strs[i]));
    int hits = kit_scan(data_dir, &nd, KIT_SCAN_FOLD | KIT_SCAN_QUIET);
    fprintf(stderr, "  after the delete, before compaction: %d hit(s) of the planted strings\n",
            hits);
    CHECK(hits > 0);
    /* Compactions cut by kill -9 at spread moments: the index checks whole after each. */
    char bin[600], chk[4096];
    snprintf(bin, sizeof bin, "%s/souk-index", SOUK_BIN_DIR);
    snprintf(chk, sizeof chk, "'%s' --data '%s' check >/dev/null 2>&1", bin, data_dir);
    for (int i = 0; i < 4; i++) {
        pid_t kp = fork();
        REQUIRE(kp >= 0);
        if (kp == 0) {
            int fd = open("/dev/null", O_WRONLY);
            if (fd >= 0) {
                dup2(fd, 1);
                dup2(fd, 2);
            }
            execl(bin, bin, "--data", data_dir, "compact", (char *)NULL);
            _exit(127);
        }
        usleep((useconds_t)(3000 + i * 20000));
        kill(kp, SIGKILL);
        int kst;
        REQUIRE(waitpid(kp, &kst, 0) == kp);
        CHECK(system(chk) == 0);
    }
    CHECK(kit_run_into(cmd, out, sizeof out) == 0 && strstr(out, "\"compacted\":true"));
    fprintf(stderr, "  compact: %s", out);
    CHECK(kit_scan(data_dir, &nd, KIT_SCAN_FOLD) == 0);
    snprintf(cmd, sizeof cmd, "'%s/souk-index' --data '%s' check", SOUK_BIN_DIR, data_dir);
    CHECK(kit_run_into(cmd, out, sizeof out) == 0 && strstr(out, "\"docs\":2000"));

    start();
    char *after_plain = search_part("q=editor", &total);
    CHECK(total > 0);
    char *after_typo = search_part("q=edtor&typo=true", &total);
    char *after_sugg = search_part("q=edtor&suggest=true", &total);
    CHECK(!strcmp(before_sugg, after_sugg));
    free(before_sugg);
    free(after_sugg);
    CHECK(!strcmp(before_plain, after_plain));
    CHECK(!strcmp(before_typo, after_typo));
    free(search_part(qs, &total));
    CHECK(total == 0);
    CHECK(kit_stop(&srv) == 0);
    free(before_plain);
    free(before_typo);
    free(after_plain);
    free(after_typo);
    if (!check_failures) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        CHECK(system(cmd) == 0);
    }
    return check_done("test_catalog_erase_http");
}
