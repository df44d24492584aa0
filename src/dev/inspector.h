/* The inspector of `tether dev`: a small web application and JSON API on
 * loopback that shows every invocation the store (dev/inspector_store.h)
 * holds and replays one through the same live path. Every request needs the
 * per-session token: ?token= once (the answer sets an HttpOnly, SameSite=
 * Strict cookie), the cookie, or "Authorization: Bearer TOKEN"; the server
 * refuses a Host that is not loopback (net/http_server.h), so neither other
 * local users nor web pages can read payloads. docs/inspector.md. */
#ifndef TETHER_DEV_INSPECTOR_H
#define TETHER_DEV_INSPECTOR_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "dev/config.h"
#include "dev/inspector_store.h"

struct dev;

struct inspector_options {
    uint16_t port;                    /* 0 picks a free one */
    struct inspector_store *store;    /* borrowed; outlives the inspector */
    const struct dev_config *project; /* borrowed: environment names */
    /* The embedded Lambda service's Invoke API (http://127.0.0.1:PORT), read
     * at each replay; "" when there is none (remote mode). Borrowed. */
    const char *lambda_endpoint;
    /* Without one, replays run in the local worker that served the original
     * (dev_replay_local in dev/dev.h): done(user, success, body, len) once;
     * 0 or -errno when it cannot start. NULL: no replay then. */
    int (*replay_local)(struct dev *dev, const char *function, const char *worker,
                        const void *event, size_t len,
                        void (*done)(void *user, int success, const char *body, size_t len),
                        void *user);
    struct dev *replay_ctx;
};

struct inspector;

int inspector_start(uv_loop_t *loop, const struct inspector_options *options,
                    struct inspector **out, char *cause, size_t cause_len);
/* "http://127.0.0.1:PORT/?token=TOKEN": what the user opens. */
const char *inspector_url(const struct inspector *in);
/* Closes the server (idempotent); replays under way finish first. */
void inspector_stop(struct inspector *in);
/* After the loop ended. */
void inspector_free(struct inspector *in);

/* Remote mode with AWS credentials (IAM): a replay of an invocation whose
 * Next named a Lambda function ARN calls AWS Lambda's Invoke for that ARN
 * (lambda/invoke_client.h, on libuv's thread pool), signed with a copy of
 * the provider's current credentials, in the ARN's region; the endpoint
 * follows aws/endpoint.h for PROFILE (NULL: the selected profile). Other
 * invocations still replay in the local worker. CREDENTIALS is borrowed and
 * must outlive the inspector. */
struct aws_credentials_provider;
void inspector_set_aws(struct inspector *in, struct aws_credentials_provider *credentials,
                       const char *profile);

/* The page's files, embedded at build time from src/dev/inspector/. */
struct inspector_asset {
    const char *name;
    const unsigned char *data;
    size_t len;
};
extern const struct inspector_asset inspector_assets[];
extern const size_t inspector_asset_count;

#endif
