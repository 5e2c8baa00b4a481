/*
 * sshtund_main.c - command line and life cycle of the sshtund server.
 *
 *   sshtund [-DdeqTt] [-E log_file] [-f config_file] [-h host_key_file]
 *           [-o option] [-p port]
 *
 * Start-up order matters for privilege separation (root only):
 *   1. read the configuration and host keys (as root);
 *   2. detach (unless -D/-d);
 *   3. fork the privileged helper, before any other watcher exists;
 *   4. bind the listening ports and write the PidFile;
 *   5. drop the network process to SshtundUser for good;
 *   6. start the resolver and signal watchers, and run the loop.
 * Started by an ordinary user, there is no helper and no drop: the server
 * serves that one user.
 *
 * SIGHUP re-reads the configuration and host keys (through the helper,
 * which alone can read them after the drop) for new connections.  SIGTERM
 * or SIGINT stop listening; the server exits when its last connection
 * ends, or at once on a second signal.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* asprintf */
#endif
#include "tun_log.h"
#include "tun_priv.h"
#include "tun_privproto.h"
#include "tun_sandbox.h"
#include "tun_srv.h"
#include "tun_trim.h"
#include "tun_util.h"
#include "tun_workers.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "sshtun/cert.h"

#define DEFAULT_CONFIG "/etc/sshtund/sshtund_config"
#define MAX_ARGS       128
#define FILE_MAX       (1024 * 1024)
#define BANNER_MAX     (64 * 1024) /* fits one packet with room to spare */

/* What the command line says; the loader runs it again on every reload. */
typedef struct args {
    const char *config;
    int config_given;
    const char *lines[MAX_ARGS]; /* -o, -p and -h as configuration lines */
    char *owned[MAX_ARGS];
    int n_lines;
} args;

static tun_server server;
static args g_args;
static int debug_level;
static int log_stderr;

static void usage(void)
{
    fprintf(stderr, "usage: sshtund [-DdeqTt] [-E log_file] [-f config_file] [-h host_key_file]\n"
                    "               [-o option] [-p port]\n");
}

/* ---- configuration loading ------------------------------------------------------------------------ */

/* Build a configuration from the command line and the file's text; Include
 * recorded into `incs`, or with `replay` read from it (tun_srvconfig.h). */
static int build_cfg(const args *a, tun_srvcfg *cfg, const uint8_t *text, size_t len, int have_file,
                     tun_srvcfg_incs *incs, int replay)
{
    tun_srvcfg_init(cfg);
    tun_srvcfg_incs_use(cfg, incs, replay);
    for (int i = 0; i < a->n_lines; i++)
        if (tun_srvcfg_apply(cfg, a->lines[i], "command line") != 0)
            return -1;
    if (have_file && tun_srvcfg_read_mem(cfg, (const char *)text, len, a->config) != 0)
        return -1;
    return tun_srvcfg_finish(cfg);
}

/* The loader (privileged side): the configuration file's text plus the
 * contents of every host key file it names. */
