/* Child processes start with default signal dispositions and an empty
 * signal mask, whatever tether's own are (core/child.h): checked through
 * the credential_process runner, which starts /bin/sh with posix_spawn. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "aws/credentials_process.h"
#include "core/child.h"
#include "test.h"

/* The child reports its SigIgn and SigBlk masks of /proc/self/status as
 * the access key id (32 hex digits: both zero when clean). */
#define REPORT_SIGNALS                                                                             \
    "ign=$(sed -n 's/^SigIgn:\\t//p' /proc/self/status); "                                         \
    "blk=$(sed -n 's/^SigBlk:\\t//p' /proc/self/status); "                                         \
    "printf '{\"Version\":1,\"AccessKeyId\":\"%s%s\",\"SecretAccessKey\":\"s\"}' \"$ign\" "        \
    "\"$blk\""

TEST(test_credential_process_starts_with_clean_signals)
{
    struct sigaction ignore = {.sa_handler = SIG_IGN}, old_pipe, old_int;
    sigemptyset(&ignore.sa_mask);
    sigaction(SIGPIPE, &ignore, &old_pipe);
    sigaction(SIGINT, &ignore, &old_int);
    sigset_t block, old_mask;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, &old_mask);

    struct aws_credentials c;
    char cause[256] = "";
    int rc = aws_credentials_from_process(REPORT_SIGNALS, 10000, &c, cause, sizeof(cause));
    if (rc != 0)
        fprintf(stderr, "  %s\n", cause);
    CHECK_INT(rc, 0);
    CHECK_INT(strlen(c.access_key_id), 32);
    char ign_hex[17] = "";
    memcpy(ign_hex, c.access_key_id, 16);
    unsigned long long ignored = strtoull(ign_hex, NULL, 16);
    unsigned long long blocked = strtoull(c.access_key_id + 16, NULL, 16);
    /* glibc's posix_spawn ignores its own two internal signals (32 and 33,
     * bits 31 and 32) in the child, and glibc sets them up again when the
     * program starts; they are no signal a program uses. Every other one is
     * at its default. */
    CHECK_INT(ignored & ~((1ull << 31) | (1ull << 32)), 0);
    CHECK_INT(blocked, 0);

    sigprocmask(SIG_SETMASK, &old_mask, NULL);
    sigaction(SIGPIPE, &old_pipe, NULL);
    sigaction(SIGINT, &old_int, NULL);
}

/* The same command without the attributes shows what they undo, so the
 * check above cannot pass by accident. */
TEST(test_without_the_attributes_the_child_inherits)
{
    struct sigaction ignore = {.sa_handler = SIG_IGN}, old_pipe;
    sigemptyset(&ignore.sa_mask);
    sigaction(SIGPIPE, &ignore, &old_pipe);
    char *argv[] = {"sh", "-c", "grep -q '^SigIgn:.*1000$' /proc/self/status", NULL};
    char *env[] = {NULL};
    pid_t pid;
    int status = -1;
    CHECK_INT(posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, env), 0);
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0); /* SIGPIPE (bit 13) ignored */
    posix_spawnattr_t attr;
    CHECK_INT(child_spawnattr_init(&attr), 0);
    CHECK_INT(posix_spawn(&pid, "/bin/sh", NULL, &attr, argv, env), 0);
    posix_spawnattr_destroy(&attr);
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 1);
    sigaction(SIGPIPE, &old_pipe, NULL);
}

RUN_TESTS("child_signals", TEST_ENTRY(test_credential_process_starts_with_clean_signals),
          TEST_ENTRY(test_without_the_attributes_the_child_inherits))
