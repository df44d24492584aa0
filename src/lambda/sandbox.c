/* Sandboxes: one runtime process each, in its own process group, with its
 * own Runtime API listener on 127.0.0.1 (AWS_LAMBDA_RUNTIME_API is host:port,
 * so a port per sandbox is how a request is known to come from that sandbox
 * without trusting anything the runtime sends). */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LOG_MODULE "lambda"
#include "core/encoding.h"
#include "core/log.h"
#include "core/random.h"
#include "lambda/environment.h"
#include "lambda/lambda_internal.h"

#define SANDBOX_HANDLES 5 /* timer, two pipes, process, Runtime API server */
#define DRAIN_MAX_READS 64

static void on_timer(uv_timer_t *timer);
static unsigned memory_used_mb(struct lambda_sandbox *sb);

static const char *const sandbox_state_names[] = {"starting",  "idle",     "busy",
                                                  "finishing", "stopping", "exited"};

const char *lambda_sandbox_state_name(enum lambda_sandbox_state state)
{
    return sandbox_state_names[state];
}

void lambda_sandbox_enter_state(struct lambda_sandbox *sb, enum lambda_sandbox_state state)
{
    if (sb->state == state)
        return;
    log_debug("%s sandbox %.8s: %s -> %s", sb->function->config->name, sb->id,
              sandbox_state_names[sb->state], sandbox_state_names[state]);
    sb->state = state;
}

static struct lambda_service *service_of(struct lambda_sandbox *sb)
{
    return sb->function->service;
}

/* ---- logs ---- */

void lambda_sandbox_log(struct lambda_sandbox *sb, struct lambda_invocation *inv, const char *line,
                        size_t len)
{
    struct lambda_service *service = service_of(sb);
    lambda_log_print(service->log_out, sb->function->config->name, line, len);
    /* A sandbox runs one invocation at a time, so INV is the request that
     * printed this line, even while other sandboxes of the function run. */
    if (service->on_log)
        service->on_log(service->user, sb->function->config->name, inv ? inv->request_id : NULL,
                        line, len);
    if (inv)
        lambda_invocation_log(inv, line, len);
}

static void log_text(struct lambda_sandbox *sb, struct lambda_invocation *inv, struct buf *line)
{
    lambda_sandbox_log(sb, inv, buf_bytes(line), buf_length(line));
    buf_reset(line);
}

static void on_output_line(void *user, const char *line, size_t len)
{
    struct lambda_sandbox *sb = user;
    lambda_sandbox_log(sb, sb->current, line, len);
}

static char pipe_buffer[64 * 1024];

static void alloc_pipe_buffer(uv_handle_t *handle, size_t suggested, uv_buf_t *out)
{
    (void)handle;
    (void)suggested;
    /* One buffer for every pipe: libuv reads into it and calls on_pipe_read at once. */
    *out = uv_buf_init(pipe_buffer, sizeof(pipe_buffer));
}

static struct lambda_line_splitter *splitter_of(struct lambda_sandbox *sb, uv_stream_t *stream)
{
    return stream == (uv_stream_t *)&sb->out_pipe ? &sb->out_lines : &sb->err_lines;
}

static void on_pipe_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *b)
{
    struct lambda_sandbox *sb = stream->data;
    struct lambda_line_splitter *lines = splitter_of(sb, stream);
    if (nread > 0) {
        lambda_lines_feed(lines, b->base, (size_t)nread, on_output_line, sb);
    } else if (nread < 0) {
        lambda_lines_flush(lines, on_output_line, sb);
        uv_read_stop(stream);
    }
}

/* Reads what the runtime already wrote, now: a handler's last lines are in
 * the pipe before its answer reaches us, but the loop may deliver the answer
 * first. poll() with no wait keeps this from ever blocking. */
static void drain_pipe(struct lambda_sandbox *sb, uv_pipe_t *pipe)
{
    uv_os_fd_t fd;
    if (uv_is_closing((uv_handle_t *)pipe) || uv_fileno((uv_handle_t *)pipe, &fd) != 0)
        return;
    for (int i = 0; i < DRAIN_MAX_READS; i++) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 0) <= 0 || !(p.revents & POLLIN))
            return;
        ssize_t n = read(fd, pipe_buffer, sizeof(pipe_buffer));
        if (n <= 0)
            return;
        lambda_lines_feed(splitter_of(sb, (uv_stream_t *)pipe), pipe_buffer, (size_t)n,
                          on_output_line, sb);
    }
}

