/*
 * tun_muxmaster.c - the connection sharing master (see tun_mux.h).
 *
 * Reading mux packets: the length, then exactly that many bytes - never
 * more, because the bytes that follow a NEW_SESSION request carry the
 * passed descriptors (SCM_RIGHTS), which a plain read() would discard.
 * Packets are bounded (MUX_PACKET_MAX) and a client that disconnects in the
 * middle of anything is simply dropped.
 *
 * The socket is created atomically: bound under a temporary name with
 * umask 0177 (so it is 0600 from birth), then link()ed to its final name,
 * which fails if something is already there.  A socket left by a dead
 * master (connect() refused) is replaced; a live one is never taken over.
 * Every accepted client's uid is checked with SO_PEERCRED: only our uid
 * and root may use the master, whatever the socket's mode.
 *
 * Lifetimes: almost anything can end a mux client or a session from deep
 * inside a callback (a failed write, a connection dying during a kick,
 * MUX_C_TERMINATE tearing the master down), so mux clients and sessions
 * are never freed where they are dropped: a dropped client goes to a
 * graveyard emptied from a timer, a finished session is freed by its own
 * `reap` timer.  Every session, whether its client is connected or gone,
 * is on the master's list, so a dying connection finds all of its own.
 *
 * Reconnect: the primary connection may be lost and come back
 * (tun_mux_primary_lost / _back).  Meanwhile the master keeps its socket;
 * sessions that ran on the lost connection end (status 255 and the
 * reason, as when a connection dies), new ones wait on the primary (at
 * most wait_limit seconds, then they are refused with the state of the
 * tunnel in the message) and start as soon as it is back.
 */
#define _GNU_SOURCE /* struct ucred, accept4 */
#include "tun_log.h"
#include "tun_sock.h"
#include "tun_mux.h"
#include "tun_muxproto.h"
#include "tun_prompt.h"
#include "tun_session.h"
#include "tun_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/rand.h>

#define EXTRA_IDLE_SECS 10.0
#define MAX_REFUSALS    4

typedef struct mconn mconn;
typedef struct mclient mclient;
typedef struct msess msess;

struct mconn {
    tun_mux *m;
    tun_conn *tc; /* NULL: the primary while it is down */
    int primary;
    int ready;
    int dead;
    int down; /* the primary, lost and being re-established */
    int sessions;
    int limit;
    ev_timer idle;
    ev_timer reap;
    mconn *next;
};

/* A mux client's session (or stdio forward).  Owned by its client while
 * the client is connected; a running session whose client went away is an
 * orphan that frees itself when its channel closes.  Frees happen from a
 * timer, never inside the session's own callbacks. */
struct msess {
    tun_mux *m;
    mclient *mc;
    mconn *conn;
    tun_mux_req req;
    int fds[3];
    int stdio;
    tun_session *s;
    uint32_t sid;
    int started;  /* SESSION_OPENED sent (sid is valid; channel ids start at 0) */
    int refusals;
    int waiting;  /* queued for a connection */
    int running;  /* a channel exists (session or stdio forward) */
    int done;     /* finished; freed by `reap` */
    int orphan;   /* counted in tun_mux.orphans */
    ev_timer retry;
    ev_timer reap;
    ev_timer wait;      /* bounds the wait for a primary that is down */
    tun_session *stale; /* refused session to free */
    tun_escape_ops esc; /* escapes of a mux client's terminal session */
    msess *next, *prev; /* tun_mux.sessions */
};

typedef struct fwdctx {
    mclient *mc;
    uint32_t rid;
    int remote0;
    struct fwdctx *next;
} fwdctx;

struct mclient {
    tun_mux *m;
    int fd;
    ev_io rio, wio;
    ssh_buf out;
    uint8_t hdr[4];
    size_t hdr_got;
    ssh_buf body;
    uint32_t body_need;
    int fds_need, fds_got;
    int fds[3];
    tun_mux_req pend;
    int have_pend;
    msess *sess;
    fwdctx *fwds;
    int closing;
    int dead;           /* dropped; freed from the graveyard */
    mclient *next, *prev;
    mclient *next_dead; /* tun_mux.graveyard */
};

struct tun_mux {
    struct ev_loop *loop;
    char *path;
    int lfd;
    ev_io lio;
    const tun_options *o;
    char *host;
    tun_resolver *res;
    tun_idstore *ids;
    tun_mux_hooks hooks;
    void *arg;
    mconn *conns;
    mclient *clients;
    mclient *graveyard; /* dropped clients, freed by `gc` */
    ev_timer gc;
    msess *sessions;    /* every session, with or without its client */
    int learned_limit;  /* sessions per connection the server allows (0: unknown) */
    int nclients;
    int own_sessions;
    int orphans; /* running sessions whose client has gone */
    int persist;
    ev_timer idle;
    double wait_limit; /* seconds a new session waits while the primary is down */
};

static void client_drop(mclient *mc);
static void place(tun_mux *m, msess *ms);
static void check_idle(tun_mux *m);

/* Flush a connection's output, if it has one that is alive. */
static void conn_kick(mconn *c)
{
    if (c && c->tc && !c->dead && !c->down)
        tun_conn_kick(c->tc);
}

/* ---- small helpers ------------------------------------------------------------------------- */

static int ask_permission(tun_mux *m, const char *what)
{
    if (m->o->control_master != 2 && m->o->control_master != 4)
        return 1;
    char prompt[1200], ans[64];
    snprintf(prompt, sizeof(prompt), "%s %s? (yes/no) ", what, m->host);
    if (tun_prompt(prompt, 1, ans, sizeof(ans)) != 0)
        return 0;
    return strcmp(ans, "yes") == 0 || strcmp(ans, "y") == 0;
}

static void client_flush(mclient *mc)
{
    if (mc->dead)
        return;
    while (mc->out.len > 0) {
        ssize_t w = write(mc->fd, ssh_buf_ptr(&mc->out), mc->out.len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            client_drop(mc);
            return;
        }
        ssh_buf_consume(&mc->out, (size_t)w);
    }
    if (mc->out.len > 0) {
        ev_io_start(mc->m->loop, &mc->wio);
        return;
    }
    ev_io_stop(mc->m->loop, &mc->wio);
    if (mc->closing)
        client_drop(mc);
}

