/*
 * test_engine_window.c - flow control (RFC 4254 section 5.2) and receive
 * window sizing, in memory under a fake clock:
 *  - adjusts go out once an eighth of the window has been consumed, and
 *    only for consumed bytes;
 *  - the path's round trip is measured end to end (the service request,
 *    keepalive round trips at authentication and after each pause; the
 *    least recent sample counts), whatever the transport's TCP_INFO hint
 *    says, and an answer the peer delayed does not inflate it;
 *  - on a long path a window the stream fills doubles every two round trips
 *    until half of it covers the bandwidth-delay product, and no further;
 *    on a short path, or with a slow reader, it stays as it is;
 *  - the connection's window budget caps the sum of grown windows;
 *  - a channel idle for a second is shrunk back to its initial window.
 * The long path is a delay line between the two engines: every byte one
 * side writes reaches the other `delay` ms later, one ms per step.
 */
#include "pump.h"
#include "conn_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KiB 1024u
#define MiB (1024u * 1024u)

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

/* ---- flow control ------------------------------------------------------------------------ */

static void window_hold_and_resume(void **state)
{
    (void)state;
    ssh_conn_config sc;
    ssh_conn_config_init(&sc, SSH_ROLE_SERVER);
    sc.window = sc.window_max = 65536;
    sc.max_packet = 16384;
    tp_pair *p = connected_cfg(NULL, &sc);
    p->srv.hold = 1;
    int id = tp_open_session(p);
    assert_true(id >= 0);
    uint32_t cid = (uint32_t)id;
    tp_chan *cc = tp_chan_of(&p->cli, cid), *sch = tp_chan_of(&p->srv, 0);
    assert_int_equal(ssh_channel_window(p->cli.c, cid), 65536);
    assert_int_equal(ssh_channel_max_packet(p->cli.c, cid), 16384);

    size_t total = 200000;
    uint8_t *buf = malloc(total);
    assert_non_null(buf);
    uint64_t seed = 99;
    test_rand(&seed, buf, total);
    uint64_t pk0 = p->srv.c->packets_in;
    /* Exactly the window, no more. */
    assert_int_equal(ssh_channel_send(p->cli.c, cid, 0, buf, total), 65536);
    assert_int_equal(ssh_channel_window(p->cli.c, cid), 0);
    assert_int_equal(ssh_channel_send(p->cli.c, cid, 0, buf, total), 0);
    uint8_t *rp;
    size_t rn;
    assert_int_equal(ssh_channel_send_reserve(p->cli.c, cid, 0, 100, &rp, &rn), SSH_ERR_AGAIN);
    tp_pump(p, 0);
    assert_int_equal(p->srv.c->packets_in - pk0, 4); /* 16 KiB packets */
    assert_int_equal(ssh_buf_len(&sch->sink), 65536);
    assert_int_equal(cc->writable, 0);

    /* Consuming less than an eighth of the window sends nothing. */
    assert_int_equal(ssh_channel_consumed(p->srv.c, 0, 1000), 0);
    assert_int_equal(ssh_conn_output_pending(p->srv.c), 0);
    assert_int_equal(ssh_channel_consumed(p->srv.c, 0, 7191), 0);
    assert_int_equal(ssh_conn_output_pending(p->srv.c), 0);
    /* An eighth: one WINDOW_ADJUST for everything consumed so far. */
    assert_int_equal(ssh_channel_consumed(p->srv.c, 0, 1), 0);
    assert_true(ssh_conn_output_pending(p->srv.c) > 0);
    /* More than was delivered cannot be consumed. */
    assert_int_equal(ssh_channel_consumed(p->srv.c, 0, 65536), SSH_ERR_ARGUMENT);
    tp_pump(p, 0);
    assert_int_equal(cc->writable, 1);
    assert_int_equal(ssh_channel_window(p->cli.c, cid), 8192);

    /* Resume exactly where it stopped. */
    size_t sent = 65536, consumed = 8192;
    long n = ssh_channel_send(p->cli.c, cid, 0, buf + sent, total - sent);
    assert_int_equal(n, 8192);
    sent += (size_t)n;
    while (sent < total) {
        tp_pump(p, 0);
        /* consume everything delivered and not yet consumed */
        size_t delivered = ssh_buf_len(&sch->sink);
        assert_int_equal(ssh_channel_consumed(p->srv.c, 0, delivered - consumed), 0);
        consumed = delivered;
        tp_pump(p, 0);
        n = ssh_channel_send(p->cli.c, cid, 0, buf + sent, total - sent);
        assert_true(n > 0);
        sent += (size_t)n;
    }
    tp_pump(p, 0);
    assert_int_equal(ssh_buf_len(&sch->sink), total);
    assert_memory_equal(ssh_buf_ptr(&sch->sink), buf, total);
    assert_true(cc->writable >= 3);
    assert_alive(p);
    free(buf);
    tp_pair_free(p);
}

