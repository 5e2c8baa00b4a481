/*
 * tun_authkeys.c - authorized_keys lines (sshd(8) "AUTHORIZED_KEYS FILE
 * FORMAT"): option parsing, key lookup, from= address lists,
 * permitopen/permitlisten matching and the options codec that carries the
 * result from the privileged helper to the network process.
 *
 * Decisions, where sshd(8) leaves room or where we chose to be stricter:
 *
 *  - Options or not: a line starts with a key type when its first word
 *    begins with "ssh-", "ecdsa-" or "sk-" (no option name does); anything
 *    else is parsed as an option list.  Key types we do not support
 *    (ssh-dss, sk-*, certificates) are then refused by the key parser, so
 *    the line is skipped.
 *  - Option names are case-insensitive.  Values must be double-quoted; the
 *    only escape is the two characters \" (a literal quote); any other
 *    backslash is kept as it is.  A value may not hold a NUL byte nor be
 *    longer than AK_MAX_STR bytes.  An option list ends at the first blank
 *    outside quotes and must be followed by a key ("restrict" alone, a
 *    trailing comma or a blank after a comma make the line invalid).
 *  - Options apply left to right: "restrict,pty" allows a pty,
 *    "pty,restrict" does not.
 *  - command=, from= and expiry-time= may appear once; a second one makes
 *    the line invalid (which value was meant is a guess we do not make).
 *    More than TUN_AK_MAX_LIST environment=, permitopen= or permitlisten=
 *    options make the line invalid too.
 *  - environment="NAME=value": NAME is one or more of [A-Za-z0-9_].
 *  - permitopen="host:port": host is a name, an address, "[v6addr]" or
 *    "*"; port is 0-65535 or "*".  An unbracketed host may not contain ':'.
 *    permitlisten="[host:]port" has the same syntax with the host optional;
 *    a bare port means any host (as "*:port"), and tun_permit_match() reads
 *    it that way.  Entries are stored as written.
 *  - expiry-time="YYYYMMDD[HHMM[SS]][Z]": local time (the system time zone,
 *    mktime() with DST left to the C library) unless suffixed with 'Z',
 *    which means UTC (as OpenSSH 8.9+ does).  Years 1970-9999.  A
 *    malformed time makes the line invalid.  The key is refused once
 *    `now` is past the instant named: accepted at exactly that second,
 *    refused from the next one on ("a time after which the key will not
 *    be accepted").
 *  - from="pattern-list" is matched against the client's address only
 *    (sshd would also try the reverse-resolved name with UseDNS; we do no
 *    name lookups here).  See tun_match_address_list() below.
 *  - cert-authority (with principals="...") lets certificates signed by the
 *    line's key in, for the account's name or one of the listed
 *    principals, with the certificate's options merged into the line's
 *    (tun_authcert.h); a certificate is never let in by a plain line for
 *    the key it certifies, and principals= on a plain line makes it
 *    useless, as in sshd.  tunnel="..." is valid syntax but unsupported:
 *    the line is parsed (so syntax errors still count) and reported with
 *    *ignore set; tun_authkeys_find() skips it.
 *    no-touch-required and verify-required concern FIDO keys, which we do
 *    not support; they are accepted and do nothing.
 *  - Unknown options make the line invalid: the key on it is not accepted
 *    through that line (sshd does the same).  The search goes on with the
 *    next line.
 *
 * No code here is taken from OpenSSH; only the file format and the
 * documented behaviour of sshd(8) are followed.
 */
#include "tun_authkeys.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "sshtun/buf.h"
#include "sshtun/cert.h"
#include "sshtun/err.h"
#include "tun_authcert.h"
#include "tun_log.h"
#include "tun_match.h"

/* Longest option value, and longest string in the encoding (command=,
 * environment=, permitopen=, permitlisten= entries). */
#define AK_MAX_STR 8192
/* Longest line looked at (options and key); longer lines are invalid. */
#define AK_MAX_LINE (1024u * 1024)

/* Bits of the encoded flags word. */
#define KO_NO_PORT_FORWARDING  0x01u
#define KO_NO_PTY              0x02u
#define KO_NO_AGENT_FORWARDING 0x04u
#define KO_NO_X11_FORWARDING   0x08u
#define KO_NO_USER_RC          0x10u
#define KO_HAS_COMMAND         0x20u
#define KO_ALL                 0x3fu

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* ---- small validators ---------------------------------------------------- */

/* "*" (*port = -1) or a decimal 0-65535 without sign or leading junk. */
static int parse_port(const char *s, size_t n, long *port)
{
    if (n == 1 && s[0] == '*') {
        *port = -1;
        return 0;
    }
    if (n == 0 || n > 5)
        return -1;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v > 65535)
        return -1;
    *port = v;
    return 0;
}

