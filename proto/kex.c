/*
 * kex.c - algorithm negotiation and key exchange (RFC 4253 sections 7-9).
 *
 * One struct ssh_kex lives for the duration of an exchange.  The flow for
 * the ECDH-style methods (curve25519, NIST curves and fixed DH groups, which
 * share message numbers 30/31):
 *
 *     client                                  server
 *     KEXINIT  ------------------------------>
 *              <------------------------------ KEXINIT
 *     KEX_INIT(Q_C) ------------------------->
 *              <------------------------------ KEX_REPLY(K_S, Q_S, sig(H))
 *              <------------------------------ NEWKEYS
 *     NEWKEYS  ------------------------------>
 *
 * and for group exchange (RFC 4419) REQUEST(min,n,max) / GROUP(p,g) come
 * first, then INIT(e) / REPLY(K_S, f, sig) as messages 32/33.
 *
 * Strict KEX (OpenSSH's Terrapin countermeasure, draft-miller-sshm-strict-
 * kex): both sides add a pseudo-algorithm to their first KEXINIT; when both
 * did, (1) the peer's KEXINIT must be its very first packet, (2) nothing but
 * the expected key exchange messages may arrive during the first exchange,
 * and (3) sequence numbers restart at zero after every NEWKEYS.
 */
#include "kex.h"

#include "sshtun/cert.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/obj_mac.h>

#define EXT_INFO_C    "ext-info-c"
#define EXT_INFO_S    "ext-info-s"
#define STRICT_KEX_C  "kex-strict-c-v00@openssh.com"
#define STRICT_KEX_S  "kex-strict-s-v00@openssh.com"

static const ssh_kexm methods[] = {
    {"mlkem768x25519-sha256", KEXF_HYBRID, "SHA256", SSH_KEM_MLKEM768},
    {"sntrup761x25519-sha512", KEXF_HYBRID, "SHA512", SSH_KEM_SNTRUP761},
    {"sntrup761x25519-sha512@openssh.com", KEXF_HYBRID, "SHA512", SSH_KEM_SNTRUP761},
    {"curve25519-sha256", KEXF_X25519, "SHA256", 0},
    {"curve25519-sha256@libssh.org", KEXF_X25519, "SHA256", 0},
    {"ecdh-sha2-nistp256", KEXF_ECDH, "SHA256", NID_X9_62_prime256v1},
    {"ecdh-sha2-nistp384", KEXF_ECDH, "SHA384", NID_secp384r1},
    {"ecdh-sha2-nistp521", KEXF_ECDH, "SHA512", NID_secp521r1},
    {"diffie-hellman-group-exchange-sha256", KEXF_GEX, "SHA256", 0},
    {"diffie-hellman-group16-sha512", KEXF_DH, "SHA512", 4096},
    {"diffie-hellman-group18-sha512", KEXF_DH, "SHA512", 8192},
    {"diffie-hellman-group14-sha256", KEXF_DH, "SHA256", 2048},
};

const ssh_kexm *ssh_kexm_by_name(const char *name)
{
    for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (strcmp(methods[i].name, name) == 0)
            return &methods[i];
    return NULL;
}

int ssh_kex_is_pq(const char *name)
{
    const ssh_kexm *m = name ? ssh_kexm_by_name(name) : NULL;
    return m != NULL && m->family == KEXF_HYBRID;
}

const char *ssh_kexm_all(void)
{
    return SSH_DEFAULT_KEX;
}

void ssh_kex_free(ssh_kex *k)
{
    if (k == NULL)
        return;
    ssh_kexm_free(k);
    ssh_buf_free(&k->my_init);
    ssh_buf_free(&k->peer_init);
    ssh_buf_free(&k->my_pub);
    ssh_buf_free(&k->peer_pub);
    ssh_buf_free(&k->K);
    ssh_buf_free(&k->gex_p);
    ssh_buf_free(&k->gex_g);
    ssh_cipher_free(k->nk_tx.cipher);
    ssh_cipher_free(k->nk_rx.cipher);
    ssh_mac_free(k->nk_tx.mac);
    ssh_mac_free(k->nk_rx.mac);
    ssh_key_free(k->peer_hostkey);
    ssh_buf_free(&k->hk_blob);
    OPENSSL_cleanse(k->H, sizeof(k->H));
    free(k);
}

static ssh_kex *kex_new(void)
{
    ssh_kex *k = calloc(1, sizeof(*k));
    if (k == NULL)
        return NULL;
    ssh_buf_init(&k->my_init, 64 * 1024, 0);
    ssh_buf_init(&k->peer_init, 64 * 1024, 0);
    ssh_buf_init(&k->my_pub, 4096, 0);
    ssh_buf_init(&k->peer_pub, 4096, 0);
    ssh_buf_init(&k->K, 4096, SSH_BUF_SECRET);
    ssh_buf_init(&k->gex_p, 4096, 0);
    ssh_buf_init(&k->gex_g, 4096, 0);
    return k;
}

/* ---- method math dispatch ------------------------------------------------------ */

int ssh_kexm_keygen(ssh_conn *c, ssh_kex *k)
{
    if (k->m->family == KEXF_HYBRID)
        return ssh_kex_hybrid_keygen(c, k);
    if (k->m->family == KEXF_X25519 || k->m->family == KEXF_ECDH)
        return ssh_kex_ecdh_keygen(c, k);
    return ssh_kex_dh_keygen(c, k);
}

