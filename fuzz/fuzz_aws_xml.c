/* libFuzzer harness: the XML reader of AWS query-protocol answers
 * (aws/xml.c) and the parsers of those answers built on it (STS, IAM,
 * CloudFormation), which read what an AWS endpoint, or anything that
 * answers in its place, sends back.
 *
 * Besides memory errors it checks the reader's contract: 0 with a tree, or
 * -EINVAL / -EFBIG with no tree and a terminated cause; every element has
 * a non-empty name and a terminated text no longer than the input; the
 * tree holds no more elements than the cap; and the answer parsers return
 * 0 or a negative errno with a terminated cause. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aws/cloudformation.h"
#include "aws/credentials_sts.h"
#include "aws/iam.h"
#include "aws/sts.h"
#include "aws/xml.h"
#include "core/buf.h"

static size_t walk(const struct xml_node *node, size_t input_len, int depth)
{
    size_t count = 0;
    if (depth > XML_MAX_DEPTH)
        abort();
    for (; node; node = xml_next(node, NULL)) {
        if (!xml_name(node)[0] || strlen(xml_text(node)) > input_len)
            abort();
        count += 1 + walk(xml_child(node, NULL), input_len, depth + 1);
    }
    return count;
}

static void check_cause(const char *cause, size_t cap)
{
    if (!memchr(cause, '\0', cap) || !cause[0])
        abort();
}

static void fuzz_reader(const char *text, size_t size)
{
    struct xml_doc *doc = (struct xml_doc *)&doc;
    char cause[160];
    memset(cause, 'x', sizeof(cause));
    int rc = xml_parse(text, size, &doc, cause, sizeof(cause));
    if (rc != 0) {
        if ((rc != -EINVAL && rc != -EFBIG && rc != -ENOMEM) || doc)
            abort();
        check_cause(cause, sizeof(cause));
        return;
    }
    if (walk(xml_root(doc), size, 1) > XML_MAX_ELEMENTS)
        abort();
    xml_free(doc);
}

static void fuzz_answers(const char *text, size_t size)
{
    char code[64], message[128], id[64], cause[300];
    xml_aws_error(text, size, code, sizeof(code), message, sizeof(message), id, sizeof(id));
    if (!memchr(code, '\0', sizeof(code)) || !memchr(message, '\0', sizeof(message)))
        abort();
    struct aws_credentials creds = {0};
    memset(cause, 'x', sizeof(cause));
    int rc = aws_sts_parse_response(200, text, size, &creds, cause, sizeof(cause));
    if (rc > 0)
        abort();
    if (rc < 0)
        check_cause(cause, sizeof(cause));
    aws_credentials_wipe(&creds);

    struct aws_sts_identity who;
    memset(cause, 'x', sizeof(cause));
    if ((rc = aws_sts_parse_caller_identity(text, size, &who, cause, sizeof(cause))) < 0)
        check_cause(cause, sizeof(cause));
    else if (strlen(who.account) != 12)
        abort();

    struct buf document = BUF_INIT;
    memset(cause, 'x', sizeof(cause));
    if (aws_iam_parse_get_role_policy(text, size, &document, cause, sizeof(cause)) < 0)
        check_cause(cause, sizeof(cause));
    buf_free(&document);

    json_t *resources = json_array();
    char next[AWS_CFN_MAX_TOKEN];
    memset(cause, 'x', sizeof(cause));
    if (aws_cfn_parse_resources_page(text, size, resources, next, sizeof(next), cause,
                                     sizeof(cause)) < 0)
        check_cause(cause, sizeof(cause));
    else if (!memchr(next, '\0', sizeof(next)))
        abort();
    json_decref(resources);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024)
        return 0;
    fuzz_reader((const char *)data, size);
    fuzz_answers((const char *)data, size);
    return 0;
}
