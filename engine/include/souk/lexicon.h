/* lexicon.h: synonyms and stop words, applied to queries at search time (no reindexing).
 *
 * A synonym group is a NULL-terminated list of equivalent expressions of 1 to 8 words, e.g.
 * {"ssd", "solid state drive", NULL}: wherever one of them appears in a query (its words at
 * consecutive positions, outside phrases), the query also matches the others (a one-word
 * expression by its stem, a longer one as a phrase), under OR and AND alike (under AND the
 * expression and its synonyms form one required part), with prefix search (the partial last
 * word completes an expression) and with typo tolerance (a misspelt word of an expression
 * brings its synonyms at the typo weight). Stop words are dropped from the query's words
 * (outside phrases; never the partial last word of prefix search) unless every word of the
 * query is one. */
#ifndef SOUK_LEXICON_H
#define SOUK_LEXICON_H

#include "souk/search.h"

#include <stddef.h>

typedef struct souk_lexicon souk_lexicon;

/* Builds a lexicon analysing every expression in language lang. On error returns SOUK_EINVAL
 * (the message names the expression) or SOUK_ENOMEM. *out owned by the caller; immutable, so
 * it may be shared by threads. */
int souk_lexicon_new(const char *lang, const char *const *const *groups, size_t ngroups,
                     const char *const *stop, size_t nstop, souk_lexicon **out, char *err,
                     size_t errlen);
void souk_lexicon_free(souk_lexicon *l);

/* Makes the searcher's next searches use l (borrowed; NULL: none). */
void souk_searcher_set_lexicon(souk_searcher *s, const souk_lexicon *l);

#endif
