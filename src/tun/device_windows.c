/* The TUN device on Windows: a Wintun adapter (wintun.dll, loaded at run
 * time), its address, MTU and routes through the IP Helper API
 * (CreateUnicastIpAddressEntry, SetIpInterfaceEntry, CreateIpForwardEntry2).
 *
 * The Wintun functions are declared here from Wintun's documented API (the
 * DLL and its header ship with Wintun, not with Windows); packets move
 * through the session's ring: WintunReceivePacket / WintunAllocateSendPacket.
 * Cross-compiled with MinGW-w64 on Debian; not run (docs/tun.md). */
#ifdef _WIN32
#include "tun/device.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <iphlpapi.h>
#include <netioapi.h>
#include <windows.h>
#include <winsock2.h>
#include <ws2tcpip.h>

#define WINTUN_RING_CAPACITY 0x800000 /* 8 MiB, a power of two as Wintun requires */

typedef void *wintun_adapter;
typedef void *wintun_session;
typedef wintun_adapter(WINAPI *create_adapter_fn)(LPCWSTR, LPCWSTR, const GUID *);
typedef wintun_adapter(WINAPI *open_adapter_fn)(LPCWSTR);
typedef void(WINAPI *close_adapter_fn)(wintun_adapter);
typedef void(WINAPI *get_luid_fn)(wintun_adapter, NET_LUID *);
typedef wintun_session(WINAPI *start_session_fn)(wintun_adapter, DWORD);
typedef void(WINAPI *end_session_fn)(wintun_session);
typedef HANDLE(WINAPI *read_event_fn)(wintun_session);
typedef BYTE *(WINAPI *receive_fn)(wintun_session, DWORD *);
typedef void(WINAPI *release_fn)(wintun_session, const BYTE *);
typedef BYTE *(WINAPI *allocate_fn)(wintun_session, DWORD);
typedef void(WINAPI *send_fn)(wintun_session, const BYTE *);

struct wintun_api {
    HMODULE dll;
    create_adapter_fn create_adapter;
    open_adapter_fn open_adapter;
    close_adapter_fn close_adapter;
    get_luid_fn get_luid;
    start_session_fn start_session;
    end_session_fn end_session;
    read_event_fn read_event;
    receive_fn receive;
    release_fn release;
    allocate_fn allocate;
    send_fn send;
};

struct windows_device {
    struct wintun_api *api;
    wintun_adapter adapter;
    wintun_session session;
    NET_LUID luid;
};

static struct wintun_api api;

#define LOAD(field, name) (api.field = (void *)GetProcAddress(api.dll, name)) != NULL

static int load_wintun(void)
{
    if (api.dll)
        return 0;
    api.dll = LoadLibraryExW(L"wintun.dll", NULL,
                             LOAD_LIBRARY_SEARCH_APPLICATION_DIR | LOAD_LIBRARY_SEARCH_SYSTEM32);
    if (!api.dll)
        return -ENOENT;
    if (LOAD(create_adapter, "WintunCreateAdapter") && LOAD(open_adapter, "WintunOpenAdapter") &&
        LOAD(close_adapter, "WintunCloseAdapter") && LOAD(get_luid, "WintunGetAdapterLUID") &&
        LOAD(start_session, "WintunStartSession") && LOAD(end_session, "WintunEndSession") &&
        LOAD(read_event, "WintunGetReadWaitEvent") && LOAD(receive, "WintunReceivePacket") &&
        LOAD(release, "WintunReleaseReceivePacket") && LOAD(allocate, "WintunAllocateSendPacket") &&
        LOAD(send, "WintunSendPacket"))
        return 0;
    FreeLibrary(api.dll);
    memset(&api, 0, sizeof(api));
    return -ENOSYS;
}

static void wide_name(const char *name, WCHAR *out, size_t out_len)
{
    MultiByteToWideChar(CP_UTF8, 0, name, -1, out, (int)out_len);
}

static void sockaddr_of(int family, const uint8_t *addr, SOCKADDR_INET *out)
{
    memset(out, 0, sizeof(*out));
    if (family == 4) {
        out->Ipv4.sin_family = AF_INET;
        memcpy(&out->Ipv4.sin_addr, addr, 4);
    } else {
        out->Ipv6.sin6_family = AF_INET6;
        memcpy(&out->Ipv6.sin6_addr, addr, 16);
    }
}

static int add_address(const NET_LUID *luid, int family, const uint8_t *addr)
{
    MIB_UNICASTIPADDRESS_ROW row;
    InitializeUnicastIpAddressEntry(&row);
    row.InterfaceLuid = *luid;
    sockaddr_of(family, addr, &row.Address);
    row.OnLinkPrefixLength = family == 4 ? 32 : 128;
    row.DadState = IpDadStatePreferred;
    DWORD err = CreateUnicastIpAddressEntry(&row);
    return err == NO_ERROR || err == ERROR_OBJECT_ALREADY_EXISTS ? 0 : -EIO;
}

static int add_route(const NET_LUID *luid, const struct tun_cidr *r)
{
    MIB_IPFORWARD_ROW2 row;
    InitializeIpForwardEntry(&row);
    row.InterfaceLuid = *luid;
    sockaddr_of(r->family, r->addr, &row.DestinationPrefix.Prefix);
    row.DestinationPrefix.PrefixLength = r->prefix;
    sockaddr_of(r->family, (const uint8_t[16]){0}, &row.NextHop); /* on-link */
    row.Metric = 0;
    row.Protocol = MIB_IPPROTO_NETMGMT;
    DWORD err = CreateIpForwardEntry2(&row);
    return err == NO_ERROR ? 0 : err == ERROR_OBJECT_ALREADY_EXISTS ? -EEXIST : -EIO;
}

