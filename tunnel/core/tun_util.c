/*
 * tun_util.c - file and fd helpers.
 */
#include "tun_util.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

int tun_read_file(const char *path, size_t max, uint8_t **data, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap + 1);
    if (buf == NULL) {
        close(fd);
        errno = ENOMEM;
        return -1;
    }
    for (;;) {
        if (n == cap) {
            if (cap >= max) {
                tun_free_secret(buf, cap);
                close(fd);
                errno = EFBIG;
                return -1;
            }
            size_t ncap = cap * 2 > max ? max : cap * 2;
            uint8_t *nb = malloc(ncap + 1);
            if (nb == NULL) {
                tun_free_secret(buf, cap);
                close(fd);
                errno = ENOMEM;
                return -1;
            }
            memcpy(nb, buf, n);
            tun_free_secret(buf, cap);
            buf = nb;
            cap = ncap;
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            tun_free_secret(buf, cap);
            close(fd);
            errno = e;
            return -1;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return 0;
}

void tun_free_secret(void *p, size_t len)
{
    if (p == NULL)
        return;
    OPENSSL_cleanse(p, len);
    free(p);
}

const char *tun_home(void)
{
    const char *h = getenv("HOME");
    if (h && *h)
        return h;
    struct passwd *pw = getpwuid(getuid());
    return pw && pw->pw_dir ? pw->pw_dir : "/";
}

char *tun_expand_home(const char *path)
{
    if (path[0] != '~' || (path[1] != '/' && path[1] != '\0'))
        return strdup(path);
    const char *h = tun_home();
    size_t l = strlen(h) + strlen(path);
    char *out = malloc(l + 1);
    if (out) {
        strcpy(out, h);
        strcat(out, path + 1);
    }
    return out;
}

int tun_mkdir_parent(const char *path, unsigned mode)
{
    char *d = strdup(path);
    if (d == NULL)
        return -1;
    char *slash = strrchr(d, '/');
    if (slash == NULL || slash == d) {
        free(d);
        return 0;
    }
    *slash = '\0';
    for (char *p = d + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(d, mode) != 0 && errno != EEXIST) {
            free(d);
            return -1;
        }
        *p = '/';
    }
    int rv = (mkdir(d, mode) == 0 || errno == EEXIST) ? 0 : -1;
    free(d);
    return rv;
}

int tun_set_nonblock(int fd, int on)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -1;
    int nfl = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
    if (nfl != fl && fcntl(fd, F_SETFL, nfl) < 0)
        return -1;
    return fl;
}

void tun_signals_reset_inherited(void)
{
    /* Some job runners start their children with SIGCHLD ignored; exec
     * keeps SIG_IGN, and then "Match exec" and the askpass helper would
     * read a status the kernel already threw away. */
    signal(SIGCHLD, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}
