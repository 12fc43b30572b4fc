/* profiles.c: the server's ranking profiles (docs/api.md, "Ranking profiles"): the versioned
 * store beside the index (souk/profstore.h), the compiled current versions every worker serves
 * with, and the resolution of a search's profile=name or profile=name@version.
 *
 * Live switching without a lock on the hot path: the current versions form an immutable,
 * reference-counted table with a generation number. A PUT compiles the new version, builds the
 * next table (sharing the other profiles' compiled objects), and publishes it under the lock,
 * then bumps the atomic generation. Each request compares the generation with the one of the
 * table its worker holds (one atomic load); only when it changed does the worker take the lock
 * for the moment it takes a reference to the new table and drops the old. So the next request
 * on every worker thread sees a new version, and a request keeps the version it started with. */
#include "api_int.h"
#include "souk/index.h"
#include "souk/lexicon.h"
#include "souk/profile.h"
#include "souk/profstore.h"
#include "souk/souk.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The most profiles a store holds (each with any number of versions). */
#define SK_MAX_PROFILES 1000

typedef struct sk_ptable {
    atomic_int refs;
    uint64_t gen;
    uint64_t stamp; /* the store's souk_profstore_stamp when the table was read */
    size_t n;
    sk_cprofile **v; /* by name */
} sk_ptable;

typedef struct sk_profiles {
    souk_profstore *store;
    const souk_schema *schema;
    pthread_mutex_t lock;  /* publishing a table, and taking a reference to the current one */
    pthread_mutex_t wlock; /* one writer at a time: a store change and the table it publishes */
    sk_ptable *table;      /* under lock */
    atomic_uint_fast64_t gen;
    atomic_uint_fast64_t stamp; /* the current table's store stamp */
} sk_profiles;

void sk_cprofile_unref(sk_cprofile *cp)
{
    if (!cp || atomic_fetch_sub(&cp->refs, 1) != 1)
        return;
    souk_profile_free(cp->p);
    souk_lexicon_free(cp->lex);
    souk_free(cp->name);
    souk_free(cp);
}

static void ptable_unref(sk_ptable *t)
{
    if (!t || atomic_fetch_sub(&t->refs, 1) != 1)
        return;
    for (size_t i = 0; i < t->n; i++)
        sk_cprofile_unref(t->v[i]);
    souk_free(t->v);
    souk_free(t);
}

/* Parses and compiles doc as version `version` of name. SOUK_EINVAL/SOUK_ETOOBIG with err
 * naming the member, or SOUK_ENOMEM. */
static int compile(const souk_schema *schema, const char *name, uint32_t version,
                   int64_t updated_ms, const char *doc, size_t len, sk_cprofile **out, char *err,
                   size_t errlen)
{
    souk_analyzer *a;
    if (souk_analyzer_new(&a))
        return SOUK_ENOMEM;
    souk_profile *p;
    int rc = souk_profile_parse(doc, len, schema, a, &p, err, errlen);
    souk_analyzer_free(a);
    if (rc)
        return rc;
    souk_lexicon *lex = NULL;
    if (p->ngroups || p->nstop) {
        char lerr[400];
        rc = souk_lexicon_new(schema->default_language ? schema->default_language : "en",
                              (const char *const *const *)p->groups, p->ngroups,
                              (const char *const *)p->stop, p->nstop, &lex, lerr, sizeof lerr);
        if (rc) {
            snprintf(err, errlen, "synonyms: %s", lerr);
            souk_profile_free(p);
            return rc;
        }
    }
    sk_cprofile *cp = souk_calloc(1, sizeof *cp);
    if (!cp || !(cp->name = souk_strndup(name, strlen(name)))) {
        souk_free(cp);
        souk_profile_free(p);
        souk_lexicon_free(lex);
        snprintf(err, errlen, "out of memory");
        return SOUK_ENOMEM;
    }
    atomic_init(&cp->refs, 1);
    cp->version = version;
    cp->updated_ms = updated_ms;
    cp->p = p;
    cp->lex = lex;
    *out = cp;
    return 0;
}

typedef struct load_ctx {
    sk_profiles *pr;
    const sk_ptable *old; /* the table being replaced: its compiled versions are reused */
    sk_ptable *t;
    size_t cap;
    int rc;
    char *err;
    size_t errlen;
} load_ctx;

static sk_cprofile *table_find(const sk_ptable *t, const char *name);

