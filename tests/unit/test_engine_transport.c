/*
 * test_engine_transport.c - the transport layer (RFC 4253) in memory:
 * re-keying under load, by request and by time; the identification
 * exchange; buffers released when idle; and every rejection path of the
 * packet layer and dispatcher.
 *
 * A rejection must end the detecting side with the right SSH_ERR_* code
 * (ssh_conn_error and the disconnect callback) and put a DISCONNECT with
 * the matching reason code on the wire, which the other side must report
 * as SSH_ERR_DISCONNECTED with that reason.  Leaks are caught by ASan's
 * leak check at exit.
 */
#include "pump.h"
#include "conn_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

static ssh_key *ed(void)
{
    return tp_key(SSH_KEY_ED25519);
}

static tp_pair *pair_with(const char *cipher, const char *mac)
{
    ssh_conn_config cc, sc;
    ssh_conn_config_init(&cc, SSH_ROLE_CLIENT);
    ssh_conn_config_init(&sc, SSH_ROLE_SERVER);
    cc.ciphers = sc.ciphers = cipher;
    cc.macs = sc.macs = mac;
    return tp_pair_new(&cc, &sc, ed(), ed());
}

static tp_pair *connected(const char *cipher, const char *mac, int *id)
{
    tp_pair *p = pair_with(cipher, mac);
    assert_int_equal(tp_connect(p), 0);
    if (id) {
        *id = tp_open_session(p);
        assert_true(*id >= 0);
    }
    return p;
}

/* `side` failed with `err` and the peer heard `reason` in a DISCONNECT. */
static void assert_rejected(tp_side *side, tp_side *peer, int err, uint32_t reason)
{
    assert_int_equal(ssh_conn_error(side->c), err);
    assert_int_equal(ssh_conn_state(side->c), SSH_STATE_CLOSED);
    assert_int_equal(side->disconnected, 1);
    assert_int_equal(side->disc_err, err);
    assert_int_equal(side->disc_reason, reason);
    assert_int_equal(peer->disconnected, 1);
    assert_int_equal(peer->disc_err, SSH_ERR_DISCONNECTED);
    assert_int_equal(peer->disc_reason, reason);
    assert_int_equal(ssh_conn_error(peer->c), SSH_ERR_DISCONNECTED);
    assert_int_equal(ssh_conn_state(peer->c), SSH_STATE_CLOSED);
    /* A closed connection has no timers. */
    assert_true(ssh_conn_deadline(side->c) == UINT64_MAX);
    assert_true(ssh_conn_deadline(peer->c) == UINT64_MAX);
}

static uint32_t kex_count(ssh_conn *c)
{
    ssh_conn_stats st;
    ssh_conn_get_stats(c, &st);
    return st.kex_count;
}

/* ---- rekey under load ------------------------------------------------------------------ */

#define PATTERN_LEN (1024 * 1024 + 13) /* not a multiple of any packet size */

typedef struct stream {
    const uint8_t *pattern;
    uint64_t total, sent, received;
    EVP_MD_CTX *tx, *rx;
} stream;

typedef struct bulk {
    stream up, down; /* client to server, server to client */
    uint32_t cid, sid;
} bulk;

static void bulk_data(tp_side *s, uint32_t id, int stream_no, const uint8_t *d, size_t n)
{
    bulk *b = s->hook_ctx;
    stream *st = s->server ? &b->up : &b->down;
    assert_int_equal(stream_no, 0);
    assert_int_equal(id, s->server ? b->sid : b->cid);
    assert_int_equal(EVP_DigestUpdate(st->rx, d, n), 1);
    st->received += n;
}

/* Send as much of the stream as the window takes. */
static void bulk_feed(ssh_conn *c, uint32_t id, stream *st)
{
    while (st->sent < st->total) {
        size_t off = (size_t)(st->sent % PATTERN_LEN);
        size_t k = PATTERN_LEN - off;
        if (k > st->total - st->sent)
            k = (size_t)(st->total - st->sent);
        if (k > 256 * 1024)
            k = 256 * 1024;
        long n = ssh_channel_send(c, id, 0, st->pattern + off, k);
        assert_true(n >= 0);
        if (n == 0)
            break;
        assert_int_equal(EVP_DigestUpdate(st->tx, st->pattern + off, (size_t)n), 1);
        st->sent += (uint64_t)n;
        if ((size_t)n < k)
            break;
    }
}

static void stream_init(stream *st, const uint8_t *pattern, uint64_t total)
{
    memset(st, 0, sizeof(*st));
    st->pattern = pattern;
    st->total = total;
    st->tx = EVP_MD_CTX_new();
    st->rx = EVP_MD_CTX_new();
    assert_non_null(st->tx);
    assert_non_null(st->rx);
    assert_int_equal(EVP_DigestInit_ex(st->tx, EVP_sha256(), NULL), 1);
    assert_int_equal(EVP_DigestInit_ex(st->rx, EVP_sha256(), NULL), 1);
}

static void stream_check(stream *st)
{
    uint8_t h1[32], h2[32];
    unsigned l1 = 0, l2 = 0;
    assert_int_equal(st->sent, st->total);
    assert_int_equal(st->received, st->total);
    assert_int_equal(EVP_DigestFinal_ex(st->tx, h1, &l1), 1);
    assert_int_equal(EVP_DigestFinal_ex(st->rx, h2, &l2), 1);
    assert_int_equal(l1, 32);
    assert_int_equal(l2, 32);
    assert_memory_equal(h1, h2, 32);
    EVP_MD_CTX_free(st->tx);
    EVP_MD_CTX_free(st->rx);
}

/* 64 MiB each way at once with an 8 MiB rekey limit on the client: many key
 * exchanges happen while both directions are full of channel data, and the
 * SHA-256 of what arrived must equal that of what was sent. */
static void rekey_during_64mib_both_ways(void **state)
{
    (void)state;
    const uint64_t total = 64ull * 1024 * 1024;
    ssh_conn_config cc;
    ssh_conn_config_init(&cc, SSH_ROLE_CLIENT);
    cc.rekey_bytes = 8ull * 1024 * 1024;
    tp_pair *p = tp_pair_new(&cc, NULL, ed(), ed());
    assert_int_equal(tp_connect(p), 0);
    int id = tp_open_session(p);
    assert_true(id >= 0);

    uint8_t *pattern = malloc(PATTERN_LEN);
    assert_non_null(pattern);
    uint64_t seed = 77;
    test_rand(&seed, pattern, PATTERN_LEN);
    bulk b;
    stream_init(&b.up, pattern, total);
    stream_init(&b.down, pattern, total);
    b.cid = (uint32_t)id;
    b.sid = 0;
    p->cli.hook_ctx = p->srv.hook_ctx = &b;
    p->cli.on_data = p->srv.on_data = bulk_data;

    /* Irregular transfer steps, so rekeys fall at arbitrary places. */
    size_t steps[] = {0, 100000, 1 << 20, 33333, 0, 4096 * 7 + 5};
    int rounds = 0, idle = 0;
    while (b.up.received < total || b.down.received < total) {
        bulk_feed(p->cli.c, (uint32_t)id, &b.up);
        bulk_feed(p->srv.c, 0, &b.down);
        p->chunk = steps[rounds % 6];
        size_t moved = tp_pump(p, 1 + rounds % 3);
        assert_int_equal(ssh_conn_error(p->cli.c), 0);
        assert_int_equal(ssh_conn_error(p->srv.c), 0);
        idle = moved ? 0 : idle + 1;
        assert_true(idle < 3); /* never stuck: windows reopen */
        assert_true(++rounds < 100000);
    }
    /* A last re-exchange may have started with the last bytes. */
    tp_pump(p, 0);
    assert_null(p->cli.c->kex);
    assert_null(p->srv.c->kex);
    stream_check(&b.up);
    stream_check(&b.down);
    assert_true(kex_count(p->cli.c) > 3);
    assert_int_equal(kex_count(p->cli.c), kex_count(p->srv.c));
    ssh_conn_stats st;
    ssh_conn_get_stats(p->cli.c, &st);
    assert_true(st.bytes_out > total && st.bytes_in > total);
    if (getenv("TP_DEBUG"))
        fprintf(stderr, "64 MiB each way: %u key exchanges, %d rounds\n", st.kex_count, rounds);
    assert_int_equal(p->cli.kex_done, (int)kex_count(p->cli.c));
    assert_int_equal(p->cli.kex_first, 1);
    /* Nothing was left behind in the queues. */
    assert_int_equal(ssh_buf_len(&p->cli.c->pending), 0);
    assert_int_equal(ssh_buf_len(&p->srv.c->pending), 0);
    /* The session still works after all that. */
    assert_int_equal(ssh_channel_send(p->cli.c, (uint32_t)id, 1, "tail", 4), 4);
    p->cli.on_data = p->srv.on_data = NULL;
    tp_pump(p, 0);
    assert_memory_equal(ssh_buf_ptr(&tp_chan_of(&p->srv, 0)->sink_err), "tail", 4);
    free(pattern);
    tp_pair_free(p);
}

/* ssh_conn_rekey() by one side while channel data is queued in both
 * directions: data sent after our KEXINIT waits in the pending queue and
 * comes out, in order, under the new keys. */
