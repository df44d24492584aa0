/* The TUN device on Linux: /dev/net/tun, and rtnetlink (libmnl) for the
 * address, MTU, link state and routes, so nothing shells out to `ip`. */
#ifdef __linux__
#include "tun/device.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_addr.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>

#define LOG_MODULE "tun"
#include "core/log.h"

/* The link's alias marks it as tether's, so a stale one is recognised. */
#define TUN_ALIAS "tether VPC tunnel"

/* ---- netlink ---- */

struct netlink {
    struct mnl_socket *socket;
    uint32_t port;
    uint32_t seq;
    char buf[8192];
};

static int netlink_open(struct netlink *nl)
{
    nl->socket = mnl_socket_open(NETLINK_ROUTE);
    if (!nl->socket)
        return -errno;
    if (mnl_socket_bind(nl->socket, 0, MNL_SOCKET_AUTOPID) < 0) {
        int rc = -errno;
        mnl_socket_close(nl->socket);
        return rc;
    }
    nl->port = mnl_socket_get_portid(nl->socket);
    nl->seq = (uint32_t)time(NULL);
    return 0;
}

static void netlink_close(struct netlink *nl)
{
    if (nl->socket)
        mnl_socket_close(nl->socket);
    nl->socket = NULL;
}

static struct nlmsghdr *netlink_message(struct netlink *nl, uint16_t type, uint16_t flags)
{
    struct nlmsghdr *h = mnl_nlmsg_put_header(nl->buf);
    h->nlmsg_type = type;
    h->nlmsg_flags = (uint16_t)(NLM_F_REQUEST | NLM_F_ACK | flags);
    h->nlmsg_seq = ++nl->seq;
    return h;
}

/* Sends one request and waits for its acknowledgement: 0 or -errno. */
static int netlink_transact(struct netlink *nl, struct nlmsghdr *h)
{
    if (mnl_socket_sendto(nl->socket, h, h->nlmsg_len) < 0)
        return -errno;
    char reply[8192];
    ssize_t n = mnl_socket_recvfrom(nl->socket, reply, sizeof(reply));
    if (n < 0)
        return -errno;
    int rc = mnl_cb_run(reply, (size_t)n, h->nlmsg_seq, nl->port, NULL, NULL);
    return rc < 0 ? -errno : 0;
}

static int link_set(struct netlink *nl, int ifindex, uint32_t mtu, int up)
{
    struct nlmsghdr *h = netlink_message(nl, RTM_NEWLINK, 0);
    struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(h, sizeof(*ifi));
    ifi->ifi_family = AF_UNSPEC;
    ifi->ifi_index = ifindex;
    ifi->ifi_change = IFF_UP;
    ifi->ifi_flags = up ? IFF_UP : 0;
    if (mtu)
        mnl_attr_put_u32(h, IFLA_MTU, mtu);
    mnl_attr_put_strz(h, IFLA_IFALIAS, TUN_ALIAS);
    return netlink_transact(nl, h);
}

static int link_delete(struct netlink *nl, int ifindex)
{
    struct nlmsghdr *h = netlink_message(nl, RTM_DELLINK, 0);
    struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(h, sizeof(*ifi));
    ifi->ifi_family = AF_UNSPEC;
    ifi->ifi_index = ifindex;
    return netlink_transact(nl, h);
}

