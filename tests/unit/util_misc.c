/*
 * util_misc.c - hex decoding and a deterministic RNG for unit tests.
 */
#include "util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static int nib(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

uint8_t *test_unhex(const char *hex, size_t *len)
{
    size_t n = strlen(hex);
    uint8_t *out = malloc(n / 2 + 1);
    assert_non_null(out);
    size_t o = 0;
    int hi = -1;
    for (size_t i = 0; i < n; i++) {
        if (isspace((unsigned char)hex[i]))
            continue;
        int v = nib((unsigned char)hex[i]);
        assert_true(v >= 0);
        if (hi < 0) {
            hi = v;
        } else {
            out[o++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    assert_true(hi < 0);
    *len = o;
    return out;
}

void test_rand(void *user, uint8_t *buf, size_t n)
{
    uint64_t *s = user;
    while (n > 0) {
        uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        z ^= z >> 31;
        for (int i = 0; i < 8 && n > 0; i++, n--) {
            *buf++ = (uint8_t)z;
            z >>= 8;
        }
    }
}
