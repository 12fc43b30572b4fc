/* http.c: HTTP/1.1 request framing over Debian's http_parser (libhttp-parser-dev).
 *
 * Why http_parser: it is the parser node.js used for a decade, it is callback-driven with no
 * allocation of its own (the caps below are ours), it handles chunked bodies, keep-alive and
 * pipelining, and Debian carries it as a stable shared library. llhttp, its successor, is not
 * packaged for Debian 12.
 *
 * The parser is paused after each complete request, so a connection hands the server one
 * request at a time and the unparsed rest of a pipelined burst stays in the read buffer. Sizes
 * are checked as bytes arrive: the request target (414), the request line plus headers (431)
 * and the body (413, checked against Content-Length before any body byte is read).
 *
 * http_parser is lenient where a smuggling-safe server must not be, so this file refuses (400)
 * what it lets through: a header name with a character outside RFC 9110's token (it takes
 * "Content-Length : 11" as a Content-Length, while a proxy in front may not), a
 * Transfer-Encoding other than exactly "chunked" (it accepts "gzip, chunked"), an HTTP version
 * other than 1.0 and 1.1, and an HTTP/1.1 request without exactly one Host. Header lines are
 * counted (431 past max_header_count). Chunked trailers are counted and checked like headers
 * but never used: they cannot carry a credential, a content type or anything else. */
#include "api_int.h"
#include "souk/souk.h"

#include <string.h>

enum {
    H_NONE,
    H_API_KEY,
    H_AUTHORIZATION,
    H_ORIGIN,
    H_REQUEST_ID,
    H_CONTENT_TYPE,
    H_ACRM,
    H_EXPECT,
    H_HOST,
    H_TRANSFER_ENCODING,
    H_USER_TOKEN
};

static sk_http *H(http_parser *p)
{
    return p->data;
}

static int set_error(sk_http *h, int status, const char *msg)
{
    if (!h->error) {
        h->error = status;
        h->error_msg = msg;
    }
    return -1;
}

static int count_header(sk_http *h, size_t len)
{
    h->header_bytes += len;
    if (h->header_bytes > h->limits.max_header_bytes)
        return set_error(h, 431, "the request line and headers are larger than the limit");
    return 0;
}

static int on_message_begin(http_parser *p)
{
    sk_http *h = H(p);
    sk_request *r = &h->req;
    r->url.len = 0;
    r->body.len = 0;
    r->api_key_len = 0;
    r->api_key[0] = r->origin[0] = r->request_id[0] = r->acr_method[0] = 0;
    r->api_key_over = r->origin_over = r->request_id_over = r->auth_scheme_bad = 0;
    r->user_token[0] = 0;
    r->user_token_len = 0;
    r->user_token_over = 0;
    r->json_body = r->has_content_type = r->ndjson_body = 0;
    r->expect_continue = 0;
    h->header_bytes = 0;
    h->header_count = 0;
    h->headers_done = 0;
    h->host_count = h->te_count = 0;
    h->te_len = 0;
    h->auth_header = 0;
    h->token_count = 0;
    h->body_limit = h->limits.max_body_bytes;
    h->in_message = 1;
    h->field_len = 0;
    h->field_over = 0;
    h->last_was_value = 0;
    h->cur_header = H_NONE;
    h->chunk_left = 0;
    h->crlf_seen = 2;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    sk_http *h = H(p);
    if (h->req.url.len + len > h->limits.max_url_bytes)
        return set_error(h, 414, "the request target is longer than the limit");
    if (count_header(h, len))
        return -1;
    if (sk_buf_add(&h->req.url, at, len))
        return set_error(h, 500, "out of memory");
    return 0;
}

static int classify(const sk_http *h)
{
    if (h->field_over)
        return H_NONE;
    static const struct {
        const char *name;
        int id;
    } names[] = {{"x-api-key", H_API_KEY},
                 {"x-algolia-api-key", H_API_KEY}, /* Algolia's clients (docs/algolia.md) */
                 {"authorization", H_AUTHORIZATION},
                 {"origin", H_ORIGIN},
                 {"x-request-id", H_REQUEST_ID},
                 {"content-type", H_CONTENT_TYPE},
                 {"access-control-request-method", H_ACRM},
                 {"expect", H_EXPECT},
                 {"host", H_HOST},
                 {"transfer-encoding", H_TRANSFER_ENCODING},
                 {"x-user-token", H_USER_TOKEN}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i].name) == h->field_len &&
            memcmp(names[i].name, h->field, h->field_len) == 0)
            return names[i].id;
    return H_NONE;
}

