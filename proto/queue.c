/*
 * queue.c - bounded FIFOs for request/reply ordering.
 *
 * Both queues are rings that grow by doubling up to their maximum; they
 * hold very few entries in practice (one outstanding request is typical),
 * so the first allocation is small.
 */
#include "queue.h"
#include "sshtun/err.h"

#include <stdlib.h>
#include <string.h>

void ssh_ptrq_init(ssh_ptrq *q, uint32_t max)
{
    memset(q, 0, sizeof(*q));
    q->max = max;
}

void ssh_ptrq_free(ssh_ptrq *q)
{
    free(q->v);
    memset(q, 0, sizeof(*q));
}

int ssh_ptrq_push(ssh_ptrq *q, void *p)
{
    if (q->n >= q->max)
        return SSH_ERR_REPLY_QUEUE;
    if (q->n == q->cap) {
        uint32_t ncap = q->cap ? q->cap * 2 : 4;
        void **nv = malloc(ncap * sizeof(*nv));
        if (nv == NULL)
            return SSH_ERR_ALLOC;
        for (uint32_t i = 0; i < q->n; i++)
            nv[i] = q->v[(q->head + i) % q->cap];
        free(q->v);
        q->v = nv;
        q->cap = ncap;
        q->head = 0;
    }
    q->v[(q->head + q->n) % q->cap] = p;
    q->n++;
    return 0;
}

int ssh_ptrq_pop(ssh_ptrq *q, void **p)
{
    if (q->n == 0)
        return SSH_ERR_UNEXPECTED;
    if (p)
        *p = q->v[q->head];
    q->head = (q->head + 1) % q->cap;
    q->n--;
    return 0;
}

void ssh_replyq_init(ssh_replyq *q, uint32_t max)
{
    memset(q, 0, sizeof(*q));
    q->max = max;
}

void ssh_replyq_free(ssh_replyq *q)
{
    for (uint32_t i = 0; i < q->n; i++)
        free(q->v[(q->head + i) % q->cap].data);
    free(q->v);
    memset(q, 0, sizeof(*q));
}

int ssh_replyq_push(ssh_replyq *q)
{
    if (q->n >= q->max)
        return SSH_ERR_REPLY_QUEUE;
    if (q->n == q->cap) {
        uint32_t ncap = q->cap ? q->cap * 2 : 4;
        ssh_reply *nv = malloc(ncap * sizeof(*nv));
        if (nv == NULL)
            return SSH_ERR_ALLOC;
        for (uint32_t i = 0; i < q->n; i++)
            nv[i] = q->v[(q->head + i) % q->cap];
        free(q->v);
        q->v = nv;
        q->cap = ncap;
        q->head = 0;
    }
    ssh_reply *r = &q->v[(q->head + q->n) % q->cap];
    memset(r, 0, sizeof(*r));
    q->n++;
    return 0;
}

static int set_reply(ssh_reply *r, int ok, const uint8_t *data, size_t len)
{
    if (len > 0) {
        r->data = malloc(len);
        if (r->data == NULL)
            return SSH_ERR_ALLOC;
        memcpy(r->data, data, len);
        r->len = len;
    }
    r->ok = ok != 0;
    r->done = 1;
    return 0;
}

int ssh_replyq_decide(ssh_replyq *q, int ok, const uint8_t *data, size_t len)
{
    for (uint32_t i = 0; i < q->n; i++) {
        ssh_reply *r = &q->v[(q->head + i) % q->cap];
        if (!r->done)
            return set_reply(r, ok, data, len);
    }
    return SSH_ERR_STATE;
}

int ssh_replyq_decide_last(ssh_replyq *q, int ok, const uint8_t *data, size_t len)
{
    if (q->n == 0)
        return SSH_ERR_STATE;
    ssh_reply *r = &q->v[(q->head + q->n - 1) % q->cap];
    if (r->done)
        return SSH_ERR_STATE;
    return set_reply(r, ok, data, len);
}

ssh_reply *ssh_replyq_ready(ssh_replyq *q)
{
    if (q->n == 0 || !q->v[q->head].done)
        return NULL;
    return &q->v[q->head];
}

void ssh_replyq_pop(ssh_replyq *q)
{
    if (q->n == 0)
        return;
    free(q->v[q->head].data);
    q->v[q->head].data = NULL;
    q->head = (q->head + 1) % q->cap;
    q->n--;
}
