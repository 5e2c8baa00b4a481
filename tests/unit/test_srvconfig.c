/*
 * test_srvconfig.c - sshtund's sshd_config reader (tunnel/tun_srvconfig.c).
 *
 * Every keyword with good and bad values, first-value-wins, -o before the
 * file, Match blocks (User, Address with CIDR and negation, both, all),
 * Include, defaults and the -T dump.  Messages are captured from the log
 * and checked where their wording is part of the contract (file and line).
 */
#include "util.h"

#include "tun_log.h"
#include "sshtun/buf.h"
#include "sshtun/cert.h"
#include "sshtun/conn.h"
#include "tun_srvconfig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- log capture ------------------------------------------------------------------- */

static FILE *cap;
static char capbuf[65536];

static void cap_start(void)
{
    cap = tmpfile();
    assert_non_null(cap);
    tun_log_set_file(cap);
}

static const char *cap_end(void)
{
    fflush(cap);
    rewind(cap);
    size_t n = fread(capbuf, 1, sizeof(capbuf) - 1, cap);
    capbuf[n] = '\0';
    fclose(cap);
    cap = NULL;
    tun_log_set_file(NULL);
    return capbuf;
}

#define assert_contains(hay, needle)                                                               \
    do {                                                                                           \
        if (strstr((hay), (needle)) == NULL)                                                       \
            fail_msg("expected \"%s\" in:\n%s", (needle), (hay));                                  \
    } while (0)

/* ---- helpers ----------------------------------------------------------------------- */

/* Read `text` as "test.conf" into a fresh configuration. */
static int load(tun_srvcfg *c, const char *text)
{
    tun_srvcfg_init(c);
    cap_start();
    int rv = tun_srvcfg_read_mem(c, text, strlen(text), "test.conf");
    cap_end();
    return rv;
}

static void load_ok(tun_srvcfg *c, const char *text)
{
    if (load(c, text) != 0)
        fail_msg("config refused:\n%s\nmessages:\n%s", text, capbuf);
}

/* One line through tun_srvcfg_apply() into a fresh configuration (which
 * the caller frees).  The messages stay in capbuf. */
static int apply1(tun_srvcfg *c, const char *line)
{
    tun_srvcfg_init(c);
    cap_start();
    int rv = tun_srvcfg_apply(c, line, "command-line");
    cap_end();
    return rv;
}

static void good(const char *line)
{
    tun_srvcfg c;
    if (apply1(&c, line) != 0)
        fail_msg("\"%s\" refused: %s", line, capbuf);
    tun_srvcfg_free(&c);
}

/* The line is refused with a message that names the keyword's value or
 * the problem. */
static void bad(const char *line)
{
    tun_srvcfg c;
    if (apply1(&c, line) == 0)
        fail_msg("\"%s\" accepted", line);
    if (strncmp(capbuf, "command-line: ", 14) != 0)
        fail_msg("\"%s\": message without its source: %s", line, capbuf);
    tun_srvcfg_free(&c);
}

static char *dump(const tun_srvcfg *c)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    tun_srvcfg_dump(c, f);
    fclose(f);
    return buf;
}

static char tmpdir[256];

static int make_tmpdir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_srvconfig.XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
    (void)state;
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *name, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* ---- defaults and dump ------------------------------------------------------------- */

static void test_defaults(void **state)
{
    (void)state;
    tun_srvcfg c;
    tun_srvcfg_init(&c);
    assert_int_equal(tun_srvcfg_finish(&c), 0);
    assert_int_equal(c.n_ports, 1);
    assert_int_equal(c.ports[0], 22);
    assert_int_equal(c.n_listen_addresses, 0);
    assert_int_equal(c.n_host_keys, 3);
    assert_string_equal(c.host_keys[0], "/etc/ssh/ssh_host_ecdsa_key");
    assert_string_equal(c.host_keys[1], "/etc/ssh/ssh_host_ed25519_key");
    assert_string_equal(c.host_keys[2], "/etc/ssh/ssh_host_rsa_key");
    assert_string_equal(c.pid_file, "/run/sshtund.pid");
    assert_int_equal(c.max_startups_begin, 1000);
    assert_int_equal(c.max_startups_rate, 30);
    assert_int_equal(c.max_startups_full, 10000);
    assert_int_equal(c.login_grace_time, 120);
    assert_null(c.ciphers);
    assert_null(c.macs);
    assert_null(c.kex_algorithms);
    assert_null(c.hostkey_algorithms);
    assert_int_equal(c.rekey_bytes, 0);
    assert_int_equal(c.rekey_seconds, 0);
    assert_int_equal(c.log_level, TUN_LOG_INFO);
    assert_int_equal(c.n_subsystems, 0);
    assert_string_equal(c.sshtund_user, "sshtund");
    assert_int_equal(c.sshtund_user_default, 1);
    assert_int_equal(c.strict_modes, 1);
    assert_string_equal(c.permit_user_environment, "no");
    assert_int_equal(c.max_channels, 1024);
    assert_int_equal(c.address_family, AF_UNSPEC);

    const tun_srvopts *g = &c.global;
    assert_int_equal(g->n_authorized_keys_file, 2);
    assert_string_equal(g->authorized_keys_file[0], ".ssh/authorized_keys");
    assert_string_equal(g->authorized_keys_file[1], ".ssh/authorized_keys2");
    assert_int_equal(g->password_authentication, 1);
    assert_int_equal(g->pubkey_authentication, 1);
    assert_int_equal(g->permit_root_login, PRL_PROHIBIT_PASSWORD);
    assert_int_equal(g->n_allow_users, 0);
    assert_int_equal(g->n_deny_users, 0);
    assert_int_equal(g->max_sessions, 10);
    assert_int_equal(g->max_auth_tries, 6);
    assert_int_equal(g->client_alive_interval, 0);
    assert_int_equal(g->client_alive_count_max, 3);
    assert_int_equal(g->allow_tcp_forwarding, FWA_ALL);
    assert_int_equal(g->allow_streamlocal_forwarding, FWA_ALL);
    assert_int_equal(g->n_permit_open, 1);
    assert_string_equal(g->permit_open[0], "any");
    assert_int_equal(g->n_permit_listen, 1);
    assert_string_equal(g->permit_listen[0], "any");
    assert_int_equal(g->gateway_ports, GWP_NO);
    assert_int_equal(g->n_channel_timeout, 0);
    assert_int_equal(g->unused_connection_timeout, 0);
    assert_int_equal(g->n_accept_env, 0);
    assert_null(g->force_command);
    assert_int_equal(g->permit_tty, 1);
    assert_null(g->banner);

    /* finish() twice changes nothing; values given are kept. */
    assert_int_equal(tun_srvcfg_finish(&c), 0);
    assert_int_equal(c.n_ports, 1);
    assert_int_equal(c.n_host_keys, 3);
    tun_srvcfg_free(&c);

    tun_srvcfg_init(&c);
    cap_start();
    assert_int_equal(tun_srvcfg_apply(&c, "Port 2222", "t"), 0);
    assert_int_equal(tun_srvcfg_apply(&c, "HostKey /k", "t"), 0);
    assert_int_equal(tun_srvcfg_apply(&c, "MaxStartups 10:30:100", "t"), 0);
    assert_int_equal(tun_srvcfg_apply(&c, "AuthorizedKeysFile /keys/%u", "t"), 0);
    assert_int_equal(tun_srvcfg_apply(&c, "PermitOpen localhost:80", "t"), 0);
    cap_end();
    assert_int_equal(tun_srvcfg_finish(&c), 0);
    assert_int_equal(c.n_ports, 1);
    assert_int_equal(c.ports[0], 2222);
    assert_int_equal(c.n_host_keys, 1);
    assert_int_equal(c.max_startups_full, 100);
    assert_int_equal(c.global.n_authorized_keys_file, 1);
    assert_int_equal(c.global.n_permit_open, 1);
    assert_string_equal(c.global.permit_open[0], "localhost:80");
    tun_srvcfg_free(&c);
}

static struct sockaddr_storage sa(const char *ip, int port)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    if (strchr(ip, ':')) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
        s6->sin6_family = AF_INET6;
        inet_pton(AF_INET6, ip, &s6->sin6_addr);
        s6->sin6_port = htons((uint16_t)port);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
        s4->sin_family = AF_INET;
        inet_pton(AF_INET, ip, &s4->sin_addr);
        s4->sin_port = htons((uint16_t)port);
    }
    return ss;
}

/* ProxyProtocol, ProxyProtocolFrom, "ListenAddress ... proxy-protocol" and
 * which listener a socket's local address belongs to. */
