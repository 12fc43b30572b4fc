/* ep_items.c: GET /v1/items/{id}, one stored document by its external id. The id is the rest
 * of the path, %-decoded, so ids with slashes or spaces work when escaped. */
#include "api_int.h"
#include "souk/souk.h"

#include <string.h>

int sk_ep_items(sk_ctx *c)
{
    const char *id = c->path_arg;
    size_t len = c->path_arg_len;
    if (c->query_len)
        return sk_fail(c, 400, "unknown_parameter", NULL, "/v1/items/{id} takes no parameters");
    souk_searcher *s = c->w->searcher;
    if (souk_searcher_refresh(s))
        return sk_fail(c, 500, "internal", NULL, "cannot read the index");
    souk_reader *r = souk_searcher_reader(s);
    uint32_t docid;
    int rc = souk_reader_docid(r, id, len, &docid);
    const char *sid, *json;
    size_t sl, jl;
    if (rc == 0)
        rc = souk_searcher_doc(s, docid, &sid, &sl, &json, &jl);
    if (rc == SOUK_ENOTFOUND)
        return sk_fail(c, 404, "not_found", "id", "no item with this id");
    if (rc)
        return sk_fail(c, 500, "internal", NULL, "reading the item: %s", souk_strerror(rc));
    sk_buf_str(c->out, "{\"id\":");
    sk_buf_json_str(c->out, sid, sl);
    sk_buf_str(c->out, ",\"fields\":");
    sk_buf_add(c->out, jl ? json : "{}", jl ? jl : 2);
    sk_buf_str(c->out, "}\n");
    return 200;
}
