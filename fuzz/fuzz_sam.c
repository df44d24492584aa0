/* libFuzzer harness: tether init's reading of SAM templates (dev/sam.c over
 * dev/sam_yaml.c) and of samconfig.toml (dev/sam_config.c), both fed by
 * files that come with any cloned project.
 *
 * Besides memory errors and leaks it checks the contracts: 0, -EINVAL or
 * -ENOMEM with a terminated cause; a refused template leaves nothing behind;
 * an accepted one has at most SAM_MAX_FUNCTIONS functions, each with an id,
 * a runtime and a handler or a bootstrap, environment values within
 * SAM_MAX_VALUE, and a "functions" object with one entry per function. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dev/sam.h"

static void check_terminated(const char *text, size_t cap)
{
    if (!memchr(text, '\0', cap))
        abort();
}

static void check_template(const struct sam_template *t)
{
    if (t->function_count > SAM_MAX_FUNCTIONS)
        abort();
    for (size_t i = 0; i < t->function_count; i++) {
        const struct sam_function *f = &t->functions[i];
        if (!f->id || !f->id[0] || !f->runtime || (!f->handler && !f->bootstrap))
            abort();
        for (size_t e = 0; e < f->environment_count; e++)
            if (!f->environment[e].name || strlen(f->environment[e].value) > SAM_MAX_VALUE)
                abort();
    }
    for (size_t i = 0; i < t->note_count; i++)
        if (!t->notes[i])
            abort();
    json_t *functions = sam_functions_json(t);
    if (!functions || json_object_size(functions) != t->function_count)
        abort();
    json_decref(functions);
}

static void check_samconfig(const char *text, size_t size)
{
    char value[129];
    memset(value, 'x', sizeof(value));
    int rc = sam_config_string(text, size, "default.deploy.parameters", "stack_name", value,
                               sizeof(value));
    if (rc != 0 && rc != -ENOENT && rc != -EINVAL)
        abort();
    if (rc == 0)
        check_terminated(value, sizeof(value));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct sam_context context = {.region = "us-east-1", .stack_name = "fuzz"};
    struct sam_template t;
    char cause[256];
    if (size > SAM_MAX_BYTES)
        return 0;
    memset(cause, 'x', sizeof(cause));
    int rc = sam_template_parse((const char *)data, size, &context, &t, cause, sizeof(cause));
    if (rc != 0 && rc != -EINVAL && rc != -ENOMEM)
        abort();
    if (rc != 0) {
        check_terminated(cause, sizeof(cause));
        if (t.functions || t.function_count || t.notes || t.note_count)
            abort();
    } else {
        check_template(&t);
        sam_template_free(&t);
    }
    check_samconfig((const char *)data, size);
    return 0;
}
