/* analyst.h: what the analysts' endpoints share (POST /v1/rank-eval, POST /v1/analytics/dry-run,
 * the rule suggestions of GET /v1/analytics/queries): a search run inside another request,
 * through the very code of /v1/search. */
#ifndef SOUK_API_ANALYST_H
#define SOUK_API_ANALYST_H

#include "api_int.h"

#include <cjson/cJSON.h>

/* Runs `POST /v1/search` with the JSON object body `params` (its parameters, e.g. q, filter,
 * per_page, profile, typo) inside request c: the same handler (sk_ep_search), on c's worker and
 * configuration, with no user token, its own time budget (limits.max_search_ms from now), and
 * the searcher's lexicon as it stands (a caller may set a proposed one around the call). On 200
 * returns the parsed response in *out (cJSON_Delete); on another status returns it with the
 * parsed error body in *out ({"error":{"code","message","field"}}), or NULL when out of memory. */
int sk_subsearch(sk_ctx *c, const cJSON *params, cJSON **out);

/* Copies a sub-search's error (the body sk_subsearch returned for status) into c's response,
 * its field prefixed with `where` (e.g. "queries[3]"); returns status. */
int sk_fail_sub(sk_ctx *c, int status, const cJSON *err, const char *where);

/* Parses the JSON object body of c's POST (415 for another content type, 400 for invalid JSON,
 * what souk/json_strict.h refuses, or not an object). Returns 0 with *root (cJSON_Delete), or
 * the status of the error response written. */
int sk_parse_body(sk_ctx *c, cJSON **root);

/* Adds to each row of a zero-result table (souk_query_stats's, parsed) what each existing rule
 * would match today, by searching the row's query against the live index: "rules" {"as_is"
 * (no rule), "synonyms" (the configured lexicon, when there is one), "typo", "part_numbers",
 * "live" (what /v1/search does by default: synonyms and part numbers)}, each {"total","ids"}
 * (the first three ids) or null when the search failed; "would_match", the rules that find
 * something while as_is finds nothing; "matches_now". At most 50 rows and until deadline
 * (sk_now_ns); the table says "rules_truncated". Returns SOUK_OK, SOUK_EIO, SOUK_ENOMEM. */
int sk_zero_result_rules(sk_ctx *c, cJSON *table, uint64_t deadline);

#endif
