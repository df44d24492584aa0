/* Reading the AWS shared config and credentials files (see profile.h). */
#include "aws/profile.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/cause.h"
#include "core/encoding.h"

/* ---- the profile set ---- */

static void free_sections(struct aws_profile **sections, size_t *count)
{
    for (size_t i = 0; i < *count; i++) {
        struct aws_profile *p = &(*sections)[i];
        for (size_t k = 0; k < p->count; k++) {
            free(p->properties[k].key);
            secure_free_string(p->properties[k].value);
        }
        free(p->properties);
        free(p->name);
    }
    free(*sections);
    *sections = NULL;
    *count = 0;
}

void aws_shared_config_free(struct aws_shared_config *config)
{
    free_sections(&config->profiles, &config->count);
    free_sections(&config->services, &config->services_count);
}

static const struct aws_profile *find_section(const struct aws_profile *sections, size_t count,
                                              const char *name)
{
    for (size_t i = 0; name && i < count; i++)
        if (strcmp(sections[i].name, name) == 0)
            return &sections[i];
    return NULL;
}

const struct aws_profile *aws_shared_config_profile(const struct aws_shared_config *config,
                                                    const char *name)
{
    return find_section(config->profiles, config->count, name);
}

const struct aws_profile *aws_shared_config_services(const struct aws_shared_config *config,
                                                     const char *name)
{
    return find_section(config->services, config->services_count, name);
}

const char *aws_services_get(const struct aws_profile *services, const char *service_key,
                             const char *setting)
{
    char key[AWS_PROFILE_MAX_NESTED_KEY + 1];
    int n = snprintf(key, sizeof(key), "%s.%s", service_key, setting);
    return n > 0 && (size_t)n < sizeof(key) ? aws_profile_get(services, key) : NULL;
}

const char *aws_profile_get(const struct aws_profile *profile, const char *key)
{
    for (size_t i = 0; profile && i < profile->count; i++)
        if (strcasecmp(profile->properties[i].key, key) == 0)
            return profile->properties[i].value[0] ? profile->properties[i].value : NULL;
    return NULL;
}

/* The section called name in a list (profiles or services), added when new. */
static struct aws_profile *section_get_or_add(struct aws_profile **sections, size_t *count,
                                              const char *name)
{
    for (size_t i = 0; i < *count; i++)
        if (strcmp((*sections)[i].name, name) == 0)
            return &(*sections)[i];
    if (*count >= AWS_PROFILE_MAX_PROFILES)
        return NULL;
    struct aws_profile *grown = realloc(*sections, (*count + 1) * sizeof(*grown));
    if (!grown)
        return NULL;
    *sections = grown;
    struct aws_profile *p = &grown[*count];
    memset(p, 0, sizeof(*p));
    if (!(p->name = strdup(name)))
        return NULL;
    (*count)++;
    return p;
}

/* Sets key (already lower-case) to value, replacing an earlier value. */
static int profile_set(struct aws_profile *p, const char *key, const char *value)
{
    char *copy = strdup(value);
    if (!copy)
        return -ENOMEM;
    for (size_t i = 0; i < p->count; i++) {
        if (strcmp(p->properties[i].key, key) == 0) {
            secure_free_string(p->properties[i].value);
            p->properties[i].value = copy;
            return 0;
        }
    }
    struct aws_profile_property *grown =
        p->count < AWS_PROFILE_MAX_PROPERTIES
            ? realloc(p->properties, (p->count + 1) * sizeof(*grown))
            : NULL;
    char *key_copy = grown ? strdup(key) : NULL;
    if (grown)
        p->properties = grown;
    if (!key_copy) {
        secure_free_string(copy);
        return p->count >= AWS_PROFILE_MAX_PROPERTIES ? -EFBIG : -ENOMEM;
    }
    p->properties[p->count].key = key_copy;
    p->properties[p->count].value = copy;
    p->count++;
    return 0;
}

/* ---- the parser ---- */

struct parse_state {
    struct aws_shared_config *config;
    enum aws_profile_file_kind kind;
    const char *path;
    unsigned line_number;
    struct aws_profile *current; /* NULL: outside a profile (or a skipped section) */
    int in_section;              /* a section header was seen (maybe skipped) */
    int in_services;             /* current is a [services NAME] section */
    /* In a services section, the last property whose value was empty: the
     * service that indented lines below it configure ("" when none). */
    char parent[AWS_PROFILE_MAX_NAME + 1];
    char *cause;
    size_t cause_len;
};

static int parse_error(struct parse_state *st, int rc, const char *what)
{
    return cause_set(st->cause, st->cause_len, rc, "%s:%u: %s", st->path, st->line_number, what);
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t len = strlen(s);
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r'))
        s[--len] = '\0';
    return s;
}

/* Cuts a comment: '#' or ';' at the start or after white space. */
static void cut_comment(char *s)
{
    for (char *p = s; *p; p++) {
        if ((*p == '#' || *p == ';') && (p == s || p[-1] == ' ' || p[-1] == '\t')) {
            *p = '\0';
            return;
        }
    }
}

