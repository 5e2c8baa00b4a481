/*
 * sntrup761.c - Streamlined NTRU Prime sntrup761, written from the NTRU
 * Prime round-3 specification ("NTRU Prime: round 3", 2020-10-07): p = 761,
 * q = 4591, w = 286, R = Z[x]/(x^p - x - 1).
 *
 *   KeyGen: g random small, retried until invertible in R/3; f random short
 *           (weight w); h = g / (3f) in R/q.  pk = Rq_encode(h);
 *           sk = Small(f) || Small(1/g in R/3) || pk || rho || Hash4(pk),
 *           rho 191 random bytes.
 *   Encap:  r random short; c = Round(h r); C = Rounded_encode(c) ||
 *           HashConfirm(r, pk); K = HashSession(1, r, C).
 *   Decap:  e = 3 f c in R/q, lifted and reduced mod 3; v = e / g in R/3;
 *           r' = v if it has weight w, else (1,..,1,0,..,0); re-encrypt r';
 *           K = HashSession(1, r', C) if the result equals C, else
 *           HashSession(0, rho, C) (implicit rejection).
 *   Hash_b(x) = first 32 bytes of SHA-512(b || x); HashConfirm(r, pk) =
 *   Hash2(Hash3(Small(r)) || Hash4(pk)); HashSession(b, y, C) =
 *   Hash_b(Hash3(y) || C).  SHA-512 comes from libcrypto.
 *
 * Constant time: no secret decides a branch, an index or a loop bound.
 * Reductions mod q and mod 3 are multiply-and-shift; the short vectors come
 * from a sorting network with branch-free compare-exchange; the
 * inversions in R/3 and R/q run Bernstein-Yang "divsteps" (a fixed 2p - 1
 * steps, swaps and updates by masks); the weight test, the ciphertext
 * comparison and the choice of r' or rho are masks.  Only the retry of an
 * uninvertible g branches, on a value that is then thrown away.  The
 * generic Encode/Decode of section 3 runs on public values only (the public
 * key and the ciphertext).  tests/unit/test_pq_ct.c checks all this under
 * valgrind with the secret inputs marked undefined.
 */
#include "sntrup761.h"

#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "ct.h"
#include "sshtun/err.h"

#define P   761
#define Q   4591
#define W   286
#define Q12 ((Q - 1) / 2) /* 2295 */

#define SMALL_BYTES   191  /* (p + 3) / 4 */
#define RQ_BYTES      1158 /* Encode of p values mod q */
#define ROUNDED_BYTES 1007 /* Encode of p values mod (q + 2) / 3 */
#define HASH_BYTES    32

typedef int8_t small; /* -1, 0, 1 */
typedef int16_t fq;   /* -(q-1)/2 .. (q-1)/2 */

/* ---- arithmetic --------------------------------------------------------------------- */

/* x mod q, centered, for |x| < 2^25.  Shifted by a multiple of q to be
 * non-negative, Barrett-reduced with floor(2^40 / q), one masked
 * subtraction into [0, q), one into the centered range. */
static fq fq_freeze(int32_t x)
{
    uint32_t y = (uint32_t)(x + 7310 * Q); /* 7310 q > 2^25 */
    uint32_t t = (uint32_t)(((uint64_t)y * 239492839u) >> 40);
    int32_t r = (int32_t)(y - t * Q); /* [0, 2q) */
    r -= Q;
    r += (r >> 31) & Q;                             /* [0, q) */
    r -= Q & -(int32_t)((uint32_t)(Q12 - r) >> 31); /* > (q-1)/2: subtract q */
    return (fq)r;
}

/* x mod 3, centered, for |x| < 2^20. */
static small f3_freeze(int32_t x)
{
    uint32_t y = (uint32_t)(x + 3 * (1 << 20));
    uint32_t t = (uint32_t)(((uint64_t)y * 1431655766u) >> 32); /* floor(y / 3) */
    int32_t r = (int32_t)(y - 3 * t);                           /* 0, 1, 2 */
    return (small)(r - (3 & -(r >> 1)));
}

