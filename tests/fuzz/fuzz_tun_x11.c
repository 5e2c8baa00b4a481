/*
 * fuzz_tun_x11.c - the check of an X client's connection setup that
 * sshtun makes before anything of an x11 channel reaches the local display
 * (tun_x11_substitute, tunnel/client/tun_x11.h).
 *
 * Input: byte 0 = chunking (0: all at once; n: pieces of 1..n bytes from a
 * generator seeded with n), byte 1 = cookie length (0..32), then the bytes
 * the remote X client sends.  The fake cookie is bytes 0x5a, the real one
 * 0xa5, the protocol name MIT-MAGIC-COOKIE-1.
 *
 * Checked, growing the buffer piece by piece as x11 channel data arrives:
 * the verdict is 0 (more bytes needed) until it is final and stays so; 1
 * only when the buffer holds exactly the fake cookie where the setup says
 * its data is, which afterwards holds the real one, every other byte
 * unchanged; a refusal changes nothing; and the verdict does not depend on
 * how the bytes were cut.
 */
#include <string.h>

#include "fuzz_tun.h"
#include "tun_x11.h"

#define PROTO "MIT-MAGIC-COOKIE-1"

static int judge(const uint8_t *in, size_t len, unsigned chunk, size_t cl, uint8_t *out,
                 size_t *used)
{
    uint8_t fake[32], real[32];
    memset(fake, 0x5a, sizeof(fake));
    memset(real, 0xa5, sizeof(real));
    unsigned seed = chunk;
    size_t have = 0;
    int v = 0;
    while (have < len) {
        size_t k = chunk ? 1 + (seed = seed * 1103515245u + 12345u) % chunk : len - have;
        if (k > len - have)
            k = len - have;
        memcpy(out + have, in + have, k);
        have += k;
        const char *why = NULL;
        uint8_t before[65536];
        memcpy(before, out, have);
        v = tun_x11_substitute(out, have, PROTO, fake, real, cl, &why);
        CHECK(v >= -1 && v <= 1);
        if (v <= 0)
            CHECK(memcmp(before, out, have) == 0); /* untouched */
        if (v < 0)
            CHECK(why != NULL);
        if (v == 1) {
            /* Exactly the cookie's bytes changed, from fake to real. */
            size_t diff = 0;
            for (size_t i = 0; i < have; i++)
                if (before[i] != out[i]) {
                    CHECK(before[i] == 0x5a && out[i] == 0xa5);
                    diff++;
                }
            CHECK(diff == cl);
        }
        if (v != 0)
            break;
    }
    *used = have;
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size > 65536 + 2)
        return 0;
    unsigned chunk = data[0];
    size_t cl = data[1] % 33;
    const uint8_t *in = data + 2;
    size_t len = size - 2;
    static uint8_t a[65536], b[65536];
    size_t ua, ub;
    int va = judge(in, len, chunk, cl, a, &ua);
    int vb = judge(in, len, 0, cl, b, &ub);
    CHECK(va == vb);
    if (va == 1)
        CHECK(memcmp(a, b, ua < ub ? ua : ub) == 0);
    return 0;
}