/* Whether name starts with the word `word` followed by white space. */
static int starts_with_word(const char *name, const char *word)
{
    size_t n = strlen(word);
    return strncmp(name, word, n) == 0 && (name[n] == ' ' || name[n] == '\t');
}

/* The profile (or, with *services set, the services section) a section
 * header names in this kind of file, or "" to skip. */
static void section_profile_name(const struct parse_state *st, char *inside, char *out, size_t cap,
                                 int *services)
{
    out[0] = '\0';
    *services = 0;
    char *name = trim(inside);
    if (st->kind == AWS_PROFILE_CREDENTIALS_FILE) {
        snprintf(out, cap, "%s", name);
        return;
    }
    if (strcmp(name, "default") == 0) {
        snprintf(out, cap, "default");
        return;
    }
    if (starts_with_word(name, "profile"))
        snprintf(out, cap, "%s", trim(name + 8));
    else if (starts_with_word(name, "services")) {
        snprintf(out, cap, "%s", trim(name + 9));
        *services = 1;
    }
}

static int parse_section(struct parse_state *st, char *line)
{
    char *close = strchr(line, ']');
    if (!close)
        return parse_error(st, -EINVAL, "section header without ']'");
    *close = '\0';
    cut_comment(close + 1);
    if (*trim(close + 1))
        return parse_error(st, -EINVAL, "text after a section header");
    char name[AWS_PROFILE_MAX_NAME + 2];
    if (strlen(trim(line + 1)) > AWS_PROFILE_MAX_NAME + 8)
        return parse_error(st, -EINVAL, "profile name too long");
    int services;
    section_profile_name(st, line + 1, name, sizeof(name), &services);
    st->in_section = 1;
    st->in_services = services;
    st->parent[0] = '\0';
    st->current = NULL;
    if (!name[0])
        return 0; /* a section that is neither a profile nor services: its keys are skipped */
    if (strlen(name) > AWS_PROFILE_MAX_NAME)
        return parse_error(st, -EINVAL, "profile name too long");
    struct aws_shared_config *c = st->config;
    st->current = services ? section_get_or_add(&c->services, &c->services_count, name)
                           : section_get_or_add(&c->profiles, &c->count, name);
    return st->current ? 0 : parse_error(st, -EFBIG, "too many profiles (or out of memory)");
}

static int parse_property(struct parse_state *st, char *line)
{
    char *eq = strchr(line, '=');
    if (!eq)
        return parse_error(st, -EINVAL, "expected \"key = value\"");
    *eq = '\0';
    char *key = trim(line);
    if (!*key)
        return parse_error(st, -EINVAL, "a property without a name");
    if (!st->in_section)
        return parse_error(st, -EINVAL, "a property before any [profile] section");
    if (!st->current)
        return 0;
    for (char *k = key; *k; k++)
        *k = (char)tolower((unsigned char)*k);
    char *value = eq + 1;
    cut_comment(value);
    value = trim(value);
    if (st->in_services)
        snprintf(st->parent, sizeof(st->parent), "%s",
                 !*value && strlen(key) <= AWS_PROFILE_MAX_NAME ? key : "");
    int rc = profile_set(st->current, key, value);
    return rc < 0 ? parse_error(st, rc, "too many properties (or out of memory)") : 0;
}

/* An indented "key = value" under a service's key in a services section
 * ("lambda =\n  endpoint_url = ..."), kept as "lambda.endpoint_url". */
static int parse_nested(struct parse_state *st, char *line)
{
    char *eq = strchr(line, '=');
    if (!eq)
        return parse_error(st, -EINVAL, "expected \"key = value\" in a nested setting");
    *eq = '\0';
    char *key = trim(line), *value = eq + 1;
    if (!*key || strlen(key) > AWS_PROFILE_MAX_NAME)
        return parse_error(st, -EINVAL, "a nested setting without a name (or too long a one)");
    char full[AWS_PROFILE_MAX_NESTED_KEY + 1];
    snprintf(full, sizeof(full), "%s.%s", st->parent, key);
    for (char *k = full; *k; k++)
        *k = (char)tolower((unsigned char)*k);
    cut_comment(value);
    int rc = profile_set(st->current, full, trim(value));
    return rc < 0 ? parse_error(st, rc, "too many properties (or out of memory)") : 0;
}

static int parse_line(struct parse_state *st, char *line)
{
    if (line[0] == ' ' || line[0] == '\t') {
        char *rest = trim(line);
        if (!*rest || *rest == '#' || *rest == ';')
            return 0;
        if (!st->in_section)
            return parse_error(st, -EINVAL, "indented line outside a section");
        /* A continuation of the previous property: nested settings, kept
         * only where tether reads them (a service's settings). */
        return st->current && st->in_services && st->parent[0] ? parse_nested(st, rest) : 0;
    }
    char *text = trim(line);
    if (!*text || *text == '#' || *text == ';')
        return 0;
    if (*text == '[')
        return parse_section(st, text);
    return parse_property(st, text);
}

