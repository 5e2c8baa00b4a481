/*
 * test_engine_basic.c - smoke test: client and server engines complete KEX,
 * publickey authentication and move data over a session channel.
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(connect_and_exchange),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
