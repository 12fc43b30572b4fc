/* profile.h: ranking profile documents (issue 21), parsed and validated against an index's
 * schema into what a search applies: the ranking signals (souk_rank_profile, souk/rank.h), the
 * request defaults, the profile's own synonyms and stop words, and its curation rules (items
 * pinned at positions or hidden, per query). The document format and its budgets are in
 * docs/ranking.md ("Ranking profiles"); storing versions is souk/profstore.h's work.
 *
 * Threads: a parsed souk_profile is immutable, so any number of threads may read it. */
#ifndef SOUK_PROFILE_H
#define SOUK_PROFILE_H

#include "souk/analysis.h"
#include "souk/rank.h"
#include "souk/schema.h"

#include <stddef.h>
#include <stdint.h>

/* The budget of one profile document (a document over it is refused, naming the member). */
#define SOUK_PROFILE_MAX_BYTES (256u * 1024u) /* the JSON text */
#define SOUK_PROFILE_MAX_SYNONYM_GROUPS 1000
#define SOUK_PROFILE_MAX_GROUP_SIZE 64
#define SOUK_PROFILE_MAX_STOP_WORDS 1000
#define SOUK_PROFILE_MAX_RULES 1000
#define SOUK_PROFILE_MAX_PINS 20   /* per rule */
#define SOUK_PROFILE_MAX_HIDES 100 /* per rule */
#define SOUK_PROFILE_MAX_POSITION 100
#define SOUK_PROFILE_MAX_TEXT 512 /* an expression, stop word, rule query or item id, in bytes */
#define SOUK_PROFILE_NAME_MAX 64
#define SOUK_PROFILE_NORM_MAX 1024 /* a normalized query, in bytes */

/* One pinned item: id shown at position (1-based, counted over the whole result order). */
typedef struct souk_pin {
    char *id;
    uint32_t position;
} souk_pin;

/* A curation rule: for a query matched exactly (byte for byte, after trimming spaces) or
 * normalized (souk_profile_normalize on both sides), pins and hides. */
typedef struct souk_curation_rule {
    char *query; /* exact: as written; normalized: its normal form */
    int normalized;
    souk_pin *pins; /* by position, ascending; positions distinct */
    size_t npins;
    char **hide;
    size_t nhide;
} souk_curation_rule;

/* A parsed profile document. Strings are owned by the profile. */
typedef struct souk_profile {
    souk_rank_profile rank;
    /* Request defaults: -1 / NULL when the document does not set them. */
    int typo, prefix, and_op;
    char *sort, *boost; /* the search parameters' syntax (docs/api.md), checked at search time */
    /* Synonyms and stop words: groups[i] is a NULL-terminated list of expressions. */
    char ***groups;
    size_t ngroups;
    char **stop;
    size_t nstop;
    souk_curation_rule *rules;
    size_t nrules;
} souk_profile;

/* The name of a profile: 1 to SOUK_PROFILE_NAME_MAX bytes of [A-Za-z0-9_.-]. 1 when valid. */
int souk_profile_name_ok(const char *name, size_t len);

/* Parses and validates the profile document json[0, len) against schema s (its text and number
 * fields), with an analyzer a to normalize the curation rules' queries. On success *out is owned
 * by the caller (souk_profile_free). On error returns SOUK_EINVAL with err naming the member by
 * its path and the problem (`boosts[2].field: "section" is not a number field`), SOUK_ETOOBIG
 * over a budget (named likewise), or SOUK_ENOMEM. Unknown members are refused. On the caller's
 * thread (a is not shared). */
int souk_profile_parse(const char *json, size_t len, const souk_schema *s, souk_analyzer *a,
                       souk_profile **out, char *err, size_t errlen);
void souk_profile_free(souk_profile *p);

/* The normal form of query q[0, n) that curation rules match: its words as the analyzer splits
 * and lower-cases them (language "none": no stemming), with the accents of Latin letters removed
 * (é -> e, ß -> ss), joined by one space; punctuation and whitespace between words do not count.
 * Writes a NUL-terminated string into out (cap bytes, a longer form is cut at a word) and
 * returns its length. On the caller's thread (a is not shared). */
size_t souk_profile_normalize(souk_analyzer *a, const char *q, size_t n, char *out, size_t cap);

/* The rule of p matching query q[0, n) (norm: its normal form, from souk_profile_normalize), or
 * NULL. An exact rule wins over a normalized one; among equals, the first in the document. */
const souk_curation_rule *souk_profile_rule(const souk_profile *p, const char *q, size_t n,
                                            const char *norm);

#endif
