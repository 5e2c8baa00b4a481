/*
 * key.c - SSH public/private keys on top of libcrypto EVP_PKEY.
 *
 * This file only translates between the SSH encodings and libcrypto: every
 * cryptographic operation (signing, verifying, point validation, key
 * generation, hashing) is an EVP call.  Keys are imported with
 * EVP_PKEY_fromdata() / EVP_PKEY_new_raw_*_key() and exported with
 * EVP_PKEY_get_*_param(), the OpenSSL 3 interfaces; no deprecated RSA_* or
 * EC_KEY_* calls.
 *
 * Encodings (RFC 4253 section 6.6, RFC 5656 section 3.1, RFC 8709,
 * RFC 8332):
 *   ssh-ed25519           string "ssh-ed25519", string A[32]
 *   ecdsa-sha2-nistpNNN   string name, string "nistpNNN", string Q
 *   ssh-rsa               string "ssh-rsa", mpint e, mpint n
 * and signatures "string alg, string sig".
 *
 * Strictness choices (peer-controlled input reaches ssh_key_from_blob and
 * ssh_key_verify during key exchange and user authentication):
 *  - exactly one key per blob, no trailing bytes; the curve identifier must
 *    match the key type name (RFC 5656 section 3.1);
 *  - EC points must be uncompressed (RFC 5656 section 3.1 requires the
 *    SEC1 encoding; OpenSSH only ever sends uncompressed points, and
 *    refusing the compressed form removes a code path) and pass
 *    EVP_PKEY_public_check_quick (on the curve, not the point at
 *    infinity; see pkey_check for why that is the whole check here);
 *  - RSA moduli of 1024..16384 bits (OpenSSH's limits), odd, e odd >= 3;
 *  - ECDSA r and s must be minimal non-negative mpints (ssh_cur_get_mpint)
 *    no longer than the group order;
 *  - "ssh-rsa" (SHA-1) signatures only with SSH_KEY_ALLOW_SHA1.
 *
 * RSA signature length.  RFC 8332 section 3 says the signature blob "has the
 * same length (in octets) as the RSA modulus".  OpenSSH (ssh-rsa.c,
 * ssh_rsa_verify) nevertheless accepts a shorter one and left-pads it with
 * zeros, because some implementations strip leading zero octets (about one
 * signature in 256 starts with one).  We do the same: a shorter signature
 * is padded, a longer one is rejected.  The padded octet string denotes the
 * same integer, so this tolerance admits no signature that RSASSA-PKCS1-v1_5
 * over the integer would not; we always emit full-length signatures.
 */
#include "cert_int.h"
#include "key_int.h"

#include "sshtun/cert.h"
#include "sshtun/err.h"
#include "sshtun/key.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>

struct ssh_key {
    enum ssh_key_type type;
    int priv; /* pkey holds the private half */
    EVP_PKEY *pkey;
    ssh_cert *cert; /* NULL for a plain key (cert.c) */
};

/* ---- tables ------------------------------------------------------------ */

struct key_info {
    enum ssh_key_type type;
    const char *name;      /* key type name in blobs */
    const char *cert_name; /* its certificate type name (PROTOCOL.certkeys) */
    const char *curve;     /* RFC 5656 curve identifier, ECDSA only */
    const char *group;     /* OpenSSL group name */
    int nid;               /* OpenSSL curve NID */
    size_t field_bytes;    /* coordinate / order size in bytes */
    unsigned bits;
};

static const struct key_info key_infos[] = {
    {SSH_KEY_ED25519, "ssh-ed25519", "ssh-ed25519-cert-v01@openssh.com", NULL, NULL, NID_undef, 32,
     256},
    {SSH_KEY_ECDSA_P256, "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256-cert-v01@openssh.com",
     "nistp256", "P-256", NID_X9_62_prime256v1, 32, 256},
    {SSH_KEY_ECDSA_P384, "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp384-cert-v01@openssh.com",
     "nistp384", "P-384", NID_secp384r1, 48, 384},
    {SSH_KEY_ECDSA_P521, "ecdsa-sha2-nistp521", "ecdsa-sha2-nistp521-cert-v01@openssh.com",
     "nistp521", "P-521", NID_secp521r1, 66, 521},
    {SSH_KEY_RSA, "ssh-rsa", "ssh-rsa-cert-v01@openssh.com", NULL, NULL, NID_undef, 0, 0},
};

struct sig_alg {
    const char *name;
    enum ssh_key_type type;
    const EVP_MD *(*md)(void); /* NULL: the algorithm hashes itself (Ed25519) */
    int sha1;
    const char *plain; /* certificate algorithms: the signature algorithm */
};

#define CERT_SUFFIX "-cert-v01@openssh.com"

/* RFC 8709 section 6; RFC 5656 section 6.2.1 (hash by curve size); RFC 8332
 * section 3; RFC 4253 section 6.6 (ssh-rsa, SHA-1).  Then the certificate
 * algorithms of PROTOCOL.certkeys: each signs as the plain algorithm it
 * names.  Plain entries first: the first entry of a type is its default. */
static const struct sig_alg sig_algs[] = {
    {"ssh-ed25519", SSH_KEY_ED25519, NULL, 0, NULL},
    {"ecdsa-sha2-nistp256", SSH_KEY_ECDSA_P256, EVP_sha256, 0, NULL},
    {"ecdsa-sha2-nistp384", SSH_KEY_ECDSA_P384, EVP_sha384, 0, NULL},
    {"ecdsa-sha2-nistp521", SSH_KEY_ECDSA_P521, EVP_sha512, 0, NULL},
    {"rsa-sha2-512", SSH_KEY_RSA, EVP_sha512, 0, NULL},
    {"rsa-sha2-256", SSH_KEY_RSA, EVP_sha256, 0, NULL},
    {"ssh-rsa", SSH_KEY_RSA, EVP_sha1, 1, NULL},
    {"ssh-ed25519" CERT_SUFFIX, SSH_KEY_ED25519, NULL, 0, "ssh-ed25519"},
    {"ecdsa-sha2-nistp256" CERT_SUFFIX, SSH_KEY_ECDSA_P256, EVP_sha256, 0, "ecdsa-sha2-nistp256"},
    {"ecdsa-sha2-nistp384" CERT_SUFFIX, SSH_KEY_ECDSA_P384, EVP_sha384, 0, "ecdsa-sha2-nistp384"},
    {"ecdsa-sha2-nistp521" CERT_SUFFIX, SSH_KEY_ECDSA_P521, EVP_sha512, 0, "ecdsa-sha2-nistp521"},
    {"rsa-sha2-512" CERT_SUFFIX, SSH_KEY_RSA, EVP_sha512, 0, "rsa-sha2-512"},
    {"rsa-sha2-256" CERT_SUFFIX, SSH_KEY_RSA, EVP_sha256, 0, "rsa-sha2-256"},
    {"ssh-rsa" CERT_SUFFIX, SSH_KEY_RSA, EVP_sha1, 1, "ssh-rsa"},
};

#define N_ELEM(a) (sizeof(a) / sizeof((a)[0]))

