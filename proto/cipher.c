/*
 * cipher.c - the packet ciphers of the SSH transport on libcrypto EVP.
 *
 * Three families (see cipher.h for the interface):
 *
 *  - chacha20-poly1305@openssh.com lives in cipher_chachapoly.c; this file
 *    only dispatches to it.
 *  - aes128-gcm@openssh.com / aes256-gcm@openssh.com: RFC 5647 section 7
 *    with the changes OpenSSH made (PROTOCOL section 1.6): the algorithm is
 *    negotiated as a cipher only, the MAC is ignored, and the 4-byte packet
 *    length stays in clear and is the additional authenticated data.  The
 *    12-byte nonce comes from the KDF as a 4-byte fixed field followed by
 *    a 64-bit big-endian invocation counter, which is incremented after each
 *    packet (RFC 5647 section 7.1).  We keep that nonce ourselves and hand it
 *    to EVP_CipherInit_ex2 for each packet: the same thing OpenSSH achieves
 *    with EVP_CTRL_GCM_IV_GEN, but it leaves the state in one visible place
 *    and lets a failed open leave the counter where it was.
 *  - aes128-ctr / aes192-ctr / aes256-ctr (RFC 4344 section 4): one key
 *    stream for the whole connection direction; the 16-byte IV from the KDF
 *    is the initial counter block.
 *
 * Contexts are created and keyed in ssh_cipher_new only.  Per packet we
 * change nothing but the IV (EVP_CipherInit_ex2 with NULL cipher and key
 * keeps the key schedule), which allocates nothing inside libcrypto either.
 */
#include "cipher.h"
#include "cipher_chachapoly.h"
#include "sshtun/err.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#define GCM_IV_LEN  12
#define GCM_TAG_LEN 16
#define MAX_KEY_LEN 64
#define MAX_IV_LEN  16
/* EVP_CipherUpdate counts in int: feed long buffers in slices. */
#define MAX_SLICE (1 << 30)

/* Default preference: ChaCha20-Poly1305 first (fast everywhere and
 * constant-time without AES-NI), then the AEAD AES modes, then CTR, which
 * needs a separate MAC. */
static const ssh_cipher_info ciphers[] = {
    {"chacha20-poly1305@openssh.com", 64, 0, 8, 16, SSH_CIPHER_AEAD | SSH_CIPHER_CHACHAPOLY},
    {"aes128-gcm@openssh.com", 16, GCM_IV_LEN, 16, GCM_TAG_LEN, SSH_CIPHER_AEAD},
    {"aes256-gcm@openssh.com", 32, GCM_IV_LEN, 16, GCM_TAG_LEN, SSH_CIPHER_AEAD},
    {"aes128-ctr", 16, 16, 16, 0, 0},
    {"aes192-ctr", 24, 16, 16, 0, 0},
    {"aes256-ctr", 32, 16, 16, 0, 0},
};
/* libcrypto algorithm names, index for index with ciphers[]. */
static const char *const evp_names[] = {
    "ChaCha20", "AES-128-GCM", "AES-256-GCM", "AES-128-CTR", "AES-192-CTR", "AES-256-CTR",
};
#define N_CIPHERS (sizeof(ciphers) / sizeof(ciphers[0]))

static const char all_names[] = "chacha20-poly1305@openssh.com,aes128-gcm@openssh.com,"
                                "aes256-gcm@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr";

struct ssh_cipher {
    const ssh_cipher_info *info;
    int encrypt;
    EVP_CIPHER_CTX *ctx; /* AES-GCM and AES-CTR */
    ssh_chachapoly cp;   /* chacha20-poly1305@openssh.com */
    uint8_t key[MAX_KEY_LEN];
    uint8_t iv[MAX_IV_LEN]; /* GCM: the nonce of the next packet */
};

static int is_chachapoly(const ssh_cipher *c)
{
    return (c->info->flags & SSH_CIPHER_CHACHAPOLY) != 0;
}

