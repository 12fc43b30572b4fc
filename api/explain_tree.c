/* explain_tree.c: a hit's score as a tree of named components (explain_tree.h). */
#include "explain_tree.h"

#include "souk/souk.h"

#include <math.h>
#include <string.h>

const char *sk_boost_fn_name(int fn)
{
    return fn == SOUK_BOOST_LOG1P ? "log1p" : fn == SOUK_BOOST_LINEAR ? "linear" : "decay";
}

const souk_query *sk_browse_query(void)
{
    static souk_qnode all[2] = {
        {.op = SOUK_QOP_SCALE_WEIGHT, .first_kid = 0, .nkids = 1, .scale = 0},
        {.op = SOUK_QOP_MATCH_ALL}};
    static uint32_t kid = 1;
    static const souk_query q = {.nodes = all, .nnodes = 2, .kids = &kid, .nkids = 1, .root = 0};
    return &q;
}

void sk_xtree_init(sk_xtree *t, const souk_schema *sc, const souk_query *q, sk_term_kind_fn kind)
{
    memset(t, 0, sizeof *t);
    t->sc = sc;
    t->q = q;
    t->kind = kind;
}

void sk_xtree_free(sk_xtree *t)
{
    souk_free(t->v);
    t->v = NULL;
    t->n = t->cap = 0;
}

void sk_xtree_add(void *ctx, const souk_explain_part *p)
{
    sk_xtree *t = ctx;
    if (souk_grow((void **)&t->v, &t->cap, t->n + 1, sizeof *t->v, SIZE_MAX)) {
        t->oom = 1;
        return;
    }
    sk_xpart *x = &t->v[t->n++];
    x->p = *p;
    size_t len = p->len < sizeof x->term - 1 ? p->len : sizeof x->term - 1;
    memcpy(x->term, p->term, len);
    x->term[len] = 0;
    x->p.term = x->term;
    x->p.len = len;
    /* the word without the field's prefix: "ZSfoo" -> "Zfoo", "Sfoo" -> "foo" */
    memcpy(x->word, x->term, len + 1);
    x->wlen = len;
    double factor = p->factor;
    if (p->kind == SOUK_EXPLAIN_TERM && p->field >= 0 && (size_t)p->field < t->sc->nfields) {
        const char *pre = t->sc->fields[p->field].prefix;
        size_t pl = strlen(pre), off = x->term[0] == 'Z' ? 1 : 0;
        if (len >= off + pl && memcmp(x->term + off, pre, pl) == 0) {
            memmove(x->word + off, x->term + off + pl, len - off - pl + 1);
            x->wlen = len - pl;
        }
        factor = p->field_weight != 0 ? p->factor / p->field_weight : p->factor;
    }
    x->kind = p->kind == SOUK_EXPLAIN_TERM ? t->kind(t->q, x->word, x->wlen, factor) : "";
}

/* The BM25 numbers of one scored term. */
static void write_bm25(sk_buf *b, const souk_explain_part *p)
{
    if (isnan(p->value))
        sk_buf_printf(b, "\"idf\":%.17g,\"tf\":%u,", p->idf, p->wdf);
    else /* BM25F: the weighted term frequency over the fields */
        sk_buf_printf(b, "\"idf\":%.17g,\"tf\":%.17g,", p->idf, p->value);
    sk_buf_printf(b,
                  "\"norm\":%.17g,\"doclen\":%u,\"termweight\":%.17g,\"factor\":%.17g,"
                  "\"score\":%.17g",
                  p->norm, p->doclen, p->termweight, p->factor, p->part);
}

