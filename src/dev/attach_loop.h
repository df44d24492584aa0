/* Attaching while a libuv loop runs: `tether dev` attaches its deployed
 * functions on a thread of its own (dev/attach.h blocks on Lambda calls), so
 * the dev loop keeps serving invocations meanwhile, and the reports come
 * back to the loop through a uv_async handle.
 *
 * Life: attach_loop_new, attach_loop_report as the attach's report callback
 * (with the attach_loop as ctx), attach_loop_run once; attach_loop_stop on
 * the loop thread when the run stops (the async handle closes, reports are
 * kept); attach_loop_finish after the loop ended (waits for the thread,
 * delivers the kept reports, and from then on delivers each report at once
 * on the thread that makes it: restoring at exit); attach_loop_free last.
 *
 * Ownership: the attach and the targets are borrowed until finish. */
#ifndef TETHER_DEV_ATTACH_LOOP_H
#define TETHER_DEV_ATTACH_LOOP_H

#include <uv.h>

#include "dev/attach.h"

struct attach_loop;

typedef void (*attach_loop_report_fn)(void *ctx, const struct attach_report *report);
/* done: on the loop, once every target was tried (not after a stop). */
int attach_loop_new(uv_loop_t *loop, attach_loop_report_fn on_report, void (*done)(void *ctx),
                    void *ctx, struct attach_loop **out);
/* The report callback for attach_options (ctx: the attach_loop). */
void attach_loop_report(void *ctx, const struct attach_report *report);
/* Starts attach_run on a thread. 0 or -errno. */
int attach_loop_run(struct attach_loop *l, struct attach *a, const struct attach_target *targets,
                    size_t count);
void attach_loop_stop(struct attach_loop *l);
void attach_loop_finish(struct attach_loop *l);
void attach_loop_free(struct attach_loop *l);

#endif
