/* document.c: catalog record -> analyzed document (see souk/document.h). */
#include "core/alloc.h"
#include "text/codes.h"
#include "catalog/json_fast.h"
#include "core/qsort_inline.h"
#include "souk/document.h"
#include "souk/analysis.h"
#include "souk/buf.h"
#include "souk/json_strict.h"
#include "souk/souk.h"
#include "core/varint.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <float.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct tevent {
    uint32_t off, len; /* term bytes in tbuf */
    uint32_t pos;
    uint32_t wdf;
    uint32_t uid; /* distinct term the occurrence belongs to */
} tevent;

/* The stored-fields JSON being printed, and whether an append ran out of memory (looked at
 * once, when the document is done). */
typedef struct jbuf {
    souk_buf b;
    int oom;
} jbuf;

/* A distinct term of the document being built. */
typedef struct uterm {
    uint64_t hash;
    uint64_t prefix; /* souk__prefix8, for sorting */
    uint32_t off, len;
    uint32_t wdf, npos, lastpos;
    uint32_t rank; /* position in byte order */
    uint32_t fill; /* positions written so far */
} uterm;

/* A distinct term in the sort by bytes. */
typedef struct urank {
    uint64_t prefix;
    uint32_t idx;
} urank;

struct souk_docbuilder {
    const souk_schema *s;
    souk_analyzer *an;
    char *tbuf;
    size_t tlen, tcap;
    tevent *ev;
    size_t nev, capev;
    uint32_t *order;
    size_t capord;
    urank *urk, *urk2; /* urk2: the bucket pass's output */
    size_t capurk, capurk2;
    souk_dterm *terms;
    size_t capterms;
    uterm *u;
    size_t capu;
    uint32_t *umap; /* open addressing: uterm index + 1 */
    size_t umapcap;
    uint32_t *pos;
    size_t cappos;
    souk_dattr *attrs;
    size_t nattrs, capattrs;
    char *abuf; /* keyword attribute values; attrs hold offsets until the end */
    size_t alen, acap;
    jbuf *st;                         /* stored-fields JSON of the last document */
    souk_json_arena *ja;              /* the record's parse tree (json_fast.h) */
    void *zc;                         /* compression state (souk_blob_state_new) */
    uint8_t *tlraw, *tlblob, *stblob; /* term list and stored blobs of the last document */
    size_t tlrawcap, tlblobcap, stblobcap;
    int failed; /* out of memory inside a callback */
};

