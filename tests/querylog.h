/* querylog.h: the real query logs of the shared data (WANDS, Best Buy, MS MARCO) read into a list
 * of query texts, for the tests that compare Souk's rankings with Xapian's (test_oracle,
 * test_ingest_oracle). */
#ifndef SOUK_TEST_QUERYLOG_H
#define SOUK_TEST_QUERYLOG_H

#include "check.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct qlist {
    char **q;
    size_t n, cap;
} qlist;

/* Appends a copy of q. */
static inline void qlist_add(qlist *l, const char *q)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 256;
        l->q = realloc(l->q, l->cap * sizeof *l->q);
        REQUIRE(l->q);
    }
    l->q[l->n++] = strdup(q);
}

static inline void qlist_free(qlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->q[i]);
    free(l->q);
    memset(l, 0, sizeof *l);
}

/* Adds column col (0-based, tab separated) of each line of path until the list holds max
 * queries; skip_header skips the first line. Empty values are left out. */
static inline void qlog_load_column(qlist *l, const char *path, int col, size_t max,
                                    int skip_header)
{
    FILE *f = fopen(path, "r");
    REQUIRE(f);
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int first = 1;
    while (l->n < max && (len = getline(&line, &cap, f)) > 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = 0;
        if (first && skip_header) {
            first = 0;
            continue;
        }
        char *p = line;
        for (int c = 0; c < col && p; c++) {
            p = strchr(p, '\t');
            if (p)
                p++;
        }
        if (!p)
            continue;
        char *end = strchr(p, '\t');
        if (end)
            *end = 0;
        if (*p)
            qlist_add(l, p);
    }
    free(line);
    fclose(f);
}

/* Adds the "query" members of the Best Buy suggestions (a JSON array) until the list holds max
 * queries. */
static inline void qlog_load_bestbuy(qlist *l, const char *path, size_t max)
{
    FILE *f = fopen(path, "r");
    REQUIRE(f);
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)sz + 1);
    REQUIRE(buf && fread(buf, 1, (size_t)sz, f) == (size_t)sz);
    buf[sz] = 0;
    fclose(f);
    cJSON *j = cJSON_Parse(buf);
    REQUIRE(j);
    cJSON *e;
    cJSON_ArrayForEach(e, j)
    {
        cJSON *q = cJSON_GetObjectItem(e, "query");
        if (cJSON_IsString(q) && l->n < max)
            qlist_add(l, q->valuestring);
    }
    cJSON_Delete(j);
    free(buf);
}

#endif
