/* nats_link.h: what souk-publish and souk-index share to reach NATS JetStream through the C
 * client (libnats): nats:// addresses, connections that reconnect on their own, and the streams
 * Souk's data lives in (docs/scaling.md). Indexer-only code: the engine knows nothing of NATS. */
#ifndef SOUK_NATS_LINK_H
#define SOUK_NATS_LINK_H

#include <nats/nats.h>
#include <stddef.h>
#include <stdint.h>

#define NL_MAX_SERVERS 8

/* A parsed address nats://HOST:PORT[,HOST:PORT...]/STREAM. */
typedef struct nl_addr {
    char servers[NL_MAX_SERVERS][160]; /* each "nats://HOST:PORT" */
    int nservers;
    char stream[65]; /* [A-Za-z0-9_-]{1,64} */
} nl_addr;

/* Parses url into *a. Returns 0, or -1 with err naming what is wrong. */
int nl_addr_parse(const char *url, nl_addr *a, char *err, size_t errlen);

/* Connects to a's servers (the client also learns the rest of a cluster from them) with
 * reconnection for ever, and opens a JetStream context with api_wait_ms for its API requests
 * (jo may be NULL: defaults; it is copied). Returns 0, or -1 with err. *nc and *js are freed by
 * nl_close. */
int nl_connect(const nl_addr *a, const char *client_name, jsOptions *jo, natsConnection **nc,
               jsCtx **js, char *err, size_t errlen);
void nl_close(natsConnection *nc, jsCtx *js);

/* Makes sure stream exists with subjects "<prefix>.*": when it does not, creates it (file
 * storage, a 2-minute duplicate window for message ids) with replicas copies, or when replicas
 * is 0 with 3 copies on a cluster and 1 on a single server. A cluster is an address that lists
 * 3 servers or more, or a server that tells of 2 others or more (it may not have yet, just
 * connected: list the servers). *replicas_out (may be NULL) gets the stream's replication
 * factor. With max_age_s > 0 the stream keeps a message at most that long (JetStream's MaxAge:
 * the retention of what it holds), set on creation and, on a stream that has another, updated.
 * Returns 0 or -1 with err. */
int nl_ensure_stream(natsConnection *nc, jsCtx *js, const char *stream, const char *prefix,
                     int replicas, int listed, double max_age_s, int *replicas_out, char *err,
                     size_t errlen);

/* Milliseconds since the epoch (wall clock). */
int64_t nl_now_ms(void);

#endif
