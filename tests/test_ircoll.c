/* test_ircoll.c: the Cranfield and CACM loaders (tests/kit/ircoll.h). Small synthetic collections
 * check the SMART parsing rules and the error messages; then the shipped collections of the
 * shared data folder are loaded (skipped with 77 when absent) and checked: exact counts,
 * grades, spot-checked documents and queries, Cranfield's query-position mapping, the NDJSON
 * stream against the ircoll schema, and the qrels writer through souk/eval.h. */
#include "check.h"
#include "kit/ircoll.h"
#include "souk/document.h"
#include "souk/eval.h"
#include "souk/schema.h"
#include "souk/souk.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <sys/stat.h>

static char tmpdir[256];

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "w");
    REQUIRE(fp);
    fputs(text, fp);
    REQUIRE(fclose(fp) == 0);
}

static void remove_file(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    unlink(path);
}

static const ircoll_doc *find_doc(const ircoll *c, const char *id)
{
    for (size_t i = 0; i < c->ndocs; i++) {
        if (strcmp(c->docs[i].id, id) == 0)
            return &c->docs[i];
    }
    return NULL;
}

static const ircoll_query *find_query(const ircoll *c, const char *id)
{
    for (size_t i = 0; i < c->nqueries; i++) {
        if (strcmp(c->queries[i].id, id) == 0)
            return &c->queries[i];
    }
    return NULL;
}

static const ircoll_judgement *find_judgement(const ircoll *c, const char *qid, const char *docid)
{
    for (size_t i = 0; i < c->njudgements; i++) {
        const ircoll_judgement *j = &c->judgements[i];
        if (strcmp(j->qid, qid) == 0 && strcmp(j->docid, docid) == 0)
            return j;
    }
    return NULL;
}

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (!a_ || strcmp(a_, b_) != 0) {                                                          \
            fprintf(stderr, "%s:%d: CHECK failed: %s == \"%s\" (got \"%s\")\n", __FILE__,          \
                    __LINE__, #a, b_, a_ ? a_ : "(null)");                                         \
            check_failures++;                                                                      \
        }                                                                                          \
    } while (0)

/* ------------------------------------------------------------------ synthetic collections */

static void expect_load_error(ircoll_kind kind, const char *dir, int want_rc, const char *needle)
{
    ircoll *c = NULL;
    char err[512] = "";
    int rc = ircoll_load(kind, dir, &c, err, sizeof err);
    CHECK(rc == want_rc);
    CHECK(c == NULL);
    if (!strstr(err, needle)) {
        fprintf(stderr, "load error '%s' does not mention '%s'\n", err, needle);
        check_failures++;
    }
    ircoll_free(c);
}

