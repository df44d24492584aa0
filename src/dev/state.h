/* .tether/dev.json: where a running `tether dev` can be reached, written by
 * dev (embedded mode) when its services are up and removed when it stops,
 * read by `tether invoke`. This file owns the format:
 * {"app", "stage", "events", "apiKey", "lambda", "pid"}.
 *
 * The file holds the local API key, so it is written with mode 0600 in a
 * 0700 directory. Also here: what `tether invoke` checks in tether.json
 * before it calls, since both answer "can this project be invoked now". */
#ifndef TETHER_DEV_STATE_H
#define TETHER_DEV_STATE_H

#include <stddef.h>

struct dev_state {
    char app[64];
    char stage[64];
    char events[256]; /* the embedded broker's HTTP endpoint */
    char api_key[128];
    char lambda[256]; /* the embedded Lambda service's endpoint */
    long long pid;    /* the running dev */
};

/* Writes ROOT/.tether/dev.json (creating ROOT/.tether); 0 or -errno. */
int dev_state_write(const char *root, const struct dev_state *state);
/* Removes it if it names this process (another dev may have replaced it). */
void dev_state_remove(const char *root);

/* Reads ROOT/.tether/dev.json (at most 64 KiB). -ENOENT: no such file;
 * -EINVAL: unreadable, not JSON, "lambda" or "pid" missing, or "lambda" not
 * an http:// URL on a loopback address (cause says which); -ESRCH: the pid it names has
 * exited (out->pid is set). 0 when a dev is running there. */
int dev_state_read(const char *root, struct dev_state *out, char *cause, size_t cause_len);

/* Checks that tether.json in ROOT lets `tether invoke` call FUNCTION through
 * the embedded Lambda service: 0 with *timeout_s set to its timeout; -EINVAL
 * with the reason in cause (remote events, unknown function with the list of
 * functions, not live); 1 with the reason in cause when tether.json does not
 * load (being edited: dev has its own copy, so the caller goes on). */
int dev_state_check_function(const char *root, const char *function, unsigned *timeout_s,
                             char *cause, size_t cause_len);

#endif
