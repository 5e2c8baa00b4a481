/*
 * tun_x11.c - X11 forwarding, the client's half (see tun_x11.h).
 *
 * The cookie: ForwardX11Trusted yes reads the display's own cookie
 * (`xauth list DISPLAY`; for "localhost:N" the entry is looked up as
 * "unix:N", where Xlib keeps local displays, as ssh does); no makes an
 * untrusted one the X server will refuse privileged requests for, in a
 * file of a private temporary directory that is removed as soon as it has
 * been read.  Each step is an xauth process watched by the loop, bounded
 * by XAUTH_TIMEOUT; no shell, the display name passes as an argument after
 * the same check ssh makes (letters, digits and ":/.-_" only).
 *
 * The check of the X client's setup (X Window System Protocol, "Connection
 * Setup"): byte-order byte 'B' or 'l', then at offset 6 and 8 the lengths
 * of the authorization protocol name and data in that byte order, then
 * the name and the data, each padded to 4 bytes.  Only when the whole
 * setup has arrived and name and fake cookie match is anything written to
 * the display, with the real cookie in place of the fake one.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pipe2 */
#endif
#include "tun_x11.h"
#include "tun_connect.h"
#include "tun_log.h"
#include "tun_pipe.h"
#include "tun_sock.h"
#include "tun_util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#define XAUTH_TIMEOUT   10.0
#define TIMEOUT_SLACK   60          /* the cookie outlives the refusal time (ssh's) */
#define SETUP_MAX       (64 * 1024) /* the X client's first packet, bounded */
#define COOKIE_MAX      256         /* bytes */
#define CONNECT_TIMEOUT 30.0
#define X11_PROTO       "MIT-MAGIC-COOKIE-1"

typedef struct xconn xconn;

struct tun_x11 {
    struct ev_loop *loop;
    const tun_options *o;
    tun_resolver *res;
    void (*ready)(void *arg);
    void *arg;
    char display[256];  /* $DISPLAY */
    char xdisplay[300]; /* as xauth is asked about it */
    int trusted;
    int done, ok;
    /* xauth */
    int step; /* 1 generate, 2 list */
    pid_t pid;
    int out_fd;
    ev_io out_w;
    ev_child child_w;
    ev_timer timer;
    char out[1024];
    size_t out_len;
    char dir[64], file[96]; /* untrusted cookie's temporary file */
    /* the cookie */
    char proto[128];
    uint8_t real[COOKIE_MAX], fake[COOKIE_MAX];
    size_t cookie_len;
    char fake_hex[2 * COOKIE_MAX + 1];
    int screen;
    ev_tstamp refuse_after; /* untrusted with a timeout: no connections after */
    xconn *conns;
    int n;
};

struct xconn {
    tun_pipe pipe; /* first: its tun_chan is the channel's ch_user */
    tun_x11 *x;
    tun_lookup *lookup;
    tun_connector *connector;
    ssh_buf setup; /* the X client's first bytes, until checked */
    int checked;
    int confirmed;
    xconn *next, *prev;
};

/* ---- the cookie --------------------------------------------------------------------------- */

/* ssh's client_x11_display_valid. */
static int display_ok(const char *d)
{
    if (*d == '\0')
        return 0;
    for (const char *p = d; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == ':' || *p == '/' || *p == '.' || *p == '-' || *p == '_'))
            return 0;
    return 1;
}

static void probe_finish(tun_x11 *x, int ok)
{
    ev_timer_stop(x->loop, &x->timer);
    if (x->dir[0]) {
        unlink(x->file);
        rmdir(x->dir);
        x->dir[0] = '\0';
    }
    x->done = 1;
    x->ok = ok;
    if (ok) {
        if (RAND_bytes(x->fake, (int)x->cookie_len) != 1) {
            x->ok = 0;
        } else {
            for (size_t i = 0; i < x->cookie_len; i++)
                snprintf(x->fake_hex + 2 * i, 3, "%02x", x->fake[i]);
        }
    }
    if (x->ready)
        x->ready(x->arg);
}

