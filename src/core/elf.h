/* The ELF check `tether bridge package` makes before it packages a binary
 * as a Lambda function's bootstrap: a 64-bit little-endian ELF for the
 * function's machine, with no program interpreter (statically linked:
 * provided.al2023 has no libraries tether could rely on). Reads only the
 * first bytes and the program headers, within `len`. */
#ifndef TETHER_CORE_ELF_H
#define TETHER_CORE_ELF_H

#include <stddef.h>

enum elf_machine {
    ELF_MACHINE_X86_64 = 62,
    ELF_MACHINE_AARCH64 = 183,
};

/* 0, or -EINVAL with the reason in cause; `name` (a path) starts the cause. */
int elf_check_static_executable(const void *data, size_t len, enum elf_machine machine,
                                const char *name, char *cause, size_t cause_len);

#endif
