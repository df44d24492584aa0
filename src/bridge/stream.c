#include "bridge/stream.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge/seal.h"

/* ---- writer ---- */

void bridge_writer_init(struct bridge_writer *w, enum bridge_type type, const char *source,
                        const char *id, bridge_emit_fn emit, void *ctx)
{
    memset(w, 0, sizeof(*w));
    w->type = type;
    snprintf(w->source, sizeof(w->source), "%s", source);
    snprintf(w->id, sizeof(w->id), "%s", id);
    w->emit = emit;
    w->ctx = ctx;
}

int bridge_writer_seal(struct bridge_writer *w, const struct bridge_seal *seal, const char *channel,
                       bridge_clock_fn clock, void *clock_ctx)
{
    if (seal && (!channel || !clock))
        return -EINVAL;
    w->seal = seal;
    w->channel = channel;
    w->clock = clock;
    w->clock_ctx = clock_ctx;
    return 0;
}

static int emit_chunk(struct bridge_writer *w, const char *data, size_t len, int final)
{
    buf_reset(&w->scratch);
    const char *content_type = w->next_index == 0 ? w->content_type : NULL;
    uint32_t index = w->next_index++;
    int rc = w->seal ? bridge_seal_encode(w->seal, &w->scratch, w->channel, w->clock(w->clock_ctx),
                                          w->type, w->source, w->id, index, final, data, len,
                                          content_type)
                     : bridge_packet_encode(&w->scratch, w->type, w->source, w->id, index, final,
                                            data, len, content_type);
    if (rc < 0)
        return rc;
    return w->emit(w->ctx, buf_bytes(&w->scratch), buf_length(&w->scratch));
}

int bridge_writer_write(struct bridge_writer *w, const void *data, size_t len)
{
    if (w->closed)
        return -EPIPE;
    const char *p = data;
    while (len > 0) {
        size_t room = BRIDGE_CHUNK_BYTES - buf_length(&w->pending);
        size_t n = len < room ? len : room;
        /* Whole chunks straight from the caller's memory need no copy. */
        if (buf_length(&w->pending) == 0 && n == BRIDGE_CHUNK_BYTES && len > n) {
            int rc = emit_chunk(w, p, n, 0);
            if (rc < 0)
                return rc;
        } else {
            int rc = buf_append(&w->pending, p, n);
            if (rc < 0)
                return rc;
            /* Keep a full chunk until more data (or close) shows whether it is the last. */
            if (buf_length(&w->pending) == BRIDGE_CHUNK_BYTES && len > n) {
                rc = emit_chunk(w, buf_bytes(&w->pending), BRIDGE_CHUNK_BYTES, 0);
                buf_reset(&w->pending);
                if (rc < 0)
                    return rc;
            }
        }
        p += n;
        len -= n;
    }
    return 0;
}

int bridge_writer_flush(struct bridge_writer *w)
{
    if (w->closed)
        return -EPIPE;
    if (buf_length(&w->pending) == 0)
        return 0;
    int rc = emit_chunk(w, buf_bytes(&w->pending), buf_length(&w->pending), 0);
    buf_reset(&w->pending);
    return rc;
}

int bridge_writer_close(struct bridge_writer *w)
{
    if (w->closed)
        return -EPIPE;
    w->closed = 1;
    int rc = emit_chunk(w, buf_bytes(&w->pending), buf_length(&w->pending), 1);
    buf_reset(&w->pending);
    return rc;
}

void bridge_writer_free(struct bridge_writer *w)
{
    buf_free(&w->pending);
    buf_free(&w->scratch);
}

int bridge_send_sealed(const struct bridge_seal *seal, const char *channel, bridge_clock_fn clock,
                       void *clock_ctx, enum bridge_type type, const char *source, const char *id,
                       const void *data, size_t len, bridge_emit_fn emit, void *ctx)
{
    struct bridge_writer w;
    bridge_writer_init(&w, type, source, id, emit, ctx);
    int rc = bridge_writer_seal(&w, seal, channel, clock, clock_ctx);
    if (rc == 0)
        rc = bridge_writer_write(&w, data, len);
    if (rc == 0)
        rc = bridge_writer_close(&w);
    bridge_writer_free(&w);
    return rc;
}

int bridge_send(enum bridge_type type, const char *source, const char *id, const void *data,
                size_t len, bridge_emit_fn emit, void *ctx)
{
    return bridge_send_sealed(NULL, NULL, NULL, NULL, type, source, id, data, len, emit, ctx);
}

/* ---- reassembler ---- */

struct held_packet {
    struct held_packet *next; /* sorted by index */
    struct bridge_packet packet;
};

