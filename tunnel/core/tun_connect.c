/*
 * tun_connect.c - Happy Eyeballs connect (RFC 8305 sections 4-5).
 *
 * Each attempt is a non-blocking socket with an ev_io write watcher; a
 * single "stagger" timer starts the next attempt every 250 ms while earlier
 * ones are still pending, and a failed attempt starts the next one at once.
 */
#include "tun_connect.h"
#include "tun_log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_ADDRS 64
#define MAX_BIND  2

typedef struct attempt {
    ev_io io;
    tun_connector *k;
    size_t idx;
    int active;
} attempt;

struct tun_connector {
    struct ev_loop *loop;
    tun_addr addrs[MAX_ADDRS];
    attempt att[MAX_ADDRS];
    size_t n, next, pending;
    ev_timer stagger, deadline, later;
    tun_connect_cb cb;
    void *arg;
    int last_errno;
    char last_err[192]; /* a reason that is more than an errno ("bind ...") */
    int done;
    tun_addr bind[MAX_BIND];
    size_t n_bind;
    char bind_name[128];
    int tos;
};

int tun_sock_set_tos(int fd, int tos)
{
    struct sockaddr_storage ss;
    socklen_t l = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &l) != 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof(tos));
    if (ss.ss_family == AF_INET6)
        return setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof(tos));
    errno = EAFNOSUPPORT;
    return -1;
}

const char *tun_addr_str(const tun_addr *a, char *buf, size_t len)
{
    const void *src = NULL;
    if (a->ss.ss_family == AF_INET)
        src = &((const struct sockaddr_in *)&a->ss)->sin_addr;
    else if (a->ss.ss_family == AF_INET6)
        src = &((const struct sockaddr_in6 *)&a->ss)->sin6_addr;
    if (src == NULL || inet_ntop(a->ss.ss_family, src, buf, (socklen_t)len) == NULL)
        snprintf(buf, len, "?");
    return buf;
}

