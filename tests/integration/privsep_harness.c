/*
 * privsep_harness.c - plays a compromised sshtund network process against
 * the real privileged helper (for it_privsep.sh; runs as root).
 *
 * It starts the helper exactly as sshtund does (tun_privd_helper_main on
 * one end of a SOCK_SEQPACKET pair) and then speaks tun_privproto.h
 * directly, sending every request type with hostile arguments - another
 * user, root, a forced-command bypass, an address the client does not
 * have, a token that was never opened or already released, a signature
 * replayed from another connection - and checks that each is refused.
 * Each refusal has a control next to it (the same request where it should
 * succeed), so a refusal for the wrong reason does not pass.
 *
 *   privsep_harness <config> <user> <password> <dir>
 *
 * <dir> holds ed25519 private keys "plain", "forced", "nopty", "from_other"
 * and "from_local", listed in <dir>/ak/<user> with their options (and
 * "plain" in <dir>/ak/root); the configuration has AuthorizedKeysFile
 * <dir>/ak/%u, PermitRootLogin no, MaxAuthTries 3, AcceptEnv IT_*.
 * Prints "ok: ..." / "FAIL: ..." lines and "N passed, N failed".
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "tun_privproto.h"
#include "tun_sock.h"
#include "tun_srv.h"
#include "tun_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "sshtun/key.h"

static int hsock = -1;
static uint32_t next_id;
static int passes, fails;
static const char *dir, *user, *password;
static int listener = -1;
static uint64_t next_token = 1000;
static uint8_t conn_sid[32]; /* the session id of the newest connection */
static ssh_key *hostkey;     /* the helper's (from <dir>/hostkey) */
static pid_t exited[64];
static int n_exited;

static void check(const char *what, int ok)
{
    printf("%s: %s\n", ok ? "ok" : "FAIL", what);
    fflush(stdout);
    if (ok)
        passes++;
    else
        fails++;
}

/* ---- the wire ------------------------------------------------------------------------------- */

static uint32_t send_req(uint32_t type, uint64_t token, const ssh_buf *body, int fd)
{
    ssh_buf m;
    ssh_buf_init(&m, TUN_PRIV_MSG_MAX, 0);
    uint32_t id = ++next_id;
    ssh_buf_put_u32(&m, type);
    ssh_buf_put_u32(&m, id);
    ssh_buf_put_u64(&m, token);
    if (body)
        ssh_buf_put(&m, ssh_buf_ptr(body), ssh_buf_len(body));
    if (tun_send_fds(hsock, ssh_buf_ptr(&m), ssh_buf_len(&m), &fd, fd >= 0 ? 1 : 0) != 0) {
        perror("send to helper");
        exit(1);
    }
    ssh_buf_free(&m);
    return id;
}

/* Wait up to `ms` for the answer to `id`: its body in `out`, descriptors
 * in fds.  0, or -1 on timeout. */
static int wait_answer(uint32_t id, int ms, ssh_buf *out, int *fds, int *nfds)
{
    static uint8_t buf[TUN_PRIV_MSG_MAX];
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        int left = ms - (int)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
        if (left <= 0)
            return -1;
        struct pollfd p = {hsock, POLLIN, 0};
        if (poll(&p, 1, left) <= 0)
            continue;
        int f[3], nf = 0;
        int n = tun_recv_fds(hsock, buf, sizeof(buf), f, &nf);
        if (n <= 0) {
            fprintf(stderr, "helper gone\n");
            exit(1);
        }
        ssh_cur c;
        uint32_t type, rid;
        ssh_cur_init(&c, buf, (size_t)n);
        if (ssh_cur_get_u32(&c, &type) != 0 || ssh_cur_get_u32(&c, &rid) != 0)
            continue;
        if (type == TUN_PRIV_EV_EXIT) {
            uint32_t pid;
            if (ssh_cur_get_u32(&c, &pid) == 0 && n_exited < 64)
                exited[n_exited++] = (pid_t)pid;
            continue;
        }
        if (rid != id) {
            for (int i = 0; i < nf; i++)
                close(f[i]);
            continue;
        }
        if (out)
            ssh_buf_put(out, c.p, c.len);
        for (int i = 0; i < nf; i++) {
            if (fds && i < 3)
                fds[i] = f[i];
            else
                close(f[i]);
        }
        if (nfds)
            *nfds = nf;
        return 0;
    }
}

