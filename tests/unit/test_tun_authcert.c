/*
 * test_tun_authcert.c - user certificates on the server: cert-authority
 * lines of authorized_keys (tun_authkeys_find_user), what a certificate's
 * options allow (tun_cert_keyopts), merging them with a line's options
 * (tun_keyopts_merge), AuthorizedPrincipalsFile contents
 * (tun_principals_find) and TrustedUserCAKeys lists (tun_keylist_has).
 *
 * Fixtures: tests/unit/data/certs/ (gen.sh, made by ssh-keygen -s).  They
 * are valid 2020-01-01 .. 2040-01-01; user_*-cert.pub list the principals
 * alice and bob; opts-cert.pub has force-command="echo forced",
 * source-address=127.0.0.1/32,::1 and no permit-pty; verify-cert.pub has
 * verify-required, crit-cert.pub an unknown critical option,
 * noprinc-cert.pub no principals, ca_sha1-cert.pub an ssh-rsa (SHA-1) CA
 * signature.
 */
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sshtun/cert.h"
#include "sshtun/err.h"
#include "sshtun/key.h"
#include "tun_authcert.h"
#include "tun_authkeys.h"

#ifndef SSHTUN_TEST_DATA
#error "SSHTUN_TEST_DATA must name tests/unit/data"
#endif

#define NOW    1700000000 /* 2023-11-14 */
#define BEFORE 1500000000 /* 2017: not yet valid */
#define AFTER  2300000000 /* 2042: expired */

/* The first line of a fixture, without its newline. */
static char *fixture(const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/certs/%s", SSHTUN_TEST_DATA, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open fixture %s", path);
    char *s = calloc(1, 65536);
    assert_non_null(s);
    size_t n = fread(s, 1, 65535, f);
    fclose(f);
    s[n] = '\0';
    s[strcspn(s, "\n")] = '\0';
    return s;
}

static ssh_key *key_of(const char *name)
{
    char *s = fixture(name);
    ssh_key *k = NULL;
    int rv = ssh_key_parse_public_line(s, strlen(s), &k, NULL);
    if (rv != 0)
        fail_msg("%s: %s", name, ssh_strerror(rv));
    free(s);
    return k;
}

/* authorized_keys text: `opts` (may be "") then the key of fixture `pub`. */
static char *ak_line(const char *opts, const char *pub)
{
    char *k = fixture(pub);
    size_t n = strlen(opts) + strlen(k) + 3;
    char *s = malloc(n);
    assert_non_null(s);
    snprintf(s, n, "%s%s%s\n", opts, *opts ? " " : "", k);
    free(k);
    return s;
}

struct res {
    enum tun_ak_result r;
    tun_keyopts o;
    char why[256];
};

static void find(const char *file, const char *cert, const char *user, const char *ip, int64_t now,
                 const char *algs, struct res *out)
{
    ssh_key *k = key_of(cert);
    memset(out, 0, sizeof(*out));
    out->r = tun_authkeys_find_user(file, strlen(file), k, user, ip, now, algs, &out->o, out->why,
                                    sizeof(out->why));
    ssh_key_free(k);
}

static void expect(const char *opts, const char *ca, const char *cert, const char *user,
                   const char *ip, int64_t now, const char *algs, enum tun_ak_result want,
                   const char *why_part)
{
    char *file = ak_line(opts, ca);
    struct res r;
    find(file, cert, user, ip, now, algs, &r);
    if (r.r != want)
        fail_msg("[%s] %s for %s with %s: got %d (%s), want %d", opts, ca, user ? user : "(null)",
                 cert, r.r, r.why, want);
    if (why_part != NULL && strstr(r.why, why_part) == NULL)
        fail_msg("[%s] %s: reason \"%s\" lacks \"%s\"", opts, cert, r.why, why_part);
    tun_keyopts_free(&r.o);
    free(file);
}

/* ---- cert-authority lines ------------------------------------------------ */

