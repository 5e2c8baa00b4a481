/*
 * bcrypt_pbkdf.h - OpenBSD's bcrypt_pbkdf(3) and the Blowfish it is built on
 * (internal to libsshtun).
 *
 * bcrypt_pbkdf is the key derivation function of encrypted openssh-key-v1
 * private key files (kdfname "bcrypt", OpenSSH PROTOCOL.key).  libcrypto has
 * no implementation of it, and its Blowfish API does not expose the
 * "expensive key schedule" (Eksblowfish) that bcrypt needs, so the Blowfish
 * here is our own.  The hash inside bcrypt_pbkdf is SHA-512 from libcrypto.
 *
 * The Blowfish initial state (18-word P-array and four 256-word S-boxes) is
 * the fractional part of pi in hexadecimal; it is computed once, on first
 * use, with libcrypto BIGNUM arithmetic instead of being typed in.
 */
#ifndef SSHTUN_PROTO_BCRYPT_PBKDF_H
#define SSHTUN_PROTO_BCRYPT_PBKDF_H

#include <stddef.h>
#include <stdint.h>

/* Number of 32-bit words of pi used by Blowfish: 18 + 4 * 256. */
#define SSH_BLF_PI_WORDS 1042

/* Largest output bcrypt_pbkdf can produce (32 blocks of 32 bytes). */
#define SSH_BCRYPT_PBKDF_MAX_KEY 1024

typedef struct ssh_blf_ctx {
    uint32_t S[4][256];
    uint32_t P[18];
} ssh_blf_ctx;

/* The first SSH_BLF_PI_WORDS 32-bit words of the hexadecimal expansion of
 * the fractional part of pi (0x243F6A88, 0x85A308D3, ...), computed on first
 * call.  NULL if libcrypto could not compute them (out of memory). */
const uint32_t *ssh_blf_pi_words(void);

/* Load the initial state (P-array then S-boxes from pi).  0, or
 * SSH_ERR_LIBCRYPTO if the constants could not be computed. */
int ssh_blf_init(ssh_blf_ctx *c);

/* Encrypt one 64-bit block given as two big-endian halves, in place. */
void ssh_blf_encipher(const ssh_blf_ctx *c, uint32_t *xl, uint32_t *xr);

/* The standard Blowfish key schedule step: XOR the key (cyclically) into
 * the P-array, then replace P and S by successive encryptions of a zero
 * block.  After ssh_blf_init(), this is the ordinary Blowfish key setup. */
void ssh_blf_expand0(ssh_blf_ctx *c, const uint8_t *key, size_t keylen);

/* Eksblowfish's salted variant: as ssh_blf_expand0(), but the block that
 * is encrypted is XORed with successive words of `data` (cyclically) each
 * time. */
void ssh_blf_expand(ssh_blf_ctx *c, const uint8_t *data, size_t datalen, const uint8_t *key,
                    size_t keylen);

/* bcrypt_pbkdf(pass, salt, rounds) -> key[keylen].  pass and salt must be
 * non-empty, rounds >= 1, 1 <= keylen <= SSH_BCRYPT_PBKDF_MAX_KEY and the
 * salt at most 1 MiB (SSH_ERR_ARGUMENT otherwise).  SSH_ERR_LIBCRYPTO if
 * SHA-512 failed.  Intermediate values are cleansed. */
int ssh_bcrypt_pbkdf(const uint8_t *pass, size_t passlen, const uint8_t *salt, size_t saltlen,
                     uint8_t *key, size_t keylen, unsigned rounds);

#endif
