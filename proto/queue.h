/*
 * queue.h - small bounded FIFOs used to keep request replies in order
 * (RFC 4254 sections 4 and 5.4: replies to global and channel requests are
 * matched to requests purely by order).  Internal to libsshtun.
 */
#ifndef SSHTUN_PROTO_QUEUE_H
#define SSHTUN_PROTO_QUEUE_H

#include <stddef.h>
#include <stdint.h>

/* FIFO of opaque pointers: our requests that wait for the peer's reply. */
typedef struct ssh_ptrq {
    void **v;
    uint32_t head, n, cap, max;
} ssh_ptrq;

void ssh_ptrq_init(ssh_ptrq *q, uint32_t max);
void ssh_ptrq_free(ssh_ptrq *q);
/* SSH_ERR_REPLY_QUEUE when `max` entries are waiting. */
int ssh_ptrq_push(ssh_ptrq *q, void *p);
/* SSH_ERR_UNEXPECTED when empty (a reply nobody asked for). */
int ssh_ptrq_pop(ssh_ptrq *q, void **p);

/* FIFO of replies we owe the peer.  An entry is added for every request
 * that wants a reply; entries are answered possibly out of order (deferred
 * decisions) but sent strictly in order. */
typedef struct ssh_reply {
    uint8_t done;
    uint8_t ok;
    uint8_t *data; /* reply-specific bytes (global requests), malloc'd */
    size_t len;
} ssh_reply;

typedef struct ssh_replyq {
    ssh_reply *v;
    uint32_t head, n, cap, max;
} ssh_replyq;

void ssh_replyq_init(ssh_replyq *q, uint32_t max);
void ssh_replyq_free(ssh_replyq *q);
/* Append an undecided entry. */
int ssh_replyq_push(ssh_replyq *q);
/* Decide the oldest undecided entry (a deferred answer). */
int ssh_replyq_decide(ssh_replyq *q, int ok, const uint8_t *data, size_t len);
/* Decide the newest entry: the request just pushed, answered at once while
 * older ones may still wait for deferred answers. */
int ssh_replyq_decide_last(ssh_replyq *q, int ok, const uint8_t *data, size_t len);
/* The head entry if it is decided (to be sent and popped), else NULL. */
ssh_reply *ssh_replyq_ready(ssh_replyq *q);
void ssh_replyq_pop(ssh_replyq *q);

#endif