static void test_proxy_protocol(void **state)
{
    (void)state;
    tun_srvcfg c;
    struct sockaddr_storage l;
    tun_srvcfg_init(&c);
    assert_int_equal(tun_srvcfg_apply(&c, "Port 22", "t"), 0);
    assert_int_equal(tun_srvcfg_apply(&c, "Port 2200", "t"), 0);
    assert_int_equal(tun_srvcfg_apply(&c, "ListenAddress 10.0.0.5 proxy-protocol", "t"), 0);
    assert_int_equal(tun_srvcfg_apply(&c, "ListenAddress 127.0.0.1:2222", "t"), 0);
    assert_int_equal(tun_srvcfg_apply(&c, "ListenAddress 0.0.0.0:2223 proxy-protocol", "t"), 0);
    assert_int_equal(tun_srvcfg_apply(&c, "ListenAddress 127.0.0.1:2223", "t"), 0);
    assert_int_equal(tun_srvcfg_apply(&c, "ListenAddress [::1]:2224 PROXY-PROTOCOL", "t"), 0);
    assert_int_equal(tun_srvcfg_apply(&c, "ListenAddress 10.0.0.6 proxy", "t"), -1);
    assert_int_equal(tun_srvcfg_apply(&c, "ListenAddress 10.0.0.6 proxy-protocol x", "t"), -1);
    /* a PROXY listener without ProxyProtocolFrom: refused when finished */
    tun_srvcfg d;
    tun_srvcfg_init(&d);
    assert_int_equal(tun_srvcfg_apply(&d, "ProxyProtocol yes", "t"), 0);
    assert_int_equal(tun_srvcfg_finish(&d), -1);
    tun_srvcfg_free(&d);
    assert_int_equal(tun_srvcfg_apply(&c, "ProxyProtocolFrom 10.0.0.0/8,!10.9.9.9 192.0.2.1", "t"),
                     0);
    assert_int_equal(tun_srvcfg_apply(&c, "ProxyProtocolFrom 1.1.1.1", "t"), 0); /* first wins */
    assert_int_equal(tun_srvcfg_finish(&c), 0);
    assert_string_equal(c.proxy_from, "10.0.0.0/8,!10.9.9.9,192.0.2.1");
    assert_int_equal(tun_srvcfg_any_proxy(&c), 1);
    /* 10.0.0.5 with every Port */
    l = sa("10.0.0.5", 22);
    assert_int_equal(tun_srvcfg_listener_proxy(&c, &l), 1);
    l = sa("10.0.0.5", 2200);
    assert_int_equal(tun_srvcfg_listener_proxy(&c, &l), 1);
    l = sa("10.0.0.5", 2201);
    assert_int_equal(tun_srvcfg_listener_proxy(&c, &l), 0);
    l = sa("127.0.0.1", 2222);
    assert_int_equal(tun_srvcfg_listener_proxy(&c, &l), 0);
    /* the wildcard 0.0.0.0:2223 speaks it, the exact 127.0.0.1:2223 not */
    l = sa("192.0.2.50", 2223);
    assert_int_equal(tun_srvcfg_listener_proxy(&c, &l), 1);
    l = sa("127.0.0.1", 2223);
    assert_int_equal(tun_srvcfg_listener_proxy(&c, &l), 0);
    l = sa("::1", 2224);
    assert_int_equal(tun_srvcfg_listener_proxy(&c, &l), 1);
    l = sa("::2", 2224);
    assert_int_equal(tun_srvcfg_listener_proxy(&c, &l), 0);
    char *dumped = dump(&c);
    assert_non_null(strstr(dumped, "listenaddress 10.0.0.5 proxy-protocol\n"));
    assert_non_null(strstr(dumped, "listenaddress 127.0.0.1:2222\n"));
    assert_non_null(strstr(dumped, "proxyprotocol no\n"));
    assert_non_null(strstr(dumped, "proxyprotocolfrom 10.0.0.0/8,!10.9.9.9,192.0.2.1\n"));
    free(dumped);
    tun_srvcfg_free(&c);
    /* ProxyProtocol yes: every listener; a bad pattern list is refused */
    tun_srvcfg_init(&c);
    assert_int_equal(tun_srvcfg_apply(&c, "ProxyProtocolFrom 10.0.0.0/33", "t"), -1);
    assert_int_equal(tun_srvcfg_apply(&c, "ProxyProtocol yes", "t"), 0);
    assert_int_equal(tun_srvcfg_apply(&c, "ProxyProtocolFrom 127.0.0.1", "t"), 0);
    assert_int_equal(tun_srvcfg_finish(&c), 0);
    l = sa("203.0.113.1", 22);
    assert_int_equal(tun_srvcfg_listener_proxy(&c, &l), 1);
    tun_srvcfg_free(&c);
    /* PerSourceMaxStartups / PerSourceNetBlockSize and what one source is */
    tun_srvcfg_init(&c);
    assert_int_equal(tun_srvcfg_apply(&c, "PerSourceMaxStartups 0", "t"), -1);
    assert_int_equal(tun_srvcfg_apply(&c, "PerSourceNetBlockSize 33", "t"), -1);
    assert_int_equal(tun_srvcfg_apply(&c, "PerSourceNetBlockSize 24:129", "t"), -1);
    assert_int_equal(tun_srvcfg_apply(&c, "PerSourceMaxStartups 3", "t"), 0);
    assert_int_equal(tun_srvcfg_apply(&c, "PerSourceNetBlockSize 20:64", "t"), 0);
    assert_int_equal(tun_srvcfg_finish(&c), 0);
    assert_int_equal(c.per_source_max_startups, 3);
    struct sockaddr_storage x = sa("10.1.16.1", 1), y = sa("10.1.31.200", 2),
                            z = sa("10.1.32.1", 3);
    assert_int_equal(tun_srvcfg_same_source(&c, &x, &y), 1);
    assert_int_equal(tun_srvcfg_same_source(&c, &x, &z), 0);
    x = sa("2001:db8:1:2:aaaa::1", 1);
    y = sa("2001:db8:1:2:bbbb::2", 2);
    z = sa("2001:db8:1:3::1", 3);
    assert_int_equal(tun_srvcfg_same_source(&c, &x, &y), 1);
    assert_int_equal(tun_srvcfg_same_source(&c, &x, &z), 0);
    x = sa("::ffff:10.1.16.9", 1); /* v4-mapped: its IPv4 block */
    y = sa("10.1.17.1", 2);
    assert_int_equal(tun_srvcfg_same_source(&c, &x, &y), 1);
    tun_srvcfg_free(&c);
    tun_srvcfg_init(&c);
    assert_int_equal(tun_srvcfg_apply(&c, "PerSourceMaxStartups none", "t"), 0);
    assert_int_equal(tun_srvcfg_finish(&c), 0);
    assert_int_equal(c.per_source_max_startups, 0);
    x = sa("10.1.16.1", 1);
    y = sa("10.1.16.2", 1);
    assert_int_equal(tun_srvcfg_same_source(&c, &x, &y), 0); /* default /32 */
    assert_int_equal(tun_srvcfg_same_source(&c, &x, &x), 1);
    tun_srvcfg_free(&c);
    /* nothing configured: no listener speaks it, no ProxyProtocolFrom needed */
    tun_srvcfg_init(&c);
    assert_int_equal(tun_srvcfg_finish(&c), 0);
    assert_int_equal(tun_srvcfg_any_proxy(&c), 0);
    l = sa("127.0.0.1", 22);
    assert_int_equal(tun_srvcfg_listener_proxy(&c, &l), 0);
    tun_srvcfg_free(&c);
}

static void test_dump(void **state)
{
    (void)state;
    tun_srvcfg c;
    tun_srvcfg_init(&c);
    assert_int_equal(tun_srvcfg_finish(&c), 0);
    char *d = dump(&c);
    static const char *const want[] = {
        "port 22\n",
        "addressfamily any\n",
        "hostkey /etc/ssh/ssh_host_ecdsa_key\n",
        "hostkey /etc/ssh/ssh_host_rsa_key\n",
        "pidfile /run/sshtund.pid\n",
        "maxstartups 1000:30:10000\n",
        "logingracetime 120\n",
        "ciphers chacha20-poly1305@openssh.com,",
        "macs hmac-sha2-256-etm@openssh.com,",
        "kexalgorithms mlkem768x25519-sha256,sntrup761x25519-sha512,",
        "hostkeyalgorithms ssh-ed25519-cert-v01@openssh.com,",
        "rekeylimit 0 0\n",
        "loglevel INFO\n",
        "sshtunduser sshtund\n",
        "strictmodes yes\n",
        "permituserenvironment no\n",
        "maxchannels 1024\n",
        "authorizedkeysfile .ssh/authorized_keys .ssh/authorized_keys2\n",
        "passwordauthentication yes\n",
        "pubkeyauthentication yes\n",
        "permitrootlogin prohibit-password\n",
        "maxsessions 10\n",
        "maxauthtries 6\n",
        "clientaliveinterval 0\n",
        "clientalivecountmax 3\n",
        "allowtcpforwarding yes\n",
        "allowstreamlocalforwarding yes\n",
        "permitopen any\n",
        "permitlisten any\n",
        "gatewayports no\n",
        "channeltimeout none\n",
        "unusedconnectiontimeout none\n",
        "forcecommand none\n",
        "permittty yes\n",
        "banner none\n",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        assert_contains(d, want[i]);
    /* -T style: every line "lowercase-keyword value". */
    for (char *l = d; *l; l = strchr(l, '\n') + 1) {
        for (char *p = l; *p != ' '; p++) {
            if (*p == '\n' || *p == '\0' || (*p >= 'A' && *p <= 'Z'))
                fail_msg("bad dump line: %.*s", (int)strcspn(l, "\n"), l);
        }
    }
    assert_null(strstr(d, "allowusers"));
    assert_null(strstr(d, "subsystem"));
    free(d);
    tun_srvcfg_free(&c);

    load_ok(&c, "Port 2222\n"
                "Port 2223\n"
                "ListenAddress 127.0.0.1\n"
                "ListenAddress [::1]:2224\n"
                "AddressFamily inet6\n"
                "MaxStartups 5:50:20\n"
                "Ciphers +aes128-ctr\n"
                "RekeyLimit 1G 1h\n"
                "LogLevel DEBUG2\n"
                "Subsystem sftp /usr/lib/openssh/sftp-server -l INFO\n"
                "SshtundUser sshtund\n"
                "MaxChannels 64\n"
                "AuthorizedKeysFile none\n"
                "PasswordAuthentication no\n"
                "PermitRootLogin forced-commands-only\n"
                "AllowUsers alice bob@10.0.0.0/8\n"
                "DenyUsers mallory\n"
                "AllowTcpForwarding local\n"
                "AllowStreamLocalForwarding remote\n"
                "PermitOpen localhost:80 [::1]:22\n"
                "PermitListen 8080\n"
                "GatewayPorts clientspecified\n"
                "ChannelTimeout session=5m global=30s\n"
                "UnusedConnectionTimeout 1h\n"
                "AcceptEnv LANG LC_*\n"
                "ForceCommand /bin/echo hi\n"
                "PermitTTY no\n"
                "Banner /etc/issue.net\n");
    assert_int_equal(tun_srvcfg_finish(&c), 0);
    d = dump(&c);
    static const char *const want2[] = {
        "port 2222\nport 2223\n",
        "addressfamily inet6\n",
        "listenaddress 127.0.0.1\nlistenaddress [::1]:2224\n",
        "maxstartups 5:50:20\n",
        "ciphers +aes128-ctr\n",
        "rekeylimit 1073741824 3600\n",
        "loglevel DEBUG2\n",
        "subsystem sftp /usr/lib/openssh/sftp-server -l INFO\n",
        "sshtunduser sshtund\n",
        "maxchannels 64\n",
        "authorizedkeysfile none\n",
        "passwordauthentication no\n",
        "permitrootlogin forced-commands-only\n",
        "allowusers alice\nallowusers bob@10.0.0.0/8\n",
        "denyusers mallory\n",
        "allowtcpforwarding local\n",
        "allowstreamlocalforwarding remote\n",
        "permitopen localhost:80 [::1]:22\n",
        "permitlisten 8080\n",
        "gatewayports clientspecified\n",
        "channeltimeout session=5m global=30s\n",
        "unusedconnectiontimeout 3600\n",
        "acceptenv LANG\nacceptenv LC_*\n",
        "forcecommand /bin/echo hi\n",
        "permittty no\n",
        "banner /etc/issue.net\n",
    };
    for (size_t i = 0; i < sizeof(want2) / sizeof(want2[0]); i++)
        assert_contains(d, want2[i]);
    free(d);
    tun_srvcfg_free(&c);
}

/* ---- global keywords ----------------------------------------------------------------- */

static void test_port(void **state)
{
    (void)state;
    tun_srvcfg c;
    load_ok(&c, "Port 22\nPort 2222\nport=65535\nPort 22\n");
    assert_int_equal(c.n_ports, 3); /* repeated, duplicates dropped */
    assert_int_equal(c.ports[0], 22);
    assert_int_equal(c.ports[1], 2222);
    assert_int_equal(c.ports[2], 65535);
    tun_srvcfg_free(&c);
    good("Port 1");
    bad("Port 0");
    bad("Port 65536");
    bad("Port -1");
    bad("Port 22x");
    bad("Port abc");
    bad("Port");
    bad("Port 22 23");
    bad("Port 0x16");
}

static void test_listen_address(void **state)
{
    (void)state;
    tun_srvcfg c;
    load_ok(&c, "ListenAddress 0.0.0.0\n"
                "ListenAddress 127.0.0.1:2222\n"
                "ListenAddress [::1]:22\n"
                "ListenAddress ::\n"
                "ListenAddress [fe80::1%eth0]:22\n"
                "ListenAddress host.example.com\n"
                "ListenAddress localhost:8022\n"
                "ListenAddress [::1]\n"
                "ListenAddress 0.0.0.0\n");
    assert_int_equal(c.n_listen_addresses, 8);
    assert_string_equal(c.listen_addresses[0], "0.0.0.0");
    assert_string_equal(c.listen_addresses[1], "127.0.0.1:2222");
    assert_string_equal(c.listen_addresses[2], "[::1]:22");
    assert_string_equal(c.listen_addresses[3], "::");
    assert_string_equal(c.listen_addresses[6], "localhost:8022");
    tun_srvcfg_free(&c);
    bad("ListenAddress");
    bad("ListenAddress [::1");
    bad("ListenAddress [::1]:");
    bad("ListenAddress [::1]x");
    bad("ListenAddress [zz::q]:22");
    bad("ListenAddress 1.2.3.4:0");
    bad("ListenAddress 1.2.3.4:99999");
    bad("ListenAddress 1.2.3.4:ssh");
    bad("ListenAddress :22");
    bad("ListenAddress host:");
    bad("ListenAddress bad/host");
    bad("ListenAddress ::1::2");
    bad("ListenAddress a b");
    bad("ListenAddress 1.2.3.4:*");
    bad("ListenAddress *");
    /* rdomain is refused with a clear message */
    tun_srvcfg c2;
    assert_int_equal(apply1(&c2, "ListenAddress 0.0.0.0 rdomain vrf1"), -1);
    assert_contains(capbuf, "not supported by sshtund");
    tun_srvcfg_free(&c2);
}

static void test_hostkey_pidfile_user_channels(void **state)
{
    (void)state;
    tun_srvcfg c;
    load_ok(&c, "HostKey /etc/ssh/k1\nHostKey \"/path with space/k2\"\nHostKey /etc/ssh/k1\n"
                "PidFile /run/a.pid\nPidFile /run/b.pid\n"
                "SshtundUser tund\nSshtundUser other\n"
                "MaxChannels 5\nMaxChannels 6\n");
    assert_int_equal(c.n_host_keys, 2);
    assert_string_equal(c.host_keys[0], "/etc/ssh/k1");
    assert_string_equal(c.host_keys[1], "/path with space/k2");
    assert_string_equal(c.pid_file, "/run/a.pid");
    assert_string_equal(c.sshtund_user, "tund");
    assert_int_equal(c.max_channels, 5);
    tun_srvcfg_free(&c);
    good("PidFile none");
    bad("HostKey");
    bad("HostKey a b");
    bad("PidFile");
    bad("PidFile a b");
    bad("SshtundUser");
    bad("MaxChannels 0");
    bad("MaxChannels -5");
    bad("MaxChannels many");
    bad("MaxChannels 99999999999");
}

static void test_max_startups(void **state)
{
    (void)state;
    tun_srvcfg c;
    assert_int_equal(apply1(&c, "MaxStartups 10:30:100"), 0);
    assert_int_equal(c.max_startups_begin, 10);
    assert_int_equal(c.max_startups_rate, 30);
    assert_int_equal(c.max_startups_full, 100);
    tun_srvcfg_free(&c);
    assert_int_equal(apply1(&c, "MaxStartups 50"), 0);
    assert_int_equal(c.max_startups_begin, 50);
    assert_int_equal(c.max_startups_rate, 100);
    assert_int_equal(c.max_startups_full, 50);
    tun_srvcfg_free(&c);
    load_ok(&c, "MaxStartups 1:2:3\nMaxStartups 4:5:6\n");
    assert_int_equal(c.max_startups_full, 3);
    tun_srvcfg_free(&c);
    good("MaxStartups 0:100:1");
    good("MaxStartups 100:1:100");
    bad("MaxStartups 0");
    bad("MaxStartups 10:0:100");
    bad("MaxStartups 10:101:100");
    bad("MaxStartups 100:30:10");
    bad("MaxStartups 10:30");
    bad("MaxStartups 10:30:100:5");
    bad("MaxStartups a:b:c");
    bad("MaxStartups -1:30:100");
    bad("MaxStartups 10:30:");
    bad("MaxStartups");
}

static void test_times(void **state)
{
    (void)state;
    static const struct {
        const char *v;
        int want;
    } ok[] = {{"0", 0},        {"90", 90},    {"90s", 90},    {"2m", 120},
              {"1h30m", 5400}, {"1d", 86400}, {"1w", 604800}, {"1H2M3S", 3723}};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        char line[64];
        tun_srvcfg c;
        snprintf(line, sizeof(line), "LoginGraceTime %s", ok[i].v);
        assert_int_equal(apply1(&c, line), 0);
        assert_int_equal(c.login_grace_time, ok[i].want);
        tun_srvcfg_free(&c);
        snprintf(line, sizeof(line), "ClientAliveInterval %s", ok[i].v);
        assert_int_equal(apply1(&c, line), 0);
        assert_int_equal(c.global.client_alive_interval, ok[i].want);
        tun_srvcfg_free(&c);
    }
    static const char *const nok[] = {"1x", "-1", "h", "1.5h", "", "99999999999", "1h 2m", "m5"};
    for (size_t i = 0; i < sizeof(nok) / sizeof(nok[0]); i++) {
        char line[64];
        snprintf(line, sizeof(line), "LoginGraceTime %s", nok[i]);
        bad(line);
        snprintf(line, sizeof(line), "ClientAliveInterval %s", nok[i]);
        bad(line);
        snprintf(line, sizeof(line), "UnusedConnectionTimeout %s", nok[i]);
        bad(line);
    }
    tun_srvcfg c;
    assert_int_equal(apply1(&c, "UnusedConnectionTimeout none"), 0);
    assert_int_equal(c.global.unused_connection_timeout, 0);
    tun_srvcfg_free(&c);
    assert_int_equal(apply1(&c, "UnusedConnectionTimeout 10m"), 0);
    assert_int_equal(c.global.unused_connection_timeout, 600);
    tun_srvcfg_free(&c);
}

