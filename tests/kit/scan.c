/* scan.c (test kit): the byte scan (scan.h). One pass per file: a 16-bit hash of every 4-byte
 * window is looked up in the needles' bitmap, and only a window that may start a needle is
 * compared, so 64 needles cost about what one does. */
#include "scan.h"

#include "check.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static unsigned hash4(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return (v * 2654435761u) >> 16;
}

void kit_needles_init(kit_needles *nd)
{
    memset(nd, 0, sizeof *nd);
}

void kit_needle_add(kit_needles *nd, const void *p, size_t n)
{
    REQUIRE(nd->n < KIT_SCAN_MAX && n >= 4 && n <= KIT_NEEDLE_MAX);
    memcpy(nd->b[nd->n], p, n);
    nd->len[nd->n++] = n;
    unsigned h = hash4(p);
    nd->first[h / 8] |= (uint8_t)(1u << (h % 8));
}

int kit_scan(const char *path, const kit_needles *nd, int flags)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return 0;
    int found = 0;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        REQUIRE(d);
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char p[4096];
            REQUIRE(snprintf(p, sizeof p, "%s/%s", path, e->d_name) < (int)sizeof p);
            found += kit_scan(p, nd, flags);
        }
        closedir(d);
        return found;
    }
    if (!S_ISREG(st.st_mode) || st.st_size < 4)
        return 0;
    FILE *f = fopen(path, "rb");
    REQUIRE(f);
    uint8_t *buf = malloc((size_t)st.st_size);
    REQUIRE(buf);
    size_t got = fread(buf, 1, (size_t)st.st_size, f);
    fclose(f);
    if (flags & KIT_SCAN_FOLD)
        for (size_t i = 0; i < got; i++)
            if (buf[i] >= 'A' && buf[i] <= 'Z')
                buf[i] = (uint8_t)(buf[i] - 'A' + 'a');
    for (size_t i = 0; i + 4 <= got; i++) {
        unsigned h = hash4(buf + i);
        if (!(nd->first[h / 8] & (1u << (h % 8))))
            continue;
        for (size_t k = 0; k < nd->n; k++)
            if (i + nd->len[k] <= got && memcmp(buf + i, nd->b[k], nd->len[k]) == 0) {
                if (!(flags & KIT_SCAN_QUIET))
                    fprintf(stderr, "  byte scan: needle %zu found in %s at %zu\n", k, path, i);
                found++;
            }
    }
    free(buf);
    return found;
}
