#include "tunnel/tunnel_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "tun/options.h"

#define CONFIG_FILE_MAX (1024 * 1024)

static const char known_keys[] =
    "host, user, key, port, socks, hostKeyFingerprint, subnets, dnsDomains, dnsServer, dnsAll, "
    "tunMtu";

static char *expand_home(const char *path)
{
    const char *home = getenv("HOME");
    if (strncmp(path, "~/", 2) != 0 || !home)
        return strdup(path);
    size_t len = strlen(home) + strlen(path);
    char *out = malloc(len);
    if (out)
        snprintf(out, len, "%s%s", home, path + 1);
    return out;
}

static int take_string(json_t *value, const char *file, const char *key, char **out, char *cause,
                       size_t cause_len)
{
    if (!json_is_string(value) || json_string_length(value) == 0 ||
        strlen(json_string_value(value)) != json_string_length(value)) {
        snprintf(cause, cause_len, "%s: \"tunnel.%s\" must be a non-empty string", file, key);
        return -EINVAL;
    }
    free(*out);
    *out = strcmp(key, "key") == 0 ? expand_home(json_string_value(value))
                                   : strdup(json_string_value(value));
    return *out ? 0 : -ENOMEM;
}

static int take_port(json_t *value, const char *file, uint16_t *out, char *cause, size_t cause_len)
{
    if (!json_is_integer(value) || json_integer_value(value) < 1 ||
        json_integer_value(value) > 65535) {
        snprintf(cause, cause_len, "%s: \"tunnel.port\" must be an integer from 1 to 65535", file);
        return -EINVAL;
    }
    *out = (uint16_t)json_integer_value(value);
    return 0;
}

static int take_field(const char *key, json_t *value, const char *file,
                      struct tunnel_file_settings *out, char *cause, size_t cause_len)
{
    if (strcmp(key, "host") == 0)
        return take_string(value, file, key, &out->host, cause, cause_len);
    if (strcmp(key, "user") == 0)
        return take_string(value, file, key, &out->user, cause, cause_len);
    if (strcmp(key, "key") == 0)
        return take_string(value, file, key, &out->key, cause, cause_len);
    if (strcmp(key, "socks") == 0)
        return take_string(value, file, key, &out->socks, cause, cause_len);
    if (strcmp(key, "hostKeyFingerprint") == 0)
        return take_string(value, file, key, &out->host_key_fingerprint, cause, cause_len);
    if (strcmp(key, "port") == 0)
        return take_port(value, file, &out->port, cause, cause_len);
    if (tun_options_file_key(key))
        return 0; /* subnets, dnsDomains, ...: the TUN path reads them (tun/options.h) */
    snprintf(cause, cause_len, "%s: unknown key \"tunnel.%s\" (known: %s)", file, key, known_keys);
    return -EINVAL;
}

int tunnel_config_parse(const char *text, size_t len, const char *file_name,
                        struct tunnel_file_settings *out, char *cause, size_t cause_len)
{
    memset(out, 0, sizeof(*out));
    json_error_t error;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &error);
    if (!root) {
        snprintf(cause, cause_len, "%s:%d:%d: %s", file_name, error.line, error.column, error.text);
        return -EINVAL;
    }
    int rc = 0;
    json_t *section = json_is_object(root) ? json_object_get(root, "tunnel") : NULL;
    if (!json_is_object(root)) {
        snprintf(cause, cause_len, "%s: the top level must be an object", file_name);
        rc = -EINVAL;
    } else if (section && !json_is_object(section)) {
        snprintf(cause, cause_len, "%s: \"tunnel\" must be an object", file_name);
        rc = -EINVAL;
    } else if (section) {
        const char *key;
        json_t *value;
        json_object_foreach(section, key, value)
        {
            if ((rc = take_field(key, value, file_name, out, cause, cause_len)) < 0)
                break;
        }
    }
    json_decref(root);
    if (rc < 0)
        tunnel_config_free(out);
    return rc;
}

int tunnel_config_load(const char *path, struct tunnel_file_settings *out, int *found, char *cause,
                       size_t cause_len)
{
    memset(out, 0, sizeof(*out));
    *found = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT)
            return 0;
        snprintf(cause, cause_len, "cannot read %s: %s", path, strerror(errno));
        return -errno;
    }
    char *text = malloc(CONFIG_FILE_MAX + 1);
    size_t n = text ? fread(text, 1, CONFIG_FILE_MAX + 1, f) : 0;
    fclose(f);
    if (!text || n > CONFIG_FILE_MAX) {
        snprintf(cause, cause_len, "%s is larger than 1 MiB", path);
        free(text);
        return -EFBIG;
    }
    *found = 1;
    int rc = tunnel_config_parse(text, n, path, out, cause, cause_len);
    free(text);
    return rc;
}

void tunnel_config_free(struct tunnel_file_settings *s)
{
    free(s->host);
    free(s->user);
    free(s->key);
    free(s->socks);
    free(s->host_key_fingerprint);
    memset(s, 0, sizeof(*s));
}
