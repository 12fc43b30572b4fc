/* collate.c: the collation key of a sortable text field's value (souk_collation_key in
 * souk/browse.h). Keys compare with memcmp (shorter first on a common prefix) in the order a
 * shopper expects of names: case- and accent-insensitive, and the digit runs compared as
 * numbers ("file2" < "File10").
 *
 * - Letters are lower-cased with Xapian's Unicode tables (souk_unicode_tolower), the tables
 *   the analyzer already uses, so no ICU is needed.
 * - Accents: the Latin letters of U+00C0..U+017F (Latin-1 Supplement and Latin Extended-A:
 *   every letter of the Western and Central European languages the schemas support) fold to
 *   their base letters by the tables below (ß to "ss", æ to "ae", œ to "oe", þ to "th", ĳ to
 *   "ij"), and combining marks U+0300..U+036F are dropped, so decomposed text (e + U+0301)
 *   folds as precomposed text does. Other scripts are only lower-cased: Greek or Vietnamese
 *   accents still count. A full Unicode decomposition would need tables Xapian does not
 *   export; this small table covers the catalogs' languages (docs/api.md "sort").
 * - A run of ASCII digits becomes '0', its length without leading zeros (one byte, at most
 *   255), then its digits without leading zeros: a longer number sorts after a shorter one,
 *   equal lengths compare digit by digit, and '0' keeps digits before letters as in ASCII.
 *   No other byte of a key is '0', so a run only ever meets another run.
 * - Keys stop at SOUK_SORT_KEY_MAX bytes (at a whole character): values equal on so long a
 *   prefix tie, and the next sort key, then relevance and index order decide. */
#include "souk/collate.h"
#include "souk/xapian.h"
#include "core/utf8.h"

#include <string.h>

/* U+00C0..U+00FF: base letter, '.' to keep, '3' "ae", '4' "th", '5' "ss". */
static const char latin1[65] = "aaaaaa3ceeeeiiii"
                               "dnooooo.ouuuuy45"
                               "aaaaaa3ceeeeiiii"
                               "dnooooo.ouuuuy4y";
/* U+0100..U+017F: base letter, '1' "ij", '2' "oe". */
static const char latin_ext_a[129] = "aaaaaa"
                                     "cccccccc"
                                     "dddd"
                                     "eeeeeeeeee"
                                     "gggggggg"
                                     "hhhh"
                                     "iiiiiiiiii"
                                     "11"
                                     "jj"
                                     "kkk"
                                     "llllllllll"
                                     "nnnnnnnnn"
                                     "oooooo"
                                     "22"
                                     "rrrrrr"
                                     "ssssssss"
                                     "tttttt"
                                     "uuuuuuuuuuuu"
                                     "ww"
                                     "yyy"
                                     "zzzzzz"
                                     "s";
_Static_assert(sizeof latin1 == 65 && sizeof latin_ext_a == 129, "fold tables");

static size_t put_utf8(unsigned cp, uint8_t *o)
{
    if (cp < 0x80) {
        o[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (uint8_t)(0xc0 | cp >> 6);
        o[1] = (uint8_t)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (uint8_t)(0xe0 | cp >> 12);
        o[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
        o[2] = (uint8_t)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (uint8_t)(0xf0 | cp >> 18);
    o[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
    o[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
    o[3] = (uint8_t)(0x80 | (cp & 0x3f));
    return 4;
}

size_t souk_collation_key(const char *value, size_t n, uint8_t out[SOUK_SORT_KEY_MAX])
{
    const unsigned char *s = (const unsigned char *)value;
    size_t i = 0, o = 0;
    while (i < n) {
        uint8_t piece[SOUK_SORT_KEY_MAX];
        size_t pl = 0;
        if (s[i] >= '0' && s[i] <= '9') {
            while (i < n && s[i] == '0')
                i++;
            size_t start = i;
            while (i < n && s[i] >= '0' && s[i] <= '9')
                i++;
            size_t dl = i - start, keep = dl < 255 ? dl : 255;
            if (keep + 2 > SOUK_SORT_KEY_MAX - o)
                keep = SOUK_SORT_KEY_MAX - o >= 2 ? SOUK_SORT_KEY_MAX - o - 2 : 0;
            piece[0] = '0';
            piece[1] = (uint8_t)(dl < 255 ? dl : 255);
            memcpy(piece + 2, s + start, keep);
            pl = 2 + keep;
        } else {
            unsigned cp = souk__utf8_next(s, n, &i);
            char fold = 0;
            if (cp >= 0x300 && cp <= 0x36f)
                continue; /* combining mark */
            if (cp >= 0xc0 && cp <= 0xff)
                fold = latin1[cp - 0xc0];
            else if (cp >= 0x100 && cp <= 0x17f)
                fold = latin_ext_a[cp - 0x100];
            if (fold == '1' || fold == '2' || fold == '3' || fold == '4' || fold == '5') {
                static const char *const two[] = {"ij", "oe", "ae", "th", "ss"};
                memcpy(piece, two[fold - '1'], 2);
                pl = 2;
            } else if (fold && fold != '.') {
                piece[0] = (uint8_t)fold;
                pl = 1;
            } else if (cp < 0x80) {
                piece[0] = (uint8_t)(cp >= 'A' && cp <= 'Z' ? cp + 32 : cp);
                pl = 1;
            } else {
                pl = put_utf8(souk_unicode_tolower(cp), piece);
            }
        }
        if (pl > SOUK_SORT_KEY_MAX - o)
            break;
        memcpy(out + o, piece, pl);
        o += pl;
    }
    return o;
}
