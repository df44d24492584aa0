/* libFuzzer harness: the Next message a bridge relays to `tether dev` (the
 * Runtime API's whole answer to GET /next) through dev_next_parse, as
 * dev/session.c runs it on every invocation that arrives over the channel.
 *
 * Besides memory errors it checks the parser's contract: the answer is 0 or
 * -EINVAL, with a terminated cause on failure; a parsed Next has a non-empty,
 * terminated request id without control characters, terminated fixed fields
 * and a body no longer than the input; a function ARN that
 * lambda_invoke_arn_region accepts names a region of host-name characters; on failure nothing is
 * left to free; the same input always gives the same answer. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dev/next.h"
#include "lambda/invoke_client.h"

#define MAX_INPUT (256 * 1024)

static void check_terminated(const char *field, size_t cap)
{
    if (!memchr(field, '\0', cap))
        abort();
}

static void check_parsed(const struct dev_next *n, size_t input_len)
{
    check_terminated(n->request_id, sizeof(n->request_id));
    check_terminated(n->function_arn, sizeof(n->function_arn));
    check_terminated(n->trace_id, sizeof(n->trace_id));
    if (!n->request_id[0] || buf_length(&n->body) > input_len)
        abort();
    for (const char *c = n->request_id; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            abort();
    /* The ARN is peer text: the inspector keeps it only when this accepts
     * it, and then its region is a host-name label. */
    char region[64];
    if (lambda_invoke_arn_region(n->function_arn, region, sizeof(region)) == 0) {
        if (!region[0])
            abort();
        for (const char *c = region; *c; c++)
            if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                  (*c >= '0' && *c <= '9') || *c == '-'))
                abort();
    }
    volatile size_t sink = 0;
    sink += n->client_context ? strlen(n->client_context) : 0;
    sink += n->cognito_identity ? strlen(n->cognito_identity) : 0;
    (void)sink;
}

static int parse_once(const char *text, size_t len, struct dev_next *out)
{
    char cause[128];
    memset(cause, 'x', sizeof(cause));
    int rc = dev_next_parse(text, len, out, cause, sizeof(cause));
    if (rc != 0 && rc != -EINVAL)
        abort();
    if (rc != 0) {
        check_terminated(cause, sizeof(cause));
        if (out->client_context || out->cognito_identity || buf_length(&out->body))
            abort();
    }
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT)
        return 0;
    const char *text = (const char *)data;
    struct dev_next first, second;
    int rc = parse_once(text, size, &first);
    if (rc == 0)
        check_parsed(&first, size);
    if (parse_once(text, size, &second) != rc)
        abort();
    if (rc == 0 && (strcmp(first.request_id, second.request_id) != 0 ||
                    first.deadline_epoch_ms != second.deadline_epoch_ms ||
                    buf_length(&first.body) != buf_length(&second.body)))
        abort();
    dev_next_free(&first);
    dev_next_free(&second);
    return 0;
}
