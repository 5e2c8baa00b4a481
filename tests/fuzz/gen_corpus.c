/*
 * gen_corpus.c - writes the seed corpora of the fuzz targets.
 *
 *     fuzz_corpus_gen <corpus-dir>      (normally tests/fuzz/corpus)
 *
 * server/, client/: every input is the two header bytes of fuzz_harness.h
 * followed by the peer's bytes.
 *   - Recorded sessions: a client and a server harness engine (the very
 *     code the targets run, same keys, same deterministic randomness) talk
 *     in memory; what the client sent becomes a server seed, what the
 *     server sent a client seed.  Mode A sessions go through KEX, auth and
 *     channels, encrypted, for every kex method, several ciphers/MACs,
 *     host key types and auth orders; mode B/C/D sessions start after the
 *     skipped KEX in plaintext and end with a rekey into encryption.  The
 *     side whose seed is saved always runs the target's exact
 *     configuration; each seed is replayed here through fz_run() and the
 *     packet count compared, so a seed that stopped decrypting is reported.
 *   - Hand-built plaintext packets for each message type the engine
 *     handles (modes B/C/D), first flights and kex messages (mode A), and
 *     known-bad inputs (truncation, oversize lengths, bad padding, ...).
 * key/: public blobs, public lines, openssh-key-v1 files (plain and
 *   bcrypt-encrypted with passphrase "x"), PEM files, signature blobs and
 *   "string blob, string sig, data" triples, for each key type.
 * wire/: small interpreter programs over encoded data (see fuzz_wire.c).
 *
 * Existing files of the same names are overwritten; nothing is deleted.
 */
#include "fuzz_harness.h"

#include "bcrypt_pbkdf.h"
#include "key_int.h"

#include <errno.h>
#include <sys/stat.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

static const char *outdir;
static size_t total_bytes;
static int total_files;
static int replay_problems;

static void die(const char *what)
{
    fprintf(stderr, "fuzz_corpus_gen: %s\n", what);
    exit(1);
}

static void mkdir_p(const char *path)
{
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
}

static void write_file(const char *target, const char *name, const uint8_t *p, size_t n)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", outdir, target);
    mkdir_p(path);
    snprintf(path, sizeof(path), "%s/%s/%s", outdir, target, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || (n && fwrite(p, 1, n, f) != n) || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
    total_bytes += n;
    total_files++;
}

/* A server/client seed: the two header bytes, then the stream. */
static void write_seed(const char *target, const char *name, uint8_t b0, uint8_t b1,
                       const ssh_buf *stream)
{
    ssh_buf f;
    ssh_buf_init(&f, 0, 0);
    ssh_buf_put_u8(&f, b0);
    ssh_buf_put_u8(&f, b1);
    ssh_buf_put(&f, ssh_buf_ptr(stream), ssh_buf_len(stream));
    write_file(target, name, ssh_buf_ptr(&f), ssh_buf_len(&f));
    ssh_buf_free(&f);
}

/* ---- message building ---------------------------------------------------------- */

static ssh_buf M; /* the message being built */

static void m_begin(uint8_t type)
{
    ssh_buf_reset(&M);
    ssh_buf_put_u8(&M, type);
}
static void m_u8(uint8_t v)
{
    ssh_buf_put_u8(&M, v);
}
static void m_bool(int v)
{
    ssh_buf_put_bool(&M, v);
}
static void m_u32(uint32_t v)
{
    ssh_buf_put_u32(&M, v);
}
static void m_str(const char *s)
{
    ssh_buf_put_cstring(&M, s);
}
static void m_bytes(const void *p, size_t n)
{
    ssh_buf_put_string(&M, p, n);
}
static void m_bufstr(const ssh_buf *b)
{
    ssh_buf_put_stringb(&M, b);
}
static void m_raw(const void *p, size_t n)
{
    ssh_buf_put(&M, p, n);
}
static void m_mpint(const uint8_t *p, size_t n)
{
    ssh_buf_put_mpint(&M, p, n);
}

/* Plaintext binary packet (RFC 4253 section 6, block size 8, no MAC). */
static void frame(ssh_buf *out, const uint8_t *payload, size_t n)
{
    size_t pad = 8 - ((5 + n) % 8);
    if (pad < 4)
        pad += 8;
    ssh_buf_put_u32(out, (uint32_t)(1 + n + pad));
    ssh_buf_put_u8(out, (uint8_t)pad);
    ssh_buf_put(out, payload, n);
    for (size_t i = 0; i < pad; i++)
        ssh_buf_put_u8(out, (uint8_t)(0x11 * (i + 1)));
}

static void m_end(ssh_buf *out)
{
    frame(out, ssh_buf_ptr(&M), ssh_buf_len(&M));
}

/* Raw packet with explicit lengths (for the known-bad seeds). */
static void raw_packet(ssh_buf *out, uint32_t plen, uint8_t padlen, const uint8_t *payload,
                       size_t n, size_t padbytes)
{
    ssh_buf_put_u32(out, plen);
    ssh_buf_put_u8(out, padlen);
    ssh_buf_put(out, payload, n);
    for (size_t i = 0; i < padbytes; i++)
        ssh_buf_put_u8(out, 0);
}

/* ---- keys ------------------------------------------------------------------------ */

static ssh_key *gen_key(enum ssh_key_type t)
{
    static ssh_key *keys[8];
    if (keys[t] == NULL && ssh_key_generate(t, 1024, &keys[t]) != 0)
        die("key generation failed");
    return keys[t];
}

static ssh_key *gen_rsa2048(void)
{
    static ssh_key *k;
    if (k == NULL && ssh_key_generate(SSH_KEY_RSA, 2048, &k) != 0)
        die("key generation failed");
    return k;
}

static void key_blob(const ssh_key *k, ssh_buf *out)
{
    ssh_buf_reset(out);
    if (ssh_key_to_blob(k, out) != 0)
        die("ssh_key_to_blob");
}

/* Session identifier that ssh_conn_fuzz_skip_kex() installs. */
static const uint8_t fuzz_sid[32] = {
    0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a,
    0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a, 0x5a,
};

/* USERAUTH_REQUEST publickey with a signature over the fuzz session id. */
static void m_pk_signed(ssh_buf *out, const char *user, const ssh_key *k, const char *alg,
                        int corrupt)
{
    ssh_buf blob, data, sig;
    ssh_buf_init(&blob, 0, 0);
    ssh_buf_init(&data, 0, 0);
    ssh_buf_init(&sig, 0, 0);
    key_blob(k, &blob);
    m_begin(SSH_MSG_USERAUTH_REQUEST);
    m_str(user);
    m_str("ssh-connection");
    m_str("publickey");
    m_bool(1);
    m_str(alg);
    m_bufstr(&blob);
    ssh_buf_put_string(&data, fuzz_sid, sizeof(fuzz_sid));
    ssh_buf_put(&data, ssh_buf_ptr(&M), ssh_buf_len(&M));
    if (ssh_key_sign(k, alg, SSH_KEY_ALLOW_SHA1, ssh_buf_ptr(&data), ssh_buf_len(&data), &sig) != 0)
        die("ssh_key_sign");
    if (corrupt)
        ssh_buf_mutable_ptr(&sig)[ssh_buf_len(&sig) - 3] ^= 0x40;
    m_bufstr(&sig);
    m_end(out);
    ssh_buf_free(&blob);
    ssh_buf_free(&data);
    ssh_buf_free(&sig);
}

/* ---- common messages ------------------------------------------------------------- */

static void m_service_request(ssh_buf *out, const char *name)
{
    m_begin(SSH_MSG_SERVICE_REQUEST);
    m_str(name);
    m_end(out);
}

static void m_userauth(ssh_buf *out, const char *user, const char *method)
{
    m_begin(SSH_MSG_USERAUTH_REQUEST);
    m_str(user);
    m_str("ssh-connection");
    m_str(method);
    if (strcmp(method, "keyboard-interactive") == 0) {
        m_str("");
        m_str("");
    }
    m_end(out);
}

static void m_password(ssh_buf *out, const char *user, const char *pw)
{
    m_begin(SSH_MSG_USERAUTH_REQUEST);
    m_str(user);
    m_str("ssh-connection");
    m_str("password");
    m_bool(0);
    m_str(pw);
    m_end(out);
}

static void m_open(ssh_buf *out, const char *type, uint32_t sender, uint32_t win, uint32_t maxpkt)
{
    m_begin(SSH_MSG_CHANNEL_OPEN);
    m_str(type);
    m_u32(sender);
    m_u32(win);
    m_u32(maxpkt);
    if (strcmp(type, "direct-tcpip") == 0 || strcmp(type, "forwarded-tcpip") == 0) {
        m_str("localhost");
        m_u32(22);
        m_str("198.51.100.9");
        m_u32(51000);
    } else if (strcmp(type, "direct-streamlocal@openssh.com") == 0) {
        m_str("/run/fuzz.sock");
        m_str("");
        m_u32(0);
    } else if (strcmp(type, "forwarded-streamlocal@openssh.com") == 0) {
        m_str("/run/fwd.sock");
        m_str("");
    } else if (strcmp(type, "x11") == 0) {
        m_str("127.0.0.1");
        m_u32(6010);
    }
    m_end(out);
}

static void m_confirm(ssh_buf *out, uint32_t recipient, uint32_t sender, uint32_t win,
                      uint32_t maxpkt)
{
    m_begin(SSH_MSG_CHANNEL_OPEN_CONFIRMATION);
    m_u32(recipient);
    m_u32(sender);
    m_u32(win);
    m_u32(maxpkt);
    m_end(out);
}

static void m_open_fail(ssh_buf *out, uint32_t recipient, uint32_t reason, const char *msg)
{
    m_begin(SSH_MSG_CHANNEL_OPEN_FAILURE);
    m_u32(recipient);
    m_u32(reason);
    m_str(msg);
    m_str("en");
    m_end(out);
}

static void m_chan_u32(ssh_buf *out, uint8_t type, uint32_t id)
{
    m_begin(type);
    m_u32(id);
    m_end(out);
}

static void m_data(ssh_buf *out, uint32_t id, const char *s)
{
    m_begin(SSH_MSG_CHANNEL_DATA);
    m_u32(id);
    m_str(s);
    m_end(out);
}

static void m_data_n(ssh_buf *out, uint32_t id, int ext, size_t n)
{
    m_begin(ext ? SSH_MSG_CHANNEL_EXTENDED_DATA : SSH_MSG_CHANNEL_DATA);
    m_u32(id);
    if (ext)
        m_u32(SSH_STREAM_STDERR);
    m_u32((uint32_t)n);
    for (size_t i = 0; i < n; i++)
        m_u8((uint8_t)('a' + i % 26));
    m_end(out);
}

