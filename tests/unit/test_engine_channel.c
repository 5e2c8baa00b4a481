/*
 * test_engine_channel.c - the connection protocol (RFC 4254) in memory:
 * channel open / confirm / failure, data and extended data, EOF and CLOSE,
 * zero-copy sends, channel and global requests with their reply ordering,
 * channel limits, the forwarding channel types, and data sent across a key
 * re-exchange.  Flow control and window sizing: test_engine_window.c.
 */
#include "pump.h"
#include "conn_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static ssh_key *ed(void)
{
    return tp_key(SSH_KEY_ED25519);
}

static void assert_alive(tp_pair *p)
{
    assert_int_equal(ssh_conn_error(p->cli.c), 0);
    assert_int_equal(ssh_conn_error(p->srv.c), 0);
}

static tp_pair *connected_cfg(const ssh_conn_config *cc, const ssh_conn_config *sc)
{
    tp_pair *p = tp_pair_new(cc, sc, ed(), ed());
    assert_int_equal(tp_connect(p), 0);
    return p;
}

static tp_pair *connected(void)
{
    return connected_cfg(NULL, NULL);
}

/* Open a channel of the given kind from `from`; returns the local id. */
static uint32_t open_from(tp_side *from, const ssh_channel_open_info *info)
{
    uint32_t id = UINT32_MAX;
    assert_int_equal(ssh_channel_open(from->c, info, NULL, &id), 0);
    tp_chan_of(from, id)->open_result = -1;
    return id;
}

static uint32_t channels_open(ssh_conn *c)
{
    ssh_conn_stats st;
    ssh_conn_get_stats(c, &st);
    return st.channels_open;
}

/* ---- open / confirm / failure ------------------------------------------------------- */

static void open_confirm_and_failures(void **state)
{
    (void)state;
    tp_pair *p = connected();
    int id = tp_open_session(p);
    assert_true(id >= 0);
    tp_chan *ch = tp_chan_of(&p->cli, (uint32_t)id);
    assert_int_equal(ch->open_result, 0);
    assert_int_equal(ch->open_results, 1);
    assert_string_equal(ch->open_msg, "");
    assert_string_equal(tp_chan_of(&p->srv, 0)->last_req, "session");
    assert_int_equal(channels_open(p->cli.c), 1);
    assert_int_equal(channels_open(p->srv.c), 1);
    assert_int_equal(ssh_channel_window(p->cli.c, (uint32_t)id), 2 * 1024 * 1024);
    assert_int_equal(ssh_channel_max_packet(p->cli.c, (uint32_t)id), 32 * 1024);

    /* Every reason code with its text. */
    ssh_channel_open_info info = {.kind = SSH_CHAN_SESSION};
    for (int reason = 1; reason <= 4; reason++) {
        p->srv.refuse_open = reason;
        uint32_t fid = open_from(&p->cli, &info);
        tp_pump(p, 0);
        tp_chan *fc = tp_chan_of(&p->cli, fid);
        assert_int_equal(fc->open_result, reason);
        assert_int_equal(fc->open_results, 1);
        assert_string_equal(fc->open_msg, "refused by test");
        /* The failed channel is gone on both sides. */
        assert_int_equal(ssh_channel_window(p->cli.c, fid), 0);
        assert_int_equal(ssh_channel_send(p->cli.c, fid, 0, "x", 1), SSH_ERR_CHANNEL_UNKNOWN);
        assert_int_equal(channels_open(p->cli.c), 1);
        assert_int_equal(channels_open(p->srv.c), 1);
        fc->used = 0;
        ssh_buf_free(&fc->sink);
        ssh_buf_free(&fc->sink_err);
    }
    p->srv.refuse_open = 0;
    assert_alive(p);
    /* The first channel is unaffected. */
    assert_int_equal(ssh_channel_send(p->cli.c, (uint32_t)id, 0, "ok", 2), 2);
    tp_pump(p, 0);
    assert_int_equal(ssh_buf_len(&tp_chan_of(&p->srv, 0)->sink), 2);
    tp_pair_free(p);
}

/* Refusals the application phrases differently. */
static int odd_refusal(tp_side *s, uint32_t id, const ssh_channel_open_info *info, const char **why)
{
    (void)s;
    (void)id;
    if (info->kind == SSH_CHAN_OTHER) {
        /* unknown type: the raw type-specific bytes are there */
        assert_string_equal(info->type, "x-thing@example.com");
        assert_int_equal(info->extra_len, 5);
        assert_memory_equal(info->extra, "\x00\x00\x00\x01Z", 5);
        *why = "no such thing";
        return -SSH_OPEN_UNKNOWN_CHANNEL_TYPE;
    }
    return -42; /* not a reason code: administratively prohibited */
}

static void open_refusal_mapping(void **state)
{
    (void)state;
    tp_pair *p = connected();
    p->srv.on_channel_open = odd_refusal;
    ssh_channel_open_info info = {.kind = SSH_CHAN_OTHER,
                                  .type = "x-thing@example.com",
                                  .extra = (const uint8_t *)"\x00\x00\x00\x01Z",
                                  .extra_len = 5};
    uint32_t a = open_from(&p->cli, &info);
    ssh_channel_open_info sess = {.kind = SSH_CHAN_SESSION};
    uint32_t b = open_from(&p->cli, &sess);
    tp_pump(p, 0);
    assert_int_equal(tp_chan_of(&p->cli, a)->open_result, SSH_OPEN_UNKNOWN_CHANNEL_TYPE);
    assert_string_equal(tp_chan_of(&p->cli, a)->open_msg, "no such thing");
    assert_int_equal(tp_chan_of(&p->cli, b)->open_result, SSH_OPEN_ADMINISTRATIVELY_PROHIBITED);
    assert_string_equal(tp_chan_of(&p->cli, b)->open_msg, "open refused");
    assert_int_equal(channels_open(p->srv.c), 0);
    assert_alive(p);
    /* An unknown kind or a missing type name is an argument error. */
    ssh_channel_open_info bad = {.kind = SSH_CHAN_OTHER, .type = NULL};
    uint32_t id;
    assert_int_equal(ssh_channel_open(p->cli.c, &bad, NULL, &id), SSH_ERR_ARGUMENT);
    bad.kind = (enum ssh_channel_kind)99;
    assert_int_equal(ssh_channel_open(p->cli.c, &bad, NULL, &id), SSH_ERR_ARGUMENT);
    assert_int_equal(channels_open(p->cli.c), 0);
    tp_pair_free(p);
}