static const struct key_info *info_by_type(enum ssh_key_type t)
{
    for (size_t i = 0; i < N_ELEM(key_infos); i++)
        if (key_infos[i].type == t)
            return &key_infos[i];
    return NULL;
}

/* By plain type name, or by certificate type name with *cert set. */
static const struct key_info *info_by_name(const char *name, int *cert)
{
    for (size_t i = 0; i < N_ELEM(key_infos); i++) {
        if (strcmp(key_infos[i].name, name) == 0) {
            *cert = 0;
            return &key_infos[i];
        }
        if (strcmp(key_infos[i].cert_name, name) == 0) {
            *cert = 1;
            return &key_infos[i];
        }
    }
    return NULL;
}

static const struct sig_alg *alg_by_name(const char *name)
{
    for (size_t i = 0; i < N_ELEM(sig_algs); i++)
        if (strcmp(sig_algs[i].name, name) == 0)
            return &sig_algs[i];
    return NULL;
}

/* The natural algorithm: the first table entry for the type, which makes
 * rsa-sha2-512 the RSA default. */
static const struct sig_alg *alg_default(enum ssh_key_type t)
{
    for (size_t i = 0; i < N_ELEM(sig_algs); i++)
        if (sig_algs[i].type == t)
            return &sig_algs[i];
    return NULL;
}

/* libcrypto leaves reasons on its thread-local error queue; we report our
 * own codes, so drop them rather than let them pile up. */
static int crypto_fail(int rv)
{
    ERR_clear_error();
    return rv;
}

/* ---- key object -------------------------------------------------------- */

static int key_new(enum ssh_key_type type, EVP_PKEY *pkey, int priv, ssh_key **out)
{
    ssh_key *k = calloc(1, sizeof(*k));
    if (k == NULL) {
        EVP_PKEY_free(pkey);
        return SSH_ERR_ALLOC;
    }
    k->type = type;
    k->pkey = pkey;
    k->priv = priv;
    *out = k;
    return 0;
}

void ssh_key_free(ssh_key *k)
{
    if (k == NULL)
        return;
    EVP_PKEY_free(k->pkey); /* libcrypto clears private key material */
    ssh_cert_free(k->cert);
    free(k);
}

void ssh_key_set_cert(ssh_key *k, ssh_cert *cert)
{
    ssh_cert_free(k->cert);
    k->cert = cert;
}

int ssh_key_is_cert(const ssh_key *k)
{
    return k != NULL && k->cert != NULL;
}

const ssh_cert *ssh_key_cert(const ssh_key *k)
{
    return k ? k->cert : NULL;
}

EVP_PKEY *ssh_key_evp(const ssh_key *k)
{
    return k ? k->pkey : NULL;
}

enum ssh_key_type ssh_key_type(const ssh_key *k)
{
    return k ? k->type : SSH_KEY_UNKNOWN;
}

const char *ssh_key_type_name(const ssh_key *k)
{
    const struct key_info *ki = k ? info_by_type(k->type) : NULL;
    if (ki == NULL)
        return NULL;
    return k->cert ? ki->cert_name : ki->name;
}

int ssh_key_type_by_name(const char *name, enum ssh_key_type *type, int *cert)
{
    const struct key_info *ki = name ? info_by_name(name, cert) : NULL;
    if (ki == NULL)
        return -1;
    *type = ki->type;
    return 0;
}

enum ssh_key_type ssh_key_type_from_name(const char *name)
{
    if (name == NULL)
        return SSH_KEY_UNKNOWN;
    int cert;
    const struct key_info *ki = info_by_name(name, &cert);
    if (ki)
        return ki->type;
    const struct sig_alg *sa = alg_by_name(name);
    return sa ? sa->type : SSH_KEY_UNKNOWN;
}

int ssh_key_alg_is_cert(const char *name)
{
    const struct sig_alg *sa = name ? alg_by_name(name) : NULL;
    return sa != NULL && sa->plain != NULL;
}

const char *ssh_key_alg_plain(const char *name)
{
    const struct sig_alg *sa = name ? alg_by_name(name) : NULL;
    if (sa == NULL)
        return NULL;
    return sa->plain ? sa->plain : sa->name;
}

const char *ssh_key_alg_cert(const char *name)
{
    for (size_t i = 0; name && i < N_ELEM(sig_algs); i++)
        if (sig_algs[i].plain && strcmp(sig_algs[i].plain, name) == 0)
            return sig_algs[i].name;
    return NULL;
}

int ssh_key_has_private(const ssh_key *k)
{
    return k != NULL && k->priv;
}

unsigned ssh_key_bits(const ssh_key *k)
{
    if (k == NULL)
        return 0;
    if (k->type == SSH_KEY_RSA) {
        int b = EVP_PKEY_get_bits(k->pkey);
        return b > 0 ? (unsigned)b : 0;
    }
    /* Not EVP_PKEY_get_bits: it gives 253 for Ed25519 and we want the
     * conventional size (what ssh-keygen -l prints). */
    const struct key_info *ki = info_by_type(k->type);
    return ki ? ki->bits : 0;
}

int ssh_key_alg_ok(const ssh_key *k, const char *alg)
{
    if (k == NULL || alg == NULL)
        return 0;
    const struct sig_alg *sa = alg_by_name(alg);
    /* A certificate presents itself only under certificate names, a plain
     * key only under plain ones. */
    return sa != NULL && sa->type == k->type && (sa->plain != NULL) == (k->cert != NULL);
}

const char *ssh_key_sig_algs(const ssh_key *k, unsigned flags)
{
    if (ssh_key_is_cert(k)) {
        switch (k->type) {
        case SSH_KEY_ED25519:
            return "ssh-ed25519" CERT_SUFFIX;
        case SSH_KEY_ECDSA_P256:
            return "ecdsa-sha2-nistp256" CERT_SUFFIX;
        case SSH_KEY_ECDSA_P384:
            return "ecdsa-sha2-nistp384" CERT_SUFFIX;
        case SSH_KEY_ECDSA_P521:
            return "ecdsa-sha2-nistp521" CERT_SUFFIX;
        case SSH_KEY_RSA:
            return (flags & SSH_KEY_ALLOW_SHA1) ? "rsa-sha2-512" CERT_SUFFIX
                                                  ",rsa-sha2-256" CERT_SUFFIX ",ssh-rsa" CERT_SUFFIX
                                                : "rsa-sha2-512" CERT_SUFFIX
                                                  ",rsa-sha2-256" CERT_SUFFIX;
        default:
            return NULL;
        }
    }
    switch (ssh_key_type(k)) {
    case SSH_KEY_ED25519:
        return "ssh-ed25519";
    case SSH_KEY_ECDSA_P256:
        return "ecdsa-sha2-nistp256";
    case SSH_KEY_ECDSA_P384:
        return "ecdsa-sha2-nistp384";
    case SSH_KEY_ECDSA_P521:
        return "ecdsa-sha2-nistp521";
    case SSH_KEY_RSA:
        return (flags & SSH_KEY_ALLOW_SHA1) ? "rsa-sha2-512,rsa-sha2-256,ssh-rsa"
                                            : "rsa-sha2-512,rsa-sha2-256";
    default:
        return NULL;
    }
}