static int load_one(void *ctx, const char *name, uint32_t version, int64_t updated_ms)
{
    (void)updated_ms;
    load_ctx *l = ctx;
    sk_cprofile *cp = table_find(l->old, name);
    if (cp && cp->version == version) { /* unchanged: shared with the old table */
        atomic_fetch_add(&cp->refs, 1);
    } else {
        char *doc;
        size_t len;
        uint32_t v;
        int64_t ms;
        int rc = souk_profstore_get(l->pr->store, name, 0, &doc, &len, &v, &ms, l->err, l->errlen);
        if (rc)
            return l->rc = rc;
        char cerr[512];
        rc = compile(l->pr->schema, name, v, ms, doc, len, &cp, cerr, sizeof cerr);
        souk_free(doc);
        if (rc == SOUK_ENOMEM)
            return l->rc = rc;
        if (rc) { /* e.g. the schema changed under a stored profile: it stays stored, unserved */
            fprintf(stderr, "souk-server: profile \"%s\" version %u is not served: %s\n", name, v,
                    cerr);
            return 0;
        }
    }
    if (souk_grow((void **)&l->t->v, &l->cap, l->t->n + 1, sizeof *l->t->v, SIZE_MAX)) {
        sk_cprofile_unref(cp);
        return l->rc = SOUK_ENOMEM;
    }
    l->t->v[l->t->n++] = cp;
    return 0;
}

/* Builds the table of every profile's current version from the store, and publishes it. */
static int reload_table(sk_profiles *pr, char *err, size_t errlen)
{
    sk_ptable *t = souk_calloc(1, sizeof *t);
    if (!t)
        return SOUK_ENOMEM;
    atomic_init(&t->refs, 1);
    /* Read before the list: a put that commits meanwhile leaves the stamp behind, so the next
     * request reads the store again. */
    t->stamp = souk_profstore_stamp(pr->store);
    /* Only writers (under wlock) and the opening replace pr->table, so it is stable here. */
    load_ctx l = {pr, pr->table, t, 0, 0, err, errlen};
    int rc = souk_profstore_list(pr->store, load_one, &l, err, errlen);
    if (rc || l.rc) {
        ptable_unref(t);
        return rc ? rc : l.rc;
    }
    pthread_mutex_lock(&pr->lock);
    sk_ptable *old = pr->table;
    t->gen = (old ? old->gen : 0) + 1;
    pr->table = t;
    atomic_store(&pr->stamp, t->stamp);
    atomic_store(&pr->gen, t->gen);
    pthread_mutex_unlock(&pr->lock);
    ptable_unref(old);
    return 0;
}

/* The document of a configuration profile (request defaults only). */
static char *config_doc(const sk_profile *cp)
{
    cJSON *root = cJSON_CreateObject(), *d = cJSON_CreateObject();
    if (!root || !d) {
        cJSON_Delete(root);
        cJSON_Delete(d);
        return NULL;
    }
    cJSON_AddItemToObject(root, "defaults", d);
    if (cp->boost)
        cJSON_AddStringToObject(d, "boost", cp->boost);
    if (cp->sort)
        cJSON_AddStringToObject(d, "sort", cp->sort);
    if (cp->typo >= 0)
        cJSON_AddBoolToObject(d, "typo", cp->typo);
    if (cp->prefix >= 0)
        cJSON_AddBoolToObject(d, "prefix", cp->prefix);
    if (cp->and_op >= 0)
        cJSON_AddStringToObject(d, "operator", cp->and_op ? "and" : "or");
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return s;
}

/* Adds the configuration's profiles the store lacks; the number added, or a negative code. */
static int seed(sk_profiles *pr, const sk_config *cfg, char *err, size_t errlen)
{
    int added = 0;
    for (size_t i = 0; i < cfg->nprofiles; i++) {
        const sk_profile *cp = &cfg->profiles[i];
        if (!souk_profile_name_ok(cp->name, strlen(cp->name))) {
            snprintf(err, errlen,
                     "profile \"%.64s\": a profile name has 1 to %d of the characters "
                     "A-Z a-z 0-9 _ - .",
                     cp->name, SOUK_PROFILE_NAME_MAX);
            return SOUK_EINVAL;
        }
        char *doc = config_doc(cp);
        if (!doc)
            return SOUK_ENOMEM;
        sk_cprofile *c;
        char cerr[400];
        int rc = compile(pr->schema, cp->name, 1, 0, doc, strlen(doc), &c, cerr, sizeof cerr);
        if (rc) {
            cJSON_free(doc);
            snprintf(err, errlen, "profile \"%.64s\": %s", cp->name, cerr);
            return rc;
        }
        sk_cprofile_unref(c);
        uint32_t v = 0;
        rc = souk_profstore_put(pr->store, cp->name, doc, strlen(doc), sk_now_ms(), 1, &v, err,
                                errlen);
        cJSON_free(doc);
        if (rc)
            return rc;
        added += v != 0;
    }
    return added;
}

