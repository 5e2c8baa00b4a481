/*
 * tun_srvconfig_dump.c - sshtund -T: the effective configuration, one
 * lowercase keyword per line as sshd -T prints it (the global values;
 * Match blocks apply per connection).
 */
#include "tun_srvconfig.h"
#include "tun_log.h"

#include <sys/socket.h>

#include "sshtun/conn.h"

static const char *const level_names[] = {"QUIET",   "FATAL",  "ERROR",  "INFO",
                                          "VERBOSE", "DEBUG1", "DEBUG2", "DEBUG3"};

static const char *yesno_str(int v)
{
    return v > 0 ? "yes" : "no";
}

static void dump_words(FILE *f, const char *name, char *const *v, int n, const char *empty)
{
    if (n == 0) {
        if (empty)
            fprintf(f, "%s %s\n", name, empty);
        return;
    }
    fprintf(f, "%s", name);
    for (int i = 0; i < n; i++)
        fprintf(f, " %s", v[i]);
    fprintf(f, "\n");
}

static void dump_lines(FILE *f, const char *name, char *const *v, int n)
{
    for (int i = 0; i < n; i++)
        fprintf(f, "%s %s\n", name, v[i]);
}

static const char *fwd_name(int v)
{
    switch (v) {
    case FWA_NO:
        return "no";
    case FWA_LOCAL:
        return "local";
    case FWA_REMOTE:
        return "remote";
    default:
        return "yes";
    }
}

