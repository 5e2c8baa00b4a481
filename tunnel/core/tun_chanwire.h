/*
 * tun_chanwire.h - a wire carried by a direct-tcpip channel of another SSH
 * connection (RFC 4254 section 7.2): how a jump host carries the
 * connection to the next host, inside the same process and loop.
 *
 * The inner connection's packets are the channel's data.  Flow control is
 * the channel's in both directions: the inner connection's output goes
 * out as far as the jump host's window and the outer connection's output
 * queue allow, and window is granted to the jump host only for bytes the
 * inner engine has taken, so the windows that the engine sizes to the
 * path (bandwidth times round trip, measured end to end) are what bounds
 * a bulk transfer, not a fixed buffer here.
 *
 * Calls into the outer connection from the inner one's output path are
 * deferred to the loop (ev_feed_event, so within the same loop iteration):
 * a wire must never flush the outer transport from inside the outer
 * engine's own callbacks, nor kick one transport from inside the other's
 * kick.
 */
#ifndef SSHTUN_TUN_CHANWIRE_H
#define SSHTUN_TUN_CHANWIRE_H

#include <ev.h>
#include <stdint.h>

#include "tun_chan.h"
#include "tun_wire.h"

typedef struct tun_chanwire tun_chanwire;

/* The channel was confirmed (reason 0: tun_chanwire_wire() is ready for a
 * transport) or refused (reason SSH_OPEN_*, msg the peer's text, maybe
 * empty; the wire then only awaits tun_chanwire_free). */
typedef void (*tun_chanwire_cb)(void *arg, tun_chanwire *w, uint32_t reason, const char *msg);

/* Open a direct-tcpip channel to host:port over `link`'s connection (which
 * must be authenticated).  NULL if the engine refused to open it now. */
tun_chanwire *tun_chanwire_open(struct ev_loop *loop, tun_link *link, const char *host,
                                unsigned port, tun_chanwire_cb cb, void *arg);
tun_wire *tun_chanwire_wire(tun_chanwire *w);
/* The carrying connection ended, or is about to be freed: the wire never
 * touches it again, and the transport on the wire sees the end of input. */
void tun_chanwire_lost(tun_chanwire *w);
/* Free the wire (after the transport on it was closed, if there was one);
 * a channel still open is closed and forgotten.  Safe from inside the
 * wire's own callbacks (the memory goes when they return). */
void tun_chanwire_free(tun_chanwire *w);
/* Bytes of the carrying channel waiting for the inner engine (tests). */
size_t tun_chanwire_pending(const tun_chanwire *w);

#endif
