/* Unit tests for core/buf: the growable byte buffer every module builds on. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/buf.h"
#include "test.h"

static int buf_equals(const struct buf *b, const char *expected, size_t len)
{
    return buf_length(b) == len && (len == 0 || memcmp(buf_bytes(b), expected, len) == 0);
}

TEST(test_init_is_empty)
{
    struct buf a = BUF_INIT;
    struct buf b;
    memset(&b, 0xAB, sizeof(b));
    buf_init(&b);
    CHECK_INT(buf_length(&a), 0);
    CHECK_INT(buf_length(&b), 0);
    CHECK(b.data == NULL);
    CHECK_INT(b.cap, 0);
    buf_free(&a);
    buf_free(&b);
}

TEST(test_append_variants)
{
    struct buf b = BUF_INIT;
    CHECK_INT(buf_append(&b, "abc", 3), 0);
    CHECK_INT(buf_append_str(&b, "def"), 0);
    CHECK_INT(buf_append_char(&b, 'g'), 0);
    CHECK_INT(buf_append(&b, "ignored", 0), 0);
    CHECK_INT(buf_append_str(&b, ""), 0);
    CHECK(buf_equals(&b, "abcdefg", 7));
    /* Binary content, including NUL bytes, is kept as is. */
    CHECK_INT(buf_append(&b, "\0x\0", 3), 0);
    CHECK(buf_equals(&b, "abcdefg\0x\0", 10));
    buf_free(&b);
    CHECK(b.data == NULL);
    CHECK_INT(buf_length(&b), 0);
}

TEST(test_append_grows_past_initial_capacity)
{
    struct buf b = BUF_INIT;
    char expected[10000];
    for (size_t i = 0; i < sizeof(expected); i++) {
        expected[i] = (char)('a' + i % 26);
        CHECK_INT(buf_append_char(&b, expected[i]), 0);
    }
    CHECK(buf_equals(&b, expected, sizeof(expected)));
    CHECK(b.cap >= sizeof(expected));
    buf_free(&b);
}

TEST(test_consume_partial_and_all)
{
    struct buf b = BUF_INIT;
    buf_append_str(&b, "hello world");
    buf_consume(&b, 6);
    CHECK(buf_equals(&b, "world", 5));
    buf_consume(&b, 0);
    CHECK(buf_equals(&b, "world", 5));
    buf_append_str(&b, "!");
    CHECK(buf_equals(&b, "world!", 6));
    buf_consume(&b, 6);
    CHECK_INT(buf_length(&b), 0);
    /* Consuming more than is there just empties the buffer. */
    buf_append_str(&b, "xy");
    buf_consume(&b, 100);
    CHECK_INT(buf_length(&b), 0);
    buf_append_str(&b, "again");
    CHECK(buf_equals(&b, "again", 5));
    buf_free(&b);
}

TEST(test_reserve)
{
    struct buf b = BUF_INIT;
    CHECK_INT(buf_reserve(&b, 0), 0);
    CHECK_INT(buf_reserve(&b, 1000), 0);
    CHECK(b.cap >= 1000);
    char *before = b.data;
    size_t cap = b.cap;
    /* Room already reserved is used without reallocating. */
    for (int i = 0; i < 1000; i++)
        buf_append_char(&b, 'x');
    CHECK(b.data == before);
    CHECK_INT(b.cap, cap);
    CHECK_INT(buf_reserve(&b, 5000), 0);
    CHECK(b.cap - b.len >= 5000);
    CHECK_INT(buf_length(&b), 1000);
    for (size_t i = 0; i < buf_length(&b); i++)
        if (buf_bytes(&b)[i] != 'x') {
            CHECK(!"content changed by reserve");
            break;
        }
    /* A size that cannot be represented is refused, not wrapped around. */
    CHECK(buf_reserve(&b, SIZE_MAX) < 0);
    CHECK_INT(buf_length(&b), 1000);
    buf_free(&b);
}

