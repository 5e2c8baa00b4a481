/*
 * pump.h - a client engine and a server engine wired together in memory,
 * under a fake clock, for unit tests.
 *
 * tp_pair_new() creates both sides with deterministic randomness; bytes move
 * between them only when the test calls tp_pump(), optionally in small
 * chunks to exercise partial reads.  Every callback is recorded in the
 * side's tp_side so tests can assert on what happened.  By default:
 *   - the client accepts the host key if it equals the server's,
 *   - auth_ready starts publickey authentication with the user key (or the
 *     method named in tp_side.auth_method),
 *   - the server accepts publickey for the user key, password "secret",
 *     keyboard-interactive with answer "secret",
 *   - the server accepts "session" and "direct-tcpip" opens and exec/env/
 *     pty-req/shell/subsystem requests,
 *   - received channel data is appended to the side's sink and consumed at
 *     once (unless `hold` is set).
 * Tests that need more control set the optional hooks of a tp_side; each is
 * called in addition to the recording (and, where it returns a value,
 * instead of the default decision).
 */
#ifndef SSHTUN_TEST_PUMP_H
#define SSHTUN_TEST_PUMP_H

#include "util.h"
#include "sshtun/conn.h"

#define TP_MAX_CH 64

typedef struct tp_pair tp_pair;

typedef struct tp_chan {
    int used;
    int open_result;    /* -1 pending, 0 ok, >0 failure reason */
    char open_msg[256];
    ssh_buf sink;       /* received data (stream 0) */
    ssh_buf sink_err;   /* received extended data (stream 1) */
    int eof, closed;
    int requests;       /* requests received */
    char last_req[64];
    char last_cmd[256];
    uint32_t exit_status;
    int got_exit_status;
    int req_ok, req_fail; /* replies to our requests */
    int writable;       /* channel_writable callbacks */
    int peer_closes;    /* channel_peer_close callbacks */
    int open_results;   /* channel_open_result callbacks */
    /* replies to our requests in arrival order: req_user and ok */
    void *res_user[32];
    int res_ok[32];
    int n_res;
} tp_chan;

typedef struct tp_side tp_side;

struct tp_side {
    tp_pair *pair;
    ssh_conn *c;
    int server;
    uint64_t rng;
    /* events */
    int disconnected;
    int disc_err;
    uint32_t disc_reason;
    char disc_msg[256];
    int kex_done;
    int auth_ready;
    int auth_success;
    int auth_failures;
    int auth_partial;
    int pk_ok;
    int banners;
    int kbdint_prompts;
    int hostkey_calls;
    char last_methods[256];
    int global_requests;
    int global_ok, global_fail;
    uint32_t global_port;
    /* replies to our global requests in arrival order */
    void *greply_user[32];
    int greply_ok[32];
    int n_greply;
    int kex_first;            /* kex_done callbacks with first set */
    int auth_requests;        /* server: auth_request callbacks */
    enum ssh_auth_method last_auth_method; /* client: method of the last result;
                                              server: of the last request */
    char last_key_alg[64];    /* server: key_alg of the last publickey request */
    int last_has_signature;   /* server: has_signature of the last publickey request */
    int deferred_decision;    /* server: what defer_auth put off */
    char banner[256];         /* client: last banner text */
    char kbd_name[64], kbd_instr[64], kbd_prompt[64]; /* client: last kbdint round */
    int kbd_echo;
    int sign_calls;           /* client: sign callbacks */
    char sign_alg[64];        /* client: alg of the last sign callback */
    ssh_buf sign_data;        /* client with defer_sign: the data to sign */
    int hk_sign_calls;        /* server: hostkey_sign callbacks (tp_hostkey_sign set) */
    char hk_sign_alg[64];
    uint8_t hk_sign_h[64];    /* server: the exchange hash to sign */
    size_t hk_sign_hlen;
    int debug_msgs;
    const char *log_grep;     /* count log lines containing this text in log_hits */
    int log_hits;
    /* behaviour switches */
    const char *auth_method; /* "publickey" (default), "password", "kbdint", "none",
                                "pkquery" (query first, then sign), "manual"
                                (auth_ready starts nothing) */
    const ssh_key *authorized_key; /* server: accepted user key (NULL: pair->userkey) */
    int defer_sign;          /* client: sign returns SSH_DEFERRED (data in sign_data) */
    const char *password;    /* client password / kbdint answer */
    int defer_hostkey;       /* client: return SSH_DEFERRED */
    int reject_hostkey;
    int defer_auth;          /* server: defer decisions */
    int hold;                /* do not consume received data */
    int refuse_open;         /* server: refuse channel opens with this reason */
    int defer_open;
    int defer_global;
    int hold_close;          /* channel_peer_close returns SSH_DEFERRED */
    /* optional hooks (NULL: default behaviour); `hook_ctx` is for the test */
    void *hook_ctx;
    int (*on_auth_request)(tp_side *s, const ssh_auth_request *r); /* returns the decision */
    /* after the recording; when set, answering PK_OK is left to it */
    void (*on_auth_result)(tp_side *s, const ssh_auth_result *r);
    /* returns what the channel_open callback returns (0, SSH_DEFERRED, -SSH_OPEN_*) */
    int (*on_channel_open)(tp_side *s, uint32_t id, const ssh_channel_open_info *info,
                           const char **why);
    int (*on_channel_request)(tp_side *s, uint32_t id, const ssh_channel_req *r);
    int (*on_global_request)(tp_side *s, const ssh_global_req *r, ssh_buf *reply);
    /* returns what channel_peer_close returns (instead of hold_close) */
    int (*on_peer_close)(tp_side *s, uint32_t id);
    /* replaces appending to the sink (consumption still follows `hold`) */
    void (*on_data)(tp_side *s, uint32_t id, int stream, const uint8_t *data, size_t len);
    tp_chan ch[TP_MAX_CH];
};

