/* The one reader of the XML answers of AWS's query-protocol services (STS,
 * IAM, CloudFormation): a whole answer is parsed into a small read-only tree
 * of elements and their text, which the service files walk by name.
 *
 * It reads the XML those services write and refuses the rest, failing
 * closed: an XML declaration, comments, elements with attributes (read and
 * ignored, e.g. xmlns), character data with the predefined and numeric
 * character references, CDATA sections. A DOCTYPE (and so any entity
 * definition) is refused, as are mismatched or unclosed tags, text outside
 * the root element, NUL bytes and references to characters XML forbids.
 * Caps: the answer's size, the nesting depth, the number of elements and
 * the length of a name. docs/dependencies.md says why this is written by
 * hand rather than taken from a library. */
#ifndef TETHER_AWS_XML_H
#define TETHER_AWS_XML_H

#include <stddef.h>

#define XML_MAX_INPUT (1024 * 1024)
#define XML_MAX_DEPTH 32
#define XML_MAX_ELEMENTS 20000
#define XML_MAX_NAME 128

struct xml_doc;
struct xml_node;

/* Parses text[0..len) into *out (freed by xml_free): 0; -EINVAL (not XML
 * this reader accepts), -EFBIG (over a cap) or -ENOMEM, with the reason in
 * cause. */
int xml_parse(const char *text, size_t len, struct xml_doc **out, char *cause, size_t cause_len);
void xml_free(struct xml_doc *doc);

const struct xml_node *xml_root(const struct xml_doc *doc);
/* The element's local name (any "prefix:" dropped). */
const char *xml_name(const struct xml_node *node);
/* The element's own character data, references decoded; "" when none. */
const char *xml_text(const struct xml_node *node);
/* The first child element called name (NULL: the first child of any name). */
const struct xml_node *xml_child(const struct xml_node *node, const char *name);
/* The next sibling called name (NULL: of any name). */
const struct xml_node *xml_next(const struct xml_node *node, const char *name);
/* The first element called name in document order, node itself included. */
const struct xml_node *xml_find(const struct xml_node *node, const char *name);
/* Follows a path of child names separated by '/' ("Result/Account"). */
const struct xml_node *xml_path(const struct xml_node *node, const char *path);
/* The text at path, or NULL when there is no such element. */
const char *xml_path_text(const struct xml_node *node, const char *path);

/* The query protocol's error answer:
 *   <ErrorResponse><Error><Type>Sender</Type><Code>C</Code>
 *   <Message>M</Message></Error><RequestId>R</RequestId></ErrorResponse>
 * Each of code, message and request_id (any may be NULL) gets its text,
 * truncated to its buffer, or "" when the answer does not say. */
void xml_aws_error(const char *body, size_t len, char *code, size_t code_len, char *message,
                   size_t message_len, char *request_id, size_t request_id_len);

#endif
