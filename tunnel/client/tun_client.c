/*
 * tun_client.c - what one sshtun invocation does with its connection: the
 * remote command on our stdio, port forwards, -W, -f, and the exit status
 * (the remote command's, or 255 when sshtun itself fails).
 *
 * The connection itself (resolve, connect, host key, authentication) is a
 * tun_conn; connection sharing (ControlMaster/ControlPath) is tun_mux.c.
 *
 * Reconnect yes: a tunnel (-N, or a background ControlPersist master)
 * whose connection dies gets another one (tun_reconnect says when), with
 * the host key of the first pinned, and its forwards (tun_fwd) and master
 * (tun_mux) carried over: listeners stay, remote forwards are asked for
 * again.  A connection that carries the user's own command is not
 * replaced: the command has ended with it.
 */
#include "tun_client.h"
#include "tun_agentfwd.h"
#include "tun_conn.h"
#include "tun_escape.h"
#include "tun_fwd.h"
#include "tun_idstore.h"
#include "tun_localcmd.h"
#include "tun_log.h"
#include "tun_mux.h"
#include "tun_reconnect.h"
#include "tun_resolve.h"
#include "tun_session.h"
#include "tun_sock.h"
#include "tun_tty.h"
#include "tun_util.h"
#include "tun_x11.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct tun_client {
    struct ev_loop *loop;
    const tun_client_args *args;
    tun_options *o;
    const char *host; /* HostName */
    tun_resolver *res;
    tun_idstore ids;
    tun_conn *conn;
    tun_fwd *fwd;
    tun_session *sess;
    tun_mux *mux;
    int own_session;   /* our session is running (counted by the master) */
    int session_over;
    int session_status;
    int backgrounded;
    int persisting;    /* the ControlPersist master, forked off by persist_detach */
    int exit_status;
    int finished;
    ev_signal sigs[4];
    /* Reconnect */
    tun_reconnect *rc;   /* NULL without Reconnect */
    int ever_up;         /* the first connection was ready */
    int conn_up;         /* cl->conn is ready (not an attempt) */
    tun_conn *retired;   /* a lost or failed connection, freed at the next attempt */
    tun_resolver *conn_res, *retired_res; /* their resolvers (NULL: cl->res) */
    char pin_fp[128];    /* the host key the first connection accepted */
    int restoring;       /* reconnected; remote forwards not all answered yet */
    ev_timer rfwd_retry; /* asks again for refused remote forwards */
    unsigned rfwd_step;
    /* using the remote side */
    char *agent_path; /* the agent we forward (-A), NULL: none */
    tun_agentfwd *agent;
    tun_escape_ops esc;     /* what ~. ~& ~# ~C ~^Z do here */
    ev_timer quit_timer;    /* ~.: leave from the loop, not the filter */
    tun_localcmd *localcmd; /* LocalCommand still running */
    int session_wanted;     /* start the session once LocalCommand ends */
    tun_x11 *x11;           /* X11 forwarding (-X, -Y) */
} tun_client;

static void start_attempt_conn(tun_client *cl);
static const tun_conn_hooks conn_hooks;

/* How long a connection arriving while the tunnel is down waits for it. */
static double wait_limit(const tun_client *cl)
{
    return cl->o->connect_timeout > 0 ? (double)cl->o->connect_timeout : 10.;
}

static void finish(tun_client *cl, int status)
{
    if (cl->finished)
        return;
    cl->finished = 1;
    cl->exit_status = status;
    ev_break(cl->loop, EVBREAK_ALL);
}

/* Orderly end: DISCONNECT goes out, then the loop stops. */
static void really_done(tun_client *cl, int status)
{
    finish(cl, status);
    if (cl->conn)
        tun_conn_close(cl->conn);
}

static void client_fail(tun_client *cl, const char *msg)
{
    if (msg && *msg)
        tun_error("%s", msg);
    finish(cl, 255);
    if (cl->conn)
        tun_conn_close(cl->conn);
}

/* RequestTTY: whether this session gets a pty. */
static int want_tty(tun_client *cl, const char *command)
{
    switch (cl->o->request_tty) {
    case TTY_FORCE: return 1;
    case TTY_NO: return 0;
    case TTY_YES:
        if (isatty(0))
            return 1;
        tun_info("Pseudo-terminal will not be allocated because stdin is not a terminal.");
        return 0;
    default: return command == NULL && isatty(0);
    }
}

/* ---- backgrounding (-f) -------------------------------------------------------------------- */