/* Adds one file's text (path is for messages); later keys replace earlier
 * ones, so the config file is parsed first and the credentials file second. */
static int parse_text(struct aws_shared_config *config, const char *text, size_t len,
                      enum aws_profile_file_kind kind, const char *path, char *cause,
                      size_t cause_len)
{
    struct parse_state st = {
        .config = config, .kind = kind, .path = path, .cause = cause, .cause_len = cause_len};
    if (len > AWS_PROFILE_MAX_FILE)
        return parse_error(&st, -EFBIG, "file too large");
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
        text += 3;
        len -= 3;
    }
    char *line = malloc(AWS_PROFILE_MAX_LINE + 1);
    if (!line)
        return -ENOMEM;
    int rc = 0;
    size_t i = 0;
    while (rc == 0 && i < len) {
        const char *end = memchr(text + i, '\n', len - i);
        size_t n = end ? (size_t)(end - (text + i)) : len - i;
        st.line_number++;
        if (n > AWS_PROFILE_MAX_LINE) {
            rc = parse_error(&st, -EFBIG, "line too long");
            break;
        }
        memcpy(line, text + i, n);
        line[n] = '\0';
        if (memchr(line, '\0', n))
            rc = parse_error(&st, -EINVAL, "NUL byte in the file");
        else
            rc = parse_line(&st, line);
        i += n + 1;
    }
    secure_wipe(line, AWS_PROFILE_MAX_LINE + 1);
    free(line);
    return rc;
}

/* ---- files ---- */

/* Expands a leading "~/" with $HOME into out. */
static int expand_path(const char *path, char *out, size_t out_len)
{
    const char *home = aws_env("HOME");
    int n;
    if (strncmp(path, "~/", 2) == 0 && home)
        n = snprintf(out, out_len, "%s/%s", home, path + 2);
    else
        n = snprintf(out, out_len, "%s", path);
    return n < 0 || (size_t)n >= out_len ? -ENAMETOOLONG : 0;
}

static int file_path(const char *variable, const char *default_name, char *out, size_t out_len)
{
    const char *set = aws_env(variable), *home = aws_env("HOME");
    if (set)
        return expand_path(set, out, out_len);
    if (!home) {
        out[0] = '\0';
        return -ENOENT;
    }
    int n = snprintf(out, out_len, "%s/.aws/%s", home, default_name);
    return n < 0 || (size_t)n >= out_len ? -ENAMETOOLONG : 0;
}

/* A missing file is no error: neither file has to exist. The whole cap is
 * reserved first so that the secrets are never left in a freed, grown copy. */
static int load_one(struct aws_shared_config *config, const char *path,
                    enum aws_profile_file_kind kind, char *cause, size_t cause_len)
{
    struct buf text = BUF_INIT;
    int rc = buf_reserve(&text, AWS_PROFILE_MAX_FILE + 1);
    if (rc == 0)
        rc = buf_read_file(&text, path, AWS_PROFILE_MAX_FILE);
    if (rc == 0)
        rc = parse_text(config, buf_bytes(&text), buf_length(&text), kind, path, cause, cause_len);
    else if (rc == -ENOENT || rc == -ENOTDIR)
        rc = 0;
    else
        snprintf(cause, cause_len, "%s: %s", path,
                 rc == -EFBIG ? "larger than 1 MiB"
                 : rc == -EIO ? "cannot read it"
                              : strerror(-rc));
    secure_free_buf(&text);
    return rc;
}

int aws_shared_config_load(struct aws_shared_config *out, char *cause, size_t cause_len)
{
    memset(out, 0, sizeof(*out));
    int rc = 0;
    if (file_path("AWS_CONFIG_FILE", "config", out->config_path, sizeof(out->config_path)) == 0)
        rc = load_one(out, out->config_path, AWS_PROFILE_CONFIG_FILE, cause, cause_len);
    if (rc == 0 && file_path("AWS_SHARED_CREDENTIALS_FILE", "credentials", out->credentials_path,
                             sizeof(out->credentials_path)) == 0)
        rc = load_one(out, out->credentials_path, AWS_PROFILE_CREDENTIALS_FILE, cause, cause_len);
    if (rc < 0)
        aws_shared_config_free(out);
    return rc;
}

const char *aws_profile_selected(const char *explicit_name)
{
    if (explicit_name && *explicit_name)
        return explicit_name;
    const char *name = aws_env("AWS_PROFILE");
    if (!name)
        name = aws_env("AWS_DEFAULT_PROFILE");
    return name ? name : "default";
}

const char *aws_env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

const char *aws_env_region(void)
{
    return aws_env("AWS_REGION") ? aws_env("AWS_REGION") : aws_env("AWS_DEFAULT_REGION");
}
