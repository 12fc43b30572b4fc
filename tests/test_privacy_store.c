/* test_privacy_store.c: the behaviour-event store's control plane against the privacy law
 * (PRIVACY.md): consent (P3, P5, P7, P25), search history (P11), tags and items (P8), the
 * export (P19, P20: the export set equals the erasure set), erasure (P12-P14: states, the byte
 * scan of every file, a rebuild equal to the derived tables, suppression of replays,
 * idempotence, a kill at every step), k-anonymous statistics (P16) and the audit log (P18).
 *
 * The events are real: the Groceries data set (member = user, one purchase a line, and a search
 * for the item's name before it), so the derived tables and the statistics see a real
 * distribution. Marker users with unique ids are added on top and erased. */
#include "check.h"
#include "events/events_int.h"
#include "souk/events.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#define DAY_MS 86400000LL

static char datadir[256], keydir[256], keyfile[300];
static souk_keyring *kr;
static souk_events_opts opts;

/* ------------------------------------------------------------------ helpers */

static void rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char p[1024];
            snprintf(p, sizeof p, "%s/%s", path, e->d_name);
            rm_rf(p);
        }
        if (d)
            closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

/* Tags of an item (P8): "category:<first word>", from a stand-in for the catalog. */
static int item_tags(void *arg, const char *item, char (*tags)[64], int max)
{
    (void)arg;
    if (max < 1 || !*item)
        return 0;
    size_t n = strcspn(item, " /");
    if (n > 40)
        n = 40;
    snprintf(tags[0], 64, "category:%.*s", (int)n, item);
    return 1;
}

static souk_events *open_store(void)
{
    souk_events *s;
    char err[512];
    int rc = souk_events_open(datadir, &opts, &s, err, sizeof err);
    if (rc)
        fprintf(stderr, "open: %s\n", err);
    REQUIRE(rc == SOUK_OK);
    return s;
}

static souk_event mk(souk_ev_type t, const char *user, const char *session, const char *item,
                     const char *query, int64_t ts)
{
    souk_event e;
    memset(&e, 0, sizeof e);
    e.type = t;
    snprintf(e.user, sizeof e.user, "%s", user ? user : "");
    snprintf(e.session, sizeof e.session, "%s", session ? session : "");
    snprintf(e.item, sizeof e.item, "%s", item ? item : "");
    snprintf(e.query, sizeof e.query, "%s", query ? query : "");
    e.ts_ms = ts;
    e.nhits = t == SOUK_EV_SEARCH ? 3 : -1;
    return e;
}

static souk_ev_outcome add1(souk_events *s, const souk_event *e, int64_t now)
{
    souk_ev_outcome out = (souk_ev_outcome)-1;
    char err[256];
    int rc = souk_events_add(s, e, 1, now, &out, NULL, err, sizeof err);
    if (rc)
        fprintf(stderr, "add: %s\n", err);
    CHECK(rc == SOUK_OK);
    return out;
}

static void set_consent(souk_events *s, const char *user, int pers, int shist, int minor,
                        int guardian, uint32_t pv, int64_t now)
{
    souk_consent c = {0};
    c.personalization = pers;
    c.search_history = shist;
    c.minor = minor;
    c.guardian_consent = guardian;
    c.policy_version = pv;
    char err[256];
    int rc = souk_consent_set(s, user, strlen(user), &c, now, err, sizeof err);
    if (rc)
        fprintf(stderr, "consent_set: %s\n", err);
    CHECK(rc == SOUK_OK);
}

static int count_cb_item(void *arg, souk_ev_type t, const char *item, int64_t ts)
{
    (void)t;
    (void)ts;
    (void)item;
    ++*(int *)arg;
    return 0;
}

struct find_item {
    const char *item;
    int found;
    int n;
};

static int find_item_cb(void *arg, souk_ev_type t, const char *item, int64_t ts)
{
    (void)t;
    (void)ts;
    struct find_item *f = arg;
    f->n++;
    if (!strcmp(item, f->item))
        f->found++;
    return 0;
}

static int user_items_n(souk_events *s, const char *user)
{
    int n = 0;
    CHECK(souk_user_items(s, user, strlen(user), 0, count_cb_item, &n) == SOUK_OK);
    return n;
}

static int item_listed(souk_events *s, const char *user, const char *item)
{
    struct find_item f = {item, 0, 0};
    CHECK(souk_user_items(s, user, strlen(user), 0, find_item_cb, &f) == SOUK_OK);
    return f.found;
}

struct tagq {
    const char *tag;
    uint32_t count;
    int n;
};

static int tag_cb(void *arg, const char *tag, uint32_t count, int64_t last, const char *why)
{
    (void)last;
    (void)why;
    struct tagq *q = arg;
    q->n++;
    if (q->tag && !strcmp(tag, q->tag))
        q->count = count;
    return 0;
}

static struct tagq tags_of(souk_events *s, const char *user, const char *tag)
{
    struct tagq q = {tag, 0, 0};
    CHECK(souk_tags_list(s, user, strlen(user), tag_cb, &q) == SOUK_OK);
    return q;
}

struct hist {
    int n;
    int64_t ts[64];
    char q[64][64];
};

static int hist_cb(void *arg, int64_t ts, const char *query, size_t len)
{
    struct hist *h = arg;
    if (h->n < 64) {
        h->ts[h->n] = ts;
        snprintf(h->q[h->n], 64, "%.*s", (int)len, query);
    }
    h->n++;
    return 0;
}

static void check_store(souk_events *s, const char *when)
{
    char err[512] = "";
    int rc = souk_events_check(s, err, sizeof err);
    if (rc)
        fprintf(stderr, "souk_events_check (%s): %s\n", when, err);
    CHECK(rc == SOUK_OK);
}

/* ------------------------------------------------------------------ the groceries */

typedef struct gline {
    char user[32];
    char item[128];
    int64_t ts;
} gline;

static gline *glines;
static size_t ngl;

static int load_groceries(void)
{
    const char *path = shared_data("behavior/groceries/Groceries_dataset.csv");
    if (!path)
        return 0;
    FILE *f = fopen(path, "r");
    REQUIRE(f);
    char line[512];
    size_t cap = 0;
    REQUIRE(fgets(line, sizeof line, f)); /* header */
    while (fgets(line, sizeof line, f)) {
        int member, d, m, y;
        char item[128];
        if (sscanf(line, "%d,%d-%d-%d,%127[^\r\n]", &member, &d, &m, &y, item) != 5)
            continue;
        if (ngl == cap) {
            cap = cap ? 2 * cap : 4096;
            glines = realloc(glines, cap * sizeof *glines);
            REQUIRE(glines);
        }
        gline *g = &glines[ngl];
        snprintf(g->user, sizeof g->user, "member-%d", member);
        snprintf(g->item, sizeof g->item, "%s", item);
        struct tm tm = {0};
        tm.tm_mday = d;
        tm.tm_mon = m - 1;
        tm.tm_year = y - 1900;
        tm.tm_hour = 12;
        g->ts = (int64_t)timegm(&tm) * 1000 + (int64_t)(ngl % 3600000);
        ngl++;
    }
    fclose(f);
    const char *lim = getenv("SOUK_PRIVACY_LINES");
    if (lim && atoi(lim) > 0 && (size_t)atoi(lim) < ngl)
        ngl = (size_t)atoi(lim);
    return ngl > 0;
}

