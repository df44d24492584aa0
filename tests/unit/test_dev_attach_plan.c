/* What attaching changes on a function and how restoring undoes it: the
 * round trip gives the original back, a field the user changed meanwhile is
 * left alone and named, refusals say why, and the record survives the trip
 * through tags. */
#include <errno.h>
#include <string.h>

#include "dev/attach_plan.h"
#include "test.h"

static const char configuration_text[] =
    "{\"FunctionName\":\"shop-dev-Api\",\"FunctionArn\":"
    "\"arn:aws:lambda:us-east-1:123456789012:function:shop-dev-Api\",\"Runtime\":\"nodejs22.x\","
    "\"Handler\":\"index.handler\",\"Timeout\":3,\"RevisionId\":\"r1\",\"PackageType\":\"Zip\","
    "\"Layers\":[{\"Arn\":\"arn:aws:lambda:us-east-1:123456789012:layer:deps:4\",\"CodeSize\":9}],"
    "\"Environment\":{\"Variables\":{\"TABLE\":\"orders\",\"TETHER_APP\":\"old\"}}}";

#define BRIDGE_LAYER "arn:aws:lambda:us-east-1:123456789012:layer:tether-bridge-x86_64:7"

static json_t *load(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    CHECK(j != NULL);
    return j;
}

static json_t *tether_environment(const char *session)
{
    return json_pack("{ss ss ss}", "TETHER_APP", "shop", "TETHER_BRIDGE_KEY", "tk1.secret",
                     ATTACH_SESSION_VARIABLE, session);
}

/* What the service would answer after applying body to configuration. */
static json_t *apply(json_t *configuration, json_t *body, const char *revision)
{
    json_t *after = json_deep_copy(configuration), *arn;
    size_t i;
    const char *key;
    json_t *value;
    json_object_foreach(body, key, value)
    {
        if (strcmp(key, "Layers") == 0) {
            json_t *layers = json_array();
            json_array_foreach(value, i, arn)
                json_array_append_new(layers, json_pack("{sO si}", "Arn", arn, "CodeSize", 9));
            json_object_set_new(after, "Layers", layers);
        } else if (strcmp(key, "RevisionId") != 0) {
            json_object_set(after, key, value);
        }
    }
    json_object_set_new(after, "RevisionId", json_string(revision));
    return after;
}

TEST(attach_then_restore_gives_the_original_back)
{
    json_t *config = load(configuration_text), *env = tether_environment("s1 jane@box pid 1");
    struct attach_settings s = {"Api", BRIDGE_LAYER, "s1 jane@box pid 1", env, 900};
    json_t *record = NULL, *body = NULL, *restore = NULL;
    char cause[256] = "", warning[512] = "x";
    CHECK_INT(attach_plan_record(config, &s, 0, NULL, &record, cause, sizeof(cause)), 0);
    CHECK_INT(attach_plan_update(record, config, &s, &body), 0);
    CHECK_STR(json_string_value(json_object_get(body, "Runtime")), "provided.al2023");
    CHECK_STR(json_string_value(json_object_get(body, "Handler")), "bootstrap");
    CHECK_STR(json_string_value(json_object_get(body, "RevisionId")), "r1");
    CHECK_INT(json_integer_value(json_object_get(body, "Timeout")), 900);
    json_t *layers = json_object_get(body, "Layers");
    CHECK_INT(json_array_size(layers), 2);
    CHECK_STR(json_string_value(json_array_get(layers, 1)), BRIDGE_LAYER);
    json_t *vars = json_object_get(json_object_get(body, "Environment"), "Variables");
    CHECK_STR(json_string_value(json_object_get(vars, "TABLE")), "orders");
    CHECK_STR(json_string_value(json_object_get(vars, "TETHER_APP")), "shop");

    json_t *attached = apply(config, body, "r2");
    CHECK_INT(attach_plan_restore(record, attached, &restore, warning, sizeof(warning)), 0);
    CHECK_STR(warning, "");
    CHECK_STR(json_string_value(json_object_get(restore, "RevisionId")), "r2");
    json_t *restored = apply(attached, restore, "r1");
    if (!json_equal(restored, config)) {
        char *a = json_dumps(restored, JSON_SORT_KEYS), *b = json_dumps(config, JSON_SORT_KEYS);
        fprintf(stderr, "  restored %s\n  original %s\n", a, b);
        free(a);
        free(b);
    }
    CHECK(json_equal(restored, config));
    json_decref(restored);
    json_decref(attached);
    json_decref(restore);
    json_decref(body);
    json_decref(record);
    json_decref(env);
    json_decref(config);
}

