/*
 * tun_client.c - the client's connection: resolution, Happy Eyeballs
 * connect, the engine, host key verification against known_hosts, and the
 * authentication driver.  The remote command runs in tun_session.c.
 *
 * Authentication order follows PreferredAuthentications (default
 * publickey, keyboard-interactive, password).  Unencrypted identities are
 * offered with a signature straight away (saving the query round trip);
 * encrypted ones are first offered unsigned, and the passphrase is asked
 * only if the server accepts the public key.
 */
#include "tun_client.h"
#include "tun_agent.h"
#include "tun_chan.h"
#include "tun_connect.h"
#include "tun_fwd.h"
#include "tun_knownhosts.h"
#include "tun_log.h"
#include "tun_prompt.h"
#include "tun_resolve.h"
#include "tun_session.h"
#include "tun_transport.h"
#include "tun_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#define KEYFILE_MAX (1024 * 1024)

typedef struct tun_identity {
    char *path;  /* file, or the agent's comment */
    ssh_key *pub;
    ssh_key *priv;
    int encrypted;
    int agent;   /* the agent holds the private half */
} tun_identity;

struct tun_client {
    struct ev_loop *loop;
    const tun_client_args *args;
    tun_options *o;
    const char *host;  /* HostName (what we connect to and look up) */
    char *user;
    tun_resolver *res;
    tun_lookup *lookup;
    tun_connector *connector;
    int attempts;
    ev_timer retry;
    ssh_conn *c;
    tun_transport t;
    tun_link link;
    int have_transport;
    tun_identity ids[2 * TUN_MAX_LIST];
    int n_ids;
    tun_agent *agent;
    int agent_pending; /* identities list requested, not answered yet */
    int auth_waiting;  /* auth_ready came before the agent's answer */
    /* authentication */
    char server_methods[512];
    int methods_known;
    char cur_method[32];
    int id_idx;
    int kbd_tries, pw_tries;
    int none_tried;
    int authenticated;
    /* forwarding */
    tun_fwd *fwd;
    int session_over;   /* the remote command ended (status below) */
    int session_status;
    int backgrounded;
    /* outcome */
    tun_session *sess;
    int exit_status;
    int finished;
    char errmsg[512];
};

/* ---- end of the program ------------------------------------------------------ */

static void finish(tun_client *cl, int status)
{
    if (cl->finished)
        return;
    cl->finished = 1;
    cl->exit_status = status;
    ev_break(cl->loop, EVBREAK_ALL);
}

void tun_client_fail(tun_client *cl, const char *fmt, ...)
{
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(cl->errmsg, sizeof(cl->errmsg), fmt, ap);
        va_end(ap);
        tun_log(TUN_LOG_ERROR, "%s", cl->errmsg);
    }
    finish(cl, 255);
    if (cl->c && ssh_conn_error(cl->c) == 0)
        ssh_conn_disconnect(cl->c, SSH_DISCONNECT_BY_APPLICATION, "disconnected by user");
    if (cl->have_transport)
        tun_transport_kick(&cl->t);
}

static void really_done(tun_client *cl, int status);

/* The remote command ended: exit with its status once forwarded
 * connections still open have drained, as ssh does. */
void tun_client_session_done(tun_client *cl, int status)
{
    cl->session_over = 1;
    cl->session_status = status;
    if (cl->fwd && tun_fwd_active(cl->fwd) > 0) {
        tun_debug("session ended; waiting for %d forwarded connections to close",
                  tun_fwd_active(cl->fwd));
        return;
    }
    really_done(cl, status);
}

static void really_done(tun_client *cl, int status)
{
    /* Record the outcome first: the disconnect below ends the transport,
     * whose callback must find the client finished. */
    finish(cl, status);
    if (cl->c && ssh_conn_error(cl->c) == 0)
        ssh_conn_disconnect(cl->c, SSH_DISCONNECT_BY_APPLICATION, "disconnected by user");
    if (cl->have_transport)
        tun_transport_kick(&cl->t);
}

tun_link *tun_client_link(tun_client *cl)
{
    return &cl->link;
}

struct ev_loop *tun_client_loop(tun_client *cl)
{
    return cl->loop;
}

const char *tun_client_host(tun_client *cl)
{
    return cl->host;
}

/* RequestTTY: whether this session gets a pty. */
static int want_tty(tun_client *cl, const char *command)
{
    switch (cl->o->request_tty) {
    case TTY_FORCE: return 1;
    case TTY_NO: return 0;
    case TTY_YES:
        if (isatty(0))
            return 1;
        tun_info("Pseudo-terminal will not be allocated because stdin is not a terminal.");
        return 0;
    default: return command == NULL && isatty(0);
    }
}

