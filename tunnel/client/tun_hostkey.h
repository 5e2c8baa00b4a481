/*
 * tun_hostkey.h - deciding whether to trust a server's host key, as ssh's
 * verify_host_key/check_host_key do: RevokedHostKeys, known_hosts files
 * (user and global), KnownHostsCommand, @revoked, @cert-authority and host
 * certificates, CheckHostIP, StrictHostKeyChecking and recording new keys;
 * plus the HostKeyAlgorithms order that prefers what is already known.
 *
 * Certificates: a host certificate is trusted when an @cert-authority line
 * for the host names its CA and it passes ssh_cert_check() for the host
 * name (HostKeyAlias if set), now, with no critical option, with an
 * allowed CA signature algorithm (CASignatureAlgorithms).  When no CA
 * vouches for it (or the certificate fails those checks, after saying
 * why), the key under the certificate is judged as a plain key, as ssh
 * does ("Retry with plain key").  A certificate whose key or CA is revoked
 * (@revoked, RevokedHostKeys) is refused outright.
 *
 * Every refusal prints its reason and "Host key verification failed.".
 * The calls block while the user is asked or KnownHostsCommand runs.
 */
#ifndef SSHTUN_TUN_HOSTKEY_H
#define SSHTUN_TUN_HOSTKEY_H

#include <stdint.h>
#include <sys/socket.h>

#include "sshtun/key.h"
#include "tun_options.h"

typedef struct tun_hk_target {
    const tun_options *o;
    const char *host;          /* the host name connected to (HostName) */
    const char *original_host; /* as given (%n), NULL: host */
    unsigned port;
    /* The server's address (CheckHostIP), NULL if unknown. */
    const struct sockaddr *addr;
    socklen_t addrlen;
    uint64_t now; /* seconds since 1970 (certificate validity) */
    /* Reconnecting (Reconnect yes): the fingerprint of the key trusted on
     * the first connection, NULL otherwise.  A key known_hosts does not
     * list must then be that one: it is accepted without asking or
     * recording, and any other is refused as a changed key. */
    const char *pinned_fp;
} tun_hk_target;

typedef struct tun_hk_verdict {
    /* UpdateHostKeys may run: a plain key, trusted through a line of a
     * UserKnownHostsFile (not a global file, not KnownHostsCommand, not a
     * certificate), or just accepted by the user. */
    int update_ok;
    /* Index in o->user_known_hosts of that line's file (-1: none; then the
     * first file). */
    int user_file;
    /* known_hosts names for the host and, with CheckHostIP, the address
     * (empty if not checked). */
    char host_name[1100];
    char ip_name[128];
    /* The fingerprint of the key trusted (the plain key when a
     * certificate was judged as one). */
    char fp[SSH_KEY_FP_MAX];
} tun_hk_verdict;

/* 0: trusted (v filled); SSH_ERR_HOSTKEY_REJECTED after the messages. */
int tun_hostkey_verify(const tun_hk_target *t, const ssh_key *key, tun_hk_verdict *v);

/* HostKeyAlgorithms, reordered when left at its default (OpenSSH's
 * order_hostkeyalgs): verbatim if a plain key of the first algorithm's
 * type is known; otherwise the algorithms of known keys first, and with
 * an @cert-authority line for the host every certificate algorithm first. */
void tun_hostkey_order_algs(const tun_hk_target *t, char *out, size_t outsz);

/* The first UserKnownHostsFile that is a file ("none" is not), NULL if
 * there is none: where new host keys are recorded. */
const char *tun_hostkey_user_file(const tun_options *o);

/* Run `cmd` with /bin/sh, stdin from /dev/null, and collect at most `max`
 * bytes of its standard output within `timeout_ms` (then it is killed).
 * Returns its exit status (0..255), or -1 (started badly, killed, output
 * too long).  *out is malloc'd and NUL-terminated on success. */
int tun_hostkey_run_command(const char *cmd, size_t max, int timeout_ms, char **out,
                            size_t *outlen);

#endif
