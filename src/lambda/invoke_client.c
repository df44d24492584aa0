/* The Invoke API client (see invoke_client.h). */
#include "lambda/invoke_client.h"

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
