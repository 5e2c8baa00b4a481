/*
 * fuzz_tun_socks.c - the SOCKS4/4a/5 server-side parser (tunnel/tun_socks.h)
 * fed as tun_fwd.c feeds it: bytes arrive in chunks, are appended to a
 * buffer of at most SOCKS_BUF_MAX bytes, and tun_socks_input() is called
 * until it eats nothing more or decides.
 *
 * Input: byte 0 = chunking (0: everything in one read; n: reads of 1..n
 * bytes, sizes from a generator seeded with n), byte 1 = the reply code
 * given to tun_socks_reply() and the SSH open failure mapped by
 * tun_socks_code_for(), then the bytes a SOCKS client sends.
 *
 * Checked: the state only moves forward (START -> V5_REQUEST -> DONE or
 * FAILED, which are final); *used <= len; the return value is s->state; a
 * DONE request has a version, a NUL-terminated non-empty host; a FAILED one
 * a reason; replies have the sizes RFC 1928 / SOCKS4 prescribe; the parser
 * decides before tun_fwd.c's buffer is full; and the outcome (state,
 * request, bytes eaten, replies) does not depend on how the bytes were cut:
 * the chunked run equals a run with all bytes at once.
 */
#include <string.h>

#include "fuzz_tun.h"
#include "tun_socks.h"

#define SOCKS_BUF_MAX 1024 /* as in tun_fwd.c */

typedef struct run {
    tun_socks s;
    ssh_buf reply;
    size_t consumed; /* bytes eaten by the parser */
    int capped;      /* the buffer filled up without a decision */
} run;

static int is_final(enum tun_socks_state st)
{
    return st == SOCKS_DONE || st == SOCKS_FAILED;
}

/* One parser call, with the invariants every call must keep. */
static enum tun_socks_state step(run *r, const uint8_t *in, size_t len, size_t *used)
{
    enum tun_socks_state before = r->s.state;
    size_t rlen = r->reply.len;
    *used = (size_t)-1;
    enum tun_socks_state st = tun_socks_input(&r->s, in, len, used, &r->reply);
    CHECK(st == r->s.state);
    CHECK(*used <= len);
    CHECK(st >= SOCKS_START && st <= SOCKS_FAILED);
    if (is_final(before)) {
        /* Final states stay put, eat nothing and say nothing more. */
        CHECK(st == before);
        CHECK(*used == 0);
        CHECK(r->reply.len == rlen);
    }
    if (before == SOCKS_V5_REQUEST)
        CHECK(st != SOCKS_START);
    if (st == SOCKS_START)
        CHECK(*used == 0 && r->reply.len == rlen);
    if (st == SOCKS_V5_REQUEST && before == SOCKS_START) {
        /* The method selection: version 5, "no authentication". */
        CHECK(r->reply.len == rlen + 2);
        CHECK(memcmp(ssh_buf_ptr(&r->reply) + rlen, "\x05\x00", 2) == 0);
    }
    if (st == SOCKS_DONE) {
        CHECK(r->s.version == 4 || r->s.version == 5);
        CHECK(memchr(r->s.host, 0, sizeof(r->s.host)) != NULL);
        CHECK(r->s.host[0] != '\0');
        if (before != SOCKS_DONE)
            CHECK(*used > 0);
    }
    if (st == SOCKS_FAILED)
        CHECK(r->s.error != NULL);
    CHECK(r->reply.len <= 12); /* greeting answer + one error reply */
    return st;
}

