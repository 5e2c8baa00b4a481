/*
 * tun_idstore.c - identity files and agent keys (see tun_idstore.h).
 *
 * Order, as OpenSSH offers them: the identity files (-i, IdentityFile)
 * that the agent holds, in the agent's order; then the agent's other keys
 * (none with IdentitiesOnly); then the identity files the agent does not
 * hold.  With many keys in the agent, the ones asked for come first, before
 * the server's MaxAuthTries runs out.
 *
 * Certificates (ssh's load_public_identity_files and pubkey_prepare): the
 * CertificateFile certificates come first, each key file is followed by
 * its "<file>-cert.pub" when that is a user certificate of the same key,
 * and certificates the agent lists are identities like its keys.  A
 * certificate signs with the private half of the key it certifies.
 */
#include "tun_idstore.h"
#include "tun_log.h"
#include "tun_prompt.h"
#include "tun_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "sshtun/cert.h"

#define KEYFILE_MAX (1024 * 1024)

/* The public half of an identity that is not (readable as) a private key
 * file: the file itself holds a public key ("-i key.pub", the private key
 * being in the agent), or key.pub next to it does (a private key file
 * that is missing, or that is not ours to read).  As ssh, such an identity
 * can only be used through the agent. */
static int load_public_only(const char *path, ssh_key **pub)
{
    for (int pass = 0; pass < 2; pass++) {
        char name[4200];
        snprintf(name, sizeof(name), "%s%s", path, pass ? ".pub" : "");
        uint8_t *data;
        size_t len;
        if (tun_read_file(name, KEYFILE_MAX, &data, &len) != 0)
            continue;
        /* The first line that parses. */
        int rv = -1;
        for (size_t off = 0; off < len && rv != 0;) {
            const uint8_t *nl = memchr(data + off, '\n', len - off);
            size_t l = nl ? (size_t)(nl - data - off) : len - off;
            char *comment = NULL;
            rv = ssh_key_parse_public_line((const char *)data + off, l, pub, &comment);
            free(comment);
            off += l + 1;
        }
        free(data);
        if (rv == 0)
            return 0;
    }
    return -1;
}

/* A user certificate from `file`; 0 and *out, or -1 (debug says why). */
static int load_cert(const char *file, ssh_key **out)
{
    ssh_key *k = NULL;
    if (load_public_only(file, &k) != 0)
        return -1;
    if (!ssh_key_is_cert(k) || ssh_cert_type(ssh_key_cert(k)) != SSH_CERT_TYPE_USER) {
        tun_debug("%s: key %s is not a user certificate", file, ssh_key_type_name(k));
        ssh_key_free(k);
        return -1;
    }
    *out = k;
    return 0;
}

/* The same public half, certificate or not. */
static int same_key(const ssh_key *a, const ssh_key *b)
{
    ssh_key *pa = NULL, *pb = NULL;
    int eq =
        ssh_key_plain(a, &pa) == 0 && ssh_key_plain(b, &pb) == 0 && ssh_key_equal_public(pa, pb);
    ssh_key_free(pa);
    ssh_key_free(pb);
    return eq;
}

static void add_cert(tun_idstore *s, const char *path, ssh_key *cert)
{
    if (s->n >= 2 * TUN_MAX_LIST) {
        ssh_key_free(cert);
        return;
    }
    tun_identity *id = &s->ids[s->n];
    memset(id, 0, sizeof(*id));
    if ((id->path = strdup(path)) == NULL) {
        ssh_key_free(cert);
        return;
    }
    id->pub = cert;
    id->cert = 1;
    const ssh_cert *c = ssh_key_cert(cert);
    tun_debug("certificate %s type %s serial %llu ID \"%s\"", path, ssh_key_type_name(cert),
              (unsigned long long)ssh_cert_serial(c), ssh_cert_key_id(c));
    s->n++;
}

