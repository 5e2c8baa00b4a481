/*
 * test_engine_auth.c - user authentication (RFC 4252, RFC 4256, RFC 8308
 * server-sig-algs, RFC 8332 RSA SHA-2 signatures) and host key checking,
 * client engine against server engine in memory.
 */
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

/* A pair whose client starts no authentication by itself. */
static tp_pair *manual_pair(const ssh_conn_config *cc, const ssh_conn_config *sc)
{
    tp_pair *p = tp_pair_new(cc, sc, ed(), ed());
    p->cli.auth_method = "manual";
    tp_start(p);
    tp_pump(p, 0);
    assert_int_equal(ssh_conn_state(p->cli.c), SSH_STATE_AUTH);
    assert_int_equal(p->cli.auth_ready, 1);
    return p;
}

static void assert_alive(tp_pair *p)
{
    assert_int_equal(ssh_conn_error(p->cli.c), 0);
    assert_int_equal(ssh_conn_error(p->srv.c), 0);
}

static void assert_open(tp_pair *p)
{
    assert_alive(p);
    assert_int_equal(ssh_conn_state(p->cli.c), SSH_STATE_OPEN);
    assert_int_equal(ssh_conn_state(p->srv.c), SSH_STATE_OPEN);
    assert_int_equal(p->cli.auth_success, 1);
    assert_int_equal(p->srv.auth_success, 1);
    assert_string_equal(ssh_auth_user(p->srv.c), "user");
    /* Channels work once authenticated. */
    assert_true(tp_open_session(p) >= 0);
}

/* ---- none / password / keyboard-interactive --------------------------------------- */

static int accept_none(tp_side *s, const ssh_auth_request *r)
{
    (void)s;
    return r->method == SSH_AUTH_NONE ? SSH_AUTH_ACCEPT : SSH_AUTH_REJECT;
}

static void auth_none(void **state)
{
    (void)state;
    tp_pair *p = manual_pair(NULL, NULL);
    assert_null(ssh_auth_user(p->srv.c));
    assert_int_equal(ssh_auth_none(p->cli.c, "user"), 0);
    /* One attempt at a time. */
    assert_int_equal(ssh_auth_password(p->cli.c, "user", "secret"), SSH_ERR_STATE);
    tp_pump(p, 0);
    assert_int_equal(p->cli.auth_failures, 1);
    assert_int_equal(p->cli.last_auth_method, SSH_AUTH_NONE);
    assert_string_equal(p->cli.last_methods, "publickey,password,keyboard-interactive");
    assert_int_equal(p->srv.last_auth_method, SSH_AUTH_NONE);
    assert_alive(p);
    assert_null(ssh_auth_user(p->srv.c));
    tp_pair_free(p);

    /* A server that lets anyone in. */
    p = manual_pair(NULL, NULL);
    p->srv.on_auth_request = accept_none;
    assert_int_equal(ssh_auth_none(p->cli.c, "user"), 0);
    tp_pump(p, 0);
    assert_int_equal(p->cli.last_auth_method, SSH_AUTH_NONE);
    assert_open(p);
    /* After success: no more attempts. */
    assert_int_equal(ssh_auth_none(p->cli.c, "user"), SSH_ERR_STATE);
    tp_pair_free(p);
}

static void auth_password(void **state)
{
    (void)state;
    tp_pair *p = manual_pair(NULL, NULL);
    assert_int_equal(ssh_auth_password(p->cli.c, "user", "wrong"), 0);
    tp_pump(p, 0);
    assert_int_equal(p->cli.auth_failures, 1);
    assert_int_equal(p->cli.last_auth_method, SSH_AUTH_PASSWORD);
    assert_string_equal(p->cli.last_methods, "publickey,password,keyboard-interactive");
    assert_int_equal(p->srv.auth_success, 0);
    assert_int_equal(ssh_auth_password(p->cli.c, "user", "secret"), 0);
    tp_pump(p, 0);
    assert_int_equal(p->cli.last_auth_method, SSH_AUTH_PASSWORD);
    assert_int_equal(p->srv.last_auth_method, SSH_AUTH_PASSWORD);
    assert_open(p);
    tp_pair_free(p);

    /* The harness's automatic path, right and wrong. */
    p = tp_pair_new(NULL, NULL, ed(), ed());
    p->cli.auth_method = "password";
    assert_int_equal(tp_connect(p), 0);
    tp_pair_free(p);
    p = tp_pair_new(NULL, NULL, ed(), ed());
    p->cli.auth_method = "password";
    p->cli.password = "Secret";
    assert_int_equal(tp_connect(p), -1);
    assert_int_equal(p->cli.auth_failures, 1);
    assert_alive(p);
    tp_pair_free(p);

    /* Argument checks. */
    p = manual_pair(NULL, NULL);
    assert_int_equal(ssh_auth_password(p->cli.c, "user", NULL), SSH_ERR_ARGUMENT);
    assert_int_equal(ssh_auth_password(p->cli.c, NULL, "x"), SSH_ERR_ARGUMENT);
    assert_int_equal(ssh_auth_password(p->srv.c, "user", "x"), SSH_ERR_STATE);
    tp_pair_free(p);
}

