/* ep_healthz.c: GET /healthz, for load balancers: 200 while the index reads and the server is
 * not draining, with the index's document count and generation, and on a replica fed from NATS
 * JetStream the applied sequence and lag of each stream (api/replication.c; a lagging replica
 * still answers 200: it serves what it has, and min_seq refuses what it has not). No credential
 * needed. */
#include "api_int.h"
#include "souk/souk.h"

int sk_ep_healthz(sk_ctx *c)
{
    souk_stats st;
    if (souk_searcher_refresh(c->w->searcher) ||
        souk_reader_stats(souk_searcher_reader(c->w->searcher), &st))
        return sk_fail(c, 503, "index_unavailable", NULL, "the index cannot be read");
    sk_buf_printf(c->out, "{\"status\":\"ok\",\"docs\":%llu,\"generation\":%llu",
                  (unsigned long long)st.docs, (unsigned long long)st.generation);
    sk_repl_json(c->w->st, c->out); /* a replica fed from NATS: applied sequence and lag */
    sk_buf_str(c->out, "}\n");
    return 200;
}
