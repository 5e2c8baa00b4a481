/*
 * test_tun_authkeys.c - authorized_keys parsing and lookup, from= address
 * lists, permitopen/permitlisten matching and the options codec
 * (tunnel/tun_authkeys.h).
 *
 * The public keys below are THROWAWAY TEST DATA generated for this test
 * with OpenSSH 9.2p1 (ssh-keygen -t ed25519|ecdsa -b 256|rsa -b 2048|dsa
 * -N '', and ssh-keygen -s for the certificate).  Their private halves were
 * discarded; they protect nothing.
 */
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sshtun/buf.h"
#include "sshtun/key.h"
#include "tun_authkeys.h"

/* ---- test data (throwaway, see above) ----------------------------------- */

#define KEY_A "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDLJiJnloN6DCX2R47wC1mMpUuB9LSNwFIkB8/AzX94m"
#define KEY_B "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFwmCgFpmJSLFuavwLAxGhfyfSumvJ34MpclA8oEO1TC"
#define KEY_P256                                                                                   \
    "ecdsa-sha2-nistp256 "                                                                         \
    "AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBHtUk/"                                   \
    "49U9bpNFfH5+KIvUjKLZ36dbJrbd9QzV3fi"                                                          \
    "6XBNoWFnpRgYffkUw+vRMDg2su52gkj4FVXAnp+ZA6ZRNo="
#define KEY_RSA                                                                                    \
    "ssh-rsa "                                                                                     \
    "AAAAB3NzaC1yc2EAAAADAQABAAABAQDv/XeeO12VyuQb1SQgPXsohs1LUgEWgoNPzwfQghpQ4sekyIrus/"           \
    "DorXpp3CQHd"                                                                                  \
    "/YH+4mFCljHo2sMNtmioMoE8cUubS2c+wmZr3fguweh2ojFiLzrIbmIGSbWHtuYN/qUfkh41xe58CV/"              \
    "nlLPBNSq3GnnWg"                                                                               \
    "Q9G0qd0jeDbjuzdcTIt66ALoZZc3CFquhDc4mQSwcQk++ameM3SCX+VrGjZLxsL5fI2ncjB293y/"                 \
    "iDsx9sUSObjYLleDh"                                                                            \
    "ereyE283spDx5JU8mr/"                                                                          \
    "vsod7o7dzzly+CJFDQ5U6mtUQauU9qlFfzV+XGi8dcYYQRkpZchmKPjjEK+Z2XUpmhWhFNLQux"
/* Unsupported key type: the line must be skipped, not fail the file. */
#define KEY_DSA                                                                                    \
    "ssh-dss "                                                                                     \
    "AAAAB3NzaC1kc3MAAACBANcUV6rRYXk+RZh/"                                                         \
    "9q4M32Ce0jaRdD3al3KlM9bumroil7HoXb4+Wl2w2NZaxZhL2zOKdn7Scq"                                   \
    "6rjIgYLkOmM316se9qi7WHImPGrfZ/wlOZXL3cvFjmMTWJ8nCVVn2AzJfqJydg/D8HM4m+958plC225/"             \
    "m1GDFYtpBfqluZ"                                                                               \
    "4qWXAAAAFQD1BwYOoBBchdPS1t+8DW+g+u/KuQAAAIBhykCVhzEekRRJY0u2HA/wBHTR/"                        \
    "EVYtHnWLbSvkLctij1VVBWUsu"                                                                    \
    "6F0C0J5kNYFC5k3XQKsEuvX9vhRT4fY5+e7HEcAnJ8Dz302hW8opo+pMav8hj7IlhGw/"                         \
    "wSz7WaqnnZAZSekUK85hWc+qLm"                                                                   \
    "peR7NRQ3/"                                                                                    \
    "EN6At6VDLiUGoQATQAAAIAurBmEGvovBLjOU6odct0x3SBtjh3zhrIDtiNvICNQg37FT+pftHULJD+l1nqyRC"        \
    "9rH2VwrYikvr4FUcl23uV82tAjeN5b5VKMLL2a/SPd4HBY9aTxe0CWx1Bk8RVy9q5alHQeGVYn7x/bZnw/"           \
    "ng2QTzwjF9akI"                                                                                \
    "1nNwm96mc/49A=="
/* A certificate for KEY_A signed by KEY_CA: certificates are not supported. */
#define CERT_A                                                                                     \
    "ssh-ed25519-cert-v01@openssh.com "                                                            \
    "AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29tAAAAICDDS03zWp5k779Xzq+"                      \
    "nEoVKRycIagEQmk7aIGRnA"                                                                       \
    "BiiAAAAIDLJiJnloN6DCX2R47wC1mMpUuB9LSNwFIkB8/"                                                \
    "AzX94mAAAAAAAAAAAAAAABAAAAB2FrLWNlcnQAAAAJAAAABW"                                             \
    "FsaWNlAAAAAAAAAAD//////////"                                                                  \
    "wAAAAAAAACCAAAAFXBlcm1pdC1YMTEtZm9yd2FyZGluZwAAAAAAAAAXcGVybWl0LWFn"                          \
    "ZW50LWZvcndhcmRpbmcAAAAAAAAAFnBlcm1pdC1wb3J0LWZvcndhcmRpbmcAAAAAAAAACnBlcm1pdC1wdHkAAAAAAAAA" \
    "Dn"                                                                                           \
    "Blcm1pdC11c2VyLXJjAAAAAAAAAAAAAAAzAAAAC3NzaC1lZDI1NTE5AAAAIDLycqWsB6/RZXEWB38S4alj/"          \
    "EivPV0J9NkQ"                                                                                  \
    "qfIwrHxwAAAAUwAAAAtzc2gtZWQyNTUxOQAAAEDgMoLVWz+zfZE4nbySSj+"                                  \
    "kdSg2QpFi3JH6FDT0jQqvehsgI302WGEPZ6"                                                          \
    "INiUJ+Pn1nVk7kEZ+Y5uSZiztlfEkJ"
#define KEY_CA "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDLycqWsB6/RZXEWB38S4alj/EivPV0J9NkQqfIwrHxw"

/* 2023-11-14 22:13:20 UTC */
#define NOW ((int64_t)1700000000)

static ssh_key *ka, *kb, *kp256, *krsa, *kca;

static ssh_key *load(const char *line)
{
    ssh_key *k = NULL;
    assert_int_equal(ssh_key_parse_public_line(line, strlen(line), &k, NULL), 0);
    return k;
}

static int setup_keys(void **state)
{
    (void)state;
    ka = load(KEY_A);
    kb = load(KEY_B);
    kp256 = load(KEY_P256);
    krsa = load(KEY_RSA);
    kca = load(KEY_CA);
    return 0;
}

static int teardown_keys(void **state)
{
    (void)state;
    ssh_key_free(ka);
    ssh_key_free(kb);
    ssh_key_free(kp256);
    ssh_key_free(krsa);
    ssh_key_free(kca);
    return 0;
}

/* ---- helpers ------------------------------------------------------------ */

static char why[128];

static enum tun_ak_result find_ip(const char *file, const ssh_key *k, const char *ip, int64_t now,
                                  tun_keyopts *o)
{
    memset(why, 'x', sizeof(why));
    why[sizeof(why) - 1] = '\0';
    enum tun_ak_result r = tun_authkeys_find(file, strlen(file), k, ip, now, o, why, sizeof(why));
    if (r != TUN_AK_DENIED)
        assert_string_equal(why, "");
    else
        assert_true(why[0] != '\0');
    return r;
}

static enum tun_ak_result find(const char *file, const ssh_key *k, tun_keyopts *o)
{
    return find_ip(file, k, "192.0.2.10", NOW, o);
}

static int is_zero_opts(const tun_keyopts *o)
{
    tun_keyopts z;
    memset(&z, 0, sizeof(z));
    return memcmp(o, &z, sizeof(z)) == 0;
}

/* Found with no options at all. */
static void expect_plain(const char *file, const ssh_key *k)
{
    tun_keyopts o;
    assert_int_equal(find(file, k, &o), TUN_AK_FOUND);
    assert_true(is_zero_opts(&o));
    tun_keyopts_free(&o);
}

static void expect_not_found(const char *file, const ssh_key *k)
{
    tun_keyopts o;
    memset(&o, 0x55, sizeof(o)); /* must be cleared */
    assert_int_equal(find(file, k, &o), TUN_AK_NOT_FOUND);
    assert_true(is_zero_opts(&o));
}

/* Parse the options of `line`; returns the offset, fills *o (freed by the
 * caller) and *ignore. */
static int parse(const char *line, tun_keyopts *o, int *ignore)
{
    return tun_authkeys_parse_options(line, strlen(line), o, ignore, NULL, NULL);
}

