/*
 * fuzz_tun_authkeys.c - authorized_keys files and options, from= address
 * lists, permit lists and the options codec (tunnel/tun_authkeys.h).
 *
 * Input: byte 0 picks the mode (bits 0-1) and the client address (bits
 * 2-3), the rest is the data.
 *   mode 0: an authorized_keys file: tun_authkeys_find() for a fixed key,
 *           and every line through tun_authkeys_parse_options();
 *   mode 1: bytes for tun_keyopts_decode() (what the network process
 *           would receive from the privileged helper);
 *   mode 2: "ip\nlist": tun_match_address_list(), and the list's entries
 *           as a permit list for tun_permit_match();
 *   mode 3: an option list: "<data> " KEY parsed and looked up, and
 *           "<data> " CA_KEY looked up for a user certificate.
 * Modes 0 and 3 also look a certificate up (cert-authority lines) and
 * read the data as an AuthorizedPrincipalsFile and a CA key list.
 * Checked: results in range and ownership (options filled only when
 * FOUND, `why` set exactly when DENIED), everything the parser accepts
 * encodes and round-trips byte for byte, everything the decoder accepts
 * re-encodes to exactly its input (the encoding is canonical) and a failed
 * decode leaves the cursor alone, an address list is the documented
 * combination of its entries, "any" and "none" do what they say, and a
 * line whose options parse and whose key is ours is decided by it.
 */
#include <string.h>
#include <strings.h>

#include "fuzz_tun.h"
#include "sshtun/buf.h"
#include "sshtun/key.h"
#include "tun_authcert.h"
#include "tun_authkeys.h"

#define KEY "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDLJiJnloN6DCX2R47wC1mMpUuB9LSNwFIkB8/AzX94m"
/* A user certificate for the principals alice and bob, valid 2020..2040,
 * and its CA (tests/unit/data/certs: user_ed25519-cert.pub, ca_ed25519). */
#define CERT                                                                                       \
    "ssh-ed25519-cert-v01@openssh.com "                                                            \
    "AAAAIHNzaC1lZDI1NTE5LWNlcnQtdjAxQG9wZW5zc2guY29tAAAAIPDz2DClcmN6"                             \
    "6Qg1eH4EerrtYbBXN1vDZs6Cn6yZ8lyXAAAAIBLmLPXjx/IYtDU7gnot2d6gOZDh"                             \
    "bMiWWJtK9yIC5IY+AAAAAAAAACoAAAABAAAADWFsaWNlQGV4YW1wbGUAAAAQAAAA"                             \
    "BWFsaWNlAAAAA2JvYgAAAABeC+EAAAAAAIOqfoAAAAAAAAAAggAAABVwZXJtaXQt"                             \
    "WDExLWZvcndhcmRpbmcAAAAAAAAAF3Blcm1pdC1hZ2VudC1mb3J3YXJkaW5nAAAA"                             \
    "AAAAABZwZXJtaXQtcG9ydC1mb3J3YXJkaW5nAAAAAAAAAApwZXJtaXQtcHR5AAAA"                             \
    "AAAAAA5wZXJtaXQtdXNlci1yYwAAAAAAAAAAAAAAMwAAAAtzc2gtZWQyNTUxOQAA"                             \
    "ACDns3TYC66LE7EibM7nM+9GAi4XndgjVqaYuqiFu5Z4YQAAAFMAAAALc3NoLWVk"                             \
    "MjU1MTkAAABAWavSnYqau+hGuAci+U1h8TU/PPwstjOPn5wEhxy3W12ngvZzmPFB"                             \
    "AjfhNttthFZ0dWr9LMlhWEC6GXaq0A+TAw=="
#define CA_KEY "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOezdNgLrosTsSJszucz70YCLhed2CNWppi6qIW7lnhh"
#define NOW    ((int64_t)1700000000)

static const char *const client_ips[4] = {"10.1.2.3", "2001:db8::1", "::ffff:192.0.2.1", NULL};

static const ssh_key *fixed_key(void)
{
    static ssh_key *k;
    if (k == NULL)
        CHECK(ssh_key_parse_public_line(KEY, strlen(KEY), &k, NULL) == 0);
    return k;
}

static const ssh_key *cert_key(void)
{
    static ssh_key *k;
    if (k == NULL)
        CHECK(ssh_key_parse_public_line(CERT, strlen(CERT), &k, NULL) == 0);
    return k;
}

