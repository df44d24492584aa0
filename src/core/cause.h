/* Causes: a function that fails returns a negative errno and, when its caller
 * passed a buffer, writes there why in words (truncated to the buffer, always
 * NUL-terminated). cause_set is the one writer of such a buffer, so that a
 * failure is reported and returned in one statement. */
#ifndef TETHER_CORE_CAUSE_H
#define TETHER_CORE_CAUSE_H

#include <stddef.h>

/* Formats into cause (nothing when cause is NULL or cause_len is 0) and
 * returns err. */
int cause_set(char *cause, size_t cause_len, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
