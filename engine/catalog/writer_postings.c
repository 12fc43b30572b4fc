/* writer_postings.c: merging one term's changes into its dictionary entry and postings blocks
 * in the commit's write transaction: decoded postings lists, block encoding with exact block
 * maxima, and the block-by-block merge. */
#include "souk/buf.h"
#include "catalog/writer_int.h"

#include <errno.h>
#include <math.h>
#include <string.h>

int souk__plist_reserve(plist *p, uint32_t n, size_t npos)
{
    /* Four arrays of one capacity: each grows alike from the same one. */
    size_t c1 = p->cap, c2 = p->cap, c3 = p->cap, c4 = p->cap;
    if (souk_grow_first((void **)&p->docids, &c1, n, sizeof *p->docids, UINT32_MAX, 256) ||
        souk_grow_first((void **)&p->wdfs, &c2, n, sizeof *p->wdfs, UINT32_MAX, 256) ||
        souk_grow_first((void **)&p->npos, &c3, n, sizeof *p->npos, UINT32_MAX, 256) ||
        souk_grow_first((void **)&p->doclens, &c4, n, sizeof *p->doclens, UINT32_MAX, 256))
        return SOUK_ENOMEM;
    p->cap = (uint32_t)c1;
    return souk_grow_first((void **)&p->pos, &p->pos_cap, npos, sizeof *p->pos, SIZE_MAX, 1024);
}

void souk__plist_free(plist *p)
{
    souk_free(p->docids);
    souk_free(p->wdfs);
    souk_free(p->npos);
    souk_free(p->doclens);
    souk_free(p->pos);
    memset(p, 0, sizeof *p);
}

static int plist_push(plist *p, uint32_t docid, uint32_t wdf, uint32_t npos, const uint32_t *pos,
                      uint32_t doclen)
{
    int rc = souk__plist_reserve(p, p->n + 1, p->npos_total + npos);
    if (rc)
        return rc;
    p->doclens[p->n] = doclen;
    p->docids[p->n] = docid;
    p->wdfs[p->n] = wdf;
    p->npos[p->n] = npos;
    if (npos)
        memcpy(p->pos + p->npos_total, pos, npos * sizeof *pos);
    p->npos_total += npos;
    p->n++;
    return SOUK_OK;
}

/* Appends a decoded block to p. */
static int plist_add_block(plist *p, const souk_block *b)
{
    uint32_t d[SOUK_BLOCK_MAX], f[SOUK_BLOCK_MAX], np[SOUK_BLOCK_MAX];
    int rc;
    if ((rc = souk_block_docids(b, d)) || (rc = souk_block_wdfs(b, f)))
        return rc;
    size_t total = 0;
    rc = souk_block_positions(b, np, NULL, 0, &total);
    if (rc && rc != SOUK_ETOOBIG)
        return rc;
    if ((rc = souk__plist_reserve(p, p->n + b->count, p->npos_total + total)) != 0)
        return rc;
    if (total && (rc = souk_block_positions(b, np, p->pos + p->npos_total, total, &total)) != 0)
        return rc;
    memcpy(p->docids + p->n, d, b->count * sizeof *d);
    memcpy(p->wdfs + p->n, f, b->count * sizeof *f);
    memcpy(p->npos + p->n, np, b->count * sizeof *np);
    for (uint32_t i = 0; i < b->count; i++)
        p->doclens[p->n + i] = DOCLEN_UNKNOWN;
    p->n += b->count;
    p->npos_total += total;
    return SOUK_OK;
}

/* Reads the length of docid inside the write transaction (copying a chunk at a time). */
int souk__doclen_get(commit_ctx *c, uint32_t docid, uint32_t *len)
{
    uint32_t chunk = docid / SOUK_DOCLEN_CHUNK;
    if (!c->dl_chunk_valid || c->dl_chunk_no != chunk) {
        uint8_t key[4];
        be32_put(key, chunk);
        MDB_val k = {4, key}, d;
        int rc = mdb_get(c->txn, c->ix->doclen, &k, &d);
        if (rc == MDB_NOTFOUND)
            memset(c->dl_chunk, 0, sizeof c->dl_chunk);
        else if (rc)
            return souk__writer_err(c->w, rc);
        else if (d.mv_size != sizeof c->dl_chunk)
            return SOUK_ECORRUPT;
        else
            memcpy(c->dl_chunk, d.mv_data, sizeof c->dl_chunk);
        c->dl_chunk_no = chunk;
        c->dl_chunk_valid = 1;
    }
    *len = c->dl_chunk[docid % SOUK_DOCLEN_CHUNK];
    return 0;
}