static int load_bundle(void *ctx, ssh_buf *out)
{
    const args *a = ctx;
    uint8_t *text = NULL;
    size_t len = 0;
    int have_file = 1;
    if (tun_read_file(a->config, FILE_MAX, &text, &len) != 0) {
        if (a->config_given || errno != ENOENT) {
            tun_error("%s: %s", a->config, strerror(errno));
            return -1;
        }
        have_file = 0;
    }
    tun_srvcfg cfg;
    tun_srvcfg_incs *incs = tun_srvcfg_incs_new();
    if (incs == NULL) {
        free(text);
        return -1;
    }
    int rv = build_cfg(a, &cfg, text, len, have_file, incs, 0);
    if (rv == 0) {
        ssh_buf_put_bool(out, have_file);
        ssh_buf_put_string(out, have_file ? text : (const uint8_t *)"", have_file ? len : 0);
        /* what Include read, for the network process (which sees only
         * /etc) to parse the same */
        if (tun_srvcfg_incs_put(incs, out) != 0)
            rv = -1;
        ssh_buf_put_u32(out, (uint32_t)cfg.n_host_keys);
        for (int i = 0; i < cfg.n_host_keys; i++) {
            uint8_t *k = NULL;
            size_t kl = 0;
            ssh_buf_put_cstring(out, cfg.host_keys[i]);
            if (tun_read_file(cfg.host_keys[i], FILE_MAX, &k, &kl) != 0) {
                ssh_buf_put_bool(out, 0);
                ssh_buf_put_cstring(out, strerror(errno));
                continue;
            }
            ssh_buf_put_bool(out, 1);
            ssh_buf_put_string(out, k, kl);
            tun_free_secret(k, kl);
        }
        /* Banner files, read here like the host keys (sshd reads them in
         * its monitor): the network process opens no files. */
        const char *bp[TUN_SRV_MAX_LIST];
        int nb = tun_srvcfg_banners(&cfg, bp, TUN_SRV_MAX_LIST);
        ssh_buf_put_u32(out, (uint32_t)nb);
        for (int i = 0; i < nb; i++) {
            uint8_t *t = NULL;
            size_t tl = 0;
            ssh_buf_put_cstring(out, bp[i]);
            if (tun_read_file(bp[i], BANNER_MAX, &t, &tl) != 0) {
                ssh_buf_put_bool(out, 0);
                ssh_buf_put_cstring(out, errno == EFBIG ? "larger than 64 KiB" : strerror(errno));
                continue;
            }
            ssh_buf_put_bool(out, 1);
            ssh_buf_put_string(out, t, tl);
            free(t);
        }
        /* HostCertificate files (public, read here like the keys). */
        ssh_buf_put_u32(out, (uint32_t)cfg.n_host_certificates);
        for (int i = 0; i < cfg.n_host_certificates; i++) {
            uint8_t *t = NULL;
            size_t tl = 0;
            ssh_buf_put_cstring(out, cfg.host_certificates[i]);
            if (tun_read_file(cfg.host_certificates[i], FILE_MAX, &t, &tl) != 0) {
                ssh_buf_put_bool(out, 0);
                ssh_buf_put_cstring(out, strerror(errno));
                continue;
            }
            ssh_buf_put_bool(out, 1);
            ssh_buf_put_string(out, t, tl);
            free(t);
        }
    }
    tun_srvcfg_free(&cfg);
    tun_srvcfg_incs_free(incs);
    free(text);
    return rv;
}

/* HostCertificate: a host certificate whose key is one of the host keys
 * already loaded, which then also presents the certificate (sshd's rule:
 * the certificate's key must match a HostKey).  A certificate that does
 * not fit is skipped with sshd's message. */
static void add_host_certificate(tun_srvsettings *s, const char *path, const char *text, size_t len)
{
    ssh_key *cert = NULL;
    int rv = ssh_key_parse_public_line(text, len, &cert, NULL);
    if (rv != 0 || !ssh_key_is_cert(cert)) {
        tun_error("Could not load host certificate \"%s\": %s", path,
                  rv ? ssh_strerror(rv) : "not a certificate");
        ssh_key_free(cert);
        return;
    }
    if (ssh_cert_type(ssh_key_cert(cert)) != SSH_CERT_TYPE_HOST) {
        tun_error("Could not load host certificate \"%s\": not a host certificate", path);
        ssh_key_free(cert);
        return;
    }
    size_t n = s->n_keys;
    for (size_t j = 0; j < n; j++) {
        if (ssh_key_is_cert(s->keys[j]) && ssh_key_equal_public(s->keys[j], cert)) {
            tun_error("Ignoring host certificate %s: already loaded", path);
            break;
        }
        ssh_key *both = NULL;
        if (ssh_key_is_cert(s->keys[j]) || ssh_key_with_cert(s->keys[j], cert, &both) != 0)
            continue;
        if (s->n_keys >= TUN_SRV_MAX_LIST) {
            ssh_key_free(both);
            break;
        }
        tun_debug("loaded host certificate %s: %s (key %s)", path, ssh_key_type_name(both),
                  ssh_cert_key_id(ssh_key_cert(both)));
        s->keys[s->n_keys++] = both;
        ssh_key_free(cert);
        return;
    }
    tun_error("Certificate %s does not match any host key; skipping", path);
    ssh_key_free(cert);
}

