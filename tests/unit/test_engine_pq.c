/*
 * test_engine_pq.c - the post-quantum hybrid key exchanges in the engine:
 * mlkem768x25519-sha256 and sntrup761x25519-sha512(@openssh.com), client
 * engine against server engine in memory.
 *
 *  - Both defaults negotiate mlkem768x25519-sha256; each hybrid can be
 *    forced on either side; K is a string (the exchange hash and the keys
 *    agree on both sides, so the session works).
 *  - Rejection paths, each by editing the one plaintext packet between the
 *    engines (before the first NEWKEYS nothing is encrypted): a client share
 *    one byte short or long, an ML-KEM public key with a coefficient >= q,
 *    an all-zero X25519 share, a server reply of the wrong length.  Each
 *    ends in a DISCONNECT (key exchange failed) whose text names the
 *    method and the problem, received by the peer.  A reply whose KEM
 *    ciphertext was changed decapsulates implicitly to another secret:
 *    the client then refuses the server's signature.
 */
#include "pump.h"

#include "sshtun/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSG_KEX_ECDH_INIT  30
#define MSG_KEX_ECDH_REPLY 31

static const char *const hybrids[] = {
    "mlkem768x25519-sha256",
    "sntrup761x25519-sha512",
    "sntrup761x25519-sha512@openssh.com",
};

static void test_default_is_mlkem(void **state)
{
    (void)state;
    tp_pair *p = tp_pair_new(NULL, NULL, tp_key(SSH_KEY_ED25519), tp_key(SSH_KEY_ED25519));
    assert_int_equal(tp_connect(p), 0);
    assert_string_equal(ssh_conn_alg(p->cli.c, SSH_ALG_KEX), "mlkem768x25519-sha256");
    assert_string_equal(ssh_conn_alg(p->srv.c, SSH_ALG_KEX), "mlkem768x25519-sha256");
    tp_pair_free(p);
}

/* Each side's list decides nothing alone: a client that lists only a
 * hybrid gets it from a default server, and the other way round. */
static void test_each_forced(void **state)
{
    (void)state;
    for (size_t i = 0; i < 3; i++) {
        for (int side = 0; side < 2; side++) {
            ssh_conn_config cc, sc;
            ssh_conn_config_init(&cc, SSH_ROLE_CLIENT);
            ssh_conn_config_init(&sc, SSH_ROLE_SERVER);
            if (side == 0)
                cc.kex_algs = hybrids[i];
            else
                sc.kex_algs = hybrids[i];
            tp_pair *p = tp_pair_new(&cc, &sc, tp_key(SSH_KEY_ED25519), tp_key(SSH_KEY_ED25519));
            assert_int_equal(tp_connect(p), 0);
            assert_string_equal(ssh_conn_alg(p->cli.c, SSH_ALG_KEX), hybrids[i]);
            int id = tp_open_session(p);
            assert_true(id >= 0);
            assert_int_equal(ssh_channel_send(p->cli.c, (uint32_t)id, 0, "pq", 2), 2);
            tp_pump(p, 0);
            tp_chan *s0 = tp_chan_of(&p->srv, 0);
            assert_int_equal(ssh_buf_len(&s0->sink), 2);
            tp_pair_free(p);
        }
    }
}

/* ---- editing the plaintext packet in flight ----------------------------------- */

/* Move all of from's output into `raw`. */
static size_t drain(tp_side *from, uint8_t *raw, size_t cap)
{
    struct iovec iov[8];
    size_t got = 0, n = ssh_conn_output(from->c, iov, 8);
    for (size_t i = 0; i < n; i++) {
        assert_true(got + iov[i].iov_len <= cap);
        memcpy(raw + got, iov[i].iov_base, iov[i].iov_len);
        got += iov[i].iov_len;
    }
    ssh_conn_output_consumed(from->c, got);
    return got;
}

/* An unencrypted binary packet (RFC 4253 section 6) around payload[n]. */
static size_t frame(uint8_t *out, const uint8_t *payload, size_t n)
{
    size_t pad = 8 - ((5 + n) % 8);
    if (pad < 4)
        pad += 8;
    uint32_t plen = (uint32_t)(1 + n + pad);
    out[0] = (uint8_t)(plen >> 24), out[1] = (uint8_t)(plen >> 16);
    out[2] = (uint8_t)(plen >> 8), out[3] = (uint8_t)plen;
    out[4] = (uint8_t)pad;
    memcpy(out + 5, payload, n);
    memset(out + 5 + n, 0, pad);
    return 4 + plen;
}