static void go_background(tun_client *cl)
{
    if (cl->backgrounded)
        return;
    cl->backgrounded = 1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        tun_error("fork: %s", strerror(errno));
        return;
    }
    if (pid > 0)
        _exit(0); /* the parent returns to the shell */
    setsid();
    ev_loop_fork(cl->loop);
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (fd >= 0) {
        dup2(fd, 0);
        /* -N: nothing of ours writes to stdout any more.  Let go of it (and
         * of stderr, unless it is needed for -E or debugging), as ssh does,
         * so that a pipe or $(...) reading the foreground process does not
         * wait for the background one. */
        if (cl->args->no_command && cl->args->stdio_host == NULL) {
            dup2(fd, 1);
            if (!cl->args->keep_stderr && tun_log_get_level() < TUN_LOG_DEBUG1)
                dup2(fd, 2);
        }
        if (fd > 2)
            close(fd);
    }
}

/* ---- escapes (~. ~& ~# ~C) ------------------------------------------------------------------ */

static tun_fwd *mux_fwd(void *arg);

static void on_quit_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    tun_client *cl = w->data;
    if (tun_tty_is_raw()) {
        tun_tty_restore();
        if (cl->o->log_level >= TUN_LOG_INFO)
            fprintf(stderr, "Connection to %s closed.\n", cl->host);
    }
    /* Busy forwards do not hold us: ~. ends everything now, as ssh. */
    really_done(cl, 255);
}

static void esc_quit(void *arg)
{
    tun_client *cl = arg;
    ev_timer_start(cl->loop, &cl->quit_timer);
}

/* The session does ~^Z itself; non-NULL says this session may. */
static void esc_suspend(void *arg)
{
    (void)arg;
}

/* ~&: as ssh, the terminal back, no new forwarded connections, and a
 * child that goes on serving the open ones while this process exits 0. */
static void esc_background(void *arg)
{
    tun_client *cl = arg;
    tun_tty_restore();
    if (cl->fwd)
        tun_fwd_stop_listening(cl->fwd);
    fprintf(stderr, "%c& [backgrounded]\n", (char)cl->o->escape_char);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        tun_error("fork: %s", strerror(errno));
        return;
    }
    if (pid > 0)
        _exit(0);
    ev_loop_fork(cl->loop);
    cl->backgrounded = 1;
}

static void esc_list(void *arg, char *buf, size_t len)
{
    tun_client *cl = arg;
    size_t o = 0;
    int n = snprintf(buf, len, "The following connections are open:\r\n");
    if (n > 0 && (size_t)n < len)
        o = (size_t)n;
    if (cl->sess && !cl->session_over && o < len) {
        n = snprintf(buf + o, len - o, "  #%u client-session (%s)\r\n", tun_session_id(cl->sess),
                     cl->args->command ? "command" : "shell");
        if (n > 0)
            o += (size_t)n;
    }
    if (cl->fwd && o < len)
        o += tun_fwd_list_conns(cl->fwd, buf + o, len - o);
    if (cl->x11 && tun_x11_active(cl->x11) > 0 && o < len) {
        n = snprintf(buf + o, len - o, "  %d X11 connection%s\r\n", tun_x11_active(cl->x11),
                     tun_x11_active(cl->x11) == 1 ? "" : "s");
        if (n > 0)
            o += (size_t)n;
    }
    if (cl->agent && tun_agentfwd_active(cl->agent) > 0 && o < len) {
        n = snprintf(buf + o, len - o, "  %d agent connection%s\r\n",
                     tun_agentfwd_active(cl->agent),
                     tun_agentfwd_active(cl->agent) == 1 ? "" : "s");
        if (n > 0)
            o += (size_t)n;
    }
}

static int esc_forward(void *arg, char kind, int cancel, const char *spec, char *msg, size_t msgsz)
{
    tun_client *cl = arg;
    tun_fwdspec fs;
    if (cancel) {
        /* [bind_address:]port or a path: what identifies the listener. */
        if (tun_fwdspec_parse(spec, TUN_FWD_DYNAMIC, &fs) != 0) {
            snprintf(msg, msgsz, "Bad forwarding close specification.");
            return -1;
        }
        fs.kind = (enum tun_fwd_kind)kind;
        fs.dynamic = kind == 'D';
        int rv = cl->fwd ? tun_fwd_cancel(cl->fwd, &fs) : -1;
        tun_fwdspec_free(&fs);
        if (rv != 0)
            snprintf(msg, msgsz, "Unknown port forwarding.");
        return rv;
    }
    if (tun_fwdspec_parse(spec, (enum tun_fwd_kind)kind, &fs) != 0) {
        snprintf(msg, msgsz, "Bad %s forwarding specification.", kind == 'R' ? "remote" : "local");
        return -1;
    }
    tun_fwd *f = mux_fwd(cl);
    int rv = f ? tun_fwd_add(f, &fs) : -1;
    tun_fwdspec_free(&fs);
    if (rv != 0)
        snprintf(msg, msgsz, "Port forwarding failed.");
    tun_link_kick(tun_conn_link(cl->conn));
    return rv;
}

