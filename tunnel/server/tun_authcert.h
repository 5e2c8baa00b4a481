/*
 * tun_authcert.h - user certificates on the server: what a certificate
 * allows (its critical options and extensions as authorized_keys options),
 * how that combines with the options of the line that let it in, and the
 * principal lists of authorized_keys (principals=), AuthorizedPrincipalsFile
 * and AuthorizedPrincipalsCommand.
 *
 * sshd's semantics (auth-options.c, auth2-pubkeyfile.c):
 *  - a certificate grants only what its extensions permit (permit-pty,
 *    permit-port-forwarding, permit-agent-forwarding,
 *    permit-X11-forwarding, permit-user-rc; no-touch-required concerns FIDO
 *    keys and changes nothing here); unknown extensions are ignored;
 *  - critical options: force-command (the command), source-address (CIDR
 *    list the client's address must be in); verify-required asks for a
 *    FIDO user-verification signature, which no key type sshtund accepts
 *    can make, so such a certificate is refused; any other critical option
 *    is refused;
 *  - with a line's options (authorized_keys cert-authority line, or a
 *    principals line): permissions must be granted by both, permitopen /
 *    permitlisten / environment come from the line when it has any, else
 *    from the certificate, and two forced commands must be the same.
 * Pure functions: no file access, the time and address are parameters.
 */
#ifndef SSHTUN_TUN_AUTHCERT_H
#define SSHTUN_TUN_AUTHCERT_H

#include <stddef.h>
#include <stdint.h>

#include "sshtun/cert.h"
#include "sshtun/key.h"
#include "tun_authkeys.h"

/* The critical options sshtund understands (for ssh_cert_check()); of
 * them, verify-required is then refused by tun_cert_keyopts(). */
#define TUN_CERT_KNOWN_CRITICAL "force-command,source-address,verify-required"

/* The options `cert` carries, checked against `client_ip`.  0, or -1 with
 * sshd's reason in why ("Certificate has ...", "not from a permitted
 * source address"). */
int tun_cert_keyopts(const ssh_key *cert, const char *client_ip, tun_keyopts *out, char *why,
                     size_t whysz);

/* Combine `cert` into `line` (in place), as sshd's sshauthopt_merge.  0,
 * or -1 ("forced command options do not match"). */
int tun_keyopts_merge(tun_keyopts *line, const tun_keyopts *cert, char *why, size_t whysz);

/* Does the certificate list a principal named in the comma-separated
 * `list` (exact names, as principals= takes them)?  1 or 0. */
int tun_cert_principals_match(const ssh_cert *c, const char *list);

/* AuthorizedPrincipalsFile / AuthorizedPrincipalsCommand output: lines
 * "[options] principal" ('#' comments); the first line whose principal the
 * certificate lists decides: FOUND with the line's options (its from= and
 * expiry-time= checked against client_ip and now), or DENIED.  Lines with
 * cert-authority or principals= are invalid here, as in sshd. */
enum tun_ak_result tun_principals_find(const char *data, size_t len, const ssh_cert *cert,
                                       const char *client_ip, int64_t now, tun_keyopts *opts,
                                       char *why, size_t whysz);

/* Is the plain key `k` listed in `data` (TrustedUserCAKeys: public key
 * lines, '#' comments)?  1 or 0. */
int tun_keylist_has(const char *data, size_t len, const ssh_key *k);

#endif
