/* libFuzzer harness: an AWS API answer (status line, headers, body) read by
 * aws/call.c's aws_answer_read_error, as aws_call does for every answer an
 * endpoint sends (AWS, or whatever AWS_ENDPOINT_URL_* points at), then turned
 * into a cause by aws_answer_error.
 *
 * Besides memory errors it checks the contract: every field is terminated
 * within its array; the error code has no ':' or '#' (the parts AWS's
 * formats put around it); code and message have no control bytes; aws_answer_error returns 0
 * exactly for 2xx answers and one of the documented errnos otherwise, with a terminated cause; the
 * same input always gives the same fields. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws/call.h"
#include "net/http.h"

#define MAX_INPUT (64 * 1024)

static void check_terminated(const char *field, size_t cap)
{
    if (!memchr(field, '\0', cap))
        abort();
}

/* 0 when the input is a whole HTTP answer, read into out. */
static int read_answer(const uint8_t *data, size_t size, struct aws_answer *out)
{
    struct http_limits limits = {16 * 1024, MAX_INPUT};
    struct http_reader reader;
    http_reader_init(&reader, HTTP_RESPONSE, &limits);
    ssize_t n = http_reader_feed(&reader, (const char *)data, size);
    if (n >= 0 && reader.state != HTTP_READER_COMPLETE)
        http_reader_finish(&reader);
    int rc = n >= 0 && reader.state == HTTP_READER_COMPLETE ? 0 : -1;
    if (rc == 0) {
        memset(out, 0, sizeof(*out));
        out->status = reader.message.status;
        aws_answer_read_error(out, &reader.message);
    }
    http_reader_free(&reader);
    return rc;
}

static void check_fields(const struct aws_answer *a)
{
    check_terminated(a->error_code, sizeof(a->error_code));
    check_terminated(a->message, sizeof(a->message));
    check_terminated(a->request_id, sizeof(a->request_id));
    check_terminated(a->function_error, sizeof(a->function_error));
    if (strchr(a->error_code, ':') || strchr(a->error_code, '#'))
        abort();
    /* Code and message end up on terminals: no control bytes. */
    for (const char *c = a->error_code; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            abort();
    for (const char *c = a->message; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            abort();
    char cause[256];
    memset(cause, 'x', sizeof(cause));
    int rc = aws_answer_error(a, "Fuzz Operation", cause, sizeof(cause));
    int ok_status = a->status >= 200 && a->status < 300;
    if ((rc == 0) != ok_status)
        abort();
    if (rc != 0 && rc != -EIO && rc != -EACCES && rc != -ENOENT && rc != -EBUSY && rc != -EEXIST)
        abort();
    if (rc != 0)
        check_terminated(cause, sizeof(cause));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT)
        return 0;
    struct aws_answer first, second;
    if (read_answer(data, size, &first) != 0)
        return 0;
    check_fields(&first);
    if (read_answer(data, size, &second) != 0 || strcmp(first.error_code, second.error_code) != 0 ||
        strcmp(first.message, second.message) != 0 ||
        strcmp(first.request_id, second.request_id) != 0)
        abort();
    return 0;
}
