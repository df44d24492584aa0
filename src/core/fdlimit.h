/* The process's descriptor limit (RLIMIT_NOFILE). Long-running commands
 * (broker, lambda, dev, tunnel) raise the soft limit to the hard one once at
 * start, so that a flood of connections meets the servers' own caps (which
 * are set well below it) rather than accept() failing for everyone. */
#ifndef TETHER_CORE_FDLIMIT_H
#define TETHER_CORE_FDLIMIT_H

#include <stddef.h>

/* Raises the soft limit to the hard limit. Returns 0 or -errno. */
int fd_limit_raise(void);
/* The soft limit now (SIZE_MAX when unlimited, 1024 when unknown). */
size_t fd_limit_current(void);

#endif
