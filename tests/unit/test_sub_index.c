/* Unit tests for events/sub_index: the channel -> subscriptions routing table. */
#include <stddef.h>
#include <stdio.h>

#include "events/channel.h"
#include "events/sub_index.h"
#include "test.h"

/* A subscriber as the broker would embed the entry. */
struct sub {
    int id;
    struct sub_entry entry;
};

#define MAX_SEEN 4096

struct seen {
    int ids[MAX_SEEN];
    size_t count;
};

static void record(struct sub_entry *entry, void *ctx)
{
    struct seen *seen = ctx;
    struct sub *s = (struct sub *)((char *)entry - offsetof(struct sub, entry));
    if (seen->count < MAX_SEEN)
        seen->ids[seen->count] = s->id;
    seen->count++;
}

static int seen_has(const struct seen *seen, int id)
{
    for (size_t i = 0; i < seen->count && i < MAX_SEEN; i++)
        if (seen->ids[i] == id)
            return 1;
    return 0;
}

/* Matches pub and returns how many were visited; the ids land in seen. */
static size_t match(struct sub_index *index, const char *pub, struct seen *seen)
{
    struct channel c;
    char cause[128];
    memset(seen, 0, sizeof(*seen));
    if (channel_parse(pub, strlen(pub), 0, &c, cause, sizeof(cause)) < 0) {
        fprintf(stderr, "  bad fixture %s: %s\n", pub, cause);
        return (size_t)-1;
    }
    size_t n = sub_index_match(index, &c, record, seen);
    if (n != seen->count)
        return (size_t)-2; /* the count returned must be the visits made */
    return n;
}

TEST(test_empty_index)
{
    struct sub_index index;
    CHECK_INT(sub_index_init(&index), 0);
    CHECK_INT(index.map.count, 0);
    struct seen seen;
    CHECK_INT(match(&index, "/ns/a/b", &seen), 0);
    sub_index_free(&index);
}

TEST(test_exact_match)
{
    struct sub_index index;
    sub_index_init(&index);
    struct sub a = {1, {0}}, b = {2, {0}}, c = {3, {0}};
    CHECK_INT(sub_index_add(&index, "/ns/a", &a.entry), 0);
    CHECK_INT(sub_index_add(&index, "/ns/b", &b.entry), 0);
    CHECK_INT(sub_index_add(&index, "/ns", &c.entry), 0);
    CHECK_INT(index.map.count, 3);
    struct seen seen;
    CHECK_INT(match(&index, "/ns/a", &seen), 1);
    CHECK(seen_has(&seen, 1));
    CHECK_INT(match(&index, "ns/b", &seen), 1);
    CHECK(seen_has(&seen, 2));
    CHECK_INT(match(&index, "/ns", &seen), 1);
    CHECK(seen_has(&seen, 3));
    CHECK_INT(match(&index, "/ns/c", &seen), 0);
    CHECK_INT(match(&index, "/ns/a/b", &seen), 0);
    CHECK_INT(match(&index, "/ns/ab", &seen), 0);
    CHECK_INT(match(&index, "/NS/a", &seen), 0);
    sub_index_remove(&index, &a.entry);
    sub_index_remove(&index, &b.entry);
    sub_index_remove(&index, &c.entry);
    CHECK_INT(index.map.count, 0);
    sub_index_free(&index);
}

