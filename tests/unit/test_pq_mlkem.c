/*
 * test_pq_mlkem.c - ML-KEM-768 (proto/mlkem.c) against NIST's ACVP answers.
 *
 * tests/unit/data/mlkem768_acvp.txt holds the ML-KEM-768 cases of NIST's
 * ACVP FIPS 203 internal projections (see its header): 25 key generations
 * from (d, z), 25 encapsulations from (ek, m) and 10 decapsulations, five
 * of them with a modified ciphertext, which must give the implicit-
 * rejection key J(z || c).  Every case runs through the implementation the
 * engine uses (libcrypto's on OpenSSL 3.5+, else sshtun's) and through
 * sshtun's own as well.  ctest runs it twice: as built (OpenSSL 3.0 on
 * Debian 12: sshtun's), and unsanitized under OpenSSL 3.5's libcrypto
 * (tests/openssl35.sh) expecting libcrypto's, so both paths meet the
 * same known answers.
 *
 * Then the input checks of FIPS 203 section 7: an encapsulation key with a
 * coefficient >= q is refused, a decapsulation key whose stored H(ek) does
 * not match is refused, and every single-bit change of a ciphertext gives
 * a different (rejection) key, never an error.
 */
#include "util.h"

#include "mlkem.h"
#include "sshtun/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#ifndef SSHTUN_TEST_DATA
#error "SSHTUN_TEST_DATA must name tests/unit/data"
#endif

/* ---- a tiny reader for "key = value" blocks separated by blank lines ---- */

#define MAXF 8
typedef struct {
    char key[MAXF][16];
    char *val[MAXF];
    int n;
} block;

static char *read_all(const char *name)
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

/* Next block from *pos (modified in place); 0 at the end. */
static int next_block(char **pos, block *b)
{
    memset(b, 0, sizeof(*b));
    char *p = *pos;
    while (*p) {
        char *eol = strchr(p, '\n');
        if (eol)
            *eol = '\0';
        char *line = p;
        p = eol ? eol + 1 : p + strlen(p);
        if (line[0] == '#')
            continue;
        if (line[0] == '\0') {
            if (b->n > 0)
                break;
            continue;
        }
        char *eq = strstr(line, " = ");
        if (eq == NULL || b->n == MAXF)
            continue;
        *eq = '\0';
        snprintf(b->key[b->n], sizeof(b->key[0]), "%s", line);
        b->val[b->n++] = eq + 3;
    }
    *pos = p;
    return b->n > 0;
}

static const char *field(const block *b, const char *key)
{
    for (int i = 0; i < b->n; i++)
        if (strcmp(b->key[i], key) == 0)
            return b->val[i];
    fail_msg("field %s missing", key);
    return NULL;
}

static uint8_t *hexfield(const block *b, const char *key, size_t want)
{
    size_t n;
    uint8_t *v = test_unhex(field(b, key), &n);
    if (n != want)
        fail_msg("field %s: %zu bytes, expected %zu", key, n, want);
    return v;
}

/* ---- known answers ------------------------------------------------------------ */

static int run_acvp(void)
{
    char *all = read_all("mlkem768_acvp.txt"), *pos = all;
    block b;
    int counts[3] = {0, 0, 0}, rejections = 0;
    uint8_t ek[SSH_MLKEM768_EK_BYTES], dk[SSH_MLKEM768_DK_BYTES], ct[SSH_MLKEM768_CT_BYTES];
    uint8_t ss[SSH_MLKEM_SS_BYTES];
    while (next_block(&pos, &b)) {
        const char *kind = field(&b, "kind");
        const char *tc = field(&b, "tcId");
        if (strcmp(kind, "keygen") == 0) {
            uint8_t *d = hexfield(&b, "d", 32), *z = hexfield(&b, "z", 32);
            uint8_t *wek = hexfield(&b, "ek", sizeof(ek)), *wdk = hexfield(&b, "dk", sizeof(dk));
            assert_int_equal(ssh_mlkem768_keygen(ek, dk, d, z), 0);
            if (memcmp(ek, wek, sizeof(ek)) != 0 || memcmp(dk, wdk, sizeof(dk)) != 0)
                fail_msg("keygen tcId %s: key pair differs", tc);
            free(d), free(z), free(wek), free(wdk);
            counts[0]++;
        } else if (strcmp(kind, "encaps") == 0) {
            uint8_t *wek = hexfield(&b, "ek", sizeof(ek)), *m = hexfield(&b, "m", 32);
            uint8_t *wc = hexfield(&b, "c", sizeof(ct)), *wk = hexfield(&b, "k", 32);
            assert_int_equal(ssh_mlkem768_encaps(ct, ss, wek, m), 0);
            if (memcmp(ct, wc, sizeof(ct)) != 0 || memcmp(ss, wk, 32) != 0)
                fail_msg("encaps tcId %s: ciphertext or key differs", tc);
            free(wek), free(m), free(wc), free(wk);
            counts[1]++;
        } else if (strcmp(kind, "decaps") == 0) {
            uint8_t *wdk = hexfield(&b, "dk", sizeof(dk)), *wc = hexfield(&b, "c", sizeof(ct));
            uint8_t *wk = hexfield(&b, "k", 32);
            assert_int_equal(ssh_mlkem768_decaps(ss, wc, wdk), 0);
            if (memcmp(ss, wk, 32) != 0)
                fail_msg("decaps tcId %s (%s): key differs", tc, field(&b, "reason"));
            if (strcmp(field(&b, "reason"), "no modification") != 0)
                rejections++;
            free(wdk), free(wc), free(wk);
            counts[2]++;
        } else {
            fail_msg("unknown kind %s", kind);
        }
    }
    free(all);
    assert_int_equal(counts[0], 25);
    assert_int_equal(counts[1], 25);
    assert_int_equal(counts[2], 10);
    assert_true(rejections >= 5);
    return counts[0] + counts[1] + counts[2];
}

