/*
 * auth_client.c - user authentication, client role (RFC 4252, RFC 4256).
 *
 * The application drives: after auth_ready it starts one attempt at a time
 * (none, password, publickey query or signed request, keyboard-interactive)
 * and learns the outcome through auth_result.  The engine builds the
 * messages, the data to be signed (section 7) and picks the RSA signature
 * algorithm from the server's server-sig-algs (RFC 8308, RFC 8332).
 */
#include "conn_int.h"

#include "sshtun/cert.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SERVICE "ssh-connection"

static int can_start(ssh_conn *c)
{
    if (c->server)
        return SSH_ERR_STATE;
    if (c->phase != PHASE_AUTH || c->authw != AUTHW_IDLE)
        return SSH_ERR_STATE;
    return 0;
}

static int set_user(ssh_conn *c, const char *user)
{
    if (user == NULL || strlen(user) > SSH_USER_MAX)
        return SSH_ERR_ARGUMENT;
    char *u = strdup(user);
    if (u == NULL)
        return SSH_ERR_ALLOC;
    free(c->auth_user);
    c->auth_user = u;
    return 0;
}

/* byte 50, string user, string service, string method */
static ssh_buf *begin_request(ssh_conn *c, const char *method, int *rv)
{
    ssh_buf *b = ssh_pkt_begin(c, SSH_MSG_USERAUTH_REQUEST);
    if ((*rv = ssh_buf_put_cstring(b, c->auth_user)) != 0 ||
        (*rv = ssh_buf_put_cstring(b, SERVICE)) != 0 || (*rv = ssh_buf_put_cstring(b, method)) != 0)
        ssh_pkt_cancel(c);
    return b;
}

int ssh_auth_none(ssh_conn *c, const char *user)
{
    int rv;
    if ((rv = can_start(c)) != 0 || (rv = set_user(c, user)) != 0)
        return rv;
    begin_request(c, "none", &rv);
    if (rv != 0 || (rv = ssh_pkt_end(c)) != 0)
        return rv;
    c->authw = AUTHW_NONE;
    return 0;
}

int ssh_auth_password(ssh_conn *c, const char *user, const char *password)
{
    int rv;
    if (password == NULL || strlen(password) > SSH_PASSWORD_MAX)
        return SSH_ERR_ARGUMENT;
    if ((rv = can_start(c)) != 0 || (rv = set_user(c, user)) != 0)
        return rv;
    ssh_buf *b = begin_request(c, "password", &rv);
    if (rv != 0)
        return rv;
    if ((rv = ssh_buf_put_bool(b, 0)) != 0 || (rv = ssh_buf_put_cstring(b, password)) != 0) {
        ssh_pkt_cancel(c);
        return rv;
    }
    if ((rv = ssh_pkt_end(c)) != 0)
        return rv;
    c->authw = AUTHW_PASSWORD;
    ssh_conn_logf(c, 1, "Next authentication method: password");
    return 0;
}

const char *ssh_auth_pubkey_alg(const ssh_conn *c, const ssh_key *key)
{
    static const char *const rsa_algs[] = {"rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"};
    if (ssh_key_type(key) != SSH_KEY_RSA) {
        /* A certificate goes by its certificate type name. */
        const char *t = ssh_key_type_name(key);
        return ssh_namelist_has(c->cfg.pubkey_algs, t) ? t : NULL;
    }
    /* RSA: the first algorithm we allow that the server announced; without
     * server-sig-algs, the first we allow (RFC 8332 section 3.3).  For an
     * RSA certificate the same choice under the certificate names
     * (rsa-sha2-512-cert-v01@openssh.com): server-sig-algs lists the
     * signature algorithm its signatures use. */
    for (size_t i = 0; i < 3; i++) {
        const char *name = ssh_key_is_cert(key) ? ssh_key_alg_cert(rsa_algs[i]) : rsa_algs[i];
        if (name == NULL || !ssh_namelist_has(c->cfg.pubkey_algs, name))
            continue;
        if (c->server_sig_algs == NULL || ssh_namelist_has(c->server_sig_algs, rsa_algs[i]))
            return name;
    }
    return NULL;
}

