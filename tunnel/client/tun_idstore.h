/*
 * tun_idstore.h - the identities a client authenticates with: IdentityFile
 * keys (encrypted ones decrypted on first use, once, then kept) merged with
 * the keys an ssh-agent offers.  Shared by every connection of a process,
 * so a connection sharing master that opens more connections never asks
 * for a passphrase twice.
 */
#ifndef SSHTUN_TUN_IDSTORE_H
#define SSHTUN_TUN_IDSTORE_H

#include <ev.h>

#include "sshtun/buf.h"
#include "sshtun/err.h"
#include "sshtun/key.h"
#include "tun_agent.h"
#include "tun_options.h"

typedef struct tun_identity {
    char *path;  /* file, or the agent's comment */
    ssh_key *pub;
    ssh_key *priv;
    int encrypted;
    int agent;   /* the agent holds the private half */
    /* pub is a user certificate (CertificateFile, key-cert.pub next to an
     * identity file, or one the agent holds).  Unless the agent holds the
     * certificate itself, another identity signs for it: the one whose key
     * it certifies (a file, decrypted when needed, or the agent). */
    int cert;
} tun_identity;

typedef struct tun_id_waiter {
    void (*fn)(void *arg);
    void *arg;
    struct tun_id_waiter *next;
} tun_id_waiter;

typedef struct tun_idstore {
    struct ev_loop *loop;
    const tun_options *o;
    tun_identity ids[2 * TUN_MAX_LIST];
    int n;
    tun_agent *agent;
    int agent_pending;
    tun_id_waiter *waiters;
} tun_idstore;

/* Load the identity files and start listing the agent's keys. */
void tun_idstore_init(tun_idstore *s, struct ev_loop *loop, const tun_options *o);
void tun_idstore_free(tun_idstore *s);
/* Run fn(arg) once the agent has answered (now if it has).  `w` is caller
 * storage that must stay valid until then. */
void tun_idstore_when_ready(tun_idstore *s, tun_id_waiter *w, void (*fn)(void *), void *arg);
/* Forget a waiter whose owner goes away. */
void tun_idstore_cancel(tun_idstore *s, tun_id_waiter *w);
/* Make identity idx ready to sign: ask for the passphrase of an encrypted
 * key (tty or askpass), or find the identity that signs for a
 * certificate.  0 when it can sign. */
int tun_idstore_decrypt(tun_idstore *s, int idx);
/* 1 if identity idx can sign at once with a key in memory (no agent, no
 * passphrase): then a signed request can go without asking first. */
int tun_idstore_has_private(const tun_idstore *s, int idx);

typedef void (*tun_id_signed_cb)(void *arg, const uint8_t *sig, size_t len, int err);
/* Sign with identity idx: with a private key at once (0, sig appended to
 * `sig`), through the agent later (SSH_DEFERRED, then done()). */
int tun_idstore_sign(tun_idstore *s, int idx, const char *alg, const uint8_t *data, size_t len,
                     ssh_buf *sig, tun_id_signed_cb done, void *arg);

#endif
