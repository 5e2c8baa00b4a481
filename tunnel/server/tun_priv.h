/*
 * tun_priv.h - sshtund's privileged operations.
 *
 * Started as root, sshtund forks a small helper that keeps root, then the
 * network-facing process drops to an unprivileged user.  Everything that
 * needs privilege goes through this interface:
 *
 *   - looking a user up, reading authorized_keys (AuthorizedKeysFile with
 *     %h %u %% expanded by the helper), checking passwords with crypt(3)
 *     against the shadow file;
 *   - authentication is a capability: a successful publickey or password
 *     check returns a random token bound to the user.  For publickey the
 *     helper verifies the signature again itself, checks that the signed
 *     data names the same user, algorithm and key, and refuses a session
 *     identifier it has already seen (no replay);
 *   - spawning a session process (exec, shell, subsystem; pipes or a pty)
 *     as the token's user (setgid, initgroups, setuid in the child),
 *     signalling it, and connecting to / listening on Unix sockets as that
 *     user.  Exits of spawned processes are reported back.
 *
 * Started as an ordinary user there is no helper: the same operations run
 * in-process for that one user (password checks in a short-lived child so
 * crypt(3) never blocks the loop).  Either way every call answers through a
 * callback from the loop, never before it returns.
 */
#ifndef SSHTUN_TUN_PRIV_H
#define SSHTUN_TUN_PRIV_H

#include <ev.h>
#include <stdint.h>
#include <sys/types.h>

#include "sshtun/buf.h"
#include "tun_authkeys.h"

typedef struct tun_priv tun_priv;

typedef struct tun_user_info {
    int found;
    uint32_t uid, gid;
    char name[64];
    char home[512];
    char shell[256];
} tun_user_info;

typedef struct tun_auth_result {
    int ok;                /* authenticated (with token) / key authorized (query) */
    enum tun_ak_result ak; /* publickey: what authorized_keys said */
    char why[256];         /* refusal reason, for the log */
    tun_keyopts opts;      /* publickey: options of the matching line (borrowed) */
    uint64_t token;        /* nonzero after successful authentication */
} tun_auth_result;

typedef struct tun_spawn_req {
    uint64_t token;
    const char *command; /* NULL: the user's login shell */
    int pty;
    const char *term;
    uint32_t cols, rows, width_px, height_px;
    const uint8_t *modes; /* RFC 4254 section 8 encoded */
    size_t modes_len;
    char *const *env;     /* NAME=value, already filtered by the caller */
    int n_env;
} tun_spawn_req;

typedef struct tun_spawn_result {
    int err;     /* errno-style, 0 on success */
    pid_t pid;
    int fd_in;   /* write end of the child's stdin (or the pty) */
    int fd_out;  /* read end of the child's stdout (or the pty, same fd) */
    int fd_err;  /* read end of the child's stderr, -1 with a pty */
    char tty[64];
} tun_spawn_result;

typedef void (*tun_priv_user_cb)(void *arg, const tun_user_info *u);
typedef void (*tun_priv_auth_cb)(void *arg, const tun_auth_result *r);
typedef void (*tun_priv_spawn_cb)(void *arg, const tun_spawn_result *r);
typedef void (*tun_priv_fd_cb)(void *arg, int fd, int err);
typedef void (*tun_priv_exit_fn)(void *arg, pid_t pid, int status);
/* Runs on the privileged side: read the configuration and host keys
 * (fixed at startup, never paths from the network process) into `out`. */
typedef int (*tun_priv_loader)(void *ctx, ssh_buf *out);
typedef void (*tun_priv_load_cb)(void *arg, int ok, const uint8_t *data, size_t len);

/* Start.  With `helper` (the process is root), fork the helper now: call
 * this before creating any other watcher on the default loop.  `on_exit`
 * hears about every spawned process that exits; `loader` serves
 * tun_priv_load() (configuration reloads). */
tun_priv *tun_priv_new(struct ev_loop *loop, int helper, tun_priv_exit_fn on_exit, void *arg,
                       tun_priv_loader loader, void *loader_ctx);
/* Root mode: drop the calling (network) process to `user` - no
 * supplementary groups, no way back.  0 or -1 (errno). */
int tun_priv_drop(const char *user);
void tun_priv_free(tun_priv *p);

int tun_priv_user(tun_priv *p, const char *user, tun_priv_user_cb cb, void *arg);
/* Would this key be accepted for user (publickey query)?  No token. */
int tun_priv_check_key(tun_priv *p, const char *user, const uint8_t *blob, size_t bloblen,
                       const char *client_ip, const char *keyfiles, tun_priv_auth_cb cb,
                       void *arg);
/* Publickey authentication proper: signature and signed data as received. */
int tun_priv_auth_pubkey(tun_priv *p, const char *user, const char *alg, const uint8_t *blob,
                         size_t bloblen, const uint8_t *sig, size_t siglen, const uint8_t *data,
                         size_t datalen, const char *client_ip, const char *keyfiles,
                         tun_priv_auth_cb cb, void *arg);
int tun_priv_auth_password(tun_priv *p, const char *user, const char *password,
                           tun_priv_auth_cb cb, void *arg);
int tun_priv_spawn(tun_priv *p, const tun_spawn_req *req, tun_priv_spawn_cb cb, void *arg);
int tun_priv_signal(tun_priv *p, uint64_t token, pid_t pid, int sig);
/* Connect to (listen == 0) or listen on a Unix socket as the user. */
int tun_priv_unix(tun_priv *p, uint64_t token, const char *path, int listen, tun_priv_fd_cb cb,
                  void *arg);
/* Run the loader with privilege (SIGHUP: reload). */
int tun_priv_load(tun_priv *p, tun_priv_load_cb cb, void *arg);
/* The connection that owns `token` has ended. */
void tun_priv_release(tun_priv *p, uint64_t token);
/* Drop callbacks still pending for `arg` (its owner goes away). */
void tun_priv_cancel(tun_priv *p, void *arg);

#endif
