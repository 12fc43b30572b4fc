/* columns.h: the attribute column cache (columns.c), private to the engine. */
#ifndef SOUK_COLUMNS_H
#define SOUK_COLUMNS_H

#include "core/hashtab.h"
#include "souk/index.h"
#include "souk/schema.h"

#include <stdatomic.h>
#include <stdint.h>

typedef struct souk__col {
    int type;            /* souk_field_type */
    int present;         /* the field has attributes (filterable, facetable or sortable) */
    double *num;         /* numbers and bools: by docid, NAN when absent */
    uint32_t *off, *ord; /* keywords: ordinals of docid d are ord[off[d] .. off[d+1]) */
    char **vals;         /* keywords and sortable text: value of each ordinal */
    uint32_t *vlens;
    uint32_t nvals, vcap;
    souk_itab vtab; /* value -> ordinal (+ 1) */
    /* sortable keywords and text: each document's sort value, the ordinal of its first value
     * (UINT32_MAX: none), each ordinal's sort key (keywords: the value, text: its collation
     * key; at most SOUK_SORT_KEY_MAX bytes) and its rank among the keys (equal keys, equal
     * rank), so two documents compare by two loads. */
    uint32_t *sord;
    uint8_t **keys;
    uint32_t *klens, *rank;
    uint32_t *by_key; /* the ordinals in key order */
    int keys_own;     /* keys[] were allocated (text), else they point into vals */
} souk__col;

typedef struct souk__columns {
    atomic_int refs;
    uint64_t generation;
    uint32_t ndocs;   /* docids are below this */
    uint64_t *exists; /* bit d: document d is stored (the ALL cursor walks it) */
    souk__col col[SOUK_MAX_FIELDS];
} souk__columns;

/* The columns of r's snapshot (its generation and next docid, as the searcher loaded them at
 * refresh), with a reference (release with souk__columns_release). */
int souk__columns_get(souk_reader *r, uint64_t generation, uint64_t next_docid,
                      souk__columns **out);
void souk__columns_release(souk__columns *c);
/* The first stored docid >= d, or UINT32_MAX. */
uint32_t souk__columns_next_doc(const souk__columns *c, uint32_t d);
/* Where sort key k (kl bytes) falls among the keys of sortable column c, on the scale where a
 * document with rank r is at 2r+1: 2r+1 when k is the key of rank r, else the even number
 * between the ranks around it. */
uint32_t souk__col_key_pos(const souk__col *c, const uint8_t *k, uint32_t kl);
/* Ordinal of keyword value v in c, or UINT32_MAX. */
uint32_t souk__col_lookup(const souk__col *c, const char *v, size_t n);
/* The index's per-generation cache slot of the columns (catalog/reader.h). */
int souk__columns_slot(void);

#endif
