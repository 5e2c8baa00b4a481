/*
 * kex.h - key exchange: negotiation (RFC 4253 section 7), the exchange hash
 * and key derivation (section 7.2), strict KEX, and the per-method math
 * (kex_ecdh.c: curve25519 and NIST curves; kex_dh.c: finite-field groups and
 * group exchange; kex_hybrid.c: ML-KEM-768 and sntrup761 with X25519).
 * Internal to libsshtun.
 */
#ifndef SSHTUN_PROTO_KEX_H
#define SSHTUN_PROTO_KEX_H

#include "conn_int.h"

enum ssh_kex_family {
    KEXF_X25519 = 1, /* curve25519-sha256 (RFC 8731) */
    KEXF_ECDH,       /* ecdh-sha2-nistp* (RFC 5656) */
    KEXF_DH,         /* diffie-hellman-groupN-shaM (RFC 8268) */
    KEXF_GEX,        /* diffie-hellman-group-exchange-sha256 (RFC 4419) */
    KEXF_HYBRID,     /* KEM + X25519: mlkem768x25519-sha256, sntrup761x25519-sha512 */
};

/* The KEM of a KEXF_HYBRID method (its `param`). */
enum ssh_kem_id { SSH_KEM_MLKEM768 = 0, SSH_KEM_SNTRUP761 = 1 };

typedef struct ssh_kexm {
    const char *name;
    enum ssh_kex_family family;
    const char *digest; /* EVP digest name for the exchange hash and KDF */
    int param;          /* ECDH: curve NID; DH: group size in bits; HYBRID: ssh_kem_id */
} ssh_kexm;

/* Method descriptor by name, or NULL. */
const ssh_kexm *ssh_kexm_by_name(const char *name);
/* All supported methods, comma-separated. */
const char *ssh_kexm_all(void);

/* Group exchange limits (RFC 8270 raises the minimum to 2048 bits). */
#define SSH_GEX_MIN 2048
#define SSH_GEX_MAX 8192

/* State of one key exchange. */
typedef struct ssh_kex {
    unsigned flags;
    ssh_buf my_init, peer_init; /* KEXINIT payloads, type byte included */
    const ssh_kexm *m;
    char hostkey_alg[SSH_NAME_MAX];
    const ssh_cipher_info *ci[2]; /* [0] client to server, [1] server to client */
    const ssh_mac_info *mi[2];
    int comp[2]; /* enum ssh_comp_type, same order */
    ssh_newkeys nk_tx, nk_rx;
    int ignore_guess;  /* peer guessed wrong: drop its next kex packet */
    size_t need;       /* bytes of key material per key (for DH exponents) */
    int expect;        /* next method message expected */

    /* method state */
    void *priv;          /* method private key (EVP_PKEY / BIGNUM / ...) */
    ssh_buf my_pub;      /* our public value, wire encoded (string or mpint) */
    ssh_buf peer_pub;    /* peer's public value, wire encoded */
    ssh_buf K;           /* shared secret, mpint wire encoding (secret) */
    ssh_buf gex_p, gex_g; /* group exchange parameters, mpint wire encodings */
    uint32_t gex_min, gex_n, gex_max;
    uint8_t H[64];
    size_t hlen;
    ssh_key *peer_hostkey; /* client: key being verified */
    ssh_buf hk_blob;       /* server: our host key's blob, while its signature is awaited */
    uint8_t reply_type;    /* server: the REPLY message to send with it */
} ssh_kex;

#define KEX_SENT_INIT    0x01u
#define KEX_GOT_INIT     0x02u
#define KEX_SENT_NEWKEYS 0x04u
#define KEX_GOT_NEWKEYS  0x08u
#define KEX_KEYS_READY   0x10u /* new keys derived */
#define KEX_HOSTKEY_WAIT 0x20u /* client: waiting for the application */
#define KEX_SIGN_WAIT    0x40u /* server: waiting for the exchange hash's signature */

static inline int ssh_kex_sent_init(const ssh_kex *k)
{
    return (k->flags & KEX_SENT_INIT) != 0;
}
static inline int ssh_kex_sent_newkeys(const ssh_kex *k)
{
    return (k->flags & KEX_SENT_NEWKEYS) != 0;
}

/* Start a key exchange by sending our KEXINIT (no-op if already sent). */
int ssh_kex_start(ssh_conn *c);
/* Handle KEXINIT, NEWKEYS and method messages 30-49. */
int ssh_kex_dispatch(ssh_conn *c, uint8_t type, const uint8_t *payload, size_t len, uint32_t seq);
/* Client: the application answered a deferred host key check. */
int ssh_kex_hostkey_result(ssh_conn *c, int ok);
/* Server: the application's signature over the exchange hash (NULL: it
 * could not sign). */
int ssh_kex_hostkey_signed(ssh_conn *c, const uint8_t *sig, size_t len);
void ssh_kex_free(ssh_kex *k);

/* Identification string exchange (ident.c). */
int ssh_ident_send(ssh_conn *c);
/* 1: identification received; 0: need more; <0 error. */
int ssh_ident_process(ssh_conn *c);

/* ---- method math (kex_ecdh.c, kex_dh.c) ---------------------------------- */

/* Generate our ephemeral key pair into k->priv and its public value into
 * k->my_pub.  For GEX, k->gex_p/gex_g must be set. */
int ssh_kexm_keygen(ssh_conn *c, ssh_kex *k);
/* Read the peer's public value from `p` (string or mpint), keep its wire
 * encoding in k->peer_pub, validate it and compute k->K. */
int ssh_kexm_derive(ssh_conn *c, ssh_kex *k, ssh_cur *p);
void ssh_kexm_free(ssh_kex *k);

/* The same, per family: curve25519 and NIST curves (kex_ecdh.c) and
 * finite-field Diffie-Hellman (kex_dh.c). */
int ssh_kex_ecdh_keygen(ssh_conn *c, ssh_kex *k);
int ssh_kex_ecdh_derive(ssh_conn *c, ssh_kex *k, ssh_cur *p);
void ssh_kex_ecdh_free(ssh_kex *k);
int ssh_kex_dh_keygen(ssh_conn *c, ssh_kex *k);
int ssh_kex_dh_derive(ssh_conn *c, ssh_kex *k, ssh_cur *p);
void ssh_kex_dh_free(ssh_kex *k);

int ssh_kex_hybrid_keygen(ssh_conn *c, ssh_kex *k);
int ssh_kex_hybrid_derive(ssh_conn *c, ssh_kex *k, ssh_cur *p);
void ssh_kex_hybrid_free(ssh_kex *k);

/* Group exchange: choose a group for the client's request (server) and
 * check a received group (client).  Groups are the RFC 3526 MODP groups
 * libcrypto provides. */
int ssh_gex_choose(ssh_kex *k);
int ssh_gex_check(ssh_kex *k);

#endif
