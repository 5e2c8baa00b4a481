/*
 * tun_netwatch.c - network change events from rtnetlink (see tun_netwatch.h).
 *
 * The socket joins the multicast groups for links, IPv4/IPv6 addresses and
 * IPv4/IPv6 routes (rtnetlink(7)); nothing is ever sent on it.  Only
 * datagrams from the kernel (sender port id 0) are looked at.  Everything
 * readable is read in one go and reported as one event: a Wi-Fi join is a
 * burst of a link change, addresses and routes.  When the kernel had to
 * drop messages (ENOBUFS: we were too slow) the event still says that
 * something changed.
 *
 * The parser takes nothing on trust (it is fuzzed): every length is
 * checked against what is left of the datagram before anything is read.
 */
#include "tun_netwatch.h"
#include "tun_log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifdef __linux__
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#endif

/* rtnetlink message types (linux/rtnetlink.h), spelled out so the parser
 * builds (and is fuzzed) the same everywhere. */
#define NW_NEWLINK     16
#define NW_DELLINK     17
#define NW_NEWADDR     20
#define NW_DELADDR     21
#define NW_NEWROUTE    24
#define NW_DELROUTE    25
#define NW_IFA_ADDRESS 1
#define NW_IFA_LOCAL   2
#define NW_AF_INET     2
#define NW_AF_INET6    10

#define NLHDR_LEN  16 /* struct nlmsghdr */
#define IFADDR_LEN 8  /* struct ifaddrmsg */
#define RTA_HDR    4  /* struct rtattr */

static size_t align4(size_t n)
{
    return (n + 3) & ~(size_t)3;
}

static uint32_t get_u32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4); /* host byte order, as the kernel writes it */
    return v;
}

static uint16_t get_u16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

static void note_removed(tun_netevent *ev, int family, const uint8_t *addr)
{
    size_t alen = family == NW_AF_INET ? 4 : 16;
    if (ev->n_removed >= TUN_NETWATCH_MAX_REMOVED)
        return;
    ev->removed[ev->n_removed].family = family;
    memset(ev->removed[ev->n_removed].addr, 0, 16);
    memcpy(ev->removed[ev->n_removed].addr, addr, alen);
    ev->n_removed++;
}

/* One RTM_NEWADDR/RTM_DELADDR body: the ifaddrmsg, then attributes. */
static void parse_addr(const uint8_t *p, size_t len, int removed, tun_netevent *ev)
{
    if (len < IFADDR_LEN)
        return;
    int family = p[0];
    if (removed)
        ev->addr_removed++;
    else
        ev->addr_added++;
    if (!removed || (family != NW_AF_INET && family != NW_AF_INET6))
        return;
    size_t alen = family == NW_AF_INET ? 4 : 16;
    const uint8_t *local = NULL, *address = NULL;
    size_t off = IFADDR_LEN;
    while (len - off >= RTA_HDR) {
        size_t rlen = get_u16(p + off);
        uint16_t type = get_u16(p + off + 2);
        if (rlen < RTA_HDR || rlen > len - off)
            break;
        if (rlen - RTA_HDR == alen) {
            if (type == NW_IFA_LOCAL)
                local = p + off + RTA_HDR;
            else if (type == NW_IFA_ADDRESS)
                address = p + off + RTA_HDR;
        }
        size_t step = align4(rlen);
        if (step > len - off)
            break;
        off += step;
    }
    /* IFA_LOCAL is the interface's own address where the two differ
     * (point-to-point links); IFA_ADDRESS otherwise. */
    if (local || address)
        note_removed(ev, family, local ? local : address);
}

