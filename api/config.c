/* config.c: the server's configuration file (JSON), validated strictly: an unknown field, a
 * wrong type or a malformed key hash is an error naming the field, so a typo never silently
 * turns a limit or a credential off. API keys are stored as SHA-256 hashes ("sha256:<hex>");
 * the server hashes the presented key and compares hashes in constant time (router.c). */
#include "api_int.h"
#include "souk/lexicon.h"
#include "souk/souk.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const sk_limits default_limits = {
    .max_header_bytes = 8192,
    .max_url_bytes = 4096,
    .max_body_bytes = 65536,
    .max_query_bytes = 1024,
    .max_facets = 16,
    .max_per_page = 100,
    .max_depth = 1000,
    .max_connections = 4096,
    .max_queue = 256,
    .header_timeout_ms = 10000,
    .idle_timeout_ms = 60000,
    .max_header_count = 100,
    .max_output_bytes = 1 << 20,
    .send_timeout_ms = 10000,
    .max_search_ms = 1000,
    .max_query_terms = SOUK_MAX_QUERY_TERMS,
};

void sk_key_hash(const char *key, size_t len, uint8_t out[SK_KEY_HASH_LEN])
{
    crypto_hash_sha256(out, (const unsigned char *)key, len);
}

static void config_free(sk_config *c)
{
    if (!c)
        return;
    souk_free(c->search_keys);
    souk_free(c->admin_keys);
    for (size_t i = 0; i < c->ncors; i++)
        souk_free(c->cors_origins[i]);
    souk_free(c->cors_origins);
    souk_lexicon_free(c->lexicon);
    for (size_t i = 0; i < c->nprofiles; i++) {
        souk_free(c->profiles[i].name);
        souk_free(c->profiles[i].boost);
        souk_free(c->profiles[i].sort);
    }
    souk_free(c->profiles);
    souk_free(c);
}

void sk_config_ref(sk_config *c)
{
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
}

void sk_config_unref(sk_config *c)
{
    if (c && atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1)
        config_free(c);
}

/* Reads "sha256:<64 hex>" hashes from arr. */
static int load_keys(const cJSON *arr, const char *name, uint8_t (**out)[SK_KEY_HASH_LEN],
                     size_t *n, char *err, size_t errlen)
{
    if (!cJSON_IsArray(arr)) {
        snprintf(err, errlen, "\"%s\" must be an array of \"sha256:<hex>\" strings", name);
        return SOUK_EINVAL;
    }
    size_t cnt = (size_t)cJSON_GetArraySize(arr);
    uint8_t(*keys)[SK_KEY_HASH_LEN] = souk_calloc(cnt ? cnt : 1, SK_KEY_HASH_LEN);
    if (!keys)
        return SOUK_ENOMEM;
    size_t i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        const char *s = cJSON_GetStringValue(it);
        size_t bin_len = 0;
        if (!s || strncmp(s, "sha256:", 7) != 0 || strlen(s) != 7 + 2 * SK_KEY_HASH_LEN ||
            sodium_hex2bin(keys[i], SK_KEY_HASH_LEN, s + 7, 2 * SK_KEY_HASH_LEN, NULL, &bin_len,
                           NULL) != 0 ||
            bin_len != SK_KEY_HASH_LEN) {
            snprintf(err, errlen,
                     "\"%s\"[%zu] is not \"sha256:\" followed by 64 hex digits (store the "
                     "SHA-256 of the key, never the key itself)",
                     name, i);
            souk_free(keys);
            return SOUK_EINVAL;
        }
        i++;
    }
    *out = keys;
    *n = cnt;
    return 0;
}

/* Reads a positive integer limit. */
static int load_uint(const cJSON *v, const char *name, uint64_t max, void *dst, int is_size,
                     char *err, size_t errlen)
{
    double d = cJSON_IsNumber(v) ? v->valuedouble : -1;
    if (!(d >= 1 && d <= (double)max) || d != (double)(uint64_t)d) {
        snprintf(err, errlen, "limits.%s must be an integer from 1 to %llu", name,
                 (unsigned long long)max);
        return SOUK_EINVAL;
    }
    if (is_size)
        *(size_t *)dst = (size_t)d;
    else
        *(uint32_t *)dst = (uint32_t)d;
    return 0;
}