/* Adjusts go out in batches of an eighth of the window, not per packet. */
static void window_adjust_batched(void **state)
{
    (void)state;
    ssh_conn_config sc;
    ssh_conn_config_init(&sc, SSH_ROLE_SERVER);
    sc.window = sc.window_max = 65536;
    tp_pair *p = connected_cfg(NULL, &sc);
    int id = tp_open_session(p);
    assert_true(id >= 0);
    uint32_t cid = (uint32_t)id;
    uint8_t kb[1024];
    memset(kb, 'k', sizeof(kb));
    uint64_t out0 = p->srv.c->packets_out, in0 = p->srv.c->packets_in;
    for (int i = 0; i < 1024; i++) {
        assert_int_equal(ssh_channel_send(p->cli.c, cid, 0, kb, sizeof(kb)), 1024);
        tp_pump(p, 0);
    }
    assert_int_equal(ssh_buf_len(&tp_chan_of(&p->srv, 0)->sink), 1024 * 1024);
    assert_int_equal(p->srv.c->packets_in - in0, 1024);
    /* 1 MiB consumed in 8 KiB (an eighth of the window) steps: 128
     * adjusts, and the server sent nothing else. */
    assert_int_equal(p->srv.c->packets_out - out0, 128);
    assert_int_equal(tp_chan_of(&p->cli, cid)->writable, 128);
    assert_int_equal(ssh_channel_window(p->cli.c, cid), 65536);
    tp_pair_free(p);
}

/* With a consumer that keeps up, the window doubles up to window_max; a
 * slow one (time passes, data sits in its buffer) never grows it. */

/* ---- the delay line ------------------------------------------------------------------ */

typedef struct chunk {
    struct chunk *next;
    uint64_t due;
    size_t len;
    uint8_t data[];
} chunk;

typedef struct line {
    tp_pair *p;
    uint64_t delay;           /* ms each way; 0: delivered at once (tp_pump) */
    uint64_t hold_until[2];   /* nothing is delivered that way before then */
    chunk *head[2], *tail[2]; /* 0: client to server, 1: server to client */
} line;

static void line_deliver(line *l)
{
    for (int d = 0; d < 2; d++) {
        tp_side *to = d ? &l->p->cli : &l->p->srv;
        while (l->head[d] && l->head[d]->due <= l->p->now && l->hold_until[d] <= l->p->now) {
            chunk *k = l->head[d];
            l->head[d] = k->next;
            if (l->head[d] == NULL)
                l->tail[d] = NULL;
            if (ssh_conn_error(to->c) == 0)
                ssh_conn_feed(to->c, k->data, k->len, l->p->now);
            free(k);
        }
    }
}