void sk_xtree_write(sk_buf *b, const sk_xtree *t, double score)
{
    double text = 0;
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i].p.kind == SOUK_EXPLAIN_TERM)
            text += t->v[i].p.part;
    sk_buf_printf(b, ",\"explanation\":{\"score\":%.17g,\"parts\":[", score);
    sk_buf_printf(b, "{\"name\":\"text\",\"score\":%.17g,\"parts\":[", text);
    /* terms grouped by their word (the field terms of one word under it), in order */
    int first = 1;
    for (size_t i = 0; i < t->n; i++) {
        const sk_xpart *x = &t->v[i];
        if (x->p.kind != SOUK_EXPLAIN_TERM)
            continue;
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++)
            seen = t->v[j].p.kind == SOUK_EXPLAIN_TERM && t->v[j].wlen == x->wlen &&
                   t->v[j].p.field >= 0 && x->p.field >= 0 &&
                   memcmp(t->v[j].word, x->word, x->wlen) == 0;
        if (seen)
            continue;
        sk_buf_str(b, first ? "{\"name\":\"term\",\"term\":" : ",{\"name\":\"term\",\"term\":");
        first = 0;
        sk_buf_json_str(b, x->word, x->wlen);
        sk_buf_printf(b, ",\"kind\":\"%s\",", x->kind);
        if (x->p.field < 0) { /* the word itself: no fields */
            write_bm25(b, &x->p);
            sk_buf_str(b, "}");
            continue;
        }
        double sum = 0;
        for (size_t j = i; j < t->n; j++) {
            const sk_xpart *y = &t->v[j];
            if (y->p.kind == SOUK_EXPLAIN_TERM && y->p.field >= 0 && y->wlen == x->wlen &&
                memcmp(y->word, x->word, x->wlen) == 0)
                sum += y->p.part;
        }
        sk_buf_printf(b, "\"score\":%.17g,\"parts\":[", sum);
        int ff = 1;
        for (size_t j = i; j < t->n; j++) {
            const sk_xpart *y = &t->v[j];
            if (y->p.kind != SOUK_EXPLAIN_TERM || y->p.field < 0 || y->wlen != x->wlen ||
                memcmp(y->word, x->word, x->wlen) != 0)
                continue;
            const char *fname = t->sc->fields[y->p.field].name;
            sk_buf_str(b,
                       ff ? "{\"name\":\"field\",\"field\":" : ",{\"name\":\"field\",\"field\":");
            ff = 0;
            sk_buf_json_str(b, fname, strlen(fname));
            sk_buf_printf(b, ",\"weight\":%.17g,\"term\":", y->p.field_weight);
            sk_buf_json_str(b, y->term, y->p.len);
            sk_buf_str(b, ",");
            write_bm25(b, &y->p);
            sk_buf_str(b, "}");
        }
        sk_buf_str(b, "]}");
    }
    sk_buf_str(b, "]}");
    for (size_t i = 0; i < t->n; i++) {
        const souk_explain_part *p = &t->v[i].p;
        if (p->kind == SOUK_EXPLAIN_PROXIMITY) {
            sk_buf_printf(b,
                          ",{\"name\":\"proximity\",\"weight\":%.17g,\"closeness\":%.17g,"
                          "\"score\":%.17g}",
                          p->weight, p->value, p->part);
        } else if (p->kind == SOUK_EXPLAIN_BOOST) {
            const char *fname = t->sc->fields[p->field].name;
            sk_buf_str(b, ",{\"name\":\"boost\",\"source\":\"profile\",\"field\":");
            sk_buf_json_str(b, fname, strlen(fname));
            sk_buf_printf(b, ",\"fn\":\"%s\",\"weight\":%.17g", sk_boost_fn_name(p->fn), p->weight);
            if (isnan(p->value))
                sk_buf_str(b, ",\"value\":null");
            else
                sk_buf_printf(b, ",\"value\":%.17g", p->value);
            sk_buf_printf(b, ",\"score\":%.17g}", p->part);
        }
    }
    if (t->has_request_boost) {
        sk_buf_str(b, ",{\"name\":\"boost\",\"source\":\"request\",\"field\":");
        sk_buf_json_str(b, t->rb_field, strlen(t->rb_field));
        sk_buf_printf(b, ",\"fn\":\"log1p\",\"weight\":%.17g", t->rb_weight);
        if (isnan(t->rb_value))
            sk_buf_str(b, ",\"value\":null");
        else
            sk_buf_printf(b, ",\"value\":%.17g", t->rb_value);
        sk_buf_printf(b, ",\"score\":%.17g}", t->rb_score);
    }
    if (t->has_personal)
        sk_buf_printf(b,
                      ",{\"name\":\"personal\",\"affinity\":%.17g,\"weight\":%.17g,"
                      "\"top\":%.17g,\"score\":%.17g}",
                      t->pers_affinity, t->pers_weight, t->pers_top, t->pers_score);
    /* curation: pinned hits are placed, not scored (their score is kept as is) */
    sk_buf_printf(b, ",{\"name\":\"curation\",\"pinned\":%s,\"score\":0}]}",
                  t->pinned ? "true" : "false");
}