static void open_deferred(void **state)
{
    (void)state;
    tp_pair *p = connected();
    p->srv.defer_open = 1;
    ssh_channel_open_info info = {.kind = SSH_CHAN_SESSION};
    uint32_t a = open_from(&p->cli, &info);
    uint32_t b = open_from(&p->cli, &info);
    tp_pump(p, 0);
    assert_int_equal(tp_chan_of(&p->cli, a)->open_result, -1);
    assert_int_equal(tp_chan_of(&p->cli, b)->open_result, -1);
    assert_int_equal(ssh_channel_window(p->cli.c, a), 0);
    assert_int_equal(channels_open(p->srv.c), 2); /* pending ones count */
    /* Not yet open on the server either. */
    assert_int_equal(ssh_channel_send(p->srv.c, 0, 0, "x", 1), SSH_ERR_CHANNEL_STATE);

    /* Answer in the opposite order: confirm the second, refuse the first. */
    static int marker;
    assert_int_equal(ssh_channel_open_confirm(p->srv.c, 1, &marker), 0);
    assert_ptr_equal(ssh_channel_get_user(p->srv.c, 1), &marker);
    assert_int_equal(ssh_channel_open_fail(p->srv.c, 0, SSH_OPEN_CONNECT_FAILED, "no route"), 0);
    /* Answered channels cannot be answered again. */
    assert_int_equal(ssh_channel_open_confirm(p->srv.c, 1, NULL), SSH_ERR_CHANNEL_STATE);
    assert_int_equal(ssh_channel_open_fail(p->srv.c, 0, 1, "x"), SSH_ERR_CHANNEL_STATE);
    assert_int_equal(ssh_channel_open_confirm(p->srv.c, 0, NULL), SSH_ERR_CHANNEL_STATE);
    tp_pump(p, 0);
    assert_int_equal(tp_chan_of(&p->cli, a)->open_result, SSH_OPEN_CONNECT_FAILED);
    assert_string_equal(tp_chan_of(&p->cli, a)->open_msg, "no route");
    assert_int_equal(tp_chan_of(&p->cli, b)->open_result, 0);
    assert_int_equal(channels_open(p->srv.c), 1);
    assert_int_equal(channels_open(p->cli.c), 1);
    assert_int_equal(ssh_channel_send(p->cli.c, b, 0, "up", 2), 2);
    assert_int_equal(ssh_channel_send(p->srv.c, 1, 0, "down", 4), 4);
    tp_pump(p, 0);
    assert_memory_equal(ssh_buf_ptr(&tp_chan_of(&p->srv, 1)->sink), "up", 2);
    assert_memory_equal(ssh_buf_ptr(&tp_chan_of(&p->cli, b)->sink), "down", 4);

    /* A failure with reason 0 still reads as a failure. */
    uint32_t c3 = open_from(&p->cli, &info);
    tp_pump(p, 0);
    /* ids are not reused at once: the server's new channel is number 2 */
    assert_true(p->srv.ch[2].used);
    assert_int_equal(ssh_channel_open_fail(p->srv.c, 2, 0, "zero"), 0);
    tp_pump(p, 0);
    assert_int_equal(tp_chan_of(&p->cli, c3)->open_result, SSH_OPEN_CONNECT_FAILED);
    assert_alive(p);
    tp_pair_free(p);
}

/* ---- data --------------------------------------------------------------------------- */

static void data_and_extended_data(void **state)
{
    (void)state;
    tp_pair *p = connected();
    int id = tp_open_session(p);
    assert_true(id >= 0);
    uint32_t cid = (uint32_t)id;
    p->chunk = 7;
    assert_int_equal(ssh_channel_send(p->srv.c, 0, SSH_STREAM_STDOUT, "out1,", 5), 5);
    assert_int_equal(ssh_channel_send(p->srv.c, 0, SSH_STREAM_STDERR, "err1,", 5), 5);
    assert_int_equal(ssh_channel_send(p->srv.c, 0, SSH_STREAM_STDOUT, "out2", 4), 4);
    assert_int_equal(ssh_channel_send(p->srv.c, 0, SSH_STREAM_STDERR, "err2", 4), 4);
    assert_int_equal(ssh_channel_send(p->cli.c, cid, SSH_STREAM_STDERR, "cerr", 4), 4);
    assert_int_equal(ssh_channel_send(p->cli.c, cid, SSH_STREAM_STDOUT, "cout", 4), 4);
    tp_pump(p, 0);
    tp_chan *c = tp_chan_of(&p->cli, cid), *s = tp_chan_of(&p->srv, 0);
    assert_int_equal(ssh_buf_len(&c->sink), 9);
    assert_memory_equal(ssh_buf_ptr(&c->sink), "out1,out2", 9);
    assert_int_equal(ssh_buf_len(&c->sink_err), 9);
    assert_memory_equal(ssh_buf_ptr(&c->sink_err), "err1,err2", 9);
    assert_memory_equal(ssh_buf_ptr(&s->sink), "cout", 4);
    assert_memory_equal(ssh_buf_ptr(&s->sink_err), "cerr", 4);
    /* Empty sends are fine and send nothing. */
    size_t before = ssh_conn_output_pending(p->cli.c);
    assert_int_equal(ssh_channel_send(p->cli.c, cid, 0, "", 0), 0);
    assert_int_equal(ssh_conn_output_pending(p->cli.c), before);
    /* Large sends are split at the peer's maximum packet size. */
    size_t big = 100000;
    uint8_t *buf = malloc(big);
    assert_non_null(buf);
    uint64_t seed = 11;
    test_rand(&seed, buf, big);
    uint64_t pk0 = p->srv.c->packets_in;
    assert_int_equal(ssh_channel_send(p->cli.c, cid, 0, buf, big), (long)big);
    p->chunk = 0;
    tp_pump(p, 0);
    assert_int_equal(ssh_buf_len(&s->sink), 4 + big);
    assert_memory_equal(ssh_buf_ptr(&s->sink) + 4, buf, big);
    assert_true(p->srv.c->packets_in - pk0 == (big + 32767) / 32768);
    free(buf);
    tp_pair_free(p);
}

/* ---- EOF and CLOSE --------------------------------------------------------------------- */

static void eof_then_close(void **state)
{
    (void)state;
    for (int who = 0; who < 2; who++) {
        tp_pair *p = connected();
        int id = tp_open_session(p);
        assert_true(id >= 0);
        tp_side *a = who ? &p->srv : &p->cli, *b = who ? &p->cli : &p->srv;
        uint32_t aid = who ? 0 : (uint32_t)id, bid = who ? (uint32_t)id : 0;
        tp_chan *ac = tp_chan_of(a, aid), *bc = tp_chan_of(b, bid);

        assert_int_equal(ssh_channel_send(a->c, aid, 0, "last", 4), 4);
        assert_int_equal(ssh_channel_eof(a->c, aid), 0);
        assert_int_equal(ssh_channel_eof(a->c, aid), 0); /* idempotent */
        /* No more data from a after its EOF. */
        assert_int_equal(ssh_channel_window(a->c, aid), 0);
        assert_true(ssh_channel_send(a->c, aid, 0, "x", 1) < 0);
        tp_pump(p, 0);
        assert_int_equal(bc->eof, 1);
        assert_int_equal(ac->eof, 0);
        assert_true(ssh_channel_peer_eof(b->c, bid));
        assert_false(ssh_channel_peer_eof(a->c, aid));
        assert_memory_equal(ssh_buf_ptr(&bc->sink), "last", 4);

        /* Half-closed: b still sends; then b's EOF. */
        assert_int_equal(ssh_channel_send(b->c, bid, 0, "reply", 5), 5);
        assert_int_equal(ssh_channel_eof(b->c, bid), 0);
        tp_pump(p, 0);
        assert_int_equal(ac->eof, 1);
        assert_memory_equal(ssh_buf_ptr(&ac->sink), "reply", 5);
        assert_int_equal(ac->closed + bc->closed, 0);

        /* a closes; b answers with its CLOSE; each side hears it once. */
        assert_int_equal(ssh_channel_close(a->c, aid), 0);
        assert_int_equal(ssh_channel_close(a->c, aid), 0);
        assert_int_equal(
            ssh_channel_request_send(a->c, aid, &(ssh_channel_req){.type = "shell"}, NULL),
            SSH_ERR_CHANNEL_STATE);
        tp_pump(p, 0);
        assert_int_equal(ac->closed, 1);
        assert_int_equal(bc->closed, 1);
        assert_int_equal(ac->eof, 1);
        assert_int_equal(bc->eof, 1);
        assert_int_equal(channels_open(a->c), 0);
        assert_int_equal(channels_open(b->c), 0);
        /* The ids are gone. */
        assert_int_equal(ssh_channel_close(a->c, aid), SSH_ERR_CHANNEL_UNKNOWN);
        assert_int_equal(ssh_channel_eof(b->c, bid), SSH_ERR_CHANNEL_UNKNOWN);
        assert_int_equal(ssh_channel_send(b->c, bid, 0, "x", 1), SSH_ERR_CHANNEL_UNKNOWN);
        tp_pump(p, 0);
        assert_int_equal(ac->closed, 1);
        assert_int_equal(bc->closed, 1);
        assert_alive(p);
        tp_pair_free(p);
    }
}

