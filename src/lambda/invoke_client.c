/* The Invoke API client (see invoke_client.h). */
#include "lambda/invoke_client.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "core/percent.h"
#include "net/http_client.h"
#include "net/url.h"

/* The service's own error: its type header and the Message of its body. */
static void read_service_error(const struct http_message *m, struct lambda_invoke_answer *out)
{
    const char *type = http_header_get(m, "x-amzn-ErrorType");
    snprintf(out->error_type, sizeof(out->error_type), "%s", type ? type : "");
    json_t *body = json_loadb(buf_bytes(&m->body), buf_length(&m->body), 0, NULL);
    const char *message = json_string_value(json_object_get(body, "Message"));
    if (!message)
        message = json_string_value(json_object_get(body, "message"));
    snprintf(out->message, sizeof(out->message), "%s", message ? message : "");
    json_decref(body);
}

static void on_answer(void *user, int status, const struct http_message *m, const char *cause)
{
    struct lambda_invoke_answer *out = user;
    (void)cause;
    out->status = status;
    out->function_error = status == 200 && http_header_get(m, "X-Amz-Function-Error") != NULL;
    if (status != 200)
        read_service_error(m, out);
    if (buf_append(&out->body, buf_bytes(&m->body), buf_length(&m->body)) < 0)
        out->status = -ENOMEM;
}

int lambda_invoke(const struct lambda_invoke_request *request, struct lambda_invoke_answer *out,
                  char *cause, size_t cause_len)
{
    memset(out, 0, sizeof(*out));
    struct url url = {0};
    char why[256];
    if (url_parse(request->endpoint, &url, why, sizeof(why)) < 0 || url.secure) {
        snprintf(cause, cause_len, "%s", url.secure ? "https is not served by tether dev" : why);
        return -EINVAL;
    }
    struct buf target = BUF_INIT;
    int rc = buf_append_str(&target, "/2015-03-31/functions/");
    if (rc == 0)
        /* Function names are plain, but the path must stay one segment
         * whatever the caller passes. */
        rc = percent_encode(&target, request->function, strlen(request->function), NULL);
    if (rc == 0)
        rc = buf_append_str(&target, "/invocations");
    if (rc == 0)
        rc = buf_terminate(&target);
    if (rc < 0) {
        buf_free(&target);
        snprintf(cause, cause_len, "out of memory");
        return -ENOMEM;
    }
    struct http_client_config config = {.host = url.host, .port = url.port};
    config.host_header = url.host_header;
    config.limits.max_body_bytes = LAMBDA_INVOKE_MAX_ANSWER;
    config.timeout_ms = request->timeout_ms;
    struct http_client_request http = {
        "POST", buf_bytes(&target),
        "Content-Type: application/json\r\nX-Amz-Invocation-Type: RequestResponse\r\n"
        "User-Agent: tether-invoke\r\nConnection: close\r\n",
        request->event, request->event_len};
    rc = http_client_run(&config, &http, on_answer, out, cause, cause_len);
    buf_free(&target);
    if (rc == 0 && out->status < 0) {
        snprintf(cause, cause_len, "out of memory");
        rc = out->status;
    }
    return rc;
}

void lambda_invoke_answer_free(struct lambda_invoke_answer *answer)
{
    buf_free(&answer->body);
}