static void m_adjust(ssh_buf *out, uint32_t id, uint32_t n)
{
    m_begin(SSH_MSG_CHANNEL_WINDOW_ADJUST);
    m_u32(id);
    m_u32(n);
    m_end(out);
}

/* CHANNEL_REQUEST header; the caller adds the type-specific fields. */
static void m_req(uint32_t id, const char *type, int want_reply)
{
    m_begin(SSH_MSG_CHANNEL_REQUEST);
    m_u32(id);
    m_str(type);
    m_bool(want_reply);
}

static void m_global(const char *name, int want_reply)
{
    m_begin(SSH_MSG_GLOBAL_REQUEST);
    m_str(name);
    m_bool(want_reply);
}

static void m_session_requests(ssh_buf *out, uint32_t id)
{
    static const uint8_t modes[] = {1, 0, 0, 0, 3, 53, 0, 0, 0, 1, 0};
    m_req(id, "pty-req", 1);
    m_str("xterm-256color");
    m_u32(80);
    m_u32(24);
    m_u32(640);
    m_u32(480);
    m_bytes(modes, sizeof(modes));
    m_end(out);
    m_req(id, "env", 0);
    m_str("LANG");
    m_str("C.UTF-8");
    m_end(out);
    m_req(id, "exec", 1);
    m_str("ls -l /");
    m_end(out);
    m_req(id, "shell", 1);
    m_end(out);
    m_req(id, "subsystem", 1);
    m_str("sftp");
    m_end(out);
    m_req(id, "window-change", 0);
    m_u32(132);
    m_u32(43);
    m_u32(0);
    m_u32(0);
    m_end(out);
    m_req(id, "signal", 0);
    m_str("TERM");
    m_end(out);
}

static void m_exit_requests(ssh_buf *out, uint32_t id)
{
    m_req(id, "exit-status", 0);
    m_u32(2);
    m_end(out);
    m_req(id, "exit-signal", 0);
    m_str("SEGV");
    m_bool(1);
    m_str("Segmentation fault");
    m_str("en");
    m_end(out);
    m_req(id, "eow@openssh.com", 0);
    m_end(out);
}

static void m_transport_misc(ssh_buf *out)
{
    m_begin(SSH_MSG_IGNORE);
    m_str("padding padding");
    m_end(out);
    m_begin(SSH_MSG_DEBUG);
    m_bool(1);
    m_str("debug text shown to the user");
    m_str("en");
    m_end(out);
    m_begin(SSH_MSG_DEBUG);
    m_bool(0);
    m_str("quiet debug");
    m_str("");
    m_end(out);
    m_begin(SSH_MSG_UNIMPLEMENTED);
    m_u32(3);
    m_end(out);
    m_begin(SSH_MSG_EXT_INFO);
    m_u32(2);
    m_str("server-sig-algs");
    m_str("ssh-ed25519,rsa-sha2-256,rsa-sha2-512,ecdsa-sha2-nistp256");
    m_str("publickey-hostbound@openssh.com");
    m_str("0");
    m_end(out);
    m_begin(150); /* unknown: UNIMPLEMENTED goes back */
    m_u32(1);
    m_end(out);
}

static void m_disconnect(ssh_buf *out)
{
    m_begin(SSH_MSG_DISCONNECT);
    m_u32(11);
    m_str("disconnected by user");
    m_str("en");
    m_end(out);
}

/* KEXINIT as a peer would send it. */
static void m_kexinit(ssh_buf *out, int server, const char *kex, int follows)
{
    static const uint8_t cookie[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    char kexlist[512];
    snprintf(kexlist, sizeof(kexlist), "%s,%s", kex,
             server ? "ext-info-s,kex-strict-s-v00@openssh.com"
                    : "ext-info-c,kex-strict-c-v00@openssh.com");
    m_begin(SSH_MSG_KEXINIT);
    m_raw(cookie, sizeof(cookie));
    m_str(kexlist);
    m_str("ssh-ed25519,ecdsa-sha2-nistp256,rsa-sha2-512,rsa-sha2-256");
    m_str("chacha20-poly1305@openssh.com,aes128-ctr,aes256-gcm@openssh.com");
    m_str("chacha20-poly1305@openssh.com,aes128-ctr,aes256-gcm@openssh.com");
    m_str("hmac-sha2-256-etm@openssh.com,hmac-sha2-256");
    m_str("hmac-sha2-256-etm@openssh.com,hmac-sha2-256");
    m_str("none,zlib@openssh.com");
    m_str("none,zlib@openssh.com");
    m_str("");
    m_str("");
    m_bool(follows);
    m_u32(0);
    m_end(out);
}

/* A valid X25519 public value (of a fixed private scalar). */
static void x25519_pub(uint8_t pub[32])
{
    uint8_t sk[32];
    size_t n = 32;
    for (int i = 0; i < 32; i++)
        sk[i] = (uint8_t)(i * 7 + 1);
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, sk, sizeof(sk));
    if (k == NULL || EVP_PKEY_get_raw_public_key(k, pub, &n) != 1)
        die("x25519");
    EVP_PKEY_free(k);
}

/* The generator of a NIST curve, uncompressed: a valid ECDH public value. */
static size_t nist_generator(int nid, uint8_t *out, size_t outsz)
{
    EC_GROUP *g = EC_GROUP_new_by_curve_name(nid);
    size_t n = g ? EC_POINT_point2oct(g, EC_GROUP_get0_generator(g), POINT_CONVERSION_UNCOMPRESSED,
                                      out, outsz, NULL)
                 : 0;
    EC_GROUP_free(g);
    if (n == 0)
        die("EC generator");
    return n;
}

static void m_mpint_bn(const BIGNUM *bn)
{
    uint8_t buf[1100];
    int n = BN_bn2bin(bn, buf);
    m_mpint(buf, (size_t)n);
}

/* ---- recorded sessions ------------------------------------------------------------ */

typedef struct pair {
    fz_ctx cli, srv;
    uint8_t cb0, cb1, sb0, sb1;
    int save_cli, save_srv; /* the side ran the target's configuration */
    ssh_buf c2s, s2c, tmp;
} pair;

static void pair_init(pair *p, uint8_t cb0, uint8_t cb1, const ssh_conn_config *calg, uint8_t sb0,
                      uint8_t sb1, const ssh_conn_config *salg)
{
    memset(p, 0, sizeof(*p));
    p->cb0 = cb0;
    p->cb1 = cb1;
    p->sb0 = sb0;
    p->sb1 = sb1;
    p->save_cli = calg == NULL;
    p->save_srv = salg == NULL;
    if (fz_init(&p->cli, 0, cb0, cb1, calg) != 0 || fz_init(&p->srv, 1, sb0, sb1, salg) != 0)
        die("fz_init");
    ssh_buf_init(&p->c2s, 0, 0);
    ssh_buf_init(&p->s2c, 0, 0);
    ssh_buf_init(&p->tmp, 0, 0);
    fz_start(&p->cli);
    fz_start(&p->srv);
}

/* Move `from`'s output to `to` (recording it); returns the byte count. */
static size_t move(pair *p, fz_ctx *from, fz_ctx *to, ssh_buf *rec)
{
    ssh_buf_reset(&p->tmp);
    from->sink = &p->tmp;
    fz_drain(from);
    from->sink = NULL;
    size_t n = ssh_buf_len(&p->tmp);
    if (n == 0)
        return 0;
    ssh_buf_put(rec, ssh_buf_ptr(&p->tmp), n);
    if (ssh_conn_error(to->c) == 0) {
        fz_feed(to, ssh_buf_ptr(&p->tmp), n);
        fz_boundary(to);
    }
    return n;
}

static void pump(pair *p)
{
    for (int round = 0; round < 10000; round++) {
        size_t a = move(p, &p->cli, &p->srv, &p->c2s);
        size_t b = move(p, &p->srv, &p->cli, &p->s2c);
        if (a == 0 && b == 0)
            break;
    }
}

static const char *state_name(int s)
{
    static const char *const n[] = {"HANDSHAKE", "AUTH", "OPEN", "CLOSED"};
    return s >= 0 && s < 4 ? n[s] : "?";
}

/* Replay a saved seed through the target's harness and compare. */
static void check_replay(const char *target, const char *name, int server, uint8_t b0, uint8_t b1,
                         const ssh_buf *stream, uint64_t want_packets)
{
    ssh_buf f;
    fz_result r;
    ssh_buf_init(&f, 0, 0);
    ssh_buf_put_u8(&f, b0);
    ssh_buf_put_u8(&f, b1);
    ssh_buf_put(&f, ssh_buf_ptr(stream), ssh_buf_len(stream));
    fz_run(server, ssh_buf_ptr(&f), ssh_buf_len(&f), &r);
    /* Also with the input cut into small chunks. */
    ssh_buf_mutable_ptr(&f)[1] = (uint8_t)((b1 & 0xf0u) | 5u);
    fz_result r2;
    fz_run(server, ssh_buf_ptr(&f), ssh_buf_len(&f), &r2);
    int ok = r.packets_in == want_packets && r2.packets_in == want_packets;
    /* Deferred answers and held data are resolved at chunk boundaries, so
     * a replay in other chunks may legitimately diverge (e.g. requests on a
     * channel whose deferred open is not confirmed yet). */
    int timing = (b0 & (FZ_DEFER | FZ_HOLD)) != 0;
    printf("  %-7s %-34s %6zu bytes  packets %3llu/%-3llu  kex %u  %s%s%s\n", target, name,
           ssh_buf_len(&f), (unsigned long long)r.packets_in, (unsigned long long)want_packets,
           r.kex_count, state_name(r.state), r.err ? " err " : "",
           r.err ? ssh_strerror(r.err) : "");
    if (!ok) {
        printf("  ^^^ replay differs (chunked: %llu packets)%s\n",
               (unsigned long long)r2.packets_in, timing ? ", expected with DEFER/HOLD" : "");
        replay_problems += !timing;
    }
    ssh_buf_free(&f);
}

static void pair_finish(pair *p, const char *name)
{
    ssh_conn_stats cs, ss;
    ssh_conn_get_stats(p->cli.c, &cs);
    ssh_conn_get_stats(p->srv.c, &ss);
    char fname[256];
    if (p->save_srv) {
        snprintf(fname, sizeof(fname), "%s", name);
        write_seed("server", fname, p->sb0, p->sb1, &p->c2s);
        check_replay("server", fname, 1, p->sb0, p->sb1, &p->c2s, ss.packets_in);
    }
    if (p->save_cli) {
        snprintf(fname, sizeof(fname), "%s", name);
        write_seed("client", fname, p->cb0, p->cb1, &p->s2c);
        check_replay("client", fname, 0, p->cb0, p->cb1, &p->s2c, cs.packets_in);
    }
    fz_finish(&p->cli, NULL);
    fz_finish(&p->srv, NULL);
    ssh_buf_free(&p->c2s);
    ssh_buf_free(&p->s2c);
    ssh_buf_free(&p->tmp);
}