static void rekey_requested_by_each_side(void **state)
{
    (void)state;
    for (int who = 0; who < 2; who++) {
        int id;
        tp_pair *p = connected("aes256-ctr", "hmac-sha2-512", &id);
        tp_side *init = who ? &p->srv : &p->cli, *other = who ? &p->cli : &p->srv;
        uint32_t init_id = who ? 0 : (uint32_t)id, other_id = who ? (uint32_t)id : 0;
        uint8_t a[3000], b[3000];
        uint64_t seed = 5 + (uint64_t)who;
        test_rand(&seed, a, sizeof(a));
        test_rand(&seed, b, sizeof(b));
        assert_int_equal(ssh_channel_send(init->c, init_id, 0, a, 1000), 1000);
        assert_int_equal(ssh_channel_send(other->c, other_id, 0, b, 1000), 1000);
        assert_int_equal(ssh_conn_rekey(init->c), 0);
        assert_int_equal(ssh_conn_rekey(init->c), 0); /* no-op while running */
        assert_int_equal(ssh_channel_send(init->c, init_id, 0, a + 1000, 1000), 1000);
        assert_int_equal(ssh_channel_send(init->c, init_id, 1, a + 2000, 1000), 1000);
        /* Behind our KEXINIT: parked until NEWKEYS. */
        assert_true(ssh_buf_len(&init->c->pending) > 2000);
        assert_int_equal(ssh_channel_send(other->c, other_id, 0, b + 1000, 2000), 2000);
        p->chunk = 97;
        tp_pump(p, 0);
        assert_int_equal(ssh_conn_error(p->cli.c), 0);
        assert_int_equal(ssh_conn_error(p->srv.c), 0);
        assert_int_equal(kex_count(p->cli.c), 2);
        assert_int_equal(kex_count(p->srv.c), 2);
        assert_int_equal(p->cli.kex_done, 2);
        assert_int_equal(p->srv.kex_done, 2);
        assert_int_equal(p->cli.kex_first, 1);
        tp_chan *ri = tp_chan_of(other, other_id), *ro = tp_chan_of(init, init_id);
        assert_int_equal(ssh_buf_len(&ri->sink), 2000);
        assert_memory_equal(ssh_buf_ptr(&ri->sink), a, 2000);
        assert_int_equal(ssh_buf_len(&ri->sink_err), 1000);
        assert_memory_equal(ssh_buf_ptr(&ri->sink_err), a + 2000, 1000);
        assert_int_equal(ssh_buf_len(&ro->sink), 3000);
        assert_memory_equal(ssh_buf_ptr(&ro->sink), b, 3000);
        assert_int_equal(ssh_buf_len(&init->c->pending), 0);
        /* Session id unchanged by re-exchanges. */
        size_t l1, l2;
        const uint8_t *s1 = ssh_conn_session_id(p->cli.c, &l1);
        const uint8_t *s2 = ssh_conn_session_id(p->srv.c, &l2);
        assert_int_equal(l1, l2);
        assert_memory_equal(s1, s2, l1);
        tp_pair_free(p);
    }
    /* Not before the first exchange. */
    tp_pair *p = pair_with("aes128-ctr", "hmac-sha2-256");
    assert_int_equal(ssh_conn_rekey(p->cli.c), SSH_ERR_STATE);
    tp_pair_free(p);
}

/* Both sides start a re-exchange at the same moment: the KEXINITs cross. */
static void rekey_simultaneous(void **state)
{
    (void)state;
    int id;
    tp_pair *p = connected("aes128-gcm@openssh.com", "hmac-sha2-256", &id);
    assert_int_equal(ssh_conn_rekey(p->cli.c), 0);
    assert_int_equal(ssh_conn_rekey(p->srv.c), 0);
    assert_int_equal(ssh_channel_send(p->cli.c, (uint32_t)id, 0, "abc", 3), 3);
    assert_int_equal(ssh_channel_send(p->srv.c, 0, 0, "xyz", 3), 3);
    tp_pump(p, 0);
    assert_int_equal(kex_count(p->cli.c), 2);
    assert_int_equal(kex_count(p->srv.c), 2);
    assert_memory_equal(ssh_buf_ptr(&tp_chan_of(&p->srv, 0)->sink), "abc", 3);
    assert_memory_equal(ssh_buf_ptr(&tp_chan_of(&p->cli, (uint32_t)id)->sink), "xyz", 3);
    tp_pair_free(p);
}

/* Rekey by time under the fake clock. */
static void rekey_by_time(void **state)
{
    (void)state;
    ssh_conn_config cc, sc;
    ssh_conn_config_init(&cc, SSH_ROLE_CLIENT);
    ssh_conn_config_init(&sc, SSH_ROLE_SERVER);
    cc.rekey_time_ms = 60 * 1000;
    sc.rekey_time_ms = UINT64_MAX; /* server: off */
    tp_pair *p = tp_pair_new(&cc, &sc, ed(), ed());
    assert_int_equal(tp_connect(p), 0);
    uint64_t t0 = p->now;
    assert_true(ssh_conn_deadline(p->cli.c) == t0 + 60 * 1000);
    assert_true(ssh_conn_deadline(p->srv.c) == UINT64_MAX);
    tp_advance(p, 60 * 1000 - 1);
    tp_pump(p, 0);
    assert_int_equal(kex_count(p->cli.c), 1);
    tp_advance(p, 1);
    tp_pump(p, 0);
    assert_int_equal(kex_count(p->cli.c), 2);
    assert_int_equal(kex_count(p->srv.c), 2);
    /* The next one is due an interval after this exchange finished. */
    assert_true(ssh_conn_deadline(p->cli.c) == p->now + 60 * 1000);
    for (int i = 0; i < 3; i++) {
        tp_advance(p, 60 * 1000);
        tp_pump(p, 0);
    }
    assert_int_equal(kex_count(p->cli.c), 5);
    assert_int_equal(kex_count(p->srv.c), 5);
    assert_int_equal(ssh_conn_error(p->cli.c), 0);
    tp_pair_free(p);

    /* Default: one hour, on both sides. */
    p = tp_pair_new(NULL, NULL, ed(), ed());
    assert_int_equal(tp_connect(p), 0);
    tp_advance(p, 3600 * 1000 - 1);
    tp_pump(p, 0);
    assert_int_equal(kex_count(p->srv.c), 1);
    tp_advance(p, 1);
    tp_pump(p, 0);
    assert_int_equal(kex_count(p->cli.c), 2);
    assert_int_equal(kex_count(p->srv.c), 2);
    tp_pair_free(p);
}

/* Every byte arriving on its own, for each way a packet length is read
 * (chacha: encrypted length; GCM and ETM: clear length; CTR with a plain
 * MAC: first block decrypted ahead), through the zero-copy input calls. */
static void tiny_chunks(void **state)
{
    (void)state;
    static const char *const cm[][2] = {
        {"chacha20-poly1305@openssh.com", "hmac-sha2-256"},
        {"aes256-gcm@openssh.com", "hmac-sha2-256"},
        {"aes128-ctr", "hmac-sha2-512-etm@openssh.com"},
        {"aes192-ctr", "hmac-sha2-256"},
    };
    for (size_t i = 0; i < 4; i++) {
        tp_pair *p = pair_with(cm[i][0], cm[i][1]);
        p->chunk = 1;
        assert_int_equal(tp_connect(p), 0);
        int id = tp_open_session(p);
        assert_true(id >= 0);
        uint8_t buf[700];
        uint64_t seed = i;
        test_rand(&seed, buf, sizeof(buf));
        assert_int_equal(ssh_channel_send(p->cli.c, (uint32_t)id, 0, buf, sizeof(buf)), 700);
        /* by hand: input_space / input_commit, one byte per commit */
        struct iovec iov;
        while (ssh_conn_output(p->cli.c, &iov, 1) == 1) {
            uint8_t *dst;
            size_t room;
            assert_int_equal(ssh_conn_input_space(p->srv.c, 0, &dst, &room), 0);
            assert_true(room >= 64 * 1024);
            dst[0] = *(const uint8_t *)iov.iov_base;
            assert_int_equal(ssh_conn_input_commit(p->srv.c, 1, p->now), 0);
            ssh_conn_output_consumed(p->cli.c, 1);
        }
        tp_pump(p, 0);
        assert_int_equal(ssh_buf_len(&tp_chan_of(&p->srv, 0)->sink), 700);
        assert_memory_equal(ssh_buf_ptr(&tp_chan_of(&p->srv, 0)->sink), buf, 700);
        assert_int_equal(ssh_conn_error(p->cli.c), 0);
        assert_int_equal(ssh_conn_error(p->srv.c), 0);
        tp_pair_free(p);
    }
}

/* ---- identification exchange --------------------------------------------------------- */

static void feed_str(tp_pair *p, tp_side *to, const char *s)
{
    ssh_conn_feed(to->c, (const uint8_t *)s, strlen(s), p->now);
}

/* Lines before the server's identification: the client skips up to
 * max_banner_lines of them. */
