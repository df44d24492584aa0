/* libFuzzer harness: tun_policy_parse, which the sudo-run TUN helper uses
 * to read its root-owned policy (PREFIX/tun-policy) before it routes
 * anything for a user.
 *
 * Besides memory errors it checks the parser's contract: 0 or -EINVAL with
 * a terminated cause; on failure no rule is left; on success every rule
 * has a valid user name and at most TUN_POLICY_MAX_RULES exist, and the
 * policy written back out (tun_policy_format) parses to the same rules. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tun/policy.h"

static struct tun_policy first, second;
static char text[TUN_POLICY_MAX_BYTES * 2];

static int same_rules(const struct tun_policy *a, const struct tun_policy *b)
{
    if (a->count != b->count)
        return 0;
    for (size_t i = 0; i < a->count; i++) {
        const struct tun_policy_rule *x = &a->rules[i], *y = &b->rules[i];
        if (strcmp(x->user, y->user) != 0 || x->dns_all != y->dns_all ||
            x->subnet.family != y->subnet.family || x->subnet.prefix != y->subnet.prefix ||
            memcmp(x->subnet.addr, y->subnet.addr, 16) != 0)
            return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char cause[256];
    memset(cause, 'x', sizeof(cause));
    int rc = tun_policy_parse((const char *)data, size, &first, cause, sizeof(cause));
    if (rc != 0 && rc != -EINVAL)
        abort();
    if (rc < 0) {
        if (first.count != 0 || !memchr(cause, '\0', sizeof(cause)))
            abort();
        return 0;
    }
    if (first.count > TUN_POLICY_MAX_RULES)
        abort();
    for (size_t i = 0; i < first.count; i++)
        if (!tun_policy_user_valid(first.rules[i].user))
            abort();
    if (tun_policy_format(&first, text, sizeof(text)) != 0)
        abort();
    if (tun_policy_parse(text, strlen(text), &second, cause, sizeof(cause)) != 0 ||
        !same_rules(&first, &second))
        abort();
    return 0;
}