static void reply_u32(mclient *mc, uint32_t type, uint32_t rid, uint32_t v)
{
    if (mc->dead)
        return;
    tun_mux_put_u32(&mc->out, type, rid, v);
    client_flush(mc);
}

static void reply_text(mclient *mc, uint32_t type, uint32_t rid, const char *text)
{
    if (mc->dead)
        return;
    tun_mux_put_text(&mc->out, type, rid, text);
    client_flush(mc);
}

static void reply_ok(mclient *mc, uint32_t rid)
{
    if (mc->dead)
        return;
    tun_mux_put_simple(&mc->out, MUX_S_OK, rid);
    client_flush(mc);
}

/* Send what is queued, then close (after a session ended, after a fatal
 * reply).  Nothing more is read from it. */
static void client_finish(mclient *mc)
{
    if (mc->dead)
        return;
    mc->closing = 1;
    ev_io_stop(mc->m->loop, &mc->rio);
    client_flush(mc);
}

/* Write a line to the mux client's own stderr (its session's fd 2). */
static void tell_client(msess *ms, const char *msg)
{
    int fd = ms->stdio ? -1 : ms->fds[2];
    if (fd < 0 || msg == NULL || *msg == '\0')
        return;
    char line[700];
    int n = snprintf(line, sizeof(line), "%s\r\n", msg);
    if (n > 0 && write(fd, line, (size_t)n) < 0) {
        /* the client's terminal is gone; nothing to do */
    }
}

/* ---- connections of the pool ---------------------------------------------------------------- */

static void conn_reap(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    mconn *c = w->data;
    tun_mux *m = c->m;
    for (mconn **pp = &m->conns; *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    ev_timer_stop(m->loop, &c->idle);
    tun_conn_free(c->tc);
    free(c);
}

static void conn_idle(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    mconn *c = w->data;
    if (c->sessions == 0 && !c->dead) {
        tun_debug("closing idle extra connection to %s", c->m->host);
        tun_conn_close(c->tc);
    }
}

static void conn_session_ended(mconn *c)
{
    c->sessions--;
    if (!c->primary && c->sessions == 0 && !c->dead) {
        ev_timer_set(&c->idle, EXTRA_IDLE_SECS, 0.);
        ev_timer_start(c->m->loop, &c->idle);
    }
}

static void fail_waiting_on(tun_mux *m, mconn *c, const char *why);

static void on_extra_ready(tun_conn *tc, void *arg)
{
    (void)tc;
    mconn *c = arg;
    c->ready = 1;
    tun_debug("extra connection to %s ready", c->m->host);
    /* Place everything that waits for this connection.  (Placing never
     * frees a session, so the list stays walkable.) */
    for (msess *ms = c->m->sessions; ms; ms = ms->next)
        if (ms->waiting && ms->conn == c && !ms->done && ms->mc)
            place(c->m, ms);
}

static void on_extra_dead(tun_conn *tc, const char *msg, void *arg)
{
    (void)tc;
    mconn *c = arg;
    tun_mux *m = c->m;
    c->dead = 1;
    c->ready = 0;
    if (msg && *msg)
        tun_error("extra connection to %s: %s", m->host, msg);
    fail_waiting_on(m, c, msg && *msg ? msg : "connection closed");
    /* Every session running on it, also those whose client has gone. */
    for (msess *ms = m->sessions; ms; ms = ms->next)
        if (ms->conn == c && ms->s && !ms->waiting && !ms->done)
            tun_session_abort(ms->s, "connection to the server lost");
    ev_timer_set(&c->reap, 0., 0.);
    ev_timer_start(m->loop, &c->reap);
}

static mconn *conn_add(tun_mux *m, tun_conn *tc, int primary)
{
    mconn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->m = m;
    c->tc = tc;
    c->primary = primary;
    c->ready = primary;
    c->limit = m->o->max_sessions;
    /* The same server refused more than this on another connection. */
    if (m->learned_limit > 0 && m->learned_limit < c->limit)
        c->limit = m->learned_limit;
    ev_timer_init(&c->idle, conn_idle, EXTRA_IDLE_SECS, 0.);
    c->idle.data = c;
    ev_timer_init(&c->reap, conn_reap, 0., 0.);
    c->reap.data = c;
    if (primary) {
        c->next = m->conns;
        m->conns = c;
    } else {
        mconn **pp = &m->conns;
        while (*pp)
            pp = &(*pp)->next;
        *pp = c;
    }
    return c;
}

/* Agent and X11 channels the server opens on another connection. */
static int on_extra_open(tun_conn *tc, uint32_t id, const ssh_channel_open_info *info,
                         const char **why, void *arg)
{
    mconn *c = arg;
    tun_mux *m = c->m;
    if (m->hooks.remote_open)
        return m->hooks.remote_open(m->arg, tun_conn_link(tc), id, info, why);
    *why = "open refused";
    return -SSH_OPEN_ADMINISTRATIVELY_PROHIBITED;
}

static mconn *conn_new_extra(tun_mux *m)
{
    tun_conn_hooks h = {on_extra_ready, on_extra_dead, on_extra_open};
    mconn *c = conn_add(m, NULL, 0);
    if (c == NULL)
        return NULL;
    c->tc = tun_conn_start(m->loop, m->o, m->host, m->res, m->ids, &h, c);
    if (c->tc == NULL) {
        for (mconn **pp = &m->conns; *pp; pp = &(*pp)->next)
            if (*pp == c) {
                *pp = c->next;
                break;
            }
        free(c);
        return NULL;
    }
    tun_info("Opening another connection to %s for more sessions", m->host);
    return c;
}

/* ---- sessions ---------------------------------------------------------------------------------- */

static void msess_free(msess *ms)
{
    if (ms == NULL)
        return;
    if (ms->prev)
        ms->prev->next = ms->next;
    else if (ms->m->sessions == ms)
        ms->m->sessions = ms->next;
    if (ms->next)
        ms->next->prev = ms->prev;
    ev_timer_stop(ms->m->loop, &ms->retry);
    ev_timer_stop(ms->m->loop, &ms->reap);
    ev_timer_stop(ms->m->loop, &ms->wait);
    if (ms->s)
        tun_session_free(ms->s); /* closes the descriptors it was given */
    if (ms->stale)
        tun_session_free(ms->stale);
    if (ms->s == NULL)
        for (int i = 0; i < 3; i++)
            if (ms->fds[i] >= 0)
                close(ms->fds[i]);
    tun_mux_req_free(&ms->req);
    free(ms);
}

static void ms_reap(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    msess *ms = w->data;
    tun_mux *m = ms->m;
    if (ms->mc)
        ms->mc->sess = NULL;
    if (ms->orphan)
        m->orphans--;
    msess_free(ms);
    check_idle(m);
}

/* A session that never ran (its client left, or it was refused before
 * running): free it soon, never here. */
static void ms_discard(msess *ms)
{
    if (ms->done)
        return;
    ms->done = 1;
    ms->waiting = 0;
    ms->conn = NULL;
    ev_timer_stop(ms->m->loop, &ms->retry);
    ev_timer_stop(ms->m->loop, &ms->wait);
    ev_timer_set(&ms->reap, 0., 0.);
    ev_timer_start(ms->m->loop, &ms->reap);
}

/* The session is over: free it soon (we may be inside its callbacks). */
static void ms_finished(msess *ms)
{
    if (ms->done)
        return;
    ms->done = 1;
    if (ms->conn && ms->running && !ms->stdio) {
        conn_session_ended(ms->conn);
    }
    ms->conn = NULL;
    ev_timer_set(&ms->reap, 0., 0.);
    ev_timer_start(ms->m->loop, &ms->reap);
}

static void ms_started(void *arg, uint32_t id)
{
    msess *ms = arg;
    ms->sid = id;
    ms->started = 1;
    if (ms->mc)
        reply_u32(ms->mc, MUX_S_SESSION_OPENED, ms->req.rid, id);
}

static void ms_done(void *arg, int status, const char *msg)
{
    msess *ms = arg;
    if (msg)
        tell_client(ms, msg);
    mclient *mc = ms->mc;
    ms_finished(ms);
    if (mc == NULL)
        return;
    /* An exec that never started answers the request; otherwise the exit
     * status (OpenSSH sends none after a signal: the client then exits
     * 255, which is what we send). */
    if (!ms->started && !ms->stdio)
        tun_mux_put_text(&mc->out, MUX_S_FAILURE, ms->req.rid, msg ? msg : "session failed");
    else if (!ms->stdio)
        tun_mux_put_u32(&mc->out, MUX_S_EXIT_MESSAGE, ms->sid, (uint32_t)status);
    client_finish(mc);
}

static void ms_tty_failed(void *arg)
{
    msess *ms = arg;
    if (ms->mc)
        reply_u32(ms->mc, MUX_S_TTY_ALLOC_FAIL, ms->sid, 0);
}

static void ms_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    msess *ms = w->data;
    if (ms->stale) {
        tun_session_free(ms->stale);
        ms->stale = NULL;
    }
    if (ms->mc && !ms->done)
        place(ms->m, ms);
}

