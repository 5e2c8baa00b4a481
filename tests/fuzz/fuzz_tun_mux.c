/*
 * fuzz_tun_mux.c - the connection-sharing protocol codec
 * (tunnel/tun_muxproto.h): what a master decodes from its clients, and
 * the encoders.
 *
 * Input: byte 0, bit 0 clear: the rest is one packet body for
 * tun_mux_parse(); set: the rest is a client's byte stream, cut into
 * packets as tun_muxmaster.c does (uint32 length, 4..MUX_PACKET_MAX, a bad
 * length drops the client).  The first bytes after byte 0 also give the
 * type, request id, value and text for the encoders.
 *
 * Checked: tun_mux_parse() returns -1, 0 or 1 and leaves nothing
 * allocated unless it returns 0; 1 only for unknown types (or no request
 * id); a decoded request re-encoded the way tun_muxclient.c writes it
 * decodes to the same request (OPEN_FWD/CLOSE_FWD byte for byte, they are
 * strict); the encoders write the documented lengths and decode back to
 * their type, request id, value and text.
 */
#include <string.h>

#include "fuzz_tun.h"
#include "sshtun/buf.h"
#include "tun_muxproto.h"

static int nothing_allocated(const tun_mux_req *r)
{
    return r->term == NULL && r->command == NULL && r->env == NULL && r->n_env == 0 &&
           r->listen_host == NULL && r->connect_host == NULL;
}

static int is_simple(uint32_t t)
{
    return t == MUX_C_ALIVE_CHECK || t == MUX_C_TERMINATE || t == MUX_C_STOP_LISTENING ||
           t == MUX_C_PROXY || t == MUX_C_SSHTUN_STATUS;
}

static int is_complex(uint32_t t)
{
    return t == MUX_C_NEW_SESSION || t == MUX_C_OPEN_FWD || t == MUX_C_CLOSE_FWD ||
           t == MUX_C_NEW_STDIO_FWD;
}

/* Encode `r` as tun_muxclient.c does (body only). */
static void encode(const tun_mux_req *r, ssh_buf *b)
{
    CHECK(ssh_buf_put_u32(b, r->type) == 0 && ssh_buf_put_u32(b, r->rid) == 0);
    switch (r->type) {
    case MUX_C_NEW_SESSION:
        CHECK(ssh_buf_put_cstring(b, "") == 0);
        CHECK(ssh_buf_put_u32(b, r->want_tty) == 0 && ssh_buf_put_u32(b, r->want_x11) == 0 &&
              ssh_buf_put_u32(b, r->want_agent) == 0 && ssh_buf_put_u32(b, r->subsystem) == 0 &&
              ssh_buf_put_u32(b, r->escape_char) == 0);
        CHECK(ssh_buf_put_cstring(b, r->term) == 0 && ssh_buf_put_cstring(b, r->command) == 0);
        for (uint32_t i = 0; i < r->n_env; i++)
            CHECK(ssh_buf_put_cstring(b, r->env[i]) == 0);
        break;
    case MUX_C_OPEN_FWD:
    case MUX_C_CLOSE_FWD:
        CHECK(ssh_buf_put_u32(b, r->fwd_type) == 0 && ssh_buf_put_cstring(b, r->listen_host) == 0 &&
              ssh_buf_put_u32(b, r->listen_port) == 0 &&
              ssh_buf_put_cstring(b, r->connect_host) == 0 &&
              ssh_buf_put_u32(b, r->connect_port) == 0);
        break;
    case MUX_C_NEW_STDIO_FWD:
        CHECK(ssh_buf_put_cstring(b, "") == 0 && ssh_buf_put_cstring(b, r->connect_host) == 0 &&
              ssh_buf_put_u32(b, r->connect_port) == 0);
        break;
    default:
        break;
    }
}