/* -1 if x != 0 else 0. */
static int32_t nonzero_mask(int32_t x)
{
    return -(int32_t)((uint32_t)(x | -x) >> 31);
}

/* -1 if x < 0 else 0. */
static int32_t negative_mask(int32_t x)
{
    return x >> 31;
}

/* a^(q-2) mod q: the inverse of a nonzero a (square and multiply over the
 * public exponent). */
static fq fq_recip(fq a)
{
    int32_t r = 1, b = a;
    for (unsigned e = Q - 2; e; e >>= 1) {
        if (e & 1)
            r = fq_freeze(r * b);
        b = fq_freeze(b * b);
    }
    return (fq)r;
}

/* h = f g in R/q, g small.  Schoolbook product, then x^p = x + 1 folds the
 * top half down (from the top, so each folded index is below p). */
static void rq_mult_small(fq *h, const fq *f, const small *g)
{
    int32_t fg[2 * P - 1];
    memset(fg, 0, sizeof(fg));
    for (int i = 0; i < P; i++) {
        int32_t fi = f[i];
        for (int j = 0; j < P; j++)
            fg[i + j] += fi * g[j];
    }
    for (int i = 2 * P - 2; i >= P; i--) {
        fg[i - P] += fg[i];
        fg[i - P + 1] += fg[i];
    }
    for (int i = 0; i < P; i++)
        h[i] = fq_freeze(fg[i]);
    OPENSSL_cleanse(fg, sizeof(fg));
}

/* h = f g in R/3. */
static void r3_mult(small *h, const small *f, const small *g)
{
    int32_t fg[2 * P - 1];
    memset(fg, 0, sizeof(fg));
    for (int i = 0; i < P; i++) {
        int32_t fi = f[i];
        for (int j = 0; j < P; j++)
            fg[i + j] += fi * g[j];
    }
    for (int i = 2 * P - 2; i >= P; i--) {
        fg[i - P] += fg[i];
        fg[i - P + 1] += fg[i];
    }
    for (int i = 0; i < P; i++)
        h[i] = f3_freeze(fg[i]);
    OPENSSL_cleanse(fg, sizeof(fg));
}

/*
 * Inversion modulo x^p - x - 1 over F_3 or F_q by Bernstein-Yang divsteps
 * ("Fast constant-time gcd computation and modular inversion", 2019).
 *
 * On the reversed polynomials F = x^p (x^-p - x^-1 - 1) = 1 - x^(p-1) - x^p
 * and G = x^(p-1) g(1/x), a divstep is
 *     delta > 0 and G(0) != 0:  (delta, F, G) <- (1 - delta, G, (G(0) F - F(0) G) / x)
 *     otherwise:                (delta, F, G) <- (1 + delta, F, (F(0) G - G(0) F) / x)
 * Keeping x^n F_n = U F_0 + V G_0 and x^n G_n = S F_0 + T G_0, the steps
 * turn into (V, T) <- (x V', F(0) T' - G(0) V') after the conditional swap.
 * After 2p - 1 steps delta is 0 exactly when g is invertible; then F_n is
 * the constant F_n(0) and reversing V gives g^-1 = V(1/x) x^p / F_n(0).
 * Only V's coefficients 0..p are ever needed (higher ones never flow down),
 * so V and T are kept to p + 1 coefficients.
 */
