/*
 * test_engine_kexmsg.c - which messages a peer may send while a key
 * exchange runs, in memory, both roles.
 *
 * RFC 4253 section 7.1 forbids anything but transport messages between a
 * party's KEXINIT and its NEWKEYS, but AsyncSSH keeps sending channel data
 * there, and OpenSSH accepts it during a re-exchange (its key exchange only
 * takes over the handlers of messages 1-49).  The engine does the same:
 *
 *  - during a re-exchange, connection messages that arrive after the
 *    peer's KEXINIT (still under the old keys) are handled as at any other
 *    time, and our answers wait for our NEWKEYS;
 *  - during the first exchange nothing above 49 is accepted: with strict
 *    KEX (both sides offered it) as a strict-KEX violation, without it as
 *    an unexpected message.
 *
 * The misbehaving peer is simulated with tp_inject_packet(): a packet built
 * with the sender's current outgoing keys, behind its KEXINIT, bypassing
 * the engine's own queue (which would hold it until NEWKEYS).
 */
#define _GNU_SOURCE /* memmem */
#include "pump.h"
#include "conn_int.h"
#include "kex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static ssh_key *ed(void)
{
    return tp_key(SSH_KEY_ED25519);
}

static const struct {
    const char *cipher, *mac;
} suites[] = {
    {"chacha20-poly1305@openssh.com", "hmac-sha2-256"},
    {"aes128-gcm@openssh.com", "hmac-sha2-256"},
    {"aes128-ctr", "hmac-sha2-256"},
    {"aes256-ctr", "hmac-sha2-512-etm@openssh.com"},
};
#define N_SUITES (sizeof(suites) / sizeof(suites[0]))

static tp_pair *pair_with(const char *cipher, const char *mac)
{
    ssh_conn_config cc, sc;
    ssh_conn_config_init(&cc, SSH_ROLE_CLIENT);
    ssh_conn_config_init(&sc, SSH_ROLE_SERVER);
    cc.ciphers = sc.ciphers = cipher;
    cc.macs = sc.macs = mac;
    return tp_pair_new(&cc, &sc, ed(), ed());
}

static uint32_t kex_count(ssh_conn *c)
{
    ssh_conn_stats st;
    ssh_conn_get_stats(c, &st);
    return st.kex_count;
}

/* Append a well-formed packet with `payload` to c's output, protected with
 * c's current outgoing keys, as a peer that ignores section 7.1 would. */
static void inject(ssh_conn *c, const uint8_t *payload, size_t n)
{
    const ssh_pktdir *d = &c->tx;
    size_t head = (d->aead || d->etm) ? 1 : 5; /* bytes aligned with the payload */
    size_t pad = d->block - ((head + n) % d->block);
    if (pad < 4)
        pad += d->block;
    tp_inject_packet(c, payload, n, pad, 0);
}

/* Payload builders; each returns the length. */
static size_t msg_data(uint8_t *b, uint32_t rid, const char *s)
{
    size_t l = strlen(s);
    b[0] = SSH_MSG_CHANNEL_DATA;
    ssh_poke_u32(b + 1, rid);
    ssh_poke_u32(b + 5, (uint32_t)l);
    memcpy(b + 9, s, l);
    return 9 + l;
}

static size_t msg_window(uint8_t *b, uint32_t rid, uint32_t n)
{
    b[0] = SSH_MSG_CHANNEL_WINDOW_ADJUST;
    ssh_poke_u32(b + 1, rid);
    ssh_poke_u32(b + 5, n);
    return 9;
}

static size_t msg_chreq(uint8_t *b, uint32_t rid, const char *type, const uint8_t *extra,
                        size_t extra_len)
{
    size_t l = strlen(type);
    b[0] = SSH_MSG_CHANNEL_REQUEST;
    ssh_poke_u32(b + 1, rid);
    ssh_poke_u32(b + 5, (uint32_t)l);
    memcpy(b + 9, type, l);
    b[9 + l] = 0; /* want_reply FALSE */
    memcpy(b + 10 + l, extra, extra_len);
    return 10 + l + extra_len;
}

