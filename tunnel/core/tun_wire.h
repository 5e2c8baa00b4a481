/*
 * tun_wire.h - what the bytes of one SSH connection travel over.
 *
 * A tun_transport (tun_transport.h) runs one engine over a wire.  Wires
 * come in three kinds, all behind the same small interface:
 *
 *  - a socket, read and written through one descriptor (the usual case);
 *  - a pair of descriptors, one read and one written (the stdout and stdin
 *    of a ProxyCommand);
 *  - a channel of another SSH connection (tun_chanwire.h): the packets of
 *    the inner connection are the data of a direct-tcpip channel of the
 *    outer one, which is how a chain of jump hosts runs in one process on
 *    one loop.
 *
 * The two directions are driven from opposite ends.  Output is pulled by
 * the transport: it hands the engine's pending bytes to writev(), and when
 * the wire took less than offered it calls want_write(1) and waits for the
 * wire to call tun_transport_writable().  Input is pushed by the wire: when
 * bytes arrive it moves them into the engine with tun_transport_input_space
 * / tun_transport_input_commit (an fd wire read(2)s straight into that
 * space), reports the end with tun_transport_input_eof(), and calls
 * tun_transport_kick() once a batch is in.  When the engine can take no
 * more (input_space says SSH_ERR_AGAIN: it waits for a host key answer or
 * a signature) the wire stops delivering until the transport calls
 * want_read(1) again.
 */
#ifndef SSHTUN_TUN_WIRE_H
#define SSHTUN_TUN_WIRE_H

#include <ev.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct tun_transport;
typedef struct tun_wire tun_wire;

typedef struct tun_wire_ops {
    /* Take what can be taken now of iov[0..n): the count (0 is "nothing
     * now"), or -1 with errno set when the wire is broken for good. */
    ssize_t (*writev)(tun_wire *w, const struct iovec *iov, int n);
    /* Output is waiting (on) or not: while on, tell the transport
     * (tun_transport_writable) when more can be taken. */
    void (*want_write)(tun_wire *w, int on);
    /* The engine can take input again: resume delivering (idempotent). */
    void (*want_read)(tun_wire *w);
    /* The path's round-trip time in microseconds (0: no sample yet), or -1
     * when this kind of wire cannot tell (the transport stops asking). */
    int (*rtt_us)(tun_wire *w, uint32_t *us);
    /* Stop delivering and release what the wire holds for the transport
     * (descriptors are closed; a channel gets its EOF and CLOSE).  Called
     * once, by tun_transport_close; the memory stays its owner's. */
    void (*close)(tun_wire *w);
} tun_wire_ops;

struct tun_wire {
    const tun_wire_ops *ops;
    struct tun_transport *t; /* set by tun_transport_init_wire */
};

/* ---- descriptors ----------------------------------------------------------------- */

/* A socket (in_fd == out_fd) or a pair of pipes; embedded in the transport
 * for the socket case so that a server connection costs no extra
 * allocation. */
typedef struct tun_fdwire {
    tun_wire base;
    struct ev_loop *loop;
    int in_fd, out_fd;
    int quickack; /* see tun_fdwire_quickack */
    ev_io rio, wio;
} tun_fdwire;

/* Read in_fd and write out_fd (the same descriptor for a socket; both
 * non-blocking).  The wire owns them: close() closes them. */
void tun_fdwire_init(tun_fdwire *w, struct ev_loop *loop, int in_fd, int out_fd);
/* A TCP socket: acknowledge what arrived at once (TCP_QUICKACK after each
 * batch of reads) instead of delaying the ACK.  For a bulk sender whose
 * peer answers in small packets with Nagle's algorithm on (sshd, for a
 * connection without a terminal): with the ACK delayed up to 40 ms, each
 * window adjustment waits for it whenever the sender pauses for the window
 * (measured through a jump host: 1 GiB up at 58-71 MB/s instead of
 * 139-195).  A descriptor that is not TCP turns it off at the first try. */
void tun_fdwire_quickack(tun_fdwire *w, int on);

#endif
