/*
 * tun_privauth.c - authentication decisions of sshtund's privileged side
 * (the AUTH request of tun_privproto.h).
 *
 * Everything the network process sends is treated as a claim: the user
 * name is fixed by the connection's first attempt (sshd refuses a change
 * too), the policy (DenyUsers, AllowUsers, PermitRootLogin, the enabled
 * methods, MaxAuthTries) comes from the helper's own settings for that
 * user and the address read from the connection's socket.  Publickey
 * attempts go on in tun_privpk.c (signature, revocation, authorized_keys,
 * certificates).  The messages are sshd's, logged where the decision is
 * made.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "tun_privd.h"
#include "tun_log.h"

#include <errno.h>
#include <fnmatch.h>
#include <grp.h>
#include <pwd.h>
#include <shadow.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "sshtun/cert.h"
#include "sshtun/key.h"

#define MAX_SEEN     65536

/* ---- users ------------------------------------------------------------------------------------
 */

static int valid_user_name(const char *u)
{
    size_t l = strlen(u);
    if (l == 0 || l > 32 || u[0] == '-' || u[0] == '.')
        return 0;
    for (size_t i = 0; i < l; i++)
        if (u[i] == '/' || u[i] == ':' || (unsigned char)u[i] < 0x20)
            return 0;
    return 1;
}

void privd_lookup_user(const char *name, tun_user_info *out)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->name, sizeof(out->name), "%s", name);
    if (!valid_user_name(name))
        return;
    struct passwd *pw = getpwnam(name);
    if (pw == NULL)
        return;
    out->found = 1;
    out->uid = pw->pw_uid;
    out->gid = pw->pw_gid;
    snprintf(out->name, sizeof(out->name), "%s", pw->pw_name);
    snprintf(out->home, sizeof(out->home), "%s", pw->pw_dir ? pw->pw_dir : "/");
    snprintf(out->shell, sizeof(out->shell), "%s",
             pw->pw_shell && *pw->pw_shell ? pw->pw_shell : "/bin/sh");
}

void privd_unprivileged_ids(const char *user, uint32_t *uid, uint32_t *gid)
{
    struct passwd *pw = user ? getpwnam(user) : NULL;
    if (pw == NULL || pw->pw_uid == 0)
        pw = getpwnam("nobody");
    *uid = pw ? pw->pw_uid : 65534;
    *gid = pw ? pw->pw_gid : 65534;
}

/* sshd's pattern lists: "user" or "user@address" entries, '*' and '?'
 * wildcards. */
static int user_pattern_match(const char *pat, const char *user, const char *ip)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", pat);
    char *at = strchr(buf, '@');
    if (at) {
        *at = '\0';
        if (!tun_match_address_list(ip, at + 1))
            return 0;
    }
    return fnmatch(buf, user, 0) == 0;
}

static int list_match(char *const *list, int n, const char *user, const char *ip)
{
    for (int i = 0; i < n; i++)
        if (user_pattern_match(list[i], user, ip))
            return 1;
    return 0;
}

/* Does any group of the user (primary and supplementary) match one of the
 * patterns? */
static int group_match(const tun_user_info *u, char *const *list, int n)
{
    gid_t groups[256];
    int ng = (int)(sizeof(groups) / sizeof(groups[0]));
    if (getgrouplist(u->name, u->gid, groups, &ng) < 0)
        ng = (int)(sizeof(groups) / sizeof(groups[0])); /* the first ones */
    for (int g = 0; g < ng; g++) {
        struct group *gr = getgrgid(groups[g]);
        if (gr == NULL)
            continue;
        for (int i = 0; i < n; i++)
            if (fnmatch(list[i], gr->gr_name, 0) == 0)
                return 1;
    }
    return 0;
}

/* DenyUsers, AllowUsers, DenyGroups, AllowGroups (sshd's order),
 * PermitRootLogin (the forced-commands-only case is decided once the key's
 * options are known).  0 allowed. */
