/*
 * tun_srvsess.c - session channels of sshtund (see tun_srv.h).
 *
 * A session collects pty-req and env, then exec/shell/subsystem asks the
 * privileged side to spawn the process as the user.  Its stdout and stderr
 * (or the pty) are the channel's inputs, its stdin the channel's output,
 * all plain pipes on the loop.  Nothing is lost at the end: the channel
 * sends EOF once both outputs of the process reached EOF (all their data
 * sent), then exit-status or exit-signal once the process has been reaped,
 * then CLOSE - the order OpenSSH clients expect.
 *
 * With a pty, the pty stays open as long as any process holds it; once
 * the session's process has exited, what the pty still holds is sent and
 * the channel finishes (a background job cannot keep it open forever).
 * A client that can no longer write its output (eow@openssh.com) makes us
 * stop reading the process's stdout, which then gets EPIPE as with a
 * closed pipe locally.
 *
 * A client may also send CLOSE first, as soon as both EOFs went by (RFC
 * 4254 section 5.3 allows it; Dropbear's dbclient does), often before the
 * process has been reaped.  As sshd, we then hold our CLOSE until the exit
 * status is known and send it first.  Meanwhile, as sshd's channel close
 * does, nothing more is read from the process (its writes fail), its stdin
 * still gets what the client sent before the CLOSE and then EOF, and a pty
 * hangs up at once.  A process that still does not exit within
 * CLOSE_WAIT_S is hung up and the channel closed without a status, so it
 * cannot hold the channel (and the client waiting for our CLOSE) forever.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "tun_srv.h"
#include "tun_log.h"
#include "tun_util.h"

#include <errno.h>
#include <fnmatch.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#define MAX_ENV 64
/* How long a client's early CLOSE waits for the session process to exit. */
#define CLOSE_WAIT_S 5.0

struct tun_srvsess {
    tun_srvchan ch; /* first */
    int want_pty;
    char term[64];
    uint32_t cols, rows, wpx, hpx;
    uint8_t *modes;
    size_t modes_len;
    char *env_names[MAX_ENV]; /* env requests, for the privileged side to judge */
    char *env_values[MAX_ENV];
    int n_env;
    int started;  /* exec/shell/subsystem accepted or under way */
    int running;  /* the process exists and has not been reaped */
    int exited;
    int status;
    pid_t pid;
    int pty_fd;   /* master side, for window-change and break */
    int fds[3];   /* what we own: stdin write end, stdout read end, stderr read end */
    int finished; /* exit status and CLOSE sent */
    /* The client's CLOSE came first: ours waits for the exit status. */
    int peer_closed;
    ev_timer close_wait;
    tun_srvsess *next_pid;
    /* agent and X11 forwarding (tun_srvsessfwd.c) */
    tun_sesslisten *agent, *x11;
    int fwd_asked;     /* the privileged side holds state for us */
    int setup_pending; /* answers still to come: the command waits */
    int x11_single;
    /* Replies go out in the order of the requests (the engine answers
     * the oldest undecided one): the setups asked for, oldest first, and
     * each one's outcome once known (0 pending, 1 ok, -1 refused). */
    int order[2], n_order;
    int want_reply[2], outcome[2], asked[2];
    char *wait_what, *wait_arg; /* the command asked for meanwhile */
};

static tun_srvconn *conn_of(tun_srvsess *ss)
{
    return ss->ch.sc;
}

pid_t tun_srvsess_pid(const tun_srvsess *ss)
{
    return ss->pid;
}

tun_srvsess *tun_srvsess_next_by_pid(const tun_srvsess *ss)
{
    return ss->next_pid;
}

void tun_srvsess_set_next_by_pid(tun_srvsess *ss, tun_srvsess *next)
{
    ss->next_pid = next;
}

/* ---- the end --------------------------------------------------------------------------------- */