static size_t msg_global(uint8_t *b, const char *name)
{
    size_t l = strlen(name);
    b[0] = SSH_MSG_GLOBAL_REQUEST;
    ssh_poke_u32(b + 1, (uint32_t)l);
    memcpy(b + 5, name, l);
    b[5 + l] = 0; /* want_reply FALSE */
    return 6 + l;
}

static size_t put_str(uint8_t *b, const char *s)
{
    size_t l = strlen(s);
    ssh_poke_u32(b, (uint32_t)l);
    memcpy(b + 4, s, l);
    return 4 + l;
}

static size_t msg_userauth_none(uint8_t *b)
{
    size_t n = 0;
    b[n++] = SSH_MSG_USERAUTH_REQUEST;
    n += put_str(b + n, "user");
    n += put_str(b + n, "ssh-connection");
    n += put_str(b + n, "none");
    return n;
}

static size_t msg_eof(uint8_t *b, uint32_t rid)
{
    b[0] = SSH_MSG_CHANNEL_EOF;
    ssh_poke_u32(b + 1, rid);
    return 5;
}

/* ---- re-exchange: the client keeps talking after its KEXINIT ------------------------------ */

/* `initiator_is_sender`: the client starts the re-exchange itself (and sends
 * data right behind its KEXINIT), or the server starts it and the client
 * answers with KEXINIT and its first method message, then more data - the
 * two ways AsyncSSH does it. */
static void client_talks_during_rekey(const char *cipher, const char *mac, int initiator_is_sender)
{
    tp_pair *p = pair_with(cipher, mac);
    assert_int_equal(tp_connect(p), 0);
    int cid = tp_open_session(p);
    assert_true(cid >= 0);
    const uint32_t sid = 0; /* the server's first channel */
    uint64_t srv_req0 = (uint64_t)tp_chan_of(&p->srv, sid)->requests;
    int glob0 = p->srv.global_requests;

    if (initiator_is_sender) {
        assert_int_equal(ssh_conn_rekey(p->cli.c), 0);
    } else {
        assert_int_equal(ssh_conn_rekey(p->srv.c), 0);
        tp_transfer(p, &p->srv, &p->cli); /* client: KEXINIT in, KEXINIT + INIT out */
        assert_int_equal(ssh_conn_error(p->cli.c), 0);
        assert_non_null(p->cli.c->kex);
        assert_true(p->cli.c->kex->flags & KEX_SENT_INIT);
    }
    assert_non_null(p->cli.c->kex);
    assert_false(p->cli.c->kex->flags & KEX_SENT_NEWKEYS);

    uint8_t b[256];
    const uint8_t wc[16] = {0, 0, 0, 80, 0, 0, 0, 24, 0, 0, 0, 0, 0, 0, 0, 0};
    inject(p->cli.c, b, msg_data(b, sid, "first "));
    inject(p->cli.c, b, msg_window(b, sid, 4096));
    inject(p->cli.c, b, msg_chreq(b, sid, "window-change", wc, sizeof(wc)));
    inject(p->cli.c, b, msg_global(b, "no-more-sessions@openssh.com"));
    b[0] = 200; /* unassigned: UNIMPLEMENTED, as at any other time */
    inject(p->cli.c, b, 1);
    inject(p->cli.c, b, msg_data(b, sid, "second"));

    /* The server reads the client's KEXINIT and everything behind it, all
     * under the old keys. */
    tp_transfer(p, &p->cli, &p->srv);
    assert_int_equal(ssh_conn_error(p->srv.c), 0);
    assert_non_null(p->srv.c->kex);
    assert_true(p->srv.c->kex->flags & KEX_GOT_INIT);
    assert_false(p->srv.c->kex->flags & KEX_GOT_NEWKEYS);
    tp_chan *sc = tp_chan_of(&p->srv, sid);
    assert_int_equal(ssh_buf_len(&sc->sink), 12);
    assert_memory_equal(ssh_buf_ptr(&sc->sink), "first second", 12);
    assert_int_equal(sc->requests, srv_req0 + 1);
    assert_string_equal(sc->last_req, "window-change");
    assert_int_equal(p->srv.global_requests, glob0 + 1);

    /* The exchange completes and both go on under the new keys; the
     * server's own data and its UNIMPLEMENTED went out after its NEWKEYS. */
    char expect[64];
    snprintf(expect, sizeof(expect), "Received SSH2_MSG_UNIMPLEMENTED for ");
    p->cli.log_grep = expect;
    assert_int_equal(ssh_channel_send(p->srv.c, sid, 0, "reply", 5), 5);
    tp_pump(p, 0);
    assert_int_equal(ssh_conn_error(p->srv.c), 0);
    assert_int_equal(ssh_conn_error(p->cli.c), 0);
    assert_int_equal(kex_count(p->srv.c), 2);
    assert_int_equal(kex_count(p->cli.c), 2);
    assert_int_equal(p->cli.log_hits, 1);
    tp_chan *cc = tp_chan_of(&p->cli, (uint32_t)cid);
    assert_int_equal(ssh_buf_len(&cc->sink), 5);
    assert_int_equal(ssh_channel_send(p->cli.c, (uint32_t)cid, 0, "after", 5), 5);
    tp_pump(p, 0);
    assert_int_equal(ssh_buf_len(&sc->sink), 17);
    assert_int_equal(ssh_conn_error(p->srv.c), 0);
    tp_pair_free(p);
}

