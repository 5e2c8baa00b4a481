/*
 * tun_proxy.c - running a ProxyCommand (see tun_proxy.h).
 *
 * As OpenSSH's ssh_proxy_connect / ssh_proxy_fdpass_connect: fork, the
 * child's stdin and stdout on our pipes (or one end of a socket pair),
 * "exec <command>" through $SHELL -c so that no shell lingers between us
 * and the command.  Differences, for one-line failures: the child's
 * stderr is a pipe to us rather than our own stderr, and its exit status
 * is collected (libev's child watcher on the default loop).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pipe2 */
#endif
#include "tun_proxy.h"
#include "tun_log.h"
#include "tun_sock.h"
#include "tun_util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define HOLD_MAX    (64 * 1024) /* stderr held before the connection is up */
#define TAIL_MAX    1024        /* the last stderr bytes, for the one line */
#define LINE_MAX_   400         /* of stderr in that line */
#define EXPLAIN_MAX 2.0         /* seconds to wait for the command to exit */

struct tun_proxy {
    struct ev_loop *loop;
    char *command;
    pid_t pid;
    int exited, status;
    ev_child child;
    int child_on;
    ev_timer waitpoll; /* a loop that is not the default one: waitpid */
    int err_fd, err_eof;
    ev_io errio;
    int errio_on;
    char *held;
    size_t held_len;
    char tail[TAIL_MAX];
    size_t tail_len;
    int live;
    int fdpass, sp;
    ev_io spio;
    ev_timer later;
    int in_fd, out_fd;
    tun_proxy_cb cb;
    void *arg;
    int delivered;
    void (*explain_done)(void *arg, const char *msg);
    void *explain_arg;
    int explaining;
    const char *what; /* instead of the exit status, in the line */
    ev_timer deadline;
};

/* ---- stderr ------------------------------------------------------------------------------- */

/* Our stderr may be non-blocking (a terminal shared with the session):
 * wait a little for it rather than drop a diagnostic. */
static void write_stderr(const char *d, size_t n)
{
    int tries = 0;
    while (n > 0) {
        ssize_t w = write(2, d, n);
        if (w > 0) {
            d += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN && tries++ < 20) {
            struct pollfd pf = {.fd = 2, .events = POLLOUT};
            poll(&pf, 1, 50);
            continue;
        }
        return;
    }
}

static void release_held(tun_proxy *p)
{
    if (p->held_len)
        write_stderr(p->held, p->held_len);
    p->held_len = 0;
}

static void keep_tail(tun_proxy *p, const char *d, size_t n)
{
    if (n >= TAIL_MAX) {
        memcpy(p->tail, d + n - TAIL_MAX, TAIL_MAX);
        p->tail_len = TAIL_MAX;
        return;
    }
    if (p->tail_len + n > TAIL_MAX) {
        size_t drop = p->tail_len + n - TAIL_MAX;
        memmove(p->tail, p->tail + drop, p->tail_len - drop);
        p->tail_len -= drop;
    }
    memcpy(p->tail + p->tail_len, d, n);
    p->tail_len += n;
}

static void check_explained(tun_proxy *p);

static void stop_errio(tun_proxy *p)
{
    if (p->errio_on) {
        ev_ref(p->loop);
        ev_io_stop(p->loop, &p->errio);
        p->errio_on = 0;
    }
}

static void on_stderr(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    tun_proxy *p = w->data;
    char buf[4096];
    for (int i = 0; i < 16; i++) {
        ssize_t r = read(p->err_fd, buf, sizeof(buf));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (r <= 0) {
            p->err_eof = 1;
            stop_errio(p);
            close(p->err_fd);
            p->err_fd = -1;
            check_explained(p);
            return;
        }
        keep_tail(p, buf, (size_t)r);
        if (!p->live && p->held_len + (size_t)r > HOLD_MAX) {
            release_held(p); /* a talkative command: let it through */
            p->live = 1;
        }
        if (p->live) {
            write_stderr(buf, (size_t)r);
        } else {
            memcpy(p->held + p->held_len, buf, (size_t)r);
            p->held_len += (size_t)r;
        }
    }
}

