/*
 * souk_apt_catalog.c - souk-apt-catalog: builds a Souk product catalog stream (NDJSON) from the
 * package lists that apt keeps on a Debian machine, so the engine can index a real catalog
 * without any external data.
 *
 * Usage: souk-apt-catalog [--lists DIR] [--out FILE]
 *        (defaults: /var/lib/apt/lists and standard output)
 *
 * It reads every "*_Packages" and every "*_i18n_Translation-en" list in DIR. apt may keep
 * those lists compressed (Acquire::GzipIndexes, as Docker-style images do); "*.lz4", "*.gz",
 * "*.xz" and "*.zst" variants are read through the matching decompressor found on PATH
 * (lz4, gzip, xz, zstd), any other variant is skipped with a warning. When a list exists
 * both plain and compressed, the plain file wins.
 *
 * Each line of output is one JSON object with this exact key order:
 *   {"id", "title", "description", "section", "tags", "version", "installed_size_kb",
 *    "download_size_b", "maintainer", "homepage", "depends", "source"}
 *
 * - Packages lists usually carry only the short Description and its Description-md5; the
 *   long text comes from Translation-en, matched on (Package, Description-md5). A package
 *   with no description anywhere is still written, with empty title/description.
 * - One record per package name: when several suites or architectures list the same name,
 *   the highest version wins (see version_cmp); ties keep the list read first (lists are
 *   read in byte order of their file names). Records are written in byte order of name.
 * - Strings are made valid UTF-8 (each maximal invalid subsequence becomes U+FFFD) and
 *   escaped by cJSON.
 *
 * A summary goes to standard error. Exit status: 0 on success, 1 on any error (unreadable
 * directory or list, failing decompressor, write error), 2 on bad usage. The --out file is
 * only opened once every list has been read, so a failed read leaves an old catalog alone.
 *
 * Build: gcc -O2 -std=c11 -Wall -Wextra -Wstrict-prototypes souk_apt_catalog.c -lcjson
 */
#define _POSIX_C_SOURCE 200809L

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROG "souk-apt-catalog"
#define DEFAULT_LISTS "/var/lib/apt/lists"

/* ------------------------------------------------------------------------------------------ */
/* Growable byte buffer, always NUL-terminated once something was appended.                   */

typedef struct {
    char *data;
    size_t len;
    size_t cap;
} buf_t;