/* ---- BIGNUM helpers ---------------------------------------------------- */

/* Append a BIGNUM as an mpint.  The magnitude passes through a temporary
 * that is cleansed, since it may be a private value. */
static int put_bn(ssh_buf *b, const BIGNUM *bn)
{
    if (BN_is_negative(bn))
        return SSH_ERR_INTERNAL;
    size_t n = (size_t)BN_num_bytes(bn);
    uint8_t stackbuf[256];
    uint8_t *tmp = n <= sizeof(stackbuf) ? stackbuf : malloc(n);
    if (tmp == NULL)
        return SSH_ERR_ALLOC;
    BN_bn2bin(bn, tmp);
    int rv = ssh_buf_put_mpint(b, tmp, n);
    OPENSSL_cleanse(tmp, n);
    if (tmp != stackbuf)
        free(tmp);
    return rv;
}

/* Read an mpint (non-negative, minimal, at most maxbytes) into a new BIGNUM.
 * `secret` marks it constant-time for private values. */
static int get_bn(ssh_cur *c, size_t maxbytes, int secret, BIGNUM **out)
{
    ssh_cur t = *c;
    const uint8_t *mag;
    size_t n;
    int rv = ssh_cur_get_mpint(&t, &mag, &n);
    if (rv != 0)
        return rv;
    if (n > maxbytes)
        return SSH_ERR_KEY_INVALID;
    BIGNUM *bn = secret ? BN_secure_new() : BN_new();
    if (bn == NULL)
        return SSH_ERR_ALLOC;
    if (secret)
        BN_set_flags(bn, BN_FLG_CONSTTIME);
    if (BN_bin2bn(mag, (int)n, bn) == NULL) {
        BN_clear_free(bn);
        return crypto_fail(SSH_ERR_LIBCRYPTO);
    }
    *c = t;
    *out = bn;
    return 0;
}

static int get_bn_param(const EVP_PKEY *pk, const char *name, BIGNUM **out)
{
    *out = NULL;
    if (!EVP_PKEY_get_bn_param(pk, name, out))
        return crypto_fail(SSH_ERR_LIBCRYPTO);
    return 0;
}

/* ---- building EVP_PKEYs ------------------------------------------------ */

static int pkey_fromdata(const char *keytype, int selection, OSSL_PARAM_BLD *bld, EVP_PKEY **out)
{
    int rv = SSH_ERR_KEY_INVALID;
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, keytype, NULL);
    EVP_PKEY *pk = NULL;
    if (params == NULL || ctx == NULL) {
        rv = SSH_ERR_LIBCRYPTO;
        goto out;
    }
    if (EVP_PKEY_fromdata_init(ctx) <= 0) {
        rv = SSH_ERR_LIBCRYPTO;
        goto out;
    }
    if (EVP_PKEY_fromdata(ctx, &pk, selection, params) <= 0 || pk == NULL)
        goto out; /* e.g. an EC point not on the curve */
    *out = pk;
    rv = 0;
out:
    OSSL_PARAM_free(params); /* clears the buffers holding secret BNs */
    EVP_PKEY_CTX_free(ctx);
    return rv == 0 ? 0 : crypto_fail(rv);
}

/* Run libcrypto's key validation: public only, or everything (including
 * the private scalar range and Q == d*G for EC).
 *
 * The public check is libcrypto's "quick" one: Q is not the point at
 * infinity, its coordinates are below p and it is on the curve.  The full
 * public check adds n*Q == infinity, a scalar multiplication per key (with
 * the P-256, P-384 and P-521 lines of the benchmark's known_hosts it was
 * two thirds of the client's instructions for a whole connection).  On
 * nistp256/384/521, the only curves here, that test cannot fail for a
 * point on the curve: their cofactor is 1, so the curve's group has prime
 * order n and n*Q is the point at infinity for every point Q of it
 * (Lagrange).  Dropping the multiplication therefore changes no verdict
 * (OpenSSH's sshkey_ec_validate_public still does it; it finds nothing on
 * these curves either).  Only EC public keys come here; with a private
 * half, EVP_PKEY_check still does everything. */
static int pkey_check(EVP_PKEY *pk, int full)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL);
    if (ctx == NULL)
        return crypto_fail(SSH_ERR_ALLOC);
    int ok = full ? EVP_PKEY_check(ctx) : EVP_PKEY_public_check_quick(ctx);
    EVP_PKEY_CTX_free(ctx);
    return ok == 1 ? 0 : crypto_fail(SSH_ERR_KEY_INVALID);
}

static int ec_build(const struct key_info *ki, const uint8_t *q, size_t qlen, const BIGNUM *d,
                    EVP_PKEY **out)
{
    /* SEC1 uncompressed form only: 0x04 || X || Y. */
    if (qlen != 1 + 2 * ki->field_bytes || q[0] != 0x04)
        return SSH_ERR_KEY_INVALID;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    if (bld == NULL)
        return SSH_ERR_ALLOC;
    int rv = SSH_ERR_LIBCRYPTO;
    EVP_PKEY *pk = NULL;
    if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, ki->group, 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, q, qlen) ||
        (d != NULL && !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d)))
        goto out;
    rv = pkey_fromdata("EC", d ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, bld, &pk);
    if (rv != 0)
        goto out;
    rv = pkey_check(pk, d != NULL);
    if (rv != 0)
        goto out;
    *out = pk;
    pk = NULL;
out:
    EVP_PKEY_free(pk);
    OSSL_PARAM_BLD_free(bld);
    return rv == 0 ? 0 : crypto_fail(rv);
}

/* Public-half sanity checks shared by every way an RSA key enters. */
static int rsa_check_public(const BIGNUM *n, const BIGNUM *e)
{
    int bits = BN_num_bits(n);
    if (bits < SSH_KEY_RSA_MIN_BITS || bits > SSH_KEY_RSA_MAX_BITS)
        return SSH_ERR_KEY_INVALID;
    if (!BN_is_odd(n) || !BN_is_odd(e) || BN_cmp(e, BN_value_one()) <= 0 || BN_cmp(e, n) >= 0)
        return SSH_ERR_KEY_INVALID;
    return 0;
}

/* The private values must fit together, or signatures come out wrong:
 * n = p*q, e*d = 1 mod (p-1) and mod (q-1), iqmp*q = 1 mod p.  (No
 * primality test: OpenSSH does not do one either, and a composite factor
 * would only produce invalid signatures.)  dmp1/dmq1 are returned for
 * libcrypto's CRT. */
