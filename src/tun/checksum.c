/* Internet checksums: full computation for the packets tether builds itself
 * (RST, ICMP, DNS answers) and the RFC 1624 incremental update for the
 * packets it only readdresses, so a 64 KB segment costs a few additions. */
#include "tun/checksum.h"

uint32_t tun_csum_add(uint32_t sum, const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t acc = sum;
    while (len >= 2) {
        acc += (uint32_t)(p[0] << 8 | p[1]);
        p += 2;
        len -= 2;
    }
    if (len)
        acc += (uint32_t)(p[0] << 8);
    while (acc >> 32)
        acc = (acc & 0xffffffffu) + (acc >> 32);
    /* Keep the result below 2^32 with room for more additions. */
    acc = (acc & 0xffff) + (acc >> 16);
    return (uint32_t)acc;
}

static uint16_t fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)sum;
}

uint16_t tun_csum_finish(uint32_t sum)
{
    return (uint16_t)~fold(sum);
}

uint32_t tun_csum_pseudo(const uint8_t *src, const uint8_t *dst, size_t addr_len, uint8_t proto,
                         uint32_t l4_len)
{
    uint32_t sum = tun_csum_add(0, src, addr_len);
    sum = tun_csum_add(sum, dst, addr_len);
    sum += proto;
    sum += l4_len >> 16;
    sum += l4_len & 0xffff;
    return sum;
}

void tun_csum_replace_seed(uint8_t *field, const uint8_t *old_bytes, const uint8_t *new_bytes,
                           size_t len)
{
    /* S' = S - m + m' = S + ~m + m' (one's complement). */
    uint32_t sum = (uint32_t)(field[0] << 8 | field[1]);
    for (size_t i = 0; i + 1 < len; i += 2) {
        sum += (uint16_t) ~(old_bytes[i] << 8 | old_bytes[i + 1]);
        sum += (uint32_t)(new_bytes[i] << 8 | new_bytes[i + 1]);
    }
    uint16_t result = fold(sum);
    field[0] = (uint8_t)(result >> 8);
    field[1] = (uint8_t)result;
}

void tun_csum_replace(uint8_t *field, const uint8_t *old_bytes, const uint8_t *new_bytes,
                      size_t len)
{
    /* HC' = ~(~HC + ~m + m') over every changed 16-bit word. */
    uint32_t sum = (uint16_t) ~(field[0] << 8 | field[1]);
    for (size_t i = 0; i + 1 < len; i += 2) {
        sum += (uint16_t) ~(old_bytes[i] << 8 | old_bytes[i + 1]);
        sum += (uint32_t)(new_bytes[i] << 8 | new_bytes[i + 1]);
    }
    uint16_t result = (uint16_t)~fold(sum);
    field[0] = (uint8_t)(result >> 8);
    field[1] = (uint8_t)result;
}
