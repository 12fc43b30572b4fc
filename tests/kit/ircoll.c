/* ircoll.c: loaders and writers of the Cranfield and CACM test collections (see ircoll.h).
 *
 * SMART files are read record by record: ".I <number>" opens a record, a line ".X" (a known
 * marker letter alone, or followed by blanks) opens field X, and the lines up to the next
 * marker belong to that field. Quirks of the shipped files that this handles:
 *   - Cranfield document 240 has ".A" and ".B" lines in the middle of its abstract (the text
 *     after them is abstract, not authors), and documents 576 and 578 have a second ".W": a
 *     marker already seen in the record therefore continues the current field.
 *   - Cranfield documents 471 and 995 have empty fields; they are kept (with empty strings).
 *   - CACM's query.text ends with a bare ".I 0": records without fields are dropped.
 *   - cacm.all contains two 0x19 control bytes (documents 2712 and 2857): control characters
 *     become spaces.
 *   - cranqrel mixes LF and CRLF endings and has trailing blanks; qrels.text has no final
 *     newline. */
#include "ircoll.h"
#include "souk/buf.h"
#include "souk/souk.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ helpers */

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int is_blank(int c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* A growable string. */
typedef souk_buf sbuf;

static int sbuf_add(sbuf *b, const char *s, size_t n)
{
    return souk_buf_add(b, s, n);
}

/* Appends one line of text, normalized (control characters and blank runs as one space,
 * trimmed), after sep when the buffer is not empty. Blank lines add nothing. */
static int sbuf_add_line(sbuf *b, const char *line, const char *sep)
{
    int rc = SOUK_OK;
    int first = 1, pending_space = 0;
    for (const char *s = line; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f || c == ' ') {
            pending_space = 1;
            continue;
        }
        if (first) {
            if (b->len)
                rc = sbuf_add(b, sep, strlen(sep));
            first = 0;
        } else if (pending_space) {
            rc = sbuf_add(b, " ", 1);
        }
        if (rc)
            return rc;
        pending_space = 0;
        rc = sbuf_add(b, (const char *)&c, 1);
        if (rc)
            return rc;
    }
    return SOUK_OK;
}

/* Takes the string out of b ("" when empty); NULL when out of memory. */
static char *sbuf_take(sbuf *b)
{
    char *p = b->p;
    if (!p)
        p = souk_strndup("", 0);
    *b = (sbuf){0};
    return p;
}

/* Copies an id, dropping leading zeros when it is all digits ("001" -> "1", "0" stays). Ids
 * that are not numbers are refused (NULL with *bad set). */
static char *norm_id(const char *s, int *bad)
{
    size_t n = strlen(s);
    *bad = 0;
    if (n == 0) {
        *bad = 1;
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            *bad = 1;
            return NULL;
        }
    }
    while (n > 1 && *s == '0') {
        s++;
        n--;
    }
    return souk_strndup(s, n);
}

/* Splits line in place at blanks; stores up to max tokens and returns how many there are. */
static size_t split_fields(char *line, char **tok, size_t max)
{
    size_t n = 0;
    char *s = line;
    for (;;) {
        while (*s && is_blank((unsigned char)*s))
            s++;
        if (!*s)
            return n;
        if (n < max)
            tok[n] = s;
        n++;
        while (*s && !is_blank((unsigned char)*s))
            s++;
        if (*s)
            *s++ = '\0';
    }
}

static void join_path(char *buf, size_t n, const char *dir, const char *file)
{
    size_t l = strlen(dir);
    snprintf(buf, n, "%s%s%s", dir, l && dir[l - 1] == '/' ? "" : "/", file);
}

/* ------------------------------------------------------------------ SMART records */

typedef struct smart_rec {
    char *id;      /* .I value as written */
    sbuf field[3]; /* the kept fields, in the order of `keep` */
    size_t lineno; /* line of the .I */
} smart_rec;

typedef struct smart_file {
    smart_rec *recs;
    size_t n, cap;
} smart_file;

static void smart_free(smart_file *f)
{
    for (size_t i = 0; i < f->n; i++) {
        souk_free(f->recs[i].id);
        for (size_t k = 0; k < 3; k++)
            souk_free(f->recs[i].field[k].p);
    }
    souk_free(f->recs);
    *f = (smart_file){0};
}

