/* test_profiles.c: ranking profiles as stored, versioned, live objects (issue 21), through the
 * real souk-server over HTTP on an index of the first 3,000 records of the Debian catalog plus
 * four stream items (zqx-foo "Zqxfoo gadget", zqx-bar "Zqxbar widget", zqx-pin "Zqxpinned
 * lamp", all in section zqxshop, and zqx-other "Zqxother stone" in section zqxelse).
 *
 * It checks: a configuration profile that does not fit the schema stops the server at start,
 * named; the configuration's profile becomes version 1 in the store, and a later change of
 * it in the configuration leaves the stored profile alone; PUT makes versions 1, 2, 3 and keeps
 * the old ones readable (GET .../versions, .../versions/N); a rollback is the PUT of an old
 * document; an invalid document is refused with the member's path in "field" while the current
 * version keeps serving; the admin key is required; profile=name and name@version resolve,
 * unknown names and versions are refused naming them; k1 and b reach the scores; request
 * defaults apply under the request's own parameters; a profile's synonyms and stop words apply
 * to its searches only; curation pins items at their positions (marked "curated":"pinned") and
 * hides items on the ranked path, the storefront path (filter, facets), page and cursor pages;
 * a new version is seen by the very next request on each of four worker threads, and by a
 * second server (queue mode) on the same data directory; a profile_draft (admin key only)
 * ranks as the same document stored, stores nothing, and names an invalid member; the store
 * survives a restart, and kill -9 in the middle of PUTs leaves every version readable. */
#include "check.h"
#include "kit/fixture.h"
#include "kit/http.h"
#include "souk/souk.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[] = "/tmp/souk-test-profiles-XXXXXX";
static char data_dir[512], cfg_path[512];
static const char *ADMIN = "admin-key-profiles-0123456789";
static const char *SEARCH = "search-key-profiles-0123456789";

static void write_config(const char *profiles)
{
    char admin_h[128], search_h[128];
    snprintf(admin_h, sizeof admin_h, "%s", kit_hash_key(ADMIN));
    snprintf(search_h, sizeof search_h, "%s", kit_hash_key(SEARCH));
    FILE *f = fopen(cfg_path, "w");
    REQUIRE(f);
    fprintf(f, "{\"admin_keys\":[\"%s\"],\"search_keys\":[\"%s\"],\"profiles\":%s}\n", admin_h,
            search_h, profiles);
    fclose(f);
}

static void start(kit_server *s)
{
    kit_start(s, (const char *[]){"--data", data_dir, "--config", cfg_path, "--threads", "4",
                                  "--mode", "reuseport", NULL});
}

/* ------------------------------------------------------------------ HTTP helpers */

static int put_profile(int port, const char *name, const char *doc, kit_resp *r)
{
    char target[256];
    snprintf(target, sizeof target, "/v1/profiles/%s", name);
    return kit_call(port, "PUT", target, ADMIN, NULL, "application/json", doc, strlen(doc), r);
}

/* A GET with the admin key; the body parsed (cJSON_Delete) or NULL. */
static cJSON *get_json(int port, const char *target, int *status)
{
    kit_resp r;
    *status = kit_get_close(port, target, ADMIN, 10000, &r);
    cJSON *j = cJSON_Parse(r.body ? r.body : "");
    kit_resp_free(&r);
    return j;
}

typedef struct result {
    int status;
    long total;
    int n;
    char ids[50][128];
    double scores[50];
    int pinned[50];
    char *body;
    char next[1024];
} result;

/* Searches with the search key: q form-encoded ('+' for spaces), more parameters or "". */
static void search(int port, const char *q, const char *params, result *r)
{
    char target[4096];
    snprintf(target, sizeof target, "/v1/search?q=%s%s%s", q, params[0] ? "&" : "", params);
    memset(r, 0, sizeof *r);
    kit_resp resp;
    r->status = kit_get_close(port, target, SEARCH, 10000, &resp);
    r->body = resp.body;
    cJSON *j = cJSON_Parse(r->body ? r->body : "");
    const cJSON *t = cJSON_GetObjectItem(j, "total"), *h;
    r->total = cJSON_IsNumber(t) ? (long)t->valuedouble : -1;
    const char *nc = cJSON_GetStringValue(cJSON_GetObjectItem(j, "next_cursor"));
    if (nc)
        snprintf(r->next, sizeof r->next, "%s", nc);
    cJSON_ArrayForEach(h, cJSON_GetObjectItem(j, "hits"))
    {
        if (r->n < 50) {
            snprintf(r->ids[r->n], 128, "%s", cJSON_GetStringValue(cJSON_GetObjectItem(h, "id")));
            r->scores[r->n] = cJSON_GetObjectItem(h, "score")->valuedouble;
            const char *cur = cJSON_GetStringValue(cJSON_GetObjectItem(h, "curated"));
            r->pinned[r->n] = cur && strcmp(cur, "pinned") == 0;
            r->n++;
        }
    }
    cJSON_Delete(j);
}

