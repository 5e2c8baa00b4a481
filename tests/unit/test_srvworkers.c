/*
 * test_srvworkers.c - the pure parts of sshtund's `Workers N`: the
 * MaxStartups decision the helper applies to all workers together
 * (tun_startups.c), the supervisor's restart policy (tun_workers.c) and
 * the Workers keyword (default: the CPUs this process may use).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sched_getaffinity */
#endif
#include "util.h"

#include "tun_srvconfig.h"
#include "tun_startups.h"
#include "tun_workers.h"

#include <sched.h>
#include <string.h>

static void cfg_with(tun_srvcfg *c, const char *line)
{
    tun_srvcfg_init(c);
    if (line)
        assert_int_equal(tun_srvcfg_apply(c, line, "t"), 0);
    assert_int_equal(tun_srvcfg_finish(c), 0);
}

/* "start:rate:full": nothing dropped below start, everything from full,
 * in between rate% rising linearly to 100%. */
static void max_startups_curve(void **state)
{
    (void)state;
    tun_srvcfg c;
    cfg_with(&c, "MaxStartups 10:30:20");
    for (unsigned r = 0; r < 100; r++) {
        assert_int_equal(tun_max_startups_drop(&c, 0, r), 0);
        assert_int_equal(tun_max_startups_drop(&c, 9, r), 0);
        assert_int_equal(tun_max_startups_drop(&c, 20, r), 1);
        assert_int_equal(tun_max_startups_drop(&c, 500, r), 1);
    }
    /* at start: 30% of the draws drop; half way: 65%; one short of full: 93% */
    unsigned n10 = 0, n15 = 0, n19 = 0;
    for (unsigned r = 0; r < 100; r++) {
        n10 += (unsigned)tun_max_startups_drop(&c, 10, r);
        n15 += (unsigned)tun_max_startups_drop(&c, 15, r);
        n19 += (unsigned)tun_max_startups_drop(&c, 19, r);
    }
    assert_int_equal(n10, 30);
    assert_int_equal(n15, 65);
    assert_int_equal(n19, 93);
    tun_srvcfg_free(&c);
    /* a single number: start = full (every connection from there on) */
    cfg_with(&c, "MaxStartups 4");
    assert_int_equal(tun_max_startups_drop(&c, 3, 0), 0);
    assert_int_equal(tun_max_startups_drop(&c, 4, 99), 1);
    tun_srvcfg_free(&c);
}

static void max_startups_rand_is_uniform_range(void **state)
{
    (void)state;
    unsigned seen[100];
    memset(seen, 0, sizeof(seen));
    for (int i = 0; i < 20000; i++) {
        unsigned r = tun_max_startups_rand();
        assert_true(r < 100);
        seen[r]++;
    }
    /* 200 expected each: every value turns up, none wildly often */
    for (int i = 0; i < 100; i++) {
        assert_true(seen[i] > 100);
        assert_true(seen[i] < 320);
    }
}

static void restart_policy(void **state)
{
    (void)state;
    double t[TUN_WORKERS_MAX_RESTARTS];
    for (int i = 0; i < TUN_WORKERS_MAX_RESTARTS; i++)
        t[i] = 100.0 + i;
    /* fewer than the maximum so far: always */
    assert_int_equal(tun_workers_may_restart(t, 0, 0.0), 1);
    assert_int_equal(tun_workers_may_restart(t, TUN_WORKERS_MAX_RESTARTS - 1, 110.0), 1);
    /* the maximum within the window: no more */
    assert_int_equal(tun_workers_may_restart(t, TUN_WORKERS_MAX_RESTARTS, 110.0), 0);
    assert_int_equal(
        tun_workers_may_restart(t, TUN_WORKERS_MAX_RESTARTS, 100.0 + TUN_WORKERS_RESTART_WINDOW),
        0);
    /* the oldest out of the window: again */
    assert_int_equal(tun_workers_may_restart(t, TUN_WORKERS_MAX_RESTARTS,
                                             100.0 + TUN_WORKERS_RESTART_WINDOW + 0.5),
                     1);
}

static void workers_keyword(void **state)
{
    (void)state;
    tun_srvcfg c;
    cfg_with(&c, NULL);
    cpu_set_t set;
    assert_int_equal(sched_getaffinity(0, sizeof(set), &set), 0);
    int n = CPU_COUNT(&set);
    assert_int_equal(c.workers, n > TUN_SRV_MAX_WORKERS ? TUN_SRV_MAX_WORKERS : n);
    assert_int_equal(tun_srvcfg_cpus(), c.workers);
    tun_srvcfg_free(&c);
    cfg_with(&c, "Workers 1");
    assert_int_equal(c.workers, 1);
    tun_srvcfg_free(&c);
    cfg_with(&c, "Workers 8");
    assert_int_equal(c.workers, 8);
    tun_srvcfg_free(&c);
    tun_srvcfg_init(&c);
    assert_int_not_equal(tun_srvcfg_apply(&c, "Workers 0", "t"), 0);
    assert_int_not_equal(tun_srvcfg_apply(&c, "Workers two", "t"), 0);
    assert_int_not_equal(tun_srvcfg_apply(&c, "Workers -1", "t"), 0);
    tun_srvcfg_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(max_startups_curve),
        cmocka_unit_test(max_startups_rand_is_uniform_range),
        cmocka_unit_test(restart_policy),
        cmocka_unit_test(workers_keyword),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
