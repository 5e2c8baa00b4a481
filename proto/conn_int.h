/*
 * conn_int.h - the connection object and the functions the engine's parts
 * (packet, kex, auth, channel, conn) share.  Internal to libsshtun.
 */
#ifndef SSHTUN_PROTO_CONN_INT_H
#define SSHTUN_PROTO_CONN_INT_H

#include "sshtun/conn.h"
#include "cipher.h"
#include "comp.h"
#include "mac.h"
#include "queue.h"

/* ---- message numbers (RFC 4250 section 4.1) ------------------------------- */
#define SSH_MSG_DISCONNECT                1
#define SSH_MSG_IGNORE                    2
#define SSH_MSG_UNIMPLEMENTED             3
#define SSH_MSG_DEBUG                     4
#define SSH_MSG_SERVICE_REQUEST           5
#define SSH_MSG_SERVICE_ACCEPT            6
#define SSH_MSG_EXT_INFO                  7
#define SSH_MSG_KEXINIT                   20
#define SSH_MSG_NEWKEYS                   21
#define SSH_MSG_KEX_ECDH_INIT             30 /* = KEXDH_INIT */
#define SSH_MSG_KEX_ECDH_REPLY            31 /* = KEXDH_REPLY */
#define SSH_MSG_KEX_DH_GEX_GROUP          31
#define SSH_MSG_KEX_DH_GEX_INIT           32
#define SSH_MSG_KEX_DH_GEX_REPLY          33
#define SSH_MSG_KEX_DH_GEX_REQUEST        34
#define SSH_MSG_USERAUTH_REQUEST          50
#define SSH_MSG_USERAUTH_FAILURE          51
#define SSH_MSG_USERAUTH_SUCCESS          52
#define SSH_MSG_USERAUTH_BANNER           53
#define SSH_MSG_USERAUTH_PK_OK            60 /* = INFO_REQUEST, PASSWD_CHANGEREQ */
#define SSH_MSG_USERAUTH_INFO_REQUEST     60
#define SSH_MSG_USERAUTH_INFO_RESPONSE    61
#define SSH_MSG_GLOBAL_REQUEST            80
#define SSH_MSG_REQUEST_SUCCESS           81
#define SSH_MSG_REQUEST_FAILURE           82
#define SSH_MSG_CHANNEL_OPEN              90
#define SSH_MSG_CHANNEL_OPEN_CONFIRMATION 91
#define SSH_MSG_CHANNEL_OPEN_FAILURE      92
#define SSH_MSG_CHANNEL_WINDOW_ADJUST     93
#define SSH_MSG_CHANNEL_DATA              94
#define SSH_MSG_CHANNEL_EXTENDED_DATA     95
#define SSH_MSG_CHANNEL_EOF               96
#define SSH_MSG_CHANNEL_CLOSE             97
#define SSH_MSG_CHANNEL_REQUEST           98
#define SSH_MSG_CHANNEL_SUCCESS           99
#define SSH_MSG_CHANNEL_FAILURE           100

/* ---- limits ------------------------------------------------------------------ */
#define SSH_PACKET_MAX      (256u * 1024) /* largest packet_length accepted */
#define SSH_IDENT_MAX       255           /* RFC 4253 4.2, including CR LF */
#define SSH_NAME_MAX        64            /* algorithm and request names */
#define SSH_NAMELIST_MAX    4096          /* KEXINIT name-lists */
#define SSH_USER_MAX        256
#define SSH_PASSWORD_MAX    1024
#define SSH_TEXT_MAX        8192 /* banners, messages, commands */
#define SSH_KBDINT_MAX      32   /* prompts per round */
#define SSH_REPLYQ_MAX      128  /* unanswered requests per queue */
#define SSH_CHANNEL_MAX_ABS 65536u
#define SSH_WINDOW_DEFAULT  (2u * 1024 * 1024)
#define SSH_WINDOW_MAX      (64u * 1024 * 1024)
#define SSH_WINDOW_BUDGET   (128u * 1024 * 1024)
#define SSH_RTT_SAMPLES     4 /* round-trip samples the estimate is taken from */
#define SSH_MAXPKT_DEFAULT  (32u * 1024)
#define SSH_MAXPKT_LIMIT    (SSH_PACKET_MAX - 1024)
#define SSH_REKEY_BYTES_MAX (1ull << 30) /* 1 GiB */
#define SSH_REKEY_PACKETS   (1ull << 31)
#define SSH_REKEY_TIME_MS   (3600ull * 1000)