static int rank_of(const result *r, const char *id)
{
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->ids[i], id) == 0)
            return i;
    return -1;
}

static int has_error(const result *r, const char *code, const char *text)
{
    return r->body && strstr(r->body, code) && (!text || strstr(r->body, text));
}

/* ------------------------------------------------------------------ the checks */

static void test_config_seed_and_auth(int port)
{
    int st;
    cJSON *j = get_json(port, "/v1/profiles", &st);
    CHECK(st == 200);
    const cJSON *p = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "profiles"), 0);
    CHECK(p && strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(p, "name")), "strict") == 0);
    CHECK(cJSON_GetObjectItem(p, "version")->valueint == 1);
    CHECK(cJSON_GetStringValue(cJSON_GetObjectItem(p, "updated")) != NULL);
    cJSON_Delete(j);
    j = get_json(port, "/v1/profiles/strict", &st);
    CHECK(st == 200);
    const cJSON *doc = cJSON_GetObjectItem(j, "profile");
    CHECK(strcmp(cJSON_GetStringValue(
                     cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "defaults"), "operator")),
                 "and") == 0);
    cJSON_Delete(j);
    /* The search key does not reach the profiles. */
    kit_resp r;
    CHECK(kit_get_close(port, "/v1/profiles", SEARCH, 10000, &r) == 403 || r.status == 401);
    kit_resp_free(&r);
    CHECK(kit_call(port, "PUT", "/v1/profiles/x", SEARCH, NULL, "application/json", "{}", 2, &r) ==
              403 ||
          r.status == 401);
    kit_resp_free(&r);
    /* The configuration's profile applies its default: "zqxfoo zqxother" under and: nothing. */
    result a, b;
    search(port, "zqxfoo+zqxother", "", &a);
    search(port, "zqxfoo+zqxother", "profile=strict", &b);
    CHECK(a.status == 200 && a.total == 2 && b.status == 200 && b.total == 0);
    free(a.body);
    free(b.body);
}

static void test_versions(int port)
{
    kit_resp r;
    /* Version 1: BM25 tuned; version 2: also synonyms and stop words. */
    CHECK(put_profile(port, "tuned", "{\"bm25\":{\"k1\":1.6,\"b\":0.9}}", &r) == 200);
    CHECK(r.body && strstr(r.body, "\"version\":1"));
    kit_resp_free(&r);
    CHECK(put_profile(port, "tuned",
                      "{\"bm25\":{\"k1\":1.6,\"b\":0.9},\"synonyms\":[[\"zqxfoo\",\"zqxbar\"]],"
                      "\"stop_words\":[\"zqxstop\"]}",
                      &r) == 200);
    CHECK(r.body && strstr(r.body, "\"version\":2"));
    kit_resp_free(&r);
    /* Invalid documents: refused, naming the member; version 2 stays current. */
    struct {
        const char *doc, *field, *text;
    } bad[] = {
        {"{\"boosts\":[{\"field\":\"installed_size_kb\",\"function\":\"log1p\",\"weight\":1},"
         "{\"field\":\"section\",\"function\":\"log1p\",\"weight\":1}]}",
         "boosts[1].field", "\"section\" is not a number field"},
        {"{\"bm25\":{\"k1\":-1}}", "bm25.k1", "not in"},
        {"{\"fields\":{\"section\":2}}", "fields.section", "not a text field"},
        {"{\"proximty\":{}}", "proximty", "unknown member"},
        {"{\"curation\":[{\"query\":\"x\",\"pin\":[{\"id\":\"a\",\"position\":0}]}]}",
         "curation[0].pin[0].position", "not in"},
        {"{\"boosts\":[{\"field\":\"installed_size_kb\",\"function\":\"decay\",\"weight\":1,"
         "\"origin\":0}]}",
         "boosts[0].scale", "missing"},
        {"{\"defaults\":{\"operator\":\"xor\"}}", "defaults.operator", "and"},
        {"{\"bm25\":{\"k1\":1,\"k1\":2}}", NULL, "k1"},
        {"[1,2]", NULL, "object"},
        {"{\"synonyms\":[[\"solo\"]]}", "synonyms[0]", "2 to"},
        {"{\"field_model\":\"bm25\"}", "field_model", "\"bm25f\""},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int st = put_profile(port, "tuned", bad[i].doc, &r);
        cJSON *j = cJSON_Parse(r.body ? r.body : "");
        const cJSON *e = cJSON_GetObjectItem(j, "error");
        const char *field = cJSON_GetStringValue(cJSON_GetObjectItem(e, "field"));
        const char *msg = cJSON_GetStringValue(cJSON_GetObjectItem(e, "message"));
        int ok = st == 400 && msg && strstr(msg, bad[i].text) &&
                 (!bad[i].field || (field && strcmp(field, bad[i].field) == 0));
        if (!ok)
            fprintf(stderr, "  bad profile %zu: %d %s\n", i, st, r.body ? r.body : "");
        CHECK(ok);
        cJSON_Delete(j);
        kit_resp_free(&r);
    }
    /* Over the document budget: 413. */
    size_t big = 300 * 1024;
    char *doc = malloc(big + 64);
    REQUIRE(doc);
    snprintf(doc, big + 64, "{\"stop_words\":[\"%0*d\"]}", (int)big, 0);
    CHECK(put_profile(port, "tuned", doc, &r) == 413);
    kit_resp_free(&r);
    free(doc);
    int st;
    cJSON *j = get_json(port, "/v1/profiles/tuned", &st);
    CHECK(st == 200 && cJSON_GetObjectItem(j, "version")->valueint == 2);
    cJSON_Delete(j);
    j = get_json(port, "/v1/profiles/tuned/versions", &st);
    CHECK(st == 200 && cJSON_GetArraySize(cJSON_GetObjectItem(j, "versions")) == 2 &&
          cJSON_GetObjectItem(j, "current")->valueint == 2);
    cJSON_Delete(j);
    j = get_json(port, "/v1/profiles/tuned/versions/1", &st);
    CHECK(st == 200 && !cJSON_GetObjectItem(cJSON_GetObjectItem(j, "profile"), "synonyms"));
    cJSON_Delete(j);
    j = get_json(port, "/v1/profiles/tuned/versions/3", &st);
    CHECK(st == 404);
    cJSON_Delete(j);
    j = get_json(port, "/v1/profiles/nope", &st);
    CHECK(st == 404);
    cJSON_Delete(j);
    j = get_json(port, "/v1/profiles/tuned/versions/x", &st);
    CHECK(st == 400);
    cJSON_Delete(j);
}

