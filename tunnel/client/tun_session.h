/*
 * tun_session.h - a remote command (or shell) over a session channel,
 * bridged to three local descriptors: the process's own stdio, or the ones
 * a mux client passed to the connection sharing master.
 */
#ifndef SSHTUN_TUN_SESSION_H
#define SSHTUN_TUN_SESSION_H

#include <ev.h>

#include "sshtun/conn.h"
#include "tun_chan.h"
#include "tun_escape.h"
#include "tun_options.h"

typedef struct tun_session tun_session;

typedef struct tun_session_params {
    struct ev_loop *loop;
    tun_link *link;
    const tun_options *o;
    const char *host;      /* for messages */
    const char *command;   /* NULL: shell */
    int subsystem;         /* command names a subsystem */
    int fd_in, fd_out, fd_err; /* fd_in -1: no input (-n) */
    int own_stdio;         /* fds are this process's stdio: raw mode, SIGWINCH */
    int tty;               /* request a pty */
    const char *term;      /* NULL: $TERM */
    char *const *env;      /* NAME=value strings sent as env requests */
    int n_env;
    int send_local_env;    /* also SendEnv/SetEnv from the options */
    /* Escape sequences on fd_in (tun_escape.h): on when `escape_ops` is
     * set, with `escape_char`.  The session does ~B, ~R and ~^Z itself
     * (where the ops have them) and passes the rest to the owner. */
    const tun_escape_ops *escape_ops;
    int escape_char;
    /* Ask for agent forwarding (auth-agent-req@openssh.com) and X11
     * forwarding (x11-req with this protocol and the fake cookie, hex). */
    int forward_agent;
    const char *x11_proto;
    const char *x11_cookie;
    int x11_screen;
    /* The session ended: exit status (255 for failures, after `msg`). */
    void (*done)(void *arg, int status, const char *msg);
    /* The pty request was refused (mux: MUX_S_TTY_ALLOC_FAIL). */
    void (*tty_failed)(void *arg);
    /* The channel is open and the command requested (mux: SESSION_OPENED). */
    void (*started)(void *arg, uint32_t channel_id);
    /* The server refused to open the session channel.  Return 1 to take the
     * descriptors back (the session then ends silently: no `done`, and
     * tun_session_free() leaves the descriptors open). */
    int (*open_refused)(void *arg, uint32_t reason, const char *msg);
    void *arg;
} tun_session_params;

/* Open the session channel; NULL when it could not even be opened. */
tun_session *tun_session_start(const tun_session_params *p);
/* Close the channel (the far side learns with CHANNEL_CLOSE). */
void tun_session_close(tun_session *s);
/* The connection is gone: end with status 255 and `msg` (no engine calls). */
void tun_session_abort(tun_session *s, const char *msg);
/* Send window-change from the size of the input terminal. */
void tun_session_winch(tun_session *s);
/* The session's channel id. */
uint32_t tun_session_id(const tun_session *s);
/* Free (closes passed descriptors unless own_stdio). */
void tun_session_free(tun_session *s);

#endif
