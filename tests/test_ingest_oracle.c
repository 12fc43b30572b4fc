/* test_ingest_oracle.c: ingest proven against Xapian end to end. The raw Debian catalog records
 * go through the real `souk-index` (run as a process) and, separately, through Xapian's own
 * TermGenerator (tests/kit/xapian_termgen.cc), laid out as the docs and the schema describe and
 * without any of Souk's analysis or document-building code:
 *   - text fields in schema order, each analysed unprefixed and, when it declares a prefix, once
 *     more with it at the same positions; the field's weight is the wdf increment; 100 positions
 *     between fields (docs/architecture.md, "Fields");
 *   - filterable or facetable keyword and bool fields as boolean terms prefix+value (a `path`
 *     field one per level);
 *   - joined code terms XCODE: for text fields and keyword fields with "typo": false (the default
 *     for keywords), written here from docs/part-numbers.md.
 * Then, for every document: its terms (the stored term list, and the postings of each term), each
 * term's wdf and positions, and its length must be equal, and so must every term's document and
 * collection frequency. Last, real queries (the query logs test_oracle uses) get the same top 10
 * from Souk's search on the souk-index index as from Xapian's Enquire with BM25 on the
 * TermGenerator database, scores within 1e-9. So a dropped term, a wrong wdf or a wrong field gap
 * at ingest fails here, which test_oracle (built from Souk's own postings) cannot see. */
#include "check.h"
#include "oracle.h"
#include "querylog.h"
#include "souk/index.h"
#include "souk/search.h"
#include "souk/souk.h"
#include "xapian_termgen.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define K 10
#define MAX_SHOWN 10             /* mismatches printed in detail per kind */
#define FIELD_GAP 100            /* docs/architecture.md: positions of different fields 100 apart */
#define MAX_TERM_BYTES 245       /* Xapian's (Glass) longest term; Souk keeps the same limit */
#define CODE_MAX_CHARS 32        /* docs/part-numbers.md: longer codes are not joined */
#define CODES_PER_TEXT_FIELD 256 /* docs/part-numbers.md: at most 256 code terms per text field */
#define CODES_PER_KEYWORD_VALUE 16 /* docs/part-numbers.md: and 16 per keyword value */
#define CODE_PREFIX "XCODE:"

static char tmp[] = "/tmp/souk-test-ingest-oracle-XXXXXX";
static int parts_absent;

static double now_secs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---------------------------------------------------------------- the schema, read as JSON */

typedef enum { F_TEXT, F_KEYWORD, F_NUMBER, F_BOOL } ftype;

typedef struct sfield {
    char name[64];
    ftype type;
    char prefix[32];
    uint32_t weight;
    int indexed; /* keyword or bool: filterable or facetable, so it has boolean terms */
    int path;
    int codes; /* gets joined code terms */
} sfield;

static sfield fields[32];
static size_t nfields;

static int json_flag(const cJSON *o, const char *key, int dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return v ? cJSON_IsTrue(v) : dflt;
}

/* Reads the schema file with cJSON, as its documentation (docs/api.md, "Schemas") says. */
static void load_schema(const char *path, char *lang, size_t langcap)
{
    FILE *f = fopen(path, "r");
    REQUIRE(f);
    char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    cJSON *s = cJSON_Parse(buf);
    REQUIRE(s);
    const cJSON *dl = cJSON_GetObjectItemCaseSensitive(s, "default_language");
    snprintf(lang, langcap, "%s", cJSON_IsString(dl) ? dl->valuestring : "en");
    const cJSON *fa = cJSON_GetObjectItemCaseSensitive(s, "fields"), *fo;
    cJSON_ArrayForEach(fo, fa)
    {
        REQUIRE(nfields < sizeof fields / sizeof fields[0]);
        sfield *x = &fields[nfields++];
        memset(x, 0, sizeof *x);
        snprintf(x->name, sizeof x->name, "%s",
                 cJSON_GetObjectItemCaseSensitive(fo, "name")->valuestring);
        const char *t = cJSON_GetObjectItemCaseSensitive(fo, "type")->valuestring;
        x->type = strcmp(t, "text") == 0      ? F_TEXT
                  : strcmp(t, "keyword") == 0 ? F_KEYWORD
                  : strcmp(t, "number") == 0  ? F_NUMBER
                                              : F_BOOL;
        const cJSON *w = cJSON_GetObjectItemCaseSensitive(fo, "weight");
        x->weight = w ? (uint32_t)w->valuedouble : 1;
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(fo, "prefix");
        /* This test reads schemas that name every keyword and bool field's prefix. */
        REQUIRE(p || x->type == F_TEXT || x->type == F_NUMBER);
        snprintf(x->prefix, sizeof x->prefix, "%s", p ? p->valuestring : "");
        x->indexed = json_flag(fo, "filterable", 0) || json_flag(fo, "facetable", 0);
        x->path = json_flag(fo, "path", 0);
        /* "typo": text fields default to true, keyword fields to false (docs/api.md); a text
         * field with false would add XTYPO: terms, which this test does not model. */
        int typo = json_flag(fo, "typo", x->type == F_TEXT);
        REQUIRE(typo || x->type != F_TEXT);
        x->codes = x->type == F_TEXT || (x->type == F_KEYWORD && !typo);
    }
    cJSON_Delete(s);
}