/* Options of `opts` + " " KEY_A must parse to exactly these flags. */
static void expect_flags(const char *opts, int pf, int pty, int agent, int x11, int rc)
{
    char line[512];
    snprintf(line, sizeof(line), "%s %s", opts, KEY_A);
    tun_keyopts o;
    int ign = -1;
    int off = parse(line, &o, &ign);
    if (off != (int)strlen(opts) + 1)
        fail_msg("\"%s\": offset %d", opts, off);
    assert_int_equal(ign, 0);
    if (o.no_port_forwarding != pf || o.no_pty != pty || o.no_agent_forwarding != agent ||
        o.no_x11_forwarding != x11 || o.no_user_rc != rc)
        fail_msg("\"%s\": flags %d %d %d %d %d", opts, o.no_port_forwarding, o.no_pty,
                 o.no_agent_forwarding, o.no_x11_forwarding, o.no_user_rc);
    assert_null(o.command);
    assert_int_equal(o.n_permitopen + o.n_permitlisten + o.n_environment, 0);
    tun_keyopts_free(&o);
    /* And through the lookup. */
    assert_int_equal(find(line, ka, &o), TUN_AK_FOUND);
    assert_int_equal(o.no_pty, pty);
    assert_int_equal(o.no_port_forwarding, pf);
    tun_keyopts_free(&o);
}

/* The option list must make the line invalid (skipped by the lookup). */
static void expect_bad(const char *opts)
{
    char line[20000];
    snprintf(line, sizeof(line), "%s %s", opts, KEY_A);
    tun_keyopts o;
    char *from = (char *)1, *expiry = (char *)1;
    int ign = -1;
    int off = tun_authkeys_parse_options(line, strlen(line), &o, &ign, &from, &expiry);
    if (off != -1)
        fail_msg("accepted: %.200s", opts);
    assert_true(is_zero_opts(&o));
    assert_null(from);
    assert_null(expiry);
    assert_int_equal(ign, 0);
    expect_not_found(line, ka);
}

/* The command= that `file` gives KEY_A. */
static void file_command(const char *file, const char *want)
{
    tun_keyopts o;
    assert_int_equal(find(file, ka, &o), TUN_AK_FOUND);
    assert_non_null(o.command);
    assert_string_equal(o.command, want);
    tun_keyopts_free(&o);
}

/* The command= the options `opts` give (on a line with KEY_A). */
static void expect_command(const char *opts, const char *want)
{
    size_t n = strlen(opts) + sizeof(KEY_A) + 16;
    char *line = malloc(n);
    assert_non_null(line);
    snprintf(line, n, "%s %s comment", opts, KEY_A);
    file_command(line, want);
    free(line);
}

/* ---- plain lines ---------------------------------------------------------- */

static void test_plain_lines(void **state)
{
    (void)state;
    expect_plain(KEY_A "\n", ka);
    expect_plain(KEY_A, ka);                     /* no final newline */
    expect_plain(KEY_A " a comment here\n", ka); /* comment with blanks */
    expect_plain("  \t" KEY_A "\r\n", ka);       /* leading blanks, CRLF */
    expect_plain(KEY_P256 " ak-p256\n", kp256);
    expect_plain(KEY_RSA " ak-rsa\n", krsa);
    const char *file = KEY_B " b\n" KEY_P256 "\n" KEY_RSA "\n" KEY_A " a\n";
    expect_plain(file, ka);
    expect_plain(file, kb);
    expect_plain(file, kp256);
    expect_plain(file, krsa);
    expect_not_found(file, kca);
    expect_not_found("", ka);
    expect_not_found(KEY_B "\n", ka);
    /* NULL arguments. */
    tun_keyopts o;
    assert_int_equal(tun_authkeys_find(NULL, 0, ka, "1.2.3.4", NOW, &o, why, sizeof(why)),
                     TUN_AK_NOT_FOUND);
    assert_int_equal(
        tun_authkeys_find(KEY_A, strlen(KEY_A), NULL, "1.2.3.4", NOW, &o, why, sizeof(why)),
        TUN_AK_NOT_FOUND);
    /* opts and why may be NULL. */
    assert_int_equal(tun_authkeys_find(KEY_A, strlen(KEY_A), ka, NULL, NOW, NULL, NULL, 0),
                     TUN_AK_FOUND);
    const char *ro = "restrict,command=\"x\" " KEY_A;
    assert_int_equal(tun_authkeys_find(ro, strlen(ro), ka, NULL, NOW, NULL, NULL, 0), TUN_AK_FOUND);
    /* Only `len` bytes are looked at. */
    const char *two = KEY_B "\n" KEY_A "\n";
    assert_int_equal(tun_authkeys_find(two, strlen(KEY_B) + 1, ka, NULL, NOW, &o, why, sizeof(why)),
                     TUN_AK_NOT_FOUND);
    assert_int_equal(tun_authkeys_find(two, strlen(two) - 10, ka, NULL, NOW, &o, why, sizeof(why)),
                     TUN_AK_NOT_FOUND);
}

static void test_comments_blank_malformed(void **state)
{
    (void)state;
    const char *file = "# a comment " KEY_A "\n"
                       "\n"
                       "   \t  \n"
                       "   # indented comment\n"
                       "\r\n"
                       "garbage\n"
                       "ssh-ed25519\n"                              /* type only */
                       "ssh-ed25519 AAAA%%%%\n"                     /* bad base64 */
                       "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDLJ\n" /* truncated blob */
                       "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIDLJiJnloN6DCX2R47wC1mMpUuB9LSNwFIkB8/"
                       "AzX94m\n" /* type and blob disagree */
                       "ssh-foo AAAA\n" KEY_DSA " ak-dsa\n" CERT_A " cert\n"
                       "\"unterminated ssh-ed25519 x\n"
                       "restrict\n"
                       "restrict "
                       "ssh-ed25519\n"
                       "command=\"x\"\n";
    expect_not_found(file, ka);
    /* None of that stops a later good line. */
    char *f2 = malloc(strlen(file) + 200);
    assert_non_null(f2);
    strcpy(f2, file);
    strcat(f2, "no-pty " KEY_A " good\n");
    tun_keyopts o;
    assert_int_equal(find(f2, ka, &o), TUN_AK_FOUND);
    assert_int_equal(o.no_pty, 1);
    tun_keyopts_free(&o);
    free(f2);

    /* A commented-out key is not a key. */
    expect_not_found("#" KEY_A "\n", ka);
    expect_not_found("# " KEY_A "\n", ka);

    /* A NUL byte spoils its line only. */
    static const char nul[] = "no-pty " KEY_A "\0 x\n" KEY_A " after\n";
    assert_int_equal(tun_authkeys_find(nul, sizeof(nul) - 1, ka, NULL, NOW, &o, why, sizeof(why)),
                     TUN_AK_FOUND);
    assert_int_equal(o.no_pty, 0); /* from the second line */
    tun_keyopts_free(&o);
    static const char nul2[] = "no-pty " KEY_A "\0";
    assert_int_equal(tun_authkeys_find(nul2, sizeof(nul2) - 1, ka, NULL, NOW, &o, why, sizeof(why)),
                     TUN_AK_NOT_FOUND);

    /* The blob must be followed by a blank or the end of the line. */
    expect_not_found(KEY_A "junk\n", ka);
    /* Options must be separated from the key type. */
    expect_not_found("no-pty," KEY_A "\n", ka);
}

/* ---- options ------------------------------------------------------------- */

static void test_each_flag_option(void **state)
{
    (void)state;
    /*                                              pf pty ag x11 rc */
    expect_flags("no-port-forwarding", 1, 0, 0, 0, 0);
    expect_flags("no-pty", 0, 1, 0, 0, 0);
    expect_flags("no-agent-forwarding", 0, 0, 1, 0, 0);
    expect_flags("no-X11-forwarding", 0, 0, 0, 1, 0);
    expect_flags("no-user-rc", 0, 0, 0, 0, 1);
    expect_flags("port-forwarding", 0, 0, 0, 0, 0);
    expect_flags("pty", 0, 0, 0, 0, 0);
    expect_flags("agent-forwarding", 0, 0, 0, 0, 0);
    expect_flags("X11-forwarding", 0, 0, 0, 0, 0);
    expect_flags("user-rc", 0, 0, 0, 0, 0);
    expect_flags("no-touch-required", 0, 0, 0, 0, 0);
    expect_flags("verify-required", 0, 0, 0, 0, 0);
    expect_flags("no-touch-required,verify-required,no-pty", 0, 1, 0, 0, 0);
    expect_flags("no-port-forwarding,no-pty,no-agent-forwarding,no-X11-forwarding,no-user-rc", 1, 1,
                 1, 1, 1);
    /* Later options override earlier ones. */
    expect_flags("no-pty,pty", 0, 0, 0, 0, 0);
    expect_flags("pty,no-pty", 0, 1, 0, 0, 0);
    expect_flags("no-port-forwarding,port-forwarding,no-user-rc", 0, 0, 0, 0, 1);
    /* Names are case-insensitive. */
    expect_flags("NO-PTY,No-Port-Forwarding,no-x11-FORWARDING", 1, 1, 0, 1, 0);
}

