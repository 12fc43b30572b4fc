/* test_check.c: the consistency checker (`souk-index check`, souk_index_check) is shown to fail.
 * The crash tests trust it after every kill, so it must notice each kind of damage it claims to:
 * an index of the first 3,000 Debian records is copied, one copy per case is damaged through raw
 * LMDB (a postings block dropped, a posting's bytes changed, stale block maxima, a term list
 * dropped or shortened, a document length, the meta counts, the id table, next_docid), and
 * `souk-index check` must exit 1 naming what it found; the undamaged copy must pass. */
#include "check.h"
#include "kit/fixture.h"
#include "souk/souk.h"

#include <lmdb.h>
#include <stdint.h>
#include <sys/wait.h>

static char dir[] = "/tmp/souk-test-check-XXXXXX";
static char base[600];

typedef struct env {
    MDB_env *env;
    MDB_txn *txn;
} env;

static void env_open(env *e, const char *path)
{
    REQUIRE(mdb_env_create(&e->env) == 0);
    REQUIRE(mdb_env_set_maxdbs(e->env, 16) == 0);
    REQUIRE(mdb_env_set_mapsize(e->env, (size_t)1 << 32) == 0);
    REQUIRE(mdb_env_open(e->env, path, 0, 0640) == 0);
    REQUIRE(mdb_txn_begin(e->env, NULL, 0, &e->txn) == 0);
}

static MDB_dbi db(env *e, const char *name)
{
    MDB_dbi d;
    REQUIRE(mdb_dbi_open(e->txn, name, 0, &d) == 0);
    return d;
}

static void env_commit(env *e)
{
    REQUIRE(mdb_txn_commit(e->txn) == 0);
    mdb_env_close(e->env);
}

static uint32_t be32(const void *p)
{
    const uint8_t *b = p;
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static void put_be32(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)(v >> 24);
    b[1] = (uint8_t)(v >> 16);
    b[2] = (uint8_t)(v >> 8);
    b[3] = (uint8_t)v;
}

static size_t varint_len(const uint8_t *p)
{
    size_t n = 1;
    while (p[n - 1] & 0x80)
        n++;
    return n;
}

