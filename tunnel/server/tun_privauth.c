/*
 * tun_privauth.c - authentication decisions of sshtund's privileged side
 * (the AUTH request of tun_privproto.h).
 *
 * Everything the network process sends is treated as a claim: the user
 * name is fixed by the connection's first attempt (sshd refuses a change
 * too), the policy (DenyUsers, AllowUsers, PermitRootLogin, the enabled
 * methods, MaxAuthTries) comes from the helper's own settings for that
 * user and the address read from the connection's socket, a publickey
 * signature is verified here over data that must name this user, this key
 * and the connection's session (RFC 4252 section 7), and authorized_keys
 * is read by a child as the user (tun_privtask.h).  The messages are
 * sshd's, logged here where the decision is made.
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

#include "sshtun/key.h"

#define KEYFILE_MAX  (1024 * 1024)
#define KEYFILE_TIME 10.0
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

static void lookup_user(const char *name, tun_user_info *out)
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

/* ---- publickey ---------------------------------------------------------------------------------
 */

/* Expand %h %u %% and make a path absolute (relative to the home). */
static int keyfile_path(const char *spec, const tun_user_info *u, char *out, size_t outsz)
{
    char tmp[1024];
    size_t o = 0;
    for (const char *p = spec; *p && o + 1 < sizeof(tmp); p++) {
        if (*p != '%') {
            tmp[o++] = *p;
            continue;
        }
        p++;
        const char *rep = *p == 'h' ? u->home : *p == 'u' ? u->name : *p == '%' ? "%" : NULL;
        if (rep == NULL)
            return -1;
        size_t l = strlen(rep);
        if (o + l >= sizeof(tmp))
            return -1;
        memcpy(tmp + o, rep, l);
        o += l;
    }
    tmp[o] = '\0';
    int n = tmp[0] == '/' ? snprintf(out, outsz, "%s", tmp)
                          : snprintf(out, outsz, "%s/%s", u->home, tmp);
    return n < 0 || (size_t)n >= outsz ? -1 : 0; /* a truncated path is no path */
}

/* RFC 4252 section 7: the signed data is a publickey request of this user
 * for this key and algorithm; the signature over it verifies. */
static int verify_signed(const char *user, const char *alg, const ssh_key *key, const uint8_t *blob,
                         size_t bloblen, const uint8_t *sig, size_t siglen, const uint8_t *data,
                         size_t datalen, const uint8_t **sid, size_t *sidlen)
{
    ssh_cur c;
    uint8_t type;
    int has;
    char u[256], service[64], method[64], a[64];
    const uint8_t *b;
    size_t bl;
    ssh_cur_init(&c, data, datalen);
    if (ssh_cur_get_string(&c, sid, sidlen) != 0 || *sidlen == 0 || *sidlen > 64 ||
        ssh_cur_get_u8(&c, &type) != 0 || type != 50 || ssh_cur_get_cstr(&c, u, sizeof(u)) != 0 ||
        strcmp(u, user) != 0 || ssh_cur_get_cstr(&c, service, sizeof(service)) != 0 ||
        strcmp(service, "ssh-connection") != 0 ||
        ssh_cur_get_cstr(&c, method, sizeof(method)) != 0 || strcmp(method, "publickey") != 0 ||
        ssh_cur_get_bool(&c, &has) != 0 || !has || ssh_cur_get_cstr(&c, a, sizeof(a)) != 0 ||
        strcmp(a, alg) != 0 || ssh_cur_get_string(&c, &b, &bl) != 0 || bl != bloblen ||
        memcmp(b, blob, bl) != 0 || ssh_cur_end(&c) != 0)
        return -1;
    return ssh_key_verify(key, alg, SSH_KEY_ALLOW_SHA1, sig, siglen, data, datalen) == 0 ? 0 : -1;
}

/* The signed data must name this connection's session: the exchange hash
 * the helper itself signed first for it (SIGN).  A signature made for
 * another connection, or before any exchange, is refused.  1: refuse. */
static int session_id_refused(const pconn *c, const uint8_t *sid, size_t len)
{
    return c->session_id_len == 0 || len != c->session_id_len ||
           CRYPTO_memcmp(sid, c->session_id, len) != 0;
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
        if (c->n_signed++ == 0) {
            memcpy(c->session_id, h, hl);
            c->session_id_len = hl;
        }
        if (c->n_signed > 1)
            c->sign_tokens -= 1.0;
        ssh_buf_put_bool(&r, 1);
        ssh_buf_put_stringb(&r, &sig);
    }
    privd_answer(d, TUN_PRIV_SIGN, id, &r, NULL, 0);
    ssh_buf_free(&r);
    ssh_buf_free(&sig);
}

typedef struct pkwork {
    ssh_key *key;
    enum tun_auth_kind kind;
    char keydesc[160];
} pkwork;

