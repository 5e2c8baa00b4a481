/*
 * tun_options.h - the client's options, with OpenSSH's keyword names and
 * "first obtained value wins" semantics: the command line (-o and flags)
 * is applied first, then configuration files; a keyword already set is not
 * overwritten.  tun_options_finish() fills in the defaults.
 */
#ifndef SSHTUN_TUN_OPTIONS_H
#define SSHTUN_TUN_OPTIONS_H

#include <stdint.h>

#define TUN_MAX_LIST 32

enum tun_shkc { SHKC_UNSET = -1, SHKC_NO = 0, SHKC_YES, SHKC_ACCEPT_NEW, SHKC_ASK };

typedef struct tun_options {
    char *user;
    char *hostname; /* HostName */
    int port;       /* -1: unset */
    char *identity_files[TUN_MAX_LIST];
    int n_identity_files;
    int identities_only;
    char *user_known_hosts[TUN_MAX_LIST];
    int n_user_known_hosts;
    char *global_known_hosts[TUN_MAX_LIST];
    int n_global_known_hosts;
    int strict_host_key_checking;
    int hash_known_hosts;
    int batch_mode;
    int connect_timeout; /* seconds, -1 unset, 0 none */
    int connection_attempts;
    int address_family; /* AF_UNSPEC/AF_INET/AF_INET6, -1 unset */
    char *ciphers, *macs, *kex_algorithms, *hostkey_algorithms, *pubkey_algorithms;
    char *preferred_authentications;
    int password_authentication, kbd_interactive_authentication, pubkey_authentication;
    int64_t rekey_bytes;   /* -1 unset, 0 default */
    int64_t rekey_seconds; /* -1 unset, 0 none */
    int log_level;         /* -1 unset */
    int server_alive_interval, server_alive_count_max;
    int request_tty;       /* -1 unset, 0 no, 1 yes, 2 force, 3 auto */
    int tcp_keepalive;
} tun_options;

void tun_options_init(tun_options *o);
void tun_options_free(tun_options *o);
/* Apply "Keyword value" / "Keyword=value" (OpenSSH syntax, keyword
 * case-insensitive).  `where` names the source for error messages
 * ("command-line", "file:line").  Returns 0, or -1 after printing
 * "<where>: Bad configuration option: <kw>" or a bad value message. */
int tun_options_apply(tun_options *o, const char *line, const char *where);
/* Fill in defaults; resolve algorithm lists with +/-/^ modifiers.
 * Returns 0 or -1 with a message. */
int tun_options_finish(tun_options *o);

/* Build an algorithm list from a spec that may start with '+' (append to
 * the default), '-' (remove patterns from it), '^' (prepend), or be a full
 * list; names not in `supported` are an error.  malloc'd, NULL on error. */
char *tun_alg_list(const char *spec, const char *def, const char *supported, const char *what);

#endif
