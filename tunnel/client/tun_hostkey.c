/*
 * tun_hostkey.c - trusting a server's host key (see tun_hostkey.h).
 *
 * The order follows OpenSSH's verify_host_key() and check_host_key(): the
 * revocation files first, then known_hosts for the host name (and, with
 * CheckHostIP, for its address), a certificate against @cert-authority
 * lines and then, failing that, as a plain key.  Where sshtun is stricter
 * than ssh it says so: a changed or revoked key is refused whatever
 * StrictHostKeyChecking says (ssh would go on without password
 * authentication and forwarding).
 */
#include "tun_hostkey.h"
#include "tun_randomart.h"
#include "tun_config.h"
#include "tun_knownhosts.h"
#include "tun_log.h"
#include "tun_prompt.h"
#include "tun_util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sshtun/cert.h"
#include "sshtun/err.h"
#include "sshtun/krl.h"

#define KHC_OUTPUT_MAX (1024u * 1024)
#define KHC_TIMEOUT_MS 30000
#define REVOKED_MAX    (64u * 1024 * 1024)

enum { NOTE_USER = 0, NOTE_COMMAND = 1, NOTE_GLOBAL = 2 };

/* "ED25519", "ECDSA", "RSA", with "-CERT" for a certificate (ssh's
 * sshkey_type()). */
static const char *type_upper(const ssh_key *k)
{
    int cert = ssh_key_is_cert(k);
    switch (ssh_key_type(k)) {
    case SSH_KEY_ED25519:
        return cert ? "ED25519-CERT" : "ED25519";
    case SSH_KEY_RSA:
        return cert ? "RSA-CERT" : "RSA";
    default:
        return cert ? "ECDSA-CERT" : "ECDSA";
    }
}

/* ---- KnownHostsCommand ---------------------------------------------------------------------- */

