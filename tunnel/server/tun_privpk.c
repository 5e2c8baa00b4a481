/*
 * tun_privpk.c - publickey decisions of sshtund's privileged side: is this
 * key (or certificate) allowed for this user, and with which options?
 *
 * The order is sshd's (auth2-pubkey.c, user_key_allowed):
 *
 *   1. CASignatureAlgorithms: a certificate signed by its CA with an
 *      algorithm not in the list is refused outright;
 *   2. RevokedKeys: the key, and a certificate's CA key, must not be in it
 *      (a KRL or a key list).  A file that cannot be read refuses every
 *      key, as sshd does: revocation fails closed;
 *   3. AuthorizedKeysFile files, read as the user: plain lines for plain
 *      keys, cert-authority lines for certificates (tun_authkeys.h);
 *   4. TrustedUserCAKeys: a certificate whose CA is listed, for a
 *      principal named by AuthorizedPrincipalsFile (read as the user) or
 *      AuthorizedPrincipalsCommand (their options apply), or, when neither
 *      is configured, for the account's name;
 *   5. AuthorizedKeysCommand: its output read as an authorized_keys file.
 *
 * A step that does not let the key in passes to the next one; the first
 * that does decides.  Everything a user controls (their files) is read by
 * a child that has become the user, and the commands run as their
 * CommandUser in a child of their own, each with a deadline and an output
 * limit (tun_privtask.h), so the helper's loop never waits on them.  The
 * certificate itself is parsed here from the client's blob, which checks
 * its CA signature; its validity is checked here against the helper's own
 * clock.  Whatever the network process says about it counts for nothing.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "tun_privd.h"
#include "tun_authcert.h"
#include "tun_log.h"
#include "tun_match.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include <openssl/crypto.h>

#include "sshtun/cert.h"
#include "sshtun/err.h"
#include "sshtun/key.h"
#include "sshtun/krl.h"

#define KEYFILE_MAX   (1024 * 1024)
#define KEYFILE_TIME  10.0
#define ADMINFILE_MAX (16 * 1024 * 1024) /* RevokedKeys: a KRL may be large */
#define COMMAND_MAX   (1024 * 1024)      /* output of the Authorized*Command */
#define COMMAND_TIME  10.0
#define MAX_ARGS      64

/* ---- helpers -----------------------------------------------------------------------------------
 */

/* Expand the tokens of a file name (%h %u %U %%; `uid_ok`: %U allowed)
 * and make it absolute (relative to the home). */
