/*
 * tun_priv.h - sshtund's privileged side, as the network process sees it.
 *
 * Started as root, sshtund forks a small helper that keeps root; the
 * network process then drops to SshtundUser and is treated as hostile
 * from that moment on: it parses everything the internet sends, so the
 * helper assumes it may be compromised.  The helper therefore decides
 * every question of authority itself - who may log in, how, how often,
 * what a session runs, with which terminal and environment - from its own
 * copy of the configuration and its own per-connection state, and the
 * network process only relays what the client asked.  The boundary, request
 * by request (the messages are tun_privproto.h's):
 *
 *   CONN_NEW   carries the accepted socket (SCM_RIGHTS).  The helper takes
 *              the client's and the local address from the socket itself
 *              (a connected TCP socket, nothing else) and fixes the settings
 *              in force for the connection.
 *   CONN_END   the helper forgets the connection: answers still under way
 *              are dropped (never sent), its session processes get SIGHUP.
 *   AUTH       carries user, method and what the client sent (key blob,
 *              signature and signed data, or password).  The helper looks
 *              the user up and applies AllowUsers/DenyUsers, AllowGroups/
 *              DenyGroups, PermitRootLogin,
 *              the enabled methods, MaxAuthTries and one user per
 *              connection; reads authorized_keys (StrictModes, from=,
 *              expiry-time); verifies the signature, whose session id must
 *              be the exchange hash the helper signed for this connection;
 *              runs crypt(3) in worker processes with a per-source delay
 *              after failures.
 *   SIGN       carries a host key's public blob, an algorithm and an
 *              exchange hash.  The host private keys never leave the
 *              helper: it signs data of a hash's length only, once before
 *              authentication (that hash becomes the session id), then
 *              re-exchanges at a bounded rate.
 *   SPAWN      carries a session id, shell/exec/subsystem and its argument,
 *              the pty request and the client's env requests.  The helper
 *              decides what runs (ForceCommand, command=, the subsystem's
 *              program, SSH_ORIGINAL_COMMAND), whether there is a pty
 *              (PermitTTY, no-pty), which variables pass (names with '=' or
 *              control characters refused first, then AcceptEnv;
 *              environment= under PermitUserEnvironment; SSH_CONNECTION
 *              from its own record) and as whom.
 *   SIGNAL     carries a session id and a signal: only that connection's
 *              session's process group, only ordinary signals.
 *   UNIX       carries a path, connect or listen: AllowStreamLocalForwarding
 *              and no-port-forwarding are checked, the work is done as the
 *              user in a child with a deadline.
 *   AGENT      carries a session id: AllowAgentForwarding and
 *              no-agent-forwarding are checked; a child that became the
 *              user makes a private directory (0700) with the socket
 *              (0600) in /tmp; the listening descriptor comes back and
 *              SPAWN sets SSH_AUTH_SOCK; both go when the session does.
 *   X11        carries a session id, the client's protocol name, cookie
 *              and screen: X11Forwarding and no-X11-forwarding are
 *              checked, the helper binds the display's port itself
 *              (X11DisplayOffset, X11UseLocalhost) and SPAWN sets DISPLAY
 *              and runs `xauth add` as the user (XAuthLocation).
 *   SESS_END   carries a session id: its agent directory is removed.
 *   LOAD       the helper re-reads the configuration and host keys (SIGHUP),
 *              keeps its own parsed copy and sends the network process the
 *              configuration with public keys only.
 *
 * A request naming a connection the helper does not know (never opened,
 * or already ended) is refused; so is one for a connection that has not
 * authenticated (SPAWN, SIGNAL, UNIX) or already has (AUTH).  The network
 * process never learns anything about an account the client could not
 * (no user listing: an unknown user fails like a wrong password).
 *
 * Nothing the helper does for a user can block it: files and sockets of
 * the user are handled in short-lived children that became the user
 * (tun_privtask.h), password hashing in a pool of worker processes
 * (tun_privpw.h).
 *
 * Started as an ordinary user there is no helper: the same code runs
 * in-process for that one user, with the same asynchrony (every call
 * answers through a callback from the loop, never before it returns).
 *
 * With `Workers N` (N > 1) there are N network processes (tun_workers.h),
 * each with its own socket to the one helper (tun_priv_attach; the helper
 * runs as the user sshtund was started as when that is not root).  Each
 * worker's tokens are its own: the helper keys connections by (worker,
 * token), so a worker can neither see nor end another's connections, and
 * answers go only to the worker that asked.  MaxStartups is then the
 * helper's to apply (it sees every worker's unauthenticated connections):
 * a CONN_NEW past it is refused with EV_DROP and the worker closes the
 * connection.
 */
