/*
 * tun_spawn.c - starting a session process for sshtund (see tun_spawn.h).
 *
 * The child gets a fresh session: with a pty, login_tty() makes the slave
 * its controlling terminal (after the client's modes are applied); without
 * one, three pipes (not socketpairs: programs such as "cat" and shells
 * expect pipes, and a pipe's EOF is what the session turns into channel
 * EOF) and setsid(), so that a signal to the process group reaches every
 * process of the session.  Every other descriptor is closed before exec.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "tun_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>
#include <utmp.h>

#include "sshtun/buf.h"

/* Apply RFC 4254 section 8 modes to termios. */
static void apply_modes(struct termios *t, const uint8_t *m, size_t len)
{
    static const struct {
        uint8_t op;
        int cc;
    } ccs[] = {{1, VINTR}, {2, VQUIT}, {3, VERASE}, {4, VKILL}, {5, VEOF}, {6, VEOL},
               {7, VEOL2}, {8, VSTART}, {9, VSTOP}, {10, VSUSP}, {12, VREPRINT},
               {13, VWERASE}, {14, VLNEXT}, {18, VDISCARD}};
    static const struct {
        uint8_t op;
        int which;
        tcflag_t bit;
    } flags[] = {{30, 0, IGNPAR}, {31, 0, PARMRK}, {32, 0, INPCK},  {33, 0, ISTRIP}, {34, 0, INLCR},
                 {35, 0, IGNCR},  {36, 0, ICRNL},  {38, 0, IXON},   {39, 0, IXANY},  {40, 0, IXOFF},
                 {41, 0, IMAXBEL}, {42, 0, IUTF8}, {50, 1, ISIG},   {51, 1, ICANON}, {53, 1, ECHO},
                 {54, 1, ECHOE},  {55, 1, ECHOK},  {56, 1, ECHONL}, {57, 1, NOFLSH}, {58, 1, TOSTOP},
                 {59, 1, IEXTEN}, {60, 1, ECHOCTL}, {61, 1, ECHOKE}, {62, 1, PENDIN}, {70, 2, OPOST},
                 {72, 2, ONLCR},  {73, 2, OCRNL},  {74, 2, ONOCR},  {75, 2, ONLRET}, {92, 3, PARENB},
                 {93, 3, PARODD}};
    ssh_cur c;
    ssh_cur_init(&c, m, len);
    uint8_t op;
    uint32_t v;
    while (ssh_cur_get_u8(&c, &op) == 0 && op != 0 && op < 160) {
        if (ssh_cur_get_u32(&c, &v) != 0)
            return;
        for (size_t i = 0; i < sizeof(ccs) / sizeof(ccs[0]); i++)
            if (ccs[i].op == op)
                /* 255 on the wire means "disabled" (OpenSSH sends it for
                 * <undef> characters); Linux disables with 0. */
                t->c_cc[ccs[i].cc] = v == 255 ? (cc_t)_POSIX_VDISABLE : (cc_t)v;
        for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
            if (flags[i].op != op)
                continue;
            tcflag_t *f = flags[i].which == 0   ? &t->c_iflag
                          : flags[i].which == 1 ? &t->c_lflag
                          : flags[i].which == 2 ? &t->c_oflag
                                                : &t->c_cflag;
            if (v)
                *f |= flags[i].bit;
            else
                *f &= ~flags[i].bit;
        }
        if (op == 90 && v)
            t->c_cflag = (t->c_cflag & ~(tcflag_t)CSIZE) | CS7;
        if (op == 91 && v)
            t->c_cflag = (t->c_cflag & ~(tcflag_t)CSIZE) | CS8;
    }
}

/* Every descriptor from `lowfd` up.  close_range() is one system call;
 * closing up to the descriptor limit one by one (tens of thousands for a
 * server with a raised limit) cost milliseconds per session. */
static void close_from(int lowfd)
{
#ifdef SYS_close_range
    if (syscall(SYS_close_range, (unsigned)lowfd, ~0U, 0) == 0)
        return;
#endif
    long max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 65536)
        max = 65536;
    for (int fd = lowfd; fd < max; fd++)
        close(fd);
}

/* X11 forwarding: "xauth -q -" as the user, with the session's
 * environment (HOME, XAUTHORITY if the client set one through AcceptEnv),
 * the commands on its stdin; its output goes where the session's does, as
 * with sshd.  The session waits for it: the entry must exist before the
 * command's first X client connects. */