int sk_profiles_open(sk_server_state *st, const sk_config *cfg, char *err, size_t errlen)
{
    sk_profiles *pr = souk_calloc(1, sizeof *pr);
    if (!pr)
        return SOUK_ENOMEM;
    pthread_mutex_init(&pr->lock, NULL);
    pthread_mutex_init(&pr->wlock, NULL);
    pr->schema = souk_index_schema(st->ix);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/profiles", st->data_dir);
    int rc = souk_profstore_open(dir, &pr->store, err, errlen);
    if (!rc) {
        rc = seed(pr, cfg, err, errlen);
        if (rc >= 0)
            rc = reload_table(pr, err, errlen);
    }
    if (rc) {
        souk_profstore_close(pr->store);
        pthread_mutex_destroy(&pr->lock);
        pthread_mutex_destroy(&pr->wlock);
        souk_free(pr);
        return rc;
    }
    st->profiles = pr;
    return 0;
}

void sk_profiles_seed(sk_server_state *st, const sk_config *cfg)
{
    sk_profiles *pr = st->profiles;
    char err[512];
    if (!pr)
        return;
    pthread_mutex_lock(&pr->wlock);
    int rc = seed(pr, cfg, err, sizeof err);
    if (rc > 0)
        rc = reload_table(pr, err, sizeof err);
    pthread_mutex_unlock(&pr->wlock);
    if (rc < 0)
        fprintf(stderr, "souk-server: profiles from the configuration: %s\n", err);
}

void sk_profiles_close(sk_server_state *st)
{
    sk_profiles *pr = st->profiles;
    if (!pr)
        return;
    ptable_unref(pr->table);
    souk_profstore_close(pr->store);
    pthread_mutex_destroy(&pr->lock);
    pthread_mutex_destroy(&pr->wlock);
    souk_free(pr);
    st->profiles = NULL;
}

void sk_worker_profiles_free(sk_worker *w)
{
    ptable_unref(w->ptable);
    w->ptable = NULL;
    souk_analyzer_free(w->analyzer);
    w->analyzer = NULL;
}

/* The worker's table, brought up to the current generation. A version another process put
 * into the store (another souk-server on the same data directory) is seen by the store's stamp:
 * the first request to notice it reads the store again, unless a writer is at it already. */
static sk_ptable *worker_table(sk_worker *w, sk_profiles *pr)
{
    if (souk_profstore_stamp(pr->store) != atomic_load(&pr->stamp) &&
        pthread_mutex_trylock(&pr->wlock) == 0) {
        char err[512];
        if (souk_profstore_stamp(pr->store) != atomic_load(&pr->stamp) &&
            reload_table(pr, err, sizeof err))
            fprintf(stderr, "souk-server: profiles: %s\n", err);
        pthread_mutex_unlock(&pr->wlock);
    }
    uint64_t gen = atomic_load_explicit(&pr->gen, memory_order_acquire);
    if (!w->ptable || w->ptable->gen != gen) {
        pthread_mutex_lock(&pr->lock);
        sk_ptable *t = pr->table;
        if (t)
            atomic_fetch_add(&t->refs, 1);
        pthread_mutex_unlock(&pr->lock);
        ptable_unref(w->ptable);
        w->ptable = t;
    }
    return w->ptable;
}

