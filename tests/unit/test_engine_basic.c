/*
 * test_engine_basic.c - smoke test: client and server engines complete KEX,
 * publickey authentication and move data over a session channel; the
 * packet trace follows the configured log level.
 */
#include "pump.h"

#include <string.h>

static void connect_and_exchange(void **state)
{
    (void)state;
    tp_pair *p = tp_pair_new(NULL, NULL, tp_key(SSH_KEY_ED25519), tp_key(SSH_KEY_ED25519));
    assert_int_equal(tp_connect(p), 0);
    assert_int_equal(p->cli.auth_success, 1);
    assert_int_equal(p->srv.auth_success, 1);
    int id = tp_open_session(p);
    assert_true(id >= 0);
    ssh_channel_req r = {.type = "exec", .want_reply = 1, .command = "echo hi"};
    assert_int_equal(ssh_channel_request_send(p->cli.c, (uint32_t)id, &r, NULL), 0);
    tp_pump(p, 0);
    assert_int_equal(p->cli.ch[id].req_ok, 1);
    assert_string_equal(p->srv.ch[0].last_cmd, "echo hi");
    assert_int_equal(ssh_channel_send(p->cli.c, (uint32_t)id, 0, "hello", 5), 5);
    assert_int_equal(ssh_channel_send(p->srv.c, 0, 0, "world", 5), 5);
    tp_pump(p, 0);
    assert_int_equal(ssh_buf_len(&p->srv.ch[0].sink), 5);
    assert_memory_equal(ssh_buf_ptr(&p->srv.ch[0].sink), "hello", 5);
    assert_memory_equal(ssh_buf_ptr(&p->cli.ch[id].sink), "world", 5);
    tp_pair_free(p);
}

/* The server's host key may be signed by the application (sshtund's
 * privileged helper keeps the private key): the server engine holds only
 * the public half and waits for the signature. */
static void hostkey_signed_elsewhere(void **state)
{
    (void)state;
    ssh_key *hk = tp_key(SSH_KEY_ED25519);
    ssh_buf blob;
    ssh_buf_init(&blob, 4096, 0);
    assert_int_equal(ssh_key_to_blob(hk, &blob), 0);
    ssh_key *pub = NULL;
    assert_int_equal(ssh_key_from_blob(ssh_buf_ptr(&blob), ssh_buf_len(&blob), &pub), 0);
    ssh_key *keys[1] = {pub};
    ssh_conn_config s;
    ssh_conn_config_init(&s, SSH_ROLE_SERVER);
    s.host_keys = keys;
    s.n_host_keys = 1;
    tp_hostkey_sign = 2;
    tp_pair *p = tp_pair_new(NULL, &s, hk, tp_key(SSH_KEY_ED25519));
    tp_start(p);
    tp_pump(p, 0);
    /* The exchange waits for the signature. */
    assert_int_equal(p->srv.hk_sign_calls, 1);
    assert_string_equal(p->srv.hk_sign_alg, "ssh-ed25519");
    assert_int_equal(p->cli.kex_done, 0);
    assert_int_equal(p->srv.kex_done, 0);
    tp_pair_free(p);

    /* Not signed: the connection fails. */
    p = tp_pair_new(NULL, &s, hk, tp_key(SSH_KEY_ED25519));
    tp_start(p);
    tp_pump(p, 0);
    assert_int_equal(p->srv.hk_sign_calls, 1);
    assert_true(ssh_conn_hostkey_signed(p->srv.c, NULL, 0) != 0);
    tp_pump(p, 0);
    assert_int_equal(p->cli.kex_done, 0);
    tp_pair_free(p);

    /* Signed later: the client verifies it, authentication and sessions go on. */
    p = tp_pair_new(NULL, &s, hk, tp_key(SSH_KEY_ED25519));
    tp_start(p);
    tp_pump(p, 0);
    ssh_buf sig;
    ssh_buf_init(&sig, 4096, 0);
    assert_int_equal(ssh_key_sign(hk, p->srv.hk_sign_alg, 0, p->srv.hk_sign_h,
                                  p->srv.hk_sign_hlen, &sig),
                     0);
    assert_int_equal(ssh_conn_hostkey_signed(p->srv.c, ssh_buf_ptr(&sig), ssh_buf_len(&sig)), 0);
    /* Only once. */
    assert_int_equal(ssh_conn_hostkey_signed(p->srv.c, ssh_buf_ptr(&sig), ssh_buf_len(&sig)),
                     SSH_ERR_STATE);
    tp_pump(p, 0);
    assert_int_equal(p->cli.kex_done, 1);
    assert_int_equal(p->cli.auth_success, 1);
    ssh_buf_free(&sig);
    tp_pair_free(p);

    /* A signature by another key: the client refuses it. */
    tp_hostkey_sign = 2;
    p = tp_pair_new(NULL, &s, hk, tp_key(SSH_KEY_ED25519));
    tp_start(p);
    tp_pump(p, 0);
    ssh_buf_init(&sig, 4096, 0);
    assert_int_equal(ssh_key_sign(tp_key_alt(SSH_KEY_ED25519), p->srv.hk_sign_alg, 0,
                                  p->srv.hk_sign_h, p->srv.hk_sign_hlen, &sig),
                     0);
    ssh_conn_hostkey_signed(p->srv.c, ssh_buf_ptr(&sig), ssh_buf_len(&sig));
    tp_pump(p, 0);
    assert_int_equal(p->cli.kex_done, 0);
    assert_int_equal(p->cli.disconnected, 1);
    assert_int_equal(p->cli.disc_err, SSH_ERR_SIGNATURE);
    ssh_buf_free(&sig);
    tp_pair_free(p);
    tp_hostkey_sign = 0;
    ssh_key_free(pub);
    ssh_buf_free(&blob);
}

/* The packet trace (level 3) reaches the log callback only when asked
 * for with ssh_conn_config.log_level, naming each message number. */
static void packet_trace_log_level(void **state)
{
    (void)state;
    for (int lvl = 0; lvl <= 3; lvl += 3) {
        ssh_conn_config sc;
        ssh_conn_config_init(&sc, SSH_ROLE_SERVER);
        sc.log_level = lvl;
        tp_pair *p = tp_pair_new(NULL, &sc, tp_key(SSH_KEY_ED25519), tp_key(SSH_KEY_ED25519));
        p->srv.log_grep = "receive packet: type 20"; /* the client's KEXINIT */
        assert_int_equal(tp_connect(p), 0);
        assert_int_equal(p->srv.log_hits, lvl == 3 ? 1 : 0);
        p->srv.log_grep = "send packet: type 94";
        p->srv.log_hits = 0;
        int id = tp_open_session(p);
        assert_true(id >= 0);
        assert_int_equal(ssh_channel_send(p->srv.c, 0, 0, "x", 1), 1);
        tp_pump(p, 0);
        assert_int_equal(p->srv.log_hits, lvl == 3 ? 1 : 0);
        tp_pair_free(p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(connect_and_exchange),
        cmocka_unit_test(hostkey_signed_elsewhere),
        cmocka_unit_test(packet_trace_log_level),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
