/* The privileged setup and the helper protocol (see privileged.h). */
#include "tun/privileged.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pwd.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define LOG_MODULE "tun"
#include "core/child.h"
#include "core/log.h"
#include "core/random.h"
#include "tun/install.h"
#include "tun/options.h"
#include "tun/policy.h"

#define HELPER_TIMEOUT_MS 30000
#define SOCKET_PREFIX "tether-tun-"
#define HELPER_ARGS_MAX (16 + 2 * (TUN_DEVICE_MAX_ROUTES + TUN_DNS_MAX_DOMAINS))

extern char **environ;

/* What the privileged setup hands back: the descriptors (the caller's until
 * stored in the config) and what became of DNS registration. */
struct tun_privileged {
    int device_fd, dns_fd4, dns_fd6;
    char resolved_note[512]; /* what was registered, or what to configure */
};

struct helper_message {
    int32_t status; /* 0 or -errno */
    int32_t fd_count;
    int32_t has_fd[3]; /* device, dns4, dns6 */
    char note[512];
    char cause[512];
};

static void tun_privileged_init(struct tun_privileged *p)
{
    memset(p, 0, sizeof(*p));
    p->device_fd = p->dns_fd4 = p->dns_fd6 = -1;
}

static void tun_privileged_close(struct tun_privileged *p)
{
    int *fds[] = {&p->device_fd, &p->dns_fd4, &p->dns_fd6};
    for (size_t i = 0; i < 3; i++) {
        if (*fds[i] >= 0)
            close(*fds[i]);
        *fds[i] = -1;
    }
}

/* ---- systemd-resolved ---- */

static const char *find_resolvectl(void)
{
    static const char *const paths[] = {"/usr/bin/resolvectl", "/bin/resolvectl"};
    for (size_t i = 0; i < 2; i++)
        if (access(paths[i], X_OK) == 0)
            return paths[i];
    return NULL;
}

static int resolved_running(void)
{
    return access("/run/systemd/resolve/io.systemd.Resolve", F_OK) == 0 ||
           access("/run/systemd/resolve/stub-resolv.conf", F_OK) == 0;
}