typedef void (*edit_fn)(uint8_t *payload, size_t *n, size_t cap);

/* Run the handshake of `kex` up to the packet of `type` that `from` sends,
 * let `edit` change its payload (the packet holds type byte first), feed
 * the result and everything else on, and pump to the end. */
static tp_pair *run_edited(const char *kex, int from_server, uint8_t type, edit_fn edit)
{
    ssh_conn_config cc, sc;
    ssh_conn_config_init(&cc, SSH_ROLE_CLIENT);
    ssh_conn_config_init(&sc, SSH_ROLE_SERVER);
    cc.kex_algs = sc.kex_algs = kex;
    tp_pair *p = tp_pair_new(&cc, &sc, tp_key(SSH_KEY_ED25519), tp_key(SSH_KEY_ED25519));
    tp_start(p);
    tp_side *src = from_server ? &p->srv : &p->cli, *dst = from_server ? &p->cli : &p->srv;
    static uint8_t raw[64 * 1024], out[64 * 1024];
    int edited = 0;
    for (int round = 0; round < 20 && !edited; round++) {
        /* the other direction flows freely */
        tp_transfer(p, dst, src);
        size_t n = drain(src, raw, sizeof(raw)), pos = 0, o = 0;
        /* identification line(s) first, then packets */
        if (n >= 4 && memcmp(raw, "SSH-", 4) == 0) {
            uint8_t *nl = memchr(raw, '\n', n);
            assert_non_null(nl);
            pos = (size_t)(nl - raw) + 1;
            memcpy(out, raw, pos);
            o = pos;
        }
        while (pos + 5 <= n) {
            if (edited) {
                /* after the edit: NEWKEYS and whatever follows, encrypted */
                memcpy(out + o, raw + pos, n - pos);
                o += n - pos;
                pos = n;
                break;
            }
            uint32_t plen = (uint32_t)raw[pos] << 24 | (uint32_t)raw[pos + 1] << 16 |
                            (uint32_t)raw[pos + 2] << 8 | raw[pos + 3];
            assert_true(pos + 4 + plen <= n);
            uint8_t padlen = raw[pos + 4];
            size_t plsz = plen - 1 - padlen;
            uint8_t *payload = raw + pos + 5;
            if (!edited && payload[0] == type) {
                static uint8_t pl[32 * 1024];
                memcpy(pl, payload, plsz);
                edit(pl, &plsz, sizeof(pl));
                o += frame(out + o, pl, plsz);
                edited = 1;
            } else {
                memcpy(out + o, raw + pos, 4 + plen);
                o += 4 + plen;
            }
            pos += 4 + plen;
        }
        assert_int_equal(pos, n);
        if (o)
            ssh_conn_feed(dst->c, out, o, p->now);
    }
    assert_true(edited);
    tp_pump(p, 0);
    return p;
}

/* Payload layout of KEX_ECDH_INIT: type, string Q_C.  Of KEX_ECDH_REPLY:
 * type, string K_S, string Q_S, string signature. */
static uint32_t get32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}
static void put32(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)(v >> 24), b[1] = (uint8_t)(v >> 16), b[2] = (uint8_t)(v >> 8),
    b[3] = (uint8_t)v;
}

/* Offset of the share string (its length field) in the payload. */
static size_t share_at(const uint8_t *pl)
{
    if (pl[0] == MSG_KEX_ECDH_INIT)
        return 1;
    return 1 + 4 + get32(pl + 1); /* after K_S */
}

/* Resize the share by delta bytes (drop or append at its end). */
static void resize_share(uint8_t *pl, size_t *n, size_t cap, int delta)
{
    size_t at = share_at(pl);
    uint32_t len = get32(pl + at);
    size_t end = at + 4 + len;
    assert_true(*n + 1 <= cap);
    if (delta < 0) {
        memmove(pl + end - 1, pl + end, *n - end);
        *n -= 1;
    } else {
        memmove(pl + end + 1, pl + end, *n - end);
        pl[end] = 0x5a;
        *n += 1;
    }
    put32(pl + at, (uint32_t)((int)len + delta));
}
static void share_short(uint8_t *pl, size_t *n, size_t cap)
{
    resize_share(pl, n, cap, -1);
}
static void share_long(uint8_t *pl, size_t *n, size_t cap)
{
    resize_share(pl, n, cap, +1);
}
/* The last 32 bytes of a share are the X25519 public value. */
static void x25519_zero(uint8_t *pl, size_t *n, size_t cap)
{
    (void)cap;
    size_t at = share_at(pl);
    uint32_t len = get32(pl + at);
    memset(pl + at + 4 + len - 32, 0, 32);
    (void)n;
}
/* ML-KEM public key: coefficient 0 of t-hat[0] := 4095. */
static void mlkem_bad_coefficient(uint8_t *pl, size_t *n, size_t cap)
{
    (void)n, (void)cap;
    size_t at = share_at(pl) + 4;
    pl[at] = 0xff;
    pl[at + 1] |= 0x0f;
}
/* Flip one bit in the middle of the KEM ciphertext. */
static void ciphertext_bit(uint8_t *pl, size_t *n, size_t cap)
{
    (void)n, (void)cap;
    pl[share_at(pl) + 4 + 500] ^= 0x10;
}

