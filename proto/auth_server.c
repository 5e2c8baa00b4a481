/*
 * auth_server.c - user authentication, server role (RFC 4252, RFC 4256).
 *
 * The engine parses requests, verifies publickey signatures itself (it
 * holds the session identifier) and asks the application only what it
 * alone can answer: is this password right, is this key authorized for
 * this user, are these keyboard-interactive answers right.  The
 * application may answer later (SSH_AUTH_DEFER): input processing then
 * pauses until ssh_auth_decide(), which keeps replies in order without
 * buffering requests.
 *
 * Failures are counted as OpenSSH counts them (the first "none" request
 * is free); after max_auth_tries the connection ends with "Too many
 * authentication failures".
 */
#include "conn_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

struct ssh_auth_pending {
    enum ssh_auth_method method;
    int query; /* publickey without signature */
    char alg[SSH_NAME_MAX];
    ssh_buf blob;
};

void ssh_auth_free(ssh_conn *c)
{
    if (c->auth_pend) {
        ssh_buf_free(&c->auth_pend->blob);
        free(c->auth_pend);
        c->auth_pend = NULL;
    }
}

static struct ssh_auth_pending *pending(ssh_conn *c)
{
    if (c->auth_pend == NULL) {
        c->auth_pend = calloc(1, sizeof(*c->auth_pend));
        if (c->auth_pend)
            ssh_buf_init(&c->auth_pend->blob, 16384, 0);
    }
    return c->auth_pend;
}

int ssh_auth_set_methods(ssh_conn *c, const char *methods)
{
    char *m = strdup(methods ? methods : "");
    if (m == NULL)
        return SSH_ERR_ALLOC;
    free(c->auth_methods);
    c->auth_methods = m;
    return 0;
}

const char *ssh_auth_user(const ssh_conn *c)
{
    return c->phase == PHASE_OPEN ? c->auth_user : NULL;
}

int ssh_auth_banner(ssh_conn *c, const char *text)
{
    /* RFC 4252 section 5.4: once the authentication protocol has started,
     * i.e. after SERVICE_ACCEPT; a client waiting for that accept would
     * take an earlier banner for a protocol error. */
    if (!c->server || c->phase != PHASE_AUTH)
        return SSH_ERR_STATE;
    ssh_buf *b = ssh_pkt_begin(c, SSH_MSG_USERAUTH_BANNER);
    if (ssh_buf_put_cstring(b, text) != 0 || ssh_buf_put_cstring(b, "") != 0) {
        ssh_pkt_cancel(c);
        return SSH_ERR_NO_SPACE;
    }
    return ssh_pkt_end(c);
}

int ssh_auth_kbdint_challenge(ssh_conn *c, const char *name, const char *instruction, uint32_t n,
                              const char *const *prompts, const int *echo)
{
    int rv;
    if (!c->server || c->phase != PHASE_AUTH || n > SSH_KBDINT_MAX)
        return SSH_ERR_STATE;
    ssh_buf *b = ssh_pkt_begin(c, SSH_MSG_USERAUTH_INFO_REQUEST);
    if ((rv = ssh_buf_put_cstring(b, name ? name : "")) != 0 ||
        (rv = ssh_buf_put_cstring(b, instruction ? instruction : "")) != 0 ||
        (rv = ssh_buf_put_cstring(b, "")) != 0 || (rv = ssh_buf_put_u32(b, n)) != 0)
        goto fail;
    for (uint32_t i = 0; i < n; i++)
        if ((rv = ssh_buf_put_cstring(b, prompts[i])) != 0 ||
            (rv = ssh_buf_put_bool(b, echo ? echo[i] : 0)) != 0)
            goto fail;
    if ((rv = ssh_pkt_end(c)) != 0)
        return rv;
    c->auth_kbdint_active = 1;
    return 0;
fail:
    ssh_pkt_cancel(c);
    return rv;
}