static void close_variants(void **state)
{
    (void)state;
    /* CLOSE without EOF, from both sides at once. */
    tp_pair *p = connected();
    int id = tp_open_session(p);
    assert_true(id >= 0);
    assert_int_equal(ssh_channel_close(p->cli.c, (uint32_t)id), 0);
    assert_int_equal(ssh_channel_close(p->srv.c, 0), 0);
    tp_pump(p, 0);
    assert_int_equal(tp_chan_of(&p->cli, (uint32_t)id)->closed, 1);
    assert_int_equal(tp_chan_of(&p->srv, 0)->closed, 1);
    assert_int_equal(tp_chan_of(&p->cli, (uint32_t)id)->eof, 0);
    assert_alive(p);

    /* Data and EOF still in flight when we close: not delivered after our
     * CLOSE, and no error. */
    id = tp_open_session(p);
    assert_true(id >= 0);
    uint32_t sid = 1;
    assert_int_equal(ssh_channel_send(p->srv.c, sid, 0, "late", 4), 4);
    assert_int_equal(ssh_channel_eof(p->srv.c, sid), 0);
    assert_int_equal(ssh_channel_close(p->cli.c, (uint32_t)id), 0);
    tp_pump(p, 0);
    tp_chan *cc = tp_chan_of(&p->cli, (uint32_t)id);
    assert_int_equal(ssh_buf_len(&cc->sink), 0);
    assert_int_equal(cc->eof, 0);
    assert_int_equal(cc->closed, 1);
    assert_int_equal(tp_chan_of(&p->srv, sid)->closed, 1);
    assert_alive(p);

    /* Closing a channel whose open is not yet confirmed: it is closed right
     * after the confirmation, without an open result. */
    ssh_channel_open_info info = {.kind = SSH_CHAN_SESSION};
    uint32_t oid = open_from(&p->cli, &info);
    assert_int_equal(ssh_channel_close(p->cli.c, oid), 0);
    tp_pump(p, 0);
    tp_chan *oc = tp_chan_of(&p->cli, oid);
    assert_int_equal(oc->open_results, 0);
    assert_int_equal(oc->closed, 1);
    assert_int_equal(channels_open(p->cli.c), 0);
    assert_int_equal(channels_open(p->srv.c), 0);
    assert_alive(p);
    tp_pair_free(p);

    /* Data after the peer's EOF is a protocol error. */
    p = connected();
    id = tp_open_session(p);
    assert_true(id >= 0);
    assert_int_equal(ssh_channel_eof(p->cli.c, (uint32_t)id), 0);
    uint8_t body[] = {0, 0, 0, 0, 0, 0, 0, 1, 'z'};
    tp_send_raw(p->cli.c, SSH_MSG_CHANNEL_DATA, body, sizeof(body));
    tp_pump(p, 0);
    assert_int_equal(ssh_conn_error(p->srv.c), SSH_ERR_UNEXPECTED);
    assert_int_equal(p->cli.disc_reason, SSH_DISCONNECT_PROTOCOL_ERROR);
    tp_pair_free(p);

    /* A second CLOSE for the same channel, too (the id is freed). */
    p = connected();
    id = tp_open_session(p);
    assert_true(id >= 0);
    assert_int_equal(ssh_channel_close(p->cli.c, (uint32_t)id), 0);
    body[3] = 0;
    tp_send_raw(p->cli.c, SSH_MSG_CHANNEL_CLOSE, body, 4);
    tp_pump(p, 0);
    assert_int_equal(ssh_conn_error(p->srv.c), SSH_ERR_UNEXPECTED);
    assert_int_equal(tp_chan_of(&p->srv, 0)->closed, 1);
    tp_pair_free(p);
}

/* ---- zero-copy send ----------------------------------------------------------------------- */

static void zero_copy_send(void **state)
{
    (void)state;
    ssh_conn_config sc;
    ssh_conn_config_init(&sc, SSH_ROLE_SERVER);
    sc.window = sc.window_max = 40000;
    sc.max_packet = 30000;
    tp_pair *p = connected_cfg(NULL, &sc);
    p->srv.hold = 1;
    int id = tp_open_session(p);
    assert_true(id >= 0);
    uint32_t cid = (uint32_t)id;
    uint8_t *dst;
    size_t n;

    /* Reserve, write, commit. */
    assert_int_equal(ssh_channel_send_reserve(p->cli.c, cid, 0, 1000, &dst, &n), 0);
    assert_int_equal(n, 1000);
    memset(dst, 'a', n);
    /* Nothing else may be queued while a reservation is open. */
    ssh_channel_open_info info = {.kind = SSH_CHAN_SESSION};
    uint32_t other;
    assert_int_equal(ssh_channel_open(p->cli.c, &info, NULL, &other), SSH_ERR_STATE);
    assert_int_equal(
        ssh_channel_request_send(p->cli.c, cid, &(ssh_channel_req){.type = "shell"}, NULL),
        SSH_ERR_STATE);
    assert_int_equal(ssh_global_request(p->cli.c, "x", 0, NULL, 0, NULL), SSH_ERR_STATE);
    /* Nor can the reservation be written out before it is committed. */
    struct iovec iov;
    assert_int_equal(ssh_conn_output(p->cli.c, &iov, 1), 0);
    assert_int_equal(ssh_channel_send_commit(p->cli.c, cid, 600), 0);
    assert_int_equal(ssh_conn_output(p->cli.c, &iov, 1), 1);
    assert_true(iov.iov_len > 600);
    assert_int_equal(ssh_channel_window(p->cli.c, cid), 40000 - 600);
    /* Commit without a reservation. */
    assert_int_equal(ssh_channel_send_commit(p->cli.c, cid, 1), SSH_ERR_STATE);

    /* Cancel: commit 0 queues nothing and costs no window. */
    size_t pend = ssh_conn_output_pending(p->cli.c);
    assert_int_equal(ssh_channel_send_reserve(p->cli.c, cid, 1, 5000, &dst, &n), 0);
    assert_int_equal(n, 5000);
    memset(dst, 'X', n);
    assert_int_equal(ssh_channel_send_commit(p->cli.c, cid, 0), 0);
    assert_int_equal(ssh_conn_output_pending(p->cli.c), pend);
    assert_int_equal(ssh_channel_window(p->cli.c, cid), 40000 - 600);

    /* Committing more than reserved is refused and cancels. */
    assert_int_equal(ssh_channel_send_reserve(p->cli.c, cid, 0, 10, &dst, &n), 0);
    assert_int_equal(ssh_channel_send_commit(p->cli.c, cid, 11), SSH_ERR_ARGUMENT);
    assert_int_equal(ssh_conn_output_pending(p->cli.c), pend);

    /* The reservation is capped by the peer's max packet, then the window. */
    assert_int_equal(ssh_channel_send_reserve(p->cli.c, cid, 1, 100000, &dst, &n), 0);
    assert_int_equal(n, 30000);
    memset(dst, 'e', n);
    assert_int_equal(ssh_channel_send_commit(p->cli.c, cid, n), 0);
    assert_int_equal(ssh_channel_send_reserve(p->cli.c, cid, 0, 100000, &dst, &n), 0);
    assert_int_equal(n, 40000 - 600 - 30000);
    memset(dst, 'b', n);
    assert_int_equal(ssh_channel_send_commit(p->cli.c, cid, n), 0);
    assert_int_equal(ssh_channel_window(p->cli.c, cid), 0);
    assert_int_equal(ssh_channel_send_reserve(p->cli.c, cid, 0, 1, &dst, &n), SSH_ERR_AGAIN);
    tp_pump(p, 0);
    assert_alive(p);
    tp_chan *s = tp_chan_of(&p->srv, 0);
    assert_int_equal(ssh_buf_len(&s->sink), 600 + 9400);
    for (size_t i = 0; i < 600; i++)
        assert_int_equal(ssh_buf_ptr(&s->sink)[i], 'a');
    for (size_t i = 600; i < 10000; i++)
        assert_int_equal(ssh_buf_ptr(&s->sink)[i], 'b');
    assert_int_equal(ssh_buf_len(&s->sink_err), 30000);
    assert_int_equal(ssh_buf_ptr(&s->sink_err)[0], 'e');
    assert_int_equal(ssh_buf_ptr(&s->sink_err)[29999], 'e');
    /* Unknown channel. */
    assert_int_equal(ssh_channel_send_reserve(p->cli.c, 63, 0, 1, &dst, &n),
                     SSH_ERR_CHANNEL_UNKNOWN);
    tp_pair_free(p);
}

