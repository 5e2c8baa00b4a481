/*
 * tun_config.h - ssh_config(5) files: Host and Match blocks, Include, and
 * the %-tokens expanded in file names and commands.
 */
#ifndef SSHTUN_TUN_CONFIG_H
#define SSHTUN_TUN_CONFIG_H

#include "tun_options.h"

#define TUN_CONFIG_USER     0x1 /* relative Includes are under ~/.ssh */
#define TUN_CONFIG_REQUIRED 0x2 /* a missing file is an error (-F) */
/* For configuration text that must not reach outside itself (the fuzzer):
 * NO_INCLUDE makes an Include directive in an active block an error (no
 * file is read), NO_EXEC makes "Match exec" criteria false without
 * running the command (its %-tokens are still checked). */
#define TUN_CONFIG_NO_INCLUDE 0x4
#define TUN_CONFIG_NO_EXEC    0x8
/* The second pass (after CanonicalizeHostname, or asked for by "Match
 * final"): Host and "Match host" see o->hostname, the canonical name, and
 * "Match canonical" / "Match final" are true. */
#define TUN_CONFIG_FINAL 0x10

/* Read one configuration file into `o` (first value wins).  `host` is the
 * destination as given on the command line.  Returns 0, or -1 after
 * printing "<file>: line N: ..." messages and "<file>: terminating, N bad
 * configuration options". */
int tun_config_read(tun_options *o, const char *path, const char *host, unsigned flags);
/* The same for configuration text in data[0..len) (need not be
 * NUL-terminated; a NUL ends it, as in a file).  `name` stands for the file
 * name in messages; relative Includes resolve as for tun_config_read(). */
int tun_config_read_mem(tun_options *o, const char *data, size_t len, const char *name,
                        const char *host, unsigned flags);

/* Values for token expansion (ssh_config(5) TOKENS). */
typedef struct tun_tokens {
    const char *host;          /* %h: remote host name (after HostName) */
    const char *original_host; /* %n */
    const char *port;          /* %p */
    const char *remote_user;   /* %r */
    const char *local_user;    /* %u */
    const char *home;          /* %d */
    const char *local_host;    /* %l: local host name */
    const char *short_host;    /* %L: first component of %l */
    const char *uid;           /* %i */
    const char *host_key_alias; /* %k */
    char jump_host[1024];       /* %j: the last ProxyJump hop's host, or "" */
    char conn_hash[41];         /* %C: SHA1(%l%h%p%r%j) as hex */
    /* KnownHostsCommand only (NULL elsewhere: then unknown tokens). */
    const char *hostkey_fp;   /* %f: the server host key's fingerprint */
    const char *kh_name;      /* %H: the known_hosts name looked up */
    const char *kh_reason;    /* %I: HOSTNAME, ADDRESS or ORDER */
    const char *hostkey_b64;  /* %K: the host key, base64 */
    const char *hostkey_type; /* %t: its type name */
} tun_tokens;

/* Fill `t` from the options (after tun_options_finish) and the host. */
void tun_tokens_init(tun_tokens *t, const tun_options *o, const char *original_host);
void tun_tokens_free(tun_tokens *t);
/* Expand tokens and a leading ~ in `in`; NULL and a message on an unknown
 * token.  `allowed` lists the token letters permitted (NULL: all). */
char *tun_expand(const char *in, const tun_tokens *t, const char *allowed);
/* The host to connect to: HostName with its %h expanded, or `host`
 * (malloc'd; NULL after a message). */
char *tun_config_hostname(const tun_options *o, const char *host);
/* What main() does for the destination and a jump host for itself: read
 * the configuration files (o->config_file, else ~/.ssh/config and
 * /etc/ssh/ssh_config) for `host`, fill in the defaults, expand tokens.
 * 0, or -1 after a message. */
int tun_config_load(tun_options *o, const char *host);
/* Expand tokens in every option that takes them (IdentityFile,
 * UserKnownHostsFile, ControlPath, ...).  0 or -1. */
int tun_options_expand(tun_options *o, const char *original_host);

#endif
