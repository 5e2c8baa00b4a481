/*
 * kex_dh.c - finite-field Diffie-Hellman: fixed groups and group exchange.
 *
 *  - diffie-hellman-group14-sha256, -group16-sha512, -group18-sha512
 *    (RFC 8268): the 2048, 4096 and 8192-bit MODP groups of RFC 3526,
 *    generator 2, public values as mpints.
 *  - diffie-hellman-group-exchange-sha256 (RFC 4419): the server picks a
 *    group in the client's [min, max] range.  We serve the RFC 3526 groups
 *    (2048/3072/4096/6144/8192 bits) that libcrypto carries, which needs no
 *    moduli file (and so no file access in the engine).
 *
 * The private exponent has twice as many bits as the key material needs
 * (at most |p| - 1), the usual rule for safe-prime groups; it is drawn from
 * the connection's random callback.  Received values must lie in
 * [2, p - 2] (RFC 4253 section 8, RFC 8268 section 4).
 */
#include "kex.h"

#include <openssl/bn.h>
#include <openssl/crypto.h>

typedef struct dh_priv {
    BIGNUM *p, *g, *x;
} dh_priv;

typedef BIGNUM *(*prime_fn)(BIGNUM *);

static const struct {
    unsigned bits;
    prime_fn fn;
} modp[] = {
    {2048, BN_get_rfc3526_prime_2048}, {3072, BN_get_rfc3526_prime_3072},
    {4096, BN_get_rfc3526_prime_4096}, {6144, BN_get_rfc3526_prime_6144},
    {8192, BN_get_rfc3526_prime_8192},
};
#define N_MODP (sizeof(modp) / sizeof(modp[0]))

void ssh_kex_dh_free(ssh_kex *k)
{
    dh_priv *d = k->priv;
    if (d == NULL)
        return;
    BN_free(d->p);
    BN_free(d->g);
    BN_clear_free(d->x);
    OPENSSL_free(d);
    k->priv = NULL;
}

static int put_bn_mpint(ssh_buf *b, const BIGNUM *v)
{
    uint8_t tmp[1024 + 1];
    int n = BN_num_bytes(v);
    if (n < 0 || (size_t)n > sizeof(tmp))
        return SSH_ERR_TOO_LONG;
    BN_bn2bin(v, tmp);
    int rv = ssh_buf_put_mpint(b, tmp, (size_t)n);
    OPENSSL_cleanse(tmp, sizeof(tmp));
    return rv;
}

static BIGNUM *bn_from_wire(const ssh_buf *b)
{
    ssh_cur c;
    const uint8_t *m;
    size_t n;
    ssh_cur_from_buf(&c, b);
    if (ssh_cur_get_mpint(&c, &m, &n) != 0 || ssh_cur_end(&c) != 0)
        return NULL;
    return BN_bin2bn(m, (int)n, NULL);
}

/* Load p and g: the fixed group of the method, or the exchanged one. */
static int load_group(ssh_kex *k, dh_priv *d)
{
    if (k->m->family == KEXF_GEX) {
        d->p = bn_from_wire(&k->gex_p);
        d->g = bn_from_wire(&k->gex_g);
    } else {
        for (size_t i = 0; i < N_MODP; i++)
            if (modp[i].bits == (unsigned)k->m->param)
                d->p = modp[i].fn(NULL);
        d->g = BN_new();
        if (d->g && !BN_set_word(d->g, 2)) {
            BN_free(d->g);
            d->g = NULL;
        }
    }
    return (d->p && d->g) ? 0 : SSH_ERR_KEX;
}

int ssh_kex_dh_keygen(ssh_conn *c, ssh_kex *k)
{
    if (k->priv != NULL)
        return 0;
    int rv = SSH_ERR_LIBCRYPTO;
    dh_priv *d = OPENSSL_zalloc(sizeof(*d));
    BN_CTX *bnc = BN_CTX_new();
    BIGNUM *e = BN_new();
    uint8_t rnd[256];
    if (d == NULL || bnc == NULL || e == NULL) {
        OPENSSL_free(d);
        rv = SSH_ERR_ALLOC;
        goto out;
    }
    k->priv = d;
    if ((rv = load_group(k, d)) != 0)
        goto out;
    rv = SSH_ERR_LIBCRYPTO;
    int pbits = BN_num_bits(d->p);
    int xbits = (int)(k->need * 8 * 2);
    if (xbits < 256)
        xbits = 256;
    if (xbits > pbits - 1)
        xbits = pbits - 1;
    size_t nb = ((size_t)xbits + 7) / 8;
    if (nb > sizeof(rnd))
        goto out;
    ssh_conn_random(c, rnd, nb);
    d->x = BN_secure_new();
    if (d->x == NULL || BN_bin2bn(rnd, (int)nb, d->x) == NULL)
        goto out;
    OPENSSL_cleanse(rnd, sizeof(rnd));
    /* Exactly xbits bits: clear the excess and set the top bit so that the
     * exponent is never tiny. */
    if (BN_num_bits(d->x) > xbits && !BN_mask_bits(d->x, xbits))
        goto out;
    if (!BN_set_bit(d->x, xbits - 1))
        goto out;
    BN_set_flags(d->x, BN_FLG_CONSTTIME);
    if (!BN_mod_exp_mont_consttime(e, d->g, d->x, d->p, bnc, NULL))
        goto out;
    ssh_buf_reset(&k->my_pub);
    rv = put_bn_mpint(&k->my_pub, e);
out:
    BN_free(e);
    BN_CTX_free(bnc);
    return rv;
}

