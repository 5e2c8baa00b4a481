/*
 * tun_srvfwd.c - sshtund's port forwarding (see tun_srv.h).
 *
 *   direct-tcpip          resolve the target with c-ares, try every address
 *                         (Happy Eyeballs, bounded by CONNECT_TIMEOUT), then
 *                         confirm the channel; a failure is CONNECT_FAILED
 *                         with the system's reason ("Connection refused",
 *                         "Name or service not known", "Connection timed
 *                         out").
 *   direct-streamlocal    connect to the Unix socket as the user (through
 *                         the privileged side when running as root).
 *   tcpip-forward         listen (GatewayPorts decides where; port 0 gets a
 *                         port from the kernel, the same one on IPv4 and
 *                         IPv6), open forwarded-tcpip per accepted socket.
 *   streamlocal-forward   listen on a Unix socket as the user.
 *
 * Every forwarded connection is a tun_pipe between its socket and the
 * channel, so flow control is the pipe's in both directions.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "tun_srv.h"
#include "tun_connect.h"
#include "tun_log.h"
#include "tun_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CONNECT_TIMEOUT 30.0
#define MAX_LISTENERS   256 /* remote forwards per connection */

typedef struct fwdconn {
    tun_srvchan ch; /* first */
    tun_lookup *lookup;
    tun_connector *connector;
    char target[320];
} fwdconn;

struct tun_rlisten {
    tun_srvconn *sc;
    char addr[256];  /* as the client asked (sent back in forwarded-tcpip) */
    int port;        /* as asked (0: allocate) */
    int bound_port;
    char path[256];  /* streamlocal */
    int is_unix;
    int pending;     /* streamlocal: waiting for the privileged side */
    tun_acceptor acc[2];
    int n_acc;
    tun_rlisten *next;
};

static const tun_pipe_hooks fwd_hooks;

/* ---- forwarded connections --------------------------------------------------------------------- */

static void fwd_destroy(tun_srvchan *ch)
{
    fwdconn *fc = (fwdconn *)ch;
    if (fc->lookup)
        tun_resolve_cancel(fc->lookup);
    if (fc->connector)
        tun_connect_cancel(fc->connector);
    if (ch->sc) {
        tun_priv_cancel(ch->sc->srv->priv, fc);
        tun_srvchan_detach(ch);
    }
    tun_pipe_free(&fc->ch.pipe); /* closes the socket (is_socket) */
    free(fc);
}

static fwdconn *fwd_new(tun_srvconn *sc, enum tun_srvchan_kind kind, const char *type)
{
    fwdconn *fc = calloc(1, sizeof(*fc));
    if (fc == NULL)
        return NULL;
    tun_pipe_init(&fc->ch.pipe, sc->srv->loop, &sc->link, -1, -1, -1, &fwd_hooks, fc);
    fc->ch.pipe.auto_close = 1;
    fc->ch.destroy = fwd_destroy;
    tun_srvchan_attach(sc, &fc->ch, kind, type);
    return fc;
}

static void attach_socket(fwdconn *fc, int fd)
{
    tun_pipe_set_fds(&fc->ch.pipe, fd, fd);
    fc->ch.pipe.is_socket = 1;
}

static void h_open_result(tun_pipe *p, uint32_t reason, const char *msg)
{
    fwdconn *fc = p->owner;
    if (reason != 0) {
        tun_debug("forwarded channel to the client refused (%u): %s", reason, msg ? msg : "");
        fwd_destroy(&fc->ch);
        return;
    }
    tun_pipe_start_input(p);
}

static void h_closed(tun_pipe *p)
{
    fwd_destroy(&((fwdconn *)p->owner)->ch);
}

static const tun_pipe_hooks fwd_hooks = {
    .open_result = h_open_result,
    .closed = h_closed,
};

/* ---- direct-tcpip / direct-streamlocal ------------------------------------------------------------ */

