/* Function log lines, platform lines and per-invocation tails. */
#include "lambda/logs.h"

#include <string.h>

void lambda_log_tail_append(struct lambda_log_tail *tail, const char *data, size_t len)
{
    if (len >= LAMBDA_LOG_TAIL_BYTES) {
        memcpy(tail->data, data + len - LAMBDA_LOG_TAIL_BYTES, LAMBDA_LOG_TAIL_BYTES);
        tail->len = LAMBDA_LOG_TAIL_BYTES;
        return;
    }
    if (tail->len + len > LAMBDA_LOG_TAIL_BYTES) {
        size_t drop = tail->len + len - LAMBDA_LOG_TAIL_BYTES;
        memmove(tail->data, tail->data + drop, tail->len - drop);
        tail->len -= drop;
    }
    memcpy(tail->data + tail->len, data, len);
    tail->len += len;
}

void lambda_lines_init(struct lambda_line_splitter *s)
{
    buf_init(&s->partial);
}

void lambda_lines_free(struct lambda_line_splitter *s)
{
    buf_free(&s->partial);
}

static void emit(const char *line, size_t len, lambda_line_cb cb, void *user)
{
    if (len > 0 && line[len - 1] == '\r')
        len--;
    cb(user, line, len);
}

void lambda_lines_feed(struct lambda_line_splitter *s, const char *data, size_t len,
                       lambda_line_cb cb, void *user)
{
    while (len > 0) {
        const char *nl = memchr(data, '\n', len);
        size_t take = nl ? (size_t)(nl - data) : len;
        size_t room = LAMBDA_LOG_MAX_LINE - buf_length(&s->partial);
        if (take > room) { /* cut an overlong line where the cap falls */
            take = room;
            nl = NULL;
        }
        if (buf_length(&s->partial) == 0 && nl) {
            emit(data, take, cb, user); /* the common case: no copy */
        } else {
            if (buf_append(&s->partial, data, take) < 0)
                buf_reset(&s->partial); /* out of memory: lose this line, keep going */
            if (nl || buf_length(&s->partial) >= LAMBDA_LOG_MAX_LINE) {
                emit(buf_bytes(&s->partial), buf_length(&s->partial), cb, user);
                buf_reset(&s->partial);
            }
        }
        data += take + (nl ? 1 : 0);
        len -= take + (nl ? 1 : 0);
    }
}

void lambda_lines_flush(struct lambda_line_splitter *s, lambda_line_cb cb, void *user)
{
    if (buf_length(&s->partial) == 0)
        return;
    emit(buf_bytes(&s->partial), buf_length(&s->partial), cb, user);
    buf_reset(&s->partial);
}

int lambda_log_start_line(struct buf *out, const char *request_id)
{
    return buf_printf(out, "START RequestId: %s Version: $LATEST", request_id);
}

int lambda_log_end_line(struct buf *out, const char *request_id)
{
    return buf_printf(out, "END RequestId: %s", request_id);
}

unsigned long long lambda_billed_ms(double duration_ms)
{
    /* Rounded up by hand: the library links without libm. */
    unsigned long long whole = duration_ms > 0 ? (unsigned long long)duration_ms : 0;
    if ((double)whole < duration_ms)
        whole++;
    return whole < 1 ? 1 : whole;
}

int lambda_log_report_line(struct buf *out, const char *request_id, double duration_ms,
                           unsigned memory_mb, unsigned max_used_mb, double init_ms,
                           const char *status, const char *error_type)
{
    int rc =
        buf_printf(out,
                   "REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %llu ms\t"
                   "Memory Size: %u MB\tMax Memory Used: %u MB",
                   request_id, duration_ms, lambda_billed_ms(duration_ms), memory_mb, max_used_mb);
    if (rc == 0 && init_ms >= 0)
        rc = buf_printf(out, "\tInit Duration: %.2f ms", init_ms);
    if (rc == 0 && status)
        rc = buf_printf(out, "\tStatus: %s", status);
    if (rc == 0 && status && error_type && *error_type)
        rc = buf_printf(out, "\tError Type: %s", error_type);
    return rc;
}

void lambda_log_print(FILE *out, const char *function_name, const char *line, size_t len)
{
    fprintf(out, "[%s] %.*s\n", function_name, (int)len, line);
    fflush(out);
}