/* ---------------------------------------------------------------- code terms */

static int ascii_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static uint64_t code_terms; /* added to the Xapian side, for the report */

/* docs/part-numbers.md: for each pair of adjacent words (runs of ASCII letters and digits)
 * joined by exactly one space, hyphen, slash or dot, when the pair holds both letters and digits,
 * the term XCODE: + the lower-case join, at most 32 characters, with wdf `wdf` and no position;
 * at most `max` of them. */
static int add_codes(xtg_db *x, const char *t, size_t len, uint32_t wdf, size_t max)
{
    size_t emitted = 0;
    size_t pa = 0, pl = 0; /* the previous word */
    int have_prev = 0;
    size_t i = 0;
    while (i < len && emitted < max) {
        size_t sep_start = i;
        while (i < len && !ascii_alnum((unsigned char)t[i]))
            i++;
        if (i == len)
            break;
        size_t seplen = i - sep_start;
        char sepc = seplen ? t[sep_start] : 0;
        size_t wa = i;
        while (i < len && ascii_alnum((unsigned char)t[i]))
            i++;
        size_t wl = i - wa;
        int joined =
            have_prev && seplen == 1 && (sepc == ' ' || sepc == '-' || sepc == '/' || sepc == '.');
        if (joined && pl + wl <= CODE_MAX_CHARS) {
            int digit = 0, alpha = 0;
            char term[64];
            memcpy(term, CODE_PREFIX, 6);
            size_t n = 6;
            const char *parts[2] = {t + pa, t + wa};
            size_t lens[2] = {pl, wl};
            for (int k = 0; k < 2; k++) {
                for (size_t c = 0; c < lens[k]; c++) {
                    char ch = parts[k][c];
                    digit |= ch >= '0' && ch <= '9';
                    alpha |= !(ch >= '0' && ch <= '9');
                    term[n++] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
                }
            }
            if (digit && alpha) {
                if (xtg_doc_term(x, term, n, wdf))
                    return -1;
                emitted++;
                code_terms++;
            }
        }
        pa = wa;
        pl = wl;
        have_prev = 1;
    }
    return 0;
}

/* ---------------------------------------------------------------- the Xapian side */

static uint64_t long_terms; /* boolean terms over MAX_TERM_BYTES, left out (Xapian refuses them) */

static int add_boolean(xtg_db *x, const char *prefix, const char *v, size_t vl)
{
    char term[1024];
    size_t pl = strlen(prefix);
    if (pl + vl > MAX_TERM_BYTES) {
        long_terms++;
        return 0;
    }
    memcpy(term, prefix, pl);
    memcpy(term + pl, v, vl);
    return xtg_doc_boolean(x, term, pl + vl);
}

/* Builds the current Xapian document from one record, field by field in schema order. */
static void build_document(xtg_db *x, const cJSON *rec)
{
    int rc = xtg_doc_begin(x);
    for (size_t fi = 0; fi < nfields && rc == 0; fi++) {
        const sfield *f = &fields[fi];
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, f->name);
        if (!v || cJSON_IsNull(v))
            continue;
        if (f->type == F_TEXT) {
            REQUIRE(cJSON_IsString(v));
            const char *t = v->valuestring;
            size_t tl = strlen(t);
            uint32_t start = xtg_doc_termpos(x);
            if (f->prefix[0]) {
                rc |= xtg_doc_text(x, t, tl, f->weight, f->prefix);
                rc |= xtg_doc_set_termpos(x, start);
            }
            rc |= xtg_doc_text(x, t, tl, f->weight, "");
            rc |= xtg_doc_increase_termpos(x, FIELD_GAP);
            rc |= add_codes(x, t, tl, f->weight, CODES_PER_TEXT_FIELD);
        } else if (f->type == F_KEYWORD) {
            const cJSON *it = cJSON_IsArray(v) ? v->child : v;
            for (; it && rc == 0; it = cJSON_IsArray(v) ? it->next : NULL) {
                REQUIRE(cJSON_IsString(it));
                const char *val = it->valuestring;
                size_t vl = strlen(val);
                if (f->indexed) {
                    if (f->path) {
                        for (size_t p = 0; p + 3 <= vl; p++)
                            if (memcmp(val + p, " > ", 3) == 0)
                                rc |= add_boolean(x, f->prefix, val, p);
                    }
                    rc |= add_boolean(x, f->prefix, val, vl);
                }
                if (f->codes)
                    rc |= add_codes(x, val, vl, 1, CODES_PER_KEYWORD_VALUE);
            }
        } else if (f->type == F_BOOL && f->indexed) {
            rc |= cJSON_IsTrue(v) ? add_boolean(x, f->prefix, "true", 4)
                                  : add_boolean(x, f->prefix, "false", 5);
        }
    }
    if (rc) {
        fprintf(stderr, "Xapian: %s\n", xtg_errmsg(x));
        exit(1);
    }
}

