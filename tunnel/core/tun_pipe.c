/*
 * tun_pipe.c - descriptor <-> channel bridge (see tun_pipe.h).
 */
#include "tun_pipe.h"
#include "tun_log.h"
#include "tun_transport.h"
#include "tun_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

/* One readv(2) fills up to READ_PACKETS packets' data areas at once
 * (ssh_channel_send_reserve_v): against OpenSSH's 32 KiB packets, a read
 * per packet cost 32768 system calls per GiB, and a relay's CPU on loopback
 * rises by half when it moves 32 KiB per call instead of 256 KiB.  At most
 * READS_PER_WAKEUP of them before the loop serves other descriptors. */
#define READ_WANT        (256 * 1024)
#define READ_PACKETS     8
#define READS_PER_WAKEUP 4

static void try_read(tun_pipe *p);
static void on_rin(struct ev_loop *loop, ev_io *w, int revents);

static ssh_conn *conn_of(tun_pipe *p)
{
    return p->base.link->c;
}

static int fd_of(tun_pipe *p, int stream)
{
    return stream ? p->err_fd : p->out_fd;
}

/* Forwarded sockets: when our EOF went out and the peer's EOF has been
 * written through, the connection is over (OpenSSH's chan_is_dead). */
static int inputs_done(const tun_pipe *p)
{
    return p->in_eof && (p->in2_fd < 0 || p->in2_eof);
}

static void check_auto_close(tun_pipe *p)
{
    if (p->auto_close && inputs_done(p) && p->eof_shut && p->base.open)
        ssh_channel_close(conn_of(p), p->base.id);
}

static void maybe_shut(tun_pipe *p)
{
    if (!p->peer_eof || p->eof_shut || p->pend[0].len > 0 || p->hold)
        return;
    p->eof_shut = 1;
    if (p->is_socket && p->out_fd >= 0)
        shutdown(p->out_fd, SHUT_WR);
    if (p->hooks && p->hooks->drained_eof)
        p->hooks->drained_eof(p);
    check_auto_close(p);
}

static void out_failed(tun_pipe *p, int stream, int err)
{
    if (p->out_dead[stream])
        return;
    p->out_dead[stream] = 1;
    /* Whatever was waiting will never be written: release its window. */
    size_t n = p->pend[stream].len;
    ssh_buf_reset(&p->pend[stream]);
    ev_io *w = stream ? &p->werr : &p->wout;
    ev_io_stop(p->loop, w);
    if (n && p->base.open)
        ssh_channel_consumed(conn_of(p), p->base.id, n);
    if (p->hooks && p->hooks->out_failed)
        p->hooks->out_failed(p, stream, err);
    /* A socket that cannot be written is finished with. */
    if (p->auto_close && p->base.open)
        ssh_channel_close(conn_of(p), p->base.id);
}

/* Write buffered bytes of one stream; grant window for what went out. */
static void write_pending(tun_pipe *p, int stream)
{
    ssh_buf *b = &p->pend[stream];
    size_t done = 0;
    while (b->len > 0) {
        ssize_t w = write(fd_of(p, stream), ssh_buf_ptr(b), b->len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                out_failed(p, stream, errno);
            break;
        }
        ssh_buf_consume(b, (size_t)w);
        done += (size_t)w;
    }
    if (done && p->base.open)
        ssh_channel_consumed(conn_of(p), p->base.id, done);
    ev_io *wio = stream ? &p->werr : &p->wout;
    if (b->len == 0) {
        ev_io_stop(p->loop, wio);
        /* It grew for a burst: release it unless it fills again soon. */
        tun_trim_arm(p->loop, &p->trim);
    } else if (!p->out_dead[stream])
        ev_io_start(p->loop, wio);
}

