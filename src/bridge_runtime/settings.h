/* The bridge's settings, read from its environment exactly as Lambda and the
 * deployer set it (docs/bridge.md lists every variable). A function that
 * `sst` deployed in dev mode carries SST's settings (SST_APP, SST_STAGE,
 * SST_FUNCTION_ID, SST_REGION, SST_APPSYNC_HTTP, SST_APPSYNC_REALTIME): each
 * stands in for its TETHER_ variable when that is not set, and then the
 * namespace defaults to SST's, "sst" (docs/dev.md, "SST compatibility"). */
#ifndef TETHER_BRIDGE_RUNTIME_SETTINGS_H
#define TETHER_BRIDGE_RUNTIME_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

#include "bridge/seal.h"

struct bridge_settings {
    char runtime_host[256]; /* from AWS_LAMBDA_RUNTIME_API */
    uint16_t runtime_port;
    const char *events_http;     /* TETHER_EVENTS_HTTP, else https://SST_APPSYNC_HTTP/event */
    const char *events_realtime; /* TETHER_EVENTS_REALTIME, else SST_APPSYNC_REALTIME's; optional */
    const char *api_key;         /* TETHER_EVENTS_API_KEY; else IAM from AWS_* */
    const char *region;          /* TETHER_EVENTS_REGION, else SST_REGION, else AWS_REGION */
    const char *ca_file;         /* TETHER_CA_FILE, optional */
    const char *app;             /* TETHER_APP, else SST_APP */
    const char *stage;           /* TETHER_STAGE, else SST_STAGE */
    const char *namespace_name;  /* TETHER_NAMESPACE, default "tether" ("sst" with SST_APP) */
    const char *function_id;     /* TETHER_FUNCTION_ID, else SST_FUNCTION_ID, else
                                    AWS_LAMBDA_FUNCTION_NAME */
    char worker_id[33];          /* last 32 characters of AWS_LAMBDA_LOG_STREAM_NAME */
    uint32_t no_dev_timeout_ms;  /* TETHER_NO_DEV_TIMEOUT_MS, default 3000 */
    int streaming;               /* TETHER_STREAMING=1 */
    struct bridge_key key;       /* TETHER_BRIDGE_KEY (never logged) */
    int has_key;                 /* 0 only with insecure */
    int insecure;                /* TETHER_INSECURE_NO_AUTH=1 and no key */
    char dev_channel[300];       /* /{ns}/{app}/{stage}/in */
    char worker_channel[340];    /* /{ns}/{app}/{stage}/{worker}/in */
    char sst_http[300];          /* URLs built from SST's host names */
    char sst_realtime[300];
};

/* Fills settings from the environment; -EINVAL with a cause naming the
 * missing or malformed variable. TETHER_BRIDGE_KEY is required unless
 * TETHER_INSECURE_NO_AUTH=1 says to run without authentication. */
int bridge_settings_load(struct bridge_settings *settings, char *cause, size_t cause_len);
/* Whether a variable is kept out of the Init message (runtime plumbing that
 * must not leak into the local worker's environment). */
int bridge_settings_env_blocked(const char *name, size_t name_len);

#endif
