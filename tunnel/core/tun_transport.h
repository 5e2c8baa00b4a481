/*
 * tun_transport.h - drives one ssh_conn over one wire on the libev loop.
 *
 * The wire (tun_wire.h) is a socket, a pair of pipes (ProxyCommand) or a
 * channel of another connection (a jump host).  Input goes straight into
 * the engine's input buffer (ssh_conn_input_space), output is handed to
 * the wire as an iovec list, waiting for the wire only after it took less
 * than offered, and one ev_timer follows ssh_conn_deadline().  When the
 * engine has ended (error or DISCONNECT) and its last bytes are out, the
 * `dead` callback runs once; the wire has been closed by then.
 */
#ifndef SSHTUN_TUN_TRANSPORT_H
#define SSHTUN_TUN_TRANSPORT_H

#include <ev.h>
#include <stdint.h>

#include "sshtun/conn.h"
#include "tun_trim.h"
#include "tun_wire.h"

typedef struct tun_transport tun_transport;

typedef struct tun_transport_cbs {
    /* The connection is over (err as ssh_conn_error()); the socket is
     * closed after this returns.  The ssh_conn is still the caller's. */
    void (*dead)(tun_transport *t, int err, void *arg);
    /* Pending output fell below the low-water mark after being above the
     * high one: local sources that were paused may resume. */
    void (*drained)(tun_transport *t, void *arg);
} tun_transport_cbs;

struct tun_transport {
    struct ev_loop *loop;
    ssh_conn *c;
    tun_wire *wire;
    tun_fdwire fdw; /* the wire of tun_transport_init(): a socket */
    ev_timer timer;
    tun_transport_cbs cbs;
    void *arg;
    int dead;
    int throttled; /* output above the high-water mark */
    int in_kick;
    int want_write; /* output is waiting for the wire */
    int closed;
    size_t high, low;
    uint64_t rtt_next; /* when to read the socket's RTT again; UINT64_MAX: never */
    tun_trim trim;     /* the engine's buffers, released when quiet */
};

/* Milliseconds on a monotonic clock: the engine's notion of "now". */
uint64_t tun_now_ms(void);

/* Run `c` over a socket `fd` (non-blocking), which the transport closes. */
void tun_transport_init(tun_transport *t, struct ev_loop *loop, int fd, ssh_conn *c,
                        const tun_transport_cbs *cbs, void *arg);
/* Run `c` over any wire; tun_transport_close() closes it (its memory stays
 * the caller's, to free after that). */
void tun_transport_init_wire(tun_transport *t, struct ev_loop *loop, tun_wire *w, ssh_conn *c,
                             const tun_transport_cbs *cbs, void *arg);
/* Call after queueing output or calling a resume function: writes what it
 * can now, re-arms watchers and the timer, and detects the end. */
void tun_transport_kick(tun_transport *t);
/* Is the engine's output above the high-water mark (pause local reads)? */
int tun_transport_throttled(const tun_transport *t);
/* Stop watchers and close the wire (idempotent). */
void tun_transport_close(tun_transport *t);

/* ---- for wires ----------------------------------------------------------------------- */

/* Where the next input bytes go: 0 with *p and *room (at least 16 KiB
 * unless the engine is short of its bound), SSH_ERR_AGAIN while the engine
 * can take nothing (stop until want_read), another error once it ended. */
int tun_transport_input_space(tun_transport *t, uint8_t **p, size_t *room);
/* `n` bytes were put at the space: the engine processes them now (its
 * callbacks run).  0, or the error that ended the connection. */
int tun_transport_input_commit(tun_transport *t, size_t n);
/* The wire's input ended (EOF, error, the carrying channel closed). */
void tun_transport_input_eof(tun_transport *t);
/* The wire can take output again (after want_write(1)). */
void tun_transport_writable(tun_transport *t);

#endif