/* Split "host:port", "[host]:port" or, with bare_ok, "port" (host "*").
 * The host (without brackets) goes to host[hostsz]; *port is -1 for "*".
 * Hosts must be non-empty and free of blanks and control characters; an
 * unbracketed one may not contain ':' or brackets. */
static int split_hostport(const char *s, int bare_ok, char *host, size_t hostsz, long *port)
{
    const char *h, *ps;
    size_t hl;
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (rb == NULL || rb[1] != ':')
            return -1;
        h = s + 1;
        hl = (size_t)(rb - h);
        ps = rb + 2;
        if (memchr(h, '[', hl) != NULL)
            return -1;
    } else {
        const char *colon = strchr(s, ':');
        if (colon == NULL) {
            if (!bare_ok)
                return -1;
            h = "*";
            hl = 1;
            ps = s;
        } else {
            h = s;
            hl = (size_t)(colon - s);
            ps = colon + 1;
            if (strchr(ps, ':') != NULL || memchr(h, '[', hl) != NULL || memchr(h, ']', hl) != NULL)
                return -1;
        }
    }
    if (hl == 0 || hl >= hostsz)
        return -1;
    for (size_t i = 0; i < hl; i++) {
        unsigned char c = (unsigned char)h[i];
        if (c <= ' ' || c == 0x7f)
            return -1;
    }
    if (parse_port(ps, strlen(ps), port) != 0)
        return -1;
    memcpy(host, h, hl);
    host[hl] = '\0';
    return 0;
}

static int valid_permitopen(const char *s)
{
    char host[AK_MAX_STR + 1];
    long port;
    return split_hostport(s, 0, host, sizeof(host), &port) == 0;
}

static int valid_permitlisten(const char *s)
{
    char host[AK_MAX_STR + 1];
    long port;
    return split_hostport(s, 1, host, sizeof(host), &port) == 0;
}

/* "NAME=value", NAME of [A-Za-z0-9_]+. */
static int valid_environment(const char *s)
{
    size_t n = 0;
    while (isalnum((unsigned char)s[n]) || s[n] == '_')
        n++;
    return n > 0 && s[n] == '=';
}

static int is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int y, int m)
{
    static const int d[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : d[m - 1];
}

static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

/* expiry-time value -> Unix time.  See the decisions at the top. */
static int parse_expiry(const char *s, int64_t *out)
{
    size_t n = strlen(s);
    int utc = 0;
    if (n > 0 && s[n - 1] == 'Z') {
        utc = 1;
        n--;
    }
    if (n != 8 && n != 12 && n != 14)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return -1;
    int y = digits(s, 4), mo = digits(s + 4, 2), d = digits(s + 6, 2);
    int h = n >= 12 ? digits(s + 8, 2) : 0;
    int mi = n >= 12 ? digits(s + 10, 2) : 0;
    int se = n == 14 ? digits(s + 12, 2) : 0;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo) || h > 23 || mi > 59 ||
        se > 59)
        return -1;
    if (utc) {
        int64_t days = 0;
        for (int yy = 1970; yy < y; yy++)
            days += is_leap(yy) ? 366 : 365;
        for (int mm = 1; mm < mo; mm++)
            days += month_days(y, mm);
        days += d - 1;
        *out = days * 86400 + h * 3600 + mi * 60 + se;
        return 0;
    }
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    tm.tm_isdst = -1;
    time_t t = mktime(&tm);
    if (t == (time_t)-1)
        return -1;
    *out = (int64_t)t;
    return 0;
}

/* ---- option parsing ------------------------------------------------------ */

enum opt_id {
    OPT_RESTRICT,
    OPT_NO_PORT_FORWARDING,
    OPT_PORT_FORWARDING,
    OPT_NO_PTY,
    OPT_PTY,
    OPT_NO_AGENT_FORWARDING,
    OPT_AGENT_FORWARDING,
    OPT_NO_X11_FORWARDING,
    OPT_X11_FORWARDING,
    OPT_NO_USER_RC,
    OPT_USER_RC,
    OPT_NOOP,        /* no-touch-required, verify-required */
    OPT_UNSUPPORTED, /* tunnel= */
    OPT_CERT_AUTHORITY,
    OPT_PRINCIPALS,
    OPT_COMMAND,
    OPT_FROM,
    OPT_ENVIRONMENT,
    OPT_PERMITOPEN,
    OPT_PERMITLISTEN,
    OPT_EXPIRY_TIME,
};

