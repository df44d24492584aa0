#include "dev/sam_yaml.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/cause.h"
#include "dev/sam.h"

struct anchor {
    char *name;
    struct sam_yaml_node *node;
};

/* A collection being read, with the tag and anchor its start event gave. */
struct open_node {
    struct sam_yaml_node *node;
    char *tag;
    char *anchor;
};

struct builder {
    yaml_parser_t parser;
    struct open_node open[SAM_MAX_DEPTH];
    size_t depth;
    struct anchor *anchors;
    size_t anchor_count;
    size_t budget; /* nodes so far, aliases counted in full */
    int documents;
    struct sam_yaml_node *root;
    char *cause;
    size_t cause_len;
};

/* The place of the event being handled, and the reason. */
static int fail(struct builder *b, const yaml_event_t *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct builder *b, const yaml_event_t *event, const char *fmt, ...)
{
    char reason[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    return cause_set(b->cause, b->cause_len, -EINVAL, "line %zu, column %zu: %s",
                     event->start_mark.line + 1, event->start_mark.column + 1, reason);
}

void sam_yaml_release(struct sam_yaml_node *node)
{
    if (!node || --node->refs > 0)
        return;
    for (size_t i = 0; i < node->count; i++)
        sam_yaml_release(node->items[i]);
    free(node->items);
    free(node->text);
    free(node);
}

static struct sam_yaml_node *new_node(struct builder *b, enum sam_yaml_kind kind)
{
    if (b->budget >= SAM_MAX_NODES)
        return NULL;
    struct sam_yaml_node *n = calloc(1, sizeof(*n));
    if (n) {
        n->kind = kind;
        n->refs = 1;
        n->size = 1;
        b->budget++;
    }
    return n;
}

static int node_cap_error(struct builder *b, const yaml_event_t *event)
{
    if (b->budget >= SAM_MAX_NODES)
        return fail(b, event, "more than %d nodes (aliases count as what they repeat)",
                    SAM_MAX_NODES);
    return -ENOMEM;
}

static int append_item(struct sam_yaml_node *parent, struct sam_yaml_node *child)
{
    if (parent->count == parent->cap) {
        size_t cap = parent->cap ? parent->cap * 2 : 8;
        struct sam_yaml_node **items = realloc(parent->items, cap * sizeof(*items));
        if (!items)
            return -ENOMEM;
        parent->items = items;
        parent->cap = cap;
    }
    parent->items[parent->count++] = child;
    parent->size += child->size;
    return 0;
}

/* The long form of a short-form tag: "!Ref" is "Ref", "!Sub" is "Fn::Sub". */
static void long_form(const char *tag, char *out, size_t out_len)
{
    const char *name = tag + 1;
    if (strcmp(name, "Ref") == 0 || strcmp(name, "Condition") == 0)
        snprintf(out, out_len, "%s", name);
    else
        snprintf(out, out_len, "Fn::%s", name);
}

/* A node with a CloudFormation tag becomes {"Fn::Name": node}. */
static int apply_tag(struct builder *b, const yaml_event_t *event, const char *tag,
                     struct sam_yaml_node **node)
{
    if (!tag || tag[0] != '!' || tag[1] == '\0')
        return 0;
    if (strlen(tag) > 64)
        return fail(b, event, "a tag longer than 64 characters");
    struct sam_yaml_node *map = new_node(b, SAM_YAML_MAPPING);
    struct sam_yaml_node *key = map ? new_node(b, SAM_YAML_SCALAR) : NULL;
    char name[80];
    long_form(tag, name, sizeof(name));
    if (key && !(key->text = strdup(name))) {
        sam_yaml_release(key);
        key = NULL;
    }
    if (!key) {
        sam_yaml_release(map);
        return node_cap_error(b, event);
    }
    if (append_item(map, key) < 0 || append_item(map, *node) < 0) {
        sam_yaml_release(map);
        return -ENOMEM;
    }
    *node = map;
    return 0;
}

static int remember_anchor(struct builder *b, const yaml_event_t *event, const char *name,
                           struct sam_yaml_node *node)
{
    if (!name)
        return 0;
    if (b->anchor_count == SAM_MAX_ANCHORS)
        return fail(b, event, "more than %d anchors", SAM_MAX_ANCHORS);
    if (b->anchor_count % 64 == 0) {
        struct anchor *a = realloc(b->anchors, (b->anchor_count + 64) * sizeof(*a));
        if (!a)
            return -ENOMEM;
        b->anchors = a;
    }
    char *copy = strdup(name);
    if (!copy)
        return -ENOMEM;
    node->refs++;
    b->anchors[b->anchor_count++] = (struct anchor){copy, node};
    return 0;
}

/* Places a finished node: in the open collection, or as the root. Takes
 * node over, also on failure. */
static int place(struct builder *b, const yaml_event_t *event, struct sam_yaml_node *node)
{
    if (b->depth == 0) {
        if (b->root)
            sam_yaml_release(b->root);
        b->root = node;
        return 0;
    }
    struct sam_yaml_node *parent = b->open[b->depth - 1].node;
    if (parent->kind == SAM_YAML_MAPPING && parent->count % 2 == 0 &&
        node->kind != SAM_YAML_SCALAR) {
        sam_yaml_release(node);
        return fail(b, event, "a mapping key that is not a plain value");
    }
    int rc = append_item(parent, node);
    if (rc < 0)
        sam_yaml_release(node);
    return rc;
}

/* A node is complete: its tag, its anchor, then its place. */
static int finish(struct builder *b, const yaml_event_t *event, struct sam_yaml_node *node,
                  const char *tag, const char *anchor)
{
    int rc = apply_tag(b, event, tag, &node);
    if (rc == 0)
        rc = remember_anchor(b, event, anchor, node);
    if (rc < 0) {
        sam_yaml_release(node);
        return rc;
    }
    return place(b, event, node);
}

static int on_scalar(struct builder *b, const yaml_event_t *event)
{
    const char *value = (const char *)event->data.scalar.value;
    size_t length = event->data.scalar.length;
    const char *tag = (const char *)event->data.scalar.tag;
    if (memchr(value, '\0', length))
        return fail(b, event, "a value holds a NUL character");
    struct sam_yaml_node *n = new_node(b, SAM_YAML_SCALAR);
    if (!n)
        return node_cap_error(b, event);
    n->quoted = event->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
                (tag && strcmp(tag, YAML_STR_TAG) == 0);
    if (!(n->text = strndup(value, length))) {
        sam_yaml_release(n);
        return -ENOMEM;
    }
    return finish(b, event, n, tag, (const char *)event->data.scalar.anchor);
}

static int on_start(struct builder *b, const yaml_event_t *event, enum sam_yaml_kind kind,
                    const yaml_char_t *tag, const yaml_char_t *anchor)
{
    if (b->depth == SAM_MAX_DEPTH)
        return fail(b, event, "nested more than %d levels deep", SAM_MAX_DEPTH);
    struct sam_yaml_node *n = new_node(b, kind);
    if (!n)
        return node_cap_error(b, event);
    struct open_node *o = &b->open[b->depth++];
    *o = (struct open_node){n, tag ? strdup((const char *)tag) : NULL,
                            anchor ? strdup((const char *)anchor) : NULL};
    if ((tag && !o->tag) || (anchor && !o->anchor))
        return -ENOMEM;
    return 0;
}

static int on_end(struct builder *b, const yaml_event_t *event)
{
    struct open_node o = b->open[--b->depth];
    int rc = finish(b, event, o.node, o.tag, o.anchor);
    free(o.tag);
    free(o.anchor);
    return rc;
}

static int on_alias(struct builder *b, const yaml_event_t *event)
{
    const char *name = (const char *)event->data.alias.anchor;
    struct sam_yaml_node *target = NULL;
    for (size_t i = b->anchor_count; i-- > 0 && !target;)
        if (strcmp(b->anchors[i].name, name) == 0)
            target = b->anchors[i].node;
    if (!target)
        return fail(b, event, "alias *%.40s names no anchor before it", name);
    if (target->size > SAM_MAX_NODES - b->budget)
        return fail(b, event, "aliases repeat more than %d nodes", SAM_MAX_NODES);
    b->budget += target->size;
    target->refs++;
    return place(b, event, target);
}

static int on_event(struct builder *b, const yaml_event_t *event)
{
    switch (event->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (++b->documents > 1)
            return fail(b, event, "more than one YAML document");
        return 0;
    case YAML_SCALAR_EVENT:
        return on_scalar(b, event);
    case YAML_SEQUENCE_START_EVENT:
        return on_start(b, event, SAM_YAML_SEQUENCE, event->data.sequence_start.tag,
                        event->data.sequence_start.anchor);
    case YAML_MAPPING_START_EVENT:
        return on_start(b, event, SAM_YAML_MAPPING, event->data.mapping_start.tag,
                        event->data.mapping_start.anchor);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        return on_end(b, event);
    case YAML_ALIAS_EVENT:
        return on_alias(b, event);
    default:
        return 0;
    }
}

static int parser_error(struct builder *b)
{
    const yaml_parser_t *p = &b->parser;
    if (p->error == YAML_MEMORY_ERROR)
        return -ENOMEM;
    return cause_set(b->cause, b->cause_len, -EINVAL, "line %zu, column %zu: %s",
                     p->problem_mark.line + 1, p->problem_mark.column + 1,
                     p->problem ? p->problem : "not YAML");
}

static int run(struct builder *b)
{
    for (;;) {
        yaml_event_t event;
        if (!yaml_parser_parse(&b->parser, &event))
            return parser_error(b);
        int end = event.type == YAML_STREAM_END_EVENT;
        int rc = on_event(b, &event);
        yaml_event_delete(&event);
        if (rc < 0 || end)
            return rc;
    }
}

static void builder_free(struct builder *b)
{
    while (b->depth > 0) {
        struct open_node *o = &b->open[--b->depth];
        sam_yaml_release(o->node);
        free(o->tag);
        free(o->anchor);
    }
    for (size_t i = 0; i < b->anchor_count; i++) {
        free(b->anchors[i].name);
        sam_yaml_release(b->anchors[i].node);
    }
    free(b->anchors);
    yaml_parser_delete(&b->parser);
}

int sam_yaml_parse(const char *text, size_t len, struct sam_yaml_node **out, char *cause,
                   size_t cause_len)
{
    struct builder b = {.cause = cause, .cause_len = cause_len};
    *out = NULL;
    if (len > SAM_MAX_BYTES)
        return cause_set(cause, cause_len, -EINVAL, "larger than %d bytes", SAM_MAX_BYTES);
    if (!yaml_parser_initialize(&b.parser))
        return -ENOMEM;
    yaml_parser_set_input_string(&b.parser, (const unsigned char *)text, len);
    int rc = run(&b);
    if (rc == 0 && (!b.root || b.root->kind != SAM_YAML_MAPPING))
        rc = cause_set(cause, cause_len, -EINVAL, "the template is not a mapping of sections");
    builder_free(&b);
    if (rc < 0) {
        sam_yaml_release(b.root);
        return rc;
    }
    *out = b.root;
    return 0;
}

const struct sam_yaml_node *sam_yaml_get(const struct sam_yaml_node *node, const char *key)
{
    if (!node || node->kind != SAM_YAML_MAPPING)
        return NULL;
    for (size_t i = node->count; i >= 2; i -= 2)
        if (strcmp(node->items[i - 2]->text, key) == 0)
            return node->items[i - 1];
    return NULL;
}

const char *sam_yaml_text(const struct sam_yaml_node *node)
{
    return node && node->kind == SAM_YAML_SCALAR ? node->text : NULL;
}
