/* dev/inspector_store: bounded by count and bytes (oldest dropped first, in
 * memory and in .tether/log/), bodies kept whole up to the Lambda limit,
 * replays linked to their original, log lines tied to their request, the
 * Next's function ARN kept only when it is one. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/private_file.h"
#include "dev/inspector_store.h"
#include "lambda/invoke_client.h"
#include "test.h"

static char root[64];
static char cause[512];

static void add(struct inspector_store *s, const char *id, const char *function, const char *event,
                size_t event_len)
{
    struct dev_invocation_report r = {
        .function = function,
        .request_id = id,
        .worker = "w1",
        .source = "invoke",
        .success = 1,
        .event = event,
        .event_len = event_len,
        .answer = "{\"ok\":true}",
        .answer_len = 11,
        .duration_ms = 1.5,
    };
    CHECK(inspector_store_add(s, &r) != NULL);
}

static void count_file(void *user, const char *name)
{
    (void)name;
    (*(int *)user)++;
}

static int record_count(void)
{
    int n = 0;
    CHECK_INT(private_dir_list(root, "log", count_file, &n, cause, sizeof(cause)), 0);
    return n;
}

TEST(keeps_the_newest_by_count_in_memory_and_on_disk)
{
    struct inspector_store *s;
    snprintf(root, sizeof(root), "/tmp/tether-store-XXXXXX");
    CHECK(mkdtemp(root) != NULL);
    CHECK_INT(inspector_store_new(3, 1 << 20, &s), 0);
    CHECK_INT(inspector_store_keep_records(s, root, cause, sizeof(cause)), 0);
    char id[32];
    for (int i = 0; i < 10; i++) {
        snprintf(id, sizeof(id), "req-%d", i);
        add(s, id, "Api", "{}", 2);
    }
    CHECK_INT(inspector_store_count(s), 3);
    CHECK_STR(inspector_store_at(s, 0)->id, "req-7");
    CHECK_STR(inspector_store_at(s, 2)->id, "req-9");
    CHECK(inspector_store_find(s, "req-6") == NULL);
    CHECK_INT(record_count(), 3);
    inspector_store_free(s);
    /* A new run with a smaller limit prunes the records left by the last. */
    CHECK_INT(inspector_store_new(2, 1 << 20, &s), 0);
    CHECK_INT(inspector_store_keep_records(s, root, cause, sizeof(cause)), 0);
    CHECK_INT(record_count(), 2);
    inspector_store_free(s);
    char command[128];
    snprintf(command, sizeof(command), "rm -rf %s", root);
    CHECK_INT(system(command), 0);
}

TEST(keeps_within_bytes_and_bodies_whole_up_to_the_payload_limit)
{
    struct inspector_store *s;
    size_t big = 1u << 20;
    char *event = malloc(INSPECTOR_MAX_BODY + 1);
    CHECK(event != NULL);
    memset(event, 'a', INSPECTOR_MAX_BODY + 1);
    CHECK_INT(inspector_store_new(100, 3 * big + big / 2, &s), 0);
    add(s, "a", "Api", event, big);
    add(s, "b", "Api", event, big);
    add(s, "c", "Api", event, big);
    add(s, "d", "Api", event, big);
    CHECK_INT(inspector_store_count(s), 3);
    CHECK_STR(inspector_store_at(s, 0)->id, "b");
    CHECK(inspector_store_bytes(s) <= 3 * big + big / 2);
    CHECK_INT(buf_length(&inspector_store_at(s, 2)->event), big);
    inspector_store_free(s);
    CHECK_INT(inspector_store_new(4, 64u << 20, &s), 0);
    add(s, "whole", "Api", event, INSPECTOR_MAX_BODY);
    add(s, "over", "Api", event, INSPECTOR_MAX_BODY + 1);
    CHECK_INT(buf_length(&inspector_store_find(s, "whole")->event), INSPECTOR_MAX_BODY);
    const struct inspector_entry *over = inspector_store_find(s, "over");
    CHECK(strstr(buf_bytes(&over->event), "\"omitted\":true") != NULL);
    inspector_store_free(s);
    free(event);
}

