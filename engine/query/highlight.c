/* highlight.c: matched words marked in stored text, and snippets around the densest matches.
 *
 * The query (after synonyms, typo and code rewriting, so those matches are marked too) gives
 * the sets: stems ("Z" terms), plain words (unprefixed terms, typo candidates, CJK n-grams),
 * prefixes (wildcards and the partial last word) and joined codes ("XCODE:din933"). The text is
 * cut into words and, inside runs of CJK characters, into single characters (Xapian's CJK
 * ranges, as its n-gram tokenizer has them). A word matches when its lower-case form is a plain
 * word, starts with a prefix, or stems (through the same analyzer) to a stem. A CJK character
 * matches when the bigram it forms with its neighbour is a query term, or when it is a query
 * unigram that no query bigram holds (a one-character query); adjacent matched characters are
 * marked as one run (<em>螺栓</em>). Two words joined by one space, hyphen, slash or dot whose
 * lower-case join is a query code are both matched and marked as one run with their separator
 * (<em>DIN 933</em> for DIN933), as codes.c joins them at indexing.
 * The output is HTML: the text escaped, matches wrapped in <em>...</em>; a snippet is the window
 * of max_words words holding the most matches, with "…" where text was cut. */
#include "souk/buf.h"
#include "text/codes.h"
#include "query/match_int.h"
#include "souk/highlight.h"
#include "souk/analysis.h"
#include "souk/souk.h"
#include "core/utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct souk_highlighter {
    char **words; /* plain words and stems ("Z...") and prefixes ("*..."), sorted */
    size_t n;
    souk_analyzer *an;
    char lang[32];
};

