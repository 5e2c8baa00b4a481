/*
 * tun_hostupdate.c - UpdateHostKeys (see tun_hostupdate.h), following
 * OpenSSH's clientloop.c: client_input_hostkeys, hostkeys_find,
 * client_global_hostkeys_prove_confirm, update_known_hosts.
 */
#include "tun_hostupdate.h"
#include "tun_knownhosts.h"
#include "tun_log.h"
#include "tun_prompt.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sshtun/buf.h"
#include "sshtun/cert.h"
#include "sshtun/err.h"

#define PROVE        "hostkeys-prove-00@openssh.com"
#define MAX_HOSTKEYS 64

static void clear_keys(tun_hostupdate *u)
{
    for (size_t i = 0; i < u->nkeys; i++)
        ssh_key_free(u->keys[i]);
    for (size_t i = 0; i < u->nold; i++)
        ssh_key_free(u->old[i]);
    free(u->keys);
    free(u->match);
    free(u->old);
    u->keys = u->old = NULL;
    u->match = NULL;
    u->nkeys = u->nnew = u->nold = 0;
}

void tun_hostupdate_free(tun_hostupdate *u)
{
    clear_keys(u);
    u->reply.fn = NULL;
}

static void on_prove_reply(tun_reqcb *r, int ok, const uint8_t *data, size_t len);

void tun_hostupdate_init(tun_hostupdate *u, const tun_options *o, ssh_conn *c,
                         const tun_hk_verdict *v)
{
    memset(u, 0, sizeof(*u));
    u->reply.fn = on_prove_reply;
    u->o = o;
    u->c = c;
    u->verdict = *v;
}

/* ssh's can_update_hostkeys() and the host key check's verdict. */
static int can_update(const tun_hostupdate *u)
{
    const tun_options *o = u->o;
    if (o->update_host_keys == UHK_NO || tun_hostkey_user_file(o) == NULL)
        return 0;
    /* ask: not where nobody would see or answer (ssh's rules). */
    if (o->update_host_keys == UHK_ASK && (o->batch_mode || o->log_level < TUN_LOG_INFO ||
                                           o->remote_command != NULL || o->control_persist != 0))
        return 0;
    return u->verdict.update_ok;
}

/* ---- what known_hosts says ------------------------------------------------------------------ */

struct find {
    tun_hostupdate *u;
    int complex;    /* lines ssh would not rewrite */
    int other_name; /* a key of the server's under another name/address */
    int error;
};

/* Wildcards, or more than "host,address" (ssh's hostspec_is_complex). */
static int complex_hosts(const char *hosts)
{
    if (strpbrk(hosts, "*?!") != NULL)
        return 1;
    const char *c = strchr(hosts, ',');
    return c != NULL && strchr(c + 1, ',') != NULL;
}

static int add_old(tun_hostupdate *u, const ssh_key *k)
{
    for (size_t i = 0; i < u->nold; i++)
        if (ssh_key_equal_public(u->old[i], k))
            return 0;
    ssh_key **no = realloc(u->old, (u->nold + 1) * sizeof(*no));
    if (no == NULL)
        return -1;
    u->old = no;
    if (ssh_key_public(k, &u->old[u->nold]) != 0)
        return -1;
    u->nold++;
    return 0;
}

static int find_line(void *arg, const tun_kh_line *l)
{
    struct find *x = arg;
    tun_hostupdate *u = x->u;
    int ip = u->verdict.ip_name[0] != '\0';
    if (!l->match_host && !(ip && l->match_ip)) {
        for (size_t i = 0; i < u->nkeys; i++)
            if (ssh_key_equal_public(l->key, u->keys[i])) {
                tun_debug3("found %s key under a different name/address at %s:%u",
                           ssh_key_type_name(l->key), l->origin, l->lineno);
                x->other_name = 1;
            }
        return 0;
    }
    if (l->marker != TUN_KH_PLAIN) {
        tun_debug3("hostkeys file %s:%u has a CA/revocation marker", l->origin, l->lineno);
        x->complex = 1;
        return 0;
    }
    if (ip && strchr(l->hosts, ',') != NULL && (!l->match_host || !l->match_ip)) {
        tun_debug3("%s:%u names the host with another address or the address with another "
                   "name",
                   l->origin, l->lineno);
        x->other_name = 1;
        if (!l->match_host)
            return 0;
    }
    if (complex_hosts(l->hosts)) {
        tun_debug3("hostkeys file %s:%u has a complex host specification", l->origin, l->lineno);
        x->complex = 1;
        return 0;
    }
    for (size_t i = 0; i < u->nkeys; i++) {
        if (ssh_key_equal_public(l->key, u->keys[i])) {
            u->match[i] |= (l->match_host ? 1u : 0u) | (l->match_ip ? 2u : 0u);
            return 0;
        }
    }
    tun_debug3("deprecated %s key at %s:%u", ssh_key_type_name(l->key), l->origin, l->lineno);
    if (add_old(u, l->key) != 0)
        x->error = 1;
    return 0;
}

