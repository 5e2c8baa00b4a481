/*
 * tun_priv.c - the network process's side of the privileged boundary (see
 * tun_priv.h for who decides what, tun_privproto.h for the messages).
 *
 * Requests are encoded here and either sent to the helper (root mode) or
 * handed to an in-process tun_privd (a server started by an ordinary
 * user); answers come back through the same decoder either way, and in
 * process they are delivered from a zero timer, so callers see the same
 * asynchrony.  The network process never blocks on the helper: requests
 * wait in a queue while the socket is full (the helper may be sending us
 * answers we would otherwise never read).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "tun_priv.h"
#include "tun_log.h"
#include "tun_privproto.h"
#include "tun_sock.h"
#include "tun_util.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "sshtun/err.h"

/* Requests queued at most (each is small; this only bounds a runaway). */
#define MAX_QUEUED 65536

typedef struct pending {
    uint32_t id;
    uint32_t type;
    uint64_t conn;
    void *cb;
    void *arg;
    struct pending *next;
} pending;

/* In-process mode: an answer waiting for its zero timer. */
typedef struct later {
    tun_priv *p;
    ev_timer t;
    int fds[3];
    int nfds;
    size_t len;
    struct later *next, *prev;
    uint8_t data[];
} later;

typedef struct outmsg {
    struct outmsg *next;
    size_t len;
    uint8_t data[];
} outmsg;

struct tun_priv {
    struct ev_loop *loop;
    int helper;
    int sock;
    pid_t helper_pid;
    ev_io rio, wio;
    outmsg *oq, **oq_tail;
    size_t n_oq;
    uint32_t next_id;
    pending *pend;
    tun_priv_exit_fn on_exit;
    void *exit_arg;
    tun_priv_verdict_fn on_verdict;
    void *verdict_arg;
    tun_privd *local; /* without a helper */
    later *laters;
};

static void deliver(tun_priv *p, const uint8_t *msg, size_t len, int *fds, int nfds);
static void attach(tun_priv *p, int sock);

/* ---- in-process answers ------------------------------------------------------------------ */

static void later_fire(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    later *l = w->data;
    tun_priv *p = l->p;
    if (l->prev)
        l->prev->next = l->next;
    else
        p->laters = l->next;
    if (l->next)
        l->next->prev = l->prev;
    deliver(p, l->data, l->len, l->fds, l->nfds);
    OPENSSL_cleanse(l->data, l->len);
    free(l);
}

static void local_send(void *arg, const uint8_t *msg, size_t len, const int *fds, int nfds)
{
    tun_priv *p = arg;
    later *l = calloc(1, sizeof(*l) + len);
    if (l == NULL)
        return;
    l->p = p;
    l->len = len;
    memcpy(l->data, msg, len);
    for (int i = 0; i < nfds && i < 3; i++) {
        int fd = dup(fds[i]);
        if (fd >= 0)
            l->fds[l->nfds++] = fd;
    }
    ev_timer_init(&l->t, later_fire, 0., 0.);
    l->t.data = l;
    ev_timer_start(p->loop, &l->t);
    l->next = p->laters;
    if (p->laters)
        p->laters->prev = l;
    p->laters = l;
}

/* ---- the socket to the helper ------------------------------------------------------------- */

static void oq_free(tun_priv *p)
{
    while (p->oq) {
        outmsg *o = p->oq;
        p->oq = o->next;
        OPENSSL_cleanse(o->data, o->len);
        free(o);
    }
    p->oq_tail = &p->oq;
    p->n_oq = 0;
}

static void net_write(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    tun_priv *p = w->data;
    while (p->oq) {
        outmsg *o = p->oq;
        ssize_t n = send(p->sock, o->data, o->len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return;
        if (n < 0) {
            /* The helper is gone; net_read notices and ends the process. */
            oq_free(p);
            break;
        }
        p->oq = o->next;
        if (p->oq == NULL)
            p->oq_tail = &p->oq;
        p->n_oq--;
        OPENSSL_cleanse(o->data, o->len);
        free(o);
    }
    ev_io_stop(loop, w);
}

static int net_send(tun_priv *p, const uint8_t *data, size_t len, int fd)
{
    if (p->oq == NULL || fd >= 0) {
        /* A message with a descriptor is never queued: it goes now (the
         * only one is CONN_NEW, and an accept can wait for room). */
        if (tun_send_fds(p->sock, data, len, &fd, fd >= 0 ? 1 : 0) == 0)
            return 0;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return SSH_ERR_CONN_LOST;
        if (fd >= 0)
            return SSH_ERR_AGAIN;
    }
    if (p->n_oq >= MAX_QUEUED)
        return SSH_ERR_ALLOC;
    outmsg *o = malloc(sizeof(*o) + len);
    if (o == NULL)
        return SSH_ERR_ALLOC;
    o->next = NULL;
    o->len = len;
    memcpy(o->data, data, len);
    *p->oq_tail = o;
    p->oq_tail = &o->next;
    p->n_oq++;
    ev_io_start(p->loop, &p->wio);
    return 0;
}

static void net_read(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    tun_priv *p = w->data;
    static uint8_t buf[TUN_PRIV_MSG_MAX];
    int fds[3], nfds = 0;
    int n = tun_recv_fds(w->fd, buf, sizeof(buf), fds, &nfds);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        tun_error("sshtund: the privileged helper is gone; exiting");
        exit(1);
    }
    deliver(p, buf, (size_t)n, fds, nfds);
    OPENSSL_cleanse(buf, (size_t)n);
}