static const struct optdef {
    const char *name;
    int has_value;
    enum opt_id id;
} optdefs[] = {
    {"restrict", 0, OPT_RESTRICT},
    {"no-port-forwarding", 0, OPT_NO_PORT_FORWARDING},
    {"port-forwarding", 0, OPT_PORT_FORWARDING},
    {"no-pty", 0, OPT_NO_PTY},
    {"pty", 0, OPT_PTY},
    {"no-agent-forwarding", 0, OPT_NO_AGENT_FORWARDING},
    {"agent-forwarding", 0, OPT_AGENT_FORWARDING},
    {"no-x11-forwarding", 0, OPT_NO_X11_FORWARDING},
    {"x11-forwarding", 0, OPT_X11_FORWARDING},
    {"no-user-rc", 0, OPT_NO_USER_RC},
    {"user-rc", 0, OPT_USER_RC},
    {"no-touch-required", 0, OPT_NOOP},
    {"verify-required", 0, OPT_NOOP},
    {"cert-authority", 0, OPT_CERT_AUTHORITY},
    {"principals", 1, OPT_PRINCIPALS},
    {"tunnel", 1, OPT_UNSUPPORTED},
    {"command", 1, OPT_COMMAND},
    {"from", 1, OPT_FROM},
    {"environment", 1, OPT_ENVIRONMENT},
    {"permitopen", 1, OPT_PERMITOPEN},
    {"permitlisten", 1, OPT_PERMITLISTEN},
    {"expiry-time", 1, OPT_EXPIRY_TIME},
};

static const struct optdef *find_optdef(const char *name, size_t n)
{
    for (size_t i = 0; i < sizeof(optdefs) / sizeof(optdefs[0]); i++)
        if (strlen(optdefs[i].name) == n && strncasecmp(optdefs[i].name, name, n) == 0)
            return &optdefs[i];
    return NULL;
}

/* The first word names a key type (see the decisions at the top). */
static int starts_with_keytype(const char *s, size_t n)
{
    static const char *const prefixes[] = {"ssh-", "ecdsa-", "sk-"};
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        size_t pl = strlen(prefixes[i]);
        if (n >= pl && memcmp(s, prefixes[i], pl) == 0)
            return 1;
    }
    return 0;
}

/* The quoted value at s[*i] (which must be '"'), unescaped, malloc'd;
 * *i moves past the closing quote.  NULL on a syntax error (missing
 * quotes, NUL byte, too long) or out of memory. */
static char *read_quoted(const char *s, size_t len, size_t *i)
{
    size_t k = *i;
    if (k >= len || s[k] != '"')
        return NULL;
    k++;
    size_t start = k, outlen = 0;
    for (;;) {
        if (k >= len || s[k] == '\0')
            return NULL;
        if (s[k] == '"')
            break;
        k += (s[k] == '\\' && k + 1 < len && s[k + 1] == '"') ? 2 : 1;
        if (++outlen > AK_MAX_STR)
            return NULL;
    }
    char *out = malloc(outlen + 1);
    if (out == NULL)
        return NULL;
    size_t o = 0;
    for (size_t j = start; j < k;) {
        if (s[j] == '\\' && j + 1 < k && s[j + 1] == '"') {
            out[o++] = '"';
            j += 2;
        } else {
            out[o++] = s[j++];
        }
    }
    out[o] = '\0';
    *i = k + 1;
    return out;
}

static int list_add(char **list, int *n, char *v)
{
    if (*n >= TUN_AK_MAX_LIST)
        return -1;
    list[(*n)++] = v;
    return 0;
}

struct parsed {
    tun_keyopts o;
    char *from;
    char *expiry;
    int ignore;
    int cert_authority;
    char *principals;
};

/* Apply one option; takes ownership of `val` in every case.  0 or -1 with
 * a reason in *err. */
