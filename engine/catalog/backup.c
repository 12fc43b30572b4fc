/* backup.c: souk_index_backup (souk/index.h), the catalog's part of `souk-index backup` (P23):
 * a consistent, compacted copy of the index environment made from one read transaction while
 * writers and the server go on, row by row (core's souk_kv_copy_logical), so that no page of the
 * copy holds the bytes of a deleted record (a supplier's personal data in a deleted item, P22).
 * The spelling table (DIR/spelling/) is derived data and is not copied: a restore rebuilds it. */
#include "catalog/index_int.h"
#include "core/kv.h"
#include "souk/index.h"
#include "souk/souk.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int souk_index_backup(souk_index *ix, const char *dest, char *err, size_t errlen)
{
    if (mkdir(dest, 0750) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create '%s': %s", dest, strerror(errno));
        return SOUK_EIO;
    }
    return souk_kv_copy_logical(ix->env, dest, 0640, NULL, NULL, err, errlen);
}
