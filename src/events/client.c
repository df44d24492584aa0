/* The AppSync Events client's life cycle, configuration and state machine,
 * with the backoff, request deadline and kick timers. The contract is
 * client.h; client_internal.h lists the other files and their shared state. */
#include "events/client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "events"
#include "aws/credentials_provider.h"
#include "aws/profile.h"
#include "core/cause.h"
#include "core/encoding.h"
#include "core/log.h"
#include "core/random.h"
#include "events/client_internal.h"

static const char *const state_names[] = {
    [EVENTS_CLIENT_IDLE] = "idle",           [EVENTS_CLIENT_CONNECTING] = "connecting",
    [EVENTS_CLIENT_UPGRADING] = "upgrading", [EVENTS_CLIENT_INITIALIZING] = "initializing",
    [EVENTS_CLIENT_READY] = "ready",         [EVENTS_CLIENT_BACKOFF] = "backoff",
    [EVENTS_CLIENT_CLOSED] = "closed",
};

const char *events_client_state_name(enum events_client_state state)
{
    if ((size_t)state >= sizeof(state_names) / sizeof(state_names[0]))
        return "unknown";
    return state_names[state];
}

void events_client_enter_state(struct events_client *c, enum events_client_state state,
                               const char *cause)
{
    enum events_client_state old = c->state;
    if (cause)
        snprintf(c->last_error, sizeof(c->last_error), "%s", cause);
    if (old == state && !cause)
        return;
    c->state = state;
    /* The states a user cares about at info level; the steps between at debug. */
    enum log_level level = state == EVENTS_CLIENT_READY || state == EVENTS_CLIENT_BACKOFF ||
                                   state == EVENTS_CLIENT_CLOSED
                               ? LOG_LEVEL_INFO
                               : LOG_LEVEL_DEBUG;
    if (log_enabled(level))
        log_write(level, LOG_MODULE, "realtime %s -> %s%s%s", events_client_state_name(old),
                  events_client_state_name(state), cause ? ": " : "", cause ? cause : "");
    if (c->on_state && !c->freed)
        c->on_state(c->user, state, cause);
}

const char *events_client_last_error(const struct events_client *c)
{
    return c->last_error;
}

/* ---- server errors ---- */

void events_client_format_errors(const json_t *errors, char *out, size_t out_len,
                                 const char **first_type)
{
    size_t used = 0;
    out[0] = '\0';
    if (first_type)
        *first_type = NULL;
    for (size_t i = 0; i < json_array_size(errors) && used + 1 < out_len; i++) {
        json_t *e = json_array_get(errors, i);
        const char *type = json_string_value(json_object_get(e, "errorType"));
        const char *message = json_string_value(json_object_get(e, "message"));
        if (!type)
            type = json_string_value(json_object_get(e, "errorCode"));
        if (first_type && !*first_type)
            *first_type = type;
        int n = snprintf(out + used, out_len - used, "%s%s%s%s", i ? "; " : "",
                         type ? type : "Error", message ? ": " : "", message ? message : "");
        if (n < 0)
            break;
        used += (size_t)n;
    }
    if (!out[0])
        snprintf(out, out_len, "no error details given");
}

int events_client_error_status(const char *type)
{
    if (type && (strstr(type, "Unauthorized") || strstr(type, "NotAuthorized") ||
                 strstr(type, "Forbidden") || strstr(type, "AccessDenied")))
        return -EACCES;
    return -EIO;
}

/* ---- backoff ---- */

static uint32_t backoff_delay(const struct events_client *c)
{
    uint64_t ceiling = c->backoff_base_ms;
    for (unsigned i = 0; i < c->attempt && ceiling < c->backoff_cap_ms; i++)
        ceiling *= 2;
    if (ceiling > c->backoff_cap_ms)
        ceiling = c->backoff_cap_ms;
    return (uint32_t)random_below(ceiling + 1); /* full jitter: uniform in [0, ceiling] */
}

static void on_backoff_timer(uv_timer_t *timer)
{
    struct events_client *c = timer->data;
    if (c->started && !c->link)
        events_client_ws_connect(c);
}