static void test_ca_line_each_key_type(void **state)
{
    (void)state;
    static const struct {
        const char *cert, *ca;
    } c[] = {
        {"user_ed25519-cert.pub", "ca_ed25519_key.pub"},
        {"user_ecdsa256-cert.pub", "ca_ecdsa_key.pub"},
        {"user_ecdsa384-cert.pub", "ca_ecdsa_key.pub"},
        {"user_ecdsa521-cert.pub", "ca_ecdsa_key.pub"},
        {"user_rsa-cert.pub", "ca_ed25519_key.pub"},
        {"ca_rsa512-cert.pub", "ca_rsa_key.pub"},
        {"ca_rsa256-cert.pub", "ca_rsa_key.pub"},
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        expect("cert-authority", c[i].ca, c[i].cert, "alice", "127.0.0.1", NOW,
               SSH_DEFAULT_CA_SIG_ALGS, TUN_AK_FOUND, NULL);
        /* Another CA's line is no line for it. */
        const char *other =
            strcmp(c[i].ca, "ca_ecdsa_key.pub") == 0 ? "ca_ed25519_key.pub" : "ca_ecdsa_key.pub";
        expect("cert-authority", other, c[i].cert, "alice", "127.0.0.1", NOW, NULL,
               TUN_AK_NOT_FOUND, NULL);
    }
    /* Default extensions: everything permitted, no command. */
    char *file = ak_line("cert-authority", "ca_ed25519_key.pub");
    struct res r;
    find(file, "user_ed25519-cert.pub", "bob", "10.0.0.1", NOW, NULL, &r);
    assert_int_equal(r.r, TUN_AK_FOUND);
    assert_false(r.o.no_pty || r.o.no_port_forwarding || r.o.no_agent_forwarding ||
                 r.o.no_x11_forwarding || r.o.no_user_rc);
    assert_null(r.o.command);
    tun_keyopts_free(&r.o);
    free(file);
}

static void test_plain_lines_never_take_certs(void **state)
{
    (void)state;
    /* The certified key's own plain line does not let its certificate in. */
    expect("", "user_ed25519_key.pub", "user_ed25519-cert.pub", "alice", "127.0.0.1", NOW, NULL,
           TUN_AK_NOT_FOUND, NULL);
    /* Nor does the CA's key on a plain line. */
    expect("", "ca_ed25519_key.pub", "user_ed25519-cert.pub", "alice", "127.0.0.1", NOW, NULL,
           TUN_AK_NOT_FOUND, NULL);
    /* Nor the certificate itself pasted as a line. */
    expect("", "user_ed25519-cert.pub", "user_ed25519-cert.pub", "alice", "127.0.0.1", NOW, NULL,
           TUN_AK_NOT_FOUND, NULL);
    /* A cert-authority line is no line for a plain key, not even its own. */
    ssh_key *ca = key_of("ca_ed25519_key.pub");
    char *file = ak_line("cert-authority", "ca_ed25519_key.pub");
    assert_int_equal(tun_authkeys_find_user(file, strlen(file), ca, "alice", "127.0.0.1", NOW, NULL,
                                            NULL, NULL, 0),
                     TUN_AK_NOT_FOUND);
    free(file);
    ssh_key_free(ca);
    /* Without a user (tun_authkeys_find), certificates find nothing. */
    file = ak_line("cert-authority", "ca_ed25519_key.pub");
    ssh_key *k = key_of("user_ed25519-cert.pub");
    assert_int_equal(tun_authkeys_find(file, strlen(file), k, "127.0.0.1", NOW, NULL, NULL, 0),
                     TUN_AK_NOT_FOUND);
    ssh_key_free(k);
    free(file);
}

static void test_ca_line_principals(void **state)
{
    (void)state;
    const char *ca = "ca_ed25519_key.pub", *cert = "user_ed25519-cert.pub";
    /* Without principals=, the account's name must be a principal. */
    expect("cert-authority", ca, cert, "carol", "127.0.0.1", NOW, NULL, TUN_AK_DENIED,
           "not a listed principal");
    /* With principals=, one of them must be in the certificate, and then
     * the account's name need not be. */
    expect("cert-authority,principals=\"bob\"", ca, cert, "carol", "127.0.0.1", NOW, NULL,
           TUN_AK_FOUND, NULL);
    expect("cert-authority,principals=\"x,y,bob\"", ca, cert, "carol", "127.0.0.1", NOW, NULL,
           TUN_AK_FOUND, NULL);
    expect("cert-authority,principals=\"carol\"", ca, cert, "alice", "127.0.0.1", NOW, NULL,
           TUN_AK_DENIED, "authorized principal");
    /* Exact names: no patterns, no prefixes. */
    expect("cert-authority,principals=\"b*\"", ca, cert, "carol", "127.0.0.1", NOW, NULL,
           TUN_AK_DENIED, NULL);
    expect("cert-authority,principals=\"bo\"", ca, cert, "carol", "127.0.0.1", NOW, NULL,
           TUN_AK_DENIED, NULL);
    /* A certificate without principals is refused (CVE-2024-7594). */
    expect("cert-authority", ca, "noprinc-cert.pub", "alice", "127.0.0.1", NOW, NULL, TUN_AK_DENIED,
           "lacks principal");
    /* principals= on a plain line makes the line useless. */
    ssh_key *plain = key_of("user_ed25519_key.pub");
    char *file = ak_line("principals=\"alice\"", "user_ed25519_key.pub");
    assert_int_equal(tun_authkeys_find_user(file, strlen(file), plain, "alice", "127.0.0.1", NOW,
                                            NULL, NULL, NULL, 0),
                     TUN_AK_NOT_FOUND);
    free(file);
    ssh_key_free(plain);
}