/* Every line as a search for the item's name, then its purchase, in the member's session of
 * that day. */
static void add_groceries(souk_events *s, int64_t now)
{
    size_t cap = 4096, n = 0;
    souk_event *batch = malloc(cap * sizeof *batch);
    REQUIRE(batch);
    souk_ev_counts total = {0};
    for (size_t i = 0; i < ngl; i++) {
        char sess[64];
        snprintf(sess, sizeof sess, "%s/%lld", glines[i].user, (long long)(glines[i].ts / DAY_MS));
        batch[n++] = mk(SOUK_EV_SEARCH, glines[i].user, sess, "", glines[i].item, glines[i].ts);
        batch[n++] =
            mk(SOUK_EV_PURCHASE, glines[i].user, sess, glines[i].item, "", glines[i].ts + 1);
        if (n + 2 > cap || i + 1 == ngl) {
            souk_ev_counts c = {0};
            char err[256];
            int rc = souk_events_add(s, batch, n, now, NULL, &c, err, sizeof err);
            if (rc)
                fprintf(stderr, "add groceries: %s\n", err);
            REQUIRE(rc == SOUK_OK);
            total.stored += c.stored;
            total.anonymous += c.anonymous;
            total.duplicate += c.duplicate;
            n = 0;
        }
    }
    free(batch);
    printf("groceries: %zu lines, %llu events stored, %llu anonymous, %llu duplicate\n", ngl,
           (unsigned long long)total.stored, (unsigned long long)total.anonymous,
           (unsigned long long)total.duplicate);
    CHECK(total.stored > ngl);
}

/* ------------------------------------------------------------------ byte scans */

static int mem_has(const uint8_t *hay, size_t n, const void *needle, size_t m)
{
    if (m == 0 || n < m)
        return 0;
    const uint8_t *p = hay, *end = hay + n - m + 1;
    while (p < end && (p = memchr(p, ((const uint8_t *)needle)[0], (size_t)(end - p)))) {
        if (!memcmp(p, needle, m))
            return 1;
        p++;
    }
    return 0;
}

typedef struct needle {
    const char *what;
    uint8_t b[64];
    size_t n;
} needle;

/* Reads every regular file under dir and counts each needle found (printing the file unless
 * quiet). */
static int scan_dir(const char *dir, const needle *nd, size_t nn, int quiet)
{
    int found = 0;
    DIR *d = opendir(dir);
    REQUIRE(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            found += scan_dir(p, nd, nn, quiet);
            continue;
        }
        if (!S_ISREG(st.st_mode))
            continue;
        FILE *f = fopen(p, "rb");
        REQUIRE(f);
        uint8_t *buf = malloc((size_t)st.st_size + 1);
        REQUIRE(buf);
        size_t got = fread(buf, 1, (size_t)st.st_size, f);
        fclose(f);
        for (size_t i = 0; i < nn; i++)
            if (mem_has(buf, got, nd[i].b, nd[i].n)) {
                if (!quiet)
                    fprintf(stderr, "byte scan: %s found in %s\n", nd[i].what, p);
                found++;
            }
        free(buf);
    }
    closedir(d);
    return found;
}

static void hexs(const uint8_t *p, size_t n, char *out, int upper)
{
    const char *d = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[p[i] >> 4];
        out[2 * i + 1] = d[p[i] & 15];
    }
    out[2 * n] = 0;
}

/* The needles of one user id: the raw id, the user and session pseudonyms (the 16 hash bytes
 * and all 17), their hex. */
static size_t needles_of(const char *user, const char *session, needle *nd)
{
    size_t n = 0;
    uint8_t up[SOUK_PSEUDO_LEN], sp[SOUK_PSEUDO_LEN];
    REQUIRE(souk_pseudonym(kr, 0, SOUK_PSEUDO_USER, user, strlen(user), up) == SOUK_OK);
    REQUIRE(souk_pseudonym(kr, 0, SOUK_PSEUDO_SESSION, session, strlen(session), sp) == SOUK_OK);
    nd[n].what = "raw user id";
    memcpy(nd[n].b, user, strlen(user));
    nd[n++].n = strlen(user);
    nd[n].what = "raw session id";
    memcpy(nd[n].b, session, strlen(session));
    nd[n++].n = strlen(session);
    const uint8_t *ps[2] = {up, sp};
    const char *names[2] = {"user pseudonym", "session pseudonym"};
    for (int k = 0; k < 2; k++) {
        nd[n].what = names[k];
        memcpy(nd[n].b, ps[k] + 1, 16); /* the hash without the kid */
        nd[n++].n = 16;
        for (int up_ = 0; up_ < 2; up_++) {
            char h[40];
            hexs(ps[k] + 1, 16, h, up_);
            nd[n].what = up_ ? "pseudonym HEX" : "pseudonym hex";
            memcpy(nd[n].b, h, 32);
            nd[n++].n = 32;
        }
    }
    return n;
}

/* ------------------------------------------------------------------ parts */

