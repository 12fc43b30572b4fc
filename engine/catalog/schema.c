/* schema.c: parsing and validation of catalog schemas (see souk/schema.h). */
#include "souk/buf.h"
#include "core/alloc.h"
#include "text/codes.h"
#include "souk/schema.h"
#include "souk/souk.h"
#include "souk/analysis.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

const char souk_schema_default_json[] =
#include "procurement_schema.inc"
    ;

static char *dup_str(const char *s)
{
    return s ? souk_strndup(s, strlen(s)) : NULL;
}

void souk_schema_free(souk_schema *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nfields; i++) {
        souk_free(s->fields[i].name);
        souk_free(s->fields[i].language);
        souk_free(s->fields[i].prefix);
    }
    souk_free(s->name);
    souk_free(s->default_language);
    souk_free(s->language_field);
    souk_free(s->json);
    souk_free(s);
}

const souk_field *souk_schema_field(const souk_schema *s, const char *name, size_t len)
{
    for (size_t i = 0; i < s->nfields; i++) {
        if (strlen(s->fields[i].name) == len && memcmp(s->fields[i].name, name, len) == 0)
            return &s->fields[i];
    }
    return NULL;
}

/* Reads an optional boolean member; returns -1 when it is present but not a boolean. */
static int get_bool(const cJSON *o, const char *key, int dflt)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v)
        return dflt;
    if (!cJSON_IsBool(v))
        return -1;
    return cJSON_IsTrue(v) ? 1 : 0;
}

static int valid_name(const char *n)
{
    if (!*n || strlen(n) > 64)
        return 0;
    for (const char *p = n; *p; p++) {
        if (!(isalnum((unsigned char)*p) || *p == '_'))
            return 0;
    }
    return 1;
}

static const char *const field_keys[] = {"name",   "type",       "weight",    "language", "prefix",
                                         "stored", "filterable", "facetable", "sortable", "multi",
                                         "typo",   "path",       "max_bytes", NULL};

static const char *const schema_keys[] = {
    "name", "default_language", "language_field", "unknown_fields", "max_record_bytes", "fields",
    NULL};

static const char *unknown_key(const cJSON *o, const char *const *allowed)
{
    for (const cJSON *c = o->child; c; c = c->next) {
        int ok = 0;
        for (const char *const *k = allowed; *k; k++)
            ok |= strcmp(*k, c->string) == 0;
        if (!ok)
            return c->string;
    }
    return NULL;
}

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        snprintf(err, errlen, __VA_ARGS__);                                                        \
        goto fail;                                                                                 \
    } while (0)

/* Out of memory: SOUK_ENOMEM, not a schema error (a stored schema is not invalid then). */
#define FAIL_NOMEM()                                                                               \
    do {                                                                                           \
        rc = SOUK_ENOMEM;                                                                          \
        FAIL("schema: out of memory");                                                             \
    } while (0)