/* Vectored reservations (one readv for several packets), with every kind
 * of packet protection: the packets that got data arrive intact, the last
 * one short, the rest dropped; extended data too; committing more than was
 * laid out is refused; and where packets cannot be laid out ahead
 * (compression, a key exchange under way, the rekey limit near) one packet
 * is reserved instead. */
static void zero_copy_vectored(void **state)
{
    (void)state;
    static const char *const algs[][2] = {
        {"aes128-gcm@openssh.com", NULL},
        {"chacha20-poly1305@openssh.com", NULL},
        {"aes128-ctr", "hmac-sha2-256-etm@openssh.com"},
        {"aes256-ctr", "hmac-sha2-512"},
    };
    static uint8_t data[200000];
    uint64_t seed = 5;
    test_rand(&seed, data, sizeof(data));
    for (size_t a = 0; a < sizeof(algs) / sizeof(algs[0]); a++) {
        ssh_conn_config cc, sc;
        ssh_conn_config_init(&cc, SSH_ROLE_CLIENT);
        ssh_conn_config_init(&sc, SSH_ROLE_SERVER);
        cc.ciphers = sc.ciphers = algs[a][0];
        cc.macs = sc.macs = algs[a][1];
        sc.max_packet = 32768;
        tp_pair *p = connected_cfg(&cc, &sc);
        int id = tp_open_session(p);
        assert_true(id >= 0);
        uint32_t cid = (uint32_t)id;
        struct iovec iov[SSH_CHANNEL_SENDV_MAX], out;
        size_t niov;
        uint64_t pk0 = p->srv.c->packets_in;
        assert_int_equal(ssh_channel_send_reserve_v(p->cli.c, cid, 0, 100000, iov, 8, &niov), 0);
        assert_int_equal(niov, 4);
        assert_int_equal(iov[0].iov_len, 32768);
        assert_int_equal(iov[3].iov_len, 100000 - 3 * 32768);
        /* nothing can be written out until it is committed */
        assert_int_equal(ssh_conn_output(p->cli.c, &out, 1), 0);
        /* as readv would: 70000 bytes, in order */
        size_t left = 70000, off = 0;
        for (size_t i = 0; i < niov && left; i++) {
            size_t k = left < iov[i].iov_len ? left : iov[i].iov_len;
            memcpy(iov[i].iov_base, data + off, k);
            off += k;
            left -= k;
        }
        assert_int_equal(ssh_channel_send_commit_v(p->cli.c, cid, 70000), 0);
        assert_int_equal(ssh_channel_window(p->cli.c, cid), 2 * 1024 * 1024 - 70000);
        /* all of it, stderr */
        assert_int_equal(ssh_channel_send_reserve_v(p->cli.c, cid, 1, 65536, iov, 16, &niov), 0);
        assert_int_equal(niov, 2);
        memcpy(iov[0].iov_base, data + 70000, 32768);
        memcpy(iov[1].iov_base, data + 70000 + 32768, 32768);
        assert_int_equal(ssh_channel_send_commit_v(p->cli.c, cid, 65536), 0);
        /* more than was laid out */
        assert_int_equal(ssh_channel_send_reserve_v(p->cli.c, cid, 0, 1000, iov, 16, &niov), 0);
        assert_int_equal(niov, 1);
        assert_int_equal(ssh_channel_send_commit_v(p->cli.c, cid, 1001), SSH_ERR_ARGUMENT);
        assert_int_equal(ssh_channel_send_reserve_v(p->cli.c, cid, 0, 70000, iov, 16, &niov), 0);
        assert_int_equal(niov, 3);
        /* refused, and the reservation is gone (as with a single one) */
        assert_int_equal(ssh_channel_send_commit_v(p->cli.c, cid, 70001), SSH_ERR_ARGUMENT);
        assert_int_equal(ssh_channel_send_commit_v(p->cli.c, cid, 0), SSH_ERR_STATE);
        tp_pump(p, 0);
        assert_alive(p);
        tp_chan *s = tp_chan_of(&p->srv, 0);
        assert_int_equal(ssh_buf_len(&s->sink), 70000);
        assert_memory_equal(ssh_buf_ptr(&s->sink), data, 70000);
        assert_int_equal(ssh_buf_len(&s->sink_err), 65536);
        assert_memory_equal(ssh_buf_ptr(&s->sink_err), data + 70000, 65536);
        assert_int_equal(p->srv.c->packets_in - pk0, 3 + 2);
        /* a key exchange under way: one packet */
        assert_int_equal(ssh_conn_rekey(p->cli.c), 0);
        assert_int_equal(ssh_channel_send_reserve_v(p->cli.c, cid, 0, 100000, iov, 16, &niov), 0);
        assert_int_equal(niov, 1);
        memcpy(iov[0].iov_base, data, iov[0].iov_len);
        assert_int_equal(ssh_channel_send_commit_v(p->cli.c, cid, iov[0].iov_len), 0);
        tp_pump(p, 0);
        assert_int_equal(ssh_buf_len(&s->sink), 70000 + 32768);
        /* the rekey limit close: no more packets than fit before it */
        p->cli.c->tx.rekey_bytes = p->cli.c->tx.bytes + 50000;
        assert_int_equal(ssh_channel_send_reserve_v(p->cli.c, cid, 0, 100000, iov, 16, &niov), 0);
        assert_int_equal(niov, 1);
        assert_int_equal(ssh_channel_send_commit_v(p->cli.c, cid, 0), 0);
        assert_alive(p);
        tp_pair_free(p);
    }
    /* compression: one packet (its size is not known ahead) */
    ssh_conn_config cc, sc;
    ssh_conn_config_init(&cc, SSH_ROLE_CLIENT);
    ssh_conn_config_init(&sc, SSH_ROLE_SERVER);
    cc.compression = sc.compression = "zlib";
    tp_pair *p = connected_cfg(&cc, &sc);
    int id = tp_open_session(p);
    assert_true(id >= 0);
    struct iovec iov[4];
    size_t niov;
    assert_int_equal(ssh_channel_send_reserve_v(p->cli.c, (uint32_t)id, 0, 100000, iov, 4, &niov), 0);
    assert_int_equal(niov, 1);
    memcpy(iov[0].iov_base, data, iov[0].iov_len);
    assert_int_equal(ssh_channel_send_commit_v(p->cli.c, (uint32_t)id, iov[0].iov_len), 0);
    tp_pump(p, 0);
    assert_alive(p);
    assert_memory_equal(ssh_buf_ptr(&tp_chan_of(&p->srv, 0)->sink), data, iov[0].iov_len);
    tp_pair_free(p);
}

/* The application may write out finished output (socket writable) while a
 * reservation is open: ssh_conn_output() offers only the finished part and
 * the reservation must survive the consumption in front of it. */