unsigned tun_addr_port(const tun_addr *a)
{
    if (a->ss.ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
    if (a->ss.ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
    return 0;
}

static void stop_all(tun_connector *k, int keep_fd)
{
    for (size_t i = 0; i < k->n; i++) {
        attempt *a = &k->att[i];
        if (!a->active)
            continue;
        ev_io_stop(k->loop, &a->io);
        if (a->io.fd != keep_fd)
            close(a->io.fd);
        a->active = 0;
    }
    ev_timer_stop(k->loop, &k->stagger);
    ev_timer_stop(k->loop, &k->deadline);
    ev_timer_stop(k->loop, &k->later);
}

static void finish(tun_connector *k, int fd, size_t idx)
{
    if (k->done)
        return;
    k->done = 1;
    stop_all(k, fd);
    const char *err = fd >= 0          ? NULL
                      : k->last_err[0] ? k->last_err
                                       : strerror(k->last_errno ? k->last_errno : ETIMEDOUT);
    k->cb(k->arg, fd, fd >= 0 ? &k->addrs[idx] : (k->n ? &k->addrs[k->n - 1] : NULL), err);
    free(k);
}

static void start_next(tun_connector *k);

static void on_writable(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    attempt *a = (attempt *)w;
    tun_connector *k = a->k;
    int err = 0;
    socklen_t l = sizeof(err);
    if (getsockopt(w->fd, SOL_SOCKET, SO_ERROR, &err, &l) != 0)
        err = errno;
    if (err == 0) {
        finish(k, w->fd, a->idx);
        return;
    }
    char host[64];
    tun_debug("connect to address %s port %u: %s", tun_addr_str(&k->addrs[a->idx], host, sizeof(host)),
              tun_addr_port(&k->addrs[a->idx]), strerror(err));
    k->last_errno = err;
    k->last_err[0] = '\0';
    ev_io_stop(k->loop, w);
    close(w->fd);
    a->active = 0;
    k->pending--;
    start_next(k);
}

/* Bind the socket to the local address of its family (BindAddress,
 * BindInterface), as ssh does before connecting. */
static int bind_local(tun_connector *k, int fd, int family)
{
    for (size_t i = 0; i < k->n_bind; i++) {
        if (k->bind[i].ss.ss_family != family)
            continue;
        char a[64];
        tun_addr_str(&k->bind[i], a, sizeof(a));
        if (bind(fd, (struct sockaddr *)&k->bind[i].ss, k->bind[i].len) != 0) {
            k->last_errno = errno;
            snprintf(k->last_err, sizeof(k->last_err), "bind %s: %s", a, strerror(errno));
            tun_debug("%s", k->last_err);
            return -1;
        }
        tun_debug("bound to %s", a);
        return 0;
    }
    k->last_errno = EAFNOSUPPORT;
    snprintf(k->last_err, sizeof(k->last_err), "bind %s: no %s address to bind", k->bind_name,
             family == AF_INET6 ? "IPv6" : "IPv4");
    tun_debug("%s", k->last_err);
    return -1;
}

/* Start attempts until one is in progress or the list is exhausted. */
static void start_next(tun_connector *k)
{
    while (k->next < k->n) {
        size_t i = k->next++;
        tun_addr *ad = &k->addrs[i];
        char host[64];
        tun_debug("Connecting to %s port %u.", tun_addr_str(ad, host, sizeof(host)),
                  tun_addr_port(ad));
        int fd = socket(ad->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            k->last_errno = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (k->tos >= 0 && tun_sock_set_tos(fd, k->tos) != 0)
            tun_error("setsockopt IP_TOS %d: %s", k->tos, strerror(errno));
        if (k->n_bind > 0 && bind_local(k, fd, ad->ss.ss_family) != 0) {
            close(fd);
            continue;
        }
        if (connect(fd, (struct sockaddr *)&ad->ss, ad->len) == 0) {
            k->att[i].io.fd = fd;
            k->att[i].active = 1;
            finish(k, fd, i);
            return;
        }
        if (errno != EINPROGRESS) {
            k->last_errno = errno;
            k->last_err[0] = '\0';
            tun_debug("connect to address %s port %u: %s", host, tun_addr_port(ad),
                      strerror(errno));
            close(fd);
            continue;
        }
        attempt *a = &k->att[i];
        a->k = k;
        a->idx = i;
        a->active = 1;
        ev_io_init(&a->io, on_writable, fd, EV_WRITE);
        ev_io_start(k->loop, &a->io);
        k->pending++;
        if (k->next < k->n) {
            ev_timer_stop(k->loop, &k->stagger);
            ev_timer_set(&k->stagger, TUN_CONNECT_DELAY, 0.);
            ev_timer_start(k->loop, &k->stagger);
        }
        return;
    }
    if (k->pending == 0)
        finish(k, -1, 0);
}

static void on_stagger(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    start_next(w->data);
}

static void on_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    tun_connector *k = w->data;
    k->last_errno = ETIMEDOUT;
    finish(k, -1, 0);
}

static void on_later(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    start_next(w->data);
}

tun_connector *tun_connect_start(struct ev_loop *loop, const tun_addr *addrs, size_t n,
                                 double timeout, tun_connect_cb cb, void *arg)
{
    return tun_connect_start_opts(loop, addrs, n, timeout, NULL, cb, arg);
}

tun_connector *tun_connect_start_opts(struct ev_loop *loop, const tun_addr *addrs, size_t n,
                                      double timeout, const tun_connect_opts *opts,
                                      tun_connect_cb cb, void *arg)
{
    tun_connector *k = calloc(1, sizeof(*k));
    if (k == NULL)
        return NULL;
    k->tos = -1;
    if (opts) {
        for (size_t i = 0; i < opts->n_bind && k->n_bind < MAX_BIND; i++)
            k->bind[k->n_bind++] = opts->bind[i];
        snprintf(k->bind_name, sizeof(k->bind_name), "%s", opts->bind_name ? opts->bind_name : "");
        k->tos = opts->tos;
    }
    k->loop = loop;
    k->cb = cb;
    k->arg = arg;
    if (n > MAX_ADDRS)
        n = MAX_ADDRS;
    /* Interleave families, the first one given first (RFC 8305 4). */
    int fam1 = n ? addrs[0].ss.ss_family : AF_UNSPEC;
    size_t i1 = 0, i2 = 0;
    for (size_t o = 0; o < n; o++) {
        int want_first = (o % 2) == 0;
        const tun_addr *pick = NULL;
        for (int pass = 0; pass < 2 && pick == NULL; pass++) {
            int first = (pass == 0) ? want_first : !want_first;
            size_t *ip = first ? &i1 : &i2;
            while (*ip < n && (addrs[*ip].ss.ss_family == fam1) != first)
                (*ip)++;
            if (*ip < n)
                pick = &addrs[(*ip)++];
        }
        k->addrs[o] = *pick;
    }
    k->n = n;
    ev_timer_init(&k->stagger, on_stagger, TUN_CONNECT_DELAY, 0.);
    k->stagger.data = k;
    ev_timer_init(&k->deadline, on_deadline, timeout, 0.);
    k->deadline.data = k;
    if (timeout > 0)
        ev_timer_start(loop, &k->deadline);
    /* Start from the loop so the callback never runs before we return. */
    ev_timer_init(&k->later, on_later, 0., 0.);
    k->later.data = k;
    ev_timer_start(loop, &k->later);
    return k;
}

void tun_connect_cancel(tun_connector *k)
{
    if (k == NULL || k->done)
        return;
    k->done = 1;
    stop_all(k, -1);
    free(k);
}