static void test_resolution(int port)
{
    result d, t1, t2, bad;
    /* k1 and b reach the scores: another ranking than the default's, the same at v1 and v2. */
    search(port, "text+editor", "per_page=20", &d);
    search(port, "text+editor", "per_page=20&profile=tuned@1", &t1);
    search(port, "text+editor", "per_page=20&profile=tuned", &t2);
    CHECK(d.status == 200 && t1.status == 200 && t2.status == 200 && d.n == 20 && t1.n == 20);
    int differ = 0;
    for (int i = 0; i < 20; i++)
        differ |= d.scores[i] != t1.scores[i];
    CHECK(differ);
    CHECK(t1.scores[0] == t2.scores[0]);
    free(d.body);
    free(t1.body);
    free(t2.body);
    /* A profile with the default parameters ranks as no profile. */
    kit_resp r;
    CHECK(put_profile(port, "plain", "{\"bm25\":{\"k1\":1,\"b\":0.5}}", &r) == 200);
    kit_resp_free(&r);
    search(port, "text+editor", "per_page=20", &d);
    search(port, "text+editor", "per_page=20&profile=plain", &t1);
    CHECK(d.n == 20 && t1.n == 20);
    for (int i = 0; i < 20 && i < t1.n; i++)
        CHECK(strcmp(d.ids[i], t1.ids[i]) == 0 && d.scores[i] == t1.scores[i]);
    free(d.body);
    free(t1.body);
    /* POST names it too. */
    const char *body = "{\"q\":\"zqxfoo\",\"profile\":\"tuned@2\"}";
    CHECK(kit_call(port, "POST", "/v1/search", SEARCH, NULL, "application/json", body, strlen(body),
                   &r) == 200);
    CHECK(r.body && strstr(r.body, "zqx-bar"));
    kit_resp_free(&r);
    /* Unknown names and versions. */
    search(port, "editor", "profile=nope", &bad);
    CHECK(bad.status == 400 && has_error(&bad, "invalid_parameter", "\\\"nope\\\""));
    free(bad.body);
    search(port, "editor", "profile=tuned@9", &bad);
    CHECK(bad.status == 400 && has_error(&bad, "invalid_parameter", "no version 9"));
    free(bad.body);
    search(port, "editor", "profile=tuned@0", &bad);
    CHECK(bad.status == 400);
    free(bad.body);
    /* The request's own parameters win over the profile's defaults. */
    search(port, "zqxfoo+zqxother", "profile=strict&operator=or", &d);
    CHECK(d.status == 200 && d.total == 2);
    free(d.body);
}