/* exit-status or exit-signal for the reaped process. */
static void send_exit(tun_srvsess *ss)
{
    tun_srvconn *sc = conn_of(ss);
    ss->finished = 1;
    ssh_channel_req r = {0};
    r.want_reply = 0;
    if (WIFSIGNALED(ss->status)) {
        const char *name = sigabbrev_np(WTERMSIG(ss->status));
        r.type = "exit-signal";
        r.name = name ? name : "KILL";
        r.core_dumped = WCOREDUMP(ss->status) ? 1 : 0;
        r.error_msg = "";
        tun_debug("session %u: process %d killed by signal %s", ss->ch.id, (int)ss->pid, r.name);
    } else {
        r.type = "exit-status";
        r.exit_status = (uint32_t)WEXITSTATUS(ss->status);
        tun_debug("session %u: process %d exited with status %u", ss->ch.id, (int)ss->pid,
                  r.exit_status);
    }
    ssh_channel_request_send(sc->c, ss->ch.id, &r, NULL);
}

static void maybe_finish(tun_srvsess *ss)
{
    tun_srvconn *sc = conn_of(ss);
    tun_pipe *p = &ss->ch.pipe;
    if (ss->finished || sc == NULL || !ss->exited || !p->base.open)
        return;
    if (!ss->peer_closed && !(p->in_eof && (p->in2_fd < 0 || p->in2_eof)))
        return; /* output still coming */
    send_exit(ss);
    if (ss->peer_closed)
        ev_timer_stop(sc->srv->loop, &ss->close_wait);
    /* With the client's CLOSE held, this frees the session. */
    ssh_channel_close(sc->c, ss->ch.id);
    tun_link_kick(&sc->link);
}

void tun_srvsess_exited(tun_srvsess *ss, int status)
{
    ss->exited = 1;
    ss->running = 0;
    ss->status = status;
    tun_server_pid_del(conn_of(ss)->srv, ss);
    /* The process is gone: nothing will read what is still queued for its
     * stdin. */
    if (ss->pty_fd >= 0)
        tun_pipe_drain_input(&ss->ch.pipe, 0);
    maybe_finish(ss);
}

/* The channel is gone (or its connection is): hang up a process still
 * running - like a terminal hangup, the client is gone and so is the
 * session - then free everything. */
static void sess_destroy(tun_srvchan *ch)
{
    tun_srvsess *ss = (tun_srvsess *)ch;
    tun_srvconn *sc = conn_of(ss);
    if (sc) {
        ev_timer_stop(sc->srv->loop, &ss->close_wait);
        tun_priv_cancel(sc->srv->priv, ss);
        /* The agent directory goes with the session. */
        if (ss->fwd_asked)
            tun_priv_sess_end(sc->srv->priv, sc->serial, ss->ch.id);
        if (ss->running) {
            tun_priv_signal(sc->srv->priv, sc->serial, ss->ch.id, SIGHUP);
            tun_server_pid_del(sc->srv, ss);
            ss->running = 0;
        }
        tun_srvchan_detach(ch);
    }
    tun_pipe_free(&ss->ch.pipe);
    for (int i = 0; i < 3; i++)
        if (ss->fds[i] >= 0)
            close(ss->fds[i]);
    tun_sesslisten_free(ss->agent);
    tun_sesslisten_free(ss->x11);
    free(ss->wait_what);
    free(ss->wait_arg);
    for (int i = 0; i < ss->n_env; i++) {
        free(ss->env_names[i]);
        free(ss->env_values[i]);
    }
    free(ss->modes);
    free(ss);
}

/* ---- pipe hooks ------------------------------------------------------------------------------ */

static void h_closed(tun_pipe *p)
{
    tun_srvsess *ss = p->owner;
    sess_destroy(&ss->ch);
}

static void h_inputs_done(tun_pipe *p)
{
    maybe_finish(p->owner);
}

/* Close what we write the process's input to (stdin, or the pty). */
static void close_stdin(tun_srvsess *ss)
{
    tun_pipe *p = &ss->ch.pipe;
    int fd = ss->fds[0];
    if (fd < 0)
        return;
    ev_io_stop(p->loop, &p->wout);
    if (p->out_fd == fd)
        p->out_fd = -1;
    ss->fds[0] = -1;
    ss->pty_fd = -1;
    close(fd);
}

/* Stop reading the process's output `which` (0 stdout or the pty, 1
 * stderr): tun_pipe_drop_input closes it, so forget it here. */
