/*
 * sshtun/key.h - public and private keys, signatures, fingerprints.
 *
 * Key types: Ed25519, ECDSA over NIST P-256/P-384/P-521, RSA.  All
 * cryptography is done by libcrypto (EVP_PKEY); this module only converts
 * between libcrypto objects and the SSH encodings:
 *
 *  - public key blobs (RFC 4253 section 6.6, RFC 5656 section 3.1,
 *    RFC 8709 section 4):
 *        ssh-ed25519:          string "ssh-ed25519", string key[32]
 *        ecdsa-sha2-nistpNNN:  string name, string "nistpNNN", string Q
 *        ssh-rsa:              string "ssh-rsa", mpint e, mpint n
 *  - signature blobs: string algorithm, string signature, where the
 *    signature is the raw 64 bytes (Ed25519), mpint r || mpint s (ECDSA,
 *    RFC 5656 section 3.1.2) or the PKCS#1 v1.5 block (RSA, RFC 8332).
 *  - private key files: "openssh-key-v1" (OpenSSH's PROTOCOL.key) and the PEM
 *    forms libcrypto reads (PKCS#1, SEC1, PKCS#8).
 *  - the one-line public form "type base64 comment" of .pub files and
 *    authorized_keys / known_hosts key fields.
 *  - fingerprints "SHA256:<unpadded base64>" as OpenSSH prints them.
 *
 * Signature algorithm names: "ssh-ed25519", "ecdsa-sha2-nistp256",
 * "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "rsa-sha2-256",
 * "rsa-sha2-512" and "ssh-rsa" (RSA with SHA-1).  SHA-1 signatures are
 * refused unless the caller passes SSH_KEY_ALLOW_SHA1.
 *
 * Certificates (OpenSSH's ssh-ed25519-cert-v01@openssh.com and friends) are
 * keys too: every function here accepts them; what differs for them is
 * described in sshtun/cert.h.
 *
 * No file access here: callers read files and pass their contents.
 */
#ifndef SSHTUN_KEY_H
#define SSHTUN_KEY_H

#include <stddef.h>
#include <stdint.h>

#include "sshtun/buf.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ssh_key ssh_key;

enum ssh_key_type {
    SSH_KEY_UNKNOWN = 0,
    SSH_KEY_ED25519,
    SSH_KEY_ECDSA_P256,
    SSH_KEY_ECDSA_P384,
    SSH_KEY_ECDSA_P521,
    SSH_KEY_RSA,
};

#define SSH_KEY_ALLOW_SHA1 0x1u /* accept/produce "ssh-rsa" (SHA-1) signatures */

/* ---- construction ------------------------------------------------------ */

/* Parse a public key blob.  The blob must be exactly one key (no trailing
 * bytes).  RSA moduli below 1024 bits are rejected (SSH_ERR_KEY_INVALID), as
 * are EC points not on the named curve. */
int ssh_key_from_blob(const uint8_t *blob, size_t len, ssh_key **out);

/* Parse a private key file's contents: openssh-key-v1 ("-----BEGIN OPENSSH
 * PRIVATE KEY-----") or PEM.  `passphrase` may be NULL; an encrypted key
 * then fails with SSH_ERR_KEY_ENCRYPTED, a wrong passphrase with
 * SSH_ERR_KEY_PASSPHRASE.  *comment (may be NULL) receives a malloc'd
 * comment string or NULL. */
int ssh_key_parse_private(const uint8_t *data, size_t len, const char *passphrase, ssh_key **out,
                          char **comment);

/* Only the public half of an openssh-key-v1 file, without decrypting it
 * (lets a client offer an encrypted key before asking for the passphrase).
 * For PEM input, fails with SSH_ERR_KEY_ENCRYPTED if the PEM is encrypted. */
int ssh_key_parse_private_public(const uint8_t *data, size_t len, ssh_key **out);

/* Parse "type base64 [comment]" (leading spaces allowed, line ending
 * optional).  *comment may be NULL; otherwise receives a malloc'd copy or
 * NULL.  Options before the type (authorized_keys) and host patterns
 * (known_hosts) are the caller's to strip. */
int ssh_key_parse_public_line(const char *line, size_t len, ssh_key **out, char **comment);

/* Generate a fresh key (tests, sshtund host keys).  `bits` is only used for
 * RSA (0: 3072). */
