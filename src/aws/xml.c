/* The XML reader for AWS query-protocol answers (see xml.h). */
#include "aws/xml.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/cause.h"
#include "core/encoding.h"

struct xml_node {
    const char *name; /* local name, into the pool */
    const char *text;
    const struct xml_node *child, *next;
    /* While parsing the pool and the node array move, so links are indices
     * and offsets; the pointers above are set once both stop growing. */
    size_t name_off, local_off, text_off;
    int child_i, last_i, next_i;
};

struct xml_doc {
    struct xml_node *nodes;
    size_t count, cap;
    struct buf pool; /* names and texts, each NUL-terminated */
};

struct parser {
    const char *s;
    size_t len, pos;
    struct xml_doc *doc;
    int open[XML_MAX_DEPTH];        /* the elements not yet closed */
    struct buf text[XML_MAX_DEPTH]; /* their character data so far */
    int depth;
    char *cause;
    size_t cause_len;
};

/* Texts may be secrets (STS answers carry credentials): every buffer that
 * held one is wiped before it is reused or freed. */
static void wipe_buf(struct buf *b)
{
    if (b->data)
        secure_wipe(b->data, b->cap);
}

static int fail(struct parser *p, const char *what)
{
    return cause_set(p->cause, p->cause_len, -EINVAL, "bad XML at byte %zu: %s", p->pos, what);
}

static int starts(const struct parser *p, const char *lit)
{
    size_t n = strlen(lit);
    return p->len - p->pos >= n && memcmp(p->s + p->pos, lit, n) == 0;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void skip_space(struct parser *p)
{
    while (p->pos < p->len && is_space(p->s[p->pos]))
        p->pos++;
}

/* Moves past the next occurrence of end (a comment's, a PI's or CDATA's). */
static int skip_past(struct parser *p, const char *end, const char **from, size_t *n)
{
    const char *at = memmem(p->s + p->pos, p->len - p->pos, end, strlen(end));
    if (!at)
        return fail(p, "unterminated markup");
    if (from) {
        *from = p->s + p->pos;
        *n = (size_t)(at - *from);
    }
    p->pos = (size_t)(at - p->s) + strlen(end);
    return 0;
}

/* Comments and processing instructions (the XML declaration among them)
 * carry nothing AWS's answers need; a DOCTYPE or any other "<!" is refused,
 * so no entity can ever be defined. 1 when one was skipped. */
static int skip_misc(struct parser *p)
{
    if (starts(p, "<!--"))
        return skip_past(p, "-->", NULL, NULL) < 0 ? -EINVAL : 1;
    if (starts(p, "<?"))
        return skip_past(p, "?>", NULL, NULL) < 0 ? -EINVAL : 1;
    if (starts(p, "<!") && !starts(p, "<![CDATA["))
        return fail(p, "DOCTYPE and declarations are not accepted");
    return 0;
}

static int name_char(unsigned char c, int first)
{
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == ':' || c >= 0x80)
        return 1;
    return !first && ((c >= '0' && c <= '9') || c == '-' || c == '.');
}

/* A name at the current position: its start and length. */
static int read_name(struct parser *p, const char **name, size_t *n)
{
    size_t start = p->pos;
    while (p->pos < p->len && name_char((unsigned char)p->s[p->pos], p->pos == start))
        p->pos++;
    *name = p->s + start;
    *n = p->pos - start;
    if (*n == 0)
        return fail(p, "expected a name");
    if (*n > XML_MAX_NAME)
        return cause_set(p->cause, p->cause_len, -EFBIG, "XML name longer than %d bytes",
                         XML_MAX_NAME);
    /* A qualified name (Namespaces in XML): at most one ':', with a prefix
     * before it and a local name after it. */
    const char *colon = memchr(*name, ':', *n);
    if (colon && (colon == *name || colon == *name + *n - 1 ||
                  memchr(colon + 1, ':', (size_t)(*name + *n - colon - 1))))
        return fail(p, "bad qualified name");
    return 0;
}

/* Characters XML 1.0 allows, as code points. */
static int xml_char_allowed(unsigned long c)
{
    return c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c <= 0xD7FF) ||
           (c >= 0xE000 && c <= 0xFFFD) || (c >= 0x10000 && c <= 0x10FFFF);
}

