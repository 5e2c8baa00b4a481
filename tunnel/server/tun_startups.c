/*
 * tun_startups.c - MaxStartups as sshd applies it (sshd_config(5)):
 * "start:rate:full" over the connections that have not authenticated yet.
 * sshtund's default is far higher than sshd's 10:30:100 - a handshake
 * costs it a few kilobytes, not a process.
 */
#include "tun_startups.h"

#include <openssl/rand.h>

int tun_max_startups_drop(const tun_srvcfg *c, unsigned n, unsigned r100)
{
    if (c->max_startups_begin <= 0 || n < (unsigned)c->max_startups_begin)
        return 0;
    if (n >= (unsigned)c->max_startups_full)
        return 1;
    int span = c->max_startups_full - c->max_startups_begin;
    int p = c->max_startups_rate;
    if (span > 0)
        p += (100 - c->max_startups_rate) * (int)(n - (unsigned)c->max_startups_begin) / span;
    return (int)r100 < p;
}

unsigned tun_max_startups_rand(void)
{
    unsigned char r;
    /* 256 is not a multiple of 100: draw again above 199 (no bias). */
    for (int i = 0; i < 16; i++) {
        if (RAND_bytes(&r, 1) != 1)
            return 0;
        if (r < 200)
            return r % 100;
    }
    return 0;
}
