/* The one retry policy of tether's AWS calls: which failures are worth
 * another attempt and how long to wait first. A throttled request
 * (Throttling, ThrottlingException, TooManyRequestsException, HTTP 429, ...)
 * and a server error (HTTP 500, 502, 503, 504) are tried again, at most
 * AWS_RETRY_MAX_ATTEMPTS times in all, as the AWS SDKs' "standard" mode
 * does; anything else (access denied, not found, a bad request) is final.
 * Every control-plane client (AppSync, IAM, CloudFormation, STS identity)
 * sends through aws_call_retrying; aws_call itself tries once.
 * The wait is "full jitter": a random time below base * 2^(attempt - 1),
 * capped, with a larger base for throttling so that many clients backing
 * off at once spread out. */
#ifndef TETHER_AWS_RETRY_H
#define TETHER_AWS_RETRY_H

#include <stddef.h>
#include <stdint.h>

struct aws_context;
struct aws_request;
struct aws_answer;

#define AWS_RETRY_MAX_ATTEMPTS 3
#define AWS_RETRY_BASE_MS 100
#define AWS_RETRY_THROTTLE_BASE_MS 500
#define AWS_RETRY_MAX_DELAY_MS 20000

enum aws_retry_kind {
    AWS_RETRY_NO = 0,
    AWS_RETRY_THROTTLED,
    AWS_RETRY_TRANSIENT,
};

/* Whether an answer with this HTTP status and error code (NULL or "" when
 * none) is worth another attempt. */
enum aws_retry_kind aws_retry_classify(int http_status, const char *error_code);
/* The wait before attempt number `attempt` + 1 (attempt >= 1), given a
 * random value; the caller passes random_below(UINT32_MAX). */
unsigned aws_retry_delay_ms(unsigned attempt, enum aws_retry_kind kind, uint32_t random);

/* aws_call (aws/call.h), tried again under this policy: transport errors
 * that may pass (a reset or refused connection, a timeout) count as
 * transient. Sleeps on the calling thread between attempts. The answer is
 * the last attempt's; the caller frees it as aws_call's. */
int aws_call_retrying(const struct aws_context *ctx, const struct aws_request *request,
                      struct aws_answer *out, char *cause, size_t cause_len);

#endif
