/*
 * tun_chanwire.c - a wire over a channel of another connection (see
 * tun_chanwire.h).
 *
 * Input: channel data is copied into the inner engine's input buffer as it
 * arrives (the one copy this design costs: the outer engine decrypts into
 * its own buffer, the inner one decrypts in place in its own).  What the
 * inner engine cannot take yet (it waits for a host key answer or a
 * signature) is kept here, bounded by the window granted, which is not
 * granted again until the inner engine took the bytes.
 *
 * Output: the inner engine's ciphertext goes into the outer channel with
 * ssh_channel_send, as far as the peer's window goes, and not while the
 * outer connection's output is above its high-water mark (the channel then
 * waits on the link's paused list like any local source).
 */
#include "tun_chanwire.h"
#include "tun_log.h"
#include "tun_transport.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct tun_chanwire {
    tun_wire base;
    tun_chan ch; /* the channel's application side (ops below) */
    struct ev_loop *loop;
    tun_link *link; /* the outer connection; NULL once it is gone */
    tun_chanwire_cb cb;
    void *arg;
    ssh_buf pend;     /* channel data the inner engine has not taken yet */
    ev_prepare defer; /* never started: fed as an event (ev_feed_event) */
    int chan_exists;  /* the outer engine still knows the channel */
    int confirmed;
    int closed; /* the transport closed the wire */
    int want_write;
    int input_done; /* EOF passed to the transport */
    int peer_eof;
    int flush_in;   /* deferred: feed `pend` */
    int kick_outer; /* deferred: flush the outer transport */
    int busy;       /* inside one of our callbacks */
    int zombie;     /* freed while busy */
};

#define W_OF_CH(c) ((tun_chanwire *)((char *)(c)-offsetof(tun_chanwire, ch)))

static void really_free(tun_chanwire *w)
{
    ev_clear_pending(w->loop, &w->defer);
    ssh_buf_free(&w->pend);
    free(w);
}

/* Leave a callback: the memory goes now if it was freed meanwhile. */
static int leave(tun_chanwire *w)
{
    if (--w->busy == 0 && w->zombie) {
        really_free(w);
        return 1;
    }
    return 0;
}

static void defer(tun_chanwire *w)
{
    ev_feed_event(w->loop, &w->defer, EV_CUSTOM);
}

static ssh_conn *outer(tun_chanwire *w)
{
    return w->link ? w->link->c : NULL;
}

/* The transport's input has ended: say so once. */
static void input_end(tun_chanwire *w)
{
    if (w->input_done || w->base.t == NULL || w->closed)
        return;
    w->input_done = 1;
    tun_transport_input_eof(w->base.t);
}

/* Move bytes into the inner engine: how many were done with (taken, or
 * dropped because the inner connection is over); the rest must wait. */
static size_t feed(tun_chanwire *w, const uint8_t *d, size_t n)
{
    size_t off = 0;
    while (off < n) {
        if (w->base.t == NULL || w->closed)
            return n; /* nobody will read them */
        uint8_t *p;
        size_t room;
        int rv = tun_transport_input_space(w->base.t, &p, &room);
        if (rv == SSH_ERR_AGAIN)
            break;
        if (rv != 0)
            return n;
        size_t k = n - off < room ? n - off : room;
        memcpy(p, d + off, k);
        off += k;
        if (tun_transport_input_commit(w->base.t, k) != 0)
            return n;
    }
    return off;
}

static void grant(tun_chanwire *w, size_t n)
{
    if (n && w->chan_exists && w->link)
        ssh_channel_consumed(outer(w), w->ch.id, n);
}

/* ---- deferred work ------------------------------------------------------------------------ */

static void on_defer(struct ev_loop *loop, ev_prepare *pw, int revents)
{
    (void)loop;
    (void)revents;
    tun_chanwire *w = pw->data;
    w->busy++;
    if (w->flush_in) {
        w->flush_in = 0;
        size_t had = ssh_buf_len(&w->pend);
        if (had) {
            size_t done = feed(w, ssh_buf_ptr(&w->pend), had);
            ssh_buf_consume(&w->pend, done);
            if (ssh_buf_len(&w->pend) == 0) {
                /* It grew for a wait (a prompt, a signature): give it back. */
                size_t max = w->pend.max;
                ssh_buf_free(&w->pend);
                ssh_buf_init(&w->pend, max, 0);
            }
            grant(w, done);
            if (done)
                w->kick_outer = 1; /* the WINDOW_ADJUST */
        }
        if (ssh_buf_len(&w->pend) == 0 && w->peer_eof)
            input_end(w);
        if (w->base.t && !w->closed)
            tun_transport_kick(w->base.t);
    }
    if (w->kick_outer && !w->zombie) {
        w->kick_outer = 0;
        if (w->link)
            tun_link_kick(w->link);
    }
    leave(w);
}

