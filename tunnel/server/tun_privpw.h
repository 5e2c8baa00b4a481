/*
 * tun_privpw.h - password checks for the privileged side, off its loop.
 *
 * crypt(3) is slow on purpose (yescrypt and SHA-crypt with many rounds
 * take tens to hundreds of milliseconds), and the privileged side has one
 * thread that every login needs.  So hashing runs in a small pool of
 * worker processes, forked once, each given nothing but the stored hash
 * and the candidate password (no root, no shadow file: a worker drops to
 * an unprivileged user, lowers its CPU priority so that key logins and
 * running sessions keep the CPU, and is never dumpable).  The loop only
 * queues jobs and hears answers.
 *
 * Guessing is slowed per source address: after a failure from a source,
 * its next checks wait (0.25 s, doubling per further failure, at most
 * 4 s; forgotten after a minute without failures); at most
 * TUN_PWPOOL_PER_SOURCE of a source's checks wait or run at once - a
 * further one fails without hashing, but only after that delay (1 s at
 * least), so refusals cannot be looped on; at most TUN_PWPOOL_QUEUE
 * checks in all, beyond that one fails at once.  Key logins never pass
 * through here.
 */
#ifndef SSHTUN_TUN_PRIVPW_H
#define SSHTUN_TUN_PRIVPW_H

#include <ev.h>
#include <stdint.h>

#define TUN_PWPOOL_WORKERS    2
#define TUN_PWPOOL_PER_SOURCE 4
#define TUN_PWPOOL_QUEUE      256

typedef struct tun_pwpool tun_pwpool;
typedef struct tun_pwjob tun_pwjob;
typedef void (*tun_pwpool_cb)(void *arg, int ok);

/* Fork the workers now; they become `uid`/`gid` when those are not 0
 * (root mode).  `scrub` (optional) runs in each worker right after the
 * fork: free whatever secrets the parent holds. */
tun_pwpool *tun_pwpool_new(struct ev_loop *loop, int nworkers, uint32_t uid, uint32_t gid,
                           void (*scrub)(void *), void *scrub_arg);
/* Check `password` against the stored `hash` for a client at `source`.
 * NULL if refused outright (the callback will not run): the caller counts
 * that as a failure. */
tun_pwjob *tun_pwpool_check(tun_pwpool *p, const char *source, const char *hash,
                            const char *password, tun_pwpool_cb cb, void *arg);
/* Forget a job (its connection ended); the callback will not run. */
void tun_pwpool_cancel(tun_pwjob *j);
void tun_pwpool_free(tun_pwpool *p);

#endif
