/*
 * tun_connect.h - non-blocking TCP connect over a list of addresses, Happy
 * Eyeballs style (RFC 8305).
 *
 * Addresses are tried in an order that alternates address families, the
 * first family first.  A new attempt starts when the previous one fails or
 * after 250 ms without an answer (the attempts then race); the first
 * connection to complete wins and the others are closed.  The whole
 * operation is bounded by `timeout` seconds (0: none).
 */
#ifndef SSHTUN_TUN_CONNECT_H
#define SSHTUN_TUN_CONNECT_H

#include "tun_resolve.h"

#include <ev.h>

typedef struct tun_connector tun_connector;

/* fd >= 0 on success (non-blocking, TCP_NODELAY set; the caller owns it),
 * else fd == -1 and `err` says why ("Connection refused", "Connection timed
 * out", ...) for the last address tried. */
typedef void (*tun_connect_cb)(void *arg, int fd, const tun_addr *addr, const char *err);

#define TUN_CONNECT_DELAY 0.25 /* RFC 8305 section 5: Connection Attempt Delay */

/* Starts connecting; the callback runs exactly once from the loop unless
 * tun_connect_cancel() is called first.  The addresses are copied. */
tun_connector *tun_connect_start(struct ev_loop *loop, const tun_addr *addrs, size_t n,
                                 double timeout, tun_connect_cb cb, void *arg);

/* What a client may ask of its outgoing sockets (ssh's BindAddress,
 * BindInterface and IPQoS). */
typedef struct tun_connect_opts {
    /* Local addresses to bind before connecting, at most one per family;
     * an address of a family without one here fails that attempt.  NULL:
     * the kernel chooses. */
    const tun_addr *bind;
    size_t n_bind;
    const char *bind_name; /* for messages: "bind <name>: <reason>" */
    int tos;               /* IP_TOS / IPV6_TCLASS from the start; -1: leave */
} tun_connect_opts;

tun_connector *tun_connect_start_opts(struct ev_loop *loop, const tun_addr *addrs, size_t n,
                                      double timeout, const tun_connect_opts *opts,
                                      tun_connect_cb cb, void *arg);

/* Set a socket's type of service (IP_TOS, or IPV6_TCLASS on IPv6; the
 * socket's own family decides).  0, or -1 with errno (not a socket...). */
int tun_sock_set_tos(int fd, int tos);
void tun_connect_cancel(tun_connector *k);

/* Format an address as "1.2.3.4" or "::1" (no port) into buf. */
const char *tun_addr_str(const tun_addr *a, char *buf, size_t len);
unsigned tun_addr_port(const tun_addr *a);

#endif