static void test_synthetic(void)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/cran", tmpdir);
    REQUIRE(mkdir(dir, 0700) == 0);
    /* Two documents, CRLF and trailing blanks, a repeated marker (".A" inside the abstract
     * continues it), a control byte, a "." line that is not a marker, text on a marker line. */
    write_file(dir, "cran.all.1400",
               ".I 1\r\n.T\r\nfirst  title .  \r\n.A\r\nsmith,j.\r\njones,k. \r\n.B\r\nj. 1958\r\n"
               ".W\r\nbody one\x19line .\r\n.A\r\ncontinued here .\r\n.I 002\n.T\n\n.A\n.B\n.W\n"
               ".Z not a marker\n.W  on the marker line\n");
    /* Query numbers with gaps: ids are positions. */
    write_file(dir, "cran.qry", ".I 003\n.W\nfirst query\n.I 007\n.W\n  second\n  query .\n");
    write_file(dir, "cranqrel", "1 2 1 \r\n2 1 -1\n\n2 2 4");
    ircoll *c = NULL;
    char err[512] = "";
    int rc = ircoll_load(IRCOLL_CRANFIELD, dir, &c, err, sizeof err);
    if (rc)
        fprintf(stderr, "synthetic cranfield: %s\n", err);
    REQUIRE(rc == 0 && c);
    CHECK_EQ_U64(c->ndocs, 2);
    CHECK_STR(c->docs[0].id, "1");
    CHECK_STR(c->docs[0].title, "first title .");
    CHECK_STR(c->docs[0].authors, "smith,j.; jones,k.");
    CHECK_STR(c->docs[0].text, "body one line . continued here .");
    CHECK_STR(c->docs[1].id, "2");
    CHECK_STR(c->docs[1].title, "");
    CHECK_STR(c->docs[1].authors, "");
    CHECK_STR(c->docs[1].text, ".Z not a marker on the marker line");
    CHECK_EQ_U64(c->nrepeated_markers, 2);
    CHECK_EQ_U64(c->nqueries, 2);
    CHECK_STR(c->queries[0].id, "1");
    CHECK_STR(c->queries[0].source_id, "003");
    CHECK_STR(c->queries[1].id, "2");
    CHECK_STR(c->queries[1].source_id, "007");
    CHECK_STR(c->queries[1].text, "second query .");
    CHECK_EQ_U64(c->njudgements, 3);
    const ircoll_judgement *j = find_judgement(c, "1", "2");
    CHECK(j && j->grade == 1 && j->gain == 4);
    j = find_judgement(c, "2", "1");
    CHECK(j && j->grade == -1 && j->gain == 0);
    j = find_judgement(c, "2", "2");
    CHECK(j && j->grade == 4 && j->gain == 1);
    /* The writers. */
    FILE *fp = tmpfile();
    REQUIRE(fp);
    CHECK(ircoll_write_ndjson(c, fp) == 0);
    CHECK(ircoll_write_qrels(c, fp) == 0);
    rewind(fp);
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    buf[n] = '\0';
    CHECK_STR(buf, "{\"id\":\"1\",\"title\":\"first title .\",\"body\":\"body one line . continued "
                   "here .\",\"authors\":\"smith,j.; jones,k.\"}\n"
                   "{\"id\":\"2\",\"title\":\"\",\"body\":\".Z not a marker on the marker line\","
                   "\"authors\":\"\"}\n"
                   "1 0 2 4\n2 0 1 0\n2 0 2 1\n");
    fclose(fp);
    ircoll_free(c);

    /* Errors, each naming the file and line. */
    write_file(dir, "cranqrel", "1 2 1\n3 1 1\n");
    expect_load_error(IRCOLL_CRANFIELD, dir, SOUK_EINVAL,
                      "cranqrel:2: query '3' is not in the query file (2 queries)");
    write_file(dir, "cranqrel", "1 9 1\n");
    expect_load_error(IRCOLL_CRANFIELD, dir, SOUK_EINVAL,
                      "cranqrel:1: document '9' is not in the collection");
    write_file(dir, "cranqrel", "1 1 7\n");
    expect_load_error(IRCOLL_CRANFIELD, dir, SOUK_EINVAL,
                      "cranqrel:1: grade '7' is not -1 or 1..5");
    write_file(dir, "cranqrel", "1 1\n");
    expect_load_error(IRCOLL_CRANFIELD, dir, SOUK_EINVAL,
                      "cranqrel:1: expected 3 fields (qid docid grade), found 2");
    write_file(dir, "cranqrel", "1 x1 2\n");
    expect_load_error(IRCOLL_CRANFIELD, dir, SOUK_EINVAL, "cranqrel:1: 'x1' is not a number");
    write_file(dir, "cran.qry", "what\n.I 1\n.W\nq\n");
    expect_load_error(IRCOLL_CRANFIELD, dir, SOUK_EINVAL, "cran.qry:1: text outside of a field");
    write_file(dir, "cran.all.1400", ".I 1\n.T\nt\n.I 1\n.T\nu\n");
    expect_load_error(IRCOLL_CRANFIELD, dir, SOUK_EINVAL, "document id '1' appears twice");
    write_file(dir, "cran.all.1400", ".T\nt\n");
    expect_load_error(IRCOLL_CRANFIELD, dir, SOUK_EINVAL,
                      "cran.all.1400:1: field '.T' before the first '.I'");
    write_file(dir, "cran.all.1400", ".I\n.T\nt\n");
    expect_load_error(IRCOLL_CRANFIELD, dir, SOUK_EINVAL, "cran.all.1400:1: '.I' without a number");
    remove_file(dir, "cran.all.1400");
    expect_load_error(IRCOLL_CRANFIELD, dir, SOUK_EIO, "cran.all.1400");
    remove_file(dir, "cran.qry");
    remove_file(dir, "cranqrel");
    rmdir(dir);

    /* CACM: fields to skip (.A of a query, .N, .X), a bare ".I 0" at the end, 4-field qrels
     * with leading zeros and no final newline. */
    snprintf(dir, sizeof dir, "%s/cacm", tmpdir);
    REQUIRE(mkdir(dir, 0700) == 0);
    write_file(dir, "cacm.all",
               ".I 1\n.T\nA Title\n.B\nCACM 1958\n.A\nPerlis, A. J.\nSamelson,K.\n.N\nCA5812\n"
               ".X\n100\t5\t1\n.I 2\n.T\nSecond\n.W\n  An abstract.\n.K\nkw\n.C\n1.2\n");
    write_file(dir, "query.text",
               ".I 1\n.W\n articles by Pooch\n.A\nPooch, U.\n.N\n 1. Someone\n\n.I 2\n.W\nq two\n"
               "\n.I 0\n");
    write_file(dir, "qrels.text", "01 2  0 0\n02 1  0 0\n02 2  0 0");
    c = NULL;
    rc = ircoll_load(IRCOLL_CACM, dir, &c, err, sizeof err);
    if (rc)
        fprintf(stderr, "synthetic cacm: %s\n", err);
    REQUIRE(rc == 0 && c);
    CHECK_EQ_U64(c->ndocs, 2);
    CHECK_STR(c->docs[0].title, "A Title");
    CHECK_STR(c->docs[0].text, "");
    CHECK_STR(c->docs[0].authors, "Perlis, A. J.; Samelson,K.");
    CHECK_STR(c->docs[1].text, "An abstract.");
    CHECK_EQ_U64(c->nqueries, 2);
    CHECK_EQ_U64(c->ndropped_records, 1);
    CHECK_STR(c->queries[0].text, "articles by Pooch");
    CHECK_STR(c->queries[1].id, "2");
    CHECK_EQ_U64(c->njudgements, 3);
    j = find_judgement(c, "1", "2");
    CHECK(j && j->grade == 1 && j->gain == 1);
    ircoll_free(c);
    write_file(dir, "qrels.text", "01 2 0\n");
    expect_load_error(IRCOLL_CACM, dir, SOUK_EINVAL,
                      "qrels.text:1: expected 4 fields (qid docid 0 0), found 3");
    remove_file(dir, "cacm.all");
    remove_file(dir, "query.text");
    remove_file(dir, "qrels.text");
    rmdir(dir);

    ircoll_kind k;
    CHECK(ircoll_kind_parse("cacm", &k) == 0 && k == IRCOLL_CACM);
    CHECK(ircoll_kind_parse("cranfield", &k) == 0 && k == IRCOLL_CRANFIELD);
    CHECK(ircoll_kind_parse("trec", &k) == SOUK_EINVAL);
    CHECK_STR(ircoll_name(IRCOLL_CACM), "cacm");
}

