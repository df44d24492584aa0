/* libFuzzer harness: SigV4 verification, as the embedded broker runs it on a
 * peer's request, over one fixed identity (the official suite's AKIDEXAMPLE
 * and secret, region us-east-1, service "service", the suite's clock).
 *
 * Input: one flag byte, then a request in the suite's request.txt form:
 * "METHOD /path?query HTTP/1.1", "Name:value" lines, an empty line, the body.
 * Flag bit 0 picks the mode:
 * - verify (0): the request is verified as sent; its Authorization header is
 *   the fuzzer's, so this exercises the Authorization and X-Amz-Date parsers
 *   and every refusal. The committed seeds are the suite's signed requests,
 *   nearly all of which verify, so mutations start from requests that pass.
 * - round trip (1): the request is signed with the identity, then verified.
 *   Whatever sigv4_sign accepts must verify, and must stop verifying when one
 *   signature digit or the body changes.
 * Bit 1 gives the identity a session token; bit 2 signs the body header; bit
 * 3 normalises the path (both sides agree). */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aws/sigv4.h"

#define AKID "AKIDEXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
/* The suite's session token, so its signed requests with a token verify. */
#define TOKEN                                                                                      \
    "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWs"                       \
    "KWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGde"                       \
    "ehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8T"                       \
    "x6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FD"                       \
    "rypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA=="
#define REGION "us-east-1"
#define SERVICE "service"
#define SUITE_TIME 1440938160 /* 2015-08-30T12:36:00Z */
#define MAX_INPUT (64 * 1024)
/* The verifier takes at most SIGV4_MAX_HEADERS headers in all; the signer
 * adds up to four, so a round trip keeps the caller's below that. */
#define ROUND_TRIP_HEADERS (SIGV4_MAX_HEADERS - 4)

enum { FLAG_ROUND_TRIP = 1, FLAG_TOKEN = 2, FLAG_SIGN_BODY = 4, FLAG_NORMALIZE = 8 };

struct fuzz_request {
    char *text; /* owned copy of the input, NUL-terminated, split in place */
    struct sigv4_header headers[SIGV4_MAX_HEADERS + 4];
    struct sigv4_request req;
};

static int lookup(void *ctx, const char *access_key_id, char *secret_out, size_t secret_cap,
                  char *token_out, size_t token_cap)
{
    const int *flags = ctx;
    if (strcmp(access_key_id, AKID) != 0)
        return -ENOENT;
    strncpy(secret_out, SECRET, secret_cap - 1);
    secret_out[secret_cap - 1] = '\0';
    strncpy(token_out, (*flags & FLAG_TOKEN) ? TOKEN : "", token_cap - 1);
    token_out[token_cap - 1] = '\0';
    return 0;
}

/* Cuts the next '\n'-terminated line off *p (NULL at the end). */
static char *next_line(char **p)
{
    char *line = *p;
    if (!line)
        return NULL;
    char *nl = strchr(line, '\n');
    *p = nl ? nl + 1 : NULL;
    if (nl)
        *nl = '\0';
    return line;
}

/* "GET /a?b HTTP/1.1": method and target, in place. */
static void parse_request_line(char *line, struct sigv4_request *req)
{
    char *space = strchr(line, ' ');
    req->method = line;
    req->path = "";
    if (!space)
        return;
    *space = '\0';
    char *target = space + 1;
    char *version = strrchr(target, ' ');
    if (version)
        *version = '\0';
    char *q = strchr(target, '?');
    if (q) {
        *q = '\0';
        req->query = q + 1;
    }
    req->path = target;
}

/* Lines up to the empty one are headers (lines without ':' are skipped);
 * whatever follows is the body. */
static void parse_headers(char **p, struct fuzz_request *r, size_t max_headers)
{
    char *line;
    while ((line = next_line(p)) && *line) {
        char *colon = strchr(line, ':');
        if (!colon || r->req.header_count == max_headers)
            continue;
        *colon = '\0';
        r->headers[r->req.header_count++] = (struct sigv4_header){line, colon + 1};
    }
}