/* ---- answers ----------------------------------------------------------------------------------
 */

static void deliver(tun_priv *p, const uint8_t *msg, size_t len, int *fds, int nfds)
{
    ssh_cur c;
    uint32_t type, id;
    int used = 0;
    ssh_cur_init(&c, msg, len);
    /* The privileged side's descriptors are blocking; this process never
     * blocks. */
    for (int i = 0; i < nfds; i++)
        tun_set_nonblock(fds[i], 1);
    if (ssh_cur_get_u32(&c, &type) != 0 || ssh_cur_get_u32(&c, &id) != 0)
        goto out;
    if (type == TUN_PRIV_EV_EXIT) {
        uint32_t pid, status;
        if (ssh_cur_get_u32(&c, &pid) == 0 && ssh_cur_get_u32(&c, &status) == 0 && p->on_exit)
            p->on_exit(p->exit_arg, (pid_t)pid, (int)status);
        goto out;
    }
    if (type == TUN_PRIV_EV_DROP || type == TUN_PRIV_EV_ACCEPT) {
        uint64_t token;
        uint32_t n;
        if (ssh_cur_get_u64(&c, &token) == 0 && ssh_cur_get_u32(&c, &n) == 0 && p->on_verdict)
            p->on_verdict(p->verdict_arg, token, type == TUN_PRIV_EV_ACCEPT, n);
        goto out;
    }
    pending **pp = &p->pend;
    while (*pp && (*pp)->id != id)
        pp = &(*pp)->next;
    if (*pp == NULL)
        goto out;
    pending *pd = *pp;
    *pp = pd->next;
    if (pd->cb == NULL || type != (pd->type | TUN_PRIV_REPLY)) {
        free(pd);
        goto out;
    }
    switch (pd->type) {
    case TUN_PRIV_AUTH: {
        tun_auth_result r;
        memset(&r, 0, sizeof(r));
        if (ssh_cur_get_bool(&c, &r.ok) != 0 || ssh_cur_get_u32(&c, &r.uid) != 0 ||
            tun_keyopts_decode(&c, &r.opts) != 0) {
            tun_keyopts_free(&r.opts);
            memset(&r, 0, sizeof(r));
        }
        ((tun_priv_auth_cb)pd->cb)(pd->arg, &r);
        tun_keyopts_free(&r.opts);
        break;
    }
    case TUN_PRIV_SPAWN: {
        tun_spawn_result r;
        memset(&r, 0, sizeof(r));
        uint32_t e = EIO, pid = 0;
        r.fd_in = r.fd_out = r.fd_err = -1;
        if (ssh_cur_get_u32(&c, &e) == 0 && ssh_cur_get_u32(&c, &pid) == 0 &&
            ssh_cur_get_bool(&c, &r.pty) == 0 && ssh_cur_get_cstr(&c, r.tty, sizeof(r.tty)) == 0 &&
            e == 0 && nfds >= 2) {
            r.pid = (pid_t)pid;
            r.fd_in = fds[0];
            r.fd_out = fds[1];
            r.fd_err = nfds >= 3 ? fds[2] : -1;
            used = nfds;
        }
        r.err = (int)e;
        if (r.err == 0 && used == 0)
            r.err = EIO;
        ((tun_priv_spawn_cb)pd->cb)(pd->arg, &r);
        break;
    }
    case TUN_PRIV_LOAD: {
        int ok = 0;
        const uint8_t *d = NULL;
        size_t dl = 0;
        if (ssh_cur_get_bool(&c, &ok) != 0 || ssh_cur_get_string(&c, &d, &dl) != 0)
            ok = 0;
        ((tun_priv_load_cb)pd->cb)(pd->arg, ok, d, ok ? dl : 0);
        break;
    }
    case TUN_PRIV_PROVE:
    case TUN_PRIV_SIGN: {
        int ok = 0;
        const uint8_t *sig = NULL;
        size_t sl = 0;
        if (ssh_cur_get_bool(&c, &ok) != 0 || ssh_cur_get_string(&c, &sig, &sl) != 0)
            ok = 0;
        ((tun_priv_sign_cb)pd->cb)(pd->arg, ok ? sig : NULL, ok ? sl : 0);
        break;
    }
    case TUN_PRIV_X11: {
        uint32_t e = EIO, display = 0;
        if (ssh_cur_get_u32(&c, &e) != 0 || ssh_cur_get_u32(&c, &display) != 0 ||
            (e == 0 && (nfds < 1 || nfds > 2)))
            e = e ? e : EIO;
        if (e == 0)
            used = nfds;
        ((tun_priv_x11_cb)pd->cb)(pd->arg, (int)e, display, fds, e == 0 ? nfds : 0);
        break;
    }
    case TUN_PRIV_AGENT:
    case TUN_PRIV_UNIX: {
        uint32_t e = EIO;
        int fd = -1;
        if (ssh_cur_get_u32(&c, &e) == 0 && e == 0 && nfds == 1) {
            fd = fds[0];
            used = 1;
        }
        ((tun_priv_fd_cb)pd->cb)(pd->arg, fd, fd >= 0 ? 0 : (int)(e ? e : EIO));
        break;
    }
    default:
        break;
    }
    free(pd);
out:
    for (int i = used; i < nfds; i++)
        close(fds[i]);
}

