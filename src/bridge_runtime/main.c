/* tether-bridge: the custom runtime (`bootstrap`) that stands in for a
 * developer's function in Lambda and relays each invocation to tether dev.
 * Settings come from the environment (docs/bridge.md). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#define LOG_MODULE "bridge"
#include "bridge_runtime/relay.h"
#include "bridge_runtime/runtime_client.h"
#include "bridge_runtime/settings.h"
#include "core/encoding.h"
#include "core/log.h"

#ifndef TETHER_VERSION
#define TETHER_VERSION "0.1.0"
#endif

static void on_init_error_posted(void *ctx, int status, const struct http_message *m,
                                 const char *cause)
{
    (void)ctx;
    (void)m;
    if (status != 202)
        fprintf(stderr, "tether-bridge: reporting the init error failed: %s\n",
                cause ? cause : "unexpected answer");
    uv_stop(uv_default_loop());
}

/* Without settings there is nothing to relay: tell Lambda why (POST
 * /runtime/init/error), so the caller sees the reason instead of a timeout. */
static void report_init_error(const struct bridge_settings *s, const char *message)
{
    fprintf(stderr, "tether-bridge: %s\n", message);
    if (!s->runtime_host[0])
        return; /* not running under a Runtime API at all */
    struct buf body = BUF_INIT, text = BUF_INIT;
    buf_printf(&text, "tether-bridge: %s", message);
    buf_append_str(&body, "{\"errorMessage\":");
    json_quote(&body, buf_bytes(&text), buf_length(&text));
    buf_append_str(&body, ",\"errorType\":\"Runtime.InitError\",\"stackTrace\":[]}");
    uv_loop_t *loop = uv_default_loop();
    struct conn_context *conns = conn_context_new(loop);
    struct runtime_client *rc =
        conns ? runtime_client_new(conns, s->runtime_host, s->runtime_port) : NULL;
    if (rc && runtime_client_request(rc, "POST", "/2018-06-01/runtime/init/error",
                                     "Lambda-Runtime-Function-Error-Type: Runtime.InitError\r\n",
                                     buf_bytes(&body), buf_length(&body), on_init_error_posted,
                                     NULL) == 0)
        uv_run(loop, UV_RUN_DEFAULT);
    /* Everything goes before exit, so a sanitizer build reports real leaks
     * only: the client and context close their handles, the loop finishes
     * the closes (and whatever a failed relay_start left closing). */
    runtime_client_free(rc);
    conn_context_free(conns);
    uv_run(loop, UV_RUN_DEFAULT);
    buf_free(&body);
    buf_free(&text);
}

int main(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "--help") == 0)) {
        printf("tether-bridge %s: the Lambda custom runtime that relays invocations to tether "
               "dev.\nIt is configured through its environment; see docs/bridge.md.\n",
               TETHER_VERSION);
        return 0;
    }
    log_init(-1);
    signal(SIGPIPE, SIG_IGN);
    static struct bridge_settings settings;
    char cause[400];
    if (bridge_settings_load(&settings, cause, sizeof(cause)) < 0) {
        report_init_error(&settings, cause);
        return 1;
    }
    if (settings.insecure)
        log_warn("INSECURE: TETHER_INSECURE_NO_AUTH=1 and no TETHER_BRIDGE_KEY: packets are "
                 "neither authenticated nor encrypted, so anyone who can subscribe reads this "
                 "function's credentials and anyone who can publish can answer its invocations");
    uv_loop_t *loop = uv_default_loop();
    struct relay *relay;
    if (relay_start(loop, &settings, &relay, cause, sizeof(cause)) < 0) {
        report_init_error(&settings, cause);
        return 1;
    }
    uv_run(loop, UV_RUN_DEFAULT);
    return 0;
}
