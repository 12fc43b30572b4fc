/* ep_storefront.c: GET /storefront/ and /storefront/{file}, the InstantSearch storefront
 * (examples/storefront/, docs/algolia-insights.md "The storefront") from the directories the
 * configuration names ("storefront": {"dir", "lib_dir"}): the page's own three files from dir and
 * the three npm bundles it loads (fetched at set-up time, never committed) from lib_dir as
 * /storefront/lib/NAME. Only those six names are served, so no request reaches another file; the
 * files are code only and need no credential. The page calls Souk's Algolia endpoints and
 * POST /1/events on this same origin, which the Content-Security-Policy keeps it to. */
#include "api_int.h"
#include "souk/souk.h"

#include <stdio.h>
#include <string.h>

#define SF_FILE_MAX (4u << 20) /* the largest file served (InstantSearch's bundle is 0.6 MB) */

static const char *const page_files[] = {"index.html", "storefront.js", "storefront.css"};
static const char *const lib_files[] = {"instantsearch.production.min.js",
                                        "algoliasearch-lite.umd.js", "search-insights.min.js"};

static const char *type_of(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (dot && strcmp(dot, ".html") == 0)
        return "text/html; charset=utf-8";
    if (dot && strcmp(dot, ".css") == 0)
        return "text/css; charset=utf-8";
    return "text/javascript; charset=utf-8";
}

/* The index of name[0, len) in names[0, n), or -1. */
static int find(const char *const *names, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(names[i]) == len && memcmp(names[i], name, len) == 0)
            return (int)i;
    return -1;
}

/* Answers with dir/name. */
static int serve(sk_ctx *c, const char *dir, const char *name)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return sk_fail(c, 500, "internal", NULL, "the storefront directory's path is too long");
    FILE *f = fopen(path, "rb");
    if (!f)
        return sk_fail(c, 404, "not_found", NULL,
                       "the storefront's %s is missing from its directory (scripts/"
                       "storefront-libs.sh fetches the npm bundles)",
                       name);
    int rc = 0;
    char buf[65536];
    size_t n;
    while (!rc && (n = fread(buf, 1, sizeof buf, f)) > 0) {
        if (c->out->len + n > SF_FILE_MAX)
            rc = sk_fail(c, 500, "internal", NULL, "the storefront's %s is over %u bytes", name,
                         SF_FILE_MAX);
        else if (sk_buf_add(c->out, buf, n))
            rc = sk_fail(c, 500, "internal", NULL, "out of memory");
    }
    if (!rc && ferror(f))
        rc = sk_fail(c, 500, "internal", NULL, "the storefront's %s could not be read", name);
    fclose(f);
    if (rc)
        return rc;
    c->content_type = type_of(name);
    c->extra_headers = "Content-Security-Policy: default-src 'self'; img-src 'self' data:; "
                       "frame-ancestors 'none'\r\n"
                       "X-Content-Type-Options: nosniff\r\n"
                       "Cache-Control: no-cache\r\n";
    return 200;
}

static int storefront(sk_ctx *c, const char *name, size_t len)
{
    const sk_config *cfg = c->cfg;
    if (!cfg->storefront_dir)
        return sk_fail(c, 404, "storefront_disabled", NULL,
                       "this server serves no storefront (no \"storefront\" in its configuration)");
    int i = find(page_files, sizeof page_files / sizeof page_files[0], name, len);
    if (i >= 0)
        return serve(c, cfg->storefront_dir, page_files[i]);
    if (len > 4 && memcmp(name, "lib/", 4) == 0) {
        i = find(lib_files, sizeof lib_files / sizeof lib_files[0], name + 4, len - 4);
        if (i >= 0 && cfg->storefront_lib_dir)
            return serve(c, cfg->storefront_lib_dir, lib_files[i]);
    }
    return sk_fail(c, 404, "not_found", NULL, "the storefront has no file '%.*s'",
                   (int)(len > 64 ? 64 : len), name);
}

int sk_ep_storefront_index(sk_ctx *c)
{
    return storefront(c, "index.html", strlen("index.html"));
}

int sk_ep_storefront(sk_ctx *c)
{
    return storefront(c, c->path_arg, c->path_arg_len);
}
