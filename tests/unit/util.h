/*
 * util.h - helpers shared by the cmocka unit tests.
 */
#ifndef SSHTUN_TEST_UTIL_H
#define SSHTUN_TEST_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

/* Decode a hex string (whitespace ignored) into a malloc'd buffer; *len gets
 * its length.  Fails the test on malformed input. */
uint8_t *test_unhex(const char *hex, size_t *len);

/* Deterministic pseudo-random bytes (a seeded SplitMix64 stream) so that
 * in-memory protocol runs are reproducible.  Signature matches the engine's
 * random callback: user points at a uint64_t state. */
void test_rand(void *user, uint8_t *buf, size_t n);

#endif