static void drop_output(tun_srvsess *ss, int which)
{
    tun_pipe *p = &ss->ch.pipe;
    int fd = which ? p->in2_fd : p->in_fd;
    if (fd < 0)
        return;
    int shared = fd == p->out_fd; /* only shut down for reading, still ours */
    tun_pipe_drop_input(p, which);
    for (int i = 1; i < 3 && !shared; i++)
        if (ss->fds[i] == fd)
            ss->fds[i] = -1;
}

static void h_drained_eof(tun_pipe *p)
{
    tun_srvsess *ss = p->owner;
    /* The client's EOF, written through: close the process's stdin.  With
     * a pty there is nothing to half-close. */
    if (ss->pty_fd < 0)
        close_stdin(ss);
}

/* The process outlived the client's CLOSE by CLOSE_WAIT_S: hang it up
 * (sess_destroy) and close without a status. */
static void on_close_wait(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    tun_srvsess *ss = w->data;
    tun_srvconn *sc = conn_of(ss);
    tun_verbose("session %u: process %d still running %.0f s after the client closed the "
                "channel: hanging it up",
                ss->ch.id, (int)ss->pid, CLOSE_WAIT_S);
    /* Input it never read is not waited for either. */
    close_stdin(ss);
    ssh_channel_close(sc->c, ss->ch.id); /* frees the session */
    tun_link_kick(&sc->link);
}

static int h_peer_close(tun_pipe *p)
{
    tun_srvsess *ss = p->owner;
    tun_srvconn *sc = conn_of(ss);
    if (ss->finished || sc == NULL)
        return 0;
    if (ss->exited) {
        /* Reaped while output was still coming: the status, then CLOSE. */
        send_exit(ss);
        return 0;
    }
    if (!ss->running)
        return 0; /* nothing started (or the spawn is still under way) */
    tun_debug("session %u: client closed first; CLOSE held until process %d exits", ss->ch.id,
              (int)ss->pid);
    ss->peer_closed = 1;
    /* As sshd on a CLOSE: nothing more is read from the process (its
     * writes fail), and its input gets what the client sent before its
     * CLOSE, then EOF; a pty is hung up at once. */
    drop_output(ss, 0);
    drop_output(ss, 1);
    if (ss->pty_fd >= 0) {
        close_stdin(ss);
    } else if (!p->eof_shut) {
        p->peer_eof = 1; /* the CLOSE implies EOF: stdin closes once drained */
        if (p->pend[0].len == 0)
            close_stdin(ss);
    }
    ev_timer_set(&ss->close_wait, CLOSE_WAIT_S, 0.);
    ev_timer_start(sc->srv->loop, &ss->close_wait);
    return SSH_DEFERRED;
}

static int h_request(tun_pipe *p, const ssh_channel_req *r);

static const tun_pipe_hooks sess_hooks = {
    .request = h_request,
    .closed = h_closed,
    .peer_close = h_peer_close,
    .inputs_done = h_inputs_done,
    .drained_eof = h_drained_eof,
};

/* ---- spawning -------------------------------------------------------------------------------- */

static void on_spawned(void *arg, const tun_spawn_result *r)
{
    tun_srvsess *ss = arg;
    tun_srvconn *sc = conn_of(ss);
    if (r->err != 0 || sc == NULL) {
        if (sc) {
            tun_error("session for %s: cannot start the process: %s", sc->user.name,
                      strerror(r->err));
            ssh_channel_request_reply(sc->c, ss->ch.id, 0);
            tun_link_kick(&sc->link);
        }
        return;
    }
    ss->pid = r->pid;
    ss->running = 1;
    ss->fds[0] = r->fd_in;
    ss->fds[1] = r->fd_out;
    ss->fds[2] = r->fd_err;
    for (int i = 0; i < 3; i++)
        if (ss->fds[i] >= 0)
            tun_set_nonblock(ss->fds[i], 1);
    if (r->pty) {
        ss->pty_fd = r->fd_in;
        if (r->tty[0])
            tun_debug("session %u: allocated %s", ss->ch.id, r->tty);
    }
    tun_pipe *p = &ss->ch.pipe;
    tun_pipe_set_fds(p, r->fd_out, r->fd_in);
    if (r->fd_err >= 0)
        tun_pipe_set_input2(p, r->fd_err);
    tun_pipe_hold_output(p, 0);
    ssh_channel_request_reply(sc->c, ss->ch.id, 1);
    tun_server_pid_add(sc->srv, ss); /* may report an exit that came first */
    tun_pipe_start_input(p);
    tun_link_kick(&sc->link);
}