/* ~C !command: the terminal as it was, the command in the foreground
 * (ssh waits for it too), then back to the session. */
static void esc_local(void *arg, const char *command)
{
    (void)arg;
    int raw = tun_tty_is_raw();
    tun_tty_restore();
    tun_localcmd_run_wait(command);
    for (int fd = 0; fd < 3; fd++)
        tun_tty_nonblock(fd);
    if (raw)
        tun_tty_raw(0);
}

static void escapes_setup(tun_client *cl)
{
    tun_escape_ops *e = &cl->esc;
    e->quit = esc_quit;
    e->suspend = esc_suspend;
    e->background = esc_background;
    e->list = esc_list;
    e->forward = esc_forward;
    e->local = cl->o->permit_local_command ? esc_local : NULL;
    e->cmdline_enabled = cl->o->enable_escape_commandline;
    e->levels = 1;
    e->arg = cl;
    ev_timer_init(&cl->quit_timer, on_quit_timer, 0., 0.);
    cl->quit_timer.data = cl;
}

/* ---- session -------------------------------------------------------------------------------- */

static void on_session_done(void *arg, int status, const char *msg)
{
    tun_client *cl = arg;
    if (msg && *msg)
        tun_error("%s", msg);
    cl->session_over = 1;
    cl->session_status = status;
    if (cl->own_session && cl->mux) {
        cl->own_session = 0;
        tun_mux_own_session(cl->mux, -1);
    }
    /* A master keeps serving its mux clients' sessions first. */
    if (cl->mux && tun_mux_busy(cl->mux) > 0) {
        tun_debug("session ended; waiting for %d shared sessions", tun_mux_busy(cl->mux));
        return;
    }
    /* Exit with the command's status once forwarded connections still open
     * have drained, as ssh does. */
    if (cl->fwd && tun_fwd_active(cl->fwd) > 0) {
        tun_debug("session ended; waiting for %d forwarded connections to close",
                  tun_fwd_active(cl->fwd));
        return;
    }
    really_done(cl, status);
}

static void start_session(tun_client *cl)
{
    const char *cmd = cl->args->command ? cl->args->command : cl->o->remote_command;
    int tty = want_tty(cl, cmd);
    /* Escapes on a terminal session (EscapeChar), and with -e on any. */
    int escapes = cl->o->escape_char != TUN_ESCAPE_NONE && (tty || cl->o->escape_nontty);
    tun_session_params p = {
        .loop = cl->loop,
        .link = tun_conn_link(cl->conn),
        .o = cl->o,
        .host = cl->host,
        .command = cmd,
        .subsystem = cl->args->subsystem,
        .fd_in = cl->args->no_stdin ? -1 : 0,
        .fd_out = 1,
        .fd_err = 2,
        .own_stdio = 1,
        .tty = tty,
        .send_local_env = 1,
        .escape_ops = escapes ? &cl->esc : NULL,
        .escape_char = cl->o->escape_char,
        .forward_agent = cl->agent != NULL,
        .x11_proto = tun_x11_ok(cl->x11) ? tun_x11_proto(cl->x11) : NULL,
        .x11_cookie = tun_x11_ok(cl->x11) ? tun_x11_fake_cookie(cl->x11) : NULL,
        .x11_screen = tun_x11_ok(cl->x11) ? tun_x11_screen(cl->x11) : 0,
        .done = on_session_done,
        .arg = cl,
    };
    /* IPQoS: interactive with a terminal, bulk without (as ssh). */
    tun_conn_set_interactive(cl->conn, p.tty);
    cl->sess = tun_session_start(&p);
    if (cl->sess == NULL) {
        client_fail(cl, "could not start the session");
        return;
    }
    if (cl->mux) {
        cl->own_session = 1;
        tun_mux_own_session(cl->mux, +1);
    }
}

/* ---- forwarding ------------------------------------------------------------------------------ */

static void rfwd_schedule(tun_client *cl);

/* The remote forwards asked for again after a reconnect are answered. */
static void restore_settled(tun_client *cl, int failures)
{
    int local = 0, remote = 0, missing = 0;
    tun_fwd_counts(cl->fwd, &local, &remote, &missing);
    if (failures > 0 && cl->o->exit_on_forward_failure) {
        tun_error("Error: remote port forwarding failed after reconnecting to %s "
                  "(ExitOnForwardFailure); giving up",
                  cl->host);
        client_fail(cl, NULL);
        return;
    }
    if (cl->restoring) {
        cl->restoring = 0;
        if (missing)
            tun_info("Reconnected to %s; restored %d local, %d remote forward%s; %d remote "
                     "forward%s refused, asking again later",
                     cl->host, local, remote, remote == 1 ? "" : "s", missing,
                     missing == 1 ? "" : "s");
        else
            tun_info("Reconnected to %s; restored %d local, %d remote forward%s", cl->host, local,
                     remote, remote == 1 ? "" : "s");
    } else if (missing == 0 && ev_is_active(&cl->rfwd_retry) == 0 && cl->rfwd_step > 0) {
        tun_info("Remote forwards to %s restored (%d up)", cl->host, remote);
    }
    if (missing)
        rfwd_schedule(cl);
    else
        cl->rfwd_step = 0;
}

