/* test_fault.c: failure injection through the public C API, in the way of curl's torture tests.
 * This program is linked with -Wl,--wrap for malloc, calloc, realloc, the LMDB calls the engine
 * makes and operator new (tests/CMakeLists.txt), so the library holds no test code: every wrapper
 * below counts its calls and fails the Nth. For each operation (creating and opening an index,
 * ingesting a batch of upserts and deletes, searching, a storefront find with a filter, facets and
 * a sort, the full check) and N = 1..K (every call, or the first 64 and then evenly spread ones
 * when an operation makes more calls than that), it proves:
 * - the failure is reported (a negative code, SOUK_ENOMEM for an allocation, and a message), or
 *   the operation succeeded with exactly the result it has without faults;
 * - nothing committed is lost: a failed batch leaves the index's digest (tests/digest.h) as it
 *   was, a successful one gives the digest of the same records indexed without faults;
 * - souk_index_check still passes, and the same handles (searcher, index) then work.
 * LMDB faults come as hard errors, and in a second pass as the ones LMDB asks callers to recover
 * from (MDB_MAP_FULL, MDB_MAP_RESIZED); a map that stays full gives SOUK_EFULL. A batch past the
 * last document id gives SOUK_ENOIDS (it was reported as a full map).
 * The faults are injected only while an operation runs (fault_arm/fault_disarm). */
#include "check.h"
#include "digest.h"
#include "fixture.h"
#include "souk/browse.h"
#include "souk/ingest.h"
#include "souk/search.h"

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdatomic.h>
#include <sys/stat.h>

/* ------------------------------------------------------------------ the wrappers */

/* F_PUT: the LMDB writes only; F_NEW: operator new in engine/text/ */
enum { F_NONE, F_ALLOC, F_MDB, F_PUT, F_NEW };

static _Atomic int f_kind;   /* which calls are counted and failed */
static atomic_long f_calls;  /* counted so far */
static atomic_long f_hits;   /* failed so far */
static _Atomic long f_at;    /* the call that fails (1-based; 0: none) */
static _Atomic int f_sticky; /* every call from f_at on fails */
static _Atomic int f_soft;   /* LMDB errors that are retried (map full, map resized) */

static int fail_here(int kind)
{
    if (atomic_load(&f_kind) != kind)
        return 0;
    long n = atomic_fetch_add(&f_calls, 1) + 1;
    long at = atomic_load(&f_at);
    if (at && (n == at || (atomic_load(&f_sticky) && n > at))) {
        atomic_fetch_add(&f_hits, 1);
        return 1;
    }
    return 0;
}

static void fault_arm(int kind, long at)
{
    atomic_store(&f_calls, 0);
    atomic_store(&f_hits, 0);
    atomic_store(&f_at, at);
    atomic_store(&f_kind, kind);
}

/* Stops injecting; returns the number of calls counted. */
static long fault_disarm(void)
{
    atomic_store(&f_kind, F_NONE);
    return atomic_load(&f_calls);
}

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);

void *__wrap_malloc(size_t n)
{
    return fail_here(F_ALLOC) ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t m)
{
    return fail_here(F_ALLOC) ? NULL : __real_calloc(n, m);
}

void *__wrap_realloc(void *p, size_t n)
{
    return fail_here(F_ALLOC) ? NULL : __real_realloc(p, n);
}

/* operator new(size_t) as engine/text/ calls it: a failure throws std::bad_alloc, as
 * the real one does, through the C++ ABI (this file is C; the frames in between have unwind
 * tables, as every x86-64 object has). */
void *__real__Znwm(size_t n);
void *__wrap__Znwm(size_t n);
extern char _ZTISt9bad_alloc[]; /* typeinfo for std::bad_alloc */
extern char _ZTVSt9bad_alloc[]; /* its vtable */
void _ZNSt9bad_allocD1Ev(void *e);
void *__cxa_allocate_exception(size_t n);
void __cxa_throw(void *e, void *type, void (*dtor)(void *));

void *__wrap__Znwm(size_t n)
{
    if (fail_here(F_NEW)) {
        void **e = __cxa_allocate_exception(sizeof(void *));
        *e = _ZTVSt9bad_alloc + 2 * sizeof(void *); /* the object is its vtable pointer */
        __cxa_throw(e, _ZTISt9bad_alloc, _ZNSt9bad_allocD1Ev);
    }
    return __real__Znwm(n);
}

