/* keys.c: key rings, pseudonyms, suppression hashes and user tokens (souk/keys.h), on libsodium.
 *
 * Pseudonyms (P1, P24): the "inner" value of an id is HMAC-SHA256(root, domain || id) cut to 16
 * bytes, where root is the ring's root secret (the "0" line's, else the first line's). The
 * pseudonym under key kid is kid || inner when that key is the root itself, and otherwise
 * kid || F(kid, inner), F a 16-byte permutation keyed by the kid's secret: an 8-round Feistel
 * network on two 8-byte halves whose round function is keyed BLAKE2b (Luby-Rackoff). Because F
 * is invertible, a pseudonym moves from one kid to another with both secrets and without the raw
 * id (souk_pseudonym_rekey), which is what lets a re-keying job move a store that holds no raw id
 * to a new key; linking a raw id to a stored pseudonym needs both the root and the current key.
 *
 * Pseudonyms are hot (every event of a stream needs one or two), so the ring keeps, per domain,
 * the HMAC-SHA256 state after the root and the domain byte: an inner value then costs one state
 * copy, one update with the id and one final. */
#include "souk/keys.h"

#include "events/events_int.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RING_FILE_MAX (64 * 1024)

struct souk_keyring {
    int n;
    uint8_t current;
    int16_t slot[256];    /* kid -> index in key[], -1 when absent */
    uint8_t key[255][32]; /* secrets, in file order */
    uint8_t ident[255];   /* 1 when key[i] is the root: pseudonyms under it are kid || inner */
    uint8_t root[32];     /* the root secret: the "0" line's, else the first line's */
    int has_zero;         /* a "0" line was read */
    uint8_t suppress[32]; /* BLAKE2b key of suppression hashes (from the root) */
    uint8_t stable[32];   /* souk_keyring_stable_key (from the root) */
    uint8_t ledger[32];   /* BLAKE2b key of souk_pseudonym_ledger (from the root) */
    /* HMAC states after the root and the domain byte: [domain - 1]. */
    crypto_auth_hmacsha256_state pre[2];
    /* Per key slot, the HMAC state after the key alone (user tokens' MAC), so a token check
     * does not hash the key again. */
    crypto_auth_hmacsha256_state tok[255];
};

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* 1 when the real path of p lies inside the real path of dir (or is dir). */
static int inside(const char *p, const char *dir)
{
    char rp[PATH_MAX], rd[PATH_MAX];
    if (!realpath(p, rp) || !realpath(dir, rd))
        return 0;
    size_t n = strlen(rd);
    if (n == 1 && rd[0] == '/')
        return 1;
    return strncmp(rp, rd, n) == 0 && (rp[n] == '/' || rp[n] == 0);
}

