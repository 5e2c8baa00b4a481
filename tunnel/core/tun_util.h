/*
 * tun_util.h - small helpers shared by the programs: files, paths, fds.
 */
#ifndef SSHTUN_TUN_UTIL_H
#define SSHTUN_TUN_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Read a whole file of at most `max` bytes into a malloc'd, NUL-terminated
 * buffer.  Returns 0, or -1 with errno set (EFBIG when larger). */
int tun_read_file(const char *path, size_t max, uint8_t **data, size_t *len);
/* Free a buffer that held secrets (cleansed first). */
void tun_free_secret(void *p, size_t len);
/* Expand a leading "~/" with $HOME (or the passwd entry).  malloc'd. */
char *tun_expand_home(const char *path);
/* mkdir -p for the directory part of `path`, with `mode` for new ones. */
int tun_mkdir_parent(const char *path, unsigned mode);
/* O_NONBLOCK on/off; returns the previous flags or -1. */
int tun_set_nonblock(int fd, int on);
/* The user's home directory. */
const char *tun_home(void);
/* Undo signal state a parent may have handed down: SIGCHLD back to its
 * default disposition (an inherited SIG_IGN makes the kernel reap children
 * itself, so waitpid() loses their status) and an empty signal mask. */
void tun_signals_reset_inherited(void);

#endif
