/* json_fast.c: cJSON-compatible trees from an arena, for well-formed records (json_fast.h). */
#include "catalog/json_fast.h"
#include "souk/souk.h"

#include <limits.h>
#include <locale.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define MAX_DEPTH 64  /* deeper input goes to cJSON (whose own limit is 1000) */
#define NUMBER_MAX 62 /* cJSON reads at most 63 number characters */
#define CHUNK (64 << 10)

typedef struct jchunk {
    struct jchunk *next;
    size_t used, cap;
    max_align_t data[];
} jchunk;

struct souk_json_arena {
    jchunk *first, *cur;
};

souk_json_arena *souk__json_arena_new(void)
{
    return souk_calloc(1, sizeof(souk_json_arena));
}

void souk__json_arena_free(souk_json_arena *a)
{
    if (!a)
        return;
    for (jchunk *c = a->first, *n; c; c = n) {
        n = c->next;
        souk_free(c);
    }
    souk_free(a);
}

static void arena_reset(souk_json_arena *a)
{
    for (jchunk *c = a->first; c; c = c->next)
        c->used = 0;
    a->cur = a->first;
}

static void *arena_alloc(souk_json_arena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    while (a->cur && a->cur->used + n > a->cur->cap)
        a->cur = a->cur->next; /* a later chunk kept from an earlier record may have room */
    if (!a->cur) {
        size_t cap = n > CHUNK ? n : CHUNK;
        jchunk *c = souk_malloc(sizeof *c + cap);
        if (!c)
            return NULL;
        c->used = 0;
        c->cap = cap;
        c->next = NULL;
        /* Append at the end of the list, so a reset walks the chunks in order. */
        if (!a->first) {
            a->first = c;
        } else {
            jchunk *t = a->first;
            while (t->next)
                t = t->next;
            t->next = c;
        }
        a->cur = c;
    }
    void *p = (char *)a->cur->data + a->cur->used;
    a->cur->used += n;
    return p;
}

typedef struct jp {
    souk_json_arena *a;
    const unsigned char *p, *end;
} jp;

static inline void skip_ws(jp *j)
{
    while (j->p < j->end && *j->p <= 32) /* cJSON skips every byte up to the space */
        j->p++;
}

static cJSON *new_item(jp *j)
{
    cJSON *it = arena_alloc(j->a, sizeof *it);
    if (it)
        memset(it, 0, sizeof *it);
    return it;
}

static int hex4(const unsigned char *p, unsigned *out)
{
    unsigned h = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = p[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1; /* cJSON reads such a sequence as 0: leave it to cJSON */
        h = (h << 4) | d;
    }
    *out = h;
    return 0;
}

/* Room for n bytes at the arena's end, not yet taken (arena_take takes what was used). */
static char *arena_room(souk_json_arena *a, size_t n)
{
    if (a->cur && a->cur->used + n <= a->cur->cap)
        return (char *)a->cur->data + a->cur->used;
    char *p = arena_alloc(a, n); /* moves to a chunk with room */
    if (!p)
        return NULL;
    a->cur->used -= (n + 15) & ~(size_t)15;
    return p;
}

static void arena_take(souk_json_arena *a, size_t n)
{
    a->cur->used += (n + 15) & ~(size_t)15;
}

/* The offset of the first '"' or '\\' in p[0, n), or n. */
static inline size_t find_special(const unsigned char *p, size_t n)
{
    size_t i = 0;
#if defined(__SSE2__)
    const __m128i q = _mm_set1_epi8('"'), b = _mm_set1_epi8('\\');
    for (; i + 16 <= n; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(p + i));
        int m = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, q), _mm_cmpeq_epi8(v, b)));
        if (m)
            return i + (size_t)__builtin_ctz((unsigned)m);
    }
#endif
    while (i < n && p[i] != '"' && p[i] != '\\')
        i++;
    return i;
}

/* A string at j->p (its opening quote) into arena memory, decoded in one pass: the decoded
 * string is never longer than the rest of the input, which is the room taken. */