/* ---- the command's end ----------------------------------------------------------------------- */

static void exited(tun_proxy *p, int status)
{
    p->exited = 1;
    p->status = status;
    if (WIFEXITED(status))
        tun_debug("ProxyCommand exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        tun_debug("ProxyCommand killed by signal %d", WTERMSIG(status));
    check_explained(p);
}

static void on_child(struct ev_loop *loop, ev_child *w, int revents)
{
    (void)revents;
    tun_proxy *p = w->data;
    ev_ref(loop);
    ev_child_stop(loop, w);
    p->child_on = 0;
    exited(p, w->rstatus);
}

static void on_waitpoll(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    tun_proxy *p = w->data;
    int st;
    if (p->exited || p->pid <= 0)
        return;
    pid_t r = waitpid(p->pid, &st, WNOHANG);
    if (r == p->pid || (r < 0 && errno == ECHILD)) {
        ev_timer_stop(p->loop, &p->waitpoll);
        exited(p, r == p->pid ? st : 0);
    }
}

/* The one line: what happened to the command, then the end of what it
 * said on stderr, its lines joined. */
static void compose(tun_proxy *p, char *out, size_t outsz, const char *what)
{
    int n;
    if (what && p->exited && WIFEXITED(p->status))
        n = snprintf(out, outsz, "ProxyCommand '%s' %s (exited with status %d)", p->command, what,
                     WEXITSTATUS(p->status));
    else if (what)
        n = snprintf(out, outsz, "ProxyCommand '%s' %s", p->command, what);
    else if (!p->exited)
        n = snprintf(out, outsz, "ProxyCommand '%s' closed the connection", p->command);
    else if (WIFSIGNALED(p->status))
        n = snprintf(out, outsz, "ProxyCommand '%s' was killed by signal %d", p->command,
                     WTERMSIG(p->status));
    else
        n = snprintf(out, outsz, "ProxyCommand '%s' exited with status %d", p->command,
                     WEXITSTATUS(p->status));
    if (n < 0 || (size_t)n >= outsz)
        return;
    char text[LINE_MAX_ + 8];
    size_t tl = 0;
    size_t start = p->tail_len > LINE_MAX_ ? p->tail_len - LINE_MAX_ : 0;
    for (size_t i = start; i < p->tail_len && tl < LINE_MAX_; i++) {
        unsigned char c = (unsigned char)p->tail[i];
        if (c == '\r')
            continue;
        if (c == '\n') {
            if (tl && text[tl - 1] != ' ')
                text[tl++] = ';', text[tl++] = ' ';
            continue;
        }
        text[tl++] = isprint(c) || c >= 0x80 ? (char)c : '?';
    }
    while (tl && (text[tl - 1] == ' ' || text[tl - 1] == ';'))
        tl--;
    text[tl] = '\0';
    if (tl)
        snprintf(out + n, outsz - (size_t)n, ": %s%s", start ? "..." : "", text);
    /* All of it is in the line now, or was too long for it. */
    if (p->held_len > LINE_MAX_)
        release_held(p);
    p->held_len = 0;
}

static void finish_explaining(tun_proxy *p)
{
    char msg[1024];
    p->explaining = 0;
    ev_timer_stop(p->loop, &p->deadline);
    compose(p, msg, sizeof(msg), p->what);
    if (p->explain_done)
        p->explain_done(p->explain_arg, msg); /* may free p */
}

static void check_explained(tun_proxy *p)
{
    if (p->explaining && p->exited && p->err_eof)
        finish_explaining(p);
}

static void on_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    tun_proxy *p = w->data;
    if (p->explaining)
        finish_explaining(p);
}

