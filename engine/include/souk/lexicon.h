/* lexicon.h: synonyms and stop words, applied to queries at search time (no reindexing).
 *
 * A synonym group is a NULL-terminated list of equivalent expressions of 1 to 8 words, e.g.
 * {"ssd", "solid state drive", NULL}: a query with one of them also matches the others (a
 * one-word expression by its stem, a longer one as a phrase). Stop words are dropped from plain
 * queries unless every word of the query is one. Both apply to plain queries: words joined by
 * the default operator, without brackets, phrases or field prefixes. */
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
