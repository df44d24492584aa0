#include "core/elf.h"
#include "core/cause.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define ELF_HEADER_SIZE 64 /* ELF64 */
#define ELF_PT_INTERP 3

static uint64_t le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* "x86_64", "arm64", or "another machine". */
static const char *elf_machine_name(unsigned machine)
{
    return machine == ELF_MACHINE_X86_64    ? "x86_64"
           : machine == ELF_MACHINE_AARCH64 ? "arm64"
                                            : "another machine";
}

/* Whether a program header of type PT_INTERP (a dynamic loader) exists. */
static int has_interpreter(const unsigned char *e, size_t len)
{
    uint64_t phoff = le(e + 32, 8), phentsize = le(e + 54, 2), phnum = le(e + 56, 2);
    for (uint64_t i = 0; i < phnum; i++) {
        uint64_t at = phoff + i * phentsize;
        if (phentsize < 4 || at > len || len - at < 4)
            break;
        if (le(e + at, 4) == ELF_PT_INTERP)
            return 1;
    }
    return 0;
}

int elf_check_static_executable(const void *data, size_t len, enum elf_machine machine,
                                const char *name, char *cause, size_t cause_len)
{
    const unsigned char *e = data;
    if (len < ELF_HEADER_SIZE ||
        memcmp(e,
               "\x7f"
               "ELF",
               4) != 0 ||
        e[4] != 2 || e[5] != 1)
        return cause_set(cause, cause_len, -EINVAL, "%s is not a 64-bit Linux executable", name);
    unsigned found = (unsigned)le(e + 18, 2);
    if (found != (unsigned)machine)
        return cause_set(cause, cause_len, -EINVAL, "%s is built for %s, not %s", name,
                         elf_machine_name(found), elf_machine_name(machine));
    if (has_interpreter(e, len))
        return cause_set(cause, cause_len, -EINVAL,
                         "%s is dynamically linked (a sanitizer build?); package the static "
                         "build/tether-bridge (`make build/tether-bridge`)",
                         name);
    return 0;
}