/* ---- per-direction packet protection ------------------------------------------- */
typedef struct ssh_pktdir {
    ssh_cipher *cipher; /* NULL before the first NEWKEYS */
    ssh_mac *mac;       /* NULL for AEAD ciphers and before NEWKEYS */
    uint32_t seq;
    unsigned block;  /* padding alignment: 8 without a cipher */
    unsigned maclen; /* MAC or tag bytes after the packet */
    int aead, etm;
    uint64_t bytes, packets; /* since the last NEWKEYS, for rekeying */
    uint64_t rekey_bytes;
    int comp_type; /* enum ssh_comp_type negotiated for these keys */
    ssh_comp *z;   /* the zlib stream once compression is on (comp.h) */
} ssh_pktdir;

/* Keys derived by a key exchange, waiting for NEWKEYS. */
typedef struct ssh_newkeys {
    ssh_cipher *cipher;
    ssh_mac *mac;
    const ssh_cipher_info *ci;
    const ssh_mac_info *mi;
    int comp; /* enum ssh_comp_type */
} ssh_newkeys;

struct ssh_kex; /* kex.h */

enum ssh_phase {
    PHASE_IDENT = 0,    /* waiting for the peer's identification */
    PHASE_KEX1,         /* first key exchange */
    PHASE_SERVICE,      /* client: waiting for SERVICE_ACCEPT; server: for REQUEST */
    PHASE_AUTH,         /* user authentication */
    PHASE_OPEN,         /* connection protocol */
    PHASE_CLOSED,
};

/* Outstanding client auth attempt. */
enum ssh_auth_wait {
    AUTHW_IDLE = 0,
    AUTHW_NONE,
    AUTHW_PASSWORD,
    AUTHW_PK_QUERY,
    AUTHW_PK_SIGNING, /* waiting for the sign callback to finish */
    AUTHW_PK_SIGNED,
    AUTHW_KBDINT,
};

typedef struct ssh_channel ssh_channel;

struct ssh_conn {
    ssh_conn_config cfg; /* strings point into strpool */
    char *strpool[11];
    ssh_key **host_keys_copy;
    ssh_callbacks cb;
    void *user;
    int server;
    enum ssh_phase phase;
    int err;           /* sticky fatal error */
    int in_dispatch;   /* inside input processing */
    int paused;        /* input processing waits for a resume call */
    int disconnect_cb_done;

    /* identification */
    char v_ours[SSH_IDENT_MAX + 1];
    char v_peer[SSH_IDENT_MAX + 1];
    uint32_t banner_lines;
    int peer_is_openssh;

    /* buffers */
    ssh_buf in;      /* raw bytes from the peer; current packet decrypted in place */
    ssh_buf out;     /* protected bytes for the socket */
    ssh_buf pending; /* payloads queued during key exchange (uint32 len || payload) */
    ssh_buf *pkt;    /* buffer of the packet under construction (out or pending) */
    size_t pkt_start;
    int pkt_open;
    uint32_t rx_plen;   /* packet_length of the packet being received, 0: unknown */
    size_t rx_done;     /* bytes of it already decrypted (CTR, non-ETM) */
    uint8_t padpool[256];
    size_t padpool_left;

    ssh_pktdir tx, rx;
    /* Compression scratch, one per direction: a received payload, inflated,
     * is still being dispatched when a handler sends (and compresses) a
     * reply, so the two must never share memory. */
    ssh_buf zin;     /* the received packet's inflated payload */
    ssh_buf zout;    /* the outgoing packet's deflated payload */
    int comp_authed; /* user authentication done: delayed compression may start */