static int send_failure(ssh_conn *c, int partial)
{
    ssh_buf *b = ssh_pkt_begin(c, SSH_MSG_USERAUTH_FAILURE);
    if (ssh_buf_put_cstring(b, c->auth_methods) != 0 || ssh_buf_put_bool(b, partial) != 0) {
        ssh_pkt_cancel(c);
        return SSH_ERR_NO_SPACE;
    }
    return ssh_pkt_end(c);
}

static int succeed(ssh_conn *c)
{
    int rv;
    ssh_pkt_begin(c, SSH_MSG_USERAUTH_SUCCESS);
    if ((rv = ssh_pkt_end(c)) != 0)
        return rv;
    c->phase = PHASE_OPEN;
    ssh_conn_logf(c, 1, "Accepted authentication for %s", c->auth_user);
    if ((rv = ssh_rtt_start(c)) != 0)
        return rv;
    if (c->cb.auth_success)
        c->cb.auth_success(c, c->auth_user, c->user);
    return 0;
}

/* Carry out a decision on the request described by `pend`. */
static int apply(ssh_conn *c, int decision, enum ssh_auth_method method, int query,
                 const char *alg, const ssh_buf *blob)
{
    int rv;
    switch (decision) {
    case SSH_AUTH_DEFER: {
        struct ssh_auth_pending *p = pending(c);
        if (p == NULL)
            return SSH_ERR_ALLOC;
        p->method = method;
        p->query = query;
        snprintf(p->alg, sizeof(p->alg), "%s", alg ? alg : "");
        ssh_buf_reset(&p->blob);
        if (blob && (rv = ssh_buf_put(&p->blob, ssh_buf_ptr(blob), ssh_buf_len(blob))) != 0)
            return rv;
        c->auth_deferred = 1;
        c->paused = 1;
        return 0;
    }
    case SSH_AUTH_ACCEPT:
        if (method == SSH_AUTH_PUBLICKEY && query) {
            ssh_buf *b = ssh_pkt_begin(c, SSH_MSG_USERAUTH_PK_OK);
            if (ssh_buf_put_cstring(b, alg) != 0 || ssh_buf_put_stringb(b, blob) != 0) {
                ssh_pkt_cancel(c);
                return SSH_ERR_NO_SPACE;
            }
            return ssh_pkt_end(c);
        }
        return succeed(c);
    case SSH_AUTH_PARTIAL_OK:
        return send_failure(c, 1);
    case SSH_AUTH_CHALLENGE:
        if (method != SSH_AUTH_KBDINT || !c->auth_kbdint_active)
            return SSH_ERR_STATE;
        return 0;
    default:
        break;
    }
    /* Rejected. */
    c->auth_kbdint_active = 0;
    if (!(c->auth_attempts == 1 && c->auth_first_none))
        c->auth_failures++;
    if (c->auth_failures >= c->cfg.max_auth_tries) {
        ssh_conn_logf(c, 1, "Too many authentication failures for %s", c->auth_user);
        return SSH_ERR_AUTH_TOO_MANY;
    }
    return send_failure(c, 0);
}

int ssh_auth_decide(ssh_conn *c, int decision)
{
    if (!c->server || !c->auth_deferred || c->auth_pend == NULL || decision == SSH_AUTH_DEFER)
        return SSH_ERR_STATE;
    c->auth_deferred = 0;
    c->paused = 0;
    struct ssh_auth_pending *p = c->auth_pend;
    int rv = apply(c, decision, p->method, p->query, p->alg, &p->blob);
    if (rv < 0)
        return ssh_conn_fail(c, rv, NULL);
    return ssh_conn_resume(c);
}

static int ask(ssh_conn *c, const ssh_auth_request *r)
{
    if (c->cb.auth_request == NULL)
        return SSH_AUTH_REJECT;
    return c->cb.auth_request(c, r, c->user);
}