static int load_limits(const cJSON *o, sk_limits *l, char *err, size_t errlen)
{
    if (!cJSON_IsObject(o)) {
        snprintf(err, errlen, "\"limits\" must be an object");
        return SOUK_EINVAL;
    }
    struct {
        const char *name;
        void *dst;
        int is_size;
        uint64_t max;
    } known[] = {
        {"max_header_bytes", &l->max_header_bytes, 1, 1 << 20},
        {"max_url_bytes", &l->max_url_bytes, 1, 1 << 20},
        {"max_body_bytes", &l->max_body_bytes, 1, 64 << 20},
        {"max_query_bytes", &l->max_query_bytes, 1, 1 << 16},
        {"max_facets", &l->max_facets, 0, 256},
        {"max_per_page", &l->max_per_page, 0, 10000},
        {"max_depth", &l->max_depth, 0, 1000000},
        {"max_connections", &l->max_connections, 0, 1000000},
        {"max_queue", &l->max_queue, 0, 1000000},
        {"header_timeout_ms", &l->header_timeout_ms, 0, 3600000},
        {"idle_timeout_ms", &l->idle_timeout_ms, 0, 3600000},
        {"max_header_count", &l->max_header_count, 0, 10000},
        {"max_output_bytes", &l->max_output_bytes, 1, (uint64_t)1 << 30},
        {"send_timeout_ms", &l->send_timeout_ms, 0, 3600000},
        {"max_search_ms", &l->max_search_ms, 0, 60000},
        {"max_query_terms", &l->max_query_terms, 0, 65536},
    };
    const cJSON *it;
    cJSON_ArrayForEach(it, o)
    {
        size_t k = 0;
        while (k < sizeof known / sizeof known[0] && strcmp(known[k].name, it->string) != 0)
            k++;
        if (k == sizeof known / sizeof known[0]) {
            snprintf(err, errlen, "unknown field \"limits.%s\"", it->string);
            return SOUK_EINVAL;
        }
        int rc =
            load_uint(it, known[k].name, known[k].max, known[k].dst, known[k].is_size, err, errlen);
        if (rc)
            return rc;
    }
    if (l->max_url_bytes > l->max_header_bytes)
        l->max_url_bytes = l->max_header_bytes;
    return 0;
}

/* "profiles": {"popular": {"boost": "popularity:0.5", "sort": "...", "typo": true,
 *               "prefix": false, "operator": "and"}, ...} */
static int load_profiles(const cJSON *o, sk_config *c, char *err, size_t errlen)
{
    if (!cJSON_IsObject(o) || cJSON_GetArraySize(o) > 256) {
        snprintf(err, errlen, "\"profiles\" must be an object of at most 256 named profiles");
        return SOUK_EINVAL;
    }
    c->profiles = souk_calloc((size_t)cJSON_GetArraySize(o) + 1, sizeof *c->profiles);
    if (!c->profiles)
        return SOUK_ENOMEM;
    const cJSON *pr;
    cJSON_ArrayForEach(pr, o)
    {
        sk_profile *p = &c->profiles[c->nprofiles++];
        p->typo = p->prefix = p->and_op = -1;
        if (!(p->name = souk_strndup(pr->string, strlen(pr->string))))
            return SOUK_ENOMEM;
        if (!cJSON_IsObject(pr)) {
            snprintf(err, errlen, "profile \"%s\" must be an object", pr->string);
            return SOUK_EINVAL;
        }
        const cJSON *it;
        cJSON_ArrayForEach(it, pr)
        {
            const char *k = it->string;
            if ((strcmp(k, "boost") == 0 || strcmp(k, "sort") == 0) && cJSON_IsString(it) &&
                strlen(it->valuestring) <= 4096) {
                char **dst = k[0] == 'b' ? &p->boost : &p->sort;
                if (!(*dst = souk_strndup(it->valuestring, strlen(it->valuestring))))
                    return SOUK_ENOMEM;
            } else if ((strcmp(k, "typo") == 0 || strcmp(k, "prefix") == 0) && cJSON_IsBool(it)) {
                *(k[0] == 't' ? &p->typo : &p->prefix) = cJSON_IsTrue(it);
            } else if (strcmp(k, "operator") == 0 && cJSON_IsString(it) &&
                       (strcmp(it->valuestring, "and") == 0 ||
                        strcmp(it->valuestring, "or") == 0)) {
                p->and_op = it->valuestring[0] == 'a';
            } else {
                snprintf(err, errlen,
                         "profile \"%s\": \"%s\" is not one of boost (string), sort (string), "
                         "typo (bool), prefix (bool), operator (\"and\" or \"or\")",
                         pr->string, k);
                return SOUK_EINVAL;
            }
        }
    }
    return 0;
}