static void test_algorithms(void **state)
{
    (void)state;
    static const char *const kws[] = {"Ciphers", "MACs", "KexAlgorithms", "HostKeyAlgorithms"};
    for (size_t i = 0; i < 4; i++) {
        char line[128];
        tun_srvcfg c;
        /* stored as given, modifiers unresolved */
        snprintf(line, sizeof(line), "%s +foo,bar-*", kws[i]);
        assert_int_equal(apply1(&c, line), 0);
        const char *got = i == 0   ? c.ciphers
                          : i == 1 ? c.macs
                          : i == 2 ? c.kex_algorithms
                                   : c.hostkey_algorithms;
        assert_string_equal(got, "+foo,bar-*");
        tun_srvcfg_free(&c);
        snprintf(line, sizeof(line), "%s -x", kws[i]);
        good(line);
        snprintf(line, sizeof(line), "%s ^x,y", kws[i]);
        good(line);
        snprintf(line, sizeof(line), "%s aes128-ctr", kws[i]);
        good(line);
        snprintf(line, sizeof(line), "%s", kws[i]);
        bad(line);
        snprintf(line, sizeof(line), "%s +", kws[i]);
        bad(line);
        snprintf(line, sizeof(line), "%s a,,b", kws[i]);
        bad(line);
        snprintf(line, sizeof(line), "%s a,", kws[i]);
        bad(line);
        snprintf(line, sizeof(line), "%s ,a", kws[i]);
        bad(line);
        snprintf(line, sizeof(line), "%s a b", kws[i]);
        bad(line);
        snprintf(line, sizeof(line), "%s \"\"", kws[i]);
        bad(line);
    }
    tun_srvcfg c;
    load_ok(&c, "Ciphers aes128-ctr\nCiphers aes256-ctr\n");
    assert_string_equal(c.ciphers, "aes128-ctr");
    tun_srvcfg_free(&c);
}

static void test_rekey_limit(void **state)
{
    (void)state;
    static const struct {
        const char *v;
        long long bytes, secs;
    } ok[] = {
        {"default", 0, 0},
        {"default none", 0, 0},
        {"1G 1h", 1LL << 30, 3600},
        {"512M", 512LL << 20, 0},
        {"64K default", 65536, 0},
        {"default 30m", 0, 1800},
        {"16", 16, 0},
        {"0", 0, 0},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        char line[64];
        tun_srvcfg c;
        snprintf(line, sizeof(line), "RekeyLimit %s", ok[i].v);
        if (apply1(&c, line) != 0)
            fail_msg("%s: %s", line, capbuf);
        assert_int_equal(c.rekey_bytes, ok[i].bytes);
        assert_int_equal(c.rekey_seconds, ok[i].secs);
        tun_srvcfg_free(&c);
    }
    bad("RekeyLimit");
    bad("RekeyLimit 8");
    bad("RekeyLimit 1X");
    bad("RekeyLimit -1G");
    bad("RekeyLimit 1G 1q");
    bad("RekeyLimit 1G 1h extra");
    bad("RekeyLimit none");
    tun_srvcfg c;
    load_ok(&c, "RekeyLimit 1G 1h\nRekeyLimit 2G 2h\n");
    assert_int_equal(c.rekey_bytes, 1LL << 30);
    assert_int_equal(c.rekey_seconds, 3600);
    tun_srvcfg_free(&c);
}

static void test_log_level(void **state)
{
    (void)state;
    tun_srvcfg c;
    assert_int_equal(apply1(&c, "LogLevel verbose"), 0);
    assert_int_equal(c.log_level, TUN_LOG_VERBOSE);
    tun_srvcfg_free(&c);
    assert_int_equal(apply1(&c, "LogLevel DEBUG3"), 0);
    assert_int_equal(c.log_level, TUN_LOG_DEBUG3);
    tun_srvcfg_free(&c);
    good("LogLevel QUIET");
    good("LogLevel DEBUG");
    bad("LogLevel LOUD");
    bad("LogLevel");
    bad("LogLevel INFO DEBUG");
}

static void test_subsystem(void **state)
{
    (void)state;
    tun_srvcfg c;
    load_ok(&c, "Subsystem\tsftp\t/usr/lib/openssh/sftp-server -f AUTH  \n"
                "Subsystem echo /bin/sh -c \"cat; echo done\"\n"
                "Subsystem sftp /other\n");
    assert_int_equal(c.n_subsystems, 2);
    assert_string_equal(c.subsystem_name[0], "sftp");
    /* the command verbatim: it goes to the shell */
    assert_string_equal(c.subsystem_command[0], "/usr/lib/openssh/sftp-server -f AUTH");
    assert_string_equal(c.subsystem_name[1], "echo");
    assert_string_equal(c.subsystem_command[1], "/bin/sh -c \"cat; echo done\"");
    tun_srvcfg_free(&c);

    /* -o first: replaces the file's definition of the same name */
    tun_srvcfg_init(&c);
    cap_start();
    assert_int_equal(tun_srvcfg_apply(&c, "Subsystem=sftp internal", "command-line"), 0);
    const char *file = "Subsystem sftp /usr/lib/openssh/sftp-server\n";
    assert_int_equal(tun_srvcfg_read_mem(&c, file, strlen(file), "f"), 0);
    cap_end();
    assert_int_equal(c.n_subsystems, 1);
    assert_string_equal(c.subsystem_command[0], "internal");
    tun_srvcfg_free(&c);

    good("Subsystem my-sub.x@example.com /bin/true");
    bad("Subsystem");
    bad("Subsystem sftp");
    bad("Subsystem bad/name /bin/true");
}

static void test_address_family_usepam_ignored(void **state)
{
    (void)state;
    tun_srvcfg c;
    assert_int_equal(apply1(&c, "AddressFamily inet"), 0);
    assert_int_equal(c.address_family, AF_INET);
    tun_srvcfg_free(&c);
    assert_int_equal(apply1(&c, "AddressFamily inet6"), 0);
    assert_int_equal(c.address_family, AF_INET6);
    tun_srvcfg_free(&c);
    good("AddressFamily any");
    bad("AddressFamily ipx");

    /* UsePAM yes loads, with a warning that PAM is not used */
    enum tun_log_level old = tun_log_get_level();
    tun_log_set_level(TUN_LOG_INFO);
    assert_int_equal(apply1(&c, "UsePAM yes"), 0);
    assert_contains(capbuf, "does not use PAM");
    tun_srvcfg_free(&c);
    assert_int_equal(apply1(&c, "UsePAM no"), 0);
    assert_string_equal(capbuf, "");
    tun_srvcfg_free(&c);
    tun_log_set_level(old);
    bad("UsePAM maybe");

    /* harmless sshd keywords: accepted, their values still checked */
    static const char *const ign[] = {
        "KbdInteractiveAuthentication no",
        "ChallengeResponseAuthentication no",
        "X11Forwarding yes",
        "PrintMotd no",
        "PrintLastLog yes",
        "TCPKeepAlive yes",
        "UseDNS no",
        "Compression delayed",
        "StrictModes yes",
        "SyslogFacility AUTH",
        "AllowAgentForwarding no",
        "PermitTunnel no",
        "PermitEmptyPasswords no",
        "HostbasedAuthentication no",
        "IgnoreRhosts yes",
        "GSSAPIAuthentication no",
        "KerberosAuthentication no",
        "VersionAddendum none",
        "X11DisplayOffset 10",
        "X11UseLocalhost yes",
        "PermitUserEnvironment no",
        "Protocol 2",
        "AuthenticationMethods any",
        "AuthorizedKeysCommand none",
        "AuthorizedKeysCommandUser nobody",
        "AuthorizedPrincipalsFile none",
        "ChrootDirectory none",
        "TrustedUserCAKeys none",
        "DisableForwarding no",
        "IPQoS lowdelay throughput",
    };
    for (size_t i = 0; i < sizeof(ign) / sizeof(ign[0]); i++)
        good(ign[i]);
    bad("X11Forwarding maybe");
    bad("PrintMotd");
    bad("TCPKeepAlive yes no");
}