/* profile_draft (POST, admin key): an unstored document ranks as the same document stored. */
static void test_draft(int port)
{
    const char *doc = "{\"bm25\":{\"k1\":1.6,\"b\":0.9},\"defaults\":{\"operator\":\"and\"}}";
    kit_resp r, d;
    CHECK(put_profile(port, "drafted", doc, &r) == 200);
    kit_resp_free(&r);
    char body[512];
    snprintf(body, sizeof body, "{\"q\":\"text editor\",\"per_page\":20,\"profile_draft\":%s}",
             doc);
    const char *stored = "{\"q\":\"text editor\",\"per_page\":20,\"profile\":\"drafted\"}";
    CHECK(kit_call(port, "POST", "/v1/search", ADMIN, NULL, "application/json", body, strlen(body),
                   &d) == 200);
    CHECK(kit_call(port, "POST", "/v1/search", ADMIN, NULL, "application/json", stored,
                   strlen(stored), &r) == 200);
    cJSON *a = cJSON_Parse(d.body ? d.body : ""), *b = cJSON_Parse(r.body ? r.body : "");
    cJSON *ha = cJSON_GetObjectItem(a, "hits"), *hb = cJSON_GetObjectItem(b, "hits");
    CHECK(cJSON_GetArraySize(ha) >= 5 && cJSON_GetArraySize(ha) == cJSON_GetArraySize(hb));
    CHECK(cJSON_GetObjectItem(a, "total")->valuedouble ==
          cJSON_GetObjectItem(b, "total")->valuedouble);
    for (int i = 0; i < cJSON_GetArraySize(ha) && i < cJSON_GetArraySize(hb); i++) {
        cJSON *x = cJSON_GetArrayItem(ha, i), *y = cJSON_GetArrayItem(hb, i);
        CHECK(strcmp(cJSON_GetObjectItem(x, "id")->valuestring,
                     cJSON_GetObjectItem(y, "id")->valuestring) == 0);
        CHECK(cJSON_GetObjectItem(x, "score")->valuedouble ==
              cJSON_GetObjectItem(y, "score")->valuedouble);
    }
    cJSON_Delete(a);
    cJSON_Delete(b);
    kit_resp_free(&d);
    kit_resp_free(&r);
    /* Nothing was stored: still one version. */
    int st;
    cJSON *v = get_json(port, "/v1/profiles/drafted/versions", &st);
    CHECK(st == 200 && cJSON_GetArraySize(cJSON_GetObjectItem(v, "versions")) == 1);
    cJSON_Delete(v);
    /* A search key may not try drafts; an invalid draft names its member; no profile beside. */
    char code[64];
    CHECK(kit_call(port, "POST", "/v1/search", SEARCH, NULL, "application/json", body, strlen(body),
                   &r) == 403);
    kit_resp_free(&r);
    const char *bad = "{\"q\":\"editor\",\"profile_draft\":{\"bm25\":{\"k1\":-1}}}";
    CHECK(kit_call(port, "POST", "/v1/search", ADMIN, NULL, "application/json", bad, strlen(bad),
                   &r) == 400);
    CHECK(strcmp(kit_err_code(&r, code, sizeof code), "invalid_profile") == 0);
    CHECK(r.body && strstr(r.body, "profile_draft.bm25.k1"));
    kit_resp_free(&r);
    const char *both = "{\"q\":\"editor\",\"profile\":\"drafted\",\"profile_draft\":{}}";
    CHECK(kit_call(port, "POST", "/v1/search", ADMIN, NULL, "application/json", both, strlen(both),
                   &r) == 400);
    kit_resp_free(&r);
}

static void test_lexicon(int port)
{
    result a, b, c;
    /* Synonyms: only the profile's version 2 has zqxfoo = zqxbar. */
    search(port, "zqxfoo", "", &a);
    search(port, "zqxfoo", "profile=tuned", &b);
    search(port, "zqxfoo", "profile=tuned@1", &c);
    CHECK(rank_of(&a, "zqx-foo") >= 0 && rank_of(&a, "zqx-bar") < 0);
    CHECK(rank_of(&b, "zqx-foo") >= 0 && rank_of(&b, "zqx-bar") >= 0);
    CHECK(rank_of(&c, "zqx-bar") < 0);
    free(a.body);
    free(b.body);
    free(c.body);
    /* Stop words: "zqxstop" is dropped under the profile, so AND still finds zqx-foo. */
    search(port, "zqxstop+zqxfoo", "operator=and", &a);
    search(port, "zqxstop+zqxfoo", "operator=and&profile=tuned", &b);
    CHECK(a.status == 200 && a.total == 0);
    CHECK(b.status == 200 && rank_of(&b, "zqx-foo") >= 0);
    free(a.body);
    free(b.body);
}

/* The explanation tree's first term of the first hit of q under profile name: its tf, norm,
 * termweight and the hit's score. */
typedef struct tparts {
    double tf, norm, termweight, score;
} tparts;

static tparts first_term(int port, const char *q, const char *name)
{
    char target[512];
    snprintf(target, sizeof target, "/v1/search?q=%s&per_page=1&explain=true&profile=%s", q, name);
    kit_resp r;
    tparts t = {-1, -1, -1, -1};
    CHECK(kit_get_close(port, target, SEARCH, 10000, &r) == 200);
    cJSON *j = cJSON_Parse(r.body ? r.body : "");
    const cJSON *h = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "hits"), 0);
    const cJSON *x = cJSON_GetObjectItem(h, "explanation");
    /* explanation.parts[0] is the text score; its parts the words, each with its field terms */
    const cJSON *term = cJSON_GetArrayItem(cJSON_GetObjectItem(x, "parts"), 0);
    while (term && !cJSON_GetObjectItem(term, "tf"))
        term = cJSON_GetArrayItem(cJSON_GetObjectItem(term, "parts"), 0);
    if (h && term) {
        t.tf = cJSON_GetObjectItem(term, "tf")->valuedouble;
        t.norm = cJSON_GetObjectItem(term, "norm")->valuedouble;
        t.termweight = cJSON_GetObjectItem(term, "termweight")->valuedouble;
        t.score = cJSON_GetObjectItem(h, "score")->valuedouble;
    }
    cJSON_Delete(j);
    kit_resp_free(&r);
    return t;
}

