/* digest.h (test kit): a logical digest of an index for equivalence tests. Two indexes with the
 * same documents (by external id), stored fields, lengths, terms, wdfs and positions, and the same
 * dictionary statistics have the same digest, whatever their docids or block boundaries. The
 * digest is a sum of per-item hashes, so it does not depend on order. */
#ifndef SOUK_KIT_DIGEST_H
#define SOUK_KIT_DIGEST_H

#include "souk/index.h"
#include "souk/souk.h"

#include <stddef.h>
#include <stdint.h>

typedef struct digest {
    uint64_t sum, xsum;
    uint64_t docs, terms, postings, positions;
    uint64_t total_len;
    /* docid -> external id hash, filled from the document store */
    uint64_t *idhash;
    uint64_t nids;
} digest;

/* One FNV-1a step: h updated with the n bytes of p (the digest's hash of strings; tests use it to
 * hash values of their own the same way). */
uint64_t dg_mix(uint64_t h, const void *p, size_t n);

/* Computes the digest of the index in dir (opened read-only) into *d. Returns 0 on success, or
 * -1 with the reason on stderr. */
int index_digest(const char *dir, digest *d);

/* Runs the full consistency check on the index in dir; returns 0 when it passes, or nonzero with
 * the reason on stderr. */
int index_check_dir(const char *dir);

#endif