/* The server refused the session (MaxSessions, typically): remember this
 * connection's real limit and try elsewhere. */
static int ms_refused(void *arg, uint32_t reason, const char *msg)
{
    msess *ms = arg;
    mconn *c = ms->conn;
    if (c == NULL || ms->mc == NULL)
        return 0;
    /* A session connects nowhere, so any refusal is the server's policy
     * (OpenSSH's sshd answers MaxSessions with "connect failed: open
     * failed"). */
    (void)reason;
    if (++ms->refusals >= MAX_REFUSALS)
        return 0;
    /* The server answers opens in order, so every session it accepted on
     * this connection before refusing this one is confirmed by now: that
     * is its limit.  (Counting the opens still in flight instead would
     * learn nothing when many are sent at once.) */
    tun_mux *m = ms->m;
    int accepted = c->primary ? m->own_sessions : 0;
    for (msess *o = m->sessions; o; o = o->next)
        if (o != ms && o->conn == c && o->running && !o->done && o->started && !o->stdio)
            accepted++;
    ms->running = 0;
    tun_verbose("server refused a session on a connection with %d open (%s); using another "
                "connection", accepted, msg ? msg : "");
    int limit = accepted > 0 ? accepted : 1;
    if (limit < c->limit)
        c->limit = limit;
    if (m->learned_limit == 0 || limit < m->learned_limit) {
        m->learned_limit = limit;
        /* Connections still on their way up will be no different. */
        for (mconn *o = m->conns; o; o = o->next)
            if (!o->ready && !o->dead && o->limit > limit)
                o->limit = limit;
    }
    conn_session_ended(c);
    ms->conn = NULL;
    ms->stale = ms->s; /* freed from the loop, not from inside its callback */
    ms->s = NULL;
    ev_timer_set(&ms->retry, 0., 0.);
    ev_timer_start(ms->mc->m->loop, &ms->retry);
    return 1;
}

static void kick_primary(tun_mux *m)
{
    if (m->conns && m->conns->primary)
        conn_kick(m->conns);
}

/* Answer a session request that cannot be served, and end its client. */
static void refuse(msess *ms, const char *why)
{
    mclient *mc = ms->mc;
    ms_discard(ms);
    if (mc) {
        reply_text(mc, MUX_S_FAILURE, ms->req.rid, why);
        client_finish(mc);
    }
}

/* ~. in a mux client's session ends that session only (as ssh's master
 * does); the other escapes a master cannot do for a client say so. */
static void ms_esc_quit(void *arg)
{
    msess *ms = arg;
    if (ms->s)
        tun_session_close(ms->s);
}

