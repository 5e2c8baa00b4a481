/*
 * tun_session.c - exec/shell over a session channel with the local stdio.
 *
 * Exit status is the remote command's (exit-status); a command killed by a
 * signal (exit-signal) is reported on stderr and gives 255, as does a
 * channel that closes without either.  When our stdout goes away (EPIPE,
 * e.g. `| head -c1`), the peer is told with eow@openssh.com so that the
 * remote command stops promptly instead of filling a dead pipe.
 */
#include "tun_session.h"
#include "tun_log.h"
#include "tun_pipe.h"
#include "tun_tty.h"
#include "tun_util.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#define REQ_PTY  ((void *)1)
#define REQ_EXEC ((void *)2)
#define REQ_X11  ((void *)3)

struct tun_session {
    tun_pipe pipe;
    tun_session_params p;
    ssh_conn *c;
    const tun_options *o;
    char *command;
    char *term;
    char **env;
    int tty;        /* a pty was requested */
    int finished;
    int released;   /* descriptors handed back to the owner */
    ev_signal winch;
    int have_status;
    uint32_t status;
    char signame[64];
    int have_signal;
    int sent_eow;   /* we told the peer to stop: its SIGPIPE is expected */
    int saved_fl[3];
    tun_escape esc;
    tun_escape_ops esc_ops; /* the owner's, with ~B ~R ~^Z done here */
    char *x11_proto, *x11_cookie;
};

static int peer_understands_eow(ssh_conn *c)
{
    const char *id = ssh_conn_peer_ident(c);
    return id && (strstr(id, "OpenSSH") || strstr(id, "sshtun"));
}

static void send_env(tun_session *s, uint32_t id, const char *name, const char *value)
{
    ssh_channel_req r = {.type = "env", .want_reply = 0, .name = name, .value = value};
    tun_debug("Sending env %s = %s", name, value);
    ssh_channel_request_send(s->c, id, &r, NULL);
}

/* SendEnv: local variables matching the patterns; SetEnv: literal pairs. */
static void send_pair(tun_session *s, uint32_t id, const char *pair)
{
    char name[256];
    const char *eq = strchr(pair, '=');
    if (eq == NULL || (size_t)(eq - pair) >= sizeof(name))
        return;
    memcpy(name, pair, (size_t)(eq - pair));
    name[eq - pair] = '\0';
    send_env(s, id, name, eq + 1);
}

typedef struct {
    tun_session *s;
    uint32_t id;
} env_target;

static void send_local_pair(void *arg, const char *pair)
{
    env_target *t = arg;
    send_pair(t->s, t->id, pair);
}

static void send_environment(tun_session *s, uint32_t id)
{
    for (int i = 0; i < s->p.n_env; i++)
        send_pair(s, id, s->env[i]);
    if (!s->p.send_local_env)
        return;
    env_target t = {s, id};
    tun_options_each_send_env(s->o, send_local_pair, &t);
    for (int i = 0; i < s->o->n_set_env; i++)
        send_pair(s, id, s->o->set_env[i]);
}

static void send_window_change(tun_session *s)
{
    ssh_channel_req r = {.type = "window-change", .want_reply = 0};
    tun_tty_size(s->p.fd_in, &r.cols, &r.rows, &r.width_px, &r.height_px);
    ssh_channel_request_send(s->c, s->pipe.base.id, &r, NULL);
    tun_link_kick(s->pipe.base.link);
}

static void send_window_change(tun_session *s);

static void on_winch(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)loop;
    (void)revents;
    tun_session *s = w->data;
    if (s->pipe.base.open)
        send_window_change(s);
}

static void request_pty(tun_session *s, uint32_t id)
{
    ssh_buf modes;
    ssh_buf_init(&modes, 4096, 0);
    tun_tty_modes(s->p.fd_in, &modes);
    const char *term = s->term ? s->term : getenv("TERM");
    ssh_channel_req r = {.type = "pty-req", .want_reply = 1, .term = term ? term : ""};
    tun_tty_size(s->p.fd_in, &r.cols, &r.rows, &r.width_px, &r.height_px);
    r.modes = ssh_buf_ptr(&modes);
    r.modes_len = ssh_buf_len(&modes);
    if (ssh_channel_request_send(s->c, id, &r, REQ_PTY) == 0) {
        /* Raw mode now, so nothing typed meanwhile is echoed locally (a mux
         * client does this on its own terminal itself). */
        if (s->p.own_stdio && isatty(0))
            tun_tty_raw(0);
        ev_signal_start(s->p.loop, &s->winch);
    }
    ssh_buf_free(&modes);
}

/* ---- escapes ------------------------------------------------------------------------------ */