/* The local address with the fake client as point-to-point peer. */
static int address_add(struct netlink *nl, int ifindex, int family, const uint8_t *local,
                       const uint8_t *peer)
{
    /* The device is new: an address that exists already is not ours to replace. */
    struct nlmsghdr *h = netlink_message(nl, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
    struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(h, sizeof(*ifa));
    size_t len = family == 4 ? 4 : 16;
    ifa->ifa_family = family == 4 ? AF_INET : AF_INET6;
    ifa->ifa_prefixlen = family == 4 ? 32 : 128;
    ifa->ifa_flags = family == 6 ? IFA_F_NODAD : 0;
    ifa->ifa_scope = RT_SCOPE_UNIVERSE;
    ifa->ifa_index = (uint32_t)ifindex;
    mnl_attr_put(h, IFA_LOCAL, len, local);
    mnl_attr_put(h, IFA_ADDRESS, len, peer);
    if (family == 6)
        mnl_attr_put_u32(h, IFA_FLAGS, IFA_F_NODAD);
    return netlink_transact(nl, h);
}

/* Always NLM_F_EXCL, never NLM_F_REPLACE: a route that exists already is
 * someone else's, and replacing it would take it from them for good. */
static int route_add(struct netlink *nl, int ifindex, const struct tun_cidr *route,
                     const uint8_t *source)
{
    struct nlmsghdr *h = netlink_message(nl, RTM_NEWROUTE, (uint16_t)(NLM_F_CREATE | NLM_F_EXCL));
    struct rtmsg *rtm = mnl_nlmsg_put_extra_header(h, sizeof(*rtm));
    size_t len = route->family == 4 ? 4 : 16;
    rtm->rtm_family = route->family == 4 ? AF_INET : AF_INET6;
    rtm->rtm_dst_len = route->prefix;
    rtm->rtm_table = RT_TABLE_MAIN;
    rtm->rtm_protocol = RTPROT_STATIC;
    rtm->rtm_scope = RT_SCOPE_LINK;
    rtm->rtm_type = RTN_UNICAST;
    mnl_attr_put(h, RTA_DST, len, route->addr);
    mnl_attr_put_u32(h, RTA_OIF, (uint32_t)ifindex);
    mnl_attr_put(h, RTA_PREFSRC, len, source);
    return netlink_transact(nl, h);
}

/* The interface a route lookup for `addr` leaves by, or -errno. */
static int route_oif(struct netlink *nl, int family, const uint8_t *addr);

/* The host route to the fake peer, which the listener's replies take. The
 * kernel adds one for a point-to-point address, but not reliably for IPv6
 * (measured: missing in some runs), so it is added here too. When one
 * exists already it must be the kernel's, through this device: a host
 * route of someone else's is an error, never replaced. */
static int peer_route_add(struct netlink *nl, int ifindex, int family, const uint8_t *peer,
                          const uint8_t *source)
{
    struct tun_cidr host = {.family = family, .prefix = family == 4 ? 32 : 128};
    memcpy(host.addr, peer, family == 4 ? 4 : 16);
    int rc = route_add(nl, ifindex, &host, source);
    if (rc == -EEXIST && route_oif(nl, family, peer) == ifindex)
        return 0;
    return rc;
}

/* ---- reading the host's networks ---- */

#define NETLINK_DUMP_BUFFER 32768

struct host_networks {
    struct tun_cidr *nets;
    size_t max, count;
    int overflow;
    int oif; /* route_oif's answer */
};

/* Sends one request and runs `cb` on every answer until the end of the
 * dump (or the acknowledgement): 0 or -errno. */
static int netlink_query(struct netlink *nl, struct nlmsghdr *h, mnl_cb_t cb, void *data)
{
    if (mnl_socket_sendto(nl->socket, h, h->nlmsg_len) < 0)
        return -errno;
    char *reply = malloc(NETLINK_DUMP_BUFFER);
    int rc = reply ? MNL_CB_OK : -ENOMEM;
    while (rc == MNL_CB_OK) {
        ssize_t n = mnl_socket_recvfrom(nl->socket, reply, NETLINK_DUMP_BUFFER);
        rc = n < 0 ? -errno : mnl_cb_run(reply, (size_t)n, h->nlmsg_seq, nl->port, cb, data);
        if (rc == MNL_CB_ERROR)
            rc = -errno;
    }
    free(reply);
    return rc < 0 ? rc : 0;
}

static void add_network(struct host_networks *h, int family, const void *addr, unsigned prefix)
{
    if (h->count == h->max) {
        h->overflow = 1;
        return;
    }
    struct tun_cidr *c = &h->nets[h->count++];
    memset(c, 0, sizeof(*c));
    c->family = family == AF_INET ? 4 : 6;
    c->prefix = (uint8_t)prefix;
    memcpy(c->addr, addr, c->family == 4 ? 4 : 16);
    tun_cidr_mask(c);
}

static int attr_valid(const struct nlattr *a, int family)
{
    return mnl_attr_get_payload_len(a) == (family == AF_INET ? 4u : 16u);
}

static int on_address(const struct nlmsghdr *nlh, void *data)
{
    const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
    if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6)
        return MNL_CB_OK;
    const struct nlattr *a;
    mnl_attr_for_each(a, nlh, sizeof(*ifa))
    {
        int type = mnl_attr_get_type(a);
        if ((type == IFA_ADDRESS || type == IFA_LOCAL) && attr_valid(a, ifa->ifa_family))
            add_network(data, ifa->ifa_family, mnl_attr_get_payload(a), ifa->ifa_prefixlen);
    }
    return MNL_CB_OK;
}

