/* The local interpreters against the runtimes tether.json declares: a
 * function declared nodejs24.x that runs on the machine's Node 20 behaves
 * differently from the deployed one, and says so before the first
 * invocation does. */
#ifndef TETHER_DEV_INTERPRETER_H
#define TETHER_DEV_INTERPRETER_H

#include <stddef.h>

#include "dev/config.h"

/* The version an interpreter's --version prints, as runtimes name it: "22"
 * from "v22.3.0" (node), "3.12" from "Python 3.12.1" (python3); -EINVAL for
 * anything else. */
int dev_interpreter_parse(enum dev_runtime runtime, const char *text, char *out, size_t out_len);

/* Asks node and python3 for their version (each at most once, only when a
 * live function uses it) and calls warn for every live function whose
 * declared runtime differs, naming both. An interpreter that cannot be run
 * is left to the worker's own error. */
void dev_interpreter_check(const struct dev_config *config,
                           void (*warn)(void *ctx, const char *text), void *ctx);

#endif
