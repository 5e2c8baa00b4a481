/*
 * tun_privfwd.c - agent and X11 forwarding on sshtund's privileged side
 * (the AGENT, X11 and SESS_END requests of tun_privproto.h).
 *
 * Both give a session something in its environment - SSH_AUTH_SOCK, or
 * DISPLAY and an xauth entry - so the helper decides them, from its own
 * settings for the connection's user (AllowAgentForwarding, X11Forwarding,
 * X11DisplayOffset, X11UseLocalhost, XAuthLocation) and the key's
 * authorized_keys options (no-agent-forwarding, no-X11-forwarding,
 * restrict), and keeps the result per session: SPAWN puts it into the
 * session's environment (tun_privd.c).  What the network process says
 * about a session is only a name: a setup is tied to (connection, session
 * id), refused twice, bounded in number, and gone with the connection.
 *
 * Agent: a directory /tmp/ssh-XXXXXXXXXX (random name chosen here) is
 * made by a child that became the user, mode 0700, with the listening
 * socket agent.N in it, mode 0600 (tun_ptask_agent_dir); the helper only
 * passes the listening descriptor on, it never touches the path itself.
 * When the session ends (SESS_END, or the connection's end) another such
 * child removes both; nobody waits for it.
 *
 * X11: the helper binds the display's TCP port itself (6000 + N, N from
 * X11DisplayOffset up, on the loopback addresses unless X11UseLocalhost
 * is off) - no user file is involved and binding does not block - so the
 * network process cannot choose the display a session is told about.
 * The protocol name and the cookie go into `xauth add`, run by the
 * session process as the user before its command (tun_spawn.c); both are
 * checked to be words xauth reads as one, as sshd does.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "tun_privd.h"
#include "tun_log.h"
#include "tun_sock.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#define AGENT_TIMEOUT   10.0
#define X11_MAX_DISPLAY 1000 /* displays tried from X11DisplayOffset (sshd's MAX_DISPLAYS) */

struct psess {
    uint32_t session;
    char agent_dir[32]; /* "" when none */
    char agent_sock[64];
    int agent_ready; /* the socket exists */
    pop *agent_op;   /* its creation, under way */
    int x11;         /* a display was set up */
    unsigned x11_display, x11_screen;
    char x11_proto[64];
    char x11_cookie[1025];
    psess *next;
};

static psess *find(pconn *c, uint32_t session)
{
    for (psess *s = c->psess; s; s = s->next)
        if (s->session == session)
            return s;
    return NULL;
}

static psess *find_or_add(pconn *c, uint32_t session)
{
    psess *s = find(c, session);
    if (s)
        return s;
    /* At most as many as the connection may have sessions, and then some
     * (a closed session's record goes at SESS_END). */
    if (c->n_psess >= (unsigned)c->opts.max_sessions + 16)
        return NULL;
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->session = session;
    s->next = c->psess;
    c->psess = s;
    c->n_psess++;
    return s;
}

/* Let go of a session's agent directory (a child removes it as the user). */
static void agent_release(pconn *c, psess *s)
{
    if (s->agent_op) {
        pop *o = s->agent_op;
        s->agent_op = NULL;
        o->data = NULL;
        privd_op_abandon(o);
    }
    if (s->agent_dir[0])
        tun_ptask_agent_cleanup(c->d->loop, c->d->root, &c->u, s->agent_dir, s->agent_sock,
                                AGENT_TIMEOUT);
    s->agent_dir[0] = '\0';
    s->agent_ready = 0;
}

static void psess_free(pconn *c, psess *s)
{
    agent_release(c, s);
    OPENSSL_cleanse(s->x11_cookie, sizeof(s->x11_cookie));
    free(s);
}

void privd_sessions_free(pconn *c)
{
    while (c->psess) {
        psess *s = c->psess;
        c->psess = s->next;
        psess_free(c, s);
    }
    c->n_psess = 0;
}

void privd_sess_end(tun_privd *d, pconn *c, ssh_cur *in)
{
    (void)d;
    uint32_t session;
    if (ssh_cur_get_u32(in, &session) != 0 || ssh_cur_end(in) != 0 || c == NULL)
        return;
    for (psess **pp = &c->psess; *pp; pp = &(*pp)->next) {
        if ((*pp)->session == session) {
            psess *s = *pp;
            *pp = s->next;
            c->n_psess--;
            psess_free(c, s);
            return;
        }
    }
}

/* ---- agent ----------------------------------------------------------------------------------- */

static void answer_fds(tun_privd *d, const pconn *c, uint32_t type, uint32_t id, int err,
                       uint32_t extra, const int *fds, int nfds)
{
    ssh_buf r;
    ssh_buf_init(&r, 64, 0);
    ssh_buf_put_u32(&r, (uint32_t)err);
    if (type == TUN_PRIV_X11)
        ssh_buf_put_u32(&r, extra);
    privd_answer(d, c, type, id, &r, fds, err == 0 ? nfds : 0);
    ssh_buf_free(&r);
}