/* Output still to be written to a local descriptor that can take it. */
static int output_pending(const tun_pipe *p)
{
    for (int s = 0; s < 2; s++)
        if (p->pend[s].len > 0 && !p->out_dead[s] && fd_of((tun_pipe *)p, s) >= 0 && !p->hold)
            return 1;
    return 0;
}

/* The channel closed while output was still buffered: it has all been
 * written now (or can never be), so the owner hears of the close. */
static void finish_closing(tun_pipe *p)
{
    p->closing = 0;
    ev_io_stop(p->loop, &p->wout);
    ev_io_stop(p->loop, &p->werr);
    if (p->hooks && p->hooks->closed)
        p->hooks->closed(p); /* may free p */
}

static void on_wout(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    tun_pipe *p = w->data;
    tun_link *link = p->base.link;
    write_pending(p, w == &p->werr ? 1 : 0);
    if (w == &p->wout)
        maybe_shut(p);
    if (p->closing && !output_pending(p))
        finish_closing(p); /* p may be gone */
    tun_link_kick(link);
}

static void pipe_data(tun_chan *ch, int stream, const uint8_t *d, size_t n)
{
    tun_pipe *p = (tun_pipe *)ch;
    stream = stream ? 1 : 0;
    p->bytes_out += n;
    if (p->hold) {
        if (ssh_buf_put(&p->pend[stream], d, n) != 0)
            out_failed(p, stream, ENOMEM);
        return;
    }
    if (fd_of(p, stream) < 0 || p->out_dead[stream]) {
        ssh_channel_consumed(conn_of(p), ch->id, n);
        return;
    }
    ssh_buf *b = &p->pend[stream];
    size_t off = 0;
    if (b->len == 0) {
        while (off < n) {
            ssize_t w = write(fd_of(p, stream), d + off, n - off);
            if (w < 0) {
                if (errno == EINTR)
                    continue;
                if (errno != EAGAIN && errno != EWOULDBLOCK) {
                    /* Written or dropped with the stream: all of it is
                     * done with, as far as the window goes. */
                    int e = errno;
                    ssh_channel_consumed(conn_of(p), ch->id, n);
                    out_failed(p, stream, e);
                    return;
                }
                break;
            }
            off += (size_t)w;
        }
        if (off)
            ssh_channel_consumed(conn_of(p), ch->id, off);
    }
    if (off < n) {
        /* Bounded by the window we granted: the peer cannot send more
         * than that before we consume. */
        if (ssh_buf_put(b, d + off, n - off) != 0) {
            out_failed(p, stream, ENOMEM);
            return;
        }
        ev_io_start(p->loop, stream ? &p->werr : &p->wout);
    }
}

static void pipe_eof(tun_chan *ch)
{
    tun_pipe *p = (tun_pipe *)ch;
    p->peer_eof = 1;
    maybe_shut(p);
}

static void stop_input(tun_pipe *p)
{
    ev_io_stop(p->loop, &p->rin);
    ev_io_stop(p->loop, &p->rin2);
}

/* One input reached EOF: when all have, CHANNEL_EOF. */
static void input_eof(tun_pipe *p, int which)
{
    if (which)
        p->in2_eof = 1;
    else
        p->in_eof = 1;
    ev_io_stop(p->loop, which ? &p->rin2 : &p->rin);
    if (!inputs_done(p))
        return;
    if (p->base.open)
        ssh_channel_eof(conn_of(p), p->base.id);
    if (p->hooks && p->hooks->inputs_done)
        p->hooks->inputs_done(p);
    check_auto_close(p);
}

static void on_rin(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    tun_pipe *p = w->data;
    try_read(p);
    tun_link_kick(p->base.link);
}

/* The primary input through the owner's filter (see tun_pipe_hooks):
 * read a little, filter, send a copy.  Same return as read_one. */
