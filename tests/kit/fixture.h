/* fixture.h (test kit): index fixtures. A test that needs an index of the Debian catalog (or of
 * its first N records) asks for one here instead of running souk-index by hand. The index is
 * made by the real `souk-index` as a user would make it, once per build: the first test that
 * asks for a given (N, options) builds it into the build tree (tests/kit-cache/), and every
 * later call, from this test or another running beside it, copies its files, which is the same
 * index byte for byte. The copy is rebuilt when souk-index, the schema or the catalog changes;
 * SOUK_KIT_NO_CACHE=1 builds every index afresh. */
#ifndef SOUK_KIT_FIXTURE_H
#define SOUK_KIT_FIXTURE_H

#include <stddef.h>

/* Writes the first n records (0: all) of the Debian catalog (debian_catalog() of check.h) to
 * path, one NDJSON line each. Returns 0, or -1 when the catalog is absent (the SKIP message is
 * printed). Any other failure REQUIREs. */
int kit_debian_records(const char *path, size_t n);

/* Reads n records of the Debian catalog, from record `from` (0-based), into lines[] (each
 * strdup'd, without its newline). Returns how many were read: 0 when the catalog is absent
 * (the caller skips). */
size_t kit_debian_lines(char **lines, size_t from, size_t n);

/* Runs a shell command and returns its whole standard output (malloc'd, NUL-terminated), with
 * its standard error too when with_stderr is 1 (else stderr is discarded); its exit status in
 * *status (128 when it did not exit normally). */
char *kit_run(const char *cmd, int with_stderr, int *status);

/* kit_run with its standard error, the output cut to fit out (cap bytes, NUL-terminated): the
 * exit status. */
int kit_run_into(const char *cmd, char *out, size_t cap);

/* Makes dir (created; it must not hold an index) an index of the first n records (0: all) of
 * the Debian catalog, equal to what
 *   xz -dc CATALOG | head -n N | souk-index --data DIR \
 *       --schema indexer/schemas/debian-packages.json catalog - OPTS
 * makes; opts are more souk-index options (shell words, "" for none), such as "--no-spelling".
 * Returns 0, or -1 when the catalog is absent (the SKIP message is printed). Any other failure
 * (souk-index failing) REQUIREs. Not thread-safe; safe between processes (a file lock). */
int kit_debian_index(const char *dir, size_t n, const char *opts);

#endif