int ssh_kexm_derive(ssh_conn *c, ssh_kex *k, ssh_cur *p)
{
    if (k->m->family == KEXF_HYBRID)
        return ssh_kex_hybrid_derive(c, k, p);
    if (k->m->family == KEXF_X25519 || k->m->family == KEXF_ECDH)
        return ssh_kex_ecdh_derive(c, k, p);
    return ssh_kex_dh_derive(c, k, p);
}

void ssh_kexm_free(ssh_kex *k)
{
    if (k->m == NULL || k->priv == NULL)
        return;
    if (k->m->family == KEXF_HYBRID)
        ssh_kex_hybrid_free(k);
    else if (k->m->family == KEXF_X25519 || k->m->family == KEXF_ECDH)
        ssh_kex_ecdh_free(k);
    else
        ssh_kex_dh_free(k);
    k->priv = NULL;
}

/* ---- KEXINIT ------------------------------------------------------------------ */

/* Server: the host key algorithms we can actually sign with. */
static int server_hostkey_algs(ssh_conn *c, ssh_buf *out)
{
    const char *p = c->cfg.hostkey_algs;
    int first = 1;
    while (p && *p) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        char name[SSH_NAME_MAX];
        if (l < sizeof(name)) {
            memcpy(name, p, l);
            name[l] = '\0';
            for (size_t i = 0; i < c->cfg.n_host_keys; i++) {
                if (ssh_key_alg_ok(c->cfg.host_keys[i], name)) {
                    if ((!first && ssh_buf_put_u8(out, ',') != 0) || ssh_buf_put(out, name, l) != 0)
                        return SSH_ERR_NO_SPACE;
                    first = 0;
                    break;
                }
            }
        }
        if (!e)
            break;
        p = e + 1;
    }
    return 0;
}

static int send_kexinit(ssh_conn *c, ssh_kex *k)
{
    ssh_buf kexlist, hk;
    int rv;
    ssh_buf_init(&kexlist, 4096, 0);
    ssh_buf_init(&hk, 4096, 0);
    rv = ssh_buf_put(&kexlist, c->cfg.kex_algs, strlen(c->cfg.kex_algs));
    /* Pseudo-algorithms only in the first KEXINIT. */
    if (rv == 0 && !c->kex_done_once) {
        const char *extra = c->server ? "," EXT_INFO_S "," STRICT_KEX_S
                                      : "," EXT_INFO_C "," STRICT_KEX_C;
        rv = ssh_buf_put(&kexlist, extra, strlen(extra));
    }
    if (rv == 0)
        rv = ssh_buf_put_u8(&kexlist, 0);
    if (rv == 0) {
        if (c->server)
            rv = server_hostkey_algs(c, &hk);
        else
            rv = ssh_buf_put(&hk, c->cfg.hostkey_algs, strlen(c->cfg.hostkey_algs));
    }
    if (rv == 0)
        rv = ssh_buf_put_u8(&hk, 0);
    if (rv != 0)
        goto out;

    uint8_t cookie[16];
    ssh_conn_random(c, cookie, sizeof(cookie));
    ssh_buf *b = &k->my_init;
    ssh_buf_reset(b);
    if ((rv = ssh_buf_put_u8(b, SSH_MSG_KEXINIT)) != 0 ||
        (rv = ssh_buf_put(b, cookie, sizeof(cookie))) != 0 ||
        (rv = ssh_buf_put_cstring(b, (const char *)ssh_buf_ptr(&kexlist))) != 0 ||
        (rv = ssh_buf_put_cstring(b, (const char *)ssh_buf_ptr(&hk))) != 0 ||
        (rv = ssh_buf_put_cstring(b, c->cfg.ciphers)) != 0 ||
        (rv = ssh_buf_put_cstring(b, c->cfg.ciphers)) != 0 ||
        (rv = ssh_buf_put_cstring(b, c->cfg.macs)) != 0 ||
        (rv = ssh_buf_put_cstring(b, c->cfg.macs)) != 0 ||
        (rv = ssh_buf_put_cstring(b, c->cfg.compression)) != 0 ||
        (rv = ssh_buf_put_cstring(b, c->cfg.compression)) != 0 ||
        (rv = ssh_buf_put_cstring(b, "")) != 0 || (rv = ssh_buf_put_cstring(b, "")) != 0 ||
        (rv = ssh_buf_put_bool(b, 0)) != 0 || (rv = ssh_buf_put_u32(b, 0)) != 0)
        goto out;

    ssh_buf *pk = ssh_pkt_begin(c, SSH_MSG_KEXINIT);
    /* The stored payload starts with the type byte, already written. */
    if ((rv = ssh_buf_put(pk, ssh_buf_ptr(b) + 1, ssh_buf_len(b) - 1)) != 0) {
        ssh_pkt_cancel(c);
        goto out;
    }
    /* Mark before ending the packet so later packets queue up. */
    k->flags |= KEX_SENT_INIT;
    rv = ssh_pkt_end(c);
out:
    ssh_buf_free(&kexlist);
    ssh_buf_free(&hk);
    return rv;
}