static void test_ca_line_validity_and_algs(void **state)
{
    (void)state;
    const char *ca = "ca_ed25519_key.pub", *cert = "user_ed25519-cert.pub";
    expect("cert-authority", ca, cert, "alice", "127.0.0.1", BEFORE, NULL, TUN_AK_DENIED,
           "not yet valid");
    expect("cert-authority", ca, cert, "alice", "127.0.0.1", AFTER, NULL, TUN_AK_DENIED, "expired");
    /* The line's own expiry-time and from= still apply. */
    expect("cert-authority,expiry-time=\"20200601\"", ca, cert, "alice", "127.0.0.1", NOW, NULL,
           TUN_AK_DENIED, "expired");
    expect("cert-authority,from=\"10.*\"", ca, cert, "alice", "127.0.0.1", NOW, NULL, TUN_AK_DENIED,
           "from=");
    expect("cert-authority,from=\"10.*\"", ca, cert, "alice", "10.9.8.7", NOW, NULL, TUN_AK_FOUND,
           NULL);
    /* CASignatureAlgorithms: the default refuses SHA-1 RSA CA signatures. */
    expect("cert-authority", "ca_rsa_key.pub", "ca_sha1-cert.pub", "alice", "127.0.0.1", NOW,
           SSH_DEFAULT_CA_SIG_ALGS, TUN_AK_DENIED, "disallowed algorithm");
    expect("cert-authority", "ca_rsa_key.pub", "ca_sha1-cert.pub", "alice", "127.0.0.1", NOW,
           "ssh-rsa", TUN_AK_FOUND, NULL);
    expect("cert-authority", "ca_rsa_key.pub", "ca_rsa256-cert.pub", "alice", "127.0.0.1", NOW,
           "ssh-ed25519,rsa-sha2-512", TUN_AK_DENIED, "disallowed algorithm");
}

/* ---- what a certificate carries ------------------------------------------ */

static void test_cert_options(void **state)
{
    (void)state;
    const char *ca = "ca_ed25519_key.pub";
    char *file = ak_line("cert-authority", ca);
    struct res r;
    find(file, "opts-cert.pub", "alice", "127.0.0.1", NOW, NULL, &r);
    assert_int_equal(r.r, TUN_AK_FOUND);
    assert_string_equal(r.o.command, "echo forced");
    assert_true(r.o.no_pty); /* -O no-pty */
    assert_false(r.o.no_port_forwarding || r.o.no_agent_forwarding || r.o.no_x11_forwarding ||
                 r.o.no_user_rc);
    tun_keyopts_free(&r.o);
    find(file, "opts-cert.pub", "alice", "::1", NOW, NULL, &r);
    assert_int_equal(r.r, TUN_AK_FOUND);
    tun_keyopts_free(&r.o);
    /* source-address: elsewhere is refused, and an unknown address too. */
    find(file, "opts-cert.pub", "alice", "127.0.0.2", NOW, NULL, &r);
    assert_int_equal(r.r, TUN_AK_DENIED);
    assert_non_null(strstr(r.why, "source address"));
    find(file, "opts-cert.pub", "alice", NULL, NOW, NULL, &r);
    assert_int_equal(r.r, TUN_AK_DENIED);
    /* -O clear: no extension, so everything is restricted. */
    find(file, "clear-cert.pub", "alice", "127.0.0.1", NOW, NULL, &r);
    assert_int_equal(r.r, TUN_AK_FOUND);
    assert_true(r.o.no_pty && r.o.no_port_forwarding && r.o.no_agent_forwarding &&
                r.o.no_x11_forwarding && r.o.no_user_rc);
    tun_keyopts_free(&r.o);
    free(file);
    /* verify-required and unknown critical options are refused. */
    expect("cert-authority", ca, "verify-cert.pub", "alice", "127.0.0.1", NOW, NULL, TUN_AK_DENIED,
           "verify-required");
    expect("cert-authority", ca, "crit-cert.pub", "alice", "127.0.0.1", NOW, NULL, TUN_AK_DENIED,
           "critical");
    /* tun_cert_keyopts refuses a plain key and a host certificate. */
    tun_keyopts o;
    char why[128];
    ssh_key *k = key_of("user_ed25519_key.pub");
    assert_int_equal(tun_cert_keyopts(k, "127.0.0.1", &o, why, sizeof(why)), -1);
    ssh_key_free(k);
    k = key_of("host_ed25519-cert.pub");
    assert_int_equal(tun_cert_keyopts(k, "127.0.0.1", &o, why, sizeof(why)), -1);
    ssh_key_free(k);
}