int tun_hostkey_run_command(const char *cmd, size_t max, int timeout_ms, char **out, size_t *outlen)
{
    int pfd[2];
    *out = NULL;
    *outlen = 0;
    if (pipe(pfd) != 0)
        return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(pfd[0]);
        close(pfd[1]);
        return -1;
    }
    if (pid == 0) {
        int dn = open("/dev/null", O_RDONLY);
        if (dn >= 0)
            dup2(dn, 0);
        dup2(pfd[1], 1);
        close(pfd[0]);
        close(pfd[1]);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    close(pfd[1]);
    char *buf = malloc(max + 1);
    size_t n = 0;
    int failed = buf == NULL;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (!failed) {
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        long spent = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
        if (spent >= timeout_ms) {
            tun_error("command \"%s\" took longer than %d seconds; killed", cmd, timeout_ms / 1000);
            failed = 1;
            break;
        }
        struct pollfd p = {pfd[0], POLLIN, 0};
        int pr = poll(&p, 1, (int)(timeout_ms - spent));
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            continue; /* the deadline is checked above */
        if (n == max) {
            tun_error("command \"%s\" wrote more than %zu bytes; killed", cmd, max);
            failed = 1;
            break;
        }
        ssize_t r = read(pfd[0], buf + n, max - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(pfd[0]);
    if (failed)
        kill(pid, SIGKILL);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (failed) {
        free(buf);
        return -1;
    }
    buf[n] = '\0';
    *out = buf;
    *outlen = n;
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    free(buf);
    *out = NULL;
    return -1;
}

/* Run KnownHostsCommand for `name` ("HOSTNAME", "ADDRESS" or "ORDER") and
 * add what it prints.  -1 when it failed (ssh gives up then). */
static int load_command(const tun_hk_target *t, tun_kh_set *s, const ssh_key *key,
                        const char *reason, const char *name)
{
    const tun_options *o = t->o;
    if (o->known_hosts_command == NULL || strcasecmp(o->known_hosts_command, "none") == 0)
        return 0;
    tun_tokens tok;
    char fp[SSH_KEY_FP_MAX] = "", *b64 = NULL;
    tun_tokens_init(&tok, o, t->original_host ? t->original_host : t->host);
    if (key != NULL) {
        char *line = NULL;
        ssh_key_fingerprint(key, fp, sizeof(fp));
        if (ssh_key_to_public_line(key, NULL, &line) == 0) {
            char *sp = strchr(line, ' ');
            b64 = strdup(sp ? sp + 1 : "");
            free(line);
        }
        tok.hostkey_type = ssh_key_type_name(key);
    } else {
        tok.hostkey_type = "";
    }
    tok.hostkey_fp = fp;
    tok.hostkey_b64 = b64 ? b64 : "";
    tok.kh_name = name;
    tok.kh_reason = reason;
    char *cmd = tun_expand(o->known_hosts_command, &tok, NULL);
    tun_tokens_free(&tok);
    free(b64);
    if (cmd == NULL)
        return -1;
    tun_debug("Executing KnownHostsCommand \"%s\"", cmd);
    char *out = NULL;
    size_t len = 0;
    int st = tun_hostkey_run_command(cmd, KHC_OUTPUT_MAX, KHC_TIMEOUT_MS, &out, &len);
    if (st != 0) {
        if (st > 0)
            tun_error("KnownHostsCommand \"%s\" exited with status %d", cmd, st);
        free(cmd);
        free(out);
        return -1;
    }
    tun_kh_load_text(s, out, len, "KnownHostsCommand", name, NOTE_COMMAND);
    free(cmd);
    free(out);
    return 0;
}

/* ---- loading -------------------------------------------------------------------------------- */

/* Every line for `name` from the user files, the global files and
 * KnownHostsCommand.  -1 if the command failed. */
static int load_all(const tun_hk_target *t, tun_kh_set *s, const char *name, const ssh_key *key,
                    const char *reason)
{
    const tun_options *o = t->o;
    for (int i = 0; i < o->n_user_known_hosts; i++)
        if (strcasecmp(o->user_known_hosts[i], "none") != 0)
            tun_kh_load_file(s, o->user_known_hosts[i], name, NOTE_USER);
    for (int i = 0; i < o->n_global_known_hosts; i++)
        if (strcasecmp(o->global_known_hosts[i], "none") != 0)
            tun_kh_load_file(s, o->global_known_hosts[i], name, NOTE_GLOBAL);
    return load_command(t, s, key, reason, name);
}

static const char *alias_or_host(const tun_hk_target *t)
{
    return t->o->host_key_alias ? t->o->host_key_alias : t->host;
}

/* The known_hosts name: a HostKeyAlias stands alone (ssh looks up and
 * records the bare alias whatever the port), a host name on a port other
 * than 22 is looked up as [host]:port. */
static void host_name(const tun_hk_target *t, unsigned port, char *out, size_t outsz)
{
    tun_hk_hostname(alias_or_host(t), t->o->host_key_alias ? 22u : port, out, outsz);
}

static int addr_string(const tun_hk_target *t, char *out, size_t outsz, int *local)
{
    *local = 0;
    if (t->addr == NULL)
        return -1;
    if (t->addr->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)t->addr;
        *local = (ntohl(a->sin_addr.s_addr) >> 24) == 127;
        return inet_ntop(AF_INET, &a->sin_addr, out, (socklen_t)outsz) ? 0 : -1;
    }
    if (t->addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)t->addr;
        if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
            struct in_addr v4;
            memcpy(&v4, a->sin6_addr.s6_addr + 12, 4);
            *local = (ntohl(v4.s_addr) >> 24) == 127;
            return inet_ntop(AF_INET, &v4, out, (socklen_t)outsz) ? 0 : -1;
        }
        *local = IN6_IS_ADDR_LOOPBACK(&a->sin6_addr);
        return inet_ntop(AF_INET6, &a->sin6_addr, out, (socklen_t)outsz) ? 0 : -1;
    }
    return -1;
}

/* ---- revocation ----------------------------------------------------------------------------- */

/* RevokedHostKeys: every file must be readable and must not revoke the
 * key, the key under a certificate, or its CA (a file that cannot be read
 * or understood refuses, as in ssh). */