int ssh_kex_dh_derive(ssh_conn *c, ssh_kex *k, ssh_cur *p)
{
    (void)c;
    const uint8_t *m;
    size_t n;
    int rv;
    dh_priv *d = k->priv;
    if (d == NULL)
        return SSH_ERR_INTERNAL;
    if ((rv = ssh_cur_get_mpint(p, &m, &n)) != 0)
        return rv;
    ssh_buf_reset(&k->peer_pub);
    if ((rv = ssh_buf_put_mpint(&k->peer_pub, m, n)) != 0)
        return rv;
    rv = SSH_ERR_KEX;
    BIGNUM *f = BN_bin2bn(m, (int)n, NULL);
    BIGNUM *pm1 = BN_dup(d->p);
    BIGNUM *s = BN_secure_new();
    BN_CTX *bnc = BN_CTX_new();
    if (f == NULL || pm1 == NULL || s == NULL || bnc == NULL || !BN_sub_word(pm1, 1))
        goto out;
    /* 1 < f < p - 1 */
    if (BN_cmp(f, BN_value_one()) <= 0 || BN_cmp(f, pm1) >= 0)
        goto out;
    if (!BN_mod_exp_mont_consttime(s, f, d->x, d->p, bnc, NULL))
        goto out;
    ssh_buf_reset(&k->K);
    rv = put_bn_mpint(&k->K, s);
out:
    BN_free(f);
    BN_free(pm1);
    BN_clear_free(s);
    BN_CTX_free(bnc);
    return rv;
}

int ssh_gex_choose(ssh_kex *k)
{
    /* RFC 4419 section 3 / OpenSSH: reject nonsense ranges, then clamp. */
    if (k->gex_max < k->gex_min || k->gex_n < k->gex_min || k->gex_max < k->gex_n ||
        k->gex_max < SSH_GEX_MIN)
        return SSH_ERR_KEX;
    unsigned want = k->gex_n < SSH_GEX_MIN ? SSH_GEX_MIN : k->gex_n;
    if (want > SSH_GEX_MAX)
        want = SSH_GEX_MAX;
    int pick = -1;
    /* Smallest group at least as large as wanted, inside [min, max]... */
    for (size_t i = 0; i < N_MODP; i++) {
        if (modp[i].bits >= want && modp[i].bits >= k->gex_min && modp[i].bits <= k->gex_max) {
            pick = (int)i;
            break;
        }
    }
    /* ...or else the largest one the client still accepts. */
    for (size_t i = N_MODP; pick < 0 && i-- > 0;)
        if (modp[i].bits >= k->gex_min && modp[i].bits <= k->gex_max)
            pick = (int)i;
    if (pick < 0)
        return SSH_ERR_KEX;
    BIGNUM *pr = modp[pick].fn(NULL);
    if (pr == NULL)
        return SSH_ERR_LIBCRYPTO;
    ssh_buf_reset(&k->gex_p);
    ssh_buf_reset(&k->gex_g);
    uint8_t two = 2;
    int rv = put_bn_mpint(&k->gex_p, pr);
    if (rv == 0)
        rv = ssh_buf_put_mpint(&k->gex_g, &two, 1);
    BN_free(pr);
    return rv;
}

int ssh_gex_check(ssh_kex *k)
{
    int rv = SSH_ERR_KEX;
    BIGNUM *p = bn_from_wire(&k->gex_p);
    BIGNUM *g = bn_from_wire(&k->gex_g);
    BIGNUM *pm1 = p ? BN_dup(p) : NULL;
    if (p == NULL || g == NULL || pm1 == NULL || !BN_sub_word(pm1, 1))
        goto out;
    int bits = BN_num_bits(p);
    /* The group must be inside what we asked for, odd, and g in [2, p-2]. */
    if (bits < (int)k->gex_min || bits > (int)k->gex_max || !BN_is_odd(p))
        goto out;
    if (BN_cmp(g, BN_value_one()) <= 0 || BN_cmp(g, pm1) >= 0)
        goto out;
    rv = 0;
out:
    BN_free(p);
    BN_free(g);
    BN_free(pm1);
    return rv;
}