static void part_consent(souk_events *s, int64_t now)
{
    const char *u = "consent-user-a";
    souk_consent c;
    /* Defaults: the store's, not recorded. */
    CHECK(souk_consent_get(s, u, strlen(u), &c) == SOUK_OK);
    CHECK(c.recorded == 0);
    CHECK(c.personalization == opts.consent_default.personalization);
    CHECK(c.location == 0);
    CHECK(souk_consent_get(s, "", 0, &c) == SOUK_EINVAL);

    set_consent(s, u, 1, 1, 0, 0, 0, now);
    CHECK(souk_consent_get(s, u, strlen(u), &c) == SOUK_OK);
    CHECK(c.recorded == 1 && c.personalization == 1 && c.search_history == 1);
    CHECK(c.policy_version == opts.policy_version);
    CHECK(c.updated_ms == now);
    CHECK(souk_consent_personalize(&c));

    /* P5: events are personal, then an opt-out withdraws profile, items and tags; the next
     * events are anonymous; opting back in is cold. */
    for (int i = 0; i < 5; i++) {
        souk_event e = mk(SOUK_EV_PURCHASE, u, "consent-sess-1",
                          i % 2 ? "rolls/buns" : "whole milk", "", now - 5000 + i);
        CHECK(add1(s, &e, now) == SOUK_EVO_STORED);
    }
    CHECK(user_items_n(s, u) == 2);
    CHECK(tags_of(s, u, "category:whole").count == 3);
    set_consent(s, u, 0, 1, 0, 0, 0, now + 1);
    CHECK(user_items_n(s, u) == 0);
    CHECK(tags_of(s, u, NULL).n == 0);
    souk_event e = mk(SOUK_EV_VIEW, u, "consent-sess-2", "whole milk", "", now + 2);
    CHECK(add1(s, &e, now + 2) == SOUK_EVO_ANONYMOUS);
    set_consent(s, u, 1, 1, 0, 0, 0, now + 3);
    CHECK(user_items_n(s, u) == 0); /* cold */
    CHECK(tags_of(s, u, NULL).n == 0);
    e = mk(SOUK_EV_VIEW, u, "consent-sess-3", "butter", "", now + 4);
    CHECK(add1(s, &e, now + 4) == SOUK_EVO_STORED);
    CHECK(user_items_n(s, u) == 1 && item_listed(s, u, "butter"));

    /* P7: a minor is non-personalized until a guardian consents. */
    const char *m = "consent-minor";
    set_consent(s, m, 1, 0, 1, 0, 0, now);
    CHECK(souk_consent_get(s, m, strlen(m), &c) == SOUK_OK);
    CHECK(c.minor == 1 && c.personalization == 1 && !souk_consent_personalize(&c));
    e = mk(SOUK_EV_VIEW, m, "", "whole milk", "", now + 1);
    CHECK(add1(s, &e, now + 1) == SOUK_EVO_ANONYMOUS);
    CHECK(user_items_n(s, m) == 0);
    set_consent(s, m, 1, 0, 1, 1, 0, now + 2);
    CHECK(souk_consent_get(s, m, strlen(m), &c) == SOUK_OK);
    CHECK(souk_consent_personalize(&c));
    e = mk(SOUK_EV_VIEW, m, "", "whole milk", "", now + 3);
    CHECK(add1(s, &e, now + 3) == SOUK_EVO_STORED);
    CHECK(user_items_n(s, m) == 1);

    /* P25: location appeared in policy version 2; a record given under version 1 has it off
     * even if the caller says on; granted under version 2 it is on; a version newer than the
     * store's is refused. */
    const char *l = "consent-location";
    souk_consent cl = {0};
    cl.location = 1;
    cl.personalization = 1;
    cl.policy_version = 1;
    char err[256];
    CHECK(souk_consent_set(s, l, strlen(l), &cl, now, err, sizeof err) == SOUK_OK);
    CHECK(souk_consent_get(s, l, strlen(l), &c) == SOUK_OK);
    CHECK(c.policy_version == 1 && c.location == 0 && c.personalization == 1);
    cl.policy_version = 2;
    CHECK(souk_consent_set(s, l, strlen(l), &cl, now + 1, err, sizeof err) == SOUK_OK);
    CHECK(souk_consent_get(s, l, strlen(l), &c) == SOUK_OK);
    CHECK(c.policy_version == 2 && c.location == 1);
    /* P6: a location stored with consent goes when the consent does. */
    {
        souk_event le = mk(SOUK_EV_VIEW, l, "", "butter", "", now + 1);
        memcpy(le.country, "DE", 3);
        snprintf(le.region, sizeof le.region, "BE");
        CHECK(add1(s, &le, now + 1) == SOUK_EVO_STORED);
        char *json;
        size_t len;
        REQUIRE(souk_user_export(s, l, strlen(l), now + 1, &json, &len) == SOUK_OK);
        CHECK(strstr(json, "\"country\":\"DE\"") != NULL);
        souk_free(json);
        cl.location = 0;
        CHECK(souk_consent_set(s, l, strlen(l), &cl, now + 2, err, sizeof err) == SOUK_OK);
        REQUIRE(souk_user_export(s, l, strlen(l), now + 2, &json, &len) == SOUK_OK);
        CHECK(strstr(json, "\"country\"") == NULL && strstr(json, "butter") != NULL);
        souk_free(json);
        cl.location = 1;
    }
    /* The store's own version decides too: a store at policy 1 has no location purpose, a store
     * told no version versions nothing. */
    CHECK(souk_consent_set(s, l, strlen(l), &cl, now + 2, err, sizeof err) == SOUK_OK);
    s->o.policy_version = 1;
    CHECK(souk_consent_get(s, l, strlen(l), &c) == SOUK_OK);
    CHECK(c.location == 0 && c.personalization == 1);
    s->o.policy_version = 0;
    CHECK(souk_consent_get(s, l, strlen(l), &c) == SOUK_OK);
    CHECK(c.location == 1);
    s->o.policy_version = opts.policy_version;
    cl.policy_version = opts.policy_version + 1;
    CHECK(souk_consent_set(s, l, strlen(l), &cl, now + 2, err, sizeof err) == SOUK_EINVAL);
    /* A record stored under version 1 with location on (an older writer): read as off. */
    {
        uint8_t up[SOUK_PSEUDO_LEN], rec[SOUK_EV_CONSENT_LEN];
        REQUIRE(souk__ev_user(s, l, strlen(l), up) == SOUK_OK);
        souk_consent raw = {0};
        raw.location = 1;
        raw.policy_version = 1;
        souk__ev_consent_encode(&raw, rec);
        MDB_txn *txn;
        REQUIRE(souk__ev_begin(s, 0, &txn) == SOUK_OK);
        MDB_val k = {sizeof up, up}, v = {sizeof rec, rec};
        CHECK(mdb_put(txn, s->consent, &k, &v, 0) == 0);
        CHECK(souk__ev_commit(s, txn) == SOUK_OK);
        CHECK(souk_consent_get(s, l, strlen(l), &c) == SOUK_OK);
        CHECK(c.location == 0);
    }
}

