/* spelling.h: the spelling table beside the index. "Did you mean" uses Xapian's spelling
 * support (Xapian::Database::get_spelling_suggestion) on a small Glass database in the data
 * directory's "spelling" folder, holding the catalog's words with their frequencies. It is data
 * derived from the LMDB index: souk_spelling_sync brings it to the index's current generation
 * by comparing the two word lists, so a crash or kill at any moment leaves, at worst, a table a
 * commit behind, which the next sync repairs. Searches check each suggestion against their own
 * snapshot of the index. */
#ifndef SOUK_SPELLING_H
#define SOUK_SPELLING_H

#include "souk/index.h"

#include <stdint.h>

typedef struct souk_spelling_stats {
    uint64_t generation;              /* the index generation the table now matches */
    uint64_t words;                   /* words in the table */
    uint64_t added, removed, changed; /* words new, gone, with a new frequency */
    int up_to_date;                   /* nothing to do: the table already matched */
} souk_spelling_stats;

/* The spelling table's folder for the index in dir: dir + "/spelling". */
int souk_spelling_path(const char *dir, char *out, size_t cap);

/* Brings the spelling table of ix (opened writable) up to the index's current
 * generation. The words are those of the typo dictionary (engine/query/typo.c: text words of 2 to
 * 48 bytes; CJK n-grams left out) and a word's frequency is its collection frequency (field weights
 * included). Returns 0, or an error with err set (the index itself is not touched). */
int souk_spelling_sync(souk_index *ix, souk_spelling_stats *st, char *err, size_t errlen);

#endif
