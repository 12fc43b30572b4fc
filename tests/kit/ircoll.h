/* ircoll.h: loaders for the two classic IR test collections, Cranfield (1,400 aeronautics
 * abstracts, 225 queries, graded judgements) and CACM (3,204 CACM articles, 64 queries, 52 of
 * them judged), from their original SMART-format files; and writers that turn them into a Souk
 * catalog stream (NDJSON, schema indexer/schemas/ircoll.json) and TREC qrels, for offline
 * relevance evaluation with souk/eval.h.
 *
 * Files read, in the collection's directory:
 *   Cranfield: cran.all.1400 (.I .T .A .B .W), cran.qry (.I .W), cranqrel ("qid docid grade").
 *   CACM:      cacm.all (.I .T .W .B .A .N .X .C .K), query.text (.I .W .A .N), qrels.text
 *              ("qid docid 0 0").
 * Field text is normalized: lines are trimmed, control characters and runs of blanks become
 * one space, lines are joined with a space (authors: with "; "). CRLF endings and trailing
 * blanks are accepted.
 *
 * Quirks handled (see ircoll.c for details):
 *   - cran.qry numbers its queries 001..365 with gaps, while cranqrel numbers them 1..225 in
 *     file order: a Cranfield query's id is its position ("1".."225"); the number written in
 *     cran.qry is kept as source_id.
 *   - Cranfield grades are 1 (complete answer) .. 4 (minimum interest), and -1 (one per query)
 *     for a judged non-relevant document; gain = 5 - grade for 1..4, 0 otherwise.
 *   - CACM judgements are binary: every line is relevant, grade 1, gain 1.
 *   - Numeric ids lose their leading zeros ("01" in qrels.text is query "1").
 *   - A field marker repeated inside a record (Cranfield documents 240, 576, 578) does not
 *     start a new field: its lines continue the current one.
 *   - A record with no field at all (the ".I 0" that ends CACM's query.text) is dropped. */
#ifndef SOUK_KIT_IRCOLL_H
#define SOUK_KIT_IRCOLL_H

#include "souk/eval.h"

#include <stddef.h>
#include <stdio.h>

typedef enum ircoll_kind { IRCOLL_CRANFIELD = 0, IRCOLL_CACM = 1 } ircoll_kind;

/* One document. Every string is non-NULL (possibly empty) and owned by the collection. */
typedef struct ircoll_doc {
    char *id;      /* the .I number, without leading zeros */
    char *title;   /* .T */
    char *text;    /* .W, the abstract (Cranfield's repeats the title; many CACM ones are empty) */
    char *authors; /* .A lines joined with "; " */
} ircoll_doc;

/* One query. */
typedef struct ircoll_query {
    char *id;        /* the id the judgements use: Cranfield: position 1..225; CACM: .I */
    char *source_id; /* the .I number as written in the query file ("004") */
    char *text;      /* .W */
} ircoll_query;

/* One relevance judgement. */
typedef struct ircoll_judgement {
    char *qid;   /* an ircoll_query id */
    char *docid; /* an ircoll_doc id */
    int grade;   /* as in the file: Cranfield -1, 1..4 (5 is accepted); CACM always 1 */
    int gain;    /* 0 = not relevant; Cranfield 5 - grade; CACM 1 */
} ircoll_judgement;

typedef struct ircoll {
    ircoll_kind kind;
    ircoll_doc *docs; /* in file order */
    size_t ndocs;
    ircoll_query *queries; /* in file order */
    size_t nqueries;
    ircoll_judgement *judgements; /* in file order */
    size_t njudgements;
    size_t nrepeated_markers; /* field markers repeated within a record (see the quirks) */
    size_t ndropped_records;  /* records dropped for having no field */
} ircoll;

/* Returns "cranfield" or "cacm", or NULL for an unknown kind. */
const char *ircoll_name(ircoll_kind kind);

/* Sets *out to the kind named name ("cranfield" or "cacm"). Returns SOUK_EINVAL for another
 * name. */
int ircoll_kind_parse(const char *name, ircoll_kind *out);

/* Loads collection `kind` from directory dir (the folder that holds its files, e.g.
 * <shared data>/ir/cranfield). On success *out is owned by the caller (ircoll_free). Returns
 * SOUK_EIO when a file cannot be read, SOUK_EINVAL for malformed content (err names the file and
 * line: a judgement of an unknown query or document, a duplicate document id, text before the
 * first .I...), SOUK_ENOMEM. err may be NULL. */
int ircoll_load(ircoll_kind kind, const char *dir, ircoll **out, char *err, size_t errlen);

/* Frees the collection. NULL is allowed. */
void ircoll_free(ircoll *c);

/* Writes the documents as a catalog stream, one line per document in file order:
 * {"id":"<id>","title":"...","body":"<text>","authors":"..."} (schema ircoll.json). Returns
 * SOUK_EIO when writing fails, SOUK_ENOMEM. */
int ircoll_write_ndjson(const ircoll *c, FILE *fp);

/* Writes the judgements as TREC qrels, "qid 0 docid gain" per line (gain as the grade, so that
 * trec_eval and souk_eval_load_qrels see the same relevance). Returns SOUK_EIO on a write
 * error. */
int ircoll_write_qrels(const ircoll *c, FILE *fp);

/* Adds every judgement to e as souk_eval_judge(qid, docid, gain). Returns the first error of
 * souk_eval_judge. */
int ircoll_add_judgements(const ircoll *c, souk_eval *e);

#endif