TEST(test_compaction_keeps_content)
{
    struct buf b = BUF_INIT;
    char chunk[200];
    for (size_t i = 0; i < sizeof(chunk); i++)
        chunk[i] = (char)('A' + i % 26);
    buf_append(&b, chunk, sizeof(chunk));
    size_t cap = b.cap;
    char *data = b.data;
    buf_consume(&b, 150);
    /* Needs more than the tail room but fits once the consumed prefix is
     * reclaimed, so the buffer compacts in place instead of growing. */
    size_t extra = cap - b.len + 10;
    char more[512];
    for (size_t i = 0; i < extra; i++)
        more[i] = (char)('a' + i % 26);
    CHECK_INT(buf_append(&b, more, extra), 0);
    CHECK(b.data == data);
    CHECK_INT(b.cap, cap);
    CHECK_INT(b.start, 0);
    CHECK_INT(buf_length(&b), 50 + extra);
    CHECK(memcmp(buf_bytes(&b), chunk + 150, 50) == 0);
    CHECK(memcmp(buf_bytes(&b) + 50, more, extra) == 0);
    buf_free(&b);
}

TEST(test_growth_with_consumed_prefix_keeps_content)
{
    struct buf b = BUF_INIT;
    char chunk[200];
    for (size_t i = 0; i < sizeof(chunk); i++)
        chunk[i] = (char)('0' + i % 10);
    buf_append(&b, chunk, sizeof(chunk));
    buf_consume(&b, 10); /* too little consumed to compact: must grow */
    char big[1000];
    memset(big, 'z', sizeof(big));
    CHECK_INT(buf_append(&b, big, sizeof(big)), 0);
    CHECK_INT(buf_length(&b), 190 + sizeof(big));
    CHECK(memcmp(buf_bytes(&b), chunk + 10, 190) == 0);
    CHECK(memcmp(buf_bytes(&b) + 190, big, sizeof(big)) == 0);
    buf_free(&b);
}

/* A tiny deterministic generator so the model test is reproducible. */
static uint32_t next_random(uint32_t *state)
{
    *state = *state * 1103515245u + 12345u;
    return *state >> 8;
}

TEST(test_random_operations_match_model)
{
    struct buf b = BUF_INIT;
    static char model[1 << 16];
    size_t model_len = 0;
    uint32_t seed = 12345;
    for (int step = 0; step < 20000; step++) {
        uint32_t r = next_random(&seed);
        if (r % 3 != 0 && model_len < sizeof(model) - 600) {
            char tmp[600];
            size_t n = next_random(&seed) % sizeof(tmp);
            for (size_t i = 0; i < n; i++)
                tmp[i] = (char)next_random(&seed);
            CHECK_INT(buf_append(&b, tmp, n), 0);
            memcpy(model + model_len, tmp, n);
            model_len += n;
        } else {
            size_t n = model_len ? next_random(&seed) % (model_len + 1) : 0;
            buf_consume(&b, n);
            memmove(model, model + n, model_len - n);
            model_len -= n;
        }
        if (!buf_equals(&b, model, model_len)) {
            CHECK(!"buffer diverged from the model");
            break;
        }
    }
    buf_free(&b);
}

TEST(test_printf)
{
    struct buf b = BUF_INIT;
    CHECK_INT(buf_printf(&b, "%d-%s", 42, "x"), 0);
    CHECK_INT(buf_printf(&b, "%s", ""), 0);
    CHECK_INT(buf_printf(&b, "/%zu/%c", (size_t)7, 'q'), 0);
    CHECK(buf_equals(&b, "42-x/7/q", 8));
    /* The NUL vsnprintf writes is not counted as content. */
    CHECK_INT(buf_length(&b), 8);
    char long_arg[1000];
    memset(long_arg, 'L', sizeof(long_arg) - 1);
    long_arg[sizeof(long_arg) - 1] = '\0';
    CHECK_INT(buf_printf(&b, "[%s]", long_arg), 0);
    CHECK_INT(buf_length(&b), 8 + 2 + 999);
    CHECK(buf_bytes(&b)[8] == '[');
    CHECK(buf_bytes(&b)[buf_length(&b) - 1] == ']');
    buf_free(&b);
}

