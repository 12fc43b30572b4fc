/* document.h: turning one catalog stream record (an NDJSON line) into an analyzed document:
 * validation against the schema, text analysis through the Xapian wrapper, boolean terms for
 * keyword fields, attribute values, and the stored-fields JSON. */
#ifndef SOUK_DOCUMENT_H
#define SOUK_DOCUMENT_H

#include "souk/index.h"
#include "souk/schema.h"

typedef struct souk_docbuilder souk_docbuilder;

/* Creates a builder for schema s (borrowed; must outlive the builder). One per thread. */
int souk_docbuilder_new(const souk_schema *s, souk_docbuilder **out);
void souk_docbuilder_free(souk_docbuilder *b);

/* Parses one record. On success *is_delete says whether it is a delete (then only doc->id is
 * set), and *doc points into the builder's memory, valid until the next call. On bad input
 * returns SOUK_EINVAL or SOUK_ETOOBIG with a message naming the problem in err. */
int souk_docbuilder_parse(souk_docbuilder *b, const char *line, size_t len, int *is_delete,
                          souk_doc *doc, char *err, size_t errlen);

/* Returns the offset of the first invalid UTF-8 sequence in s, or len when s is valid UTF-8
 * (overlong forms, surrogates and code points above U+10FFFF are invalid). */
size_t souk_utf8_check(const char *s, size_t len);

/* The tags of a stored document (its stored-fields JSON, as souk_reader_doc gives it) that the
 * event store keeps per user (P8, souk_events_opts.item_tags): "category:<section>", else
 * "category:<category>", cut to at most 63 bytes on a character boundary. Writes up to max
 * NUL-terminated tags and returns how many (0 or 1). The one rule the indexer and the server
 * both use, so a store fed by either holds the same tags. Thread-safe. */
int souk_doc_tags(const char *json, size_t len, char (*tags)[64], int max);

/* Counters of the analyzer inside the builder (fast path, fallback). */
void souk_docbuilder_counts(const souk_docbuilder *b, uint64_t *fast, uint64_t *fallback);

#endif
