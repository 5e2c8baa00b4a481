/*
 * test_tun_hostkey.c - the client's host key decisions (tun_hostkey.c) and
 * the known_hosts file operations under them (tun_knownhosts.c), in
 * process: @cert-authority and host certificates at a chosen time,
 * CheckHostIP with an address no test network provides, KnownHostsCommand
 * and its tokens, the HostKeyAlgorithms order, UpdateHostKeys' rewrite.
 *
 * Keys and certificates: tests/unit/data/certs (ssh-keygen -s; gen.sh):
 * host_ed25519-cert.pub is a host certificate for host.example.com and
 * *.example.org, valid 2020-01-01..2040-01-01, by ca_ed25519.
 */
#include "util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sshtun/cert.h"
#include "sshtun/err.h"
#include "sshtun/key.h"
#include "tun_hostkey.h"
#include "tun_knownhosts.h"
#include "tun_log.h"
#include "tun_options.h"

#define NOW 1700000000ull

static char dir[64];
static FILE *log_fp;

static char *slurp_path(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return strdup("");
    char *s = calloc(1, 1 << 20);
    assert_non_null(s);
    size_t n = fread(s, 1, (1 << 20) - 1, f);
    s[n] = '\0';
    fclose(f);
    return s;
}

static char *fixture(const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/certs/%s", SSHTUN_TEST_DATA, name);
    char *s = slurp_path(path);
    s[strcspn(s, "\n")] = '\0';
    return s;
}

static ssh_key *key_of(const char *name)
{
    char *s = fixture(name);
    ssh_key *k = NULL;
    assert_int_equal(ssh_key_parse_public_line(s, strlen(s), &k, NULL), 0);
    free(s);
    return k;
}

/* "type base64" of a fixture .pub (no comment). */
static char *keytext(const char *name)
{
    char *s = fixture(name);
    char *sp = strchr(strchr(s, ' ') + 1, ' ');
    if (sp)
        *sp = '\0';
    return s;
}

static void write_file(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static char *read_file(const char *name)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return slurp_path(path);
}

/* What was logged since the last call. */
static char *logged(void)
{
    fflush(log_fp);
    long n = ftell(log_fp);
    char *s = calloc(1, (size_t)n + 1);
    assert_non_null(s);
    rewind(log_fp);
    size_t got = fread(s, 1, (size_t)n, log_fp);
    s[got] = '\0';
    rewind(log_fp);
    assert_int_equal(ftruncate(fileno(log_fp), 0), 0);
    return s;
}

static void options(tun_options *o, const char *const *lines)
{
    char buf[512];
    tun_options_init(o);
    snprintf(buf, sizeof(buf), "UserKnownHostsFile %s/kh", dir);
    assert_int_equal(tun_options_apply(o, buf, "test"), 0);
    for (size_t i = 0; lines && lines[i]; i++)
        assert_int_equal(tun_options_apply(o, lines[i], "test"), 0);
    assert_int_equal(tun_options_apply(o, "GlobalKnownHostsFile /dev/null", "test"), 0);
    assert_int_equal(tun_options_apply(o, "BatchMode yes", "test"), 0);
    assert_int_equal(tun_options_finish(o), 0);
}

static struct sockaddr_in addr4(const char *ip)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons(22);
    assert_int_equal(inet_pton(AF_INET, ip, &a.sin_addr), 1);
    return a;
}