static void load_files(tun_idstore *s)
{
    const tun_options *o = s->o;
    for (int i = 0; i < o->n_certificate_files && s->n < TUN_MAX_LIST; i++) {
        char *path = tun_expand_home(o->certificate_files[i]);
        ssh_key *cert = NULL;
        if (path != NULL && load_cert(path, &cert) == 0)
            add_cert(s, path, cert);
        else if (path != NULL)
            tun_debug("no certificate %s", path);
        free(path);
    }
    for (int i = 0; i < o->n_identity_files && s->n < TUN_MAX_LIST; i++) {
        char *path = tun_expand_home(o->identity_files[i]);
        uint8_t *data;
        size_t len;
        if (path == NULL)
            continue;
        tun_identity *id = &s->ids[s->n];
        memset(id, 0, sizeof(*id));
        if (tun_read_file(path, KEYFILE_MAX, &data, &len) != 0) {
            if (load_public_only(path, &id->pub) == 0) {
                id->path = path;
                tun_debug("identity file %s type %s (public key only)", path,
                          ssh_key_type_name(id->pub));
                s->n++;
            } else {
                tun_debug("no identity file %s", path);
                free(path);
            }
            continue;
        }
        int rv = ssh_key_parse_private(data, len, NULL, &id->priv, NULL);
        if (rv == 0) {
            rv = ssh_key_public(id->priv, &id->pub);
        } else if (rv == SSH_ERR_KEY_ENCRYPTED) {
            id->encrypted = 1;
            rv = ssh_key_parse_private_public(data, len, &id->pub);
        } else if (load_public_only(path, &id->pub) == 0) {
            rv = 0; /* a public key: usable through the agent */
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
                  id->encrypted ? " (encrypted)"
                  : id->priv    ? ""
                                : " (public key only)");
        s->n++;
        /* "<file>-cert.pub": its certificate, offered right after it. */
        char cpath[4200];
        ssh_key *cert = NULL;
        snprintf(cpath, sizeof(cpath), "%s-cert.pub", path);
        if (load_cert(cpath, &cert) == 0) {
            if (same_key(cert, s->ids[s->n - 1].pub)) {
                add_cert(s, path, cert);
            } else {
                tun_debug("%s does not certify %s; ignored", cpath, path);
                ssh_key_free(cert);
            }
        }
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
        /* OpenSSH's order (sshconnect2.c, pubkey_prepare): the identity
         * files the agent holds, in the agent's order and signed by it;
         * then the agent's other keys (unless IdentitiesOnly); then the
         * identity files it does not hold. */
        tun_identity merged[2 * TUN_MAX_LIST], others[2 * TUN_MAX_LIST];
        int m = 0, n_others = 0;
        int used[2 * TUN_MAX_LIST] = {0};
        for (size_t i = 0; i < n; i++) {
            int file = -1;
            for (int j = 0; j < s->n && file < 0; j++)
                if (!used[j] && ssh_key_equal_public(s->ids[j].pub, keys[i]))
                    file = j;
            if (file >= 0) {
                merged[m] = s->ids[file];
                merged[m].agent = 1;
                used[file] = 1;
                m++;
            } else if (!s->o->identities_only && n_others < 2 * TUN_MAX_LIST - s->n) {
                tun_identity *id = &others[n_others];
                memset(id, 0, sizeof(*id));
                if (ssh_key_public(keys[i], &id->pub) != 0)
                    continue;
                id->path = strdup(comments[i] && *comments[i] ? comments[i] : "(agent key)");
                id->agent = 1;
                id->cert = ssh_key_is_cert(keys[i]);
                n_others++;
            }
        }
        for (int j = 0; j < n_others; j++)
            merged[m++] = others[j];
        for (int j = 0; j < s->n; j++)
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

/* The identity that signs for certificate identity idx: a key identity
 * whose public half the certificate certifies. */
static int signer(const tun_idstore *s, int idx)
{
    const tun_identity *c = &s->ids[idx];
    for (int j = 0; j < s->n; j++)
        if (j != idx && !s->ids[j].cert && same_key(s->ids[j].pub, c->pub))
            return j;
    return -1;
}

int tun_idstore_has_private(const tun_idstore *s, int idx)
{
    const tun_identity *id = &s->ids[idx];
    if (id->cert && id->priv == NULL && !id->agent) {
        int j = signer(s, idx);
        if (j < 0)
            return 0;
        id = &s->ids[j];
    }
    return id->priv != NULL && !id->agent;
}

int tun_idstore_decrypt(tun_idstore *s, int idx)
{
    tun_identity *id = &s->ids[idx];
    if (id->priv || id->agent)
        return 0;
    if (id->cert) {
        int j = signer(s, idx);
        if (j < 0) {
            tun_debug("no private key for certificate %s", id->path);
            return -1;
        }
        return tun_idstore_decrypt(s, j);
    }
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
    /* A certificate without its own private half or agent entry signs
     * with its key's: the certificate algorithm's signature is the plain
     * key's (PROTOCOL.certkeys), so the key file or the agent's plain key
     * makes it. */
    if (id->cert && id->priv == NULL && !id->agent) {
        int j = signer(s, idx);
        if (j < 0)
            return SSH_ERR_STATE;
        id = &s->ids[j];
    }
    /* `alg` is one of PubkeyAcceptedAlgorithms (the engine picks from that
     * list only), so ssh-rsa (SHA-1) here was asked for, as ssh signs it. */
    if (id->priv != NULL)
        return ssh_key_sign(id->priv, alg, SSH_KEY_ALLOW_SHA1, data, len, sig);
    if (id->agent && s->agent) {
        int rv = tun_agent_sign(s->agent, id->pub, alg, data, len, done, arg);
        return rv == 0 ? SSH_DEFERRED : rv;
    }
    return SSH_ERR_STATE;
}
