/* Running a credential_process and reading its JSON (see
 * credentials_process.h). */
#include "aws/credentials_process.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/child.h"
#include "core/encoding.h"

extern char **environ;

static const char *json_member_string(json_t *root, const char *key)
{
    json_t *v = json_object_get(root, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

int aws_credentials_parse_process_output(const char *json, size_t len, struct aws_credentials *out,
                                         char *cause, size_t cause_len)
{
    json_error_t error;
    json_t *root = json_loadb(json, len, 0, &error);
    int rc = -EINVAL;
    if (!json_is_object(root)) {
        snprintf(cause, cause_len, "credential_process printed no JSON object (%s)",
                 root ? "not an object" : error.text);
        goto out;
    }
    json_t *version = json_object_get(root, "Version");
    if (!json_is_integer(version) || json_integer_value(version) != 1) {
        snprintf(cause, cause_len, "credential_process output: \"Version\" must be 1");
        goto out;
    }
    const char *id = json_member_string(root, "AccessKeyId");
    const char *secret = json_member_string(root, "SecretAccessKey");
    const char *token = json_member_string(root, "SessionToken");
    const char *expiration = json_member_string(root, "Expiration");
    if (!id || !secret) {
        snprintf(cause, cause_len,
                 "credential_process output lacks \"AccessKeyId\" or \"SecretAccessKey\"");
        goto out;
    }
    char why[160];
    if (aws_credentials_set(out, id, secret, token, why, sizeof(why)) < 0) {
        snprintf(cause, cause_len, "credential_process output: %s", why);
        goto out;
    }
    if (expiration && aws_parse_iso8601(expiration, &out->expiration) < 0) {
        aws_credentials_wipe(out);
        snprintf(cause, cause_len, "credential_process output: bad \"Expiration\" \"%.40s\"",
                 expiration);
        goto out;
    }
    rc = 0;
out:
    /* The parsed strings held secrets too. */
    if (root) {
        json_t *s = json_object_get(root, "SecretAccessKey");
        if (json_is_string(s))
            secure_wipe((char *)json_string_value(s), json_string_length(s));
        s = json_object_get(root, "SessionToken");
        if (json_is_string(s))
            secure_wipe((char *)json_string_value(s), json_string_length(s));
    }
    json_decref(root);
    return rc;
}

/* ---- running it ---- */

struct child_output {
    char *out;
    size_t out_len;
    char err[AWS_PROCESS_MAX_STDERR + 1];
    size_t err_len;
};

/* Standard output must fit (its overflow fails the run); standard error
 * keeps its beginning, for the message. */
static int take_out(void *ctx, const char *data, size_t len)
{
    struct child_output *o = ctx;
    if (len > AWS_PROCESS_MAX_OUTPUT - o->out_len)
        return -EFBIG;
    memcpy(o->out + o->out_len, data, len);
    o->out_len += len;
    return 0;
}

static int take_err(void *ctx, const char *data, size_t len)
{
    struct child_output *o = ctx;
    size_t room = AWS_PROCESS_MAX_STDERR - o->err_len;
    size_t take = len < room ? len : room;
    memcpy(o->err + o->err_len, data, take);
    o->err_len += take;
    return 0;
}

/* Runs the command; on success o->out holds its standard output. */
static int run(const char *command, unsigned timeout_ms, struct child_output *o, int *exit_status)
{
    struct child_run r = {.command = command,
                          .timeout_ms = timeout_ms,
                          .on_out = take_out,
                          .on_err = take_err,
                          .ctx = o};
    return child_run(&r, exit_status);
}

/* The first line of what the process said on stderr, printable. */
static void first_line(const struct child_output *o, char *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < o->err_len && o->err[i] != '\n' && n + 1 < cap && n < 200; i++)
        out[n++] = o->err[i] >= 0x20 && o->err[i] < 0x7f ? o->err[i] : ' ';
    out[n] = '\0';
}

int aws_credentials_from_process(const char *command, unsigned timeout_ms,
                                 struct aws_credentials *out, char *cause, size_t cause_len)
{
    struct child_output o = {0};
    int exit_status = 0;
    o.out = malloc(AWS_PROCESS_MAX_OUTPUT);
    if (!o.out)
        return -ENOMEM;
    if (!timeout_ms)
        timeout_ms = AWS_CREDENTIALS_PROCESS_TIMEOUT_MS;
    int rc = run(command, timeout_ms, &o, &exit_status);
    char said[220];
    first_line(&o, said, sizeof(said));
    if (rc == -ETIMEDOUT)
        snprintf(cause, cause_len, "credential_process did not finish within %u ms", timeout_ms);
    else if (rc == -EFBIG)
        snprintf(cause, cause_len, "credential_process printed more than %d bytes",
                 AWS_PROCESS_MAX_OUTPUT);
    else if (rc < 0)
        snprintf(cause, cause_len, "cannot run credential_process: %s", strerror(-rc));
    else if (exit_status != 0) {
        snprintf(cause, cause_len, "credential_process exited with status %d%s%s", exit_status,
                 said[0] ? ": " : "", said);
        rc = -EIO;
    } else {
        rc = aws_credentials_parse_process_output(o.out, o.out_len, out, cause, cause_len);
    }
    secure_wipe(o.out, AWS_PROCESS_MAX_OUTPUT);
    free(o.out);
    return rc;
}