/* Each LMDB wrapper fails with an error the real call can return: hard ones (I/O, a full
 * transaction, a missing page, no reader slot), or in the soft pass the two LMDB asks the caller
 * to recover from (MDB_MAP_FULL from a write, MDB_MAP_RESIZED from a begin). A failing commit
 * aborts the transaction, as mdb_txn_commit does. */
#define WRAP_MDB(ret, name, params, args, hard, soft, is_write)                                    \
    ret __real_##name params;                                                                      \
    ret __wrap_##name params;                                                                      \
    ret __wrap_##name params                                                                       \
    {                                                                                              \
        if (fail_here(F_MDB) || ((is_write) && fail_here(F_PUT)))                                  \
            return atomic_load(&f_soft) ? (soft) : (hard);                                         \
        return __real_##name args;                                                                 \
    }

WRAP_MDB(int, mdb_get, (MDB_txn * t, MDB_dbi d, MDB_val *k, MDB_val *v), (t, d, k, v),
         MDB_PAGE_NOTFOUND, EIO, 0)
WRAP_MDB(int, mdb_put, (MDB_txn * t, MDB_dbi d, MDB_val *k, MDB_val *v, unsigned f),
         (t, d, k, v, f), MDB_TXN_FULL, MDB_MAP_FULL, 1)
WRAP_MDB(int, mdb_del, (MDB_txn * t, MDB_dbi d, MDB_val *k, MDB_val *v), (t, d, k, v), MDB_TXN_FULL,
         MDB_MAP_FULL, 1)
WRAP_MDB(int, mdb_cursor_open, (MDB_txn * t, MDB_dbi d, MDB_cursor **c), (t, d, c), ENOMEM, EINVAL,
         0)
WRAP_MDB(int, mdb_cursor_get, (MDB_cursor * c, MDB_val *k, MDB_val *v, MDB_cursor_op op),
         (c, k, v, op), MDB_PAGE_NOTFOUND, EIO, 0)
WRAP_MDB(int, mdb_cursor_put, (MDB_cursor * c, MDB_val *k, MDB_val *v, unsigned f), (c, k, v, f),
         MDB_TXN_FULL, MDB_MAP_FULL, 1)
WRAP_MDB(int, mdb_cursor_del, (MDB_cursor * c, unsigned f), (c, f), MDB_TXN_FULL, MDB_MAP_FULL, 1)
WRAP_MDB(int, mdb_txn_begin, (MDB_env * e, MDB_txn *p, unsigned f, MDB_txn **t), (e, p, f, t),
         MDB_READERS_FULL, MDB_MAP_RESIZED, 0)
WRAP_MDB(int, mdb_txn_renew, (MDB_txn * t), (t), MDB_READERS_FULL, EIO, 0)
WRAP_MDB(int, mdb_dbi_open, (MDB_txn * t, const char *n, unsigned f, MDB_dbi *d), (t, n, f, d),
         MDB_DBS_FULL, MDB_NOTFOUND, 0)
WRAP_MDB(int, mdb_env_create, (MDB_env * *e), (e), ENOMEM, ENOMEM, 0)
WRAP_MDB(int, mdb_env_open, (MDB_env * e, const char *p, unsigned f, mdb_mode_t m), (e, p, f, m),
         EACCES, MDB_VERSION_MISMATCH, 0)

int __real_mdb_txn_commit(MDB_txn *t);
int __wrap_mdb_txn_commit(MDB_txn *t);
int __wrap_mdb_txn_commit(MDB_txn *t)
{
    if (fail_here(F_MDB)) {
        mdb_txn_abort(t);
        return atomic_load(&f_soft) ? ENOSPC : EIO;
    }
    return __real_mdb_txn_commit(t);
}

/* How many calls past the first 64 each sweep fails (next_point): fewer under the sanitizers,
 * whose allocator is several times slower, so the test stays near half a minute there. */
#if defined(__SANITIZE_ADDRESS__)
#define SPREAD(n) ((n) / 4)
#else
#define SPREAD(n) (n)
#endif