static int add_env(tun_srvsess *ss, const char *name, const char *value)
{
    /* A later value for the same name replaces the earlier one. */
    for (int i = 0; i < ss->n_env; i++) {
        if (strcmp(ss->env_names[i], name) == 0) {
            char *v = strdup(value);
            if (v == NULL)
                return -1;
            free(ss->env_values[i]);
            ss->env_values[i] = v;
            return 0;
        }
    }
    if (ss->n_env >= MAX_ENV)
        return -1;
    char *n = strdup(name), *v = strdup(value);
    if (n == NULL || v == NULL) {
        free(n);
        free(v);
        return -1;
    }
    ss->env_names[ss->n_env] = n;
    ss->env_values[ss->n_env++] = v;
    return 0;
}

/* What runs (forced commands, the subsystem's program), the terminal and
 * the environment are the privileged side's decisions; this only passes
 * on what the client asked for. */
static int start_process(tun_srvsess *ss, const char *what, const char *arg)
{
    tun_srvconn *sc = conn_of(ss);
    if (ss->setup_pending > 0) {
        /* Agent or X11 setup still under way: its SSH_AUTH_SOCK or
         * DISPLAY must be in the environment the process starts with. */
        ss->wait_what = strdup(what);
        ss->wait_arg = arg ? strdup(arg) : NULL;
        if (ss->wait_what == NULL || (arg && ss->wait_arg == NULL))
            return SSH_REQUEST_FAILURE;
        ss->started = 1;
        return SSH_REQUEST_DEFER;
    }
    tun_spawn_req req = {0};
    req.session = ss->ch.id;
    req.what = what;
    req.arg = arg;
    req.pty = ss->want_pty;
    req.term = ss->term;
    req.cols = ss->cols;
    req.rows = ss->rows;
    req.width_px = ss->wpx;
    req.height_px = ss->hpx;
    req.modes = ss->modes;
    req.modes_len = ss->modes_len;
    req.env_names = ss->env_names;
    req.env_values = ss->env_values;
    req.n_env = ss->n_env;
    if (tun_priv_spawn(sc->srv->priv, sc->serial, &req, on_spawned, ss) != 0)
        return SSH_REQUEST_FAILURE;
    ss->started = 1;
    return SSH_REQUEST_DEFER;
}

/* ---- agent and X11 forwarding ---------------------------------------------------------------- */

enum { SETUP_AGENT = 0, SETUP_X11 = 1 };

static void setup_asked(tun_srvsess *ss, int which, int want_reply)
{
    ss->order[ss->n_order++] = which;
    ss->asked[which] = 1;
    ss->want_reply[which] = want_reply;
    ss->outcome[which] = 0;
    ss->fwd_asked = 1;
    ss->setup_pending++;
}

/* One setup answered: replies that can go now go, and the command
 * waiting for the setups may start once all are answered. */
static void setup_done(tun_srvsess *ss, int which, int ok)
{
    tun_srvconn *sc = conn_of(ss);
    ss->outcome[which] = ok ? 1 : -1;
    while (ss->n_order > 0 && ss->outcome[ss->order[0]] != 0) {
        int w = ss->order[0];
        if (ss->want_reply[w])
            ssh_channel_request_reply(sc->c, ss->ch.id, ss->outcome[w] > 0);
        ss->order[0] = ss->order[1];
        ss->n_order--;
    }
    tun_link_kick(&sc->link);
    if (--ss->setup_pending > 0 || ss->wait_what == NULL)
        return;
    char *what = ss->wait_what, *arg = ss->wait_arg;
    ss->wait_what = ss->wait_arg = NULL;
    ss->started = 0;
    if (start_process(ss, what, arg) != SSH_REQUEST_DEFER) {
        ssh_channel_request_reply(sc->c, ss->ch.id, 0);
        tun_link_kick(&sc->link);
    }
    free(what);
    free(arg);
}