static void ms_esc_list(void *arg, char *buf, size_t len)
{
    msess *ms = arg;
    snprintf(buf, len, "The following connections are open:\r\n  #%u client-session (%s)\r\n",
             ms->s ? tun_session_id(ms->s) : 0, "multiplexed");
}

static void start_on(tun_mux *m, mconn *c, msess *ms)
{
    ms->waiting = 0;
    ms->conn = c;
    ms->running = 1;
    c->sessions++;
    ev_timer_stop(m->loop, &c->idle);
    tun_mux_req *r = &ms->req;
    tun_session_params p = {
        .loop = m->loop,
        .link = tun_conn_link(c->tc),
        .o = m->o,
        .host = m->host,
        .command = r->command && *r->command ? r->command : NULL,
        .subsystem = r->subsystem != 0,
        .fd_in = ms->fds[0],
        .fd_out = ms->fds[1],
        .fd_err = ms->fds[2],
        .own_stdio = 0,
        .tty = r->want_tty != 0,
        .term = r->term,
        .env = r->env,
        .n_env = (int)r->n_env,
        .send_local_env = 0,
        .done = ms_done,
        .tty_failed = ms_tty_failed,
        .started = ms_started,
        .open_refused = ms_refused,
        .arg = ms,
    };
    /* The client's escape character, on a terminal session (ssh's master
     * does the same). */
    if (r->want_tty && r->escape_char < 256) {
        memset(&ms->esc, 0, sizeof(ms->esc));
        ms->esc.quit = ms_esc_quit;
        ms->esc.list = ms_esc_list;
        ms->esc.arg = ms;
        p.escape_ops = &ms->esc;
        p.escape_char = (int)r->escape_char;
    }
    if (m->hooks.session_fwd && (r->want_agent || r->want_x11))
        m->hooks.session_fwd(m->arg, r->want_agent != 0, r->want_x11 != 0, &p);
    ms->s = tun_session_start(&p);
    if (ms->s == NULL) {
        conn_session_ended(c);
        ms->conn = NULL;
        ms->running = 0;
        refuse(ms, "could not open a session channel");
        return;
    }
    conn_kick(c);
}

static void stdio_done(void *arg, int status)
{
    msess *ms = arg;
    mclient *mc = ms->mc;
    ms_finished(ms);
    if (mc == NULL)
        return;
    if (!ms->started && status != 0)
        tun_mux_put_text(&mc->out, MUX_S_FAILURE, ms->req.rid, "stdio forwarding failed");
    client_finish(mc);
}

static void wait_expired(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    msess *ms = w->data;
    tun_mux *m = ms->m;
    if (!ms->waiting || ms->done)
        return;
    char state[400] = "", msg[600];
    if (m->hooks.state)
        m->hooks.state(m->arg, state, sizeof(state));
    snprintf(msg, sizeof(msg), "connection to %s is down (waited %.0f s): %s", m->host,
             m->wait_limit, state[0] ? state : "reconnecting");
    refuse(ms, msg);
}

/* The primary is down: wait for it (bounded) instead of failing. */
static int wait_for_primary(tun_mux *m, msess *ms)
{
    mconn *p = m->conns && m->conns->primary ? m->conns : NULL;
    if (p == NULL || !p->down)
        return 0;
    ms->waiting = 1;
    ms->conn = p;
    if (!ev_is_active(&ms->wait)) {
        ev_timer_set(&ms->wait, m->wait_limit > 0 ? m->wait_limit : 10., 0.);
        ev_timer_start(m->loop, &ms->wait);
    }
    tun_debug("mux: %s waits for the connection to %s to come back",
              ms->stdio ? "stdio forward" : "session", m->host);
    return 1;
}

static void place(tun_mux *m, msess *ms)
{
    if (ms->stdio && wait_for_primary(m, ms))
        return;
    if (ms->stdio) {
        ev_timer_stop(m->loop, &ms->wait);
        tun_fwd *f = m->hooks.fwd ? m->hooks.fwd(m->arg) : NULL;
        ms->waiting = 0;
        if (f == NULL || tun_fwd_stdio(f, ms->req.connect_host, (int)ms->req.connect_port,
                                       ms->fds[0], ms->fds[1], 0, ms_started, stdio_done,
                                       ms) != 0) {
            refuse(ms, "stdio forwarding failed");
            return;
        }
        ms->fds[0] = ms->fds[1] = -1; /* the forward owns them now */
        close(ms->fds[2]);
        ms->fds[2] = -1;
        ms->running = 1;
        /* Send the queued CHANNEL_OPEN now: nothing else would. */
        kick_primary(m);
        return;
    }
    mconn *target = NULL;
    for (mconn *c = m->conns; c && !target; c = c->next)
        if (c->ready && !c->dead && c->sessions < c->limit)
            target = c;
    if (target) {
        ev_timer_stop(m->loop, &ms->wait);
        start_on(m, target, ms);
        return;
    }
    /* No other connection while the primary is re-established: it will
     * be the first to take sessions again. */
    if (wait_for_primary(m, ms))
        return;
    ev_timer_stop(m->loop, &ms->wait);
    /* Wait for a connection on its way up, or bring up another one. */
    for (mconn *c = m->conns; c && !target; c = c->next) {
        if (c->ready || c->dead || c->down)
            continue;
        int queued = 0;
        for (msess *o = m->sessions; o; o = o->next)
            if (o->waiting && o->conn == c)
                queued++;
        if (queued < c->limit)
            target = c;
    }
    if (target == NULL)
        target = conn_new_extra(m);
    if (target == NULL) {
        refuse(ms, "cannot open another connection");
        return;
    }
    ms->waiting = 1;
    ms->conn = target;
}

static void fail_waiting_on(tun_mux *m, mconn *c, const char *why)
{
    for (msess *ms = m->sessions; ms; ms = ms->next) {
        if (ms->waiting && ms->conn == c && !ms->done) {
            char msg[600];
            snprintf(msg, sizeof(msg), "no connection for the session: %s", why);
            refuse(ms, msg);
        }
    }
}

/* ---- requests ----------------------------------------------------------------------------------- */

