/* queryparse.h: query parsing (engine/text/queryparse.cc): a user query through
 * Xapian::QueryParser to a flat tree that Souk's own matcher evaluates.
 *
 * No C++ exception crosses this boundary: every function catches everything and returns a
 * SOUK_E* code, with the detail in the caller's buffer. */
#ifndef SOUK_QUERYPARSE_H
#define SOUK_QUERYPARSE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum souk_qop {
    SOUK_QOP_TERM = 0,     /* leaf: term, wqf, pos */
    SOUK_QOP_AND,          /* all children */
    SOUK_QOP_OR,           /* any child, scores summed */
    SOUK_QOP_AND_NOT,      /* first child minus the others */
    SOUK_QOP_AND_MAYBE,    /* first child; others add score only */
    SOUK_QOP_FILTER,       /* first child scored, others filter without score */
    SOUK_QOP_PHRASE,       /* children adjacent and in order, within `window` positions */
    SOUK_QOP_NEAR,         /* children within `window` positions, any order */
    SOUK_QOP_WILDCARD,     /* leaf: `term` is a prefix; matches every term starting with it */
    SOUK_QOP_SYNONYM,      /* children scored as one term */
    SOUK_QOP_SCALE_WEIGHT, /* one child, score multiplied by `scale` (0: pure filter) */
    SOUK_QOP_MATCH_ALL,    /* leaf: every document */
    SOUK_QOP_MATCH_NOTHING,
    SOUK_QOP_XOR,
    SOUK_QOP_ELITE_SET,
    SOUK_QOP_MAX,
    SOUK_QOP_VALUE_RANGE
} souk_qop;

/* One node of a parsed query. Children are kids[first_kid .. first_kid + nkids). */
typedef struct souk_qnode {
    souk_qop op;
    uint32_t first_kid;
    uint32_t nkids;
    uint32_t wqf;    /* TERM: within-query frequency */
    uint32_t pos;    /* TERM: position in the query */
    uint32_t window; /* PHRASE/NEAR */
    double scale;    /* SCALE_WEIGHT */
    char *term;      /* TERM and WILDCARD; NUL-terminated, owned by the query */
    size_t term_len;
} souk_qnode;

/* A parsed query: a flat tree, nodes[root] is the root. Free with souk_query_free. */
typedef struct souk_query {
    souk_qnode *nodes;
    size_t nnodes;
    uint32_t *kids;
    size_t nkids;
    uint32_t root;
    char *description; /* Xapian's own description of the parsed query, for debugging */
    char *text;        /* the query text and language it was parsed from (typo tolerance) */
    size_t text_len;
    char *lang;
    int fast_path; /* 1: built by the plain-word fast path, 0: by Xapian's QueryParser */
} souk_query;

/* A field the query parser knows: "name:word" searches terms with `prefix`. boolean != 0 makes it
 * a filter field ("section:games" filters on the exact term prefix+value). */
typedef struct souk_qp_field {
    const char *name;
    const char *prefix;
    int boolean;
} souk_qp_field;

#define SOUK_QP_DEFAULT_AND 1u  /* default operator AND instead of OR */
#define SOUK_QP_PARTIAL 2u      /* last word also matches as a prefix (search as you type) */
#define SOUK_QP_NO_FAST_PATH 4u /* always through Xapian's QueryParser (tests compare the two) */
/* Search, not parsing: typo tolerance. Words of 5+ letters outside phrases also match words one
 * edit away (two from 9 letters), scored at SOUK_TYPO_WEIGHT times an exact match. */
#define SOUK_QP_TYPO 8u
#define SOUK_TYPO_WEIGHT 0.3
/* Search, not parsing: part numbers and codes ("DIN933", "6204 2RS") also match as joined code
 * terms however they are spaced or hyphenated (docs/part-numbers.md). */
#define SOUK_QP_CODES 16u

/* Parses a user query with Xapian::QueryParser (stemmer of `lang`, STEM_SOME, phrases, boolean
 * operators, +/-, field prefixes, trailing-* wildcards, CJK n-grams). On success *out is owned by
 * the caller. On a syntax error returns SOUK_EQUERY with the reason in err; so does a query
 * nesting brackets more than 64 deep or holding more than 256 boolean operators (the tree is
 * evaluated recursively on threads with small stacks). The parser is cached per thread, and
 * plain-word queries take a fast path that builds the same tree without QueryParser. */
int souk_query_parse(const char *q, size_t len, const char *lang, const souk_qp_field *fields,
                     size_t nfields, unsigned flags, souk_query **out, char *err, size_t errlen);
void souk_query_free(souk_query *q);

#ifdef __cplusplus
}
#endif
#endif
