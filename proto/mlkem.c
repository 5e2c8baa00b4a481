/*
 * mlkem.c - ML-KEM-768 from FIPS 203 (August 2024), and the switch to
 * libcrypto's ML-KEM where the running OpenSSL has one (with this code as
 * the fallback should a call into it fail: both compute the same function
 * of the same seeds, so the peer cannot tell).
 *
 * Written from the standard's algorithms; the section and algorithm
 * numbers below are FIPS 203's.  The hash functions H = SHA3-256,
 * G = SHA3-512, J = SHAKE256(., 32), PRF = SHAKE256 and the XOF SHAKE128
 * come from libcrypto (EVP); only the lattice arithmetic is here:
 * polynomials in R_q = Z_q[X]/(X^256 + 1), q = 3329, k = 3, eta1 = eta2 = 2,
 * du = 10, dv = 4.
 *
 * Constant time.  Nothing secret decides a branch, an array index or a loop
 * bound: reductions are Barrett multiplications and masked subtractions,
 * Compress divides by q with a multiply-and-shift, CBD sampling and bit
 * packing are pure arithmetic, the decapsulation compares the ciphertexts
 * with an OR-accumulation and picks K' or J(z || c) with a mask.  Only
 * public data steers control flow: rejection sampling of the matrix A from
 * rho (section 4.2.2) and the encapsulation key check.  tests/unit/
 * test_pq_ct.c checks this under valgrind with every secret input marked
 * undefined (a branch or an address that depends on a secret is reported).
 * Every buffer that held a secret is cleansed before return.
 */
#include "mlkem.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "ct.h"
#include "sshtun/err.h"

#define Q   3329
#define N   256
#define K   3
#define ETA 2 /* eta1 = eta2 for ML-KEM-768 */
#define DU  10
#define DV  4

#define POLY_BYTES  384 /* ByteEncode_12 of one polynomial */
#define EKPKE_BYTES (K * POLY_BYTES + 32)
#define C1_BYTES    (K * 32 * DU)
#define C2_BYTES    (32 * DV)

typedef struct {
    uint16_t c[N]; /* coefficients in [0, q) */
} poly;

/* ---- hash functions (section 4.1) ------------------------------------------ */

static CRYPTO_ONCE md_once = CRYPTO_ONCE_STATIC_INIT;
static EVP_MD *md_h, *md_g, *md_xof, *md_prf;

static void md_init(void)
{
    md_h = EVP_MD_fetch(NULL, "SHA3-256", NULL);
    md_g = EVP_MD_fetch(NULL, "SHA3-512", NULL);
    md_xof = EVP_MD_fetch(NULL, "SHAKE128", NULL);
    md_prf = EVP_MD_fetch(NULL, "SHAKE256", NULL);
}

static int md_ready(void)
{
    return CRYPTO_THREAD_run_once(&md_once, md_init) && md_h && md_g && md_xof && md_prf;
}

/* out = md(a || b), outlen bytes (for the XOFs: any length). */
static int hash2(const EVP_MD *md, uint8_t *out, size_t outlen, const uint8_t *a, size_t alen,
                 const uint8_t *b, size_t blen)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx != NULL && EVP_DigestInit_ex(ctx, md, NULL) == 1 &&
             EVP_DigestUpdate(ctx, a, alen) == 1 &&
             (blen == 0 || EVP_DigestUpdate(ctx, b, blen) == 1);
    if (ok) {
        if (EVP_MD_get_flags(md) & EVP_MD_FLAG_XOF)
            ok = EVP_DigestFinalXOF(ctx, out, outlen) == 1;
        else
            ok = (size_t)EVP_MD_get_size(md) == outlen && EVP_DigestFinal_ex(ctx, out, NULL) == 1;
    }
    EVP_MD_CTX_free(ctx); /* cleanses the sponge state */
    return ok ? 0 : SSH_ERR_LIBCRYPTO;
}

/* ---- arithmetic modulo q ------------------------------------------------------ */

/* a - q if a >= q, for a < 2q: the borrow's sign bit becomes the mask. */
static uint16_t csubq(uint32_t a)
{
    a -= Q;
    a += (uint32_t)(-(int32_t)(a >> 31)) & Q;
    return (uint16_t)a;
}

