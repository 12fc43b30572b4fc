/* test_cursor.c: cursor paging through the real souk-server, property-based, on the first 2,500
 * records of the Debian catalog (docs/api.md "cursor").
 *
 * Two servers serve one index: a reference server whose limits let one page hold every match,
 * and a paging server whose max_depth is 60 and max_per_page 50, so cursor paging runs far past
 * max_depth. For many random searches (empty q and words of the catalog's titles; no filter or a
 * random filter; 0 to 3 sort keys over numbers, a keyword (maintainer), a text field (title) and
 * _score, in random directions; random page sizes) the concatenation of every cursor page must
 * equal the reference's one big page: no duplicate, no gap, same order.
 *
 * Then the same while souk-index commits between pages (new records, deletes): no duplicate,
 * every document present before and after is seen, in the order of the index after.
 *
 * Also: the title order agrees with an independent collation of the raw records (ASCII titles:
 * case-insensitive, digit runs as numbers), and souk_collation_key on hand-picked names. */
#include "check.h"
#include "kit/fixture.h"
#include "kit/http.h"
#include "souk/browse.h"
#include "souk/souk.h"

#include <cjson/cJSON.h>
#include <ctype.h>

#define NDOCS 2500
#define MAXIDS 4096

static char dir[] = "/tmp/souk-test-cursor-XXXXXX";
static char data_dir[512];
static const char *SKEY = "test-cursor-search-key-0123";
static const char *catalog;

/* ------------------------------------------------------------------ HTTP */

/* GET target (with the search key, Connection: close, 30 s timeout); the body (malloc'd) or
 * NULL; *status set (-1 without a complete answer). */
static char *http_get(int port, const char *target, int *status)
{
    kit_resp r;
    *status = kit_get_close(port, target, SKEY, 30000, &r);
    return r.body;
}

/* ------------------------------------------------------------------ servers */

static void start_server(kit_server *s, const char *cfg)
{
    kit_start(s, (const char *[]){"--data", data_dir, "--config", cfg, "--threads", "2", NULL});
}

static kit_server ref, pg;

static void write_config(const char *path, unsigned max_per_page, unsigned max_depth)
{
    const char *h = kit_hash_key(SKEY);
    FILE *f = fopen(path, "w");
    REQUIRE(f);
    fprintf(f,
            "{\"search_keys\":[\"%s\"],\"limits\":{\"max_per_page\":%u,\"max_depth\":%u,"
            "\"max_url_bytes\":8192,\"max_search_ms\":60000}}\n",
            h, max_per_page, max_depth);
    fclose(f);
}

/* ------------------------------------------------------------------ results */

typedef struct idlist {
    char *id[MAXIDS];
    size_t n;
} idlist;

static void idlist_free(idlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->id[i]);
    l->n = 0;
}

/* Appends the hits' ids of a response body; returns the hit count, the next_cursor in cur
 * (empty: none) and total in *total. */
static size_t add_hits(const char *body, idlist *l, char *cur, size_t ccap, double *total)
{
    cJSON *j = cJSON_Parse(body ? body : "");
    REQUIRE(j);
    const cJSON *h, *hits = cJSON_GetObjectItem(j, "hits");
    size_t n = 0;
    cJSON_ArrayForEach(h, hits)
    {
        const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(h, "id"));
        REQUIRE(id && l->n < MAXIDS);
        l->id[l->n++] = strdup(id);
        n++;
    }
    const char *nc = cJSON_GetStringValue(cJSON_GetObjectItem(j, "next_cursor"));
    snprintf(cur, ccap, "%s", nc ? nc : "");
    if (total)
        *total = cJSON_GetNumberValue(cJSON_GetObjectItem(j, "total"));
    cJSON_Delete(j);
    return n;
}

/* Every hit of the search (params, URL-encoded) in one page of the reference server. */
static void reference(int port, const char *params, idlist *out)
{
    char t[8192], cur[4096];
    snprintf(t, sizeof t, "/v1/search?%s&per_page=%d", params, MAXIDS);
    int st;
    char *b = http_get(port, t, &st);
    if (st != 200)
        fprintf(stderr, "reference %s: %d %s\n", t, st, b ? b : "");
    REQUIRE(st == 200);
    add_hits(b, out, cur, sizeof cur, NULL);
    free(b);
}

