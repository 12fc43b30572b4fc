/* doccache.c: the searcher's cache of decoded stored documents (souk_searcher_doc).
 *
 * A page of results costs, besides the search, one B-tree lookup and one LZ4 decompression per
 * hit (souk_reader_doc); for a storefront's top 10 that was two thirds of the handler's time
 * outside matching. Hot items come back page after page, so each searcher keeps the documents it
 * decoded: a 4-way set-associative table of 32,768 slots keyed by docid, each slot holding the
 * id and the stored-fields JSON in its own buffer. A slot is valid for one index generation (a
 * docid's document never changes within one, and every commit makes a new one), so a commit
 * invalidates the whole cache without touching it. The buffers together stay within the byte
 * budget set by souk_searcher_set_doc_cache (0: no cache); a document larger than
 * SOUK__DOC_ENTRY_MAX, or one that would pass the budget, is served from the reader uncached.
 * A miss replaces the set's stale or least recently used way. One searcher per thread: no lock. */
#include "match_int.h"

#include <string.h>

#define DOC_WAYS 4
#define DOC_SETS 8192 /* 1 << DOC_SET_BITS */
#define DOC_SET_BITS 13
#define SOUK__DOC_ENTRY_MAX (32 << 10) /* bytes of id and JSON cached per document at most */

struct souk__doc_slot {
    uint64_t gen; /* the generation it was filled at; 0: never filled */
    uint32_t docid;
    uint32_t id_len, json_len;
    uint32_t cap;  /* of buf, counted in souk_searcher.doc_bytes */
    uint32_t used; /* last use (the searcher's tick), for the LRU way */
    char *buf;     /* id, then JSON */
};

void souk__doc_cache_free(souk_searcher *s)
{
    if (s->docs) {
        for (size_t i = 0; i < (size_t)DOC_SETS * DOC_WAYS; i++)
            souk_free(s->docs[i].buf);
        souk_free(s->docs);
    }
    s->docs = NULL;
    s->doc_bytes = 0;
}

void souk_searcher_set_doc_cache(souk_searcher *s, size_t bytes)
{
    if (bytes < s->doc_budget)
        souk__doc_cache_free(s); /* shrunk: start empty within the new budget */
    s->doc_budget = bytes;
}

void souk_searcher_doc_cache_stats(souk_searcher *s, souk_doc_cache_stats *st)
{
    st->hits = s->doc_hits;
    st->misses = s->doc_misses;
    st->bytes = s->doc_bytes;
    st->budget = s->doc_budget;
}

static uint32_t doc_set(uint32_t docid)
{
    return (docid * 2654435761u) >> (32 - DOC_SET_BITS);
}

int souk_searcher_doc(souk_searcher *s, uint32_t docid, const char **id, size_t *id_len,
                      const char **json, size_t *json_len)
{
    if (!s->doc_budget)
        return souk_reader_doc(s->r, docid, id, id_len, json, json_len);
    if (!s->docs) {
        s->docs = souk_calloc((size_t)DOC_SETS * DOC_WAYS, sizeof *s->docs);
        if (!s->docs)
            return souk_reader_doc(s->r, docid, id, id_len, json, json_len);
    }
    struct souk__doc_slot *set = &s->docs[(size_t)doc_set(docid) * DOC_WAYS];
    uint32_t tick = ++s->doc_tick;
    for (int w = 0; w < DOC_WAYS; w++) {
        struct souk__doc_slot *e = &set[w];
        if (e->gen == s->generation && e->docid == docid && e->gen) {
            e->used = tick;
            s->doc_hits++;
            *id = e->buf;
            *id_len = e->id_len;
            *json = e->buf + e->id_len;
            *json_len = e->json_len;
            return SOUK_OK;
        }
    }
    s->doc_misses++;
    int rc = souk_reader_doc(s->r, docid, id, id_len, json, json_len);
    size_t need = *id_len + *json_len;
    if (rc || need == 0 || need > SOUK__DOC_ENTRY_MAX || !s->generation)
        return rc;
    /* The victim: a way of another generation, else the one used longest ago. */
    struct souk__doc_slot *v = &set[0];
    for (int w = 0; w < DOC_WAYS; w++) {
        if (set[w].gen != s->generation) {
            v = &set[w];
            break;
        }
        if ((uint32_t)(tick - set[w].used) > (uint32_t)(tick - v->used))
            v = &set[w];
    }
    if (v->cap < need) {
        if (s->doc_bytes - v->cap + need > s->doc_budget)
            return SOUK_OK; /* over the budget: served uncached */
        char *nb = souk_realloc(v->buf, need);
        if (!nb)
            return SOUK_OK;
        s->doc_bytes += need - v->cap;
        v->buf = nb;
        v->cap = (uint32_t)need;
    }
    memcpy(v->buf, *id, *id_len);
    memcpy(v->buf + *id_len, *json, *json_len);
    v->gen = s->generation;
    v->docid = docid;
    v->id_len = (uint32_t)*id_len;
    v->json_len = (uint32_t)*json_len;
    v->used = tick;
    *id = v->buf;
    *json = v->buf + v->id_len;
    return SOUK_OK;
}
