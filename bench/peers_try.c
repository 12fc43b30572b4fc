/* Standalone try-out driver for the peer engines of the indexing benchmark: indexes one
 * catalog NDJSON with SQLite FTS5 and with Sphinx (into WORKDIR/fts5 and WORKDIR/sphinx) and
 * prints what peers.c measured. Usage: peers_try NDJSON WORKDIR */
#include "peers.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static void print_result(const char *engine, int rc, const peer_index_result *r)
{
    if (rc != 0) {
        printf("%-7s FAILED: %s\n", engine, r->detail);
        return;
    }
    printf("%-7s %lu docs in %.3f s = %.0f docs/s, peak RSS %ld kB (%.1f MB)\n", engine, r->docs,
           r->seconds, r->seconds > 0 ? (double)r->docs / r->seconds : 0.0, r->peak_rss_kb,
           (double)r->peak_rss_kb / 1024.0);
    printf("        index %llu B (%.2f MB), store %llu B (%.2f MB)\n", r->index_bytes,
           (double)r->index_bytes / 1e6, r->store_bytes, (double)r->store_bytes / 1e6);
    printf("        %s\n", r->detail);
}

/* Run both peers on argv[1] below argv[2]; exit status 0 if both succeeded. */
int main(int argc, char **argv)
{
    char fts5dir[4096], sphinxdir[4096];
    peer_index_result r;
    int rc, failed = 0;

    if (argc != 3) {
        fprintf(stderr, "usage: %s NDJSON WORKDIR\n", argv[0]);
        goto fail;
    }
    if (mkdir(argv[2], 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "%s: cannot create %s: %s\n", argv[0], argv[2], strerror(errno));
        goto fail;
    }
    if ((size_t)snprintf(fts5dir, sizeof fts5dir, "%s/fts5", argv[2]) >= sizeof fts5dir ||
        (size_t)snprintf(sphinxdir, sizeof sphinxdir, "%s/sphinx", argv[2]) >= sizeof sphinxdir) {
        fprintf(stderr, "%s: WORKDIR too long\n", argv[0]);
        goto fail;
    }

    rc = peer_fts5_index(argv[1], fts5dir, &r);
    print_result("fts5", rc, &r);
    failed |= rc != 0;
    rc = peer_sphinx_index(argv[1], sphinxdir, &r);
    print_result("sphinx", rc, &r);
    failed |= rc != 0;
    return failed ? 1 : 0;
fail:
    return 2;
}
