/*
 * tun_fwd.c - port forwarding (see tun_fwd.h).
 *
 * Life of a forwarded connection (struct fconn), by kind:
 *   -L  accept -> CHANNEL_OPEN direct-tcpip / direct-streamlocal -> pipe
 *   -D  accept -> SOCKS request read from the socket -> CHANNEL_OPEN
 *       direct-tcpip (the name goes unresolved to the server) -> SOCKS
 *       reply -> pipe; a refused open becomes a SOCKS error reply
 *   -R  forwarded-tcpip arrives -> match it to our request -> resolve and
 *       connect locally (every address, Happy Eyeballs) -> confirm -> pipe;
 *       a failed connect becomes OPEN_FAILURE "connect failed" with the
 *       reason text
 *   -R port (dynamic) -> confirm at once -> SOCKS request read from the
 *       channel -> connect locally -> SOCKS reply on the channel -> pipe
 *
 * Accepting stops for a second when the process is out of descriptors
 * (EMFILE/ENFILE): existing connections keep being served, nothing spins.
 *
 * A tunnel that reconnects (Reconnect yes) loses its connection and gets
 * another one; tun_fwd outlives both.  Meanwhile (`down`) the listeners
 * stay open: a connection that arrives waits (FC_WAIT, bounded by
 * wait_limit) without being read - for -D after its SOCKS request - and
 * is opened on the next connection, or closed with a log line (a SOCKS
 * client gets its error reply).  So does a connection whose channel open
 * was still unanswered.  Established ones end: what they received is
 * written out, then their socket is closed.  Remote forwards are asked for
 * again on the new connection; one the server then refuses (typically
 * because it still holds the port for the dead connection) is asked for
 * again from time to time (tun_fwd_retry_remote).
 */
#define _GNU_SOURCE /* accept4 */
#include "tun_fwd.h"
#include "tun_connect.h"
#include "tun_log.h"
#include "tun_match.h"
#include "tun_pipe.h"
#include "tun_sock.h"
#include "tun_socks.h"
#include "tun_transport.h"
#include "tun_tty.h"
#include "tun_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define SOCKS_TIMEOUT    30.0 /* seconds to send a complete SOCKS request */
#define SOCKS_BUF_MAX    1024
#define CONNECT_TIMEOUT  30.0

typedef struct fspec fspec;

typedef struct listener {
    tun_acceptor acc; /* first */
    tun_fwd *f;
    fspec *fs;
    int unix_path; /* unlink at close */
    struct listener *next;
} listener;

/* A configured forward. */
struct fspec {
    tun_reqcb reqcb; /* remote forwards: global request reply */
    tun_fwd *f;
    tun_fwdspec spec;
    int state;       /* 0 pending, 1 active, -1 failed */
    int allocated;   /* port 0: what the server chose */
    int cancelled;   /* -O cancel: never asked for again */
    int wanted;      /* remote: to be requested once the connection is up */
    int retry;       /* remote: refused after a reconnect, asked for again later */
    void (*done)(void *arg, int ok, int port, const char *err);
    void *done_arg;
    fspec *next;
};

enum fc_mode {
    FC_LOCAL = 1,      /* -L: channel opening, then pipe */
    FC_SOCKS,          /* -D: reading the SOCKS request from the socket */
    FC_SOCKS_OPEN,     /* -D: channel opening */
    FC_REMOTE_CONNECT, /* -R: connecting locally, channel open deferred */
    FC_RSOCKS,         /* -R dynamic: SOCKS request arriving as channel data */
    FC_RSOCKS_CONNECT, /* -R dynamic: connecting locally */
    FC_PIPE,           /* established */
    FC_STDIO,          /* -W */
    FC_WAIT,           /* -L/-D: waiting for the connection to come back */
};

typedef struct fconn {
    tun_pipe pipe; /* first: its tun_chan is the channel's ch_user */
    tun_fwd *f;
    fspec *fs;
    enum fc_mode mode;
    int fd;
    uint32_t id;
    int have_channel; /* a channel id exists (opened or being opened) */
    tun_socks socks;
    ssh_buf sbuf;
    ev_io sio;
    ev_timer timer;
    tun_lookup *lookup;
    tun_connector *connector;
    char target[320];
    void (*done)(void *arg, int status); /* -W */
    void (*opened)(void *arg, uint32_t id);
    void *done_arg;
    int own_fds;
    int status; /* -W: passed to `done` (255: the connection was lost) */
    int lost;   /* ended by the loss of the connection: close gently */
    uint64_t wait_start;
    struct fconn *next, *prev;
} fconn;

struct tun_fwd {
    struct ev_loop *loop;
    tun_link *link;
    tun_resolver *res;
    const tun_options *o;
    tun_fwd_hooks hooks;
    void *arg;
    listener *listeners;
    fspec *specs;
    fconn *conns;
    int nconns;
    int pending;
    int failures;
    /* reconnecting */
    tun_link nolink; /* what f->link and the channels' links are while down */
    int down;
    double wait_limit; /* seconds a connection arriving while down waits */
    char down_why[256];
};

static void fconn_free(fconn *fc);
static void start_pipe(fconn *fc);
static void wait_for_connection(fconn *fc);
static const tun_pipe_hooks pipe_hooks;

/* ---- helpers --------------------------------------------------------------------------- */

static ssh_conn *conn_of(tun_fwd *f)
{
    return f->link->c;
}

static const char *open_reason(uint32_t r)
{
    switch (r) {
    case SSH_OPEN_ADMINISTRATIVELY_PROHIBITED: return "administratively prohibited";
    case SSH_OPEN_CONNECT_FAILED: return "connect failed";
    case SSH_OPEN_UNKNOWN_CHANNEL_TYPE: return "unknown channel type";
    case SSH_OPEN_RESOURCE_SHORTAGE: return "resource shortage";
    default: return "unknown reason";
    }
}

static void settle_check(tun_fwd *f)
{
    if (f->pending == 0 && f->hooks.settled)
        f->hooks.settled(f->arg, f->failures);
}

static fconn *fconn_new(tun_fwd *f, fspec *fs, enum fc_mode mode, int fd)
{
    fconn *fc = calloc(1, sizeof(*fc));
    if (fc == NULL)
        return NULL;
    fc->f = f;
    fc->fs = fs;
    fc->mode = mode;
    fc->fd = fd;
    ssh_buf_init(&fc->sbuf, SOCKS_BUF_MAX * 2, 0);
    tun_pipe_init(&fc->pipe, f->loop, f->link, fd, fd, -1, &pipe_hooks, fc);
    fc->pipe.is_socket = fd >= 0;
    fc->pipe.auto_close = 1;
    ev_init(&fc->sio, NULL);
    ev_init(&fc->timer, NULL);
    fc->next = f->conns;
    if (f->conns)
        f->conns->prev = fc;
    f->conns = fc;
    f->nconns++;
    return fc;
}