/* ------------------------------------------------------------------ set-up */

static char tmp[256];
static souk_schema *schema;
static char base_dir[512], work_dir[512], fresh_dir[512], batch_file[512];
static digest base_dg, final_dg;

static void write_lines(const char *path, char **lines, size_t n)
{
    FILE *f = fopen(path, "w");
    REQUIRE(f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s\n", lines[i]);
    fclose(f);
}

/* A record line with its title changed: a new version of the same product. */
static char *retitled(const char *line, int k)
{
    const char *t = json_string_value(line, "title");
    REQUIRE(t);
    size_t n = strlen(line) + 64;
    char *s = malloc(n);
    snprintf(s, n, "%.*srevised edition %d: %s", (int)(t - line), line, k, t);
    return s;
}

/* The delete line of a record's id. */
static char *delete_of(const char *line)
{
    const char *id = json_string_value(line, "id");
    REQUIRE(id);
    const char *e = strchr(id, '"');
    char *s = malloc(64 + (size_t)(e - id));
    sprintf(s, "{\"op\":\"delete\",\"id\":\"%.*s\"}", (int)(e - id), id);
    return s;
}

/* Ingests file into dir (opened with the Debian schema, created if needed) in one batch.
 * Returns the code; err gets the message. Faults, when armed, apply to the ingest only. */
static int ingest(const char *dir, const char *file, int threads, int kind, long at, char *err,
                  size_t errlen, long *calls)
{
    souk_index *ix;
    REQUIRE(souk_index_open(dir, schema, 0, &ix, err, errlen) == 0);
    int fd = open(file, O_RDONLY);
    REQUIRE(fd >= 0);
    souk_ingest_opts o;
    memset(&o, 0, sizeof o);
    o.batch_docs = 100000;
    o.threads = threads;
    o.from_start = 1;
    souk_ingest_stats st;
    err[0] = 0;
    fault_arm(kind, at);
    int rc = souk_ingest(ix, fd, file, &o, &st, err, errlen);
    long n = fault_disarm();
    if (calls)
        *calls = n;
    close(fd);
    souk_index_close(ix);
    return rc;
}

/* Replaces dir's data file by a copy of the one in from. */
static void copy_index(const char *from, const char *dir)
{
    char src[600], dst[600];
    mkdir(dir, 0750);
    snprintf(src, sizeof src, "%s/data.mdb", from);
    snprintf(dst, sizeof dst, "%s/data.mdb", dir);
    int in = open(src, O_RDONLY), out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0640);
    REQUIRE(in >= 0 && out >= 0);
    static char buf[1 << 16];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0)
        REQUIRE(write(out, buf, (size_t)n) == n);
    REQUIRE(n == 0);
    close(in);
    close(out);
}

static int same_digest(const digest *x, const digest *y)
{
    return x->docs == y->docs && x->terms == y->terms && x->postings == y->postings &&
           x->positions == y->positions && x->total_len == y->total_len && x->sum == y->sum &&
           x->xsum == y->xsum;
}

/* The calls to fail for an operation making K of them: all when few, else the first 64 and
 * then about `spread` more, evenly spaced (always including the last). */
static long next_point(long n, long k, long spread)
{
    if (n < 64 || k <= 64 + spread)
        return n + 1;
    long step = (k - 64) / spread + 1;
    return n + step > k && n < k ? k : n + step;
}

/* ------------------------------------------------------------------ the batch */

static const char *kind_name(int kind)
{
    return kind == F_ALLOC        ? "allocation"
           : kind == F_NEW        ? "operator new"
           : atomic_load(&f_soft) ? "LMDB (soft)"
                                  : "LMDB";
}

/* Fails each call of a batch's ingest in turn: a failure is reported and loses nothing, a
 * success equals the batch without faults, the check passes, and a rerun then lands it. */
