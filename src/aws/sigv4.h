/* AWS Signature Version 4 (AWS4-HMAC-SHA256, Authorization-header form):
 * signing for tether's AWS clients and verification for the embedded broker.
 *
 * Ownership: every pointer inside the request, credential and parameter
 * structs is borrowed for the duration of the call only. Outputs go into
 * caller-owned buffers (struct buf, fixed arrays) or a struct sigv4_signed,
 * whose strings are owned by it and released by sigv4_signed_free.
 *
 * Errors: functions return 0 or a negative errno: -EINVAL for malformed or
 * over-cap input, -EACCES when verification rejects a request, -ENOMEM when
 * an allocation fails. When `cause` is non-NULL a human-readable reason is
 * written into it (truncated to cause_len, always NUL-terminated).
 *
 * Canonicalisation follows AWS (and the aws-c-auth test suite): header names
 * lower-cased and sorted, values trimmed with internal whitespace runs (also
 * folded line breaks) collapsed to one space, repeated names joined with ','
 * in order; the path optionally normalised (dot segments and empty segments
 * removed, trailing '/' kept) and then percent-encoded byte by byte, '%'
 * included ("double encoding") unless single_encode_path is set (S3: the path
 * is decoded once first); the query decoded, re-encoded and sorted by key then
 * value, with "key=" for empty values. '+' in a query is taken literally. */
#ifndef TETHER_AWS_SIGV4_H
#define TETHER_AWS_SIGV4_H

#include <stddef.h>
#include <time.h>

#include "core/buf.h"

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"

/* Hard caps on input; anything larger is refused with -EINVAL. */
#define SIGV4_MAX_HEADERS 64         /* headers in one request */
#define SIGV4_MAX_HEADER_NAME 128    /* bytes in one header name */
#define SIGV4_MAX_HEADER_VALUE 8192  /* bytes in one header value */
#define SIGV4_MAX_AUTHORIZATION 4096 /* bytes in the Authorization value */
#define SIGV4_MAX_PATH 8192          /* bytes in the raw path */
#define SIGV4_MAX_QUERY 8192         /* bytes in the raw query */
#define SIGV4_MAX_QUERY_PARAMS 128   /* '&'-separated query parameters */
#define SIGV4_MAX_SCOPE_PART 64      /* bytes in a region or service name */
#define SIGV4_MAX_ACCESS_KEY_ID 128  /* bytes in an access key id */
#define SIGV4_MAX_SECRET 128         /* bytes in a secret access key */
#define SIGV4_MAX_SESSION_TOKEN SIGV4_MAX_HEADER_VALUE

#define SIGV4_AMZ_DATE_SIZE 17 /* "YYYYMMDDTHHMMSSZ" + NUL */
#define SIGV4_HEX_SIZE 65      /* 64 lower-case hex digits + NUL */
#define SIGV4_KEY_SIZE 32      /* HMAC-SHA256 output */
#define SIGV4_DEFAULT_MAX_SKEW 300

struct sigv4_header {
    const char *name; /* any case; borrowed */
    const char *value;
};

struct sigv4_credentials {
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token; /* NULL or "" when the credentials have none */
};

struct sigv4_request {
    const char *method; /* "GET", "POST" */
    const char *path;   /* raw path as sent, e.g. "/event" or "/example/.."; "" means "/" */
    const char *query;  /* raw query string without '?'; NULL or "" for none */
    const struct sigv4_header *headers; /* must include host */
    size_t header_count;
    const void *body; /* may be NULL when body_len is 0 */
    size_t body_len;
};

struct sigv4_params {
    const char *region;
    const char *service;
    time_t timestamp;       /* seconds since the epoch; becomes x-amz-date */
    int normalize_path;     /* 1 for every service but S3 */
    int single_encode_path; /* 1 for S3 only: no double encoding of the path */
    int sign_body_header;   /* adds and signs x-amz-content-sha256 */
    int omit_session_token; /* token header is added but not signed */
};

/* Options for sigv4_canonical_request. */
struct sigv4_canonical_options {
    int normalize_path;
    int single_encode_path;
    const char *payload_hash; /* 64 hex digits; NULL means SHA-256 of the body */
};