/* A change of user name between attempts is a protocol violation. */
static void auth_user_change_refused(void **state)
{
    (void)state;
    tp_pair *p = manual_pair(NULL, NULL);
    assert_int_equal(ssh_auth_password(p->cli.c, "user", "wrong"), 0);
    tp_pump(p, 0);
    assert_int_equal(ssh_auth_password(p->cli.c, "root", "secret"), 0);
    tp_pump(p, 0);
    assert_int_equal(ssh_conn_error(p->srv.c), SSH_ERR_UNEXPECTED);
    assert_int_equal(p->cli.disc_err, SSH_ERR_DISCONNECTED);
    assert_int_equal(p->cli.disc_reason, SSH_DISCONNECT_PROTOCOL_ERROR);
    tp_pair_free(p);
}

static void auth_kbdint(void **state)
{
    (void)state;
    tp_pair *p = tp_pair_new(NULL, NULL, ed(), ed());
    p->cli.auth_method = "kbdint";
    assert_int_equal(tp_connect(p), 0);
    assert_int_equal(p->cli.kbdint_prompts, 1);
    assert_string_equal(p->cli.kbd_prompt, "Password: ");
    assert_int_equal(p->cli.kbd_echo, 0);
    assert_int_equal(p->cli.last_auth_method, SSH_AUTH_KBDINT);
    assert_int_equal(p->srv.last_auth_method, SSH_AUTH_KBDINT);
    assert_open(p);
    tp_pair_free(p);

    p = tp_pair_new(NULL, NULL, ed(), ed());
    p->cli.auth_method = "kbdint";
    p->cli.password = "nope";
    assert_int_equal(tp_connect(p), -1);
    assert_int_equal(p->cli.kbdint_prompts, 1);
    assert_int_equal(p->cli.auth_failures, 1);
    assert_int_equal(p->cli.last_auth_method, SSH_AUTH_KBDINT);
    assert_alive(p);
    tp_pair_free(p);
}

/* Several rounds, several prompts, the echo flags and the submethods. */
static int kbd_rounds(tp_side *s, const ssh_auth_request *r)
{
    int *round = s->hook_ctx;
    if (r->method != SSH_AUTH_KBDINT)
        return SSH_AUTH_REJECT;
    if (*round == 0) {
        assert_int_equal(r->n_responses, 0);
        assert_string_equal(r->submethods, "pam,otp");
        const char *prompts[] = {"User: ", "Password: "};
        int echo[] = {1, 0};
        assert_int_equal(ssh_auth_kbdint_challenge(s->c, "Login", "Two things", 2, prompts, echo),
                         0);
        *round = 1;
        return SSH_AUTH_CHALLENGE;
    }
    if (*round == 1) {
        assert_int_equal(r->n_responses, 2);
        assert_string_equal(r->responses[0], "secret");
        assert_string_equal(r->responses[1], "secret");
        const char *prompts[] = {"OTP: "};
        assert_int_equal(ssh_auth_kbdint_challenge(s->c, "Second", "", 1, prompts, NULL), 0);
        *round = 2;
        return SSH_AUTH_CHALLENGE;
    }
    if (*round == 2) {
        assert_int_equal(r->n_responses, 1);
        /* A round without prompts is legal too (RFC 4256 section 3.4). */
        assert_int_equal(ssh_auth_kbdint_challenge(s->c, "", "done", 0, NULL, NULL), 0);
        *round = 3;
        return SSH_AUTH_CHALLENGE;
    }
    assert_int_equal(r->n_responses, 0);
    return SSH_AUTH_ACCEPT;
}

static void auth_kbdint_rounds(void **state)
{
    (void)state;
    int round = 0;
    tp_pair *p = manual_pair(NULL, NULL);
    p->srv.hook_ctx = &round;
    p->srv.on_auth_request = kbd_rounds;
    assert_int_equal(ssh_auth_kbdint(p->cli.c, "user", "pam,otp"), 0);
    tp_pump(p, 0);
    assert_int_equal(round, 3);
    assert_int_equal(p->cli.kbdint_prompts, 3);
    assert_string_equal(p->cli.kbd_instr, "done");
    assert_int_equal(p->srv.auth_requests, 4);
    assert_open(p);
    tp_pair_free(p);
}