static void auth_next(tun_client *cl);

/* ---- identities ---------------------------------------------------------------- */

static void load_identities(tun_client *cl)
{
    for (int i = 0; i < cl->o->n_identity_files && cl->n_ids < TUN_MAX_LIST; i++) {
        char *path = tun_expand_home(cl->o->identity_files[i]);
        uint8_t *data;
        size_t len;
        if (path == NULL)
            continue;
        if (tun_read_file(path, KEYFILE_MAX, &data, &len) != 0) {
            tun_debug("no identity file %s", path);
            free(path);
            continue;
        }
        tun_identity *id = &cl->ids[cl->n_ids];
        int rv = ssh_key_parse_private(data, len, NULL, &id->priv, NULL);
        if (rv == 0) {
            rv = ssh_key_public(id->priv, &id->pub);
        } else if (rv == SSH_ERR_KEY_ENCRYPTED) {
            id->encrypted = 1;
            rv = ssh_key_parse_private_public(data, len, &id->pub);
        }
        tun_free_secret(data, len);
        if (rv != 0) {
            tun_error("Load key \"%s\": %s", path, ssh_strerror(rv));
            ssh_key_free(id->priv);
            memset(id, 0, sizeof(*id));
            free(path);
            continue;
        }
        id->path = path;
        tun_debug("identity file %s type %s%s", path, ssh_key_type_name(id->pub),
                  id->encrypted ? " (encrypted)" : "");
        cl->n_ids++;
    }
}

/* Merge the agent's keys with the identity files: agent keys first (only
 * those named by IdentityFile when IdentitiesOnly is set), then the files
 * the agent does not hold. */
static void on_agent_list(void *arg, ssh_key *const *keys, char *const *comments, size_t n,
                          int err)
{
    tun_client *cl = arg;
    cl->agent_pending = 0;
    if (err != 0) {
        tun_debug("agent: cannot list identities: %s", ssh_strerror(err));
    } else {
        tun_identity merged[2 * TUN_MAX_LIST];
        int m = 0;
        int used[2 * TUN_MAX_LIST] = {0};
        for (size_t i = 0; i < n && m < 2 * TUN_MAX_LIST; i++) {
            int file = -1;
            for (int j = 0; j < cl->n_ids; j++)
                if (!used[j] && ssh_key_equal_public(cl->ids[j].pub, keys[i]))
                    file = j;
            if (file >= 0) {
                merged[m] = cl->ids[file];
                merged[m].agent = 1;
                used[file] = 1;
                m++;
            } else if (!cl->o->identities_only) {
                tun_identity *id = &merged[m];
                memset(id, 0, sizeof(*id));
                if (ssh_key_public(keys[i], &id->pub) != 0)
                    continue;
                id->path = strdup(comments[i] && *comments[i] ? comments[i] : "(agent key)");
                id->agent = 1;
                m++;
            }
        }
        for (int j = 0; j < cl->n_ids && m < 2 * TUN_MAX_LIST; j++)
            if (!used[j])
                merged[m++] = cl->ids[j];
        memcpy(cl->ids, merged, sizeof(merged[0]) * (size_t)m);
        cl->n_ids = m;
        tun_debug("agent: %zu identities", n);
    }
    if (cl->auth_waiting) {
        cl->auth_waiting = 0;
        auth_next(cl);
        if (cl->have_transport)
            tun_transport_kick(&cl->t);
    }
}

static void on_agent_signed(void *arg, const uint8_t *sig, size_t len, int err)
{
    tun_client *cl = arg;
    if (cl->c == NULL)
        return;
    if (err != 0) {
        tun_debug("agent refused to sign: %s", ssh_strerror(err));
        ssh_auth_sign_done(cl->c, NULL, 0);
        cl->id_idx++;
        auth_next(cl);
    } else {
        ssh_auth_sign_done(cl->c, sig, len);
    }
    if (cl->have_transport)
        tun_transport_kick(&cl->t);
}

static void start_agent(tun_client *cl)
{
    const char *ia = cl->o->identity_agent;
    if (ia && strcmp(ia, "none") == 0)
        return;
    const char *path = NULL;
    if (ia && strcmp(ia, "SSH_AUTH_SOCK") != 0)
        path = ia;
    cl->agent = tun_agent_connect(cl->loop, path);
    if (cl->agent && tun_agent_list(cl->agent, on_agent_list, cl) == 0)
        cl->agent_pending = 1;
}

