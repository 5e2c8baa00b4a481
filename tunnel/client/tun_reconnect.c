/*
 * tun_reconnect.c - the reconnect schedule on the event loop (see
 * tun_reconnect.h; the schedule itself is tun_backoff).
 *
 * Giving up: a refused host key is final at once (the usual refusal has
 * been printed; trying again could only ever let a changed key in).  A
 * refused login is final the second time: the first may be a server that
 * came back before its accounts or keys did; twice is a decision, and
 * hammering a server with refused logins gets addresses banned.
 * Everything else - refused or timed out TCP connects, a server that
 * closes at once, key exchange failures - is retried for as long as it
 * takes, at most every ReconnectInterval max.
 */
#include "tun_reconnect.h"
#include "tun_backoff.h"
#include "tun_log.h"
#include "tun_prompt.h"
#include "tun_transport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

struct tun_reconnect {
    struct ev_loop *loop;
    const tun_options *o;
    char *host;
    tun_reconnect_hooks hooks;
    void *arg;
    tun_backoff b;
    ev_timer next;     /* the next attempt */
    ev_timer watchdog; /* bounds an attempt without ConnectTimeout */
    uint64_t attempt_start, attempt_prompt;
    int attempting;
    int auth_refusals;
    time_t down_wall;
    char why[300];  /* why the connection was lost */
    char last[300]; /* why the last attempt failed */
    tun_netwatch *nw;
};

static uint32_t rnd32(void)
{
    uint32_t v = 0;
    if (RAND_bytes((unsigned char *)&v, sizeof(v)) != 1)
        v = (uint32_t)tun_now_ms(); /* jitter only: any value will do */
    return v;
}

/* A message as it ends a sentence of ours: without its final period. */
static void clause(const char *msg, const char *dflt, char *out, size_t len)
{
    snprintf(out, len, "%s", msg && *msg ? msg : dflt);
    size_t l = strlen(out);
    while (l > 0 && (out[l - 1] == '.' || out[l - 1] == '\n' || out[l - 1] == '\r'))
        out[--l] = '\0';
}

void tun_reconnect_fmt_wait(uint64_t ms, char *buf, size_t len)
{
    if (ms % 1000 == 0 || ms >= 10000)
        snprintf(buf, len, "%.0f s", (double)ms / 1000.0);
    else
        snprintf(buf, len, "%.1f s", (double)ms / 1000.0);
}

static void arm_next(tun_reconnect *r, uint64_t now)
{
    ev_timer_stop(r->loop, &r->next);
    uint64_t w = r->b.next_at > now ? r->b.next_at - now : 0;
    ev_timer_set(&r->next, (double)w / 1000.0, 0.);
    ev_timer_start(r->loop, &r->next);
}

static void start_attempt(tun_reconnect *r)
{
    uint64_t now = tun_now_ms();
    tun_backoff_attempt(&r->b, now);
    r->attempting = 1;
    r->attempt_start = now;
    r->attempt_prompt = tun_prompt_waited_ms();
    tun_verbose("Reconnecting to %s (attempt %u)", r->host, r->b.attempts);
    if (r->o->connect_timeout <= 0) {
        ev_timer_set(&r->watchdog, TUN_RECONNECT_ATTEMPT_LIMIT, 0.);
        ev_timer_start(r->loop, &r->watchdog);
    }
    if (r->hooks.attempt(r->arg) != 0)
        tun_reconnect_failed(r, "could not start a connection", TUN_CONN_FAIL_OTHER);
}

static void on_next(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    tun_reconnect *r = w->data;
    if (r->b.down_since == 0 || r->attempting)
        return;
    start_attempt(r);
}

static void on_watchdog(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    tun_reconnect *r = w->data;
    if (!r->attempting)
        return;
    /* Time spent answering a prompt (passphrase, password) does not count. */
    uint64_t limit = (uint64_t)TUN_RECONNECT_ATTEMPT_LIMIT * 1000;
    uint64_t spent = tun_now_ms() - r->attempt_start - (tun_prompt_waited_ms() - r->attempt_prompt);
    if (spent + 10 < limit) {
        ev_timer_set(w, (double)(limit - spent) / 1000.0, 0.);
        ev_timer_start(loop, w);
        return;
    }
    char why[200];
    snprintf(why, sizeof(why), "Connection to %s timed out after %d s", r->host,
             TUN_RECONNECT_ATTEMPT_LIMIT);
    r->hooks.abort_attempt(r->arg, why);
}

static void on_network(void *arg, const tun_netevent *ev)
{
    tun_reconnect *r = arg;
    if (r->b.down_since == 0 || r->attempting) {
        if (r->hooks.network)
            r->hooks.network(r->arg, ev);
        if (r->b.down_since == 0 || r->attempting)
            return;
    }
    uint64_t now = tun_now_ms();
    if (!tun_backoff_network_changed(&r->b, now))
        return;
    char w[32];
    tun_reconnect_fmt_wait(r->b.next_at - now, w, sizeof(w));
    tun_info("Network changed; reconnecting to %s in %s (attempt %u)", r->host, w,
             r->b.attempts + 1);
    arm_next(r, now);
}