/* Runs resolvectl with an empty environment; 0 or -EIO. */
static int run_resolvectl(const char *path, char **argv)
{
    char *empty_env[] = {NULL};
    pid_t pid;
    int rc = child_spawn(&pid, path, 0, NULL, argv, empty_env);
    if (rc < 0)
        return rc;
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

static void dns_instructions(const struct tun_config *c, char *note, size_t note_len)
{
    char addr[64];
    tun_addr_format(4, c->device.addr4, addr, sizeof(addr));
    snprintf(note, note_len,
             "systemd-resolved is not running: send the VPC domains to %s yourself (dnsmasq: "
             "server=/%s/%s; or `nameserver %s` in /etc/resolv.conf with --dns-all)",
             addr, c->dns.domain_count ? c->dns.domains[0] : "vpc.internal", addr, addr);
}

/* resolvectl takes a name or an index for the interface; a name such as
 * "2" would be read as an index (another interface), so it always gets
 * the index of the device just created. */
static int tun_resolved_register(const struct tun_config *c, const struct tun_device *device,
                                 char *note, size_t note_len)
{
    if (!c->dns.enabled || (!c->dns.domain_count && !c->dns.all) || !c->device.has_ipv4) {
        snprintf(note, note_len, "no DNS domains to register");
        return 0;
    }
    const char *path = find_resolvectl();
    if (!path || !resolved_running()) {
        dns_instructions(c, note, note_len);
        return 0;
    }
    if (device->ifindex <= 0) {
        snprintf(note, note_len, "%s has no interface index; DNS not registered", device->name);
        return -ENODEV;
    }
    char addr[64], index[16], names[TUN_DNS_MAX_DOMAINS + 1][TUN_DNS_NAME_MAX + 1];
    tun_addr_format(4, c->device.addr4, addr, sizeof(addr));
    snprintf(index, sizeof(index), "%d", device->ifindex);
    char *dns_argv[] = {(char *)path, "dns", index, addr, NULL};
    char *domain_argv[TUN_DNS_MAX_DOMAINS + 5] = {(char *)path, "domain", index};
    size_t n = 3;
    for (size_t i = 0; i < c->dns.domain_count; i++) {
        snprintf(names[i], sizeof(names[i]), "~%s", c->dns.domains[i]);
        domain_argv[n++] = names[i];
    }
    if (c->dns.all)
        domain_argv[n++] = "~.";
    domain_argv[n] = NULL;
    if (run_resolvectl(path, dns_argv) < 0 || run_resolvectl(path, domain_argv) < 0) {
        snprintf(note, note_len, "resolvectl could not register %s's DNS settings", device->name);
        return -EIO;
    }
    snprintf(note, note_len, "registered %zu domain(s) with systemd-resolved on %s (resolvectl)",
             c->dns.domain_count, device->name);
    return 1;
}

/* ---- the setup itself ---- */

static int tun_privileged_setup(const struct tun_config *c, struct tun_privileged *out, char *cause,
                                size_t cause_len)
{
    tun_privileged_init(out);
    struct tun_device device;
    int rc = tun_device_open(&c->device, &device, cause, cause_len);
    if (rc < 0)
        return rc;
    out->device_fd = device.fd;
    if (c->dns.enabled && c->device.has_ipv4) {
        out->dns_fd4 = tun_dns_bind(4, c->device.addr4, cause, cause_len);
        if (out->dns_fd4 < 0) {
            rc = out->dns_fd4;
            tun_privileged_close(out);
            return rc;
        }
    }
    if (c->dns.enabled && c->device.has_ipv6)
        out->dns_fd6 = tun_dns_bind(6, c->device.addr6, cause, cause_len);
    tun_resolved_register(c, &device, out->resolved_note, sizeof(out->resolved_note));
    return 0;
}

/* ---- passing descriptors ---- */

static int send_result(int sock, const struct helper_message *m, const int *fds, int count)
{
    char control[CMSG_SPACE(3 * sizeof(int))];
    memset(control, 0, sizeof(control));
    struct iovec iov = {(void *)m, sizeof(*m)};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    if (count > 0) {
        msg.msg_control = control;
        msg.msg_controllen = CMSG_SPACE(count * sizeof(int));
        struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(count * sizeof(int));
        memcpy(CMSG_DATA(cm), fds, count * sizeof(int));
    }
    return sendmsg(sock, &msg, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

static int receive_result(int sock, struct helper_message *m, int *fds, int *count)
{
    char control[CMSG_SPACE(3 * sizeof(int))];
    struct iovec iov = {m, sizeof(*m)};
    struct msghdr msg = {.msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = control,
                         .msg_controllen = sizeof(control)};
    ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    if (n != (ssize_t)sizeof(*m))
        return n < 0 ? -errno : -EPROTO;
    *count = 0;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        size_t got = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < got; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
            if (*count < 3)
                fds[(*count)++] = fd;
            else
                close(fd);
        }
    }
    m->note[sizeof(m->note) - 1] = m->cause[sizeof(m->cause) - 1] = '\0';
    return 0;
}

static socklen_t abstract_address(const char *name, struct sockaddr_un *addr)
{
    memset(addr, 0, sizeof(*addr));
    addr->sun_family = AF_UNIX;
    size_t len = strlen(name);
    memcpy(addr->sun_path + 1, name, len); /* sun_path[0] = 0: abstract */
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len);
}

/* ---- the unprivileged side ---- */