#define DIVSTEP_BODY(FREEZE)                                                                       \
    do {                                                                                           \
        for (int i = 0; i < P; i++)                                                                \
            G[i] = in[P - 1 - i];                                                                  \
        G[P] = 0;                                                                                  \
        memset(F, 0, sizeof(F));                                                                   \
        F[0] = 1;                                                                                  \
        F[P - 1] = F[P] = -1;                                                                      \
        memset(V, 0, sizeof(V));                                                                   \
        memset(T, 0, sizeof(T));                                                                   \
        T[0] = 1;                                                                                  \
        for (int n = 0; n < 2 * P - 1; n++) {                                                      \
            int32_t swap = negative_mask(-delta) & nonzero_mask(G[0]);                             \
            delta ^= swap & (delta ^ -delta);                                                      \
            delta += 1;                                                                            \
            for (int i = 0; i <= P; i++) {                                                         \
                int32_t t = swap & (F[i] ^ G[i]);                                                  \
                F[i] ^= t;                                                                         \
                G[i] ^= t;                                                                         \
                t = swap & (V[i] ^ T[i]);                                                          \
                V[i] ^= t;                                                                         \
                T[i] ^= t;                                                                         \
            }                                                                                      \
            int32_t f0 = F[0], g0 = G[0];                                                          \
            for (int i = 0; i < P; i++)                                                            \
                G[i] = FREEZE(f0 * G[i + 1] - g0 * F[i + 1]);                                      \
            G[P] = 0;                                                                              \
            for (int i = 0; i <= P; i++)                                                           \
                T[i] = FREEZE(f0 * T[i] - g0 * V[i]);                                              \
            for (int i = P; i > 0; i--)                                                            \
                V[i] = V[i - 1];                                                                   \
            V[0] = 0;                                                                              \
        }                                                                                          \
    } while (0)

/* 0 and out = 1/in in R/3 if in is invertible, else -1. */
static int r3_recip(small *out, const small *in)
{
    int32_t F[P + 1], G[P + 1], V[P + 1], T[P + 1];
    int32_t delta = 1;
    /* G(0)F - F(0)G over x: the constant term cancels, so the first
     * coefficient of the update is dropped (the shift by x). */
    DIVSTEP_BODY(f3_freeze);
    int32_t scale = F[0]; /* +-1: its own inverse mod 3 */
    for (int i = 0; i < P; i++)
        out[i] = f3_freeze(scale * V[P - i]);
    int rv = (int)nonzero_mask(delta);
    OPENSSL_cleanse(F, sizeof(F));
    OPENSSL_cleanse(G, sizeof(G));
    OPENSSL_cleanse(V, sizeof(V));
    OPENSSL_cleanse(T, sizeof(T));
    return rv;
}

/* out = 1/in in R/q (in must be invertible: R/q is a field here, so any
 * nonzero in is).  Returns 0, or -1 for in = 0. */
static int rq_recip(fq *out, const fq *in)
{
    int32_t F[P + 1], G[P + 1], V[P + 1], T[P + 1];
    int32_t delta = 1;
    DIVSTEP_BODY(fq_freeze);
    int32_t scale = fq_recip((fq)F[0]);
    for (int i = 0; i < P; i++)
        out[i] = fq_freeze(scale * V[P - i]);
    int rv = (int)nonzero_mask(delta);
    OPENSSL_cleanse(F, sizeof(F));
    OPENSSL_cleanse(G, sizeof(G));
    OPENSSL_cleanse(V, sizeof(V));
    OPENSSL_cleanse(T, sizeof(T));
    return rv;
}

/* -1 if v does not have weight w, else 0. */
static int32_t weight_w_mask(const small *v)
{
    int32_t weight = 0;
    for (int i = 0; i < P; i++)
        weight += v[i] & 1;
    return nonzero_mask(weight - W);
}

/* ---- random elements ------------------------------------------------------------------ */

static uint32_t rand32(ssh_sntrup_rand_fn *rnd, void *ctx)
{
    uint8_t c[4];
    rnd(ctx, c, 4);
    uint32_t v = (uint32_t)c[0] | (uint32_t)c[1] << 8 | (uint32_t)c[2] << 16 | (uint32_t)c[3] << 24;
    OPENSSL_cleanse(c, sizeof(c));
    return v;
}

/* Each coefficient from 30 random bits: floor(3 u / 2^30) - 1. */
static void small_random(small *g, ssh_sntrup_rand_fn *rnd, void *ctx)
{
    for (int i = 0; i < P; i++)
        g[i] = (small)((((rand32(rnd, ctx) & 0x3fffffff) * 3) >> 30) - 1);
}

/* Branch-free compare-exchange: (a, b) <- (min, max). */
static void minmax(uint32_t *a, uint32_t *b)
{
    uint32_t x = *a, y = *b;
    uint32_t c = (uint32_t)((((uint64_t)y - x) >> 32) & 1); /* 1 iff x > y */
    uint32_t m = (0u - c) & (x ^ y);
    *a = x ^ m;
    *b = y ^ m;
}

