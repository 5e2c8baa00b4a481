/*
 * tun_tty.h - the local terminal: raw mode (restored on every exit path),
 * window size, and the RFC 4254 section 8 encoding of terminal modes for
 * pty-req.
 */
#ifndef SSHTUN_TUN_TTY_H
#define SSHTUN_TUN_TTY_H

#include <stdint.h>

#include "sshtun/buf.h"

/* Encode the terminal modes of `fd` (or only TTY_OP_END when fd is not a
 * terminal) into `out`. */
int tun_tty_modes(int fd, ssh_buf *out);
/* Window size of `fd`; 80x24 with 0 pixels when unknown. */
void tun_tty_size(int fd, uint32_t *cols, uint32_t *rows, uint32_t *wpx, uint32_t *hpx);
/* Put `fd` in raw mode; tun_tty_restore() (also run at exit) undoes it. */
int tun_tty_raw(int fd);
/* Make one of this process's own descriptors (stdin, stdout, stderr)
 * non-blocking, remembering its flags: the event loop must never block in
 * a read or write of a terminal, a pipe or a file it was given.  The flags
 * are shared with whoever else holds the same terminal or pipe (the
 * user's shell), so tun_tty_restore() puts them back, also at exit. */
void tun_tty_nonblock(int fd);
/* Undo raw mode and non-blocking flags (idempotent). */
void tun_tty_restore(void);
int tun_tty_is_raw(void);

#endif
