/*
 * test_tun_proxyproto.c - the PROXY protocol header parser
 * (tunnel/server/tun_proxyproto.h): v1 and v2 headers that must be taken
 * (IPv4, IPv6, LOCAL, UNKNOWN, UNSPEC, AF_UNIX, TLVs), every prefix of a
 * valid header reported as incomplete (never as malformed, never past the
 * header), and the ones that must be refused: wrong signature, wrong
 * version or command, a v1 line over 107 bytes or with a lone CR/LF,
 * non-canonical addresses and ports, a v2 length over the bound, an
 * address block shorter than its family.
 */
#include "util.h"

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "tun_proxyproto.h"

static const uint8_t sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

/* A v2 header: signature, ver_cmd, fam, then `blen` bytes of block. */
static size_t v2(uint8_t *out, uint8_t ver_cmd, uint8_t fam, const uint8_t *block, size_t blen)
{
    memcpy(out, sig, 12);
    out[12] = ver_cmd;
    out[13] = fam;
    out[14] = (uint8_t)(blen >> 8);
    out[15] = (uint8_t)blen;
    if (blen)
        memcpy(out + 16, block, blen);
    return 16 + blen;
}

/* Every strict prefix is "incomplete" (0), the whole is `full`. */
static void check_prefixes(const uint8_t *p, size_t n)
{
    tun_proxyhdr h;
    const char *why;
    for (size_t i = 0; i < n; i++) {
        int rv = tun_proxy_parse(p, i, &h, &why);
        if (rv != 0)
            fail_msg("prefix of %zu/%zu bytes gave %d (%s)", i, n, rv, why ? why : "");
    }
}

static void must_fail(const uint8_t *p, size_t n, const char *reason_part)
{
    tun_proxyhdr h;
    const char *why = NULL;
    assert_int_equal(tun_proxy_parse(p, n, &h, &why), -1);
    assert_non_null(why);
    if (reason_part && strstr(why, reason_part) == NULL)
        fail_msg("reason \"%s\" lacks \"%s\"", why, reason_part);
}

static void must_fail_str(const char *s, const char *reason_part)
{
    must_fail((const uint8_t *)s, strlen(s), reason_part);
}

static void test_v1_tcp4(void **state)
{
    (void)state;
    const char *s = "PROXY TCP4 192.0.2.10 198.51.100.1 56324 2222\r\nSSH-2.0-x\r\n";
    size_t hl = strlen("PROXY TCP4 192.0.2.10 198.51.100.1 56324 2222\r\n");
    tun_proxyhdr h;
    const char *why;
    assert_int_equal(tun_proxy_parse((const uint8_t *)s, strlen(s), &h, &why), (int)hl);
    assert_int_equal(h.version, 1);
    assert_int_equal(h.local, 0);
    assert_int_equal(h.family, AF_INET);
    assert_int_equal(h.src_port, 56324);
    assert_int_equal(h.dst_port, 2222);
    assert_int_equal(h.len, hl);
    char t[64];
    assert_int_equal(tun_proxy_src_text(&h, t, sizeof(t)), 0);
    assert_string_equal(t, "192.0.2.10");
    /* exactly the header: complete too; every prefix incomplete */
    assert_int_equal(tun_proxy_parse((const uint8_t *)s, hl, &h, &why), (int)hl);
    check_prefixes((const uint8_t *)s, hl);
    /* ports 0 and 65535, addresses at their extremes */
    const char *e = "PROXY TCP4 255.255.255.255 0.0.0.0 0 65535\r\n";
    assert_int_equal(tun_proxy_parse((const uint8_t *)e, strlen(e), &h, &why), (int)strlen(e));
    assert_int_equal(h.src_port, 0);
    assert_int_equal(h.dst_port, 65535);
}

static void test_v1_tcp6_unknown(void **state)
{
    (void)state;
    tun_proxyhdr h;
    const char *why;
    const char *s = "PROXY TCP6 2001:db8::7 2001:db8::1 40000 22\r\n";
    assert_int_equal(tun_proxy_parse((const uint8_t *)s, strlen(s), &h, &why), (int)strlen(s));
    assert_int_equal(h.family, AF_INET6);
    char t[64];
    assert_int_equal(tun_proxy_src_text(&h, t, sizeof(t)), 0);
    assert_string_equal(t, "2001:db8::7");
    assert_int_equal(h.src_port, 40000);
    /* the longest v1 line the spec allows: 107 bytes, UNKNOWN with fields */
    const char *w = "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
                    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
    assert_int_equal(strlen(w), 107);
    assert_int_equal(tun_proxy_parse((const uint8_t *)w, strlen(w), &h, &why), 107);
    assert_int_equal(h.local, 1);
    assert_int_equal(tun_proxy_src_text(&h, t, sizeof(t)), -1);
    check_prefixes((const uint8_t *)w, 107);
    const char *u = "PROXY UNKNOWN\r\n";
    assert_int_equal(tun_proxy_parse((const uint8_t *)u, strlen(u), &h, &why), 15);
    assert_int_equal(h.local, 1);
    /* a v4-mapped TCP6 source is reported as the IPv4 client */
    const char *m = "PROXY TCP6 ::ffff:192.0.2.9 ::1 1 2\r\n";
    assert_int_equal(tun_proxy_parse((const uint8_t *)m, strlen(m), &h, &why), (int)strlen(m));
    assert_int_equal(tun_proxy_src_text(&h, t, sizeof(t)), 0);
    assert_string_equal(t, "192.0.2.9");
}