/* Bitonic sorting network over 1024 entries (the tail padded with the
 * largest value): the sequence of compare-exchanges depends on nothing but
 * the size. */
static void sort1024(uint32_t *x)
{
    for (unsigned k = 2; k <= 1024; k <<= 1)
        for (unsigned j = k >> 1; j > 0; j >>= 1)
            for (unsigned i = 0; i < 1024; i++) {
                unsigned l = i ^ j;
                if (l > i) {
                    if ((i & k) == 0)
                        minmax(&x[i], &x[l]);
                    else
                        minmax(&x[l], &x[i]);
                }
            }
}

/* A random short element (weight exactly w): p random 32-bit values, the
 * first w tagged even (coefficient -1 or 1 in their low two bits: 0 or 2),
 * the others 1 mod 4 (coefficient 0); sorting shuffles the tags. */
static void short_random(small *out, ssh_sntrup_rand_fn *rnd, void *ctx)
{
    uint32_t L[1024];
    for (int i = 0; i < P; i++) {
        uint32_t v = rand32(rnd, ctx);
        L[i] = i < W ? (v & ~1u) : ((v & ~3u) | 1);
    }
    for (int i = P; i < 1024; i++)
        L[i] = 0xffffffffu; /* above every tagged value: sorts to the end */
    sort1024(L);
    for (int i = 0; i < P; i++)
        out[i] = (small)((L[i] & 3) - 1);
    OPENSSL_cleanse(L, sizeof(L));
}

/* ---- encodings (section 3 of the specification) ----------------------------------------- */

/* Small: four coefficients + 1 per byte, two bits each, little end first. */
static void small_encode(uint8_t *s, const small *f)
{
    for (int i = 0; i < P / 4; i++) {
        uint8_t x = 0;
        for (int j = 0; j < 4; j++)
            x |= (uint8_t)((f[4 * i + j] + 1) << (2 * j));
        s[i] = x;
    }
    s[P / 4] = (uint8_t)(f[P - 1] + 1);
}

/* The inverse; a field holding 3 (not produced by small_encode) is read
 * as 2 = -1 mod 3. */
static void small_decode(small *f, const uint8_t *s)
{
    for (int i = 0; i < P / 4; i++)
        for (int j = 0; j < 4; j++)
            f[4 * i + j] = f3_freeze(((s[i] >> (2 * j)) & 3) - 1);
    f[P - 1] = f3_freeze((s[P / 4] & 3) - 1);
}

/* Encode(R, M): integers 0 <= R[i] < M[i] into bytes.  Pairs are merged
 * into one integer below M[i] M[i+1], whose low bytes are emitted while the
 * combined bound is at least 2^14; the halved list recurses; a single
 * integer emits bytes until its bound reaches 1.  Here all M[i] start
 * equal and the data is public (public keys and ciphertexts).  `len` <=
 * 761 entries; R and M are scratch space. */
static uint8_t *encode(uint8_t *out, uint32_t *R, uint32_t *M, int len)
{
    while (len > 1) {
        int half = 0;
        for (int i = 0; i + 1 < len; i += 2) {
            uint32_t m = M[i] * M[i + 1], r = R[i] + M[i] * R[i + 1];
            while (m >= 16384) {
                *out++ = (uint8_t)r;
                r >>= 8;
                m = (m + 255) >> 8;
            }
            R[half] = r;
            M[half++] = m;
        }
        if (len & 1) {
            R[half] = R[len - 1];
            M[half++] = M[len - 1];
        }
        len = half;
    }
    if (len == 1) {
        uint32_t r = R[0], m = M[0];
        while (m > 1) {
            *out++ = (uint8_t)r;
            r >>= 8;
            m = (m + 255) >> 8;
        }
    }
    return out;
}

/* Decode(S, M): the inverse, into R (< M[i] each).  Recursive like the
 * specification; depth is log2(761) + 1. */