static int read_filtered(tun_pipe *p, int fd)
{
    ssh_conn *c = conn_of(p);
    for (int i = 0; i < 16; i++) {
        if (p->base.link->t && tun_transport_throttled(p->base.link->t)) {
            tun_link_block(p->base.link, &p->base);
            return 0;
        }
        size_t win = ssh_channel_window(c, p->base.id);
        if (win < 2)
            return 0; /* resumed by the writable callback */
        uint8_t in[4096], out[sizeof(in) + 1];
        size_t want = win - 1 < sizeof(in) ? win - 1 : sizeof(in);
        ssize_t r = read(fd, in, want);
        if (r < 0) {
            int e = errno;
            if (e == EINTR)
                continue;
            if ((e == EAGAIN || e == EWOULDBLOCK) && !p->draining[0])
                return 1;
            r = 0;
        }
        if (r == 0) {
            input_eof(p, 0);
            return 0;
        }
        p->bytes_in += (size_t)r;
        int ended = 0;
        long k = p->hooks->filter(p, in, (size_t)r, out, &ended);
        if (k > 0 && p->base.open)
            ssh_channel_send(c, p->base.id, 0, out, (size_t)k);
        if (ended || !p->base.open) {
            if (!p->in_eof)
                input_eof(p, 0);
            return 0;
        }
    }
    return 1;
}

/* Move one input into the channel while the window and the connection's
 * output allow.  Returns 1 if it should be watched for more. */
static int read_one(tun_pipe *p, int which)
{
    ssh_conn *c = conn_of(p);
    int fd = which ? p->in2_fd : p->in_fd;
    int eof = which ? p->in2_eof : p->in_eof;
    if (fd < 0 || eof)
        return 0;
    if (which == 0 && p->hooks && p->hooks->filter)
        return read_filtered(p, fd);
    for (int i = 0; i < READS_PER_WAKEUP; i++) {
        if (p->base.link->t && tun_transport_throttled(p->base.link->t)) {
            tun_link_block(p->base.link, &p->base);
            return 0;
        }
        struct iovec iov[READ_PACKETS];
        size_t niov, room = 0;
        int rv = ssh_channel_send_reserve_v(c, p->base.id, which ? SSH_STREAM_STDERR : 0, READ_WANT,
                                            iov, READ_PACKETS, &niov);
        if (rv != 0)
            return 0; /* window closed (resumed by the writable callback) or gone */
        for (size_t k = 0; k < niov; k++)
            room += iov[k].iov_len;
        ssize_t r = readv(fd, iov, (int)niov);
        if (r < 0) {
            int e = errno;
            ssh_channel_send_commit_v(c, p->base.id, 0);
            if (e == EINTR)
                continue;
            if (e == EAGAIN || e == EWOULDBLOCK) {
                if (!p->draining[which ? 1 : 0])
                    return 1;
            } else if (e != EIO) { /* EIO: a pty whose other side closed */
                tun_debug("channel %u: read: %s", p->base.id, strerror(e));
            }
            r = 0; /* treat as EOF */
        }
        if (r == 0) {
            ssh_channel_send_commit_v(c, p->base.id, 0);
            input_eof(p, which);
            return 0;
        }
        ssh_channel_send_commit_v(c, p->base.id, (size_t)r);
        p->bytes_in += (size_t)r;
        if ((size_t)r < room)
            break;
    }
    return 1;
}

static void try_read(tun_pipe *p)
{
    if (!p->reading || !p->base.open)
        return;
    if (read_one(p, 0))
        ev_io_start(p->loop, &p->rin);
    else
        ev_io_stop(p->loop, &p->rin);
    if (read_one(p, 1))
        ev_io_start(p->loop, &p->rin2);
    else
        ev_io_stop(p->loop, &p->rin2);
}

static void pipe_writable(tun_chan *ch)
{
    tun_pipe *p = (tun_pipe *)ch;
    if (p->reading && !inputs_done(p) && !ch->blocked)
        try_read(p);
}

static void pipe_resume(tun_chan *ch)
{
    try_read((tun_pipe *)ch);
}