static void test_unsupported(void **state)
{
    (void)state;
    static const char *const refused[] = {
        "ChrootDirectory /srv/%u",
        "AuthenticationMethods publickey,password",
        "DisableForwarding yes",
        "PubkeyAuthOptions verify-required",
    };
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        tun_srvcfg c;
        if (apply1(&c, refused[i]) != -1)
            fail_msg("\"%s\" accepted", refused[i]);
        assert_contains(capbuf, "not supported by sshtund");
        tun_srvcfg_free(&c);
    }
    /* also in a file, with file and line, and inside Match */
    tun_srvcfg c;
    assert_int_equal(load(&c, "Port 22\nMatch User x\n  ChrootDirectory /srv\n"), -1);
    assert_contains(capbuf, "test.conf: line 3: ChrootDirectory");
    assert_contains(capbuf, "not supported by sshtund");
    tun_srvcfg_free(&c);
}

/* ---- per-connection keywords ------------------------------------------------------- */

/* User certificates, revocation and the key/principal commands. */
static void test_cert_keywords(void **state)
{
    (void)state;
    tun_srvcfg c;
    load_ok(&c, "HostCertificate /etc/ssh/h1-cert.pub\nHostCertificate /etc/ssh/h2-cert.pub\n"
                "TrustedUserCAKeys /etc/ssh/ca.pub\nTrustedUserCAKeys /ignored\n"
                "RevokedKeys /etc/ssh/krl\n"
                "CASignatureAlgorithms +ssh-rsa\n"
                "AuthorizedPrincipalsFile /etc/ssh/principals/%u\n"
                "AuthorizedPrincipalsCommand /usr/bin/p \"%u\" %i\n"
                "AuthorizedPrincipalsCommandUser nobody\n"
                "AuthorizedKeysCommand /usr/bin/k %u %f\n"
                "AuthorizedKeysCommandUser %u\n"
                "Match User bob\n"
                "  TrustedUserCAKeys none\n"
                "  AuthorizedKeysCommand none\n"
                "  CASignatureAlgorithms ssh-ed25519\n"
                "  RevokedKeys /etc/ssh/krl-bob\n");
    assert_int_equal(tun_srvcfg_finish(&c), 0);
    assert_int_equal(c.n_host_certificates, 2);
    assert_string_equal(c.host_certificates[1], "/etc/ssh/h2-cert.pub");
    assert_string_equal(c.global.trusted_user_ca_keys, "/etc/ssh/ca.pub");
    assert_string_equal(c.global.ca_signature_algorithms, SSH_DEFAULT_CA_SIG_ALGS ",ssh-rsa");
    assert_string_equal(c.global.authorized_principals_command, "/usr/bin/p \"%u\" %i");
    assert_string_equal(c.global.authorized_keys_command, "/usr/bin/k %u %f");
    assert_string_equal(c.global.authorized_keys_command_user, "%u");
    tun_srvopts o;
    tun_srvcfg_for(&c, "alice", "10.0.0.1", &o);
    assert_string_equal(o.trusted_user_ca_keys, "/etc/ssh/ca.pub");
    assert_string_equal(o.revoked_keys, "/etc/ssh/krl");
    assert_string_equal(o.authorized_principals_file, "/etc/ssh/principals/%u");
    assert_string_equal(o.authorized_keys_command, "/usr/bin/k %u %f");
    tun_srvopts_release(&o);
    /* Match: "none" folds to NULL; the rest still comes from the globals. */
    tun_srvcfg_for(&c, "bob", "10.0.0.1", &o);
    assert_null(o.trusted_user_ca_keys);
    assert_null(o.authorized_keys_command);
    assert_string_equal(o.ca_signature_algorithms, "ssh-ed25519");
    assert_string_equal(o.revoked_keys, "/etc/ssh/krl-bob");
    assert_string_equal(o.authorized_principals_file, "/etc/ssh/principals/%u");
    tun_srvopts_release(&o);
    char *d = dump(&c);
    assert_contains(d,
                    "hostcertificate /etc/ssh/h1-cert.pub\nhostcertificate /etc/ssh/h2-cert.pub\n");
    assert_contains(d, "trustedusercakeys /etc/ssh/ca.pub\n");
    assert_contains(d, "authorizedkeyscommand /usr/bin/k %u %f\n");
    free(d);
    tun_srvcfg_free(&c);
    /* Defaults: nothing configured, SHA-1 CA signatures refused. */
    load_ok(&c, "Port 22\n");
    assert_int_equal(tun_srvcfg_finish(&c), 0);
    tun_srvcfg_for(&c, "alice", "10.0.0.1", &o);
    assert_null(o.trusted_user_ca_keys);
    assert_null(o.revoked_keys);
    assert_null(o.authorized_principals_file);
    assert_null(o.authorized_principals_command);
    assert_null(o.authorized_keys_command);
    assert_string_equal(o.ca_signature_algorithms, SSH_DEFAULT_CA_SIG_ALGS);
    tun_srvopts_release(&o);
    tun_srvcfg_free(&c);
    /* CASignatureAlgorithms: -, ^ and a full list. */
    assert_int_equal(apply1(&c, "CASignatureAlgorithms -rsa-*"), 0);
    assert_string_equal(c.global.ca_signature_algorithms,
                        "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521");
    tun_srvcfg_free(&c);
    assert_int_equal(apply1(&c, "CASignatureAlgorithms ^ssh-rsa"), 0);
    assert_int_equal(strncmp(c.global.ca_signature_algorithms, "ssh-rsa,", 8), 0);
    tun_srvcfg_free(&c);
    bad("CASignatureAlgorithms ssh-dss");
    bad("CASignatureAlgorithms +foo");
    bad("CASignatureAlgorithms");
    /* The commands must be absolute paths (sshd's rule); none is fine. */
    bad("AuthorizedKeysCommand get-keys %u");
    bad("AuthorizedPrincipalsCommand ./p");
    good("AuthorizedKeysCommand none");
    good("AuthorizedPrincipalsCommand \"/usr/lib/x y/p\" %u");
    bad("HostCertificate");
    bad("TrustedUserCAKeys a b");
    /* HostCertificate is global only. */
    assert_int_equal(load(&c, "Match User x\n  HostCertificate /c.pub\n"), -1);
    tun_srvcfg_free(&c);
}

/* PubkeyAcceptedAlgorithms (and its old name PubkeyAcceptedKeyTypes):
 * sshd's default without ssh-rsa, +/-/^ forms, names checked, per Match
 * block, printed by -T. */
static void test_pubkey_accepted_algorithms(void **state)
{
    (void)state;
    tun_srvcfg c;
    tun_srvopts o;
    load_ok(&c, "Port 22\n");
    assert_int_equal(tun_srvcfg_finish(&c), 0);
    tun_srvcfg_for(&c, "alice", "10.0.0.1", &o);
    assert_string_equal(o.pubkey_accepted_algorithms, SSH_DEFAULT_PUBKEY_ALGS);
    assert_null(strstr(o.pubkey_accepted_algorithms, "ssh-rsa,"));
    tun_srvopts_release(&o);
    tun_srvcfg_free(&c);
    load_ok(&c, "PubkeyAcceptedAlgorithms +ssh-rsa\n"
                "Match User bob\n"
                "  PubkeyAcceptedAlgorithms rsa-sha2-512,rsa-sha2-256\n");
    assert_int_equal(tun_srvcfg_finish(&c), 0);
    tun_srvcfg_for(&c, "alice", "10.0.0.1", &o);
    assert_string_equal(o.pubkey_accepted_algorithms, SSH_DEFAULT_PUBKEY_ALGS ",ssh-rsa");
    tun_srvopts_release(&o);
    tun_srvcfg_for(&c, "bob", "10.0.0.1", &o);
    assert_string_equal(o.pubkey_accepted_algorithms, "rsa-sha2-512,rsa-sha2-256");
    tun_srvopts_release(&o);
    tun_srvcfg_free(&c);
    assert_int_equal(apply1(&c, "PubkeyAcceptedKeyTypes -*-cert-v01@openssh.com"), 0);
    assert_string_equal(c.global.pubkey_accepted_algorithms,
                        "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,"
                        "rsa-sha2-512,rsa-sha2-256");
    tun_srvcfg_free(&c);
    assert_int_equal(apply1(&c, "PubkeyAcceptedAlgorithms ^ssh-ed25519"), 0);
    assert_int_equal(strncmp(c.global.pubkey_accepted_algorithms, "ssh-ed25519,", 12), 0);
    tun_srvcfg_free(&c);
    good("PubkeyAcceptedAlgorithms +sk-ssh-ed25519@openssh.com");
    bad("PubkeyAcceptedAlgorithms ssh-dss");
    bad("PubkeyAcceptedAlgorithms +foo");
    bad("PubkeyAcceptedAlgorithms");
}

/* Include recorded while reading the files, then served from the
 * recording (the network process's reload): the same settings with the
 * files gone; the recording survives a trip through a bundle; a pattern
 * it lacks is an error, not an empty match. */
static void test_include_recorded_and_replayed(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_srvinc.XXXXXX", path[128], text[512];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/a.conf", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("MaxSessions 3\nMatch User bob\n  PermitTTY no\n", f);
    assert_int_equal(fclose(f), 0);
    snprintf(text, sizeof(text), "Include %s/*.conf\nMaxAuthTries 4\n", dir);
    tun_srvcfg_incs *rec = tun_srvcfg_incs_new();
    assert_non_null(rec);
    tun_srvcfg c;
    tun_srvcfg_init(&c);
    tun_srvcfg_incs_use(&c, rec, 0);
    cap_start();
    assert_int_equal(tun_srvcfg_read_mem(&c, text, strlen(text), "test.conf"), 0);
    cap_end();
    assert_int_equal(c.global.max_sessions, 3);
    tun_srvcfg_free(&c);
    /* through a bundle, and the files gone */
    ssh_buf b;
    ssh_buf_init(&b, 0, 0);
    assert_int_equal(tun_srvcfg_incs_put(rec, &b), 0);
    tun_srvcfg_incs_free(rec);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(rmdir(dir), 0);
    ssh_cur cur;
    ssh_cur_init(&cur, ssh_buf_ptr(&b), ssh_buf_len(&b));
    tun_srvcfg_incs *rep = tun_srvcfg_incs_get(&cur);
    assert_non_null(rep);
    assert_int_equal(cur.len, 0);
    tun_srvcfg_init(&c);
    tun_srvcfg_incs_use(&c, rep, 1);
    cap_start();
    assert_int_equal(tun_srvcfg_read_mem(&c, text, strlen(text), "test.conf"), 0);
    cap_end();
    assert_int_equal(tun_srvcfg_finish(&c), 0);
    assert_int_equal(c.global.max_sessions, 3);
    assert_int_equal(c.global.max_auth_tries, 4);
    tun_srvopts o;
    tun_srvcfg_for(&c, "bob", "10.0.0.1", &o);
    assert_int_equal(o.permit_tty, 0);
    tun_srvopts_release(&o);
    tun_srvcfg_free(&c);
    /* a pattern the recording does not have */
    tun_srvcfg_init(&c);
    tun_srvcfg_incs_use(&c, rep, 1);
    cap_start();
    assert_int_equal(tun_srvcfg_read_mem(&c, "Include /etc/other/*.conf\n", 26, "test.conf"), -1);
    cap_end();
    assert_contains(capbuf, "Include: /etc/other/*.conf is not among what the privileged side read");
    tun_srvcfg_free(&c);
    tun_srvcfg_incs_free(rep);
    ssh_buf_free(&b);
}