/* Follows the cursor from the first page; between pages calls between(k) if given. */
static void paged(int port, const char *params, unsigned per_page, idlist *out,
                  void (*between)(int, const char *))
{
    char t[8192], cur[4096] = "";
    for (int page = 0;; page++) {
        int n = snprintf(t, sizeof t, "/v1/search?%s&per_page=%u", params, per_page);
        if (page)
            snprintf(t + n, sizeof t - (size_t)n, "&cursor=%s", cur);
        int st;
        char *b = http_get(port, t, &st);
        if (st != 200)
            fprintf(stderr, "page %d of %s: %d %s\n", page, t, st, b ? b : "");
        REQUIRE(st == 200);
        size_t got = add_hits(b, out, cur, sizeof cur, NULL);
        free(b);
        REQUIRE(got <= per_page);
        if (!cur[0] || out->n >= MAXIDS - per_page)
            break;
        CHECK(got == per_page);
        if (between)
            between(page, out->id[out->n - 1]);
    }
}

static int same_list(const idlist *a, const idlist *b, const char *what)
{
    size_t i = 0;
    while (i < a->n && i < b->n && strcmp(a->id[i], b->id[i]) == 0)
        i++;
    if (i == a->n && i == b->n)
        return 1;
    fprintf(stderr, "%s: differ at %zu (paged %zu hits, reference %zu): paged %s, reference %s\n",
            what, i, a->n, b->n, i < a->n ? a->id[i] : "(end)", i < b->n ? b->id[i] : "(end)");
    return 0;
}

/* ------------------------------------------------------------------ random searches */

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

typedef struct rec {
    char *id, *title, *section;
} rec;
static rec recs[NDOCS];

static void load_records(void)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "xz -dc '%s' | head -n %d", catalog, NDOCS);
    FILE *p = popen(cmd, "r");
    REQUIRE(p);
    size_t cap = 1 << 20;
    char *line = malloc(cap);
    for (int i = 0; i < NDOCS && fgets(line, (int)cap, p); i++) {
        cJSON *j = cJSON_Parse(line);
        REQUIRE(j);
        const char *t = cJSON_GetStringValue(cJSON_GetObjectItem(j, "title"));
        const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(j, "section"));
        recs[i].id = strdup(cJSON_GetStringValue(cJSON_GetObjectItem(j, "id")));
        recs[i].title = strdup(t ? t : "");
        recs[i].section = strdup(s ? s : "");
        cJSON_Delete(j);
    }
    free(line);
    pclose(p);
}

/* A random search's parameters (URL-encoded), "q=...&filter=...&sort=...". */
static void random_search(char *out, size_t cap, int empty_q)
{
    char q[256] = "", f[256] = "", s[256] = "", e[1024];
    if (!empty_q && rnd(3)) {
        const char *t = recs[rnd(NDOCS)].title;
        /* a word of a title (letters only, 3 or more) */
        const char *w = t;
        for (int tries = rnd(4); tries > 0 && strchr(w, ' '); tries--)
            w = strchr(w, ' ') + 1;
        size_t n = 0;
        while (isalpha((unsigned char)w[n]) && n < 40)
            n++;
        if (n >= 3)
            snprintf(q, sizeof q, "%.*s", (int)n, w);
        if (q[0] && rnd(3) == 0)
            strcat(q, " data");
    }
    switch (rnd(5)) {
    case 0:
        snprintf(f, sizeof f, "section = \"%s\"", recs[rnd(NDOCS)].section);
        break;
    case 1:
        snprintf(f, sizeof f, "installed_size_kb < %u", 100 + rnd(5000));
        break;
    case 2:
        snprintf(f, sizeof f, "NOT section = \"%s\"", recs[rnd(NDOCS)].section);
        break;
    default:
        break;
    }
    static const char *keys[] = {"installed_size_kb", "download_size_b", "maintainer", "title",
                                 "_score"};
    int nk = (int)rnd(4);
    for (int k = 0; k < nk; k++) {
        size_t l = strlen(s);
        int dir = (int)rnd(3);
        snprintf(s + l, sizeof s - l, "%s%s%s", k ? "," : "", keys[rnd(5)],
                 dir == 0   ? ""
                 : dir == 1 ? ":asc"
                            : ":desc");
    }
    size_t o = 0;
    kit_url_escape(q, e, sizeof e);
    o += (size_t)snprintf(out + o, cap - o, "q=%s", e);
    if (f[0]) {
        kit_url_escape(f, e, sizeof e);
        o += (size_t)snprintf(out + o, cap - o, "&filter=%s", e);
    }
    if (s[0]) {
        kit_url_escape(s, e, sizeof e);
        snprintf(out + o, cap - o, "&sort=%s", e);
    }
}

/* ------------------------------------------------------------------ a writer between pages */

static int next_new; /* line of the extra records' file to add next */

/* At pages 1, 4, 8 and 12: commits 10 new records (of the catalog lines after the first NDOCS)
 * and deletes the page's last hit (the cursor's position then names a document, and often a
 * sort value, that no longer exists) and 2 random ones of the first NDOCS, with souk-index. */
