/* behavior.c (test kit): the Groceries and MovieLens readers of behavior.h, and the event and
 * catalog streams made from them. The files are read whole into memory (2.2 MB at most), parsed
 * into records, then written: two passes, so that end_ms can move the times by what the
 * records' latest is. */
#include "behavior.h"

#include "check.h"
#include "souk/buf.h"
#include "souk/souk.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS 86400000LL

const char *behavior_name(behavior_set set)
{
    switch (set) {
    case BEHAVIOR_GROCERIES:
        return "groceries";
    case BEHAVIOR_MOVIELENS:
        return "movielens";
    }
    return NULL;
}

const char *behavior_path(behavior_set set, const char *file)
{
    static char buf[4096];
    if (set == BEHAVIOR_GROCERIES) {
        const char *base = getenv("SOUK_SHARED_DATA");
        if (!base || !base[0])
            base = SOUK_SOURCE_DIR "/../shared/data";
        snprintf(buf, sizeof buf, "%s/behavior/groceries/Groceries_dataset.csv", base);
    } else {
        const char *dir = getenv("SOUK_MOVIELENS_DIR");
        if (!dir || !dir[0])
            dir = SOUK_SOURCE_DIR "/data/test-data/movielens";
        snprintf(buf, sizeof buf, "%s/%s", dir, file ? file : "ratings.tsv");
    }
    return buf;
}

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

int behavior_present(behavior_set set, char *msg, size_t msglen)
{
    if (set == BEHAVIOR_GROCERIES) {
        if (access(behavior_path(set, NULL), R_OK) == 0)
            return 1;
        seterr(msg, msglen,
               "the Groceries data is absent (../shared/data/behavior/groceries/"
               "Groceries_dataset.csv, or $SOUK_SHARED_DATA)");
        return 0;
    }
    if (access(behavior_path(set, "ratings.tsv"), R_OK) == 0 &&
        access(behavior_path(set, "movies.tsv"), R_OK) == 0)
        return 1;
    seterr(msg, msglen,
           "MovieLens is absent (data/test-data/movielens/{ratings,movies}.tsv: run "
           "scripts/test-data.sh as root, which installs r-base-core r-cran-dslabs and extracts "
           "it)");
    return 0;
}

int behavior_skip(behavior_set set, const char *test)
{
    char why[512];
    if (behavior_present(set, why, sizeof why))
        return 0;
    fprintf(stderr, "%s: SKIP: %s\n", test, why);
    return TEST_SKIP;
}

/* ------------------------------------------------------------------ small helpers */