static int verify(const tun_options *o, const char *host, const char *ip, uint64_t now,
                  const ssh_key *key, tun_hk_verdict *v)
{
    struct sockaddr_in a;
    tun_hk_target t = {0};
    t.o = o;
    t.host = host;
    t.port = 22;
    t.now = now;
    if (ip) {
        a = addr4(ip);
        t.addr = (const struct sockaddr *)&a;
        t.addrlen = sizeof(a);
    }
    tun_hk_verdict vv;
    return tun_hostkey_verify(&t, key, v ? v : &vv);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/test_tun_hostkey.XXXXXX");
    assert_non_null(mkdtemp(dir));
    log_fp = tmpfile();
    assert_non_null(log_fp);
    tun_log_set_file(log_fp);
    tun_log_set_level(TUN_LOG_DEBUG1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
    tun_log_set_file(stderr);
    fclose(log_fp);
    return 0;
}

/* ---- certificates -------------------------------------------------------------------------------
 */

static void test_host_certificate(void **state)
{
    (void)state;
    tun_options o;
    static const char *const strict[] = {"StrictHostKeyChecking yes", NULL};
    options(&o, strict);
    ssh_key *cert = key_of("host_ed25519-cert.pub");
    char *ca = keytext("ca_ed25519_key.pub"), *other = keytext("ca_ecdsa_key.pub");
    char *hk = keytext("host_ed25519_key.pub");
    char buf[4096];
    tun_hk_verdict v;

    /* Trusted CA, listed principal, valid now: accepted, nothing written. */
    snprintf(buf, sizeof(buf), "# comment\n@cert-authority *.example.org %s\n", ca);
    write_file("kh", buf);
    assert_int_equal(verify(&o, "www.example.org", NULL, NOW, cert, &v), 0);
    assert_false(v.update_ok);
    char *s = logged();
    assert_non_null(strstr(s, "matches the ED25519-CERT host certificate"));
    assert_non_null(strstr(s, "Server host certificate: ssh-ed25519-cert-v01@openssh.com"));
    free(s);
    s = read_file("kh");
    assert_string_equal(s, buf);
    free(s);
    assert_int_equal(verify(&o, "host.example.com", NULL, NOW, cert, &v), SSH_ERR_HOSTKEY_REJECTED);
    free(logged());
    /* The principal is matched in lower case, as ssh has host names. */
    snprintf(buf, sizeof(buf), "@cert-authority * %s\n", ca);
    write_file("kh", buf);
    assert_int_equal(verify(&o, "WWW.Example.ORG", NULL, NOW, cert, &v), 0);
    free(logged());

    /* Each refusal with its reason; strict checking, no plain key known. */
    static const struct {
        const char *host;
        uint64_t now;
        const char *why;
    } r[] = {{"www.example.org", 2300000000ull, "Certificate invalid: expired"},
             {"www.example.org", 1500000000ull, "Certificate invalid: not yet valid"},
             {"www.example.net", NOW, "Certificate invalid: name is not a listed principal"}};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(verify(&o, r[i].host, NULL, r[i].now, cert, &v), SSH_ERR_HOSTKEY_REJECTED);
        s = logged();
        assert_non_null(strstr(s, r[i].why));
        assert_non_null(strstr(s, "No matching CA found. Retry with plain key"));
        assert_non_null(strstr(s, "Host key verification failed."));
        free(s);
    }
    /* ... and the plain key known: accepted after saying why not the
     * certificate. */
    snprintf(buf, sizeof(buf), "@cert-authority * %s\nwww.example.org %s\n", ca, hk);
    write_file("kh", buf);
    assert_int_equal(verify(&o, "www.example.org", NULL, 2300000000ull, cert, &v), 0);
    assert_true(v.update_ok);
    s = logged();
    assert_non_null(strstr(s, "Certificate invalid: expired"));
    free(s);

    /* Another CA for the host: the certificate is not trusted. */
    snprintf(buf, sizeof(buf), "@cert-authority * %s\n", other);
    write_file("kh", buf);
    assert_int_equal(verify(&o, "www.example.org", NULL, NOW, cert, &v), SSH_ERR_HOSTKEY_REJECTED);
    free(logged());

    /* @revoked CA, @revoked key: refused, no fallback. */
    snprintf(buf, sizeof(buf), "@cert-authority * %s\nwww.example.org %s\n@revoked * %s\n", ca, hk,
             ca);
    write_file("kh", buf);
    assert_int_equal(verify(&o, "www.example.org", NULL, NOW, cert, &v), SSH_ERR_HOSTKEY_REJECTED);
    s = logged();
    assert_non_null(strstr(s, "The certificate authority ED25519"));
    assert_non_null(strstr(s, "is marked as revoked in"));
    assert_null(strstr(s, "Retry with plain key"));
    free(s);
    snprintf(buf, sizeof(buf), "@cert-authority * %s\n@revoked www.example.org %s\n", ca, hk);
    write_file("kh", buf);
    assert_int_equal(verify(&o, "www.example.org", NULL, NOW, cert, &v), SSH_ERR_HOSTKEY_REJECTED);
    s = logged();
    assert_non_null(strstr(s, "host key for www.example.org is marked as revoked"));
    free(s);

    /* CASignatureAlgorithms: refused when the CA's algorithm is not in it. */
    tun_options o2;
    static const char *const noed[] = {"StrictHostKeyChecking yes",
                                       "CASignatureAlgorithms rsa-sha2-512", NULL};
    options(&o2, noed);
    snprintf(buf, sizeof(buf), "@cert-authority * %s\n", ca);
    write_file("kh", buf);
    assert_int_equal(verify(&o2, "www.example.org", NULL, NOW, cert, &v), SSH_ERR_HOSTKEY_REJECTED);
    s = logged();
    assert_non_null(strstr(s, "Certificate signed with disallowed algorithm"));
    free(s);
    tun_options_free(&o2);

    /* HostKeyAlias: looked up and matched against the principals. */
    static const char *const alias[] = {"StrictHostKeyChecking yes",
                                        "HostKeyAlias host.example.com", NULL};
    options(&o2, alias);
    snprintf(buf, sizeof(buf), "@cert-authority host.example.com %s\n", ca);
    write_file("kh", buf);
    assert_int_equal(verify(&o2, "10.9.9.9", NULL, NOW, cert, &v), 0);
    free(logged());
    tun_options_free(&o2);

    free(ca);
    free(other);
    free(hk);
    ssh_key_free(cert);
    tun_options_free(&o);
}