/* Parses the ring's text into kr. Returns 0 or SOUK_EINVAL with err. */
static int parse_ring(souk_keyring *kr, const char *path, char *buf, size_t len, char *err,
                      size_t errlen)
{
    size_t i = 0;
    int lineno = 0;
    while (i < len) {
        size_t e = i;
        while (e < len && buf[e] != '\n')
            e++;
        lineno++;
        const char *l = buf + i;
        size_t n = e - i;
        i = e + 1;
        while (n && (l[n - 1] == '\r' || l[n - 1] == ' ' || l[n - 1] == '\t'))
            n--;
        size_t k = 0;
        while (k < n && (l[k] == ' ' || l[k] == '\t'))
            k++;
        if (k == n || l[k] == '#')
            continue;
        unsigned kid = 0;
        size_t d = k;
        while (d < n && l[d] >= '0' && l[d] <= '9' && d - k < 4)
            kid = kid * 10 + (unsigned)(l[d++] - '0');
        if (d == k || kid > 255 || d >= n || (l[d] != ' ' && l[d] != '\t')) {
            snprintf(err, errlen, "%s: bad line %d: expected \"<kid 0..255> <64 hex digits>\"",
                     path, lineno);
            return SOUK_EINVAL;
        }
        while (d < n && (l[d] == ' ' || l[d] == '\t'))
            d++;
        if (n - d != 64) {
            snprintf(err, errlen, "%s: bad line %d: the secret is not 64 hex digits", path, lineno);
            return SOUK_EINVAL;
        }
        if (kid == 0 ? kr->has_zero : kr->slot[kid] >= 0) {
            snprintf(err, errlen, "%s: bad line %d: duplicate kid %u", path, lineno, kid);
            return SOUK_EINVAL;
        }
        uint8_t zero_key[32];
        uint8_t *key = kid == 0 ? zero_key : kr->key[kr->n];
        for (int b = 0; b < 32; b++) {
            int hi = hexval((unsigned char)l[d + 2 * b]),
                lo = hexval((unsigned char)l[d + 2 * b + 1]);
            if (hi < 0 || lo < 0) {
                snprintf(err, errlen, "%s: bad line %d: the secret is not 64 hex digits", path,
                         lineno);
                return SOUK_EINVAL;
            }
            key[b] = (uint8_t)(hi << 4 | lo);
        }
        if (kid == 0) {
            /* The root alone: it names no key of pseudonyms or tokens. */
            memcpy(kr->root, zero_key, 32);
            sodium_memzero(zero_key, sizeof zero_key);
            kr->has_zero = 1;
            continue;
        }
        crypto_auth_hmacsha256_init(&kr->tok[kr->n], key, 32);
        if (kr->n == 0 && !kr->has_zero)
            memcpy(kr->root, key, 32);
        kr->slot[kid] = (int16_t)kr->n++;
        kr->current = (uint8_t)kid;
    }
    if (kr->n == 0) {
        snprintf(err, errlen, "%s: no key", path);
        return SOUK_EINVAL;
    }
    for (int i = 0; i < kr->n; i++)
        kr->ident[i] = sodium_memcmp(kr->key[i], kr->root, 32) == 0;
    for (int dom = 0; dom < 2; dom++) {
        uint8_t db = (uint8_t)(dom + 1);
        crypto_auth_hmacsha256_init(&kr->pre[dom], kr->root, 32);
        crypto_auth_hmacsha256_update(&kr->pre[dom], &db, 1);
    }
    static const char ctx[] = "souk suppression v1", lctx[] = "souk erasure ledger v1";
    crypto_generichash(kr->suppress, sizeof kr->suppress, (const uint8_t *)ctx, sizeof ctx - 1,
                       kr->root, 32);
    crypto_generichash(kr->ledger, sizeof kr->ledger, (const uint8_t *)lctx, sizeof lctx - 1,
                       kr->root, 32);
    /* The stable key is the root's pseudonym of a label no parsed id can be (it starts with a NUL
     * byte): the value event ids were keyed with when the root was the current key. */
    static const char label[] = "\0souk event id v1";
    uint8_t mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st = kr->pre[SOUK_PSEUDO_SESSION - 1];
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)label, sizeof label - 1);
    crypto_auth_hmacsha256_final(&st, mac);
    memset(kr->stable, 0, sizeof kr->stable);
    memcpy(kr->stable, mac, 16);
    sodium_memzero(mac, sizeof mac);
    return SOUK_OK;
}

