/*
 * sshtun/conn.h - the I/O-free SSH-2 engine: one ssh_conn per connection.
 *
 * The engine implements the SSH transport (RFC 4253), user authentication
 * (RFC 4252) and connection protocol (RFC 4254) for both roles, without
 * touching a file descriptor, a clock or the network.  The application:
 *
 *   1. creates a connection with ssh_conn_new() and starts it with
 *      ssh_conn_start() (which queues our identification string and KEXINIT);
 *   2. reads bytes from its socket straight into the engine's input buffer
 *      (ssh_conn_input_space() + ssh_conn_input_commit(), or the copying
 *      ssh_conn_feed()); the engine decrypts them in place and reports what
 *      happened through callbacks;
 *   3. writes what ssh_conn_output() points at to the socket (writev) and
 *      reports how much went with ssh_conn_output_consumed();
 *   4. keeps one timer armed at ssh_conn_deadline() and calls
 *      ssh_conn_tick() when it fires (rekey by time, keepalives, login grace).
 *
 * Time is given as milliseconds from any monotonic origin; random bytes come
 * from the `rand` callback.  Callbacks may call the engine's API to queue
 * output (send data, open channels, reply) but must never call
 * ssh_conn_input_commit()/ssh_conn_feed()/ssh_conn_tick() or free the
 * connection; the resume calls (ssh_conn_hostkey_verified, ...) are safe
 * from anywhere once the callback that deferred has returned SSH_DEFERRED.
 *
 * Backpressure: ssh_channel_send*() never accepts more than the peer's
 * window; the engine grants window to the peer only for bytes the
 * application reports with ssh_channel_consumed(), i.e. bytes that really
 * left for their destination.
 */
#ifndef SSHTUN_CONN_H
#define SSHTUN_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h> /* struct iovec only */

#include "sshtun/buf.h"
#include "sshtun/err.h"
#include "sshtun/key.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ssh_conn ssh_conn;

enum ssh_role { SSH_ROLE_CLIENT = 0, SSH_ROLE_SERVER = 1 };

/* ---- algorithm defaults --------------------------------------------------- */

/* Supported and default algorithm lists (comma-separated, preference order;
 * the key exchange list in OpenSSH 10's order, post-quantum hybrids first).
 * "ssh-rsa" (SHA-1) and "ssh-rsa-cert-v01@openssh.com" are supported but
 * never in a default list.  Host key and public key algorithms list the
 * certificate algorithms first, as OpenSSH does (sshtun/cert.h). */
#define SSH_DEFAULT_KEX                                                                            \
    "mlkem768x25519-sha256,sntrup761x25519-sha512,sntrup761x25519-sha512@openssh.com,"             \
    "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,"        \
    "ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,"       \
    "diffie-hellman-group18-sha512,diffie-hellman-group14-sha256"
#define SSH_DEFAULT_HOSTKEY_ALGS                                                                   \
    "ssh-ed25519-cert-v01@openssh.com,ecdsa-sha2-nistp256-cert-v01@openssh.com,"                   \
    "ecdsa-sha2-nistp384-cert-v01@openssh.com,ecdsa-sha2-nistp521-cert-v01@openssh.com,"           \
    "rsa-sha2-512-cert-v01@openssh.com,rsa-sha2-256-cert-v01@openssh.com,"                         \
    "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,rsa-sha2-512,"        \
    "rsa-sha2-256"
#define SSH_DEFAULT_CIPHERS                                                                        \
    "chacha20-poly1305@openssh.com,aes128-gcm@openssh.com,aes256-gcm@openssh.com,aes128-ctr,"      \
    "aes192-ctr,aes256-ctr"
#define SSH_DEFAULT_MACS                                                                           \
    "hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha2-256,hmac-sha2-512"
#define SSH_DEFAULT_PUBKEY_ALGS SSH_DEFAULT_HOSTKEY_ALGS

/* 1 if the named key exchange method is a post-quantum/traditional hybrid
 * (mlkem768x25519-sha256, sntrup761x25519-sha512[@openssh.com]), else 0. */
int ssh_kex_is_pq(const char *name);

/* Which negotiated algorithm ssh_conn_alg() reports. */
enum ssh_alg_slot {
    SSH_ALG_KEX = 0,
    SSH_ALG_HOSTKEY,
    SSH_ALG_CIPHER_CTOS,
    SSH_ALG_CIPHER_STOC,
    SSH_ALG_MAC_CTOS,
    SSH_ALG_MAC_STOC,
    SSH_ALG_COMP_CTOS, /* "none", "zlib" or "zlib@openssh.com" */
    SSH_ALG_COMP_STOC,
    SSH_ALG_SLOTS
};

