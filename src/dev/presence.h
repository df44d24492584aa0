/* Detects a second `tether dev` on the same app and stage, so two sessions
 * never silently take each other's invocations (SST's failure mode).
 *
 * Every session subscribes to the control channel /{ns}/{app}/{stage}/dev and
 * announces itself ("hello"); a running session answers "here". A newcomer
 * that hears "here" within the wait refuses to start; with --force it says
 * so in its hello and the running session steps down (it is told it was
 * displaced). Two sessions starting together: the smaller session id wins.
 *
 * With the stage's bridge key every presence message is a sealed packet on
 * the control channel (bridge/seal.h: encrypted, authenticated, bound to the
 * channel, inside the replay window, never accepted twice), so only a holder
 * of the key can make a session refuse to start or step down. On top of
 * that, a "here" names the hello it answers (a replayed one names a session
 * that no longer starts), and a message sealed before this session started
 * is refused (a captured --force hello replayed later displaces nobody).
 * Anything that does not open is dropped. Without a key (the
 * explicit insecure mode) messages are plain JSON, as before. */
#ifndef TETHER_DEV_PRESENCE_H
#define TETHER_DEV_PRESENCE_H

#include <stdint.h>

#include "bridge/seal.h"
#include "events/client.h"

enum dev_presence_event {
    DEV_PRESENCE_CLEAR,     /* no other session: this one serves the stage */
    DEV_PRESENCE_TAKEN,     /* another session serves it: refuse to start */
    DEV_PRESENCE_DISPLACED, /* a newcomer took over with --force: stop */
    DEV_PRESENCE_FAILED,    /* the control channel could not be used */
};

/* other: "host (pid N)" of the other session, or a cause for FAILED. */
typedef void (*dev_presence_cb)(void *ctx, enum dev_presence_event event, const char *other);

struct dev_presence;

/* key: the stage's bridge key (copied), or NULL for the insecure mode. */
int dev_presence_start(uv_loop_t *loop, struct events_client *client, const char *channel,
                       const struct bridge_key *key, int force, uint32_t wait_ms,
                       dev_presence_cb on_event, void *ctx, struct dev_presence **out, char *cause,
                       size_t cause_len);
void dev_presence_stop(struct dev_presence *presence);

#endif