/* The server's end of the client's session channel (the first it opened). */
static uint32_t srv_session(const pair *p)
{
    return p->srv.n_chans ? p->srv.chans[0] : 0;
}

/* After authentication and the session: the server talks, the client
 * answers, optionally a rekey and more data, then the server closes. */
static void session_script(pair *p, int rekey, size_t bulk)
{
    ssh_conn *s = p->srv.c, *c = p->cli.c;
    uint32_t sid = srv_session(p);
    pump(p);
    ssh_channel_send(s, sid, SSH_STREAM_STDOUT, "Linux fuzz 6.1.0\n", 17);
    ssh_channel_send(s, sid, SSH_STREAM_STDERR, "warning: fuzz\n", 14);
    if (p->cli.have_session)
        ssh_channel_send(c, p->cli.session, 0, "stdin data\n", 11);
    pump(p);
    if (rekey) {
        ssh_conn_rekey(c);
        pump(p);
        ssh_channel_send(s, sid, 0, "after rekey\n", 12);
        if (p->cli.have_session)
            ssh_channel_send(c, p->cli.session, 0, "more input\n", 11);
        pump(p);
    }
    /* Bulk data only now: what the server sends is not replayed by a
     * server seed, and padding it draws from the random stream before a
     * rekey would change the replayed server's key exchange. */
    static uint8_t big[48 * 1024];
    memset(big, 'B', sizeof(big));
    size_t left = bulk;
    for (int i = 0; i < 64 && left > 0; i++) {
        long n = ssh_channel_send(s, sid, 0, big, left < sizeof(big) ? left : sizeof(big));
        if (n > 0)
            left -= (size_t)n;
        pump(p);
    }
    ssh_channel_req st = {.type = "exit-status", .exit_status = 0};
    ssh_channel_request_send(s, sid, &st, NULL);
    ssh_channel_eof(s, sid);
    ssh_channel_close(s, sid);
    pump(p);
}

/* A full mode-A session; `want_cli`/`want_srv` select the seeds to save
 * (a side is only saved if it runs the target's configuration). */
static void session_a_run(const char *name, uint8_t cb0, uint8_t cb1, const ssh_conn_config *calg,
                          uint8_t sb0, uint8_t sb1, const ssh_conn_config *salg, int rekey,
                          size_t bulk, int want_cli, int want_srv)
{
    pair p;
    pair_init(&p, cb0, cb1, calg, sb0, sb1, salg);
    p.save_cli &= want_cli;
    p.save_srv &= want_srv;
    pump(&p);
    if (ssh_conn_state(p.cli.c) != SSH_STATE_OPEN)
        printf("  note: %s: client did not authenticate (%s)\n", name,
               ssh_strerror(ssh_conn_error(p.cli.c)));
    session_script(&p, rekey, bulk);
    pair_finish(&p, name);
}

static void session_a(const char *name, uint8_t cb0, uint8_t cb1, const ssh_conn_config *calg,
                      uint8_t sb0, uint8_t sb1, const ssh_conn_config *salg, int rekey, size_t bulk)
{
    /* With bulk data, the server seed comes from a run without it: see
     * session_script(). */
    session_a_run(name, cb0, cb1, calg, sb0, sb1, salg, rekey, bulk, 1, bulk == 0);
    if (bulk > 0)
        session_a_run(name, cb0, cb1, calg, sb0, sb1, salg, rekey, 0, 0, 1);
}

static void recorded_a(void)
{
    static const char *const kex[] = {
        "curve25519-sha256",
        "curve25519-sha256@libssh.org",
        "ecdh-sha2-nistp256",
        "ecdh-sha2-nistp384",
        "ecdh-sha2-nistp521",
        "diffie-hellman-group-exchange-sha256",
        "diffie-hellman-group16-sha512",
        "diffie-hellman-group18-sha512",
        "diffie-hellman-group14-sha256",
    };
    static const struct {
        const char *tag, *cipher, *mac;
    } ciphers[] = {
        {"aes128gcm", "aes128-gcm@openssh.com", NULL},
        {"aes256gcm", "aes256-gcm@openssh.com", NULL},
        {"aes128ctr-etm256", "aes128-ctr", "hmac-sha2-256-etm@openssh.com"},
        {"aes192ctr-sha512", "aes192-ctr", "hmac-sha2-512"},
        {"aes256ctr-sha256", "aes256-ctr", "hmac-sha2-256"},
        {"aes256ctr-etm512", "aes256-ctr", "hmac-sha2-512-etm@openssh.com"},
    };
    char name[128];
    ssh_conn_config alg;

    printf("mode A recorded sessions\n");
    /* Defaults on both sides, each client authentication order. */
    for (unsigned v = 0; v < 4; v++) {
        snprintf(name, sizeof(name), "A-session-auth%u", v);
        session_a(name, 0, (uint8_t)FZ_VARIANT(v), NULL, 0, 0, NULL, v == 0, 0);
    }
    session_a("A-session-partial", 0, FZ_VARIANT(3), NULL, 0, FZ_ALT, NULL, 0, 0);
    session_a("A-session-defer", FZ_DEFER, FZ_VARIANT(1), NULL, FZ_DEFER, 0, NULL, 0, 0);
    session_a("A-session-hold-small", FZ_HOLD, FZ_SMALL, NULL, FZ_HOLD, FZ_SMALL, NULL, 1, 20000);

    /* Every kex method: restrict the peer's list (the saved side keeps the
     * target's configuration; the client's order decides). */
    for (size_t i = 0; i < sizeof(kex) / sizeof(kex[0]); i++) {
        ssh_conn_config_init(&alg, SSH_ROLE_CLIENT);
        alg.kex_algs = kex[i];
        snprintf(name, sizeof(name), "A-kex-%s", kex[i]);
        session_a(name, 0, 0, &alg, 0, 0, NULL, 0, 0); /* server seed */
        session_a(name, 0, 0, NULL, 0, 0, &alg, 0, 0); /* client seed */
    }
    for (size_t i = 0; i < sizeof(ciphers) / sizeof(ciphers[0]); i++) {
        ssh_conn_config_init(&alg, SSH_ROLE_CLIENT);
        alg.ciphers = ciphers[i].cipher;
        alg.macs = ciphers[i].mac;
        snprintf(name, sizeof(name), "A-cipher-%s", ciphers[i].tag);
        session_a(name, 0, 0, &alg, 0, 0, NULL, 1, 0);
        session_a(name, 0, 0, NULL, 0, 0, &alg, 1, 0);
    }
    /* Host key types (client seeds). */
    static const struct {
        const char *tag, *alg;
        int type;
    } hks[] = {
        {"ecdsa256", "ecdsa-sha2-nistp256", SSH_KEY_ECDSA_P256},
        {"ecdsa384", "ecdsa-sha2-nistp384", SSH_KEY_ECDSA_P384},
        {"ecdsa521", "ecdsa-sha2-nistp521", SSH_KEY_ECDSA_P521},
        {"rsa512", "rsa-sha2-512", SSH_KEY_RSA},
        {"rsa256", "rsa-sha2-256", SSH_KEY_RSA},
    };
    for (size_t i = 0; i < sizeof(hks) / sizeof(hks[0]); i++) {
        ssh_key *keys[1] = {hks[i].type == SSH_KEY_RSA ? gen_rsa2048()
                                                       : gen_key((enum ssh_key_type)hks[i].type)};
        ssh_conn_config_init(&alg, SSH_ROLE_SERVER);
        alg.hostkey_algs = hks[i].alg;
        alg.host_keys = keys;
        alg.n_host_keys = 1;
        snprintf(name, sizeof(name), "A-hostkey-%s", hks[i].tag);
        session_a(name, 0, 0, NULL, 0, 0, &alg, 0, 0);
    }

    /* The client's pieces with server banner lines in front. */
    pair p;
    pair_init(&p, 0, 0, NULL, 0, 0, NULL);
    pump(&p);
    session_script(&p, 0, 0);
    ssh_buf b;
    ssh_buf_init(&b, 0, 0);
    ssh_buf_put(&b, "Welcome to the fuzz server\r\nNo SSH here\n\r\n", 42);
    ssh_buf_put(&b, ssh_buf_ptr(&p.s2c), ssh_buf_len(&p.s2c));
    ssh_conn_stats cs;
    ssh_conn_get_stats(p.cli.c, &cs);
    write_seed("client", "A-banner-lines", 0, 0, &b);
    check_replay("client", "A-banner-lines", 0, 0, 0, &b, cs.packets_in);
    /* First flights only. */
    ssh_buf_free(&b);
    fz_finish(&p.cli, NULL);
    fz_finish(&p.srv, NULL);
    ssh_buf_free(&p.c2s);
    ssh_buf_free(&p.s2c);
    ssh_buf_free(&p.tmp);

    pair_init(&p, 0, 0, NULL, 0, 0, NULL);
    move(&p, &p.cli, &p.srv, &p.c2s); /* ident + KEXINIT */
    write_seed("server", "A-first-flight", 0, 0, &p.c2s);
    move(&p, &p.srv, &p.cli, &p.s2c);
    write_seed("client", "A-first-flight", 0, 0, &p.s2c);
    move(&p, &p.cli, &p.srv, &p.c2s); /* ECDH init */
    write_seed("server", "A-second-flight", 0, 0, &p.c2s);
    fz_finish(&p.cli, NULL);
    fz_finish(&p.srv, NULL);
    ssh_buf_free(&p.c2s);
    ssh_buf_free(&p.s2c);
    ssh_buf_free(&p.tmp);
}

/* Plaintext packets in a buffer. */
static uint32_t count_packets(const ssh_buf *b)
{
    ssh_cur c;
    uint32_t n = 0, len;
    ssh_cur_from_buf(&c, b);
    while (ssh_cur_get_u32(&c, &len) == 0 && ssh_cur_skip(&c, len) == 0)
        n++;
    return n;
}