int ssh_kex_start(ssh_conn *c)
{
    if (c->kex != NULL && ssh_kex_sent_init(c->kex))
        return 0;
    if (c->phase == PHASE_CLOSED)
        return SSH_ERR_STATE;
    if (c->kex == NULL) {
        c->kex = kex_new();
        if (c->kex == NULL)
            return SSH_ERR_ALLOC;
    }
    ssh_conn_logf(c, 2, "SSH2_MSG_KEXINIT sent");
    return send_kexinit(c, c->kex);
}

/* Pick the first entry of the client's list that the server also has. */
static int choose(const char *client, const char *server, char *out, size_t outsz)
{
    return ssh_namelist_match(client, server, out, outsz);
}

/* The first name of a list, copied into out. */
static const char *first_of(const char *list, char *out, size_t outsz)
{
    size_t l = strcspn(list, ",");
    if (l >= outsz)
        l = outsz - 1;
    memcpy(out, list, l);
    out[l] = '\0';
    return out;
}

static int first_name_is(const char *list, const char *name)
{
    size_t l = strlen(name);
    return strncmp(list, name, l) == 0 && (list[l] == ',' || list[l] == '\0');
}

static void set_alg(ssh_conn *c, enum ssh_alg_slot s, const char *name)
{
    free(c->alg[s]);
    c->alg[s] = strdup(name);
}

static const char *comp_name(int type)
{
    return type == SSH_COMP_ZLIB ? "zlib" : type == SSH_COMP_DELAYED ? "zlib@openssh.com" : "none";
}

/* Parse the peer's KEXINIT and negotiate (section 7.1). */
static int negotiate(ssh_conn *c, ssh_kex *k, uint32_t seq)
{
    ssh_cur p;
    char *lists[10] = {0};
    int follows;
    uint32_t reserved;
    int rv;
    char name[SSH_NAME_MAX];

    ssh_cur_from_buf(&p, &k->peer_init);
    if ((rv = ssh_cur_skip(&p, 1 + 16)) != 0)
        return rv;
    for (int i = 0; i < 10; i++)
        if ((rv = ssh_cur_get_strdup(&p, SSH_NAMELIST_MAX, &lists[i])) != 0)
            goto out;
    if ((rv = ssh_cur_get_bool(&p, &follows)) != 0 || (rv = ssh_cur_get_u32(&p, &reserved)) != 0 ||
        (rv = ssh_cur_end(&p)) != 0)
        goto out;

    /* Our lists as sent: parse them back from my_init so that the server's
     * filtered host key list is used. */
    char *mine[10] = {0};
    ssh_cur_from_buf(&p, &k->my_init);
    ssh_cur_skip(&p, 1 + 16);
    for (int i = 0; i < 10; i++) {
        if ((rv = ssh_cur_get_strdup(&p, SSH_NAMELIST_MAX, &mine[i])) != 0) {
            for (int j = 0; j < i; j++)
                free(mine[j]);
            goto out;
        }
    }
    char **cl = c->server ? lists : mine;
    char **sl = c->server ? mine : lists;

    if (!c->kex_done_once) {
        c->kex_strict = ssh_namelist_has(c->server ? cl[0] : sl[0],
                                         c->server ? STRICT_KEX_C : STRICT_KEX_S);
        c->peer_ext_info = ssh_namelist_has(c->server ? cl[0] : sl[0],
                                            c->server ? EXT_INFO_C : EXT_INFO_S);
        if (c->kex_strict && seq != 0) {
            rv = SSH_ERR_STRICT_KEX;
            ssh_conn_logf(c, 1, "strict KEX violation: KEXINIT was not the first packet");
            goto out2;
        }
    }

    rv = SSH_ERR_NO_KEX_ALG;
    if (choose(cl[0], sl[0], name, sizeof(name)) != 0 || (k->m = ssh_kexm_by_name(name)) == NULL)
        goto out2;
    rv = SSH_ERR_NO_HOSTKEY_ALG;
    if (choose(cl[1], sl[1], k->hostkey_alg, sizeof(k->hostkey_alg)) != 0 ||
        ssh_key_type_from_name(k->hostkey_alg) == SSH_KEY_UNKNOWN)
        goto out2;
    for (int d = 0; d < 2; d++) {
        rv = SSH_ERR_NO_CIPHER_ALG;
        if (choose(cl[2 + d], sl[2 + d], name, sizeof(name)) != 0 ||
            (k->ci[d] = ssh_cipher_by_name(name)) == NULL)
            goto out2;
        /* AES-GCM and chacha20-poly1305 authenticate by themselves; the MAC
         * lists are then ignored (OpenSSH PROTOCOL 1.6). */
        if (k->ci[d]->flags & SSH_CIPHER_AEAD) {
            k->mi[d] = NULL;
        } else {
            rv = SSH_ERR_NO_MAC_ALG;
            if (choose(cl[4 + d], sl[4 + d], name, sizeof(name)) != 0 ||
                (k->mi[d] = ssh_mac_by_name(name)) == NULL)
                goto out2;
        }
        rv = SSH_ERR_NO_COMPRESS_ALG;
        if (choose(cl[6 + d], sl[6 + d], name, sizeof(name)) != 0 ||
            (k->comp[d] = ssh_comp_type_by_name(name)) < 0)
            goto out2;
    }
    /* A wrong guess: the peer's optimistic first kex packet is discarded
     * (section 7).  The guess is right only when both sides prefer the same
     * kex method and the same host key algorithm -- the first entries of
     * both lists are equal, as OpenSSH and Dropbear judge it -- not merely
     * when the peer's first choice is what negotiation picked: a client
     * preferring curve25519-sha256 guesses wrong against a server that
     * lists mlkem768x25519-sha256 first, and sends its INIT again. */
    if (follows && (!first_name_is(lists[0], first_of(mine[0], name, sizeof(name))) ||
                    !first_name_is(lists[1], first_of(mine[1], name, sizeof(name)))))
        k->ignore_guess = 1;

    k->need = 0;
    for (int d = 0; d < 2; d++) {
        size_t n = k->ci[d]->key_len;
        if (k->ci[d]->iv_len > n)
            n = k->ci[d]->iv_len;
        if (k->mi[d] && k->mi[d]->key_len > n)
            n = k->mi[d]->key_len;
        if (n > k->need)
            k->need = n;
    }
    set_alg(c, SSH_ALG_KEX, k->m->name);
    set_alg(c, SSH_ALG_HOSTKEY, k->hostkey_alg);
    set_alg(c, SSH_ALG_CIPHER_CTOS, k->ci[0]->name);
    set_alg(c, SSH_ALG_CIPHER_STOC, k->ci[1]->name);
    set_alg(c, SSH_ALG_MAC_CTOS, k->mi[0] ? k->mi[0]->name : "<implicit>");
    set_alg(c, SSH_ALG_MAC_STOC, k->mi[1] ? k->mi[1]->name : "<implicit>");
    set_alg(c, SSH_ALG_COMP_CTOS, comp_name(k->comp[0]));
    set_alg(c, SSH_ALG_COMP_STOC, comp_name(k->comp[1]));
    ssh_conn_logf(c, 1, "kex: algorithm: %s", k->m->name);
    ssh_conn_logf(c, 1, "kex: host key algorithm: %s", k->hostkey_alg);
    ssh_conn_logf(c, 1, "kex: server->client cipher: %s MAC: %s compression: %s",
                  k->ci[1]->name, k->mi[1] ? k->mi[1]->name : "<implicit>", comp_name(k->comp[1]));
    ssh_conn_logf(c, 1, "kex: client->server cipher: %s MAC: %s compression: %s",
                  k->ci[0]->name, k->mi[0] ? k->mi[0]->name : "<implicit>", comp_name(k->comp[0]));
    if (c->kex_strict && !c->kex_done_once)
        ssh_conn_logf(c, 2, "kex: strict KEX enabled");
    rv = 0;
out2:
    for (int i = 0; i < 10; i++)
        free(mine[i]);
out:
    for (int i = 0; i < 10; i++)
        free(lists[i]);
    return rv;
}

