/*
 * mac.c - HMAC-SHA2 packet MACs of the SSH transport on EVP_MAC("HMAC").
 *
 * RFC 4253 section 6.4: mac = MAC(key, sequence_number || unencrypted_packet)
 * with sequence_number an implicit uint32.  RFC 6668 defines hmac-sha2-256
 * and hmac-sha2-512 (key and output length = digest length); OpenSSH
 * PROTOCOL section 1.5 defines the -etm@openssh.com variants, which MAC the
 * clear length and the ciphertext instead.  Which bytes go in is the packet
 * layer's business; here the two only differ in the `etm` flag.
 *
 * Keying.  The context is keyed once in ssh_mac_new.  For every packet,
 * EVP_MAC_init(ctx, NULL, 0, NULL) restarts HMAC with the key already
 * installed, skipping the key schedule (two extra compression function calls
 * and the key hashing).  OpenSSL 3.0.0 to 3.0.2 accepted that call but did
 * not reset the HMAC state (openssl/openssl#17811, fixed by #18100 in 3.0.3),
 * silently producing wrong MACs; on those versions we pass the saved key
 * each time instead, which is why the context keeps a (cleansed) copy.
 *
 * Allocation.  Nothing here allocates per packet.  libcrypto 3.0 itself
 * still does: its HMAC reinit copies the pre-keyed inner/outer digest
 * states with EVP_MD_CTX_copy_ex, which duplicates the provider context
 * (one malloc/free pair each), and EVP 3.0 offers no digest or MAC call that
 * restarts a digest without that (even EVP_DigestInit_ex2 on a used context
 * re-creates it).  That is a small fixed-size allocation inside libcrypto;
 * later OpenSSL versions reuse the context.
 */
#include "mac.h"
#include "sshtun/buf.h"
#include "sshtun/err.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#define MAX_MAC_KEY_LEN 64
/* First release whose EVP_MAC_init(ctx, NULL, 0, NULL) re-initialises HMAC. */
#define OPENSSL_HMAC_REINIT_OK 0x30000030UL

/* Default preference: encrypt-then-MAC first (it authenticates what is
 * on the wire, so no decryption of unauthenticated data), SHA-256 before
 * SHA-512 as OpenSSH orders them. */
static const ssh_mac_info macs[] = {
    {"hmac-sha2-256-etm@openssh.com", "SHA256", 32, 32, 1},
    {"hmac-sha2-512-etm@openssh.com", "SHA512", 64, 64, 1},
    {"hmac-sha2-256", "SHA256", 32, 32, 0},
    {"hmac-sha2-512", "SHA512", 64, 64, 0},
};
#define N_MACS (sizeof(macs) / sizeof(macs[0]))

static const char all_names[] = "hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,"
                                "hmac-sha2-256,hmac-sha2-512";

struct ssh_mac {
    const ssh_mac_info *info;
    EVP_MAC_CTX *ctx;
    int rekey; /* pass the key on every init (OpenSSL < 3.0.3) */
    uint8_t key[MAX_MAC_KEY_LEN];
};

const ssh_mac_info *ssh_mac_by_name(const char *name)
{
    if (name == NULL)
        return NULL;
    for (size_t i = 0; i < N_MACS; i++)
        if (strcmp(macs[i].name, name) == 0)
            return &macs[i];
    return NULL;
}

const char *ssh_mac_all(void)
{
    return all_names;
}

int ssh_mac_new(const ssh_mac_info *info, const uint8_t *key, ssh_mac **out)
{
    int rv = SSH_ERR_LIBCRYPTO;
    if (out == NULL)
        return SSH_ERR_ARGUMENT;
    *out = NULL;
    if (info == NULL || info->name == NULL || key == NULL)
        return SSH_ERR_ARGUMENT;
    /* Only our own table entries (or copies of them) are trusted for sizes. */
    info = ssh_mac_by_name(info->name);
    if (info == NULL)
        return SSH_ERR_ARGUMENT;

    ssh_mac *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return SSH_ERR_ALLOC;
    m->info = info;
    m->rekey = OpenSSL_version_num() < OPENSSL_HMAC_REINIT_OK;
    memcpy(m->key, key, info->key_len);

    EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (hmac == NULL)
        goto fail;
    m->ctx = EVP_MAC_CTX_new(hmac);
    EVP_MAC_free(hmac); /* the context holds its own reference */
    if (m->ctx == NULL) {
        rv = SSH_ERR_ALLOC;
        goto fail;
    }
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)info->digest, 0),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_MAC_init(m->ctx, m->key, info->key_len, params) != 1)
        goto fail;
    if (EVP_MAC_CTX_get_mac_size(m->ctx) != info->out_len) {
        rv = SSH_ERR_INTERNAL;
        goto fail;
    }
    *out = m;
    return 0;
fail:
    ssh_mac_free(m);
    return rv;
}

void ssh_mac_free(ssh_mac *m)
{
    if (m == NULL)
        return;
    EVP_MAC_CTX_free(m->ctx);
    OPENSSL_cleanse(m, sizeof(*m));
    free(m);
}

const ssh_mac_info *ssh_mac_get_info(const ssh_mac *m)
{
    return m ? m->info : NULL;
}

int ssh_mac_compute(ssh_mac *m, uint32_t seq, const uint8_t *data, size_t len, uint8_t *out)
{
    uint8_t seqbuf[4];
    size_t outl = 0;
    int ok;

    if (m == NULL || out == NULL || (data == NULL && len > 0))
        return SSH_ERR_ARGUMENT;
    if (m->rekey)
        ok = EVP_MAC_init(m->ctx, m->key, m->info->key_len, NULL);
    else
        ok = EVP_MAC_init(m->ctx, NULL, 0, NULL);
    if (ok != 1)
        return SSH_ERR_LIBCRYPTO;
    ssh_poke_u32(seqbuf, seq);
    if (EVP_MAC_update(m->ctx, seqbuf, sizeof(seqbuf)) != 1)
        return SSH_ERR_LIBCRYPTO;
    if (len > 0 && EVP_MAC_update(m->ctx, data, len) != 1)
        return SSH_ERR_LIBCRYPTO;
    if (EVP_MAC_final(m->ctx, out, &outl, m->info->out_len) != 1 || outl != m->info->out_len)
        return SSH_ERR_LIBCRYPTO;
    return 0;
}

int ssh_mac_verify(ssh_mac *m, uint32_t seq, const uint8_t *data, size_t len, const uint8_t *mac)
{
    uint8_t expect[EVP_MAX_MD_SIZE];
    if (m == NULL || mac == NULL)
        return SSH_ERR_ARGUMENT;
    int rv = ssh_mac_compute(m, seq, data, len, expect);
    if (rv == 0 && CRYPTO_memcmp(expect, mac, m->info->out_len) != 0)
        rv = SSH_ERR_MAC_INVALID;
    OPENSSL_cleanse(expect, sizeof(expect));
    return rv;
}
