/*
 * tun_proxyproto.c - the PROXY protocol header parser (see tun_proxyproto.h).
 *
 * Written from haproxy's doc/proxy-protocol.txt.  What the spec asks of a
 * receiver, and how it is done here:
 *
 *  - v1 (2.1): one US-ASCII line "PROXY TCP4|TCP6 src dst sport dport\r\n",
 *    at most 107 bytes with the CRLF; "PROXY UNKNOWN" followed by anything
 *    up to the CRLF means "use the connection's own addresses".  Exactly one
 *    space between fields, canonical addresses of the announced family,
 *    ports in decimal without leading zeroes, a lone CR or LF is not an end
 *    of line.  Anything else is malformed.
 *  - v2 (2.2): the 12-byte signature, version 2 in the high nibble of byte
 *    13 (anything else refused), command LOCAL (use the connection's own
 *    addresses, skip the block whatever its length) or PROXY (others
 *    refused), family/protocol byte with known values only, a 16-bit length
 *    of what follows.  TCP over IPv4 or IPv6 gives the client's address;
 *    UNSPEC, AF_UNIX and datagram families fall back to the connection's
 *    own addresses (allowed by the spec: "falls back to the UNSPEC mode").
 *    The address block must be as long as its family needs; what follows it
 *    (TLVs) is skipped, not interpreted.
 *  - "The receiver must not start to parse an address before the whole
 *    address block is received": nothing is decided about addresses until
 *    the header is complete; until then only the fixed parts are checked,
 *    so garbage is refused at once instead of after the deadline.
 */
#include "tun_proxyproto.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static const uint8_t v2_sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                   0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

static int fail(const char **why, const char *reason)
{
    if (why)
        *why = reason;
    return -1;
}

/* ---- version 1
 * ----------------------------------------------------------------------------------- */

/* A decimal port without leading zeroes, 0..65535. */
static int v1_port(const char *s, size_t n, uint16_t *out)
{
    if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
        return -1;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > 65535)
        return -1;
    *out = (uint16_t)v;
    return 0;
}

/* An address of `family` in its canonical text form.  inet_pton is a pure
 * function: for AF_INET glibc takes exactly four dotted decimal numbers
 * and refuses leading zeroes, as the spec asks. */
static int v1_addr(int family, const char *s, size_t n, uint8_t *out)
{
    char buf[48];
    if (n == 0 || n >= sizeof(buf))
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return inet_pton(family, buf, out) == 1 ? 0 : -1;
}

static int parse_v1(const uint8_t *p, size_t n, tun_proxyhdr *h, const char **why)
{
    static const char pfx[] = "PROXY ";
    size_t cmp = n < 6 ? n : 6;
    if (memcmp(p, pfx, cmp) != 0)
        return fail(why, "not a PROXY protocol header");
    /* Find the end of the line; a lone CR or LF is an error. */
    size_t lim = n < TUN_PROXY_V1_MAX ? n : TUN_PROXY_V1_MAX;
    size_t eol = 0;
    int found = 0;
    for (size_t i = 0; i < lim; i++) {
        if (p[i] == '\n')
            return fail(why, "v1 line ends without CR");
        if (p[i] == '\r') {
            if (i + 1 >= n)
                break; /* the LF may still come */
            if (p[i + 1] != '\n')
                return fail(why, "v1 line has a CR without LF");
            eol = i;
            found = 1;
            break;
        }
        if (p[i] < 0x20 || p[i] > 0x7e)
            return fail(why, "v1 line has a non-printable byte");
    }
    if (!found) {
        if (n >= TUN_PROXY_V1_MAX)
            return fail(why, "v1 line longer than 107 bytes");
        return 0;
    }
    if (eol + 2 > TUN_PROXY_V1_MAX)
        return fail(why, "v1 line longer than 107 bytes");
    if (eol < 6)
        return fail(why, "v1 line too short");
    const char *line = (const char *)p;
    size_t len = eol; /* without CRLF */
    h->version = 1;
    h->len = eol + 2;

    /* Split into space-separated fields, exactly one space between. */
    const char *f[7];
    size_t fl[7];
    int nf = 0;
    size_t start = 6;
    const char *proto = line + 6;
    size_t proto_len = 0;
    while (6 + proto_len < len && line[6 + proto_len] != ' ')
        proto_len++;
    if (proto_len == 7 && memcmp(proto, "UNKNOWN", 7) == 0) {
        /* "the receiver must ignore anything presented before the CRLF" */
        if (len > 13 && line[13] != ' ')
            return fail(why, "v1 protocol is not TCP4, TCP6 or UNKNOWN");
        h->local = 1;
        return (int)h->len;
    }
    if (proto_len == 4 && memcmp(proto, "TCP4", 4) == 0)
        h->family = AF_INET;
    else if (proto_len == 4 && memcmp(proto, "TCP6", 4) == 0)
        h->family = AF_INET6;
    else
        return fail(why, "v1 protocol is not TCP4, TCP6 or UNKNOWN");
    for (size_t i = start; i <= len; i++) {
        if (i == len || line[i] == ' ') {
            if (i == start)
                return fail(why, "v1 fields not separated by exactly one space");
            if (nf == 5)
                return fail(why, "v1 line has too many fields");
            f[nf] = line + start;
            fl[nf] = i - start;
            nf++;
            start = i + 1;
        }
    }
    if (nf != 5)
        return fail(why, "v1 line has too few fields");
    if (v1_addr(h->family, f[1], fl[1], h->src) != 0)
        return fail(why, "v1 source address malformed");
    if (v1_addr(h->family, f[2], fl[2], h->dst) != 0)
        return fail(why, "v1 destination address malformed");
    if (v1_port(f[3], fl[3], &h->src_port) != 0)
        return fail(why, "v1 source port malformed");
    if (v1_port(f[4], fl[4], &h->dst_port) != 0)
        return fail(why, "v1 destination port malformed");
    return (int)h->len;
}