static int access_check(const pconn *c, enum tun_auth_kind k)
{
    const tun_srvopts *o = &c->opts;
    const char *u = c->u.name;
    if (o->n_deny_users && list_match(o->deny_users, o->n_deny_users, u, c->ip)) {
        tun_info("User %s from %s not allowed because listed in DenyUsers", u, c->ip);
        return -1;
    }
    if (o->n_allow_users && !list_match(o->allow_users, o->n_allow_users, u, c->ip)) {
        tun_info("User %s from %s not allowed because not listed in AllowUsers", u, c->ip);
        return -1;
    }
    if (o->n_deny_groups && group_match(&c->u, o->deny_groups, o->n_deny_groups)) {
        tun_info("User %s from %s not allowed because a group is listed in DenyGroups", u, c->ip);
        return -1;
    }
    if (o->n_allow_groups && !group_match(&c->u, o->allow_groups, o->n_allow_groups)) {
        tun_info("User %s from %s not allowed because none of user's groups are listed in "
                 "AllowGroups",
                 u, c->ip);
        return -1;
    }
    if (c->u.uid == 0) {
        int prl = o->permit_root_login;
        if (prl == PRL_NO || (k == TUN_AUTH_PASSWORD && prl != PRL_YES)) {
            tun_info("ROOT LOGIN REFUSED FROM %s port %d", c->ip, c->port);
            return -1;
        }
    }
    return 0;
}

/* SIGN: the exchange hash of a key exchange of this connection, with one
 * of the host keys - and nothing else: the data must have the length of
 * an exchange hash (SHA-1, SHA-256, SHA-384 or SHA-512), only one
 * exchange may be signed before authentication (the first, whose hash is
 * the session id), and after it re-exchanges at SIGN_RATE a second with
 * bursts of SIGN_BURST (a client with a tiny RekeyLimit rekeys several
 * times a second; this only bounds a runaway signing oracle). */
#define SIGN_RATE  10.0
#define SIGN_BURST 64.0

/* Re-exchanges the connection may have signed now (a token bucket). */
static double sign_budget(tun_privd *d, pconn *c)
{
    ev_tstamp now = ev_now(d->loop);
    if (c->last_signed == 0)
        c->sign_tokens = SIGN_BURST;
    else
        c->sign_tokens += (now - c->last_signed) * SIGN_RATE;
    if (c->sign_tokens > SIGN_BURST)
        c->sign_tokens = SIGN_BURST;
    c->last_signed = now;
    return c->sign_tokens;
}

void privd_sign(tun_privd *d, uint32_t id, pconn *c, ssh_cur *in)
{
    const uint8_t *blob, *h;
    size_t bl, hl;
    char alg[64];
    ssh_buf r, sig;
    ssh_buf_init(&r, 16384, 0);
    ssh_buf_init(&sig, 16384, 0);
    const char *why = NULL;
    const ssh_key *key = NULL;
    if (ssh_cur_get_string(in, &blob, &bl) != 0 || ssh_cur_get_cstr(in, alg, sizeof(alg)) != 0 ||
        ssh_cur_get_string(in, &h, &hl) != 0 || ssh_cur_end(in) != 0)
        why = "malformed request";
    else if (c == NULL)
        why = "unknown connection";
    else if (hl != 20 && hl != 32 && hl != 48 && hl != 64)
        why = "not an exchange hash";
    else if (c->n_signed > 0 && !c->authenticated)
        why = "a second key exchange before authentication";
    else if (c->n_signed > 0 && sign_budget(d, c) < 1.0)
        why = "key exchanges too often";
    if (why == NULL) {
        ssh_buf kb;
        ssh_buf_init(&kb, 16384, 0);
        for (size_t i = 0; i < c->set->n_keys && key == NULL; i++) {
            ssh_buf_reset(&kb);
            if (ssh_key_to_blob(c->set->keys[i], &kb) == 0 && ssh_buf_len(&kb) == bl &&
                memcmp(ssh_buf_ptr(&kb), blob, bl) == 0 && ssh_key_alg_ok(c->set->keys[i], alg))
                key = c->set->keys[i];
        }
        ssh_buf_free(&kb);
        if (key == NULL)
            why = "not one of the host keys, or not its algorithm";
        else if (ssh_key_sign(key, alg, SSH_KEY_ALLOW_SHA1, h, hl, &sig) != 0)
            why = "signing failed";
    }
    if (why) {
        tun_error("sshtund helper: host key signature refused: %s", why);
        ssh_buf_put_bool(&r, 0);
        ssh_buf_put_string(&r, NULL, 0);
    } else {
        snprintf(c->hostkey_alg, sizeof(c->hostkey_alg), "%s", alg);
        if (c->n_signed++ == 0) {
            memcpy(c->session_id, h, hl);
            c->session_id_len = hl;
        }
        if (c->n_signed > 1)
            c->sign_tokens -= 1.0;
        ssh_buf_put_bool(&r, 1);
        ssh_buf_put_stringb(&r, &sig);
    }
    privd_answer(d, c, TUN_PRIV_SIGN, id, &r, NULL, 0);
    ssh_buf_free(&r);
    ssh_buf_free(&sig);
}