/* ---- the outer channel's events ------------------------------------------------------------ */

static void ch_open_result(tun_chan *ch, uint32_t reason, const char *msg)
{
    tun_chanwire *w = W_OF_CH(ch);
    if (reason != 0)
        w->chan_exists = 0; /* the engine forgot it */
    else
        w->confirmed = 1;
    w->busy++;
    w->cb(w->arg, w, reason, msg ? msg : "");
    leave(w);
}

static void ch_data(tun_chan *ch, int stream, const uint8_t *d, size_t n)
{
    tun_chanwire *w = W_OF_CH(ch);
    if (stream != 0 || w->closed || w->base.t == NULL) {
        grant(w, n); /* nothing reads it (extended data has no meaning here) */
        return;
    }
    w->busy++;
    size_t done = 0;
    if (ssh_buf_len(&w->pend) == 0)
        done = feed(w, d, n);
    if (done < n && ssh_buf_put(&w->pend, d + done, n - done) != 0) {
        /* Beyond the bound: the peer overran the window we granted. */
        tun_debug("channel %u: carried connection overran its buffer", ch->id);
        ssh_buf_reset(&w->pend);
        done = n;
        input_end(w);
    }
    grant(w, done);
    if (!w->closed && w->base.t)
        tun_transport_kick(w->base.t);
    leave(w);
}

static void notify_writable(tun_chanwire *w)
{
    if (!w->want_write || w->closed || w->base.t == NULL)
        return;
    w->busy++;
    tun_transport_writable(w->base.t);
    leave(w);
}

static void ch_writable(tun_chan *ch)
{
    notify_writable(W_OF_CH(ch));
}

static void ch_resume(tun_chan *ch)
{
    notify_writable(W_OF_CH(ch));
}

static void ch_eof(tun_chan *ch)
{
    tun_chanwire *w = W_OF_CH(ch);
    w->peer_eof = 1;
    if (ssh_buf_len(&w->pend) > 0)
        return; /* passed on once what came before it was taken */
    w->busy++;
    input_end(w);
    if (!w->closed && w->base.t)
        tun_transport_kick(w->base.t);
    leave(w);
}

static void ch_closed(tun_chan *ch)
{
    tun_chanwire *w = W_OF_CH(ch);
    w->chan_exists = 0;
    if (w->link)
        tun_link_unblock(w->link, &w->ch);
    w->peer_eof = 1;
    w->busy++;
    ssh_buf_reset(&w->pend); /* nothing after a CLOSE: what was not taken is lost */
    input_end(w);
    if (!w->closed && w->base.t)
        tun_transport_kick(w->base.t);
    leave(w);
}

static const tun_chan_ops chan_ops = {
    .open_result = ch_open_result,
    .data = ch_data,
    .writable = ch_writable,
    .eof = ch_eof,
    .closed = ch_closed,
    .resume = ch_resume,
};

/* ---- the wire, as the transport sees it -------------------------------------------------------
 */

static ssize_t cw_writev(tun_wire *base, const struct iovec *iov, int n)
{
    tun_chanwire *w = (tun_chanwire *)base;
    ssh_conn *c = outer(w);
    if (c == NULL || !w->chan_exists || ssh_conn_error(c) != 0) {
        errno = EPIPE;
        return -1;
    }
    if (w->link->t && tun_transport_throttled(w->link->t)) {
        tun_link_block(w->link, &w->ch); /* ch_resume when it drained */
        return 0;
    }
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        long s = ssh_channel_send(c, w->ch.id, 0, iov[i].iov_base, iov[i].iov_len);
        if (s < 0) {
            if (total)
                break;
            errno = EPIPE;
            return -1;
        }
        total += (size_t)s;
        if ((size_t)s < iov[i].iov_len)
            break; /* window exhausted: ch_writable when it reopens */
    }
    if (total) {
        w->kick_outer = 1;
        defer(w);
    }
    return (ssize_t)total;
}