static void pipe_open_result(tun_chan *ch, uint32_t reason, const char *msg)
{
    tun_pipe *p = (tun_pipe *)ch;
    if (p->hooks && p->hooks->open_result)
        p->hooks->open_result(p, reason, msg);
}

static int pipe_request(tun_chan *ch, const ssh_channel_req *r)
{
    tun_pipe *p = (tun_pipe *)ch;
    if (p->hooks && p->hooks->request)
        return p->hooks->request(p, r);
    return SSH_REQUEST_FAILURE;
}

static void pipe_request_result(tun_chan *ch, int ok, void *req_user)
{
    tun_pipe *p = (tun_pipe *)ch;
    if (p->hooks && p->hooks->request_result)
        p->hooks->request_result(p, ok, req_user);
}

static void pipe_closed(tun_chan *ch)
{
    tun_pipe *p = (tun_pipe *)ch;
    tun_link_unblock(p->base.link, ch);
    stop_input(p);
    /* What the peer sent before its CLOSE is delivered before the owner
     * learns of the close (and, say, exits or closes the socket): a local
     * reader slower than the channel must not lose the tail. */
    if (output_pending(p)) {
        tun_debug2("channel %u: closed with %zu bytes still to write", ch->id,
                   p->pend[0].len + p->pend[1].len);
        p->closing = 1;
        for (int s = 0; s < 2; s++)
            if (p->pend[s].len > 0 && !p->out_dead[s])
                ev_io_start(p->loop, s ? &p->werr : &p->wout);
        return;
    }
    if (p->hooks && p->hooks->closed)
        p->hooks->closed(p);
}

static int pipe_peer_close(tun_chan *ch)
{
    tun_pipe *p = (tun_pipe *)ch;
    if (p->hooks && p->hooks->peer_close)
        return p->hooks->peer_close(p);
    return 0;
}

const tun_chan_ops tun_pipe_ops = {
    .open_result = pipe_open_result,
    .data = pipe_data,
    .writable = pipe_writable,
    .eof = pipe_eof,
    .closed = pipe_closed,
    .peer_close = pipe_peer_close,
    .request = pipe_request,
    .request_result = pipe_request_result,
    .resume = pipe_resume,
};

static size_t trim_pend(tun_trim *t)
{
    tun_pipe *p = (tun_pipe *)((char *)t - offsetof(tun_pipe, trim));
    size_t n = 0;
    for (int s = 0; s < 2; s++) {
        if (p->pend[s].len == 0 && p->pend[s].cap > 0) {
            n += p->pend[s].cap;
            ssh_buf_free(&p->pend[s]);
        }
    }
    return n;
}

void tun_pipe_init(tun_pipe *p, struct ev_loop *loop, tun_link *link, int in_fd, int out_fd,
                   int err_fd, const tun_pipe_hooks *hooks, void *owner)
{
    memset(p, 0, sizeof(*p));
    p->base.ops = &tun_pipe_ops;
    p->base.link = link;
    p->loop = loop;
    p->hooks = hooks;
    p->owner = owner;
    p->in_fd = in_fd;
    p->out_fd = out_fd;
    p->err_fd = err_fd;
    p->in2_fd = -1;
    /* Bounded by the receive window (at most 64 MiB, the engine's
     * window_max): the peer cannot send more before we consume. */
    ssh_buf_init(&p->pend[0], 64u * 1024 * 1024, 0);
    ssh_buf_init(&p->pend[1], 64u * 1024 * 1024, 0);
    p->trim.fn = trim_pend;
    ev_io_init(&p->rin, on_rin, in_fd, EV_READ);
    ev_io_init(&p->rin2, on_rin, -1, EV_READ);
    ev_io_init(&p->wout, on_wout, out_fd, EV_WRITE);
    ev_io_init(&p->werr, on_wout, err_fd, EV_WRITE);
    p->rin.data = p->rin2.data = p->wout.data = p->werr.data = p;
}

