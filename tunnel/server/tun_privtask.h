/*
 * tun_privtask.h - work the privileged side does on a user's behalf, in a
 * short-lived child that has become the user, so that nothing the user
 * controls can block the privileged side's loop.
 *
 * A user decides what is at the paths the helper reads or connects to for
 * them: a FIFO where authorized_keys should be (open() for reading blocks
 * until a writer appears), a file on a FUSE mount that never answers, a
 * Unix socket whose listen backlog is full (connect() blocks until the
 * listener accepts).  So each such operation runs in a child forked for
 * it: the child becomes the user (as sshd does with temporarily_use_uid
 * for these files), does the work, sends the result back over a
 * SOCK_SEQPACKET pair and exits.  The parent only watches that socket from
 * its loop, with a deadline; a child still busy at the deadline is killed
 * and the request fails with ETIMEDOUT.  The parent never waits for a
 * child synchronously.
 */
#ifndef SSHTUN_TUN_PRIVTASK_H
#define SSHTUN_TUN_PRIVTASK_H

#include <ev.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "tun_priv.h"

typedef struct tun_ptask tun_ptask;

/* Read `paths` (n of them) as the user: each file is opened non-blocking
 * and without a controlling tty, checked with fstat to be a regular file
 * of at most `maxsize` bytes, and with `strict` also checked as sshd's
 * StrictModes does (see tun_ptask_secure_path).  The callback gets, per
 * path, either its contents or the reason it was not read; err is 0, or
 * ETIMEDOUT / another errno when the child failed as a whole. */
typedef struct tun_ptask_file {
    int ok;          /* contents read */
    int missing;     /* ENOENT: not worth a message */
    int err;         /* !ok: the errno of the failure, 0 for a refusal (mode, size) */
    const char *why; /* !ok: the reason, for the log */
    const uint8_t *data;
    size_t len;
} tun_ptask_file;
typedef void (*tun_ptask_files_cb)(void *arg, int err, const tun_ptask_file *files, int n);

#define TUN_PTASK_MAX_FILES 16

tun_ptask *tun_ptask_read_files(struct ev_loop *loop, int as_root, const tun_user_info *u,
                                char *const *paths, int n, int strict, size_t maxsize,
                                double timeout, tun_ptask_files_cb cb, void *arg);
/* (Files are read by one long-lived child, the reader, which takes the
 * user's identity for file access per request; while it is busy with a
 * request that takes long, or is gone, by a child forked per request, as
 * the other tasks are.  The callback always runs later, from the loop.)
 * How many readers were started so far (the unit tests count them). */
unsigned tun_ptask_readers_started(void);
/* The reader's pid, 0 when there is none (the unit tests kill it). */
int tun_ptask_reader_pid(void);
/* Fault injection for the unit tests: reading this path (as the reader or
 * a forked child) takes a minute, like a file on a FUSE mount that never
 * answers.  NULL (never set by the programs): no effect. */
extern const char *tun_ptask_test_stall;

/* The request the helper sends the reader (or a child forked for it),
 * exposed for the fuzz target: build appends it to `b` (-1: too many
 * paths, one too long, maxsize out of range), parse reads one (-1:
 * malformed, trailing bytes, out of bounds). */
typedef struct tun_ptask_req {
    int as_root, strict;
    uint32_t maxsize;
    int n;
    tun_user_info u;
    char path[TUN_PTASK_MAX_FILES][PATH_MAX];
} tun_ptask_req;
struct ssh_buf;
int tun_ptask_req_build(struct ssh_buf *b, int as_root, const tun_user_info *u, int strict,
                        size_t maxsize, char *const *paths, int n);
int tun_ptask_req_parse(const uint8_t *p, size_t len, tun_ptask_req *r);

/* Connect to (listen == 0) or listen on the Unix socket `path` as the
 * user.  The callback gets the descriptor (blocking; the receiver's to
 * set) or -1 and an errno (ETIMEDOUT at the deadline). */
typedef void (*tun_ptask_fd_cb)(void *arg, int fd, int err);
tun_ptask *tun_ptask_unix(struct ev_loop *loop, int as_root, const tun_user_info *u,
                          const char *path, int listen, double timeout, tun_ptask_fd_cb cb,
                          void *arg);

/* Agent forwarding: as the user, create the directory `dir` (mode 0700:
 * the user's own, nobody else may enter) and listen on the Unix socket
 * `path` inside it (mode 0600).  The callback gets the listening
 * descriptor or -1 and an errno.  The directory is never reused: mkdir
 * fails if anything is already there. */
tun_ptask *tun_ptask_agent_dir(struct ev_loop *loop, int as_root, const tun_user_info *u,
                               const char *dir, const char *path, double timeout,
                               tun_ptask_fd_cb cb, void *arg);
/* Remove the socket and the directory again, as the user, in a child
 * nobody waits for (bounded by `timeout`, then killed).  0 or -1. */
int tun_ptask_agent_cleanup(struct ev_loop *loop, int as_root, const tun_user_info *u,
                            const char *dir, const char *path, double timeout);
/* Run a command as `runas` (AuthorizedKeysCommand and
 * AuthorizedPrincipalsCommand) and collect its standard output, as sshd's
 * subprocess() does: argv[0] must be an absolute path to a regular file
 * that root owns and that neither group nor others may write (nor any
 * directory above it); no shell; stdin and stderr are /dev/null; the
 * environment is PATH, USER, LOGNAME, HOME (of runas) and LANG.  The
 * command runs in its own process group, which is killed at the deadline
 * or once it has written more than `maxout` bytes.  The callback gets
 * err 0 with the wait status and the output, or an errno: ETIMEDOUT,
 * EFBIG (too much output), EACCES with `why` (unsafe path), another
 * (could not run it). */
typedef void (*tun_ptask_cmd_cb)(void *arg, int err, int status, const char *why,
                                 const uint8_t *out, size_t len);
tun_ptask *tun_ptask_command(struct ev_loop *loop, int as_root, const tun_user_info *runas,
                             char *const *argv, size_t maxout, double timeout, tun_ptask_cmd_cb cb,
                             void *arg);

/* Stop: the child is killed, the callback never runs. */
void tun_ptask_cancel(tun_ptask *t);

/* sshd's StrictModes test for a file the user controls: `path` resolved
 * (realpath), the file and every directory above it up to the user's home
 * (or "/" when the file is outside it) owned by the user or root and not
 * writable by group or others.  `st` is the open file's fstat.  0, or -1
 * with `why` saying what is wrong in sshd's words ("bad ownership or modes
 * for directory /home/u/.ssh").  Exposed for the unit tests. */
struct stat;
int tun_ptask_secure_path(const char *path, const struct stat *st, const char *home, uint32_t uid,
                          char *why, size_t whysz);

#endif