static void test_authorized_keys_file(void **state)
{
    (void)state;
    tun_srvcfg c;
    load_ok(&c, "AuthorizedKeysFile .ssh/authorized_keys \"/etc/keys dir/%u\" %h/k%%\n"
                "AuthorizedKeysFile /ignored\n");
    assert_int_equal(c.global.n_authorized_keys_file, 3);
    assert_string_equal(c.global.authorized_keys_file[0], ".ssh/authorized_keys");
    assert_string_equal(c.global.authorized_keys_file[1], "/etc/keys dir/%u");
    assert_string_equal(c.global.authorized_keys_file[2], "%h/k%%");
    tun_srvcfg_free(&c);
    assert_int_equal(apply1(&c, "AuthorizedKeysFile none"), 0);
    assert_int_equal(c.global.n_authorized_keys_file, 1);
    assert_string_equal(c.global.authorized_keys_file[0], "none");
    tun_srvcfg_free(&c);
    bad("AuthorizedKeysFile");
    bad("AuthorizedKeysFile %x/keys");
    bad("AuthorizedKeysFile keys%");
    bad("AuthorizedKeysFile none .ssh/authorized_keys");
    bad("AuthorizedKeysFile \"unterminated");
}

static void test_booleans(void **state)
{
    (void)state;
    static const char *const kws[] = {"PasswordAuthentication", "PubkeyAuthentication",
                                      "PermitTTY"};
    for (size_t i = 0; i < 3; i++) {
        char line[96];
        tun_srvcfg c;
        snprintf(line, sizeof(line), "%s no", kws[i]);
        assert_int_equal(apply1(&c, line), 0);
        int v = i == 0   ? c.global.password_authentication
                : i == 1 ? c.global.pubkey_authentication
                         : c.global.permit_tty;
        assert_int_equal(v, 0);
        tun_srvcfg_free(&c);
        snprintf(line, sizeof(line), "%s YES", kws[i]);
        assert_int_equal(apply1(&c, line), 0);
        v = i == 0   ? c.global.password_authentication
            : i == 1 ? c.global.pubkey_authentication
                     : c.global.permit_tty;
        assert_int_equal(v, 1);
        tun_srvcfg_free(&c);
        snprintf(line, sizeof(line), "%s maybe", kws[i]);
        bad(line);
        snprintf(line, sizeof(line), "%s 1", kws[i]);
        bad(line);
        snprintf(line, sizeof(line), "%s", kws[i]);
        bad(line);
        snprintf(line, sizeof(line), "%s yes no", kws[i]);
        bad(line);
    }
}

static void test_permit_root_login(void **state)
{
    (void)state;
    static const struct {
        const char *v;
        int want;
    } ok[] = {{"yes", PRL_YES},
              {"no", PRL_NO},
              {"prohibit-password", PRL_PROHIBIT_PASSWORD},
              {"without-password", PRL_PROHIBIT_PASSWORD},
              {"forced-commands-only", PRL_FORCED_ONLY}};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        char line[64];
        tun_srvcfg c;
        snprintf(line, sizeof(line), "PermitRootLogin %s", ok[i].v);
        assert_int_equal(apply1(&c, line), 0);
        assert_int_equal(c.global.permit_root_login, ok[i].want);
        tun_srvcfg_free(&c);
    }
    bad("PermitRootLogin sometimes");
    bad("PermitRootLogin");
}

static void test_allow_deny_users(void **state)
{
    (void)state;
    tun_srvcfg c;
    load_ok(&c, "AllowUsers alice bob\n"
                "AllowUsers carol@10.0.0.0/8 *@192.168.1.? alice\n"
                "DenyUsers root\n"
                "DenyUsers guest*\n");
    /* several lines accumulate (duplicates dropped) */
    assert_int_equal(c.global.n_allow_users, 4);
    assert_string_equal(c.global.allow_users[0], "alice");
    assert_string_equal(c.global.allow_users[1], "bob");
    assert_string_equal(c.global.allow_users[2], "carol@10.0.0.0/8");
    assert_string_equal(c.global.allow_users[3], "*@192.168.1.?");
    assert_int_equal(c.global.n_deny_users, 2);
    assert_string_equal(c.global.deny_users[1], "guest*");
    tun_srvcfg_free(&c);
    bad("AllowUsers");
    bad("AllowUsers @host");
    bad("AllowUsers user@");
    bad("AllowUsers user@10.0.0.0/99");
    bad("DenyUsers user@1.2.3.4/x");
    bad("DenyUsers");

    /* AllowGroups/DenyGroups: group name patterns, accumulating; in Match
     * blocks too. */
    load_ok(&c, "AllowGroups admins ops*\nAllowGroups admins dev\nDenyGroups guests\n"
                "Match User x\n  DenyGroups contractors\n");
    assert_int_equal(c.global.n_allow_groups, 3);
    assert_string_equal(c.global.allow_groups[1], "ops*");
    assert_string_equal(c.global.allow_groups[2], "dev");
    assert_int_equal(c.global.n_deny_groups, 1);
    tun_srvopts o;
    tun_srvcfg_for(&c, "x", "10.0.0.1", &o);
    /* as DenyUsers: the Match block's list is the one obtained first */
    assert_int_equal(o.n_deny_groups, 1);
    assert_string_equal(o.deny_groups[0], "contractors");
    tun_srvopts_release(&o);
    tun_srvcfg_free(&c);
    bad("AllowGroups");
    bad("DenyGroups");

    /* More than TUN_SRV_MAX_LIST names is an error, never a silent drop. */
    char text[8192] = "DenyUsers";
    for (int i = 0; i <= TUN_SRV_MAX_LIST; i++) {
        char w[16];
        snprintf(w, sizeof(w), " u%d", i);
        strcat(text, w);
    }
    strcat(text, "\n");
    assert_int_equal(load(&c, text), -1);
    assert_contains(capbuf, "too many DenyUsers entries");
    tun_srvcfg_free(&c);
}

static void test_integers(void **state)
{
    (void)state;
    static const char *const kws[] = {"MaxSessions", "MaxAuthTries", "ClientAliveCountMax"};
    for (size_t i = 0; i < 3; i++) {
        char line[96];
        tun_srvcfg c;
        snprintf(line, sizeof(line), "%s 0", kws[i]);
        assert_int_equal(apply1(&c, line), 0);
        snprintf(line, sizeof(line), "%s 17", kws[i]);
        tun_srvcfg_free(&c);
        assert_int_equal(apply1(&c, line), 0);
        int v = i == 0   ? c.global.max_sessions
                : i == 1 ? c.global.max_auth_tries
                         : c.global.client_alive_count_max;
        assert_int_equal(v, 17);
        tun_srvcfg_free(&c);
        static const char *const nok[] = {"-1", "x", "1.5", "10k", "", "3000000000", "1 2"};
        for (size_t j = 0; j < sizeof(nok) / sizeof(nok[0]); j++) {
            snprintf(line, sizeof(line), "%s %s", kws[i], nok[j]);
            bad(line);
        }
    }
}

static void test_forwarding(void **state)
{
    (void)state;
    static const struct {
        const char *v;
        int want;
    } ok[] = {{"yes", FWA_ALL},     {"all", FWA_ALL},       {"no", FWA_NO},
              {"local", FWA_LOCAL}, {"remote", FWA_REMOTE}, {"Local", FWA_LOCAL}};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        char line[96];
        tun_srvcfg c;
        snprintf(line, sizeof(line), "AllowTcpForwarding %s", ok[i].v);
        assert_int_equal(apply1(&c, line), 0);
        assert_int_equal(c.global.allow_tcp_forwarding, ok[i].want);
        tun_srvcfg_free(&c);
        snprintf(line, sizeof(line), "AllowStreamLocalForwarding %s", ok[i].v);
        assert_int_equal(apply1(&c, line), 0);
        assert_int_equal(c.global.allow_streamlocal_forwarding, ok[i].want);
        tun_srvcfg_free(&c);
    }
    bad("AllowTcpForwarding both");
    bad("AllowTcpForwarding");
    bad("AllowStreamLocalForwarding maybe");

    static const struct {
        const char *v;
        int want;
    } gw[] = {{"no", GWP_NO}, {"yes", GWP_YES}, {"clientspecified", GWP_CLIENTSPECIFIED}};
    for (size_t i = 0; i < 3; i++) {
        char line[64];
        tun_srvcfg c;
        snprintf(line, sizeof(line), "GatewayPorts %s", gw[i].v);
        assert_int_equal(apply1(&c, line), 0);
        assert_int_equal(c.global.gateway_ports, gw[i].want);
        tun_srvcfg_free(&c);
    }
    bad("GatewayPorts sometimes");
    bad("GatewayPorts");
}

static void test_permit_open_listen(void **state)
{
    (void)state;
    tun_srvcfg c;
    load_ok(&c, "PermitOpen localhost:80 [::1]:22 *:443 example.com:* 10.0.0.1:8080\n"
                "PermitOpen any\n"
                "PermitListen 8080 localhost:9090 [::1]:7070 *:* 0.0.0.0:*\n");
    /* first line wins */
    assert_int_equal(c.global.n_permit_open, 5);
    assert_string_equal(c.global.permit_open[1], "[::1]:22");
    assert_string_equal(c.global.permit_open[3], "example.com:*");
    assert_int_equal(c.global.n_permit_listen, 5);
    assert_string_equal(c.global.permit_listen[0], "8080");
    tun_srvcfg_free(&c);
    good("PermitOpen any");
    good("PermitOpen none");
    good("PermitOpen ANY");
    good("PermitListen any");
    good("PermitListen none");
    bad("PermitOpen");
    bad("PermitOpen localhost");
    bad("PermitOpen 8080");
    bad("PermitOpen localhost:0");
    bad("PermitOpen localhost:65536");
    bad("PermitOpen localhost:");
    bad("PermitOpen :80");
    bad("PermitOpen ::1:22");
    bad("PermitOpen [::1]");
    bad("PermitOpen [nothex]:22");
    bad("PermitOpen any localhost:80");
    bad("PermitOpen none any");
    bad("PermitListen");
    bad("PermitListen 0");
    bad("PermitListen 70000");
    bad("PermitListen localhost:");
    bad("PermitListen localhost");
    bad("PermitListen any 8080");
}

static void test_channel_timeout(void **state)
{
    (void)state;
    tun_srvcfg c;
    load_ok(&c, "ChannelTimeout session=5m direct-tcpip=1h global=30s\n"
                "ChannelTimeout session=1s\n");
    assert_int_equal(c.global.n_channel_timeout, 3);
    assert_string_equal(c.global.channel_timeout[0], "session=5m");
    assert_string_equal(c.global.channel_timeout[1], "direct-tcpip=1h");
    assert_string_equal(c.global.channel_timeout[2], "global=30s");
    tun_srvcfg_free(&c);
    good("ChannelTimeout none");
    good("ChannelTimeout direct-streamlocal@openssh.com=10m session:*=0 *=1d");
    bad("ChannelTimeout");
    bad("ChannelTimeout session");
    bad("ChannelTimeout session=");
    bad("ChannelTimeout session=5x");
    bad("ChannelTimeout =5m");
    bad("ChannelTimeout ses/sion=5m");
    bad("ChannelTimeout none session=1m");
}