static int unhex(const char *h, uint8_t *out, size_t max, size_t *len)
{
    size_t n = strlen(h);
    if (n == 0 || n % 2 || n / 2 > max)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(h + 2 * i, "%2x", &v) != 1)
            return -1;
        out[i] = (uint8_t)v;
    }
    *len = n / 2;
    return 0;
}

/* Without a cookie (trusted only): made-up data, which the display
 * ignores, so it uses whatever else it accepts from us (ssh's fallback). */
static void fake_data(tun_x11 *x)
{
    tun_info("Warning: No xauth data; using fake authentication data for X11 forwarding.");
    snprintf(x->proto, sizeof(x->proto), "%s", X11_PROTO);
    x->cookie_len = 16;
    if (RAND_bytes(x->real, 16) != 1)
        x->cookie_len = 0;
}

static void run_step(tun_x11 *x);

static void step_done(tun_x11 *x, int status)
{
    if (x->step == 1) {
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
            x->step = 2;
            run_step(x);
            return;
        }
        tun_error("Warning: untrusted X11 forwarding setup failed: xauth key data not generated");
        probe_finish(x, 0);
        return;
    }
    /* "display  proto  hexdata" on the first line. */
    char name[300], proto[128], data[2 * COOKIE_MAX + 8];
    x->out[x->out_len < sizeof(x->out) ? x->out_len : sizeof(x->out) - 1] = '\0';
    int got = sscanf(x->out, "%299s %127s %519s", name, proto, data) == 3 &&
              unhex(data, x->real, sizeof(x->real), &x->cookie_len) == 0;
    OPENSSL_cleanse(data, sizeof(data));
    OPENSSL_cleanse(x->out, sizeof(x->out));
    if (got) {
        snprintf(x->proto, sizeof(x->proto), "%s", proto);
        probe_finish(x, 1);
        return;
    }
    if (!x->trusted) {
        tun_error("Warning: untrusted X11 forwarding setup failed: xauth key data not generated");
        probe_finish(x, 0);
        return;
    }
    fake_data(x);
    probe_finish(x, x->cookie_len > 0);
}

static void on_out(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)revents;
    tun_x11 *x = w->data;
    char buf[512];
    ssize_t n = read(x->out_fd, buf, sizeof(buf));
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n > 0) {
        size_t room = sizeof(x->out) - 1 - x->out_len;
        size_t k = (size_t)n < room ? (size_t)n : room;
        memcpy(x->out + x->out_len, buf, k);
        x->out_len += k;
        OPENSSL_cleanse(buf, sizeof(buf));
        return;
    }
    ev_io_stop(loop, w);
    close(x->out_fd);
    x->out_fd = -1;
    if (x->pid < 0)
        step_done(x, x->child_w.rstatus);
}

static void on_child(struct ev_loop *loop, ev_child *w, int revents)
{
    (void)revents;
    tun_x11 *x = w->data;
    ev_child_stop(loop, w);
    x->pid = -1;
    if (x->out_fd < 0)
        step_done(x, w->rstatus);
}

static void on_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)revents;
    tun_x11 *x = w->data;
    tun_error("X11 forwarding: %s did not answer within %.0f s", x->o->xauth_location,
              XAUTH_TIMEOUT);
    if (x->pid > 0) {
        kill(x->pid, SIGKILL);
        ev_child_stop(loop, &x->child_w);
        x->pid = -1;
    }
    if (x->out_fd >= 0) {
        ev_io_stop(loop, &x->out_w);
        close(x->out_fd);
        x->out_fd = -1;
    }
    probe_finish(x, 0);
}

/* Start xauth for the current step, its stdout to us, stderr to
 * /dev/null (ssh's "2>/dev/null"). */
