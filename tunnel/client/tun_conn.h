/*
 * tun_conn.h - one client SSH connection, from name to authenticated: c-ares
 * resolution, Happy Eyeballs connect (ConnectTimeout, ConnectionAttempts),
 * the engine on its socket, host key verification against known_hosts, and
 * authentication (PreferredAuthentications over the shared identity store,
 * keyboard-interactive and password prompts).
 *
 * A program may hold several (the connection sharing master does); each
 * reports through hooks and is freed by its owner.
 */
#ifndef SSHTUN_TUN_CONN_H
#define SSHTUN_TUN_CONN_H

#include <ev.h>

#include "sshtun/conn.h"
#include "tun_chan.h"
#include "tun_idstore.h"
#include "tun_options.h"
#include "tun_resolve.h"
#include "tun_transport.h"

typedef struct tun_conn tun_conn;

typedef struct tun_conn_hooks {
    /* Authenticated: channels may be opened. */
    void (*ready)(tun_conn *c, void *arg);
    /* The connection is over.  `msg` explains a failure (not yet printed),
     * NULL after an orderly close. */
    void (*dead)(tun_conn *c, const char *msg, void *arg);
    /* Incoming CHANNEL_OPEN (forwarded-tcpip...); engine convention.  NULL:
     * refused. */
    int (*channel_open)(tun_conn *c, uint32_t id, const ssh_channel_open_info *info,
                        const char **why, void *arg);
} tun_conn_hooks;

/* Start connecting to `host` (the HostName) with options `o`. */
tun_conn *tun_conn_start(struct ev_loop *loop, const tun_options *o, const char *host,
                         tun_resolver *res, tun_idstore *ids, const tun_conn_hooks *hooks,
                         void *arg);
/* End the connection with `fmt` as its reason (NULL: the reason has been
 * printed already); `dead` follows. */
void tun_conn_fail(tun_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Orderly DISCONNECT ("disconnected by user"); `dead` follows with NULL. */
void tun_conn_close(tun_conn *c);
/* Free everything (no hooks run). */
void tun_conn_free(tun_conn *c);

tun_link *tun_conn_link(tun_conn *c);
int tun_conn_is_ready(const tun_conn *c);
/* Flush queued output now (after acting outside engine callbacks). */
void tun_conn_kick(tun_conn *c);
/* The session decided: interactive (a terminal) or bulk type of service
 * (IPQoS) on the connection's socket, once, as ssh does; nothing when the
 * connection is not on a socket of ours. */
void tun_conn_set_interactive(tun_conn *c, int interactive);
/* Pretty description for status output. */
void tun_conn_describe(const tun_conn *c, char *buf, size_t len);

/* Why a connection that never became ready (or died) ended, as far as
 * trying again is concerned: a refused host key or a refused login stay
 * refused; anything else (network, timeouts, the server going away) may
 * not. */
enum tun_conn_failure {
    TUN_CONN_FAIL_NONE = 0,
    TUN_CONN_FAIL_OTHER,
    TUN_CONN_FAIL_HOSTKEY,
    TUN_CONN_FAIL_AUTH,
};
enum tun_conn_failure tun_conn_failure(const tun_conn *c);

/* Reconnecting (Reconnect yes): the SHA256 fingerprint of the host key an
 * earlier connection accepted.  A key that known_hosts does not list is
 * then accepted without asking only if it is that same key, and refused as
 * a changed key otherwise (keys known_hosts lists are checked as always).
 * Call right after tun_conn_start. */
void tun_conn_pin_hostkey(tun_conn *c, const char *fp);
/* The fingerprint of the host key this connection accepted ("" until then). */
const char *tun_conn_hostkey_fp(const tun_conn *c);
/* The local address of the connection's socket: 0, or -1 without one. */
int tun_conn_local_addr(const tun_conn *c, struct sockaddr_storage *ss);
/* Still resolving or connecting (no TCP connection yet)? */
int tun_conn_connecting(const tun_conn *c);

#endif