static int parse_string(jp *j, char **out)
{
    const unsigned char *q = j->p + 1, *end = j->end;
    char *o = arena_room(j->a, (size_t)(end - q) + 1);
    if (!o)
        return SOUK_JSON_NOMEM;
    char *w = o;
    for (;;) {
        size_t k = find_special(q, (size_t)(end - q));
        memcpy(w, q, k);
        w += k;
        q += k;
        if (q == end)
            return SOUK_JSON_FALLBACK; /* unterminated */
        if (*q == '"')
            break;
        if (end - q < 2)
            return SOUK_JSON_FALLBACK;
        switch (q[1]) {
        case 'b':
            *w++ = '\b';
            break;
        case 'f':
            *w++ = '\f';
            break;
        case 'n':
            *w++ = '\n';
            break;
        case 'r':
            *w++ = '\r';
            break;
        case 't':
            *w++ = '\t';
            break;
        case '"':
        case '\\':
        case '/':
            *w++ = (char)q[1];
            break;
        case 'u': {
            /* cJSON wants the whole sequence before the closing quote; hex digits are never
             * quotes, so having them here is the same test. */
            unsigned cp, lo;
            if (end - q < 6 || hex4(q + 2, &cp))
                return SOUK_JSON_FALLBACK;
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                return SOUK_JSON_FALLBACK; /* a lone low surrogate: cJSON rejects it */
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (end - q < 12 || q[6] != '\\' || q[7] != 'u' || hex4(q + 8, &lo) ||
                    lo < 0xDC00 || lo > 0xDFFF)
                    return SOUK_JSON_FALLBACK;
                cp = 0x10000 + (((cp & 0x3FF) << 10) | (lo & 0x3FF));
                q += 6;
            }
            if (cp < 0x80) {
                *w++ = (char)cp;
            } else if (cp < 0x800) {
                *w++ = (char)(0xC0 | (cp >> 6));
                *w++ = (char)(0x80 | (cp & 0x3F));
            } else if (cp < 0x10000) {
                *w++ = (char)(0xE0 | (cp >> 12));
                *w++ = (char)(0x80 | ((cp >> 6) & 0x3F));
                *w++ = (char)(0x80 | (cp & 0x3F));
            } else {
                *w++ = (char)(0xF0 | (cp >> 18));
                *w++ = (char)(0x80 | ((cp >> 12) & 0x3F));
                *w++ = (char)(0x80 | ((cp >> 6) & 0x3F));
                *w++ = (char)(0x80 | (cp & 0x3F));
            }
            q += 4; /* with the 2 below: the 6 bytes of \uXXXX */
            break;
        }
        default:
            return SOUK_JSON_FALLBACK; /* an escape cJSON rejects */
        }
        q += 2;
    }
    *w++ = 0;
    arena_take(j->a, (size_t)(w - o));
    *out = o;
    j->p = q + 1;
    return SOUK_JSON_OK;
}

static inline int is_digit(unsigned c)
{
    return c >= '0' && c <= '9';
}

/* A strict JSON number (what cJSON's strtod reads in full): -?(0|[1-9]d*)(.d+)?([eE][+-]?d+)? */
static int parse_number(jp *j, cJSON *it)
{
    const unsigned char *p = j->p, *end = j->end, *s = p;
    if (p < end && *p == '-')
        p++;
    if (p >= end || !is_digit(*p))
        return SOUK_JSON_FALLBACK;
    if (*p == '0') {
        p++;
    } else {
        while (p < end && is_digit(*p))
            p++;
    }
    if (p < end && *p == '.') {
        p++;
        if (p >= end || !is_digit(*p))
            return SOUK_JSON_FALLBACK;
        while (p < end && is_digit(*p))
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        if (p >= end || !is_digit(*p))
            return SOUK_JSON_FALLBACK;
        while (p < end && is_digit(*p))
            p++;
    }
    /* cJSON copies every character of [0-9+-eE.]; one more of them here means input it reads
     * differently (and rejects). */
    if (p < end && (is_digit(*p) || *p == '+' || *p == '-' || *p == 'e' || *p == 'E' || *p == '.'))
        return SOUK_JSON_FALLBACK;
    size_t n = (size_t)(p - s);
    if (n > NUMBER_MAX)
        return SOUK_JSON_FALLBACK;
    char buf[NUMBER_MAX + 1];
    memcpy(buf, s, n);
    buf[n] = 0;
    double d = strtod(buf, NULL);
    it->type = cJSON_Number;
    it->valuedouble = d;
    if (d >= INT_MAX)
        it->valueint = INT_MAX;
    else if (d <= (double)INT_MIN)
        it->valueint = INT_MIN;
    else
        it->valueint = (int)d;
    j->p = p;
    return SOUK_JSON_OK;
}

