#include "bridge_runtime/settings.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/random.h"
#include "events/channel.h"

static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

/* The first of two variables that is set. */
static const char *env_or(const char *name, const char *fallback)
{
    return env(name) ? env(name) : env(fallback);
}

/* SST gives the events endpoints as host names; a value that already is a
 * URL is taken as it is. NULL when the variable is unset or too long. */
static const char *sst_url(const char *name, const char *scheme, const char *path, char *out,
                           size_t cap)
{
    const char *host = env(name);
    if (!host)
        return NULL;
    if (strstr(host, "://"))
        return host;
    int n = snprintf(out, cap, "%s://%s%s", scheme, host, path);
    return n > 0 && (size_t)n < cap ? out : NULL;
}

/* The settings SST's own bridge reads, for those of ours that are unset. */
static void read_sst_fallbacks(struct bridge_settings *s)
{
    if (!s->events_http)
        s->events_http =
            sst_url("SST_APPSYNC_HTTP", "https", "/event", s->sst_http, sizeof(s->sst_http));
    if (!s->events_realtime)
        s->events_realtime = sst_url("SST_APPSYNC_REALTIME", "wss", "/event/realtime",
                                     s->sst_realtime, sizeof(s->sst_realtime));
}

static int parse_runtime_api(struct bridge_settings *s, char *cause, size_t cause_len)
{
    const char *api = env("AWS_LAMBDA_RUNTIME_API");
    const char *colon = api ? strrchr(api, ':') : NULL;
    if (!api || !colon || colon == api || (size_t)(colon - api) >= sizeof(s->runtime_host)) {
        snprintf(cause, cause_len,
                 "AWS_LAMBDA_RUNTIME_API must be HOST:PORT (is it running "
                 "as a Lambda custom runtime?)");
        return -EINVAL;
    }
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port <= 0 || port > 65535) {
        snprintf(cause, cause_len, "AWS_LAMBDA_RUNTIME_API has a bad port: %s", api);
        return -EINVAL;
    }
    memcpy(s->runtime_host, api, (size_t)(colon - api));
    s->runtime_host[colon - api] = '\0';
    s->runtime_port = (uint16_t)port;
    return 0;
}

static void choose_worker_id(struct bridge_settings *s)
{
    const char *stream = env("AWS_LAMBDA_LOG_STREAM_NAME");
    if (stream) {
        size_t len = strlen(stream);
        const char *tail = len > 32 ? stream + len - 32 : stream;
        size_t n = 0;
        /* Keep only what a channel segment may hold. */
        for (; *tail && n < 32; tail++)
            if ((*tail >= 'a' && *tail <= 'z') || (*tail >= 'A' && *tail <= 'Z') ||
                (*tail >= '0' && *tail <= '9'))
                s->worker_id[n++] = *tail;
        s->worker_id[n] = '\0';
    }
    if (!s->worker_id[0]) {
        char uuid[37];
        random_uuid(uuid);
        size_t n = 0;
        for (const char *p = uuid; *p; p++)
            if (*p != '-')
                s->worker_id[n++] = *p;
        s->worker_id[n] = '\0';
    }
}

static int build_channels(struct bridge_settings *s, char *cause, size_t cause_len)
{
    snprintf(s->dev_channel, sizeof(s->dev_channel), "/%s/%s/%s/in", s->namespace_name, s->app,
             s->stage);
    snprintf(s->worker_channel, sizeof(s->worker_channel), "/%s/%s/%s/%s/in", s->namespace_name,
             s->app, s->stage, s->worker_id);
    struct channel parsed;
    char why[160];
    if (channel_parse(s->worker_channel, strlen(s->worker_channel), 0, &parsed, why, sizeof(why)) <
        0) {
        snprintf(cause, cause_len,
                 "TETHER_NAMESPACE, TETHER_APP and TETHER_STAGE must form a valid channel (%s): %s",
                 s->worker_channel, why);
        return -EINVAL;
    }
    return 0;
}

/* The stage's key, which authenticates and encrypts every packet; without
 * it the bridge refuses to start unless the insecure mode is asked for by
 * name. The cause never repeats the variable's value. */
