/* Checks that text is exactly one valid JSON value (RFC 8259), without
 * building anything: the broker validates every published event this way
 * instead of parsing it into a tree it would throw away. Nesting is capped
 * so hostile input cannot exhaust the stack. The validator is core/
 * json_scan's (json_scan_valid); this name stays for its callers. */
#ifndef TETHER_CORE_JSON_CHECK_H
#define TETHER_CORE_JSON_CHECK_H

#include <stddef.h>

#include "core/json_scan.h"

#define JSON_CHECK_MAX_DEPTH JSON_SCAN_MAX_DEPTH

/* 1 if valid, 0 otherwise. Strings must be valid UTF-8 (escaped lone
 * surrogates are accepted, as JavaScript's JSON.parse accepts them). */
int json_check(const char *text, size_t len);

#endif
