/*
 * test_pq_sntrup.c - sntrup761 (proto/sntrup761.c) against the known answers
 * of the NTRU Prime submission.
 *
 * tests/unit/data/sntrup761_kat.txt has the first 10 cases of the
 * submission's kat_kem.rsp.  Each names the seed of NIST's AES-256 CTR_DRBG
 * (the randombytes() of the NIST PQC test harness, rebuilt here on
 * libcrypto's AES-256-ECB); key generation and encapsulation draw from it
 * exactly as the harness did, so the public key, the whole secret key (f,
 * 1/g, pk, rho, Hash4(pk)), the ciphertext and the session key must all
 * come out byte for byte; decapsulation must return the same key.
 *
 * Then the implicit rejection: a ciphertext with any bit changed gives
 * Hash0(Hash3(rho) || C'), computed here independently with SHA-512, and a
 * corrupted public key still encapsulates (every encoding decodes) to
 * something the real key holder rejects implicitly.
 */
#include "util.h"

#include "sntrup761.h"
#include "sshtun/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

/* ---- NIST PQC randombytes: AES-256 CTR_DRBG without derivation function --- */

typedef struct drbg {
    uint8_t key[32], v[16];
    size_t calls;
} drbg;

static void aes256_block(const uint8_t key[32], const uint8_t in[16], uint8_t out[16])
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0;
    assert_non_null(c);
    assert_int_equal(EVP_EncryptInit_ex(c, EVP_aes_256_ecb(), NULL, key, NULL), 1);
    EVP_CIPHER_CTX_set_padding(c, 0);
    assert_int_equal(EVP_EncryptUpdate(c, out, &n, in, 16), 1);
    assert_int_equal(n, 16);
    EVP_CIPHER_CTX_free(c);
}

static void v_increment(uint8_t v[16])
{
    for (int j = 15; j >= 0; j--)
        if (++v[j] != 0)
            break;
}

/* CTR_DRBG_Update(provided, Key, V) of SP 800-90A (no df). */
static void drbg_update(drbg *d, const uint8_t *provided)
{
    uint8_t temp[48];
    for (int i = 0; i < 3; i++) {
        v_increment(d->v);
        aes256_block(d->key, d->v, temp + 16 * i);
    }
    if (provided)
        for (int i = 0; i < 48; i++)
            temp[i] ^= provided[i];
    memcpy(d->key, temp, 32);
    memcpy(d->v, temp + 32, 16);
}

static void drbg_init(drbg *d, const uint8_t seed[48])
{
    memset(d, 0, sizeof(*d));
    drbg_update(d, seed);
}

/* randombytes(x, n): whole blocks of AES(Key, ++V), then Update(NULL). */
static void drbg_rand(void *ctx, uint8_t *out, size_t n)
{
    drbg *d = ctx;
    uint8_t block[16];
    while (n > 0) {
        v_increment(d->v);
        aes256_block(d->key, d->v, block);
        size_t k = n < 16 ? n : 16;
        memcpy(out, block, k);
        out += k;
        n -= k;
    }
    drbg_update(d, NULL);
    d->calls++;
}

/* ---- the known answers ------------------------------------------------------------- */

static char *slurp(const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", SSHTUN_TEST_DATA, name);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)sz + 1);
    assert_non_null(s);
    assert_int_equal(fread(s, 1, (size_t)sz, f), (size_t)sz);
    s[sz] = '\0';
    fclose(f);
    return s;
}

/* Value of "key = hex" after *pos; advances *pos past it. */
static uint8_t *take(char **pos, const char *key, size_t want)
{
    char pat[32];
    snprintf(pat, sizeof(pat), "\n%s = ", key);
    char *p = strstr(*pos, pat);
    if (p == NULL)
        fail_msg("no %s", key);
    p += strlen(pat);
    char *e = strchr(p, '\n');
    if (e)
        *e = '\0';
    size_t n;
    uint8_t *v = test_unhex(p, &n);
    if (n != want)
        fail_msg("%s: %zu bytes, expected %zu", key, n, want);
    *pos = e ? e + 1 : p + strlen(p);
    (*pos)--; /* keep the newline the next pattern starts with */
    **pos = '\n';
    return v;
}

