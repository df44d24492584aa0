/* The bridge's relay: takes invocations from the Runtime API, sends them to
 * tether dev over the events channel, and posts back what dev answers.
 * Design and message flow: docs/bridge.md. */
#ifndef TETHER_BRIDGE_RUNTIME_RELAY_H
#define TETHER_BRIDGE_RUNTIME_RELAY_H

#include <uv.h>

#include "bridge_runtime/settings.h"

enum relay_state {
    RELAY_CONNECTING,     /* events connection and subscription not ready yet */
    RELAY_POLLING,        /* GET /next outstanding */
    RELAY_WAITING_PING,   /* Next sent; dev must answer within no_dev_timeout_ms */
    RELAY_WAITING_RESULT, /* dev pinged: until the deadline, or 5 s silence if it heartbeats */
    RELAY_POSTING,        /* result posted (or streaming) to the Runtime API */
};

struct relay;

const char *relay_state_name(enum relay_state state);
/* The settings must outlive the relay, which runs until the process exits
 * (Lambda ends a runtime by killing it). On failure everything made so far
 * is freed and cause says why. */
int relay_start(uv_loop_t *loop, const struct bridge_settings *settings, struct relay **out,
                char *cause, size_t cause_len);

#endif
