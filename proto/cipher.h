/*
 * cipher.h - packet ciphers of the SSH transport (internal to libsshtun).
 *
 * Three families, all built on libcrypto EVP:
 *
 *  - chacha20-poly1305@openssh.com (OpenSSH PROTOCOL.chacha20poly1305):
 *    64-byte key; the second 32 bytes (K_1) encrypt the 4-byte packet length
 *    with ChaCha20 at block counter 0, the first 32 bytes (K_2) produce the
 *    Poly1305 key (keystream block 0) and encrypt the rest of the packet from
 *    block counter 1.  The nonce is the 64-bit big-endian sequence number.
 *    The tag is Poly1305 over the encrypted length || encrypted rest.
 *  - aes128-gcm@openssh.com / aes256-gcm@openssh.com (RFC 5647, with
 *    OpenSSH's rules): the length is sent in clear and is the AAD; 12-byte
 *    IV from the KDF whose low 64 bits (invocation counter) increment after
 *    every packet; 16-byte tag.  No MAC is negotiated alongside.
 *  - aes128-ctr / aes192-ctr / aes256-ctr (RFC 4344): a stream over the whole
 *    packet (length included) unless the MAC is encrypt-then-MAC; needs a
 *    separate MAC (mac.h).
 *
 * All operations work in place on the packet buffer: no allocation, no copy.
 * A "packet" here is the 4-byte length field followed by padding_length,
 * payload and padding (RFC 4253 section 6), without MAC/tag.
 */
#ifndef SSHTUN_PROTO_CIPHER_H
#define SSHTUN_PROTO_CIPHER_H

#include <stddef.h>
#include <stdint.h>

#define SSH_CIPHER_AEAD       0x1u /* has its own tag; ignores the MAC */
#define SSH_CIPHER_CHACHAPOLY 0x2u /* length is encrypted separately */

typedef struct ssh_cipher_info {
    const char *name;
    unsigned key_len;    /* bytes of key material from the KDF */
    unsigned iv_len;     /* bytes of IV from the KDF (0 for chacha) */
    unsigned block_size; /* padding alignment */
    unsigned tag_len;    /* AEAD tag length, 0 otherwise */
    unsigned flags;      /* SSH_CIPHER_* */
} ssh_cipher_info;

typedef struct ssh_cipher ssh_cipher;

/* The cipher of this name, or NULL. */
const ssh_cipher_info *ssh_cipher_by_name(const char *name);
/* Comma-separated names of all supported ciphers, in default preference. */
const char *ssh_cipher_all(void);

/* Create a cipher context; key/iv lengths as in `info`.  `encrypt` selects
 * the direction.  The context keeps its own copy of the key (cleansed on
 * free). */
int ssh_cipher_new(const ssh_cipher_info *info, int encrypt, const uint8_t *key, const uint8_t *iv,
                   ssh_cipher **out);
void ssh_cipher_free(ssh_cipher *c);
const ssh_cipher_info *ssh_cipher_get_info(const ssh_cipher *c);

/* ---- AEAD ciphers (SSH_CIPHER_AEAD) ----------------------------------- */

/* Encrypt pkt[0..len) in place (for GCM the first 4 bytes stay clear and
 * are authenticated as AAD; for chacha they are encrypted with K_1) and write
 * tag_len bytes of tag to `tag`.  `seq` is the packet sequence number. */
int ssh_cipher_aead_seal(ssh_cipher *c, uint32_t seq, uint8_t *pkt, size_t len, uint8_t *tag);

/* Read the packet length from the first 4 bytes of a received packet
 * without modifying them (chacha decrypts them into a temporary).  The
 * value is unauthenticated until ssh_cipher_aead_open() succeeds. */
int ssh_cipher_aead_length(ssh_cipher *c, uint32_t seq, const uint8_t *pkt4, uint32_t *plen);

/* Check the tag over pkt[0..len) (constant time, CRYPTO_memcmp) and, only
 * if it is right, decrypt pkt[4..len) in place.  pkt[0..4) is left as it
 * was received.  SSH_ERR_MAC_INVALID on a bad tag. */
int ssh_cipher_aead_open(ssh_cipher *c, uint32_t seq, uint8_t *pkt, size_t len,
                         const uint8_t *tag);

/* ---- stream ciphers (AES-CTR) ----------------------------------------- */

/* Encrypt or decrypt `len` bytes in place, continuing the key stream.  len
 * is a multiple of block_size except that the caller may split a packet at
 * block boundaries (first block to learn the length, then the rest). */
int ssh_cipher_crypt(ssh_cipher *c, uint8_t *buf, size_t len);

/* ---- test hooks --------------------------------------------------------- */

/* Known-answer hook for the AES-GCM core of aes128-gcm@openssh.com and
 * aes256-gcm@openssh.com: creates a context for `info` with key and 12-byte
 * iv, then runs the code path of ssh_cipher_aead_seal (encrypt != 0: buf is
 * encrypted in place and the tag written to tag[16]) or ssh_cipher_aead_open
 * (encrypt == 0: tag[16] checked, buf decrypted only if it is right) with an
 * arbitrary AAD instead of the 4-byte packet length.  Allocates; for unit
 * tests only.  SSH_ERR_ARGUMENT if `info` is not a GCM cipher. */
int ssh_cipher_test_gcm(const ssh_cipher_info *info, int encrypt, const uint8_t *key,
                        const uint8_t *iv, const uint8_t *aad, size_t aad_len, uint8_t *buf,
                        size_t len, uint8_t *tag);

#endif
