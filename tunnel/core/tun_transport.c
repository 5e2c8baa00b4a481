/*
 * tun_transport.c - an ssh_conn on a wire.
 *
 * Output: written optimistically right after the engine produced it, as an
 * iovec list; the wire is asked to report writability only when it took
 * less than everything.  Input is the wire's business (tun_wire.c reads a
 * descriptor in large chunks straight into the engine's buffer,
 * tun_chanwire.c copies channel data); it comes back here to commit bytes
 * and to kick once a batch is in.
 */
#include "tun_transport.h"
#include "tun_log.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#define READ_CHUNK   (256 * 1024)
#define OUT_HIGH     (4u * 1024 * 1024)
#define OUT_LOW      (1u * 1024 * 1024)
#define RTT_EVERY_MS 250

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
        ssize_t w = t->wire->ops->writev(t->wire, iov, (int)n);
        if (w < 0) {
            tun_debug("write: %s", strerror(errno));
            ssh_conn_input_eof(t->c); /* the peer is gone either way */
            /* Nothing more can be written: drop the rest. */
            ssh_conn_output_consumed(t->c, ssh_conn_output_pending(t->c));
            break;
        }
        if (w == 0)
            break;
        ssh_conn_output_consumed(t->c, (size_t)w);
    }
    int want = ssh_conn_output_pending(t->c) > 0;
    if (want != t->want_write) {
        t->want_write = want;
        t->wire->ops->want_write(t->wire, want);
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
    if (ssh_conn_output_pending(t->c) > 0 && t->want_write)
        return; /* let the DISCONNECT go out first */
    t->dead = 1;
    int err = ssh_conn_error(t->c);
    tun_transport_close(t);
    if (t->cbs.dead)
        t->cbs.dead(t, err, t->arg);
}

void tun_transport_kick(tun_transport *t)
{
    if (t->dead || t->closed || t->in_kick)
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
    /* Input resumes when the engine has room again (after a pause). */
    if (!t->dead && ssh_conn_want_input(t->c))
        t->wire->ops->want_read(t->wire);
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

void tun_transport_writable(tun_transport *t)
{
    tun_transport_kick(t);
}

/* ---- input, from the wire ---------------------------------------------------------------- */

int tun_transport_input_space(tun_transport *t, uint8_t **p, size_t *room)
{
    if (t->dead || t->closed)
        return SSH_ERR_CLOSED;
    return ssh_conn_input_space(t->c, READ_CHUNK, p, room);
}

/* Hand the engine the wire's round-trip time now and then.  It is a hint
 * only: the engine measures the whole path's round trip itself (through a
 * relay or a jump host the first TCP hop says nothing about it), and uses
 * this figure before its first measurement and to refine one below its
 * millisecond clock.  A wire that cannot tell (pipes, a channel): no hint. */
static void sample_rtt(tun_transport *t, uint64_t now)
{
    if (now < t->rtt_next)
        return;
    uint32_t us = 0;
    if (t->wire->ops->rtt_us == NULL || t->wire->ops->rtt_us(t->wire, &us) != 0) {
        t->rtt_next = UINT64_MAX;
        return;
    }
    ssh_conn_set_rtt(t->c, us); /* 0 (no sample yet): unknown */
    if (t->rtt_next == 0)
        tun_debug2("TCP round trip %u us", (unsigned)us);
    t->rtt_next = now + RTT_EVERY_MS;
}

int tun_transport_input_commit(tun_transport *t, size_t n)
{
    uint64_t now = tun_now_ms();
    sample_rtt(t, now);
    return ssh_conn_input_commit(t->c, n, now);
}

void tun_transport_input_eof(tun_transport *t)
{
    if (!t->dead)
        ssh_conn_input_eof(t->c);
}

/* ---- life cycle ----------------------------------------------------------------------------- */

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    tun_transport *t = w->data;
    ssh_conn_tick(t->c, tun_now_ms());
    tun_transport_kick(t);
}

static void setup(tun_transport *t, struct ev_loop *loop, tun_wire *w, ssh_conn *c,
                  const tun_transport_cbs *cbs, void *arg)
{
    t->loop = loop;
    t->wire = w;
    t->c = c;
    if (cbs)
        t->cbs = *cbs;
    t->arg = arg;
    t->high = OUT_HIGH;
    t->low = OUT_LOW;
    t->trim.fn = trim_conn;
    ev_timer_init(&t->timer, on_timer, 0., 0.);
    t->timer.data = t;
    w->t = t;
    w->ops->want_read(w);
}

void tun_transport_init_wire(tun_transport *t, struct ev_loop *loop, tun_wire *w, ssh_conn *c,
                             const tun_transport_cbs *cbs, void *arg)
{
    memset(t, 0, sizeof(*t));
    setup(t, loop, w, c, cbs, arg);
}

void tun_transport_init(tun_transport *t, struct ev_loop *loop, int fd, ssh_conn *c,
                        const tun_transport_cbs *cbs, void *arg)
{
    memset(t, 0, sizeof(*t));
    tun_fdwire_init(&t->fdw, loop, fd, fd);
    setup(t, loop, &t->fdw.base, c, cbs, arg);
}

int tun_transport_throttled(const tun_transport *t)
{
    return t->throttled;
}

void tun_transport_close(tun_transport *t)
{
    tun_trim_disarm(&t->trim);
    ev_timer_stop(t->loop, &t->timer);
    if (t->closed)
        return;
    t->closed = 1;
    t->want_write = 0;
    t->wire->ops->close(t->wire);
    tun_trim_freed(t->loop);
}