/* Appends n bytes of s to b; returns 0, or -1 when out of memory. */
static int buf_append(buf_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        char *p;

        while (cap < b->len + n + 1) {
            cap *= 2;
        }
        p = realloc(b->data, cap);
        if (p == NULL) {
            return -1;
        }
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

/* Empties b, keeping its storage; b->data stays a valid (empty) string if it had storage. */
static void buf_reset(buf_t *b)
{
    b->len = 0;
    if (b->data != NULL) {
        b->data[0] = '\0';
    }
}

/* Returns a malloc'd NUL-terminated copy of the n bytes at s, or NULL when out of memory. */
static char *dup_n(const char *s, size_t n)
{
    char *p = malloc(n + 1);

    if (p != NULL) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* Like strdup (not in C11), NULL in gives NULL out. */
static char *dup_s(const char *s)
{
    return s == NULL ? NULL : dup_n(s, strlen(s));
}

/* ------------------------------------------------------------------------------------------ */
/* RFC-822 / deb822 stanza reader.                                                            */

typedef struct {
    buf_t name;
    buf_t value; /* first line trimmed; each continuation line appended as "\n" + raw line */
} field_t;

typedef struct {
    field_t *fields;
    size_t count; /* fields in use */
    size_t cap;   /* fields allocated; their buffers are reused from stanza to stanza */
} stanza_t;

typedef struct {
    const char *path;
    FILE *fp;
    pid_t pid; /* decompressor process, or -1 for a plain file */
    char *line;
    size_t line_cap;
    unsigned long lineno;
} reader_t;

/* Frees every buffer of s. */
static void stanza_free(stanza_t *s)
{
    size_t i;

    for (i = 0; i < s->cap; i++) {
        free(s->fields[i].name.data);
        free(s->fields[i].value.data);
    }
    free(s->fields);
    memset(s, 0, sizeof(*s));
}

/* Starts a new field in s named by the n bytes at name; returns it, or NULL when out of memory. */
static field_t *stanza_add(stanza_t *s, const char *name, size_t n)
{
    field_t *f;

    if (s->count == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 32;
        field_t *p = realloc(s->fields, cap * sizeof(*p));

        if (p == NULL) {
            return NULL;
        }
        memset(p + s->cap, 0, (cap - s->cap) * sizeof(*p));
        s->fields = p;
        s->cap = cap;
    }
    f = &s->fields[s->count];
    buf_reset(&f->name);
    buf_reset(&f->value);
    if (buf_append(&f->name, name, n) < 0 || buf_append(&f->value, "", 0) < 0) {
        return NULL;
    }
    s->count++;
    return f;
}

/* Returns the value of field name (case-insensitive, as in RFC 822) in s, or NULL. */
static const char *stanza_get(const stanza_t *s, const char *name)
{
    size_t i;

    for (i = 0; i < s->count; i++) {
        if (strcasecmp(s->fields[i].name.data, name) == 0) {
            return s->fields[i].value.data;
        }
    }
    return NULL;
}

/*
 * Reads the next stanza of r into s. Lines of any length are read with getline. A stanza
 * ends at an empty line (as in apt, a line of blanks is a continuation line, not a
 * separator). Returns 1 when a stanza was read, 0 at end of input, -1 on a read error or
 * when out of memory.
 */
static int read_stanza(reader_t *r, stanza_t *s)
{
    field_t *last = NULL;

    s->count = 0;
    for (;;) {
        ssize_t n = getline(&r->line, &r->line_cap, r->fp);
        char *line = r->line;
        char *colon;

        if (n < 0) {
            if (ferror(r->fp)) {
                fprintf(stderr, PROG ": %s: read error: %s\n", r->path, strerror(errno));
                return -1;
            }
            return s->count > 0 ? 1 : 0;
        }
        r->lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) {
            line[--n] = '\0';
        }
        if (n == 0) {
            if (s->count > 0) {
                return 1;
            }
            continue;
        }
        if (line[0] == ' ' || line[0] == '\t') {
            if (last == NULL) {
                fprintf(stderr, PROG ": %s:%lu: continuation line outside a field, ignored\n",
                        r->path, r->lineno);
                continue;
            }
            if (buf_append(&last->value, "\n", 1) < 0 ||
                buf_append(&last->value, line, (size_t)n) < 0) {
                goto oom;
            }
            continue;
        }
        if (line[0] == '#') {
            continue;
        }
        colon = memchr(line, ':', (size_t)n);
        if (colon == NULL) {
            fprintf(stderr, PROG ": %s:%lu: line without a field name, ignored\n", r->path,
                    r->lineno);
            last = NULL;
            continue;
        }
        last = stanza_add(s, line, (size_t)(colon - line));
        if (last == NULL) {
            goto oom;
        }
        {
            char *v = colon + 1;
            char *end = line + n;

            while (v < end && (*v == ' ' || *v == '\t')) {
                v++;
            }
            while (end > v && (end[-1] == ' ' || end[-1] == '\t')) {
                end--;
            }
            if (buf_append(&last->value, v, (size_t)(end - v)) < 0) {
                goto oom;
            }
        }
    }
oom:
    fprintf(stderr, PROG ": out of memory\n");
    return -1;
}

/*
 * Opens path for reading into r, through decompressor prog ("lz4", "gzip", ...) unless prog
 * is NULL. Returns 0, or -1 after printing why.
 */
static int reader_open(reader_t *r, const char *path, const char *prog)
{
    int fds[2] = {-1, -1};

    memset(r, 0, sizeof(*r));
    r->path = path;
    r->pid = -1;
    if (prog == NULL) {
        r->fp = fopen(path, "r");
        if (r->fp == NULL) {
            fprintf(stderr, PROG ": %s: %s\n", path, strerror(errno));
            goto fail;
        }
        return 0;
    }
    if (pipe(fds) < 0) {
        fprintf(stderr, PROG ": pipe: %s\n", strerror(errno));
        goto fail;
    }
    r->pid = fork();
    if (r->pid < 0) {
        fprintf(stderr, PROG ": fork: %s\n", strerror(errno));
        goto fail;
    }
    if (r->pid == 0) {
        /* child: decompress path to the pipe */
        close(fds[0]);
        if (dup2(fds[1], STDOUT_FILENO) < 0) {
            _exit(126);
        }
        close(fds[1]);
        execlp(prog, prog, "-dc", path, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    fds[1] = -1;
    r->fp = fdopen(fds[0], "r");
    if (r->fp == NULL) {
        fprintf(stderr, PROG ": fdopen: %s\n", strerror(errno));
        goto fail;
    }
    return 0;
fail:
    if (fds[0] >= 0 && r->fp == NULL) {
        close(fds[0]);
    }
    if (fds[1] >= 0) {
        close(fds[1]);
    }
    if (r->pid > 0) {
        waitpid(r->pid, NULL, 0);
    }
    r->pid = -1;
    return -1;
}

/*
 * Closes r and reaps its decompressor. Returns 0 when the decompressor (if any) succeeded,
 * 127 when it could not be started, any other positive value when it failed.
 */
static int reader_close(reader_t *r)
{
    int status = 0;
    int rc = 0;

    if (r->fp != NULL) {
        fclose(r->fp);
    }
    free(r->line);
    if (r->pid > 0) {
        while (waitpid(r->pid, &status, 0) < 0) {
            if (errno != EINTR) {
                rc = 1;
                goto out;
            }
        }
        if (WIFEXITED(status)) {
            rc = WEXITSTATUS(status);
        } else {
            rc = 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
        }
    }
out:
    memset(r, 0, sizeof(*r));
    r->pid = -1;
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* Package records and translations.                                                          */

typedef struct {
    char *id;
    char *version;
    char *desc; /* Description or Description-en as found in Packages, or NULL */
    char *md5;  /* Description-md5, or NULL */
    char *section;
    char *tags;
    char *maintainer;
    char *homepage;
    char *depends;
    char *source;
    long long installed_kb;
    long long size_b;
    size_t seq; /* reading order, for deterministic ties */
} pkg_t;

typedef struct {
    char *pkg;
    char *md5;
    char *text; /* Description-en: short line, then "\n"-joined raw continuation lines */
} trans_t;

typedef struct {
    pkg_t *pkgs;
    size_t npkgs;
    size_t pkgs_cap;
    trans_t *trans;
    size_t ntrans;
    size_t trans_cap;
    unsigned long packages_files;
    unsigned long translation_files;
    unsigned long skipped_files;
    unsigned long stanzas;
    unsigned long bad_stanzas;
    unsigned long repaired_strings;
} catalog_t;

/* Frees the strings of p. */
static void pkg_free(pkg_t *p)
{
    free(p->id);
    free(p->version);
    free(p->desc);
    free(p->md5);
    free(p->section);
    free(p->tags);
    free(p->maintainer);
    free(p->homepage);
    free(p->depends);
    free(p->source);
    memset(p, 0, sizeof(*p));
}

/* Frees everything c holds. */
static void catalog_free(catalog_t *c)
{
    size_t i;

    for (i = 0; i < c->npkgs; i++) {
        pkg_free(&c->pkgs[i]);
    }
    free(c->pkgs);
    for (i = 0; i < c->ntrans; i++) {
        free(c->trans[i].pkg);
        free(c->trans[i].md5);
        free(c->trans[i].text);
    }
    free(c->trans);
    memset(c, 0, sizeof(*c));
}

/*
 * Returns a malloc'd copy of a field value with RFC-822 folding undone: every line break and
 * the blanks that follow it become one space. NULL in gives NULL out.
 */
static char *unfold(const char *v)
{
    char *out;
    char *o;

    if (v == NULL) {
        return NULL;
    }
    out = malloc(strlen(v) + 1);
    if (out == NULL) {
        return NULL;
    }
    o = out;
    while (*v != '\0') {
        if (*v == '\n') {
            while (*v == '\n' || *v == ' ' || *v == '\t') {
                v++;
            }
            *o++ = ' ';
            continue;
        }
        *o++ = *v++;
    }
    *o = '\0';
    return out;
}

/* Parses a decimal integer field; a missing or malformed value gives 0. */
static long long parse_int(const char *v)
{
    char *end;
    long long n;

    if (v == NULL) {
        return 0;
    }
    errno = 0;
    n = strtoll(v, &end, 10);
    if (errno != 0 || end == v || n < 0) {
        return 0;
    }
    return n;
}

/*
 * Sets *dst to a malloc'd copy of field name of s (unfolded when fold is set), or NULL when
 * the field is absent. Returns 0, or -1 when out of memory.
 */
static int copy_field(char **dst, const stanza_t *s, const char *name, int fold)
{
    const char *v = stanza_get(s, name);

    *dst = fold ? unfold(v) : dup_s(v);
    return v != NULL && *dst == NULL ? -1 : 0;
}

/* Adds the Packages stanza s to c. Returns 0 (also when s is skipped), -1 when out of memory. */
static int add_package(catalog_t *c, const stanza_t *s)
{
    const char *name = stanza_get(s, "Package");
    pkg_t p;

    c->stanzas++;
    if (name == NULL || name[0] == '\0') {
        c->bad_stanzas++;
        return 0;
    }
    memset(&p, 0, sizeof(p));
    p.installed_kb = parse_int(stanza_get(s, "Installed-Size"));
    p.size_b = parse_int(stanza_get(s, "Size"));
    p.seq = c->npkgs;
    if (copy_field(&p.id, s, "Package", 1) < 0 || copy_field(&p.version, s, "Version", 1) < 0 ||
        copy_field(&p.desc, s, stanza_get(s, "Description") ? "Description" : "Description-en", 0) <
            0 ||
        copy_field(&p.md5, s, "Description-md5", 1) < 0 ||
        copy_field(&p.section, s, "Section", 1) < 0 || copy_field(&p.tags, s, "Tag", 0) < 0 ||
        copy_field(&p.maintainer, s, "Maintainer", 1) < 0 ||
        copy_field(&p.homepage, s, "Homepage", 1) < 0 ||
        copy_field(&p.depends, s, "Depends", 1) < 0 || copy_field(&p.source, s, "Source", 1) < 0) {
        goto oom;
    }
    if (c->npkgs == c->pkgs_cap) {
        size_t cap = c->pkgs_cap ? c->pkgs_cap * 2 : 4096;
        pkg_t *np = realloc(c->pkgs, cap * sizeof(*np));

        if (np == NULL) {
            goto oom;
        }
        c->pkgs = np;
        c->pkgs_cap = cap;
    }
    c->pkgs[c->npkgs++] = p;
    return 0;
oom:
    pkg_free(&p);
    fprintf(stderr, PROG ": out of memory\n");
    return -1;
}

/* Adds the Translation stanza s to c. Returns 0 (also when s is skipped), -1 when out of memory. */
static int add_translation(catalog_t *c, const stanza_t *s)
{
    const char *name = stanza_get(s, "Package");
    const char *md5 = stanza_get(s, "Description-md5");
    const char *text = stanza_get(s, "Description-en");
    trans_t t;

    c->stanzas++;
    if (name == NULL || md5 == NULL || text == NULL) {
        c->bad_stanzas++;
        return 0;
    }
    t.pkg = dup_s(name);
    t.md5 = dup_s(md5);
    t.text = dup_s(text);
    if (t.pkg == NULL || t.md5 == NULL || t.text == NULL) {
        goto oom;
    }
    if (c->ntrans == c->trans_cap) {
        size_t cap = c->trans_cap ? c->trans_cap * 2 : 4096;
        trans_t *nt = realloc(c->trans, cap * sizeof(*nt));

        if (nt == NULL) {
            goto oom;
        }
        c->trans = nt;
        c->trans_cap = cap;
    }
    c->trans[c->ntrans++] = t;
    return 0;
oom:
    free(t.pkg);
    free(t.md5);
    free(t.text);
    fprintf(stderr, PROG ": out of memory\n");
    return -1;
}

/* ------------------------------------------------------------------------------------------ */
/* Version comparison.                                                                        */

/*
 * dpkg's character weight: '~' sorts before the end of the string, which sorts before
 * digits, then letters, then every other character.
 */
static int ver_order(int ch)
{
    if (ch >= '0' && ch <= '9') {
        return 0;
    }
    if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')) {
        return ch;
    }
    if (ch == '~') {
        return -1;
    }
    if (ch != 0) {
        return ch + 256;
    }
    return 0;
}

/* Character at p, or 0 at end (end is one past the last byte). */
static int ver_at(const char *p, const char *end)
{
    return p < end ? (unsigned char)*p : 0;
}

/* Whether the character at p is a digit (0 at end is not). */
static int ver_digit(const char *p, const char *end)
{
    return p < end && *p >= '0' && *p <= '9';
}

/* dpkg's verrevcmp over the byte ranges [a, ae) and [b, be): <0, 0 or >0. */
static int ver_part_cmp(const char *a, const char *ae, const char *b, const char *be)
{
    while (a < ae || b < be) {
        int first_diff = 0;

        while ((a < ae && !ver_digit(a, ae)) || (b < be && !ver_digit(b, be))) {
            int ac = ver_order(ver_at(a, ae));
            int bc = ver_order(ver_at(b, be));

            if (ac != bc) {
                return ac - bc;
            }
            a++;
            b++;
        }
        while (a < ae && *a == '0') {
            a++;
        }
        while (b < be && *b == '0') {
            b++;
        }
        while (ver_digit(a, ae) && ver_digit(b, be)) {
            if (first_diff == 0) {
                first_diff = *a - *b;
            }
            a++;
            b++;
        }
        if (ver_digit(a, ae)) {
            return 1;
        }
        if (ver_digit(b, be)) {
            return -1;
        }
        if (first_diff != 0) {
            return first_diff;
        }
    }
    return 0;
}

/* Splits version v into epoch, upstream [*u, *ue) and revision [*r, *re). */
static unsigned long ver_split(const char *v, const char **u, const char **ue, const char **r,
                               const char **re)
{
    const char *colon = strchr(v, ':');
    const char *end = v + strlen(v);
    const char *dash;
    unsigned long epoch = 0;

    if (colon != NULL) {
        epoch = strtoul(v, NULL, 10);
        v = colon + 1;
    }
    dash = strrchr(v, '-');
    *u = v;
    if (dash != NULL) {
        *ue = dash;
        *r = dash + 1;
        *re = end;
    } else {
        *ue = end;
        *r = end;
        *re = end;
    }
    return epoch;
}

/*
 * Compares two Debian versions the way dpkg does: epoch numerically, then upstream version,
 * then Debian revision, each with dpkg's verrevcmp ('~' sorts before anything, even the end;
 * letters before other symbols; digit runs numerically). Simplifications: versions are not
 * validated (dpkg would reject some of them), the epoch is whatever strtoul reads before the
 * first ':' (no overflow check), and a missing Version compares as "". Returns <0, 0 or >0.
 */
static int version_cmp(const char *a, const char *b)
{
    const char *au, *aue, *ar, *are, *bu, *bue, *br, *bre;
    unsigned long ea = ver_split(a ? a : "", &au, &aue, &ar, &are);
    unsigned long eb = ver_split(b ? b : "", &bu, &bue, &br, &bre);
    int rc;

    if (ea != eb) {
        return ea < eb ? -1 : 1;
    }
    rc = ver_part_cmp(au, aue, bu, bue);
    if (rc != 0) {
        return rc;
    }
    return ver_part_cmp(ar, are, br, bre);
}

/* qsort order for packages: name, then highest version first, then reading order. */
static int pkg_cmp(const void *x, const void *y)
{
    const pkg_t *a = x;
    const pkg_t *b = y;
    int rc = strcmp(a->id, b->id);

    if (rc != 0) {
        return rc;
    }
    rc = version_cmp(b->version, a->version);
    if (rc != 0) {
        return rc;
    }
    return a->seq < b->seq ? -1 : (a->seq > b->seq ? 1 : 0);
}

/* qsort/bsearch order for translations: package name, then Description-md5. */
static int trans_cmp(const void *x, const void *y)
{
    const trans_t *a = x;
    const trans_t *b = y;
    int rc = strcmp(a->pkg, b->pkg);

    return rc != 0 ? rc : strcmp(a->md5, b->md5);
}

/* ------------------------------------------------------------------------------------------ */
/* Output.                                                                                    */

/*
 * Returns the length of the valid UTF-8 sequence starting at s (1 to 4), or 0 when it is
 * invalid; *bad is then the length of its maximal invalid subpart (at least 1).
 */
static size_t utf8_seq(const unsigned char *s, size_t *bad)
{
    unsigned char c = s[0];
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    size_t need;
    size_t i;

    if (c < 0x80) {
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;
    } else {
        *bad = 1;
        return 0;
    }
    for (i = 1; i <= need; i++) {
        unsigned char lo_i = i == 1 ? lo : 0x80;
        unsigned char hi_i = i == 1 ? hi : 0xBF;

        if (s[i] < lo_i || s[i] > hi_i) {
            *bad = i;
            return 0;
        }
    }
    return need + 1;
}

/*
 * Returns s (NULL counts as "") if it is valid UTF-8, else a copy in *tmp with each maximal
 * invalid subsequence replaced by U+FFFD. Returns NULL when out of memory. The caller frees
 * tmp->data.
 */
static const char *clean_utf8(catalog_t *c, const char *s, buf_t *tmp)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    const unsigned char *q;
    size_t bad;

    for (q = p; *q != '\0';) {
        size_t n = utf8_seq(q, &bad);

        if (n == 0) {
            break;
        }
        q += n;
    }
    if (*q == '\0') {
        return (const char *)p;
    }
    c->repaired_strings++;
    buf_reset(tmp);
    if (buf_append(tmp, (const char *)p, (size_t)(q - p)) < 0) {
        return NULL;
    }
    while (*q != '\0') {
        size_t n = utf8_seq(q, &bad);

        if (n == 0) {
            if (buf_append(tmp, "\xEF\xBF\xBD", 3) < 0) {
                return NULL;
            }
            q += bad;
            continue;
        }
        if (buf_append(tmp, (const char *)q, n) < 0) {
            return NULL;
        }
        q += n;
    }
    return tmp->data;
}

/* Returns a new cJSON string holding s made valid UTF-8, or NULL when out of memory. */
static cJSON *make_string(catalog_t *c, const char *s)
{
    buf_t tmp = {NULL, 0, 0};
    const char *v = clean_utf8(c, s, &tmp);
    cJSON *item = v ? cJSON_CreateString(v) : NULL;

    free(tmp.data);
    return item;
}

/* Adds string s (NULL counts as "") under key to obj. Returns 0, or -1 when out of memory. */
static int add_string(catalog_t *c, cJSON *obj, const char *key, const char *s)
{
    cJSON *item = make_string(c, s);

    if (item == NULL) {
        return -1;
    }
    cJSON_AddItemToObject(obj, key, item);
    return 0;
}

/* Whether ch is an ASCII white-space character (as isspace in the C locale). */
static int is_blank(int ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

/*
 * Splits a full description text (short line, then raw continuation lines) into *title and
 * *desc, both malloc'd. The long part is rendered the way the reference catalog is:
 * - each continuation line loses its first character (the folding blank);
 * - a line that is only "." once blanks around it are trimmed (" .", "  .") is an empty line,
 *   i.e. a paragraph break;
 * - lines are joined with "\n";
 * - white space at the very start and end of the whole long description is removed, so
 *   leading or trailing paragraph breaks disappear (this also drops the indentation of an
 *   indented first line).
 * The title is the first line, trimmed. Returns 0, or -1 when out of memory.
 */
static int render_description(const char *text, char **title, char **desc)
{
    const char *nl;
    const char *line;
    buf_t b = {NULL, 0, 0};
    size_t skip;
    size_t tn;

    *title = NULL;
    *desc = NULL;
    if (text == NULL) {
        text = "";
    }
    nl = strchr(text, '\n');
    while (is_blank((unsigned char)*text) && text != nl) {
        text++;
    }
    tn = nl ? (size_t)(nl - text) : strlen(text);
    while (tn > 0 && is_blank((unsigned char)text[tn - 1])) {
        tn--;
    }
    *title = dup_n(text, tn);
    if (*title == NULL || buf_append(&b, "", 0) < 0) {
        goto fail;
    }
    for (line = nl; line != NULL;) {
        const char *start = line + 1;
        const char *end = strchr(start, '\n');
        size_t n = end ? (size_t)(end - start) : strlen(start);
        size_t i = 0;
        size_t j = n;

        if (n > 0) {
            start++;
            n--;
            j--;
        }
        while (i < j && is_blank((unsigned char)start[i])) {
            i++;
        }
        while (j > i && is_blank((unsigned char)start[j - 1])) {
            j--;
        }
        if (j - i == 1 && start[i] == '.') {
            n = 0;
        }
        if ((line != nl && buf_append(&b, "\n", 1) < 0) || buf_append(&b, start, n) < 0) {
            goto fail;
        }
        line = end;
    }
    while (b.len > 0 && is_blank((unsigned char)b.data[b.len - 1])) {
        b.data[--b.len] = '\0';
    }
    for (skip = 0; skip < b.len && is_blank((unsigned char)b.data[skip]); skip++) {
    }
    if (skip > 0) {
        memmove(b.data, b.data + skip, b.len - skip + 1);
        b.len -= skip;
    }
    *desc = b.data;
    return 0;
fail:
    free(*title);
    *title = NULL;
    free(b.data);
    return -1;
}

/*
 * Adds the Tag field value tags to obj as an array of the tags found between commas and line
 * breaks, trimmed, empty ones dropped. Returns 0, or -1 when out of memory.
 */
static int add_tags(catalog_t *c, cJSON *obj, const char *tags)
{
    cJSON *arr = cJSON_AddArrayToObject(obj, "tags");
    const char *p = tags ? tags : "";
    char *tag = NULL;
    int rc = -1;

    if (arr == NULL) {
        goto out;
    }
    while (*p != '\0') {
        size_t n = strcspn(p, ",\n");
        const char *s = p;
        const char *e = p + n;

        while (s < e && (*s == ' ' || *s == '\t')) {
            s++;
        }
        while (e > s && (e[-1] == ' ' || e[-1] == '\t')) {
            e--;
        }
        if (e > s) {
            cJSON *item;

            tag = dup_n(s, (size_t)(e - s));
            item = tag ? make_string(c, tag) : NULL;
            if (item == NULL) {
                goto out;
            }
            cJSON_AddItemToArray(arr, item);
            free(tag);
            tag = NULL;
        }
        p += n;
        if (*p != '\0') {
            p++;
        }
    }
    rc = 0;
out:
    free(tag);
    return rc;
}

/* Returns the Section value without an archive-area prefix such as "contrib/". */
static const char *strip_area(const char *section)
{
    const char *slash;

    if (section == NULL) {
        return "";
    }
    slash = strrchr(section, '/');
    return slash ? slash + 1 : section;
}

enum { HAS_TITLE = 1, HAS_DESCRIPTION = 2 };

/*
 * Writes p as one JSON line to out, taking its text from the translation table when the
 * Packages entry lacks the long description, and its tags from the Tag field value tags.
 * *flags gets HAS_TITLE and HAS_DESCRIPTION for a non-empty title and long description.
 * Returns 0, or -1 on a write error or out of memory.
 */
static int write_record(catalog_t *c, const pkg_t *p, const char *tags, FILE *out, int *flags)
{
    const char *text = p->desc;
    char *title = NULL;
    char *desc = NULL;
    char *source = NULL;
    char *json = NULL;
    cJSON *obj = NULL;
    int rc = -1;

    if ((text == NULL || strchr(text, '\n') == NULL) && p->md5 != NULL && c->ntrans > 0) {
        trans_t key = {p->id, p->md5, NULL};
        const trans_t *t = bsearch(&key, c->trans, c->ntrans, sizeof(*c->trans), trans_cmp);

        if (t != NULL) {
            text = t->text;
        }
    }
    if (render_description(text, &title, &desc) < 0) {
        goto oom;
    }
    *flags = (title[0] != '\0' ? HAS_TITLE : 0) | (desc[0] != '\0' ? HAS_DESCRIPTION : 0);
    if (p->source != NULL && p->source[0] != '\0') {
        source = dup_n(p->source, strcspn(p->source, " ("));
    } else {
        source = dup_s(p->id);
    }
    obj = cJSON_CreateObject();
    if (source == NULL || obj == NULL || add_string(c, obj, "id", p->id) < 0 ||
        add_string(c, obj, "title", title) < 0 || add_string(c, obj, "description", desc) < 0 ||
        add_string(c, obj, "section", strip_area(p->section)) < 0 || add_tags(c, obj, tags) < 0 ||
        add_string(c, obj, "version", p->version) < 0 ||
        cJSON_AddNumberToObject(obj, "installed_size_kb", (double)p->installed_kb) == NULL ||
        cJSON_AddNumberToObject(obj, "download_size_b", (double)p->size_b) == NULL ||
        add_string(c, obj, "maintainer", p->maintainer) < 0 ||
        add_string(c, obj, "homepage", p->homepage) < 0 ||
        add_string(c, obj, "depends", p->depends) < 0 || add_string(c, obj, "source", source) < 0) {
        goto oom;
    }
    json = cJSON_PrintUnformatted(obj);
    if (json == NULL) {
        goto oom;
    }
    if (fputs(json, out) == EOF || putc('\n', out) == EOF) {
        fprintf(stderr, PROG ": write error: %s\n", strerror(errno));
        goto out;
    }
    rc = 0;
    goto out;
oom:
    fprintf(stderr, PROG ": out of memory\n");
out:
    cJSON_free(json);
    cJSON_Delete(obj);
    free(title);
    free(desc);
    free(source);
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* List discovery.                                                                            */

enum { KIND_PACKAGES, KIND_TRANSLATION };

typedef struct {
    char *name;       /* file name inside the lists directory */
    size_t baselen;   /* length of the name without its compression suffix */
    int kind;         /* KIND_PACKAGES or KIND_TRANSLATION */
    int rank;         /* preference among variants of one list: plain 0, then compressed */
    const char *prog; /* decompressor, or NULL */
} list_t;

static const struct {
    const char *ext;
    const char *prog;
} compressors[] = {
    {"", NULL}, {".lz4", "lz4"}, {".zst", "zstd"}, {".gz", "gzip"}, {".xz", "xz"},
};

/*
 * Classifies directory entry name. Returns 1 and fills *l (name not yet copied) for a list
 * this program reads, 0 for an unrelated file, -1 for a list variant it cannot read.
 */
static int classify(const char *name, list_t *l)
{
    static const char *const suffixes[] = {"_Packages", "_i18n_Translation-en"};
    size_t k;
    size_t i;

    for (k = 0; k < 2; k++) {
        const char *hit = strstr(name, suffixes[k]);
        const char *ext;

        /* the suffix must be the last occurrence and followed by nothing or ".ext" */
        while (hit != NULL) {
            const char *next = strstr(hit + 1, suffixes[k]);

            if (next == NULL) {
                break;
            }
            hit = next;
        }
        if (hit == NULL) {
            continue;
        }
        ext = hit + strlen(suffixes[k]);
        if (ext[0] != '\0' && ext[0] != '.') {
            continue;
        }
        for (i = 0; i < sizeof(compressors) / sizeof(compressors[0]); i++) {
            if (strcmp(ext, compressors[i].ext) == 0) {
                l->baselen = (size_t)(ext - name);
                l->kind = (int)k;
                l->rank = (int)i;
                l->prog = compressors[i].prog;
                return 1;
            }
        }
        return -1;
    }
    return 0;
}

/* qsort order for lists: base name, then preferred variant first. */
static int list_cmp(const void *x, const void *y)
{
    const list_t *a = x;
    const list_t *b = y;
    size_t n = a->baselen < b->baselen ? a->baselen : b->baselen;
    int rc = memcmp(a->name, b->name, n);

    if (rc != 0) {
        return rc;
    }
    if (a->baselen != b->baselen) {
        return a->baselen < b->baselen ? -1 : 1;
    }
    return a->rank - b->rank;
}

/* Whether a and b are variants (plain or compressed) of the same list. */
static int same_list(const list_t *a, const list_t *b)
{
    return a->baselen == b->baselen && memcmp(a->name, b->name, a->baselen) == 0;
}

/*
 * Collects the readable lists of directory dir into a sorted, malloc'd array (*out, *count),
 * one entry per list (plain variant preferred). Returns 0, or -1 after printing why.
 */
static int find_lists(catalog_t *c, const char *dir, list_t **out, size_t *count)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    list_t *lists = NULL;
    size_t n = 0;
    size_t cap = 0;
    size_t i;
    size_t kept;
    int rc = -1;

    *out = NULL;
    *count = 0;
    if (d == NULL) {
        fprintf(stderr, PROG ": %s: %s\n", dir, strerror(errno));
        goto out;
    }
    while ((e = readdir(d)) != NULL) {
        list_t l;
        int kind = classify(e->d_name, &l);

        if (kind < 0) {
            fprintf(stderr, PROG ": warning: %s/%s: unsupported compression, skipped\n", dir,
                    e->d_name);
            c->skipped_files++;
        }
        if (kind <= 0) {
            continue;
        }
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            list_t *nl = realloc(lists, ncap * sizeof(*nl));

            if (nl == NULL) {
                goto oom;
            }
            lists = nl;
            cap = ncap;
        }
        l.name = dup_s(e->d_name);
        if (l.name == NULL) {
            goto oom;
        }
        lists[n++] = l;
    }
    if (n > 0) {
        qsort(lists, n, sizeof(*lists), list_cmp);
    }
    for (i = 0, kept = 0; i < n; i++) {
        if (kept > 0 && same_list(&lists[i], &lists[kept - 1])) {
            fprintf(stderr, PROG ": note: %s/%s: another variant of this list is read instead\n",
                    dir, lists[i].name);
            free(lists[i].name);
            continue;
        }
        lists[kept++] = lists[i];
    }
    *out = lists;
    *count = kept;
    lists = NULL;
    rc = 0;
    goto out;
oom:
    fprintf(stderr, PROG ": out of memory\n");
    for (i = 0; i < n; i++) {
        free(lists[i].name);
    }
out:
    free(lists);
    if (d != NULL) {
        closedir(d);
    }
    return rc;
}

/*
 * Reads list l of directory dir into c. Returns 0 (also when the list is skipped because its
 * decompressor is missing), -1 on error.
 */
static int read_list(catalog_t *c, const char *dir, const list_t *l, stanza_t *s)
{
    reader_t r;
    /* "./" keeps a directory named "-x" from being read as an option by the decompressor */
    const char *pre = dir[0] == '-' ? "./" : "";
    char *path = malloc(strlen(pre) + strlen(dir) + strlen(l->name) + 2);
    int opened = 0;
    int got;
    int status;
    int rc = -1;

    if (path == NULL) {
        fprintf(stderr, PROG ": out of memory\n");
        goto out;
    }
    sprintf(path, "%s%s/%s", pre, dir, l->name);
    if (reader_open(&r, path, l->prog) < 0) {
        goto out;
    }
    opened = 1;
    while ((got = read_stanza(&r, s)) > 0) {
        int added = l->kind == KIND_PACKAGES ? add_package(c, s) : add_translation(c, s);

        if (added < 0) {
            goto out;
        }
    }
    status = reader_close(&r);
    opened = 0;
    if (got < 0) {
        goto out;
    }
    if (status == 127) {
        fprintf(stderr, PROG ": warning: %s: decompressor %s not found, skipped\n", path, l->prog);
        c->skipped_files++;
        rc = 0;
        goto out;
    }
    if (status != 0) {
        fprintf(stderr, PROG ": %s: %s failed (status %d)\n", path, l->prog, status);
        goto out;
    }
    if (l->kind == KIND_PACKAGES) {
        c->packages_files++;
    } else {
        c->translation_files++;
    }
    rc = 0;
out:
    if (opened) {
        reader_close(&r);
    }
    free(path);
    return rc;
}

/* Prints the usage text to f. */
static void usage(FILE *f)
{
    fprintf(f, "usage: " PROG " [--lists DIR] [--out FILE]\n"
               "  --lists DIR  apt lists directory (default " DEFAULT_LISTS ")\n"
               "  --out FILE   NDJSON output (default: standard output)\n");
}

/*
 * Entry point. Contract: parses the command line described in the file comment, reads the
 * lists, writes the catalog to --out (created or truncated) or standard output, prints a
 * summary to standard error. Returns 0 on success, 1 on error, 2 on bad usage. On error the
 * output may be incomplete.
 */
int main(int argc, char **argv)
{
    const char *dir = DEFAULT_LISTS;
    const char *out_path = NULL;
    catalog_t c;
    stanza_t s;
    list_t *lists = NULL;
    size_t nlists = 0;
    size_t i;
    FILE *out = stdout;
    unsigned long written = 0;
    unsigned long described = 0;
    unsigned long untitled = 0;
    int rc = 1;

    memset(&c, 0, sizeof(c));
    memset(&s, 0, sizeof(s));
    for (i = 1; i < (size_t)argc; i++) {
        if (strcmp(argv[i], "--lists") == 0 && i + 1 < (size_t)argc) {
            dir = argv[++i];
        } else if (strcmp(argv[i], "--out") == 0 && i + 1 < (size_t)argc) {
            out_path = argv[++i];
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (find_lists(&c, dir, &lists, &nlists) < 0) {
        goto out;
    }
    if (nlists == 0) {
        fprintf(stderr, PROG ": warning: %s: no *_Packages lists found (run apt-get update)\n",
                dir);
    }
    for (i = 0; i < nlists; i++) {
        if (read_list(&c, dir, &lists[i], &s) < 0) {
            goto out;
        }
    }
    if (c.ntrans > 0) {
        qsort(c.trans, c.ntrans, sizeof(*c.trans), trans_cmp);
    }
    if (c.npkgs > 0) {
        qsort(c.pkgs, c.npkgs, sizeof(*c.pkgs), pkg_cmp);
    }
    if (out_path != NULL) {
        out = fopen(out_path, "w");
        if (out == NULL) {
            fprintf(stderr, PROG ": %s: %s\n", out_path, strerror(errno));
            out = stdout;
            goto out;
        }
    }
    for (i = 0; i < c.npkgs; i++) {
        const char *tags = c.pkgs[i].tags;
        size_t j;
        int flags = 0;

        if (i > 0 && strcmp(c.pkgs[i].id, c.pkgs[i - 1].id) == 0) {
            continue;
        }
        /*
         * Debtags (Tag) describe a package, not a version, and only the main suite's lists
         * carry them: a winner from -updates or -security borrows them from the highest
         * other entry of the same name that has them.
         */
        for (j = i + 1; tags == NULL && j < c.npkgs && strcmp(c.pkgs[j].id, c.pkgs[i].id) == 0;
             j++) {
            tags = c.pkgs[j].tags;
        }
        if (write_record(&c, &c.pkgs[i], tags, out, &flags) < 0) {
            goto out;
        }
        written++;
        described += (flags & HAS_DESCRIPTION) ? 1 : 0;
        untitled += (flags & HAS_TITLE) ? 0 : 1;
    }
    if (fflush(out) == EOF || ferror(out)) {
        fprintf(stderr, PROG ": write error: %s\n", strerror(errno));
        goto out;
    }
    fprintf(stderr,
            PROG ": %lu files read (%lu Packages, %lu Translation-en), %lu skipped; "
                 "%lu stanzas (%lu malformed); %lu package entries, %lu translations; "
                 "%lu packages written, %lu with a long description, %lu without any; "
                 "%lu strings with invalid UTF-8 repaired\n",
            c.packages_files + c.translation_files, c.packages_files, c.translation_files,
            c.skipped_files, c.stanzas, c.bad_stanzas, (unsigned long)c.npkgs,
            (unsigned long)c.ntrans, written, described, untitled, c.repaired_strings);
    rc = 0;
out:
    if (out != stdout && fclose(out) == EOF && rc == 0) {
        fprintf(stderr, PROG ": %s: %s\n", out_path, strerror(errno));
        rc = 1;
    }
    for (i = 0; i < nlists; i++) {
        free(lists[i].name);
    }
    free(lists);
    stanza_free(&s);
    catalog_free(&c);
    return rc;
}
