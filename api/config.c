/* config.c: the server's configuration file (JSON), validated strictly: an unknown field, a
 * wrong type or a malformed key hash is an error naming the field, so a typo never silently
 * turns a limit or a credential off. API keys are stored as SHA-256 hashes ("sha256:<hex>");
 * the server hashes the presented key and compares hashes in constant time (router.c). */
#include "algolia.h"
#include "api_int.h"
#include "souk/keys.h"
#include "souk/lexicon.h"
#include "souk/souk.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <sys/stat.h>
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
    .max_events_body_bytes = 1 << 20,
    .max_insights_events_per_minute = 1000,
    .doc_cache_mb = 32,
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
    souk_free(c->ingest_keys);
    souk_free(c->analyst_keys);
    souk_free(c->ev.pseudonym_key_file);
    souk_free(c->ev.token_key_file);
    souk_keyring_free(c->ev.pseudonym_ring);
    souk_keyring_free(c->ev.token_ring);
    for (size_t i = 0; i < c->ncors; i++)
        souk_free(c->cors_origins[i]);
    souk_free(c->cors_origins);
    souk_lexicon_free(c->lexicon);
    cJSON_Delete(c->lexicon_src);
    for (size_t i = 0; i < c->nprofiles; i++) {
        souk_free(c->profiles[i].name);
        souk_free(c->profiles[i].boost);
        souk_free(c->profiles[i].sort);
    }
    souk_free(c->profiles);
    for (size_t i = 0; i < c->recs.nreplenishable; i++)
        souk_free(c->recs.replenishable[i]);
    souk_free(c->recs.replenishable);
    souk_free(c->recs.category_field);
    souk_free(c->recs.cap_field);
    souk_free(c->storefront_dir);
    souk_free(c->storefront_lib_dir);
    cJSON_Delete(c->algolia);
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

/* Reads an integer limit of at least min (0 or 1). */
static int load_uint(const cJSON *v, const char *name, int min, uint64_t max, void *dst,
                     int is_size, char *err, size_t errlen)
{
    double d = cJSON_IsNumber(v) ? v->valuedouble : -1;
    if (!(d >= min && d <= (double)max) || d != (double)(uint64_t)d) {
        snprintf(err, errlen, "limits.%s must be an integer from %d to %llu", name, min,
                 (unsigned long long)max);
        return SOUK_EINVAL;
    }
    if (is_size)
        *(size_t *)dst = (size_t)d;
    else
        *(uint32_t *)dst = (uint32_t)d;
    return 0;
}

/* "storefront": {"dir": DIR, "lib_dir": DIR}: the storefront page's files and the npm bundles it
 * loads (ep_storefront.c); each an existing directory. */
static int load_storefront(const cJSON *o, sk_config *c, char *err, size_t errlen)
{
    if (!cJSON_IsObject(o)) {
        snprintf(err, errlen, "\"storefront\" must be an object {\"dir\", \"lib_dir\"}");
        return SOUK_EINVAL;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, o)
    {
        int lib = strcmp(it->string, "lib_dir") == 0;
        if (!lib && strcmp(it->string, "dir") != 0) {
            snprintf(err, errlen, "unknown field \"storefront.%s\" (known: dir, lib_dir)",
                     it->string);
            return SOUK_EINVAL;
        }
        const char *d = cJSON_GetStringValue(it);
        struct stat st;
        if (!d || !*d || stat(d, &st) != 0 || !S_ISDIR(st.st_mode)) {
            snprintf(err, errlen, "\"storefront.%s\" must name an existing directory%s%s",
                     it->string, d ? ": " : "", d ? d : "");
            return SOUK_EINVAL;
        }
        char **dst = lib ? &c->storefront_lib_dir : &c->storefront_dir;
        souk_free(*dst);
        if (!(*dst = souk_strndup(d, strlen(d))))
            return SOUK_ENOMEM;
    }
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
        {"max_events_body_bytes", &l->max_events_body_bytes, 1, 64 << 20},
        {"max_insights_events_per_minute", &l->max_insights_events_per_minute, 0, 1000000},
        {"doc_cache_mb", &l->doc_cache_mb, 0, 4096},
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
        int rc = load_uint(it, known[k].name, known[k].dst == &l->doc_cache_mb ? 0 : 1,
                           known[k].max, known[k].dst, known[k].is_size, err, errlen);
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
    /* The source, for dry runs that add proposed synonyms to it (api/ep_analytics_dry_run.c). */
    if (!rc && (ng || ns) &&
        (!(c->lexicon_src = cJSON_CreateObject()) ||
         (syn && !cJSON_AddItemToObject(c->lexicon_src, "synonyms", cJSON_Duplicate(syn, 1))) ||
         (stop && !cJSON_AddItemToObject(c->lexicon_src, "stop_words", cJSON_Duplicate(stop, 1)))))
        rc = SOUK_ENOMEM;
    for (size_t i = 0; groups && i < g; i++)
        souk_free((void *)groups[i]);
    souk_free(groups);
    souk_free(stops);
    return rc;
}

