/* AppSync Events channel paths: validation, normal form, and matching.
 *
 * A channel is 1-5 segments separated by '/', each 1-50 characters of
 * [A-Za-z0-9-] that start and end alphanumeric; the leading '/' is optional
 * and the normal form always has it. The first segment is the namespace.
 * A subscription may end in "/" followed by "*": it matches every channel strictly below
 * that prefix, at any depth ("/ns/" + "*" matches "/ns/a" and "/ns/a/b", not "/ns"). */
#ifndef TETHER_EVENTS_CHANNEL_H
#define TETHER_EVENTS_CHANNEL_H

#include <stddef.h>

#define CHANNEL_MAX_SEGMENTS 5
#define CHANNEL_MAX_SEGMENT_LENGTH 50
/* "/" + 5 * 50 + 4 "/" + NUL, with room for a trailing wildcard. */
#define CHANNEL_MAX_LENGTH (1 + CHANNEL_MAX_SEGMENTS * (CHANNEL_MAX_SEGMENT_LENGTH + 1) + 2)

struct channel {
    char path[CHANNEL_MAX_LENGTH + 1]; /* normal form, with a leading '/' */
    size_t segment_count;              /* the '*' of a wildcard counts as a segment */
    int wildcard;
    size_t namespace_length; /* path + 1 .. + namespace_length is the namespace */
};

/* Parses text (not NUL-terminated, len bytes). allow_wildcard: 1 for
 * subscriptions. Returns 0, or -EINVAL with a reason in cause. */
int channel_parse(const char *text, size_t len, int allow_wildcard, struct channel *out,
                  char *cause, size_t cause_len);
/* Whether a published channel (no wildcard) is delivered to a subscription. */
int channel_matches(const struct channel *subscription, const struct channel *published);
/* Copies the namespace into out (size >= CHANNEL_MAX_SEGMENT_LENGTH + 1). */
void channel_namespace(const struct channel *channel, char *out);

#endif