static void session_bcd_run(const char *name, int mode, uint8_t cflags, uint8_t cb1, uint8_t sflags,
                            uint8_t sb1, int rekey, size_t bulk, int want_cli, int want_srv)
{
    pair p;
    pair_init(&p, (uint8_t)(mode | cflags), cb1, NULL, (uint8_t)(mode | sflags), sb1, NULL);
    p.save_cli &= want_cli;
    p.save_srv &= want_srv;
    if (mode == FZ_MODE_B) {
        /* The client skipped to the auth phase; the server waits for the
         * service request, which the client would have sent: inject it and
         * drop the SERVICE_ACCEPT. */
        ssh_buf sr;
        ssh_buf_init(&sr, 0, 0);
        m_service_request(&sr, "ssh-userauth");
        ssh_buf_put(&p.c2s, ssh_buf_ptr(&sr), ssh_buf_len(&sr));
        fz_feed(&p.srv, ssh_buf_ptr(&sr), ssh_buf_len(&sr));
        fz_drain(&p.srv);
        ssh_buf_free(&sr);
    }
    /* ssh_conn_fuzz_skip_kex() discards the KEXINIT that ssh_conn_start()
     * queued but not the sequence number it used, so each side would send
     * from 1 and receive from 0.  The saved side must stay as the target
     * has it: number the recorded packets to match its receive counter, or
     * what follows a rekey would not decrypt in the target. */
    p.cli.c->tx.seq = count_packets(&p.c2s) + count_packets(&p.cli.c->out);
    p.srv.c->tx.seq = count_packets(&p.srv.c->out);
    pump(&p);
    if (ssh_conn_state(p.cli.c) != SSH_STATE_OPEN)
        printf("  note: %s: client not in the connection phase\n", name);
    session_script(&p, rekey, bulk);
    pair_finish(&p, name);
}

/* Mode B/C/D sessions after the skipped KEX, plaintext until a rekey. */
static void session_bcd(const char *name, int mode, uint8_t cflags, uint8_t cb1, uint8_t sflags,
                        uint8_t sb1, int rekey, size_t bulk)
{
    session_bcd_run(name, mode, cflags, cb1, sflags, sb1, rekey, bulk, 1, bulk == 0);
    if (bulk > 0)
        session_bcd_run(name, mode, cflags, cb1, sflags, sb1, rekey, 0, 0, 1);
}

static void recorded_bcd(void)
{
    char name[64];
    printf("mode B/C/D recorded sessions\n");
    for (unsigned v = 0; v < 4; v++) {
        snprintf(name, sizeof(name), "B-session-auth%u", v);
        session_bcd(name, FZ_MODE_B, 0, (uint8_t)FZ_VARIANT(v), 0, 0, v == 2, 0);
    }
    session_bcd("B-session-partial", FZ_MODE_B, 0, FZ_VARIANT(1), 0, FZ_ALT, 0, 0);
    session_bcd("B-session-defer", FZ_MODE_B, FZ_DEFER, FZ_VARIANT(2), FZ_DEFER, 0, 0, 0);
    session_bcd("C-session", FZ_MODE_C, 0, 0, 0, 0, 1, 0);
    session_bcd("C-session-defer-hold", FZ_MODE_C, FZ_DEFER | FZ_HOLD, 0, FZ_DEFER | FZ_HOLD, 0, 0,
                0);
    session_bcd("C-session-small", FZ_MODE_C, 0, FZ_SMALL, 0, FZ_SMALL, 1, 40000);
    session_bcd("C-session-reject", FZ_MODE_C, FZ_REJECT, 0, FZ_REJECT, 0, 0, 0);
    session_bcd("D-session", FZ_MODE_D, 0, 0, 0, 0, 1, 0);
    session_bcd("D-session-defer", FZ_MODE_D, FZ_DEFER, 0, FZ_DEFER, 0, 0, 0);
}

/* ---- hand-built server seeds ------------------------------------------------------- */

static void save(const char *target, const char *name, uint8_t b0, uint8_t b1, ssh_buf *s)
{
    write_seed(target, name, b0, b1, s);
    ssh_buf_reset(s);
}