/* A deprecated key listed under another name: removing it for this host
 * would leave the other entry inconsistent (ssh refuses too). */
struct old_ctx {
    tun_hostupdate *u;
    int seen;
};

static int old_line(void *arg, const tun_kh_line *l)
{
    struct old_ctx *x = arg;
    if (l->match_host || l->match_ip)
        return 0;
    for (size_t i = 0; i < x->u->nold; i++)
        if (ssh_key_equal_public(l->key, x->u->old[i]))
            x->seen = 1;
    return 0;
}

/* ---- the change ----------------------------------------------------------------------------- */

static void log_change(const tun_hostupdate *u, int asking, const int *verified)
{
    enum tun_log_level lv = asking ? TUN_LOG_INFO : TUN_LOG_VERBOSE;
    int first = 1;
    char fp[SSH_KEY_FP_MAX];
    for (size_t i = 0; i < u->nkeys; i++) {
        if (!verified[i])
            continue;
        if (first && asking) {
            tun_log(lv, "The server has updated its host keys.");
            tun_log(lv, "These changes were verified by the server's existing trusted key.");
        }
        first = 0;
        ssh_key_fingerprint(u->keys[i], fp, sizeof(fp));
        tun_log(lv, "Learned new hostkey: %s %s", ssh_key_type_name(u->keys[i]), fp);
    }
    for (size_t i = 0; i < u->nold; i++) {
        if (first && asking) {
            tun_log(lv, "The server has updated its host keys.");
            tun_log(lv, "These changes were verified by the server's existing trusted key.");
        }
        first = 0;
        ssh_key_fingerprint(u->old[i], fp, sizeof(fp));
        tun_log(lv, "Deprecating obsolete hostkey: %s %s", ssh_key_type_name(u->old[i]), fp);
    }
}

/* Write the change: every user file loses the host's deprecated keys; the
 * file where the verified key was found gets the new ones. */
static void update_files(tun_hostupdate *u, const int *verified)
{
    const tun_options *o = u->o;
    int asking = o->update_host_keys == UHK_ASK;
    log_change(u, asking, verified);
    if (asking) {
        char ans[16];
        int yes = 0;
        for (int tries = 0; tries < 3; tries++) {
            if (!tun_prompt_possible() ||
                tun_prompt("Accept updated hostkeys? (yes/no): ", 1, ans, sizeof(ans)) != 0)
                break;
            if (strcasecmp(ans, "yes") == 0) {
                yes = 1;
                break;
            }
            if (strcasecmp(ans, "no") == 0)
                break;
            tun_info("Please enter \"yes\" or \"no\"");
        }
        if (!yes)
            return;
    }
    ssh_key **keep = calloc(u->nkeys ? u->nkeys : 1, sizeof(*keep));
    if (keep == NULL)
        return;
    size_t nkeep = 0;
    for (size_t i = 0; i < u->nkeys; i++)
        if (u->match[i] != 0 || verified[i])
            keep[nkeep++] = u->keys[i];
    int target = u->verdict.user_file >= 0 ? u->verdict.user_file : 0;
    const char *ip = u->verdict.ip_name[0] ? u->verdict.ip_name : NULL;
    for (int i = 0; i < o->n_user_known_hosts; i++) {
        size_t removed = 0, added = 0;
        if (strcasecmp(o->user_known_hosts[i], "none") == 0)
            continue;
        int rv = tun_knownhosts_replace(o->user_known_hosts[i], u->verdict.host_name, ip,
                                        i == target ? keep : NULL, i == target ? nkeep : 0,
                                        o->hash_known_hosts, &removed, &added);
        if (rv != 0)
            tun_debug("known hosts file %s not updated: %s", o->user_known_hosts[i],
                      strerror(errno));
        else if (removed || added)
            tun_verbose("Updated %s: %zu host key%s added, %zu removed", o->user_known_hosts[i],
                        added, added == 1 ? "" : "s", removed);
    }
    free(keep);
}