static void test_kat(void **state)
{
    (void)state;
    char *all = slurp("sntrup761_kat.txt"), *pos = all;
    uint8_t pk[SSH_SNTRUP761_PK_BYTES], sk[SSH_SNTRUP761_SK_BYTES], ct[SSH_SNTRUP761_CT_BYTES];
    uint8_t ss[32], ss2[32];
    int cases = 0;
    while (strstr(pos, "\nseed = ") != NULL) {
        uint8_t *seed = take(&pos, "seed", 48);
        uint8_t *wpk = take(&pos, "pk", sizeof(pk)), *wsk = take(&pos, "sk", sizeof(sk));
        uint8_t *wct = take(&pos, "ct", sizeof(ct)), *wss = take(&pos, "ss", 32);
        drbg d;
        drbg_init(&d, seed);
        assert_int_equal(ssh_sntrup761_keypair(pk, sk, drbg_rand, &d), 0);
        if (memcmp(pk, wpk, sizeof(pk)) != 0)
            fail_msg("case %d: public key differs", cases);
        if (memcmp(sk, wsk, sizeof(sk)) != 0)
            fail_msg("case %d: secret key differs", cases);
        assert_int_equal(ssh_sntrup761_enc(ct, ss, pk, drbg_rand, &d), 0);
        if (memcmp(ct, wct, sizeof(ct)) != 0)
            fail_msg("case %d: ciphertext differs", cases);
        if (memcmp(ss, wss, 32) != 0)
            fail_msg("case %d: session key (encapsulation) differs", cases);
        assert_int_equal(ssh_sntrup761_dec(ss2, wct, wsk), 0);
        if (memcmp(ss2, wss, 32) != 0)
            fail_msg("case %d: session key (decapsulation) differs", cases);
        free(seed), free(wpk), free(wsk), free(wct), free(wss);
        cases++;
    }
    free(all);
    assert_int_equal(cases, 10);
}

/* Hash_b(x || y) = SHA-512(b || x || y)[0:32], independently of the code. */
static void hashb(uint8_t out[32], uint8_t b, const uint8_t *x, size_t xl, const uint8_t *y,
                  size_t yl)
{
    uint8_t h[64];
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    assert_non_null(c);
    assert_int_equal(EVP_DigestInit_ex(c, EVP_sha512(), NULL), 1);
    assert_int_equal(EVP_DigestUpdate(c, &b, 1), 1);
    assert_int_equal(EVP_DigestUpdate(c, x, xl), 1);
    if (yl)
        assert_int_equal(EVP_DigestUpdate(c, y, yl), 1);
    assert_int_equal(EVP_DigestFinal_ex(c, h, NULL), 1);
    EVP_MD_CTX_free(c);
    memcpy(out, h, 32);
}

static void test_implicit_rejection(void **state)
{
    (void)state;
    uint8_t seed[48];
    for (int i = 0; i < 48; i++)
        seed[i] = (uint8_t)i;
    drbg d;
    drbg_init(&d, seed);
    uint8_t pk[SSH_SNTRUP761_PK_BYTES], sk[SSH_SNTRUP761_SK_BYTES], ct[SSH_SNTRUP761_CT_BYTES];
    uint8_t ss[32], ss2[32], h3[32], want[32];
    assert_int_equal(ssh_sntrup761_keypair(pk, sk, drbg_rand, &d), 0);
    assert_int_equal(ssh_sntrup761_enc(ct, ss, pk, drbg_rand, &d), 0);
    assert_int_equal(ssh_sntrup761_dec(ss2, ct, sk), 0);
    assert_memory_equal(ss, ss2, 32);
    const uint8_t *rho = sk + 382 + SSH_SNTRUP761_PK_BYTES;
    hashb(h3, 3, rho, 191, NULL, 0);
    for (size_t bit = 0; bit < SSH_SNTRUP761_CT_BYTES * 8; bit += 97) {
        ct[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        assert_int_equal(ssh_sntrup761_dec(ss2, ct, sk), 0);
        hashb(want, 0, h3, 32, ct, sizeof(ct));
        if (memcmp(ss2, want, 32) != 0)
            fail_msg("bit %zu: not Hash0(Hash3(rho) || C')", bit);
        ct[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    /* All-ones and all-zero ciphertexts decode to something and reject. */
    for (int v = 0; v < 2; v++) {
        memset(ct, v ? 0xff : 0, sizeof(ct));
        assert_int_equal(ssh_sntrup761_dec(ss2, ct, sk), 0);
        hashb(want, 0, h3, 32, ct, sizeof(ct));
        assert_memory_equal(ss2, want, 32);
    }
    /* A public key of all 0xff bytes still encapsulates (the encoding
     * reduces), and nothing crashes. */
    memset(pk, 0xff, sizeof(pk));
    assert_int_equal(ssh_sntrup761_enc(ct, ss, pk, drbg_rand, &d), 0);
}

/* Many fresh key pairs: every one must round-trip. */
static void test_roundtrip(void **state)
{
    (void)state;
    uint8_t seed[48] = {0x42};
    drbg d;
    drbg_init(&d, seed);
    for (int i = 0; i < 8; i++) {
        uint8_t pk[SSH_SNTRUP761_PK_BYTES], sk[SSH_SNTRUP761_SK_BYTES];
        uint8_t ct[SSH_SNTRUP761_CT_BYTES], ss[32], ss2[32];
        assert_int_equal(ssh_sntrup761_keypair(pk, sk, drbg_rand, &d), 0);
        for (int j = 0; j < 4; j++) {
            assert_int_equal(ssh_sntrup761_enc(ct, ss, pk, drbg_rand, &d), 0);
            assert_int_equal(ssh_sntrup761_dec(ss2, ct, sk), 0);
            assert_memory_equal(ss, ss2, 32);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kat),
        cmocka_unit_test(test_implicit_rejection),
        cmocka_unit_test(test_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