/* The gateways of a multipath route (RTA_MULTIPATH: rtnexthop entries,
 * each followed by its own attributes). */
static void add_multipath_gateways(struct host_networks *h, int family, const struct nlattr *mp)
{
    const char *p = mnl_attr_get_payload(mp);
    size_t left = mnl_attr_get_payload_len(mp);
    while (left >= sizeof(struct rtnexthop)) {
        const struct rtnexthop *nh = (const void *)p;
        if (nh->rtnh_len < sizeof(*nh) || nh->rtnh_len > left)
            return;
        const char *end = p + nh->rtnh_len;
        for (const struct nlattr *a = (const void *)(p + RTNH_LENGTH(0));
             mnl_attr_ok(a, (int)(end - (const char *)a)); a = mnl_attr_next(a))
            if (mnl_attr_get_type(a) == RTA_GATEWAY && attr_valid(a, family))
                add_network(h, family, mnl_attr_get_payload(a), family == AF_INET ? 32 : 128);
        size_t step = RTNH_ALIGN(nh->rtnh_len);
        if (step >= left)
            return;
        p += step;
        left -= step;
    }
}

static int on_route(const struct nlmsghdr *nlh, void *data)
{
    const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
    const struct nlattr *a, *dst = NULL, *gateway = NULL, *multipath = NULL;
    uint32_t table = rtm->rtm_table;
    if (rtm->rtm_family != AF_INET && rtm->rtm_family != AF_INET6)
        return MNL_CB_OK;
    mnl_attr_for_each(a, nlh, sizeof(*rtm))
    {
        int type = mnl_attr_get_type(a);
        if (type == RTA_TABLE && mnl_attr_get_payload_len(a) == 4)
            table = mnl_attr_get_u32(a);
        else if (type == RTA_DST && attr_valid(a, rtm->rtm_family))
            dst = a;
        else if (type == RTA_GATEWAY && attr_valid(a, rtm->rtm_family))
            gateway = a;
        else if (type == RTA_MULTIPATH)
            multipath = a;
    }
    if (table != RT_TABLE_MAIN || rtm->rtm_type != RTN_UNICAST)
        return MNL_CB_OK;
    if (multipath)
        add_multipath_gateways(data, rtm->rtm_family, multipath);
    if (gateway)
        add_network(data, rtm->rtm_family, mnl_attr_get_payload(gateway),
                    rtm->rtm_family == AF_INET ? 32 : 128);
    else if (!multipath && dst && rtm->rtm_dst_len > 0 && rtm->rtm_scope == RT_SCOPE_LINK)
        add_network(data, rtm->rtm_family, mnl_attr_get_payload(dst), rtm->rtm_dst_len);
    return MNL_CB_OK;
}

static int dump(struct netlink *nl, uint16_t type, mnl_cb_t cb, struct host_networks *h)
{
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(nl->buf);
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    nlh->nlmsg_seq = ++nl->seq;
    if (type == RTM_GETADDR) {
        struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
        ifa->ifa_family = AF_UNSPEC;
    } else {
        struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
        rtm->rtm_family = AF_UNSPEC;
    }
    return netlink_query(nl, nlh, cb, h);
}

int tun_device_host_networks(struct tun_cidr *nets, size_t max, size_t *count, char *cause,
                             size_t cause_len)
{
    struct host_networks h = {nets, max, 0, 0, 0};
    struct netlink nl = {0};
    int rc = netlink_open(&nl);
    if (rc == 0)
        rc = dump(&nl, RTM_GETADDR, on_address, &h);
    if (rc == 0)
        rc = dump(&nl, RTM_GETROUTE, on_route, &h);
    netlink_close(&nl);
    if (rc == 0 && h.overflow)
        rc = -E2BIG;
    if (rc < 0)
        snprintf(cause, cause_len, "cannot read this host's networks: %s", strerror(-rc));
    *count = h.count;
    return rc;
}

