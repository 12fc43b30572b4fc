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
SK_ENDPOINT("/v1/events", "events", SK_POST, SK_AUTH_INGEST, sk_ep_events)
SK_ENDPOINT("/v1/me/consent", "me_consent", SK_GET | SK_PUT, SK_AUTH_USER, sk_ep_me_consent)
SK_ENDPOINT("/v1/me/search-history", "me_search_history", SK_GET | SK_DELETE, SK_AUTH_USER,
            sk_ep_me_search_history)
SK_ENDPOINT("/v1/me/history", "me_history", SK_GET, SK_AUTH_USER, sk_ep_me_history)
SK_ENDPOINT("/v1/me/history/{id}", "me_history_item", SK_DELETE, SK_AUTH_USER,
            sk_ep_me_history_item)
SK_ENDPOINT("/v1/me/tags", "me_tags", SK_GET, SK_AUTH_USER, sk_ep_me_tags)
SK_ENDPOINT("/v1/me/tags/{id}", "me_tag", SK_DELETE, SK_AUTH_USER, sk_ep_me_tag)
SK_ENDPOINT("/v1/me/export", "me_export", SK_GET, SK_AUTH_USER, sk_ep_me_export)
SK_ENDPOINT("/v1/users/{id}", "users", SK_DELETE | SK_PUT, SK_AUTH_ADMIN, sk_ep_users)
SK_ENDPOINT("/v1/erasures/{id}", "erasures", SK_GET, SK_AUTH_ADMIN, sk_ep_erasures)
SK_ENDPOINT("/v1/analytics/queries", "analytics_queries", SK_GET, SK_AUTH_ANALYST,
            sk_ep_analytics_queries)
SK_ENDPOINT("/v1/analytics/segments", "analytics_segments", SK_GET, SK_AUTH_ANALYST,
            sk_ep_analytics_segments)
SK_ENDPOINT("/v1/recommend", "recommend", SK_GET, SK_AUTH_SEARCH, sk_ep_recommend)
SK_ENDPOINT("/v1/rank-eval", "rank_eval", SK_POST, SK_AUTH_ADMIN, sk_ep_rank_eval)
SK_ENDPOINT("/v1/analytics/dry-run", "analytics_dry_run", SK_POST, SK_AUTH_ANALYST,
            sk_ep_analytics_dry_run)
SK_ENDPOINT("/v1/profiles", "profiles", SK_GET, SK_AUTH_ADMIN, sk_ep_profiles)
SK_ENDPOINT("/v1/profiles/{id}", "profile", SK_GET | SK_PUT, SK_AUTH_ADMIN, sk_ep_profile)
SK_ENDPOINT("/analyst/", "analyst_index", SK_GET, SK_AUTH_NONE, sk_ep_analyst_index)
SK_ENDPOINT("/analyst/{id}", "analyst", SK_GET, SK_AUTH_NONE, sk_ep_analyst)
SK_ENDPOINT("/1/indexes/*/queries", "algolia_queries", SK_POST, SK_AUTH_SEARCH,
            sk_ep_algolia_queries)
SK_ENDPOINT("/1/indexes/{id}", "algolia_index", SK_POST, SK_AUTH_SEARCH, sk_ep_algolia_index)
/* Algolia Insights events: the key and each event's user token are checked by the handler. */
SK_ENDPOINT("/1/events", "insights_events", SK_POST, SK_AUTH_EVENTS, sk_ep_insights)
SK_ENDPOINT("/storefront/", "storefront_index", SK_GET, SK_AUTH_NONE, sk_ep_storefront_index)
SK_ENDPOINT("/storefront/{id}", "storefront", SK_GET, SK_AUTH_NONE, sk_ep_storefront)
