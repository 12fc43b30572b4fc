/* querylog.h (test kit): the real query logs of the shared data (WANDS, Best Buy, MS MARCO) read
 * into a list of query texts, for the tests that compare Souk's rankings with Xapian's
 * (test_oracle, test_ingest_oracle). A file that cannot be read or parsed REQUIREs (exits). */
#ifndef SOUK_KIT_QUERYLOG_H
#define SOUK_KIT_QUERYLOG_H

#include <stddef.h>

/* A growable list of query texts; zero-initialise, free with qlist_free. */
typedef struct qlist {
    char **q;
    size_t n, cap;
} qlist;

/* Appends a copy of q. */
void qlist_add(qlist *l, const char *q);

/* Frees every query and the list, and leaves it empty. */
void qlist_free(qlist *l);

/* Adds column col (0-based, tab separated) of each line of path until the list holds max
 * queries; skip_header skips the first line. Empty values are left out. */
void qlog_load_column(qlist *l, const char *path, int col, size_t max, int skip_header);

/* Adds the "query" members of the Best Buy suggestions (a JSON array) until the list holds max
 * queries. */
void qlog_load_bestbuy(qlist *l, const char *path, size_t max);

#endif