static void pk_cleanup(pop *o)
{
    pkwork *w = o->data;
    if (w) {
        ssh_key_free(w->key);
        free(w);
    }
    o->data = NULL;
}

/* ---- answers ------------------------------------------------------------------------------------
 */

static void answer(tun_privd *d, uint32_t id, pconn *c, int ok, const tun_keyopts *ko)
{
    ssh_buf r;
    tun_keyopts empty;
    memset(&empty, 0, sizeof(empty));
    ssh_buf_init(&r, TUN_PRIV_MSG_MAX, 0);
    ssh_buf_put_bool(&r, ok);
    ssh_buf_put_u32(&r, ok && c ? c->u.uid : 0);
    tun_keyopts_encode(ko ? ko : &empty, &r);
    privd_answer(d, TUN_PRIV_AUTH, id, &r, NULL, 0);
    ssh_buf_free(&r);
}

static void failed(tun_privd *d, uint32_t id, pconn *c)
{
    if (c) {
        c->failures++;
        c->busy = 0;
    }
    answer(d, id, c, 0, NULL);
}

static void succeeded(tun_privd *d, uint32_t id, pconn *c)
{
    c->busy = 0;
    c->authenticated = 1;
    answer(d, id, c, 1, c->have_kopts ? &c->kopts : NULL);
}

static void keys_read(void *arg, int err, const tun_ptask_file *files, int n)
{
    pop *o = arg;
    pconn *c = o->c;
    tun_privd *d = c->d;
    pkwork *w = o->data;
    o->task = NULL;
    tun_keyopts opts;
    memset(&opts, 0, sizeof(opts));
    char why[256] = "";
    enum tun_ak_result r = TUN_AK_NOT_FOUND;
    if (err)
        tun_error("reading authorized keys for %s: %s", c->u.name,
                  err == ETIMEDOUT ? "timed out" : strerror(err));
    for (int i = 0; i < n && r == TUN_AK_NOT_FOUND; i++) {
        if (!files[i].ok) {
            if (files[i].missing)
                tun_debug("%s", files[i].why);
            else
                tun_error("%s", files[i].why);
            continue;
        }
        r = tun_authkeys_find((const char *)files[i].data, files[i].len, w->key, c->ip,
                              (int64_t)time(NULL), &opts, why, sizeof(why));
    }
    uint32_t id = o->id;
    int query = w->kind == TUN_AUTH_PUBKEY_QUERY;
    if (r == TUN_AK_DENIED)
        tun_info("Authentication refused for %s from %s port %d: %s", c->u.name, c->ip, c->port,
                 why[0] ? why : "key options forbid it");
    if (r == TUN_AK_FOUND && c->u.uid == 0 && c->opts.permit_root_login == PRL_FORCED_ONLY &&
        opts.command == NULL) {
        tun_info("ROOT LOGIN REFUSED FROM %s port %d: key has no forced command", c->ip, c->port);
        r = TUN_AK_DENIED;
    }
    if (r != TUN_AK_FOUND) {
        if (!query)
            tun_info("Failed publickey for %s from %s port %d ssh2: %s", c->u.name, c->ip, c->port,
                     w->keydesc);
        tun_keyopts_free(&opts);
        privd_op_done(o);
        failed(d, id, c);
        return;
    }
    if (query) {
        tun_debug("Public key %s is acceptable for %s", w->keydesc, c->u.name);
        tun_keyopts_free(&opts);
        privd_op_done(o);
        c->busy = 0;
        answer(d, id, c, 1, NULL);
        return;
    }
    tun_info("Accepted publickey for %s from %s port %d ssh2: %s", c->u.name, c->ip, c->port,
             w->keydesc);
    if (c->have_kopts)
        tun_keyopts_free(&c->kopts);
    c->kopts = opts;
    c->have_kopts = 1;
    privd_op_done(o);
    succeeded(d, id, c);
}