/* ------------------------------------------------------------------ shared collections */

static int has_control(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 1;
    }
    return 0;
}

/* Checks the generic invariants of a loaded collection. */
static void check_common(const ircoll *c)
{
    size_t bad = 0;
    for (size_t i = 0; i < c->ndocs; i++) {
        const ircoll_doc *d = &c->docs[i];
        bad += has_control(d->title) || has_control(d->text) || has_control(d->authors);
        bad += d->title[0] == ' ' || d->text[0] == ' ';
    }
    for (size_t i = 0; i < c->nqueries; i++)
        bad += has_control(c->queries[i].text) || c->queries[i].text[0] == '\0';
    CHECK_EQ_U64(bad, 0);
}

/* Streams the documents as NDJSON and checks every line: exactly the keys id, title, body,
 * authors in that order, the values of the document, and acceptance by the ircoll schema. */
static void check_ndjson(const ircoll *c, const souk_schema *schema)
{
    FILE *fp = tmpfile();
    REQUIRE(fp);
    REQUIRE(ircoll_write_ndjson(c, fp) == 0);
    rewind(fp);
    souk_docbuilder *b = NULL;
    if (schema)
        REQUIRE(souk_docbuilder_new(schema, &b) == 0);
    char *line = NULL;
    size_t cap = 0, n = 0, bad = 0, rejected = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, fp)) > 0) {
        REQUIRE(line[len - 1] == '\n');
        line[--len] = '\0';
        REQUIRE(n < c->ndocs);
        const ircoll_doc *d = &c->docs[n++];
        cJSON *o = cJSON_Parse(line);
        static const char *const keys[] = {"id", "title", "body", "authors"};
        const char *vals[] = {d->id, d->title, d->text, d->authors};
        const cJSON *it = o ? o->child : NULL;
        for (size_t k = 0; k < 4; k++, it = it ? it->next : NULL) {
            if (!it || strcmp(it->string, keys[k]) != 0 || !cJSON_IsString(it) ||
                strcmp(it->valuestring, vals[k]) != 0)
                bad++;
        }
        bad += it != NULL;
        cJSON_Delete(o);
        if (b) {
            int is_delete = 0;
            souk_doc doc;
            char err[512];
            int rc = souk_docbuilder_parse(b, line, (size_t)len, &is_delete, &doc, err, sizeof err);
            if (rc || is_delete || doc.id_len != strlen(d->id) ||
                memcmp(doc.id, d->id, doc.id_len) != 0) {
                if (rejected++ < 3)
                    fprintf(stderr, "doc %s rejected: %s\n", d->id, rc ? err : "wrong id");
            }
        }
    }
    CHECK_EQ_U64(n, c->ndocs);
    CHECK_EQ_U64(bad, 0);
    CHECK_EQ_U64(rejected, 0);
    free(line);
    souk_docbuilder_free(b);
    fclose(fp);
}