/* What sigv4_sign produces. The fixed arrays and owned strings stay valid
 * until sigv4_signed_free; the strings are NUL-terminated. */
struct sigv4_signed {
    char amz_date[SIGV4_AMZ_DATE_SIZE];  /* value of x-amz-date */
    char content_sha256[SIGV4_HEX_SIZE]; /* x-amz-content-sha256 value, "" if not asked */
    char signature[SIGV4_HEX_SIZE];      /* hex signature */
    char *authorization;                 /* Authorization header value */
    char *security_token;                /* x-amz-security-token value, NULL if none */
    char *signed_headers;                /* "host;x-amz-date", as in Authorization */
    char *canonical_request;             /* for diagnostics and tests */
    char *string_to_sign;                /* for diagnostics and tests */
};

/* Appends the canonical request to `out`, over every header in req->headers
 * (nothing is added or dropped). `signed_headers`, when non-NULL, gets the
 * ';'-joined list of header names appended. */
int sigv4_canonical_request(struct buf *out, struct buf *signed_headers,
                            const struct sigv4_request *req,
                            const struct sigv4_canonical_options *opt, char *cause,
                            size_t cause_len);

/* Derives the signing key for a scope; date is "YYYYMMDD" (further characters
 * are ignored). The caller should secure_wipe key_out after use. */
int sigv4_signing_key(unsigned char key_out[SIGV4_KEY_SIZE], const char *secret_access_key,
                      const char *date, const char *region, const char *service);

/* Signs `req`. The request's headers are all signed, together with the ones
 * sigv4_sign adds: x-amz-date, x-amz-security-token (unless the credentials
 * have no token or omit_session_token is set) and x-amz-content-sha256 (when
 * sign_body_header). Headers in req named authorization or x-amz-date, and
 * the ones it replaces, are ignored. On success `out` is filled (free it with
 * sigv4_signed_free); on failure it holds nothing that needs freeing. */
int sigv4_sign(const struct sigv4_request *req, const struct sigv4_credentials *creds,
               const struct sigv4_params *params, struct sigv4_signed *out, char *cause,
               size_t cause_len);

/* Fills `out` with the headers the caller must add to the request, in the
 * order x-amz-date, x-amz-security-token, x-amz-content-sha256, authorization
 * (absent ones skipped); returns how many. Values are borrowed from `s`. */
size_t sigv4_signed_headers_to_add(const struct sigv4_signed *s, struct sigv4_header out[4]);

void sigv4_signed_free(struct sigv4_signed *s);

/* Looks up the secret (and session token, "" if none) for an access key id;
 * both are written NUL-terminated. Returns 0 when found, -ENOENT for an
 * unknown key, another negative errno on failure. The verifier wipes both
 * buffers afterwards. A broker that needs the caller's identity can record
 * access_key_id through ctx. */
typedef int (*sigv4_secret_lookup)(void *ctx, const char *access_key_id, char *secret_out,
                                   size_t secret_cap, char *token_out, size_t token_cap);

struct sigv4_verify_params {
    const char *region;
    const char *service;
    time_t now;
    int max_skew_seconds;   /* 0 means SIGV4_DEFAULT_MAX_SKEW (AWS: 5 minutes) */
    int normalize_path;     /* as in sigv4_params */
    int single_encode_path; /* as in sigv4_params */
};

/* Checks the Authorization header of `req` (whose headers include
 * authorization, x-amz-date and maybe x-amz-security-token; names are matched
 * case-insensitively). Only the headers listed in SignedHeaders are signed
 * over; the payload hash is the SHA-256 of the body. Returns 0 when the
 * signature is valid, -EACCES when the request is refused (cause in AWS's
 * words where AWS has some), -EINVAL when the request is malformed, or the
 * lookup's own error. */
int sigv4_verify(const struct sigv4_request *req, const struct sigv4_verify_params *params,
                 sigv4_secret_lookup lookup, void *ctx, char *cause, size_t cause_len);

/* Parses "YYYYMMDDTHHMMSSZ" (UTC); 0 or -EINVAL. */
int sigv4_parse_amz_date(const char *s, time_t *out);
/* Writes "YYYYMMDDTHHMMSSZ" and a NUL. */
void sigv4_format_amz_date(time_t t, char out[SIGV4_AMZ_DATE_SIZE]);

#endif
