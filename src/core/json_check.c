#include "core/json_check.h"

#include "core/encoding.h"

struct cursor {
    const unsigned char *p;
    const unsigned char *end;
    int depth;
};

static void skip_space(struct cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int literal(struct cursor *c, const char *word)
{
    for (; *word; word++, c->p++)
        if (c->p >= c->end || *c->p != (unsigned char)*word)
            return 0;
    return 1;
}

static int digits(struct cursor *c)
{
    const unsigned char *start = c->p;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
        c->p++;
    return c->p > start;
}

static int number(struct cursor *c)
{
    if (c->p < c->end && *c->p == '-')
        c->p++;
    if (c->p < c->end && *c->p == '0')
        c->p++;
    else if (!digits(c))
        return 0;
    if (c->p < c->end && *c->p == '.') {
        c->p++;
        if (!digits(c))
            return 0;
    }
    if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
        c->p++;
        if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
            c->p++;
        if (!digits(c))
            return 0;
    }
    return 1;
}

static int hex4(struct cursor *c)
{
    for (int i = 0; i < 4; i++, c->p++) {
        if (c->p >= c->end)
            return 0;
        unsigned char h = *c->p;
        if (!((h >= '0' && h <= '9') || (h >= 'a' && h <= 'f') || (h >= 'A' && h <= 'F')))
            return 0;
    }
    return 1;
}

static int string(struct cursor *c)
{
    c->p++; /* opening quote */
    const unsigned char *run = c->p;
    while (c->p < c->end) {
        unsigned char ch = *c->p;
        if (ch == '"') {
            int ok = utf8_valid((const char *)run, (size_t)(c->p - run));
            c->p++;
            return ok;
        }
        if (ch < 0x20)
            return 0;
        if (ch == '\\') {
            if (!utf8_valid((const char *)run, (size_t)(c->p - run)))
                return 0;
            c->p++;
            if (c->p >= c->end)
                return 0;
            unsigned char e = *c->p++;
            if (e == 'u') {
                if (!hex4(c))
                    return 0;
            } else if (!(e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' ||
                         e == 'r' || e == 't')) {
                return 0;
            }
            run = c->p;
            continue;
        }
        c->p++;
    }
    return 0;
}

static int value(struct cursor *c);

static int members(struct cursor *c, unsigned char close, int keyed)
{
    if (++c->depth > JSON_CHECK_MAX_DEPTH)
        return 0;
    c->p++; /* [ or { */
    skip_space(c);
    for (int first = 1;; first = 0) {
        if (first && c->p < c->end && *c->p == close)
            break; /* empty */
        if (keyed) {
            skip_space(c);
            if (c->p >= c->end || *c->p != '"' || !string(c))
                return 0;
            skip_space(c);
            if (c->p >= c->end || *c->p != ':')
                return 0;
            c->p++;
        }
        if (!value(c))
            return 0;
        skip_space(c);
        if (c->p < c->end && *c->p == ',')
            c->p++;
        else if (c->p < c->end && *c->p == close)
            break;
        else
            return 0;
    }
    c->p++;
    c->depth--;
    return 1;
}

static int value(struct cursor *c)
{
    skip_space(c);
    if (c->p >= c->end)
        return 0;
    switch (*c->p) {
    case '{':
        return members(c, '}', 1);
    case '[':
        return members(c, ']', 0);
    case '"':
        return string(c);
    case 't':
        return literal(c, "true");
    case 'f':
        return literal(c, "false");
    case 'n':
        return literal(c, "null");
    default:
        return number(c);
    }
}

int json_check(const char *text, size_t len)
{
    struct cursor c = {(const unsigned char *)text, (const unsigned char *)text + len, 0};
    if (!value(&c))
        return 0;
    skip_space(&c);
    return c.p == c.end;
}
