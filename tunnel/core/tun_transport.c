/*
 * tun_transport.c - the socket side of an ssh_conn.
 *
 * Reading: up to a few large reads per wake-up (64 KiB or more each,
 * straight into the engine's buffer), so one busy connection cannot starve
 * the others on the same loop.  Writing: optimistic writev right after the
 * engine produced output; the write watcher is armed only when the kernel
 * did not take everything.
 */
#include "tun_transport.h"
#include "tun_log.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define READS_PER_WAKEUP 8
#define READ_CHUNK       (256 * 1024)
#define OUT_HIGH         (4u * 1024 * 1024)
#define OUT_LOW          (1u * 1024 * 1024)
#define RTT_EVERY_MS     250

uint64_t tun_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void flush(tun_transport *t)
{
    while (!t->dead) {
        struct iovec iov[8];
        size_t n = ssh_conn_output(t->c, iov, 8);
        if (n == 0)
            break;
        ssize_t w = writev(t->fd, iov, (int)n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            tun_debug("write: %s", strerror(errno));
            ssh_conn_input_eof(t->c); /* the peer is gone either way */
            /* Nothing more can be written: drop the rest. */
            ssh_conn_output_consumed(t->c, ssh_conn_output_pending(t->c));
            break;
        }
        ssh_conn_output_consumed(t->c, (size_t)w);
    }
    if (ssh_conn_output_pending(t->c) > 0) {
        if (!ev_is_active(&t->wio))
            ev_io_start(t->loop, &t->wio);
    } else if (ev_is_active(&t->wio)) {
        ev_io_stop(t->loop, &t->wio);
    }
}

static void rearm_timer(tun_transport *t)
{
    uint64_t d = ssh_conn_deadline(t->c);
    ev_timer_stop(t->loop, &t->timer);
    if (d == UINT64_MAX)
        return;
    uint64_t now = tun_now_ms();
    double after = d > now ? (double)(d - now) / 1000.0 : 0.0;
    ev_timer_set(&t->timer, after, 0.);
    ev_timer_start(t->loop, &t->timer);
}

static void check_dead(tun_transport *t)
{
    if (t->dead || ssh_conn_error(t->c) == 0)
        return;
    if (ssh_conn_output_pending(t->c) > 0 && ev_is_active(&t->wio))
        return; /* let the DISCONNECT go out first */
    t->dead = 1;
    int err = ssh_conn_error(t->c);
    tun_transport_close(t);
    if (t->cbs.dead)
        t->cbs.dead(t, err, t->arg);
}

void tun_transport_kick(tun_transport *t)
{
    if (t->dead || t->in_kick)
        return;
    t->in_kick = 1;
    flush(t);
    size_t pend = ssh_conn_output_pending(t->c);
    if (!t->throttled && pend >= t->high) {
        t->throttled = 1;
    } else if (t->throttled && pend <= t->low) {
        t->throttled = 0;
        if (t->cbs.drained)
            t->cbs.drained(t, t->arg);
        flush(t);
    }
    /* Reading resumes when the engine has room again (after a pause). */
    if (!t->dead && !ev_is_active(&t->rio) && ssh_conn_want_input(t->c))
        ev_io_start(t->loop, &t->rio);
    rearm_timer(t);
    /* Busy now: the engine's buffers are released once it has been quiet
     * for a while (they grew for a burst). */
    if (!t->dead)
        tun_trim_arm(t->loop, &t->trim);
    t->in_kick = 0;
    check_dead(t);
}

static size_t trim_conn(tun_trim *tr)
{
    tun_transport *t = (tun_transport *)((char *)tr - offsetof(tun_transport, trim));
    return t->dead ? 0 : ssh_conn_trim(t->c);
}

/* Hand the engine the TCP round-trip time now and then.  It is a hint
 * only: the engine measures the whole path's round trip itself (through a
 * relay or a jump host the first TCP hop says nothing about it), and uses
 * this figure before its first measurement and to refine one below its
 * millisecond clock.  Not a TCP socket (a ProxyCommand pipe): no hint. */
static void sample_rtt(tun_transport *t, uint64_t now)
{
    if (now < t->rtt_next)
        return;
    struct tcp_info ti;
    socklen_t len = sizeof(ti);
    if (getsockopt(t->fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 ||
        len < offsetof(struct tcp_info, tcpi_rttvar)) {
        t->rtt_next = UINT64_MAX;
        return;
    }
    ssh_conn_set_rtt(t->c, ti.tcpi_rtt); /* 0 (no sample yet): unknown */
    if (t->rtt_next == 0)
        tun_debug2("TCP round trip %u us", (unsigned)ti.tcpi_rtt);
    t->rtt_next = now + RTT_EVERY_MS;
}

static void on_read(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    tun_transport *t = w->data;
    for (int i = 0; i < READS_PER_WAKEUP && !t->dead; i++) {
        uint8_t *p;
        size_t room;
        int rv = ssh_conn_input_space(t->c, READ_CHUNK, &p, &room);
        if (rv == SSH_ERR_AGAIN) {
            /* The engine is waiting for an answer (host key, auth). */
            ev_io_stop(t->loop, &t->rio);
            break;
        }
        if (rv != 0)
            break;
        ssize_t r = read(t->fd, p, room);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            tun_debug("read: %s", strerror(errno));
            ssh_conn_input_eof(t->c);
            break;
        }
        if (r == 0) {
            ssh_conn_input_eof(t->c);
            break;
        }
        uint64_t now = tun_now_ms();
        sample_rtt(t, now);
        if (ssh_conn_input_commit(t->c, (size_t)r, now) != 0)
            break;
        if ((size_t)r < room)
            break; /* the socket is drained */
    }
    tun_transport_kick(t);
}

static void on_write(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    tun_transport_kick(w->data);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    tun_transport *t = w->data;
    ssh_conn_tick(t->c, tun_now_ms());
    tun_transport_kick(t);
}

void tun_transport_init(tun_transport *t, struct ev_loop *loop, int fd, ssh_conn *c,
                        const tun_transport_cbs *cbs, void *arg)
{
    memset(t, 0, sizeof(*t));
    t->loop = loop;
    t->fd = fd;
    t->c = c;
    if (cbs)
        t->cbs = *cbs;
    t->arg = arg;
    t->high = OUT_HIGH;
    t->low = OUT_LOW;
    t->trim.fn = trim_conn;
    ev_io_init(&t->rio, on_read, fd, EV_READ);
    ev_io_init(&t->wio, on_write, fd, EV_WRITE);
    ev_timer_init(&t->timer, on_timer, 0., 0.);
    t->rio.data = t->wio.data = t->timer.data = t;
    ev_io_start(loop, &t->rio);
}

int tun_transport_throttled(const tun_transport *t)
{
    return t->throttled;
}

void tun_transport_close(tun_transport *t)
{
    tun_trim_disarm(&t->trim);
    ev_io_stop(t->loop, &t->rio);
    ev_io_stop(t->loop, &t->wio);
    ev_timer_stop(t->loop, &t->timer);
    if (t->fd >= 0) {
        close(t->fd);
        t->fd = -1;
    }
}