static void on_agent(void *arg, int fd, int err)
{
    tun_srvsess *ss = arg;
    tun_srvconn *sc = conn_of(ss);
    int ok = fd >= 0;
    if (ok) {
        ss->agent = tun_srvsessfwd_agent(sc, ss->ch.id, fd);
        if (ss->agent == NULL) {
            close(fd);
            ok = 0;
        }
    } else {
        tun_debug("session %u: agent forwarding refused: %s", ss->ch.id, strerror(err));
    }
    setup_done(ss, SETUP_AGENT, ok);
}

static void on_x11(void *arg, int err, unsigned display, const int *fds, int nfds)
{
    tun_srvsess *ss = arg;
    tun_srvconn *sc = conn_of(ss);
    int ok = err == 0 && nfds > 0;
    if (ok) {
        ss->x11 = tun_srvsessfwd_x11(sc, ss->ch.id, fds, nfds, ss->x11_single);
        if (ss->x11 == NULL) {
            for (int i = 0; i < nfds; i++)
                close(fds[i]);
            ok = 0;
        } else {
            tun_debug("session %u: X11 display %u", ss->ch.id, display);
        }
    } else {
        tun_debug("session %u: X11 forwarding refused: %s", ss->ch.id, strerror(err ? err : EIO));
    }
    setup_done(ss, SETUP_X11, ok);
}

/* auth-agent-req@openssh.com (OpenSSH PROTOCOL 1.4).  The privileged
 * side decides; refusing early here only spares it the request. */
static int agent_request(tun_srvsess *ss, int want_reply)
{
    tun_srvconn *sc = conn_of(ss);
    if (ss->started || ss->asked[SETUP_AGENT]) {
        tun_debug("session %u: agent forwarding requested %s", ss->ch.id,
                  ss->asked[SETUP_AGENT] ? "twice" : "after the command");
        return SSH_REQUEST_FAILURE;
    }
    if (!sc->opts.allow_agent_forwarding || (sc->have_kopts && sc->kopts.no_agent_forwarding)) {
        tun_verbose("session %u: agent forwarding refused for %s (%s)", ss->ch.id, sc->user.name,
                    !sc->opts.allow_agent_forwarding ? "AllowAgentForwarding no"
                                                     : "no-agent-forwarding in authorized_keys");
        return SSH_REQUEST_FAILURE;
    }
    if (tun_priv_agent(sc->srv->priv, sc->serial, ss->ch.id, on_agent, ss) != 0)
        return SSH_REQUEST_FAILURE;
    setup_asked(ss, SETUP_AGENT, want_reply);
    return SSH_REQUEST_DEFER;
}

/* x11-req (RFC 4254 6.3.1): bool single connection, string protocol,
 * string cookie, uint32 screen. */
static int x11_request(tun_srvsess *ss, const ssh_channel_req *r)
{
    tun_srvconn *sc = conn_of(ss);
    ssh_cur c;
    int single;
    char proto[64], cookie[1025];
    uint32_t screen;
    ssh_cur_init(&c, r->data, r->data_len);
    if (ssh_cur_get_bool(&c, &single) != 0 || ssh_cur_get_cstr(&c, proto, sizeof(proto)) != 0 ||
        ssh_cur_get_cstr(&c, cookie, sizeof(cookie)) != 0 || ssh_cur_get_u32(&c, &screen) != 0 ||
        ssh_cur_end(&c) != 0) {
        tun_info("session %u: malformed x11-req", ss->ch.id);
        return SSH_REQUEST_FAILURE;
    }
    int rv = SSH_REQUEST_FAILURE;
    if (ss->started || ss->asked[SETUP_X11]) {
        tun_debug("session %u: X11 forwarding requested %s", ss->ch.id,
                  ss->asked[SETUP_X11] ? "twice" : "after the command");
    } else if (!sc->opts.x11_forwarding || (sc->have_kopts && sc->kopts.no_x11_forwarding)) {
        tun_verbose("session %u: X11 forwarding refused for %s (%s)", ss->ch.id, sc->user.name,
                    !sc->opts.x11_forwarding ? "X11Forwarding no"
                                             : "no-X11-forwarding in authorized_keys");
    } else if (tun_priv_x11(sc->srv->priv, sc->serial, ss->ch.id, single, proto, cookie, screen,
                            on_x11, ss) == 0) {
        ss->x11_single = single;
        setup_asked(ss, SETUP_X11, r->want_reply);
        rv = SSH_REQUEST_DEFER;
    }
    OPENSSL_cleanse(cookie, sizeof(cookie));
    return rv;
}