static void ident_lines_before_banner(void **state)
{
    (void)state;
    ssh_conn_config cc;
    ssh_conn_config_init(&cc, SSH_ROLE_CLIENT);
    cc.max_banner_lines = 3;
    tp_pair *p = tp_pair_new(&cc, NULL, ed(), ed());
    tp_start(p);
    feed_str(p, &p->cli, "Welcome\r\nto this host\n\r\n");
    tp_pump(p, 0);
    assert_int_equal(ssh_conn_state(p->cli.c), SSH_STATE_OPEN);
    assert_string_equal(ssh_conn_peer_ident(p->cli.c), "SSH-2.0-sshtun_0.1");
    assert_string_equal(ssh_conn_peer_ident(p->srv.c), "SSH-2.0-sshtun_0.1");
    tp_pair_free(p);

    /* One more than allowed, arriving after the client has sent its own
     * identification and KEXINIT. */
    p = tp_pair_new(&cc, NULL, ed(), ed());
    tp_start(p);
    tp_transfer(p, &p->cli, &p->srv);
    feed_str(p, &p->cli, "1\r\n2\r\n3\r\n4\r\n");
    tp_pump(p, 0);
    assert_rejected(&p->cli, &p->srv, SSH_ERR_BANNER,
                    SSH_DISCONNECT_PROTOCOL_VERSION_NOT_SUPPORTED);
    tp_pair_free(p);

    /* Before the client wrote anything. */
    p = tp_pair_new(&cc, NULL, ed(), ed());
    tp_start(p);
    feed_str(p, &p->cli, "1\r\n2\r\n3\r\n4\r\nSSH-2.0-late\r\n");
    tp_pump(p, 0);
    assert_rejected(&p->cli, &p->srv, SSH_ERR_BANNER,
                    SSH_DISCONNECT_PROTOCOL_VERSION_NOT_SUPPORTED);
    tp_pair_free(p);

    /* Default limit: 1024 lines. */
    for (int extra = 0; extra < 2; extra++) {
        p = tp_pair_new(NULL, NULL, ed(), ed());
        tp_start(p);
        for (int i = 0; i < 1024 + extra; i++)
            feed_str(p, &p->cli, "x\r\n");
        tp_pump(p, 0);
        if (extra)
            assert_rejected(&p->cli, &p->srv, SSH_ERR_BANNER,
                            SSH_DISCONNECT_PROTOCOL_VERSION_NOT_SUPPORTED);
        else
            assert_int_equal(ssh_conn_state(p->cli.c), SSH_STATE_OPEN);
        tp_pair_free(p);
    }
}

/* The server requires the identification on the first line. */
static void ident_server_refuses_other_lines(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "GET / HTTP/1.1\r\n",
        "\r\n",
        "hello\r\nSSH-2.0-x\r\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        tp_pair *p = tp_pair_new(NULL, NULL, ed(), ed());
        tp_start(p);
        feed_str(p, &p->srv, bad[i]);
        tp_pump(p, 0);
        assert_rejected(&p->srv, &p->cli, SSH_ERR_BANNER,
                        SSH_DISCONNECT_PROTOCOL_VERSION_NOT_SUPPORTED);
        tp_pair_free(p);
    }
}

static void ident_line_length(void **state)
{
    (void)state;
    char line[400];
    /* 255 bytes with CR LF: the RFC 4253 maximum, accepted by the server... */
    memset(line, 0, sizeof(line));
    memcpy(line, "SSH-2.0-", 8);
    memset(line + 8, 'a', 245);
    memcpy(line + 253, "\r\n", 2);
    assert_int_equal(strlen(line), 255);
    tp_pair *p = tp_pair_new(NULL, NULL, ed(), ed());
    tp_start(p);
    feed_str(p, &p->srv, line);
    assert_int_equal(ssh_conn_error(p->srv.c), 0);
    assert_int_equal(strlen(ssh_conn_peer_ident(p->srv.c)), 253);
    tp_pair_free(p);

    /* ...and 256 refused. */
    memset(line + 8, 'a', 246);
    memcpy(line + 254, "\r\n", 2);
    p = tp_pair_new(NULL, NULL, ed(), ed());
    tp_start(p);
    feed_str(p, &p->srv, line);
    tp_pump(p, 0);
    assert_rejected(&p->srv, &p->cli, SSH_ERR_BANNER,
                    SSH_DISCONNECT_PROTOCOL_VERSION_NOT_SUPPORTED);
    tp_pair_free(p);

    /* A 300-byte line: refused by the server as identification... */
    memset(line + 8, 'a', 290);
    memcpy(line + 298, "\r\n", 3);
    p = tp_pair_new(NULL, NULL, ed(), ed());
    tp_start(p);
    feed_str(p, &p->srv, line);
    tp_pump(p, 0);
    assert_rejected(&p->srv, &p->cli, SSH_ERR_BANNER,
                    SSH_DISCONNECT_PROTOCOL_VERSION_NOT_SUPPORTED);
    tp_pair_free(p);

    /* ...and by the client as a line before the identification. */
    memset(line, 'b', 298);
    p = tp_pair_new(NULL, NULL, ed(), ed());
    tp_start(p);
    feed_str(p, &p->cli, line);
    tp_pump(p, 0);
    assert_rejected(&p->cli, &p->srv, SSH_ERR_BANNER,
                    SSH_DISCONNECT_PROTOCOL_VERSION_NOT_SUPPORTED);
    tp_pair_free(p);

    /* A NUL inside the line. */
    p = tp_pair_new(NULL, NULL, ed(), ed());
    tp_start(p);
    ssh_conn_feed(p->srv.c, (const uint8_t *)"SSH-2.0-a\0b\r\n", 13, p->now);
    tp_pump(p, 0);
    assert_rejected(&p->srv, &p->cli, SSH_ERR_BANNER,
                    SSH_DISCONNECT_PROTOCOL_VERSION_NOT_SUPPORTED);
    tp_pair_free(p);

    /* Our own identification never exceeds the limit: a software version
     * too long for 255 bytes is refused at creation. */
    ssh_conn_config cc;
    ssh_conn_config_init(&cc, SSH_ROLE_CLIENT);
    memset(line, 'v', sizeof(line) - 1);
    line[246] = '\0';
    cc.ident = line;
    ssh_conn *c = NULL;
    ssh_callbacks cb = {.rand = test_rand};
    uint64_t seed = 3;
    assert_int_equal(ssh_conn_new(&c, &cc, &cb, &seed), SSH_ERR_ARGUMENT);
    line[245] = '\0';
    assert_int_equal(ssh_conn_new(&c, &cc, &cb, &seed), 0);
    ssh_conn_free(c);
    cc.ident = "bad\r\nident";
    c = NULL;
    assert_int_equal(ssh_conn_new(&c, &cc, &cb, &seed), SSH_ERR_ARGUMENT);
    /* The longest allowed one works end to end. */
    line[245] = '\0';
    cc.ident = line;
    p = tp_pair_new(&cc, NULL, ed(), ed());
    assert_int_equal(tp_connect(p), 0);
    assert_int_equal(strlen(ssh_conn_peer_ident(p->srv.c)), 253);
    tp_pair_free(p);
}

static void ident_versions(void **state)
{
    (void)state;
    /* SSH-1.5 from the client. */
    tp_pair *p = tp_pair_new(NULL, NULL, ed(), ed());
    tp_start(p);
    feed_str(p, &p->srv, "SSH-1.5-OldClient\r\n");
    tp_pump(p, 0);
    assert_rejected(&p->srv, &p->cli, SSH_ERR_VERSION,
                    SSH_DISCONNECT_PROTOCOL_VERSION_NOT_SUPPORTED);
    tp_pair_free(p);

    /* SSH-1.5 from the server. */
    p = tp_pair_new(NULL, NULL, ed(), ed());
    tp_start(p);
    feed_str(p, &p->cli, "SSH-1.5-OldServer\r\n");
    tp_pump(p, 0);
    assert_rejected(&p->cli, &p->srv, SSH_ERR_VERSION,
                    SSH_DISCONNECT_PROTOCOL_VERSION_NOT_SUPPORTED);
    tp_pair_free(p);

    /* SSH-3.0 is no better. */
    p = tp_pair_new(NULL, NULL, ed(), ed());
    tp_start(p);
    feed_str(p, &p->srv, "SSH-3.0-Future\r\n");
    tp_pump(p, 0);
    assert_rejected(&p->srv, &p->cli, SSH_ERR_VERSION,
                    SSH_DISCONNECT_PROTOCOL_VERSION_NOT_SUPPORTED);
    tp_pair_free(p);

    /* SSH-1.99 means "2.0 too", and a bare LF line ending is accepted. */
    p = tp_pair_new(NULL, NULL, ed(), ed());
    tp_start(p);
    /* Replace the server's identification line with a 1.99 one. */
    struct iovec iov;
    assert_int_equal(ssh_conn_output(p->srv.c, &iov, 1), 1);
    const char *nl = memchr(iov.iov_base, '\n', iov.iov_len);
    assert_non_null(nl);
    ssh_conn_output_consumed(p->srv.c, (size_t)(nl - (const char *)iov.iov_base) + 1);
    feed_str(p, &p->cli, "SSH-1.99-sshtun_0.1\n");
    /* The exchange hash covers the identification the client received, so
     * the server must believe it sent exactly that. */
    snprintf(p->srv.c->v_ours, sizeof(p->srv.c->v_ours), "SSH-1.99-sshtun_0.1");
    tp_pump(p, 0);
    assert_int_equal(ssh_conn_state(p->cli.c), SSH_STATE_OPEN);
    assert_string_equal(ssh_conn_peer_ident(p->cli.c), "SSH-1.99-sshtun_0.1");
    tp_pair_free(p);
}