/* field_model: under "bm25f" a one-word query's score is the word's termweight x tf / (norm +
 * tf) with tf the title weight x the title term's wdf (read under "sum", where the title term is
 * its own part). */
static void test_field_model(int port)
{
    kit_resp r;
    CHECK(put_profile(port, "fsum", "{\"fields\":{\"title\":3}}", &r) == 200);
    kit_resp_free(&r);
    CHECK(put_profile(port, "fbm25f", "{\"fields\":{\"title\":3},\"field_model\":\"bm25f\"}", &r) ==
          200);
    kit_resp_free(&r);
    tparts s = first_term(port, "zqxfoo", "fsum"), f = first_term(port, "zqxfoo", "fbm25f");
    /* the title's wdf carries the schema's index-time weight (2 on Debian) */
    if (!(s.tf >= 1 && f.tf == 3 * s.tf))
        fprintf(stderr, "  field_model: tf %g under sum, %g under bm25f\n", s.tf, f.tf);
    CHECK(s.tf >= 1 && f.tf == 3 * s.tf);
    CHECK(f.score > 0 && fabs(f.score - f.termweight * (f.tf / (f.norm + f.tf))) < 1e-9);
    CHECK(fabs(f.score - s.score) > 1e-6); /* the two models differ */
}

static void test_curation(int port)
{
    result base;
    search(port, "text+editor", "per_page=30", &base);
    REQUIRE(base.n == 30);
    char hidden[128], second[128];
    snprintf(hidden, sizeof hidden, "%s", base.ids[0]);
    snprintf(second, sizeof second, "%s", base.ids[1]);
    char doc[2048];
    /* Normalized: "Text  EDITOR!" matches "text editor"; an exact rule for "zqxfoo". */
    snprintf(doc, sizeof doc,
             "{\"curation\":[{\"query\":\"Text  EDITOR!\",\"match\":\"normalized\","
             "\"pin\":[{\"id\":\"zqx-pin\",\"position\":2},{\"id\":\"%s\",\"position\":7}],"
             "\"hide\":[\"%s\",\"no-such-item\"]},"
             "{\"query\":\"zqxfoo\",\"match\":\"exact\",\"hide\":[\"zqx-foo\"],"
             "\"pin\":[{\"id\":\"zqx-other\",\"position\":1}]}]}",
             second, hidden);
    kit_resp r;
    CHECK(put_profile(port, "curated", doc, &r) == 200);
    kit_resp_free(&r);
    /* The ranked path. */
    result c;
    search(port, "text+editor", "per_page=30&profile=curated", &c);
    CHECK(c.status == 200 && c.n == 30);
    CHECK(rank_of(&c, hidden) < 0);
    CHECK(rank_of(&c, "zqx-pin") == 1 && c.pinned[1]);
    CHECK(rank_of(&c, second) == 6 && c.pinned[6]);
    int npinned = 0;
    for (int i = 0; i < c.n; i++)
        npinned += c.pinned[i];
    CHECK(npinned == 2);
    /* The other hits keep their order: base without hidden and second. */
    int j = 0;
    for (int i = 0; i < c.n; i++) {
        if (c.pinned[i])
            continue;
        while (j < base.n && (strcmp(base.ids[j], hidden) == 0 || strcmp(base.ids[j], second) == 0))
            j++;
        CHECK(j < base.n && strcmp(c.ids[i], base.ids[j]) == 0);
        j++;
    }
    free(c.body);
    /* With explain, each hit's parts add up to its score, a pin's too (its own score, or 0). */
    const char *paths[] = {"per_page=10&explain=true&profile=curated",
                           "per_page=10&explain=true&facets=section&profile=curated"};
    for (int k = 0; k < 2; k++) {
        char target[512];
        snprintf(target, sizeof target, "/v1/search?q=text+editor&%s", paths[k]);
        kit_resp er;
        CHECK(kit_get_close(port, target, SEARCH, 10000, &er) == 200);
        cJSON *j = cJSON_Parse(er.body ? er.body : "");
        const cJSON *h;
        int n = 0, ok = 0, zero_pin = 0;
        cJSON_ArrayForEach(h, cJSON_GetObjectItem(j, "hits"))
        {
            double score = cJSON_GetObjectItem(h, "score")->valuedouble, sum = 0;
            const cJSON *part;
            cJSON_ArrayForEach(part, cJSON_GetObjectItem(h, "explain")) sum +=
                cJSON_GetObjectItem(part, "score")->valuedouble;
            ok += fabs(sum - score) <= 1e-9 * (fabs(score) > 1 ? fabs(score) : 1);
            zero_pin += cJSON_GetObjectItem(h, "curated") && score == 0;
            n++;
        }
        CHECK(n == 10 && ok == n && zero_pin == 1); /* zqx-pin does not match "text editor" */
        cJSON_Delete(j);
        kit_resp_free(&er);
    }
    /* Accents and case fold too; the exact rule is exact. */
    search(port, "T%C3%89XT+editor", "per_page=5&profile=curated", &c);
    CHECK(rank_of(&c, "zqx-pin") == 1);
    free(c.body);
    search(port, "zqxfoo", "profile=curated", &c);
    CHECK(rank_of(&c, "zqx-foo") < 0 && rank_of(&c, "zqx-other") == 0 && c.pinned[0]);
    free(c.body);
    search(port, "ZQXFOO", "profile=curated", &c);
    CHECK(rank_of(&c, "zqx-foo") == 0 && rank_of(&c, "zqx-other") < 0);
    free(c.body);
    /* Pages: page 1 and 2 of 5 are the first 10 of the curated order. */
    result all, p1, p2;
    search(port, "text+editor", "per_page=10&profile=curated", &all);
    search(port, "text+editor", "per_page=5&page=1&profile=curated", &p1);
    search(port, "text+editor", "per_page=5&page=2&profile=curated", &p2);
    CHECK(all.n == 10 && p1.n == 5 && p2.n == 5);
    for (int i = 0; i < 5; i++) {
        CHECK(strcmp(all.ids[i], p1.ids[i]) == 0);
        CHECK(strcmp(all.ids[5 + i], p2.ids[i]) == 0);
    }
    free(all.body);
    free(p1.body);
    free(p2.body);
    /* The hidden item is left out of the total and the facet counts too: the curated total is
     * the plain one less one (on the ranked path, which then counts exactly, and with facets),
     * and exactly one section count is one less. */
    result fb, fc, rc;
    search(port, "text+editor", "per_page=10&facets=section", &fb);
    search(port, "text+editor", "per_page=10&facets=section&profile=curated", &fc);
    search(port, "text+editor", "per_page=10&profile=curated", &rc);
    CHECK(fb.total > 30 && fc.total == fb.total - 1 && rc.total == fb.total - 1);
    cJSON *jb = cJSON_Parse(fb.body ? fb.body : ""), *jc = cJSON_Parse(fc.body ? fc.body : "");
    const cJSON *vb = cJSON_GetObjectItem(
        cJSON_GetObjectItem(cJSON_GetObjectItem(jb, "facets"), "section"), "values");
    const cJSON *vc = cJSON_GetObjectItem(
        cJSON_GetObjectItem(cJSON_GetObjectItem(jc, "facets"), "section"), "values");
    int ndiff = 0, nsame = 0;
    const cJSON *x, *y;
    cJSON_ArrayForEach(x, vb)
    {
        const char *val = cJSON_GetStringValue(cJSON_GetObjectItem(x, "value"));
        double want = cJSON_GetObjectItem(x, "count")->valuedouble, got = 0;
        cJSON_ArrayForEach(
            y, vc) if (strcmp(val, cJSON_GetStringValue(cJSON_GetObjectItem(y, "value"))) == 0)
            got = cJSON_GetObjectItem(y, "count")->valuedouble;
        ndiff += got == want - 1;
        nsame += got == want;
    }
    /* The hidden item's section may be beyond the values shown: then "other" is one less. */
    double ob = cJSON_GetObjectItem(
                    cJSON_GetObjectItem(cJSON_GetObjectItem(jb, "facets"), "section"), "other")
                    ->valuedouble,
           oc = cJSON_GetObjectItem(
                    cJSON_GetObjectItem(cJSON_GetObjectItem(jc, "facets"), "section"), "other")
                    ->valuedouble;
    int oless = oc == ob - 1;
    CHECK(ndiff + oless == 1 && ndiff + nsame == cJSON_GetArraySize(vb) && (oless || oc == ob));
    if (ndiff + oless != 1)
        fprintf(stderr, "facets before %s\nafter %s\n",
                cJSON_PrintUnformatted(cJSON_GetObjectItem(jb, "facets")),
                cJSON_PrintUnformatted(cJSON_GetObjectItem(jc, "facets")));
    cJSON_Delete(jb);
    cJSON_Delete(jc);
    free(fb.body);
    free(fc.body);
    free(rc.body);
    /* The storefront path (facets), then cursor pages: every item once, never the hidden. */
    search(port, "text+editor", "per_page=10&facets=section&profile=curated", &p1);
    CHECK(p1.status == 200 && rank_of(&p1, "zqx-pin") == 1 && p1.pinned[1] &&
          rank_of(&p1, hidden) < 0 && p1.next[0]);
    char seen[400][128];
    int nseen = 0, dup = 0, hid = 0, pins = 0;
    for (int i = 0; i < p1.n; i++)
        snprintf(seen[nseen++], 128, "%s", p1.ids[i]);
    char cursor[1024];
    snprintf(cursor, sizeof cursor, "%s", p1.next);
    free(p1.body);
    for (int page = 0; page < 20 && cursor[0]; page++) {
        char params[2048];
        snprintf(params, sizeof params, "per_page=10&facets=section&profile=curated&cursor=%s",
                 cursor);
        result pc;
        search(port, "text+editor", params, &pc);
        CHECK(pc.status == 200);
        for (int i = 0; i < pc.n; i++) {
            for (int k = 0; k < nseen; k++)
                dup += strcmp(seen[k], pc.ids[i]) == 0;
            hid += strcmp(pc.ids[i], hidden) == 0;
            pins += pc.pinned[i];
            if (nseen < 400)
                snprintf(seen[nseen++], 128, "%s", pc.ids[i]);
        }
        snprintf(cursor, sizeof cursor, "%s", pc.next);
        free(pc.body);
    }
    CHECK(dup == 0 && hid == 0 && pins == 0 && nseen > 100);
    /* With a filter: a pin that does not pass it is left out; one that does is placed. */
    search(port, "zqxfoo", "filter=section%3Dzqxshop&profile=curated", &c);
    CHECK(c.status == 200 && rank_of(&c, "zqx-other") < 0 && rank_of(&c, "zqx-foo") < 0);
    free(c.body);
    search(port, "zqxfoo", "filter=section%3Dzqxelse&profile=curated", &c);
    CHECK(c.status == 200 && rank_of(&c, "zqx-other") == 0 && c.pinned[0]);
    free(c.body);
    free(base.body);
}

