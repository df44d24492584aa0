/* The Invoke API client (see invoke_client.h). */
#include "lambda/invoke_client.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/cause.h"
#include "core/encoding.h"
#include "core/percent.h"
#include "net/url.h"

/* The path and query. Function names and ARNs are plain, but each must stay
 * one path segment (or one query value) whatever the caller passes. */
static int build_target(const struct lambda_invoke_request *r, struct buf *path, struct buf *query)
{
    int rc = buf_append_str(path, "/2015-03-31/functions/");
    if (rc == 0)
        rc = percent_encode(path, r->function, strlen(r->function), NULL);
    if (rc == 0)
        rc = buf_append_str(path, "/invocations");
    if (rc == 0)
        rc = buf_terminate(path);
    if (rc == 0 && r->qualifier) {
        rc = buf_append_str(query, "Qualifier=");
        if (rc == 0)
            rc = percent_encode(query, r->qualifier, strlen(r->qualifier), NULL);
    }
    return rc == 0 ? buf_terminate(query) : rc;
}

static int check_request(const struct lambda_invoke_request *r, char *cause, size_t cause_len)
{
    size_t n = r->function ? strlen(r->function) : 0;
    if (n == 0 || n > LAMBDA_INVOKE_MAX_FUNCTION)
        return cause_set(cause, cause_len, -EINVAL, "a function name of 1 to %d bytes is needed",
                         LAMBDA_INVOKE_MAX_FUNCTION);
    if (r->qualifier && (!r->qualifier[0] || strlen(r->qualifier) > LAMBDA_INVOKE_MAX_QUALIFIER))
        return cause_set(cause, cause_len, -EINVAL, "a qualifier of 1 to %d bytes is needed",
                         LAMBDA_INVOKE_MAX_QUALIFIER);
    if (r->aws)
        return 0;
    /* tether's own service is plain HTTP only. */
    struct url url = {0};
    char why[256];
    if (!r->endpoint || url_parse(r->endpoint, &url, why, sizeof(why)) < 0 || url.secure)
        return cause_set(cause, cause_len, -EINVAL, "%s",
                         !r->endpoint ? "no endpoint"
                         : url.secure ? "https is not served by tether dev"
                                      : why);
    return 0;
}

static void take_answer(struct aws_answer *a, struct lambda_invoke_answer *out)
{
    out->status = a->status;
    out->function_error = a->status == 200 && a->function_error[0];
    if (a->status != 200) {
        snprintf(out->error_type, sizeof(out->error_type), "%s", a->error_code);
        snprintf(out->message, sizeof(out->message), "%s", a->message);
    }
    snprintf(out->request_id, sizeof(out->request_id), "%s", a->request_id);
    out->body = a->body; /* the answer's body moves to out */
    buf_init(&a->body);
}

int lambda_invoke(const struct lambda_invoke_request *request, struct lambda_invoke_answer *out,
                  char *cause, size_t cause_len)
{
    memset(out, 0, sizeof(*out));
    int rc = check_request(request, cause, cause_len);
    if (rc < 0)
        return rc;
    struct buf path = BUF_INIT, query = BUF_INIT;
    if (build_target(request, &path, &query) < 0) {
        buf_free(&path);
        buf_free(&query);
        return cause_set(cause, cause_len, -ENOMEM, "out of memory");
    }
    const struct aws_context unsigned_ctx = {0};
    const struct aws_request call = {
        .service = &aws_service_lambda,
        .method = "POST",
        .path = buf_bytes(&path),
        .query = buf_length(&query) ? buf_bytes(&query) : NULL,
        .content_type = "application/octet-stream",
        .headers = "X-Amz-Invocation-Type: RequestResponse\r\n",
        .body = request->event,
        .body_len = request->event_len,
        .timeout_ms = request->timeout_ms,
        .max_answer = LAMBDA_INVOKE_MAX_ANSWER,
        .endpoint = request->endpoint,
    };
    struct aws_answer answer;
    rc = aws_call(request->aws ? request->aws : &unsigned_ctx, &call, &answer, cause, cause_len);
    if (rc == 0)
        take_answer(&answer, out);
    buf_free(&path);
    buf_free(&query);
    return rc;
}

void lambda_invoke_answer_free(struct lambda_invoke_answer *answer)
{
    secure_free_buf(&answer->body);
}

/* ---- function ARNs ---- */

/* Whether [s, s+n) is 1 to max bytes of letters, digits and `extra`. */
static int part_valid(const char *s, size_t n, size_t max, const char *extra)
{
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr(extra, s[i]))
            return 0;
    return 1;
}

/* Splits s at ':' into at most max parts; more than max gives max + 1. */
static size_t split_colons(const char *s, const char **part, size_t *len, size_t max)
{
    size_t count = 0;
    for (const char *p = s;; count++) {
        if (count == max)
            return max + 1;
        const char *colon = strchr(p, ':');
        part[count] = p;
        len[count] = colon ? (size_t)(colon - p) : strlen(p);
        if (!colon)
            return count + 1;
        p = colon + 1;
    }
}

int lambda_invoke_arn_region(const char *function, char *out, size_t out_len)
{
    const char *part[8];
    size_t len[8];
    size_t count = split_colons(function, part, len, 8);
    int ok = (count == 7 || count == 8) && len[0] == 3 && memcmp(part[0], "arn", 3) == 0 &&
             len[1] >= 3 && memcmp(part[1], "aws", 3) == 0 &&
             part_valid(part[1], len[1], 32, "-") && len[2] == 6 &&
             memcmp(part[2], "lambda", 6) == 0 && part_valid(part[3], len[3], 64, "-") &&
             len[4] == 12 && part_valid(part[4], 12, 12, "") && len[5] == 8 &&
             memcmp(part[5], "function", 8) == 0 && part_valid(part[6], len[6], 64, "-_") &&
             (count == 7 || part_valid(part[7], len[7], LAMBDA_INVOKE_MAX_QUALIFIER, "-_$"));
    for (size_t i = 0; ok && i < len[4]; i++)
        ok = isdigit((unsigned char)part[4][i]);
    if (!ok || len[3] >= out_len)
        return -EINVAL;
    snprintf(out, out_len, "%.*s", (int)len[3], part[3]);
    return 0;
}