    /* key exchange */
    struct ssh_kex *kex; /* non-NULL while a key exchange runs */
    int kex_strict;
    int kex_done_once;
    int peer_ext_info;    /* peer offered ext-info-c / ext-info-s */
    uint8_t session_id[64];
    size_t session_id_len;
    char *alg[SSH_ALG_SLOTS];
    ssh_key *hostkey; /* server's host key as seen by the client */
    char *server_sig_algs;
    uint32_t kex_count;
    uint64_t kex_time;        /* when the last KEX completed */
    int rekey_wanted;
    uint64_t now;             /* latest time given by the caller */

    /* path round trip (channel.c) */
    uint32_t rtt_us;       /* the transport's hint (ssh_conn_set_rtt), 0: unknown */
    uint32_t rtt_ms[SSH_RTT_SAMPLES]; /* the latest round-trip samples ... */
    uint64_t rtt_at[SSH_RTT_SAMPLES]; /* ... and when they were taken */
    unsigned rtt_n;        /* samples taken (the ring holds the last few) */
    uint64_t svc_sent;     /* client: when SERVICE_REQUEST went out */
    int probe_again;       /* probe once more when this one is answered */
    uint64_t probe_sent;   /* when the outstanding probe went out */
    int probe_out;         /* a probe awaits its answer */
    uint32_t probe_kex;    /* kex_count then: a key exchange spoils the sample */
    int probe_marker;
    uint64_t data_last;    /* last channel data sent or received */
    int data_since_probe;  /* channel data moved since the last probe */
    uint64_t win_sum;      /* sum of the channels' receive windows */

    /* keepalive */
    uint64_t last_rx;
    uint32_t alive_missed;
    uint64_t alive_next;
    int alive_marker;

    /* authentication */
    uint64_t start_time;
    char *auth_user;        /* authenticated (server) or attempting (client) */
    char *auth_methods;     /* server: methods for FAILURE */
    enum ssh_auth_wait authw;
    ssh_key *auth_key;      /* client: key of the pending publickey attempt (public copy) */
    char auth_alg[SSH_NAME_MAX];
    ssh_buf auth_sigdata;   /* client: data being signed */
    uint32_t auth_failures; /* server */
    uint32_t auth_attempts;
    int auth_first_none;    /* server: the first request was "none" (free) */
    int auth_deferred;      /* server: waiting for ssh_auth_decide */
    int auth_kbdint_active; /* server: INFO_REQUEST sent, waiting for response */
    struct ssh_auth_pending *auth_pend; /* server: the deferred request */

    /* vectored send reservation (ssh_channel_send_reserve_v) */
    unsigned resv_n;               /* packets laid out, 0: none (or a single reserve) */
    uint32_t resv_id;              /* their channel */
    int resv_stream;
    uint32_t resv_cap[SSH_CHANNEL_SENDV_MAX]; /* data bytes each can take */

    /* connection protocol */
    ssh_channel **ch;
    uint32_t ch_cap;
    uint32_t ch_count;
    uint32_t ch_hint;
    ssh_ptrq greq_out;   /* our global requests waiting for replies (req_user) */
    ssh_replyq greq_in;  /* peer's global requests waiting for our reply */

    /* statistics */
    uint64_t bytes_in, bytes_out, packets_in, packets_out;
};

/* ---- packet layer (packet.c) ------------------------------------------------- */

/* Start a packet of message `type`; the payload is appended to the returned
 * buffer with ssh_buf_put_*.  During a key exchange, messages that are not
 * allowed there go to the pending queue and are sent after NEWKEYS. */