static int apply_option(struct parsed *p, enum opt_id id, char *val, const char **err)
{
    tun_keyopts *o = &p->o;
    int64_t t;
    switch (id) {
    case OPT_RESTRICT:
        o->no_port_forwarding = o->no_pty = o->no_agent_forwarding = o->no_x11_forwarding =
            o->no_user_rc = 1;
        return 0;
    case OPT_NO_PORT_FORWARDING:
    case OPT_PORT_FORWARDING:
        o->no_port_forwarding = id == OPT_NO_PORT_FORWARDING;
        return 0;
    case OPT_NO_PTY:
    case OPT_PTY:
        o->no_pty = id == OPT_NO_PTY;
        return 0;
    case OPT_NO_AGENT_FORWARDING:
    case OPT_AGENT_FORWARDING:
        o->no_agent_forwarding = id == OPT_NO_AGENT_FORWARDING;
        return 0;
    case OPT_NO_X11_FORWARDING:
    case OPT_X11_FORWARDING:
        o->no_x11_forwarding = id == OPT_NO_X11_FORWARDING;
        return 0;
    case OPT_NO_USER_RC:
    case OPT_USER_RC:
        o->no_user_rc = id == OPT_NO_USER_RC;
        return 0;
    case OPT_NOOP:
        return 0;
    case OPT_UNSUPPORTED:
        free(val);
        p->ignore = 1;
        return 0;
    case OPT_CERT_AUTHORITY:
        p->cert_authority = 1;
        return 0;
    case OPT_PRINCIPALS:
        if (p->principals != NULL) {
            *err = "more than one principals=";
            break;
        }
        p->principals = val;
        return 0;
    case OPT_COMMAND:
        if (o->command != NULL) {
            *err = "more than one command=";
            break;
        }
        o->command = val;
        return 0;
    case OPT_FROM:
        if (p->from != NULL) {
            *err = "more than one from=";
            break;
        }
        p->from = val;
        return 0;
    case OPT_ENVIRONMENT:
        if (!valid_environment(val)) {
            *err = "bad environment=";
            break;
        }
        if (list_add(o->environment, &o->n_environment, val) != 0) {
            *err = "too many environment=";
            break;
        }
        return 0;
    case OPT_PERMITOPEN:
        if (!valid_permitopen(val)) {
            *err = "bad permitopen=";
            break;
        }
        if (list_add(o->permitopen, &o->n_permitopen, val) != 0) {
            *err = "too many permitopen=";
            break;
        }
        return 0;
    case OPT_PERMITLISTEN:
        if (!valid_permitlisten(val)) {
            *err = "bad permitlisten=";
            break;
        }
        if (list_add(o->permitlisten, &o->n_permitlisten, val) != 0) {
            *err = "too many permitlisten=";
            break;
        }
        return 0;
    case OPT_EXPIRY_TIME:
        if (p->expiry != NULL) {
            *err = "more than one expiry-time=";
            break;
        }
        if (parse_expiry(val, &t) != 0) {
            *err = "bad expiry-time=";
            break;
        }
        p->expiry = val;
        return 0;
    }
    free(val);
    return -1;
}

static void parsed_free(struct parsed *p)
{
    tun_keyopts_free(&p->o);
    free(p->from);
    free(p->expiry);
    free(p->principals);
    memset(p, 0, sizeof(*p));
}

static int parse_list(const char *line, size_t len, size_t i, struct parsed *p, int keyless,
                      const char **err);

/* Returns the offset of the key type, or -1 with a reason in *err. */
static int parse_options(const char *line, size_t len, struct parsed *p, const char **err)
{
    size_t i = 0;
    if (len > AK_MAX_LINE) { /* also keeps the int offset honest */
        *err = "line too long";
        return -1;
    }
    while (i < len && is_blank(line[i]))
        i++;
    if (i >= len) {
        *err = "empty line";
        return -1;
    }
    if (starts_with_keytype(line + i, len - i))
        return (int)i;
    return parse_list(line, len, i, p, 0, err);
}

/* The option list at line[i..]: up to a blank and a key (keyless == 0,
 * returns the key's offset), or to the end (keyless: returns len). */
static int parse_list(const char *line, size_t len, size_t i, struct parsed *p, int keyless,
                      const char **err)
{
    for (;;) {
        size_t ns = i;
        while (i < len && (isalnum((unsigned char)line[i]) || line[i] == '-'))
            i++;
        const struct optdef *d = find_optdef(line + ns, i - ns);
        if (d == NULL) {
            *err = i == ns ? "missing option name" : "unknown option";
            return -1;
        }
        char *val = NULL;
        if (i < len && line[i] == '=') {
            if (!d->has_value) {
                *err = "value given to a flag option";
                return -1;
            }
            i++;
            val = read_quoted(line, len, &i);
            if (val == NULL) {
                *err = "bad quoted value";
                return -1;
            }
        } else if (d->has_value) {
            *err = "option needs a value";
            return -1;
        }
        if (apply_option(p, d->id, val, err) != 0)
            return -1;
        if (i < len && line[i] == ',') {
            i++;
            continue;
        }
        if (keyless && i == len)
            return (int)len;
        if (i < len && is_blank(line[i]))
            break;
        *err = i < len ? "junk after option" : "no key after options";
        return -1;
    }
    while (i < len && is_blank(line[i]))
        i++;
    if (i >= len) {
        *err = "no key after options";
        return -1;
    }
    return (int)i;
}

int tun_authkeys_parse_options(const char *line, size_t len, tun_keyopts *opts, int *ignore,
                               char **from, char **expiry)
{
    struct parsed p;
    memset(&p, 0, sizeof(p));
    if (opts)
        memset(opts, 0, sizeof(*opts));
    if (ignore)
        *ignore = 0;
    if (from)
        *from = NULL;
    if (expiry)
        *expiry = NULL;
    if (line == NULL)
        return -1;
    const char *err = "";
    int off = parse_options(line, len, &p, &err);
    if (off < 0) {
        parsed_free(&p);
        return -1;
    }
    if (ignore)
        *ignore = p.ignore || p.cert_authority || p.principals != NULL;
    free(p.principals);
    if (opts)
        *opts = p.o;
    else
        tun_keyopts_free(&p.o);
    if (from)
        *from = p.from;
    else
        free(p.from);
    if (expiry)
        *expiry = p.expiry;
    else
        free(p.expiry);
    return off;
}