/* Does s[0..len) contain `word`, ignoring case (option names do)? */
static int contains_ci(const char *s, size_t len, const char *word)
{
    size_t wl = strlen(word);
    for (size_t i = 0; i + wl <= len; i++)
        if (strncasecmp(s + i, word, wl) == 0)
            return 1;
    return 0;
}

static int is_zero_opts(const tun_keyopts *o)
{
    tun_keyopts z;
    memset(&z, 0, sizeof(z));
    return memcmp(o, &z, sizeof(z)) == 0;
}

static void check_list(char *const *list, int n)
{
    CHECK(n >= 0 && n <= TUN_AK_MAX_LIST);
    for (int i = 0; i < n; i++)
        CHECK(list[i] != NULL);
}

/* Sane options that encode, decode to the same and re-encode identically. */
static void check_opts(const tun_keyopts *o)
{
    check_list(o->permitopen, o->n_permitopen);
    check_list(o->permitlisten, o->n_permitlisten);
    check_list(o->environment, o->n_environment);
    ssh_buf b1, b2;
    ssh_buf_init(&b1, 0, 0);
    ssh_buf_init(&b2, 0, 0);
    CHECK(tun_keyopts_encode(o, &b1) == 0);
    ssh_cur c;
    ssh_cur_from_buf(&c, &b1);
    tun_keyopts d;
    CHECK(tun_keyopts_decode(&c, &d) == 0 && c.len == 0);
    CHECK(!!d.no_port_forwarding == !!o->no_port_forwarding && !!d.no_pty == !!o->no_pty &&
          !!d.no_agent_forwarding == !!o->no_agent_forwarding &&
          !!d.no_x11_forwarding == !!o->no_x11_forwarding && !!d.no_user_rc == !!o->no_user_rc);
    CHECK((d.command == NULL) == (o->command == NULL));
    if (d.command)
        CHECK(strcmp(d.command, o->command) == 0);
    CHECK(d.n_permitopen == o->n_permitopen && d.n_permitlisten == o->n_permitlisten &&
          d.n_environment == o->n_environment);
    for (int i = 0; i < d.n_permitopen; i++)
        CHECK(strcmp(d.permitopen[i], o->permitopen[i]) == 0);
    for (int i = 0; i < d.n_permitlisten; i++)
        CHECK(strcmp(d.permitlisten[i], o->permitlisten[i]) == 0);
    for (int i = 0; i < d.n_environment; i++)
        CHECK(strcmp(d.environment[i], o->environment[i]) == 0);
    CHECK(tun_keyopts_encode(&d, &b2) == 0);
    CHECK(ssh_buf_len(&b1) == ssh_buf_len(&b2) &&
          memcmp(ssh_buf_ptr(&b1), ssh_buf_ptr(&b2), ssh_buf_len(&b1)) == 0);
    tun_keyopts_free(&d);
    /* A cut anywhere is refused. */
    size_t n = ssh_buf_len(&b1);
    for (size_t cut = n > 64 ? n - 64 : 0; cut < n; cut++) {
        ssh_cur_init(&c, ssh_buf_ptr(&b1), cut);
        CHECK(tun_keyopts_decode(&c, &d) == -1 && c.len == cut && is_zero_opts(&d));
    }
    tun_keyopts_free(&d);
    ssh_buf_free(&b1);
    ssh_buf_free(&b2);
}

static void check_find(const char *data, size_t len, const char *ip)
{
    tun_keyopts o;
    char why[64];
    enum tun_ak_result r = tun_authkeys_find(data, len, fixed_key(), ip, NOW, &o, why, sizeof(why));
    CHECK(r == TUN_AK_NOT_FOUND || r == TUN_AK_FOUND || r == TUN_AK_DENIED);
    if (r == TUN_AK_FOUND) {
        CHECK(why[0] == '\0');
        check_opts(&o);
    } else {
        CHECK(is_zero_opts(&o));
        if (r == TUN_AK_DENIED)
            CHECK(strcmp(why, "key expired") == 0 ||
                  strncmp(why, "from= does not match ", 21) == 0);
        else
            CHECK(why[0] == '\0');
    }
    tun_keyopts_free(&o);
    /* Without outputs, the same answer. */
    CHECK(tun_authkeys_find(data, len, fixed_key(), ip, NOW, NULL, NULL, 0) == r);
}

