/*
 * tun_privhelper.c - the helper process: the privileged side (tun_privd)
 * behind one SOCK_SEQPACKET socket per network process (worker).
 *
 * The helper never blocks on a network process either: its answers go
 * out with MSG_DONTWAIT and wait in a bounded queue while the socket is
 * full (a worker that stops reading only stops hearing answers).
 *
 * One worker (tun_privd_helper_main): when its socket closes, the network
 * process is gone: every session is hung up and the helper exits.
 *
 * Several workers (tun_privd_helper_main_multi): the supervisor that
 * forked the helper keeps a control socket to it and hands it each
 * worker's socket as the worker starts (and again when a worker is
 * restarted).  A worker's socket closing ends that worker's connections
 * (their sessions are hung up) and nothing else; the control socket
 * closing means the supervisor is gone, and the helper ends everything
 * and exits.  Requests are read a few at a time per worker, so one busy
 * worker cannot keep the others waiting.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "tun_privd.h"
#include "tun_log.h"
#include "tun_sock.h"
#include "tun_util.h"

#include <errno.h>
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>

#define MAX_QUEUED 65536
#define READ_BATCH 16

typedef struct qmsg {
    struct qmsg *next;
    int fds[3];
    int nfds;
    size_t len;
    uint8_t data[];
} qmsg;

/* One worker's socket. */
typedef struct hpeer {
    struct ev_loop *loop;
    int sock;
    int index;
    ev_io rio, wio;
    qmsg *q, **qtail;
    size_t nq;
    tun_privpeer *pp;
    struct hpeer *next;
} hpeer;

static struct {
    struct ev_loop *loop;
    tun_privd *d;
    int multi; /* several workers: a closed worker socket is not the end */
    int ctl;
    ev_io ctl_io;
    hpeer *peers;
} H;

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
    hpeer *h = w->data;
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

static void peer_send(void *arg, const uint8_t *msg, size_t len, const int *fds, int nfds)
{
    hpeer *h = arg;
    if (h->q == NULL) {
        if (tun_send_fds(h->sock, msg, len, fds, nfds) == 0)
            return;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return;
    }
    if (h->nq >= MAX_QUEUED) {
        tun_error("sshtund helper: network process %d is not reading; answer dropped", h->index);
        return;
    }
    qmsg *m = malloc(sizeof(*m) + len);
    if (m == NULL)
        return;
    m->next = NULL;
    m->len = len;
    memcpy(m->data, msg, len);
    m->nfds = 0;
    for (int i = 0; i < nfds && i < 3; i++) {
        int fd = dup(fds[i]);
        if (fd >= 0)
            m->fds[m->nfds++] = fd;
    }
    *h->qtail = m;
    h->qtail = &m->next;
    h->nq++;
    ev_io_start(h->loop, &h->wio);
}

static void everything_ends(void)
{
    /* Sessions are hung up; nothing is left to serve. */
    tun_privd_free(H.d);
    _exit(0);
}

static void peer_gone(hpeer *h)
{
    if (!H.multi)
        everything_ends();
    tun_debug("sshtund helper: worker %d gone; its connections end", h->index);
    tun_privd_peer_remove(H.d, h->pp);
    ev_io_stop(H.loop, &h->rio);
    ev_io_stop(H.loop, &h->wio);
    close(h->sock);
    while (h->q) {
        qmsg *m = h->q;
        h->q = m->next;
        qmsg_free(m);
    }
    for (hpeer **pp = &H.peers; *pp; pp = &(*pp)->next) {
        if (*pp == h) {
            *pp = h->next;
            break;
        }
    }
    free(h);
}

static void on_request(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    hpeer *h = w->data;
    static uint8_t buf[TUN_PRIV_MSG_MAX];
    for (int i = 0; i < READ_BATCH; i++) {
        int fds[3], nfds = 0;
        int n = tun_recv_fds(h->sock, buf, sizeof(buf), fds, &nfds);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return;
        if (n <= 0) {
            peer_gone(h);
            return;
        }
        tun_privd_request_from(H.d, h->pp, buf, (size_t)n, fds, nfds);
        OPENSSL_cleanse(buf, (size_t)n);
    }
}