static int rsa_check_private(const BIGNUM *n, const BIGNUM *e, const BIGNUM *d, const BIGNUM *p,
                             const BIGNUM *q, const BIGNUM *iqmp, BIGNUM **dmp1, BIGNUM **dmq1)
{
    int rv = SSH_ERR_KEY_INVALID;
    BN_CTX *ctx = BN_CTX_secure_new();
    BIGNUM *t = BN_secure_new(), *pm1 = BN_secure_new(), *qm1 = BN_secure_new();
    BIGNUM *dp = BN_secure_new(), *dq = BN_secure_new();
    if (ctx == NULL || t == NULL || pm1 == NULL || qm1 == NULL || dp == NULL || dq == NULL) {
        rv = SSH_ERR_ALLOC;
        goto out;
    }
    BN_set_flags(dp, BN_FLG_CONSTTIME);
    BN_set_flags(dq, BN_FLG_CONSTTIME);
    if (BN_is_zero(p) || BN_is_zero(q) || BN_is_zero(d) || BN_is_one(p) || BN_is_one(q))
        goto out;
    if (!BN_mul(t, p, q, ctx))
        goto crypto;
    if (BN_cmp(t, n) != 0)
        goto out;
    if (!BN_sub(pm1, p, BN_value_one()) || !BN_sub(qm1, q, BN_value_one()))
        goto crypto;
    if (!BN_mod(dp, d, pm1, ctx) || !BN_mod(dq, d, qm1, ctx))
        goto crypto;
    if (!BN_mod_mul(t, e, dp, pm1, ctx))
        goto crypto;
    if (!BN_is_one(t))
        goto out;
    if (!BN_mod_mul(t, e, dq, qm1, ctx))
        goto crypto;
    if (!BN_is_one(t))
        goto out;
    if (BN_cmp(iqmp, p) >= 0 || !BN_mod_mul(t, iqmp, q, p, ctx))
        goto out;
    if (!BN_is_one(t))
        goto out;
    *dmp1 = dp;
    *dmq1 = dq;
    dp = dq = NULL;
    rv = 0;
    goto out;
crypto:
    rv = SSH_ERR_LIBCRYPTO;
out:
    BN_CTX_free(ctx);
    BN_clear_free(t);
    BN_clear_free(pm1);
    BN_clear_free(qm1);
    BN_clear_free(dp);
    BN_clear_free(dq);
    return rv == 0 ? 0 : crypto_fail(rv);
}

/* Build an RSA key.  d, p, q, iqmp, dmp1, dmq1 are all NULL for a public
 * key or all set. */
static int rsa_build(const BIGNUM *n, const BIGNUM *e, const BIGNUM *d, const BIGNUM *p,
                     const BIGNUM *q, const BIGNUM *iqmp, const BIGNUM *dmp1, const BIGNUM *dmq1,
                     EVP_PKEY **out)
{
    int rv = rsa_check_public(n, e);
    if (rv != 0)
        return rv;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    if (bld == NULL)
        return SSH_ERR_ALLOC;
    rv = SSH_ERR_LIBCRYPTO;
    if (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e))
        goto out;
    if (d != NULL && (!OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_D, d) ||
                      !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR1, p) ||
                      !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR2, q) ||
                      !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT1, dmp1) ||
                      !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT2, dmq1) ||
                      !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, iqmp)))
        goto out;
    rv = pkey_fromdata("RSA", d ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, bld, out);
out:
    OSSL_PARAM_BLD_free(bld);
    return rv == 0 ? 0 : crypto_fail(rv);
}

/* Which of our types an EVP_PKEY is. */
static int pkey_type(const EVP_PKEY *pk, enum ssh_key_type *type)
{
    if (EVP_PKEY_is_a(pk, "ED25519")) {
        *type = SSH_KEY_ED25519;
        return 0;
    }
    if (EVP_PKEY_is_a(pk, "RSA")) {
        *type = SSH_KEY_RSA;
        return 0;
    }
    if (EVP_PKEY_is_a(pk, "EC")) {
        char group[64];
        size_t glen = 0;
        /* Keys with explicit curve parameters have no group name: refused. */
        if (!EVP_PKEY_get_group_name(pk, group, sizeof(group), &glen))
            return crypto_fail(SSH_ERR_KEY_TYPE);
        int nid = OBJ_sn2nid(group);
        if (nid == NID_undef)
            nid = EC_curve_nist2nid(group);
        for (size_t i = 0; i < N_ELEM(key_infos); i++)
            if (key_infos[i].curve != NULL && key_infos[i].nid == nid) {
                *type = key_infos[i].type;
                return 0;
            }
    }
    return crypto_fail(SSH_ERR_KEY_TYPE);
}

/* Check a private key that libcrypto loaded (PEM) the way we check ours. */
static int check_loaded_private(enum ssh_key_type type, EVP_PKEY *pk)
{
    if (type == SSH_KEY_ED25519)
        return 0; /* libcrypto derives the public half from the seed */
    if (type != SSH_KEY_RSA)
        return pkey_check(pk, 1);
    BIGNUM *n = NULL, *e = NULL, *d = NULL, *p = NULL, *q = NULL, *iqmp = NULL;
    BIGNUM *dp = NULL, *dq = NULL;
    int rv;
    if ((rv = get_bn_param(pk, OSSL_PKEY_PARAM_RSA_N, &n)) != 0 ||
        (rv = get_bn_param(pk, OSSL_PKEY_PARAM_RSA_E, &e)) != 0 ||
        (rv = get_bn_param(pk, OSSL_PKEY_PARAM_RSA_D, &d)) != 0 ||
        (rv = get_bn_param(pk, OSSL_PKEY_PARAM_RSA_FACTOR1, &p)) != 0 ||
        (rv = get_bn_param(pk, OSSL_PKEY_PARAM_RSA_FACTOR2, &q)) != 0 ||
        (rv = get_bn_param(pk, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, &iqmp)) != 0) {
        rv = SSH_ERR_KEY_INVALID; /* e.g. no CRT factors */
        goto out;
    }
    rv = rsa_check_private(n, e, d, p, q, iqmp, &dp, &dq);
out:
    BN_free(n);
    BN_free(e);
    BN_clear_free(d);
    BN_clear_free(p);
    BN_clear_free(q);
    BN_clear_free(iqmp);
    BN_clear_free(dp);
    BN_clear_free(dq);
    return rv;
}

/* ---- public blobs ------------------------------------------------------ */

static int put_public_fields(const ssh_key *k, ssh_buf *b)
{
    int rv;
    switch (k->type) {
    case SSH_KEY_ED25519: {
        uint8_t pub[32];
        size_t len = sizeof(pub);
        if (!EVP_PKEY_get_raw_public_key(k->pkey, pub, &len) || len != sizeof(pub))
            return crypto_fail(SSH_ERR_LIBCRYPTO);
        return ssh_buf_put_string(b, pub, len);
    }
    case SSH_KEY_ECDSA_P256:
    case SSH_KEY_ECDSA_P384:
    case SSH_KEY_ECDSA_P521: {
        /* Build 0x04 || X || Y ourselves rather than ask for the encoded
         * point: that would follow the key's conversion form, which a PEM
         * file may have set to "compressed". */
        const struct key_info *ki = info_by_type(k->type);
        uint8_t q[1 + 2 * 66];
        BIGNUM *x = NULL, *y = NULL;
        if ((rv = get_bn_param(k->pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x)) != 0 ||
            (rv = get_bn_param(k->pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y)) != 0) {
            BN_free(x);
            return rv;
        }
        q[0] = 0x04;
        int ok = BN_bn2binpad(x, q + 1, (int)ki->field_bytes) > 0 &&
                 BN_bn2binpad(y, q + 1 + ki->field_bytes, (int)ki->field_bytes) > 0;
        BN_free(x);
        BN_free(y);
        if (!ok)
            return crypto_fail(SSH_ERR_LIBCRYPTO);
        if ((rv = ssh_buf_put_cstring(b, ki->curve)) != 0)
            return rv;
        return ssh_buf_put_string(b, q, 1 + 2 * ki->field_bytes);
    }
    case SSH_KEY_RSA: {
        BIGNUM *n = NULL, *e = NULL;
        if ((rv = get_bn_param(k->pkey, OSSL_PKEY_PARAM_RSA_N, &n)) != 0 ||
            (rv = get_bn_param(k->pkey, OSSL_PKEY_PARAM_RSA_E, &e)) != 0) {
            BN_free(n);
            return rv;
        }
        /* RFC 4253 section 6.6: e before n. */
        if ((rv = put_bn(b, e)) == 0)
            rv = put_bn(b, n);
        BN_free(n);
        BN_free(e);
        return rv;
    }
    default:
        return SSH_ERR_INTERNAL;
    }
}