/* SIGN: 1 signed (and the signature verifies), 0 refused. */
static int sign(uint64_t token, const ssh_key *key, const uint8_t *h, size_t hlen)
{
    ssh_buf b, r, blob;
    ssh_buf_init(&b, 65536, 0);
    ssh_buf_init(&r, 65536, 0);
    ssh_buf_init(&blob, 65536, 0);
    ssh_key_to_blob(key, &blob);
    ssh_buf_put_stringb(&b, &blob);
    ssh_buf_put_cstring(&b, "ssh-ed25519");
    ssh_buf_put_string(&b, h, hlen);
    int ok = 0;
    if (wait_answer(send_req(TUN_PRIV_SIGN, token, &b, -1), 15000, &r, NULL, NULL) == 0) {
        ssh_cur c;
        const uint8_t *sig;
        size_t sl;
        ssh_cur_from_buf(&c, &r);
        ok = ssh_cur_get_bool(&c, &ok) == 0 && ok && ssh_cur_get_string(&c, &sig, &sl) == 0 &&
             ssh_key_verify(hostkey, "ssh-ed25519", 0, sig, sl, h, hlen) == 0;
    }
    ssh_buf_free(&b);
    ssh_buf_free(&r);
    ssh_buf_free(&blob);
    return ok;
}

/* A connection to `lfd` from `from` (NULL: 127.0.0.1) handed to the helper
 * with a claimed PROXY header (NULL: none). */