#ifndef SSHTUN_TUN_PRIV_H
#define SSHTUN_TUN_PRIV_H

#include <ev.h>
#include <stdint.h>
#include <sys/types.h>

#include "sshtun/buf.h"
#include "tun_authkeys.h"

typedef struct tun_priv tun_priv;
struct tun_srvsettings;

typedef struct tun_user_info {
    int found;
    uint32_t uid, gid;
    char name[64];
    char home[512];
    char shell[256];
} tun_user_info;

enum tun_auth_kind {
    TUN_AUTH_PUBKEY_QUERY = 1, /* "would this key do?" (no signature) */
    TUN_AUTH_PUBKEY,           /* signature over the session's data */
    TUN_AUTH_PASSWORD,
};

typedef struct tun_auth_req {
    enum tun_auth_kind kind;
    const char *user;
    const char *alg;     /* publickey */
    const uint8_t *blob; /* publickey: the public key */
    size_t bloblen;
    const uint8_t *sig; /* TUN_AUTH_PUBKEY */
    size_t siglen;
    const uint8_t *data; /* TUN_AUTH_PUBKEY: the signed data as received */
    size_t datalen;
    const char *password; /* TUN_AUTH_PASSWORD */
} tun_auth_req;

typedef struct tun_auth_result {
    int ok;           /* authenticated / key acceptable (query) */
    uint32_t uid;     /* ok and not a query: the account's uid */
    tun_keyopts opts; /* publickey success: the key's options (borrowed) */
} tun_auth_result;

typedef struct tun_spawn_req {
    uint32_t session; /* the channel id: names the session from now on */
    const char *what; /* "shell", "exec" or "subsystem" */
    const char *arg;  /* exec: the command; subsystem: its name */
    int pty;          /* the client asked for a pty */
    const char *term;
    uint32_t cols, rows, width_px, height_px;
    const uint8_t *modes; /* RFC 4254 section 8 encoded */
    size_t modes_len;
    char *const *env_names; /* env requests as the client sent them */
    char *const *env_values;
    int n_env;
} tun_spawn_req;

typedef struct tun_spawn_result {
    int err; /* errno-style, 0 on success */
    pid_t pid;
    int fd_in;  /* write end of the child's stdin (or the pty) */
    int fd_out; /* read end of the child's stdout (or the pty, same fd) */
    int fd_err; /* read end of the child's stderr, -1 with a pty */
    int pty;    /* a pty was allocated */
    char tty[64];
} tun_spawn_result;

typedef void (*tun_priv_auth_cb)(void *arg, const tun_auth_result *r);
typedef void (*tun_priv_spawn_cb)(void *arg, const tun_spawn_result *r);
typedef void (*tun_priv_fd_cb)(void *arg, int fd, int err);
typedef void (*tun_priv_exit_fn)(void *arg, pid_t pid, int status);
/* How the privileged side reads its configuration (SIGHUP), all run on
 * the privileged side:
 *   load     the configuration and the host keys (paths fixed at startup,
 *            never from the network process) into `out`, private keys
 *            included;
 *   parse    settings from what `load` read (NULL after messages);
 *   publish  the same with every private key replaced by its public half:
 *            what the network process gets (`publish` may be NULL when
 *            there is no helper). */
typedef struct tun_priv_conf {
    int (*load)(void *ctx, ssh_buf *out);
    struct tun_srvsettings *(*parse)(void *ctx, const uint8_t *data, size_t len);
    int (*publish)(void *ctx, const uint8_t *data, size_t len, ssh_buf *out);
    void *ctx;
} tun_priv_conf;
typedef void (*tun_priv_sign_cb)(void *arg, const uint8_t *sig, size_t len);
typedef void (*tun_priv_load_cb)(void *arg, int ok, const uint8_t *data, size_t len);

/* Start.  With `helper` (the process is root), fork the helper now: call
 * this before creating any other watcher on the default loop.  `set` is
 * the configuration in force (the privileged side keeps a reference);
 * `on_exit` hears about every spawned process that exits; `loader` and
 * `parser` serve tun_priv_load() (configuration reloads). */
