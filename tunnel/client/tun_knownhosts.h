/*
 * tun_knownhosts.h - OpenSSH known_hosts files: reading, matching,
 * appending and rewriting lines.
 *
 * Line format (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"):
 *     [@revoked|@cert-authority] patterns keytype base64-key [comment]
 * where patterns is a comma-separated list of host names or addresses with
 * '*' and '?' wildcards and '!' negation, "[host]:port" for a non-default
 * port, or a single hashed entry "|1|base64(salt)|base64(HMAC-SHA1(salt,
 * host))".  Lines starting with '#' and blank lines are ignored, and so are
 * lines whose key does not parse (a key type we do not know, say).
 *
 * The decisions built on this (which key is trusted, certificates,
 * prompts) are in tun_hostkey.c; this module only knows the file format.
 * Names given here are already in known_hosts form (tun_hk_hostname()).
 */
#ifndef SSHTUN_TUN_KNOWNHOSTS_H
#define SSHTUN_TUN_KNOWNHOSTS_H

#include <stddef.h>
#include <stdint.h>

#include "sshtun/key.h"

enum tun_kh_marker {
    TUN_KH_PLAIN = 0, /* a host key */
    TUN_KH_REVOKED,   /* @revoked: a key (or CA key) that must be refused */
    TUN_KH_CA,        /* @cert-authority: a CA whose host certificates are trusted */
};

/* "host" for port 22 (or 0), otherwise "[host]:port". */
void tun_hk_hostname(const char *host, unsigned port, char *out, size_t outsz);

/* One line as tun_knownhosts_foreach() reports it. */
typedef struct tun_kh_line {
    const char *origin; /* file name, or what produced the text */
    unsigned lineno;
    const char *text;  /* the whole line, without its newline */
    const char *hosts; /* the host field */
    enum tun_kh_marker marker;
    const ssh_key *key; /* the line's key, borrowed for the callback */
    int match_host;     /* the host name matched the host field */
    int match_ip;       /* the address matched it (when one was given) */
    int hashed;         /* the host field is a |1| hash */
} tun_kh_line;

/* Called for every line with a usable key, matching or not; a non-zero
 * return stops the walk (and is returned). */
typedef int (*tun_kh_fn)(void *arg, const tun_kh_line *l);

/* Walk known_hosts text (`origin` names it in messages), matching each
 * line against `host` and, if not NULL, `ip`. */
int tun_knownhosts_foreach_text(const char *text, size_t len, const char *origin, const char *host,
                                const char *ip, tun_kh_fn fn, void *arg);
/* The same over a file (~ expanded); a missing or unreadable file is
 * skipped (0).  Files above 64 MiB are refused (skipped, with a message). */
int tun_knownhosts_foreach(const char *file, const char *host, const char *ip, tun_kh_fn fn,
                           void *arg);

/* ---- entries for one host ------------------------------------------------------------------- */

typedef struct tun_kh_entry {
    ssh_key *key;
    enum tun_kh_marker marker;
    char *origin;
    unsigned lineno;
    int note; /* 1: from KnownHostsCommand, 2: from a global file */
} tun_kh_entry;

typedef struct tun_kh_set {
    tun_kh_entry *v;
    size_t n;
} tun_kh_set;

/* Add the lines of a file / of text that match `host`.  `note` is copied
 * into each entry. */
void tun_kh_load_file(tun_kh_set *s, const char *file, const char *host, int note);
void tun_kh_load_text(tun_kh_set *s, const char *text, size_t len, const char *origin,
                      const char *host, int note);
void tun_kh_free(tun_kh_set *s);

enum tun_hk_status {
    TUN_HK_NEW = 0, /* nothing decides (for a certificate: no CA of this host signed it) */
    TUN_HK_OK,      /* a plain line holds exactly this key / a CA line holds its CA */
    TUN_HK_CHANGED, /* the host is known with another key of this type */
    TUN_HK_REVOKED, /* @revoked names the key, the key it certifies or its CA */
};

typedef struct tun_hk_result {
    enum tun_hk_status status;
    const tun_kh_entry *found; /* the deciding entry (OK, CHANGED, REVOKED) */
    int revoked_ca;            /* REVOKED because of the certificate's CA */
    int other_types;           /* the host is known with keys of other types */
    int have_ca;               /* @cert-authority lines exist for the host */
} tun_hk_result;

/* Judge `key` against the entries, as OpenSSH's check_key_in_hostkeys:
 * a certificate against @cert-authority lines (its CA), a plain key
 * against plain lines (an exact match anywhere wins over a mismatch
 * elsewhere, since keys rotate); @revoked wins over everything. */
void tun_kh_check(const tun_kh_set *s, const ssh_key *key, tun_hk_result *r);

/* Signature algorithm names of the plain keys known for the host, in
 * preference order ("rsa-sha2-512,rsa-sha2-256" for RSA), appended to out
 * (comma-separated); returns how many key types were found. */
int tun_kh_algs(const tun_kh_set *s, char *out, size_t outsz);

/* ---- writing -------------------------------------------------------------------------------- */

/* Append "names key" to the file, creating it (0600) and its directory
 * (0700).  `names` is one known_hosts name or "host,ip"; with `hash`
 * each name gets its own hashed line.  Returns 0 or -1 (errno). */
int tun_knownhosts_add(const char *file, const char *names, const ssh_key *key, int hash);

/* Rewrite `file` for UpdateHostKeys (OpenSSH's hostfile_replace_entries):
 * plain lines that match `host` (or `ip`) and hold none of `keys` are
 * removed; then every key of `keys` that no matching line holds is
 * appended for "host[,ip]" (hashed if `hash`).  Marker lines, comments and
 * other hosts' lines stay as they are.  The new file replaces the old
 * atomically (same mode).  `removed`/`added` count what changed.  Returns
 * 0, or -1 with errno (the file is then unchanged). */
int tun_knownhosts_replace(const char *file, const char *host, const char *ip, ssh_key *const *keys,
                           size_t nkeys, int hash, size_t *removed, size_t *added);

/* Parse one line: does it match `name`?  Returns -1 for lines to skip
 * (comments, malformed, unusable key), else 0/1 with *key (caller frees)
 * and *marker.  Exposed for the fuzzer. */
int tun_knownhosts_line(const char *line, const char *name, ssh_key **key,
                        enum tun_kh_marker *marker);

#endif