TEST(changes_made_while_attached_are_kept_and_named)
{
    json_t *config = load(configuration_text), *env = tether_environment("s1");
    struct attach_settings s = {"Api", BRIDGE_LAYER, "s1", env, 0};
    json_t *record = NULL, *body = NULL, *restore = NULL;
    char cause[256], warning[512];
    CHECK_INT(attach_plan_record(config, &s, 0, NULL, &record, cause, sizeof(cause)), 0);
    CHECK_INT(attach_plan_update(record, config, &s, &body), 0);
    CHECK(json_object_get(body, "Timeout") == NULL);
    json_t *attached = apply(config, body, "r2");
    /* A redeploy: a new handler and environment, the runtime still tether's. */
    json_object_set_new(attached, "Handler", json_string("main.handler"));
    json_object_set_new(attached, "Environment",
                        json_pack("{s{ss ss}}", "Variables", "TABLE", "v2", "TETHER_APP", "shop"));
    CHECK_INT(attach_plan_restore(record, attached, &restore, warning, sizeof(warning)), 0);
    CHECK(strstr(warning, "no longer carries this session's marker") != NULL);
    /* Without the marker only tether's layer and variables go. */
    CHECK(json_object_get(restore, "Handler") == NULL);
    CHECK(json_object_get(restore, "Runtime") == NULL);
    CHECK_INT(json_array_size(json_object_get(restore, "Layers")), 1);
    json_t *vars = json_object_get(json_object_get(restore, "Environment"), "Variables");
    CHECK_STR(json_string_value(json_object_get(vars, "TABLE")), "v2");
    CHECK_STR(json_string_value(json_object_get(vars, "TETHER_APP")), "old");
    CHECK(json_object_get(vars, "TETHER_BRIDGE_KEY") == NULL);
    json_decref(restore);
    json_decref(attached);
    json_decref(body);
    json_decref(record);
    json_decref(env);
    json_decref(config);
}

static void refused_with(const char *edit_key, json_t *edit_value, int force, int expected,
                         const char *text)
{
    json_t *config = load(configuration_text), *env = tether_environment("mine");
    json_object_set_new(config, edit_key, edit_value);
    struct attach_settings s = {"Api", BRIDGE_LAYER, "mine", env, 0};
    json_t *record = NULL;
    char cause[256] = "";
    CHECK_INT(attach_plan_record(config, &s, force, NULL, &record, cause, sizeof(cause)), expected);
    if (text && !strstr(cause, text))
        fprintf(stderr, "  cause \"%s\" lacks \"%s\"\n", cause, text);
    CHECK(!text || strstr(cause, text) != NULL);
    CHECK((record != NULL) == (expected == 0));
    json_decref(record);
    json_decref(env);
    json_decref(config);
}

TEST(refusals_say_why)
{
    refused_with("PackageType", json_string("Image"), 0, -EPERM,
                 "shop-dev-Api is a container image function");
    refused_with("Environment",
                 json_pack("{s{ss}}", "Variables", ATTACH_SESSION_VARIABLE, "other bob@pc pid 9"),
                 0, -EALREADY,
                 "shop-dev-Api is attached by another tether dev session (other bob@pc pid 9)");
    refused_with("Environment",
                 json_pack("{s{ss}}", "Variables", ATTACH_SESSION_VARIABLE, "other bob@pc pid 9"),
                 1, 0, NULL);
    refused_with("Environment", json_pack("{s{ss}}", "Variables", ATTACH_SESSION_VARIABLE, "mine"),
                 0, 0, NULL);
    refused_with("Layers",
                 json_pack("[{ss}{ss}{ss}{ss}{ss}]", "Arn", "a:1", "Arn", "b:1", "Arn", "c:1",
                           "Arn", "d:1", "Arn", "e:1"),
                 0, -E2BIG, "already has 5 layers");
    refused_with("Runtime", json_string(""), 0, -EINVAL, "no FunctionName, FunctionArn or Runtime");
    refused_with("Environment", json_pack("{s{ss}}", "Variables", "TETHER_BRIDGE_KEY", "tk1.x"), 0,
                 -EEXIST, "shop-dev-Api already runs a tether bridge deployed by hand");
}