/* Reads a SMART file whose field markers are the letters of `known`, keeping the text of the
 * (at most 3) fields in `keep`; fields listed in `authors` are joined with "; ". */
static int smart_read(const char *path, const char *known, const char *keep, const char *authors,
                      smart_file *out, size_t *nrepeated, size_t *ndropped, char *err,
                      size_t errlen)
{
    smart_file f = {0};
    char *line = NULL; /* getline's buffer, from the C library */
    size_t cap = 0, lineno = 0;
    unsigned seen = 0;  /* markers seen in the current record, bit per letter */
    int cur = 0;        /* current field letter, 0 before the first */
    int rec_fields = 0; /* markers in the current record */
    int rc = SOUK_OK;
    FILE *fp = fopen(path, "r");
    if (!fp) {
        set_err(err, errlen, "cannot open '%s': %s", path, strerror(errno));
        return SOUK_EIO;
    }
    ssize_t len;
    while ((len = getline(&line, &cap, fp)) >= 0) {
        lineno++;
        while (len > 0 && is_blank((unsigned char)line[len - 1]))
            line[--len] = '\0';
        int marker = line[0] == '.' && line[1] >= 'A' && line[1] <= 'Z' &&
                     (line[2] == '\0' || is_blank((unsigned char)line[2]));
        if (marker && line[1] == 'I') {
            if (f.n && rec_fields == 0) {
                /* the previous record had no field: drop it */
                souk_free(f.recs[--f.n].id);
                (*ndropped)++;
            }
            char *id = line + 2;
            while (*id && is_blank((unsigned char)*id))
                id++;
            if (!*id) {
                set_err(err, errlen, "%s:%zu: '.I' without a number", path, lineno);
                rc = SOUK_EINVAL;
                goto out;
            }
            if (souk_grow((void **)&f.recs, &f.cap, f.n + 1, sizeof *f.recs, SIZE_MAX))
                goto nomem;
            f.recs[f.n] = (smart_rec){.lineno = lineno};
            f.recs[f.n].id = souk_strndup(id, strlen(id));
            if (!f.recs[f.n].id)
                goto nomem;
            f.n++;
            seen = 0;
            cur = 0;
            rec_fields = 0;
            continue;
        }
        if (marker && strchr(known, line[1])) {
            if (!f.n) {
                set_err(err, errlen, "%s:%zu: field '.%c' before the first '.I'", path, lineno,
                        line[1]);
                rc = SOUK_EINVAL;
                goto out;
            }
            unsigned bit = 1u << (line[1] - 'A');
            rec_fields++;
            if (seen & bit) {
                (*nrepeated)++; /* repeated marker: the current field goes on */
            } else {
                seen |= bit;
                cur = line[1];
            }
            if (!line[2])
                continue;
            /* text on the marker line itself belongs to the field: fall through with it */
            memmove(line, line + 2, strlen(line + 2) + 1);
        }
        if (!f.n || !cur) {
            const char *s = line;
            while (*s && is_blank((unsigned char)*s))
                s++;
            if (!*s)
                continue;
            set_err(err, errlen, "%s:%zu: text outside of a field", path, lineno);
            rc = SOUK_EINVAL;
            goto out;
        }
        const char *k = strchr(keep, cur);
        if (!k)
            continue;
        rc = sbuf_add_line(&f.recs[f.n - 1].field[k - keep], line,
                           strchr(authors, cur) ? "; " : " ");
        if (rc)
            goto out;
    }
    if (ferror(fp)) {
        set_err(err, errlen, "cannot read '%s': %s", path, strerror(errno));
        rc = SOUK_EIO;
        goto out;
    }
    if (f.n && rec_fields == 0) {
        souk_free(f.recs[--f.n].id);
        (*ndropped)++;
    }
    goto out;
nomem:
    set_err(err, errlen, "%s:%zu: out of memory", path, lineno);
    rc = SOUK_ENOMEM;
out:
    free(line);
    fclose(fp);
    if (rc)
        smart_free(&f);
    else
        *out = f;
    return rc;
}

/* ------------------------------------------------------------------ collections */