/* Before closing a socket we stopped reading: read what its client sent
 * (a small bounded amount, discarded) and send our FIN, so that it sees
 * the connection end in order rather than reset (closing with unread
 * bytes makes the kernel send RST). */
static void close_gently(int fd)
{
    char junk[4096];
    for (int i = 0; i < 64; i++) {
        ssize_t r = read(fd, junk, sizeof(junk));
        if (r <= 0)
            break;
    }
    shutdown(fd, SHUT_WR);
}

static void fconn_free(fconn *fc)
{
    tun_fwd *f = fc->f;
    if (fc->lost && fc->fd >= 0 && fc->mode != FC_STDIO)
        close_gently(fc->fd);
    ev_io_stop(f->loop, &fc->sio);
    ev_timer_stop(f->loop, &fc->timer);
    if (fc->lookup)
        tun_resolve_cancel(fc->lookup);
    if (fc->connector)
        tun_connect_cancel(fc->connector);
    tun_link_unblock(f->link, &fc->pipe.base);
    int stdio_in = fc->pipe.in_fd, stdio_out = fc->pipe.out_fd;
    tun_pipe_free(&fc->pipe); /* closes the socket (is_socket) */
    fc->pipe.in_fd = stdio_in;
    fc->pipe.out_fd = stdio_out;
    if (!fc->pipe.is_socket && fc->fd >= 0 && fc->mode != FC_STDIO)
        close(fc->fd);
    if (fc->mode == FC_STDIO && !fc->own_fds) {
        /* descriptors a mux client passed us */
        if (fc->pipe.in_fd >= 0)
            close(fc->pipe.in_fd);
        if (fc->pipe.out_fd >= 0 && fc->pipe.out_fd != fc->pipe.in_fd)
            close(fc->pipe.out_fd);
    }
    ssh_buf_free(&fc->sbuf);
    if (fc->prev)
        fc->prev->next = fc->next;
    else
        f->conns = fc->next;
    if (fc->next)
        fc->next->prev = fc->prev;
    f->nconns--;
    void (*done)(void *, int) = fc->done;
    void *darg = fc->done_arg;
    int status = fc->status;
    free(fc);
    if (done)
        done(darg, status);
    if (f->nconns == 0 && f->hooks.idle)
        f->hooks.idle(f->arg);
}

/* ---- pipe hooks (every established connection) ---------------------------------------- */

static void h_open_result(tun_pipe *p, uint32_t reason, const char *msg)
{
    fconn *fc = p->owner;
    tun_fwd *f = fc->f;
    if (reason != 0) {
        tun_error("channel %u: open failed: %s: %s", p->base.id, open_reason(reason),
                  msg && *msg ? msg : "");
        if (fc->mode == FC_SOCKS_OPEN) {
            ssh_buf r;
            ssh_buf_init(&r, 64, 0);
            tun_socks_reply(&fc->socks, tun_socks_code_for(reason, msg), &r);
            if (write(fc->fd, ssh_buf_ptr(&r), r.len) < 0) {
                /* the client is gone already */
            }
            ssh_buf_free(&r);
        }
        if (fc->mode == FC_STDIO) {
            tun_error("stdio forwarding failed");
            void (*done)(void *, int) = fc->done;
            void *darg = fc->done_arg;
            fc->done = NULL;
            fconn_free(fc);
            if (done)
                done(darg, 255);
            return;
        }
        fconn_free(fc);
        return;
    }
    tun_debug2("channel %u: connected to %s", p->base.id, fc->target);
    if (fc->mode == FC_SOCKS_OPEN) {
        ssh_buf r;
        ssh_buf_init(&r, 64, 0);
        tun_socks_reply(&fc->socks, SOCKS5_OK, &r);
        /* A fresh socket takes 10 bytes without blocking. */
        if (write(fc->fd, ssh_buf_ptr(&r), r.len) != (ssize_t)r.len) {
            ssh_buf_free(&r);
            ssh_channel_close(conn_of(f), p->base.id);
            return;
        }
        ssh_buf_free(&r);
        /* Bytes the client sent after its request go first. */
        if (fc->sbuf.len)
            ssh_channel_send(conn_of(f), p->base.id, 0, ssh_buf_ptr(&fc->sbuf), fc->sbuf.len);
        ssh_buf_reset(&fc->sbuf);
    }
    if (fc->mode != FC_STDIO)
        fc->mode = FC_PIPE;
    else if (fc->opened)
        fc->opened(fc->done_arg, p->base.id);
    tun_pipe_start_input(p);
}

static void h_closed(tun_pipe *p)
{
    fconn *fc = p->owner;
    tun_debug2("channel %u: closed (%s)", p->base.id, fc->target);
    fconn_free(fc);
}

static void h_out_failed(tun_pipe *p, int stream, int err)
{
    (void)stream;
    tun_debug2("channel %u: write to local side failed: %s", p->base.id, strerror(err));
}

static const tun_pipe_hooks pipe_hooks = {
    .open_result = h_open_result,
    .out_failed = h_out_failed,
    .closed = h_closed,
};

static void start_pipe(fconn *fc)
{
    fc->mode = FC_PIPE;
    fc->pipe.base.ops = &tun_pipe_ops;
    tun_pipe_set_fds(&fc->pipe, fc->fd, fc->fd);
    fc->pipe.is_socket = 1;
    tun_pipe_start_input(&fc->pipe);
}

/* ---- -L / -D: accepting ---------------------------------------------------------------- */

static int open_direct(fconn *fc, const char *host, int port, const char *path)
{
    tun_fwd *f = fc->f;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char ohost[64] = "127.0.0.1";
    int oport = 0;
    if (getpeername(fc->fd, (struct sockaddr *)&ss, &sl) == 0)
        tun_sockaddr_desc(&ss, ohost, sizeof(ohost), &oport);
    ssh_channel_open_info info = {0};
    if (path) {
        info.kind = SSH_CHAN_DIRECT_STREAMLOCAL;
        info.path = path;
        snprintf(fc->target, sizeof(fc->target), "%s", path);
    } else {
        info.kind = SSH_CHAN_DIRECT_TCPIP;
        info.host = host;
        info.port = (uint32_t)port;
        info.orig_host = ohost;
        info.orig_port = (uint32_t)oport;
        snprintf(fc->target, sizeof(fc->target), "%s:%d", host, port);
    }
    int rv = ssh_channel_open(conn_of(f), &info, &fc->pipe.base, &fc->id);
    if (rv != 0) {
        tun_error("channel open for %s: %s", fc->target, ssh_strerror(rv));
        return -1;
    }
    fc->pipe.base.id = fc->id;
    fc->have_channel = 1;
    tun_debug("Connection to port forwarding: %s from %s port %d", fc->target, ohost, oport);
    return 0;
}

