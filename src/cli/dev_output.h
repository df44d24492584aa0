/* What `tether dev` shows: a readable live view (one line per invocation,
 * worker output prefixed by function, errors in colour), or with --json one
 * JSON object per line: {"type":"url"|"lambda"|"events"|"ready"|"worker"|
 * "invocation"|"reload"|"error"|"info", ...}. Full per-invocation records go
 * to .tether/log/ in the project; .tether/dev.json tells `tether invoke`
 * where the running session's Lambda endpoint is. */
#ifndef TETHER_CLI_DEV_OUTPUT_H
#define TETHER_CLI_DEV_OUTPUT_H

#include <stdio.h>

#include "dev/session.h"

struct dev_output {
    int json;
    int color;
    char app[64];
    char stage[64];
    char log_dir[4096]; /* "" until the project root is known */
    char first_url[256];
    unsigned invocations;
};

void dev_output_init(struct dev_output *out, int json, const char *app, const char *stage);
void dev_output_free(struct dev_output *out);
/* Where the Lambda services write function logs (stdout, or stderr with --json). */
FILE *dev_output_function_log(struct dev_output *out);
void dev_output_line(struct dev_output *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void dev_output_problem(struct dev_output *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void dev_output_endpoints(struct dev_output *out, const char *events_http, const char *lambda);
void dev_output_url(struct dev_output *out, const char *function, const char *url);
void dev_output_ready(struct dev_output *out);
void dev_output_worker(struct dev_output *out, const char *detail);
void dev_output_invocation(struct dev_output *out, const struct dev_invocation_report *r);
void dev_output_reload(struct dev_output *out, const char *function, const char *path,
                       double watcher_ms);
/* Writes .tether/dev.json (mode 0600: it holds the local API key). */
int dev_output_write_state(struct dev_output *out, const char *root, const char *events_http,
                           const char *api_key, const char *lambda_endpoint);
void dev_output_remove_state(struct dev_output *out, const char *root);

#endif