static void commit_between(int page, const char *last)
{
    if (page != 1 && page != 4 && page != 8 && page != 12)
        return;
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "sed -n '%d,%dp' '%s/extra' > '%s/batch%d'", next_new + 1,
             next_new + 10, dir, dir, next_new);
    REQUIRE(system(cmd) == 0);
    char path[600];
    snprintf(path, sizeof path, "%s/batch%d", dir, next_new);
    FILE *f = fopen(path, "a");
    REQUIRE(f);
    for (int k = 0; k < 3; k++) {
        cJSON *id = cJSON_CreateString(k ? recs[rnd(NDOCS)].id : last);
        char *js = cJSON_PrintUnformatted(id);
        fprintf(f, "{\"op\":\"delete\",\"id\":%s}\n", js);
        free(js);
        cJSON_Delete(id);
    }
    fclose(f);
    snprintf(cmd, sizeof cmd,
             "'%s/souk-index' --data '%s' catalog - --no-spelling < '%s' >/dev/null 2>&1",
             SOUK_BIN_DIR, data_dir, path);
    next_new += 10;
    REQUIRE(system(cmd) == 0);
}

/* ------------------------------------------------------------------ collation */

/* An independent natural compare of ASCII strings: case-insensitive, digit runs as numbers. */
static int natcmp(const char *a, const char *b)
{
    while (*a && *b) {
        if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
            while (*a == '0')
                a++;
            while (*b == '0')
                b++;
            size_t la = strspn(a, "0123456789"), lb = strspn(b, "0123456789");
            if (la != lb)
                return la < lb ? -1 : 1;
            int r = strncmp(a, b, la);
            if (r)
                return r;
            a += la;
            b += lb;
            continue;
        }
        int x = tolower((unsigned char)*a), y = tolower((unsigned char)*b);
        if (isdigit(x))
            x = '0';
        if (isdigit(y))
            y = '0';
        if (x != y)
            return x < y ? -1 : 1;
        a++;
        b++;
    }
    return *a ? 1 : *b ? -1 : 0;
}

static int keycmp(const char *a, const char *b)
{
    uint8_t ka[SOUK_SORT_KEY_MAX], kb[SOUK_SORT_KEY_MAX];
    size_t la = souk_collation_key(a, strlen(a), ka), lb = souk_collation_key(b, strlen(b), kb);
    int r = memcmp(ka, kb, la < lb ? la : lb);
    return r ? r : (la > lb) - (la < lb);
}

static void test_collation_examples(void)
{
    CHECK(keycmp("file2", "File10") < 0);
    CHECK(keycmp("file10", "file9") > 0);
    CHECK(keycmp("file007", "file7") == 0);
    CHECK(keycmp("Élan", "elan") == 0);
    CHECK(keycmp("Straße", "STRASSE") == 0);
    CHECK(keycmp("Zürich", "zurich") == 0);
    CHECK(keycmp("e\xcc\x81te", "été") == 0); /* decomposed e + U+0301 */
    CHECK(keycmp("Ærø", "aero") == 0);
    CHECK(keycmp("Łódź", "lodz") == 0);
    CHECK(keycmp("apple", "Banana") < 0);
    CHECK(keycmp("Ωmega", "ωMEGA") == 0); /* Xapian's Unicode lower-casing */
    CHECK(keycmp("x 9", "x a") < 0);      /* digits before letters, as in ASCII */
    CHECK(keycmp("", "a") < 0);
}

/* The titles in sort=title order agree with the independent compare (ASCII titles). */
static void test_title_order(int port)
{
    idlist l = {0};
    reference(port, "q=&sort=title", &l);
    CHECK_EQ_U64(l.n, NDOCS);
    const char *prev = NULL;
    int bad = 0, compared = 0;
    for (size_t i = 0; i < l.n; i++) {
        const char *t = NULL;
        for (int k = 0; k < NDOCS && !t; k++)
            if (strcmp(recs[k].id, l.id[i]) == 0)
                t = recs[k].title;
        REQUIRE(t);
        int ascii = 1;
        for (const char *c = t; *c; c++)
            ascii &= (unsigned char)*c < 0x80;
        if (!ascii)
            continue;
        if (prev) {
            compared++;
            if (natcmp(prev, t) > 0 && bad++ < 5)
                fprintf(stderr, "title order: \"%s\" before \"%s\"\n", prev, t);
        }
        prev = t;
    }
    CHECK(bad == 0);
    CHECK(compared > NDOCS / 2);
    idlist_free(&l);
}

