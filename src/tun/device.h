/* The TUN device and its routes, one interface for every platform:
 * device_linux.c (TUN + rtnetlink through libmnl), device_darwin.c (utun +
 * the routing socket) and device_windows.c (Wintun + the IP Helper API).
 *
 * Linux is what is built and tested here; the macOS and Windows backends
 * are written against their platform APIs and say in docs/tun.md what has
 * and has not been checked (device name: "tether" on Linux and Windows,
 * the first free utunN on macOS, whose name is reported back).
 *
 * tun_device_open creates the device, gives it the tunnel's address (with
 * the fake client as its point-to-point peer), sets the MTU, brings it up
 * and adds one route per VPC subnet. A device of the same name left behind
 * by an earlier run (persistent, held by no process) is deleted first; one
 * a live process holds is an error that names the process.
 *
 * Everything the device brought is tied to its descriptor: closing it
 * (tun_device_close, or the kernel when the process dies, SIGKILL included)
 * removes the device, its addresses and its routes.
 *
 * Ownership: the caller owns the struct; tun_device_close releases the
 * descriptor. A descriptor received from the privileged helper is adopted
 * with tun_device_adopt. */
#ifndef TETHER_TUN_DEVICE_H
#define TETHER_TUN_DEVICE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tun/cidr.h"

#define TUN_NAME_MAX 16 /* IFNAMSIZ, NUL included */
#define TUN_DEFAULT_NAME "tether"
#define TUN_DEFAULT_MTU 65535u
#define TUN_DEVICE_MAX_ROUTES 64

struct tun_device_config {
    char name[TUN_NAME_MAX];
    int offload; /* Linux: checksum offload through IFF_VNET_HDR (default on) */
    int has_ipv4, has_ipv6;
    uint8_t addr4[4], peer4[4];
    uint8_t addr6[16], peer6[16];
    uint32_t mtu;
    struct tun_cidr routes[TUN_DEVICE_MAX_ROUTES];
    size_t route_count;
};

struct tun_device {
    int fd; /* -1 when closed (Windows: unused, see platform) */
    char name[TUN_NAME_MAX];
    int ifindex;
    void *platform; /* Windows: the Wintun adapter and session */
    int offload;    /* packets carry checksum offload information */
};

/* Checksum offload of one packet (Linux: the virtio-net header that
 * IFF_VNET_HDR puts before each packet). With csum_partial, the TCP
 * checksum holds only the pseudo-header sum: the kernel neither computed
 * it when handing the packet over nor verifies it when taking one back. */
struct tun_offload {
    int csum_partial;
    uint16_t csum_start;  /* where the L4 header starts */
    uint16_t csum_offset; /* the checksum field's offset in it */
};

/* 0, or -errno with the cause in the caller's buffer. */
int tun_device_open(const struct tun_device_config *config, struct tun_device *out, char *cause,
                    size_t cause_len);
/* Takes over a descriptor opened by the helper (non-blocking is set here). */
int tun_device_adopt(int fd, const char *name, struct tun_device *out);
/* Deletes a stale device of that name: 0 when there was none, 1 when one was
 * removed, -EBUSY (a live process holds it; cause names it) or -EEXIST (not
 * a TUN device). */
int tun_device_clean_stale(const char *name, char *cause, size_t cause_len);
/* Blocks until a packet can be read or stop_fd (POSIX) becomes readable;
 * 0, or -errno. */
int tun_device_wait(struct tun_device *device, int stop_fd);
/* One packet; -errno (-EAGAIN when none is ready). meta (never NULL) gets
 * its offload state (all zero without offload). */
ssize_t tun_device_read(struct tun_device *device, void *buf, size_t cap, struct tun_offload *meta);
/* meta NULL: every checksum in the packet is complete. */
ssize_t tun_device_write(struct tun_device *device, const void *buf, size_t len,
                         const struct tun_offload *meta);
void tun_device_close(struct tun_device *device);
/* 1 when a device of this name exists now. */
int tun_device_exists(const char *name);

/* The host's own networks, for the TUN helper's refusals: the network of
 * every interface address, every directly connected route and every
 * gateway (as a host block, multipath ones too) of the main routing table.
 * 0, or -errno with the cause; at most `max` blocks (-E2BIG beyond). */
int tun_device_host_networks(struct tun_cidr *nets, size_t max, size_t *count, char *cause,
                             size_t cause_len);

/* Checks a device name: 1-15 bytes of [A-Za-z0-9_.-], not "." or "..". */
int tun_device_name_valid(const char *name);

#endif