static int on_route_oif(const struct nlmsghdr *nlh, void *data)
{
    const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
    const struct nlattr *a;
    mnl_attr_for_each(a, nlh, sizeof(*rtm))
    {
        if (mnl_attr_get_type(a) == RTA_OIF && mnl_attr_get_payload_len(a) == 4)
            ((struct host_networks *)data)->oif = (int)mnl_attr_get_u32(a);
    }
    return MNL_CB_OK;
}

static int route_oif(struct netlink *nl, int family, const uint8_t *addr)
{
    struct nlmsghdr *h = netlink_message(nl, RTM_GETROUTE, 0);
    struct rtmsg *rtm = mnl_nlmsg_put_extra_header(h, sizeof(*rtm));
    rtm->rtm_family = family == 4 ? AF_INET : AF_INET6;
    rtm->rtm_dst_len = family == 4 ? 32 : 128;
    mnl_attr_put(h, RTA_DST, family == 4 ? 4 : 16, addr);
    struct host_networks answer = {0};
    int rc = netlink_query(nl, h, on_route_oif, &answer);
    return rc < 0 ? rc : answer.oif;
}

/* ---- stale devices ---- */

int tun_device_exists(const char *name)
{
    return if_nametoindex(name) > 0;
}

static int is_tun(const char *name)
{
    char path[96];
    snprintf(path, sizeof(path), "/sys/class/net/%s/tun_flags", name);
    return access(path, F_OK) == 0;
}

/* Whether the link carries tether's alias: only tether's own devices are
 * deleted as stale, never another VPN's persistent one. */
static int has_our_alias(const char *name)
{
    char path[96], alias[128] = "";
    snprintf(path, sizeof(path), "/sys/class/net/%s/ifalias", name);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    if (!fgets(alias, sizeof(alias), f))
        alias[0] = '\0';
    fclose(f);
    alias[strcspn(alias, "\n")] = '\0';
    return strcmp(alias, TUN_ALIAS) == 0;
}

/* Whether fdinfo text (of one descriptor) names the device: "iff:\tNAME". */
static int fdinfo_names(const char *path, const char *name)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[128];
    int found = 0;
    while (!found && fgets(line, sizeof(line), f)) {
        if (strncmp(line, "iff:", 4) != 0)
            continue;
        char *value = line + 4;
        value += strspn(value, " \t");
        value[strcspn(value, "\n")] = '\0';
        found = strcmp(value, name) == 0;
    }
    fclose(f);
    return found;
}

static int process_holds(const char *pid, const char *name)
{
    char dir_path[64];
    snprintf(dir_path, sizeof(dir_path), "/proc/%s/fdinfo", pid);
    DIR *dir = opendir(dir_path);
    if (!dir)
        return 0;
    int found = 0;
    struct dirent *d;
    while (!found && (d = readdir(dir))) {
        if (d->d_name[0] < '0' || d->d_name[0] > '9')
            continue;
        char path[128];
        snprintf(path, sizeof(path), "%s/%s", dir_path, d->d_name);
        found = fdinfo_names(path, name);
    }
    closedir(dir);
    return found;
}

/* Whether the process lives in our network namespace (where the device
 * name means the same device); 1 when that cannot be told. */
static int same_netns(const char *pid)
{
    char path[64];
    struct stat mine, theirs;
    snprintf(path, sizeof(path), "/proc/%s/ns/net", pid);
    if (stat("/proc/self/ns/net", &mine) < 0 || stat(path, &theirs) < 0)
        return 1;
    return mine.st_ino == theirs.st_ino && mine.st_dev == theirs.st_dev;
}

/* The id of a process holding the TUN device open, or 0. */
static long holder_of(const char *name)
{
    DIR *proc = opendir("/proc");
    if (!proc)
        return 0;
    long holder = 0;
    struct dirent *d;
    while (!holder && (d = readdir(proc))) {
        if (d->d_name[0] < '0' || d->d_name[0] > '9' || atol(d->d_name) == (long)getpid())
            continue;
        if (same_netns(d->d_name) && process_holds(d->d_name, name))
            holder = atol(d->d_name);
    }
    closedir(proc);
    return holder;
}