static int check_revoked_files(const tun_hk_target *t, const ssh_key *key, const char *fp)
{
    const tun_options *o = t->o;
    for (int i = 0; i < o->n_revoked_host_keys; i++) {
        const char *f = o->revoked_host_keys[i];
        if (strcasecmp(f, "none") == 0)
            continue;
        char *path = tun_expand_home(f);
        uint8_t *data = NULL;
        size_t len = 0;
        int rv = path ? tun_read_file(path, REVOKED_MAX, &data, &len) : -1;
        if (rv != 0) {
            tun_error("Error checking host key %s %s in revoked keys file %s: %s", type_upper(key),
                      fp, f, strerror(errno));
            free(path);
            return -1;
        }
        rv = ssh_revoked_check(data, len, key);
        if (rv == SSH_ERR_KEY_REVOKED && ssh_key_is_cert(key)) {
            /* Say whether the certificate, its key or its CA is what the
             * file names. */
            const ssh_key *ca = ssh_cert_ca(ssh_key_cert(key));
            char cafp[SSH_KEY_FP_MAX] = "";
            ssh_key_fingerprint(ca, cafp, sizeof(cafp));
            if (ssh_revoked_check(data, len, ca) == SSH_ERR_KEY_REVOKED)
                tun_error("Host certificate %s %s: its certificate authority %s %s is revoked "
                          "by file %s",
                          type_upper(key), fp, type_upper(ca), cafp, f);
            else
                tun_error("Host key %s %s revoked by file %s", type_upper(key), fp, f);
        } else if (rv == SSH_ERR_KEY_REVOKED) {
            tun_error("Host key %s %s revoked by file %s", type_upper(key), fp, f);
        } else if (rv != 0) {
            tun_error("Error checking host key %s %s in revoked keys file %s: %s", type_upper(key),
                      fp, f, ssh_strerror(rv));
        }
        free(data);
        free(path);
        if (rv != 0)
            return -1;
    }
    return 0;
}

/* ---- certificates --------------------------------------------------------------------------- */

static void log_certificate(const ssh_key *key, const char *fp)
{
    const ssh_cert *c = ssh_key_cert(key);
    const ssh_key *ca = ssh_cert_ca(c);
    char cafp[SSH_KEY_FP_MAX] = "", valid[96];
    ssh_key_fingerprint(ca, cafp, sizeof(cafp));
    ssh_cert_validity_str(c, valid, sizeof(valid));
    tun_debug("Server host certificate: %s %s, serial %llu ID \"%s\" CA %s %s valid %s",
              ssh_key_type_name(key), fp, (unsigned long long)ssh_cert_serial(c),
              ssh_cert_key_id(c), ssh_key_type_name(ca), cafp, valid);
    for (size_t i = 0; i < ssh_cert_n_principals(c); i++)
        tun_debug2("Server host certificate hostname: %s", ssh_cert_principal(c, i));
}

/* The host certificate's own checks, once its CA is trusted for the host.
 * The name is the host name (or HostKeyAlias), lowercased as ssh has it. */
static int check_certificate(const tun_hk_target *t, const ssh_key *key)
{
    char name[1024];
    const char *why = NULL;
    size_t i = 0;
    for (const char *p = alias_or_host(t); *p && i + 1 < sizeof(name); p++)
        name[i++] = (char)tolower((unsigned char)*p);
    name[i] = '\0';
    int rv = ssh_cert_check(key, SSH_CERT_TYPE_HOST, name, 1, t->now, NULL,
                            t->o->ca_signature_algorithms, &why);
    if (rv == 0)
        return 0;
    const ssh_cert *c = ssh_key_cert(key);
    tun_error("%s", why);
    if (rv == SSH_ERR_CERT_EXPIRED || rv == SSH_ERR_CERT_NOT_YET_VALID) {
        char valid[96];
        ssh_cert_validity_str(c, valid, sizeof(valid));
        tun_error("The host certificate of %s is valid %s (UTC); it is %s now.", name, valid,
                  rv == SSH_ERR_CERT_EXPIRED ? "past its end" : "before its start");
    } else if (rv == SSH_ERR_CERT_PRINCIPAL) {
        char list[1024] = "";
        for (size_t j = 0; j < ssh_cert_n_principals(c); j++) {
            size_t l = strlen(list);
            snprintf(list + l, sizeof(list) - l, "%s%s", j ? ", " : "", ssh_cert_principal(c, j));
        }
        tun_error("The host certificate is for %s, not for %s.", list, name);
    } else if (rv == SSH_ERR_CERT_SIG_ALG) {
        tun_error("Its CA signed it with %s, which CASignatureAlgorithms does not allow.",
                  ssh_cert_sig_alg(c));
    }
    return -1;
}

/* ---- the decision --------------------------------------------------------------------------- */

struct check {
    const tun_hk_target *t;
    tun_hk_verdict *v;
    tun_kh_set hosts, ips; /* lines for the host name / for the address */
    int check_ip;
    int readonly;
    char addr[64]; /* the address as text, for messages ("" unknown) */
};

