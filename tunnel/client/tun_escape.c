/*
 * tun_escape.c - escape sequences on a session's input (see tun_escape.h).
 *
 * The rules are ssh's (ssh(1) ESCAPE CHARACTERS, and its clientloop):
 * the escape character counts only right after a CR or LF (or as the very
 * first byte), is held back until the next byte decides, and an unknown
 * following byte sends both.  Messages go to the session's stderr with CR
 * LF line ends: the terminal is in raw mode.
 */
#include "tun_escape.h"
#include "tun_log.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void tun_escape_init(tun_escape *e, int ch, int err_fd, const tun_escape_ops *ops)
{
    memset(e, 0, sizeof(*e));
    e->ch = ch;
    e->last_was_cr = 1;
    e->err_fd = err_fd;
    e->ops = ops;
}

void tun_escape_say(const tun_escape *e, const char *text)
{
    size_t n = strlen(text), off = 0;
    /* The descriptor is non-blocking (the loop owns it); a terminal takes
     * a few hundred bytes at once, but wait a little rather than drop the
     * help text half-way. */
    for (int tries = 0; off < n && tries < 100;) {
        ssize_t w = write(e->err_fd, text + off, n - off);
        if (w > 0) {
            off += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return;
        struct pollfd pf = {.fd = e->err_fd, .events = POLLOUT};
        poll(&pf, 1, 10);
        tries++;
    }
}

static void sayf(const tun_escape *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sayf(const tun_escape *e, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    tun_escape_say(e, buf);
}

/* The escape character as ssh shows it in messages (itself: ssh prints
 * the byte, whatever it is). */
static char esc(const tun_escape *e)
{
    return (char)e->ch;
}

static void not_available(const tun_escape *e, const char *what)
{
    sayf(e, "%c%s escape not available to multiplexed sessions\r\n", esc(e), what);
}

static void help(const tun_escape *e)
{
    const tun_escape_ops *o = e->ops;
    sayf(e, "%c?\r\nSupported escape sequences:\r\n", esc(e));
    sayf(e, " %c%-3s - %s\r\n", esc(e), ".",
         o->background ? "terminate connection (and any multiplexed sessions)"
                       : "terminate session");
    sayf(e, " %c%-3s - %s\r\n", esc(e), "B", "send a BREAK to the remote system");
    if (o->forward && o->cmdline_enabled)
        sayf(e, " %c%-3s - %s\r\n", esc(e), "C", "open a command line");
    sayf(e, " %c%-3s - %s\r\n", esc(e), "R", "request rekey");
    if (o->levels && tun_log_to_stderr())
        sayf(e, " %c%-3s - %s\r\n", esc(e), "V/v", "decrease/increase verbosity (LogLevel)");
    if (o->suspend)
        sayf(e, " %c%-3s - %s\r\n", esc(e), "^Z", "suspend ssh");
    sayf(e, " %c%-3s - %s\r\n", esc(e), "#", "list forwarded connections");
    if (o->background)
        sayf(e, " %c%-3s - %s\r\n", esc(e), "&",
             "background ssh (when waiting for connections to terminate)");
    sayf(e, " %c%-3s - %s\r\n", esc(e), "?", "this message");
    sayf(e, " %c%c   - send the escape character by typing it twice\r\n", esc(e), esc(e));
    sayf(e, "(Note that escapes are only recognized immediately after newline.)\r\n");
}

/* ---- the ~C command line ------------------------------------------------------------------ */

static void cmdline_help(const tun_escape *e)
{
    static const char *const lines[] = {
        "Commands:",
        "      -L[bind_address:]port:host:hostport    Request local forward",
        "      -R[bind_address:]port:host:hostport    Request remote forward",
        "      -D[bind_address:]port                  Request dynamic forward",
        "      -KL[bind_address:]port                 Cancel local forward",
        "      -KR[bind_address:]port                 Cancel remote forward",
        "      -KD[bind_address:]port                 Cancel dynamic forward",
    };
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
        sayf(e, "%s\r\n", lines[i]);
    if (e->ops->local)
        sayf(e, "      !args                                  Execute local command\r\n");
}

/* One line typed after "ssh> ", as ssh's process_cmdline reads it. */
static void run_cmdline(tun_escape *e, char *s)
{
    const tun_escape_ops *o = e->ops;
    while (isspace((unsigned char)*s))
        s++;
    if (*s == '-')
        s++;
    if (*s == '\0')
        return;
    if (*s == 'h' || *s == 'H' || *s == '?') {
        cmdline_help(e);
        return;
    }
    if (*s == '!' && o->local) {
        o->local(o->arg, s + 1);
        return;
    }
    int cancel = 0;
    if (*s == 'K') {
        cancel = 1;
        s++;
    }
    char kind = *s;
    if (kind != 'L' && kind != 'R' && kind != 'D') {
        sayf(e, "Invalid command.\r\n");
        return;
    }
    s++;
    while (isspace((unsigned char)*s))
        s++;
    size_t l = strlen(s);
    while (l && isspace((unsigned char)s[l - 1]))
        s[--l] = '\0';
    char msg[512] = "";
    if (o->forward(o->arg, kind, cancel, s, msg, sizeof(msg)) == 0)
        sayf(e, "%s\r\n", cancel ? "Canceled forwarding." : "Forwarding port.");
    else
        sayf(e, "%s\r\n", msg[0] ? msg : "Port forwarding failed.");
}

/* A byte typed while the command line is open (raw mode: we echo and
 * edit ourselves). */
static void cmdline_byte(tun_escape *e, uint8_t c)
{
    switch (c) {
    case '\r':
    case '\n':
        e->in_cmdline = 0;
        e->line[e->llen] = '\0';
        tun_escape_say(e, "\r\n");
        run_cmdline(e, e->line);
        e->llen = 0;
        return;
    case 0x7f:
    case '\b':
        if (e->llen > 0) {
            e->llen--;
            tun_escape_say(e, "\b \b");
        }
        return;
    case 0x15: /* ^U */
        while (e->llen > 0) {
            e->llen--;
            tun_escape_say(e, "\b \b");
        }
        return;
    case 0x03: /* ^C, ^D, ESC: give up the line */
    case 0x04:
    case 0x1b:
        e->in_cmdline = 0;
        e->llen = 0;
        tun_escape_say(e, "\r\n");
        return;
    default:
        if (c < 0x20 || e->llen + 1 >= sizeof(e->line))
            return;
        e->line[e->llen++] = (char)c;
        char echo[2] = {(char)c, '\0'};
        tun_escape_say(e, echo);
    }
}

/* ---- the filter ------------------------------------------------------------------------------ */

/* The byte after an escape character: 1 when it was an escape (consumed),
 * 0 when both are to be sent, -1 when input ends here (~&). */
static int escaped(tun_escape *e, uint8_t c)
{
    const tun_escape_ops *o = e->ops;
    switch (c) {
    case '.':
        sayf(e, "%c.\r\n", esc(e));
        if (o->quit)
            o->quit(o->arg);
        return 1;
    case 'Z' - 64:
        if (o->suspend == NULL) {
            not_available(e, "^Z");
            return 1;
        }
        sayf(e, "%c^Z [suspend ssh]\r\n", esc(e));
        o->suspend(o->arg);
        return 1;
    case 'B':
        sayf(e, "%cB\r\n", esc(e));
        if (o->brk)
            o->brk(o->arg);
        return 1;
    case 'R':
        if (o->rekey)
            o->rekey(o->arg);
        return 1;
    case 'V':
    case 'v': {
        if (!o->levels) {
            char w[2] = {(char)c, '\0'};
            not_available(e, w);
            return 1;
        }
        if (!tun_log_to_stderr()) {
            sayf(e, "%c%c [Logging to syslog]\r\n", esc(e), c);
            return 1;
        }
        enum tun_log_level l = tun_log_get_level();
        if (c == 'V' && l > TUN_LOG_QUIET)
            l--;
        if (c == 'v' && l < TUN_LOG_DEBUG3)
            l++;
        tun_log_set_level(l);
        sayf(e, "%c%c [LogLevel %s]\r\n", esc(e), c, tun_log_level_name(l));
        return 1;
    }
    case '&':
        if (o->background == NULL) {
            not_available(e, "&");
            return 1;
        }
        o->background(o->arg);
        return -1;
    case '?':
        help(e);
        return 1;
    case '#': {
        char buf[8192] = "";
        sayf(e, "%c#\r\n", esc(e));
        if (o->list)
            o->list(o->arg, buf, sizeof(buf));
        tun_escape_say(e, buf);
        return 1;
    }
    case 'C':
        if (o->forward == NULL) {
            not_available(e, "C");
            return 1;
        }
        if (!o->cmdline_enabled) {
            sayf(e, "commandline disabled\r\n");
            return 1;
        }
        e->in_cmdline = 1;
        e->llen = 0;
        tun_escape_say(e, "\r\nssh> ");
        return 1;
    default:
        return 0;
    }
}

long tun_escape_filter(tun_escape *e, const uint8_t *in, size_t n, uint8_t *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n && !e->closed; i++) {
        uint8_t c = in[i];
        if (e->in_cmdline) {
            cmdline_byte(e, c);
            continue;
        }
        if (e->pending) {
            e->pending = 0;
            int r = escaped(e, c);
            if (r < 0) {
                /* ~&: as ssh, a ^D goes first (the remote shell at its
                 * prompt ends), then the input is closed. */
                out[o++] = 4;
                e->closed = 1;
                return (long)o;
            }
            if (r > 0)
                continue;
            /* Not an escape: the held-back character goes too, unless
             * this is the escape character itself (typed twice: one). */
            if (c != e->ch)
                out[o++] = (uint8_t)e->ch;
        } else if (e->last_was_cr && c == e->ch) {
            e->pending = 1;
            continue;
        }
        e->last_was_cr = c == '\r' || c == '\n';
        out[o++] = c;
    }
    return (long)o;
}