static void on_prove_reply(tun_reqcb *r, int ok, const uint8_t *data, size_t len)
{
    tun_hostupdate *u = (tun_hostupdate *)r;
    u->waiting = 0;
    if (!ok) {
        tun_error("Server failed to confirm ownership of private host keys");
        clear_keys(u);
        return;
    }
    size_t sidlen = 0;
    const uint8_t *sid = ssh_conn_session_id(u->c, &sidlen);
    const char *kexalg = ssh_conn_alg(u->c, SSH_ALG_HOSTKEY);
    const char *rsa_alg =
        kexalg && ssh_key_type_from_name(kexalg) == SSH_KEY_RSA ? ssh_key_alg_plain(kexalg) : NULL;
    int *verified = calloc(u->nkeys ? u->nkeys : 1, sizeof(int));
    ssh_cur c;
    ssh_buf sd, blob;
    ssh_cur_init(&c, data, len);
    ssh_buf_init(&sd, 0, 0);
    ssh_buf_init(&blob, 0, 0);
    int bad = verified == NULL;
    for (size_t i = 0; i < u->nkeys && !bad; i++) {
        if (u->match[i])
            continue;
        const uint8_t *sig;
        size_t sl;
        char alg[64];
        ssh_buf_reset(&sd);
        ssh_buf_reset(&blob);
        /* string "hostkeys-prove-00@openssh.com", string session id,
         * string key (PROTOCOL 2.5). */
        if (ssh_cur_get_string(&c, &sig, &sl) != 0 || ssh_sig_alg(sig, sl, alg, sizeof(alg)) != 0 ||
            ssh_buf_put_cstring(&sd, PROVE) != 0 || ssh_buf_put_string(&sd, sid, sidlen) != 0 ||
            ssh_key_to_blob(u->keys[i], &blob) != 0 || ssh_buf_put_stringb(&sd, &blob) != 0) {
            tun_error("server gave an unintelligible host key proof");
            bad = 1;
            break;
        }
        /* RSA: the negotiated RSA algorithm if the host key was RSA, else
         * SHA-2 only (ssh's HOSTKEY_PROOF_RSA_ALGS). */
        const char *want = NULL;
        if (ssh_key_type(u->keys[i]) == SSH_KEY_RSA) {
            want = rsa_alg;
            if (want == NULL && strcmp(alg, "rsa-sha2-512") != 0 &&
                strcmp(alg, "rsa-sha2-256") != 0) {
                tun_debug("server used untrusted RSA signature algorithm %s; disregarding", alg);
                continue;
            }
        }
        if (ssh_key_verify(u->keys[i], want, 0, sig, sl, ssh_buf_ptr(&sd), ssh_buf_len(&sd)) != 0) {
            tun_error("server gave bad signature for %s key %zu", ssh_key_type_name(u->keys[i]), i);
            bad = 1;
            break;
        }
        verified[i] = 1;
    }
    if (!bad && ssh_cur_end(&c) != 0) {
        tun_error("hostkeys-prove-00: protocol error");
        bad = 1;
    }
    if (!bad)
        update_files(u, verified);
    free(verified);
    ssh_buf_free(&sd);
    ssh_buf_free(&blob);
    clear_keys(u);
}

