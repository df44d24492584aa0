/* A synthetic ELF file for the tests of the ELF check and of the bridge's
 * package (test_zip.c, test_bridge_package.c): the smallest header that
 * core/elf.c reads, with exactly one program header. */
#ifndef TETHER_TEST_ELF_FIXTURE_H
#define TETHER_TEST_ELF_FIXTURE_H

#include <string.h>

#define ELF_FIXTURE_SIZE 128

/* Writes into e (ELF_FIXTURE_SIZE bytes) a 64-bit little-endian ELF header
 * for machine, followed at offset 64 by one program header of type phtype
 * (1 PT_LOAD; 3 PT_INTERP, a dynamically linked program). */
static inline void elf_fixture(unsigned char *e, unsigned machine, unsigned phtype)
{
    memset(e, 0, ELF_FIXTURE_SIZE);
    memcpy(e,
           "\x7f"
           "ELF",
           4);
    e[4] = 2; /* 64-bit */
    e[5] = 1; /* little-endian */
    e[18] = (unsigned char)machine;
    e[19] = (unsigned char)(machine >> 8);
    e[32] = 64; /* phoff */
    e[54] = 56; /* phentsize */
    e[56] = 1;  /* phnum */
    e[64] = (unsigned char)phtype;
}

#endif