/* Evaluates the perfect run (every relevant document, by gain descending) two ways: judgements
 * added directly and judgements through a TREC qrels file. Both must give MAP = nDCG@10 = MRR =
 * 1 over every judged query with a relevant document. */
static void check_perfect_run(const ircoll *c, size_t want_queries)
{
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/%s.qrels", tmpdir, ircoll_name(c->kind));
    FILE *fp = fopen(path, "w");
    REQUIRE(fp);
    REQUIRE(ircoll_write_qrels(c, fp) == 0);
    REQUIRE(fclose(fp) == 0);
    souk_eval *direct = souk_eval_new(), *file = souk_eval_new();
    REQUIRE(direct && file);
    REQUIRE(ircoll_add_judgements(c, direct) == 0);
    int rc = souk_eval_load_qrels(file, path, err, sizeof err);
    if (rc)
        fprintf(stderr, "%s\n", err);
    REQUIRE(rc == 0);
    unlink(path);
    /* score = gain * 10000 - file position: gain descending, file order within a gain. */
    double p10 = 0;
    for (size_t qi = 0; qi < c->nqueries; qi++) {
        const char *qid = c->queries[qi].id;
        size_t nrel = 0;
        for (size_t i = 0; i < c->njudgements; i++) {
            const ircoll_judgement *j = &c->judgements[i];
            if (j->gain <= 0 || strcmp(j->qid, qid) != 0)
                continue;
            double score = j->gain * 10000.0 - (double)i;
            REQUIRE(souk_eval_result(direct, qid, j->docid, score) == 0);
            REQUIRE(souk_eval_result(file, qid, j->docid, score) == 0);
            nrel++;
        }
        p10 += nrel >= 10 ? 1.0 : (double)nrel / 10;
    }
    souk_eval_scores s1, s2;
    REQUIRE(souk_eval_compute(direct, &s1) == 0);
    REQUIRE(souk_eval_compute(file, &s2) == 0);
    CHECK_EQ_U64(s1.nqueries, want_queries);
    CHECK(s1.nqueries == s2.nqueries && s1.map == s2.map && s1.ndcg10 == s2.ndcg10 &&
          s1.p10 == s2.p10 && s1.mrr == s2.mrr);
    CHECK(fabs(s1.map - 1) < 1e-12 && fabs(s1.ndcg10 - 1) < 1e-12 && fabs(s1.mrr - 1) < 1e-12);
    CHECK(fabs(s1.p10 - p10 / (double)want_queries) < 1e-12);
    souk_eval_free(direct);
    souk_eval_free(file);
}

