/* souk_token.c: souk-token, mints a user token (souk/keys.h, P17) for the platform's backend, or
 * for testing a server by hand:
 *
 *   souk-token --key FILE --user ID --ttl SECONDS [--region R]
 *
 * FILE is the token key ring (the server's "token_key_file", mode 0600); the token is signed with
 * its current (last) key and valid for SECONDS from now. Prints the token and a newline; the
 * server takes it in the X-User-Token header. Errors name the option or the file and exit 1
 * (2 for usage). */
#include "souk/keys.h"
#include "souk/souk.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int usage(const char *why)
{
    if (why)
        fprintf(stderr, "souk-token: %s\n", why);
    fprintf(stderr, "usage: souk-token --key FILE --user ID --ttl SECONDS [--region R]\n");
    return 2;
}

int main(int argc, char **argv)
{
    const char *key = NULL, *user = NULL, *ttl_s = NULL, *region = NULL;
    souk_alloc_init();
    for (int i = 1; i < argc; i++) {
        const char **dst = strcmp(argv[i], "--key") == 0      ? &key
                           : strcmp(argv[i], "--user") == 0   ? &user
                           : strcmp(argv[i], "--ttl") == 0    ? &ttl_s
                           : strcmp(argv[i], "--region") == 0 ? &region
                                                              : NULL;
        if (!dst) {
            fprintf(stderr, "souk-token: unknown option \"%s\"\n", argv[i]);
            return usage(NULL);
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "souk-token: %s needs a value\n", argv[i]);
            return usage(NULL);
        }
        if (*dst) {
            fprintf(stderr, "souk-token: %s is given twice\n", argv[i]);
            return usage(NULL);
        }
        *dst = argv[++i];
    }
    if (!key)
        return usage("--key FILE is required (the token key ring)");
    if (!user)
        return usage("--user ID is required");
    if (!ttl_s)
        return usage("--ttl SECONDS is required");
    char *end;
    errno = 0;
    long long ttl = strtoll(ttl_s, &end, 10);
    if (errno || !*ttl_s || *end || ttl < 1 || ttl > 366LL * 86400) {
        fprintf(stderr,
                "souk-token: --ttl must be a number of seconds from 1 to %lld, got \"%s\"\n",
                366LL * 86400, ttl_s);
        return 2;
    }
    size_t ulen = strlen(user);
    if (ulen == 0 || ulen > SOUK_USER_MAX) {
        fprintf(stderr, "souk-token: --user must be 1 to %d bytes\n", SOUK_USER_MAX);
        return 2;
    }
    if (region && strlen(region) > SOUK_REGION_MAX) {
        fprintf(stderr, "souk-token: --region must be at most %d bytes\n", SOUK_REGION_MAX);
        return 2;
    }
    char err[512];
    souk_keyring *kr;
    if (souk_keyring_load(key, NULL, &kr, err, sizeof err)) {
        fprintf(stderr, "souk-token: --key: %s\n", err);
        return 1;
    }
    char tok[SOUK_TOKEN_MAX + 1];
    int rc = souk_token_mint(kr, user, ulen, (int64_t)time(NULL), ttl, region, tok, sizeof tok);
    souk_keyring_free(kr);
    if (rc) {
        fprintf(stderr,
                "souk-token: cannot mint the token: %s (--user must be UTF-8 without "
                "control characters; --region at most %d bytes)\n",
                souk_strerror(rc), SOUK_REGION_MAX);
        return 1;
    }
    printf("%s\n", tok);
    return fflush(stdout) == 0 ? 0 : 1;
}