static void test_v1_malformed(void **state)
{
    (void)state;
    must_fail_str("SSH-2.0-OpenSSH_9.2\r\n", "not a PROXY");
    must_fail_str("PROXX TCP4", "not a PROXY");
    must_fail_str("proxy TCP4 1.2.3.4 1.2.3.4 1 2\r\n", "not a PROXY");
    must_fail_str("PROXY TCP5 1.2.3.4 1.2.3.4 1 2\r\n", "protocol");
    must_fail_str("PROXY UNKNOWNX\r\n", "protocol");
    must_fail_str("PROXY TCP4 1.2.3.4 1.2.3.4 1 2\n", "without CR");
    must_fail_str("PROXY TCP4 1.2.3.4 1.2.3.4 1 2\rx", "CR without LF");
    must_fail_str("PROXY TCP4  1.2.3.4 1.2.3.4 1 2\r\n", "one space");
    must_fail_str("PROXY TCP4 1.2.3.4 1.2.3.4 1 2 \r\n", "one space");
    must_fail_str("PROXY TCP4 1.2.3.4 1.2.3.4 1\r\n", "too few");
    must_fail_str("PROXY TCP4 1.2.3.4 1.2.3.4 1 2 3\r\n", "too many");
    must_fail_str("PROXY TCP4 1.2.3.04 1.2.3.4 1 2\r\n", "source address");
    must_fail_str("PROXY TCP4 1.2.3.256 1.2.3.4 1 2\r\n", "source address");
    must_fail_str("PROXY TCP4 ::1 1.2.3.4 1 2\r\n", "source address");
    must_fail_str("PROXY TCP6 1.2.3.4 ::1 1 2\r\n", "source address");
    must_fail_str("PROXY TCP4 1.2.3.4 1.2.3 1 2\r\n", "destination address");
    must_fail_str("PROXY TCP4 1.2.3.4 1.2.3.4 01 2\r\n", "source port");
    must_fail_str("PROXY TCP4 1.2.3.4 1.2.3.4 65536 2\r\n", "source port");
    must_fail_str("PROXY TCP4 1.2.3.4 1.2.3.4 1 -2\r\n", "destination port");
    must_fail_str("PROXY TCP4 1.2.3.4 1.2.3.4 1 2\t\r\n", "non-printable");
    must_fail_str("PROXY \r\n", NULL);
    /* oversized: 107 bytes without a CRLF, or a CRLF only at 108 */
    char big[200];
    memset(big, 'a', sizeof(big));
    memcpy(big, "PROXY UNKNOWN ", 14);
    must_fail((const uint8_t *)big, 107, "107");
    must_fail((const uint8_t *)big, sizeof(big), "107");
    big[106] = '\r';
    big[107] = '\n';
    must_fail((const uint8_t *)big, 108, "107");
    /* 106 bytes without CRLF: still incomplete */
    tun_proxyhdr h;
    assert_int_equal(tun_proxy_parse((const uint8_t *)big, 106, &h, NULL), 0);
}

static void test_v2_inet(void **state)
{
    (void)state;
    uint8_t b[64], p[128];
    const uint8_t blk4[12] = {192, 0, 2, 33, 10, 0, 0, 1, 0xC3, 0x50, 0x08, 0xAE};
    size_t n = v2(p, 0x21, 0x11, blk4, sizeof(blk4));
    memcpy(p + n, "SSH-2.0-x\r\n", 11);
    tun_proxyhdr h;
    const char *why;
    assert_int_equal(tun_proxy_parse(p, n + 11, &h, &why), 28);
    assert_int_equal(h.version, 2);
    assert_int_equal(h.local, 0);
    assert_int_equal(h.family, AF_INET);
    assert_int_equal(h.src_port, 50000);
    assert_int_equal(h.dst_port, 2222);
    char t[64];
    assert_int_equal(tun_proxy_src_text(&h, t, sizeof(t)), 0);
    assert_string_equal(t, "192.0.2.33");
    check_prefixes(p, n);

    /* IPv6 with TLVs after the block (skipped) */
    memset(b, 0, sizeof(b));
    inet_pton(AF_INET6, "2001:db8::42", b);
    inet_pton(AF_INET6, "2001:db8::1", b + 16);
    b[32] = 0x12;
    b[33] = 0x34;
    b[34] = 0;
    b[35] = 22;
    /* PP2_TYPE_ALPN "h2", PP2_TYPE_NOOP with 3 bytes */
    const uint8_t tlv[] = {0x01, 0x00, 0x02, 'h', '2', 0x04, 0x00, 0x03, 0, 0, 0};
    memcpy(b + 36, tlv, sizeof(tlv));
    n = v2(p, 0x21, 0x21, b, 36 + sizeof(tlv));
    assert_int_equal(tun_proxy_parse(p, n, &h, &why), (int)n);
    assert_int_equal(h.family, AF_INET6);
    assert_int_equal(h.src_port, 0x1234);
    assert_int_equal(h.dst_port, 22);
    assert_int_equal(tun_proxy_src_text(&h, t, sizeof(t)), 0);
    assert_string_equal(t, "2001:db8::42");
    check_prefixes(p, n);
}