int souk_schema_parse(const char *json, size_t len, souk_schema **out, char *err, size_t errlen)
{
    souk_schema *s = NULL;
    int rc = SOUK_ESCHEMA;
    souk__cjson_oom_take();
    cJSON *root = cJSON_ParseWithLength(json, len);
    if (!root && souk__cjson_oom_take()) {
        snprintf(err, errlen, "schema: out of memory");
        return SOUK_ENOMEM;
    }
    if (!root || !cJSON_IsObject(root)) {
        snprintf(err, errlen, "schema: not a JSON object");
        cJSON_Delete(root);
        return SOUK_ESCHEMA;
    }
    s = souk_calloc(1, sizeof *s);
    if (!s)
        FAIL_NOMEM();
    const char *bad = unknown_key(root, schema_keys);
    if (bad)
        FAIL("schema: unknown key '%s'", bad);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "name");
    if (!cJSON_IsString(v) || !valid_name(v->valuestring))
        FAIL("schema: 'name' must be a name of letters, digits and '_'");
    if (!(s->name = dup_str(v->valuestring)))
        FAIL_NOMEM();
    v = cJSON_GetObjectItemCaseSensitive(root, "default_language");
    const char *dl = cJSON_IsString(v) ? v->valuestring : "en";
    if (v && !cJSON_IsString(v))
        FAIL("schema: 'default_language' must be a string");
    if (!souk_language_stemmer(dl))
        FAIL("schema: unsupported default_language '%s'", dl);
    if (!(s->default_language = dup_str(dl)))
        FAIL_NOMEM();
    v = cJSON_GetObjectItemCaseSensitive(root, "language_field");
    if (v && !cJSON_IsNull(v)) {
        if (!cJSON_IsString(v))
            FAIL("schema: 'language_field' must be a field name");
        if (!(s->language_field = dup_str(v->valuestring)))
            FAIL_NOMEM();
    }
    s->reject_unknown = 1;
    v = cJSON_GetObjectItemCaseSensitive(root, "unknown_fields");
    if (v) {
        if (cJSON_IsString(v) && strcmp(v->valuestring, "reject") == 0)
            s->reject_unknown = 1;
        else if (cJSON_IsString(v) && strcmp(v->valuestring, "ignore") == 0)
            s->reject_unknown = 0;
        else
            FAIL("schema: 'unknown_fields' must be \"reject\" or \"ignore\"");
    }
    s->max_record_bytes = 1u << 20;
    v = cJSON_GetObjectItemCaseSensitive(root, "max_record_bytes");
    if (v) {
        if (!cJSON_IsNumber(v) || v->valuedouble < 256 || v->valuedouble > (64 << 20))
            FAIL("schema: 'max_record_bytes' must be a number from 256 to 67108864");
        s->max_record_bytes = (uint32_t)v->valuedouble;
    }
    const cJSON *fields = cJSON_GetObjectItemCaseSensitive(root, "fields");
    if (!cJSON_IsArray(fields) || cJSON_GetArraySize(fields) == 0)
        FAIL("schema: 'fields' must be a non-empty array");
    if (cJSON_GetArraySize(fields) > SOUK_MAX_FIELDS)
        FAIL("schema: at most %d fields", SOUK_MAX_FIELDS);
    const cJSON *fo;
    cJSON_ArrayForEach(fo, fields)
    {
        size_t i = s->nfields;
        souk_field *f = &s->fields[i];
        if (!cJSON_IsObject(fo))
            FAIL("schema: fields[%zu] is not an object", i);
        bad = unknown_key(fo, field_keys);
        if (bad)
            FAIL("schema: fields[%zu]: unknown key '%s'", i, bad);
        v = cJSON_GetObjectItemCaseSensitive(fo, "name");
        if (!cJSON_IsString(v) || !valid_name(v->valuestring))
            FAIL("schema: fields[%zu]: 'name' must be letters, digits and '_'", i);
        if (strcmp(v->valuestring, "id") == 0 || strcmp(v->valuestring, "op") == 0)
            FAIL("schema: fields[%zu]: 'id' and 'op' are reserved", i);
        if (souk_schema_field(s, v->valuestring, strlen(v->valuestring)))
            FAIL("schema: field '%s' declared twice", v->valuestring);
        f->name = dup_str(v->valuestring);
        f->id = (uint8_t)i;
        s->nfields++;
        if (!f->name)
            FAIL_NOMEM();
        v = cJSON_GetObjectItemCaseSensitive(fo, "type");
        if (!cJSON_IsString(v))
            FAIL("schema: field '%s': 'type' is required", f->name);
        if (strcmp(v->valuestring, "text") == 0)
            f->type = SOUK_FIELD_TEXT;
        else if (strcmp(v->valuestring, "keyword") == 0)
            f->type = SOUK_FIELD_KEYWORD;
        else if (strcmp(v->valuestring, "number") == 0)
            f->type = SOUK_FIELD_NUMBER;
        else if (strcmp(v->valuestring, "bool") == 0)
            f->type = SOUK_FIELD_BOOL;
        else
            FAIL("schema: field '%s': unknown type '%s' (text, keyword, number, bool)", f->name,
                 v->valuestring);
        struct {
            const char *key;
            unsigned flag;
            int dflt;
        } flags[] = {{"stored", SOUK_F_STORED, 1},       {"filterable", SOUK_F_FILTERABLE, 0},
                     {"facetable", SOUK_F_FACETABLE, 0}, {"sortable", SOUK_F_SORTABLE, 0},
                     {"multi", SOUK_F_MULTI, 0},         {"path", SOUK_F_PATH, 0}};
        for (size_t k = 0; k < sizeof flags / sizeof flags[0]; k++) {
            int b = get_bool(fo, flags[k].key, flags[k].dflt);
            if (b < 0)
                FAIL("schema: field '%s': '%s' must be true or false", f->name, flags[k].key);
            if (b)
                f->flags |= flags[k].flag;
        }
        int typo = get_bool(fo, "typo", f->type == SOUK_FIELD_TEXT);
        if (typo < 0)
            FAIL("schema: field '%s': 'typo' must be true or false", f->name);
        if (!typo)
            f->flags |= SOUK_F_NOTYPO;
        if ((f->flags & (SOUK_F_MULTI | SOUK_F_PATH)) && f->type != SOUK_FIELD_KEYWORD)
            FAIL("schema: field '%s': 'multi' and 'path' apply to keyword fields", f->name);
        if ((f->flags & (SOUK_F_FILTERABLE | SOUK_F_FACETABLE)) && f->type == SOUK_FIELD_TEXT)
            FAIL("schema: field '%s': text fields cannot be filterable or facetable; declare a "
                 "keyword field",
                 f->name);
        f->weight = 1;
        v = cJSON_GetObjectItemCaseSensitive(fo, "weight");
        if (v) {
            if (f->type != SOUK_FIELD_TEXT)
                FAIL("schema: field '%s': 'weight' applies to text fields", f->name);
            if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 100 ||
                v->valuedouble != (double)(int)v->valuedouble)
                FAIL("schema: field '%s': 'weight' must be a whole number from 1 to 100", f->name);
            f->weight = (uint32_t)v->valuedouble;
        }
        v = cJSON_GetObjectItemCaseSensitive(fo, "language");
        if (v) {
            if (f->type != SOUK_FIELD_TEXT || !cJSON_IsString(v))
                FAIL("schema: field '%s': 'language' is a string for text fields", f->name);
            if (!souk_language_stemmer(v->valuestring))
                FAIL("schema: field '%s': unsupported language '%s'", f->name, v->valuestring);
            if (!(f->language = dup_str(v->valuestring)))
                FAIL_NOMEM();
        }
        v = cJSON_GetObjectItemCaseSensitive(fo, "prefix");
        if (v) {
            if (!cJSON_IsString(v) || strlen(v->valuestring) > 16)
                FAIL("schema: field '%s': 'prefix' must be a string of at most 16 bytes", f->name);
            for (const char *p = v->valuestring; *p; p++) {
                if (!isupper((unsigned char)*p) && *p != ':')
                    FAIL("schema: field '%s': 'prefix' must be upper-case ASCII letters (and ':')",
                         f->name);
            }
            if (v->valuestring[0] == 'Z')
                FAIL("schema: field '%s': prefixes starting with 'Z' are reserved for stems",
                     f->name);
            f->prefix = dup_str(v->valuestring);
        } else if (f->type == SOUK_FIELD_TEXT) {
            f->prefix = dup_str("");
        } else {
            /* Boolean terms: Xapian's convention, X + upper-case name + ':'. */
            char buf[80];
            size_t n = 0;
            buf[n++] = 'X';
            for (const char *p = f->name; *p && n < 70; p++)
                buf[n++] = (char)toupper((unsigned char)*p);
            buf[n++] = ':';
            buf[n] = '\0';
            f->prefix = dup_str(buf);
        }
        f->max_bytes = f->type == SOUK_FIELD_TEXT ? 65536 : 1024;
        v = cJSON_GetObjectItemCaseSensitive(fo, "max_bytes");
        if (v) {
            if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > (16 << 20))
                FAIL("schema: field '%s': 'max_bytes' must be from 1 to 16777216", f->name);
            f->max_bytes = (uint32_t)v->valuedouble;
        }
        if (f->type == SOUK_FIELD_KEYWORD && !v)
            f->max_bytes = 245;
        if (f->type == SOUK_FIELD_KEYWORD && (f->flags & (SOUK_F_FILTERABLE | SOUK_F_FACETABLE)) &&
            f->max_bytes > 245)
            FAIL("schema: field '%s': filterable or facetable keywords are at most 245 bytes "
                 "(they become index terms)",
                 f->name);
        if (!f->prefix)
            FAIL_NOMEM();
        if (strncmp(f->prefix, SOUK_CODE_PREFIX, 6) == 0 ||
            strncmp(f->prefix, SOUK_TYPO_PREFIX, 6) == 0)
            FAIL("schema: field '%s': the prefixes '" SOUK_CODE_PREFIX "' and '" SOUK_TYPO_PREFIX
                 "' are reserved (code and typo terms); set another 'prefix'",
                 f->name);
        if (f->type == SOUK_FIELD_TEXT && (f->flags & SOUK_F_NOTYPO))
            s->typo_words = 1;
    }
    if (s->language_field) {
        const souk_field *lf = souk_schema_field(s, s->language_field, strlen(s->language_field));
        if (!lf || lf->type != SOUK_FIELD_KEYWORD)
            FAIL("schema: 'language_field' '%s' must name a keyword field", s->language_field);
    }
    s->json = cJSON_PrintUnformatted(root);
    if (!s->json)
        FAIL_NOMEM();
    cJSON_Delete(root);
    *out = s;
    return SOUK_OK;
fail:
    cJSON_Delete(root);
    souk_schema_free(s);
    return rc;
}

int souk_schema_load(const char *path, souk_schema **out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "schema: cannot open '%s': %s", path, strerror(errno));
        return SOUK_ESCHEMA;
    }
    char *buf = NULL;
    size_t n = 0, cap = 0;
    int rc = SOUK_ESCHEMA;
    for (;;) {
        int grc = souk_grow((void **)&buf, &cap, n + 4096, 1, (1u << 20) + 4096);
        if (grc == SOUK_ETOOBIG) {
            snprintf(err, errlen, "schema: '%s' is larger than 1 MiB", path);
            goto out;
        }
        if (grc) {
            snprintf(err, errlen, "schema: out of memory");
            rc = SOUK_ENOMEM;
            goto out;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    if (ferror(f)) {
        snprintf(err, errlen, "schema: cannot read '%s'", path);
        goto out;
    }
    rc = souk_schema_parse(buf, n, out, err, errlen);
out:
    souk_free(buf);
    fclose(f);
    return rc;
}
