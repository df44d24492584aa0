#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum log_level current_level = LOG_LEVEL_INFO;
static int color_enabled;

static const char *const level_names[] = {"error", "warn", "info", "debug", "trace"};
static const char *const level_colors[] = {"\033[31m", "\033[33m", "\033[32m", "\033[36m",
                                           "\033[90m"};

int log_level_parse(const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i < (int)(sizeof(level_names) / sizeof(level_names[0])); i++)
        if (strcmp(name, level_names[i]) == 0)
            return i;
    if (strcmp(name, "warning") == 0)
        return LOG_LEVEL_WARN;
    return -1;
}

void log_init(int level_from_flag)
{
    int level = level_from_flag;
    if (level < 0)
        level = log_level_parse(getenv("TETHER_LOG"));
    if (level >= 0)
        current_level = (enum log_level)level;
    const char *no_color = getenv("NO_COLOR");
    color_enabled = isatty(STDERR_FILENO) && !(no_color && no_color[0]);
}

void log_set_level(enum log_level level)
{
    current_level = level;
}

enum log_level log_get_level(void)
{
    return current_level;
}

int log_use_color(void)
{
    return color_enabled;
}

void log_write(enum log_level level, const char *module, const char *fmt, ...)
{
    if (level > current_level)
        return;
    char line[2048];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    int n =
        snprintf(line, sizeof(line), "%02d:%02d:%02d.%03ld %s%-5s%s %s: ", tm.tm_hour, tm.tm_min,
                 tm.tm_sec, now.tv_nsec / 1000000, color_enabled ? level_colors[level] : "",
                 level_names[level], color_enabled ? "\033[0m" : "", module);
    va_list ap;
    va_start(ap, fmt);
    if (n >= 0 && (size_t)n < sizeof(line))
        n += vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(line) - 1)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    /* One write per line keeps lines whole when several processes share stderr. */
    ssize_t ignored = write(STDERR_FILENO, line, (size_t)n);
    (void)ignored;
}
