/* Internet checksums (RFC 1071) and their incremental update (RFC 1624).
 *
 * Sums are kept as 32-bit accumulators of big-endian 16-bit words and folded
 * at the end; every function works on the bytes as they are on the wire, so
 * no byte-order conversion is needed by the caller. */
#ifndef TETHER_TUN_CHECKSUM_H
#define TETHER_TUN_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

/* Adds `len` bytes to an accumulator (an odd last byte is padded with zero,
 * so only the last piece of a sum may have odd length). */
uint32_t tun_csum_add(uint32_t sum, const void *data, size_t len);
/* Folds an accumulator and complements it: the value to store in a header. */
uint16_t tun_csum_finish(uint32_t sum);
/* The pseudo-header sum of TCP/UDP/ICMPv6 (RFC 793, RFC 8200 8.1):
 * addr_len is 4 or 16. */
uint32_t tun_csum_pseudo(const uint8_t *src, const uint8_t *dst, size_t addr_len, uint8_t proto,
                         uint32_t l4_len);
/* RFC 1624 eqn. 3: the checksum field at `field` (2 bytes, wire order)
 * after `len` bytes (even) change from old_bytes to new_bytes. */
void tun_csum_replace(uint8_t *field, const uint8_t *old_bytes, const uint8_t *new_bytes,
                      size_t len);
/* The same for a checksum field that holds a partial (pseudo-header) sum,
 * not yet complemented: what the kernel leaves for checksum offload
 * (CHECKSUM_PARTIAL) and completes over the data later. */
void tun_csum_replace_seed(uint8_t *field, const uint8_t *old_bytes, const uint8_t *new_bytes,
                           size_t len);

#endif
