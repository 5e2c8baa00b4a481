/*
 * tun_authkeys.h - authorized_keys files (sshd(8) "AUTHORIZED_KEYS FILE
 * FORMAT"): find the line authorizing a key and evaluate its options.
 *
 *   [options] keytype base64-key [comment]
 *
 * Options honoured: restrict, no-port-forwarding / port-forwarding,
 * no-pty / pty, no-agent-forwarding, no-X11-forwarding, no-user-rc,
 * command="...", from="pattern-list", environment="NAME=value",
 * permitopen="host:port", permitlisten="[host:]port", expiry-time="...",
 * and cert-authority with principals="..." for user certificates
 * (tun_authcert.h).  Lines with tunnel= are skipped (not supported).  Pure
 * functions: no file access (the caller reads the file, in the privileged
 * helper when running as root).
 */
#ifndef SSHTUN_TUN_AUTHKEYS_H
#define SSHTUN_TUN_AUTHKEYS_H

#include <stddef.h>
#include <stdint.h>

#include "sshtun/key.h"

#define TUN_AK_MAX_LIST 64

typedef struct tun_keyopts {
    int no_port_forwarding;
    int no_pty;
    int no_agent_forwarding;
    int no_x11_forwarding;
    int no_user_rc;
    char *command;                      /* forced command, or NULL */
    char *permitopen[TUN_AK_MAX_LIST];  /* "host:port" ("*" allowed for either) */
    int n_permitopen;
    char *permitlisten[TUN_AK_MAX_LIST]; /* "[host:]port" */
    int n_permitlisten;
    char *environment[TUN_AK_MAX_LIST]; /* "NAME=value" */
    int n_environment;
} tun_keyopts;

enum tun_ak_result {
    TUN_AK_NOT_FOUND = 0,
    TUN_AK_FOUND = 1,  /* authorized; `opts` filled */
    TUN_AK_DENIED = 2, /* the key is listed but from=/expiry-time forbid it */
};

/* Search `data` (the file's contents) for `key`.  `client_ip` is the
 * client's address in text form (for from=); `now` is the current Unix
 * time (for expiry-time).  On DENIED, `why` says which option refused.
 * Malformed lines are skipped (never an error for the whole file). */
enum tun_ak_result tun_authkeys_find(const char *data, size_t len, const ssh_key *key,
                                     const char *client_ip, int64_t now, tun_keyopts *opts,
                                     char *why, size_t whysz);

/* The same for `user` (the account logging in), which also lets user
 * certificates in through cert-authority lines: for `user` or a principal
 * of principals=, valid at `now`, signed with an algorithm `ca_sig_algs`
 * allows (NULL: any), with the certificate's options merged into the
 * line's.  tun_authkeys_find() is this with user NULL: no certificate. */
enum tun_ak_result tun_authkeys_find_user(const char *data, size_t len, const ssh_key *key,
                                          const char *user, const char *client_ip, int64_t now,
                                          const char *ca_sig_algs, tun_keyopts *opts, char *why,
                                          size_t whysz);

/* A whole option list with no key after it (the options of an
 * AuthorizedPrincipalsFile line).  *ca_only is set when the list holds
 * options that make no sense there (cert-authority, principals=, tunnel=).
 * 0 or -1 for a syntax error. */
int tun_authkeys_parse_optlist(const char *s, size_t len, tun_keyopts *opts, char **from,
                               char **expiry, int *ca_only);
/* Has an expiry-time="..." value passed at `now` (or is it malformed)? */
int tun_authkeys_expired(const char *expiry, int64_t now);

/* Parse only the options part of a line (up to the key type); used by
 * tun_authkeys_find and the fuzzer.  Returns the number of bytes consumed
 * (pointing at the key type) or -1 on a syntax error.  *ignore is set for
 * lines that never let a plain key in: cert-authority and principals=
 * (certificates only) and tunnel= (not supported). */
int tun_authkeys_parse_options(const char *line, size_t len, tun_keyopts *opts, int *ignore,
                               char **from, char **expiry);

void tun_keyopts_free(tun_keyopts *o);
/* Serialise/deserialise (to pass options from the privileged helper to the
 * network process).  0 or -1. */
int tun_keyopts_encode(const tun_keyopts *o, ssh_buf *out);
int tun_keyopts_decode(ssh_cur *in, tun_keyopts *o);
/* A deep copy into `dst` (overwritten).  0 or -1. */
int tun_keyopts_copy(tun_keyopts *dst, const tun_keyopts *src);

/* Does `ip` match an sshd pattern list with '*'/'?' wildcards, '!'
 * negation and CIDR "addr/len" entries?  1 yes, 0 no (also for a negated
 * match). */
int tun_match_address_list(const char *ip, const char *list);
/* Is host:port allowed by a permitopen/PermitOpen style list ("any",
 * "none", "host:port" with "*" for host or port, [v6]:port)? */
int tun_permit_match(char *const *list, int n, const char *host, uint32_t port);

#endif
