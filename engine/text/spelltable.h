/* spelltable.h: the Xapian spelling table (engine/text/spelltable.cc), the text layer's
 * interface for the query layer's "did you mean" (engine/query/spelling.c, typo.c).
 *
 * No C++ exception crosses this boundary: every function catches everything and returns a
 * SOUK_E* code, with the detail in the handle's last message or the caller's buffer. */
#ifndef SOUK_TEXT_SPELLTABLE_H
#define SOUK_TEXT_SPELLTABLE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Xapian's spelling support (Database::add_spelling, get_spelling_suggestion) on a Glass
 * database of its own, which holds only the spelling table and, in its metadata, the index
 * generation it was last brought up to (engine/query/spelling.c keeps it in step with the index). A
 * handle is not thread-safe: give each thread its own. */
typedef struct souk_xspell souk_xspell;

/* Opens the spelling database at path, writable or read-only; SOUK_ENOTFOUND when there is
 * none, which includes a directory that lacks the version file (a creation cut short). Never
 * creates one: see souk_xspell_create. */
int souk_xspell_open(const char *path, int writable, souk_xspell **out, char *err, size_t errlen);

/* Creates an empty spelling database at path (which must not hold one), open for writing. Not
 * crash-safe in place: a kill during creation can leave a directory without the version file,
 * so callers create in a directory of their own and rename it into place
 * (engine/query/spelling.c). */
int souk_xspell_create(const char *path, souk_xspell **out, char *err, size_t errlen);
void souk_xspell_close(souk_xspell *sp);
const char *souk_xspell_errmsg(const souk_xspell *sp);

/* A read-only handle moves to the latest commit. */
int souk_xspell_reopen(souk_xspell *sp);

/* The generation stamped by the last souk_xspell_commit (0: none yet). */
int souk_xspell_generation(souk_xspell *sp, uint64_t *gen);

/* Calls fn for every word of the spelling table in byte order, with its frequency; fn returns
 * nonzero to stop. */
typedef int (*souk_xspell_fn)(void *ctx, const char *word, size_t len, uint64_t freq);
int souk_xspell_words(souk_xspell *sp, souk_xspell_fn fn, void *ctx);

/* Raises (delta > 0) or lowers (delta < 0) a word's frequency; at 0 the word is gone. Writable
 * handles only; seen by readers after souk_xspell_commit. */
int souk_xspell_change(souk_xspell *sp, const char *word, size_t len, int64_t delta);

/* Commits the changes with the index generation they bring the table up to. */
int souk_xspell_commit(souk_xspell *sp, uint64_t generation);

/* Xapian's suggestion for word (Database::get_spelling_suggestion: the most frequent word of
 * the table within max_edits edits), written NUL-terminated to out; *outlen 0 when there is
 * none. */
int souk_xspell_suggest(souk_xspell *sp, const char *word, size_t len, unsigned max_edits,
                        char *out, size_t outcap, size_t *outlen);

#ifdef __cplusplus
}
#endif
#endif