/* Characters Xapian 1.4's n-gram tokenizer treats as CJK (CJK::codepoint_is_cjk). */
static int is_cjk(unsigned c)
{
    return (c >= 0x2e80 && c <= 0x2eff) || (c >= 0x3000 && c <= 0x9fff) ||
           (c >= 0xa700 && c <= 0xa71f) || (c >= 0xac00 && c <= 0xd7af) ||
           (c >= 0xf900 && c <= 0xfaff) || (c >= 0xfe30 && c <= 0xfe4f) ||
           (c >= 0xff00 && c <= 0xffef) || (c >= 0x20000 && c <= 0x2a6df) ||
           (c >= 0x2f800 && c <= 0x2fa1f);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add(souk_highlighter *h, size_t *cap, const char *pfx, const char *t, size_t len)
{
    if (souk_grow((void **)&h->words, cap, h->n + 1, sizeof *h->words, SIZE_MAX))
        return SOUK_ENOMEM;
    size_t pl = strlen(pfx);
    char *s = souk_malloc(pl + len + 1);
    if (!s)
        return SOUK_ENOMEM;
    memcpy(s, pfx, pl);
    memcpy(s + pl, t, len);
    s[pl + len] = 0;
    h->words[h->n++] = s;
    return 0;
}

void souk_highlighter_free(souk_highlighter *h)
{
    if (!h)
        return;
    for (size_t i = 0; i < h->n; i++)
        souk_free(h->words[i]);
    souk_free(h->words);
    souk_analyzer_free(h->an);
    souk_free(h);
}

int souk_highlighter_new(souk_searcher *s, const souk_query *q, const souk_search_opts *o,
                         souk_highlighter **out)
{
    souk_highlighter *h = souk_calloc(1, sizeof *h);
    if (!h)
        return SOUK_ENOMEM;
    souk_query *t = NULL;
    char err[128];
    int rc = souk__rewrite_query(s, q, o, &t, err, sizeof err);
    if (!rc)
        rc = souk_analyzer_new(&h->an);
    const souk_query *use = t ? t : q;
    size_t cap = 0;
    for (size_t i = 0; i < use->nnodes && !rc; i++) {
        const souk_qnode *n = &use->nodes[i];
        if (!n->term || !n->term_len)
            continue;
        const char *term = n->term;
        size_t len = n->term_len;
        if (n->op == SOUK_QOP_TERM && len > 6 && memcmp(term, SOUK_TYPO_PREFIX, 6) == 0) {
            term += 6; /* a typo candidate of a schema with typo_words */
            len -= 6;
        }
        if (n->op == SOUK_QOP_WILDCARD)
            rc = add(h, &cap, "*", term, len);
        else if (n->op == SOUK_QOP_TERM && (term[0] == 'Z' || !(term[0] >= 'A' && term[0] <= 'Z')))
            rc = add(h, &cap, "", term, len);
        else if (n->op == SOUK_QOP_TERM && len > strlen(SOUK_CODE_PREFIX) &&
                 memcmp(term, SOUK_CODE_PREFIX, strlen(SOUK_CODE_PREFIX)) == 0)
            rc = add(h, &cap, "", term, len);
    }
    /* One-character CJK query runs: their unigram marks on its own ("\x01" + the character);
     * the unigrams of longer runs mark only through the run's bigrams. */
    size_t nplain = h->n;
    for (size_t i = 0; i < nplain && !rc; i++) {
        const char *w = h->words[i];
        size_t cl = 0;
        unsigned cp = souk__utf8_next((const unsigned char *)w, strlen(w), &cl);
        if (!is_cjk(cp) || w[cl] != 0)
            continue;
        int in_bigram = 0;
        for (size_t k = 0; k < nplain && !in_bigram; k++) {
            const char *b = h->words[k];
            size_t bl = strlen(b), l1 = 0;
            unsigned c1 = souk__utf8_next((const unsigned char *)b, bl, &l1);
            if (!is_cjk(c1) || !b[l1])
                continue;
            size_t e = l1;
            unsigned c2 = souk__utf8_next((const unsigned char *)b, bl, &e);
            size_t l2 = e - l1;
            if (is_cjk(c2) && !b[e] &&
                ((l1 == cl && memcmp(b, w, cl) == 0) || (l2 == cl && memcmp(b + l1, w, cl) == 0)))
                in_bigram = 1;
        }
        if (!in_bigram)
            rc = add(h, &cap, "\x01", w, cl);
    }
    const char *lang = q->lang ? q->lang : (o->lang ? o->lang : "en");
    snprintf(h->lang, sizeof h->lang, "%s", lang);
    souk_query_free(t);
    if (rc) {
        souk_highlighter_free(h);
        return rc;
    }
    qsort(h->words, h->n, sizeof *h->words, cmp_str);
    *out = h;
    return 0;
}

static int has(const souk_highlighter *h, const char *w)
{
    return bsearch(&w, h->words, h->n, sizeof *h->words, cmp_str) != NULL;
}

typedef struct stemmed {
    char stem[80];
} stemmed;

static void on_term(void *ctx, const char *term, size_t len, uint32_t pos, uint32_t wdf)
{
    stemmed *s = ctx;
    (void)wdf;
    if (!pos && !s->stem[0] && len < sizeof s->stem) {
        memcpy(s->stem, term, len);
        s->stem[len] = 0;
    }
}

/* Whether the word text[0..len) matches the query. */
static int matches(souk_highlighter *h, const char *text, size_t len)
{
    char low[80];
    if (len == 0 || len >= sizeof low - 1)
        return 0;
    for (size_t i = 0; i < len; i++)
        low[i] = (char)(text[i] >= 'A' && text[i] <= 'Z' ? text[i] + 32 : text[i]);
    low[len] = 0;
    if (has(h, low))
        return 1;
    for (size_t i = 0; i < h->n; i++) {
        const char *w = h->words[i];
        if (w[0] == '*' && strncmp(low, w + 1, strlen(w + 1)) == 0)
            return 1;
    }
    /* Stems: only when some stem could be it (same first letter). */
    char z[3] = {'Z', low[0], 0};
    char **lo = h->words;
    size_t n = h->n, first = n;
    for (size_t i = 0; i < n; i++)
        if (strncmp(lo[i], z, 2) == 0) {
            first = i;
            break;
        }
    if (first == n)
        return 0;
    stemmed st = {{0}};
    uint32_t tp = 0;
    if (souk_analyze(h->an, text, len, h->lang, "", 1, &tp, on_term, &st) || !st.stem[0])
        return 0;
    return has(h, st.stem);
}

static int is_word_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

typedef struct out {
    char *p;
    size_t len, cap;
    int failed;
} out;

static void put(out *o, const char *s, size_t n)
{
    if (o->failed)
        return;
    if (souk_grow((void **)&o->p, &o->cap, o->len + n + 1, 1, SIZE_MAX)) {
        o->failed = 1;
        return;
    }
    memcpy(o->p + o->len, s, n);
    o->len += n;
    o->p[o->len] = 0;
}

static void put_escaped(out *o, const char *s, size_t n)
{
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        const char *rep = s[i] == '<'    ? "&lt;"
                          : s[i] == '>'  ? "&gt;"
                          : s[i] == '&'  ? "&amp;"
                          : s[i] == '"'  ? "&quot;"
                          : s[i] == '\'' ? "&#39;"
                                         : NULL;
        if (rep) {
            put(o, s + start, i - start);
            put(o, rep, strlen(rep));
            start = i + 1;
        }
    }
    put(o, s + start, n - start);
}