static void zero_copy_with_output_flush(void **state)
{
    (void)state;
    tp_pair *p = connected();
    int id = tp_open_session(p);
    assert_true(id >= 0);
    uint32_t cid = (uint32_t)id;
    for (size_t step = 1; step <= 3; step++) {
        assert_int_equal(ssh_channel_send(p->cli.c, cid, 0, "pre", 3), 3);
        uint8_t *dst;
        size_t n;
        assert_int_equal(ssh_channel_send_reserve(p->cli.c, cid, 0, 100, &dst, &n), 0);
        assert_int_equal(n, 100);
        memset(dst, 'q', n);
        /* write out part (or all) of the finished packet */
        struct iovec iov;
        assert_int_equal(ssh_conn_output(p->cli.c, &iov, 1), 1);
        size_t k = step == 3 ? iov.iov_len : 10 * step;
        assert_true(k <= iov.iov_len);
        assert_int_equal(ssh_conn_feed(p->srv.c, iov.iov_base, k, p->now), 0);
        ssh_conn_output_consumed(p->cli.c, k);
        assert_int_equal(ssh_channel_send_commit(p->cli.c, cid, 100), 0);
        tp_pump(p, 0);
        assert_alive(p);
        tp_chan *s = tp_chan_of(&p->srv, 0);
        assert_int_equal(ssh_buf_len(&s->sink), 103 * step);
        assert_memory_equal(ssh_buf_ptr(&s->sink) + 103 * (step - 1), "pre", 3);
        for (size_t i = 0; i < 100; i++)
            assert_int_equal(ssh_buf_ptr(&s->sink)[103 * (step - 1) + 3 + i], 'q');
    }
    tp_pair_free(p);
}

/* ---- channel requests --------------------------------------------------------------------- */

typedef struct seen_req {
    int n;
    char type[16][64];
    int want_reply[16];
    uint8_t command[64];
    size_t command_len;
    char name[64], value[64], term[64], error_msg[64];
    uint32_t cols, rows, wpx, hpx, wc_cols, wc_rows, wc_wpx, wc_hpx, exit_status;
    uint8_t modes[64];
    size_t modes_len;
    int core_dumped;
    char signal[16], subsystem[32], exit_signal[16];
    uint8_t raw[32];
    size_t raw_len;
} seen_req;

static int record_request(tp_side *s, uint32_t id, const ssh_channel_req *r)
{
    (void)id;
    seen_req *q = s->hook_ctx;
    assert_true(q->n < 16);
    snprintf(q->type[q->n], sizeof(q->type[0]), "%s", r->type);
    q->want_reply[q->n] = r->want_reply;
    q->n++;
    const char *t = r->type;
    if (strcmp(t, "exec") == 0) {
        assert_true(r->command_len <= sizeof(q->command));
        memcpy(q->command, r->command, r->command_len);
        q->command_len = r->command_len;
    } else if (strcmp(t, "pty-req") == 0) {
        snprintf(q->term, sizeof(q->term), "%s", r->term);
        q->cols = r->cols;
        q->rows = r->rows;
        q->wpx = r->width_px;
        q->hpx = r->height_px;
        assert_true(r->modes_len <= sizeof(q->modes));
        memcpy(q->modes, r->modes, r->modes_len);
        q->modes_len = r->modes_len;
    } else if (strcmp(t, "env") == 0) {
        snprintf(q->name, sizeof(q->name), "%s", r->name);
        snprintf(q->value, sizeof(q->value), "%s", r->value);
    } else if (strcmp(t, "window-change") == 0) {
        q->wc_cols = r->cols;
        q->wc_rows = r->rows;
        q->wc_wpx = r->width_px;
        q->wc_hpx = r->height_px;
    } else if (strcmp(t, "signal") == 0) {
        snprintf(q->signal, sizeof(q->signal), "%s", r->name);
    } else if (strcmp(t, "subsystem") == 0) {
        snprintf(q->subsystem, sizeof(q->subsystem), "%s", r->name);
    } else if (strcmp(t, "exit-status") == 0) {
        q->exit_status = r->exit_status;
    } else if (strcmp(t, "exit-signal") == 0) {
        snprintf(q->exit_signal, sizeof(q->exit_signal), "%s", r->name);
        q->core_dumped = r->core_dumped;
        snprintf(q->error_msg, sizeof(q->error_msg), "%s", r->error_msg);
    } else if (strcmp(t, "shell") != 0 && strcmp(t, "eow@openssh.com") != 0) {
        assert_true(r->data_len <= sizeof(q->raw));
        memcpy(q->raw, r->data, r->data_len);
        q->raw_len = r->data_len;
        return SSH_REQUEST_FAILURE;
    }
    return SSH_REQUEST_SUCCESS;
}

static void channel_request_types(void **state)
{
    (void)state;
    tp_pair *p = connected();
    int id = tp_open_session(p);
    assert_true(id >= 0);
    uint32_t cid = (uint32_t)id;
    seen_req sq, cq;
    memset(&sq, 0, sizeof(sq));
    memset(&cq, 0, sizeof(cq));
    p->srv.hook_ctx = &sq;
    p->srv.on_channel_request = record_request;
    p->cli.hook_ctx = &cq;
    p->cli.on_channel_request = record_request;

    static const uint8_t modes[] = {1, 0, 0, 0, 3, 53, 0, 0, 0, 1, 0}; /* VINTR, ECHO, END */
    ssh_channel_req reqs[] = {
        {.type = "pty-req",
         .want_reply = 1,
         .term = "xterm-256color",
         .cols = 80,
         .rows = 24,
         .width_px = 640,
         .height_px = 480,
         .modes = modes,
         .modes_len = sizeof(modes)},
        {.type = "env", .want_reply = 1, .name = "LANG", .value = "C.UTF-8"},
        {.type = "exec", .want_reply = 1, .command = "a\0b\xff\n", .command_len = 5},
        {.type = "shell", .want_reply = 1},
        {.type = "subsystem", .want_reply = 1, .name = "sftp"},
        {.type = "window-change",
         .want_reply = 0,
         .cols = 132,
         .rows = 50,
         .width_px = 1320,
         .height_px = 1000},
        {.type = "signal", .want_reply = 0, .name = "TERM"},
        {.type = "eow@openssh.com", .want_reply = 0},
        {.type = "x-custom@example.com",
         .want_reply = 1,
         .data = (const uint8_t *)"\1\2\3",
         .data_len = 3},
    };
    static int tags[9];
    for (int i = 0; i < 9; i++)
        assert_int_equal(ssh_channel_request_send(p->cli.c, cid, &reqs[i], &tags[i]), 0);
    tp_pump(p, 0);
    assert_int_equal(sq.n, 9);
    for (int i = 0; i < 9; i++) {
        assert_string_equal(sq.type[i], reqs[i].type);
        assert_int_equal(sq.want_reply[i], reqs[i].want_reply);
    }
    assert_string_equal(sq.term, "xterm-256color");
    assert_int_equal(sq.cols, 80);
    assert_int_equal(sq.rows, 24);
    assert_int_equal(sq.wpx, 640);
    assert_int_equal(sq.hpx, 480);
    assert_int_equal(sq.modes_len, sizeof(modes));
    assert_memory_equal(sq.modes, modes, sizeof(modes));
    assert_string_equal(sq.name, "LANG");
    assert_string_equal(sq.value, "C.UTF-8");
    assert_int_equal(sq.command_len, 5);
    assert_memory_equal(sq.command, "a\0b\xff\n", 5);
    assert_string_equal(sq.subsystem, "sftp");
    assert_int_equal(sq.wc_cols, 132);
    assert_int_equal(sq.wc_rows, 50);
    assert_int_equal(sq.wc_wpx, 1320);
    assert_int_equal(sq.wc_hpx, 1000);
    assert_string_equal(sq.signal, "TERM");
    assert_int_equal(sq.raw_len, 3);
    assert_memory_equal(sq.raw, "\1\2\3", 3);

    /* Replies only for want_reply, in order, with the caller's tags. */
    tp_chan *cc = tp_chan_of(&p->cli, cid);
    assert_int_equal(cc->n_res, 6);
    int want[] = {0, 1, 2, 3, 4, 8};
    for (int i = 0; i < 6; i++) {
        assert_ptr_equal(cc->res_user[i], &tags[want[i]]);
        assert_int_equal(cc->res_ok[i], want[i] != 8);
    }

    /* Server to client: exit-status and exit-signal. */
    ssh_channel_req es = {.type = "exit-status", .exit_status = 42};
    ssh_channel_req sig = {
        .type = "exit-signal", .name = "SEGV", .core_dumped = 1, .error_msg = "Segmentation fault"};
    assert_int_equal(ssh_channel_request_send(p->srv.c, 0, &es, NULL), 0);
    assert_int_equal(ssh_channel_request_send(p->srv.c, 0, &sig, NULL), 0);
    tp_pump(p, 0);
    assert_int_equal(cq.n, 2);
    assert_int_equal(cq.exit_status, 42);
    assert_int_equal(tp_chan_of(&p->cli, cid)->got_exit_status, 1);
    assert_string_equal(cq.exit_signal, "SEGV");
    assert_int_equal(cq.core_dumped, 1);
    assert_string_equal(cq.error_msg, "Segmentation fault");
    assert_int_equal(tp_chan_of(&p->srv, 0)->n_res, 0);
    assert_alive(p);

    /* A malformed known request (trailing bytes after "shell") is fatal. */
    uint8_t body[] = {0, 0, 0, 0, 0, 0, 0, 5, 's', 'h', 'e', 'l', 'l', 0, 'x'};
    tp_send_raw(p->cli.c, SSH_MSG_CHANNEL_REQUEST, body, sizeof(body));
    tp_pump(p, 0);
    assert_int_equal(ssh_conn_error(p->srv.c), SSH_ERR_TRAILING);
    assert_int_equal(p->cli.disc_reason, SSH_DISCONNECT_PROTOCOL_ERROR);
    tp_pair_free(p);
}

