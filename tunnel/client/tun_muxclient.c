/*
 * tun_muxclient.c - the passenger side of connection sharing: talk to a
 * master (sshtun's or ssh's) over its control socket.
 *
 * Plain blocking I/O: a passenger does one thing at a time and mostly
 * waits.  For a session it sends NEW_SESSION, then its stdin, stdout and
 * stderr one per sendmsg(), waits for SESSION_OPENED, then for
 * EXIT_MESSAGE and the master closing the socket; it relays SIGWINCH to the
 * master's pid (which re-reads the terminal size from the passed stdin)
 * and exits 255 if the master goes away without an exit status.
 */
#include "tun_log.h"
#include "tun_sock.h"
#include "tun_mux.h"
#include "tun_muxproto.h"
#include "tun_tty.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static volatile sig_atomic_t got_terminate;
static volatile sig_atomic_t got_winch;
static pid_t master_pid;

static void on_signal(int sig)
{
    if (sig == SIGWINCH) {
        got_winch = 1;
        if (master_pid > 0)
            kill(master_pid, SIGWINCH);
        return;
    }
    got_terminate = sig;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_all(int fd, uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r < 0) {
            if (errno == EINTR) {
                if (got_terminate)
                    return -1;
                continue;
            }
            return -1;
        }
        if (r == 0) {
            errno = EPIPE;
            return -1;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static int send_packet(int fd, ssh_buf *b)
{
    int rv = write_all(fd, ssh_buf_ptr(b), b->len);
    ssh_buf_reset(b);
    return rv;
}

/* Read one message body into `b` (type at its start). */
static int read_packet(int fd, ssh_buf *b)
{
    uint8_t h[4];
    ssh_buf_reset(b);
    if (read_all(fd, h, 4) != 0)
        return -1;
    uint32_t l = ssh_peek_u32(h);
    if (l < 4 || l > MUX_PACKET_MAX) {
        errno = EPROTO;
        return -1;
    }
    uint8_t *p;
    if (ssh_buf_append_space(b, l, &p) != 0)
        return -1;
    return read_all(fd, p, l);
}

/* One byte of data carries the descriptor, as ssh sends it. */
static int send_fd(int sock, int fd)
{
    return tun_send_fds(sock, "", 1, &fd, 1);
}

typedef struct reply {
    uint32_t type, rid, value;
    char text[16384];
} reply;

static int get_reply(int fd, ssh_buf *b, reply *r)
{
    if (read_packet(fd, b) != 0)
        return -1;
    ssh_cur c;
    ssh_cur_from_buf(&c, b);
    memset(r, 0, sizeof(*r));
    if (ssh_cur_get_u32(&c, &r->type) != 0 || ssh_cur_get_u32(&c, &r->rid) != 0)
        return -1;
    switch (r->type) {
    case MUX_S_ALIVE:
    case MUX_S_SESSION_OPENED:
    case MUX_S_REMOTE_PORT:
        return ssh_cur_get_u32(&c, &r->value) == 0 ? 0 : -1;
    case MUX_S_EXIT_MESSAGE: /* rid is the session id */
        return ssh_cur_get_u32(&c, &r->value) == 0 ? 0 : -1;
    case MUX_S_PERMISSION_DENIED:
    case MUX_S_FAILURE:
    case MUX_S_SSHTUN_STATUS:
        if (ssh_cur_get_cstr(&c, r->text, sizeof(r->text)) != 0)
            snprintf(r->text, sizeof(r->text), "(unreadable reason)");
        return 0;
    default:
        return 0;
    }
}

/* Why the master stopped talking to us, for a message. */
static const char *master_gone_reason(int e)
{
    if (e == EPIPE || e == ECONNRESET)
        return "the master closed the connection (it refuses this client: a different user, "
               "or it is shutting down; its log says which)";
    return strerror(e);
}

static int hello(int fd, ssh_buf *b, const char *path)
{
    ssh_buf_reset(b);
    tun_mux_put_hello(b);
    if (send_packet(fd, b) != 0 || read_packet(fd, b) != 0) {
        if (!got_terminate)
            tun_error("Control socket %s: master hello exchange failed: %s", path,
                      master_gone_reason(errno));
        return -1;
    }
    ssh_cur c;
    uint32_t type, ver;
    ssh_cur_from_buf(&c, b);
    if (ssh_cur_get_u32(&c, &type) != 0 || type != MUX_MSG_HELLO ||
        ssh_cur_get_u32(&c, &ver) != 0) {
        tun_error("master hello exchange failed");
        return -1;
    }
    if (ver != MUX_VERSION) {
        tun_error("Unsupported multiplexing protocol version %u (expected %d)", ver, MUX_VERSION);
        return -1;
    }
    return 0;
}

static uint32_t rid_counter;

static int simple_request(int fd, ssh_buf *b, uint32_t type, reply *r)
{
    ssh_buf_reset(b); /* it may still hold the last reply */
    tun_mux_put_simple(b, type, ++rid_counter);
    if (send_packet(fd, b) != 0 || get_reply(fd, b, r) != 0)
        return -1;
    if (r->rid != rid_counter) {
        tun_error("out of sequence reply from master: %u, expected %u", r->rid, rid_counter);
        return -1;
    }
    return 0;
}

static int alive(int fd, ssh_buf *b, pid_t *pid)
{
    reply r;
    if (simple_request(fd, b, MUX_C_ALIVE_CHECK, &r) != 0) {
        tun_error("master alive check failed: %s", master_gone_reason(errno));
        return -1;
    }
    if (r.type != MUX_S_ALIVE) {
        tun_error("master alive check failed: unexpected answer 0x%08x%s%s", r.type,
                  r.text[0] ? ": " : "", r.text);
        return -1;
    }
    *pid = (pid_t)r.value;
    return 0;
}

static int forward(int fd, ssh_buf *b, const tun_fwdspec *sp, int cancel, int print_port)
{
    uint32_t ftype = sp->kind == TUN_FWD_LOCAL    ? MUX_FWD_LOCAL
                     : sp->kind == TUN_FWD_REMOTE ? MUX_FWD_REMOTE
                                                  : MUX_FWD_DYNAMIC;
    const char *lhost = sp->listen_path ? sp->listen_path
                        : sp->listen_host == NULL ? ""
                        : *sp->listen_host == '\0' ? "*"
                                                   : sp->listen_host;
    const char *chost = sp->connect_path ? sp->connect_path : sp->connect_host ? sp->connect_host : "";
    ssh_buf body;
    ssh_buf_init(&body, MUX_PACKET_MAX, 0);
    ssh_buf_put_u32(&body, cancel ? MUX_C_CLOSE_FWD : MUX_C_OPEN_FWD);
    ssh_buf_put_u32(&body, ++rid_counter);
    ssh_buf_put_u32(&body, ftype);
    ssh_buf_put_cstring(&body, lhost);
    ssh_buf_put_u32(&body, sp->listen_path ? MUX_PORT_STREAMLOCAL : (uint32_t)sp->listen_port);
    ssh_buf_put_cstring(&body, chost);
    ssh_buf_put_u32(&body, sp->connect_path ? MUX_PORT_STREAMLOCAL : (uint32_t)sp->connect_port);
    ssh_buf_reset(b);
    ssh_buf_put_u32(b, (uint32_t)body.len);
    ssh_buf_put(b, ssh_buf_ptr(&body), body.len);
    ssh_buf_free(&body);
    reply r;
    if (send_packet(fd, b) != 0 || get_reply(fd, b, &r) != 0) {
        tun_error("master forwarding request failed: %s", master_gone_reason(errno));
        return -1;
    }
    char desc[320];
    tun_fwdspec_describe_listen(sp, desc, sizeof(desc));
    switch (r.type) {
    case MUX_S_OK:
        return 0;
    case MUX_S_REMOTE_PORT:
        tun_verbose("Allocated port %u for remote forward to %s:%d", r.value,
                    sp->connect_host ? sp->connect_host : "", sp->connect_port);
        if (print_port) {
            printf("%u\n", r.value);
            fflush(stdout);
        }
        return 0;
    case MUX_S_PERMISSION_DENIED:
        tun_error("Master refused forwarding request: %s", r.text);
        return -1;
    case MUX_S_FAILURE:
        tun_error("%s of %s failed: %s", cancel ? "cancellation" : "forwarding", desc, r.text);
        return -1;
    default:
        tun_error("unexpected response from master 0x%08x", r.type);
        return -1;
    }
}

static void put_pair(void *arg, const char *pair)
{
    ssh_buf_put_cstring(arg, pair);
}

static void env_strings(const tun_options *o, ssh_buf *body)
{
    tun_options_each_send_env(o, put_pair, body);
    for (int i = 0; i < o->n_set_env; i++)
        ssh_buf_put_cstring(body, o->set_env[i]);
}

static int session_run(int fd, ssh_buf *b, const tun_mux_client_args *a, int stdio)
{
    if (alive(fd, b, &master_pid) != 0)
        return 255;
    int in_fd = 0;
    if (a->no_stdin) {
        in_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (in_fd < 0)
            return 255;
    }
    ssh_buf body;
    ssh_buf_init(&body, MUX_PACKET_MAX, 0);
    uint32_t rid = ++rid_counter;
    if (stdio) {
        ssh_buf_put_u32(&body, MUX_C_NEW_STDIO_FWD);
        ssh_buf_put_u32(&body, rid);
        ssh_buf_put_cstring(&body, "");
        ssh_buf_put_cstring(&body, a->stdio_host);
        ssh_buf_put_u32(&body, (uint32_t)a->stdio_port);
    } else {
        const char *term = getenv("TERM");
        ssh_buf_put_u32(&body, MUX_C_NEW_SESSION);
        ssh_buf_put_u32(&body, rid);
        ssh_buf_put_cstring(&body, "");
        ssh_buf_put_u32(&body, (uint32_t)a->tty);
        /* As ssh's mux client: the master forwards the agent and X11 only
         * if it forwards them itself, and filters the escapes. */
        ssh_buf_put_u32(&body, a->o->forward_x11 > 0);
        ssh_buf_put_u32(&body, a->o->forward_agent > 0);
        ssh_buf_put_u32(&body, (uint32_t)a->subsystem);
        ssh_buf_put_u32(&body, a->o->escape_char >= 0 ? (uint32_t)a->o->escape_char
                                                      : 0xffffffffu);
        ssh_buf_put_cstring(&body, term ? term : "");
        ssh_buf_put_cstring(&body, a->command ? a->command : "");
        env_strings(a->o, &body);
    }
    ssh_buf_reset(b);
    ssh_buf_put_u32(b, (uint32_t)body.len);
    ssh_buf_put(b, ssh_buf_ptr(&body), body.len);
    ssh_buf_free(&body);
    if (send_packet(fd, b) != 0 || send_fd(fd, in_fd) != 0 || send_fd(fd, 1) != 0 ||
        (!stdio && send_fd(fd, 2) != 0)) {
        tun_error("cannot pass descriptors to the master: %s", strerror(errno));
        return 255;
    }
    if (a->no_stdin)
        close(in_fd);
    reply r;
    if (get_reply(fd, b, &r) != 0) {
        tun_error("read from master failed: %s", master_gone_reason(errno));
        return 255;
    }
    if (r.type == MUX_S_PERMISSION_DENIED) {
        tun_error("Master refused session request: %s", r.text);
        return 255;
    }
    if (r.type == MUX_S_FAILURE) {
        tun_error("%s request failed: %s", stdio ? "Stdio forwarding" : "session", r.text);
        return 255;
    }
    if (r.type != MUX_S_SESSION_OPENED || r.rid != rid) {
        tun_error("unexpected response from master 0x%08x", r.type);
        return 255;
    }
    uint32_t sid = r.value;
    int raw = 0;
    if (!stdio && a->tty && isatty(0))
        raw = tun_tty_raw(0) == 0;
    /* Stay until the master closes the socket; it sends the exit status
     * first.  Leaving early would end the session (possibly losing data). */
    int status = 255, seen = 0;
    for (;;) {
        if (get_reply(fd, b, &r) != 0) {
            if (got_terminate)
                break;
            break;
        }
        if (r.type == MUX_S_TTY_ALLOC_FAIL) {
            if (raw)
                tun_tty_restore();
            raw = 0;
        } else if (r.type == MUX_S_EXIT_MESSAGE && r.rid == sid && !seen) {
            status = (int)r.value;
            seen = 1;
        } else if (r.type == MUX_S_FAILURE) {
            tun_error("master returned error: %s", r.text);
        }
    }
    if (raw)
        tun_tty_restore();
    if (stdio)
        return got_terminate ? 255 : 0;
    if (got_terminate)
        status = 255;
    else if (!seen)
        tun_debug("Control master terminated unexpectedly");
    if (a->tty && a->o->log_level >= TUN_LOG_INFO)
        fprintf(stderr, "Shared connection to %s closed.\r\n", a->host);
    return status;
}

/* The master makes the descriptors we pass non-blocking (they are ours
 * too: the same terminal or pipe) and restores them when the session ends;
 * should it die first, we put the flags back ourselves. */
static int session(int fd, ssh_buf *b, const tun_mux_client_args *a, int stdio)
{
    int fl[3];
    for (int i = 0; i < 3; i++)
        fl[i] = fcntl(i, F_GETFL);
    int st = session_run(fd, b, a, stdio);
    for (int i = 2; i >= 0; i--)
        if (fl[i] >= 0)
            fcntl(i, F_SETFL, fl[i]);
    return st;
}

int tun_mux_client(const char *path, const tun_mux_client_args *a, int unlink_stale, int *status)
{
    if (tun_mux_check_path(path) != 0) {
        *status = 255;
        return 0;
    }
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
        int e = errno;
        close(fd);
        struct stat st;
        if (e == ECONNREFUSED && unlink_stale && lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
            /* a socket whose master is gone (never a file of some other kind) */
            tun_debug("Stale control socket %s, unlinking", path);
            unlink(path);
        } else if (e != ENOENT) {
            tun_debug("Control socket connect(%s): %s", path, strerror(e));
        }
        errno = e;
        return -1;
    }
    struct sigaction sa, old_int, old_term, old_hup, old_winch, old_pipe;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal; /* no SA_RESTART: reads return EINTR */
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    sigaction(SIGHUP, &sa, &old_hup);
    sigaction(SIGWINCH, &sa, &old_winch);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, &old_pipe);

    ssh_buf b;
    ssh_buf_init(&b, MUX_PACKET_MAX + 16, 0);
    int st = 255;
    reply r;
    pid_t pid;
    if (hello(fd, &b, path) != 0)
        goto out;
    switch (a->op) {
    case MUXOP_CHECK:
        if (alive(fd, &b, &pid) != 0)
            goto out;
        fprintf(stderr, "Master running (pid=%d)\r\n", (int)pid);
        /* An sshtun master also tells about its connections. */
        if (simple_request(fd, &b, MUX_C_SSHTUN_STATUS, &r) == 0 && r.type == MUX_S_SSHTUN_STATUS) {
            const char *nl = strchr(r.text, '\n');
            if (nl && nl[1])
                fprintf(stderr, "%s", nl + 1);
        }
        st = 0;
        break;
    case MUXOP_STATUS:
        if (simple_request(fd, &b, MUX_C_SSHTUN_STATUS, &r) != 0) {
            tun_error("master status request failed: %s", master_gone_reason(errno));
            goto out;
        }
        if (r.type != MUX_S_SSHTUN_STATUS) {
            if (alive(fd, &b, &pid) == 0)
                printf("Master running (pid=%d); it does not report status (not an sshtun "
                       "master)\n", (int)pid);
            st = 0;
            break;
        }
        printf("%s", r.text);
        st = 0;
        break;
    case MUXOP_EXIT:
        ssh_buf_reset(&b);
        tun_mux_put_simple(&b, MUX_C_TERMINATE, ++rid_counter);
        if (send_packet(fd, &b) != 0) {
            tun_error("master termination request failed: %s", master_gone_reason(errno));
            goto out;
        }
        if (get_reply(fd, &b, &r) != 0) {
            /* OpenSSH's master exits before its OK reaches us (its mux.c:
             * "exit happens too soon"); ssh takes the closed socket as
             * success, and so do we. */
            if (errno != EPIPE && errno != ECONNRESET) {
                tun_error("master termination request failed: %s", strerror(errno));
                goto out;
            }
            r.type = MUX_S_OK;
        }
        if (r.type != MUX_S_OK) {
            tun_error("Master refused termination request: %s", r.text);
            goto out;
        }
        if (a->o->log_level > TUN_LOG_QUIET)
            fprintf(stderr, "Exit request sent.\r\n");
        st = 0;
        break;
    case MUXOP_STOP:
        if (simple_request(fd, &b, MUX_C_STOP_LISTENING, &r) != 0) {
            tun_error("master stop listening request failed: %s", master_gone_reason(errno));
            goto out;
        }
        if (r.type != MUX_S_OK) {
            tun_error("Master refused stop listening request: %s", r.text);
            goto out;
        }
        if (a->o->log_level > TUN_LOG_QUIET)
            fprintf(stderr, "Stop listening request sent.\r\n");
        st = 0;
        break;
    case MUXOP_FORWARD:
    case MUXOP_CANCEL:
        st = 0;
        for (int i = 0; i < a->n_fwds; i++)
            if (forward(fd, &b, &a->fwds[i], a->op == MUXOP_CANCEL, a->op == MUXOP_FORWARD) != 0)
                st = 255;
        break;
    case MUXOP_SESSION:
    case MUXOP_STDIO:
        for (int i = 0; i < a->n_fwds; i++) {
            if (forward(fd, &b, &a->fwds[i], 0, 0) != 0) {
                tun_error("master forward request failed");
                goto out;
            }
        }
        st = session(fd, &b, a, a->op == MUXOP_STDIO);
        break;
    }
out:
    ssh_buf_free(&b);
    close(fd);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGHUP, &old_hup, NULL);
    sigaction(SIGWINCH, &old_winch, NULL);
    sigaction(SIGPIPE, &old_pipe, NULL);
    *status = st;
    return 0;
}