int ssh_key_to_plain_blob(const ssh_key *k, ssh_buf *out)
{
    if (k == NULL || out == NULL)
        return SSH_ERR_ARGUMENT;
    size_t mark = ssh_buf_len(out);
    int rv = ssh_buf_put_cstring(out, info_by_type(k->type)->name);
    if (rv == 0)
        rv = put_public_fields(k, out);
    if (rv != 0)
        ssh_buf_consume_end(out, ssh_buf_len(out) - mark);
    return rv;
}

int ssh_key_to_blob(const ssh_key *k, ssh_buf *out)
{
    if (k == NULL || out == NULL)
        return SSH_ERR_ARGUMENT;
    if (k->cert != NULL) {
        /* Verbatim: the CA signed these very bytes. */
        size_t len;
        const uint8_t *blob = ssh_cert_blob(k->cert, &len);
        return ssh_buf_put(out, blob, len);
    }
    return ssh_key_to_plain_blob(k, out);
}

/* Read the type name at the head of a blob: a plain type, or a certificate
 * type (*cert set). */
static int get_type(ssh_cur *c, const struct key_info **ki, int *cert)
{
    char name[SSH_KEY_NAME_MAX];
    int rv = ssh_cur_get_cstr(c, name, sizeof(name));
    if (rv == SSH_ERR_TOO_LONG || rv == SSH_ERR_EMBEDDED_NUL)
        return SSH_ERR_KEY_TYPE;
    if (rv != 0)
        return rv;
    if ((*ki = info_by_name(name, cert)) == NULL)
        return SSH_ERR_KEY_TYPE;
    return 0;
}

/* Read and check the curve identifier of an ECDSA blob or private key. */
static int get_curve(ssh_cur *c, const struct key_info *ki)
{
    const uint8_t *p;
    size_t n;
    int rv = ssh_cur_get_string(c, &p, &n);
    if (rv != 0)
        return rv;
    if (n != strlen(ki->curve) || memcmp(p, ki->curve, n) != 0)
        return SSH_ERR_KEY_INVALID;
    return 0;
}

int ssh_key_get_public_fields(ssh_cur *c, enum ssh_key_type type, ssh_key **out)
{
    const struct key_info *ki = info_by_type(type);
    if (c == NULL || out == NULL || ki == NULL)
        return SSH_ERR_ARGUMENT;
    ssh_cur t = *c;
    EVP_PKEY *pk = NULL;
    const uint8_t *p;
    size_t n;
    int rv;
    switch (ki->type) {
    case SSH_KEY_ED25519:
        if ((rv = ssh_cur_get_string(&t, &p, &n)) != 0)
            return rv;
        if (n != 32)
            return SSH_ERR_KEY_INVALID;
        pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, p, n);
        if (pk == NULL)
            return crypto_fail(SSH_ERR_LIBCRYPTO);
        break;
    case SSH_KEY_ECDSA_P256:
    case SSH_KEY_ECDSA_P384:
    case SSH_KEY_ECDSA_P521:
        if ((rv = get_curve(&t, ki)) != 0 || (rv = ssh_cur_get_string(&t, &p, &n)) != 0)
            return rv;
        if ((rv = ec_build(ki, p, n, NULL, &pk)) != 0)
            return rv;
        break;
    case SSH_KEY_RSA: {
        BIGNUM *e = NULL, *nn = NULL;
        if ((rv = get_bn(&t, SSH_KEY_RSA_MAX_BITS / 8, 0, &e)) == 0 &&
            (rv = get_bn(&t, SSH_KEY_RSA_MAX_BITS / 8, 0, &nn)) == 0)
            rv = rsa_build(nn, e, NULL, NULL, NULL, NULL, NULL, NULL, &pk);
        BN_free(e);
        BN_free(nn);
        if (rv != 0)
            return rv;
        break;
    }
    default:
        return SSH_ERR_INTERNAL;
    }
    if ((rv = key_new(ki->type, pk, 0, out)) != 0)
        return rv;
    *c = t;
    return 0;
}

static int get_public(ssh_cur *c, int allow_cert, ssh_key **out)
{
    if (c == NULL || out == NULL)
        return SSH_ERR_ARGUMENT;
    ssh_cur t = *c;
    const struct key_info *ki;
    int cert, rv = get_type(&t, &ki, &cert);
    if (rv != 0)
        return rv;
    if (cert && !allow_cert)
        return SSH_ERR_KEY_TYPE;
    rv = cert ? ssh_cert_parse(&t, c->p, ki->type, out)
              : ssh_key_get_public_fields(&t, ki->type, out);
    if (rv == 0)
        *c = t;
    return rv;
}

int ssh_key_get_public(ssh_cur *c, ssh_key **out)
{
    return get_public(c, 1, out);
}

static int from_blob(const uint8_t *blob, size_t len, int allow_cert, ssh_key **out)
{
    if (blob == NULL || out == NULL)
        return SSH_ERR_ARGUMENT;
    ssh_cur c;
    ssh_key *k = NULL;
    ssh_cur_init(&c, blob, len);
    int rv = get_public(&c, allow_cert, &k);
    if (rv != 0)
        return rv;
    if ((rv = ssh_cur_end(&c)) != 0) {
        ssh_key_free(k);
        return rv;
    }
    *out = k;
    return 0;
}

int ssh_key_from_blob(const uint8_t *blob, size_t len, ssh_key **out)
{
    return from_blob(blob, len, 1, out);
}

int ssh_key_from_blob_plain(const uint8_t *blob, size_t len, ssh_key **out)
{
    return from_blob(blob, len, 0, out);
}

