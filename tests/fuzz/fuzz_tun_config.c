/*
 * fuzz_tun_config.c - the client's ssh_config(5) reader and option parser
 * (tunnel/tun_config.h, tunnel/tun_options.h).
 *
 * Input: byte 0 picks the mode (low two bits) and the destination host
 * (next two bits); byte 1 is a selector for mode 3; the rest is text.
 *   mode 0, 1: the text is a configuration file read with
 *              tun_config_read_mem() (Include refused, Match exec never
 *              run), then tun_options_finish(), tun_options_expand(),
 *              tun_options_dump() to /dev/null, and the forwarding lists
 *              through tun_fwdspec_parse(), as sshtun_main.c does;
 *   mode 2:    every line goes to tun_options_apply() directly (and
 *              tun_options_split()/tun_options_known()), then the same
 *              finish/expand/dump;
 *   mode 3:    the first line is an algorithm spec for tun_alg_list()
 *              against the default and supported list byte 1 picks.
 * Checked: return codes are the documented ones, finished options are in
 * range (ports, counts, enums, every algorithm supported), and algorithm
 * lists obey the +/-/^ rules: no empty or duplicate names, nothing
 * unsupported, '-' only removes, '+' keeps the defaults first, '^' puts
 * the given names first.
 */
#include <string.h>
#include <strings.h>

#include "fuzz_tun.h"
#include "sshtun/buf.h"
#include "sshtun/conn.h"
#include "tun_config.h"
#include "tun_fwdspec.h"
#include "tun_knownhosts.h"
#include "tun_match.h"
#include "tun_options.h"

#define SUPPORTED_HOSTKEY SSH_DEFAULT_HOSTKEY_ALGS ",ssh-rsa,ssh-rsa-cert-v01@openssh.com" /* as tun_options.c */

static const char *const hosts[4] = {"example.com", "db1.internal.example.org", "10.1.2.3",
                                     "[fe80::1%eth0]"};

static const struct {
    const char *def, *supported, *what;
} alg_lists[5] = {
    {SSH_DEFAULT_CIPHERS, SSH_DEFAULT_CIPHERS, "cipher"},
    {SSH_DEFAULT_MACS, SSH_DEFAULT_MACS, "MAC"},
    {SSH_DEFAULT_KEX, SSH_DEFAULT_KEX, "KexAlgorithms"},
    {SSH_DEFAULT_HOSTKEY_ALGS, SUPPORTED_HOSTKEY, "HostKeyAlgorithms"},
    {SSH_DEFAULT_PUBKEY_ALGS, SUPPORTED_HOSTKEY, "PubkeyAcceptedAlgorithms"},
};

/* Every name of `list` is in `supported`, none is empty, none repeats. */
static void check_alg_list(const char *list, const char *supported)
{
    CHECK(list != NULL && list[0] != '\0');
    size_t n = strlen(list);
    CHECK(list[0] != ',' && list[n - 1] != ',' && strstr(list, ",,") == NULL);
    char *copy = strdup(list), *save = NULL;
    CHECK(copy != NULL);
    char *seen = calloc(1, n + 2);
    CHECK(seen != NULL);
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        CHECK(ssh_namelist_has(supported, t));
        CHECK(!ssh_namelist_has(seen, t));
        if (seen[0])
            strcat(seen, ",");
        strcat(seen, t);
    }
    free(seen);
    free(copy);
}

/* Is every name of `a` (in order) a prefix of the names of `b`? */
static int names_prefix(const char *a, const char *b)
{
    size_t la = strlen(a);
    if (la == 0)
        return 1;
    return strncmp(a, b, la) == 0 && (b[la] == '\0' || b[la] == ',');
}

static void fuzz_alg_list(const char *spec, unsigned sel)
{
    const char *def = alg_lists[sel % 5].def, *sup = alg_lists[sel % 5].supported;
    char *l = tun_alg_list(spec, def, sup, alg_lists[sel % 5].what);
    if (l == NULL)
        return;
    check_alg_list(l, sup);
    char mode = spec[0];
    if (mode == '-') {
        /* Only removes from the default, keeping its order. */
        char *copy = strdup(l), *save = NULL;
        CHECK(copy != NULL);
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            CHECK(ssh_namelist_has(def, t));
            CHECK(tun_match_pattern_list(t, spec + 1) != 1);
        }
        free(copy);
    } else if (mode == '+') {
        CHECK(names_prefix(def, l)); /* the defaults stay first */
    } else {
        /* '^' and a full list: the given names come first, in order and
         * without repeats. */
        const char *names = mode == '^' ? spec + 1 : spec;
        char *copy = strdup(names), *save = NULL, *expect = calloc(1, strlen(names) + 2);
        CHECK(copy != NULL && expect != NULL);
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            if (ssh_namelist_has(expect, t))
                continue;
            if (expect[0])
                strcat(expect, ",");
            strcat(expect, t);
        }
        CHECK(names_prefix(expect, l));
        if (mode != '^')
            CHECK(strcmp(expect, l) == 0);
        free(expect);
        free(copy);
    }
    free(l);
}