static void sweep_ingest(int kind, int soft, int threads, long spread)
{
    char err[512];
    long k;
    atomic_store(&f_soft, soft);
    copy_index(base_dir, work_dir);
    REQUIRE(ingest(work_dir, batch_file, threads, kind, 0, err, sizeof err, &k) == 0);
    long failed = 0, points = 0;
    for (long n = 1; n <= k; n = next_point(n, k, spread)) {
        points++;
        copy_index(base_dir, work_dir);
        int rc = ingest(work_dir, batch_file, threads, kind, n, err, sizeof err, NULL);
        long hits = atomic_load(&f_hits);
        digest d;
        REQUIRE(index_digest(work_dir, &d) == 0);
        if (rc) {
            failed++;
            CHECK(hits > 0);
            CHECK(err[0] != 0);
            if ((kind == F_ALLOC || kind == F_NEW) && rc != SOUK_ENOMEM) {
                fprintf(stderr, "ingest, %s fault %ld/%ld: code %d (%s), not out of memory\n",
                        kind_name(kind), n, k, rc, err);
                check_failures++;
            }
            if (!same_digest(&d, &base_dg)) {
                fprintf(stderr, "ingest, %s fault %ld/%ld failed (%s) and changed the index\n",
                        kind_name(kind), n, k, err);
                check_failures++;
            }
        } else if (!same_digest(&d, &final_dg)) {
            fprintf(stderr, "ingest, %s fault %ld/%ld: success, but not the batch's index\n",
                    kind_name(kind), n, k);
            check_failures++;
        }
        if (index_check_dir(work_dir) != 0) {
            fprintf(stderr, "ingest, %s fault %ld/%ld (%s): the check fails\n", kind_name(kind), n,
                    k, rc ? err : "success");
            check_failures++;
        }
        if (rc) {
            /* The batch lands on a rerun. */
            CHECK(ingest(work_dir, batch_file, threads, F_NONE, 0, err, sizeof err, NULL) == 0);
            REQUIRE(index_digest(work_dir, &d) == 0);
            CHECK(same_digest(&d, &final_dg));
        }
    }
    printf("ingest (%d threads), %s faults: %ld calls, %ld failed in turn, %ld of those failures "
           "reported, the rest survived\n",
           threads, kind_name(kind), k, points, failed);
    CHECK(failed > 0);
    atomic_store(&f_soft, 0);
}

/* ------------------------------------------------------------------ opening */

/* Creating an index and opening an existing one: a failure is reported, and opening afterwards
 * works and finds what was there (an empty index, or the base). */
static void sweep_open(int kind, int soft)
{
    char err[512], dir[600];
    long k = 0, failed = 0;
    atomic_store(&f_soft, soft);
    for (int existing = 0; existing < 2; existing++) {
        for (long n = 0;; n++) {
            souk_index *ix;
            const char *d = existing ? work_dir : dir;
            snprintf(dir, sizeof dir, "%s/new-%ld", tmp, n);
            if (existing)
                copy_index(base_dir, work_dir);
            err[0] = 0;
            fault_arm(kind, n);
            int rc = souk_index_open(d, existing ? NULL : schema, 0, &ix, err, sizeof err);
            long calls = fault_disarm();
            if (n == 0)
                k = calls;
            if (rc == 0)
                souk_index_close(ix);
            else {
                failed++;
                CHECK(err[0] != 0);
                if (kind == F_ALLOC && rc != SOUK_ENOMEM) {
                    fprintf(stderr, "open, allocation fault %ld: code %d (%s)\n", n, rc, err);
                    check_failures++;
                }
            }
            /* Afterwards the index opens and holds what it held. */
            if (souk_index_open(d, existing ? NULL : schema, 0, &ix, err, sizeof err) != 0) {
                fprintf(stderr, "open after %s fault %ld (%s): %s\n", kind_name(kind), n,
                        existing ? "existing" : "new", err);
                check_failures++;
            } else {
                souk_index_close(ix);
                digest dg;
                CHECK(index_check_dir(d) == 0);
                CHECK(index_digest(d, &dg) == 0);
                CHECK_EQ_U64(dg.docs, existing ? base_dg.docs : 0);
            }
            if (!existing) {
                char cmd[700];
                snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
                REQUIRE(system(cmd) == 0);
            }
            if (n >= k)
                break;
        }
    }
    printf("open, %s faults: %ld failures reported\n", kind_name(kind), failed);
    CHECK(failed > 0);
    atomic_store(&f_soft, 0);
}

/* ------------------------------------------------------------------ reading */