static int expand_path(const char *spec, const tun_user_info *u, int uid_ok, char *out,
                       size_t outsz)
{
    char tmp[1024], uid[16];
    size_t o = 0;
    snprintf(uid, sizeof(uid), "%u", (unsigned)u->uid);
    for (const char *p = spec; *p && o + 1 < sizeof(tmp); p++) {
        if (*p != '%') {
            tmp[o++] = *p;
            continue;
        }
        p++;
        const char *rep = *p == 'h'             ? u->home
                          : *p == 'u'           ? u->name
                          : *p == 'U' && uid_ok ? uid
                          : *p == '%'           ? "%"
                                                : NULL;
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

/* sshd's argv_split: words separated by blanks, '...' and "..." group, a
 * backslash takes the next character literally (outside single quotes).
 * Each word is malloc'd into av; -1 for an unterminated quote or too many
 * words. */
static int argv_split(const char *s, char **av, int max, int *ac)
{
    *ac = 0;
    size_t sl = strlen(s);
    for (size_t i = 0; i < sl;) {
        while (i < sl && (s[i] == ' ' || s[i] == '\t'))
            i++;
        if (i >= sl)
            break;
        if (*ac >= max - 1)
            return -1;
        char *w = malloc(sl + 1);
        if (w == NULL)
            return -1;
        size_t o = 0;
        char q = 0;
        for (; i < sl; i++) {
            char ch = s[i];
            if (q == 0 && (ch == ' ' || ch == '\t'))
                break;
            if (q != '\'' && ch == '\\' && i + 1 < sl) {
                w[o++] = s[++i];
            } else if (q == 0 && (ch == '"' || ch == '\'')) {
                q = ch;
            } else if (q != 0 && ch == q) {
                q = 0;
            } else {
                w[o++] = ch;
            }
        }
        w[o] = '\0';
        av[(*ac)++] = w;
        if (q != 0)
            return -1;
    }
    av[*ac] = NULL;
    return 0;
}

static void argv_free(char **av, int ac)
{
    for (int i = 0; i < ac; i++)
        free(av[i]);
}

/* Tokens of the Authorized*Command arguments: `keys` are the letters,
 * `vals` their values (same order).  A malloc'd string, NULL for an
 * unknown token. */
static char *expand_tokens(const char *s, const char *keys, const char *const *vals)
{
    size_t cap = strlen(s) + 1;
    for (const char *p = s; *p; p++)
        if (*p == '%' && p[1] != '\0') {
            const char *k = strchr(keys, p[1]);
            if (k != NULL)
                cap += strlen(vals[k - keys]);
        }
    char *out = malloc(cap);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    for (const char *p = s; *p; p++) {
        if (*p != '%') {
            out[o++] = *p;
            continue;
        }
        p++;
        if (*p == '%') {
            out[o++] = '%';
            continue;
        }
        const char *k = *p ? strchr(keys, *p) : NULL;
        if (k == NULL) {
            free(out);
            return NULL;
        }
        size_t l = strlen(vals[k - keys]);
        memcpy(out + o, vals[k - keys], l);
        o += l;
    }
    out[o] = '\0';
    return out;
}

/* ---- the work for one attempt ------------------------------------------------------------------
 */

enum pk_step { PK_ADMIN, PK_AKFILES, PK_CA, PK_PCMD, PK_AKCMD, PK_DONE };

typedef struct pkwork {
    ssh_key *key;
    int is_cert;
    enum tun_auth_kind kind;
    char keydesc[512];
    char fp[SSH_KEY_FP_MAX];
    char ca_fp[SSH_KEY_FP_MAX];
    int ca_listed; /* TrustedUserCAKeys lists the certificate's CA */
    int64_t now;
    enum tun_ak_result r;
    tun_keyopts opts; /* FOUND: what the deciding step allows */
    char denied[320]; /* the first reason a matching entry refused */
} pkwork;

static void pk_cleanup(pop *o)
{
    pkwork *w = o->data;
    if (w) {
        ssh_key_free(w->key);
        tun_keyopts_free(&w->opts);
        free(w);
    }
    o->data = NULL;
}

static void pk_next(pop *o, enum pk_step step);

static void note_denied(pkwork *w, const char *why)
{
    if (w->denied[0] == '\0' && why != NULL && why[0] != '\0')
        snprintf(w->denied, sizeof(w->denied), "%s", why);
}

/* The decision: answer the network process. */
static void pk_finish(pop *o)
{
    pconn *c = o->c;
    tun_privd *d = c->d;
    pkwork *w = o->data;
    uint32_t id = o->id;
    int query = w->kind == TUN_AUTH_PUBKEY_QUERY;
    enum tun_ak_result r = w->r;
    if (r != TUN_AK_FOUND && w->denied[0])
        tun_info("Authentication refused for %s from %s port %d: %s", c->u.name, c->ip, c->port,
                 w->denied);
    if (r == TUN_AK_FOUND && c->u.uid == 0 && c->opts.permit_root_login == PRL_FORCED_ONLY &&
        w->opts.command == NULL) {
        tun_info("ROOT LOGIN REFUSED FROM %s port %d: key has no forced command", c->ip, c->port);
        r = TUN_AK_DENIED;
    }
    if (r != TUN_AK_FOUND) {
        if (!query)
            tun_info("Failed publickey for %s from %s port %d ssh2: %s", c->u.name, c->ip, c->port,
                     w->keydesc);
        privd_op_done(o);
        privd_auth_failed(d, id, c);
        return;
    }
    if (query) {
        tun_debug("Public key %s is acceptable for %s", w->keydesc, c->u.name);
        privd_op_done(o);
        c->busy = 0;
        privd_auth_answer(d, id, c, 1, NULL);
        return;
    }
    tun_info("Accepted publickey for %s from %s port %d ssh2: %s", c->u.name, c->ip, c->port,
             w->keydesc);
    if (c->have_kopts)
        tun_keyopts_free(&c->kopts);
    c->kopts = w->opts;
    memset(&w->opts, 0, sizeof(w->opts));
    c->have_kopts = 1;
    privd_op_done(o);
    privd_auth_succeeded(d, id, c);
}

/* A step could not be started: the attempt fails (never "go on": a step
 * skipped for lack of resources must not let a revoked key through). */
static void pk_abort(pop *o, const char *what)
{
    pconn *c = o->c;
    tun_error("%s for %s: %s", what, c->u.name, strerror(errno));
    pkwork *w = o->data;
    w->r = TUN_AK_NOT_FOUND;
    pk_finish(o);
}

/* ---- 2: RevokedKeys, and TrustedUserCAKeys read along ------------------------------------------
 */

static int revoked(pconn *c, pkwork *w, const tun_ptask_file *f)
{
    const char *path = c->opts.revoked_keys;
    if (!f->ok) {
        tun_error("Error checking authentication key %s in revoked keys file %s: %s", w->keydesc,
                  path, f->err ? strerror(f->err) : f->why);
        return 1;
    }
    const ssh_key *check[2] = {w->key, w->is_cert ? ssh_cert_ca(ssh_key_cert(w->key)) : NULL};
    for (int i = 0; i < 2 && check[i]; i++) {
        int rv = ssh_revoked_check(f->data, f->len, check[i]);
        if (rv == 0)
            continue;
        char fp[SSH_KEY_FP_MAX] = "";
        ssh_key_fingerprint(check[i], fp, sizeof(fp));
        if (rv == SSH_ERR_KEY_REVOKED)
            tun_error("Authentication key %s %s revoked by file %s", ssh_key_type_name(check[i]),
                      fp, path);
        else
            tun_error("Error checking authentication key %s %s in revoked keys file %s: %s",
                      ssh_key_type_name(check[i]), fp, path, ssh_strerror(rv));
        return 1;
    }
    return 0;
}

static void admin_read(void *arg, int err, const tun_ptask_file *files, int n)
{
    pop *o = arg;
    pconn *c = o->c;
    pkwork *w = o->data;
    o->task = NULL;
    int i = 0;
    if (err) {
        tun_error("reading %s: %s",
                  c->opts.revoked_keys ? c->opts.revoked_keys : "TrustedUserCAKeys",
                  err == ETIMEDOUT ? "timed out" : strerror(err));
        w->r = TUN_AK_NOT_FOUND;
        pk_finish(o);
        return;
    }
    if (c->opts.revoked_keys != NULL) {
        if (i >= n || revoked(c, w, &files[i])) {
            w->r = TUN_AK_DENIED;
            pk_finish(o);
            return;
        }
        i++;
    }
    if (w->is_cert && c->opts.trusted_user_ca_keys != NULL && i < n) {
        const ssh_key *ca = ssh_cert_ca(ssh_key_cert(w->key));
        if (!files[i].ok)
            tun_error("TrustedUserCAKeys %s: %s", c->opts.trusted_user_ca_keys,
                      files[i].err ? strerror(files[i].err) : files[i].why);
        else
            w->ca_listed = tun_keylist_has((const char *)files[i].data, files[i].len, ca);
        if (!w->ca_listed)
            tun_debug("CA %s %s is not listed in %s", ssh_key_type_name(ca), w->ca_fp,
                      c->opts.trusted_user_ca_keys);
    }
    pk_next(o, PK_AKFILES);
}

static void step_admin(pop *o)
{
    pconn *c = o->c;
    pkwork *w = o->data;
    char *paths[2];
    int n = 0;
    if (c->opts.revoked_keys != NULL)
        paths[n++] = c->opts.revoked_keys;
    if (w->is_cert && c->opts.trusted_user_ca_keys != NULL)
        paths[n++] = c->opts.trusted_user_ca_keys;
    if (n == 0) {
        pk_next(o, PK_AKFILES);
        return;
    }
    /* The administrator's files, read with the helper's own rights (as
     * sshd does) but still by a child, so that a stuck mount cannot stall
     * the helper. */
    o->task = tun_ptask_read_files(c->d->loop, 0, &c->u, paths, n, 0, ADMINFILE_MAX, KEYFILE_TIME,
                                   admin_read, o);
    if (o->task == NULL)
        pk_abort(o, "reading RevokedKeys/TrustedUserCAKeys");
}

/* ---- 3: AuthorizedKeysFile ------------------------------------------------------------------- */

static void akfiles_read(void *arg, int err, const tun_ptask_file *files, int n)
{
    pop *o = arg;
    pconn *c = o->c;
    pkwork *w = o->data;
    o->task = NULL;
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
        r = tun_authkeys_find_user((const char *)files[i].data, files[i].len, w->key, c->u.name,
                                   c->ip, w->now, c->opts.ca_signature_algorithms, &w->opts, why,
                                   sizeof(why));
    }
    if (r == TUN_AK_FOUND) {
        w->r = TUN_AK_FOUND;
        pk_finish(o);
        return;
    }
    if (r == TUN_AK_DENIED)
        note_denied(w, why[0] ? why : "key options forbid it");
    pk_next(o, PK_CA);
}

static void step_akfiles(pop *o)
{
    pconn *c = o->c;
    char *paths[TUN_PTASK_MAX_FILES];
    char pathbuf[TUN_PTASK_MAX_FILES][1024];
    int n = 0;
    for (int i = 0; i < c->opts.n_authorized_keys_file && n < TUN_PTASK_MAX_FILES; i++) {
        const char *f = c->opts.authorized_keys_file[i];
        if (strcmp(f, "none") == 0 || expand_path(f, &c->u, 0, pathbuf[n], sizeof(pathbuf[n])) != 0)
            continue;
        paths[n] = pathbuf[n];
        n++;
    }
    if (n == 0) {
        pk_next(o, PK_CA);
        return;
    }
    o->task =
        tun_ptask_read_files(c->d->loop, c->d->root, &c->u, paths, n, c->set->cfg.strict_modes,
                             KEYFILE_MAX, KEYFILE_TIME, akfiles_read, o);
    if (o->task == NULL)
        pk_abort(o, "reading authorized keys");
}

/* ---- 4: TrustedUserCAKeys
 * ------------------------------------------------------------------------ */

/* The certificate is from a trusted CA and `popts` (NULL: no principals
 * source configured) says which principal line let it in: check it and
 * combine the options, as sshd's user_cert_trusted_ca. */
static void cert_decide(pop *o, tun_keyopts *popts)
{
    pconn *c = o->c;
    pkwork *w = o->data;
    const ssh_cert *cert = ssh_key_cert(w->key);
    const ssh_key *ca = ssh_cert_ca(cert);
    const char *reason = NULL;
    char why[256] = "";
    tun_keyopts co;
    memset(&co, 0, sizeof(co));
    if (ssh_cert_check(w->key, SSH_CERT_TYPE_USER, popts ? NULL : c->u.name, 0, (uint64_t)w->now,
                       TUN_CERT_KNOWN_CRITICAL, c->opts.ca_signature_algorithms, &reason) != 0) {
        snprintf(why, sizeof(why), "%s", reason);
    } else if (tun_cert_keyopts(w->key, c->ip, &co, why, sizeof(why)) != 0) {
        /* why says it */
    } else if (popts != NULL && tun_keyopts_merge(popts, &co, why, sizeof(why)) != 0) {
        /* why says it */
    } else {
        tun_verbose("Accepted certificate ID \"%s\" (serial %llu) signed by %s CA %s via %s",
                    ssh_cert_key_id(cert), (unsigned long long)ssh_cert_serial(cert),
                    ssh_key_type_name(ca), w->ca_fp, c->opts.trusted_user_ca_keys);
        tun_keyopts_free(&w->opts);
        if (popts != NULL) {
            w->opts = *popts;
            memset(popts, 0, sizeof(*popts));
            tun_keyopts_free(&co);
        } else {
            w->opts = co;
        }
        w->r = TUN_AK_FOUND;
        pk_finish(o);
        return;
    }
    tun_keyopts_free(&co);
    if (popts != NULL)
        tun_keyopts_free(popts);
    tun_error("Refusing certificate ID \"%s\" serial=%llu signed by %s CA %s: %s",
              ssh_cert_key_id(cert), (unsigned long long)ssh_cert_serial(cert),
              ssh_key_type_name(ca), w->ca_fp, why);
    note_denied(w, why);
    pk_next(o, PK_AKCMD);
}

/* A principals list (file or command output) was read. */
static void principals_decide(pop *o, const uint8_t *data, size_t len, int more)
{
    pconn *c = o->c;
    pkwork *w = o->data;
    tun_keyopts po;
    char why[256] = "";
    enum tun_ak_result r = tun_principals_find((const char *)data, len, ssh_key_cert(w->key), c->ip,
                                               w->now, &po, why, sizeof(why));
    if (r == TUN_AK_FOUND) {
        cert_decide(o, &po);
        return;
    }
    if (r == TUN_AK_DENIED)
        note_denied(w, why);
    if (more) {
        pk_next(o, PK_PCMD);
        return;
    }
    tun_error("Refusing certificate ID \"%s\" serial=%llu signed by %s CA %s: Certificate does not "
              "contain an authorized principal",
              ssh_cert_key_id(ssh_key_cert(w->key)),
              (unsigned long long)ssh_cert_serial(ssh_key_cert(w->key)),
              ssh_key_type_name(ssh_cert_ca(ssh_key_cert(w->key))), w->ca_fp);
    pk_next(o, PK_AKCMD);
}

static void principals_read(void *arg, int err, const tun_ptask_file *files, int n)
{
    pop *o = arg;
    pconn *c = o->c;
    o->task = NULL;
    int more = c->opts.authorized_principals_command != NULL;
    if (err || n != 1 || !files[0].ok) {
        if (err)
            tun_error("reading AuthorizedPrincipalsFile for %s: %s", c->u.name,
                      err == ETIMEDOUT ? "timed out" : strerror(err));
        else if (n == 1 && files[0].missing)
            tun_debug("%s", files[0].why);
        else if (n == 1)
            tun_error("%s", files[0].why);
        principals_decide(o, (const uint8_t *)"", 0, more);
        return;
    }
    principals_decide(o, files[0].data, files[0].len, more);
}

static void step_ca(pop *o)
{
    pconn *c = o->c;
    pkwork *w = o->data;
    if (!w->is_cert || !w->ca_listed) {
        pk_next(o, PK_AKCMD);
        return;
    }
    if (c->opts.authorized_principals_file != NULL) {
        char path[1024];
        char *paths[1] = {path};
        if (expand_path(c->opts.authorized_principals_file, &c->u, 1, path, sizeof(path)) != 0) {
            tun_error("AuthorizedPrincipalsFile %s: bad token or too long",
                      c->opts.authorized_principals_file);
            principals_decide(o, (const uint8_t *)"", 0,
                              c->opts.authorized_principals_command != NULL);
            return;
        }
        o->task =
            tun_ptask_read_files(c->d->loop, c->d->root, &c->u, paths, 1, c->set->cfg.strict_modes,
                                 KEYFILE_MAX, KEYFILE_TIME, principals_read, o);
        if (o->task == NULL)
            pk_abort(o, "reading AuthorizedPrincipalsFile");
        return;
    }
    if (c->opts.authorized_principals_command != NULL) {
        pk_next(o, PK_PCMD);
        return;
    }
    cert_decide(o, NULL);
}

/* ---- the commands (4 and 5)
 * ------------------------------------------------------------------------ */

typedef void (*cmd_done_fn)(pop *o, const uint8_t *out, size_t len);

static int cmd_ok(const char *what, const char *cmdline, int err, int status, const char *why)
{
    if (err == ETIMEDOUT) {
        tun_error("%s \"%s\" timed out after %.0f s; killed", what, cmdline, COMMAND_TIME);
        return 0;
    }
    if (err == EFBIG) {
        tun_error("%s \"%s\" wrote more than %d bytes; killed, output ignored", what, cmdline,
                  COMMAND_MAX);
        return 0;
    }
    if (err) {
        tun_error("%s %s", what, why && why[0] ? why : strerror(err));
        return 0;
    }
    if (WIFSIGNALED(status)) {
        tun_error("%s %s exited on signal %d", what, cmdline, WTERMSIG(status));
        return 0;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        tun_error("%s %s failed, status %d", what, cmdline,
                  WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return 0;
    }
    return 1;
}

static void pcmd_done(void *arg, int err, int status, const char *why, const uint8_t *out,
                      size_t len)
{
    pop *o = arg;
    pconn *c = o->c;
    o->task = NULL;
    if (!cmd_ok("AuthorizedPrincipalsCommand", c->opts.authorized_principals_command, err, status,
                why))
        principals_decide(o, (const uint8_t *)"", 0, 0);
    else
        principals_decide(o, out, len, 0);
}

static void akcmd_done(void *arg, int err, int status, const char *why, const uint8_t *out,
                       size_t len)
{
    pop *o = arg;
    pconn *c = o->c;
    pkwork *w = o->data;
    o->task = NULL;
    if (!cmd_ok("AuthorizedKeysCommand", c->opts.authorized_keys_command, err, status, why)) {
        pk_next(o, PK_DONE);
        return;
    }
    char rwhy[256] = "";
    enum tun_ak_result r =
        tun_authkeys_find_user((const char *)out, len, w->key, c->u.name, c->ip, w->now,
                               c->opts.ca_signature_algorithms, &w->opts, rwhy, sizeof(rwhy));
    if (r == TUN_AK_FOUND) {
        w->r = TUN_AK_FOUND;
        pk_finish(o);
        return;
    }
    if (r == TUN_AK_DENIED)
        note_denied(w, rwhy[0] ? rwhy : "key options forbid it");
    pk_next(o, PK_DONE);
}

/* Start `command` as `runas_spec` (%u expanded) with the tokens.  0, or
 * -1 after a message (then the step counts as "not found"). */
static int run_command(pop *o, const char *what, const char *command, const char *runas_spec,
                       const char *keys, const char *const *vals, int legacy_user_arg,
                       tun_ptask_cmd_cb cb)
{
    pconn *c = o->c;
    if (runas_spec == NULL) {
        tun_error("No user for %s specified, skipping", what);
        return -1;
    }
    const char *uk = "u";
    const char *uv[1] = {c->u.name};
    char *runas_name = expand_tokens(runas_spec, uk, uv);
    tun_user_info runas;
    memset(&runas, 0, sizeof(runas));
    if (runas_name != NULL)
        privd_lookup_user(runas_name, &runas);
    if (!runas.found) {
        tun_error("%sUser \"%s\" not found", what, runas_name ? runas_name : runas_spec);
        free(runas_name);
        return -1;
    }
    free(runas_name);
    char *av[MAX_ARGS + 2];
    int ac = 0;
    if (argv_split(command, av, MAX_ARGS, &ac) != 0) {
        tun_error("%s \"%s\" contains invalid quotes", what, command);
        argv_free(av, ac);
        return -1;
    }
    if (ac == 0) {
        tun_error("%s \"%s\" yielded no arguments", what, command);
        return -1;
    }
    for (int i = 1; i < ac; i++) {
        char *x = expand_tokens(av[i], keys, vals);
        if (x == NULL) {
            tun_error("%s \"%s\": unknown token in \"%s\"", what, command, av[i]);
            argv_free(av, ac);
            return -1;
        }
        free(av[i]);
        av[i] = x;
    }
    /* No arguments: the user's name, sshd's old calling convention. */
    if (ac == 1 && legacy_user_arg) {
        av[1] = strdup(c->u.name);
        if (av[1] == NULL) {
            argv_free(av, ac);
            return -1;
        }
        ac = 2;
    }
    av[ac] = NULL;
    tun_debug("%s \"%s\" running as %s", what, command, runas.name);
    o->task =
        tun_ptask_command(c->d->loop, c->d->root, &runas, av, COMMAND_MAX, COMMAND_TIME, cb, o);
    int e = errno;
    argv_free(av, ac);
    if (o->task == NULL) {
        tun_error("%s: %s", what, strerror(e));
        return -1;
    }
    return 0;
}

/* The values of the tokens both commands know, and those only
 * AuthorizedPrincipalsCommand knows (the certificate's). */
typedef struct tokvals {
    char conn[200], uid[16], serial[24];
    char *keytext, *catext;
} tokvals;

static void tokvals_fill(tokvals *t, const pconn *c, const pkwork *w)
{
    snprintf(t->conn, sizeof(t->conn), "%s %d %s %d", c->lip, c->lport, c->ip, c->port);
    snprintf(t->uid, sizeof(t->uid), "%u", (unsigned)c->u.uid);
    t->keytext = t->catext = NULL;
    t->serial[0] = '\0';
    char *line = NULL;
    if (ssh_key_to_public_line(w->key, NULL, &line) == 0) {
        char *sp = strchr(line, ' ');
        t->keytext = strdup(sp ? sp + 1 : line);
        free(line);
    }
    if (w->is_cert) {
        const ssh_cert *cert = ssh_key_cert(w->key);
        snprintf(t->serial, sizeof(t->serial), "%llu", (unsigned long long)ssh_cert_serial(cert));
        line = NULL;
        if (ssh_key_to_public_line(ssh_cert_ca(cert), NULL, &line) == 0) {
            char *sp = strchr(line, ' ');
            t->catext = strdup(sp ? sp + 1 : line);
            free(line);
        }
    }
}

static void tokvals_free(tokvals *t)
{
    free(t->keytext);
    free(t->catext);
}

static void step_pcmd(pop *o)
{
    pconn *c = o->c;
    pkwork *w = o->data;
    if (c->opts.authorized_principals_command == NULL) {
        principals_decide(o, (const uint8_t *)"", 0, 0);
        return;
    }
    const ssh_cert *cert = ssh_key_cert(w->key);
    tokvals t;
    tokvals_fill(&t, c, w);
    const char *vals[] = {t.conn,
                          "",
                          t.uid,
                          c->u.name,
                          c->u.home,
                          ssh_key_type_name(w->key),
                          ssh_key_type_name(ssh_cert_ca(cert)),
                          w->fp,
                          w->ca_fp,
                          t.keytext ? t.keytext : "",
                          t.catext ? t.catext : "",
                          ssh_cert_key_id(cert),
                          t.serial};
    int rv = run_command(o, "AuthorizedPrincipalsCommand", c->opts.authorized_principals_command,
                         c->opts.authorized_principals_command_user, "CDUuhtTfFkKis", vals, 0,
                         pcmd_done);
    tokvals_free(&t);
    if (rv != 0)
        principals_decide(o, (const uint8_t *)"", 0, 0);
}

static void step_akcmd(pop *o)
{
    pconn *c = o->c;
    pkwork *w = o->data;
    if (c->opts.authorized_keys_command == NULL) {
        pk_next(o, PK_DONE);
        return;
    }
    tokvals t;
    tokvals_fill(&t, c, w);
    const char *vals[] = {t.conn,    "",
                          t.uid,     c->u.name,
                          c->u.home, ssh_key_type_name(w->key),
                          w->fp,     t.keytext ? t.keytext : ""};
    int rv = run_command(o, "AuthorizedKeysCommand", c->opts.authorized_keys_command,
                         c->opts.authorized_keys_command_user, "CDUuhtfk", vals, 1, akcmd_done);
    tokvals_free(&t);
    if (rv != 0)
        pk_next(o, PK_DONE);
}

static void pk_next(pop *o, enum pk_step step)
{
    pkwork *w = o->data;
    switch (step) {
    case PK_ADMIN:
        step_admin(o);
        return;
    case PK_AKFILES:
        step_akfiles(o);
        return;
    case PK_CA:
        step_ca(o);
        return;
    case PK_PCMD:
        step_pcmd(o);
        return;
    case PK_AKCMD:
        step_akcmd(o);
        return;
    case PK_DONE:
        break;
    }
    w->r = w->denied[0] ? TUN_AK_DENIED : TUN_AK_NOT_FOUND;
    pk_finish(o);
}

/* ---- the request
 * ---------------------------------------------------------------------------------- */

void privd_pubkey(tun_privd *d, uint32_t id, pconn *c, enum tun_auth_kind kind, const char *alg,
                  const uint8_t *blob, size_t bl, const uint8_t *sig, size_t sl,
                  const uint8_t *data, size_t dl)
{
    ssh_key *key = NULL;
    /* Parsing a certificate checks its CA's signature over it. */
    if (!c->opts.pubkey_authentication || ssh_key_from_blob(blob, bl, &key) != 0) {
        privd_auth_failed(d, id, c);
        return;
    }
    char fp[SSH_KEY_FP_MAX] = "";
    ssh_key_fingerprint(key, fp, sizeof(fp));
    /* sshd's userauth_pubkey: the algorithm named in the request (for a
     * signed attempt the one inside the signed data, which verify_signed
     * holds to it) must be in PubkeyAcceptedAlgorithms. */
    if (alg == NULL || c->opts.pubkey_accepted_algorithms == NULL ||
        tun_match_pattern_list(alg, c->opts.pubkey_accepted_algorithms) != 1) {
        tun_info("userauth_pubkey: signature algorithm %s not in PubkeyAcceptedAlgorithms",
                 alg ? alg : "(none)");
        ssh_key_free(key);
        privd_auth_failed(d, id, c);
        return;
    }
    if (kind == TUN_AUTH_PUBKEY) {
        const uint8_t *sid = NULL;
        size_t sidlen = 0;
        if (verify_signed(c->user, alg, key, blob, bl, sig, sl, data, dl, &sid, &sidlen) != 0) {
            tun_info("Failed publickey for %s from %s port %d ssh2: %s %s (bad signature)",
                     c->u.name, c->ip, c->port, ssh_key_type_name(key), fp);
            ssh_key_free(key);
            privd_auth_failed(d, id, c);
            return;
        }
        if (session_id_refused(c, sid, sidlen)) {
            tun_info("Failed publickey for %s from %s port %d ssh2: signature for another session",
                     c->u.name, c->ip, c->port);
            ssh_key_free(key);
            privd_auth_failed(d, id, c);
            return;
        }
    }
    const ssh_cert *cert = ssh_key_cert(key);
    if (cert != NULL &&
        tun_match_pattern_list(ssh_cert_sig_alg(cert), c->opts.ca_signature_algorithms) != 1) {
        tun_info("Certificate signature algorithm %s not in CASignatureAlgorithms",
                 ssh_cert_sig_alg(cert));
        ssh_key_free(key);
        privd_auth_failed(d, id, c);
        return;
    }
    pop *o = privd_op_new(c, TUN_PRIV_AUTH, id);
    pkwork *w = calloc(1, sizeof(*w));
    if (o == NULL || w == NULL) {
        free(w);
        if (o)
            privd_op_done(o);
        ssh_key_free(key);
        privd_auth_failed(d, id, c);
        return;
    }
    w->key = key;
    w->is_cert = cert != NULL;
    w->kind = kind;
    w->now = (int64_t)time(NULL);
    snprintf(w->fp, sizeof(w->fp), "%s", fp);
    if (cert != NULL) {
        const ssh_key *ca = ssh_cert_ca(cert);
        ssh_key_fingerprint(ca, w->ca_fp, sizeof(w->ca_fp));
        /* sshd's words: "ED25519-CERT SHA256:... ID x (serial n) CA ED25519 SHA256:..." */
        snprintf(w->keydesc, sizeof(w->keydesc), "%s %s ID %s (serial %llu) CA %s %s",
                 ssh_key_type_name(key), fp, ssh_cert_key_id(cert),
                 (unsigned long long)ssh_cert_serial(cert), ssh_key_type_name(ca), w->ca_fp);
    } else {
        snprintf(w->keydesc, sizeof(w->keydesc), "%s %s", ssh_key_type_name(key), fp);
    }
    o->data = w;
    o->cleanup = pk_cleanup;
    pk_next(o, PK_ADMIN);
}
