/* highlight.h: matched words marked in stored text, and snippets (highlight.c).
 *
 * A highlighter is made for one query and searcher (after the searcher's synonyms and the
 * query's typo rewriting, so those matches are marked too); it then marks any number of texts.
 * Output is HTML: the text escaped (& < > " '), each matching word in <em>...</em>. */
#ifndef SOUK_HIGHLIGHT_H
#define SOUK_HIGHLIGHT_H

#include "souk/search.h"

#include <stddef.h>

typedef struct souk_highlighter souk_highlighter;

/* *out owned by the caller. Same thread as the searcher. */
int souk_highlighter_new(souk_searcher *s, const souk_query *q, const souk_search_opts *o,
                         souk_highlighter **out);
void souk_highlighter_free(souk_highlighter *h);

/* Marks text[0..len). max_words 0: the whole text; else the window of max_words words with the
 * most matches, with "…" where text was cut. *res (NUL-terminated, *res_len bytes) is owned by
 * the caller (souk_free); *nmatches (may be NULL) gets the number of matching words. */
int souk_highlight(souk_highlighter *h, const char *text, size_t len, size_t max_words, char **res,
                   size_t *res_len, size_t *nmatches);

#endif