/* ---- packet layer rejections ------------------------------------------------------------ */

static void bad_mac_one(const char *cipher, const char *mac)
{
    int id;
    tp_pair *p = connected(cipher, mac, &id);
    /* Byte 20 of the next packet from the client: past the length field
     * and the first cipher block, inside the (encrypted) payload. */
    p->flip_bit_at = (int)p->cli_sent + 20;
    uint8_t data[200] = {0};
    assert_int_equal(ssh_channel_send(p->cli.c, (uint32_t)id, 0, data, sizeof(data)), 200);
    tp_pump(p, 0);
    assert_int_equal(p->flip_bit_at, -1);
    assert_rejected(&p->srv, &p->cli, SSH_ERR_MAC_INVALID, SSH_DISCONNECT_MAC_ERROR);
    assert_int_equal(ssh_buf_len(&tp_chan_of(&p->srv, 0)->sink), 0);
    tp_pair_free(p);
}

static void bad_mac(void **state)
{
    (void)state;
    bad_mac_one("chacha20-poly1305@openssh.com", "hmac-sha2-256");
    bad_mac_one("aes128-gcm@openssh.com", "hmac-sha2-256");
    bad_mac_one("aes256-ctr", "hmac-sha2-256");
    bad_mac_one("aes128-ctr", "hmac-sha2-512-etm@openssh.com");
}

/* A corrupted MAC tag itself (the last bytes of a packet). */
static void bad_mac_in_tag(void **state)
{
    (void)state;
    int id;
    tp_pair *p = connected("aes192-ctr", "hmac-sha2-256-etm@openssh.com", &id);
    uint64_t before = p->cli_sent;
    assert_int_equal(ssh_channel_send(p->cli.c, (uint32_t)id, 0, "x", 1), 1);
    size_t pkt = ssh_conn_output_pending(p->cli.c);
    p->flip_bit_at = (int)(before + pkt - 1);
    tp_pump(p, 0);
    assert_rejected(&p->srv, &p->cli, SSH_ERR_MAC_INVALID, SSH_DISCONNECT_MAC_ERROR);
    tp_pair_free(p);
}

static void oversize_packet(void **state)
{
    (void)state;
    static const char *const ciphers[] = {"chacha20-poly1305@openssh.com", "aes256-gcm@openssh.com",
                                          "aes128-ctr"};
    static const char *const macs[] = {"hmac-sha2-256", "hmac-sha2-512-etm@openssh.com",
                                       "hmac-sha2-256"};
    uint8_t payload[32] = {SSH_MSG_IGNORE};
    for (int i = 0; i < 3; i++) {
        tp_pair *p = connected(ciphers[i], macs[i], NULL);
        /* packet_length claims 256 KiB + 16. */
        tp_inject_packet(p->cli.c, payload, 11, 16, 256 * 1024 + 16);
        tp_pump(p, 0);
        assert_rejected(&p->srv, &p->cli, SSH_ERR_PACKET_TOO_LARGE, SSH_DISCONNECT_PROTOCOL_ERROR);
        tp_pair_free(p);
    }
    /* Before NEWKEYS, in the clear, right after the identification. */
    tp_pair *p = tp_pair_new(NULL, NULL, ed(), ed());
    tp_start(p);
    feed_str(p, &p->srv, "SSH-2.0-x\r\n");
    uint8_t hdr[8] = {0x7f, 0xff, 0xff, 0xf8, 4, SSH_MSG_IGNORE, 0, 0};
    ssh_conn_feed(p->srv.c, hdr, sizeof(hdr), p->now);
    tp_pump(p, 0);
    assert_rejected(&p->srv, &p->cli, SSH_ERR_PACKET_TOO_LARGE, SSH_DISCONNECT_PROTOCOL_ERROR);
    tp_pair_free(p);
}

/* The largest packet the limit allows goes through; we never build a larger
 * one. */
static void packet_size_limit(void **state)
{
    (void)state;
    tp_pair *p = connected("aes128-gcm@openssh.com", "hmac-sha2-256", NULL);
    /* IGNORE: type byte, uint32 length, data; packet_length = 1 + payload +
     * padding, padding 4..19 with block 16. */
    size_t n = 256 * 1024 - 1 - 1 - 4 - 16;
    assert_int_equal(ssh_conn_send_ignore(p->cli.c, n), 0);
    uint64_t in0 = p->srv.c->packets_in;
    tp_pump(p, 0);
    assert_int_equal(ssh_conn_error(p->srv.c), 0);
    assert_int_equal(p->srv.c->packets_in, in0 + 1);
    assert_int_equal(ssh_conn_send_ignore(p->cli.c, 256 * 1024), SSH_ERR_PACKET_TOO_LARGE);
    assert_int_equal(ssh_conn_error(p->cli.c), 0);
    assert_int_equal(ssh_conn_output_pending(p->cli.c), 0);
    assert_int_equal(ssh_conn_send_ignore(p->cli.c, 10), 0);
    tp_pump(p, 0);
    assert_int_equal(p->srv.c->packets_in, in0 + 2);
    assert_int_equal(ssh_conn_error(p->srv.c), 0);
    tp_pair_free(p);
}

static void bad_padding_and_alignment(void **state)
{
    (void)state;
    /* payload: IGNORE with an 8-byte string = 13 bytes */
    uint8_t payload[13] = {SSH_MSG_IGNORE, 0, 0, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8};
    static const struct {
        const char *cipher, *mac;
        size_t n, padlen;
    } cases[] = {
        /* padding_length 2 (< 4), block-aligned: 1 + 13 + 2 = 16 */
        {"chacha20-poly1305@openssh.com", "hmac-sha2-256", 13, 2},
        {"aes128-gcm@openssh.com", "hmac-sha2-256", 13, 2},
        {"aes128-ctr", "hmac-sha2-256-etm@openssh.com", 13, 2},
        /* non-ETM: 4 + 1 + 11 + 0 = 16 */
        {"aes256-ctr", "hmac-sha2-512", 11, 0},
        /* unaligned: 1 + 13 + 5 = 19 */
        {"chacha20-poly1305@openssh.com", "hmac-sha2-256", 13, 5},
        {"aes256-gcm@openssh.com", "hmac-sha2-256", 13, 5},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tp_pair *p = connected(cases[i].cipher, cases[i].mac, NULL);
        tp_inject_packet(p->cli.c, payload, cases[i].n, cases[i].padlen, 0);
        tp_pump(p, 0);
        assert_rejected(&p->srv, &p->cli, SSH_ERR_PACKET_FORMAT, SSH_DISCONNECT_PROTOCOL_ERROR);
        tp_pair_free(p);
    }
    /* Padding filling the whole packet: no payload at all (valid MAC,
     * aligned length 1 + 0 + 31 = 32). */
    tp_pair *p = connected("aes128-gcm@openssh.com", "hmac-sha2-256", NULL);
    tp_inject_packet(p->cli.c, payload, 0, 31, 0);
    tp_pump(p, 0);
    assert_rejected(&p->srv, &p->cli, SSH_ERR_PACKET_FORMAT, SSH_DISCONNECT_PROTOCOL_ERROR);
    tp_pair_free(p);
    /* A correct crafted packet passes, proving the helper builds valid ones. */
    p = connected("aes128-gcm@openssh.com", "hmac-sha2-256", NULL);
    tp_inject_packet(p->cli.c, payload, 13, 18, 0);
    tp_pump(p, 0);
    assert_int_equal(ssh_conn_error(p->srv.c), 0);
    assert_int_equal(ssh_conn_error(p->cli.c), 0);
    tp_pair_free(p);
    p = connected("aes128-ctr", "hmac-sha2-256", NULL);
    tp_inject_packet(p->cli.c, payload, 13, 14, 0);
    tp_pump(p, 0);
    assert_int_equal(ssh_conn_error(p->srv.c), 0);
    tp_pair_free(p);
}

/* ---- sequence numbers ------------------------------------------------------------------- */

/* A sequence number wrapping during the initial exchange is refused (it
 * would let packets be realigned); afterwards wrapping is normal. */
static void seq_wrap(void **state)
{
    (void)state;
    tp_pair *p = tp_pair_new(NULL, NULL, ed(), ed());
    tp_start(p);
    p->srv.c->rx.seq = UINT32_MAX;
    tp_pump(p, 0);
    assert_rejected(&p->srv, &p->cli, SSH_ERR_SEQ_WRAP, SSH_DISCONNECT_PROTOCOL_ERROR);
    tp_pair_free(p);

    int id;
    p = connected("chacha20-poly1305@openssh.com", "hmac-sha2-256", &id);
    p->cli.c->tx.seq = UINT32_MAX - 1;
    p->srv.c->rx.seq = UINT32_MAX - 1;
    for (int i = 0; i < 4; i++)
        assert_int_equal(ssh_channel_send(p->cli.c, (uint32_t)id, 0, "w", 1), 1);
    tp_pump(p, 0);
    assert_int_equal(ssh_conn_error(p->srv.c), 0);
    assert_int_equal(p->srv.c->rx.seq, 2);
    assert_int_equal(ssh_buf_len(&tp_chan_of(&p->srv, 0)->sink), 4);
    tp_pair_free(p);
}

