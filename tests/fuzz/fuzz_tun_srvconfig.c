/*
 * fuzz_tun_srvconfig.c - sshtund's sshd_config(5) reader
 * (tunnel/tun_srvconfig.h) and the permission lists it feeds.
 *
 * Input: byte 0 picks the mode (low bit) and the connecting user and
 * address (next bits); the rest is text.
 *   mode 0: the text is a configuration file, read with
 *           tun_srvcfg_read_mem() (Match blocks included);
 *   mode 1: every line goes to tun_srvcfg_apply(), as -o does.
 * Then, when reading succeeded, tun_srvcfg_finish(), tun_srvcfg_dump() to
 * /dev/null, and the effective settings for a user and an address through
 * tun_srvcfg_for(); PermitOpen/PermitListen lists go through
 * tun_permit_match().
 * Checked: return codes are 0 or -1; finished settings are in range
 * (ports, MaxStartups ordering, counts, enums), list lengths within
 * TUN_SRV_MAX_LIST, and no list entry is NULL.
 */
#include <string.h>

#include "fuzz_tun.h"
#include "tun_authkeys.h"
#include "tun_srvconfig.h"

static const char *const users[4] = {"root", "alice", "tunnel-only", NULL};
static const char *const addrs[4] = {"127.0.0.1", "10.1.2.3", "::1", "192.168.77.5"};

static void check_list(char *const *list, int n)
{
    CHECK(n >= 0 && n <= TUN_SRV_MAX_LIST);
    for (int i = 0; i < n; i++)
        CHECK(list[i] != NULL);
}

static void check_opts(const tun_srvopts *o)
{
    check_list(o->authorized_keys_file, o->n_authorized_keys_file);
    check_list(o->allow_users, o->n_allow_users);
    check_list(o->deny_users, o->n_deny_users);
    check_list(o->permit_open, o->n_permit_open);
    check_list(o->permit_listen, o->n_permit_listen);
    check_list(o->channel_timeout, o->n_channel_timeout);
    check_list(o->accept_env, o->n_accept_env);
    CHECK(o->password_authentication == 0 || o->password_authentication == 1);
    CHECK(o->pubkey_authentication == 0 || o->pubkey_authentication == 1);
    CHECK(o->permit_root_login >= PRL_NO && o->permit_root_login <= PRL_FORCED_ONLY);
    CHECK(o->allow_tcp_forwarding >= FWA_NO && o->allow_tcp_forwarding <= FWA_REMOTE);
    CHECK(o->allow_streamlocal_forwarding >= FWA_NO &&
          o->allow_streamlocal_forwarding <= FWA_REMOTE);
    CHECK(o->gateway_ports >= GWP_NO && o->gateway_ports <= GWP_CLIENTSPECIFIED);
    CHECK(o->max_sessions >= 0 && o->max_auth_tries >= 0);
    CHECK(o->client_alive_interval >= 0 && o->client_alive_count_max >= 0);
    CHECK(o->unused_connection_timeout >= 0);
    /* The permission lists take any target without crashing. */
    int r = tun_permit_match(o->permit_open, o->n_permit_open, "db.example.com", 5432);
    CHECK(r == 0 || r == 1);
    r = tun_permit_match(o->permit_listen, o->n_permit_listen, "localhost", 0);
    CHECK(r == 0 || r == 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FILE *devnull = fuzz_tun_devnull();
    if (size < 1)
        return 0;
    int mode = data[0] & 1;
    const char *user = users[(data[0] >> 1) & 3];
    const char *addr = addrs[(data[0] >> 3) & 3];
    const char *text = (const char *)data + 1;
    size_t len = size - 1;

    tun_srvcfg c;
    tun_srvcfg_init(&c);
    int rv;
    if (mode == 0) {
        rv = tun_srvcfg_read_mem(&c, text, len, "fuzz_config");
    } else {
        rv = 0;
        char *copy = malloc(len + 1);
        CHECK(copy != NULL);
        memcpy(copy, text, len);
        copy[len] = '\0';
        char *save = NULL;
        for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            int r = tun_srvcfg_apply(&c, line, "command-line");
            CHECK(r == 0 || r == -1);
            if (r != 0)
                rv = -1;
        }
        free(copy);
    }
    CHECK(rv == 0 || rv == -1);
    if (rv == 0 && tun_srvcfg_finish(&c) == 0) {
        CHECK(c.n_ports >= 1 && c.n_ports <= TUN_SRV_MAX_LIST);
        for (int i = 0; i < c.n_ports; i++)
            CHECK(c.ports[i] >= 0 && c.ports[i] <= 65535);
        check_list(c.listen_addresses, c.n_listen_addresses);
        check_list(c.host_keys, c.n_host_keys);
        check_list(c.subsystem_name, c.n_subsystems);
        check_list(c.subsystem_command, c.n_subsystems);
        CHECK(c.max_startups_begin >= 0 && c.max_startups_rate >= 0 &&
              c.max_startups_rate <= 100);
        CHECK(c.max_startups_full >= c.max_startups_begin);
        CHECK(c.login_grace_time >= 0 && c.max_channels >= 0);
        CHECK(c.rekey_bytes >= 0 && c.rekey_seconds >= 0);
        /* NULL: the engine's defaults; a list given is never empty. */
        CHECK(c.ciphers == NULL || c.ciphers[0] != '\0');
        CHECK(c.macs == NULL || c.macs[0] != '\0');
        CHECK(c.kex_algorithms == NULL || c.kex_algorithms[0] != '\0');
        CHECK(c.hostkey_algorithms == NULL || c.hostkey_algorithms[0] != '\0');
        tun_srvcfg_dump(&c, devnull);
        tun_srvopts o;
        tun_srvcfg_for(&c, user, addr, &o);
        check_opts(&o);
        tun_srvopts_release(&o);
        check_opts(&c.global);
    }
    tun_srvcfg_free(&c);
    return 0;
}