static void direct_done(fwdconn *fc, int fd, const char *err)
{
    tun_srvconn *sc = fc->ch.sc;
    if (fd < 0) {
        tun_verbose("connect to %s for %s failed: %s", fc->target, sc->user.name, err);
        ssh_channel_open_fail(sc->c, fc->ch.id, SSH_OPEN_CONNECT_FAILED, err);
        tun_link_kick(&sc->link);
        fc->ch.has_id = 0;
        fwd_destroy(&fc->ch);
        return;
    }
    attach_socket(fc, fd);
    if (ssh_channel_open_confirm(sc->c, fc->ch.id, &fc->ch.pipe.base) != 0) {
        fc->ch.has_id = 0;
        fwd_destroy(&fc->ch);
        return;
    }
    tun_debug("channel %u: connected to %s", fc->ch.id, fc->target);
    fc->ch.pipe.base.open = 1;
    tun_pipe_start_input(&fc->ch.pipe);
    tun_link_kick(&sc->link);
}

static void on_connected(void *arg, int fd, const tun_addr *addr, const char *err)
{
    (void)addr;
    fwdconn *fc = arg;
    fc->connector = NULL;
    direct_done(fc, fd, err);
}

static void on_resolved(void *arg, const tun_addr *addrs, size_t n, const char *err)
{
    fwdconn *fc = arg;
    fc->lookup = NULL;
    if (n == 0) {
        direct_done(fc, -1, err && *err ? err : "Name or service not known");
        return;
    }
    fc->connector = tun_connect_start(fc->ch.sc->srv->loop, addrs, n, CONNECT_TIMEOUT,
                                      on_connected, fc);
    if (fc->connector == NULL)
        direct_done(fc, -1, "out of memory");
}

static void on_unix_connected(void *arg, int fd, int err)
{
    direct_done(arg, fd, fd < 0 ? strerror(err) : NULL);
}

int tun_srvfwd_direct(tun_srvconn *sc, uint32_t id, const ssh_channel_open_info *info,
                      const char **why)
{
    int sl = info->kind == SSH_CHAN_DIRECT_STREAMLOCAL;
    fwdconn *fc = fwd_new(sc, sl ? SC_DIRECT_STREAMLOCAL : SC_DIRECT_TCPIP,
                          sl ? "direct-streamlocal@openssh.com" : "direct-tcpip");
    if (fc == NULL) {
        *why = "out of memory";
        return -SSH_OPEN_RESOURCE_SHORTAGE;
    }
    fc->ch.id = id;
    fc->ch.has_id = 1;
    fc->ch.pipe.base.id = id;
    if (sl) {
        snprintf(fc->target, sizeof(fc->target), "%s", info->path);
        tun_debug("direct-streamlocal to %s for %s", info->path, sc->user.name);
        if (tun_priv_unix(sc->srv->priv, sc->serial, info->path, 0, on_unix_connected, fc) != 0) {
            fc->ch.has_id = 0;
            fwd_destroy(&fc->ch);
            *why = "cannot reach the socket";
            return -SSH_OPEN_CONNECT_FAILED;
        }
        return SSH_DEFERRED;
    }
    snprintf(fc->target, sizeof(fc->target), "%s port %u", info->host, info->port);
    tun_debug("direct-tcpip to %s from %s port %u for %s", fc->target,
              info->orig_host ? info->orig_host : "?", info->orig_port, sc->user.name);
    if (info->port > 65535 || info->host[0] == '\0') {
        fc->ch.has_id = 0;
        fwd_destroy(&fc->ch);
        *why = "invalid target";
        return -SSH_OPEN_CONNECT_FAILED;
    }
    fc->lookup = tun_resolve(sc->srv->res, info->host, info->port,
                             sc->set->cfg.address_family, on_resolved, fc);
    if (fc->lookup == NULL) {
        fc->ch.has_id = 0;
        fwd_destroy(&fc->ch);
        *why = "out of memory";
        return -SSH_OPEN_RESOURCE_SHORTAGE;
    }
    return SSH_DEFERRED;
}

/* ---- remote forwards ------------------------------------------------------------------------------------ */