/* "synonyms": [["ssd", "solid state drive"], ...], "stop_words": ["the", ...] */
static int load_lexicon(const cJSON *syn, const cJSON *stop, const char *lang, sk_config *c,
                        char *err, size_t errlen)
{
    size_t ng = syn ? (size_t)cJSON_GetArraySize(syn) : 0;
    size_t ns = stop ? (size_t)cJSON_GetArraySize(stop) : 0;
    if ((syn && !cJSON_IsArray(syn)) || (stop && !cJSON_IsArray(stop)) || ng > 10000 ||
        ns > 10000) {
        snprintf(err, errlen,
                 "\"synonyms\" must be an array of arrays of strings and "
                 "\"stop_words\" an array of strings (at most 10000 each)");
        return SOUK_EINVAL;
    }
    const char ***groups = souk_calloc(ng + 1, sizeof *groups);
    const char **stops = souk_calloc(ns + 1, sizeof *stops);
    int rc = groups && stops ? 0 : SOUK_ENOMEM;
    size_t g = 0;
    const cJSON *it;
    if (syn)
        cJSON_ArrayForEach(it, syn)
        {
            if (rc)
                break;
            size_t n = cJSON_IsArray(it) ? (size_t)cJSON_GetArraySize(it) : 0;
            if (n < 2 || n > 64) {
                snprintf(err, errlen, "\"synonyms\"[%zu] must list 2 to 64 expressions", g);
                rc = SOUK_EINVAL;
                break;
            }
            if (!(groups[g] = souk_calloc(n + 1, sizeof **groups))) {
                rc = SOUK_ENOMEM;
                break;
            }
            size_t k = 0;
            const cJSON *e;
            cJSON_ArrayForEach(e, it)
            {
                if (!cJSON_IsString(e)) {
                    snprintf(err, errlen, "\"synonyms\"[%zu] must hold strings", g);
                    rc = SOUK_EINVAL;
                    break;
                }
                groups[g][k++] = e->valuestring;
            }
            g++;
        }
    size_t si = 0;
    if (stop && !rc)
        cJSON_ArrayForEach(it, stop)
        {
            if (!cJSON_IsString(it)) {
                snprintf(err, errlen, "\"stop_words\" must hold strings");
                rc = SOUK_EINVAL;
                break;
            }
            stops[si++] = it->valuestring;
        }
    if (!rc && (ng || ns))
        rc = souk_lexicon_new(lang ? lang : "en", (const char *const *const *)groups, g, stops, si,
                              &c->lexicon, err, errlen);
    for (size_t i = 0; groups && i < g; i++)
        souk_free((void *)groups[i]);
    souk_free(groups);
    souk_free(stops);
    return rc;
}