TEST(test_wildcard_at_every_depth)
{
    struct sub_index index;
    sub_index_init(&index);
    static const char *const keys[] = {"/a/*", "/a/b/*", "/a/b/c/*", "/a/b/c/d/*", "/a/b/c/d/e"};
    struct sub subs[5];
    for (int i = 0; i < 5; i++) {
        subs[i].id = i;
        CHECK_INT(sub_index_add(&index, keys[i], &subs[i].entry), 0);
    }
    struct seen seen;
    CHECK_INT(match(&index, "/a/b/c/d/e", &seen), 5);
    for (int i = 0; i < 5; i++)
        CHECK(seen_has(&seen, i));
    CHECK_INT(match(&index, "/a/b/c/d", &seen), 3);
    CHECK(seen_has(&seen, 0) && seen_has(&seen, 1) && seen_has(&seen, 2));
    CHECK_INT(match(&index, "/a/b/c", &seen), 2);
    CHECK(seen_has(&seen, 0) && seen_has(&seen, 1));
    CHECK_INT(match(&index, "/a/b", &seen), 1);
    CHECK(seen_has(&seen, 0));
    /* A wildcard never matches its own prefix. */
    CHECK_INT(match(&index, "/a", &seen), 0);
    CHECK_INT(match(&index, "/a/x/c/d/e", &seen), 1);
    CHECK(seen_has(&seen, 0));
    CHECK_INT(match(&index, "/b/b/c/d/e", &seen), 0);
    for (int i = 0; i < 5; i++)
        sub_index_remove(&index, &subs[i].entry);
    CHECK_INT(index.map.count, 0);
    sub_index_free(&index);
}

TEST(test_no_partial_segment_match)
{
    struct sub_index index;
    sub_index_init(&index);
    struct sub s = {7, {0}};
    sub_index_add(&index, "/ns/a/*", &s.entry);
    struct seen seen;
    CHECK_INT(match(&index, "/ns/ab", &seen), 0);
    CHECK_INT(match(&index, "/ns/ab/c", &seen), 0);
    CHECK_INT(match(&index, "/ns/a", &seen), 0);
    CHECK_INT(match(&index, "/ns/a/b", &seen), 1);
    CHECK_INT(match(&index, "/ns/a/b/c/d", &seen), 1);
    sub_index_remove(&index, &s.entry);
    sub_index_free(&index);
}

TEST(test_many_subscribers_on_one_key)
{
    struct sub_index index;
    sub_index_init(&index);
    static struct sub subs[100];
    for (int i = 0; i < 100; i++) {
        subs[i].id = i;
        CHECK_INT(sub_index_add(&index, i % 2 ? "/chat/*" : "/chat/room", &subs[i].entry), 0);
    }
    CHECK_INT(index.map.count, 2);
    struct seen seen;
    CHECK_INT(match(&index, "/chat/room", &seen), 100);
    CHECK_INT(match(&index, "/chat/other", &seen), 50);
    /* Removing from the head, the middle and the tail of a bucket's list. */
    sub_index_remove(&index, &subs[98].entry);
    sub_index_remove(&index, &subs[50].entry);
    sub_index_remove(&index, &subs[0].entry);
    CHECK_INT(match(&index, "/chat/room", &seen), 97);
    CHECK(!seen_has(&seen, 0) && !seen_has(&seen, 50) && !seen_has(&seen, 98));
    CHECK(seen_has(&seen, 2) && seen_has(&seen, 96) && seen_has(&seen, 99));
    CHECK_INT(index.map.count, 2);
    for (int i = 0; i < 100; i++)
        sub_index_remove(&index, &subs[i].entry); /* removed ones are no-ops */
    CHECK_INT(index.map.count, 0);
    CHECK_INT(match(&index, "/chat/room", &seen), 0);
    sub_index_free(&index);
}

TEST(test_removing_last_entry_frees_bucket)
{
    struct sub_index index;
    sub_index_init(&index);
    struct sub a = {1, {0}}, b = {2, {0}};
    sub_index_add(&index, "/ns/x", &a.entry);
    sub_index_add(&index, "/ns/x", &b.entry);
    CHECK_INT(index.map.count, 1);
    sub_index_remove(&index, &a.entry);
    CHECK_INT(index.map.count, 1);
    CHECK(a.entry.bucket == NULL);
    sub_index_remove(&index, &b.entry);
    CHECK_INT(index.map.count, 0);
    CHECK(b.entry.bucket == NULL);
    /* Removing again does nothing; the key can be added afresh. */
    sub_index_remove(&index, &b.entry);
    CHECK_INT(index.map.count, 0);
    CHECK_INT(sub_index_add(&index, "/ns/x", &a.entry), 0);
    CHECK_INT(index.map.count, 1);
    struct seen seen;
    CHECK_INT(match(&index, "/ns/x", &seen), 1);
    CHECK(seen_has(&seen, 1));
    sub_index_remove(&index, &a.entry);
    CHECK_INT(index.map.count, 0);
    sub_index_free(&index);
}

