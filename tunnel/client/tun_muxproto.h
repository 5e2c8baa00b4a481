/*
 * tun_muxproto.h - OpenSSH's connection multiplexing protocol (PROTOCOL.mux,
 * version 4), as ssh(1) really speaks it (mux.c is the authority where the
 * document differs):
 *
 *  - every message is uint32 length, then a body starting with uint32 type;
 *  - NEW_SESSION's four flags are uint32, and the session's stdin, stdout
 *    and stderr follow the message as three separate 1-byte sendmsg() calls
 *    carrying SCM_RIGHTS (two for NEW_STDIO_FWD);
 *  - there is no MUX_S_OK after a session opens: SESSION_OPENED, then later
 *    EXIT_MESSAGE, then the master closes the connection;
 *  - a listen or connect port of (uint32)-2 means the host is a Unix path.
 *
 * This file only encodes and decodes; I/O is in tun_muxmaster.c and
 * tun_muxclient.c.
 */
#ifndef SSHTUN_TUN_MUXPROTO_H
#define SSHTUN_TUN_MUXPROTO_H

#include <stddef.h>
#include <stdint.h>

#include "sshtun/buf.h"

#define MUX_VERSION 4

#define MUX_MSG_HELLO         0x00000001u
#define MUX_C_NEW_SESSION     0x10000002u
#define MUX_C_ALIVE_CHECK     0x10000004u
#define MUX_C_TERMINATE       0x10000005u
#define MUX_C_OPEN_FWD        0x10000006u
#define MUX_C_CLOSE_FWD       0x10000007u
#define MUX_C_NEW_STDIO_FWD   0x10000008u
#define MUX_C_STOP_LISTENING  0x10000009u
#define MUX_C_PROXY           0x1000000fu
#define MUX_S_OK              0x80000001u
#define MUX_S_PERMISSION_DENIED 0x80000002u
#define MUX_S_FAILURE         0x80000003u
#define MUX_S_EXIT_MESSAGE    0x80000004u
#define MUX_S_ALIVE           0x80000005u
#define MUX_S_SESSION_OPENED  0x80000006u
#define MUX_S_REMOTE_PORT     0x80000007u
#define MUX_S_TTY_ALLOC_FAIL  0x80000008u
/* sshtun extension (an OpenSSH master answers MUX_S_FAILURE): a text
 * report of the master's connections, sessions and forwards. */
#define MUX_C_SSHTUN_STATUS   0x10000f01u
#define MUX_S_SSHTUN_STATUS   0x80000f01u

#define MUX_FWD_LOCAL   1
#define MUX_FWD_REMOTE  2
#define MUX_FWD_DYNAMIC 3
#define MUX_PORT_STREAMLOCAL 0xfffffffeu

#define MUX_PACKET_MAX (256u * 1024)
#define MUX_MAX_ENV    4096

/* A decoded client request (strings point into the packet, NUL-terminated
 * copies are made where noted). */
typedef struct tun_mux_req {
    uint32_t type;
    uint32_t rid;
    uint32_t version;       /* HELLO */
    /* NEW_SESSION */
    uint32_t want_tty, want_x11, want_agent, subsystem, escape_char;
    char *term;             /* malloc'd */
    char *command;          /* malloc'd (may be empty) */
    char **env;             /* malloc'd NAME=value strings */
    uint32_t n_env;
    /* OPEN_FWD / CLOSE_FWD / NEW_STDIO_FWD */
    uint32_t fwd_type;
    char *listen_host;      /* malloc'd */
    uint32_t listen_port;
    char *connect_host;     /* malloc'd */
    uint32_t connect_port;
} tun_mux_req;

/* Decode one packet body (without the length prefix).  Unknown types decode
 * to just type and rid (0 if absent) and return 1, so the caller can answer
 * MUX_S_FAILURE; malformed known types return -1.  Free with
 * tun_mux_req_free(). */
int tun_mux_parse(const uint8_t *body, size_t len, tun_mux_req *r);
void tun_mux_req_free(tun_mux_req *r);

/* Append a complete message (length prefix included). */
int tun_mux_put_hello(ssh_buf *b);
int tun_mux_put_simple(ssh_buf *b, uint32_t type, uint32_t rid);              /* OK, ALIVE_CHECK ... */
int tun_mux_put_u32(ssh_buf *b, uint32_t type, uint32_t rid, uint32_t value); /* ALIVE, OPENED, PORT, EXIT */
int tun_mux_put_text(ssh_buf *b, uint32_t type, uint32_t rid, const char *text); /* FAILURE, DENIED, STATUS */

#endif
