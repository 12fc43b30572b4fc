/* http.c (test kit): the tests' HTTP client and souk-server fixture of http.h. */
#include "http.h"

#include <sys/random.h>
#include <sys/stat.h>

#include "check.h"
#include "souk/buf.h"
#include "souk/souk.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

kit_conn *kit_dial_timeout(int port, int timeout_ms)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
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
    c->cap = 1 << 16;
    c->b = malloc(c->cap);
    REQUIRE(c->b);
    return c;
}

kit_conn *kit_dial(int port)
{
    return kit_dial_timeout(port, 10000);
}

void kit_close(kit_conn *c)
{
    if (c) {
        close(c->fd);
        free(c->b);
        free(c);
    }
}

int kit_send(kit_conn *c, const char *p, size_t n)
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

void kit_resp_free(kit_resp *r)
{
    free(r->body);
    r->body = NULL;
}

/* Receives more bytes into c's buffer, growing it when full; the count, 0 at EOF, -1 on an error
 * or timeout or a buffer at KIT_READ_MAX. */
static ssize_t fill(kit_conn *c)
{
    int rc = souk_grow((void **)&c->b, &c->cap, c->len + 1, 1, KIT_READ_MAX);
    if (rc == SOUK_ETOOBIG)
        return -1;
    REQUIRE(rc == 0);
    ssize_t n = recv(c->fd, c->b + c->len, c->cap - c->len, 0);
    if (n > 0)
        c->len += (size_t)n;
    return n;
}

int kit_read(kit_conn *c, kit_resp *r)
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
            if (r->status == 100) { /* an interim response */
                memmove(c->b, c->b + hl, c->len - hl);
                c->len -= hl;
                continue;
            }
            const char *cl = strcasestr(r->head, "\r\ncontent-length:");
            size_t blen = cl ? strtoul(cl + 17, NULL, 10) : 0;
            while (c->len < hl + blen)
                if (fill(c) <= 0)
                    return -1;
            r->body = malloc(blen + 1);
            REQUIRE(r->body);
            memcpy(r->body, c->b + hl, blen);
            r->body[blen] = 0;
            r->body_len = blen;
            memmove(c->b, c->b + hl + blen, c->len - hl - blen);
            c->len -= hl + blen;
            return 0;
        }
        if (fill(c) <= 0)
            return -1;
    }
}