int main(void)
{
    souk_alloc_init();
    test_collation_examples();
    catalog = debian_catalog();
    if (!catalog)
        return TEST_SKIP;
    REQUIRE(mkdtemp(dir));
    snprintf(data_dir, sizeof data_dir, "%s/index", dir);
    char cmd[4096];
    REQUIRE(kit_debian_index(data_dir, NDOCS, "--no-spelling") == 0);
    snprintf(cmd, sizeof cmd, "xz -dc '%s' | sed -n '%d,%dp' > '%s/extra'", catalog, NDOCS + 1,
             NDOCS + 400, dir);
    REQUIRE(system(cmd) == 0);
    load_records();
    char ref_cfg[600], page_cfg[600];
    snprintf(ref_cfg, sizeof ref_cfg, "%s/ref.json", dir);
    snprintf(page_cfg, sizeof page_cfg, "%s/page.json", dir);
    write_config(ref_cfg, MAXIDS, MAXIDS);
    write_config(page_cfg, 50, 60);
    start_server(&ref, ref_cfg);
    start_server(&pg, page_cfg);

    /* 1. The browse case of issue 16: empty q, no filter, no sort, by cursor. */
    {
        idlist a = {0}, b = {0};
        reference(ref.port, "q=", &a);
        paged(pg.port, "q=", 7, &b, NULL);
        CHECK_EQ_U64(a.n, NDOCS);
        CHECK(same_list(&b, &a, "browse q= per_page=7"));
        idlist_free(&a);
        idlist_free(&b);
    }
    test_title_order(ref.port);

    /* 2. Random searches. */
    int cases = 0, deep = 0;
    size_t hits = 0;
    for (int i = 0; i < 36; i++) {
        char params[4096];
        random_search(params, sizeof params, i % 4 == 0);
        idlist a = {0}, b = {0};
        reference(ref.port, params, &a);
        unsigned per = 1 + rnd(50);
        if (a.n / per > 150) /* at most ~150 pages a case */
            per = (unsigned)(a.n / 150 + 1) < 50 ? (unsigned)(a.n / 150 + 1) : 50;
        paged(pg.port, params, per, &b, NULL);
        if (!same_list(&b, &a, params))
            CHECK(!"paged == reference");
        cases++;
        deep += a.n > 60;
        hits += a.n;
        idlist_free(&a);
        idlist_free(&b);
    }
    fprintf(stderr, "%d random searches (%d past max_depth), %zu hits compared\n", cases, deep,
            hits);
    CHECK(deep >= 6);

    /* 3. A writer commits between pages: empty q (scores do not move with the statistics). */
    static const char *writer_sorts[] = {"title", "maintainer%3Adesc%2Ctitle", "title%3Adesc",
                                         "installed_size_kb%2Ctitle", ""};
    for (int i = 0; i < 7; i++) {
        char params[4096];
        if (i < 5)
            snprintf(params, sizeof params, "q=%s%s", writer_sorts[i][0] ? "&sort=" : "",
                     writer_sorts[i]);
        else
            random_search(params, sizeof params, 1);
        idlist before = {0}, b = {0}, after = {0};
        reference(ref.port, params, &before);
        paged(pg.port, params, 20 + rnd(30), &b, commit_between);
        reference(ref.port, params, &after);
        /* no duplicate */
        int dups = 0;
        for (size_t x = 0; x < b.n; x++)
            for (size_t y = x + 1; y < b.n; y++)
                dups += strcmp(b.id[x], b.id[y]) == 0;
        CHECK(dups == 0);
        /* every document of both snapshots is seen, in the order of the later */
        size_t pos = 0, common = 0;
        int missing = 0, misordered = 0;
        for (size_t x = 0; x < after.n; x++) {
            int in_before = 0;
            for (size_t y = 0; y < before.n && !in_before; y++)
                in_before = strcmp(before.id[y], after.id[x]) == 0;
            if (!in_before)
                continue;
            common++;
            size_t y = 0;
            while (y < b.n && strcmp(b.id[y], after.id[x]) != 0)
                y++;
            if (y == b.n)
                missing++;
            else if (y < pos)
                misordered++;
            else
                pos = y;
        }
        if (dups || missing || misordered)
            fprintf(stderr, "with commits, %s: %d duplicates, %d missing, %d out of order\n",
                    params, dups, missing, misordered);
        CHECK(missing == 0 && misordered == 0);
        CHECK(common > 0);
        idlist_free(&before);
        idlist_free(&b);
        idlist_free(&after);
    }

    kit_stop(&ref);
    kit_stop(&pg);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    for (int i = 0; i < NDOCS; i++) {
        free(recs[i].id);
        free(recs[i].title);
        free(recs[i].section);
    }
    return check_done("test_cursor");
}