static int decrypt_identity(tun_client *cl, tun_identity *id)
{
    uint8_t *data;
    size_t len;
    if (tun_read_file(id->path, KEYFILE_MAX, &data, &len) != 0)
        return -1;
    int rv = -1;
    for (int tries = 0; tries < 3 && rv != 0; tries++) {
        if (cl->o->batch_mode)
            break;
        char prompt[1200], pass[1024];
        snprintf(prompt, sizeof(prompt), "Enter passphrase for key '%s': ", id->path);
        if (tun_prompt(prompt, 0, pass, sizeof(pass)) != 0)
            break;
        if (pass[0] == '\0') {
            OPENSSL_cleanse(pass, sizeof(pass));
            break;
        }
        int r = ssh_key_parse_private(data, len, pass, &id->priv, NULL);
        OPENSSL_cleanse(pass, sizeof(pass));
        if (r == 0)
            rv = 0;
        else if (r != SSH_ERR_KEY_PASSPHRASE)
            break;
        else
            tun_error("Bad passphrase, try again for %s", id->path);
    }
    tun_free_secret(data, len);
    return rv;
}

/* ---- authentication ---------------------------------------------------------------- */

static int method_allowed(tun_client *cl, const char *m)
{
    return !cl->methods_known || ssh_namelist_has(cl->server_methods, m);
}

static int method_enabled(tun_client *cl, const char *m)
{
    if (strcmp(m, "publickey") == 0)
        return cl->o->pubkey_authentication;
    if (strcmp(m, "password") == 0)
        return cl->o->password_authentication && !cl->o->batch_mode;
    if (strcmp(m, "keyboard-interactive") == 0)
        return cl->o->kbd_interactive_authentication && !cl->o->batch_mode;
    return 0;
}

static void auth_give_up(tun_client *cl)
{
    /* Nothing tried yet: ask with "none" to learn what the server offers
     * (it may even let us in), so the refusal can name the methods. */
    if (!cl->methods_known && !cl->none_tried) {
        cl->none_tried = 1;
        if (ssh_auth_none(cl->c, cl->user) == 0)
            return;
    }
    tun_client_fail(cl, "%s@%s: Permission denied (%s).", cl->user, cl->host,
                    cl->methods_known ? cl->server_methods : "none");
}

/* Start the next attempt in preference order; give up when none is left. */
static void auth_next(tun_client *cl)
{
    char list[512];
    snprintf(list, sizeof(list), "%s", cl->o->preferred_authentications);
    char *save = NULL;
    int passed_current = cl->cur_method[0] == '\0';
    for (char *m = strtok_r(list, ",", &save); m; m = strtok_r(NULL, ",", &save)) {
        if (!passed_current) {
            if (strcmp(m, cl->cur_method) != 0)
                continue;
            passed_current = 1;
        }
        if (!method_enabled(cl, m) || !method_allowed(cl, m)) {
            cl->cur_method[0] = '\0';
            continue;
        }
        snprintf(cl->cur_method, sizeof(cl->cur_method), "%s", m);
        if (strcmp(m, "publickey") == 0) {
            while (cl->id_idx < cl->n_ids) {
                tun_identity *id = &cl->ids[cl->id_idx];
                /* Agent keys are offered first (the agent may ask its user
                 * to confirm each signature); file keys sign at once. */
                int sign = id->priv != NULL && !id->agent;
                tun_debug("Offering public key: %s %s", id->path, ssh_key_type_name(id->pub));
                int rv = ssh_auth_publickey(cl->c, cl->user, id->pub, sign);
                if (rv == 0)
                    return;
                tun_debug("key %s not usable: %s", id->path, ssh_strerror(rv));
                cl->id_idx++;
            }
        } else if (strcmp(m, "keyboard-interactive") == 0) {
            if (cl->kbd_tries < 3 && tun_prompt_possible()) {
                cl->kbd_tries++;
                if (ssh_auth_kbdint(cl->c, cl->user, "") == 0)
                    return;
            }
        } else if (strcmp(m, "password") == 0) {
            if (cl->pw_tries < 3 && tun_prompt_possible()) {
                char prompt[600], pw[1024];
                cl->pw_tries++;
                snprintf(prompt, sizeof(prompt), "%s@%s's password: ", cl->user, cl->host);
                if (tun_prompt(prompt, 0, pw, sizeof(pw)) == 0) {
                    int rv = ssh_auth_password(cl->c, cl->user, pw);
                    OPENSSL_cleanse(pw, sizeof(pw));
                    if (rv == 0)
                        return;
                }
            }
        }
        cl->cur_method[0] = '\0';
    }
    auth_give_up(cl);
}

/* ---- forwarding and backgrounding ------------------------------------------------ */