/* ---- CheckHostIP
 * ---------------------------------------------------------------------------------- */

static void test_check_host_ip(void **state)
{
    (void)state;
    tun_options o;
    static const char *const lines[] = {"StrictHostKeyChecking accept-new", "CheckHostIP yes",
                                        NULL};
    options(&o, lines);
    ssh_key *key = key_of("host_ed25519_key.pub");
    char *hk = keytext("host_ed25519_key.pub"), *other = keytext("user_ed25519_key.pub");
    char buf[4096];
    tun_hk_verdict v;

    /* New host: recorded as "host,address". */
    write_file("kh", "");
    assert_int_equal(verify(&o, "srv.example.org", "192.0.2.10", NOW, key, &v), 0);
    char *s = read_file("kh");
    snprintf(buf, sizeof(buf), "srv.example.org,192.0.2.10 %s\n", hk);
    assert_string_equal(s, buf);
    free(s);
    assert_true(v.update_ok);
    assert_string_equal(v.ip_name, "192.0.2.10");
    free(logged());

    /* Known by name only: the address is added. */
    snprintf(buf, sizeof(buf), "srv.example.org %s\n", hk);
    write_file("kh", buf);
    assert_int_equal(verify(&o, "srv.example.org", "192.0.2.10", NOW, key, &v), 0);
    s = read_file("kh");
    char want[8192];
    snprintf(want, sizeof(want), "%s192.0.2.10 %s\n", buf, hk);
    assert_string_equal(s, want);
    free(s);
    s = logged();
    assert_non_null(strstr(s, "host key for IP address '192.0.2.10'"));
    free(s);

    /* The address known with another key: refused unless checking is off. */
    snprintf(buf, sizeof(buf), "srv.example.org %s\n192.0.2.10 %s\n", hk, other);
    write_file("kh", buf);
    assert_int_equal(verify(&o, "srv.example.org", "192.0.2.10", NOW, key, &v),
                     SSH_ERR_HOSTKEY_REJECTED);
    s = logged();
    assert_non_null(strstr(s, "differs from the key for the IP address '192.0.2.10'"));
    assert_non_null(strstr(s, "Exiting, you have requested strict checking."));
    free(s);
    tun_options o2;
    static const char *const off[] = {"StrictHostKeyChecking no", "CheckHostIP yes", NULL};
    options(&o2, off);
    assert_int_equal(verify(&o2, "srv.example.org", "192.0.2.10", NOW, key, &v), 0);
    s = logged();
    assert_non_null(strstr(s, "differs from the key for the IP address"));
    free(s);
    tun_options_free(&o2);

    /* Loopback, or the host named by its address: no address check. */
    write_file("kh", "");
    assert_int_equal(verify(&o, "srv.example.org", "127.0.0.1", NOW, key, &v), 0);
    s = read_file("kh");
    assert_null(strstr(s, "127.0.0.1"));
    free(s);
    write_file("kh", "");
    assert_int_equal(verify(&o, "192.0.2.10", "192.0.2.10", NOW, key, &v), 0);
    s = read_file("kh");
    snprintf(buf, sizeof(buf), "192.0.2.10 %s\n", hk);
    assert_string_equal(s, buf);
    free(s);
    /* CheckHostIP no (the default): the name only. */
    tun_options o3;
    static const char *const noip[] = {"StrictHostKeyChecking accept-new", NULL};
    options(&o3, noip);
    write_file("kh", "");
    assert_int_equal(verify(&o3, "srv.example.org", "192.0.2.10", NOW, key, &v), 0);
    s = read_file("kh");
    snprintf(buf, sizeof(buf), "srv.example.org %s\n", hk);
    assert_string_equal(s, buf);
    free(s);
    tun_options_free(&o3);
    free(logged());

    free(hk);
    free(other);
    ssh_key_free(key);
    tun_options_free(&o);
}

