/*
 * tun_jumpspec.h - the ProxyJump / -J syntax (ssh_config(5)):
 *
 *     [user@]host[:port][,[user@]host[:port]...]
 *
 * where any element may also be an ssh://[user@]host[:port] URI and a host
 * may be a bracketed IPv6 address.  Hops are visited left to right: the
 * last element is the host right before the destination, reached through
 * the ones before it (OpenSSH calls them the "extra" hops and hands them to
 * the last hop's connection as its own -J).
 */
#ifndef SSHTUN_TUN_JUMPSPEC_H
#define SSHTUN_TUN_JUMPSPEC_H

#include <stddef.h>

typedef struct tun_jumpspec {
    char *user; /* NULL: not given */
    char *host;
    int port;    /* -1: not given */
    char *extra; /* the hops before this one, as written; NULL if none */
} tun_jumpspec;

/* Parse a ProxyJump value ("none" is not one: check it first).  Every
 * element is checked; the last one is returned with the text before it.
 * `strict` also refuses host and user names that OpenSSH refuses on the
 * command line (a leading '-', quotes, shell metacharacters, spaces,
 * commas).  0, or -1 (nothing allocated). */
int tun_jumpspec_parse(const char *spec, int strict, tun_jumpspec *out);
void tun_jumpspec_free(tun_jumpspec *j);
/* One destination as one element of a ProxyJump value (not strict):
 * [user@]host[:port] or ssh://[user[;params]@]host[:port][/].  0 with
 * *user (NULL when not given) and *host allocated and *port -1 when not
 * given; -1 (nothing allocated) for a path, a bad port, an empty user or
 * host.  sshtun's ssh:// destinations are read with it. */
int tun_jumpspec_parse_one(const char *dest, char **user, char **host, int *port);
/* The value as ssh -G prints it: extra hops, then [user@]host[:port] with
 * a numeric host in brackets. */
void tun_jumpspec_format(const tun_jumpspec *j, char *buf, size_t len);

#endif