int tun_device_clean_stale(const char *name, char *cause, size_t cause_len)
{
    int ifindex = (int)if_nametoindex(name);
    if (ifindex <= 0)
        return 0;
    if (!is_tun(name)) {
        snprintf(cause, cause_len,
                 "a network interface named %s exists and is not a TUN device; pick another "
                 "name with --tun-name",
                 name);
        return -EEXIST;
    }
    if (!has_our_alias(name)) {
        snprintf(cause, cause_len,
                 "a TUN device named %s exists and was not made by tether; pick another name "
                 "with --tun-name",
                 name);
        return -EEXIST;
    }
    long pid = holder_of(name);
    if (pid) {
        snprintf(cause, cause_len,
                 "the TUN device %s is in use by process %ld (another `tether tunnel`?); stop "
                 "it, or pick another name with --tun-name",
                 name, pid);
        return -EBUSY;
    }
    struct netlink nl = {0};
    int rc = netlink_open(&nl);
    if (rc == 0)
        rc = link_delete(&nl, ifindex);
    netlink_close(&nl);
    if (rc < 0 && rc != -ENODEV) {
        snprintf(cause, cause_len, "cannot delete the stale device %s: %s", name, strerror(-rc));
        return rc;
    }
    log_warn("deleted the stale TUN device %s left by an earlier run (and its routes)", name);
    return 1;
}

/* ---- the device ---- */

static int create_tun(const char *name, int offload, char *actual, char *cause, size_t cause_len)
{
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        int rc = -errno;
        snprintf(cause, cause_len, "cannot open /dev/net/tun: %s", strerror(errno));
        return rc;
    }
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    ifr.ifr_flags = (short)(IFF_TUN | IFF_NO_PI | (offload ? IFF_VNET_HDR : 0));
    snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        int rc = -errno;
        snprintf(cause, cause_len, "cannot create the TUN device %s: %s%s", name, strerror(errno),
                 errno == EPERM ? " (needs root or CAP_NET_ADMIN: see `tether tunnel install`)"
                                : "");
        close(fd);
        return rc;
    }
    /* Checksum offload only: with MTU 65535 segments are as large as TSO's. */
    if (offload && ioctl(fd, TUNSETOFFLOAD, (unsigned long)TUN_F_CSUM) < 0) {
        int rc = -errno;
        snprintf(cause, cause_len, "cannot turn on checksum offload on %s: %s", name,
                 strerror(errno));
        close(fd);
        return rc;
    }
    snprintf(actual, TUN_NAME_MAX, "%s", ifr.ifr_name);
    return fd;
}

static int configure_addresses(struct netlink *nl, const struct tun_device_config *c, int ifindex,
                               char *cause, size_t cause_len)
{
    for (int family = 4; family <= 6; family += 2) {
        int has = family == 4 ? c->has_ipv4 : c->has_ipv6;
        const uint8_t *addr = family == 4 ? c->addr4 : c->addr6;
        const uint8_t *peer = family == 4 ? c->peer4 : c->peer6;
        if (!has)
            continue;
        int rc = address_add(nl, ifindex, family, addr, peer);
        if (rc == 0)
            rc = peer_route_add(nl, ifindex, family, peer, addr);
        if (rc < 0) {
            snprintf(cause, cause_len, "cannot give %s its IPv%d address: %s%s", c->name, family,
                     strerror(-rc),
                     rc == -EEXIST ? " (a route to its peer exists already: pick another "
                                     "--tun-address)"
                                   : "");
            return rc;
        }
    }
    return 0;
}

static int configure(struct netlink *nl, const struct tun_device_config *c, int ifindex,
                     char *cause, size_t cause_len)
{
    int rc;
    if ((rc = link_set(nl, ifindex, c->mtu, 1)) < 0) {
        snprintf(cause, cause_len, "cannot bring %s up (MTU %u): %s", c->name, c->mtu,
                 strerror(-rc));
        return rc;
    }
    if ((rc = configure_addresses(nl, c, ifindex, cause, cause_len)) < 0)
        return rc;
    for (size_t i = 0; i < c->route_count; i++) {
        const struct tun_cidr *r = &c->routes[i];
        rc = route_add(nl, ifindex, r, r->family == 4 ? c->addr4 : c->addr6);
        if (rc < 0) {
            char text[TUN_CIDR_TEXT_MAX];
            tun_cidr_format(r, text, sizeof(text));
            snprintf(cause, cause_len, "cannot route %s into %s: %s%s", text, c->name,
                     strerror(-rc),
                     rc == -EEXIST ? " (a route for it exists already: another VPN?)" : "");
            return rc;
        }
    }
    return 0;
}

