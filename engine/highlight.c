/* highlight.c: matched words marked in stored text, and snippets around the densest matches.
 *
 * The query (after synonyms and typo rewriting, so typo and synonym matches are marked too)
 * gives three sets: stems ("Z" terms), plain words (unprefixed terms, typo candidates) and
 * prefixes (wildcards and the partial last word). A word of the text matches when its lower-case
 * form is a plain word, starts with a prefix, or stems (through the same analyzer) to a stem.
 * The output is HTML: the text escaped, matches wrapped in <em>...</em>; a snippet is the window
 * of max_words words holding the most matches, with "…" where text was cut. */
#include "match_int.h"
#include "souk/highlight.h"
#include "souk/souk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct souk_highlighter {
    char **words; /* plain words and stems ("Z...") and prefixes ("*..."), sorted */
    size_t n;
    souk_analyzer *an;
    char lang[32];
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add(souk_highlighter *h, size_t *cap, const char *pfx, const char *t, size_t len)
{
    if (h->n == *cap) {
        size_t c = *cap ? *cap * 2 : 32;
        char **w = souk_realloc(h->words, c * sizeof *w);
        if (!w)
            return SOUK_ENOMEM;
        h->words = w;
        *cap = c;
    }
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
    if (o->len + n + 1 > o->cap) {
        size_t c = o->cap ? o->cap : 256;
        while (o->len + n + 1 > c)
            c *= 2;
        char *p = souk_realloc(o->p, c);
        if (!p) {
            o->failed = 1;
            return;
        }
        o->p = p;
        o->cap = c;
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

int souk_highlight(souk_highlighter *h, const char *text, size_t len, size_t max_words, char **res,
                   size_t *res_len, size_t *nmatches)
{
    /* Words: [start, end) byte ranges, and which match. */
    size_t cap = 64, n = 0;
    size_t *ws = souk_malloc(cap * 2 * sizeof *ws);
    uint8_t *hit = souk_malloc(cap);
    if (!ws || !hit) {
        souk_free(ws);
        souk_free(hit);
        return SOUK_ENOMEM;
    }
    for (size_t i = 0; i < len;) {
        if (!is_word_byte((unsigned char)text[i])) {
            i++;
            continue;
        }
        size_t b = i;
        while (i < len && is_word_byte((unsigned char)text[i]))
            i++;
        if (n == cap) {
            cap *= 2;
            size_t *w2 = souk_realloc(ws, cap * 2 * sizeof *w2);
            uint8_t *h2 = w2 ? souk_realloc(hit, cap) : NULL;
            if (w2)
                ws = w2;
            if (!h2) {
                souk_free(ws);
                souk_free(hit);
                return SOUK_ENOMEM;
            }
            hit = h2;
        }
        ws[2 * n] = b;
        ws[2 * n + 1] = i;
        hit[n] = (uint8_t)matches(h, text + b, i - b);
        n++;
    }
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
        if (hit[i])
            put(&o, "<em>", 4);
        put_escaped(&o, text + ws[2 * i], ws[2 * i + 1] - ws[2 * i]);
        if (hit[i])
            put(&o, "</em>", 5);
        pos = ws[2 * i + 1];
    }
    put_escaped(&o, text + pos, bend > pos ? bend - pos : 0);
    if (to < n)
        put(&o, "\xe2\x80\xa6", 3);
    if (!o.p && !o.failed)
        put(&o, "", 0);
    souk_free(ws);
    souk_free(hit);
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