static void test_merge_with_line(void **state)
{
    (void)state;
    const char *ca = "ca_ed25519_key.pub";
    /* Both restrict: the line's no-port-forwarding and the certificate's
     * missing permit-pty both hold. */
    char *file = ak_line("cert-authority,no-port-forwarding,permitopen=\"h:1\"", ca);
    struct res r;
    find(file, "opts-cert.pub", "alice", "127.0.0.1", NOW, NULL, &r);
    assert_int_equal(r.r, TUN_AK_FOUND);
    assert_true(r.o.no_pty && r.o.no_port_forwarding);
    assert_false(r.o.no_agent_forwarding);
    assert_int_equal(r.o.n_permitopen, 1);
    assert_string_equal(r.o.permitopen[0], "h:1");
    assert_string_equal(r.o.command, "echo forced");
    tun_keyopts_free(&r.o);
    free(file);
    /* Two forced commands must agree. */
    expect("cert-authority,command=\"echo forced\"", ca, "opts-cert.pub", "alice", "127.0.0.1", NOW,
           NULL, TUN_AK_FOUND, NULL);
    expect("cert-authority,command=\"other\"", ca, "opts-cert.pub", "alice", "127.0.0.1", NOW, NULL,
           TUN_AK_DENIED, "forced command");
    /* The line's command alone applies. */
    file = ak_line("cert-authority,command=\"only line\"", ca);
    find(file, "user_ed25519-cert.pub", "alice", "127.0.0.1", NOW, NULL, &r);
    assert_int_equal(r.r, TUN_AK_FOUND);
    assert_string_equal(r.o.command, "only line");
    tun_keyopts_free(&r.o);
    free(file);
    /* restrict on the line wins over the certificate's permits. */
    file = ak_line("cert-authority,restrict", ca);
    find(file, "user_ed25519-cert.pub", "alice", "127.0.0.1", NOW, NULL, &r);
    assert_int_equal(r.r, TUN_AK_FOUND);
    assert_true(r.o.no_pty && r.o.no_port_forwarding && r.o.no_agent_forwarding);
    tun_keyopts_free(&r.o);
    free(file);
    /* Merge directly: lists come from the certificate side when the line
     * has none. */
    tun_keyopts line, cert;
    memset(&line, 0, sizeof(line));
    memset(&cert, 0, sizeof(cert));
    cert.permitlisten[0] = strdup("8080");
    cert.n_permitlisten = 1;
    cert.environment[0] = strdup("A=b");
    cert.n_environment = 1;
    char why[128];
    assert_int_equal(tun_keyopts_merge(&line, &cert, why, sizeof(why)), 0);
    assert_int_equal(line.n_permitlisten, 1);
    assert_string_equal(line.permitlisten[0], "8080");
    assert_int_equal(line.n_environment, 1);
    tun_keyopts_free(&line);
    tun_keyopts_free(&cert);
}

/* ---- AuthorizedPrincipalsFile --------------------------------------------- */

static enum tun_ak_result pfind(const char *data, const char *cert, const char *ip, tun_keyopts *o,
                                char *why, size_t whysz)
{
    ssh_key *k = key_of(cert);
    enum tun_ak_result r =
        tun_principals_find(data, strlen(data), ssh_key_cert(k), ip, NOW, o, why, whysz);
    ssh_key_free(k);
    return r;
}

