/* CloudFormation, read only: which deployed functions a stack holds, so a
 * tether.json with "aws": {"stack": ...} can match its functions to them
 * by logical id. Query protocol (aws/query.h), Version 2010-05-15, as
 * @aws-sdk/client-cloudformation sends it:
 *   ListStackResources  StackName[, NextToken]
 * Blocking; any thread but never inside a loop's callback. 0 or -errno with
 * the cause; -ENOENT when the stack does not exist. */
#ifndef TETHER_AWS_CLOUDFORMATION_H
#define TETHER_AWS_CLOUDFORMATION_H

#include <jansson.h>
#include <stddef.h>

struct aws_context;

#define AWS_CFN_VERSION "2010-05-15"
/* What one listing follows: pages of one stack, resources in all, the
 * depth of nested stacks (AWS::CloudFormation::Stack) below the top one,
 * and the stacks listed in all. */
#define AWS_CFN_MAX_PAGES 100
#define AWS_CFN_MAX_RESOURCES 5000
#define AWS_CFN_MAX_DEPTH 5
#define AWS_CFN_MAX_STACKS 50
/* CloudFormation's logical ids: letters and digits, at most 255. */
#define AWS_CFN_MAX_LOGICAL_ID 255
#define AWS_CFN_MAX_TOKEN 2048
#define AWS_CFN_MAX_FIELD 2048

/* Every resource of one stack (all pages) appended to *out, a new JSON
 * array the caller frees, as {"logicalId", "physicalId", "type", "status"}
 * ("physicalId" is "" for a resource not created yet). */
int aws_cfn_list_stack_resources(const struct aws_context *ctx, const char *stack, json_t **out,
                                 char *cause, size_t cause_len);
/* The AWS::Lambda::Function resources of a stack and of the stacks nested
 * in it: a new JSON array of {"logicalId", "functionName", "stack"}, where
 * "stack" is the path of nested stacks' logical ids from the top ("" for
 * the top stack, "Api/Workers" two levels down). */
int aws_cfn_lambda_functions(const struct aws_context *ctx, const char *stack, json_t **out,
                             char *cause, size_t cause_len);

/* The pieces, for tests: one ListStackResources answer (status 200); its
 * resources appended to into, its NextToken (or "") into next. */
int aws_cfn_parse_resources_page(const char *body, size_t len, json_t *into, char *next,
                                 size_t next_len, char *cause, size_t cause_len);

#endif