static int spec_from_req(const tun_mux_req *r, tun_fwdspec *sp)
{
    memset(sp, 0, sizeof(*sp));
    sp->kind = r->fwd_type == MUX_FWD_LOCAL    ? TUN_FWD_LOCAL
               : r->fwd_type == MUX_FWD_REMOTE ? TUN_FWD_REMOTE
                                               : TUN_FWD_DYNAMIC;
    if (r->listen_port == MUX_PORT_STREAMLOCAL) {
        sp->listen_port = -1;
        sp->listen_path = strdup(r->listen_host);
    } else {
        if (r->listen_port > 65535 || (r->listen_port == 0 && sp->kind != TUN_FWD_REMOTE))
            return -1;
        sp->listen_port = (int)r->listen_port;
        /* OpenSSH's client sends "" for no address and "*" for "". */
        if (*r->listen_host)
            sp->listen_host = strdup(r->listen_host);
    }
    if (sp->kind == TUN_FWD_DYNAMIC || (sp->kind == TUN_FWD_REMOTE && *r->connect_host == '\0' &&
                                        r->connect_port == 0)) {
        sp->dynamic = 1;
    } else if (r->connect_port == MUX_PORT_STREAMLOCAL) {
        sp->connect_path = strdup(r->connect_host);
    } else {
        if (r->connect_port == 0 || r->connect_port > 65535 || *r->connect_host == '\0')
            return -1;
        sp->connect_host = strdup(r->connect_host);
        sp->connect_port = (int)r->connect_port;
    }
    return 0;
}

static void fwd_done(void *arg, int ok, int port, const char *err)
{
    fwdctx *x = arg;
    mclient *mc = x->mc;
    if (mc == NULL)
        return;
    for (fwdctx **pp = &mc->fwds; *pp; pp = &(*pp)->next)
        if (*pp == x) {
            *pp = x->next;
            break;
        }
    if (!ok)
        reply_text(mc, MUX_S_FAILURE, x->rid, err ? err : "forwarding failed");
    else if (x->remote0)
        reply_u32(mc, MUX_S_REMOTE_PORT, x->rid, (uint32_t)port);
    else
        reply_ok(mc, x->rid);
    free(x);
}

static void status_text(tun_mux *m, char *buf, size_t len)
{
    size_t o = 0;
    int i = 0;
    o += (size_t)snprintf(buf + o, len - o, "Master running (pid=%d), %d mux client%s\n",
                          (int)getpid(), m->nclients, m->nclients == 1 ? "" : "s");
    for (mconn *c = m->conns; c && o < len; c = c->next, i++) {
        char d[512];
        if (c->down) {
            char state[400] = "";
            if (m->hooks.state)
                m->hooks.state(m->arg, state, sizeof(state));
            snprintf(d, sizeof(d), "%s: %s", m->host, state[0] ? state : "down, reconnecting");
        } else if (c->tc) {
            tun_conn_describe(c->tc, d, sizeof(d));
        } else {
            snprintf(d, sizeof(d), "%s (no connection)", m->host);
        }
        o += (size_t)snprintf(buf + o, len - o, "connection %d%s: %s; %d session%s (max %d)\n", i,
                              c->primary ? " (primary)" : "", d, c->sessions,
                              c->sessions == 1 ? "" : "s", c->limit);
        if (c->primary && m->hooks.fwd && o < len) {
            tun_fwd *f = m->hooks.fwd(m->arg);
            if (f)
                tun_fwd_describe(f, buf + o, len - o);
            o = strlen(buf);
        }
    }
}

static void handle(mclient *mc, tun_mux_req *r, int parse_rv)
{
    tun_mux *m = mc->m;
    if (parse_rv == 1) {
        tun_debug("mux: unsupported request type 0x%08x", r->type);
        reply_text(mc, MUX_S_FAILURE, r->rid, "unsupported mux message");
        return;
    }
    switch (r->type) {
    case MUX_MSG_HELLO:
        if (r->version != MUX_VERSION) {
            tun_error("mux client speaks protocol version %u, not %u", r->version, MUX_VERSION);
            client_drop(mc);
        }
        return;
    case MUX_C_ALIVE_CHECK:
        reply_u32(mc, MUX_S_ALIVE, r->rid, (uint32_t)getpid());
        return;
    case MUX_C_TERMINATE:
        if (!ask_permission(m, "Terminate shared connection to")) {
            reply_text(mc, MUX_S_PERMISSION_DENIED, r->rid, "Permission denied");
            return;
        }
        reply_ok(mc, r->rid);
        if (m->hooks.terminate)
            m->hooks.terminate(m->arg);
        return;
    case MUX_C_STOP_LISTENING:
        tun_mux_stop_listening(m);
        reply_ok(mc, r->rid);
        return;
    case MUX_C_SSHTUN_STATUS: {
        char buf[16384];
        status_text(m, buf, sizeof(buf));
        reply_text(mc, MUX_S_SSHTUN_STATUS, r->rid, buf);
        return;
    }
    case MUX_C_OPEN_FWD:
    case MUX_C_CLOSE_FWD: {
        tun_fwd *f = m->hooks.fwd ? m->hooks.fwd(m->arg) : NULL;
        tun_fwdspec sp;
        if (f == NULL || spec_from_req(r, &sp) != 0) {
            if (f)
                tun_fwdspec_free(&sp);
            reply_text(mc, MUX_S_FAILURE, r->rid, "bad forwarding request");
            return;
        }
        if (r->type == MUX_C_CLOSE_FWD) {
            if (tun_fwd_cancel(f, &sp) == 0)
                reply_ok(mc, r->rid);
            else
                reply_text(mc, MUX_S_FAILURE, r->rid, "port not forwarded");
            tun_fwdspec_free(&sp);
            return;
        }
        if (!ask_permission(m, sp.kind == TUN_FWD_REMOTE ? "Open remote forward on"
                                                         : "Open local forward to")) {
            reply_text(mc, MUX_S_PERMISSION_DENIED, r->rid, "Permission denied");
            tun_fwdspec_free(&sp);
            return;
        }
        fwdctx *x = calloc(1, sizeof(*x));
        if (x == NULL) {
            tun_fwdspec_free(&sp);
            reply_text(mc, MUX_S_FAILURE, r->rid, "out of memory");
            return;
        }
        x->mc = mc;
        x->rid = r->rid;
        x->remote0 = sp.kind == TUN_FWD_REMOTE && sp.listen_port == 0;
        x->next = mc->fwds;
        mc->fwds = x;
        tun_fwd_add_cb(f, &sp, fwd_done, x);
        tun_fwdspec_free(&sp);
        /* A remote forward's request is only queued: send it now (nothing
         * else may write to the connection for a long while). */
        kick_primary(m);
        return;
    }
    case MUX_C_PROXY:
        reply_text(mc, MUX_S_FAILURE, r->rid, "proxy mode is not supported");
        return;
    default:
        reply_text(mc, MUX_S_FAILURE, r->rid, "unsupported mux message");
        return;
    }
}