static void test_accept_env_force_command_banner(void **state)
{
    (void)state;
    tun_srvcfg c;
    load_ok(&c, "AcceptEnv LANG LC_*\nAcceptEnv TZ LANG\n"
                "ForceCommand /usr/bin/tool --flag \"a b\"  \n"
                "ForceCommand /ignored\n"
                "Banner /etc/issue.net\nBanner /ignored\n");
    assert_int_equal(c.global.n_accept_env, 3);
    assert_string_equal(c.global.accept_env[0], "LANG");
    assert_string_equal(c.global.accept_env[1], "LC_*");
    assert_string_equal(c.global.accept_env[2], "TZ");
    assert_string_equal(c.global.force_command, "/usr/bin/tool --flag \"a b\"");
    assert_string_equal(c.global.banner, "/etc/issue.net");
    tun_srvcfg_free(&c);
    assert_int_equal(apply1(&c, "ForceCommand \"internal-sftp\""), 0);
    assert_string_equal(c.global.force_command, "internal-sftp");
    tun_srvcfg_free(&c);
    good("ForceCommand none");
    good("Banner none");
    bad("AcceptEnv");
    bad("AcceptEnv A=B");
    bad("ForceCommand");
    bad("Banner");
    bad("Banner a b");
}

/* SetEnv as sshd_config(5): NAME=value words (quotes keep blanks), the
 * first line wins, a name given twice keeps its first value, allowed in
 * Match where the first matching block wins over the global line. */
static void test_set_env(void **state)
{
    (void)state;
    tun_srvcfg c;
    load_ok(&c, "SetEnv A=1 \"B=two words\" A=ignored EMPTY=\n"
                "SetEnv C=later\n"
                "Match User alice\n"
                "  SetEnv A=alice\n"
                "Match all\n"
                "  SetEnv D=all\n");
    assert_int_equal(c.global.n_set_env, 3);
    assert_string_equal(c.global.set_env[0], "A=1");
    assert_string_equal(c.global.set_env[1], "B=two words");
    assert_string_equal(c.global.set_env[2], "EMPTY=");
    assert_int_equal(tun_srvcfg_finish(&c), 0);
    tun_srvopts o;
    tun_srvcfg_for(&c, "alice", "1.2.3.4", &o);
    assert_int_equal(o.n_set_env, 1);
    assert_string_equal(o.set_env[0], "A=alice");
    tun_srvopts_release(&o);
    tun_srvcfg_for(&c, "bob", "1.2.3.4", &o);
    assert_int_equal(o.n_set_env, 1);
    assert_string_equal(o.set_env[0], "D=all");
    tun_srvopts_release(&o);
    char *d = dump(&c);
    assert_contains(d, "setenv A=1 B=two words EMPTY=\n");
    free(d);
    tun_srvcfg_free(&c);
    bad("SetEnv");
    bad("SetEnv NOVALUE");
    bad("SetEnv =x");
    bad("SetEnv 1A=x");
    bad("SetEnv A-B=x");
    bad("SetEnv A=1 B");
    tun_srvcfg c2;
    assert_int_equal(apply1(&c2, "SetEnv LD_PRELOAD=/x.so"), -1);
    assert_contains(capbuf, "SetEnv LD_PRELOAD: variables of the dynamic linker are not supported");
    tun_srvcfg_free(&c2);
}

/* ---- syntax, sources, errors ----------------------------------------------------- */

static void test_syntax(void **state)
{
    (void)state;
    tun_srvcfg c;
    load_ok(&c, "# comment\n"
                "\n"
                "   \t\n"
                "  Port 2200   # trailing comment\r\n"
                "\tport=2201\n"
                "PORT = 2202\n"
                "MaxSessions\t3\n"
                "AcceptEnv \"A B\" 'C' D\\ E\n");
    assert_int_equal(c.n_ports, 3);
    assert_int_equal(c.ports[0], 2200);
    assert_int_equal(c.ports[1], 2201);
    assert_int_equal(c.ports[2], 2202);
    assert_int_equal(c.global.max_sessions, 3);
    assert_int_equal(c.global.n_accept_env, 3);
    assert_string_equal(c.global.accept_env[0], "A B");
    assert_string_equal(c.global.accept_env[1], "C");
    assert_string_equal(c.global.accept_env[2], "D E");
    tun_srvcfg_free(&c);

    /* a NUL ends the text, as in a file */
    const char nul[] = "Port 2300\n\0Port 2301\n";
    tun_srvcfg_init(&c);
    assert_int_equal(tun_srvcfg_read_mem(&c, nul, sizeof(nul) - 1, "nul"), 0);
    assert_int_equal(c.n_ports, 1);
    tun_srvcfg_free(&c);

    bad("=22");
    bad("AcceptEnv \"unterminated");
}

static void test_first_value_wins(void **state)
{
    (void)state;
    tun_srvcfg c;
    tun_srvcfg_init(&c);
    /* -o options come first and beat the file */
    cap_start();
    assert_int_equal(tun_srvcfg_apply(&c, "PasswordAuthentication=no", "command-line"), 0);
    assert_int_equal(tun_srvcfg_apply(&c, "LoginGraceTime 30", "command-line"), 0);
    assert_int_equal(tun_srvcfg_apply(&c, "Port 2222", "command-line"), 0);
    assert_int_equal(tun_srvcfg_apply(&c, "AllowUsers alice", "command-line"), 0);
    const char *file = "PasswordAuthentication yes\n"
                       "LoginGraceTime 60\n"
                       "LoginGraceTime 90\n"
                       "Port 22\n"
                       "AllowUsers bob\n"
                       "PermitRootLogin no\n"
                       "PermitRootLogin yes\n";
    assert_int_equal(tun_srvcfg_read_mem(&c, file, strlen(file), "sshd_config"), 0);
    cap_end();
    assert_int_equal(c.global.password_authentication, 0);
    assert_int_equal(c.login_grace_time, 30);
    assert_int_equal(c.global.permit_root_login, PRL_NO);
    /* repeatable keywords accumulate across sources, as in sshd */
    assert_int_equal(c.n_ports, 2);
    assert_int_equal(c.ports[0], 2222);
    assert_int_equal(c.ports[1], 22);
    assert_int_equal(c.global.n_allow_users, 2);
    tun_srvcfg_free(&c);

    /* Match and Include only in files */
    bad("Match User x");
    bad("Include /etc/ssh/sshd_config.d/*.conf");
}

static void test_errors(void **state)
{
    (void)state;
    tun_srvcfg c;
    assert_int_equal(load(&c, "Port 22\n"
                              "# fine\n"
                              "Bogus yes\n"
                              "MaxSessions many\n"
                              "PermitTTY yes\n"),
                     -1);
    assert_contains(capbuf, "test.conf: line 3: Bad configuration option: Bogus\n");
    assert_contains(capbuf, "test.conf: line 4: invalid MaxSessions value \"many\"\n");
    assert_contains(capbuf, "test.conf: terminating, 2 bad configuration options\n");
    /* the good lines were still read */
    assert_int_equal(c.global.permit_tty, 1);
    tun_srvcfg_free(&c);

    assert_int_equal(apply1(&c, "NoSuchThing 1"), -1);
    assert_string_equal(capbuf, "command-line: Bad configuration option: NoSuchThing\n");
    tun_srvcfg_free(&c);

    assert_int_equal(apply1(&c, "Port"), -1);
    assert_contains(capbuf, "command-line: Missing argument for Port.");
    tun_srvcfg_free(&c);

    /* unknown keywords are errors inside Match blocks too */
    assert_int_equal(load(&c, "Match User x\n  Bogus 1\n"), -1);
    assert_contains(capbuf, "test.conf: line 2: Bad configuration option: Bogus");
    tun_srvcfg_free(&c);

    /* a file that is not there */
    tun_srvcfg_init(&c);
    cap_start();
    assert_int_equal(tun_srvcfg_read(&c, "/nonexistent/sshd_config"), -1);
    cap_end();
    assert_contains(capbuf, "/nonexistent/sshd_config");
    tun_srvcfg_free(&c);
    tun_srvcfg_init(&c);
    cap_start();
    assert_int_equal(tun_srvcfg_read(&c, "/"), -1);
    cap_end();
    tun_srvcfg_free(&c);
}

/* ---- Match ---------------------------------------------------------------------------- */

static const char match_conf[] = "PasswordAuthentication no\n"
                                 "MaxSessions 5\n"
                                 "AllowTcpForwarding no\n"
                                 "AcceptEnv LANG\n"
                                 "Banner /etc/banner\n"
                                 "\n"
                                 "Match User alice,bob\n"
                                 "    PasswordAuthentication yes\n"
                                 "    AcceptEnv ALICE_*\n"
                                 "\n"
                                 "Match Address 10.0.0.0/8,!10.66.0.0/16\n"
                                 "    MaxSessions 50\n"
                                 "    PasswordAuthentication no\n"
                                 "    AcceptEnv TEN_*\n"
                                 "\n"
                                 "Match User bob Address 192.168.1.*\n"
                                 "    AllowTcpForwarding local\n"
                                 "    ForceCommand /bin/bob-only\n"
                                 "\n"
                                 "Match Address ::1/128,fd00::/8\n"
                                 "    PermitTTY no\n"
                                 "    Banner none\n"
                                 "\n"
                                 "Match User *,!root\n"
                                 "    MaxAuthTries 2\n"
                                 "\n"
                                 "Match all\n"
                                 "    ClientAliveInterval 15\n"
                                 "    MaxSessions 99\n";

static void test_match(void **state)
{
    (void)state;
    tun_srvcfg c, c2;
    load_ok(&c, match_conf);
    assert_int_equal(tun_srvcfg_finish(&c), 0);
    tun_srvopts o;

    /* no block but "all" and "*,!root" */
    tun_srvcfg_for(&c, "carol", "203.0.113.5", &o);
    assert_int_equal(o.password_authentication, 0);
    assert_int_equal(o.max_sessions, 99); /* Match all */
    assert_int_equal(o.max_auth_tries, 2);
    assert_int_equal(o.client_alive_interval, 15);
    assert_int_equal(o.allow_tcp_forwarding, FWA_NO);
    assert_int_equal(o.n_accept_env, 1);
    assert_string_equal(o.accept_env[0], "LANG");
    assert_string_equal(o.banner, "/etc/banner");
    assert_null(o.force_command);
    /* globals fill the rest */
    assert_int_equal(o.permit_root_login, PRL_PROHIBIT_PASSWORD);
    assert_int_equal(o.n_authorized_keys_file, 2);
    assert_int_equal(o.permit_tty, 1);
    tun_srvopts_release(&o);

    /* root: "*,!root" does not match (negation) */
    tun_srvcfg_for(&c, "root", "203.0.113.5", &o);
    assert_int_equal(o.max_auth_tries, 6);
    tun_srvopts_release(&o);

    /* '?' is one character */
    load_ok(&c2, "Match User us?r\n  MaxSessions 1\n");
    tun_srvcfg_for(&c2, "user", "1.1.1.1", &o);
    assert_int_equal(o.max_sessions, 1);
    tun_srvopts_release(&o);
    tun_srvcfg_for(&c2, "usr", "1.1.1.1", &o);
    assert_int_equal(o.max_sessions, -1);
    tun_srvopts_release(&o);
    tun_srvcfg_free(&c2);

    /* user names are case-sensitive */
    tun_srvcfg_for(&c, "Alice", "203.0.113.5", &o);
    assert_int_equal(o.password_authentication, 0);
    tun_srvopts_release(&o);

    /* User alice; the first matching block's value wins over later blocks
     * (Address 10/8 says no) and lists of matching blocks accumulate */
    tun_srvcfg_for(&c, "alice", "10.1.2.3", &o);
    assert_int_equal(o.password_authentication, 1);
    assert_int_equal(o.max_sessions, 50);
    assert_int_equal(o.n_accept_env, 2);
    assert_string_equal(o.accept_env[0], "ALICE_*");
    assert_string_equal(o.accept_env[1], "TEN_*");
    tun_srvopts_release(&o);

    /* CIDR with a negated sub-block */
    tun_srvcfg_for(&c, "carol", "10.66.1.1", &o);
    assert_int_equal(o.max_sessions, 99);
    tun_srvopts_release(&o);
    tun_srvcfg_for(&c, "carol", "10.255.255.255", &o);
    assert_int_equal(o.max_sessions, 50);
    tun_srvopts_release(&o);
    tun_srvcfg_for(&c, "carol", "11.0.0.1", &o);
    assert_int_equal(o.max_sessions, 99);
    tun_srvopts_release(&o);
    /* an IPv4-mapped IPv6 client counts as IPv4 */
    tun_srvcfg_for(&c, "carol", "::ffff:10.1.2.3", &o);
    assert_int_equal(o.max_sessions, 50);
    tun_srvopts_release(&o);

    /* User and Address both required */
    tun_srvcfg_for(&c, "bob", "192.168.1.7", &o);
    assert_int_equal(o.allow_tcp_forwarding, FWA_LOCAL);
    assert_string_equal(o.force_command, "/bin/bob-only");
    assert_int_equal(o.password_authentication, 1); /* from "User alice,bob" */
    tun_srvopts_release(&o);
    tun_srvcfg_for(&c, "bob", "192.168.2.7", &o);
    assert_int_equal(o.allow_tcp_forwarding, FWA_NO);
    assert_null(o.force_command);
    tun_srvopts_release(&o);
    tun_srvcfg_for(&c, "alice", "192.168.1.7", &o);
    assert_int_equal(o.allow_tcp_forwarding, FWA_NO);
    tun_srvopts_release(&o);

    /* IPv6 CIDR; "Banner none" folds to NULL */
    tun_srvcfg_for(&c, "carol", "::1", &o);
    assert_int_equal(o.permit_tty, 0);
    assert_null(o.banner);
    tun_srvopts_release(&o);
    tun_srvcfg_for(&c, "carol", "fd12:3456::1", &o);
    assert_int_equal(o.permit_tty, 0);
    tun_srvopts_release(&o);
    tun_srvcfg_for(&c, "carol", "fe80::1", &o);
    assert_int_equal(o.permit_tty, 1);
    tun_srvopts_release(&o);

    /* before the user is known, User blocks do not apply */
    tun_srvcfg_for(&c, NULL, "10.1.2.3", &o);
    assert_int_equal(o.password_authentication, 0);
    assert_int_equal(o.max_sessions, 50);
    assert_int_equal(o.max_auth_tries, 6);
    tun_srvopts_release(&o);
    tun_srvcfg_for(&c, NULL, NULL, &o);
    assert_int_equal(o.max_sessions, 99);
    tun_srvopts_release(&o);

    /* the globals themselves are untouched */
    assert_int_equal(c.global.max_sessions, 5);
    assert_int_equal(c.global.password_authentication, 0);
    tun_srvcfg_free(&c);
}

