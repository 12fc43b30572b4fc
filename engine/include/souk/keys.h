/* keys.h: the secrets of the privacy layer (docs/privacy.md): key rings, pseudonyms (P1, P21),
 * suppression hashes (P14), and user tokens (P17), all with libsodium. Part of engine/events/.
 *
 * A key ring is a file of lines "<kid> <64 hex digits>" (kid 1..255, a 32-byte secret), blank
 * lines and lines starting with '#' ignored. The last line's key is the current one: new
 * pseudonyms and tokens use it; older lines stay to read data or verify tokens made with them
 * (P24: a key id travels with each pseudonym and token). A pseudonymization ring also has a
 * root secret: the secret of a line with kid 0 when there is one, else the first line's. It
 * keys the inner value of every pseudonym, the suppression hashes (P14) and event ids, which the
 * store keeps across rotations (it holds no raw id to recompute them from). Retiring the key of
 * the first line therefore means replacing its kid by 0 (same secret) rather than deleting the
 * line: the root stays, and pseudonyms under the old kid can no longer be made or read
 * (docs/privacy.md, "Key rotation"). A token ring ignores a kid 0 line. The file must be a regular
 * file with no group or other permission bits (mode 0600 or 0400): a looser one is refused, as is a
 * file inside the data directory it protects (souk_keyring_load's datadir).
 *
 * Two rings, never the same file:
 *   - the pseudonymization ring stays with Souk's own processes (server, indexer);
 *   - the token ring is shared with the platform's backend, which mints user tokens
 *     (souk-token, or souk_token_mint).
 *
 * Thread-safety: a loaded ring is immutable; every function may be called from any thread. */
#ifndef SOUK_KEYS_H
#define SOUK_KEYS_H

#include "souk/souk.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct souk_keyring souk_keyring;

/* Loads path. datadir (may be NULL) is the data directory the ring protects: a ring whose real
 * path lies inside it is refused. Errors (SOUK_EIO, SOUK_EINVAL) name the file and the problem:
 * missing, permissions looser than 0600, bad line N, duplicate kid, no key. */
int souk_keyring_load(const char *path, const char *datadir, souk_keyring **out, char *err,
                      size_t errlen);
void souk_keyring_free(souk_keyring *kr);
/* The current key id (the last line's). */
uint8_t souk_keyring_current(const souk_keyring *kr);
/* 1 when the ring holds kid. */
int souk_keyring_has(const souk_keyring *kr, uint8_t kid);

/* A pseudonym: the key id, then 16 bytes (128 bits): inner = HMAC-SHA256(root, domain || id)
 * truncated to 16 bytes, as is when the kid's secret is the root, else passed through a keyed
 * permutation of the kid's secret (keys.c). The domain separates user ids from session ids
 * (P21), so the same string as a user and as a session gives unrelated pseudonyms. */
#define SOUK_PSEUDO_LEN 17
typedef enum souk_pseudo_domain {
    SOUK_PSEUDO_USER = 1,
    SOUK_PSEUDO_SESSION = 2
} souk_pseudo_domain;
/* kid 0: the current key. SOUK_EINVAL for an unknown kid or an empty id. */
int souk_pseudonym(const souk_keyring *kr, uint8_t kid, souk_pseudo_domain dom, const char *id,
                   size_t len, uint8_t out[SOUK_PSEUDO_LEN]);

/* The pseudonym in (under any kid of the ring) moved to kid (0: the current one), without the
 * raw id (P24: what a re-keying job does). SOUK_EINVAL when the ring lacks either kid. */
int souk_pseudonym_rekey(const souk_keyring *kr, const uint8_t in[SOUK_PSEUDO_LEN], uint8_t kid,
                         uint8_t out[SOUK_PSEUDO_LEN]);
/* The ledger hash of a user pseudonym (under any kid of the ring): a keyed BLAKE2b of its inner
 * value under a key derived from the root, so the same for every kid and unrelated to the
 * pseudonym's bytes. The erasure ledger (P23) names an erased user by it, so that a restore can
 * find the user's rows in an older copy without keeping the pseudonym. SOUK_EINVAL for a kid
 * the ring lacks. */
#define SOUK_LEDGER_LEN 16
int souk_pseudonym_ledger(const souk_keyring *kr, const uint8_t up[SOUK_PSEUDO_LEN],
                          uint8_t out[SOUK_LEDGER_LEN]);
/* 32 secret bytes derived from the root that stay the same across rotations (the event store
 * keys its event ids with them). Valid while kr is. */
const uint8_t *souk_keyring_stable_key(const souk_keyring *kr);

/* The suppression hash of a user id (P14): a keyed BLAKE2b of the id under a key derived from
 * the ring's root (so it survives rotation), unrelated to the pseudonym. It is what the
 * store keeps of an erased user so that replaying an old event log does not bring the user
 * back, and what the audit log names a subject by (P18). */
#define SOUK_SUPPRESS_LEN 16
void souk_suppress_hash(const souk_keyring *kr, const char *id, size_t len,
                        uint8_t out[SOUK_SUPPRESS_LEN]);

/* User tokens (P17): "v1.<kid>.<payload>.<mac>", payload and mac in unpadded base64url;
 * payload is the JSON {"sub":user,"exp":unix seconds,"rgn":region}; mac is HMAC-SHA256 with the
 * ring's key kid over "v1.<kid>.<payload>", compared in constant time. */
#define SOUK_TOKEN_MAX 1024
#define SOUK_USER_MAX 128 /* bytes of a user or session id */
#define SOUK_REGION_MAX 32

/* Mints a token for user (1..SOUK_USER_MAX bytes of valid UTF-8 without control characters),
 * valid until now + ttl seconds, with the current key. region may be NULL (""). */
int souk_token_mint(const souk_keyring *kr, const char *user, size_t len, int64_t now, int64_t ttl,
                    const char *region, char *out, size_t outlen);

typedef struct souk_token_claims {
    char user[SOUK_USER_MAX + 1];
    size_t user_len;
    int64_t exp;
    char region[SOUK_REGION_MAX + 1];
    uint8_t kid;
} souk_token_claims;

/* Verifies a token at time now. SOUK_OK and *claims; SOUK_EINVAL (malformed, unknown kid, bad
 * mac) or SOUK_ENOTFOUND (expired) with err saying which, never echoing the token. */
int souk_token_verify(const souk_keyring *kr, const char *tok, size_t len, int64_t now,
                      souk_token_claims *claims, char *err, size_t errlen);

#ifdef __cplusplus
}
#endif
#endif
