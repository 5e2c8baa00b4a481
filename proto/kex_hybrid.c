/*
 * kex_hybrid.c - post-quantum/traditional hybrid key exchange: a KEM
 * combined with X25519, in the ECDH message flow (messages 30/31).
 *
 *  - mlkem768x25519-sha256 (draft-ietf-sshm-mlkem-hybrid-kex): ML-KEM-768
 *    (FIPS 203, mlkem.c) and X25519, SHA-256;
 *  - sntrup761x25519-sha512 and its first name sntrup761x25519-sha512@
 *    openssh.com (draft-josefsson-ntruprime-ssh, OpenSSH's PROTOCOL):
 *    Streamlined NTRU Prime sntrup761 (sntrup761.c) and X25519, SHA-512.
 *
 * Both work alike:
 *
 *   client: C_INIT  = string(KEM public key || X25519 public key)
 *   server: S_REPLY = string(KEM ciphertext || X25519 public key)
 *   K = string(HASH(KEM shared secret || X25519 shared secret))
 *
 * K is encoded as a string, not an mpint, in the exchange hash and the key
 * derivation; Q_C and Q_S in the exchange hash are the two strings above.
 * A share of the wrong length, an ML-KEM public key with a coefficient
 * >= q (FIPS 203 section 7.2) and an all-zero X25519 result (RFC 7748
 * section 6.1) end the connection with a DISCONNECT that says which.  A
 * ciphertext that does not decapsulate is not an error at this layer: both
 * KEMs reject implicitly (a pseudo-random secret), so K differs and the
 * client's check of the server's signature over H fails.
 *
 * The KEM secret key, both shared secrets and their concatenation live in
 * buffers that are cleansed before they are freed.
 */
#include "kex.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "mlkem.h"
#include "sntrup761.h"

#define X25519_LEN 32

/* ---- the KEMs, with the connection's random callback as their source ------ */

typedef struct kem_ops {
    size_t pk_len, sk_len, ct_len;
    int (*keypair)(ssh_conn *c, uint8_t *pk, uint8_t *sk);
    int (*enc)(ssh_conn *c, uint8_t *ct, uint8_t *ss, const uint8_t *pk);
    int (*dec)(uint8_t *ss, const uint8_t *ct, const uint8_t *sk);
} kem_ops;

static int mlkem_keypair(ssh_conn *c, uint8_t *pk, uint8_t *sk)
{
    uint8_t dz[2 * SSH_MLKEM_SEED_BYTES];
    ssh_conn_random(c, dz, sizeof(dz));
    int rv = ssh_mlkem768_keygen(pk, sk, dz, dz + SSH_MLKEM_SEED_BYTES);
    OPENSSL_cleanse(dz, sizeof(dz));
    return rv;
}

static int mlkem_enc(ssh_conn *c, uint8_t *ct, uint8_t *ss, const uint8_t *pk)
{
    uint8_t m[SSH_MLKEM_SEED_BYTES];
    ssh_conn_random(c, m, sizeof(m));
    int rv = ssh_mlkem768_encaps(ct, ss, pk, m);
    OPENSSL_cleanse(m, sizeof(m));
    return rv;
}

static int mlkem_dec(uint8_t *ss, const uint8_t *ct, const uint8_t *sk)
{
    return ssh_mlkem768_decaps(ss, ct, sk);
}

/* sntrup761 draws its randomness as it goes (key generation retries until
 * g is invertible); it reads the connection's source in one batch. */
typedef struct rng_batch {
    ssh_conn *c;
    uint8_t buf[4 * 761];
    size_t pos, len;
} rng_batch;

static void batch_rand(void *ctx, uint8_t *out, size_t n)
{
    rng_batch *b = ctx;
    while (n > 0) {
        if (b->pos == b->len) {
            ssh_conn_random(b->c, b->buf, sizeof(b->buf));
            b->pos = 0;
            b->len = sizeof(b->buf);
        }
        size_t k = b->len - b->pos < n ? b->len - b->pos : n;
        memcpy(out, b->buf + b->pos, k);
        b->pos += k;
        out += k;
        n -= k;
    }
}

static int sntrup_keypair(ssh_conn *c, uint8_t *pk, uint8_t *sk)
{
    rng_batch b = {.c = c};
    int rv = ssh_sntrup761_keypair(pk, sk, batch_rand, &b);
    OPENSSL_cleanse(&b, sizeof(b));
    return rv;
}

