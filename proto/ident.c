/*
 * ident.c - protocol version exchange (RFC 4253 section 4.2).
 *
 *     SSH-protoversion-softwareversion SP comments CR LF
 *
 * At most 255 characters including CR LF.  A server may send other lines
 * before its identification; a client must tolerate them (we bound their
 * number).  A client may not, so the server requires the first line to be
 * the identification.  Lines ending in a bare LF are accepted, as OpenSSH
 * does.  "SSH-1.99-" announces a server that also speaks 2.0 and is
 * accepted; anything else than 2.0 is refused.
 */
#include "kex.h"

#include <stdio.h>
#include <string.h>

int ssh_ident_send(ssh_conn *c)
{
    size_t n = strlen(c->v_ours);
    int rv = ssh_buf_put(&c->out, c->v_ours, n);
    if (rv == 0)
        rv = ssh_buf_put(&c->out, "\r\n", 2);
    if (rv == 0)
        c->bytes_out += n + 2;
    return rv;
}

int ssh_ident_process(ssh_conn *c)
{
    for (;;) {
        const uint8_t *p = ssh_buf_ptr(&c->in);
        size_t avail = c->in.len;
        size_t scan = avail < SSH_IDENT_MAX ? avail : SSH_IDENT_MAX;
        const uint8_t *nl = memchr(p, '\n', scan);
        if (nl == NULL) {
            if (avail >= SSH_IDENT_MAX)
                return SSH_ERR_BANNER; /* line too long */
            return 0;
        }
        size_t linelen = (size_t)(nl - p) + 1;
        size_t textlen = linelen - 1;
        if (textlen > 0 && p[textlen - 1] == '\r')
            textlen--;
        if (memchr(p, '\0', textlen) != NULL)
            return SSH_ERR_BANNER;
        c->bytes_in += linelen;

        if (textlen >= 4 && memcmp(p, "SSH-", 4) == 0) {
            memcpy(c->v_peer, p, textlen);
            c->v_peer[textlen] = '\0';
            ssh_buf_consume(&c->in, linelen);
            if (strncmp(c->v_peer, "SSH-2.0-", 8) != 0 && strncmp(c->v_peer, "SSH-1.99-", 9) != 0)
                return SSH_ERR_VERSION;
            c->peer_is_openssh = strstr(c->v_peer, "OpenSSH") != NULL;
            ssh_conn_logf(c, 1, "Remote protocol version %s, remote software version %s",
                          c->v_peer[4] == '2' ? "2.0" : "1.99",
                          strchr(c->v_peer + 4, '-') ? strchr(c->v_peer + 4, '-') + 1 : "");
            c->phase = PHASE_KEX1;
            return 1;
        }
        /* Not the identification: only a client accepts such lines. */
        if (c->server)
            return SSH_ERR_BANNER;
        if (++c->banner_lines > c->cfg.max_banner_lines)
            return SSH_ERR_BANNER;
        ssh_conn_logf(c, 2, "banner line %u: %.*s", c->banner_lines, (int)textlen,
                      (const char *)p);
        ssh_buf_consume(&c->in, linelen);
    }
}