static void test_restrict_and_reenable(void **state)
{
    (void)state;
    expect_flags("restrict", 1, 1, 1, 1, 1);
    expect_flags("RESTRICT", 1, 1, 1, 1, 1);
    expect_flags("restrict,pty", 1, 0, 1, 1, 1);
    expect_flags("restrict,port-forwarding", 0, 1, 1, 1, 1);
    expect_flags("restrict,agent-forwarding", 1, 1, 0, 1, 1);
    expect_flags("restrict,X11-forwarding", 1, 1, 1, 0, 1);
    expect_flags("restrict,user-rc", 1, 1, 1, 1, 0);
    expect_flags("restrict,pty,port-forwarding,agent-forwarding,X11-forwarding,user-rc", 0, 0, 0, 0,
                 0);
    /* Left to right: restrict after pty takes it away again. */
    expect_flags("pty,restrict", 1, 1, 1, 1, 1);
    expect_flags("restrict,pty,restrict", 1, 1, 1, 1, 1);
    expect_flags("restrict,pty,no-pty", 1, 1, 1, 1, 1);

    /* restrict with values: the lists and command are kept. */
    tun_keyopts o;
    const char *line = "restrict,permitopen=\"localhost:80\",command=\"uptime\" " KEY_A;
    assert_int_equal(find(line, ka, &o), TUN_AK_FOUND);
    assert_int_equal(o.no_port_forwarding, 1);
    assert_int_equal(o.n_permitopen, 1);
    assert_string_equal(o.permitopen[0], "localhost:80");
    assert_string_equal(o.command, "uptime");
    tun_keyopts_free(&o);
}

static void test_command_quoting(void **state)
{
    (void)state;
    expect_command("command=\"echo hi\"", "echo hi");
    expect_command("command=\"\"", "");
    expect_command("command=\"a,b c\"", "a,b c"); /* comma and blank inside quotes */
    expect_command("command=\"echo \\\"quoted\\\" word\"", "echo \"quoted\" word");
    expect_command("command=\"\\\"\"", "\"");
    expect_command("command=\"a\\\\b\"", "a\\\\b"); /* other backslashes stay */
    expect_command("command=\"tab\\there\"", "tab\\there");
    expect_command("command=\"x\\\\\\\"y\"", "x\\\\\"y"); /* \\\" = \\ then \" */
    expect_command("command=\"  lead and trail  \"", "  lead and trail  ");
    expect_command("command=\"=,#\"", "=,#");
    expect_command("COMMAND=\"upper\"", "upper");
    expect_command("no-pty,command=\"in the middle\",no-user-rc", "in the middle");

    /* Syntax errors: the line is skipped. */
    expect_bad("command=\"unterminated");
    expect_bad("command=\"unterminated\\\"");
    /* So a value cannot end in a backslash: \\" is a backslash and an
     * escaped quote (only \" is special). */
    expect_bad("command=\"ends in backslash\\\\\""); /* the quote is escaped */
    expect_bad("command=unquoted");
    expect_bad("command=");
    expect_bad("command");
    expect_bad("command=\"x\"junk");
    /* The list ends at the blank: ",no-pty" is then taken for the key. */
    expect_not_found("command=\"x\" ,no-pty " KEY_A, ka);
    expect_bad("command='single'");
    expect_bad("command=\"one\",command=\"two\""); /* only one command= */
    expect_bad("pty=\"x\"");                       /* flags take no value */
    expect_bad("restrict=\"yes\"");
    expect_bad("no-pty,"); /* trailing comma */
    expect_bad("no-pty,,pty");
    expect_bad(",no-pty");
    expect_not_found("no-pty ,pty " KEY_A, ka);
    expect_bad("command =\"x\"");
    /* A value too long (8 KiB is the limit). */
    char big[9 + 8193 + 2], want[8193];
    strcpy(big, "command=\"");
    memset(big + 9, 'a', 8193);
    strcpy(big + 9 + 8193, "\"");
    expect_bad(big);
    strcpy(big + 9 + 8192, "\""); /* 8192 bytes: fine */
    memset(want, 'a', 8192);
    want[8192] = '\0';
    expect_command(big, want);
    /* An escaped quote counts as one byte. */
    strcpy(big + 9 + 8190, "\\\"\"");
    want[8190] = '"';
    want[8191] = '\0';
    expect_command(big, want);
}

static void test_environment_and_permits(void **state)
{
    (void)state;
    tun_keyopts o;
    const char *line = "environment=\"A=1\",environment=\"PATH=/bin:/usr/bin\","
                       "environment=\"EMPTY=\",environment=\"X_Y2=a \\\"b\\\" c\","
                       "permitopen=\"localhost:80\",permitopen=\"[::1]:22\","
                       "permitopen=\"*:443\",permitopen=\"db.example.com:*\","
                       "permitopen=\"192.0.2.1:0\","
                       "permitlisten=\"8080\",permitlisten=\"localhost:8081\","
                       "permitlisten=\"[::1]:*\",permitlisten=\"*\" " KEY_A " c";
    assert_int_equal(find(line, ka, &o), TUN_AK_FOUND);
    assert_int_equal(o.n_environment, 4);
    assert_string_equal(o.environment[0], "A=1");
    assert_string_equal(o.environment[1], "PATH=/bin:/usr/bin");
    assert_string_equal(o.environment[2], "EMPTY=");
    assert_string_equal(o.environment[3], "X_Y2=a \"b\" c");
    assert_int_equal(o.n_permitopen, 5);
    assert_string_equal(o.permitopen[0], "localhost:80");
    assert_string_equal(o.permitopen[1], "[::1]:22");
    assert_string_equal(o.permitopen[2], "*:443");
    assert_string_equal(o.permitopen[3], "db.example.com:*");
    assert_string_equal(o.permitopen[4], "192.0.2.1:0");
    assert_int_equal(o.n_permitlisten, 4);
    assert_string_equal(o.permitlisten[0], "8080");
    assert_string_equal(o.permitlisten[1], "localhost:8081");
    assert_string_equal(o.permitlisten[2], "[::1]:*");
    assert_string_equal(o.permitlisten[3], "*");
    assert_int_equal(o.no_port_forwarding + o.no_pty, 0);
    assert_null(o.command);
    /* The parsed lists work with tun_permit_match. */
    assert_true(tun_permit_match(o.permitopen, o.n_permitopen, "LOCALHOST", 80));
    assert_false(tun_permit_match(o.permitopen, o.n_permitopen, "localhost", 81));
    assert_true(tun_permit_match(o.permitopen, o.n_permitopen, "::1", 22));
    assert_true(tun_permit_match(o.permitopen, o.n_permitopen, "anything", 443));
    assert_true(tun_permit_match(o.permitopen, o.n_permitopen, "db.example.com", 5432));
    assert_true(tun_permit_match(o.permitlisten, o.n_permitlisten, "0.0.0.0", 8080));
    assert_true(tun_permit_match(o.permitlisten, o.n_permitlisten, "any", 1234));
    tun_keyopts_free(&o);

    /* Bad values make the line invalid. */
    expect_bad("environment=\"NOEQUALS\"");
    expect_bad("environment=\"=value\"");
    expect_bad("environment=\"BAD-NAME=x\"");
    expect_bad("environment=\"SP ACE=x\"");
    expect_bad("environment");
    expect_bad("permitopen=\"hostonly\"");
    expect_bad("permitopen=\"80\""); /* the host is required */
    expect_bad("permitopen=\"host:\"");
    expect_bad("permitopen=\":22\"");
    expect_bad("permitopen=\"host:65536\"");
    expect_bad("permitopen=\"host:-1\"");
    expect_bad("permitopen=\"host:+22\"");
    expect_bad("permitopen=\"host:22x\"");
    expect_bad("permitopen=\"host:0022222\"");
    expect_bad("permitopen=\"::1:22\""); /* v6 needs brackets */
    expect_bad("permitopen=\"[::1]22\"");
    expect_bad("permitopen=\"[::1:22\"");
    expect_bad("permitopen=\"[]:22\"");
    expect_bad("permitopen=\"[[::1]:22\"");
    expect_bad("permitopen=\"a[b:22\"");
    expect_bad("permitopen=\"ho st:22\"");
    expect_bad("permitopen=\"a]:22\"");
    expect_bad("permitopen=\"\"");
    expect_bad("permitlisten=\"\"");
    expect_bad("permitlisten=\"host:\"");
    expect_bad("permitlisten=\"port\"");
    expect_bad("permitlisten=\"99999\"");
    expect_bad("permitlisten=\"a:b:1\"");
    expect_bad("permitlisten");

    /* Up to TUN_AK_MAX_LIST of each, not one more. */
    char *many = malloc(64 * 1024);
    assert_non_null(many);
    for (int kind = 0; kind < 3; kind++) {
        static const char *const pre[] = {"environment=\"V", "permitopen=\"h:", "permitlisten=\""};
        static const char *const post[] = {"=x\"", "\"", "\""};
        for (int n = TUN_AK_MAX_LIST; n <= TUN_AK_MAX_LIST + 1; n++) {
            size_t l = 0;
            for (int i = 0; i < n; i++) {
                if (i)
                    many[l++] = ',';
                l += (size_t)sprintf(many + l, "%s%d%s", pre[kind], i + 1, post[kind]);
            }
            sprintf(many + l, " %s", KEY_A);
            enum tun_ak_result r = find(many, ka, &o);
            if (n == TUN_AK_MAX_LIST) {
                assert_int_equal(r, TUN_AK_FOUND);
                int got = kind == 0   ? o.n_environment
                          : kind == 1 ? o.n_permitopen
                                      : o.n_permitlisten;
                assert_int_equal(got, n);
                tun_keyopts_free(&o);
            } else {
                assert_int_equal(r, TUN_AK_NOT_FOUND);
            }
        }
    }
    free(many);
}

