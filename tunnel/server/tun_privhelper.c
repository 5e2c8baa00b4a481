/*
 * tun_privhelper.c - the helper process: the privileged side (tun_privd)
 * behind a SOCK_SEQPACKET socket to the network process.
 *
 * The helper never blocks on the network process either: its answers go
 * out with MSG_DONTWAIT and wait in a bounded queue while the socket is
 * full (a network process that stops reading only stops hearing answers).
 * When the socket closes, the network process is gone: every session is
 * hung up and the helper exits.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "tun_privd.h"
#include "tun_log.h"
#include "tun_sock.h"
#include "tun_util.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>

#define MAX_QUEUED 65536

typedef struct qmsg {
    struct qmsg *next;
    int fds[3];
    int nfds;
    size_t len;
    uint8_t data[];
} qmsg;

typedef struct helper {
    struct ev_loop *loop;
    int sock;
    ev_io rio, wio;
    qmsg *q, **qtail;
    size_t nq;
    tun_privd *d;
} helper;

static void qmsg_free(qmsg *m)
{
    for (int i = 0; i < m->nfds; i++)
        close(m->fds[i]);
    OPENSSL_cleanse(m->data, m->len);
    free(m);
}

static void on_writable(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    helper *h = w->data;
    while (h->q) {
        qmsg *m = h->q;
        if (tun_send_fds(h->sock, m->data, m->len, m->fds, m->nfds) != 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            break; /* gone: the reader notices */
        }
        h->q = m->next;
        if (h->q == NULL)
            h->qtail = &h->q;
        h->nq--;
        qmsg_free(m);
    }
    ev_io_stop(loop, w);
}

static void helper_send(void *arg, const uint8_t *msg, size_t len, const int *fds, int nfds)
{
    helper *h = arg;
    if (h->q == NULL) {
        if (tun_send_fds(h->sock, msg, len, fds, nfds) == 0)
            return;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return;
    }
    if (h->nq >= MAX_QUEUED) {
        tun_error("sshtund helper: the network process is not reading; answer dropped");
        return;
    }
    qmsg *m = malloc(sizeof(*m) + len);
    if (m == NULL)
        return;
    m->next = NULL;
    m->len = len;
    memcpy(m->data, msg, len);
    m->nfds = 0;
    for (int i = 0; i < nfds; i++) {
        int fd = dup(fds[i]);
        if (fd >= 0)
            m->fds[m->nfds++] = fd;
    }
    *h->qtail = m;
    h->qtail = &m->next;
    h->nq++;
    ev_io_start(h->loop, &h->wio);
}

static void on_request(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    helper *h = w->data;
    static uint8_t buf[TUN_PRIV_MSG_MAX];
    int fds[3], nfds = 0;
    int n = tun_recv_fds(h->sock, buf, sizeof(buf), fds, &nfds);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        /* The network process is gone: end its sessions too. */
        tun_privd_free(h->d);
        _exit(0);
    }
    tun_privd_request(h->d, buf, (size_t)n, fds, nfds);
    OPENSSL_cleanse(buf, (size_t)n);
}

void tun_privd_helper_main(int sock, struct tun_srvsettings *set, const tun_priv_conf *conf)
{
    struct ev_loop *loop = EV_DEFAULT;
    ev_loop_fork(loop);
    prctl(PR_SET_NAME, "sshtund-priv", 0, 0, 0);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    signal(SIGPIPE, SIG_IGN);
    /* SIGHUP (a terminal's hangup) blocked rather than ignored: children
     * inherit the mask, not a pending signal, and a session hung up
     * between its fork and its exec still gets the SIGHUP when it
     * unblocks (an ignored one would be lost). */
    sigset_t hup;
    sigemptyset(&hup);
    sigaddset(&hup, SIGHUP);
    sigprocmask(SIG_BLOCK, &hup, NULL);
    static helper h;
    h.loop = loop;
    h.sock = sock;
    h.qtail = &h.q;
    tun_set_nonblock(sock, 1);
    h.d = tun_privd_new(loop, 1, set, conf, helper_send, &h);
    if (h.d == NULL) {
        tun_error("sshtund helper: cannot start: %s", strerror(errno));
        _exit(1);
    }
    ev_io_init(&h.rio, on_request, sock, EV_READ);
    h.rio.data = &h;
    ev_io_start(loop, &h.rio);
    ev_io_init(&h.wio, on_writable, sock, EV_WRITE);
    h.wio.data = &h;
    ev_run(loop, 0);
    _exit(0);
}