/* ---- exchange hash and keys -------------------------------------------------------- */

static int exchange_hash(ssh_conn *c, ssh_kex *k, const uint8_t *ks, size_t kslen)
{
    ssh_buf h;
    int rv;
    const char *vc = c->server ? c->v_peer : c->v_ours;
    const char *vs = c->server ? c->v_ours : c->v_peer;
    const ssh_buf *ic = c->server ? &k->peer_init : &k->my_init;
    const ssh_buf *is = c->server ? &k->my_init : &k->peer_init;
    const ssh_buf *qc = c->server ? &k->peer_pub : &k->my_pub;
    const ssh_buf *qs = c->server ? &k->my_pub : &k->peer_pub;

    ssh_buf_init(&h, 256 * 1024, SSH_BUF_SECRET);
    if ((rv = ssh_buf_put_cstring(&h, vc)) != 0 || (rv = ssh_buf_put_cstring(&h, vs)) != 0 ||
        (rv = ssh_buf_put_stringb(&h, ic)) != 0 || (rv = ssh_buf_put_stringb(&h, is)) != 0 ||
        (rv = ssh_buf_put_string(&h, ks, kslen)) != 0)
        goto out;
    if (k->m->family == KEXF_GEX) {
        if ((rv = ssh_buf_put_u32(&h, k->gex_min)) != 0 ||
            (rv = ssh_buf_put_u32(&h, k->gex_n)) != 0 ||
            (rv = ssh_buf_put_u32(&h, k->gex_max)) != 0 ||
            (rv = ssh_buf_put(&h, ssh_buf_ptr(&k->gex_p), ssh_buf_len(&k->gex_p))) != 0 ||
            (rv = ssh_buf_put(&h, ssh_buf_ptr(&k->gex_g), ssh_buf_len(&k->gex_g))) != 0)
            goto out;
    }
    /* Public values and K are stored in their wire encodings already. */
    if ((rv = ssh_buf_put(&h, ssh_buf_ptr(qc), ssh_buf_len(qc))) != 0 ||
        (rv = ssh_buf_put(&h, ssh_buf_ptr(qs), ssh_buf_len(qs))) != 0 ||
        (rv = ssh_buf_put(&h, ssh_buf_ptr(&k->K), ssh_buf_len(&k->K))) != 0)
        goto out;
    unsigned int hl = 0;
    rv = SSH_ERR_LIBCRYPTO;
    EVP_MD *md = EVP_MD_fetch(NULL, k->m->digest, NULL);
    if (md != NULL && EVP_Digest(ssh_buf_ptr(&h), ssh_buf_len(&h), k->H, &hl, md, NULL) == 1) {
        k->hlen = hl;
        rv = 0;
    }
    EVP_MD_free(md);
out:
    ssh_buf_free(&h);
    return rv;
}

