#include "dev/next.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/encoding.h"
#include "net/http.h"

/* A Next carries at most a 6 MB event plus the Runtime API's headers. */
#define NEXT_MAX_HEADER_BYTES (64 * 1024)
#define NEXT_MAX_BODY_BYTES (6u * 1024 * 1024 + 1024)

static void copy_header(const struct http_message *m, const char *name, char *out, size_t cap)
{
    const char *v = http_header_get(m, name);
    snprintf(out, cap, "%s", v ? v : "");
}

static char *dup_header(const struct http_message *m, const char *name)
{
    const char *v = http_header_get(m, name);
    return v && *v ? strdup(v) : NULL;
}

/* A request id dev can use: non-empty (dev's table of answers takes an empty
 * id for a free slot), shorter than the field, UTF-8 (it goes into JSON
 * reports, which refuse anything else) and free of control characters (the
 * bridge refuses packets whose id has one). */
static int usable_request_id(const char *id, size_t cap)
{
    size_t len = id ? strlen(id) : 0;
    if (len == 0 || len >= cap || !utf8_valid(id, len))
        return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)id[i] < 0x20 || id[i] == 0x7f)
            return 0;
    return 1;
}

int dev_next_parse(const char *text, size_t len, struct dev_next *out, char *cause,
                   size_t cause_len)
{
    memset(out, 0, sizeof(*out));
    struct http_limits limits = {NEXT_MAX_HEADER_BYTES, NEXT_MAX_BODY_BYTES};
    struct http_reader reader;
    http_reader_init(&reader, HTTP_RESPONSE, &limits);
    ssize_t n = http_reader_feed(&reader, text, len);
    if (n >= 0 && reader.state != HTTP_READER_COMPLETE)
        http_reader_finish(&reader);
    int rc = 0;
    const struct http_message *m = &reader.message;
    if (n < 0) {
        snprintf(cause, cause_len, "the relayed invocation is not valid HTTP: %s", reader.error);
        rc = -EINVAL;
    } else if (reader.state != HTTP_READER_COMPLETE || m->status != 200) {
        snprintf(cause, cause_len, "the relayed invocation is incomplete or not a 200 answer");
        rc = -EINVAL;
    } else if (!usable_request_id(http_header_get(m, "Lambda-Runtime-Aws-Request-Id"),
                                  sizeof(out->request_id))) {
        snprintf(cause, cause_len, "the relayed invocation has no usable request id");
        rc = -EINVAL;
    }
    if (rc == 0) {
        copy_header(m, "Lambda-Runtime-Aws-Request-Id", out->request_id, sizeof(out->request_id));
        const char *deadline = http_header_get(m, "Lambda-Runtime-Deadline-Ms");
        out->deadline_epoch_ms = deadline ? strtoull(deadline, NULL, 10) : 0;
        copy_header(m, "Lambda-Runtime-Invoked-Function-Arn", out->function_arn,
                    sizeof(out->function_arn));
        copy_header(m, "Lambda-Runtime-Trace-Id", out->trace_id, sizeof(out->trace_id));
        out->client_context = dup_header(m, "Lambda-Runtime-Client-Context");
        out->cognito_identity = dup_header(m, "Lambda-Runtime-Cognito-Identity");
        rc = buf_append(&out->body, buf_bytes(&m->body), buf_length(&m->body));
    }
    http_reader_free(&reader);
    if (rc < 0)
        dev_next_free(out);
    return rc;
}

void dev_next_free(struct dev_next *next)
{
    free(next->client_context);
    free(next->cognito_identity);
    buf_free(&next->body);
    memset(next, 0, sizeof(*next));
}