int kit_read_to_eof(kit_conn *c, kit_resp *r)
{
    memset(r, 0, sizeof *r);
    size_t cap = (1 << 16) + c->len, len = c->len;
    char *b = malloc(cap);
    REQUIRE(b);
    memcpy(b, c->b, c->len);
    c->len = 0;
    int rc = 0;
    for (;;) {
        REQUIRE(souk_grow((void **)&b, &cap, len + 2, 1, SIZE_MAX) == 0);
        ssize_t n = recv(c->fd, b + len, cap - len - 1, 0);
        if (n < 0)
            rc = -1;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    b[len] = 0;
    const char *sep = memmem(b, len, "\r\n\r\n", 4);
    size_t hl = sep ? (size_t)(sep - b) + 4 : 0;
    if (rc || !sep || hl >= sizeof r->head || sscanf(b, "HTTP/1.1 %d", &r->status) != 1) {
        r->status = 0;
        free(b);
        return -1;
    }
    memcpy(r->head, b, hl);
    r->head[hl] = 0;
    r->body_len = len - hl;
    r->body = malloc(r->body_len + 1);
    REQUIRE(r->body);
    memcpy(r->body, b + hl, r->body_len + 1);
    free(b);
    return 0;
}

int kit_closed(kit_conn *c)
{
    char b[256];
    ssize_t n = recv(c->fd, b, sizeof b, 0);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

int kit_call(int port, const char *method, const char *target, const char *key, const char *token,
             const char *ctype, const char *body, size_t blen, kit_resp *r)
{
    size_t cap = blen + strlen(target) + 4096;
    char *raw = malloc(cap);
    REQUIRE(raw);
    int n = snprintf(raw, cap, "%s %s HTTP/1.1\r\nHost: t\r\n", method, target);
    if (key)
        n += snprintf(raw + n, cap - (size_t)n, "X-Api-Key: %s\r\n", key);
    if (token)
        n += snprintf(raw + n, cap - (size_t)n, "X-User-Token: %s\r\n", token);
    if (ctype)
        n += snprintf(raw + n, cap - (size_t)n, "Content-Type: %s\r\n", ctype);
    if (body)
        n += snprintf(raw + n, cap - (size_t)n, "Content-Length: %zu\r\n", blen);
    n += snprintf(raw + n, cap - (size_t)n, "\r\n");
    if (body)
        memcpy(raw + n, body, blen);
    int st = kit_request(port, raw, (size_t)n + (body ? blen : 0), r);
    free(raw);
    return st;
}

int kit_request(int port, const char *raw, size_t len, kit_resp *r)
{
    memset(r, 0, sizeof *r);
    kit_conn *c = kit_dial(port);
    if (!c)
        return -1;
    int rc = kit_send(c, raw, len) ? -1 : kit_read(c, r);
    kit_close(c);
    return rc ? -1 : r->status;
}

int kit_request_eof(int port, const char *raw, size_t len, int timeout_ms, kit_resp *r)
{
    memset(r, 0, sizeof *r);
    kit_conn *c = kit_dial_timeout(port, timeout_ms);
    if (!c)
        return -1;
    int rc = kit_send(c, raw, len) ? -1 : kit_read_to_eof(c, r);
    kit_close(c);
    return rc ? -1 : r->status;
}

/* The raw GET request for target: malloc'd, its length in *len. */
static char *get_request(const char *target, const char *key, int close_it, size_t *len)
{
    size_t cap = strlen(target) + (key ? strlen(key) : 0) + 128;
    char *raw = malloc(cap);
    REQUIRE(raw);
    int n = snprintf(raw, cap, "GET %s HTTP/1.1\r\nHost: t\r\n%s%s%s%s\r\n", target,
                     key ? "X-Api-Key: " : "", key ? key : "", key ? "\r\n" : "",
                     close_it ? "Connection: close\r\n" : "");
    REQUIRE(n > 0 && (size_t)n < cap);
    *len = (size_t)n;
    return raw;
}

int kit_get(int port, const char *target, const char *key, kit_resp *r)
{
    size_t n;
    char *raw = get_request(target, key, 0, &n);
    int rc = kit_request(port, raw, n, r);
    free(raw);
    return rc;
}

int kit_get_close(int port, const char *target, const char *key, int timeout_ms, kit_resp *r)
{
    size_t n;
    char *raw = get_request(target, key, 1, &n);
    int rc = kit_request_eof(port, raw, n, timeout_ms, r);
    free(raw);
    return rc;
}

int kit_post(int port, const char *target, const char *body, const char *key, kit_resp *r)
{
    size_t bl = strlen(body), cap = strlen(target) + (key ? strlen(key) : 0) + 256;
    char *raw = malloc(cap + bl);
    REQUIRE(raw);
    int n = snprintf(raw, cap,
                     "POST %s HTTP/1.1\r\nHost: t\r\n%s%s%sContent-Type: "
                     "application/json\r\nContent-Length: %zu\r\n\r\n",
                     target, key ? "X-Api-Key: " : "", key ? key : "", key ? "\r\n" : "", bl);
    REQUIRE(n > 0 && (size_t)n < cap);
    memcpy(raw + n, body, bl);
    int rc = kit_request(port, raw, (size_t)n + bl, r);
    free(raw);
    return rc;
}

const char *kit_header(const kit_resp *r, const char *name, char *buf, size_t cap)
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

const char *kit_err_code(const kit_resp *r, char *buf, size_t cap)
{
    buf[0] = 0;
    cJSON *j = cJSON_Parse(r->body ? r->body : "");
    const char *c =
        cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "error"), "code"));
    if (c)
        snprintf(buf, cap, "%s", c);
    cJSON_Delete(j);
    return buf;
}

long long kit_metric_value(const char *body, const char *name)
{
    if (!body)
        return -1;
    char key[256];
    snprintf(key, sizeof key, "\n%s ", name);
    size_t kl = strlen(key);
    if (strncmp(body, key + 1, kl - 1) == 0) /* the first line */
        return strtoll(body + kl - 1, NULL, 10);
    const char *p = strstr(body, key);
    return p ? strtoll(p + kl, NULL, 10) : -1;
}

void kit_url_escape(const char *s, char *out, size_t cap)
{
    size_t o = 0;
    for (; *s && o + 4 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            strchr("-_.~", c))
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, cap - o, "%%%02X", c);
    }
    out[o] = 0;
}