static int publickey(ssh_conn *c, ssh_cur *p, const uint8_t *payload)
{
    int hassig, rv;
    char alg[SSH_NAME_MAX];
    const uint8_t *blob, *sig = NULL;
    size_t bloblen, siglen = 0;
    if ((rv = ssh_cur_get_bool(p, &hassig)) != 0 || (rv = ssh_cur_get_cstr(p, alg, sizeof(alg))) != 0 ||
        (rv = ssh_cur_get_string(p, &blob, &bloblen)) != 0)
        return rv;
    size_t signed_len = (size_t)(p->p - payload); /* request up to the signature */
    if (hassig && (rv = ssh_cur_get_string(p, &sig, &siglen)) != 0)
        return rv;
    if ((rv = ssh_cur_end(p)) != 0)
        return rv;

    ssh_buf b;
    ssh_buf_init(&b, 16384, 0);
    ssh_key *key = NULL;
    int decision = SSH_AUTH_REJECT;
    if (!ssh_namelist_has(c->cfg.pubkey_algs, alg)) {
        ssh_conn_logf(c, 1, "publickey: algorithm %s not accepted", alg);
        goto decide;
    }
    if (ssh_key_from_blob(blob, bloblen, &key) != 0 || !ssh_key_alg_ok(key, alg)) {
        ssh_conn_logf(c, 1, "publickey: bad or mismatched key for %s", alg);
        goto decide;
    }
    ssh_buf d;
    ssh_buf_init(&d, 256 * 1024, 0);
    if (hassig) {
        /* Section 7: session id string, then the request without the
         * signature. */
        rv = ssh_buf_put_string(&d, c->session_id, c->session_id_len);
        if (rv == 0)
            rv = ssh_buf_put(&d, payload, signed_len);
        if (rv == 0)
            rv = ssh_key_verify(key, alg, SSH_KEY_ALLOW_SHA1, sig, siglen, ssh_buf_ptr(&d),
                                ssh_buf_len(&d));
        if (rv != 0) {
            ssh_conn_logf(c, 1, "publickey: signature check failed");
            ssh_buf_free(&d);
            goto decide;
        }
    }
    ssh_auth_request r = {0};
    r.user = c->auth_user;
    r.method = SSH_AUTH_PUBLICKEY;
    r.key = key;
    r.key_alg = alg;
    r.has_signature = hassig;
    if (hassig) {
        r.signature = sig;
        r.signature_len = siglen;
        r.signed_data = ssh_buf_ptr(&d);
        r.signed_len = ssh_buf_len(&d);
    }
    decision = ask(c, &r);
    ssh_buf_free(&d);
decide:
    ssh_buf_put(&b, blob, bloblen);
    rv = apply(c, decision, SSH_AUTH_PUBLICKEY, !hassig, alg, &b);
    ssh_key_free(key);
    ssh_buf_free(&b);
    return rv;
}