/* ---------------------------------------------------------------- comparison */

static struct {
    uint64_t docs, terms, postings, positions, termlist_terms, dict_terms;
} seen;

static struct {
    uint64_t docs, missing_docs, doclen, term_only_souk, term_only_xapian, wdf, positions, termlist,
        dict_only_souk, dict_only_xapian, df, cf;
} bad;

static void print_term(const char *t, size_t len)
{
    fputc('\'', stderr);
    for (size_t k = 0; k < len; k++) {
        unsigned char c = (unsigned char)t[k];
        if (c >= 0x20 && c != 0x7f && c != '\\')
            fputc(c, stderr);
        else
            fprintf(stderr, "\\x%02x", c);
    }
    fputc('\'', stderr);
}

static void print_positions(const char *who, uint32_t wdf, const uint32_t *pos, uint32_t npos)
{
    fprintf(stderr, "    %s: wdf %u, positions [", who, wdf);
    for (uint32_t k = 0; k < npos && k < 20; k++)
        fprintf(stderr, k ? " %u" : "%u", pos[k]);
    fprintf(stderr, npos > 20 ? " ...]\n" : "]\n");
}

/* Byte order, a prefix first. */
static int cmp_bytes(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    if (c)
        return c;
    return al < bl ? -1 : al > bl;
}

/* The terms of one Xapian document, as xtg_doc_terms gives them (byte order). */
typedef struct xterm {
    uint32_t off, len, wdf, pos_at, npos;
} xterm;

typedef struct xdoc {
    xterm *t;
    size_t n, cap;
    char *buf;
    size_t blen, bcap;
    uint32_t *pos;
    size_t npos, cappos;
    uint64_t len; /* sum of wdf: Xapian's document length */
} xdoc;

static void xdoc_add(void *ctx, const char *term, size_t len, uint32_t wdf, const uint32_t *pos,
                     size_t npos)
{
    xdoc *d = ctx;
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 256;
        d->t = realloc(d->t, d->cap * sizeof *d->t);
    }
    if (d->blen + len > d->bcap) {
        while (d->blen + len > d->bcap)
            d->bcap = d->bcap ? d->bcap * 2 : 4096;
        d->buf = realloc(d->buf, d->bcap);
    }
    if (d->npos + npos > d->cappos) {
        while (d->npos + npos > d->cappos)
            d->cappos = d->cappos ? d->cappos * 2 : 4096;
        d->pos = realloc(d->pos, d->cappos * sizeof *d->pos);
    }
    memcpy(d->buf + d->blen, term, len);
    if (npos)
        memcpy(d->pos + d->npos, pos, npos * sizeof *pos);
    d->t[d->n++] =
        (xterm){(uint32_t)d->blen, (uint32_t)len, wdf, (uint32_t)d->npos, (uint32_t)npos};
    d->blen += len;
    d->npos += npos;
    d->len += wdf;
}

/* Souk's stored term list of one document, compared with Xapian's terms as it is read. */
typedef struct tlwalk {
    const xdoc *x;
    size_t at;
    const char *id;
    uint64_t bad;
} tlwalk;