/* Replies keep the order of requests even when the first is answered
 * later than the ones after it. */
typedef struct defer_ctx {
    int n;
    int answers[8]; /* SSH_REQUEST_* per request */
} defer_ctx;

static int answer_from_list(tp_side *s, uint32_t id, const ssh_channel_req *r)
{
    (void)id;
    (void)r;
    defer_ctx *d = s->hook_ctx;
    return d->answers[d->n++];
}

static void channel_request_reply_order(void **state)
{
    (void)state;
    tp_pair *p = connected();
    int id = tp_open_session(p);
    assert_true(id >= 0);
    uint32_t cid = (uint32_t)id;
    defer_ctx d = {0,
                   {SSH_REQUEST_DEFER, SSH_REQUEST_SUCCESS, SSH_REQUEST_FAILURE, SSH_REQUEST_DEFER,
                    SSH_REQUEST_SUCCESS}};
    p->srv.hook_ctx = &d;
    p->srv.on_channel_request = answer_from_list;
    static int t[5];
    ssh_channel_req r = {.type = "env", .want_reply = 1, .name = "A", .value = "1"};
    for (int i = 0; i < 5; i++)
        assert_int_equal(ssh_channel_request_send(p->cli.c, cid, &r, &t[i]), 0);
    tp_pump(p, 0);
    assert_int_equal(d.n, 5);
    tp_chan *cc = tp_chan_of(&p->cli, cid);
    /* The first is undecided: nothing may be answered yet. */
    assert_int_equal(cc->n_res, 0);
    /* Decide the first (failure): it and the two decided ones go out. */
    assert_int_equal(ssh_channel_request_reply(p->srv.c, 0, 0), 0);
    tp_pump(p, 0);
    assert_int_equal(cc->n_res, 3);
    assert_ptr_equal(cc->res_user[0], &t[0]);
    assert_int_equal(cc->res_ok[0], 0);
    assert_ptr_equal(cc->res_user[1], &t[1]);
    assert_int_equal(cc->res_ok[1], 1);
    assert_ptr_equal(cc->res_user[2], &t[2]);
    assert_int_equal(cc->res_ok[2], 0);
    /* The fourth (deferred) now decides success; the fifth follows. */
    assert_int_equal(ssh_channel_request_reply(p->srv.c, 0, 1), 0);
    tp_pump(p, 0);
    assert_int_equal(cc->n_res, 5);
    assert_ptr_equal(cc->res_user[3], &t[3]);
    assert_int_equal(cc->res_ok[3], 1);
    assert_ptr_equal(cc->res_user[4], &t[4]);
    assert_int_equal(cc->res_ok[4], 1);
    /* Nothing is waiting any more. */
    assert_int_equal(ssh_channel_request_reply(p->srv.c, 0, 1), SSH_ERR_STATE);
    assert_int_equal(ssh_channel_request_reply(p->srv.c, 9, 1), SSH_ERR_CHANNEL_UNKNOWN);
    assert_alive(p);
    tp_pair_free(p);
}

/* ---- global requests ----------------------------------------------------------------------- */

typedef struct seen_global {
    int n;
    char name[8][64];
    char address[8][64];
    uint32_t port[8];
    char path[8][64];
    int answers[8];
    int want_reply[8];
} seen_global;

static int record_global(tp_side *s, const ssh_global_req *r, ssh_buf *reply)
{
    seen_global *g = s->hook_ctx;
    int i = g->n++;
    assert_true(i < 8);
    snprintf(g->name[i], sizeof(g->name[i]), "%s", r->name);
    snprintf(g->address[i], sizeof(g->address[i]), "%s", r->address ? r->address : "-");
    snprintf(g->path[i], sizeof(g->path[i]), "%s", r->path ? r->path : "-");
    g->port[i] = r->port;
    g->want_reply[i] = r->want_reply;
    if (g->answers[i] == SSH_REQUEST_SUCCESS && strcmp(r->name, "tcpip-forward") == 0 &&
        r->port == 0)
        assert_int_equal(ssh_buf_put_u32(reply, 40000 + (uint32_t)i), 0);
    return g->answers[i];
}

