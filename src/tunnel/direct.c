/* Accessors for the TUN path (tunnel/direct.h): it opens forwards on the
 * tunnel's bastion and reports its traffic in the tunnel's statistics. */
#include "tunnel/direct.h"

#include "tunnel/tunnel_internal.h"

struct bastion *tunnel_bastion(struct tunnel *t)
{
    return t->stopping ? NULL : t->bastion;
}

uint32_t tunnel_open_timeout_ms(const struct tunnel *t)
{
    return t->config.open_timeout_ms;
}

void tunnel_direct_count_stream(struct tunnel *t, int failed)
{
    if (failed)
        t->streams_failed++;
    else
        t->streams_total++;
}

void tunnel_direct_count_bytes(struct tunnel *t, uint64_t up, uint64_t down)
{
    t->bytes_up += up;
    t->bytes_down += down;
}
