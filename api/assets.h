/* assets.h: the files souk-server serves as they are (the analyst page, api/analyst/), embedded
 * at build time by api/embed.cmake. */
#ifndef SK_ASSETS_H
#define SK_ASSETS_H

#include <stddef.h>

typedef struct sk_asset {
    const char *name; /* file name, e.g. "analyst.js"; NULL ends the table */
    const unsigned char *bytes;
    size_t size;
} sk_asset;

extern const sk_asset sk_assets[];

#endif