int tun_prefix_valid(const char *prefix)
{
    size_t len = strlen(prefix);
    if (len < 2 || len >= TUN_PREFIX_MAX || prefix[0] != '/' || prefix[len - 1] == '/')
        return 0;
    if (strstr(prefix, "//") || strstr(prefix, ".."))
        return 0;
    return strspn(prefix, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/_-") ==
           len;
}

static const char *tun_helper_prefix(void)
{
    const char *prefix = getenv("TETHER_TUN_PREFIX");
    return prefix && tun_prefix_valid(prefix) ? prefix : TUN_DEFAULT_PREFIX;
}

static void push_arg(char **argv, size_t *n, char *arg)
{
    if (*n + 1 < HELPER_ARGS_MAX)
        argv[(*n)++] = arg;
    argv[*n] = NULL;
}

struct helper_args {
    char *argv[HELPER_ARGS_MAX];
    char storage[HELPER_ARGS_MAX][TUN_DNS_NAME_MAX];
    size_t count, used;
};

static void push_value(struct helper_args *a, const char *option, const char *value)
{
    if (a->used == HELPER_ARGS_MAX)
        return;
    char *slot = a->storage[a->used++];
    snprintf(slot, TUN_DNS_NAME_MAX, "%s", value);
    push_arg(a->argv, &a->count, (char *)option);
    push_arg(a->argv, &a->count, slot);
}

static void build_helper_args(const struct tun_config *c, const char *binary, const char *name,
                              struct helper_args *a)
{
    char text[TUN_CIDR_TEXT_MAX];
    a->count = a->used = 0;
    push_arg(a->argv, &a->count, "sudo");
    push_arg(a->argv, &a->count, "-n");
    push_arg(a->argv, &a->count, (char *)binary);
    push_arg(a->argv, &a->count, TUN_HELPER_COMMAND);
    push_value(a, "--connect", name);
    push_value(a, "--tun-name", c->device.name);
    tun_addr_format(4, c->device.addr4, text, sizeof(text));
    push_value(a, "--tun-address", text);
    tun_addr_format(6, c->device.addr6, text, sizeof(text));
    push_value(a, "--tun-address", text);
    snprintf(text, sizeof(text), "%u", c->device.mtu);
    push_value(a, "--tun-mtu", text);
    for (size_t i = 0; i < c->device.route_count; i++) {
        tun_cidr_format(&c->device.routes[i], text, sizeof(text));
        push_value(a, "--subnet", text);
    }
    for (size_t i = 0; i < c->dns.domain_count; i++)
        push_value(a, "--dns-domain", c->dns.domains[i]);
    if (c->dns.all)
        push_arg(a->argv, &a->count, "--dns-all");
    if (!c->dns.enabled)
        push_arg(a->argv, &a->count, "--no-dns");
    if (!c->device.offload)
        push_arg(a->argv, &a->count, "--tun-no-offload");
}

static int listen_abstract(char *name, size_t name_len)
{
    uint8_t bytes[8];
    if (random_bytes(bytes, sizeof(bytes)) < 0)
        return -EIO;
    int n = snprintf(name, name_len, SOCKET_PREFIX);
    for (size_t i = 0; i < sizeof(bytes); i++)
        n += snprintf(name + n, name_len - (size_t)n, "%02x", bytes[i]);
    int sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    struct sockaddr_un addr;
    socklen_t len = abstract_address(name, &addr);
    if (sock < 0 || bind(sock, (struct sockaddr *)&addr, len) < 0 || listen(sock, 8) < 0) {
        int rc = -errno;
        if (sock >= 0)
            close(sock);
        return rc;
    }
    return sock;
}

/* The connection, when its peer is root: the helper sudo started. The
 * socket's name is in the helper's command line, so any local process can
 * connect to it first; such a connection is closed unread (-EAGAIN), and
 * whatever descriptors it would have passed are never taken. */
static int accept_root(int listener)
{
    int conn = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
    if (conn < 0)
        return errno == EAGAIN || errno == ECONNABORTED ? -EAGAIN : -errno;
    struct ucred cred = {0, (uid_t)-1, (gid_t)-1};
    socklen_t len = sizeof(cred);
    if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && cred.uid == 0)
        return conn;
    log_warn("ignored a connection to the TUN helper's socket from process %ld (uid %ld): only "
             "the helper, as root, may answer",
             (long)cred.pid, (long)cred.uid);
    close(conn);
    return -EAGAIN;
}

/* After the helper exited: the connection it may have made just before. */
static int accept_queued(int listener)
{
    struct pollfd p = {listener, POLLIN, 0};
    while (poll(&p, 1, 0) > 0) {
        int conn = accept_root(listener);
        if (conn != -EAGAIN)
            return conn;
        p.revents = 0;
    }
    return -EACCES;
}

/* Waits for the helper's connection while watching the helper itself. */
static int await_helper(int listener, pid_t pid, int *exit_status)
{
    for (int waited = 0; waited < HELPER_TIMEOUT_MS; waited += 100) {
        struct pollfd p = {listener, POLLIN, 0};
        if (poll(&p, 1, 100) > 0) {
            int conn = accept_root(listener);
            if (conn != -EAGAIN)
                return conn;
            continue;
        }
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            *exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
            return accept_queued(listener);
        }
    }
    return -ETIMEDOUT;
}