/* ---- strict KEX ------------------------------------------------------------------------- */

/* An IGNORE from the client after its KEXINIT, during the initial exchange. */
static void strict_kex_ignore_during_kex(void **state)
{
    (void)state;
    tp_pair *p = tp_pair_new(NULL, NULL, ed(), ed());
    tp_start(p);
    assert_int_equal(ssh_conn_send_ignore(p->cli.c, 8), 0);
    tp_pump(p, 0);
    assert_rejected(&p->srv, &p->cli, SSH_ERR_STRICT_KEX, SSH_DISCONNECT_PROTOCOL_ERROR);
    assert_int_equal(p->cli.kex_done, 0);
    tp_pair_free(p);

    /* The same from the server, after its KEXINIT. */
    p = tp_pair_new(NULL, NULL, ed(), ed());
    tp_start(p);
    tp_transfer(p, &p->cli, &p->srv); /* server: KEXINIT in */
    assert_int_equal(ssh_conn_send_ignore(p->srv.c, 8), 0);
    tp_pump(p, 0);
    assert_rejected(&p->cli, &p->srv, SSH_ERR_STRICT_KEX, SSH_DISCONNECT_PROTOCOL_ERROR);
    tp_pair_free(p);

    /* After the initial exchange IGNORE is fine, also during a rekey. */
    p = connected("aes128-ctr", "hmac-sha2-256", NULL);
    assert_int_equal(ssh_conn_send_ignore(p->cli.c, 100), 0);
    assert_int_equal(ssh_conn_rekey(p->cli.c), 0);
    assert_int_equal(ssh_conn_send_ignore(p->cli.c, 100), 0);
    assert_int_equal(ssh_conn_send_ignore(p->srv.c, 0), 0);
    tp_pump(p, 0);
    assert_int_equal(ssh_conn_error(p->srv.c), 0);
    assert_int_equal(ssh_conn_error(p->cli.c), 0);
    assert_int_equal(kex_count(p->srv.c), 2);
    tp_pair_free(p);
}

/* An unencrypted packet: uint32 length, padding length, payload, padding. */
static size_t plain_packet(uint8_t *out, const uint8_t *payload, size_t n)
{
    size_t pad = 8 - ((5 + n) % 8);
    if (pad < 4)
        pad += 8;
    ssh_poke_u32(out, (uint32_t)(1 + n + pad));
    out[4] = (uint8_t)pad;
    memcpy(out + 5, payload, n);
    memset(out + 5 + n, 0, pad);
    return 5 + n + pad;
}

/* An IGNORE between the client's identification and its first KEXINIT:
 * with strict KEX the KEXINIT must be the first packet. */
static void strict_kex_ignore_before_kexinit(void **state)
{
    (void)state;
    for (int who = 0; who < 2; who++) {
        tp_pair *p = tp_pair_new(NULL, NULL, ed(), ed());
        tp_side *from = who ? &p->srv : &p->cli, *to = who ? &p->cli : &p->srv;
        tp_start(p);
        struct iovec iov;
        assert_int_equal(ssh_conn_output(from->c, &iov, 1), 1);
        const uint8_t *base = iov.iov_base;
        const uint8_t *nl = memchr(base, '\n', iov.iov_len);
        assert_non_null(nl);
        size_t identlen = (size_t)(nl - base) + 1;
        ssh_conn_feed(to->c, base, identlen, p->now);
        ssh_conn_output_consumed(from->c, identlen);
        uint8_t ign[] = {SSH_MSG_IGNORE, 0, 0, 0, 3, 'a', 'b', 'c'}, pkt[64];
        size_t n = plain_packet(pkt, ign, sizeof(ign));
        ssh_conn_feed(to->c, pkt, n, p->now);
        assert_int_equal(ssh_conn_error(to->c), 0); /* not yet: KEXINIT decides */
        tp_pump(p, 0);
        assert_rejected(to, from, SSH_ERR_STRICT_KEX, SSH_DISCONNECT_PROTOCOL_ERROR);
        tp_pair_free(p);
    }
}

/* ---- key exchange rejections -------------------------------------------------------------- */

static tp_pair *pair_kex(const char *kex)
{
    ssh_conn_config cc, sc;
    ssh_conn_config_init(&cc, SSH_ROLE_CLIENT);
    ssh_conn_config_init(&sc, SSH_ROLE_SERVER);
    cc.kex_algs = sc.kex_algs = kex;
    return tp_pair_new(&cc, &sc, ed(), ed());
}

/* Invalid public values in the client's first method message: the server
 * refuses with SSH_ERR_KEX and KEY_EXCHANGE_FAILED. */