static void test_match_lists_and_none(void **state)
{
    (void)state;
    tun_srvcfg c;
    load_ok(&c, "AllowUsers admin\n"
                "DenyUsers evil\n"
                "ForceCommand /bin/restricted\n"
                "AuthorizedKeysFile .ssh/authorized_keys\n"
                "ChannelTimeout session=1h\n"
                "PermitOpen localhost:80\n"
                "Match User trusted\n"
                "  ForceCommand none\n"
                "  AuthorizedKeysFile none\n"
                "  ChannelTimeout none\n"
                "  PermitOpen any\n"
                "  PermitListen none\n"
                "Match Address 10.0.0.0/8\n"
                "  AllowUsers ops\n"
                "  AllowUsers dev\n");
    assert_int_equal(tun_srvcfg_finish(&c), 0);
    tun_srvopts o;
    tun_srvcfg_for(&c, "trusted", "1.2.3.4", &o);
    assert_null(o.force_command);
    assert_int_equal(o.n_authorized_keys_file, 0);
    assert_int_equal(o.n_channel_timeout, 0);
    assert_int_equal(o.n_permit_open, 1);
    assert_string_equal(o.permit_open[0], "any");
    assert_int_equal(o.n_permit_listen, 1);
    assert_string_equal(o.permit_listen[0], "none");
    assert_int_equal(o.n_allow_users, 1);
    assert_string_equal(o.allow_users[0], "admin");
    tun_srvopts_release(&o);
    /* a Match block's AllowUsers replaces the global list */
    tun_srvcfg_for(&c, "x", "10.9.9.9", &o);
    assert_int_equal(o.n_allow_users, 2);
    assert_string_equal(o.allow_users[0], "ops");
    assert_string_equal(o.allow_users[1], "dev");
    assert_int_equal(o.n_deny_users, 1);
    assert_string_equal(o.force_command, "/bin/restricted");
    assert_int_equal(o.n_channel_timeout, 1);
    assert_string_equal(o.permit_open[0], "localhost:80");
    tun_srvopts_release(&o);
    tun_srvcfg_free(&c);

    /* Too many DenyUsers over several matching blocks: deny everyone. */
    char text[16384] = "";
    for (int b = 0; b < 2; b++) {
        strcat(text, "Match all\n DenyUsers");
        for (int i = 0; i < TUN_SRV_MAX_LIST; i++) {
            char w[16];
            snprintf(w, sizeof(w), " b%du%d", b, i);
            strcat(text, w);
        }
        strcat(text, "\n");
    }
    load_ok(&c, text);
    cap_start();
    tun_srvcfg_for(&c, "someone", "1.2.3.4", &o);
    cap_end();
    assert_int_equal(o.n_deny_users, 1);
    assert_string_equal(o.deny_users[0], "*");
    tun_srvopts_release(&o);
    tun_srvcfg_free(&c);
}

static void test_match_errors(void **state)
{
    (void)state;
    tun_srvcfg c;
    static const char *const global_only[] = {
        "Port 22",           "ListenAddress 0.0.0.0", "HostKey /k",         "PidFile /p",
        "MaxStartups 1",     "LoginGraceTime 1",      "Ciphers aes128-ctr", "MACs hmac-sha2-256",
        "KexAlgorithms x",   "HostKeyAlgorithms x",   "RekeyLimit 1G",      "LogLevel INFO",
        "Subsystem a b",     "SshtundUser x",         "MaxChannels 1",      "UsePAM no",
        "AddressFamily any",
    };
    for (size_t i = 0; i < sizeof(global_only) / sizeof(global_only[0]); i++) {
        char text[256], want[128], kwname[32];
        snprintf(text, sizeof(text), "PermitTTY yes\nMatch User x\n  %s\n", global_only[i]);
        snprintf(kwname, sizeof(kwname), "%.*s", (int)strcspn(global_only[i], " "), global_only[i]);
        snprintf(want, sizeof(want),
                 "test.conf: line 3: Directive '%s' is not allowed within a Match block", kwname);
        assert_int_equal(load(&c, text), -1);
        assert_contains(capbuf, want);
        tun_srvcfg_free(&c);
    }
    /* global keyword after a Match block (Match lasts to the end) */
    assert_int_equal(load(&c, "Match all\nX11Forwarding no\nPort 22\n"), -1);
    assert_contains(capbuf, "line 3: Directive 'Port' is not allowed within a Match block");
    tun_srvcfg_free(&c);

    static const char *const bad_match[] = {
        "Match\n",
        "Match User\n",
        "Match Address\n",
        "Match Group wheel\n",
        "Match Host example.com\n",
        "Match Frobnicate x\n",
        "Match all User x\n",
        "Match User x all\n",
        "Match User a User b\n",
        "Match Address 10.0.0.0/33\n",
        "Match Address 10.0.0.0/x\n",
        "Match Address nonsense/8\n",
        "Match Address ::1/129\n",
        "Match Address 10.0.0.1,,10.0.0.2\n",
        "Match User \"unterminated\n",
    };
    for (size_t i = 0; i < sizeof(bad_match) / sizeof(bad_match[0]); i++) {
        if (load(&c, bad_match[i]) != -1)
            fail_msg("accepted: %s", bad_match[i]);
        assert_contains(capbuf, "test.conf: line 1: ");
        tun_srvcfg_free(&c);
    }
    assert_int_equal(load(&c, "Match Group wheel\n"), -1);
    assert_contains(capbuf, "not supported by sshtund");
    tun_srvcfg_free(&c);

    /* lines after an invalid Match line are still checked */
    assert_int_equal(load(&c, "Match Group wheel\n  Bogus x\n"), -1);
    assert_contains(capbuf, "terminating, 2 bad configuration options");
    tun_srvcfg_free(&c);

    /* Match keywords are case-insensitive, patterns may be quoted */
    load_ok(&c, "match user \"a,b\" ADDRESS 127.0.0.1\n  MaxSessions 1\n");
    tun_srvopts o;
    tun_srvcfg_for(&c, "b", "127.0.0.1", &o);
    assert_int_equal(o.max_sessions, 1);
    tun_srvopts_release(&o);
    tun_srvcfg_free(&c);

    /* every per-connection keyword is allowed in Match */
    load_ok(&c, "Match User u\n"
                " AuthorizedKeysFile /k/%u\n PasswordAuthentication no\n"
                " PubkeyAuthentication no\n PermitRootLogin no\n AllowUsers u\n DenyUsers v\n"
                " MaxSessions 1\n MaxAuthTries 1\n ClientAliveInterval 1\n"
                " ClientAliveCountMax 1\n AllowTcpForwarding no\n"
                " AllowStreamLocalForwarding no\n PermitOpen none\n PermitListen none\n"
                " GatewayPorts yes\n ChannelTimeout session=1m\n UnusedConnectionTimeout 1m\n"
                " AcceptEnv X\n ForceCommand /bin/true\n PermitTTY no\n Banner /b\n"
                " X11Forwarding no\n AllowAgentForwarding no\n KbdInteractiveAuthentication no\n"
                " AuthenticationMethods any\n");
    assert_int_equal(tun_srvcfg_finish(&c), 0);
    tun_srvcfg_for(&c, "u", "1.1.1.1", &o);
    assert_string_equal(o.authorized_keys_file[0], "/k/%u");
    assert_int_equal(o.password_authentication, 0);
    assert_int_equal(o.pubkey_authentication, 0);
    assert_int_equal(o.permit_root_login, PRL_NO);
    assert_int_equal(o.max_sessions, 1);
    assert_int_equal(o.max_auth_tries, 1);
    assert_int_equal(o.client_alive_interval, 1);
    assert_int_equal(o.client_alive_count_max, 1);
    assert_int_equal(o.allow_tcp_forwarding, FWA_NO);
    assert_int_equal(o.allow_streamlocal_forwarding, FWA_NO);
    assert_string_equal(o.permit_open[0], "none");
    assert_string_equal(o.permit_listen[0], "none");
    assert_int_equal(o.gateway_ports, GWP_YES);
    assert_string_equal(o.channel_timeout[0], "session=1m");
    assert_int_equal(o.unused_connection_timeout, 60);
    assert_string_equal(o.accept_env[0], "X");
    assert_string_equal(o.force_command, "/bin/true");
    assert_int_equal(o.permit_tty, 0);
    assert_string_equal(o.banner, "/b");
    tun_srvopts_release(&o);
    tun_srvcfg_free(&c);
}

/* ---- Include ------------------------------------------------------------------------ */

