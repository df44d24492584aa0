/* Logging: one process-wide level and sink (stderr).
 *
 * Levels come from the command line (--log-level) or TETHER_LOG; colour is used
 * only when stderr is a terminal and NO_COLOR is unset. Only main and the cmd_*
 * layer decide the level; every module just calls the macros below. */
#ifndef TETHER_CORE_LOG_H
#define TETHER_CORE_LOG_H

#include <stdarg.h>

enum log_level {
    LOG_LEVEL_ERROR = 0,
    LOG_LEVEL_WARN = 1,
    LOG_LEVEL_INFO = 2,
    LOG_LEVEL_DEBUG = 3,
    LOG_LEVEL_TRACE = 4,
};

/* Sets the level and decides colour; reads TETHER_LOG and NO_COLOR. A level
 * given here (>= 0) wins over TETHER_LOG. */
void log_init(int level_from_flag);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Parses "error|warn|info|debug|trace"; returns -1 for anything else. */
int log_level_parse(const char *name);
int log_use_color(void);

void log_write(enum log_level level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_enabled(level) ((level) <= log_get_level())
#define log_error(...) log_write(LOG_LEVEL_ERROR, LOG_MODULE, __VA_ARGS__)
#define log_warn(...) log_write(LOG_LEVEL_WARN, LOG_MODULE, __VA_ARGS__)
#define log_info(...)                                                                              \
    do {                                                                                           \
        if (log_enabled(LOG_LEVEL_INFO))                                                           \
            log_write(LOG_LEVEL_INFO, LOG_MODULE, __VA_ARGS__);                                    \
    } while (0)
#define log_debug(...)                                                                             \
    do {                                                                                           \
        if (log_enabled(LOG_LEVEL_DEBUG))                                                          \
            log_write(LOG_LEVEL_DEBUG, LOG_MODULE, __VA_ARGS__);                                   \
    } while (0)
#define log_trace(...)                                                                             \
    do {                                                                                           \
        if (log_enabled(LOG_LEVEL_TRACE))                                                          \
            log_write(LOG_LEVEL_TRACE, LOG_MODULE, __VA_ARGS__);                                   \
    } while (0)

#endif