/* x mod q for any 32-bit x.  Barrett: t = floor(x * floor(2^36 / q) / 2^36)
 * is floor(x / q) or one less, so x - t*q < 2q. */
static uint16_t modq(uint32_t x)
{
    uint32_t t = (uint32_t)(((uint64_t)x * 20642678u) >> 36);
    return csubq(x - t * Q);
}

/* floor(n / q) for n < 2^23: the multiplier rounded up errs by less than
 * 2^23 / 2^36 < 1/q, too little to reach the next integer. */
static uint32_t divq(uint32_t n)
{
    return (uint32_t)(((uint64_t)n * 20642679u) >> 36);
}

/* zeta^BitRev7(i) mod q, zeta = 17 (section 4.3). */
static const uint16_t zetas[128] = {
    1,    1729, 2580, 3289, 2642, 630,  1897, 848,  1062, 1919, 193,  797,  2786, 3260, 569,  1746,
    296,  2447, 1339, 1476, 3046, 56,   2240, 1333, 1426, 2094, 535,  2882, 2393, 2879, 1974, 821,
    289,  331,  3253, 1756, 1197, 2304, 2277, 2055, 650,  1977, 2513, 632,  2865, 33,   1320, 1915,
    2319, 1435, 807,  452,  1438, 2868, 1534, 2402, 2647, 2617, 1481, 648,  2474, 3110, 1227, 910,
    17,   2761, 583,  2649, 1637, 723,  2288, 1100, 1409, 2662, 3281, 233,  756,  2156, 3015, 3050,
    1703, 1651, 2789, 1789, 1847, 952,  1461, 2687, 939,  2308, 2437, 2388, 733,  2337, 268,  641,
    1584, 2298, 2037, 3220, 375,  2549, 2090, 1645, 1063, 319,  2773, 757,  2099, 561,  2466, 2594,
    2804, 1092, 403,  1026, 1143, 2150, 2775, 886,  1722, 1212, 1874, 1029, 2110, 2935, 885,  2154,
};

/* zeta^(2 BitRev7(i) + 1) mod q: the moduli of the 128 degree-2 factors
 * (section 4.3.1, equation 4.13). */
static const uint16_t gammas[128] = {
    17,   3312, 2761, 568,  583,  2746, 2649, 680,  1637, 1692, 723,  2606, 2288, 1041, 1100, 2229,
    1409, 1920, 2662, 667,  3281, 48,   233,  3096, 756,  2573, 2156, 1173, 3015, 314,  3050, 279,
    1703, 1626, 1651, 1678, 2789, 540,  1789, 1540, 1847, 1482, 952,  2377, 1461, 1868, 2687, 642,
    939,  2390, 2308, 1021, 2437, 892,  2388, 941,  733,  2596, 2337, 992,  268,  3061, 641,  2688,
    1584, 1745, 2298, 1031, 2037, 1292, 3220, 109,  375,  2954, 2549, 780,  2090, 1239, 1645, 1684,
    1063, 2266, 319,  3010, 2773, 556,  757,  2572, 2099, 1230, 561,  2768, 2466, 863,  2594, 735,
    2804, 525,  1092, 2237, 403,  2926, 1026, 2303, 1143, 2186, 2150, 1179, 2775, 554,  886,  2443,
    1722, 1607, 1212, 2117, 1874, 1455, 1029, 2300, 2110, 1219, 2935, 394,  885,  2444, 2154, 1175,
};

/* Algorithm 9: NTT, in place. */
static void ntt(poly *f)
{
    unsigned i = 1;
    for (unsigned len = 128; len >= 2; len >>= 1) {
        for (unsigned start = 0; start < N; start += 2 * len) {
            uint32_t zeta = zetas[i++];
            for (unsigned j = start; j < start + len; j++) {
                uint16_t t = modq(zeta * f->c[j + len]);
                f->c[j + len] = csubq((uint32_t)f->c[j] + Q - t);
                f->c[j] = csubq((uint32_t)f->c[j] + t);
            }
        }
    }
}

