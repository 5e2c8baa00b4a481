/*
 * test_engine_kexguess.c - a peer's guessed first key exchange packet
 * (RFC 4253 section 7: first_kex_packet_follows).
 *
 * The guess is right only when both sides list the same kex method first
 * and the same host key algorithm first.  Dropbear's client sends a guess
 * with every KEXINIT; against sshtund, which lists mlkem768x25519-sha256
 * first, its curve25519-sha256 guess is wrong, Dropbear sends its INIT
 * again, and sshtund -- which had judged the guess by the negotiated method
 * alone and answered it -- took the second INIT as an unexpected message.
 *
 * The client engine never guesses, so the test edits its KEXINIT on the
 * wire (and in the copy it hashes) to say a guess follows, and puts a bogus
 * INIT behind it: the server must drop that packet when the preferences
 * differ, and the connection must then complete with the real INIT.
 */
#include "pump.h"
#include "conn_int.h"
#include "kex.h"

#include <string.h>

static tp_pair *pair(const char *ckex, const char *skex)
{
    ssh_conn_config cc, sc;
    ssh_conn_config_init(&cc, SSH_ROLE_CLIENT);
    ssh_conn_config_init(&sc, SSH_ROLE_SERVER);
    cc.kex_algs = ckex;
    sc.kex_algs = skex;
    return tp_pair_new(&cc, &sc, tp_key(SSH_KEY_ED25519), tp_key(SSH_KEY_ED25519));
}

/* After tp_start: mark the client's KEXINIT "first_kex_packet_follows" and
 * queue a bogus ECDH INIT right behind it. */
static void make_client_guess(tp_pair *p)
{
    ssh_conn *c = p->cli.c;
    uint8_t *out = ssh_buf_mutable_ptr(&c->out);
    size_t len = ssh_buf_len(&c->out);
    uint8_t *eol = memchr(out, '\n', len);
    assert_non_null(eol);
    uint8_t *pkt = eol + 1;
    uint32_t plen = ssh_peek_u32(pkt);
    size_t payload = plen - pkt[4] - 1;
    assert_int_equal(pkt[5], SSH_MSG_KEXINIT);
    /* boolean first_kex_packet_follows, then uint32 reserved */
    pkt[5 + payload - 5] = 1;
    ssh_buf *mine = &c->kex->my_init;
    assert_int_equal(ssh_buf_len(mine), payload);
    ssh_buf_mutable_ptr(mine)[payload - 5] = 1;

    /* SSH_MSG_KEX_ECDH_INIT with a 32-byte share of junk. */
    uint8_t init[1 + 4 + 32];
    init[0] = 30;
    ssh_poke_u32(init + 1, 32);
    memset(init + 5, 0x42, 32);
    size_t pad = 8 - (5 + sizeof(init)) % 8;
    if (pad < 4)
        pad += 8;
    tp_inject_packet(c, init, sizeof(init), pad, 0);
}

static void wrong_guess_is_dropped(void **state)
{
    (void)state;
    /* Both know both methods, but prefer different ones: the server picks
     * the client's first, and the guess is still wrong. */
    tp_pair *p = pair("curve25519-sha256,ecdh-sha2-nistp256", "ecdh-sha2-nistp256,curve25519-sha256");
    tp_start(p);
    make_client_guess(p);
    tp_pump(p, 0);
    assert_false(p->srv.disconnected);
    assert_false(p->cli.disconnected);
    assert_int_equal(ssh_conn_state(p->cli.c), SSH_STATE_OPEN);
    assert_string_equal(ssh_conn_alg(p->srv.c, SSH_ALG_KEX), "curve25519-sha256");
    tp_pair_free(p);
}

/* The server's first method is one the client does not know at all (as
 * sshtund's mlkem768x25519-sha256 for Dropbear 2022). */
static void wrong_guess_server_first_unknown_to_client(void **state)
{
    (void)state;
    tp_pair *p = pair("curve25519-sha256", "ecdh-sha2-nistp384,curve25519-sha256");
    tp_start(p);
    make_client_guess(p);
    tp_pump(p, 0);
    assert_false(p->srv.disconnected);
    assert_int_equal(ssh_conn_state(p->cli.c), SSH_STATE_OPEN);
    tp_pair_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(wrong_guess_is_dropped),
        cmocka_unit_test(wrong_guess_server_first_unknown_to_client),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