static const char *queries[] = {
    "editor", "python library", "\"text editor\"", "gnu AND emacs", "lib* -perl", "lbrary tols",
};
#define NQ (sizeof queries / sizeof queries[0])
#define TOPK 20

typedef struct answer {
    souk_hit hits[NQ][TOPK];
    size_t nhits[NQ];
    souk_hit page[10];
    size_t npage;
    uint64_t total;
    uint64_t facet_sum[3], facet_n[3];
    souk_check_stats cs;
} answer;

static int fid(const char *name)
{
    return souk_schema_field(schema, name, strlen(name))->id;
}

/* Every query, top TOPK with typo tolerance. */
static int run_searches(souk_searcher *s, answer *a, char *err, size_t errlen)
{
    souk_search_opts o = {TOPK, SOUK_BM25_DEFAULT, 0, NULL, SOUK_QP_TYPO, 0, NULL};
    for (size_t i = 0; i < NQ; i++) {
        int rc = souk_search(s, queries[i], strlen(queries[i]), &o, a->hits[i], &a->nhits[i], NULL,
                             err, errlen);
        if (rc)
            return rc;
    }
    return 0;
}

/* A storefront browse: a filter, three facets, a sort by a keyword, a number and a text. */
static int run_find(souk_searcher *s, answer *a, char *err, size_t errlen)
{
    souk_filter *f;
    const char *fx = "installed_size_kb < 20000 AND NOT section = libs";
    int rc = souk_filter_parse(schema, fx, strlen(fx), &f, err, errlen);
    if (rc)
        return rc;
    souk_find_opts o;
    memset(&o, 0, sizeof o);
    o.search.bm25 = (souk_bm25)SOUK_BM25_DEFAULT;
    o.limit = 10;
    o.boost_field = -1;
    o.filter = f;
    o.sort[0].field = fid("maintainer");
    o.sort[1].field = fid("installed_size_kb");
    o.sort[1].desc = 1;
    o.sort[2].field = fid("title");
    o.nsort = 3;
    o.facets[0].field = fid("section");
    o.facets[0].max_values = 5;
    o.facets[1].field = fid("tags");
    o.facets[1].max_values = 50;
    o.facets[2].field = fid("installed_size_kb");
    double edges[] = {0, 100, 1000, 5000, 100000};
    memcpy(o.facets[2].edges, edges, sizeof edges);
    o.facets[2].nedges = 5;
    o.nfacets = 3;
    souk_find_result res;
    rc = souk_find(s, NULL, &o, &res, err, errlen);
    souk_filter_free(f);
    if (rc)
        return rc;
    a->npage = res.nhits;
    memcpy(a->page, res.hits, res.nhits * sizeof *res.hits);
    a->total = res.total;
    for (size_t i = 0; i < res.nfacets && i < 3; i++) {
        a->facet_n[i] = res.facets[i].nvalues;
        a->facet_sum[i] = res.facets[i].other;
        for (size_t v = 0; v < res.facets[i].nvalues; v++)
            a->facet_sum[i] =
                a->facet_sum[i] * 31 + res.facets[i].values[v].count +
                (res.facets[i].values[v].value
                     ? dg_mix(0, res.facets[i].values[v].value, res.facets[i].values[v].len)
                     : 0);
    }
    souk_find_result_free(&res);
    return 0;
}

static int run_check(souk_searcher *s, answer *a, char *err, size_t errlen)
{
    return souk_index_check(souk_searcher_reader(s), &a->cs, err, errlen);
}

/* Hits compared by their fields (memcmp would compare souk_hit's padding too). */
static int same_hits(const souk_hit *x, const souk_hit *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (x[i].docid != y[i].docid || x[i].score != y[i].score)
            return 0;
    return 1;
}

static int same_answer(const answer *x, const answer *y, int which)
{
    if (which == 0) {
        for (size_t i = 0; i < NQ; i++)
            if (x->nhits[i] != y->nhits[i] || !same_hits(x->hits[i], y->hits[i], x->nhits[i]))
                return 0;
        return 1;
    }
    if (which == 1)
        return x->npage == y->npage && x->total == y->total &&
               same_hits(x->page, y->page, x->npage) &&
               memcmp(x->facet_sum, y->facet_sum, sizeof x->facet_sum) == 0 &&
               memcmp(x->facet_n, y->facet_n, sizeof x->facet_n) == 0;
    return memcmp(&x->cs, &y->cs, sizeof x->cs) == 0; /* uint64_t fields only: no padding */
}