static void on_fwd_settled(void *arg, int failures)
{
    tun_client *cl = arg;
    if (cl->ever_up && cl->rc && (cl->restoring || cl->rfwd_step > 0)) {
        restore_settled(cl, failures);
        return;
    }
    if (failures > 0 && cl->o->exit_on_forward_failure) {
        client_fail(cl, "Error: forwarding failed (ExitOnForwardFailure)");
        return;
    }
    if (cl->args->fork_after_auth && cl->o->exit_on_forward_failure)
        go_background(cl);
}

static void on_fwd_idle(void *arg)
{
    tun_client *cl = arg;
    if (cl->session_over && !(cl->mux && tun_mux_busy(cl->mux) > 0))
        really_done(cl, cl->session_status);
}

static void on_stdio_done(void *arg, int status)
{
    really_done(arg, status);
}

static int start_forwarding(tun_client *cl)
{
    const tun_client_args *a = cl->args;
    if (a->n_fwds == 0 && a->stdio_host == NULL)
        return 0;
    tun_fwd_hooks h = {on_fwd_settled, on_fwd_idle};
    cl->fwd = tun_fwd_new(cl->loop, tun_conn_link(cl->conn), cl->res, cl->o, &h, cl);
    if (cl->fwd == NULL)
        return -1;
    tun_fwd_set_wait_limit(cl->fwd, wait_limit(cl));
    int failures = 0;
    for (int i = 0; i < a->n_fwds; i++)
        if (tun_fwd_add(cl->fwd, &a->fwds[i]) != 0)
            failures++;
    if (failures && cl->o->exit_on_forward_failure) {
        client_fail(cl, "Error: forwarding failed (ExitOnForwardFailure)");
        return -1;
    }
    if (a->stdio_host &&
        tun_fwd_stdio(cl->fwd, a->stdio_host, a->stdio_port, 0, 1, 1, NULL, on_stdio_done, cl) != 0) {
        client_fail(cl, "stdio forwarding failed");
        return -1;
    }
    if (tun_fwd_pending(cl->fwd) == 0)
        on_fwd_settled(cl, failures);
    return 0;
}

/* ---- connection sharing ------------------------------------------------------------------- */

static void on_fwd_settled(void *arg, int failures);

static tun_fwd *mux_fwd(void *arg)
{
    tun_client *cl = arg;
    if (cl->fwd == NULL) {
        tun_fwd_hooks h = {on_fwd_settled, on_fwd_idle};
        int up = cl->conn && cl->conn_up;
        cl->fwd =
            tun_fwd_new(cl->loop, up ? tun_conn_link(cl->conn) : NULL, cl->res, cl->o, &h, cl);
        if (cl->fwd == NULL)
            return NULL;
        tun_fwd_set_wait_limit(cl->fwd, wait_limit(cl));
        if (!up)
            tun_fwd_conn_lost(cl->fwd, "reconnecting");
    }
    return cl->fwd;
}

static void mux_state(void *arg, char *buf, size_t len)
{
    tun_client *cl = arg;
    if (cl->rc)
        tun_reconnect_describe(cl->rc, buf, len);
    else
        snprintf(buf, len, "%s", "");
}

static void mux_idle(void *arg)
{
    tun_client *cl = arg;
    /* Background master: ControlPersist's time is up.  (A master merely
     * backgrounded by -f is not persisting: it lives as long as its own
     * session or -N, like a foreground one.) */
    if (cl->persisting) {
        really_done(cl, 0);
        return;
    }
    /* Foreground master: done once our own session and forwards are. */
    if (cl->session_over && !(cl->fwd && tun_fwd_active(cl->fwd) > 0))
        really_done(cl, cl->session_status);
}

static void mux_terminate(void *arg)
{
    tun_client *cl = arg;
    really_done(cl, cl->session_over ? cl->session_status : 0);
}

/* ControlPersist: the master goes on in the background; this process
 * becomes a client of it for its own command. */
