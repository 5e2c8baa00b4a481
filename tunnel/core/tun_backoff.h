/*
 * tun_backoff.h - the retry schedule of a persistent tunnel (Reconnect,
 * ReconnectInterval min:max), as pure functions of a small state, the
 * current time and a random number: no clock, no timer, no randomness of
 * its own, so it runs under a fake clock in a unit test.
 *
 * The schedule: the n-th wait (n = 0, 1, 2, ... since the connection was
 * lost) has the nominal length t(n) = min * 2^n, at most max.  Each wait
 * is drawn at random from [t(n), t(n) * 5/4] ("jitter", so that many
 * tunnels cut off by one server restart do not all come back in the same
 * second), never longer than max; once t(n) reaches max the wait is drawn
 * from [max * 4/5, max].  Never shorter than min.
 *
 * A change of the network (a new address or route) moves a pending retry
 * forward to "soon", but never closer than min to the start of the
 * previous attempt (a flapping interface must not turn the schedule into
 * a busy loop).
 */
#ifndef SSHTUN_TUN_BACKOFF_H
#define SSHTUN_TUN_BACKOFF_H

#include <stdint.h>

/* How soon after a network change a waiting retry starts (milliseconds):
 * events come in bursts (an address, then routes), the last one counts. */
#define TUN_BACKOFF_NETWORK_DELAY_MS 500

typedef struct tun_backoff {
    uint64_t min_ms, max_ms;
    unsigned step;         /* waits scheduled since the connection was lost */
    uint64_t down_since;   /* when the connection was lost; 0 while up */
    uint64_t next_at;      /* when the next attempt starts; 0: none scheduled */
    uint64_t last_attempt; /* when the last attempt started; 0: none yet */
    unsigned attempts;     /* attempts started since the connection was lost */
} tun_backoff;

/* min_ms >= 1; max_ms < min_ms is taken as max_ms = min_ms. */
void tun_backoff_init(tun_backoff *b, uint64_t min_ms, uint64_t max_ms);

/* The nominal and the jittered length of wait number `step`; `rnd` is a
 * uniformly random 32-bit value. */
uint64_t tun_backoff_nominal(const tun_backoff *b, unsigned step);
uint64_t tun_backoff_wait(const tun_backoff *b, unsigned step, uint32_t rnd);

/* The connection was lost at `now` (ms): returns the wait before the first
 * attempt and schedules it (next_at). */
uint64_t tun_backoff_lost(tun_backoff *b, uint64_t now, uint32_t rnd);
/* An attempt starts at `now` (the schedule said so, or the network changed). */
void tun_backoff_attempt(tun_backoff *b, uint64_t now);
/* The attempt failed at `now`: returns the wait before the next one and
 * schedules it. */
uint64_t tun_backoff_failed(tun_backoff *b, uint64_t now, uint32_t rnd);
/* The network changed at `now`: if a retry is scheduled later than it
 * should now be, move it forward; returns 1 if next_at changed. */
int tun_backoff_network_changed(tun_backoff *b, uint64_t now);
/* Connected again: the schedule starts over the next time. */
void tun_backoff_up(tun_backoff *b);

#endif