int ssh_key_from_evp(EVP_PKEY *pkey, int has_private, ssh_key **out)
{
    enum ssh_key_type type;
    ssh_key *k = NULL;
    ssh_buf blob;
    int rv;
    if (pkey == NULL || out == NULL) {
        EVP_PKEY_free(pkey);
        return SSH_ERR_ARGUMENT;
    }
    if ((rv = pkey_type(pkey, &type)) != 0) {
        EVP_PKEY_free(pkey);
        return rv;
    }
    if ((rv = key_new(type, pkey, has_private ? 1 : 0, &k)) != 0)
        return rv;
    /* Run the public half through our own blob parser: one place applies
     * every public-key rule (RSA size, uncompressed point on the curve). */
    ssh_buf_init(&blob, 0, 0);
    ssh_key *chk = NULL;
    if ((rv = ssh_key_to_blob(k, &blob)) == 0)
        rv = ssh_key_from_blob(ssh_buf_ptr(&blob), ssh_buf_len(&blob), &chk);
    ssh_key_free(chk);
    ssh_buf_free(&blob);
    if (rv == 0 && has_private)
        rv = check_loaded_private(type, pkey);
    if (rv != 0) {
        ssh_key_free(k);
        return rv == SSH_ERR_LIBCRYPTO ? SSH_ERR_KEY_INVALID : rv;
    }
    *out = k;
    return 0;
}

int ssh_key_public(const ssh_key *k, ssh_key **out)
{
    if (k == NULL || out == NULL)
        return SSH_ERR_ARGUMENT;
    ssh_buf b;
    ssh_key *p = NULL;
    ssh_cert *cert = NULL;
    int rv;
    if (!k->priv) {
        /* Already public only: share the libcrypto key (reference counted,
         * never modified once built) instead of encoding it and parsing
         * and validating it again.  A private key's public half needs a
         * new EVP_PKEY, so that no copy leads back to the secret. */
        if (!EVP_PKEY_up_ref(k->pkey))
            return crypto_fail(SSH_ERR_LIBCRYPTO);
        rv = key_new(k->type, k->pkey, 0, &p);
    } else {
        ssh_buf_init(&b, 0, 0);
        rv = ssh_key_to_plain_blob(k, &b);
        if (rv == 0)
            rv = ssh_key_from_blob_plain(ssh_buf_ptr(&b), ssh_buf_len(&b), &p);
        ssh_buf_free(&b);
    }
    /* The certificate is copied, not parsed again: its CA signature was
     * checked when it was. */
    if (rv == 0 && k->cert != NULL && (rv = ssh_cert_dup(k->cert, &cert)) == 0)
        ssh_key_set_cert(p, cert);
    if (rv != 0) {
        ssh_key_free(p);
        return rv;
    }
    *out = p;
    return 0;
}

int ssh_key_plain(const ssh_key *k, ssh_key **out)
{
    if (k == NULL || out == NULL)
        return SSH_ERR_ARGUMENT;
    /* The libcrypto key is shared: EVP_PKEYs are reference counted and
     * never modified once built. */
    if (!EVP_PKEY_up_ref(k->pkey))
        return crypto_fail(SSH_ERR_LIBCRYPTO);
    return key_new(k->type, k->pkey, k->priv, out);
}

int ssh_key_with_cert(const ssh_key *key, const ssh_key *cert, ssh_key **out)
{
    if (key == NULL || cert == NULL || out == NULL || cert->cert == NULL || key->cert != NULL)
        return SSH_ERR_ARGUMENT;
    ssh_buf a, b;
    ssh_buf_init(&a, 0, 0);
    ssh_buf_init(&b, 0, 0);
    int rv = ssh_key_to_plain_blob(key, &a);
    if (rv == 0)
        rv = ssh_key_to_plain_blob(cert, &b);
    int same = rv == 0 && ssh_buf_len(&a) == ssh_buf_len(&b) &&
               memcmp(ssh_buf_ptr(&a), ssh_buf_ptr(&b), ssh_buf_len(&a)) == 0;
    ssh_buf_free(&a);
    ssh_buf_free(&b);
    if (rv != 0)
        return rv;
    if (!same)
        return SSH_ERR_KEY_INVALID;
    ssh_cert *c = NULL;
    ssh_key *k = NULL;
    if ((rv = ssh_cert_dup(cert->cert, &c)) != 0)
        return rv;
    if (!EVP_PKEY_up_ref(key->pkey)) {
        ssh_cert_free(c);
        return crypto_fail(SSH_ERR_LIBCRYPTO);
    }
    if ((rv = key_new(key->type, key->pkey, key->priv, &k)) != 0) {
        ssh_cert_free(c);
        return rv;
    }
    ssh_key_set_cert(k, c);
    *out = k;
    return 0;
}

int ssh_key_equal_public(const ssh_key *a, const ssh_key *b)
{
    if (a == NULL || b == NULL || a->type != b->type)
        return 0;
    ssh_buf ba, bb;
    ssh_buf_init(&ba, 0, 0);
    ssh_buf_init(&bb, 0, 0);
    int eq = ssh_key_to_blob(a, &ba) == 0 && ssh_key_to_blob(b, &bb) == 0 &&
             ssh_buf_len(&ba) == ssh_buf_len(&bb) &&
             memcmp(ssh_buf_ptr(&ba), ssh_buf_ptr(&bb), ssh_buf_len(&ba)) == 0;
    ssh_buf_free(&ba);
    ssh_buf_free(&bb);
    return eq;
}

/* ---- private key encoding ---------------------------------------------- */

int ssh_key_put_private(const ssh_key *k, ssh_buf *b)
{
    if (k == NULL || b == NULL || !k->priv)
        return SSH_ERR_ARGUMENT;
    size_t mark = ssh_buf_len(b);
    int rv = ssh_buf_put_cstring(b, info_by_type(k->type)->name);
    if (rv != 0)
        return rv;
    switch (k->type) {
    case SSH_KEY_ED25519: {
        /* sk is seed || pk, as in the reference implementation (RFC 8032
         * keys are the 32-byte seed; the 64-byte form is historical). */
        uint8_t sk[64];
        size_t sl = 32, pl = 32;
        if (!EVP_PKEY_get_raw_private_key(k->pkey, sk, &sl) ||
            !EVP_PKEY_get_raw_public_key(k->pkey, sk + 32, &pl) || sl != 32 || pl != 32) {
            rv = crypto_fail(SSH_ERR_LIBCRYPTO);
        } else if ((rv = ssh_buf_put_string(b, sk + 32, 32)) == 0) {
            rv = ssh_buf_put_string(b, sk, 64);
        }
        OPENSSL_cleanse(sk, sizeof(sk));
        break;
    }
    case SSH_KEY_ECDSA_P256:
    case SSH_KEY_ECDSA_P384:
    case SSH_KEY_ECDSA_P521: {
        BIGNUM *d = NULL;
        if ((rv = put_public_fields(k, b)) == 0 &&
            (rv = get_bn_param(k->pkey, OSSL_PKEY_PARAM_PRIV_KEY, &d)) == 0)
            rv = put_bn(b, d);
        BN_clear_free(d);
        break;
    }
    case SSH_KEY_RSA: {
        static const char *const names[6] = {
            OSSL_PKEY_PARAM_RSA_N,       OSSL_PKEY_PARAM_RSA_E,
            OSSL_PKEY_PARAM_RSA_D,       OSSL_PKEY_PARAM_RSA_COEFFICIENT1,
            OSSL_PKEY_PARAM_RSA_FACTOR1, OSSL_PKEY_PARAM_RSA_FACTOR2,
        };
        for (int i = 0; i < 6 && rv == 0; i++) {
            BIGNUM *v = NULL;
            if ((rv = get_bn_param(k->pkey, names[i], &v)) == 0)
                rv = put_bn(b, v);
            BN_clear_free(v);
        }
        break;
    }
    default:
        rv = SSH_ERR_INTERNAL;
    }
    if (rv != 0)
        ssh_buf_consume_end(b, ssh_buf_len(b) - mark);
    return rv;
}

