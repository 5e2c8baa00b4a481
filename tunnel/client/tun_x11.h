/*
 * tun_x11.h - X11 forwarding, the client's half (-X, -Y, ForwardX11,
 * ForwardX11Trusted, ForwardX11Timeout, XAuthLocation), as ssh does it:
 *
 *  - before the session, the cookie of the local display ($DISPLAY) is
 *    read with `xauth list`, or with ForwardX11Trusted no a new untrusted
 *    one is made (`xauth generate ... untrusted timeout`, valid for
 *    ForwardX11Timeout plus a minute) in a private temporary file;
 *  - the server gets a fake cookie of the same length (x11-req), never the
 *    real one;
 *  - each x11 channel the server opens is connected to the local display
 *    (its Unix socket, or TCP port 6000+N of a host), and the X client's
 *    first packet is checked: the protocol name and the fake cookie must
 *    be the ones sent, and the real cookie takes the fake one's place
 *    before anything reaches the display.  Anything else closes the
 *    channel ("X11 connection rejected because of wrong authentication").
 *    With ForwardX11Trusted no, connections after ForwardX11Timeout are
 *    refused.
 *
 * xauth runs as child processes watched from the loop (no shell: the
 * display name is checked and passed as an argument).
 */
#ifndef SSHTUN_TUN_X11_H
#define SSHTUN_TUN_X11_H

#include <ev.h>

#include "sshtun/conn.h"
#include "tun_chan.h"
#include "tun_options.h"
#include "tun_resolve.h"

typedef struct tun_x11 tun_x11;

/* Start getting the cookie when X11 forwarding is asked for (NULL when it
 * is not, or cannot be: no DISPLAY, messages as ssh's).  `ready` runs once
 * the cookie is there or the setup failed (tun_x11_ok). */
tun_x11 *tun_x11_start(struct ev_loop *loop, const tun_options *o, tun_resolver *res,
                       void (*ready)(void *arg), void *arg);
/* The setup is finished (ready has run or will not be needed). */
int tun_x11_done(const tun_x11 *x);
/* Finished and usable: the session may ask for forwarding with these. */
int tun_x11_ok(const tun_x11 *x);
const char *tun_x11_proto(const tun_x11 *x);
const char *tun_x11_fake_cookie(const tun_x11 *x); /* hex */
int tun_x11_screen(const tun_x11 *x);

/* An x11 channel from the server on `link` (engine channel_open
 * convention). */
int tun_x11_channel_open(tun_x11 *x, tun_link *link, uint32_t id, const ssh_channel_open_info *info,
                         const char **why);
/* X11 connections open now (for ~#). */
int tun_x11_active(const tun_x11 *x);
/* The connection `link` belongs to is gone: forget its X11 connections. */
void tun_x11_conn_lost(tun_x11 *x, tun_link *link);
void tun_x11_free(tun_x11 *x);

/* Check the X11 connection setup in buf[0..len) against proto and fake
 * and put `real` in the fake's place: 1 done, 0 need more bytes, -1
 * refused (`why` says why).  Exposed for the fuzzer and unit tests. */
int tun_x11_substitute(uint8_t *buf, size_t len, const char *proto, const uint8_t *fake,
                       const uint8_t *real, size_t cookie_len, const char **why);

#endif