/* ------------------------------------------------------------------ behaviour events */

static const souk_retention default_retention = {365 * 86400LL, 30 * 86400LL, 180 * 86400LL};

/* An integer field of an events object, min..max. */
static int load_int(const cJSON *v, const char *name, double min, double max, double *out,
                    char *err, size_t errlen)
{
    double d = cJSON_IsNumber(v) ? v->valuedouble : -1;
    if (!cJSON_IsNumber(v) || !(d >= min && d <= max) || d != (double)(int64_t)d) {
        snprintf(err, errlen, "\"%s\" must be an integer from %.0f to %.0f", name, min, max);
        return SOUK_EINVAL;
    }
    *out = d;
    return 0;
}

/* "recommendations": {"min_users", "cap", "replenishable": [categories], "category_field",
 * "cap_field"} */
static int load_recs(const cJSON *o, sk_recs_cfg *r, char *err, size_t errlen)
{
    if (!cJSON_IsObject(o)) {
        snprintf(err, errlen, "\"recommendations\" must be an object");
        return SOUK_EINVAL;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, o)
    {
        char name[64];
        snprintf(name, sizeof name, "recommendations.%s", it->string);
        double d;
        if (strcmp(it->string, "min_users") == 0 || strcmp(it->string, "cap") == 0) {
            int mu = it->string[0] == 'm';
            if (load_int(it, name, 1, mu ? 1000000 : 100, &d, err, errlen))
                return SOUK_EINVAL;
            *(mu ? &r->min_users : &r->cap) = (uint32_t)d;
        } else if (strcmp(it->string, "category_field") == 0 ||
                   strcmp(it->string, "cap_field") == 0) {
            const char *s = cJSON_GetStringValue(it);
            if (!s || !*s || strlen(s) > 64) {
                snprintf(err, errlen, "\"%s\" must be a field name", name);
                return SOUK_EINVAL;
            }
            char **dst =
                it->string[1] == 'a' && it->string[2] == 't' ? &r->category_field : &r->cap_field;
            souk_free(*dst);
            if (!(*dst = souk_strndup(s, strlen(s))))
                return SOUK_ENOMEM;
        } else if (strcmp(it->string, "replenishable") == 0) {
            if (!cJSON_IsArray(it) || r->replenishable) {
                snprintf(err, errlen, "\"%s\" must be an array of category paths", name);
                return SOUK_EINVAL;
            }
            size_t n = (size_t)cJSON_GetArraySize(it);
            r->replenishable = souk_calloc(n ? n : 1, sizeof *r->replenishable);
            if (!r->replenishable)
                return SOUK_ENOMEM;
            const cJSON *v;
            cJSON_ArrayForEach(v, it)
            {
                const char *s = cJSON_GetStringValue(v);
                if (!s || !*s || strlen(s) > 256) {
                    snprintf(err, errlen, "\"%s\"[%zu] must be a category path", name,
                             r->nreplenishable);
                    return SOUK_EINVAL;
                }
                if (!(r->replenishable[r->nreplenishable] = souk_strndup(s, strlen(s))))
                    return SOUK_ENOMEM;
                r->nreplenishable++;
            }
        } else {
            snprintf(err, errlen,
                     "unknown field \"%s\" (known: min_users, cap, replenishable, "
                     "category_field, cap_field)",
                     name);
            return SOUK_EINVAL;
        }
    }
    return 0;
}

/* "retention": {"events_days", "impressions_days", "history_days", "sweep_interval_s"} */
static int load_retention(const cJSON *o, sk_events_cfg *e, char *err, size_t errlen)
{
    if (!cJSON_IsObject(o)) {
        snprintf(err, errlen, "\"retention\" must be an object");
        return SOUK_EINVAL;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, o)
    {
        int64_t *dst = strcmp(it->string, "events_days") == 0        ? &e->retention.events_s
                       : strcmp(it->string, "impressions_days") == 0 ? &e->retention.impressions_s
                       : strcmp(it->string, "history_days") == 0     ? &e->retention.history_s
                                                                     : NULL;
        char name[64];
        snprintf(name, sizeof name, "retention.%s", it->string);
        double d;
        if (dst) {
            if (load_int(it, name, 0, 36500, &d, err, errlen))
                return SOUK_EINVAL;
            *dst = (int64_t)d * 86400;
        } else if (strcmp(it->string, "sweep_interval_s") == 0) {
            if (load_int(it, name, 1, 86400 * 7, &d, err, errlen))
                return SOUK_EINVAL;
            e->sweep_interval_s = (uint32_t)d;
        } else {
            snprintf(err, errlen,
                     "unknown field \"retention.%s\" (known: events_days, impressions_days, "
                     "history_days, sweep_interval_s)",
                     it->string);
            return SOUK_EINVAL;
        }
    }
    return 0;
}

