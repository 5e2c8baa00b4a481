/*
 * sshtun_main.c - command line of the sshtun client.
 *
 *   sshtun [options] destination [command [argument ...]]
 *
 * The command line is read as OpenSSH's ssh reads it: options in POSIX
 * order up to the destination, options again right after it, and the first
 * word after that (or everything after "--") starts the command, whose
 * words are never taken for options ("sshtun host ls -ld /" runs `ls -ld
 * /`; rsync, scp, git and ssh-copy-id depend on this).  Every flag ssh 9.2
 * accepts is accepted; the ones that ask for something sshtun does not do
 * are refused or reported as their configuration keywords are.
 *
 * Options are applied in the order given and configuration files after
 * them, first value winning (OpenSSH's rule): "-l a b@host" logs in as a,
 * "b@host -l a" as b.
 */
#include "tun_client.h"
#include "tun_canon.h"
#include "tun_config.h"
#include "tun_fwdspec.h"
#include "tun_mux.h"
#include "tun_log.h"
#include "tun_jumpspec.h"
#include "tun_options.h"
#include "tun_trim.h"
#include "tun_util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "sshtun/conn.h"

/* OpenSSH 9.2's option letters; '+': stop at the first non-option (POSIX),
 * ':' first: a missing argument is reported as such. */
#define OPTSTRING "+:1246ab:c:e:fgi:kl:m:no:p:qstvxAB:CD:E:F:GI:J:KL:MNO:PQ:R:S:TVw:W:XYy"

static void usage(void)
{
    fprintf(stderr,
            "usage: sshtun [-46AaCfGgKkMNnqsTtVvXxYy] [-B bind_interface] [-b bind_address]\n"
            "              [-c cipher_spec] [-D [bind_address:]port] [-E log_file]\n"
            "              [-e escape_char] [-F configfile] [-I pkcs11] [-i identity_file]\n"
            "              [-J destination] [-L address] [-l login_name] [-m mac_spec]\n"
            "              [-O ctl_cmd] [-o option] [-p port] [-Q query_option] [-R address]\n"
            "              [-S ctl_path] [-W host:port] [-w local_tun[:remote_tun]]\n"
            "              destination [command [argument ...]]\n");
}

/* Descriptors 0-2 that are closed are opened on /dev/null (as OpenSSH's
 * sanitise_stdfd): otherwise the first socket would become "stdin" and
 * the session would read the connection itself. */
static void sanitise_stdfd(void)
{
    int fd = open("/dev/null", O_RDWR);
    if (fd < 0)
        return;
    while (fd >= 0 && fd <= 2)
        fd = dup(fd);
    if (fd > 2)
        close(fd);
}

/* [user@]host[:port] (sshtun also takes host:port, and [v6]:port), or an
 * ssh:// URI.  0, or -1 for one that cannot be used. */
static int parse_destination(const char *dest, char **user, char **host, int *port)
{
    if (strncmp(dest, "ssh://", 6) == 0) {
        /* Read as a ProxyJump element is (tun_jumpspec). */
        int p;
        if (tun_jumpspec_parse_one(dest, user, host, &p) != 0)
            return -1;
        if (p > 0)
            *port = p;
        return 0;
    }
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s", dest);
    char *h = buf;
    char *at = strrchr(buf, '@');
    if (at) {
        if (at == buf)
            return -1;
        *at = '\0';
        *user = strdup(buf);
        h = at + 1;
    }
    if (*h == '[') {
        char *close = strchr(h, ']');
        if (close == NULL)
            return -1;
        *close = '\0';
        if (close[1] == ':')
            *port = atoi(close + 2);
        else if (close[1] != '\0')
            return -1;
        h++;
    } else {
        char *colon = strchr(h, ':');
        /* host:port only with a single colon (IPv6 literals have more) */
        if (colon && strchr(colon + 1, ':') == NULL) {
            *colon = '\0';
            *port = atoi(colon + 1);
            if (*port <= 0 || *port > 65535)
                return -1;
        }
    }
    if (*h == '\0')
        return -1;
    *host = strdup(h);
    return 0;
}

static int set_kw(tun_options *o, const char *kw, const char *val)
{
    char line[4200];
    snprintf(line, sizeof(line), "%s %s", kw, val);
    return tun_options_apply(o, line, "command-line");
}