static void termlist_cb(void *ctx, const char *term, size_t len)
{
    tlwalk *w = ctx;
    const xdoc *x = w->x;
    while (w->at < x->n && cmp_bytes(x->buf + x->t[w->at].off, x->t[w->at].len, term, len) < 0) {
        if (w->bad++ < 3 && bad.termlist < MAX_SHOWN) {
            fprintf(stderr, "document '%s': stored term list lacks ", w->id);
            print_term(x->buf + x->t[w->at].off, x->t[w->at].len);
            fputc('\n', stderr);
        }
        w->at++;
    }
    if (w->at < x->n && cmp_bytes(x->buf + x->t[w->at].off, x->t[w->at].len, term, len) == 0) {
        seen.termlist_terms++;
        w->at++;
        return;
    }
    if (w->bad++ < 3 && bad.termlist < MAX_SHOWN) {
        fprintf(stderr, "document '%s': stored term list has ", w->id);
        print_term(term, len);
        fprintf(stderr, ", not from TermGenerator\n");
    }
}

static oracle_build sk; /* Souk's postings, inverted per document (tests/kit/oracle.h) */
static uint32_t *sk_df; /* Souk's dictionary: df and cf of sk.terms[i] */
static uint64_t *sk_cf;
static size_t sk_cap;

static int souk_term_cb(void *ctx, const char *term, size_t len, const souk_term_info *info)
{
    oracle_build *b = ctx;
    if (b->nterms == sk_cap) {
        sk_cap = sk_cap ? sk_cap * 2 : 65536;
        sk_df = realloc(sk_df, sk_cap * sizeof *sk_df);
        sk_cf = realloc(sk_cf, sk_cap * sizeof *sk_cf);
    }
    sk_df[b->nterms] = info->df;
    sk_cf[b->nterms] = info->cf;
    return oracle_term_cb(ctx, term, len, info);
}

/* Compares the Xapian document x of record `id` with what Souk stored for it. */
static void compare_document(souk_reader *r, const char *id, const xdoc *x)
{
    uint32_t d;
    int rc = souk_reader_docid(r, id, strlen(id), &d);
    if (rc != 0 || d >= sk.ndocs) {
        bad.missing_docs++;
        bad.docs++;
        if (bad.missing_docs <= MAX_SHOWN)
            fprintf(stderr, "document '%s' is not in Souk's index (rc %d)\n", id, rc);
        return;
    }
    seen.docs++;
    uint64_t before = bad.doclen + bad.term_only_souk + bad.term_only_xapian + bad.wdf +
                      bad.positions + bad.termlist;
    uint32_t sl = 0;
    REQUIRE(souk_reader_doclen(r, d, &sl) == 0);
    if (sl != x->len) {
        bad.doclen++;
        if (bad.doclen <= MAX_SHOWN)
            fprintf(stderr, "document '%s': length %u in Souk, %llu from TermGenerator\n", id, sl,
                    (unsigned long long)x->len);
    }
    const oracle_doc *od = &sk.docs[d];
    size_t i = 0, j = 0;
    while (i < od->n || j < x->n) {
        const oracle_posting *sp = i < od->n ? &od->p[i] : NULL;
        const xterm *xt = j < x->n ? &x->t[j] : NULL;
        int c = !sp   ? 1
                : !xt ? -1
                      : cmp_bytes(sk.terms[sp->term], sk.lens[sp->term], x->buf + xt->off, xt->len);
        if (c < 0) {
            if (bad.term_only_souk++ < MAX_SHOWN) {
                fprintf(stderr, "document '%s': term ", id);
                print_term(sk.terms[sp->term], sk.lens[sp->term]);
                fprintf(stderr, " (wdf %u) is in Souk's postings, not from TermGenerator\n",
                        sp->wdf);
            }
            i++;
            continue;
        }
        if (c > 0) {
            if (bad.term_only_xapian++ < MAX_SHOWN) {
                fprintf(stderr, "document '%s': term ", id);
                print_term(x->buf + xt->off, xt->len);
                fprintf(stderr, " from TermGenerator (wdf %u) is missing in Souk's postings\n",
                        xt->wdf);
            }
            j++;
            continue;
        }
        seen.terms++;
        seen.positions += xt->npos;
        int wdf_bad = sp->wdf != xt->wdf;
        int pos_bad = sp->npos != xt->npos ||
                      memcmp(sk.pos + sp->pos_at, x->pos + xt->pos_at, xt->npos * sizeof *x->pos);
        bad.wdf += wdf_bad;
        bad.positions += pos_bad;
        if ((wdf_bad || pos_bad) && (wdf_bad ? bad.wdf : bad.positions) <= MAX_SHOWN) {
            fprintf(stderr, "document '%s': term ", id);
            print_term(x->buf + xt->off, xt->len);
            fprintf(stderr, ": %s\n",
                    wdf_bad && pos_bad ? "wdf and positions differ"
                    : wdf_bad          ? "wdf differs"
                                       : "positions differ");
            print_positions("Souk         ", sp->wdf, sk.pos + sp->pos_at, sp->npos);
            print_positions("TermGenerator", xt->wdf, x->pos + xt->pos_at, xt->npos);
        }
        i++;
        j++;
    }
    /* The term list Souk keeps for exact deletes and updates must hold the same terms. */
    tlwalk tw = {x, 0, id, 0};
    REQUIRE(souk_reader_termlist(r, d, termlist_cb, &tw) == 0);
    tw.bad += x->n - tw.at;
    bad.termlist += tw.bad != 0;
    if (bad.doclen + bad.term_only_souk + bad.term_only_xapian + bad.wdf + bad.positions +
            bad.termlist !=
        before)
        bad.docs++;
}