/* RFC 4253 section 7.2 through libcrypto's SSHKDF. */
static int derive(ssh_conn *c, ssh_kex *k, char letter, uint8_t *out, size_t len)
{
    int rv = SSH_ERR_LIBCRYPTO;
    char type[2] = {letter, '\0'};
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "SSHKDF", NULL);
    EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    if (kctx != NULL) {
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)k->m->digest, 0),
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
                                              (void *)ssh_buf_ptr(&k->K), ssh_buf_len(&k->K)),
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SSHKDF_XCGHASH, k->H, k->hlen),
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SSHKDF_SESSION_ID, c->session_id,
                                              c->session_id_len),
            OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_SSHKDF_TYPE, type, 0),
            OSSL_PARAM_construct_end(),
        };
        if (EVP_KDF_derive(kctx, out, len, params) == 1)
            rv = 0;
    }
    EVP_KDF_CTX_free(kctx);
    EVP_KDF_free(kdf);
    return rv;
}

/* Derive all six values and create the cipher/MAC contexts for NEWKEYS. */
static int make_keys(ssh_conn *c, ssh_kex *k)
{
    uint8_t iv[2][64], key[2][64], mk[2][64];
    int rv = 0;
    if (c->session_id_len == 0) {
        memcpy(c->session_id, k->H, k->hlen);
        c->session_id_len = k->hlen;
    }
    for (int d = 0; d < 2 && rv == 0; d++) {
        /* 'A'/'B' IVs, 'C'/'D' keys, 'E'/'F' MAC keys; d=0 client to server. */
        if (k->ci[d]->iv_len)
            rv = derive(c, k, (char)('A' + d), iv[d], k->ci[d]->iv_len);
        if (rv == 0)
            rv = derive(c, k, (char)('C' + d), key[d], k->ci[d]->key_len);
        if (rv == 0 && k->mi[d])
            rv = derive(c, k, (char)('E' + d), mk[d], k->mi[d]->key_len);
        if (rv != 0)
            break;
        /* Our sending direction: d=0 for the client, d=1 for the server. */
        int tx = (d == 0) != (c->server != 0);
        ssh_newkeys *nk = tx ? &k->nk_tx : &k->nk_rx;
        nk->ci = k->ci[d];
        nk->mi = k->mi[d];
        nk->comp = k->comp[d];
        rv = ssh_cipher_new(k->ci[d], tx, key[d], iv[d], &nk->cipher);
        if (rv == 0 && k->mi[d])
            rv = ssh_mac_new(k->mi[d], mk[d], &nk->mac);
    }
    OPENSSL_cleanse(iv, sizeof(iv));
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(mk, sizeof(mk));
    ssh_buf_reset(&k->K);
    if (rv == 0)
        k->flags |= KEX_KEYS_READY;
    return rv;
}

/* ---- NEWKEYS ------------------------------------------------------------------------ */

static int finish_if_done(ssh_conn *c)
{
    ssh_kex *k = c->kex;
    if ((k->flags & (KEX_SENT_NEWKEYS | KEX_GOT_NEWKEYS)) != (KEX_SENT_NEWKEYS | KEX_GOT_NEWKEYS))
        return 0;
    ssh_kex_free(k);
    c->kex = NULL;
    ssh_conn_kex_finished(c);
    return 0;
}

/* RFC 8308 section 2.4: server-sig-algs tells the client which signature
 * algorithms publickey authentication accepts.  Signature algorithms, not
 * key types: a certificate algorithm we accept contributes the plain
 * algorithm its signatures use (rsa-sha2-512-cert-v01@openssh.com:
 * rsa-sha2-512), each name once. */
static int send_ext_info(ssh_conn *c)
{
    char algs[SSH_NAMELIST_MAX];
    size_t n = 0;
    algs[0] = '\0';
    for (const char *p = c->cfg.pubkey_algs; p && *p;) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        char name[SSH_NAME_MAX];
        if (l < sizeof(name)) {
            memcpy(name, p, l);
            name[l] = '\0';
            const char *plain = ssh_key_alg_plain(name);
            size_t pl = plain ? strlen(plain) : 0;
            if (plain != NULL && !ssh_namelist_has(algs, plain) && n + pl + 2 <= sizeof(algs)) {
                if (n > 0)
                    algs[n++] = ',';
                memcpy(algs + n, plain, pl + 1);
                n += pl;
            }
        }
        p = e ? e + 1 : NULL;
    }
    ssh_buf *b = ssh_pkt_begin(c, SSH_MSG_EXT_INFO);
    if (ssh_buf_put_u32(b, 1) != 0 || ssh_buf_put_cstring(b, "server-sig-algs") != 0 ||
        ssh_buf_put_cstring(b, algs) != 0) {
        ssh_pkt_cancel(c);
        return SSH_ERR_NO_SPACE;
    }
    return ssh_pkt_end(c);
}