/* ---- publickey ----------------------------------------------------------------------- */

static void auth_publickey_query_then_sign(void **state)
{
    (void)state;
    for (int t = SSH_KEY_ED25519; t <= SSH_KEY_RSA; t++) {
        tp_pair *p = tp_pair_new(NULL, NULL, ed(), tp_key((enum ssh_key_type)t));
        p->cli.auth_method = "pkquery";
        assert_int_equal(tp_connect(p), 0);
        assert_int_equal(p->cli.pk_ok, 1);
        assert_int_equal(p->cli.sign_calls, 1);
        /* query (no signature), then the signed request */
        assert_int_equal(p->srv.auth_requests, 2);
        assert_int_equal(p->srv.last_has_signature, 1);
        assert_int_equal(p->cli.last_auth_method, SSH_AUTH_PUBLICKEY);
        assert_open(p);
        tp_pair_free(p);
    }
}

static void auth_publickey_unknown_key(void **state)
{
    (void)state;
    /* Signed request with a key the server does not know. */
    tp_pair *p = tp_pair_new(NULL, NULL, ed(), ed());
    p->srv.authorized_key = tp_key_alt(SSH_KEY_ED25519);
    assert_int_equal(tp_connect(p), -1);
    assert_int_equal(p->cli.auth_failures, 1);
    assert_int_equal(p->cli.last_auth_method, SSH_AUTH_PUBLICKEY);
    assert_int_equal(p->srv.auth_requests, 1);
    assert_int_equal(p->srv.last_has_signature, 1);
    assert_alive(p);
    tp_pair_free(p);

    /* The query is refused: no PK_OK, no signature. */
    p = tp_pair_new(NULL, NULL, ed(), tp_key(SSH_KEY_ECDSA_P256));
    p->srv.authorized_key = tp_key(SSH_KEY_ECDSA_P384);
    p->cli.auth_method = "pkquery";
    assert_int_equal(tp_connect(p), -1);
    assert_int_equal(p->cli.pk_ok, 0);
    assert_int_equal(p->cli.sign_calls, 0);
    assert_int_equal(p->cli.auth_failures, 1);
    assert_int_equal(p->srv.auth_requests, 1);
    assert_int_equal(p->srv.last_has_signature, 0);
    tp_pair_free(p);
}

/* A signature by another key never reaches the application. */
static void auth_publickey_bad_signature(void **state)
{
    (void)state;
    tp_pair *p = manual_pair(NULL, NULL);
    p->cli.defer_sign = 1;
    assert_int_equal(ssh_auth_publickey(p->cli.c, "user", ed(), 1), 0);
    assert_int_equal(p->cli.sign_calls, 1);
    ssh_buf sig;
    ssh_buf_init(&sig, 0, 0);
    assert_int_equal(ssh_key_sign(tp_key_alt(SSH_KEY_ED25519), p->cli.sign_alg, 0,
                                  ssh_buf_ptr(&p->cli.sign_data), ssh_buf_len(&p->cli.sign_data),
                                  &sig),
                     0);
    assert_int_equal(ssh_auth_sign_done(p->cli.c, ssh_buf_ptr(&sig), ssh_buf_len(&sig)), 0);
    ssh_buf_free(&sig);
    tp_pump(p, 0);
    assert_int_equal(p->cli.auth_failures, 1);
    assert_int_equal(p->srv.auth_requests, 0);
    assert_alive(p);
    tp_pair_free(p);
}

/* Partial success: the server wants a second method. */
static int pk_then_password(tp_side *s, const ssh_auth_request *r)
{
    int *step = s->hook_ctx;
    if (r->method == SSH_AUTH_PUBLICKEY && r->has_signature && *step == 0) {
        assert_true(ssh_key_equal_public(r->key, s->pair->userkey));
        assert_int_equal(ssh_auth_set_methods(s->c, "password"), 0);
        *step = 1;
        return SSH_AUTH_PARTIAL_OK;
    }
    if (r->method == SSH_AUTH_PASSWORD && *step == 1 && strcmp(r->password, "secret") == 0) {
        *step = 2;
        return SSH_AUTH_ACCEPT;
    }
    return SSH_AUTH_REJECT;
}

static void then_password(tp_side *s, const ssh_auth_result *r)
{
    if (r->status == SSH_AUTH_PARTIAL)
        assert_int_equal(ssh_auth_password(s->c, "user", "secret"), 0);
}