static void test_parse_options_api(void **state)
{
    (void)state;
    tun_keyopts o;
    int ign;
    char *from, *expiry;
    /* No options: the offset of the key type. */
    assert_int_equal(parse(KEY_A, &o, &ign), 0);
    assert_true(is_zero_opts(&o));
    assert_int_equal(parse("  \t" KEY_A, &o, &ign), 3);
    assert_int_equal(parse(KEY_P256, &o, &ign), 0);
    assert_int_equal(parse(KEY_DSA, &o, &ign), 0); /* rejected later, by the key parser */
    assert_int_equal(parse(CERT_A, &o, &ign), 0);
    assert_int_equal(parse("sk-ssh-ed25519@openssh.com AAAA", &o, &ign), 0);
    /* Options: the offset past the blanks after them. */
    assert_int_equal(parse("no-pty " KEY_A, &o, &ign), 7);
    assert_int_equal(parse("no-pty \t  " KEY_A, &o, &ign), 10);
    assert_int_equal(parse(" no-pty " KEY_A, &o, &ign), 8);
    /* Anything after the options counts as the key here. */
    assert_int_equal(parse("no-pty x", &o, &ign), 7);
    tun_keyopts_free(&o);
    /* Nothing after the options, or nothing at all. */
    assert_int_equal(parse("no-pty", &o, &ign), -1);
    assert_int_equal(parse("no-pty   ", &o, &ign), -1);
    assert_int_equal(parse("", &o, &ign), -1);
    assert_int_equal(parse("   ", &o, &ign), -1);
    assert_int_equal(tun_authkeys_parse_options(NULL, 0, &o, &ign, NULL, NULL), -1);
    /* Lines beyond 1 MiB are not looked at. */
    size_t hugelen = 1024 * 1024 + 1;
    char *huge = malloc(hugelen + 1);
    assert_non_null(huge);
    memset(huge, ' ', hugelen);
    memcpy(huge + hugelen - strlen(KEY_A), KEY_A, strlen(KEY_A));
    huge[hugelen] = '\0';
    assert_int_equal(tun_authkeys_parse_options(huge, hugelen, &o, &ign, NULL, NULL), -1);
    expect_not_found(huge, ka);
    assert_int_equal(tun_authkeys_parse_options(huge + 1, hugelen - 1, &o, &ign, NULL, NULL),
                     (int)(hugelen - 1 - strlen(KEY_A)));
    free(huge);
    /* Only `len` bytes count. */
    const char *l = "no-pty " KEY_A;
    assert_int_equal(tun_authkeys_parse_options(l, 6, &o, &ign, NULL, NULL), -1);
    assert_int_equal(tun_authkeys_parse_options(l, 8, &o, &ign, NULL, NULL), 7);
    assert_int_equal(tun_authkeys_parse_options("command=\"ab\" k", 11, &o, &ign, NULL, NULL), -1);
    /* Embedded NUL inside a value. */
    static const char nulv[] = "command=\"a\0b\" " KEY_A;
    assert_int_equal(tun_authkeys_parse_options(nulv, sizeof(nulv) - 1, &o, &ign, NULL, NULL), -1);
    static const char nuln[] = "no-pty\0 " KEY_A;
    assert_int_equal(tun_authkeys_parse_options(nuln, sizeof(nuln) - 1, &o, &ign, NULL, NULL), -1);

    /* from= and expiry-time= come back raw, other outputs may be NULL. */
    const char *fe = "from=\"10.0.0.0/8,!10.1.*\",expiry-time=\"20300101\",no-pty " KEY_A;
    int off = tun_authkeys_parse_options(fe, strlen(fe), &o, &ign, &from, &expiry);
    assert_int_equal(off, (int)(strstr(fe, "ssh-") - fe));
    assert_string_equal(from, "10.0.0.0/8,!10.1.*");
    assert_string_equal(expiry, "20300101");
    assert_int_equal(o.no_pty, 1);
    assert_int_equal(ign, 0);
    free(from);
    free(expiry);
    tun_keyopts_free(&o);
    assert_int_equal(tun_authkeys_parse_options(fe, strlen(fe), NULL, NULL, NULL, NULL), off);
    const char *cmd = "command=\"x\",environment=\"A=b\" " KEY_A;
    assert_int_equal(tun_authkeys_parse_options(cmd, strlen(cmd), NULL, &ign, NULL, NULL),
                     (int)(strstr(cmd, "ssh-") - cmd));
    /* Absent: NULL. */
    assert_int_equal(tun_authkeys_parse_options(KEY_A, strlen(KEY_A), &o, &ign, &from, &expiry), 0);
    assert_null(from);
    assert_null(expiry);
    /* Only one from= / expiry-time=. */
    expect_bad("from=\"*\",from=\"*\"");
    expect_bad("expiry-time=\"20300101\",expiry-time=\"20300101\"");
    expect_bad("from");
    expect_bad("from=*");
    /* Unknown options. */
    expect_bad("bogus");
    expect_bad("no-pty,bogus");
    expect_bad("bogus=\"x\"");
    expect_bad("no-ptyx");
    expect_bad("no_pty");
    expect_bad("permitopen-x=\"a:1\"");
    expect_bad("\"quoted\"");
    expect_bad("ssh"); /* not a key type prefix, so it is an (unknown) option */
}

/* ---- expiry-time ----------------------------------------------------------- */

static enum tun_ak_result expiry_at(const char *value, int64_t now)
{
    char line[256];
    snprintf(line, sizeof(line), "expiry-time=\"%s\" %s", value, KEY_A);
    tun_keyopts o;
    enum tun_ak_result r = find_ip(line, ka, "192.0.2.10", now, &o);
    if (r == TUN_AK_DENIED)
        assert_string_equal(why, "key expired");
    tun_keyopts_free(&o);
    return r;
}

static void set_tz(const char *tz)
{
    if (tz)
        setenv("TZ", tz, 1);
    else
        unsetenv("TZ");
    tzset();
}