int tun_netwatch_parse(const uint8_t *buf, size_t len, tun_netevent *ev)
{
    int counted = 0;
    size_t off = 0;
    while (len - off >= NLHDR_LEN) {
        size_t mlen = get_u32(buf + off);
        uint16_t type = get_u16(buf + off + 4);
        if (mlen < NLHDR_LEN || mlen > len - off)
            break;
        const uint8_t *body = buf + off + NLHDR_LEN;
        size_t blen = mlen - NLHDR_LEN;
        switch (type) {
        case NW_NEWADDR:
        case NW_DELADDR:
            parse_addr(body, blen, type == NW_DELADDR, ev);
            counted++;
            break;
        case NW_NEWROUTE:
        case NW_DELROUTE:
            ev->route_changed++;
            counted++;
            break;
        case NW_NEWLINK:
        case NW_DELLINK:
            ev->link_changed++;
            counted++;
            break;
        default:
            break; /* NOOP, ERROR, DONE, anything newer */
        }
        size_t step = align4(mlen);
        if (step > len - off)
            break;
        off += step;
    }
    return counted;
}

int tun_netwatch_removed(const tun_netevent *ev, int family, const void *addr)
{
    int f = family == AF_INET ? NW_AF_INET : family == AF_INET6 ? NW_AF_INET6 : -1;
    size_t alen = f == NW_AF_INET ? 4 : 16;
    for (size_t i = 0; i < ev->n_removed && f >= 0; i++)
        if (ev->removed[i].family == f && memcmp(ev->removed[i].addr, addr, alen) == 0)
            return 1;
    return 0;
}

/* ---- the socket ------------------------------------------------------------------------ */

struct tun_netwatch {
    struct ev_loop *loop;
    int fd;
    ev_io io;
    tun_netwatch_cb cb;
    void *arg;
};

#ifdef __linux__

static void on_readable(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    tun_netwatch *nw = w->data;
    static uint8_t buf[16384];
    tun_netevent ev;
    memset(&ev, 0, sizeof(ev));
    int any = 0;
    for (int i = 0; i < 64; i++) {
        struct sockaddr_nl from;
        socklen_t fl = sizeof(from);
        ssize_t n = recvfrom(nw->fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == ENOBUFS) {
                /* Messages were dropped: something changed, we cannot say what. */
                ev.link_changed++;
                any = 1;
                continue;
            }
            break; /* EAGAIN: all read */
        }
        if (fl < sizeof(from) || from.nl_family != AF_NETLINK || from.nl_pid != 0)
            continue; /* only the kernel speaks here */
        if (tun_netwatch_parse(buf, (size_t)n, &ev) > 0)
            any = 1;
    }
    if (!any)
        return;
    tun_debug2("network change: %u addresses added, %u removed, %u routes, %u links", ev.addr_added,
               ev.addr_removed, ev.route_changed, ev.link_changed);
    nw->cb(nw->arg, &ev);
}

tun_netwatch *tun_netwatch_start(struct ev_loop *loop, tun_netwatch_cb cb, void *arg)
{
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) {
        tun_debug("network change events unavailable: netlink socket: %s", strerror(errno));
        return NULL;
    }
    struct sockaddr_nl sa;
    memset(&sa, 0, sizeof(sa));
    sa.nl_family = AF_NETLINK;
    sa.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_IPV4_ROUTE |
                   RTMGRP_IPV6_ROUTE;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        tun_debug("network change events unavailable: netlink bind: %s", strerror(errno));
        close(fd);
        return NULL;
    }
    tun_netwatch *nw = calloc(1, sizeof(*nw));
    if (nw == NULL) {
        close(fd);
        return NULL;
    }
    nw->loop = loop;
    nw->fd = fd;
    nw->cb = cb;
    nw->arg = arg;
    ev_io_init(&nw->io, on_readable, fd, EV_READ);
    nw->io.data = nw;
    ev_io_start(loop, &nw->io);
    /* Only a tunnel waiting to reconnect cares: the watcher alone does
     * not keep the loop running. */
    ev_unref(loop);
    return nw;
}

void tun_netwatch_stop(tun_netwatch *nw)
{
    if (nw == NULL)
        return;
    ev_ref(nw->loop);
    ev_io_stop(nw->loop, &nw->io);
    close(nw->fd);
    free(nw);
}

#else

tun_netwatch *tun_netwatch_start(struct ev_loop *loop, tun_netwatch_cb cb, void *arg)
{
    (void)loop;
    (void)cb;
    (void)arg;
    tun_debug("network change events unavailable on this system");
    return NULL;
}

void tun_netwatch_stop(tun_netwatch *nw)
{
    (void)nw;
}

#endif