/* ---- requests
 * ------------------------------------------------------------------------------------ */

/* Send `body` as a request of `type` for `conn`; with `cb`, remember it
 * for the answer.  `fd` (or -1) is attached. */
static int submit(tun_priv *p, uint32_t type, uint64_t conn, const ssh_buf *body, int fd, void *cb,
                  void *arg)
{
    uint32_t id = ++p->next_id;
    if (id == 0)
        id = ++p->next_id;
    ssh_buf m;
    ssh_buf_init(&m, TUN_PRIV_MSG_MAX, SSH_BUF_SECRET);
    ssh_buf_put_u32(&m, type);
    ssh_buf_put_u32(&m, id);
    ssh_buf_put_u64(&m, conn);
    int rv = body ? ssh_buf_put(&m, ssh_buf_ptr(body), ssh_buf_len(body)) : 0;
    if (rv != 0) {
        ssh_buf_free(&m);
        return rv;
    }
    pending *pd = NULL;
    if (cb) {
        pd = calloc(1, sizeof(*pd));
        if (pd == NULL) {
            ssh_buf_free(&m);
            return SSH_ERR_ALLOC;
        }
        pd->id = id;
        pd->type = type;
        pd->conn = conn;
        pd->cb = cb;
        pd->arg = arg;
        pd->next = p->pend;
        p->pend = pd;
    }
    if (p->helper) {
        rv = net_send(p, ssh_buf_ptr(&m), ssh_buf_len(&m), fd);
    } else {
        int fds[1] = {fd >= 0 ? dup(fd) : -1};
        tun_privd_request(p->local, ssh_buf_ptr(&m), ssh_buf_len(&m), fds, fds[0] >= 0 ? 1 : 0);
    }
    ssh_buf_free(&m);
    if (rv != 0 && pd) {
        p->pend = pd->next;
        free(pd);
    }
    return rv;
}

int tun_priv_conn_new(tun_priv *p, uint64_t conn, int fd, const uint8_t *proxy_hdr, size_t hdr_len)
{
    if (proxy_hdr == NULL)
        return submit(p, TUN_PRIV_CONN_NEW, conn, NULL, fd, NULL, NULL);
    ssh_buf b;
    ssh_buf_init(&b, TUN_PRIV_MSG_MAX, 0);
    int rv = ssh_buf_put_string(&b, proxy_hdr, hdr_len);
    if (rv == 0)
        rv = submit(p, TUN_PRIV_CONN_NEW, conn, &b, fd, NULL, NULL);
    ssh_buf_free(&b);
    return rv;
}

void tun_priv_conn_end(tun_priv *p, uint64_t conn)
{
    /* Answers still to come for it are of no use to anyone. */
    for (pending **pp = &p->pend; *pp;) {
        if ((*pp)->conn == conn) {
            pending *pd = *pp;
            *pp = pd->next;
            free(pd);
        } else {
            pp = &(*pp)->next;
        }
    }
    submit(p, TUN_PRIV_CONN_END, conn, NULL, -1, NULL, NULL);
}

