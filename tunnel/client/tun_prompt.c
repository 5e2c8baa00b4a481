/*
 * tun_prompt.c - terminal and askpass prompts.
 */
#include "tun_prompt.h"
#include "tun_log.h"
#include "tun_transport.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

static int use_askpass(int have_tty)
{
    const char *ap = getenv("SSH_ASKPASS");
    const char *req = getenv("SSH_ASKPASS_REQUIRE");
    if (ap == NULL || *ap == '\0')
        return 0;
    if (req && strcmp(req, "never") == 0)
        return 0;
    if (req && (strcmp(req, "force") == 0 || strcmp(req, "prefer") == 0))
        return 1;
    return !have_tty && (getenv("DISPLAY") || getenv("WAYLAND_DISPLAY"));
}

static int tty_available(void)
{
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return 0;
    close(fd);
    return 1;
}

int tun_prompt_possible(void)
{
    int t = tty_available();
    return t || use_askpass(t);
}

static int askpass(const char *prompt, char *out, size_t outsz)
{
    int pfd[2];
    if (pipe(pfd) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(pfd[0]);
        close(pfd[1]);
        return -1;
    }
    if (pid == 0) {
        close(pfd[0]);
        if (dup2(pfd[1], STDOUT_FILENO) < 0)
            _exit(1);
        const char *ap = getenv("SSH_ASKPASS");
        execlp(ap, ap, prompt, (char *)NULL);
        _exit(1);
    }
    close(pfd[1]);
    size_t n = 0;
    for (;;) {
        if (n + 1 >= outsz)
            break;
        ssize_t r = read(pfd[0], out + n, outsz - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(pfd[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    out[n] = '\0';
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        OPENSSL_cleanse(out, outsz);
        return -1;
    }
    out[strcspn(out, "\r\n")] = '\0';
    return 0;
}

static int tty_prompt(const char *prompt, int echo, char *out, size_t outsz)
{
    int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -1;
    struct termios old, t;
    int have_term = tcgetattr(fd, &old) == 0;
    if (have_term && !echo) {
        t = old;
        t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
        tcsetattr(fd, TCSAFLUSH, &t);
    }
    if (write(fd, prompt, strlen(prompt)) < 0) {
        /* nothing sensible to do; keep reading */
    }
    size_t n = 0;
    int ok = 0;
    for (;;) {
        char ch;
        ssize_t r = read(fd, &ch, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (ch == '\n' || ch == '\r') {
            ok = 1;
            break;
        }
        if (n + 1 < outsz)
            out[n++] = ch;
    }
    out[n] = '\0';
    if (have_term && !echo) {
        tcsetattr(fd, TCSAFLUSH, &old);
        if (write(fd, "\n", 1) < 0) {
            /* ignore */
        }
    }
    close(fd);
    if (!ok)
        OPENSSL_cleanse(out, outsz);
    return ok ? 0 : -1;
}

static uint64_t waited_ms;

uint64_t tun_prompt_waited_ms(void)
{
    return waited_ms;
}

int tun_prompt(const char *prompt, int echo, char *out, size_t outsz)
{
    if (outsz == 0)
        return -1;
    out[0] = '\0';
    int t = tty_available();
    uint64_t start = tun_now_ms();
    int rv = -1;
    if (use_askpass(t))
        rv = askpass(prompt, out, outsz);
    else if (t)
        rv = tty_prompt(prompt, echo, out, outsz);
    waited_ms += tun_now_ms() - start;
    return rv;
}