static void go_background(tun_client *cl)
{
    if (cl->backgrounded)
        return;
    cl->backgrounded = 1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        tun_client_fail(cl, "fork: %s", strerror(errno));
        return;
    }
    if (pid > 0)
        _exit(0); /* the parent returns to the shell */
    setsid();
    ev_loop_fork(cl->loop);
    int fd = open("/dev/null", O_RDWR);
    if (fd >= 0) {
        dup2(fd, 0);
        if (fd > 2)
            close(fd);
    }
}

static void start_session(tun_client *cl);

static void on_fwd_settled(void *arg, int failures)
{
    tun_client *cl = arg;
    if (failures > 0 && cl->o->exit_on_forward_failure) {
        tun_client_fail(cl, "Error: forwarding failed (ExitOnForwardFailure)");
        return;
    }
    if (cl->args->fork_after_auth && cl->o->exit_on_forward_failure)
        go_background(cl);
}

static void on_fwd_idle(void *arg)
{
    tun_client *cl = arg;
    if (cl->session_over)
        really_done(cl, cl->session_status);
}

static void on_stdio_done(void *arg, int status)
{
    tun_client *cl = arg;
    really_done(cl, status);
}

static int start_forwarding(tun_client *cl)
{
    const tun_client_args *a = cl->args;
    if (a->n_fwds == 0 && a->stdio_host == NULL)
        return 0;
    tun_fwd_hooks h = {on_fwd_settled, on_fwd_idle};
    cl->fwd = tun_fwd_new(cl->loop, &cl->link, cl->res, cl->o, &h, cl);
    if (cl->fwd == NULL)
        return -1;
    int failures = 0;
    for (int i = 0; i < a->n_fwds; i++)
        if (tun_fwd_add(cl->fwd, &a->fwds[i]) != 0)
            failures++;
    if (failures && cl->o->exit_on_forward_failure) {
        tun_client_fail(cl, "Error: forwarding failed (ExitOnForwardFailure)");
        return -1;
    }
    if (a->stdio_host && tun_fwd_stdio(cl->fwd, a->stdio_host, a->stdio_port, on_stdio_done, cl) != 0) {
        tun_client_fail(cl, "stdio forwarding failed");
        return -1;
    }
    if (tun_fwd_pending(cl->fwd) == 0)
        on_fwd_settled(cl, failures);
    return 0;
}

static void start_session(tun_client *cl)
{
    const char *cmd = cl->args->command ? cl->args->command : cl->o->remote_command;
    cl->sess = tun_session_start(cl, cl->c, cl->o, cmd, cl->args->no_stdin, want_tty(cl, cmd));
    if (cl->sess == NULL)
        tun_client_fail(cl, "could not start the session");
}

static int on_channel_open(ssh_conn *c, uint32_t id, const ssh_channel_open_info *info,
                           const char **why, void *user)
{
    (void)c;
    tun_client *cl = user;
    if ((info->kind == SSH_CHAN_FORWARDED_TCPIP || info->kind == SSH_CHAN_FORWARDED_STREAMLOCAL) &&
        cl->fwd)
        return tun_fwd_channel_open(cl->fwd, id, info, why);
    tun_debug("refusing channel of type %s", info->type);
    *why = "open refused";
    return -SSH_OPEN_ADMINISTRATIVELY_PROHIBITED;
}

static void on_global_reply(ssh_conn *c, int ok, const uint8_t *data, size_t len, void *req_user)
{
    (void)c;
    tun_reqcb *r = req_user;
    if (r && r->fn)
        r->fn(r, ok, data, len);
}

static void on_auth_ready(ssh_conn *c, void *user)
{
    (void)c;
    tun_client *cl = user;
    cl->cur_method[0] = '\0';
    if (cl->agent_pending) {
        cl->auth_waiting = 1;
        return;
    }
    auth_next(cl);
}

static void on_auth_banner(ssh_conn *c, const char *msg, void *user)
{
    (void)c;
    (void)user;
    if (tun_log_get_level() >= TUN_LOG_INFO)
        fprintf(stderr, "%s", msg);
}