int tun_priv_auth(tun_priv *p, uint64_t conn, const tun_auth_req *r, tun_priv_auth_cb cb, void *arg)
{
    ssh_buf b;
    ssh_buf_init(&b, TUN_PRIV_MSG_MAX, SSH_BUF_SECRET);
    ssh_buf_put_cstring(&b, r->user);
    ssh_buf_put_u32(&b, (uint32_t)r->kind);
    ssh_buf_put_cstring(&b, r->alg ? r->alg : "");
    ssh_buf_put_string(&b, r->blob, r->blob ? r->bloblen : 0);
    ssh_buf_put_string(&b, r->sig, r->sig ? r->siglen : 0);
    ssh_buf_put_string(&b, r->data, r->data ? r->datalen : 0);
    ssh_buf_put_cstring(&b, r->password ? r->password : "");
    int rv = submit(p, TUN_PRIV_AUTH, conn, &b, -1, (void *)cb, arg);
    ssh_buf_free(&b);
    return rv;
}

int tun_priv_spawn(tun_priv *p, uint64_t conn, const tun_spawn_req *r, tun_priv_spawn_cb cb,
                   void *arg)
{
    ssh_buf b;
    ssh_buf_init(&b, TUN_PRIV_MSG_MAX, 0);
    ssh_buf_put_u32(&b, r->session);
    ssh_buf_put_cstring(&b, r->what);
    ssh_buf_put_cstring(&b, r->arg ? r->arg : "");
    ssh_buf_put_bool(&b, r->pty);
    ssh_buf_put_cstring(&b, r->term ? r->term : "");
    ssh_buf_put_u32(&b, r->cols);
    ssh_buf_put_u32(&b, r->rows);
    ssh_buf_put_u32(&b, r->width_px);
    ssh_buf_put_u32(&b, r->height_px);
    ssh_buf_put_string(&b, r->modes, r->modes ? r->modes_len : 0);
    ssh_buf_put_u32(&b, (uint32_t)r->n_env);
    for (int i = 0; i < r->n_env; i++) {
        ssh_buf_put_cstring(&b, r->env_names[i]);
        ssh_buf_put_cstring(&b, r->env_values[i]);
    }
    int rv = submit(p, TUN_PRIV_SPAWN, conn, &b, -1, (void *)cb, arg);
    ssh_buf_free(&b);
    return rv;
}

int tun_priv_signal(tun_priv *p, uint64_t conn, uint32_t session, int sig)
{
    ssh_buf b;
    ssh_buf_init(&b, 64, 0);
    ssh_buf_put_u32(&b, session);
    ssh_buf_put_u32(&b, (uint32_t)sig);
    int rv = submit(p, TUN_PRIV_SIGNAL, conn, &b, -1, NULL, NULL);
    ssh_buf_free(&b);
    return rv;
}

int tun_priv_sign(tun_priv *p, uint64_t conn, const uint8_t *blob, size_t bloblen, const char *alg,
                  const uint8_t *h, size_t hlen, tun_priv_sign_cb cb, void *arg)
{
    ssh_buf b;
    ssh_buf_init(&b, 65536, 0);
    ssh_buf_put_string(&b, blob, bloblen);
    ssh_buf_put_cstring(&b, alg);
    ssh_buf_put_string(&b, h, hlen);
    int rv = submit(p, TUN_PRIV_SIGN, conn, &b, -1, (void *)cb, arg);
    ssh_buf_free(&b);
    return rv;
}

int tun_priv_prove(tun_priv *p, uint64_t conn, const uint8_t *req, size_t len, tun_priv_sign_cb cb,
                   void *arg)
{
    ssh_buf b;
    ssh_buf_init(&b, TUN_PRIV_MSG_MAX - 64, 0);
    int rv = ssh_buf_put_string(&b, req, len);
    if (rv == 0)
        rv = submit(p, TUN_PRIV_PROVE, conn, &b, -1, (void *)cb, arg);
    ssh_buf_free(&b);
    return rv;
}

int tun_priv_unix(tun_priv *p, uint64_t conn, const char *path, int listen_it, tun_priv_fd_cb cb,
                  void *arg)
{
    ssh_buf b;
    ssh_buf_init(&b, 1024, 0);
    ssh_buf_put_cstring(&b, path);
    ssh_buf_put_bool(&b, listen_it);
    int rv = submit(p, TUN_PRIV_UNIX, conn, &b, -1, (void *)cb, arg);
    ssh_buf_free(&b);
    return rv;
}