static int send_signed(ssh_conn *c, const uint8_t *sig, size_t siglen)
{
    /* The request is the signed data (section 7) without its leading
     * session identifier string, followed by the signature. */
    size_t skip = 4 + c->session_id_len;
    const uint8_t *d = ssh_buf_ptr(&c->auth_sigdata);
    size_t dl = ssh_buf_len(&c->auth_sigdata);
    int rv;
    if (dl <= skip + 1)
        return SSH_ERR_INTERNAL;
    ssh_buf *b = ssh_pkt_begin(c, SSH_MSG_USERAUTH_REQUEST);
    if ((rv = ssh_buf_put(b, d + skip + 1, dl - skip - 1)) != 0 ||
        (rv = ssh_buf_put_string(b, sig, siglen)) != 0) {
        ssh_pkt_cancel(c);
        return rv;
    }
    ssh_buf_reset(&c->auth_sigdata);
    if ((rv = ssh_pkt_end(c)) != 0)
        return rv;
    c->authw = AUTHW_PK_SIGNED;
    return 0;
}

int ssh_auth_publickey(ssh_conn *c, const char *user, const ssh_key *key, int sign)
{
    int rv;
    if (key == NULL)
        return SSH_ERR_ARGUMENT;
    if ((rv = can_start(c)) != 0 || (rv = set_user(c, user)) != 0)
        return rv;
    const char *alg = ssh_auth_pubkey_alg(c, key);
    if (alg == NULL)
        return SSH_ERR_KEY_ALG_DISABLED;
    ssh_key *pub = NULL;
    if ((rv = ssh_key_public(key, &pub)) != 0)
        return rv;
    ssh_key_free(c->auth_key);
    c->auth_key = pub;
    snprintf(c->auth_alg, sizeof(c->auth_alg), "%s", alg);

    ssh_buf blob;
    ssh_buf_init(&blob, 16384, 0);
    if ((rv = ssh_key_to_blob(key, &blob)) != 0)
        goto out;
    if (!sign) {
        ssh_buf *b = begin_request(c, "publickey", &rv);
        if (rv != 0)
            goto out;
        if ((rv = ssh_buf_put_bool(b, 0)) != 0 || (rv = ssh_buf_put_cstring(b, alg)) != 0 ||
            (rv = ssh_buf_put_stringb(b, &blob)) != 0) {
            ssh_pkt_cancel(c);
            goto out;
        }
        if ((rv = ssh_pkt_end(c)) == 0)
            c->authw = AUTHW_PK_QUERY;
        goto out;
    }
    /* RFC 4252 section 7: what the signature covers. */
    ssh_buf *d = &c->auth_sigdata;
    ssh_buf_reset(d);
    if ((rv = ssh_buf_put_string(d, c->session_id, c->session_id_len)) != 0 ||
        (rv = ssh_buf_put_u8(d, SSH_MSG_USERAUTH_REQUEST)) != 0 ||
        (rv = ssh_buf_put_cstring(d, c->auth_user)) != 0 ||
        (rv = ssh_buf_put_cstring(d, SERVICE)) != 0 ||
        (rv = ssh_buf_put_cstring(d, "publickey")) != 0 || (rv = ssh_buf_put_bool(d, 1)) != 0 ||
        (rv = ssh_buf_put_cstring(d, alg)) != 0 || (rv = ssh_buf_put_stringb(d, &blob)) != 0)
        goto out;
    if (c->cb.sign == NULL) {
        rv = SSH_ERR_STATE;
        goto out;
    }
    ssh_buf sig;
    ssh_buf_init(&sig, 16384, 0);
    c->authw = AUTHW_PK_SIGNING;
    rv = c->cb.sign(c, c->auth_key, alg, ssh_buf_ptr(d), ssh_buf_len(d), &sig, c->user);
    if (rv == SSH_DEFERRED) {
        rv = 0;
    } else if (rv == 0) {
        rv = send_signed(c, ssh_buf_ptr(&sig), ssh_buf_len(&sig));
    } else {
        c->authw = AUTHW_IDLE;
    }
    ssh_buf_free(&sig);
out:
    ssh_buf_free(&blob);
    return rv;
}

