/*
 * kex_ecdh.c - elliptic-curve Diffie-Hellman key exchange.
 *
 *  - curve25519-sha256 (RFC 8731): 32-byte X25519 public values sent as
 *    strings; the shared secret's 32 bytes are read as an unsigned
 *    big-endian integer and encoded as an mpint (section 3.1).  An all-zero
 *    result (a low-order peer point) is refused.
 *  - ecdh-sha2-nistp256/384/521 (RFC 5656 section 4): uncompressed points
 *    as strings; K is the x coordinate of the shared point as an mpint.
 *
 * The private scalars come from the connection's random callback (the
 * engine takes its randomness from the caller); libcrypto does the curve
 * arithmetic and validates received points.
 */
#include "kex.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

typedef struct ecdh_priv {
    EVP_PKEY *x25519;
    EC_GROUP *group;
    BIGNUM *d;
} ecdh_priv;

void ssh_kex_ecdh_free(ssh_kex *k)
{
    ecdh_priv *e = k->priv;
    if (e == NULL)
        return;
    EVP_PKEY_free(e->x25519);
    EC_GROUP_free(e->group);
    BN_clear_free(e->d);
    OPENSSL_free(e);
    k->priv = NULL;
}

static int x25519_keygen(ssh_conn *c, ssh_kex *k, ecdh_priv *e)
{
    uint8_t sk[32], pk[32];
    size_t pklen = sizeof(pk);
    ssh_conn_random(c, sk, sizeof(sk));
    e->x25519 = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, sk, sizeof(sk));
    OPENSSL_cleanse(sk, sizeof(sk));
    if (e->x25519 == NULL || EVP_PKEY_get_raw_public_key(e->x25519, pk, &pklen) != 1 ||
        pklen != sizeof(pk))
        return SSH_ERR_LIBCRYPTO;
    ssh_buf_reset(&k->my_pub);
    return ssh_buf_put_string(&k->my_pub, pk, sizeof(pk));
}

static int nist_keygen(ssh_conn *c, ssh_kex *k, ecdh_priv *e)
{
    int rv = SSH_ERR_LIBCRYPTO;
    uint8_t rnd[66 + 16];
    BIGNUM *r = NULL, *om1 = NULL;
    EC_POINT *q = NULL;
    BN_CTX *bnc = BN_CTX_new();
    uint8_t oct[1 + 2 * 66];
    size_t octlen;

    e->group = EC_GROUP_new_by_curve_name(k->m->param);
    if (e->group == NULL || bnc == NULL)
        goto out;
    const BIGNUM *order = EC_GROUP_get0_order(e->group);
    /* d uniform in [1, order-1]: reduce 128 more bits than the order has,
     * which makes the modulo bias negligible. */
    size_t nb = (size_t)BN_num_bytes(order) + 16;
    if (nb > sizeof(rnd))
        goto out;
    ssh_conn_random(c, rnd, nb);
    r = BN_bin2bn(rnd, (int)nb, NULL);
    OPENSSL_cleanse(rnd, sizeof(rnd));
    e->d = BN_secure_new();
    om1 = BN_dup(order);
    if (r == NULL || e->d == NULL || om1 == NULL || !BN_sub_word(om1, 1) ||
        !BN_nnmod(e->d, r, om1, bnc) || !BN_add_word(e->d, 1))
        goto out;
    BN_set_flags(e->d, BN_FLG_CONSTTIME);
    q = EC_POINT_new(e->group);
    if (q == NULL || !EC_POINT_mul(e->group, q, e->d, NULL, NULL, bnc))
        goto out;
    octlen = EC_POINT_point2oct(e->group, q, POINT_CONVERSION_UNCOMPRESSED, oct, sizeof(oct), bnc);
    if (octlen == 0)
        goto out;
    ssh_buf_reset(&k->my_pub);
    rv = ssh_buf_put_string(&k->my_pub, oct, octlen);
out:
    BN_clear_free(r);
    BN_free(om1);
    EC_POINT_free(q);
    BN_CTX_free(bnc);
    return rv;
}

