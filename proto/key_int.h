/*
 * key_int.h - internals of the key module shared by key.c, keyfile.c and the
 * transport (host key signatures, public key authentication).
 */
#ifndef SSHTUN_PROTO_KEY_INT_H
#define SSHTUN_PROTO_KEY_INT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "sshtun/buf.h"
#include "sshtun/key.h"

/* Limits on inputs we parse (all far above anything OpenSSH writes). */
#define SSH_KEY_RSA_MIN_BITS 1024
#define SSH_KEY_RSA_MAX_BITS 16384
#define SSH_KEY_LINE_MAX     (64u * 1024)   /* one public key line */
#define SSH_KEY_FILE_MAX     (1024u * 1024) /* one private key file */
#define SSH_KEY_COMMENT_MAX  (16u * 1024)
#define SSH_KEY_NAME_MAX     64 /* longest type/algorithm name we accept */

/* The libcrypto key behind `k` (borrowed: valid as long as k lives).  It
 * holds the private half iff ssh_key_has_private(k). */
EVP_PKEY *ssh_key_evp(const ssh_key *k);

/* Wrap a libcrypto key.  Takes ownership of `pkey` in every case (freed on
 * failure).  `has_private` tells whether pkey holds the private half.  The
 * key must be Ed25519, ECDSA on P-256/P-384/P-521 or RSA of 1024..16384
 * bits (SSH_ERR_KEY_TYPE / SSH_ERR_KEY_INVALID otherwise). */
int ssh_key_from_evp(EVP_PKEY *pkey, int has_private, ssh_key **out);

/* Read a public key blob (string type, fields) from the cursor without
 * requiring the cursor to end there; certificates included.  On failure
 * the cursor is unchanged. */
int ssh_key_get_public(ssh_cur *c, ssh_key **out);

/* The type-specific public fields of a plain key of `type` (what follows
 * the type name in its blob, and the nonce in a certificate). */
int ssh_key_get_public_fields(ssh_cur *c, enum ssh_key_type type, ssh_key **out);

/* ssh_key_from_blob() refusing certificates (SSH_ERR_KEY_TYPE): for CA
 * keys, which may not be certificates themselves. */
int ssh_key_from_blob_plain(const uint8_t *blob, size_t len, ssh_key **out);

/* The plain public key blob, also for a certificate (its certified key). */
int ssh_key_to_plain_blob(const ssh_key *k, ssh_buf *out);

/* A key type name as blobs and key lines spell it ("ssh-ed25519",
 * "ssh-rsa", or a certificate type such as
 * "ssh-ed25519-cert-v01@openssh.com"; not signature algorithm names):
 * 0 with its type and whether it names a certificate, or -1. */
int ssh_key_type_by_name(const char *name, enum ssh_key_type *type, int *cert);

/* Attach a certificate (cert.c), taking ownership; replaces any. */
struct ssh_cert;
void ssh_key_set_cert(ssh_key *k, struct ssh_cert *cert);

/* The private key encoding shared by openssh-key-v1 and the ssh-agent
 * protocol (draft-miller-ssh-agent section 4.2.3, without the comment):
 *   ssh-ed25519:  string type, string pk[32], string seed||pk [64]
 *   ecdsa:        string type, string curve, string Q, mpint d
 *   ssh-rsa:      string type, mpint n, mpint e, mpint d, mpint iqmp,
 *                 mpint p, mpint q
 * ssh_key_get_private() checks that the private and public halves agree
 * (SSH_ERR_KEY_INVALID otherwise); the cursor is unchanged on failure.
 * ssh_key_put_private() needs a key with its private half
 * (SSH_ERR_ARGUMENT otherwise); give it an SSH_BUF_SECRET buffer. */
int ssh_key_get_private(ssh_cur *c, ssh_key **out);
int ssh_key_put_private(const ssh_key *k, ssh_buf *b);

/* Base64 (RFC 4648 section 4, with padding) through libcrypto's
 * EVP_EncodeBlock / EVP_DecodeBlock.  The decoder takes exactly one
 * unbroken run of base64 characters (no whitespace), requires correct
 * padding and zero excess bits, and appends the bytes to `out`
 * (SSH_ERR_FORMAT on anything else).  The encoder appends the text without
 * a NUL. */
int ssh_base64_decode(const char *in, size_t n, ssh_buf *out);
int ssh_base64_encode(const uint8_t *in, size_t n, ssh_buf *out);

#endif