/* -Q: what this sshtun supports, one name a line, as ssh -Q prints it. */
static int query(const char *what)
{
    /* The key lists in ssh -Q's order (its key type table), less what
     * sshtun does not have (DSA, security keys): "key" every key type,
     * "key-plain" without certificates, "key-cert" only those, "key-sig"
     * (and the algorithm keywords) with the RSA signature names too, "sig"
     * the signature algorithms without certificates. */
    static const char *const keys =
        "ssh-ed25519,ssh-ed25519-cert-v01@openssh.com,ecdsa-sha2-nistp256,"
        "ecdsa-sha2-nistp256-cert-v01@openssh.com,ecdsa-sha2-nistp384,"
        "ecdsa-sha2-nistp384-cert-v01@openssh.com,ecdsa-sha2-nistp521,"
        "ecdsa-sha2-nistp521-cert-v01@openssh.com,ssh-rsa,ssh-rsa-cert-v01@openssh.com";
    static const char *const keys_plain = "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,"
                                          "ecdsa-sha2-nistp521,ssh-rsa";
    static const char *const keys_cert =
        "ssh-ed25519-cert-v01@openssh.com,ecdsa-sha2-nistp256-cert-v01@openssh.com,"
        "ecdsa-sha2-nistp384-cert-v01@openssh.com,ecdsa-sha2-nistp521-cert-v01@openssh.com,"
        "ssh-rsa-cert-v01@openssh.com";
    static const char *const keys_sig =
        "ssh-ed25519,ssh-ed25519-cert-v01@openssh.com,ecdsa-sha2-nistp256,"
        "ecdsa-sha2-nistp256-cert-v01@openssh.com,ecdsa-sha2-nistp384,"
        "ecdsa-sha2-nistp384-cert-v01@openssh.com,ecdsa-sha2-nistp521,"
        "ecdsa-sha2-nistp521-cert-v01@openssh.com,ssh-rsa,ssh-rsa-cert-v01@openssh.com,"
        "rsa-sha2-256,rsa-sha2-256-cert-v01@openssh.com,rsa-sha2-512,"
        "rsa-sha2-512-cert-v01@openssh.com";
    static const char *const sigs = "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,"
                                    "ecdsa-sha2-nistp521,ssh-rsa,rsa-sha2-256,rsa-sha2-512";
    static const struct {
        const char *name;
        const char *list;
    } q[] = {
        {"cipher", SSH_DEFAULT_CIPHERS},
        {"ciphers", SSH_DEFAULT_CIPHERS},
        {"cipher-auth", "chacha20-poly1305@openssh.com,aes128-gcm@openssh.com,"
                        "aes256-gcm@openssh.com"},
        {"compression", "none,zlib@openssh.com,zlib"},
        {"kex", SSH_DEFAULT_KEX},
        {"kexalgorithms", SSH_DEFAULT_KEX},
        {"kex-gss", ""},
        {"key", keys},
        {"key-plain", keys_plain},
        {"key-cert", keys_cert},
        {"key-sig", keys_sig},
        {"sig", sigs},
        {"hostkeyalgorithms", keys_sig},
        {"pubkeyacceptedalgorithms", keys_sig},
        {"hostbasedacceptedalgorithms", keys_sig},
        {"casignaturealgorithms", sigs},
        {"mac", SSH_DEFAULT_MACS},
        {"macs", SSH_DEFAULT_MACS},
        {"protocol-version", "2"},
        {"help", "cipher,cipher-auth,compression,kex,kex-gss,key,key-cert,key-plain,key-sig,mac,"
                 "protocol-version,sig"},
    };
    for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
        if (strcasecmp(what, q[i].name) != 0)
            continue;
        const char *l = q[i].list;
        char buf[2048];
        snprintf(buf, sizeof(buf), "%s", l);
        char *save = NULL;
        for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
            printf("%s\n", t);
        return 0;
    }
    fprintf(stderr, "Unsupported query \"%s\"\n", what);
    return 255;
}

/* The remaining words joined by spaces, as ssh sends them (NULL if none). */
static char *join_words(char **v, int n)
{
    if (n <= 0)
        return NULL;
    size_t len = 1;
    for (int i = 0; i < n; i++)
        len += strlen(v[i]) + 1;
    char *s = malloc(len);
    if (s == NULL)
        return NULL;
    s[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (i)
            strcat(s, " ");
        strcat(s, v[i]);
    }
    return s;
}

