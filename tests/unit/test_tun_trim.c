/*
 * test_tun_trim.c - idle-buffer release (tunnel/core/tun_trim.h) on a real
 * loop and clock: an armed entry is released once it has stayed quiet for
 * TUN_TRIM_IDLE_MS and not before, activity (arming again) postpones it,
 * disarming cancels it, each arm releases once, and the sweep timer never
 * keeps a loop running by itself.
 */
#include "util.h"

#include <ev.h>
#include <stdlib.h>
#include <string.h>

#include "tun_transport.h"
#include "tun_trim.h"

typedef struct {
    tun_trim t;
    int calls;
    uint64_t at; /* when released (ms) */
} entry;

static size_t release(tun_trim *t)
{
    entry *e = (entry *)t;
    e->calls++;
    e->at = tun_now_ms();
    return 4096;
}

typedef struct {
    entry *busy;    /* re-armed by the activity timer */
    entry *wait[2]; /* the guard ends the loop once these are released */
    uint64_t t0;
} ctx;

static void activity(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    ctx *c = w->data;
    tun_trim_arm(loop, &c->busy->t);
}

/* Keeps the loop running (the sweep does not) until the entries waited
 * for are released, 5 s at most. */
static void guard(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    ctx *c = w->data;
    int done = 1;
    for (int i = 0; i < 2; i++)
        if (c->wait[i] && c->wait[i]->calls == 0)
            done = 0;
    if (done || tun_now_ms() - c->t0 > 5000)
        ev_break(loop, EVBREAK_ALL);
}

static void test_release_after_quiet(void **state)
{
    (void)state;
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    entry quiet = {.t.fn = release}, busy = {.t.fn = release}, gone = {.t.fn = release};
    ctx c = {&busy, {&quiet, &busy}, tun_now_ms()};
    tun_trim_arm(loop, &quiet.t);
    tun_trim_arm(loop, &busy.t);
    tun_trim_arm(loop, &gone.t);
    tun_trim_disarm(&gone.t);
    /* busy is active again at 0.6 s: its quiet second starts over */
    ev_timer act, g;
    ev_timer_init(&act, activity, 0.6, 0.);
    ev_timer_init(&g, guard, 0.05, 0.05);
    act.data = g.data = &c;
    ev_timer_start(loop, &act);
    ev_timer_start(loop, &g);
    ev_run(loop, 0);
    ev_timer_stop(loop, &g);
    assert_int_equal(quiet.calls, 1);
    assert_int_equal(busy.calls, 1);
    assert_int_equal(gone.calls, 0);
    assert_true(quiet.at - c.t0 >= TUN_TRIM_IDLE_MS);
    assert_true(quiet.at - c.t0 < TUN_TRIM_IDLE_MS + 1500);
    assert_true(busy.at - c.t0 >= 600 + TUN_TRIM_IDLE_MS);
    /* released entries are unlinked: no second call, no timer left */
    ev_run(loop, EVRUN_NOWAIT);
    assert_int_equal(quiet.calls + busy.calls, 2);
    ev_loop_destroy(loop);
}

/* Armed entries do not keep a loop running: with nothing else to wait for
 * it ends at once, released or not.  Disarming the last entry stops the
 * sweep, so the next loop starts clean. */
static void test_sweep_does_not_hold_the_loop(void **state)
{
    (void)state;
    struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
    entry e = {.t.fn = release};
    uint64_t t0 = tun_now_ms();
    tun_trim_arm(loop, &e.t);
    ev_run(loop, 0);
    assert_true(tun_now_ms() - t0 < 500);
    assert_int_equal(e.calls, 0);
    tun_trim_disarm(&e.t);
    ev_loop_destroy(loop);
    loop = ev_loop_new(EVFLAG_AUTO);
    ctx c = {NULL, {&e, NULL}, tun_now_ms()};
    tun_trim_arm(loop, &e.t);
    ev_timer g;
    ev_timer_init(&g, guard, 0.05, 0.05);
    g.data = &c;
    ev_timer_start(loop, &g);
    ev_run(loop, 0);
    ev_timer_stop(loop, &g);
    assert_int_equal(e.calls, 1);
    ev_loop_destroy(loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_release_after_quiet),
        cmocka_unit_test(test_sweep_does_not_hold_the_loop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