/* Is `key` (after a certificate fell back to its plain key) one
 * HostKeyAlgorithms allows? */
static int alg_allowed(const tun_options *o, const ssh_key *key)
{
    char algs[256];
    snprintf(algs, sizeof(algs), "%s", ssh_key_sig_algs(key, SSH_KEY_ALLOW_SHA1));
    char *save = NULL;
    for (char *a = strtok_r(algs, ",", &save); a; a = strtok_r(NULL, ",", &save))
        if (ssh_namelist_has(o->hostkey_algorithms, a))
            return 1;
    return 0;
}

/* VisualHostKey: each line of the picture as a log line (a log line
 * cannot hold a newline). */
static void say_lines(const char *art)
{
    char line[64];
    for (const char *p = art; *p;) {
        size_t n = strcspn(p, "\n");
        snprintf(line, sizeof(line), "%.*s", (int)n, p);
        tun_info("%s", line);
        p += n;
        if (*p == '\n')
            p++;
    }
}

/* The picture inside a prompt: CR LF line ends, one after the last. */
static void crlf_lines(char *art, size_t sz)
{
    char tmp[TUN_RANDOMART_MAX + 64];
    size_t o = 0;
    for (const char *p = art; *p && o + 3 < sizeof(tmp); p++) {
        if (*p == '\n')
            tmp[o++] = '\r';
        tmp[o++] = *p;
    }
    tmp[o++] = '\r';
    tmp[o++] = '\n';
    tmp[o] = '\0';
    snprintf(art, sz, "%s", tmp);
}

static int ask_new_key(const tun_hk_target *t, const char *hn, const char *ip, const ssh_key *key,
                       const char *fp, int other_types)
{
    const tun_options *o = t->o;
    if (o->batch_mode || !tun_prompt_possible()) {
        tun_error("No %s host key is known for %s and there is no way to ask for confirmation.",
                  type_upper(key), hn);
        return 0;
    }
    char prompt[4096], ans[128], art[TUN_RANDOMART_MAX + 64] = "";
    if (o->visual_host_key && tun_randomart_key(key, type_upper(key), art, sizeof(art) - 4) == 0)
        crlf_lines(art, sizeof(art));
    else
        art[0] = '\0';
    snprintf(prompt, sizeof(prompt),
             "The authenticity of host '%s (%s)' can't be established.\r\n"
             "%s key fingerprint is %s.\r\n%s%s"
             "Are you sure you want to continue connecting (yes/no/[fingerprint])? ",
             hn, ip[0] ? ip : hn, type_upper(key), fp, art,
             other_types ? "This host is known by other key types.\r\n" : "");
    for (;;) {
        if (tun_prompt(prompt, 1, ans, sizeof(ans)) != 0)
            return 0;
        if (strcasecmp(ans, "yes") == 0 || strcmp(ans, fp) == 0)
            return 1;
        if (strcasecmp(ans, "no") == 0)
            return 0;
        snprintf(prompt, sizeof(prompt), "Please type 'yes', 'no' or the fingerprint: ");
    }
}

const char *tun_hostkey_user_file(const tun_options *o)
{
    for (int i = 0; i < o->n_user_known_hosts; i++)
        if (strcasecmp(o->user_known_hosts[i], "none") != 0)
            return o->user_known_hosts[i];
    return NULL;
}

static void record(const tun_hk_target *t, const char *names, const ssh_key *key, const char *what)
{
    const tun_options *o = t->o;
    const char *f = tun_hostkey_user_file(o);
    if (tun_knownhosts_add(f, names, key, o->hash_known_hosts) == 0)
        tun_info("Warning: Permanently added %s (%s) to the list of known hosts.", what,
                 type_upper(key));
    else
        tun_error("Failed to add the host to the list of known hosts (%s): %s", f, strerror(errno));
}

static void changed_banner(const char *hn, const ssh_key *key, const char *fp,
                           const tun_kh_entry *e)
{
    tun_error("############################################################");
    tun_error("#  DANGER: THE HOST KEY OF %s HAS CHANGED", hn);
    tun_error("############################################################");
    tun_error("The %s key this server presents is not the one recorded for it.", type_upper(key));
    tun_error("Somebody may be intercepting this connection (man-in-the-middle),");
    tun_error("or the host key was replaced. The key offered now is:");
    tun_error("%s", fp);
    tun_error("The recorded key is at %s:%u; remove that line if the change is expected.",
              e->origin, e->lineno);
    tun_error("Host key for %s has changed and you have requested strict checking.", hn);
}