/* PROVE: hostkeys-prove-00@openssh.com (OpenSSH's PROTOCOL 2.5).  The
 * client asks the server to prove it holds the private halves of host keys
 * it announced (hostkeys-00, after authentication).  The helper builds the
 * signed data itself - the fixed string, the session id it recorded at the
 * first SIGN, the key blob - so the network process can make it sign
 * nothing else, and only for an authenticated connection, a bounded number
 * of times.  RSA keys sign with the exchange's RSA algorithm when the
 * exchange used one, else rsa-sha2-512 (sshd's choice when the client
 * supports SHA-2, which every client that sends this request does). */
#define MAX_PROVES 16

void privd_prove(tun_privd *d, uint32_t id, pconn *c, ssh_cur *in)
{
    const uint8_t *req;
    size_t rl;
    const char *why = NULL;
    ssh_buf r, sigs, data, kb, sig;
    ssh_buf_init(&r, TUN_PRIV_MSG_MAX, 0);
    ssh_buf_init(&sigs, TUN_PRIV_MSG_MAX - 64, 0);
    ssh_buf_init(&data, 65536, 0);
    ssh_buf_init(&kb, 65536, 0);
    ssh_buf_init(&sig, 65536, 0);
    if (ssh_cur_get_string(in, &req, &rl) != 0 || ssh_cur_end(in) != 0)
        why = "malformed request";
    else if (c == NULL)
        why = "unknown connection";
    else if (!c->authenticated || c->session_id_len == 0)
        why = "not authenticated";
    else if (c->n_proves >= MAX_PROVES)
        why = "too many requests";
    ssh_cur keys;
    ssh_cur_init(&keys, req, why ? 0 : rl);
    size_t n = 0;
    while (why == NULL && keys.len > 0) {
        const uint8_t *blob;
        size_t bl;
        const ssh_key *key = NULL;
        if (ssh_cur_get_string(&keys, &blob, &bl) != 0 || ++n > c->set->n_keys) {
            why = "malformed key list";
            break;
        }
        for (size_t i = 0; i < c->set->n_keys && key == NULL; i++) {
            ssh_buf_reset(&kb);
            if (!ssh_key_is_cert(c->set->keys[i]) && ssh_key_to_blob(c->set->keys[i], &kb) == 0 &&
                ssh_buf_len(&kb) == bl && memcmp(ssh_buf_ptr(&kb), blob, bl) == 0)
                key = c->set->keys[i];
        }
        if (key == NULL) {
            why = "not one of the host keys";
            break;
        }
        const char *alg = ssh_key_type_name(key);
        const char *kex_alg = ssh_key_alg_plain(c->hostkey_alg); /* "-cert-v01" dropped */
        if (ssh_key_type(key) == SSH_KEY_RSA)
            alg = kex_alg != NULL &&
                          (strncmp(kex_alg, "rsa-sha2-", 9) == 0 || strcmp(kex_alg, "ssh-rsa") == 0)
                      ? kex_alg
                      : "rsa-sha2-512";
        ssh_buf_reset(&data);
        ssh_buf_reset(&sig);
        if (ssh_buf_put_cstring(&data, "hostkeys-prove-00@openssh.com") != 0 ||
            ssh_buf_put_string(&data, c->session_id, c->session_id_len) != 0 ||
            ssh_buf_put_string(&data, blob, bl) != 0 ||
            ssh_key_sign(key, alg, SSH_KEY_ALLOW_SHA1, ssh_buf_ptr(&data), ssh_buf_len(&data),
                         &sig) != 0 ||
            ssh_buf_put_stringb(&sigs, &sig) != 0)
            why = "signing failed";
    }
    if (why == NULL && n == 0)
        why = "no keys";
    if (why) {
        tun_error("sshtund helper: hostkeys-prove refused: %s", why);
        ssh_buf_put_bool(&r, 0);
        ssh_buf_put_string(&r, NULL, 0);
    } else {
        c->n_proves++;
        ssh_buf_put_bool(&r, 1);
        ssh_buf_put_stringb(&r, &sigs);
    }
    privd_answer(d, c, TUN_PRIV_PROVE, id, &r, NULL, 0);
    ssh_buf_free(&r);
    ssh_buf_free(&sigs);
    ssh_buf_free(&data);
    ssh_buf_free(&kb);
    ssh_buf_free(&sig);
}

