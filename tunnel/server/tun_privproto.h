/*
 * tun_privproto.h - the messages between sshtund's network process and its
 * privileged side (see tun_priv.h for who decides what).
 *
 * Every message is one SOCK_SEQPACKET datagram of at most
 * TUN_PRIV_MSG_MAX bytes in RFC 4251 encoding, with up to three
 * descriptors attached.  A request is
 *
 *   u32 type, u32 request id, u64 connection token, fields...
 *
 * and its answer (if the type has one) is
 *
 *   u32 type | TUN_PRIV_REPLY, u32 request id, fields...
 *
 * Answers may come in any order (a password check outlives a key check);
 * the network process matches them by request id.  Unsolicited from the
 * helper: TUN_PRIV_EV_EXIT (u32 0, u32 pid, u32 wait status), and with
 * several workers the verdict on every CONN_NEW: TUN_PRIV_EV_ACCEPT or
 * TUN_PRIV_EV_DROP (u32 0, u64 token, u32 unauthenticated connections):
 * the helper refused it (MaxStartups, PerSourceMaxStartups, a bad PROXY
 * header...).  The worker sends nothing on a connection before its
 * verdict, so a dropped client sees no banner, as with sshd.
 *
 *   CONN_NEW   + the accepted socket, [string PROXY header]    (no answer)
 *              (the header only on a PROXY protocol listener: see
 *              tun_privd.c conn_new for what the helper checks)
 *   CONN_END                                                    (no answer)
 *   AUTH       string user, u32 tun_auth_kind, string alg, string key blob,
 *              string signature, string signed data, string password
 *              -> bool ok, u32 uid, key options (tun_keyopts_encode)
 *   SPAWN      u32 session, string what, string arg, bool pty, string term,
 *              u32 cols, rows, width, height, string modes,
 *              u32 n, n x (string name, string value)
 *              -> u32 errno, u32 pid, bool pty, string tty + 2 or 3 fds
 *   SIGNAL     u32 session, u32 signal                          (no answer)
 *   UNIX       string path, bool listen -> u32 errno + 1 fd
 *   LOAD       -> bool ok, string bundle (configuration, public host keys)
 *   SIGN       string host key blob, string alg, string exchange hash
 *              -> bool ok, string signature blob
 *   AGENT      u32 session                             -> u32 errno + 1 fd
 *   X11        u32 session, bool single connection, string protocol,
 *              string cookie (hex), u32 screen
 *              -> u32 errno, u32 display + 1 or 2 fds (IPv4, IPv6)
 *   SESS_END   u32 session                                  (no answer)
 *   PROVE      string body of a hostkeys-prove-00@openssh.com request
 *              (host key blobs) -> bool ok, string reply body (signatures)
 *
 * Fields the helper does not expect (trailing bytes, oversized strings)
 * make the whole request malformed: it is logged and refused, and a
 * request that has an answer gets the refusal as its answer.
 */
#ifndef SSHTUN_TUN_PRIVPROTO_H
#define SSHTUN_TUN_PRIVPROTO_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>

#include "tun_priv.h"

#define TUN_PRIV_MSG_MAX (256 * 1024)
#define TUN_PRIV_REPLY   0x80u

enum tun_priv_msg {
    TUN_PRIV_CONN_NEW = 1,
    TUN_PRIV_CONN_END,
    TUN_PRIV_AUTH,
    TUN_PRIV_SPAWN,
    TUN_PRIV_SIGNAL,
    TUN_PRIV_UNIX,
    TUN_PRIV_LOAD,
    TUN_PRIV_SIGN,
    TUN_PRIV_AGENT,
    TUN_PRIV_X11,
    TUN_PRIV_SESS_END,
    TUN_PRIV_PROVE,
    TUN_PRIV_EV_EXIT = 0x100,
    TUN_PRIV_EV_DROP,
    TUN_PRIV_EV_ACCEPT,
};

/* The privileged side itself: the helper process runs one, a server
 * started without root and with one worker runs one in-process. */
typedef struct tun_privd tun_privd;
/* One network process (a worker) as the privileged side sees it. */
typedef struct tun_privpeer tun_privpeer;

/* How the privileged side answers: one message with descriptors (which
 * the callee must not close; the caller closes them after). */
typedef void (*tun_privd_send_fn)(void *arg, const uint8_t *msg, size_t len, const int *fds,
                                  int nfds);

/* With `send`, the privileged side starts with one network process (the
 * default peer, index 0) whose answers go to `send`; without, peers are
 * added with tun_privd_peer_add. */
tun_privd *tun_privd_new(struct ev_loop *loop, int root, struct tun_srvsettings *set,
                         const tun_priv_conf *conf, tun_privd_send_fn send, void *send_arg);
/* Handle one request of the default peer; `fds` are consumed (closed or
 * kept). */
void tun_privd_request(tun_privd *d, const uint8_t *msg, size_t len, int *fds, int nfds);
/* The network side is gone: hang up every session, free everything. */
void tun_privd_free(tun_privd *d);

/* Workers (sshtund's Workers N): each network process is a peer with its
 * own connection tokens - a token names a connection only for the peer
 * that opened it, so one worker can never reach another's connections.
 * `index` names it in the log.  Removing a peer ends its connections as
 * CONN_END would (sessions hung up). */
tun_privpeer *tun_privd_peer_add(tun_privd *d, int index, long pid, tun_privd_send_fn send,
                                 void *arg);
void tun_privd_peer_remove(tun_privd *d, tun_privpeer *w);
void tun_privd_request_from(tun_privd *d, tun_privpeer *w, const uint8_t *msg, size_t len, int *fds,
                            int nfds);
/* MaxStartups and PerSourceMaxStartups for the server as a whole
 * (several workers): the helper counts every worker's unauthenticated
 * connections and answers each CONN_NEW with EV_ACCEPT or EV_DROP (u64
 * token, u32 unauthenticated count); the worker holds the connection
 * until then and closes it on a drop.  With one network process it
 * applies both limits itself, before CONN_NEW. */
void tun_privd_set_global_startups(tun_privd *d, int on);
unsigned tun_privd_unauthenticated(const tun_privd *d);

/* The helper process: serve requests from `sock` until it closes, then
 * exit.  Never returns. */
void tun_privd_helper_main(int sock, struct tun_srvsettings *set, const tun_priv_conf *conf);
/* The helper process of several workers: `ctl` is the supervisor's socket
 * (trusted: it is the root process that forked the helper), over which
 * each worker's socket arrives (TUN_PRIV_CTL_ADD: u32 index, u32 pid + the
 * socket); every worker socket is then served as an untrusted network
 * process.  When `ctl` closes the supervisor is gone: every session is
 * hung up and the helper exits.  `root`: the helper has root (sessions
 * become their user).  Never returns. */
void tun_privd_helper_main_multi(int ctl, int root, struct tun_srvsettings *set,
                                 const tun_priv_conf *conf);
#define TUN_PRIV_CTL_ADD 0x200

#endif