static void run_xauth(const char *xauth, const char *input, char *const *ev)
{
    int p[2];
    if (pipe(p) != 0)
        return;
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return;
    }
    if (pid == 0) {
        close(p[1]);
        if (dup2(p[0], 0) < 0)
            _exit(1);
        close(p[0]);
        char *argv[] = {(char *)xauth, "-q", "-", NULL};
        execve(xauth, argv, ev);
        fprintf(stderr, "sshtund: %s: %s\n", xauth, strerror(errno));
        _exit(127);
    }
    close(p[0]);
    size_t n = strlen(input), off = 0;
    while (off < n) {
        ssize_t w = write(p[1], input + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    close(p[1]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
}

/* Child side: become the user and run the command.  Never returns. */
static void run_child(int as_root, const tun_user_info *u, const char *command, char *const *env,
                      int n_env, const char *tty, const char *term, const char *xauth,
                      const char *xauth_input)
{
    if (as_root) {
        if (setgid(u->gid) != 0 || initgroups(u->name, u->gid) != 0 || setuid(u->uid) != 0 ||
            getuid() != u->uid || geteuid() != u->uid) {
            fprintf(stderr, "sshtund: cannot become %s\n", u->name);
            _exit(254);
        }
    }
    if (chdir(u->home) != 0 && chdir("/") != 0)
        _exit(254);
    char **ev = calloc((size_t)n_env + 16, sizeof(char *));
    int n = 0;
    char buf[1024];
#define PUTENV(...)                                                                                \
    do {                                                                                           \
        snprintf(buf, sizeof(buf), __VA_ARGS__);                                                   \
        ev[n++] = strdup(buf);                                                                     \
    } while (0)
    if (ev == NULL)
        _exit(254);
    PUTENV("USER=%s", u->name);
    PUTENV("LOGNAME=%s", u->name);
    PUTENV("HOME=%s", u->home);
    PUTENV("SHELL=%s", u->shell);
    PUTENV("PATH=%s", u->uid == 0 ? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
                                  : "/usr/local/bin:/usr/bin:/bin:/usr/games");
    PUTENV("MAIL=/var/mail/%s", u->name);
    if (tty && *tty)
        PUTENV("SSH_TTY=%s", tty);
    if (term && *term)
        PUTENV("TERM=%s", term);
    /* The session's variables (AcceptEnv, SSH_*, SetEnv) replace defaults
     * of the same name, as sshd's child_set_env does. */
    int n_dflt = n;
    for (int i = 0; i < n_env; i++) {
        size_t nl = strcspn(env[i], "=");
        int j = 0;
        while (j < n_dflt && !(strncmp(ev[j], env[i], nl) == 0 && ev[j][nl] == '='))
            j++;
        if (j < n_dflt)
            ev[j] = env[i];
        else
            ev[n++] = env[i];
    }
    ev[n] = NULL;
#undef PUTENV
    const char *base = strrchr(u->shell, '/') ? strrchr(u->shell, '/') + 1 : u->shell;
    /* Every disposition back to its default: an ignored SIGHUP (the
     * helper ignores it) would survive exec, and a hung-up session would
     * never end. */
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            signal(sig, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    if (xauth && xauth_input && *xauth_input)
        run_xauth(xauth, xauth_input, ev);
    if (command) {
        char *argv[] = {(char *)base, "-c", (char *)command, NULL};
        execve(u->shell, argv, ev);
    } else {
        char login[300];
        snprintf(login, sizeof(login), "-%s", base);
        char *argv[] = {login, NULL};
        execve(u->shell, argv, ev);
    }
    fprintf(stderr, "sshtund: %s: %s\n", u->shell, strerror(errno));
    _exit(127);
}

int tun_spawn_valid_name(const char *n)
{
    if (*n == '\0')
        return 0;
    for (const char *p = n; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '_'))
            return 0;
    return strncmp(n, "LD_", 3) != 0;
}

int tun_spawn_valid_env(const char *e)
{
    const char *eq = strchr(e, '=');
    if (eq == NULL || eq == e)
        return 0;
    for (const char *p = e; p < eq; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '_'))
            return 0;
    /* Never let a client steer the dynamic linker. */
    return strncmp(e, "LD_", 3) != 0;
}

pid_t tun_spawn_session(int as_root, const tun_user_info *u, const char *command, int pty,
                        const char *term, const struct winsize *ws, const uint8_t *modes,
                        size_t modes_len, char *const *env, int n_env, const char *xauth,
                        const char *xauth_input, int fds[3], char *tty, size_t ttysz)
{
    int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
    int master = -1, slave = -1;
    tty[0] = '\0';
    if (pty) {
        if (openpty(&master, &slave, NULL, NULL, ws) != 0)
            return -1;
        struct termios t;
        if (tcgetattr(slave, &t) == 0) {
            apply_modes(&t, modes, modes_len);
            tcsetattr(slave, TCSANOW, &t);
        }
        if (ttyname_r(slave, tty, ttysz) != 0)
            tty[0] = '\0';
        if (as_root && tty[0])
            if (chown(tty, u->uid, (gid_t)-1) != 0 || chmod(tty, 0620) != 0) {
                /* the session still works; only mesg/write suffer */
            }
    } else if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 ||
               pipe2(err, O_CLOEXEC) != 0) {
        int e = errno;
        for (int i = 0; i < 2; i++) {
            if (in[i] >= 0)
                close(in[i]);
            if (out[i] >= 0)
                close(out[i]);
            if (err[i] >= 0)
                close(err[i]);
        }
        errno = e;
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        if (pty) {
            close(master);
            close(slave);
        } else {
            close(in[0]), close(in[1]), close(out[0]), close(out[1]), close(err[0]), close(err[1]);
        }
        errno = e;
        return -1;
    }
    if (pid == 0) {
        if (pty) {
            close(master);
            if (login_tty(slave) != 0)
                _exit(254);
        } else {
            setsid();
            if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0)
                _exit(254);
        }
        close_from(3);
        run_child(as_root, u, command, env, n_env, tty, term, xauth, xauth_input);
    }
    if (pty) {
        close(slave);
        fds[0] = master;
        fds[1] = dup(master);
        fds[2] = -1;
    } else {
        close(in[0]);
        close(out[1]);
        close(err[1]);
        fds[0] = in[1];
        fds[1] = out[0];
        fds[2] = err[0];
    }
    return pid;
}
