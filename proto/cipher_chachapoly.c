/*
 * cipher_chachapoly.c - chacha20-poly1305@openssh.com on libcrypto EVP.
 *
 * The construction is OpenSSH's (PROTOCOL.chacha20poly1305), not the AEAD of
 * RFC 8439 section 2.8: two ChaCha20 instances, no AAD, no length block in
 * the Poly1305 input.  The 64 bytes of key material split into
 *   K_2 = key[0..32)  - main key: Poly1305 key and packet body,
 *   K_1 = key[32..64) - header key: the 4-byte packet length only,
 * so a receiver can decrypt the length of the next packet without touching
 * the body, while the length is still covered by the tag.
 *
 * Per packet, with the 64-bit nonce = sequence number:
 *   enc_len  = ChaCha20(K_1, nonce, counter 0) XOR length
 *   poly_key = first 32 bytes of ChaCha20(K_2, nonce, counter 0)
 *   enc_body = ChaCha20(K_2, nonce, counter 1...) XOR body
 *   tag      = Poly1305(poly_key, enc_len || enc_body)
 *
 * IV layout.  OpenSSH uses the original ChaCha (Bernstein 2008): state words
 * 12-13 are a 64-bit little-endian block counter and words 14-15 the 64-bit
 * nonce, loaded little-endian from the 8 nonce bytes, which OpenSSH fills
 * with the big-endian sequence number.  OpenSSL's EVP_chacha20 takes a
 * 16-byte IV that becomes state words 12-15 verbatim (little-endian loads):
 * bytes 0-3 are the 32-bit block counter and bytes 4-15 the RFC 8439 96-bit
 * nonce.  Hence the IV is
 *     counter (LE32) || 00 00 00 00 || seqnr (BE64)
 * where the four zero bytes are the high half of the original 64-bit counter
 * (RFC 8439 section 2.3 notes the two layouts differ only in this split).
 * A packet is at most a few thousand blocks long, so the 32-bit counter
 * never carries into the zero word.
 *
 * No allocation per packet: the two cipher contexts are keyed once and only
 * get a new IV (EVP_CipherInit_ex2 with a NULL cipher and key keeps the key
 * schedule); the Poly1305 context is re-keyed in place by EVP_MAC_init.
 */
#include "cipher_chachapoly.h"
#include "sshtun/buf.h"
#include "sshtun/err.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#define POLY_KEY_LEN 32
/* EVP_CipherUpdate counts in int: feed long buffers in slices. */
#define MAX_SLICE (1 << 30)

static const uint8_t zeros[64];

static void make_iv(uint8_t iv[16], uint32_t counter, uint64_t nonce)
{
    iv[0] = (uint8_t)counter;
    iv[1] = (uint8_t)(counter >> 8);
    iv[2] = (uint8_t)(counter >> 16);
    iv[3] = (uint8_t)(counter >> 24);
    memset(iv + 4, 0, 4);
    for (int i = 0; i < 8; i++)
        iv[8 + i] = (uint8_t)(nonce >> (56 - 8 * i));
}