TEST(test_printf_after_consume)
{
    struct buf b = BUF_INIT;
    buf_append_str(&b, "drop me|");
    buf_consume(&b, 8);
    CHECK_INT(buf_printf(&b, "%s=%d", "n", 5), 0);
    CHECK(buf_equals(&b, "n=5", 3));
    buf_free(&b);
}

TEST(test_terminate)
{
    struct buf b = BUF_INIT;
    CHECK_INT(buf_terminate(&b), 0);
    CHECK_INT(buf_length(&b), 0);
    CHECK_STR(buf_bytes(&b), "");
    buf_append_str(&b, "abc");
    CHECK_INT(buf_terminate(&b), 0);
    CHECK_INT(buf_length(&b), 3);
    CHECK_STR(buf_bytes(&b), "abc");
    buf_append_str(&b, "def"); /* overwrites the terminator */
    CHECK(buf_equals(&b, "abcdef", 6));
    buf_free(&b);
}

TEST(test_steal)
{
    struct buf b = BUF_INIT;
    buf_append_str(&b, "prefix:payload");
    buf_consume(&b, 7);
    size_t len = 0;
    char *s = buf_steal(&b, &len);
    CHECK_STR(s, "payload");
    CHECK_INT(len, 7);
    CHECK(b.data == NULL);
    CHECK_INT(buf_length(&b), 0);
    free(s);
    /* The buffer is usable again after giving its storage away. */
    buf_append_str(&b, "next");
    s = buf_steal(&b, NULL);
    CHECK_STR(s, "next");
    free(s);
    buf_free(&b);
}

TEST(test_steal_empty)
{
    struct buf b = BUF_INIT;
    size_t len = 99;
    char *s = buf_steal(&b, &len);
    CHECK(s != NULL);
    CHECK_STR(s, "");
    CHECK_INT(len, 0);
    free(s);
    buf_free(&b);
}

TEST(test_reset_keeps_storage)
{
    struct buf b = BUF_INIT;
    buf_append_str(&b, "some content");
    buf_consume(&b, 2);
    char *data = b.data;
    size_t cap = b.cap;
    buf_reset(&b);
    CHECK_INT(buf_length(&b), 0);
    CHECK(b.data == data);
    CHECK_INT(b.cap, cap);
    buf_append_str(&b, "new");
    CHECK(buf_equals(&b, "new", 3));
    CHECK(b.data == data);
    buf_free(&b);
}

TEST(test_read_file_with_cap)
{
    char path[] = "/tmp/tether-buf-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK_INT(write(fd, "0123456789", 10), 10);
    close(fd);
    struct buf b = BUF_INIT;
    CHECK_INT(buf_read_file(&b, path, 10), 0);
    CHECK_INT(buf_length(&b), 10);
    CHECK(memcmp(buf_bytes(&b), "0123456789", 10) == 0);
    buf_reset(&b);
    CHECK_INT(buf_read_file(&b, path, 9), -EFBIG); /* one byte over the cap */
    CHECK_INT(buf_read_file(&b, "/nonexistent/tether-buf", 10), -ENOENT);
    buf_free(&b);
    unlink(path);
}

RUN_TESTS("buf", TEST_ENTRY(test_init_is_empty), TEST_ENTRY(test_append_variants),
          TEST_ENTRY(test_append_grows_past_initial_capacity),
          TEST_ENTRY(test_consume_partial_and_all), TEST_ENTRY(test_reserve),
          TEST_ENTRY(test_compaction_keeps_content),
          TEST_ENTRY(test_growth_with_consumed_prefix_keeps_content),
          TEST_ENTRY(test_random_operations_match_model), TEST_ENTRY(test_printf),
          TEST_ENTRY(test_printf_after_consume), TEST_ENTRY(test_terminate), TEST_ENTRY(test_steal),
          TEST_ENTRY(test_steal_empty), TEST_ENTRY(test_reset_keeps_storage),
          TEST_ENTRY(test_read_file_with_cap))