/* ---- configuration ---------------------------------------------------------- */

typedef struct ssh_conn_config {
    enum ssh_role role;
    /* Software version in our identification string "SSH-2.0-<ident>"
     * (NULL: "sshtun_<version>"). */
    const char *ident;

    /* Algorithm preference lists (NULL: defaults above).  Unknown names are
     * ignored; an empty effective list fails ssh_conn_new(). */
    const char *kex_algs;
    const char *hostkey_algs;
    const char *ciphers;
    const char *macs;
    /* Client: signature algorithms we may use for publickey auth.
     * Server: algorithms accepted in publickey auth and advertised in
     * server-sig-algs. */
    const char *pubkey_algs;
    /* Compression methods in order of preference: "none", "zlib",
     * "zlib@openssh.com" (NULL: client "none,zlib@openssh.com,zlib" -- as
     * OpenSSH's client without -C; server "none,zlib@openssh.com" -- as
     * sshd's "Compression yes").  See proto/comp.h. */
    const char *compression;

    /* Rekey limits (0: defaults: 1 GiB or less by cipher, 1 hour, 2^31
     * packets).  UINT64_MAX disables the time limit. */
    uint64_t rekey_bytes;
    uint64_t rekey_time_ms;

    /* Channel defaults: initial receive window and its ceiling for
     * auto-tuning (0: 2 MiB / 64 MiB), largest packet we accept (0: 32 KiB,
     * at most 256 KiB - 1 KiB) and the channel table size (0: 4096).
     * `window_budget` caps the sum of all channels' receive windows for
     * growth beyond their initial size (0: 128 MiB): initial windows are
     * always granted, but thousands of channels cannot each grow to
     * window_max. */
    uint32_t window;
    uint32_t window_max;
    uint32_t max_packet;
    uint32_t max_channels;
    uint32_t window_budget;

    /* Keepalives: after `alive_interval_ms` with nothing received, send
     * keepalive@openssh.com; after `alive_count_max` unanswered ones the
     * connection fails with SSH_ERR_TIMEOUT (0 interval: off). */
    uint64_t alive_interval_ms;
    uint32_t alive_count_max;

    /* Server: host keys with private halves (the array is copied, the keys
     * are not: they must outlive the connection), time to authenticate (0: 120 s; UINT64_MAX: off), and
     * failed attempts before disconnect (0: 6). */
    ssh_key *const *host_keys;
    size_t n_host_keys;
    uint64_t login_grace_ms;
    uint32_t max_auth_tries;
    /* Server: methods listed in USERAUTH_FAILURE (NULL: "publickey"). */
    const char *auth_methods;

    /* Client: maximum number of lines before the server's identification
     * (0: 1024). */
    uint32_t max_banner_lines;

    /* Highest level of the lines given to the log callback (0: 2).  Level
     * 3 traces every packet sent and received ("send packet: type 94"),
     * so it is off unless asked for. */
    int log_level;
} ssh_conn_config;

/* Set every field of `cfg` to its default (role client). */
void ssh_conn_config_init(ssh_conn_config *cfg, enum ssh_role role);

/* ---- authentication types -------------------------------------------------- */

enum ssh_auth_method {
    SSH_AUTH_NONE = 0,
    SSH_AUTH_PASSWORD,
    SSH_AUTH_PUBLICKEY,
    SSH_AUTH_KBDINT,
};

/* Client: outcome of one authentication attempt. */
enum ssh_auth_status {
    SSH_AUTH_SUCCESS = 0, /* authenticated: channels may be opened */
    SSH_AUTH_FAILURE,     /* rejected; `methods` lists what may continue */
    SSH_AUTH_PARTIAL,     /* accepted, but more methods are required */
    SSH_AUTH_PK_OK,       /* publickey query accepted: sign with this key */
};

typedef struct ssh_auth_result {
    enum ssh_auth_status status;
    enum ssh_auth_method method; /* the method the result answers */
    const char *methods;         /* FAILURE/PARTIAL: methods that can continue */
} ssh_auth_result;