/* The network side: settings from a bundle.  NULL after messages. */
static tun_srvsettings *settings_from_bundle(const args *a, const uint8_t *data, size_t len)
{
    ssh_cur c;
    ssh_cur_init(&c, data, len);
    int have_file;
    const uint8_t *text;
    size_t tl;
    uint32_t n;
    tun_srvcfg_incs *incs = NULL;
    if (ssh_cur_get_bool(&c, &have_file) != 0 || ssh_cur_get_string(&c, &text, &tl) != 0 ||
        (incs = tun_srvcfg_incs_get(&c)) == NULL || ssh_cur_get_u32(&c, &n) != 0) {
        tun_error("bad configuration bundle");
        tun_srvcfg_incs_free(incs);
        return NULL;
    }
    tun_srvsettings *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        tun_srvcfg_incs_free(incs);
        return NULL;
    }
    s->refs = 1;
    /* Include from what the privileged side read, never from the files
     * (this process may see only /etc). */
    int bad = build_cfg(a, &s->cfg, text, tl, have_file, incs, 1) != 0;
    tun_srvcfg_incs_use(&s->cfg, NULL, 0);
    tun_srvcfg_incs_free(incs);
    if (bad) {
        tun_srvcfg_free(&s->cfg);
        free(s);
        return NULL;
    }
    for (uint32_t i = 0; i < n; i++) {
        char path[1024];
        int ok;
        const uint8_t *k;
        size_t kl;
        if (ssh_cur_get_cstr(&c, path, sizeof(path)) != 0 || ssh_cur_get_bool(&c, &ok) != 0 ||
            ssh_cur_get_string(&c, &k, &kl) != 0)
            break;
        if (!ok) {
            tun_error("Unable to load host key: %s: %.*s", path, (int)kl, (const char *)k);
            continue;
        }
        ssh_key *key = NULL;
        /* A private key file (the privileged side), or the public blob
         * publish_bundle() put there (the network process). */
        int rv = ssh_key_parse_private(k, kl, NULL, &key, NULL);
        if (rv != 0 && ssh_key_from_blob(k, kl, &key) == 0)
            rv = 0;
        if (rv != 0) {
            tun_error("Unable to load host key \"%s\": %s", path, ssh_strerror(rv));
            continue;
        }
        int dup = 0;
        for (size_t j = 0; j < s->n_keys; j++)
            if (ssh_key_type(s->keys[j]) == ssh_key_type(key))
                dup = 1;
        if (dup || s->n_keys >= TUN_SRV_MAX_LIST) {
            tun_error("Ignoring host key %s: a key of this type is already loaded", path);
            ssh_key_free(key);
            continue;
        }
        tun_debug("loaded host key %s: %s", path, ssh_key_type_name(key));
        s->keys[s->n_keys++] = key;
    }
    if (ssh_cur_get_u32(&c, &n) != 0)
        n = 0;
    for (uint32_t i = 0; i < n && s->n_banners < TUN_SRV_MAX_LIST; i++) {
        char path[1024];
        int ok;
        const uint8_t *bt;
        size_t btl;
        if (ssh_cur_get_cstr(&c, path, sizeof(path)) != 0 || ssh_cur_get_bool(&c, &ok) != 0 ||
            ssh_cur_get_string(&c, &bt, &btl) != 0)
            break;
        if (!ok)
            tun_error("Banner %s: %.*s; no banner is sent", path, (int)btl, (const char *)bt);
        char *btext = ok ? strndup((const char *)bt, btl) : NULL;
        char *p = strdup(path);
        if (p == NULL || (ok && btext == NULL)) {
            free(p);
            free(btext);
            break;
        }
        s->banner_path[s->n_banners] = p;
        s->banner_text[s->n_banners++] = btext;
    }
    if (ssh_cur_get_u32(&c, &n) != 0)
        n = 0;
    for (uint32_t i = 0; i < n; i++) {
        char path[1024];
        int ok;
        const uint8_t *t;
        size_t ctl;
        if (ssh_cur_get_cstr(&c, path, sizeof(path)) != 0 || ssh_cur_get_bool(&c, &ok) != 0 ||
            ssh_cur_get_string(&c, &t, &ctl) != 0)
            break;
        if (!ok) {
            tun_error("Could not load host certificate \"%s\": %.*s", path, (int)ctl,
                      (const char *)t);
            continue;
        }
        add_host_certificate(s, path, (const char *)t, ctl);
    }
    if (s->n_keys == 0) {
        tun_error("sshtund: no hostkeys available -- exiting.");
        tun_srvsettings_unref(s);
        return NULL;
    }
    return s;
}