static uint64_t conn_open_via(int lfd, const char *from, const char *hdr, size_t hlen)
{
    struct sockaddr_in a;
    socklen_t al = sizeof(a);
    getsockname(lfd, (struct sockaddr *)&a, &al);
    int cfd = socket(AF_INET, SOCK_STREAM, 0);
    if (from) {
        struct sockaddr_in b = {0};
        b.sin_family = AF_INET;
        inet_pton(AF_INET, from, &b.sin_addr);
        if (bind(cfd, (struct sockaddr *)&b, sizeof(b)) != 0) {
            perror("bind");
            exit(1);
        }
    }
    if (connect(cfd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        perror("connect");
        exit(1);
    }
    int sfd = accept(lfd, NULL, NULL);
    uint64_t token = ++next_token;
    RAND_bytes(conn_sid, sizeof(conn_sid));
    ssh_buf b;
    ssh_buf_init(&b, 4096, 0);
    if (hdr)
        ssh_buf_put_string(&b, hdr, hlen);
    send_req(TUN_PRIV_CONN_NEW, token, hdr ? &b : NULL, sfd);
    ssh_buf_free(&b);
    close(sfd);
    close(cfd); /* the helper read the addresses when it got the socket */
    return token;
}

/* A connection the helper can read a real TCP peer from. */
static uint64_t conn_open_unsigned(void)
{
    return conn_open_via(listener, NULL, NULL, 0);
}

/* ... and its key exchange signed: the exchange hash is the session id. */
static uint64_t conn_open(void)
{
    uint64_t t = conn_open_unsigned();
    if (!sign(t, hostkey, conn_sid, sizeof(conn_sid))) {
        fprintf(stderr, "the helper refused to sign a first key exchange\n");
        exit(1);
    }
    return t;
}

static void conn_end(uint64_t token)
{
    send_req(TUN_PRIV_CONN_END, token, NULL, -1);
}

/* ---- requests ------------------------------------------------------------------------------- */

static uint32_t auth_send(uint64_t token, const char *u, uint32_t kind, const char *alg,
                          const ssh_buf *blob, const ssh_buf *sig, const ssh_buf *data,
                          const char *pw)
{
    ssh_buf b;
    ssh_buf_init(&b, TUN_PRIV_MSG_MAX, 0);
    ssh_buf_put_cstring(&b, u);
    ssh_buf_put_u32(&b, kind);
    ssh_buf_put_cstring(&b, alg ? alg : "");
    ssh_buf_put_string(&b, blob ? ssh_buf_ptr(blob) : NULL, blob ? ssh_buf_len(blob) : 0);
    ssh_buf_put_string(&b, sig ? ssh_buf_ptr(sig) : NULL, sig ? ssh_buf_len(sig) : 0);
    ssh_buf_put_string(&b, data ? ssh_buf_ptr(data) : NULL, data ? ssh_buf_len(data) : 0);
    ssh_buf_put_cstring(&b, pw ? pw : "");
    uint32_t id = send_req(TUN_PRIV_AUTH, token, &b, -1);
    ssh_buf_free(&b);
    return id;
}

/* 1 accepted, 0 refused, -1 no answer within `ms`. */
static int auth_result(uint32_t id, int ms)
{
    ssh_buf r;
    ssh_buf_init(&r, TUN_PRIV_MSG_MAX, 0);
    int rv = -1;
    if (wait_answer(id, ms, &r, NULL, NULL) == 0) {
        ssh_cur c;
        int ok = 0;
        ssh_cur_from_buf(&c, &r);
        rv = ssh_cur_get_bool(&c, &ok) == 0 ? ok : 0;
    }
    ssh_buf_free(&r);
    return rv;
}

static int auth_password(uint64_t token, const char *u, const char *pw)
{
    return auth_result(auth_send(token, u, TUN_AUTH_PASSWORD, NULL, NULL, NULL, NULL, pw), 15000);
}

static ssh_key *load_key(const char *name)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    uint8_t *d;
    size_t l;
    ssh_key *k = NULL;
    if (tun_read_file(path, 1 << 20, &d, &l) != 0 ||
        ssh_key_parse_private(d, l, NULL, &k, NULL) != 0) {
        fprintf(stderr, "cannot load %s\n", path);
        exit(1);
    }
    free(d);
    return k;
}

/* The data a client signs (RFC 4252 section 7) for session `sid`. */
static void signed_data(ssh_buf *out, const uint8_t *sid, const char *u, const ssh_buf *blob)
{
    ssh_buf_put_string(out, sid, 32);
    ssh_buf_put_u8(out, 50);
    ssh_buf_put_cstring(out, u);
    ssh_buf_put_cstring(out, "ssh-connection");
    ssh_buf_put_cstring(out, "publickey");
    ssh_buf_put_bool(out, 1);
    ssh_buf_put_cstring(out, "ssh-ed25519");
    ssh_buf_put(out, ssh_buf_ptr(blob), ssh_buf_len(blob)); /* already a string */
}

/* Publickey login of `u` with key `name`; `sid` NULL: the newest
 * connection's session id.  The signed data is kept in `data_out` if given. */
static int auth_key(uint64_t token, const char *u, const char *name, const uint8_t *sid,
                    ssh_buf *data_out, ssh_buf *sig_out)
{
    ssh_key *k = load_key(name);
    ssh_buf blob, blobstr, data, sig;
    ssh_buf_init(&blob, 4096, 0);
    ssh_buf_init(&blobstr, 4096, 0);
    ssh_buf_init(&data, 8192, 0);
    ssh_buf_init(&sig, 4096, 0);
    ssh_key_to_blob(k, &blob);
    ssh_buf_put_stringb(&blobstr, &blob);
    signed_data(&data, sid ? sid : conn_sid, u, &blobstr);
    ssh_key_sign(k, "ssh-ed25519", 0, ssh_buf_ptr(&data), ssh_buf_len(&data), &sig);
    int rv = auth_result(
        auth_send(token, u, TUN_AUTH_PUBKEY, "ssh-ed25519", &blob, &sig, &data, NULL), 15000);
    if (data_out)
        ssh_buf_put(data_out, ssh_buf_ptr(&data), ssh_buf_len(&data));
    if (sig_out)
        ssh_buf_put(sig_out, ssh_buf_ptr(&sig), ssh_buf_len(&sig));
    ssh_buf_free(&blob);
    ssh_buf_free(&blobstr);
    ssh_buf_free(&data);
    ssh_buf_free(&sig);
    ssh_key_free(k);
    return rv;
}