typedef struct cli {
    int verbose, quiet, dump_config, tflag, master_flag, use_syslog;
    const char *ctl_cmd, *stdio_fwd, *logfile, *config;
    char *host;
} cli;

enum { OPT_OK = 0, OPT_EXIT0 = 1, OPT_FAIL = 2 };

/* Flags that are configuration keywords: "-L spec" is "LocalForward spec".
 * A NULL value takes the flag's argument. */
static const struct {
    char flag;
    const char *kw, *value;
} flag_keywords[] = {
    {'4', "AddressFamily", "inet"},
    {'6', "AddressFamily", "inet6"},
    {'A', "ForwardAgent", "yes"},
    {'a', "ForwardAgent", "no"},
    {'B', "BindInterface", NULL},
    {'b', "BindAddress", NULL},
    {'C', "Compression", "yes"},
    {'c', "Ciphers", NULL},
    {'D', "DynamicForward", NULL},
    {'f', "ForkAfterAuthentication", "yes"},
    {'g', "GatewayPorts", "yes"},
    {'I', "PKCS11Provider", NULL},
    {'i', "IdentityFile", NULL},
    {'K', "GSSAPIAuthentication", "yes"},
    {'K', "GSSAPIDelegateCredentials", "yes"},
    {'k', "GSSAPIDelegateCredentials", "no"},
    {'L', "LocalForward", NULL},
    {'l', "User", NULL},
    {'m', "MACs", NULL},
    {'N', "SessionType", "none"},
    {'n', "StdinNull", "yes"},
    {'p', "Port", NULL},
    {'R', "RemoteForward", NULL},
    {'S', "ControlPath", NULL},
    {'s', "SessionType", "subsystem"},
    {'w', "TunnelDevice", NULL},
    {'w', "Tunnel", "yes"},
    {'X', "ForwardX11", "yes"},
    {'x', "ForwardX11", "no"},
    {'Y', "ForwardX11", "yes"},
    {'Y', "ForwardX11Trusted", "yes"},
};

/* One option.  OPT_OK, OPT_EXIT0 (-V, -Q: done) or OPT_FAIL (message
 * printed; exit 255). */
static int one_option(cli *c, tun_options *o, int opt, const char *arg)
{
    int found = 0;
    if (opt == 'i') {
        /* As ssh: ~ expanded now, and a file that is not there is a
         * warning and left out (so -G does not list it either).  Unlike
         * ssh, a missing private key whose .pub is there is kept: the
         * agent may hold its private half (it_connect tests that). */
        char *p = tun_expand_home(arg);
        struct stat st;
        int rv = 0;
        if (p == NULL)
            return OPT_FAIL;
        int err = stat(p, &st) == -1 ? errno : 0;
        if (err != 0) {
            char pub[PATH_MAX];
            if ((size_t)snprintf(pub, sizeof(pub), "%s.pub", p) < sizeof(pub) &&
                stat(pub, &st) == 0)
                err = 0;
        }
        if (err != 0)
            fprintf(stderr, "Warning: Identity file %s not accessible: %s.\n", p, strerror(err));
        else
            rv = set_kw(o, "IdentityFile", p);
        free(p);
        return rv != 0 ? OPT_FAIL : OPT_OK;
    }
    for (size_t i = 0; i < sizeof(flag_keywords) / sizeof(flag_keywords[0]); i++) {
        if (flag_keywords[i].flag != opt)
            continue;
        found = 1;
        const char *v = flag_keywords[i].value ? flag_keywords[i].value : arg;
        if (set_kw(o, flag_keywords[i].kw, v) != 0)
            return OPT_FAIL;
    }
    if (found)
        return OPT_OK;
    switch (opt) {
    case '1':
        fprintf(stderr, "SSH protocol v.1 is no longer supported\n");
        return OPT_FAIL;
    case '2':
    case 'P': /* obsolete "use a non-privileged port": nothing to do */
        return OPT_OK;
    case 'y':
        c->use_syslog = 1;
        return OPT_OK;
    case 'J':
        return tun_options_jump_flag(o, arg) == 0 ? OPT_OK : OPT_FAIL;
    case 'e':
        /* As ssh; and, unlike EscapeChar in a file, -e also turns the
         * escapes on for a session without a terminal (sshtun(1)). */
        if (tun_options_parse_escape(arg) == -1) {
            fprintf(stderr, "Bad escape character '%s'.\n", arg);
            return OPT_FAIL;
        }
        if (o->escape_char == -1)
            o->escape_nontty = 1;
        return set_kw(o, "EscapeChar", arg) ? OPT_FAIL : OPT_OK;
    case 'Q':
        return query(arg) == 0 ? OPT_EXIT0 : OPT_FAIL;
    case 'G':
        c->dump_config = 1;
        return OPT_OK;
    case 'M':
        c->master_flag++;
        return OPT_OK;
    case 'O':
        c->ctl_cmd = arg;
        return OPT_OK;
    case 'W':
        c->stdio_fwd = arg;
        return OPT_OK;
    case 'T':
        c->tflag = -1;
        return OPT_OK;
    case 't':
        c->tflag = c->tflag < 0 ? 1 : c->tflag + 1;
        return OPT_OK;
    case 'q':
        c->quiet = 1;
        return OPT_OK;
    case 'v':
        c->verbose++;
        return OPT_OK;
    case 'V':
        fprintf(stderr, "sshtun_%s, %s\n", SSHTUN_VERSION, OpenSSL_version(OPENSSL_VERSION));
        return OPT_EXIT0;
    case 'E':
        c->logfile = arg;
        return OPT_OK;
    case 'F':
        c->config = arg;
        return OPT_OK;
    case 'o':
        return tun_options_apply(o, arg, "command-line") ? OPT_FAIL : OPT_OK;
    }
    return OPT_FAIL;
}