/* Client: a keyboard-interactive round (RFC 4256 section 3.2). */
typedef struct ssh_kbdint_prompt {
    const char *name;
    const char *instruction;
    uint32_t n_prompts;
    const char *const *prompts;
    const int *echo;
} ssh_kbdint_prompt;

/* Server: an authentication request to decide on. */
typedef struct ssh_auth_request {
    const char *user;
    enum ssh_auth_method method;
    /* PASSWORD */
    const char *password; /* NUL-terminated; wiped after the callback */
    /* PUBLICKEY: the key (public) and its algorithm.  `has_signature` is 0
     * for a query ("would you accept this key?") and 1 when the engine has
     * already verified a valid signature: then accepting authenticates. */
    const ssh_key *key;
    const char *key_alg;
    int has_signature;
    /* With has_signature: the signature blob and the exact data it signs
     * (RFC 4252 section 7), so that a privilege-separated server can have
     * its privileged side verify them again rather than trust the caller.
     * Valid during the callback only: copy them before deferring. */
    const uint8_t *signature;
    size_t signature_len;
    const uint8_t *signed_data;
    size_t signed_len;
    /* KBDINT: 0 responses on the first request, then the user's answers. */
    uint32_t n_responses;
    const char *const *responses;
    const char *submethods;
} ssh_auth_request;

/* Server: what the application decides. */
enum ssh_auth_decision {
    SSH_AUTH_ACCEPT = 0,  /* success (or PK_OK for a publickey query) */
    SSH_AUTH_REJECT = -1, /* failure */
    SSH_AUTH_PARTIAL_OK = 2,   /* success, but more methods needed: the
                                  application has updated auth_methods */
    SSH_AUTH_CHALLENGE = 3,    /* KBDINT: the application called
                                  ssh_auth_kbdint_challenge() */
    SSH_AUTH_DEFER = SSH_DEFERRED, /* decide later: ssh_auth_decide() */
};

/* ---- channel types ----------------------------------------------------------- */

/* Channel open reason codes (RFC 4254 section 5.1). */
#define SSH_OPEN_ADMINISTRATIVELY_PROHIBITED 1
#define SSH_OPEN_CONNECT_FAILED              2
#define SSH_OPEN_UNKNOWN_CHANNEL_TYPE        3
#define SSH_OPEN_RESOURCE_SHORTAGE           4

/* Data stream of channel data: 0 normal, 1 stderr (SSH_EXTENDED_DATA_STDERR). */
#define SSH_STREAM_STDOUT 0
#define SSH_STREAM_STDERR 1

enum ssh_channel_kind {
    SSH_CHAN_OTHER = 0,
    SSH_CHAN_SESSION,
    SSH_CHAN_DIRECT_TCPIP,
    SSH_CHAN_FORWARDED_TCPIP,
    SSH_CHAN_DIRECT_STREAMLOCAL,    /* direct-streamlocal@openssh.com */
    SSH_CHAN_FORWARDED_STREAMLOCAL, /* forwarded-streamlocal@openssh.com */
};

/* A channel open, incoming (parsed from CHANNEL_OPEN) or outgoing. */
typedef struct ssh_channel_open_info {
    enum ssh_channel_kind kind;
    const char *type; /* channel type name */
    /* direct-tcpip: host/port to connect to, orig_* the originator.
     * forwarded-tcpip: host/port = the address that was connected,
     * orig_* the originator.  streamlocal: `path`. */
    const char *host;
    uint32_t port;
    const char *orig_host;
    uint32_t orig_port;
    const char *path;
    /* Type-specific bytes of an unknown type (incoming only). */
    const uint8_t *extra;
    size_t extra_len;
} ssh_channel_open_info;

/* A channel request, incoming or outgoing (RFC 4254 sections 6.2-6.10). */
typedef struct ssh_channel_request {
    const char *type;
    int want_reply;
    /* exec: command; subsystem: name; env: name=value; signal/exit-signal:
     * signal name without "SIG"; pty-req: term. */
    const char *command;
    size_t command_len; /* exec commands may hold any byte */
    const char *name;
    const char *value;
    const char *term;
    uint32_t cols, rows, width_px, height_px;
    const uint8_t *modes; /* pty-req encoded terminal modes */
    size_t modes_len;
    uint32_t exit_status;
    int core_dumped;
    const char *error_msg;
    /* Raw type-specific bytes (incoming only). */
    const uint8_t *data;
    size_t data_len;
} ssh_channel_req;