/* The words of a text: byte ranges, whether each is a CJK character, matches, and whether its
 * mark runs on into the next word's (one <em> for both). */
typedef struct words {
    size_t *ws; /* [start, end) pairs */
    uint8_t *cjk, *hit, *join;
    size_t n, cap;
} words;

static int words_add(words *w, size_t b, size_t e, int cjk)
{
    if (w->n == w->cap) {
        size_t c = w->cap ? w->cap * 2 : 64;
        size_t *ws = souk_realloc(w->ws, c * 2 * sizeof *ws);
        if (!ws)
            return SOUK_ENOMEM;
        w->ws = ws;
        uint8_t *f = souk_realloc(w->cjk, c * 3);
        if (!f)
            return SOUK_ENOMEM;
        if (w->cap) { /* the three flag arrays live in one block: move hit and join up */
            memmove(f + 2 * c, f + 2 * w->cap, w->cap);
            memmove(f + c, f + w->cap, w->cap);
        }
        w->cjk = f;
        w->hit = f + c;
        w->join = f + 2 * c;
        w->cap = c;
    }
    w->ws[2 * w->n] = b;
    w->ws[2 * w->n + 1] = e;
    w->cjk[w->n] = (uint8_t)cjk;
    w->hit[w->n] = 0;
    w->join[w->n] = 0;
    w->n++;
    return 0;
}

/* Cuts text into words (runs of word bytes) and single CJK characters. */
static int split_words(const char *text, size_t len, words *w)
{
    const unsigned char *t = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
        size_t next = i;
        unsigned cp = souk__utf8_next(t, len, &next);
        size_t cl = next - i;
        if (cl > 1 && is_cjk(cp)) {
            if (words_add(w, i, i + cl, 1))
                return SOUK_ENOMEM;
            i += cl;
            continue;
        }
        if (!is_word_byte(t[i])) {
            i++;
            continue;
        }
        size_t b = i;
        while (i < len && is_word_byte(t[i])) {
            if (t[i] >= 0x80) {
                size_t j = i;
                unsigned c = souk__utf8_next(t, len, &j);
                if (j - i > 1 && is_cjk(c))
                    break;
                i = j;
            } else {
                i++;
            }
        }
        if (words_add(w, b, i, 0))
            return SOUK_ENOMEM;
    }
    return 0;
}

/* Whether text[b, e) is a query term (plain, or with a one-byte marker before it). */
static int has_bytes(const souk_highlighter *h, const char *marker, const char *p, size_t n)
{
    char buf[96];
    size_t ml = strlen(marker);
    if (ml + n >= sizeof buf)
        return 0;
    memcpy(buf, marker, ml);
    memcpy(buf + ml, p, n);
    buf[ml + n] = 0;
    return has(h, buf);
}