/* Parse what fc->sbuf holds of a SOCKS request (-D from the socket, -R
 * dynamic from the channel); `reply` gets what to answer. */
static enum tun_socks_state socks_feed(fconn *fc, ssh_buf *reply)
{
    for (;;) {
        size_t used = 0;
        enum tun_socks_state st =
            tun_socks_input(&fc->socks, ssh_buf_ptr(&fc->sbuf), fc->sbuf.len, &used, reply);
        ssh_buf_consume(&fc->sbuf, used);
        if (used == 0 || st == SOCKS_DONE || st == SOCKS_FAILED)
            return st;
    }
}

static void socks_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    fconn *fc = w->data;
    tun_debug("SOCKS client %s: no complete request in time", fc->target);
    fconn_free(fc);
}

/* -D: read and parse the SOCKS request from the client socket. */
static void socks_readable(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    fconn *fc = w->data;
    uint8_t *p;
    if (ssh_buf_reserve(&fc->sbuf, SOCKS_BUF_MAX, &p) != 0) {
        fconn_free(fc);
        return;
    }
    ssize_t r = read(fc->fd, p, SOCKS_BUF_MAX);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (r <= 0) {
        fconn_free(fc);
        return;
    }
    ssh_buf_commit(&fc->sbuf, (size_t)r);
    ssh_buf reply;
    ssh_buf_init(&reply, 64, 0);
    enum tun_socks_state st = socks_feed(fc, &reply);
    if (reply.len && write(fc->fd, ssh_buf_ptr(&reply), reply.len) < 0)
        st = SOCKS_FAILED;
    ssh_buf_free(&reply);
    if (st == SOCKS_FAILED) {
        tun_debug("SOCKS: %s", fc->socks.error ? fc->socks.error : "failed");
        fconn_free(fc);
        return;
    }
    if (fc->sbuf.len >= SOCKS_BUF_MAX) {
        fconn_free(fc);
        return;
    }
    if (st != SOCKS_DONE)
        return;
    ev_io_stop(fc->f->loop, &fc->sio);
    ev_timer_stop(fc->f->loop, &fc->timer);
    tun_debug("SOCKS%d CONNECT %s:%u", fc->socks.version, fc->socks.host, fc->socks.port);
    if (fc->f->down) {
        wait_for_connection(fc);
        return;
    }
    fc->mode = FC_SOCKS_OPEN;
    if (open_direct(fc, fc->socks.host, fc->socks.port, NULL) != 0) {
        ssh_buf r2;
        ssh_buf_init(&r2, 64, 0);
        tun_socks_reply(&fc->socks, SOCKS5_GENERAL_FAILURE, &r2);
        if (write(fc->fd, ssh_buf_ptr(&r2), r2.len) < 0) {
            /* ignore: closing anyway */
        }
        ssh_buf_free(&r2);
        fconn_free(fc);
    }
    tun_link_kick(fc->f->link);
}

/* ---- waiting while the connection is down -------------------------------------------- */

static void socks_fail(fconn *fc, int code)
{
    ssh_buf r;
    ssh_buf_init(&r, 64, 0);
    tun_socks_reply(&fc->socks, code, &r);
    if (write(fc->fd, ssh_buf_ptr(&r), r.len) < 0) {
        /* the client is gone already */
    }
    ssh_buf_free(&r);
}

static void describe_peer(const fconn *fc, char *buf, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    char host[64] = "?";
    int port = 0;
    if (getpeername(fc->fd, (struct sockaddr *)&ss, &sl) == 0)
        tun_sockaddr_desc(&ss, host, sizeof(host), &port);
    snprintf(buf, len, "%s port %d", host, port);
}

static void wait_expired(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    fconn *fc = w->data;
    tun_fwd *f = fc->f;
    char peer[96];
    describe_peer(fc, peer, sizeof(peer));
    tun_info("Closing connection from %s to %s: the tunnel is still down after %.0f s (%s)", peer,
             fc->target, f->wait_limit, f->down_why[0] ? f->down_why : "reconnecting");
    if (fc->fs && fc->fs->spec.dynamic)
        socks_fail(fc, SOCKS5_NET_UNREACHABLE);
    fc->lost = 1;
    fconn_free(fc);
}

/* A connection that needs a channel while there is no connection: it
 * waits, unread, for the next one (tun_fwd_restore) or for wait_limit. */
static void wait_for_connection(fconn *fc)
{
    tun_fwd *f = fc->f;
    const tun_fwdspec *sp = fc->fs ? &fc->fs->spec : NULL;
    if (sp && sp->dynamic)
        snprintf(fc->target, sizeof(fc->target), "%s:%u", fc->socks.host, fc->socks.port);
    else if (sp && sp->connect_path)
        snprintf(fc->target, sizeof(fc->target), "%s", sp->connect_path);
    else if (sp)
        snprintf(fc->target, sizeof(fc->target), "%s:%d", sp->connect_host, sp->connect_port);
    fc->mode = FC_WAIT;
    fc->have_channel = 0;
    fc->wait_start = tun_now_ms();
    ev_timer_stop(f->loop, &fc->timer);
    ev_timer_init(&fc->timer, wait_expired, f->wait_limit > 0 ? f->wait_limit : 10., 0.);
    fc->timer.data = fc;
    ev_timer_start(f->loop, &fc->timer);
    tun_debug("connection to %s waits for the tunnel to come back", fc->target);
}

/* The connection is back: open the channel a waiting connection needs. */
static void resume_waiting(fconn *fc)
{
    tun_fwd *f = fc->f;
    const tun_fwdspec *sp = &fc->fs->spec;
    ev_timer_stop(f->loop, &fc->timer);
    fc->pipe.base.link = f->link;
    tun_debug("connection to %s resumes after %llu ms", fc->target,
              (unsigned long long)(tun_now_ms() - fc->wait_start));
    if (sp->dynamic) {
        fc->mode = FC_SOCKS_OPEN;
        if (open_direct(fc, fc->socks.host, fc->socks.port, NULL) != 0) {
            socks_fail(fc, SOCKS5_GENERAL_FAILURE);
            fconn_free(fc);
        }
        return;
    }
    fc->mode = FC_LOCAL;
    if (open_direct(fc, sp->connect_host, sp->connect_port, sp->connect_path) != 0)
        fconn_free(fc);
}