static int take_result(int conn, struct tun_privileged *out, char *cause, size_t cause_len)
{
    struct helper_message m;
    int fds[3], count = 0;
    int rc = receive_result(conn, &m, fds, &count);
    if (rc < 0) {
        snprintf(cause, cause_len, "no answer from the TUN helper: %s", strerror(-rc));
        return rc;
    }
    if (m.status < 0) {
        for (int i = 0; i < count; i++)
            close(fds[i]);
        snprintf(cause, cause_len, "%s", m.cause);
        return m.status;
    }
    int *slots[] = {&out->device_fd, &out->dns_fd4, &out->dns_fd6};
    for (int i = 0, next = 0; i < 3; i++)
        if (m.has_fd[i] && next < count)
            *slots[i] = fds[next++];
    snprintf(out->resolved_note, sizeof(out->resolved_note), "%s", m.note);
    return out->device_fd >= 0 ? 0 : -EPROTO;
}

static int tun_helper_request(const struct tun_config *c, struct tun_privileged *out, char *cause,
                              size_t cause_len)
{
    tun_privileged_init(out);
    char binary[TUN_PREFIX_MAX + 16], name[64];
    snprintf(binary, sizeof(binary), "%s/tether", tun_helper_prefix());
    int listener = listen_abstract(name, sizeof(name));
    if (listener < 0) {
        snprintf(cause, cause_len, "cannot listen for the TUN helper: %s", strerror(-listener));
        return listener;
    }
    struct helper_args *args = calloc(1, sizeof(*args));
    pid_t pid = 0;
    int rc = args ? 0 : -ENOMEM;
    if (rc == 0) {
        build_helper_args(c, binary, name, args);
        rc = child_spawn(&pid, "sudo", 1, NULL, args->argv, environ);
    }
    free(args);
    if (rc < 0) {
        close(listener);
        snprintf(cause, cause_len, "cannot run sudo: %s", strerror(-rc));
        return rc;
    }
    int exit_status = 0;
    int conn = await_helper(listener, pid, &exit_status);
    close(listener);
    if (conn < 0) {
        if (conn == -ETIMEDOUT)
            kill(pid, SIGTERM);
        snprintf(cause, cause_len, "the TUN helper %s did not run (sudo exit status %d)", binary,
                 exit_status);
        waitpid(pid, NULL, 0);
        return conn == -ETIMEDOUT ? conn : -EACCES;
    }
    rc = take_result(conn, out, cause, cause_len);
    close(conn);
    waitpid(pid, NULL, 0);
    return rc;
}

/* ---- for commands ---- */

static void current_user(char *out, size_t len)
{
    const char *user = getenv("USER");
    if (!user || !*user)
        user = getenv("LOGNAME");
    snprintf(out, len, "%s", user && *user ? user : "you");
}

/* The install command with the subnets this run asked for, which the
 * helper's policy will have to allow. */
static void install_line(const struct tun_config *c, const char *install_command, char *out,
                         size_t out_len)
{
    size_t n = (size_t)snprintf(out, out_len, "%s", install_command);
    for (size_t i = 0; i < c->device.route_count && n < out_len; i++) {
        char text[TUN_CIDR_TEXT_MAX];
        tun_cidr_format(&c->device.routes[i], text, sizeof(text));
        n += (size_t)snprintf(out + n, out_len - n, " --subnet %s", text);
    }
}

static int install_missing(const struct tun_config *c, const char *install_command, char *cause,
                           size_t cause_len)
{
    char binary[TUN_PREFIX_MAX + 16], user[64], command[1024];
    snprintf(binary, sizeof(binary), "%s/tether", tun_helper_prefix());
    current_user(user, sizeof(user));
    install_line(c, install_command, command, sizeof(command));
    snprintf(cause, cause_len,
             "--subnet needs a TUN device, which only root can create. Run once:\n"
             "    %s\n"
             "(it installs a root-owned helper as %s, its policy with the subnets %s may route, "
             "and a sudoers rule that lets %s run only that helper), or run tether as root.",
             command, binary, user, user);
    return -EPERM;
}

static void store(struct tun_config *c, const struct tun_privileged *p)
{
    c->device_fd = p->device_fd;
    c->dns_fd4 = p->dns_fd4;
    c->dns_fd6 = p->dns_fd6;
}

