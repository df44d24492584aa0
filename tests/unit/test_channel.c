/* Unit tests for events/channel: AppSync Events channel validation, normal
 * form, namespace and subscription matching. */
#include <errno.h>

#include "events/channel.h"
#include "test.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int parse(const char *text, int allow_wildcard, struct channel *out)
{
    char cause[160] = "";
    int rc = channel_parse(text, strlen(text), allow_wildcard, out, cause, sizeof(cause));
    if (rc < 0 && cause[0] == '\0')
        return -1000; /* a refusal must always say why */
    return rc;
}

static int valid(const char *text, int allow_wildcard)
{
    struct channel c;
    return parse(text, allow_wildcard, &c) == 0;
}

/* A segment of n characters: letters, a digit and '-' inside. */
static void make_segment(char *out, size_t n, char first)
{
    for (size_t i = 0; i < n; i++)
        out[i] = i == 0 ? first : (i == n - 1 ? '9' : (i % 3 == 0 ? '-' : 'x'));
    if (n == 1)
        out[0] = first;
    out[n] = '\0';
}

/* "/" + count segments of seg_len characters each, joined with '/'. */
static void make_channel(char *out, size_t count, size_t seg_len)
{
    char seg[128];
    out[0] = '\0';
    for (size_t i = 0; i < count; i++) {
        make_segment(seg, seg_len, (char)('a' + i));
        strcat(out, "/");
        strcat(out, seg);
    }
}

TEST(test_valid_channels)
{
    static const char *const ok[] = {
        "/default/channel", "default/channel", "/a",     "a",     "/0",   "/A/B/C/D/E",
        "a/b/c/d/e",        "/ns-1/Room-2",    "/a-b-c", "/a--b", "/9-z", "/UPPER/lower/123",
    };
    for (size_t i = 0; i < COUNT(ok); i++) {
        if (!valid(ok[i], 0) || !valid(ok[i], 1)) {
            fprintf(stderr, "  rejected valid channel \"%s\"\n", ok[i]);
            CHECK(!"valid channel rejected");
        }
    }
}

TEST(test_invalid_channels)
{
    static const char *const bad[] = {
        "",          "/",      "//",      "/ns/",    "ns/",        "/ns//a", "//ns",
        "/-a",       "/a-",    "/-",      "/ns/-x",  "/ns/x-",     "/a_b",   "/a.b",
        "/a b",      "/a+b",   "/a:b",    "/a\\b",   "/ns/a b",    " /ns",   "/ns ",
        "/\303\251", "/ns/\t", "/ns/a?x", "/ns/a#x", "/ns/a/../b",
    };
    for (size_t i = 0; i < COUNT(bad); i++) {
        struct channel c;
        int rc = parse(bad[i], 1, &c);
        if (rc != -EINVAL || valid(bad[i], 0)) {
            fprintf(stderr, "  accepted invalid channel \"%s\" (rc %d)\n", bad[i], rc);
            CHECK(!"invalid channel accepted");
        }
    }
}

TEST(test_embedded_nul_rejected)
{
    struct channel c;
    char cause[128];
    CHECK_INT(channel_parse("/ns/a\0b", 7, 0, &c, cause, sizeof(cause)), -EINVAL);
    CHECK_INT(channel_parse("/ns\0", 4, 0, &c, cause, sizeof(cause)), -EINVAL);
    /* Only len bytes are read: a longer buffer is cut, not scanned to NUL. */
    CHECK_INT(channel_parse("/ns/abc", 5, 0, &c, cause, sizeof(cause)), 0);
    CHECK_STR(c.path, "/ns/a");
}

TEST(test_segment_length_limit)
{
    char text[512];
    char seg[64];
    make_segment(seg, 50, 'n');
    snprintf(text, sizeof(text), "/%s", seg);
    CHECK(valid(text, 0));
    snprintf(text, sizeof(text), "/ns/%s/x", seg);
    CHECK(valid(text, 0));
    make_segment(seg, 51, 'n');
    snprintf(text, sizeof(text), "/%s", seg);
    CHECK(!valid(text, 0));
    snprintf(text, sizeof(text), "/ns/%s", seg);
    CHECK(!valid(text, 0));
    snprintf(text, sizeof(text), "/ns/%s/*", seg);
    CHECK(!valid(text, 1));
}

TEST(test_segment_count_limit)
{
    CHECK(valid("/a/b/c/d/e", 0));
    CHECK(!valid("/a/b/c/d/e/f", 0));
    CHECK(!valid("/a/b/c/d/e/f", 1));
    CHECK(!valid("/a/b/c/d/e/f/g/h/i/j", 0));
    struct channel c;
    CHECK_INT(parse("/a/b/c/d/e", 0, &c), 0);
    CHECK_INT(c.segment_count, 5);
    CHECK_INT(parse("a", 0, &c), 0);
    CHECK_INT(c.segment_count, 1);
}