static int send_newkeys(ssh_conn *c)
{
    ssh_kex *k = c->kex;
    int rv;
    ssh_pkt_begin(c, SSH_MSG_NEWKEYS);
    if ((rv = ssh_pkt_end(c)) != 0)
        return rv;
    if ((rv = ssh_pkt_set_keys(c, 1, &k->nk_tx)) != 0)
        return rv;
    if (c->kex_strict)
        c->tx.seq = 0;
    k->flags |= KEX_SENT_NEWKEYS;
    ssh_conn_logf(c, 2, "SSH2_MSG_NEWKEYS sent");
    /* The server's EXT_INFO must be the next packet after its first
     * NEWKEYS (RFC 8308 section 2.4). */
    if (c->server && !c->kex_done_once && c->peer_ext_info && (rv = send_ext_info(c)) != 0)
        return rv;
    if ((rv = ssh_pkt_flush_pending(c)) != 0)
        return rv;
    return finish_if_done(c);
}

static int recv_newkeys(ssh_conn *c, ssh_cur *p)
{
    ssh_kex *k = c->kex;
    if (!(k->flags & KEX_KEYS_READY) || (k->flags & KEX_GOT_NEWKEYS) || ssh_cur_end(p) != 0)
        return SSH_ERR_UNEXPECTED;
    int rv = ssh_pkt_set_keys(c, 0, &k->nk_rx);
    if (rv != 0)
        return rv;
    /* Our own packet counter already moved past NEWKEYS: restart it. */
    if (c->kex_strict)
        c->rx.seq = 0;
    k->flags |= KEX_GOT_NEWKEYS;
    ssh_conn_logf(c, 2, "SSH2_MSG_NEWKEYS received");
    return finish_if_done(c);
}

/* ---- method messages ----------------------------------------------------------------- */

static int client_send_init(ssh_conn *c, ssh_kex *k, uint8_t type)
{
    int rv = ssh_kexm_keygen(c, k);
    if (rv != 0)
        return rv;
    ssh_buf *b = ssh_pkt_begin(c, type);
    if ((rv = ssh_buf_put(b, ssh_buf_ptr(&k->my_pub), ssh_buf_len(&k->my_pub))) != 0) {
        ssh_pkt_cancel(c);
        return rv;
    }
    return ssh_pkt_end(c);
}

/* Client: choose the group size to ask for, from the strength of the
 * negotiated ciphers (as OpenSSH's dh_estimate). */
static uint32_t gex_preferred_bits(const ssh_kex *k)
{
    size_t bits = k->need * 8;
    if (bits <= 112)
        return 2048;
    if (bits <= 128)
        return 3072;
    if (bits <= 192)
        return 7680;
    return 8192;
}

static int client_start(ssh_conn *c, ssh_kex *k)
{
    if (k->m->family == KEXF_GEX) {
        k->gex_min = SSH_GEX_MIN;
        k->gex_max = SSH_GEX_MAX;
        k->gex_n = gex_preferred_bits(k);
        ssh_buf *b = ssh_pkt_begin(c, SSH_MSG_KEX_DH_GEX_REQUEST);
        if (ssh_buf_put_u32(b, k->gex_min) != 0 || ssh_buf_put_u32(b, k->gex_n) != 0 ||
            ssh_buf_put_u32(b, k->gex_max) != 0) {
            ssh_pkt_cancel(c);
            return SSH_ERR_NO_SPACE;
        }
        k->expect = SSH_MSG_KEX_DH_GEX_GROUP;
        return ssh_pkt_end(c);
    }
    k->expect = SSH_MSG_KEX_ECDH_REPLY;
    return client_send_init(c, k, SSH_MSG_KEX_ECDH_INIT);
}

static const ssh_key *server_hostkey(ssh_conn *c, const char *alg)
{
    for (size_t i = 0; i < c->cfg.n_host_keys; i++)
        if (ssh_key_alg_ok(c->cfg.host_keys[i], alg))
            return c->cfg.host_keys[i];
    return NULL;
}

/* Server: the REPLY with our host key, our public value and the signature
 * over the exchange hash; then NEWKEYS. */
static int server_send_reply(ssh_conn *c, ssh_kex *k, const uint8_t *sig, size_t siglen)
{
    int rv;
    ssh_buf *b = ssh_pkt_begin(c, k->reply_type);
    if ((rv = ssh_buf_put_stringb(b, &k->hk_blob)) != 0 ||
        (rv = ssh_buf_put(b, ssh_buf_ptr(&k->my_pub), ssh_buf_len(&k->my_pub))) != 0 ||
        (rv = ssh_buf_put_string(b, sig, siglen)) != 0) {
        ssh_pkt_cancel(c);
        return rv;
    }
    if ((rv = ssh_pkt_end(c)) != 0 || (rv = make_keys(c, k)) != 0)
        return rv;
    k->expect = 0;
    ssh_buf_free(&k->hk_blob);
    return send_newkeys(c);
}

/* Server: INIT arrived (Q_C or e): compute, sign, reply, NEWKEYS.  The
 * signature may come from the application (a process that keeps the
 * private key away from the one parsing network input), later: input
 * waits meanwhile. */