/* ---- KnownHostsCommand
 * ---------------------------------------------------------------------------- */

static void test_known_hosts_command(void **state)
{
    (void)state;
    char *ca = keytext("ca_ed25519_key.pub");
    char buf[4096], line[1024];
    snprintf(buf, sizeof(buf),
             "#!/bin/sh\necho \"$@\" >> %s/khc.log\n"
             "[ \"$2\" = HOSTNAME ] && echo '@cert-authority *.example.org %s'\n"
             "exit ${KHC_EXIT:-0}\n",
             dir, ca);
    write_file("khc.sh", buf);
    snprintf(buf, sizeof(buf), "%s/khc.sh", dir);
    assert_int_equal(chmod(buf, 0755), 0);
    snprintf(line, sizeof(line), "KnownHostsCommand %s/khc.sh %%H %%I %%t %%f %%h %%%%", dir);
    const char *const lines[] = {"StrictHostKeyChecking yes", line, NULL};
    tun_options o;
    options(&o, lines);
    ssh_key *cert = key_of("host_ed25519-cert.pub");
    char fp[SSH_KEY_FP_MAX];
    ssh_key_fingerprint(cert, fp, sizeof(fp));
    write_file("kh", "");

    tun_hk_verdict v;
    assert_int_equal(verify(&o, "www.example.org", NULL, NOW, cert, &v), 0);
    assert_false(v.update_ok);
    char *s = read_file("khc.log");
    snprintf(buf, sizeof(buf),
             "www.example.org HOSTNAME ssh-ed25519-cert-v01@openssh.com %s %s %%\n", fp,
             "www.example.org");
    assert_string_equal(s, buf);
    free(s);

    /* ORDER: no key; the lines it gives put certificate algorithms first. */
    write_file("khc.log", "");
    tun_hk_target t = {0};
    t.o = &o;
    t.host = "www.example.org";
    t.port = 22;
    char algs[2048];
    tun_hostkey_order_algs(&t, algs, sizeof(algs));
    s = read_file("khc.log");
    assert_non_null(strstr(s, "www.example.org ORDER"));
    free(s);
    assert_int_equal(strncmp(algs, "ssh-ed25519-cert-v01@openssh.com,", 33), 0);

    /* A failing command refuses. */
    setenv("KHC_EXIT", "3", 1);
    assert_int_equal(verify(&o, "www.example.org", NULL, NOW, cert, &v), SSH_ERR_HOSTKEY_REJECTED);
    unsetenv("KHC_EXIT");
    s = logged();
    assert_non_null(strstr(s, "KnownHostsCommand failed"));
    free(s);

    /* Output bounded, time bounded. */
    char *out = NULL;
    size_t n = 0;
    assert_int_equal(tun_hostkey_run_command("head -c 5000 /dev/zero", 4096, 5000, &out, &n), -1);
    assert_int_equal(tun_hostkey_run_command("sleep 5", 4096, 300, &out, &n), -1);
    assert_int_equal(tun_hostkey_run_command("printf abc; exit 7", 4096, 5000, &out, &n), 7);
    assert_int_equal(n, 3);
    assert_string_equal(out, "abc");
    free(out);
    free(logged());

    free(ca);
    ssh_key_free(cert);
    tun_options_free(&o);
}

