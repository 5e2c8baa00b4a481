/*
 * tun_config.c - reading ssh_config(5) files.
 *
 * A file is a sequence of "Keyword value" lines.  "Host patterns" and
 * "Match criteria" start blocks whose lines apply only when they match;
 * before the first such line everything applies.  "Include" reads other
 * files (glob patterns; relative names under ~/.ssh or /etc/ssh) at that
 * point, conditionally when inside a block.  Unknown keywords are errors
 * wherever they appear (as in OpenSSH), unless IgnoreUnknown lists them.
 *
 * Match criteria supported: all, canonical, final, host, originalhost,
 * user, localuser and exec, each optionally negated with '!'.
 *
 * Two passes, as ssh makes them: the first with the destination as given;
 * then, when CanonicalizeHostname is on or a "Match final" asked for it,
 * a second one (TUN_CONFIG_FINAL) in which Host lines and "Match host" see
 * the canonical name and "canonical" and "final" are true.  In the first
 * pass both are false.
 */
#include "tun_config.h"
#include "tun_canon.h"
#include "tun_cfgval.h"
#include "tun_log.h"
#include "tun_match.h"
#include "tun_util.h"

#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>

#define CONFIG_MAX   (4 * 1024 * 1024)
#define INCLUDE_DEPTH 16

typedef struct ctx {
    tun_options *o;
    const char *host;
    unsigned flags;
    int depth;
    int errors;
} ctx;

static int read_file(ctx *x, const char *path, int required);

static const char *local_user(void)
{
    struct passwd *pw = getpwuid(getuid());
    if (pw && pw->pw_name)
        return pw->pw_name;
    const char *u = getenv("USER");
    return u ? u : "unknown";
}

/* Split the next whitespace-separated (optionally double-quoted) word. */
static char *next_word(char **pp)
{
    char *p = *pp;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '\0')
        return NULL;
    char *start;
    if (*p == '"') {
        start = ++p;
        while (*p && *p != '"')
            p++;
    } else {
        start = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
    }
    if (*p)
        *p++ = '\0';
    *pp = p;
    return start;
}

/* "Host" line: any positive match and no negated match. */
static int host_matches(const char *host, char *args)
{
    int match = 0;
    char *w;
    while ((w = next_word(&args)) != NULL) {
        int neg = *w == '!';
        if (tun_match_pattern(host, neg ? w + 1 : w)) {
            if (neg)
                return 0;
            match = 1;
        }
    }
    return match;
}