static void persist_detach(tun_client *cl)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        tun_error("fork: %s", strerror(errno));
        tun_mux_set_persist(cl->mux, 0);
        return;
    }
    if (pid == 0) {
        /* the master */
        setsid();
        ev_loop_fork(cl->loop);
        cl->backgrounded = 1;
        cl->persisting = 1;
        int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (fd >= 0) {
            dup2(fd, 0);
            dup2(fd, 1);
            if (!cl->args->keep_stderr)
                dup2(fd, 2);
            if (fd > 2)
                close(fd);
        }
        tun_mux_set_persist(cl->mux, cl->o->control_persist);
        return;
    }
    /* The foreground process: never touch the shared connection again. */
    int status = 0;
    if (!cl->args->no_command) {
        tun_mux_client_args a = {
            .op = cl->args->stdio_host ? MUXOP_STDIO : MUXOP_SESSION,
            .o = cl->o,
            .host = cl->host,
            .command = cl->args->command ? cl->args->command : cl->o->remote_command,
            .subsystem = cl->args->subsystem,
            .no_stdin = cl->args->no_stdin,
            .stdio_host = cl->args->stdio_host,
            .stdio_port = cl->args->stdio_port,
        };
        const char *cmd = a.command;
        a.tty = want_tty(cl, cmd);
        if (tun_mux_client(cl->args->control_path, &a, 0, &status) != 0) {
            tun_error("cannot reach the new master at %s", cl->args->control_path);
            status = 255;
        }
    }
    _exit(status);
}

static void mux_session_fwd(void *arg, int want_agent, int want_x11, tun_session_params *p);
static int mux_remote_open(void *arg, tun_link *link, uint32_t id,
                           const ssh_channel_open_info *info, const char **why);

static void start_master(tun_client *cl)
{
    tun_mux_hooks mh = {mux_idle, mux_terminate, mux_fwd, mux_state, mux_session_fwd,
                        mux_remote_open};
    cl->mux = tun_mux_master_start(cl->loop, cl->args->control_path, cl->o, cl->host, cl->res,
                                   &cl->ids, cl->conn, &mh, cl);
    if (cl->mux == NULL && errno == EEXIST)
        return; /* a live master has it (message printed): go on without sharing */
    if (cl->mux == NULL) {
        client_fail(cl, NULL); /* as ssh: a master that cannot listen exits 255 */
        return;
    }
    tun_mux_set_wait_limit(cl->mux, wait_limit(cl));
    if (cl->o->control_persist != 0)
        persist_detach(cl);
}

/* ---- LocalCommand ---------------------------------------------------------------------------- */

/* The session starts once the connection is up, LocalCommand has ended
 * and the X11 cookie is known. */
static void maybe_start_session(tun_client *cl)
{
    if (!cl->session_wanted || cl->finished || cl->sess || cl->localcmd || !tun_x11_done(cl->x11) ||
        cl->conn == NULL)
        return;
    start_session(cl);
    /* Called from the loop too (LocalCommand or xauth ended): what the
     * session queued goes out now. */
    if (cl->conn)
        tun_conn_kick(cl->conn);
}

static void on_x11_ready(void *arg)
{
    maybe_start_session(arg);
}

static void on_localcmd_done(void *arg, int status)
{
    (void)status; /* ssh does not act on it either */
    tun_client *cl = arg;
    tun_localcmd_free(cl->localcmd);
    cl->localcmd = NULL;
    maybe_start_session(cl);
}

/* 1 when LocalCommand was started (the session waits for it). */
static int run_local_command(tun_client *cl)
{
    if (cl->o->local_command == NULL || !cl->o->permit_local_command)
        return 0;
    char *cmd = tun_localcmd_expand(cl->o, cl->args->host);
    if (cmd == NULL)
        return 0;
    tun_debug("Executing LocalCommand: %s", cmd);
    cl->localcmd = tun_localcmd_start(cl->loop, cmd, on_localcmd_done, cl);
    free(cmd);
    return cl->localcmd != NULL;
}

/* ---- reconnecting -------------------------------------------------------------------- */

/* Does this program go on after losing its connection? */
static int reconnectable(const tun_client *cl)
{
    if (cl->rc == NULL || cl->finished || !cl->ever_up || cl->args->stdio_host)
        return 0;
    /* A background ControlPersist master carries only mux clients'
     * sessions; otherwise only a tunnel without a command of its own. */
    return cl->persisting || (cl->args->no_command && cl->sess == NULL);
}

static void rfwd_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    tun_client *cl = w->data;
    if (cl->fwd == NULL || !cl->conn_up)
        return;
    if (tun_fwd_retry_remote(cl->fwd) == 0)
        cl->rfwd_step = 0;
}

/* Refused remote forwards: ask again on the reconnect schedule (a server
 * holds a port for a dead connection until it notices it is dead). */
