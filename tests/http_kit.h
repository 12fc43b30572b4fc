/* http_kit.h: a small HTTP/1.1 client over plain sockets and a souk-server runner, for the
 * tests written after issue 24 (test_server_edges.c). The older server tests keep their own
 * copies; a later issue makes one shared test kit of them. Everything here is for tests only:
 * a failure to set up REQUIREs (exits), a network failure returns -1. */
#ifndef SOUK_TEST_HTTP_KIT_H
#define SOUK_TEST_HTTP_KIT_H

#include "check.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

typedef struct kit_resp {
    int status;
    char head[8192];
    char *body;
    size_t body_len;
} kit_resp;

/* A connection's read buffer, so pipelined responses are read one by one. */
typedef struct kit_conn {
    int fd;
    size_t len;
    char b[1 << 20];
} kit_conn;

/* Connects to 127.0.0.1:port (10 s receive timeout); NULL when refused. Free with kit_close. */
static inline kit_conn *kit_dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a)) {
        close(fd);
        return NULL;
    }
    kit_conn *c = calloc(1, sizeof *c);
    REQUIRE(c);
    c->fd = fd;
    return c;
}

static inline void kit_close(kit_conn *c)
{
    if (c) {
        close(c->fd);
        free(c);
    }
}

static inline int kit_send(kit_conn *c, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static inline void kit_resp_free(kit_resp *r)
{
    free(r->body);
    r->body = NULL;
}

/* Reads one whole response (skipping 100 Continue); 0, or -1 on EOF, timeout or garbage. */
static inline int kit_read(kit_conn *c, kit_resp *r)
{
    memset(r, 0, sizeof *r);
    for (;;) {
        char *end = c->len ? memmem(c->b, c->len, "\r\n\r\n", 4) : NULL;
        if (end) {
            size_t hl = (size_t)(end - c->b) + 4;
            if (hl >= sizeof r->head || sscanf(c->b, "HTTP/1.1 %d", &r->status) != 1)
                return -1;
            memcpy(r->head, c->b, hl);
            r->head[hl] = 0;
            if (r->status == 100) {
                memmove(c->b, c->b + hl, c->len - hl);
                c->len -= hl;
                continue;
            }
            const char *cl = strcasestr(r->head, "\r\ncontent-length:");
            size_t blen = cl ? strtoul(cl + 17, NULL, 10) : 0;
            while (c->len < hl + blen) {
                ssize_t n = recv(c->fd, c->b + c->len, sizeof c->b - c->len, 0);
                if (n <= 0)
                    return -1;
                c->len += (size_t)n;
            }
            r->body = malloc(blen + 1);
            REQUIRE(r->body);
            memcpy(r->body, c->b + hl, blen);
            r->body[blen] = 0;
            r->body_len = blen;
            memmove(c->b, c->b + hl + blen, c->len - hl - blen);
            c->len -= hl + blen;
            return 0;
        }
        if (c->len == sizeof c->b)
            return -1;
        ssize_t n = recv(c->fd, c->b + c->len, sizeof c->b - c->len, 0);
        if (n <= 0)
            return -1;
        c->len += (size_t)n;
    }
}

/* 1 when the server has closed the connection (EOF or reset) with nothing more to read. */
static inline int kit_closed(kit_conn *c)
{
    char b[256];
    ssize_t n = recv(c->fd, b, sizeof b, 0);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

/* One raw request on a new connection; the response's status, or -1. */
static inline int kit_request(int port, const char *raw, size_t len, kit_resp *r)
{
    kit_conn *c = kit_dial(port);
    if (!c)
        return -1;
    int rc = kit_send(c, raw, len) ? -1 : kit_read(c, r);
    kit_close(c);
    return rc ? -1 : r->status;
}

/* A GET with an optional X-Api-Key; the status, or -1. */
static inline int kit_get(int port, const char *target, const char *key, kit_resp *r)
{
    char raw[16384];
    int n = snprintf(raw, sizeof raw, "GET %s HTTP/1.1\r\nHost: t\r\n%s%s%s\r\n", target,
                     key ? "X-Api-Key: " : "", key ? key : "", key ? "\r\n" : "");
    return kit_request(port, raw, (size_t)n, r);
}

/* The header `name` ("X-Request-Id") of a response, copied into buf without CRLF; NULL when
 * absent. */
static inline const char *kit_header(const kit_resp *r, const char *name, char *buf, size_t cap)
{
    char pat[128];
    snprintf(pat, sizeof pat, "\r\n%s:", name);
    const char *p = strcasestr(r->head, pat);
    if (!p)
        return NULL;
    p += strlen(pat);
    while (*p == ' ')
        p++;
    size_t n = strcspn(p, "\r\n");
    if (n >= cap)
        n = cap - 1;
    memcpy(buf, p, n);
    buf[n] = 0;
    return buf;
}

/* Starts souk-server with the arguments `args` (NULL-terminated; "--listen 127.0.0.1:0" is
 * added) and reads its port from the first stdout line. */
typedef struct kit_server {
    pid_t pid;
    int port;
} kit_server;

static inline void kit_start(kit_server *s, const char *const *args)
{
    const char *argv[32] = {"souk-server", "--listen", "127.0.0.1:0"};
    int n = 3;
    for (; args[n - 3]; n++) {
        REQUIRE(n < 31);
        argv[n] = args[n - 3];
    }
    argv[n] = NULL;
    int pfd[2];
    REQUIRE(pipe(pfd) == 0);
    s->pid = fork();
    REQUIRE(s->pid >= 0);
    if (s->pid == 0) {
        dup2(pfd[1], 1);
        close(pfd[0]);
        execv(SOUK_BIN_DIR "/souk-server", (char *const *)argv);
        _exit(127);
    }
    close(pfd[1]);
    FILE *f = fdopen(pfd[0], "r");
    char line[512] = "";
    REQUIRE(fgets(line, sizeof line, f));
    const char *p = strstr(line, "127.0.0.1:");
    REQUIRE(p);
    s->port = atoi(p + 10);
    REQUIRE(s->port > 0);
    fclose(f);
}

/* SIGTERM and wait: the exit status, or 128 + the signal. */
static inline int kit_stop(kit_server *s)
{
    kill(s->pid, SIGTERM);
    int status = 0;
    REQUIRE(waitpid(s->pid, &status, 0) == s->pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* "sha256:…" for a key, from souk-server --hash-key. A static buffer. */
static inline const char *kit_hash_key(const char *key)
{
    static char line[128];
    char cmd[512];
    snprintf(cmd, sizeof cmd, "printf %%s '%s' | '%s/souk-server' --hash-key", key, SOUK_BIN_DIR);
    FILE *p = popen(cmd, "r");
    REQUIRE(p);
    line[0] = 0;
    REQUIRE(fgets(line, sizeof line, p));
    pclose(p);
    line[strcspn(line, "\n")] = 0;
    REQUIRE(strncmp(line, "sha256:", 7) == 0 && strlen(line) == 71);
    return line;
}

#endif