/* What the network process gets of a bundle: every host key replaced by
 * its public blob (a key that does not parse is passed on as it is, for
 * its error message). */
/* Copy one list of files of the bundle (u32 count, then per file: string
 * path, bool ok, string text) from `c` to `out` unchanged. */
static int copy_file_list(ssh_cur *c, ssh_buf *out)
{
    uint32_t n;
    if (ssh_cur_get_u32(c, &n) != 0)
        return -1;
    ssh_buf_put_u32(out, n);
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *path, *t;
        size_t pl, tl;
        int ok;
        if (ssh_cur_get_string(c, &path, &pl) != 0 || ssh_cur_get_bool(c, &ok) != 0 ||
            ssh_cur_get_string(c, &t, &tl) != 0)
            return -1;
        ssh_buf_put_string(out, path, pl);
        ssh_buf_put_bool(out, ok);
        ssh_buf_put_string(out, t, tl);
    }
    return 0;
}

static int publish_bundle(void *ctx, const uint8_t *data, size_t len, ssh_buf *out)
{
    (void)ctx;
    ssh_cur c;
    int have_file;
    const uint8_t *text;
    size_t tl;
    uint32_t n;
    ssh_cur_init(&c, data, len);
    tun_srvcfg_incs *incs = NULL;
    if (ssh_cur_get_bool(&c, &have_file) != 0 || ssh_cur_get_string(&c, &text, &tl) != 0 ||
        (incs = tun_srvcfg_incs_get(&c)) == NULL || ssh_cur_get_u32(&c, &n) != 0) {
        tun_srvcfg_incs_free(incs);
        return -1;
    }
    ssh_buf_put_bool(out, have_file);
    ssh_buf_put_string(out, text, tl);
    int bad = tun_srvcfg_incs_put(incs, out) != 0;
    tun_srvcfg_incs_free(incs);
    if (bad)
        return -1;
    ssh_buf_put_u32(out, n);
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *path, *k;
        size_t pl, kl;
        int ok;
        if (ssh_cur_get_string(&c, &path, &pl) != 0 || ssh_cur_get_bool(&c, &ok) != 0 ||
            ssh_cur_get_string(&c, &k, &kl) != 0)
            return -1;
        ssh_buf_put_string(out, path, pl);
        ssh_key *key = NULL;
        ssh_buf blob;
        ssh_buf_init(&blob, 65536, 0);
        if (ok && ssh_key_parse_private(k, kl, NULL, &key, NULL) == 0 &&
            ssh_key_to_blob(key, &blob) == 0) {
            ssh_buf_put_bool(out, 1);
            ssh_buf_put_stringb(out, &blob);
        } else {
            ssh_buf_put_bool(out, ok);
            ssh_buf_put_string(out, ok ? (const uint8_t *)"" : k, ok ? 0 : kl);
        }
        ssh_key_free(key);
        ssh_buf_free(&blob);
    }
    /* The Banner texts follow as they are (nothing secret in them), and so
     * do the host certificates (public). */
    if (copy_file_list(&c, out) != 0 || copy_file_list(&c, out) != 0)
        return -1;
    return ssh_cur_end(&c) == 0 ? 0 : -1;
}

/* The network process keeps public host keys only: the privileged side
 * signs (tun_priv_sign).  0, or -1 if a key cannot be converted. */
static int keep_public_keys(tun_srvsettings *s)
{
    for (size_t i = 0; i < s->n_keys; i++) {
        ssh_buf blob;
        ssh_key *pub = NULL;
        ssh_buf_init(&blob, 65536, 0);
        int rv = ssh_key_to_blob(s->keys[i], &blob);
        if (rv == 0)
            rv = ssh_key_from_blob(ssh_buf_ptr(&blob), ssh_buf_len(&blob), &pub);
        ssh_buf_free(&blob);
        if (rv != 0)
            return -1;
        ssh_key_free(s->keys[i]);
        s->keys[i] = pub;
    }
    return 0;
}

/* The privileged side's parser: the same settings, for its own decisions. */
static tun_srvsettings *parse_bundle(void *ctx, const uint8_t *data, size_t len)
{
    return settings_from_bundle(ctx, data, len);
}