void events_client_schedule_reconnect(struct events_client *c, const char *cause)
{
    if (!c->started || !c->reconnect) {
        events_client_enter_state(c, EVENTS_CLIENT_CLOSED, cause);
        if (c->freed || c->state != EVENTS_CLIENT_CLOSED || c->link)
            return;
        events_client_publish_ws_fail(c, 0, -ENOTCONN, cause ? cause : "not connected");
        return;
    }
    uint32_t delay = backoff_delay(c);
    c->attempt++;
    uv_timer_start(&c->backoff_timer, on_backoff_timer, delay, 0);
    log_debug("reconnecting in %u ms (attempt %u)", delay, c->attempt);
    events_client_enter_state(c, EVENTS_CLIENT_BACKOFF, cause);
}

/* ---- deadlines ---- */

static void consider(uint64_t *earliest, int *any, uint64_t deadline)
{
    if (!*any || deadline < *earliest)
        *earliest = deadline;
    *any = 1;
}

static void on_request_timer(uv_timer_t *timer);

void events_client_arm_request_timer(struct events_client *c)
{
    if (c->freed)
        return;
    uint64_t earliest = 0, deadline;
    int any = 0;
    for (const struct events_subscription *s = TAILQ_FIRST(&c->subs); s; s = TAILQ_NEXT(s, link))
        if (s->state == SUB_SENT)
            consider(&earliest, &any, s->deadline);
    for (const struct publish *p = TAILQ_FIRST(&c->ws_publishes); p; p = TAILQ_NEXT(p, link))
        consider(&earliest, &any, p->deadline);
    for (const struct publish *p = TAILQ_FIRST(&c->http_queue); p; p = TAILQ_NEXT(p, link))
        consider(&earliest, &any, p->deadline);
    if (events_client_http_current_deadline(c, &deadline))
        consider(&earliest, &any, deadline);
    if (!any) {
        uv_timer_stop(&c->request_timer);
        return;
    }
    uint64_t now = events_client_now_ms(c);
    uv_timer_start(&c->request_timer, on_request_timer, earliest > now ? earliest - now : 0, 0);
}

/* Fails the first overdue request; returns 1 if there was one. */
static int expire_one(struct events_client *c, uint64_t now)
{
    return events_client_sub_expire(c, now) || events_client_publish_ws_expire(c, now) ||
           events_client_http_expire(c, now);
}

static void on_request_timer(uv_timer_t *timer)
{
    struct events_client *c = timer->data;
    uint64_t now = events_client_now_ms(c);
    while (!c->freed && expire_one(c, now))
        ;
    if (c->freed)
        return;
    events_client_arm_request_timer(c);
    events_client_http_pump(c);
}

static void on_kick_timer(uv_timer_t *timer)
{
    struct events_client *c = timer->data;
    if (c->state == EVENTS_CLIENT_READY && c->link)
        events_client_ws_send_waiting(c);
    if (!c->freed)
        events_client_http_pump(c);
}

void events_client_kick(struct events_client *c)
{
    uv_timer_start(&c->kick_timer, on_kick_timer, 0, 0);
}

/* ---- life cycle ---- */

void events_client_config_init(struct events_client_config *config)
{
    memset(config, 0, sizeof(*config));
    config->reconnect = 1;
    config->connect_timeout_ms = EVENTS_CLIENT_DEFAULT_TIMEOUT_MS;
    config->request_timeout_ms = EVENTS_CLIENT_DEFAULT_TIMEOUT_MS;
    config->backoff_base_ms = EVENTS_CLIENT_DEFAULT_BACKOFF_BASE_MS;
    config->backoff_cap_ms = EVENTS_CLIENT_DEFAULT_BACKOFF_CAP_MS;
}

