/* typo.h: typo tolerance (typo.c), private to the engine. */
#ifndef SOUK_TYPO_H
#define SOUK_TYPO_H

#include "souk/index.h"
#include "souk/search.h"
#include "souk/queryparse.h"

#include <stddef.h>
#include <stdint.h>

typedef struct souk__typo_dict souk__typo_dict;

/* A dictionary word close to a query word. */
typedef struct souk__typo_cand {
    const char *term; /* without the "Z" prefix, borrowed from the dictionary */
    size_t len;
    uint32_t df;
    int edits;
} souk__typo_cand;

/* Calls fn for each word typo tolerance and spelling work on, in byte order: the unprefixed
 * terms from "a" on, or, when the schema has typo_words, the SOUK_TYPO_PREFIX terms with the
 * prefix stripped. */
int souk__typo_words(souk_reader *r, souk_term_iter_fn fn, void *ctx);

/* The typo dictionary of generation (r's snapshot, as its searcher loaded it), with a
 * reference. */
int souk__typo_get(souk_reader *r, uint64_t generation, souk__typo_dict **out);
void souk__typo_release(souk__typo_dict *t);
/* The index's per-generation cache slot of the typo dictionary (catalog/reader.h). */
int souk__typo_slot(void);
/* A word (1 to 64 bytes) made ready for souk__typo_distance_p. */
typedef struct souk__typo_pattern {
    uint64_t peq[256];
    size_t m;
} souk__typo_pattern;
void souk__typo_pattern_init(souk__typo_pattern *p, const char *w, size_t m);
/* The Levenshtein distance of the pattern's word and t, or k + 1 when it exceeds k. */
int souk__typo_distance_p(const souk__typo_pattern *p, const char *t, size_t n, int k);

/* A copy of q in which every free-text word of at least 5 letters outside phrases also matches
 * its typo candidates, scored at `weight` times an exact match. *out owned by the caller
 * (souk_query_free). */
int souk__typo_expand(souk_searcher *s, const souk_query *q, double weight, souk_query **out);

/* "Did you mean": the query's words with each word the index lacks (3+ letters) replaced by
 * Xapian's spelling suggestion from the spelling table (souk/spelling.h; 1 edit, 2 from 6
 * letters), kept only when the searcher's snapshot has the suggested word; *out NULL when every
 * word is known, has no suggestion, or the index has no spelling table. *out owned by the
 * caller (souk_free). */
int souk__suggest(souk_searcher *s, const souk_query *q, char **out);

#endif