int sk_config_load(const char *path, const char *lang, sk_config **out, char *err, size_t errlen)
{
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium failed to initialize");
        return SOUK_EIO;
    }
    sk_config *c = souk_calloc(1, sizeof *c);
    if (!c)
        return SOUK_ENOMEM;
    atomic_init(&c->refs, 1);
    c->limits = default_limits;
    if (!path) {
        *out = c;
        return 0;
    }
    int rc = SOUK_EINVAL, development = 0;
    char *text = NULL;
    cJSON *root = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot open config %s: %s", path, strerror(errno));
        rc = SOUK_EIO;
        goto fail;
    }
    size_t cap = 1 << 20, len = 0;
    text = souk_malloc(cap + 1);
    if (!text) {
        fclose(f);
        rc = SOUK_ENOMEM;
        goto fail;
    }
    len = fread(text, 1, cap + 1, f);
    fclose(f);
    if (len > cap) {
        snprintf(err, errlen, "config %s is larger than 1 MiB", path);
        goto fail;
    }
    root = cJSON_ParseWithLength(text, len);
    if (!cJSON_IsObject(root)) {
        snprintf(err, errlen, "config %s is not a JSON object (error near byte %ld)", path,
                 root ? 0L : (long)(cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() - text : 0));
        goto fail;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, root)
    {
        if (strcmp(it->string, "synonyms") == 0 || strcmp(it->string, "stop_words") == 0)
            continue; /* below, once both are known */
        if (strcmp(it->string, "search_keys") == 0)
            rc = load_keys(it, "search_keys", &c->search_keys, &c->nsearch_keys, err, errlen);
        else if (strcmp(it->string, "admin_keys") == 0)
            rc = load_keys(it, "admin_keys", &c->admin_keys, &c->nadmin_keys, err, errlen);
        else if (strcmp(it->string, "limits") == 0)
            rc = load_limits(it, &c->limits, err, errlen);
        else if (strcmp(it->string, "profiles") == 0)
            rc = load_profiles(it, c, err, errlen);
        else if (strcmp(it->string, "cursor_secret") == 0) {
            /* Cursors are signed with a key derived from it, so every server given this file
             * accepts the others' cursors, across restarts (ep_search.c). */
            const char *sec = cJSON_GetStringValue(it);
            rc = SOUK_EINVAL;
            if (!sec || strlen(sec) < 16) {
                snprintf(err, errlen, "\"cursor_secret\" must be a string of 16 or more bytes");
                goto fail;
            }
            crypto_generichash(c->cursor_key, sizeof c->cursor_key, (const uint8_t *)sec,
                               strlen(sec), (const uint8_t *)"souk cursor key v2", 18);
            c->has_cursor_key = 1;
            rc = 0;
        } else if (strcmp(it->string, "development") == 0) {
            rc = SOUK_EINVAL;
            if (!cJSON_IsBool(it)) {
                snprintf(err, errlen, "\"development\" must be true or false");
                goto fail;
            }
            development = cJSON_IsTrue(it);
            rc = 0;
        } else if (strcmp(it->string, "cors_origins") == 0) {
            rc = SOUK_EINVAL;
            if (!cJSON_IsArray(it)) {
                snprintf(err, errlen, "\"cors_origins\" must be an array of strings");
                goto fail;
            }
            c->cors_origins = souk_calloc((size_t)cJSON_GetArraySize(it) + 1, sizeof(char *));
            if (!c->cors_origins) {
                rc = SOUK_ENOMEM;
                goto fail;
            }
            const cJSON *o;
            cJSON_ArrayForEach(o, it)
            {
                const char *s = cJSON_GetStringValue(o);
                if (!s || !*s || strlen(s) > SK_HDR_ORIGIN_MAX || strpbrk(s, "\r\n ,")) {
                    snprintf(err, errlen,
                             "\"cors_origins\"[%zu] must be an origin such as "
                             "\"https://shop.example\" or \"*\"",
                             c->ncors);
                    goto fail;
                }
                if (!(c->cors_origins[c->ncors++] = souk_strndup(s, strlen(s)))) {
                    rc = SOUK_ENOMEM;
                    goto fail;
                }
            }
            rc = 0;
        } else {
            snprintf(err, errlen,
                     "unknown field \"%s\" in config (known: search_keys, admin_keys, "
                     "development, cors_origins, limits, synonyms, stop_words, profiles, "
                     "cursor_secret)",
                     it->string);
            rc = SOUK_EINVAL;
        }
        if (rc)
            goto fail;
    }
    /* No keys opens every endpoint: only when the file says so, never by leaving keys out (a
     * reload to a file that lost its keys would silently open a production server). */
    if (c->nsearch_keys == 0 && c->nadmin_keys == 0 && !development) {
        snprintf(err, errlen,
                 "config %s has no search_keys or admin_keys, which would leave every endpoint "
                 "open; add keys, or \"development\": true to serve it open on purpose",
                 path);
        rc = SOUK_EINVAL;
        goto fail;
    }
    if (c->nsearch_keys + c->nadmin_keys > 0 && development) {
        snprintf(err, errlen,
                 "config %s sets \"development\": true and keys: drop one (development mode "
                 "means no keys)",
                 path);
        rc = SOUK_EINVAL;
        goto fail;
    }
    if ((rc = load_lexicon(cJSON_GetObjectItemCaseSensitive(root, "synonyms"),
                           cJSON_GetObjectItemCaseSensitive(root, "stop_words"), lang, c, err,
                           errlen)) != 0)
        goto fail;
    cJSON_Delete(root);
    souk_free(text);
    *out = c;
    return 0;
fail:
    cJSON_Delete(root);
    souk_free(text);
    config_free(c);
    return rc;
}