TEST(test_longest_channel)
{
    /* 5 segments of 50 characters: the longest valid channel. */
    char text[600];
    make_channel(text, 5, 50);
    CHECK_INT(strlen(text), 255);
    struct channel c;
    CHECK_INT(parse(text, 0, &c), 0);
    CHECK_STR(c.path, text);
    CHECK_INT(c.segment_count, 5);
    CHECK_INT(parse(text + 1, 0, &c), 0); /* without the leading '/' */
    CHECK_STR(c.path, text);
    /* One character or one segment more is refused. */
    make_channel(text, 5, 51);
    CHECK(!valid(text, 0));
    make_channel(text, 6, 50);
    CHECK(!valid(text, 0));
    make_channel(text, 6, 1);
    CHECK(!valid(text, 0));
}

TEST(test_very_long_input_rejected)
{
    static char text[5000];
    memset(text, 'a', sizeof(text) - 1);
    CHECK(!valid(text, 0));
    for (size_t i = 1; i < sizeof(text) - 1; i += 2)
        text[i] = '/';
    CHECK(!valid(text, 1));
}

TEST(test_wildcard_rules)
{
    struct channel c;
    CHECK_INT(parse("/ns/*", 1, &c), 0);
    CHECK_INT(c.wildcard, 1);
    CHECK_INT(c.segment_count, 2);
    CHECK_STR(c.path, "/ns/*");
    CHECK_INT(parse("ns/a/*", 1, &c), 0);
    CHECK_STR(c.path, "/ns/a/*");
    CHECK_INT(c.segment_count, 3);
    /* The '*' counts as a segment: 4 + '*' is the deepest wildcard. */
    CHECK(valid("/a/b/c/d/*", 1));
    CHECK(!valid("/a/b/c/d/e/*", 1));
    /* Only subscriptions may use it. */
    CHECK_INT(parse("/ns/*", 0, &c), -EINVAL);
    CHECK_INT(parse("/ns/a/*", 0, &c), -EINVAL);
    /* Only alone, as the last segment, after a namespace. */
    static const char *const bad[] = {
        "*",    "/*",     "/ns/*/a", "/*/a",   "/ns/**", "/ns/a*", "/ns/*a",
        "/ns*", "/ns/*/", "/ns/*/*", "/n*s/a", "/ns/ *", "/ns/*-", "/ns//*",
    };
    for (size_t i = 0; i < COUNT(bad); i++) {
        if (valid(bad[i], 1)) {
            fprintf(stderr, "  accepted invalid wildcard \"%s\"\n", bad[i]);
            CHECK(!"invalid wildcard accepted");
        }
    }
    CHECK_INT(parse("/ns/a", 1, &c), 0);
    CHECK_INT(c.wildcard, 0);
}

TEST(test_longest_wildcard)
{
    char text[600];
    make_channel(text, 4, 50);
    strcat(text, "/*");
    struct channel c;
    CHECK_INT(parse(text, 1, &c), 0);
    CHECK_STR(c.path, text);
    CHECK_INT(c.segment_count, 5);
    CHECK_INT(c.wildcard, 1);
}

TEST(test_normal_form)
{
    struct channel a, b;
    CHECK_INT(parse("default/room", 0, &a), 0);
    CHECK_INT(parse("/default/room", 0, &b), 0);
    CHECK_STR(a.path, "/default/room");
    CHECK_STR(b.path, "/default/room");
    CHECK_INT(a.segment_count, 2);
    CHECK_INT(a.wildcard, 0);
    /* Case is preserved, not folded. */
    CHECK_INT(parse("Default/Room", 0, &a), 0);
    CHECK_STR(a.path, "/Default/Room");
}

TEST(test_namespace)
{
    struct channel c;
    char ns[CHANNEL_MAX_SEGMENT_LENGTH + 1];
    CHECK_INT(parse("/myns/a/b", 0, &c), 0);
    CHECK_INT(c.namespace_length, 4);
    channel_namespace(&c, ns);
    CHECK_STR(ns, "myns");
    CHECK_INT(parse("solo", 0, &c), 0);
    channel_namespace(&c, ns);
    CHECK_STR(ns, "solo");
    CHECK_INT(parse("ns/*", 1, &c), 0);
    channel_namespace(&c, ns);
    CHECK_STR(ns, "ns");
    char seg[64], text[128];
    make_segment(seg, 50, 'q');
    snprintf(text, sizeof(text), "%s/x", seg);
    CHECK_INT(parse(text, 0, &c), 0);
    channel_namespace(&c, ns);
    CHECK_STR(ns, seg);
}