static void kex_bad_client_values(void **state)
{
    (void)state;
    uint8_t p256[65];
    memset(p256, 1, sizeof(p256));
    p256[0] = 4; /* uncompressed, but (1..1, 1..1) is not on the curve */
    static const uint8_t zero32[32];
    uint8_t x31[31];
    memset(x31, 9, sizeof(x31));
    static const uint8_t one = 1;
    uint8_t bad_range[12];
    ssh_poke_u32(bad_range, 8192);     /* min */
    ssh_poke_u32(bad_range + 4, 4096); /* n < min */
    ssh_poke_u32(bad_range + 8, 2048); /* max < min */
    const struct {
        const char *kex;
        uint8_t type;
        const uint8_t *v;
        size_t len;
        int raw; /* body as is, not as a string */
    } cases[] = {
        {"curve25519-sha256", SSH_MSG_KEX_ECDH_INIT, x31, sizeof(x31), 0},
        {"curve25519-sha256@libssh.org", SSH_MSG_KEX_ECDH_INIT, zero32, sizeof(zero32), 0},
        {"ecdh-sha2-nistp256", SSH_MSG_KEX_ECDH_INIT, p256, sizeof(p256), 0},
        {"ecdh-sha2-nistp384", SSH_MSG_KEX_ECDH_INIT, p256, sizeof(p256), 0}, /* wrong size */
        {"diffie-hellman-group14-sha256", SSH_MSG_KEX_ECDH_INIT, &one, 1, 0}, /* f = 1 */
        {"diffie-hellman-group16-sha512", SSH_MSG_KEX_ECDH_INIT, NULL, 0, 0}, /* f = 0 */
        {"diffie-hellman-group-exchange-sha256", SSH_MSG_KEX_DH_GEX_REQUEST, bad_range, 12, 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tp_pair *p = pair_kex(cases[i].kex);
        tp_start(p);
        tp_transfer(p, &p->cli, &p->srv); /* identification and KEXINIT */
        uint8_t payload[128], pkt[160];
        size_t n = 0;
        payload[n++] = cases[i].type;
        if (!cases[i].raw) {
            ssh_poke_u32(payload + n, (uint32_t)cases[i].len);
            n += 4;
        }
        if (cases[i].len)
            memcpy(payload + n, cases[i].v, cases[i].len);
        n += cases[i].len;
        size_t k = plain_packet(pkt, payload, n);
        ssh_conn_feed(p->srv.c, pkt, k, p->now);
        tp_pump(p, 0);
        if (ssh_conn_error(p->srv.c) != SSH_ERR_KEX)
            fail_msg("%s: %s", cases[i].kex, ssh_strerror(ssh_conn_error(p->srv.c)));
        assert_rejected(&p->srv, &p->cli, SSH_ERR_KEX, SSH_DISCONNECT_KEY_EXCHANGE_FAILED);
        tp_pair_free(p);
    }
}

/* The server's signature over the exchange hash does not verify. */
static void kex_bad_server_signature(void **state)
{
    (void)state;
    static const struct {
        enum ssh_key_type t;
        const char *alg;
    } keys[] = {{SSH_KEY_ED25519, "ssh-ed25519"},
                {SSH_KEY_ECDSA_P256, "ecdsa-sha2-nistp256"},
                {SSH_KEY_RSA, "rsa-sha2-256"}};
    for (size_t i = 0; i < 3; i++) {
        ssh_conn_config cc, sc;
        ssh_conn_config_init(&cc, SSH_ROLE_CLIENT);
        ssh_conn_config_init(&sc, SSH_ROLE_SERVER);
        cc.hostkey_algs = sc.hostkey_algs = keys[i].alg;
        tp_pair *p = tp_pair_new(&cc, &sc, tp_key(keys[i].t), ed());
        tp_start(p);
        tp_transfer(p, &p->cli, &p->srv); /* client ident + KEXINIT */
        tp_transfer(p, &p->srv, &p->cli); /* server ident + KEXINIT; client sends INIT */
        tp_transfer(p, &p->cli, &p->srv); /* server: REPLY, NEWKEYS */
        struct iovec iov;
        assert_int_equal(ssh_conn_output(p->srv.c, &iov, 1), 1);
        uint8_t *reply = iov.iov_base;
        assert_int_equal(reply[5], SSH_MSG_KEX_ECDH_REPLY);
        uint32_t plen = ssh_peek_u32(reply);
        /* the last byte of the payload is the last byte of the signature */
        reply[4 + plen - reply[4] - 1] ^= 0x10;
        tp_pump(p, 0);
        assert_int_equal(p->cli.hostkey_calls, 0);
        assert_rejected(&p->cli, &p->srv, SSH_ERR_SIGNATURE, SSH_DISCONNECT_KEY_EXCHANGE_FAILED);
        tp_pair_free(p);
    }
}

/* Key exchange messages out of order. */
static void kex_messages_out_of_order(void **state)
{
    (void)state;
    /* NEWKEYS before any keys exist. */
    tp_pair *p = tp_pair_new(NULL, NULL, ed(), ed());
    tp_start(p);
    tp_send_raw(p->cli.c, SSH_MSG_NEWKEYS, NULL, 0);
    tp_pump(p, 0);
    assert_rejected(&p->srv, &p->cli, SSH_ERR_UNEXPECTED, SSH_DISCONNECT_PROTOCOL_ERROR);
    tp_pair_free(p);

    /* A second KEXINIT in the same exchange. */
    p = tp_pair_new(NULL, NULL, ed(), ed());
    tp_start(p);
    tp_send_raw(p->cli.c, SSH_MSG_KEXINIT, "0123456789abcdef", 16);
    tp_pump(p, 0);
    assert_rejected(&p->srv, &p->cli, SSH_ERR_UNEXPECTED, SSH_DISCONNECT_PROTOCOL_ERROR);
    tp_pair_free(p);

    /* The server's REPLY message number sent to the server. */
    p = tp_pair_new(NULL, NULL, ed(), ed());
    tp_start(p);
    tp_send_raw(p->cli.c, SSH_MSG_KEX_ECDH_REPLY, NULL, 0);
    tp_pump(p, 0);
    assert_rejected(&p->srv, &p->cli, SSH_ERR_UNEXPECTED, SSH_DISCONNECT_PROTOCOL_ERROR);
    tp_pair_free(p);

    /* A truncated KEXINIT. */
    p = tp_pair_new(NULL, NULL, ed(), ed());
    tp_start(p);
    struct iovec iov;
    assert_int_equal(ssh_conn_output(p->cli.c, &iov, 1), 1);
    const uint8_t *nl = memchr(iov.iov_base, '\n', iov.iov_len);
    size_t il = (size_t)(nl - (const uint8_t *)iov.iov_base) + 1;
    ssh_conn_feed(p->srv.c, iov.iov_base, il, p->now);
    ssh_conn_output_consumed(p->cli.c, iov.iov_len);
    uint8_t kexinit[] = {SSH_MSG_KEXINIT,
                         1,
                         2,
                         3,
                         4,
                         5,
                         6,
                         7,
                         8,
                         9,
                         10,
                         11,
                         12,
                         13,
                         14,
                         15,
                         16,
                         0,
                         0,
                         0,
                         4,
                         'n',
                         'o',
                         'n',
                         'e'};
    uint8_t pkt[64];
    size_t k = plain_packet(pkt, kexinit, sizeof(kexinit));
    ssh_conn_feed(p->srv.c, pkt, k, p->now);
    tp_pump(p, 0);
    assert_rejected(&p->srv, &p->cli, SSH_ERR_INCOMPLETE, SSH_DISCONNECT_PROTOCOL_ERROR);
    tp_pair_free(p);
}

/* ---- messages out of phase, unknown messages, DISCONNECT ---------------------------------- */

static void channel_open_before_auth(void **state)
{
    (void)state;
    tp_pair *p = tp_pair_new(NULL, NULL, ed(), ed());
    p->cli.auth_method = "manual";
    tp_start(p);
    tp_pump(p, 0);
    assert_int_equal(ssh_conn_state(p->cli.c), SSH_STATE_AUTH);
    assert_int_equal(p->cli.auth_ready, 1);
    /* The API refuses... */
    uint32_t id;
    ssh_channel_open_info info = {.kind = SSH_CHAN_SESSION};
    assert_int_equal(ssh_channel_open(p->cli.c, &info, NULL, &id), SSH_ERR_STATE);
    /* ...so craft it. */
    ssh_buf b;
    ssh_buf_init(&b, 0, 0);
    assert_int_equal(ssh_buf_put_cstring(&b, "session"), 0);
    assert_int_equal(ssh_buf_put_u32(&b, 0), 0);
    assert_int_equal(ssh_buf_put_u32(&b, 65536), 0);
    assert_int_equal(ssh_buf_put_u32(&b, 32768), 0);
    tp_send_raw(p->cli.c, SSH_MSG_CHANNEL_OPEN, ssh_buf_ptr(&b), ssh_buf_len(&b));
    ssh_buf_free(&b);
    tp_pump(p, 0);
    assert_rejected(&p->srv, &p->cli, SSH_ERR_UNEXPECTED, SSH_DISCONNECT_PROTOCOL_ERROR);
    tp_pair_free(p);
}

/* More messages in the wrong phase.  (Key exchange messages outside an
 * exchange get UNIMPLEMENTED instead, as from OpenSSH: test_engine_kexmsg.) */
static void messages_out_of_phase(void **state)
{
    (void)state;
    /* body: string "ssh-foo", then a zero byte (bool FALSE / channel 0) */
    static const struct {
        int from_server;
        int authed;
        uint8_t type;
        size_t len; /* of the body below */
    } cases[] = {
        {0, 0, SSH_MSG_GLOBAL_REQUEST, 12},        /* before authentication */
        {1, 0, SSH_MSG_CHANNEL_DATA, 8},           /* server, before authentication */
        {1, 0, SSH_MSG_USERAUTH_SUCCESS, 0},       /* no attempt outstanding */
        {0, 1, SSH_MSG_SERVICE_REQUEST, 11},       /* again, after authentication */
        {1, 1, SSH_MSG_SERVICE_ACCEPT, 11},        /* unrequested */
        {0, 1, SSH_MSG_USERAUTH_INFO_RESPONSE, 0}, /* after authentication */
        {1, 1, SSH_MSG_REQUEST_SUCCESS, 0},        /* reply nobody asked for */
        {0, 1, SSH_MSG_CHANNEL_WINDOW_ADJUST, 8},  /* unknown channel */
    };
    const uint8_t body[] = {0, 0, 0, 7, 's', 's', 'h', '-', 'f', 'o', 'o', 0};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tp_pair *p = tp_pair_new(NULL, NULL, ed(), ed());
        if (!cases[i].authed)
            p->cli.auth_method = "manual";
        tp_start(p);
        tp_pump(p, 0);
        assert_int_equal(ssh_conn_state(p->cli.c),
                         cases[i].authed ? SSH_STATE_OPEN : SSH_STATE_AUTH);
        tp_side *from = cases[i].from_server ? &p->srv : &p->cli;
        tp_side *to = cases[i].from_server ? &p->cli : &p->srv;
        size_t len = cases[i].len;
        tp_send_raw(from->c, cases[i].type, body, len);
        tp_pump(p, 0);
        if (ssh_conn_error(to->c) != SSH_ERR_UNEXPECTED)
            fail_msg("case %zu (message %u): error %d", i, cases[i].type, ssh_conn_error(to->c));
        assert_rejected(to, from, SSH_ERR_UNEXPECTED, SSH_DISCONNECT_PROTOCOL_ERROR);
        tp_pair_free(p);
    }
}

/* Unknown message numbers get UNIMPLEMENTED and the connection goes on. */
static void unknown_message_unimplemented(void **state)
{
    (void)state;
    int id;
    tp_pair *p = connected("chacha20-poly1305@openssh.com", "hmac-sha2-256", &id);
    char expect[64];
    snprintf(expect, sizeof(expect), "Received SSH2_MSG_UNIMPLEMENTED for %u", p->srv.c->rx.seq);
    p->cli.log_grep = expect;
    uint64_t cin = p->cli.c->packets_in;
    tp_send_raw(p->cli.c, 200, "\x01\x02\x03", 3);
    tp_pump(p, 0);
    assert_int_equal(ssh_conn_error(p->srv.c), 0);
    assert_int_equal(ssh_conn_error(p->cli.c), 0);
    assert_int_equal(p->cli.c->packets_in, cin + 1);
    assert_int_equal(p->cli.log_hits, 1);
    /* The other way, and unassigned numbers below 128 too. */
    snprintf(expect, sizeof(expect), "Received SSH2_MSG_UNIMPLEMENTED for %u", p->cli.c->rx.seq);
    p->srv.log_grep = expect;
    tp_send_raw(p->srv.c, 15, NULL, 0);
    tp_pump(p, 0);
    assert_int_equal(p->srv.log_hits, 1);
    assert_int_equal(ssh_conn_error(p->cli.c), 0);
    /* A DEBUG message with always_display reaches the callback. */
    uint8_t dbg[] = {1, 0, 0, 0, 2, 'h', 'i', 0, 0, 0, 0};
    tp_send_raw(p->srv.c, SSH_MSG_DEBUG, dbg, sizeof(dbg));
    dbg[0] = 0;
    tp_send_raw(p->srv.c, SSH_MSG_DEBUG, dbg, sizeof(dbg));
    tp_pump(p, 0);
    assert_int_equal(p->cli.debug_msgs, 1);
    /* Still working. */
    assert_int_equal(ssh_channel_send(p->cli.c, (uint32_t)id, 0, "ok", 2), 2);
    tp_pump(p, 0);
    assert_int_equal(ssh_buf_len(&tp_chan_of(&p->srv, 0)->sink), 2);
    tp_pair_free(p);
}

