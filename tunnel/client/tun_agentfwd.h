/*
 * tun_agentfwd.h - agent forwarding, the client's half (-A, ForwardAgent):
 * the session asks for it with auth-agent-req@openssh.com, and every
 * auth-agent@openssh.com channel the server then opens is connected to
 * the local agent's socket and bridged to it (OpenSSH PROTOCOL 1.4 and
 * its agent protocol: the bytes pass through unchanged).
 *
 * The socket is ForwardAgent's path (~ and %-tokens expanded, or $VAR:
 * the variable's value), else IdentityAgent's, else $SSH_AUTH_SOCK, as
 * ssh chooses it.
 */
#ifndef SSHTUN_TUN_AGENTFWD_H
#define SSHTUN_TUN_AGENTFWD_H

#include <ev.h>
#include <stddef.h>

#include "sshtun/conn.h"
#include "tun_chan.h"
#include "tun_options.h"

typedef struct tun_agentfwd tun_agentfwd;

/* The agent socket to forward, from the options (after tun_options_expand):
 * a malloc'd path, or NULL when agent forwarding is off or there is no
 * agent (then a message says why, as ssh's). */
char *tun_agentfwd_socket(const tun_options *o);

/* Serve auth-agent@openssh.com channels with `path` (of any of the
 * program's connections: the master's sessions may be on several). */
tun_agentfwd *tun_agentfwd_new(struct ev_loop *loop, const char *path);
/* The engine's channel_open convention for "auth-agent@openssh.com" on
 * the connection `link`. */
int tun_agentfwd_channel_open(tun_agentfwd *a, tun_link *link, uint32_t id, const char **why);
/* The connection `link` is gone: forget its agent connections. */
void tun_agentfwd_conn_lost(tun_agentfwd *a, tun_link *link);
/* Agent connections open now (for ~#). */
int tun_agentfwd_active(const tun_agentfwd *a);
/* Close every agent connection. */
void tun_agentfwd_free(tun_agentfwd *a);

#endif