int souk_keyring_load(const char *path, const char *datadir, souk_keyring **out, char *err,
                      size_t errlen)
{
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium failed to initialize");
        return SOUK_EIO;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, errno == ENOENT ? "missing" : strerror(errno));
        return SOUK_EIO;
    }
    struct stat sb;
    int rc = SOUK_EIO;
    char *buf = NULL;
    souk_keyring *kr = NULL;
    if (fstat(fd, &sb) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(sb.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        rc = SOUK_EINVAL;
        goto out;
    }
    if (sb.st_mode & 077) {
        snprintf(err, errlen, "%s: permissions %03o are looser than 0600 (chmod 600 it)", path,
                 (unsigned)(sb.st_mode & 0777));
        rc = SOUK_EINVAL;
        goto out;
    }
    if (datadir && inside(path, datadir)) {
        snprintf(err, errlen, "%s: the key file lies inside the data directory %s; keep it outside",
                 path, datadir);
        rc = SOUK_EINVAL;
        goto out;
    }
    if (sb.st_size > RING_FILE_MAX) {
        snprintf(err, errlen, "%s: larger than %d bytes", path, RING_FILE_MAX);
        rc = SOUK_EINVAL;
        goto out;
    }
    buf = souk_malloc((size_t)sb.st_size + 1);
    kr = sodium_malloc(sizeof *kr);
    if (!buf || !kr) {
        rc = SOUK_ENOMEM;
        goto out;
    }
    memset(kr, 0, sizeof *kr);
    for (int i = 0; i < 256; i++)
        kr->slot[i] = -1;
    size_t len = 0;
    while (len < (size_t)sb.st_size) {
        ssize_t r = read(fd, buf + len, (size_t)sb.st_size - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    if ((rc = parse_ring(kr, path, buf, len, err, errlen)) != SOUK_OK)
        goto out;
    *out = kr;
    kr = NULL;
out:
    if (buf) {
        sodium_memzero(buf, (size_t)sb.st_size + 1);
        souk_free(buf);
    }
    if (kr)
        sodium_free(kr);
    close(fd);
    return rc;
}

void souk_keyring_free(souk_keyring *kr)
{
    if (kr)
        sodium_free(kr); /* zeroes the secrets */
}

uint8_t souk_keyring_current(const souk_keyring *kr)
{
    return kr->current;
}

int souk_keyring_has(const souk_keyring *kr, uint8_t kid)
{
    return kr->slot[kid] >= 0;
}

const uint8_t *souk_keyring_stable_key(const souk_keyring *kr)
{
    return kr->stable;
}

/* The round function of F: the first 8 bytes of BLAKE2b keyed by the kid's secret over the round
 * number and the right half. */
static void feistel_round(const uint8_t key[32], uint8_t round, const uint8_t half[8],
                          uint8_t out[8])
{
    uint8_t in[9], h[16];
    in[0] = round;
    memcpy(in + 1, half, 8);
    crypto_generichash(h, sizeof h, in, sizeof in, key, 32);
    memcpy(out, h, 8);
}

#define FEISTEL_ROUNDS 8

/* b = F(key, b) (decrypt = 0) or its inverse (decrypt = 1), in place on 16 bytes. */
static void feistel(const uint8_t key[32], uint8_t b[16], int decrypt)
{
    uint8_t *l = b, *r = b + 8, f[8], t[8];
    if (!decrypt) {
        for (int i = 0; i < FEISTEL_ROUNDS; i++) {
            feistel_round(key, (uint8_t)i, r, f);
            for (int j = 0; j < 8; j++)
                t[j] = l[j] ^ f[j];
            memcpy(l, r, 8);
            memcpy(r, t, 8);
        }
    } else {
        for (int i = FEISTEL_ROUNDS - 1; i >= 0; i--) {
            feistel_round(key, (uint8_t)i, l, f);
            for (int j = 0; j < 8; j++)
                t[j] = r[j] ^ f[j];
            memcpy(r, l, 8);
            memcpy(l, t, 8);
        }
    }
}

int souk_pseudonym(const souk_keyring *kr, uint8_t kid, souk_pseudo_domain dom, const char *id,
                   size_t len, uint8_t out[SOUK_PSEUDO_LEN])
{
    if (kid == 0)
        kid = kr->current;
    if (kr->slot[kid] < 0 || len == 0 || (dom != SOUK_PSEUDO_USER && dom != SOUK_PSEUDO_SESSION))
        return SOUK_EINVAL;
    crypto_auth_hmacsha256_state st = kr->pre[dom - 1];
    uint8_t mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)id, len);
    crypto_auth_hmacsha256_final(&st, mac);
    int i = kr->slot[kid];
    if (!kr->ident[i])
        feistel(kr->key[i], mac, 0);
    out[0] = kid;
    memcpy(out + 1, mac, SOUK_PSEUDO_LEN - 1);
    return SOUK_OK;
}

int souk_pseudonym_ledger(const souk_keyring *kr, const uint8_t up[SOUK_PSEUDO_LEN],
                          uint8_t out[SOUK_LEDGER_LEN])
{
    if (kr->slot[up[0]] < 0)
        return SOUK_EINVAL;
    uint8_t b[16];
    memcpy(b, up + 1, 16);
    if (!kr->ident[kr->slot[up[0]]])
        feistel(kr->key[kr->slot[up[0]]], b, 1); /* the inner value: the same under every kid */
    crypto_generichash(out, SOUK_LEDGER_LEN, b, sizeof b, kr->ledger, sizeof kr->ledger);
    sodium_memzero(b, sizeof b);
    return SOUK_OK;
}