/* A global request (RFC 4254 section 4), incoming. */
typedef struct ssh_global_request {
    const char *name;
    int want_reply;
    /* tcpip-forward / cancel-tcpip-forward: address and port;
     * streamlocal-forward@openssh.com / cancel-: path. */
    const char *address;
    uint32_t port;
    const char *path;
    const uint8_t *data; /* raw request-specific bytes */
    size_t data_len;
} ssh_global_req;

/* Answers of the channel_request and global_request callbacks. */
#define SSH_REQUEST_FAILURE 0
#define SSH_REQUEST_SUCCESS 1
#define SSH_REQUEST_DEFER   2

/* ---- callbacks ----------------------------------------------------------------- */

typedef struct ssh_callbacks {
    /* Required: fill buf with n cryptographically random bytes. */
    void (*rand)(void *user, uint8_t *buf, size_t n);

    /* Optional: a line for the debug log (level 1..3, up to
     * ssh_conn_config.log_level) - no secrets in it. */
    void (*log)(ssh_conn *c, int level, const char *msg, void *user);

    /* Client: verify the server's host key (its signature over the exchange
     * hash has already been checked).  Return 0 to accept, a negative value
     * to refuse (SSH_ERR_HOSTKEY_REJECTED goes on the wire) or SSH_DEFERRED
     * and call ssh_conn_hostkey_verified() later.  Required for clients. */
    int (*hostkey)(ssh_conn *c, const ssh_key *key, void *user);

    /* Server, optional: sign the exchange hash `h` with host key `key`
     * (which then needs only its public half: the private one may live in
     * another process) using `alg`; append the SSH signature blob (string
     * alg, string sig) to `sig`.  Return 0, a negative error, or
     * SSH_DEFERRED and call ssh_conn_hostkey_signed() later.  Unset: the
     * engine signs with `key` itself. */
    int (*hostkey_sign)(ssh_conn *c, const ssh_key *key, const char *alg, const uint8_t *h,
                        size_t hlen, ssh_buf *sig, void *user);

    /* A key exchange finished (`first` for the initial one). */
    void (*kex_done)(ssh_conn *c, int first, void *user);

    /* The connection ended: the peer sent DISCONNECT (err ==
     * SSH_ERR_DISCONNECTED, reason/msg from the peer) or a fatal error
     * happened (reason/msg we sent, if any).  Called once. */
    void (*disconnect)(ssh_conn *c, int err, uint32_t reason, const char *msg, void *user);

    /* Peer's SSH_MSG_DEBUG with always_display set. */
    void (*debug_msg)(ssh_conn *c, const char *msg, void *user);

    /* -- client authentication -- */
    /* The server accepted the ssh-userauth service: start authenticating. */
    void (*auth_ready)(ssh_conn *c, void *user);
    void (*auth_banner)(ssh_conn *c, const char *msg, void *user);
    void (*auth_result)(ssh_conn *c, const ssh_auth_result *r, void *user);
    /* Sign `data` with the private half of `key` using `alg`; append the SSH
     * signature blob (string alg, string sig) to `sig`.  Return 0, a
     * negative error, or SSH_DEFERRED and call ssh_auth_sign_done(). */
    int (*sign)(ssh_conn *c, const ssh_key *key, const char *alg, const uint8_t *data,
                size_t len, ssh_buf *sig, void *user);
    /* Answer with ssh_auth_kbdint_respond() (now or later). */
    void (*kbdint_prompt)(ssh_conn *c, const ssh_kbdint_prompt *p, void *user);

    /* -- server authentication -- */
    /* Decide on a request: return an ssh_auth_decision. */
    int (*auth_request)(ssh_conn *c, const ssh_auth_request *r, void *user);
    /* Authentication completed for `user`. */
    void (*auth_success)(ssh_conn *c, const char *user, void *user_data);

    /* -- channels -- */
    /* Incoming CHANNEL_OPEN.  Return 0 to accept (ssh_channel_set_user()
     * may attach a pointer first), SSH_DEFERRED to answer later with
     * ssh_channel_open_confirm()/ssh_channel_open_fail(), or a positive
     * SSH_OPEN_* reason ... as a negative number (-SSH_OPEN_*) to refuse
     * with that reason and text `*why` (static or owned by the app). */
    int (*channel_open)(ssh_conn *c, uint32_t id, const ssh_channel_open_info *info,
                        const char **why, void *user);
    /* Our CHANNEL_OPEN was answered: reason 0 = confirmed, otherwise the
     * SSH_OPEN_* code and the peer's text.  On failure the channel is gone
     * after this callback. */
    void (*channel_open_result)(ssh_conn *c, uint32_t id, uint32_t reason, const char *msg,
                                void *ch_user);
    /* Data arrived (pointer valid during the call only).  Report with
     * ssh_channel_consumed() when the bytes have left. */
    void (*channel_data)(ssh_conn *c, uint32_t id, int stream, const uint8_t *data, size_t len,
                         void *ch_user);
    /* The peer's window grew: sending may resume. */
    void (*channel_writable)(ssh_conn *c, uint32_t id, void *ch_user);
    void (*channel_eof)(ssh_conn *c, uint32_t id, void *ch_user);
    /* The channel is closed on both sides and freed: `id` is invalid after
     * this call (and may be reused by a later open). */
    void (*channel_closed)(ssh_conn *c, uint32_t id, void *ch_user);
    /* The peer sent CLOSE before we did.  The application may still send
     * requests that want no reply (a server's exit-status, as sshd does
     * when a client closes first), now or - returning SSH_DEFERRED, which
     * holds our CLOSE - later, and then calls ssh_channel_close(), which
     * sends CLOSE and frees the channel.  Returning 0 answers with our
     * CLOSE at once (channel_closed follows).  Unset: 0. */
    int (*channel_peer_close)(ssh_conn *c, uint32_t id, void *ch_user);
    /* Incoming channel request.  Return SSH_REQUEST_SUCCESS,
     * SSH_REQUEST_FAILURE, or SSH_REQUEST_DEFER and call
     * ssh_channel_request_reply() later (replies keep the order of
     * requests). */
    int (*channel_request)(ssh_conn *c, uint32_t id, const ssh_channel_req *r,
                           void *ch_user);
    /* Reply to one of our requests sent with want_reply, in order. */
    void (*channel_request_result)(ssh_conn *c, uint32_t id, int ok, void *req_user,
                                   void *ch_user);

    /* -- global requests -- */
    /* Incoming global request (keepalive@openssh.com is answered by the
     * engine).  Return SSH_REQUEST_SUCCESS (the app may append reply data to
     * `reply`, e.g. the allocated port), SSH_REQUEST_FAILURE or
     * SSH_REQUEST_DEFER plus ssh_global_request_reply().  Unset: every
     * request is refused. */
    int (*global_request)(ssh_conn *c, const ssh_global_req *r, ssh_buf *reply, void *user);
    /* Reply to our ssh_global_request(), in order; `data` is the reply's
     * request-specific bytes (e.g. uint32 port for tcpip-forward port 0). */
    void (*global_reply)(ssh_conn *c, int ok, const uint8_t *data, size_t len, void *req_user);
} ssh_callbacks;

