/* Warm standbys (tether dev): a function that wants one (config `standby`)
 * keeps one runtime process started ahead for the remote worker it last
 * served: the interpreter and tether's shim loaded, the handler not. Its
 * shim waits on its standard input (TETHER_STANDBY=1); when a change has
 * stopped the function's sandboxes, the next invocation for that worker
 * wakes it instead of starting a new process, so it runs the new code after
 * only the handler's import, which is still its init: an import error is an
 * init error as in any cold start. docs/dev.md, "Reload".
 *
 * This file decides when; sandbox.c starts and wakes them. A standby is a
 * sandbox in the function's list (sb->standby) that nothing dispatches to,
 * that a reload does not stop (it has loaded no code of the function), and
 * that is discarded when its worker's environment is no longer the one it
 * was started with. */
#ifndef TETHER_LAMBDA_STANDBY_H
#define TETHER_LAMBDA_STANDBY_H

#include "lambda/lambda_internal.h"

/* A live invocation finds no sandbox serving its worker: 0 when the
 * function's standby took it over (it is bound to the standby and runs once
 * the handler is loaded), -ENOENT when the caller must start one. A standby
 * for the same worker but another environment is stopped. */
int lambda_standby_take(struct lambda_function *function, struct lambda_invocation *inv);
/* sb waits for work with nothing to do: when its function wants a standby
 * and has none, one is started for sb's worker and environment. Only then,
 * after an answer went out, so starting one never delays an answer. */
void lambda_standby_refill(struct lambda_sandbox *sb);
/* The function's standby, or NULL. */
struct lambda_sandbox *lambda_standby_of(const struct lambda_function *function);

#endif