static void line_collect(line *l)
{
    for (int d = 0; d < 2; d++) {
        tp_side *from = d ? &l->p->srv : &l->p->cli;
        struct iovec iov[4];
        size_t n;
        while ((n = ssh_conn_output(from->c, iov, 4)) > 0) {
            size_t len = iov[0].iov_len;
            chunk *k = malloc(sizeof(*k) + len);
            assert_non_null(k);
            k->next = NULL;
            k->due = l->p->now + l->delay;
            k->len = len;
            memcpy(k->data, iov[0].iov_base, len);
            if (l->tail[d])
                l->tail[d]->next = k;
            else
                l->head[d] = k;
            l->tail[d] = k;
            ssh_conn_output_consumed(from->c, len);
        }
    }
}

/* One ms of the path: timers, what is due arrives, what was written leaves. */
static void line_step(line *l)
{
    tp_advance(l->p, 1);
    if (l->delay == 0) {
        tp_pump(l->p, 0);
        return;
    }
    line_deliver(l);
    line_collect(l);
}

static void line_free(line *l)
{
    for (int d = 0; d < 2; d++) {
        while (l->head[d]) {
            chunk *k = l->head[d];
            l->head[d] = k->next;
            free(k);
        }
    }
}

/* A pair connected across the line (authentication, and its round-trip
 * probe, take the path's time), with one session channel open. */
static tp_pair *line_pair(line *l, uint64_t delay, const ssh_conn_config *sc, uint32_t *cid)
{
    memset(l, 0, sizeof(*l));
    l->delay = delay;
    l->p = tp_pair_new(NULL, sc, ed(), ed());
    tp_start(l->p);
    for (int i = 0; i < 5000 && ssh_conn_state(l->p->cli.c) != SSH_STATE_OPEN; i++)
        line_step(l);
    assert_int_equal(ssh_conn_state(l->p->cli.c), SSH_STATE_OPEN);
    ssh_channel_open_info info = {.kind = SSH_CHAN_SESSION};
    assert_int_equal(ssh_channel_open(l->p->cli.c, &info, NULL, cid), 0);
    tp_chan_of(&l->p->cli, *cid)->open_result = -1;
    for (int i = 0; i < 5000 && tp_chan_of(&l->p->cli, *cid)->open_result < 0; i++)
        line_step(l);
    assert_int_equal(tp_chan_of(&l->p->cli, *cid)->open_result, 0);
    return l->p;
}

/* Run `ms` steps with the client sending up to `rate` bytes per ms on each
 * channel in cids[n] (as the window allows).  The server's reader takes
 * everything at once unless it holds (then the test consumes).  Returns the
 * bytes the server received; *adjusts counts its outgoing packets. */
typedef struct run_stats {
    uint64_t received;
    uint64_t srv_packets;
    size_t max_sum; /* largest sum of the server's receive windows */
} run_stats;

static run_stats run(line *l, const uint32_t *cids, int n, size_t rate, int ms)
{
    static uint8_t buf[4 * MiB];
    tp_pair *p = l->p;
    run_stats st = {0};
    uint64_t pk0 = p->srv.c->packets_out;
    assert_true(rate <= sizeof(buf));
    for (int t = 0; t < ms; t++) {
        for (int k = 0; k < n; k++)
            if (rate)
                assert_true(ssh_channel_send(p->cli.c, cids[k], 0, buf, rate) >= 0);
        line_step(l);
        size_t sum = 0;
        for (int k = 0; k < n; k++) {
            /* the server's channel ids follow the client's here */
            tp_chan *sch = tp_chan_of(&p->srv, cids[k]);
            if (!p->srv.hold) {
                st.received += ssh_buf_len(&sch->sink);
                ssh_buf_reset(&sch->sink);
            }
            sum += ssh_channel_recv_window(p->srv.c, cids[k]);
        }
        assert_int_equal(sum, p->srv.c->win_sum);
        if (sum > st.max_sum)
            st.max_sum = sum;
    }
    st.srv_packets = p->srv.c->packets_out - pk0;
    assert_alive(p);
    return st;
}

static size_t srv_window(tp_pair *p, uint32_t cid)
{
    return ssh_channel_recv_window(p->srv.c, cid);
}

