#include "tunnel/tunnel_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

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

static int take_list(json_t *value, const char *file, const char *key, char **items, size_t *count,
                     char *cause, size_t cause_len)
{
    if (!json_is_array(value)) {
        snprintf(cause, cause_len, "%s: \"tunnel.%s\" must be an array of strings", file, key);
        return -EINVAL;
    }
    if (json_array_size(value) > TUNNEL_FILE_LIST_MAX) {
        snprintf(cause, cause_len, "%s: \"tunnel.%s\" has more than %d entries", file, key,
                 TUNNEL_FILE_LIST_MAX);
        return -EINVAL;
    }
    size_t i;
    json_t *item;
    json_array_foreach(value, i, item)
    {
        char *text = NULL;
        int rc = take_string(item, file, key, &text, cause, cause_len);
        if (rc < 0) {
            snprintf(cause, cause_len, "%s: \"tunnel.%s\" must be an array of strings", file, key);
            return rc;
        }
        items[(*count)++] = text;
    }
    return 0;
}

/* "tunMtu": 9000 or "9000"; tun/options.c checks the range. */
static int take_number_text(json_t *value, const char *file, const char *key, char **out,
                            char *cause, size_t cause_len)
{
    if (!json_is_integer(value))
        return take_string(value, file, key, out, cause, cause_len);
    char text[32];
    snprintf(text, sizeof(text), "%lld", (long long)json_integer_value(value));
    free(*out);
    *out = strdup(text);
    return *out ? 0 : -ENOMEM;
}

/* The TUN path's keys, and the error for a key that is none of the known. */
static int take_tun_field(const char *key, json_t *value, const char *file,
                          struct tunnel_file_settings *out, char *cause, size_t cause_len)
{
    if (strcmp(key, "subnets") == 0)
        return take_list(value, file, key, out->subnets, &out->subnet_count, cause, cause_len);
    if (strcmp(key, "dnsDomains") == 0)
        return take_list(value, file, key, out->dns_domains, &out->dns_domain_count, cause,
                         cause_len);
    if (strcmp(key, "dnsServer") == 0)
        return take_string(value, file, key, &out->dns_server, cause, cause_len);
    if (strcmp(key, "tunMtu") == 0)
        return take_number_text(value, file, key, &out->tun_mtu, cause, cause_len);
    if (strcmp(key, "dnsAll") != 0) {
        snprintf(cause, cause_len, "%s: unknown key \"tunnel.%s\" (known: %s)", file, key,
                 known_keys);
        return -EINVAL;
    }
    if (!json_is_boolean(value)) {
        snprintf(cause, cause_len, "%s: \"tunnel.dnsAll\" must be true or false", file);
        return -EINVAL;
    }
    out->dns_all = json_is_true(value);
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
    return take_tun_field(key, value, file, out, cause, cause_len);
}

/* Reads the settings from a parsed file; owns nothing of root. */
static int take_root(json_t *root, const char *file_name, struct tunnel_file_settings *out,
                     char *cause, size_t cause_len)
{
    json_t *section = json_is_object(root) ? json_object_get(root, "tunnel") : NULL;
    if (!json_is_object(root)) {
        snprintf(cause, cause_len, "%s: the top level must be an object", file_name);
        return -EINVAL;
    }
    if (section && !json_is_object(section)) {
        snprintf(cause, cause_len, "%s: \"tunnel\" must be an object", file_name);
        return -EINVAL;
    }
    const char *key;
    json_t *value;
    json_object_foreach(section, key, value)
    {
        int rc = take_field(key, value, file_name, out, cause, cause_len);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int finish_parse(json_t *root, const json_error_t *error, const char *file_name,
                        struct tunnel_file_settings *out, char *cause, size_t cause_len)
{
    if (!root) {
        snprintf(cause, cause_len, "%s:%d:%d: %s", file_name, error->line, error->column,
                 error->text);
        return -EINVAL;
    }
    int rc = take_root(root, file_name, out, cause, cause_len);
    json_decref(root);
    if (rc == -ENOMEM)
        snprintf(cause, cause_len, "out of memory");
    if (rc < 0)
        tunnel_config_free(out);
    return rc;
}

int tunnel_config_parse(const char *text, size_t len, const char *file_name,
                        struct tunnel_file_settings *out, char *cause, size_t cause_len)
{
    memset(out, 0, sizeof(*out));
    json_error_t error;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &error);
    return finish_parse(root, &error, file_name, out, cause, cause_len);
}

/* Feeds jansson at most CONFIG_FILE_MAX bytes of the file: the hard cap
 * holds for any file, also one whose size stat cannot tell (a pipe). */
struct capped_file {
    FILE *f;
    size_t left;
    int too_big;
};

static size_t read_capped(void *buffer, size_t len, void *data)
{
    struct capped_file *c = data;
    if (c->left == 0) {
        c->too_big = fgetc(c->f) != EOF;
        return c->too_big ? (size_t)-1 : 0;
    }
    size_t n = fread(buffer, 1, len < c->left ? len : c->left, c->f);
    c->left -= n;
    return n;
}

int tunnel_config_load(const char *path, struct tunnel_file_settings *out, int *found, char *cause,
                       size_t cause_len)
{
    memset(out, 0, sizeof(*out));
    *found = 0;
    struct capped_file file = {fopen(path, "rb"), CONFIG_FILE_MAX, 0};
    if (!file.f) {
        if (errno == ENOENT)
            return 0;
        snprintf(cause, cause_len, "cannot read %s: %s", path, strerror(errno));
        return -errno;
    }
    *found = 1;
    json_error_t error;
    json_t *root = json_load_callback(read_capped, &file, JSON_REJECT_DUPLICATES, &error);
    /* jansson may stop early (bytes after the value): the cap still decides. */
    char rest[4096];
    size_t n;
    while ((n = read_capped(rest, sizeof(rest), &file)) != 0 && n != (size_t)-1)
        ;
    fclose(file.f);
    if (file.too_big) {
        json_decref(root);
        snprintf(cause, cause_len, "%s is larger than 1 MiB", path);
        return -EFBIG;
    }
    return finish_parse(root, &error, path, out, cause, cause_len);
}

void tunnel_config_free(struct tunnel_file_settings *s)
{
    free(s->host);
    free(s->user);
    free(s->key);
    free(s->socks);
    free(s->host_key_fingerprint);
    for (size_t i = 0; i < s->subnet_count; i++)
        free(s->subnets[i]);
    for (size_t i = 0; i < s->dns_domain_count; i++)
        free(s->dns_domains[i]);
    free(s->dns_server);
    free(s->tun_mtu);
    memset(s, 0, sizeof(*s));
}