static int run_exec(ctx *x, const char *cmd)
{
    tun_tokens t;
    tun_tokens_init(&t, x->o, x->host);
    char *ex = tun_expand(cmd, &t, NULL);
    tun_tokens_free(&t);
    if (ex == NULL)
        return -1;
    if (x->flags & TUN_CONFIG_NO_EXEC) {
        /* Untrusted input (the fuzzer): expanded and checked, never run. */
        tun_debug("Not executing command: '%s'", ex);
        free(ex);
        return 0;
    }
    tun_debug("Executing command: '%s'", ex);
    pid_t pid = fork();
    if (pid < 0) {
        free(ex);
        return 0;
    }
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", ex, (char *)NULL);
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    free(ex);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* "Match" line: all criteria must hold.  -1 on a syntax error. */
static int match_line(ctx *x, char *args, const char *where)
{
    int result = 1;
    char *w;
    const char *target = x->o->hostname ? x->o->hostname : x->host;
    const char *ruser = x->o->user ? x->o->user : local_user();
    while ((w = next_word(&args)) != NULL) {
        int neg = *w == '!';
        const char *crit = neg ? w + 1 : w;
        int r;
        if (strcasecmp(crit, "all") == 0) {
            r = 1;
        } else if (strcasecmp(crit, "canonical") == 0 || strcasecmp(crit, "final") == 0) {
            /* A "Match final" (not negated) asks for the second pass. */
            if (!neg && strcasecmp(crit, "final") == 0)
                x->o->want_final_pass = 1;
            r = (x->flags & TUN_CONFIG_FINAL) != 0;
        } else {
            char *arg = next_word(&args);
            if (arg == NULL) {
                tun_error("%s: Missing Match criteria for %s", where, crit);
                return -1;
            }
            if (strcasecmp(crit, "host") == 0)
                r = tun_match_pattern_list(target, arg) == 1;
            else if (strcasecmp(crit, "originalhost") == 0)
                r = tun_match_pattern_list(x->host, arg) == 1;
            else if (strcasecmp(crit, "user") == 0)
                r = tun_match_pattern_list(ruser, arg) == 1;
            else if (strcasecmp(crit, "localuser") == 0)
                r = tun_match_pattern_list(local_user(), arg) == 1;
            else if (strcasecmp(crit, "exec") == 0) {
                /* Only run commands when the rest still matches. */
                r = result ? run_exec(x, arg) : 0;
                if (r < 0)
                    return -1;
            } else {
                tun_error("%s: Unsupported Match attribute %s", where, crit);
                return -1;
            }
        }
        if (neg)
            r = !r;
        if (!r)
            result = 0;
    }
    return result;
}

static int include(ctx *x, char *args, const char *where)
{
    char *w;
    if (x->flags & TUN_CONFIG_NO_INCLUDE) {
        tun_error("%s: Include is not allowed here", where);
        return -1;
    }
    if (x->depth >= INCLUDE_DEPTH) {
        tun_error("%s: Include nested too deeply", where);
        return -1;
    }
    while ((w = next_word(&args)) != NULL) {
        char *pat;
        if (w[0] == '~' || w[0] == '/') {
            pat = tun_expand_home(w);
        } else {
            const char *base = (x->flags & TUN_CONFIG_USER) ? tun_home() : "/etc/ssh";
            size_t l = strlen(base) + strlen(w) + 8;
            pat = malloc(l);
            if (pat)
                snprintf(pat, l, "%s%s/%s", base, (x->flags & TUN_CONFIG_USER) ? "/.ssh" : "", w);
        }
        if (pat == NULL)
            return -1;
        glob_t g;
        int gr = glob(pat, 0, NULL, &g);
        if (gr == 0) {
            for (size_t i = 0; i < g.gl_pathc; i++) {
                tun_debug("%s: including %s", where, g.gl_pathv[i]);
                x->depth++;
                if (read_file(x, g.gl_pathv[i], 0) != 0)
                    x->errors++;
                x->depth--;
            }
            globfree(&g);
        } else if (gr != GLOB_NOMATCH) {
            tun_error("%s: glob failed for %s", where, pat);
        }
        free(pat);
    }
    return 0;
}

/* One file's or text's Host/Match state. */
typedef struct {
    ctx *x;
    int active;
} section;

static int parse_line(void *arg, char *line, const char *where)
{
    section *sec = arg;
    ctx *x = sec->x;
    char kw[64], val[4096];
    const char *rest;
    if (tun_cfg_split_keyword(line, kw, sizeof(kw), &rest) != 0) {
        tun_error("%s: Bad configuration option: %s", where, line);
        x->errors++;
        return 0;
    }
    /* Host, Match and Include take words (quoted ones kept whole by
     * next_word); a word starting with '#' ends the line. */
    snprintf(val, sizeof(val), "%s", rest);
    tun_options_strip_comment(val);
    if (strcasecmp(kw, "Host") == 0) {
        sec->active = host_matches(
            (x->flags & TUN_CONFIG_FINAL) && x->o->hostname ? x->o->hostname : x->host, val);
    } else if (strcasecmp(kw, "Match") == 0) {
        int m = match_line(x, val, where);
        if (m < 0) {
            x->errors++;
            sec->active = 0;
        } else {
            sec->active = m;
        }
    } else if (strcasecmp(kw, "Include") == 0) {
        if (sec->active && include(x, val, where) != 0)
            x->errors++;
    } else if (sec->active) {
        if (tun_options_apply(x->o, line, where) != 0)
            x->errors++;
    } else if (!tun_options_known(kw) &&
               !(x->o->ignore_unknown && tun_match_pattern_list(kw, x->o->ignore_unknown) == 1)) {
        tun_error("%s: Bad configuration option: %s", where, kw);
        x->errors++;
    }
    return 0;
}

/* Files and memory alike: a Host or Match section ends with its text. */
static void parse_lines(ctx *x, char *data, const char *name)
{
    section sec = {x, 1};
    tun_cfg_lines(data, name, parse_line, &sec);
}

static int read_file(ctx *x, const char *path, int required)
{
    uint8_t *data;
    size_t len;
    if (tun_read_file(path, CONFIG_MAX, &data, &len) != 0) {
        if (required || errno != ENOENT) {
            tun_error("Can't open user config file %s: %s", path, strerror(errno));
            return -1;
        }
        return 0;
    }
    tun_debug("Reading configuration data %s", path);
    parse_lines(x, (char *)data, path);
    free(data);
    return 0;
}

int tun_config_read(tun_options *o, const char *path, const char *host, unsigned flags)
{
    ctx x = {o, host, flags, 0, 0};
    char *p = tun_expand_home(path);
    if (p == NULL)
        return -1;
    /* A file that cannot be read is said in one line, as by ssh. */
    int rv = read_file(&x, p, (flags & TUN_CONFIG_REQUIRED) != 0);
    if (rv == 0)
        rv = tun_cfg_verdict(p, x.errors);
    free(p);
    return rv;
}

int tun_config_read_mem(tun_options *o, const char *data, size_t len, const char *name,
                        const char *host, unsigned flags)
{
    ctx x = {o, host, flags, 0, 0};
    char *copy = tun_cfg_text_copy(data, len, CONFIG_MAX, name);
    if (copy == NULL)
        return -1;
    tun_debug("Reading configuration data %s", name);
    parse_lines(&x, copy, name);
    free(copy);
    return tun_cfg_verdict(name, x.errors);
}

/* ---- tokens ----------------------------------------------------------------------------- */

void tun_tokens_init(tun_tokens *t, const tun_options *o, const char *original_host)
{
    memset(t, 0, sizeof(*t));
    static char lhost[256], shost[256], port[16], uid[16];
    if (gethostname(lhost, sizeof(lhost)) != 0)
        snprintf(lhost, sizeof(lhost), "localhost");
    lhost[sizeof(lhost) - 1] = '\0';
    snprintf(shost, sizeof(shost), "%s", lhost);
    shost[strcspn(shost, ".")] = '\0';
    snprintf(port, sizeof(port), "%d", o->port > 0 ? o->port : 22);
    snprintf(uid, sizeof(uid), "%u", (unsigned)getuid());
    t->host = o->hostname ? o->hostname : original_host;
    t->original_host = original_host;
    t->port = port;
    t->local_user = local_user();
    t->remote_user = o->user ? o->user : t->local_user;
    t->home = tun_home();
    t->local_host = lhost;
    t->short_host = shost;
    t->uid = uid;
    t->host_key_alias = o->host_key_alias ? o->host_key_alias : t->host;
    tun_options_jump_host(o, t->jump_host, sizeof(t->jump_host));
    /* %C: SHA-1 over %l %h %p %r %j, as OpenSSH 9.6 and later compute it
     * (the last jump host's name, empty without one), so that control
     * paths agree with ssh's and a jump makes a different connection. */
    uint8_t md[20];
    unsigned ml = 0;
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    if (m && EVP_DigestInit_ex(m, EVP_sha1(), NULL) == 1 &&
        EVP_DigestUpdate(m, t->local_host, strlen(t->local_host)) == 1 &&
        EVP_DigestUpdate(m, t->host, strlen(t->host)) == 1 &&
        EVP_DigestUpdate(m, t->port, strlen(t->port)) == 1 &&
        EVP_DigestUpdate(m, t->remote_user, strlen(t->remote_user)) == 1 &&
        EVP_DigestUpdate(m, t->jump_host, strlen(t->jump_host)) == 1 &&
        EVP_DigestFinal_ex(m, md, &ml) == 1) {
        for (unsigned i = 0; i < ml && i < 20; i++)
            snprintf(t->conn_hash + 2 * i, 3, "%02x", md[i]);
    }
    EVP_MD_CTX_free(m);
}

void tun_tokens_free(tun_tokens *t)
{
    (void)t;
}

char *tun_expand(const char *in, const tun_tokens *t, const char *allowed)
{
    char *start = tun_expand_home(in);
    if (start == NULL)
        return NULL;
    size_t cap = strlen(start) + 256, n = 0;
    char *out = malloc(cap);
    if (out == NULL) {
        free(start);
        return NULL;
    }
    for (const char *p = start; *p; p++) {
        const char *rep = NULL;
        char one[2] = {0, 0};
        if (*p != '%') {
            one[0] = *p;
            rep = one;
        } else {
            p++;
            if (*p != '%' && allowed && strchr(allowed, *p) == NULL) {
                tun_error("percent_expand: unknown key %%%c", *p ? *p : '?');
                free(out);
                free(start);
                return NULL;
            }
            switch (*p) {
            case '%': rep = "%"; break;
            case 'h': rep = t->host; break;
            case 'n': rep = t->original_host; break;
            case 'p': rep = t->port; break;
            case 'r': rep = t->remote_user; break;
            case 'u': rep = t->local_user; break;
            case 'd': rep = t->home; break;
            case 'l': rep = t->local_host; break;
            case 'L': rep = t->short_host; break;
            case 'i': rep = t->uid; break;
            case 'k': rep = t->host_key_alias; break;
            case 'C': rep = t->conn_hash; break;
            case 'j':
                rep = t->jump_host;
                break;
            case 'f':
                rep = t->hostkey_fp;
                goto known_hosts_only;
            case 'H':
                rep = t->kh_name;
                goto known_hosts_only;
            case 'I':
                rep = t->kh_reason;
                goto known_hosts_only;
            case 'K':
                rep = t->hostkey_b64;
                goto known_hosts_only;
            case 't':
                rep = t->hostkey_type;
            known_hosts_only:
                /* Only KnownHostsCommand has these. */
                if (rep != NULL)
                    break;
                tun_error("percent_expand: unknown key %%%c", *p);
                free(out);
                free(start);
                return NULL;
            default:
                tun_error("percent_expand: unknown key %%%c", *p ? *p : '?');
                free(out);
                free(start);
                return NULL;
            }
        }
        size_t rl = strlen(rep ? rep : "");
        if (n + rl + 1 > cap) {
            cap = (n + rl + 1) * 2;
            char *no = realloc(out, cap);
            if (no == NULL) {
                free(out);
                free(start);
                return NULL;
            }
            out = no;
        }
        memcpy(out + n, rep ? rep : "", rl);
        n += rl;
    }
    out[n] = '\0';
    free(start);
    return out;
}

static int expand_field(char **f, const tun_tokens *t, const char *allowed)
{
    if (*f == NULL)
        return 0;
    char *e = tun_expand(*f, t, allowed);
    if (e == NULL)
        return -1;
    free(*f);
    *f = e;
    return 0;
}

char *tun_config_hostname(const tun_options *o, const char *host)
{
    if (o->hostname == NULL)
        return strdup(host);
    if (strchr(o->hostname, '%') == NULL)
        return strdup(o->hostname);
    tun_options tmp = *o;
    tun_tokens t;
    tmp.hostname = NULL;
    tun_tokens_init(&t, &tmp, host);
    char *h = tun_expand(o->hostname, &t, "h%");
    tun_tokens_free(&t);
    return h;
}

static int read_files(tun_options *o, const char *host, unsigned flags)
{
    const char *cf = o->config_file;
    if (cf)
        return strcmp(cf, "none") == 0
                   ? 0
                   : tun_config_read(o, cf, host, TUN_CONFIG_USER | TUN_CONFIG_REQUIRED | flags);
    if (tun_config_read(o, "~/.ssh/config", host, TUN_CONFIG_USER | flags) != 0 ||
        tun_config_read(o, "/etc/ssh/ssh_config", host, flags) != 0)
        return -1;
    return 0;
}

static int set_none(const char *v)
{
    return v == NULL || strcasecmp(v, "none") == 0;
}

int tun_config_load(tun_options *o, const char *host)
{
    if (read_files(o, host, 0) != 0)
        return -1;
    /* CanonicalizeHostname, then the second reading of the configuration
     * it (or a "Match final") asks for, with the canonical name: as ssh,
     * which leaves a name that a ProxyCommand or jump host will resolve
     * alone unless told "always". */
    int direct = set_none(o->proxy_command) && set_none(o->proxy_jump);
    if (o->canonicalize_hostname > CANON_NO || o->want_final_pass) {
        char *base = tun_config_hostname(o, host), *canon = NULL;
        if (base == NULL)
            return -1;
        if (o->canonicalize_hostname == CANON_ALWAYS ||
            (o->canonicalize_hostname == CANON_YES && direct)) {
            if (tun_canonicalize(o, base, &canon) != 0) {
                free(base);
                return -1;
            }
            free(base);
        } else {
            canon = base;
        }
        free(o->hostname);
        o->hostname = canon;
        tun_debug("re-parsing configuration");
        if (read_files(o, host, TUN_CONFIG_FINAL) != 0)
            return -1;
    }
    if (tun_options_finish(o) != 0 || tun_options_expand(o, host) != 0)
        return -1;
    return 0;
}

int tun_options_expand(tun_options *o, const char *original_host)
{
    tun_tokens t;
    /* HostName takes only %h (the original name) and %%. */
    if (o->hostname && strchr(o->hostname, '%')) {
        tun_options tmp = *o;
        tmp.hostname = NULL;
        tun_tokens_init(&t, &tmp, original_host);
        if (expand_field(&o->hostname, &t, "h%") != 0)
            return -1;
    }
    tun_tokens_init(&t, o, original_host);
    int rv = 0;
    /* ssh -G prints these two as written (ssh expands them only when it
     * loads the keys); a second expansion (a jump host's) keeps the first. */
    for (int i = 0; i < o->n_identity_files && rv == 0; i++)
        if (o->identity_files_written[i] == NULL &&
            (o->identity_files_written[i] = strdup(o->identity_files[i])) == NULL)
            rv = -1;
    for (int i = 0; i < o->n_certificate_files && rv == 0; i++)
        if (o->certificate_files_written[i] == NULL &&
            (o->certificate_files_written[i] = strdup(o->certificate_files[i])) == NULL)
            rv = -1;
    for (int i = 0; i < o->n_identity_files && rv == 0; i++)
        rv = expand_field(&o->identity_files[i], &t, NULL);
    for (int i = 0; i < o->n_user_known_hosts && rv == 0; i++)
        rv = expand_field(&o->user_known_hosts[i], &t, NULL);
    for (int i = 0; i < o->n_global_known_hosts && rv == 0; i++)
        rv = expand_field(&o->global_known_hosts[i], &t, NULL);
    for (int i = 0; i < o->n_certificate_files && rv == 0; i++)
        rv = expand_field(&o->certificate_files[i], &t, NULL);
    for (int i = 0; i < o->n_revoked_host_keys && rv == 0; i++)
        rv = expand_field(&o->revoked_host_keys[i], &t, NULL);
    /* KnownHostsCommand is expanded when it runs: its tokens include the
     * host key (%f %K %t) and what it is asked for (%H %I). */
    if (rv == 0 && o->original_host == NULL && (o->original_host = strdup(original_host)) == NULL)
        rv = -1;
    if (rv == 0)
        rv = expand_field(&o->control_path, &t, NULL);
    if (rv == 0)
        rv = expand_field(&o->identity_agent, &t, NULL);
    if (rv == 0)
        rv = expand_field(&o->remote_command, &t, NULL);
    tun_tokens_free(&t);
    return rv;
}