void tun_srvcfg_dump(const tun_srvcfg *c, FILE *f)
{
    const tun_srvopts *g = &c->global;
    for (int i = 0; i < c->n_ports; i++)
        fprintf(f, "port %d\n", c->ports[i]);
    fprintf(f, "addressfamily %s\n",
            c->address_family == AF_INET    ? "inet"
            : c->address_family == AF_INET6 ? "inet6"
                                            : "any");
    for (int i = 0; i < c->n_listen_addresses; i++)
        fprintf(f, "listenaddress %s%s\n", c->listen_addresses[i],
                c->listen_proxy[i] ? " proxy-protocol" : "");
    fprintf(f, "proxyprotocol %s\n", c->proxy_protocol == 1 ? "yes" : "no");
    fprintf(f, "proxyprotocolfrom %s\n", c->proxy_from ? c->proxy_from : "none");
    if (c->per_source_max_startups > 0)
        fprintf(f, "persourcemaxstartups %d\n", c->per_source_max_startups);
    else
        fprintf(f, "persourcemaxstartups none\n");
    fprintf(f, "persourcenetblocksize %d:%d\n", c->per_source_bits4, c->per_source_bits6);
    dump_lines(f, "hostkey", c->host_keys, c->n_host_keys);
    dump_lines(f, "hostcertificate", c->host_certificates, c->n_host_certificates);
    fprintf(f, "pidfile %s\n", c->pid_file ? c->pid_file : "none");
    fprintf(f, "maxstartups %d:%d:%d\n", c->max_startups_begin, c->max_startups_rate,
            c->max_startups_full);
    fprintf(f, "logingracetime %d\n", c->login_grace_time);
    /* Specs as configured: +/-/^ are resolved by the server itself. */
    fprintf(f, "ciphers %s\n", c->ciphers ? c->ciphers : SSH_DEFAULT_CIPHERS);
    fprintf(f, "macs %s\n", c->macs ? c->macs : SSH_DEFAULT_MACS);
    fprintf(f, "kexalgorithms %s\n", c->kex_algorithms ? c->kex_algorithms : SSH_DEFAULT_KEX);
    fprintf(f, "hostkeyalgorithms %s\n",
            c->hostkey_algorithms ? c->hostkey_algorithms : SSH_DEFAULT_HOSTKEY_ALGS);
    fprintf(f, "rekeylimit %lld %lld\n", (long long)c->rekey_bytes, (long long)c->rekey_seconds);
    fprintf(f, "loglevel %s\n",
            level_names[c->log_level >= 0 && c->log_level < 8 ? c->log_level : TUN_LOG_INFO]);
    for (int i = 0; i < c->n_subsystems; i++)
        fprintf(f, "subsystem %s %s\n", c->subsystem_name[i], c->subsystem_command[i]);
    fprintf(f, "sshtunduser %s\n", c->sshtund_user ? c->sshtund_user : "none");
    fprintf(f, "strictmodes %s\n", yesno_str(c->strict_modes));
    fprintf(f, "permituserenvironment %s\n", c->permit_user_environment);
    fprintf(f, "maxchannels %d\n", c->max_channels);
    fprintf(f, "workers %d\n", c->workers);
    fprintf(f, "compression %s\n", c->compression ? "yes" : "no");
    fprintf(f, "xauthlocation %s\n", c->xauth_location ? c->xauth_location : "none");

    dump_words(f, "authorizedkeysfile", g->authorized_keys_file, g->n_authorized_keys_file, "none");
    fprintf(f, "passwordauthentication %s\n", yesno_str(g->password_authentication));
    fprintf(f, "pubkeyauthentication %s\n", yesno_str(g->pubkey_authentication));
    static const char *const prl[] = {"no", "yes", "prohibit-password", "forced-commands-only"};
    fprintf(f, "permitrootlogin %s\n",
            g->permit_root_login >= 0 && g->permit_root_login <= PRL_FORCED_ONLY
                ? prl[g->permit_root_login]
                : "prohibit-password");
    dump_lines(f, "allowusers", g->allow_users, g->n_allow_users);
    dump_lines(f, "denyusers", g->deny_users, g->n_deny_users);
    dump_lines(f, "allowgroups", g->allow_groups, g->n_allow_groups);
    dump_lines(f, "denygroups", g->deny_groups, g->n_deny_groups);
    fprintf(f, "maxsessions %d\n", g->max_sessions);
    fprintf(f, "maxauthtries %d\n", g->max_auth_tries);
    fprintf(f, "clientaliveinterval %d\n", g->client_alive_interval);
    fprintf(f, "clientalivecountmax %d\n", g->client_alive_count_max);
    fprintf(f, "allowtcpforwarding %s\n", fwd_name(g->allow_tcp_forwarding));
    fprintf(f, "allowstreamlocalforwarding %s\n", fwd_name(g->allow_streamlocal_forwarding));
    dump_words(f, "permitopen", g->permit_open, g->n_permit_open, "any");
    dump_words(f, "permitlisten", g->permit_listen, g->n_permit_listen, "any");
    fprintf(f, "gatewayports %s\n",
            g->gateway_ports == GWP_CLIENTSPECIFIED ? "clientspecified"
            : g->gateway_ports == GWP_YES           ? "yes"
                                                    : "no");
    dump_words(f, "channeltimeout", g->channel_timeout, g->n_channel_timeout, "none");
    if (g->unused_connection_timeout > 0)
        fprintf(f, "unusedconnectiontimeout %d\n", g->unused_connection_timeout);
    else
        fprintf(f, "unusedconnectiontimeout none\n");
    dump_lines(f, "acceptenv", g->accept_env, g->n_accept_env);
    dump_words(f, "setenv", g->set_env, g->n_set_env, NULL);
    fprintf(f, "forcecommand %s\n", g->force_command ? g->force_command : "none");
    fprintf(f, "permittty %s\n", yesno_str(g->permit_tty));
    fprintf(f, "banner %s\n", g->banner ? g->banner : "none");
    fprintf(f, "allowagentforwarding %s\n", yesno_str(g->allow_agent_forwarding));
    fprintf(f, "x11forwarding %s\n", yesno_str(g->x11_forwarding));
    fprintf(f, "x11displayoffset %d\n", g->x11_display_offset);
    fprintf(f, "x11uselocalhost %s\n", yesno_str(g->x11_use_localhost));
    fprintf(f, "trustedusercakeys %s\n",
            g->trusted_user_ca_keys ? g->trusted_user_ca_keys : "none");
    fprintf(f, "revokedkeys %s\n", g->revoked_keys ? g->revoked_keys : "none");
    fprintf(f, "casignaturealgorithms %s\n", g->ca_signature_algorithms);
    fprintf(f, "pubkeyacceptedalgorithms %s\n", g->pubkey_accepted_algorithms);
    fprintf(f, "authorizedprincipalsfile %s\n",
            g->authorized_principals_file ? g->authorized_principals_file : "none");
    fprintf(f, "authorizedprincipalscommand %s\n",
            g->authorized_principals_command ? g->authorized_principals_command : "none");
    fprintf(f, "authorizedprincipalscommanduser %s\n",
            g->authorized_principals_command_user ? g->authorized_principals_command_user : "none");
    fprintf(f, "authorizedkeyscommand %s\n",
            g->authorized_keys_command ? g->authorized_keys_command : "none");
    fprintf(f, "authorizedkeyscommanduser %s\n",
            g->authorized_keys_command_user ? g->authorized_keys_command_user : "none");
}
