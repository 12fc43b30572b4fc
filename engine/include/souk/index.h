/* index.h: the LMDB-backed index. One environment (a directory) holds the term dictionary,
 * postings blocks, document lengths, the document store, per-document term lists (for exact
 * deletes), attribute columns and meta, all written in one transaction per batch. See
 * docs/index-format.md for every database and its key and value layout.
 *
 * Threads: a souk_index may be shared by threads. A souk_writer belongs to one thread, and only
 * one writer may exist per index at a time (across processes, LMDB serializes writers). A
 * souk_reader belongs to one thread at a time. */
#ifndef SOUK_INDEX_H
#define SOUK_INDEX_H

#include "souk/block.h"
#include "souk/schema.h"

#include <stddef.h>
#include <stdint.h>

typedef struct souk_index souk_index;
typedef struct souk_writer souk_writer;
typedef struct souk_reader souk_reader;

#define SOUK_INDEX_RDONLY 1u

/* Opens the index in directory dir, creating it (and the directory) if it does not exist.
 * A new index needs a schema; an existing index must be opened with an identical schema or with
 * schema NULL (the stored schema is then used). *out is owned by the caller. On failure err
 * names the problem. */
int souk_index_open(const char *dir, const souk_schema *schema, unsigned flags, souk_index **out,
                    char *err, size_t errlen);
void souk_index_close(souk_index *ix);

/* Writes a consistent, compacted copy of the index into the directory dest (created, or existing
 * without an index), from one read transaction, while writers go on; no page of the copy keeps
 * the bytes of a deleted record (engine/catalog/backup.c). The spelling table is not copied (it
 * is derived: souk_spelling_sync rebuilds it). SOUK_OK, or a SOUK_E* code with err. */
int souk_index_backup(souk_index *ix, const char *dest, char *err, size_t errlen);

/* Compacts the index in dir in place (P22): a copy made row by row replaces its data file, so no
 * byte of a deleted or replaced record survives in it (LMDB reuses freed pages but never clears
 * them). No other process may have the index open (SOUK_EINVAL, err naming the pid); writers wait
 * for the writer lock. A kill leaves the old file (a half copy in dir/compact.new is removed by the
 * next run). The spelling table is not touched: rebuild it after (souk-index compact does). */
int souk_index_compact(const char *dir, char *err, size_t errlen);

/* The schema of the index; valid until souk_index_close. */
const souk_schema *souk_index_schema(const souk_index *ix);

/* ------------------------------------------------------------------ analyzed documents */

/* One distinct term of an analyzed document. */
typedef struct souk_dterm {
    const char *term; /* not NUL-terminated */
    uint32_t len;
    uint32_t wdf;
    uint32_t npos;    /* number of positions */
    uint32_t pos_off; /* index of the first position in souk_doc.positions */
    uint64_t hash;    /* hash of the term bytes (engine/core/varint.h souk__hash) */
} souk_dterm;

/* One attribute value: field id, and for numbers/bools num, for keywords the string. */
typedef struct souk_dattr {
    uint8_t field;
    uint8_t type; /* souk_field_type */
    double num;
    const char *str;
    uint32_t str_len;
} souk_dattr;

/* An analyzed catalog record, ready to be written. All pointers are borrowed by the writer and
 * copied by souk_writer_upsert. Terms are sorted by bytes and distinct. */
typedef struct souk_doc {
    const char *id;
    uint32_t id_len;
    uint64_t hash; /* hash of the canonical record; equal hash = unchanged document */
    const souk_dterm *terms;
    uint32_t nterms;
    const uint32_t *positions;
    uint32_t doclen;    /* sum of wdf over terms */
    const char *stored; /* stored fields: a blob from souk_blob_pack of their JSON object */
    uint32_t stored_len;
    const uint8_t *termlist; /* souk_blob_pack of the front-coded sorted term list */
    uint32_t termlist_len;
    const souk_dattr *attrs;
    uint32_t nattrs;
} souk_doc;

/* ------------------------------------------------------------------ blobs */

/* Stored documents and term lists are kept as blobs: a codec byte (0 raw, 1 LZ4 with a varint
 * original length) and the payload. souk_blob_pack writes src as a blob into *out (malloc'd
 * buffer of *cap bytes, grown as needed), compressing with the caller's state from
 * souk_blob_state_new (may be NULL: raw) when that pays. Returns the blob length, or 0 when out
 * of memory. A state belongs to one thread. */
