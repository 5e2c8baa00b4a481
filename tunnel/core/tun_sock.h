/*
 * tun_sock.h - socket helpers shared by the client's forwards and the
 * server: listening TCP/Unix sockets, non-blocking Unix connects, address
 * text, and an accept loop that survives running out of descriptors.
 */
#ifndef SSHTUN_TUN_SOCK_H
#define SSHTUN_TUN_SOCK_H

#include <ev.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

/* Listen on `family` (AF_INET/AF_INET6), raw address bytes `addr` (4 or
 * 16), `port` (0: the kernel picks one; see tun_sock_port).  IPv6 sockets
 * are v6-only so that the IPv4 twin can bind the same port.  Returns the
 * non-blocking fd, -1 with `err` filled ("bind [::1]:22: Address already in
 * use"), or -2 when this host lacks the family or address (not a failure
 * of a dual-stack bind). */
int tun_listen_tcp(int family, const void *addr, int port, char *err, size_t errsz);
/* The same with SO_REUSEPORT when `reuseport`: several sockets bound to
 * one address, among which the kernel spreads new connections (sshtund's
 * workers each listen on one of them). */
int tun_listen_tcp_shared(int family, const void *addr, int port, int reuseport, char *err,
                          size_t errsz);
/* Listen on a Unix socket path created with permissions 0666 & ~mask. */
int tun_listen_unix(const char *path, mode_t mask, char *err, size_t errsz);
/* Start a non-blocking connect to a Unix socket: fd, or -1 with errno. */
int tun_connect_unix(const char *path);
/* The local port a socket is bound to (0 on error). */
int tun_sock_port(int fd);
/* "1.2.3.4" / "::1" and the port of an address; Unix peers are reported
 * as 127.0.0.1 port 65535, as OpenSSH does. */
void tun_sockaddr_desc(const struct sockaddr_storage *ss, char *host, size_t hl, int *port);
/* The text form of a numeric IPv4/IPv6 address `h` (loopback and wildcard
 * names included): 1 with family and bytes filled, 0 if not numeric. */
int tun_parse_numeric(const char *h, int *family, unsigned char addr[16]);

/* The address of `family` on network interface `ifname` that ssh's
 * BindInterface binds to: the first one that is up, preferring any but
 * loopback and IPv6 link-local ones.  Port 0.  0, or -1 when there is
 * none. */
int tun_iface_addr(const char *ifname, int family, struct sockaddr_storage *ss, socklen_t *len);

/* Send `data` with up to 3 descriptors (SCM_RIGHTS) in one sendmsg()
 * (MSG_NOSIGNAL, EINTR retried): 0 or -1 with errno. */
int tun_send_fds(int sock, const void *data, size_t len, const int *fds, int nfds);

/* fork() with a SOCK_SEQPACKET pair between parent and child (close-on-exec
 * both).  In the parent: the child's pid, *mine its end (the child's end
 * closed).  In the child: 0, *theirs the child's end (the parent's end
 * closed).  -1 with errno when the pair or the fork failed (nothing left
 * open). */
pid_t tun_fork_pair(int *mine, int *theirs);
/* Receive one message (SEQPACKET keeps boundaries) into data[cap] with up
 * to 3 descriptors (close-on-exec; more are closed): its length, 0 at end
 * of stream, or -1 (also for a truncated message, whose descriptors are
 * closed). */
int tun_recv_fds(int sock, void *data, size_t cap, int *fds, int *nfds);

/* Accepts connections on a listening socket, up to a batch per wake-up,
 * handing each non-blocking, close-on-exec fd to `cb`.  Out of descriptors
 * (EMFILE, ENFILE, ENOBUFS, ENOMEM), it pauses for `backoff` seconds
 * instead of spinning on a ready listener, and existing connections keep
 * being served. */
typedef struct tun_acceptor tun_acceptor;
typedef void (*tun_accept_cb)(tun_acceptor *a, int fd, const struct sockaddr_storage *peer,
                              socklen_t peerlen);
struct tun_acceptor {
    ev_io io;
    ev_timer backoff;
    struct ev_loop *loop;
    tun_accept_cb cb;
    void *data;
};

void tun_acceptor_start(tun_acceptor *a, struct ev_loop *loop, int fd, tun_accept_cb cb,
                        void *data);
/* Stop and close the listening socket. */
void tun_acceptor_close(tun_acceptor *a);

#endif