static int get_private_ed25519(ssh_cur *c, EVP_PKEY **out)
{
    const uint8_t *pk, *sk;
    size_t pkl, skl;
    uint8_t derived[32];
    size_t dl = sizeof(derived);
    int rv;
    if ((rv = ssh_cur_get_string(c, &pk, &pkl)) != 0 ||
        (rv = ssh_cur_get_string(c, &sk, &skl)) != 0)
        return rv;
    if (pkl != 32 || skl != 64 || CRYPTO_memcmp(sk + 32, pk, 32) != 0)
        return SSH_ERR_KEY_INVALID;
    EVP_PKEY *p = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, sk, 32);
    if (p == NULL)
        return crypto_fail(SSH_ERR_LIBCRYPTO);
    if (!EVP_PKEY_get_raw_public_key(p, derived, &dl) || dl != 32 ||
        CRYPTO_memcmp(derived, pk, 32) != 0) {
        EVP_PKEY_free(p);
        return crypto_fail(SSH_ERR_KEY_INVALID);
    }
    *out = p;
    return 0;
}

static int get_private_ec(ssh_cur *c, const struct key_info *ki, EVP_PKEY **out)
{
    const uint8_t *q;
    size_t ql;
    BIGNUM *d = NULL;
    int rv;
    if ((rv = get_curve(c, ki)) != 0 || (rv = ssh_cur_get_string(c, &q, &ql)) != 0 ||
        (rv = get_bn(c, ki->field_bytes, 1, &d)) != 0)
        return rv;
    rv = ec_build(ki, q, ql, d, out);
    BN_clear_free(d);
    return rv;
}

static int get_private_rsa(ssh_cur *c, EVP_PKEY **out)
{
    /* Order in the file: n, e, d, iqmp, p, q. */
    BIGNUM *v[6] = {NULL};
    BIGNUM *dp = NULL, *dq = NULL;
    const size_t max = SSH_KEY_RSA_MAX_BITS / 8;
    int rv = 0;
    for (int i = 0; i < 6 && rv == 0; i++)
        rv = get_bn(c, max, i >= 2, &v[i]);
    if (rv == 0 && (rv = rsa_check_public(v[0], v[1])) == 0 &&
        (rv = rsa_check_private(v[0], v[1], v[2], v[4], v[5], v[3], &dp, &dq)) == 0)
        rv = rsa_build(v[0], v[1], v[2], v[4], v[5], v[3], dp, dq, out);
    for (int i = 0; i < 6; i++)
        BN_clear_free(v[i]);
    BN_clear_free(dp);
    BN_clear_free(dq);
    return rv;
}

int ssh_key_get_private(ssh_cur *c, ssh_key **out)
{
    if (c == NULL || out == NULL)
        return SSH_ERR_ARGUMENT;
    ssh_cur t = *c;
    const struct key_info *ki;
    EVP_PKEY *pk = NULL;
    int cert, rv = get_type(&t, &ki, &cert);
    if (rv != 0)
        return rv;
    if (cert)
        return SSH_ERR_KEY_TYPE; /* private certificate encodings: not read */
    switch (ki->type) {
    case SSH_KEY_ED25519:
        rv = get_private_ed25519(&t, &pk);
        break;
    case SSH_KEY_RSA:
        rv = get_private_rsa(&t, &pk);
        break;
    default:
        rv = get_private_ec(&t, ki, &pk);
        break;
    }
    if (rv != 0)
        return rv;
    if ((rv = key_new(ki->type, pk, 1, out)) != 0)
        return rv;
    *c = t;
    return 0;
}

/* ---- signatures -------------------------------------------------------- */

/* Resolve and vet a signature algorithm for key k. */
static int pick_alg(const ssh_key *k, const char *alg, unsigned flags, const struct sig_alg **out)
{
    const struct sig_alg *sa = alg ? alg_by_name(alg) : alg_default(k->type);
    if (sa == NULL)
        return SSH_ERR_KEY_TYPE;
    /* A certificate algorithm signs as its plain algorithm (the key under
     * the certificate signs; PROTOCOL.certkeys). */
    if (sa->plain != NULL && (sa = alg_by_name(sa->plain)) == NULL)
        return SSH_ERR_INTERNAL;
    if (sa->type != k->type)
        return SSH_ERR_KEY_ALG_MISMATCH;
    if (sa->sha1 && !(flags & SSH_KEY_ALLOW_SHA1))
        return SSH_ERR_KEY_ALG_DISABLED;
    *out = sa;
    return 0;
}

/* ECDSA: libcrypto speaks DER (SEQUENCE { r, s }), SSH speaks
 * mpint r || mpint s (RFC 5656 section 3.1.2). */
static int ecdsa_der_to_ssh(const uint8_t *der, size_t len, ssh_buf *b)
{
    const unsigned char *p = der;
    ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)len);
    if (s == NULL)
        return crypto_fail(SSH_ERR_LIBCRYPTO);
    const BIGNUM *r, *sv;
    ECDSA_SIG_get0(s, &r, &sv);
    int rv = put_bn(b, r);
    if (rv == 0)
        rv = put_bn(b, sv);
    ECDSA_SIG_free(s);
    return rv;
}

static int ecdsa_ssh_to_der(const struct key_info *ki, const uint8_t *sig, size_t len,
                            uint8_t **der, size_t *derlen)
{
    ssh_cur c;
    BIGNUM *r = NULL, *s = NULL;
    ECDSA_SIG *es = NULL;
    unsigned char *d = NULL;
    int rv, dl;
    ssh_cur_init(&c, sig, len);
    if ((rv = get_bn(&c, ki->field_bytes, 0, &r)) != 0 ||
        (rv = get_bn(&c, ki->field_bytes, 0, &s)) != 0 || (rv = ssh_cur_end(&c)) != 0)
        goto out;
    if ((es = ECDSA_SIG_new()) == NULL || !ECDSA_SIG_set0(es, r, s)) {
        rv = crypto_fail(SSH_ERR_ALLOC);
        goto out;
    }
    r = s = NULL; /* owned by es now */
    dl = i2d_ECDSA_SIG(es, &d);
    if (dl <= 0) {
        rv = crypto_fail(SSH_ERR_LIBCRYPTO);
        goto out;
    }
    *der = d;
    *derlen = (size_t)dl;
    rv = 0;
out:
    if (rv == SSH_ERR_KEY_INVALID)
        rv = SSH_ERR_SIGNATURE; /* an r or s longer than the order */
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    return rv;
}