static void drain_output(struct lambda_sandbox *sb)
{
    drain_pipe(sb, &sb->out_pipe);
    drain_pipe(sb, &sb->err_pipe);
}

/* ---- teardown ---- */

static void free_sandbox(struct lambda_sandbox *sb)
{
    struct lambda_service *service = service_of(sb);
    lambda_lines_free(&sb->out_lines);
    lambda_lines_free(&sb->err_lines);
    lambda_environment_free(sb->env_override);
    free(sb);
    service->sandboxes_alive--;
    lambda_service_check_stopped(service);
}

static void handle_closed(struct lambda_sandbox *sb)
{
    if (--sb->handles_open == 0)
        free_sandbox(sb);
}

static void on_handle_closed(uv_handle_t *handle)
{
    handle_closed(handle->data);
}

static void on_runtime_api_closed(void *user)
{
    handle_closed(user);
}

/* Closes everything; the sandbox is freed when the last handle is closed. */
static void teardown(struct lambda_sandbox *sb)
{
    lambda_sandbox_enter_state(sb, LAMBDA_SANDBOX_EXITED);
    uv_timer_stop(&sb->timer);
    uv_close((uv_handle_t *)&sb->timer, on_handle_closed);
    uv_close((uv_handle_t *)&sb->out_pipe, on_handle_closed);
    uv_close((uv_handle_t *)&sb->err_pipe, on_handle_closed);
    uv_close((uv_handle_t *)&sb->process, on_handle_closed);
    http_server_close(sb->runtime_api, on_runtime_api_closed, sb);
    if (sb->linked)
        lambda_function_sandbox_gone(sb->function, sb);
}

/* ---- the process ends ---- */

static const char *signal_description(int signum)
{
    /* The words Lambda prints (Go's names for the signals). */
    switch (signum) {
    case SIGKILL:
        return "killed";
    case SIGTERM:
        return "terminated";
    case SIGSEGV:
        return "segmentation fault";
    case SIGABRT:
        return "aborted";
    case SIGINT:
        return "interrupt";
    case SIGBUS:
        return "bus error";
    case SIGFPE:
        return "floating point exception";
    case SIGILL:
        return "illegal instruction";
    case SIGPIPE:
        return "broken pipe";
    default:
        return "signal";
    }
}

static void exit_message(char *out, size_t out_len, const char *request_id, int64_t status,
                         int term_signal)
{
    if (term_signal)
        snprintf(out, out_len, "RequestId: %s Error: Runtime exited with error: signal: %s",
                 request_id, signal_description(term_signal));
    else if (status)
        snprintf(out, out_len, "RequestId: %s Error: Runtime exited with error: exit status %lld",
                 request_id, (long long)status);
    else
        snprintf(out, out_len, "RequestId: %s Error: Runtime exited without providing a reason",
                 request_id);
}

static void fail_with_exit(struct lambda_sandbox *sb, struct lambda_invocation *inv, int64_t status,
                           int term_signal)
{
    char message[256];
    exit_message(message, sizeof(message), inv->request_id, status, term_signal);
    lambda_sandbox_log(sb, inv, message, strlen(message));
    lambda_sandbox_log(sb, inv, "Runtime.ExitError", strlen("Runtime.ExitError"));
    lambda_invocation_fail_message(inv, "Runtime.ExitError", message);
}

static void on_process_exit(uv_process_t *process, int64_t status, int term_signal)
{
    struct lambda_sandbox *sb = process->data;
    sb->process_running = 0;
    /* Whatever the runtime left behind in its group goes with it. */
    kill(-process->pid, SIGKILL);
    drain_output(sb);
    lambda_lines_flush(&sb->out_lines, on_output_line, sb);
    lambda_lines_flush(&sb->err_lines, on_output_line, sb);
    if (sb->state != LAMBDA_SANDBOX_STOPPING)
        log_info("%s sandbox %.8s: runtime exited (status %lld, signal %d)",
                 sb->function->config->name, sb->id, (long long)status, term_signal);
    if (sb->current && sb->current->state == LAMBDA_INVOCATION_RUNNING)
        fail_with_exit(sb, sb->current, status, term_signal);
    if (sb->bound)
        fail_with_exit(sb, sb->bound, status, term_signal);
    teardown(sb);
}

