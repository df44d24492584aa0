/* The XML reader of AWS query-protocol answers (aws/xml.c): what AWS
 * writes is read, everything else fails closed within its caps. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "aws/xml.h"
#include "core/buf.h"
#include "test.h"

static struct xml_doc *parse_ok(const char *text)
{
    struct xml_doc *doc = NULL;
    char cause[200] = "";
    int rc = xml_parse(text, strlen(text), &doc, cause, sizeof(cause));
    if (rc != 0)
        fprintf(stderr, "  unexpected failure: %s\n", cause);
    CHECK_INT(rc, 0);
    return doc;
}

static int parse_rc(const char *text, size_t len)
{
    struct xml_doc *doc = (struct xml_doc *)1;
    char cause[200] = "";
    int rc = xml_parse(text, len, &doc, cause, sizeof(cause));
    CHECK(doc == NULL || rc == 0);
    if (rc < 0)
        CHECK(cause[0] != '\0');
    xml_free(doc);
    return rc;
}

TEST(reads_an_aws_answer)
{
    struct xml_doc *doc =
        parse_ok("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                 "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
                 "  <GetCallerIdentityResult>\n"
                 "    <Arn>arn:aws:iam::123456789012:user/Alice</Arn>\n"
                 "    <UserId>AIDAEXAMPLE</UserId>\n"
                 "    <Account>123456789012</Account>\n"
                 "  </GetCallerIdentityResult>\n"
                 "  <ResponseMetadata><RequestId>01234567-89ab</RequestId></ResponseMetadata>\n"
                 "</GetCallerIdentityResponse>\n");
    const struct xml_node *root = xml_root(doc);
    CHECK_STR(xml_name(root), "GetCallerIdentityResponse");
    CHECK_STR(xml_path_text(root, "GetCallerIdentityResult/Account"), "123456789012");
    CHECK_STR(xml_path_text(root, "GetCallerIdentityResult/Arn"),
              "arn:aws:iam::123456789012:user/Alice");
    CHECK_STR(xml_path_text(root, "ResponseMetadata/RequestId"), "01234567-89ab");
    CHECK(xml_path(root, "GetCallerIdentityResult/Missing") == NULL);
    CHECK(xml_path_text(root, "Nope") == NULL);
    xml_free(doc);
}

TEST(walks_siblings_by_name)
{
    struct xml_doc *doc = parse_ok("<r><m>1</m><x/><m>2</m><m>3</m></r>");
    const struct xml_node *m = xml_child(xml_root(doc), "m");
    const char *seen[4] = {0};
    int n = 0;
    for (; m && n < 4; m = xml_next(m, "m"))
        seen[n++] = xml_text(m);
    CHECK_INT(n, 3);
    CHECK_STR(seen[0], "1");
    CHECK_STR(seen[2], "3");
    CHECK_STR(xml_name(xml_next(xml_child(xml_root(doc), NULL), NULL)), "x");
    CHECK_STR(xml_text(xml_child(xml_root(doc), "x")), "");
    xml_free(doc);
}

TEST(decodes_references_cdata_and_prefixes)
{
    struct xml_doc *doc =
        parse_ok("<a:r xmlns:a='u'><a:t>&lt;&amp;&gt;&quot;&apos; &#65;&#x263A;&#x1F600;</a:t>"
                 "<c><![CDATA[<not a tag>&amp;]]></c><!-- note --><?pi x?></a:r>");
    const struct xml_node *root = xml_root(doc);
    CHECK_STR(xml_name(root), "r");
    CHECK_STR(xml_path_text(root, "t"), "<&>\"' A\xE2\x98\xBA\xF0\x9F\x98\x80");
    CHECK_STR(xml_path_text(root, "c"), "<not a tag>&amp;");
    xml_free(doc);
    /* A policy document percent-encoded inside GetRolePolicy's answer. */
    doc = parse_ok("<r><P>%7B%22Version%22%3A%222012-10-17%22%7D</P></r>");
    CHECK_STR(xml_path_text(xml_root(doc), "P"), "%7B%22Version%22%3A%222012-10-17%22%7D");
    xml_free(doc);
}

TEST(refuses_doctype_and_entities)
{
    const char *billion = "<?xml version=\"1.0\"?><!DOCTYPE l [<!ENTITY a \"aaaa\">]><l>&a;</l>";
    CHECK_INT(parse_rc(billion, strlen(billion)), -EINVAL);
    CHECK_INT(parse_rc("<r>&a;</r>", 10), -EINVAL);
    CHECK_INT(parse_rc("<r>&#0;</r>", 11), -EINVAL);
    CHECK_INT(parse_rc("<r>&#xD800;</r>", 15), -EINVAL);
    CHECK_INT(parse_rc("<r>&#x110000;</r>", 17), -EINVAL);
    CHECK_INT(parse_rc("<r>&#;</r>", 10), -EINVAL);
    CHECK_INT(parse_rc("<r>&#123456789;</r>", 19), -EINVAL);
    CHECK_INT(parse_rc("<r>&amp</r>", 11), -EINVAL);
}