static tun_srvsettings *load_settings_now(const args *a)
{
    ssh_buf b;
    ssh_buf_init(&b, 16u * 1024 * 1024, SSH_BUF_SECRET);
    tun_srvsettings *s = NULL;
    if (load_bundle((void *)a, &b) == 0)
        s = settings_from_bundle(a, ssh_buf_ptr(&b), ssh_buf_len(&b));
    ssh_buf_free(&b);
    return s;
}

static void apply_log_level(const tun_srvcfg *cfg)
{
    if (debug_level > 0)
        tun_log_set_level((enum tun_log_level)(TUN_LOG_DEBUG1 + (debug_level > 3 ? 2 : debug_level - 1)));
    else
        tun_log_set_level((enum tun_log_level)cfg->log_level);
}

/* ---- signals ---------------------------------------------------------------------------------------- */

static int same_listen(const tun_srvcfg *a, const tun_srvcfg *b)
{
    if (a->n_ports != b->n_ports || a->n_listen_addresses != b->n_listen_addresses ||
        a->address_family != b->address_family)
        return 0;
    for (int i = 0; i < a->n_ports; i++)
        if (a->ports[i] != b->ports[i])
            return 0;
    for (int i = 0; i < a->n_listen_addresses; i++)
        if (strcmp(a->listen_addresses[i], b->listen_addresses[i]) != 0)
            return 0;
    return 1;
}

static int worker_index = -1; /* several workers: this one's */

static void on_loaded(void *arg, int ok, const uint8_t *data, size_t len)
{
    tun_srvsettings *s = ok ? settings_from_bundle(&g_args, data, len) : NULL;
    if (arg != NULL) {
        /* A worker started after a SIGHUP: the configuration as reloaded. */
        if (s == NULL) {
            tun_error("worker %d: cannot read the reloaded configuration; using the one sshtund "
                      "started with",
                      worker_index);
            return;
        }
        apply_log_level(&s->cfg);
        tun_server_set_settings(&server, s);
        tun_srvsettings_unref(s);
        return;
    }
    if (s == NULL) {
        tun_error("Received SIGHUP, but the new configuration is not usable; keeping the "
                  "current one");
        return;
    }
    if (!same_listen(&s->cfg, &server.set->cfg) && worker_index <= 0)
        tun_info("Port, ListenAddress and AddressFamily changes take effect after a restart");
    if (s->cfg.workers != server.set->cfg.workers && worker_index <= 0)
        tun_info("A Workers change takes effect after a restart");
    apply_log_level(&s->cfg);
    tun_server_set_settings(&server, s);
    tun_srvsettings_unref(s);
    if (worker_index >= 0)
        tun_info("worker %d: configuration reloaded for new connections", worker_index);
    else
        tun_info("Received SIGHUP; configuration reloaded for new connections");
}

static void on_sighup(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
    if (tun_priv_load(server.priv, on_loaded, NULL) != 0)
        tun_error("Received SIGHUP, but the configuration could not be read");
}

static void on_idle(tun_server *s)
{
    ev_break(s->loop, EVBREAK_ALL);
}

static void on_sigterm(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)revents;
    if (server.stopping) {
        tun_info("Received signal %d; closing %u connections", w->signum, server.n_conns);
        tun_server_close_all(&server, "server shutting down");
        ev_break(loop, EVBREAK_ALL);
        return;
    }
    tun_info("Received signal %d; no longer accepting connections%s", w->signum,
             server.n_conns ? ", exiting when the last one ends" : "");
    tun_server_stop_listening(&server);
}

/* Several workers: the supervisor's SIGUSR1 (stop accepting, exit after
 * the last connection) and SIGUSR2 (close everything now). */
static void on_worker_stop(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)revents;
    if (w->signum == SIGUSR2) {
        if (server.n_conns)
            tun_info("worker %d: closing %u connections", worker_index, server.n_conns);
        tun_server_close_all(&server, "server shutting down");
        ev_break(loop, EVBREAK_ALL);
        return;
    }
    if (server.stopping)
        return;
    if (server.n_conns)
        tun_info("worker %d: exiting when the last of its %u connections ends", worker_index,
                 server.n_conns);
    tun_server_stop_listening(&server);
}

static void write_pidfile(const char *path, int root);

/* ---- workers ------------------------------------------------------------------------------------- */

typedef struct worker_ctx {
    const char *netuser;
    int root;
} worker_ctx;

/* A worker: the network process of one libev loop, with its share of the
 * listening sockets (forked from the supervisor, whose loop it takes
 * over). */