void tun_proxy_explain(tun_proxy *p, void (*done)(void *arg, const char *msg), void *arg)
{
    p->explain_done = done;
    p->explain_arg = arg;
    p->explaining = 1;
    if (p->child_on == 0 && !p->exited && p->pid > 0) {
        ev_timer_set(&p->waitpoll, 0.05, 0.05);
        ev_timer_start(p->loop, &p->waitpoll);
    }
    ev_timer_set(&p->deadline, EXPLAIN_MAX, 0.);
    ev_timer_start(p->loop, &p->deadline);
    /* From the loop, even when everything is known already. */
    ev_feed_event(p->loop, &p->deadline, EV_TIMER);
    if (p->exited && p->err_eof)
        return; /* the fed event finishes */
    ev_clear_pending(p->loop, &p->deadline);
}

void tun_proxy_established(tun_proxy *p)
{
    if (p->live)
        return;
    p->live = 1;
    release_held(p);
}

/* ---- start ----------------------------------------------------------------------------------- */

static void deliver(tun_proxy *p, int in_fd, int out_fd, const char *err)
{
    if (p->delivered)
        return;
    p->delivered = 1;
    p->cb(p->arg, in_fd, out_fd, err);
}

static void on_later(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    tun_proxy *p = w->data;
    int in = p->in_fd, out = p->out_fd;
    p->in_fd = p->out_fd = -1;
    deliver(p, in, out, NULL);
}

static void on_fdpass_explained(void *arg, const char *msg)
{
    tun_proxy *p = arg;
    deliver(p, -1, -1, msg);
}

static void on_fdpass(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    tun_proxy *p = w->data;
    char c;
    int fds[3], nfds = 0;
    int r = tun_recv_fds(p->sp, &c, 1, fds, &nfds);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    ev_io_stop(loop, w);
    close(p->sp);
    p->sp = -1;
    if (r <= 0 || nfds != 1) {
        for (int i = 0; i < nfds; i++)
            close(fds[i]);
        p->what = "did not pass back a connection";
        tun_proxy_explain(p, on_fdpass_explained, p);
        return;
    }
    tun_set_nonblock(fds[0], 1);
    deliver(p, fds[0], fds[0], NULL);
}

/* The child: its stdio on our descriptors, signals as a fresh process
 * would find them, then the shell. */
static void exec_child(const char *shell, const char *full, int in, int out, int err)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    static const int sigs[] = {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD};
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        signal(sigs[i], SIG_DFL);
    if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
        _exit(1);
    /* Our stdio may be non-blocking (the session's); the command's must not. */
    for (int fd = 0; fd <= 2; fd++)
        tun_set_nonblock(fd, 0);
    execl(shell, shell, "-c", full, (char *)NULL);
    dprintf(2, "%s: %s\n", shell, strerror(errno));
    _exit(127);
}

