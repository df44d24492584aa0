/* The TUN device on macOS: a utun interface (a PF_SYSTEM control socket),
 * its addresses through SIOCAIFADDR / SIOCAIFADDR_IN6, and routes through
 * the routing socket (RTM_ADD with the interface's link address as the
 * gateway: `route add -net X -interface utunN`).
 *
 * utun packets carry a 4-byte address-family header, added and removed
 * here so the engine sees bare IP packets. A utun interface exists only
 * while its socket is open: nothing can be left behind by a crash, so
 * tun_device_clean_stale has nothing to do. Not built or run on Linux; see
 * docs/tun.md for what was checked. */
#ifdef __APPLE__
#include "tun/device.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/if_dl.h>
#include <net/if_utun.h>
#include <net/route.h>
#include <netinet/in.h>
#include <netinet6/in6_var.h>
#include <netinet6/nd6.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/kern_control.h>
#include <sys/socket.h>
#include <sys/sys_domain.h>
#include <sys/uio.h>
#include <unistd.h>

#define LOG_MODULE "tun"
#include "core/log.h"

static int open_utun(char *name, size_t name_len)
{
    int fd = socket(PF_SYSTEM, SOCK_DGRAM, SYSPROTO_CONTROL);
    if (fd < 0)
        return -errno;
    struct ctl_info info;
    memset(&info, 0, sizeof(info));
    strlcpy(info.ctl_name, UTUN_CONTROL_NAME, sizeof(info.ctl_name));
    struct sockaddr_ctl addr;
    memset(&addr, 0, sizeof(addr));
    addr.sc_len = sizeof(addr);
    addr.sc_family = AF_SYSTEM;
    addr.ss_sysaddr = AF_SYS_CONTROL;
    addr.sc_unit = 0; /* the first free utunN */
    socklen_t len = (socklen_t)name_len;
    int rc = ioctl(fd, CTLIOCGINFO, &info) < 0 ? -errno : 0;
    addr.sc_id = info.ctl_id;
    if (rc == 0 && connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
        rc = -errno;
    if (rc == 0 && getsockopt(fd, SYSPROTO_CONTROL, UTUN_OPT_IFNAME, name, &len) < 0)
        rc = -errno;
    if (rc < 0) {
        close(fd);
        return rc;
    }
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    return fd;
}

static void sockaddr4(struct sockaddr_in *sin, const uint8_t *addr)
{
    memset(sin, 0, sizeof(*sin));
    sin->sin_len = sizeof(*sin);
    sin->sin_family = AF_INET;
    memcpy(&sin->sin_addr, addr, 4);
}

static void sockaddr6(struct sockaddr_in6 *sin6, const uint8_t *addr)
{
    memset(sin6, 0, sizeof(*sin6));
    sin6->sin6_len = sizeof(*sin6);
    sin6->sin6_family = AF_INET6;
    memcpy(&sin6->sin6_addr, addr, 16);
}

static int set_ipv4(const char *name, const uint8_t *addr, const uint8_t *peer)
{
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    if (s < 0)
        return -errno;
    struct ifaliasreq req;
    memset(&req, 0, sizeof(req));
    strlcpy(req.ifra_name, name, sizeof(req.ifra_name));
    const uint8_t all_ones[4] = {255, 255, 255, 255};
    sockaddr4((struct sockaddr_in *)&req.ifra_addr, addr);
    sockaddr4((struct sockaddr_in *)&req.ifra_broadaddr, peer); /* the destination */
    sockaddr4((struct sockaddr_in *)&req.ifra_mask, all_ones);
    int rc = ioctl(s, SIOCAIFADDR, &req) < 0 ? -errno : 0;
    close(s);
    return rc;
}

static int set_ipv6(const char *name, const uint8_t *addr, const uint8_t *peer)
{
    int s = socket(AF_INET6, SOCK_DGRAM, 0);
    if (s < 0)
        return -errno;
    struct in6_aliasreq req;
    memset(&req, 0, sizeof(req));
    strlcpy(req.ifra_name, name, sizeof(req.ifra_name));
    uint8_t mask[16];
    memset(mask, 0xff, sizeof(mask));
    sockaddr6(&req.ifra_addr, addr);
    sockaddr6(&req.ifra_dstaddr, peer);
    sockaddr6(&req.ifra_prefixmask, mask);
    req.ifra_lifetime.ia6t_vltime = ND6_INFINITE_LIFETIME;
    req.ifra_lifetime.ia6t_pltime = ND6_INFINITE_LIFETIME;
    int rc = ioctl(s, SIOCAIFADDR_IN6, &req) < 0 ? -errno : 0;
    close(s);
    return rc;
}

static int set_mtu(const char *name, uint32_t mtu)
{
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    if (s < 0)
        return -errno;
    struct ifreq req;
    memset(&req, 0, sizeof(req));
    strlcpy(req.ifr_name, name, sizeof(req.ifr_name));
    req.ifr_mtu = (int)mtu;
    int rc = ioctl(s, SIOCSIFMTU, &req) < 0 ? -errno : 0;
    close(s);
    return rc;
}

/* One RTM_ADD: destination, gateway = the interface's link address, mask. */
static int add_route(int ifindex, const struct tun_cidr *r)
{
    struct {
        struct rt_msghdr header;
        char space[512];
    } msg;
    memset(&msg, 0, sizeof(msg));
    char *p = msg.space;
    size_t addr_size = r->family == 4 ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
    uint8_t mask[16] = {0};
    for (int bit = 0; bit < r->prefix; bit++)
        mask[bit / 8] |= (uint8_t)(0x80 >> (bit % 8));
    if (r->family == 4)
        sockaddr4((struct sockaddr_in *)p, r->addr);
    else
        sockaddr6((struct sockaddr_in6 *)p, r->addr);
    p += addr_size;
    struct sockaddr_dl *link = (struct sockaddr_dl *)p;
    link->sdl_len = sizeof(*link);
    link->sdl_family = AF_LINK;
    link->sdl_index = (u_short)ifindex;
    p += sizeof(*link);
    if (r->family == 4)
        sockaddr4((struct sockaddr_in *)p, mask);
    else
        sockaddr6((struct sockaddr_in6 *)p, mask);
    p += addr_size;
    msg.header.rtm_msglen = (u_short)(p - (char *)&msg);
    msg.header.rtm_version = RTM_VERSION;
    msg.header.rtm_type = RTM_ADD;
    msg.header.rtm_index = (u_short)ifindex;
    msg.header.rtm_flags = RTF_UP | RTF_STATIC;
    msg.header.rtm_addrs = RTA_DST | RTA_GATEWAY | RTA_NETMASK;
    msg.header.rtm_seq = 1;
    int s = socket(PF_ROUTE, SOCK_RAW, 0);
    if (s < 0)
        return -errno;
    int rc = write(s, &msg, msg.header.rtm_msglen) < 0 ? -errno : 0;
    close(s);
    return rc;
}

int tun_device_exists(const char *name)
{
    return if_nametoindex(name) > 0;
}

int tun_device_clean_stale(const char *name, char *cause, size_t cause_len)
{
    return 0; /* utun interfaces die with their socket */
}

static int configure(const struct tun_device_config *c, struct tun_device *d, char *cause,
                     size_t cause_len)
{
    int rc = 0;
    if (c->has_ipv4 && (rc = set_ipv4(d->name, c->addr4, c->peer4)) < 0)
        snprintf(cause, cause_len, "cannot give %s its IPv4 address: %s", d->name, strerror(-rc));
    if (rc == 0 && c->has_ipv6 && (rc = set_ipv6(d->name, c->addr6, c->peer6)) < 0)
        snprintf(cause, cause_len, "cannot give %s its IPv6 address: %s", d->name, strerror(-rc));
    if (rc == 0 && (rc = set_mtu(d->name, c->mtu)) < 0)
        snprintf(cause, cause_len, "cannot set %s's MTU to %u: %s", d->name, c->mtu, strerror(-rc));
    for (size_t i = 0; rc == 0 && i < c->route_count; i++) {
        if ((rc = add_route(d->ifindex, &c->routes[i])) < 0) {
            char text[TUN_CIDR_TEXT_MAX];
            tun_cidr_format(&c->routes[i], text, sizeof(text));
            snprintf(cause, cause_len, "cannot route %s into %s: %s", text, d->name, strerror(-rc));
        }
    }
    return rc;
}

int tun_device_open(const struct tun_device_config *c, struct tun_device *out, char *cause,
                    size_t cause_len)
{
    memset(out, 0, sizeof(*out));
    int fd = open_utun(out->name, sizeof(out->name));
    if (fd < 0) {
        snprintf(cause, cause_len, "cannot create a utun device: %s%s", strerror(-fd),
                 fd == -EPERM ? " (needs root: see `tether tunnel install`)" : "");
        out->fd = -1;
        return fd;
    }
    out->fd = fd;
    out->ifindex = (int)if_nametoindex(out->name);
    int rc = configure(c, out, cause, cause_len);
    if (rc < 0) {
        tun_device_close(out);
        return rc;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return 0;
}

int tun_device_adopt(int fd, const char *name, struct tun_device *out)
{
    memset(out, 0, sizeof(*out));
    out->fd = fd;
    strlcpy(out->name, name, sizeof(out->name));
    out->ifindex = (int)if_nametoindex(name);
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
        return -errno;
    return out->ifindex > 0 ? 0 : -ENODEV;
}

int tun_device_wait(struct tun_device *d, int stop_fd)
{
    struct pollfd fds[2] = {{d->fd, POLLIN, 0}, {stop_fd, POLLIN, 0}};
    return poll(fds, stop_fd >= 0 ? 2 : 1, -1) < 0 && errno != EINTR ? -errno : 0;
}

ssize_t tun_device_read(struct tun_device *d, void *buf, size_t cap, struct tun_offload *meta)
{
    memset(meta, 0, sizeof(*meta)); /* utun has no checksum offload */
    uint32_t family;
    struct iovec iov[2] = {{&family, sizeof(family)}, {buf, cap}};
    ssize_t n = readv(d->fd, iov, 2);
    if (n < 0)
        return -errno;
    return n < (ssize_t)sizeof(family) ? 0 : n - (ssize_t)sizeof(family);
}

ssize_t tun_device_write(struct tun_device *d, const void *buf, size_t len,
                         const struct tun_offload *meta)
{
    if (len == 0)
        return 0;
    uint32_t family = htonl(((const uint8_t *)buf)[0] >> 4 == 6 ? AF_INET6 : AF_INET);
    struct iovec iov[2] = {{&family, sizeof(family)}, {(void *)buf, len}};
    ssize_t n = writev(d->fd, iov, 2);
    return n < 0 ? -errno : n - (ssize_t)sizeof(family);
}

void tun_device_close(struct tun_device *d)
{
    if (d->fd >= 0)
        close(d->fd);
    d->fd = -1;
}
#endif