static void auth_partial_success(void **state)
{
    (void)state;
    int step = 0;
    tp_pair *p = tp_pair_new(NULL, NULL, ed(), ed());
    p->srv.hook_ctx = &step;
    p->srv.on_auth_request = pk_then_password;
    p->cli.on_auth_result = then_password;
    assert_int_equal(tp_connect(p), 0);
    assert_int_equal(step, 2);
    assert_int_equal(p->cli.auth_partial, 1);
    assert_int_equal(p->cli.auth_failures, 0);
    assert_string_equal(p->cli.last_methods, "");
    assert_int_equal(p->cli.last_auth_method, SSH_AUTH_PASSWORD);
    assert_open(p);
    tp_pair_free(p);

    /* After the partial success the method list sent with failures is the
     * updated one. */
    step = 0;
    p = tp_pair_new(NULL, NULL, ed(), ed());
    p->srv.hook_ctx = &step;
    p->srv.on_auth_request = pk_then_password;
    p->cli.password = "bad";
    tp_start(p);
    tp_pump(p, 0);
    assert_int_equal(p->cli.auth_partial, 1);
    assert_string_equal(p->cli.last_methods, "password");
    assert_int_equal(ssh_auth_password(p->cli.c, "user", "bad"), 0);
    tp_pump(p, 0);
    assert_int_equal(p->cli.auth_failures, 1);
    assert_string_equal(p->cli.last_methods, "password");
    tp_pair_free(p);
}

/* ---- banner ---------------------------------------------------------------------------- */

static int banner_then_decide(tp_side *s, const ssh_auth_request *r)
{
    if (s->auth_requests == 1)
        assert_int_equal(ssh_auth_banner(s->c, "Authorized use only.\r\n"), 0);
    return ssh_key_equal_public(r->key, s->pair->userkey) ? SSH_AUTH_ACCEPT : SSH_AUTH_REJECT;
}

static void auth_banner(void **state)
{
    (void)state;
    tp_pair *p = tp_pair_new(NULL, NULL, ed(), ed());
    p->srv.on_auth_request = banner_then_decide;
    assert_int_equal(tp_connect(p), 0);
    assert_int_equal(p->cli.banners, 1);
    assert_string_equal(p->cli.banner, "Authorized use only.\r\n");
    /* Not after success, and not from a client. */
    assert_int_equal(ssh_auth_banner(p->srv.c, "late"), SSH_ERR_STATE);
    assert_int_equal(ssh_auth_banner(p->cli.c, "client"), SSH_ERR_STATE);
    tp_pump(p, 0);
    assert_int_equal(p->cli.banners, 1);
    assert_open(p);
    tp_pair_free(p);

    /* Nor before the client's SERVICE_REQUEST was accepted: the client would
     * not expect a banner there (RFC 4252 section 5.4: "after this
     * authentication protocol starts"). */
    p = tp_pair_new(NULL, NULL, ed(), ed());
    tp_start(p);
    p->chunk = 8; /* small steps, to stop between NEWKEYS and SERVICE_REQUEST */
    int guard = 0;
    while (p->srv.c->phase != PHASE_SERVICE) {
        tp_transfer(p, &p->cli, &p->srv);
        if (p->srv.c->phase == PHASE_SERVICE)
            break;
        tp_transfer(p, &p->srv, &p->cli);
        assert_true(++guard < 10000);
    }
    assert_int_equal(ssh_auth_banner(p->srv.c, "early"), SSH_ERR_STATE);
    p->chunk = 0;
    tp_pump(p, 0);
    assert_int_equal(p->cli.banners, 0);
    assert_open(p);
    tp_pair_free(p);

    /* Banner in reply to a "none" probe, then publickey. */
    p = manual_pair(NULL, NULL);
    p->srv.on_auth_request = banner_then_decide;
    assert_int_equal(ssh_auth_none(p->cli.c, "user"), 0);
    tp_pump(p, 0);
    assert_int_equal(p->cli.banners, 1);
    assert_int_equal(p->cli.auth_failures, 1);
    assert_int_equal(ssh_auth_publickey(p->cli.c, "user", ed(), 1), 0);
    tp_pump(p, 0);
    assert_int_equal(p->cli.banners, 1);
    assert_open(p);
    tp_pair_free(p);
}

/* ---- too many failures ------------------------------------------------------------------ */

static void retry_password(tp_side *s, const ssh_auth_result *r)
{
    if (r->status == SSH_AUTH_FAILURE)
        assert_int_equal(ssh_auth_password(s->c, "user", "wrong"), 0);
}