int tun_authkeys_parse_optlist(const char *s, size_t len, tun_keyopts *opts, char **from,
                               char **expiry, int *ca_only)
{
    struct parsed p;
    memset(&p, 0, sizeof(p));
    memset(opts, 0, sizeof(*opts));
    *from = *expiry = NULL;
    *ca_only = 0;
    const char *err = "";
    if (s == NULL || len > AK_MAX_LINE || parse_list(s, len, 0, &p, 1, &err) < 0) {
        parsed_free(&p);
        return -1;
    }
    *ca_only = p.cert_authority || p.principals != NULL || p.ignore;
    *opts = p.o;
    *from = p.from;
    *expiry = p.expiry;
    free(p.principals);
    return 0;
}

int tun_authkeys_expired(const char *expiry, int64_t now)
{
    int64_t t;
    return expiry != NULL && (parse_expiry(expiry, &t) != 0 || now > t);
}

/* ---- lookup ---------------------------------------------------------- */

__attribute__((format(printf, 3, 4))) static void set_why(char *why, size_t whysz, const char *fmt,
                                                          ...)
{
    if (why == NULL || whysz == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whysz, fmt, ap);
    va_end(ap);
}

/* A cert-authority line whose key is the certificate's CA: does the line
 * let this certificate in for `user`?  TUN_AK_FOUND with the merged
 * options in p->o, or TUN_AK_DENIED with the reason. */
static int cert_line(struct parsed *p, const ssh_key *cert, const char *user, const char *client_ip,
                     int64_t now, const char *ca_sig_algs, char *why, size_t whysz)
{
    const char *reason = NULL;
    /* principals=: one of them must be in the certificate (and then the
     * account's name need not be); otherwise the account's name. */
    if (p->principals != NULL && !tun_cert_principals_match(ssh_key_cert(cert), p->principals)) {
        set_why(why, whysz, "Certificate does not contain an authorized principal");
        return TUN_AK_DENIED;
    }
    if (ssh_cert_check(cert, SSH_CERT_TYPE_USER, p->principals ? NULL : user, 0, (uint64_t)now,
                       TUN_CERT_KNOWN_CRITICAL, ca_sig_algs, &reason) != 0) {
        set_why(why, whysz, "%s", reason);
        return TUN_AK_DENIED;
    }
    if (tun_authkeys_expired(p->expiry, now)) {
        set_why(why, whysz, "key expired");
        return TUN_AK_DENIED;
    }
    if (p->from != NULL && (client_ip == NULL || tun_match_address_list(client_ip, p->from) != 1)) {
        set_why(why, whysz, "from= does not match %s", client_ip ? client_ip : "(unknown)");
        return TUN_AK_DENIED;
    }
    tun_keyopts co;
    if (tun_cert_keyopts(cert, client_ip, &co, why, whysz) != 0)
        return TUN_AK_DENIED;
    int rv = tun_keyopts_merge(&p->o, &co, why, whysz);
    tun_keyopts_free(&co);
    return rv == 0 ? TUN_AK_FOUND : TUN_AK_DENIED;
}

/* One line: -1 to go on with the next line, else the result.  A
 * certificate is let in only by a cert-authority line naming its CA (and
 * only for a known user); a plain key only by a plain line naming it. */