static void test_v2_local_unspec_unix(void **state)
{
    (void)state;
    uint8_t p[600], b[300];
    tun_proxyhdr h;
    const char *why;
    /* LOCAL, no block */
    size_t n = v2(p, 0x20, 0x00, NULL, 0);
    assert_int_equal(tun_proxy_parse(p, n, &h, &why), 16);
    assert_int_equal(h.local, 1);
    /* LOCAL with an (ignored) IPv4 block, even a short one */
    memset(b, 7, sizeof(b));
    n = v2(p, 0x20, 0x11, b, 12);
    assert_int_equal(tun_proxy_parse(p, n, &h, &why), 28);
    assert_int_equal(h.local, 1);
    n = v2(p, 0x20, 0x21, b, 3);
    assert_int_equal(tun_proxy_parse(p, n, &h, &why), 19);
    assert_int_equal(h.local, 1);
    /* PROXY UNSPEC: the connection's own addresses */
    n = v2(p, 0x21, 0x00, b, 5);
    assert_int_equal(tun_proxy_parse(p, n, &h, &why), 21);
    assert_int_equal(h.local, 1);
    /* PROXY over AF_UNIX stream (216 bytes) and UDP: fall back likewise */
    n = v2(p, 0x21, 0x31, b, 216);
    assert_int_equal(tun_proxy_parse(p, n, &h, &why), 232);
    assert_int_equal(h.local, 1);
    check_prefixes(p, n);
    n = v2(p, 0x21, 0x12, b, 12);
    assert_int_equal(tun_proxy_parse(p, n, &h, &why), 28);
    assert_int_equal(h.local, 1);
}

static void test_v2_malformed(void **state)
{
    (void)state;
    uint8_t p[2048], b[1100];
    memset(b, 1, sizeof(b));
    /* wrong signature (one byte off), SSH's banner instead */
    size_t n = v2(p, 0x21, 0x11, b, 12);
    p[7] ^= 0x20;
    must_fail(p, n, "not a PROXY");
    must_fail(p, 8, "not a PROXY");
    must_fail((const uint8_t *)"\r\n\r\nX", 5, "not a PROXY");
    /* version 1 or 3 in the binary header; commands 2..15 */
    n = v2(p, 0x11, 0x11, b, 12);
    must_fail(p, n, "version");
    must_fail(p, 13, "version");
    n = v2(p, 0x31, 0x11, b, 12);
    must_fail(p, n, "version");
    n = v2(p, 0x22, 0x11, b, 12);
    must_fail(p, n, "command");
    /* unknown family or protocol */
    n = v2(p, 0x21, 0x41, b, 12);
    must_fail(p, n, "family");
    n = v2(p, 0x21, 0x13, b, 12);
    must_fail(p, 14, "family");
    /* PROXY with a block shorter than its family */
    n = v2(p, 0x21, 0x11, b, 11);
    must_fail(p, n, "shorter");
    n = v2(p, 0x21, 0x21, b, 35);
    must_fail(p, n, "shorter");
    n = v2(p, 0x21, 0x31, b, 215);
    must_fail(p, n, "shorter");
    /* oversized: refused from the 16-byte fixed part, before the rest */
    n = v2(p, 0x21, 0x11, b, TUN_PROXY_MAX - 16 + 1);
    must_fail(p, 16, "longer");
    must_fail(p, n, "longer");
    p[14] = 0xff;
    p[15] = 0xff;
    must_fail(p, 16, "longer");
    /* the largest accepted */
    n = v2(p, 0x21, 0x11, b, TUN_PROXY_MAX - 16);
    tun_proxyhdr h;
    assert_int_equal(tun_proxy_parse(p, n, &h, NULL), TUN_PROXY_MAX);
    assert_int_equal(tun_proxy_parse(p, n - 1, &h, NULL), 0);
    /* a first byte neither 'P' nor CR */
    must_fail((const uint8_t *)"\0", 1, "not a PROXY");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v1_tcp4),
        cmocka_unit_test(test_v1_tcp6_unknown),
        cmocka_unit_test(test_v1_malformed),
        cmocka_unit_test(test_v2_inet),
        cmocka_unit_test(test_v2_local_unspec_unix),
        cmocka_unit_test(test_v2_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