static void test_expiry_time(void **state)
{
    (void)state;
    /* Far past and far future in local time, whatever the zone. */
    assert_int_equal(expiry_at("20000101", NOW), TUN_AK_DENIED);
    assert_int_equal(expiry_at("19700102", NOW), TUN_AK_DENIED);
    assert_int_equal(expiry_at("29991231", NOW), TUN_AK_FOUND);
    assert_int_equal(expiry_at("203001011200", NOW), TUN_AK_FOUND);
    assert_int_equal(expiry_at("20300101120030", NOW), TUN_AK_FOUND);
    assert_int_equal(expiry_at("201001011200", NOW), TUN_AK_DENIED);

    /* UTC ('Z'): exact boundaries.  NOW is 2023-11-14 22:13:20 UTC. */
    assert_int_equal(expiry_at("20231114221320Z", NOW), TUN_AK_FOUND);
    assert_int_equal(expiry_at("20231114221320Z", NOW + 1), TUN_AK_DENIED);
    assert_int_equal(expiry_at("20231114221320Z", NOW - 1), TUN_AK_FOUND);
    assert_int_equal(expiry_at("202311142213Z", NOW - 20), TUN_AK_FOUND);
    assert_int_equal(expiry_at("202311142213Z", NOW - 19), TUN_AK_DENIED);
    assert_int_equal(expiry_at("20231114Z", NOW - 80000), TUN_AK_FOUND); /* 1700000000-80000 */
    assert_int_equal(expiry_at("20231114Z", NOW), TUN_AK_DENIED);
    assert_int_equal(expiry_at("19700101Z", 0), TUN_AK_FOUND);
    assert_int_equal(expiry_at("19700101Z", 1), TUN_AK_DENIED);
    /* Leap days. */
    assert_int_equal(expiry_at("20240229000000Z", 1709164800), TUN_AK_FOUND);
    assert_int_equal(expiry_at("20240229000000Z", 1709164801), TUN_AK_DENIED);
    assert_int_equal(expiry_at("20000229Z", 951782400), TUN_AK_FOUND);
    assert_int_equal(expiry_at("20000229Z", 951782401), TUN_AK_DENIED);
    assert_int_equal(expiry_at("99991231235959Z", NOW), TUN_AK_FOUND);

    /* Local time follows TZ. */
    const char *old = getenv("TZ");
    char *saved = old ? strdup(old) : NULL;
    set_tz("UTC0");
    assert_int_equal(expiry_at("20231114221320", NOW), TUN_AK_FOUND);
    assert_int_equal(expiry_at("20231114221320", NOW + 1), TUN_AK_DENIED);
    set_tz("EST5"); /* 22:13:20 EST is 03:13:20 UTC the next day */
    assert_int_equal(expiry_at("20231114221320", NOW + 5 * 3600), TUN_AK_FOUND);
    assert_int_equal(expiry_at("20231114221320", NOW + 5 * 3600 + 1), TUN_AK_DENIED);
    assert_int_equal(expiry_at("20231114221320Z", NOW + 1), TUN_AK_DENIED); /* Z ignores TZ */
    set_tz(saved);
    free(saved);

    /* Malformed times make the line invalid (key not accepted by it). */
    static const char *const bad[] = {
        "",
        "2023111",
        "202311141",
        "2023111422",
        "20231114221",
        "2023111422132",
        "202311142213201",
        "2023-11-14",
        "20231114 2213",
        "2023111422132x",
        "20231301",
        "20230001",
        "20230100",
        "20230431",
        "20230229",
        "21000229",
        "202311142400",
        "202311142360",
        "20231114235960",
        "19691231",
        "00000101",
        "20231114z",
        "20231114ZZ",
        "Z",
        "+2023111",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char opt[64];
        snprintf(opt, sizeof(opt), "expiry-time=\"%s\"", bad[i]);
        expect_bad(opt);
    }
    /* An expired line decides: a later line for the same key is not used. */
    tun_keyopts o;
    const char *file = "expiry-time=\"20000101\" " KEY_A "\n" KEY_A "\n";
    assert_int_equal(find(file, ka, &o), TUN_AK_DENIED);
    assert_string_equal(why, "key expired");
    assert_true(is_zero_opts(&o));
    /* But a malformed one is skipped. */
    file = "expiry-time=\"2000\" " KEY_A "\nno-pty " KEY_A "\n";
    assert_int_equal(find(file, ka, &o), TUN_AK_FOUND);
    assert_int_equal(o.no_pty, 1);
    tun_keyopts_free(&o);
}

/* ---- from= ------------------------------------------------------------------ */

static enum tun_ak_result from_at(const char *list, const char *ip)
{
    char line[512];
    snprintf(line, sizeof(line), "from=\"%s\",no-pty %s", list, KEY_A);
    tun_keyopts o;
    enum tun_ak_result r = find_ip(line, ka, ip, NOW, &o);
    if (r == TUN_AK_FOUND) {
        assert_int_equal(o.no_pty, 1);
    } else {
        char want[128];
        snprintf(want, sizeof(want), "from= does not match %s", ip ? ip : "(unknown)");
        assert_string_equal(why, want);
        assert_true(is_zero_opts(&o));
    }
    tun_keyopts_free(&o);
    return r;
}

static void test_from_option(void **state)
{
    (void)state;
    assert_int_equal(from_at("10.1.2.3", "10.1.2.3"), TUN_AK_FOUND);
    assert_int_equal(from_at("10.1.2.*", "10.1.2.3"), TUN_AK_FOUND);
    assert_int_equal(from_at("10.1.2.*", "10.1.3.3"), TUN_AK_DENIED);
    assert_int_equal(from_at("10.1.2.?", "10.1.2.3"), TUN_AK_FOUND);
    assert_int_equal(from_at("10.1.2.?", "10.1.2.33"), TUN_AK_DENIED);
    assert_int_equal(from_at("192.0.2.*,10.*", "10.1.2.3"), TUN_AK_FOUND);
    assert_int_equal(from_at("!10.1.2.3,10.1.2.*", "10.1.2.3"), TUN_AK_DENIED);
    assert_int_equal(from_at("!10.1.2.3,10.1.2.*", "10.1.2.4"), TUN_AK_FOUND);
    assert_int_equal(from_at("10.1.2.*,!10.1.2.3", "10.1.2.3"), TUN_AK_DENIED); /* order */
    assert_int_equal(from_at("!10.1.2.3", "10.9.9.9"), TUN_AK_DENIED); /* nothing positive */
    assert_int_equal(from_at("10.0.0.0/8", "10.200.1.1"), TUN_AK_FOUND);
    assert_int_equal(from_at("10.0.0.0/8", "11.0.0.1"), TUN_AK_DENIED);
    assert_int_equal(from_at("10.0.0.0/8,!10.1.0.0/16", "10.1.2.3"), TUN_AK_DENIED);
    assert_int_equal(from_at("2001:db8::/32", "2001:db8:1::5"), TUN_AK_FOUND);
    assert_int_equal(from_at("2001:db8::/32", "2001:db9::5"), TUN_AK_DENIED);
    assert_int_equal(from_at("", "10.1.2.3"), TUN_AK_DENIED);
    assert_int_equal(from_at("*", "10.1.2.3"), TUN_AK_FOUND);
    /* Without a client address from= cannot be satisfied. */
    assert_int_equal(from_at("*", NULL), TUN_AK_DENIED);
    /* The denying line decides; the same key later does not help. */
    tun_keyopts o;
    const char *file = "from=\"10.*\" " KEY_A "\n" KEY_A "\n";
    assert_int_equal(find_ip(file, ka, "192.0.2.1", NOW, &o), TUN_AK_DENIED);
    assert_string_equal(why, "from= does not match 192.0.2.1");
    /* from= and expiry-time= both present: either refuses. */
    file = "from=\"10.*\",expiry-time=\"29990101\" " KEY_A "\n";
    assert_int_equal(find_ip(file, ka, "10.0.0.1", NOW, &o), TUN_AK_FOUND);
    tun_keyopts_free(&o);
    assert_int_equal(find_ip(file, ka, "11.0.0.1", NOW, &o), TUN_AK_DENIED);
    file = "from=\"10.*\",expiry-time=\"20000101\" " KEY_A "\n";
    assert_int_equal(find_ip(file, ka, "10.0.0.1", NOW, &o), TUN_AK_DENIED);
    assert_string_equal(why, "key expired");
    /* A small why buffer is truncated, not overrun. */
    char small[8];
    file = "from=\"10.*\" " KEY_A "\n";
    assert_int_equal(
        tun_authkeys_find(file, strlen(file), ka, "192.0.2.1", NOW, &o, small, sizeof(small)),
        TUN_AK_DENIED);
    assert_string_equal(small, "from= d");
}