/* ---- answers ------------------------------------------------------------------------------------
 */

void privd_auth_answer(tun_privd *d, uint32_t id, pconn *c, int ok, const tun_keyopts *ko)
{
    ssh_buf r;
    tun_keyopts empty;
    memset(&empty, 0, sizeof(empty));
    ssh_buf_init(&r, TUN_PRIV_MSG_MAX, 0);
    ssh_buf_put_bool(&r, ok);
    ssh_buf_put_u32(&r, ok && c ? c->u.uid : 0);
    tun_keyopts_encode(ko ? ko : &empty, &r);
    privd_answer(d, c, TUN_PRIV_AUTH, id, &r, NULL, 0);
    ssh_buf_free(&r);
}

void privd_auth_failed(tun_privd *d, uint32_t id, pconn *c)
{
    if (c) {
        c->failures++;
        c->busy = 0;
    }
    privd_auth_answer(d, id, c, 0, NULL);
}

void privd_auth_succeeded(tun_privd *d, uint32_t id, pconn *c)
{
    c->busy = 0;
    privd_conn_authenticated(c);
    privd_auth_answer(d, id, c, 1, c->have_kopts ? &c->kopts : NULL);
}

/* ---- password
 * ------------------------------------------------------------------------------------ */

static void password_checked(void *arg, int ok)
{
    pop *o = arg;
    pconn *c = o->c;
    tun_privd *d = c->d;
    uint32_t id = o->id;
    int decoy = o->data != NULL;
    o->job = NULL;
    o->data = NULL;
    privd_op_done(o);
    if (decoy) {
        tun_info("Failed password for %s%s from %s port %d ssh2", c->u.found ? "" : "invalid user ",
                 c->u.found ? c->u.name : c->user, c->ip, c->port);
        privd_auth_failed(d, id, c);
        return;
    }
    if (ok) {
        tun_info("Accepted password for %s from %s port %d ssh2", c->u.name, c->ip, c->port);
        privd_auth_succeeded(d, id, c);
    } else {
        tun_info("Failed password for %s from %s port %d ssh2", c->u.name, c->ip, c->port);
        privd_auth_failed(d, id, c);
    }
}

/* A check whose answer is no whatever the password: for an unknown user
 * or a locked account it still costs a hash and the source's delay, so
 * the time of the answer does not tell which accounts exist (sshd hashes
 * against a fake password too). */
static void decoy_password(tun_privd *d, uint32_t id, pconn *c, const char *pw)
{
    pop *o = privd_op_new(c, TUN_PRIV_AUTH, id);
    if (o != NULL) {
        o->data = (void *)1; /* the decoy mark (no cleanup needed) */
        o->job = tun_pwpool_check(d->pw, c->ip, d->decoy_hash, pw, password_checked, o);
        if (o->job != NULL)
            return;
        o->data = NULL;
        privd_op_done(o);
    }
    tun_info("Failed password for %s%s from %s port %d ssh2", c->u.found ? "" : "invalid user ",
             c->u.found ? c->u.name : c->user, c->ip, c->port);
    privd_auth_failed(d, id, c);
}

static void password(tun_privd *d, uint32_t id, pconn *c, const char *pw)
{
    /* PermitEmptyPasswords is always no. */
    if (!c->opts.password_authentication || pw[0] == '\0') {
        privd_auth_failed(d, id, c);
        return;
    }
    const char *hash = NULL;
    struct spwd *sp = getspnam(c->u.name);
    if (sp && sp->sp_pwdp)
        hash = sp->sp_pwdp;
    else {
        struct passwd *p = getpwnam(c->u.name);
        if (p && p->pw_passwd)
            hash = p->pw_passwd;
    }
    /* Locked or passwordless accounts ("!", "*", "") never match. */
    if (hash == NULL || hash[0] == '\0' || hash[0] == '!' || hash[0] == '*') {
        decoy_password(d, id, c, pw);
        return;
    }
    pop *o = privd_op_new(c, TUN_PRIV_AUTH, id);
    if (o == NULL) {
        privd_auth_failed(d, id, c);
        return;
    }
    o->job = tun_pwpool_check(d->pw, c->ip, hash, pw, password_checked, o);
    if (o->job == NULL) {
        privd_op_done(o);
        tun_info("Failed password for %s from %s port %d ssh2", c->u.name, c->ip, c->port);
        privd_auth_failed(d, id, c);
    }
}