TEST(replay_linked_to_its_original)
{
    struct inspector_store *s;
    char id[INSPECTOR_ID_SIZE];
    CHECK_INT(inspector_store_new(10, 1 << 20, &s), 0);
    add(s, "first", "Api", "{\"n\":1}", 7);
    uint64_t ticket = inspector_store_expect_replay(s, "first", "Api", "{\"n\":2}", 7);
    CHECK(ticket != 0);
    add(s, "other", "Api", "{\"n\":3}", 7); /* another event: not the replay */
    add(s, "again", "Api", "{\"n\":2}", 7);
    CHECK_STR(inspector_store_find(s, "other")->replay_of, "");
    CHECK_STR(inspector_store_find(s, "again")->replay_of, "first");
    inspector_store_replay_result(s, ticket, id, sizeof(id));
    CHECK_STR(id, "again");
    inspector_store_replay_result(s, ticket, id, sizeof(id));
    CHECK_STR(id, ""); /* the ticket is gone */
    inspector_store_free(s);
}

/* Two requests of one function running at once (two sandboxes): each line
 * goes to the request whose sandbox printed it, whatever started last. */
static void line(struct inspector_store *s, const char *id, const char *text)
{
    inspector_store_log_line(s, id, text, strlen(text));
}

static void check_logs(const struct inspector_entry *e, const char *want)
{
    buf_terminate((struct buf *)&e->logs);
    CHECK_STR(buf_bytes(&e->logs), want);
}

TEST(log_lines_follow_their_request)
{
    struct inspector_store *s;
    CHECK_INT(inspector_store_new(10, 1 << 20, &s), 0);
    line(s, "r1", "START RequestId: r1 Version: $LATEST");
    line(s, "r2", "START RequestId: r2 Version: $LATEST");
    line(s, "r1", "hello from r1"); /* after r2's START: still r1's */
    line(s, NULL, "between invocations");
    line(s, "", "between invocations");
    add(s, "r1", "Api", "{}", 2);
    line(s, "r1", "END RequestId: r1"); /* after the answer */
    line(s, "r2", "for r2");
    add(s, "r2", "Api", "{}", 2);
    check_logs(inspector_store_find(s, "r1"),
               "START RequestId: r1 Version: $LATEST\nhello from r1\nEND RequestId: r1\n");
    check_logs(inspector_store_find(s, "r2"), "START RequestId: r2 Version: $LATEST\nfor r2\n");
    inspector_store_free(s);
}

/* The Init's environment names come with the report (never values) and
 * count against the store's bytes; a report without them is marked. */
TEST(environment_names_from_the_init)
{
    struct inspector_store *s;
    CHECK_INT(inspector_store_new(10, 1 << 20, &s), 0);
    add(s, "plain", "Api", "{}", 2);
    const struct inspector_entry *plain = inspector_store_find(s, "plain");
    CHECK_INT(plain->env_known, 0);
    size_t before = inspector_store_bytes(s);
    struct dev_invocation_report r = {
        .function = "Api",
        .request_id = "init",
        .success = 1,
        .event = "{}",
        .event_len = 2,
        .answer = "1",
        .answer_len = 1,
        .env_taken = "API_SECRET\nMODE\n",
        .env_dropped = "LD_PRELOAD\n",
    };
    const struct inspector_entry *e = inspector_store_add(s, &r);
    CHECK(e != NULL);
    CHECK_INT(e->env_known, 1);
    CHECK_INT((int)buf_length(&e->env_taken), 16);
    CHECK(memcmp(buf_bytes(&e->env_taken), "API_SECRET\nMODE\n", 16) == 0);
    CHECK(memcmp(buf_bytes(&e->env_dropped), "LD_PRELOAD\n", 11) == 0);
    CHECK_INT((int)(inspector_store_bytes(s) - before), (int)e->bytes);
    CHECK(e->bytes >= sizeof(*e) + 2 + 1 + 16 + 11);
    inspector_store_free(s);
}