int ssh_auth_sign_done(ssh_conn *c, const uint8_t *sig, size_t len)
{
    if (c->server || c->authw != AUTHW_PK_SIGNING)
        return SSH_ERR_STATE;
    if (sig == NULL || len == 0) {
        c->authw = AUTHW_IDLE;
        ssh_buf_reset(&c->auth_sigdata);
        return 0;
    }
    return send_signed(c, sig, len);
}

int ssh_auth_kbdint(ssh_conn *c, const char *user, const char *submethods)
{
    int rv;
    if ((rv = can_start(c)) != 0 || (rv = set_user(c, user)) != 0)
        return rv;
    ssh_buf *b = begin_request(c, "keyboard-interactive", &rv);
    if (rv != 0)
        return rv;
    /* RFC 4256 section 3.1: language tag (deprecated, empty), submethods. */
    if ((rv = ssh_buf_put_cstring(b, "")) != 0 ||
        (rv = ssh_buf_put_cstring(b, submethods ? submethods : "")) != 0) {
        ssh_pkt_cancel(c);
        return rv;
    }
    if ((rv = ssh_pkt_end(c)) != 0)
        return rv;
    c->authw = AUTHW_KBDINT;
    return 0;
}

int ssh_auth_kbdint_respond(ssh_conn *c, uint32_t n, const char *const *responses)
{
    int rv;
    if (c->server || c->authw != AUTHW_KBDINT || n > SSH_KBDINT_MAX)
        return SSH_ERR_STATE;
    ssh_buf *b = ssh_pkt_begin(c, SSH_MSG_USERAUTH_INFO_RESPONSE);
    rv = ssh_buf_put_u32(b, n);
    for (uint32_t i = 0; i < n && rv == 0; i++)
        rv = ssh_buf_put_cstring(b, responses[i] ? responses[i] : "");
    if (rv != 0) {
        ssh_pkt_cancel(c);
        return rv;
    }
    return ssh_pkt_end(c);
}

static enum ssh_auth_method wait_method(enum ssh_auth_wait w)
{
    switch (w) {
    case AUTHW_PASSWORD: return SSH_AUTH_PASSWORD;
    case AUTHW_PK_QUERY:
    case AUTHW_PK_SIGNING:
    case AUTHW_PK_SIGNED: return SSH_AUTH_PUBLICKEY;
    case AUTHW_KBDINT: return SSH_AUTH_KBDINT;
    default: return SSH_AUTH_NONE;
    }
}

static void report(ssh_conn *c, enum ssh_auth_status st, const char *methods)
{
    ssh_auth_result r = {st, wait_method(c->authw), methods};
    c->authw = AUTHW_IDLE;
    if (c->cb.auth_result)
        c->cb.auth_result(c, &r, c->user);
}

/* INFO_REQUEST (RFC 4256 section 3.2). */
static int info_request(ssh_conn *c, ssh_cur *p)
{
    char *name = NULL, *instr = NULL, *lang = NULL;
    char *prompts[SSH_KBDINT_MAX] = {0};
    int echo[SSH_KBDINT_MAX] = {0};
    uint32_t n = 0, i;
    int rv;
    if ((rv = ssh_cur_get_strdup(p, SSH_TEXT_MAX, &name)) != 0 ||
        (rv = ssh_cur_get_strdup(p, SSH_TEXT_MAX, &instr)) != 0 ||
        (rv = ssh_cur_get_strdup(p, SSH_TEXT_MAX, &lang)) != 0 || (rv = ssh_cur_get_u32(p, &n)) != 0)
        goto out;
    if (n > SSH_KBDINT_MAX) {
        rv = SSH_ERR_TOO_LONG;
        goto out;
    }
    for (i = 0; i < n; i++)
        if ((rv = ssh_cur_get_strdup(p, SSH_TEXT_MAX, &prompts[i])) != 0 ||
            (rv = ssh_cur_get_bool(p, &echo[i])) != 0)
            goto out;
    if ((rv = ssh_cur_end(p)) != 0)
        goto out;
    ssh_kbdint_prompt kp = {name, instr, n, (const char *const *)prompts, echo};
    if (c->cb.kbdint_prompt)
        c->cb.kbdint_prompt(c, &kp, c->user);
    else
        rv = ssh_auth_kbdint_respond(c, 0, NULL);
out:
    free(name);
    free(instr);
    free(lang);
    for (i = 0; i < SSH_KBDINT_MAX; i++)
        free(prompts[i]);
    return rv;
}

