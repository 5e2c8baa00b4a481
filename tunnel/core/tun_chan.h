/*
 * tun_chan.h - the application side of one SSH channel.
 *
 * Every channel the programs open or accept carries a tun_chan as its
 * engine "ch_user"; the connection's engine callbacks dispatch to its ops.
 * Sessions, forwarded sockets and stdio forwards are all tun_pipe (see
 * tun_pipe.h), which bridge file descriptors and a channel with flow
 * control in both directions.
 */
#ifndef SSHTUN_TUN_CHAN_H
#define SSHTUN_TUN_CHAN_H

#include <stddef.h>
#include <stdint.h>

#include "sshtun/conn.h"

typedef struct tun_chan tun_chan;
struct tun_transport;

/* Something that waits for a global request reply: the connection's
 * global_reply callback calls fn for the req_user it was given. */
typedef struct tun_reqcb {
    void (*fn)(struct tun_reqcb *r, int ok, const uint8_t *data, size_t len);
} tun_reqcb;

/* One SSH connection as seen by its channels: the engine, the socket
 * transport that flushes it, and the channels whose local sources are
 * paused because the connection's output is backed up. */
typedef struct tun_link {
    ssh_conn *c;
    struct tun_transport *t;
    tun_chan *blocked;
} tun_link;

typedef struct tun_chan_ops {
    /* Our open was answered: reason 0 = confirmed. */
    void (*open_result)(tun_chan *ch, uint32_t reason, const char *msg);
    void (*data)(tun_chan *ch, int stream, const uint8_t *d, size_t n);
    void (*writable)(tun_chan *ch);
    void (*eof)(tun_chan *ch);
    /* The channel is gone (both CLOSEs); the object may be freed. */
    void (*closed)(tun_chan *ch);
    /* The peer's CLOSE came first: the engine's channel_peer_close
     * convention (0: answer now, SSH_DEFERRED: ssh_channel_close later).
     * Unset: 0. */
    int (*peer_close)(tun_chan *ch);
    int (*request)(tun_chan *ch, const ssh_channel_req *r);
    void (*request_result)(tun_chan *ch, int ok, void *req_user);
    /* The connection's output drained: resume reading local sources. */
    void (*resume)(tun_chan *ch);
} tun_chan_ops;

struct tun_chan {
    const tun_chan_ops *ops;
    tun_link *link;
    uint32_t id;
    int open;           /* confirmed and not yet closed */
    tun_chan *next_blocked; /* on the connection's list of paused sources */
    int blocked;
};

/* Put a channel on its link's paused list (once). */
void tun_link_block(tun_link *l, tun_chan *ch);
/* Remove it (when the channel goes away). */
void tun_link_unblock(tun_link *l, tun_chan *ch);
/* The output drained: resume every paused channel. */
void tun_link_resume_all(tun_link *l);
/* Flush the link's output now (after queueing from outside a callback). */
void tun_link_kick(tun_link *l);

/* The engine callbacks that dispatch channel events to tun_chan ops; a
 * program copies these into its ssh_callbacks. */
void tun_chan_install_callbacks(ssh_callbacks *cb);

#endif