static void decode(uint32_t *R, const uint8_t *S, const uint32_t *M, int len)
{
    if (len == 0)
        return;
    if (len == 1) {
        uint32_t m = M[0], r = 0, t = 1;
        /* the bytes Encode wrote for a single integer */
        while (m > 1) {
            r += (uint32_t)*S++ * t;
            t <<= 8;
            m = (m + 255) >> 8;
        }
        R[0] = r % M[0];
        return;
    }
    uint32_t bottom_r[(P + 1) / 2], bottom_t[(P + 1) / 2], M2[(P + 1) / 2], R2[(P + 1) / 2];
    int half = 0;
    for (int i = 0; i + 1 < len; i += 2) {
        uint32_t m = M[i] * M[i + 1], r = 0, t = 1;
        while (m >= 16384) {
            r += (uint32_t)*S++ * t;
            t <<= 8;
            m = (m + 255) >> 8;
        }
        bottom_r[half] = r;
        bottom_t[half] = t;
        M2[half++] = m;
    }
    if (len & 1)
        M2[half++] = M[len - 1];
    decode(R2, S, M2, half);
    for (int i = 0; i + 1 < len; i += 2) {
        uint32_t r = bottom_r[i / 2] + bottom_t[i / 2] * R2[i / 2];
        R[i] = r % M[i];
        R[i + 1] = (r / M[i]) % M[i + 1];
    }
    if (len & 1)
        R[len - 1] = R2[half - 1];
}

static void rq_encode(uint8_t *s, const fq *h)
{
    uint32_t R[P], M[P];
    for (int i = 0; i < P; i++) {
        R[i] = (uint32_t)(h[i] + Q12);
        M[i] = Q;
    }
    encode(s, R, M, P);
}

static void rq_decode(fq *h, const uint8_t *s)
{
    uint32_t R[P], M[P];
    for (int i = 0; i < P; i++)
        M[i] = Q;
    decode(R, s, M, P);
    for (int i = 0; i < P; i++)
        h[i] = (fq)((int32_t)R[i] - Q12);
}

/* Rounded values are multiples of 3 in -(q-1)/2..(q-1)/2: (c + 2295) / 3
 * in 0..1530. */
static void rounded_encode(uint8_t *s, const fq *c)
{
    uint32_t R[P], M[P];
    for (int i = 0; i < P; i++) {
        R[i] = (uint32_t)(((c[i] + Q12) * 10923) >> 15); /* exact /3 for these */
        M[i] = (Q + 2) / 3;
    }
    encode(s, R, M, P);
    OPENSSL_cleanse(R, sizeof(R));
}

static void rounded_decode(fq *c, const uint8_t *s)
{
    uint32_t R[P], M[P];
    for (int i = 0; i < P; i++)
        M[i] = (Q + 2) / 3;
    decode(R, s, M, P);
    for (int i = 0; i < P; i++)
        c[i] = (fq)((int32_t)R[i] * 3 - Q12);
}

/* ---- hashing --------------------------------------------------------------------------- */

static CRYPTO_ONCE md_once = CRYPTO_ONCE_STATIC_INIT;
static EVP_MD *sha512;

static void md_init(void)
{
    sha512 = EVP_MD_fetch(NULL, "SHA512", NULL);
}

/* out = first 32 bytes of SHA-512(b || x || y). */
static int hash_prefix(uint8_t out[HASH_BYTES], uint8_t b, const uint8_t *x, size_t xlen,
                       const uint8_t *y, size_t ylen)
{
    uint8_t h[64];
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx != NULL && EVP_DigestInit_ex(ctx, sha512, NULL) == 1 &&
             EVP_DigestUpdate(ctx, &b, 1) == 1 && EVP_DigestUpdate(ctx, x, xlen) == 1 &&
             (ylen == 0 || EVP_DigestUpdate(ctx, y, ylen) == 1) &&
             EVP_DigestFinal_ex(ctx, h, NULL) == 1;
    EVP_MD_CTX_free(ctx);
    if (ok)
        memcpy(out, h, HASH_BYTES);
    OPENSSL_cleanse(h, sizeof(h));
    return ok ? 0 : SSH_ERR_LIBCRYPTO;
}