static void rekey_client_messages_after_kexinit(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_SUITES; i++) {
        client_talks_during_rekey(suites[i].cipher, suites[i].mac, 1);
        client_talks_during_rekey(suites[i].cipher, suites[i].mac, 0);
    }
}

/* ---- re-exchange: the server keeps talking after its KEXINIT -------------------------------- */

static void server_talks_during_rekey(const char *cipher, const char *mac, int initiator_is_sender)
{
    tp_pair *p = pair_with(cipher, mac);
    assert_int_equal(tp_connect(p), 0);
    int cid = tp_open_session(p);
    assert_true(cid >= 0);
    const uint32_t sid = 0;

    if (initiator_is_sender) {
        assert_int_equal(ssh_conn_rekey(p->srv.c), 0);
    } else {
        assert_int_equal(ssh_conn_rekey(p->cli.c), 0);
        tp_transfer(p, &p->cli, &p->srv); /* server: KEXINIT in, KEXINIT out */
        assert_int_equal(ssh_conn_error(p->srv.c), 0);
    }
    assert_non_null(p->srv.c->kex);
    assert_true(p->srv.c->kex->flags & KEX_SENT_INIT);
    assert_false(p->srv.c->kex->flags & KEX_SENT_NEWKEYS);

    /* What a session's end looks like: output, EOF, exit-status. */
    uint8_t b[256];
    const uint8_t status[4] = {0, 0, 0, 3};
    inject(p->srv.c, b, msg_data(b, (uint32_t)cid, "output"));
    inject(p->srv.c, b, msg_window(b, (uint32_t)cid, 8192));
    inject(p->srv.c, b, msg_eof(b, (uint32_t)cid));
    inject(p->srv.c, b, msg_chreq(b, (uint32_t)cid, "exit-status", status, sizeof(status)));

    tp_transfer(p, &p->srv, &p->cli);
    assert_int_equal(ssh_conn_error(p->cli.c), 0);
    assert_non_null(p->cli.c->kex);
    assert_false(p->cli.c->kex->flags & KEX_GOT_NEWKEYS);
    tp_chan *cc = tp_chan_of(&p->cli, (uint32_t)cid);
    assert_int_equal(ssh_buf_len(&cc->sink), 6);
    assert_memory_equal(ssh_buf_ptr(&cc->sink), "output", 6);
    assert_int_equal(cc->eof, 1);
    assert_int_equal(cc->got_exit_status, 1);
    assert_int_equal(cc->exit_status, 3);

    tp_pump(p, 0);
    assert_int_equal(ssh_conn_error(p->srv.c), 0);
    assert_int_equal(ssh_conn_error(p->cli.c), 0);
    assert_int_equal(kex_count(p->srv.c), 2);
    assert_int_equal(kex_count(p->cli.c), 2);
    /* The client's CLOSE, queued during the exchange, arrives. */
    assert_int_equal(ssh_channel_close(p->cli.c, (uint32_t)cid), 0);
    tp_pump(p, 0);
    assert_int_equal(ssh_conn_error(p->srv.c), 0);
    assert_int_equal(tp_chan_of(&p->srv, sid)->closed, 1);
    tp_pair_free(p);
}