static hpeer *peer_new(int sock, int index, long pid)
{
    hpeer *h = calloc(1, sizeof(*h));
    if (h == NULL) {
        close(sock);
        return NULL;
    }
    h->loop = H.loop;
    h->sock = sock;
    h->index = index;
    h->qtail = &h->q;
    h->pp = tun_privd_peer_add(H.d, index, pid, peer_send, h);
    if (h->pp == NULL) {
        close(sock);
        free(h);
        return NULL;
    }
    tun_set_nonblock(sock, 1);
    ev_io_init(&h->rio, on_request, sock, EV_READ);
    h->rio.data = h;
    ev_io_start(H.loop, &h->rio);
    ev_io_init(&h->wio, on_writable, sock, EV_WRITE);
    h->wio.data = h;
    h->next = H.peers;
    H.peers = h;
    return h;
}

/* The supervisor's messages: a new worker's socket. */
static void on_ctl(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
    uint8_t buf[64];
    int fds[3], nfds = 0;
    int n = tun_recv_fds(H.ctl, buf, sizeof(buf), fds, &nfds);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0)
        everything_ends(); /* the supervisor is gone */
    ssh_cur c;
    uint32_t type, index, pid;
    ssh_cur_init(&c, buf, (size_t)n);
    if (ssh_cur_get_u32(&c, &type) == 0 && type == TUN_PRIV_CTL_ADD &&
        ssh_cur_get_u32(&c, &index) == 0 && ssh_cur_get_u32(&c, &pid) == 0 &&
        ssh_cur_end(&c) == 0 && nfds == 1) {
        if (peer_new(fds[0], (int)index, (long)pid) != NULL)
            tun_debug("sshtund helper: worker %u (pid %u) attached", index, pid);
        return;
    }
    tun_error("sshtund helper: malformed message from the supervisor");
    for (int i = 0; i < nfds; i++)
        close(fds[i]);
}

static struct ev_loop *helper_setup(void)
{
    struct ev_loop *loop = EV_DEFAULT;
    ev_loop_fork(loop);
    prctl(PR_SET_NAME, "sshtund-priv", 0, 0, 0);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    signal(SIGPIPE, SIG_IGN);
    /* SIGHUP (a terminal's hangup) blocked rather than ignored: children
     * inherit the mask, not a pending signal, and a session hung up
     * between its fork and its exec still gets the SIGHUP when it
     * unblocks (an ignored one would be lost).  SIGTERM and SIGINT too:
     * the supervisor decides when the helper ends (by closing its
     * socket), and a ^C in a terminal reaches the whole process group. */
    sigset_t hup;
    sigemptyset(&hup);
    sigaddset(&hup, SIGHUP);
    sigaddset(&hup, SIGTERM);
    sigaddset(&hup, SIGINT);
    sigprocmask(SIG_BLOCK, &hup, NULL);
    /* Every task child (tun_privtask.c) calls initgroups() to become its
     * user, which walks every group service of nsswitch.conf; a service
     * module the helper itself never used (Debian's "group: files
     * systemd") was dlopened, relocated and initialised again in each
     * child: most of a login's helper cost after the fork itself.  Loading
     * the modules here once lets every child inherit them.  The answer
     * does not matter. */
    gid_t warm[4];
    int nwarm = 4;
    (void)getgrouplist("root", 0, warm, &nwarm);
    H.loop = loop;
    return loop;
}

void tun_privd_helper_main(int sock, struct tun_srvsettings *set, const tun_priv_conf *conf)
{
    struct ev_loop *loop = helper_setup();
    /* (one network process: SIGTERM/SIGINT as before, default) */
    sigset_t ti;
    sigemptyset(&ti);
    sigaddset(&ti, SIGTERM);
    sigaddset(&ti, SIGINT);
    sigprocmask(SIG_UNBLOCK, &ti, NULL);
    H.d = tun_privd_new(loop, 1, set, conf, NULL, NULL);
    if (H.d == NULL) {
        tun_error("sshtund helper: cannot start: %s", strerror(errno));
        _exit(1);
    }
    if (peer_new(sock, 0, 0) == NULL)
        _exit(1);
    ev_run(loop, 0);
    _exit(0);
}

void tun_privd_helper_main_multi(int ctl, int root, struct tun_srvsettings *set,
                                 const tun_priv_conf *conf)
{
    struct ev_loop *loop = helper_setup();
    H.multi = 1;
    H.ctl = ctl;
    H.d = tun_privd_new(loop, root, set, conf, NULL, NULL);
    if (H.d == NULL) {
        tun_error("sshtund helper: cannot start: %s", strerror(errno));
        _exit(1);
    }
    tun_privd_set_global_startups(H.d, 1);
    tun_set_nonblock(ctl, 1);
    ev_io_init(&H.ctl_io, on_ctl, ctl, EV_READ);
    ev_io_start(loop, &H.ctl_io);
    ev_run(loop, 0);
    _exit(0);
}
