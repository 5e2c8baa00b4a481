/*
 * tun_socks.h - the server side of SOCKS4 (with 4a) and SOCKS5 (RFC 1928,
 * no authentication, CONNECT only), as a pure parser: bytes in, a request
 * or an error out, and the reply bytes to send.  Used by -D and by dynamic
 * remote forwards (-R port).
 */
#ifndef SSHTUN_TUN_SOCKS_H
#define SSHTUN_TUN_SOCKS_H

#include <stddef.h>
#include <stdint.h>

#include "sshtun/buf.h"

enum tun_socks_state { SOCKS_START = 0, SOCKS_V5_REQUEST, SOCKS_DONE, SOCKS_FAILED };

/* SOCKS5 reply codes (RFC 1928 section 6). */
#define SOCKS5_OK                 0x00
#define SOCKS5_GENERAL_FAILURE    0x01
#define SOCKS5_NOT_ALLOWED        0x02
#define SOCKS5_NET_UNREACHABLE    0x03
#define SOCKS5_HOST_UNREACHABLE   0x04
#define SOCKS5_CONN_REFUSED       0x05
#define SOCKS5_CMD_NOT_SUPPORTED  0x07
#define SOCKS5_ATYP_NOT_SUPPORTED 0x08

typedef struct tun_socks {
    enum tun_socks_state state;
    int version;    /* 4 or 5 once known */
    char host[256]; /* domain name or textual address, NUL-terminated */
    uint16_t port;
    const char *error; /* why it failed, for the log */
} tun_socks;

void tun_socks_init(tun_socks *s);
/* Consume what can be parsed of in[0..len); *used gets the bytes eaten.
 * Replies due now (the SOCKS5 method selection, error replies) are
 * appended to `reply`.  Returns the new state: SOCKS_DONE means a CONNECT
 * request is in s->host / s->port; SOCKS_FAILED means close after sending
 * `reply`. */
enum tun_socks_state tun_socks_input(tun_socks *s, const uint8_t *in, size_t len, size_t *used,
                                     ssh_buf *reply);
/* Append the final reply to a CONNECT: success, or the SOCKS5 failure code
 * `rep` (SOCKS4 knows only "rejected"). */
int tun_socks_reply(const tun_socks *s, int rep, ssh_buf *out);
/* Map an SSH_OPEN_* reason and its message to a SOCKS5 reply code. */
int tun_socks_code_for(uint32_t open_reason, const char *msg);

#endif
