/*
 * tun_srvconfig_for.c - the settings in force for one connection: the
 * Match blocks that apply to its user and address, merged in file order
 * over the global values (see tun_srvconfig.c for the file syntax and
 * tun_srvconfig.h for what tun_srvcfg_for() promises).
 */
#include "tun_srvconfig.h"
#include "tun_srvconfig_int.h"
#include "tun_authkeys.h"
#include "tun_log.h"

#include <string.h>
#include <strings.h>

/* ---- Match criteria ------------------------------------------------------------------ */

/* '*' and '?' wildcards, case-sensitive (for user names). */
static int wild_match(const char *s, const char *p)
{
    const char *star_p = NULL, *star_s = NULL;
    for (;;) {
        if (*p == '*') {
            star_p = ++p;
            star_s = s;
            continue;
        }
        if (*s == '\0')
            return *p == '\0';
        if (*p == '?' || *p == *s) {
            p++;
            s++;
            continue;
        }
        if (star_p == NULL)
            return 0;
        p = star_p;
        s = ++star_s;
    }
}

/* 1 if `name` matches a positive entry of the list and no '!' entry. */
static int user_list_match(const char *name, const char *list)
{
    int got = 0;
    const char *p = list;
    for (;;) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        int neg = l > 0 && *p == '!';
        char pat[1024];
        if (l - (size_t)neg < sizeof(pat)) {
            memcpy(pat, p + neg, l - (size_t)neg);
            pat[l - (size_t)neg] = '\0';
            if (pat[0] && wild_match(name, pat)) {
                if (neg)
                    return 0;
                got = 1;
            }
        }
        if (e == NULL)
            return got;
        p = e + 1;
    }
}

int srvcfg_block_matches(const tun_match_block *b, const char *user, const char *addr)
{
    if (b->never)
        return 0;
    if (b->all)
        return 1;
    /* Criteria that cannot be evaluated yet (user unknown) do not match. */
    if (b->users && (user == NULL || user_list_match(user, b->users) != 1))
        return 0;
    if (b->addrs && (addr == NULL || tun_match_address_list(addr, b->addrs) != 1))
        return 0;
    return 1;
}

/* ---- per connection ------------------------------------------------------------------ */

static void take_int(int *dst, int src)
{
    if (*dst == -1)
        *dst = src;
}

static void take_list(char **dst, int *dn, char *const *src, int sn)
{
    if (*dn > 0)
        return;
    for (int i = 0; i < sn; i++)
        dst[i] = src[i];
    *dn = sn;
}

/* Accumulating lists: append (borrowed).  Returns -1 when full. */
static int acc_list(char **dst, int *dn, char *const *src, int sn)
{
    for (int i = 0; i < sn; i++) {
        if (srvcfg_list_has(dst, *dn, src[i]))
            continue;
        if (*dn >= TUN_SRV_MAX_LIST)
            return -1;
        dst[(*dn)++] = src[i];
    }
    return 0;
}

/* Merge `s` into `d` where `d` has nothing yet.  `acc`: also concatenate
 * the accumulating lists (between Match blocks, not from the globals). */