/* Read the command line into c and o; *cmd_at is the index of the first
 * word of the command.  OPT_OK, OPT_EXIT0 or OPT_FAIL (message printed). */
static int parse_command_line(int argc, char **argv, cli *c, tun_options *o, int *cmd_at)
{
    int base = 0; /* argv[base] stands in for argv[0] of the current pass */
    int terminated = 0;
    opterr = 0;
    optind = 0; /* glibc: start afresh (and read the '+' again) */
    for (;;) {
        int opt;
        while ((opt = getopt(argc - base, argv + base, OPTSTRING)) != -1) {
            if (opt == '?') {
                fprintf(stderr, "unknown option -- %c\n", optopt);
                usage();
                return OPT_FAIL;
            }
            if (opt == ':') {
                fprintf(stderr, "option requires an argument -- %c\n", optopt);
                usage();
                return OPT_FAIL;
            }
            int r = one_option(c, o, opt, optarg);
            if (r != OPT_OK)
                return r;
        }
        int next = base + optind;
        if (optind > 1 && strcmp(argv[next - 1], "--") == 0)
            terminated = 1;
        if (c->host != NULL) {
            *cmd_at = next;
            return OPT_OK;
        }
        if (next >= argc) {
            usage();
            return OPT_FAIL;
        }
        char *user = NULL;
        int port = -1;
        if (parse_destination(argv[next], &user, &c->host, &port) != 0) {
            free(user);
            usage();
            return OPT_FAIL;
        }
        /* Applied where it stands: an earlier -l/-p wins over it, a later
         * one loses to it. */
        int bad = user && set_kw(o, "User", user) != 0;
        free(user);
        if (!bad && port > 0) {
            char p[16];
            snprintf(p, sizeof(p), "%d", port);
            bad = set_kw(o, "Port", p) != 0;
        }
        if (bad)
            return OPT_FAIL;
        if (next + 1 >= argc || terminated) {
            *cmd_at = next + 1;
            return OPT_OK;
        }
        /* Options may follow the destination; the destination takes the
         * place of argv[0] for the next pass. */
        base = next;
        optind = 0;
    }
}