int ssh_key_generate(enum ssh_key_type type, unsigned bits, ssh_key **out);

/* Duplicate only the public half. */
int ssh_key_public(const ssh_key *k, ssh_key **out);

void ssh_key_free(ssh_key *k);

/* ---- inspection -------------------------------------------------------- */

enum ssh_key_type ssh_key_type(const ssh_key *k);
/* Key type name as it appears in blobs: "ssh-ed25519", "ecdsa-sha2-nistp256",
 * ..., "ssh-rsa". */
const char *ssh_key_type_name(const ssh_key *k);
/* Type from a name (key type or signature algorithm name; "rsa-sha2-256"
 * gives SSH_KEY_RSA). */
enum ssh_key_type ssh_key_type_from_name(const char *name);
int ssh_key_has_private(const ssh_key *k);
/* Size in bits (RSA modulus, EC field, 256 for Ed25519). */
unsigned ssh_key_bits(const ssh_key *k);
/* 1 if the public halves are equal. */
int ssh_key_equal_public(const ssh_key *a, const ssh_key *b);

/* Append the public key blob to `out`. */
int ssh_key_to_blob(const ssh_key *k, ssh_buf *out);
/* The one-line public form "type base64[ comment]" as a malloc'd string. */
int ssh_key_to_public_line(const ssh_key *k, const char *comment, char **out);
/* Write the private key as an unencrypted openssh-key-v1 PEM-style text
 * (tests and key generation), malloc'd, NUL-terminated.  The text holds the
 * secret key: OPENSSL_cleanse() it before free().  SSH_ERR_ARGUMENT for a
 * key without its private half. */
int ssh_key_to_private_openssh(const ssh_key *k, const char *comment, char **out);

/* "SHA256:..." (unpadded base64 of SHA-256 of the blob) into out[outsz];
 * 51 bytes always suffice (SSH_KEY_FP_MAX). */
#define SSH_KEY_FP_MAX 64
int ssh_key_fingerprint(const ssh_key *k, char *out, size_t outsz);

/* Does `alg` (a signature algorithm name) fit this key?  For a certificate
 * only certificate algorithm names fit, for a plain key only plain ones. */
int ssh_key_alg_ok(const ssh_key *k, const char *alg);

/* The signature algorithms this key can make, as a comma-separated
 * name-list in our order of preference (for host key algorithm and
 * server-sig-algs lists): "rsa-sha2-512,rsa-sha2-256" for RSA, plus
 * ",ssh-rsa" with SSH_KEY_ALLOW_SHA1; the single name for the others.
 * Static string; NULL for a NULL key. */
const char *ssh_key_sig_algs(const ssh_key *k, unsigned flags);

/* ---- signatures -------------------------------------------------------- */

/* Sign `data` with algorithm `alg` (NULL: the key's natural algorithm,
 * rsa-sha2-512 for RSA) and append the SSH signature blob (string alg,
 * string sig) to `out`.  SSH_ERR_KEY_ALG_DISABLED for "ssh-rsa" without
 * SSH_KEY_ALLOW_SHA1. */
int ssh_key_sign(const ssh_key *k, const char *alg, unsigned flags, const uint8_t *data,
                 size_t dlen, ssh_buf *out);

/* Verify an SSH signature blob over `data`.  If `alg` is not NULL the blob's
 * algorithm must equal it (SSH_ERR_KEY_ALG_MISMATCH otherwise).  Returns 0
 * only for a valid signature; SSH_ERR_SIGNATURE for a wrong one.  Trailing
 * bytes in the blob are rejected.  A malformed encoding fails with the
 * codec's code (SSH_ERR_TRAILING, SSH_ERR_INCOMPLETE, SSH_ERR_FORMAT,
 * SSH_ERR_NEGATIVE for an ECDSA r or s), an unknown algorithm name with
 * SSH_ERR_KEY_TYPE.  An RSA signature shorter than the modulus is left-padded
 * with zeros, as OpenSSH does; a longer one is refused. */
int ssh_key_verify(const ssh_key *k, const char *alg, unsigned flags, const uint8_t *sig,
                   size_t siglen, const uint8_t *data, size_t dlen);

/* Extract the algorithm name of a signature blob into out[outsz]. */
int ssh_sig_alg(const uint8_t *sig, size_t siglen, char *out, size_t outsz);

#ifdef __cplusplus
}
#endif
#endif
