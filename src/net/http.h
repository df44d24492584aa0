/* Incremental HTTP/1.1 message reader (requests or responses) on top of
 * Node's http-parser, with hard caps, plus helpers to write messages.
 *
 * The reader owns copies of everything it keeps (names, values, target, body)
 * until http_reader_reset() or http_reader_free(). Feed it bytes as they
 * arrive; it stops after each complete message so pipelined bytes and bytes
 * after an Upgrade stay with the caller. */
#ifndef TETHER_NET_HTTP_H
#define TETHER_NET_HTTP_H

#include <http_parser.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/buf.h"

#define HTTP_MAX_HEADERS 64

struct http_limits {
    size_t max_header_bytes; /* request/status line + all headers */
    size_t max_body_bytes;
};

struct http_header {
    char *name;
    char *value;
};

struct http_message {
    int is_request;
    char method[16];
    char *target; /* request target as sent: path plus optional ?query */
    char *path;   /* target up to '?' (owned) */
    char *query;  /* after '?', "" when none (owned) */
    int status;   /* responses */
    unsigned http_major, http_minor;
    struct http_header headers[HTTP_MAX_HEADERS];
    size_t header_count;
    struct buf body;
    int upgrade;
    int keep_alive;
};

enum http_reader_state {
    HTTP_READER_READING,
    HTTP_READER_HEADERS_DONE, /* upgrade: headers complete, no body follows */
    HTTP_READER_COMPLETE,
    HTTP_READER_ERROR,
};

struct http_reader {
    http_parser parser;
    struct http_limits limits;
    struct http_message message;
    enum http_reader_state state;
    size_t header_bytes;
    int headers_complete; /* the head of the current message has been read */
    struct buf field;     /* header name being read */
    struct buf value;     /* header value being read */
    struct buf url;
    int last_was_value;
    int http_status_for_error; /* 400, 413, 431 ... */
    char error[160];
};

void http_reader_init(struct http_reader *reader, enum http_parser_type type,
                      const struct http_limits *limits);
void http_reader_free(struct http_reader *reader);
/* Forgets the finished message and gets ready for the next one. */
void http_reader_reset(struct http_reader *reader);
/* Returns bytes consumed (which may be fewer than len once a message is
 * complete), or -1 on malformed or oversized input (reader->error says why,
 * reader->http_status_for_error says what to answer). */
ssize_t http_reader_feed(struct http_reader *reader, const char *data, size_t len);
/* Tells the reader the peer closed (ends bodies delimited by close). */
void http_reader_finish(struct http_reader *reader);

/* Case-insensitive lookup; NULL when absent. */
const char *http_header_get(const struct http_message *message, const char *name);
/* Whether a comma-separated header contains token (case-insensitive). */
int http_header_has_token(const struct http_message *message, const char *name, const char *token);

/* Header syntax (RFC 9110): a name is a non-empty token; a value has no
 * control byte but horizontal tab (so no CR, LF or NUL can end it early).
 * For names and values that come from a peer or a handler. */
int http_header_name_valid(const char *name, size_t len);
int http_header_value_valid(const char *value, size_t len);
/* The one sanitiser for header values built from peer or handler strings
 * (error names, content types): copies `in` into `out` without its control
 * bytes and surrounding spaces, cut to cap - 1 bytes; returns the length.
 * `out` is always terminated (cap > 0). */
size_t http_header_value_clean(char *out, size_t cap, const char *in);
/* Whether a Host header value names this machine's loopback: "localhost"
 * or a name under ".localhost", an address in 127.0.0.0/8, or [::1]; with
 * no port or with `port`. Servers on loopback answer only such Hosts, so a
 * web page cannot reach them by DNS rebinding. */
int http_host_is_loopback(const char *host, uint16_t port);
/* Whether a listening address ("127.0.0.1", "::1", "localhost") is loopback. */
int http_address_is_loopback(const char *address);

const char *http_status_reason(int status);
/* Appends a status line, the given "Name: value\r\n" header text (may be NULL),
 * Content-Length and the body. */
int http_write_response(struct buf *out, int status, const char *headers, const void *body,
                        size_t body_len);

#endif