typedef struct spawned {
    int err;
    pid_t pid;
    char out[4096];
} spawned;

/* SPAWN and, if it started, collect its stdout until EOF. */
static void spawn(uint64_t token, uint32_t session, const char *what, const char *arg, int pty,
                  int n_env, const char *const *names, const char *const *values, spawned *s,
                  int wait_output)
{
    ssh_buf b, r;
    ssh_buf_init(&b, TUN_PRIV_MSG_MAX, 0);
    ssh_buf_init(&r, TUN_PRIV_MSG_MAX, 0);
    ssh_buf_put_u32(&b, session);
    ssh_buf_put_cstring(&b, what);
    ssh_buf_put_cstring(&b, arg ? arg : "");
    ssh_buf_put_bool(&b, pty);
    ssh_buf_put_cstring(&b, pty ? "xterm" : "");
    ssh_buf_put_u32(&b, 80);
    ssh_buf_put_u32(&b, 24);
    ssh_buf_put_u32(&b, 0);
    ssh_buf_put_u32(&b, 0);
    ssh_buf_put_string(&b, NULL, 0);
    ssh_buf_put_u32(&b, (uint32_t)n_env);
    for (int i = 0; i < n_env; i++) {
        ssh_buf_put_cstring(&b, names[i]);
        ssh_buf_put_cstring(&b, values[i]);
    }
    memset(s, 0, sizeof(*s));
    s->err = -1;
    int fds[3] = {-1, -1, -1}, nfds = 0;
    if (wait_answer(send_req(TUN_PRIV_SPAWN, token, &b, -1), 15000, &r, fds, &nfds) == 0) {
        ssh_cur c;
        uint32_t e = 0, pid = 0;
        ssh_cur_from_buf(&c, &r);
        if (ssh_cur_get_u32(&c, &e) == 0 && ssh_cur_get_u32(&c, &pid) == 0) {
            s->err = (int)e;
            s->pid = (pid_t)pid;
        }
    }
    if (s->err == 0 && nfds >= 2) {
        close(fds[0]); /* stdin: EOF */
        size_t o = 0;
        while (wait_output && o + 1 < sizeof(s->out)) {
            struct pollfd p = {fds[1], POLLIN, 0};
            if (poll(&p, 1, 10000) <= 0)
                break;
            ssize_t n = read(fds[1], s->out + o, sizeof(s->out) - 1 - o);
            if (n <= 0)
                break;
            o += (size_t)n;
        }
        s->out[o] = '\0';
        while (o > 0 && (s->out[o - 1] == '\n' || s->out[o - 1] == '\r'))
            s->out[--o] = '\0';
    }
    for (int i = 1; i < nfds && i < 3; i++)
        close(fds[i]);
    ssh_buf_free(&b);
    ssh_buf_free(&r);
}

static int unix_connect(uint64_t token, const char *path)
{
    ssh_buf b, r;
    ssh_buf_init(&b, 1024, 0);
    ssh_buf_init(&r, 1024, 0);
    ssh_buf_put_cstring(&b, path);
    ssh_buf_put_bool(&b, 0);
    int fds[3] = {-1, -1, -1}, nfds = 0;
    uint32_t e = EIO;
    if (wait_answer(send_req(TUN_PRIV_UNIX, token, &b, -1), 15000, &r, fds, &nfds) == 0) {
        ssh_cur c;
        ssh_cur_from_buf(&c, &r);
        if (ssh_cur_get_u32(&c, &e) != 0)
            e = EIO;
    }
    for (int i = 0; i < nfds; i++)
        close(fds[i]);
    ssh_buf_free(&b);
    ssh_buf_free(&r);
    return (int)e;
}