static int userauth_request(ssh_conn *c, ssh_cur *p, const uint8_t *payload)
{
    char user[SSH_USER_MAX + 1], service[SSH_NAME_MAX], method[SSH_NAME_MAX];
    int rv;
    if ((rv = ssh_cur_get_cstr(p, user, sizeof(user))) != 0 ||
        (rv = ssh_cur_get_cstr(p, service, sizeof(service))) != 0 ||
        (rv = ssh_cur_get_cstr(p, method, sizeof(method))) != 0)
        return rv;
    if (strcmp(service, "ssh-connection") != 0)
        return SSH_ERR_SERVICE;
    if (c->auth_user != NULL && strcmp(c->auth_user, user) != 0) {
        ssh_conn_logf(c, 1, "change of username not allowed: %s -> %s", c->auth_user, user);
        return SSH_ERR_UNEXPECTED;
    }
    if (c->auth_user == NULL && (c->auth_user = strdup(user)) == NULL)
        return SSH_ERR_ALLOC;
    c->auth_attempts++;
    c->auth_kbdint_active = 0;

    ssh_auth_request r = {0};
    r.user = c->auth_user;
    c->auth_first_none = c->auth_attempts == 1 && strcmp(method, "none") == 0;
    if (strcmp(method, "none") == 0) {
        if ((rv = ssh_cur_end(p)) != 0)
            return rv;
        r.method = SSH_AUTH_NONE;
        return apply(c, ask(c, &r), SSH_AUTH_NONE, 0, NULL, NULL);
    }
    if (strcmp(method, "password") == 0) {
        int change;
        const uint8_t *pw;
        size_t pwlen;
        if ((rv = ssh_cur_get_bool(p, &change)) != 0 ||
            (rv = ssh_cur_get_string(p, &pw, &pwlen)) != 0)
            return rv;
        /* A password change request carries a second string; refused. */
        if (change || pwlen > SSH_PASSWORD_MAX || memchr(pw, 0, pwlen) != NULL)
            return apply(c, SSH_AUTH_REJECT, SSH_AUTH_PASSWORD, 0, NULL, NULL);
        if ((rv = ssh_cur_end(p)) != 0)
            return rv;
        char pwbuf[SSH_PASSWORD_MAX + 1];
        memcpy(pwbuf, pw, pwlen);
        pwbuf[pwlen] = '\0';
        r.method = SSH_AUTH_PASSWORD;
        r.password = pwbuf;
        int d = ask(c, &r);
        OPENSSL_cleanse(pwbuf, sizeof(pwbuf));
        return apply(c, d, SSH_AUTH_PASSWORD, 0, NULL, NULL);
    }
    if (strcmp(method, "publickey") == 0)
        return publickey(c, p, payload);
    if (strcmp(method, "keyboard-interactive") == 0) {
        char sub[SSH_NAMELIST_MAX];
        if ((rv = ssh_cur_get_string(p, NULL, NULL)) != 0 ||
            (rv = ssh_cur_get_cstr(p, sub, sizeof(sub))) != 0 || (rv = ssh_cur_end(p)) != 0)
            return rv;
        r.method = SSH_AUTH_KBDINT;
        r.submethods = sub;
        return apply(c, ask(c, &r), SSH_AUTH_KBDINT, 0, NULL, NULL);
    }
    ssh_conn_logf(c, 2, "unsupported authentication method %s", method);
    return apply(c, SSH_AUTH_REJECT, SSH_AUTH_NONE, 0, NULL, NULL);
}

static int info_response(ssh_conn *c, ssh_cur *p)
{
    uint32_t n, i;
    char *resp[SSH_KBDINT_MAX] = {0};
    int rv;
    if (!c->auth_kbdint_active)
        return SSH_ERR_UNEXPECTED;
    c->auth_kbdint_active = 0;
    if ((rv = ssh_cur_get_u32(p, &n)) != 0)
        return rv;
    if (n > SSH_KBDINT_MAX)
        return SSH_ERR_TOO_LONG;
    for (i = 0; i < n; i++)
        if ((rv = ssh_cur_get_strdup(p, SSH_PASSWORD_MAX, &resp[i])) != 0)
            goto out;
    if ((rv = ssh_cur_end(p)) != 0)
        goto out;
    ssh_auth_request r = {0};
    r.user = c->auth_user;
    r.method = SSH_AUTH_KBDINT;
    r.n_responses = n;
    r.responses = (const char *const *)resp;
    rv = apply(c, ask(c, &r), SSH_AUTH_KBDINT, 0, NULL, NULL);
out:
    for (i = 0; i < n && i < SSH_KBDINT_MAX; i++) {
        if (resp[i]) {
            OPENSSL_cleanse(resp[i], strlen(resp[i]));
            free(resp[i]);
        }
    }
    return rv;
}

int ssh_auth_dispatch_server(ssh_conn *c, uint8_t type, ssh_cur *p)
{
    /* p starts after the type byte; the signed data needs the payload. */
    const uint8_t *payload = p->p - 1;
    if (type == SSH_MSG_USERAUTH_REQUEST)
        return userauth_request(c, p, payload);
    if (type == SSH_MSG_USERAUTH_INFO_RESPONSE)
        return info_response(c, p);
    return SSH_ERR_UNEXPECTED;
}