/* A new version is seen by the very next request on every worker thread: the server runs four
 * loops (SO_REUSEPORT spreads connections across them); each round stores a version that flips
 * the default operator, then 24 searches on new connections must all follow it. */
static void test_live_switch(int port)
{
    int wrong = 0;
    for (int round = 0; round < 6; round++) {
        int and_op = round % 2 == 0;
        char doc[128];
        snprintf(doc, sizeof doc, "{\"defaults\":{\"operator\":\"%s\"}}", and_op ? "and" : "or");
        kit_resp r;
        CHECK(put_profile(port, "live", doc, &r) == 200);
        kit_resp_free(&r);
        for (int i = 0; i < 24; i++) {
            result s;
            search(port, "zqxfoo+zqxother", "profile=live", &s);
            wrong += s.status != 200 || s.total != (and_op ? 0 : 2);
            free(s.body);
        }
    }
    CHECK(wrong == 0);
    int st;
    cJSON *j = get_json(port, "/v1/profiles/live/versions", &st);
    CHECK(st == 200 && cJSON_GetObjectItem(j, "current")->valueint == 6);
    cJSON_Delete(j);
    /* Rollback: the PUT of version 1's document becomes version 7, and serves. */
    j = get_json(port, "/v1/profiles/live/versions/1", &st);
    char *doc = cJSON_PrintUnformatted(cJSON_GetObjectItem(j, "profile"));
    kit_resp r;
    CHECK(put_profile(port, "live", doc, &r) == 200 && strstr(r.body, "\"version\":7"));
    kit_resp_free(&r);
    free(doc);
    cJSON_Delete(j);
    result s;
    search(port, "zqxfoo+zqxother", "profile=live", &s);
    CHECK(s.total == 0);
    free(s.body);
}