static void auth_too_many_failures(void **state)
{
    (void)state;
    ssh_conn_config sc;
    ssh_conn_config_init(&sc, SSH_ROLE_SERVER);
    sc.max_auth_tries = 3;
    tp_pair *p = tp_pair_new(NULL, &sc, ed(), ed());
    p->cli.auth_method = "password";
    p->cli.password = "wrong";
    p->cli.on_auth_result = retry_password;
    tp_start(p);
    tp_pump(p, 0);
    assert_int_equal(p->srv.auth_requests, 3);
    assert_int_equal(p->cli.auth_failures, 2);
    assert_int_equal(ssh_conn_error(p->srv.c), SSH_ERR_AUTH_TOO_MANY);
    assert_int_equal(p->srv.disc_err, SSH_ERR_AUTH_TOO_MANY);
    assert_int_equal(p->srv.disc_reason, SSH_DISCONNECT_NO_MORE_AUTH_METHODS_AVAILABLE);
    assert_int_equal(p->cli.disconnected, 1);
    assert_int_equal(p->cli.disc_err, SSH_ERR_DISCONNECTED);
    assert_int_equal(p->cli.disc_reason, SSH_DISCONNECT_NO_MORE_AUTH_METHODS_AVAILABLE);
    assert_int_equal(ssh_conn_state(p->cli.c), SSH_STATE_CLOSED);
    tp_pair_free(p);

    /* The first "none" probe is free (as OpenSSH counts). */
    p = tp_pair_new(NULL, &sc, ed(), ed());
    p->cli.auth_method = "none";
    p->cli.on_auth_result = retry_password;
    tp_start(p);
    tp_pump(p, 0);
    assert_int_equal(p->srv.auth_requests, 4);
    assert_int_equal(p->cli.auth_failures, 3);
    assert_int_equal(p->cli.disc_reason, SSH_DISCONNECT_NO_MORE_AUTH_METHODS_AVAILABLE);
    tp_pair_free(p);

    /* Default limit: 6. */
    p = tp_pair_new(NULL, NULL, ed(), ed());
    p->cli.auth_method = "password";
    p->cli.password = "wrong";
    p->cli.on_auth_result = retry_password;
    tp_start(p);
    tp_pump(p, 0);
    assert_int_equal(p->srv.auth_requests, 6);
    assert_int_equal(p->cli.disc_reason, SSH_DISCONNECT_NO_MORE_AUTH_METHODS_AVAILABLE);
    tp_pair_free(p);
}

/* ---- host key verification ---------------------------------------------------------------- */

static void hostkey_deferred(void **state)
{
    (void)state;
    for (int ok = 1; ok >= 0; ok--) {
        tp_pair *p = tp_pair_new(NULL, NULL, tp_key(SSH_KEY_ECDSA_P384), ed());
        p->cli.defer_hostkey = 1;
        tp_start(p);
        tp_pump(p, 0);
        assert_int_equal(p->cli.hostkey_calls, 1);
        assert_int_equal(p->cli.kex_done, 0);
        assert_int_equal(ssh_conn_state(p->cli.c), SSH_STATE_HANDSHAKE);
        assert_alive(p);
        /* Nothing moves while the application thinks. */
        assert_int_equal(tp_pump(p, 0), 0);
        assert_true(ssh_key_equal_public(p->cli.c->kex->peer_hostkey, tp_key(SSH_KEY_ECDSA_P384)));
        if (ok) {
            assert_int_equal(ssh_conn_hostkey_verified(p->cli.c, 1), 0);
            /* Only once. */
            assert_int_equal(ssh_conn_hostkey_verified(p->cli.c, 1), SSH_ERR_STATE);
            tp_pump(p, 0);
            assert_true(
                ssh_key_equal_public(ssh_conn_hostkey(p->cli.c), tp_key(SSH_KEY_ECDSA_P384)));
            assert_open(p);
        } else {
            assert_int_equal(ssh_conn_hostkey_verified(p->cli.c, 0), SSH_ERR_HOSTKEY_REJECTED);
            tp_pump(p, 0);
            assert_int_equal(ssh_conn_error(p->cli.c), SSH_ERR_HOSTKEY_REJECTED);
            assert_int_equal(p->cli.disc_reason, SSH_DISCONNECT_HOST_KEY_NOT_VERIFIABLE);
            assert_int_equal(p->srv.disc_err, SSH_ERR_DISCONNECTED);
            assert_int_equal(p->srv.disc_reason, SSH_DISCONNECT_HOST_KEY_NOT_VERIFIABLE);
            assert_null(ssh_conn_hostkey(p->cli.c));
            assert_int_equal(p->cli.auth_ready, 0);
        }
        tp_pair_free(p);
    }
    /* Refused at once. */
    tp_pair *p = tp_pair_new(NULL, NULL, ed(), ed());
    p->cli.reject_hostkey = 1;
    assert_int_equal(tp_connect(p), -1);
    assert_int_equal(ssh_conn_error(p->cli.c), SSH_ERR_HOSTKEY_REJECTED);
    assert_int_equal(p->srv.disc_reason, SSH_DISCONNECT_HOST_KEY_NOT_VERIFIABLE);
    tp_pair_free(p);
    /* Not waiting: a state error. */
    p = tp_pair_new(NULL, NULL, ed(), ed());
    assert_int_equal(tp_connect(p), 0);
    assert_int_equal(ssh_conn_hostkey_verified(p->cli.c, 1), SSH_ERR_STATE);
    tp_pair_free(p);
}

