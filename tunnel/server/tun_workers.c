/*
 * tun_workers.c - the supervisor of sshtund's workers (see tun_workers.h).
 *
 * Why a supervisor of its own rather than letting the helper or a worker
 * start the others: the helper holds the host keys and every decision of
 * authority, and a worker is assumed compromised; neither should hold the
 * listening sockets of the others or decide who runs.  The supervisor
 * touches no network input, so it can stay simple: a loop over
 * sigwaitinfo(), no event loop of its own (the libev loop it created while
 * binding the ports is the workers', each of which takes it over after
 * fork), and blocking sends on the control socket only to the helper,
 * which it started itself.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "tun_workers.h"
#include "tun_log.h"
#include "tun_privproto.h"
#include "tun_sock.h"
#include "tun_srvconfig.h"
#include "tun_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sshtun/buf.h"

int tun_workers_may_restart(const double *times, int n, double now)
{
    if (n < TUN_WORKERS_MAX_RESTARTS)
        return 1;
    /* The oldest of the last MAX restarts is out of the window. */
    return now - times[n - TUN_WORKERS_MAX_RESTARTS] > TUN_WORKERS_RESTART_WINDOW;
}

void tun_workers_block_signals(sigset_t *old)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGCHLD);
    sigaddset(&s, SIGHUP);
    sigaddset(&s, SIGTERM);
    sigaddset(&s, SIGINT);
    sigprocmask(SIG_BLOCK, &s, old);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct {
    const tun_workers_conf *c;
    const sigset_t *old;
    int ctl;
    pid_t pid[TUN_SRV_MAX_WORKERS];
    int alive;
    int reloaded;
    double restarts[TUN_WORKERS_MAX_RESTARTS];
    int n_restarts;
} S;

static int spawn(int i)
{
    int sp[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0) {
        tun_error("sshtund: worker %d: socketpair: %s", i, strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        tun_error("sshtund: worker %d: fork: %s", i, strerror(errno));
        close(sp[0]);
        close(sp[1]);
        return -1;
    }
    if (pid == 0) {
        close(sp[1]);
        close(S.ctl);
        sigprocmask(SIG_SETMASK, S.old, NULL);
        S.c->worker_main(i, sp[0], S.reloaded, S.c->arg);
        _exit(255);
    }
    close(sp[0]);
    /* The helper learns of the worker's socket before it can read a
     * request from it (it reads the control socket as it reads the
     * others; requests wait in the worker's socket meanwhile). */
    ssh_buf m;
    ssh_buf_init(&m, 64, 0);
    ssh_buf_put_u32(&m, TUN_PRIV_CTL_ADD);
    ssh_buf_put_u32(&m, (uint32_t)i);
    ssh_buf_put_u32(&m, (uint32_t)pid);
    int fd = sp[1];
    int rv = tun_send_fds(S.ctl, ssh_buf_ptr(&m), ssh_buf_len(&m), &fd, 1);
    ssh_buf_free(&m);
    close(sp[1]);
    if (rv != 0)
        tun_error("sshtund: worker %d: cannot reach the privileged helper: %s", i, strerror(errno));
    S.pid[i] = pid;
    S.alive++;
    tun_debug("worker %d started (pid %ld)", i, (long)pid);
    return 0;
}

static void signal_workers(int sig)
{
    for (int i = 0; i < S.c->n; i++)
        if (S.pid[i] > 0)
            kill(S.pid[i], sig);
}

/* Everything ends now: no more accepting, the workers close their
 * connections (SIGUSR2).  Returns the new `stopping` state (2). */
static int stop_now(void)
{
    if (S.c->stop_listening)
        S.c->stop_listening(S.c->arg);
    signal_workers(SIGUSR2);
    return 2;
}

static void describe(int status, char *buf, size_t len)
{
    if (WIFEXITED(status))
        snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, len, "killed by signal %d", WTERMSIG(status));
    else
        snprintf(buf, len, "ended (status %d)", status);
}

int tun_workers_run(const tun_workers_conf *c, int ctl, pid_t helper, const sigset_t *old)
{
    S.c = c;
    S.old = old;
    S.ctl = ctl;
    int stopping = 0, failed = 0;
    for (int i = 0; i < c->n; i++) {
        if (spawn(i) != 0) {
            failed = 1;
            break;
        }
    }
    if (failed) {
        stopping = stop_now();
    }
    sigset_t wait;
    sigemptyset(&wait);
    sigaddset(&wait, SIGCHLD);
    sigaddset(&wait, SIGHUP);
    sigaddset(&wait, SIGTERM);
    sigaddset(&wait, SIGINT);
    while (S.alive > 0 || helper > 0) {
        if (S.alive == 0 && ctl >= 0) {
            /* Every worker has ended: the helper ends when its control
             * socket closes (sessions hung up). */
            close(ctl);
            ctl = -1;
        }
        siginfo_t si;
        int sig = sigwaitinfo(&wait, &si);
        if (sig < 0)
            continue;
        if (sig == SIGHUP) {
            S.reloaded = 1;
            tun_info("Received SIGHUP; the workers reload the configuration");
            signal_workers(SIGHUP);
            continue;
        }
        if (sig == SIGTERM || sig == SIGINT) {
            if (stopping) {
                tun_info("Received signal %d; the workers close their connections", sig);
                stopping = 2;
                signal_workers(SIGUSR2);
            } else {
                tun_info("Received signal %d; no longer accepting connections, exiting when "
                         "the workers' last connections end",
                         sig);
                stopping = 1;
                if (c->stop_listening)
                    c->stop_listening(c->arg);
                signal_workers(SIGUSR1);
            }
            continue;
        }
        /* SIGCHLD: reap everything that ended. */
        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
            char how[64];
            describe(status, how, sizeof(how));
            if (pid == helper) {
                helper = 0;
                if (!stopping || S.alive > 0) {
                    tun_error("sshtund: the privileged helper %s; stopping", how);
                    failed = 1;
                    stopping = stop_now();
                }
                continue;
            }
            int i;
            for (i = 0; i < c->n && S.pid[i] != pid; i++)
                ;
            if (i == c->n)
                continue; /* not ours */
            S.pid[i] = 0;
            S.alive--;
            if (stopping) {
                tun_debug("worker %d (pid %ld) %s", i, (long)pid, how);
                continue;
            }
            double t = now_s();
            if (!tun_workers_may_restart(S.restarts, S.n_restarts, t)) {
                tun_error("sshtund: worker %d (pid %ld) %s; workers keep dying (%d restarts in "
                          "%.0f s): stopping",
                          i, (long)pid, how, TUN_WORKERS_MAX_RESTARTS, TUN_WORKERS_RESTART_WINDOW);
                failed = 1;
                stopping = stop_now();
                continue;
            }
            if (S.n_restarts == TUN_WORKERS_MAX_RESTARTS) {
                memmove(S.restarts, S.restarts + 1,
                        sizeof(S.restarts[0]) * (size_t)(S.n_restarts - 1));
                S.n_restarts--;
            }
            S.restarts[S.n_restarts++] = t;
            tun_error("sshtund: worker %d (pid %ld) %s; its connections are lost; restarting it", i,
                      (long)pid, how);
            if (spawn(i) != 0) {
                failed = 1;
                stopping = stop_now();
            }
        }
    }
    if (ctl >= 0)
        close(ctl);
    return failed ? 255 : 0;
}