int souk__buf_reserve(commit_ctx *c, size_t n)
{
    return souk_grow_first((void **)&c->buf, &c->bufcap, n, 1, SIZE_MAX, 65536);
}

/* Encodes postings o[from, to) as one block into c->buf; returns its length via *len. */
/* Describes postings o[from, to) as a block to encode, given each document's length (lens may
 * alias o->doclens). *npos_out gets the number of positions. */
void souk__block_input(const plist *o, const uint32_t *lens, uint32_t from, uint32_t to,
                       size_t pos_from, souk_block_in *in, size_t *npos_out)
{
    uint32_t min_dl = UINT32_MAX;
    double min_ratio = INFINITY;
    size_t npos = 0;
    int has_pos = 0;
    for (uint32_t i = from; i < to; i++) {
        uint32_t dl = lens[i];
        if (dl < min_dl)
            min_dl = dl;
        if (o->wdfs[i] && (double)dl / o->wdfs[i] < min_ratio)
            min_ratio = (double)dl / o->wdfs[i];
        npos += o->npos[i];
        has_pos |= o->npos[i] != 0;
    }
    /* Rounded down, so the bound it gives stays an upper bound. */
    float ratio = (float)min_ratio;
    if ((double)ratio > min_ratio)
        ratio = nextafterf(ratio, 0.0f);
    souk_block_in b = {
        to - from,         o->docids + from, o->wdfs + from, has_pos ? o->npos + from : NULL,
        o->pos + pos_from, min_dl,           ratio,          NULL};
    *in = b;
    *npos_out = npos;
}

/* Encodes postings o[from, to) as one block into c->buf; returns its length via *len. */
static int encode_range(commit_ctx *c, plist *o, uint32_t from, uint32_t to, size_t pos_from,
                        size_t *len)
{
    for (uint32_t i = from; i < to; i++) {
        if (o->doclens[i] == DOCLEN_UNKNOWN) {
            int rc = souk__doclen_get(c, o->docids[i], &o->doclens[i]);
            if (rc)
                return rc;
        }
    }
    souk_block_in in;
    size_t npos;
    souk__block_input(o, o->doclens, from, to, pos_from, &in, &npos);
    if (souk__buf_reserve(c, souk_block_bound(to - from, npos)))
        return SOUK_ENOMEM;
    *len = souk_block_encode(&in, c->buf);
    return 0;
}

/* Writes postings o as blocks of SOUK_BLOCK_MAX into the post database; counts them. */
static int write_blocks(commit_ctx *c, const char *term, uint32_t tlen, plist *o, uint32_t *nblocks)
{
    size_t pos_at = 0;
    for (uint32_t from = 0; from < o->n; from += SOUK_BLOCK_MAX) {
        uint32_t to = from + SOUK_BLOCK_MAX < o->n ? from + SOUK_BLOCK_MAX : o->n;
        size_t len;
        int rc = encode_range(c, o, from, to, pos_at, &len);
        if (rc)
            return rc;
        for (uint32_t i = from; i < to; i++)
            pos_at += o->npos[i];
        uint8_t key[520];
        MDB_val k = {souk__post_key(term, tlen, o->docids[to - 1], key), key};
        MDB_val d = {len, c->buf};
        rc = mdb_put(c->txn, c->ix->post, &k, &d, c->post_append ? MDB_APPEND : 0);
        if (rc)
            return souk__writer_err(c->w, rc);
        (*nblocks)++;
    }
    return 0;
}

/* Merges existing postings e with changes ch[i..j) (sorted by docid) into o, updating the term's
 * df/cf and noting whether an existing posting at max_wdf changed. */