int tun_priv_agent(tun_priv *p, uint64_t conn, uint32_t session, tun_priv_fd_cb cb, void *arg)
{
    ssh_buf b;
    ssh_buf_init(&b, 64, 0);
    ssh_buf_put_u32(&b, session);
    int rv = submit(p, TUN_PRIV_AGENT, conn, &b, -1, (void *)cb, arg);
    ssh_buf_free(&b);
    return rv;
}

int tun_priv_x11(tun_priv *p, uint64_t conn, uint32_t session, int single, const char *proto,
                 const char *cookie, uint32_t screen, tun_priv_x11_cb cb, void *arg)
{
    ssh_buf b;
    ssh_buf_init(&b, 4096, SSH_BUF_SECRET);
    ssh_buf_put_u32(&b, session);
    ssh_buf_put_bool(&b, single);
    ssh_buf_put_cstring(&b, proto);
    ssh_buf_put_cstring(&b, cookie);
    ssh_buf_put_u32(&b, screen);
    int rv = submit(p, TUN_PRIV_X11, conn, &b, -1, (void *)cb, arg);
    ssh_buf_free(&b);
    return rv;
}

void tun_priv_sess_end(tun_priv *p, uint64_t conn, uint32_t session)
{
    ssh_buf b;
    ssh_buf_init(&b, 64, 0);
    ssh_buf_put_u32(&b, session);
    submit(p, TUN_PRIV_SESS_END, conn, &b, -1, NULL, NULL);
    ssh_buf_free(&b);
}

int tun_priv_load(tun_priv *p, tun_priv_load_cb cb, void *arg)
{
    return submit(p, TUN_PRIV_LOAD, 0, NULL, -1, (void *)cb, arg);
}

void tun_priv_cancel(tun_priv *p, void *arg)
{
    for (pending *pd = p->pend; pd; pd = pd->next)
        if (pd->arg == arg)
            pd->cb = NULL;
}

/* ---- life cycle
 * ------------------------------------------------------------------------------------ */

tun_priv *tun_priv_new(struct ev_loop *loop, int helper, struct tun_srvsettings *set,
                       tun_priv_exit_fn on_exit, void *arg, const tun_priv_conf *conf)
{
    tun_priv *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->loop = loop;
    p->helper = helper;
    p->sock = -1;
    p->oq_tail = &p->oq;
    p->on_exit = on_exit;
    p->exit_arg = arg;
    if (!helper) {
        p->local = tun_privd_new(loop, 0, set, conf, local_send, p);
        if (p->local == NULL) {
            free(p);
            return NULL;
        }
        return p;
    }
    int sp[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0) {
        free(p);
        return NULL;
    }
    pid_t pid = fork();
    if (pid < 0) {
        close(sp[0]);
        close(sp[1]);
        free(p);
        return NULL;
    }
    if (pid == 0) {
        close(sp[0]);
        tun_privd_helper_main(sp[1], set, conf);
    }
    close(sp[1]);
    p->helper_pid = pid;
    attach(p, sp[0]);
    return p;
}

tun_priv *tun_priv_attach(struct ev_loop *loop, int sock, tun_priv_exit_fn on_exit, void *arg)
{
    tun_priv *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->loop = loop;
    p->helper = 1;
    p->oq_tail = &p->oq;
    p->on_exit = on_exit;
    p->exit_arg = arg;
    attach(p, sock);
    return p;
}

void tun_priv_set_verdict(tun_priv *p, tun_priv_verdict_fn fn, void *arg)
{
    p->on_verdict = fn;
    p->verdict_arg = arg;
}

static void attach(tun_priv *p, int sock)
{
    struct ev_loop *loop = p->loop;
    p->sock = sock;
    tun_set_nonblock(p->sock, 1);
    ev_io_init(&p->rio, net_read, p->sock, EV_READ);
    p->rio.data = p;
    ev_io_start(loop, &p->rio);
    ev_io_init(&p->wio, net_write, p->sock, EV_WRITE);
    p->wio.data = p;
}

void tun_priv_free(tun_priv *p)
{
    if (p == NULL)
        return;
    while (p->pend) {
        pending *pd = p->pend;
        p->pend = pd->next;
        free(pd);
    }
    while (p->laters) {
        later *l = p->laters;
        p->laters = l->next;
        ev_timer_stop(p->loop, &l->t);
        for (int i = 0; i < l->nfds; i++)
            close(l->fds[i]);
        free(l);
    }
    if (p->helper) {
        ev_io_stop(p->loop, &p->rio);
        ev_io_stop(p->loop, &p->wio);
        oq_free(p);
        close(p->sock);
    }
    tun_privd_free(p->local);
    free(p);
}