static size_t distinct_judged_queries(const ircoll *c)
{
    size_t n = 0;
    for (size_t qi = 0; qi < c->nqueries; qi++) {
        for (size_t i = 0; i < c->njudgements; i++) {
            if (strcmp(c->judgements[i].qid, c->queries[qi].id) == 0) {
                n++;
                break;
            }
        }
    }
    return n;
}

static void test_cranfield(const char *dir, const souk_schema *schema)
{
    ircoll *c = NULL;
    char err[512] = "";
    int rc = ircoll_load(IRCOLL_CRANFIELD, dir, &c, err, sizeof err);
    if (rc)
        fprintf(stderr, "cranfield: %s\n", err);
    REQUIRE(rc == 0);
    CHECK_EQ_U64(c->ndocs, 1400);
    CHECK_EQ_U64(c->nqueries, 225);
    /* 1837 lines of judgements: `wc -l cranqrel` says 1836 because the last line
     * ("225 1188 -1") has no newline. */
    CHECK_EQ_U64(c->njudgements, 1837);
    size_t by_grade[6] = {0}, negative = 0, rel = 0;
    for (size_t i = 0; i < c->njudgements; i++) {
        const ircoll_judgement *j = &c->judgements[i];
        if (j->grade == -1)
            negative++;
        else if (j->grade >= 1 && j->grade <= 5)
            by_grade[j->grade]++;
        CHECK(j->gain == (j->grade >= 1 && j->grade <= 4 ? 5 - j->grade : 0));
        rel += j->gain > 0;
    }
    CHECK_EQ_U64(negative, 225);
    CHECK_EQ_U64(by_grade[1], 128);
    CHECK_EQ_U64(by_grade[2], 387);
    CHECK_EQ_U64(by_grade[3], 734);
    CHECK_EQ_U64(by_grade[4], 363);
    CHECK_EQ_U64(by_grade[5], 0);
    CHECK_EQ_U64(rel, 1612);
    CHECK_EQ_U64(distinct_judged_queries(c), 225);
    /* Every query has exactly one -1 line. */
    size_t one_negative = 0;
    for (size_t qi = 0; qi < c->nqueries; qi++) {
        size_t k = 0;
        for (size_t i = 0; i < c->njudgements; i++)
            k += c->judgements[i].grade == -1 &&
                 strcmp(c->judgements[i].qid, c->queries[qi].id) == 0;
        one_negative += k == 1;
    }
    CHECK_EQ_U64(one_negative, 225);
    printf("cranfield: %zu docs, %zu queries, %zu judgements: %zu relevant (grade 1: %zu, 2: %zu, "
           "3: %zu, 4: %zu), %zu with grade -1 (one per query); %zu repeated field markers\n",
           c->ndocs, c->nqueries, c->njudgements, rel, by_grade[1], by_grade[2], by_grade[3],
           by_grade[4], negative, c->nrepeated_markers);

    /* Documents. */
    const ircoll_doc *d = &c->docs[0];
    CHECK_STR(d->id, "1");
    CHECK_STR(d->title,
              "experimental investigation of the aerodynamics of a wing in a slipstream .");
    CHECK_STR(d->authors, "brenckman,m.");
    CHECK(starts_with(d->text, "experimental investigation of the aerodynamics of a wing in a "
                               "slipstream . an experimental study of a wing in a propeller"));
    d = &c->docs[1399];
    CHECK_STR(d->id, "1400");
    CHECK_STR(d->title, "the buckling shear stress of simply-supported infinitely long plates "
                        "with transverse stiffeners .");
    CHECK_STR(d->authors, "kleeman,p.w.");
    d = find_doc(c, "471"); /* an empty record */
    CHECK(d && d->title[0] == '\0' && d->text[0] == '\0' && d->authors[0] == '\0');
    d = find_doc(c, "240"); /* ".A" and ".B" lines inside the abstract */
    CHECK(d != NULL);
    if (d) {
        CHECK_STR(d->authors, "dean r. chapman");
        CHECK(strstr(d->text, "into the separated region . application to turbulent separations "
                              "is made for a prandtl number of unity in low-speed flow without "
                              "injection .") != NULL);
    }
    CHECK_EQ_U64(c->nrepeated_markers, 4); /* 240: .A, .B; 576: .W; 578: .W */
    CHECK_EQ_U64(c->ndropped_records, 0);

    /* Queries: ids are positions; cran.qry's own numbers have gaps (001 002 004 008 ...). */
    CHECK_STR(c->queries[0].id, "1");
    CHECK_STR(c->queries[0].source_id, "001");
    CHECK_STR(c->queries[2].id, "3");
    CHECK_STR(c->queries[2].source_id, "004");
    CHECK_STR(c->queries[2].text,
              "what problems of heat conduction in composite slabs have been solved so far .");
    CHECK_STR(c->queries[224].id, "225");
    CHECK_STR(c->queries[224].source_id, "365");
    CHECK_STR(c->queries[224].text, "what design factors can be used to control lift-drag ratios "
                                    "at mach numbers above 5 .");
    /* The mapping is by position: cranqrel's query 3 is cran.qry's 004 (heat conduction in
     * composite slabs), whose judged documents 5, 6, 90, 91 are about layered-slab heat flow;
     * cran.qry has no query 003. */
    const ircoll_judgement *j = find_judgement(c, "3", "91");
    CHECK(j && j->grade == 3 && j->gain == 2);
    d = find_doc(c, "91");
    CHECK(d && strcmp(d->title, "periodic temperature distribution in a two-layer composite "
                                "slab .") == 0);
    j = find_judgement(c, "3", "485");
    CHECK(j && j->grade == -1 && j->gain == 0);
    j = &c->judgements[0];
    CHECK(strcmp(j->qid, "1") == 0 && strcmp(j->docid, "184") == 0 && j->grade == 2 &&
          j->gain == 3);
    j = &c->judgements[c->njudgements - 1];
    CHECK(strcmp(j->qid, "225") == 0 && strcmp(j->docid, "1188") == 0 && j->grade == -1);
    CHECK(find_query(c, "365") == NULL);

    check_common(c);
    check_ndjson(c, schema);
    check_perfect_run(c, 225);
    ircoll_free(c);
}