/* ---- requests -------------------------------------------------------------------------------- */

/* '=' or control characters in a name are refused before any AcceptEnv
 * pattern sees it ("A=B" would match "A*"). */
static int env_name_ok(const char *n)
{
    if (*n == '\0')
        return 0;
    for (const char *p = n; *p; p++)
        if (*p == '=' || (unsigned char)*p < 0x20 || *p == 0x7f)
            return 0;
    return 1;
}

static int accept_env(const tun_srvopts *o, const char *name)
{
    for (int i = 0; i < o->n_accept_env; i++)
        if (fnmatch(o->accept_env[i], name, 0) == 0)
            return 1;
    return 0;
}

static int signal_number(const char *name)
{
    static const struct {
        const char *name;
        int sig;
    } sigs[] = {{"ABRT", SIGABRT}, {"ALRM", SIGALRM}, {"FPE", SIGFPE},   {"HUP", SIGHUP},
                {"ILL", SIGILL},   {"INT", SIGINT},   {"KILL", SIGKILL}, {"PIPE", SIGPIPE},
                {"QUIT", SIGQUIT}, {"SEGV", SIGSEGV}, {"TERM", SIGTERM}, {"USR1", SIGUSR1},
                {"USR2", SIGUSR2}};
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        if (strcmp(sigs[i].name, name) == 0)
            return sigs[i].sig;
    return 0;
}