tun_reconnect *tun_reconnect_new(struct ev_loop *loop, const tun_options *o, const char *host,
                                 const tun_reconnect_hooks *hooks, void *arg)
{
    tun_reconnect *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return NULL;
    r->loop = loop;
    r->o = o;
    r->host = strdup(host);
    r->hooks = *hooks;
    r->arg = arg;
    if (r->host == NULL) {
        free(r);
        return NULL;
    }
    tun_backoff_init(&r->b, (uint64_t)o->reconnect_min * 1000, (uint64_t)o->reconnect_max * 1000);
    ev_timer_init(&r->next, on_next, 0., 0.);
    r->next.data = r;
    ev_timer_init(&r->watchdog, on_watchdog, 0., 0.);
    r->watchdog.data = r;
    r->nw = tun_netwatch_start(loop, on_network, r);
    return r;
}

void tun_reconnect_free(tun_reconnect *r)
{
    if (r == NULL)
        return;
    ev_timer_stop(r->loop, &r->next);
    ev_timer_stop(r->loop, &r->watchdog);
    tun_netwatch_stop(r->nw);
    free(r->host);
    free(r);
}

void tun_reconnect_lost(tun_reconnect *r, const char *why)
{
    uint64_t now = tun_now_ms();
    clause(why, "connection closed", r->why, sizeof(r->why));
    r->last[0] = '\0';
    r->auth_refusals = 0;
    r->attempting = 0;
    r->down_wall = time(NULL);
    uint64_t w = tun_backoff_lost(&r->b, now, rnd32());
    char ws[32];
    tun_reconnect_fmt_wait(w, ws, sizeof(ws));
    tun_info("Connection to %s lost: %s; reconnecting in %s (attempt 1)", r->host, r->why, ws);
    arm_next(r, now);
}

void tun_reconnect_failed(tun_reconnect *r, const char *why, enum tun_conn_failure kind)
{
    uint64_t now = tun_now_ms();
    r->attempting = 0;
    ev_timer_stop(r->loop, &r->watchdog);
    clause(why, "connection failed", r->last, sizeof(r->last));
    if (kind == TUN_CONN_FAIL_HOSTKEY) {
        tun_error("Not reconnecting to %s: its host key was refused.", r->host);
        r->hooks.give_up(r->arg);
        return;
    }
    if (kind == TUN_CONN_FAIL_AUTH && ++r->auth_refusals >= 2) {
        tun_error("Not reconnecting to %s: authentication was refused twice (%s).", r->host,
                  r->last);
        r->hooks.give_up(r->arg);
        return;
    }
    uint64_t w = tun_backoff_failed(&r->b, now, rnd32());
    char ws[32];
    tun_reconnect_fmt_wait(w, ws, sizeof(ws));
    tun_info("Reconnecting to %s failed: %s; reconnecting in %s (attempt %u)", r->host, r->last, ws,
             r->b.attempts + 1);
    arm_next(r, now);
}

void tun_reconnect_up(tun_reconnect *r)
{
    r->attempting = 0;
    ev_timer_stop(r->loop, &r->watchdog);
    ev_timer_stop(r->loop, &r->next);
    tun_backoff_up(&r->b);
    r->auth_refusals = 0;
}

int tun_reconnect_is_down(const tun_reconnect *r)
{
    return r->b.down_since != 0;
}

unsigned tun_reconnect_attempts(const tun_reconnect *r)
{
    return r->b.attempts;
}

void tun_reconnect_describe(const tun_reconnect *r, char *buf, size_t len)
{
    if (r->b.down_since == 0) {
        snprintf(buf, len, "up");
        return;
    }
    uint64_t now = tun_now_ms();
    char since[32] = "?";
    struct tm tm;
    if (localtime_r(&r->down_wall, &tm))
        strftime(since, sizeof(since), "%Y-%m-%d %H:%M:%S", &tm);
    char w[32];
    tun_reconnect_fmt_wait(now - r->b.down_since, w, sizeof(w));
    int n = snprintf(buf, len, "down since %s (for %s): %s; ", since, w, r->why);
    if (n < 0 || (size_t)n >= len)
        return;
    if (r->attempting) {
        snprintf(buf + n, len - (size_t)n, "attempt %u in progress", r->b.attempts);
        return;
    }
    tun_reconnect_fmt_wait(r->b.next_at > now ? r->b.next_at - now : 0, w, sizeof(w));
    if (r->b.attempts == 0)
        snprintf(buf + n, len - (size_t)n, "attempt 1, next try in %s", w);
    else
        snprintf(buf + n, len - (size_t)n, "attempt %u, next try in %s (last: %s)",
                 r->b.attempts + 1, w, r->last);
}