int tun_acquire(struct tun_config *c, const char *install_command, char *note, size_t note_len,
                char *cause, size_t cause_len)
{
    struct tun_privileged p;
    int rc;
    if (geteuid() == 0) {
        rc = tun_privileged_setup(c, &p, cause, cause_len);
    } else {
        char binary[TUN_PREFIX_MAX + 16];
        snprintf(binary, sizeof(binary), "%s/tether", tun_helper_prefix());
        if (access(binary, X_OK) != 0)
            return install_missing(c, install_command, cause, cause_len);
        rc = tun_helper_request(c, &p, cause, cause_len);
        if (rc == -EACCES) {
            char why[512];
            snprintf(why, sizeof(why), "%s", cause);
            install_missing(c, install_command, cause, cause_len);
            snprintf(cause + strlen(cause), cause_len - strlen(cause), " (%s)", why);
            return -EPERM;
        }
    }
    if (rc < 0)
        return rc;
    store(c, &p);
    snprintf(note, note_len, "%s", p.resolved_note);
    return 0;
}

/* ---- the helper ---- */

static int socket_name_valid(const char *name)
{
    size_t prefix = strlen(SOCKET_PREFIX);
    return strncmp(name, SOCKET_PREFIX, prefix) == 0 && strlen(name) == prefix + 16 &&
           strspn(name + prefix, "0123456789abcdef") == 16;
}

static int parse_helper_args(int argc, char **argv, struct tun_config *c, const char **connect,
                             char *cause, size_t cause_len)
{
    static const struct option options[] = {
        TUN_LONG_OPTIONS,
        {"connect", required_argument, 0, 'c'},
        {0, 0, 0, 0},
    };
    int opt;
    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (opt == 'c') {
            *connect = optarg;
            continue;
        }
        if (opt == '?' || tun_options_apply(c, opt, optarg, cause, cause_len) < 0) {
            if (opt == '?')
                snprintf(cause, cause_len, "unknown or incomplete option %s", argv[optind - 1]);
            return -EINVAL;
        }
    }
    if (optind < argc || !*connect || !socket_name_valid(*connect)) {
        snprintf(cause, cause_len, "usage: %s --connect tether-tun-<16 hex> [TUN options]",
                 TUN_HELPER_COMMAND);
        return -EINVAL;
    }
    return tun_config_finish(c, cause, cause_len);
}

/* Connects to the invoking user's socket (and only theirs). */
static int connect_back(const char *name)
{
    int sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr;
    socklen_t len = abstract_address(name, &addr);
    if (sock < 0 || connect(sock, (struct sockaddr *)&addr, len) < 0)
        goto fail;
    struct ucred cred;
    socklen_t cred_len = sizeof(cred);
    const char *sudo_uid = getenv("SUDO_UID");
    uid_t expected = sudo_uid ? (uid_t)strtoul(sudo_uid, NULL, 10) : getuid();
    if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) < 0 || cred.uid != expected) {
        errno = EPERM;
        goto fail;
    }
    return sock;
fail:;
    int rc = -errno;
    if (sock >= 0)
        close(sock);
    return rc;
}

/* The user sudo ran the helper for: SUDO_UID when the real uid is root
 * (sudo sets it, and its env_reset keeps the caller from choosing it),
 * else the real uid; SUDO_USER, when set, must name the same account. */
static int invoking_user(char *name, size_t name_len, char *cause, size_t cause_len)
{
    uid_t uid = getuid();
    const char *sudo_uid = getenv("SUDO_UID");
    if (uid == 0) {
        char *end = NULL;
        unsigned long value = sudo_uid ? strtoul(sudo_uid, &end, 10) : 0;
        if (!sudo_uid || !*sudo_uid || *end || value > 0x7fffffffUL) {
            snprintf(cause, cause_len, "the TUN helper runs only through sudo");
            return -EPERM;
        }
        uid = (uid_t)value;
    }
    struct passwd *pw = getpwuid(uid);
    const char *sudo_user = getenv("SUDO_USER");
    if (!pw || (uid == getuid() ? 0 : sudo_user && strcmp(sudo_user, pw->pw_name) != 0) ||
        !tun_policy_user_valid(pw->pw_name)) {
        snprintf(cause, cause_len, "the TUN helper cannot tell which user ran it (uid %ld)",
                 (long)uid);
        return -EPERM;
    }
    snprintf(name, name_len, "%s", pw->pw_name);
    return 0;
}

