/*
 * tun_pipe.h - a channel bridged to local file descriptors, with flow
 * control both ways.
 *
 *  - local input (stdin, a socket) -> channel: read straight into the
 *    engine's output buffer (ssh_channel_send_reserve/commit) only while the
 *    peer's window is open and the connection's output is not backed up;
 *    EOF becomes SSH_MSG_CHANNEL_EOF.
 *  - channel -> local output (stdout/stderr, a socket): written at once; what
 *    the descriptor refuses is buffered and the write watcher armed; window
 *    is granted (ssh_channel_consumed) only for bytes actually written, so a
 *    slow local reader slows the remote sender and memory stays bounded by
 *    the window.  When the channel closes, what is buffered is still
 *    written out before the owner hears of the close.
 *
 * The same fd may serve as input and output (sockets).  A tun_pipe is the
 * tun_chan of its channel; owners customise behaviour through hooks.
 */
#ifndef SSHTUN_TUN_PIPE_H
#define SSHTUN_TUN_PIPE_H

#include <ev.h>

#include "tun_chan.h"
#include "tun_trim.h"

typedef struct tun_pipe tun_pipe;

typedef struct tun_pipe_hooks {
    void (*open_result)(tun_pipe *p, uint32_t reason, const char *msg);
    /* Local output failed (EPIPE...): the owner may tell the peer
     * (eow@openssh.com); further data is discarded. */
    void (*out_failed)(tun_pipe *p, int stream, int err);
    int (*request)(tun_pipe *p, const ssh_channel_req *r);
    void (*request_result)(tun_pipe *p, int ok, void *req_user);
    /* Peer EOF arrived and everything before it was written. */
    void (*drained_eof)(tun_pipe *p);
    /* The channel is closed and every byte it delivered has been written
     * to the local descriptors (or they failed); the owner frees the pipe
     * (tun_pipe_free).  Until then the pipe keeps writing on its own. */
    void (*closed)(tun_pipe *p);
    /* The peer's CLOSE came before ours (tun_chan_ops.peer_close). */
    int (*peer_close)(tun_pipe *p);
    /* Every local input reached EOF and our CHANNEL_EOF went out. */
    void (*inputs_done)(tun_pipe *p);
    /* Optional: the primary input passes through this (a client's terminal
     * with escape sequences).  in[0..n) was just read; what to send goes
     * to out (room for n + 1 bytes: the filter may have held a byte back
     * from the previous read); returns its length.  *ended set: the input
     * ends after these bytes.  Reads through a filter are small (4 KiB)
     * and copied: it is for keyboards, not bulk data. */
    long (*filter)(tun_pipe *p, const uint8_t *in, size_t n, uint8_t *out, int *ended);
} tun_pipe_hooks;

struct tun_pipe {
    tun_chan base;
    struct ev_loop *loop;
    const tun_pipe_hooks *hooks;
    void *owner;
    int in_fd, out_fd, err_fd;
    int in2_fd;    /* second input, sent as extended data (a child's stderr) */
    int is_socket;  /* shutdown(SHUT_WR) on peer EOF, close both on close */
    int auto_close; /* send CLOSE once both directions are done (forwards) */
    ev_io rin, rin2, wout, werr;
    ssh_buf pend[2];
    int reading;   /* input enabled by the owner */
    int in_eof, in2_eof, out_dead[2], peer_eof, eof_shut;
    int draining[2]; /* tun_pipe_drain_input */
    int hold;        /* tun_pipe_hold_output */
    int closing;     /* channel closed, output still being written */
    uint64_t bytes_in, bytes_out;
    tun_trim trim;   /* releases pend[] once it has been empty a while */
};

/* Initialise; fds may be -1 (no such direction).  The pipe does not start
 * reading until tun_pipe_start_input(). */
void tun_pipe_init(tun_pipe *p, struct ev_loop *loop, tun_link *link, int in_fd, int out_fd,
                   int err_fd, const tun_pipe_hooks *hooks, void *owner);
void tun_pipe_start_input(tun_pipe *p);
/* A second input read as extended data (stream 1), e.g. a server's child's
 * stderr; set before tun_pipe_start_input().  CHANNEL_EOF goes out once
 * both inputs are at EOF. */
void tun_pipe_set_input2(tun_pipe *p, int fd);
/* Stop reading input `which` (0, or 2 for the second) and close it: the
 * peer sent eow@openssh.com.  Counts as EOF of that input. */
void tun_pipe_drop_input(tun_pipe *p, int which);

/* The writer of input `which` is gone (a pty whose session process
 * exited while a background job may still hold it): send what can be read
 * now, then treat "nothing more to read" as EOF. */
void tun_pipe_drain_input(tun_pipe *p, int which);

/* Hold data from the channel in memory (bounded by the window we grant)
 * instead of writing it: for a server session whose process is not
 * running yet.  Releasing writes what was held and, if the peer's EOF came
 * meanwhile, passes it on. */
void tun_pipe_hold_output(tun_pipe *p, int hold);

/* Attach the local descriptors later (forwards that connect after the
 * channel exists).  Watchers must not be running. */
void tun_pipe_set_fds(tun_pipe *p, int in_fd, int out_fd);
/* The connection under the channel is gone (a tunnel that reconnects
 * goes on without it): from now on the pipe makes no engine calls and
 * uses `nolink` (a link without connection) instead of the dead one.
 * Input stops; what the channel delivered is still written out; then
 * `closed` runs, as after a CLOSE (possibly before this returns). */
void tun_pipe_conn_lost(tun_pipe *p, tun_link *nolink);
/* Write out whatever is buffered, blocking (used at exit). */
void tun_pipe_flush_blocking(tun_pipe *p);
/* Stop watchers and free buffers; closes fds if is_socket.  The pipe is
 * then inert (no descriptors); a second call does nothing more. */
void tun_pipe_free(tun_pipe *p);
/* Bytes buffered towards local outputs. */
size_t tun_pipe_pending(const tun_pipe *p);

extern const tun_chan_ops tun_pipe_ops;

#endif