/* ---- life cycle --------------------------------------------------------------- */

/* Create a connection; `cfg` and `cb` are copied (strings too).  Returns 0,
 * SSH_ERR_ARGUMENT (e.g. a server without host keys, no usable algorithm)
 * or SSH_ERR_ALLOC. */
int ssh_conn_new(ssh_conn **out, const ssh_conn_config *cfg, const ssh_callbacks *cb,
                 void *user);
void ssh_conn_free(ssh_conn *c);

/* Queue the identification string and our KEXINIT. */
int ssh_conn_start(ssh_conn *c, uint64_t now_ms);

void *ssh_conn_get_user(const ssh_conn *c);

/* ---- input -------------------------------------------------------------------- */

/* Where to put the next bytes from the socket: *p, up to *n bytes (at least
 * `want`, which should be >= 16 KiB for throughput; 0: 64 KiB). */
int ssh_conn_input_space(ssh_conn *c, size_t want, uint8_t **p, size_t *n);
/* `n` bytes were written at the space's pointer: process them.  Returns 0,
 * or the fatal error that ended the connection (the disconnect callback has
 * run; flush the output, which may hold our DISCONNECT, then close). */
int ssh_conn_input_commit(ssh_conn *c, size_t n, uint64_t now_ms);
/* Copying convenience: input_space + memcpy + input_commit. */
int ssh_conn_feed(ssh_conn *c, const uint8_t *data, size_t n, uint64_t now_ms);
/* Can the engine take more input now?  0 after the end, or while its input
 * buffer is full because processing waits for a deferred answer. */