tun_proxy *tun_proxy_start(struct ev_loop *loop, const char *command, int fdpass, tun_proxy_cb cb,
                           void *arg)
{
    tun_proxy *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->loop = loop;
    p->cb = cb;
    p->arg = arg;
    p->fdpass = fdpass;
    p->in_fd = p->out_fd = p->err_fd = p->sp = -1;
    p->command = strdup(command);
    p->held = malloc(HOLD_MAX);
    size_t fl = strlen(command) + 6;
    char *full = malloc(fl);
    int io[4] = {-1, -1, -1, -1}, er[2] = {-1, -1};
    if (p->command == NULL || p->held == NULL || full == NULL)
        goto fail;
    snprintf(full, fl, "exec %s", command);
    const char *shell = getenv("SHELL");
    if (shell == NULL || *shell == '\0')
        shell = "/bin/sh";
    if (pipe2(er, O_CLOEXEC) != 0)
        goto fail_errno;
    if (fdpass) {
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, io) != 0)
            goto fail_errno;
    } else if (pipe2(io, O_CLOEXEC) != 0 || pipe2(io + 2, O_CLOEXEC) != 0) {
        goto fail_errno;
    }
    tun_debug("Executing proxy %scommand: %s", fdpass ? "dialer " : "", full);
    fflush(NULL);
    p->pid = fork();
    if (p->pid < 0)
        goto fail_errno;
    if (p->pid == 0) {
        if (fdpass)
            exec_child(shell, full, io[0], io[0], er[1]);
        else
            exec_child(shell, full, io[0], io[3], er[1]); /* stdin: pipe 1, stdout: pipe 2 */
    }
    free(full);
    full = NULL;
    /* Collect the exit at once: libev's default loop reaps every child and
     * keeps a status only for a watcher that exists at that moment. */
    ev_child_init(&p->child, on_child, p->pid, 0);
    p->child.data = p;
    ev_timer_init(&p->waitpoll, on_waitpoll, 0.05, 0.05);
    p->waitpoll.data = p;
    if (ev_is_default_loop(loop)) {
        ev_child_start(loop, &p->child);
        ev_unref(loop); /* it alone does not keep the loop running */
        p->child_on = 1;
    }
    close(er[1]);
    p->err_fd = er[0];
    tun_set_nonblock(p->err_fd, 1);
    ev_io_init(&p->errio, on_stderr, p->err_fd, EV_READ);
    p->errio.data = p;
    ev_io_start(loop, &p->errio);
    ev_unref(loop);
    p->errio_on = 1;
    p->live = tun_log_get_level() >= TUN_LOG_DEBUG1;
    ev_timer_init(&p->deadline, on_deadline, EXPLAIN_MAX, 0.);
    p->deadline.data = p;
    ev_timer_init(&p->later, on_later, 0., 0.);
    p->later.data = p;
    if (fdpass) {
        close(io[0]);
        p->sp = io[1];
        tun_set_nonblock(p->sp, 1);
        ev_io_init(&p->spio, on_fdpass, p->sp, EV_READ);
        p->spio.data = p;
        ev_io_start(loop, &p->spio);
    } else {
        close(io[0]);
        close(io[3]);
        p->out_fd = io[1]; /* the command's stdin */
        p->in_fd = io[2];  /* its stdout */
        tun_set_nonblock(p->in_fd, 1);
        tun_set_nonblock(p->out_fd, 1);
        ev_timer_start(loop, &p->later);
    }
    return p;

fail_errno:
    tun_error("Could not start the proxy command: %s", strerror(errno));
fail:
    for (int i = 0; i < 4; i++)
        if (io[i] >= 0)
            close(io[i]);
    if (er[0] >= 0)
        close(er[0]);
    if (er[1] >= 0)
        close(er[1]);
    free(full);
    free(p->held);
    free(p->command);
    free(p);
    return NULL;
}

void tun_proxy_free(tun_proxy *p)
{
    if (p == NULL)
        return;
    /* As ssh: the command is hung up on when we are done with it. */
    if (p->pid > 0 && !p->exited)
        kill(p->pid, SIGHUP);
    if (p->child_on) {
        ev_ref(p->loop);
        ev_child_stop(p->loop, &p->child);
    }
    /* A last look at what it said (a command that failed after the
     * connection was up, or one whose failure was told otherwise). */
    if (p->err_fd >= 0 && !p->err_eof) {
        char buf[4096];
        ssize_t r = read(p->err_fd, buf, sizeof(buf));
        if (r > 0) {
            if (p->live)
                write_stderr(buf, (size_t)r);
            else if (p->held_len + (size_t)r <= HOLD_MAX) {
                memcpy(p->held + p->held_len, buf, (size_t)r);
                p->held_len += (size_t)r;
            }
        }
    }
    release_held(p);
    stop_errio(p);
    if (p->err_fd >= 0)
        close(p->err_fd);
    ev_timer_stop(p->loop, &p->waitpoll);
    ev_timer_stop(p->loop, &p->deadline);
    ev_clear_pending(p->loop, &p->deadline);
    ev_timer_stop(p->loop, &p->later);
    if (p->sp >= 0) {
        ev_io_stop(p->loop, &p->spio);
        close(p->sp);
    }
    if (p->in_fd >= 0)
        close(p->in_fd);
    if (p->out_fd >= 0)
        close(p->out_fd);
    free(p->held);
    free(p->command);
    free(p);
}
