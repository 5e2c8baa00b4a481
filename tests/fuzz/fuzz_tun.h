/*
 * fuzz_tun.h - shared by the fuzz targets of the programs' parsers
 * (tests/fuzz/fuzz_tun_*.c, linked with the tunnel library).
 */
#ifndef SSHTUN_FUZZ_TUN_H
#define SSHTUN_FUZZ_TUN_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "tun_log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken invariant aborts: libFuzzer and replay both report it. */
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s: check failed at line %d: %s\n", __FILE__, __LINE__, #cond);       \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Every log line is formatted (DEBUG3, so the messages' arguments are
 * exercised too) and goes to /dev/null, opened once per process. */
static inline FILE *fuzz_tun_devnull(void)
{
    static FILE *devnull;
    if (devnull == NULL) {
        devnull = fopen("/dev/null", "w");
        if (devnull == NULL) {
            perror("/dev/null");
            abort();
        }
        tun_log_set_file(devnull);
        tun_log_set_level(TUN_LOG_DEBUG3);
    }
    return devnull;
}

/* A tiny deterministic generator for chunk sizes and the like. */
static inline uint32_t fuzz_tun_rand(uint32_t *state)
{
    uint32_t x = *state ? *state : 0x9e3779b9u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return x;
}

#endif