static void on_accept(tun_acceptor *a, int fd, const struct sockaddr_storage *peer,
                      socklen_t peerlen)
{
    (void)peer;
    (void)peerlen;
    listener *l = (listener *)a;
    tun_fwd *f = l->f;
    const tun_fwdspec *sp = &l->fs->spec;
    fconn *fc = fconn_new(f, l->fs, sp->dynamic ? FC_SOCKS : FC_LOCAL, fd);
    if (fc == NULL) {
        close(fd);
        return;
    }
    if (sp->dynamic) {
        tun_socks_init(&fc->socks);
        snprintf(fc->target, sizeof(fc->target), "socks client fd %d", fd);
        ev_io_init(&fc->sio, socks_readable, fd, EV_READ);
        fc->sio.data = fc;
        ev_io_start(f->loop, &fc->sio);
        ev_timer_init(&fc->timer, socks_timeout, SOCKS_TIMEOUT, 0.);
        fc->timer.data = fc;
        ev_timer_start(f->loop, &fc->timer);
    } else if (f->down) {
        wait_for_connection(fc);
    } else if (open_direct(fc, sp->connect_host, sp->connect_port, sp->connect_path) != 0) {
        fconn_free(fc);
    }
    tun_link_kick(f->link);
}

static void add_listener(tun_fwd *f, fspec *fs, int fd, int unix_path)
{
    listener *l = calloc(1, sizeof(*l));
    if (l == NULL) {
        close(fd);
        return;
    }
    l->f = f;
    l->fs = fs;
    l->unix_path = unix_path;
    tun_acceptor_start(&l->acc, f->loop, fd, on_accept, l);
    l->next = f->listeners;
    f->listeners = l;
}

static int bind_tcp(tun_fwd *f, fspec *fs, int family, const void *addr, int port,
                    char *err, size_t errsz)
{
    int fd = tun_listen_tcp(family, addr, port, err, errsz);
    if (fd < 0)
        return fd;
    char host[64];
    inet_ntop(family, addr, host, sizeof(host));
    tun_debug("Local forwarding listening on %s port %d.", host, port);
    add_listener(f, fs, fd, 0);
    return 0;
}

static int bind_unix(tun_fwd *f, fspec *fs, const char *path, char *err, size_t errsz)
{
    /* 0600 like OpenSSH's default StreamLocalBindMask 0177. */
    int fd = tun_listen_unix(path, 0177, err, errsz);
    if (fd < 0)
        return -1;
    add_listener(f, fs, fd, 1);
    return 0;
}

static void listener_close(listener *l)
{
    tun_acceptor_close(&l->acc);
    if (l->unix_path && l->fs->spec.listen_path)
        unlink(l->fs->spec.listen_path);
}

static void close_listeners_of(tun_fwd *f, fspec *fs)
{
    for (listener **pp = &f->listeners; *pp;) {
        listener *l = *pp;
        if (l->fs == fs) {
            *pp = l->next;
            listener_close(l);
            free(l);
        } else {
            pp = &l->next;
        }
    }
}

/* Bind a local (-L, -D) forward on every address its bind host names.
 * Loopback and wildcard mean both IPv4 and IPv6 where both exist; an
 * address family the host lacks is skipped, but a port already taken on
 * any of the addresses fails the forward (OpenSSH would keep the half
 * that bound, silently sending some clients elsewhere). */
static int bind_local(tun_fwd *f, fspec *fs)
{
    const tun_fwdspec *sp = &fs->spec;
    char err[512] = "", err2[512] = "";
    if (sp->listen_path) {
        if (bind_unix(f, fs, sp->listen_path, err, sizeof(err)) == 0)
            return 0;
        tun_error("%s", err);
        return -1;
    }
    const char *h = sp->listen_host;
    int wildcard = (h == NULL && f->o->gateway_ports) || (h && (*h == '\0' || strcmp(h, "*") == 0));
    int loopback = !wildcard && (h == NULL || strcmp(h, "localhost") == 0);
    uint8_t a4[4], a6[16];
    int r1 = -2, r2 = -2;
    if (wildcard || loopback) {
        inet_pton(AF_INET, wildcard ? "0.0.0.0" : "127.0.0.1", a4);
        inet_pton(AF_INET6, wildcard ? "::" : "::1", a6);
        r1 = bind_tcp(f, fs, AF_INET, a4, sp->listen_port, err, sizeof(err));
        r2 = bind_tcp(f, fs, AF_INET6, a6, sp->listen_port, err2, sizeof(err2));
    } else if (inet_pton(AF_INET, h, a4) == 1) {
        r1 = bind_tcp(f, fs, AF_INET, a4, sp->listen_port, err, sizeof(err));
    } else if (inet_pton(AF_INET6, h, a6) == 1) {
        r1 = bind_tcp(f, fs, AF_INET6, a6, sp->listen_port, err, sizeof(err));
    } else {
        snprintf(err, sizeof(err), "bind address %s: only numeric addresses, localhost, '*' "
                 "or an empty address are supported", h);
        r1 = -1;
    }
    if (r1 != -1 && r2 != -1 && (r1 == 0 || r2 == 0)) {
        if (err[0] || err2[0])
            tun_debug("%s", err[0] ? err : err2);
        return 0;
    }
    if (r1 != 0 && err[0])
        tun_error("%s", err);
    if (r2 != 0 && err2[0] && r2 == -1)
        tun_error("%s", err2);
    close_listeners_of(f, fs);
    return -1;
}

/* ---- -R: requests and incoming channels --------------------------------------------------- */

static const char *rfwd_bind_host(const tun_fwdspec *sp)
{
    /* OpenSSH: no address means the server's loopback ("localhost"); an
     * empty one or "*" means every interface (if the server allows). */
    if (sp->listen_host == NULL)
        return "localhost";
    if (strcmp(sp->listen_host, "*") == 0)
        return "";
    return sp->listen_host;
}

static void rfwd_reply(tun_reqcb *r, int ok, const uint8_t *data, size_t len)
{
    fspec *fs = (fspec *)r;
    tun_fwd *f = fs->f;
    char conn[320];
    tun_fwdspec_describe_connect(&fs->spec, conn, sizeof(conn));
    f->pending--;
    if (!ok) {
        fs->state = -1;
        f->failures++;
        if (fs->done)
            fs->done(fs->done_arg, 0, 0, "remote port forwarding failed");
        fs->done = NULL;
        if (fs->spec.listen_path)
            tun_error("Warning: remote port forwarding failed for listen path %s",
                      fs->spec.listen_path);
        else
            tun_error("Warning: remote port forwarding failed for listen port %d",
                      fs->spec.listen_port);
    } else {
        fs->state = 1;
        fs->retry = 0;
        if (fs->spec.listen_port == 0 && len >= 4) {
            fs->allocated = (int)ssh_peek_u32(data);
            tun_info("Allocated port %d for remote forward to %s", fs->allocated, conn);
        }
        tun_debug("remote forward success for: listen %d, connect %s", fs->spec.listen_port, conn);
        if (fs->done)
            fs->done(fs->done_arg, 1, fs->allocated, NULL);
        fs->done = NULL;
    }
    settle_check(f);
}