int ssh_conn_want_input(const ssh_conn *c);
/* The socket reached EOF: fails the connection with SSH_ERR_CONN_LOST unless
 * it already ended. */
int ssh_conn_input_eof(ssh_conn *c);

/* ---- output ------------------------------------------------------------------- */

/* Fill up to `max` iovecs with pending output bytes; returns the count. */
size_t ssh_conn_output(ssh_conn *c, struct iovec *iov, size_t max);
/* `n` bytes of the output were written. */
void ssh_conn_output_consumed(ssh_conn *c, size_t n);
/* Pending output bytes: stop feeding channel data from local sockets while
 * this is high (the socket is slower than the sources). */
size_t ssh_conn_output_pending(const ssh_conn *c);

/* Release the memory of the connection's buffers that hold nothing now
 * (input, output, the queue used during key exchange): they grow for a
 * burst and would otherwise keep that size for the connection's life.
 * The next read or packet allocates again.  Call it when the connection
 * has been quiet for a while, never between ssh_conn_input_space() and
 * ssh_conn_input_commit().  Returns the bytes released. */
size_t ssh_conn_trim(ssh_conn *c);

/* ---- timers ------------------------------------------------------------------- */

/* Next absolute time (ms) at which ssh_conn_tick() must be called;
 * UINT64_MAX if none. */
uint64_t ssh_conn_deadline(const ssh_conn *c);
int ssh_conn_tick(ssh_conn *c, uint64_t now_ms);
/* A hint for the path's round-trip time in microseconds (a TCP socket's
 * TCP_INFO tcpi_rtt, say), 0 when unknown; the caller refreshes it now and
 * then.  The engine measures the round trip itself, end to end at the SSH
 * layer (keepalive@openssh.com requests sent when authentication succeeds
 * and again after a pause in the traffic, so that no queue of data delays
 * their answers; the least of the recent samples counts): a relay, a jump
 * host or a ProxyCommand in between makes the first TCP hop's figure
 * meaningless.  The hint is used before the first measurement and to
 * refine one below the millisecond clock's resolution.
 *
 * Receive windows grow only as far as the observed bandwidth times the
 * round trip needs: every two round trips, a window whose half is less than
 * the data delivered per round trip doubles (up to window_max and the
 * connection's window_budget), while the application keeps up; on a short
 * path windows stay at their initial size, which spares the peer from
 * buffering megabytes it has no use for.  A channel idle for a second goes
 * back to its initial window.  With no round trip known, 100 ms is
 * assumed. */
void ssh_conn_set_rtt(ssh_conn *c, uint32_t rtt_us);
/* The round trip (microseconds) the engine sizes windows for: the measured
 * one, else the hint, 0 when neither is known. */
uint32_t ssh_conn_rtt(const ssh_conn *c);

/* ---- state -------------------------------------------------------------------- */

enum ssh_conn_state {
    SSH_STATE_HANDSHAKE = 0, /* identification and first key exchange */
    SSH_STATE_AUTH,          /* user authentication */
    SSH_STATE_OPEN,          /* authenticated: connection protocol */
    SSH_STATE_CLOSED,        /* ended (see ssh_conn_error()) */
};
enum ssh_conn_state ssh_conn_state(const ssh_conn *c);
/* The error that closed the connection, 0 while it is alive. */
int ssh_conn_error(const ssh_conn *c);
/* Negotiated algorithm (NULL before the first KEX). */
const char *ssh_conn_alg(const ssh_conn *c, enum ssh_alg_slot slot);
/* Peer's identification string without CR LF (NULL until received). */
const char *ssh_conn_peer_ident(const ssh_conn *c);
/* Server's host key (client, after KEX) - owned by the connection. */
const ssh_key *ssh_conn_hostkey(const ssh_conn *c);
/* server-sig-algs from the server's EXT_INFO (NULL if none). */
const char *ssh_conn_server_sig_algs(const ssh_conn *c);
/* Whether strict KEX is in force. */
int ssh_conn_strict_kex(const ssh_conn *c);
/* Session identifier (the first exchange hash). */
const uint8_t *ssh_conn_session_id(const ssh_conn *c, size_t *len);
/* Counters since the connection started. */
typedef struct ssh_conn_stats {
    uint64_t bytes_in, bytes_out;     /* on the wire */
    uint64_t packets_in, packets_out; /* all packets */
    uint32_t kex_count;               /* completed key exchanges */
    uint32_t channels_open;
} ssh_conn_stats;
void ssh_conn_get_stats(const ssh_conn *c, ssh_conn_stats *st);