static void crafted_server(void)
{
    ssh_buf s, blob;
    ssh_buf_init(&s, 0, 0);
    ssh_buf_init(&blob, 0, 0);
    const uint8_t B = FZ_MODE_B, C = FZ_MODE_C, D = FZ_MODE_D;
    ssh_key *uk = fz_key(FZ_USER_KEY);

    /* -- mode B: authentication -- */
    m_service_request(&s, "ssh-userauth");
    m_userauth(&s, "fuzz", "none");
    m_password(&s, "fuzz", "wrong");
    m_password(&s, "fuzz", "x");
    m_open(&s, "session", 0, 65536, 32768);
    m_session_requests(&s, 0);
    m_data(&s, 0, "input");
    m_chan_u32(&s, SSH_MSG_CHANNEL_EOF, 0);
    m_chan_u32(&s, SSH_MSG_CHANNEL_CLOSE, 0);
    save("server", "B-password-then-session", B, 0, &s);

    m_service_request(&s, "ssh-userauth");
    m_begin(SSH_MSG_USERAUTH_REQUEST);
    m_str("fuzz");
    m_str("ssh-connection");
    m_str("password");
    m_bool(1);
    m_str("old");
    m_str("new");
    m_end(&s);
    m_userauth(&s, "fuzz", "hostbased");
    m_userauth(&s, "other", "none");
    save("server", "B-password-change-user-change", B, 0, &s);

    m_service_request(&s, "ssh-userauth");
    key_blob(uk, &blob);
    m_begin(SSH_MSG_USERAUTH_REQUEST);
    m_str("fuzz");
    m_str("ssh-connection");
    m_str("publickey");
    m_bool(0);
    m_str("ssh-ed25519");
    m_bufstr(&blob);
    m_end(&s);
    m_pk_signed(&s, "fuzz", uk, "ssh-ed25519", 0);
    m_global("tcpip-forward", 1);
    m_str("");
    m_u32(0);
    m_end(&s);
    save("server", "B-publickey-query-sign", B, 0, &s);

    static const struct {
        const char *tag, *alg;
        int type;
    } pks[] = {
        {"ecdsa256", "ecdsa-sha2-nistp256", SSH_KEY_ECDSA_P256},
        {"ecdsa384", "ecdsa-sha2-nistp384", SSH_KEY_ECDSA_P384},
        {"ecdsa521", "ecdsa-sha2-nistp521", SSH_KEY_ECDSA_P521},
        {"rsa512", "rsa-sha2-512", SSH_KEY_RSA},
        {"rsa256", "rsa-sha2-256", SSH_KEY_RSA},
        {"rsa-sha1", "ssh-rsa", SSH_KEY_RSA},
    };
    for (size_t i = 0; i < sizeof(pks) / sizeof(pks[0]); i++) {
        char name[64];
        m_service_request(&s, "ssh-userauth");
        m_pk_signed(&s, "fuzz", gen_key((enum ssh_key_type)pks[i].type), pks[i].alg, 0);
        snprintf(name, sizeof(name), "B-publickey-%s", pks[i].tag);
        save("server", name, B, 0, &s);
    }
    m_service_request(&s, "ssh-userauth");
    m_pk_signed(&s, "fuzz", uk, "ssh-ed25519", 1);
    /* Algorithm name and key type disagree. */
    m_begin(SSH_MSG_USERAUTH_REQUEST);
    m_str("fuzz");
    m_str("ssh-connection");
    m_str("publickey");
    m_bool(1);
    m_str("ecdsa-sha2-nistp256");
    m_bufstr(&blob);
    m_bytes("\0\0\0\x13"
            "ecdsa-sha2-nistp256\0\0\0\0",
            27);
    m_end(&s);
    save("server", "B-publickey-bad", B, 0, &s);

    m_service_request(&s, "ssh-userauth");
    m_userauth(&s, "fuzz", "keyboard-interactive");
    m_begin(SSH_MSG_USERAUTH_INFO_RESPONSE);
    m_u32(1);
    m_str("wrong");
    m_end(&s);
    m_userauth(&s, "fuzz", "keyboard-interactive");
    m_begin(SSH_MSG_USERAUTH_INFO_RESPONSE);
    m_u32(1);
    m_str("x");
    m_end(&s);
    save("server", "B-kbdint", B, 0, &s);

    m_service_request(&s, "ssh-userauth");
    m_begin(SSH_MSG_USERAUTH_INFO_RESPONSE);
    m_u32(0);
    m_end(&s);
    save("server", "B-info-response-unexpected", B, 0, &s);

    m_service_request(&s, "ssh-userauth");
    for (int i = 0; i < 7; i++)
        m_password(&s, "fuzz", "nope");
    save("server", "B-too-many-failures", B, 0, &s);

    m_transport_misc(&s);
    m_service_request(&s, "ssh-userauth");
    m_userauth(&s, "fuzz", "none");
    m_disconnect(&s);
    save("server", "B-transport-misc-disconnect", B, 0, &s);

    m_service_request(&s, "ssh-connection");
    save("server", "B-wrong-service", B, 0, &s);
    m_password(&s, "fuzz", "x");
    save("server", "B-no-service-request", B, 0, &s);
    m_service_request(&s, "ssh-userauth");
    /* A USERAUTH_REQUEST whose user name string runs past the payload. */
    ssh_buf_put(&s, "\0\0\0\x0c\x04\x32\0\0\0\x09\0\0\0\0\0\0", 16);
    save("server", "B-truncated-request", B, 0, &s);
    m_service_request(&s, "ssh-userauth");
    m_password(&s, "fuzz", "x");
    save("server", "B-password-deferred", B | FZ_DEFER, 0, &s);

    /* -- mode C: connection layer -- */
    m_open(&s, "session", 7, 2097152, 32768);
    m_session_requests(&s, 0);
    m_data(&s, 0, "some input");
    m_data_n(&s, 0, 1, 20);
    m_adjust(&s, 0, 65536);
    m_chan_u32(&s, SSH_MSG_CHANNEL_EOF, 0);
    m_chan_u32(&s, SSH_MSG_CHANNEL_CLOSE, 0);
    save("server", "C-session", C, 0, &s);

    m_open(&s, "session", 0, 1024, 512);
    m_exit_requests(&s, 0);
    m_req(0, "x11-req", 1);
    m_bool(0);
    m_str("MIT-MAGIC-COOKIE-1");
    m_str("0123456789abcdef");
    m_u32(0);
    m_end(&s);
    m_req(0, "auth-agent-req@openssh.com", 1);
    m_end(&s);
    m_req(0, "keepalive@openssh.com", 1);
    m_end(&s);
    m_req(0, "exec", 1);
    m_bytes("cmd\0with\xffnul", 12);
    m_end(&s);
    save("server", "C-requests", C, 0, &s);

    m_open(&s, "direct-tcpip", 1, 65536, 16384);
    m_open(&s, "direct-streamlocal@openssh.com", 2, 65536, 16384);
    m_open(&s, "forwarded-tcpip", 3, 65536, 16384);
    m_open(&s, "forwarded-streamlocal@openssh.com", 4, 65536, 16384);
    m_open(&s, "x11", 5, 65536, 16384);
    m_open(&s, "auth-agent@openssh.com", 6, 65536, 16384);
    m_data(&s, 0, "GET / HTTP/1.0\r\n\r\n");
    m_data(&s, 1, "hello");
    m_chan_u32(&s, SSH_MSG_CHANNEL_CLOSE, 0);
    m_chan_u32(&s, SSH_MSG_CHANNEL_CLOSE, 1);
    save("server", "C-open-types", C, 0, &s);

    m_global("tcpip-forward", 1);
    m_str("");
    m_u32(0);
    m_end(&s);
    m_global("tcpip-forward", 1);
    m_str("127.0.0.1");
    m_u32(8022);
    m_end(&s);
    m_global("cancel-tcpip-forward", 1);
    m_str("127.0.0.1");
    m_u32(8022);
    m_end(&s);
    m_global("streamlocal-forward@openssh.com", 1);
    m_str("/tmp/fwd.sock");
    m_end(&s);
    m_global("cancel-streamlocal-forward@openssh.com", 0);
    m_str("/tmp/fwd.sock");
    m_end(&s);
    m_global("keepalive@openssh.com", 1);
    m_end(&s);
    m_global("no-more-sessions@openssh.com", 0);
    m_end(&s);
    m_global("hostkeys-prove-00@openssh.com", 1);
    m_bytes("blob", 4);
    m_end(&s);
    save("server", "C-global-requests", C, 0, &s);
    m_global("tcpip-forward", 1);
    m_str("");
    m_u32(0);
    m_end(&s);
    m_global("keepalive@openssh.com", 1);
    m_end(&s);
    m_open(&s, "session", 0, 65536, 32768);
    m_req(0, "exec", 1);
    m_str("true");
    m_end(&s);
    m_data(&s, 0, "held");
    save("server", "C-deferred", C | FZ_DEFER | FZ_HOLD, 0x01, &s);

    m_open(&s, "session", 0, 65536, 32768);
    m_data_n(&s, 0, 0, 3000);
    m_data_n(&s, 0, 0, 3000); /* beyond the 4 KiB window */
    save("server", "C-window-exceeded", C, FZ_SMALL, &s);
    for (uint32_t i = 0; i < 10; i++)
        m_open(&s, "session", i, 65536, 32768);
    save("server", "C-too-many-channels", C, FZ_SMALL, &s);
    m_open(&s, "session", 0, 65536, 32768);
    m_adjust(&s, 0, 0xffff0000u);
    m_adjust(&s, 0, 0xffff0000u);
    save("server", "C-window-overflow", C, 0, &s);
    m_open(&s, "session", 0, 65536, 32768);
    m_chan_u32(&s, SSH_MSG_CHANNEL_EOF, 0);
    m_data(&s, 0, "after eof");
    save("server", "C-data-after-eof", C, 0, &s);
    m_open(&s, "session", 0, 65536, 32768);
    m_chan_u32(&s, SSH_MSG_CHANNEL_CLOSE, 0);
    m_req(0, "exec", 1);
    m_str("late");
    m_end(&s);
    save("server", "C-request-after-close", C, 0, &s);
    m_chan_u32(&s, SSH_MSG_CHANNEL_CLOSE, 5);
    save("server", "C-unknown-channel", C, 0, &s);
    m_begin(SSH_MSG_REQUEST_SUCCESS);
    m_end(&s);
    save("server", "C-unexpected-reply", C, 0, &s);
    m_userauth(&s, "fuzz", "none");
    m_transport_misc(&s);
    m_open(&s, "session", 0, 65536, 32768);
    save("server", "C-userauth-after-success", C, 0, &s);
    m_open(&s, "session", 0, 65536, 32768);
    m_data(&s, 0, "x");
    save("server", "C-active", C | FZ_ACTIVE, 0x02, &s);
    m_open(&s, "session", 0, 65536, 32768);
    m_open(&s, "session", 1, 65536, 32768);
    save("server", "C-time", C | FZ_TIME | FZ_END, 0x01, &s);

    /* Rekeys in the connection phase: KEXINIT, a valid public value and
     * NEWKEYS (the packets after it would be encrypted). */
    uint8_t pub[200];
    x25519_pub(pub);
    m_kexinit(&s, 0, "curve25519-sha256", 0);
    m_begin(SSH_MSG_KEX_ECDH_INIT);
    m_bytes(pub, 32);
    m_end(&s);
    m_begin(SSH_MSG_NEWKEYS);
    m_end(&s);
    save("server", "C-rekey-curve25519", C, 0, &s);
    size_t pn = nist_generator(NID_X9_62_prime256v1, pub, sizeof(pub));
    m_kexinit(&s, 0, "ecdh-sha2-nistp256", 0);
    m_begin(SSH_MSG_KEX_ECDH_INIT);
    m_bytes(pub, pn);
    m_end(&s);
    m_begin(SSH_MSG_NEWKEYS);
    m_end(&s);
    save("server", "C-rekey-nistp256", C, 0, &s);
    pn = nist_generator(NID_secp521r1, pub, sizeof(pub));
    m_kexinit(&s, 0, "ecdh-sha2-nistp521", 0);
    m_begin(SSH_MSG_KEX_ECDH_INIT);
    m_bytes(pub, pn);
    m_end(&s);
    save("server", "C-rekey-nistp521", C, 0, &s);
    uint8_t two = 2;
    m_kexinit(&s, 0, "diffie-hellman-group14-sha256", 0);
    m_begin(SSH_MSG_KEX_ECDH_INIT);
    m_mpint(&two, 1);
    m_end(&s);
    m_begin(SSH_MSG_NEWKEYS);
    m_end(&s);
    save("server", "C-rekey-dh14", C, 0, &s);
    m_kexinit(&s, 0, "diffie-hellman-group-exchange-sha256", 0);
    m_begin(SSH_MSG_KEX_DH_GEX_REQUEST);
    m_u32(2048);
    m_u32(2048);
    m_u32(8192);
    m_end(&s);
    m_begin(SSH_MSG_KEX_DH_GEX_INIT);
    m_mpint(&two, 1);
    m_end(&s);
    m_begin(SSH_MSG_NEWKEYS);
    m_end(&s);
    save("server", "C-rekey-gex", C, 0, &s);
    m_kexinit(&s, 0, "diffie-hellman-group-exchange-sha256", 0);
    m_begin(SSH_MSG_KEX_DH_GEX_REQUEST);
    m_u32(8192);
    m_u32(1024);
    m_u32(2048);
    m_end(&s);
    save("server", "C-rekey-gex-bad-range", C, 0, &s);
    m_kexinit(&s, 0, "curve25519-sha256", 1); /* wrong guess follows */
    m_begin(SSH_MSG_KEX_ECDH_INIT);
    m_bytes("guess", 5);
    m_end(&s);
    m_begin(SSH_MSG_KEX_ECDH_INIT);
    m_bytes(pub, 32);
    m_end(&s);
    save("server", "C-rekey-guess", C, 0, &s);
    m_kexinit(&s, 0, "sntrup761x25519-sha512@openssh.com", 0);
    save("server", "C-rekey-no-common-kex", C, 0, &s);
    m_kexinit(&s, 0, "curve25519-sha256", 0);
    m_open(&s, "session", 0, 65536, 32768); /* not allowed during kex */
    save("server", "C-rekey-interleaved", C, 0, &s);

    /* -- mode D: replies to the server's own opens and request -- */
    m_confirm(&s, 0, 9, 65536, 32768);
    m_open_fail(&s, 1, SSH_OPEN_CONNECT_FAILED, "connect refused");
    m_begin(SSH_MSG_REQUEST_SUCCESS);
    m_u32(1234);
    m_end(&s);
    m_data(&s, 0, "forwarded data");
    m_adjust(&s, 0, 4096);
    m_chan_u32(&s, SSH_MSG_CHANNEL_EOF, 0);
    m_chan_u32(&s, SSH_MSG_CHANNEL_CLOSE, 0);
    save("server", "D-replies", D, 0, &s);
    m_open_fail(&s, 0, 0, "");
    m_open_fail(&s, 1, 4, "shortage");
    m_begin(SSH_MSG_REQUEST_FAILURE);
    m_end(&s);
    m_begin(SSH_MSG_REQUEST_FAILURE);
    m_end(&s);
    save("server", "D-failures", D, 0, &s);
    m_confirm(&s, 0, 1, 65536, 32768);
    m_confirm(&s, 1, 2, 65536, 32768);
    m_data(&s, 0, "a");
    m_chan_u32(&s, SSH_MSG_CHANNEL_SUCCESS, 0);
    m_chan_u32(&s, SSH_MSG_CHANNEL_FAILURE, 1);
    m_data(&s, 1, "b");
    m_adjust(&s, 0, 100000);
    m_chan_u32(&s, SSH_MSG_CHANNEL_SUCCESS, 0);
    save("server", "D-active", D | FZ_ACTIVE, 0x01, &s);

    /* -- mode A: identification and the first key exchange -- */
    ssh_buf_put(&s, "SSH-2.0-OpenSSH_9.6p1 Debian-4\r\n", 32);
    m_kexinit(&s, 0, "diffie-hellman-group-exchange-sha256", 0);
    m_begin(SSH_MSG_KEX_DH_GEX_REQUEST);
    m_u32(2048);
    m_u32(3072);
    m_u32(8192);
    m_end(&s);
    m_begin(SSH_MSG_KEX_DH_GEX_INIT);
    m_mpint(&two, 1);
    m_end(&s);
    m_begin(SSH_MSG_NEWKEYS);
    m_end(&s);
    save("server", "A-gex", 0, 0, &s);
    ssh_buf_put(&s, "SSH-2.0-PuTTY_Release_0.80\r\n", 28);
    m_kexinit(&s, 0, "diffie-hellman-group14-sha256", 0);
    m_begin(SSH_MSG_KEX_ECDH_INIT);
    m_mpint(&two, 1);
    m_end(&s);
    save("server", "A-dh14", 0, 0, &s);
    pn = nist_generator(NID_secp384r1, pub, sizeof(pub));
    ssh_buf_put(&s, "SSH-2.0-libssh_0.10\n", 20);
    m_kexinit(&s, 0, "ecdh-sha2-nistp384", 0);
    m_begin(SSH_MSG_KEX_ECDH_INIT);
    m_bytes(pub, pn);
    m_end(&s);
    m_begin(SSH_MSG_NEWKEYS);
    m_end(&s);
    save("server", "A-nistp384", 0, 0, &s);
    ssh_buf_put(&s, "SSH-2.0-x\r\n", 11);
    m_begin(SSH_MSG_IGNORE);
    m_str("");
    m_end(&s);
    m_kexinit(&s, 0, "curve25519-sha256", 0);
    save("server", "A-strict-kex-violation", 0, 0, &s);
    ssh_buf_put(&s, "SSH-1.99-old\r\n", 14);
    m_kexinit(&s, 0, "curve25519-sha256", 1);
    m_begin(SSH_MSG_KEX_ECDH_INIT);
    m_bytes(pub, 32);
    m_end(&s);
    save("server", "A-199-guess", 0, 0, &s);
    ssh_buf_put(&s, "SSH-1.5-ancient\r\n", 17);
    save("server", "A-ssh1", 0, 0, &s);
    ssh_buf_put(&s, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27);
    save("server", "A-not-ssh", 0, 0, &s);
    ssh_buf_put(&s, "SSH-2.0-nul\0inside\r\n", 20);
    save("server", "A-ident-nul", 0, 0, &s);
    for (int i = 0; i < 300; i++)
        ssh_buf_put_u8(&s, 'S');
    save("server", "A-ident-too-long", 0, 0, &s);

    /* -- known-bad framing -- */
    static const uint8_t pl[] = {SSH_MSG_IGNORE, 0, 0, 0, 0};
    raw_packet(&s, 100, 4, pl, sizeof(pl), 10); /* truncated */
    save("server", "C-bad-truncated", C, 0, &s);
    raw_packet(&s, 0x00100000u, 4, pl, sizeof(pl), 4); /* oversize */
    save("server", "C-bad-oversize", C, 0, &s);
    raw_packet(&s, 12, 2, pl, sizeof(pl), 6); /* padding < 4 */
    save("server", "C-bad-short-padding", C, 0, &s);
    raw_packet(&s, 13, 4, pl, sizeof(pl), 7); /* not aligned */
    save("server", "C-bad-unaligned", C, 0, &s);
    raw_packet(&s, 12, 11, pl, sizeof(pl), 6); /* padding covers all */
    save("server", "C-bad-padding-too-long", C, 0, &s);
    raw_packet(&s, 0, 0, pl, 0, 0);
    save("server", "C-bad-zero-length", C, 0, &s);
    ssh_buf_put(&s, "SSH-2.0-x\r\n", 11);
    raw_packet(&s, 0xffffffffu, 0xff, pl, sizeof(pl), 0);
    save("server", "A-bad-oversize", 0, 0, &s);
    /* Empty payloads of every message number the engine knows. */
    for (int t = 1; t <= 100; t++) {
        uint8_t one = (uint8_t)t;
        frame(&s, &one, 1);
    }
    save("server", "C-empty-messages", C, 0, &s);
    for (int t = 1; t <= 100; t++) {
        uint8_t one = (uint8_t)t;
        frame(&s, &one, 1);
    }
    save("server", "B-empty-messages", B, 0, &s);

    ssh_buf_free(&s);
    ssh_buf_free(&blob);
}