static void cw_want_write(tun_wire *base, int on)
{
    tun_chanwire *w = (tun_chanwire *)base;
    w->want_write = on;
}

static void cw_want_read(tun_wire *base)
{
    tun_chanwire *w = (tun_chanwire *)base;
    if (ssh_buf_len(&w->pend) > 0 && !w->flush_in) {
        w->flush_in = 1;
        defer(w);
    }
}

static int cw_rtt_us(tun_wire *base, uint32_t *us)
{
    (void)base;
    (void)us;
    return -1; /* the inner engine measures the whole path itself */
}

static void cw_close(tun_wire *base)
{
    tun_chanwire *w = (tun_chanwire *)base;
    if (w->closed)
        return;
    w->closed = 1;
    w->want_write = 0;
    ssh_buf_reset(&w->pend);
    if (w->link)
        tun_link_unblock(w->link, &w->ch);
    if (w->chan_exists && w->link && ssh_conn_error(outer(w)) == 0) {
        /* EOF first, as a forwarded socket's end would be (sshd then
         * shuts down its socket to the target), then CLOSE. */
        ssh_channel_eof(outer(w), w->ch.id);
        ssh_channel_close(outer(w), w->ch.id);
        w->kick_outer = 1;
        defer(w);
    }
}

static const tun_wire_ops cw_ops = {
    .writev = cw_writev,
    .want_write = cw_want_write,
    .want_read = cw_want_read,
    .rtt_us = cw_rtt_us,
    .close = cw_close,
};

/* ---- life cycle
 * ------------------------------------------------------------------------------------ */

tun_chanwire *tun_chanwire_open(struct ev_loop *loop, tun_link *link, const char *host,
                                unsigned port, tun_chanwire_cb cb, void *arg)
{
    tun_chanwire *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return NULL;
    w->base.ops = &cw_ops;
    w->ch.ops = &chan_ops;
    w->ch.link = link;
    w->loop = loop;
    w->link = link;
    w->cb = cb;
    w->arg = arg;
    /* Bounded by what we grant: the largest receive window the engine may
     * grow to for one channel, plus a packet. */
    ssh_buf_init(&w->pend, (size_t)64 * 1024 * 1024 + 256 * 1024, 0);
    ev_prepare_init(&w->defer, on_defer);
    w->defer.data = w;
    /* As ssh -W names its side of the channel. */
    ssh_channel_open_info info = {.kind = SSH_CHAN_DIRECT_TCPIP,
                                  .host = host,
                                  .port = port,
                                  .orig_host = "127.0.0.1",
                                  .orig_port = 65535};
    uint32_t id;
    int rv = ssh_channel_open(link->c, &info, &w->ch, &id);
    if (rv != 0) {
        tun_debug("cannot open a channel to %s port %u: %s", host, port, ssh_strerror(rv));
        really_free(w);
        return NULL;
    }
    w->ch.id = id;
    w->chan_exists = 1;
    tun_link_kick(link);
    return w;
}

tun_wire *tun_chanwire_wire(tun_chanwire *w)
{
    return &w->base;
}

void tun_chanwire_lost(tun_chanwire *w)
{
    if (w == NULL || w->link == NULL)
        return;
    tun_link_unblock(w->link, &w->ch);
    w->link = NULL;
    w->chan_exists = 0;
    w->kick_outer = 0;
    w->busy++;
    input_end(w);
    if (!w->closed && w->base.t)
        tun_transport_kick(w->base.t);
    leave(w);
}

void tun_chanwire_free(tun_chanwire *w)
{
    if (w == NULL || w->zombie)
        return;
    if (w->link) {
        tun_link_unblock(w->link, &w->ch);
        if (w->chan_exists) {
            ssh_conn *c = outer(w);
            ssh_channel_set_user(c, w->ch.id, NULL);
            if (ssh_conn_error(c) == 0 && !w->closed)
                ssh_channel_close(c, w->ch.id);
        }
    }
    w->link = NULL;
    w->chan_exists = 0;
    w->base.t = NULL;
    if (w->busy) {
        w->zombie = 1;
        return;
    }
    really_free(w);
}

size_t tun_chanwire_pending(const tun_chanwire *w)
{
    return ssh_buf_len(&w->pend);
}