static int md_ready(void)
{
    return CRYPTO_THREAD_run_once(&md_once, md_init) && sha512 != NULL;
}

/* ---- the KEM ------------------------------------------------------------------------------ */

/* Hide: r -> (C, r_enc) for the public key h (decoded) and cache =
 * Hash4(pk).  C = Rounded_encode(Round(h r)) || HashConfirm. */
static int hide(uint8_t C[SSH_SNTRUP761_CT_BYTES], uint8_t r_enc[SMALL_BYTES], const small *r,
                const fq *h, const uint8_t cache[HASH_BYTES])
{
    fq c[P];
    uint8_t x[2 * HASH_BYTES];
    int rv;
    small_encode(r_enc, r);
    rq_mult_small(c, h, r);
    for (int i = 0; i < P; i++)
        c[i] = (fq)(c[i] - f3_freeze(c[i])); /* Round: nearest multiple of 3 */
    rounded_encode(C, c);
    if ((rv = hash_prefix(x, 3, r_enc, SMALL_BYTES, NULL, 0)) == 0) {
        memcpy(x + HASH_BYTES, cache, HASH_BYTES);
        rv = hash_prefix(C + ROUNDED_BYTES, 2, x, sizeof(x), NULL, 0);
    }
    OPENSSL_cleanse(c, sizeof(c));
    OPENSSL_cleanse(x, sizeof(x));
    return rv;
}

/* K = Hash_b(Hash3(y) || C). */
static int hash_session(uint8_t K[HASH_BYTES], uint8_t b, const uint8_t y[SMALL_BYTES],
                        const uint8_t C[SSH_SNTRUP761_CT_BYTES])
{
    uint8_t h3[HASH_BYTES];
    int rv = hash_prefix(h3, 3, y, SMALL_BYTES, NULL, 0);
    if (rv == 0)
        rv = hash_prefix(K, b, h3, HASH_BYTES, C, SSH_SNTRUP761_CT_BYTES);
    OPENSSL_cleanse(h3, sizeof(h3));
    return rv;
}

int ssh_sntrup761_keypair(uint8_t pk[SSH_SNTRUP761_PK_BYTES], uint8_t sk[SSH_SNTRUP761_SK_BYTES],
                          ssh_sntrup_rand_fn *rnd, void *ctx)
{
    small g[P], ginv[P], f[P];
    fq f3[P], finv[P], h[P];
    int rv;
    if (!md_ready())
        return SSH_ERR_LIBCRYPTO;
    /* g invertible in R/3; a rejected g is discarded, so branching on the
     * result leaks nothing about the key. */
    for (;;) {
        small_random(g, rnd, ctx);
        int invertible = r3_recip(ginv, g) == 0;
        SSH_CT_PUBLIC(&invertible, sizeof(invertible));
        if (invertible)
            break;
    }
    short_random(f, rnd, ctx);
    for (int i = 0; i < P; i++)
        f3[i] = (fq)(3 * f[i]);
    rq_recip(finv, f3); /* R/q is a field and 3f != 0 */
    rq_mult_small(h, finv, g);
    rq_encode(pk, h);
    small_encode(sk, f);
    small_encode(sk + SMALL_BYTES, ginv);
    memcpy(sk + 2 * SMALL_BYTES, pk, SSH_SNTRUP761_PK_BYTES);
    rnd(ctx, sk + 2 * SMALL_BYTES + SSH_SNTRUP761_PK_BYTES, SMALL_BYTES); /* rho */
    rv = hash_prefix(sk + 2 * SMALL_BYTES + SSH_SNTRUP761_PK_BYTES + SMALL_BYTES, 4, pk,
                     SSH_SNTRUP761_PK_BYTES, NULL, 0);
    if (rv != 0)
        OPENSSL_cleanse(sk, SSH_SNTRUP761_SK_BYTES);
    OPENSSL_cleanse(g, sizeof(g));
    OPENSSL_cleanse(ginv, sizeof(ginv));
    OPENSSL_cleanse(f, sizeof(f));
    OPENSSL_cleanse(f3, sizeof(f3));
    OPENSSL_cleanse(finv, sizeof(finv));
    return rv;
}