TEST(test_keys_are_copied)
{
    struct sub_index index;
    sub_index_init(&index);
    char key[32];
    snprintf(key, sizeof(key), "/ns/copy");
    struct sub s = {5, {0}};
    sub_index_add(&index, key, &s.entry);
    memset(key, 'z', sizeof(key) - 1);
    struct seen seen;
    CHECK_INT(match(&index, "/ns/copy", &seen), 1);
    sub_index_remove(&index, &s.entry);
    sub_index_free(&index);
}

#define MANY 3000

TEST(test_growth_keeps_every_entry)
{
    struct sub_index index;
    sub_index_init(&index);
    size_t initial_slots = index.map.slot_count;
    static struct sub exact[MANY], wild[MANY];
    char key[64];
    for (int i = 0; i < MANY; i++) {
        exact[i].id = i;
        wild[i].id = MANY + i;
        snprintf(key, sizeof(key), "/ns/c%d/leaf", i);
        CHECK_INT(sub_index_add(&index, key, &exact[i].entry), 0);
        snprintf(key, sizeof(key), "/ns/c%d/*", i);
        CHECK_INT(sub_index_add(&index, key, &wild[i].entry), 0);
    }
    CHECK_INT(index.map.count, 2 * MANY);
    CHECK(index.map.slot_count > initial_slots);
    CHECK(index.map.slot_count >= index.map.count);
    struct seen seen;
    int bad = 0;
    for (int i = 0; i < MANY && !bad; i++) {
        char pub[64];
        snprintf(pub, sizeof(pub), "/ns/c%d/leaf", i);
        if (match(&index, pub, &seen) != 2 || !seen_has(&seen, i) || !seen_has(&seen, MANY + i))
            bad = 1;
        snprintf(pub, sizeof(pub), "/ns/c%d/other/deep", i);
        if (match(&index, pub, &seen) != 1 || !seen_has(&seen, MANY + i))
            bad = 1;
    }
    CHECK(!bad);
    /* Remove half, check the rest are still routed, then remove the rest. */
    for (int i = 0; i < MANY; i += 2) {
        sub_index_remove(&index, &exact[i].entry);
        sub_index_remove(&index, &wild[i].entry);
    }
    CHECK_INT(index.map.count, MANY);
    CHECK_INT(match(&index, "/ns/c2/leaf", &seen), 0);
    CHECK_INT(match(&index, "/ns/c3/leaf", &seen), 2);
    for (int i = 1; i < MANY; i += 2) {
        sub_index_remove(&index, &exact[i].entry);
        sub_index_remove(&index, &wild[i].entry);
    }
    CHECK_INT(index.map.count, 0);
    sub_index_free(&index);
}

TEST(test_long_channels)
{
    struct sub_index index;
    sub_index_init(&index);
    char seg[51], pub[300], key[300];
    memset(seg, 'w', 50);
    seg[50] = '\0';
    snprintf(pub, sizeof(pub), "/%s/%s/%s/%s/%s", seg, seg, seg, seg, seg);
    snprintf(key, sizeof(key), "/%s/%s/%s/%s/*", seg, seg, seg, seg);
    struct sub a = {1, {0}}, b = {2, {0}};
    sub_index_add(&index, pub, &a.entry);
    sub_index_add(&index, key, &b.entry);
    struct seen seen;
    CHECK_INT(match(&index, pub, &seen), 2);
    sub_index_remove(&index, &a.entry);
    sub_index_remove(&index, &b.entry);
    sub_index_free(&index);
}

RUN_TESTS("sub_index", TEST_ENTRY(test_empty_index), TEST_ENTRY(test_exact_match),
          TEST_ENTRY(test_wildcard_at_every_depth), TEST_ENTRY(test_no_partial_segment_match),
          TEST_ENTRY(test_many_subscribers_on_one_key),
          TEST_ENTRY(test_removing_last_entry_frees_bucket), TEST_ENTRY(test_keys_are_copied),
          TEST_ENTRY(test_growth_keeps_every_entry), TEST_ENTRY(test_long_channels))