static long h_filter(tun_pipe *p, const uint8_t *in, size_t n, uint8_t *out, int *ended)
{
    tun_session *s = p->owner;
    long k = tun_escape_filter(&s->esc, in, n, out);
    *ended = s->esc.closed;
    return k;
}

static void esc_break(void *arg)
{
    tun_session *s = arg;
    /* RFC 4335: break length in milliseconds; ssh asks for 1000. */
    static const uint8_t len[4] = {0, 0, 0x03, 0xe8};
    ssh_channel_req r = {.type = "break", .want_reply = 0, .data = len, .data_len = 4};
    if (s->pipe.base.open)
        ssh_channel_request_send(s->c, s->pipe.base.id, &r, NULL);
}

static void esc_rekey(void *arg)
{
    tun_session *s = arg;
    tun_debug("Requesting key re-exchange");
    ssh_conn_rekey(s->c);
}

/* ~^Z: the terminal as the shell expects it, stop, and on return raw
 * mode and non-blocking descriptors again, with the size the terminal has
 * now (it may have changed meanwhile). */
static void esc_suspend(void *arg)
{
    tun_session *s = arg;
    int raw = tun_tty_is_raw();
    tun_tty_restore();
    kill(getpid(), SIGTSTP);
    for (int fd = 0; fd < 3; fd++)
        tun_tty_nonblock(fd);
    if (raw)
        tun_tty_raw(0);
    if (s->tty && s->pipe.base.open)
        send_window_change(s);
}

#define OWNER_HOOK(name, ...)                                                                      \
    do {                                                                                           \
        tun_session *s = arg;                                                                      \
        s->p.escape_ops->name(s->p.escape_ops->arg, __VA_ARGS__);                                  \
    } while (0)

static void esc_quit(void *arg)
{
    tun_session *s = arg;
    s->p.escape_ops->quit(s->p.escape_ops->arg);
}

static void esc_background(void *arg)
{
    tun_session *s = arg;
    s->p.escape_ops->background(s->p.escape_ops->arg);
}

static void esc_list(void *arg, char *buf, size_t len)
{
    OWNER_HOOK(list, buf, len);
}

static int esc_forward(void *arg, char kind, int cancel, const char *spec, char *msg, size_t msgsz)
{
    tun_session *s = arg;
    return s->p.escape_ops->forward(s->p.escape_ops->arg, kind, cancel, spec, msg, msgsz);
}

static void esc_local(void *arg, const char *command)
{
    OWNER_HOOK(local, command);
}

static void escapes_init(tun_session *s)
{
    const tun_escape_ops *o = s->p.escape_ops;
    tun_escape_ops *m = &s->esc_ops;
    m->quit = o->quit ? esc_quit : NULL;
    m->suspend = o->suspend ? esc_suspend : NULL;
    m->background = o->background ? esc_background : NULL;
    m->brk = esc_break;
    m->rekey = esc_rekey;
    m->list = o->list ? esc_list : NULL;
    m->forward = o->forward ? esc_forward : NULL;
    m->local = o->local ? esc_local : NULL;
    m->cmdline_enabled = o->cmdline_enabled;
    m->levels = o->levels;
    m->arg = s;
    tun_escape_init(&s->esc, s->p.escape_char, s->p.fd_err >= 0 ? s->p.fd_err : 2, m);
}

/* X11 and agent forwarding go before the pty and the command, in ssh's
 * order. */
static void request_forwarding(tun_session *s, uint32_t id)
{
    if (s->x11_proto && s->x11_cookie) {
        /* RFC 4254 6.3.1: single connection, protocol, cookie, screen. */
        ssh_buf b;
        ssh_buf_init(&b, 1024, 0);
        ssh_buf_put_bool(&b, 0);
        ssh_buf_put_cstring(&b, s->x11_proto);
        ssh_buf_put_cstring(&b, s->x11_cookie);
        ssh_buf_put_u32(&b, (uint32_t)s->p.x11_screen);
        ssh_channel_req r = {.type = "x11-req",
                             .want_reply = 1,
                             .data = ssh_buf_ptr(&b),
                             .data_len = ssh_buf_len(&b)};
        tun_debug("Requesting X11 forwarding with authentication spoofing.");
        ssh_channel_request_send(s->c, id, &r, REQ_X11);
        ssh_buf_free(&b);
    }
    if (s->p.forward_agent) {
        ssh_channel_req r = {.type = "auth-agent-req@openssh.com", .want_reply = 0};
        tun_debug("Requesting authentication agent forwarding.");
        ssh_channel_request_send(s->c, id, &r, NULL);
    }
}

static void finish(tun_session *s, int status, const char *msg)
{
    if (s->finished)
        return;
    s->finished = 1;
    if (s->p.done)
        s->p.done(s->p.arg, status, msg);
}