static int streq(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static void same_req(const tun_mux_req *a, const tun_mux_req *b)
{
    CHECK(a->type == b->type && a->rid == b->rid);
    CHECK(a->want_tty == b->want_tty && a->want_x11 == b->want_x11 &&
          a->want_agent == b->want_agent && a->subsystem == b->subsystem &&
          a->escape_char == b->escape_char);
    CHECK(streq(a->term, b->term) && streq(a->command, b->command));
    CHECK(a->n_env == b->n_env);
    for (uint32_t i = 0; i < a->n_env; i++)
        CHECK(streq(a->env[i], b->env[i]));
    CHECK(a->fwd_type == b->fwd_type && a->listen_port == b->listen_port &&
          a->connect_port == b->connect_port);
    CHECK(streq(a->listen_host, b->listen_host) && streq(a->connect_host, b->connect_host));
}

static void parse_body(const uint8_t *body, size_t len)
{
    tun_mux_req r;
    int rv = tun_mux_parse(body, len, &r);
    CHECK(rv == -1 || rv == 0 || rv == 1);
    if (rv != 0) {
        CHECK(nothing_allocated(&r));
        if (rv == 1 && len >= 8)
            CHECK(r.type != MUX_MSG_HELLO && !is_simple(r.type) && !is_complex(r.type));
        if (rv == 1)
            CHECK(r.rid == (len >= 8 ? ssh_peek_u32(body + 4) : 0));
        tun_mux_req_free(&r);
        return;
    }
    CHECK(len >= 8);
    CHECK(r.type == ssh_peek_u32(body));
    if (r.type == MUX_MSG_HELLO) {
        CHECK(r.version == ssh_peek_u32(body + 4) && nothing_allocated(&r));
        tun_mux_req_free(&r);
        return;
    }
    CHECK(r.rid == ssh_peek_u32(body + 4));
    CHECK(is_simple(r.type) || is_complex(r.type));
    switch (r.type) {
    case MUX_C_NEW_SESSION:
        CHECK(r.term != NULL && r.command != NULL && r.n_env <= MUX_MAX_ENV);
        CHECK((r.n_env == 0) == (r.env == NULL));
        break;
    case MUX_C_OPEN_FWD:
    case MUX_C_CLOSE_FWD:
        CHECK(r.fwd_type >= MUX_FWD_LOCAL && r.fwd_type <= MUX_FWD_DYNAMIC);
        CHECK(r.listen_host != NULL && r.connect_host != NULL);
        break;
    case MUX_C_NEW_STDIO_FWD:
        CHECK(r.connect_host != NULL);
        break;
    default:
        CHECK(nothing_allocated(&r));
        break;
    }
    if (is_complex(r.type)) {
        ssh_buf b;
        ssh_buf_init(&b, 0, 0);
        encode(&r, &b);
        if (r.type == MUX_C_OPEN_FWD || r.type == MUX_C_CLOSE_FWD)
            CHECK(b.len == len && memcmp(ssh_buf_ptr(&b), body, len) == 0);
        else
            CHECK(b.len <= len); /* the reserved string may have had content */
        tun_mux_req r2;
        CHECK(tun_mux_parse(ssh_buf_ptr(&b), b.len, &r2) == 0);
        same_req(&r, &r2);
        tun_mux_req_free(&r2);
        ssh_buf_free(&b);
    }
    tun_mux_req_free(&r);
    CHECK(nothing_allocated(&r));
}

/* One framed message from an encoder: its length prefix and body. */
static const uint8_t *framed(const ssh_buf *b, size_t want, size_t *blen)
{
    CHECK(b->len >= 4);
    uint32_t l = ssh_peek_u32(ssh_buf_ptr(b));
    CHECK(l == b->len - 4);
    if (want)
        CHECK(l == want);
    *blen = l;
    return ssh_buf_ptr(b) + 4;
}

/* The encoders' output decodes to what was encoded. */
static void encoders(uint32_t type, uint32_t rid, uint32_t value, const char *text)
{
    ssh_buf b;
    size_t bl;
    const uint8_t *body;
    tun_mux_req r;
    ssh_buf_init(&b, 0, 0);

    CHECK(tun_mux_put_hello(&b) == 0);
    body = framed(&b, 8, &bl);
    CHECK(tun_mux_parse(body, bl, &r) == 0 && r.type == MUX_MSG_HELLO && r.version == MUX_VERSION);
    tun_mux_req_free(&r);
    parse_body(body, bl);

    ssh_buf_reset(&b);
    CHECK(tun_mux_put_simple(&b, type, rid) == 0);
    body = framed(&b, 8, &bl);
    int rv = tun_mux_parse(body, bl, &r);
    if (type == MUX_MSG_HELLO)
        CHECK(rv == 0 && r.version == rid);
    else if (is_simple(type))
        CHECK(rv == 0 && r.type == type && r.rid == rid);
    else if (is_complex(type))
        CHECK(rv == -1);
    else
        CHECK(rv == 1 && r.type == type && r.rid == rid);
    tun_mux_req_free(&r);
    parse_body(body, bl);

    ssh_buf_reset(&b);
    CHECK(tun_mux_put_u32(&b, type, rid, value) == 0);
    body = framed(&b, 12, &bl);
    CHECK(ssh_peek_u32(body) == type && ssh_peek_u32(body + 4) == rid &&
          ssh_peek_u32(body + 8) == value);
    rv = tun_mux_parse(body, bl, &r);
    if (is_simple(type))
        CHECK(rv == 0 && r.rid == rid);
    else if (!is_complex(type) && type != MUX_MSG_HELLO)
        CHECK(rv == 1 && r.rid == rid);
    tun_mux_req_free(&r);
    parse_body(body, bl);

    ssh_buf_reset(&b);
    CHECK(tun_mux_put_text(&b, type, rid, text) == 0);
    body = framed(&b, 12 + strlen(text), &bl);
    ssh_cur c;
    uint32_t t2, rid2;
    char *text2 = NULL;
    ssh_cur_init(&c, body, bl);
    CHECK(ssh_cur_get_u32(&c, &t2) == 0 && t2 == type && ssh_cur_get_u32(&c, &rid2) == 0 &&
          rid2 == rid);
    CHECK(ssh_cur_get_strdup(&c, MUX_PACKET_MAX, &text2) == 0 && ssh_cur_end(&c) == 0);
    CHECK(strcmp(text, text2) == 0);
    free(text2);
    parse_body(body, bl);
    ssh_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_tun_devnull();
    if (size < 1)
        return 0;
    int stream = data[0] & 1;
    data++;
    size--;

    if (!stream) {
        parse_body(data, size);
    } else {
        /* tun_muxmaster.c: length 4..MUX_PACKET_MAX, else drop. */
        const uint8_t *p = data;
        size_t n = size;
        while (n >= 4) {
            uint32_t l = ssh_peek_u32(p);
            if (l < 4 || l > MUX_PACKET_MAX || l > n - 4)
                break;
            parse_body(p + 4, l);
            p += 4 + l;
            n -= 4 + l;
        }
    }

    /* Encoders, with fields from the input. */
    uint8_t f[12] = {0};
    memcpy(f, data, size < 12 ? size : 12);
    size_t tl = size > 12 ? size - 12 : 0;
    char *text = strndup(size > 12 ? (const char *)data + 12 : "", tl);
    CHECK(text != NULL);
    encoders(ssh_peek_u32(f), ssh_peek_u32(f + 4), ssh_peek_u32(f + 8), text);
    free(text);
    return 0;
}