const char *ircoll_name(ircoll_kind kind)
{
    switch (kind) {
    case IRCOLL_CRANFIELD:
        return "cranfield";
    case IRCOLL_CACM:
        return "cacm";
    }
    return NULL;
}

int ircoll_kind_parse(const char *name, ircoll_kind *out)
{
    if (name && strcmp(name, "cranfield") == 0)
        *out = IRCOLL_CRANFIELD;
    else if (name && strcmp(name, "cacm") == 0)
        *out = IRCOLL_CACM;
    else
        return SOUK_EINVAL;
    return SOUK_OK;
}

void ircoll_free(ircoll *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->ndocs; i++) {
        souk_free(c->docs[i].id);
        souk_free(c->docs[i].title);
        souk_free(c->docs[i].text);
        souk_free(c->docs[i].authors);
    }
    for (size_t i = 0; i < c->nqueries; i++) {
        souk_free(c->queries[i].id);
        souk_free(c->queries[i].source_id);
        souk_free(c->queries[i].text);
    }
    for (size_t i = 0; i < c->njudgements; i++) {
        souk_free(c->judgements[i].qid);
        souk_free(c->judgements[i].docid);
    }
    souk_free(c->docs);
    souk_free(c->queries);
    souk_free(c->judgements);
    souk_free(c);
}

static int cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Fills c->docs from the document file. Sets *index to the doc ids sorted, for lookups. */
static int load_docs(ircoll *c, const char *path, const char *known, char ***index, char *err,
                     size_t errlen)
{
    smart_file f = {0};
    char **ids = NULL;
    int rc = smart_read(path, known, "TWA", "A", &f, &c->nrepeated_markers, &c->ndropped_records,
                        err, errlen);
    if (rc)
        return rc;
    c->docs = souk_calloc(f.n, sizeof *c->docs);
    ids = souk_malloc((f.n ? f.n : 1) * sizeof *ids);
    if (!c->docs || !ids)
        goto nomem;
    for (size_t i = 0; i < f.n; i++) {
        smart_rec *r = &f.recs[i];
        ircoll_doc *d = &c->docs[i];
        int bad;
        d->id = norm_id(r->id, &bad);
        if (bad) {
            set_err(err, errlen, "%s:%zu: document id '%s' is not a number", path, r->lineno,
                    r->id);
            rc = SOUK_EINVAL;
            goto out;
        }
        c->ndocs++;
        d->title = sbuf_take(&r->field[0]);
        d->text = sbuf_take(&r->field[1]);
        d->authors = sbuf_take(&r->field[2]);
        if (!d->id || !d->title || !d->text || !d->authors)
            goto nomem;
        ids[i] = d->id;
    }
    qsort(ids, c->ndocs, sizeof *ids, cmp_str_ptr);
    for (size_t i = 1; i < c->ndocs; i++) {
        if (strcmp(ids[i - 1], ids[i]) == 0) {
            set_err(err, errlen, "%s: document id '%s' appears twice", path, ids[i]);
            rc = SOUK_EINVAL;
            goto out;
        }
    }
    *index = ids;
    ids = NULL;
    rc = SOUK_OK;
    goto out;
nomem:
    set_err(err, errlen, "%s: out of memory", path);
    rc = SOUK_ENOMEM;
out:
    souk_free(ids);
    smart_free(&f);
    return rc;
}