static void test_cacm(const char *dir, const souk_schema *schema)
{
    ircoll *c = NULL;
    char err[512] = "";
    int rc = ircoll_load(IRCOLL_CACM, dir, &c, err, sizeof err);
    if (rc)
        fprintf(stderr, "cacm: %s\n", err);
    REQUIRE(rc == 0);
    CHECK_EQ_U64(c->ndocs, 3204);
    CHECK_EQ_U64(c->nqueries, 64);
    CHECK_EQ_U64(c->njudgements, 796);
    size_t judged = distinct_judged_queries(c), with_text = 0, bad = 0;
    CHECK_EQ_U64(judged, 52);
    for (size_t i = 0; i < c->njudgements; i++)
        bad += c->judgements[i].grade != 1 || c->judgements[i].gain != 1;
    CHECK_EQ_U64(bad, 0);
    for (size_t i = 0; i < c->ndocs; i++)
        with_text += c->docs[i].text[0] != '\0';
    CHECK_EQ_U64(c->ndropped_records, 1); /* the ".I 0" at the end of query.text */
    CHECK_EQ_U64(c->nrepeated_markers, 0);
    printf("cacm: %zu docs (%zu with an abstract), %zu queries, %zu judgements over %zu queries; "
           "unjudged queries:",
           c->ndocs, with_text, c->nqueries, c->njudgements, judged);
    for (size_t qi = 0; qi < c->nqueries; qi++) {
        size_t k = 0;
        for (size_t i = 0; i < c->njudgements; i++)
            k += strcmp(c->judgements[i].qid, c->queries[qi].id) == 0;
        if (!k)
            printf(" %s", c->queries[qi].id);
    }
    printf("\n");

    const ircoll_doc *d = &c->docs[0];
    CHECK_STR(d->id, "1");
    CHECK_STR(d->title, "Preliminary Report-International Algebraic Language");
    CHECK_STR(d->authors, "Perlis, A. J.; Samelson,K.");
    CHECK_STR(d->text, "");
    d = &c->docs[3203];
    CHECK_STR(d->id, "3204");
    CHECK_STR(d->title, "An On-Line Program for Non-Numerical Algebra");
    CHECK_STR(d->authors, "Korsvold, K.");
    CHECK(starts_with(d->text, "The goal of this program is to make a step toward te design of "
                               "an automated mathematical assistant."));
    d = find_doc(c, "2712"); /* had a 0x19 byte: "size of^Y the network" */
    CHECK(d && strstr(d->text, "with the size of the network") != NULL);

    const ircoll_query *q = &c->queries[0];
    CHECK_STR(q->id, "1");
    CHECK(starts_with(q->text, "What articles exist which deal with TSS (Time Sharing System), "
                               "an operating system for IBM computers?"));
    q = find_query(c, "2"); /* its .A lines (authors of interest) are not query text */
    CHECK(q && strcmp(q->text, "I am interested in articles written either by Prieve or Udo "
                               "Pooch") == 0);
    q = &c->queries[63];
    CHECK_STR(q->id, "64");
    CHECK(starts_with(q->text, "List all articles on EL1 and ECL"));
    const ircoll_judgement *j = &c->judgements[0]; /* "01 1410  0 0" */
    CHECK(strcmp(j->qid, "1") == 0 && strcmp(j->docid, "1410") == 0);
    j = &c->judgements[c->njudgements - 1]; /* "64 2651 0 0", no final newline */
    CHECK(strcmp(j->qid, "64") == 0 && strcmp(j->docid, "2651") == 0);

    check_common(c);
    check_ndjson(c, schema);
    check_perfect_run(c, 52);
    ircoll_free(c);
}