void lambda_sandbox_stop(struct lambda_sandbox *sb, const char *why)
{
    if (sb->state == LAMBDA_SANDBOX_STOPPING || sb->state == LAMBDA_SANDBOX_EXITED)
        return;
    log_debug("%s sandbox %.8s: stopping: %s", sb->function->config->name, sb->id, why);
    lambda_sandbox_enter_state(sb, LAMBDA_SANDBOX_STOPPING);
    if (sb->process_running)
        kill(-sb->process.pid, SIGTERM);
    uv_timer_start(&sb->timer, on_timer, LAMBDA_KILL_GRACE_MS, 0);
    /* One fewer live sandbox: queued work may start a replacement. */
    lambda_function_kick(sb->function);
}

/* ---- timers ---- */

static void timeout_message(char *out, size_t out_len, const char *request_id, unsigned seconds)
{
    char now[32];
    lambda_iso_time(lambda_now_epoch_ms(), now);
    snprintf(out, out_len, "%s %s Task timed out after %u.00 seconds", now, request_id, seconds);
}

static void init_report(struct lambda_sandbox *sb, const char *status, const char *error_type)
{
    struct buf line = BUF_INIT;
    double init_ms = (double)(uv_hrtime() - sb->spawned_ns) / 1e6;
    buf_printf(&line, "INIT_REPORT Init Duration: %.2f ms\tPhase: init\tStatus: %s", init_ms,
               status);
    if (error_type && *error_type)
        buf_printf(&line, "\tError Type: %s", error_type);
    log_text(sb, sb->bound, &line);
    buf_free(&line);
}

static void on_invocation_timeout(struct lambda_sandbox *sb)
{
    struct lambda_invocation *inv = sb->current;
    char message[200];
    timeout_message(message, sizeof(message), inv->request_id, sb->function->config->timeout_s);
    lambda_sandbox_log(sb, inv, message, strlen(message));
    lambda_invocation_fail_message(inv, "Sandbox.Timedout", message);
    lambda_sandbox_stop(sb, "invocation timed out");
}

static void on_init_timeout(struct lambda_sandbox *sb)
{
    init_report(sb, "timeout", NULL);
    if (sb->bound) {
        char message[200];
        timeout_message(message, sizeof(message), sb->bound->request_id,
                        service_of(sb)->config->init_timeout_s);
        lambda_invocation_fail_message(sb->bound, "Sandbox.Timedout", message);
    }
    lambda_sandbox_stop(sb, "init timed out");
}

static void on_timer(uv_timer_t *timer)
{
    struct lambda_sandbox *sb = timer->data;
    switch (sb->state) {
    case LAMBDA_SANDBOX_STARTING:
        on_init_timeout(sb);
        break;
    case LAMBDA_SANDBOX_BUSY:
        if (sb->current)
            on_invocation_timeout(sb);
        break;
    case LAMBDA_SANDBOX_FINISHING:
        lambda_sandbox_stop(sb, "no /next before the deadline");
        break;
    case LAMBDA_SANDBOX_IDLE:
        lambda_sandbox_stop(sb, "idle");
        break;
    case LAMBDA_SANDBOX_STOPPING:
        if (sb->process_running)
            kill(-sb->process.pid, SIGKILL);
        break;
    case LAMBDA_SANDBOX_EXITED:
        break;
    }
}

/* ---- starting ---- */

static int start_runtime_api(struct lambda_sandbox *sb, char *cause, size_t cause_len)
{
    char name[64];
    snprintf(name, sizeof(name), "runtime-api %.8s", sb->id);
    struct http_server_config config = {
        .name = name,
        .host = "127.0.0.1",
        .port = 0,
        .max_body_bytes = LAMBDA_RESPONSE_MAX,
        .max_connections = 32,
        /* Runtimes keep connections open between invocations and stream
         * answers at their own pace; the invocation deadline bounds them. */
        .head_timeout_ms = 0,
        .body_timeout_ms = 0,
    };
    int rc = http_server_start(service_of(sb)->conns, &config, &lambda_runtime_api_callbacks, sb,
                               &sb->runtime_api, cause, cause_len);
    if (rc == 0)
        sb->runtime_port = http_server_port(sb->runtime_api);
    return rc;
}