/* ---- HostKeyAlgorithms order
 * ---------------------------------------------------------------------- */

static void test_order(void **state)
{
    (void)state;
    tun_options o;
    options(&o, NULL);
    tun_hk_target t = {0};
    t.o = &o;
    t.host = "h.example.org";
    t.port = 22;
    char algs[2048], buf[4096];
    char *ed = keytext("host_ed25519_key.pub"), *rsa = keytext("host_rsa_key.pub");
    char *ca = keytext("ca_ed25519_key.pub");

    write_file("kh", "");
    tun_hostkey_order_algs(&t, algs, sizeof(algs));
    assert_string_equal(algs, o.hostkey_algorithms); /* nothing known */
    snprintf(buf, sizeof(buf), "h.example.org %s\n", ed);
    write_file("kh", buf);
    tun_hostkey_order_algs(&t, algs, sizeof(algs));
    assert_string_equal(algs, o.hostkey_algorithms); /* the first one's type is known */
    snprintf(buf, sizeof(buf), "h.example.org %s\n", rsa);
    write_file("kh", buf);
    tun_hostkey_order_algs(&t, algs, sizeof(algs));
    assert_int_equal(strncmp(algs,
                             "rsa-sha2-512-cert-v01@openssh.com,rsa-sha2-256-cert-v01@openssh.com,"
                             "rsa-sha2-512,rsa-sha2-256,ssh-ed25519-cert-v01@openssh.com",
                             120),
                     0);
    snprintf(buf, sizeof(buf), "@cert-authority *.example.org %s\nh.example.org %s\n", ca, rsa);
    write_file("kh", buf);
    tun_hostkey_order_algs(&t, algs, sizeof(algs));
    assert_int_equal(strncmp(algs, "ssh-ed25519-cert-v01@openssh.com,", 33), 0);
    const char *plain = strstr(algs, ",rsa-sha2-512,rsa-sha2-256,ssh-ed25519,");
    assert_non_null(plain); /* every certificate algorithm, then the RSA ones */
    free(ed);
    free(rsa);
    free(ca);
    tun_options_free(&o);
}

/* ---- keys decoded once per process ---------------------------------------------------------- */

/* A key text read again (a second load, another marker, after the first
 * load's keys are gone, a text that does not decode) gets the same verdict
 * as the first time: tun_knownhosts.c remembers decoded keys by their text
 * and must share nothing but the key. */
static void test_decoded_once(void **state)
{
    (void)state;
    char *ed = keytext("host_ed25519_key.pub"), *cert = keytext("host_ed25519-cert.pub");
    ssh_key *hk = key_of("host_ed25519_key.pub");
    char buf[8192];
    tun_kh_set s1 = {NULL, 0}, s2 = {NULL, 0}, s3 = {NULL, 0};
    tun_hk_result r;

    snprintf(buf, sizeof(buf),
             "h.example.org %s\n@cert-authority *.example.org %s\nh.example.org %s\n"
             "h.example.org ssh-ed25519 AAAA\n",
             ed, cert, cert);
    for (int round = 0; round < 2; round++) {
        tun_kh_set *s = round == 0 ? &s1 : &s2;
        tun_kh_load_text(s, buf, strlen(buf), "test", "h.example.org", 0);
        assert_int_equal(s->n, 2); /* a certificate is no CA; "AAAA" is no key */
        assert_int_equal(s->v[0].marker, TUN_KH_PLAIN);
        assert_int_equal(s->v[0].lineno, 1);
        assert_false(ssh_key_is_cert(s->v[0].key));
        assert_int_equal(s->v[1].marker, TUN_KH_PLAIN);
        assert_int_equal(s->v[1].lineno, 3);
        assert_true(ssh_key_is_cert(s->v[1].key));
    }
    tun_kh_free(&s1);
    tun_kh_check(&s2, hk, &r);
    assert_int_equal(r.status, TUN_HK_OK);
    assert_int_equal(r.found->lineno, 1);
    tun_kh_free(&s2);

    /* The certificate's text seen first as a CA line: still refused there. */
    snprintf(buf, sizeof(buf), "@cert-authority *.example.org %s\n", cert);
    tun_kh_load_text(&s3, buf, strlen(buf), "test", "h.example.org", 0);
    assert_int_equal(s3.n, 0);
    tun_kh_check(&s3, hk, &r);
    assert_int_equal(r.status, TUN_HK_NEW);
    tun_kh_free(&s3);

    ssh_key_free(hk);
    free(ed);
    free(cert);
}