TEST(takeover_keeps_the_first_sessions_original)
{
    json_t *config = load(configuration_text), *env = tether_environment("first");
    struct attach_settings first = {"Api", BRIDGE_LAYER, "first", env, 0};
    json_t *record = NULL, *body = NULL, *record2 = NULL, *body2 = NULL;
    char cause[256];
    CHECK_INT(attach_plan_record(config, &first, 0, NULL, &record, cause, sizeof(cause)), 0);
    CHECK_INT(attach_plan_update(record, config, &first, &body), 0);
    json_t *attached = apply(config, body, "r2");
    json_t *env2 = tether_environment("second");
    struct attach_settings second = {"Api", BRIDGE_LAYER, "second", env2, 0};
    CHECK_INT(attach_plan_record(attached, &second, 1, record, &record2, cause, sizeof(cause)), 0);
    CHECK(json_equal(json_object_get(record2, "original"), json_object_get(record, "original")));
    CHECK_INT(attach_plan_update(record2, attached, &second, &body2), 0);
    CHECK_INT(json_array_size(json_object_get(body2, "Layers")), 2);
    json_decref(body2);
    json_decref(record2);
    json_decref(env2);
    json_decref(attached);
    json_decref(body);
    json_decref(record);
    json_decref(env);
    json_decref(config);
}

TEST(the_record_travels_in_tags)
{
    json_t *config = load(configuration_text), *env = tether_environment("s1");
    struct attach_settings s = {"Api", BRIDGE_LAYER, "s1", env, 60};
    json_t *record = NULL, *tags = NULL, *back = NULL;
    char cause[256];
    CHECK_INT(attach_plan_record(config, &s, 0, NULL, &record, cause, sizeof(cause)), 0);
    json_object_set_new(record, "configuration", json_deep_copy(config));
    CHECK_INT(attach_plan_tags(record, "jane@box pid 12 (stage \"dev\")", &tags), 0);
    CHECK_STR(json_string_value(json_object_get(tags, ATTACH_TAG_HOLDER)),
              "jane@box pid 12 _stage _dev__");
    const char *key;
    json_t *value;
    json_object_foreach(tags, key, value)
    {
        CHECK(strlen(key) <= 128);
        CHECK(strlen(json_string_value(value)) <= ATTACH_TAG_VALUE_MAX);
    }
    CHECK(json_object_size(tags) >= 2);
    json_object_set_new(tags, "team", json_string("shop"));
    CHECK_INT(attach_plan_from_tags(tags, &back), 0);
    json_object_del(record, "configuration");
    CHECK(json_equal(back, record));
    const char *keys[64];
    size_t n = attach_plan_tag_keys(tags, keys, 64);
    CHECK_INT(n, json_object_size(tags) - 1);
    for (size_t i = 0; i < n; i++)
        CHECK(strcmp(keys[i], "team") != 0);
    json_t *none = json_pack("{ss}", "team", "shop");
    json_t *nothing = NULL;
    CHECK_INT(attach_plan_from_tags(none, &nothing), -ENOENT);
    json_object_set_new(none, ATTACH_TAG_PREFIX "0", json_string("bm90IGpzb24="));
    CHECK_INT(attach_plan_from_tags(none, &nothing), -EINVAL);
    CHECK(nothing == NULL);
    json_decref(none);
    json_decref(back);
    json_decref(tags);
    json_decref(record);
    json_decref(env);
    json_decref(config);
}