/* ---- control ------------------------------------------------------------------- */

/* Client: answer a deferred host key check (ok != 0 accepts). */
int ssh_conn_hostkey_verified(ssh_conn *c, int ok);
/* Server: the deferred signature over the exchange hash (the SSH
 * signature blob: string alg, string sig), or NULL/0 when it could not be
 * made (the connection then fails). */
int ssh_conn_hostkey_signed(ssh_conn *c, const uint8_t *sig, size_t len);
/* Start a key re-exchange now (no-op if one is running). */
int ssh_conn_rekey(ssh_conn *c);
/* Send DISCONNECT (reason SSH_DISCONNECT_*) and close: the output then
 * holds the last bytes to write. */
int ssh_conn_disconnect(ssh_conn *c, uint32_t reason, const char *msg);
/* Send SSH_MSG_IGNORE with `n` random bytes (traffic padding, tests). */
int ssh_conn_send_ignore(ssh_conn *c, size_t n);

/* ---- client authentication ------------------------------------------------------ */
/* Each starts one attempt; its outcome arrives through auth_result (or
 * kbdint_prompt / sign).  SSH_ERR_STATE if not ready or another attempt is
 * outstanding. */

int ssh_auth_none(ssh_conn *c, const char *user);
int ssh_auth_password(ssh_conn *c, const char *user, const char *password);
/* publickey: `key` needs only its public half.  With `sign` == 0 a query is
 * sent (answer: PK_OK or FAILURE); with `sign` != 0 the engine builds the
 * data to sign and calls the sign callback.  The signature algorithm is
 * chosen by the engine: the key type, or for RSA rsa-sha2-512/256 as allowed
 * by server-sig-algs and pubkey_algs. */
int ssh_auth_publickey(ssh_conn *c, const char *user, const ssh_key *key, int sign);
/* Resume a deferred signature (sig: the SSH signature blob; NULL/0 fails
 * the attempt). */
int ssh_auth_sign_done(ssh_conn *c, const uint8_t *sig, size_t len);
int ssh_auth_kbdint(ssh_conn *c, const char *user, const char *submethods);
int ssh_auth_kbdint_respond(ssh_conn *c, uint32_t n, const char *const *responses);
/* The signature algorithm the engine would use for `key`. */
const char *ssh_auth_pubkey_alg(const ssh_conn *c, const ssh_key *key);

/* ---- server authentication ------------------------------------------------------- */

/* Answer a deferred auth_request (an ssh_auth_decision). */
int ssh_auth_decide(ssh_conn *c, int decision);
/* Set the method list sent in failures (e.g. after partial success). */
int ssh_auth_set_methods(ssh_conn *c, const char *methods);
/* Send a banner (server, before success). */
int ssh_auth_banner(ssh_conn *c, const char *text);
/* KBDINT: send an INFO_REQUEST (from the auth_request callback returning
 * SSH_AUTH_CHALLENGE, or before ssh_auth_decide(c, SSH_AUTH_CHALLENGE)). */
int ssh_auth_kbdint_challenge(ssh_conn *c, const char *name, const char *instruction,
                              uint32_t n, const char *const *prompts, const int *echo);
/* Authenticated user name (NULL before success). */
const char *ssh_auth_user(const ssh_conn *c);

/* ---- channels ---------------------------------------------------------------------- */

/* Open a channel; `info->kind` (or `info->type` for SSH_CHAN_OTHER) decides
 * the type and which fields are sent.  *id receives the local id; the
 * answer comes through channel_open_result. */
int ssh_channel_open(ssh_conn *c, const ssh_channel_open_info *info, void *ch_user,
                     uint32_t *id);
/* Answer a deferred incoming open. */
int ssh_channel_open_confirm(ssh_conn *c, uint32_t id, void *ch_user);
int ssh_channel_open_fail(ssh_conn *c, uint32_t id, uint32_t reason, const char *why);

void ssh_channel_set_user(ssh_conn *c, uint32_t id, void *ch_user);
void *ssh_channel_get_user(const ssh_conn *c, uint32_t id);

