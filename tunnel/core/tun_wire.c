/*
 * tun_wire.c - the descriptor wire: a socket, or a ProxyCommand's pipes.
 *
 * Reading: up to a few large reads per wake-up (256 KiB offered each,
 * straight into the engine's buffer), so one busy connection cannot starve
 * the others on the same loop.  Writing: writev until the kernel refuses;
 * the write watcher runs only while the transport has output waiting.
 */
#include "tun_wire.h"
#include "tun_log.h"
#include "tun_transport.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define READS_PER_WAKEUP 8

static void on_read(struct ev_loop *loop, ev_io *io, int revents)
{
    (void)loop;
    (void)revents;
    tun_fdwire *w = io->data;
    tun_transport *t = w->base.t;
    int got = 0;
    for (int i = 0; i < READS_PER_WAKEUP; i++) {
        uint8_t *p;
        size_t room;
        int rv = tun_transport_input_space(t, &p, &room);
        if (rv == SSH_ERR_AGAIN) {
            /* The engine is waiting for an answer (host key, auth); the
             * transport calls want_read when it can take more. */
            ev_io_stop(w->loop, &w->rio);
            break;
        }
        if (rv != 0)
            break;
        ssize_t r = read(w->in_fd, p, room);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            tun_debug("read: %s", strerror(errno));
            tun_transport_input_eof(t);
            break;
        }
        if (r == 0) {
            tun_transport_input_eof(t);
            break;
        }
        got = 1;
        if (tun_transport_input_commit(t, (size_t)r) != 0)
            break;
        if ((size_t)r < room)
            break; /* the descriptor is drained */
    }
    if (got && w->quickack) {
        /* Not a lasting setting: the kernel may fall back to delayed ACKs,
         * so it is given again after every batch (and sends an ACK that
         * was being held, now). */
        int one = 1;
        if (setsockopt(w->in_fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one)) != 0)
            w->quickack = 0; /* not TCP (a ProxyUseFdpass socket may be anything) */
    }
    tun_transport_kick(t);
}

static void on_write(struct ev_loop *loop, ev_io *io, int revents)
{
    (void)loop;
    (void)revents;
    tun_fdwire *w = io->data;
    tun_transport_writable(w->base.t);
}

static ssize_t fd_writev(tun_wire *base, const struct iovec *iov, int n)
{
    tun_fdwire *w = (tun_fdwire *)base;
    for (;;) {
        ssize_t r = writev(w->out_fd, iov, n);
        if (r >= 0)
            return r;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        return -1;
    }
}

static void fd_want_write(tun_wire *base, int on)
{
    tun_fdwire *w = (tun_fdwire *)base;
    if (on && w->out_fd >= 0)
        ev_io_start(w->loop, &w->wio);
    else
        ev_io_stop(w->loop, &w->wio);
}

static void fd_want_read(tun_wire *base)
{
    tun_fdwire *w = (tun_fdwire *)base;
    if (w->in_fd >= 0 && !ev_is_active(&w->rio))
        ev_io_start(w->loop, &w->rio);
}

static int fd_rtt_us(tun_wire *base, uint32_t *us)
{
    tun_fdwire *w = (tun_fdwire *)base;
    struct tcp_info ti;
    socklen_t len = sizeof(ti);
    if (getsockopt(w->in_fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
        len < offsetof(struct tcp_info, tcpi_rttvar))
        return -1; /* not a TCP socket (a ProxyCommand's pipe) */
    *us = ti.tcpi_rtt;
    return 0;
}

static void fd_close(tun_wire *base)
{
    tun_fdwire *w = (tun_fdwire *)base;
    ev_io_stop(w->loop, &w->rio);
    ev_io_stop(w->loop, &w->wio);
    if (w->out_fd >= 0 && w->out_fd != w->in_fd)
        close(w->out_fd);
    if (w->in_fd >= 0)
        close(w->in_fd);
    w->in_fd = w->out_fd = -1;
}

static const tun_wire_ops fd_ops = {
    .writev = fd_writev,
    .want_write = fd_want_write,
    .want_read = fd_want_read,
    .rtt_us = fd_rtt_us,
    .close = fd_close,
};

void tun_fdwire_quickack(tun_fdwire *w, int on)
{
    w->quickack = on;
}

void tun_fdwire_init(tun_fdwire *w, struct ev_loop *loop, int in_fd, int out_fd)
{
    memset(w, 0, sizeof(*w));
    w->base.ops = &fd_ops;
    w->loop = loop;
    w->in_fd = in_fd;
    w->out_fd = out_fd;
    ev_io_init(&w->rio, on_read, in_fd, EV_READ);
    ev_io_init(&w->wio, on_write, out_fd, EV_WRITE);
    w->rio.data = w->wio.data = w;
}
