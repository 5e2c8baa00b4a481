/*
 * cipher_chachapoly.h - chacha20-poly1305@openssh.com (internal to libsshtun).
 *
 * Used by cipher.c only; the SSH-facing interface is cipher.h.  The state is
 * a plain struct so that cipher.c can embed it in its ssh_cipher without a
 * second allocation.
 *
 * The two ssh_chachapoly_test_* hooks run a single primitive exactly the way
 * the packet construction runs it (same IV layout, same EVP objects), so the
 * unit tests can check them against the published RFC 8439 vectors.  They
 * allocate and are not meant for the data path.
 */
#ifndef SSHTUN_PROTO_CIPHER_CHACHAPOLY_H
#define SSHTUN_PROTO_CIPHER_CHACHAPOLY_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#define SSH_CHACHAPOLY_KEY_LEN 64 /* K_2 || K_1 from the KDF */
#define SSH_CHACHAPOLY_TAG_LEN 16

typedef struct ssh_chachapoly {
    EVP_CIPHER_CTX *main_ctx; /* keyed with K_2: Poly1305 key and payload */
    EVP_CIPHER_CTX *hdr_ctx;  /* keyed with K_1: the 4-byte length */
    EVP_MAC_CTX *poly;        /* Poly1305, re-keyed for every packet */
} ssh_chachapoly;

/* Key both ChaCha20 instances from key[64] (K_2 = key[0..32), K_1 =
 * key[32..64)) and create the Poly1305 context.  On failure everything is
 * released again.  Returns 0, SSH_ERR_ALLOC or SSH_ERR_LIBCRYPTO. */
int ssh_chachapoly_init(ssh_chachapoly *cp, const uint8_t *key);
/* Free the EVP objects (they cleanse their own key schedules).  Safe on a
 * zeroed or already cleaned-up struct. */
void ssh_chachapoly_cleanup(ssh_chachapoly *cp);

/* See ssh_cipher_aead_seal/_length/_open in cipher.h; `len` >= 4. */
int ssh_chachapoly_seal(ssh_chachapoly *cp, uint32_t seq, uint8_t *pkt, size_t len, uint8_t *tag);
int ssh_chachapoly_length(ssh_chachapoly *cp, uint32_t seq, const uint8_t *pkt4, uint32_t *plen);
int ssh_chachapoly_open(ssh_chachapoly *cp, uint32_t seq, uint8_t *pkt, size_t len,
                        const uint8_t *tag);

/* Test hook: XOR buf[0..len) with the ChaCha20 key stream of key[32] that
 * starts at block `counter` with the 64-bit `nonce`, using the IV layout of
 * the construction.  RFC 8439's 96-bit nonces whose first 4 bytes are zero
 * map onto it as nonce = the remaining 8 bytes read big-endian. */
int ssh_chachapoly_test_xor(const uint8_t *key, uint32_t counter, uint64_t nonce, uint8_t *buf,
                            size_t len);
/* Test hook: one-shot Poly1305 of msg under key[32] into tag[16], through
 * the same EVP_MAC calls the construction makes. */
int ssh_chachapoly_test_poly1305(const uint8_t *key, const uint8_t *msg, size_t len, uint8_t *tag);

#endif