static fspec *match_remote(tun_fwd *f, const ssh_channel_open_info *info)
{
    for (fspec *fs = f->specs; fs; fs = fs->next) {
        if (fs->spec.kind != TUN_FWD_REMOTE || fs->state != 1)
            continue;
        if (info->kind == SSH_CHAN_FORWARDED_STREAMLOCAL) {
            if (fs->spec.listen_path && info->path && strcmp(fs->spec.listen_path, info->path) == 0)
                return fs;
            continue;
        }
        if (fs->spec.listen_path)
            continue;
        int port = fs->spec.listen_port ? fs->spec.listen_port : fs->allocated;
        if ((int)info->port == port)
            return fs;
    }
    return NULL;
}

static void local_connected(void *arg, int fd, const tun_addr *addr, const char *err)
{
    (void)addr;
    fconn *fc = arg;
    tun_fwd *f = fc->f;
    fc->connector = NULL;
    if (fd < 0) {
        tun_debug("connect_to %s: failed: %s", fc->target, err);
        if (fc->mode == FC_REMOTE_CONNECT) {
            ssh_channel_open_fail(conn_of(f), fc->id, SSH_OPEN_CONNECT_FAILED, err);
            tun_link_kick(f->link);
            fconn_free(fc);
        } else { /* FC_RSOCKS_CONNECT: answer the SOCKS client, then close */
            ssh_buf r;
            ssh_buf_init(&r, 64, 0);
            tun_socks_reply(&fc->socks,
                            strstr(err, "refused") ? SOCKS5_CONN_REFUSED : SOCKS5_HOST_UNREACHABLE, &r);
            ssh_channel_send(conn_of(f), fc->id, 0, ssh_buf_ptr(&r), r.len);
            ssh_buf_free(&r);
            ssh_channel_close(conn_of(f), fc->id);
            tun_link_kick(f->link);
        }
        return;
    }
    fc->fd = fd;
    if (fc->mode == FC_REMOTE_CONNECT) {
        tun_pipe_set_fds(&fc->pipe, fd, fd);
        fc->pipe.is_socket = 1;
        if (ssh_channel_open_confirm(conn_of(f), fc->id, &fc->pipe.base) != 0) {
            fconn_free(fc);
            return;
        }
        fc->pipe.base.open = 1;
        fc->mode = FC_PIPE;
        tun_pipe_start_input(&fc->pipe);
    } else {
        ssh_buf r;
        ssh_buf_init(&r, 64, 0);
        tun_socks_reply(&fc->socks, SOCKS5_OK, &r);
        ssh_channel_send(conn_of(f), fc->id, 0, ssh_buf_ptr(&r), r.len);
        ssh_buf_free(&r);
        /* Whatever followed the request goes to the new socket. */
        if (fc->sbuf.len && write(fd, ssh_buf_ptr(&fc->sbuf), fc->sbuf.len) < 0) {
            /* the pipe will notice the broken socket */
        }
        ssh_buf_reset(&fc->sbuf);
        start_pipe(fc);
    }
    tun_link_kick(f->link);
}

static void local_resolved(void *arg, const tun_addr *addrs, size_t n, const char *err)
{
    fconn *fc = arg;
    fc->lookup = NULL;
    if (n == 0) {
        local_connected(fc, -1, NULL, err);
        return;
    }
    fc->connector = tun_connect_start(fc->f->loop, addrs, n, CONNECT_TIMEOUT, local_connected, fc);
    if (fc->connector == NULL)
        local_connected(fc, -1, NULL, "out of memory");
}

/* Connect to host:port or a Unix path on our side, then local_connected. */
static void connect_local(fconn *fc, const char *host, int port, const char *path)
{
    if (path) {
        snprintf(fc->target, sizeof(fc->target), "%s", path);
        int fd = tun_connect_unix(path);
        local_connected(fc, fd, NULL, fd < 0 ? strerror(errno) : NULL);
        return;
    }
    snprintf(fc->target, sizeof(fc->target), "%s port %d", host, port);
    fc->lookup = tun_resolve(fc->f->res, host, (unsigned)port, AF_UNSPEC, local_resolved, fc);
    if (fc->lookup == NULL)
        local_connected(fc, -1, NULL, "out of memory");
}