/* ---- the round trip ---- */

/* The peer answers the probe sent at authentication 40 ms late (sshd
 * forks the session's process then): a second probe, sent as soon as the
 * first is answered, times the path alone, and the estimate is the lesser.
 * On the client the service request's round trip (answered at once) is a
 * sample too. */
static void rtt_ignores_a_late_first_answer(void **state)
{
    (void)state;
    line l;
    memset(&l, 0, sizeof(l));
    l.delay = 25;
    l.p = tp_pair_new(NULL, NULL, ed(), ed());
    tp_pair *p = l.p;
    p->cli.log_grep = "round trip";
    tp_start(p);
    int held = 0;
    for (int i = 0; i < 5000 && ssh_conn_rtt(p->srv.c) == 0; i++) {
        line_step(&l);
        if (!held && ssh_conn_state(p->srv.c) == SSH_STATE_OPEN) {
            held = 1; /* the client takes 40 ms to read what follows */
            l.hold_until[1] = p->now + 25 + 40;
        }
    }
    assert_true(held);
    /* the first answer came back after 90 ms */
    assert_in_range(ssh_conn_rtt(p->srv.c), 89000, 92000);
    for (int i = 0; i < 200; i++)
        line_step(&l);
    assert_in_range(ssh_conn_rtt(p->srv.c), 49000, 52000);
    assert_in_range(ssh_conn_rtt(p->cli.c), 49000, 52000);
    /* the client's samples: the service request (50), its own first probe
     * (sent while its input was held: 90), the second one (50) */
    assert_int_equal(p->cli.log_hits, 3);
    assert_alive(p);
    line_free(&l);
    tp_pair_free(p);
}

/* ---- window sizing --------------------------------------------------------------------- */

/* 25 ms each way, a sender that could do 64 KiB per ms (64 MiB/s): the
 * bandwidth-delay product is 3.2 MiB.  The 2 MiB window paces the stream,
 * so it doubles every two round trips: 4 MiB still paces it (half of it,
 * 2 MiB, is less than 3.2 MiB in flight), 8 MiB does not: it stops there. */
static void window_grows_to_the_path(void **state)
{
    (void)state;
    for (int hinted = 0; hinted < 2; hinted++) {
        line l;
        uint32_t cid;
        tp_pair *p = line_pair(&l, 25, NULL, &cid);
        /* The round trip was measured at authentication: 50 ms. */
        assert_in_range(ssh_conn_rtt(p->srv.c), 49000, 52000);
        assert_in_range(ssh_conn_rtt(p->cli.c), 49000, 52000);
        if (hinted) /* a TCP_INFO of the first hop (a relay on loopback) */
            ssh_conn_set_rtt(p->srv.c, 40);
        assert_in_range(ssh_conn_rtt(p->srv.c), 49000, 52000);
        assert_int_equal(srv_window(p, cid), 2 * MiB);
        run(&l, &cid, 1, 64 * KiB, 1500);
        assert_int_equal(srv_window(p, cid), 8 * MiB);
        /* Now the sender's rate is all that limits: a second of it arrives,
         * with an adjust per eighth of the window (1 MiB): 64 of them. */
        run_stats st = run(&l, &cid, 1, 64 * KiB, 1000);
        assert_in_range(st.received, 1000 * 64 * KiB - 256 * KiB, 1000 * 64 * KiB + 256 * KiB);
        assert_in_range(st.srv_packets, 62, 66);
        assert_int_equal(srv_window(p, cid), 8 * MiB);
        line_free(&l);
        tp_pair_free(p);
    }
}

/* The old rule (adjust at half the window, 2 MiB fixed) ran a 50 ms path at
 * about 2 MiB per 75 ms; with windows sized to the path, a 512 MiB/s sender
 * gets its rate within a second: five doublings, each after two round
 * trips that filled the window (and the one after a doubling, whose
 * release arrives as a burst, does not count). */
