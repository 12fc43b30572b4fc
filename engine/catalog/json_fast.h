/* json_fast.h: a fast path for parsing catalog records into cJSON trees.
 *
 * cJSON allocates every node and every string on its own; a catalog record has dozens, and
 * parsing was a tenth of indexing's instructions. souk__json_parse builds the same tree (same
 * node types, values, keys, order and links) in memory taken from a per-thread arena that is
 * reset for each record, so the callers keep reading it with cJSON's accessors. It takes only
 * input it can read exactly as cJSON 1.7.15 does: strict JSON numbers, the escapes cJSON knows
 * with well-formed \u sequences, modest nesting. For anything else, valid or not, it answers
 * SOUK_JSON_FALLBACK and the caller parses with cJSON, which then decides (and names the error
 * position) exactly as before. The tree must never be passed to cJSON_Delete. */
#ifndef SOUK_JSON_FAST_H
#define SOUK_JSON_FAST_H

#include <cjson/cJSON.h>
#include <stddef.h>

#define SOUK_JSON_OK 0
#define SOUK_JSON_FALLBACK 1 /* not read here: parse with cJSON */
#define SOUK_JSON_NOMEM 2

typedef struct souk_json_arena souk_json_arena;

souk_json_arena *souk__json_arena_new(void);
void souk__json_arena_free(souk_json_arena *a);

/* Parses the first JSON value of s[0, len) into *root (arena memory, valid until the next call
 * with the same arena) and sets *end just past it, as cJSON_ParseWithLengthOpts does. */
int souk__json_parse(souk_json_arena *a, const char *s, size_t len, cJSON **root, const char **end);

#endif