static void rl_accept(tun_acceptor *a, int fd, const struct sockaddr_storage *peer,
                      socklen_t peerlen)
{
    (void)peerlen;
    tun_rlisten *rl = a->data;
    tun_srvconn *sc = rl->sc;
    int maxch = sc->set->cfg.max_channels;
    if (sc->dead || (maxch > 0 && sc->n_chans >= maxch)) {
        if (!sc->dead)
            tun_info("%s port %d: forwarded connection dropped: channel limit reached "
                     "(MaxChannels %d)", sc->ip, sc->port, maxch);
        close(fd);
        return;
    }
    fwdconn *fc = fwd_new(sc, rl->is_unix ? SC_FORWARDED_STREAMLOCAL : SC_FORWARDED_TCPIP,
                          rl->is_unix ? "forwarded-streamlocal@openssh.com" : "forwarded-tcpip");
    if (fc == NULL) {
        close(fd);
        return;
    }
    attach_socket(fc, fd);
    char ohost[64];
    int oport;
    tun_sockaddr_desc(peer, ohost, sizeof(ohost), &oport);
    ssh_channel_open_info info = {0};
    if (rl->is_unix) {
        info.kind = SSH_CHAN_FORWARDED_STREAMLOCAL;
        info.path = rl->path;
        snprintf(fc->target, sizeof(fc->target), "%s", rl->path);
    } else {
        info.kind = SSH_CHAN_FORWARDED_TCPIP;
        info.host = rl->addr;
        info.port = (uint32_t)rl->bound_port;
        info.orig_host = ohost;
        info.orig_port = (uint32_t)oport;
        snprintf(fc->target, sizeof(fc->target), "%s port %d", rl->addr, rl->bound_port);
    }
    uint32_t id;
    if (ssh_channel_open(sc->c, &info, &fc->ch.pipe.base, &id) != 0) {
        fwd_destroy(&fc->ch);
        return;
    }
    fc->ch.id = id;
    fc->ch.has_id = 1;
    fc->ch.pipe.base.id = id;
    tun_link_kick(&sc->link);
}

static void rl_free(tun_rlisten *rl)
{
    for (int i = 0; i < rl->n_acc; i++)
        tun_acceptor_close(&rl->acc[i]);
    if (rl->pending)
        tun_priv_cancel(rl->sc->srv->priv, rl);
    free(rl);
}

static void rl_unlink(tun_srvconn *sc, tun_rlisten *rl)
{
    for (tun_rlisten **pp = &sc->rlisteners; *pp; pp = &(*pp)->next) {
        if (*pp == rl) {
            *pp = rl->next;
            return;
        }
    }
}

void tun_srvfwd_close_listeners(tun_srvconn *sc)
{
    while (sc->rlisteners) {
        tun_rlisten *rl = sc->rlisteners;
        sc->rlisteners = rl->next;
        rl_free(rl);
    }
}

static int count_listeners(const tun_srvconn *sc)
{
    int n = 0;
    for (const tun_rlisten *rl = sc->rlisteners; rl; rl = rl->next)
        n++;
    return n;
}

/* Bind the addresses GatewayPorts gives for the requested one.  0, or -1
 * with `err`. */
