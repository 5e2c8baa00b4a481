/*
 * tun_idstore.c - identity files and agent keys (see tun_idstore.h).
 *
 * Order, as OpenSSH offers them: agent keys first (only those named by
 * IdentityFile when IdentitiesOnly is set), then the identity files the
 * agent does not hold.
 */
#include "tun_idstore.h"
#include "tun_log.h"
#include "tun_prompt.h"
#include "tun_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#define KEYFILE_MAX (1024 * 1024)

static void load_files(tun_idstore *s)
{
    const tun_options *o = s->o;
    for (int i = 0; i < o->n_identity_files && s->n < TUN_MAX_LIST; i++) {
        char *path = tun_expand_home(o->identity_files[i]);
        uint8_t *data;
        size_t len;
        if (path == NULL)
            continue;
        if (tun_read_file(path, KEYFILE_MAX, &data, &len) != 0) {
            tun_debug("no identity file %s", path);
            free(path);
            continue;
        }
        tun_identity *id = &s->ids[s->n];
        memset(id, 0, sizeof(*id));
        int rv = ssh_key_parse_private(data, len, NULL, &id->priv, NULL);
        if (rv == 0) {
            rv = ssh_key_public(id->priv, &id->pub);
        } else if (rv == SSH_ERR_KEY_ENCRYPTED) {
            id->encrypted = 1;
            rv = ssh_key_parse_private_public(data, len, &id->pub);
        }
        tun_free_secret(data, len);
        if (rv != 0) {
            tun_error("Load key \"%s\": %s", path, ssh_strerror(rv));
            ssh_key_free(id->priv);
            memset(id, 0, sizeof(*id));
            free(path);
            continue;
        }
        id->path = path;
        tun_debug("identity file %s type %s%s", path, ssh_key_type_name(id->pub),
                  id->encrypted ? " (encrypted)" : "");
        s->n++;
    }
}

static void release_waiters(tun_idstore *s)
{
    tun_id_waiter *w = s->waiters;
    s->waiters = NULL;
    while (w) {
        tun_id_waiter *next = w->next;
        w->fn(w->arg);
        w = next;
    }
}

static void on_agent_list(void *arg, ssh_key *const *keys, char *const *comments, size_t n,
                          int err)
{
    tun_idstore *s = arg;
    s->agent_pending = 0;
    if (err != 0) {
        tun_debug("agent: cannot list identities: %s", ssh_strerror(err));
    } else {
        tun_identity merged[2 * TUN_MAX_LIST];
        int m = 0;
        int used[2 * TUN_MAX_LIST] = {0};
        for (size_t i = 0; i < n && m < 2 * TUN_MAX_LIST; i++) {
            int file = -1;
            for (int j = 0; j < s->n; j++)
                if (!used[j] && ssh_key_equal_public(s->ids[j].pub, keys[i]))
                    file = j;
            if (file >= 0) {
                merged[m] = s->ids[file];
                merged[m].agent = 1;
                used[file] = 1;
                m++;
            } else if (!s->o->identities_only) {
                tun_identity *id = &merged[m];
                memset(id, 0, sizeof(*id));
                if (ssh_key_public(keys[i], &id->pub) != 0)
                    continue;
                id->path = strdup(comments[i] && *comments[i] ? comments[i] : "(agent key)");
                id->agent = 1;
                m++;
            }
        }
        for (int j = 0; j < s->n && m < 2 * TUN_MAX_LIST; j++)
            if (!used[j])
                merged[m++] = s->ids[j];
        memcpy(s->ids, merged, sizeof(merged[0]) * (size_t)m);
        s->n = m;
        tun_debug("agent: %zu identities", n);
    }
    release_waiters(s);
}

void tun_idstore_init(tun_idstore *s, struct ev_loop *loop, const tun_options *o)
{
    memset(s, 0, sizeof(*s));
    s->loop = loop;
    s->o = o;
    load_files(s);
    const char *ia = o->identity_agent;
    if (ia && strcmp(ia, "none") == 0)
        return;
    s->agent = tun_agent_connect(loop, ia && strcmp(ia, "SSH_AUTH_SOCK") != 0 ? ia : NULL);
    if (s->agent && tun_agent_list(s->agent, on_agent_list, s) == 0)
        s->agent_pending = 1;
}

void tun_idstore_free(tun_idstore *s)
{
    tun_agent_free(s->agent);
    for (int i = 0; i < s->n; i++) {
        free(s->ids[i].path);
        ssh_key_free(s->ids[i].pub);
        ssh_key_free(s->ids[i].priv);
    }
    memset(s, 0, sizeof(*s));
}

void tun_idstore_when_ready(tun_idstore *s, tun_id_waiter *w, void (*fn)(void *), void *arg)
{
    if (!s->agent_pending) {
        fn(arg);
        return;
    }
    w->fn = fn;
    w->arg = arg;
    w->next = s->waiters;
    s->waiters = w;
}

void tun_idstore_cancel(tun_idstore *s, tun_id_waiter *w)
{
    for (tun_id_waiter **pp = &s->waiters; *pp; pp = &(*pp)->next) {
        if (*pp == w) {
            *pp = w->next;
            return;
        }
    }
}

int tun_idstore_decrypt(tun_idstore *s, int idx)
{
    tun_identity *id = &s->ids[idx];
    if (id->priv)
        return 0;
    if (!id->encrypted)
        return -1;
    uint8_t *data;
    size_t len;
    if (tun_read_file(id->path, KEYFILE_MAX, &data, &len) != 0)
        return -1;
    int rv = -1;
    for (int tries = 0; tries < 3 && rv != 0 && !s->o->batch_mode; tries++) {
        char prompt[1200], pass[1024];
        snprintf(prompt, sizeof(prompt), "Enter passphrase for key '%s': ", id->path);
        if (tun_prompt(prompt, 0, pass, sizeof(pass)) != 0)
            break;
        if (pass[0] == '\0') {
            OPENSSL_cleanse(pass, sizeof(pass));
            break;
        }
        int r = ssh_key_parse_private(data, len, pass, &id->priv, NULL);
        OPENSSL_cleanse(pass, sizeof(pass));
        if (r == 0)
            rv = 0;
        else if (r != SSH_ERR_KEY_PASSPHRASE)
            break;
        else
            tun_error("Bad passphrase, try again for %s", id->path);
    }
    tun_free_secret(data, len);
    return rv;
}

int tun_idstore_sign(tun_idstore *s, int idx, const char *alg, const uint8_t *data, size_t len,
                     ssh_buf *sig, tun_id_signed_cb done, void *arg)
{
    tun_identity *id = &s->ids[idx];
    if (id->priv != NULL)
        return ssh_key_sign(id->priv, alg, 0, data, len, sig);
    if (id->agent && s->agent) {
        int rv = tun_agent_sign(s->agent, id->pub, alg, data, len, done, arg);
        return rv == 0 ? SSH_DEFERRED : rv;
    }
    return SSH_ERR_STATE;
}