struct tp_pair {
    tp_side cli, srv;
    uint64_t now;
    ssh_key *hostkey;   /* server's (with private half) */
    ssh_key *userkey;   /* client's */
    size_t chunk;       /* max bytes per transfer step (0: unlimited) */
    int flip_bit_at;    /* corrupt the n-th byte sent by the client after KEX (-1: off) */
    uint64_t cli_sent;
};

/* How the server's host key signs in pairs created from now on: 0 the
 * engine signs itself (no hostkey_sign callback), 1 the callback signs at
 * once with the pair's host key, 2 the callback defers (the hash waits in
 * srv.hk_sign_h for the test to call ssh_conn_hostkey_signed()). */
extern int tp_hostkey_sign;

/* Create a pair.  `ccfg`/`scfg` may be NULL for defaults; the server's host
 * key and the client's user key are given (not owned). */
tp_pair *tp_pair_new(const ssh_conn_config *ccfg, const ssh_conn_config *scfg, ssh_key *hostkey,
                     ssh_key *userkey);
void tp_pair_free(tp_pair *p);
/* Start both sides (ident + KEXINIT). */
void tp_start(tp_pair *p);
/* Move bytes both ways until neither side has output (or `max_rounds`).
 * Returns the number of bytes moved. */
size_t tp_pump(tp_pair *p, int max_rounds);
/* Move bytes from one side's output into the other side's input. */
size_t tp_transfer(tp_pair *p, tp_side *from, tp_side *to);
/* Advance the fake clock and run both sides' timers. */
void tp_advance(tp_pair *p, uint64_t ms);
/* Open a session channel from the client and pump until it is answered;
 * returns the id or -1. */
int tp_open_session(tp_pair *p);
/* Pump until the client is authenticated (returns 0) or fails. */
int tp_connect(tp_pair *p);

/* Queue a well-formed packet of message `type` with body[len] on c, through
 * the engine's packet layer (encrypted with c's current keys; queued behind
 * a running key exchange like any other message of that type). */
void tp_send_raw(ssh_conn *c, uint8_t type, const void *body, size_t len);
/* Append to c's output a packet with payload[n] and `padlen` padding bytes,
 * protected with c's current outgoing keys (cipher, MAC, sequence number),
 * but with padding_length and packet_length as given: `plen` 0 means the
 * real 1 + n + padlen.  Lets tests craft packets the engine would never
 * build (short padding, unaligned or oversize lengths) that still carry a
 * valid MAC. */
void tp_inject_packet(ssh_conn *c, const uint8_t *payload, size_t n, size_t padlen, uint32_t plen);

/* Shared keys, generated once per process. */
ssh_key *tp_key(enum ssh_key_type t);
/* A second key of the same type, different from tp_key(t). */
ssh_key *tp_key_alt(enum ssh_key_type t);
/* The recorded state of channel `id` of a side (created on first use). */
tp_chan *tp_chan_of(tp_side *s, uint32_t id);

#endif
