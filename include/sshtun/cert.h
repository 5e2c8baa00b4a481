/*
 * sshtun/cert.h - OpenSSH certificates (PROTOCOL.certkeys).
 *
 * A certificate is a public key signed by a certification authority (CA)
 * together with who it is for (principals), when (valid after/before) and
 * on which terms (critical options, extensions).  It travels where a public
 * key travels, under its own key type names:
 *
 *     ssh-ed25519-cert-v01@openssh.com
 *     ecdsa-sha2-nistp256-cert-v01@openssh.com (and -nistp384-, -nistp521-)
 *     ssh-rsa-cert-v01@openssh.com
 *
 * and, as algorithm names only (KEXINIT host key algorithms, publickey
 * requests), rsa-sha2-256-cert-v01@openssh.com / rsa-sha2-512-cert-v01@...
 * for an RSA certificate whose key signs with SHA-2.  Signatures made "by a
 * certificate" are ordinary signatures of its key: a certificate algorithm
 * name minus "-cert-v01@openssh.com" is the signature algorithm name.
 *
 * In this library a certificate is an ssh_key with a certificate attached:
 * ssh_key_from_blob() and ssh_key_parse_public_line() accept certificate
 * blobs, ssh_key_to_blob() writes the certificate blob back verbatim,
 * ssh_key_type_name() gives the certificate type name, ssh_key_type() the
 * type of the certified key, ssh_key_alg_ok() accepts only certificate
 * algorithm names for a certificate (and only plain names for a plain
 * key), ssh_key_equal_public() compares certificates byte for byte (a
 * certificate never equals its plain key), and ssh_key_fingerprint() is
 * the fingerprint of the certified key (as OpenSSH prints it).
 *
 * Parsing is strict and bounded: exactly the fields of the format, no
 * trailing bytes (in the blob, in the principal list, in option payloads
 * read through the accessors below), principals and options within the
 * limits below, critical options and extensions each in strictly
 * increasing lexical order (PROTOCOL.certkeys: "lexically ordered ...
 * may only appear once"), type 1 (user) or 2 (host), a CA key that is a
 * plain key of a supported type (no chains), and a CA signature that
 * verifies.  A parsed certificate is therefore always genuinely signed by
 * its CA; whether that CA is trusted, and whether the certificate is
 * valid for this use now, are separate questions (ssh_cert_check()).
 *
 * Time is a parameter everywhere: this module never reads a clock.
 */
#ifndef SSHTUN_CERT_H
#define SSHTUN_CERT_H

#include <stddef.h>
#include <stdint.h>

#include "sshtun/key.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SSH_CERT_TYPE_USER 1u
#define SSH_CERT_TYPE_HOST 2u

/* Limits applied while parsing (far above what ssh-keygen writes). */
#define SSH_CERT_MAX_PRINCIPALS 256  /* as OpenSSH */
#define SSH_CERT_MAX_OPTIONS    64   /* critical options, and extensions, each */
#define SSH_CERT_TEXT_MAX       2048 /* key id, one principal, one option name */

typedef struct ssh_cert ssh_cert;

/* ---- certificate keys ---------------------------------------------------- */

/* 1 if `k` carries a certificate. */
int ssh_key_is_cert(const ssh_key *k);
/* The certificate of `k` (borrowed, lives as long as k), NULL for a plain
 * key. */
const ssh_cert *ssh_key_cert(const ssh_key *k);
/* A copy of `k` without its certificate (keeps the private half if k has
 * one).  For a plain key, a copy. */
int ssh_key_plain(const ssh_key *k, ssh_key **out);
/* `key` (typically with its private half) combined with the certificate
 * carried by `cert`: the result signs with key's private half and presents
 * the certificate.  SSH_ERR_KEY_INVALID unless the certificate certifies
 * exactly key's public half; SSH_ERR_ARGUMENT if `cert` has no certificate
 * or `key` has one. */
int ssh_key_with_cert(const ssh_key *key, const ssh_key *cert, ssh_key **out);

/* Is `name` a certificate key type or algorithm name (...-cert-v01@openssh.com)? */
int ssh_key_alg_is_cert(const char *name);
/* The signature algorithm behind a key type or algorithm name: the name
 * itself for a plain signature algorithm, the plain name for a certificate
 * algorithm ("rsa-sha2-512-cert-v01@openssh.com" -> "rsa-sha2-512",
 * "ssh-rsa-cert-v01@openssh.com" -> "ssh-rsa"); NULL if unknown.  Static
 * string. */