static void part_history(souk_events *s, int64_t now)
{
    const char *u = "history-user";
    set_consent(s, u, 1, 1, 0, 0, 0, now);
    const char *qs[] = {"whole milk", "yogurt", "soda"};
    for (int i = 0; i < 3; i++) {
        souk_event e = mk(SOUK_EV_SEARCH, u, "", "", qs[i], now - 3000 + 1000 * i);
        CHECK(add1(s, &e, now) == SOUK_EVO_STORED);
    }
    struct hist h = {0};
    CHECK(souk_history_list(s, u, strlen(u), 0, hist_cb, &h) == SOUK_OK);
    CHECK(h.n == 3);
    CHECK(!strcmp(h.q[0], "soda") && !strcmp(h.q[2], "whole milk")); /* newest first */
    CHECK(h.ts[0] > h.ts[1] && h.ts[1] > h.ts[2]);
    memset(&h, 0, sizeof h);
    CHECK(souk_history_list(s, u, strlen(u), 2, hist_cb, &h) == SOUK_OK);
    CHECK(h.n == 2);
    CHECK(souk_history_clear(s, u, strlen(u), now + 1) == SOUK_OK);
    memset(&h, 0, sizeof h);
    CHECK(souk_history_list(s, u, strlen(u), 0, hist_cb, &h) == SOUK_OK);
    CHECK(h.n == 0);
    /* Recorded again after a clear; search_history off clears it and records nothing. */
    souk_event e = mk(SOUK_EV_SEARCH, u, "", "", "butter", now + 2);
    add1(s, &e, now + 2);
    memset(&h, 0, sizeof h);
    CHECK(souk_history_list(s, u, strlen(u), 0, hist_cb, &h) == SOUK_OK);
    CHECK(h.n == 1);
    set_consent(s, u, 1, 0, 0, 0, 0, now + 3);
    memset(&h, 0, sizeof h);
    CHECK(souk_history_list(s, u, strlen(u), 0, hist_cb, &h) == SOUK_OK);
    CHECK(h.n == 0);
    e = mk(SOUK_EV_SEARCH, u, "", "", "cream", now + 4);
    add1(s, &e, now + 4);
    memset(&h, 0, sizeof h);
    CHECK(souk_history_list(s, u, strlen(u), 0, hist_cb, &h) == SOUK_OK);
    CHECK(h.n == 0);
    /* Settled question: personalization off keeps a search history that is on. */
    const char *v = "history-user-2";
    set_consent(s, v, 1, 1, 0, 0, 0, now);
    e = mk(SOUK_EV_SEARCH, v, "", "", "beef", now + 1);
    add1(s, &e, now + 1);
    set_consent(s, v, 0, 1, 0, 0, 0, now + 2);
    memset(&h, 0, sizeof h);
    CHECK(souk_history_list(s, v, strlen(v), 0, hist_cb, &h) == SOUK_OK);
    CHECK(h.n == 1);
}

static void part_deletions(souk_events *s, int64_t now)
{
    const char *u = "deletions-user";
    set_consent(s, u, 1, 1, 0, 0, 0, now);
    for (int i = 0; i < 4; i++) {
        souk_event e = mk(SOUK_EV_PURCHASE, u, "del-sess", "tropical fruit", "", now - 10000 + i);
        CHECK(add1(s, &e, now) == SOUK_EVO_STORED);
        e = mk(SOUK_EV_PURCHASE, u, "del-sess", "citrus fruit", "", now - 10000 + i);
        CHECK(add1(s, &e, now) == SOUK_EVO_STORED);
    }
    CHECK(tags_of(s, u, "category:tropical").count == 4);
    CHECK(souk_tag_delete(s, u, strlen(u), "category:tropical", now) == SOUK_OK);
    CHECK(tags_of(s, u, "category:tropical").count == 0);
    CHECK(tags_of(s, u, "category:citrus").count == 4);
    /* An older event arriving late does not derive the tag again; a newer one does. */
    souk_event e = mk(SOUK_EV_PURCHASE, u, "del-sess", "tropical fruit", "", now - 500);
    CHECK(add1(s, &e, now + 1) == SOUK_EVO_STORED);
    CHECK(tags_of(s, u, "category:tropical").count == 0);
    e = mk(SOUK_EV_PURCHASE, u, "del-sess", "tropical fruit", "", now + 10);
    CHECK(add1(s, &e, now + 11) == SOUK_EVO_STORED);
    CHECK(tags_of(s, u, "category:tropical").count == 1);
    check_store(s, "after a tag deletion");

    /* Items the same way. */
    CHECK(item_listed(s, u, "citrus fruit"));
    CHECK(souk_user_item_delete(s, u, strlen(u), "citrus fruit", now + 20) == SOUK_OK);
    CHECK(!item_listed(s, u, "citrus fruit"));
    e = mk(SOUK_EV_PURCHASE, u, "del-sess", "citrus fruit", "", now + 5);
    CHECK(add1(s, &e, now + 21) == SOUK_EVO_STORED);
    CHECK(!item_listed(s, u, "citrus fruit"));
    e = mk(SOUK_EV_PURCHASE, u, "del-sess", "citrus fruit", "", now + 30);
    CHECK(add1(s, &e, now + 31) == SOUK_EVO_STORED);
    CHECK(item_listed(s, u, "citrus fruit"));
    CHECK(souk_tag_delete(s, u, strlen(u), "", now) == SOUK_EINVAL);
    check_store(s, "after an item deletion");
}

/* The tables holding rows of the user (a key or value containing the pseudonym), by name. */
static const char *const table_names[15] = {"ev",     "uev",   "sess",    "usess", "pop",
                                            "uset",   "iuser", "consent", "shist", "tags",
                                            "tagdel", "idel",  "qstat",   "supp",  "jobs"};

static int tables_with(souk_events *s, const uint8_t up[SOUK_PSEUDO_LEN], int *has)
{
    MDB_dbi dbis[] = {s->ev,     s->uev,   s->sess,    s->usess, s->pop,
                      s->uset,   s->iuser, s->consent, s->shist, s->tags,
                      s->tagdel, s->idel,  s->qstat,   s->supp,  s->jobs};
    MDB_txn *txn;
    REQUIRE(souk__ev_begin(s, MDB_RDONLY, &txn) == SOUK_OK);
    int n = 0;
    for (size_t i = 0; i < sizeof dbis / sizeof dbis[0]; i++) {
        has[i] = 0;
        MDB_cursor *c;
        REQUIRE(mdb_cursor_open(txn, dbis[i], &c) == 0);
        MDB_val k, v;
        int r = mdb_cursor_get(c, &k, &v, MDB_FIRST);
        while (r == 0 && !has[i]) {
            if (mem_has(k.mv_data, k.mv_size, up, SOUK_PSEUDO_LEN) ||
                mem_has(v.mv_data, v.mv_size, up, SOUK_PSEUDO_LEN))
                has[i] = 1;
            r = mdb_cursor_get(c, &k, &v, MDB_NEXT);
        }
        mdb_cursor_close(c);
        n += has[i];
    }
    souk__ev_abort(s, txn);
    return n;
}