/* ------------------------------------------------------------------ the server process */

/* The servers started and not yet stopped through the kit, killed at exit so a failed REQUIRE
 * leaves none behind (only those still unreaped children of this process: a test that reaped one
 * itself is not killed by a reused pid). */
#define MAX_RUNNING 16
static pid_t running[MAX_RUNNING];

static void kill_running(void)
{
    for (int i = 0; i < MAX_RUNNING; i++)
        if (running[i] > 0 && waitpid(running[i], NULL, WNOHANG) == 0) {
            kill(running[i], SIGKILL);
            waitpid(running[i], NULL, 0);
            running[i] = 0;
        }
}

static void track(pid_t pid, pid_t replace)
{
    static int registered;
    if (!registered) {
        atexit(kill_running);
        registered = 1;
    }
    for (int i = 0; i < MAX_RUNNING; i++)
        if (running[i] == replace) {
            running[i] = pid;
            return;
        }
    REQUIRE(replace != 0); /* more than MAX_RUNNING servers at once */
}

void kit_start_bin(kit_server *s, const char *bin, const char *const *args)
{
    const char *argv[40] = {"souk-server", "--listen", "127.0.0.1:0"};
    int n = 3;
    for (; args[n - 3]; n++) {
        REQUIRE(n < 39);
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
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    track(s->pid, 0);
    close(pfd[1]);
    FILE *f = fdopen(pfd[0], "r");
    REQUIRE(f);
    char line[512] = "";
    REQUIRE(fgets(line, sizeof line, f));
    const char *p = strstr(line, "127.0.0.1:");
    REQUIRE(p);
    s->port = atoi(p + 10);
    REQUIRE(s->port > 0);
    fclose(f);
}

void kit_start(kit_server *s, const char *const *args)
{
    kit_start_bin(s, SOUK_BIN_DIR "/souk-server", args);
}

void kit_reload(const kit_server *s)
{
    REQUIRE(kill(s->pid, SIGHUP) == 0);
}

static int exit_code(int status)
{
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int kit_stop(kit_server *s)
{
    kill(s->pid, SIGTERM);
    int status = 0;
    REQUIRE(waitpid(s->pid, &status, 0) == s->pid);
    track(0, s->pid);
    return exit_code(status);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

double kit_stop_within(kit_server *s, double wait_s, int *status)
{
    double t0 = now_s();
    kill(s->pid, SIGTERM);
    for (;;) {
        int st;
        pid_t r = waitpid(s->pid, &st, WNOHANG);
        if (r == s->pid) {
            track(0, s->pid);
            *status = exit_code(st);
            return now_s() - t0;
        }
        if (now_s() - t0 > wait_s) {
            kill(s->pid, SIGKILL);
            waitpid(s->pid, &st, 0);
            track(0, s->pid);
            *status = exit_code(st);
            return -1;
        }
        usleep(10000);
    }
}

const char *kit_hash_key(const char *key)
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

void kit_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    REQUIRE(f);
    REQUIRE(fputs(text, f) >= 0);
    REQUIRE(fclose(f) == 0);
}

void kit_write_ring(const char *path, int mode)
{
    unsigned char k[32];
    REQUIRE(getrandom(k, sizeof k, 0) == (ssize_t)sizeof k);
    char line[80] = "1 ";
    for (size_t i = 0; i < sizeof k; i++)
        snprintf(line + 2 + 2 * i, 3, "%02x", k[i]);
    strcat(line, "\n");
    kit_write_file(path, line);
    REQUIRE(chmod(path, (mode_t)mode) == 0);
}

char *kit_user_body(int port, const char *target, const char *token, int *status)
{
    kit_resp r;
    *status = kit_call(port, "GET", target, NULL, token, NULL, NULL, 0, &r);
    char *b = strdup(r.body ? r.body : "");
    kit_resp_free(&r);
    REQUIRE(b);
    char *p = strstr(b, "\"request_id\":\"");
    if (p) {
        char *e = strchr(p + 14, '"');
        if (e)
            memmove(p, e + 1, strlen(e + 1) + 1);
    }
    if ((p = strstr(b, "\"generated\":")) != NULL) {
        char *e = p + 12;
        while (*e >= '0' && *e <= '9')
            e++;
        memmove(p, e, strlen(e) + 1);
    }
    return b;
}
