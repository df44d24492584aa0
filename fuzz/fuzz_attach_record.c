/* libFuzzer harness: an attach record as others may write it, in a
 * function's tags (read by `tether detach --function`) or in a project's
 * .tether/attached/ (read by `tether detach` and at every `tether dev`
 * start), through attach_plan_from_tags and attach_plan_restore as
 * dev/attach.c runs them.
 *
 * The input is a JSON object of tags. Besides memory errors it checks the
 * contract that keeps a record from doing harm: a restore body never sets a
 * variable other than the function's own or TETHER_*, never adds a layer,
 * and without the function's session marker never sets Runtime, Handler or
 * Timeout. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "dev/attach_plan.h"

#define MAX_INPUT (64 * 1024)

static const char configuration[] =
    "{\"FunctionName\":\"f\",\"FunctionArn\":\"arn:aws:lambda:us-east-1:123456789012:function:f\","
    "\"Runtime\":\"provided.al2023\",\"Handler\":\"bootstrap\",\"Timeout\":900,\"RevisionId\":"
    "\"r\","
    "\"Layers\":[{\"Arn\":\"arn:aws:lambda:us-east-1:1:layer:tether-bridge-x86_64:1\"}],"
    "\"Environment\":{\"Variables\":{\"A\":\"1\",\"TETHER_SESSION\":\"s\"}}}";

static void check_body(json_t *body, json_t *current, int owned)
{
    json_t *vars = json_object_get(json_object_get(body, "Environment"), "Variables");
    json_t *before = json_object_get(json_object_get(current, "Environment"), "Variables");
    const char *key;
    json_t *value;
    json_object_foreach(vars, key, value)
    {
        if (strncmp(key, "TETHER_", 7) != 0 && !json_equal(value, json_object_get(before, key)))
            abort();
    }
    if (json_array_size(json_object_get(body, "Layers")) >
        json_array_size(json_object_get(current, "Layers")))
        abort();
    if (!owned && (json_object_get(body, "Runtime") || json_object_get(body, "Handler") ||
                   json_object_get(body, "Timeout")))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_INPUT)
        return 0;
    json_t *tags = json_loadb((const char *)data, size, 0, NULL), *record = NULL;
    if (!json_is_object(tags)) {
        json_decref(tags);
        return 0;
    }
    int rc = attach_plan_from_tags(tags, &record);
    if (rc != 0 && rc != -ENOENT && rc != -EINVAL && rc != -ENOMEM)
        abort();
    if (rc == 0) {
        json_t *current = json_loads(configuration, 0, NULL), *body = NULL;
        char warning[512];
        const char *session = json_string_value(json_object_get(record, "session"));
        int owned = session && strcmp(session, "s") == 0;
        if (attach_plan_restore(record, current, &body, warning, sizeof(warning)) == 0) {
            if (!memchr(warning, '\0', sizeof(warning)))
                abort();
            check_body(body, current, owned);
        }
        json_decref(body);
        json_decref(current);
        json_decref(record);
    }
    json_decref(tags);
    return 0;
}
