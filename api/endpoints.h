/* endpoints.h: the route table of souk-server, one line per endpoint (docs/api.md). Adding an
 * endpoint is a new api/ep_NAME.c defining `int sk_ep_NAME(sk_ctx *c)` and one line here:
 *
 *   SK_ENDPOINT(path pattern, metrics label, methods, credential, handler)
 *
 * A pattern ending in "{id}" matches any non-empty rest of the path, %-decoded, which the
 * handler finds in c->path_arg. Methods are SK_GET, SK_POST, SK_PUT, SK_DELETE, SK_HEAD or'ed
 * together; endpoints a browser calls with a key (SK_AUTH_SEARCH) also answer CORS preflights.
 * The label names the endpoint in /metrics; the pattern names it in the access log. The list is
 * included twice by api_int.h (the endpoint numbers and the handlers' declarations) and once by
 * router.c (the table). */
SK_ENDPOINT("/v1/search", "search", SK_GET | SK_POST, SK_AUTH_SEARCH, sk_ep_search)
SK_ENDPOINT("/v1/items/{id}", "items", SK_GET | SK_HEAD, SK_AUTH_SEARCH, sk_ep_items)
SK_ENDPOINT("/healthz", "healthz", SK_GET | SK_HEAD, SK_AUTH_NONE, sk_ep_healthz)
SK_ENDPOINT("/metrics", "metrics", SK_GET, SK_AUTH_ADMIN, sk_ep_metrics)