static int parse_urls(struct events_client *c, const struct events_client_config *config,
                      char *cause, size_t cause_len)
{
    char why[200];
    if (!config->http_url)
        return cause_set(cause, cause_len, -EINVAL, "no HTTP endpoint URL given");
    if (url_parse(config->http_url, &c->http, why, sizeof(why)) < 0 ||
        (c->http.scheme != URL_HTTP && c->http.scheme != URL_HTTPS))
        return cause_set(cause, cause_len, -EINVAL, "bad HTTP endpoint %s: %s", config->http_url,
                         c->http.host[0] ? "must be http:// or https://" : why);
    if (strcmp(c->http.path, "/") == 0)
        snprintf(c->http.path, sizeof(c->http.path), "/event"); /* the endpoint's usual path */
    char derived[URL_MAX_LENGTH + 1];
    const char *realtime = config->realtime_url;
    if (!realtime) {
        if (events_client_realtime_url(config->http_url, derived, sizeof(derived), cause,
                                       cause_len) < 0)
            return -EINVAL;
        realtime = derived;
    }
    if (url_parse(realtime, &c->realtime, why, sizeof(why)) < 0 ||
        (c->realtime.scheme != URL_WS && c->realtime.scheme != URL_WSS))
        return cause_set(cause, cause_len, -EINVAL, "bad realtime URL %s: %s", realtime,
                         c->realtime.host[0] ? "must be ws:// or wss://" : why);
    return 0;
}

static char *copy_string(const char *s, int *failed)
{
    if (!s || !*s)
        return NULL;
    char *copy = strdup(s);
    if (!copy)
        *failed = 1;
    return copy;
}

static void release(struct events_client *c)
{
    free(c->api_key);
    free(c->access_key_id);
    secure_free_string(c->secret_access_key);
    secure_free_string(c->session_token);
    proxy_config_wipe(&c->http_proxy);
    proxy_config_wipe(&c->realtime_proxy);
    free(c->region);
    tls_config_free(c->tls);
    if (c->own_conns)
        conn_context_free(c->conns);
    free(c);
}

void events_client_maybe_release(struct events_client *c)
{
    if (c->freed && c->timers_open == 0 && c->links_open == 0)
        release(c);
}

static int copy_config(struct events_client *c, const struct events_client_config *config,
                       char *cause, size_t cause_len)
{
    int failed = 0;
    c->api_key = copy_string(config->api_key, &failed);
    c->access_key_id = copy_string(config->access_key_id, &failed);
    c->secret_access_key = copy_string(config->secret_access_key, &failed);
    c->session_token = copy_string(config->session_token, &failed);
    c->region = copy_string(config->region, &failed);
    c->credentials = config->credentials;
    if (failed)
        return cause_set(cause, cause_len, -ENOMEM, "out of memory");
    c->reconnect = config->reconnect;
    c->connect_timeout_ms =
        config->connect_timeout_ms ? config->connect_timeout_ms : EVENTS_CLIENT_DEFAULT_TIMEOUT_MS;
    c->request_timeout_ms =
        config->request_timeout_ms ? config->request_timeout_ms : EVENTS_CLIENT_DEFAULT_TIMEOUT_MS;
    c->backoff_base_ms =
        config->backoff_base_ms ? config->backoff_base_ms : EVENTS_CLIENT_DEFAULT_BACKOFF_BASE_MS;
    c->backoff_cap_ms =
        config->backoff_cap_ms ? config->backoff_cap_ms : EVENTS_CLIENT_DEFAULT_BACKOFF_CAP_MS;
    if (c->backoff_cap_ms < c->backoff_base_ms)
        c->backoff_cap_ms = c->backoff_base_ms;
    c->on_state = config->on_state;
    c->user = config->user;
    return 0;
}

/* HTTPS_PROXY / HTTP_PROXY / NO_PROXY, once per endpoint. */
static int setup_proxies(struct events_client *c, char *cause, size_t cause_len)
{
    int rc = proxy_from_env(c->http.secure, c->http.host, c->http.port, &c->http_proxy, cause,
                            cause_len);
    if (rc < 0)
        return rc;
    c->use_http_proxy = rc;
    rc = proxy_from_env(c->realtime.secure, c->realtime.host, c->realtime.port, &c->realtime_proxy,
                        cause, cause_len);
    if (rc < 0)
        return rc;
    c->use_realtime_proxy = rc;
    if (c->use_http_proxy)
        log_debug("HTTP publishes to %s go through proxy %s", c->http.host_header,
                  c->http_proxy.display);
    if (c->use_realtime_proxy)
        log_debug("the realtime connection to %s goes through proxy %s", c->realtime.host_header,
                  c->realtime_proxy.display);
    return 0;
}