static int check_line(const char *line, size_t len, unsigned lineno, const ssh_key *key,
                      const char *user, const char *client_ip, int64_t now, const char *ca_sig_algs,
                      tun_keyopts *opts, char *why, size_t whysz)
{
    size_t i = 0;
    while (i < len && is_blank(line[i]))
        i++;
    if (i == len || line[i] == '#')
        return -1;
    if (memchr(line, '\0', len) != NULL) {
        tun_debug3("authorized_keys line %u: NUL byte, skipped", lineno);
        return -1;
    }
    struct parsed p;
    memset(&p, 0, sizeof(p));
    const char *err = "";
    int off = parse_options(line, len, &p, &err);
    if (off < 0) {
        tun_debug("authorized_keys line %u: %s, line skipped", lineno, err);
        parsed_free(&p);
        return -1;
    }
    ssh_key *k = NULL;
    if (ssh_key_parse_public_line(line + off, len - (size_t)off, &k, NULL) != 0) {
        tun_debug3("authorized_keys line %u: no usable key, skipped", lineno);
        parsed_free(&p);
        return -1;
    }
    int is_cert = ssh_key_is_cert(key);
    int same;
    if (p.cert_authority)
        same = is_cert && user != NULL && !ssh_key_is_cert(k) &&
               ssh_key_equal_public(k, ssh_cert_ca(ssh_key_cert(key)));
    else
        same = !is_cert && p.principals == NULL && ssh_key_equal_public(k, key);
    ssh_key_free(k);
    if (!same) {
        parsed_free(&p);
        return -1;
    }
    if (p.ignore) {
        tun_debug("authorized_keys line %u: tunnel= is not supported, line skipped", lineno);
        parsed_free(&p);
        return -1;
    }
    if (p.cert_authority) {
        int r = cert_line(&p, key, user, client_ip, now, ca_sig_algs, why, whysz);
        if (r == TUN_AK_FOUND) {
            tun_debug("authorized_keys line %u: certificate accepted (CA line)", lineno);
            if (opts)
                *opts = p.o;
            else
                tun_keyopts_free(&p.o);
            memset(&p.o, 0, sizeof(p.o));
        }
        parsed_free(&p);
        return r;
    }
    int64_t exp;
    if (p.expiry != NULL && (parse_expiry(p.expiry, &exp) != 0 || now > exp)) {
        if (why != NULL && whysz > 0)
            snprintf(why, whysz, "key expired");
        parsed_free(&p);
        return TUN_AK_DENIED;
    }
    if (p.from != NULL && (client_ip == NULL || tun_match_address_list(client_ip, p.from) != 1)) {
        if (why != NULL && whysz > 0)
            snprintf(why, whysz, "from= does not match %s", client_ip ? client_ip : "(unknown)");
        parsed_free(&p);
        return TUN_AK_DENIED;
    }
    tun_debug("authorized_keys line %u: key accepted", lineno);
    if (opts)
        *opts = p.o;
    else
        tun_keyopts_free(&p.o);
    free(p.from);
    free(p.expiry);
    return TUN_AK_FOUND;
}

enum tun_ak_result tun_authkeys_find(const char *data, size_t len, const ssh_key *key,
                                     const char *client_ip, int64_t now, tun_keyopts *opts,
                                     char *why, size_t whysz)
{
    return tun_authkeys_find_user(data, len, key, NULL, client_ip, now, NULL, opts, why, whysz);
}

enum tun_ak_result tun_authkeys_find_user(const char *data, size_t len, const ssh_key *key,
                                          const char *user, const char *client_ip, int64_t now,
                                          const char *ca_sig_algs, tun_keyopts *opts, char *why,
                                          size_t whysz)
{
    if (opts)
        memset(opts, 0, sizeof(*opts));
    if (why != NULL && whysz > 0)
        why[0] = '\0';
    if (data == NULL || key == NULL)
        return TUN_AK_NOT_FOUND;
    size_t pos = 0;
    unsigned lineno = 0;
    while (pos < len) {
        const char *line = data + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - line) : len - pos;
        pos += ll + (nl ? 1 : 0);
        lineno++;
        if (ll > 0 && line[ll - 1] == '\r')
            ll--;
        int r =
            check_line(line, ll, lineno, key, user, client_ip, now, ca_sig_algs, opts, why, whysz);
        if (r >= 0)
            return (enum tun_ak_result)r;
    }
    return TUN_AK_NOT_FOUND;
}

void tun_keyopts_free(tun_keyopts *o)
{
    if (o == NULL)
        return;
    free(o->command);
    for (int i = 0; i < o->n_permitopen && i < TUN_AK_MAX_LIST; i++)
        free(o->permitopen[i]);
    for (int i = 0; i < o->n_permitlisten && i < TUN_AK_MAX_LIST; i++)
        free(o->permitlisten[i]);
    for (int i = 0; i < o->n_environment && i < TUN_AK_MAX_LIST; i++)
        free(o->environment[i]);
    memset(o, 0, sizeof(*o));
}

/* ---- codec ------------------------------------------------------------- */

/*
 * Encoding (SSH wire types, RFC 4251 section 5):
 *
 *   uint32  flags       KO_* bits; no other bit may be set
 *   string  command     only when KO_HAS_COMMAND is set
 *   uint32  n; string permitopen[n]      n <= TUN_AK_MAX_LIST
 *   uint32  n; string permitlisten[n]
 *   uint32  n; string environment[n]
 *
 * Strings are at most AK_MAX_STR bytes without NULs, and list entries
 * must pass the same checks as in authorized_keys.  The decoder demands
 * exactly this and nothing after it, so the encoding of a decodable input
 * is the input itself: nothing the (untrusted) network process could hand
 * back, or a corrupted helper could send, is interpreted loosely.
 */