static void on_auth_result(ssh_conn *c, const ssh_auth_result *r, void *user)
{
    tun_client *cl = user;
    if (r->methods) {
        snprintf(cl->server_methods, sizeof(cl->server_methods), "%s", r->methods);
        cl->methods_known = 1;
    }
    switch (r->status) {
    case SSH_AUTH_SUCCESS:
        cl->authenticated = 1;
        tun_verbose("Authenticated to %s using \"%s\".", cl->host, cl->cur_method);
        if (start_forwarding(cl) != 0)
            return;
        /* -f: background now, unless forwards must be confirmed first. */
        if (cl->args->fork_after_auth && !(cl->fwd && cl->o->exit_on_forward_failure))
            go_background(cl);
        if (!cl->args->no_command && cl->args->stdio_host == NULL)
            start_session(cl);
        return;
    case SSH_AUTH_PK_OK: {
        tun_identity *id = &cl->ids[cl->id_idx];
        tun_debug("Server accepts key: %s", id->path);
        if (id->priv == NULL && !id->agent && decrypt_identity(cl, id) != 0) {
            cl->id_idx++;
            auth_next(cl);
            return;
        }
        if (ssh_auth_publickey(c, cl->user, id->pub, 1) != 0) {
            cl->id_idx++;
            auth_next(cl);
        }
        return;
    }
    case SSH_AUTH_PARTIAL:
        tun_verbose("Authenticated using \"%s\" with partial success.", cl->cur_method);
        cl->cur_method[0] = '\0'; /* start over with what the server still wants */
        auth_next(cl);
        return;
    case SSH_AUTH_FAILURE:
        /* auth_next() resumes at cur_method: the next identity for
         * publickey, another try for password and keyboard-interactive. */
        if (r->method == SSH_AUTH_PUBLICKEY)
            cl->id_idx++;
        else if (r->method == SSH_AUTH_PASSWORD && cl->pw_tries < 3)
            tun_error("Permission denied, please try again.");
        else if (r->method == SSH_AUTH_NONE)
            cl->cur_method[0] = '\0';
        auth_next(cl);
        return;
    }
}

static int on_sign(ssh_conn *c, const ssh_key *key, const char *alg, const uint8_t *data,
                   size_t len, ssh_buf *sig, void *user)
{
    (void)c;
    (void)key;
    tun_client *cl = user;
    tun_identity *id = &cl->ids[cl->id_idx];
    if (id->priv != NULL)
        return ssh_key_sign(id->priv, alg, 0, data, len, sig);
    if (id->agent && cl->agent) {
        int rv = tun_agent_sign(cl->agent, id->pub, alg, data, len, on_agent_signed, cl);
        return rv == 0 ? SSH_DEFERRED : rv;
    }
    return SSH_ERR_STATE;
}

static void on_kbdint(ssh_conn *c, const ssh_kbdint_prompt *p, void *user)
{
    (void)user;
    char *answers[32] = {0};
    uint32_t n = p->n_prompts < 32 ? p->n_prompts : 32;
    if (p->name && *p->name)
        fprintf(stderr, "%s\n", p->name);
    if (p->instruction && *p->instruction)
        fprintf(stderr, "%s\n", p->instruction);
    for (uint32_t i = 0; i < n; i++) {
        answers[i] = calloc(1, 1024);
        if (answers[i] == NULL || tun_prompt(p->prompts[i], p->echo[i], answers[i], 1024) != 0) {
            if (answers[i])
                answers[i][0] = '\0';
        }
    }
    ssh_auth_kbdint_respond(c, n, (const char *const *)answers);
    for (uint32_t i = 0; i < n; i++)
        tun_free_secret(answers[i], 1024);
}

/* ---- host key ------------------------------------------------------------------------ */

static const char *key_type_upper(const ssh_key *k)
{
    switch (ssh_key_type(k)) {
    case SSH_KEY_ED25519: return "ED25519";
    case SSH_KEY_RSA: return "RSA";
    default: return "ECDSA";
    }
}

static const char *const *user_files(tun_client *cl, size_t *n)
{
    *n = (size_t)cl->o->n_user_known_hosts;
    return (const char *const *)cl->o->user_known_hosts;
}