static int build_environment(struct lambda_sandbox *sb, char ***env)
{
    struct lambda_service *service = service_of(sb);
    char api[32];
    snprintf(api, sizeof(api), "127.0.0.1:%u", sb->runtime_port);
    struct lambda_environment_input in = {
        .config = service->config,
        .function = sb->function->config,
        .sandbox_id = sb->id,
        .runtime_api = api,
        .now = time(NULL),
        .inherited_path = getenv("PATH"),
        .inherited_access_key_id = getenv("AWS_ACCESS_KEY_ID"),
        .inherited_secret_access_key = getenv("AWS_SECRET_ACCESS_KEY"),
        .inherited_session_token = getenv("AWS_SESSION_TOKEN"),
        .overrides = sb->env_override,
    };
    lambda_log_stream_name(sb->log_stream, sizeof(sb->log_stream), in.now, sb->id);
    return lambda_environment_build(&in, env);
}

/* ---- a debugger port per sandbox ---- */

#define DEBUG_PORT_TRIES 200

static int port_held(struct lambda_service *service, uint16_t port)
{
    for (struct lambda_function *f = lambda_service_next_function(service, NULL); f;
         f = lambda_service_next_function(service, f))
        for (const struct lambda_sandbox *o = f->sandboxes; o; o = o->next)
            if (o->debug_port == port)
                return 1;
    return 0;
}

static int port_free(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* Concurrent workers each need their own port: a second Node process on
 * the same --inspect port fails to bind and runs without a debugger. The
 * lowest port not held by a sandbox of this service and free on loopback. */
static uint16_t pick_debug_port(const struct lambda_sandbox *sb)
{
    unsigned first = sb->function->config->debug_port;
    for (unsigned p = first; p < first + DEBUG_PORT_TRIES && p <= 65535; p++)
        if (!port_held(service_of((struct lambda_sandbox *)sb), (uint16_t)p) &&
            port_free((uint16_t)p))
            return (uint16_t)p;
    return 0;
}

/* Sets (or replaces) the debugger's variable in a built environment. */
static int set_debug_env(struct lambda_sandbox *sb, char ***env)
{
    const struct lambda_function_config *f = sb->function->config;
    if (!f->debug_port || !f->debug_env)
        return 0;
    if (!(sb->debug_port = pick_debug_port(sb))) {
        log_warn("%s: no free debugger port from %u: sandbox %.8s runs without one", f->name,
                 f->debug_port, sb->id);
        return 0;
    }
    size_t n = 0, name_len = strlen(f->debug_env);
    while ((*env)[n] &&
           !(strncmp((*env)[n], f->debug_env, name_len) == 0 && (*env)[n][name_len] == '='))
        n++;
    char *line = NULL;
    if (asprintf(&line, "%s=%s%u", f->debug_env, f->debug_prefix ? f->debug_prefix : "",
                 sb->debug_port) < 0)
        return -ENOMEM;
    if (!(*env)[n]) {
        char **grown = realloc(*env, (n + 2) * sizeof(**env));
        if (!grown) {
            free(line);
            return -ENOMEM;
        }
        *env = grown;
        grown[n + 1] = NULL;
    } else {
        free((*env)[n]);
    }
    (*env)[n] = line;
    return 0;
}

/* A deployed function with layers starts through tether itself, which
 * mounts them at /opt for the runtime alone (opt_mount.c). *wrapped is
 * freed by the caller. */
static char **command_of(const struct lambda_function_config *f, char ***wrapped)
{
    *wrapped = f->opt_dir ? lambda_opt_argv("/proc/self/exe", f->opt_dir, f->bootstrap) : NULL;
    return *wrapped ? *wrapped : f->bootstrap;
}

static int spawn(struct lambda_sandbox *sb, char **env, char *cause, size_t cause_len)
{
    const struct lambda_function_config *f = sb->function->config;
    char **wrapped;
    char **command = command_of(f, &wrapped);
    uv_loop_t *loop = service_of(sb)->loop;
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_IGNORE},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&sb->out_pipe},
        {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE, .data.stream = (uv_stream_t *)&sb->err_pipe},
    };
    uv_process_options_t options = {
        .exit_cb = on_process_exit,
        .file = command[0],
        .args = command,
        .env = env,
        .cwd = f->working_dir,
        /* setsid(): its own session and process group, so one signal reaches
         * everything the runtime starts. */
        .flags = UV_PROCESS_DETACHED,
        .stdio_count = 3,
        .stdio = stdio,
    };
    int rc = uv_spawn(loop, &sb->process, &options);
    free(wrapped);
    if (rc < 0) {
        snprintf(cause, cause_len, "fork/exec %s: %s", f->bootstrap[0], uv_strerror(rc));
        return rc;
    }
    sb->process_running = 1;
    uv_read_start((uv_stream_t *)&sb->out_pipe, alloc_pipe_buffer, on_pipe_read);
    uv_read_start((uv_stream_t *)&sb->err_pipe, alloc_pipe_buffer, on_pipe_read);
    return 0;
}