static int rl_bind(tun_srvconn *sc, tun_rlisten *rl, char *err, size_t errsz)
{
    const char *a = rl->addr;
    int gw = sc->opts.gateway_ports;
    int wildcard = 0, loopback = 0, family = 0;
    unsigned char bytes[16];
    if (gw == GWP_YES)
        wildcard = 1;
    else if (gw != GWP_CLIENTSPECIFIED)
        loopback = 1;
    else if (a[0] == '\0' || strcmp(a, "*") == 0)
        wildcard = 1;
    else if (strcmp(a, "localhost") == 0)
        loopback = 1;
    else if (!tun_parse_numeric(a, &family, bytes)) {
        snprintf(err, errsz, "cannot listen on %.64s: only numeric addresses, localhost or * "
                 "are supported", a);
        return -1;
    }
    for (int attempt = 0; attempt < 8; attempt++) {
        int fds[2] = {-1, -1}, rv[2] = {-2, -2};
        int port = rl->port;
        char e2[256] = "";
        if (wildcard || loopback) {
            unsigned char a4[4], a6[16];
            inet_pton(AF_INET, wildcard ? "0.0.0.0" : "127.0.0.1", a4);
            inet_pton(AF_INET6, wildcard ? "::" : "::1", a6);
            rv[0] = fds[0] = tun_listen_tcp(AF_INET, a4, port, err, errsz);
            if (fds[0] >= 0 && port == 0)
                port = tun_sock_port(fds[0]);
            rv[1] = fds[1] = tun_listen_tcp(AF_INET6, a6, port, e2, sizeof(e2));
            if (fds[0] == -2 && fds[1] >= 0)
                port = tun_sock_port(fds[1]);
        } else {
            rv[0] = fds[0] = tun_listen_tcp(family, bytes, port, err, errsz);
            if (fds[0] >= 0)
                port = tun_sock_port(fds[0]);
        }
        if (rv[0] != -1 && rv[1] != -1 && (fds[0] >= 0 || fds[1] >= 0)) {
            rl->bound_port = port;
            for (int i = 0; i < 2; i++)
                if (fds[i] >= 0)
                    tun_acceptor_start(&rl->acc[rl->n_acc++], sc->srv->loop, fds[i], rl_accept,
                                       rl);
            return 0;
        }
        for (int i = 0; i < 2; i++)
            if (fds[i] >= 0)
                close(fds[i]);
        if (rv[0] != -1 && rv[1] == -1)
            snprintf(err, errsz, "%s", e2);
        /* A kernel-chosen IPv4 port may be taken on IPv6: choose again. */
        if (rl->port != 0 || rv[0] == -1)
            break;
    }
    if (err[0] == '\0')
        snprintf(err, errsz, "no address to listen on");
    return -1;
}

static int tcpip_forward(tun_srvconn *sc, const ssh_global_req *r, ssh_buf *reply)
{
    char why[256];
    const char *addr = r->address ? r->address : "";
    if (!tun_srvconn_fwd_allowed(sc, 1, 0, why, sizeof(why))) {
        tun_info("refused remote forward %s:%u for %s: %s", addr, r->port, sc->user.name, why);
        return SSH_REQUEST_FAILURE;
    }
    if (r->port > 65535 || strlen(addr) >= sizeof(((tun_rlisten *)0)->addr)) {
        tun_info("refused remote forward for %s: bad port or address", sc->user.name);
        return SSH_REQUEST_FAILURE;
    }
    if (r->port != 0 && r->port < 1024 && sc->user.uid != 0) {
        tun_info("refused remote forward %s:%u for %s: privileged port", addr, r->port,
                 sc->user.name);
        return SSH_REQUEST_FAILURE;
    }
    if (sc->opts.n_permit_listen &&
        !tun_permit_match(sc->opts.permit_listen, sc->opts.n_permit_listen,
                          addr[0] ? addr : "localhost", r->port)) {
        tun_info("refused remote forward %s:%u for %s: not allowed by PermitListen", addr,
                 r->port, sc->user.name);
        return SSH_REQUEST_FAILURE;
    }
    if (sc->have_kopts && sc->kopts.n_permitlisten &&
        !tun_permit_match(sc->kopts.permitlisten, sc->kopts.n_permitlisten,
                          addr[0] ? addr : "localhost", r->port)) {
        tun_info("refused remote forward %s:%u for %s: not allowed by permitlisten in "
                 "authorized_keys", addr, r->port, sc->user.name);
        return SSH_REQUEST_FAILURE;
    }
    if (count_listeners(sc) >= MAX_LISTENERS) {
        tun_info("refused remote forward for %s: too many (%d)", sc->user.name, MAX_LISTENERS);
        return SSH_REQUEST_FAILURE;
    }
    for (tun_rlisten *o = sc->rlisteners; o; o = o->next) {
        if (!o->is_unix && r->port != 0 && o->port == (int)r->port && strcmp(o->addr, addr) == 0) {
            tun_info("refused remote forward %s:%u for %s: already forwarded", addr, r->port,
                     sc->user.name);
            return SSH_REQUEST_FAILURE;
        }
    }
    tun_rlisten *rl = calloc(1, sizeof(*rl));
    if (rl == NULL)
        return SSH_REQUEST_FAILURE;
    rl->sc = sc;
    snprintf(rl->addr, sizeof(rl->addr), "%s", addr);
    rl->port = (int)r->port;
    char err[256] = "";
    if (rl_bind(sc, rl, err, sizeof(err)) != 0) {
        tun_info("remote forward %s:%u for %s failed: %s", addr, r->port, sc->user.name, err);
        free(rl);
        return SSH_REQUEST_FAILURE;
    }
    rl->next = sc->rlisteners;
    sc->rlisteners = rl;
    tun_verbose("remote forward for %s: listening on %s port %d", sc->user.name,
                addr[0] ? addr : "*", rl->bound_port);
    if (r->port == 0)
        ssh_buf_put_u32(reply, (uint32_t)rl->bound_port);
    return SSH_REQUEST_SUCCESS;
}