ssh_buf *ssh_pkt_begin(ssh_conn *c, uint8_t type);
/* Finish the packet: pad, encrypt, MAC.  Returns 0 or a fatal error. */
int ssh_pkt_end(ssh_conn *c);
/* Abandon the packet under construction. */
void ssh_pkt_cancel(ssh_conn *c);
/* The bytes a packet with `payload_len` bytes of payload will take in the
 * output, for laying several out ahead (ssh_channel_send_reserve_v): 0, or
 * SSH_ERR_AGAIN when its size cannot be known now (compression, a key
 * exchange under way, a packet under construction). */
int ssh_pkt_wire_len(const ssh_conn *c, size_t payload_len, size_t *len);
/* Process buffered input until it runs out or processing pauses. */
int ssh_pkt_process(ssh_conn *c);
/* Install new keys for a direction (on NEWKEYS); compression, if negotiated
 * and due, starts afresh with them.  0 or SSH_ERR_ALLOC. */
int ssh_pkt_set_keys(ssh_conn *c, int tx, ssh_newkeys *nk);
/* User authentication succeeded (the server has protected its
 * USERAUTH_SUCCESS, the client has received it): delayed compression
 * ("zlib@openssh.com") starts in both directions.  0 or SSH_ERR_ALLOC. */
int ssh_pkt_auth_done(ssh_conn *c);
/* Move the pending queue into the output (after our NEWKEYS). */
int ssh_pkt_flush_pending(ssh_conn *c);
/* Send DISCONNECT (best effort). */
void ssh_pkt_send_disconnect(ssh_conn *c, uint32_t reason, const char *msg);
void ssh_pktdir_clear(ssh_pktdir *d);

/* ---- conn.c ---------------------------------------------------------------- */

/* Record a fatal error: send DISCONNECT (if the transport allows), run the
 * disconnect callback once, close.  Returns err for convenience. */
int ssh_conn_fail(ssh_conn *c, int err, const char *msg);
/* Dispatch one decrypted payload (pointer into the input buffer). */
int ssh_conn_dispatch(ssh_conn *c, const uint8_t *payload, size_t len, uint32_t seq);
/* Continue processing buffered input after a pause (deferred answer). */
int ssh_conn_resume(ssh_conn *c);
void ssh_conn_logf(ssh_conn *c, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void ssh_conn_random(ssh_conn *c, uint8_t *buf, size_t n);
/* Called by kex.c when both NEWKEYS went through. */
void ssh_conn_kex_finished(ssh_conn *c);

/* ---- auth.c ------------------------------------------------------------------- */
int ssh_auth_dispatch_client(ssh_conn *c, uint8_t type, ssh_cur *p);
int ssh_auth_dispatch_server(ssh_conn *c, uint8_t type, ssh_cur *p);
void ssh_auth_free(ssh_conn *c);

/* ---- channel.c ---------------------------------------------------------------- */
int ssh_channel_dispatch(ssh_conn *c, uint8_t type, ssh_cur *p);
int ssh_global_dispatch(ssh_conn *c, uint8_t type, ssh_cur *p);
void ssh_channels_free(ssh_conn *c);
/* Send keepalive@openssh.com with want_reply (routed internally). */
int ssh_global_keepalive(ssh_conn *c);
/* Authentication just succeeded: measure the path's round trip. */
int ssh_rtt_start(ssh_conn *c);
/* When the next round-trip probe is due (UINT64_MAX: none), and send it if
 * `now` has reached that. */
uint64_t ssh_rtt_deadline(const ssh_conn *c);
int ssh_rtt_tick(ssh_conn *c);
/* The round trip windows are sized for (us, 0: unknown). */
uint32_t ssh_path_rtt_us(const ssh_conn *c);
/* A round-trip sample of `ms` taken now (channel.c keeps the last few). */
void ssh_rtt_sample(ssh_conn *c, uint64_t ms, const char *how);

#ifdef SSHTUN_FUZZING
/* Fuzzing builds only: pretend the first key exchange (and, if `authed`, the
 * authentication of user "fuzz") completed without encryption, so fuzzers
 * reach the later parsers directly. */
int ssh_conn_fuzz_skip_kex(ssh_conn *c, int authed);
#endif

#endif
