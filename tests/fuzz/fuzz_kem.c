/*
 * fuzz_kem.c - the two KEMs of the post-quantum key exchanges on arbitrary
 * bytes: what a peer controls is the ciphertext (client side) and the
 * public key (server side).
 *
 * First byte, low two bits:
 *   0  ML-KEM-768 decapsulation of the input (cut or zero-padded to 1088
 *      bytes) with a fixed key: must succeed (implicit rejection, never an
 *      error) and give the encapsulated key only for the real ciphertext;
 *   1  ML-KEM-768 encapsulation to the input as public key (1184 bytes):
 *      refused (SSH_ERR_KEY_INVALID) exactly when some 12-bit coefficient
 *      is >= q (FIPS 203 section 7.2, recomputed here), else it succeeds;
 *   2  sntrup761 decapsulation of the input (1039 bytes) with a fixed key;
 *   3  sntrup761 encapsulation to the input as public key (1158 bytes):
 *      every encoding decodes, so it must succeed.
 * Inputs are cut or zero-padded to the KEM's size (the key exchange
 * refuses other lengths before the KEM sees them; fuzz_kex_hybrid covers
 * that).  Bit 2 in modes 0 and 2 flips bits of a real ciphertext instead:
 * byte input[1], bits input[2] | 1.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mlkem.h"
#include "sntrup761.h"
#include "sshtun/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_kem: check failed at line %d: %s\n", __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static uint64_t rng_state = 0x5eed;

static void det_rand(void *ctx, uint8_t *out, size_t n)
{
    (void)ctx;
    for (size_t i = 0; i < n; i++) {
        rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
        out[i] = (uint8_t)(rng_state >> 56);
    }
}

static struct {
    int ready;
    uint8_t mek[SSH_MLKEM768_EK_BYTES], mdk[SSH_MLKEM768_DK_BYTES], mct[SSH_MLKEM768_CT_BYTES];
    uint8_t mss[32];
    uint8_t spk[SSH_SNTRUP761_PK_BYTES], ssk[SSH_SNTRUP761_SK_BYTES], sct[SSH_SNTRUP761_CT_BYTES];
    uint8_t sss[32];
} k;

static void keys(void)
{
    if (k.ready)
        return;
    uint8_t seed[96];
    det_rand(NULL, seed, sizeof(seed));
    CHECK(ssh_mlkem768_keygen(k.mek, k.mdk, seed, seed + 32) == 0);
    CHECK(ssh_mlkem768_encaps(k.mct, k.mss, k.mek, seed + 64) == 0);
    CHECK(ssh_sntrup761_keypair(k.spk, k.ssk, det_rand, NULL) == 0);
    CHECK(ssh_sntrup761_enc(k.sct, k.sss, k.spk, det_rand, NULL) == 0);
    k.ready = 1;
}

/* dst[n] from the input: a copy cut or zero-padded. */
static void take(uint8_t *dst, size_t n, const uint8_t *src, size_t len)
{
    memset(dst, 0, n);
    memcpy(dst, src, len < n ? len : n);
}

static int ek_valid(const uint8_t *ek)
{
    for (size_t i = 0; i < 1152; i += 3) {
        unsigned d1 = ek[i] | ((ek[i + 1] & 0x0fu) << 8), d2 = (ek[i + 1] >> 4) | (ek[i + 2] << 4);
        if (d1 >= 3329 || d2 >= 3329)
            return 0;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    keys();
    unsigned mode = data[0] & 3, alt = data[0] & 4;
    data++, size--;
    uint8_t ss[32];
    switch (mode) {
    case 0: {
        uint8_t ct[SSH_MLKEM768_CT_BYTES];
        if (alt) {
            memcpy(ct, k.mct, sizeof(ct));
            ct[(size ? data[0] : 0) % sizeof(ct)] ^= (uint8_t)(size > 1 ? data[1] | 1 : 1);
        } else {
            take(ct, sizeof(ct), data, size);
        }
        CHECK(ssh_mlkem768_decaps(ss, ct, k.mdk) == 0);
        CHECK((memcmp(ss, k.mss, 32) == 0) == (memcmp(ct, k.mct, sizeof(ct)) == 0));
        break;
    }
    case 1: {
        uint8_t ek[SSH_MLKEM768_EK_BYTES], ct[SSH_MLKEM768_CT_BYTES], m[32] = {1};
        take(ek, sizeof(ek), data, size);
        int rv = ssh_mlkem768_encaps(ct, ss, ek, m);
        CHECK(rv == (ek_valid(ek) ? 0 : SSH_ERR_KEY_INVALID));
        break;
    }
    case 2: {
        uint8_t ct[SSH_SNTRUP761_CT_BYTES];
        if (alt) {
            memcpy(ct, k.sct, sizeof(ct));
            ct[(size ? data[0] : 0) % sizeof(ct)] ^= (uint8_t)(size > 1 ? data[1] | 1 : 1);
        } else {
            take(ct, sizeof(ct), data, size);
        }
        CHECK(ssh_sntrup761_dec(ss, ct, k.ssk) == 0);
        CHECK((memcmp(ss, k.sss, 32) == 0) == (memcmp(ct, k.sct, sizeof(ct)) == 0));
        break;
    }
    default: {
        uint8_t pk[SSH_SNTRUP761_PK_BYTES], ct[SSH_SNTRUP761_CT_BYTES];
        take(pk, sizeof(pk), data, size);
        CHECK(ssh_sntrup761_enc(ct, ss, pk, det_rand, NULL) == 0);
        break;
    }
    }
    return 0;
}