static int sntrup_enc(ssh_conn *c, uint8_t *ct, uint8_t *ss, const uint8_t *pk)
{
    rng_batch b = {.c = c};
    int rv = ssh_sntrup761_enc(ct, ss, pk, batch_rand, &b);
    OPENSSL_cleanse(&b, sizeof(b));
    return rv;
}

static int sntrup_dec(uint8_t *ss, const uint8_t *ct, const uint8_t *sk)
{
    return ssh_sntrup761_dec(ss, ct, sk);
}

static const kem_ops kems[] = {
    [SSH_KEM_MLKEM768] = {SSH_MLKEM768_EK_BYTES, SSH_MLKEM768_DK_BYTES, SSH_MLKEM768_CT_BYTES,
                          mlkem_keypair, mlkem_enc, mlkem_dec},
    [SSH_KEM_SNTRUP761] = {SSH_SNTRUP761_PK_BYTES, SSH_SNTRUP761_SK_BYTES, SSH_SNTRUP761_CT_BYTES,
                           sntrup_keypair, sntrup_enc, sntrup_dec},
};

/* ---- method state ----------------------------------------------------------------- */

typedef struct hybrid_priv {
    EVP_PKEY *x25519;
    uint8_t *kem_sk; /* client: the KEM secret key (cleansed on free) */
    size_t kem_sk_len;
} hybrid_priv;

void ssh_kex_hybrid_free(ssh_kex *k)
{
    hybrid_priv *h = k->priv;
    if (h == NULL)
        return;
    EVP_PKEY_free(h->x25519);
    OPENSSL_clear_free(h->kem_sk, h->kem_sk_len);
    OPENSSL_free(h);
    k->priv = NULL;
}

static const kem_ops *kem_of(const ssh_kex *k)
{
    return &kems[k->m->param];
}

/* Fail with a reason the peer (and our log) can read: ssh_conn_fail keeps
 * the first error, so the generic text does not replace this one. */
static int fail(ssh_conn *c, const ssh_kex *k, const char *what)
{
    char msg[160];
    snprintf(msg, sizeof(msg), "%s: %s", k->m->name, what);
    ssh_conn_logf(c, 1, "%s", msg);
    return ssh_conn_fail(c, SSH_ERR_KEX, msg);
}

int ssh_kex_hybrid_keygen(ssh_conn *c, ssh_kex *k)
{
    if (k->priv != NULL)
        return 0;
    hybrid_priv *h = OPENSSL_zalloc(sizeof(*h));
    if (h == NULL)
        return SSH_ERR_ALLOC;
    k->priv = h;

    uint8_t sk[32], xpub[X25519_LEN];
    size_t xlen = sizeof(xpub);
    ssh_conn_random(c, sk, sizeof(sk));
    h->x25519 = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, sk, sizeof(sk));
    OPENSSL_cleanse(sk, sizeof(sk));
    if (h->x25519 == NULL || EVP_PKEY_get_raw_public_key(h->x25519, xpub, &xlen) != 1 ||
        xlen != sizeof(xpub))
        return SSH_ERR_LIBCRYPTO;
    if (c->server)
        return 0; /* S_REPLY needs the client's share: built in derive */

    const kem_ops *kem = kem_of(k);
    int rv;
    uint8_t *pk = OPENSSL_malloc(kem->pk_len + X25519_LEN);
    h->kem_sk = OPENSSL_malloc(kem->sk_len);
    if (pk == NULL || h->kem_sk == NULL) {
        OPENSSL_free(pk);
        return SSH_ERR_ALLOC;
    }
    h->kem_sk_len = kem->sk_len;
    if ((rv = kem->keypair(c, pk, h->kem_sk)) == 0) {
        memcpy(pk + kem->pk_len, xpub, X25519_LEN);
        ssh_buf_reset(&k->my_pub);
        rv = ssh_buf_put_string(&k->my_pub, pk, kem->pk_len + X25519_LEN);
    }
    OPENSSL_free(pk);
    return rv;
}

/* The X25519 half: 32 bytes of shared secret into `out`.  libcrypto
 * refuses to derive from a low-order point itself (RFC 7748 section 6.1);
 * either way the peer's value is bad: SSH_ERR_KEX. */
