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

/* -W host:port: bridge in_fd/out_fd (stdin/stdout, or descriptors a mux
 * client passed) to one direct-tcpip channel.  `opened` (may be NULL) runs
 * when the channel is confirmed; `done` with the exit status when it ends
 * (255 if it could not be opened). */
int tun_fwd_stdio(tun_fwd *f, const char *host, int port, int in_fd, int out_fd, int own_fds,
                  void (*opened)(void *arg, uint32_t id), void (*done)(void *arg, int status),
                  void *arg);

#endif