/* Feed chunks like socks_readable() in tun_fwd.c. */
static void feed_chunked(run *r, const uint8_t *in, size_t len, uint8_t chunking)
{
    ssh_buf pend;
    ssh_buf_init(&pend, 4 * SOCKS_BUF_MAX, 0);
    uint32_t rnd = chunking;
    size_t off = 0;
    enum tun_socks_state st = r->s.state;
    while (off < len) {
        size_t n = chunking ? 1 + fuzz_tun_rand(&rnd) % chunking : len - off;
        if (n > len - off)
            n = len - off;
        if (n > SOCKS_BUF_MAX)
            n = SOCKS_BUF_MAX; /* one read() is at most this much */
        CHECK(ssh_buf_put(&pend, in + off, n) == 0);
        off += n;
        for (;;) {
            size_t used;
            st = step(r, ssh_buf_ptr(&pend), pend.len, &used);
            CHECK(ssh_buf_consume(&pend, used) == 0);
            r->consumed += used;
            if (used == 0 || is_final(st))
                break;
        }
        if (is_final(st))
            break;
        if (pend.len >= SOCKS_BUF_MAX) {
            r->capped = 1; /* tun_fwd.c closes the connection */
            break;
        }
    }
    /* Bytes after the request stay in the buffer for the channel; asking
     * again changes nothing. */
    if (is_final(st)) {
        size_t used;
        step(r, ssh_buf_ptr(&pend), pend.len, &used);
    }
    ssh_buf_free(&pend);
}

static void feed_whole(run *r, const uint8_t *in, size_t len)
{
    for (;;) {
        size_t used;
        enum tun_socks_state st = step(r, in, len, &used);
        in += used;
        len -= used;
        r->consumed += used;
        if (used == 0 || is_final(st))
            break;
    }
}

static void check_reply(const tun_socks *s, int rep)
{
    ssh_buf out;
    ssh_buf_init(&out, 64, 0);
    CHECK(tun_socks_reply(s, rep, &out) == 0);
    const uint8_t *p = ssh_buf_ptr(&out);
    if (s->version == 4) {
        CHECK(out.len == 8);
        CHECK(p[0] == 0 && p[1] == (rep == SOCKS5_OK ? 0x5a : 0x5b));
    } else {
        CHECK(out.len == 10);
        CHECK(p[0] == 5 && p[1] == (uint8_t)rep && p[3] == 1);
    }
    ssh_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const msgs[] = {
        NULL, "", "Connection refused", "Network is unreachable", "Name or service not known",
        "could not resolve hostname", "Connection timed out", "administratively prohibited",
    };
    fuzz_tun_devnull();
    if (size < 2)
        return 0;
    uint8_t chunking = data[0], code = data[1];
    data += 2;
    size -= 2;

    run a, b;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    tun_socks_init(&a.s);
    tun_socks_init(&b.s);
    ssh_buf_init(&a.reply, 64, 0);
    ssh_buf_init(&b.reply, 64, 0);

    feed_chunked(&a, data, size, chunking);
    feed_whole(&b, data, size);

    /* The parser must decide before tun_fwd.c gives up on a full buffer. */
    CHECK(!a.capped);
    /* The same bytes, cut differently, give the same result. */
    CHECK(a.s.state == b.s.state);
    CHECK(a.consumed == b.consumed);
    CHECK(a.reply.len == b.reply.len &&
          memcmp(ssh_buf_ptr(&a.reply), ssh_buf_ptr(&b.reply), a.reply.len) == 0);
    if (a.s.state == SOCKS_DONE) {
        CHECK(a.s.version == b.s.version && a.s.port == b.s.port);
        CHECK(strcmp(a.s.host, b.s.host) == 0);
    }
    /* (A FAILED reason may differ: an over-long SOCKS4a name is "too
     * long" before its NUL arrives, "bad" after.) */

    /* The final reply to the CONNECT, as the channel open went. */
    if (a.s.state == SOCKS_DONE || a.s.version != 0) {
        check_reply(&a.s, code & 0x0f);
        int rep = tun_socks_code_for(code >> 5, msgs[(code >> 2) & 7]);
        CHECK(rep >= SOCKS5_OK && rep <= SOCKS5_ATYP_NOT_SUPPORTED);
        check_reply(&a.s, rep);
    }

    ssh_buf_free(&a.reply);
    ssh_buf_free(&b.reply);
    return 0;
}