/* NEW_SESSION / NEW_STDIO_FWD with their descriptors received. */
static void handle_with_fds(mclient *mc)
{
    tun_mux *m = mc->m;
    tun_mux_req *r = &mc->pend;
    int stdio = r->type == MUX_C_NEW_STDIO_FWD;
    if (mc->sess != NULL) {
        for (int i = 0; i < mc->fds_got; i++)
            close(mc->fds[i]);
        reply_text(mc, MUX_S_FAILURE, r->rid, "Multiple sessions not supported");
        tun_mux_req_free(r);
        return;
    }
    msess *ms = calloc(1, sizeof(*ms));
    if (ms == NULL) {
        for (int i = 0; i < mc->fds_got; i++)
            close(mc->fds[i]);
        tun_mux_req_free(r);
        client_drop(mc);
        return;
    }
    ms->m = m;
    ms->mc = mc;
    ms->req = *r;
    memset(r, 0, sizeof(*r));
    ms->stdio = stdio;
    ms->fds[0] = mc->fds[0];
    ms->fds[1] = mc->fds[1];
    ms->fds[2] = stdio ? dup(mc->fds[1]) : mc->fds[2];
    ev_timer_init(&ms->retry, ms_retry, 0., 0.);
    ms->retry.data = ms;
    ev_timer_init(&ms->reap, ms_reap, 0., 0.);
    ms->reap.data = ms;
    ev_timer_init(&ms->wait, wait_expired, 0., 0.);
    ms->wait.data = ms;
    ms->next = m->sessions;
    if (m->sessions)
        m->sessions->prev = ms;
    m->sessions = ms;
    mc->sess = ms;
    if (!stdio && !ask_permission(m, "Allow shared connection to")) {
        ms_discard(ms);
        reply_text(mc, MUX_S_PERMISSION_DENIED, ms->req.rid, "Permission denied");
        client_finish(mc);
        return;
    }
    tun_debug("mux: new %s request from client fd %d", stdio ? "stdio forward" : "session",
              mc->fd);
    place(m, ms);
}

/* ---- client I/O ------------------------------------------------------------------------------------ */

/* The one descriptor a client sends with one byte of data: 1 with *fd,
 * 0 if it has not arrived yet, -1 on anything else. */
static int recv_fd(int sock, int *fd)
{
    char ch;
    int fds[3], nfds = 0;
    int n = tun_recv_fds(sock, &ch, 1, fds, &nfds);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return 0;
    if (n != 1 || nfds != 1) {
        for (int i = 0; i < nfds; i++)
            close(fds[i]);
        return -1;
    }
    *fd = fds[0];
    return 1;
}

static void on_client_read(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    mclient *mc = w->data;
    for (int guard = 0; guard < 64 && !mc->dead; guard++) {
        if (mc->fds_need > 0) {
            int fd;
            int r = recv_fd(mc->fd, &fd);
            if (r == 0)
                return;
            if (r < 0) {
                tun_debug("mux: client did not pass its descriptors");
                if (mc->have_pend)
                    reply_text(mc, MUX_S_FAILURE, mc->pend.rid, "did not receive file descriptors");
                client_finish(mc);
                return;
            }
            mc->fds[mc->fds_got++] = fd;
            if (mc->fds_got == mc->fds_need) {
                mc->fds_need = 0;
                mc->have_pend = 0;
                handle_with_fds(mc);
                if (mc->closing || mc->dead)
                    return;
            }
            continue;
        }
        if (mc->hdr_got < 4) {
            ssize_t n = read(mc->fd, mc->hdr + mc->hdr_got, 4 - mc->hdr_got);
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
            if (n <= 0) {
                client_drop(mc);
                return;
            }
            mc->hdr_got += (size_t)n;
            if (mc->hdr_got < 4)
                return;
            mc->body_need = ssh_peek_u32(mc->hdr);
            if (mc->body_need < 4 || mc->body_need > MUX_PACKET_MAX) {
                tun_error("mux: bad packet length %u from client", mc->body_need);
                client_drop(mc);
                return;
            }
            ssh_buf_reset(&mc->body);
        }
        uint8_t *p;
        size_t want = mc->body_need - mc->body.len;
        if (ssh_buf_reserve(&mc->body, want, &p) != 0) {
            client_drop(mc);
            return;
        }
        /* Exactly the rest of this packet: the descriptors may follow. */
        ssize_t n = read(mc->fd, p, want);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n <= 0) {
            client_drop(mc);
            return;
        }
        ssh_buf_commit(&mc->body, (size_t)n);
        if (mc->body.len < mc->body_need)
            continue;
        mc->hdr_got = 0;
        tun_mux_req r;
        int rv = tun_mux_parse(ssh_buf_ptr(&mc->body), mc->body.len, &r);
        if (rv < 0) {
            tun_error("mux: malformed request from client");
            client_drop(mc);
            return;
        }
        if (rv == 0 && (r.type == MUX_C_NEW_SESSION || r.type == MUX_C_NEW_STDIO_FWD)) {
            mc->pend = r;
            mc->have_pend = 1;
            mc->fds_need = r.type == MUX_C_NEW_SESSION ? 3 : 2;
            mc->fds_got = 0;
            continue;
        }
        handle(mc, &r, rv);
        tun_mux_req_free(&r);
        /* The request may have ended this client, or the whole master
         * (MUX_C_TERMINATE): `mc` itself is still valid (graveyard). */
        if (mc->closing || mc->dead)
            return;
    }
}

