/*
 * tun_srvconfig_listen.c - which of sshtund's listeners speak the PROXY
 * protocol (ProxyProtocol, "ListenAddress ... proxy-protocol"), decided
 * from a socket's local address so that the network process and the
 * privileged helper (which trusts only the socket) apply the same rule.
 */
#include "tun_srvconfig.h"
#include "tun_sock.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int tun_srvcfg_any_proxy(const tun_srvcfg *c)
{
    if (c->proxy_protocol == 1)
        return 1;
    for (int i = 0; i < c->n_listen_addresses; i++)
        if (c->listen_proxy[i])
            return 1;
    return 0;
}

/* "addr", "addr:port", "[v6]", "[v6]:port" -> numeric address and port (0:
 * every Port).  0 or -1. */
static int listen_entry(const char *spec, int *family, unsigned char addr[16], int *port)
{
    char host[128];
    const char *p = NULL;
    if (spec[0] == '[') {
        const char *end = strchr(spec, ']');
        if (end == NULL || (size_t)(end - spec - 1) >= sizeof(host))
            return -1;
        memcpy(host, spec + 1, (size_t)(end - spec - 1));
        host[end - spec - 1] = '\0';
        if (end[1] == ':')
            p = end + 2;
    } else {
        const char *colon = strchr(spec, ':');
        if (colon && strchr(colon + 1, ':') == NULL) {
            if ((size_t)(colon - spec) >= sizeof(host))
                return -1;
            memcpy(host, spec, (size_t)(colon - spec));
            host[colon - spec] = '\0';
            p = colon + 1;
        } else if (strlen(spec) < sizeof(host)) {
            strcpy(host, spec);
        } else {
            return -1;
        }
    }
    *port = p ? atoi(p) : 0;
    return tun_parse_numeric(host, family, addr) ? 0 : -1;
}

int tun_srvcfg_listener_proxy(const tun_srvcfg *c, const struct sockaddr_storage *local)
{
    if (c->proxy_protocol == 1)
        return 1;
    unsigned char la[16] = {0};
    int lport;
    if (local->ss_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)local;
        memcpy(la, &s4->sin_addr, 4);
        lport = ntohs(s4->sin_port);
    } else if (local->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)local;
        memcpy(la, &s6->sin6_addr, 16);
        lport = ntohs(s6->sin6_port);
    } else {
        return 0;
    }
    /* The most specific entry that covers the address decides: an exact
     * address over a wildcard one, an entry with its own port over one
     * that takes every Port. */
    int best = -1, proxy = 0;
    for (int i = 0; i < c->n_listen_addresses; i++) {
        int fam, port;
        unsigned char a[16];
        if (listen_entry(c->listen_addresses[i], &fam, a, &port) != 0)
            continue;
        size_t alen = fam == AF_INET ? 4 : 16;
        static const unsigned char zero[16];
        int wild = memcmp(a, zero, alen) == 0;
        if (!wild && (fam != local->ss_family || memcmp(a, la, alen) != 0))
            continue;
        if (port != 0 && port != lport)
            continue;
        if (port == 0) {
            int listed = 0;
            for (int j = 0; j < c->n_ports; j++)
                listed |= c->ports[j] == lport;
            if (!listed)
                continue;
        }
        int score = (wild ? 0 : 2) + (port ? 1 : 0);
        if (score > best) {
            best = score;
            proxy = c->listen_proxy[i];
        } else if (score == best) {
            proxy |= c->listen_proxy[i];
        }
    }
    return proxy;
}

/* The address bytes of `ss` with IPv4-mapped IPv6 as IPv4: 4 or 16, 0 if
 * neither family. */
static size_t src_bytes(const struct sockaddr_storage *ss, unsigned char out[16])
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (ss->ss_family == AF_INET) {
        memcpy(out, &((const struct sockaddr_in *)ss)->sin_addr, 4);
        return 4;
    }
    if (ss->ss_family == AF_INET6) {
        const unsigned char *a = ((const struct sockaddr_in6 *)ss)->sin6_addr.s6_addr;
        if (memcmp(a, mapped, 12) == 0) {
            memcpy(out, a + 12, 4);
            return 4;
        }
        memcpy(out, a, 16);
        return 16;
    }
    return 0;
}

int tun_srvcfg_same_source(const tun_srvcfg *c, const struct sockaddr_storage *a,
                           const struct sockaddr_storage *b)
{
    unsigned char x[16], y[16];
    size_t lx = src_bytes(a, x), ly = src_bytes(b, y);
    if (lx == 0 || lx != ly)
        return 0;
    int bits = lx == 4 ? c->per_source_bits4 : c->per_source_bits6;
    if (bits < 0)
        bits = lx == 4 ? 32 : 128;
    size_t whole = (size_t)bits / 8;
    if (memcmp(x, y, whole) != 0)
        return 0;
    if (bits % 8 == 0)
        return 1;
    unsigned char mask = (unsigned char)(0xff << (8 - bits % 8));
    return (x[whole] & mask) == (y[whole] & mask);
}
