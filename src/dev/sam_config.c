/* samconfig.toml, the file `sam deploy --guided` writes: only as much TOML
 * as finding one string key of one table needs (sam_config_string in
 * dev/sam.h). Lines are read one by one; the values of other keys are
 * skipped whole, including multi-line strings and arrays, so a line inside
 * them is never taken for a table header or a key. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dev/sam.h"

#define MAX_NAME 128

struct cursor {
    const char *p, *end;
};

static void skip_blank(struct cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
        c->p++;
}

/* The rest of the line holds nothing but blanks and a comment. */
static int line_ends(struct cursor *c)
{
    skip_blank(c);
    return c->p == c->end || *c->p == '#' || *c->p == '\n' || *c->p == '\r';
}

/* Where the current line's newline is (the end, on the last line). */
static const char *end_of_line(const struct cursor *c)
{
    const char *nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
    return nl ? nl : c->end;
}

static void next_line(struct cursor *c)
{
    c->p = end_of_line(c);
    c->p += c->p < c->end;
}

/* A table header's or key's name, dotted parts joined with '.' and blanks
 * around them dropped; quoted parts keep their text (without escapes). */
static int read_name(struct cursor *c, char stop, char *out, size_t out_len)
{
    static const char bare[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    size_t n = 0;
    for (;;) {
        skip_blank(c);
        char q = c->p < c->end && (*c->p == '"' || *c->p == '\'') ? *c->p++ : 0;
        const char *start = c->p;
        while (c->p < c->end && *c->p &&
               (q ? *c->p != q && *c->p != '\n' && *c->p != '\\' : strchr(bare, *c->p) != NULL))
            c->p++;
        size_t len = (size_t)(c->p - start);
        if ((q && (c->p == c->end || *c->p++ != q)) || (!q && len == 0) || n + len + 2 > out_len)
            return -EINVAL;
        memcpy(out + n, start, len);
        n += len;
        skip_blank(c);
        if (c->p < c->end && *c->p == '.') {
            out[n++] = '.';
            c->p++;
            continue;
        }
        out[n] = '\0';
        if (c->p == c->end || *c->p != stop)
            return -EINVAL;
        c->p++;
        return 0;
    }
}

static int hex_value(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* One escape after a backslash; \u only for printable ASCII, which is all
 * a stack name, region or profile can hold. */
static int escape(struct cursor *c, char *out)
{
    static const char from[] = "\"\\btnfr", to[] = "\"\\\b\t\n\f\r";
    const char *at = c->p < c->end && *c->p ? strchr(from, *c->p) : NULL;
    if (at) {
        *out = to[at - from];
        c->p++;
        return 0;
    }
    if (c->end - c->p < 5 || *c->p != 'u')
        return -EINVAL;
    int v = 0;
    for (int i = 1; i <= 4; i++) {
        int h = hex_value(c->p[i]);
        if (h < 0)
            return -EINVAL;
        v = v * 16 + h;
    }
    if (v < 0x20 || v >= 0x7f)
        return -EINVAL;
    *out = (char)v;
    c->p += 5;
    return 0;
}

/* A basic ("...") or literal ('...') string on one line. */
static int read_string(struct cursor *c, char *out, size_t out_len)
{
    skip_blank(c);
    if (c->p == c->end || (*c->p != '"' && *c->p != '\''))
        return -EINVAL;
    char q = *c->p++;
    size_t n = 0;
    if (c->end - c->p >= 2 && c->p[0] == q && c->p[1] == q)
        return -EINVAL; /* a multi-line string */
    while (c->p < c->end && *c->p != q) {
        char ch = *c->p++;
        if (ch == '\\' && q == '"' && escape(c, &ch) < 0)
            return -EINVAL;
        if ((unsigned char)ch < 0x20 || ch == 0x7f)
            return -EINVAL; /* the value is printed: no control characters */
        if (n + 1 >= out_len)
            return -EINVAL;
        out[n++] = ch;
    }
    if (c->p == c->end)
        return -EINVAL;
    c->p++;
    out[n] = '\0';
    return line_ends(c) ? 0 : -EINVAL;
}

/* Skips a value that goes on past its line: a multi-line string ("""
 * or ''') or an array whose brackets close on a later line. */
static void skip_value(struct cursor *c)
{
    skip_blank(c);
    for (const char *q = "\"'"; *q; q++) {
        char triple[4] = {*q, *q, *q, '\0'};
        if (c->end - c->p >= 3 && memcmp(c->p, triple, 3) == 0) {
            const char *close = memmem(c->p + 3, (size_t)(c->end - c->p - 3), triple, 3);
            c->p = close ? close + 3 : c->end;
            next_line(c);
            return;
        }
    }
    int depth = 0;
    char quote = 0;
    while (c->p < c->end && (*c->p != '\n' || depth > 0)) {
        char ch = *c->p++;
        if (ch == '\n')
            quote = 0; /* a single-line string cannot go on */
        else if (quote && ch == '\\' && quote == '"' && c->p < c->end && *c->p != '\n')
            c->p++;
        else if (quote && ch == quote)
            quote = 0;
        else if (!quote && (ch == '"' || ch == '\''))
            quote = ch;
        else if (!quote && ch == '#')
            c->p = end_of_line(c);
        else if (!quote && ch == '[')
            depth++;
        else if (!quote && ch == ']')
            depth--;
    }
    next_line(c);
}

int sam_config_string(const char *text, size_t len, const char *table, const char *key, char *out,
                      size_t out_len)
{
    struct cursor c = {text, text + len};
    char current[MAX_NAME + 1] = "", name[MAX_NAME + 1];
    while (c.p < c.end) {
        if (line_ends(&c)) {
            next_line(&c);
            continue;
        }
        if (*c.p == '[') {
            c.p++;
            int array = c.p < c.end && *c.p == '[';
            c.p += array;
            if (read_name(&c, ']', current, sizeof(current)) < 0 || array)
                current[0] = '\0';
            next_line(&c);
            continue;
        }
        const char *line = c.p;
        if (read_name(&c, '=', name, sizeof(name)) < 0) {
            c.p = line;
            next_line(&c);
            continue;
        }
        if (strcmp(current, table) == 0 && strcmp(name, key) == 0)
            return read_string(&c, out, out_len);
        skip_value(&c);
    }
    return -ENOENT;
}
