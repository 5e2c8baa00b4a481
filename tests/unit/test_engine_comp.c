/*
 * test_engine_comp.c - compression ("zlib", "zlib@openssh.com") between the
 * client and server engines in memory.
 *
 *  - negotiation: the client's first method the server also lists, for
 *    every pair of preferences, and no common method refused;
 *  - delayed compression starts only after USERAUTH_SUCCESS: an
 *    unauthenticated peer's packets are never inflated;
 *  - data arrives intact both ways, compressible data costs far fewer wire
 *    bytes, and rekeying in the middle restarts the streams on both sides;
 *  - a packet that inflates beyond the packet limit (a "decompression
 *    bomb"), and a corrupt compressed payload, end the connection with
 *    DISCONNECT reason "compression error", never more memory than one
 *    packet's bound;
 *  - a payload above the limit is refused by the sender too.
 */
#include "pump.h"
#include "conn_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static tp_pair *pair(const char *ccomp, const char *scomp, uint64_t rekey_bytes)
{
    ssh_conn_config cc, sc;
    ssh_conn_config_init(&cc, SSH_ROLE_CLIENT);
    ssh_conn_config_init(&sc, SSH_ROLE_SERVER);
    cc.compression = ccomp;
    sc.compression = scomp;
    cc.rekey_bytes = sc.rekey_bytes = rekey_bytes;
    return tp_pair_new(&cc, &sc, tp_key(SSH_KEY_ED25519), tp_key(SSH_KEY_ED25519));
}

static void expect_alg(tp_pair *p, const char *name)
{
    for (int s = SSH_ALG_COMP_CTOS; s <= SSH_ALG_COMP_STOC; s++) {
        assert_string_equal(ssh_conn_alg(p->cli.c, s), name);
        assert_string_equal(ssh_conn_alg(p->srv.c, s), name);
    }
}

static void negotiation(void **state)
{
    (void)state;
    static const struct {
        const char *cli, *srv, *want;
    } cases[] = {
        {NULL, NULL, "none"}, /* defaults: OpenSSH ssh without -C, sshd */
        {"zlib@openssh.com,zlib,none", NULL, "zlib@openssh.com"}, /* ssh -C, sshd */
        {"zlib,none", "none,zlib", "zlib"},
        {"zlib,zlib@openssh.com", "zlib@openssh.com,zlib", "zlib"},
        {"zlib@openssh.com,none", "none", "none"},
        {"bogus,zlib", "zlib", "zlib"}, /* unknown names are dropped */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tp_pair *p = pair(cases[i].cli, cases[i].srv, 0);
        assert_int_equal(tp_connect(p), 0);
        expect_alg(p, cases[i].want);
        tp_pair_free(p);
    }
}

static void no_common_method(void **state)
{
    (void)state;
    tp_pair *p = pair("zlib", "none", 0);
    tp_start(p);
    tp_pump(p, 0);
    assert_true(p->cli.disconnected);
    assert_int_equal(p->cli.disc_err, SSH_ERR_NO_COMPRESS_ALG);
    tp_pair_free(p);
}

/* Delayed compression: nothing is compressed before authentication
 * succeeds; the streams exist only afterwards. */
static void delayed_starts_after_auth(void **state)
{
    (void)state;
    tp_pair *p = pair("zlib@openssh.com", NULL, 0);
    tp_start(p);
    for (int i = 0; i < 100 && !p->cli.kex_done; i++)
        tp_pump(p, 1);
    assert_true(p->cli.kex_done);
    assert_null(p->cli.c->tx.z);
    assert_null(p->srv.c->rx.z);
    tp_pump(p, 0);
    assert_int_equal(ssh_conn_state(p->cli.c), SSH_STATE_OPEN);
    assert_non_null(p->cli.c->tx.z);
    assert_non_null(p->cli.c->rx.z);
    assert_non_null(p->srv.c->tx.z);
    assert_non_null(p->srv.c->rx.z);
    tp_pair_free(p);
}

/* "zlib" starts with the first NEWKEYS, before authentication. */
static void zlib_starts_at_newkeys(void **state)
{
    (void)state;
    tp_pair *p = pair("zlib", "zlib", 0);
    tp_start(p);
    for (int i = 0; i < 100 && !(p->cli.kex_done && p->srv.kex_done); i++)
        tp_pump(p, 1);
    assert_non_null(p->cli.c->tx.z);
    assert_non_null(p->srv.c->rx.z);
    tp_pump(p, 0);
    assert_int_equal(ssh_conn_state(p->cli.c), SSH_STATE_OPEN);
    tp_pair_free(p);
}

/* `n` bytes each way through a new session (the pair's `nth` session,
 * 0-based: the server numbers its channels in order); returns the client's
 * wire bytes out. */