const char *ssh_key_alg_plain(const char *name);
/* The certificate algorithm for a plain signature algorithm name
 * ("ssh-ed25519" -> "ssh-ed25519-cert-v01@openssh.com"); NULL if none.
 * Static string. */
const char *ssh_key_alg_cert(const char *name);

/* ---- inspection ----------------------------------------------------------- */

uint32_t ssh_cert_type(const ssh_cert *c); /* SSH_CERT_TYPE_USER or _HOST */
uint64_t ssh_cert_serial(const ssh_cert *c);
const char *ssh_cert_key_id(const ssh_cert *c);
size_t ssh_cert_n_principals(const ssh_cert *c);
/* Principal i (< ssh_cert_n_principals), NULL beyond. */
const char *ssh_cert_principal(const ssh_cert *c, size_t i);
uint64_t ssh_cert_valid_after(const ssh_cert *c);
uint64_t ssh_cert_valid_before(const ssh_cert *c);
/* The CA key that signed the certificate (plain, public; borrowed). */
const ssh_key *ssh_cert_ca(const ssh_cert *c);
/* The algorithm of the CA's signature ("ssh-ed25519", "rsa-sha2-512", ...). */
const char *ssh_cert_sig_alg(const ssh_cert *c);

/* Critical options (critical != 0) or extensions: the count, and entry i as
 * its name and raw data (pointers into the certificate; data is the
 * option's "string data" contents, PROTOCOL.certkeys). */
size_t ssh_cert_n_options(const ssh_cert *c, int critical);
int ssh_cert_option(const ssh_cert *c, int critical, size_t i, const char **name,
                    const uint8_t **data, size_t *len);
/* 1 if the extension `name` is present (flag extensions: permit-pty, ...). */
int ssh_cert_has_extension(const ssh_cert *c, const char *name);
/* The value of a critical option whose data is one string (force-command,
 * source-address): 0 and a malloc'd copy in *out, 0 and *out == NULL when
 * the option is absent, SSH_ERR_FORMAT when its data is not exactly one
 * string, SSH_ERR_EMBEDDED_NUL when it holds a NUL byte. */
int ssh_cert_option_string(const ssh_cert *c, const char *name, char **out);

/* "from YYYY-MM-DDTHH:MM:SS to YYYY-MM-DDTHH:MM:SS" (UTC), "forever",
 * "after ..." or "before ..." into out[outsz], as ssh-keygen -L words it
 * (in UTC here: the library has no time zone). */
void ssh_cert_validity_str(const ssh_cert *c, char *out, size_t outsz);

/* ---- validation ----------------------------------------------------------- */

/* Is certificate key `k` valid for this use at time `now` (seconds since
 * 1970-01-01 UTC)?  Checks in this order, returning the first failure with
 * *reason set to a static sentence worded as OpenSSH words it:
 *
 *  - SSH_ERR_CERT_TYPE: not of type `want_type` ("Certificate invalid: not
 *    a host certificate");
 *  - SSH_ERR_CERT_NOT_YET_VALID: now < valid after;
 *  - SSH_ERR_CERT_EXPIRED: now >= valid before;
 *  - SSH_ERR_CERT_NO_PRINCIPALS: the principal list is empty.  Older
 *    OpenSSH read an empty list as "any principal"; that failed open when a
 *    CA signed one by mistake (CVE-2024-7594), and OpenSSH now refuses
 *    such certificates everywhere.  So do we;
 *  - SSH_ERR_CERT_PRINCIPAL: `name` (if not NULL) is not a listed
 *    principal.  With `wildcard`, principals are OpenSSH patterns ('*',
 *    '?') matched against name (host certificates: "*.example.com");
 *    otherwise compared exactly;
 *  - SSH_ERR_CERT_CRITICAL: a critical option whose name is not in the
 *    comma-separated `known_critical` (NULL: none is known, as for host
 *    certificates);
 *  - SSH_ERR_CERT_SIG_ALG: `ca_sig_algs` (NULL: any) is a comma-separated
 *    list of algorithm patterns and the CA signature's algorithm matches
 *    none (OpenSSH's CASignatureAlgorithms).
 *
 * SSH_ERR_ARGUMENT (reason "Key is not a certificate") for a plain key. */
int ssh_cert_check(const ssh_key *k, uint32_t want_type, const char *name, int wildcard,
                   uint64_t now, const char *known_critical, const char *ca_sig_algs,
                   const char **reason);

/* OpenSSH's default CASignatureAlgorithms: every algorithm but ssh-rsa. */
#define SSH_DEFAULT_CA_SIG_ALGS                                                                    \
    "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,rsa-sha2-512,"        \
    "rsa-sha2-256"

#ifdef __cplusplus
}
#endif
#endif
