/* audit.c: the append-only audit log of privacy actions (P18), DIR/events/audit.log, outside
 * the LMDB generations so that compaction never rewrites it.
 *
 * One JSON line per action: {"ts":ms,"action":"...","subject":"<hex>","detail":"..."}. The
 * subject is the hex of the user's suppression hash (souk/keys.h), the same hash an erased
 * user's suppression record keeps, so the log names nobody by a raw id or a pseudonym and the
 * byte scan after an erasure (P13) finds neither. Details say what changed (consent flags),
 * never which item or tag: the log outlives the user's data.
 *
 * Each line is one write() on a descriptor opened with O_APPEND (so lines of concurrent
 * writers, in this process or another, never interleave), then fsync()ed before the call
 * returns: an action reported done is on disk in the log. */
#include "events/events_int.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int souk_audit(souk_events *s, const char *action, const char *user, size_t len, const char *detail,
               int64_t now)
{
    if (!user || !len)
        return souk__ev_audit_hash(s, action, NULL, detail, now);
    uint8_t h[SOUK_SUPPRESS_LEN];
    souk_suppress_hash(s->o.keys, user, len, h);
    return souk__ev_audit_hash(s, action, h, detail, now);
}

int souk__ev_audit_hash(souk_events *s, const char *action, const uint8_t h[SOUK_SUPPRESS_LEN],
                        const char *detail, int64_t now)
{
    if (!action || !*action)
        return SOUK_EINVAL;
    char subject[2 * SOUK_SUPPRESS_LEN + 1] = "";
    for (int i = 0; h && i < SOUK_SUPPRESS_LEN; i++)
        snprintf(subject + 2 * i, 3, "%02x", h[i]);
    int rc = SOUK_ENOMEM;
    char *line = NULL;
    cJSON *o = cJSON_CreateObject();
    if (!o || !cJSON_AddNumberToObject(o, "ts", (double)now) ||
        !cJSON_AddStringToObject(o, "action", action) ||
        !cJSON_AddStringToObject(o, "subject", subject) ||
        !cJSON_AddStringToObject(o, "detail", detail ? detail : ""))
        goto out;
    line = cJSON_PrintUnformatted(o);
    if (!line)
        goto out;
    size_t n = strlen(line);
    char *buf = souk_malloc(n + 1);
    if (!buf)
        goto out;
    memcpy(buf, line, n);
    buf[n] = '\n';

    char path[4096];
    snprintf(path, sizeof path, "%s/audit.log", s->dir);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        rc = SOUK_EIO;
        souk_free(buf);
        goto out;
    }
    ssize_t w;
    do
        w = write(fd, buf, n + 1);
    while (w < 0 && errno == EINTR);
    rc = (w == (ssize_t)(n + 1) && fsync(fd) == 0) ? SOUK_OK : SOUK_EIO;
    close(fd);
    souk_free(buf);
out:
    if (line)
        cJSON_free(line);
    cJSON_Delete(o);
    return rc;
}
