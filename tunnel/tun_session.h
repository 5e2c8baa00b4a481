/*
 * tun_session.h - the remote command (or shell) of an sshtun invocation,
 * bridged to the local stdin/stdout/stderr.
 */
#ifndef SSHTUN_TUN_SESSION_H
#define SSHTUN_TUN_SESSION_H

#include <ev.h>

#include "sshtun/conn.h"
#include "tun_chan.h"
#include "tun_options.h"

typedef struct tun_client tun_client;
typedef struct tun_session tun_session;

/* Open the session channel and run `command` (NULL: shell).  With no_stdin
 * the remote side sees EOF at once (-n).  Returns NULL on failure. */
tun_session *tun_session_start(tun_client *cl, ssh_conn *c, const tun_options *o,
                               const char *command, int no_stdin, int tty);
void tun_session_free(tun_session *s);

/* Services of the client used by sessions. */
void tun_client_fail(tun_client *cl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tun_client_session_done(tun_client *cl, int status);
tun_link *tun_client_link(tun_client *cl);
struct ev_loop *tun_client_loop(tun_client *cl);
const char *tun_client_host(tun_client *cl);

#endif
