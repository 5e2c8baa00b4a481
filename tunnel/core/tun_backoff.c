/*
 * tun_backoff.c - exponential backoff with jitter (see tun_backoff.h).
 *
 * Why the jitter only stretches the wait (up to a quarter) instead of the
 * usual "anything between half and all of it": ReconnectInterval's min is
 * a promise to the server (never more often than that), so no wait may be
 * shorter than its nominal value - except at the cap, where stretching is
 * impossible and the wait is drawn from the last fifth below max instead.
 */
#include "tun_backoff.h"

void tun_backoff_init(tun_backoff *b, uint64_t min_ms, uint64_t max_ms)
{
    if (min_ms < 1)
        min_ms = 1;
    if (max_ms < min_ms)
        max_ms = min_ms;
    b->min_ms = min_ms;
    b->max_ms = max_ms;
    tun_backoff_up(b);
}

uint64_t tun_backoff_nominal(const tun_backoff *b, unsigned step)
{
    uint64_t t = b->min_ms;
    for (unsigned i = 0; i < step && t < b->max_ms; i++)
        t *= 2; /* min_ms <= max_ms bounds t below 2^64 */
    return t < b->max_ms ? t : b->max_ms;
}

uint64_t tun_backoff_wait(const tun_backoff *b, unsigned step, uint32_t rnd)
{
    uint64_t t = tun_backoff_nominal(b, step);
    uint64_t hi = t + t / 4;
    if (hi > b->max_ms)
        hi = b->max_ms;
    uint64_t lo = t;
    if (lo > hi - hi / 5)
        lo = hi - hi / 5; /* at the cap: the last fifth below max */
    if (lo < b->min_ms)
        lo = b->min_ms;
    if (hi <= lo)
        return lo;
    return lo + (uint64_t)rnd % (hi - lo + 1);
}

static uint64_t schedule(tun_backoff *b, uint64_t now, uint32_t rnd)
{
    uint64_t w = tun_backoff_wait(b, b->step, rnd);
    if (b->step < 64)
        b->step++;
    b->next_at = now + w;
    return w;
}

uint64_t tun_backoff_lost(tun_backoff *b, uint64_t now, uint32_t rnd)
{
    b->step = 0;
    b->attempts = 0;
    b->last_attempt = 0;
    b->down_since = now ? now : 1;
    return schedule(b, now, rnd);
}

void tun_backoff_attempt(tun_backoff *b, uint64_t now)
{
    b->attempts++;
    b->last_attempt = now;
    b->next_at = 0;
}

uint64_t tun_backoff_failed(tun_backoff *b, uint64_t now, uint32_t rnd)
{
    return schedule(b, now, rnd);
}

int tun_backoff_network_changed(tun_backoff *b, uint64_t now)
{
    if (b->down_since == 0 || b->next_at == 0)
        return 0; /* up, or an attempt is under way */
    uint64_t want = now + TUN_BACKOFF_NETWORK_DELAY_MS;
    if (b->last_attempt && want < b->last_attempt + b->min_ms)
        want = b->last_attempt + b->min_ms;
    if (want >= b->next_at)
        return 0;
    b->next_at = want;
    return 1;
}

void tun_backoff_up(tun_backoff *b)
{
    b->step = 0;
    b->down_since = 0;
    b->next_at = 0;
    b->last_attempt = 0;
    b->attempts = 0;
}