TEST(events_api_arn_for_the_iam_policy)
{
    char arn[256];
    const char *fn = "arn:aws:lambda:eu-west-1:123456789012:function:shop-dev-Api";
    CHECK_INT(
        attach_plan_events_api_arn("https://abcdefghij.appsync-api.eu-west-1.amazonaws.com/event",
                                   fn, arn, sizeof(arn)),
        0);
    CHECK_STR(arn, "arn:aws:appsync:eu-west-1:123456789012:apis/abcdefghij");
    CHECK_INT(attach_plan_events_api_arn("https://x1.appsync-api.cn-north-1.amazonaws.com.cn/event",
                                         "arn:aws-cn:lambda:cn-north-1:123456789012:function:f",
                                         arn, sizeof(arn)),
              0);
    CHECK_STR(arn, "arn:aws-cn:appsync:cn-north-1:123456789012:apis/x1");
    CHECK_INT(attach_plan_events_api_arn("http://127.0.0.1:4000/event", fn, arn, sizeof(arn)),
              -ENOENT);
    CHECK_INT(
        attach_plan_events_api_arn("https://evil.example/x.appsync-api.us-east-1.amazonaws.com", fn,
                                   arn, sizeof(arn)),
        -ENOENT);
    CHECK_INT(attach_plan_events_api_arn("https://a.appsync-api.us-east-1.amazonaws.com/event",
                                         "shop-dev-Api", arn, sizeof(arn)),
              -EINVAL);
    CHECK_INT(attach_plan_events_api_arn("https://a.appsync-api.us-east-1.amazonaws.com/event",
                                         "arn:aws:lambda:us-east-1:12x:function:f", arn,
                                         sizeof(arn)),
              -EINVAL);
}

TEST(a_forged_record_changes_nothing_but_tethers_own)
{
    /* A record from someone else's project directory or tags: another
     * session, an environment that runs code, someone else's layer. */
    json_t *record = json_pack(
        "{si ss ss ss ss ss s{ss ss s[] si s{ss}} s{si}}", "version", 1, "function", "Api", "name",
        "shop-dev-Api", "arn", "arn:aws:lambda:us-east-1:123456789012:function:shop-dev-Api",
        "session", "forged", "layer", "arn:aws:lambda:us-east-1:123456789012:layer:deps:4",
        "original", "Runtime", "python3.12", "Handler", "evil.main", "Layers", "Timeout", 900,
        "Environment", "NODE_OPTIONS", "--require /tmp/x.js", "TETHER_APP", NULL, "set", "Timeout",
        3);
    json_t *current = load(configuration_text), *body = NULL;
    json_t *vars = json_object_get(json_object_get(current, "Environment"), "Variables");
    json_object_set_new(vars, ATTACH_SESSION_VARIABLE, json_string("the real one"));
    char warning[512];
    CHECK_INT(attach_plan_restore(record, current, &body, warning, sizeof(warning)), 0);
    CHECK(json_object_get(body, "Runtime") == NULL);
    CHECK(json_object_get(body, "Handler") == NULL);
    CHECK(json_object_get(body, "Timeout") == NULL);
    json_t *layers = json_object_get(body, "Layers");
    CHECK_INT(json_array_size(layers), 1);
    CHECK_STR(json_string_value(json_array_get(layers, 0)),
              "arn:aws:lambda:us-east-1:123456789012:layer:deps:4");
    json_t *restored = json_object_get(json_object_get(body, "Environment"), "Variables");
    CHECK(json_object_get(restored, "NODE_OPTIONS") == NULL);
    CHECK_STR(json_string_value(json_object_get(restored, "TETHER_APP")), "old");
    CHECK_STR(json_string_value(json_object_get(restored, "TABLE")), "orders");
    json_decref(body);
    json_decref(current);
    json_decref(record);
}

RUN_TESTS("dev_attach_plan", TEST_ENTRY(attach_then_restore_gives_the_original_back),
          TEST_ENTRY(changes_made_while_attached_are_kept_and_named), TEST_ENTRY(refusals_say_why),
          TEST_ENTRY(takeover_keeps_the_first_sessions_original),
          TEST_ENTRY(the_record_travels_in_tags), TEST_ENTRY(events_api_arn_for_the_iam_policy),
          TEST_ENTRY(a_forged_record_changes_nothing_but_tethers_own))