/* Reconnecting: the key is not the one the first connection trusted. */
static void pinned_banner(const char *hn, const ssh_key *key, const char *fp, const char *pinned)
{
    tun_error("############################################################");
    tun_error("#  DANGER: THE HOST KEY OF %s HAS CHANGED", hn);
    tun_error("############################################################");
    tun_error("The %s key this server presents is not the one it presented when sshtun",
              type_upper(key));
    tun_error("connected first.  Somebody may be intercepting this connection");
    tun_error("(man-in-the-middle), or the host key was replaced.  The key offered now is:");
    tun_error("%s", fp);
    tun_error("The key trusted before was:");
    tun_error("%s", pinned);
}

/* 0 trusted, -1 refused, 1 "try the plain key" (a certificate no CA
 * vouches for, or one that failed its checks). */
static int judge(struct check *x, const ssh_key *key)
{
    const tun_hk_target *t = x->t;
    const tun_options *o = t->o;
    tun_hk_verdict *v = x->v;
    int cert = ssh_key_is_cert(key);
    char fp[SSH_KEY_FP_MAX] = "";
    const char *hn = v->host_name, *ip = v->ip_name;
    ssh_key_fingerprint(key, fp, sizeof(fp));

    if (!alg_allowed(o, key)) {
        tun_error("host key %s not permitted by HostKeyAlgorithms", ssh_key_type_name(key));
        return -1;
    }
    tun_hk_result hr, ir;
    tun_kh_check(&x->hosts, key, &hr);
    int ip_checked = !cert && x->check_ip;
    if (ip_checked)
        tun_kh_check(&x->ips, key, &ir);
    else
        ir = hr;
    int readonly = x->readonly || tun_hostkey_user_file(o) == NULL ||
                   (hr.found != NULL && hr.found->note == NOTE_COMMAND);
    switch (hr.status) {
    case TUN_HK_OK:
        tun_debug("Host '%s' is known and matches the %s host %s.", hn, type_upper(key),
                  cert ? "certificate" : "key");
        tun_debug("Found %s in %s:%u", cert ? "CA key" : "key", hr.found->origin, hr.found->lineno);
        if (cert && check_certificate(t, key) != 0)
            return 1;
        v->update_ok = !cert && hr.found->note == NOTE_USER;
        if (v->update_ok)
            for (int i = 0; i < o->n_user_known_hosts; i++)
                if (strcmp(hr.found->origin, o->user_known_hosts[i]) == 0)
                    v->user_file = i;
        if (ip_checked && ir.status == TUN_HK_NEW) {
            if (readonly)
                tun_info("%s host key for IP address '%s' not in list of known hosts.",
                         type_upper(key), ip);
            else {
                char what[200];
                snprintf(what, sizeof(what), "the host key for IP address '%s'", ip);
                record(t, ip, key, what);
            }
        } else if (o->visual_host_key) {
            /* VisualHostKey: the picture of a known key, as ssh shows it. */
            char art[TUN_RANDOMART_MAX];
            if (tun_randomart_key(key, type_upper(key), art, sizeof(art)) == 0) {
                tun_info("Host key fingerprint is %s", fp);
                say_lines(art);
            }
        }
        break;
    case TUN_HK_REVOKED:
        tun_error("@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@");
        tun_error("@       WARNING: REVOKED HOST KEY DETECTED!               @");
        tun_error("@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@");
        if (hr.revoked_ca) {
            char cafp[SSH_KEY_FP_MAX] = "";
            const ssh_key *ca = ssh_cert_ca(ssh_key_cert(key));
            ssh_key_fingerprint(ca, cafp, sizeof(cafp));
            tun_error("The certificate authority %s %s that signed the host certificate of %s "
                      "is marked as revoked in %s:%u.",
                      type_upper(ca), cafp, hn, hr.found->origin, hr.found->lineno);
        } else {
            tun_error("The %s host key for %s is marked as revoked in %s:%u.", type_upper(key), hn,
                      hr.found->origin, hr.found->lineno);
        }
        tun_error("This could mean that a stolen key is being used to impersonate this host.");
        return -1;
    case TUN_HK_CHANGED:
        if (cert)
            return 1;
        changed_banner(hn, key, fp, hr.found);
        if (ip_checked && ir.status != TUN_HK_CHANGED)
            tun_error("The key for the corresponding IP address %s %s.", ip,
                      ir.status == TUN_HK_NEW ? "is unknown" : "is unchanged");
        return -1;
    case TUN_HK_NEW: {
        if (cert)
            return 1;
        /* Reconnecting: an unlisted key must be the first connection's -
         * asking, or taking another, would let whoever sits on the new
         * path in. */
        if (t->pinned_fp) {
            if (strcmp(fp, t->pinned_fp) != 0) {
                pinned_banner(hn, key, fp, t->pinned_fp);
                return -1;
            }
            tun_debug("Host '%s' presents the %s host key trusted when sshtun connected first.",
                      hn, type_upper(key));
            break;
        }
        int accept = 0;
        switch (o->strict_host_key_checking) {
        case SHKC_NO:
        case SHKC_ACCEPT_NEW:
            accept = 1;
            break;
        case SHKC_YES:
            tun_error("No %s host key is known for %s and you have requested strict checking.",
                      type_upper(key), hn);
            break;
        default:
            accept = ask_new_key(t, hn, x->addr, key, fp, hr.other_types);
            break;
        }
        if (!accept)
            return -1;
        if (readonly) {
            tun_info("Warning: the %s host key of %s is not recorded: there is no known_hosts "
                     "file to write%s.",
                     type_upper(key), hn, tun_hostkey_user_file(o) ? " for this name" : "");
            break;
        }
        char names[1300], what[1400];
        if (ip_checked && ir.status == TUN_HK_NEW)
            snprintf(names, sizeof(names), "%s,%s", hn, ip);
        else
            snprintf(names, sizeof(names), "%s", hn);
        snprintf(what, sizeof(what), "'%s'", names);
        record(t, names, key, what);
        v->update_ok = 1;
        for (int i = 0; i < o->n_user_known_hosts && v->user_file < 0; i++)
            if (strcasecmp(o->user_known_hosts[i], "none") != 0)
                v->user_file = i;
        break;
    }
    }
    /* The host name is trusted; does the address agree?  (ssh: a key for
     * the address that differs is a warning, refused under strict checking.) */
    if (ip_checked && ir.status == TUN_HK_CHANGED) {
        tun_error("Warning: the %s host key for '%s' differs from the key for the IP address '%s'",
                  type_upper(key), hn, ip);
        tun_error("Offending key for IP in %s:%u", ir.found->origin, ir.found->lineno);
        if (hr.status == TUN_HK_OK)
            tun_error("Matching host key in %s:%u", hr.found->origin, hr.found->lineno);
        if (o->strict_host_key_checking == SHKC_ASK) {
            char ans[16];
            if (o->batch_mode || !tun_prompt_possible() ||
                tun_prompt("Are you sure you want to continue connecting (yes/no)? ", 1, ans,
                           sizeof(ans)) != 0 ||
                strcasecmp(ans, "yes") != 0)
                return -1;
        } else if (o->strict_host_key_checking != SHKC_NO) {
            tun_error("Exiting, you have requested strict checking.");
            return -1;
        }
    }
    snprintf(v->fp, sizeof(v->fp), "%s", fp);
    return 0;
}