/* The policy beside the helper's own binary (PREFIX/tun-policy), in a
 * directory only root can change. */
static int load_policy(struct tun_policy *policy, char *cause, size_t cause_len)
{
    char path[TUN_PREFIX_MAX + 64];
    ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
    char *slash = n > 0 ? memrchr(path, '/', (size_t)n) : NULL;
    if (!slash || (size_t)(slash - path) + sizeof("/" TUN_POLICY_FILE) > sizeof(path)) {
        snprintf(cause, cause_len, "the TUN helper cannot find its own directory");
        return -EPERM;
    }
    *slash = '\0';
    int rc = tun_install_path_trusted(path, cause, cause_len);
    if (rc < 0)
        return -EPERM;
    snprintf(slash, sizeof(path) - (size_t)(slash - path), "/%s", TUN_POLICY_FILE);
    rc = tun_policy_load(path, 0, policy, cause, cause_len);
    return rc < 0 ? -EPERM : 0;
}

/* Everything the helper checks before it touches the network: what no
 * policy lifts, against the host's networks as the kernel has them now,
 * then the invoking user's policy. */
static int helper_authorize(const struct tun_config *c, char *cause, size_t cause_len)
{
    char user[TUN_POLICY_USER_MAX + 1];
    struct tun_policy *policy = calloc(1, sizeof(*policy));
    struct tun_host_networks *host = calloc(1, sizeof(*host));
    int rc = policy && host ? 0 : -ENOMEM;
    if (rc == 0)
        rc = invoking_user(user, sizeof(user), cause, cause_len);
    if (rc == 0)
        rc = load_policy(policy, cause, cause_len);
    /* A stale device of tether's own goes first: its routes are not the host's. */
    if (rc == 0 && tun_policy_device_name_allowed(c->device.name) &&
        tun_device_clean_stale(c->device.name, cause, cause_len) < 0)
        rc = -EPERM;
    if (rc == 0 && tun_device_host_networks(host->nets, TUN_HOST_NETWORKS_MAX, &host->count, cause,
                                            cause_len) < 0)
        rc = -EPERM;
    if (rc == 0)
        rc = tun_policy_check_fixed(c, host, cause, cause_len);
    if (rc == 0)
        rc = tun_policy_allows(policy, user, c, cause, cause_len);
    free(policy);
    free(host);
    return rc;
}

int tun_helper_main(int argc, char **argv)
{
    struct tun_config *c = calloc(1, sizeof(*c));
    struct helper_message *m = calloc(1, sizeof(*m));
    const char *connect_name = NULL;
    if (!c || !m)
        return 1;
    tun_config_init(c);
    int rc = parse_helper_args(argc, argv, c, &connect_name, m->cause, sizeof(m->cause));
    if (rc < 0 && !connect_name) {
        fprintf(stderr, "tether %s: %s\n", TUN_HELPER_COMMAND, m->cause);
        free(c);
        free(m);
        return 2;
    }
    int sock = connect_name && socket_name_valid(connect_name) ? connect_back(connect_name) : -1;
    struct tun_privileged p;
    tun_privileged_init(&p);
    if (rc == 0 && sock >= 0)
        rc = helper_authorize(c, m->cause, sizeof(m->cause));
    if (rc == 0 && sock >= 0)
        rc = tun_privileged_setup(c, &p, m->cause, sizeof(m->cause));
    if (sock < 0) {
        fprintf(stderr, "tether %s: cannot reach the requesting process: %s\n", TUN_HELPER_COMMAND,
                strerror(-sock));
        tun_privileged_close(&p);
        free(c);
        free(m);
        return 1;
    }
    int fds[3], count = 0;
    int all[3] = {p.device_fd, p.dns_fd4, p.dns_fd6};
    for (int i = 0; i < 3; i++)
        if ((m->has_fd[i] = all[i] >= 0))
            fds[count++] = all[i];
    m->status = rc;
    m->fd_count = count;
    snprintf(m->note, sizeof(m->note), "%s", p.resolved_note);
    send_result(sock, m, fds, count);
    close(sock);
    tun_privileged_close(&p);
    free(c);
    free(m);
    return rc < 0 ? 1 : 0;
}
