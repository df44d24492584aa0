/* `tether lambda`: a local AWS Lambda service. One port serves the Invoke API
 * and function URLs; every sandbox (one runtime process) gets its own
 * Runtime API on a port of 127.0.0.1. docs/lambda.md has the design.
 *
 * The service borrows the configuration (which must outlive it) and owns
 * everything else: sandboxes, their processes, connections. It runs on the
 * given loop; lambda_service_stop() stops accepting, kills every sandbox and
 * frees the service, then calls on_stopped. */
#ifndef TETHER_LAMBDA_LAMBDA_H
#define TETHER_LAMBDA_LAMBDA_H

#include <stdint.h>
#include <stdio.h>

#include <uv.h>

#include "lambda/config.h"

struct lambda_service;

struct lambda_service_options {
    const char *host; /* an IP address to listen on */
    uint16_t port;    /* 0 picks a free port */
    FILE *log_out;    /* function logs and START/END/REPORT lines (default stdout) */
    /* Overrides the configuration's idle_timeout when > 0 (milliseconds). */
    uint64_t idle_timeout_ms;
};

int lambda_service_start(uv_loop_t *loop, const struct lambda_config *config,
                         const struct lambda_service_options *options, struct lambda_service **out,
                         char *cause, size_t cause_len);
uint16_t lambda_service_port(const struct lambda_service *service);
/* Prints the endpoints (plain text, or one JSON line) to out. */
void lambda_service_describe(const struct lambda_service *service, FILE *out, int json);
void lambda_service_stop(struct lambda_service *service, void (*on_stopped)(void *user),
                         void *user);

#endif