static int h_request(tun_pipe *p, const ssh_channel_req *r)
{
    tun_srvsess *ss = p->owner;
    tun_srvconn *sc = conn_of(ss);
    const char *t = r->type;
    if (strcmp(t, "pty-req") == 0) {
        if (ss->started || ss->want_pty)
            return SSH_REQUEST_FAILURE;
        if (!sc->opts.permit_tty || (sc->have_kopts && sc->kopts.no_pty)) {
            tun_verbose("session %u: pty refused for %s (%s)", ss->ch.id, sc->user.name,
                        !sc->opts.permit_tty ? "PermitTTY no" : "no-pty in authorized_keys");
            return SSH_REQUEST_FAILURE;
        }
        ss->want_pty = 1;
        snprintf(ss->term, sizeof(ss->term), "%s", r->term ? r->term : "");
        ss->cols = r->cols;
        ss->rows = r->rows;
        ss->wpx = r->width_px;
        ss->hpx = r->height_px;
        if (r->modes_len) {
            ss->modes = malloc(r->modes_len);
            if (ss->modes == NULL)
                return SSH_REQUEST_FAILURE;
            memcpy(ss->modes, r->modes, r->modes_len);
            ss->modes_len = r->modes_len;
        }
        return SSH_REQUEST_SUCCESS;
    }
    if (strcmp(t, "env") == 0) {
        if (ss->started || r->name == NULL || r->value == NULL)
            return SSH_REQUEST_FAILURE;
        if (!env_name_ok(r->name)) {
            tun_verbose("session %u: refused env request: name with '=' or control characters",
                        ss->ch.id);
            return SSH_REQUEST_FAILURE;
        }
        if (!accept_env(&sc->opts, r->name) || strncmp(r->name, "LD_", 3) == 0) {
            tun_debug2("session %u: ignoring env %s (not in AcceptEnv)", ss->ch.id, r->name);
            return SSH_REQUEST_FAILURE;
        }
        return add_env(ss, r->name, r->value) == 0 ? SSH_REQUEST_SUCCESS : SSH_REQUEST_FAILURE;
    }
    if (strcmp(t, "exec") == 0 || strcmp(t, "shell") == 0 || strcmp(t, "subsystem") == 0) {
        if (ss->started)
            return SSH_REQUEST_FAILURE;
        if (strcmp(t, "shell") == 0)
            return start_process(ss, "shell", NULL);
        if (strcmp(t, "exec") == 0) {
            if (r->command == NULL || memchr(r->command, '\0', r->command_len) != NULL)
                return SSH_REQUEST_FAILURE;
            char *cmd = strndup(r->command, r->command_len); /* not NUL-terminated */
            if (cmd == NULL)
                return SSH_REQUEST_FAILURE;
            int rv = start_process(ss, "exec", cmd);
            free(cmd);
            return rv;
        }
        if (r->name == NULL)
            return SSH_REQUEST_FAILURE;
        return start_process(ss, "subsystem", r->name);
    }
    if (strcmp(t, "window-change") == 0) {
        if (ss->pty_fd >= 0) {
            struct winsize ws = {(unsigned short)r->rows, (unsigned short)r->cols,
                                 (unsigned short)r->width_px, (unsigned short)r->height_px};
            ioctl(ss->pty_fd, TIOCSWINSZ, &ws);
        } else if (ss->want_pty) {
            ss->cols = r->cols;
            ss->rows = r->rows;
            ss->wpx = r->width_px;
            ss->hpx = r->height_px;
        }
        return SSH_REQUEST_SUCCESS;
    }
    if (strcmp(t, "signal") == 0) {
        int sig = r->name ? signal_number(r->name) : 0;
        if (sig == 0 || !ss->running)
            return SSH_REQUEST_FAILURE;
        tun_debug("session %u: signal %s to process %d", ss->ch.id, r->name, (int)ss->pid);
        tun_priv_signal(sc->srv->priv, sc->serial, ss->ch.id, sig);
        return SSH_REQUEST_SUCCESS;
    }
    if (strcmp(t, "eow@openssh.com") == 0) {
        tun_debug("session %u: the client cannot take more output", ss->ch.id);
        drop_output(ss, 0);
        return SSH_REQUEST_SUCCESS;
    }
    if (strcmp(t, "auth-agent-req@openssh.com") == 0)
        return agent_request(ss, r->want_reply);
    if (strcmp(t, "x11-req") == 0)
        return x11_request(ss, r);
    if (strcmp(t, "break") == 0) {
        tun_debug("session %u: break%s", ss->ch.id, ss->pty_fd < 0 ? " (no pty: refused)" : "");
        if (ss->pty_fd < 0)
            return SSH_REQUEST_FAILURE;
        tcsendbreak(ss->pty_fd, 0);
        return SSH_REQUEST_SUCCESS;
    }
    tun_debug("session %u: unsupported request %s", ss->ch.id, t);
    return SSH_REQUEST_FAILURE;
}

/* ---- opening --------------------------------------------------------------------------------- */

int tun_srvsess_open(tun_srvconn *sc, uint32_t id, const char **why)
{
    tun_srvsess *ss = calloc(1, sizeof(*ss));
    if (ss == NULL) {
        *why = "out of memory";
        return -SSH_OPEN_RESOURCE_SHORTAGE;
    }
    ss->pty_fd = -1;
    ss->fds[0] = ss->fds[1] = ss->fds[2] = -1;
    ev_timer_init(&ss->close_wait, on_close_wait, CLOSE_WAIT_S, 0.);
    ss->close_wait.data = ss;
    tun_pipe_init(&ss->ch.pipe, sc->srv->loop, &sc->link, -1, -1, -1, &sess_hooks, ss);
    ss->ch.pipe.base.id = id;
    ss->ch.pipe.base.open = 1;
    /* Clients send stdin right after exec, before our reply: keep it until
     * the process exists. */
    tun_pipe_hold_output(&ss->ch.pipe, 1);
    ss->ch.id = id;
    ss->ch.has_id = 1;
    ss->ch.destroy = sess_destroy;
    tun_srvchan_attach(sc, &ss->ch, SC_SESSION, "session");
    ssh_channel_set_user(sc->c, id, &ss->ch.pipe.base);
    return 0;
}
