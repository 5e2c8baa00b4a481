/*
 * ct_pq.c - constant-time check of the two KEMs (proto/mlkem.c,
 * proto/sntrup761.c), run under valgrind's memcheck (ctest:
 * unit.test_pq_ct).
 *
 * The method ("ctgrind", after Adam Langley): every secret input - the
 * ML-KEM seeds d, z and m, the sntrup761 random bytes, the secret halves of
 * both decapsulation keys - is marked undefined with a valgrind client
 * request.  Memcheck follows undefinedness through all arithmetic and
 * complains when an undefined value decides a conditional jump or forms a
 * memory address: exactly a secret-dependent branch or table index.  The
 * KEM sources are compiled for this program with SSHTUN_CT_VALGRIND, which
 * turns their few SSH_CT_PUBLIC() annotations (values that are public by
 * design: rho, a rejected g) into "defined" requests; everything else is
 * the code the engine runs, with the same optimisation, without sanitizers.
 * libcrypto's SHA-3/SHA-512 see secret data too and are covered the same
 * way.  Outputs that are public (public keys, ciphertexts) are declared
 * defined before use; shared secrets only for the final comparison.
 *
 * `ct_pq leak` runs a deliberately leaky comparison instead: memcheck must
 * report it (ctest: unit.test_pq_ct_detects, expected to fail), which shows
 * the check can fail.
 *
 * Without valgrind the program still runs (the requests are no-ops) and
 * checks that the round trips agree.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>
#include <valgrind/memcheck.h>

#include "mlkem.h"
#include "sntrup761.h"

#define SECRET(p, n) VALGRIND_MAKE_MEM_UNDEFINED((p), (n))
#define PUBLIC(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))

static int failures;

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "ct_pq: %s\n", what);
        failures++;
    }
}

static void rnd(uint8_t *p, size_t n)
{
    if (RAND_bytes(p, (int)n) != 1)
        abort();
}

/* sntrup761's random source: libcrypto's bytes, marked secret. */
static void secret_rand(void *ctx, uint8_t *out, size_t n)
{
    (void)ctx;
    rnd(out, n);
    SECRET(out, n);
}

static void mlkem_round(int flip)
{
    uint8_t d[32], z[32], m[32], ek[SSH_MLKEM768_EK_BYTES], dk[SSH_MLKEM768_DK_BYTES];
    uint8_t ct[SSH_MLKEM768_CT_BYTES], ss[32], ss2[32];
    rnd(d, 32), rnd(z, 32), rnd(m, 32);
    SECRET(d, 32), SECRET(z, 32), SECRET(m, 32);
    check(ssh_mlkem768_keygen(ek, dk, d, z) == 0, "mlkem keygen");
    /* ek is public, and so are the copy of ek and H(ek) inside dk; the
     * rest of dk (s-hat and z) stays secret. */
    PUBLIC(ek, sizeof(ek));
    PUBLIC(dk + 1152, 1184 + 32);
    check(ssh_mlkem768_encaps(ct, ss, ek, m) == 0, "mlkem encaps");
    PUBLIC(ct, sizeof(ct));
    if (flip)
        ct[flip % sizeof(ct)] ^= 1; /* the implicit-rejection path */
    check(ssh_mlkem768_decaps(ss2, ct, dk) == 0, "mlkem decaps");
    PUBLIC(ss, 32), PUBLIC(ss2, 32);
    check((memcmp(ss, ss2, 32) == 0) == !flip, "mlkem shared secrets");
}

static void sntrup_round(int flip)
{
    uint8_t pk[SSH_SNTRUP761_PK_BYTES], sk[SSH_SNTRUP761_SK_BYTES], ct[SSH_SNTRUP761_CT_BYTES];
    uint8_t ss[32], ss2[32];
    check(ssh_sntrup761_keypair(pk, sk, secret_rand, NULL) == 0, "sntrup keypair");
    /* pk, its copy in sk and Hash4(pk) are public; f, 1/g and rho not. */
    PUBLIC(pk, sizeof(pk));
    PUBLIC(sk + 382, SSH_SNTRUP761_PK_BYTES);
    PUBLIC(sk + 382 + SSH_SNTRUP761_PK_BYTES + 191, 32);
    check(ssh_sntrup761_enc(ct, ss, pk, secret_rand, NULL) == 0, "sntrup enc");
    PUBLIC(ct, sizeof(ct));
    if (flip)
        ct[flip % sizeof(ct)] ^= 1;
    check(ssh_sntrup761_dec(ss2, ct, sk) == 0, "sntrup dec");
    PUBLIC(ss, 32), PUBLIC(ss2, 32);
    check((memcmp(ss, ss2, 32) == 0) == !flip, "sntrup shared secrets");
}

/* A comparison that exits early: what the KEMs must not do. */
static int leaky_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return 0;
    return 1;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "leak") == 0) {
        uint8_t a[32], b[32];
        rnd(a, 32);
        memcpy(b, a, 32);
        SECRET(a, 32);
        int eq = leaky_equal(a, b, 32);
        printf("leaky comparison: %d\n", eq);
        return 0;
    }
    if (!RUNNING_ON_VALGRIND)
        fprintf(stderr, "ct_pq: not under valgrind: functional run only\n");
    ssh_mlkem768_force_builtin(1); /* the engine's own code is what is checked */
    for (int i = 0; i < 3; i++)
        mlkem_round(i == 2 ? 777 : 0);
    for (int i = 0; i < 2; i++)
        sntrup_round(i == 1 ? 555 : 0);
    printf("ct_pq: %s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
