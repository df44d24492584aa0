#include "cli/shutdown.h"

static void on_signal(uv_signal_t *signal, int signum)
{
    struct cli_shutdown *s = signal->data;
    void (*on_stop)(void *, int) = s->on_stop;
    cli_shutdown_close(s);
    if (on_stop)
        on_stop(s->ctx, signum);
}

void cli_shutdown_init(uv_loop_t *loop, struct cli_shutdown *s,
                       void (*on_stop)(void *ctx, int signum), void *ctx)
{
    s->on_stop = on_stop;
    s->ctx = ctx;
    s->closed = 0;
    uv_signal_init(loop, &s->sigint);
    uv_signal_init(loop, &s->sigterm);
    s->sigint.data = s;
    s->sigterm.data = s;
    uv_signal_start(&s->sigint, on_signal, SIGINT);
    uv_signal_start(&s->sigterm, on_signal, SIGTERM);
}

void cli_shutdown_close(struct cli_shutdown *s)
{
    if (s->closed)
        return;
    s->closed = 1;
    s->on_stop = NULL;
    uv_close((uv_handle_t *)&s->sigint, NULL);
    uv_close((uv_handle_t *)&s->sigterm, NULL);
}
