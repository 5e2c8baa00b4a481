/*
 * test_engine_closehold.c - a CLOSE from the peer that the application
 * holds (channel_peer_close returns SSH_DEFERRED), in memory.
 *
 * RFC 4254 section 5.3 lets a party send CLOSE once both EOFs went by, and
 * some clients do (Dropbear's dbclient).  A server that answered at once
 * would never send the exit status of a process not reaped yet; sshd holds
 * its CLOSE until then.  The engine lets the application do the same: the
 * channel stays until ssh_channel_close(), requests without a reply may
 * still go out, and a client takes exit-status after its own CLOSE.
 */
#include "pump.h"
#include "conn_int.h"

#include <string.h>

static ssh_key *ed(void)
{
    return tp_key(SSH_KEY_ED25519);
}

/* A session with both EOFs through and the client's CLOSE sent; `hold`
 * decides the server's answer.  *cid gets the client's channel id (the
 * server's is 0). */
static tp_pair *closed_by_client(int hold, int *cid)
{
    tp_pair *p = tp_pair_new(NULL, NULL, ed(), ed());
    p->srv.hold_close = hold;
    assert_int_equal(tp_connect(p), 0);
    *cid = tp_open_session(p);
    assert_true(*cid >= 0);
    assert_int_equal(ssh_channel_send(p->srv.c, 0, 0, "out", 3), 3);
    assert_int_equal(ssh_channel_eof(p->srv.c, 0), 0);
    assert_int_equal(ssh_channel_eof(p->cli.c, (uint32_t)*cid), 0);
    tp_pump(p, 0);
    assert_int_equal(tp_chan_of(&p->cli, (uint32_t)*cid)->eof, 1);
    assert_int_equal(tp_chan_of(&p->srv, 0)->eof, 1);
    assert_int_equal(ssh_channel_close(p->cli.c, (uint32_t)*cid), 0);
    tp_pump(p, 0);
    assert_int_equal(ssh_conn_error(p->srv.c), 0);
    assert_int_equal(ssh_conn_error(p->cli.c), 0);
    assert_int_equal(tp_chan_of(&p->srv, 0)->peer_closes, 1);
    return p;
}

static uint32_t channels(ssh_conn *c)
{
    ssh_conn_stats st;
    ssh_conn_get_stats(c, &st);
    return st.channels_open;
}

static const ssh_channel_req exit3 = {.type = "exit-status", .exit_status = 3};

/* Without a hold the CLOSE is answered at once: nothing can follow. */
static void peer_close_answered_at_once(void **state)
{
    (void)state;
    int cid;
    tp_pair *p = closed_by_client(0, &cid);
    assert_int_equal(tp_chan_of(&p->srv, 0)->closed, 1);
    assert_int_equal(tp_chan_of(&p->cli, (uint32_t)cid)->closed, 1);
    assert_int_equal(ssh_channel_request_send(p->srv.c, 0, &exit3, NULL), SSH_ERR_CHANNEL_UNKNOWN);
    tp_pair_free(p);
}

/* Held: the exit status goes out first, then our CLOSE, and the client
 * (which closed first) still records the status. */
static void peer_close_held_for_exit_status(void **state)
{
    (void)state;
    int cid;
    tp_pair *p = closed_by_client(1, &cid);
    tp_chan *sc = tp_chan_of(&p->srv, 0), *cc = tp_chan_of(&p->cli, (uint32_t)cid);
    assert_int_equal(sc->closed, 0);
    assert_int_equal(cc->closed, 0);
    assert_int_equal(channels(p->srv.c), 1);

    /* Nothing but requests without a reply may go out meanwhile. */
    assert_true(ssh_channel_send(p->srv.c, 0, 0, "late", 4) <= 0);
    assert_int_equal(ssh_channel_eof(p->srv.c, 0), SSH_ERR_CHANNEL_STATE);
    ssh_channel_req ask = {.type = "keepalive@openssh.com", .want_reply = 1};
    assert_int_equal(ssh_channel_request_send(p->srv.c, 0, &ask, NULL), SSH_ERR_CHANNEL_STATE);
    assert_int_equal(ssh_conn_output_pending(p->srv.c), 0);

    assert_int_equal(ssh_channel_request_send(p->srv.c, 0, &exit3, NULL), 0);
    assert_int_equal(ssh_channel_close(p->srv.c, 0), 0);
    /* Freed before ssh_channel_close returned. */
    assert_int_equal(sc->closed, 1);
    assert_int_equal(ssh_channel_close(p->srv.c, 0), SSH_ERR_CHANNEL_UNKNOWN);
    tp_pump(p, 0);
    assert_int_equal(ssh_conn_error(p->srv.c), 0);
    assert_int_equal(ssh_conn_error(p->cli.c), 0);
    assert_int_equal(cc->got_exit_status, 1);
    assert_int_equal(cc->exit_status, 3);
    assert_int_equal(cc->closed, 1);
    assert_memory_equal(ssh_buf_ptr(&cc->sink), "out", 3);
    assert_int_equal(channels(p->cli.c), 0);
    assert_int_equal(channels(p->srv.c), 0);
    tp_pair_free(p);
}

/* A held channel goes away with its connection (no leak, no callback
 * after the end). */
static void peer_close_held_connection_ends(void **state)
{
    (void)state;
    int cid;
    tp_pair *p = closed_by_client(1, &cid);
    assert_int_equal(tp_chan_of(&p->srv, 0)->closed, 0);
    assert_int_equal(ssh_conn_disconnect(p->srv.c, SSH_DISCONNECT_BY_APPLICATION, "bye"), 0);
    tp_pump(p, 0);
    assert_int_equal(p->cli.disc_err, SSH_ERR_DISCONNECTED);
    tp_pair_free(p);
}

/* The callback may close by itself, deferring or not: one CLOSE, one
 * channel_closed. */
static int close_inside(tp_side *s, uint32_t id)
{
    assert_int_equal(ssh_channel_request_send(s->c, id, &exit3, NULL), 0);
    assert_int_equal(ssh_channel_close(s->c, id), 0);
    return *(int *)s->hook_ctx;
}

static void peer_close_closed_inside_callback(void **state)
{
    (void)state;
    for (int ret = 0; ret < 2; ret++) {
        int rv = ret ? SSH_DEFERRED : 0;
        tp_pair *p = tp_pair_new(NULL, NULL, ed(), ed());
        p->srv.on_peer_close = close_inside;
        p->srv.hook_ctx = &rv;
        assert_int_equal(tp_connect(p), 0);
        int cid = tp_open_session(p);
        assert_true(cid >= 0);
        assert_int_equal(ssh_channel_close(p->cli.c, (uint32_t)cid), 0);
        tp_pump(p, 0);
        assert_int_equal(ssh_conn_error(p->srv.c), 0);
        assert_int_equal(ssh_conn_error(p->cli.c), 0);
        assert_int_equal(tp_chan_of(&p->srv, 0)->closed, 1);
        assert_int_equal(tp_chan_of(&p->cli, (uint32_t)cid)->closed, 1);
        assert_int_equal(tp_chan_of(&p->cli, (uint32_t)cid)->exit_status, 3);
        assert_int_equal(channels(p->srv.c), 0);
        tp_pair_free(p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(peer_close_answered_at_once),
        cmocka_unit_test(peer_close_held_for_exit_status),
        cmocka_unit_test(peer_close_held_connection_ends),
        cmocka_unit_test(peer_close_closed_inside_callback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