static void test_acvp_default(void **state)
{
    (void)state;
    print_message("ML-KEM-768 implementation in use: %s\n", ssh_mlkem768_backend());
    /* tests/openssl35.sh runs this with OpenSSL 3.5, where it must be
     * libcrypto's (unit.test_pq_mlkem_openssl35). */
    const char *want = getenv("SSHTUN_EXPECT_MLKEM");
    if (want != NULL)
        assert_string_equal(ssh_mlkem768_backend(), want);
    /* and without the fallback to sshtun's own, so that these answers
     * come from libcrypto's ML-KEM itself */
    if (want != NULL && strcmp(want, "libcrypto") == 0)
        ssh_mlkem768_force(SSH_MLKEM_LIBCRYPTO);
    assert_int_equal(run_acvp(), 60);
    ssh_mlkem768_force(SSH_MLKEM_DEFAULT);
}

static void test_acvp_builtin(void **state)
{
    (void)state;
    ssh_mlkem768_force_builtin(1);
    assert_string_equal(ssh_mlkem768_backend(), "sshtun");
    assert_int_equal(run_acvp(), 60);
    ssh_mlkem768_force_builtin(0);
}

/* libcrypto's ML-KEM tried first and, where it fails (here: OpenSSL 3.0
 * has none), the engine's own: the same answers either way. */
static void test_acvp_fallback(void **state)
{
    (void)state;
    ssh_mlkem768_force(SSH_MLKEM_TRY_LIBCRYPTO);
    assert_int_equal(run_acvp(), 60);
    ssh_mlkem768_force(SSH_MLKEM_DEFAULT);
}

/* ---- input checks ----------------------------------------------------------------- */

static void fill(uint8_t *p, size_t n, uint8_t v)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(v + i * 37);
}

static void test_ek_check(void **state)
{
    (void)state;
    uint8_t d[32], z[32], m[32], ek[SSH_MLKEM768_EK_BYTES], dk[SSH_MLKEM768_DK_BYTES];
    uint8_t ct[SSH_MLKEM768_CT_BYTES], ss[32];
    fill(d, 32, 1), fill(z, 32, 2), fill(m, 32, 3);
    assert_int_equal(ssh_mlkem768_keygen(ek, dk, d, z), 0);
    assert_int_equal(ssh_mlkem768_check_ek(ek), 0);
    /* Coefficient 0 of t-hat[1] set to q = 3329 (0xd01), then to 4095:
     * 12-bit values that ByteDecode_12 would reduce. */
    uint8_t bad[SSH_MLKEM768_EK_BYTES];
    const uint16_t vals[] = {3329, 4095};
    for (size_t v = 0; v < 2; v++) {
        memcpy(bad, ek, sizeof(bad));
        bad[384] = (uint8_t)vals[v];
        bad[385] = (uint8_t)((bad[385] & 0xf0) | (vals[v] >> 8));
        assert_int_equal(ssh_mlkem768_check_ek(bad), SSH_ERR_KEY_INVALID);
        memset(ct, 0xaa, sizeof(ct));
        assert_int_equal(ssh_mlkem768_encaps(ct, ss, bad, m), SSH_ERR_KEY_INVALID);
    }
    /* The last coefficient (high nibble of a byte pair) too. */
    memcpy(bad, ek, sizeof(bad));
    bad[1150] = (uint8_t)((bad[1150] & 0x0f) | 0xf0);
    bad[1151] = 0xff;
    assert_int_equal(ssh_mlkem768_check_ek(bad), SSH_ERR_KEY_INVALID);
    /* rho is not checked: any 32 bytes are a valid seed. */
    memcpy(bad, ek, sizeof(bad));
    memset(bad + 1152, 0xff, 32);
    assert_int_equal(ssh_mlkem768_check_ek(bad), 0);
}

