/*
 * pq_crosscheck.c - the C side of unit.test_pq_noble: ML-KEM-768 of the
 * engine (proto/mlkem.c, its own implementation) against an independent
 * one, @noble/post-quantum (JavaScript), on random inputs.
 *
 * Reads lines "d z m H(ek) H(dk) H(c) K K_rej" from stdin (hex; H is
 * SHA-256, K_rej the decapsulation of c with byte (n mod 1088) flipped,
 * n the line number), as tests/unit/test_pq_noble.sh's node script writes
 * them, recomputes every value here and reports each difference.  Exit 0
 * when all of at least `min` lines (argv[1]) agree.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "mlkem.h"

static int unhex(const char *s, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        if (sscanf(s + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (uint8_t)v;
    }
    return s[2 * n] == '\0' || s[2 * n] == ' ' || s[2 * n] == '\n' ? 0 : -1;
}

static void sha256(const uint8_t *p, size_t n, uint8_t out[32])
{
    unsigned int l = 0;
    EVP_Digest(p, n, out, &l, EVP_sha256(), NULL);
}

int main(int argc, char **argv)
{
    long min = argc > 1 ? atol(argv[1]) : 1;
    char line[1024];
    long lines = 0, bad = 0;
    ssh_mlkem768_force_builtin(1);
    while (fgets(line, sizeof(line), stdin) != NULL) {
        char *f[8];
        int nf = 0;
        for (char *t = strtok(line, " \n"); t && nf < 8; t = strtok(NULL, " \n"))
            f[nf++] = t;
        if (nf != 8) {
            fprintf(stderr, "line %ld: %d fields\n", lines + 1, nf);
            return 2;
        }
        uint8_t d[32], z[32], m[32], hek[32], hdk[32], hct[32], k[32], krej[32];
        if (unhex(f[0], d, 32) || unhex(f[1], z, 32) || unhex(f[2], m, 32) ||
            unhex(f[3], hek, 32) || unhex(f[4], hdk, 32) || unhex(f[5], hct, 32) ||
            unhex(f[6], k, 32) || unhex(f[7], krej, 32)) {
            fprintf(stderr, "line %ld: bad hex\n", lines + 1);
            return 2;
        }
        static uint8_t ek[SSH_MLKEM768_EK_BYTES], dk[SSH_MLKEM768_DK_BYTES],
            ct[SSH_MLKEM768_CT_BYTES];
        uint8_t ss[32], ss2[32], h[32];
        const char *why = NULL;
        if (ssh_mlkem768_keygen(ek, dk, d, z) != 0)
            why = "keygen failed";
        else if (sha256(ek, sizeof(ek), h), memcmp(h, hek, 32) != 0)
            why = "ek differs";
        else if (sha256(dk, sizeof(dk), h), memcmp(h, hdk, 32) != 0)
            why = "dk differs";
        else if (ssh_mlkem768_encaps(ct, ss, ek, m) != 0)
            why = "encaps failed";
        else if (sha256(ct, sizeof(ct), h), memcmp(h, hct, 32) != 0)
            why = "ciphertext differs";
        else if (memcmp(ss, k, 32) != 0)
            why = "shared secret differs";
        else if (ssh_mlkem768_decaps(ss2, ct, dk) != 0 || memcmp(ss2, k, 32) != 0)
            why = "decapsulation differs";
        else {
            ct[lines % sizeof(ct)] ^= 0x01;
            if (ssh_mlkem768_decaps(ss2, ct, dk) != 0 || memcmp(ss2, krej, 32) != 0)
                why = "implicit rejection differs";
        }
        lines++;
        if (why) {
            bad++;
            if (bad <= 10)
                fprintf(stderr, "line %ld (d=%.16s...): %s\n", lines, f[0], why);
        }
    }
    printf("%ld key pairs compared with @noble/post-quantum, %ld differ\n", lines, bad);
    return bad == 0 && lines >= min ? 0 : 1;
}