static int on_hostkey(ssh_conn *c, const ssh_key *key, void *user)
{
    (void)c;
    tun_client *cl = user;
    const char *files[2 * TUN_MAX_LIST];
    size_t n = 0;
    for (int i = 0; i < cl->o->n_user_known_hosts; i++)
        files[n++] = cl->o->user_known_hosts[i];
    for (int i = 0; i < cl->o->n_global_known_hosts; i++)
        files[n++] = cl->o->global_known_hosts[i];
    char fp[SSH_KEY_FP_MAX], hn[1100];
    ssh_key_fingerprint(key, fp, sizeof(fp));
    tun_hk_hostname(cl->host, (unsigned)cl->o->port, hn, sizeof(hn));
    tun_debug("Server host key: %s %s", ssh_key_type_name(key), fp);
    tun_hk_result r;
    tun_knownhosts_check(files, n, cl->host, (unsigned)cl->o->port, key, &r);
    switch (r.status) {
    case TUN_HK_OK:
        tun_debug("Host '%s' is known and matches the %s host key.", hn, key_type_upper(key));
        tun_debug("Found key in %s:%u", r.file, r.line);
        return 0;
    case TUN_HK_REVOKED:
        tun_error("Host key %s %s revoked by file %s:%u", key_type_upper(key), fp, r.file, r.line);
        tun_error("Host key verification failed.");
        return SSH_ERR_HOSTKEY_REJECTED;
    case TUN_HK_CHANGED:
        tun_error("############################################################");
        tun_error("#  DANGER: THE HOST KEY OF %s HAS CHANGED", hn);
        tun_error("############################################################");
        tun_error("The %s key this server presents is not the one recorded for it.", key_type_upper(key));
        tun_error("Somebody may be intercepting this connection (man-in-the-middle),");
        tun_error("or the host key was replaced. The key offered now is:");
        tun_error("%s", fp);
        tun_error("The recorded key is at %s:%u; remove that line if the change is expected.",
                  r.file, r.line);
        tun_error("Host key for %s has changed and you have requested strict checking.", hn);
        tun_error("Host key verification failed.");
        return SSH_ERR_HOSTKEY_REJECTED;
    case TUN_HK_NEW:
        break;
    }
    int accept = 0;
    switch (cl->o->strict_host_key_checking) {
    case SHKC_NO:
    case SHKC_ACCEPT_NEW: accept = 1; break;
    case SHKC_YES:
        tun_error("No %s host key is known for %s and you have requested strict checking.",
                  key_type_upper(key), hn);
        break;
    case SHKC_ASK:
    default: {
        if (cl->o->batch_mode || !tun_prompt_possible()) {
            tun_error("No %s host key is known for %s and there is no way to ask for "
                      "confirmation.", key_type_upper(key), hn);
            break;
        }
        char prompt[2048], ans[128];
        snprintf(prompt, sizeof(prompt),
                 "The authenticity of host '%s' can't be established.\r\n"
                 "%s key fingerprint is %s.\r\n%s"
                 "Are you sure you want to continue connecting (yes/no/[fingerprint])? ",
                 hn, key_type_upper(key), fp,
                 r.other_types ? "This host is known by other key types.\r\n" : "");
        for (;;) {
            if (tun_prompt(prompt, 1, ans, sizeof(ans)) != 0)
                break;
            if (strcmp(ans, "yes") == 0 || strcmp(ans, fp) == 0) {
                accept = 1;
                break;
            }
            if (strcmp(ans, "no") == 0)
                break;
            snprintf(prompt, sizeof(prompt), "Please type 'yes', 'no' or the fingerprint: ");
        }
        break;
    }
    }
    if (!accept) {
        tun_error("Host key verification failed.");
        return SSH_ERR_HOSTKEY_REJECTED;
    }
    size_t nu;
    const char *const *uf = user_files(cl, &nu);
    if (nu > 0 && tun_knownhosts_add(uf[0], cl->host, (unsigned)cl->o->port, key,
                                     cl->o->hash_known_hosts) == 0)
        tun_info("Warning: Permanently added '%s' (%s) to the list of known hosts.", hn,
                 key_type_upper(key));
    else if (nu > 0)
        tun_error("Failed to add the host to the list of known hosts (%s): %s", uf[0],
                  strerror(errno));
    return 0;
}

/* ---- engine events ----------------------------------------------------------------------- */

static void on_rand(void *user, uint8_t *buf, size_t n)
{
    (void)user;
    if (RAND_bytes(buf, (int)n) != 1)
        abort(); /* no randomness: nothing safe can be done */
}

static void on_log(ssh_conn *c, int level, const char *msg, void *user)
{
    (void)c;
    (void)user;
    tun_log(level <= 1 ? TUN_LOG_DEBUG1 : level == 2 ? TUN_LOG_DEBUG2 : TUN_LOG_DEBUG3, "%s", msg);
}

static void on_disconnect(ssh_conn *c, int err, uint32_t reason, const char *msg, void *user)
{
    (void)c;
    tun_client *cl = user;
    if (err == SSH_ERR_CLOSED)
        return;
    if (err == SSH_ERR_DISCONNECTED) {
        snprintf(cl->errmsg, sizeof(cl->errmsg), "Received disconnect from %s port %d:%u: %s",
                 cl->host, cl->o->port, reason, msg);
    } else if (err == SSH_ERR_CONN_LOST) {
        snprintf(cl->errmsg, sizeof(cl->errmsg), "Connection closed by %s port %d", cl->host,
                 cl->o->port);
    } else if (err == SSH_ERR_TIMEOUT) {
        snprintf(cl->errmsg, sizeof(cl->errmsg), "Timeout, server %s not responding.", cl->host);
    } else if (err == SSH_ERR_HOSTKEY_REJECTED) {
        cl->errmsg[0] = '\0'; /* already explained */
    } else if (err <= SSH_ERR_NO_KEX_ALG && err >= SSH_ERR_NO_COMPRESS_ALG) {
        snprintf(cl->errmsg, sizeof(cl->errmsg), "Unable to negotiate with %s port %d: %s",
                 cl->host, cl->o->port, ssh_strerror(err));
    } else {
        snprintf(cl->errmsg, sizeof(cl->errmsg), "ssh_dispatch_run_fatal: Connection to %s port %d: %s",
                 cl->host, cl->o->port, msg ? msg : ssh_strerror(err));
    }
}