static void run_step(tun_x11 *x)
{
    char timeout[32];
    const char *argv[12];
    int n = 0;
    argv[n++] = x->o->xauth_location;
    if (x->step == 1) {
        argv[n++] = "-f";
        argv[n++] = x->file;
        argv[n++] = "generate";
        argv[n++] = x->xdisplay;
        argv[n++] = X11_PROTO;
        argv[n++] = "untrusted";
        if (x->o->forward_x11_timeout > 0) {
            snprintf(timeout, sizeof(timeout), "%d", x->o->forward_x11_timeout + TIMEOUT_SLACK);
            argv[n++] = "timeout";
            argv[n++] = timeout;
        }
    } else {
        if (x->dir[0]) {
            argv[n++] = "-f";
            argv[n++] = x->file;
        }
        argv[n++] = "list";
        argv[n++] = x->xdisplay;
    }
    argv[n] = NULL;
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        probe_finish(x, 0);
        return;
    }
    tun_debug2("x11_get_proto: %s %s %s", argv[0], argv[1], argv[2]);
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        probe_finish(x, 0);
        return;
    }
    if (pid == 0) {
        for (int sig = 1; sig < NSIG; sig++)
            if (sig != SIGKILL && sig != SIGSTOP)
                signal(sig, SIG_DFL);
        int nul = open("/dev/null", O_RDWR);
        if (dup2(p[1], 1) < 0 || (nul >= 0 && (dup2(nul, 2) < 0 || dup2(nul, 0) < 0)))
            _exit(127);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(p[1]);
    x->pid = pid;
    x->out_fd = p[0];
    x->out_len = 0;
    tun_set_nonblock(p[0], 1);
    ev_io_init(&x->out_w, on_out, p[0], EV_READ);
    x->out_w.data = x;
    ev_io_start(x->loop, &x->out_w);
    ev_child_init(&x->child_w, on_child, pid, 0);
    x->child_w.data = x;
    ev_child_start(x->loop, &x->child_w);
}

tun_x11 *tun_x11_start(struct ev_loop *loop, const tun_options *o, tun_resolver *res,
                       void (*ready)(void *arg), void *arg)
{
    if (!o->forward_x11)
        return NULL;
    const char *d = getenv("DISPLAY");
    if (d == NULL || *d == '\0') {
        tun_debug("X11 forwarding requested but DISPLAY not set");
        return NULL;
    }
    if (!display_ok(d)) {
        tun_debug("Invalid DISPLAY value");
        return NULL;
    }
    tun_x11 *x = calloc(1, sizeof(*x));
    if (x == NULL)
        return NULL;
    x->loop = loop;
    x->o = o;
    x->res = res;
    x->ready = ready;
    x->arg = arg;
    x->pid = -1;
    x->out_fd = -1;
    x->trusted = o->forward_x11_trusted;
    snprintf(x->display, sizeof(x->display), "%s", d);
    /* The screen: the number after the display's '.', as ssh sends it. */
    const char *c = strchr(x->display, ':');
    if (c && (c = strchr(c, '.')) != NULL)
        x->screen = atoi(c + 1) > 400 ? 0 : atoi(c + 1);
    /* Xlib files a local display's cookie under unix:N. */
    if (strncmp(d, "localhost:", 10) == 0)
        snprintf(x->xdisplay, sizeof(x->xdisplay), "unix:%s", d + 10);
    else
        snprintf(x->xdisplay, sizeof(x->xdisplay), "%s", d);
    ev_timer_init(&x->timer, on_timeout, XAUTH_TIMEOUT, 0.);
    x->timer.data = x;
    struct stat st;
    if (o->xauth_location == NULL || stat(o->xauth_location, &st) != 0) {
        tun_debug("No xauth program.");
        if (!x->trusted) {
            tun_error("Warning: untrusted X11 forwarding setup failed: xauth key data not "
                      "generated");
            x->done = 1;
            return x;
        }
        fake_data(x);
        x->done = 1;
        x->ok = x->cookie_len > 0;
        if (x->ok && RAND_bytes(x->fake, (int)x->cookie_len) == 1)
            for (size_t i = 0; i < x->cookie_len; i++)
                snprintf(x->fake_hex + 2 * i, 3, "%02x", x->fake[i]);
        else
            x->ok = 0;
        return x;
    }
    if (!x->trusted) {
        snprintf(x->dir, sizeof(x->dir), "/tmp/sshtun-xauth-XXXXXX");
        if (mkdtemp(x->dir) == NULL) {
            tun_error("mkdtemp: %s", strerror(errno));
            x->dir[0] = '\0';
            x->done = 1;
            return x;
        }
        snprintf(x->file, sizeof(x->file), "%s/xauthfile", x->dir);
        if (o->forward_x11_timeout > 0)
            x->refuse_after = ev_now(loop) + o->forward_x11_timeout;
        x->step = 1;
    } else {
        x->step = 2;
    }
    ev_timer_start(loop, &x->timer);
    run_step(x);
    return x;
}