/* A re-exchange must present the same host key, and asks no one. */
static void hostkey_changed_on_rekey(void **state)
{
    (void)state;
    tp_pair *p = tp_pair_new(NULL, NULL, ed(), ed());
    assert_int_equal(tp_connect(p), 0);
    assert_int_equal(ssh_conn_rekey(p->cli.c), 0);
    tp_pump(p, 0);
    assert_int_equal(p->cli.kex_done, 2);
    assert_int_equal(p->cli.hostkey_calls, 1);
    assert_alive(p);
    /* The server now holds another key of the same type. */
    p->srv.c->host_keys_copy[0] = tp_key_alt(SSH_KEY_ED25519);
    assert_int_equal(ssh_conn_rekey(p->srv.c), 0);
    tp_pump(p, 0);
    assert_int_equal(p->cli.hostkey_calls, 1);
    assert_int_equal(ssh_conn_error(p->cli.c), SSH_ERR_HOSTKEY_REJECTED);
    assert_int_equal(p->cli.disc_err, SSH_ERR_HOSTKEY_REJECTED);
    assert_int_equal(p->srv.disc_err, SSH_ERR_DISCONNECTED);
    assert_int_equal(p->srv.disc_reason, SSH_DISCONNECT_HOST_KEY_NOT_VERIFIABLE);
    assert_true(ssh_key_equal_public(ssh_conn_hostkey(p->cli.c), ed()));
    tp_pair_free(p);
}

/* ---- deferred answers ----------------------------------------------------------------------- */

static void auth_deferred_decision(void **state)
{
    (void)state;
    static const char *const methods[] = {"publickey", "password", "pkquery", "kbdint"};
    for (size_t m = 0; m < 4; m++) {
        for (int accept = 1; accept >= 0; accept--) {
            tp_pair *p = tp_pair_new(NULL, NULL, ed(), ed());
            p->cli.auth_method = methods[m];
            p->srv.defer_auth = 1;
            tp_start(p);
            tp_pump(p, 0);
            /* keyboard-interactive: the challenge is not deferred, the
             * answers are */
            assert_int_equal(p->srv.auth_requests, m == 3 ? 2 : 1);
            assert_int_equal(p->cli.auth_success + p->cli.auth_failures + p->cli.pk_ok, 0);
            assert_int_equal(ssh_conn_state(p->srv.c), SSH_STATE_AUTH);
            assert_alive(p);
            /* Input waits while the decision is pending. */
            assert_true(p->srv.c->paused);
            int d = accept ? p->srv.deferred_decision : SSH_AUTH_REJECT;
            if (accept)
                assert_int_equal(d, SSH_AUTH_ACCEPT);
            assert_int_equal(ssh_auth_decide(p->srv.c, SSH_AUTH_DEFER), SSH_ERR_STATE);
            p->srv.defer_auth = 0;
            assert_int_equal(ssh_auth_decide(p->srv.c, d), 0);
            assert_int_equal(ssh_auth_decide(p->srv.c, d), SSH_ERR_STATE);
            tp_pump(p, 0);
            if (accept) {
                assert_open(p);
                if (m == 2)
                    assert_int_equal(p->cli.pk_ok, 1);
            } else {
                assert_int_equal(p->cli.auth_failures, 1);
                assert_int_equal(p->cli.auth_success, 0);
                assert_alive(p);
            }
            tp_pair_free(p);
        }
    }
    /* Nothing deferred. */
    tp_pair *p = manual_pair(NULL, NULL);
    assert_int_equal(ssh_auth_decide(p->srv.c, SSH_AUTH_ACCEPT), SSH_ERR_STATE);
    tp_pair_free(p);
}

