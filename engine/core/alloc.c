/* alloc.c: the one allocation wrapper of the engine. It forwards to jemalloc's non-prefixed
 * malloc (jemalloc is linked in and replaces the system allocator), or to the system malloc in
 * sanitizer builds, so ASan sees every allocation. cJSON is pointed at it at start-up. */
#include "core/alloc.h"
#include "souk/souk.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#ifndef SOUK_SYSTEM_MALLOC
/* jemalloc's start-up options (the MALLOC_CONF environment variable still overrides them).
 * Transparent huge pages for all of its memory: an indexing batch lives in a few hundred MB of
 * fresh memory, and on the virtual machines we run on a first-touch page fault costs several
 * microseconds, so 4 KiB faults were a third of the indexer's CPU time (docs/benchmarks.md). With
 * 2 MiB pages there are ~50x fewer faults. "always" for the metadata too: jemalloc's own
 * bookkeeping then lives in the same huge pages instead of scattered 4 KiB ones. */
const char *malloc_conf = "thp:always,metadata_thp:always";
#endif

void *souk_malloc(size_t n)
{
    return malloc(n ? n : 1);
}

void *souk_calloc(size_t n, size_t m)
{
    return calloc(n ? n : 1, m ? m : 1);
}

void *souk_realloc(void *p, size_t n)
{
    return realloc(p, n ? n : 1);
}

void souk_free(void *p)
{
    free(p);
}

char *souk_strndup(const char *s, size_t n)
{
    char *d = souk_malloc(n + 1);
    if (!d)
        return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* Set when an allocation of cJSON's failed on this thread (souk__cjson_oom_take). */
static _Thread_local int cjson_oom;

static void *cjson_malloc(size_t n)
{
    void *p = souk_malloc(n);
    if (!p)
        cjson_oom = 1;
    return p;
}

int souk__cjson_oom_take(void)
{
    int o = cjson_oom;
    cjson_oom = 0;
    return o;
}

static void cjson_free(void *p)
{
    souk_free(p);
}

void souk_alloc_init(void)
{
    cJSON_Hooks hooks = {cjson_malloc, cjson_free};
    cJSON_InitHooks(&hooks);
}

const char *souk_strerror(int code)
{
    switch (code) {
    case SOUK_OK:
        return "success";
    case SOUK_ENOMEM:
        return "out of memory";
    case SOUK_EIO:
        return "I/O error";
    case SOUK_EINVAL:
        return "invalid argument";
    case SOUK_ESCHEMA:
        return "schema error";
    case SOUK_EXAPIAN:
        return "Xapian error";
    case SOUK_EQUERY:
        return "query syntax error";
    case SOUK_ENOTFOUND:
        return "not found";
    case SOUK_ECORRUPT:
        return "index corrupt";
    case SOUK_EFULL:
        return "index map full";
    case SOUK_ETOOBIG:
        return "input too large";
    case SOUK_EFORMAT:
        return "incompatible index format";
    case SOUK_ENOIDS:
        return "document ids exhausted";
    default:
        return "unknown error";
    }
}
