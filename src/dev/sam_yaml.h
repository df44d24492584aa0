/* The document tree of a SAM or CloudFormation template (YAML or JSON), read
 * with libyaml's event parser for dev/sam.c, its only user.
 *
 * The tree is built under the caps of dev/sam.h: at most SAM_MAX_NODES nodes,
 * where an alias counts as every node of what it points to (so "billion
 * laughs" is refused after a few hundred thousand, not after gigabytes),
 * SAM_MAX_DEPTH levels and SAM_MAX_ANCHORS anchors. An alias shares the
 * anchored node (a reference count), so the tree is read-only once built.
 *
 * CloudFormation's short-form tags become the long forms: `!Ref X` is the
 * mapping {"Ref": "X"}, `!Condition C` is {"Condition": "C"}, and every other
 * `!Name V` is {"Fn::Name": V}; the standard YAML tags are dropped. Scalars
 * are kept as written (a plain `3` is the text "3"); one holding a NUL
 * character is refused, so every scalar is a whole C string. */
#ifndef TETHER_DEV_SAM_YAML_H
#define TETHER_DEV_SAM_YAML_H

#include <stddef.h>

enum sam_yaml_kind {
    SAM_YAML_SCALAR,
    SAM_YAML_SEQUENCE,
    SAM_YAML_MAPPING,
};

struct sam_yaml_node {
    enum sam_yaml_kind kind;
    unsigned refs; /* the parent, plus one per alias to it */
    size_t size;   /* nodes in this subtree, aliases counted in full */
    char *text;    /* a scalar's value, NUL-terminated */
    int quoted;    /* a scalar written in quotes (or tagged !!str) */
    /* A sequence's items; a mapping's keys and values, alternating (every
     * key is a scalar). */
    struct sam_yaml_node **items;
    size_t count, cap;
};

/* Parses one document. 0 and the root (a mapping) in *out, for
 * sam_yaml_release(); -EINVAL with "line L, column C: reason" in cause;
 * -ENOMEM. */
int sam_yaml_parse(const char *text, size_t len, struct sam_yaml_node **out, char *cause,
                   size_t cause_len);
void sam_yaml_release(struct sam_yaml_node *node);

/* The value of key in a mapping (the last one, when a key repeats, as YAML
 * readers do); NULL when node is not a mapping or has no such key. */
const struct sam_yaml_node *sam_yaml_get(const struct sam_yaml_node *node, const char *key);
/* A scalar's text; NULL for anything else (or a NULL node). */
const char *sam_yaml_text(const struct sam_yaml_node *node);

#endif