/* Fills c->queries from the query file. Cranfield ids are positions, CACM ids the .I. */
static int load_queries(ircoll *c, const char *path, const char *known, char *err, size_t errlen)
{
    smart_file f = {0};
    int rc = smart_read(path, known, "W", "", &f, &c->nrepeated_markers, &c->ndropped_records, err,
                        errlen);
    if (rc)
        return rc;
    c->queries = souk_calloc(f.n, sizeof *c->queries);
    if (!c->queries)
        goto nomem;
    for (size_t i = 0; i < f.n; i++) {
        smart_rec *r = &f.recs[i];
        ircoll_query *q = &c->queries[i];
        int bad = 0;
        char pos[32];
        snprintf(pos, sizeof pos, "%zu", i + 1);
        q->id = c->kind == IRCOLL_CRANFIELD ? souk_strndup(pos, strlen(pos)) : norm_id(r->id, &bad);
        if (c->kind == IRCOLL_CACM && bad) {
            set_err(err, errlen, "%s:%zu: query id '%s' is not a number", path, r->lineno, r->id);
            rc = SOUK_EINVAL;
            goto out;
        }
        c->nqueries++;
        q->source_id = souk_strndup(r->id, strlen(r->id));
        q->text = sbuf_take(&r->field[0]);
        if (!q->id || !q->source_id || !q->text)
            goto nomem;
    }
    for (size_t i = 0; i < c->nqueries; i++) {
        for (size_t j = 0; j < i; j++) {
            if (strcmp(c->queries[i].id, c->queries[j].id) == 0) {
                set_err(err, errlen, "%s: query id '%s' appears twice", path, c->queries[i].id);
                rc = SOUK_EINVAL;
                goto out;
            }
        }
    }
    rc = SOUK_OK;
    goto out;
nomem:
    set_err(err, errlen, "%s: out of memory", path);
    rc = SOUK_ENOMEM;
out:
    smart_free(&f);
    return rc;
}

static const ircoll_query *find_query(const ircoll *c, const char *id)
{
    for (size_t i = 0; i < c->nqueries; i++) {
        if (strcmp(c->queries[i].id, id) == 0)
            return &c->queries[i];
    }
    return NULL;
}

/* Checks and adds one judgement line (tokens tok[0..ntok)); qid and docid are taken over. */
static int add_judgement(ircoll *c, char **tok, size_t ntok, char **doc_index, size_t *jcap,
                         const char *path, size_t lineno, char *err, size_t errlen)
{
    int cranfield = c->kind == IRCOLL_CRANFIELD;
    size_t want = cranfield ? 3 : 4;
    int grade = 1, gain = 1, bad_q = 0, bad_d = 0, rc = SOUK_EINVAL;
    char *qid = NULL, *docid = NULL;
    if (ntok != want) {
        set_err(err, errlen, "%s:%zu: expected %zu fields (%s), found %zu", path, lineno, want,
                cranfield ? "qid docid grade" : "qid docid 0 0", ntok);
        goto out;
    }
    if (cranfield) {
        char *end;
        long g = strtol(tok[2], &end, 10);
        if (*end || !(g == -1 || (g >= 1 && g <= 5))) {
            set_err(err, errlen, "%s:%zu: grade '%s' is not -1 or 1..5", path, lineno, tok[2]);
            goto out;
        }
        grade = (int)g;
        gain = grade >= 1 && grade <= 4 ? 5 - grade : 0;
    }
    qid = norm_id(tok[0], &bad_q);
    docid = norm_id(tok[1], &bad_d);
    if (bad_q || bad_d) {
        set_err(err, errlen, "%s:%zu: '%s' is not a number", path, lineno, bad_q ? tok[0] : tok[1]);
        goto out;
    }
    if (!qid || !docid)
        goto nomem;
    if (!find_query(c, qid)) {
        set_err(err, errlen, "%s:%zu: query '%s' is not in the query file (%zu queries)", path,
                lineno, qid, c->nqueries);
        goto out;
    }
    if (!bsearch(&docid, doc_index, c->ndocs, sizeof *doc_index, cmp_str_ptr)) {
        set_err(err, errlen, "%s:%zu: document '%s' is not in the collection", path, lineno, docid);
        goto out;
    }
    if (souk_grow((void **)&c->judgements, jcap, c->njudgements + 1, sizeof *c->judgements,
                  SIZE_MAX))
        goto nomem;
    c->judgements[c->njudgements++] = (ircoll_judgement){qid, docid, grade, gain};
    return SOUK_OK;
nomem:
    set_err(err, errlen, "%s:%zu: out of memory", path, lineno);
    rc = SOUK_ENOMEM;
out:
    souk_free(qid);
    souk_free(docid);
    return rc;
}