int tun_x11_done(const tun_x11 *x)
{
    return x == NULL || x->done;
}

int tun_x11_ok(const tun_x11 *x)
{
    return x && x->done && x->ok;
}

const char *tun_x11_proto(const tun_x11 *x)
{
    return x->proto;
}

const char *tun_x11_fake_cookie(const tun_x11 *x)
{
    return x->fake_hex;
}

int tun_x11_screen(const tun_x11 *x)
{
    return x->screen;
}

/* ---- the setup check --------------------------------------------------------------------------
 */

static size_t pad4(size_t n)
{
    return (n + 3) & ~(size_t)3;
}

int tun_x11_substitute(uint8_t *b, size_t len, const char *proto, const uint8_t *fake,
                       const uint8_t *real, size_t cookie_len, const char **why)
{
    if (len < 12)
        return 0;
    size_t plen, dlen;
    if (b[0] == 0x42) { /* 'B': most significant byte first */
        plen = (size_t)b[6] << 8 | b[7];
        dlen = (size_t)b[8] << 8 | b[9];
    } else if (b[0] == 0x6c) { /* 'l': least significant byte first */
        plen = (size_t)b[7] << 8 | b[6];
        dlen = (size_t)b[9] << 8 | b[8];
    } else {
        *why = "bad byte order byte";
        return -1;
    }
    if (len < 12 + pad4(plen) + pad4(dlen))
        return 0;
    if (plen != strlen(proto) || memcmp(b + 12, proto, plen) != 0) {
        *why = "X11 connection uses different authentication protocol";
        return -1;
    }
    uint8_t *data = b + 12 + pad4(plen);
    if (dlen != cookie_len || CRYPTO_memcmp(data, fake, cookie_len) != 0) {
        *why = "X11 auth data does not match fake data";
        return -1;
    }
    memcpy(data, real, cookie_len);
    return 1;
}

/* ---- x11 channels
 * ------------------------------------------------------------------------------------ */

static ssh_conn *conn_of(xconn *xc)
{
    return xc->pipe.base.link->c;
}

static void xconn_free(xconn *xc)
{
    tun_x11 *x = xc->x;
    if (xc->lookup)
        tun_resolve_cancel(xc->lookup);
    if (xc->connector)
        tun_connect_cancel(xc->connector);
    tun_link_unblock(xc->pipe.base.link, &xc->pipe.base);
    tun_pipe_free(&xc->pipe); /* closes the socket */
    ssh_buf_free(&xc->setup);
    if (xc->prev)
        xc->prev->next = xc->next;
    else
        x->conns = xc->next;
    if (xc->next)
        xc->next->prev = xc->prev;
    x->n--;
    free(xc);
}

static void h_closed(tun_pipe *p)
{
    xconn_free(p->owner);
}

static const tun_pipe_hooks x11_hooks = {
    .closed = h_closed,
};

