/*
 * tun_srvsessfwd.c - a session's agent and X11 forwarding in sshtund's
 * network process (see tun_srv.h).
 *
 * The privileged side decided and made the listening sockets (the agent's
 * Unix socket in the user's private directory, the display's TCP ports:
 * tun_privfwd.c); here each accepted connection becomes a channel the
 * server opens to the client - auth-agent@openssh.com (OpenSSH PROTOCOL
 * 1.4, no type-specific data) or x11 (RFC 4254 6.3.2: originator address
 * and port) - bridged by a tun_pipe, so flow control is the pipe's as for
 * every forward.  The listeners live as long as the session's channel;
 * connections already open go on after it, as with sshd.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "tun_srv.h"
#include "tun_log.h"
#include "tun_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct sfconn {
    tun_srvchan ch; /* first */
    const char *what;
} sfconn;

struct tun_sesslisten {
    tun_srvconn *sc;
    uint32_t session;
    int x11;    /* x11 channels (else auth-agent@openssh.com) */
    int single; /* X11: only the first connection */
    tun_acceptor acc[2];
    int n_acc;
};

static void sf_destroy(tun_srvchan *ch)
{
    sfconn *fc = (sfconn *)ch;
    if (ch->sc)
        tun_srvchan_detach(ch);
    tun_pipe_free(&fc->ch.pipe); /* closes the socket */
    free(fc);
}

static void h_open_result(tun_pipe *p, uint32_t reason, const char *msg)
{
    sfconn *fc = p->owner;
    if (reason != 0) {
        tun_debug("%s channel refused by the client (%u): %s", fc->what, reason, msg ? msg : "");
        sf_destroy(&fc->ch);
        return;
    }
    tun_pipe_start_input(p);
}

static void h_closed(tun_pipe *p)
{
    sf_destroy(&((sfconn *)p->owner)->ch);
}

static const tun_pipe_hooks sf_hooks = {
    .open_result = h_open_result,
    .closed = h_closed,
};

static void close_listeners(tun_sesslisten *l)
{
    for (int i = 0; i < l->n_acc; i++)
        tun_acceptor_close(&l->acc[i]);
    l->n_acc = 0;
}

static void on_accept(tun_acceptor *a, int fd, const struct sockaddr_storage *peer,
                      socklen_t peerlen)
{
    (void)peerlen;
    tun_sesslisten *l = a->data;
    tun_srvconn *sc = l->sc;
    int maxch = sc->set->cfg.max_channels;
    if (sc->dead || (maxch > 0 && sc->n_chans >= maxch)) {
        if (!sc->dead)
            tun_info("%s port %d: %s connection dropped: channel limit reached (MaxChannels %d)",
                     sc->ip, sc->port, l->x11 ? "X11" : "agent", maxch);
        close(fd);
        return;
    }
    sfconn *fc = calloc(1, sizeof(*fc));
    if (fc == NULL) {
        close(fd);
        return;
    }
    fc->what = l->x11 ? "x11" : "auth-agent@openssh.com";
    tun_pipe_init(&fc->ch.pipe, sc->srv->loop, &sc->link, fd, fd, -1, &sf_hooks, fc);
    fc->ch.pipe.is_socket = 1;
    fc->ch.pipe.auto_close = 1;
    fc->ch.destroy = sf_destroy;
    tun_srvchan_attach(sc, &fc->ch, l->x11 ? SC_X11 : SC_AGENT,
                       l->x11 ? "x11-connection" : "agent-connection");
    ssh_channel_open_info info = {.kind = SSH_CHAN_OTHER, .type = fc->what};
    ssh_buf extra;
    ssh_buf_init(&extra, 128, 0);
    if (l->x11) {
        /* RFC 4254 6.3.2: where the X client connected from. */
        char ohost[64] = "127.0.0.1";
        int oport = 0;
        tun_sockaddr_desc(peer, ohost, sizeof(ohost), &oport);
        ssh_buf_put_cstring(&extra, ohost);
        ssh_buf_put_u32(&extra, (uint32_t)oport);
        info.extra = ssh_buf_ptr(&extra);
        info.extra_len = ssh_buf_len(&extra);
    }
    uint32_t id;
    int rv = ssh_channel_open(sc->c, &info, &fc->ch.pipe.base, &id);
    ssh_buf_free(&extra);
    if (rv != 0) {
        sf_destroy(&fc->ch);
        return;
    }
    fc->ch.id = id;
    fc->ch.has_id = 1;
    fc->ch.pipe.base.id = id;
    tun_debug("session %u: %s connection, channel %u", l->session, fc->what, id);
    tun_link_kick(&sc->link);
    if (l->x11 && l->single) {
        tun_debug("session %u: single-connection X11 forwarding: no more connections", l->session);
        close_listeners(l);
    }
}

static tun_sesslisten *listen_on(tun_srvconn *sc, uint32_t session, const int *fds, int nfds,
                                 int x11, int single)
{
    tun_sesslisten *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return NULL;
    l->sc = sc;
    l->session = session;
    l->x11 = x11;
    l->single = single;
    for (int i = 0; i < nfds && i < 2; i++) {
        tun_set_nonblock(fds[i], 1);
        tun_acceptor_start(&l->acc[l->n_acc++], sc->srv->loop, fds[i], on_accept, l);
    }
    return l;
}

tun_sesslisten *tun_srvsessfwd_agent(tun_srvconn *sc, uint32_t session, int fd)
{
    return listen_on(sc, session, &fd, 1, 0, 0);
}

tun_sesslisten *tun_srvsessfwd_x11(tun_srvconn *sc, uint32_t session, const int *fds, int nfds,
                                   int single)
{
    return listen_on(sc, session, fds, nfds, 1, single);
}

void tun_sesslisten_free(tun_sesslisten *l)
{
    if (l == NULL)
        return;
    close_listeners(l);
    free(l);
}