static int server_reply(ssh_conn *c, ssh_kex *k, ssh_cur *p, uint8_t reply_type)
{
    int rv;
    const ssh_key *hk = server_hostkey(c, k->hostkey_alg);
    if (hk == NULL)
        return SSH_ERR_NO_HOSTKEY_ALG;
    if ((rv = ssh_kexm_keygen(c, k)) != 0 || (rv = ssh_kexm_derive(c, k, p)) != 0)
        return rv;
    if (ssh_cur_end(p) != 0)
        return SSH_ERR_FORMAT;

    ssh_buf sig;
    ssh_buf_init(&k->hk_blob, 8192, 0);
    ssh_buf_init(&sig, 8192, 0);
    k->reply_type = reply_type;
    if ((rv = ssh_key_to_blob(hk, &k->hk_blob)) != 0 ||
        (rv = exchange_hash(c, k, ssh_buf_ptr(&k->hk_blob), ssh_buf_len(&k->hk_blob))) != 0)
        goto out;
    if (c->cb.hostkey_sign != NULL) {
        rv = c->cb.hostkey_sign(c, hk, k->hostkey_alg, k->H, k->hlen, &sig, c->user);
        if (rv == SSH_DEFERRED) {
            k->flags |= KEX_SIGN_WAIT;
            c->paused = 1;
            rv = 0;
            goto out;
        }
    } else {
        rv = ssh_key_sign(hk, k->hostkey_alg, SSH_KEY_ALLOW_SHA1, k->H, k->hlen, &sig);
    }
    if (rv == 0)
        rv = server_send_reply(c, k, ssh_buf_ptr(&sig), ssh_buf_len(&sig));
out:
    ssh_buf_free(&sig);
    return rv;
}

int ssh_kex_hostkey_signed(ssh_conn *c, const uint8_t *sig, size_t len)
{
    ssh_kex *k = c->kex;
    if (k == NULL || !(k->flags & KEX_SIGN_WAIT))
        return SSH_ERR_STATE;
    k->flags &= ~KEX_SIGN_WAIT;
    if (sig == NULL || len == 0)
        return SSH_ERR_KEY_INVALID;
    return server_send_reply(c, k, sig, len);
}

/* SHA-1 host key signatures only where our list names them: ssh-rsa, or its
 * certificate variant. */
static int sha1_ok(const ssh_conn *c)
{
    return ssh_namelist_has(c->cfg.hostkey_algs, "ssh-rsa") ||
           ssh_namelist_has(c->cfg.hostkey_algs, "ssh-rsa-cert-v01@openssh.com");
}

/* Client: REPLY arrived: check the signature, ask about the key. */
static int client_reply(ssh_conn *c, ssh_kex *k, ssh_cur *p)
{
    const uint8_t *ks, *sig;
    size_t kslen, siglen;
    int rv;
    if ((rv = ssh_cur_get_string(p, &ks, &kslen)) != 0)
        return rv;
    if ((rv = ssh_kexm_derive(c, k, p)) != 0)
        return rv;
    if ((rv = ssh_cur_get_string(p, &sig, &siglen)) != 0 || (rv = ssh_cur_end(p)) != 0)
        return rv;
    ssh_key *key = NULL;
    if ((rv = ssh_key_from_blob(ks, kslen, &key)) != 0)
        return rv;
    if (!ssh_key_alg_ok(key, k->hostkey_alg)) {
        ssh_key_free(key);
        return SSH_ERR_KEY_ALG_MISMATCH;
    }
    if ((rv = exchange_hash(c, k, ks, kslen)) != 0 ||
        (rv = ssh_key_verify(key, k->hostkey_alg, sha1_ok(c) ? SSH_KEY_ALLOW_SHA1 : 0, sig, siglen,
                             k->H, k->hlen)) != 0) {
        ssh_key_free(key);
        return rv == SSH_ERR_SIGNATURE ? SSH_ERR_SIGNATURE : rv;
    }
    if ((rv = make_keys(c, k)) != 0) {
        ssh_key_free(key);
        return rv;
    }
    k->expect = 0;
    /* A re-exchange must present the same host key (OpenSSH does the
     * same): nothing to ask the application then. */
    if (c->hostkey != NULL) {
        int same = ssh_key_equal_public(c->hostkey, key);
        ssh_key_free(key);
        if (!same) {
            ssh_conn_logf(c, 1, "server host key changed during re-exchange");
            return SSH_ERR_HOSTKEY_REJECTED;
        }
        return send_newkeys(c);
    }
    k->peer_hostkey = key;
    rv = c->cb.hostkey ? c->cb.hostkey(c, key, c->user) : SSH_ERR_HOSTKEY_REJECTED;
    if (rv == SSH_DEFERRED) {
        k->flags |= KEX_HOSTKEY_WAIT;
        c->paused = 1;
        return 0;
    }
    return ssh_kex_hostkey_result(c, rv == 0);
}

int ssh_kex_hostkey_result(ssh_conn *c, int ok)
{
    ssh_kex *k = c->kex;
    if (k == NULL || k->peer_hostkey == NULL)
        return SSH_ERR_STATE;
    k->flags &= ~KEX_HOSTKEY_WAIT;
    if (!ok)
        return SSH_ERR_HOSTKEY_REJECTED;
    c->hostkey = k->peer_hostkey;
    k->peer_hostkey = NULL;
    return send_newkeys(c);
}