int tun_hostkey_verify(const tun_hk_target *t, const ssh_key *key, tun_hk_verdict *v)
{
    const tun_options *o = t->o;
    struct check x = {t, v, {NULL, 0}, {NULL, 0}, 0, 0, ""};
    char fp[SSH_KEY_FP_MAX] = "", *ipstr = x.addr;
    ssh_key *plain = NULL;
    int local = 0, rv = -1;
    memset(v, 0, sizeof(*v));
    v->user_file = -1;
    ssh_key_fingerprint(key, fp, sizeof(fp));
    if (ssh_key_is_cert(key))
        log_certificate(key, fp);
    else
        tun_debug("Server host key: %s %s", ssh_key_type_name(key), fp);
    if (ssh_key_type(key) == SSH_KEY_RSA && ssh_key_bits(key) < (unsigned)o->required_rsa_size) {
        tun_error("Bad server host key: Invalid key length (RSA %u bits, RequiredRSASize %d)",
                  ssh_key_bits(key), o->required_rsa_size);
        goto out;
    }
    if (check_revoked_files(t, key, fp) != 0)
        goto out;

    host_name(t, t->port, v->host_name, sizeof(v->host_name));
    /* Names ssh would never write (and that would read back as patterns)
     * are looked up but not recorded. */
    x.readonly = strcspn(alias_or_host(t), "@?*#[]|'\"\\ \t") != strlen(alias_or_host(t));
    int have_ip = addr_string(t, ipstr, sizeof(x.addr), &local) == 0;
    if (!have_ip)
        ipstr[0] = '\0';
    /* CheckHostIP: not for loopback, nor when the host was named by its
     * address (ssh's rules); not for a certificate. */
    x.check_ip = o->check_host_ip == 1 && have_ip && !local && strcmp(t->host, ipstr) != 0;
    if (x.check_ip)
        tun_hk_hostname(ipstr, t->port, v->ip_name, sizeof(v->ip_name));

    if (load_all(t, &x.hosts, v->host_name, key, "HOSTNAME") != 0 ||
        (x.check_ip && !ssh_key_is_cert(key) &&
         load_all(t, &x.ips, v->ip_name, key, "ADDRESS") != 0)) {
        tun_error("KnownHostsCommand failed");
        goto out;
    }
    int r = judge(&x, key);
    if (r == 1) {
        /* No CA vouched for the certificate: the key under it, as a plain
         * key (ssh's "Retry with plain key"). */
        tun_debug("No matching CA found. Retry with plain key");
        if (ssh_key_plain(key, &plain) != 0)
            goto out;
        if (x.check_ip && x.ips.n == 0 && load_all(t, &x.ips, v->ip_name, plain, "ADDRESS") != 0) {
            tun_error("KnownHostsCommand failed");
            goto out;
        }
        r = judge(&x, plain);
    }
    if (r == 0)
        rv = 0;
out:
    ssh_key_free(plain);
    tun_kh_free(&x.hosts);
    tun_kh_free(&x.ips);
    if (rv != 0) {
        tun_error("Host key verification failed.");
        return SSH_ERR_HOSTKEY_REJECTED;
    }
    return 0;
}