static int put_list(ssh_buf *out, char *const *list, int n, int (*valid)(const char *))
{
    if (n < 0 || n > TUN_AK_MAX_LIST)
        return -1;
    if (ssh_buf_put_u32(out, (uint32_t)n) != 0)
        return -1;
    for (int i = 0; i < n; i++) {
        if (list[i] == NULL || strlen(list[i]) > AK_MAX_STR || !valid(list[i]) ||
            ssh_buf_put_cstring(out, list[i]) != 0)
            return -1;
    }
    return 0;
}

int tun_keyopts_encode(const tun_keyopts *o, ssh_buf *out)
{
    if (o == NULL || out == NULL)
        return -1;
    size_t start = ssh_buf_len(out);
    uint32_t flags = (o->no_port_forwarding ? KO_NO_PORT_FORWARDING : 0) |
                     (o->no_pty ? KO_NO_PTY : 0) |
                     (o->no_agent_forwarding ? KO_NO_AGENT_FORWARDING : 0) |
                     (o->no_x11_forwarding ? KO_NO_X11_FORWARDING : 0) |
                     (o->no_user_rc ? KO_NO_USER_RC : 0) | (o->command ? KO_HAS_COMMAND : 0);
    if (ssh_buf_put_u32(out, flags) != 0)
        goto fail;
    if (o->command != NULL &&
        (strlen(o->command) > AK_MAX_STR || ssh_buf_put_cstring(out, o->command) != 0))
        goto fail;
    if (put_list(out, o->permitopen, o->n_permitopen, valid_permitopen) != 0 ||
        put_list(out, o->permitlisten, o->n_permitlisten, valid_permitlisten) != 0 ||
        put_list(out, o->environment, o->n_environment, valid_environment) != 0)
        goto fail;
    return 0;
fail:
    if (ssh_buf_len(out) > start)
        ssh_buf_consume_end(out, ssh_buf_len(out) - start);
    return -1;
}

static int get_list(ssh_cur *c, char **list, int *n, int (*valid)(const char *))
{
    uint32_t cnt;
    if (ssh_cur_get_u32(c, &cnt) != 0 || cnt > TUN_AK_MAX_LIST)
        return -1;
    for (uint32_t i = 0; i < cnt; i++) {
        char *s;
        if (ssh_cur_get_strdup(c, AK_MAX_STR, &s) != 0)
            return -1;
        list[(*n)++] = s; /* owned by the list from here on, even if invalid */
        if (!valid(s))
            return -1;
    }
    return 0;
}

int tun_keyopts_decode(ssh_cur *in, tun_keyopts *o)
{
    if (o == NULL)
        return -1;
    memset(o, 0, sizeof(*o));
    if (in == NULL)
        return -1;
    ssh_cur c = *in;
    tun_keyopts t;
    memset(&t, 0, sizeof(t));
    uint32_t flags;
    if (ssh_cur_get_u32(&c, &flags) != 0 || (flags & ~KO_ALL) != 0)
        goto fail;
    t.no_port_forwarding = (flags & KO_NO_PORT_FORWARDING) != 0;
    t.no_pty = (flags & KO_NO_PTY) != 0;
    t.no_agent_forwarding = (flags & KO_NO_AGENT_FORWARDING) != 0;
    t.no_x11_forwarding = (flags & KO_NO_X11_FORWARDING) != 0;
    t.no_user_rc = (flags & KO_NO_USER_RC) != 0;
    if ((flags & KO_HAS_COMMAND) && ssh_cur_get_strdup(&c, AK_MAX_STR, &t.command) != 0)
        goto fail;
    if (get_list(&c, t.permitopen, &t.n_permitopen, valid_permitopen) != 0 ||
        get_list(&c, t.permitlisten, &t.n_permitlisten, valid_permitlisten) != 0 ||
        get_list(&c, t.environment, &t.n_environment, valid_environment) != 0)
        goto fail;
    if (ssh_cur_end(&c) != 0)
        goto fail;
    *in = c;
    *o = t;
    return 0;
fail:
    tun_keyopts_free(&t);
    return -1;
}

/* ---- address lists ------------------------------------------------------- */

struct addr {
    int family; /* AF_INET or AF_INET6 */
    uint8_t b[16];
};

/* Text address -> struct addr; IPv4-mapped IPv6 addresses become IPv4
 * (sshd reports such clients as IPv4 too). */
static int parse_addr(const char *s, struct addr *a)
{
    memset(a, 0, sizeof(*a));
    if (inet_pton(AF_INET, s, a->b) == 1) {
        a->family = AF_INET;
        return 0;
    }
    if (inet_pton(AF_INET6, s, a->b) == 1) {
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(a->b, mapped, 12) == 0) {
            memmove(a->b, a->b + 12, 4);
            memset(a->b + 4, 0, 12);
            a->family = AF_INET;
        } else {
            a->family = AF_INET6;
        }
        return 0;
    }
    return -1;
}