/* Until the setup is checked, the channel's data is held here. */
static void pre_data(tun_chan *ch, int stream, const uint8_t *d, size_t n)
{
    xconn *xc = (xconn *)ch;
    tun_x11 *x = xc->x;
    if (stream != 0)
        return;
    if (ssh_buf_put(&xc->setup, d, n) != 0) {
        tun_info("X11 connection rejected because of wrong authentication.");
        tun_debug2("X11 setup larger than %d bytes", SETUP_MAX);
        ssh_channel_close(conn_of(xc), ch->id);
        return;
    }
    const char *why = NULL;
    int r = tun_x11_substitute(ssh_buf_mutable_ptr(&xc->setup), ssh_buf_len(&xc->setup), x->proto,
                               x->fake, x->real, x->cookie_len, &why);
    if (r == 0)
        return;
    if (r < 0) {
        tun_debug2("%s", why);
        tun_info("X11 connection rejected because of wrong authentication.");
        ssh_channel_close(conn_of(xc), ch->id);
        return;
    }
    /* Checked: from now on a plain pipe, starting with the setup (its
     * window is granted as the display takes it). */
    xc->checked = 1;
    ch->ops = &tun_pipe_ops;
    tun_pipe_ops.data(ch, 0, ssh_buf_ptr(&xc->setup), ssh_buf_len(&xc->setup));
    ssh_buf_free(&xc->setup); /* a secret buffer: cleansed */
    tun_pipe_start_input(&xc->pipe);
}

static void pre_eof(tun_chan *ch)
{
    xconn *xc = (xconn *)ch;
    ssh_channel_close(conn_of(xc), ch->id);
}

static void pre_closed(tun_chan *ch)
{
    xconn_free((xconn *)ch);
}

static const tun_chan_ops pre_ops = {
    .data = pre_data,
    .eof = pre_eof,
    .closed = pre_closed,
};

static void connected(void *arg, int fd, const tun_addr *addr, const char *err)
{
    (void)addr;
    xconn *xc = arg;
    xc->connector = NULL;
    ssh_conn *c = conn_of(xc);
    if (fd < 0) {
        tun_error("Can't open display: %s: %s", xc->x->display, err ? err : "failed");
        ssh_channel_open_fail(c, xc->pipe.base.id, SSH_OPEN_CONNECT_FAILED, err ? err : "");
        tun_link_kick(xc->pipe.base.link);
        xconn_free(xc);
        return;
    }
    tun_pipe_set_fds(&xc->pipe, fd, fd);
    xc->pipe.is_socket = 1;
    xc->confirmed = 1;
    if (ssh_channel_open_confirm(c, xc->pipe.base.id, &xc->pipe.base) != 0) {
        xconn_free(xc);
        return;
    }
    xc->pipe.base.open = 1;
    tun_link_kick(xc->pipe.base.link);
}

static void resolved(void *arg, const tun_addr *addrs, size_t n, const char *err)
{
    xconn *xc = arg;
    xc->lookup = NULL;
    if (n == 0) {
        connected(xc, -1, NULL, err);
        return;
    }
    xc->connector = tun_connect_start(xc->x->loop, addrs, n, CONNECT_TIMEOUT, connected, xc);
    if (xc->connector == NULL)
        connected(xc, -1, NULL, "out of memory");
}

/* The local display as ssh's x11_connect_display finds it: ":N",
 * "unix:N" -> /tmp/.X11-unix/XN; "host:N" -> TCP host port 6000+N. */