/* Algorithm 10: NTT^-1, in place, including the final factor 128^-1 = 3303. */
static void ntt_inv(poly *f)
{
    unsigned i = 127;
    for (unsigned len = 2; len <= 128; len <<= 1) {
        for (unsigned start = 0; start < N; start += 2 * len) {
            uint32_t zeta = zetas[i--];
            for (unsigned j = start; j < start + len; j++) {
                uint16_t t = f->c[j];
                f->c[j] = csubq((uint32_t)t + f->c[j + len]);
                f->c[j + len] = modq(zeta * ((uint32_t)f->c[j + len] + Q - t));
            }
        }
    }
    for (unsigned j = 0; j < N; j++)
        f->c[j] = modq(3303u * f->c[j]);
}

/* Algorithms 11 and 12: h += f x g in the NTT domain, unreduced sums kept
 * below 2^32 by the caller (at most a few products are added). */
static void mul_acc(uint32_t acc[N], const poly *f, const poly *g)
{
    for (unsigned i = 0; i < N / 2; i++) {
        uint32_t a0 = f->c[2 * i], a1 = f->c[2 * i + 1];
        uint32_t b0 = g->c[2 * i], b1 = g->c[2 * i + 1];
        acc[2 * i] += modq(a0 * b0 + (uint32_t)modq(a1 * b1) * gammas[i]);
        acc[2 * i + 1] += modq(a0 * b1 + a1 * b0);
    }
}

static void poly_add(poly *r, const poly *a)
{
    for (unsigned i = 0; i < N; i++)
        r->c[i] = csubq((uint32_t)r->c[i] + a->c[i]);
}

/* ---- sampling (section 4.2.2) -------------------------------------------------- */

/* Algorithm 7: SampleNTT(rho || j || i).  Public input: rejection sampling
 * may take variable time.  SHAKE128 is squeezed in one go (OpenSSL 3.0 has
 * no incremental squeeze); if the first 3 blocks do not yield 256
 * coefficients (probability below 2^-30) the stream is simply produced
 * again, longer, and read on from where it stopped. */
static int sample_ntt(poly *a, const uint8_t rho[32], uint8_t j, uint8_t i)
{
    uint8_t seed[34];
    uint8_t buf[168 * 12];
    size_t have = 168 * 3, pos = 0;
    unsigned n = 0;
    memcpy(seed, rho, 32);
    seed[32] = j;
    seed[33] = i;
    if (hash2(md_xof, buf, have, seed, sizeof(seed), NULL, 0) != 0)
        return SSH_ERR_LIBCRYPTO;
    while (n < N) {
        if (pos + 3 > have) {
            if (have == sizeof(buf))
                return SSH_ERR_INTERNAL; /* 2016 bytes without 256 hits: not SHAKE */
            have = sizeof(buf);
            if (hash2(md_xof, buf, have, seed, sizeof(seed), NULL, 0) != 0)
                return SSH_ERR_LIBCRYPTO;
        }
        uint16_t d1 = (uint16_t)(buf[pos] | ((buf[pos + 1] & 0x0f) << 8));
        uint16_t d2 = (uint16_t)((buf[pos + 1] >> 4) | (buf[pos + 2] << 4));
        pos += 3;
        if (d1 < Q)
            a->c[n++] = d1;
        if (d2 < Q && n < N)
            a->c[n++] = d2;
    }
    return 0;
}

/* The matrix A-hat of K-PKE: A[i][j] = SampleNTT(rho || j || i). */
static int sample_matrix(poly a[K][K], const uint8_t rho[32])
{
    for (uint8_t i = 0; i < K; i++)
        for (uint8_t j = 0; j < K; j++) {
            int rv = sample_ntt(&a[i][j], rho, j, i);
            if (rv != 0)
                return rv;
        }
    return 0;
}

/* Algorithm 8 for eta = 2 on PRF_2(s, b) = SHAKE256(s || b, 128): each
 * coefficient is (b0 + b1) - (b2 + b3) of four consecutive bits. */
