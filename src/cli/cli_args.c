/* Argument helpers shared by the commands (declared in cli/commands.h). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"

int cli_parse_listen(const char *text, char *host, size_t host_len, uint16_t *port)
{
    const char *colon = strrchr(text, ':');
    if (!colon || colon == text || (size_t)(colon - text) >= host_len)
        return -EINVAL;
    char *end;
    long value = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || value < 0 || value > 65535)
        return -EINVAL;
    size_t len = (size_t)(colon - text);
    if (text[0] == '[' && len > 2 && text[len - 1] == ']') { /* [::1]:7070 */
        text++;
        len -= 2;
    }
    memcpy(host, text, len);
    host[len] = '\0';
    *port = (uint16_t)value;
    return 0;
}

char *cli_read_file(const char *path, char *cause, size_t cause_len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(cause, cause_len, "cannot open %s: %m", path);
        return NULL;
    }
    char *text = calloc(1, 65537);
    size_t n = text ? fread(text, 1, 65536, f) : 0;
    int too_big = text && n == 65536 && fgetc(f) != EOF;
    fclose(f);
    if (!text || too_big) {
        snprintf(cause, cause_len, "%s is larger than 64 KiB", path);
        free(text);
        return NULL;
    }
    return text;
}
