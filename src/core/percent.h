/* Percent-encoding (RFC 3986 section 2.1), the one codec for SigV4's
 * canonical requests, proxy URL credentials, Lambda function URL queries and
 * `tether invoke`'s paths.
 *
 * Output is appended to a caller-owned struct buf. Encoding keeps the RFC's
 * unreserved characters (A-Z a-z 0-9 - . _ ~) and the ones in `keep` as they
 * are, and writes every other byte as %XX with upper-case hex digits (what
 * SigV4 requires). Decoding turns %XX (either case) into the byte; '+' stays
 * '+' (it means a space only in HTML forms, which tether never decodes). */
#ifndef TETHER_CORE_PERCENT_H
#define TETHER_CORE_PERCENT_H

#include <stddef.h>

#include "core/buf.h"

enum percent_decode_mode {
    /* A '%' not followed by two hex digits is an error: -EINVAL, and out is
     * left as it was. For input tether must understand exactly (credentials). */
    PERCENT_STRICT,
    /* Such a '%' is kept as a literal '%', as AWS does for SigV4 and Lambda
     * for function URL queries. */
    PERCENT_LENIENT,
};

/* Whether c is one of RFC 3986's unreserved characters. */
int percent_is_unreserved(unsigned char c);

/* keep: extra characters written as they are ("/" for SigV4 paths); NULL or
 * "" for none. 0 or -ENOMEM. */
int percent_encode(struct buf *out, const char *text, size_t len, const char *keep);

/* 0, -EINVAL (strict mode only) or -ENOMEM. */
int percent_decode(struct buf *out, const char *text, size_t len, enum percent_decode_mode mode);

#endif