static int setup_transport(struct events_client *c, const struct events_client_config *config,
                           char *cause, size_t cause_len)
{
    int rc = setup_proxies(c, cause, cause_len);
    if (rc < 0)
        return rc;
    if (c->http.secure || c->realtime.secure) {
        rc = tls_config_new_client(config->ca_file, !config->insecure, &c->tls, cause, cause_len);
        if (rc < 0)
            return rc;
    }
    if (config->conn_context) {
        c->conns = config->conn_context;
        return 0;
    }
    c->conns = conn_context_new(c->loop);
    if (!c->conns)
        return cause_set(cause, cause_len, -ENOMEM, "out of memory");
    c->own_conns = 1;
    return 0;
}

/* Every timer counts until its close callback, so that the memory goes last. */
static void init_timer(struct events_client *c, uv_timer_t *timer)
{
    uv_timer_init(c->loop, timer);
    timer->data = c;
    c->timers_open++;
}

int events_client_new(uv_loop_t *loop, const struct events_client_config *config,
                      struct events_client **out, char *cause, size_t cause_len)
{
    struct events_client *c = calloc(1, sizeof(*c));
    if (!c)
        return cause_set(cause, cause_len, -ENOMEM, "out of memory");
    c->loop = loop;
    TAILQ_INIT(&c->subs);
    TAILQ_INIT(&c->ws_publishes);
    TAILQ_INIT(&c->http_queue);
    c->state = EVENTS_CLIENT_IDLE;
    c->connection_timeout_ms = EVENTS_CONNECTION_TIMEOUT_MS;
    int rc = parse_urls(c, config, cause, cause_len);
    if (rc == 0)
        rc = events_client_auth_check_config(config, cause, cause_len);
    if (rc == 0)
        rc = copy_config(c, config, cause, cause_len);
    if (rc == 0)
        rc = setup_transport(c, config, cause, cause_len);
    if (rc == 0)
        rc = events_client_auth_check_signing(c, cause, cause_len);
    if (rc < 0) {
        release(c);
        return rc;
    }
    init_timer(c, &c->connect_timer);
    init_timer(c, &c->keepalive_timer);
    init_timer(c, &c->backoff_timer);
    init_timer(c, &c->request_timer);
    init_timer(c, &c->kick_timer);
    log_debug("client for %s://%s%s (realtime %s://%s%s), %s auth", url_scheme_name(c->http.scheme),
              c->http.host_header, c->http.path, url_scheme_name(c->realtime.scheme),
              c->realtime.host_header, c->realtime.path,
              events_client_auth_is_iam(c) ? "IAM" : "API key");
    *out = c;
    return 0;
}

int events_client_start(struct events_client *c)
{
    if (c->freed)
        return -EINVAL;
    c->started = 1;
    if (c->link)
        return 0;
    events_client_ws_connect(c);
    return 0;
}

static void on_timer_closed(uv_handle_t *handle)
{
    struct events_client *c = handle->data;
    c->timers_open--;
    events_client_maybe_release(c);
}

static void fail_all_publishes(struct events_client *c)
{
    if (c->http_current) {
        struct publish *p = c->http_current;
        c->http_current = NULL;
        events_client_publish_fail(p, -ECANCELED, NULL, "the client was freed");
    }
    events_client_http_fail_queue(c, -ECANCELED, "the client was freed");
    struct publish *p;
    while ((p = TAILQ_FIRST(&c->ws_publishes))) {
        TAILQ_REMOVE(&c->ws_publishes, p, link);
        events_client_publish_fail(p, -ECANCELED, NULL, "the client was freed");
    }
}

void events_client_free(struct events_client *c)
{
    if (!c || c->freed)
        return;
    c->freed = 1;
    c->started = 0;
    events_client_ws_detach(c, 0, NULL);
    struct events_subscription *s;
    while ((s = TAILQ_FIRST(&c->subs))) {
        events_client_sub_unlink(c, s);
        free(s);
    }
    /* Publish callbacks may call the API; c->freed makes every call a no-op. */
    fail_all_publishes(c);
    events_client_http_close(c);
    uv_timer_t *timers[] = {&c->connect_timer, &c->keepalive_timer, &c->backoff_timer,
                            &c->request_timer, &c->kick_timer};
    for (size_t i = 0; i < sizeof(timers) / sizeof(timers[0]); i++)
        uv_close((uv_handle_t *)timers[i], on_timer_closed);
}

/* ---- helpers ---- */