static int append_utf8(struct buf *out, unsigned long c)
{
    char b[4];
    size_t n;
    if (c < 0x80) {
        b[0] = (char)c;
        n = 1;
    } else if (c < 0x800) {
        b[0] = (char)(0xC0 | (c >> 6));
        b[1] = (char)(0x80 | (c & 0x3F));
        n = 2;
    } else if (c < 0x10000) {
        b[0] = (char)(0xE0 | (c >> 12));
        b[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        b[2] = (char)(0x80 | (c & 0x3F));
        n = 3;
    } else {
        b[0] = (char)(0xF0 | (c >> 18));
        b[1] = (char)(0x80 | ((c >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((c >> 6) & 0x3F));
        b[3] = (char)(0x80 | (c & 0x3F));
        n = 4;
    }
    return buf_append(out, b, n);
}

/* One reference after '&': a predefined entity or a character reference. */
static int read_reference(struct parser *p, struct buf *out)
{
    static const struct {
        const char *name;
        char c;
    } predefined[] = {{"amp;", '&'}, {"lt;", '<'}, {"gt;", '>'}, {"quot;", '"'}, {"apos;", '\''}};
    p->pos++; /* '&' */
    for (size_t i = 0; i < sizeof(predefined) / sizeof(predefined[0]); i++) {
        if (starts(p, predefined[i].name)) {
            p->pos += strlen(predefined[i].name);
            return buf_append_char(out, predefined[i].c);
        }
    }
    if (!starts(p, "#"))
        return fail(p, "unknown entity reference");
    p->pos++;
    int hex = starts(p, "x");
    p->pos += (size_t)hex;
    unsigned long c = 0;
    size_t digits = 0;
    for (; p->pos < p->len && p->s[p->pos] != ';'; p->pos++, digits++) {
        char d = p->s[p->pos];
        int v = d >= '0' && d <= '9'          ? d - '0'
                : hex && d >= 'a' && d <= 'f' ? d - 'a' + 10
                : hex && d >= 'A' && d <= 'F' ? d - 'A' + 10
                                              : -1;
        if (v < 0 || digits >= 8)
            return fail(p, "bad character reference");
        c = c * (hex ? 16 : 10) + (unsigned long)v;
    }
    if (p->pos >= p->len || digits == 0 || !xml_char_allowed(c))
        return fail(p, "bad character reference");
    p->pos++; /* ';' */
    return append_utf8(out, c);
}

/* Character data up to the next '<' (or the end), into out; in an
 * attribute value, up to the closing quote. */
static int read_chars(struct parser *p, struct buf *out, char stop)
{
    while (p->pos < p->len && p->s[p->pos] != stop && p->s[p->pos] != '<') {
        unsigned char c = (unsigned char)p->s[p->pos];
        int rc;
        if (c == '&')
            rc = read_reference(p, out);
        else if (c < 0x20 && !is_space((char)c))
            return fail(p, "control character in text");
        else {
            rc = buf_append_char(out, (char)c);
            p->pos++;
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* One attribute (name="value"); the value is decoded into scratch. */
static int read_attribute(struct parser *p, struct buf *scratch)
{
    const char *name;
    size_t n;
    int rc = read_name(p, &name, &n);
    if (rc < 0)
        return rc;
    skip_space(p);
    if (!starts(p, "="))
        return fail(p, "expected '=' after an attribute name");
    p->pos++;
    skip_space(p);
    char quote = p->pos < p->len ? p->s[p->pos] : 0;
    if (quote != '"' && quote != '\'')
        return fail(p, "expected a quoted attribute value");
    p->pos++;
    if ((rc = read_chars(p, scratch, quote)) < 0)
        return rc;
    if (p->pos >= p->len || p->s[p->pos] != quote)
        return fail(p, "unterminated attribute value");
    p->pos++;
    return 0;
}

/* Attributes are read for well-formedness and dropped (AWS's answers carry
 * only xmlns). Stops before the tag's '>' or "/>". */
static int read_attributes(struct parser *p)
{
    struct buf scratch = BUF_INIT;
    int rc = 0;
    for (;;) {
        size_t before = p->pos;
        skip_space(p);
        if (p->pos >= p->len) {
            rc = fail(p, "unterminated tag");
            break;
        }
        if (p->s[p->pos] == '>' || starts(p, "/>"))
            break;
        if (p->pos == before) {
            rc = fail(p, "attributes must be separated by space");
            break;
        }
        if ((rc = read_attribute(p, &scratch)) < 0)
            break;
        buf_reset(&scratch);
    }
    buf_free(&scratch);
    return rc;
}

static int add_node(struct parser *p, const char *name, size_t n)
{
    struct xml_doc *d = p->doc;
    if (d->count >= XML_MAX_ELEMENTS)
        return cause_set(p->cause, p->cause_len, -EFBIG, "XML has more than %d elements",
                         XML_MAX_ELEMENTS);
    if (p->depth >= XML_MAX_DEPTH)
        return cause_set(p->cause, p->cause_len, -EFBIG, "XML nested deeper than %d",
                         XML_MAX_DEPTH);
    if (d->count == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 32;
        struct xml_node *grown = realloc(d->nodes, cap * sizeof(*grown));
        if (!grown)
            return -ENOMEM;
        d->nodes = grown;
        d->cap = cap;
    }
    int i = (int)d->count++;
    struct xml_node *node = &d->nodes[i];
    memset(node, 0, sizeof(*node));
    node->child_i = node->last_i = node->next_i = -1;
    node->name_off = buf_length(&d->pool);
    const char *colon = memrchr(name, ':', n);
    node->local_off = node->name_off + (colon ? (size_t)(colon - name) + 1 : 0);
    int rc = buf_append(&d->pool, name, n);
    if (rc == 0)
        rc = buf_append_char(&d->pool, '\0');
    if (rc < 0)
        return rc;
    if (p->depth > 0) {
        struct xml_node *parent = &d->nodes[p->open[p->depth - 1]];
        if (parent->last_i < 0)
            parent->child_i = i;
        else
            d->nodes[parent->last_i].next_i = i;
        parent->last_i = i;
    }
    return i;
}

/* Closes the innermost element: its text moves into the pool. */
static int close_element(struct parser *p)
{
    struct xml_doc *d = p->doc;
    struct buf *text = &p->text[p->depth - 1];
    d->nodes[p->open[p->depth - 1]].text_off = buf_length(&d->pool);
    int rc = buf_append(&d->pool, buf_bytes(text) ? buf_bytes(text) : "", buf_length(text));
    if (rc == 0)
        rc = buf_append_char(&d->pool, '\0');
    wipe_buf(text);
    buf_reset(text);
    p->depth--;
    return rc;
}

static int start_tag(struct parser *p)
{
    const char *name;
    size_t n;
    p->pos++; /* '<' */
    int rc = read_name(p, &name, &n);
    if (rc == 0)
        rc = read_attributes(p);
    if (rc < 0)
        return rc;
    int i = add_node(p, name, n);
    if (i < 0)
        return i;
    p->open[p->depth++] = i;
    if (starts(p, "/>")) {
        p->pos += 2;
        return close_element(p);
    }
    p->pos++; /* '>' */
    return 0;
}

static int end_tag(struct parser *p)
{
    const char *name;
    size_t n;
    p->pos += 2; /* "</" */
    int rc = read_name(p, &name, &n);
    if (rc < 0)
        return rc;
    const struct xml_node *open = &p->doc->nodes[p->open[p->depth - 1]];
    const char *open_name = p->doc->pool.data + open->name_off;
    if (strlen(open_name) != n || memcmp(open_name, name, n) != 0)
        return fail(p, "end tag does not match the open element");
    skip_space(p);
    if (!starts(p, ">"))
        return fail(p, "expected '>'");
    p->pos++;
    return close_element(p);
}

/* Inside an element: text, CDATA, comments, children, its end tag. */
static int content(struct parser *p)
{
    struct buf *text = &p->text[p->depth - 1];
    if (p->s[p->pos] != '<')
        return read_chars(p, text, '<');
    if (starts(p, "</"))
        return end_tag(p);
    if (starts(p, "<![CDATA[")) {
        const char *from;
        size_t n;
        p->pos += 9;
        int rc = skip_past(p, "]]>", &from, &n);
        return rc < 0 ? rc : buf_append(text, from, n);
    }
    int rc = skip_misc(p);
    return rc != 0 ? (rc < 0 ? rc : 0) : start_tag(p);
}

/* What may stand before and after the root element: space and markup
 * that carries nothing. */
static int outside(struct parser *p)
{
    for (;;) {
        skip_space(p);
        if (p->pos >= p->len || p->s[p->pos] != '<')
            return 0;
        int rc = skip_misc(p);
        if (rc <= 0)
            return rc;
    }
}

static int parse(struct parser *p)
{
    if (starts(p, "\xEF\xBB\xBF"))
        p->pos += 3;
    int rc = outside(p);
    if (rc < 0)
        return rc;
    if (p->pos >= p->len || p->s[p->pos] != '<' || starts(p, "</") || starts(p, "<!"))
        return fail(p, "expected the root element");
    rc = start_tag(p);
    while (rc == 0 && p->depth > 0 && p->pos < p->len)
        rc = content(p);
    if (rc == 0 && p->depth > 0)
        rc = fail(p, "unclosed element");
    if (rc == 0)
        rc = outside(p);
    if (rc == 0 && p->pos < p->len)
        rc = fail(p, "content after the root element");
    return rc;
}

/* The pool and the array stopped moving: links become pointers. */
static void link_nodes(struct xml_doc *d)
{
    for (size_t i = 0; i < d->count; i++) {
        struct xml_node *node = &d->nodes[i];
        node->name = d->pool.data + node->local_off;
        node->text = d->pool.data + node->text_off;
        node->child = node->child_i >= 0 ? &d->nodes[node->child_i] : NULL;
        node->next = node->next_i >= 0 ? &d->nodes[node->next_i] : NULL;
    }
}

int xml_parse(const char *text, size_t len, struct xml_doc **out, char *cause, size_t cause_len)
{
    *out = NULL;
    if (len > XML_MAX_INPUT)
        return cause_set(cause, cause_len, -EFBIG, "XML answer larger than %d bytes",
                         XML_MAX_INPUT);
    if (memchr(text, '\0', len) || !utf8_valid(text, len))
        return cause_set(cause, cause_len, -EINVAL, "XML answer is not valid UTF-8 text");
    struct xml_doc *doc = calloc(1, sizeof(*doc));
    if (!doc)
        return -ENOMEM;
    struct parser p = {.s = text, .len = len, .doc = doc, .cause = cause, .cause_len = cause_len};
    int rc = parse(&p);
    for (int i = 0; i < XML_MAX_DEPTH; i++)
        secure_free_buf(&p.text[i]);
    if (rc == -ENOMEM)
        cause_set(cause, cause_len, rc, "out of memory reading XML");
    if (rc < 0) {
        xml_free(doc);
        return rc;
    }
    link_nodes(doc);
    *out = doc;
    return 0;
}

/* The pool may hold secrets (STS answers carry credentials), so it is
 * wiped before it is freed. */
void xml_free(struct xml_doc *doc)
{
    if (!doc)
        return;
    secure_free_buf(&doc->pool);
    free(doc->nodes);
    free(doc);
}

const struct xml_node *xml_root(const struct xml_doc *doc)
{
    return doc && doc->count ? &doc->nodes[0] : NULL;
}

const char *xml_name(const struct xml_node *node)
{
    return node->name;
}

const char *xml_text(const struct xml_node *node)
{
    return node->text;
}

static const struct xml_node *first_named(const struct xml_node *node, const char *name)
{
    while (node && name && strcmp(node->name, name) != 0)
        node = node->next;
    return node;
}

const struct xml_node *xml_child(const struct xml_node *node, const char *name)
{
    return node ? first_named(node->child, name) : NULL;
}

const struct xml_node *xml_next(const struct xml_node *node, const char *name)
{
    return node ? first_named(node->next, name) : NULL;
}

/* Depth is capped by the parser, so the recursion is too. */
const struct xml_node *xml_find(const struct xml_node *node, const char *name)
{
    if (!node || strcmp(node->name, name) == 0)
        return node;
    for (const struct xml_node *c = node->child; c; c = c->next) {
        const struct xml_node *found = xml_find(c, name);
        if (found)
            return found;
    }
    return NULL;
}

const struct xml_node *xml_path(const struct xml_node *node, const char *path)
{
    char part[XML_MAX_NAME + 1];
    while (node && *path) {
        size_t n = strcspn(path, "/");
        if (n > XML_MAX_NAME)
            return NULL;
        memcpy(part, path, n);
        part[n] = '\0';
        node = xml_child(node, part);
        path += n + (path[n] == '/');
    }
    return node;
}

const char *xml_path_text(const struct xml_node *node, const char *path)
{
    node = xml_path(node, path);
    return node ? node->text : NULL;
}

static void copy_text(char *out, size_t out_len, const char *text)
{
    if (out && out_len)
        snprintf(out, out_len, "%s", text ? text : "");
}

void xml_aws_error(const char *body, size_t len, char *code, size_t code_len, char *message,
                   size_t message_len, char *request_id, size_t request_id_len)
{
    struct xml_doc *doc = NULL;
    const struct xml_node *root = NULL;
    if (body && xml_parse(body, len, &doc, NULL, 0) == 0 &&
        strcmp(xml_name(xml_root(doc)), "ErrorResponse") == 0)
        root = xml_root(doc);
    copy_text(code, code_len, xml_path_text(root, "Error/Code"));
    copy_text(message, message_len, xml_path_text(root, "Error/Message"));
    copy_text(request_id, request_id_len, xml_path_text(root, "RequestId"));
    xml_free(doc);
}