TEST(test_cause_is_written)
{
    struct channel c;
    char cause[160] = "";
    CHECK_INT(channel_parse("/a/b/c/d/e/f", 12, 0, &c, cause, sizeof(cause)), -EINVAL);
    CHECK(cause[0] != '\0');
    cause[0] = '\0';
    CHECK_INT(channel_parse("/ns/*", 5, 0, &c, cause, sizeof(cause)), -EINVAL);
    CHECK(cause[0] != '\0');
    /* A small cause buffer is truncated, never overrun. */
    char tiny[4] = "xyz";
    CHECK_INT(channel_parse("/a_b", 4, 0, &c, tiny, sizeof(tiny)), -EINVAL);
    CHECK_INT(strlen(tiny), 3);
}

/* Whether subscription sub receives a publish to pub. */
static int matches(const char *sub, const char *pub)
{
    struct channel s, p;
    if (parse(sub, 1, &s) < 0 || parse(pub, 0, &p) < 0) {
        fprintf(stderr, "  bad fixture %s / %s\n", sub, pub);
        return -1;
    }
    return channel_matches(&s, &p);
}

TEST(test_exact_matching)
{
    CHECK_INT(matches("/ns/a", "/ns/a"), 1);
    CHECK_INT(matches("ns/a", "/ns/a"), 1);
    CHECK_INT(matches("/ns/a", "ns/a"), 1);
    CHECK_INT(matches("/ns/a", "/ns/b"), 0);
    CHECK_INT(matches("/ns/a", "/ns/a/b"), 0);
    CHECK_INT(matches("/ns/a/b", "/ns/a"), 0);
    CHECK_INT(matches("/ns", "/ns/a"), 0);
    CHECK_INT(matches("/ns/a", "/ns/ab"), 0);
    CHECK_INT(matches("/ns/ab", "/ns/a"), 0);
    CHECK_INT(matches("/ns/a", "/NS/a"), 0);
    CHECK_INT(matches("/ns/a", "/other/a"), 0);
}

TEST(test_wildcard_matching)
{
    CHECK_INT(matches("/ns/*", "/ns/a"), 1);
    CHECK_INT(matches("/ns/*", "/ns/a/b"), 1);
    CHECK_INT(matches("/ns/*", "/ns/a/b/c/d"), 1);
    CHECK_INT(matches("ns/*", "ns/x"), 1);
    /* Strictly below the prefix: not the prefix itself. */
    CHECK_INT(matches("/ns/*", "/ns"), 0);
    CHECK_INT(matches("/ns/a/*", "/ns/a"), 0);
    /* Whole segments only. */
    CHECK_INT(matches("/ns/*", "/nsx/a"), 0);
    CHECK_INT(matches("/ns/*", "/n/a"), 0);
    CHECK_INT(matches("/ns/a/*", "/ns/ab"), 0);
    CHECK_INT(matches("/ns/a/*", "/ns/ab/c"), 0);
    CHECK_INT(matches("/ns/a/*", "/ns/a-b/c"), 0);
    CHECK_INT(matches("/ns/*", "/other/a"), 0);
    CHECK_INT(matches("/ns/*", "/NS/a"), 0);
}

TEST(test_deep_wildcard_matching)
{
    CHECK_INT(matches("/a/b/c/d/*", "/a/b/c/d/e"), 1);
    CHECK_INT(matches("/a/b/c/*", "/a/b/c/d/e"), 1);
    CHECK_INT(matches("/a/b/*", "/a/b/c/d/e"), 1);
    CHECK_INT(matches("/a/*", "/a/b/c/d/e"), 1);
    CHECK_INT(matches("/a/b/c/d/*", "/a/b/c/d"), 0);
    CHECK_INT(matches("/a/b/c/d/*", "/a/b/c/dd/e"), 0);
    CHECK_INT(matches("/a/b/x/*", "/a/b/c/d/e"), 0);
    /* Long segments at the limit. */
    char seg[64], sub[256], pub[256];
    make_segment(seg, 50, 'k');
    snprintf(sub, sizeof(sub), "/%s/%s/*", seg, seg);
    snprintf(pub, sizeof(pub), "/%s/%s/%s", seg, seg, seg);
    CHECK_INT(matches(sub, pub), 1);
    snprintf(pub, sizeof(pub), "/%s/%s", seg, seg);
    CHECK_INT(matches(sub, pub), 0);
}

RUN_TESTS("channel", TEST_ENTRY(test_valid_channels), TEST_ENTRY(test_invalid_channels),
          TEST_ENTRY(test_embedded_nul_rejected), TEST_ENTRY(test_segment_length_limit),
          TEST_ENTRY(test_segment_count_limit), TEST_ENTRY(test_longest_channel),
          TEST_ENTRY(test_very_long_input_rejected), TEST_ENTRY(test_wildcard_rules),
          TEST_ENTRY(test_longest_wildcard), TEST_ENTRY(test_normal_form),
          TEST_ENTRY(test_namespace), TEST_ENTRY(test_cause_is_written),
          TEST_ENTRY(test_exact_matching), TEST_ENTRY(test_wildcard_matching),
          TEST_ENTRY(test_deep_wildcard_matching))