static void on_unix_listening(void *arg, int fd, int err)
{
    tun_rlisten *rl = arg;
    tun_srvconn *sc = rl->sc;
    rl->pending = 0;
    if (fd < 0) {
        tun_info("remote forward %s for %s failed: %s", rl->path, sc->user.name, strerror(err));
        rl_unlink(sc, rl);
        rl_free(rl);
        ssh_global_request_reply(sc->c, 0, NULL, 0);
    } else {
        tun_set_nonblock(fd, 1);
        tun_acceptor_start(&rl->acc[rl->n_acc++], sc->srv->loop, fd, rl_accept, rl);
        tun_verbose("remote forward for %s: listening on %s", sc->user.name, rl->path);
        ssh_global_request_reply(sc->c, 1, NULL, 0);
    }
    tun_link_kick(&sc->link);
}

static int streamlocal_forward(tun_srvconn *sc, const ssh_global_req *r)
{
    char why[256];
    const char *path = r->path ? r->path : "";
    if (!tun_srvconn_fwd_allowed(sc, 1, 1, why, sizeof(why))) {
        tun_info("refused remote forward %s for %s: %s", path, sc->user.name, why);
        return SSH_REQUEST_FAILURE;
    }
    if (path[0] == '\0' || strlen(path) >= sizeof(((tun_rlisten *)0)->path) ||
        count_listeners(sc) >= MAX_LISTENERS)
        return SSH_REQUEST_FAILURE;
    tun_rlisten *rl = calloc(1, sizeof(*rl));
    if (rl == NULL)
        return SSH_REQUEST_FAILURE;
    rl->sc = sc;
    rl->is_unix = 1;
    rl->pending = 1;
    snprintf(rl->path, sizeof(rl->path), "%s", path);
    if (tun_priv_unix(sc->srv->priv, sc->serial, path, 1, on_unix_listening, rl) != 0) {
        free(rl);
        return SSH_REQUEST_FAILURE;
    }
    rl->next = sc->rlisteners;
    sc->rlisteners = rl;
    return SSH_REQUEST_DEFER;
}

int tun_srvfwd_global(tun_srvconn *sc, const ssh_global_req *r, ssh_buf *reply)
{
    if (strcmp(r->name, "tcpip-forward") == 0)
        return tcpip_forward(sc, r, reply);
    if (strcmp(r->name, "streamlocal-forward@openssh.com") == 0)
        return streamlocal_forward(sc, r);
    int unix_cancel = strcmp(r->name, "cancel-streamlocal-forward@openssh.com") == 0;
    const char *addr = r->address ? r->address : "";
    for (tun_rlisten *rl = sc->rlisteners; rl; rl = rl->next) {
        if (rl->pending || rl->is_unix != unix_cancel)
            continue;
        int match = unix_cancel ? (r->path && strcmp(rl->path, r->path) == 0)
                                : (strcmp(rl->addr, addr) == 0 &&
                                   ((int)r->port == rl->port || (int)r->port == rl->bound_port));
        if (!match)
            continue;
        rl_unlink(sc, rl);
        tun_verbose("remote forward for %s: cancelled %s", sc->user.name,
                    unix_cancel ? rl->path : rl->addr);
        rl_free(rl);
        return SSH_REQUEST_SUCCESS;
    }
    return SSH_REQUEST_FAILURE;
}