/* The whole file, NUL-terminated. */
static char *slurp(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        seterr(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 0, n = 0;
    char *b = NULL;
    for (;;) {
        if (souk_grow_first((void **)&b, &cap, n + 2, 1, SIZE_MAX, 1 << 20)) {
            free(b);
            b = NULL;
            break;
        }
        size_t r = fread(b + n, 1, cap - 1 - n, f);
        n += r;
        if (r == 0)
            break;
    }
    int bad = b && ferror(f);
    fclose(f);
    if (!b) {
        seterr(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    if (bad) {
        seterr(err, errlen, "%s: read error", path);
        free(b);
        return NULL;
    }
    b[n] = 0;
    *len = n;
    return b;
}

/* Splits the next line off *p (in place): returns it without its CR/LF and trailing blanks, or
 * NULL at the end. */
static char *next_line(char **p)
{
    char *s = *p;
    if (!*s)
        return NULL;
    char *e = strchr(s, '\n');
    if (e) {
        *e = 0;
        *p = e + 1;
    } else {
        *p = s + strlen(s);
    }
    size_t l = strlen(s);
    while (l && (s[l - 1] == '\r' || s[l - 1] == ' '))
        s[--l] = 0;
    return s;
}

/* Days since 1970-01-01 of a civil date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int)(yy + (*m <= 2));
}

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* "yyyy-mm-dd" of ms's UTC day. */
static void day_str(int64_t ms, char out[16])
{
    int y;
    unsigned m, d;
    civil_from_days(floor_div(ms, DAY_MS), &y, &m, &d);
    snprintf(out, 16, "%04d-%02u-%02u", y, m, d);
}

/* RFC 3339 in UTC, whole seconds. */
static void ts_str(int64_t ms, char out[32])
{
    int64_t s = floor_div(ms, 1000);
    int64_t day = floor_div(s, 86400), sod = s - day * 86400;
    int y;
    unsigned m, d;
    civil_from_days(day, &y, &m, &d);
    snprintf(out, 32, "%04d-%02u-%02uT%02d:%02d:%02dZ", y, m, d, (int)(sod / 3600),
             (int)(sod / 60 % 60), (int)(sod % 60));
}

/* A JSON string (with its quotes). */
static void put_json_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(out, "\\u%04x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

/* The slug of behavior.h, into out (cap bytes). */
static void slug(const char *s, char *out, size_t cap)
{
    size_t n = 0;
    int dash = 0;
    for (; *s && n + 2 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) && c < 0x80) {
            if (dash && n)
                out[n++] = '-';
            dash = 0;
            out[n++] = (char)tolower(c);
        } else {
            dash = 1;
        }
    }
    out[n] = 0;
}

/* A set of 64-bit keys with a count each (open addressing; key 0 is stored apart). */
typedef struct u64map {
    uint64_t *keys;
    size_t *vals;
    size_t cap, n;
    size_t zero; /* count of key 0 (+1 when present) */
} u64map;

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

static int map_add(u64map *m, uint64_t k, size_t by)
{
    if (k == 0) {
        if (!m->zero)
            m->n++;
        m->zero += by + (m->zero == 0);
        return 0;
    }
    if ((m->n + 1) * 2 > m->cap) {
        size_t nc = m->cap ? m->cap * 2 : 1024;
        uint64_t *nk = calloc(nc, sizeof *nk);
        size_t *nv = calloc(nc, sizeof *nv);
        if (!nk || !nv) {
            free(nk);
            free(nv);
            return SOUK_ENOMEM;
        }
        for (size_t i = 0; i < m->cap; i++)
            if (m->keys[i]) {
                size_t j = mix64(m->keys[i]) & (nc - 1);
                while (nk[j])
                    j = (j + 1) & (nc - 1);
                nk[j] = m->keys[i];
                nv[j] = m->vals[i];
            }
        free(m->keys);
        free(m->vals);
        m->keys = nk;
        m->vals = nv;
        m->cap = nc;
    }
    size_t j = mix64(k) & (m->cap - 1);
    while (m->keys[j] && m->keys[j] != k)
        j = (j + 1) & (m->cap - 1);
    if (!m->keys[j]) {
        m->keys[j] = k;
        m->n++;
    }
    m->vals[j] += by;
    return 0;
}

static void map_free(u64map *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

/* ------------------------------------------------------------------ records */

typedef struct brec {
    uint32_t user; /* member or userId */
    uint32_t item; /* MovieLens: movieId; Groceries: index into the item names */
    int64_t ts_ms; /* Groceries: the purchase's time; MovieLens: the rating's */
    int purchase;  /* MovieLens: rating >= 4 */
} brec;

typedef struct bdata {
    brec *r;
    size_t n, cap;
    char (*names)[64]; /* Groceries: the slugs */
    size_t nnames;
} bdata;

static int push(bdata *d, const brec *r)
{
    if (souk_grow((void **)&d->r, &d->cap, d->n + 1, sizeof *d->r, SIZE_MAX))
        return SOUK_ENOMEM;
    d->r[d->n++] = *r;
    return 0;
}

static int parse_u32(const char *s, uint32_t *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (end == s || *end || errno || v > UINT32_MAX || !isdigit((unsigned char)*s))
        return -1;
    *out = (uint32_t)v;
    return 0;
}

static int want_user(const behavior_opts *o, uint32_t user)
{
    if (!o || !o->only_user)
        return 1;
    char b[16];
    snprintf(b, sizeof b, "%" PRIu32, user);
    return strcmp(b, o->only_user) == 0;
}

static int load_groceries(const behavior_opts *o, bdata *d, char *err, size_t errlen)
{
    const char *path = behavior_path(BEHAVIOR_GROCERIES, NULL);
    size_t len;
    char *text = slurp(path, &len, err, errlen);
    if (!text)
        return SOUK_EIO;
    int rc = 0;
    char *p = text, *line;
    size_t lineno = 0;
    while ((line = next_line(&p)) != NULL) {
        lineno++;
        if (lineno == 1) {
            if (strcmp(line, "transaction_number,date,items") != 0) {
                seterr(err, errlen, "%s:1: unexpected header", path);
                rc = SOUK_EINVAL;
                break;
            }
            continue;
        }
        if (!line[0])
            continue;
        char *c1 = strchr(line, ','), *c2 = c1 ? strchr(c1 + 1, ',') : NULL;
        unsigned dd, mm, yy;
        int used = 0;
        brec r = {0};
        if (!c2 || (*c1 = 0, parse_u32(line, &r.user)) != 0 ||
            sscanf(c1 + 1, "%2u-%2u-%4u%n", &dd, &mm, &yy, &used) != 3 || c1 + 1 + used != c2 ||
            dd < 1 || dd > 31 || mm < 1 || mm > 12 || !c2[1]) {
            seterr(err, errlen, "%s:%zu: not \"member,dd-mm-yyyy,item\"", path, lineno);
            rc = SOUK_EINVAL;
            break;
        }
        if (!want_user(o, r.user))
            continue;
        if (o && o->max_records && d->n >= o->max_records)
            break;
        char s[64];
        slug(c2 + 1, s, sizeof s);
        if (!s[0]) {
            seterr(err, errlen, "%s:%zu: an item with no letter or digit", path, lineno);
            rc = SOUK_EINVAL;
            break;
        }
        size_t k = 0;
        while (k < d->nnames && strcmp(d->names[k], s) != 0)
            k++;
        if (k == d->nnames) {
            char(*nn)[64] = realloc(d->names, (d->nnames + 1) * sizeof *nn);
            if (!nn) {
                rc = SOUK_ENOMEM;
                break;
            }
            d->names = nn;
            memcpy(d->names[d->nnames++], s, sizeof s);
        }
        r.item = (uint32_t)k;
        size_t data_line = lineno - 1;
        r.ts_ms =
            (days_from_civil(yy, mm, dd) * 86400 + 12 * 3600 + (int64_t)(data_line % 43200)) * 1000;
        r.purchase = 1;
        if ((rc = push(d, &r)) != 0)
            break;
    }
    free(text);
    return rc;
}

static int load_movielens(const behavior_opts *o, bdata *d, char *err, size_t errlen)
{
    const char *path = behavior_path(BEHAVIOR_MOVIELENS, "ratings.tsv");
    size_t len;
    char *text = slurp(path, &len, err, errlen);
    if (!text)
        return SOUK_EIO;
    int rc = 0;
    char *p = text, *line;
    size_t lineno = 0;
    while ((line = next_line(&p)) != NULL) {
        lineno++;
        if (lineno == 1) {
            if (strcmp(line, "userId\tmovieId\trating\ttimestamp") != 0) {
                seterr(err, errlen, "%s:1: unexpected header", path);
                rc = SOUK_EINVAL;
                break;
            }
            continue;
        }
        if (!line[0])
            continue;
        char *f[4];
        int nf = 0;
        for (char *s = line; nf < 4; nf++) {
            f[nf] = s;
            char *t = strchr(s, '\t');
            if (!t) {
                nf++;
                break;
            }
            *t = 0;
            s = t + 1;
        }
        brec r = {0};
        uint32_t ts;
        char *end;
        double rating = nf == 4 ? strtod(f[2], &end) : -1;
        if (nf != 4 || parse_u32(f[0], &r.user) || parse_u32(f[1], &r.item) || *end || rating < 0 ||
            rating > 5 || parse_u32(f[3], &ts)) {
            seterr(err, errlen, "%s:%zu: not \"userId movieId rating timestamp\"", path, lineno);
            rc = SOUK_EINVAL;
            break;
        }
        if (!want_user(o, r.user))
            continue;
        if (o && o->max_records && d->n >= o->max_records)
            break;
        r.ts_ms = (int64_t)ts * 1000;
        r.purchase = rating >= 4;
        if ((rc = push(d, &r)) != 0)
            break;
    }
    free(text);
    return rc;
}

/* ------------------------------------------------------------------ events */

int behavior_events_write(behavior_set set, const behavior_opts *o, FILE *out, behavior_stats *st,
                          char *err, size_t errlen)
{
    if (set != BEHAVIOR_GROCERIES && set != BEHAVIOR_MOVIELENS) {
        seterr(err, errlen, "unknown data set %d", (int)set);
        return SOUK_EINVAL;
    }
    bdata d = {0};
    int rc = set == BEHAVIOR_GROCERIES ? load_groceries(o, &d, err, errlen)
                                       : load_movielens(o, &d, err, errlen);
    behavior_stats s;
    memset(&s, 0, sizeof s);
    u64map users = {0}, sessions = {0}, items = {0};
    const char *prefix = o && o->user_prefix ? o->user_prefix : "";
    if (rc == 0) {
        s.records = d.n;
        int64_t last = INT64_MIN;
        for (size_t i = 0; i < d.n; i++) {
            int64_t t = d.r[i].ts_ms + (set == BEHAVIOR_MOVIELENS && d.r[i].purchase ? 1000 : 0);
            if (t > last)
                last = t;
        }
        if (o && o->end_ms && d.n)
            s.shift_ms = floor_div(o->end_ms - last, DAY_MS) * DAY_MS;
    }
    size_t max_events = o && o->max_events ? o->max_events : SIZE_MAX;
    for (size_t i = 0; rc == 0 && i < d.n && s.events < max_events; i++) {
        const brec *r = &d.r[i];
        char user[200], session[240], item[80], day[16], ts[32];
        snprintf(user, sizeof user, "%s%s%" PRIu32, prefix,
                 set == BEHAVIOR_GROCERIES ? "gr-" : "ml-u", r->user);
        int64_t t0 = r->ts_ms + s.shift_ms;
        day_str(t0, day);
        snprintf(session, sizeof session, "%s@%s", user, day);
        if (set == BEHAVIOR_GROCERIES)
            snprintf(item, sizeof item, "%s", d.names[r->item]);
        else
            snprintf(item, sizeof item, "ml-%" PRIu32, r->item);
        int nev = set == BEHAVIOR_GROCERIES ? 1 : 1 + r->purchase;
        for (int k = 0; k < nev && s.events < max_events; k++) {
            int purchase = set == BEHAVIOR_GROCERIES || k == 1;
            int64_t t = t0 + (set == BEHAVIOR_MOVIELENS && k == 1 ? 1000 : 0);
            ts_str(t, ts);
            fputs("{\"user\":", out);
            put_json_str(out, user);
            fputs(",\"session\":", out);
            put_json_str(out, session);
            fprintf(out, ",\"type\":\"%s\",\"item\":", purchase ? "purchase" : "view");
            put_json_str(out, item);
            fprintf(out, ",\"ts\":\"%s\"}\n", ts);
            if (s.events == 0 || t < s.first_ms)
                s.first_ms = t;
            if (s.events == 0 || t > s.last_ms)
                s.last_ms = t;
            s.events++;
            if (purchase)
                s.purchases++;
            else
                s.views++;
            if ((rc = map_add(&users, (uint64_t)r->user + 1, 1)) != 0 ||
                (rc = map_add(
                     &sessions,
                     ((uint64_t)r->user << 24) ^ (uint64_t)(floor_div(t0, DAY_MS) + 1000000), 1)) !=
                    0 ||
                (rc = map_add(&items, hash_str(item), 1)) != 0)
                break;
        }
    }
    if (rc == 0 && ferror(out)) {
        seterr(err, errlen, "writing the events failed");
        rc = SOUK_EIO;
    }
    if (rc == SOUK_ENOMEM)
        seterr(err, errlen, "out of memory");
    if (rc == 0) {
        s.users = users.n;
        s.sessions = sessions.n;
        s.items = items.n;
        uint64_t best = 0;
        for (size_t i = 0; i < users.cap; i++)
            if (users.keys[i] && (users.vals[i] > s.heaviest_events ||
                                  (users.vals[i] == s.heaviest_events && users.keys[i] < best))) {
                s.heaviest_events = users.vals[i];
                best = users.keys[i];
            }
        if (best) {
            snprintf(s.heaviest_user, sizeof s.heaviest_user, "%" PRIu64, best - 1);
            snprintf(s.heaviest_id, sizeof s.heaviest_id, "%s%s%" PRIu64, prefix,
                     set == BEHAVIOR_GROCERIES ? "gr-" : "ml-u", best - 1);
        }
        if (st)
            *st = s;
    }
    map_free(&users);
    map_free(&sessions);
    map_free(&items);
    free(d.r);
    free(d.names);
    return rc;
}

int behavior_events_buf(behavior_set set, const behavior_opts *o, char **buf, size_t *len,
                        behavior_stats *st, char *err, size_t errlen)
{
    char *b = NULL;
    size_t l = 0;
    FILE *f = open_memstream(&b, &l);
    if (!f) {
        seterr(err, errlen, "open_memstream: %s", strerror(errno));
        return SOUK_ENOMEM;
    }
    int rc = behavior_events_write(set, o, f, st, err, errlen);
    if (fclose(f) != 0 && rc == 0) {
        seterr(err, errlen, "out of memory");
        rc = SOUK_ENOMEM;
    }
    if (rc != 0) {
        free(b);
        return rc;
    }
    *buf = b;
    *len = l;
    return 0;
}

int behavior_events_file(behavior_set set, const behavior_opts *o, const char *path,
                         behavior_stats *st, char *err, size_t errlen)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        seterr(err, errlen, "%s: %s", path, strerror(errno));
        return SOUK_EIO;
    }
    int rc = behavior_events_write(set, o, f, st, err, errlen);
    if (fclose(f) != 0 && rc == 0) {
        seterr(err, errlen, "%s: %s", path, strerror(errno));
        rc = SOUK_EIO;
    }
    return rc;
}

/* ------------------------------------------------------------------ the movie catalog */

const char *movielens_schema_path(void)
{
    return SOUK_SOURCE_DIR "/indexer/schemas/movielens.json";
}

int movielens_catalog_write(FILE *out, size_t max, size_t *n, char *err, size_t errlen)
{
    const char *path = behavior_path(BEHAVIOR_MOVIELENS, "movies.tsv");
    size_t len, count = 0;
    char *text = slurp(path, &len, err, errlen);
    if (!text)
        return SOUK_EIO;
    int rc = 0;
    char *p = text, *line;
    size_t lineno = 0;
    while ((line = next_line(&p)) != NULL && (!max || count < max)) {
        lineno++;
        if (lineno == 1) {
            if (strcmp(line, "movieId\ttitle\tyear\tgenres") != 0) {
                seterr(err, errlen, "%s:1: unexpected header", path);
                rc = SOUK_EINVAL;
                break;
            }
            continue;
        }
        if (!line[0])
            continue;
        char *f[4];
        int nf = 0;
        for (char *s = line; nf < 4; nf++) {
            f[nf] = s;
            char *t = strchr(s, '\t');
            if (!t) {
                nf++;
                break;
            }
            *t = 0;
            s = t + 1;
        }
        uint32_t id, year = 0;
        if (nf != 4 || parse_u32(f[0], &id) ||
            (strcmp(f[2], "NA") != 0 && parse_u32(f[2], &year))) {
            seterr(err, errlen, "%s:%zu: not \"movieId title year genres\"", path, lineno);
            rc = SOUK_EINVAL;
            break;
        }
        fprintf(out, "{\"id\":\"ml-%" PRIu32 "\"", id);
        if (f[1][0] && strcmp(f[1], "NA") != 0) {
            fputs(",\"title\":", out);
            put_json_str(out, f[1]);
        }
        if (year)
            fprintf(out, ",\"year\":%" PRIu32, year);
        if (f[3][0] && f[3][0] != '(' && strcmp(f[3], "NA") != 0) {
            char g[64];
            int first = 1;
            for (char *s = f[3]; s;) {
                char *bar = strchr(s, '|');
                if (bar)
                    *bar = 0;
                size_t k = 0;
                for (; s[k] && k + 1 < sizeof g; k++)
                    g[k] = (char)tolower((unsigned char)s[k]);
                g[k] = 0;
                if (first) {
                    fputs(",\"section\":", out);
                    put_json_str(out, g);
                    fputs(",\"tags\":[", out);
                } else {
                    fputc(',', out);
                }
                put_json_str(out, g);
                first = 0;
                s = bar ? bar + 1 : NULL;
            }
            fputc(']', out);
        }
        fputs("}\n", out);
        count++;
    }
    free(text);
    if (rc == 0 && ferror(out)) {
        seterr(err, errlen, "writing the catalog failed");
        rc = SOUK_EIO;
    }
    if (rc == 0 && n)
        *n = count;
    return rc;
}

int movielens_catalog_buf(size_t max, char **buf, size_t *len, size_t *n, char *err, size_t errlen)
{
    char *b = NULL;
    size_t l = 0;
    FILE *f = open_memstream(&b, &l);
    if (!f) {
        seterr(err, errlen, "open_memstream: %s", strerror(errno));
        return SOUK_ENOMEM;
    }
    int rc = movielens_catalog_write(f, max, n, err, errlen);
    if (fclose(f) != 0 && rc == 0) {
        seterr(err, errlen, "out of memory");
        rc = SOUK_ENOMEM;
    }
    if (rc != 0) {
        free(b);
        return rc;
    }
    *buf = b;
    *len = l;
    return 0;
}