static void test_dk_check(void **state)
{
    (void)state;
    uint8_t d[32], z[32], m[32], ek[SSH_MLKEM768_EK_BYTES], dk[SSH_MLKEM768_DK_BYTES];
    uint8_t ct[SSH_MLKEM768_CT_BYTES], ss[32], ss2[32];
    fill(d, 32, 4), fill(z, 32, 5), fill(m, 32, 6);
    assert_int_equal(ssh_mlkem768_keygen(ek, dk, d, z), 0);
    assert_int_equal(ssh_mlkem768_encaps(ct, ss, ek, m), 0);
    assert_int_equal(ssh_mlkem768_decaps(ss2, ct, dk), 0);
    assert_memory_equal(ss, ss2, 32);
    dk[1152 + 1184] ^= 1; /* the stored H(ek) */
    assert_int_equal(ssh_mlkem768_check_dk(dk), SSH_ERR_KEY_INVALID);
    assert_int_equal(ssh_mlkem768_decaps(ss2, ct, dk), SSH_ERR_KEY_INVALID);
    dk[1152 + 1184] ^= 1;
    dk[1152 + 5] ^= 1; /* ek inside dk */
    assert_int_equal(ssh_mlkem768_decaps(ss2, ct, dk), SSH_ERR_KEY_INVALID);
}

/* J(z || c) by libcrypto's SHAKE256, for the rejection path. */
static void shake_j(uint8_t out[32], const uint8_t z[32], const uint8_t *c)
{
    EVP_MD_CTX *x = EVP_MD_CTX_new();
    assert_non_null(x);
    assert_int_equal(EVP_DigestInit_ex(x, EVP_shake256(), NULL), 1);
    assert_int_equal(EVP_DigestUpdate(x, z, 32), 1);
    assert_int_equal(EVP_DigestUpdate(x, c, SSH_MLKEM768_CT_BYTES), 1);
    assert_int_equal(EVP_DigestFinalXOF(x, out, 32), 1);
    EVP_MD_CTX_free(x);
}

static void test_implicit_rejection(void **state)
{
    (void)state;
    uint8_t d[32], z[32], m[32], ek[SSH_MLKEM768_EK_BYTES], dk[SSH_MLKEM768_DK_BYTES];
    uint8_t ct[SSH_MLKEM768_CT_BYTES], ss[32], ss2[32], want[32];
    fill(d, 32, 7), fill(z, 32, 8), fill(m, 32, 9);
    assert_int_equal(ssh_mlkem768_keygen(ek, dk, d, z), 0);
    assert_int_equal(ssh_mlkem768_encaps(ct, ss, ek, m), 0);
    /* A sample of single-bit changes across c1 and c2, first and last bytes
     * included: each decapsulates to J(z || c'), never to K. */
    for (size_t bit = 0; bit < SSH_MLKEM768_CT_BYTES * 8; bit += 61) {
        for (size_t b2 = bit; b2 <= bit + 1 && b2 < SSH_MLKEM768_CT_BYTES * 8; b2++) {
            ct[b2 / 8] ^= (uint8_t)(1u << (b2 % 8));
            assert_int_equal(ssh_mlkem768_decaps(ss2, ct, dk), 0);
            shake_j(want, z, ct);
            if (memcmp(ss2, want, 32) != 0 || memcmp(ss2, ss, 32) == 0)
                fail_msg("bit %zu: not the rejection key", b2);
            ct[b2 / 8] ^= (uint8_t)(1u << (b2 % 8));
        }
    }
    ct[SSH_MLKEM768_CT_BYTES - 1] ^= 0x80;
    assert_int_equal(ssh_mlkem768_decaps(ss2, ct, dk), 0);
    shake_j(want, z, ct);
    assert_memory_equal(ss2, want, 32);
    ct[SSH_MLKEM768_CT_BYTES - 1] ^= 0x80;
    assert_int_equal(ssh_mlkem768_decaps(ss2, ct, dk), 0);
    assert_memory_equal(ss2, ss, 32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_acvp_default),  cmocka_unit_test(test_acvp_builtin),
        cmocka_unit_test(test_acvp_fallback), cmocka_unit_test(test_ek_check),
        cmocka_unit_test(test_dk_check),      cmocka_unit_test(test_implicit_rejection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