static sk_cprofile *table_find(const sk_ptable *t, const char *name)
{
    size_t lo = 0, hi = t ? t->n : 0;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(t->v[mid]->name, name);
        if (c == 0)
            return t->v[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

int sk_profile_resolve(sk_ctx *c, const char *spec, sk_cprofile **out)
{
    sk_profiles *pr = c->w->st->profiles;
    char name[SOUK_PROFILE_NAME_MAX + 1];
    const char *at = strchr(spec, '@');
    size_t nl = at ? (size_t)(at - spec) : strlen(spec);
    uint32_t version = 0;
    if (at) {
        const char *v = at + 1;
        char *end;
        unsigned long n = strtoul(v, &end, 10);
        if (*v < '1' || *v > '9' || *end || n > UINT32_MAX)
            return sk_fail(c, 400, "invalid_parameter", "profile",
                           "profile is name or name@version, with a version from 1");
        version = (uint32_t)n;
    }
    if (!souk_profile_name_ok(spec, nl))
        return sk_fail(c, 400, "invalid_parameter", "profile", "no profile named \"%.64s\"", spec);
    memcpy(name, spec, nl);
    name[nl] = 0;
    if (!pr)
        return sk_fail(c, 400, "invalid_parameter", "profile", "no profile named \"%s\"", name);
    sk_cprofile *cp = table_find(worker_table(c->w, pr), name);
    if (cp && (!version || version == cp->version)) {
        atomic_fetch_add(&cp->refs, 1);
        *out = cp;
        return 0;
    }
    /* Another version, or a profile the table does not serve (stored but not fitting the
     * index's schema: the error says why): read and compiled for this request. */
    char err[512], *doc;
    size_t len;
    uint32_t got;
    int64_t ms;
    int rc = souk_profstore_get(pr->store, name, version, &doc, &len, &got, &ms, err, sizeof err);
    if (rc == SOUK_ENOTFOUND && !version)
        return sk_fail(c, 400, "invalid_parameter", "profile", "no profile named \"%s\"", name);
    if (rc == SOUK_ENOTFOUND)
        return sk_fail(c, 400, "invalid_parameter", "profile", "profile \"%s\" has no version %u",
                       name, version);
    if (rc)
        return sk_fail(c, 500, "internal", NULL, "%s", err);
    rc = compile(pr->schema, name, got, ms, doc, len, out, err, sizeof err);
    souk_free(doc);
    if (rc == SOUK_ENOMEM)
        return sk_fail(c, 500, "internal", NULL, "out of memory");
    if (rc)
        return sk_fail(c, 400, "invalid_parameter", "profile",
                       "profile \"%s\" version %u does not fit the index: %s", name, got, err);
    return 0;
}

int sk_profile_draft(sk_ctx *c, const char *doc, size_t len, sk_cprofile **out)
{
    sk_profiles *pr = c->w->st->profiles;
    if (!pr)
        return sk_fail(c, 400, "invalid_parameter", "profile_draft",
                       "this server has no profile store");
    char err[512];
    int rc = compile(pr->schema, "draft", 0, 0, doc, len, out, err, sizeof err);
    if (rc == SOUK_ENOMEM)
        return sk_fail(c, 500, "internal", NULL, "out of memory");
    if (rc)
        return sk_fail(c, 400, "invalid_profile", "profile_draft", "profile_draft.%s", err);
    return 0;
}

/* ------------------------------------------------------------------ the endpoints' access */

struct souk_profstore *sk_profiles_store(sk_ctx *c)
{
    sk_profiles *pr = c->w->st->profiles;
    if (!pr) {
        sk_fail(c, 404, "not_found", NULL, "this server has no profile store");
        return NULL;
    }
    return pr->store;
}

int sk_profiles_put(sk_ctx *c, const char *name, const char *doc, size_t len, uint32_t *version)
{
    sk_profiles *pr = c->w->st->profiles;
    char err[600];
    sk_cprofile *cp;
    int rc = compile(pr->schema, name, 0, 0, doc, len, &cp, err, sizeof err);
    if (rc == SOUK_ENOMEM)
        return sk_fail(c, 500, "internal", NULL, "out of memory");
    if (rc) {
        /* "path: message": the field is the path. */
        char field[128] = "";
        const char *colon = strstr(err, ": ");
        if (colon && (size_t)(colon - err) < sizeof field &&
            !memchr(err, ' ', (size_t)(colon - err)))
            snprintf(field, sizeof field, "%.*s", (int)(colon - err), err);
        return sk_fail(c, rc == SOUK_ETOOBIG ? 413 : 400, "invalid_profile",
                       field[0] ? field : NULL, "%s", err);
    }
    sk_cprofile_unref(cp);
    /* The store and the table change together: one PUT at a time. */
    pthread_mutex_lock(&pr->wlock);
    if (!table_find(pr->table, name) && pr->table && pr->table->n >= SK_MAX_PROFILES) {
        pthread_mutex_unlock(&pr->wlock);
        return sk_fail(c, 400, "too_many_profiles", NULL,
                       "the store holds %d profiles, the most it may; reuse a name",
                       SK_MAX_PROFILES);
    }
    uint32_t v;
    rc = souk_profstore_put(pr->store, name, doc, len, sk_now_ms(), 0, &v, err, sizeof err);
    if (!rc && (rc = reload_table(pr, err, sizeof err)) != 0) {
        pthread_mutex_unlock(&pr->wlock);
        return sk_fail(c, 500, "internal", NULL, "stored as version %u, not yet served: %s", v,
                       err);
    }
    pthread_mutex_unlock(&pr->wlock);
    if (rc)
        return sk_fail(c, 500, "internal", NULL, "%s", err);
    *version = v;
    return 0;
}
