/* The few DNS message operations the forwarder needs (RFC 1035 4.1): read
 * the question's name, answer with an error, truncate for UDP. Every label
 * length is checked against the bytes present and the name's 255-byte cap;
 * compression pointers are refused in questions, which never need them. */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "tun/dns.h"

#define DNS_HEADER 12

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* Appends one label to the presentation form; -EINVAL when it does not fit. */
static int append_label(char *name, size_t name_len, size_t *used, const uint8_t *label, size_t len)
{
    if (*used + len + 2 > name_len)
        return -EINVAL;
    if (*used)
        name[(*used)++] = '.';
    for (size_t i = 0; i < len; i++) {
        uint8_t c = label[i];
        name[(*used)++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
    name[*used] = '\0';
    return 0;
}

int tun_dns_question_name(const uint8_t *msg, size_t len, char *name, size_t name_len,
                          size_t *question_end)
{
    if (len < DNS_HEADER || name_len < 2)
        return -EINVAL;
    if ((msg[2] & 0x80) || get16(msg + 4) != 1) /* a response, or not one question */
        return -EINVAL;
    size_t offset = DNS_HEADER, used = 0, wire_len = 0;
    name[0] = '\0';
    for (;;) {
        if (offset >= len)
            return -EINVAL;
        size_t label = msg[offset++];
        if (label == 0)
            break;
        if (label > 63 || offset + label > len) /* also refuses pointers (0xc0) */
            return -EINVAL;
        wire_len += label + 1;
        if (wire_len > 254 || append_label(name, name_len, &used, msg + offset, label) < 0)
            return -EINVAL;
        offset += label;
    }
    if (offset + 4 > len)
        return -EINVAL;
    if (used == 0)
        strcpy(name, ".");
    *question_end = offset + 4;
    return 0;
}

int tun_dns_name_in_domain(const char *name, const char *domain)
{
    size_t n = strlen(name), d = strlen(domain);
    if (d == 0 || n < d || strcasecmp(name + n - d, domain) != 0)
        return 0;
    return n == d || name[n - d - 1] == '.';
}

size_t tun_dns_build_error(const uint8_t *query, size_t len, uint8_t rcode, uint8_t *out,
                           size_t out_cap)
{
    char name[TUN_DNS_NAME_MAX];
    size_t end;
    if (tun_dns_question_name(query, len, name, sizeof(name), &end) < 0 || end > out_cap)
        return 0;
    memcpy(out, query, end);
    out[2] = (uint8_t)(0x80 | (query[2] & 0x79)); /* QR, opcode and RD kept */
    out[3] = (uint8_t)(0x80 | (rcode & 0x0f));    /* RA */
    memset(out + 6, 0, 6);                        /* no answer, authority, additional */
    return end;
}

size_t tun_dns_truncate(uint8_t *answer, size_t len)
{
    if (len < DNS_HEADER || get16(answer + 4) != 1)
        return 0;
    size_t offset = DNS_HEADER;
    while (offset < len && answer[offset] != 0) {
        if (answer[offset] >= 0xc0) {
            offset += 1; /* a pointer ends the name (2 bytes in all) */
            break;
        }
        offset += (size_t)answer[offset] + 1;
    }
    offset += 1 + 4;
    if (offset > len)
        return 0;
    answer[2] |= 0x02; /* TC */
    memset(answer + 6, 0, 6);
    return offset;
}

int tun_dns_domain_valid(const char *domain, char *out, size_t out_len)
{
    size_t len = strlen(domain);
    if (len && domain[len - 1] == '.')
        len--;
    if (len == 0 || len > 253 || len >= out_len)
        return -EINVAL;
    size_t label = 0;
    for (size_t i = 0; i < len; i++) {
        char c = (char)tolower((unsigned char)domain[i]);
        if (c == '.') {
            if (label == 0)
                return -EINVAL;
            label = 0;
        } else if (isalnum((unsigned char)c) || c == '-' || c == '_') {
            if (++label > 63)
                return -EINVAL;
        } else {
            return -EINVAL;
        }
        out[i] = c;
    }
    if (label == 0)
        return -EINVAL;
    out[len] = '\0';
    return 0;
}