static int x25519_shared(const hybrid_priv *h, const uint8_t *peer, uint8_t *out)
{
    int rv = SSH_ERR_LIBCRYPTO;
    size_t slen = X25519_LEN;
    EVP_PKEY *pp = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, peer, X25519_LEN);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(h->x25519, NULL);
    if (pp != NULL && ctx != NULL && EVP_PKEY_derive_init(ctx) == 1 &&
        EVP_PKEY_derive_set_peer(ctx, pp) == 1) {
        rv = SSH_ERR_KEX;
        if (EVP_PKEY_derive(ctx, out, &slen) == 1 && slen == X25519_LEN) {
            uint8_t acc = 0; /* all-zero check without an early exit */
            for (size_t i = 0; i < X25519_LEN; i++)
                acc |= out[i];
            rv = acc == 0 ? SSH_ERR_KEX : 0;
        }
    }
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pp);
    return rv;
}

/* K = string(HASH(kem_ss || x25519_ss)). */
static int combine(ssh_kex *k, const uint8_t *secrets, size_t len)
{
    uint8_t hash[EVP_MAX_MD_SIZE];
    unsigned int hl = 0;
    int rv = SSH_ERR_LIBCRYPTO;
    EVP_MD *md = EVP_MD_fetch(NULL, k->m->digest, NULL);
    if (md != NULL && EVP_Digest(secrets, len, hash, &hl, md, NULL) == 1) {
        ssh_buf_reset(&k->K);
        rv = ssh_buf_put_string(&k->K, hash, hl);
    }
    OPENSSL_cleanse(hash, sizeof(hash));
    EVP_MD_free(md);
    return rv;
}

int ssh_kex_hybrid_derive(ssh_conn *c, ssh_kex *k, ssh_cur *p)
{
    hybrid_priv *h = k->priv;
    const kem_ops *kem = kem_of(k);
    const uint8_t *q;
    size_t qlen;
    int rv;
    char what[96];
    uint8_t secrets[SSH_MLKEM_SS_BYTES + X25519_LEN];
    if (h == NULL)
        return SSH_ERR_INTERNAL;
    if ((rv = ssh_cur_get_string(p, &q, &qlen)) != 0)
        return rv;
    ssh_buf_reset(&k->peer_pub);
    if ((rv = ssh_buf_put_string(&k->peer_pub, q, qlen)) != 0)
        return rv;

    if (c->server) {
        /* C_INIT: the client's KEM public key and X25519 share. */
        if (qlen != kem->pk_len + X25519_LEN) {
            snprintf(what, sizeof(what), "client share of %zu bytes, expected %zu", qlen,
                     kem->pk_len + X25519_LEN);
            return fail(c, k, what);
        }
        uint8_t *reply = OPENSSL_malloc(kem->ct_len + X25519_LEN);
        size_t xlen = X25519_LEN;
        if (reply == NULL)
            return SSH_ERR_ALLOC;
        rv = kem->enc(c, reply, secrets, q);
        if (rv == SSH_ERR_KEY_INVALID) {
            OPENSSL_free(reply);
            return fail(c, k, "invalid KEM public key from the client");
        }
        if (rv == 0 && EVP_PKEY_get_raw_public_key(h->x25519, reply + kem->ct_len, &xlen) != 1)
            rv = SSH_ERR_LIBCRYPTO;
        if (rv == 0 &&
            (rv = x25519_shared(h, q + kem->pk_len, secrets + SSH_MLKEM_SS_BYTES)) == SSH_ERR_KEX) {
            OPENSSL_free(reply);
            OPENSSL_cleanse(secrets, sizeof(secrets));
            return fail(c, k, "X25519 share of the client gives an all-zero secret");
        }
        if (rv == 0) {
            ssh_buf_reset(&k->my_pub);
            rv = ssh_buf_put_string(&k->my_pub, reply, kem->ct_len + X25519_LEN);
        }
        OPENSSL_free(reply);
    } else {
        /* S_REPLY: the KEM ciphertext and the server's X25519 share. */
        if (qlen != kem->ct_len + X25519_LEN) {
            snprintf(what, sizeof(what), "server reply of %zu bytes, expected %zu", qlen,
                     kem->ct_len + X25519_LEN);
            return fail(c, k, what);
        }
        rv = kem->dec(secrets, q, h->kem_sk);
        if (rv == 0 &&
            (rv = x25519_shared(h, q + kem->ct_len, secrets + SSH_MLKEM_SS_BYTES)) == SSH_ERR_KEX) {
            OPENSSL_cleanse(secrets, sizeof(secrets));
            return fail(c, k, "X25519 share of the server gives an all-zero secret");
        }
    }
    if (rv == 0)
        rv = combine(k, secrets, sizeof(secrets));
    OPENSSL_cleanse(secrets, sizeof(secrets));
    return rv;
}