static int sample_cbd(poly *f, const uint8_t s[32], uint8_t b)
{
    uint8_t buf[64 * ETA];
    int rv = hash2(md_prf, buf, sizeof(buf), s, 32, &b, 1);
    if (rv == 0) {
        for (unsigned i = 0; i < N / 2; i++) {
            uint32_t v = buf[i];
            for (unsigned h = 0; h < 2; h++, v >>= 4) {
                uint32_t x = (v & 1) + ((v >> 1) & 1);
                uint32_t y = ((v >> 2) & 1) + ((v >> 3) & 1);
                f->c[2 * i + h] = csubq(x + Q - y);
            }
        }
    }
    OPENSSL_cleanse(buf, sizeof(buf));
    return rv;
}

/* ---- encoding and compression (section 4.2.1) ------------------------------- */

/* Algorithm 5: ByteEncode_d, little-endian bit packing of 256 d-bit values. */
static void byte_encode(uint8_t *out, const poly *f, unsigned d)
{
    uint64_t acc = 0;
    unsigned bits = 0;
    for (unsigned i = 0; i < N; i++) {
        acc |= (uint64_t)f->c[i] << bits;
        bits += d;
        while (bits >= 8) {
            *out++ = (uint8_t)acc;
            acc >>= 8;
            bits -= 8;
        }
    }
}

/* Algorithm 6: ByteDecode_d; for d = 12 the values are reduced modulo q
 * (a decapsulation key is trusted to hold reduced ones; this keeps a
 * damaged one inside the arithmetic's range). */
static void byte_decode(poly *f, const uint8_t *in, unsigned d)
{
    uint64_t acc = 0;
    unsigned bits = 0;
    uint32_t mask = (1u << d) - 1;
    for (unsigned i = 0; i < N; i++) {
        while (bits < d) {
            acc |= (uint64_t)*in++ << bits;
            bits += 8;
        }
        uint32_t v = (uint32_t)acc & mask;
        acc >>= d;
        bits -= d;
        f->c[i] = d == 12 ? csubq(v) : (uint16_t)v;
    }
}

/* Compress_d (equation 4.7): round(2^d x / q) mod 2^d, q odd so that
 * round(y / q) = floor((y + (q - 1) / 2) / q). */
static void compress(poly *f, unsigned d)
{
    for (unsigned i = 0; i < N; i++)
        f->c[i] = (uint16_t)(divq(((uint32_t)f->c[i] << d) + (Q - 1) / 2) & ((1u << d) - 1));
}

/* Decompress_d (equation 4.8): round(q y / 2^d). */
static void decompress(poly *f, unsigned d)
{
    for (unsigned i = 0; i < N; i++)
        f->c[i] = (uint16_t)(((uint32_t)f->c[i] * Q + (1u << (d - 1))) >> d);
}

/* ---- K-PKE (section 5) -------------------------------------------------------------- */

/* Algorithm 13: K-PKE.KeyGen(d): ek_PKE (1184 bytes), dk_PKE (1152). */
static int kpke_keygen(uint8_t ek[EKPKE_BYTES], uint8_t dkp[K * POLY_BYTES], const uint8_t d[32])
{
    uint8_t rs[64], kbyte = K; /* rho || sigma = G(d || k) */
    poly a[K][K], s[K], e;
    uint32_t acc[N];
    int rv;
    if ((rv = hash2(md_g, rs, sizeof(rs), d, 32, &kbyte, 1)) != 0)
        goto out;
    SSH_CT_PUBLIC(rs, 32); /* rho: goes into ek as it is */
    if ((rv = sample_matrix(a, rs)) != 0)
        goto out;
    for (unsigned i = 0; i < K; i++) {
        if ((rv = sample_cbd(&s[i], rs + 32, (uint8_t)i)) != 0)
            goto out;
        ntt(&s[i]);
    }
    for (unsigned i = 0; i < K; i++) {
        /* t_i = sum_j A[i][j] s_j + e_i, in the NTT domain */
        if ((rv = sample_cbd(&e, rs + 32, (uint8_t)(K + i))) != 0)
            goto out;
        ntt(&e);
        memset(acc, 0, sizeof(acc));
        for (unsigned j = 0; j < K; j++)
            mul_acc(acc, &a[i][j], &s[j]);
        for (unsigned n = 0; n < N; n++)
            e.c[n] = modq(acc[n] + e.c[n]);
        byte_encode(ek + i * POLY_BYTES, &e, 12);
        byte_encode(dkp + i * POLY_BYTES, &s[i], 12);
    }
    memcpy(ek + K * POLY_BYTES, rs, 32);
out:
    OPENSSL_cleanse(rs, sizeof(rs));
    OPENSSL_cleanse(s, sizeof(s));
    OPENSSL_cleanse(&e, sizeof(e));
    OPENSSL_cleanse(acc, sizeof(acc));
    return rv;
}