/* Two servers on one data directory, the second in queue mode (its workers are a thread
 * pool): a version PUT on one is served by the other's next request (the store's stamp), in
 * both directions. */
static void test_two_servers(int port)
{
    kit_server s2; /* in queue mode: one loop and a pool of four worker threads */
    kit_start(&s2, (const char *[]){"--data", data_dir, "--config", cfg_path, "--threads", "4",
                                    "--mode", "queue", NULL});
    int wrong = 0;
    for (int round = 0; round < 4; round++) {
        int and_op = round % 2 == 1;
        char doc[128];
        snprintf(doc, sizeof doc, "{\"defaults\":{\"operator\":\"%s\"}}", and_op ? "and" : "or");
        kit_resp r;
        CHECK(put_profile(round % 2 ? port : s2.port, "shared", doc, &r) == 200);
        kit_resp_free(&r);
        for (int i = 0; i < 8; i++) {
            result s;
            search(i % 2 ? port : s2.port, "zqxfoo+zqxother", "profile=shared", &s);
            wrong += s.status != 200 || s.total != (and_op ? 0 : 2);
            free(s.body);
        }
    }
    CHECK(wrong == 0);
    CHECK(kit_stop(&s2) == 0);
}

/* kill -9 while PUTs run: after a restart every stored version reads back as valid JSON and
 * the current one is the last. */
