/* Where tether's own files are: the runtime shims (runtimes/node,
 * runtimes/python) that `tether dev`'s workers and `tether lambda`'s managed
 * runtimes run, and the build's bridge. TETHER_HOME when set; otherwise the
 * nearest directory at or above the running binary's that holds
 * runtimes/node/index.mjs (the repository for build/tether and
 * build/san/tether, an install prefix's share directory when packaged).
 *
 * Errors: 0, or -ENOENT with cause saying where it looked. */
#ifndef TETHER_CORE_HOME_H
#define TETHER_CORE_HOME_H

#include <stddef.h>

int tether_home(char *out, size_t out_len, char *cause, size_t cause_len);

#endif
