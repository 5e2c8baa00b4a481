/*
 * tun_proxyproto.h - the PROXY protocol header (haproxy's
 * proxy-protocol.txt, versions 1 and 2) that a load balancer puts in front
 * of a connection to say whom it relays.
 *
 * The parser is I/O-free and bounded: it looks at the bytes received so far
 * and says "complete, N bytes", "not yet" or "malformed, because ...".  It
 * never reads past the header, so the bytes after it (the SSH client's
 * version line) stay where they are.  Used by the network process, which
 * reads the header off the socket, and by the privileged helper, which
 * parses the same bytes again itself rather than trusting the address the
 * network process derived from them.
 */
#ifndef SSHTUN_TUN_PROXYPROTO_H
#define SSHTUN_TUN_PROXYPROTO_H

#include <stddef.h>
#include <stdint.h>

/* The longest header accepted: a v1 line is at most 107 bytes (the spec's
 * worst case), a v2 header 16 bytes plus the address block and TLVs; an
 * AF_UNIX block is 216 bytes, and haproxy's TLVs (ALPN, authority, SSL
 * details, unique id) stay well under this.  The v2 length field could say
 * 64 KiB: a header announcing more than this is refused. */
#define TUN_PROXY_MAX    1024
#define TUN_PROXY_V1_MAX 107

typedef struct tun_proxyhdr {
    int version; /* 1 or 2 */
    /* 1: use the connection's own addresses - v2 LOCAL (a health check
     * by the proxy itself), v1 UNKNOWN, v2 UNSPEC or AF_UNIX families. */
    int local;
    int family;               /* AF_INET or AF_INET6 when !local */
    uint8_t src[16], dst[16]; /* network order; 4 bytes used for AF_INET */
    uint16_t src_port, dst_port;
    size_t len; /* bytes of the header, TLVs included */
} tun_proxyhdr;

/* Parse the header at the start of `p` (n bytes received so far).
 * Returns the header's length (> 0) with `*h` filled; 0 if the bytes so
 * far are a valid beginning of a header but it is not complete (every one
 * of the n bytes then belongs to the header, so a caller may consume them
 * all); -1 if malformed, with `*why` set to a short static reason.  Bytes
 * after the header are never looked at. */
int tun_proxy_parse(const uint8_t *p, size_t n, tun_proxyhdr *h, const char **why);

/* The source address as text ("192.0.2.1", "2001:db8::1"); `h` must be a
 * complete, non-local header.  0 or -1. */
int tun_proxy_src_text(const tun_proxyhdr *h, char *buf, size_t len);

#endif