/* Algorithm 14: K-PKE.Encrypt(ek_PKE, m, r).  `a` is A-hat of ek's rho,
 * sampled by the caller (decapsulation re-encrypts with the same key). */
static int kpke_encrypt(uint8_t c[SSH_MLKEM768_CT_BYTES], const uint8_t ek[EKPKE_BYTES],
                        const poly a[K][K], const uint8_t m[32], const uint8_t r[32])
{
    poly y[K], t, u, mu;
    uint32_t acc[N];
    int rv = 0;
    for (unsigned i = 0; i < K; i++) {
        if ((rv = sample_cbd(&y[i], r, (uint8_t)i)) != 0)
            goto out;
        ntt(&y[i]);
    }
    /* u_i = NTT^-1(sum_j A[j][i] y_j) + e1_i (A transposed) */
    for (unsigned i = 0; i < K; i++) {
        memset(acc, 0, sizeof(acc));
        for (unsigned j = 0; j < K; j++)
            mul_acc(acc, &a[j][i], &y[j]);
        for (unsigned n = 0; n < N; n++)
            u.c[n] = modq(acc[n]);
        ntt_inv(&u);
        if ((rv = sample_cbd(&t, r, (uint8_t)(K + i))) != 0) /* e1_i */
            goto out;
        poly_add(&u, &t);
        compress(&u, DU);
        byte_encode(c + i * 32 * DU, &u, DU);
    }
    /* v = NTT^-1(t^T y) + e2 + Decompress_1(m) */
    memset(acc, 0, sizeof(acc));
    for (unsigned i = 0; i < K; i++) {
        byte_decode(&t, ek + i * POLY_BYTES, 12);
        mul_acc(acc, &t, &y[i]);
    }
    for (unsigned n = 0; n < N; n++)
        u.c[n] = modq(acc[n]);
    ntt_inv(&u);
    if ((rv = sample_cbd(&t, r, 2 * K)) != 0) /* e2 */
        goto out;
    poly_add(&u, &t);
    byte_decode(&mu, m, 1);
    decompress(&mu, 1);
    poly_add(&u, &mu);
    compress(&u, DV);
    byte_encode(c + C1_BYTES, &u, DV);
out:
    OPENSSL_cleanse(y, sizeof(y));
    OPENSSL_cleanse(&t, sizeof(t));
    OPENSSL_cleanse(&u, sizeof(u));
    OPENSSL_cleanse(&mu, sizeof(mu));
    OPENSSL_cleanse(acc, sizeof(acc));
    return rv;
}

/* Algorithm 15: K-PKE.Decrypt(dk_PKE, c) -> m. */
static void kpke_decrypt(uint8_t m[32], const uint8_t dkp[K * POLY_BYTES],
                         const uint8_t c[SSH_MLKEM768_CT_BYTES])
{
    poly s, u, v;
    uint32_t acc[N];
    memset(acc, 0, sizeof(acc));
    for (unsigned i = 0; i < K; i++) {
        byte_decode(&u, c + i * 32 * DU, DU);
        decompress(&u, DU);
        ntt(&u);
        byte_decode(&s, dkp + i * POLY_BYTES, 12);
        mul_acc(acc, &s, &u);
    }
    for (unsigned n = 0; n < N; n++)
        u.c[n] = modq(acc[n]);
    ntt_inv(&u);
    byte_decode(&v, c + C1_BYTES, DV);
    decompress(&v, DV);
    for (unsigned n = 0; n < N; n++)
        v.c[n] = csubq((uint32_t)v.c[n] + Q - u.c[n]); /* w = v' - s^T u' */
    compress(&v, 1);
    byte_encode(m, &v, 1);
    OPENSSL_cleanse(&s, sizeof(s));
    OPENSSL_cleanse(&u, sizeof(u));
    OPENSSL_cleanse(&v, sizeof(v));
    OPENSSL_cleanse(acc, sizeof(acc));
}