int events_client_realtime_url(const char *http_url, char *out, size_t out_len, char *cause,
                               size_t cause_len)
{
    struct url u;
    char why[200];
    if (url_parse(http_url, &u, why, sizeof(why)) < 0)
        return cause_set(cause, cause_len, -EINVAL, "bad HTTP endpoint %s: %s",
                         http_url ? http_url : "", why);
    if (u.scheme != URL_HTTP && u.scheme != URL_HTTPS)
        return cause_set(cause, cause_len, -EINVAL,
                         "bad HTTP endpoint %s: must be http:// or https://", http_url);
    char host[URL_MAX_HOST + 32];
    const char *api = strstr(u.host, ".appsync-api.");
    if (api)
        snprintf(host, sizeof(host), "%.*s.appsync-realtime-api.%s", (int)(api - u.host), u.host,
                 api + strlen(".appsync-api."));
    else
        snprintf(host, sizeof(host), "%s", u.host);
    char port[8] = "";
    if (u.port != url_default_port(u.scheme))
        snprintf(port, sizeof(port), ":%u", u.port);
    int n = snprintf(out, out_len, "%s://%s%s%s%s/event/realtime", u.secure ? "wss" : "ws",
                     u.is_ipv6 ? "[" : "", host, u.is_ipv6 ? "]" : "", port);
    if (n < 0 || (size_t)n >= out_len)
        return cause_set(cause, cause_len, -ENAMETOOLONG, "realtime URL too long");
    return 0;
}

int events_client_region_from_url(const char *http_url, char *out, size_t out_len)
{
    struct url u;
    char why[8];
    if (url_parse(http_url, &u, why, sizeof(why)) < 0)
        return -EINVAL;
    const char *api = strstr(u.host, ".appsync-api.");
    if (!api)
        api = strstr(u.host, ".appsync-realtime-api.");
    if (!api)
        return -ENOENT;
    const char *region = strchr(api + 1, '.') + 1;
    const char *end = strchr(region, '.');
    if (!end || end == region || strncmp(end, ".amazonaws.com", 14) != 0)
        return -ENOENT;
    int n = snprintf(out, out_len, "%.*s", (int)(end - region), region);
    return n < 0 || (size_t)n >= out_len ? -ENAMETOOLONG : 0;
}

/* The process-wide provider behind events_client_config_iam_from_env when
 * the environment has no keys: made on first use, freed at exit. */
static struct aws_credentials_provider *shared_provider;

static void free_shared_provider(void)
{
    aws_credentials_provider_free(shared_provider);
    shared_provider = NULL;
}

static int chain_credentials(struct events_client_config *config, char *cause, size_t cause_len)
{
    if (!shared_provider) {
        char why[600];
        if (aws_credentials_provider_new(NULL, &shared_provider, why, sizeof(why)) < 0)
            return cause_set(cause, cause_len, -EINVAL,
                             "IAM authorization needs AWS credentials: %s", why);
        atexit(free_shared_provider);
    }
    config->credentials = shared_provider;
    return 0;
}

int events_client_config_iam_from_env(struct events_client_config *config, const char *region,
                                      char *region_buf, size_t region_buf_len, char *cause,
                                      size_t cause_len)
{
    config->access_key_id = aws_env("AWS_ACCESS_KEY_ID");
    config->secret_access_key = aws_env("AWS_SECRET_ACCESS_KEY");
    config->session_token = aws_env("AWS_SESSION_TOKEN");
    if (!config->access_key_id != !config->secret_access_key)
        return cause_set(
            cause, cause_len, -EINVAL,
            "IAM authorization needs both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
    if (!config->access_key_id && chain_credentials(config, cause, cause_len) < 0)
        return -EINVAL;
    if (!region || !*region)
        region = aws_env_region();
    if (!region && config->http_url &&
        events_client_region_from_url(config->http_url, region_buf, region_buf_len) == 0)
        region = region_buf;
    if (!region && aws_region_resolve(NULL, region_buf, region_buf_len) == 0)
        region = region_buf;
    if (!region)
        return cause_set(cause, cause_len, -EINVAL,
                         "IAM authorization needs a region: --region, AWS_REGION, "
                         "AWS_DEFAULT_REGION or region in the AWS profile");
    config->region = region;
    return 0;
}