static void test_include(void **state)
{
    (void)state;
    char text[2048];
    tun_srvcfg c;

    write_file("10-a.conf", "Port 2201\nPasswordAuthentication no\n");
    write_file("20-b.conf", "Port 2202\nPasswordAuthentication yes\n"
                            "Match User inc\n  MaxSessions 7\n");
    write_file("other.txt", "Port 9999\n");
    /* glob, in order; a Match in an included file ends with that file */
    snprintf(text, sizeof(text), "Include %s/*.conf\nPort 2203\nMaxAuthTries 4\n", tmpdir);
    load_ok(&c, text);
    assert_int_equal(c.n_ports, 3);
    assert_int_equal(c.ports[0], 2201);
    assert_int_equal(c.ports[1], 2202);
    assert_int_equal(c.ports[2], 2203);
    assert_int_equal(c.global.password_authentication, 0);
    assert_int_equal(c.global.max_auth_tries, 4);
    assert_non_null(c.matches);
    assert_int_equal(tun_srvcfg_finish(&c), 0);
    tun_srvopts o;
    tun_srvcfg_for(&c, "inc", "1.2.3.4", &o);
    assert_int_equal(o.max_sessions, 7);
    tun_srvopts_release(&o);
    tun_srvcfg_free(&c);

    /* Include inside a Match block: its lines belong to the block */
    write_file("in-match.inc", "MaxSessions 3\nPermitTTY no\n");
    snprintf(text, sizeof(text), "Match User m\n  Include %s/in-match.inc\n  MaxAuthTries 1\n",
             tmpdir);
    load_ok(&c, text);
    assert_int_equal(tun_srvcfg_finish(&c), 0);
    tun_srvcfg_for(&c, "m", "1.2.3.4", &o);
    assert_int_equal(o.max_sessions, 3);
    assert_int_equal(o.permit_tty, 0);
    assert_int_equal(o.max_auth_tries, 1);
    tun_srvopts_release(&o);
    tun_srvcfg_for(&c, "n", "1.2.3.4", &o);
    assert_int_equal(o.max_sessions, 10);
    tun_srvopts_release(&o);
    tun_srvcfg_free(&c);
    /* ... and so global keywords in it are refused, naming the included file */
    write_file("global.inc", "Port 1\n");
    snprintf(text, sizeof(text), "Match User m\n  Include %s/global.inc\n", tmpdir);
    assert_int_equal(load(&c, text), -1);
    char want[1200];
    snprintf(want, sizeof(want),
             "%s/global.inc: line 1: Directive 'Port' is not allowed within a Match block", tmpdir);
    assert_contains(capbuf, want);
    tun_srvcfg_free(&c);

    /* errors in included files name that file and count in the total */
    write_file("broken.inc", "Port 1\nBogus 2\n");
    snprintf(text, sizeof(text), "Include %s/broken.inc\nAlsoBogus 1\n", tmpdir);
    assert_int_equal(load(&c, text), -1);
    snprintf(want, sizeof(want), "%s/broken.inc: line 2: Bad configuration option: Bogus", tmpdir);
    assert_contains(capbuf, want);
    assert_contains(capbuf, "test.conf: line 2: Bad configuration option: AlsoBogus");
    assert_contains(capbuf, "test.conf: terminating, 2 bad configuration options");
    tun_srvcfg_free(&c);

    /* a file including itself: stopped by the depth limit */
    char self[512];
    snprintf(self, sizeof(self), "Port 1\nInclude %s/self.conf\n", tmpdir);
    write_file("self.conf", self);
    snprintf(text, sizeof(text), "Include %s/self.conf\n", tmpdir);
    assert_int_equal(load(&c, text), -1);
    assert_contains(capbuf, "Include nested too deeply");
    tun_srvcfg_free(&c);

    /* depth 16 is fine */
    for (int i = 1; i <= 16; i++) {
        char name[32], body[512];
        snprintf(name, sizeof(name), "d%d.conf", i);
        if (i < 16)
            snprintf(body, sizeof(body), "Include %s/d%d.conf\n", tmpdir, i + 1);
        else
            snprintf(body, sizeof(body), "Port 4242\n");
        write_file(name, body);
    }
    snprintf(text, sizeof(text), "Include %s/d1.conf\n", tmpdir);
    load_ok(&c, text);
    assert_int_equal(c.n_ports, 1);
    assert_int_equal(c.ports[0], 4242);
    tun_srvcfg_free(&c);
    /* ... 17 is not */
    snprintf(text, sizeof(text), "Include %s/d1.conf\n", tmpdir);
    write_file("d0.conf", text);
    snprintf(text, sizeof(text), "Include %s/d0.conf\n", tmpdir);
    assert_int_equal(load(&c, text), -1);
    assert_contains(capbuf, "d15.conf: line 1: Include nested too deeply");
    tun_srvcfg_free(&c);

    /* nothing matching is fine; relative names are under /etc/ssh */
    snprintf(text, sizeof(text), "Include %s/none-*.conf no-such-dir-xyz/*.conf\n", tmpdir);
    load_ok(&c, text);
    tun_srvcfg_free(&c);
    /* a directory is not a configuration file */
    snprintf(text, sizeof(text), "Include %s\n", tmpdir);
    assert_int_equal(load(&c, text), -1);
    assert_contains(capbuf, "not a regular file");
    tun_srvcfg_free(&c);
    assert_int_equal(load(&c, "Include\n"), -1);
    tun_srvcfg_free(&c);

    /* tun_srvcfg_read from a real file */
    char path[512];
    snprintf(path, sizeof(path), "%s/main.conf", tmpdir);
    write_file("main.conf", "Port 2022\nBogus\n");
    tun_srvcfg_init(&c);
    cap_start();
    assert_int_equal(tun_srvcfg_read(&c, path), -1);
    cap_end();
    snprintf(want, sizeof(want), "%s: line 2: Bad configuration option: Bogus", path);
    assert_contains(capbuf, want);
    snprintf(want, sizeof(want), "%s: terminating, 1 bad configuration options", path);
    assert_contains(capbuf, want);
    tun_srvcfg_free(&c);
}

/* ---- Debian's stock file ------------------------------------------------------------------ */

static const char debian_stock[] =
    "# This is the sshd server system-wide configuration file.  See\n"
    "# sshd_config(5) for more information.\n"
    "\n"
    "Include /etc/ssh/sshd_config.d/*.conf\n"
    "\n"
    "#Port 22\n"
    "#AddressFamily any\n"
    "#ListenAddress 0.0.0.0\n"
    "#HostKey /etc/ssh/ssh_host_ed25519_key\n"
    "#RekeyLimit default none\n"
    "#SyslogFacility AUTH\n"
    "#LogLevel INFO\n"
    "#LoginGraceTime 2m\n"
    "#PermitRootLogin prohibit-password\n"
    "#AuthorizedKeysFile\t.ssh/authorized_keys .ssh/authorized_keys2\n"
    "KbdInteractiveAuthentication no\n"
    "UsePAM yes\n"
    "X11Forwarding yes\n"
    "PrintMotd no\n"
    "AcceptEnv LANG LC_*\n"
    "Subsystem\tsftp\t/usr/lib/openssh/sftp-server\n"
    "#Match User anoncvs\n"
    "#\tX11Forwarding no\n"
    "#\tForceCommand cvs server\n";

/* Every commented-out default line of the stock file, uncommented. */
static const char debian_uncommented[] =
    "Port 22\nAddressFamily any\nListenAddress 0.0.0.0\nListenAddress ::\n"
    "HostKey /etc/ssh/ssh_host_rsa_key\nHostKey /etc/ssh/ssh_host_ecdsa_key\n"
    "HostKey /etc/ssh/ssh_host_ed25519_key\nRekeyLimit default none\nSyslogFacility AUTH\n"
    "LogLevel INFO\nLoginGraceTime 2m\nPermitRootLogin prohibit-password\nStrictModes yes\n"
    "MaxAuthTries 6\nMaxSessions 10\nPubkeyAuthentication yes\n"
    "AuthorizedKeysFile\t.ssh/authorized_keys .ssh/authorized_keys2\n"
    "AuthorizedPrincipalsFile none\nAuthorizedKeysCommand none\n"
    "AuthorizedKeysCommandUser nobody\nHostbasedAuthentication no\nIgnoreUserKnownHosts no\n"
    "IgnoreRhosts yes\nPasswordAuthentication yes\nPermitEmptyPasswords no\n"
    "KbdInteractiveAuthentication no\nKerberosAuthentication no\nKerberosOrLocalPasswd yes\n"
    "KerberosTicketCleanup yes\nKerberosGetAFSToken no\nGSSAPIAuthentication no\n"
    "GSSAPICleanupCredentials yes\nGSSAPIStrictAcceptorCheck yes\nGSSAPIKeyExchange no\n"
    "UsePAM no\nAllowAgentForwarding yes\nAllowTcpForwarding yes\nGatewayPorts no\n"
    "X11Forwarding yes\nX11DisplayOffset 10\nX11UseLocalhost yes\nPermitTTY yes\n"
    "PrintMotd no\nPrintLastLog yes\nTCPKeepAlive yes\nPermitUserEnvironment no\n"
    "Compression delayed\nClientAliveInterval 0\nClientAliveCountMax 3\nUseDNS no\n"
    "PidFile /run/sshd.pid\nMaxStartups 10:30:100\nPermitTunnel no\nChrootDirectory none\n"
    "VersionAddendum none\nBanner none\nAcceptEnv LANG LC_*\n"
    "Subsystem\tsftp\t/usr/lib/openssh/sftp-server\n"
    "Match User anoncvs\n\tX11Forwarding no\n\tAllowTcpForwarding no\n\tPermitTTY no\n"
    "\tForceCommand cvs server\n";

static void test_debian_stock(void **state)
{
    (void)state;
    tun_srvcfg c;
    load_ok(&c, debian_stock);
    assert_int_equal(tun_srvcfg_finish(&c), 0);
    assert_int_equal(c.n_subsystems, 1);
    assert_string_equal(c.subsystem_command[0], "/usr/lib/openssh/sftp-server");
    assert_int_equal(c.global.n_accept_env, 2);
    tun_srvcfg_free(&c);

    load_ok(&c, debian_uncommented);
    assert_int_equal(tun_srvcfg_finish(&c), 0);
    tun_srvopts o;
    tun_srvcfg_for(&c, "anoncvs", "1.2.3.4", &o);
    assert_string_equal(o.force_command, "cvs server");
    assert_int_equal(o.allow_tcp_forwarding, FWA_NO);
    assert_int_equal(o.permit_tty, 0);
    tun_srvopts_release(&o);
    tun_srvcfg_free(&c);

    /* the machine's own file, if there is one (its Include is followed) */
    if (access("/etc/ssh/sshd_config", R_OK) == 0) {
        tun_srvcfg_init(&c);
        cap_start();
        int rv = tun_srvcfg_read(&c, "/etc/ssh/sshd_config");
        cap_end();
        if (rv != 0)
            print_message("note: /etc/ssh/sshd_config not accepted:\n%s", capbuf);
        tun_srvcfg_free(&c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_dump),
        cmocka_unit_test(test_proxy_protocol),
        cmocka_unit_test(test_port),
        cmocka_unit_test(test_listen_address),
        cmocka_unit_test(test_hostkey_pidfile_user_channels),
        cmocka_unit_test(test_max_startups),
        cmocka_unit_test(test_times),
        cmocka_unit_test(test_algorithms),
        cmocka_unit_test(test_rekey_limit),
        cmocka_unit_test(test_log_level),
        cmocka_unit_test(test_subsystem),
        cmocka_unit_test(test_address_family_usepam_ignored),
        cmocka_unit_test(test_unsupported),
        cmocka_unit_test(test_cert_keywords),
        cmocka_unit_test(test_pubkey_accepted_algorithms),
        cmocka_unit_test(test_include_recorded_and_replayed),
        cmocka_unit_test(test_authorized_keys_file),
        cmocka_unit_test(test_booleans),
        cmocka_unit_test(test_permit_root_login),
        cmocka_unit_test(test_allow_deny_users),
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_forwarding),
        cmocka_unit_test(test_permit_open_listen),
        cmocka_unit_test(test_channel_timeout),
        cmocka_unit_test(test_accept_env_force_command_banner),
        cmocka_unit_test(test_set_env),
        cmocka_unit_test(test_syntax),
        cmocka_unit_test(test_first_value_wins),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_match),
        cmocka_unit_test(test_match_lists_and_none),
        cmocka_unit_test(test_match_errors),
        cmocka_unit_test_setup_teardown(test_include, make_tmpdir, remove_tmpdir),
        cmocka_unit_test(test_debian_stock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
