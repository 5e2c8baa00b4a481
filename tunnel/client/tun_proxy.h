/*
 * tun_proxy.h - a ProxyCommand: the command whose stdin and stdout carry
 * the connection (ssh_config(5) ProxyCommand, ProxyUseFdpass).
 *
 * The command runs as ssh runs it: "exec <command>" through the user's
 * shell ($SHELL, else /bin/sh) with `-c`, its stdin and stdout on pipes
 * that become the transport's wire; or, with ProxyUseFdpass, on one end of
 * a socket pair over which it passes back a connected socket and exits.
 * Its stderr comes through us: until the connection is established it is
 * held (bounded), so that a failure can be told in one line with what the
 * command said ("ProxyCommand 'nc gw 22' exited with status 1: nc:
 * connect to gw port 22 (tcp) failed: Connection refused"); once
 * established, what was held is written to our stderr and the rest passes
 * as it comes.  At -v and above it passes at once.  Whatever happens, what
 * the command wrote to stderr is shown, never swallowed.
 */
#ifndef SSHTUN_TUN_PROXY_H
#define SSHTUN_TUN_PROXY_H

#include <ev.h>

typedef struct tun_proxy tun_proxy;

/* The command's descriptors for the connection (non-blocking, the
 * caller's to close): in_fd to read, out_fd to write (the same socket
 * with ProxyUseFdpass); or in_fd == -1 and `err` a one-line reason. */
typedef void (*tun_proxy_cb)(void *arg, int in_fd, int out_fd, const char *err);

/* Start `command` (already token-expanded, without "exec").  The
 * callback runs once, from the loop.  NULL if it could not be started
 * (message printed). */
tun_proxy *tun_proxy_start(struct ev_loop *loop, const char *command, int fdpass, tun_proxy_cb cb,
                           void *arg);
/* The connection through it is established: what it wrote to stderr so
 * far is written out, and the rest passes through as it comes. */
void tun_proxy_established(tun_proxy *p);
/* The connection ended before being established because the command's
 * side closed: explain (exit status, what it wrote to stderr) in one line
 * once the command has exited, or after at most 2 seconds; `done` gets
 * the line.  What was held is then part of the line, not printed again. */
void tun_proxy_explain(tun_proxy *p, void (*done)(void *arg, const char *msg), void *arg);
/* SIGHUP to the command if it still runs (as ssh does at exit), print
 * what stderr still held, free.  Its exit is collected by the loop. */
void tun_proxy_free(tun_proxy *p);

#endif