/* ---- UpdateHostKeys' rewrite
 * ---------------------------------------------------------------------- */

static void test_replace(void **state)
{
    (void)state;
    ssh_key *a = key_of("host_ed25519_key.pub"), *b = key_of("host_rsa_key.pub");
    ssh_key *c = key_of("user_ecdsa256_key.pub");
    char *ta = keytext("host_ed25519_key.pub"), *tb = keytext("host_rsa_key.pub");
    char *tc = keytext("user_ecdsa256_key.pub"), *ca = keytext("ca_ed25519_key.pub");
    char buf[8192], want[8192], path[256];
    snprintf(path, sizeof(path), "%s/kh", dir);
    /* host has a and c; the server now offers a and b: c goes, b comes;
     * comments, other hosts, markers and wildcard lines stay. */
    snprintf(buf, sizeof(buf),
             "# mine\nh.example.org %s\nother.example %s\nh.example.org %s\n"
             "@cert-authority * %s\n\n",
             ta, tc, tc, ca);
    write_file("kh", buf);
    assert_int_equal(chmod(path, 0640), 0);
    ssh_key *keys[2] = {a, b};
    size_t removed, added;
    assert_int_equal(
        tun_knownhosts_replace(path, "h.example.org", NULL, keys, 2, 0, &removed, &added), 0);
    assert_int_equal(removed, 1);
    assert_int_equal(added, 1);
    char *s = read_file("kh");
    snprintf(
        want, sizeof(want),
        "# mine\nh.example.org %s\nother.example %s\n@cert-authority * %s\n\nh.example.org %s\n",
        ta, tc, ca, tb);
    assert_string_equal(s, want);
    free(s);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
    s = read_file("kh.old");
    assert_string_equal(s, buf);
    free(s);
    /* Nothing to change: the file stays as it is. */
    assert_int_equal(
        tun_knownhosts_replace(path, "h.example.org", NULL, keys, 2, 0, &removed, &added), 0);
    assert_int_equal(removed + added, 0);
    /* With an address: what is missing for it is added, hashed on demand. */
    assert_int_equal(
        tun_knownhosts_replace(path, "h.example.org", "192.0.2.1", keys, 2, 1, &removed, &added),
        0);
    assert_int_equal(added, 2);
    tun_kh_set set = {NULL, 0};
    tun_kh_load_file(&set, path, "192.0.2.1", 0);
    tun_hk_result r;
    tun_kh_check(&set, b, &r);
    assert_int_equal(r.status, TUN_HK_OK);
    tun_kh_check(&set, c, &r);
    assert_int_equal(r.status, TUN_HK_NEW);
    tun_kh_free(&set);
    s = read_file("kh");
    assert_non_null(strstr(s, "|1|"));
    free(s);
    free(ta);
    free(tb);
    free(tc);
    free(ca);
    ssh_key_free(a);
    ssh_key_free(b);
    ssh_key_free(c);
    free(logged());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_certificate),    cmocka_unit_test(test_check_host_ip),
        cmocka_unit_test(test_known_hosts_command), cmocka_unit_test(test_order),
        cmocka_unit_test(test_decoded_once),        cmocka_unit_test(test_replace),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