static void rekey_server_messages_after_kexinit(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_SUITES; i++) {
        server_talks_during_rekey(suites[i].cipher, suites[i].mac, 1);
        server_talks_during_rekey(suites[i].cipher, suites[i].mac, 0);
    }
}

/* Our own side still holds its connection messages during the exchange
 * (the tolerance is for input only): between our KEXINIT and our NEWKEYS
 * nothing but transport messages leaves. */
static void rekey_own_output_still_waits(void **state)
{
    (void)state;
    tp_pair *p = pair_with("aes128-gcm@openssh.com", "hmac-sha2-256");
    assert_int_equal(tp_connect(p), 0);
    int cid = tp_open_session(p);
    assert_true(cid >= 0);
    assert_int_equal(ssh_conn_rekey(p->cli.c), 0);
    size_t kexinit_len = ssh_conn_output_pending(p->cli.c);
    assert_true(kexinit_len > 0);
    assert_int_equal(ssh_channel_send(p->cli.c, (uint32_t)cid, 0, "held", 4), 4);
    assert_int_equal(ssh_conn_output_pending(p->cli.c), kexinit_len);
    tp_pump(p, 0);
    assert_int_equal(kex_count(p->srv.c), 2);
    assert_int_equal(ssh_buf_len(&tp_chan_of(&p->srv, 0)->sink), 4);
    tp_pair_free(p);
}

/* ---- the first exchange stays strict -------------------------------------------------------- */

/* `side` failed with `err`, and the peer heard the DISCONNECT. */
static void assert_refused(tp_side *side, tp_side *peer, int err)
{
    assert_int_equal(ssh_conn_error(side->c), err);
    assert_int_equal(side->disc_err, err);
    assert_int_equal(side->disc_reason, SSH_DISCONNECT_PROTOCOL_ERROR);
    assert_int_equal(peer->disc_err, SSH_ERR_DISCONNECTED);
    assert_int_equal(peer->disc_reason, SSH_DISCONNECT_PROTOCOL_ERROR);
    assert_int_equal(side->kex_done, 0);
}

/* Connection and authentication messages right behind the first KEXINIT,
 * from either side: with strict KEX a strict-KEX violation. */
static void first_kex_strict_refuses(void **state)
{
    (void)state;
    uint8_t b[256];
    for (int who = 0; who < 2; who++) {
        for (int m = 0; m < 4; m++) {
            tp_pair *p = tp_pair_new(NULL, NULL, ed(), ed());
            tp_side *from = who ? &p->srv : &p->cli, *to = who ? &p->cli : &p->srv;
            tp_start(p);
            size_t n;
            switch (m) {
            case 0:
                n = msg_data(b, 0, "early");
                break;
            case 1:
                n = msg_global(b, "keepalive@openssh.com");
                break;
            case 2:
                n = msg_window(b, 0, 100);
                break;
            default:
                n = msg_userauth_none(b);
                break;
            }
            inject(from->c, b, n);
            tp_pump(p, 0);
            if (ssh_conn_error(to->c) != SSH_ERR_STRICT_KEX)
                fail_msg("from %s, message %u: %s", who ? "server" : "client", b[0],
                         ssh_strerror(ssh_conn_error(to->c)));
            assert_refused(to, from, SSH_ERR_STRICT_KEX);
            tp_pair_free(p);
        }
    }
}

