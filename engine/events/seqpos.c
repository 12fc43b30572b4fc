/* seqpos.c: the event store fed from a replicated log (NATS JetStream, docs/scaling.md) rather
 * than a file: a batch added together with the log sequence of its last message in the same
 * transaction (meta "stream", the file ingest's resume position, here marked as a log
 * position), the sequence read back, and the number of stored events. */
#include "events/events_int.h"

#include <string.h>

/* meta "stream" of a log position: {seq, seq, hash of the log's name, LOG_MARK, 0} where a file
 * position has {offset, line, hash of the bytes, device, inode}. No file has this device
 * number, so the file ingest never resumes from a log position (it reads its file from the
 * start, which event ids make safe). */
#define LOG_MARK 0x534f554b4c4f4721ull

static uint64_t fp_hash(const char *fp)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (const char *p = fp; *p; p++) {
        h ^= (uint8_t)*p;
        h *= 0x100000001b3ull;
    }
    return h;
}

int souk_events_add_seq(souk_events *s, const souk_event *ev, size_t n, int64_t now, uint64_t seq,
                        const char *fp, souk_ev_counts *counts, char *err, size_t errlen)
{
    uint64_t pos[5] = {seq, seq, fp_hash(fp), LOG_MARK, 0};
    return souk__ev_add(s, ev, NULL, n, now, NULL, counts, pos, sizeof pos, err, errlen);
}

int souk_events_seq(souk_events *s, const char *fp, uint64_t *seq, int *other)
{
    uint64_t pos[5];
    *seq = 0;
    *other = 0;
    int rc = souk__ev_stream_pos(s, pos);
    if (rc == SOUK_ENOTFOUND)
        return SOUK_OK;
    if (rc)
        return rc;
    if (pos[3] == LOG_MARK && (!fp || pos[2] == fp_hash(fp)))
        *seq = pos[0];
    else
        *other = 1;
    return SOUK_OK;
}

int souk_events_count(souk_events *s, uint64_t *n)
{
    MDB_txn *txn;
    int rc = souk__ev_begin(s, MDB_RDONLY, &txn);
    if (rc)
        return rc;
    MDB_stat st;
    rc = mdb_stat(txn, s->ev, &st);
    souk__ev_abort(s, txn);
    if (rc)
        return souk_kv_err(rc);
    *n = st.ms_entries;
    return SOUK_OK;
}