/* ---- hand-built client seeds ------------------------------------------------------- */

static void crafted_client(void)
{
    ssh_buf s, blob;
    ssh_buf_init(&s, 0, 0);
    ssh_buf_init(&blob, 0, 0);
    const uint8_t A = FZ_MODE_A, B = FZ_MODE_B, C = FZ_MODE_C, D = FZ_MODE_D;

    /* -- mode B: answers to the outstanding attempt (variant order) -- */
    m_begin(SSH_MSG_USERAUTH_BANNER);
    m_str("Authorized users only.\n");
    m_str("en");
    m_end(&s);
    m_begin(SSH_MSG_EXT_INFO);
    m_u32(1);
    m_str("server-sig-algs");
    m_str("ssh-ed25519,rsa-sha2-512");
    m_end(&s);
    m_begin(SSH_MSG_USERAUTH_FAILURE);
    m_str("publickey,password,keyboard-interactive");
    m_bool(0);
    m_end(&s);
    m_begin(SSH_MSG_USERAUTH_SUCCESS);
    m_end(&s);
    m_confirm(&s, 0, 0, 2097152, 32768);
    m_chan_u32(&s, SSH_MSG_CHANNEL_SUCCESS, 0);
    m_chan_u32(&s, SSH_MSG_CHANNEL_SUCCESS, 0);
    m_begin(SSH_MSG_REQUEST_SUCCESS);
    m_u32(40000);
    m_end(&s);
    m_data(&s, 0, "output\n");
    m_data_n(&s, 0, 1, 30);
    m_exit_requests(&s, 0);
    m_chan_u32(&s, SSH_MSG_CHANNEL_EOF, 0);
    m_chan_u32(&s, SSH_MSG_CHANNEL_CLOSE, 0);
    save("client", "B-fail-then-success", B, FZ_VARIANT(0), &s);

    m_begin(SSH_MSG_USERAUTH_PK_OK); /* PASSWD_CHANGEREQ while a password is out */
    m_str("Password expired");
    m_str("en");
    m_end(&s);
    m_begin(SSH_MSG_USERAUTH_SUCCESS);
    m_end(&s);
    save("client", "B-passwd-changereq", B, FZ_VARIANT(0), &s);

    key_blob(fz_key(FZ_USER_KEY), &blob);
    m_begin(SSH_MSG_USERAUTH_PK_OK);
    m_str("ssh-ed25519");
    m_bufstr(&blob);
    m_end(&s);
    m_begin(SSH_MSG_USERAUTH_FAILURE);
    m_str("password");
    m_bool(1);
    m_end(&s);
    m_begin(SSH_MSG_USERAUTH_SUCCESS);
    m_end(&s);
    save("client", "B-pk-ok-partial", B, FZ_VARIANT(1), &s);

    m_begin(SSH_MSG_USERAUTH_INFO_REQUEST);
    m_str("Two factor");
    m_str("Answer both");
    m_str("");
    m_u32(2);
    m_str("Password: ");
    m_bool(0);
    m_str("Code: ");
    m_bool(1);
    m_end(&s);
    m_begin(SSH_MSG_USERAUTH_INFO_REQUEST);
    m_str("");
    m_str("");
    m_str("");
    m_u32(0);
    m_end(&s);
    m_begin(SSH_MSG_USERAUTH_SUCCESS);
    m_end(&s);
    save("client", "B-kbdint", B, FZ_VARIANT(2), &s);
    m_begin(SSH_MSG_USERAUTH_INFO_REQUEST);
    m_str("");
    m_str("");
    m_str("");
    m_u32(33);
    m_end(&s);
    save("client", "B-kbdint-too-many-prompts", B, FZ_VARIANT(2), &s);

    for (int i = 0; i < 3; i++) {
        m_begin(SSH_MSG_USERAUTH_FAILURE);
        m_str(i == 1 ? "publickey" : "publickey,password");
        m_bool(i == 1);
        m_end(&s);
    }
    m_begin(SSH_MSG_USERAUTH_SUCCESS);
    m_end(&s);
    save("client", "B-failures", B, FZ_VARIANT(3), &s);
    m_begin(SSH_MSG_USERAUTH_SUCCESS);
    m_end(&s);
    m_begin(SSH_MSG_USERAUTH_SUCCESS);
    m_end(&s);
    save("client", "B-double-success", B, FZ_VARIANT(0), &s);
    m_begin(SSH_MSG_USERAUTH_SUCCESS);
    m_end(&s);
    save("client", "B-deferred-sign", B | FZ_DEFER, FZ_VARIANT(3), &s);
    m_transport_misc(&s);
    m_begin(SSH_MSG_SERVICE_ACCEPT);
    m_str("ssh-userauth");
    m_end(&s);
    save("client", "B-misc-service-accept", B, 0, &s);
    m_begin(SSH_MSG_USERAUTH_FAILURE);
    m_str("publickey");
    m_bool(0);
    m_end(&s);
    save("client", "B-sign-fails", B, FZ_VARIANT(3) | FZ_ALT, &s);

    /* -- mode C: the session open and tcpip-forward are outstanding -- */
    m_confirm(&s, 0, 3, 2097152, 32768);
    m_begin(SSH_MSG_REQUEST_SUCCESS);
    m_u32(40000);
    m_end(&s);
    m_chan_u32(&s, SSH_MSG_CHANNEL_SUCCESS, 3);
    m_chan_u32(&s, SSH_MSG_CHANNEL_FAILURE, 3);
    m_chan_u32(&s, SSH_MSG_CHANNEL_SUCCESS, 0);
    m_chan_u32(&s, SSH_MSG_CHANNEL_FAILURE, 0);
    m_data(&s, 0, "Linux\n");
    m_data_n(&s, 0, 1, 64);
    m_adjust(&s, 0, 1 << 20);
    m_exit_requests(&s, 0);
    m_chan_u32(&s, SSH_MSG_CHANNEL_EOF, 0);
    m_chan_u32(&s, SSH_MSG_CHANNEL_CLOSE, 0);
    save("client", "C-session", C, 0, &s);

    m_open_fail(&s, 0, SSH_OPEN_ADMINISTRATIVELY_PROHIBITED, "open failed");
    m_begin(SSH_MSG_REQUEST_FAILURE);
    m_end(&s);
    m_begin(SSH_MSG_REQUEST_FAILURE);
    m_end(&s);
    save("client", "C-open-failure", C, 0, &s);

    m_open(&s, "forwarded-tcpip", 10, 65536, 32768);
    m_open(&s, "forwarded-streamlocal@openssh.com", 11, 65536, 32768);
    m_open(&s, "x11", 12, 65536, 32768);
    m_open(&s, "auth-agent@openssh.com", 13, 65536, 32768);
    m_open(&s, "session", 14, 65536, 32768);
    m_data(&s, 1, "forwarded");
    m_data(&s, 2, "local");
    m_chan_u32(&s, SSH_MSG_CHANNEL_CLOSE, 1);
    save("client", "C-server-opens", C, 0, &s);
    m_global("hostkeys-00@openssh.com", 0);
    key_blob(gen_key(SSH_KEY_ECDSA_P256), &blob);
    m_bufstr(&blob);
    m_end(&s);
    m_global("keepalive@openssh.com", 1);
    m_end(&s);
    m_global("unknown@example.com", 1);
    m_raw("\x01\x02", 2);
    m_end(&s);
    save("client", "C-global-requests", C, 0, &s);
    m_confirm(&s, 0, 3, 2097152, 32768);
    m_chan_u32(&s, SSH_MSG_CHANNEL_SUCCESS, 0);
    m_req(0, "exit-status", 1);
    m_u32(0);
    m_end(&s);
    m_data(&s, 0, "held data");
    save("client", "C-deferred-held", C | FZ_DEFER | FZ_HOLD, 0x01, &s);
    m_confirm(&s, 0, 3, 1000, 100);
    m_data_n(&s, 0, 0, 200);
    m_adjust(&s, 0, 1000);
    save("client", "C-active", C | FZ_ACTIVE, 0x03, &s);
    m_confirm(&s, 0, 3, 2097152, 32768);
    m_data_n(&s, 0, 0, 5000);
    save("client", "C-window-exceeded", C, FZ_SMALL, &s);
    m_confirm(&s, 0, 3, 2097152, 32768);
    m_confirm(&s, 0, 3, 2097152, 32768);
    save("client", "C-double-confirm", C, 0, &s);
    m_confirm(&s, 0, 3, 2097152, 32768);
    save("client", "C-time", C | FZ_TIME, 0x01, &s);
    m_kexinit(&s, 1, "curve25519-sha256", 0);
    m_begin(SSH_MSG_KEX_ECDH_REPLY);
    key_blob(fz_key(FZ_HOST_KEY), &blob);
    m_bufstr(&blob);
    uint8_t pub[200];
    x25519_pub(pub);
    m_bytes(pub, 32);
    m_bytes("\0\0\0\x0bssh-ed25519\0\0\0\x40"
            "0123456789012345678901234567890123456789012345678901234567890123",
            15 + 4 + 64);
    m_end(&s);
    save("client", "C-rekey-bad-signature", C, 0, &s);
    BIGNUM *p2048 = BN_get_rfc3526_prime_2048(NULL);
    m_kexinit(&s, 1, "diffie-hellman-group-exchange-sha256", 0);
    m_begin(SSH_MSG_KEX_DH_GEX_GROUP);
    m_mpint_bn(p2048);
    uint8_t two = 2;
    m_mpint(&two, 1);
    m_end(&s);
    save("client", "C-rekey-gex-group", C, 0, &s);
    m_kexinit(&s, 1, "diffie-hellman-group-exchange-sha256", 0);
    m_begin(SSH_MSG_KEX_DH_GEX_GROUP);
    m_mpint(&two, 1);
    m_mpint(&two, 1);
    m_end(&s);
    save("client", "C-rekey-gex-bad-group", C, 0, &s);

    /* -- mode D -- */
    m_confirm(&s, 0, 20, 65536, 32768);
    m_confirm(&s, 1, 21, 65536, 32768);
    m_confirm(&s, 2, 22, 65536, 32768);
    m_open_fail(&s, 3, SSH_OPEN_UNKNOWN_CHANNEL_TYPE, "unknown channel type");
    m_begin(SSH_MSG_REQUEST_SUCCESS);
    m_u32(40001);
    m_end(&s);
    m_begin(SSH_MSG_REQUEST_SUCCESS);
    m_end(&s);
    m_data(&s, 1, "tcp data");
    m_data(&s, 2, "unix data");
    m_chan_u32(&s, SSH_MSG_CHANNEL_EOF, 1);
    m_chan_u32(&s, SSH_MSG_CHANNEL_CLOSE, 1);
    m_chan_u32(&s, SSH_MSG_CHANNEL_CLOSE, 2);
    save("client", "D-replies", D, 0, &s);

    /* -- mode A -- */
    ssh_buf_put(&s, "Hello\r\nThis is a banner\r\n", 25);
    ssh_buf_put(&s, "SSH-2.0-OpenSSH_9.6\r\n", 21);
    m_kexinit(&s, 1, "curve25519-sha256", 0);
    save("client", "A-banner-kexinit", A, 0, &s);
    for (int i = 0; i < 20; i++)
        ssh_buf_put(&s, "line\r\n", 6);
    save("client", "A-too-many-lines", A, FZ_SMALL, &s);
    ssh_buf_put(&s, "SSH-1.99-Cisco-1.25\r\n", 21);
    m_kexinit(&s, 1, "diffie-hellman-group-exchange-sha256", 0);
    m_begin(SSH_MSG_KEX_DH_GEX_GROUP);
    m_mpint_bn(p2048);
    m_mpint(&two, 1);
    m_end(&s);
    save("client", "A-gex-group", A, 0, &s);
    ssh_buf_put(&s, "SSH-2.0-x\r\n", 11);
    m_begin(SSH_MSG_KEXINIT);
    m_raw("0123456789abcdef", 16);
    for (int i = 0; i < 10; i++)
        m_str(i == 2 || i == 3 ? "3des-cbc" : "curve25519-sha256,ssh-ed25519,none");
    m_bool(0);
    m_u32(0);
    m_end(&s);
    save("client", "A-no-common-cipher", A, 0, &s);
    ssh_buf_put(&s, "SSH-2.0-x\r\n", 11);
    m_kexinit(&s, 1, "ecdh-sha2-nistp256", 1);
    m_begin(SSH_MSG_KEX_ECDH_REPLY);
    m_str("wrong guess");
    m_end(&s);
    save("client", "A-guess", A, 0, &s);
    ssh_buf_put(&s, "SSH-2.0-x\r\n", 11);
    raw_packet(&s, 44, 4, (const uint8_t *)"\x14", 1, 2);
    save("client", "A-bad-truncated", A, 0, &s);

    BN_free(p2048);
    ssh_buf_free(&s);
    ssh_buf_free(&blob);
}