static void test_match_address_list(void **state)
{
    (void)state;
    static const struct {
        const char *ip, *list;
        int want;
    } cases[] = {
        /* wildcards */
        {"10.1.2.3", "10.1.2.3", 1},
        {"10.1.2.3", "10.1.2.4", 0},
        {"10.1.2.3", "10.1.2.*", 1},
        {"10.1.2.3", "10.1.*", 1},
        {"10.1.2.3", "*", 1},
        {"10.1.2.3", "10.1.2.?", 1},
        {"10.1.2.30", "10.1.2.?", 0},
        {"10.1.2.30", "10.1.2.??", 1},
        {"10.1.2.3", "10.1.2.3*", 1},
        {"10.1.2.3", "*.3", 1},
        {"10.1.2.3", "1*3", 1},
        {"10.1.2.3", "192.0.2.1,10.1.2.3", 1},
        {"10.1.2.3", "192.0.2.1,, ,10.1.2.3", 1}, /* empty entries are ignored */
        {"10.1.2.3", "", 0},
        {"10.1.2.3", ",", 0},
        {"10.1.2.3", "!", 0},
        {"fe80::1", "fe80::*", 1},
        {"FE80::1", "fe80::*", 1}, /* case-insensitive */
        {"fe80::1", "FE80::1", 1},
        {"2001:db8::1", "fe80::*", 0},
        /* negation */
        {"10.1.2.3", "!10.1.2.3", 0},
        {"10.1.2.3", "!10.1.2.3,*", 0},
        {"10.1.2.3", "*,!10.1.2.3", 0},
        {"10.1.2.4", "*,!10.1.2.3", 1},
        {"10.1.2.4", "!10.1.2.3", 0},
        {"10.1.2.3", "!10.1.2.*,10.1.2.3", 0},
        {"10.1.2.3", "!192.0.2.0/24,10.0.0.0/8", 1},
        {"192.0.2.7", "!192.0.2.0/24,*", 0},
        /* CIDR v4 */
        {"10.1.2.3", "10.0.0.0/8", 1},
        {"11.1.2.3", "10.0.0.0/8", 0},
        {"10.1.2.3", "10.1.2.0/24", 1},
        {"10.1.3.3", "10.1.2.0/24", 0},
        {"10.1.2.3", "10.1.2.3/32", 1},
        {"10.1.2.4", "10.1.2.3/32", 0},
        {"10.1.2.3", "0.0.0.0/0", 1},
        {"10.1.2.3", "10.1.2.0/31", 0},
        {"10.1.2.1", "10.1.2.0/31", 1},
        {"172.31.255.255", "172.16.0.0/12", 1},
        {"172.32.0.0", "172.16.0.0/12", 0},
        {"10.9.9.9", "10.1.2.3/8", 1},  /* host bits are masked off */
        {"10.1.2.3", "010.0.0.0/8", 0}, /* inet_pton refuses leading zeros */
        /* CIDR v6 */
        {"2001:db8::1", "2001:db8::/32", 1},
        {"2001:db8:ffff::1", "2001:db8::/32", 1},
        {"2001:db9::1", "2001:db8::/32", 0},
        {"2001:db8::1", "2001:db8::1/128", 1},
        {"2001:db8::2", "2001:db8::1/128", 0},
        {"2001:db8:0:1::5", "2001:db8:0:1::/64", 1},
        {"2001:db8:0:2::5", "2001:db8:0:1::/64", 0},
        {"2001:db8::1", "::/0", 1},
        {"2001:db8::8000", "2001:db8::/113", 0},
        {"2001:db8::7fff", "2001:db8::/113", 1},
        {"2001:db8::1", "!2001:db8::/32,*", 0},
        {"2001:db8::1", "10.0.0.0/8", 0}, /* families differ */
        {"10.1.2.3", "::/0", 0},
        {"::ffff:10.1.2.3", "10.0.0.0/8", 1}, /* IPv4-mapped counts as IPv4 */
        {"::ffff:10.1.2.3", "10.1.2.*", 1},
        {"::ffff:10.1.2.3", "!10.1.2.3,*", 0},
        {"::ffff:10.1.2.3", "::ffff:10.1.2.3", 1},
        /* invalid CIDR never matches, negated or not */
        {"10.1.2.3", "10.0.0.0/33", 0},
        {"2001:db8::1", "2001:db8::/129", 0},
        {"10.1.2.3", "10.0.0.0/", 0},
        {"10.1.2.3", "10.0.0.0/x", 0},
        {"10.1.2.3", "10.0.0.0/-8", 0},
        {"10.1.2.3", "10.0.0.0/+8", 0},
        {"10.1.2.3", "10.0.0.0/0008", 0},
        {"10.1.2.3", "10.0.0/8", 0},
        {"10.1.2.3", "/8", 0},
        {"10.1.2.3", "10.*/8", 0},
        {"10.1.2.3", "10.0.0.0/8/8", 0},
        {"10.1.2.3", "!10.0.0.0/33,*", 1},
        {"10.1.2.3", "!bogus/8,10.*", 1},
        {"10.1.2.3", "host.example/8", 0},
        /* the client is not an address: only patterns can match */
        {"not-an-ip", "not-*", 1},
        {"not-an-ip", "0.0.0.0/0", 0},
        {"", "*", 1},
        {"", "", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int got = tun_match_address_list(cases[i].ip, cases[i].list);
        if (got != cases[i].want)
            fail_msg("tun_match_address_list(\"%s\", \"%s\") = %d, want %d", cases[i].ip,
                     cases[i].list, got, cases[i].want);
    }
    assert_int_equal(tun_match_address_list(NULL, "*"), 0);
    assert_int_equal(tun_match_address_list("10.1.2.3", NULL), 0);
    /* A very long entry is ignored, not truncated into a match. */
    char longp[2100];
    memset(longp, '*', sizeof(longp) - 1);
    longp[sizeof(longp) - 1] = '\0';
    assert_int_equal(tun_match_address_list("10.1.2.3", longp), 0);
}

/* ---- unsupported, unknown, ordering -------------------------------------- */

static void test_unsupported_lines_skipped(void **state)
{
    (void)state;
    static const char *const opts[] = {
        "cert-authority", "cert-authority,principals=\"alice,bob\"", "principals=\"alice\"",
        "tunnel=\"0\"",   "no-pty,tunnel=\"1\",no-user-rc",          "Cert-Authority",
    };
    for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
        char line[512];
        snprintf(line, sizeof(line), "%s %s", opts[i], KEY_A);
        tun_keyopts o;
        int ign = 0;
        int off = parse(line, &o, &ign);
        assert_int_equal(off, (int)strlen(opts[i]) + 1);
        assert_int_equal(ign, 1);
        tun_keyopts_free(&o);
        expect_not_found(line, ka);
        /* A later plain line for the same key is used. */
        char file[1024];
        snprintf(file, sizeof(file), "%s\ncommand=\"second\" %s\n", line, KEY_A);
        file_command(file, "second");
    }
    /* Unsupported but malformed is still malformed. */
    expect_bad("cert-authority=\"x\"");
    expect_bad("tunnel");
    expect_bad("principals=alice");
    /* The CA's own line is not its key authorizing anything. */
    expect_not_found("cert-authority " KEY_CA "\n", kca);
}

static void test_unknown_option_skips_line(void **state)
{
    (void)state;
    expect_not_found("frobnicate " KEY_A "\n", ka);
    expect_not_found("no-pty,frobnicate=\"1\" " KEY_A "\n", ka);
    expect_not_found("restrict,permitremoteopen=\"x:1\" " KEY_A "\n", ka);
    /* ... and the search goes on. */
    file_command("frobnicate " KEY_A "\ncommand=\"next\" " KEY_A "\n", "next");
    /* Such a line for another key does not disturb. */
    file_command("frobnicate " KEY_B "\ncommand=\"mine\" " KEY_A "\n", "mine");
}

static void test_first_matching_line_wins(void **state)
{
    (void)state;
    file_command("command=\"one\" " KEY_A " first\n"
                 "command=\"two\" " KEY_A " second\n",
                 "one");
    file_command("command=\"b\" " KEY_B "\n"
                 "command=\"a\" " KEY_A "\n"
                 "command=\"a2\" " KEY_A "\n",
                 "a");
    /* A restricted first line is not relaxed by a later one... */
    tun_keyopts o;
    const char *file = "restrict " KEY_A "\n" KEY_A "\n";
    assert_int_equal(find(file, ka, &o), TUN_AK_FOUND);
    assert_int_equal(o.no_pty, 1);
    tun_keyopts_free(&o);
    /* ...nor a plain first line restricted by a later one. */
    file = KEY_A "\nrestrict " KEY_A "\n";
    expect_plain(file, ka);
    /* A denying first line decides as well (see test_from_option). */
    file = "from=\"203.0.113.*\" " KEY_A "\n" KEY_A "\n";
    assert_int_equal(find(file, ka, &o), TUN_AK_DENIED);
    /* Other keys' lines, bad lines and unsupported lines do not count. */
    file = "from=\"203.0.113.*\" " KEY_B "\n"
           "bogus " KEY_A "\n"
           "cert-authority " KEY_A "\n"
           "environment=\"WHO=a\" " KEY_A "\n"
           "environment=\"WHO=later\" " KEY_A "\n";
    assert_int_equal(find(file, ka, &o), TUN_AK_FOUND);
    assert_int_equal(o.n_environment, 1);
    assert_string_equal(o.environment[0], "WHO=a");
    tun_keyopts_free(&o);
    assert_int_equal(find(file, kb, &o), TUN_AK_DENIED);
}

/* ---- codec --------------------------------------------------------------- */

static void fill_full(tun_keyopts *o)
{
    memset(o, 0, sizeof(*o));
    o->no_port_forwarding = 1;
    o->no_pty = 0;
    o->no_agent_forwarding = 1;
    o->no_x11_forwarding = 0;
    o->no_user_rc = 1;
    o->command = strdup("echo \"hi\"; exit 3");
    for (int i = 0; i < TUN_AK_MAX_LIST; i++) {
        char t[64];
        snprintf(t, sizeof(t), "host%d.example:%d", i, 1000 + i);
        o->permitopen[o->n_permitopen++] = strdup(t);
    }
    o->permitlisten[o->n_permitlisten++] = strdup("8080");
    o->permitlisten[o->n_permitlisten++] = strdup("[::1]:*");
    o->environment[o->n_environment++] = strdup("LANG=C");
    o->environment[o->n_environment++] = strdup("EMPTY=");
}