tun_priv *tun_priv_new(struct ev_loop *loop, int helper, struct tun_srvsettings *set,
                       tun_priv_exit_fn on_exit, void *arg, const tun_priv_conf *conf);
void tun_priv_free(tun_priv *p);
/* One of several workers (sshtund's Workers N): the helper already runs
 * (the supervisor forked it) and `sock` is this worker's own socket to it
 * (consumed). */
tun_priv *tun_priv_attach(struct ev_loop *loop, int sock, tun_priv_exit_fn on_exit, void *arg);
/* With several workers the helper applies MaxStartups and
 * PerSourceMaxStartups to all of them and gives a verdict on every new
 * connection: `fn` starts it (`accepted`) or closes it (`n_unauth`: the
 * server's unauthenticated connections, for the log). */
typedef void (*tun_priv_verdict_fn)(void *arg, uint64_t conn, int accepted, unsigned n_unauth);
void tun_priv_set_verdict(tun_priv *p, tun_priv_verdict_fn fn, void *arg);

/* A new connection: `conn` is a token unique for this process's lifetime
 * (never 0, never reused), `fd` the accepted socket (not consumed: the
 * privileged side reads the addresses from a duplicate).  On a PROXY
 * protocol listener, `proxy_hdr` is the header as received (the helper
 * checks the socket's peer against ProxyProtocolFrom and parses it
 * itself); NULL otherwise. */
int tun_priv_conn_new(tun_priv *p, uint64_t conn, int fd, const uint8_t *proxy_hdr, size_t hdr_len);
/* The connection has ended: always call it, whatever is under way. */
void tun_priv_conn_end(tun_priv *p, uint64_t conn);

int tun_priv_auth(tun_priv *p, uint64_t conn, const tun_auth_req *r, tun_priv_auth_cb cb,
                  void *arg);
int tun_priv_spawn(tun_priv *p, uint64_t conn, const tun_spawn_req *req, tun_priv_spawn_cb cb,
                   void *arg);
int tun_priv_signal(tun_priv *p, uint64_t conn, uint32_t session, int sig);
/* Sign the exchange hash `h` with the host key whose public blob is
 * `blob`, algorithm `alg`: the callback gets the SSH signature blob, or
 * NULL when refused. */
int tun_priv_sign(tun_priv *p, uint64_t conn, const uint8_t *blob, size_t bloblen, const char *alg,
                  const uint8_t *h, size_t hlen, tun_priv_sign_cb cb, void *arg);
/* Answer a client's hostkeys-prove-00@openssh.com request (OpenSSH's
 * PROTOCOL, section 2.5), whose body (the host key blobs) is `req`: the
 * helper signs "hostkeys-prove-00@openssh.com", the session id and each
 * blob with that host key, once the connection is authenticated.  The
 * callback gets the reply body (the signatures, in order), or NULL when
 * refused. */
int tun_priv_prove(tun_priv *p, uint64_t conn, const uint8_t *req, size_t len, tun_priv_sign_cb cb,
                   void *arg);
/* Connect to (listen == 0) or listen on a Unix socket as the user. */
int tun_priv_unix(tun_priv *p, uint64_t conn, const char *path, int listen, tun_priv_fd_cb cb,
                  void *arg);
/* Agent forwarding for `session`: the listening socket (the session's
 * SSH_AUTH_SOCK), or -1 and an errno. */
int tun_priv_agent(tun_priv *p, uint64_t conn, uint32_t session, tun_priv_fd_cb cb, void *arg);
/* X11 forwarding for `session`: the display number and its listening
 * sockets (1 or 2), or err != 0. */
typedef void (*tun_priv_x11_cb)(void *arg, int err, unsigned display, const int *fds, int nfds);
int tun_priv_x11(tun_priv *p, uint64_t conn, uint32_t session, int single, const char *proto,
                 const char *cookie, uint32_t screen, tun_priv_x11_cb cb, void *arg);
/* The session's channel is gone: its forwarding goes too. */
void tun_priv_sess_end(tun_priv *p, uint64_t conn, uint32_t session);
/* Re-read the configuration with privilege (SIGHUP). */
int tun_priv_load(tun_priv *p, tun_priv_load_cb cb, void *arg);
/* Drop callbacks still pending for `arg` (its owner goes away). */
void tun_priv_cancel(tun_priv *p, void *arg);

#endif
