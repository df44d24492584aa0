/* What `tether dev` shows: a readable live view (one line per invocation,
 * worker output prefixed by function, errors in colour), or with --json one
 * JSON object per line: {"type":"url"|"lambda"|"events"|"ready"|"worker"|
 * "invocation"|"reload"|"build"|"error"|"info"|"key"|"warning"|"tunnel"|"inspector"|
 * "attach",
 * ...}. Full per-invocation records are kept by the invocation store
 * (dev/inspector_store.h). */
#ifndef TETHER_CLI_DEV_OUTPUT_H
#define TETHER_CLI_DEV_OUTPUT_H

#include <stdio.h>

#include "dev/attach.h"
#include "dev/build.h"
#include "dev/session.h"
#include "dev/tunnel.h"

struct dev_output {
    int json;
    int color;
    char first_url[256];
    int insecure; /* no bridge key: said at start and again when ready */
};

void dev_output_init(struct dev_output *out, int json, const char *app, const char *stage);
/* Where the Lambda services write function logs (stdout, or stderr with --json). */
FILE *dev_output_function_log(struct dev_output *out);
void dev_output_line(struct dev_output *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void dev_output_problem(struct dev_output *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void dev_output_endpoints(struct dev_output *out, const char *events_http, const char *lambda);
void dev_output_url(struct dev_output *out, const char *function, const char *url);
void dev_output_ready(struct dev_output *out);
/* Where the bridge key came from (origin: "created", "project", "file",
 * "environment") and where it is kept (path, or NULL). */
void dev_output_key(struct dev_output *out, const char *origin, const char *path);
/* --insecure-no-auth: a loud warning now, and on the ready line. */
void dev_output_insecure(struct dev_output *out);
/* A worker's debugger port (tether dev --inspect). */
void dev_output_debugger(struct dev_output *out, const char *function, const char *worker,
                         unsigned port);
/* A warning that does not stop the run ({"type":"warning"} in --json). */
void dev_output_warning(struct dev_output *out, const char *text);
void dev_output_worker(struct dev_output *out, const char *detail);
void dev_output_invocation(struct dev_output *out, const struct dev_invocation_report *r);
/* standby: a warm standby takes over (docs/dev.md, "Reload"), else the
 * workers restart. */
void dev_output_reload(struct dev_output *out, const char *function, const char *path,
                       double watcher_ms, int standby);
/* The VPC tunnel's state and counters: a line of the live view, or
 * {"type":"tunnel","state":...,"bastion":...,"socks":...,"tun":...,
 * "streamsOpen":N,"streamsTotal":N,"bytesUp":N,"bytesDown":N,"cause":...}. */
void dev_output_tunnel(struct dev_output *out, const struct dev_tunnel_report *r);
/* The inspector's address (with its token). */
void dev_output_inspector(struct dev_output *out, const char *url);
/* A finished build (dev/build.h): {"type":"build","function","ok","ms",
 * "error" or "output"}; in the live view, its text under the function. */
void dev_output_build(struct dev_output *out, const struct dev_build_report *report);

/* Attaching and restoring deployed functions (dev/attach.h):
 * {"type":"attach","event":"layer"|"attached"|"failed"|"restored"|
 * "restore-failed"|"warning","function","deployed","ms","detail"}; in the
 * live view one line each. */
void dev_output_attach(struct dev_output *out, const struct attach_report *report);

#endif
