/* Peak memory of a sandbox's processes, from /proc (Linux). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lambda/logs.h"

/* The process group of a pid, from field 5 of /proc/PID/stat; -1 if gone. */
static long process_group_of(const char *pid)
{
    char path[64], line[512];
    snprintf(path, sizeof(path), "/proc/%s/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(line, 1, sizeof(line) - 1, f);
    fclose(f);
    line[n] = '\0';
    /* The command name (field 2) may hold spaces and ')': skip past the last ')'. */
    char *p = strrchr(line, ')');
    long pgrp = -1;
    if (!p || sscanf(p + 1, " %*c %*d %ld", &pgrp) != 1)
        return -1;
    return pgrp;
}

static unsigned long peak_kb_of(const char *pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%s/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    unsigned long kb = 0;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmHWM: %lu kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

unsigned long lambda_process_group_peak_kb(pid_t pgid)
{
    DIR *proc = opendir("/proc");
    if (!proc)
        return 0;
    unsigned long total = 0;
    struct dirent *entry;
    while ((entry = readdir(proc)) != NULL) {
        if (entry->d_name[0] < '1' || entry->d_name[0] > '9')
            continue;
        if (process_group_of(entry->d_name) == (long)pgid)
            total += peak_kb_of(entry->d_name);
    }
    closedir(proc);
    return total;
}
