/*
 * tun_knownhosts.h - OpenSSH known_hosts files.
 *
 * Line format (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"):
 *     [@revoked|@cert-authority] patterns keytype base64-key [comment]
 * where patterns is a comma-separated list of host names or addresses with
 * '*' and '?' wildcards and '!' negation, "[host]:port" for a non-default
 * port, or a single hashed entry "|1|base64(salt)|base64(HMAC-SHA1(salt,
 * host))".  Lines starting with '#' and blank lines are ignored.
 * @cert-authority lines are reported as unsupported (debug) and skipped.
 */
#ifndef SSHTUN_TUN_KNOWNHOSTS_H
#define SSHTUN_TUN_KNOWNHOSTS_H

#include <stddef.h>

#include "sshtun/key.h"

enum tun_hk_status {
    TUN_HK_NEW = 0,   /* no line names this host with this key type */
    TUN_HK_OK,        /* a line names the host with exactly this key */
    TUN_HK_CHANGED,   /* the host is known with a different key of this type */
    TUN_HK_REVOKED,   /* the key is marked @revoked */
};

typedef struct tun_hk_result {
    enum tun_hk_status status;
    char file[1024]; /* where the deciding line is (OK/CHANGED/REVOKED) */
    unsigned line;
    int other_types; /* NEW, but the host is known with other key types */
} tun_hk_result;

/* "host" for port 22, otherwise "[host]:port" (the name written to and
 * looked up in known_hosts). */
void tun_hk_hostname(const char *host, unsigned port, char *out, size_t outsz);

/* Look `key` up for host/port in the given files (missing files are
 * skipped).  Always fills `res`. */
void tun_knownhosts_check(const char *const *files, size_t nfiles, const char *host,
                          unsigned port, const ssh_key *key, tun_hk_result *res);

/* Append a line for host/port, hashed if `hash`, creating the file (0600)
 * and its directory (0700) if needed.  Returns 0 or -1 (errno). */
int tun_knownhosts_add(const char *file, const char *host, unsigned port, const ssh_key *key,
                       int hash);

/* Key types recorded for host/port, as signature algorithm names in
 * preference order, appended comma-separated to out (for ordering
 * HostKeyAlgorithms).  Returns the number of types found. */
int tun_knownhosts_algs(const char *const *files, size_t nfiles, const char *host, unsigned port,
                        char *out, size_t outsz);

/* Parse one line: does it match `hostname` (already in known_hosts form)?
 * Returns -1 for lines to skip (comments, malformed, unsupported), else
 * 0/1 and *key (caller frees) and *revoked.  Exposed for the fuzzer. */
int tun_knownhosts_line(const char *line, const char *hostname, ssh_key **key, int *revoked);

#endif
