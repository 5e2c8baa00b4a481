/*
 * tun_log.h - logging for the sshtun programs.
 *
 * Messages go to stderr (or the -E log file).  Levels follow OpenSSH's
 * LogLevel: QUIET, FATAL, ERROR, INFO, VERBOSE, DEBUG1..3.  `-v` raises the
 * level one step per flag, `-q` lowers it to QUIET.  Never log secrets.
 */
#ifndef SSHTUN_TUN_LOG_H
#define SSHTUN_TUN_LOG_H

#include <stdio.h>

enum tun_log_level {
    TUN_LOG_QUIET = 0,
    TUN_LOG_FATAL,
    TUN_LOG_ERROR,
    TUN_LOG_INFO,
    TUN_LOG_VERBOSE,
    TUN_LOG_DEBUG1,
    TUN_LOG_DEBUG2,
    TUN_LOG_DEBUG3,
};

void tun_log_set_level(enum tun_log_level lvl);
enum tun_log_level tun_log_get_level(void);
/* Send log lines to `f` instead of stderr. */
void tun_log_set_file(FILE *f);
/* The -E option: append log lines to `path` (line-buffered) from now on.
 * Returns 0, or -1 with errno set when it cannot be opened (the caller
 * says so in its own words and exits). */
int tun_log_open_file(const char *path);
/* Send log lines to syslog instead (tag `ident`, `facility` a LOG_* value
 * of <syslog.h>): the server's default when it runs detached (LOG_AUTH, as
 * sshd), the client's -y (LOG_USER, as ssh). */
void tun_log_set_syslog(const char *ident, int facility);
/* Prefix every line with a timestamp and the pid (servers logging to a
 * file or stderr). */
void tun_log_set_stamp(int on);
/* End lines with CR LF (the terminal is in raw mode, where LF alone does
 * not return the cursor), as OpenSSH always does on stderr. */
void tun_log_set_crlf(int on);
/* 1 when log lines go to stderr (not a -E file, not syslog). */
int tun_log_to_stderr(void);
/* The name of a level ("DEBUG1"), as ssh's ~v prints it. */
const char *tun_log_level_name(enum tun_log_level lvl);
/* Parse an OpenSSH LogLevel name; -1 when unknown. */
int tun_log_level_from_name(const char *name);

void tun_log(enum tun_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define tun_error(...)   tun_log(TUN_LOG_ERROR, __VA_ARGS__)
#define tun_info(...)    tun_log(TUN_LOG_INFO, __VA_ARGS__)
#define tun_verbose(...) tun_log(TUN_LOG_VERBOSE, __VA_ARGS__)
#define tun_debug(...)   tun_log(TUN_LOG_DEBUG1, __VA_ARGS__)
#define tun_debug2(...)  tun_log(TUN_LOG_DEBUG2, __VA_ARGS__)
#define tun_debug3(...)  tun_log(TUN_LOG_DEBUG3, __VA_ARGS__)

#endif
