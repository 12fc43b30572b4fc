/* filter_int.h: filter trees (filter.c) and their compiled form over a column snapshot. */
#ifndef SOUK_FILTER_INT_H
#define SOUK_FILTER_INT_H

#include "catalog/columns.h"
#include "souk/browse.h"

#include <stddef.h>
#include <stdint.h>

enum { F_CMP, F_AND, F_OR, F_NOT };
enum { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_IN, OP_RANGE };

typedef struct fnode {
    int kind;
    int a, b; /* children (AND, OR: both; NOT: a) */
    int field, op;
    double lo, hi; /* numbers and bools */
    char **strs;   /* keyword values */
    size_t *lens;
    size_t nvals;
} fnode;

struct souk_filter {
    fnode *nodes;
    size_t n, cap;
    int root;
};

/* A filter bound to one column snapshot: keyword values resolved to ordinals, and the
 * top-level AND parts (up to 64) with the one field each tests (-1: several). */
typedef struct souk__cfilter {
    const souk_filter *f;
    const souk__columns *cols;
    uint32_t **ords;
    int part[64];
    int part_field[64];
    size_t nparts;
} souk__cfilter;

int souk__filter_compile(const souk_filter *f, const souk__columns *cols, souk__cfilter *cf);
void souk__filter_release(souk__cfilter *cf);
/* Bit i set: docid fails top-level part i. 0: it passes the filter. */
uint64_t souk__filter_failed(const souk__cfilter *cf, uint32_t docid);

#endif