void tun_pipe_set_fds(tun_pipe *p, int in_fd, int out_fd)
{
    p->in_fd = in_fd;
    p->out_fd = out_fd;
    ev_io_set(&p->rin, in_fd, EV_READ);
    ev_io_set(&p->wout, out_fd, EV_WRITE);
}

void tun_pipe_set_input2(tun_pipe *p, int fd)
{
    p->in2_fd = fd;
    ev_io_set(&p->rin2, fd, EV_READ);
}

void tun_pipe_drop_input(tun_pipe *p, int which)
{
    int *fd = which ? &p->in2_fd : &p->in_fd;
    if (*fd < 0)
        return;
    ev_io_stop(p->loop, which ? &p->rin2 : &p->rin);
    /* Closing it makes the writer's next write fail (SIGPIPE/EPIPE). */
    if (*fd != p->out_fd)
        close(*fd);
    else
        shutdown(*fd, SHUT_RD);
    *fd = -1;
    if (which)
        p->in2_eof = 1;
    else
        p->in_eof = 1;
    if (inputs_done(p)) {
        if (p->base.open)
            ssh_channel_eof(conn_of(p), p->base.id);
        if (p->hooks && p->hooks->inputs_done)
            p->hooks->inputs_done(p);
        check_auto_close(p);
    }
}

void tun_pipe_hold_output(tun_pipe *p, int hold)
{
    p->hold = hold;
    if (hold)
        return;
    for (int s = 0; s < 2; s++) {
        if (p->pend[s].len == 0)
            continue;
        if (fd_of(p, s) < 0 || p->out_dead[s]) {
            size_t n = p->pend[s].len;
            ssh_buf_reset(&p->pend[s]);
            if (p->base.open)
                ssh_channel_consumed(conn_of(p), p->base.id, n);
        } else {
            write_pending(p, s);
        }
    }
    maybe_shut(p);
}

void tun_pipe_drain_input(tun_pipe *p, int which)
{
    p->draining[which ? 1 : 0] = 1;
    if (p->reading && p->base.open && !p->base.blocked)
        try_read(p);
}

void tun_pipe_conn_lost(tun_pipe *p, tun_link *nolink)
{
    tun_link_unblock(p->base.link, &p->base);
    p->base.link = nolink;
    p->base.open = 0;
    p->reading = 0;
    pipe_closed(&p->base);
}

void tun_pipe_start_input(tun_pipe *p)
{
    p->reading = 1;
    try_read(p);
}

void tun_pipe_flush_blocking(tun_pipe *p)
{
    for (int s = 0; s < 2; s++) {
        int fd = fd_of(p, s);
        if (fd < 0 || p->out_dead[s] || p->pend[s].len == 0)
            continue;
        int fl = tun_set_nonblock(fd, 0);
        write_pending(p, s);
        if (fl >= 0 && (fl & O_NONBLOCK))
            tun_set_nonblock(fd, 1);
    }
}

size_t tun_pipe_pending(const tun_pipe *p)
{
    return p->pend[0].len + p->pend[1].len;
}

void tun_pipe_free(tun_pipe *p)
{
    tun_trim_disarm(&p->trim);
    ev_io_stop(p->loop, &p->rin);
    ev_io_stop(p->loop, &p->rin2);
    ev_io_stop(p->loop, &p->wout);
    ev_io_stop(p->loop, &p->werr);
    if (p->pend[0].cap + p->pend[1].cap > 0)
        tun_trim_freed(p->loop);
    ssh_buf_free(&p->pend[0]);
    ssh_buf_free(&p->pend[1]);
    if (p->is_socket) {
        if (p->in_fd >= 0)
            close(p->in_fd);
        if (p->out_fd >= 0 && p->out_fd != p->in_fd)
            close(p->out_fd);
    }
    p->in_fd = p->out_fd = p->err_fd = -1;
}
