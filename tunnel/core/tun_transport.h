/*
 * tun_transport.h - drives one ssh_conn over one socket on the libev loop.
 *
 * Reads go straight into the engine's input buffer (ssh_conn_input_space),
 * writes use writev on the engine's output with the write watcher armed only
 * after a short write, and one ev_timer follows ssh_conn_deadline().  When
 * the engine has ended (error or DISCONNECT) and its last bytes are out, the
 * `dead` callback runs once; the socket is then closed by the transport.
 */
#ifndef SSHTUN_TUN_TRANSPORT_H
#define SSHTUN_TUN_TRANSPORT_H

#include <ev.h>
#include <stdint.h>

#include "sshtun/conn.h"
#include "tun_trim.h"

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
    int fd;
    ev_io rio, wio;
    ev_timer timer;
    tun_transport_cbs cbs;
    void *arg;
    int dead;
    int throttled; /* output above the high-water mark */
    int in_kick;
    size_t high, low;
    uint64_t rtt_next; /* when to read the socket's RTT again; UINT64_MAX: never */
    tun_trim trim;     /* the engine's buffers, released when quiet */
};

/* Milliseconds on a monotonic clock: the engine's notion of "now". */
uint64_t tun_now_ms(void);

void tun_transport_init(tun_transport *t, struct ev_loop *loop, int fd, ssh_conn *c,
                        const tun_transport_cbs *cbs, void *arg);
/* Call after queueing output or calling a resume function: writes what it
 * can now, re-arms watchers and the timer, and detects the end. */
void tun_transport_kick(tun_transport *t);
/* Is the engine's output above the high-water mark (pause local reads)? */
int tun_transport_throttled(const tun_transport *t);
/* Stop watchers and close the socket (idempotent). */
void tun_transport_close(tun_transport *t);

#endif