static int set_mtu(const NET_LUID *luid, int family, uint32_t mtu)
{
    MIB_IPINTERFACE_ROW row;
    InitializeIpInterfaceEntry(&row);
    row.Family = family == 4 ? AF_INET : AF_INET6;
    row.InterfaceLuid = *luid;
    if (GetIpInterfaceEntry(&row) != NO_ERROR)
        return -EIO;
    row.NlMtu = mtu;
    row.SitePrefixLength = 0; /* must be 0 for IPv4 on set */
    return SetIpInterfaceEntry(&row) == NO_ERROR ? 0 : -EIO;
}

int tun_device_exists(const char *name)
{
    WCHAR wide[TUN_NAME_MAX];
    if (load_wintun() < 0)
        return 0;
    wide_name(name, wide, TUN_NAME_MAX);
    wintun_adapter a = api.open_adapter(wide);
    if (a)
        api.close_adapter(a);
    return a != NULL;
}

int tun_device_clean_stale(const char *name, char *cause, size_t cause_len)
{
    /* An adapter tether created is removed when its handle closes, also
     * when the process dies; one of the same name that is still there
     * belongs to a live process or to someone else. */
    if (!tun_device_exists(name))
        return 0;
    snprintf(cause, cause_len,
             "a network adapter named %s exists already; stop the other tether, or pick "
             "another name with --tun-name",
             name);
    return -EBUSY;
}

static int configure(const struct tun_device_config *c, struct windows_device *w, char *cause,
                     size_t cause_len)
{
    int rc = 0;
    if (c->has_ipv4 &&
        ((rc = add_address(&w->luid, 4, c->addr4)) < 0 || (rc = set_mtu(&w->luid, 4, c->mtu)) < 0))
        snprintf(cause, cause_len, "cannot configure IPv4 on %s", c->name);
    if (rc == 0 && c->has_ipv6 &&
        ((rc = add_address(&w->luid, 6, c->addr6)) < 0 || (rc = set_mtu(&w->luid, 6, c->mtu)) < 0))
        snprintf(cause, cause_len, "cannot configure IPv6 on %s", c->name);
    for (size_t i = 0; rc == 0 && i < c->route_count; i++) {
        if ((rc = add_route(&w->luid, &c->routes[i])) < 0) {
            char text[TUN_CIDR_TEXT_MAX];
            tun_cidr_format(&c->routes[i], text, sizeof(text));
            snprintf(cause, cause_len, "cannot route %s into %s", text, c->name);
        }
    }
    return rc;
}

int tun_device_open(const struct tun_device_config *c, struct tun_device *out, char *cause,
                    size_t cause_len)
{
    memset(out, 0, sizeof(*out));
    out->fd = -1;
    int rc = load_wintun();
    if (rc < 0) {
        snprintf(cause, cause_len,
                 "wintun.dll is missing beside tether.exe (https://www.wintun.net)");
        return rc;
    }
    if ((rc = tun_device_clean_stale(c->name, cause, cause_len)) < 0)
        return rc;
    struct windows_device *w = calloc(1, sizeof(*w));
    WCHAR wide[TUN_NAME_MAX];
    wide_name(c->name, wide, TUN_NAME_MAX);
    w->adapter = w ? api.create_adapter(wide, L"tether", NULL) : NULL;
    if (!w || !w->adapter) {
        snprintf(cause, cause_len,
                 "cannot create the Wintun adapter %s (error %lu; needs an "
                 "administrator)",
                 c->name, (unsigned long)GetLastError());
        free(w);
        return -EPERM;
    }
    api.get_luid(w->adapter, &w->luid);
    w->session = api.start_session(w->adapter, WINTUN_RING_CAPACITY);
    out->platform = w;
    snprintf(out->name, sizeof(out->name), "%s", c->name);
    if (!w->session || (rc = configure(c, w, cause, cause_len)) < 0) {
        if (!w->session)
            snprintf(cause, cause_len, "cannot start a Wintun session on %s", c->name);
        tun_device_close(out);
        return rc < 0 ? rc : -EIO;
    }
    return 0;
}

int tun_device_adopt(int fd, const char *name, struct tun_device *out)
{
    return -ENOSYS; /* no descriptor passing: the Windows helper is not written */
}

int tun_device_wait(struct tun_device *d, int stop_fd)
{
    struct windows_device *w = d->platform;
    WaitForSingleObject(api.read_event(w->session), 250); /* the caller checks its stop flag */
    return 0;
}

ssize_t tun_device_read(struct tun_device *d, void *buf, size_t cap, struct tun_offload *meta)
{
    memset(meta, 0, sizeof(*meta)); /* Wintun hands over complete packets */
    struct windows_device *w = d->platform;
    DWORD size;
    BYTE *packet = api.receive(w->session, &size);
    if (!packet)
        return GetLastError() == ERROR_NO_MORE_ITEMS ? -EAGAIN : -EIO;
    size_t n = size < cap ? size : cap;
    memcpy(buf, packet, n);
    api.release(w->session, packet);
    return (ssize_t)n;
}

ssize_t tun_device_write(struct tun_device *d, const void *buf, size_t len,
                         const struct tun_offload *meta)
{
    struct windows_device *w = d->platform;
    BYTE *packet = len <= 0xffff ? api.allocate(w->session, (DWORD)len) : NULL;
    if (!packet)
        return -ENOBUFS;
    memcpy(packet, buf, len);
    api.send(w->session, packet);
    return (ssize_t)len;
}

void tun_device_close(struct tun_device *d)
{
    struct windows_device *w = d->platform;
    if (!w)
        return;
    if (w->session)
        api.end_session(w->session);
    if (w->adapter)
        api.close_adapter(w->adapter); /* removes the adapter and its routes */
    free(w);
    d->platform = NULL;
}
#endif
