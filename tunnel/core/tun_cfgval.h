/*
 * tun_cfgval.h - value syntaxes shared by the client's ssh_config reader
 * and sshtund's sshd_config reader (ssh_config(5), sshd_config(5)).
 *
 * Every parser takes the whole string: trailing junk, a sign where none
 * belongs, or an overflow is an error (-1); on success it returns 0 and
 * fills `out`.
 */
#ifndef SSHTUN_TUN_CFGVAL_H
#define SSHTUN_TUN_CFGVAL_H

#include <stddef.h>
#include <stdint.h>

/* "Keyword value" / "Keyword=value" (leading blanks allowed): copy the
 * keyword into kwout and point *rest at the value, with the blanks around
 * one '=' skipped.  0, or -1 for no keyword or one too long. */
int tun_cfg_split_keyword(const char *line, char *kwout, size_t kwsz, const char **rest);

/* The lines of a configuration text: `data` is NUL-terminated and cut in
 * place at each '\n' (a '\r' before it is dropped); lines that are empty
 * or comments after leading blanks are skipped; `fn` gets the others
 * without their leading blanks and "<name>: line N" for messages.  A
 * nonzero return from `fn` stops the loop. */
typedef int (*tun_cfg_line_fn)(void *arg, char *line, const char *where);
void tun_cfg_lines(char *data, const char *name, tun_cfg_line_fn fn, void *arg);

/* A private NUL-terminated copy of a configuration text of `len` bytes
 * for tun_cfg_lines() (a NUL inside ends it, as in a file); NULL after a
 * message when it exceeds `max` bytes, or out of memory.  free() it. */
char *tun_cfg_text_copy(const char *data, size_t len, size_t max, const char *name);
/* The end of reading config `name` with `errors` bad lines: 0 when there
 * were none, else -1 after the one summary line both readers print. */
int tun_cfg_verdict(const char *name, int errors);

/* "<where>: invalid <kwname> value "<v>"" as an error; returns -1. */
int tun_cfg_bad_value(const char *where, const char *kwname, const char *v);
/* First value wins: set *f to v unless already set (-1 means unset). */
int tun_cfg_set_int(int *f, int v);

/* "yes" / "no", any case. */
int tun_parse_yesno(const char *v, int *out);
/* A decimal integer in [min, max]. */
int tun_parse_int(const char *v, long min, long max, long *out);
/* TIME FORMATS: "90", "90s", "30m", "1h30m", "2d", "1w" -> seconds. */
int tun_parse_time(const char *v, int64_t *out);
/* The same, at most INT_MAX seconds. */
int tun_parse_time_int(const char *v, int *out);
/* A byte count with an optional K, M, G or T suffix (powers of 1024). */
int tun_parse_size(const char *v, int64_t *out);

/* Address syntax of ListenAddress, PermitOpen, PermitListen and Match
 * Address; each returns 1 when valid, 0 when not.  `star_ok`: "*" may
 * stand for the host or the port. */
int tun_valid_port(const char *s, int star_ok);
/* Host names and IPv4 addresses (letters, digits, '.', '-', '_'). */
int tun_valid_hostname(const char *h, int star_ok);
/* The first `len` bytes of `s` are an IPv6 address, with an optional
 * "%scope". */
int tun_valid_ipv6(const char *s, size_t len);
/* "host:port" or "[v6]:port"; with `port_optional` also "host", "[v6]" or
 * a bare IPv6 address; with `bare_port_ok` also "port" alone. */
int tun_valid_hostport(const char *s, int star_ok, int port_optional, int bare_port_ok);
/* "addr/len" with a valid address and prefix length. */
int tun_valid_cidr(const char *s);
/* A comma-separated pattern list without empty entries (a leading '!'
 * negates); with `cidr`, entries containing '/' must be CIDR blocks. */
int tun_valid_pattern_list(const char *list, int cidr);

/* Build an algorithm list from a spec that may start with '+' (append to
 * the default), '-' (remove patterns from it), '^' (prepend), or be a full
 * list; names not in `supported` are an error (said on the log).
 * malloc'd, NULL on error. */
char *tun_alg_list(const char *spec, const char *def, const char *supported, const char *what);

#endif