size_t souk_utf8_check(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
#if defined(__SSE2__)
        /* ASCII 16 bytes at a time. */
        while (i + 16 <= len && !_mm_movemask_epi8(_mm_loadu_si128((const __m128i *)(s + i))))
            i += 16;
        if (i == len)
            break;
#endif
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return i;
        }
        for (size_t k = 1; k <= n; k++) {
            if (i + k >= len || (s[i + k] & 0xc0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return i;
        i += n + 1;
    }
    return len;
}

int souk_docbuilder_new(const souk_schema *s, souk_docbuilder **out)
{
    souk_docbuilder *b = souk_calloc(1, sizeof *b);
    if (!b)
        return SOUK_ENOMEM;
    b->s = s;
    b->zc = souk_blob_state_new();
    b->st = souk_calloc(1, sizeof *b->st);
    b->ja = souk__json_arena_new();
    int rc = b->zc && b->st && b->ja ? souk_analyzer_new(&b->an) : SOUK_ENOMEM;
    if (rc) {
        souk_blob_state_free(b->zc);
        souk__json_arena_free(b->ja);
        souk_free(b->st);
        souk_free(b);
        return rc;
    }
    *out = b;
    return SOUK_OK;
}

void souk_docbuilder_free(souk_docbuilder *b)
{
    if (!b)
        return;
    souk_analyzer_free(b->an);
    souk_free(b->tbuf);
    souk_free(b->ev);
    souk_free(b->order);
    souk_free(b->urk);
    souk_free(b->urk2);
    souk_free(b->terms);
    souk_free(b->u);
    souk_free(b->umap);
    souk_free(b->pos);
    souk_free(b->attrs);
    souk_free(b->abuf);
    souk__json_arena_free(b->ja);
    if (b->st)
        souk_buf_free(&b->st->b);
    souk_free(b->st);
    souk_blob_state_free(b->zc);
    souk_free(b->tlraw);
    souk_free(b->tlblob);
    souk_free(b->stblob);
    souk_free(b);
}

void souk_docbuilder_counts(const souk_docbuilder *b, uint64_t *fast, uint64_t *fallback)
{
    souk_analyzer_counts(b->an, fast, fallback);
}

/* Records one term occurrence (analyzer callback, and boolean terms). */
static void add_event(void *ctx, const char *term, size_t len, uint32_t pos, uint32_t wdf)
{
    souk_docbuilder *b = ctx;
    if (len == 0 || len > 245)
        return; /* LMDB keys are at most 511 bytes; Xapian's own limit is lower */
    if (souk_grow_first((void **)&b->tbuf, &b->tcap, b->tlen + len, 1, SIZE_MAX, 256) ||
        souk_grow_first((void **)&b->ev, &b->capev, b->nev + 1, sizeof *b->ev, SIZE_MAX, 256)) {
        b->failed = 1;
        return;
    }
    memcpy(b->tbuf + b->tlen, term, len);
    tevent *e = &b->ev[b->nev++];
    e->off = (uint32_t)b->tlen;
    e->len = (uint32_t)len;
    e->pos = pos;
    e->wdf = wdf;
    b->tlen += len;
}

/* Analyzes one text into the document's occurrences: add_event for each term the analyzer
 * left, without a callback per term (souk_analyze_view). */
static int analyze_text(souk_docbuilder *b, const char *text, size_t len, const char *lang,
                        const char *prefix, uint32_t weight, uint32_t *termpos)
{
    souk_term_view v;
    int rc = souk_analyze_view(b->an, text, len, lang, prefix, weight, termpos, &v);
    if (rc)
        return rc;
    size_t base = b->tlen;
    if (souk_grow_first((void **)&b->tbuf, &b->tcap, base + v.nbytes, 1, SIZE_MAX, 256) ||
        souk_grow_first((void **)&b->ev, &b->capev, b->nev + v.n, sizeof *b->ev, SIZE_MAX, 256)) {
        b->failed = 1;
        return SOUK_OK;
    }
    if (v.nbytes) /* an empty text leaves no buffer (bytes may be NULL) */
        memcpy(b->tbuf + base, v.bytes, v.nbytes);
    b->tlen += v.nbytes;
    for (size_t i = 0; i < v.n; i++) {
        const souk_term_occ *o = &v.occ[i];
        if (o->len == 0 || o->len > 245)
            continue; /* as add_event */
        tevent *e = &b->ev[b->nev++];
        e->off = (uint32_t)(base + o->off);
        e->len = o->len;
        e->pos = o->pos;
        e->wdf = weight;
    }
    return SOUK_OK;
}

/* add_event, and each word that can be a typo candidate (from "a" on, as engine/query/typo.c reads
 * them) also as a SOUK_TYPO_PREFIX term without positions: for schemas where some text field
 * opts out of typos (souk_schema.typo_words). */
static void add_event_typo(void *ctx, const char *term, size_t len, uint32_t pos, uint32_t wdf)
{
    add_event(ctx, term, len, pos, wdf);
    if (!pos || len > 48 || (unsigned char)term[0] < 'a')
        return;
    char t[64];
    memcpy(t, SOUK_TYPO_PREFIX, 6);
    memcpy(t + 6, term, len);
    add_event(ctx, t, 6 + len, 0, wdf);
}

/* Distinct-term order: by term bytes, the 8-byte prefix kept beside the index so that most
 * comparisons read nothing else. */
static inline int uterm_less(const souk_docbuilder *bd, urank a, urank b)
{
    if (a.prefix != b.prefix)
        return a.prefix < b.prefix;
    const uterm *x = &bd->u[a.idx], *y = &bd->u[b.idx];
    size_t n = x->len < y->len ? x->len : y->len;
    int r = memcmp(bd->tbuf + x->off, bd->tbuf + y->off, n);
    return r ? r < 0 : x->len < y->len;
}

/* Sorts distinct-term indexes by term bytes (qsort_inline.h: glibc's qsort_r through a function
 * pointer was a tenth of indexing time). Distinct terms never compare equal. */
SOUK_QSORT_DEFINE(sort_uterms, urank, const souk_docbuilder *, uterm_less)

/* Sorts b->urk[0, n) by term bytes; the result is in *out (b->urk or b->urk2). A document's
 * terms spread over many first bytes (field prefixes, stems, words), so they are first bucketed
 * by that byte and each bucket is sorted alone: about a third of the comparisons, and
 * comparisons (unpredictable branches) were most of the sort's time. */
static void sort_terms(souk_docbuilder *b, uint32_t n, urank **out)
{
    if (n < 48) {
        sort_uterms(b, b->urk, n);
        *out = b->urk;
        return;
    }
    uint32_t at[257];
    memset(at, 0, sizeof at);
    for (uint32_t i = 0; i < n; i++)
        at[(b->urk[i].prefix >> 56) + 1]++;
    for (int k = 0; k < 256; k++)
        at[k + 1] += at[k];
    uint32_t start[257];
    memcpy(start, at, sizeof start);
    for (uint32_t i = 0; i < n; i++)
        b->urk2[at[b->urk[i].prefix >> 56]++] = b->urk[i];
    for (int k = 0; k < 256; k++)
        if (start[k + 1] - start[k] > 1)
            sort_uterms(b, b->urk2 + start[k], start[k + 1] - start[k]);
    *out = b->urk2;
}

/* Aggregates the document's term occurrences into distinct terms, sorted by bytes, with wdf
 * and ascending positions: a hash table groups the occurrences, and only the distinct terms
 * are sorted. Returns the number of distinct terms, or -1 when out of memory, or -2 when
 * positions of a term arrive out of order (the caller then sorts every occurrence). */
static long aggregate_hashed(souk_docbuilder *b, uint32_t *doclen_out)
{
    size_t cap = 64;
    while (cap < b->nev * 2 + 2)
        cap *= 2;
    if (souk_grow_first((void **)&b->umap, &b->umapcap, cap, sizeof *b->umap, SIZE_MAX, 256) ||
        souk_grow_first((void **)&b->u, &b->capu, b->nev + 1, sizeof *b->u, SIZE_MAX, 256) ||
        souk_grow_first((void **)&b->urk, &b->capurk, b->nev + 1, sizeof *b->urk, SIZE_MAX, 256) ||
        souk_grow_first((void **)&b->urk2, &b->capurk2, b->nev + 1, sizeof *b->urk2, SIZE_MAX,
                        256) ||
        souk_grow_first((void **)&b->terms, &b->capterms, b->nev + 1, sizeof *b->terms, SIZE_MAX,
                        256) ||
        souk_grow_first((void **)&b->pos, &b->cappos, b->nev + 1, sizeof *b->pos, SIZE_MAX, 256))
        return -1;
    memset(b->umap, 0, cap * sizeof *b->umap);
    size_t mask = cap - 1;
    uint32_t nu = 0, doclen = 0;
    for (size_t i = 0; i < b->nev; i++) {
        tevent *e = &b->ev[i];
        const char *t = b->tbuf + e->off;
        uint64_t h = souk__hash(t, e->len);
        size_t slot = h & mask;
        uterm *u = NULL;
        while (b->umap[slot]) {
            uterm *c = &b->u[b->umap[slot] - 1];
            if (c->hash == h && c->len == e->len && souk__bytes_eq(b->tbuf + c->off, t, e->len)) {
                u = c;
                break;
            }
            slot = (slot + 1) & mask;
        }
        if (!u) {
            u = &b->u[nu];
            u->hash = h;
            u->prefix = souk__prefix8(t, e->len);
            u->off = e->off;
            u->len = e->len;
            u->wdf = u->npos = u->lastpos = u->fill = 0;
            b->umap[slot] = ++nu;
        }
        e->uid = (uint32_t)(u - b->u);
        u->wdf += e->wdf;
        doclen += e->wdf;
        if (e->pos) {
            if (u->npos && e->pos < u->lastpos)
                return -2;
            if (!u->npos || e->pos != u->lastpos) {
                u->npos++;
                u->lastpos = e->pos;
            }
        }
    }
    for (uint32_t i = 0; i < nu; i++) {
        b->urk[i].prefix = b->u[i].prefix;
        b->urk[i].idx = i;
    }
    urank *rk;
    sort_terms(b, nu, &rk);
    uint32_t np = 0;
    for (uint32_t r = 0; r < nu; r++) {
        uterm *u = &b->u[rk[r].idx];
        souk_dterm *t = &b->terms[r];
        u->rank = r;
        t->term = b->tbuf + u->off;
        t->len = u->len;
        t->wdf = u->wdf;
        t->npos = u->npos;
        t->pos_off = np;
        t->hash = u->hash;
        np += u->npos;
    }
    for (size_t i = 0; i < b->nev; i++) {
        const tevent *e = &b->ev[i];
        if (!e->pos)
            continue;
        uterm *u = &b->u[e->uid];
        souk_dterm *t = &b->terms[u->rank];
        if (u->fill && b->pos[t->pos_off + u->fill - 1] == e->pos)
            continue; /* the same occurrence twice */
        b->pos[t->pos_off + u->fill++] = e->pos;
    }
    *doclen_out = doclen;
    return nu;
}

/* qsort_r comparator of event indexes: by term bytes, then position. */
static int cmp_event(const void *a, const void *b, void *arg)
{
    const souk_docbuilder *bd = arg;
    const tevent *x = &bd->ev[*(const uint32_t *)a], *y = &bd->ev[*(const uint32_t *)b];
    size_t n = x->len < y->len ? x->len : y->len;
    int r = memcmp(bd->tbuf + x->off, bd->tbuf + y->off, n);
    if (r)
        return r;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static int add_attr(souk_docbuilder *b, const souk_field *f, double num, const char *str,
                    size_t len)
{
    if (souk_grow_first((void **)&b->attrs, &b->capattrs, b->nattrs + 1, sizeof *b->attrs, SIZE_MAX,
                        256))
        return SOUK_ENOMEM;
    souk_dattr *a = &b->attrs[b->nattrs++];
    a->field = f->id;
    a->type = (uint8_t)f->type;
    a->num = num;
    a->str = NULL;
    a->str_len = (uint32_t)len;
    if (str) {
        /* Copy now (cJSON's memory goes away); the pointer is set once abuf stops moving. */
        if (souk_grow_first((void **)&b->abuf, &b->acap, b->alen + len + 1, 1, SIZE_MAX, 256))
            return SOUK_ENOMEM;
        memcpy(b->abuf + b->alen, str, len);
        a->str = (const char *)(uintptr_t)(b->alen + 1); /* offset + 1; 0 means a number */
        b->alen += len;
    }
    return SOUK_OK;
}

typedef struct code_ctx {
    souk_docbuilder *b;
    uint32_t wdf;
} code_ctx;

/* A joined code term (codes.c): scored, without positions. */
static void add_code(void *ctx, const char *term, size_t len)
{
    code_ctx *c = ctx;
    add_event(c->b, term, len, 0, c->wdf);
}

/* Adds prefix+value as a boolean term (wdf 0). */
static void add_boolean(souk_docbuilder *b, const char *prefix, const char *v, size_t len)
{
    char term[512];
    size_t pl = strlen(prefix);
    if (pl + len > 245)
        return;
    memcpy(term, prefix, pl);
    memcpy(term + pl, v, len);
    add_event(b, term, pl + len, 0, 0);
}

/* Normalizes a language value ("en-US", "eng", "French") to a code souk_language_stemmer knows,
 * or returns NULL. */
static const char *language_of(const char *v)
{
    static const char *const three[][2] = {
        {"eng", "en"}, {"ger", "de"}, {"deu", "de"}, {"fre", "fr"}, {"fra", "fr"},
        {"spa", "es"}, {"ita", "it"}, {"dut", "nl"}, {"nld", "nl"}, {"por", "pt"},
        {"rus", "ru"}, {"chi", "zh"}, {"zho", "zh"}, {"jpn", "ja"}, {"kor", "ko"},
        {"swe", "sv"}, {"dan", "da"}, {"nor", "no"}, {"fin", "fi"}, {"tur", "tr"}};
    char buf[16];
    size_t n = 0;
    while (v[n] && v[n] != '-' && v[n] != '_' && n < sizeof buf - 1) {
        buf[n] = (char)tolower((unsigned char)v[n]);
        n++;
    }
    buf[n] = 0;
    for (size_t i = 0; i < sizeof three / sizeof three[0]; i++)
        if (strcmp(buf, three[i][0]) == 0)
            return three[i][1];
    return souk_language_stemmer(buf) ? souk_language_stemmer(buf) : NULL;
}

static int has_control(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 1;
    return 0;
}

#define BAD(...)                                                                                   \
    do {                                                                                           \
        snprintf(err, errlen, __VA_ARGS__);                                                        \
        rc = SOUK_EINVAL;                                                                          \
        goto out;                                                                                  \
    } while (0)

/* Validates a keyword value. */
static int check_keyword(const souk_field *f, const cJSON *v, char *err, size_t errlen)
{
    if (!cJSON_IsString(v)) {
        snprintf(err, errlen, "field '%s' must be a string%s", f->name,
                 (f->flags & SOUK_F_MULTI) ? " or an array of strings" : "");
        return SOUK_EINVAL;
    }
    size_t len = strlen(v->valuestring);
    if (len > f->max_bytes) {
        snprintf(err, errlen, "field '%s' is %zu bytes, over its limit of %u", f->name, len,
                 f->max_bytes);
        return SOUK_ETOOBIG;
    }
    if (has_control(v->valuestring, len)) {
        snprintf(err, errlen, "field '%s' contains a control character", f->name);
        return SOUK_EINVAL;
    }
    return SOUK_OK;
}

/* ------------------------------------------------------------------ stored JSON */

/* The stored fields are printed here rather than by cJSON_PrintUnformatted (a tree of
 * references, a malloc'd string per document, sprintf and sscanf per number: 7% of indexing's
 * instructions). The output is byte for byte cJSON's: strings escaped as it does (", \, \b, \f,
 * \n, \r, \t, other control bytes as \u00xx, the rest as is), numbers as "%1.15g", or "%1.17g"
 * when 15 digits do not give the double back within an epsilon (cJSON 1.7.15's print_number). */

static char *jb_room(jbuf *j, size_t n)
{
    if (souk_buf_reserve(&j->b, n)) {
        j->oom = 1;
        return NULL;
    }
    return j->b.p + j->b.len;
}

static void jb_put(jbuf *j, const char *s, size_t n)
{
    char *d = jb_room(j, n);
    if (d) {
        memcpy(d, s, n);
        j->b.len += n;
    }
}

/* The length of the run at p[0, n) that JSON prints as is (no '"', '\\' or control byte). */
static inline size_t plain_run(const unsigned char *p, size_t n)
{
    size_t i = 0;
#if defined(__SSE2__)
    const __m128i q = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\'), c1f = _mm_set1_epi8(0x1f);
    for (; i + 16 <= n; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(p + i));
        /* Control bytes are those with max(v, 0x1f) == 0x1f (unsigned). */
        __m128i ctl = _mm_cmpeq_epi8(_mm_max_epu8(v, c1f), c1f);
        __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, q), _mm_cmpeq_epi8(v, bs)), ctl);
        int m = _mm_movemask_epi8(hit);
        if (m)
            return i + (size_t)__builtin_ctz((unsigned)m);
    }