static void on_transport_dead(tun_transport *t, int err, void *arg)
{
    (void)t;
    (void)err;
    tun_client *cl = arg;
    cl->have_transport = 0;
    if (cl->finished)
        return;
    if (cl->errmsg[0])
        tun_log(TUN_LOG_ERROR, "%s", cl->errmsg);
    finish(cl, 255);
}

static void on_transport_drained(tun_transport *t, void *arg)
{
    (void)t;
    tun_client *cl = arg;
    tun_link_resume_all(&cl->link);
}

static int on_global_request(ssh_conn *c, const ssh_global_req *r, ssh_buf *reply, void *user)
{
    (void)c;
    (void)reply;
    (void)user;
    tun_debug2("client_input_global_request: rtype %s want_reply %d", r->name, r->want_reply);
    return SSH_REQUEST_FAILURE;
}

/* Put the host key algorithms already known for this host first, as
 * OpenSSH does when HostKeyAlgorithms is left at its default. */
static void order_hostkey_algs(tun_client *cl, char *out, size_t outsz)
{
    const char *files[2 * TUN_MAX_LIST];
    size_t n = 0;
    for (int i = 0; i < cl->o->n_user_known_hosts; i++)
        files[n++] = cl->o->user_known_hosts[i];
    for (int i = 0; i < cl->o->n_global_known_hosts; i++)
        files[n++] = cl->o->global_known_hosts[i];
    char known[512];
    snprintf(out, outsz, "%s", cl->o->hostkey_algorithms);
    if (cl->o->hostkey_algorithms_set)
        return; /* the user's explicit order stands */
    if (tun_knownhosts_algs(files, n, cl->host, (unsigned)cl->o->port, known, sizeof(known)) == 0)
        return;
    char res[1024] = "", tmp[1024];
    snprintf(tmp, sizeof(tmp), "%s", cl->o->hostkey_algorithms);
    for (int pass = 0; pass < 2; pass++) {
        char copy[1024], *save = NULL;
        snprintf(copy, sizeof(copy), "%s", tmp);
        for (char *a = strtok_r(copy, ",", &save); a; a = strtok_r(NULL, ",", &save)) {
            if ((pass == 0) != (ssh_namelist_has(known, a) != 0))
                continue;
            size_t l = strlen(res);
            snprintf(res + l, sizeof(res) - l, "%s%s", l ? "," : "", a);
        }
    }
    snprintf(out, outsz, "%s", res);
    tun_debug2("host key algorithms ordered for known keys: %s", out);
}

static void start_ssh(tun_client *cl, int fd)
{
    ssh_conn_config cfg;
    ssh_conn_config_init(&cfg, SSH_ROLE_CLIENT);
    char hk[1024];
    order_hostkey_algs(cl, hk, sizeof(hk));
    cfg.ident = "sshtun_" SSHTUN_VERSION;
    cfg.kex_algs = cl->o->kex_algorithms;
    cfg.hostkey_algs = hk;
    cfg.ciphers = cl->o->ciphers;
    cfg.macs = cl->o->macs;
    cfg.pubkey_algs = cl->o->pubkey_algorithms;
    if (cl->o->rekey_bytes > 0)
        cfg.rekey_bytes = (uint64_t)cl->o->rekey_bytes;
    cfg.rekey_time_ms = cl->o->rekey_seconds > 0 ? (uint64_t)cl->o->rekey_seconds * 1000 : UINT64_MAX;
    if (cl->o->server_alive_interval > 0) {
        cfg.alive_interval_ms = (uint64_t)cl->o->server_alive_interval * 1000;
        cfg.alive_count_max = (uint32_t)cl->o->server_alive_count_max;
    }
    ssh_callbacks cb = {
        .rand = on_rand,
        .log = on_log,
        .hostkey = on_hostkey,
        .disconnect = on_disconnect,
        .auth_ready = on_auth_ready,
        .auth_banner = on_auth_banner,
        .auth_result = on_auth_result,
        .sign = on_sign,
        .kbdint_prompt = on_kbdint,
        .global_request = on_global_request,
        .global_reply = on_global_reply,
    };
    /* The channel callbacks dispatch to tun_chan; incoming opens are ours. */
    tun_chan_install_callbacks(&cb);
    cb.channel_open = on_channel_open;
    int rv = ssh_conn_new(&cl->c, &cfg, &cb, cl);
    if (rv != 0) {
        close(fd);
        tun_client_fail(cl, "cannot create connection: %s", ssh_strerror(rv));
        return;
    }
    if (cl->o->tcp_keepalive) {
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    }
    tun_transport_cbs tcb = {on_transport_dead, on_transport_drained};
    tun_transport_init(&cl->t, cl->loop, fd, cl->c, &tcb, cl);
    cl->have_transport = 1;
    cl->link.c = cl->c;
    cl->link.t = &cl->t;
    tun_debug("Local version string %s", "SSH-2.0-sshtun_" SSHTUN_VERSION);
    ssh_conn_start(cl->c, tun_now_ms());
    tun_transport_kick(&cl->t);
}

