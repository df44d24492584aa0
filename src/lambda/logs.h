/* Function logs: each sandbox's stdout and stderr cut into lines, printed on
 * the service's stdout prefixed with the function's name, and the lines of
 * each invocation (START ... END, REPORT) kept as a 4 KB tail for
 * X-Amz-Log-Result.
 *
 * All structures here are caller-owned and hold no pointers to others. */
#ifndef TETHER_LAMBDA_LOGS_H
#define TETHER_LAMBDA_LOGS_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "core/buf.h"

#define LAMBDA_LOG_TAIL_BYTES 4096
#define LAMBDA_LOG_MAX_LINE (256 * 1024) /* longer lines are cut into pieces */

/* The last LAMBDA_LOG_TAIL_BYTES bytes of what was appended. */
struct lambda_log_tail {
    char data[LAMBDA_LOG_TAIL_BYTES];
    size_t len;
};

void lambda_log_tail_append(struct lambda_log_tail *tail, const char *data, size_t len);

/* Cuts a byte stream into lines ('\n' or '\r\n' removed). */
struct lambda_line_splitter {
    struct buf partial;
};

typedef void (*lambda_line_cb)(void *user, const char *line, size_t len);
void lambda_lines_init(struct lambda_line_splitter *s);
void lambda_lines_free(struct lambda_line_splitter *s);
void lambda_lines_feed(struct lambda_line_splitter *s, const char *data, size_t len,
                       lambda_line_cb cb, void *user);
/* Hands over a last line that had no newline. */
void lambda_lines_flush(struct lambda_line_splitter *s, lambda_line_cb cb, void *user);

/* The platform lines, formatted as Lambda writes them (no newline). */
int lambda_log_start_line(struct buf *out, const char *request_id);
int lambda_log_end_line(struct buf *out, const char *request_id);
/* init_ms < 0: no "Init Duration"; status NULL: a normal end, else e.g.
 * "timeout" or "error" with error_type ("Status: error Error Type: ..."). */
int lambda_log_report_line(struct buf *out, const char *request_id, double duration_ms,
                           unsigned memory_mb, unsigned max_used_mb, double init_ms,
                           const char *status, const char *error_type);
/* Billed duration: the duration rounded up to a whole millisecond (at least 1). */
unsigned long long lambda_billed_ms(double duration_ms);

/* Writes "[name] line\n" to out (the service's stdout) in one call. */
void lambda_log_print(FILE *out, const char *function_name, const char *line, size_t len);

/* Peak resident memory of a sandbox's runtime and every process it started,
 * in KiB (VmHWM from /proc/PID/status, summed over the process tree); 0 when
 * unknown. Linux only (memory_linux.c). */
unsigned long lambda_process_group_peak_kb(pid_t leader);

#endif