static void h_open_result(tun_pipe *p, uint32_t reason, const char *msg)
{
    tun_session *s = p->owner;
    if (reason != 0 && s->p.open_refused && s->p.open_refused(s->p.arg, reason, msg)) {
        s->finished = 1;
        s->released = 1;
        return;
    }
    if (reason != 0) {
        char m[600];
        snprintf(m, sizeof(m), "channel %u: open failed: %s: %s", p->base.id,
                        reason == SSH_OPEN_ADMINISTRATIVELY_PROHIBITED ? "administratively prohibited"
                        : reason == SSH_OPEN_CONNECT_FAILED           ? "connect failed"
                        : reason == SSH_OPEN_UNKNOWN_CHANNEL_TYPE     ? "unknown channel type"
                        : reason == SSH_OPEN_RESOURCE_SHORTAGE        ? "resource shortage"
                                                                      : "unknown reason",
                        msg && *msg ? msg : "(no message)");
        finish(s, 255, m);
        return;
    }
    request_forwarding(s, p->base.id);
    send_environment(s, p->base.id);
    if (s->tty)
        request_pty(s, p->base.id);
    ssh_channel_req r = {0};
    r.want_reply = 1;
    if (s->command && s->p.subsystem) {
        r.type = "subsystem";
        r.name = s->command;
    } else if (s->command) {
        r.type = "exec";
        r.command = s->command;
        r.command_len = strlen(s->command);
        tun_debug("Sending command: %s", s->command);
    } else {
        r.type = "shell";
    }
    int rv = ssh_channel_request_send(s->c, p->base.id, &r, REQ_EXEC);
    if (rv != 0) {
        char m[300];
        snprintf(m, sizeof(m), "channel %u: %s request: %s", p->base.id, r.type, ssh_strerror(rv));
        finish(s, 255, m);
        return;
    }
    if (s->p.started)
        s->p.started(s->p.arg, p->base.id);
}

static void h_request_result(tun_pipe *p, int ok, void *req_user)
{
    tun_session *s = p->owner;
    if (req_user == REQ_X11) {
        if (!ok)
            tun_info("X11 forwarding request failed on channel %u", p->base.id);
        return;
    }
    if (req_user == REQ_PTY) {
        if (!ok) {
            if (s->p.own_stdio)
                tun_tty_restore();
            tun_error("PTY allocation request failed on channel %u", p->base.id);
            if (s->p.tty_failed)
                s->p.tty_failed(s->p.arg);
        }
        return;
    }
    if (!ok) {
        char m[200];
        snprintf(m, sizeof(m), "%s request failed on channel %u",
                 s->command ? (s->p.subsystem ? "subsystem" : "exec") : "shell", p->base.id);
        ssh_channel_close(s->c, p->base.id);
        finish(s, 255, m);
        return;
    }
    if (p->in_fd < 0)
        ssh_channel_eof(s->c, p->base.id); /* -n: nothing will come */
    else
        tun_pipe_start_input(p);
}

static int h_request(tun_pipe *p, const ssh_channel_req *r)
{
    tun_session *s = p->owner;
    if (strcmp(r->type, "exit-status") == 0) {
        s->have_status = 1;
        s->status = r->exit_status;
        tun_debug("client_input_channel_req: channel %u rtype exit-status reply %d", p->base.id,
                  r->want_reply);
        return SSH_REQUEST_SUCCESS;
    }
    if (strcmp(r->type, "exit-signal") == 0) {
        s->have_signal = 1;
        snprintf(s->signame, sizeof(s->signame), "%s", r->name ? r->name : "?");
        return SSH_REQUEST_SUCCESS;
    }
    return SSH_REQUEST_FAILURE;
}

static void h_out_failed(tun_pipe *p, int stream, int err)
{
    tun_session *s = p->owner;
    tun_debug("channel %u: local %s closed: %s", p->base.id, stream ? "stderr" : "stdout",
              strerror(err));
    if (stream == 0 && p->base.open && peer_understands_eow(s->c)) {
        ssh_channel_req r = {.type = "eow@openssh.com", .want_reply = 0};
        if (ssh_channel_request_send(s->c, p->base.id, &r, NULL) == 0)
            s->sent_eow = 1;
    }
}

static void h_closed(tun_pipe *p)
{
    tun_session *s = p->owner;
    tun_pipe_flush_blocking(p);
    if (s->p.own_stdio && tun_tty_is_raw()) {
        tun_tty_restore();
        if (s->o->log_level >= TUN_LOG_INFO)
            fprintf(stderr, "Connection to %s closed.\r\n", s->p.host);
    }
    int status = 255;
    char m[128] = "";
    if (s->have_status) {
        status = (int)(s->status & 0xff);
    } else if (s->have_signal && !(s->sent_eow && strcmp(s->signame, "PIPE") == 0)) {
        snprintf(m, sizeof(m), "Remote command terminated by signal %s", s->signame);
    }
    finish(s, status, m[0] ? m : NULL);
}