/* Fills c->judgements from the qrels file; doc_index holds the sorted document ids. */
static int load_judgements(ircoll *c, const char *path, char **doc_index, char *err, size_t errlen)
{
    FILE *fp = fopen(path, "r");
    if (!fp) {
        set_err(err, errlen, "cannot open '%s': %s", path, strerror(errno));
        return SOUK_EIO;
    }
    char *line = NULL; /* getline's buffer, from the C library */
    size_t cap = 0, lineno = 0, jcap = 0;
    int rc = SOUK_OK;
    while (getline(&line, &cap, fp) >= 0) {
        lineno++;
        char *tok[4];
        size_t ntok = split_fields(line, tok, 4);
        if (ntok == 0)
            continue;
        rc = add_judgement(c, tok, ntok, doc_index, &jcap, path, lineno, err, errlen);
        if (rc)
            goto out;
    }
    if (ferror(fp)) {
        set_err(err, errlen, "cannot read '%s': %s", path, strerror(errno));
        rc = SOUK_EIO;
    }
out:
    free(line);
    fclose(fp);
    return rc;
}

int ircoll_load(ircoll_kind kind, const char *dir, ircoll **out, char *err, size_t errlen)
{
    static const struct {
        const char *docs, *doc_markers, *queries, *query_markers, *qrels;
    } files[] = {
        [IRCOLL_CRANFIELD] = {"cran.all.1400", "TABW", "cran.qry", "W", "cranqrel"},
        [IRCOLL_CACM] = {"cacm.all", "TWBANXCK", "query.text", "WAN", "qrels.text"},
    };
    if (!dir || !out || (kind != IRCOLL_CRANFIELD && kind != IRCOLL_CACM)) {
        set_err(err, errlen, "ircoll_load: invalid argument");
        return SOUK_EINVAL;
    }
    char path[4096];
    char **doc_index = NULL;
    int rc;
    ircoll *c = souk_calloc(1, sizeof *c);
    if (!c) {
        set_err(err, errlen, "out of memory");
        return SOUK_ENOMEM;
    }
    c->kind = kind;
    join_path(path, sizeof path, dir, files[kind].docs);
    rc = load_docs(c, path, files[kind].doc_markers, &doc_index, err, errlen);
    if (rc)
        goto out;
    join_path(path, sizeof path, dir, files[kind].queries);
    rc = load_queries(c, path, files[kind].query_markers, err, errlen);
    if (rc)
        goto out;
    join_path(path, sizeof path, dir, files[kind].qrels);
    rc = load_judgements(c, path, doc_index, err, errlen);
out:
    souk_free(doc_index);
    if (rc)
        ircoll_free(c);
    else
        *out = c;
    return rc;
}

/* ------------------------------------------------------------------ writers */

int ircoll_write_ndjson(const ircoll *c, FILE *fp)
{
    int rc = SOUK_OK;
    for (size_t i = 0; i < c->ndocs; i++) {
        const ircoll_doc *d = &c->docs[i];
        cJSON *o = cJSON_CreateObject();
        char *s = NULL;
        if (!o || !cJSON_AddStringToObject(o, "id", d->id) ||
            !cJSON_AddStringToObject(o, "title", d->title) ||
            !cJSON_AddStringToObject(o, "body", d->text) ||
            !cJSON_AddStringToObject(o, "authors", d->authors) || !(s = cJSON_PrintUnformatted(o)))
            rc = SOUK_ENOMEM;
        else if (fputs(s, fp) == EOF || putc('\n', fp) == EOF)
            rc = SOUK_EIO;
        cJSON_free(s);
        cJSON_Delete(o);
        if (rc)
            return rc;
    }
    return fflush(fp) == 0 ? SOUK_OK : SOUK_EIO;
}

int ircoll_write_qrels(const ircoll *c, FILE *fp)
{
    for (size_t i = 0; i < c->njudgements; i++) {
        const ircoll_judgement *j = &c->judgements[i];
        if (fprintf(fp, "%s 0 %s %d\n", j->qid, j->docid, j->gain) < 0)
            return SOUK_EIO;
    }
    return fflush(fp) == 0 ? SOUK_OK : SOUK_EIO;
}

int ircoll_add_judgements(const ircoll *c, souk_eval *e)
{
    for (size_t i = 0; i < c->njudgements; i++) {
        const ircoll_judgement *j = &c->judgements[i];
        int rc = souk_eval_judge(e, j->qid, j->docid, j->gain);
        if (rc)
            return rc;
    }
    return SOUK_OK;
}