static int method_message(ssh_conn *c, ssh_kex *k, uint8_t type, ssh_cur *p)
{
    int rv;
    if (!(k->flags & KEX_GOT_INIT) || k->m == NULL)
        return SSH_ERR_UNEXPECTED;
    if (k->ignore_guess) {
        k->ignore_guess = 0;
        return 0;
    }
    if (c->server) {
        if (k->m->family == KEXF_GEX) {
            if (type == SSH_MSG_KEX_DH_GEX_REQUEST && k->expect == SSH_MSG_KEX_DH_GEX_REQUEST) {
                if ((rv = ssh_cur_get_u32(p, &k->gex_min)) != 0 ||
                    (rv = ssh_cur_get_u32(p, &k->gex_n)) != 0 ||
                    (rv = ssh_cur_get_u32(p, &k->gex_max)) != 0 || (rv = ssh_cur_end(p)) != 0)
                    return rv;
                if ((rv = ssh_gex_choose(k)) != 0)
                    return rv;
                ssh_buf *b = ssh_pkt_begin(c, SSH_MSG_KEX_DH_GEX_GROUP);
                if ((rv = ssh_buf_put(b, ssh_buf_ptr(&k->gex_p), ssh_buf_len(&k->gex_p))) != 0 ||
                    (rv = ssh_buf_put(b, ssh_buf_ptr(&k->gex_g), ssh_buf_len(&k->gex_g))) != 0) {
                    ssh_pkt_cancel(c);
                    return rv;
                }
                k->expect = SSH_MSG_KEX_DH_GEX_INIT;
                return ssh_pkt_end(c);
            }
            if (type == SSH_MSG_KEX_DH_GEX_INIT && k->expect == SSH_MSG_KEX_DH_GEX_INIT)
                return server_reply(c, k, p, SSH_MSG_KEX_DH_GEX_REPLY);
            return SSH_ERR_UNEXPECTED;
        }
        if (type == SSH_MSG_KEX_ECDH_INIT && k->expect == SSH_MSG_KEX_ECDH_INIT)
            return server_reply(c, k, p, SSH_MSG_KEX_ECDH_REPLY);
        return SSH_ERR_UNEXPECTED;
    }
    if (k->m->family == KEXF_GEX) {
        if (type == SSH_MSG_KEX_DH_GEX_GROUP && k->expect == SSH_MSG_KEX_DH_GEX_GROUP) {
            const uint8_t *pp, *gp;
            size_t pl, gl;
            ssh_cur start = *p;
            if ((rv = ssh_cur_get_mpint(p, &pp, &pl)) != 0 ||
                (rv = ssh_cur_get_mpint(p, &gp, &gl)) != 0 || (rv = ssh_cur_end(p)) != 0)
                return rv;
            (void)start;
            ssh_buf_reset(&k->gex_p);
            ssh_buf_reset(&k->gex_g);
            if ((rv = ssh_buf_put_mpint(&k->gex_p, pp, pl)) != 0 ||
                (rv = ssh_buf_put_mpint(&k->gex_g, gp, gl)) != 0 || (rv = ssh_gex_check(k)) != 0)
                return rv;
            k->expect = SSH_MSG_KEX_DH_GEX_REPLY;
            return client_send_init(c, k, SSH_MSG_KEX_DH_GEX_INIT);
        }
        if (type == SSH_MSG_KEX_DH_GEX_REPLY && k->expect == SSH_MSG_KEX_DH_GEX_REPLY)
            return client_reply(c, k, p);
        return SSH_ERR_UNEXPECTED;
    }
    if (type == SSH_MSG_KEX_ECDH_REPLY && k->expect == SSH_MSG_KEX_ECDH_REPLY)
        return client_reply(c, k, p);
    return SSH_ERR_UNEXPECTED;
}

static int recv_kexinit(ssh_conn *c, const uint8_t *payload, size_t len, uint32_t seq)
{
    int rv;
    ssh_kex *k = c->kex;
    if (k != NULL && (k->flags & KEX_GOT_INIT))
        return SSH_ERR_UNEXPECTED;
    if (k == NULL) {
        if ((rv = ssh_kex_start(c)) != 0)
            return rv;
        k = c->kex;
    } else if (!ssh_kex_sent_init(k)) {
        if ((rv = send_kexinit(c, k)) != 0)
            return rv;
    }
    ssh_buf_reset(&k->peer_init);
    if ((rv = ssh_buf_put(&k->peer_init, payload, len)) != 0)
        return rv;
    k->flags |= KEX_GOT_INIT;
    ssh_conn_logf(c, 2, "SSH2_MSG_KEXINIT received");
    if ((rv = negotiate(c, k, seq)) != 0)
        return rv;
    if (c->server) {
        k->expect = k->m->family == KEXF_GEX ? SSH_MSG_KEX_DH_GEX_REQUEST : SSH_MSG_KEX_ECDH_INIT;
        return 0;
    }
    return client_start(c, k);
}

int ssh_kex_dispatch(ssh_conn *c, uint8_t type, const uint8_t *payload, size_t len, uint32_t seq)
{
    ssh_cur p;
    ssh_cur_init(&p, payload + 1, len - 1);
    if (type == SSH_MSG_KEXINIT)
        return recv_kexinit(c, payload, len, seq);
    if (c->kex == NULL)
        return SSH_ERR_UNEXPECTED;
    if (type == SSH_MSG_NEWKEYS)
        return recv_newkeys(c, &p);
    if (type >= 30 && type <= 49)
        return method_message(c, c->kex, type, &p);
    return SSH_ERR_UNEXPECTED;
}