/* Does `a` fall in "addr/len"?  An entry that is not a valid CIDR block
 * (bad address, length missing, not decimal or too large) never matches.
 * Host bits set below the prefix are ignored ("10.1.2.3/8" is 10.0.0.0/8),
 * so a sloppy "!10.1.2.3/8" still denies what it evidently means to. */
static int cidr_match(const struct addr *a, const char *entry)
{
    const char *slash = strchr(entry, '/');
    char host[INET6_ADDRSTRLEN];
    size_t hl = (size_t)(slash - entry);
    if (hl == 0 || hl >= sizeof(host))
        return 0;
    memcpy(host, entry, hl);
    host[hl] = '\0';
    const char *ls = slash + 1;
    size_t ll = strlen(ls);
    if (ll == 0 || ll > 3)
        return 0;
    unsigned bits = 0;
    for (size_t i = 0; i < ll; i++) {
        if (ls[i] < '0' || ls[i] > '9')
            return 0;
        bits = bits * 10 + (unsigned)(ls[i] - '0');
    }
    uint8_t net[16];
    int family = strchr(host, ':') ? AF_INET6 : AF_INET;
    if (inet_pton(family, host, net) != 1)
        return 0;
    unsigned maxbits = family == AF_INET ? 32 : 128;
    if (bits > maxbits || family != a->family)
        return 0;
    for (unsigned i = 0; i < bits / 8; i++)
        if (a->b[i] != net[i])
            return 0;
    if (bits % 8) {
        uint8_t mask = (uint8_t)(0xff00u >> (bits % 8));
        if ((a->b[bits / 8] & mask) != (net[bits / 8] & mask))
            return 0;
    }
    return 1;
}

/*
 * Entries are separated by ','; empty entries are ignored.  An entry
 * containing '/' is a CIDR block (see cidr_match), any other a wildcard
 * pattern ('*', '?') for the address text; a client given as an
 * IPv4-mapped IPv6 address is matched in its IPv4 form as well.  A
 * matching '!' entry decides "no" whatever else matches; otherwise any
 * matching entry means "yes".
 */
int tun_match_address_list(const char *ip, const char *list)
{
    if (ip == NULL || list == NULL)
        return 0;
    struct addr a;
    int have_addr = parse_addr(ip, &a) == 0;
    char v4[INET_ADDRSTRLEN] = "";
    if (have_addr && a.family == AF_INET && inet_ntop(AF_INET, a.b, v4, sizeof(v4)) == NULL)
        v4[0] = '\0';
    int pos = 0;
    const char *p = list;
    for (;;) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        const char *q = p;
        int neg = 0;
        if (l > 0 && *q == '!') {
            neg = 1;
            q++;
            l--;
        }
        char pat[1024];
        if (l > 0 && l < sizeof(pat)) {
            memcpy(pat, q, l);
            pat[l] = '\0';
            int m;
            if (strchr(pat, '/') != NULL)
                m = have_addr && cidr_match(&a, pat);
            else
                m = tun_match_pattern(ip, pat) || (v4[0] && tun_match_pattern(v4, pat));
            if (m && neg)
                return 0;
            if (m)
                pos = 1;
        }
        if (e == NULL)
            break;
        p = e + 1;
    }
    return pos;
}

/* ---- permitopen / permitlisten -------------------------------------------- */

int tun_permit_match(char *const *list, int n, const char *host, uint32_t port)
{
    if (list == NULL || host == NULL || n <= 0)
        return 0;
    /* The host as asked may carry brackets ("[::1]"); compare without. */
    size_t hl = strlen(host);
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
        host++;
        hl -= 2;
    }
    for (int i = 0; i < n; i++) {
        const char *e = list[i];
        if (e == NULL || strcasecmp(e, "none") == 0)
            continue;
        if (strcasecmp(e, "any") == 0)
            return 1;
        char eh[1025];
        long ep;
        if (split_hostport(e, 1, eh, sizeof(eh), &ep) != 0)
            continue;
        if (ep != -1 && (uint32_t)ep != port)
            continue;
        if (strcmp(eh, "*") == 0 || (strlen(eh) == hl && strncasecmp(eh, host, hl) == 0))
            return 1;
    }
    return 0;
}

int tun_keyopts_copy(tun_keyopts *dst, const tun_keyopts *src)
{
    ssh_buf b;
    ssh_buf_init(&b, 1u << 20, 0);
    memset(dst, 0, sizeof(*dst));
    int rv = tun_keyopts_encode(src, &b);
    if (rv == 0) {
        ssh_cur c;
        ssh_cur_from_buf(&c, &b);
        rv = tun_keyopts_decode(&c, dst);
        if (rv != 0)
            tun_keyopts_free(dst);
    }
    ssh_buf_free(&b);
    return rv;
}