/* ---- key corpus ------------------------------------------------------------------- */

/* openssh-key-v1 encrypted with bcrypt (passphrase "x") as ssh-keygen -a 2. */
static void write_encrypted_openssh(const char *name, const ssh_key *k, const char *cipher)
{
    int gcm = strstr(cipher, "gcm") != NULL;
    const char *evp = strcmp(cipher, "aes256-ctr") == 0   ? "AES-256-CTR"
                      : strcmp(cipher, "aes128-cbc") == 0 ? "AES-128-CBC"
                                                          : "AES-256-GCM";
    size_t keylen = strcmp(cipher, "aes128-cbc") == 0 ? 16 : 32, ivlen = gcm ? 12 : 16;
    uint8_t salt[16], kiv[48], tag[16];
    for (int i = 0; i < 16; i++)
        salt[i] = (uint8_t)(0xa0 + i);
    if (ssh_bcrypt_pbkdf((const uint8_t *)"x", 1, salt, sizeof(salt), kiv, keylen + ivlen, 2) != 0)
        die("bcrypt_pbkdf");
    ssh_buf pub, sect, f, b64, text;
    ssh_buf_init(&pub, 0, 0);
    ssh_buf_init(&sect, 0, 0);
    ssh_buf_init(&f, 0, 0);
    ssh_buf_init(&b64, 0, 0);
    ssh_buf_init(&text, 0, 0);
    key_blob(k, &pub);
    ssh_buf_put_u32(&sect, 0x12345678);
    ssh_buf_put_u32(&sect, 0x12345678);
    if (ssh_key_put_private(k, &sect) != 0)
        die("ssh_key_put_private");
    ssh_buf_put_cstring(&sect, "encrypted fuzz key");
    for (uint8_t i = 1; ssh_buf_len(&sect) % 16 != 0; i++)
        ssh_buf_put_u8(&sect, i);
    EVP_CIPHER *ec = EVP_CIPHER_fetch(NULL, evp, NULL);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int outl = 0, finl = 0;
    uint8_t *p = ssh_buf_mutable_ptr(&sect);
    if (ec == NULL || ctx == NULL || EVP_EncryptInit_ex2(ctx, ec, NULL, NULL, NULL) != 1 ||
        (gcm && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_IVLEN, (int)ivlen, NULL) != 1) ||
        EVP_EncryptInit_ex2(ctx, NULL, kiv, kiv + keylen, NULL) != 1 ||
        EVP_CIPHER_CTX_set_padding(ctx, 0) != 1 ||
        EVP_EncryptUpdate(ctx, p, &outl, p, (int)ssh_buf_len(&sect)) != 1 ||
        EVP_EncryptFinal_ex(ctx, p + outl, &finl) != 1 ||
        (gcm && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, tag) != 1))
        die("encrypting key");
    EVP_CIPHER_CTX_free(ctx);
    EVP_CIPHER_free(ec);
    ssh_buf_put(&f, "openssh-key-v1", 15);
    ssh_buf_put_cstring(&f, cipher);
    ssh_buf_put_cstring(&f, "bcrypt");
    ssh_buf opts;
    ssh_buf_init(&opts, 0, 0);
    ssh_buf_put_string(&opts, salt, sizeof(salt));
    ssh_buf_put_u32(&opts, 2);
    ssh_buf_put_stringb(&f, &opts);
    ssh_buf_free(&opts);
    ssh_buf_put_u32(&f, 1);
    ssh_buf_put_stringb(&f, &pub);
    ssh_buf_put_stringb(&f, &sect);
    if (gcm)
        ssh_buf_put(&f, tag, sizeof(tag));
    ssh_base64_encode(ssh_buf_ptr(&f), ssh_buf_len(&f), &b64);
    ssh_buf_put(&text, "-----BEGIN OPENSSH PRIVATE KEY-----\n", 36);
    for (size_t off = 0; off < ssh_buf_len(&b64); off += 70) {
        size_t n = ssh_buf_len(&b64) - off;
        ssh_buf_put(&text, ssh_buf_ptr(&b64) + off, n > 70 ? 70 : n);
        ssh_buf_put_u8(&text, '\n');
    }
    ssh_buf_put(&text, "-----END OPENSSH PRIVATE KEY-----\n", 34);
    write_file("key", name, ssh_buf_ptr(&text), ssh_buf_len(&text));
    ssh_buf_free(&pub);
    ssh_buf_free(&sect);
    ssh_buf_free(&f);
    ssh_buf_free(&b64);
    ssh_buf_free(&text);
}

static void write_pem(const char *name, const ssh_key *k, int pkcs8, int encrypt)
{
    BIO *bio = BIO_new(BIO_s_mem());
    EVP_PKEY *pk = ssh_key_evp(k);
    int ok;
    if (pkcs8)
        ok = PEM_write_bio_PKCS8PrivateKey(bio, pk, encrypt ? EVP_aes_128_cbc() : NULL,
                                           encrypt ? "x" : NULL, encrypt ? 1 : 0, NULL, NULL);
    else
        ok = PEM_write_bio_PrivateKey_traditional(bio, pk, encrypt ? EVP_aes_128_cbc() : NULL,
                                                  encrypt ? (unsigned char *)"x" : NULL,
                                                  encrypt ? 1 : 0, NULL, NULL);
    if (!ok)
        die("PEM write");
    char *p;
    long n = BIO_get_mem_data(bio, &p);
    write_file("key", name, (const uint8_t *)p, (size_t)n);
    BIO_free(bio);
}

