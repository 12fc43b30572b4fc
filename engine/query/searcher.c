/* searcher.c: a searcher (souk/search.h): its snapshot and statistics, the time budget of a
 * search, the dictionary cache, and the per-generation structures it warms. */
#include "catalog/columns.h"
#include "query/match_int.h"
#include "text/spelltable.h"
#include "souk/lexicon.h"
#include "query/typo.h"
#include "text/codes.h"
#include "core/varint.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------------ time budget */

uint64_t souk_clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void souk_searcher_set_budget(souk_searcher *s, const souk_budget *b)
{
    if (b)
        s->budget = *b;
    else
        memset(&s->budget, 0, sizeof s->budget);
}

int souk__budget_begin(souk_searcher *s)
{
    const souk_budget *b = &s->budget;
    s->stopped = 0;
    /* Without a budget the clock is never read: the counter starts out of reach. */
    if (!b->deadline_ns && !b->should_stop) {
        s->tick_left = INT64_MAX / 2;
        return 0;
    }
    uint64_t now = souk_clock_ns();
    s->next_poll_ns = now + SOUK_STOP_POLL_NS;
    s->tick_left = SOUK__TICK_UNITS;
    /* A search that waited past its deadline (in a queue, or past the drain's cut) does not
     * even expand its query. */
    if (b->deadline_ns && now >= b->deadline_ns) {
        s->stopped = SOUK_STOP_DEADLINE;
        s->tick_left = 0;
    }
    return s->stopped;
}

int souk__tick_slow(souk_searcher *s)
{
    const souk_budget *b = &s->budget;
    if (s->stopped) {
        s->tick_left = 0;
        return 1;
    }
    if (!b->deadline_ns && !b->should_stop) {
        s->tick_left = INT64_MAX / 2;
        return 0;
    }
    s->tick_left = SOUK__TICK_UNITS;
    uint64_t now = souk_clock_ns();
    if (b->deadline_ns && now >= b->deadline_ns) {
        s->stopped = SOUK_STOP_DEADLINE;
    } else if (b->should_stop && now >= s->next_poll_ns) {
        s->next_poll_ns = now + SOUK_STOP_POLL_NS;
        if (b->should_stop(b->stop_ctx))
            s->stopped = SOUK_STOP_CANCELLED;
    }
    if (s->stopped)
        s->tick_left = 0;
    return s->stopped != 0;
}

int souk_search_stopped(const souk_searcher *s)
{
    return s->stopped;
}

/* ------------------------------------------------------------------ statistics */

/* ------------------------------------------------------------------ dictionary cache */

#define DICT_SLOTS 4096 /* a power of two; filled to half at most */

struct souk__dict_slot {
    uint64_t hash;
    char *term; /* NULL: an empty slot */
    uint32_t len;
    int found;
    souk__dict d; /* inline_block points at inl */
    uint8_t *inl;
};

/* Empties the dictionary cache (a new generation, or the searcher going away). */
static void dict_clear(souk_searcher *s)
{
    if (!s->dict)
        return;
    for (uint32_t i = 0; i < DICT_SLOTS && s->dict_used; i++) {
        if (s->dict[i].term) {
            souk_free(s->dict[i].term);
            souk_free(s->dict[i].inl);
            s->dict[i].term = NULL;
            s->dict_used--;
        }
    }
}

int souk__term_postings(souk_searcher *s, const char *term, size_t len, souk_postings *p)
{
    if (len == 0 || len > 500)
        return SOUK_ENOTFOUND;
    if (!s->dict)
        s->dict = souk_calloc(DICT_SLOTS, sizeof *s->dict);
    uint64_t h = souk__hash(term, len);
    struct souk__dict_slot *e = NULL;
    if (s->dict) {
        for (uint32_t i = (uint32_t)h & (DICT_SLOTS - 1);; i = (i + 1) & (DICT_SLOTS - 1)) {
            e = &s->dict[i];
            if (!e->term)
                break;
            if (e->hash == h && e->len == len && memcmp(e->term, term, len) == 0) {
                if (!e->found)
                    return SOUK_ENOTFOUND;
                return souk__postings_open_dict(s->r, term, len, &e->d, p);
            }
        }
    }
    souk__dict d;
    int rc = souk__reader_dict(s->r, term, len, &d);
    if (rc && rc != SOUK_ENOTFOUND)
        return rc;
    /* Remember it while there is room (entries are never evicted within a generation, so the
     * inline postings a cursor borrows stay put). */
    if (e && s->dict_used < DICT_SLOTS / 2) {
        char *t = souk_strndup(term, len);
        uint8_t *inl = !rc && d.inline_len ? souk_malloc(d.inline_len) : NULL;
        if (t && (rc || !d.inline_len || inl)) {
            e->hash = h;
            e->term = t;
            e->len = (uint32_t)len;
            e->found = !rc;
            e->inl = inl;
            if (!rc) {
                e->d = d;
                if (inl) {
                    memcpy(inl, d.inline_block, d.inline_len);
                    e->d.inline_block = inl;
                }
            }
            s->dict_used++;
        } else {
            souk_free(t);
            souk_free(inl);
        }
    }
    return rc ? rc : souk__postings_open_dict(s->r, term, len, &d, p);
}