/* RFC 9110 tchar: what a header name may hold. */
static int is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    sk_http *h = H(p);
    if (count_header(h, len))
        return -1;
    if (h->last_was_value || h->header_count == 0) { /* a new header line */
        h->field_len = 0;
        h->field_over = 0;
        h->last_was_value = 0;
        /* Each line also costs its ": " and CRLF, which no callback reports. */
        if (++h->header_count > h->limits.max_header_count)
            return set_error(h, 431, "the request has more header lines than the limit");
        if (count_header(h, 4))
            return -1;
    }
    for (size_t i = 0; i < len; i++)
        if (!is_tchar((unsigned char)at[i]))
            return set_error(h, 400,
                             "a header name holds a character that is not allowed "
                             "(a space before the colon?)");
    for (size_t i = 0; i < len; i++) {
        if (h->field_len + 1 >= sizeof h->field) {
            h->field_over = 1;
            break;
        }
        char c = at[i];
        h->field[h->field_len++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    return 0;
}

/* Appends to a fixed header slot; too long marks it over. */
static void slot_add(char *dst, size_t cap, size_t *len, int *over, const char *at, size_t n)
{
    if (*len + n > cap) {
        if (over)
            *over = 1;
        n = *len < cap ? cap - *len : 0;
    }
    memcpy(dst + *len, at, n);
    *len += n;
    dst[*len] = 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    sk_http *h = H(p);
    if (count_header(h, len))
        return -1;
    sk_request *r = &h->req;
    if (!h->last_was_value) {
        h->last_was_value = 1;
        /* Trailers (after a chunked body) are only framing: none of them is used. */
        h->cur_header = h->headers_done ? H_NONE : classify(h);
        h->value_len = 0;
        if (h->cur_header == H_HOST)
            h->host_count++;
        if (h->cur_header == H_TRANSFER_ENCODING)
            h->te_count++;
        if (h->cur_header == H_AUTHORIZATION)
            h->auth_header = 1;
        /* A repeated credential or origin header is ambiguous: refuse it. */
        if (h->cur_header == H_API_KEY || h->cur_header == H_AUTHORIZATION) {
            if (r->api_key_len || r->api_key_over)
                return set_error(h, 400, "more than one credential header");
        }
        if (h->cur_header == H_USER_TOKEN && ++h->token_count > 1)
            return set_error(h, 400, "more than one X-User-Token header");
    }
    size_t olen;
    switch (h->cur_header) {
    case H_API_KEY:
    case H_AUTHORIZATION:
        slot_add(r->api_key, SK_HDR_KEY_MAX, &r->api_key_len, &r->api_key_over, at, len);
        break;
    case H_USER_TOKEN:
        slot_add(r->user_token, SOUK_TOKEN_MAX, &r->user_token_len, &r->user_token_over, at, len);
        break;
    case H_ORIGIN:
        olen = strlen(r->origin);
        slot_add(r->origin, SK_HDR_ORIGIN_MAX, &olen, &r->origin_over, at, len);
        break;
    case H_REQUEST_ID:
        olen = strlen(r->request_id);
        slot_add(r->request_id, SK_HDR_RID_MAX, &olen, &r->request_id_over, at, len);
        break;
    case H_TRANSFER_ENCODING:
        slot_add(h->te, sizeof h->te - 1, &h->te_len, NULL, at, len);
        break;
    case H_CONTENT_TYPE:
        r->has_content_type = 1;
        if (h->value_len == 0) {
            static const char js[] = "application/json";
            size_t n = len < sizeof js - 1 ? len : sizeof js - 1;
            r->json_body = n == sizeof js - 1 && strncasecmp(at, js, n) == 0 &&
                           (len == n || at[n] == ';' || at[n] == ' ');
            static const char nd[] = "application/x-ndjson";
            n = len < sizeof nd - 1 ? len : sizeof nd - 1;
            r->ndjson_body = n == sizeof nd - 1 && strncasecmp(at, nd, n) == 0 &&
                             (len == n || at[n] == ';' || at[n] == ' ');
        }
        break;
    case H_EXPECT:
        if (h->value_len == 0)
            r->expect_continue = len >= 12 && strncasecmp(at, "100-continue", 12) == 0;
        break;
    case H_ACRM:
        olen = strlen(r->acr_method);
        slot_add(r->acr_method, sizeof r->acr_method - 1, &olen, NULL, at, len);
        break;
    }
    h->value_len += len;
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    sk_http *h = H(p);
    sk_request *r = &h->req;
    if (p->upgrade || p->method == HTTP_CONNECT)
        return set_error(h, 400, "protocol upgrades and CONNECT are not supported");
    if (p->http_major != 1 || p->http_minor > 1)
        return set_error(h, 400, "only HTTP/1.0 and HTTP/1.1 are supported");
    if (h->host_count > 1 || (h->host_count == 0 && p->http_minor == 1))
        return set_error(h, 400, "an HTTP/1.1 request needs exactly one Host header");
    if (h->te_count) {
        /* Only "chunked" alone: any other coding, a list or a repeated header is refused
         * (RFC 9112 6.1; an HTTP/1.0 message with Transfer-Encoding is faulty too). */
        size_t n = h->te_len;
        while (n && (h->te[n - 1] == ' ' || h->te[n - 1] == '\t'))
            n--;
        if (h->te_count > 1 || p->http_minor == 0 || n != 7 || strncasecmp(h->te, "chunked", 7))
            return set_error(h, 400, "Transfer-Encoding must be exactly \"chunked\"");
    }
    /* POST /v1/events and /1/events (Insights) carry batches of events: their own, larger,
     * limit (origin-form only). */
    static const char ev_path[] = "/v1/events", ins_path[] = "/1/events";
    size_t ul = r->url.len;
    const char *u = r->url.p ? r->url.p : "";
    if (p->method == HTTP_POST &&
        ((ul >= sizeof ev_path - 1 && memcmp(u, ev_path, sizeof ev_path - 1) == 0 &&
          (ul == sizeof ev_path - 1 || u[sizeof ev_path - 1] == '?')) ||
         (ul >= sizeof ins_path - 1 && memcmp(u, ins_path, sizeof ins_path - 1) == 0 &&
          (ul == sizeof ins_path - 1 || u[sizeof ins_path - 1] == '?'))))
        h->body_limit = h->limits.max_events_body_bytes;
    if ((p->flags & F_CONTENTLENGTH) && p->content_length > h->body_limit)
        return set_error(h, 413, "the request body is larger than the limit");
    r->method = p->method;
    r->keep_alive = http_should_keep_alive(p);
    h->headers_done = 1;
    /* "Authorization: Bearer KEY" carries the same key as X-Api-Key; any other scheme (or a
     * bare key) is refused by the router, never taken as a key. */
    if (h->auth_header) {
        if (r->api_key_len > 7 && strncasecmp(r->api_key, "Bearer ", 7) == 0) {
            memmove(r->api_key, r->api_key + 7, r->api_key_len - 7 + 1);
            r->api_key_len -= 7;
        } else {
            r->auth_scheme_bad = 1;
            r->api_key_len = 0;
            r->api_key[0] = 0;
        }
    }
    /* Echo a client's request id only when it is short and plain; else a new one is made. */
    if (r->request_id_over)
        r->request_id[0] = 0;
    for (const char *s = r->request_id; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              *s == '-' || *s == '_' || *s == '.')) {
            r->request_id[0] = 0;
            break;
        }
    return 0;
}