/* ---- version 2
 * ----------------------------------------------------------------------------------- */

static int parse_v2(const uint8_t *p, size_t n, tun_proxyhdr *h, const char **why)
{
    size_t cmp = n < sizeof(v2_sig) ? n : sizeof(v2_sig);
    if (memcmp(p, v2_sig, cmp) != 0)
        return fail(why, "not a PROXY protocol header");
    if (n <= 12)
        return 0;
    unsigned ver = p[12] >> 4, cmd = p[12] & 0x0f;
    if (ver != 2)
        return fail(why, "v2 header with a version other than 2");
    if (cmd > 1)
        return fail(why, "v2 command neither LOCAL nor PROXY");
    if (n <= 13)
        return 0;
    unsigned fam = p[13] >> 4, proto = p[13] & 0x0f;
    if (fam > 3 || proto > 2)
        return fail(why, "v2 address family or protocol unknown");
    if (n < 16)
        return 0;
    size_t alen = ((size_t)p[14] << 8) | p[15];
    if (16 + alen > TUN_PROXY_MAX)
        return fail(why, "v2 header longer than 1024 bytes");
    if (n < 16 + alen)
        return 0;
    h->version = 2;
    h->len = 16 + alen;
    static const size_t need[4] = {0, 12, 36, 216};
    if (cmd == 1 && alen < need[fam])
        return fail(why, "v2 address block shorter than its family needs");
    /* LOCAL: "must use the real connection endpoints and discard the
     * protocol block including the family".  PROXY over anything but a
     * TCP/IP stream: the connection's own endpoints (UNSPEC fallback). */
    if (cmd == 0 || proto != 1 || (fam != 1 && fam != 2)) {
        h->local = 1;
        return (int)h->len;
    }
    const uint8_t *a = p + 16;
    size_t al = fam == 1 ? 4 : 16;
    h->family = fam == 1 ? AF_INET : AF_INET6;
    memcpy(h->src, a, al);
    memcpy(h->dst, a + al, al);
    h->src_port = (uint16_t)((a[2 * al] << 8) | a[2 * al + 1]);
    h->dst_port = (uint16_t)((a[2 * al + 2] << 8) | a[2 * al + 3]);
    return (int)h->len;
}

int tun_proxy_parse(const uint8_t *p, size_t n, tun_proxyhdr *h, const char **why)
{
    memset(h, 0, sizeof(*h));
    if (why)
        *why = NULL;
    if (n == 0)
        return 0;
    if (p[0] == 'P')
        return parse_v1(p, n, h, why);
    if (p[0] == 0x0D)
        return parse_v2(p, n, h, why);
    return fail(why, "not a PROXY protocol header");
}

int tun_proxy_src_text(const tun_proxyhdr *h, char *buf, size_t len)
{
    if (h->local || (h->family != AF_INET && h->family != AF_INET6))
        return -1;
    if (inet_ntop(h->family, h->src, buf, (socklen_t)len) == NULL)
        return -1;
    /* An IPv4-mapped IPv6 source is the IPv4 client it stands for, as a
     * dual-stack socket would report it. */
    if (h->family == AF_INET6 && strncmp(buf, "::ffff:", 7) == 0 && strchr(buf + 7, ':') == NULL &&
        strchr(buf + 7, '.') != NULL)
        memmove(buf, buf + 7, strlen(buf + 7) + 1);
    return 0;
}
