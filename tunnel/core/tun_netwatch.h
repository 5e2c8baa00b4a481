/*
 * tun_netwatch.h - learn at once when the machine's network changes
 * (Linux: rtnetlink address, route and link events on a NETLINK_ROUTE
 * socket, read by a libev watcher), so that a tunnel waiting to reconnect
 * tries now instead of at its next backoff step, and a connection whose
 * local address has gone away is known dead without waiting for
 * keepalives.
 *
 * Elsewhere (or when the socket cannot be opened) tun_netwatch_start()
 * returns NULL and the caller simply goes without.
 */
#ifndef SSHTUN_TUN_NETWATCH_H
#define SSHTUN_TUN_NETWATCH_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>

#define TUN_NETWATCH_MAX_REMOVED 8

/* What one batch of kernel messages said. */
typedef struct tun_netevent {
    unsigned addr_added, addr_removed, route_changed, link_changed; /* message counts */
    /* Addresses that went away (up to TUN_NETWATCH_MAX_REMOVED): family
     * (AF_INET/AF_INET6) and the address bytes (4 or 16). */
    size_t n_removed;
    struct {
        int family;
        uint8_t addr[16];
    } removed[TUN_NETWATCH_MAX_REMOVED];
} tun_netevent;

typedef void (*tun_netwatch_cb)(void *arg, const tun_netevent *ev);

typedef struct tun_netwatch tun_netwatch;

/* Start watching; NULL (after a debug line) where it is not possible. */
tun_netwatch *tun_netwatch_start(struct ev_loop *loop, tun_netwatch_cb cb, void *arg);
void tun_netwatch_stop(tun_netwatch *w);

/* Parse one datagram of rtnetlink messages into *ev (which it adds to:
 * zero it first).  Bounds-checked; malformed or truncated messages end the
 * parse.  Returns the number of messages that counted. */
int tun_netwatch_parse(const uint8_t *buf, size_t len, tun_netevent *ev);

/* Does ev->removed hold this address (family, 4 or 16 bytes)? */
int tun_netwatch_removed(const tun_netevent *ev, int family, const void *addr);

#endif
