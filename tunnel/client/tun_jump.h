/*
 * tun_jump.h - reaching a host through jump hosts (ProxyJump, -J), in
 * this process.
 *
 * The last hop of the ProxyJump list gets a connection of its own (a
 * tun_conn, with options read for its name from the same configuration
 * files: its Host section's HostName, User, Port, IdentityFile, known
 * hosts and HostKeyAlias; its host key is checked under its own name).
 * The hops before it are that connection's own ProxyJump, so a chain
 * nests: each connection is carried by a direct-tcpip channel of the one
 * before it (tun_chanwire.h), and the whole chain runs on one loop.  The
 * destination's command-line options are not given to the hops, as with
 * ssh, whose jump connections are "ssh -W" processes started with -F, -l,
 * -p, -J and -v only.
 */
#ifndef SSHTUN_TUN_JUMP_H
#define SSHTUN_TUN_JUMP_H

#include <ev.h>
#include <sys/socket.h>

#include "tun_options.h"
#include "tun_resolve.h"
#include "tun_wire.h"

typedef struct tun_jump tun_jump;

/* The wire to the target, or NULL and a one-line reason (empty when the
 * reason was printed already, as host key refusals are). */
typedef void (*tun_jump_cb)(void *arg, tun_wire *w, const char *err);

/* Reach `host` (a HostName) port o->port through o->proxy_jump.  The
 * callback runs once, from the loop.  NULL, with a message printed, if
 * the ProxyJump value cannot be used. */
tun_jump *tun_jump_start(struct ev_loop *loop, const tun_options *o, const char *host,
                         tun_resolver *res, tun_jump_cb cb, void *arg);
/* Why the wire ended, when a jump host's connection failed under it
 * (NULL otherwise). */
const char *tun_jump_failure(const tun_jump *j);
/* How the jump host's connection failed (tun_conn_failure), when it did:
 * a refused host key or login there stays refused. */
int tun_jump_failure_kind(const tun_jump *j);
/* The local address of the first hop's socket (tun_conn_local_addr):
 * 0, or -1 when there is none (not connected, or through a command). */
int tun_jump_local_addr(const tun_jump *j, struct sockaddr_storage *ss);
/* Flush the hops' output now (a last DISCONNECT at exit). */
void tun_jump_kick(tun_jump *j);
/* Close and free the chain (after the transport on the wire was closed). */
void tun_jump_free(tun_jump *j);

#endif