static void check_finished(const tun_options *o)
{
    CHECK(o->port >= 1 && o->port <= 65535);
    CHECK(o->n_identity_files >= 1 && o->n_identity_files <= TUN_MAX_LIST);
    CHECK(o->n_user_known_hosts >= 1 && o->n_user_known_hosts <= TUN_MAX_LIST);
    CHECK(o->n_global_known_hosts >= 1 && o->n_global_known_hosts <= TUN_MAX_LIST);
    CHECK(o->n_send_env >= 0 && o->n_send_env <= TUN_MAX_LIST);
    CHECK(o->n_set_env >= 0 && o->n_set_env <= TUN_MAX_LIST);
    CHECK(o->n_local_forwards >= 0 && o->n_local_forwards <= TUN_MAX_LIST);
    CHECK(o->n_remote_forwards >= 0 && o->n_remote_forwards <= TUN_MAX_LIST);
    CHECK(o->n_dynamic_forwards >= 0 && o->n_dynamic_forwards <= TUN_MAX_LIST);
    CHECK(o->strict_host_key_checking >= SHKC_NO && o->strict_host_key_checking <= SHKC_ASK);
    CHECK(o->request_tty >= TTY_NO && o->request_tty <= TTY_AUTO);
    CHECK(o->control_master >= 0 && o->control_master <= 4);
    CHECK(o->control_persist == -2 || o->control_persist >= 0);
    CHECK(o->log_level >= TUN_LOG_QUIET && o->log_level <= TUN_LOG_DEBUG3);
    CHECK(o->connection_attempts >= 1 && o->max_sessions >= 1);
    CHECK(o->connect_timeout >= 0 && o->server_alive_interval >= 0);
    CHECK(o->rekey_bytes >= 0 && o->rekey_seconds >= 0);
    CHECK(o->compression == 0 || o->compression == 1);
    CHECK(o->session_type >= SESSION_NONE && o->session_type <= SESSION_DEFAULT);
    CHECK(o->stdin_null == 0 || o->stdin_null == 1);
    CHECK(o->fork_after_authentication == 0 || o->fork_after_authentication == 1);
    CHECK(o->required_rsa_size >= 1024);
    CHECK(o->preferred_authentications != NULL);
    for (size_t i = 0; i < 5; i++) {
        const char *l = i == 0   ? o->ciphers
                        : i == 1 ? o->macs
                        : i == 2 ? o->kex_algorithms
                        : i == 3 ? o->hostkey_algorithms
                                 : o->pubkey_algorithms;
        check_alg_list(l, alg_lists[i].supported);
    }
}

static void fwd_list(char *const *v, int n, enum tun_fwd_kind kind)
{
    for (int i = 0; i < n; i++) {
        tun_fwdspec f;
        char buf[64];
        CHECK(v[i] != NULL);
        if (tun_fwdspec_parse(v[i], kind, &f) != 0)
            continue;
        tun_fwdspec_describe_listen(&f, buf, sizeof(buf));
        tun_fwdspec_describe_connect(&f, buf, sizeof(buf));
        tun_fwdspec_free(&f);
    }
}

/* What sshtun_main.c does after reading the configuration. */
static void finish(tun_options *o, const char *host)
{
    if (tun_options_finish(o) == 0) {
        check_finished(o);
        tun_options_report(o);
        if (tun_options_expand(o, host) == 0) {
            for (int i = 0; i < o->n_identity_files; i++)
                CHECK(o->identity_files[i] != NULL);
        }
        tun_options_dump(o, fuzz_tun_devnull());
        if (!o->clear_all_forwardings) {
            fwd_list(o->local_forwards, o->n_local_forwards, TUN_FWD_LOCAL);
            fwd_list(o->remote_forwards, o->n_remote_forwards, TUN_FWD_REMOTE);
            fwd_list(o->dynamic_forwards, o->n_dynamic_forwards, TUN_FWD_DYNAMIC);
        }
    } else {
        tun_options_dump(o, fuzz_tun_devnull());
    }
    tun_options_free(o);
}

static void apply_lines(tun_options *o, const char *text)
{
    const char *p = text;
    for (;;) {
        const char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p) : strlen(p);
        char *line = strndup(p, l);
        CHECK(line != NULL);
        char kw[64], val[4096];
        if (tun_options_split(line, kw, sizeof(kw), val, sizeof(val)) == 0) {
            CHECK(kw[0] != '\0' && strcspn(kw, " \t=") == strlen(kw));
            (void)tun_options_known(kw);
        }
        int rv = tun_options_apply(o, line, "fuzz: line 1");
        CHECK(rv == 0 || rv == -1 || rv == -2);
        free(line);
        if (!nl)
            break;
        p = nl + 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_tun_devnull();
    if (size < 2)
        return 0;
    unsigned mode = data[0] & 3, sel = data[1];
    const char *host = hosts[(data[0] >> 2) & 3];
    const char *text = (const char *)data + 2;
    size_t len = size - 2;
    /* The options parsers take C strings; the config reader stops at a NUL
     * itself. */
    char *str = strndup(text, len);
    CHECK(str != NULL);
    tun_options o;
    tun_options_init(&o);
    switch (mode) {
    case 0:
    case 1: {
        unsigned flags = TUN_CONFIG_NO_INCLUDE | TUN_CONFIG_NO_EXEC |
                         (mode == 1 ? TUN_CONFIG_USER : 0);
        int rv = tun_config_read_mem(&o, text, len, "fuzz_config", host, flags);
        CHECK(rv == 0 || rv == -1);
        finish(&o, host);
        break;
    }
    case 2:
        apply_lines(&o, str);
        finish(&o, host);
        break;
    default: {
        tun_options_free(&o);
        char *nl = strchr(str, '\n');
        if (nl)
            *nl = '\0';
        /* A configuration value is at most 4095 bytes (tun_options_apply). */
        if (strlen(str) > 4095)
            str[4095] = '\0';
        fuzz_alg_list(str, sel);
        break;
    }
    }
    free(str);
    return 0;
}
