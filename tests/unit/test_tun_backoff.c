/*
 * test_tun_backoff.c - the reconnect schedule (tunnel/core/tun_backoff.h)
 * under a fake clock: nominal doubling up to the cap, the bounds of the
 * jitter (never below min, never above max, actually random), a whole
 * outage of failed attempts played through, network changes pulling a
 * waiting retry forward (but never closer than min to the last attempt),
 * and the schedule starting over after a reconnect.
 */
#include "util.h"

#include <stdint.h>

#include "tun_backoff.h"

/* A deterministic stand-in for RAND_bytes. */
static uint32_t lcg(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return *s;
}

static void test_nominal(void **state)
{
    (void)state;
    tun_backoff b;
    tun_backoff_init(&b, 1000, 30000);
    const uint64_t want[] = {1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000};
    for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        assert_int_equal(tun_backoff_nominal(&b, i), want[i]);
    /* far along the schedule: no overflow, still the cap */
    assert_int_equal(tun_backoff_nominal(&b, 200), 30000);
    /* max below min is taken as min; min 0 as 1 ms */
    tun_backoff_init(&b, 5000, 2000);
    assert_int_equal(b.max_ms, 5000);
    tun_backoff_init(&b, 0, 0);
    assert_int_equal(b.min_ms, 1);
}

static void test_jitter_bounds(void **state)
{
    (void)state;
    tun_backoff b;
    tun_backoff_init(&b, 1000, 30000);
    uint32_t seed = 7;
    for (unsigned step = 0; step < 10; step++) {
        uint64_t t = tun_backoff_nominal(&b, step);
        uint64_t lo = t, hi = t + t / 4;
        if (hi > 30000) {
            hi = 30000;
            lo = t < 24000 ? t : 24000; /* at the cap: [max*4/5, max] */
        }
        uint64_t seen_lo = UINT64_MAX, seen_hi = 0;
        for (int i = 0; i < 2000; i++) {
            uint64_t w = tun_backoff_wait(&b, step, lcg(&seed));
            assert_true(w >= lo && w <= hi);
            assert_true(w >= b.min_ms && w <= b.max_ms);
            if (w < seen_lo)
                seen_lo = w;
            if (w > seen_hi)
                seen_hi = w;
        }
        /* it really is spread over the range */
        assert_true(seen_lo < lo + (hi - lo) / 10 + 1);
        assert_true(seen_hi + (hi - lo) / 10 + 1 > hi);
    }
    /* the extremes of the random value hit the ends */
    assert_int_equal(tun_backoff_wait(&b, 0, 0), 1000);
    assert_int_equal(tun_backoff_wait(&b, 0, 250), 1250);
    assert_int_equal(tun_backoff_wait(&b, 9, 0), 24000);
}

static void test_fixed_interval(void **state)
{
    (void)state;
    tun_backoff b;
    tun_backoff_init(&b, 5000, 5000); /* ReconnectInterval 5 with max 5: no jitter possible */
    uint32_t seed = 1;
    for (unsigned step = 0; step < 6; step++)
        for (int i = 0; i < 100; i++)
            assert_int_equal(tun_backoff_wait(&b, step, lcg(&seed)), 5000);
    /* min just below max: jitter within [min, max] only */
    tun_backoff_init(&b, 25000, 30000);
    for (int i = 0; i < 1000; i++) {
        uint64_t w = tun_backoff_wait(&b, 0, lcg(&seed));
        assert_true(w >= 25000 && w <= 30000);
    }
}

/* A whole outage under the fake clock: lost at 10 s, every attempt fails
 * after 300 ms, the server comes back after two minutes. */
static void test_outage(void **state)
{
    (void)state;
    tun_backoff b;
    tun_backoff_init(&b, 1000, 30000);
    uint32_t seed = 42;
    uint64_t now = 10000;
    assert_int_equal(b.down_since, 0);
    uint64_t w = tun_backoff_lost(&b, now, lcg(&seed));
    assert_int_equal(b.down_since, now);
    assert_true(w >= 1000 && w <= 1250);
    assert_int_equal(b.next_at, now + w);
    unsigned n = 0;
    uint64_t prev_wait = 0;
    while (now < 10000 + 120000) {
        now = b.next_at; /* the timer fires */
        tun_backoff_attempt(&b, now);
        n++;
        assert_int_equal(b.attempts, n);
        assert_int_equal(b.next_at, 0); /* nothing scheduled during an attempt */
        now += 300;                     /* it fails */
        w = tun_backoff_failed(&b, now, lcg(&seed));
        uint64_t t = tun_backoff_nominal(&b, n);
        if (t < 30000) {
            assert_true(w >= t && w <= t + t / 4);
            assert_true(w > prev_wait); /* growing until the cap */
        } else {
            assert_true(w >= 24000 && w <= 30000);
        }
        prev_wait = w;
        assert_int_equal(b.next_at, now + w);
    }
    /* two minutes at most 30 s apart after the first minute: a handful of
     * attempts, not hundreds */
    assert_true(n >= 7 && n <= 10);
    tun_backoff_attempt(&b, b.next_at);
    tun_backoff_up(&b);
    assert_int_equal(b.down_since, 0);
    assert_int_equal(b.attempts, 0);
    /* lost again: the schedule starts over at min */
    w = tun_backoff_lost(&b, 500000, lcg(&seed));
    assert_true(w >= 1000 && w <= 1250);
    assert_int_equal(b.attempts, 0);
}

static void test_network_change(void **state)
{
    (void)state;
    tun_backoff b;
    tun_backoff_init(&b, 2000, 60000);
    uint32_t seed = 3;
    /* up: nothing to move */
    assert_int_equal(tun_backoff_network_changed(&b, 1000), 0);
    tun_backoff_lost(&b, 1000, lcg(&seed));
    /* a few failures, the wait grows to ~16 s */
    uint64_t now = 1000;
    for (int i = 0; i < 3; i++) {
        now = b.next_at;
        tun_backoff_attempt(&b, now);
        now += 100;
        tun_backoff_failed(&b, now, lcg(&seed));
    }
    uint64_t last = b.last_attempt;
    assert_true(b.next_at > now + 10000);
    /* a change right after the failed attempt: not sooner than min after
     * that attempt started */
    assert_int_equal(tun_backoff_network_changed(&b, now), 1);
    assert_int_equal(b.next_at, last + 2000);
    /* another event in the same burst changes nothing more */
    assert_int_equal(tun_backoff_network_changed(&b, now + 10), 0);
    assert_int_equal(b.next_at, last + 2000);
    /* later on, during a long wait: half a second from the event */
    now = b.next_at;
    tun_backoff_attempt(&b, now);
    now += 100;
    tun_backoff_failed(&b, now, lcg(&seed));
    now += 5000;
    assert_int_equal(tun_backoff_network_changed(&b, now), 1);
    assert_int_equal(b.next_at, now + TUN_BACKOFF_NETWORK_DELAY_MS);
    /* during an attempt: nothing scheduled, nothing to move */
    now = b.next_at;
    tun_backoff_attempt(&b, now);
    assert_int_equal(tun_backoff_network_changed(&b, now + 50), 0);
    assert_int_equal(b.next_at, 0);
    /* a pulled-forward retry does not reset the growth of the schedule */
    unsigned step = b.step;
    tun_backoff_failed(&b, now + 100, lcg(&seed));
    assert_int_equal(b.step, step + 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nominal),
        cmocka_unit_test(test_jitter_bounds),
        cmocka_unit_test(test_fixed_interval),
        cmocka_unit_test(test_outage),
        cmocka_unit_test(test_network_change),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