int ssh_sntrup761_enc(uint8_t ct[SSH_SNTRUP761_CT_BYTES], uint8_t ss[SSH_SNTRUP761_SS_BYTES],
                      const uint8_t pk[SSH_SNTRUP761_PK_BYTES], ssh_sntrup_rand_fn *rnd, void *ctx)
{
    small r[P];
    fq h[P];
    uint8_t cache[HASH_BYTES], r_enc[SMALL_BYTES];
    int rv;
    if (!md_ready())
        return SSH_ERR_LIBCRYPTO;
    rq_decode(h, pk);
    short_random(r, rnd, ctx);
    if ((rv = hash_prefix(cache, 4, pk, SSH_SNTRUP761_PK_BYTES, NULL, 0)) == 0 &&
        (rv = hide(ct, r_enc, r, h, cache)) == 0)
        rv = hash_session(ss, 1, r_enc, ct);
    OPENSSL_cleanse(r, sizeof(r));
    OPENSSL_cleanse(r_enc, sizeof(r_enc));
    return rv;
}

int ssh_sntrup761_dec(uint8_t ss[SSH_SNTRUP761_SS_BYTES], const uint8_t ct[SSH_SNTRUP761_CT_BYTES],
                      const uint8_t sk[SSH_SNTRUP761_SK_BYTES])
{
    const uint8_t *pk = sk + 2 * SMALL_BYTES;
    const uint8_t *rho = pk + SSH_SNTRUP761_PK_BYTES;
    const uint8_t *cache = rho + SMALL_BYTES;
    small f[P], v[P], e[P], ev[P], r[P];
    fq c[P], cf[P], h[P];
    uint8_t r_enc[SMALL_BYTES], cnew[SSH_SNTRUP761_CT_BYTES];
    int rv;
    if (!md_ready())
        return SSH_ERR_LIBCRYPTO;
    small_decode(f, sk);
    small_decode(v, sk + SMALL_BYTES);
    rounded_decode(c, ct);
    /* e = 3 f c, lifted to the centered integers and reduced mod 3 */
    rq_mult_small(cf, c, f);
    for (int i = 0; i < P; i++)
        e[i] = f3_freeze(fq_freeze(3 * cf[i]));
    r3_mult(ev, e, v);
    /* r' = ev if its weight is w, else the fixed (1 x w, 0 ...) */
    int32_t bad = weight_w_mask(ev);
    for (int i = 0; i < W; i++)
        r[i] = (small)(((ev[i] ^ 1) & ~bad) ^ 1);
    for (int i = W; i < P; i++)
        r[i] = (small)(ev[i] & ~bad);
    rq_decode(h, pk);
    if ((rv = hide(cnew, r_enc, r, h, cache)) != 0)
        goto out;
    /* Ciphertexts equal: keep r_enc and b = 1; else rho and b = 0. */
    uint32_t diff = 0;
    for (int i = 0; i < SSH_SNTRUP761_CT_BYTES; i++)
        diff |= (uint32_t)(ct[i] ^ cnew[i]);
    uint8_t differ = (uint8_t)(0u - ((diff + 0xff) >> 8)); /* 0xff iff diff != 0 */
    for (int i = 0; i < SMALL_BYTES; i++)
        r_enc[i] ^= (uint8_t)(differ & (r_enc[i] ^ rho[i]));
    rv = hash_session(ss, (uint8_t)(1 + (int8_t)differ), r_enc, ct);
out:
    OPENSSL_cleanse(f, sizeof(f));
    OPENSSL_cleanse(v, sizeof(v));
    OPENSSL_cleanse(e, sizeof(e));
    OPENSSL_cleanse(ev, sizeof(ev));
    OPENSSL_cleanse(r, sizeof(r));
    OPENSSL_cleanse(c, sizeof(c));
    OPENSSL_cleanse(cf, sizeof(cf));
    OPENSSL_cleanse(r_enc, sizeof(r_enc));
    OPENSSL_cleanse(cnew, sizeof(cnew));
    return rv;
}