static int exit_seen(pid_t pid, int ms)
{
    for (int i = 0; i < n_exited; i++)
        if (exited[i] == pid)
            return 1;
    wait_answer(0xffffffffu, ms, NULL, NULL, NULL); /* collects exits meanwhile */
    for (int i = 0; i < n_exited; i++)
        if (exited[i] == pid)
            return 1;
    return 0;
}

/* ---- the scenarios ----------------------------------------------------------------------------
 */

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: privsep_harness <config> <user> <password> <dir>\n");
        return 2;
    }
    user = argv[2];
    password = argv[3];
    dir = argv[4];
    signal(SIGPIPE, SIG_IGN);
    tun_srvsettings *set = calloc(1, sizeof(*set));
    set->refs = 1;
    tun_srvcfg_init(&set->cfg);
    if (tun_srvcfg_read(&set->cfg, argv[1]) != 0 || tun_srvcfg_finish(&set->cfg) != 0)
        return 2;
    /* A second listener that expects the PROXY protocol from 127.0.0.1
     * (the helper decides from the accepted socket's local address). */
    int plistener = socket(AF_INET, SOCK_STREAM, 0);
    {
        struct sockaddr_in pa = {0};
        socklen_t pl = sizeof(pa);
        pa.sin_family = AF_INET;
        pa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (bind(plistener, (struct sockaddr *)&pa, sizeof(pa)) != 0 ||
            listen(plistener, 16) != 0 ||
            getsockname(plistener, (struct sockaddr *)&pa, &pl) != 0) {
            perror("listen");
            return 2;
        }
        char line[128];
        snprintf(line, sizeof(line), "ListenAddress 127.0.0.1:%d proxy-protocol",
                 ntohs(pa.sin_port));
        if (tun_srvcfg_apply(&set->cfg, line, "harness") != 0 ||
            tun_srvcfg_apply(&set->cfg, "ProxyProtocolFrom 127.0.0.1", "harness") != 0)
            return 2;
    }
    hostkey = load_key("hostkey");
    set->keys[0] = load_key("hostkey");
    set->n_keys = 1;
    listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(listener, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(listener, 16) != 0) {
        perror("listen");
        return 2;
    }
    int sp[2];
    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp);
    pid_t helper = fork();
    if (helper == 0) {
        close(sp[0]);
        close(listener);
        tun_privd_helper_main(sp[1], set, NULL);
    }
    close(sp[1]);
    hsock = sp[0];

    /* Control: the password is right and the user may log in. */
    uint64_t t = conn_open();
    check("control: the user's password login is accepted", auth_password(t, user, password) == 1);
    conn_end(t);

    /* SIGN: exchange hashes of this connection only, host keys only. */
    {
        uint8_t h[64];
        RAND_bytes(h, sizeof(h));
        check("SIGN for a token never opened is refused", sign(987654321, hostkey, h, 32) == 0);
        t = conn_open_unsigned();
        check("SIGN of data that is no exchange hash (17 bytes) is refused",
              sign(t, hostkey, h, 17) == 0);
        ssh_key *uk = load_key("plain");
        check("SIGN with a key that is not a host key is refused", sign(t, uk, h, 32) == 0);
        ssh_key_free(uk);
        check("control: SIGN of the first exchange hash (the session id)",
              sign(t, hostkey, h, 32) == 1);
        check("a second SIGN before authentication is refused", sign(t, hostkey, h + 32, 32) == 0);
        conn_end(t);
        check("SIGN on a released token is refused", sign(t, hostkey, h, 32) == 0);
        /* A publickey signature over another session id than the one the
         * helper signed for this connection. */
        t = conn_open();
        uint8_t other[32];
        RAND_bytes(other, sizeof(other));
        check("a publickey signature over another session's id is refused",
              auth_key(t, user, "plain", other, NULL, NULL) == 0);
        check("control: the same key over this connection's session id",
              auth_key(t, user, "plain", NULL, NULL, NULL) == 1);
        conn_end(t);
    }

    /* A token that was never opened. */
    check("AUTH with a token never opened is refused",
          auth_password(987654321, user, password) == 0);

    /* A descriptor that is not a TCP connection: no made-up client address. */
    int pair[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, pair);
    t = ++next_token;
    send_req(TUN_PRIV_CONN_NEW, t, NULL, pair[0]);
    close(pair[0]);
    close(pair[1]);
    check("a connection handed over as a Unix socketpair is not taken",
          auth_password(t, user, password) == 0);

    /* A released token. */
    t = conn_open();
    check("control: login on a new connection", auth_password(t, user, password) == 1);
    conn_end(t);
    spawned s;
    spawn(t, 1, "exec", "echo should-not-run", 0, 0, NULL, NULL, &s, 1);
    check("SPAWN on a released token is refused", s.err != 0 && strstr(s.out, "should") == NULL);
    check("AUTH on a released token is refused", auth_password(t, user, password) == 0);
    check("UNIX on a released token is refused", unix_connect(t, "/run/nonexistent.sock") == EPERM);

    /* Before authentication. */
    t = conn_open();
    spawn(t, 1, "exec", "echo should-not-run", 0, 0, NULL, NULL, &s, 1);
    check("SPAWN before authentication is refused", s.err != 0);
    check("UNIX before authentication is refused",
          unix_connect(t, "/run/nonexistent.sock") == EPERM);
    conn_end(t);

    /* Root: PermitRootLogin no, with a key that is in root's file. */
    t = conn_open();
    check("root with its authorized key under PermitRootLogin no is refused",
          auth_key(t, "root", "plain", NULL, NULL, NULL) == 0);
    conn_end(t);
    t = conn_open();
    check("control: the same key for the user is accepted",
          auth_key(t, user, "plain", NULL, NULL, NULL) == 1);
    /* Already authenticated: no second identity on the same connection. */
    check("a second AUTH on an authenticated connection is refused",
          auth_password(t, user, password) == 0);
    conn_end(t);

    /* Another user once the first is fixed. */
    t = conn_open();
    check("first attempt as a user that does not exist fails",
          auth_password(t, "no-such-user-privsep", "x") == 0);
    check("switching to the real user with the right password is refused",
          auth_password(t, user, password) == 0);
    conn_end(t);

    /* MaxAuthTries 3, counted by the helper itself. */
    t = conn_open();
    for (int i = 0; i < 3; i++)
        auth_password(t, user, "wrong-password");
    check("after MaxAuthTries failures the right password is refused",
          auth_password(t, user, password) == 0);
    conn_end(t);

    /* A forged address: from="10.99.99.99" cannot be claimed, there is no
     * field for it; the control key says from="127.0.0.1". */
    t = conn_open();
    check("a from=\"10.99.99.99\" key from 127.0.0.1 is refused",
          auth_key(t, user, "from_other", NULL, NULL, NULL) == 0);
    check("control: a from=\"127.0.0.1\" key is accepted",
          auth_key(t, user, "from_local", NULL, NULL, NULL) == 1);
    conn_end(t);

    /* PROXY protocol: the client address a header claims counts only on a
     * PROXY listener, from a peer in ProxyProtocolFrom, parsed by the
     * helper; the controls show the claimed address is then really used. */
    {
        static const char v1[] = "PROXY TCP4 10.99.99.99 127.0.0.1 4444 22\r\n";
        t = conn_open_via(listener, NULL, v1, sizeof(v1) - 1);
        check("a PROXY header on a listener without the PROXY protocol is refused",
              auth_password(t, user, password) == 0);
        conn_end(t);
        t = conn_open_via(plistener, "127.0.0.2", v1, sizeof(v1) - 1);
        check("a PROXY header from a peer outside ProxyProtocolFrom is refused",
              auth_password(t, user, password) == 0);
        conn_end(t);
        t = conn_open_via(plistener, NULL, NULL, 0);
        check("no PROXY header on a PROXY listener is refused",
              auth_password(t, user, password) == 0);
        conn_end(t);
        t = conn_open_via(plistener, NULL, v1, sizeof(v1) - 3);
        check("a truncated PROXY header is refused", auth_password(t, user, password) == 0);
        conn_end(t);
        char two[128];
        snprintf(two, sizeof(two), "%sPROXY TCP4 10.1.1.1 127.0.0.1 1 2\r\n", v1);
        t = conn_open_via(plistener, NULL, two, strlen(two));
        check("bytes after the PROXY header are refused", auth_password(t, user, password) == 0);
        conn_end(t);
        t = conn_open();
        check("control: the from=\"10.99.99.99\" key without a header is refused",
              auth_key(t, user, "from_other", NULL, NULL, NULL) == 0);
        conn_end(t);
        t = conn_open_via(plistener, NULL, v1, sizeof(v1) - 1);
        if (!sign(t, hostkey, conn_sid, sizeof(conn_sid))) {
            fprintf(stderr, "the helper refused to sign a first key exchange\n");
            exit(1);
        }
        check("control: a valid PROXY header from 127.0.0.1 on the PROXY listener: the "
              "from=\"10.99.99.99\" key is accepted",
              auth_key(t, user, "from_other", NULL, NULL, NULL) == 1);
        spawn(t, 1, "exec", "echo \"$SSH_CONNECTION\"", 0, 0, NULL, NULL, &s, 1);
        check("... and SSH_CONNECTION is the header's",
              strcmp(s.out, "10.99.99.99 4444 127.0.0.1 22") == 0);
        if (strcmp(s.out, "10.99.99.99 4444 127.0.0.1 22") != 0)
            printf("   got: %s\n", s.out);
        conn_end(t);
    }

    /* A signature replayed from another connection. */
    ssh_buf data, sig;
    ssh_buf_init(&data, 8192, 0);
    ssh_buf_init(&sig, 8192, 0);
    t = conn_open();
    check("control: a publickey login", auth_key(t, user, "plain", NULL, &data, &sig) == 1);
    conn_end(t);
    t = conn_open();
    {
        ssh_key *k = load_key("plain");
        ssh_buf blob;
        ssh_buf_init(&blob, 4096, 0);
        ssh_key_to_blob(k, &blob);
        int r = auth_result(
            auth_send(t, user, TUN_AUTH_PUBKEY, "ssh-ed25519", &blob, &sig, &data, NULL), 15000);
        check("the same signature replayed on another connection is refused", r == 0);
        ssh_buf_free(&blob);
        ssh_key_free(k);
    }
    conn_end(t);
    ssh_buf_free(&data);
    ssh_buf_free(&sig);

    /* Forced command: command= cannot be bypassed by exec or subsystem. */
    t = conn_open();
    check("control: login with the forced-command key",
          auth_key(t, user, "forced", NULL, NULL, NULL) == 1);
    spawn(t, 1, "exec", "echo bypass", 0, 0, NULL, NULL, &s, 1);
    check("exec runs the key's command= instead of the client's",
          strcmp(s.out, "forced echo bypass") == 0);
    spawn(t, 2, "subsystem", "echo-sub", 0, 0, NULL, NULL, &s, 1);
    check("a subsystem runs the key's command= too", strncmp(s.out, "forced", 6) == 0);
    spawn(t, 3, "shell", NULL, 0, 0, NULL, NULL, &s, 1);
    check("a shell runs the key's command= too", strcmp(s.out, "forced") == 0);
    conn_end(t);

    /* no-pty */
    t = conn_open();
    check("control: login with the no-pty key", auth_key(t, user, "nopty", NULL, NULL, NULL) == 1);
    spawn(t, 1, "exec", "tty", 1, 0, NULL, NULL, &s, 1);
    check("a pty for a no-pty key is refused", s.err != 0);
    spawn(t, 2, "exec", "echo no-pty-ok", 0, 0, NULL, NULL, &s, 1);
    check("control: the same session without a pty runs", strcmp(s.out, "no-pty-ok") == 0);
    conn_end(t);

    /* Environment: only AcceptEnv names, never '=' or control characters in
     * a name, never LD_*. */
    t = conn_open();
    check("control: login with the plain key", auth_key(t, user, "plain", NULL, NULL, NULL) == 1);
    {
        const char *names[] = {"IT_A", "IT_B=x", "LD_PRELOAD", "IT_\nC", "OTHER", "SSH_CONNECTION"};
        const char *values[] = {"ok",   "evil", "/tmp/evil.so",
                                "evil", "evil", "1.2.3.4 1 5.6.7.8 2"};
        spawn(t, 1, "exec", "echo \"$IT_A|$IT_B|$LD_PRELOAD|$OTHER|${SSH_CONNECTION%% *}\"", 0, 6,
              names, values, &s, 1);
        check("env: only the AcceptEnv variable passes; '=' names, LD_* and others refused; "
              "SSH_CONNECTION is the helper's",
              strcmp(s.out, "ok||||127.0.0.1") == 0);
        if (strcmp(s.out, "ok||||127.0.0.1") != 0)
            printf("   got: %s\n", s.out);
    }
    /* Signals: only to this connection's own session. */
    spawned sl;
    spawn(t, 9, "exec", "sleep 30", 0, 0, NULL, NULL, &sl, 0);
    check("control: a long session starts", sl.err == 0 && sl.pid > 0);
    uint64_t other = conn_open();
    check("control: a second connection logs in",
          auth_key(other, user, "plain", NULL, NULL, NULL) == 1);
    {
        ssh_buf b;
        ssh_buf_init(&b, 64, 0);
        ssh_buf_put_u32(&b, 9);
        ssh_buf_put_u32(&b, SIGKILL);
        send_req(TUN_PRIV_SIGNAL, other, &b, -1);
        check("SIGNAL for another connection's session does nothing", !exit_seen(sl.pid, 700));
        send_req(TUN_PRIV_SIGNAL, t, &b, -1);
        check("control: SIGNAL on its own connection ends it", exit_seen(sl.pid, 5000));
        ssh_buf_free(&b);
    }
    conn_end(other);
    /* The end of a connection hangs up its sessions. */
    spawn(t, 10, "exec", "sleep 30", 0, 0, NULL, NULL, &sl, 0);
    if (sl.err != 0)
        printf("   spawn: %d\n", sl.err);
    conn_end(t);
    check("CONN_END hangs up the connection's sessions", sl.pid > 0 && exit_seen(sl.pid, 5000));

    /* An answer for a connection that ended is never sent (and nothing is
     * left behind for it). */
    t = conn_open();
    uint32_t id = auth_send(t, user, TUN_AUTH_PASSWORD, NULL, NULL, NULL, NULL, password);
    conn_end(t);
    check("a password check whose connection ended is never answered", auth_result(id, 2000) == -1);
    t = conn_open();
    check("control: the helper goes on serving", auth_password(t, user, password) == 1);
    conn_end(t);

    /* Malformed requests: refused, the helper survives. */
    {
        ssh_buf b;
        ssh_buf_init(&b, 64, 0);
        ssh_buf_put_u32(&b, 7);
        uint32_t mid = send_req(TUN_PRIV_AUTH, 1, &b, -1);
        check("a truncated AUTH is answered with a refusal", auth_result(mid, 5000) == 0);
        send_req(0x7777, 1, &b, -1);
        ssh_buf_free(&b);
        t = conn_open();
        check("control: the helper survives malformed requests",
              auth_password(t, user, password) == 1);
        conn_end(t);
    }

    close(hsock);
    int st;
    waitpid(helper, &st, 0);
    printf("%d passed, %d failed\n", passes, fails);
    tun_srvsettings_unref(set);
    ssh_key_free(hostkey);
    return fails ? 1 : 0;
}
