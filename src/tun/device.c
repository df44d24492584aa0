/* Platform-independent parts of the device interface (tun/device.h). */
#include <string.h>

#include "tun/device.h"

int tun_device_name_valid(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len >= TUN_NAME_MAX || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return 0;
    return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") == len;
}

#ifndef __linux__
#include <errno.h>
#include <stdio.h>

/* Read on Linux only (device_linux.c): elsewhere the helper, which needs
 * it, refuses every request (docs/tun.md). */
int tun_device_host_networks(struct tun_cidr *nets, size_t max, size_t *count, char *cause,
                             size_t cause_len)
{
    (void)nets;
    (void)max;
    *count = 0;
    snprintf(cause, cause_len, "reading the host's networks is implemented on Linux only");
    return -ENOTSUP;
}
#endif