static void rfwd_schedule(tun_client *cl)
{
    if (ev_is_active(&cl->rfwd_retry))
        return;
    uint64_t t = (uint64_t)cl->o->reconnect_min * 1000;
    for (unsigned i = 0; i < cl->rfwd_step && t < (uint64_t)cl->o->reconnect_max * 1000; i++)
        t *= 2;
    if (t > (uint64_t)cl->o->reconnect_max * 1000)
        t = (uint64_t)cl->o->reconnect_max * 1000;
    cl->rfwd_step++;
    char ws[32];
    tun_reconnect_fmt_wait(t, ws, sizeof(ws));
    tun_verbose("asking again for refused remote forwards in %s", ws);
    ev_timer_set(&cl->rfwd_retry, (double)t / 1000.0, 0.);
    ev_timer_start(cl->loop, &cl->rfwd_retry);
}

/* The connection that was up is gone and the tunnel goes on. */
static void conn_lost(tun_client *cl, const char *msg)
{
    cl->conn_up = 0;
    cl->retired = cl->conn;
    cl->retired_res = cl->conn_res;
    cl->conn = NULL;
    cl->conn_res = NULL;
    cl->restoring = 0;
    ev_timer_stop(cl->loop, &cl->rfwd_retry);
    cl->rfwd_step = 0;
    tun_reconnect_lost(cl->rc, msg);
    const char *why = msg && *msg ? msg : "connection closed";
    if (cl->fwd)
        tun_fwd_conn_lost(cl->fwd, why);
    if (cl->mux)
        tun_mux_primary_lost(cl->mux, why);
    /* Agent and X11 connections were channels of the lost connection. */
    if (cl->retired) {
        tun_agentfwd_conn_lost(cl->agent, tun_conn_link(cl->retired));
        tun_x11_conn_lost(cl->x11, tun_conn_link(cl->retired));
    }
}

/* Connected again: carry the forwards and the master over. */
static void reconnected(tun_client *cl)
{
    cl->conn_up = 1;
    tun_reconnect_up(cl->rc);
    if (cl->fwd) {
        cl->restoring = 1;
        tun_fwd_restore(cl->fwd, tun_conn_link(cl->conn));
    }
    if (cl->mux)
        tun_mux_primary_back(cl->mux, cl->conn);
    if (cl->fwd && tun_fwd_pending(cl->fwd) == 0)
        restore_settled(cl, 0);
    else if (cl->fwd == NULL)
        tun_info("Reconnected to %s", cl->host);
    if (cl->conn)
        tun_conn_kick(cl->conn);
}

static int rc_attempt(void *arg)
{
    tun_client *cl = arg;
    start_attempt_conn(cl);
    return cl->conn ? 0 : -1;
}

static void rc_abort(void *arg, const char *why)
{
    tun_client *cl = arg;
    if (cl->conn && !cl->conn_up)
        tun_conn_fail(cl->conn, "%s", why);
}

static void rc_give_up(void *arg)
{
    client_fail(arg, NULL);
}

/* The network changed.  An attempt still connecting may be sending its
 * SYNs down a path that is no more: start over (soon, on the new one).  A
 * connection whose local address went away is dead, whatever keepalives
 * would say in a minute. */
static void rc_network(void *arg, const tun_netevent *ev)
{
    tun_client *cl = arg;
    struct sockaddr_storage ss;
    if (cl->conn && !cl->conn_up) {
        if (tun_conn_connecting(cl->conn))
            tun_conn_fail(cl->conn, "the network changed while connecting");
        return;
    }
    if (!cl->conn_up || ev->n_removed == 0 || tun_conn_local_addr(cl->conn, &ss) != 0)
        return;
    const void *a = NULL;
    char txt[64] = "";
    int port;
    if (ss.ss_family == AF_INET)
        a = &((struct sockaddr_in *)&ss)->sin_addr;
    else if (ss.ss_family == AF_INET6)
        a = &((struct sockaddr_in6 *)&ss)->sin6_addr;
    if (a == NULL || !tun_netwatch_removed(ev, ss.ss_family, a))
        return;
    tun_sockaddr_desc(&ss, txt, sizeof(txt), &port);
    tun_conn_fail(cl->conn, "local address %s went away", txt);
}

static void start_attempt_conn(tun_client *cl)
{
    if (cl->retired) {
        tun_conn_free(cl->retired);
        cl->retired = NULL;
    }
    tun_resolver_free(cl->retired_res);
    cl->retired_res = NULL;
    /* A resolver of its own for each attempt: c-ares reads resolv.conf
     * when it starts (Debian 12's 1.18 never again), and the network may
     * have changed its name servers (another Wi-Fi) since. */
    cl->conn_res = tun_resolver_new(cl->loop);
    cl->conn = tun_conn_start(cl->loop, cl->o, cl->host, cl->conn_res ? cl->conn_res : cl->res,
                              &cl->ids, &conn_hooks, cl);
    if (cl->conn)
        tun_conn_pin_hostkey(cl->conn, cl->pin_fp);
}

