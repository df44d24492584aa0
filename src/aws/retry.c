/* The retry policy of AWS calls (see retry.h). */
#include "aws/retry.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "aws/call.h"
#include "core/random.h"

/* The throttling codes the AWS SDKs retry (their "throttling error" list),
 * across the JSON, REST and query protocols. */
static const char *const throttling_codes[] = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
};

/* Codes of requests that timed out on the way. */
static const char *const transient_codes[] = {"RequestTimeout", "RequestTimeoutException"};

static int listed(const char *code, const char *const *list, size_t n)
{
    for (size_t i = 0; code && i < n; i++) {
        if (strcmp(code, list[i]) == 0)
            return 1;
    }
    return 0;
}

#define LISTED(code, list) listed(code, list, sizeof(list) / sizeof(list[0]))

enum aws_retry_kind aws_retry_classify(int http_status, const char *error_code)
{
    if (http_status == 429 || LISTED(error_code, throttling_codes))
        return AWS_RETRY_THROTTLED;
    if (http_status == 500 || http_status == 502 || http_status == 503 || http_status == 504 ||
        LISTED(error_code, transient_codes))
        return AWS_RETRY_TRANSIENT;
    return AWS_RETRY_NO;
}

unsigned aws_retry_delay_ms(unsigned attempt, enum aws_retry_kind kind, uint32_t random)
{
    uint64_t ceiling = kind == AWS_RETRY_THROTTLED ? AWS_RETRY_THROTTLE_BASE_MS : AWS_RETRY_BASE_MS;
    for (unsigned i = 1; i < attempt && ceiling < AWS_RETRY_MAX_DELAY_MS; i++)
        ceiling *= 2;
    if (ceiling > AWS_RETRY_MAX_DELAY_MS)
        ceiling = AWS_RETRY_MAX_DELAY_MS;
    return (unsigned)((uint64_t)random * ceiling / ((uint64_t)UINT32_MAX + 1));
}

static enum aws_retry_kind classify_call(int rc, const struct aws_answer *answer)
{
    if (rc == -ECONNRESET || rc == -ECONNREFUSED || rc == -ETIMEDOUT || rc == -EPIPE)
        return AWS_RETRY_TRANSIENT;
    if (rc < 0 || (answer->status >= 200 && answer->status < 300))
        return AWS_RETRY_NO;
    return aws_retry_classify(answer->status, answer->error_code);
}

static void sleep_ms(unsigned ms)
{
    struct timespec t = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) < 0 && errno == EINTR)
        ;
}

int aws_call_retrying(const struct aws_context *ctx, const struct aws_request *request,
                      struct aws_answer *out, char *cause, size_t cause_len)
{
    for (unsigned attempt = 1;; attempt++) {
        int rc = aws_call(ctx, request, out, cause, cause_len);
        enum aws_retry_kind kind = classify_call(rc, out);
        if (kind == AWS_RETRY_NO || attempt >= AWS_RETRY_MAX_ATTEMPTS)
            return rc;
        aws_answer_free(out);
        sleep_ms(aws_retry_delay_ms(attempt, kind, (uint32_t)random_below(UINT32_MAX)));
    }
}