int ssh_kex_ecdh_keygen(ssh_conn *c, ssh_kex *k)
{
    if (k->priv != NULL)
        return 0; /* already generated */
    ecdh_priv *e = OPENSSL_zalloc(sizeof(*e));
    if (e == NULL)
        return SSH_ERR_ALLOC;
    k->priv = e;
    if (k->m->family == KEXF_X25519)
        return x25519_keygen(c, k, e);
    return nist_keygen(c, k, e);
}

static int x25519_derive(ssh_kex *k, ecdh_priv *e, const uint8_t *q, size_t qlen)
{
    int rv = SSH_ERR_KEX;
    uint8_t s[32];
    size_t slen = sizeof(s);
    EVP_PKEY *peer = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    if (qlen != 32)
        return SSH_ERR_KEX;
    peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, q, qlen);
    ctx = EVP_PKEY_CTX_new(e->x25519, NULL);
    if (peer == NULL || ctx == NULL || EVP_PKEY_derive_init(ctx) != 1 ||
        EVP_PKEY_derive_set_peer(ctx, peer) != 1 || EVP_PKEY_derive(ctx, s, &slen) != 1 ||
        slen != sizeof(s))
        goto out;
    /* Constant-time all-zero check (RFC 7748 section 6.1). */
    uint8_t acc = 0;
    for (size_t i = 0; i < sizeof(s); i++)
        acc |= s[i];
    if (acc == 0)
        goto out;
    ssh_buf_reset(&k->K);
    rv = ssh_buf_put_mpint(&k->K, s, sizeof(s));
out:
    OPENSSL_cleanse(s, sizeof(s));
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(peer);
    return rv;
}

static int nist_derive(ssh_kex *k, ecdh_priv *e, const uint8_t *q, size_t qlen)
{
    int rv = SSH_ERR_KEX;
    BN_CTX *bnc = BN_CTX_new();
    EC_POINT *peer = EC_POINT_new(e->group);
    EC_POINT *sp = EC_POINT_new(e->group);
    BIGNUM *x = BN_secure_new();
    uint8_t xb[66];
    int fl = (EC_GROUP_get_degree(e->group) + 7) / 8;
    if (bnc == NULL || peer == NULL || sp == NULL || x == NULL || fl <= 0 ||
        (size_t)fl > sizeof(xb))
        goto out;
    /* Only uncompressed points (OpenSSH PROTOCOL 1.4); oct2point checks
     * that the point is on the curve. */
    if (qlen != 1 + 2 * (size_t)fl || q[0] != POINT_CONVERSION_UNCOMPRESSED)
        goto out;
    if (!EC_POINT_oct2point(e->group, peer, q, qlen, bnc) ||
        EC_POINT_is_at_infinity(e->group, peer) || EC_POINT_is_on_curve(e->group, peer, bnc) != 1)
        goto out;
    if (!EC_POINT_mul(e->group, sp, NULL, peer, e->d, bnc) ||
        EC_POINT_is_at_infinity(e->group, sp) ||
        !EC_POINT_get_affine_coordinates(e->group, sp, x, NULL, bnc) ||
        BN_bn2binpad(x, xb, fl) != fl)
        goto out;
    ssh_buf_reset(&k->K);
    rv = ssh_buf_put_mpint(&k->K, xb, (size_t)fl);
out:
    OPENSSL_cleanse(xb, sizeof(xb));
    BN_clear_free(x);
    EC_POINT_clear_free(sp);
    EC_POINT_free(peer);
    BN_CTX_free(bnc);
    return rv;
}

int ssh_kex_ecdh_derive(ssh_conn *c, ssh_kex *k, ssh_cur *p)
{
    (void)c;
    const uint8_t *q;
    size_t qlen;
    int rv;
    ecdh_priv *e = k->priv;
    if (e == NULL)
        return SSH_ERR_INTERNAL;
    if ((rv = ssh_cur_get_string(p, &q, &qlen)) != 0)
        return rv;
    ssh_buf_reset(&k->peer_pub);
    if ((rv = ssh_buf_put_string(&k->peer_pub, q, qlen)) != 0)
        return rv;
    if (k->m->family == KEXF_X25519)
        return x25519_derive(k, e, q, qlen);
    return nist_derive(k, e, q, qlen);
}
