/* ep_analyst.c: GET /analyst/ and /analyst/{file}, the analyst page (api/analyst/, embedded by
 * api/embed.cmake; docs/analyst.md). The page is code only: it holds no data, so it needs no
 * credential; everything it shows comes from the admin endpoints it calls with the admin key the
 * analyst types, which never leaves the browser tab (sessionStorage). A strict
 * Content-Security-Policy keeps the page to its own scripts and this server. */
#include "api_int.h"
#include "assets.h"

#include <string.h>

static const char *type_of(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (dot && strcmp(dot, ".html") == 0)
        return "text/html; charset=utf-8";
    if (dot && strcmp(dot, ".css") == 0)
        return "text/css; charset=utf-8";
    if (dot && strcmp(dot, ".js") == 0)
        return "text/javascript; charset=utf-8";
    return "application/octet-stream";
}

/* Answers with the embedded file name[0, len). */
static int serve(sk_ctx *c, const char *name, size_t len)
{
    for (const sk_asset *a = sk_assets; a->name; a++) {
        if (strlen(a->name) != len || memcmp(a->name, name, len) != 0)
            continue;
        if (sk_buf_add(c->out, a->bytes, a->size))
            return sk_fail(c, 500, "internal", NULL, "out of memory");
        c->content_type = type_of(a->name);
        c->extra_headers = "Content-Security-Policy: default-src 'self'; frame-ancestors 'none'\r\n"
                           "X-Content-Type-Options: nosniff\r\n"
                           "Cache-Control: no-cache\r\n";
        return 200;
    }
    return sk_fail(c, 404, "not_found", NULL, "the analyst page has no file '%.*s'",
                   (int)(len > 64 ? 64 : len), name);
}

int sk_ep_analyst_index(sk_ctx *c)
{
    return serve(c, "index.html", strlen("index.html"));
}

int sk_ep_analyst(sk_ctx *c)
{
    return serve(c, c->path_arg, c->path_arg_len);
}