/* ---- agent and X11 channels ------------------------------------------------------------------ */

/* auth-agent@openssh.com and x11 channels on any of our connections (the
 * primary, or a master's other ones). */
static int remote_open(tun_client *cl, tun_link *link, uint32_t id,
                       const ssh_channel_open_info *info, const char **why)
{
    if (info->kind == SSH_CHAN_OTHER && strcmp(info->type, "x11") == 0) {
        if (cl->x11)
            return tun_x11_channel_open(cl->x11, link, id, info, why);
        tun_error("Warning: ssh server tried X11 forwarding.");
        tun_error("Warning: this is probably a break-in attempt by a malicious server.");
        *why = "X11 forwarding not requested";
        return -SSH_OPEN_ADMINISTRATIVELY_PROHIBITED;
    }
    if (info->kind == SSH_CHAN_OTHER && strcmp(info->type, "auth-agent@openssh.com") == 0) {
        if (cl->agent)
            return tun_agentfwd_channel_open(cl->agent, link, id, why);
        /* ssh's words: we never asked for it. */
        tun_info("Warning: ssh server tried agent forwarding.");
        tun_info("Warning: this is probably a break-in attempt by a malicious server.");
        *why = "agent forwarding not requested";
        return -SSH_OPEN_ADMINISTRATIVELY_PROHIBITED;
    }
    tun_debug("refusing channel of type %s", info->type);
    *why = "open refused";
    return -SSH_OPEN_ADMINISTRATIVELY_PROHIBITED;
}

static int mux_remote_open(void *arg, tun_link *link, uint32_t id,
                           const ssh_channel_open_info *info, const char **why)
{
    return remote_open(arg, link, id, info, why);
}

/* A mux client's session asks for agent or X11 forwarding: it gets what
 * this master forwards (ssh's master does the same). */
static void mux_session_fwd(void *arg, int want_agent, int want_x11, tun_session_params *p)
{
    tun_client *cl = arg;
    if (want_agent && cl->agent)
        p->forward_agent = 1;
    if (want_x11 && tun_x11_ok(cl->x11)) {
        p->x11_proto = tun_x11_proto(cl->x11);
        p->x11_cookie = tun_x11_fake_cookie(cl->x11);
        p->x11_screen = tun_x11_screen(cl->x11);
    }
}

/* ---- connection hooks -------------------------------------------------------------------------- */

static void on_ready(tun_conn *c, void *arg)
{
    tun_client *cl = arg;
    if (c != cl->conn)
        return; /* given up on already */
    if (cl->ever_up) {
        reconnected(cl);
        return;
    }
    cl->ever_up = 1;
    cl->conn_up = 1;
    snprintf(cl->pin_fp, sizeof(cl->pin_fp), "%s", tun_conn_hostkey_fp(c));
    if (start_forwarding(cl) != 0)
        return;
    if (cl->args->control_path) {
        start_master(cl);
        if (cl->finished)
            return;
        if (cl->mux && cl->o->control_persist != 0)
            return; /* the background master serves; sessions come via mux */
    }
    /* -f: background now, unless forwards must be confirmed first. */
    if (cl->args->fork_after_auth && !(cl->fwd && cl->o->exit_on_forward_failure))
        go_background(cl);
    if (cl->args->ready_hook)
        cl->args->ready_hook(cl->args->ready_arg, cl->conn);
    cl->session_wanted = !cl->args->no_command && cl->args->stdio_host == NULL;
    /* LocalCommand first (ssh runs it before its session begins and
     * waits for it); the session starts when it has exited. */
    run_local_command(cl);
    maybe_start_session(cl);
    if (!cl->session_wanted) /* -N, -W: ssh counts these interactive unless they serve a master */
        tun_conn_set_interactive(cl->conn, cl->args->control_path == NULL);
}

static void on_dead(tun_conn *c, const char *msg, void *arg)
{
    tun_client *cl = arg;
    if (c != cl->conn)
        return; /* a retired connection has nothing more to say */
    if (cl->rc && !cl->finished && cl->ever_up) {
        if (!cl->conn_up) {
            /* an attempt failed */
            cl->retired = cl->conn;
            cl->retired_res = cl->conn_res;
            cl->conn = NULL;
            cl->conn_res = NULL;
            tun_reconnect_failed(cl->rc, msg, tun_conn_failure(c));
            return;
        }
        if (reconnectable(cl)) {
            conn_lost(cl, msg);
            return;
        }
    }
    if (cl->mux)
        tun_mux_primary_gone(cl->mux);
    if (msg && *msg && !cl->finished)
        tun_error("%s", msg);
    finish(cl, cl->finished ? cl->exit_status : 255);
}

