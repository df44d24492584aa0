/* Function logs: line splitting, tails, the platform's lines. */
#include <unistd.h>

#include "lambda/logs.h"
#include "test.h"

struct collected {
    char lines[8][64];
    size_t lengths[8];
    size_t count;
};

static void collect(void *user, const char *line, size_t len)
{
    struct collected *c = user;
    if (c->count < 8) {
        c->lengths[c->count] = len;
        snprintf(c->lines[c->count], sizeof(c->lines[0]), "%.*s", (int)len, line);
        c->count++;
    }
}

TEST(lines_split_across_reads)
{
    struct lambda_line_splitter s;
    struct collected c = {0};
    lambda_lines_init(&s);
    lambda_lines_feed(&s, "one\ntw", 6, collect, &c);
    lambda_lines_feed(&s, "o\r\nthree\n\nfour", 14, collect, &c);
    CHECK_INT(c.count, 4);
    CHECK_STR(c.lines[0], "one");
    CHECK_STR(c.lines[1], "two");
    CHECK_STR(c.lines[2], "three");
    CHECK_STR(c.lines[3], "");
    lambda_lines_flush(&s, collect, &c);
    CHECK_INT(c.count, 5);
    CHECK_STR(c.lines[4], "four");
    lambda_lines_flush(&s, collect, &c);
    CHECK_INT(c.count, 5);
    lambda_lines_free(&s);
}

TEST(overlong_lines_are_cut)
{
    struct lambda_line_splitter s;
    struct collected c = {0};
    lambda_lines_init(&s);
    size_t len = LAMBDA_LOG_MAX_LINE + 10;
    char *data = malloc(len + 1);
    memset(data, 'x', len);
    data[len] = '\n';
    lambda_lines_feed(&s, data, 100, collect, &c);
    lambda_lines_feed(&s, data + 100, len + 1 - 100, collect, &c);
    CHECK_INT(c.count, 2);
    CHECK_INT(c.lengths[0], LAMBDA_LOG_MAX_LINE);
    CHECK_INT(c.lengths[1], 10);
    free(data);
    lambda_lines_free(&s);
}

TEST(tail_keeps_the_last_4k)
{
    struct lambda_log_tail t = {0};
    lambda_log_tail_append(&t, "START\n", 6);
    CHECK_INT(t.len, 6);
    char filler[3000];
    memset(filler, 'a', sizeof(filler));
    lambda_log_tail_append(&t, filler, sizeof(filler));
    memset(filler, 'b', sizeof(filler));
    lambda_log_tail_append(&t, filler, sizeof(filler));
    CHECK_INT(t.len, LAMBDA_LOG_TAIL_BYTES);
    CHECK(t.data[0] == 'a');
    CHECK(t.data[LAMBDA_LOG_TAIL_BYTES - 1] == 'b');
    CHECK(t.data[LAMBDA_LOG_TAIL_BYTES - 3000] == 'b');
    CHECK(t.data[LAMBDA_LOG_TAIL_BYTES - 3001] == 'a');
    char huge[5000];
    memset(huge, 'c', sizeof(huge));
    huge[sizeof(huge) - 1] = 'z';
    lambda_log_tail_append(&t, huge, sizeof(huge));
    CHECK_INT(t.len, LAMBDA_LOG_TAIL_BYTES);
    CHECK(t.data[0] == 'c');
    CHECK(t.data[LAMBDA_LOG_TAIL_BYTES - 1] == 'z');
}

TEST(platform_lines)
{
    struct buf b = BUF_INIT;
    lambda_log_start_line(&b, "id-1");
    buf_terminate(&b);
    CHECK_STR(buf_bytes(&b), "START RequestId: id-1 Version: $LATEST");
    buf_reset(&b);
    lambda_log_end_line(&b, "id-1");
    buf_terminate(&b);
    CHECK_STR(buf_bytes(&b), "END RequestId: id-1");
    buf_reset(&b);
    lambda_log_report_line(&b, "id-1", 12.344, 128, 45, -1, NULL, NULL);
    buf_terminate(&b);
    CHECK_STR(buf_bytes(&b), "REPORT RequestId: id-1\tDuration: 12.34 ms\tBilled Duration: 13 ms"
                             "\tMemory Size: 128 MB\tMax Memory Used: 45 MB");
    buf_reset(&b);
    lambda_log_report_line(&b, "id-2", 1000.5, 256, 60, 150.25, "timeout", "Sandbox.Timedout");
    buf_terminate(&b);
    CHECK_STR(buf_bytes(&b), "REPORT RequestId: id-2\tDuration: 1000.50 ms\tBilled Duration: "
                             "1001 ms\tMemory Size: 256 MB\tMax Memory Used: 60 MB\tInit "
                             "Duration: 150.25 ms\tStatus: timeout\tError Type: Sandbox.Timedout");
    buf_free(&b);
}

TEST(billed_duration_rounds_up)
{
    CHECK_INT(lambda_billed_ms(0.0), 1);
    CHECK_INT(lambda_billed_ms(0.2), 1);
    CHECK_INT(lambda_billed_ms(1.0), 1);
    CHECK_INT(lambda_billed_ms(1.01), 2);
    CHECK_INT(lambda_billed_ms(999.999), 1000);
}

TEST(memory_of_own_group)
{
    /* This process's group holds at least this process. */
    CHECK(lambda_process_group_peak_kb(getpgrp()) > 0);
    CHECK_INT(lambda_process_group_peak_kb(999999999), 0);
}

RUN_TESTS("test_lambda_logs", TEST_ENTRY(lines_split_across_reads),
          TEST_ENTRY(overlong_lines_are_cut), TEST_ENTRY(tail_keeps_the_last_4k),
          TEST_ENTRY(platform_lines), TEST_ENTRY(billed_duration_rounds_up),
          TEST_ENTRY(memory_of_own_group))
