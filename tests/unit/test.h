/* A minimal unit-test harness: each tests/unit/test_*.c is one binary whose
 * main() runs its TEST functions through RUN_TESTS. Every CHECK failure is
 * reported with file and line; the last line is "N passed, N failed". */
#ifndef TETHER_TEST_H
#define TETHER_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failures_in_current;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "  %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);             \
            test_failures_in_current++;                                                            \
        }                                                                                          \
    } while (0)

#define CHECK_INT(a, b)                                                                            \
    do {                                                                                           \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);                            \
        if (check_a_ != check_b_) {                                                                \
            fprintf(stderr, "  %s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, #a,  \
                    check_a_, #b, check_b_);                                                       \
            test_failures_in_current++;                                                            \
        }                                                                                          \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *check_a_ = (a), *check_b_ = (b);                                               \
        if (!check_a_ || !check_b_ || strcmp(check_a_, check_b_) != 0) {                           \
            fprintf(stderr, "  %s:%d: %s is \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a,    \
                    check_a_ ? check_a_ : "(null)", check_b_ ? check_b_ : "(null)");               \
            test_failures_in_current++;                                                            \
        }                                                                                          \
    } while (0)

struct test_case {
    const char *name;
    void (*fn)(void);
};

#define TEST(name) static void name(void)
#define TEST_ENTRY(name)                                                                           \
    {                                                                                              \
#name, name                                                                                \
    }

static inline int test_run_all(const char *suite, const struct test_case *cases, size_t n)
{
    int passed = 0, failed = 0;
    const char *only = getenv("TEST_ONLY");
    for (size_t i = 0; i < n; i++) {
        if (only && strcmp(only, cases[i].name) != 0)
            continue;
        test_failures_in_current = 0;
        cases[i].fn();
        if (test_failures_in_current) {
            failed++;
            fprintf(stderr, "FAIL %s.%s\n", suite, cases[i].name);
        } else {
            passed++;
            if (getenv("TEST_VERBOSE"))
                fprintf(stderr, "ok   %s.%s\n", suite, cases[i].name);
        }
    }
    printf("%s: %d passed, %d failed\n", suite, passed, failed);
    return failed ? 1 : 0;
}

#define RUN_TESTS(suite, ...)                                                                      \
    int main(void)                                                                                 \
    {                                                                                              \
        static const struct test_case cases[] = {__VA_ARGS__};                                     \
        return test_run_all(suite, cases, sizeof(cases) / sizeof(cases[0]));                       \
    }

#endif