/* Which export section shows each table's rows (the sess rows are the events' "session"). */
static const char *section_of(const char *table)
{
    static const char *const map[][2] = {{"ev", "events"},
                                         {"uev", "events"},
                                         {"sess", "sessions"},
                                         {"usess", "sessions"},
                                         {"uset", "cooccurrence_items"},
                                         {"iuser", "cooccurrence_items"},
                                         {"consent", "consent"},
                                         {"shist", "search_history"},
                                         {"tags", "tags"},
                                         {"tagdel", "deleted_tags"},
                                         {"idel", "deleted_items"},
                                         {"qstat", "search_statistics"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(map[i][0], table))
            return map[i][1];
    return NULL;
}

static void part_export(souk_events *s, int64_t now)
{
    const char *u = "deletions-user"; /* every kind of row: events, sessions, tags, deletions */
    souk_event e = mk(SOUK_EV_SEARCH, u, "del-sess", "", "tropical fruit", now + 40);
    add1(s, &e, now + 41);
    set_consent(s, u, 1, 1, 0, 0, 0, now + 42);
    uint8_t up[SOUK_PSEUDO_LEN];
    REQUIRE(souk__ev_user(s, u, strlen(u), up) == SOUK_OK);
    int has[16];
    int n = tables_with(s, up, has);
    CHECK(n >= 8);
    char *json = NULL;
    size_t len = 0;
    REQUIRE(souk_user_export(s, u, strlen(u), now + 43, &json, &len) == SOUK_OK);
    CHECK(len == strlen(json));
    cJSON *doc = cJSON_Parse(json);
    REQUIRE(doc);
    for (size_t i = 0; i < sizeof table_names / sizeof table_names[0]; i++) {
        if (!has[i])
            continue;
        const char *sec = section_of(table_names[i]);
        if (!sec) {
            fprintf(stderr, "export: table %s holds the user's rows but no section shows it\n",
                    table_names[i]);
            CHECK(0);
            continue;
        }
        cJSON *x = cJSON_GetObjectItemCaseSensitive(doc, sec);
        int shown = x && (cJSON_IsObject(x) || (cJSON_IsArray(x) && cJSON_GetArraySize(x) > 0));
        if (!shown)
            fprintf(stderr, "export: table %s holds the user's rows, section %s is empty\n",
                    table_names[i], sec);
        CHECK(shown);
    }
    /* Readable: no pseudonym, raw or hex; sessions by label. */
    char hx[40];
    hexs(up + 1, 16, hx, 0);
    CHECK(!strstr(json, hx));
    CHECK(!mem_has((const uint8_t *)json, len, up + 1, 16));
    CHECK(!strstr(json, "del-sess"));
    CHECK(strstr(json, "\"session 1\"") != NULL);
    CHECK(strstr(json, "tropical fruit") != NULL);
    cJSON *c = cJSON_GetObjectItemCaseSensitive(doc, "consent");
    CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "personalization")));
    cJSON_Delete(doc);
    souk_free(json);
}

/* Erasure of n marker users: states, idempotence, suppression, the byte scan, the rebuild. */
static void marker_user(int i, char *user, size_t ul, char *sess, size_t sl)
{
    snprintf(user, ul, "zq-marker-%02d-erase-7c1e9", i);
    snprintf(sess, sl, "zq-session-%02d-erase-b44d", i);
}

static void add_marker_data(souk_events *s, const char *user, const char *sess, int64_t now)
{
    set_consent(s, user, 1, 1, 0, 0, 0, now - 100000);
    for (int k = 0; k < 40; k++) {
        const gline *g = ngl ? &glines[(size_t)k * 97 % ngl] : NULL;
        const char *item = g ? g->item : "whole milk";
        souk_event e = mk(SOUK_EV_SEARCH, user, sess, "", item, now - 90000 + 10 * k);
        CHECK(add1(s, &e, now) == SOUK_EVO_STORED);
        e = mk(k % 3 ? SOUK_EV_PURCHASE : SOUK_EV_VIEW, user, sess, item, "",
               now - 90000 + 10 * k + 1);
        CHECK(add1(s, &e, now) == SOUK_EVO_STORED);
    }
    CHECK(souk_tag_delete(s, user, strlen(user), "category:whole", now - 50000) == SOUK_OK);
    CHECK(souk_user_item_delete(s, user, strlen(user), "rolls/buns", now - 50000) == SOUK_OK);
    char *json;
    size_t len;
    CHECK(souk_user_export(s, user, strlen(user), now, &json, &len) == SOUK_OK);
    souk_free(json);
}

static souk_events *scan_store; /* for the diagnosis of a finding */
static int tables_with(souk_events *s, const uint8_t up[SOUK_PSEUDO_LEN], int *has);
static const char *const table_names[15];

static void scan_clean(const char *user, const char *sess, const char *when)
{
    needle nd[16];
    size_t nn = needles_of(user, sess, nd);
    int found = scan_dir(datadir, nd, nn, 0);
    if (found) {
        fprintf(stderr, "byte scan (%s): %d finding(s) for %s\n", when, found, user);
        uint8_t up[SOUK_PSEUDO_LEN];
        int has[16];
        REQUIRE(souk_pseudonym(kr, 0, SOUK_PSEUDO_USER, user, strlen(user), up) == SOUK_OK);
        if (scan_store && tables_with(scan_store, up, has))
            for (int i = 0; i < 15; i++)
                if (has[i])
                    fprintf(stderr, "  the pseudonym is in table %s\n", table_names[i]);
    }
    CHECK(found == 0);
}

/* The erasure hook (souk_events_on_erased): what it sees when souk_erase_run calls it. */
typedef struct erased_seen {
    souk_events *s;
    const char (*users)[64];
    const char (*ids)[33];
    int n, calls, running, rows;
} erased_seen;

static void on_erased(void *arg)
{
    erased_seen *e = arg;
    e->calls++;
    for (int i = 0; i < e->n; i++) {
        souk_job_state st;
        char err[256];
        CHECK(souk_erase_state(e->s, e->ids[i], &st, NULL, err, sizeof err) == SOUK_OK);
        e->running += st == SOUK_JOB_RUNNING;
        uint8_t up[SOUK_PSEUDO_LEN];
        int has[16];
        REQUIRE(souk__ev_user(e->s, e->users[i], strlen(e->users[i]), up) == SOUK_OK);
        e->rows += tables_with(e->s, up, has);
    }
}

