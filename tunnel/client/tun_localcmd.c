/*
 * tun_localcmd.c - LocalCommand (see tun_localcmd.h).
 *
 * The child gets default signal dispositions and an empty signal mask
 * (we ignore SIGPIPE; a pipeline in the command must not inherit that),
 * and the descriptors 0-2 as they are; everything else we hold is
 * close-on-exec.
 */
#include "tun_localcmd.h"
#include "tun_config.h"
#include "tun_log.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct tun_localcmd {
    struct ev_loop *loop;
    ev_child w;
    void (*done)(void *arg, int status);
    void *arg;
};

char *tun_localcmd_expand(const tun_options *o, const char *original_host)
{
    if (o->local_command == NULL)
        return NULL;
    tun_tokens t;
    tun_tokens_init(&t, o, original_host);
    /* %T: the tun device; sshtun has none, and ssh says "NONE" then. */
    char *cmd = malloc(strlen(o->local_command) * 4 + 16);
    if (cmd == NULL)
        return NULL;
    size_t n = 0;
    for (const char *p = o->local_command; *p; p++) {
        if (p[0] == '%' && p[1] == 'T') {
            memcpy(cmd + n, "NONE", 4);
            n += 4;
            p++;
        } else if (p[0] == '%' && p[1] == '%') {
            memcpy(cmd + n, "%%", 2);
            n += 2;
            p++;
        } else {
            cmd[n++] = *p;
        }
    }
    cmd[n] = '\0';
    char *e = tun_expand(cmd, &t, "CLiklnpdhru");
    free(cmd);
    tun_tokens_free(&t);
    return e;
}

static pid_t spawn(const char *command)
{
    const char *shell = getenv("SHELL");
    if (shell == NULL || *shell == '\0')
        shell = "/bin/sh";
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        tun_error("fork failed: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        for (int sig = 1; sig < NSIG; sig++)
            if (sig != SIGKILL && sig != SIGSTOP)
                signal(sig, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        tun_debug3("Executing %s -c \"%s\"", shell, command);
        execl(shell, shell, "-c", command, (char *)NULL);
        tun_error("Couldn't execute %s -c \"%s\": %s", shell, command, strerror(errno));
        _exit(1);
    }
    return pid;
}

static void on_exit_cb(struct ev_loop *loop, ev_child *w, int revents)
{
    (void)revents;
    tun_localcmd *lc = w->data;
    ev_child_stop(loop, w);
    tun_debug("LocalCommand exited with status %d",
              WIFEXITED(w->rstatus) ? WEXITSTATUS(w->rstatus) : -1);
    lc->done(lc->arg, w->rstatus);
}

tun_localcmd *tun_localcmd_start(struct ev_loop *loop, const char *command,
                                 void (*done)(void *arg, int status), void *arg)
{
    tun_localcmd *lc = calloc(1, sizeof(*lc));
    if (lc == NULL)
        return NULL;
    lc->loop = loop;
    lc->done = done;
    lc->arg = arg;
    pid_t pid = spawn(command);
    if (pid < 0) {
        free(lc);
        return NULL;
    }
    ev_child_init(&lc->w, on_exit_cb, pid, 0);
    lc->w.data = lc;
    ev_child_start(loop, &lc->w);
    return lc;
}

void tun_localcmd_free(tun_localcmd *lc)
{
    if (lc == NULL)
        return;
    ev_child_stop(lc->loop, &lc->w);
    free(lc);
}

int tun_localcmd_run_wait(const char *command)
{
    pid_t pid = spawn(command);
    if (pid < 0)
        return -1;
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            return -1;
    }
    return status;
}
