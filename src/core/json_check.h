/* Checks that text is exactly one valid JSON value (RFC 8259), without
 * building anything: the broker validates every published event this way
 * instead of parsing it into a tree it would throw away. Nesting is capped
 * so hostile input cannot exhaust the stack. */
#ifndef TETHER_CORE_JSON_CHECK_H
#define TETHER_CORE_JSON_CHECK_H

#include <stddef.h>

#define JSON_CHECK_MAX_DEPTH 512

/* 1 if valid, 0 otherwise. Strings must be valid UTF-8 (escaped lone
 * surrogates are accepted, as JavaScript's JSON.parse accepts them). */
int json_check(const char *text, size_t len);

#endif