static void part_erase(souk_events *s, int64_t now)
{
    enum { NM = 3 };
    char users[NM][64], sess[NM][64], ids[NM][33];
    char err[512];
    for (int i = 0; i < NM; i++) {
        marker_user(i, users[i], 64, sess[i], 64);
        add_marker_data(s, users[i], sess[i], now);
    }
    /* The last marker opted out before the erasure: its events since then are anonymous rows,
     * with no session either (P5), and must hold nothing of the user or the session. */
    set_consent(s, users[NM - 1], 0, 1, 0, 0, 0, now - 1000);
    for (int k = 0; k < 5; k++) {
        souk_event e =
            mk(SOUK_EV_VIEW, users[NM - 1], sess[NM - 1], "whole milk", "", now - 900 + k);
        CHECK(add1(s, &e, now) == SOUK_EVO_ANONYMOUS);
    }
    /* Before: the markers are there (the scan finds them: the scan works). */
    {
        needle nd[16];
        CHECK(needles_of(users[0], sess[0], nd) > 2);
        CHECK(scan_dir(datadir, nd + 2, 1, 1) > 0); /* the user pseudonym */
    }
    for (int i = 0; i < NM; i++) {
        CHECK(souk_erase_start(s, users[i], strlen(users[i]), now, ids[i], err, sizeof err) ==
              SOUK_OK);
        CHECK(strlen(ids[i]) == 32);
        char again[33];
        CHECK(souk_erase_start(s, users[i], strlen(users[i]), now + 1, again, err, sizeof err) ==
              SOUK_OK);
        CHECK(!strcmp(again, ids[i]));
        souk_job_state st;
        int64_t upd;
        CHECK(souk_erase_state(s, ids[i], &st, &upd, err, sizeof err) == SOUK_OK);
        CHECK(st == SOUK_JOB_PENDING);
        /* Serving stopped at once. */
        souk_consent c;
        CHECK(souk_consent_get(s, users[i], strlen(users[i]), &c) == SOUK_OK);
        CHECK(!souk_consent_personalize(&c));
        CHECK(user_items_n(s, users[i]) == 0);
        souk_event e = mk(SOUK_EV_VIEW, users[i], sess[i], "whole milk", "", now + 2);
        CHECK(add1(s, &e, now + 2) == SOUK_EVO_SUPPRESSED);
        char *json;
        size_t len;
        CHECK(souk_user_export(s, users[i], strlen(users[i]), now, &json, &len) == SOUK_ENOTFOUND);
    }
    souk_job_state st;
    CHECK(souk_erase_state(s, "00000000000000000000000000000000", &st, NULL, err, sizeof err) ==
          SOUK_ENOTFOUND);
    CHECK(souk_erase_state(s, "zz", &st, NULL, err, sizeof err) == SOUK_EINVAL);
    scan_store = s;
    /* The hook runs once, with the users' rows gone and their jobs not yet completed: what a
     * cache of item-level features (engine/recs/'s lists) recomputes there is free of them
     * before a job reports completed. */
    erased_seen seen = {s, (const char(*)[64])users, (const char(*)[33])ids, NM, 0, 0, 0};
    souk_events_on_erased(s, on_erased, &seen);
    int done = souk_erase_run(s, now + 10, err, sizeof err);
    souk_events_on_erased(s, NULL, NULL);
    if (done < 0)
        fprintf(stderr, "erase_run: %s\n", err);
    CHECK(done == NM);
    CHECK(seen.calls == 1 && seen.running == NM && seen.rows == 0);
    for (int i = 0; i < NM; i++) {
        int64_t upd = 0;
        CHECK(souk_erase_state(s, ids[i], &st, &upd, err, sizeof err) == SOUK_OK);
        CHECK(st == SOUK_JOB_COMPLETED && upd == now + 10);
        scan_clean(users[i], sess[i], "after erasure");
        /* The erasure set: no table keeps a row of the user (the supp row is a hash). */
        uint8_t up[SOUK_PSEUDO_LEN];
        int has[16];
        REQUIRE(souk__ev_user(s, users[i], strlen(users[i]), up) == SOUK_OK);
        CHECK(tables_with(s, up, has) == 0);
    }
    check_store(s, "after erasure");
    /* A replayed event of an erased user is suppressed; erasing again is the same job. */
    souk_event e = mk(SOUK_EV_PURCHASE, users[0], sess[0], "whole milk", "", now - 90000 + 1);
    CHECK(add1(s, &e, now + 20) == SOUK_EVO_SUPPRESSED);
    char again[33];
    CHECK(souk_erase_start(s, users[0], strlen(users[0]), now + 21, again, err, sizeof err) ==
          SOUK_OK);
    CHECK(!strcmp(again, ids[0]));
    CHECK(souk_erase_state(s, ids[0], &st, NULL, err, sizeof err) == SOUK_OK);
    CHECK(st == SOUK_JOB_COMPLETED);
    CHECK(souk_erase_run(s, now + 22, err, sizeof err) == 0);
    scan_clean(users[0], sess[0], "after a second start and run");
}

/* A kill (the child _exit()s) at each step of a run, then a run in a fresh process converges. */
static int crash_step;
static void crash_hook(int step)
{
    if (step == crash_step)
        _exit(0);
}

static souk_events *part_crash(souk_events *s, int64_t now)
{
    char err[512];
    for (int step = 1; step <= 4; step++) {
        char user[64], sess[64], id[33];
        marker_user(10 + step, user, sizeof user, sess, sizeof sess);
        add_marker_data(s, user, sess, now);
        CHECK(souk_erase_start(s, user, strlen(user), now, id, err, sizeof err) == SOUK_OK);
        souk_events_close(s);
        fflush(NULL);
        pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            souk_events *c = open_store();
            crash_step = step;
            souk__ev_erase_hook = crash_hook;
            souk_erase_run(c, now + 1, err, sizeof err);
            _exit(3); /* the hook did not fire */
        }
        int status;
        REQUIRE(waitpid(pid, &status, 0) == pid);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        s = open_store();
        souk_job_state st;
        CHECK(souk_erase_state(s, id, &st, NULL, err, sizeof err) == SOUK_OK);
        CHECK(st == (step == 4 ? SOUK_JOB_COMPLETED : SOUK_JOB_RUNNING));
        souk_consent c;
        CHECK(souk_consent_get(s, user, strlen(user), &c) == SOUK_OK);
        CHECK(!souk_consent_personalize(&c));
        int done = souk_erase_run(s, now + 2, err, sizeof err);
        CHECK(done == (step == 4 ? 0 : 1));
        CHECK(souk_erase_state(s, id, &st, NULL, err, sizeof err) == SOUK_OK);
        CHECK(st == SOUK_JOB_COMPLETED);
        char when[64];
        snprintf(when, sizeof when, "after a kill at step %d", step);
        scan_clean(user, sess, when);
        check_store(s, when);
    }
    /* SIGKILL at random moments of a run, until one run completes. */
    srand(7);
    char user[64], sess[64], id[33];
    marker_user(20, user, sizeof user, sess, sizeof sess);
    add_marker_data(s, user, sess, now);
    CHECK(souk_erase_start(s, user, strlen(user), now, id, err, sizeof err) == SOUK_OK);
    souk_job_state st = SOUK_JOB_PENDING;
    int kills = 0;
    for (int round = 0; round < 40 && st != SOUK_JOB_COMPLETED; round++) {
        souk_events_close(s);
        fflush(NULL);
        pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            souk_events *c = open_store();
            int rc = souk_erase_run(c, now + 3, err, sizeof err);
            _exit(rc < 0 ? 2 : 0);
        }
        long us = rand() % (20000L * (round + 1));
        struct timespec ts = {us / 1000000, (us % 1000000) * 1000L};
        nanosleep(&ts, NULL);
        kills += kill(pid, SIGKILL) == 0;
        int status;
        REQUIRE(waitpid(pid, &status, 0) == pid);
        CHECK(!WIFEXITED(status) || WEXITSTATUS(status) == 0);
        s = open_store();
        CHECK(souk_erase_state(s, id, &st, NULL, err, sizeof err) == SOUK_OK);
    }
    printf("crash: random SIGKILLs: %d\n", kills);
    if (st != SOUK_JOB_COMPLETED)
        CHECK(souk_erase_run(s, now + 4, err, sizeof err) == 1);
    CHECK(souk_erase_state(s, id, &st, NULL, err, sizeof err) == SOUK_OK);
    CHECK(st == SOUK_JOB_COMPLETED);
    scan_clean(user, sess, "after random kills");
    check_store(s, "after random kills");
    return s;
}