static void global_requests(void **state)
{
    (void)state;
    tp_pair *p = connected();
    /* The harness's defaults: tcpip-forward port 0 gets port 40000. */
    static int t[8];
    assert_int_equal(ssh_global_tcpip_forward(p->cli.c, 0, "localhost", 0, &t[0]), 0);
    tp_pump(p, 0);
    assert_int_equal(p->cli.n_greply, 1);
    assert_ptr_equal(p->cli.greply_user[0], &t[0]);
    assert_int_equal(p->cli.greply_ok[0], 1);
    assert_int_equal(p->cli.global_port, 40000);

    /* keepalive@openssh.com: answered with failure by the engine. */
    assert_int_equal(ssh_global_request(p->cli.c, "keepalive@openssh.com", 1, NULL, 0, &t[1]), 0);
    /* An unknown request: refused. */
    assert_int_equal(
        ssh_global_request(p->cli.c, "x-nothing@example.com", 1, (const uint8_t *)"abc", 3, &t[2]),
        0);
    tp_pump(p, 0);
    assert_int_equal(p->srv.global_requests, 2); /* the keepalive never reached it */
    assert_int_equal(p->cli.n_greply, 3);
    assert_ptr_equal(p->cli.greply_user[1], &t[1]);
    assert_int_equal(p->cli.greply_ok[1], 0);
    assert_ptr_equal(p->cli.greply_user[2], &t[2]);
    assert_int_equal(p->cli.greply_ok[2], 0);
    assert_alive(p);

    /* Parsed fields and ordering with deferred answers. */
    seen_global g;
    memset(&g, 0, sizeof(g));
    int answers[] = {SSH_REQUEST_DEFER, SSH_REQUEST_SUCCESS, SSH_REQUEST_FAILURE,
                     SSH_REQUEST_DEFER, SSH_REQUEST_SUCCESS, SSH_REQUEST_SUCCESS};
    memcpy(g.answers, answers, sizeof(answers));
    p->srv.hook_ctx = &g;
    p->srv.on_global_request = record_global;
    p->cli.n_greply = 0;
    assert_int_equal(ssh_global_tcpip_forward(p->cli.c, 0, "127.0.0.1", 8080, &t[0]), 0);
    assert_int_equal(ssh_global_tcpip_forward(p->cli.c, 0, "", 0, &t[1]), 0);
    assert_int_equal(ssh_global_streamlocal_forward(p->cli.c, 0, "/tmp/s.sock", &t[2]), 0);
    assert_int_equal(ssh_global_tcpip_forward(p->cli.c, 1, "127.0.0.1", 8080, &t[3]), 0);
    /* A keepalive in the middle must not take a deferred request's place. */
    assert_int_equal(ssh_global_request(p->cli.c, "keepalive@openssh.com", 1, NULL, 0, &t[6]), 0);
    assert_int_equal(ssh_global_streamlocal_forward(p->cli.c, 1, "/tmp/s.sock", &t[4]), 0);
    assert_int_equal(ssh_global_request(p->cli.c, "no-reply@example.com", 0, NULL, 0, NULL), 0);
    tp_pump(p, 0);
    assert_int_equal(g.n, 6);
    assert_string_equal(g.name[0], "tcpip-forward");
    assert_string_equal(g.address[0], "127.0.0.1");
    assert_int_equal(g.port[0], 8080);
    assert_string_equal(g.address[1], "");
    assert_int_equal(g.port[1], 0);
    assert_string_equal(g.name[2], "streamlocal-forward@openssh.com");
    assert_string_equal(g.path[2], "/tmp/s.sock");
    assert_string_equal(g.name[3], "cancel-tcpip-forward");
    assert_int_equal(g.port[3], 8080);
    assert_string_equal(g.name[4], "cancel-streamlocal-forward@openssh.com");
    assert_string_equal(g.path[4], "/tmp/s.sock");
    assert_string_equal(g.name[5], "no-reply@example.com");
    assert_int_equal(g.want_reply[5], 0);
    assert_int_equal(g.want_reply[0], 1);
    /* Nothing answered while the first is undecided. */
    assert_int_equal(p->cli.n_greply, 0);
    assert_int_equal(ssh_global_request_reply(p->srv.c, 1, (const uint8_t *)"\0\0\x1f\x90", 4), 0);
    tp_pump(p, 0);
    assert_int_equal(p->cli.n_greply, 3);
    assert_ptr_equal(p->cli.greply_user[0], &t[0]);
    assert_int_equal(p->cli.greply_ok[0], 1);
    assert_ptr_equal(p->cli.greply_user[1], &t[1]);
    assert_int_equal(p->cli.greply_ok[1], 1);
    assert_int_equal(p->cli.global_port, 40001); /* the second reply's data */
    assert_ptr_equal(p->cli.greply_user[2], &t[2]);
    assert_int_equal(p->cli.greply_ok[2], 0);
    assert_int_equal(ssh_global_request_reply(p->srv.c, 0, NULL, 0), 0);
    tp_pump(p, 0);
    assert_int_equal(p->cli.n_greply, 6);
    assert_ptr_equal(p->cli.greply_user[3], &t[3]);
    assert_int_equal(p->cli.greply_ok[3], 0);
    assert_ptr_equal(p->cli.greply_user[4], &t[6]); /* keepalive: failure */
    assert_int_equal(p->cli.greply_ok[4], 0);
    assert_ptr_equal(p->cli.greply_user[5], &t[4]);
    assert_int_equal(p->cli.greply_ok[5], 1);
    assert_int_equal(ssh_global_request_reply(p->srv.c, 1, NULL, 0), SSH_ERR_STATE);
    assert_alive(p);

    /* Before authentication there are no global requests. */
    tp_pair *q = tp_pair_new(NULL, NULL, ed(), ed());
    q->cli.auth_method = "manual";
    tp_start(q);
    tp_pump(q, 0);
    assert_int_equal(ssh_global_request(q->cli.c, "x", 0, NULL, 0, NULL), SSH_ERR_STATE);
    tp_pair_free(q);
    tp_pair_free(p);
}

/* ---- limits ------------------------------------------------------------------------------------
 */

static void max_channels(void **state)
{
    (void)state;
    ssh_conn_config cc, sc;
    ssh_conn_config_init(&cc, SSH_ROLE_CLIENT);
    ssh_conn_config_init(&sc, SSH_ROLE_SERVER);
    sc.max_channels = 2;
    cc.max_channels = 3;
    tp_pair *p = connected_cfg(&cc, &sc);
    int a = tp_open_session(p), b = tp_open_session(p);
    assert_true(a >= 0 && b >= 0);
    ssh_channel_open_info info = {.kind = SSH_CHAN_SESSION};
    uint32_t c3 = open_from(&p->cli, &info);
    tp_pump(p, 0);
    assert_int_equal(tp_chan_of(&p->cli, c3)->open_result, SSH_OPEN_RESOURCE_SHORTAGE);
    assert_string_equal(tp_chan_of(&p->cli, c3)->open_msg, "too many channels");
    assert_int_equal(channels_open(p->srv.c), 2);
    assert_alive(p);
    /* Our own table is limited too. */
    uint32_t x, y;
    assert_int_equal(ssh_channel_open(p->cli.c, &info, NULL, &x), 0);
    assert_int_equal(ssh_channel_open(p->cli.c, &info, NULL, &y), SSH_ERR_TOO_MANY_CHANNELS);
    tp_pump(p, 0);
    assert_int_equal(tp_chan_of(&p->cli, x)->open_result, SSH_OPEN_RESOURCE_SHORTAGE);
    /* Closing one makes room again. */
    assert_int_equal(ssh_channel_close(p->cli.c, (uint32_t)a), 0);
    tp_pump(p, 0);
    assert_int_equal(channels_open(p->srv.c), 1);
    int d = tp_open_session(p);
    assert_true(d >= 0);
    assert_int_equal(channels_open(p->srv.c), 2);
    assert_int_equal(channels_open(p->cli.c), 2);
    tp_pair_free(p);
}

/* ---- forwarding channel types -----------------------------------------------------------------
 */

typedef struct seen_open {
    int n;
    uint32_t id[8];
    enum ssh_channel_kind kind[8];
    char type[8][64], host[8][64], orig[8][64], path[8][64];
    uint32_t port[8], orig_port[8];
} seen_open;

static int record_open(tp_side *s, uint32_t id, const ssh_channel_open_info *info, const char **why)
{
    (void)why;
    seen_open *o = s->hook_ctx;
    int i = o->n++;
    o->id[i] = id;
    o->kind[i] = info->kind;
    snprintf(o->type[i], sizeof(o->type[i]), "%s", info->type);
    snprintf(o->host[i], sizeof(o->host[i]), "%s", info->host ? info->host : "-");
    snprintf(o->orig[i], sizeof(o->orig[i]), "%s", info->orig_host ? info->orig_host : "-");
    snprintf(o->path[i], sizeof(o->path[i]), "%s", info->path ? info->path : "-");
    o->port[i] = info->port;
    o->orig_port[i] = info->orig_port;
    return 0;
}