size_t souk_blob_pack(void *state, const void *src, size_t len, uint8_t **out, size_t *cap);
void *souk_blob_state_new(void);
void souk_blob_state_free(void *state);

/* Unpacks a blob into *out (grown as needed). Returns the payload length; SOUK_ECORRUPT or
 * SOUK_ENOMEM as a negative value on failure. Thread-safe. */
long souk_blob_unpack(const uint8_t *blob, size_t len, uint8_t **out, size_t *cap);

/* Front-codes sorted distinct terms: per term a varint shared prefix length, a varint suffix
 * length and the suffix. Returns the encoded length written to out (capacity from
 * souk_termlist_bound). */
size_t souk_termlist_encode(const souk_dterm *terms, uint32_t n, uint8_t *out);
size_t souk_termlist_bound(const souk_dterm *terms, uint32_t n);

/* ------------------------------------------------------------------ writing */

/* Starts a batch. Nothing is written until souk_writer_commit. *out owned by caller. */
int souk_writer_new(souk_index *ix, souk_writer **out);
void souk_writer_free(souk_writer *w);

/* Adds or replaces the document with doc->id in the batch. The last operation on an id in a
 * batch wins. Returns 0 or SOUK_ENOMEM. */
int souk_writer_upsert(souk_writer *w, const souk_doc *doc);

/* Deletes the document with this external id (a no-op if it does not exist at commit). */
int souk_writer_delete(souk_writer *w, const char *id, size_t len);

/* Number of operations buffered in the batch, and their approximate memory. */
size_t souk_writer_pending(const souk_writer *w, size_t *bytes);

/* What a commit did. */
typedef struct souk_commit_stats {
    uint64_t added, replaced, unchanged, deleted, delete_missing;
} souk_commit_stats;

/* Where a catalog stream stands: stored in meta with each commit so a resumed ingest continues
 * after the last committed record. fingerprint identifies the stream (may be NULL). */
typedef struct souk_stream_pos {
    uint64_t offset; /* bytes consumed */
    uint64_t line;   /* lines consumed */
    const char *fingerprint;
} souk_stream_pos;

/* Writes the batch in one LMDB transaction, together with the stream position pos (may be NULL).
 * (A batch of more than a thousand new documents has already written their store records and
 * term lists in transactions of its own as they arrived; nothing refers to them before this
 * commit, and readers skip them until then: engine/catalog/writer.c, store_ahead.) The batch is
 * empty afterwards. On failure nothing is written and the batch is kept. Grows the map when it
 * fills. Adds what it did to *st (may be NULL). */
int souk_writer_commit(souk_writer *w, const souk_stream_pos *pos, souk_commit_stats *st);

/* Reads the stream position of the last commit. fingerprint (cap bytes) may be NULL. */
int souk_index_stream_pos(souk_index *ix, uint64_t *offset, uint64_t *line, char *fingerprint,
                          size_t cap);

/* Last detailed error of the writer. */
const char *souk_writer_errmsg(const souk_writer *w);

/* ------------------------------------------------------------------ reading */

/* Index-wide statistics, read in one snapshot. */
typedef struct souk_stats {
    uint64_t docs;      /* N */
    uint64_t total_len; /* sum of document lengths */
    uint64_t terms;     /* distinct terms in the dictionary */
    uint64_t next_docid;
    uint64_t generation; /* number of committed batches */
    uint64_t stream_offset;
    uint64_t bytes_file;        /* size of the data file */
    uint64_t bytes_postings;    /* pages of the postings and dictionary databases */
    uint64_t bytes_dictionary;  /* of which the dictionary */
    uint64_t bytes_store;       /* document store pages */
    uint64_t bytes_other;       /* term lists, lengths, attributes, ids, meta */
    uint64_t postings_payload;  /* logical bytes of docids+wdfs (blocks, header included) */
    uint64_t positions_payload; /* logical bytes of positions within blocks */
} souk_stats;

/* Opens a read snapshot (a short LMDB read transaction, renewed by souk_reader_refresh). A new
 * commit becomes visible after refresh. *out owned by caller. */
int souk_reader_new(souk_index *ix, souk_reader **out);
void souk_reader_free(souk_reader *r);
int souk_reader_refresh(souk_reader *r);
/* Ends the snapshot without freeing the reader (so the writer can reuse pages). */
void souk_reader_release(souk_reader *r);