static void window_fills_a_fast_long_path(void **state)
{
    (void)state;
    line l;
    uint32_t cid;
    tp_pair *p = line_pair(&l, 25, NULL, &cid);
    int ms = 0;
    while (ms < 2000 && srv_window(p, cid) < 64 * MiB) {
        run(&l, &cid, 1, 512 * KiB, 10);
        ms += 10;
    }
    /* BDP 25 MiB: doubled up to 64 MiB, the limit (half of 32 MiB is
     * still less than the 25 MiB in flight) */
    assert_int_equal(srv_window(p, cid), 64 * MiB);
    assert_true(ms <= 1000);
    run_stats st = run(&l, &cid, 1, 512 * KiB, 500);
    assert_true(st.received >= 500ull * 512 * KiB * 95 / 100);
    line_free(&l);
    tp_pair_free(p);
}

/* A sender like OpenSSH's: its application writes 64 KiB per ms into a
 * buffer, and whatever the window allows leaves at once.  Each growth
 * then releases the backlog as one burst, faster than the stream; counted
 * as rate, that burst would double the window again, and the next one
 * again.  The window must stop where the steady stream needs it: 8 MiB
 * (3.2 MiB per round trip), not 64. */
static void window_ignores_the_release_burst(void **state)
{
    (void)state;
    static uint8_t buf[8 * MiB];
    line l;
    uint32_t cid;
    tp_pair *p = line_pair(&l, 25, NULL, &cid);
    size_t backlog = 0, maxwin = 0;
    for (int t = 0; t < 3000; t++) {
        backlog += 64 * KiB;
        size_t want = backlog < sizeof(buf) ? backlog : sizeof(buf);
        long n = ssh_channel_send(p->cli.c, cid, 0, buf, want);
        assert_true(n >= 0);
        backlog -= (size_t)n;
        line_step(&l);
        ssh_buf_reset(&tp_chan_of(&p->srv, cid)->sink);
        if (srv_window(p, cid) > maxwin)
            maxwin = srv_window(p, cid);
    }
    assert_int_equal(maxwin, 8 * MiB);
    assert_true(backlog < 8 * MiB);
    assert_alive(p);
    line_free(&l);
    tp_pair_free(p);
}

/* A short path (the round trip below the clock's resolution) at 1 GiB/s:
 * no growth, however fast; the TCP hint refines the sub-millisecond probe. */
static void window_stays_on_a_short_path(void **state)
{
    (void)state;
    for (int hinted = 0; hinted < 2; hinted++) {
        line l;
        uint32_t cid;
        tp_pair *p = line_pair(&l, 0, NULL, &cid);
        if (hinted)
            ssh_conn_set_rtt(p->srv.c, 50);
        assert_int_equal(ssh_conn_rtt(p->srv.c), hinted ? 50 : 500);
        run_stats st = run(&l, &cid, 1, 1 * MiB, 300);
        assert_int_equal(st.received, 300ull * MiB);
        assert_int_equal(srv_window(p, cid), 2 * MiB);
        line_free(&l);
        tp_pair_free(p);
    }
}

/* A reader that cannot keep up never grows the window: one that takes
 * 8 KiB per ms, and one that is quick but leaves most of the data
 * buffered. */
static void window_stays_with_a_slow_reader(void **state)
{
    (void)state;
    for (int mode = 0; mode < 2; mode++) {
        line l;
        uint32_t cid;
        tp_pair *p = line_pair(&l, 25, NULL, &cid);
        p->srv.hold = 1;
        tp_chan *sch = tp_chan_of(&p->srv, cid);
        size_t consumed = 0;
        for (int t = 0; t < 1500; t++) {
            run(&l, &cid, 1, 64 * KiB, 1);
            size_t have = ssh_buf_len(&sch->sink) - consumed;
            size_t k = mode == 0 ? (have < 8 * KiB ? have : 8 * KiB)
                                 : (have > 1 * MiB ? have - 1 * MiB : 0);
            if (k) {
                assert_int_equal(ssh_channel_consumed(p->srv.c, cid, k), 0);
                consumed += k;
            }
            if (ssh_buf_len(&sch->sink) > 64 * MiB) {
                ssh_buf_consume(&sch->sink, consumed);
                consumed = 0;
            }
        }
        assert_int_equal(srv_window(p, cid), 2 * MiB);
        line_free(&l);
        tp_pair_free(p);
    }
}