static void on_client_write(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    client_flush(w->data);
}

static void gc_clients(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    tun_mux *m = w->data;
    while (m->graveyard) {
        mclient *mc = m->graveyard;
        m->graveyard = mc->next_dead;
        free(mc);
    }
}

/* Close the client and forget it everywhere; the memory itself goes to
 * the graveyard (our callers, up the stack, may still look at it). */
static void client_drop(mclient *mc)
{
    tun_mux *m = mc->m;
    if (mc->dead)
        return;
    mc->dead = 1;
    ev_io_stop(m->loop, &mc->rio);
    ev_io_stop(m->loop, &mc->wio);
    close(mc->fd);
    mc->fd = -1;
    for (int i = 0; i < mc->fds_got && mc->fds_need > 0; i++)
        close(mc->fds[i]);
    mc->fds_got = mc->fds_need = 0;
    if (mc->have_pend)
        tun_mux_req_free(&mc->pend);
    mc->have_pend = 0;
    /* Forward requests still waiting for the server: nobody to answer. */
    tun_fwd *f = mc->fwds && m->hooks.fwd ? m->hooks.fwd(m->arg) : NULL;
    while (mc->fwds) {
        fwdctx *x = mc->fwds;
        mc->fwds = x->next;
        if (f)
            tun_fwd_forget(f, x);
        free(x);
    }
    msess *ms = mc->sess;
    mc->sess = NULL;
    if (mc->prev)
        mc->prev->next = mc->next;
    else
        m->clients = mc->next;
    if (mc->next)
        mc->next->prev = mc->prev;
    m->nclients--;
    ssh_buf_free(&mc->out);
    ssh_buf_free(&mc->body);
    if (ms) {
        ms->mc = NULL;
        if (ms->done) {
            /* the reaper frees it */
        } else if (ms->running) {
            /* The client went away (killed, Ctrl-C): end its session; it
             * frees itself when the channel has closed. */
            m->orphans++;
            ms->orphan = 1;
            if (ms->s) {
                tun_session_close(ms->s);
                conn_kick(ms->conn);
            }
        } else {
            ms_discard(ms); /* waiting for a connection, or between retries */
        }
    }
    /* `next` stays as it was: a caller walking the client list may step
     * from here to the rest. */
    mc->next_dead = m->graveyard;
    m->graveyard = mc;
    if (!ev_is_active(&m->gc)) {
        ev_timer_set(&m->gc, 0., 0.);
        ev_timer_start(m->loop, &m->gc);
    }
    check_idle(m);
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    tun_mux *m = w->data;
    int fd = accept4(w->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return;
    struct ucred cr;
    socklen_t cl = sizeof(cr);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) != 0 ||
        (cr.uid != 0 && cr.uid != getuid())) {
        tun_error("mux client uid %u is neither ours (%u) nor root: refused", (unsigned)cr.uid,
                  (unsigned)getuid());
        close(fd);
        return;
    }
    mclient *mc = calloc(1, sizeof(*mc));
    if (mc == NULL) {
        close(fd);
        return;
    }
    mc->m = m;
    mc->fd = fd;
    ssh_buf_init(&mc->out, 1024 * 1024, 0);
    ssh_buf_init(&mc->body, MUX_PACKET_MAX, 0);
    ev_io_init(&mc->rio, on_client_read, fd, EV_READ);
    ev_io_init(&mc->wio, on_client_write, fd, EV_WRITE);
    mc->rio.data = mc->wio.data = mc;
    mc->next = m->clients;
    if (m->clients)
        m->clients->prev = mc;
    m->clients = mc;
    m->nclients++;
    ev_timer_stop(loop, &m->idle);
    ev_io_start(loop, &mc->rio);
    tun_mux_put_hello(&mc->out);
    client_flush(mc);
}

/* ---- master life cycle ---------------------------------------------------------------------------------- */

int tun_mux_check_path(const char *path)
{
    struct sockaddr_un sun;
    /* The temporary name used while binding is 17 characters longer. */
    if (strlen(path) + 17 >= sizeof(sun.sun_path)) {
        tun_error("ControlPath too long ('%s' is %zu bytes, at most %zu fit); use %%C for a "
                  "short hash, e.g. ControlPath ~/.ssh/cm-%%C",
                  path, strlen(path), sizeof(sun.sun_path) - 18);
        return -1;
    }
    return 0;
}

/* Is a master answering at path? */
static int path_is_live(const char *path)
{
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 1;
    int live = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0 || errno != ECONNREFUSED;
    close(fd);
    return live;
}

