/* Generated identifiers: the API key's form, and that two keys differ. */
#include <string.h>

#include "core/random.h"
#include "test.h"

TEST(api_key_has_appsync_form)
{
    char a[31], b[31];
    random_api_key(a);
    random_api_key(b);
    CHECK_INT(strlen(a), 30);
    CHECK(strncmp(a, "da2-", 4) == 0);
    CHECK_INT(strspn(a + 4, "abcdefghijklmnopqrstuvwxyz0123456789"), 26);
    CHECK(strcmp(a, b) != 0); /* 36^26 keys: a repeat means no randomness */
}

RUN_TESTS("random", TEST_ENTRY(api_key_has_appsync_form))
