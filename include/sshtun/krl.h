/*
 * sshtun/krl.h - revoked keys: OpenSSH key revocation lists (PROTOCOL.krl)
 * and plain revoked-key lists, as RevokedKeys (sshd) and RevokedHostKeys
 * (ssh) name them.
 *
 * A KRL revokes plain keys (explicitly, or by SHA-1 / SHA-256 fingerprint
 * of their blob) and certificates (by serial number - lists, ranges,
 * bitmaps - or by key id, for one CA or for any CA).  A key is revoked if
 * the KRL revokes it; a certificate is revoked if the KRL revokes the
 * certificate, the key it certifies, or the CA key that signed it.
 *
 * Parsing is strict and fails closed: an unknown section, a critical
 * extension, trailing bytes inside a section, a serial number 0 or a range
 * running backwards make the whole list unusable (SSH_ERR_FORMAT), and a
 * caller that cannot read its revocation list must refuse the key, as
 * OpenSSH does.  KRL signature sections (type 4) are skipped, not
 * verified: like OpenSSH's ssh and sshd, we read KRLs from local files.
 * Sizes are bounded by the input: nothing is expanded (a serial bitmap is
 * tested where it lies), so memory stays linear in the file.
 *
 * No file access here: callers read the file and pass its bytes.
 */
#ifndef SSHTUN_KRL_H
#define SSHTUN_KRL_H

#include <stddef.h>
#include <stdint.h>

#include "sshtun/key.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ssh_krl ssh_krl;

/* 1 if the bytes start with the KRL magic "SSHKRL\n\0". */
int ssh_krl_is_krl(const uint8_t *data, size_t len);

/* Parse a binary KRL (as ssh-keygen -k writes it). */
int ssh_krl_parse(const uint8_t *data, size_t len, ssh_krl **out);
void ssh_krl_free(ssh_krl *krl);

uint64_t ssh_krl_version(const ssh_krl *krl);
uint64_t ssh_krl_date(const ssh_krl *krl); /* generated, seconds since 1970 */
const char *ssh_krl_comment(const ssh_krl *krl);

/* 0 if `key` is not revoked, SSH_ERR_KEY_REVOKED if it is. */
int ssh_krl_check(const ssh_krl *krl, const ssh_key *key);

/* A revoked keys file as RevokedKeys / RevokedHostKeys take it: a KRL, or
 * else a text list of public keys, one per line ("type base64
 * [comment]"; '#' comments and blank lines ignored).  In a list, the key
 * is revoked if a listed key is its public half (a listed certificate
 * counts as the key it certifies) or, for a certificate, its CA key.  Keys
 * we refuse anyway (unsupported types, RSA below 1024 bits) are skipped:
 * such a key can never be presented; any other line that does not parse
 * fails the whole list.
 * Returns 0 (not revoked), SSH_ERR_KEY_REVOKED, or the parse error. */
int ssh_revoked_check(const uint8_t *data, size_t len, const ssh_key *key);

#ifdef __cplusplus
}
#endif
#endif