static int load_stats(souk_searcher *s)
{
    souk_stats st;
    int rc = souk_reader_stats(s->r, &st);
    if (rc)
        return rc;
    s->bm.N = (double)st.docs;
    /* Xapian: average length = total / N; len_factor = 1 / average (0 when empty). */
    double avlen = st.docs ? (double)st.total_len / (double)st.docs : 0.0;
    s->bm.len_factor = avlen != 0.0 ? 1.0 / avlen : 0.0;
    s->next_docid = st.next_docid;
    s->generation = st.generation;
    if (s->dict_generation != st.generation) {
        dict_clear(s);
        s->dict_generation = st.generation;
    }
    if (s->knorm_generation != st.generation)
        s->knorm_valid = 0;
    size_t need = (size_t)(st.next_docid / SOUK_DOCLEN_CHUNK) + 1;
    if (need > s->nchunks) {
        const uint32_t **nc = souk_realloc(s->chunks, need * sizeof *nc);
        if (!nc)
            return SOUK_ENOMEM;
        s->chunks = nc;
        s->nchunks = need;
    }
    memset(s->chunks, 0, s->nchunks * sizeof *s->chunks);
    return SOUK_OK;
}

uint32_t souk__doclen(souk_searcher *s, uint32_t docid)
{
    size_t c = docid / SOUK_DOCLEN_CHUNK;
    if (c >= s->nchunks)
        return 0;
    if (!s->chunks[c] && souk__reader_doclen_chunk(s->r, (uint32_t)c, &s->chunks[c]) != 0)
        return 0;
    return s->chunks[c][docid % SOUK_DOCLEN_CHUNK];
}

int souk_searcher_new(souk_index *ix, souk_searcher **out)
{
    souk_searcher *s = souk_calloc(1, sizeof *s);
    if (!s)
        return SOUK_ENOMEM;
    s->ix = ix;
    int rc = souk_reader_new(ix, &s->r);
    if (rc) {
        souk_free(s);
        return rc;
    }
    const souk_schema *sc = souk_index_schema(ix);
    for (size_t i = 0; i < sc->nfields; i++) {
        const souk_field *f = &sc->fields[i];
        if (f->type == SOUK_FIELD_TEXT && f->prefix[0]) {
            s->fields[s->nfields++] = (souk_qp_field){f->name, f->prefix, 0};
        } else if ((f->type == SOUK_FIELD_KEYWORD || f->type == SOUK_FIELD_BOOL) &&
                   (f->flags & (SOUK_F_FILTERABLE | SOUK_F_FACETABLE))) {
            s->fields[s->nfields++] = (souk_qp_field){f->name, f->prefix, 1};
        }
    }
    if ((rc = load_stats(s)) != 0) {
        souk_searcher_free(s);
        return rc;
    }
    *out = s;
    return SOUK_OK;
}

void souk_searcher_free(souk_searcher *s)
{
    if (!s)
        return;
    souk__sig_release(s);
    souk_reader_free(s->r);
    souk_xspell_close(s->spell);
    dict_clear(s);
    souk_free(s->dict);
    souk__doc_cache_free(s);
    souk_free(s->chunks);
    souk_free(s->knorm);
    souk_free(s);
}

int souk_searcher_refresh(souk_searcher *s)
{
    int rc = souk_reader_refresh(s->r);
    return rc ? rc : load_stats(s);
}

souk_reader *souk_searcher_reader(souk_searcher *s)
{
    return s->r;
}

const souk_qp_field *souk_searcher_fields(souk_searcher *s, size_t *n)
{
    *n = s->nfields;
    return s->fields;
}

void souk_index_cache_stats(souk_index *ix, uint64_t *column_builds, uint64_t *typo_builds)
{
    *column_builds = souk__gen_builds(ix, souk__columns_slot());
    *typo_builds = souk__gen_builds(ix, souk__typo_slot());
}

int souk_searcher_warm(souk_searcher *s)
{
    souk__columns *c;
    souk__typo_dict *t;
    int rc = 0, cols, typo;
    /* Only what requests have used: an index never searched with filters or typos costs its
     * commits nothing. */
    cols = souk__gen_cached(s->ix, souk__columns_slot());
    typo = souk__gen_cached(s->ix, souk__typo_slot());
    if (cols) {
        if ((rc = souk__columns_get(s->r, s->generation, s->next_docid, &c)) != 0)
            return rc;
        souk__columns_release(c);
    }
    if (typo) {
        if ((rc = souk__typo_get(s->r, s->generation, &t)) != 0)
            return rc;
        souk__typo_release(t);
    }
    return 0;
}

int souk_suggest(souk_searcher *s, const souk_query *q, char **out)
{
    return souk__suggest(s, q, out);
}

void souk_searcher_set_lexicon(souk_searcher *s, const souk_lexicon *l)
{
    s->lex = l;
}

/* ------------------------------------------------------------------ length normalisation */

/* Makes the length-normalisation cache valid for the current snapshot and parameters. */
int souk__knorm_prepare(souk_searcher *s)
{
    if (s->knorm_valid && s->knorm_generation == s->generation &&
        memcmp(&s->knorm_p, &s->bm.p, sizeof s->bm.p) == 0)
        return 0;
    size_t need = (size_t)s->next_docid + 1;
    if (need > s->knorm_cap) {
        double *k = souk_realloc(s->knorm, need * sizeof *k);
        if (!k)
            return SOUK_ENOMEM;
        s->knorm = k;
        s->knorm_cap = need;
    }
    memset(s->knorm, 0xff, need * sizeof *s->knorm); /* all NaN */
    s->knorm_p = s->bm.p;
    s->knorm_generation = s->generation;
    s->knorm_valid = 1;
    return 0;
}

/* bm25_sumpart for the document's own length, with its normalisation cached: the same
 * operations as Xapian (k1 * (normlen * b + (1 - b)), then + wdf), so the same result. */
double souk__bm25_knorm(souk_searcher *s, uint32_t docid)
{
    double k = souk__bm25_norm(&s->bm, souk__doclen(s, docid));
    s->knorm[docid] = k;
    return k;
}