static int create_listener(const char *path)
{
    if (tun_mux_check_path(path) != 0)
        return -1;
    uint8_t rnd[8];
    RAND_bytes(rnd, sizeof(rnd));
    char tmp[sizeof(((struct sockaddr_un *)0)->sun_path)];
    snprintf(tmp, sizeof(tmp), "%s.%02x%02x%02x%02x%02x%02x%02x%02x", path, rnd[0], rnd[1],
             rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", tmp);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    mode_t old = umask(0177);
    int rv = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
    umask(old);
    if (rv != 0 || listen(fd, SOMAXCONN) != 0) {
        tun_error("ControlSocket %s: bind: %s", path, strerror(errno));
        close(fd);
        unlink(tmp);
        return -1;
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        if (link(tmp, path) == 0) {
            unlink(tmp);
            return fd;
        }
        if (errno != EEXIST)
            break;
        /* Only a socket nobody answers on is ours to replace: a regular
         * file (or anything else) there stays, as with ssh. */
        struct stat st;
        if (path_is_live(path) || lstat(path, &st) != 0 || !S_ISSOCK(st.st_mode)) {
            tun_error("ControlSocket %s already exists, disabling multiplexing", path);
            close(fd);
            unlink(tmp);
            return -2;
        }
        tun_debug("removing stale control socket %s", path);
        unlink(path);
    }
    tun_error("ControlSocket %s: %s", path, strerror(errno));
    close(fd);
    unlink(tmp);
    return -1;
}

tun_mux *tun_mux_master_start(struct ev_loop *loop, const char *path, const tun_options *o,
                              const char *host, tun_resolver *res, tun_idstore *ids,
                              tun_conn *primary, const tun_mux_hooks *hooks, void *arg)
{
    int fd = create_listener(path);
    if (fd < 0) {
        errno = fd == -2 ? EEXIST : EINVAL;
        return NULL;
    }
    tun_mux *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        close(fd);
        unlink(path);
        return NULL;
    }
    m->loop = loop;
    m->path = strdup(path);
    m->lfd = fd;
    m->o = o;
    m->host = strdup(host);
    m->res = res;
    m->ids = ids;
    if (hooks)
        m->hooks = *hooks;
    m->arg = arg;
    ev_timer_init(&m->idle, NULL, 0., 0.);
    ev_timer_init(&m->gc, gc_clients, 0., 0.);
    m->wait_limit = 10.;
    m->gc.data = m;
    ev_io_init(&m->lio, on_accept, fd, EV_READ);
    m->lio.data = m;
    ev_io_start(loop, &m->lio);
    conn_add(m, primary, 1);
    tun_debug("setting up multiplex master socket %s", path);
    return m;
}

static void on_idle(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    tun_mux *m = w->data;
    if (tun_mux_busy(m) == 0 && m->hooks.idle) {
        tun_debug("ControlPersist timeout expired");
        m->hooks.idle(m->arg);
    }
}

static void check_idle(tun_mux *m)
{
    if (tun_mux_busy(m) > 0)
        return;
    if (m->persist > 0) {
        ev_timer_stop(m->loop, &m->idle);
        ev_timer_init(&m->idle, on_idle, (double)m->persist, 0.);
        m->idle.data = m;
        ev_timer_start(m->loop, &m->idle);
    } else if (m->persist == 0 && m->hooks.idle) {
        m->hooks.idle(m->arg);
    }
}

void tun_mux_own_session(tun_mux *m, int delta)
{
    m->own_sessions += delta;
    if (m->conns && m->conns->primary)
        m->conns->sessions += delta;
    if (delta < 0)
        check_idle(m);
}

void tun_mux_set_persist(tun_mux *m, int seconds)
{
    m->persist = seconds;
    check_idle(m);
}

int tun_mux_busy(const tun_mux *m)
{
    return m->nclients + m->own_sessions + m->orphans;
}

void tun_mux_stop_listening(tun_mux *m)
{
    if (m->lfd < 0)
        return;
    ev_io_stop(m->loop, &m->lio);
    close(m->lfd);
    m->lfd = -1;
    unlink(m->path);
}

void tun_mux_primary_gone(tun_mux *m)
{
    tun_mux_stop_listening(m);
    if (m->conns && m->conns->primary) {
        m->conns->dead = 1;
        m->conns->ready = 0;
    }
    mconn *p = m->conns && m->conns->primary ? m->conns : NULL;
    for (msess *ms = m->sessions; ms && p; ms = ms->next)
        if (ms->conn == p && ms->s && !ms->waiting && !ms->done)
            tun_session_abort(ms->s, "connection to the server lost");
    while (m->clients)
        client_drop(m->clients);
}

void tun_mux_set_wait_limit(tun_mux *m, double secs)
{
    m->wait_limit = secs > 0 ? secs : 10.;
}

void tun_mux_primary_lost(tun_mux *m, const char *why)
{
    mconn *p = m->conns && m->conns->primary ? m->conns : NULL;
    if (p == NULL)
        return;
    p->down = 1;
    p->ready = 0;
    p->tc = NULL;
    char msg[600];
    snprintf(msg, sizeof(msg), "%s", why && *why ? why : "connection to the server lost");
    /* Sessions on it end as on any dying connection; those waiting for a
     * place keep waiting (for the primary now). */
    for (msess *ms = m->sessions; ms; ms = ms->next) {
        if (ms->conn == p && ms->s && !ms->waiting && !ms->done)
            tun_session_abort(ms->s, msg);
    }
}

void tun_mux_primary_back(tun_mux *m, tun_conn *tc)
{
    mconn *p = m->conns && m->conns->primary ? m->conns : NULL;
    if (p == NULL)
        return;
    p->tc = tc;
    p->down = 0;
    p->ready = 1;
    p->limit = m->o->max_sessions;
    if (m->learned_limit > 0 && m->learned_limit < p->limit)
        p->limit = m->learned_limit;
    /* Oldest first (the list is newest first): walk to the end, then back.
     * Placing never frees a session, so the list stays walkable. */
    msess *last = m->sessions;
    while (last && last->next)
        last = last->next;
    for (msess *ms = last; ms; ms = ms->prev)
        if (ms->waiting && ms->conn == p && !ms->done && ms->mc)
            place(m, ms);
    kick_primary(m);
}

void tun_mux_free(tun_mux *m)
{
    if (m == NULL)
        return;
    tun_mux_stop_listening(m);
    m->hooks.idle = NULL;
    while (m->clients)
        client_drop(m->clients);
    ev_timer_stop(m->loop, &m->idle);
    /* Sessions before the connections they run on. */
    while (m->sessions)
        msess_free(m->sessions);
    while (m->conns) {
        mconn *c = m->conns;
        m->conns = c->next;
        ev_timer_stop(m->loop, &c->idle);
        ev_timer_stop(m->loop, &c->reap);
        if (!c->primary)
            tun_conn_free(c->tc);
        free(c);
    }
    ev_timer_stop(m->loop, &m->gc);
    gc_clients(m->loop, &m->gc, 0);
    free(m->path);
    free(m->host);
    free(m);
}