/* The certificate through the same file (cert-authority lines), and the
 * file as an AuthorizedPrincipalsFile. */
static void check_find_cert(const char *data, size_t len, const char *ip)
{
    tun_keyopts o;
    char why[128];
    why[0] = '\0';
    enum tun_ak_result r = tun_authkeys_find_user(data, len, cert_key(), "alice", ip, NOW,
                                                  "ssh-ed25519", &o, why, sizeof(why));
    CHECK(r == TUN_AK_NOT_FOUND || r == TUN_AK_FOUND || r == TUN_AK_DENIED);
    if (r == TUN_AK_FOUND)
        check_opts(&o);
    else
        CHECK(is_zero_opts(&o));
    CHECK((r == TUN_AK_DENIED) == (why[0] != '\0'));
    tun_keyopts_free(&o);
    CHECK(tun_authkeys_find_user(data, len, cert_key(), "alice", ip, NOW, "ssh-ed25519", NULL, NULL,
                                 0) == r);
    /* The plain key is never let in by a cert-authority line, so the user
     * makes no difference for it. */
    CHECK(tun_authkeys_find_user(data, len, fixed_key(), "alice", ip, NOW, NULL, NULL, NULL, 0) ==
          tun_authkeys_find(data, len, fixed_key(), ip, NOW, NULL, NULL, 0));
    why[0] = '\0';
    r = tun_principals_find(data, len, ssh_key_cert(cert_key()), ip, NOW, &o, why, sizeof(why));
    CHECK(r == TUN_AK_NOT_FOUND || r == TUN_AK_FOUND || r == TUN_AK_DENIED);
    if (r == TUN_AK_FOUND)
        check_opts(&o);
    else
        CHECK(is_zero_opts(&o));
    CHECK((r == TUN_AK_DENIED) == (why[0] != '\0'));
    tun_keyopts_free(&o);
    int has = tun_keylist_has(data, len, ssh_cert_ca(ssh_key_cert(cert_key())));
    CHECK(has == 0 || has == 1);
}

/* Returns the parse result; checks what the parser promises. */
static int check_parse(const char *line, size_t len, int *ignore_out)
{
    tun_keyopts o;
    int ign = -1;
    char *from = (char *)1, *expiry = (char *)1;
    int off = tun_authkeys_parse_options(line, len, &o, &ign, &from, &expiry);
    CHECK(off >= -1 && (off == -1 || (size_t)off < len));
    if (off < 0) {
        CHECK(is_zero_opts(&o) && from == NULL && expiry == NULL && ign == 0);
        return off;
    }
    CHECK(ign == 0 || ign == 1);
    CHECK(line[off] != ' ' && line[off] != '\t');
    check_opts(&o);
    tun_keyopts_free(&o);
    free(from);
    free(expiry);
    /* Outputs are optional. */
    CHECK(tun_authkeys_parse_options(line, len, NULL, NULL, NULL, NULL) == off);
    if (ignore_out)
        *ignore_out = ign;
    return off;
}

static void fuzz_file(const char *data, size_t len, const char *ip)
{
    check_find(data, len, ip);
    check_find_cert(data, len, ip);
    size_t pos = 0;
    while (pos < len) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t ll = nl ? (size_t)(nl - (data + pos)) : len - pos;
        check_parse(data + pos, ll, NULL);
        pos += ll + 1;
    }
}

static void fuzz_decode(const uint8_t *data, size_t len)
{
    ssh_cur c;
    ssh_cur_init(&c, data, len);
    tun_keyopts o;
    if (tun_keyopts_decode(&c, &o) != 0) {
        CHECK(c.p == data && c.len == len && is_zero_opts(&o));
        return;
    }
    CHECK(c.len == 0);
    ssh_buf b;
    ssh_buf_init(&b, 0, 0);
    CHECK(tun_keyopts_encode(&o, &b) == 0);
    CHECK(ssh_buf_len(&b) == len && memcmp(ssh_buf_ptr(&b), data, len) == 0);
    ssh_buf_free(&b);
    check_opts(&o);
    tun_keyopts_free(&o);
}