static cJSON *stats(souk_events *s, souk_qstat_kind kind, int64_t from, int64_t to, int noise,
                    char **text)
{
    souk_qstat_opts o = {0};
    o.kind = kind;
    o.from_ms = from;
    o.to_ms = to;
    o.noise = noise;
    char *json;
    size_t len;
    REQUIRE(souk_query_stats(s, &o, &json, &len) == SOUK_OK);
    cJSON *doc = cJSON_Parse(json);
    REQUIRE(doc);
    if (text)
        *text = json;
    else
        souk_free(json);
    return doc;
}

static cJSON *row_of(cJSON *doc, const char *query)
{
    cJSON *r;
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(doc, "rows"))
    {
        cJSON *q = cJSON_GetObjectItemCaseSensitive(r, "query");
        if (cJSON_IsString(q) && !strcmp(q->valuestring, query))
            return r;
    }
    return NULL;
}

static double num(cJSON *o, const char *k)
{
    cJSON *x = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(x) ? x->valuedouble : -1;
}

static void part_analytics(souk_events *s, int64_t now)
{
    /* A period of its own: two days, after the groceries. */
    int64_t t0 = (now / DAY_MS + 30) * DAY_MS;
    char user[64];
    size_t cap = 12000, n = 0;
    souk_event *b = malloc(cap * sizeof *b);
    REQUIRE(b);
    for (int i = 0; i < 50; i++) {
        snprintf(user, sizeof user, "stats-user-%d", i);
        set_consent(s, user, 1, 1, 0, 0, 0, t0);
        if (i < 50)
            b[n++] = mk(SOUK_EV_SEARCH, user, "", "", "query fifty", t0 + 1000 + i);
        if (i < 49) {
            b[n++] = mk(SOUK_EV_SEARCH, user, "", "", "query fortynine", t0 + 2000 + i);
            b[n++] = mk(SOUK_EV_SEARCH, user, "", "", "query spam", t0 + DAY_MS + 3000 + i);
        }
    }
    /* One more user sends 10,000 searches of "query spam" (over two days), and 10,000 of
     * "query fortynine": they count once. */
    set_consent(s, "stats-heavy", 1, 1, 0, 0, 0, t0);
    for (int i = 0; i < 10000; i++)
        b[n++] = mk(SOUK_EV_SEARCH, "stats-heavy", "", "", i % 2 ? "query spam" : "query fortynine",
                    t0 + 5000 + (int64_t)i * 17);
    REQUIRE(n <= cap);
    char err[256];
    souk_ev_counts c = {0};
    CHECK(souk_events_add(s, b, n, t0 + 2 * DAY_MS, NULL, &c, err, sizeof err) == SOUK_OK);
    CHECK_EQ_U64(c.stored, n);
    free(b);

    char *text;
    cJSON *doc = stats(s, SOUK_QSTAT_POPULAR, t0, t0 + 2 * DAY_MS, 0, &text);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "thresholded")));
    CHECK(num(doc, "k") == 50);
    cJSON *r50 = row_of(doc, "query fifty");
    CHECK(r50 && num(r50, "users") == 50 && num(r50, "searches") == 50);
    cJSON *spam = row_of(doc, "query spam");
    CHECK(spam && num(spam, "users") == 50 && num(spam, "searches") == 49 + 5000);
    cJSON *r49 = row_of(doc, "query fortynine"); /* 49 + the heavy user = 50 */
    CHECK(r49 && num(r49, "users") == 50);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "rows")) == 3);
    CHECK(!strstr(text, "total"));
    cJSON_Delete(doc);
    souk_free(text);
    /* The first day alone: "query fortynine" has 49 users plus the heavy user's first day
     * (searches at t0 + 5000 + 17 i < t0 + DAY_MS: all of them), "query spam" the heavy
     * user only: suppressed, and no total shows it. */
    doc = stats(s, SOUK_QSTAT_POPULAR, t0, t0 + DAY_MS, 0, &text);
    CHECK(row_of(doc, "query fifty") != NULL);
    CHECK(row_of(doc, "query spam") == NULL);
    CHECK(num(doc, "suppressed_rows") >= 1);
    CHECK(!strstr(text, "query spam"));
    cJSON_Delete(doc);
    souk_free(text);
    /* Day two: "query spam" has exactly 49 users (the heavy user searched on day one):
     * suppressed at k = 50, released at k = 49. */
    souk_qstat_opts o = {0};
    o.kind = SOUK_QSTAT_POPULAR;
    o.from_ms = t0 + DAY_MS;
    o.to_ms = t0 + 2 * DAY_MS;
    o.k = 50;
    char *json;
    size_t len;
    REQUIRE(souk_query_stats(s, &o, &json, &len) == SOUK_OK);
    cJSON *d2 = cJSON_Parse(json);
    REQUIRE(d2);
    CHECK(row_of(d2, "query spam") == NULL);
    CHECK(num(d2, "suppressed_rows") == 1);
    cJSON_Delete(d2);
    souk_free(json);
    o.k = 49;
    REQUIRE(souk_query_stats(s, &o, &json, &len) == SOUK_OK);
    d2 = cJSON_Parse(json);
    REQUIRE(d2);
    CHECK(num(d2, "k") == 49);
    cJSON *sp = row_of(d2, "query spam");
    CHECK(sp && num(sp, "users") == 49 && num(sp, "searches") == 49);
    cJSON_Delete(d2);
    souk_free(json);

    /* Zero-result searches: 50 users, one of them 1,000 times, and 49 users of another. */
    {
        souk_event *z = malloc(2000 * sizeof *z);
        REQUIRE(z);
        size_t nz = 0;
        for (int i = 0; i < 50; i++) {
            snprintf(user, sizeof user, "stats-user-%d", i);
            z[nz] = mk(SOUK_EV_SEARCH, user, "", "", "query nothing", t0 + 4000 + i);
            z[nz++].nhits = 0;
            if (i < 49) {
                z[nz] = mk(SOUK_EV_SEARCH, user, "", "", "query nowhere", t0 + 4100 + i);
                z[nz++].nhits = 0;
            }
        }
        for (int i = 0; i < 1000; i++) {
            z[nz] = mk(SOUK_EV_SEARCH, "stats-heavy", "", "", "query nowhere", t0 + 200000 + i * 3);
            z[nz++].nhits = 0;
        }
        CHECK(souk_events_add(s, z, nz, t0 + 2 * DAY_MS, NULL, NULL, err, sizeof err) == SOUK_OK);
        free(z);
        cJSON *zd = stats(s, SOUK_QSTAT_ZERO_RESULTS, t0, t0 + 2 * DAY_MS, 0, NULL);
        cJSON *zr = row_of(zd, "query nothing");
        CHECK(zr && num(zr, "users") == 50 && num(zr, "searches") == 50);
        zr = row_of(zd, "query nowhere"); /* 49 + the heavy user */
        CHECK(zr && num(zr, "users") == 50 && num(zr, "searches") == 49 + 1000);
        CHECK(row_of(zd, "query fifty") == NULL); /* it found something */
        CHECK(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(zd, "rows")) == 2);
        cJSON_Delete(zd);
    }

    /* Noise: stable per report and period, and different for another period. */
    char *a, *a2, *z;
    cJSON *da = stats(s, SOUK_QSTAT_POPULAR, t0, t0 + 2 * DAY_MS, 1, &a);
    cJSON *da2 = stats(s, SOUK_QSTAT_POPULAR, t0, t0 + 2 * DAY_MS, 1, &a2);
    cJSON *dz = stats(s, SOUK_QSTAT_POPULAR, t0 - 1, t0 + 2 * DAY_MS, 1, &z);
    CHECK(!strcmp(a, a2));
    CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(da, "noise")));
    /* The heavy user's 5,000 searches of "query spam" count 10 times (searches_cap) under
     * noise of scale 10: the cell is near 49 + 10, far from 5,049. */
    CHECK(num(da, "searches_cap") == 10);
    cJSON *nspam = row_of(da, "query spam");
    CHECK(nspam && fabs(num(nspam, "searches") - 59) < 150 && fabs(num(nspam, "users") - 50) < 20);
    cJSON *rows = cJSON_GetObjectItemCaseSensitive(da, "rows");
    CHECK(cJSON_GetArraySize(rows) == 5);
    cJSON *r;
    double diff = 0;
    cJSON_ArrayForEach(r, rows)
    {
        CHECK(num(r, "users") >= 0 && num(r, "searches") >= 0);
        cJSON *q = cJSON_GetObjectItemCaseSensitive(r, "query");
        cJSON *rz = row_of(dz, q->valuestring);
        CHECK(rz != NULL);
        if (rz)
            diff += fabs(num(r, "users") - num(rz, "users")) +
                    fabs(num(r, "searches") - num(rz, "searches"));
    }
    CHECK(diff > 0);
    cJSON_Delete(da);
    cJSON_Delete(da2);
    cJSON_Delete(dz);
    souk_free(a);
    souk_free(a2);
    souk_free(z);

    /* The groceries: the distinct members of each item's searches, k = 50. */
    if (ngl) {
        doc = stats(s, SOUK_QSTAT_POPULAR, 0, t0 - DAY_MS, 0, &text);
        int rows_n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(doc, "rows"));
        printf("groceries queries: %d released, %.0f suppressed\n", rows_n,
               num(doc, "suppressed_rows"));
        CHECK(rows_n > 10 && num(doc, "suppressed_rows") > 10);
        cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(doc, "rows"))
            CHECK(num(r, "users") >= 50);
        cJSON_Delete(doc);
        souk_free(text);
    }
}

