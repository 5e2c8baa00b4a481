/*
 * tun_muxproto.c - encoding and decoding of mux messages (tun_muxproto.h).
 */
#include "tun_muxproto.h"
#include "sshtun/err.h"

#include <stdlib.h>
#include <string.h>

#define TEXT_MAX 65536

void tun_mux_req_free(tun_mux_req *r)
{
    free(r->term);
    free(r->command);
    for (uint32_t i = 0; i < r->n_env; i++)
        free(r->env[i]);
    free(r->env);
    free(r->listen_host);
    free(r->connect_host);
    memset(r, 0, sizeof(*r));
}

int tun_mux_parse(const uint8_t *body, size_t len, tun_mux_req *r)
{
    ssh_cur c;
    memset(r, 0, sizeof(*r));
    ssh_cur_init(&c, body, len);
    if (ssh_cur_get_u32(&c, &r->type) != 0)
        return -1;
    if (r->type == MUX_MSG_HELLO) {
        /* version, then name/value extension pairs we ignore */
        if (ssh_cur_get_u32(&c, &r->version) != 0)
            return -1;
        while (c.len > 0)
            if (ssh_cur_get_string(&c, NULL, NULL) != 0 || ssh_cur_get_string(&c, NULL, NULL) != 0)
                return -1;
        return 0;
    }
    if (ssh_cur_get_u32(&c, &r->rid) != 0) {
        r->rid = 0;
        return 1; /* unknown or truncated: refuse with rid 0 */
    }
    int rv = 0;
    switch (r->type) {
    case MUX_C_ALIVE_CHECK:
    case MUX_C_TERMINATE:
    case MUX_C_STOP_LISTENING:
    case MUX_C_PROXY:
    case MUX_C_SSHTUN_STATUS:
        return 0;
    case MUX_C_NEW_SESSION:
        if ((rv = ssh_cur_get_string(&c, NULL, NULL)) != 0 || /* reserved */
            (rv = ssh_cur_get_u32(&c, &r->want_tty)) != 0 ||
            (rv = ssh_cur_get_u32(&c, &r->want_x11)) != 0 ||
            (rv = ssh_cur_get_u32(&c, &r->want_agent)) != 0 ||
            (rv = ssh_cur_get_u32(&c, &r->subsystem)) != 0 ||
            (rv = ssh_cur_get_u32(&c, &r->escape_char)) != 0 ||
            (rv = ssh_cur_get_strdup(&c, TEXT_MAX, &r->term)) != 0 ||
            (rv = ssh_cur_get_strdup(&c, MUX_PACKET_MAX, &r->command)) != 0)
            goto bad;
        while (c.len > 0) {
            char *e;
            if (r->n_env >= MUX_MAX_ENV || ssh_cur_get_strdup(&c, TEXT_MAX, &e) != 0)
                goto bad;
            char **ne = realloc(r->env, (r->n_env + 1) * sizeof(*ne));
            if (ne == NULL) {
                free(e);
                goto bad;
            }
            r->env = ne;
            r->env[r->n_env++] = e;
        }
        return 0;
    case MUX_C_OPEN_FWD:
    case MUX_C_CLOSE_FWD:
        if ((rv = ssh_cur_get_u32(&c, &r->fwd_type)) != 0 ||
            (rv = ssh_cur_get_strdup(&c, TEXT_MAX, &r->listen_host)) != 0 ||
            (rv = ssh_cur_get_u32(&c, &r->listen_port)) != 0 ||
            (rv = ssh_cur_get_strdup(&c, TEXT_MAX, &r->connect_host)) != 0 ||
            (rv = ssh_cur_get_u32(&c, &r->connect_port)) != 0 || (rv = ssh_cur_end(&c)) != 0)
            goto bad;
        if (r->fwd_type < MUX_FWD_LOCAL || r->fwd_type > MUX_FWD_DYNAMIC)
            goto bad;
        return 0;
    case MUX_C_NEW_STDIO_FWD:
        if ((rv = ssh_cur_get_string(&c, NULL, NULL)) != 0 || /* reserved */
            (rv = ssh_cur_get_strdup(&c, TEXT_MAX, &r->connect_host)) != 0 ||
            (rv = ssh_cur_get_u32(&c, &r->connect_port)) != 0 || (rv = ssh_cur_end(&c)) != 0)
            goto bad;
        return 0;
    default:
        return 1;
    }
bad:
    tun_mux_req_free(r);
    return -1;
}

static int put_prefixed(ssh_buf *b, const ssh_buf *body)
{
    int rv = ssh_buf_put_u32(b, (uint32_t)body->len);
    if (rv == 0)
        rv = ssh_buf_put(b, ssh_buf_ptr(body), body->len);
    return rv;
}

int tun_mux_put_hello(ssh_buf *b)
{
    uint8_t m[12];
    ssh_poke_u32(m, 8);
    ssh_poke_u32(m + 4, MUX_MSG_HELLO);
    ssh_poke_u32(m + 8, MUX_VERSION);
    return ssh_buf_put(b, m, sizeof(m));
}

int tun_mux_put_simple(ssh_buf *b, uint32_t type, uint32_t rid)
{
    uint8_t m[12];
    ssh_poke_u32(m, 8);
    ssh_poke_u32(m + 4, type);
    ssh_poke_u32(m + 8, rid);
    return ssh_buf_put(b, m, sizeof(m));
}

int tun_mux_put_u32(ssh_buf *b, uint32_t type, uint32_t rid, uint32_t value)
{
    uint8_t m[16];
    ssh_poke_u32(m, 12);
    ssh_poke_u32(m + 4, type);
    ssh_poke_u32(m + 8, rid);
    ssh_poke_u32(m + 12, value);
    return ssh_buf_put(b, m, sizeof(m));
}

int tun_mux_put_text(ssh_buf *b, uint32_t type, uint32_t rid, const char *text)
{
    ssh_buf body;
    ssh_buf_init(&body, MUX_PACKET_MAX, 0);
    int rv = ssh_buf_put_u32(&body, type);
    if (rv == 0)
        rv = ssh_buf_put_u32(&body, rid);
    if (rv == 0)
        rv = ssh_buf_put_cstring(&body, text ? text : "");
    if (rv == 0)
        rv = put_prefixed(b, &body);
    ssh_buf_free(&body);
    return rv;
}