/* Rename the strict-KEX pseudo-algorithms in both queued first KEXINITs
 * (the wire copies and the ones the exchange hash uses): neither side then
 * sees the other offer strict KEX, as with a peer that does not know it. */
static void pair_without_strict_kex(tp_pair *p)
{
    static const char *const names[2] = {"kex-strict-c-v00@openssh.com",
                                         "kex-strict-s-v00@openssh.com"};
    for (int s = 0; s < 2; s++) {
        ssh_conn *c = s ? p->srv.c : p->cli.c;
        ssh_buf *bufs[2] = {&c->out, &c->kex->my_init};
        for (int i = 0; i < 2; i++) {
            uint8_t *base = ssh_buf_mutable_ptr(bufs[i]);
            uint8_t *at = memmem(base, bufs[i]->len, names[s], strlen(names[s]));
            assert_non_null(at);
            at[11] = 'x'; /* kex-strict-x-v00@openssh.com: unknown, ignored */
        }
    }
}

/* Without strict KEX the first exchange still takes nothing above 49 (no
 * service exists yet), but transport messages such as IGNORE are fine. */
static void first_kex_without_strict(void **state)
{
    (void)state;
    uint8_t b[64];
    tp_pair *p = tp_pair_new(NULL, NULL, ed(), ed());
    tp_start(p);
    pair_without_strict_kex(p);
    inject(p->cli.c, b, msg_global(b, "keepalive@openssh.com"));
    tp_pump(p, 0);
    assert_int_equal(ssh_conn_strict_kex(p->srv.c), 0);
    assert_refused(&p->srv, &p->cli, SSH_ERR_UNEXPECTED);
    tp_pair_free(p);

    p = tp_pair_new(NULL, NULL, ed(), ed());
    tp_start(p);
    pair_without_strict_kex(p);
    b[0] = SSH_MSG_IGNORE;
    memset(b + 1, 0, 4);
    inject(p->cli.c, b, 5);
    tp_pump(p, 0);
    assert_int_equal(ssh_conn_state(p->cli.c), SSH_STATE_OPEN);
    assert_int_equal(ssh_conn_strict_kex(p->srv.c), 0);
    assert_int_equal(ssh_conn_strict_kex(p->cli.c), 0);
    assert_int_equal(kex_count(p->srv.c), 1);
    tp_pair_free(p);
}

/* ---- the optimistic first kex packet ----------------------------------------------------- */

/* Set first_kex_packet_follows in the client's queued first KEXINIT (the
 * wire copy and the one the exchange hash uses) and append a guessed
 * ECDH_INIT whose public value has a wrong length (31 bytes): handled, it
 * ends the exchange with SSH_ERR_KEX; ignored, nothing happens. */
static void client_guesses(tp_pair *p)
{
    ssh_conn *c = p->cli.c;
    ssh_buf *mi = &c->kex->my_init;
    uint8_t *base = ssh_buf_mutable_ptr(&c->out);
    uint8_t *nl = memchr(base, '\n', c->out.len);
    assert_non_null(nl);
    uint8_t *pkt = nl + 1;
    size_t paylen = ssh_peek_u32(pkt) - pkt[4] - 1;
    assert_int_equal(pkt[5], SSH_MSG_KEXINIT);
    assert_int_equal(paylen, mi->len);
    assert_memory_equal(pkt + 5, ssh_buf_ptr(mi), paylen);
    pkt[5 + paylen - 5] = 1;
    ssh_buf_mutable_ptr(mi)[mi->len - 5] = 1;
    uint8_t b[64] = {SSH_MSG_KEX_ECDH_INIT, 0, 0, 0, 31};
    memset(b + 5, 9, 31);
    inject(c, b, 5 + 31);
}