static void auth_deferred_signature(void **state)
{
    (void)state;
    tp_pair *p = tp_pair_new(NULL, NULL, ed(), tp_key(SSH_KEY_ECDSA_P521));
    p->cli.defer_sign = 1;
    tp_start(p);
    tp_pump(p, 0);
    assert_int_equal(p->cli.sign_calls, 1);
    assert_string_equal(p->cli.sign_alg, "ecdsa-sha2-nistp521");
    assert_int_equal(p->srv.auth_requests, 0);
    /* Another attempt must wait. */
    assert_int_equal(ssh_auth_password(p->cli.c, "user", "secret"), SSH_ERR_STATE);
    /* The data to sign starts with the session identifier (RFC 4252 section 7). */
    size_t sidlen;
    const uint8_t *sid = ssh_conn_session_id(p->cli.c, &sidlen);
    assert_true(ssh_buf_len(&p->cli.sign_data) > 4 + sidlen);
    assert_int_equal(ssh_peek_u32(ssh_buf_ptr(&p->cli.sign_data)), sidlen);
    assert_memory_equal(ssh_buf_ptr(&p->cli.sign_data) + 4, sid, sidlen);
    assert_int_equal(ssh_buf_ptr(&p->cli.sign_data)[4 + sidlen], SSH_MSG_USERAUTH_REQUEST);
    ssh_buf sig;
    ssh_buf_init(&sig, 0, 0);
    assert_int_equal(ssh_key_sign(tp_key(SSH_KEY_ECDSA_P521), p->cli.sign_alg, 0,
                                  ssh_buf_ptr(&p->cli.sign_data), ssh_buf_len(&p->cli.sign_data),
                                  &sig),
                     0);
    assert_int_equal(ssh_auth_sign_done(p->cli.c, ssh_buf_ptr(&sig), ssh_buf_len(&sig)), 0);
    assert_int_equal(ssh_auth_sign_done(p->cli.c, ssh_buf_ptr(&sig), ssh_buf_len(&sig)),
                     SSH_ERR_STATE);
    ssh_buf_free(&sig);
    tp_pump(p, 0);
    assert_int_equal(p->srv.last_has_signature, 1);
    assert_open(p);
    tp_pair_free(p);

    /* The signer gives up: the attempt ends, another may start. */
    p = tp_pair_new(NULL, NULL, ed(), ed());
    p->cli.defer_sign = 1;
    tp_start(p);
    tp_pump(p, 0);
    assert_int_equal(p->cli.sign_calls, 1);
    assert_int_equal(ssh_auth_sign_done(p->cli.c, NULL, 0), 0);
    tp_pump(p, 0);
    assert_int_equal(p->srv.auth_requests, 0);
    assert_int_equal(ssh_auth_password(p->cli.c, "user", "secret"), 0);
    tp_pump(p, 0);
    assert_open(p);
    tp_pair_free(p);
}

/* ---- key re-exchange during authentication ----------------------------------------------------
 */

static void rekey_during_auth(void **state)
{
    (void)state;
    /* The client re-keys before its first attempt: the request waits. */
    tp_pair *p = manual_pair(NULL, NULL);
    assert_int_equal(ssh_conn_rekey(p->cli.c), 0);
    assert_int_equal(ssh_auth_password(p->cli.c, "user", "secret"), 0);
    assert_true(ssh_buf_len(&p->cli.c->pending) > 0);
    tp_pump(p, 0);
    assert_int_equal(p->cli.kex_done, 2);
    assert_int_equal(p->srv.kex_done, 2);
    assert_open(p);
    tp_pair_free(p);

    /* The server re-keys while its decision is deferred: its input waits
     * for the decision, the answer waits for the new keys. */
    p = tp_pair_new(NULL, NULL, ed(), ed());
    p->srv.defer_auth = 1;
    tp_start(p);
    tp_pump(p, 0);
    assert_int_equal(p->srv.auth_requests, 1);
    assert_int_equal(ssh_conn_rekey(p->srv.c), 0);
    tp_pump(p, 0);
    assert_int_equal(p->srv.kex_done, 1);
    assert_alive(p);
    p->srv.defer_auth = 0;
    assert_int_equal(ssh_auth_decide(p->srv.c, SSH_AUTH_ACCEPT), 0);
    tp_pump(p, 0);
    assert_int_equal(p->cli.kex_done, 2);
    assert_int_equal(p->srv.kex_done, 2);
    assert_open(p);
    tp_pair_free(p);
}

/* ---- RSA signature algorithm choice --------------------------------------------------------- */