static void assert_opts_equal(const tun_keyopts *a, const tun_keyopts *b)
{
    assert_int_equal(!!a->no_port_forwarding, !!b->no_port_forwarding);
    assert_int_equal(!!a->no_pty, !!b->no_pty);
    assert_int_equal(!!a->no_agent_forwarding, !!b->no_agent_forwarding);
    assert_int_equal(!!a->no_x11_forwarding, !!b->no_x11_forwarding);
    assert_int_equal(!!a->no_user_rc, !!b->no_user_rc);
    if (a->command == NULL)
        assert_null(b->command);
    else
        assert_string_equal(a->command, b->command);
    assert_int_equal(a->n_permitopen, b->n_permitopen);
    for (int i = 0; i < a->n_permitopen; i++)
        assert_string_equal(a->permitopen[i], b->permitopen[i]);
    assert_int_equal(a->n_permitlisten, b->n_permitlisten);
    for (int i = 0; i < a->n_permitlisten; i++)
        assert_string_equal(a->permitlisten[i], b->permitlisten[i]);
    assert_int_equal(a->n_environment, b->n_environment);
    for (int i = 0; i < a->n_environment; i++)
        assert_string_equal(a->environment[i], b->environment[i]);
}

/* encode -> decode -> same options -> encode -> same bytes; then every
 * truncation and one trailing byte are refused. */
static void roundtrip(const tun_keyopts *o)
{
    ssh_buf b, b2;
    ssh_buf_init(&b, 0, 0);
    ssh_buf_init(&b2, 0, 0);
    assert_int_equal(tun_keyopts_encode(o, &b), 0);
    ssh_cur c;
    ssh_cur_from_buf(&c, &b);
    tun_keyopts d;
    assert_int_equal(tun_keyopts_decode(&c, &d), 0);
    assert_int_equal(c.len, 0);
    assert_opts_equal(o, &d);
    assert_int_equal(tun_keyopts_encode(&d, &b2), 0);
    assert_int_equal(ssh_buf_len(&b2), ssh_buf_len(&b));
    assert_memory_equal(ssh_buf_ptr(&b2), ssh_buf_ptr(&b), ssh_buf_len(&b));
    tun_keyopts_free(&d);

    const uint8_t *p = ssh_buf_ptr(&b);
    size_t n = ssh_buf_len(&b);
    for (size_t cut = 0; cut < n; cut++) {
        ssh_cur_init(&c, p, cut);
        memset(&d, 0x55, sizeof(d));
        if (tun_keyopts_decode(&c, &d) != -1)
            fail_msg("truncation to %zu of %zu bytes accepted", cut, n);
        assert_true(c.p == p && c.len == cut); /* cursor untouched */
        assert_true(is_zero_opts(&d));
    }
    uint8_t *longer = malloc(n + 1);
    assert_non_null(longer);
    memcpy(longer, p, n);
    longer[n] = 0;
    ssh_cur_init(&c, longer, n + 1);
    assert_int_equal(tun_keyopts_decode(&c, &d), -1);
    assert_int_equal(c.len, n + 1);
    assert_true(is_zero_opts(&d));
    free(longer);
    ssh_buf_free(&b);
    ssh_buf_free(&b2);
}

static void test_codec_roundtrip(void **state)
{
    (void)state;
    tun_keyopts o;
    memset(&o, 0, sizeof(o));
    roundtrip(&o); /* nothing at all */
    o.command = strdup("");
    roundtrip(&o); /* an empty command is not no command */
    tun_keyopts_free(&o);
    fill_full(&o);
    roundtrip(&o);
    tun_keyopts_free(&o);
    /* Every flag alone, and non-0/1 truth values. */
    for (int f = 0; f < 5; f++) {
        memset(&o, 0, sizeof(o));
        int *flags[] = {&o.no_port_forwarding, &o.no_pty, &o.no_agent_forwarding,
                        &o.no_x11_forwarding, &o.no_user_rc};
        *flags[f] = f + 1;
        roundtrip(&o);
    }
    /* What the parser produces round-trips. */
    const char *line = "restrict,pty,command=\"a \\\"b\\\"\",environment=\"X=1\","
                       "permitopen=\"[::1]:22\",permitlisten=\"*:2222\",from=\"10.*\","
                       "expiry-time=\"29990101\" " KEY_A;
    assert_int_equal(find_ip(line, ka, "10.0.0.1", NOW, &o), TUN_AK_FOUND);
    roundtrip(&o);
    /* Encoding appends to what the buffer holds. */
    ssh_buf b;
    ssh_buf_init(&b, 0, 0);
    assert_int_equal(ssh_buf_put_cstring(&b, "prefix"), 0);
    assert_int_equal(tun_keyopts_encode(&o, &b), 0);
    ssh_cur c, sub;
    ssh_cur_from_buf(&c, &b);
    assert_int_equal(ssh_cur_get_string(&c, &sub.p, &sub.len), 0);
    tun_keyopts d;
    assert_int_equal(tun_keyopts_decode(&c, &d), 0);
    assert_opts_equal(&o, &d);
    tun_keyopts_free(&d);
    /* The decoder takes a sub-cursor when the options are embedded. */
    ssh_buf b2;
    ssh_buf_init(&b2, 0, 0);
    assert_int_equal(ssh_buf_put_stringb(&b2, &b), 0);
    assert_int_equal(ssh_buf_put_u32(&b2, 7), 0);
    ssh_cur_from_buf(&c, &b2);
    assert_int_equal(ssh_cur_get_cur(&c, &sub), 0);
    const uint8_t *sp;
    size_t sl;
    assert_int_equal(ssh_cur_get_string(&sub, &sp, &sl), 0); /* "prefix" */
    assert_int_equal(tun_keyopts_decode(&sub, &d), 0);
    assert_opts_equal(&o, &d);
    tun_keyopts_free(&d);
    uint32_t tail;
    assert_int_equal(ssh_cur_get_u32(&c, &tail), 0);
    assert_int_equal(tail, 7);
    ssh_buf_free(&b);
    ssh_buf_free(&b2);
    tun_keyopts_free(&o);
}

/* Decode a hand-made encoding. */
static int decode_hex(const char *hex)
{
    size_t n;
    uint8_t *p = test_unhex(hex, &n);
    ssh_cur c;
    ssh_cur_init(&c, p, n);
    tun_keyopts d;
    int r = tun_keyopts_decode(&c, &d);
    if (r == 0) {
        assert_int_equal(c.len, 0);
        tun_keyopts_free(&d);
    } else {
        assert_int_equal(c.len, n);
        assert_true(is_zero_opts(&d));
    }
    free(p);
    return r;
}

