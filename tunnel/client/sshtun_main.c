/*
 * sshtun_main.c - command line of the sshtun client.
 *
 *   sshtun [-46GNnTtqvV] [-p port] [-l user] [-i identity] [-F configfile]
 *          [-o Option=value] [-c ciphers] [-m macs] [-E logfile]
 *          [user@]host[:port] | ssh://[user@]host[:port]  [command ...]
 *
 * Options from the command line are applied first, so they win over any
 * configuration file (OpenSSH's "first obtained value" rule).
 */
#include "tun_client.h"
#include "tun_config.h"
#include "tun_fwdspec.h"
#include "tun_mux.h"
#include "tun_log.h"
#include "tun_options.h"
#include "tun_util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>

static void usage(void)
{
    fprintf(stderr,
            "usage: sshtun [-46fGMNnsTtqvV] [-c cipher_spec] [-D [bind_address:]port]\n"
            "              [-E log_file] [-F configfile] [-i identity_file]\n"
            "              [-L address] [-l login_name] [-m mac_spec] [-O ctl_cmd]\n"
            "              [-o option] [-p port] [-R address] [-S ctl_path] [-W host:port]\n"
            "              destination [command [argument ...]]\n");
}

/* Split [user@]host[:port] or ssh://[user@]host[:port]. */
static int parse_destination(const char *dest, char **user, char **host, int *port)
{
    char buf[1024];
    const char *d = dest;
    int uri = strncmp(d, "ssh://", 6) == 0;
    if (uri)
        d += 6;
    snprintf(buf, sizeof(buf), "%s", d);
    if (uri) {
        size_t l = strlen(buf);
        if (l && buf[l - 1] == '/')
            buf[l - 1] = '\0';
    }
    char *h = buf;
    char *at = strrchr(buf, '@');
    if (at) {
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

int main(int argc, char **argv)
{
    tun_options o;
    tun_options_init(&o);
    int verbose = 0, quiet = 0, no_command = 0, no_stdin = 0, dump_config = 0, tflag = 0, opt;
    int fork_after = 0, master_flag = 0, subsystem = 0;
    const char *ctl_cmd = NULL;
    const char *stdio_fwd = NULL;
    tun_fwdspec fwds[3 * TUN_MAX_LIST];
    int n_fwds = 0;
    char *stdio_host = NULL;
    int stdio_port = 0;
    const char *logfile = NULL, *config = NULL;
    char *cmd_user = NULL;

    signal(SIGPIPE, SIG_IGN);
    tun_signals_reset_inherited();
    while ((opt = getopt(argc, argv, "46fGMNnsTtqvVc:D:E:F:i:L:l:m:O:o:p:R:S:W:")) != -1) {
        switch (opt) {
        case '4': set_kw(&o, "AddressFamily", "inet"); break;
        case '6': set_kw(&o, "AddressFamily", "inet6"); break;
        case 'G': dump_config = 1; break;
        case 'M': master_flag++; break;
        case 'S': set_kw(&o, "ControlPath", optarg); break;
        case 'O': ctl_cmd = optarg; break;
        case 's': subsystem = 1; break;
        case 'f': fork_after = 1; break;
        case 'L': set_kw(&o, "LocalForward", optarg); break;
        case 'R': set_kw(&o, "RemoteForward", optarg); break;
        case 'D': set_kw(&o, "DynamicForward", optarg); break;
        case 'W': stdio_fwd = optarg; break;
        case 'N': no_command = 1; break;
        case 'n': no_stdin = 1; break;
        case 'T': tflag = -1; break;
        case 't': tflag = tflag < 0 ? 1 : tflag + 1; break;
        case 'q': quiet = 1; break;
        case 'v': verbose++; break;
        case 'V':
            fprintf(stderr, "sshtun_%s, %s\n", SSHTUN_VERSION, OpenSSL_version(OPENSSL_VERSION));
            return 0;
        case 'c':
            if (set_kw(&o, "Ciphers", optarg) != 0)
                return 255;
            break;
        case 'm':
            if (set_kw(&o, "MACs", optarg) != 0)
                return 255;
            break;
        case 'E': logfile = optarg; break;
        case 'F': config = optarg; break;
        case 'i': set_kw(&o, "IdentityFile", optarg); break;
        case 'l': cmd_user = optarg; break;
        case 'o':
            if (tun_options_apply(&o, optarg, "command-line") != 0)
                return 255;
            break;
        case 'p':
            if (set_kw(&o, "Port", optarg) != 0)
                return 255;
            break;
        default:
            usage();
            return 255;
        }
    }
    if (optind >= argc) {
        usage();
        return 255;
    }
    if (master_flag)
        set_kw(&o, "ControlMaster", master_flag > 1 ? "ask" : "yes");
    if (stdio_fwd) {
        /* -W implies -N, -T, ExitOnForwardFailure and ClearAllForwardings. */
        no_command = 1;
        tflag = -1;
        set_kw(&o, "ExitOnForwardFailure", "yes");
        set_kw(&o, "ClearAllForwardings", "yes");
    }
    if (tflag < 0)
        set_kw(&o, "RequestTTY", "no");
    else if (tflag == 1)
        set_kw(&o, "RequestTTY", "yes");
    else if (tflag > 1)
        set_kw(&o, "RequestTTY", "force");
    if (logfile && tun_log_open_file(logfile) != 0) {
        fprintf(stderr, "Couldn't open logfile %s: %s\n", logfile, strerror(errno));
        return 255;
    }
    if (quiet)
        tun_log_set_level(TUN_LOG_QUIET);
    else if (verbose)
        tun_log_set_level(verbose >= 3 ? TUN_LOG_DEBUG3 : verbose == 2 ? TUN_LOG_DEBUG2 : TUN_LOG_DEBUG1);

    char *duser = NULL, *host = NULL, *command = NULL;
    int dport = -1, status = 255;
    if (parse_destination(argv[optind], &duser, &host, &dport) != 0) {
        fprintf(stderr, "sshtun: invalid destination: %s\n", argv[optind]);
        goto out;
    }
    optind++;
    /* -l wins over user@host, as in ssh (first obtained value). */
    if (cmd_user)
        set_kw(&o, "User", cmd_user);
    if (duser)
        set_kw(&o, "User", duser);
    if (dport > 0) {
        char p[16];
        snprintf(p, sizeof(p), "%d", dport);
        set_kw(&o, "Port", p);
    }
    /* Configuration files after the command line: first value wins. */
    if (config) {
        if (strcmp(config, "none") != 0 &&
            tun_config_read(&o, config, host, TUN_CONFIG_USER | TUN_CONFIG_REQUIRED) != 0)
            goto out;
    } else {
        if (tun_config_read(&o, "~/.ssh/config", host, TUN_CONFIG_USER) != 0 ||
            tun_config_read(&o, "/etc/ssh/ssh_config", host, 0) != 0)
            goto out;
    }
    if (tun_options_finish(&o) != 0 || tun_options_expand(&o, host) != 0)
        goto out;
    if (dump_config) {
        printf("host %s\nhostname %s\n", host, o.hostname ? o.hostname : host);
        tun_options_dump(&o, stdout);
        fflush(stdout);
        status = 0;
        goto out;
    }
    if (!quiet && !verbose && o.log_level >= 0)
        tun_log_set_level((enum tun_log_level)o.log_level);

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
    if (stdio_fwd) {
        tun_fwdspec w;
        /* host:port, as the connect half of a local forward. */
        char spec[1100];
        snprintf(spec, sizeof(spec), "1:%s", stdio_fwd);
        if (tun_fwdspec_parse(spec, TUN_FWD_LOCAL, &w) != 0 || w.connect_host == NULL) {
            fprintf(stderr, "Bad stdio forwarding specification '%s'\n", stdio_fwd);
            tun_fwdspec_free(&w);
            goto out;
        }
        stdio_host = w.connect_host;
        w.connect_host = NULL;
        stdio_port = w.connect_port;
        tun_fwdspec_free(&w);
    }
    if (fork_after && optind >= argc && !no_command && o.remote_command == NULL) {
        fprintf(stderr, "Cannot fork into background without a command to execute.\n");
        goto out;
    }

    /* Connection sharing. */
    const char *cpath = o.control_path && strcmp(o.control_path, "none") != 0 ? o.control_path
                                                                               : NULL;
    if (ctl_cmd) {
        static const struct {
            const char *name;
            enum tun_mux_op op;
        } ops[] = {{"check", MUXOP_CHECK}, {"forward", MUXOP_FORWARD}, {"cancel", MUXOP_CANCEL},
                   {"exit", MUXOP_EXIT},   {"stop", MUXOP_STOP},       {"status", MUXOP_STATUS}};
        int op = -1;
        for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
            if (strcmp(ctl_cmd, ops[i].name) == 0)
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
        if (cm == 0 || cm == 3 || cm == 4) {
            /* ControlMaster no/auto: use a running master if there is one. */
            tun_mux_client_args ma = {
                .op = stdio_host ? MUXOP_STDIO : MUXOP_SESSION,
                .o = &o,
                .host = host,
                .command = NULL,
                .subsystem = subsystem,
                .no_stdin = no_stdin,
                .fwds = fwds,
                .n_fwds = n_fwds,
                .stdio_host = stdio_host,
                .stdio_port = stdio_port,
            };
            if (!no_command || stdio_host) {
                char *cmd = NULL;
                if (optind < argc) {
                    size_t len = 0;
                    for (int i = optind; i < argc; i++)
                        len += strlen(argv[i]) + 1;
                    cmd = malloc(len + 1);
                    if (cmd) {
                        cmd[0] = '\0';
                        for (int i = optind; i < argc; i++) {
                            if (i > optind)
                                strcat(cmd, " ");
                            strcat(cmd, argv[i]);
                        }
                    }
                }
                ma.command = cmd ? cmd : o.remote_command;
                int rt = o.request_tty;
                ma.tty = rt == TTY_FORCE || (rt == TTY_YES && isatty(0)) ||
                         (rt == TTY_AUTO && ma.command == NULL && isatty(0));
                int rv = tun_mux_client(cpath, &ma, cm != 0, &status);
                free(cmd);
                if (rv == 0)
                    goto out;
            }
        }
        become_master = cm != 0;
    }

    /* The command: remaining arguments joined by spaces, as ssh does. */
    if (optind < argc) {
        size_t len = 0;
        for (int i = optind; i < argc; i++)
            len += strlen(argv[i]) + 1;
        command = malloc(len + 1);
        if (command == NULL)
            goto out;
        command[0] = '\0';
        for (int i = optind; i < argc; i++) {
            if (i > optind)
                strcat(command, " ");
            strcat(command, argv[i]);
        }
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
        .keep_stderr = logfile != NULL,
    };
    status = tun_client_run(&args);
out:
    for (int i = 0; i < n_fwds; i++)
        tun_fwdspec_free(&fwds[i]);
    free(stdio_host);
    free(command);
    free(duser);
    free(host);
    tun_options_free(&o);
    return status;
}