/* ---- input checks (section 7) ------------------------------------------------------- */

int ssh_mlkem768_check_ek(const uint8_t ek[SSH_MLKEM768_EK_BYTES])
{
    /* ByteEncode_12(ByteDecode_12(ek)) == ek: every 12-bit value < q.
     * The key is public; an early exit is fine. */
    for (size_t i = 0; i < K * POLY_BYTES; i += 3) {
        uint32_t d1 = ek[i] | ((uint32_t)(ek[i + 1] & 0x0f) << 8);
        uint32_t d2 = (ek[i + 1] >> 4) | ((uint32_t)ek[i + 2] << 4);
        if (d1 >= Q || d2 >= Q)
            return SSH_ERR_KEY_INVALID;
    }
    return 0;
}

int ssh_mlkem768_check_dk(const uint8_t dk[SSH_MLKEM768_DK_BYTES])
{
    uint8_t h[32];
    if (!md_ready() || hash2(md_h, h, 32, dk + K * POLY_BYTES, EKPKE_BYTES, NULL, 0) != 0)
        return SSH_ERR_LIBCRYPTO;
    /* Both halves are public (ek and its hash). */
    return memcmp(h, dk + K * POLY_BYTES + EKPKE_BYTES, 32) == 0 ? 0 : SSH_ERR_KEY_INVALID;
}

/* ---- ML-KEM, the engine's own (section 6) ------------------------------------------- */

static int own_keygen(uint8_t *ek, uint8_t *dk, const uint8_t *d, const uint8_t *z)
{
    int rv;
    if (!md_ready())
        return SSH_ERR_LIBCRYPTO;
    /* dk = dk_PKE || ek || H(ek) || z */
    if ((rv = kpke_keygen(ek, dk, d)) != 0) {
        OPENSSL_cleanse(dk, SSH_MLKEM768_DK_BYTES);
        return rv;
    }
    memcpy(dk + K * POLY_BYTES, ek, EKPKE_BYTES);
    if ((rv = hash2(md_h, dk + K * POLY_BYTES + EKPKE_BYTES, 32, ek, EKPKE_BYTES, NULL, 0)) != 0) {
        OPENSSL_cleanse(dk, SSH_MLKEM768_DK_BYTES);
        return rv;
    }
    memcpy(dk + K * POLY_BYTES + EKPKE_BYTES + 32, z, 32);
    return 0;
}

static int own_encaps(uint8_t *ct, uint8_t *ss, const uint8_t *ek, const uint8_t *m)
{
    uint8_t h[32], kr[64];
    poly a[K][K];
    int rv;
    /* (K, r) = G(m || H(ek)); c = K-PKE.Encrypt(ek, m, r) */
    if ((rv = hash2(md_h, h, 32, ek, EKPKE_BYTES, NULL, 0)) == 0 &&
        (rv = hash2(md_g, kr, 64, m, 32, h, 32)) == 0 &&
        (rv = sample_matrix(a, ek + K * POLY_BYTES)) == 0 &&
        (rv = kpke_encrypt(ct, ek, a, m, kr + 32)) == 0)
        memcpy(ss, kr, 32);
    OPENSSL_cleanse(kr, sizeof(kr));
    return rv;
}