static void worker_main(int index, int sock, int reloaded, void *arg)
{
    worker_ctx *w = arg;
    worker_index = index;
    struct ev_loop *loop = server.loop;
    ev_loop_fork(loop);
    char name[16];
    snprintf(name, sizeof(name), "sshtund-w%d", index);
    prctl(PR_SET_NAME, name, 0, 0, 0);
    /* Stopping is the supervisor's to order (SIGUSR1/2): a signal to the
     * whole group must count once. */
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    tun_server_keep_listeners(&server, index);
    server.priv = tun_priv_attach(loop, sock, tun_server_child_exited, &server);
    if (server.priv == NULL) {
        tun_error("worker %d: cannot start: %s", index, strerror(errno));
        _exit(255);
    }
    tun_priv_set_verdict(server.priv, tun_server_verdict, &server);
    server.res = tun_resolver_new(loop);
    if (server.res == NULL)
        _exit(255);
    if (w->root) {
        char why[256];
        if (tun_sandbox_enter(w->netuser, why, sizeof(why)) != 0) {
            tun_error("sshtund: worker %d: cannot drop privileges to %s: %s", index, w->netuser,
                      why);
            _exit(255);
        }
    }
    ev_signal shup, susr1, susr2;
    ev_signal_init(&shup, on_sighup, SIGHUP);
    ev_signal_init(&susr1, on_worker_stop, SIGUSR1);
    ev_signal_init(&susr2, on_worker_stop, SIGUSR2);
    ev_signal_start(loop, &shup);
    ev_signal_start(loop, &susr1);
    ev_signal_start(loop, &susr2);
    if (reloaded && tun_priv_load(server.priv, on_loaded, &server) != 0)
        tun_error("worker %d: cannot ask for the reloaded configuration", index);
    if (w->root)
        tun_debug("worker %d (pid %ld): network process running as %s", index, (long)getpid(),
                  w->netuser);
    else
        tun_debug("worker %d (pid %ld) running", index, (long)getpid());
    ev_run(loop, 0);
    tun_server_close_all(&server, "server shutting down");
    tun_resolver_free(server.res);
    tun_priv_free(server.priv);
    tun_srvsettings_unref(server.set);
    for (int i = 0; i < g_args.n_lines; i++)
        free(g_args.owned[i]);
    exit(0);
}

static void supervisor_stop_listening(void *arg)
{
    (void)arg;
    tun_server_stop_listening(&server);
}

/* Workers N > 1: the supervisor (tun_workers.h). */
static int run_workers(int root, const char *netuser, const char *pid_file, tun_priv_conf *conf)
{
    int n = server.set->cfg.workers;
    server.workers = n;
    sigset_t old;
    tun_workers_block_signals(&old);
    int sp[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) != 0) {
        tun_error("sshtund: cannot start the privileged helper: %s", strerror(errno));
        return 255;
    }
    pid_t helper = fork();
    if (helper < 0) {
        tun_error("sshtund: cannot start the privileged helper: %s", strerror(errno));
        return 255;
    }
    if (helper == 0) {
        close(sp[0]);
        sigprocmask(SIG_SETMASK, &old, NULL);
        tun_privd_helper_main_multi(sp[1], root, server.set, conf);
    }
    close(sp[1]);
    /* The helper has the private host keys; the supervisor and the
     * workers it forks keep the public halves only. */
    if (keep_public_keys(server.set) != 0) {
        tun_error("sshtund: cannot keep only the public host keys");
        return 255;
    }
    if (tun_server_listen(&server) != 0) {
        close(sp[0]);
        waitpid(helper, NULL, 0);
        return 255;
    }
    write_pidfile(pid_file, root);
    worker_ctx wc = {netuser, root};
    tun_workers_conf c = {n, worker_main, supervisor_stop_listening, &wc};
    tun_info("sshtund %s ready: %s mode, %d workers, %u listening sockets each", SSHTUN_VERSION,
             root ? "privilege-separated" : "single-user", n,
             (unsigned)(server.n_listeners / (size_t)n));
    int rv = tun_workers_run(&c, sp[0], helper, &old);
    tun_info("sshtund: %s", rv == 0 ? "all workers have ended; exiting" : "exiting");
    tun_srvsettings_unref(server.set);
    for (int i = 0; i < g_args.n_lines; i++)
        free(g_args.owned[i]);
    return rv;
}