int main(int argc, char **argv)
{
    tun_options o;
    tun_options_init(&o);
    cli c;
    memset(&c, 0, sizeof(c));
    tun_fwdspec fwds[3 * TUN_MAX_LIST];
    int n_fwds = 0;
    char *stdio_host = NULL;
    int stdio_port = 0;
    char *command = NULL;
    int status = 255, cmd_at = argc;

    /* Before anything else of libcrypto: no clean-up of its global state at
     * exit.  OpenSSL's atexit handler frees every provider, method store
     * and name map one by one (about 6% of the instructions of a whole
     * `sshtun host true`); at the end of a process that is the kernel's
     * job (its pages, the random generator's state among them, go with
     * it).  Keys the program holds are cleansed when it frees them, as
     * before. */
    OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL);
    sanitise_stdfd();
    signal(SIGPIPE, SIG_IGN);
    tun_signals_reset_inherited();
    tun_trim_setup();
    int pr = parse_command_line(argc, argv, &c, &o, &cmd_at);
    if (pr != OPT_OK) {
        status = pr == OPT_EXIT0 ? 0 : 255;
        goto out;
    }
    if (c.master_flag)
        set_kw(&o, "ControlMaster", c.master_flag > 1 ? "ask" : "yes");
    if (c.stdio_fwd) {
        /* -W implies -N, -T, ExitOnForwardFailure and ClearAllForwardings. */
        set_kw(&o, "SessionType", "none");
        c.tflag = -1;
        set_kw(&o, "ExitOnForwardFailure", "yes");
        set_kw(&o, "ClearAllForwardings", "yes");
    }
    if (c.tflag < 0)
        set_kw(&o, "RequestTTY", "no");
    else if (c.tflag == 1)
        set_kw(&o, "RequestTTY", "yes");
    else if (c.tflag > 1)
        set_kw(&o, "RequestTTY", "force");
    if (c.logfile && tun_log_open_file(c.logfile) != 0) {
        fprintf(stderr, "Couldn't open logfile %s: %s\n", c.logfile, strerror(errno));
        goto out;
    }
    if (c.use_syslog && !c.logfile)
        tun_log_set_syslog("sshtun", LOG_USER); /* ssh's SyslogFacility default */
    if (c.quiet)
        tun_log_set_level(TUN_LOG_QUIET);
    else if (c.verbose)
        tun_log_set_level(c.verbose >= 3   ? TUN_LOG_DEBUG3
                          : c.verbose == 2 ? TUN_LOG_DEBUG2
                                           : TUN_LOG_DEBUG1);

    /* Configuration files after the command line: first value wins.  A
     * jump host's connection reads them again for itself (o.config_file). */
    const char *host = c.host;
    if (c.config && (o.config_file = strdup(c.config)) == NULL)
        goto out;
    if (tun_config_load(&o, host) != 0)
        goto out;
    /* UpdateHostKeys ask where nobody would be asked: off, as ssh decides
     * it before -G prints the configuration (ssh.c). */
    if (o.update_host_keys == UHK_ASK &&
        ((o.control_persist != 0 && o.control_path != NULL) || cmd_at < argc ||
         o.remote_command != NULL || o.request_tty == TTY_NO || o.log_level < TUN_LOG_INFO))
        o.update_host_keys = UHK_NO;
    if (c.dump_config) {
        printf("host %s\nhostname %s\n", host, o.hostname ? o.hostname : host);
        tun_options_dump(&o, stdout);
        fflush(stdout);
        status = 0;
        goto out;
    }
    if (!c.quiet && !c.verbose && o.log_level >= 0)
        tun_log_set_level((enum tun_log_level)o.log_level);
    /* -y logged with USER while the files were read (what ssh does too);
     * from here on with the configured SyslogFacility. */
    if (c.use_syslog && !c.logfile && o.syslog_facility != LOG_USER)
        tun_log_set_syslog("sshtun", o.syslog_facility);
    tun_options_report(&o);

    int no_command = o.session_type == SESSION_NONE;
    int subsystem = o.session_type == SESSION_SUBSYSTEM;
    int no_stdin = o.stdin_null;
    int fork_after = o.fork_after_authentication;
    if (subsystem && cmd_at >= argc && o.remote_command == NULL) {
        fprintf(stderr, "You must specify a subsystem to invoke.\n");
        usage();
        goto out;
    }

    /* Forwarding specifications: reject bad ones before connecting. */
    if (!o.clear_all_forwardings) {
        struct {
            char **v;
            int n;
            enum tun_fwd_kind kind;
            const char *what;
        } lists[] = {
            {o.local_forwards, o.n_local_forwards, TUN_FWD_LOCAL, "local"},
            {o.remote_forwards, o.n_remote_forwards, TUN_FWD_REMOTE, "remote"},
            {o.dynamic_forwards, o.n_dynamic_forwards, TUN_FWD_DYNAMIC, "dynamic"},
        };
        for (size_t l = 0; l < 3; l++) {
            for (int i = 0; i < lists[l].n; i++) {
                if (tun_fwdspec_parse(lists[l].v[i], lists[l].kind, &fwds[n_fwds]) != 0) {
                    fprintf(stderr, "Bad %s forwarding specification '%s'\n", lists[l].what,
                            lists[l].v[i]);
                    goto out;
                }
                n_fwds++;
            }
        }
    }
    if (c.stdio_fwd) {
        tun_fwdspec w;
        /* host:port, as the connect half of a local forward. */
        char spec[1100];
        snprintf(spec, sizeof(spec), "1:%s", c.stdio_fwd);
        if (tun_fwdspec_parse(spec, TUN_FWD_LOCAL, &w) != 0 || w.connect_host == NULL) {
            fprintf(stderr, "Bad stdio forwarding specification '%s'\n", c.stdio_fwd);
            tun_fwdspec_free(&w);
            goto out;
        }
        stdio_host = w.connect_host;
        w.connect_host = NULL;
        stdio_port = w.connect_port;
        tun_fwdspec_free(&w);
    }
    if (fork_after && cmd_at >= argc && !no_command && o.remote_command == NULL) {
        fprintf(stderr, "Cannot fork into background without a command to execute.\n");
        goto out;
    }
    /* The command: remaining arguments joined by spaces, as ssh does. */
    if (cmd_at < argc && (command = join_words(argv + cmd_at, argc - cmd_at)) == NULL)
        goto out;

    /* Connection sharing. */
    const char *cpath = o.control_path && strcmp(o.control_path, "none") != 0 ? o.control_path
                                                                               : NULL;
    if (c.ctl_cmd) {
        static const struct {
            const char *name;
            enum tun_mux_op op;
        } ops[] = {{"check", MUXOP_CHECK}, {"forward", MUXOP_FORWARD}, {"cancel", MUXOP_CANCEL},
                   {"exit", MUXOP_EXIT},   {"stop", MUXOP_STOP},       {"status", MUXOP_STATUS}};
        int op = -1;
        for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
            if (strcmp(c.ctl_cmd, ops[i].name) == 0)
                op = (int)ops[i].op;
        if (op < 0) {
            fprintf(stderr, "Invalid multiplex command.\n");
            goto out;
        }
        if (cpath == NULL) {
            fprintf(stderr, "No ControlPath specified for \"-O\" command\n");
            goto out;
        }
        tun_mux_client_args ma = {.op = (enum tun_mux_op)op, .o = &o, .host = host,
                                  .fwds = fwds, .n_fwds = n_fwds};
        if (tun_mux_client(cpath, &ma, 0, &status) != 0) {
            fprintf(stderr, "Control socket connect(%s): %s\n", cpath, strerror(errno));
            status = 255;
        }
        goto out;
    }
    int become_master = 0;
    if (cpath) {
        int cm = o.control_master;
        if ((cm == 0 || cm == 3 || cm == 4) && (!no_command || stdio_host)) {
            /* ControlMaster no/auto: use a running master if there is one. */
            tun_mux_client_args ma = {
                .op = stdio_host ? MUXOP_STDIO : MUXOP_SESSION,
                .o = &o,
                .host = host,
                .command = command ? command : o.remote_command,
                .subsystem = subsystem,
                .no_stdin = no_stdin,
                .fwds = fwds,
                .n_fwds = n_fwds,
                .stdio_host = stdio_host,
                .stdio_port = stdio_port,
            };
            int rt = o.request_tty;
            ma.tty = rt == TTY_FORCE || (rt == TTY_YES && isatty(0)) ||
                     (rt == TTY_AUTO && ma.command == NULL && isatty(0));
            if (tun_mux_client(cpath, &ma, cm != 0, &status) == 0)
                goto out;
        }
        become_master = cm != 0;
    }

    tun_client_args args = {
        .opts = &o,
        .host = host,
        .command = command,
        .no_command = no_command,
        .no_stdin = no_stdin || fork_after,
        .fork_after_auth = fork_after,
        .fwds = fwds,
        .n_fwds = n_fwds,
        .stdio_host = stdio_host,
        .stdio_port = stdio_port,
        .subsystem = subsystem,
        .control_path = become_master ? cpath : NULL,
        .keep_stderr = c.logfile != NULL,
    };
    status = tun_client_run(&args);
out:
    for (int i = 0; i < n_fwds; i++)
        tun_fwdspec_free(&fwds[i]);
    free(stdio_host);
    free(command);
    free(c.host);
    tun_options_free(&o);
    return status;
}
