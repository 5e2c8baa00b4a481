/*
 * tun_escape.h - ssh's escape sequences on a session's input (ssh(1)
 * ESCAPE CHARACTERS): the escape character (EscapeChar, -e; '~' by
 * default) typed at the start of a line, followed by
 *
 *   .   disconnect          B   send a BREAK        R   re-exchange keys
 *   ^Z  suspend sshtun      #   list connections    &   background
 *   V/v less/more logging   ?   help                C   command line
 *   ~   the escape character itself (any other character: both are sent)
 *
 * The filter sits between the local input and the channel: it removes the
 * escapes from the data and asks its owner to act.  Everything is done on
 * the event loop: the ~C command line is edited in raw mode by the filter
 * itself (no blocking read of the terminal, as ssh does), so forwarded
 * connections keep flowing while the user types a command.
 */
#ifndef SSHTUN_TUN_ESCAPE_H
#define SSHTUN_TUN_ESCAPE_H

#include <stddef.h>
#include <stdint.h>

/* What the owner does for the escapes.  Any hook may be NULL: the escape
 * is then "not available to multiplexed sessions" (ssh's words), except
 * `brk` and `rekey`, which are then silently skipped. */
typedef struct tun_escape_ops {
    void (*quit)(void *arg);       /* ~. (deferred by the owner: called from the filter) */
    void (*suspend)(void *arg);    /* ~^Z: stop this process, then resume */
    void (*background)(void *arg); /* ~& */
    void (*brk)(void *arg);        /* ~B */
    void (*rekey)(void *arg);      /* ~R */
    /* ~#: the connection list, CR LF line ends, into buf. */
    void (*list)(void *arg, char *buf, size_t len);
    /* ~C -L/-R/-D spec, or with `cancel` -KL/-KR/-KD spec: 0 (the
     * filter says "Forwarding port." / "Canceled forwarding."), or -1
     * with the reason in msg ("Bad local forwarding specification.").
     * NULL: the command line offers no forwards. */
    int (*forward)(void *arg, char kind, int cancel, const char *spec, char *msg, size_t msgsz);
    /* ~C !command (PermitLocalCommand); NULL: not offered. */
    void (*local)(void *arg, const char *command);
    int cmdline_enabled; /* EnableEscapeCommandline */
    int levels;          /* ~V/~v may change the log level (not a mux client) */
    void *arg;
} tun_escape_ops;

typedef struct tun_escape {
    int ch;          /* the escape character */
    int pending;     /* it was typed at a line start: the next decides */
    int last_was_cr; /* at a line start (1 at the beginning) */
    int in_cmdline;  /* ~C: editing a command line */
    int closed;      /* ~&: the input ends after what the filter returned */
    char line[512];
    size_t llen;
    int err_fd; /* where messages go (the session's stderr) */
    const tun_escape_ops *ops;
} tun_escape;

void tun_escape_init(tun_escape *e, int ch, int err_fd, const tun_escape_ops *ops);

/* Filter input[0..n) into out[0..n] (one byte more than the input at
 * most: an escape character held back from the previous call, sent with
 * the next one).  Returns the bytes to send; after ~& `closed` is set:
 * the input is to be treated as ended once they are sent. */
long tun_escape_filter(tun_escape *e, const uint8_t *in, size_t n, uint8_t *out);

/* Write text to the escape's message descriptor (blocking briefly if
 * needed: a terminal). */
void tun_escape_say(const tun_escape *e, const char *text);

#endif