TEST(answer_delivered_is_set_on_the_newest_entry_with_that_id)
{
    struct inspector_store *s;
    CHECK_INT(inspector_store_new(2, 1 << 20, &s), 0);
    add(s, "req-a", "Api", "{}", 2);
    add(s, "req-b", "Api", "{}", 2);
    add(s, "req-b", "Api", "{}", 2); /* the bridge asked again: a second entry */
    CHECK_INT(inspector_store_at(s, 1)->answer_delivered_ms, 0);
    CHECK_INT(inspector_store_delivered(s, "req-b", 1234), 0);
    CHECK_INT(inspector_store_at(s, 1)->answer_delivered_ms, 1234);
    CHECK_INT(inspector_store_at(s, 0)->answer_delivered_ms, 0);
    /* req-a was dropped (the cap is 2): nothing to set. */
    CHECK_INT(inspector_store_delivered(s, "req-a", 99), -ENOENT);
    inspector_store_free(s);
}

/* The ARN comes from the bridge's Next: only a Lambda function ARN is kept
 * (it is what a replay in AWS invokes), with the region it names. */
TEST(function_arn_kept_only_when_well_formed)
{
    const struct {
        const char *arn;
        const char *region; /* NULL: refused */
    } cases[] = {
        {"arn:aws:lambda:eu-west-1:123456789012:function:shop-dev-Api", "eu-west-1"},
        {"arn:aws:lambda:eu-west-1:123456789012:function:shop_Api:live", "eu-west-1"},
        {"arn:aws-cn:lambda:cn-north-1:123456789012:function:f:$LATEST", "cn-north-1"},
        {"arn:aws:lambda:us-east-1:12345678901:function:f", NULL},  /* 11 digits */
        {"arn:aws:lambda:us-east-1:12345678901x:function:f", NULL}, /* not digits */
        {"arn:aws:lambda:us-east-1:123456789012:layer:f", NULL},    /* not a function */
        {"arn:aws:s3:us-east-1:123456789012:function:f", NULL},     /* not lambda */
        {"arn:aws:lambda:us-east-1:123456789012:function:a/../b", NULL},
        {"arn:aws:lambda:us-east-1:123456789012:function:f:q:extra", NULL},
        {"arn:aws:lambda:us-east-1:123456789012:function:", NULL},
        {"arn:aws:lambda:u\ns:123456789012:function:f", NULL},
        {"arn:evil:lambda:us-east-1:123456789012:function:f", NULL},
        {"shop-dev-Api", NULL},
        {"", NULL},
    };
    struct inspector_store *s;
    CHECK_INT(inspector_store_new(4, 1 << 20, &s), 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char region[64] = "";
        CHECK_INT(lambda_invoke_arn_region(cases[i].arn, region, sizeof(region)),
                  cases[i].region ? 0 : -EINVAL);
        if (cases[i].region)
            CHECK_STR(region, cases[i].region);
        struct dev_invocation_report r = {.function = "Api",
                                          .request_id = "req",
                                          .success = 1,
                                          .event = "{}",
                                          .event_len = 2,
                                          .function_arn = cases[i].arn};
        const struct inspector_entry *e = inspector_store_add(s, &r);
        CHECK_STR(e->function_arn, cases[i].region ? cases[i].arn : "");
    }
    /* No ARN at all (an invocation through the embedded service's own path). */
    struct dev_invocation_report none = {.function = "Api", .request_id = "r2", .success = 1};
    CHECK_STR(inspector_store_add(s, &none)->function_arn, "");
    inspector_store_free(s);
}

RUN_TESTS("inspector_store", TEST_ENTRY(keeps_the_newest_by_count_in_memory_and_on_disk),
          TEST_ENTRY(keeps_within_bytes_and_bodies_whole_up_to_the_payload_limit),
          TEST_ENTRY(replay_linked_to_its_original), TEST_ENTRY(log_lines_follow_their_request),
          TEST_ENTRY(environment_names_from_the_init),
          TEST_ENTRY(answer_delivered_is_set_on_the_newest_entry_with_that_id),
          TEST_ENTRY(function_arn_kept_only_when_well_formed))