/* Xapian's dictionary against Souk's (sk.terms, byte order): the same terms, df and cf. */
typedef struct dictwalk {
    size_t at;
} dictwalk;

static int dict_cb(void *ctx, const char *term, size_t len, uint32_t df, uint64_t cf)
{
    dictwalk *w = ctx;
    while (w->at < sk.nterms && cmp_bytes(sk.terms[w->at], sk.lens[w->at], term, len) < 0) {
        if (bad.dict_only_souk++ < MAX_SHOWN) {
            fprintf(stderr, "term ");
            print_term(sk.terms[w->at], sk.lens[w->at]);
            fprintf(stderr, " (in %u documents) is in Souk's dictionary, not Xapian's\n",
                    sk_df[w->at]);
        }
        w->at++;
    }
    if (w->at == sk.nterms || cmp_bytes(sk.terms[w->at], sk.lens[w->at], term, len) != 0) {
        if (bad.dict_only_xapian++ < MAX_SHOWN) {
            fprintf(stderr, "term ");
            print_term(term, len);
            fprintf(stderr, " (in %u documents) is in Xapian's dictionary, not Souk's\n", df);
        }
        return 0;
    }
    seen.dict_terms++;
    bad.df += sk_df[w->at] != df;
    bad.cf += sk_cf[w->at] != cf;
    if ((sk_df[w->at] != df || sk_cf[w->at] != cf) && bad.df + bad.cf <= MAX_SHOWN) {
        fprintf(stderr, "term ");
        print_term(term, len);
        fprintf(stderr, ": Souk df %u cf %llu, Xapian df %u cf %llu\n", sk_df[w->at],
                (unsigned long long)sk_cf[w->at], df, (unsigned long long)cf);
    }
    w->at++;
    return 0;
}

static uint32_t *souk2x; /* Souk docid -> Xapian docid */

/* ---------------------------------------------------------------- queries */

/* Runs every query on both and compares the top K; returns the number compared. */
static size_t compare_queries(const char *name, souk_index *ix, const char *xpath, qlist *qs,
                              unsigned flags, size_t *mismatches)
{
    char err[512];
    souk_searcher *s;
    souk_xdb *x;
    REQUIRE(souk_searcher_new(ix, &s) == 0);
    REQUIRE(souk_xdb_open(xpath, 0, &x, err, sizeof err) == 0);
    size_t nf;
    const souk_qp_field *qf = souk_searcher_fields(s, &nf);
    const char *lang = souk_index_schema(ix)->default_language;
    enum { XMAX = 4 * K };
    uint32_t xd[XMAX];
    double xs[XMAX];
    souk_hit hits[K];
    size_t compared = 0, local_bad = 0;
    for (size_t i = 0; i < qs->n; i++) {
        const char *q = qs->q[i];
        size_t nx = 0, nh = 0;
        int xrc = souk_xdb_search(x, q, strlen(q), lang, qf, nf, flags, 0, XMAX, xd, xs, &nx, NULL);
        souk_search_opts o = {K, SOUK_BM25_DEFAULT, 0, NULL, flags, 0, NULL};
        int rc = souk_search(s, q, strlen(q), &o, hits, &nh, NULL, err, sizeof err);
        char what[600];
        snprintf(what, sizeof what, "%s: %.200s", name, q);
        if (rc != 0 || xrc != 0) {
            if ((rc != 0) != (xrc != 0)) {
                fprintf(stderr, "%s: Souk rc %d (%s), Xapian rc %d\n", what, rc, err, xrc);
                local_bad++;
            }
            continue;
        }
        for (size_t k = 0; k < nh; k++)
            hits[k].docid = souk2x[hits[k].docid]; /* Xapian's docids */
        if (!oracle_equal(what, hits, nh, xd, xs, nx, K))
            local_bad++;
        compared++;
    }
    printf("test_ingest_oracle: %s: %zu queries, %zu compared, %zu mismatches\n", name, qs->n,
           compared, local_bad);
    *mismatches += local_bad;
    souk_xdb_close(x);
    souk_searcher_free(s);
    return compared;
}