static void forwarding_open_fields(void **state)
{
    (void)state;
    tp_pair *p = connected();
    seen_open so, co;
    memset(&so, 0, sizeof(so));
    memset(&co, 0, sizeof(co));
    p->srv.hook_ctx = &so;
    p->srv.on_channel_open = record_open;
    p->cli.hook_ctx = &co;
    p->cli.on_channel_open = record_open;

    ssh_channel_open_info dt = {.kind = SSH_CHAN_DIRECT_TCPIP,
                                .host = "example.org",
                                .port = 443,
                                .orig_host = "127.0.0.1",
                                .orig_port = 50000};
    ssh_channel_open_info ds = {.kind = SSH_CHAN_DIRECT_STREAMLOCAL, .path = "/run/app.sock"};
    ssh_channel_open_info ft = {.kind = SSH_CHAN_FORWARDED_TCPIP,
                                .host = "0.0.0.0",
                                .port = 40000,
                                .orig_host = "203.0.113.9",
                                .orig_port = 61000};
    ssh_channel_open_info fs = {.kind = SSH_CHAN_FORWARDED_STREAMLOCAL, .path = "/tmp/fwd.sock"};
    uint32_t c1 = open_from(&p->cli, &dt);
    uint32_t c2 = open_from(&p->cli, &ds);
    uint32_t s1 = open_from(&p->srv, &ft);
    uint32_t s2 = open_from(&p->srv, &fs);
    tp_pump(p, 0);
    assert_int_equal(tp_chan_of(&p->cli, c1)->open_result, 0);
    assert_int_equal(tp_chan_of(&p->cli, c2)->open_result, 0);
    assert_int_equal(tp_chan_of(&p->srv, s1)->open_result, 0);
    assert_int_equal(tp_chan_of(&p->srv, s2)->open_result, 0);

    assert_int_equal(so.n, 2);
    assert_int_equal(so.kind[0], SSH_CHAN_DIRECT_TCPIP);
    assert_string_equal(so.type[0], "direct-tcpip");
    assert_string_equal(so.host[0], "example.org");
    assert_int_equal(so.port[0], 443);
    assert_string_equal(so.orig[0], "127.0.0.1");
    assert_int_equal(so.orig_port[0], 50000);
    assert_int_equal(so.kind[1], SSH_CHAN_DIRECT_STREAMLOCAL);
    assert_string_equal(so.type[1], "direct-streamlocal@openssh.com");
    assert_string_equal(so.path[1], "/run/app.sock");

    assert_int_equal(co.n, 2);
    assert_int_equal(co.kind[0], SSH_CHAN_FORWARDED_TCPIP);
    assert_string_equal(co.type[0], "forwarded-tcpip");
    assert_string_equal(co.host[0], "0.0.0.0");
    assert_int_equal(co.port[0], 40000);
    assert_string_equal(co.orig[0], "203.0.113.9");
    assert_int_equal(co.orig_port[0], 61000);
    assert_int_equal(co.kind[1], SSH_CHAN_FORWARDED_STREAMLOCAL);
    assert_string_equal(co.type[1], "forwarded-streamlocal@openssh.com");
    assert_string_equal(co.path[1], "/tmp/fwd.sock");

    /* Data flows on all four. */
    assert_int_equal(ssh_channel_send(p->cli.c, c1, 0, "GET /", 5), 5);
    assert_int_equal(ssh_channel_send(p->srv.c, s2, 0, "sock", 4), 4);
    tp_pump(p, 0);
    assert_int_equal(ssh_buf_len(&tp_chan_of(&p->srv, so.id[0])->sink), 5);
    assert_memory_equal(ssh_buf_ptr(&tp_chan_of(&p->cli, co.id[1])->sink), "sock", 4);
    assert_int_equal(channels_open(p->cli.c), 4);
    assert_int_equal(channels_open(p->srv.c), 4);
    assert_alive(p);

    /* A direct-tcpip open with a missing field is malformed. */
    uint8_t body[] = {0, 0, 0, 12, 'd', 'i', 'r', 'e', 'c', 't',  '-', 't', 'c', 'p', 'i', 'p', 0,
                      0, 0, 9, 0,  1,   0,   0,   0,   0,   0x80, 0,   0,   0,   0,   1,   'h'};
    tp_send_raw(p->cli.c, SSH_MSG_CHANNEL_OPEN, body, sizeof(body));
    tp_pump(p, 0);
    assert_int_equal(ssh_conn_error(p->srv.c), SSH_ERR_INCOMPLETE);
    assert_int_equal(p->cli.disc_reason, SSH_DISCONNECT_PROTOCOL_ERROR);
    tp_pair_free(p);
}

/* ---- data across a key re-exchange -------------------------------------------------------------
 */

typedef struct rekey_ctx {
    size_t before; /* bytes that arrived while only one kex had completed */
    size_t after;
} rekey_ctx;

static void note_kex(tp_side *s, uint32_t id, int stream, const uint8_t *d, size_t n)
{
    rekey_ctx *r = s->hook_ctx;
    assert_int_equal(
        ssh_buf_put(stream ? &tp_chan_of(s, id)->sink_err : &tp_chan_of(s, id)->sink, d, n), 0);
    if (s->kex_done == 1)
        r->before += n;
    else
        r->after += n;
}

static void data_during_rekey(void **state)
{
    (void)state;
    tp_pair *p = connected();
    int id = tp_open_session(p);
    assert_true(id >= 0);
    uint32_t cid = (uint32_t)id;
    rekey_ctx rs = {0, 0};
    p->srv.hook_ctx = &rs;
    p->srv.on_data = note_kex;

    uint8_t buf[20000];
    uint64_t seed = 123;
    test_rand(&seed, buf, sizeof(buf));
    assert_int_equal(ssh_channel_send(p->cli.c, cid, 0, buf, 5000), 5000);
    assert_int_equal(ssh_conn_rekey(p->cli.c), 0);
    /* Queued behind our KEXINIT; the window is still charged. */
    assert_int_equal(ssh_channel_send(p->cli.c, cid, 0, buf + 5000, 10000), 10000);
    assert_int_equal(ssh_channel_send(p->cli.c, cid, 1, buf + 15000, 5000), 5000);
    assert_int_equal(ssh_channel_window(p->cli.c, cid), 2 * 1024 * 1024 - 20000);
    assert_true(ssh_buf_len(&p->cli.c->pending) >= 15000);
    /* Other messages wait there too. */
    ssh_channel_req env = {.type = "env", .want_reply = 1, .name = "K", .value = "V"};
    assert_int_equal(ssh_channel_request_send(p->cli.c, cid, &env, NULL), 0);
    assert_int_equal(ssh_channel_eof(p->cli.c, cid), 0);
    p->chunk = 61;
    tp_pump(p, 0);
    assert_alive(p);
    assert_int_equal(p->srv.kex_done, 2);
    assert_int_equal(rs.before, 5000);
    assert_int_equal(rs.after, 15000);
    tp_chan *s = tp_chan_of(&p->srv, 0);
    assert_int_equal(ssh_buf_len(&s->sink), 15000);
    assert_memory_equal(ssh_buf_ptr(&s->sink), buf, 15000);
    assert_memory_equal(ssh_buf_ptr(&s->sink_err), buf + 15000, 5000);
    assert_int_equal(s->eof, 1);
    assert_int_equal(tp_chan_of(&p->cli, cid)->req_ok, 1);
    assert_int_equal(ssh_buf_len(&p->cli.c->pending), 0);

    /* The server's data during a rekey the client started, both ways. */
    rs.before = rs.after = 0;
    p->srv.on_data = NULL;
    p->chunk = 0;
    assert_int_equal(ssh_conn_rekey(p->cli.c), 0);
    assert_int_equal(ssh_channel_send(p->srv.c, 0, 0, buf, 7000), 7000);
    tp_transfer(p, &p->cli, &p->srv); /* server now in the kex */
    assert_int_equal(ssh_channel_send(p->srv.c, 0, 0, buf + 7000, 7000), 7000);
    assert_true(ssh_buf_len(&p->srv.c->pending) >= 7000);
    tp_pump(p, 0);
    assert_alive(p);
    assert_int_equal(ssh_buf_len(&tp_chan_of(&p->cli, cid)->sink), 14000);
    assert_memory_equal(ssh_buf_ptr(&tp_chan_of(&p->cli, cid)->sink), buf, 14000);
    assert_int_equal(p->cli.kex_done, 3);
    tp_pair_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(open_confirm_and_failures),
        cmocka_unit_test(open_refusal_mapping),
        cmocka_unit_test(open_deferred),
        cmocka_unit_test(data_and_extended_data),
        cmocka_unit_test(eof_then_close),
        cmocka_unit_test(close_variants),
        cmocka_unit_test(zero_copy_send),
        cmocka_unit_test(zero_copy_vectored),
        cmocka_unit_test(zero_copy_with_output_flush),
        cmocka_unit_test(channel_request_types),
        cmocka_unit_test(channel_request_reply_order),
        cmocka_unit_test(global_requests),
        cmocka_unit_test(max_channels),
        cmocka_unit_test(forwarding_open_fields),
        cmocka_unit_test(data_during_rekey),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
