#include "core/cause.h"

#include <stdarg.h>
#include <stdio.h>

int cause_set(char *cause, size_t cause_len, int err, const char *fmt, ...)
{
    if (cause && cause_len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(cause, cause_len, fmt, ap);
        va_end(ap);
    }
    return err;
}
