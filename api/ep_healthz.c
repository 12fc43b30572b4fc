/* ep_healthz.c: GET /healthz, for load balancers: 200 while the index reads and the server is
 * not draining, with the index's document count and generation. No credential needed. */
#include "api_int.h"
#include "souk/souk.h"

int sk_ep_healthz(sk_ctx *c)
{
    souk_stats st;
    if (souk_searcher_refresh(c->w->searcher) ||
        souk_reader_stats(souk_searcher_reader(c->w->searcher), &st))
        return sk_fail(c, 503, "index_unavailable", NULL, "the index cannot be read");
    sk_buf_printf(c->out, "{\"status\":\"ok\",\"docs\":%llu,\"generation\":%llu}\n",
                  (unsigned long long)st.docs, (unsigned long long)st.generation);
    return 200;
}