static void test_principals_file(void **state)
{
    (void)state;
    tun_keyopts o;
    char why[256];
    const char *cert = "user_ed25519-cert.pub"; /* alice, bob */
    assert_int_equal(pfind("", cert, "127.0.0.1", &o, why, sizeof(why)), TUN_AK_NOT_FOUND);
    assert_int_equal(
        pfind("# comment\n\ncarol\n  dave  \n", cert, "127.0.0.1", &o, why, sizeof(why)),
        TUN_AK_NOT_FOUND);
    assert_int_equal(pfind("carol\r\nbob\r\n", cert, "127.0.0.1", &o, why, sizeof(why)),
                     TUN_AK_FOUND);
    tun_keyopts_free(&o);
    /* Options before the principal apply. */
    assert_int_equal(
        pfind("command=\"uptime\",no-pty  alice\n", cert, "127.0.0.1", &o, why, sizeof(why)),
        TUN_AK_FOUND);
    assert_string_equal(o.command, "uptime");
    assert_true(o.no_pty);
    tun_keyopts_free(&o);
    /* The first line naming a listed principal decides. */
    assert_int_equal(
        pfind("from=\"10.0.0.0/8\" bob\nalice\n", cert, "127.0.0.1", &o, why, sizeof(why)),
        TUN_AK_DENIED);
    assert_int_equal(
        pfind("from=\"10.0.0.0/8\" bob\nalice\n", cert, "10.1.2.3", &o, why, sizeof(why)),
        TUN_AK_FOUND);
    tun_keyopts_free(&o);
    assert_int_equal(
        pfind("expiry-time=\"20200101\" alice\n", cert, "127.0.0.1", &o, why, sizeof(why)),
        TUN_AK_DENIED);
    /* cert-authority / principals= make no sense here. */
    assert_int_equal(pfind("cert-authority alice\n", cert, "127.0.0.1", &o, why, sizeof(why)),
                     TUN_AK_DENIED);
    assert_int_equal(pfind("principals=\"alice\" alice\n", cert, "127.0.0.1", &o, why, sizeof(why)),
                     TUN_AK_DENIED);
    /* A line with bad options is skipped; a later one may decide. */
    assert_int_equal(pfind("frobnicate alice\nbob\n", cert, "127.0.0.1", &o, why, sizeof(why)),
                     TUN_AK_FOUND);
    tun_keyopts_free(&o);
    /* Names are exact, a NUL byte makes a line void. */
    assert_int_equal(pfind("alic\nalice2\nALICE\n", cert, "127.0.0.1", &o, why, sizeof(why)),
                     TUN_AK_NOT_FOUND);
    static const char nul[] = "al\0ice\n";
    ssh_key *k = key_of(cert);
    assert_int_equal(tun_principals_find(nul, sizeof(nul) - 1, ssh_key_cert(k), "127.0.0.1", NOW,
                                         &o, why, sizeof(why)),
                     TUN_AK_NOT_FOUND);
    ssh_key_free(k);
}

static void test_keylist_and_principal_list(void **state)
{
    (void)state;
    char *ca1 = fixture("ca_ed25519_key.pub"), *ca2 = fixture("ca_ecdsa_key.pub");
    char *cert = fixture("user_ed25519-cert.pub");
    char data[8192];
    snprintf(data, sizeof(data), "# CAs\n\n%s\n  %s\n", ca2, cert);
    ssh_key *k1 = key_of("ca_ed25519_key.pub"), *k2 = key_of("ca_ecdsa_key.pub");
    ssh_key *kc = key_of("user_ed25519-cert.pub");
    assert_int_equal(tun_keylist_has(data, strlen(data), k2), 1);
    assert_int_equal(tun_keylist_has(data, strlen(data), k1), 0);
    /* A certificate in the list trusts nothing. */
    assert_int_equal(tun_keylist_has(data, strlen(data), kc), 0);
    snprintf(data, sizeof(data), "%s\n", ca1);
    assert_int_equal(tun_keylist_has(data, strlen(data), k1), 1);
    const ssh_cert *c = ssh_key_cert(kc);
    assert_int_equal(tun_cert_principals_match(c, "bob"), 1);
    assert_int_equal(tun_cert_principals_match(c, "x,alice"), 1);
    assert_int_equal(tun_cert_principals_match(c, "x,,y"), 0);
    assert_int_equal(tun_cert_principals_match(c, ""), 0);
    assert_int_equal(tun_cert_principals_match(c, "alice2,bo"), 0);
    ssh_key_free(k1);
    ssh_key_free(k2);
    ssh_key_free(kc);
    free(ca1);
    free(ca2);
    free(cert);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ca_line_each_key_type),
        cmocka_unit_test(test_plain_lines_never_take_certs),
        cmocka_unit_test(test_ca_line_principals),
        cmocka_unit_test(test_ca_line_validity_and_algs),
        cmocka_unit_test(test_cert_options),
        cmocka_unit_test(test_merge_with_line),
        cmocka_unit_test(test_principals_file),
        cmocka_unit_test(test_keylist_and_principal_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