static void auth_rsa_sig_alg(void **state)
{
    (void)state;
    ssh_key *rsa = tp_key(SSH_KEY_RSA);
    /* Defaults: server-sig-algs lists rsa-sha2-512 first. */
    tp_pair *p = tp_pair_new(NULL, NULL, ed(), rsa);
    assert_int_equal(tp_connect(p), 0);
    /* Signature algorithms only: the certificate algorithms of the default
     * list add nothing but the plain names their signatures use. */
    assert_string_equal(ssh_conn_server_sig_algs(p->cli.c),
                        "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,"
                        "rsa-sha2-512,rsa-sha2-256");
    assert_string_equal(p->cli.sign_alg, "rsa-sha2-512");
    assert_string_equal(p->srv.last_key_alg, "rsa-sha2-512");
    assert_string_equal(ssh_auth_pubkey_alg(p->cli.c, rsa), "rsa-sha2-512");
    tp_pair_free(p);

    /* The server allows only rsa-sha2-256. */
    ssh_conn_config cc, sc;
    ssh_conn_config_init(&cc, SSH_ROLE_CLIENT);
    ssh_conn_config_init(&sc, SSH_ROLE_SERVER);
    sc.pubkey_algs = "ssh-ed25519,rsa-sha2-256";
    p = tp_pair_new(NULL, &sc, ed(), rsa);
    assert_int_equal(tp_connect(p), 0);
    assert_string_equal(ssh_conn_server_sig_algs(p->cli.c), "ssh-ed25519,rsa-sha2-256");
    assert_string_equal(p->cli.sign_alg, "rsa-sha2-256");
    assert_string_equal(p->srv.last_key_alg, "rsa-sha2-256");
    tp_pair_free(p);

    /* The client allows only rsa-sha2-256. */
    cc.pubkey_algs = "rsa-sha2-256";
    p = tp_pair_new(&cc, NULL, ed(), rsa);
    assert_int_equal(tp_connect(p), 0);
    assert_string_equal(p->srv.last_key_alg, "rsa-sha2-256");
    tp_pair_free(p);

    /* No overlap: the client cannot use the key at all. */
    cc.pubkey_algs = "rsa-sha2-512,ssh-ed25519";
    sc.pubkey_algs = "rsa-sha2-256,ssh-ed25519";
    p = tp_pair_new(&cc, &sc, ed(), rsa);
    p->cli.auth_method = "manual";
    tp_start(p);
    tp_pump(p, 0);
    assert_null(ssh_auth_pubkey_alg(p->cli.c, rsa));
    assert_int_equal(ssh_auth_publickey(p->cli.c, "user", rsa, 1), SSH_ERR_KEY_ALG_DISABLED);
    assert_string_equal(ssh_auth_pubkey_alg(p->cli.c, ed()), "ssh-ed25519");
    /* Without server-sig-algs the client would try its first choice; the
     * server refuses the algorithm itself, without asking the application. */
    free(p->cli.c->server_sig_algs);
    p->cli.c->server_sig_algs = NULL;
    assert_string_equal(ssh_auth_pubkey_alg(p->cli.c, rsa), "rsa-sha2-512");
    assert_int_equal(ssh_auth_publickey(p->cli.c, "user", rsa, 1), 0);
    tp_pump(p, 0);
    assert_int_equal(p->cli.auth_failures, 1);
    assert_int_equal(p->srv.auth_requests, 0);
    assert_alive(p);
    tp_pair_free(p);

    /* ssh-rsa (SHA-1) for user auth only when both allow it. */
    cc.pubkey_algs = "ssh-rsa";
    sc.pubkey_algs = "ssh-rsa";
    p = tp_pair_new(&cc, &sc, ed(), rsa);
    assert_int_equal(tp_connect(p), 0);
    assert_string_equal(p->srv.last_key_alg, "ssh-rsa");
    tp_pair_free(p);

    /* Non-RSA keys use their own name, if allowed. */
    cc.pubkey_algs = NULL;
    sc.pubkey_algs = "rsa-sha2-512";
    p = tp_pair_new(&cc, &sc, ed(), tp_key(SSH_KEY_ECDSA_P256));
    p->cli.auth_method = "manual";
    tp_start(p);
    tp_pump(p, 0);
    assert_string_equal(ssh_auth_pubkey_alg(p->cli.c, tp_key(SSH_KEY_ECDSA_P256)),
                        "ecdsa-sha2-nistp256");
    assert_int_equal(ssh_auth_publickey(p->cli.c, "user", tp_key(SSH_KEY_ECDSA_P256), 0), 0);
    tp_pump(p, 0);
    assert_int_equal(p->cli.auth_failures, 1); /* the server does not accept it */
    assert_int_equal(p->srv.auth_requests, 0);
    tp_pair_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(auth_none),
        cmocka_unit_test(auth_password),
        cmocka_unit_test(auth_user_change_refused),
        cmocka_unit_test(auth_kbdint),
        cmocka_unit_test(auth_kbdint_rounds),
        cmocka_unit_test(auth_publickey_query_then_sign),
        cmocka_unit_test(auth_publickey_unknown_key),
        cmocka_unit_test(auth_publickey_bad_signature),
        cmocka_unit_test(auth_partial_success),
        cmocka_unit_test(auth_banner),
        cmocka_unit_test(auth_too_many_failures),
        cmocka_unit_test(hostkey_deferred),
        cmocka_unit_test(hostkey_changed_on_rekey),
        cmocka_unit_test(auth_deferred_decision),
        cmocka_unit_test(auth_deferred_signature),
        cmocka_unit_test(rekey_during_auth),
        cmocka_unit_test(auth_rsa_sig_alg),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
