/*
 * tun_fwd.h - port forwarding over one SSH connection: local listeners
 * (-L, -D), remote forwards (-R, including port 0 and dynamic SOCKS),
 * Unix-socket variants, and the incoming forwarded-tcpip /
 * forwarded-streamlocal channels they produce.
 *
 * Every forwarded connection is a tun_pipe between a socket and a channel,
 * so flow control is the pipe's: a socket is read only while the peer's
 * window is open and the connection's output is not backed up; window is
 * granted only for bytes written to the socket.
 */
#ifndef SSHTUN_TUN_FWD_H
#define SSHTUN_TUN_FWD_H

#include <ev.h>

#include "tun_chan.h"
#include "tun_fwdspec.h"
#include "tun_options.h"
#include "tun_resolve.h"

typedef struct tun_fwd tun_fwd;

typedef struct tun_fwd_hooks {
    /* Every forward added so far has been set up or has failed (remote
     * requests answered); `failures` counts the failed ones. */
    void (*settled)(void *arg, int failures);
    /* The last forwarded connection closed. */
    void (*idle)(void *arg);
} tun_fwd_hooks;

tun_fwd *tun_fwd_new(struct ev_loop *loop, tun_link *link, tun_resolver *res,
                     const tun_options *o, const tun_fwd_hooks *hooks, void *arg);
/* Stop listening, close every forwarded connection's socket. */
void tun_fwd_free(tun_fwd *f);

/* Start a forward.  Local: bind now (returns -1 if no address could be
 * bound, after a message).  Remote: send the request (answer later).
 * `spec` is copied. */
int tun_fwd_add(tun_fwd *f, const tun_fwdspec *spec);
/* The same with a completion: done(arg, ok, allocated_port, error) runs
 * once the forward is up or has failed (at once for local forwards).  An
 * identical forward that is already up completes at once with ok. */
int tun_fwd_add_cb(tun_fwd *f, const tun_fwdspec *spec,
                   void (*done)(void *arg, int ok, int port, const char *err), void *arg);
/* Forget completions pointing at `arg` (its owner goes away). */
void tun_fwd_forget(tun_fwd *f, void *arg);
/* One line per forward ("-L 127.0.0.1:8080 -> db:5432, 2 connections"). */
void tun_fwd_describe(const tun_fwd *f, char *buf, size_t len);
/* One line per forwarded connection open now ("  #3 direct-tcpip 127.0.0.1
 * port 8080 -> web:80\r\n", CR LF for a raw terminal): the length written. */
size_t tun_fwd_list_conns(const tun_fwd *f, char *buf, size_t len);
/* Close every listener (local forwards; no new connections), leaving the
 * open connections be (ssh's ~&). */
void tun_fwd_stop_listening(tun_fwd *f);
/* Stop a forward matching `spec` (listen side); 0 if found. */
int tun_fwd_cancel(tun_fwd *f, const tun_fwdspec *spec);

/* The engine's channel_open callback for forwarded-tcpip and
 * forwarded-streamlocal@openssh.com (same return convention). */
int tun_fwd_channel_open(tun_fwd *f, uint32_t id, const ssh_channel_open_info *info,
                         const char **why);

/* Forwarded connections currently open. */
int tun_fwd_active(const tun_fwd *f);
/* Forwards still waiting for their remote reply. */
int tun_fwd_pending(const tun_fwd *f);

/* ---- reconnecting (Reconnect yes) --------------------------------------------------- */

/* The connection is gone: established forwarded connections end (what
 * they received is written out first); connections still waiting for
 * their channel, and new ones accepted from now on, wait for the next
 * connection (at most the wait limit, then they are closed with a log
 * line; a SOCKS client gets an error reply); every remote forward not
 * cancelled is to be asked for again.  Listeners stay open.  `why` says
 * what happened, for those log lines. */
void tun_fwd_conn_lost(tun_fwd *f, const char *why);
/* Connected again over `link`: remote forwards are requested (the settled
 * hook runs once all are answered: `failures` counts those refused) and
 * waiting connections open their channels.  Returns the number of remote
 * forwards requested. */
int tun_fwd_restore(tun_fwd *f, tun_link *link);
/* Ask again for the remote forwards refused after a reconnect (the server
 * may have held the port for the dead connection a little longer); the
 * settled hook follows.  Returns how many were requested. */
int tun_fwd_retry_remote(tun_fwd *f);
/* Forwards by state: local/dynamic listening, remote ones up, remote ones
 * wanted but not up (waiting for the connection, or refused). */
void tun_fwd_counts(const tun_fwd *f, int *local, int *remote_up, int *remote_missing);
/* How long (seconds) a connection that needs a channel waits while the
 * connection is down (default 10). */
void tun_fwd_set_wait_limit(tun_fwd *f, double secs);
int tun_fwd_is_down(const tun_fwd *f);

/* -W host:port: bridge in_fd/out_fd (stdin/stdout, or descriptors a mux
 * client passed) to one direct-tcpip channel (-1 while the connection is
 * down).  `opened` (may be NULL) runs
 * when the channel is confirmed; `done` with the exit status when it ends
 * (255 if it could not be opened). */
int tun_fwd_stdio(tun_fwd *f, const char *host, int port, int in_fd, int out_fd, int own_fds,
                  void (*opened)(void *arg, uint32_t id), void (*done)(void *arg, int status),
                  void *arg);

#endif