int tun_hostupdate_input(tun_hostupdate *u, const uint8_t *data, size_t len)
{
    const tun_options *o = u->o;
    if (u->done) {
        tun_debug("server sent hostkeys-00 twice; ignored");
        return SSH_REQUEST_SUCCESS;
    }
    u->done = 1;
    if (!can_update(u)) {
        tun_debug2("UpdateHostKeys: not updating (off, or the host key was not trusted through a "
                   "user known_hosts file)");
        return SSH_REQUEST_SUCCESS;
    }
    ssh_cur c;
    ssh_cur_init(&c, data, len);
    while (c.len > 0) {
        const uint8_t *blob;
        size_t bl;
        ssh_key *k = NULL;
        if (ssh_cur_get_string(&c, &blob, &bl) != 0) {
            tun_error("hostkeys-00: malformed key list");
            goto out;
        }
        int rv = ssh_key_from_blob(blob, bl, &k);
        if (rv != 0) {
            tun_debug("hostkeys-00: key skipped: %s", ssh_strerror(rv));
            continue;
        }
        char fp[SSH_KEY_FP_MAX];
        ssh_key_fingerprint(k, fp, sizeof(fp));
        tun_debug3("received %s key %s", ssh_key_type_name(k), fp);
        /* Certificates and keys HostKeyAlgorithms would not accept are not
         * learnt. */
        int allowed = 0;
        char algs[256], *save = NULL;
        snprintf(algs, sizeof(algs), "%s", ssh_key_sig_algs(k, SSH_KEY_ALLOW_SHA1));
        for (char *a = strtok_r(algs, ",", &save); a && !allowed; a = strtok_r(NULL, ",", &save))
            allowed = ssh_namelist_has(o->hostkey_algorithms, a);
        if (ssh_key_is_cert(k) || !allowed) {
            tun_debug3("%s key not learnt (%s)", ssh_key_type_name(k),
                       ssh_key_is_cert(k) ? "a certificate" : "not in HostKeyAlgorithms");
            ssh_key_free(k);
            continue;
        }
        for (size_t i = 0; i < u->nkeys; i++) {
            if (ssh_key_equal_public(k, u->keys[i])) {
                tun_error("received duplicated %s host key", ssh_key_type_name(k));
                ssh_key_free(k);
                goto out;
            }
        }
        if (u->nkeys >= MAX_HOSTKEYS) {
            ssh_key_free(k);
            tun_error("hostkeys-00: too many keys");
            goto out;
        }
        ssh_key **nk = realloc(u->keys, (u->nkeys + 1) * sizeof(*nk));
        unsigned *nm = realloc(u->match, (u->nkeys + 1) * sizeof(*nm));
        if (nk)
            u->keys = nk;
        if (nm)
            u->match = nm;
        if (nk == NULL || nm == NULL) {
            ssh_key_free(k);
            goto out;
        }
        u->keys[u->nkeys] = k;
        u->match[u->nkeys] = 0;
        u->nkeys++;
    }
    if (u->nkeys == 0) {
        tun_debug("server sent no usable hostkeys");
        goto out;
    }

    /* Which are known, which recorded ones are gone. */
    struct find x = {u, 0, 0, 0};
    const char *ip = u->verdict.ip_name[0] ? u->verdict.ip_name : NULL;
    for (int i = 0; i < o->n_user_known_hosts; i++)
        if (strcasecmp(o->user_known_hosts[i], "none") != 0)
            tun_knownhosts_foreach(o->user_known_hosts[i], u->verdict.host_name, ip, find_line, &x);
    if (x.error)
        goto out;
    unsigned want = ip ? 3u : 1u;
    size_t incomplete = 0;
    for (size_t i = 0; i < u->nkeys; i++) {
        if (u->match[i] == 0)
            u->nnew++;
        if ((u->match[i] & want) != want)
            incomplete++;
    }
    tun_debug3("%zu server keys: %zu new, %zu retained, %zu incomplete match, %zu to remove",
               u->nkeys, u->nnew, u->nkeys - u->nnew - incomplete, incomplete, u->nold);
    if (u->nnew == 0 && u->nold == 0) {
        tun_debug("UpdateHostKeys: no new or deprecated keys from server");
        goto out;
    }
    if (x.complex) {
        tun_debug("CA/revocation marker, manual host list or wildcard host pattern found, "
                  "skipping UserKnownHostsFile update");
        goto out;
    }
    if (x.other_name) {
        tun_debug("host key found matching a different name/address, skipping "
                  "UserKnownHostsFile update");
        goto out;
    }
    if (u->nold > 0) {
        struct old_ctx ox = {u, 0};
        for (int i = 0; i < o->n_user_known_hosts; i++)
            tun_knownhosts_foreach(o->user_known_hosts[i], u->verdict.host_name, ip, old_line, &ox);
        if (ox.seen) {
            tun_debug("key(s) for %s exist under other names; skipping UserKnownHostsFile update",
                      u->verdict.host_name);
            goto out;
        }
    }
    if (u->nnew == 0) {
        int *none = calloc(u->nkeys, sizeof(int));
        if (none != NULL)
            update_files(u, none);
        free(none);
        goto out;
    }
    /* New keys: ask the server to prove it holds them. */
    ssh_buf req, blob;
    ssh_buf_init(&req, 0, 0);
    ssh_buf_init(&blob, 0, 0);
    int rv = 0;
    for (size_t i = 0; i < u->nkeys && rv == 0; i++) {
        if (u->match[i])
            continue;
        ssh_buf_reset(&blob);
        if ((rv = ssh_key_to_blob(u->keys[i], &blob)) == 0)
            rv = ssh_buf_put_stringb(&req, &blob);
    }
    if (rv == 0)
        rv = ssh_global_request(u->c, PROVE, 1, ssh_buf_ptr(&req), ssh_buf_len(&req), &u->reply);
    ssh_buf_free(&req);
    ssh_buf_free(&blob);
    if (rv == 0) {
        tun_debug3("asking server to prove ownership for %zu keys", u->nnew);
        u->waiting = 1;
        return SSH_REQUEST_SUCCESS;
    }
out:
    clear_keys(u);
    return SSH_REQUEST_SUCCESS;
}
