/*
 * tun_workers.h - sshtund's supervisor for `Workers N` (N > 1).
 *
 * The process started as sshtund (the one PidFile names) reads the
 * configuration, binds the ports (one SO_REUSEPORT socket per worker and
 * address) and then becomes a small supervisor that parses nothing from
 * the network:
 *
 *   - it forks the privileged helper, keeping a control socket to it;
 *   - it forks N workers, each an unprivileged network process with its
 *     own libev loop, its own connections and its own socket to the
 *     helper (handed to the helper over the control socket);
 *   - a worker that exits while the server runs is restarted (its
 *     connections are lost; the helper hangs up their sessions), unless
 *     workers keep dying: more than TUN_WORKERS_MAX_RESTARTS restarts in
 *     TUN_WORKERS_RESTART_WINDOW seconds and the server stops with a
 *     message and exit status 255;
 *   - SIGHUP is passed to every worker (each reloads through the helper;
 *     a worker started later reloads at once);
 *   - the first SIGTERM or SIGINT tells every worker to stop accepting and
 *     exit when its last connection ends (SIGUSR1), the second to close
 *     them now (SIGUSR2); the server exits when the last worker has,
 *     after closing the helper's control socket (the helper then ends).
 *     Workers ignore SIGTERM and SIGINT themselves, so that a signal to
 *     the whole process group (a terminal's ^C) counts once;
 *   - the helper exiting stops the server (status 255).
 */
#ifndef SSHTUN_TUN_WORKERS_H
#define SSHTUN_TUN_WORKERS_H

#include <signal.h>
#include <sys/types.h>

#define TUN_WORKERS_MAX_RESTARTS   10
#define TUN_WORKERS_RESTART_WINDOW 60.0

typedef struct tun_workers_conf {
    int n;
    /* Runs in the child, with the signal mask sshtund started with:
     * `sock` is the worker's end of its socket to the helper; `reloaded`
     * says a SIGHUP came before this worker started.  Never returns. */
    void (*worker_main)(int index, int sock, int reloaded, void *arg);
    /* Runs in the supervisor when stopping starts: close its copies of
     * the listening sockets (new connections are refused, not queued). */
    void (*stop_listening)(void *arg);
    void *arg;
} tun_workers_conf;

/* Block the signals the supervisor waits for (SIGCHLD, SIGHUP, SIGTERM,
 * SIGINT) before anything is forked; `old` gets the mask to restore in
 * children. */
void tun_workers_block_signals(sigset_t *old);

/* Supervise: `ctl` is the control socket to the helper (pid `helper`),
 * `old` the mask from tun_workers_block_signals.  Returns the exit status
 * (0 after a stop by signal, 255 when the helper or the workers failed). */
int tun_workers_run(const tun_workers_conf *c, int ctl, pid_t helper, const sigset_t *old);

/* The restart policy (pure): `times` holds the last restarts' times
 * (seconds, oldest first, `n` of them, n <= TUN_WORKERS_MAX_RESTARTS);
 * may another restart happen at `now`?  1 or 0. */
int tun_workers_may_restart(const double *times, int n, double now);

#endif