/* "consent_default": {"personalization", "location", "search_history"}: booleans. */
static int load_consent_default(const cJSON *o, souk_consent *c, char *err, size_t errlen)
{
    if (!cJSON_IsObject(o)) {
        snprintf(err, errlen, "\"consent_default\" must be an object");
        return SOUK_EINVAL;
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, o)
    {
        int *dst = strcmp(it->string, "personalization") == 0  ? &c->personalization
                   : strcmp(it->string, "location") == 0       ? &c->location
                   : strcmp(it->string, "search_history") == 0 ? &c->search_history
                                                               : NULL;
        if (!dst || !cJSON_IsBool(it)) {
            snprintf(err, errlen,
                     "\"consent_default.%s\" is not one of personalization, location, "
                     "search_history (each true or false)",
                     it->string);
            return SOUK_EINVAL;
        }
        *dst = cJSON_IsTrue(it);
    }
    return 0;
}

/* A key-ring file name: loaded (and so checked: mode 0600, not inside datadir) into *ring. */
static int load_ring(const cJSON *v, const char *name, const char *datadir, char **path,
                     souk_keyring **ring, char *err, size_t errlen)
{
    const char *s = cJSON_GetStringValue(v);
    if (!s || !*s || strlen(s) > 4096) {
        snprintf(err, errlen, "\"%s\" must be the path of a key file", name);
        return SOUK_EINVAL;
    }
    if (!(*path = souk_strndup(s, strlen(s))))
        return SOUK_ENOMEM;
    char kerr[400];
    int rc = souk_keyring_load(s, datadir, ring, kerr, sizeof kerr);
    if (rc) {
        snprintf(err, errlen, "\"%s\": %s", name, kerr);
        return rc == SOUK_ENOMEM ? rc : SOUK_EINVAL;
    }
    return 0;
}