int souk_pseudonym_rekey(const souk_keyring *kr, const uint8_t in[SOUK_PSEUDO_LEN], uint8_t kid,
                         uint8_t out[SOUK_PSEUDO_LEN])
{
    if (kid == 0)
        kid = kr->current;
    if (kr->slot[kid] < 0 || kr->slot[in[0]] < 0)
        return SOUK_EINVAL;
    uint8_t b[16];
    memcpy(b, in + 1, 16);
    int from = kr->slot[in[0]], to = kr->slot[kid];
    if (from != to) {
        if (!kr->ident[from])
            feistel(kr->key[from], b, 1);
        if (!kr->ident[to])
            feistel(kr->key[to], b, 0);
    }
    out[0] = kid;
    memcpy(out + 1, b, 16);
    return SOUK_OK;
}

void souk_suppress_hash(const souk_keyring *kr, const char *id, size_t len,
                        uint8_t out[SOUK_SUPPRESS_LEN])
{
    crypto_generichash(out, SOUK_SUPPRESS_LEN, (const uint8_t *)id, len, kr->suppress,
                       sizeof kr->suppress);
}

/* ------------------------------------------------------------------ tokens */

/* 1 when s[0, len) is 1..max bytes of valid UTF-8 without control characters. */
/* URL-safe base64 without padding into out (at most max bytes): 0 and *outlen, or -1 for a byte
 * outside the alphabet, more than max bytes, a dangling character or nonzero trailing bits (what
 * sodium_base642bin refuses for this variant, at a few comparisons a character instead of its
 * constant-time scan; the MAC is still compared in constant time). */
static int b64url_decode(uint8_t *out, size_t max, const char *s, size_t n, size_t *outlen)
{
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i], v;
        if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= 'a' && c <= 'z')
            v = c - 'a' + 26;
        else if (c >= '0' && c <= '9')
            v = c - '0' + 52;
        else if (c == '-' || c == '_')
            v = c == '-' ? 62 : 63;
        else
            return -1;
        acc = (acc << 6 | (uint32_t)v) & 0xfff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= max)
                return -1;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    if (bits > 4 || (acc & ((1u << bits) - 1)) != 0)
        return -1;
    *outlen = o;
    return 0;
}

static int clean_text(const char *s, size_t len, size_t max)
{
    return len > 0 && len <= max && souk__ev_utf8_ok((const unsigned char *)s, len, 1);
}

static void token_mac(const souk_keyring *kr, uint8_t kid, const char *msg, size_t len,
                      uint8_t mac[32])
{
    crypto_auth_hmacsha256_state st = kr->tok[kr->slot[kid]]; /* HMAC init with the key */
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)msg, len);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_memzero(&st, sizeof st);
}