/* ---- resolve and connect --------------------------------------------------------------------- */

static void start_resolve(tun_client *cl);

static void on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    start_resolve(w->data);
}

static void on_connected(void *arg, int fd, const tun_addr *addr, const char *err)
{
    tun_client *cl = arg;
    cl->connector = NULL;
    if (fd < 0) {
        if (++cl->attempts < cl->o->connection_attempts) {
            tun_debug("connect to host %s port %d: %s; retrying", cl->host, cl->o->port, err);
            ev_timer_init(&cl->retry, on_retry, 1., 0.);
            cl->retry.data = cl;
            ev_timer_start(cl->loop, &cl->retry);
            return;
        }
        tun_client_fail(cl, "connect to host %s port %d: %s", cl->host, cl->o->port, err);
        return;
    }
    char a[64];
    tun_debug("Connection established to %s.", tun_addr_str(addr, a, sizeof(a)));
    start_ssh(cl, fd);
}

static void on_resolved(void *arg, const tun_addr *addrs, size_t n, const char *err)
{
    tun_client *cl = arg;
    cl->lookup = NULL;
    if (n == 0) {
        tun_client_fail(cl, "Could not resolve hostname %s: %s", cl->host, err);
        return;
    }
    cl->connector = tun_connect_start(cl->loop, addrs, n, (double)cl->o->connect_timeout,
                                      on_connected, cl);
    if (cl->connector == NULL)
        tun_client_fail(cl, "out of memory");
}

static void start_resolve(tun_client *cl)
{
    cl->lookup = tun_resolve(cl->res, cl->host, (unsigned)cl->o->port, cl->o->address_family,
                             on_resolved, cl);
    if (cl->lookup == NULL)
        tun_client_fail(cl, "out of memory");
}

/* ---- entry -------------------------------------------------------------------------------------- */

int tun_client_run(const tun_client_args *args)
{
    tun_client cl;
    memset(&cl, 0, sizeof(cl));
    cl.args = args;
    cl.o = args->opts;
    cl.loop = ev_default_loop(EVFLAG_AUTO);
    cl.host = cl.o->hostname ? cl.o->hostname : args->host;
    cl.user = cl.o->user ? strdup(cl.o->user) : NULL;
    if (cl.user == NULL) {
        const char *u = getenv("USER");
        cl.user = strdup(u ? u : "root");
    }
    load_identities(&cl);
    start_agent(&cl);
    cl.res = tun_resolver_new(cl.loop);
    if (cl.res == NULL) {
        free(cl.user);
        return 255;
    }
    start_resolve(&cl);
    if (!cl.finished)
        ev_run(cl.loop, 0);
    /* Let a last DISCONNECT reach the socket without waiting on the peer. */
    if (cl.have_transport) {
        tun_transport_kick(&cl.t);
        tun_transport_close(&cl.t);
    }
    if (cl.sess)
        tun_session_free(cl.sess);
    tun_fwd_free(cl.fwd);
    if (cl.lookup)
        tun_resolve_cancel(cl.lookup);
    if (cl.connector)
        tun_connect_cancel(cl.connector);
    ev_timer_stop(cl.loop, &cl.retry);
    tun_resolver_free(cl.res);
    tun_agent_free(cl.agent);
    ssh_conn_free(cl.c);
    for (int i = 0; i < cl.n_ids; i++) {
        free(cl.ids[i].path);
        ssh_key_free(cl.ids[i].pub);
        ssh_key_free(cl.ids[i].priv);
    }
    free(cl.user);
    return cl.exit_status;
}