static void test_codec_reject(void **state)
{
    (void)state;
    /* The layout, pinned down: flags, [command], three counted lists. */
    assert_int_equal(decode_hex("00000000 00000000 00000000 00000000"), 0);
    assert_int_equal(decode_hex("0000001f 00000000 00000000 00000000"), 0);
    assert_int_equal(decode_hex("00000020 00000001 78 00000000 00000000 00000000"), 0);
    assert_int_equal(decode_hex("00000020 00000000 00000000 00000000 00000000"), 0);
    assert_int_equal(decode_hex("00000000 00000001 00000004 613a3130 00000000 00000000"), 0);
    assert_int_equal(decode_hex("00000000 00000000 00000001 00000002 3830 00000000"), 0);
    assert_int_equal(decode_hex("00000000 00000000 00000000 00000001 00000003 413d31"), 0);
    /* Unknown flag bits. */
    assert_int_equal(decode_hex("00000040 00000000 00000000 00000000"), -1);
    assert_int_equal(decode_hex("80000000 00000000 00000000 00000000"), -1);
    /* Command flag without the string, and a string without the flag. */
    assert_int_equal(decode_hex("00000020 00000000 00000000 00000000"), -1);
    assert_int_equal(decode_hex("00000000 00000001 78 00000000 00000000 00000000"), -1);
    /* NUL inside a string. */
    assert_int_equal(decode_hex("00000020 00000003 610062 00000000 00000000 00000000"), -1);
    assert_int_equal(decode_hex("00000000 00000000 00000000 00000001 00000004 413d0031"), -1);
    /* Entries the parser would never produce. */
    assert_int_equal(decode_hex("00000000 00000001 00000002 6162 00000000 00000000"), -1);
    assert_int_equal(decode_hex("00000000 00000000 00000001 00000001 78 00000000"), -1);
    assert_int_equal(decode_hex("00000000 00000000 00000000 00000001 00000001 41"), -1);
    /* Counts above TUN_AK_MAX_LIST (before any string is read). */
    assert_int_equal(decode_hex("00000000 00000041 00000000 00000000"), -1);
    assert_int_equal(decode_hex("00000000 00000000 ffffffff 00000000"), -1);
    assert_int_equal(decode_hex("00000000 00000000 00000000 80000000"), -1);
    /* Counts larger than what follows. */
    assert_int_equal(decode_hex("00000000 00000002 00000004 613a3130 00000000 00000000"), -1);
    /* String lengths beyond the data. */
    assert_int_equal(decode_hex("00000020 ffffffff 78"), -1);
    /* Trailing bytes. */
    assert_int_equal(decode_hex("00000000 00000000 00000000 00000000 00"), -1);

    /* String size limit: 8192 bytes pass, 8193 do not. */
    for (size_t len = 8192; len <= 8193; len++) {
        ssh_buf b;
        ssh_buf_init(&b, 0, 0);
        char *s = malloc(len + 1);
        assert_non_null(s);
        memset(s, 'c', len);
        s[len] = '\0';
        assert_int_equal(ssh_buf_put_u32(&b, 0x20), 0);
        assert_int_equal(ssh_buf_put_cstring(&b, s), 0);
        for (int i = 0; i < 3; i++)
            assert_int_equal(ssh_buf_put_u32(&b, 0), 0);
        ssh_cur c;
        ssh_cur_from_buf(&c, &b);
        tun_keyopts d;
        assert_int_equal(tun_keyopts_decode(&c, &d), len == 8192 ? 0 : -1);
        tun_keyopts_free(&d);
        /* The encoder holds to the same limit. */
        tun_keyopts o;
        memset(&o, 0, sizeof(o));
        o.command = s;
        ssh_buf_reset(&b);
        assert_int_equal(tun_keyopts_encode(&o, &b), len == 8192 ? 0 : -1);
        assert_int_equal(ssh_buf_len(&b) == 0, len != 8192);
        free(s);
        ssh_buf_free(&b);
    }

    /* The encoder refuses what the decoder would refuse, leaving the buffer
     * as it was. */
    tun_keyopts o;
    ssh_buf b;
    ssh_buf_init(&b, 0, 0);
    assert_int_equal(ssh_buf_put_u32(&b, 0xdeadbeef), 0);
    fill_full(&o); /* TUN_AK_MAX_LIST permitopen entries */
    o.n_permitopen = TUN_AK_MAX_LIST + 1;
    assert_int_equal(tun_keyopts_encode(&o, &b), -1);
    assert_int_equal(ssh_buf_len(&b), 4);
    o.n_permitopen = TUN_AK_MAX_LIST;
    tun_keyopts_free(&o);
    fill_full(&o);
    free(o.environment[1]);
    o.environment[1] = strdup("no-equals");
    assert_int_equal(tun_keyopts_encode(&o, &b), -1);
    assert_int_equal(ssh_buf_len(&b), 4);
    tun_keyopts_free(&o);
    memset(&o, 0, sizeof(o));
    o.n_permitlisten = 1; /* entry NULL */
    assert_int_equal(tun_keyopts_encode(&o, &b), -1);
    o.n_permitlisten = -1;
    assert_int_equal(tun_keyopts_encode(&o, &b), -1);
    assert_int_equal(ssh_buf_len(&b), 4);
    assert_int_equal(tun_keyopts_encode(NULL, &b), -1);
    ssh_buf_free(&b);
    /* A buffer too small for the encoding: refused and left as it was. */
    for (size_t max = 1; max < 64; max++) { /* 0 would mean the default */
        ssh_buf small;
        ssh_buf_init(&small, max, 0);
        fill_full(&o);
        if (max >= 2)
            assert_int_equal(ssh_buf_put_u8(&small, 0xaa), 0);
        size_t before = ssh_buf_len(&small);
        assert_int_equal(tun_keyopts_encode(&o, &small), -1);
        assert_int_equal(ssh_buf_len(&small), before);
        tun_keyopts_free(&o);
        ssh_buf_free(&small);
    }
    /* decode with NULL arguments */
    ssh_cur c;
    ssh_cur_init(&c, "", 0);
    assert_int_equal(tun_keyopts_decode(&c, NULL), -1);
    tun_keyopts d;
    assert_int_equal(tun_keyopts_decode(NULL, &d), -1);
    tun_keyopts_free(NULL);
}

/* ---- permit lists ---------------------------------------------------------- */

static void test_permit_match(void **state)
{
    (void)state;
    static const struct {
        const char *list; /* '|'-separated entries */
        const char *host;
        uint32_t port;
        int want;
    } cases[] = {
        {"any", "example.com", 22, 1},
        {"ANY", "example.com", 22, 1},
        {"none", "example.com", 22, 0},
        {"none|any", "example.com", 22, 1},
        {"", "example.com", 22, 0},
        {"example.com:22", "example.com", 22, 1},
        {"example.com:22", "EXAMPLE.com", 22, 1},
        {"Example.COM:22", "example.com", 22, 1},
        {"example.com:22", "example.com", 23, 0},
        {"example.com:22", "www.example.com", 22, 0},
        {"example.com:22", "example.co", 22, 0},
        {"*.example.com:22", "www.example.com", 22, 0}, /* no wildcards but "*" */
        {"example.com:*", "example.com", 1, 1},
        {"example.com:*", "example.com", 65535, 1},
        {"example.com:*", "example.org", 80, 0},
        {"*:80", "anything.example", 80, 1},
        {"*:80", "10.1.2.3", 80, 1},
        {"*:80", "10.1.2.3", 81, 0},
        {"*:*", "x", 9, 1},
        {"10.1.2.3:22", "10.1.2.3", 22, 1},
        {"10.1.2.3:22", "10.1.2.30", 22, 0},
        {"[::1]:22", "::1", 22, 1},
        {"[::1]:22", "[::1]", 22, 1},
        {"[::1]:22", "::1", 23, 0},
        {"[::1]:22", "::2", 22, 0},
        {"[2001:DB8::1]:*", "2001:db8::1", 443, 1},
        {"[*]:22", "host", 22, 1},
        {"a:1|b:2|c:3", "b", 2, 1},
        {"a:1|b:2|c:3", "b", 3, 0},
        {"a:1|b:2|c:3", "c", 3, 1},
        {"8080", "0.0.0.0", 8080, 1}, /* bare port (permitlisten): any host */
        {"8080", "localhost", 8081, 0},
        {"*", "localhost", 1, 1},
        {"localhost:0", "localhost", 0, 1},
        /* malformed entries match nothing */
        {"::1:22", "::1", 22, 0},
        {"example.com:", "example.com", 22, 0},
        {":22", "", 22, 0},
        {"example.com:99999", "example.com", 99999, 0},
        {"example.com:22x", "example.com", 22, 0},
        {"[::1:22", "::1", 22, 0},
        {"bad entry:22", "bad entry", 22, 0},
        {"bad|example.com:22", "example.com", 22, 1},
        {"example.com:22", "example.com", 22 + 65536, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *copy = strdup(cases[i].list);
        char *list[16];
        int n = 0;
        if (copy[0]) {
            for (char *t = strtok(copy, "|"); t && n < 16; t = strtok(NULL, "|"))
                list[n++] = t;
        }
        int got = tun_permit_match(list, n, cases[i].host, cases[i].port);
        if (got != cases[i].want)
            fail_msg("tun_permit_match(%s, %s, %u) = %d, want %d", cases[i].list, cases[i].host,
                     cases[i].port, got, cases[i].want);
        free(copy);
    }
    char *one[] = {"any", NULL};
    assert_int_equal(tun_permit_match(one, 0, "h", 1), 0);
    assert_int_equal(tun_permit_match(one, -1, "h", 1), 0);
    assert_int_equal(tun_permit_match(NULL, 1, "h", 1), 0);
    assert_int_equal(tun_permit_match(one, 1, NULL, 1), 0);
    char *withnull[] = {NULL, "any"};
    assert_int_equal(tun_permit_match(withnull, 2, "h", 1), 1);
    /* "any" allows even a host too long for any entry. */
    char longhost[3000];
    memset(longhost, 'h', sizeof(longhost) - 1);
    longhost[sizeof(longhost) - 1] = '\0';
    assert_int_equal(tun_permit_match(one, 1, longhost, 1), 1);
    char *star[] = {"*:1"};
    assert_int_equal(tun_permit_match(star, 1, longhost, 1), 1);
    char *specific[] = {"hhhh:1"};
    assert_int_equal(tun_permit_match(specific, 1, longhost, 1), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_lines),
        cmocka_unit_test(test_comments_blank_malformed),
        cmocka_unit_test(test_each_flag_option),
        cmocka_unit_test(test_restrict_and_reenable),
        cmocka_unit_test(test_command_quoting),
        cmocka_unit_test(test_environment_and_permits),
        cmocka_unit_test(test_parse_options_api),
        cmocka_unit_test(test_expiry_time),
        cmocka_unit_test(test_from_option),
        cmocka_unit_test(test_match_address_list),
        cmocka_unit_test(test_unsupported_lines_skipped),
        cmocka_unit_test(test_unknown_option_skips_line),
        cmocka_unit_test(test_first_matching_line_wins),
        cmocka_unit_test(test_codec_roundtrip),
        cmocka_unit_test(test_codec_reject),
        cmocka_unit_test(test_permit_match),
    };
    return cmocka_run_group_tests(tests, setup_keys, teardown_keys);
}