static int merge_changes(const commit_ctx *c, const plist *e, const tchange *ch, size_t ni,
                         plist *o, souk_term_info *info, int *max_touched)
{
    size_t a = 0, b = 0, pa = 0;
    o->n = 0;
    o->npos_total = 0;
    while (a < e->n || b < ni) {
        const tchange *t = b < ni ? &ch[b] : NULL;
        int rc;
        if (a < e->n && (!t || e->docids[a] < t->docid)) {
            rc = plist_push(o, e->docids[a], e->wdfs[a], e->npos[a], e->pos + pa, e->doclens[a]);
            pa += e->npos[a];
            a++;
        } else {
            int same = a < e->n && e->docids[a] == t->docid;
            if (same) {
                info->df--;
                info->cf -= e->wdfs[a];
                if (e->wdfs[a] >= info->max_wdf)
                    *max_touched = 1;
                pa += e->npos[a];
                a++;
            }
            if (!CH_DEL(t)) {
                rc = plist_push(o, t->docid, t->wdf, t->npos, pos_of(&c->w->pos, t->pos, t->npos),
                                change_doclen(c, t));
                info->df++;
                info->cf += t->wdf;
                if (t->wdf > info->max_wdf)
                    info->max_wdf = t->wdf;
            } else {
                rc = 0;
            }
            b++;
        }
        if (rc)
            return rc;
    }
    return 0;
}

/* Recomputes a term's max wdf from its postings blocks' headers. */
static int rescan_max_wdf(commit_ctx *c, const char *term, uint32_t tlen, uint32_t *max)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(c->txn, c->ix->post, &cur);
    if (rc)
        return souk__writer_err(c->w, rc);
    uint8_t key[520];
    MDB_val k = {souk__post_key(term, tlen, 0, key), key}, d;
    *max = 0;
    for (rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT)) {
        const uint8_t *kk = k.mv_data;
        if (k.mv_size != tlen + 5 || memcmp(kk, term, tlen) || kk[tlen])
            break;
        souk_block b;
        if (souk_block_parse(d.mv_data, d.mv_size, &b)) {
            mdb_cursor_close(cur);
            return SOUK_ECORRUPT;
        }
        if (b.max_wdf > *max)
            *max = b.max_wdf;
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND || rc == 0 ? 0 : souk__writer_err(c->w, rc);
}

/* Applies the changes ch[0..n) (sorted by docid) of one term to its dictionary entry and
 * postings. */