int tun_device_open(const struct tun_device_config *c, struct tun_device *out, char *cause,
                    size_t cause_len)
{
    out->fd = -1;
    out->platform = NULL;
    int rc = tun_device_clean_stale(c->name, cause, cause_len);
    if (rc < 0)
        return rc;
    int fd = create_tun(c->name, c->offload, out->name, cause, cause_len);
    if (fd < 0)
        return fd;
    out->fd = fd;
    out->offload = c->offload;
    out->ifindex = (int)if_nametoindex(out->name);
    struct netlink nl = {0};
    rc = netlink_open(&nl);
    if (rc < 0)
        snprintf(cause, cause_len, "cannot open a netlink socket: %s", strerror(-rc));
    else
        rc = configure(&nl, c, out->ifindex, cause, cause_len);
    netlink_close(&nl);
    if (rc < 0) {
        tun_device_close(out);
        return rc;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    log_debug("TUN device %s (index %d) up, MTU %u, %zu routes", out->name, out->ifindex, c->mtu,
              c->route_count);
    return 0;
}

int tun_device_adopt(int fd, const char *name, struct tun_device *out)
{
    out->fd = fd;
    out->platform = NULL;
    snprintf(out->name, sizeof(out->name), "%s", name);
    out->ifindex = (int)if_nametoindex(name);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    if (ioctl(fd, TUNGETIFF, &ifr) < 0)
        return -errno;
    out->offload = (ifr.ifr_flags & IFF_VNET_HDR) != 0;
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return -errno;
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    return out->ifindex > 0 ? 0 : -ENODEV;
}

int tun_device_wait(struct tun_device *d, int stop_fd)
{
    struct pollfd fds[2] = {{d->fd, POLLIN, 0}, {stop_fd, POLLIN, 0}};
    return poll(fds, stop_fd >= 0 ? 2 : 1, -1) < 0 && errno != EINTR ? -errno : 0;
}

ssize_t tun_device_read(struct tun_device *d, void *buf, size_t cap, struct tun_offload *meta)
{
    memset(meta, 0, sizeof(*meta));
    if (!d->offload) {
        ssize_t n = read(d->fd, buf, cap);
        return n < 0 ? -errno : n;
    }
    struct virtio_net_hdr hdr;
    struct iovec iov[2] = {{&hdr, sizeof(hdr)}, {buf, cap}};
    ssize_t n = readv(d->fd, iov, 2);
    if (n < 0)
        return -errno;
    if (n < (ssize_t)sizeof(hdr) || hdr.gso_type != VIRTIO_NET_HDR_GSO_NONE)
        return 0; /* not asked for (no TSO): an empty packet, dropped as malformed */
    meta->csum_partial = (hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) != 0;
    meta->csum_start = hdr.csum_start;
    meta->csum_offset = hdr.csum_offset;
    return n - (ssize_t)sizeof(hdr);
}

ssize_t tun_device_write(struct tun_device *d, const void *buf, size_t len,
                         const struct tun_offload *meta)
{
    if (!d->offload) {
        ssize_t n = write(d->fd, buf, len);
        return n < 0 ? -errno : n;
    }
    struct virtio_net_hdr hdr;
    memset(&hdr, 0, sizeof(hdr));
    if (meta && meta->csum_partial) {
        hdr.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
        hdr.csum_start = meta->csum_start;
        hdr.csum_offset = meta->csum_offset;
    }
    struct iovec iov[2] = {{&hdr, sizeof(hdr)}, {(void *)buf, len}};
    ssize_t n = writev(d->fd, iov, 2);
    return n < 0 ? -errno : n - (ssize_t)sizeof(hdr);
}

void tun_device_close(struct tun_device *d)
{
    if (d->fd >= 0)
        close(d->fd);
    d->fd = -1;
}
#endif