typedef int (*read_fn)(souk_searcher *s, answer *a, char *err, size_t errlen);

/* Fails each call of a read operation in turn, on a freshly opened index and searcher (so the
 * per-generation columns and typo dictionary are built under the faults): the operation fails
 * with a code and a message or answers as without faults, and the same searcher then answers
 * exactly. An allocation failure is never reported as corruption. */
static void sweep_read(const char *what, read_fn fn, int which, int kind, int soft, long spread)
{
    char err[512];
    atomic_store(&f_soft, soft);
    static answer want, got;
    long k = 0, failed = 0;
    for (long n = 0;; n = n ? next_point(n, k, spread) : 1) {
        souk_index *ix;
        souk_searcher *s;
        REQUIRE(souk_index_open(work_dir, NULL, SOUK_INDEX_RDONLY, &ix, err, sizeof err) == 0);
        REQUIRE(souk_searcher_new(ix, &s) == 0);
        memset(&got, 0, sizeof got);
        err[0] = 0;
        fault_arm(kind, n);
        int rc = fn(s, &got, err, sizeof err);
        long calls = fault_disarm();
        if (n == 0) {
            if (rc)
                fprintf(stderr, "%s: %s\n", what, err);
            REQUIRE(rc == 0);
            k = calls;
            want = got;
        } else if (rc) {
            failed++;
            CHECK(atomic_load(&f_hits) > 0);
            if (!err[0]) {
                fprintf(stderr, "%s, %s fault %ld/%ld: code %d without a message\n", what,
                        kind_name(kind), n, k, rc);
                check_failures++;
            }
            if ((kind == F_ALLOC || kind == F_NEW) && rc != SOUK_ENOMEM) {
                fprintf(stderr, "%s, %s fault %ld/%ld: code %d (%s)\n", what, kind_name(kind), n, k,
                        rc, err);
                check_failures++;
            }
            memset(&got, 0, sizeof got);
            rc = fn(s, &got, err, sizeof err);
            if (rc || !same_answer(&got, &want, which)) {
                size_t q = 0;
                while (which == 0 && q + 1 < NQ && got.nhits[q] == want.nhits[q] &&
                       same_hits(got.hits[q], want.hits[q], got.nhits[q]))
                    q++;
                fprintf(stderr,
                        "%s, after %s fault %ld/%ld: the searcher answers wrongly (%d; %s: %zu "
                        "hits, not %zu)\n",
                        what, kind_name(kind), n, k, rc, which == 0 ? queries[q] : "", got.nhits[q],
                        want.nhits[q]);
                check_failures++;
            }
        } else if (!same_answer(&got, &want, which)) {
            size_t q = 0;
            while (which == 0 && q + 1 < NQ && got.nhits[q] == want.nhits[q] &&
                   same_hits(got.hits[q], want.hits[q], got.nhits[q]))
                q++;
            fprintf(stderr, "%s, %s fault %ld/%ld: success with another answer (%s)\n", what,
                    kind_name(kind), n, k, which == 0 ? queries[q] : "");
            check_failures++;
        }
        souk_searcher_free(s);
        souk_index_close(ix);
        if (n >= k)
            break;
    }
    printf("%s, %s faults: %ld calls, %ld failures reported\n", what, kind_name(kind), k, failed);
    atomic_store(&f_soft, 0);
}

/* ------------------------------------------------------------------ limits */

/* Sets meta's next_docid of the index in dir through raw LMDB. */
static void set_next_docid(const char *dir, uint64_t v)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi meta;
    REQUIRE(mdb_env_create(&env) == 0);
    REQUIRE(mdb_env_set_maxdbs(env, 16) == 0);
    REQUIRE(mdb_env_set_mapsize(env, (size_t)1 << 30) == 0);
    REQUIRE(mdb_env_open(env, dir, 0, 0640) == 0);
    REQUIRE(mdb_txn_begin(env, NULL, 0, &txn) == 0);
    REQUIRE(mdb_dbi_open(txn, "meta", 0, &meta) == 0);
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    MDB_val k = {10, "next_docid"}, d = {8, b};
    REQUIRE(mdb_put(txn, meta, &k, &d, 0) == 0);
    REQUIRE(mdb_txn_commit(txn) == 0);
    mdb_env_close(env);
}