/* RFC 4253 section 7: the guess is right only when both sides prefer the
 * same kex and host key algorithm - not merely when the negotiated method
 * is the guessed one (Dropbear guesses and resends when the server prefers
 * another method first, as sshtund does with the post-quantum hybrids). */
static void first_kex_packet_follows(void **state)
{
    (void)state;
    for (int right = 0; right < 2; right++) {
        ssh_conn_config cc, sc;
        ssh_conn_config_init(&cc, SSH_ROLE_CLIENT);
        ssh_conn_config_init(&sc, SSH_ROLE_SERVER);
        cc.kex_algs = "curve25519-sha256,ecdh-sha2-nistp256";
        sc.kex_algs =
            right ? "curve25519-sha256,ecdh-sha2-nistp256" : "ecdh-sha2-nistp256,curve25519-sha256";
        cc.hostkey_algs = "ssh-ed25519";
        tp_pair *p = tp_pair_new(&cc, &sc, ed(), ed());
        tp_start(p);
        client_guesses(p);
        tp_pump(p, 0);
        if (right) {
            /* Right guess: the packet is the client's ECDH_INIT. */
            assert_int_equal(ssh_conn_error(p->srv.c), SSH_ERR_KEX);
            assert_int_equal(p->cli.disc_reason, SSH_DISCONNECT_KEY_EXCHANGE_FAILED);
        } else {
            /* Wrong guess (curve25519 negotiated all the same): discarded,
             * the client's real ECDH_INIT follows. */
            assert_int_equal(ssh_conn_error(p->srv.c), 0);
            assert_int_equal(ssh_conn_state(p->cli.c), SSH_STATE_OPEN);
            assert_string_equal(ssh_conn_alg(p->srv.c, SSH_ALG_KEX), "curve25519-sha256");
        }
        tp_pair_free(p);
    }
}

/* ---- key exchange messages outside an exchange -------------------------------------------- */

/* A key exchange method message (30-49) or a NEWKEYS when no exchange is
 * running: OpenSSH's kex_protocol_error answers UNIMPLEMENTED and goes on;
 * so does the engine (it used to disconnect).  Both directions, and the
 * connection still carries data afterwards. */
static void kex_message_outside_exchange(void **state)
{
    (void)state;
    for (int who = 0; who < 2; who++) {
        tp_pair *p = tp_pair_new(NULL, NULL, ed(), ed());
        assert_int_equal(tp_connect(p), 0);
        int cid = tp_open_session(p);
        assert_true(cid >= 0);
        tp_side *from = who ? &p->srv : &p->cli, *to = who ? &p->cli : &p->srv;
        from->log_grep = "Received SSH2_MSG_UNIMPLEMENTED for ";
        from->log_hits = 0;
        uint8_t m31[] = {31, 0, 0, 0, 4, 'j', 'u', 'n', 'k'};
        uint8_t m21[] = {SSH_MSG_NEWKEYS};
        inject(from->c, m31, sizeof(m31));
        inject(from->c, m21, sizeof(m21));
        tp_pump(p, 0);
        if (ssh_conn_error(to->c) != 0)
            fail_msg("from %s: %s", who ? "server" : "client", ssh_strerror(ssh_conn_error(to->c)));
        assert_int_equal(ssh_conn_error(from->c), 0);
        assert_int_equal(from->log_hits, 2);
        assert_int_equal(kex_count(to->c), 1);
        assert_int_equal(ssh_channel_send(p->cli.c, (uint32_t)cid, 0, "still", 5), 5);
        tp_pump(p, 0);
        assert_int_equal(ssh_buf_len(&tp_chan_of(&p->srv, 0)->sink), 5);
        tp_pair_free(p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rekey_client_messages_after_kexinit),
        cmocka_unit_test(rekey_server_messages_after_kexinit),
        cmocka_unit_test(rekey_own_output_still_waits),
        cmocka_unit_test(first_kex_strict_refuses),
        cmocka_unit_test(first_kex_without_strict),
        cmocka_unit_test(first_kex_packet_follows),
        cmocka_unit_test(kex_message_outside_exchange),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