static void part_audit(void)
{
    char path[512];
    snprintf(path, sizeof path, "%s/events/audit.log", datadir);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (!f)
        return;
    char line[4096];
    int n = 0, bad = 0;
    const char *want[] = {"consent_change", "history_clear",  "tag_delete", "item_delete",
                          "erase_start",    "erase_complete", "export"};
    int seen[7] = {0};
    while (fgets(line, sizeof line, f)) {
        n++;
        cJSON *o = cJSON_Parse(line);
        if (!o) {
            bad++;
            continue;
        }
        cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "action");
        cJSON *sub = cJSON_GetObjectItemCaseSensitive(o, "subject");
        CHECK(cJSON_IsString(a) && cJSON_IsString(sub) && strlen(sub->valuestring) == 32);
        for (int i = 0; i < 7; i++)
            if (cJSON_IsString(a) && !strcmp(a->valuestring, want[i]))
                seen[i] = 1;
        CHECK(!strstr(line, "user") && !strstr(line, "member-") && !strstr(line, "zq-"));
        cJSON_Delete(o);
    }
    fclose(f);
    CHECK(bad == 0 && n > 10);
    for (int i = 0; i < 7; i++) {
        if (!seen[i])
            fprintf(stderr, "audit: no %s line\n", want[i]);
        CHECK(seen[i]);
    }
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 077) == 0);
}

int main(void)
{
    souk_alloc_init();
    snprintf(datadir, sizeof datadir, "/tmp/souk-privacy-XXXXXX");
    snprintf(keydir, sizeof keydir, "/tmp/souk-privacy-keys-XXXXXX");
    REQUIRE(mkdtemp(datadir) && mkdtemp(keydir));
    snprintf(keyfile, sizeof keyfile, "%s/pseudo.keys", keydir);
    int fd = open(keyfile, O_WRONLY | O_CREAT | O_EXCL, 0600);
    REQUIRE(fd >= 0);
    const char *line = "1 0f1e2d3c4b5a69788796a5b4c3d2e1f000112233445566778899aabbccddeeff\n";
    REQUIRE(write(fd, line, strlen(line)) == (ssize_t)strlen(line));
    close(fd);
    char err[512];
    if (souk_keyring_load(keyfile, datadir, &kr, err, sizeof err) != SOUK_OK) {
        fprintf(stderr, "keyring: %s\n", err);
        return 1;
    }
    int have = load_groceries();
    if (!have) {
        fprintf(stderr, "SKIP: the Groceries data set (../shared/data/behavior/groceries) is "
                        "absent\n");
        rm_rf(datadir);
        rm_rf(keydir);
        return TEST_SKIP;
    }
    memset(&opts, 0, sizeof opts);
    opts.keys = kr;
    opts.retention.events_s = 20LL * 365 * 86400;
    opts.retention.impressions_s = 20LL * 365 * 86400;
    opts.retention.history_s = 20LL * 365 * 86400;
    opts.consent_default.personalization = 1; /* the groceries' members have no record */
    opts.consent_default.search_history = 1;
    opts.policy_version = 2;
    opts.item_tags = item_tags;
    opts.map_max = (size_t)4 << 30;
    souk_events *s = open_store();

    int64_t now = 0;
    for (size_t i = 0; i < ngl; i++)
        if (glines[i].ts > now)
            now = glines[i].ts;
    now += DAY_MS;
    add_groceries(s, now);
    check_store(s, "after the groceries");
    part_consent(s, now);
    part_history(s, now);
    part_deletions(s, now);
    part_export(s, now);
    part_erase(s, now + 100);
    s = part_crash(s, now + 200);
    part_analytics(s, now + 300);
    check_store(s, "at the end");
    part_audit();
    souk_events_close(s);
    souk_keyring_free(kr);
    free(glines);
    rm_rf(datadir);
    rm_rf(keydir);
    return check_done("test_privacy_store");
}