/* Checks what the event settings need of each other. */
static int check_events(sk_config *c, const cJSON *root, const char *path, char *err, size_t errlen)
{
    static const char *const needs_store[] = {"token_key_file", "ingest_keys",     "analyst_keys",
                                              "retention",      "consent_default", "policy_version",
                                              "analytics_k"};
    if (!c->ev.enabled) {
        for (size_t i = 0; i < sizeof needs_store / sizeof needs_store[0]; i++)
            if (cJSON_GetObjectItemCaseSensitive(root, needs_store[i])) {
                snprintf(err, errlen,
                         "config %s sets \"%s\" without \"pseudonym_key_file\", which turns "
                         "behaviour events on",
                         path, needs_store[i]);
                return SOUK_EINVAL;
            }
        return 0;
    }
    struct stat a, b;
    if (c->ev.token_key_file && stat(c->ev.pseudonym_key_file, &a) == 0 &&
        stat(c->ev.token_key_file, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
        snprintf(err, errlen,
                 "config %s: \"pseudonym_key_file\" and \"token_key_file\" are the same file; "
                 "the pseudonymization key never leaves Souk, the token key is shared with the "
                 "platform: use two files",
                 path);
        return SOUK_EINVAL;
    }
    return 0;
}

int sk_config_events_same(const sk_config *a, const sk_config *b, char *err, size_t errlen)
{
    const sk_events_cfg *x = &a->ev, *y = &b->ev;
    const char *what = NULL;
    if (x->enabled != y->enabled)
        what = "pseudonym_key_file (events on or off)";
    else if (x->enabled && strcmp(x->pseudonym_key_file, y->pseudonym_key_file) != 0)
        what = "pseudonym_key_file";
    else if (memcmp(&x->retention, &y->retention, sizeof x->retention) != 0)
        what = "retention";
    else if (x->consent_default.personalization != y->consent_default.personalization ||
             x->consent_default.location != y->consent_default.location ||
             x->consent_default.search_history != y->consent_default.search_history)
        what = "consent_default";
    else if (x->policy_version != y->policy_version)
        what = "policy_version";
    else if (x->sweep_interval_s != y->sweep_interval_s)
        what = "retention.sweep_interval_s";
    if (!what)
        return 0;
    snprintf(err, errlen,
             "\"%s\" changed: the event store was opened with it; restart to change it", what);
    return SOUK_EINVAL;
}

size_t sk_config_nkeys(const sk_config *c)
{
    return c->nsearch_keys + c->nadmin_keys + c->ningest_keys + c->nanalyst_keys;
}

int sk_config_load(const char *path, const char *lang, const char *datadir, sk_config **out,
                   char *err, size_t errlen)
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
    c->ev.retention = default_retention;
    c->ev.policy_version = 1;
    c->ev.analytics_k = 50;
    c->ev.sweep_interval_s = 3600;
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
        else if (strcmp(it->string, "ingest_keys") == 0)
            rc = load_keys(it, "ingest_keys", &c->ingest_keys, &c->ningest_keys, err, errlen);
        else if (strcmp(it->string, "analyst_keys") == 0)
            rc = load_keys(it, "analyst_keys", &c->analyst_keys, &c->nanalyst_keys, err, errlen);
        else if (strcmp(it->string, "pseudonym_key_file") == 0) {
            rc = load_ring(it, "pseudonym_key_file", datadir, &c->ev.pseudonym_key_file,
                           &c->ev.pseudonym_ring, err, errlen);
            c->ev.enabled = rc == 0;
        } else if (strcmp(it->string, "token_key_file") == 0)
            rc = load_ring(it, "token_key_file", datadir, &c->ev.token_key_file, &c->ev.token_ring,
                           err, errlen);
        else if (strcmp(it->string, "retention") == 0)
            rc = load_retention(it, &c->ev, err, errlen);
        else if (strcmp(it->string, "recommendations") == 0)
            rc = load_recs(it, &c->recs, err, errlen);
        else if (strcmp(it->string, "consent_default") == 0)
            rc = load_consent_default(it, &c->ev.consent_default, err, errlen);
        else if (strcmp(it->string, "policy_version") == 0 ||
                 strcmp(it->string, "analytics_k") == 0) {
            double d;
            int pv = it->string[0] == 'p';
            rc = load_int(it, it->string, pv ? 1 : 2, pv ? 4294967295.0 : 1000000, &d, err, errlen);
            if (!rc)
                *(pv ? &c->ev.policy_version : &c->ev.analytics_k) = (uint32_t)d;
        } else if (strcmp(it->string, "region") == 0) {
            /* A regional server (docs/scaling.md): user tokens of other regions are refused. */
            const char *rg = cJSON_GetStringValue(it);
            size_t n = rg ? strlen(rg) : 0;
            rc = SOUK_EINVAL;
            if (n < 2 || n > 8 || strspn(rg, "abcdefghijklmnopqrstuvwxyz") != n) {
                snprintf(err, errlen, "\"region\" must be 2 to 8 lower-case letters (cn, eu, ...)");
                goto fail;
            }
            memcpy(c->ev.region, rg, n + 1);
            rc = 0;
        } else if (strcmp(it->string, "limits") == 0)
            rc = load_limits(it, &c->limits, err, errlen);
        else if (strcmp(it->string, "profiles") == 0)
            rc = load_profiles(it, c, err, errlen);
        else if (strcmp(it->string, "algolia") == 0) {
            /* Algolia's search protocol: the index names it answers to (algolia.h). */
            rc = sk_algolia_config_check(it, err, errlen);
            if (!rc && !(c->algolia = cJSON_Duplicate(it, 1)))
                rc = SOUK_ENOMEM;
        } else if (strcmp(it->string, "cursor_secret") == 0) {
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
        } else if (strcmp(it->string, "storefront") == 0) {
            rc = load_storefront(it, c, err, errlen);
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
                     "ingest_keys, analyst_keys, development, cors_origins, limits, synonyms, "
                     "stop_words, profiles, cursor_secret, pseudonym_key_file, token_key_file, "
                     "retention, consent_default, policy_version, analytics_k, "
                     "recommendations, algolia, storefront)",
                     it->string);
            rc = SOUK_EINVAL;
        }
        if (rc)
            goto fail;
    }
    /* No keys opens every endpoint: only when the file says so, never by leaving keys out (a
     * reload to a file that lost its keys would silently open a production server). */
    if ((rc = check_events(c, root, path, err, errlen)) != 0)
        goto fail;
    if (sk_config_nkeys(c) == 0 && !development) {
        snprintf(err, errlen,
                 "config %s has no search_keys or admin_keys (nor ingest_keys or analyst_keys), "
                 "which would leave every endpoint open; add keys, or \"development\": true to "
                 "serve it open on purpose",
                 path);
        rc = SOUK_EINVAL;
        goto fail;
    }
    if (sk_config_nkeys(c) > 0 && development) {
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