static void merge(tun_srvopts *d, const tun_srvopts *s, int acc)
{
    take_list(d->authorized_keys_file, &d->n_authorized_keys_file, s->authorized_keys_file,
              s->n_authorized_keys_file);
    take_int(&d->password_authentication, s->password_authentication);
    take_int(&d->pubkey_authentication, s->pubkey_authentication);
    take_int(&d->permit_root_login, s->permit_root_login);
    if (acc) {
        /* Too many allowed users or accepted variables: the extra are
         * dropped, which only refuses more.  Too many denied users: deny
         * everyone rather than let an unchecked name through. */
        if (acc_list(d->allow_users, &d->n_allow_users, s->allow_users, s->n_allow_users) != 0)
            tun_error("Match: more than %d AllowUsers entries; extra ignored", TUN_SRV_MAX_LIST);
        if (acc_list(d->deny_users, &d->n_deny_users, s->deny_users, s->n_deny_users) != 0) {
            static char deny_all[] = "*";
            tun_error("Match: more than %d DenyUsers entries; denying everyone", TUN_SRV_MAX_LIST);
            d->deny_users[0] = deny_all;
            d->n_deny_users = 1;
        }
        if (acc_list(d->allow_groups, &d->n_allow_groups, s->allow_groups, s->n_allow_groups) != 0)
            tun_error("Match: more than %d AllowGroups entries; extra ignored", TUN_SRV_MAX_LIST);
        if (acc_list(d->deny_groups, &d->n_deny_groups, s->deny_groups, s->n_deny_groups) != 0) {
            static char deny_all[] = "*";
            tun_error("Match: more than %d DenyGroups entries; denying everyone", TUN_SRV_MAX_LIST);
            d->deny_groups[0] = deny_all;
            d->n_deny_groups = 1;
        }
        if (acc_list(d->accept_env, &d->n_accept_env, s->accept_env, s->n_accept_env) != 0)
            tun_error("Match: more than %d AcceptEnv entries; extra ignored", TUN_SRV_MAX_LIST);
    } else {
        take_list(d->allow_groups, &d->n_allow_groups, s->allow_groups, s->n_allow_groups);
        take_list(d->deny_groups, &d->n_deny_groups, s->deny_groups, s->n_deny_groups);
        take_list(d->allow_users, &d->n_allow_users, s->allow_users, s->n_allow_users);
        take_list(d->deny_users, &d->n_deny_users, s->deny_users, s->n_deny_users);
        take_list(d->accept_env, &d->n_accept_env, s->accept_env, s->n_accept_env);
    }
    take_list(d->set_env, &d->n_set_env, s->set_env, s->n_set_env);
    take_int(&d->max_sessions, s->max_sessions);
    take_int(&d->max_auth_tries, s->max_auth_tries);
    take_int(&d->client_alive_interval, s->client_alive_interval);
    take_int(&d->client_alive_count_max, s->client_alive_count_max);
    take_int(&d->allow_tcp_forwarding, s->allow_tcp_forwarding);
    take_int(&d->allow_streamlocal_forwarding, s->allow_streamlocal_forwarding);
    take_list(d->permit_open, &d->n_permit_open, s->permit_open, s->n_permit_open);
    take_list(d->permit_listen, &d->n_permit_listen, s->permit_listen, s->n_permit_listen);
    take_int(&d->gateway_ports, s->gateway_ports);
    take_list(d->channel_timeout, &d->n_channel_timeout, s->channel_timeout, s->n_channel_timeout);
    take_int(&d->unused_connection_timeout, s->unused_connection_timeout);
    if (d->force_command == NULL)
        d->force_command = s->force_command;
    take_int(&d->permit_tty, s->permit_tty);
    take_int(&d->allow_agent_forwarding, s->allow_agent_forwarding);
    take_int(&d->x11_forwarding, s->x11_forwarding);
    take_int(&d->x11_display_offset, s->x11_display_offset);
    take_int(&d->x11_use_localhost, s->x11_use_localhost);
    if (d->banner == NULL)
        d->banner = s->banner;
    char **dst[] = {&d->trusted_user_ca_keys,          &d->revoked_keys,
                    &d->ca_signature_algorithms,       &d->authorized_principals_file,
                    &d->authorized_principals_command, &d->authorized_principals_command_user,
                    &d->authorized_keys_command,       &d->authorized_keys_command_user,
                    &d->pubkey_accepted_algorithms};
    char *const src[] = {s->trusted_user_ca_keys,          s->revoked_keys,
                         s->ca_signature_algorithms,       s->authorized_principals_file,
                         s->authorized_principals_command, s->authorized_principals_command_user,
                         s->authorized_keys_command,       s->authorized_keys_command_user,
                         s->pubkey_accepted_algorithms};
    for (size_t i = 0; i < sizeof(src) / sizeof(src[0]); i++)
        if (*dst[i] == NULL)
            *dst[i] = src[i];
}

void tun_srvcfg_for(const tun_srvcfg *c, const char *user, const char *addr, tun_srvopts *out)
{
    srvcfg_opts_init(out);
    for (const tun_match_block *b = c->matches; b; b = b->next)
        if (srvcfg_block_matches(b, user, addr))
            merge(out, &b->opts, 1);
    merge(out, &c->global, 0);
    /* Fold "none" away (see the top of the file). */
    if (out->force_command && strcasecmp(out->force_command, "none") == 0)
        out->force_command = NULL;
    if (out->banner && strcasecmp(out->banner, "none") == 0)
        out->banner = NULL;
    char **nonable[] = {&out->trusted_user_ca_keys,
                        &out->revoked_keys,
                        &out->authorized_principals_file,
                        &out->authorized_principals_command,
                        &out->authorized_principals_command_user,
                        &out->authorized_keys_command,
                        &out->authorized_keys_command_user};
    for (size_t i = 0; i < sizeof(nonable) / sizeof(nonable[0]); i++)
        if (*nonable[i] && strcasecmp(*nonable[i], "none") == 0)
            *nonable[i] = NULL;
    if (out->n_authorized_keys_file == 1 && strcasecmp(out->authorized_keys_file[0], "none") == 0)
        out->n_authorized_keys_file = 0;
    if (out->n_channel_timeout == 1 && strcasecmp(out->channel_timeout[0], "none") == 0)
        out->n_channel_timeout = 0;
}

static int add_banner(const char *b, const char **out, int n, int max)
{
    if (b == NULL || strcasecmp(b, "none") == 0 || n >= max)
        return n;
    for (int i = 0; i < n; i++)
        if (strcmp(out[i], b) == 0)
            return n;
    out[n] = b;
    return n + 1;
}

int tun_srvcfg_banners(const tun_srvcfg *c, const char **out, int max)
{
    int n = add_banner(c->global.banner, out, 0, max);
    for (const tun_match_block *b = c->matches; b; b = b->next)
        n = add_banner(b->opts.banner, out, n, max);
    return n;
}

void tun_srvopts_release(tun_srvopts *o)
{
    /* Every string is borrowed from the configuration; the arrays are part
     * of the struct.  Nothing to free, but leave no dangling pointers. */
    srvcfg_opts_init(o);
}
