/*
 * tun_socks.c - SOCKS4/4a/5 request parsing (server side).
 *
 * SOCKS4:  VN=4 CD=1 DSTPORT(2) DSTIP(4) USERID NUL      (RFC-less, NEC spec)
 * SOCKS4a: same, DSTIP 0.0.0.x (x != 0), then DOMAIN NUL after USERID
 * SOCKS5:  greeting VER=5 NMETHODS METHODS..., we pick 0x00 (no auth);
 *          request  VER=5 CMD=1 RSV ATYP DST.ADDR DST.PORT(2)
 *          ATYP 1 = IPv4, 3 = domain (length byte), 4 = IPv6.
 * Domain names are passed on unresolved: the SSH server resolves them.
 */
#include "tun_socks.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#define USERID_MAX 255

void tun_socks_init(tun_socks *s)
{
    memset(s, 0, sizeof(*s));
}

static enum tun_socks_state fail(tun_socks *s, const char *why)
{
    s->state = SOCKS_FAILED;
    s->error = why;
    return s->state;
}

static enum tun_socks_state v4(tun_socks *s, const uint8_t *in, size_t len, size_t *used,
                               ssh_buf *reply)
{
    if (len < 8)
        return s->state;
    if (in[1] != 1) {
        /* Only CONNECT; say "rejected". */
        ssh_buf_put(reply, "\x00\x5b\x00\x00\x00\x00\x00\x00", 8);
        return fail(s, "SOCKS4 command not supported");
    }
    const uint8_t *uid = in + 8;
    const uint8_t *nul = memchr(uid, 0, len - 8);
    /* The same limit whether or not the NUL came in the same read. */
    if ((nul == NULL ? len - 8 : (size_t)(nul - uid)) > USERID_MAX)
        return fail(s, "SOCKS4 user id too long");
    if (nul == NULL)
        return s->state;
    size_t off = (size_t)(nul - in) + 1;
    s->port = (uint16_t)(in[2] << 8 | in[3]);
    if (in[4] == 0 && in[5] == 0 && in[6] == 0 && in[7] != 0) {
        /* SOCKS4a: the host name follows the user id. */
        const uint8_t *name = in + off;
        const uint8_t *end = memchr(name, 0, len - off);
        if (end == NULL) {
            if (len - off >= sizeof(s->host))
                return fail(s, "SOCKS4a host name too long");
            return s->state;
        }
        size_t nl = (size_t)(end - name);
        if (nl == 0 || nl >= sizeof(s->host))
            return fail(s, "SOCKS4a bad host name");
        memcpy(s->host, name, nl);
        s->host[nl] = '\0';
        off += nl + 1;
    } else {
        inet_ntop(AF_INET, in + 4, s->host, sizeof(s->host));
    }
    *used = off;
    s->version = 4;
    s->state = SOCKS_DONE;
    return s->state;
}

static enum tun_socks_state v5_greeting(tun_socks *s, const uint8_t *in, size_t len,
                                        size_t *used, ssh_buf *reply)
{
    if (len < 2)
        return s->state;
    size_t n = in[1];
    if (len < 2 + n)
        return s->state;
    int noauth = memchr(in + 2, 0x00, n) != NULL;
    *used = 2 + n;
    s->version = 5;
    if (!noauth) {
        ssh_buf_put(reply, "\x05\xff", 2);
        return fail(s, "SOCKS5 client offers no acceptable method");
    }
    ssh_buf_put(reply, "\x05\x00", 2);
    s->state = SOCKS_V5_REQUEST;
    return s->state;
}

static enum tun_socks_state v5_request(tun_socks *s, const uint8_t *in, size_t len, size_t *used,
                                       ssh_buf *reply)
{
    if (len < 4)
        return s->state;
    if (in[0] != 5)
        return fail(s, "SOCKS5 bad version in request");
    size_t need;
    switch (in[3]) {
    case 1: need = 4 + 4 + 2; break;
    case 4: need = 4 + 16 + 2; break;
    case 3:
        if (len < 5)
            return s->state;
        need = 4 + 1 + (size_t)in[4] + 2;
        if (in[4] == 0) {
            tun_socks_reply(s, SOCKS5_GENERAL_FAILURE, reply);
            return fail(s, "SOCKS5 empty host name");
        }
        break;
    default:
        tun_socks_reply(s, SOCKS5_ATYP_NOT_SUPPORTED, reply);
        return fail(s, "SOCKS5 address type not supported");
    }
    if (len < need)
        return s->state;
    if (in[1] != 1) {
        tun_socks_reply(s, SOCKS5_CMD_NOT_SUPPORTED, reply);
        return fail(s, "SOCKS5 command not supported");
    }
    if (in[3] == 1) {
        inet_ntop(AF_INET, in + 4, s->host, sizeof(s->host));
    } else if (in[3] == 4) {
        inet_ntop(AF_INET6, in + 4, s->host, sizeof(s->host));
    } else {
        size_t nl = in[4];
        if (memchr(in + 5, 0, nl) != NULL) {
            tun_socks_reply(s, SOCKS5_GENERAL_FAILURE, reply);
            return fail(s, "SOCKS5 NUL in host name");
        }
        memcpy(s->host, in + 5, nl);
        s->host[nl] = '\0';
    }
    s->port = (uint16_t)(in[need - 2] << 8 | in[need - 1]);
    *used = need;
    s->state = SOCKS_DONE;
    return s->state;
}

enum tun_socks_state tun_socks_input(tun_socks *s, const uint8_t *in, size_t len, size_t *used,
                                     ssh_buf *reply)
{
    *used = 0;
    switch (s->state) {
    case SOCKS_START:
        if (len < 1)
            return s->state;
        if (in[0] == 4)
            return v4(s, in, len, used, reply);
        if (in[0] == 5)
            return v5_greeting(s, in, len, used, reply);
        return fail(s, "not a SOCKS4/5 request");
    case SOCKS_V5_REQUEST:
        return v5_request(s, in, len, used, reply);
    default:
        return s->state;
    }
}

int tun_socks_reply(const tun_socks *s, int rep, ssh_buf *out)
{
    if (s->version == 4) {
        /* 0x5a granted, 0x5b rejected; port and address are ignored. */
        uint8_t r[8] = {0, rep == SOCKS5_OK ? 0x5a : 0x5b, 0, 0, 0, 0, 0, 0};
        return ssh_buf_put(out, r, sizeof(r));
    }
    /* VER REP RSV ATYP=1 BND.ADDR=0.0.0.0 BND.PORT=0 */
    uint8_t r[10] = {5, (uint8_t)rep, 0, 1, 0, 0, 0, 0, 0, 0};
    return ssh_buf_put(out, r, sizeof(r));
}

int tun_socks_code_for(uint32_t open_reason, const char *msg)
{
    if (open_reason == 1) /* administratively prohibited */
        return SOCKS5_NOT_ALLOWED;
    if (open_reason == 2 && msg) {
        if (strstr(msg, "refused"))
            return SOCKS5_CONN_REFUSED;
        if (strstr(msg, "unreachable") || strstr(msg, "not known") || strstr(msg, "resolve") ||
            strstr(msg, "timed out"))
            return SOCKS5_HOST_UNREACHABLE;
    }
    return SOCKS5_GENERAL_FAILURE;
}