struct message_state {
    char key[BRIDGE_MAX_SOURCE_LENGTH + BRIDGE_MAX_ID_LENGTH + 8];
    size_t key_len;
    enum bridge_type type;
    char source[BRIDGE_MAX_SOURCE_LENGTH + 1];
    char id[BRIDGE_MAX_ID_LENGTH + 1];
    uint32_t next_index;
    int done; /* final released, or abandoned: later packets are duplicates */
    struct held_packet *held;
    size_t held_bytes;
    int assembling;  /* body holds chunks of an assemble_types message */
    struct buf body; /* those chunks, in order */
    char content_type[128];
    uint64_t last_activity_ms;
    struct message_state *older, *newer; /* age list, for eviction */
};

struct bridge_reassembler {
    struct bridge_reassembly_limits limits;
    bridge_chunk_fn on_chunk;
    bridge_abandon_fn on_abandon;
    void *ctx;
    struct hashmap messages;
    struct message_state *oldest, *newest;
    size_t held_total;
    size_t assembled_total;
    size_t assembling;
};

void bridge_reassembly_default_limits(struct bridge_reassembly_limits *limits)
{
    limits->max_held_per_message = 16u * 1024 * 1024;
    limits->max_held_total = 64u * 1024 * 1024;
    limits->idle_timeout_ms = 30000;
    limits->remember_done_ms = 60000;
    limits->max_messages = 65536;
    limits->assemble_types = 0;
    limits->max_message_bytes = 16u * 1024 * 1024;
    limits->max_assembled_total = 64u * 1024 * 1024;
}

struct bridge_reassembler *bridge_reassembler_new(const struct bridge_reassembly_limits *limits,
                                                  bridge_chunk_fn on_chunk,
                                                  bridge_abandon_fn on_abandon, void *ctx)
{
    struct bridge_reassembler *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    if (hashmap_init(&r->messages) < 0) {
        free(r);
        return NULL;
    }
    if (limits)
        r->limits = *limits;
    else
        bridge_reassembly_default_limits(&r->limits);
    r->on_chunk = on_chunk;
    r->on_abandon = on_abandon;
    r->ctx = ctx;
    return r;
}

static void drop_held(struct bridge_reassembler *r, struct message_state *m)
{
    while (m->held) {
        struct held_packet *h = m->held;
        m->held = h->next;
        bridge_packet_free(&h->packet);
        free(h);
    }
    r->held_total -= m->held_bytes;
    m->held_bytes = 0;
    if (m->assembling) {
        r->assembled_total -= buf_length(&m->body);
        r->assembling--;
        m->assembling = 0;
    }
    buf_free(&m->body);
}

static void unlink_age(struct bridge_reassembler *r, struct message_state *m)
{
    if (m->older)
        m->older->newer = m->newer;
    else
        r->oldest = m->newer;
    if (m->newer)
        m->newer->older = m->older;
    else
        r->newest = m->older;
    m->older = m->newer = NULL;
}

static void touch(struct bridge_reassembler *r, struct message_state *m, uint64_t now_ms)
{
    m->last_activity_ms = now_ms;
    if (r->newest == m)
        return;
    if (m->older || m->newer || r->oldest == m)
        unlink_age(r, m);
    m->older = r->newest;
    if (r->newest)
        r->newest->newer = m;
    r->newest = m;
    if (!r->oldest)
        r->oldest = m;
}

static void forget(struct bridge_reassembler *r, struct message_state *m)
{
    drop_held(r, m);
    unlink_age(r, m);
    hashmap_remove(&r->messages, m->key, m->key_len);
    free(m);
}

static void abandon(struct bridge_reassembler *r, struct message_state *m, const char *reason)
{
    drop_held(r, m);
    m->done = 1;
    if (r->on_abandon)
        r->on_abandon(r->ctx, m->type, m->source, m->id, reason);
}

void bridge_reassembler_free(struct bridge_reassembler *r)
{
    if (!r)
        return;
    while (r->oldest)
        forget(r, r->oldest);
    hashmap_free(&r->messages);
    free(r);
}

static int make_key(enum bridge_type type, const char *source, const char *id, char *key,
                    size_t cap)
{
    return snprintf(key, cap, "%d\x1f%s\x1f%s", (int)type, source, id);
}

static struct message_state *state_for(struct bridge_reassembler *r, const struct bridge_packet *p)
{
    char key[sizeof(((struct message_state *)0)->key)];
    int len = make_key(p->type, p->source, p->id, key, sizeof(key));
    struct message_state *m = hashmap_get(&r->messages, key, (size_t)len);
    if (m)
        return m;
    /* Make room by forgetting the least recently active messages. */
    while (hashmap_count(&r->messages) >= r->limits.max_messages && r->oldest) {
        struct message_state *old = r->oldest;
        if (!old->done)
            abandon(r, old, "too many messages in progress");
        forget(r, old);
    }
    m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    memcpy(m->key, key, (size_t)len + 1);
    m->key_len = (size_t)len;
    m->type = p->type;
    memcpy(m->source, p->source, sizeof(m->source));
    memcpy(m->id, p->id, sizeof(m->id));
    if (hashmap_put(&r->messages, m->key, m->key_len, m) < 0) {
        free(m);
        return NULL;
    }
    return m;
}

