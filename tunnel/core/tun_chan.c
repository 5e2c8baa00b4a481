/*
 * tun_chan.c - dispatch of the engine's channel callbacks to tun_chan ops.
 */
#include "tun_chan.h"
#include "tun_transport.h"

void tun_link_block(tun_link *l, tun_chan *ch)
{
    if (ch->blocked)
        return;
    ch->blocked = 1;
    ch->next_blocked = l->blocked;
    l->blocked = ch;
}

void tun_link_unblock(tun_link *l, tun_chan *ch)
{
    if (!ch->blocked)
        return;
    for (tun_chan **pp = &l->blocked; *pp; pp = &(*pp)->next_blocked) {
        if (*pp == ch) {
            *pp = ch->next_blocked;
            break;
        }
    }
    ch->blocked = 0;
    ch->next_blocked = NULL;
}

void tun_link_resume_all(tun_link *l)
{
    tun_chan *list = l->blocked;
    l->blocked = NULL;
    while (list) {
        tun_chan *ch = list;
        list = ch->next_blocked;
        ch->blocked = 0;
        ch->next_blocked = NULL;
        if (ch->ops->resume)
            ch->ops->resume(ch);
    }
}

void tun_link_kick(tun_link *l)
{
    if (l->t)
        tun_transport_kick(l->t);
}

static void on_open_result(ssh_conn *c, uint32_t id, uint32_t reason, const char *msg, void *u)
{
    (void)c;
    tun_chan *ch = u;
    if (ch == NULL)
        return;
    ch->id = id;
    if (reason == 0)
        ch->open = 1;
    if (ch->ops->open_result)
        ch->ops->open_result(ch, reason, msg);
}

static void on_data(ssh_conn *c, uint32_t id, int stream, const uint8_t *d, size_t n, void *u)
{
    tun_chan *ch = u;
    if (ch && ch->ops->data)
        ch->ops->data(ch, stream, d, n);
    else
        ssh_channel_consumed(c, id, n);
}

static void on_writable(ssh_conn *c, uint32_t id, void *u)
{
    (void)c;
    (void)id;
    tun_chan *ch = u;
    if (ch && ch->ops->writable)
        ch->ops->writable(ch);
}

static void on_eof(ssh_conn *c, uint32_t id, void *u)
{
    (void)c;
    (void)id;
    tun_chan *ch = u;
    if (ch && ch->ops->eof)
        ch->ops->eof(ch);
}

static void on_closed(ssh_conn *c, uint32_t id, void *u)
{
    (void)c;
    (void)id;
    tun_chan *ch = u;
    if (ch == NULL)
        return;
    ch->open = 0;
    if (ch->ops->closed)
        ch->ops->closed(ch);
}

static int on_peer_close(ssh_conn *c, uint32_t id, void *u)
{
    (void)c;
    (void)id;
    tun_chan *ch = u;
    if (ch && ch->ops->peer_close)
        return ch->ops->peer_close(ch);
    return 0;
}

static int on_request(ssh_conn *c, uint32_t id, const ssh_channel_req *r, void *u)
{
    (void)c;
    (void)id;
    tun_chan *ch = u;
    if (ch && ch->ops->request)
        return ch->ops->request(ch, r);
    return SSH_REQUEST_FAILURE;
}

static void on_request_result(ssh_conn *c, uint32_t id, int ok, void *req_user, void *u)
{
    (void)c;
    (void)id;
    tun_chan *ch = u;
    if (ch && ch->ops->request_result)
        ch->ops->request_result(ch, ok, req_user);
}

void tun_chan_install_callbacks(ssh_callbacks *cb)
{
    cb->channel_open_result = on_open_result;
    cb->channel_data = on_data;
    cb->channel_writable = on_writable;
    cb->channel_eof = on_eof;
    cb->channel_closed = on_closed;
    cb->channel_peer_close = on_peer_close;
    cb->channel_request = on_request;
    cb->channel_request_result = on_request_result;
}