/* ---------------------------------------------------------------- main */

static char *run(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    if (!p)
        return NULL;
    size_t cap = 1 << 16, n = 0, r;
    char *out = malloc(cap);
    while ((r = fread(out + n, 1, cap - n - 1, p)) > 0)
        n += r;
    out[n] = 0;
    if (pclose(p) != 0) {
        free(out);
        return NULL;
    }
    return out;
}

typedef struct record {
    char *line;
    size_t len;
    char *id;
    size_t line_no;
    size_t last; /* index of the id's last record (its final version) */
} record;

static int cmp_record_id(const void *a, const void *b)
{
    const record *x = *(record *const *)a, *y = *(record *const *)b;
    int c = strcmp(x->id, y->id);
    return c ? c : (x->line_no > y->line_no) - (x->line_no < y->line_no);
}

int main(void)
{
    souk_alloc_init();
    double t0 = now_secs();
    const char *deb = debian_catalog();
    if (!deb)
        return TEST_SKIP;
    REQUIRE(mkdtemp(tmp));
    char cmd[8192], nd[512], dir[512], xp[512], schema[4096], lang[32], err[512];
    /* Sanitizer and coverage builds run on a prefix of the catalog (tests/CMakeLists.txt). */
    const char *lim = getenv("SOUK_INGEST_ORACLE_DOCS");
    size_t min_docs = lim ? (size_t)atol(lim) - 10 : 60000; /* whole catalog: 63,440 records */
    snprintf(nd, sizeof nd, "%s/debian.ndjson", tmp);
    snprintf(dir, sizeof dir, "%s/souk", tmp);
    snprintf(xp, sizeof xp, "%s/xapian", tmp);
    snprintf(schema, sizeof schema, "%s/indexer/schemas/debian-packages.json", SOUK_SOURCE_DIR);
    snprintf(cmd, sizeof cmd, "xz -dc '%s' | head -n %s > '%s'", deb, lim ? lim : "1000000", nd);
    REQUIRE(system(cmd) == 0);

    /* Souk: the real program. Batches of 20,000 records: the first goes into an empty index
     * (the bulk path), the later ones are merged into the postings already there. */
    snprintf(cmd, sizeof cmd,
             "'%s/souk-index' --data '%s' --schema '%s' catalog '%s' --batch 20000 --quiet",
             SOUK_BIN_DIR, dir, schema, nd);
    char *out = run(cmd);
    REQUIRE(out);
    cJSON *sum = cJSON_Parse(out);
    REQUIRE(sum);
    double t_souk = now_secs();

    /* The records and their ids. An id repeated in the stream keeps the docid of its first
     * record and the content of its last (docs/index-format.md: a docid is given when an id
     * first arrives; the last version wins). */
    record *recs = NULL;
    size_t nrecs = 0, capr = 0;
    FILE *f = fopen(nd, "r");
    REQUIRE(f);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        if (nrecs == capr) {
            capr = capr ? capr * 2 : 65536;
            recs = realloc(recs, capr * sizeof *recs);
        }
        const char *idp = json_string_value(line, "id");
        REQUIRE(idp);
        const char *ide = strchr(idp, '"');
        REQUIRE(ide && memchr(idp, '\\', (size_t)(ide - idp)) == NULL);
        recs[nrecs] = (record){strndup(line, (size_t)n), (size_t)n,
                               strndup(idp, (size_t)(ide - idp)), nrecs, nrecs};
        nrecs++;
    }
    free(line);
    fclose(f);
    record **by_id = malloc((nrecs + 1) * sizeof *by_id);
    for (size_t i = 0; i < nrecs; i++)
        by_id[i] = &recs[i];
    qsort(by_id, nrecs, sizeof *by_id, cmp_record_id);
    size_t distinct = 0, repeated = 0;
    for (size_t i = 0; i < nrecs;) {
        size_t k = i;
        while (k + 1 < nrecs && strcmp(by_id[k + 1]->id, by_id[i]->id) == 0)
            k++;
        by_id[i]->last = by_id[k]->line_no; /* the first record points at the last */
        for (size_t m = i + 1; m <= k; m++)
            by_id[m]->last = SIZE_MAX; /* a later record of a repeated id */
        distinct++;
        repeated += k - i;
        i = k + 1;
    }
    free(by_id);

    /* Souk's index, its postings inverted per document. */
    souk_index *ix;
    REQUIRE(souk_index_open(dir, NULL, SOUK_INDEX_RDONLY, &ix, err, sizeof err) == 0);
    souk_reader *r;
    REQUIRE(souk_reader_new(ix, &r) == 0);
    souk_stats st;
    REQUIRE(souk_reader_stats(r, &st) == 0);
    sk.r = r;
    sk.ndocs = st.next_docid;
    sk.docs = calloc(sk.ndocs + 1, sizeof *sk.docs);
    REQUIRE(souk_reader_terms(r, NULL, 0, souk_term_cb, &sk) == 0 && !sk.failed);
    double t_invert = now_secs();

    /* Xapian: TermGenerator on the same records, each document compared as it is made. */
    load_schema(schema, lang, sizeof lang);
    REQUIRE(strcmp(lang, "en") == 0); /* docs/api.md: en is stemmed with Xapian's english */
    xtg_db *x;
    REQUIRE(xtg_create(xp, "english", &x, err, sizeof err) == 0);
    souk2x = calloc(sk.ndocs + 1, sizeof *souk2x);
    xdoc xd;
    memset(&xd, 0, sizeof xd);
    double t_analysis = 0, t_add = 0;
    for (size_t i = 0; i < nrecs; i++) {
        if (recs[i].last == SIZE_MAX)
            continue;
        const record *rc = &recs[recs[i].last];
        double a0 = now_secs();
        cJSON *rec = cJSON_ParseWithLength(rc->line, rc->len);
        REQUIRE(rec);
        build_document(x, rec);
        cJSON_Delete(rec);
        xd.n = xd.blen = xd.npos = 0;
        xd.len = 0;
        REQUIRE(xtg_doc_terms(x, xdoc_add, &xd) == 0);
        double a1 = now_secs();
        compare_document(r, rc->id, &xd);
        double a2 = now_secs();
        uint32_t xdocid = 0;
        if (xtg_doc_end(x, rc->id, strlen(rc->id), &xdocid) != 0) {
            fprintf(stderr, "Xapian: %s\n", xtg_errmsg(x));
            return 1;
        }
        uint32_t sd;
        if (souk_reader_docid(r, rc->id, strlen(rc->id), &sd) == 0 && sd < sk.ndocs)
            souk2x[sd] = xdocid;
        t_analysis += a1 - a0;
        t_add += now_secs() - a2;
    }
    free(xd.t);
    free(xd.buf);
    free(xd.pos);
    REQUIRE(xtg_commit(x) == 0);
    double t_xapian = now_secs();

    /* The collection: document count, total length, and every term's df and cf. */
    uint64_t xdocs, xlen;
    REQUIRE(xtg_stats(x, &xdocs, &xlen) == 0);
    CHECK_EQ_U64(st.docs, xdocs);
    CHECK_EQ_U64(st.total_len, xlen);
    dictwalk dw = {0};
    REQUIRE(xtg_terms(x, dict_cb, &dw) == 0);
    for (; dw.at < sk.nterms; dw.at++)
        bad.dict_only_souk++;
    xtg_close(x);
    double t_dict = now_secs();

    printf("test_ingest_oracle: %zu records, %zu distinct ids (%zu repeated); souk-index %.1f s: "
           "%s",
           nrecs, distinct, repeated, t_souk - t0, out);
    printf("test_ingest_oracle: TermGenerator and comparison %.1f s (analysis %.1f s, adding to "
           "Xapian %.1f s), Souk's postings read in %.1f s, dictionaries compared in %.1f s; "
           "%llu code terms, %llu boolean terms over %d bytes left out\n",
           t_xapian - t_invert, t_analysis, t_add, t_invert - t_souk, t_dict - t_xapian,
           (unsigned long long)code_terms, (unsigned long long)long_terms, MAX_TERM_BYTES);
    printf("test_ingest_oracle: compared %llu documents: %llu terms with their wdf and %llu "
           "positions, %llu stored term-list terms; %llu dictionary terms (Souk has %zu)\n",
           (unsigned long long)seen.docs, (unsigned long long)seen.terms,
           (unsigned long long)seen.positions, (unsigned long long)seen.termlist_terms,
           (unsigned long long)seen.dict_terms, sk.nterms);
    printf("test_ingest_oracle: mismatches: %llu documents (%llu missing); lengths %llu, terms "
           "only in Souk %llu, only from TermGenerator %llu, wdf %llu, positions %llu, stored term "
           "lists %llu; dictionary terms only in Souk %llu, only in Xapian %llu, df %llu, cf "
           "%llu\n",
           (unsigned long long)bad.docs, (unsigned long long)bad.missing_docs,
           (unsigned long long)bad.doclen, (unsigned long long)bad.term_only_souk,
           (unsigned long long)bad.term_only_xapian, (unsigned long long)bad.wdf,
           (unsigned long long)bad.positions, (unsigned long long)bad.termlist,
           (unsigned long long)bad.dict_only_souk, (unsigned long long)bad.dict_only_xapian,
           (unsigned long long)bad.df, (unsigned long long)bad.cf);
    CHECK(nrecs >= min_docs);
    CHECK_EQ_U64(cJSON_GetObjectItem(sum, "read")->valuedouble, nrecs);
    CHECK_EQ_U64(cJSON_GetObjectItem(sum, "indexed")->valuedouble, distinct);
    CHECK_EQ_U64(cJSON_GetObjectItem(sum, "rejected")->valuedouble, 0);
    cJSON_Delete(sum);
    free(out);
    CHECK_EQ_U64(long_terms, 0);
    CHECK_EQ_U64(seen.docs, distinct);
    CHECK_EQ_U64(bad.docs, 0);
    CHECK_EQ_U64(bad.dict_only_souk + bad.dict_only_xapian + bad.df + bad.cf, 0);
    /* Not vacuous: the whole catalog has 6.8 million (document, term) pairs, 4.4 million
     * positions and 267,000 terms; a prefix proportionally fewer. */
    CHECK(seen.terms >= (uint64_t)min_docs * 90);
    CHECK(seen.positions >= (uint64_t)min_docs * 60);
    CHECK(seen.dict_terms >= (uint64_t)min_docs * 2);
    CHECK(code_terms > 0);
    for (size_t i = 0; i < nrecs; i++) {
        free(recs[i].line);
        free(recs[i].id);
    }
    free(recs);
    for (size_t i = 0; i < sk.nterms; i++)
        free(sk.terms[i]);
    for (size_t d = 0; d <= sk.ndocs; d++)
        free(sk.docs[d].p);
    free(sk.terms);
    free(sk.lens);
    free(sk.pos);
    free(sk.docs);
    free(sk_df);
    free(sk_cf);
    souk_reader_free(r);

    /* Real queries: Souk's top 10 against Enquire with BM25 on the TermGenerator database. */
    qlist qs = {0};
    const char *p;
    size_t want = 0;
    if ((p = shared_data("queries/wands/query.csv"))) {
        qlog_load_column(&qs, p, 1, 480, 1);
        want += 470;
    }
    if ((p = shared_data("queries/algolia-bestbuy/query_suggestions.json"))) {
        qlog_load_bestbuy(&qs, p, 1000);
        want += 500;
    }
    if ((p = shared_data("queries/msmarco/topics.msmarco-passage.dev-subset.txt"))) {
        qlog_load_column(&qs, p, 1, qs.n + 400, 0);
        want += 390;
    }
    parts_absent += want < 1360;
    size_t qbad = 0;
    CHECK(compare_queries("queries", ix, xp, &qs, 0, &qbad) >= want);
    qlist and_qs = {0};
    for (size_t i = 0; i < qs.n; i += 4)
        qlist_add(&and_qs, qs.q[i]);
    CHECK(compare_queries("queries, AND", ix, xp, &and_qs, SOUK_QP_DEFAULT_AND, &qbad) >= want / 4);
    /* Positions, prefixed and boolean terms decide these. */
    static const char *const special[] = {
        "\"text editor\"",
        "title:\"text editor\"",
        "\"version control system\"",
        "\"web server\"",
        "title:editor",
        "\"command line\" -python",
        "section:games strategy",
        "tags:role::program",
        "\"gnu c\" ADJ/3 compiler",
        "network NEAR/3 tool",
        "title:python3",
        "\"shared library\" AND gtk",
        "section:devel python",
        "+database +server -mysql",
        "maintainer:nobody",
    };
    qlist sq = {0};
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++)
        qlist_add(&sq, special[i]);
    CHECK(compare_queries("phrases and fields", ix, xp, &sq, 0, &qbad) == sq.n);
    CHECK_EQ_U64(qbad, 0);
    qlist_free(&qs);
    qlist_free(&and_qs);
    qlist_free(&sq);
    souk_index_close(ix);

    free(souk2x);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmp);
    printf("test_ingest_oracle: %.1f s in all\n", now_secs() - t0);
    if (!check_failures && parts_absent) {
        fprintf(stderr, "test_ingest_oracle: SKIP: %d part(s) had no data (see above)\n",
                parts_absent);
        return TEST_SKIP;
    }
    return check_done("test_ingest_oracle");
}