/* The documents of the index in dir (-1 when it does not open), and whether it passes the
 * check. (index_digest cannot be used here: it keeps a table as long as the docid space.) */
static long doc_count(const char *dir)
{
    char err[512];
    souk_index *ix;
    souk_reader *r;
    souk_stats st;
    if (souk_index_open(dir, NULL, SOUK_INDEX_RDONLY, &ix, err, sizeof err))
        return -1;
    long n = -1;
    if (souk_reader_new(ix, &r) == 0) {
        if (souk_reader_stats(r, &st) == 0)
            n = (long)st.docs;
        souk_reader_free(r);
    }
    souk_index_close(ix);
    return n;
}

/* Running out of document ids is its own error, not a full map; nothing is lost, and the ids
 * that are left are still handed out. */
static void test_docids(char **news, size_t nnew)
{
    char err[512], file[600];
    copy_index(base_dir, work_dir);
    set_next_docid(work_dir, UINT32_MAX - 3);
    long before = doc_count(work_dir);
    CHECK_EQ_U64(before, base_dg.docs);
    int rc = ingest(work_dir, batch_file, 0, F_NONE, 0, err, sizeof err, NULL);
    if (rc != SOUK_ENOIDS || !strstr(err, "document ids")) {
        fprintf(stderr, "docids: code %d (%s), not SOUK_ENOIDS\n", rc, err);
        check_failures++;
    }
    CHECK_EQ_U64(doc_count(work_dir), before);
    /* (No souk_index_check here: it visits every docid below next_docid.) Three ids are left: three
     * new records land, the fourth is refused. */
    REQUIRE(nnew > 3);
    snprintf(file, sizeof file, "%s/three.ndjson", tmp);
    write_lines(file, news, 3);
    CHECK(ingest(work_dir, file, 0, F_NONE, 0, err, sizeof err, NULL) == 0);
    CHECK_EQ_U64(doc_count(work_dir), before + 3);
    write_lines(file, news + 3, 1);
    CHECK(ingest(work_dir, file, 0, F_NONE, 0, err, sizeof err, NULL) == SOUK_ENOIDS);
    CHECK_EQ_U64(doc_count(work_dir), before + 3);
    CHECK(strcmp(souk_strerror(SOUK_ENOIDS), "document ids exhausted") == 0);
}

/* A map that stays full is reported as SOUK_EFULL after the map was grown and the batch retried,
 * and loses nothing. */
static void test_map_full(void)
{
    char err[512];
    digest d;
    copy_index(base_dir, work_dir);
    atomic_store(&f_soft, 1);
    atomic_store(&f_sticky, 1);
    souk_index *ix;
    REQUIRE(souk_index_open(work_dir, schema, 0, &ix, err, sizeof err) == 0);
    souk_index_close(ix);
    int rc = ingest(work_dir, batch_file, 0, F_PUT, 1, err, sizeof err, NULL);
    atomic_store(&f_sticky, 0);
    atomic_store(&f_soft, 0);
    CHECK(rc == SOUK_EFULL);
    CHECK(strstr(err, "map full") != NULL);
    REQUIRE(index_digest(work_dir, &d) == 0);
    CHECK(same_digest(&d, &base_dg));
    CHECK(index_check_dir(work_dir) == 0);
}

