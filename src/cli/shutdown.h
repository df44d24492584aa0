/* Stopping a foreground command cleanly on SIGINT or SIGTERM: the first
 * signal calls on_stop once and closes both signal handles, so the loop can
 * end as soon as the command has closed its own handles. */
#ifndef TETHER_CLI_SHUTDOWN_H
#define TETHER_CLI_SHUTDOWN_H

#include <uv.h>

struct cli_shutdown {
    uv_signal_t sigint;
    uv_signal_t sigterm;
    void (*on_stop)(void *ctx, int signum);
    void *ctx;
    int closed;
};

void cli_shutdown_init(uv_loop_t *loop, struct cli_shutdown *s,
                       void (*on_stop)(void *ctx, int signum), void *ctx);
/* Closes the signal handles without calling on_stop (the command ended by itself). */
void cli_shutdown_close(struct cli_shutdown *s);

#endif
