/* digest.h: the logical digest of a catalog index (souk-index digest). Two indexes holding the
 * same documents (external id, stored fields, length), the same terms with the same wdfs and
 * positions in the same documents, and the same dictionary statistics have the same digest,
 * whatever their internal docids, block boundaries, page layout or the batches that built them:
 * replicas that applied the same stream sequence compare equal (docs/scaling.md). */
#ifndef SOUK_DIGEST_H
#define SOUK_DIGEST_H

#include "souk/index.h"

#include <stdint.h>

typedef struct souk_digest {
    char hex[65]; /* BLAKE2b-256 of the multiset of items, in hex */
    uint64_t docs, terms, postings, positions;
} souk_digest;

/* Computes the digest of ix in one read snapshot. Each document, dictionary entry and posting
 * (with its positions) is hashed with BLAKE2b-256 (libsodium's generic hash) over values that do
 * not depend on docids (a posting names its document by external id); the item hashes are
 * added as four 64-bit lanes (so order does not matter), and the lanes and counts hashed once
 * more. Returns 0, or an error code with err set. Any thread; costs a full read of the index
 * (about a second for the Debian catalog). */
int souk_index_digest(souk_index *ix, souk_digest *out, char *err, size_t errlen);

#endif