static void agent_op_cleanup(pop *o)
{
    psess *s = o->data;
    if (s)
        s->agent_op = NULL;
}

static void agent_done(void *arg, int fd, int err)
{
    pop *o = arg;
    tun_privd *d = o->c->d;
    psess *s = o->data;
    o->task = NULL;
    if (s) {
        s->agent_op = NULL;
        if (fd >= 0) {
            s->agent_ready = 1;
            tun_verbose("session %u: agent forwarding for %s at %s", s->session, o->c->u.name,
                        s->agent_sock);
        } else {
            tun_info("session %u: agent forwarding for %s failed: %s", s->session, o->c->u.name,
                     strerror(err ? err : EIO));
            s->agent_dir[0] = '\0'; /* the child removed what it made */
        }
    }
    answer_fds(d, o->c, TUN_PRIV_AGENT, o->id, fd >= 0 ? 0 : (err ? err : EIO), 0, &fd, 1);
    if (fd >= 0)
        close(fd);
    o->data = NULL;
    privd_op_done(o);
}

/* Ten random characters, as mkdtemp would pick. */
static int random_name(char *out, size_t n)
{
    static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    uint8_t r[32];
    if (n > sizeof(r) || RAND_bytes(r, (int)n) != 1)
        return -1;
    for (size_t i = 0; i < n; i++)
        out[i] = set[r[i] % (sizeof(set) - 1)];
    out[n] = '\0';
    return 0;
}

void privd_agent(tun_privd *d, uint32_t id, pconn *c, ssh_cur *in)
{
    uint32_t session;
    int e = EPERM;
    if (ssh_cur_get_u32(in, &session) != 0 || ssh_cur_end(in) != 0) {
        e = EINVAL;
        goto refuse;
    }
    if (c == NULL || !c->authenticated)
        goto refuse;
    if (!c->opts.allow_agent_forwarding || (c->have_kopts && c->kopts.no_agent_forwarding)) {
        tun_verbose("session %u: agent forwarding refused for %s (%s)", session, c->u.name,
                    !c->opts.allow_agent_forwarding ? "AllowAgentForwarding no"
                                                    : "no-agent-forwarding in authorized_keys");
        goto refuse;
    }
    psess *s = find_or_add(c, session);
    if (s == NULL) {
        e = EAGAIN;
        goto refuse;
    }
    if (s->agent_dir[0]) {
        tun_verbose("session %u: agent forwarding requested twice", session);
        e = EEXIST;
        goto refuse;
    }
    char name[16];
    if (random_name(name, 10) != 0) {
        e = EIO;
        goto refuse;
    }
    snprintf(s->agent_dir, sizeof(s->agent_dir), "/tmp/ssh-%s", name);
    snprintf(s->agent_sock, sizeof(s->agent_sock), "%s/agent.%u", s->agent_dir, session);
    pop *o = privd_op_new(c, TUN_PRIV_AGENT, id);
    if (o == NULL) {
        s->agent_dir[0] = '\0';
        e = ENOMEM;
        goto refuse;
    }
    o->data = s;
    o->cleanup = agent_op_cleanup;
    s->agent_op = o;
    o->task = tun_ptask_agent_dir(d->loop, d->root, &c->u, s->agent_dir, s->agent_sock,
                                  AGENT_TIMEOUT, agent_done, o);
    if (o->task != NULL)
        return;
    e = errno ? errno : EIO;
    s->agent_op = NULL;
    s->agent_dir[0] = '\0';
    o->data = NULL;
    privd_op_done(o);
refuse:
    answer_fds(d, c, TUN_PRIV_AGENT, id, e, 0, NULL, 0);
}

/* ---- X11 ----------------------------------------------------------------------------------------
 */

/* sshd's xauth_valid_string: what xauth reads as one word. */
static int xauth_word_ok(const char *s)
{
    if (*s == '\0')
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '.' || *s == ':' || *s == '/' || *s == '-' || *s == '_'))
            return 0;
    return 1;
}

/* Listen on the display's port: loopback (127.0.0.1 and ::1 where it
 * exists) or every address.  The number of descriptors, 0 when the port
 * is taken. */
static int bind_display(int port, int localhost, int fds[2])
{
    static const uint8_t lo6[16] = {[15] = 1}, any6[16] = {0};
    uint8_t lo4[4] = {127, 0, 0, 1}, any4[4] = {0, 0, 0, 0};
    char err[256];
    int n = 0;
    int fd = tun_listen_tcp(AF_INET, localhost ? lo4 : any4, port, err, sizeof(err));
    if (fd >= 0)
        fds[n++] = fd;
    else if (fd == -1)
        return 0;
    fd = tun_listen_tcp(AF_INET6, localhost ? lo6 : any6, port, err, sizeof(err));
    if (fd >= 0) {
        fds[n++] = fd;
    } else if (fd == -1) {
        while (n > 0)
            close(fds[--n]);
        return 0;
    }
    return n;
}