/* ---- HostKeyAlgorithms order ---------------------------------------------------------------- */

void tun_hostkey_order_algs(const tun_hk_target *t, char *out, size_t outsz)
{
    const tun_options *o = t->o;
    snprintf(out, outsz, "%s", o->hostkey_algorithms);
    if (o->hostkey_algorithms_set)
        return;
    char hn[1100], known[512];
    tun_kh_set s = {NULL, 0};
    host_name(t, t->port, hn, sizeof(hn));
    if (load_all(t, &s, hn, NULL, "ORDER") != 0)
        tun_debug("KnownHostsCommand failed while ordering host key algorithms");
    int have_ca = 0;
    for (size_t i = 0; i < s.n; i++)
        have_ca |= s.v[i].marker == TUN_KH_CA;
    int n = tun_kh_algs(&s, known, sizeof(known));
    tun_kh_free(&s);
    if (n == 0 && !have_ca)
        return;
    /* A known key of the first algorithm's type: the list as it is (a
     * certificate falls back to its key if need be). */
    char first[64];
    snprintf(first, sizeof(first), "%.*s", (int)strcspn(o->hostkey_algorithms, ","),
             o->hostkey_algorithms);
    const char *fp = ssh_key_alg_plain(first);
    if (fp != NULL && (ssh_namelist_has(known, fp) || (strncmp(fp, "rsa-sha2-", 9) == 0 &&
                                                       ssh_namelist_has(known, "rsa-sha2-512"))))
        return;
    char res[2048] = "";
    for (int pass = 0; pass < 2; pass++) {
        char copy[2048], *save = NULL;
        snprintf(copy, sizeof(copy), "%s", o->hostkey_algorithms);
        for (char *a = strtok_r(copy, ",", &save); a; a = strtok_r(NULL, ",", &save)) {
            const char *plain = ssh_key_alg_plain(a);
            int pref =
                (ssh_key_alg_is_cert(a) && have_ca) ||
                (plain != NULL &&
                 (ssh_namelist_has(known, plain) ||
                  (strcmp(plain, "ssh-rsa") == 0 && ssh_namelist_has(known, "rsa-sha2-512"))));
            if ((pass == 0) != (pref != 0))
                continue;
            size_t l = strlen(res);
            snprintf(res + l, sizeof(res) - l, "%s%s", l ? "," : "", a);
        }
    }
    snprintf(out, outsz, "%s", res);
    tun_debug2("host key algorithms ordered for known keys: %s", out);
}
