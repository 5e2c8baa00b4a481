/*
 * tun_reconnect.h - when to try again (Reconnect yes): the backoff
 * schedule on the loop's timers, network change events that cut a wait
 * short, a bound on each attempt, what the log says, when to give up for
 * good, and the state that -O status shows.
 *
 * It does not connect by itself: its owner (tun_client) starts each
 * attempt from the `attempt` hook and reports how it ended.
 */
#ifndef SSHTUN_TUN_RECONNECT_H
#define SSHTUN_TUN_RECONNECT_H

#include <ev.h>

#include "tun_conn.h"
#include "tun_netwatch.h"
#include "tun_options.h"

/* Attempts without a ConnectTimeout are bounded by this many seconds
 * (a TCP connect on a dead path would otherwise take minutes). */
#define TUN_RECONNECT_ATTEMPT_LIMIT 30

typedef struct tun_reconnect tun_reconnect;

typedef struct tun_reconnect_hooks {
    /* Start an attempt now; 0 if one started (its end is reported with
     * tun_reconnect_failed or tun_reconnect_up), -1 if none could. */
    int (*attempt)(void *arg);
    /* The attempt takes too long: end it (its failure is then reported
     * as usual). */
    void (*abort_attempt)(void *arg, const char *why);
    /* Retrying cannot help (refused host key, login refused twice): the
     * reason is logged; end the program with status 255. */
    void (*give_up)(void *arg);
    /* The network changed while the connection is up or an attempt is
     * under way (may be NULL).  An attempt the hook ends (its failure
     * reported as usual) is followed by the next one soon. */
    void (*network)(void *arg, const tun_netevent *ev);
} tun_reconnect_hooks;

tun_reconnect *tun_reconnect_new(struct ev_loop *loop, const tun_options *o, const char *host,
                                 const tun_reconnect_hooks *hooks, void *arg);
void tun_reconnect_free(tun_reconnect *r);

/* The connection was lost (`why`: what happened, may be NULL): log it and
 * schedule the first attempt. */
void tun_reconnect_lost(tun_reconnect *r, const char *why);
/* The attempt failed: schedule the next one, or give up (host key
 * refused; login refused for the second time). */
void tun_reconnect_failed(tun_reconnect *r, const char *why, enum tun_conn_failure kind);
/* The attempt succeeded: the connection is up again. */
void tun_reconnect_up(tun_reconnect *r);

int tun_reconnect_is_down(const tun_reconnect *r);
/* Attempts made since the connection was lost (the current one included). */
unsigned tun_reconnect_attempts(const tun_reconnect *r);
/* "down since 12:00:01 (35 s): <why>; attempt 3 in progress" or
 * "...; 2 attempts failed, next try in 4.2 s"; "up" while up. */
void tun_reconnect_describe(const tun_reconnect *r, char *buf, size_t len);

/* "2 s" / "1.5 s": a wait as the log lines print it. */
void tun_reconnect_fmt_wait(uint64_t ms, char *buf, size_t len);

#endif