int souk__merge_term(commit_ctx *c, const char *term, uint32_t tlen, const tchange *ch, size_t n)
{
    MDB_val k = {tlen, (void *)term}, d;
    souk_term_info info = {0, 0, 0, 0};
    souk__dict dd;
    /* Into an empty dictionary (appending) no term can exist yet. */
    int rc = c->terms_append ? MDB_NOTFOUND : mdb_get(c->txn, c->ix->terms, &k, &d);
    int max_touched = 0;
    int existed = rc == 0;
    if (rc && rc != MDB_NOTFOUND)
        return souk__writer_err(c->w, rc);
    c->e.n = 0;
    c->e.npos_total = 0;
    if (existed) {
        if (souk__dict_decode(d.mv_data, d.mv_size, &dd))
            return SOUK_ECORRUPT;
        info = dd.info;
    }
    if (!existed || info.nblocks == 0) {
        if (existed && dd.inline_len) {
            souk_block b;
            if (souk_block_parse(dd.inline_block, dd.inline_len, &b))
                return SOUK_ECORRUPT;
            if ((rc = plist_add_block(&c->e, &b)) != 0)
                return rc == SOUK_ENOMEM ? SOUK_ENOMEM : SOUK_ECORRUPT;
        }
        if ((rc = merge_changes(c, &c->e, ch, n, &c->o, &info, &max_touched)) != 0)
            return rc;
        if (c->o.n == 0) {
            rc = existed ? mdb_del(c->txn, c->ix->terms, &k, NULL) : 0;
            return rc ? souk__writer_err(c->w, rc) : 0;
        }
        if (max_touched) {
            info.max_wdf = 0;
            for (uint32_t i = 0; i < c->o.n; i++)
                if (c->o.wdfs[i] > info.max_wdf)
                    info.max_wdf = c->o.wdfs[i];
        }
        size_t blen = 0;
        int inl = 0;
        if (c->o.n <= SOUK_BLOCK_MAX) {
            if ((rc = encode_range(c, &c->o, 0, c->o.n, 0, &blen)) != 0)
                return rc;
            inl = blen <= SOUK_INLINE_MAX;
        }
        info.nblocks = 0;
        if (!inl) {
            if ((rc = write_blocks(c, term, tlen, &c->o, &info.nblocks)) != 0)
                return rc;
            blen = 0;
        }
        uint8_t dv[64 + SOUK_INLINE_MAX];
        MDB_val v = {souk__dict_encode(&info, c->buf, blen, dv), dv};
        rc = mdb_put(c->txn, c->ix->terms, &k, &v, (!existed && c->terms_append) ? MDB_APPEND : 0);
        return rc ? souk__writer_err(c->w, rc) : 0;
    }
    /* Postings in the post database: merge block by block. */
    MDB_cursor *cur;
    if ((rc = mdb_cursor_open(c->txn, c->ix->post, &cur)) != 0)
        return souk__writer_err(c->w, rc);
    size_t i = 0;
    uint8_t key[520];
    while (i < n && rc == 0) {
        MDB_val bk = {souk__post_key(term, tlen, ch[i].docid, key), key}, bd;
        rc = mdb_cursor_get(cur, &bk, &bd, MDB_SET_RANGE);
        const uint8_t *kk = bk.mv_data;
        int in_term = rc == 0 && bk.mv_size == tlen + 5 && !memcmp(kk, term, tlen) && !kk[tlen];
        size_t j = i;
        c->e.n = 0;
        c->e.npos_total = 0;
        if (in_term) {
            uint32_t last = be32_get(kk + tlen + 1);
            while (j < n && ch[j].docid <= last)
                j++;
        } else {
            if (rc && rc != MDB_NOTFOUND) {
                rc = souk__writer_err(c->w, rc);
                break;
            }
            /* Past the last block: extend the last block if it has room. */
            rc = rc == 0 ? mdb_cursor_get(cur, &bk, &bd, MDB_PREV)
                         : mdb_cursor_get(cur, &bk, &bd, MDB_LAST);
            kk = bk.mv_data;
            in_term = rc == 0 && bk.mv_size == tlen + 5 && !memcmp(kk, term, tlen) && !kk[tlen];
            j = n;
            rc = 0;
        }
        if (in_term) {
            souk_block b;
            if (souk_block_parse(bd.mv_data, bd.mv_size, &b)) {
                rc = SOUK_ECORRUPT;
                break;
            }
            if (j > i && (b.count < SOUK_BLOCK_MAX || ch[i].docid <= b.last_docid)) {
                if ((rc = plist_add_block(&c->e, &b)) != 0) {
                    rc = rc == SOUK_ENOMEM ? SOUK_ENOMEM : SOUK_ECORRUPT;
                    break;
                }
                if ((rc = mdb_cursor_del(cur, 0)) != 0) {
                    rc = souk__writer_err(c->w, rc);
                    break;
                }
                info.nblocks--;
            }
        }
        if ((rc = merge_changes(c, &c->e, ch + i, j - i, &c->o, &info, &max_touched)) != 0)
            break;
        int save = c->post_append;
        c->post_append = 0;
        rc = write_blocks(c, term, tlen, &c->o, &info.nblocks);
        c->post_append = save;
        i = j;
    }
    mdb_cursor_close(cur);
    if (rc)
        return rc;
    if (info.df == 0) {
        if (info.nblocks != 0)
            return SOUK_ECORRUPT;
        rc = mdb_del(c->txn, c->ix->terms, &k, NULL);
        return rc ? souk__writer_err(c->w, rc) : 0;
    }
    if (max_touched && (rc = rescan_max_wdf(c, term, tlen, &info.max_wdf)) != 0)
        return rc;
    uint8_t dv[64];
    MDB_val v = {souk__dict_encode(&info, NULL, 0, dv), dv};
    rc = mdb_put(c->txn, c->ix->terms, &k, &v, 0);
    return rc ? souk__writer_err(c->w, rc) : 0;
}