static void test_crash(kit_server *s)
{
    pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        for (int i = 0;; i++) {
            char doc[128];
            snprintf(doc, sizeof doc, "{\"bm25\":{\"k1\":%d.5,\"b\":0.5}}", i % 9);
            kit_resp r;
            put_profile(s->port, "crash", doc, &r);
            kit_resp_free(&r);
        }
    }
    usleep(400000);
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    start(s);
    int st;
    cJSON *j = get_json(s->port, "/v1/profiles/crash/versions", &st);
    CHECK(st == 200);
    int n = cJSON_GetArraySize(cJSON_GetObjectItem(j, "versions"));
    int cur = cJSON_GetObjectItem(j, "current")->valueint;
    printf("test_profiles: %d versions stored before kill -9\n", n);
    CHECK(n >= 1 && cur == n);
    cJSON_Delete(j);
    for (int v = 1; v <= n; v++) {
        char target[128];
        snprintf(target, sizeof target, "/v1/profiles/crash/versions/%d", v);
        j = get_json(s->port, target, &st);
        CHECK(st == 200 && cJSON_IsObject(cJSON_GetObjectItem(j, "profile")));
        cJSON_Delete(j);
    }
    /* Versions of the other profiles survived the restart too. */
    j = get_json(s->port, "/v1/profiles/tuned", &st);
    CHECK(st == 200 && cJSON_GetObjectItem(j, "version")->valueint == 2);
    cJSON_Delete(j);
}

int main(void)
{
    souk_alloc_init();
    const char *src = debian_catalog();
    if (!src)
        return TEST_SKIP;
    REQUIRE(mkdtemp(dir));
    snprintf(data_dir, sizeof data_dir, "%s/index", dir);
    snprintf(cfg_path, sizeof cfg_path, "%s/server.json", dir);
    char stream[600], cmd[8192];
    snprintf(stream, sizeof stream, "%s/records.ndjson", dir);
    REQUIRE(kit_debian_records(stream, 3000) == 0);
    FILE *f = fopen(stream, "a");
    REQUIRE(f);
    fputs("{\"id\":\"zqx-foo\",\"title\":\"Zqxfoo gadget\",\"description\":\"A gadget.\","
          "\"section\":\"zqxshop\"}\n"
          "{\"id\":\"zqx-bar\",\"title\":\"Zqxbar widget\",\"description\":\"A widget.\","
          "\"section\":\"zqxshop\"}\n"
          "{\"id\":\"zqx-pin\",\"title\":\"Zqxpinned lamp\",\"description\":\"A lamp.\","
          "\"section\":\"zqxshop\"}\n"
          "{\"id\":\"zqx-other\",\"title\":\"Zqxother stone\",\"description\":\"A stone.\","
          "\"section\":\"zqxelse\"}\n",
          f);
    fclose(f);
    snprintf(cmd, sizeof cmd,
             "'%s/souk-index' --data '%s' --schema '%s/indexer/schemas/debian-packages.json' "
             "catalog - < '%s' >/dev/null",
             SOUK_BIN_DIR, data_dir, SOUK_SOURCE_DIR, stream);
    REQUIRE(system(cmd) == 0);

    /* A config profile that does not fit the schema stops the server at start, named. */
    write_config("{\"bad\":{\"sort\":\"nosuchfield\"}}");
    char errf[600];
    snprintf(errf, sizeof errf, "%s/server.err", dir);
    snprintf(cmd, sizeof cmd,
             "timeout 20 '%s/souk-server' --data '%s' --config '%s' --listen 127.0.0.1:0 "
             ">/dev/null 2>'%s'",
             SOUK_BIN_DIR, data_dir, cfg_path, errf);
    int ex = system(cmd);
    CHECK(WIFEXITED(ex) && WEXITSTATUS(ex) == 1);
    snprintf(cmd, sizeof cmd,
             "grep -q 'profile \"bad\": defaults.sort: \"nosuchfield\" is not a sortable field' "
             "'%s'",
             errf);
    CHECK(system(cmd) == 0);

    write_config("{\"strict\":{\"operator\":\"and\"}}");
    kit_server s;
    start(&s);
    test_config_seed_and_auth(s.port);
    test_versions(s.port);
    test_resolution(s.port);
    test_draft(s.port);
    test_lexicon(s.port);
    test_curation(s.port);
    test_field_model(s.port);
    test_live_switch(s.port);
    test_two_servers(s.port);
    /* A later change of a stored profile in the configuration leaves the store alone; a new
     * profile of the configuration is added as its version 1. */
    write_config("{\"strict\":{\"operator\":\"or\"},\"fresh\":{\"typo\":true}}");
    kit_reload(&s);
    int st = 0;
    for (int i = 0; i < 100 && st != 200; i++) {
        usleep(50000);
        cJSON *j = get_json(s.port, "/v1/profiles/fresh", &st);
        cJSON_Delete(j);
    }
    CHECK(st == 200);
    result r;
    search(s.port, "zqxfoo+zqxother", "profile=strict", &r);
    CHECK(r.total == 0);
    free(r.body);
    test_crash(&s);
    CHECK(kit_stop(&s) == 0);

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    return check_done("test_profiles");
}