/* Sets hit and join for every word. */
static void mark_words(souk_highlighter *h, const char *text, words *w)
{
    size_t *ws = w->ws;
    for (size_t i = 0; i < w->n; i++) {
        size_t b = ws[2 * i], e = ws[2 * i + 1];
        if (!w->cjk[i]) {
            w->hit[i] = (uint8_t)matches(h, text + b, e - b);
            continue;
        }
        int prev = i > 0 && w->cjk[i - 1] && ws[2 * i - 1] == b;
        int next = i + 1 < w->n && w->cjk[i + 1] && ws[2 * i + 2] == e;
        w->hit[i] = (uint8_t)((prev && has_bytes(h, "", text + ws[2 * i - 2], e - ws[2 * i - 2])) ||
                              (next && has_bytes(h, "", text + b, ws[2 * i + 3] - b)) ||
                              has_bytes(h, "\x01", text + b, e - b));
    }
    /* Codes: two ASCII words joined by one separator whose join is a query code. */
    for (size_t i = 0; i + 1 < w->n; i++) {
        size_t b = ws[2 * i], e = ws[2 * i + 1], b2 = ws[2 * i + 2], e2 = ws[2 * i + 3];
        if (w->cjk[i] || w->cjk[i + 1] || b2 != e + 1 ||
            !(text[e] == ' ' || text[e] == '-' || text[e] == '/' || text[e] == '.'))
            continue;
        char code[64];
        size_t pl = strlen(SOUK_CODE_PREFIX), cl = pl;
        if (pl + (e - b) + (e2 - b2) >= sizeof code)
            continue;
        memcpy(code, SOUK_CODE_PREFIX, pl);
        int ascii = 1;
        for (size_t k = b; k < e2; k++) {
            unsigned char c = (unsigned char)text[k];
            if (k == e)
                continue;
            ascii &= c < 0x80;
            code[cl++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        }
        code[cl] = 0;
        if (ascii && has(h, code)) {
            w->hit[i] = w->hit[i + 1] = 1;
            w->join[i] = 1;
        }
    }
    /* A run of matched CJK characters is one mark. */
    for (size_t i = 0; i + 1 < w->n; i++)
        if (w->cjk[i] && w->cjk[i + 1] && w->hit[i] && w->hit[i + 1] &&
            ws[2 * i + 1] == ws[2 * i + 2])
            w->join[i] = 1;
}

int souk_highlight(souk_highlighter *h, const char *text, size_t len, size_t max_words, char **res,
                   size_t *res_len, size_t *nmatches)
{
    words w = {0};
    if (split_words(text, len, &w)) {
        souk_free(w.ws);
        souk_free(w.cjk);
        return SOUK_ENOMEM;
    }
    mark_words(h, text, &w);
    size_t n = w.n, *ws = w.ws;
    uint8_t *hit = w.hit, *join = w.join;
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += hit[i];
    /* The window of max_words words with the most matches (the first such). */
    size_t from = 0, to = n;
    if (max_words && n > max_words) {
        size_t best = 0, cur = 0, at = 0;
        for (size_t i = 0; i < n; i++) {
            cur += hit[i];
            if (i >= max_words)
                cur -= hit[i - max_words];
            if (i + 1 >= max_words && cur > best) {
                best = cur;
                at = i + 1 - max_words;
            }
        }
        /* Start a little before the first match of the window, for context. */
        from = at;
        to = at + max_words;
    }
    out o = {0};
    size_t bstart = n ? (from ? ws[2 * from] : 0) : 0;
    size_t bend = n ? (to < n ? ws[2 * (to - 1) + 1] : len) : len;
    if (from > 0)
        put(&o, "\xe2\x80\xa6", 3);
    size_t pos = bstart;
    for (size_t i = from; i < to && i < n; i++) {
        put_escaped(&o, text + pos, ws[2 * i] - pos);
        if (hit[i] && !(i > from && join[i - 1]))
            put(&o, "<em>", 4);
        put_escaped(&o, text + ws[2 * i], ws[2 * i + 1] - ws[2 * i]);
        if (hit[i] && !(join[i] && i + 1 < to))
            put(&o, "</em>", 5);
        pos = ws[2 * i + 1];
    }
    put_escaped(&o, text + pos, bend > pos ? bend - pos : 0);
    if (to < n)
        put(&o, "\xe2\x80\xa6", 3);
    if (!o.p && !o.failed)
        put(&o, "", 0);
    souk_free(w.ws);
    souk_free(w.cjk);
    if (o.failed) {
        souk_free(o.p);
        return SOUK_ENOMEM;
    }
    *res = o.p;
    *res_len = o.len;
    if (nmatches)
        *nmatches = total;
    return 0;
}