static struct lambda_sandbox *sandbox_new(struct lambda_function *function)
{
    struct lambda_sandbox *sb = calloc(1, sizeof(*sb));
    if (!sb)
        return NULL;
    unsigned char id[16];
    random_bytes(id, sizeof(id));
    hex_encode(sb->id, id, sizeof(id));
    sb->function = function;
    sb->generation = function->generation;
    sb->state = LAMBDA_SANDBOX_STARTING;
    sb->init_ms = -1;
    lambda_lines_init(&sb->out_lines);
    lambda_lines_init(&sb->err_lines);
    function->service->sandboxes_alive++;
    return sb;
}

static void init_handles(struct lambda_sandbox *sb)
{
    uv_loop_t *loop = service_of(sb)->loop;
    uv_timer_init(loop, &sb->timer);
    uv_pipe_init(loop, &sb->out_pipe, 0);
    uv_pipe_init(loop, &sb->err_pipe, 0);
    sb->timer.data = sb;
    sb->out_pipe.data = sb;
    sb->err_pipe.data = sb;
    sb->process.data = sb;
    sb->handles_open = SANDBOX_HANDLES;
}

static char **copy_env(char *const *env)
{
    size_t n = 0;
    while (env && env[n])
        n++;
    char **copy = calloc(n + 1, sizeof(*copy));
    for (size_t i = 0; copy && i < n; i++)
        if (!(copy[i] = strdup(env[i]))) {
            lambda_environment_free(copy);
            return NULL;
        }
    return copy;
}

int lambda_sandbox_start(struct lambda_function *function, struct lambda_invocation *bound,
                         char *cause, size_t cause_len)
{
    struct lambda_sandbox *sb = sandbox_new(function);
    if (!sb) {
        snprintf(cause, cause_len, "out of memory");
        return -ENOMEM;
    }
    if (bound && bound->affinity[0]) {
        snprintf(sb->affinity, sizeof(sb->affinity), "%s", bound->affinity);
        sb->env_override = copy_env(bound->env_override);
    }
    int rc = start_runtime_api(sb, cause, cause_len);
    if (rc < 0) {
        free_sandbox(sb);
        return rc;
    }
    init_handles(sb);
    char **env = NULL;
    rc = build_environment(sb, &env);
    if (rc == 0)
        rc = set_debug_env(sb, &env);
    if (rc < 0)
        snprintf(cause, cause_len, "out of memory");
    if (rc == 0)
        rc = spawn(sb, env, cause, cause_len);
    lambda_environment_free(env);
    if (rc < 0) {
        /* A failed uv_spawn still leaves the process handle to close. */
        teardown(sb);
        return rc;
    }
    sb->spawned_ns = uv_hrtime();
    sb->next = function->sandboxes;
    function->sandboxes = sb;
    sb->linked = 1;
    sb->bound = bound;
    if (bound)
        bound->sandbox = sb;
    uv_timer_start(&sb->timer, on_timer, (uint64_t)service_of(sb)->config->init_timeout_s * 1000,
                   0);
    log_info("%s: sandbox %s started (pid %d, AWS_LAMBDA_RUNTIME_API=127.0.0.1:%u)",
             function->config->name, sb->id, sb->process.pid, sb->runtime_port);
    if (sb->debug_port && service_of(sb)->on_debugger)
        service_of(sb)->on_debugger(service_of(sb)->user, function->config->name, sb->id,
                                    sb->debug_port);
    return 0;
}

/* ---- work ---- */

void lambda_sandbox_ready(struct lambda_sandbox *sb)
{
    if (sb->state == LAMBDA_SANDBOX_STARTING)
        sb->init_ms = (double)(uv_hrtime() - sb->spawned_ns) / 1e6;
    if (sb->state != LAMBDA_SANDBOX_STARTING && sb->state != LAMBDA_SANDBOX_FINISHING)
        return;
    lambda_sandbox_enter_state(sb, LAMBDA_SANDBOX_IDLE);
    uv_timer_start(&sb->timer, on_timer, service_of(sb)->idle_timeout_ms, 0);
    lambda_function_sandbox_ready(sb->function, sb);
}