/* PermitRemoteOpen: which destinations a dynamic -R may reach. */
static int remote_open_allowed(tun_fwd *f, const char *host, int port)
{
    const char *pro = f->o->permit_remote_open;
    if (pro == NULL || strcmp(pro, "any") == 0)
        return 1;
    if (strcmp(pro, "none") == 0)
        return 0;
    char list[2048], *save = NULL;
    snprintf(list, sizeof(list), "%s", pro);
    for (char *t = strtok_r(list, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
        char *colon = strrchr(t, ':');
        if (colon == NULL)
            continue;
        *colon = '\0';
        const char *h = t;
        size_t hl = strlen(h);
        char hb[512];
        if (h[0] == '[' && hl > 1 && h[hl - 1] == ']') {
            snprintf(hb, sizeof(hb), "%.*s", (int)(hl - 2), h + 1);
            h = hb;
        }
        int portok = strcmp(colon + 1, "*") == 0 || atoi(colon + 1) == port;
        if (portok && tun_match_pattern(host, h))
            return 1;
    }
    return 0;
}

/* Dynamic -R: SOCKS request bytes arrive as channel data. */
static void rsocks_data(tun_chan *ch, int stream, const uint8_t *d, size_t n)
{
    fconn *fc = (fconn *)ch;
    tun_fwd *f = fc->f;
    ssh_channel_consumed(conn_of(f), ch->id, n);
    if (stream != 0 || fc->mode != FC_RSOCKS) {
        if (fc->mode == FC_RSOCKS_CONNECT && ssh_buf_put(&fc->sbuf, d, n) != 0)
            ssh_channel_close(conn_of(f), ch->id);
        return;
    }
    if (ssh_buf_put(&fc->sbuf, d, n) != 0) {
        ssh_channel_close(conn_of(f), ch->id);
        return;
    }
    ssh_buf reply;
    ssh_buf_init(&reply, 64, 0);
    enum tun_socks_state st = socks_feed(fc, &reply);
    if (reply.len)
        ssh_channel_send(conn_of(f), ch->id, 0, ssh_buf_ptr(&reply), reply.len);
    ssh_buf_free(&reply);
    if (st == SOCKS_FAILED) {
        tun_debug("dynamic remote forward: %s", fc->socks.error);
        ssh_channel_close(conn_of(f), ch->id);
        return;
    }
    if (st != SOCKS_DONE)
        return;
    if (!remote_open_allowed(f, fc->socks.host, fc->socks.port)) {
        tun_error("Rejected connection to %s:%u: not permitted by PermitRemoteOpen",
                  fc->socks.host, fc->socks.port);
        ssh_buf r;
        ssh_buf_init(&r, 64, 0);
        tun_socks_reply(&fc->socks, SOCKS5_NOT_ALLOWED, &r);
        ssh_channel_send(conn_of(f), ch->id, 0, ssh_buf_ptr(&r), r.len);
        ssh_buf_free(&r);
        ssh_channel_close(conn_of(f), ch->id);
        return;
    }
    fc->mode = FC_RSOCKS_CONNECT;
    connect_local(fc, fc->socks.host, fc->socks.port, NULL);
}

static void rsocks_closed(tun_chan *ch)
{
    fconn_free((fconn *)ch);
}

static void rsocks_eof(tun_chan *ch)
{
    fconn *fc = (fconn *)ch;
    if (fc->mode == FC_RSOCKS)
        ssh_channel_close(conn_of(fc->f), ch->id);
}

static const tun_chan_ops rsocks_ops = {
    .data = rsocks_data,
    .eof = rsocks_eof,
    .closed = rsocks_closed,
};

int tun_fwd_channel_open(tun_fwd *f, uint32_t id, const ssh_channel_open_info *info,
                         const char **why)
{
    fspec *fs = match_remote(f, info);
    if (fs == NULL) {
        tun_error("Received request to connect to %s:%u, but the request was denied.",
                  info->host ? info->host : (info->path ? info->path : "?"), info->port);
        *why = "no such forward";
        return -SSH_OPEN_ADMINISTRATIVELY_PROHIBITED;
    }
    const tun_fwdspec *sp = &fs->spec;
    if (sp->dynamic) {
        fconn *fc = fconn_new(f, fs, FC_RSOCKS, -1);
        if (fc == NULL) {
            *why = "out of memory";
            return -SSH_OPEN_RESOURCE_SHORTAGE;
        }
        fc->id = id;
        fc->pipe.base.id = id;
        fc->pipe.base.open = 1;
        fc->pipe.base.ops = &rsocks_ops;
        fc->have_channel = 1;
        tun_socks_init(&fc->socks);
        snprintf(fc->target, sizeof(fc->target), "dynamic remote forward");
        ssh_channel_set_user(conn_of(f), id, &fc->pipe.base);
        return 0;
    }
    fconn *fc = fconn_new(f, fs, FC_REMOTE_CONNECT, -1);
    if (fc == NULL) {
        *why = "out of memory";
        return -SSH_OPEN_RESOURCE_SHORTAGE;
    }
    fc->id = id;
    fc->pipe.base.id = id;
    fc->have_channel = 1;
    ssh_channel_set_user(conn_of(f), id, &fc->pipe.base);
    tun_debug("client_request_forwarded_tcpip: listen %s port %u, originator %s port %u",
              info->host ? info->host : "", info->port, info->orig_host ? info->orig_host : "",
              info->orig_port);
    connect_local(fc, sp->connect_host, sp->connect_port, sp->connect_path);
    /* The answer comes when the local connect finishes (it may already
     * have: a Unix socket path connects at once). */
    return SSH_DEFERRED;
}

/* ---- -W -------------------------------------------------------------------------------------- */

int tun_fwd_stdio(tun_fwd *f, const char *host, int port, int in_fd, int out_fd, int own_fds,
                  void (*opened)(void *arg, uint32_t id), void (*done)(void *arg, int status),
                  void *arg)
{
    if (f->down)
        return -1;
    fconn *fc = fconn_new(f, NULL, FC_STDIO, -1);
    if (fc == NULL)
        return -1;
    tun_pipe_set_fds(&fc->pipe, in_fd, out_fd);
    fc->pipe.is_socket = 0;
    fc->pipe.auto_close = 1;
    fc->own_fds = own_fds;
    fc->done = done;
    fc->opened = opened;
    fc->done_arg = arg;
    /* Never a blocking read or write in the loop (a terminal included);
     * our own stdio gets its flags back from tun_tty at exit. */
    if (own_fds) {
        tun_tty_nonblock(in_fd);
        tun_tty_nonblock(out_fd);
    } else {
        tun_set_nonblock(in_fd, 1);
        tun_set_nonblock(out_fd, 1);
    }
    snprintf(fc->target, sizeof(fc->target), "%s:%d", host, port);
    ssh_channel_open_info info = {.kind = SSH_CHAN_DIRECT_TCPIP, .host = host,
                                  .port = (uint32_t)port, .orig_host = "127.0.0.1",
                                  .orig_port = 65535};
    int rv = ssh_channel_open(conn_of(f), &info, &fc->pipe.base, &fc->id);
    if (rv != 0) {
        fc->done = NULL;
        fconn_free(fc);
        return -1;
    }
    fc->pipe.base.id = fc->id;
    fc->have_channel = 1;
    return 0;
}

/* ---- setup ----------------------------------------------------------------------------------- */

tun_fwd *tun_fwd_new(struct ev_loop *loop, tun_link *link, tun_resolver *res,
                     const tun_options *o, const tun_fwd_hooks *hooks, void *arg)
{
    tun_fwd *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return NULL;
    f->loop = loop;
    f->link = link;
    f->res = res;
    f->o = o;
    if (hooks)
        f->hooks = *hooks;
    f->arg = arg;
    f->wait_limit = 10.;
    return f;
}

static int spec_copy(tun_fwdspec *d, const tun_fwdspec *s)
{
    *d = *s;
    d->listen_host = s->listen_host ? strdup(s->listen_host) : NULL;
    d->listen_path = s->listen_path ? strdup(s->listen_path) : NULL;
    d->connect_host = s->connect_host ? strdup(s->connect_host) : NULL;
    d->connect_path = s->connect_path ? strdup(s->connect_path) : NULL;
    return 0;
}

static int spec_same_listen(const tun_fwdspec *a, const tun_fwdspec *b);

/* Send the global request for a remote forward; the reply comes to
 * rfwd_reply. */
static int request_remote(tun_fwd *f, fspec *fs)
{
    const tun_fwdspec *spec = &fs->spec;
    char l[320];
    tun_fwdspec_describe_listen(spec, l, sizeof(l));
    fs->wanted = 0;
    fs->state = 0;
    int rv = spec->listen_path
                 ? ssh_global_streamlocal_forward(conn_of(f), 0, spec->listen_path, &fs->reqcb)
                 : ssh_global_tcpip_forward(conn_of(f), 0, rfwd_bind_host(spec),
                                            (uint32_t)spec->listen_port, &fs->reqcb);
    if (rv != 0) {
        fs->state = -1;
        f->failures++;
        tun_error("remote forward %s: %s", l, ssh_strerror(rv));
        if (fs->done)
            fs->done(fs->done_arg, 0, 0, ssh_strerror(rv));
        fs->done = NULL;
        return -1;
    }
    f->pending++;
    tun_debug("Remote connections from %s forwarded to local address", l);
    return 0;
}

int tun_fwd_add(tun_fwd *f, const tun_fwdspec *spec)
{
    return tun_fwd_add_cb(f, spec, NULL, NULL);
}

int tun_fwd_add_cb(tun_fwd *f, const tun_fwdspec *spec,
                   void (*done)(void *arg, int ok, int port, const char *err), void *arg)
{
    /* Asking again for a forward that is up is not an error (mux clients
     * re-send their -L/-R on every invocation). */
    for (fspec *e = f->specs; e; e = e->next) {
        if (e->state == 1 && spec_same_listen(&e->spec, spec) && !e->spec.dynamic == !spec->dynamic &&
            ((e->spec.connect_host && spec->connect_host &&
              strcmp(e->spec.connect_host, spec->connect_host) == 0 &&
              e->spec.connect_port == spec->connect_port) ||
             (e->spec.connect_path && spec->connect_path &&
              strcmp(e->spec.connect_path, spec->connect_path) == 0) ||
             (e->spec.dynamic && spec->dynamic))) {
            if (done)
                done(arg, 1, e->allocated, NULL);
            return 0;
        }
    }
    fspec *fs = calloc(1, sizeof(*fs));
    if (fs == NULL)
        return -1;
    fs->f = f;
    fs->reqcb.fn = rfwd_reply;
    fs->done = done;
    fs->done_arg = arg;
    spec_copy(&fs->spec, spec);
    fs->next = f->specs;
    f->specs = fs;
    if (spec->kind == TUN_FWD_REMOTE) {
        if (f->down) {
            /* asked for as soon as the connection is back */
            fs->wanted = 1;
            return 0;
        }
        return request_remote(f, fs);
    }
    if (bind_local(f, fs) != 0) {
        fs->state = -1;
        f->failures++;
        tun_error("Could not request local forwarding.");
        if (fs->done)
            fs->done(fs->done_arg, 0, 0, "could not bind the local port");
        fs->done = NULL;
        return -1;
    }
    fs->state = 1;
    if (fs->done)
        fs->done(fs->done_arg, 1, 0, NULL);
    fs->done = NULL;
    return 0;
}

void tun_fwd_forget(tun_fwd *f, void *arg)
{
    for (fspec *fs = f->specs; fs; fs = fs->next)
        if (fs->done_arg == arg)
            fs->done = NULL;
}

void tun_fwd_describe(const tun_fwd *f, char *buf, size_t len)
{
    size_t o = 0;
    buf[0] = '\0';
    for (const fspec *fs = f->specs; fs && o < len; fs = fs->next) {
        if (fs->spec.kind == TUN_FWD_REMOTE && !fs->cancelled && (fs->wanted || fs->retry)) {
            char l[320], c[320];
            tun_fwdspec_describe_listen(&fs->spec, l, sizeof(l));
            tun_fwdspec_describe_connect(&fs->spec, c, sizeof(c));
            int n = snprintf(buf + o, len - o, "  -R %s -> %s, not set up: %s\n", l, c,
                             fs->wanted ? "waiting for the connection"
                                        : "refused by the server, asking again");
            if (n < 0)
                break;
            o += (size_t)n;
            continue;
        }
        if (fs->state != 1)
            continue;
        char l[320], c[320];
        tun_fwdspec_describe_listen(&fs->spec, l, sizeof(l));
        tun_fwdspec_describe_connect(&fs->spec, c, sizeof(c));
        int conns = 0;
        for (const fconn *fc = f->conns; fc; fc = fc->next)
            if (fc->fs == fs)
                conns++;
        char alloc[40] = "";
        if (fs->spec.kind == TUN_FWD_REMOTE && fs->allocated)
            snprintf(alloc, sizeof(alloc), " (allocated port %d)", fs->allocated);
        int n = snprintf(buf + o, len - o, "  -%c %s%s -> %s, %d connection%s\n",
                         (char)fs->spec.kind, l, alloc, c, conns, conns == 1 ? "" : "s");
        if (n < 0)
            break;
        o += (size_t)n;
    }
}

static int spec_same_listen(const tun_fwdspec *a, const tun_fwdspec *b)
{
    if (a->kind != b->kind)
        return 0;
    if (a->listen_path || b->listen_path)
        return a->listen_path && b->listen_path && strcmp(a->listen_path, b->listen_path) == 0;
    if (a->listen_port != b->listen_port)
        return 0;
    const char *ha = a->listen_host ? a->listen_host : "";
    const char *hb = b->listen_host ? b->listen_host : "";
    return b->listen_host == NULL || strcmp(ha, hb) == 0;
}

int tun_fwd_cancel(tun_fwd *f, const tun_fwdspec *spec)
{
    int found = 0;
    for (fspec *fs = f->specs; fs; fs = fs->next) {
        if (!fs->cancelled && (fs->wanted || fs->retry) && spec_same_listen(&fs->spec, spec)) {
            /* never set up on this connection: nothing to tell the server */
            found = 1;
            fs->wanted = fs->retry = 0;
            fs->cancelled = 1;
            fs->state = -1;
            continue;
        }
        if (fs->state != 1 || !spec_same_listen(&fs->spec, spec))
            continue;
        found = 1;
        fs->state = -1;
        fs->cancelled = 1;
        if (fs->spec.kind == TUN_FWD_REMOTE) {
            if (f->down)
                continue; /* the server forgot it with the connection */
            if (fs->spec.listen_path)
                ssh_global_streamlocal_forward(conn_of(f), 1, fs->spec.listen_path, NULL);
            else
                ssh_global_tcpip_forward(conn_of(f), 1, rfwd_bind_host(&fs->spec),
                                         (uint32_t)(fs->spec.listen_port ? fs->spec.listen_port
                                                                         : fs->allocated),
                                         NULL);
            continue;
        }
        close_listeners_of(f, fs);
    }
    tun_link_kick(f->link);
    return found ? 0 : -1;
}

/* ---- reconnecting -------------------------------------------------------------------- */

void tun_fwd_set_wait_limit(tun_fwd *f, double secs)
{
    f->wait_limit = secs > 0 ? secs : 10.;
}

int tun_fwd_is_down(const tun_fwd *f)
{
    return f->down;
}

void tun_fwd_conn_lost(tun_fwd *f, const char *why)
{
    tun_link *old = f->link;
    snprintf(f->down_why, sizeof(f->down_why), "%s", why ? why : "");
    if (f->down)
        return;
    f->down = 1;
    f->link = &f->nolink;
    memset(&f->nolink, 0, sizeof(f->nolink));
    /* Replies to requests on the dead connection never come. */
    f->pending = 0;
    for (fspec *fs = f->specs; fs; fs = fs->next) {
        if (fs->spec.kind != TUN_FWD_REMOTE || fs->cancelled)
            continue;
        /* Everything not cancelled is asked for again: what was up, what
         * was on its way, what the server refused before (maybe because of
         * what just ended). */
        fs->wanted = 1;
        fs->retry = 0;
        fs->state = 0;
    }
    int ended = 0, requeued = 0;
    fconn *next;
    for (fconn *fc = f->conns; fc; fc = next) {
        next = fc->next;
        switch (fc->mode) {
        case FC_LOCAL:
        case FC_SOCKS_OPEN:
            /* Its open was never answered: nothing was sent or received,
             * so it can simply wait for the next connection. */
            tun_link_unblock(old, &fc->pipe.base);
            fc->pipe.base.link = &f->nolink;
            fc->pipe.base.open = 0;
            fc->pipe.base.id = 0;
            wait_for_connection(fc);
            requeued++;
            break;
        case FC_SOCKS:
        case FC_WAIT:
            fc->pipe.base.link = &f->nolink; /* no channel yet */
            break;
        case FC_PIPE:
        case FC_STDIO:
            /* Established: deliver what arrived, then close the socket
             * (its peer sees the connection end, as when the far side
             * closes).  -W ends with status 255. */
            fc->status = 255;
            fc->lost = 1;
            ended++;
            tun_pipe_conn_lost(&fc->pipe, &f->nolink); /* may free fc */
            break;
        case FC_REMOTE_CONNECT:
        case FC_RSOCKS:
        case FC_RSOCKS_CONNECT:
            /* A channel the server opened on the dead connection. */
            tun_link_unblock(old, &fc->pipe.base);
            fc->pipe.base.link = &f->nolink;
            fc->pipe.base.open = 0;
            ended++;
            fconn_free(fc);
            break;
        }
    }
    if (ended || requeued)
        tun_verbose("connection lost: %d forwarded connection%s ended, %d wait%s for the next "
                    "connection",
                    ended, ended == 1 ? "" : "s", requeued, requeued == 1 ? "" : "s");
}

int tun_fwd_restore(tun_fwd *f, tun_link *link)
{
    f->link = link;
    f->down = 0;
    f->down_why[0] = '\0';
    f->failures = 0;
    int requested = 0;
    for (fspec *fs = f->specs; fs; fs = fs->next) {
        if (fs->spec.kind == TUN_FWD_REMOTE && fs->wanted && !fs->cancelled) {
            fs->retry = 1; /* a refusal now is worth asking again later */
            if (request_remote(f, fs) == 0)
                requested++;
        }
    }
    fconn *next;
    for (fconn *fc = f->conns; fc; fc = next) {
        next = fc->next;
        if (fc->mode == FC_WAIT)
            resume_waiting(fc); /* may free fc */
        else if (fc->mode == FC_SOCKS)
            fc->pipe.base.link = link;
    }
    tun_link_kick(link);
    return requested;
}

int tun_fwd_retry_remote(tun_fwd *f)
{
    if (f->down)
        return 0;
    int requested = 0;
    for (fspec *fs = f->specs; fs; fs = fs->next) {
        if (fs->spec.kind != TUN_FWD_REMOTE || !fs->retry || fs->cancelled || fs->state != -1)
            continue;
        if (request_remote(f, fs) == 0)
            requested++;
    }
    tun_link_kick(f->link);
    return requested;
}

void tun_fwd_counts(const tun_fwd *f, int *local, int *remote_up, int *remote_missing)
{
    *local = *remote_up = *remote_missing = 0;
    for (const fspec *fs = f->specs; fs; fs = fs->next) {
        if (fs->cancelled)
            continue;
        if (fs->spec.kind != TUN_FWD_REMOTE) {
            if (fs->state == 1)
                (*local)++;
        } else if (fs->state == 1) {
            (*remote_up)++;
        } else if (fs->wanted || fs->retry) {
            (*remote_missing)++;
        }
    }
}

size_t tun_fwd_list_conns(const tun_fwd *f, char *buf, size_t len)
{
    static const char *const modes[] = {
        [FC_LOCAL] = "direct-tcpip (opening)",
        [FC_SOCKS] = "dynamic (SOCKS request)",
        [FC_SOCKS_OPEN] = "dynamic (opening)",
        [FC_REMOTE_CONNECT] = "forwarded (connecting)",
        [FC_RSOCKS] = "forwarded dynamic (SOCKS request)",
        [FC_RSOCKS_CONNECT] = "forwarded dynamic (connecting)",
        [FC_PIPE] = "forwarded",
        [FC_STDIO] = "stdio",
    };
    size_t o = 0;
    for (const fconn *fc = f->conns; fc && o < len; fc = fc->next) {
        int n =
            snprintf(buf + o, len - o, "  #%u %s %s (in %llu, out %llu bytes)\r\n",
                     fc->pipe.base.id, modes[fc->mode], fc->target,
                     (unsigned long long)fc->pipe.bytes_in, (unsigned long long)fc->pipe.bytes_out);
        if (n < 0 || (size_t)n >= len - o)
            break;
        o += (size_t)n;
    }
    return o;
}

void tun_fwd_stop_listening(tun_fwd *f)
{
    while (f->listeners) {
        listener *l = f->listeners;
        f->listeners = l->next;
        listener_close(l);
        free(l);
    }
}

int tun_fwd_active(const tun_fwd *f)
{
    return f->nconns;
}

int tun_fwd_pending(const tun_fwd *f)
{
    return f->pending;
}

void tun_fwd_free(tun_fwd *f)
{
    if (f == NULL)
        return;
    f->hooks.idle = NULL;
    while (f->listeners) {
        listener *l = f->listeners;
        f->listeners = l->next;
        listener_close(l);
        free(l);
    }
    while (f->conns) {
        fconn *fc = f->conns;
        fc->done = NULL;
        fconn_free(fc);
    }
    while (f->specs) {
        fspec *fs = f->specs;
        f->specs = fs->next;
        tun_fwdspec_free(&fs->spec);
        free(fs);
    }
    free(f);
}