static int parse_value(jp *j, cJSON *it, int depth);

/* The members of an array or object at j->p (its opening bracket). */
static int parse_container(jp *j, cJSON *it, int depth, int object)
{
    if (depth >= MAX_DEPTH)
        return SOUK_JSON_FALLBACK;
    it->type = object ? cJSON_Object : cJSON_Array;
    unsigned char close = object ? '}' : ']';
    j->p++;
    skip_ws(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
        return SOUK_JSON_OK;
    }
    cJSON *head = NULL, *last = NULL;
    for (;;) {
        cJSON *c = new_item(j);
        if (!c)
            return SOUK_JSON_NOMEM;
        if (object) {
            if (j->p >= j->end || *j->p != '"')
                return SOUK_JSON_FALLBACK;
            int rc = parse_string(j, &c->string);
            if (rc)
                return rc;
            skip_ws(j);
            if (j->p >= j->end || *j->p != ':')
                return SOUK_JSON_FALLBACK;
            j->p++;
            skip_ws(j);
        }
        int rc = parse_value(j, c, depth + 1);
        if (rc)
            return rc;
        if (last) {
            last->next = c;
            c->prev = last;
        } else {
            head = c;
        }
        last = c;
        skip_ws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            skip_ws(j);
            continue;
        }
        if (j->p < j->end && *j->p == close) {
            j->p++;
            break;
        }
        return SOUK_JSON_FALLBACK;
    }
    head->prev = last; /* as cJSON links them: the first member's prev is the last */
    it->child = head;
    return SOUK_JSON_OK;
}

static int parse_value(jp *j, cJSON *it, int depth)
{
    if (j->p >= j->end)
        return SOUK_JSON_FALLBACK;
    size_t left = (size_t)(j->end - j->p);
    switch (*j->p) {
    case 'n':
        if (left >= 4 && memcmp(j->p, "null", 4) == 0) {
            it->type = cJSON_NULL;
            j->p += 4;
            return SOUK_JSON_OK;
        }
        return SOUK_JSON_FALLBACK;
    case 'f':
        if (left >= 5 && memcmp(j->p, "false", 5) == 0) {
            it->type = cJSON_False;
            j->p += 5;
            return SOUK_JSON_OK;
        }
        return SOUK_JSON_FALLBACK;
    case 't':
        if (left >= 4 && memcmp(j->p, "true", 4) == 0) {
            it->type = cJSON_True;
            it->valueint = 1;
            j->p += 4;
            return SOUK_JSON_OK;
        }
        return SOUK_JSON_FALLBACK;
    case '"':
        it->type = cJSON_String;
        return parse_string(j, &it->valuestring);
    case '[':
        return parse_container(j, it, depth, 0);
    case '{':
        return parse_container(j, it, depth, 1);
    default:
        if (*j->p == '-' || is_digit(*j->p))
            return parse_number(j, it);
        return SOUK_JSON_FALLBACK;
    }
}

int souk__json_parse(souk_json_arena *a, const char *s, size_t len, cJSON **root, const char **end)
{
    arena_reset(a);
    if (len == 0 || (len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0))
        return SOUK_JSON_FALLBACK; /* empty, or a byte order mark cJSON skips */
    if (localeconv()->decimal_point[0] != '.')
        return SOUK_JSON_FALLBACK; /* cJSON adapts numbers to the locale; strtod here would not */
    jp j = {a, (const unsigned char *)s, (const unsigned char *)s + len};
    skip_ws(&j);
    cJSON *it = new_item(&j);
    if (!it)
        return SOUK_JSON_NOMEM;
    int rc = parse_value(&j, it, 0);
    if (rc)
        return rc;
    *root = it;
    *end = (const char *)j.p;
    return SOUK_JSON_OK;
}
