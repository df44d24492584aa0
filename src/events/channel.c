#include "events/channel.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/cause.h"

static int is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static int check_segment(const char *s, size_t len, size_t index, char *cause, size_t cause_len)
{
    if (len == 0)
        return cause_set(cause, cause_len, -EINVAL, "channel segment %zu is empty", index + 1);
    if (len > CHANNEL_MAX_SEGMENT_LENGTH)
        return cause_set(cause, cause_len, -EINVAL,
                         "channel segment %zu is longer than %d characters", index + 1,
                         CHANNEL_MAX_SEGMENT_LENGTH);
    for (size_t i = 0; i < len; i++) {
        if (!is_alnum(s[i]) && s[i] != '-')
            return cause_set(
                cause, cause_len, -EINVAL,
                "channel segment %zu has a character other than letters, digits and '-'",
                index + 1);
    }
    if (!is_alnum(s[0]) || !is_alnum(s[len - 1]))
        return cause_set(cause, cause_len, -EINVAL,
                         "channel segment %zu must start and end with a letter or digit",
                         index + 1);
    return 0;
}

int channel_parse(const char *text, size_t len, int allow_wildcard, struct channel *out,
                  char *cause, size_t cause_len)
{
    memset(out, 0, sizeof(*out));
    if (len > 0 && text[0] == '/') {
        text++;
        len--;
    }
    if (len == 0)
        return cause_set(cause, cause_len, -EINVAL, "channel is empty");
    if (len > CHANNEL_MAX_LENGTH - 1)
        return cause_set(cause, cause_len, -EINVAL, "channel is too long");
    size_t start = 0, index = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && text[i] != '/')
            continue;
        if (index >= CHANNEL_MAX_SEGMENTS)
            return cause_set(cause, cause_len, -EINVAL, "channel has more than %d segments",
                             CHANNEL_MAX_SEGMENTS);
        size_t seg_len = i - start;
        if (i == len && seg_len == 1 && text[start] == '*') {
            if (!allow_wildcard)
                return cause_set(cause, cause_len, -EINVAL,
                                 "wildcards are allowed only when subscribing");
            if (index == 0)
                return cause_set(cause, cause_len, -EINVAL,
                                 "a wildcard needs a namespace before it");
            out->wildcard = 1;
        } else if (check_segment(text + start, seg_len, index, cause, cause_len) < 0) {
            return -EINVAL;
        }
        if (index == 0)
            out->namespace_length = seg_len;
        index++;
        start = i + 1;
    }
    out->path[0] = '/';
    memcpy(out->path + 1, text, len);
    out->path[len + 1] = '\0';
    out->segment_count = index;
    return 0;
}

int channel_matches(const struct channel *subscription, const struct channel *published)
{
    if (!subscription->wildcard)
        return strcmp(subscription->path, published->path) == 0;
    /* A wildcard "/a/b/" + "*" matches "/a/b/" followed by at least one more segment. */
    size_t prefix_len = strlen(subscription->path) - 1; /* keeps the '/' before '*' */
    return strlen(published->path) > prefix_len &&
           strncmp(subscription->path, published->path, prefix_len) == 0;
}

void channel_namespace(const struct channel *channel, char *out)
{
    memcpy(out, channel->path + 1, channel->namespace_length);
    out[channel->namespace_length] = '\0';
}
