/* buf.c: the server's names for the engine's capped buffer (souk/buf.h), JSON string escaping
 * and URL decoding. */
#include "api_int.h"
#include "souk/souk.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int sk_buf_reserve(sk_buf *b, size_t extra)
{
    return souk_buf_reserve(b, extra);
}

int sk_buf_add(sk_buf *b, const void *p, size_t n)
{
    return souk_buf_add(b, p, n);
}

int sk_buf_str(sk_buf *b, const char *s)
{
    return souk_buf_add(b, s, strlen(s));
}

int sk_buf_printf(sk_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = souk_buf_vprintf(b, fmt, ap);
    va_end(ap);
    return rc;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if it is not valid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned min;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, min = 0x10000;
    else
        return 0;
    if (n < len)
        return 0;
    unsigned cp = c & (0x3f >> (len - 1));
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

int sk_buf_json_str(sk_buf *b, const char *s, size_t n)
{
    int rc = sk_buf_reserve(b, n + 2);
    if (rc)
        return rc;
    b->p[b->len++] = '"';
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t start = i;
        while (i < n && u[i] >= 0x20 && u[i] < 0x80 && u[i] != '"' && u[i] != '\\')
            i++;
        if (i > start && (rc = sk_buf_add(b, s + start, i - start)))
            return rc;
        if (i >= n)
            break;
        unsigned c = u[i];
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            rc = sk_buf_add(b, esc, 2);
            i++;
        } else if (c < 0x20) {
            rc = sk_buf_printf(b, "\\u%04x", c);
            i++;
        } else {
            size_t l = utf8_seq(u + i, n - i);
            if (l) {
                rc = sk_buf_add(b, s + i, l);
                i += l;
            } else {
                rc = sk_buf_add(b, "\xef\xbf\xbd", 3);
                i++;
            }
        }
        if (rc)
            return rc;
    }
    return sk_buf_add(b, "\"", 1);
}

void sk_buf_free(sk_buf *b)
{
    souk_buf_free(b);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int sk_url_decode(const char *s, size_t n, int plus_space, sk_buf *out)
{
    out->len = 0;
    if (sk_buf_reserve(out, n))
        return -1;
    char *o = out->p;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            int h, l;
            if (i + 2 >= n || (h = hexval((unsigned char)s[i + 1])) < 0 ||
                (l = hexval((unsigned char)s[i + 2])) < 0)
                return -1;
            *o++ = (char)(h * 16 + l);
            i += 2;
        } else if (s[i] == '+' && plus_space) {
            *o++ = ' ';
        } else {
            *o++ = s[i];
        }
    }
    out->len = (size_t)(o - out->p);
    out->p[out->len] = 0;
    return 0;
}

uint64_t sk_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