void lambda_sandbox_dispatch(struct lambda_sandbox *sb, struct lambda_invocation *inv)
{
    const struct lambda_function_config *f = sb->function->config;
    struct http_exchange *ex = sb->waiting_next;
    sb->waiting_next = NULL;
    sb->current = inv;
    inv->sandbox = sb;
    inv->start_ns = uv_hrtime();
    uint64_t now = lambda_now_epoch_ms();
    uint64_t timeout_ms = (uint64_t)f->timeout_s * 1000;
    /* A live invocation keeps the deadline the real Lambda gave it. */
    if (inv->deadline_given && inv->deadline_epoch_ms > now)
        timeout_ms = inv->deadline_epoch_ms - now;
    else
        inv->deadline_epoch_ms = now + timeout_ms;
    lambda_invocation_enter_state(inv, LAMBDA_INVOCATION_RUNNING);
    lambda_sandbox_enter_state(sb, LAMBDA_SANDBOX_BUSY);
    uv_timer_start(&sb->timer, on_timer, timeout_ms, 0);
    memory_used_mb(sb); /* a reading before the handler runs, in case it crashes */
    struct buf line = BUF_INIT;
    lambda_log_start_line(&line, inv->request_id);
    inv->started = 1;
    log_text(sb, inv, &line);
    buf_free(&line);
    if (!ex || lambda_runtime_api_send_next(ex, inv) < 0)
        log_warn("%s sandbox %.8s: could not hand over %s: the runtime's connection is gone",
                 f->name, sb->id, inv->request_id);
}

static const char *report_status(const struct lambda_invocation *inv)
{
    if (inv->outcome != LAMBDA_OUTCOME_ERROR)
        return NULL;
    if (strcmp(inv->error_type, "Sandbox.Timedout") == 0)
        return "timeout";
    /* Lambda adds a status for errors of the platform, not for a handler's own. */
    if (strncmp(inv->error_type, "Runtime.", 8) == 0 ||
        strncmp(inv->error_type, "Function.", 9) == 0)
        return "error";
    return NULL;
}

/* Peak memory so far; the last reading once the process is gone. */
static unsigned memory_used_mb(struct lambda_sandbox *sb)
{
    if (sb->process_running) {
        unsigned long kb = lambda_process_group_peak_kb(sb->process.pid);
        if (kb > 0)
            sb->memory_mb = (unsigned)((kb + 1023) / 1024);
    }
    return sb->memory_mb;
}

void lambda_sandbox_end_invocation(struct lambda_sandbox *sb, struct lambda_invocation *inv)
{
    const struct lambda_function_config *f = sb->function->config;
    struct buf line = BUF_INIT;
    drain_output(sb);
    if (!inv->started) { /* a cold start that failed before the runtime asked for work */
        inv->started = 1;
        inv->start_ns = uv_hrtime();
        lambda_log_start_line(&line, inv->request_id);
        log_text(sb, inv, &line);
    }
    double duration_ms = (double)(uv_hrtime() - inv->start_ns) / 1e6;
    double init_ms = !sb->init_reported ? sb->init_ms : -1;
    sb->init_reported = 1;
    lambda_log_end_line(&line, inv->request_id);
    log_text(sb, inv, &line);
    const char *status = report_status(inv);
    lambda_log_report_line(&line, inv->request_id, duration_ms, f->memory_mb, memory_used_mb(sb),
                           init_ms, status, status ? inv->error_type : NULL);
    log_text(sb, inv, &line);
    buf_free(&line);
    if (sb->current == inv)
        sb->current = NULL;
    if (sb->bound == inv)
        sb->bound = NULL;
    inv->sandbox = NULL;
    snprintf(sb->last_request_id, sizeof(sb->last_request_id), "%s", inv->request_id);
    if (sb->state == LAMBDA_SANDBOX_BUSY)
        lambda_sandbox_enter_state(sb, LAMBDA_SANDBOX_FINISHING);
}

void lambda_sandbox_init_failed(struct lambda_sandbox *sb, const char *error_type, const char *body,
                                size_t body_len)
{
    init_report(sb, "error", error_type);
    if (sb->bound)
        lambda_invocation_fail(sb->bound, error_type, body, body_len);
    lambda_sandbox_stop(sb, "init error");
}
