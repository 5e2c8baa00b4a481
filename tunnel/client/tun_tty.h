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
void tun_tty_restore(void);
int tun_tty_is_raw(void);

#endif