static int fuzz_request_parse(struct fuzz_request *r, const uint8_t *data, size_t size,
                              size_t max_headers)
{
    memset(r, 0, sizeof(*r));
    r->text = malloc(size + 1);
    if (!r->text)
        return -1;
    memcpy(r->text, data, size);
    r->text[size] = '\0';
    char *p = r->text;
    parse_request_line(next_line(&p), &r->req);
    r->req.headers = r->headers;
    parse_headers(&p, r, max_headers);
    /* The body may hold NULs: its length comes from the input, not strlen. */
    if (p) {
        r->req.body = data + (p - r->text);
        r->req.body_len = size - (size_t)(p - r->text);
    }
    return 0;
}

static struct sigv4_verify_params verify_params(int flags)
{
    return (struct sigv4_verify_params){REGION, SERVICE, SUITE_TIME, 0, !!(flags & FLAG_NORMALIZE),
                                        0};
}

/* Every answer is one of the documented ones, with a terminated cause. */
static int verify(const struct sigv4_request *req, int flags)
{
    struct sigv4_verify_params vp = verify_params(flags);
    char cause[128];
    memset(cause, 'x', sizeof(cause));
    int rc = sigv4_verify(req, &vp, lookup, &flags, cause, sizeof(cause));
    if (rc != 0 && rc != -EINVAL && rc != -EACCES)
        abort();
    if (rc != 0 && !memchr(cause, '\0', sizeof(cause)))
        abort();
    return rc;
}

/* Headers the signer supplies itself; a round trip leaves them to it. */
static int signer_header(const char *name)
{
    static const char *const names[] = {"authorization", "x-amz-date", "x-amz-security-token",
                                        "x-amz-content-sha256"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcasecmp(name, names[i]) == 0)
            return 1;
    return 0;
}

static void drop_signer_headers(struct fuzz_request *r)
{
    size_t n = 0;
    for (size_t i = 0; i < r->req.header_count; i++)
        if (!signer_header(r->headers[i].name))
            r->headers[n++] = r->headers[i];
    r->req.header_count = n;
}

/* A copy of the request whose Authorization has one signature digit changed. */
static void check_tampered_signature(struct sigv4_request req, struct sigv4_header *headers,
                                     size_t auth_index, int flags)
{
    const char *auth = headers[auth_index].value;
    size_t len = strlen(auth);
    char *bad = strdup(auth);
    if (!bad)
        return;
    bad[len - 1] = bad[len - 1] == '0' ? '1' : '0';
    headers[auth_index].value = bad;
    if (verify(&req, flags) != -EACCES)
        abort();
    headers[auth_index].value = auth;
    free(bad);
}

static void check_changed_body(struct sigv4_request req, int flags)
{
    static const char other[] = "a body nobody signed";
    if (req.body_len == sizeof(other) - 1 && memcmp(req.body, other, req.body_len) == 0)
        return;
    req.body = other;
    req.body_len = sizeof(other) - 1;
    if (verify(&req, flags) != -EACCES)
        abort();
}

static void round_trip(struct fuzz_request *r, int flags)
{
    struct sigv4_credentials creds = {AKID, SECRET, (flags & FLAG_TOKEN) ? TOKEN : NULL};
    struct sigv4_params p = {
        REGION, SERVICE, SUITE_TIME, !!(flags & FLAG_NORMALIZE), 0, !!(flags & FLAG_SIGN_BODY), 0};
    struct sigv4_signed s;
    char cause[128];
    drop_signer_headers(r);
    if (sigv4_sign(&r->req, &creds, &p, &s, cause, sizeof(cause)) != 0)
        return;
    struct sigv4_header added[4];
    size_t n = sigv4_signed_headers_to_add(&s, added);
    memcpy(r->headers + r->req.header_count, added, n * sizeof(added[0]));
    r->req.header_count += n;
    /* The Authorization value has its own cap on the verifying side. */
    if (strlen(s.authorization) <= SIGV4_MAX_AUTHORIZATION) {
        if (verify(&r->req, flags) != 0)
            abort();
        check_tampered_signature(r->req, r->headers, r->req.header_count - 1, flags);
        check_changed_body(r->req, flags);
    }
    sigv4_signed_free(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > MAX_INPUT)
        return 0;
    int flags = data[0];
    struct fuzz_request r;
    size_t max_headers = (flags & FLAG_ROUND_TRIP) ? ROUND_TRIP_HEADERS : SIGV4_MAX_HEADERS;
    if (fuzz_request_parse(&r, data + 1, size - 1, max_headers) < 0)
        return 0;
    if (flags & FLAG_ROUND_TRIP)
        round_trip(&r, flags);
    else
        (void)verify(&r.req, flags);
    free(r.text);
    return 0;
}