static void fuzz_lists(char *text, uint32_t port)
{
    char *nl = strchr(text, '\n');
    const char *ip = text, *list = "";
    if (nl) {
        *nl = '\0';
        list = nl + 1;
    }
    int r = tun_match_address_list(ip, list);
    CHECK(r == 0 || r == 1);

    /* The list is its entries combined: a matching '!' entry says no,
     * otherwise any matching entry says yes. */
    char *copy = strdup(list);
    CHECK(copy != NULL);
    char *entries[TUN_AK_MAX_LIST + 2];
    int n = 0, neg_hit = 0, pos_hit = 0, unsure = 0;
    char *p = copy;
    for (;;) {
        char *e = strchr(p, ',');
        if (e)
            *e = '\0';
        int neg = p[0] == '!';
        /* "!!x" is a negated "!x", which alone would read as negated. */
        if (neg && p[1] == '!')
            unsure = 1;
        int m = tun_match_address_list(ip, p + neg);
        CHECK(m == 0 || m == 1);
        if (m && neg)
            neg_hit = 1;
        else if (m)
            pos_hit = 1;
        if (neg && p[1] != '\0' && p[1] != '!')
            CHECK(tun_match_address_list(ip, p) == 0);
        if (n < TUN_AK_MAX_LIST)
            entries[n++] = p;
        if (!e)
            break;
        p = e + 1;
    }
    if (!unsure)
        CHECK(r == (neg_hit ? 0 : pos_hit));

    /* Permit lists: the same entries; "any" allows all, "none" nothing. */
    int pm = tun_permit_match(entries, n, ip, port);
    CHECK(pm == 0 || pm == 1);
    char any[] = "any", none[] = "none";
    entries[n] = any;
    CHECK(tun_permit_match(entries, n + 1, ip, port) == 1);
    entries[n] = none;
    CHECK(tun_permit_match(entries, n + 1, ip, port) == pm);
    char *only_none[] = {none};
    CHECK(tun_permit_match(only_none, 1, ip, port) == 0);
    free(copy);
}

static void fuzz_line(const char *opts, size_t len, const char *ip)
{
    if (memchr(opts, '\n', len) != NULL)
        return;
    size_t ll = len + 1 + strlen(KEY);
    char *line = malloc(ll + 1);
    CHECK(line != NULL);
    memcpy(line, opts, len);
    line[len] = ' ';
    memcpy(line + len + 1, KEY, strlen(KEY) + 1);
    int ign = 0;
    int off = check_parse(line, ll, &ign);
    enum tun_ak_result r = tun_authkeys_find(line, ll, fixed_key(), ip, NOW, NULL, NULL, 0);
    if (memchr(line, '\0', ll) != NULL) {
        CHECK(r == TUN_AK_NOT_FOUND); /* such lines are skipped */
    } else if (off >= 0 && !ign && strcmp(line + off, KEY) == 0) {
        CHECK(r == TUN_AK_FOUND || r == TUN_AK_DENIED);
    } else if (off < 0 || ign) {
        CHECK(r == TUN_AK_NOT_FOUND);
    }
    check_find(line, ll, ip);
    free(line);
    /* The same options on the CA's line, for the certificate: a line
     * without cert-authority never lets it in. */
    ll = len + 1 + strlen(CA_KEY);
    line = malloc(ll + 1);
    CHECK(line != NULL);
    memcpy(line, opts, len);
    line[len] = ' ';
    memcpy(line + len + 1, CA_KEY, strlen(CA_KEY) + 1);
    check_find_cert(line, ll, ip);
    if (!contains_ci(opts, len, "cert-authority"))
        CHECK(tun_authkeys_find_user(line, ll, cert_key(), "alice", ip, NOW, NULL, NULL, NULL, 0) ==
              TUN_AK_NOT_FOUND);
    free(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_tun_devnull();
    if (size < 1)
        return 0;
    const char *ip = client_ips[(data[0] >> 2) & 3];
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    switch (data[0] & 3) {
    case 0:
        fuzz_file(text, len, ip);
        break;
    case 1:
        fuzz_decode(data + 1, len);
        break;
    case 2: {
        char *s = strndup(text, len);
        CHECK(s != NULL);
        uint32_t port = size > 1 ? (uint32_t)data[size - 1] * 257u : 22;
        fuzz_lists(s, port);
        free(s);
        break;
    }
    case 3:
        fuzz_line(text, len, ip);
        break;
    }
    return 0;
}
