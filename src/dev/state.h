/* .tether/dev.json: where a running `tether dev` can be reached, written by
 * dev (embedded mode) when its services are up and removed when it stops,
 * read by `tether invoke`. This file owns the format:
 * {"app", "stage", "events", "apiKey", "lambda", "pid"}.
 *
 * The file holds the local API key, so it is a private file
 * (core/private_file.h: 0600 in a 0700 directory, never through a link). Also here: what `tether
 * invoke` checks in tether.json before it calls, since both answer "can this project be invoked
 * now". */
#ifndef TETHER_DEV_STATE_H
#define TETHER_DEV_STATE_H

#include <stddef.h>

#include "bridge/seal.h"
#include "dev/config.h"

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

/* The stage's bridge key (docs/dev.md, "The bridge key"): the secret the
 * bridges and tether dev share, kept in ROOT/.tether/keys/STAGE.key (its
 * text form and a newline, 0600, in 0700 directories: core/private_file.h).
 * STAGE must be letters, digits, '-' and '_' (what a channel segment allows
 * that is also a safe file name). */
#define DEV_KEY_FILE_MAX 4096

/* "ROOT/.tether/keys/STAGE.key", for messages. */
void dev_key_path(const char *root, const char *stage, char *out, size_t cap);
/* -ENOENT when the stage has no key yet. */
int dev_key_read(const char *root, const char *stage, struct bridge_key *out, char *cause,
                 size_t cause_len);
/* Writes (or replaces) the stage's key file. */
int dev_key_write(const char *root, const char *stage, const struct bridge_key *key, char *cause,
                  size_t cause_len);
/* Reads a key from a file the user names (--key-file), at most
 * DEV_KEY_FILE_MAX bytes. */
int dev_key_read_file(const char *path, struct bridge_key *out, char *cause, size_t cause_len);

enum dev_key_origin {
    DEV_KEY_FROM_FILE,    /* --key-file */
    DEV_KEY_FROM_ENV,     /* TETHER_BRIDGE_KEY */
    DEV_KEY_FROM_PROJECT, /* .tether/keys/STAGE.key, as it was */
    DEV_KEY_CREATED,      /* .tether/keys/STAGE.key, made now */
};
/* The key tether dev uses: key_file when given, else TETHER_BRIDGE_KEY,
 * else the stage's key file, created when missing and create is set. */
int dev_key_resolve(const char *root, const char *stage, const char *key_file, int create,
                    struct bridge_key *out, enum dev_key_origin *origin, char *cause,
                    size_t cause_len);

/* Loads the project for a command run in it: config_path, or the
 * tether.json found in this directory or a parent; stage (when not NULL)
 * overrides its stage. */
int dev_project_load(const char *config_path, const char *stage, struct dev_config *out,
                     char *cause, size_t cause_len);

/* Checks that tether.json in ROOT lets `tether invoke` call FUNCTION through
 * the embedded Lambda service: 0 with *timeout_s set to its timeout; -EINVAL
 * with the reason in cause (remote events, unknown function with the list of
 * functions, not live); 1 with the reason in cause when tether.json does not
 * load (being edited: dev has its own copy, so the caller goes on). */
int dev_state_check_function(const char *root, const char *function, unsigned *timeout_s,
                             char *cause, size_t cause_len);

#endif
