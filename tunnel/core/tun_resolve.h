/*
 * tun_resolve.h - asynchronous name resolution with c-ares on the libev loop.
 *
 * One resolver per loop: a c-ares channel whose sockets are watched by
 * ev_io watchers (through ARES_OPT_SOCK_STATE_CB) and whose retransmissions
 * are driven by a single ev_timer re-armed from ares_timeout() after every
 * event -- no fixed tick.  Names go through ares_getaddrinfo(), which
 * honours /etc/hosts ("files" before DNS); literal IPv4/IPv6 addresses are
 * answered without c-ares (from the loop, like any answer).
 */
#ifndef SSHTUN_TUN_RESOLVE_H
#define SSHTUN_TUN_RESOLVE_H

#include <ev.h>
#include <sys/socket.h>

typedef struct tun_resolver tun_resolver;
typedef struct tun_lookup tun_lookup;

typedef struct tun_addr {
    struct sockaddr_storage ss;
    socklen_t len;
} tun_addr;

/* Result: n addresses (n == 0 on failure, with `err` a readable reason such
 * as "Name or service not known").  The array is freed after the call. */
typedef void (*tun_resolve_cb)(void *arg, const tun_addr *addrs, size_t n, const char *err);

/* Returns NULL (with a message logged) if c-ares cannot be initialised. */
tun_resolver *tun_resolver_new(struct ev_loop *loop);
/* The same with options: TUN_RESOLVE_NOSEARCH looks names up exactly as
 * given, never with the resolv.conf search domains appended (what a
 * trailing dot asks for, also understood by the hosts file). */
#define TUN_RESOLVE_NOSEARCH 0x1u
tun_resolver *tun_resolver_new_flags(struct ev_loop *loop, unsigned flags);
void tun_resolver_free(tun_resolver *r);

/* Resolve host/port.  `family` is AF_UNSPEC, AF_INET or AF_INET6 (OpenSSH's
 * AddressFamily).  The callback runs later, from the loop, exactly once
 * unless the lookup is cancelled first.  Returns NULL on allocation failure. */
tun_lookup *tun_resolve(tun_resolver *r, const char *host, unsigned port, int family,
                        tun_resolve_cb cb, void *arg);
/* The same, also reporting the canonical name: the end of the CNAME chain
 * (or the host file's first name for an alias), without a trailing dot;
 * NULL when there is none beyond `host` itself, for literal addresses and
 * on failure.  The string is valid during the callback. */
typedef void (*tun_resolve_canon_cb)(void *arg, const tun_addr *addrs, size_t n,
                                     const char *canonical, const char *err);
tun_lookup *tun_resolve_canon(tun_resolver *r, const char *host, unsigned port, int family,
                              tun_resolve_canon_cb cb, void *arg);
/* The callback will not run. */
void tun_resolve_cancel(tun_lookup *l);

#endif
