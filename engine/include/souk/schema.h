/* schema.h: the catalog schema. A JSON file declares each field of a catalog record: its type
 * (text, keyword, number, bool), how it is indexed (weight, language, prefix) and what it is for
 * (stored, filterable, facetable, sortable). The schema is stored in the index at creation and
 * every later ingest must use an identical one. */
#ifndef SOUK_SCHEMA_H
#define SOUK_SCHEMA_H

#include <stddef.h>
#include <stdint.h>

typedef enum souk_field_type {
    SOUK_FIELD_TEXT = 0,
    SOUK_FIELD_KEYWORD,
    SOUK_FIELD_NUMBER,
    SOUK_FIELD_BOOL
} souk_field_type;

#define SOUK_F_STORED 0x01u
#define SOUK_F_FILTERABLE 0x02u
#define SOUK_F_FACETABLE 0x04u
#define SOUK_F_SORTABLE 0x08u
#define SOUK_F_MULTI 0x10u  /* keyword: an array of values is allowed */
#define SOUK_F_NOTYPO 0x20u /* text/keyword: never fuzzy-matched (part numbers) */
#define SOUK_F_PATH 0x40u   /* keyword: a category path "a > b > c", indexed per level */

#define SOUK_MAX_FIELDS 64

/* Terms of the typo dictionary when some text field opts out of typos: the words of every other
 * text field, without positions (docs/index-format.md). */
#define SOUK_TYPO_PREFIX "XTYPO:"

typedef struct souk_field {
    char *name;
    souk_field_type type;
    unsigned flags;
    uint32_t weight;    /* text: wdf increment per occurrence (field weight) */
    char *language;     /* text: language code; NULL = schema default */
    char *prefix;       /* text: term prefix for field search ("" = none); keyword: always set */
    uint32_t max_bytes; /* longest accepted value in bytes (each value for arrays) */
    uint8_t id;         /* position in the schema, used in attribute keys */
} souk_field;

typedef struct souk_schema {
    char *name;
    char *default_language;
    char *language_field; /* field whose value picks a record's language, or NULL */
    int reject_unknown;   /* 1: a record with an undeclared field is rejected; 0: ignored */
    uint32_t max_record_bytes;
    /* 1 when a text field has "typo": false: the words of the other text fields are also
     * indexed as SOUK_TYPO_PREFIX terms, the typo dictionary and spelling table are made of
     * those, and typo candidates match only them. 0: the unprefixed words of every text field. */
    int typo_words;
    size_t nfields;
    souk_field fields[SOUK_MAX_FIELDS];
    char *json; /* canonical JSON text of the schema, as stored in the index */
} souk_schema;

/* Parses a schema from JSON text. On success *out is owned by the caller (souk_schema_free).
 * On failure returns SOUK_ESCHEMA with a message naming the problem in err. */
int souk_schema_parse(const char *json, size_t len, souk_schema **out, char *err, size_t errlen);

/* Reads and parses a schema file. Same contract as souk_schema_parse. */
int souk_schema_load(const char *path, souk_schema **out, char *err, size_t errlen);

void souk_schema_free(souk_schema *s);

/* Returns the field named name (len bytes), or NULL. */
const souk_field *souk_schema_field(const souk_schema *s, const char *name, size_t len);

/* The schema embedded in the binaries, for a procurement catalog (used when none is given). */
extern const char souk_schema_default_json[];

#endif
