/* json_strict.h: what Souk refuses in JSON input that a JSON parser (cJSON, json_fast) accepts.
 *
 * cJSON takes the first of two equal keys, stops a string at an escaped \u0000, skips a UTF-8
 * byte order mark, and by default ignores what follows the value. In a catalog record or a
 * request body each of these silently changes the meaning (issue 17: `{"id":"0ad","op":"upsert",
 * "op":"delete"}` emptied an item; `acct-1\u0000-A` and `acct-1\u0000-B` were one id). The
 * indexer's record parser (engine/catalog/document.c) and the server's POST bodies
 * (api/ep_search.c) both call souk_json_strict, so they refuse the same things with the same
 * messages. */
#ifndef SOUK_JSON_STRICT_H
#define SOUK_JSON_STRICT_H

#include <cjson/cJSON.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Checks JSON text[0, len) and, when root is not NULL, the value parsed from it (a cJSON tree,
 * cJSON's or json_fast's) and end, where the parser stopped (NULL: not known, not checked).
 * In this order it refuses: a byte order mark at the start; a raw NUL byte; an escaped NUL
 * (\u0000) in a string; data other than JSON whitespace (space, tab, CR, LF) after the value;
 * a key repeated within one object, at any depth. Call it with root NULL before reporting a
 * parse error, so that input refused for one of the first three reasons says so.
 * Returns 0, or SOUK_EINVAL with a message in err naming the problem (the byte offset, or the
 * repeated key), or SOUK_ENOMEM. Thread-safe; reads only its arguments; O(len + members log
 * members). */
int souk_json_strict(const char *text, size_t len, const cJSON *root, const char *end, char *err,
                     size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