/* out = in XOR key stream starting at block `counter`; in == out allowed. */
static int xor_stream(EVP_CIPHER_CTX *ctx, uint32_t counter, uint64_t nonce, const uint8_t *in,
                      uint8_t *out, size_t len)
{
    uint8_t iv[16];
    make_iv(iv, counter, nonce);
    if (EVP_CipherInit_ex2(ctx, NULL, NULL, iv, -1, NULL) != 1)
        return SSH_ERR_LIBCRYPTO;
    while (len > 0) {
        int n = len > MAX_SLICE ? MAX_SLICE : (int)len;
        int outl = 0;
        if (EVP_CipherUpdate(ctx, out, &outl, in, n) != 1 || outl != n)
            return SSH_ERR_LIBCRYPTO;
        in += n;
        out += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Key the main stream for packet `nonce` at block 0 and take the Poly1305
 * key from it: that block's first 32 bytes.  The stream is left at the
 * start of block 1, where the body begins, so the body needs no second IV
 * set-up. */
static int main_stream_start(ssh_chachapoly *cp, uint64_t nonce, uint8_t poly_key[POLY_KEY_LEN])
{
    uint8_t block[64];
    int rv = xor_stream(cp->main_ctx, 0, nonce, zeros, block, sizeof(block));
    memcpy(poly_key, block, POLY_KEY_LEN);
    OPENSSL_cleanse(block, sizeof(block));
    return rv;
}

/* The body: the main stream from where main_stream_start() left it. */
static int main_stream_body(ssh_chachapoly *cp, uint8_t *buf, size_t len)
{
    while (len > 0) {
        int n = len > MAX_SLICE ? MAX_SLICE : (int)len;
        int outl = 0;
        if (EVP_CipherUpdate(cp->main_ctx, buf, &outl, buf, n) != 1 || outl != n)
            return SSH_ERR_LIBCRYPTO;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static int poly1305(EVP_MAC_CTX *poly, const uint8_t *key, const uint8_t *msg, size_t len,
                    uint8_t *tag)
{
    size_t outl = 0;
    if (EVP_MAC_init(poly, key, POLY_KEY_LEN, NULL) != 1)
        return SSH_ERR_LIBCRYPTO;
    if (len > 0 && EVP_MAC_update(poly, msg, len) != 1)
        return SSH_ERR_LIBCRYPTO;
    if (EVP_MAC_final(poly, tag, &outl, SSH_CHACHAPOLY_TAG_LEN) != 1 ||
        outl != SSH_CHACHAPOLY_TAG_LEN)
        return SSH_ERR_LIBCRYPTO;
    return 0;
}

void ssh_chachapoly_cleanup(ssh_chachapoly *cp)
{
    EVP_CIPHER_CTX_free(cp->main_ctx);
    EVP_CIPHER_CTX_free(cp->hdr_ctx);
    EVP_MAC_CTX_free(cp->poly);
    cp->main_ctx = cp->hdr_ctx = NULL;
    cp->poly = NULL;
}

int ssh_chachapoly_init(ssh_chachapoly *cp, const uint8_t *key)
{
    uint8_t iv[16];
    int rv;

    memset(cp, 0, sizeof(*cp));
    make_iv(iv, 0, 0);
    EVP_CIPHER *chacha = EVP_CIPHER_fetch(NULL, "ChaCha20", NULL);
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "POLY1305", NULL);
    if (chacha == NULL || mac == NULL) {
        rv = SSH_ERR_LIBCRYPTO;
        goto out;
    }
    cp->main_ctx = EVP_CIPHER_CTX_new();
    cp->hdr_ctx = EVP_CIPHER_CTX_new();
    cp->poly = EVP_MAC_CTX_new(mac);
    if (cp->main_ctx == NULL || cp->hdr_ctx == NULL || cp->poly == NULL) {
        rv = SSH_ERR_ALLOC;
        goto out;
    }
    /* ChaCha20 is a pure key stream: the direction flag is irrelevant. */
    if (EVP_CipherInit_ex2(cp->main_ctx, chacha, key, iv, 1, NULL) != 1 ||
        EVP_CipherInit_ex2(cp->hdr_ctx, chacha, key + 32, iv, 1, NULL) != 1) {
        rv = SSH_ERR_LIBCRYPTO;
        goto out;
    }
    rv = 0;
out:
    EVP_CIPHER_free(chacha);
    EVP_MAC_free(mac);
    if (rv != 0)
        ssh_chachapoly_cleanup(cp);
    return rv;
}

int ssh_chachapoly_seal(ssh_chachapoly *cp, uint32_t seq, uint8_t *pkt, size_t len, uint8_t *tag)
{
    uint8_t poly_key[POLY_KEY_LEN];
    int rv;

    if (len < 4)
        return SSH_ERR_ARGUMENT;
    if ((rv = xor_stream(cp->hdr_ctx, 0, seq, pkt, pkt, 4)) != 0)
        return rv;
    if ((rv = main_stream_start(cp, seq, poly_key)) != 0)
        goto out;
    if ((rv = main_stream_body(cp, pkt + 4, len - 4)) != 0)
        goto out;
    rv = poly1305(cp->poly, poly_key, pkt, len, tag);
out:
    OPENSSL_cleanse(poly_key, sizeof(poly_key));
    return rv;
}

int ssh_chachapoly_length(ssh_chachapoly *cp, uint32_t seq, const uint8_t *pkt4, uint32_t *plen)
{
    uint8_t clear[4];
    int rv = xor_stream(cp->hdr_ctx, 0, seq, pkt4, clear, sizeof(clear));
    if (rv != 0)
        return rv;
    *plen = ssh_peek_u32(clear);
    return 0;
}

int ssh_chachapoly_open(ssh_chachapoly *cp, uint32_t seq, uint8_t *pkt, size_t len,
                        const uint8_t *tag)
{
    uint8_t poly_key[POLY_KEY_LEN];
    uint8_t expect[SSH_CHACHAPOLY_TAG_LEN];
    int rv;

    if (len < 4)
        return SSH_ERR_ARGUMENT;
    /* PROTOCOL.chacha20poly1305 has the receiver check the tag over the
     * whole ciphertext before decrypting the body, so a forged packet never
     * yields plaintext. */
    if ((rv = main_stream_start(cp, seq, poly_key)) != 0)
        goto out;
    if ((rv = poly1305(cp->poly, poly_key, pkt, len, expect)) != 0)
        goto out;
    if (CRYPTO_memcmp(expect, tag, sizeof(expect)) != 0) {
        rv = SSH_ERR_MAC_INVALID;
        goto out;
    }
    rv = main_stream_body(cp, pkt + 4, len - 4);
out:
    OPENSSL_cleanse(poly_key, sizeof(poly_key));
    OPENSSL_cleanse(expect, sizeof(expect));
    return rv;
}

/* ---- test hooks --------------------------------------------------------- */

/* Both hooks build a full ssh_chachapoly (K_2 = K_1 = key) so that the very
 * contexts and helpers of the packet path are the ones under test. */
static int test_state(ssh_chachapoly *cp, const uint8_t *key)
{
    uint8_t k[SSH_CHACHAPOLY_KEY_LEN];
    memcpy(k, key, 32);
    memcpy(k + 32, key, 32);
    int rv = ssh_chachapoly_init(cp, k);
    OPENSSL_cleanse(k, sizeof(k));
    return rv;
}

int ssh_chachapoly_test_xor(const uint8_t *key, uint32_t counter, uint64_t nonce, uint8_t *buf,
                            size_t len)
{
    ssh_chachapoly cp;
    int rv = test_state(&cp, key);
    if (rv != 0)
        return rv;
    rv = xor_stream(cp.main_ctx, counter, nonce, buf, buf, len);
    ssh_chachapoly_cleanup(&cp);
    return rv;
}

int ssh_chachapoly_test_poly1305(const uint8_t *key, const uint8_t *msg, size_t len, uint8_t *tag)
{
    ssh_chachapoly cp;
    int rv = test_state(&cp, key);
    if (rv != 0)
        return rv;
    rv = poly1305(cp.poly, key, msg, len, tag);
    ssh_chachapoly_cleanup(&cp);
    return rv;
}