/* Two fast streams on one connection whose budget is 12 MiB: each would
 * grow to 8 MiB alone; together their windows never exceed the budget. */
static void window_budget_caps_the_connection(void **state)
{
    (void)state;
    ssh_conn_config sc;
    ssh_conn_config_init(&sc, SSH_ROLE_SERVER);
    sc.window_budget = 12 * MiB;
    line l;
    uint32_t cid[2];
    tp_pair *p = line_pair(&l, 25, &sc, &cid[0]);
    ssh_channel_open_info info = {.kind = SSH_CHAN_SESSION};
    assert_int_equal(ssh_channel_open(p->cli.c, &info, NULL, &cid[1]), 0);
    for (int i = 0; i < 200; i++)
        line_step(&l);
    run_stats st = run(&l, cid, 2, 64 * KiB, 2000);
    assert_true(st.max_sum <= 12 * MiB);
    assert_true(srv_window(p, cid[0]) + srv_window(p, cid[1]) > 4 * MiB);
    line_free(&l);
    tp_pair_free(p);
}

/* After a pause: the round trip is measured again (the path got longer
 * meanwhile), and the channel's window is shrunk back to its initial
 * size, by granting less as the peer uses what it already has. */
static void window_shrinks_when_idle(void **state)
{
    (void)state;
    line l;
    uint32_t cid;
    tp_pair *p = line_pair(&l, 25, NULL, &cid);
    run(&l, &cid, 1, 64 * KiB, 1500);
    assert_int_equal(srv_window(p, cid), 8 * MiB);
    uint64_t pk0 = p->cli.c->packets_out;
    l.delay = 50;
    run(&l, &cid, 1, 0, 1500);
    /* a second after the data stopped, one probe from each side: the
     * client sent its own and its answer to the server's, nothing else */
    assert_int_equal(p->cli.c->packets_out - pk0, 2);
    /* The estimate is the least of the recent samples (a sample can only
     * be too long): the 50 ms ones still count... */
    assert_in_range(ssh_conn_rtt(p->srv.c), 49000, 52000);
    /* ...until they are 30 s old; the next pause's probe then decides. */
    run(&l, &cid, 1, 0, 30000);
    run(&l, &cid, 1, 8 * KiB, 10);
    run(&l, &cid, 1, 0, 1500);
    assert_in_range(ssh_conn_rtt(p->srv.c), 99000, 102000);
    assert_in_range(ssh_conn_rtt(p->cli.c), 99000, 102000);
    /* Resume slowly: 8 KiB per ms is 0.8 MiB per (now 100 ms) round trip,
     * which the initial window carries (16 KiB per ms would grow it to
     * 4 MiB again). */
    run(&l, &cid, 1, 8 * KiB, 1500);
    assert_int_equal(srv_window(p, cid), 2 * MiB);
    assert_true(ssh_channel_window(p->cli.c, cid) <= 2 * MiB);
    line_free(&l);
    tp_pair_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(window_hold_and_resume),
        cmocka_unit_test(window_adjust_batched),
        cmocka_unit_test(rtt_ignores_a_late_first_answer),
        cmocka_unit_test(window_grows_to_the_path),
        cmocka_unit_test(window_fills_a_fast_long_path),
        cmocka_unit_test(window_ignores_the_release_burst),
        cmocka_unit_test(window_stays_on_a_short_path),
        cmocka_unit_test(window_stays_with_a_slow_reader),
        cmocka_unit_test(window_budget_caps_the_connection),
        cmocka_unit_test(window_shrinks_when_idle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