static const tun_pipe_hooks hooks = {
    .open_result = h_open_result,
    .out_failed = h_out_failed,
    .request = h_request,
    .request_result = h_request_result,
    .closed = h_closed,
};

/* The same with the escape filter on the input. */
static const tun_pipe_hooks hooks_escapes = {
    .open_result = h_open_result,
    .out_failed = h_out_failed,
    .request = h_request,
    .request_result = h_request_result,
    .closed = h_closed,
    .filter = h_filter,
};

tun_session *tun_session_start(const tun_session_params *p)
{
    tun_session *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->p = *p;
    s->c = p->link->c;
    s->o = p->o;
    s->tty = p->tty;
    s->command = p->command ? strdup(p->command) : NULL;
    s->term = p->term ? strdup(p->term) : NULL;
    if (p->n_env > 0) {
        s->env = calloc((size_t)p->n_env, sizeof(*s->env));
        for (int i = 0; s->env && i < p->n_env; i++)
            s->env[i] = strdup(p->env[i]);
    }
    s->x11_proto = p->x11_proto ? strdup(p->x11_proto) : NULL;
    s->x11_cookie = p->x11_cookie ? strdup(p->x11_cookie) : NULL;
    s->p.command = NULL;
    s->p.term = NULL;
    s->p.env = NULL;
    s->p.x11_proto = NULL;
    s->p.x11_cookie = NULL;
    int escapes = p->escape_ops != NULL && p->escape_char != TUN_ESCAPE_NONE && p->fd_in >= 0;
    if (escapes)
        escapes_init(s);
    ev_signal_init(&s->winch, on_winch, SIGWINCH);
    s->winch.data = s;
    /* Non-blocking descriptors, terminals included: the loop reads and
     * writes them only when they are ready, and must never sleep in a read
     * of a terminal nobody types on (output would wait for a key press).
     * The flags are restored when the session ends: our own stdio's by
     * tun_tty (also at exit: they are shared with the user's shell), a mux
     * client's by us. */
    int fds[3] = {p->fd_in, p->fd_out, p->fd_err};
    for (int i = 0; i < 3; i++) {
        s->saved_fl[i] = -1;
        if (fds[i] < 0)
            continue;
        if (p->own_stdio)
            tun_tty_nonblock(fds[i]);
        else
            s->saved_fl[i] = tun_set_nonblock(fds[i], 1);
    }
    tun_pipe_init(&s->pipe, p->loop, p->link, p->fd_in, p->fd_out, p->fd_err,
                  escapes ? &hooks_escapes : &hooks, s);
    ssh_channel_open_info info = {.kind = SSH_CHAN_SESSION};
    uint32_t id;
    int rv = ssh_channel_open(s->c, &info, &s->pipe.base, &id);
    if (rv != 0) {
        tun_error("channel open: %s", ssh_strerror(rv));
        tun_session_free(s);
        return NULL;
    }
    s->pipe.base.id = id;
    return s;
}

void tun_session_close(tun_session *s)
{
    /* Before the open is confirmed this closes as soon as it is. */
    ssh_channel_close(s->c, s->pipe.base.id);
}

void tun_session_abort(tun_session *s, const char *msg)
{
    finish(s, 255, msg);
}

void tun_session_winch(tun_session *s)
{
    if (s->tty && s->pipe.base.open)
        send_window_change(s);
}

uint32_t tun_session_id(const tun_session *s)
{
    return s->pipe.base.id;
}

void tun_session_free(tun_session *s)
{
    if (s == NULL)
        return;
    ev_signal_stop(s->p.loop, &s->winch);
    if (s->p.own_stdio)
        tun_tty_restore();
    int fds[3] = {s->p.fd_in, s->p.fd_out, s->p.fd_err};
    tun_pipe_free(&s->pipe);
    for (int i = 0; i < 3; i++) {
        if (fds[i] < 0)
            continue;
        if (s->saved_fl[i] >= 0)
            fcntl(fds[i], F_SETFL, s->saved_fl[i]);
        if (!s->p.own_stdio && !s->released)
            close(fds[i]);
    }
    free(s->command);
    free(s->term);
    free(s->x11_proto);
    if (s->x11_cookie)
        OPENSSL_cleanse(s->x11_cookie, strlen(s->x11_cookie));
    free(s->x11_cookie);
    for (int i = 0; s->env && i < s->p.n_env; i++)
        free(s->env[i]);
    free(s->env);
    free(s);
}