TEST(refuses_malformed_documents)
{
    static const char *bad[] = {
        "",
        "   ",
        "text",
        "<r>",
        "<r></s>",
        "<r><s></r></s>",
        "<r></r><r></r>",
        "<r></r>trailing",
        "</r>",
        "<r a=1></r>",
        "<r a='1'b='2'></r>",
        "<r a='1></r>",
        "<r a></r>",
        "<r><!-- unterminated </r>",
        "<r><![CDATA[ unterminated </r>",
        "<r>\x01</r>",
        "<1r></1r>",
        "<r",
        "<r/",
        "<r></r",
        "<:/>",
        "<a:/>",
        "<:a/>",
        "<a:b:c/>",
        "<r :x='1'/>",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = parse_rc(bad[i], strlen(bad[i]));
        if (rc != -EINVAL)
            fprintf(stderr, "  accepted or wrong error %d for case %zu\n", rc, i);
        CHECK_INT(rc, -EINVAL);
    }
    CHECK_INT(parse_rc("<r>\0</r>", 8), -EINVAL);
    CHECK_INT(parse_rc("<r>\xC0\xAF</r>", 9), -EINVAL);
}

TEST(caps_depth_elements_size_and_names)
{
    struct buf b = BUF_INIT;
    for (int i = 0; i < XML_MAX_DEPTH; i++)
        buf_append_str(&b, "<d>");
    for (int i = 0; i < XML_MAX_DEPTH; i++)
        buf_append_str(&b, "</d>");
    CHECK_INT(parse_rc(buf_bytes(&b), buf_length(&b)), 0);
    buf_reset(&b);
    for (int i = 0; i <= XML_MAX_DEPTH; i++)
        buf_append_str(&b, "<d>");
    CHECK_INT(parse_rc(buf_bytes(&b), buf_length(&b)), -EFBIG);

    buf_reset(&b);
    buf_append_str(&b, "<r>");
    for (int i = 0; i < XML_MAX_ELEMENTS; i++)
        buf_append_str(&b, "<e/>");
    buf_append_str(&b, "</r>");
    CHECK_INT(parse_rc(buf_bytes(&b), buf_length(&b)), -EFBIG);

    buf_reset(&b);
    buf_append_str(&b, "<r>");
    while (buf_length(&b) <= XML_MAX_INPUT)
        buf_append_str(&b, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    buf_append_str(&b, "</r>");
    CHECK_INT(parse_rc(buf_bytes(&b), buf_length(&b)), -EFBIG);

    buf_reset(&b);
    buf_append_char(&b, '<');
    for (int i = 0; i <= XML_MAX_NAME; i++)
        buf_append_char(&b, 'n');
    buf_append_str(&b, "/>");
    CHECK_INT(parse_rc(buf_bytes(&b), buf_length(&b)), -EFBIG);
    buf_free(&b);
}

TEST(accepts_a_bom_space_and_self_closed_root)
{
    struct xml_doc *doc = parse_ok("\xEF\xBB\xBF\n<?xml version='1.0'?>\n<!-- c -->\n<r/>\n");
    CHECK_STR(xml_name(xml_root(doc)), "r");
    CHECK(xml_child(xml_root(doc), NULL) == NULL);
    xml_free(doc);
}

TEST(reads_query_protocol_errors)
{
    char code[32], message[64], id[16];
    const char *answer = "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">"
                         "<Error><Type>Sender</Type><Code>NoSuchEntity</Code>"
                         "<Message>The role with name x cannot be found.</Message></Error>"
                         "<RequestId>4d5e6f70-abcd-1234-efgh-0123456789ab</RequestId>"
                         "</ErrorResponse>";
    xml_aws_error(answer, strlen(answer), code, sizeof(code), message, sizeof(message), id,
                  sizeof(id));
    CHECK_STR(code, "NoSuchEntity");
    CHECK_STR(message, "The role with name x cannot be found.");
    CHECK_STR(id, "4d5e6f70-abcd-1"); /* truncated to the buffer */
    xml_aws_error("<html>busy</html>", 17, code, sizeof(code), message, sizeof(message), NULL, 0);
    CHECK_STR(code, "");
    CHECK_STR(message, "");
    xml_aws_error("not xml", 7, code, sizeof(code), NULL, 0, id, sizeof(id));
    CHECK_STR(code, "");
    CHECK_STR(id, "");
}

int main(void)
{
    static const struct test_case cases[] = {
        TEST_ENTRY(reads_an_aws_answer),
        TEST_ENTRY(walks_siblings_by_name),
        TEST_ENTRY(decodes_references_cdata_and_prefixes),
        TEST_ENTRY(refuses_doctype_and_entities),
        TEST_ENTRY(refuses_malformed_documents),
        TEST_ENTRY(caps_depth_elements_size_and_names),
        TEST_ENTRY(accepts_a_bom_space_and_self_closed_root),
        TEST_ENTRY(reads_query_protocol_errors),
    };
    return test_run_all("aws_xml", cases, sizeof(cases) / sizeof(cases[0]));
}
