/* Function URLs, the pure part: HTTP request -> payload format 2.0 event, and
 * the function's answer -> HTTP response (buffered, or the prelude of a
 * streamed "application/vnd.awslambda.http-integration-response").
 *
 * Everything here works on caller-owned memory; outputs go into caller-owned
 * struct buf values. Nothing touches the network. */
#ifndef TETHER_LAMBDA_URL_EVENT_H
#define TETHER_LAMBDA_URL_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "net/http.h"

#define LAMBDA_URL_STREAM_CONTENT_TYPE "application/vnd.awslambda.http-integration-response"
#define LAMBDA_URL_PRELUDE_MAX (64 * 1024)

struct lambda_url_request {
    const char *method;
    const char *raw_path;  /* as sent, beginning with '/' */
    const char *raw_query; /* without '?'; "" when none */
    const char *protocol;  /* "HTTP/1.1" */
    const char *source_ip;
    const struct http_header *headers;
    size_t header_count;
    const char *body;
    size_t body_len;
    const char *request_id;
    const char *trace_id; /* for x-amzn-trace-id when the client sent none */
    uint64_t time_epoch_ms;
    const char *url_id; /* the 32-character id in <url-id>.lambda-url.<region>.on.aws */
    const char *region;
    uint16_t port; /* for x-forwarded-port */
};

/* Appends the event JSON to out. 0 or -ENOMEM. */
int lambda_url_event_build(const struct lambda_url_request *req, struct buf *out);
/* 1 when a request body goes to the function base64-encoded: it is not valid
 * UTF-8, or its content type names binary data. */
int lambda_url_body_is_binary(const char *content_type, const char *body, size_t len);
/* "12/Mar/2020:19:03:58 +0000" */
void lambda_url_time_format(uint64_t epoch_ms, char out[32]);
/* Appends the decoded form of a percent-encoded query component. */
int lambda_url_decode_component(struct buf *out, const char *text, size_t len);

struct lambda_url_response {
    int status;
    struct buf headers; /* "Name: value\r\n" lines, Set-Cookie per cookie */
    struct buf body;
};

void lambda_url_response_init(struct lambda_url_response *r);
void lambda_url_response_free(struct lambda_url_response *r);
/* Maps a buffered function result. A JSON object with statusCode is a
 * structured answer; any other valid JSON is the shortcut (200,
 * application/json, the JSON as the body). -EINVAL (cause says why) means
 * the function answered something a function URL cannot turn into HTTP: the
 * caller answers 502. */
int lambda_url_response_map(const char *payload, size_t len, struct lambda_url_response *out,
                            char *cause, size_t cause_len);

/* Streamed answers: the JSON prelude ends at 8 NUL bytes. */
struct lambda_url_prelude {
    struct buf pending;
    size_t nul_run;
    int done;
};

void lambda_url_prelude_init(struct lambda_url_prelude *p);
void lambda_url_prelude_free(struct lambda_url_prelude *p);
/* Feeds stream bytes. Returns 0 when more are needed (all consumed), 1 when
 * the prelude is complete: out holds status and headers, and the body starts
 * at data + *body_offset. -EINVAL/-EFBIG on a bad or oversized prelude. */
int lambda_url_prelude_feed(struct lambda_url_prelude *p, const char *data, size_t len,
                            size_t *body_offset, struct lambda_url_response *out, char *cause,
                            size_t cause_len);

#endif