static int own_decaps(uint8_t *ss, const uint8_t *ct, const uint8_t *dk)
{
    const uint8_t *ek = dk + K * POLY_BYTES;
    const uint8_t *h = ek + EKPKE_BYTES, *z = h + 32;
    uint8_t mh[64], kr[64], kbar[32], c2[SSH_MLKEM768_CT_BYTES];
    poly a[K][K];
    int rv;
    kpke_decrypt(mh, dk, ct); /* m' */
    memcpy(mh + 32, h, 32);
    if ((rv = hash2(md_g, kr, 64, mh, 64, NULL, 0)) != 0 || /* (K', r') = G(m' || h) */
        (rv = hash2(md_prf, kbar, 32, z, 32, ct, SSH_MLKEM768_CT_BYTES)) != 0 || /* J(z || c) */
        (rv = sample_matrix(a, ek + K * POLY_BYTES)) != 0 ||
        (rv = kpke_encrypt(c2, ek, a, mh, kr + 32)) != 0)
        goto out;
    /* c == c' without an early exit, then K' or K-bar by a mask. */
    uint32_t diff = 0;
    for (size_t i = 0; i < SSH_MLKEM768_CT_BYTES; i++)
        diff |= (uint32_t)(ct[i] ^ c2[i]);
    uint8_t same = (uint8_t)(0u - (((diff - 1) >> 8) & 1)); /* 0xff iff diff == 0 */
    for (size_t i = 0; i < 32; i++)
        ss[i] = (uint8_t)(kbar[i] ^ (same & (kr[i] ^ kbar[i])));
out:
    OPENSSL_cleanse(mh, sizeof(mh));
    OPENSSL_cleanse(kr, sizeof(kr));
    OPENSSL_cleanse(kbar, sizeof(kbar));
    OPENSSL_cleanse(c2, sizeof(c2));
    return rv;
}

/* ---- libcrypto's ML-KEM (OpenSSL 3.5 and later) ------------------------------------- */

/* The parameter names of OpenSSL 3.5's ML-KEM; written out so that this
 * compiles (and is checked by the compiler) against 3.0 headers too, where
 * the run-time probe below then finds no ML-KEM and it is never called. */
#ifndef OSSL_PKEY_PARAM_ML_KEM_SEED
#define OSSL_PKEY_PARAM_ML_KEM_SEED "seed"
#endif
#ifndef OSSL_KEM_PARAM_IKME
#define OSSL_KEM_PARAM_IKME "ikme"
#endif
#define MLKEM_NAME "ML-KEM-768"

static CRYPTO_ONCE probe_once = CRYPTO_ONCE_STATIC_INIT;
static int have_libcrypto;
static enum ssh_mlkem_mode forced;

static void probe(void)
{
    ERR_set_mark();
    EVP_KEM *kem = EVP_KEM_fetch(NULL, MLKEM_NAME, NULL);
    have_libcrypto = kem != NULL;
    EVP_KEM_free(kem);
    ERR_pop_to_mark();
}

static int use_libcrypto(void)
{
    if (forced == SSH_MLKEM_LIBCRYPTO || forced == SSH_MLKEM_TRY_LIBCRYPTO)
        return 1;
    if (forced == SSH_MLKEM_BUILTIN || !CRYPTO_THREAD_run_once(&probe_once, probe))
        return 0;
    return have_libcrypto;
}

/* After a failure of libcrypto's: try the engine's own (same results). */
static int fall_back(int rv)
{
    return rv == SSH_ERR_LIBCRYPTO && forced != SSH_MLKEM_LIBCRYPTO && md_ready();
}

const char *ssh_mlkem768_backend(void)
{
    return use_libcrypto() ? "libcrypto" : "sshtun";
}

void ssh_mlkem768_force(enum ssh_mlkem_mode mode)
{
    forced = mode;
}

static int ossl_keygen(uint8_t *ek, uint8_t *dk, const uint8_t *d, const uint8_t *z)
{
    int rv = SSH_ERR_LIBCRYPTO;
    uint8_t seed[64];
    size_t n;
    EVP_PKEY *pk = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, MLKEM_NAME, NULL);
    memcpy(seed, d, 32);
    memcpy(seed + 32, z, 32);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_ML_KEM_SEED, seed, sizeof(seed)),
        OSSL_PARAM_construct_end(),
    };
    if (ctx != NULL && EVP_PKEY_keygen_init(ctx) == 1 &&
        EVP_PKEY_CTX_set_params(ctx, params) == 1 && EVP_PKEY_generate(ctx, &pk) == 1 &&
        EVP_PKEY_get_raw_public_key(pk, ek, (n = SSH_MLKEM768_EK_BYTES, &n)) == 1 &&
        n == SSH_MLKEM768_EK_BYTES &&
        EVP_PKEY_get_raw_private_key(pk, dk, (n = SSH_MLKEM768_DK_BYTES, &n)) == 1 &&
        n == SSH_MLKEM768_DK_BYTES)
        rv = 0;
    if (rv != 0)
        OPENSSL_cleanse(dk, SSH_MLKEM768_DK_BYTES);
    OPENSSL_cleanse(seed, sizeof(seed));
    EVP_PKEY_free(pk);
    EVP_PKEY_CTX_free(ctx);
    return rv;
}