static void key_corpus(void)
{
    static const struct {
        const char *tag;
        int type;
        const char *alg;
    } kt[] = {
        {"ed25519", SSH_KEY_ED25519, "ssh-ed25519"},
        {"ecdsa256", SSH_KEY_ECDSA_P256, "ecdsa-sha2-nistp256"},
        {"ecdsa384", SSH_KEY_ECDSA_P384, "ecdsa-sha2-nistp384"},
        {"ecdsa521", SSH_KEY_ECDSA_P521, "ecdsa-sha2-nistp521"},
        {"rsa", SSH_KEY_RSA, "rsa-sha2-256"},
    };
    static const uint8_t data[] = "data signed by the fuzz corpus generator";
    char name[128];
    printf("key corpus\n");
    for (size_t i = 0; i < sizeof(kt) / sizeof(kt[0]); i++) {
        const ssh_key *k = gen_key((enum ssh_key_type)kt[i].type);
        ssh_buf blob, sig, t;
        ssh_buf_init(&blob, 0, 0);
        ssh_buf_init(&sig, 0, 0);
        ssh_buf_init(&t, 0, 0);
        key_blob(k, &blob);
        snprintf(name, sizeof(name), "blob-%s", kt[i].tag);
        write_file("key", name, ssh_buf_ptr(&blob), ssh_buf_len(&blob));

        char *line = NULL;
        if (ssh_key_to_public_line(k, "user@fuzz", &line) != 0)
            die("to_public_line");
        snprintf(name, sizeof(name), "line-%s", kt[i].tag);
        write_file("key", name, (const uint8_t *)line, strlen(line));
        free(line);

        char *priv = NULL;
        if (ssh_key_to_private_openssh(k, "fuzz", &priv) != 0)
            die("to_private_openssh");
        snprintf(name, sizeof(name), "openssh-%s", kt[i].tag);
        write_file("key", name, (const uint8_t *)priv, strlen(priv));
        free(priv);

        if (ssh_key_sign(k, kt[i].alg, 0, data, sizeof(data), &sig) != 0)
            die("sign");
        snprintf(name, sizeof(name), "sig-%s", kt[i].tag);
        write_file("key", name, ssh_buf_ptr(&sig), ssh_buf_len(&sig));
        ssh_buf_put_stringb(&t, &blob);
        ssh_buf_put_stringb(&t, &sig);
        ssh_buf_put(&t, data, sizeof(data));
        snprintf(name, sizeof(name), "triple-%s", kt[i].tag);
        write_file("key", name, ssh_buf_ptr(&t), ssh_buf_len(&t));
        ssh_buf_free(&blob);
        ssh_buf_free(&sig);
        ssh_buf_free(&t);
    }
    /* RSA signature variants and a SHA-1 one. */
    static const char *const rsa_algs[] = {"rsa-sha2-512", "ssh-rsa"};
    for (int i = 0; i < 2; i++) {
        const ssh_key *k = gen_key(SSH_KEY_RSA);
        ssh_buf blob, sig, t;
        ssh_buf_init(&blob, 0, 0);
        ssh_buf_init(&sig, 0, 0);
        ssh_buf_init(&t, 0, 0);
        key_blob(k, &blob);
        if (ssh_key_sign(k, rsa_algs[i], SSH_KEY_ALLOW_SHA1, data, sizeof(data), &sig) != 0)
            die("sign");
        ssh_buf_put_stringb(&t, &blob);
        ssh_buf_put_stringb(&t, &sig);
        ssh_buf_put(&t, data, sizeof(data));
        snprintf(name, sizeof(name), "triple-%s", rsa_algs[i]);
        write_file("key", name, ssh_buf_ptr(&t), ssh_buf_len(&t));
        ssh_buf_free(&blob);
        ssh_buf_free(&sig);
        ssh_buf_free(&t);
    }
    write_encrypted_openssh("openssh-enc-aes256ctr-ed25519", gen_key(SSH_KEY_ED25519),
                            "aes256-ctr");
    write_encrypted_openssh("openssh-enc-aes256gcm-ecdsa256", gen_key(SSH_KEY_ECDSA_P256),
                            "aes256-gcm@openssh.com");
    write_encrypted_openssh("openssh-enc-aes128cbc-rsa", gen_key(SSH_KEY_RSA), "aes128-cbc");
    write_pem("pem-pkcs8-ed25519", gen_key(SSH_KEY_ED25519), 1, 0);
    write_pem("pem-pkcs8-ecdsa384", gen_key(SSH_KEY_ECDSA_P384), 1, 0);
    write_pem("pem-sec1-ecdsa256", gen_key(SSH_KEY_ECDSA_P256), 0, 0);
    write_pem("pem-pkcs1-rsa", gen_key(SSH_KEY_RSA), 0, 0);
    write_pem("pem-pkcs8-enc-ecdsa256", gen_key(SSH_KEY_ECDSA_P256), 1, 1);
    write_pem("pem-pkcs1-enc-rsa", gen_key(SSH_KEY_RSA), 0, 1);

    /* Known-bad and edge inputs. */
    static const char line_bad[] = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI== comment\n";
    write_file("key", "line-bad-base64", (const uint8_t *)line_bad, sizeof(line_bad) - 1);
    static const char line_mismatch[] =
        "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIKRHKDm2a6yCPT01+W2dfoKnTDyi/yoU9kewNG0sF0ys x\n";
    write_file("key", "line-type-mismatch", (const uint8_t *)line_mismatch,
               sizeof(line_mismatch) - 1);
    static const uint8_t blob_trunc[] = {0,   0,   0,   11,  's', 's', 'h', '-', 'e', 'd', '2',
                                         '5', '5', '1', '9', 0,   0,   0,   32,  1,   2};
    write_file("key", "blob-truncated", blob_trunc, sizeof(blob_trunc));
    static const uint8_t sig_ecdsa_neg[] = {0,   0,    0,   19,  'e', 'c', 'd', 's', 'a', '-',
                                            's', 'h',  'a', '2', '-', 'n', 'i', 's', 't', 'p',
                                            '2', '5',  '6', 0,   0,   0,   10,  0,   0,   0,
                                            1,   0x80, 0,   0,   0,   1,   1};
    write_file("key", "sig-ecdsa-negative", sig_ecdsa_neg, sizeof(sig_ecdsa_neg));
    static const char armor_only[] =
        "-----BEGIN OPENSSH PRIVATE KEY-----\n-----END OPENSSH PRIVATE KEY-----\n";
    write_file("key", "openssh-empty", (const uint8_t *)armor_only, sizeof(armor_only) - 1);
}

/* ---- wire corpus ------------------------------------------------------------------ */

static void wire_seed(const char *name, const uint8_t *prog, size_t plen, const ssh_buf *data)
{
    ssh_buf f;
    ssh_buf_init(&f, 0, 0);
    ssh_buf_put_u8(&f, (uint8_t)plen);
    ssh_buf_put(&f, prog, plen);
    ssh_buf_put(&f, ssh_buf_ptr(data), ssh_buf_len(data));
    write_file("wire", name, ssh_buf_ptr(&f), ssh_buf_len(&f));
    ssh_buf_free(&f);
}

static void wire_corpus(void)
{
    ssh_buf d;
    ssh_buf_init(&d, 0, 0);
    printf("wire corpus\n");
    /* Scalars: u8 bool u32 u64 bytes(3) skip(2*2) end. */
    ssh_buf_put_u8(&d, 0x42);
    ssh_buf_put_u8(&d, 0x02);
    ssh_buf_put_u32(&d, 0xdeadbeef);
    ssh_buf_put_u64(&d, 0x0102030405060708ull);
    ssh_buf_put(&d, "abcdefg", 7);
    static const uint8_t p1[] = {0, 1, 2, 3, 4, 3, 5, 2, 12, 0, 12};
    wire_seed("scalars", p1, sizeof(p1), &d);
    ssh_buf_reset(&d);

    /* Strings, C strings, strdup, nested cursor. */
    ssh_buf_put_cstring(&d, "hello");
    ssh_buf_put_cstring(&d, "world");
    ssh_buf_put_string(&d, "nul\0inside", 10);
    ssh_buf_put_cstring(&d, "dup");
    ssh_buf nested;
    ssh_buf_init(&nested, 0, 0);
    ssh_buf_put_u32(&nested, 7);
    ssh_buf_put_cstring(&nested, "inner");
    ssh_buf_put_stringb(&d, &nested);
    ssh_buf_free(&nested);
    ssh_buf_put_u8(&d, 1);
    static const uint8_t p2[] = {6, 9, 10, 9, 64, 10, 4, 7, 2, 9, 3, 12, 8, 0, 12};
    wire_seed("strings", p2, sizeof(p2), &d);
    ssh_buf_reset(&d);

    /* mpints: 0, 0x7f, 0x80 (00 80), a big one, then a negative and a
     * non-minimal one. */
    static const uint8_t m1[] = {0x7f}, m2[] = {0x80}, m3[] = {0x01, 0x00, 0x00, 0x00, 0x00};
    ssh_buf_put_mpint(&d, NULL, 0);
    ssh_buf_put_mpint(&d, m1, 1);
    ssh_buf_put_mpint(&d, m2, 1);
    ssh_buf_put_mpint(&d, m3, sizeof(m3));
    ssh_buf_put(&d, "\0\0\0\x01\x80", 5);
    ssh_buf_put(&d, "\0\0\0\x02\x00\x01", 6);
    ssh_buf_put(&d, "\0\0\0\x01\x00", 5);
    static const uint8_t p3[] = {11, 11, 11, 11, 11, 5, 2, 11, 5, 2, 11, 11};
    wire_seed("mpints", p3, sizeof(p3), &d);
    ssh_buf_reset(&d);

    /* Name-lists. */
    ssh_buf_put_cstring(&d, "curve25519-sha256,ecdh-sha2-nistp256,diffie-hellman-group14-sha256");
    ssh_buf_put_cstring(&d, "ecdh-sha2-nistp256");
    ssh_buf_put_cstring(&d, "aes128-ctr,chacha20-poly1305@openssh.com,,aes256-gcm@openssh.com");
    ssh_buf_put_cstring(&d, "aes256-gcm@openssh.com,chacha20-poly1305@openssh.com");
    ssh_buf_put_cstring(&d, "a,b,c");
    ssh_buf_put_cstring(&d, "d,e");
    static const uint8_t p4[] = {13, 14, 63, 14, 3};
    wire_seed("namelists", p4, sizeof(p4), &d);
    ssh_buf_reset(&d);

    /* Encoders into a small buffer. */
    ssh_buf_put_cstring(&d, "0123456789abcdef0123456789");
    ssh_buf_put_u32(&d, 99);
    ssh_buf_put_cstring(&d, "fits");
    static const uint8_t p5[] = {15, 8, 15, 4, 15, 40};
    wire_seed("encoders", p5, sizeof(p5), &d);
    ssh_buf_reset(&d);

    /* Truncated everything. */
    ssh_buf_put(&d, "\0\0\x01\x00\x01", 5);
    static const uint8_t p6[] = {6, 7, 9, 10, 10, 10, 11, 3, 2, 1, 0, 0, 0, 0, 0, 12};
    wire_seed("truncated", p6, sizeof(p6), &d);
    ssh_buf_free(&d);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s <corpus-dir>\n", argv[0]);
        return 2;
    }
    outdir = argv[1];
    mkdir_p(outdir);
    ssh_buf_init(&M, 0, 0);
    recorded_a();
    recorded_bcd();
    printf("hand-built server and client seeds\n");
    crafted_server();
    crafted_client();
    key_corpus();
    wire_corpus();
    ssh_buf_free(&M);
    printf("%d files, %zu bytes; %d recorded seeds do not replay fully\n", total_files, total_bytes,
           replay_problems);
    return replay_problems ? 1 : 0;
}
