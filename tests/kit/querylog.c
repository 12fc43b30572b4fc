/* querylog.c (test kit): the query-log readers of querylog.h. */
#include "querylog.h"

#include "check.h"
#include "souk/buf.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void qlist_add(qlist *l, const char *q)
{
    REQUIRE(souk_grow((void **)&l->q, &l->cap, l->n + 1, sizeof *l->q, SIZE_MAX) == 0);
    l->q[l->n++] = strdup(q);
}

void qlist_free(qlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->q[i]);
    free(l->q);
    memset(l, 0, sizeof *l);
}

void qlog_load_column(qlist *l, const char *path, int col, size_t max, int skip_header)
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

void qlog_load_bestbuy(qlist *l, const char *path, size_t max)
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
