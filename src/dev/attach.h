/* Attaching deployed functions to `tether dev` and restoring them
 * (docs/deploy.md, "One command"). For each live function with a deployed
 * counterpart, attach_run publishes (or finds) the bridge layer for the
 * function's architecture, records the function's configuration in
 * .tether/attached/ID.json and in its tags (dev/attach_plan.h), and updates
 * it to run the bridge: provided.al2023, handler bootstrap, the bridge layer
 * added, the TETHER_* settings added to its environment, guarded by its
 * RevisionId so two sessions cannot both take one function. Restoring puts
 * back what attaching changed, removes the tags and the state file.
 *
 * Threads: every function here blocks (Lambda calls) and must not run in a
 * loop callback. attach_run and attach_restore_all work on up to
 * ATTACH_THREADS threads of their own; attach_cancel may be called from any
 * thread. Reports are made on those threads, one at a time (a mutex), so
 * the callback must hand them to its loop or print them itself.
 *
 * Ownership: the options' pointers are borrowed and outlive the attach. */
#ifndef TETHER_DEV_ATTACH_H
#define TETHER_DEV_ATTACH_H

#include <jansson.h>
#include <stddef.h>

#include "aws/credentials_provider.h"

#define ATTACH_THREADS 8
/* How long one function's update may take before it counts as failed. */
#define ATTACH_UPDATE_TIMEOUT_MS 300000

enum attach_event {
    ATTACH_LAYER,          /* detail: the bridge layer version in use (and whether new) */
    ATTACH_ATTACHED,       /* a function runs the bridge now; ms: how long it took */
    ATTACH_FAILED,         /* detail: why it could not be attached */
    ATTACH_RESTORED,       /* a function runs its own code again */
    ATTACH_RESTORE_FAILED, /* detail: why; the state file stays for `tether detach` */
    ATTACH_WARNING,        /* detail: something done with care (a change left as it is) */
};

struct attach_report {
    enum attach_event event;
    const char *function_id; /* the id in tether.json ("" for the layer) */
    const char *deployed;    /* the deployed function's name ("" for the layer) */
    double ms;
    const char *detail; /* "" when there is nothing to say */
};

struct attach_target {
    const char *function_id;
    const char *deployed; /* name or ARN */
    int streaming;        /* TETHER_STREAMING=1 for the bridge */
};

struct attach_options {
    const char *root; /* the project root: .tether/attached/ */
    const char *region;
    const char *profile; /* endpoint settings; NULL: the selected profile */
    struct aws_credentials_provider *credentials;
    /* This session's marker (TETHER_SESSION's value) and who holds it, for
     * people ("jane@laptop pid 4242"). */
    const char *session;
    const char *holder;
    json_t *environment;     /* the TETHER_* settings every function gets (strings) */
    unsigned timeout_s;      /* --debug-timeout: the functions' timeout while attached; 0: theirs */
    int force;               /* take functions over from another session */
    const char *bridge_path; /* NULL: the build's bridge for each architecture */
    /* The IAM inline policy put on each attached function's role, letting
     * the bridge use the events API (aws/iam.h): its name (NULL: none, as
     * with an API key), the events endpoint and namespace it covers. It is
     * deleted when no function of the role stays attached. */
    const char *policy_name;
    const char *events_http;
    const char *namespace_name;
    void (*report)(void *ctx, const struct attach_report *report);
    void *ctx;
};

struct attach;

int attach_new(const struct attach_options *options, struct attach **out);
/* Attaches every target (ids must be unique); the functions' own failures
 * are reported, not returned: the return is 0, or -errno with cause for a
 * failure shared by all (no credentials). */
int attach_run(struct attach *a, const struct attach_target *targets, size_t count, char *cause,
               size_t cause_len);
/* Targets not yet started are skipped from now on. */
void attach_cancel(struct attach *a);
/* Restores every function this attach attached; how many could not be. */
size_t attach_restore_all(struct attach *a);
void attach_free(struct attach *a);

/* The AWS::Lambda::Function resources of a CloudFormation stack and the
 * stacks nested in it (aws/cloudformation.h), for functions without
 * "deployed": a new array of {"logicalId", "functionName", "stack"}. */
int attach_stack_functions(const struct attach_options *options, const char *stack, json_t **out,
                           char *cause, size_t cause_len);
/* The deployed name of logical id `id` among them: the top stack's first,
 * else a nested stack's when only one has it; NULL when none (or several
 * nested stacks have it: the id does not say which). Borrowed from
 * functions. */
const char *attach_stack_match(json_t *functions, const char *id);

struct aws_appsync_events;
/* The events API called api_name with namespace_name, found or created
 * (aws_appsync_ensure_events), for a tether.json without "events". */
int attach_ensure_events(const struct attach_options *options, const char *api_name,
                         const char *namespace_name, struct aws_appsync_events *out, char *cause,
                         size_t cause_len);

/* Restores from state files in .tether/attached/: the ids named (count 0:
 * every file). Reports through the options' callback; returns how many
 * failed, or -ENOENT (cause) when an id named has no state file. The
 * options' environment, session and holder are not used. */
int attach_restore_saved(const struct attach_options *options, const char *const *ids, size_t count,
                         char *cause, size_t cause_len);
/* Restores one deployed function (name or ARN) from the record in its tags,
 * when no state file is left: 0, or -errno with cause (-ENOENT: it carries
 * no record). */
int attach_restore_tagged(const struct attach_options *options, const char *function, char *cause,
                          size_t cause_len);

#endif