int souk_reader_stats(souk_reader *r, souk_stats *st);

/* Term dictionary entry. */
typedef struct souk_term_info {
    uint32_t df;
    uint64_t cf;
    uint32_t max_wdf;
    uint32_t nblocks; /* 0: postings inline in the dictionary entry */
} souk_term_info;

/* Looks up a term. Returns 0, SOUK_ENOTFOUND or an error. */
int souk_reader_term(souk_reader *r, const char *term, size_t len, souk_term_info *info);

/* Iterates the dictionary from the first term >= start. fn returns nonzero to stop. */
typedef int (*souk_term_iter_fn)(void *ctx, const char *term, size_t len,
                                 const souk_term_info *info);
int souk_reader_terms(souk_reader *r, const char *start, size_t len, souk_term_iter_fn fn,
                      void *ctx);

/* Postings of one term, block by block. The block memory stays valid until the reader is
 * refreshed, released or freed. */
typedef struct souk_postings {
    souk_reader *r;
    char term[512];
    size_t len;
    int inline_done;
    const uint8_t *inline_block;
    size_t inline_len;
    void *cursor; /* MDB_cursor */
    int started;
    souk_term_info info; /* the term's dictionary entry */
} souk_postings;

/* Opens postings for term; SOUK_ENOTFOUND if absent. p->info holds the dictionary entry. */
int souk_postings_open(souk_reader *r, const char *term, size_t len, souk_postings *p);
/* Next block with last docid >= docid (docid 0: the next block). Blocks are visited in order:
 * docid must be past the last docid of the block returned before. Returns 0, SOUK_ENOTFOUND at
 * the end, or an error. */
int souk_postings_next_block(souk_postings *p, uint32_t docid, souk_block *b);
void souk_postings_close(souk_postings *p);

/* Length of document docid, 0 if absent. */
int souk_reader_doclen(souk_reader *r, uint32_t docid, uint32_t *len);

/* Internal docid of external id; SOUK_ENOTFOUND if absent. */
int souk_reader_docid(souk_reader *r, const char *id, size_t len, uint32_t *docid);

/* Stored document: external id and stored-fields JSON, borrowed until refresh/release/free. */
int souk_reader_doc(souk_reader *r, uint32_t docid, const char **id, size_t *id_len,
                    const char **json, size_t *json_len);

/* Terms of document docid from its term list, in byte order: fn(ctx, term, len, 0, 0). */
int souk_reader_termlist(souk_reader *r, uint32_t docid,
                         void (*fn)(void *ctx, const char *term, size_t len), void *ctx);

/* Iterates stored documents in docid order: fn returns nonzero to stop. */
int souk_reader_docs(souk_reader *r,
                     int (*fn)(void *ctx, uint32_t docid, const char *id, size_t id_len,
                               const char *json, size_t json_len),
                     void *ctx);

/* First value of docid's attribute field: numbers and bools as 8 bytes (a double), keywords as
 * their bytes. Only filterable, facetable and sortable fields have attributes. */
int souk_reader_attr(souk_reader *r, uint32_t docid, uint8_t field, const uint8_t **val,
                     size_t *len);

/* Iterates the attribute records in docid order (format: docs/index-format.md, attr); fn
 * returns nonzero to stop. The record is borrowed for the call. */
int souk_reader_attrs(souk_reader *r,
                      int (*fn)(void *ctx, uint32_t docid, const uint8_t *rec, size_t len),
                      void *ctx);

const char *souk_reader_errmsg(const souk_reader *r);

/* What a full consistency check saw. */
typedef struct souk_check_stats {
    uint64_t docs, terms, postings, positions, blocks, inline_terms;
    uint64_t dict_bytes;      /* dictionary keys and entry headers */
    uint64_t postings_bytes;  /* block headers, docid and wdf sections */
    uint64_t positions_bytes; /* position sections */
    uint64_t post_key_bytes;  /* keys of the postings database */
} souk_check_stats;

/* Verifies the whole index in one snapshot: every block decodes, docids ascend, per-block maxima
 * are exact, df/cf/max wdf/block counts match the dictionary, every posting's document exists,
 * N and the total length match the documents, and term lists match postings. Returns 0, or
 * SOUK_ECORRUPT with the first problem in err. */
int souk_index_check(souk_reader *r, souk_check_stats *st, char *err, size_t errlen);

#endif