static int load_key(struct bridge_settings *s, char *cause, size_t cause_len)
{
    const char *text = env("TETHER_BRIDGE_KEY");
    const char *insecure = env("TETHER_INSECURE_NO_AUTH");
    char why[160];
    if (text) {
        if (bridge_key_parse(text, strlen(text), &s->key, why, sizeof(why)) < 0) {
            snprintf(cause, cause_len, "TETHER_BRIDGE_KEY is not a bridge key: %s", why);
            return -EINVAL;
        }
        s->has_key = 1;
        return 0;
    }
    if (insecure && strcmp(insecure, "1") == 0) {
        s->insecure = 1;
        return 0;
    }
    snprintf(cause, cause_len,
             "TETHER_BRIDGE_KEY is not set: the bridge needs the stage's key (`tether bridge key "
             "--print` shows it) to talk to tether dev; TETHER_INSECURE_NO_AUTH=1 runs without "
             "authentication, so anyone who can publish on the events API could answer");
    return -EINVAL;
}

int bridge_settings_load(struct bridge_settings *s, char *cause, size_t cause_len)
{
    memset(s, 0, sizeof(*s));
    if (parse_runtime_api(s, cause, cause_len) < 0)
        return -EINVAL;
    s->events_http = env("TETHER_EVENTS_HTTP");
    s->events_realtime = env("TETHER_EVENTS_REALTIME");
    s->api_key = env("TETHER_EVENTS_API_KEY");
    s->region = env_or("TETHER_EVENTS_REGION", "SST_REGION");
    s->ca_file = env("TETHER_CA_FILE");
    s->app = env_or("TETHER_APP", "SST_APP");
    s->stage = env_or("TETHER_STAGE", "SST_STAGE");
    /* An app named only by SST's setting is an SST deployment: its dev side
     * listens under SST's namespace. */
    const char *namespace_default = env("TETHER_APP") || !env("SST_APP") ? "tether" : "sst";
    s->namespace_name = env("TETHER_NAMESPACE") ? env("TETHER_NAMESPACE") : namespace_default;
    s->function_id = env_or("TETHER_FUNCTION_ID", "SST_FUNCTION_ID");
    if (!s->function_id)
        s->function_id = env("AWS_LAMBDA_FUNCTION_NAME");
    read_sst_fallbacks(s);
    const char *missing = !s->events_http   ? "TETHER_EVENTS_HTTP"
                          : !s->app         ? "TETHER_APP"
                          : !s->stage       ? "TETHER_STAGE"
                          : !s->function_id ? "TETHER_FUNCTION_ID"
                                            : NULL;
    if (missing) {
        snprintf(cause, cause_len, "%s is not set: the bridge needs it to reach tether dev",
                 missing);
        return -EINVAL;
    }
    const char *timeout = env("TETHER_NO_DEV_TIMEOUT_MS");
    s->no_dev_timeout_ms = timeout ? (uint32_t)strtoul(timeout, NULL, 10) : 3000;
    if (s->no_dev_timeout_ms == 0)
        s->no_dev_timeout_ms = 3000;
    const char *streaming = env("TETHER_STREAMING");
    s->streaming = streaming && (strcmp(streaming, "1") == 0 || strcmp(streaming, "true") == 0);
    if (load_key(s, cause, cause_len) < 0)
        return -EINVAL;
    choose_worker_id(s);
    return build_channels(s, cause, cause_len);
}

int bridge_settings_env_blocked(const char *name, size_t len)
{
    static const char *const exact[] = {
        "PATH",
        "PWD",
        "LANG",
        "NODE_PATH",
        "LD_LIBRARY_PATH",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
        "AWS_LAMBDA_RUNTIME_API",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_XRAY_CONTEXT_MISSING",
        "AWS_XRAY_DAEMON_ADDRESS",
        "_AWS_XRAY_DAEMON_ADDRESS",
        "_AWS_XRAY_DAEMON_PORT",
        "_X_AMZN_TRACE_ID",
        "_HANDLER",
        "SHLVL",
        "HOME",
        "OLDPWD",
        "_",
    };
    for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
        if (strlen(exact[i]) == len && strncmp(exact[i], name, len) == 0)
            return 1;
    /* The runtime's own plumbing, and the bridge's settings: above all
     * TETHER_BRIDGE_KEY, which must never travel, even sealed. */
    return (len >= 8 && strncmp(name, "_LAMBDA_", 8) == 0) ||
           (len >= 7 && strncmp(name, "TETHER_", 7) == 0);
}
