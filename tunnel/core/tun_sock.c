/*
 * tun_sock.c - socket helpers (see tun_sock.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4 */
#endif
#include "tun_sock.h"
#include "tun_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define ACCEPT_BATCH   64
#define ACCEPT_BACKOFF 1.0

int tun_listen_tcp(int family, const void *addr, int port, char *err, size_t errsz)
{
    return tun_listen_tcp_shared(family, addr, port, 0, err, errsz);
}

int tun_listen_tcp_shared(int family, const void *addr, int port, int reuseport, char *err,
                          size_t errsz)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof(ss));
    if (family == AF_INET) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        memcpy(&s4->sin_addr, addr, 4);
        sl = sizeof(*s4);
    } else {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        memcpy(&s6->sin6_addr, addr, 16);
        sl = sizeof(*s6);
    }
    char host[64];
    inet_ntop(family, addr, host, sizeof(host));
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errsz, "socket: %s", strerror(errno));
        return errno == EAFNOSUPPORT ? -2 : -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
        snprintf(err, errsz, "SO_REUSEPORT: %s", strerror(errno));
        close(fd);
        return -1;
    }
    if (family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, SOMAXCONN) != 0) {
        int e = errno;
        if (family == AF_INET6)
            snprintf(err, errsz, "bind [%s]:%d: %s", host, port, strerror(e));
        else
            snprintf(err, errsz, "bind %s:%d: %s", host, port, strerror(e));
        close(fd);
        return (e == EADDRNOTAVAIL || e == EAFNOSUPPORT) ? -2 : -1;
    }
    return fd;
}

int tun_listen_unix(const char *path, mode_t mask, char *err, size_t errsz)
{
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sun.sun_path)) {
        snprintf(err, errsz, "unix socket path too long: %s", path);
        return -1;
    }
    memcpy(sun.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errsz, "socket: %s", strerror(errno));
        return -1;
    }
    mode_t old = umask(mask);
    int rv = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
    umask(old);
    if (rv != 0 || listen(fd, SOMAXCONN) != 0) {
        snprintf(err, errsz, "bind %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int tun_connect_unix(const char *path)
{
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sun.sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(sun.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0 && errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

int tun_sock_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0)
        return 0;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return 0;
}

void tun_sockaddr_desc(const struct sockaddr_storage *ss, char *host, size_t hl, int *port)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &s4->sin_addr, host, (socklen_t)hl);
        *port = ntohs(s4->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
        /* IPv4-mapped addresses read as IPv4, as people expect in logs. */
        if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
            inet_ntop(AF_INET, s6->sin6_addr.s6_addr + 12, host, (socklen_t)hl);
        else
            inet_ntop(AF_INET6, &s6->sin6_addr, host, (socklen_t)hl);
        *port = ntohs(s6->sin6_port);
    } else {
        snprintf(host, hl, "127.0.0.1");
        *port = 65535;
    }
}

int tun_parse_numeric(const char *h, int *family, unsigned char addr[16])
{
    if (inet_pton(AF_INET, h, addr) == 1) {
        *family = AF_INET;
        return 1;
    }
    if (inet_pton(AF_INET6, h, addr) == 1) {
        *family = AF_INET6;
        return 1;
    }
    return 0;
}

/* ---- descriptor passing ---------------------------------------------------------- */

int tun_send_fds(int sock, const void *data, size_t len, const int *fds, int nfds)
{
    struct iovec v = {(void *)data, len};
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(3 * sizeof(int))];
    } cb;
    struct msghdr msg;
    memset(&msg, 0, sizeof(msg));
    msg.msg_iov = &v;
    msg.msg_iovlen = 1;
    if (nfds > 0) {
        memset(&cb, 0, sizeof(cb));
        msg.msg_control = cb.buf;
        msg.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
        memcpy(CMSG_DATA(c), fds, (size_t)nfds * sizeof(int));
    }
    for (;;) {
        ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL);
        if (n >= 0)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}