int main(void)
{
    souk_alloc_init();
    setvbuf(stdout, NULL, _IOLBF, 0);
    char path[600], err[512];
    snprintf(path, sizeof path, "%s/indexer/schemas/debian-packages.json", SOUK_SOURCE_DIR);
    REQUIRE(souk_schema_load(path, &schema, err, sizeof err) == 0);
    enum { NBASE = 60, NNEW = 40 };
    char *lines[NBASE + NNEW];
    if (kit_debian_lines(lines, 0, NBASE + NNEW) != NBASE + NNEW)
        return TEST_SKIP;
    snprintf(tmp, sizeof tmp, "/tmp/souk-test-fault-XXXXXX");
    REQUIRE(mkdtemp(tmp));
    snprintf(base_dir, sizeof base_dir, "%s/base", tmp);
    snprintf(work_dir, sizeof work_dir, "%s/work", tmp);
    snprintf(fresh_dir, sizeof fresh_dir, "%s/fresh", tmp);
    snprintf(batch_file, sizeof batch_file, "%s/batch.ndjson", tmp);
    snprintf(path, sizeof path, "%s/base.ndjson", tmp);
    /* The base: NBASE records. The batch: every third retitled, every fifth deleted, a delete
     * of an id never indexed, NNEW new records (one of them twice). */
    write_lines(path, lines, NBASE);
    REQUIRE(ingest(base_dir, path, 0, F_NONE, 0, err, sizeof err, NULL) == 0);
    char *batch[NBASE + NNEW + 8], *final[NBASE + NNEW], *made[NBASE + 8];
    size_t nb = 0, nf = 0, nm = 0;
    for (size_t i = 0; i < NBASE; i++) {
        if (i % 5 == 0)
            batch[nb++] = made[nm++] = delete_of(lines[i]);
        else if (i % 3 == 0)
            batch[nb++] = final[nf++] = made[nm++] = retitled(lines[i], (int)i);
        else
            final[nf++] = lines[i];
    }
    batch[nb++] = made[nm++] = strdup("{\"op\":\"delete\",\"id\":\"no-such-package\"}");
    for (size_t i = NBASE; i < NBASE + NNEW; i++)
        batch[nb++] = final[nf++] = lines[i];
    batch[nb++] = made[nm++] = retitled(lines[NBASE + 1], 7);
    final[NBASE + 1 - NBASE + (nf - NNEW)] = batch[nb - 1];
    write_lines(batch_file, batch, nb);
    /* What the batch must give: the surviving records indexed fresh. */
    snprintf(path, sizeof path, "%s/final.ndjson", tmp);
    write_lines(path, final, nf);
    REQUIRE(ingest(fresh_dir, path, 0, F_NONE, 0, err, sizeof err, NULL) == 0);
    REQUIRE(index_digest(base_dir, &base_dg) == 0);
    REQUIRE(index_digest(fresh_dir, &final_dg) == 0);
    copy_index(base_dir, work_dir);
    REQUIRE(ingest(work_dir, batch_file, 0, F_NONE, 0, err, sizeof err, NULL) == 0);
    digest d;
    REQUIRE(index_digest(work_dir, &d) == 0);
    REQUIRE(same_digest(&d, &final_dg));

    /* SOUK_FAULT_READS=1: only the reads (to look into one). */
    if (getenv("SOUK_FAULT_READS"))
        goto reads;
    sweep_open(F_ALLOC, 0);
    sweep_open(F_MDB, 0);
    sweep_open(F_MDB, 1);
    sweep_ingest(F_ALLOC, 0, 0, SPREAD(400));
    sweep_ingest(F_ALLOC, 0, 2, SPREAD(60));
    sweep_ingest(F_MDB, 0, 0, SPREAD(200));
    sweep_ingest(F_MDB, 1, 0, SPREAD(100));
reads:
    /* The reads, on the index after the batch. */
    copy_index(fresh_dir, work_dir);
    for (int kind = F_ALLOC; kind <= F_MDB; kind++) {
        sweep_read("search", run_searches, 0, kind, 0, SPREAD(200));
        sweep_read("find", run_find, 1, kind, 0, SPREAD(200));
        sweep_read("check", run_check, 2, kind, 0, SPREAD(100));
    }
    sweep_read("search", run_searches, 0, F_MDB, 1, SPREAD(100));
    sweep_read("search", run_searches, 0, F_NEW, 0, SPREAD(100));
    sweep_ingest(F_NEW, 0, 0, SPREAD(100));
    test_docids(lines + NBASE, NNEW);
    test_map_full();

    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    CHECK(system(cmd) == 0);
    for (size_t i = 0; i < NBASE + NNEW; i++)
        free(lines[i]);
    for (size_t i = 0; i < nm; i++)
        free(made[i]);
    souk_schema_free(schema);
    return check_done("test_fault");
}
