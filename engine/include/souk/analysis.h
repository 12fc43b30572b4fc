/* analysis.h: text analysis, Xapian's way (engine/text/analyze.cc): tokenize, lowercase, stem,
 * CJK n-grams, exactly as Xapian::TermGenerator does.
 *
 * No C++ exception crosses this boundary: every function catches everything and returns a
 * SOUK_E* code, with the detail in the analyzer's last message. */
#ifndef SOUK_ANALYSIS_H
#define SOUK_ANALYSIS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Per-thread analysis state: stemmers per language and a bounded stem cache. Not thread-safe:
 * give each thread its own. */
typedef struct souk_analyzer souk_analyzer;

/* Receives one term occurrence. `term` is borrowed for the duration of the call. pos == 0 means
 * the term carries no position (the "Z" stemmed form), else it is the 1-based term position. */
typedef void (*souk_term_fn)(void *ctx, const char *term, size_t len, uint32_t pos,
                             uint32_t wdf_inc);

/* Creates an analyzer. *out is owned by the caller and freed with souk_analyzer_free. */
int souk_analyzer_new(souk_analyzer **out);
void souk_analyzer_free(souk_analyzer *a);

/* Returns the Xapian stemmer name for a language code or name ("en", "german", "zh", "none"),
 * "none" for CJK languages and "none", or NULL when unsupported. Static storage. */
const char *souk_language_stemmer(const char *lang);

/* Xapian::Unicode::tolower of one Unicode code point (the simple one-to-one case mapping of
 * Xapian's tables). */
unsigned souk_unicode_tolower(unsigned ch);

/* Analyzes UTF-8 `text` exactly as Xapian::TermGenerator::index_text(text, wdf_inc, prefix) with
 * the stemmer of `lang`, STEM_SOME, FLAG_CJK_NGRAM and no stopper. *termpos is the running term
 * position of the document and is advanced. Terms are passed to fn. Uses a fast tokenizer with a
 * stem cache, and falls back to the real TermGenerator for text it does not handle (CJK).
 * wdf_inc must be at least 1 (SOUK_EINVAL otherwise). */
int souk_analyze(souk_analyzer *a, const char *text, size_t len, const char *lang,
                 const char *prefix, uint32_t wdf_inc, uint32_t *termpos, souk_term_fn fn,
                 void *ctx);

/* One term occurrence of souk_analyze_view: the term is bytes[off, off + len), pos its position
 * (0: none, a "Z" stem term); each adds the call's wdf_inc. */
typedef struct souk_term_occ {
    uint32_t off, len, pos;
} souk_term_occ;

typedef struct souk_term_view {
    const char *bytes;
    size_t nbytes;
    const souk_term_occ *occ;
    size_t n;
} souk_term_view;

/* souk_analyze without a callback per term: the occurrences, in the order souk_analyze would
 * pass them, are left in the analyzer (valid until its next call) and described by *out. */
int souk_analyze_view(souk_analyzer *a, const char *text, size_t len, const char *lang,
                      const char *prefix, uint32_t wdf_inc, uint32_t *termpos, souk_term_view *out);

/* Same contract, always through Xapian::TermGenerator (the reference the fast path is tested
 * against). The order of calls may differ from souk_analyze; the multiset is the same. */
int souk_analyze_xapian(souk_analyzer *a, const char *text, size_t len, const char *lang,
                        const char *prefix, uint32_t wdf_inc, uint32_t *termpos, souk_term_fn fn,
                        void *ctx);

/* The last error message of the analyzer; valid until the next call on it. */
const char *souk_analyzer_errmsg(const souk_analyzer *a);

/* Counters of souk_analyze, for benchmarks: calls handled fast, calls that fell back. */
void souk_analyzer_counts(const souk_analyzer *a, uint64_t *fast, uint64_t *fallback);

#ifdef __cplusplus
}
#endif
#endif