int tun_recv_fds(int sock, void *data, size_t cap, int *fds, int *nfds)
{
    struct iovec v = {data, cap};
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(3 * sizeof(int))];
    } cb;
    struct msghdr msg;
    memset(&msg, 0, sizeof(msg));
    memset(&cb, 0, sizeof(cb));
    msg.msg_iov = &v;
    msg.msg_iovlen = 1;
    msg.msg_control = cb.buf;
    msg.msg_controllen = sizeof(cb.buf);
    ssize_t n;
    do {
        n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    *nfds = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            for (int i = 0; i < k; i++) {
                int fd;
                memcpy(&fd, CMSG_DATA(c) + (size_t)i * sizeof(int), sizeof(int));
                if (*nfds < 3)
                    fds[(*nfds)++] = fd;
                else
                    close(fd);
            }
        }
    }
    if (n <= 0 || (msg.msg_flags & MSG_TRUNC)) {
        for (int i = 0; i < *nfds; i++)
            close(fds[i]);
        *nfds = 0;
        return n == 0 ? 0 : -1;
    }
    return (int)n;
}

/* ---- accepting ------------------------------------------------------------------------- */

static void on_backoff(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    tun_acceptor *a = w->data;
    ev_io_start(loop, &a->io);
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    tun_acceptor *a = (tun_acceptor *)w;
    for (int i = 0; i < ACCEPT_BATCH && ev_is_active(&a->io); i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(w->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                tun_error("accept: %s; pausing new connections for %.0fs", strerror(errno),
                          ACCEPT_BACKOFF);
                ev_io_stop(loop, w);
                ev_timer_set(&a->backoff, ACCEPT_BACKOFF, 0.);
                ev_timer_start(loop, &a->backoff);
            } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
                       errno != ECONNABORTED) {
                tun_debug("accept: %s", strerror(errno));
            }
            break;
        }
        if (ss.ss_family == AF_INET || ss.ss_family == AF_INET6) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        }
        a->cb(a, fd, &ss, sl); /* may close the acceptor: checked by the loop condition */
    }
}

void tun_acceptor_start(tun_acceptor *a, struct ev_loop *loop, int fd, tun_accept_cb cb,
                        void *data)
{
    a->loop = loop;
    a->cb = cb;
    a->data = data;
    ev_io_init(&a->io, on_accept, fd, EV_READ);
    ev_timer_init(&a->backoff, on_backoff, ACCEPT_BACKOFF, 0.);
    a->backoff.data = a;
    ev_io_start(loop, &a->io);
}

void tun_acceptor_close(tun_acceptor *a)
{
    if (a->loop == NULL)
        return;
    ev_io_stop(a->loop, &a->io);
    ev_timer_stop(a->loop, &a->backoff);
    if (a->io.fd >= 0)
        close(a->io.fd);
    a->io.fd = -1;
    a->loop = NULL;
}

int tun_iface_addr(const char *ifname, int family, struct sockaddr_storage *ss, socklen_t *len)
{
    struct ifaddrs *ifs = NULL;
    if (getifaddrs(&ifs) != 0)
        return -1;
    int found = -1;
    /* Loopback and link-local addresses only when nothing else matches. */
    for (int allow_local = 0; allow_local < 2 && found != 0; allow_local++) {
        for (struct ifaddrs *i = ifs; i != NULL && found != 0; i = i->ifa_next) {
            if (i->ifa_addr == NULL || i->ifa_name == NULL || !(i->ifa_flags & IFF_UP) ||
                i->ifa_addr->sa_family != family || strcmp(i->ifa_name, ifname) != 0)
                continue;
            memset(ss, 0, sizeof(*ss));
            if (family == AF_INET) {
                struct sockaddr_in *sin = (struct sockaddr_in *)i->ifa_addr;
                if (!allow_local && sin->sin_addr.s_addr == htonl(INADDR_LOOPBACK))
                    continue;
                memcpy(ss, sin, sizeof(*sin));
                ((struct sockaddr_in *)ss)->sin_port = 0;
                *len = sizeof(*sin);
            } else if (family == AF_INET6) {
                struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)i->ifa_addr;
                if (!allow_local && (IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr) ||
                                     IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr)))
                    continue;
                memcpy(ss, sin6, sizeof(*sin6));
                ((struct sockaddr_in6 *)ss)->sin6_port = 0;
                *len = sizeof(*sin6);
            } else {
                continue;
            }
            found = 0;
        }
    }
    freeifaddrs(ifs);
    return found;
}

pid_t tun_fork_pair(int *mine, int *theirs)
{
    int sp[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(sp[0]);
        close(sp[1]);
        errno = e;
        return -1;
    }
    if (pid == 0) {
        close(sp[0]);
        *theirs = sp[1];
    } else {
        close(sp[1]);
        *mine = sp[0];
    }
    return pid;
}
