/*
 * tun_srvproxy.c - connections to a PROXY protocol listener before they
 * become SSH connections (see tun_srv.h).
 *
 * A load balancer in front of sshtund says whom it relays in a header
 * before the SSH client's first byte (tun_proxyproto.h).  Such a
 * connection is accepted only from a peer in ProxyProtocolFrom; then its
 * header is read - and nothing after it: the bytes are peeked, and only
 * those that belong to the header are taken off the socket, so the SSH
 * version line that may follow in the same segment stays for the
 * transport.  A header that is malformed, from anyone else, or not
 * complete within TUN_SRVPROXY_DEADLINE seconds closes the connection with
 * one log line.
 *
 * The header's bytes go to the privileged helper with the socket, which
 * checks the socket's peer and listener and parses them itself: the
 * address derived here serves this process's logs and per-connection
 * settings, never the helper's decisions.
 */
#include "tun_srv.h"
#include "tun_log.h"
#include "tun_proxyproto.h"
#include "tun_authkeys.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define TUN_SRVPROXY_DEADLINE 5.0

struct tun_srvproxy {
    tun_server *s;
    ev_io io;
    ev_timer timer;
    struct sockaddr_storage peer;
    char ip[64];
    int port;
    uint8_t buf[TUN_PROXY_MAX];
    size_t have;
    tun_srvproxy *next, *prev;
};

static void pending_free(tun_srvproxy *p, int close_fd)
{
    tun_server *s = p->s;
    ev_io_stop(s->loop, &p->io);
    ev_timer_stop(s->loop, &p->timer);
    if (close_fd)
        close(p->io.fd);
    if (p->prev)
        p->prev->next = p->next;
    else
        s->proxying = p->next;
    if (p->next)
        p->next->prev = p->prev;
    s->n_proxying--;
    free(p);
}

static void on_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    tun_srvproxy *p = w->data;
    tun_info("No complete PROXY protocol header from %s port %d within %.0f s; connection "
             "closed",
             p->ip, p->port, TUN_SRVPROXY_DEADLINE);
    pending_free(p, 1);
}

/* The header is complete: hand the socket over as an SSH connection. */
static void complete(tun_srvproxy *p, const tun_proxyhdr *h)
{
    tun_server *s = p->s;
    int fd = p->io.fd;
    struct sockaddr_storage client, dst;
    tun_srvorigin o;
    memset(&o, 0, sizeof(o));
    o.hdr = p->buf;
    o.hdr_len = h->len;
    snprintf(o.via, sizeof(o.via), "PROXY v%d from %s port %d%s", h->version, p->ip, p->port,
             h->local ? ", LOCAL" : "");
    client = p->peer;
    if (!h->local) {
        memset(&client, 0, sizeof(client));
        memset(&dst, 0, sizeof(dst));
        if (h->family == AF_INET) {
            struct sockaddr_in *c4 = (struct sockaddr_in *)&client,
                               *d4 = (struct sockaddr_in *)&dst;
            c4->sin_family = d4->sin_family = AF_INET;
            memcpy(&c4->sin_addr, h->src, 4);
            memcpy(&d4->sin_addr, h->dst, 4);
            c4->sin_port = htons(h->src_port);
            d4->sin_port = htons(h->dst_port);
        } else {
            struct sockaddr_in6 *c6 = (struct sockaddr_in6 *)&client,
                                *d6 = (struct sockaddr_in6 *)&dst;
            c6->sin6_family = d6->sin6_family = AF_INET6;
            memcpy(&c6->sin6_addr, h->src, 16);
            memcpy(&d6->sin6_addr, h->dst, 16);
            c6->sin6_port = htons(h->src_port);
            d6->sin6_port = htons(h->dst_port);
        }
        o.local = &dst;
    }
    /* The connection takes the descriptor; this record goes. */
    ev_io_stop(s->loop, &p->io);
    ev_timer_stop(s->loop, &p->timer);
    tun_srvconn_new(s, fd, &client, &o);
    pending_free(p, 0);
}

static void on_readable(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    tun_srvproxy *p = w->data;
    size_t room = sizeof(p->buf) - p->have;
    ssize_t got = recv(w->fd, p->buf + p->have, room, MSG_PEEK);
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (got <= 0) {
        tun_info("Connection closed by %s port %d before its PROXY protocol header%s%s", p->ip,
                 p->port, got < 0 ? ": " : "", got < 0 ? strerror(errno) : "");
        pending_free(p, 1);
        return;
    }
    tun_proxyhdr h;
    const char *why = NULL;
    int rv = tun_proxy_parse(p->buf, p->have + (size_t)got, &h, &why);
    if (rv < 0) {
        tun_info("Bad PROXY protocol header from %s port %d: %s; connection closed", p->ip, p->port,
                 why);
        pending_free(p, 1);
        return;
    }
    /* Take off the socket what belongs to the header: all of it when it
     * is not complete yet (the parser guarantees that), else exactly up to
     * its end.  Same bytes as peeked: nothing else reads this socket. */
    size_t take = rv > 0 ? (size_t)rv - p->have : (size_t)got;
    ssize_t t = recv(w->fd, p->buf + p->have, take, 0);
    if (t != (ssize_t)take) {
        tun_info("Connection from %s port %d: reading its PROXY protocol header failed; "
                 "connection closed",
                 p->ip, p->port);
        pending_free(p, 1);
        return;
    }
    p->have += take;
    if (rv > 0)
        complete(p, &h);
}

void tun_srvproxy_start(tun_server *s, int fd, const struct sockaddr_storage *peer)
{
    tun_srvproxy *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        close(fd);
        return;
    }
    p->s = s;
    p->peer = *peer;
    tun_sockaddr_desc(peer, p->ip, sizeof(p->ip), &p->port);
    const char *from = s->set->cfg.proxy_from;
    if (from == NULL || !tun_match_address_list(p->ip, from)) {
        tun_info("Connection from %s port %d refused: a PROXY protocol listener, and %s is not "
                 "in ProxyProtocolFrom",
                 p->ip, p->port, p->ip);
        close(fd);
        free(p);
        return;
    }
    ev_io_init(&p->io, on_readable, fd, EV_READ);
    p->io.data = p;
    ev_timer_init(&p->timer, on_deadline, TUN_SRVPROXY_DEADLINE, 0.);
    p->timer.data = p;
    p->next = s->proxying;
    if (s->proxying)
        s->proxying->prev = p;
    s->proxying = p;
    s->n_proxying++;
    ev_io_start(s->loop, &p->io);
    ev_timer_start(s->loop, &p->timer);
}

void tun_srvproxy_close_all(tun_server *s)
{
    while (s->proxying)
        pending_free(s->proxying, 1);
}