static int on_channel_open(tun_conn *c, uint32_t id, const ssh_channel_open_info *info,
                           const char **why, void *arg)
{
    tun_client *cl = arg;
    if ((info->kind == SSH_CHAN_FORWARDED_TCPIP || info->kind == SSH_CHAN_FORWARDED_STREAMLOCAL) &&
        cl->fwd)
        return tun_fwd_channel_open(cl->fwd, id, info, why);
    return remote_open(cl, tun_conn_link(c), id, info, why);
}

static const tun_conn_hooks conn_hooks = {on_ready, on_dead, on_channel_open};

/* ---- signals --------------------------------------------------------------------------------- */

/* SIGHUP (the terminal went away), SIGTERM, SIGINT and SIGQUIT end the
 * client as ssh's do: an orderly exit with status 255, which puts the
 * terminal back (raw mode, non-blocking flags) and removes a control
 * socket, instead of dying with them changed. */
static void on_quit_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)loop;
    (void)revents;
    tun_client *cl = w->data;
    tun_tty_restore();
    tun_verbose("Killed by signal %d.", w->signum);
    client_fail(cl, NULL);
}

/* ---- entry ----------------------------------------------------------------------------------- */

int tun_client_run(const tun_client_args *args)
{
    /* A ControlPath that cannot be a socket fails now, not after
     * connecting and authenticating (ssh would fail only then). */
    if (args->control_path && tun_mux_check_path(args->control_path) != 0)
        return 255;
    tun_client cl;
    memset(&cl, 0, sizeof(cl));
    cl.args = args;
    cl.o = args->opts;
    cl.loop = args->loop ? args->loop : ev_default_loop(EVFLAG_AUTO);
    cl.host = cl.o->hostname ? cl.o->hostname : args->host;
    cl.agent_path = tun_agentfwd_socket(cl.o);
    if (cl.agent_path)
        cl.agent = tun_agentfwd_new(cl.loop, cl.agent_path);
    escapes_setup(&cl);
    tun_idstore_init(&cl.ids, cl.loop, cl.o);
    cl.res = tun_resolver_new(cl.loop);
    if (cl.res == NULL) {
        tun_idstore_free(&cl.ids);
        free(cl.agent_path);
        return 255;
    }
    /* The X11 cookie is fetched while we connect. */
    cl.x11 = tun_x11_start(cl.loop, cl.o, cl.res, on_x11_ready, &cl);
    static const int quit_signals[4] = {SIGHUP, SIGTERM, SIGINT, SIGQUIT};
    for (int i = 0; i < 4; i++) {
        ev_signal_init(&cl.sigs[i], on_quit_signal, quit_signals[i]);
        cl.sigs[i].data = &cl;
        ev_signal_start(cl.loop, &cl.sigs[i]);
        ev_unref(cl.loop); /* they alone do not keep the loop running */
    }
    ev_timer_init(&cl.rfwd_retry, rfwd_retry_cb, 1., 0.);
    cl.rfwd_retry.data = &cl;
    if (cl.o->reconnect) {
        tun_reconnect_hooks rh = {rc_attempt, rc_abort, rc_give_up, rc_network};
        cl.rc = tun_reconnect_new(cl.loop, cl.o, cl.host, &rh, &cl);
    }
    cl.conn = tun_conn_start(cl.loop, cl.o, cl.host, cl.res, &cl.ids, &conn_hooks, &cl);
    if (cl.conn == NULL)
        finish(&cl, 255);
    if (!cl.finished)
        ev_run(cl.loop, 0);
    for (int i = 0; i < 4; i++) {
        ev_ref(cl.loop);
        ev_signal_stop(cl.loop, &cl.sigs[i]);
    }
    /* Let a last DISCONNECT reach the socket without waiting on the peer. */
    if (cl.conn)
        tun_conn_kick(cl.conn);
    ev_timer_stop(cl.loop, &cl.quit_timer);
    if (cl.sess)
        tun_session_free(cl.sess);
    tun_agentfwd_free(cl.agent);
    free(cl.agent_path);
    tun_x11_free(cl.x11);
    tun_localcmd_free(cl.localcmd);
    tun_mux_free(cl.mux);
    tun_fwd_free(cl.fwd);
    tun_conn_free(cl.conn);
    tun_conn_free(cl.retired);
    tun_resolver_free(cl.conn_res);
    tun_resolver_free(cl.retired_res);
    ev_timer_stop(cl.loop, &cl.rfwd_retry);
    tun_reconnect_free(cl.rc);
    tun_resolver_free(cl.res);
    tun_idstore_free(&cl.ids);
    return cl.exit_status;
}