static void pubkey(tun_privd *d, uint32_t id, pconn *c, enum tun_auth_kind kind, const char *alg,
                   const uint8_t *blob, size_t bl, const uint8_t *sig, size_t sl,
                   const uint8_t *data, size_t dl)
{
    ssh_key *key = NULL;
    if (!c->opts.pubkey_authentication || ssh_key_from_blob(blob, bl, &key) != 0) {
        failed(d, id, c);
        return;
    }
    char fp[128] = "";
    ssh_key_fingerprint(key, fp, sizeof(fp));
    if (kind == TUN_AUTH_PUBKEY) {
        const uint8_t *sid = NULL;
        size_t sidlen = 0;
        if (verify_signed(c->user, alg, key, blob, bl, sig, sl, data, dl, &sid, &sidlen) != 0) {
            tun_info("Failed publickey for %s from %s port %d ssh2: %s %s (bad signature)",
                     c->u.name, c->ip, c->port, ssh_key_type_name(key), fp);
            ssh_key_free(key);
            failed(d, id, c);
            return;
        }
        if (session_id_refused(c, sid, sidlen)) {
            tun_info("Failed publickey for %s from %s port %d ssh2: signature for another session",
                     c->u.name, c->ip, c->port);
            ssh_key_free(key);
            failed(d, id, c);
            return;
        }
    }
    char *paths[TUN_PTASK_MAX_FILES];
    char pathbuf[TUN_PTASK_MAX_FILES][1024];
    int n = 0;
    for (int i = 0; i < c->opts.n_authorized_keys_file && n < TUN_PTASK_MAX_FILES; i++) {
        const char *f = c->opts.authorized_keys_file[i];
        if (strcmp(f, "none") == 0 || keyfile_path(f, &c->u, pathbuf[n], sizeof(pathbuf[n])) != 0)
            continue;
        paths[n] = pathbuf[n];
        n++;
    }
    pop *o = privd_op_new(c, TUN_PRIV_AUTH, id);
    pkwork *w = calloc(1, sizeof(*w));
    if (o == NULL || w == NULL) {
        free(w);
        if (o)
            privd_op_done(o);
        ssh_key_free(key);
        failed(d, id, c);
        return;
    }
    w->key = key;
    w->kind = kind;
    snprintf(w->keydesc, sizeof(w->keydesc), "%s %s", ssh_key_type_name(key), fp);
    o->data = w;
    o->cleanup = pk_cleanup;
    o->task = tun_ptask_read_files(d->loop, d->root, &c->u, paths, n, c->set->cfg.strict_modes,
                                   KEYFILE_MAX, KEYFILE_TIME, keys_read, o);
    if (o->task == NULL) {
        tun_error("reading authorized keys for %s: %s", c->u.name, strerror(errno));
        privd_op_done(o);
        failed(d, id, c);
    }
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
        failed(d, id, c);
        return;
    }
    if (ok) {
        tun_info("Accepted password for %s from %s port %d ssh2", c->u.name, c->ip, c->port);
        succeeded(d, id, c);
    } else {
        tun_info("Failed password for %s from %s port %d ssh2", c->u.name, c->ip, c->port);
        failed(d, id, c);
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
    failed(d, id, c);
}

static void password(tun_privd *d, uint32_t id, pconn *c, const char *pw)
{
    /* PermitEmptyPasswords is always no. */
    if (!c->opts.password_authentication || pw[0] == '\0') {
        failed(d, id, c);
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
        failed(d, id, c);
        return;
    }
    o->job = tun_pwpool_check(d->pw, c->ip, hash, pw, password_checked, o);
    if (o->job == NULL) {
        privd_op_done(o);
        tun_info("Failed password for %s from %s port %d ssh2", c->u.name, c->ip, c->port);
        failed(d, id, c);
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
        failed(d, id, c);
        return;
    }
    if (c == NULL) {
        tun_error("sshtund helper: authentication for an unknown connection refused");
        failed(d, id, NULL);
        return;
    }
    if (c->authenticated || c->busy) {
        tun_error("sshtund helper: %s: authentication refused (%s)", c->ip,
                  c->authenticated ? "already authenticated" : "another attempt under way");
        answer(d, id, c, 0, NULL);
        return;
    }
    if (!c->have_user) {
        c->have_user = 1;
        if (strlen(user) < sizeof(c->user))
            memcpy(c->user, user, strlen(user) + 1);
        else
            c->user[0] = '\0'; /* no such account can exist */
        lookup_user(c->user, &c->u);
        if (c->u.found && !d->root && c->u.uid != d->self_uid)
            c->u.found = 0; /* not root: only our own user */
        tun_srvcfg_for(&c->set->cfg, c->u.found ? c->u.name : c->user, c->ip, &c->opts);
        c->have_opts = 1;
        if (!c->u.found)
            tun_info("Invalid user %s from %s port %d", user, c->ip, c->port);
    } else if (strcmp(user, c->user) != 0) {
        tun_error("sshtund helper: %s: change of username not allowed", c->ip);
        failed(d, id, c);
        return;
    }
    int max = c->opts.max_auth_tries > 0 ? c->opts.max_auth_tries : 6;
    if (c->failures >= (unsigned)max) {
        tun_info("Too many authentication failures for %s from %s port %d", c->user, c->ip,
                 c->port);
        answer(d, id, c, 0, NULL);
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
        failed(d, id, c);
        return;
    }
    if (access_check(c, (enum tun_auth_kind)kind) != 0) {
        failed(d, id, c);
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
    pubkey(d, id, c, (enum tun_auth_kind)kind, alg, blob, bl, sig, sl, data, dl);
}