static uint64_t transfer(tp_pair *p, int nth, const uint8_t *up, const uint8_t *down, size_t n)
{
    int id = tp_open_session(p);
    assert_true(id >= 0);
    uint32_t sid = (uint32_t)nth;
    ssh_conn_stats before;
    ssh_conn_get_stats(p->cli.c, &before);
    for (size_t off = 0; off < n;) {
        size_t k = n - off < 30000 ? n - off : 30000;
        long a = ssh_channel_send(p->cli.c, (uint32_t)id, 0, up + off, k);
        long b = ssh_channel_send(p->srv.c, sid, 0, down + off, k);
        assert_true(a > 0 && a == b);
        off += (size_t)a;
        tp_pump(p, 0);
    }
    tp_pump(p, 0);
    tp_chan *s = tp_chan_of(&p->srv, sid), *c = tp_chan_of(&p->cli, (uint32_t)id);
    assert_int_equal(ssh_buf_len(&s->sink), n);
    assert_memory_equal(ssh_buf_ptr(&s->sink), up, n);
    assert_int_equal(ssh_buf_len(&c->sink), n);
    assert_memory_equal(ssh_buf_ptr(&c->sink), down, n);
    ssh_conn_stats after;
    ssh_conn_get_stats(p->cli.c, &after);
    return after.bytes_out - before.bytes_out;
}

static uint8_t *text(size_t n, uint64_t seed)
{
    static const char *words[] = {"tunnel ", "channel ", "window ", "packet ", "forward ",
                                  "session\n", "server ", "client "};
    uint8_t *b = malloc(n);
    assert_non_null(b);
    for (size_t i = 0; i < n;) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        const char *w = words[(seed >> 33) % 8];
        for (size_t j = 0; w[j] && i < n; j++)
            b[i++] = (uint8_t)w[j];
    }
    return b;
}

static void data_intact_and_smaller(void **state)
{
    (void)state;
    const size_t n = 1u << 20;
    uint8_t *up = text(n, 1), *down = text(n, 2), *rnd = malloc(n);
    uint64_t r = 7;
    assert_non_null(rnd);
    test_rand(&r, rnd, n);
    const char *methods[] = {"zlib@openssh.com", "zlib"};
    for (int m = 0; m < 2; m++) {
        tp_pair *p = pair(methods[m], "none,zlib@openssh.com,zlib", 0);
        p->chunk = 1 + 4093 * (size_t)m; /* byte by byte for the first */
        assert_int_equal(tp_connect(p), 0);
        p->chunk = 0;
        expect_alg(p, methods[m]);
        uint64_t wire = transfer(p, 0, up, down, n);
        /* English-like text compresses at least 3:1. */
        assert_true(wire < n / 3);
        /* Random bytes do not, but still arrive. */
        transfer(p, 1, rnd, rnd, n);
        tp_pair_free(p);
    }
    /* Without compression, the same text costs more than its size. */
    tp_pair *p = pair(NULL, NULL, 0);
    assert_int_equal(tp_connect(p), 0);
    assert_true(transfer(p, 0, up, down, n) > n);
    tp_pair_free(p);
    free(up);
    free(down);
    free(rnd);
}

/* The server answers from inside its data callback, before it has looked
 * at the data (as a runtime that writes a window adjust or an echo at once
 * does): the answer is compressed while the received payload, inflated, is
 * still being read.  Found against OpenSSH's ssh -C: the two once shared a
 * scratch buffer, and the server read its own compressed output as the
 * client's message ("message incomplete"). */
static void echo_data(tp_side *s, uint32_t id, int stream, const uint8_t *data, size_t len)
{
    (void)stream;
    assert_int_equal(ssh_channel_send(s->c, id, 0, data, len), (long)len);
    tp_chan *ch = tp_chan_of(s, id);
    assert_int_equal(ssh_buf_put(&ch->sink, data, len), 0);
}

static void reply_inside_callback(void **state)
{
    (void)state;
    const size_t n = 256 * 1024;
    uint8_t *up = text(n, 5);
    tp_pair *p = pair("zlib@openssh.com", NULL, 0);
    assert_int_equal(tp_connect(p), 0);
    p->srv.on_data = echo_data;
    int id = tp_open_session(p);
    assert_true(id >= 0);
    for (size_t off = 0; off < n; off += 8192) {
        assert_int_equal(ssh_channel_send(p->cli.c, (uint32_t)id, 0, up + off, 8192), 8192);
        tp_pump(p, 0);
    }
    tp_chan *s = tp_chan_of(&p->srv, 0), *c = tp_chan_of(&p->cli, (uint32_t)id);
    assert_int_equal(ssh_buf_len(&s->sink), n);
    assert_memory_equal(ssh_buf_ptr(&s->sink), up, n);
    assert_int_equal(ssh_buf_len(&c->sink), n);
    assert_memory_equal(ssh_buf_ptr(&c->sink), up, n);
    assert_false(p->srv.disconnected || p->cli.disconnected);
    tp_pair_free(p);
    free(up);
}