static void expect_kex_disconnect(tp_pair *p, int server_failed, const char *text)
{
    tp_side *failer = server_failed ? &p->srv : &p->cli;
    tp_side *peer = server_failed ? &p->cli : &p->srv;
    assert_int_equal(failer->disconnected, 1);
    assert_int_equal(failer->disc_err, SSH_ERR_KEX);
    assert_int_equal(failer->disc_reason, SSH_DISCONNECT_KEY_EXCHANGE_FAILED);
    if (strstr(failer->disc_msg, text) == NULL)
        fail_msg("reason '%s' lacks '%s'", failer->disc_msg, text);
    /* the peer received it as a DISCONNECT with that text */
    assert_int_equal(peer->disconnected, 1);
    assert_int_equal(peer->disc_err, SSH_ERR_DISCONNECTED);
    if (strstr(peer->disc_msg, text) == NULL)
        fail_msg("peer got '%s', lacks '%s'", peer->disc_msg, text);
}

static void test_client_share_length(void **state)
{
    (void)state;
    const char *want[] = {"client share of 1215 bytes, expected 1216",
                          "client share of 1189 bytes, expected 1190"};
    const char *want_long[] = {"client share of 1217 bytes, expected 1216",
                               "client share of 1191 bytes, expected 1190"};
    for (size_t i = 0; i < 3; i++) {
        size_t w = i == 0 ? 0 : 1;
        tp_pair *p = run_edited(hybrids[i], 0, MSG_KEX_ECDH_INIT, share_short);
        expect_kex_disconnect(p, 1, want[w]);
        assert_non_null(strstr(p->cli.disc_msg, hybrids[i]));
        tp_pair_free(p);
        p = run_edited(hybrids[i], 0, MSG_KEX_ECDH_INIT, share_long);
        expect_kex_disconnect(p, 1, want_long[w]);
        tp_pair_free(p);
    }
}

static void test_server_reply_length(void **state)
{
    (void)state;
    const char *want[] = {"server reply of 1119 bytes, expected 1120",
                          "server reply of 1070 bytes, expected 1071"};
    for (size_t i = 0; i < 3; i++) {
        tp_pair *p = run_edited(hybrids[i], 1, MSG_KEX_ECDH_REPLY, share_short);
        expect_kex_disconnect(p, 0, want[i == 0 ? 0 : 1]);
        tp_pair_free(p);
    }
}

static void test_bad_mlkem_key(void **state)
{
    (void)state;
    tp_pair *p = run_edited(hybrids[0], 0, MSG_KEX_ECDH_INIT, mlkem_bad_coefficient);
    expect_kex_disconnect(p, 1, "invalid KEM public key from the client");
    tp_pair_free(p);
}

static void test_zero_x25519(void **state)
{
    (void)state;
    for (size_t i = 0; i < 3; i++) {
        tp_pair *p = run_edited(hybrids[i], 0, MSG_KEX_ECDH_INIT, x25519_zero);
        expect_kex_disconnect(p, 1, "X25519 share of the client gives an all-zero secret");
        tp_pair_free(p);
        p = run_edited(hybrids[i], 1, MSG_KEX_ECDH_REPLY, x25519_zero);
        expect_kex_disconnect(p, 0, "X25519 share of the server gives an all-zero secret");
        tp_pair_free(p);
    }
}

/* A changed ciphertext is not detected by the KEM (implicit rejection) but
 * by the signature over the exchange hash: the client stops there. */
static void test_ciphertext_changed(void **state)
{
    (void)state;
    for (size_t i = 0; i < 3; i++) {
        tp_pair *p = run_edited(hybrids[i], 1, MSG_KEX_ECDH_REPLY, ciphertext_bit);
        assert_int_equal(p->cli.disconnected, 1);
        assert_int_equal(p->cli.disc_err, SSH_ERR_SIGNATURE);
        assert_int_equal(p->srv.disconnected, 1);
        assert_int_equal(ssh_conn_state(p->cli.c), SSH_STATE_CLOSED);
        tp_pair_free(p);
    }
}

