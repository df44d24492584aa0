/* A relayed invocation: the bridge sends the Runtime API's whole answer to
 * GET /next (status line, headers, body) as the Next message. This parses it
 * back into what the local worker must see, so deadline, ARN, trace and
 * client context reach the handler unchanged. */
#ifndef TETHER_DEV_NEXT_H
#define TETHER_DEV_NEXT_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct dev_next {
    char request_id[129];
    uint64_t deadline_epoch_ms; /* 0 when absent */
    char function_arn[256];
    char trace_id[256];
    char *client_context;   /* owned; NULL when absent */
    char *cognito_identity; /* owned; NULL when absent */
    struct buf body;        /* the event */
};

/* -EINVAL with cause when the text is not a 200 answer carrying a usable
 * request id (1 to 128 bytes, no control characters). */
int dev_next_parse(const char *text, size_t len, struct dev_next *out, char *cause,
                   size_t cause_len);
void dev_next_free(struct dev_next *next);

#endif
