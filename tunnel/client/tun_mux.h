/*
 * tun_mux.h - connection sharing (ControlMaster / ControlPath /
 * ControlPersist), speaking OpenSSH's mux protocol so that ssh(1) and
 * sshtun can use each other's masters.
 *
 * Master: a Unix socket (created atomically, 0600, peer uid checked on
 * every accept) on which later invocations ask for sessions, stdio
 * forwards, port forwards, a liveness check or termination.  Sessions are
 * placed on the primary connection while it has fewer than MaxSessions; a
 * session beyond that, or one the server refuses, goes to another
 * authenticated connection to the same destination, opened on demand and
 * closed again when idle.
 *
 * Client: the passenger side (ssh -S path host cmd / -O check ...).
 */
#ifndef SSHTUN_TUN_MUX_H
#define SSHTUN_TUN_MUX_H

#include <ev.h>

#include "tun_conn.h"
#include "tun_fwd.h"
#include "tun_fwdspec.h"
#include "tun_idstore.h"
#include "tun_options.h"
#include "tun_resolve.h"
#include "tun_session.h"

typedef struct tun_mux tun_mux;

typedef struct tun_mux_hooks {
    /* No session and no mux client for ControlPersist's time (or, without
     * ControlPersist, as soon as the master's own work is done): exit. */
    void (*idle)(void *arg);
    /* MUX_C_TERMINATE accepted: end everything. */
    void (*terminate)(void *arg);
    /* The forwarding manager of the primary connection (created on demand). */
    tun_fwd *(*fwd)(void *arg);
    /* Reconnect: the state of the primary connection while it is down
     * ("down since ...: reason; attempt N, next try in S s"), for -O
     * status/check and refusals.  May be NULL. */
    void (*state)(void *arg, char *buf, size_t len);
    /* Agent and X11 forwarding for a mux client's session that asks for
     * them: fill in `p` with what the master itself forwards (as ssh's
     * master: only when it forwards them too).  May be NULL. */
    void (*session_fwd)(void *arg, int want_agent, int want_x11, tun_session_params *p);
    /* An auth-agent@openssh.com or x11 channel opened by the server on one
     * of the master's other connections (engine convention).  May be NULL
     * (refused). */
    int (*remote_open)(void *arg, tun_link *link, uint32_t id, const ssh_channel_open_info *info,
                       const char **why);
} tun_mux_hooks;

/* Create the control socket at `path` and start serving.  NULL (with a
 * message) when it cannot be created: errno is EEXIST when a live master
 * already owns it (go on without sharing, as ssh does), anything else for
 * a failure (too long a path, no such directory...: ssh exits 255). */
tun_mux *tun_mux_master_start(struct ev_loop *loop, const char *path, const tun_options *o,
                              const char *host, tun_resolver *res, tun_idstore *ids,
                              tun_conn *primary, const tun_mux_hooks *hooks, void *arg);
/* The master's own session on the primary connection started/ended (it
 * counts towards MaxSessions and keeps the master busy). */
void tun_mux_own_session(tun_mux *m, int delta);
/* ControlPersist: leave the foreground (the caller forks); from now on
 * only mux clients and their sessions keep the master alive. */
void tun_mux_set_persist(tun_mux *m, int seconds /* -2 forever */);
/* Sessions + mux clients currently served (0: idle). */
int tun_mux_busy(const tun_mux *m);
/* Stop listening and remove the socket (also done by free). */
void tun_mux_stop_listening(tun_mux *m);
/* The primary connection died: close every mux client. */
void tun_mux_primary_gone(tun_mux *m);
/* Reconnect: the primary connection was lost and is being re-established.
 * The control socket stays; sessions that ran on it end (status 255 with
 * `why`); new sessions and stdio forwards wait for it (see
 * tun_mux_set_wait_limit), then are refused with the tunnel's state. */
void tun_mux_primary_lost(tun_mux *m, const char *why);
/* The primary connection is back as `tc`: waiting sessions start on it. */
void tun_mux_primary_back(tun_mux *m, tun_conn *tc);
/* How long (seconds) a new session waits for a primary that is down
 * (default 10). */
void tun_mux_set_wait_limit(tun_mux *m, double secs);
void tun_mux_free(tun_mux *m);

/* ---- client side ------------------------------------------------------------------------ */

enum tun_mux_op {
    MUXOP_SESSION = 0, /* run a command / shell (the default) */
    MUXOP_STDIO,       /* -W */
    MUXOP_CHECK,       /* -O check */
    MUXOP_FORWARD,     /* -O forward */
    MUXOP_CANCEL,      /* -O cancel */
    MUXOP_EXIT,        /* -O exit */
    MUXOP_STOP,        /* -O stop */
    MUXOP_STATUS,      /* -O status */
};

typedef struct tun_mux_client_args {
    enum tun_mux_op op;
    const tun_options *o;
    const char *host;       /* for messages */
    const char *command;
    int subsystem;
    int tty;
    int no_stdin;
    const tun_fwdspec *fwds;
    int n_fwds;
    const char *stdio_host;
    int stdio_port;
} tun_mux_client_args;

/* Talk to the master at `path`.  Returns -1 when no master answers there
 * (the caller may connect by itself; a stale socket is removed when
 * `unlink_stale`), otherwise 0 with the exit status in *status. */
int tun_mux_client(const char *path, const tun_mux_client_args *a, int unlink_stale,
                   int *status);

/* Does `path` fit a Unix socket address?  0, or -1 after a message. */
int tun_mux_check_path(const char *path);

#endif