/* ---- a peer's guessed first kex packet (RFC 4253 section 7) ------------------- */

static void put_namelist(uint8_t *b, size_t *n, const char *s)
{
    put32(b + *n, (uint32_t)strlen(s));
    memcpy(b + *n + 4, s, strlen(s));
    *n += 4 + strlen(s);
}

/* Count the plaintext packets of `type` in a server's output (after its
 * identification line). */
static int count_type(tp_side *s, uint8_t type)
{
    static uint8_t buf[64 * 1024];
    size_t n = drain(s, buf, sizeof(buf)), pos = 0;
    int count = 0;
    if (n >= 4 && memcmp(buf, "SSH-", 4) == 0)
        pos = (size_t)((uint8_t *)memchr(buf, '\n', n) - buf) + 1;
    while (pos + 5 <= n) {
        uint32_t plen = get32(buf + pos);
        if (buf[pos + 5] == type)
            count++;
        pos += 4 + plen;
    }
    return count;
}

/* A client (Dropbear's dbclient does this) that lists curve25519-sha256
 * first and sends its KEX_ECDH_INIT at once, first_kex_packet_follows set.
 * Its guess is wrong when the server prefers another method, even though
 * curve25519-sha256 is what gets negotiated (the client's list decides):
 * "server and client have different preferred algorithm".  The guessed
 * packet must be ignored, and the client's second, real one answered.
 * With sshtund preferring mlkem768x25519-sha256 the engine answered the
 * guess and then refused the real packet as unexpected. */
static void test_wrong_guess_ignored(void **state)
{
    (void)state;
    tp_pair *p = tp_pair_new(NULL, NULL, tp_key(SSH_KEY_ED25519), tp_key(SSH_KEY_ED25519));
    assert_int_equal(ssh_conn_start(p->srv.c, 0), 0);
    static uint8_t b[4096], pkt[4096];
    size_t n = 0, o;
    const char *ident = "SSH-2.0-guesser\r\n";
    ssh_conn_feed(p->srv.c, (const uint8_t *)ident, strlen(ident), 0);
    b[n++] = 20;
    memset(b + n, 7, 16);
    n += 16;
    put_namelist(b, &n, "curve25519-sha256,mlkem768x25519-sha256");
    put_namelist(b, &n, "ssh-ed25519");
    for (int i = 0; i < 2; i++)
        put_namelist(b, &n, "chacha20-poly1305@openssh.com");
    for (int i = 0; i < 2; i++)
        put_namelist(b, &n, "hmac-sha2-256");
    for (int i = 0; i < 2; i++)
        put_namelist(b, &n, "none");
    for (int i = 0; i < 2; i++)
        put_namelist(b, &n, "");
    b[n++] = 1; /* first_kex_packet_follows */
    put32(b + n, 0);
    n += 4;
    o = frame(pkt, b, n);
    ssh_conn_feed(p->srv.c, pkt, o, 0);
    /* the guess: a curve25519 INIT with some public value */
    uint8_t init[1 + 4 + 32];
    init[0] = MSG_KEX_ECDH_INIT;
    put32(init + 1, 32);
    for (int i = 0; i < 32; i++)
        init[5 + i] = (uint8_t)(9 + i);
    o = frame(pkt, init, sizeof(init));
    ssh_conn_feed(p->srv.c, pkt, o, 0);
    assert_int_equal(ssh_conn_error(p->srv.c), 0);
    assert_int_equal(count_type(&p->srv, MSG_KEX_ECDH_REPLY), 0); /* ignored */
    assert_string_equal(ssh_conn_alg(p->srv.c, SSH_ALG_KEX), "curve25519-sha256");
    /* the real INIT is answered */
    init[5] ^= 0x40;
    o = frame(pkt, init, sizeof(init));
    ssh_conn_feed(p->srv.c, pkt, o, 0);
    assert_int_equal(ssh_conn_error(p->srv.c), 0);
    assert_int_equal(count_type(&p->srv, MSG_KEX_ECDH_REPLY), 1);
    tp_pair_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_is_mlkem),    cmocka_unit_test(test_each_forced),
        cmocka_unit_test(test_client_share_length), cmocka_unit_test(test_server_reply_length),
        cmocka_unit_test(test_bad_mlkem_key),       cmocka_unit_test(test_zero_x25519),
        cmocka_unit_test(test_ciphertext_changed),  cmocka_unit_test(test_wrong_guess_ignored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