int ssh_auth_dispatch_client(ssh_conn *c, uint8_t type, ssh_cur *p)
{
    int rv;
    switch (type) {
    case SSH_MSG_USERAUTH_BANNER: {
        char *msg = NULL;
        /* string message, string language tag */
        if ((rv = ssh_cur_get_strdup(p, SSH_TEXT_MAX, &msg)) != 0)
            return rv;
        if ((rv = ssh_cur_get_string(p, NULL, NULL)) == 0)
            rv = ssh_cur_end(p);
        if (rv == 0 && c->cb.auth_banner)
            c->cb.auth_banner(c, msg, c->user);
        free(msg);
        return rv;
    }
    case SSH_MSG_USERAUTH_SUCCESS:
        if (c->authw == AUTHW_IDLE || ssh_cur_end(p) != 0)
            return SSH_ERR_UNEXPECTED;
        c->phase = PHASE_OPEN;
        ssh_conn_logf(c, 1, "Authentication succeeded (%s).",
                      c->authw == AUTHW_PASSWORD ? "password"
                      : c->authw == AUTHW_KBDINT ? "keyboard-interactive"
                      : c->authw == AUTHW_NONE   ? "none" : "publickey");
        /* Delayed compression starts with the next packet either way. */
        if ((rv = ssh_pkt_auth_done(c)) != 0)
            return rv;
        /* Before the application queues anything: the answer then comes
         * back as fast as the path allows. */
        if ((rv = ssh_rtt_start(c)) != 0)
            return rv;
        report(c, SSH_AUTH_SUCCESS, NULL);
        return 0;
    case SSH_MSG_USERAUTH_FAILURE: {
        char methods[SSH_NAMELIST_MAX];
        int partial;
        if (c->authw == AUTHW_IDLE)
            return SSH_ERR_UNEXPECTED;
        if ((rv = ssh_cur_get_cstr(p, methods, sizeof(methods))) != 0 ||
            (rv = ssh_cur_get_bool(p, &partial)) != 0 || (rv = ssh_cur_end(p)) != 0)
            return rv;
        ssh_conn_logf(c, 1, "Authentications that can continue: %s", methods);
        report(c, partial ? SSH_AUTH_PARTIAL : SSH_AUTH_FAILURE, methods);
        return 0;
    }
    case SSH_MSG_USERAUTH_PK_OK: /* = INFO_REQUEST = PASSWD_CHANGEREQ */
        if (c->authw == AUTHW_PK_QUERY) {
            char alg[SSH_NAME_MAX];
            const uint8_t *blob;
            size_t bloblen;
            if ((rv = ssh_cur_get_cstr(p, alg, sizeof(alg))) != 0 ||
                (rv = ssh_cur_get_string(p, &blob, &bloblen)) != 0 || (rv = ssh_cur_end(p)) != 0)
                return rv;
            /* RFC 4252 section 7: PK_OK echoes the algorithm and key we
             * asked about; anything else is a confused or hostile server. */
            ssh_key *k = NULL;
            int same = strcmp(alg, c->auth_alg) == 0 && ssh_key_from_blob(blob, bloblen, &k) == 0 &&
                       ssh_key_equal_public(k, c->auth_key);
            ssh_key_free(k);
            if (!same)
                return SSH_ERR_UNEXPECTED;
            ssh_conn_logf(c, 2, "Server accepts key: %s", alg);
            report(c, SSH_AUTH_PK_OK, NULL);
            return 0;
        }
        if (c->authw == AUTHW_KBDINT)
            return info_request(c, p);
        if (c->authw == AUTHW_PASSWORD) {
            /* Password change requests are not supported: a failure. */
            report(c, SSH_AUTH_FAILURE, "password");
            return 0;
        }
        return SSH_ERR_UNEXPECTED;
    }
    return SSH_ERR_UNEXPECTED;
}