static int ossl_encaps(uint8_t *ct, uint8_t *ss, const uint8_t *ek, const uint8_t *m)
{
    int rv = SSH_ERR_LIBCRYPTO;
    uint8_t mcopy[32];
    size_t ctlen = SSH_MLKEM768_CT_BYTES, sslen = SSH_MLKEM_SS_BYTES;
    EVP_PKEY *pk =
        EVP_PKEY_new_raw_public_key_ex(NULL, MLKEM_NAME, NULL, ek, SSH_MLKEM768_EK_BYTES);
    EVP_PKEY_CTX *ctx = pk ? EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL) : NULL;
    memcpy(mcopy, m, 32);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_KEM_PARAM_IKME, mcopy, sizeof(mcopy)),
        OSSL_PARAM_construct_end(),
    };
    if (ctx != NULL && EVP_PKEY_encapsulate_init(ctx, params) == 1 &&
        EVP_PKEY_encapsulate(ctx, ct, &ctlen, ss, &sslen) == 1 && ctlen == SSH_MLKEM768_CT_BYTES &&
        sslen == SSH_MLKEM_SS_BYTES)
        rv = 0;
    OPENSSL_cleanse(mcopy, sizeof(mcopy));
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pk);
    return rv;
}

static int ossl_decaps(uint8_t *ss, const uint8_t *ct, const uint8_t *dk)
{
    int rv = SSH_ERR_LIBCRYPTO;
    size_t sslen = SSH_MLKEM_SS_BYTES;
    EVP_PKEY *pk =
        EVP_PKEY_new_raw_private_key_ex(NULL, MLKEM_NAME, NULL, dk, SSH_MLKEM768_DK_BYTES);
    EVP_PKEY_CTX *ctx = pk ? EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL) : NULL;
    if (ctx != NULL && EVP_PKEY_decapsulate_init(ctx, NULL) == 1 &&
        EVP_PKEY_decapsulate(ctx, ss, &sslen, ct, SSH_MLKEM768_CT_BYTES) == 1 &&
        sslen == SSH_MLKEM_SS_BYTES)
        rv = 0;
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pk); /* libcrypto cleanses the key */
    return rv;
}

/* ---- the interface ------------------------------------------------------------------ */

int ssh_mlkem768_keygen(uint8_t ek[SSH_MLKEM768_EK_BYTES], uint8_t dk[SSH_MLKEM768_DK_BYTES],
                        const uint8_t d[SSH_MLKEM_SEED_BYTES],
                        const uint8_t z[SSH_MLKEM_SEED_BYTES])
{
    if (use_libcrypto()) {
        int rv = ossl_keygen(ek, dk, d, z);
        if (!fall_back(rv))
            return rv;
    }
    return own_keygen(ek, dk, d, z);
}

int ssh_mlkem768_encaps(uint8_t ct[SSH_MLKEM768_CT_BYTES], uint8_t ss[SSH_MLKEM_SS_BYTES],
                        const uint8_t ek[SSH_MLKEM768_EK_BYTES],
                        const uint8_t m[SSH_MLKEM_SEED_BYTES])
{
    int rv;
    if ((rv = ssh_mlkem768_check_ek(ek)) != 0)
        return rv;
    if (use_libcrypto() && !fall_back(rv = ossl_encaps(ct, ss, ek, m)))
        return rv;
    return md_ready() ? own_encaps(ct, ss, ek, m) : SSH_ERR_LIBCRYPTO;
}

int ssh_mlkem768_decaps(uint8_t ss[SSH_MLKEM_SS_BYTES], const uint8_t ct[SSH_MLKEM768_CT_BYTES],
                        const uint8_t dk[SSH_MLKEM768_DK_BYTES])
{
    int rv;
    if ((rv = ssh_mlkem768_check_dk(dk)) != 0)
        return rv;
    if (use_libcrypto() && !fall_back(rv = ossl_decaps(ss, ct, dk)))
        return rv;
    return own_decaps(ss, ct, dk);
}