void privd_x11(tun_privd *d, uint32_t id, pconn *c, ssh_cur *in)
{
    uint32_t session, screen;
    int single;
    char proto[64], cookie[1025];
    int e = EPERM, fds[2], nfds = 0;
    unsigned display = 0;
    if (ssh_cur_get_u32(in, &session) != 0 || ssh_cur_get_bool(in, &single) != 0 ||
        ssh_cur_get_cstr(in, proto, sizeof(proto)) != 0 ||
        ssh_cur_get_cstr(in, cookie, sizeof(cookie)) != 0 || ssh_cur_get_u32(in, &screen) != 0 ||
        ssh_cur_end(in) != 0) {
        e = EINVAL;
        goto out;
    }
    if (c == NULL || !c->authenticated)
        goto out;
    const tun_srvcfg *cfg = &c->set->cfg;
    if (!c->opts.x11_forwarding || (c->have_kopts && c->kopts.no_x11_forwarding)) {
        tun_verbose("session %u: X11 forwarding refused for %s (%s)", session, c->u.name,
                    !c->opts.x11_forwarding ? "X11Forwarding no"
                                            : "no-X11-forwarding in authorized_keys");
        goto out;
    }
    if (cfg->xauth_location == NULL || access(cfg->xauth_location, X_OK) != 0) {
        tun_info("No xauth program; cannot forward X11.");
        goto out;
    }
    if (!xauth_word_ok(proto) || !xauth_word_ok(cookie) || screen > 1000) {
        tun_info("session %u: X11 request with an invalid protocol, cookie or screen", session);
        e = EINVAL;
        goto out;
    }
    psess *s = find_or_add(c, session);
    if (s == NULL) {
        e = EAGAIN;
        goto out;
    }
    if (s->x11) {
        tun_verbose("session %u: X11 forwarding already active", session);
        e = EEXIST;
        goto out;
    }
    int offset = c->opts.x11_display_offset;
    for (int n = offset; n < offset + X11_MAX_DISPLAY && 6000 + n <= 65535; n++) {
        nfds = bind_display(6000 + n, c->opts.x11_use_localhost, fds);
        if (nfds > 0) {
            display = (unsigned)n;
            break;
        }
    }
    if (nfds == 0) {
        tun_error("Failed to allocate internet-domain X11 display socket.");
        e = EADDRINUSE;
        goto out;
    }
    s->x11 = 1;
    s->x11_display = display;
    s->x11_screen = screen;
    snprintf(s->x11_proto, sizeof(s->x11_proto), "%s", proto);
    snprintf(s->x11_cookie, sizeof(s->x11_cookie), "%s", cookie);
    tun_verbose("session %u: X11 forwarding for %s on display %u", session, c->u.name, display);
    e = 0;
out:
    OPENSSL_cleanse(cookie, sizeof(cookie));
    answer_fds(d, c, TUN_PRIV_X11, id, e, display, fds, nfds);
    for (int i = 0; e == 0 && i < nfds; i++)
        close(fds[i]);
}

/* ---- what SPAWN adds ----------------------------------------------------------------------------
 */

int privd_session_forwarding(pconn *c, uint32_t session, privd_sessfwd *out)
{
    memset(out, 0, sizeof(*out));
    psess *s = find(c, session);
    if (s == NULL)
        return 0;
    if (s->agent_ready)
        snprintf(out->auth_sock, sizeof(out->auth_sock), "%s", s->agent_sock);
    if (s->x11) {
        char host[256] = "";
        int local = c->opts.x11_use_localhost;
        if (!local && gethostname(host, sizeof(host)) != 0)
            snprintf(host, sizeof(host), "localhost");
        host[sizeof(host) - 1] = '\0';
        /* As sshd: DISPLAY over TCP, and the xauth entry under the name
         * Xlib looks up for it (the local host's, for "localhost"). */
        if (local) {
            snprintf(out->display, sizeof(out->display), "localhost:%u.%u", s->x11_display,
                     s->x11_screen);
            snprintf(out->xauth_display, sizeof(out->xauth_display), "unix:%u.%u", s->x11_display,
                     s->x11_screen);
        } else {
            snprintf(out->display, sizeof(out->display), "%s:%u.%u", host, s->x11_display,
                     s->x11_screen);
            snprintf(out->xauth_display, sizeof(out->xauth_display), "%s/unix:%u.%u", host,
                     s->x11_display, s->x11_screen);
        }
        snprintf(out->xauth_input, sizeof(out->xauth_input), "remove %s\nadd %s %s %s\n",
                 out->xauth_display, out->xauth_display, s->x11_proto, s->x11_cookie);
    }
    return 1;
}