/* ---- start-up ---------------------------------------------------------------------------------------- */

static int add_line(args *a, const char *keyword, const char *v)
{
    if (a->n_lines >= MAX_ARGS) {
        fprintf(stderr, "sshtund: too many options\n");
        return -1;
    }
    char *l;
    if (asprintf(&l, "%s%s%s", keyword, keyword[0] ? " " : "", v) < 0)
        return -1;
    a->owned[a->n_lines] = l;
    a->lines[a->n_lines++] = l;
    return 0;
}

static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int daemonize(void)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid > 0)
        _exit(0);
    if (setsid() < 0)
        return -1;
    int fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
        dup2(fd, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        if (fd > 2)
            close(fd);
    }
    if (chdir("/") != 0)
        return -1;
    return 0;
}

/* `path` made absolute against the directory sshtund started in (a
 * detached server works from "/"); a static buffer, or `path` itself. */
static const char *absolute(const char *path, char *buf, size_t len)
{
    char cwd[PATH_MAX];
    if (path == NULL || path[0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL)
        return path;
    if ((size_t)snprintf(buf, len, "%s/%s", cwd, path) >= len)
        return path;
    return buf;
}

static void write_pidfile(const char *path, int root)
{
    if (path == NULL || strcmp(path, "none") == 0)
        return;
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        /* An ordinary user cannot write the default /run/sshtund.pid; only
         * a PidFile they configured is worth an error. */
        if (root || strcmp(path, "/run/sshtund.pid") != 0)
            tun_error("Couldn't create pid file \"%s\": %s", path, strerror(errno));
        else
            tun_debug("Couldn't create pid file \"%s\": %s", path, strerror(errno));
        return;
    }
    fprintf(f, "%ld\n", (long)getpid());
    fclose(f);
}