/* Collects a chunk of an assemble_types message. Earlier chunks are shown
 * to on_chunk too, as signs of progress; the final one goes out with the
 * whole body (a one-packet message without a copy). */
static void assemble(struct bridge_reassembler *r, struct message_state *m,
                     const struct bridge_packet *p)
{
    size_t len = buf_length(&p->data);
    if (p->final && !m->assembling) {
        r->on_chunk(r->ctx, p);
        return;
    }
    if (!p->final)
        r->on_chunk(r->ctx, p);
    if (buf_length(&m->body) + len > r->limits.max_message_bytes ||
        r->assembled_total + len > r->limits.max_assembled_total) {
        abandon(r, m, "the message is larger than the receiver holds");
        return;
    }
    if (buf_append(&m->body, buf_bytes(&p->data), len) < 0) {
        abandon(r, m, "out of memory");
        return;
    }
    r->assembled_total += len;
    if (!m->assembling) {
        m->assembling = 1;
        r->assembling++;
        memcpy(m->content_type, p->content_type, sizeof(m->content_type));
    }
    if (!p->final)
        return;
    struct bridge_packet whole = *p;
    memcpy(whole.content_type, m->content_type, sizeof(whole.content_type));
    whole.data = m->body;
    r->on_chunk(r->ctx, &whole);
    drop_held(r, m);
}

static void release(struct bridge_reassembler *r, struct message_state *m,
                    const struct bridge_packet *p)
{
    m->next_index++;
    if (p->final)
        m->done = 1;
    if ((r->limits.assemble_types >> (unsigned)p->type) & 1u)
        assemble(r, m, p);
    else
        r->on_chunk(r->ctx, p);
}

static void release_held(struct bridge_reassembler *r, struct message_state *m)
{
    while (!m->done && m->held && m->held->packet.index == m->next_index) {
        struct held_packet *h = m->held;
        m->held = h->next;
        size_t n = buf_length(&h->packet.data);
        m->held_bytes -= n;
        r->held_total -= n;
        release(r, m, &h->packet);
        bridge_packet_free(&h->packet);
        free(h);
    }
    if (m->done)
        drop_held(r, m); /* anything after the final packet is noise */
}

static int hold(struct bridge_reassembler *r, struct message_state *m, struct bridge_packet *p)
{
    struct held_packet **link = &m->held;
    while (*link && (*link)->packet.index < p->index)
        link = &(*link)->next;
    if (*link && (*link)->packet.index == p->index)
        return BRIDGE_PUSH_DUPLICATE;
    size_t n = buf_length(&p->data);
    if (m->held_bytes + n > r->limits.max_held_per_message ||
        r->held_total + n > r->limits.max_held_total) {
        abandon(r, m, "too many packets arrived out of order");
        return -E2BIG;
    }
    struct held_packet *h = calloc(1, sizeof(*h));
    if (!h)
        return -ENOMEM;
    h->packet = *p;
    bridge_packet_init(p); /* data moved */
    h->next = *link;
    *link = h;
    m->held_bytes += n;
    r->held_total += n;
    return BRIDGE_PUSH_ACCEPTED;
}

int bridge_reassembler_push(struct bridge_reassembler *r, struct bridge_packet *packet,
                            uint64_t now_ms)
{
    struct message_state *m = state_for(r, packet);
    if (!m)
        return -ENOMEM;
    touch(r, m, now_ms);
    if (m->done || packet->index < m->next_index)
        return BRIDGE_PUSH_DUPLICATE;
    if (packet->index > m->next_index)
        return hold(r, m, packet);
    release(r, m, packet);
    release_held(r, m);
    return BRIDGE_PUSH_ACCEPTED;
}

void bridge_reassembler_expire(struct bridge_reassembler *r, uint64_t now_ms)
{
    struct message_state *m = r->oldest;
    while (m) {
        struct message_state *next = m->newer;
        uint64_t idle = now_ms - m->last_activity_ms;
        if (m->done && idle >= r->limits.remember_done_ms) {
            forget(r, m);
        } else if (!m->done && idle >= r->limits.idle_timeout_ms) {
            char reason[96];
            snprintf(reason, sizeof(reason), "no packet for %llu ms (waiting for packet %u)",
                     (unsigned long long)idle, m->next_index);
            abandon(r, m, reason);
        }
        m = next;
    }
}

size_t bridge_reassembler_held_bytes(const struct bridge_reassembler *r)
{
    return r->held_total;
}

size_t bridge_reassembler_message_count(const struct bridge_reassembler *r)
{
    return hashmap_count(&r->messages);
}

size_t bridge_reassembler_assembled_bytes(const struct bridge_reassembler *r)
{
    return r->assembled_total;
}

size_t bridge_reassembler_assembling_count(const struct bridge_reassembler *r)
{
    return r->assembling;
}
