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
