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
 * helper: TUN_PRIV_EV_EXIT (u32 0, u32 pid, u32 wait status).
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
};

/* The privileged side itself: the helper process runs one, a server
 * started without root runs one in-process. */
typedef struct tun_privd tun_privd;

/* How the privileged side answers: one message with descriptors (which
 * the callee must not close; the caller closes them after). */
typedef void (*tun_privd_send_fn)(void *arg, const uint8_t *msg, size_t len, const int *fds,
                                  int nfds);

tun_privd *tun_privd_new(struct ev_loop *loop, int root, struct tun_srvsettings *set,
                         const tun_priv_conf *conf, tun_privd_send_fn send, void *send_arg);
/* Handle one request; `fds` are consumed (closed or kept). */
void tun_privd_request(tun_privd *d, const uint8_t *msg, size_t len, int *fds, int nfds);
/* The network side is gone: hang up every session, free everything. */
void tun_privd_free(tun_privd *d);

/* The helper process: serve requests from `sock` until it closes, then
 * exit.  Never returns. */
void tun_privd_helper_main(int sock, struct tun_srvsettings *set, const tun_priv_conf *conf);

#endif
