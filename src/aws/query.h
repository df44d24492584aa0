/* AWS's query protocol (awsQuery), as STS, IAM and CloudFormation speak
 * it and their @aws-sdk clients send it: a form POST to the service's
 * endpoint, path "/",
 *   Content-Type: application/x-www-form-urlencoded
 *   Action=NAME&Version=YYYY-MM-DD&Param=value...
 * every value percent-encoded but for unreserved characters, and an XML
 * answer <NAMEResponse><NAMEResult>...</NAMEResult></NAMEResponse>, or an
 * <ErrorResponse> (aws/xml.h's xml_aws_error). The one writer of those
 * forms and reader of those answers; the service files name the action,
 * its parameters and the fields they read. */
#ifndef TETHER_AWS_QUERY_H
#define TETHER_AWS_QUERY_H

#include <stddef.h>

#include "aws/xml.h"
#include "core/buf.h"

#define AWS_QUERY_CONTENT_TYPE "application/x-www-form-urlencoded"

struct aws_context;
struct aws_service;

struct aws_query_param {
    const char *key;
    const char *value; /* NULL: left out */
};

/* The form body of one action. */
int aws_query_form(struct buf *out, const char *action, const char *version,
                   const struct aws_query_param *params, size_t count);
/* A successful answer: *doc (freed by xml_free) and its <ACTIONResult>
 * (*result is NULL for actions that answer with none). -EPROTO when the
 * answer is not this action's. */
int aws_query_result(const char *body, size_t len, const char *action, struct xml_doc **doc,
                     const struct xml_node **result, char *cause, size_t cause_len);

/* One action, sent through aws_call_retrying (aws/retry.h) to the service
 * (the context's region, or the service's global endpoint): on a 2xx
 * answer as aws_query_result; otherwise aws_answer_error's -errno and
 * cause, with the answer's error code (e.g. "ValidationError") copied into
 * error_code when given. */
int aws_query_call(const struct aws_context *ctx, const struct aws_service *service,
                   const char *action, const char *version, const struct aws_query_param *params,
                   size_t count, struct xml_doc **doc, const struct xml_node **result,
                   char *error_code, size_t error_code_len, char *cause, size_t cause_len);

#endif