/* Checks the CRLF that must follow a chunk's data, from `from` up to the end of the bytes being
 * fed (the rest at the start of the next feed). http_parser, built without HTTP_PARSER_STRICT as
 * distributions ship it, takes any two bytes there, so "5\r\nhelloXX0\r\n\r\n" would pass: a
 * proxy that checks them reads another request (smuggling), so Souk refuses it. */
static int check_chunk_crlf(sk_http *h, const char *from)
{
    for (; h->crlf_seen < 2 && from < h->feed_end; from++, h->crlf_seen++)
        if (*from != "\r\n"[h->crlf_seen])
            return set_error(h, 400, "a chunk's data is not followed by CRLF");
    return 0;
}

static int on_chunk_header(http_parser *p)
{
    H(p)->chunk_left = p->content_length;
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    sk_http *h = H(p);
    if (h->req.body.len + len > h->body_limit)
        return set_error(h, 413, "the request body is larger than the limit");
    if (sk_buf_add(&h->req.body, at, len))
        return set_error(h, 500, "out of memory");
    if (p->flags & F_CHUNKED) {
        h->chunk_left = h->chunk_left > len ? h->chunk_left - len : 0;
        if (h->chunk_left == 0) {
            h->crlf_seen = 0;
            return check_chunk_crlf(h, at + len);
        }
    }
    return 0;
}

static int on_message_complete(http_parser *p)
{
    sk_http *h = H(p);
    h->complete = 1;
    http_parser_pause(p, 1);
    return 0;
}

static const http_parser_settings settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_chunk_header = on_chunk_header,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

void sk_http_init(sk_http *h, const sk_limits *lim)
{
    memset(h, 0, sizeof *h);
    h->limits = *lim;
    h->body_limit = lim->max_body_bytes;
    h->crlf_seen = 2;
    http_parser_init(&h->parser, HTTP_REQUEST);
    h->parser.data = h;
}

void sk_http_free(sk_http *h)
{
    sk_buf_free(&h->req.url);
    sk_buf_free(&h->req.body);
}

size_t sk_http_feed(sk_http *h, const char *buf, size_t len)
{
    if (h->complete || h->error || len == 0)
        return 0;
    h->started = 1; /* even bare CRLFs, which http_parser skips before a request */
    h->feed_end = buf + len;
    if (h->crlf_seen < 2 && check_chunk_crlf(h, buf))
        return 0;
    size_t n = http_parser_execute(&h->parser, &settings, buf, len);
    enum http_errno e = HTTP_PARSER_ERRNO(&h->parser);
    if (h->error)
        return n;
    if (e == HPE_PAUSED && h->complete)
        return n;
    if (e == HPE_HEADER_OVERFLOW)
        set_error(h, 431, "the request line and headers are too large");
    else if (e != HPE_OK)
        set_error(h, 400, http_errno_description(e));
    return n;
}

void sk_http_next(sk_http *h)
{
    h->complete = 0;
    h->in_message = 0;
    h->started = 0;
    http_parser_pause(&h->parser, 0);
}