#endif
    while (i < n && p[i] >= 32 && p[i] != '"' && p[i] != '\\')
        i++;
    return i;
}

static void jb_string(jbuf *j, const char *s)
{
    size_t n = strlen(s);
    char *d = jb_room(j, n * 6 + 2); /* every byte escaped at worst */
    if (!d)
        return;
    const unsigned char *u = (const unsigned char *)s;
    char *o = d;
    *o++ = '"';
    for (size_t i = 0; i < n;) {
        size_t k = plain_run(u + i, n - i);
        memcpy(o, u + i, k);
        o += k;
        i += k;
        if (i == n)
            break;
        unsigned char c = u[i++];
        *o++ = '\\';
        switch (c) {
        case '"':
        case '\\':
            *o++ = (char)c;
            break;
        case '\b':
            *o++ = 'b';
            break;
        case '\f':
            *o++ = 'f';
            break;
        case '\n':
            *o++ = 'n';
            break;
        case '\r':
            *o++ = 'r';
            break;
        case '\t':
            *o++ = 't';
            break;
        default:
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = "0123456789abcdef"[c >> 4];
            *o++ = "0123456789abcdef"[c & 15];
        }
    }
    *o++ = '"';
    j->b.len += (size_t)(o - d);
}

static void jb_number(jbuf *j, const cJSON *v)
{
    double d = v->valuedouble;
    char tmp[32];
    int n;
    if (isnan(d) || isinf(d)) {
        n = snprintf(tmp, sizeof tmp, "null");
    } else if (d == floor(d) && fabs(d) < 1e15 && !(d == 0 && signbit(d))) {
        /* An integer of at most 15 digits, which "%1.15g" prints in full: without printf. */
        long long x = (long long)d;
        char rev[24];
        int k = 0, neg = x < 0;
        unsigned long long u = neg ? (unsigned long long)(-x) : (unsigned long long)x;
        do {
            rev[k++] = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        n = 0;
        if (neg)
            tmp[n++] = '-';
        while (k)
            tmp[n++] = rev[--k];
    } else {
        /* cJSON's test: 15 digits unless they do not give the value back within an epsilon. */
        double back;
        n = snprintf(tmp, sizeof tmp, "%1.15g", d);
        double mx = fabs(d);
        if (sscanf(tmp, "%lg", &back) != 1 ||
            !(fabs(back - d) <= (fabs(back) > mx ? fabs(back) : mx) * DBL_EPSILON))
            n = snprintf(tmp, sizeof tmp, "%1.17g", d);
    }
    jb_put(j, tmp, (size_t)n);
}

static void jb_value(jbuf *j, const cJSON *v, int depth)
{
    if (depth > 1000) { /* cJSON's own nesting limit keeps parsed input far below this */
        j->oom = 1;
        return;
    }
    if (cJSON_IsString(v)) {
        jb_string(j, v->valuestring ? v->valuestring : "");
    } else if (cJSON_IsNumber(v)) {
        jb_number(j, v);
    } else if (cJSON_IsTrue(v)) {
        jb_put(j, "true", 4);
    } else if (cJSON_IsFalse(v)) {
        jb_put(j, "false", 5);
    } else if (cJSON_IsArray(v) || cJSON_IsObject(v)) {
        int obj = cJSON_IsObject(v);
        jb_put(j, obj ? "{" : "[", 1);
        for (const cJSON *c = v->child; c; c = c->next) {
            if (obj) {
                jb_string(j, c->string ? c->string : "");
                jb_put(j, ":", 1);
            }
            jb_value(j, c, depth + 1);
            if (c->next)
                jb_put(j, ",", 1);
        }
        jb_put(j, obj ? "}" : "]", 1);
    } else {
        jb_put(j, "null", 4);
    }
}

int souk_docbuilder_parse(souk_docbuilder *b, const char *line, size_t len, int *is_delete,
                          souk_doc *doc, char *err, size_t errlen)
{
    const souk_schema *s = b->s;
    cJSON *root = NULL;
    int owned = 0; /* root is cJSON's (the fallback), not the arena's (json_fast.h) */
    int rc = SOUK_OK;
    char idbuf[64];
    if (len > s->max_record_bytes) {
        snprintf(err, errlen, "record is %zu bytes, over the limit of %u", len,
                 s->max_record_bytes);
        return SOUK_ETOOBIG;
    }
    size_t bad = souk_utf8_check(line, len);
    if (bad != len) {
        snprintf(err, errlen, "invalid UTF-8 at byte %zu of the record", bad);
        return SOUK_EINVAL;
    }
    const char *end = NULL;
    int jrc = souk__json_parse(b->ja, line, len, &root, &end);
    if (jrc == SOUK_JSON_NOMEM) {
        root = NULL;
        rc = SOUK_ENOMEM;
        goto out;
    }
    if (jrc != SOUK_JSON_OK) {
        souk__cjson_oom_take();
        root = cJSON_ParseWithLengthOpts(line, len, &end, 0);
        owned = 1;
        if (!root && souk__cjson_oom_take()) {
            rc = SOUK_ENOMEM; /* not a malformed record: it must not be rejected */
            goto out;
        }
    }
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        size_t off = at && at >= line && at <= line + len ? (size_t)(at - line) : 0;
        if ((rc = souk_json_strict(line, len, NULL, NULL, err, errlen)) != 0)
            goto out; /* a BOM or a NUL says so rather than "malformed" */
        BAD("malformed JSON near byte %zu", off);
    }
    /* Duplicate keys, NULs (raw or \u0000: cJSON and the fast path would cut a string there,
     * so two ids could become one), a BOM, trailing data: souk/json_strict.h. */
    if ((rc = souk_json_strict(line, len, root, end, err, errlen)) != 0)
        goto out;
    if (!cJSON_IsObject(root))
        BAD("record is not a JSON object");
    const cJSON *opv = cJSON_GetObjectItemCaseSensitive(root, "op");
    int del = 0;
    if (opv) {
        if (cJSON_IsString(opv) && strcmp(opv->valuestring, "upsert") == 0)
            del = 0;
        else if (cJSON_IsString(opv) && strcmp(opv->valuestring, "delete") == 0)
            del = 1;
        else
            BAD("field 'op' must be \"upsert\" or \"delete\"");
    }
    const cJSON *idv = cJSON_GetObjectItemCaseSensitive(root, "id");
    const char *id;
    if (cJSON_IsString(idv)) {
        id = idv->valuestring;
    } else if (cJSON_IsNumber(idv) && idv->valuedouble == floor(idv->valuedouble) &&
               fabs(idv->valuedouble) < 9007199254740992.0) {
        snprintf(idbuf, sizeof idbuf, "%.0f", idv->valuedouble);
        id = idbuf;
    } else {
        BAD("field 'id' is missing or not a string");
    }
    size_t id_len = strlen(id);
    if (id_len == 0 || id_len > 256)
        BAD("field 'id' must be 1 to 256 bytes");
    if (has_control(id, id_len))
        BAD("field 'id' contains a control character");
    memset(doc, 0, sizeof *doc);
    *is_delete = del;
    if (del) {
        /* The id must outlive cJSON: keep it in the term buffer. */
        b->tlen = 0;
        if (souk_grow_first((void **)&b->tbuf, &b->tcap, id_len + 1, 1, SIZE_MAX, 256)) {
            rc = SOUK_ENOMEM;
            goto out;
        }
        memcpy(b->tbuf, id, id_len);
        doc->id = b->tbuf;
        doc->id_len = (uint32_t)id_len;
        goto out;
    }
    /* Unknown fields, and each field's type. */
    for (const cJSON *m = root->child; m; m = m->next) {
        if (strcmp(m->string, "op") == 0 || strcmp(m->string, "id") == 0)
            continue;
        const souk_field *f = souk_schema_field(s, m->string, strlen(m->string));
        if (!f) {
            if (s->reject_unknown)
                BAD("unknown field '%.64s' (not in schema '%s')", m->string, s->name);
            continue;
        }
    }
    const char *lang = s->default_language;
    if (s->language_field) {
        const cJSON *lv = cJSON_GetObjectItemCaseSensitive(root, s->language_field);
        if (cJSON_IsString(lv) && language_of(lv->valuestring))
            lang = language_of(lv->valuestring);
    }
    b->tlen = 0;
    b->nev = 0;
    b->nattrs = 0;
    b->alen = 0;
    b->failed = 0;
    jbuf *st = b->st;
    st->b.len = 0;
    st->oom = 0;
    jb_put(st, "{", 1);
    uint32_t termpos = 0;
    for (size_t fi = 0; fi < s->nfields; fi++) {
        const souk_field *f = &s->fields[fi];
        cJSON *v = cJSON_GetObjectItemCaseSensitive(root, f->name);
        if (!v || cJSON_IsNull(v))
            continue;
        switch (f->type) {
        case SOUK_FIELD_TEXT: {
            if (!cJSON_IsString(v))
                BAD("field '%s' must be a string", f->name);
            size_t tl = strlen(v->valuestring);
            if (tl > f->max_bytes) {
                snprintf(err, errlen, "field '%s' is %zu bytes, over its limit of %u", f->name, tl,
                         f->max_bytes);
                rc = SOUK_ETOOBIG;
                goto out;
            }
            const char *fl = f->language ? f->language : lang;
            uint32_t start = termpos;
            if (f->prefix[0]) {
                rc = analyze_text(b, v->valuestring, tl, fl, f->prefix, f->weight, &termpos);
                if (rc == SOUK_ENOMEM) {
                    snprintf(err, errlen, "out of memory analysing field '%s'", f->name);
                    goto out; /* not a malformed record: it must not be rejected */
                }
                if (rc)
                    BAD("field '%s': analysis failed: %s", f->name, souk_analyzer_errmsg(b->an));
                termpos = start;
            }
            if (s->typo_words && !(f->flags & SOUK_F_NOTYPO))
                rc = souk_analyze(b->an, v->valuestring, tl, fl, "", f->weight, &termpos,
                                  add_event_typo, b);
            else
                rc = analyze_text(b, v->valuestring, tl, fl, "", f->weight, &termpos);
            if (rc == SOUK_ENOMEM) {
                snprintf(err, errlen, "out of memory analysing field '%s'", f->name);
                goto out; /* not a malformed record: it must not be rejected */
            }
            if (rc)
                BAD("field '%s': analysis failed: %s", f->name, souk_analyzer_errmsg(b->an));
            termpos += 100; /* no phrase spans two fields */
            code_ctx cc = {b, f->weight};
            souk__codes(v->valuestring, tl, 0, add_code, &cc, 256);
            /* Sortable: the value (its first 1 KiB, cut at a character: the collation key
             * keeps at most SOUK_SORT_KEY_MAX bytes), keyed when the columns are built. */
            if (f->flags & SOUK_F_SORTABLE) {
                size_t al = tl;
                if (al > 1024)
                    for (al = 1024; al && ((uint8_t)v->valuestring[al] & 0xc0) == 0x80; al--)
                        ;
                if ((rc = add_attr(b, f, 0, v->valuestring, al)) != 0)
                    goto out;
            }
            break;
        }
        case SOUK_FIELD_KEYWORD: {
            int n = 1;
            const cJSON *it = v;
            if (cJSON_IsArray(v)) {
                if (!(f->flags & SOUK_F_MULTI))
                    BAD("field '%s' takes one string, not an array", f->name);
                n = cJSON_GetArraySize(v);
                if (n > 1000)
                    BAD("field '%s' has %d values, over the limit of 1000", f->name, n);
                it = v->child;
            }
            for (int k = 0; k < n && it; k++, it = it->next) {
                if ((rc = check_keyword(f, it, err, errlen)) != 0)
                    goto out;
                const char *val = it->valuestring;
                size_t vl = strlen(val);
                if (f->flags & (SOUK_F_FILTERABLE | SOUK_F_FACETABLE)) {
                    if (f->flags & SOUK_F_PATH) {
                        /* "a > b > c": a term for each level, so a filter on "a > b" matches. */
                        for (size_t p = 0; p + 3 <= vl; p++)
                            if (memcmp(val + p, " > ", 3) == 0)
                                add_boolean(b, f->prefix, val, p);
                    }
                    add_boolean(b, f->prefix, val, vl);
                }
                if (f->flags & SOUK_F_NOTYPO) { /* codes: also found however spaced */
                    code_ctx cc = {b, 1};
                    souk__codes(val, vl, 0, add_code, &cc, 16);
                }
                if ((f->flags & (SOUK_F_FILTERABLE | SOUK_F_FACETABLE | SOUK_F_SORTABLE)) &&
                    (rc = add_attr(b, f, 0, val, vl)) != 0)
                    goto out;
            }
            break;
        }
        case SOUK_FIELD_NUMBER:
            if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
                BAD("field '%s' must be a finite number", f->name);
            if ((f->flags & (SOUK_F_FILTERABLE | SOUK_F_FACETABLE | SOUK_F_SORTABLE)) &&
                (rc = add_attr(b, f, v->valuedouble, NULL, 0)) != 0)
                goto out;
            break;
        case SOUK_FIELD_BOOL:
            if (!cJSON_IsBool(v))
                BAD("field '%s' must be true or false", f->name);
            if (f->flags & (SOUK_F_FILTERABLE | SOUK_F_FACETABLE))
                add_boolean(b, f->prefix, cJSON_IsTrue(v) ? "true" : "false",
                            cJSON_IsTrue(v) ? 4 : 5);
            if ((f->flags & (SOUK_F_FILTERABLE | SOUK_F_FACETABLE | SOUK_F_SORTABLE)) &&
                (rc = add_attr(b, f, cJSON_IsTrue(v) ? 1.0 : 0.0, NULL, 0)) != 0)
                goto out;
            break;
        }
        if (f->flags & SOUK_F_STORED) {
            if (st->b.len > 1)
                jb_put(st, ",", 1);
            jb_string(st, f->name);
            jb_put(st, ":", 1);
            jb_value(st, v, 0);
        }
    }
    if (b->failed) {
        rc = SOUK_ENOMEM;
        goto out;
    }
    /* Aggregate occurrences into distinct terms with wdf and sorted positions. */
    uint32_t nt = 0, np = 0, doclen = 0;
    long agg = aggregate_hashed(b, &doclen);
    if (agg == -1) {
        rc = SOUK_ENOMEM;
        goto out;
    }
    if (agg >= 0) {
        nt = (uint32_t)agg;
        goto aggregated;
    }
    /* Positions out of order (not produced by the analyzer today): sort every occurrence. */
    if (souk_grow_first((void **)&b->order, &b->capord, b->nev + 1, sizeof *b->order, SIZE_MAX,
                        256)) {
        rc = SOUK_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < b->nev; i++)
        b->order[i] = (uint32_t)i;
    qsort_r(b->order, b->nev, sizeof *b->order, cmp_event, b);
    if (souk_grow_first((void **)&b->terms, &b->capterms, b->nev + 1, sizeof *b->terms, SIZE_MAX,
                        256) ||
        souk_grow_first((void **)&b->pos, &b->cappos, b->nev + 1, sizeof *b->pos, SIZE_MAX, 256)) {
        rc = SOUK_ENOMEM;
        goto out;
    }
    doclen = 0;
    for (size_t i = 0; i < b->nev; i++) {
        const tevent *e = &b->ev[b->order[i]];
        souk_dterm *t = nt ? &b->terms[nt - 1] : NULL;
        if (!t || t->len != e->len || memcmp(t->term, b->tbuf + e->off, e->len) != 0) {
            t = &b->terms[nt++];
            t->term = b->tbuf + e->off;
            t->len = e->len;
            t->wdf = 0;
            t->npos = 0;
            t->pos_off = np;
            t->hash = souk__hash(t->term, t->len);
        }
        t->wdf += e->wdf;
        doclen += e->wdf;
        if (e->pos && (t->npos == 0 || b->pos[np - 1] != e->pos)) {
            b->pos[np++] = e->pos;
            t->npos++;
        }
    }
    (void)np;
aggregated:
    jb_put(st, "}", 1);
    if (st->oom) {
        rc = SOUK_ENOMEM;
        goto out;
    }
    /* The hash of the record line decides "unchanged": a byte-identical record is a no-op.
     * Eight bytes a step (souk__hash); FNV-1a a byte at a time was a quarter of this function. */
    uint64_t h = souk__hash(line, len);
    for (size_t i = 0; i < b->nattrs; i++)
        if (b->attrs[i].str)
            b->attrs[i].str = b->abuf + ((uintptr_t)b->attrs[i].str - 1);
    doc->id = NULL;
    doc->hash = h;
    doc->terms = b->terms;
    doc->nterms = nt;
    doc->positions = b->pos;
    doc->doclen = doclen;
    doc->attrs = b->attrs;
    doc->nattrs = (uint32_t)b->nattrs;
    /* The id lives in the term buffer too (after the terms), so it survives cJSON_Delete. */
    {
        size_t at = b->tlen;
        const char *old = b->tbuf;
        if (souk_grow_first((void **)&b->tbuf, &b->tcap, at + id_len + 1, 1, SIZE_MAX, 256)) {
            rc = SOUK_ENOMEM;
            goto out;
        }
        if (b->tbuf != old) {
            for (uint32_t i = 0; i < nt; i++)
                b->terms[i].term = b->tbuf + (b->terms[i].term - old);
        }
        memcpy(b->tbuf + at, id, id_len);
        doc->id = b->tbuf + at;
        doc->id_len = (uint32_t)id_len;
    }
    /* Blobs for the writer: the front-coded term list and the stored JSON, the latter compressed
     * here in the analysis thread. */
    if (souk_grow_first((void **)&b->tlraw, &b->tlrawcap, souk_termlist_bound(b->terms, nt), 1,
                        SIZE_MAX, 256)) {
        rc = SOUK_ENOMEM;
        goto out;
    }
    size_t tl = souk_termlist_encode(b->terms, nt, b->tlraw);
    /* Term lists go raw: LZ4 saved them 13% for about 5% of indexing time (index-format.md). */
    size_t tlb = souk_blob_pack(NULL, b->tlraw, tl, &b->tlblob, &b->tlblobcap);
    size_t stb = souk_blob_pack(b->zc, st->b.p, st->b.len, &b->stblob, &b->stblobcap);
    if (!tlb || !stb) {
        rc = SOUK_ENOMEM;
        goto out;
    }
    doc->termlist = b->tlblob;
    doc->termlist_len = (uint32_t)tlb;
    doc->stored = (const char *)b->stblob;
    doc->stored_len = (uint32_t)stb;
out:
    if (owned)
        cJSON_Delete(root);
    return rc;
}

int souk_doc_tags(const char *json, size_t len, char (*tags)[64], int max)
{
    if (max < 1 || !json || !len)
        return 0;
    cJSON *j = cJSON_ParseWithLength(json, len);
    if (!j)
        return 0;
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(j, "section");
    if (!cJSON_IsString(f))
        f = cJSON_GetObjectItemCaseSensitive(j, "category");
    int n = 0;
    if (cJSON_IsString(f) && f->valuestring[0]) {
        static const char pre[] = "category:";
        size_t vl = strlen(f->valuestring), room = 63 - (sizeof pre - 1);
        if (vl > room) {
            vl = room;
            while (vl > 0 && ((unsigned char)f->valuestring[vl] & 0xC0) == 0x80)
                vl--; /* not inside a UTF-8 sequence */
        }
        memcpy(tags[0], pre, sizeof pre - 1);
        memcpy(tags[0] + sizeof pre - 1, f->valuestring, vl);
        tags[0][sizeof pre - 1 + vl] = 0;
        n = 1;
    }
    cJSON_Delete(j);
    return n;
}