static void connect_display(xconn *xc)
{
    const char *d = xc->x->display;
    const char *colon = strrchr(d, ':');
    unsigned num = colon ? (unsigned)atoi(colon + 1) : 0;
    if (d[0] == ':' || strncmp(d, "unix:", 5) == 0) {
        char path[64];
        snprintf(path, sizeof(path), "/tmp/.X11-unix/X%u", num);
        int fd = tun_connect_unix(path);
        connected(xc, fd, NULL, fd < 0 ? strerror(errno) : NULL);
        return;
    }
    char host[256];
    size_t hl = colon ? (size_t)(colon - d) : strlen(d);
    if (hl >= sizeof(host) || num > 59535) {
        connected(xc, -1, NULL, "bad display");
        return;
    }
    memcpy(host, d, hl);
    host[hl] = '\0';
    xc->lookup = tun_resolve(xc->x->res, host, 6000 + num, AF_UNSPEC, resolved, xc);
    if (xc->lookup == NULL)
        connected(xc, -1, NULL, "out of memory");
}

int tun_x11_channel_open(tun_x11 *x, tun_link *link, uint32_t id, const ssh_channel_open_info *info,
                         const char **why)
{
    if (!tun_x11_ok(x)) {
        /* ssh's words: we never asked for it. */
        tun_error("Warning: ssh server tried X11 forwarding.");
        tun_error("Warning: this is probably a break-in attempt by a malicious server.");
        *why = "X11 forwarding not requested";
        return -SSH_OPEN_ADMINISTRATIVELY_PROHIBITED;
    }
    if (x->refuse_after > 0 && ev_now(x->loop) >= x->refuse_after) {
        tun_verbose("Rejected X11 connection after ForwardX11Timeout expired");
        *why = "ForwardX11Timeout expired";
        return -SSH_OPEN_ADMINISTRATIVELY_PROHIBITED;
    }
    /* Originator address and port (RFC 4254 6.3.2), for the log only. */
    ssh_cur c;
    char orig[256] = "?";
    uint32_t oport = 0;
    ssh_cur_init(&c, info->extra, info->extra_len);
    if (ssh_cur_get_cstr(&c, orig, sizeof(orig)) != 0 || ssh_cur_get_u32(&c, &oport) != 0) {
        /* Very old servers send no port; the address alone will do. */
    }
    tun_debug("client_request_x11: request from %s %u", orig, oport);
    xconn *xc = calloc(1, sizeof(*xc));
    if (xc == NULL) {
        *why = "out of memory";
        return -SSH_OPEN_RESOURCE_SHORTAGE;
    }
    xc->x = x;
    ssh_buf_init(&xc->setup, SETUP_MAX, SSH_BUF_SECRET);
    tun_pipe_init(&xc->pipe, x->loop, link, -1, -1, -1, &x11_hooks, xc);
    xc->pipe.auto_close = 1;
    xc->pipe.base.id = id;
    xc->pipe.base.ops = &pre_ops;
    xc->next = x->conns;
    if (x->conns)
        x->conns->prev = xc;
    x->conns = xc;
    x->n++;
    ssh_channel_set_user(link->c, id, &xc->pipe.base);
    connect_display(xc);
    /* Answered when the display is reached (a Unix socket: at once; xc
     * may be gone already). */
    return SSH_DEFERRED;
}

int tun_x11_active(const tun_x11 *x)
{
    return x ? x->n : 0;
}

void tun_x11_conn_lost(tun_x11 *x, tun_link *link)
{
    if (x == NULL)
        return;
    xconn *next;
    for (xconn *xc = x->conns; xc; xc = next) {
        next = xc->next;
        if (xc->pipe.base.link == link)
            xconn_free(xc);
    }
}

void tun_x11_free(tun_x11 *x)
{
    if (x == NULL)
        return;
    while (x->conns)
        xconn_free(x->conns);
    ev_timer_stop(x->loop, &x->timer);
    if (x->pid > 0) {
        kill(x->pid, SIGKILL);
        ev_child_stop(x->loop, &x->child_w);
    }
    if (x->out_fd >= 0) {
        ev_io_stop(x->loop, &x->out_w);
        close(x->out_fd);
    }
    if (x->dir[0]) {
        unlink(x->file);
        rmdir(x->dir);
    }
    OPENSSL_cleanse(x->real, sizeof(x->real));
    free(x);
}
