/*
 * tun_spawn.h - starting a session process for sshtund: as the
 * authenticated user (when running as root), in the user's home, with the
 * user's shell, on a pty or on three pipes.
 *
 * Called by the privileged side only (the helper in root mode, the server
 * itself in single-user mode); the network process never forks sessions.
 */
#ifndef SSHTUN_TUN_SPAWN_H
#define SSHTUN_TUN_SPAWN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/types.h>

#include "tun_priv.h"

/* Fork the session process: `command` through the user's shell ("shell -c
 * command"), or a login shell when NULL.  With `pty`, a pty of size `ws`
 * whose termios get the RFC 4254 section 8 encoded `modes`; TERM set from
 * `term`.  `env` holds n_env extra "NAME=value" strings (checked with
 * tun_spawn_valid_env first).  With `xauth` (X11 forwarding), the
 * child, once it is the user, first runs "xauth -q -" with `xauth_input`
 * on its stdin and waits for it, as sshd does.  Fills fds (stdin write, stdout read,
 * stderr read or -1 with a pty) and `tty` (the pty's name or "") and
 * returns the pid, or -1 with errno. */
pid_t tun_spawn_session(int as_root, const tun_user_info *u, const char *command, int pty,
                        const char *term, const struct winsize *ws, const uint8_t *modes,
                        size_t modes_len, char *const *env, int n_env, const char *xauth,
                        const char *xauth_input, int fds[3], char *tty, size_t ttysz);

/* Is `e` an acceptable "NAME=value" for a session's environment?  The
 * name must be [A-Za-z0-9_]+ and never LD_* (no steering the dynamic
 * linker). */
int tun_spawn_valid_env(const char *e);
/* The same test for a name alone. */
int tun_spawn_valid_name(const char *name);

#endif