/* Bytes that may be sent now (peer window; 0 while closed for writing). */
size_t ssh_channel_window(const ssh_conn *c, uint32_t id);
/* Largest single data packet the peer accepts. */
size_t ssh_channel_max_packet(const ssh_conn *c, uint32_t id);
/* Our receive window for the channel as sized now: what the peer may send
 * plus what it sent that is not yet consumed (0: no such channel). */
size_t ssh_channel_recv_window(const ssh_conn *c, uint32_t id);

/* Zero-copy send: reserve room for up to `want` bytes of data for one packet
 * directly in the output buffer (at most window and peer max packet); the
 * caller writes at *p (e.g. read(2) into it) and then commits how many bytes
 * it wrote (0 cancels).  Nothing else may be queued in between.  Returns 0,
 * SSH_ERR_AGAIN if the window is closed. */
int ssh_channel_send_reserve(ssh_conn *c, uint32_t id, int stream, size_t want, uint8_t **p,
                             size_t *n);
int ssh_channel_send_commit(ssh_conn *c, uint32_t id, size_t n);
/* The same for several packets at once, for one readv(2): lays out up to
 * `max` (at most SSH_CHANNEL_SENDV_MAX) packets of data in the output
 * buffer, each as large as the peer accepts, together at most `want` bytes
 * and the window, and fills iov[0..*niov) with their data areas in order.
 * The caller writes into them in order (readv does) and commits the total;
 * the packets that got data are finished (the last one may be short), the
 * rest dropped.  When packets cannot be laid out ahead (compression, a key
 * exchange under way or due) one packet is reserved, as with
 * ssh_channel_send_reserve().  Nothing else may be queued, and no output
 * consumed, in between.  Returns 0 or SSH_ERR_AGAIN (window closed). */
#define SSH_CHANNEL_SENDV_MAX 16
int ssh_channel_send_reserve_v(ssh_conn *c, uint32_t id, int stream, size_t want,
                               struct iovec *iov, size_t max, size_t *niov);
int ssh_channel_send_commit_v(ssh_conn *c, uint32_t id, size_t n);
/* Copying send: queues up to `len` bytes (as many packets as needed) and
 * returns how many it took (limited by the window), or a negative error. */
long ssh_channel_send(ssh_conn *c, uint32_t id, int stream, const void *data, size_t len);

/* The application delivered `n` bytes of received data: grant window. */
int ssh_channel_consumed(ssh_conn *c, uint32_t id, size_t n);
/* Send EOF (no more data from us). */
int ssh_channel_eof(ssh_conn *c, uint32_t id);
/* Send CLOSE; channel_closed follows when the peer's CLOSE arrives - or,
 * for a CLOSE held by channel_peer_close, before this returns. */
int ssh_channel_close(ssh_conn *c, uint32_t id);
/* Has the peer sent EOF / CLOSE? */
int ssh_channel_peer_eof(const ssh_conn *c, uint32_t id);

/* Send a channel request; `req_user` comes back in channel_request_result
 * when want_reply is set.  Fields used per type as in ssh_channel_request:
 * "exec" command(+len), "subsystem" name, "env" name+value, "pty-req"
 * term/cols/rows/px/modes, "window-change" cols/rows/px, "signal" name,
 * "exit-status" exit_status, "exit-signal" name/core_dumped/error_msg,
 * "shell", "eow@openssh.com", others with `data` as the raw body. */
int ssh_channel_request_send(ssh_conn *c, uint32_t id, const ssh_channel_req *r,
                             void *req_user);
/* Answer a deferred incoming channel request. */
int ssh_channel_request_reply(ssh_conn *c, uint32_t id, int ok);

/* ---- global requests --------------------------------------------------------------- */

/* Send a global request with raw body `data`; with want_reply the answer
 * arrives in global_reply with `req_user`. */
int ssh_global_request(ssh_conn *c, const char *name, int want_reply, const uint8_t *data,
                       size_t len, void *req_user);
/* tcpip-forward / cancel-tcpip-forward helpers (RFC 4254 section 7.1). */
int ssh_global_tcpip_forward(ssh_conn *c, int cancel, const char *address, uint32_t port,
                             void *req_user);
/* streamlocal-forward@openssh.com / cancel-streamlocal-forward@openssh.com. */
int ssh_global_streamlocal_forward(ssh_conn *c, int cancel, const char *path, void *req_user);
/* Answer a deferred incoming global request, replies keep request order. */
int ssh_global_request_reply(ssh_conn *c, int ok, const uint8_t *data, size_t len);

#ifdef __cplusplus
}
#endif
#endif