static void rekey_restarts_streams(void **state)
{
    (void)state;
    const size_t n = 4u << 20;
    uint8_t *up = text(n, 3), *down = malloc(n);
    uint64_t r = 9;
    assert_non_null(down);
    test_rand(&r, down, n);
    /* Rekey every 256 KiB of wire bytes: many re-exchanges each way. */
    tp_pair *p = pair("zlib@openssh.com", NULL, 256 * 1024);
    assert_int_equal(tp_connect(p), 0);
    transfer(p, 0, up, down, n);
    ssh_conn_stats st;
    ssh_conn_get_stats(p->cli.c, &st);
    assert_true(st.kex_count > 8);
    expect_alg(p, "zlib@openssh.com");
    assert_non_null(p->cli.c->tx.z);
    assert_false(p->cli.disconnected || p->srv.disconnected);
    tp_pair_free(p);
    free(up);
    free(down);
}

/* Inject a payload that the client's own deflate stream compressed (so the
 * server's inflate stream accepts it as the next packet), bypassing the
 * engine's size check. */
static void inject_compressed(tp_pair *p, const uint8_t *payload, size_t n)
{
    ssh_buf z;
    ssh_buf_init(&z, 4u << 20, 0);
    assert_int_equal(ssh_comp_deflate(p->cli.c->tx.z, payload, n, &z), 0);
    size_t blk = p->cli.c->tx.block;
    size_t aligned = 1 + ssh_buf_len(&z); /* AEAD: length field not aligned */
    size_t pad = blk - aligned % blk;
    if (pad < 4)
        pad += blk;
    tp_inject_packet(p->cli.c, ssh_buf_ptr(&z), ssh_buf_len(&z), pad, 0);
    ssh_buf_free(&z);
}

static void decompression_bomb(void **state)
{
    (void)state;
    tp_pair *p = pair("zlib@openssh.com", NULL, 0);
    assert_int_equal(tp_connect(p), 0);
    /* SSH_MSG_IGNORE with 1 MiB of zeros: about a kilobyte compressed. */
    size_t n = 1u << 20;
    uint8_t *b = calloc(1, n);
    assert_non_null(b);
    b[0] = SSH_MSG_IGNORE;
    inject_compressed(p, b, n);
    assert_true(ssh_buf_len(&p->cli.c->out) < 8192);
    tp_pump(p, 0);
    assert_true(p->srv.disconnected);
    assert_int_equal(p->srv.disc_err, SSH_ERR_COMPRESSION);
    assert_true(p->cli.disconnected);
    assert_int_equal(p->cli.disc_reason, SSH_DISCONNECT_COMPRESSION_ERROR);
    /* The scratch buffer stopped at the bound. */
    assert_true(p->srv.c->zin.cap <= 2 * SSH_PACKET_MAX);
    free(b);
    tp_pair_free(p);
}

static void corrupt_stream(void **state)
{
    (void)state;
    tp_pair *p = pair("zlib@openssh.com", NULL, 0);
    assert_int_equal(tp_connect(p), 0);
    /* A block type 3 (reserved) header: invalid deflate data. */
    uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x00, 0x11, 0x22};
    size_t blk = p->cli.c->tx.block, pad = blk - (1 + sizeof(junk)) % blk;
    if (pad < 4)
        pad += blk;
    tp_inject_packet(p->cli.c, junk, sizeof(junk), pad, 0);
    tp_pump(p, 0);
    assert_true(p->srv.disconnected);
    assert_int_equal(p->srv.disc_err, SSH_ERR_COMPRESSION);
    tp_pair_free(p);
}

static void sender_refuses_oversize_payload(void **state)
{
    (void)state;
    tp_pair *p = pair("zlib@openssh.com", NULL, 0);
    assert_int_equal(tp_connect(p), 0);
    size_t n = SSH_PACKET_MAX;
    uint8_t *b = calloc(1, n);
    assert_non_null(b);
    ssh_buf *pk = ssh_pkt_begin(p->cli.c, SSH_MSG_IGNORE);
    assert_int_equal(ssh_buf_put(pk, b, n), 0);
    assert_int_equal(ssh_pkt_end(p->cli.c), SSH_ERR_PACKET_TOO_LARGE);
    free(b);
    tp_pair_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(negotiation),
        cmocka_unit_test(no_common_method),
        cmocka_unit_test(delayed_starts_after_auth),
        cmocka_unit_test(zlib_starts_at_newkeys),
        cmocka_unit_test(data_intact_and_smaller),
        cmocka_unit_test(reply_inside_callback),
        cmocka_unit_test(rekey_restarts_streams),
        cmocka_unit_test(decompression_bomb),
        cmocka_unit_test(corrupt_stream),
        cmocka_unit_test(sender_refuses_oversize_payload),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