int ssh_key_sign(const ssh_key *k, const char *alg, unsigned flags, const uint8_t *data,
                 size_t dlen, ssh_buf *out)
{
    const struct sig_alg *sa;
    if (k == NULL || out == NULL || (data == NULL && dlen != 0))
        return SSH_ERR_ARGUMENT;
    if (!k->priv)
        return SSH_ERR_ARGUMENT;
    int rv = pick_alg(k, alg, flags, &sa);
    if (rv != 0)
        return rv;
    if (data == NULL)
        data = (const uint8_t *)"";

    EVP_MD_CTX *mc = EVP_MD_CTX_new();
    uint8_t *sig = NULL;
    size_t siglen = 0;
    ssh_buf inner;
    size_t mark = ssh_buf_len(out);
    ssh_buf_init(&inner, 0, 0);
    if (mc == NULL) {
        rv = SSH_ERR_ALLOC;
        goto out;
    }
    if (EVP_DigestSignInit(mc, NULL, sa->md ? sa->md() : NULL, NULL, k->pkey) != 1 ||
        EVP_DigestSign(mc, NULL, &siglen, data, dlen) != 1) {
        rv = crypto_fail(SSH_ERR_LIBCRYPTO);
        goto out;
    }
    if ((sig = malloc(siglen)) == NULL) {
        rv = SSH_ERR_ALLOC;
        goto out;
    }
    if (EVP_DigestSign(mc, sig, &siglen, data, dlen) != 1) {
        rv = crypto_fail(SSH_ERR_LIBCRYPTO);
        goto out;
    }
    if ((rv = ssh_buf_put_cstring(out, sa->name)) != 0)
        goto out;
    switch (k->type) {
    case SSH_KEY_ECDSA_P256:
    case SSH_KEY_ECDSA_P384:
    case SSH_KEY_ECDSA_P521:
        if ((rv = ecdsa_der_to_ssh(sig, siglen, &inner)) == 0)
            rv = ssh_buf_put_stringb(out, &inner);
        break;
    default:
        /* Ed25519: the 64 raw bytes (RFC 8709 section 6).  RSA: the
         * octet string of modulus length (RFC 8332 section 3), which is
         * what EVP_DigestSign returns. */
        rv = ssh_buf_put_string(out, sig, siglen);
        break;
    }
out:
    if (rv != 0)
        ssh_buf_consume_end(out, ssh_buf_len(out) - mark);
    EVP_MD_CTX_free(mc);
    free(sig);
    ssh_buf_free(&inner);
    return rv;
}

int ssh_sig_alg(const uint8_t *sig, size_t siglen, char *out, size_t outsz)
{
    if (sig == NULL || out == NULL)
        return SSH_ERR_ARGUMENT;
    ssh_cur c;
    ssh_cur_init(&c, sig, siglen);
    return ssh_cur_get_cstr(&c, out, outsz);
}

int ssh_key_verify(const ssh_key *k, const char *alg, unsigned flags, const uint8_t *sig,
                   size_t siglen, const uint8_t *data, size_t dlen)
{
    if (k == NULL || sig == NULL || (data == NULL && dlen != 0))
        return SSH_ERR_ARGUMENT;
    if (data == NULL)
        data = (const uint8_t *)"";

    /* string algorithm, string signature, nothing else. */
    ssh_cur c;
    char name[SSH_KEY_NAME_MAX];
    const uint8_t *sb;
    size_t sl;
    int rv;
    ssh_cur_init(&c, sig, siglen);
    rv = ssh_cur_get_cstr(&c, name, sizeof(name));
    if (rv == SSH_ERR_TOO_LONG || rv == SSH_ERR_EMBEDDED_NUL)
        return SSH_ERR_KEY_TYPE;
    if (rv != 0)
        return rv;
    if ((rv = ssh_cur_get_string(&c, &sb, &sl)) != 0 || (rv = ssh_cur_end(&c)) != 0)
        return rv;
    /* A certificate algorithm's signatures carry the plain name. */
    if (alg != NULL) {
        const char *want = ssh_key_alg_plain(alg);
        if (strcmp(want ? want : alg, name) != 0)
            return SSH_ERR_KEY_ALG_MISMATCH;
    }
    if (ssh_key_alg_is_cert(name))
        return SSH_ERR_KEY_TYPE;
    const struct sig_alg *sa;
    if ((rv = pick_alg(k, name, flags, &sa)) != 0)
        return rv;

    uint8_t *der = NULL;
    uint8_t *padded = NULL;
    const uint8_t *vs = sb;
    size_t vl = sl;
    switch (k->type) {
    case SSH_KEY_ED25519:
        if (sl != 64)
            return SSH_ERR_SIGNATURE;
        break;
    case SSH_KEY_RSA: {
        int mb = EVP_PKEY_get_size(k->pkey);
        if (mb <= 0)
            return crypto_fail(SSH_ERR_LIBCRYPTO);
        size_t modlen = (size_t)mb;
        if (sl == 0 || sl > modlen)
            return SSH_ERR_SIGNATURE;
        if (sl < modlen) {
            /* Left-pad a signature whose leading zeros were stripped, as
             * OpenSSH does (see the top of this file). */
            if ((padded = calloc(1, modlen)) == NULL)
                return SSH_ERR_ALLOC;
            memcpy(padded + (modlen - sl), sb, sl);
            vs = padded;
            vl = modlen;
        }
        break;
    }
    default:
        if ((rv = ecdsa_ssh_to_der(info_by_type(k->type), sb, sl, &der, &vl)) != 0)
            return rv;
        vs = der;
        break;
    }

    EVP_MD_CTX *mc = EVP_MD_CTX_new();
    if (mc == NULL) {
        rv = SSH_ERR_ALLOC;
    } else if (EVP_DigestVerifyInit(mc, NULL, sa->md ? sa->md() : NULL, NULL, k->pkey) != 1) {
        rv = crypto_fail(SSH_ERR_LIBCRYPTO);
    } else {
        /* 1 is valid; 0 is a wrong signature, negative a malformed one:
         * both are simply "does not verify" to the caller. */
        rv = EVP_DigestVerify(mc, vs, vl, data, dlen) == 1 ? 0 : crypto_fail(SSH_ERR_SIGNATURE);
    }
    EVP_MD_CTX_free(mc);
    OPENSSL_free(der);
    free(padded);
    return rv;
}

/* ---- generation -------------------------------------------------------- */

int ssh_key_generate(enum ssh_key_type type, unsigned bits, ssh_key **out)
{
    EVP_PKEY *pk = NULL;
    if (out == NULL)
        return SSH_ERR_ARGUMENT;
    switch (type) {
    case SSH_KEY_ED25519:
        pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        break;
    case SSH_KEY_ECDSA_P256:
    case SSH_KEY_ECDSA_P384:
    case SSH_KEY_ECDSA_P521:
        pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", info_by_type(type)->group);
        break;
    case SSH_KEY_RSA:
        if (bits == 0)
            bits = 3072;
        if (bits < SSH_KEY_RSA_MIN_BITS || bits > SSH_KEY_RSA_MAX_BITS)
            return SSH_ERR_ARGUMENT;
        pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
        break;
    default:
        return SSH_ERR_KEY_TYPE;
    }
    if (pk == NULL)
        return crypto_fail(SSH_ERR_LIBCRYPTO);
    return key_new(type, pk, 1, out);
}
