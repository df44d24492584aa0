/* The query protocol's forms and answers (see query.h). */
#include "aws/query.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "aws/call.h"
#include "aws/retry.h"
#include "core/cause.h"
#include "core/percent.h"

int aws_query_form(struct buf *out, const char *action, const char *version,
                   const struct aws_query_param *params, size_t count)
{
    int rc = buf_printf(out, "Action=%s&Version=%s", action, version);
    for (size_t i = 0; rc == 0 && i < count; i++) {
        if (!params[i].value)
            continue;
        rc = buf_printf(out, "&%s=", params[i].key);
        if (rc == 0)
            rc = percent_encode(out, params[i].value, strlen(params[i].value), NULL);
    }
    return rc;
}

int aws_query_result(const char *body, size_t len, const char *action, struct xml_doc **doc,
                     const struct xml_node **result, char *cause, size_t cause_len)
{
    char why[200], name[XML_MAX_NAME + 1];
    *result = NULL;
    int rc = xml_parse(body, len, doc, why, sizeof(why));
    if (rc < 0)
        return cause_set(cause, cause_len, -EPROTO, "%s answer: %s", action, why);
    snprintf(name, sizeof(name), "%sResponse", action);
    if (strcmp(xml_name(xml_root(*doc)), name) != 0) {
        rc = cause_set(cause, cause_len, -EPROTO, "%s answer is a <%.100s>, not a <%s>", action,
                       xml_name(xml_root(*doc)), name);
        xml_free(*doc);
        *doc = NULL;
        return rc;
    }
    snprintf(name, sizeof(name), "%sResult", action);
    *result = xml_child(xml_root(*doc), name);
    return 0;
}

int aws_query_call(const struct aws_context *ctx, const struct aws_service *service,
                   const char *action, const char *version, const struct aws_query_param *params,
                   size_t count, struct xml_doc **doc, const struct xml_node **result,
                   char *error_code, size_t error_code_len, char *cause, size_t cause_len)
{
    struct buf body = BUF_INIT;
    struct aws_answer answer;
    *doc = NULL;
    *result = NULL;
    if (error_code && error_code_len)
        error_code[0] = '\0';
    int rc = aws_query_form(&body, action, version, params, count);
    if (rc < 0) {
        buf_free(&body);
        return cause_set(cause, cause_len, rc, "out of memory");
    }
    struct aws_request request = {.service = service,
                                  .method = "POST",
                                  .path = "/",
                                  .content_type = AWS_QUERY_CONTENT_TYPE,
                                  .body = buf_bytes(&body),
                                  .body_len = buf_length(&body)};
    rc = aws_call_retrying(ctx, &request, &answer, cause, cause_len);
    buf_free(&body);
    if (rc < 0)
        return rc;
    char operation[160];
    snprintf(operation, sizeof(operation), "%s %s", service->id, action);
    rc = aws_answer_error(&answer, operation, cause, cause_len);
    if (rc < 0 && error_code && error_code_len)
        snprintf(error_code, error_code_len, "%s", answer.error_code);
    if (rc == 0)
        rc = aws_query_result(buf_bytes(&answer.body) ? buf_bytes(&answer.body) : "",
                              buf_length(&answer.body), action, doc, result, cause, cause_len);
    aws_answer_free(&answer);
    return rc;
}