int main(int argc, char **argv)
{
    int foreground = 0, test = 0, dump = 0, quiet = 0;
    const char *logfile = NULL;
    args *a = &g_args;
    a->config = DEFAULT_CONFIG;
    int ch;
    while ((ch = getopt(argc, argv, "DdeqTtE:f:h:o:p:")) != -1) {
        switch (ch) {
        case 'D': foreground = 1; break;
        case 'd': debug_level++; foreground = 1; log_stderr = 1; break;
        case 'e': log_stderr = 1; break;
        case 'q': quiet = 1; break;
        case 'T': dump = 1; test = 1; break;
        case 't': test = 1; break;
        case 'E': logfile = optarg; break;
        case 'f': {
            /* SIGHUP re-reads it after the detached server chdir()ed to "/". */
            static char cfgbuf[PATH_MAX];
            a->config = absolute(optarg, cfgbuf, sizeof(cfgbuf));
            a->config_given = 1;
            break;
        }
        case 'h':
            if (add_line(a, "HostKey", optarg) != 0)
                return 255;
            break;
        case 'o':
            if (add_line(a, "", optarg) != 0)
                return 255;
            break;
        case 'p': {
            char *end;
            long p = strtol(optarg, &end, 10);
            if (*end != '\0' || p <= 0 || p > 65535) {
                fprintf(stderr, "sshtund: Bad port number \"%s\".\n", optarg);
                return 255;
            }
            if (add_line(a, "Port", optarg) != 0)
                return 255;
            break;
        }
        default:
            usage();
            return 255;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "sshtund: extra argument %s.\n", argv[optind]);
        usage();
        return 255;
    }
    if (quiet)
        tun_log_set_level(TUN_LOG_QUIET);
    if (logfile) {
        if (tun_log_open_file(logfile) != 0) {
            fprintf(stderr, "sshtund: %s: %s\n", logfile, strerror(errno));
            return 255;
        }
        tun_log_set_stamp(1);
    }
    if (debug_level)
        tun_log_set_level(TUN_LOG_DEBUG1);

    signal(SIGPIPE, SIG_IGN);
    tun_signals_reset_inherited();
    tun_trim_setup();
    int root = geteuid() == 0;
    tun_srvsettings *set = load_settings_now(a);
    if (set == NULL)
        return 255;
    if (!quiet)
        apply_log_level(&set->cfg);
    if (dump)
        tun_srvcfg_dump(&set->cfg, stdout);
    if (test) {
        tun_srvsettings_unref(set);
        return 0;
    }

    struct passwd *self = getpwuid(getuid());
    if (self == NULL) {
        tun_error("sshtund: cannot find my own user (uid %ld)", (long)getuid());
        return 255;
    }
    snprintf(server.self_user, sizeof(server.self_user), "%s", self->pw_name);
    /* The network process's user: SshtundUser, by default "sshtund" (the
     * package creates it: a user of its own, not nobody, which other
     * daemons share and could signal or trace).  A default that does not
     * exist falls back to nobody, and says so; a configured one that does
     * not exist is an error. */
    char netuser[64];
    snprintf(netuser, sizeof(netuser), "%s", set->cfg.sshtund_user);
    if (root && getpwnam(netuser) == NULL) {
        if (!set->cfg.sshtund_user_default) {
            tun_error("sshtund: SshtundUser %s does not exist", netuser);
            tun_srvsettings_unref(set);
            return 255;
        }
        tun_info("sshtund: user %s does not exist (create it: adduser --system --group "
                 "--no-create-home sshtund); the network process runs as nobody",
                 netuser);
        snprintf(netuser, sizeof(netuser), "nobody");
    }
    raise_fd_limit();
    char pidbuf[PATH_MAX];
    const char *pid_file = strcmp(set->cfg.pid_file, "none") == 0
                               ? "none"
                               : absolute(set->cfg.pid_file, pidbuf, sizeof(pidbuf));
    if (!foreground && daemonize() != 0) {
        tun_error("sshtund: cannot detach: %s", strerror(errno));
        return 255;
    }
    if (!log_stderr && logfile == NULL && !foreground)
        tun_log_set_syslog("sshtund", LOG_AUTH);

    struct ev_loop *loop = EV_DEFAULT;
    server.loop = loop;
    server.root = root;
    server.idle = on_idle;
    tun_server_set_settings(&server, set);
    tun_srvsettings_unref(set);
    tun_priv_conf conf = {load_bundle, parse_bundle, publish_bundle, a};
    if (server.set->cfg.workers > TUN_SRV_MAX_WORKERS) {
        tun_error("sshtund: Workers %d: at most %d", server.set->cfg.workers,
                  TUN_SRV_MAX_WORKERS);
        return 255;
    }
    if (server.set->cfg.workers > 1)
        return run_workers(root, netuser, pid_file, &conf);
    server.priv = tun_priv_new(loop, root, server.set, tun_server_child_exited, &server, &conf);
    if (server.priv == NULL) {
        tun_error("sshtund: cannot start the privileged helper: %s", strerror(errno));
        return 255;
    }
    /* The helper has the private host keys now; this process keeps only
     * the public halves (in single-user mode the in-process privileged
     * side holds the private ones in its own copy of the settings). */
    if (root && keep_public_keys(server.set) != 0) {
        tun_error("sshtund: cannot keep only the public host keys");
        return 255;
    }
    if (tun_server_listen(&server) != 0)
        return 255;
    write_pidfile(pid_file, root);
    /* The resolver reads /etc/resolv.conf now, before the file system
     * goes away. */
    server.res = tun_resolver_new(loop);
    if (server.res == NULL)
        return 255;
    if (root) {
        char why[256];
        if (tun_sandbox_enter(netuser, why, sizeof(why)) != 0) {
            tun_error("sshtund: cannot drop privileges to %s: %s", netuser, why);
            return 255;
        }
        tun_debug("network process running as %s", netuser);
    }

    ev_signal shup, sterm, sint;
    ev_signal_init(&shup, on_sighup, SIGHUP);
    ev_signal_init(&sterm, on_sigterm, SIGTERM);
    ev_signal_init(&sint, on_sigterm, SIGINT);
    ev_signal_start(loop, &shup);
    ev_signal_start(loop, &sterm);
    ev_signal_start(loop, &sint);

    tun_info("sshtund %s ready: %s mode, %u listening sockets", SSHTUN_VERSION,
             root ? "privilege-separated" : "single-user", (unsigned)server.n_listeners);
    ev_run(loop, 0);

    tun_server_close_all(&server, "server shutting down");
    tun_resolver_free(server.res);
    tun_priv_free(server.priv);
    tun_srvsettings_unref(server.set);
    for (int i = 0; i < a->n_lines; i++)
        free(a->owned[i]);
    return 0;
}
