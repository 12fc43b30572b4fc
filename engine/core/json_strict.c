/* json_strict.c: the strictness checks records and request bodies share (souk/json_strict.h). */
#include "souk/json_strict.h"
#include "souk/souk.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Objects with at most this many members are checked pairwise; larger ones by sorting hashes,
 * so a record of 100,000 keys costs n log n, not n squared. */
#define PAIRWISE_MAX 16

typedef struct keyent {
    uint64_t hash;
    const char *key;
} keyent;

static uint64_t key_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    return h;
}

static int cmp_keyent(const void *a, const void *b)
{
    const keyent *x = a, *y = b;
    if (x->hash != y->hash)
        return x->hash < y->hash ? -1 : 1;
    return strcmp(x->key, y->key);
}

/* The first key repeated among the members of object o, or NULL; *oom on allocation failure. */
static const char *repeated_key(const cJSON *o, int *oom)
{
    size_t n = 0;
    for (const cJSON *m = o->child; m; m = m->next)
        n++;
    if (n <= PAIRWISE_MAX) {
        for (const cJSON *m = o->child; m; m = m->next)
            for (const cJSON *p = o->child; p != m; p = p->next)
                if (m->string && p->string && m->string[0] == p->string[0] &&
                    strcmp(m->string, p->string) == 0)
                    return m->string;
        return NULL;
    }
    keyent *k = souk_malloc(n * sizeof *k);
    if (!k) {
        *oom = 1;
        return NULL;
    }
    size_t i = 0;
    for (const cJSON *m = o->child; m; m = m->next, i++) {
        k[i].key = m->string ? m->string : "";
        k[i].hash = key_hash(k[i].key);
    }
    qsort(k, n, sizeof *k, cmp_keyent);
    const char *dup = NULL;
    for (i = 1; i < n && !dup; i++)
        if (k[i].hash == k[i - 1].hash && strcmp(k[i].key, k[i - 1].key) == 0)
            dup = k[i].key;
    souk_free(k);
    return dup;
}

/* Walks the tree under v for a repeated key (depth-first; cJSON nests at most 1000 deep). */
static const char *find_repeated(const cJSON *v, int *oom)
{
    if (!v || !(v->type & (cJSON_Object | cJSON_Array)))
        return NULL;
    if (v->type & cJSON_Object) {
        const char *d = repeated_key(v, oom);
        if (d || *oom)
            return d;
    }
    for (const cJSON *c = v->child; c; c = c->next) {
        if (!(c->type & (cJSON_Object | cJSON_Array)))
            continue; /* most members: no call */
        const char *d = find_repeated(c, oom);
        if (d || *oom)
            return d;
    }
    return NULL;
}

/* The offset of the first escaped NUL (a \u0000 whose backslash is not itself escaped), or len.
 * Escapes are read pairwise from each backslash, so "\\u0000" (an escaped backslash, then text)
 * is no NUL. Outside strings a backslash is not JSON, so every one counts. */
static size_t escaped_nul(const char *s, size_t len)
{
    const char *p = s, *e = s + len;
    while (p < e && (p = memchr(p, '\\', (size_t)(e - p))) != NULL) {
        if (e - p >= 6 && memcmp(p + 1, "u0000", 5) == 0)
            return (size_t)(p - s);
        p += 2; /* the backslash and the byte it escapes */
    }
    return len;
}

int souk_json_strict(const char *text, size_t len, const cJSON *root, const char *end, char *err,
                     size_t errlen)
{
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
        snprintf(err, errlen, "byte order mark at the start (not allowed)");
        return SOUK_EINVAL;
    }
    const char *nul = memchr(text, 0, len);
    if (nul) {
        snprintf(err, errlen, "NUL byte at byte %zu", (size_t)(nul - text));
        return SOUK_EINVAL;
    }
    size_t at = escaped_nul(text, len);
    if (at != len) {
        snprintf(err, errlen, "escaped NUL (\\u0000) at byte %zu", at);
        return SOUK_EINVAL;
    }
    if (!root)
        return SOUK_OK;
    if (end && end >= text && end <= text + len) {
        const char *p = end;
        while (p < text + len && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
            p++;
        if (p < text + len) {
            snprintf(err, errlen, "trailing data after the JSON value at byte %zu",
                     (size_t)(p - text));
            return SOUK_EINVAL;
        }
    }
    int oom = 0;
    const char *dup = find_repeated(root, &oom);
    if (oom) {
        snprintf(err, errlen, "out of memory checking keys");
        return SOUK_ENOMEM;
    }
    if (dup) {
        snprintf(err, errlen, "duplicate key '%.64s'", dup);
        return SOUK_EINVAL;
    }
    return SOUK_OK;
}