int souk_token_mint(const souk_keyring *kr, const char *user, size_t len, int64_t now, int64_t ttl,
                    const char *region, char *out, size_t outlen)
{
    if (!clean_text(user, len, SOUK_USER_MAX) || ttl <= 0)
        return SOUK_EINVAL;
    if (!region)
        region = "";
    size_t rlen = strlen(region);
    if (rlen > SOUK_REGION_MAX || (rlen && !clean_text(region, rlen, SOUK_REGION_MAX)))
        return SOUK_EINVAL;
    char ubuf[SOUK_USER_MAX + 1];
    memcpy(ubuf, user, len);
    ubuf[len] = 0;
    cJSON *j = cJSON_CreateObject();
    if (!j)
        return SOUK_ENOMEM;
    int rc = SOUK_ENOMEM;
    char *payload = NULL;
    if (!cJSON_AddStringToObject(j, "sub", ubuf) ||
        !cJSON_AddNumberToObject(j, "exp", (double)(now + ttl)) ||
        !cJSON_AddStringToObject(j, "rgn", region) || !(payload = cJSON_PrintUnformatted(j)))
        goto out;
    size_t plen = strlen(payload);
    size_t b64 = sodium_base64_ENCODED_LEN(plen, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    size_t need =
        3 + 4 + b64 + 1 + sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    if (need > outlen || need > SOUK_TOKEN_MAX) {
        rc = SOUK_ETOOBIG;
        goto out;
    }
    int n = snprintf(out, outlen, "v1.%u.", (unsigned)kr->current);
    sodium_bin2base64(out + n, outlen - (size_t)n, (const uint8_t *)payload, plen,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    size_t m = strlen(out);
    uint8_t mac[32];
    token_mac(kr, kr->current, out, m, mac);
    out[m++] = '.';
    sodium_bin2base64(out + m, outlen - m, mac, sizeof mac,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    rc = SOUK_OK;
out:
    if (payload)
        cJSON_free(payload);
    cJSON_Delete(j);
    return rc;
}

int souk_token_verify(const souk_keyring *kr, const char *tok, size_t len, int64_t now,
                      souk_token_claims *claims, char *err, size_t errlen)
{
#define BAD(why)                                                                                   \
    do {                                                                                           \
        snprintf(err, errlen, "token: %s", why);                                                   \
        return SOUK_EINVAL;                                                                        \
    } while (0)
    if (len > SOUK_TOKEN_MAX || len < 8 || memcmp(tok, "v1.", 3) != 0)
        BAD("malformed");
    size_t i = 3;
    unsigned kid = 0;
    while (i < len && tok[i] >= '0' && tok[i] <= '9' && i < 6)
        kid = kid * 10 + (unsigned)(tok[i++] - '0');
    if (i == 3 || i >= len || tok[i] != '.' || kid < 1 || kid > 255 || (tok[3] == '0'))
        BAD("malformed");
    size_t pstart = ++i;
    while (i < len && tok[i] != '.')
        i++;
    if (i >= len || i == pstart)
        BAD("malformed");
    size_t pend = i;
    if (!souk_keyring_has(kr, (uint8_t)kid))
        BAD("unknown key id");
    uint8_t mac[32], want[32];
    size_t maclen = 0;
    if (b64url_decode(mac, sizeof mac, tok + pend + 1, len - pend - 1, &maclen) != 0 ||
        maclen != sizeof mac)
        BAD("malformed");
    token_mac(kr, (uint8_t)kid, tok, pend, want);
    if (crypto_verify_32(mac, want) != 0)
        BAD("bad mac");
    char pl[SOUK_TOKEN_MAX];
    size_t pllen = 0;
    if (b64url_decode((uint8_t *)pl, sizeof pl - 1, tok + pstart, pend - pstart, &pllen) != 0)
        BAD("malformed payload");
    pl[pllen] = 0;
    cJSON *j = cJSON_ParseWithLength(pl, pllen);
    if (!j)
        BAD("malformed payload");
    const cJSON *sub = cJSON_GetObjectItemCaseSensitive(j, "sub");
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(j, "exp");
    const cJSON *rgn = cJSON_GetObjectItemCaseSensitive(j, "rgn");
    souk_token_claims c;
    memset(&c, 0, sizeof c);
    int ok = cJSON_IsString(sub) && cJSON_IsNumber(exp) && (!rgn || cJSON_IsString(rgn));
    if (ok) {
        c.user_len = strlen(sub->valuestring);
        ok = clean_text(sub->valuestring, c.user_len, SOUK_USER_MAX);
    }
    if (ok && rgn) {
        size_t rl = strlen(rgn->valuestring);
        ok = rl <= SOUK_REGION_MAX;
        if (ok)
            memcpy(c.region, rgn->valuestring, rl);
    }
    if (ok) {
        memcpy(c.user, sub->valuestring, c.user_len);
        c.exp = (int64_t)exp->valuedouble;
        c.kid = (uint8_t)kid;
    }
    cJSON_Delete(j);
    if (!ok)
        BAD("malformed payload");
    if (now >= c.exp) {
        snprintf(err, errlen, "token: expired");
        return SOUK_ENOTFOUND;
    }
    *claims = c;
    return SOUK_OK;
#undef BAD
}
