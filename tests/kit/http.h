/* http.h (test kit): the one HTTP/1.1 client of the tests, over plain sockets to 127.0.0.1, and
 * the souk-server fixture (start on an ephemeral port, SIGHUP, stop). Everything here is for
 * tests only: a failure to set up REQUIREs (exits), a network failure returns -1, so a test can
 * assert on it. Every function runs on the calling thread; connections are not shared between
 * threads. */
#ifndef SOUK_KIT_HTTP_H
#define SOUK_KIT_HTTP_H

#include <stddef.h>
#include <sys/types.h>

/* One response. head is the status line and headers with the final CRLF CRLF, NUL-terminated;
 * body (malloc'd, NUL-terminated, NULL before a response was read) is freed by kit_resp_free. */
typedef struct kit_resp {
    int status;
    char head[8192];
    char *body;
    size_t body_len;
} kit_resp;

/* One keep-alive connection with its read buffer, so pipelined responses are read one by one.
 * The buffer grows as a response needs, up to KIT_READ_MAX bytes (a response larger than that
 * is garbage to kit_read). Made by kit_dial. */
#define KIT_READ_MAX (64u << 20)
typedef struct kit_conn {
    int fd;
    size_t len, cap;
    char *b;
} kit_conn;

/* Connects to 127.0.0.1:port with TCP_NODELAY and a 10 s receive timeout; NULL when refused.
 * Free with kit_close. */
kit_conn *kit_dial(int port);

/* kit_dial with a receive timeout of timeout_ms instead. */
kit_conn *kit_dial_timeout(int port, int timeout_ms);

/* Closes the connection and frees c; NULL is ignored. */
void kit_close(kit_conn *c);

/* Sends all n bytes of p (no SIGPIPE); 0, or -1 when the connection is gone. */
int kit_send(kit_conn *c, const char *p, size_t n);

/* Reads one whole response framed by Content-Length (none: an empty body), skipping 100
 * Continue; 0, or -1 on EOF, timeout or garbage (nothing half-read is returned as a response).
 * Bytes after it stay in c's buffer for the next call. */
int kit_read(kit_conn *c, kit_resp *r);

/* Reads until the server closes the connection (for requests sent with Connection: close) and
 * splits the response into status, head and body (the rest of the bytes, whatever their
 * framing); 0, or -1 on a receive error or timeout, or without a status line and a blank line. */
int kit_read_to_eof(kit_conn *c, kit_resp *r);

/* Frees r's body; r can be read into again. */
void kit_resp_free(kit_resp *r);

/* 1 when the server has closed the connection (EOF or reset) with nothing more to read. */
int kit_closed(kit_conn *c);

/* One raw request on a new connection, its response read by kit_read; the response's status,
 * or -1. */
int kit_request(int port, const char *raw, size_t len, kit_resp *r);

/* One request on a new connection: method, target, and each of an X-Api-Key (key), an
 * X-User-Token (token), a Content-Type (ctype) and a body (body[0..blen), with its
 * Content-Length) when not NULL; read by kit_read. The status, or -1. */
int kit_call(int port, const char *method, const char *target, const char *key, const char *token,
             const char *ctype, const char *body, size_t blen, kit_resp *r);

/* One raw request on a new connection (timeout_ms: its receive timeout), the response read to
 * EOF by kit_read_to_eof; the status, or -1. */
int kit_request_eof(int port, const char *raw, size_t len, int timeout_ms, kit_resp *r);

/* A GET of target with an optional X-Api-Key (key NULL: none), read by kit_read; the status,
 * or -1. */
int kit_get(int port, const char *target, const char *key, kit_resp *r);

/* A GET of target with an optional X-Api-Key and Connection: close, read to EOF within
 * timeout_ms; the status, or -1. */
int kit_get_close(int port, const char *target, const char *key, int timeout_ms, kit_resp *r);

/* A POST of the JSON body to target with an optional X-Api-Key, read by kit_read; the status,
 * or -1. */
int kit_post(int port, const char *target, const char *body, const char *key, kit_resp *r);

/* The header `name` ("X-Request-Id") of a response, copied into buf without CRLF; NULL when
 * absent. */
const char *kit_header(const kit_resp *r, const char *name, char *buf, size_t cap);

/* The "code" of a JSON error body ({"error":{"code":...}}) copied into buf, or "" (also when
 * the body is not JSON). Returns buf. */
const char *kit_err_code(const kit_resp *r, char *buf, size_t cap);

/* The value of the series `name` (a whole line's first word, e.g. "souk_http_requests_total" or
 * a series with labels) of a Prometheus text body, or -1 when absent. */
long long kit_metric_value(const char *body, const char *name);

/* The body of a GET of target with a user token (malloc'd; "" when none), without what differs
 * between two equal answers: its request id and an export's time of making ("generated"). The
 * status in *status. */
char *kit_user_body(int port, const char *target, const char *token, int *status);

/* %-escapes s for a query string (unreserved characters kept) into out (cap bytes). */
void kit_url_escape(const char *s, char *out, size_t cap);

/* A running souk-server. */
typedef struct kit_server {
    pid_t pid;
    int port;
} kit_server;

/* Starts souk-server (the build's) with the arguments `args` (NULL-terminated; "--listen
 * 127.0.0.1:0" is added before them) and waits until it listens: it reads the port from the
 * server's first stdout line. The server is killed at exit if the test exits without stopping
 * it (a failed REQUIRE). */
void kit_start(kit_server *s, const char *const *args);

/* kit_start of the server binary bin instead of the build's. */
void kit_start_bin(kit_server *s, const char *bin, const char *const *args);

/* Sends SIGHUP (reload the configuration and reopen the index). */
void kit_reload(const kit_server *s);

/* SIGTERM and wait: the exit status, or 128 + the signal. */
int kit_stop(kit_server *s);

/* SIGTERM, then waits at most wait_s for the exit (SIGKILL after). *status gets the exit status
 * (or 128 + the signal). Returns the seconds the drain took, or -1 when it had to be killed. */
double kit_stop_within(kit_server *s, double wait_s, int *status);

/* "sha256:…" for a key, from souk-server --hash-key. A static buffer, valid until the next call. */
const char *kit_hash_key(const char *key);

/* Writes text to path (REQUIREs success). */
void kit_write_file(const char *path, const char *text);

/* Writes a key ring of one random key, "1 <64 hex>" (souk/keys.h), to path with the given mode
 * (0600 for a ring the programs accept); REQUIREs success. */
void kit_write_ring(const char *path, int mode);

#endif