static int is_gcm(const ssh_cipher_info *info)
{
    return (info->flags & (SSH_CIPHER_AEAD | SSH_CIPHER_CHACHAPOLY)) == SSH_CIPHER_AEAD;
}

const ssh_cipher_info *ssh_cipher_by_name(const char *name)
{
    if (name == NULL)
        return NULL;
    for (size_t i = 0; i < N_CIPHERS; i++)
        if (strcmp(ciphers[i].name, name) == 0)
            return &ciphers[i];
    return NULL;
}

const char *ssh_cipher_all(void)
{
    return all_names;
}

/* Index of `info` in the table; a caller's copy of an entry is accepted by
 * name.  -1 if we do not know it. */
static int table_index(const ssh_cipher_info *info)
{
    for (size_t i = 0; i < N_CIPHERS; i++)
        if (info == &ciphers[i])
            return (int)i;
    const ssh_cipher_info *known = ssh_cipher_by_name(info->name);
    return known ? (int)(known - ciphers) : -1;
}

/* Run ctx over buf in place, in int-sized slices. */
static int update_inplace(EVP_CIPHER_CTX *ctx, uint8_t *buf, size_t len)
{
    while (len > 0) {
        int n = len > MAX_SLICE ? MAX_SLICE : (int)len;
        int outl = 0;
        if (EVP_CipherUpdate(ctx, buf, &outl, buf, n) != 1 || outl != n)
            return SSH_ERR_LIBCRYPTO;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

static int evp_setup(ssh_cipher *c, const char *evp_name)
{
    EVP_CIPHER *cipher = EVP_CIPHER_fetch(NULL, evp_name, NULL);
    int rv = SSH_ERR_LIBCRYPTO;
    if (cipher == NULL)
        return SSH_ERR_LIBCRYPTO;
    if ((c->ctx = EVP_CIPHER_CTX_new()) == NULL) {
        rv = SSH_ERR_ALLOC;
        goto out;
    }
    /* GCM gets its nonce per packet; CTR starts its stream here. */
    const uint8_t *iv = is_gcm(c->info) ? NULL : c->iv;
    if (EVP_CipherInit_ex2(c->ctx, cipher, c->key, iv, c->encrypt, NULL) != 1)
        goto out;
    if ((unsigned)EVP_CIPHER_CTX_get_key_length(c->ctx) != c->info->key_len ||
        (unsigned)EVP_CIPHER_CTX_get_iv_length(c->ctx) != c->info->iv_len) {
        rv = SSH_ERR_INTERNAL;
        goto out;
    }
    rv = 0;
out:
    EVP_CIPHER_free(cipher); /* the context keeps its own reference */
    return rv;
}

int ssh_cipher_new(const ssh_cipher_info *info, int encrypt, const uint8_t *key, const uint8_t *iv,
                   ssh_cipher **out)
{
    int rv;
    if (out == NULL)
        return SSH_ERR_ARGUMENT;
    *out = NULL;
    if (info == NULL || info->name == NULL || key == NULL)
        return SSH_ERR_ARGUMENT;
    int idx = table_index(info);
    if (idx < 0)
        return SSH_ERR_ARGUMENT;
    info = &ciphers[idx];
    if (info->iv_len > 0 && iv == NULL)
        return SSH_ERR_ARGUMENT;

    ssh_cipher *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return SSH_ERR_ALLOC;
    c->info = info;
    c->encrypt = encrypt != 0;
    memcpy(c->key, key, info->key_len);
    if (info->iv_len > 0)
        memcpy(c->iv, iv, info->iv_len);
    if (is_chachapoly(c))
        rv = ssh_chachapoly_init(&c->cp, c->key);
    else
        rv = evp_setup(c, evp_names[idx]);
    if (rv != 0) {
        ssh_cipher_free(c);
        return rv;
    }
    *out = c;
    return 0;
}

void ssh_cipher_free(ssh_cipher *c)
{
    if (c == NULL)
        return;
    ssh_chachapoly_cleanup(&c->cp);
    EVP_CIPHER_CTX_free(c->ctx);
    OPENSSL_cleanse(c, sizeof(*c));
    free(c);
}

const ssh_cipher_info *ssh_cipher_get_info(const ssh_cipher *c)
{
    return c ? c->info : NULL;
}

/* ---- AES-GCM ------------------------------------------------------------ */

/* RFC 5647 section 7.1: the invocation counter is the low 64 bits of the
 * nonce, big-endian, incremented modulo 2^64; the fixed field never moves. */
static void gcm_next_nonce(uint8_t *iv)
{
    for (int i = GCM_IV_LEN - 1; i >= 4; i--)
        if (++iv[i] != 0)
            break;
}

static int gcm_seal(ssh_cipher *c, const uint8_t *aad, size_t aad_len, uint8_t *buf, size_t len,
                    uint8_t *tag)
{
    uint8_t fin[16];
    int outl = 0;

    if (aad_len > MAX_SLICE)
        return SSH_ERR_ARGUMENT;
    if (EVP_CipherInit_ex2(c->ctx, NULL, NULL, c->iv, -1, NULL) != 1)
        return SSH_ERR_LIBCRYPTO;
    if (aad_len > 0 && EVP_CipherUpdate(c->ctx, NULL, &outl, aad, (int)aad_len) != 1)
        return SSH_ERR_LIBCRYPTO;
    int rv = update_inplace(c->ctx, buf, len);
    if (rv != 0)
        return rv;
    if (EVP_CipherFinal_ex(c->ctx, fin, &outl) != 1 ||
        EVP_CIPHER_CTX_ctrl(c->ctx, EVP_CTRL_AEAD_GET_TAG, GCM_TAG_LEN, tag) != 1)
        return SSH_ERR_LIBCRYPTO;
    return 0;
}

/* EVP's GCM decrypts while it hashes and only compares the tag in
 * EVP_CipherFinal_ex (with CRYPTO_memcmp, in crypto/modes/gcm128.c); there
 * is no way to get GHASH over the ciphertext without also decrypting it.  So
 * we decrypt in place and, if the tag is wrong, run the same counter-mode key
 * stream over the buffer again, which restores the ciphertext: the caller
 * never sees plaintext of a forged packet, as cipher.h promises. */
static int gcm_open(ssh_cipher *c, const uint8_t *aad, size_t aad_len, uint8_t *buf, size_t len,
                    const uint8_t *tag)
{
    uint8_t t[GCM_TAG_LEN], fin[16];
    int outl = 0, rv;

    if (aad_len > MAX_SLICE)
        return SSH_ERR_ARGUMENT;
    memcpy(t, tag, sizeof(t)); /* EVP wants a non-const pointer */
    if (EVP_CipherInit_ex2(c->ctx, NULL, NULL, c->iv, -1, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(c->ctx, EVP_CTRL_AEAD_SET_TAG, GCM_TAG_LEN, t) != 1)
        return SSH_ERR_LIBCRYPTO;
    if (aad_len > 0 && EVP_CipherUpdate(c->ctx, NULL, &outl, aad, (int)aad_len) != 1)
        return SSH_ERR_LIBCRYPTO;
    if ((rv = update_inplace(c->ctx, buf, len)) != 0) {
        /* Decrypted up to an unknown point: leave no plaintext behind. */
        OPENSSL_cleanse(buf, len);
        return rv;
    }
    if (EVP_CipherFinal_ex(c->ctx, fin, &outl) == 1)
        return 0;
    /* XOR the same key stream (same nonce, counter from J0+1) back in. */
    if (EVP_CipherInit_ex2(c->ctx, NULL, NULL, c->iv, -1, NULL) != 1 ||
        update_inplace(c->ctx, buf, len) != 0)
        OPENSSL_cleanse(buf, len);
    return SSH_ERR_MAC_INVALID;
}

int ssh_cipher_test_gcm(const ssh_cipher_info *info, int encrypt, const uint8_t *key,
                        const uint8_t *iv, const uint8_t *aad, size_t aad_len, uint8_t *buf,
                        size_t len, uint8_t *tag)
{
    ssh_cipher *c;
    if (info == NULL || !is_gcm(info) || tag == NULL || (buf == NULL && len > 0) ||
        (aad == NULL && aad_len > 0))
        return SSH_ERR_ARGUMENT;
    int rv = ssh_cipher_new(info, encrypt, key, iv, &c);
    if (rv != 0)
        return rv;
    rv = encrypt ? gcm_seal(c, aad, aad_len, buf, len, tag)
                 : gcm_open(c, aad, aad_len, buf, len, tag);
    ssh_cipher_free(c);
    return rv;
}

/* ---- AEAD interface ----------------------------------------------------- */

int ssh_cipher_aead_seal(ssh_cipher *c, uint32_t seq, uint8_t *pkt, size_t len, uint8_t *tag)
{
    if (c == NULL || pkt == NULL || tag == NULL || len < 4)
        return SSH_ERR_ARGUMENT;
    if (!(c->info->flags & SSH_CIPHER_AEAD) || !c->encrypt)
        return SSH_ERR_ARGUMENT;
    if (is_chachapoly(c))
        return ssh_chachapoly_seal(&c->cp, seq, pkt, len, tag);
    /* GCM: the sequence number is implicit in the invocation counter. */
    int rv = gcm_seal(c, pkt, 4, pkt + 4, len - 4, tag);
    if (rv == 0)
        gcm_next_nonce(c->iv);
    return rv;
}

int ssh_cipher_aead_length(ssh_cipher *c, uint32_t seq, const uint8_t *pkt4, uint32_t *plen)
{
    if (c == NULL || pkt4 == NULL || plen == NULL || !(c->info->flags & SSH_CIPHER_AEAD))
        return SSH_ERR_ARGUMENT;
    if (is_chachapoly(c))
        return ssh_chachapoly_length(&c->cp, seq, pkt4, plen);
    *plen =
        ((uint32_t)pkt4[0] << 24) | ((uint32_t)pkt4[1] << 16) | ((uint32_t)pkt4[2] << 8) | pkt4[3];
    return 0;
}

int ssh_cipher_aead_open(ssh_cipher *c, uint32_t seq, uint8_t *pkt, size_t len, const uint8_t *tag)
{
    if (c == NULL || pkt == NULL || tag == NULL || len < 4)
        return SSH_ERR_ARGUMENT;
    if (!(c->info->flags & SSH_CIPHER_AEAD) || c->encrypt)
        return SSH_ERR_ARGUMENT;
    if (is_chachapoly(c))
        return ssh_chachapoly_open(&c->cp, seq, pkt, len, tag);
    /* Only a packet that authenticated consumes a nonce; after a failure the
     * connection is torn down anyway, but the state stays consistent. */
    int rv = gcm_open(c, pkt, 4, pkt + 4, len - 4, tag);
    if (rv == 0)
        gcm_next_nonce(c->iv);
    return rv;
}

/* ---- AES-CTR ------------------------------------------------------------ */

int ssh_cipher_crypt(ssh_cipher *c, uint8_t *buf, size_t len)
{
    if (c == NULL || (buf == NULL && len > 0) || (c->info->flags & SSH_CIPHER_AEAD))
        return SSH_ERR_ARGUMENT;
    /* The stream itself would cope with any length, but a length off the
     * block grid means the packet layer lost track of the packet boundary. */
    if (len % c->info->block_size != 0)
        return SSH_ERR_ARGUMENT;
    return update_inplace(c->ctx, buf, len);
}