/* ---- AUTH
 * ------------------------------------------------------------------------------------------ */

void privd_auth(tun_privd *d, uint32_t id, pconn *c, ssh_cur *in)
{
    char user[256], alg[64];
    uint32_t kind;
    const uint8_t *blob, *sig, *data, *pw;
    size_t bl, sl, dl, pwl;
    if (ssh_cur_get_cstr(in, user, sizeof(user)) != 0 || ssh_cur_get_u32(in, &kind) != 0 ||
        ssh_cur_get_cstr(in, alg, sizeof(alg)) != 0 || ssh_cur_get_string(in, &blob, &bl) != 0 ||
        ssh_cur_get_string(in, &sig, &sl) != 0 || ssh_cur_get_string(in, &data, &dl) != 0 ||
        ssh_cur_get_string(in, &pw, &pwl) != 0 || ssh_cur_end(in) != 0 || pwl > 1024 ||
        memchr(pw, '\0', pwl) != NULL ||
        (kind != TUN_AUTH_PUBKEY_QUERY && kind != TUN_AUTH_PUBKEY && kind != TUN_AUTH_PASSWORD)) {
        tun_error("sshtund helper: malformed authentication request");
        privd_auth_failed(d, id, c);
        return;
    }
    if (c == NULL) {
        tun_error("sshtund helper: authentication for an unknown connection refused");
        privd_auth_failed(d, id, NULL);
        return;
    }
    if (c->authenticated || c->busy) {
        tun_error("sshtund helper: %s: authentication refused (%s)", c->ip,
                  c->authenticated ? "already authenticated" : "another attempt under way");
        privd_auth_answer(d, id, c, 0, NULL);
        return;
    }
    if (!c->have_user) {
        c->have_user = 1;
        if (strlen(user) < sizeof(c->user))
            memcpy(c->user, user, strlen(user) + 1);
        else
            c->user[0] = '\0'; /* no such account can exist */
        privd_lookup_user(c->user, &c->u);
        if (c->u.found && !d->root && c->u.uid != d->self_uid)
            c->u.found = 0; /* not root: only our own user */
        tun_srvcfg_for(&c->set->cfg, c->u.found ? c->u.name : c->user, c->ip, &c->opts);
        c->have_opts = 1;
        if (!c->u.found)
            tun_info("Invalid user %s from %s port %d", user, c->ip, c->port);
    } else if (strcmp(user, c->user) != 0) {
        tun_error("sshtund helper: %s: change of username not allowed", c->ip);
        privd_auth_failed(d, id, c);
        return;
    }
    int max = c->opts.max_auth_tries > 0 ? c->opts.max_auth_tries : 6;
    if (c->failures >= (unsigned)max) {
        tun_info("Too many authentication failures for %s from %s port %d", c->user, c->ip,
                 c->port);
        privd_auth_answer(d, id, c, 0, NULL);
        return;
    }
    c->tried |= 1u << kind;
    c->busy = 1;
    if (!c->u.found) {
        if (kind == TUN_AUTH_PASSWORD && c->opts.password_authentication && pwl > 0) {
            char pwbuf[1025];
            memcpy(pwbuf, pw, pwl);
            pwbuf[pwl] = '\0';
            decoy_password(d, id, c, pwbuf);
            OPENSSL_cleanse(pwbuf, sizeof(pwbuf));
            return;
        }
        privd_auth_failed(d, id, c);
        return;
    }
    if (access_check(c, (enum tun_auth_kind)kind) != 0) {
        privd_auth_failed(d, id, c);
        return;
    }
    if (kind == TUN_AUTH_PASSWORD) {
        char pwbuf[1025];
        memcpy(pwbuf, pw, pwl);
        pwbuf[pwl] = '\0';
        password(d, id, c, pwbuf);
        OPENSSL_cleanse(pwbuf, sizeof(pwbuf));
        return;
    }
    privd_pubkey(d, id, c, (enum tun_auth_kind)kind, alg, blob, bl, sig, sl, data, dl);
}