static void peer_disconnect_reported(void **state)
{
    (void)state;
    for (int who = 0; who < 2; who++) {
        tp_pair *p = connected("aes128-ctr", "hmac-sha2-256-etm@openssh.com", NULL);
        tp_side *a = who ? &p->srv : &p->cli, *b = who ? &p->cli : &p->srv;
        assert_int_equal(ssh_conn_disconnect(a->c, SSH_DISCONNECT_BY_APPLICATION, "bye now"), 0);
        assert_int_equal(ssh_conn_error(a->c), SSH_ERR_CLOSED);
        assert_int_equal(a->disc_err, SSH_ERR_CLOSED);
        assert_int_equal(a->disc_reason, SSH_DISCONNECT_BY_APPLICATION);
        assert_true(ssh_conn_output_pending(a->c) > 0);
        tp_pump(p, 0);
        assert_int_equal(a->disconnected, 1);
        assert_int_equal(b->disconnected, 1);
        assert_int_equal(b->disc_err, SSH_ERR_DISCONNECTED);
        assert_int_equal(b->disc_reason, SSH_DISCONNECT_BY_APPLICATION);
        assert_string_equal(b->disc_msg, "bye now");
        assert_int_equal(ssh_conn_state(b->c), SSH_STATE_CLOSED);
        /* Further calls fail with the sticky error, no second callback. */
        uint32_t id;
        ssh_channel_open_info info = {.kind = SSH_CHAN_SESSION};
        assert_true(ssh_channel_open(b->c, &info, NULL, &id) != 0);
        assert_int_equal(ssh_conn_feed(b->c, (const uint8_t *)"x", 1, p->now),
                         SSH_ERR_DISCONNECTED);
        assert_int_equal(ssh_conn_input_eof(b->c), SSH_ERR_DISCONNECTED);
        assert_int_equal(ssh_conn_disconnect(a->c, 2, "again"), SSH_ERR_CLOSED);
        assert_int_equal(a->disconnected, 1);
        assert_int_equal(b->disconnected, 1);
        tp_pair_free(p);
    }
    /* A DISCONNECT during the initial key exchange is honoured too. */
    tp_pair *p = tp_pair_new(NULL, NULL, ed(), ed());
    tp_start(p);
    assert_int_equal(ssh_conn_disconnect(p->srv.c, SSH_DISCONNECT_TOO_MANY_CONNECTIONS, "full"), 0);
    tp_pump(p, 0);
    assert_int_equal(p->cli.disc_err, SSH_ERR_DISCONNECTED);
    assert_int_equal(p->cli.disc_reason, SSH_DISCONNECT_TOO_MANY_CONNECTIONS);
    assert_string_equal(p->cli.disc_msg, "full");
    tp_pair_free(p);
    /* The socket closing without DISCONNECT. */
    p = connected("aes128-ctr", "hmac-sha2-256", NULL);
    assert_int_equal(ssh_conn_input_eof(p->cli.c), SSH_ERR_CONN_LOST);
    assert_int_equal(p->cli.disc_err, SSH_ERR_CONN_LOST);
    assert_int_equal(ssh_conn_output_pending(p->cli.c), 0);
    tp_pair_free(p);
}

/* The application disconnects from inside a callback: the rest of the
 * input is not processed, the DISCONNECT goes out. */
static void hang_up_in_callback(tp_side *s, uint32_t id, int sno, const uint8_t *d, size_t n)
{
    (void)id;
    (void)sno;
    assert_int_equal(ssh_buf_put(&tp_chan_of(s, 0)->sink, d, n), 0);
    assert_int_equal(ssh_conn_disconnect(s->c, SSH_DISCONNECT_BY_APPLICATION, "enough"), 0);
}

static void disconnect_from_callback(void **state)
{
    (void)state;
    int id;
    tp_pair *p = connected("aes256-gcm@openssh.com", "hmac-sha2-256", &id);
    p->srv.on_data = hang_up_in_callback;
    assert_int_equal(ssh_channel_send(p->cli.c, (uint32_t)id, 0, "one", 3), 3);
    assert_int_equal(ssh_channel_send(p->cli.c, (uint32_t)id, 0, "two", 3), 3);
    tp_pump(p, 0);
    assert_int_equal(ssh_buf_len(&tp_chan_of(&p->srv, 0)->sink), 3);
    assert_int_equal(ssh_conn_error(p->srv.c), SSH_ERR_CLOSED);
    assert_int_equal(p->srv.disconnected, 1);
    assert_int_equal(p->cli.disc_err, SSH_ERR_DISCONNECTED);
    assert_int_equal(p->cli.disc_reason, SSH_DISCONNECT_BY_APPLICATION);
    assert_string_equal(p->cli.disc_msg, "enough");
    tp_pair_free(p);
}

/* ---- flow-control violation -------------------------------------------------------------- */

static void window_overrun(void **state)
{
    (void)state;
    ssh_conn_config sc;
    ssh_conn_config_init(&sc, SSH_ROLE_SERVER);
    sc.window = sc.window_max = 4096;
    tp_pair *p = tp_pair_new(NULL, &sc, ed(), ed());
    p->srv.hold = 1;
    assert_int_equal(tp_connect(p), 0);
    int id = tp_open_session(p);
    assert_true(id >= 0);
    uint8_t data[5000] = {0};
    assert_int_equal(ssh_channel_window(p->cli.c, (uint32_t)id), 4096);
    assert_int_equal(ssh_channel_send(p->cli.c, (uint32_t)id, 0, data, sizeof(data)), 4096);
    assert_int_equal(ssh_channel_window(p->cli.c, (uint32_t)id), 0);
    tp_pump(p, 0);
    assert_int_equal(ssh_conn_error(p->srv.c), 0);
    /* One byte beyond the window, crafted. */
    uint8_t body[] = {0, 0, 0, 0, 0, 0, 0, 1, 'z'};
    tp_send_raw(p->cli.c, SSH_MSG_CHANNEL_DATA, body, sizeof(body));
    tp_pump(p, 0);
    assert_rejected(&p->srv, &p->cli, SSH_ERR_WINDOW_EXCEEDED, SSH_DISCONNECT_PROTOCOL_ERROR);
    assert_int_equal(ssh_buf_len(&tp_chan_of(&p->srv, 0)->sink), 4096);
    tp_pair_free(p);

    /* Extended data counts against the same window, in one big packet. */
    p = tp_pair_new(NULL, &sc, ed(), ed());
    assert_int_equal(tp_connect(p), 0);
    id = tp_open_session(p);
    assert_true(id >= 0);
    ssh_buf b;
    ssh_buf_init(&b, 0, 0);
    assert_int_equal(ssh_buf_put_u32(&b, 0), 0);
    assert_int_equal(ssh_buf_put_u32(&b, SSH_STREAM_STDERR), 0);
    assert_int_equal(ssh_buf_put_string(&b, data, 4097), 0);
    tp_send_raw(p->cli.c, SSH_MSG_CHANNEL_EXTENDED_DATA, ssh_buf_ptr(&b), ssh_buf_len(&b));
    ssh_buf_free(&b);
    tp_pump(p, 0);
    assert_rejected(&p->srv, &p->cli, SSH_ERR_WINDOW_EXCEEDED, SSH_DISCONNECT_PROTOCOL_ERROR);
    tp_pair_free(p);
}

/* ---- timers -------------------------------------------------------------------------------- */

/* Buffers that grew for a burst can be released once empty, and the
 * connection carries on: a 4 MiB transfer each way leaves megabytes of
 * buffer capacity; ssh_conn_trim() frees what holds nothing (and nothing
 * the second time), and data then flows both ways, across a key
 * re-exchange, intact. */