/* Copies the directory part of a shared-data path; NULL when the file is absent. */
static int shared_dir(const char *rel, char *dir, size_t len)
{
    const char *p = shared_data(rel);
    if (!p)
        return 0;
    snprintf(dir, len, "%s", p);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    return 1;
}

int main(void)
{
    souk_alloc_init();
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/souk_test_ircoll_XXXXXX", base && *base ? base : "/tmp");
    REQUIRE(mkdtemp(tmpdir) != NULL);
    test_synthetic();

    /* The schema of the streams. */
    char path[4096], err[512];
    snprintf(path, sizeof path, "%s/indexer/schemas/ircoll.json", SOUK_SOURCE_DIR);
    souk_schema *schema = NULL;
    int rc = souk_schema_load(path, &schema, err, sizeof err);
    if (rc)
        fprintf(stderr, "ircoll.json: %s\n", err);
    CHECK(rc == 0);
    if (schema) {
        CHECK_EQ_U64(schema->nfields, 3);
        CHECK(schema->reject_unknown == 1);
        CHECK(souk_schema_field(schema, "body", 4) != NULL);
    }

    static const char *const files[] = {"ir/cranfield/cran.all.1400", "ir/cranfield/cran.qry",
                                        "ir/cranfield/cranqrel",      "ir/cacm/cacm.all",
                                        "ir/cacm/query.text",         "ir/cacm/qrels.text"};
    char cran[4096], cacm[4096], unused[4096];
    int present = 1;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        present &= shared_dir(files[i], unused, sizeof unused);
    if (present) {
        shared_dir(files[0], cran, sizeof cran);
        shared_dir(files[3], cacm, sizeof cacm);
        test_cranfield(cran, schema);
        test_cacm(cacm, schema);
    }
    souk_schema_free(schema);
    rmdir(tmpdir);
    if (!present && !check_failures)
        return TEST_SKIP; /* shared_data printed "SKIP: ..." */
    return check_done("test_ircoll");
}