/* Runs `souk-index check` on path: its exit status, and its stderr in msg. */
static int run_check(const char *path, char *msg, size_t cap)
{
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "'%s/souk-index' --data '%s' check 2>&1 >/dev/null", SOUK_BIN_DIR,
             path);
    FILE *p = popen(cmd, "r");
    REQUIRE(p);
    size_t n = fread(msg, 1, cap - 1, p);
    msg[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* A fresh copy of the base index for one case. */
static void copy_of(const char *name, char *out, size_t cap)
{
    char cmd[1400];
    snprintf(out, cap, "%s/%s", dir, name);
    snprintf(cmd, sizeof cmd, "cp -a '%s' '%s'", base, out);
    REQUIRE(system(cmd) == 0);
}

static int cases, noticed;

/* want: the message the damage must produce, or several separated by '|' when the checker may
 * meet the damage from more than one side first. */
static void expect_failure(const char *name, const char *path, const char *want)
{
    char msg[2048], alt[256];
    int rc = run_check(path, msg, sizeof msg);
    cases++;
    int found = 0;
    for (const char *w = want; *w;) {
        size_t l = strcspn(w, "|");
        snprintf(alt, sizeof alt, "%.*s", (int)l, w);
        found |= strstr(msg, alt) != NULL;
        w += l + (w[l] == '|');
    }
    int ok = rc == 1 && found;
    noticed += ok;
    if (!ok)
        fprintf(stderr, "  %s: want exit 1 and \"%s\"; got exit %d: %s\n", name, want, rc, msg);
    else
        printf("  %s: %s", name, msg);
    CHECK(ok);
}

/* The first term (in byte order) whose postings are in `post` blocks (nblocks > 0), with the
 * key and value of its first block. */
static int first_blocked_term(env *e, MDB_val *key, MDB_val *val)
{
    MDB_cursor *c;
    REQUIRE(mdb_cursor_open(e->txn, db(e, "post"), &c) == 0);
    int rc = mdb_cursor_get(c, key, val, MDB_FIRST);
    mdb_cursor_close(c);
    return rc;
}

static void case_block_dropped(void)
{
    char path[700];
    copy_of("block-dropped", path, sizeof path);
    env e;
    env_open(&e, path);
    MDB_val k, v;
    REQUIRE(first_blocked_term(&e, &k, &v) == 0);
    REQUIRE(mdb_del(e.txn, db(&e, "post"), &k, NULL) == 0);
    env_commit(&e);
    expect_failure("a postings block dropped", path, "dictionary says df");
}

static void case_posting_changed(void)
{
    char path[700];
    copy_of("posting-changed", path, sizeof path);
    env e;
    env_open(&e, path);
    MDB_val k, v;
    REQUIRE(first_blocked_term(&e, &k, &v) == 0);
    /* The block's first docid (the second header varint) made one larger: the postings then
     * name other documents than the dictionary and the term lists say. */
    uint8_t *b = malloc(v.mv_size + 8);
    memcpy(b, v.mv_data, v.mv_size);
    size_t at = 1 + varint_len(b + 1); /* flags, count */
    REQUIRE(varint_len(b + at) == 1 && b[at] < 0x7f);
    b[at]++;
    MDB_val nv = {v.mv_size, b};
    REQUIRE(mdb_put(e.txn, db(&e, "post"), &k, &nv, 0) == 0);
    free(b);
    env_commit(&e);
    expect_failure("a posting's docid changed", path, "term '");
}

static void case_maxima_stale(void)
{
    char path[700];
    copy_of("maxima-stale", path, sizeof path);
    env e;
    env_open(&e, path);
    MDB_val k, v;
    REQUIRE(first_blocked_term(&e, &k, &v) == 0);
    uint8_t *b = malloc(v.mv_size);
    memcpy(b, v.mv_data, v.mv_size);
    size_t at = 1;
    for (int i = 0; i < 4; i++) /* count, first docid, last docid, max wdf */
        at += varint_len(b + at);
    REQUIRE((b[at] & 0x7f) < 0x7f); /* min doclen: its low seven bits one larger */
    b[at]++;
    MDB_val nv = {v.mv_size, b};
    REQUIRE(mdb_put(e.txn, db(&e, "post"), &k, &nv, 0) == 0);
    free(b);
    env_commit(&e);
    expect_failure("a block's min doclen raised", path, "block maxima stale");
}

static void case_termlist_dropped(void)
{
    char path[700];
    copy_of("termlist-dropped", path, sizeof path);
    env e;
    env_open(&e, path);
    uint8_t key[4];
    put_be32(key, 7);
    MDB_val k = {4, key};
    REQUIRE(mdb_del(e.txn, db(&e, "termlist"), &k, NULL) == 0);
    env_commit(&e);
    expect_failure("a term list dropped", path, "document 7: term list missing");
}

static void case_termlist_short(void)
{
    char path[700];
    copy_of("termlist-short", path, sizeof path);
    env e;
    env_open(&e, path);
    uint8_t key[4];
    put_be32(key, 9);
    MDB_val k = {4, key}, v;
    REQUIRE(mdb_get(e.txn, db(&e, "termlist"), &k, &v) == 0);
    const uint8_t *t = v.mv_data;
    REQUIRE(t[0] == 0); /* raw codec: front-coded terms follow */
    /* Keep the codec byte and every term but the last. */
    size_t at = 1, last = 1;
    while (at < v.mv_size) {
        last = at;
        at += varint_len(t + at); /* shared prefix length */
        size_t sl = t[at];
        REQUIRE(varint_len(t + at) == 1);
        at += 1 + sl;
    }
    uint8_t *b = malloc(last);
    memcpy(b, t, last);
    MDB_val nv = {last, b};
    REQUIRE(mdb_put(e.txn, db(&e, "termlist"), &k, &nv, 0) == 0);
    free(b);
    env_commit(&e);
    expect_failure("a term list one term short", path, "document 9: term list has");
}

static void case_doclen(void)
{
    char path[700];
    copy_of("doclen", path, sizeof path);
    env e;
    env_open(&e, path);
    uint8_t key[4];
    put_be32(key, 0);
    MDB_val k = {4, key}, v;
    REQUIRE(mdb_get(e.txn, db(&e, "doclen"), &k, &v) == 0);
    uint32_t *lens = malloc(v.mv_size);
    memcpy(lens, v.mv_data, v.mv_size);
    lens[5] += 3;
    MDB_val nv = {v.mv_size, lens};
    REQUIRE(mdb_put(e.txn, db(&e, "doclen"), &k, &nv, 0) == 0);
    free(lens);
    env_commit(&e);
    expect_failure("a document length changed", path, "lengths sum|block maxima stale");
}

static void meta_u64(env *e, const char *name, int64_t delta)
{
    MDB_val k = {strlen(name), (void *)name}, v;
    REQUIRE(mdb_get(e->txn, db(e, "meta"), &k, &v) == 0 && v.mv_size == 8);
    uint64_t x;
    memcpy(&x, v.mv_data, 8);
    x = (uint64_t)((int64_t)x + delta);
    MDB_val nv = {8, &x};
    REQUIRE(mdb_put(e->txn, db(e, "meta"), &k, &nv, 0) == 0);
}

static void case_meta(const char *name, const char *key, int64_t delta, const char *want)
{
    char path[700];
    copy_of(name, path, sizeof path);
    env e;
    env_open(&e, path);
    meta_u64(&e, key, delta);
    env_commit(&e);
    char what[128];
    snprintf(what, sizeof what, "meta %s changed by %lld", key, (long long)delta);
    expect_failure(what, path, want);
}

static void case_ids(void)
{
    char path[700];
    copy_of("ids", path, sizeof path);
    env e;
    env_open(&e, path);
    MDB_cursor *c;
    REQUIRE(mdb_cursor_open(e.txn, db(&e, "ids"), &c) == 0);
    MDB_val k, v;
    REQUIRE(mdb_cursor_get(c, &k, &v, MDB_FIRST) == 0);
    mdb_cursor_close(c);
    uint8_t *b = malloc(v.mv_size);
    memcpy(b, v.mv_data, v.mv_size);
    put_be32(b, be32(b) + 1); /* the id now names its neighbour's docid */
    MDB_val nv = {v.mv_size, b};
    REQUIRE(mdb_put(e.txn, db(&e, "ids"), &k, &nv, 0) == 0);
    free(b);
    env_commit(&e);
    expect_failure("an id pointing at another document", path, "id table does not point back");
}

int main(void)
{
    souk_alloc_init();
    const char *src = debian_catalog();
    if (!src)
        return TEST_SKIP;
    REQUIRE(mkdtemp(dir));
    snprintf(base, sizeof base, "%s/base", dir);
    char cmd[8192], msg[2048];
    REQUIRE(kit_debian_index(base, 3000, "--quiet --no-spelling") == 0);
    CHECK(run_check(base, msg, sizeof msg) == 0);

    case_block_dropped();
    case_posting_changed();
    case_maxima_stale();
    case_termlist_dropped();
    case_termlist_short();
    case_doclen();
    case_meta("meta-n", "N", 1, "meta says N");
    case_meta("meta-len", "total_len", -2, "meta says N");
    case_meta("meta-next", "next_docid", -10, "past next_docid|docids out of order or unknown");
    case_ids();
    printf("test_check: %d of %d kinds of damage noticed\n", noticed, cases);

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    return check_done("test_check");
}