static void trim_releases_idle_buffers(void **state)
{
    (void)state;
    int id;
    tp_pair *p = connected("aes128-gcm@openssh.com", NULL, &id);
    uint32_t cid = (uint32_t)id;
    size_t n = 4u * 1024 * 1024;
    uint8_t *buf = malloc(n);
    assert_non_null(buf);
    uint64_t seed = 7;
    test_rand(&seed, buf, n);
    /* the whole burst queued at once (as a thousand channels would) */
    size_t sent = 0;
    while (sent < n) {
        long k = ssh_channel_send(p->cli.c, cid, 0, buf + sent, n - sent);
        assert_true(k >= 0);
        sent += (size_t)k;
        if (k == 0)
            tp_pump(p, 0);
    }
    tp_pump(p, 0);
    assert_true(p->cli.c->out.cap >= 1024 * 1024);
    assert_true(p->srv.c->in.cap > 0);
    size_t freed = ssh_conn_trim(p->cli.c) + ssh_conn_trim(p->srv.c);
    assert_true(freed >= 1024 * 1024);
    assert_int_equal(p->cli.c->out.cap, 0);
    assert_int_equal(p->srv.c->in.cap, 0);
    assert_int_equal(ssh_conn_trim(p->cli.c) + ssh_conn_trim(p->srv.c), 0);
    /* both ways again, with a re-exchange in the middle */
    tp_chan *sch = tp_chan_of(&p->srv, 0), *cch = tp_chan_of(&p->cli, cid);
    ssh_buf_reset(&sch->sink);
    assert_int_equal(ssh_channel_send(p->cli.c, cid, 0, buf, 65536), 65536);
    assert_int_equal(ssh_channel_send(p->srv.c, 0, 0, buf + 65536, 65536), 65536);
    assert_int_equal(ssh_conn_rekey(p->cli.c), 0);
    tp_pump(p, 0);
    assert_int_equal(ssh_conn_trim(p->srv.c) > 0, 1);
    assert_int_equal(ssh_channel_send(p->cli.c, cid, 0, buf + 131072, 65536), 65536);
    tp_pump(p, 0);
    assert_int_equal(ssh_buf_len(&sch->sink), 131072);
    assert_memory_equal(ssh_buf_ptr(&sch->sink), buf, 65536);
    assert_memory_equal(ssh_buf_ptr(&sch->sink) + 65536, buf + 131072, 65536);
    assert_int_equal(ssh_buf_len(&cch->sink), 65536);
    assert_memory_equal(ssh_buf_ptr(&cch->sink), buf + 65536, 65536);
    assert_true(p->cli.kex_done >= 2);
    assert_int_equal(ssh_conn_error(p->cli.c), 0);
    assert_int_equal(ssh_conn_error(p->srv.c), 0);
    free(buf);
    tp_pair_free(p);
}

static void keepalive_timeout(void **state)
{
    (void)state;
    ssh_conn_config cc;
    ssh_conn_config_init(&cc, SSH_ROLE_CLIENT);
    cc.alive_interval_ms = 1000;
    cc.alive_count_max = 3;
    tp_pair *p = tp_pair_new(&cc, NULL, ed(), ed());
    assert_int_equal(tp_connect(p), 0);
    assert_true(ssh_conn_deadline(p->cli.c) == p->now + 1000);

    /* An answering peer: keepalives go out and come back, forever. */
    for (int i = 0; i < 10; i++) {
        tp_advance(p, 1000);
        tp_pump(p, 0);
        assert_int_equal(ssh_conn_error(p->cli.c), 0);
    }
    /* Answered by the engine, not the application, on both sides. */
    assert_int_equal(p->srv.global_requests, 0);
    assert_int_equal(p->cli.n_greply, 0);
    assert_int_equal(p->cli.global_fail, 0);

    /* Traffic from the peer postpones the keepalive. */
    uint64_t d = ssh_conn_deadline(p->cli.c);
    tp_advance(p, 500);
    assert_int_equal(ssh_conn_send_ignore(p->srv.c, 4), 0);
    tp_pump(p, 0);
    assert_true(ssh_conn_deadline(p->cli.c) > d);

    /* Now the server stops answering: only client-to-server bytes move. */
    int ticks = 0;
    while (ssh_conn_error(p->cli.c) == 0) {
        tp_advance(p, 1000);
        tp_transfer(p, &p->cli, &p->srv);
        assert_true(++ticks < 10);
    }
    assert_int_equal(ticks, 4); /* three unanswered keepalives, then the timeout */
    assert_int_equal(ssh_conn_error(p->cli.c), SSH_ERR_TIMEOUT);
    assert_int_equal(p->cli.disc_err, SSH_ERR_TIMEOUT);
    assert_int_equal(p->cli.disc_reason, SSH_DISCONNECT_CONNECTION_LOST);
    tp_transfer(p, &p->cli, &p->srv);
    assert_int_equal(p->srv.disc_err, SSH_ERR_DISCONNECTED);
    assert_int_equal(p->srv.disc_reason, SSH_DISCONNECT_CONNECTION_LOST);
    tp_pair_free(p);

    /* The server side (ClientAliveInterval) works the same way. */
    ssh_conn_config sc;
    ssh_conn_config_init(&sc, SSH_ROLE_SERVER);
    sc.alive_interval_ms = 5000;
    sc.alive_count_max = 1;
    p = tp_pair_new(NULL, &sc, ed(), ed());
    assert_int_equal(tp_connect(p), 0);
    tp_advance(p, 5000);
    tp_pump(p, 0);
    assert_int_equal(ssh_conn_error(p->srv.c), 0);
    tp_advance(p, 5000);
    tp_transfer(p, &p->srv, &p->cli);
    tp_advance(p, 5000);
    assert_int_equal(ssh_conn_error(p->srv.c), SSH_ERR_TIMEOUT);
    tp_transfer(p, &p->srv, &p->cli);
    assert_int_equal(p->cli.disc_reason, SSH_DISCONNECT_CONNECTION_LOST);
    tp_pair_free(p);
}

static void login_grace_timeout(void **state)
{
    (void)state;
    ssh_conn_config sc;
    ssh_conn_config_init(&sc, SSH_ROLE_SERVER);
    sc.login_grace_ms = 30 * 1000;
    tp_pair *p = tp_pair_new(NULL, &sc, ed(), ed());
    p->cli.auth_method = "manual";
    tp_start(p);
    tp_pump(p, 0);
    assert_int_equal(ssh_conn_state(p->srv.c), SSH_STATE_AUTH);
    assert_true(ssh_conn_deadline(p->srv.c) == 1000 + 30 * 1000);
    tp_advance(p, 30 * 1000 - 1);
    assert_int_equal(ssh_conn_error(p->srv.c), 0);
    tp_advance(p, 1);
    assert_int_equal(ssh_conn_error(p->srv.c), SSH_ERR_AUTH_TIMEOUT);
    tp_pump(p, 0);
    assert_rejected(&p->srv, &p->cli, SSH_ERR_AUTH_TIMEOUT, SSH_DISCONNECT_PROTOCOL_ERROR);
    assert_string_equal(p->cli.disc_msg, "Timeout before authentication");
    tp_pair_free(p);

    /* Also during the key exchange (a client that never answers). */
    p = tp_pair_new(NULL, &sc, ed(), ed());
    tp_start(p);
    tp_advance(p, 30 * 1000);
    assert_int_equal(ssh_conn_error(p->srv.c), SSH_ERR_AUTH_TIMEOUT);
    tp_pair_free(p);

    /* Authenticated in time: the grace timer is gone. */
    p = tp_pair_new(NULL, &sc, ed(), ed());
    assert_int_equal(tp_connect(p), 0);
    tp_advance(p, 60 * 1000);
    tp_pump(p, 0);
    assert_int_equal(ssh_conn_error(p->srv.c), 0);
    assert_int_equal(ssh_conn_state(p->srv.c), SSH_STATE_OPEN);
    tp_pair_free(p);

    /* UINT64_MAX: no grace limit at all. */
    sc.login_grace_ms = UINT64_MAX;
    sc.rekey_time_ms = UINT64_MAX;
    p = tp_pair_new(NULL, &sc, ed(), ed());
    p->cli.auth_method = "manual";
    tp_start(p);
    tp_pump(p, 0);
    assert_true(ssh_conn_deadline(p->srv.c) == UINT64_MAX);
    tp_advance(p, 24ull * 3600 * 1000);
    assert_int_equal(ssh_conn_error(p->srv.c), 0);
    tp_pair_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rekey_during_64mib_both_ways),
        cmocka_unit_test(rekey_requested_by_each_side),
        cmocka_unit_test(rekey_simultaneous),
        cmocka_unit_test(rekey_by_time),
        cmocka_unit_test(tiny_chunks),
        cmocka_unit_test(ident_lines_before_banner),
        cmocka_unit_test(ident_server_refuses_other_lines),
        cmocka_unit_test(ident_line_length),
        cmocka_unit_test(ident_versions),
        cmocka_unit_test(bad_mac),
        cmocka_unit_test(bad_mac_in_tag),
        cmocka_unit_test(oversize_packet),
        cmocka_unit_test(packet_size_limit),
        cmocka_unit_test(bad_padding_and_alignment),
        cmocka_unit_test(seq_wrap),
        cmocka_unit_test(strict_kex_ignore_during_kex),
        cmocka_unit_test(strict_kex_ignore_before_kexinit),
        cmocka_unit_test(kex_bad_client_values),
        cmocka_unit_test(kex_bad_server_signature),
        cmocka_unit_test(kex_messages_out_of_order),
        cmocka_unit_test(channel_open_before_auth),
        cmocka_unit_test(messages_out_of_phase),
        cmocka_unit_test(unknown_message_unimplemented),
        cmocka_unit_test(peer_disconnect_reported),
        cmocka_unit_test(disconnect_from_callback),
        cmocka_unit_test(window_overrun),
        cmocka_unit_test(trim_releases_idle_buffers),
        cmocka_unit_test(keepalive_timeout),
        cmocka_unit_test(login_grace_timeout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
