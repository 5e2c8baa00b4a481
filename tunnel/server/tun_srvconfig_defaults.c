/*
 * tun_srvconfig_defaults.c - sshd's defaults filled into what the files
 * left unset (tun_srvcfg_finish), and the derived lists (split from
 * tun_srvconfig.c, which reads the files).
 */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "tun_srvconfig_int.h"
#include "tun_log.h"

#include <sched.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sshtun/cert.h"
#include "sshtun/conn.h"

/* ---- defaults ----------------------------------------------------------------------- */

static void dflt(int *f, int v)
{
    if (*f == -1)
        *f = v;
}

static int dflt_list(char **v, int *n, const char *words_)
{
    if (*n > 0)
        return 0;
    char tmp[512];
    char *save = NULL;
    snprintf(tmp, sizeof(tmp), "%s", words_);
    for (char *t = strtok_r(tmp, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        if (*n >= TUN_SRV_MAX_LIST || (v[*n] = strdup(t)) == NULL)
            return -1;
        (*n)++;
    }
    return 0;
}

static int dflt_str(char **f, const char *v)
{
    if (*f == NULL && (*f = strdup(v)) == NULL)
        return -1;
    return 0;
}

int tun_srvcfg_cpus(void)
{
    /* The CPUs this process may run on (a container or taskset may allow
     * fewer than the machine has). */
    cpu_set_t set;
    int n = 0;
    if (sched_getaffinity(0, sizeof(set), &set) == 0)
        n = CPU_COUNT(&set);
    if (n <= 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        n = c > 0 ? (int)c : 1;
    }
    return n > TUN_SRV_MAX_WORKERS ? TUN_SRV_MAX_WORKERS : n;
}

/* c->pubkey_algs_any: the global list, then each name a Match block's
 * list adds. */
static int pubkey_algs_union(tun_srvcfg *c)
{
    size_t cap = strlen(c->global.pubkey_accepted_algorithms) + 1;
    for (const tun_match_block *b = c->matches; b; b = b->next)
        if (b->opts.pubkey_accepted_algorithms)
            cap += strlen(b->opts.pubkey_accepted_algorithms) + 1;
    char *u = malloc(cap);
    if (u == NULL)
        return -1;
    snprintf(u, cap, "%s", c->global.pubkey_accepted_algorithms);
    size_t n = strlen(u);
    for (const tun_match_block *b = c->matches; b; b = b->next) {
        const char *l = b->opts.pubkey_accepted_algorithms;
        while (l && *l) {
            const char *e = strchr(l, ',');
            size_t k = e ? (size_t)(e - l) : strlen(l);
            char name[128];
            if (k < sizeof(name)) {
                memcpy(name, l, k);
                name[k] = '\0';
                if (!ssh_namelist_has(u, name)) {
                    if (n > 0)
                        u[n++] = ',';
                    memcpy(u + n, name, k + 1);
                    n += k;
                }
            }
            l = e ? e + 1 : NULL;
        }
    }
    free(c->pubkey_algs_any);
    c->pubkey_algs_any = u;
    return 0;
}

int tun_srvcfg_finish(tun_srvcfg *c)
{
    tun_srvopts *g = &c->global;
    c->sshtund_user_default = c->sshtund_user == NULL;
    if (c->n_ports == 0)
        c->ports[c->n_ports++] = 22;
    if (dflt_list(c->host_keys, &c->n_host_keys,
                  "/etc/ssh/ssh_host_ecdsa_key /etc/ssh/ssh_host_ed25519_key "
                  "/etc/ssh/ssh_host_rsa_key") != 0 ||
        dflt_str(&c->pid_file, "/run/sshtund.pid") != 0 ||
        dflt_str(&c->sshtund_user, "sshtund") != 0 ||
        dflt_str(&c->permit_user_environment, "no") != 0 ||
        dflt_str(&c->xauth_location, "/usr/bin/xauth") != 0)
        goto nomem;
    if (c->max_startups_full == -1) {
        c->max_startups_begin = 1000;
        c->max_startups_rate = 30;
        c->max_startups_full = 10000;
    }
    dflt(&c->login_grace_time, 120);
    if (c->rekey_bytes == -1) {
        c->rekey_bytes = 0;
        c->rekey_seconds = 0;
    }
    dflt(&c->log_level, TUN_LOG_INFO);
    dflt(&c->max_channels, 1024);
    dflt(&c->workers, tun_srvcfg_cpus());
    dflt(&c->compression, 1);
    dflt(&c->address_family, AF_UNSPEC);
    dflt(&c->strict_modes, 1);
    dflt(&c->proxy_protocol, 0);
    dflt(&c->per_source_max_startups, 0);
    dflt(&c->per_source_bits4, 32);
    dflt(&c->per_source_bits6, 128);
    if (tun_srvcfg_any_proxy(c) && c->proxy_from == NULL) {
        tun_error("ProxyProtocol is on but ProxyProtocolFrom is not set: name the load "
                  "balancers allowed to send the PROXY header");
        return -1;
    }

    if (dflt_list(g->authorized_keys_file, &g->n_authorized_keys_file,
                  ".ssh/authorized_keys .ssh/authorized_keys2") != 0 ||
        dflt_list(g->permit_open, &g->n_permit_open, "any") != 0 ||
        dflt_list(g->permit_listen, &g->n_permit_listen, "any") != 0)
        goto nomem;
    dflt(&g->password_authentication, 1);
    dflt(&g->pubkey_authentication, 1);
    dflt(&g->permit_root_login, PRL_PROHIBIT_PASSWORD);
    dflt(&g->max_sessions, 10);
    dflt(&g->max_auth_tries, 6);
    dflt(&g->client_alive_interval, 0);
    dflt(&g->client_alive_count_max, 3);
    dflt(&g->allow_tcp_forwarding, FWA_ALL);
    dflt(&g->allow_streamlocal_forwarding, FWA_ALL);
    dflt(&g->gateway_ports, GWP_NO);
    dflt(&g->unused_connection_timeout, 0);
    dflt(&g->permit_tty, 1);
    dflt(&g->allow_agent_forwarding, 1);
    dflt(&g->x11_forwarding, 0);
    dflt(&g->x11_display_offset, 10);
    dflt(&g->x11_use_localhost, 1);
    if (dflt_str(&g->ca_signature_algorithms, SSH_DEFAULT_CA_SIG_ALGS) != 0 ||
        dflt_str(&g->pubkey_accepted_algorithms, SSH_DEFAULT_PUBKEY_ALGS) != 0)
        return -1;
    return pubkey_algs_union(c);
nomem:
    tun_error("out of memory");
    return -1;
}
