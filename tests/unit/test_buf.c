/*
 * test_buf.c - ssh_buf and the RFC 4251 section 5 wire codec.
 *
 * The rule under test everywhere: a getter that fails returns the error,
 * leaves the cursor exactly where it was and writes no output.
 */
#include "util.h"

#include "sshtun/buf.h"
#include "sshtun/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check_rv(const char *what, int got, int want)
{
    if (got != want)
        fail_msg("%s: returned %d (%s), expected %d (%s)", what, got, ssh_strerror(got), want,
                 ssh_strerror(want));
}

static void check_buf(const char *what, const ssh_buf *b, const char *want_hex)
{
    size_t n;
    uint8_t *want = test_unhex(want_hex, &n);
    if (ssh_buf_len(b) != n || memcmp(ssh_buf_ptr(b), want, n) != 0) {
        print_message("MISMATCH: %s\n  got: ", what);
        for (size_t i = 0; i < ssh_buf_len(b); i++)
            print_message("%02x", ssh_buf_ptr(b)[i]);
        print_message("\n  want: %s\n", want_hex);
        free(want);
        fail_msg("%s: encoding differs", what);
    }
    free(want);
}

/* ---- encoders ----------------------------------------------------------- */

static void test_put_integers(void **state)
{
    (void)state;
    ssh_buf b;
    ssh_buf_init(&b, 0, 0);
    assert_int_equal(b.max, SSH_BUF_DEFAULT_MAX);
    assert_int_equal(ssh_buf_len(&b), 0);
    assert_non_null(ssh_buf_ptr(&b)); /* "" before the first allocation */

    assert_int_equal(ssh_buf_put_u8(&b, 0xab), 0);
    assert_int_equal(ssh_buf_put_bool(&b, 0), 0);
    assert_int_equal(ssh_buf_put_bool(&b, 5), 0); /* TRUE is sent as 1 */
    assert_int_equal(ssh_buf_put_u32(&b, 0x01020304), 0);
    assert_int_equal(ssh_buf_put_u32(&b, 0xfffffffe), 0);
    assert_int_equal(ssh_buf_put_u64(&b, 0x0102030405060708ULL), 0);
    assert_int_equal(ssh_buf_put_u64(&b, 0xf0e0d0c0b0a09080ULL), 0);
    check_buf("u8, bool, u32, u64 (big-endian)", &b,
              "ab 00 01 01020304 fffffffe 0102030405060708 f0e0d0c0b0a09080");

    uint8_t p[4];
    ssh_poke_u32(p, 0xdeadbeef);
    assert_memory_equal(p, "\xde\xad\xbe\xef", 4);
    assert_int_equal(ssh_peek_u32(p), 0xdeadbeef);
    ssh_buf_free(&b);
}

static void test_put_strings(void **state)
{
    (void)state;
    ssh_buf b, inner;
    ssh_buf_init(&b, 0, 0);
    ssh_buf_init(&inner, 0, 0);
    /* RFC 4251 section 5: "testing" is 00 00 00 07 t e s t i n g. */
    assert_int_equal(ssh_buf_put_cstring(&b, "testing"), 0);
    assert_int_equal(ssh_buf_put_cstring(&b, ""), 0);
    assert_int_equal(ssh_buf_put_string(&b, "a\0b", 3), 0);
    assert_int_equal(ssh_buf_put_string(&b, NULL, 0), 0);
    check_buf("strings", &b, "00000007 74657374696e67 00000000 00000003 610062 00000000");
    ssh_buf_reset(&b);
    assert_int_equal(ssh_buf_put_u32(&inner, 7), 0);
    assert_int_equal(ssh_buf_put_stringb(&b, &inner), 0);
    assert_int_equal(ssh_buf_consume(&inner, 4), 0);
    assert_int_equal(ssh_buf_put_stringb(&b, &inner), 0); /* empty */
    check_buf("string from buffer", &b, "00000004 00000007 00000000");
    /* Nothing at all into a fresh buffer. */
    ssh_buf_free(&b);
    assert_int_equal(ssh_buf_put(&b, NULL, 0), 0);
    assert_int_equal(ssh_buf_len(&b), 0);
    ssh_buf_free(&b);
    ssh_buf_free(&inner);
}

/* ---- truncation: every getter, every prefix ------------------------------ */

enum getter {
    G_U8,
    G_BOOL,
    G_U32,
    G_U64,
    G_BYTES,
    G_SKIP,
    G_STRING,
    G_CUR,
    G_CSTR,
    G_STRDUP,
    G_MPINT,
    G_COUNT
};
static const char *const getter_names[] = {"u8",     "bool", "u32",  "u64",    "bytes", "skip",
                                           "string", "cur",  "cstr", "strdup", "mpint"};

/* A complete encoding for each getter. */
static const char *const encodings[] = {
    "7f",
    "02",
    "01020304",
    "0102030405060708",
    "0102030405", /* G_BYTES / G_SKIP read 5 bytes */
    "0102030405",
    "00000005 68656c6c6f",
    "00000005 68656c6c6f",
    "00000005 68656c6c6f",
    "00000005 68656c6c6f",
    "00000003 00ff01",
};

/* Run one getter; on success it must consume everything it was given. */
static int run_getter(enum getter g, ssh_cur *c, uint8_t *sink)
{
    uint8_t u8 = 0xee;
    int bl = 0x55;
    uint32_t u32 = 0xeeeeeeee;
    uint64_t u64 = 0xeeeeeeeeeeeeeeeeULL;
    const uint8_t *p = (const uint8_t *)"sentinel";
    size_t n = 999;
    ssh_cur sub = {(const uint8_t *)"sentinel", 999};
    char str[32] = "sentinel";
    char *dup = (char *)"sentinel";
    int rv;

    switch (g) {
    case G_U8:
        rv = ssh_cur_get_u8(c, &u8);
        break;
    case G_BOOL:
        rv = ssh_cur_get_bool(c, &bl);
        break;
    case G_U32:
        rv = ssh_cur_get_u32(c, &u32);
        break;
    case G_U64:
        rv = ssh_cur_get_u64(c, &u64);
        break;
    case G_BYTES:
        rv = ssh_cur_get_bytes(c, 5, &p);
        break;
    case G_SKIP:
        rv = ssh_cur_skip(c, 5);
        break;
    case G_STRING:
        rv = ssh_cur_get_string(c, &p, &n);
        break;
    case G_CUR:
        rv = ssh_cur_get_cur(c, &sub);
        break;
    case G_CSTR:
        rv = ssh_cur_get_cstr(c, str, sizeof(str));
        break;
    case G_STRDUP:
        rv = ssh_cur_get_strdup(c, 100, &dup);
        break;
    case G_MPINT:
        rv = ssh_cur_get_mpint(c, &p, &n);
        break;
    default:
        rv = SSH_ERR_INTERNAL;
    }
    if (rv != 0) {
        /* Outputs untouched. */
        *sink = 0;
        if (u8 != 0xee || bl != 0x55 || u32 != 0xeeeeeeee || u64 != 0xeeeeeeeeeeeeeeeeULL ||
            strcmp((const char *)p, "sentinel") != 0 || n != 999 || sub.len != 999 ||
            strcmp(str, "sentinel") != 0 || strcmp(dup, "sentinel") != 0)
            *sink = 1;
    } else {
        *sink = 0;
        if (g == G_STRDUP)
            free(dup);
    }
    return rv;
}

static void test_truncation(void **state)
{
    (void)state;
    char what[128];
    for (int g = 0; g < G_COUNT; g++) {
        size_t n;
        uint8_t *enc = test_unhex(encodings[g], &n), sink;
        ssh_cur c;

        /* The whole encoding works and is consumed exactly. */
        ssh_cur_init(&c, enc, n);
        snprintf(what, sizeof(what), "%s on its full encoding", getter_names[g]);
        check_rv(what, run_getter((enum getter)g, &c, &sink), 0);
        check_rv(what, ssh_cur_end(&c), 0);

        for (size_t k = 0; k < n; k++) {
            ssh_cur_init(&c, enc, k);
            snprintf(what, sizeof(what), "%s on %zu of %zu bytes", getter_names[g], k, n);
            check_rv(what, run_getter((enum getter)g, &c, &sink), SSH_ERR_INCOMPLETE);
            if (c.p != enc || c.len != k)
                fail_msg("%s: cursor moved", what);
            if (sink)
                fail_msg("%s: output written on failure", what);
        }
        free(enc);
    }
}

static void test_string_lengths(void **state)
{
    (void)state;
    const uint8_t *p;
    size_t n;
    ssh_cur c;
    /* Length larger than what follows, up to 2^32-1 (no overflow). */
    static const uint8_t over[] = {0, 0, 0, 4, 'a', 'b', 'c'};
    static const uint8_t huge[] = {0xff, 0xff, 0xff, 0xff, 'a', 'b', 'c'};
    static const uint8_t huge2[] = {0xff, 0xff, 0xff, 0xfc, 'a', 'b', 'c', 'd'};
    ssh_cur_init(&c, over, sizeof(over));
    check_rv("string longer than input", ssh_cur_get_string(&c, &p, &n), SSH_ERR_INCOMPLETE);
    ssh_cur_init(&c, huge, sizeof(huge));
    check_rv("string of length 2^32-1", ssh_cur_get_string(&c, &p, &n), SSH_ERR_INCOMPLETE);
    ssh_cur_init(&c, huge2, sizeof(huge2));
    check_rv("string of length 2^32-4", ssh_cur_get_string(&c, &p, &n), SSH_ERR_INCOMPLETE);
    assert_int_equal(c.len, sizeof(huge2));

    /* Zero-length reads from an empty cursor over no memory at all. */
    ssh_cur_init(&c, NULL, 0);
    check_rv("0 bytes from an empty cursor", ssh_cur_get_bytes(&c, 0, &p), 0);
    check_rv("end of empty cursor", ssh_cur_end(&c), 0);
    check_rv("1 byte from an empty cursor", ssh_cur_skip(&c, 1), SSH_ERR_INCOMPLETE);

    /* A nested cursor sees exactly the string. */
    static const uint8_t nested[] = {0, 0, 0, 5, 0, 0, 0, 1, 'x', 'y'};
    ssh_cur sub;
    uint32_t v;
    ssh_cur_init(&c, nested, sizeof(nested));
    assert_int_equal(ssh_cur_get_cur(&c, &sub), 0);
    assert_int_equal(sub.len, 5);
    assert_int_equal(ssh_cur_get_u32(&sub, &v), 0);
    assert_int_equal(v, 1);
    check_rv("trailing byte in the nested cursor", ssh_cur_end(&sub), SSH_ERR_TRAILING);
    check_rv("outer cursor after the string", ssh_cur_end(&c), SSH_ERR_TRAILING);
    assert_int_equal(c.len, 1);
}

static void test_decode_integers(void **state)
{
    (void)state;
    static const uint8_t in[] = {0x00, 0x01, 0x02, 0xff, 0x80, 0x00, 0x00, 0x01,
                                 0xde, 0xad, 0xbe, 0xef, 0xca, 0xfe, 0xba, 0xbe};
    ssh_cur c;
    int b;
    uint8_t u8;
    uint32_t u32;
    uint64_t u64;
    ssh_cur_init(&c, in, sizeof(in));
    assert_int_equal(ssh_cur_get_bool(&c, &b), 0);
    assert_int_equal(b, 0);
    assert_int_equal(ssh_cur_get_bool(&c, &b), 0);
    assert_int_equal(b, 1);
    assert_int_equal(ssh_cur_get_bool(&c, &b), 0); /* any non-zero is TRUE */
    assert_int_equal(b, 1);
    assert_int_equal(ssh_cur_get_u8(&c, &u8), 0);
    assert_int_equal(u8, 0xff);
    assert_int_equal(ssh_cur_get_u32(&c, &u32), 0);
    assert_int_equal(u32, 0x80000001);
    assert_int_equal(ssh_cur_get_u64(&c, &u64), 0);
    assert_true(u64 == 0xdeadbeefcafebabeULL);
    check_rv("all read", ssh_cur_end(&c), 0);

    /* Round trip through the encoders. */
    ssh_buf buf;
    ssh_buf_init(&buf, 0, 0);
    static const uint64_t vals[] = {
        0, 1, 0x7f, 0x80, 0xffffffff, 0x100000000ULL, 0x8000000000000000ULL, 0xffffffffffffffffULL};
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        assert_int_equal(ssh_buf_put_u32(&buf, (uint32_t)vals[i]), 0);
        assert_int_equal(ssh_buf_put_u64(&buf, vals[i]), 0);
    }
    ssh_cur_from_buf(&c, &buf);
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        assert_int_equal(ssh_cur_get_u32(&c, &u32), 0);
        assert_int_equal(u32, (uint32_t)vals[i]);
        assert_int_equal(ssh_cur_get_u64(&c, &u64), 0);
        assert_true(u64 == vals[i]);
    }
    assert_int_equal(ssh_cur_end(&c), 0);
    ssh_buf_free(&buf);
}

/* ---- trailing bytes ----------------------------------------------------- */

static void test_end(void **state)
{
    (void)state;
    static const uint8_t msg[] = {0, 0, 0, 2, 'h', 'i', 0x01};
    ssh_cur c;
    const uint8_t *p;
    size_t n;
    ssh_cur_init(&c, msg, sizeof(msg));
    assert_int_equal(ssh_cur_get_string(&c, &p, &n), 0);
    check_rv("one byte left", ssh_cur_end(&c), SSH_ERR_TRAILING);
    assert_int_equal(ssh_cur_skip(&c, 1), 0);
    check_rv("nothing left", ssh_cur_end(&c), 0);
    ssh_cur_init(&c, msg, sizeof(msg));
    check_rv("nothing read yet", ssh_cur_end(&c), SSH_ERR_TRAILING);
}

/* ---- text strings and NULs ---------------------------------------------- */

static void test_text_strings(void **state)
{
    (void)state;
    static const uint8_t nul[] = {0, 0, 0, 3, 'a', 0, 'b'};
    static const uint8_t nul_end[] = {0, 0, 0, 2, 'a', 0};
    static const uint8_t hello[] = {0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o'};
    static const uint8_t empty[] = {0, 0, 0, 0};
    ssh_cur c;
    const uint8_t *p;
    size_t n;
    char out[8] = "keep";
    char *dup = NULL;

    /* Binary strings may hold NULs. */
    ssh_cur_init(&c, nul, sizeof(nul));
    assert_int_equal(ssh_cur_get_string(&c, &p, &n), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(p, "a\0b", 3);

    /* Text strings may not, and nothing moves or is written. */
    const uint8_t *const inputs[] = {nul, nul_end};
    const size_t lens[] = {sizeof(nul), sizeof(nul_end)};
    for (int i = 0; i < 2; i++) {
        ssh_cur_init(&c, inputs[i], lens[i]);
        check_rv("cstr with NUL", ssh_cur_get_cstr(&c, out, sizeof(out)), SSH_ERR_EMBEDDED_NUL);
        assert_string_equal(out, "keep");
        check_rv("strdup with NUL", ssh_cur_get_strdup(&c, 100, &dup), SSH_ERR_EMBEDDED_NUL);
        assert_null(dup);
        assert_ptr_equal(c.p, inputs[i]);
        assert_int_equal(c.len, lens[i]);
    }

    /* Size limits: "hello" needs 6 bytes with its terminator. */
    ssh_cur_init(&c, hello, sizeof(hello));
    check_rv("cstr into 5 bytes", ssh_cur_get_cstr(&c, out, 5), SSH_ERR_TOO_LONG);
    check_rv("cstr into 0 bytes", ssh_cur_get_cstr(&c, out, 0), SSH_ERR_TOO_LONG);
    assert_string_equal(out, "keep");
    check_rv("strdup max 4", ssh_cur_get_strdup(&c, 4, &dup), SSH_ERR_TOO_LONG);
    assert_null(dup);
    assert_int_equal(c.len, sizeof(hello));
    assert_int_equal(ssh_cur_get_cstr(&c, out, 6), 0);
    assert_string_equal(out, "hello");
    assert_int_equal(ssh_cur_end(&c), 0);
    ssh_cur_init(&c, hello, sizeof(hello));
    assert_int_equal(ssh_cur_get_strdup(&c, 5, &dup), 0);
    assert_string_equal(dup, "hello");
    free(dup);
    dup = NULL;
    assert_int_equal(ssh_cur_end(&c), 0);

    ssh_cur_init(&c, empty, sizeof(empty));
    assert_int_equal(ssh_cur_get_cstr(&c, out, 1), 0);
    assert_string_equal(out, "");
    ssh_cur_init(&c, empty, sizeof(empty));
    assert_int_equal(ssh_cur_get_strdup(&c, 0, &dup), 0);
    assert_string_equal(dup, "");
    free(dup);
}

/* ---- mpint -------------------------------------------------------------- */

static void test_mpint_decode(void **state)
{
    (void)state;
    static const struct {
        const char *enc;
        int rv;
        const char *mag; /* expected magnitude when rv == 0 */
    } v[] = {
        /* RFC 4251 section 5 examples. */
        {"00000000", 0, ""},
        {"00000008 09a378f9b2e332a7", 0, "09a378f9b2e332a7"},
        {"00000002 0080", 0, "80"},
        {"00000002 edcc", SSH_ERR_NEGATIVE, NULL},       /* -1234 */
        {"00000005 ff21524111", SSH_ERR_NEGATIVE, NULL}, /* -deadbeef */
        /* Our rules. */
        {"00000001 80", SSH_ERR_NEGATIVE, NULL},
        {"00000001 ff", SSH_ERR_NEGATIVE, NULL},
        {"00000001 7f", 0, "7f"},
        {"00000001 00", SSH_ERR_FORMAT, NULL},   /* zero must be empty */
        {"00000002 007f", SSH_ERR_FORMAT, NULL}, /* needless leading zero */
        {"00000002 0000", SSH_ERR_FORMAT, NULL},
        {"00000003 000080", SSH_ERR_FORMAT, NULL},
        {"00000003 0080ff", 0, "80ff"},
        {"00000002 0100", 0, "0100"},
    };
    char what[128];
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        size_t n, mn = 999;
        uint8_t *enc = test_unhex(v[i].enc, &n);
        const uint8_t *mag = NULL;
        ssh_cur c;
        ssh_cur_init(&c, enc, n);
        snprintf(what, sizeof(what), "mpint %s", v[i].enc);
        check_rv(what, ssh_cur_get_mpint(&c, &mag, &mn), v[i].rv);
        if (v[i].rv == 0) {
            size_t wn;
            uint8_t *want = test_unhex(v[i].mag, &wn);
            assert_int_equal(mn, wn);
            if (wn)
                assert_memory_equal(mag, want, wn);
            check_rv(what, ssh_cur_end(&c), 0);
            free(want);
        } else {
            assert_null(mag);
            assert_int_equal(mn, 999);
            assert_ptr_equal(c.p, enc);
            assert_int_equal(c.len, n);
        }
        free(enc);
    }
}

static void test_mpint_encode(void **state)
{
    (void)state;
    static const struct {
        const char *mag, *enc;
    } v[] = {
        {"", "00000000"},
        {"00", "00000000"},
        {"000000", "00000000"},
        {"12", "00000001 12"},
        {"000012", "00000001 12"},
        {"80", "00000002 0080"},
        {"0080", "00000002 0080"},
        {"00000080", "00000002 0080"},
        {"7fff", "00000002 7fff"},
        {"008001", "00000003 008001"},
        {"09a378f9b2e332a7", "00000008 09a378f9b2e332a7"},
    };
    char what[128];
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        size_t n;
        uint8_t *mag = test_unhex(v[i].mag, &n);
        ssh_buf b;
        ssh_buf_init(&b, 0, 0);
        snprintf(what, sizeof(what), "put_mpint %s", v[i].mag);
        check_rv(what, ssh_buf_put_mpint(&b, n ? mag : NULL, n), 0);
        check_buf(what, &b, v[i].enc);
        ssh_buf_free(&b);
        free(mag);
    }

    /* Round trip: random magnitudes with random leading zeros and top bits. */
    uint64_t rs = 21;
    for (int iter = 0; iter < 2000; iter++) {
        uint8_t mag[40], lead;
        const uint8_t *got;
        size_t got_n;
        test_rand(&rs, &lead, 1);
        size_t n = (size_t)(lead % 40);
        size_t zeros = (size_t)(lead >> 6); /* 0..3 leading zero bytes */
        test_rand(&rs, mag, n);
        for (size_t z = 0; z < zeros && z < n; z++)
            mag[z] = 0;
        size_t skip = 0;
        while (skip < n && mag[skip] == 0)
            skip++;
        ssh_buf b;
        ssh_cur c;
        ssh_buf_init(&b, 0, 0);
        assert_int_equal(ssh_buf_put_mpint(&b, mag, n), 0);
        ssh_cur_from_buf(&c, &b);
        if (ssh_cur_get_mpint(&c, &got, &got_n) != 0)
            fail_msg("mpint round trip %d failed", iter);
        assert_int_equal(got_n, n - skip);
        if (got_n)
            assert_memory_equal(got, mag + skip, got_n);
        assert_int_equal(ssh_cur_end(&c), 0);
        ssh_buf_free(&b);
    }
}

/* ---- size limits -------------------------------------------------------- */

static void test_max_size(void **state)
{
    (void)state;
    ssh_buf b;
    uint8_t *p;
    ssh_buf_init(&b, 10, 0);
    assert_int_equal(ssh_buf_put(&b, "0123456789", 10), 0);
    check_rv("11th byte", ssh_buf_put_u8(&b, 'x'), SSH_ERR_NO_SPACE);
    check_rv("reserve 1 when full", ssh_buf_reserve(&b, 1, &p), SSH_ERR_NO_SPACE);
    check_rv("append_space when full", ssh_buf_append_space(&b, 1, &p), SSH_ERR_NO_SPACE);
    assert_int_equal(ssh_buf_len(&b), 10);
    assert_memory_equal(ssh_buf_ptr(&b), "0123456789", 10);

    /* The limit is on live bytes: consuming makes room again. */
    assert_int_equal(ssh_buf_consume(&b, 4), 0);
    check_rv("u64 into 4 free", ssh_buf_put_u64(&b, 1), SSH_ERR_NO_SPACE);
    check_rv("string of 1 into 4 free", ssh_buf_put_string(&b, "x", 1), SSH_ERR_NO_SPACE);
    check_rv("mpint 0x80 into 4 free", ssh_buf_put_mpint(&b, (const uint8_t *)"\x80", 1),
             SSH_ERR_NO_SPACE);
    assert_int_equal(ssh_buf_len(&b), 6);
    assert_int_equal(ssh_buf_put_u32(&b, 0x41424344), 0);
    assert_int_equal(ssh_buf_len(&b), 10);
    assert_memory_equal(ssh_buf_ptr(&b), "456789ABCD", 10);
    ssh_buf_free(&b);

    /* Default limit, and sizes that would overflow. */
    ssh_buf_init(&b, 0, 0);
    check_rv("reserve above the default max",
             ssh_buf_reserve(&b, (size_t)SSH_BUF_DEFAULT_MAX + 1, &p), SSH_ERR_NO_SPACE);
    check_rv("reserve SIZE_MAX", ssh_buf_reserve(&b, SIZE_MAX, &p), SSH_ERR_NO_SPACE);
    assert_null(b.data); /* refused before allocating */
    assert_int_equal(ssh_buf_put_u8(&b, 1), 0);
    check_rv("reserve SIZE_MAX with data", ssh_buf_reserve(&b, SIZE_MAX, &p), SSH_ERR_NO_SPACE);
    check_rv("string of SIZE_MAX", ssh_buf_put_string(&b, "", SIZE_MAX), SSH_ERR_TOO_LONG);
    assert_int_equal(ssh_buf_len(&b), 1);
    ssh_buf_free(&b);
}

/* ---- reserve / commit / consume ----------------------------------------- */

static void test_reserve_commit_consume(void **state)
{
    (void)state;
    ssh_buf b;
    uint8_t *p, *q;
    ssh_buf_init(&b, 0, 0);

    /* Even zero bytes of a fresh buffer come with a real pointer. */
    p = NULL;
    assert_int_equal(ssh_buf_reserve(&b, 0, &p), 0);
    assert_non_null(p);
    assert_int_equal(ssh_buf_commit(&b, 0), 0);
    assert_int_equal(ssh_buf_len(&b), 0);

    assert_int_equal(ssh_buf_reserve(&b, 16, &p), 0);
    assert_int_equal(ssh_buf_len(&b), 0);
    assert_true(ssh_buf_avail(&b) >= 16);
    memcpy(p, "reserved-bytes!!", 16);
    assert_int_equal(ssh_buf_commit(&b, 10), 0);
    assert_int_equal(ssh_buf_len(&b), 10);
    assert_memory_equal(ssh_buf_ptr(&b), "reserved-b", 10);
    check_rv("commit beyond the allocation", ssh_buf_commit(&b, ssh_buf_avail(&b) + 1),
             SSH_ERR_ARGUMENT);
    assert_int_equal(ssh_buf_len(&b), 10);

    assert_int_equal(ssh_buf_append_space(&b, 4, &q), 0);
    memcpy(q, "WXYZ", 4);
    assert_int_equal(ssh_buf_len(&b), 14);
    assert_memory_equal(ssh_buf_ptr(&b), "reserved-bWXYZ", 14);

    assert_int_equal(ssh_buf_consume(&b, 9), 0);
    assert_memory_equal(ssh_buf_ptr(&b), "bWXYZ", 5);
    assert_int_equal(ssh_buf_consume_end(&b, 2), 0);
    assert_memory_equal(ssh_buf_ptr(&b), "bWX", 3);
    assert_int_equal(ssh_buf_len(&b), 3);
    check_rv("consume too much", ssh_buf_consume(&b, 4), SSH_ERR_ARGUMENT);
    check_rv("consume_end too much", ssh_buf_consume_end(&b, 4), SSH_ERR_ARGUMENT);
    assert_int_equal(ssh_buf_len(&b), 3);
    ssh_buf_mutable_ptr(&b)[0] = 'B';
    assert_memory_equal(ssh_buf_ptr(&b), "BWX", 3);
    assert_int_equal(ssh_buf_consume(&b, 3), 0);
    assert_int_equal(ssh_buf_len(&b), 0);
    assert_int_equal(b.off, 0); /* an emptied buffer starts over at the front */
    ssh_buf_free(&b);
}

/* A buffer used as a queue that is drained as fast as it fills must never
 * reallocate (no allocation per packet), and sliding keeps the data. */
static void test_queue_no_realloc(void **state)
{
    (void)state;
    ssh_buf b;
    uint8_t chunk[100], prev[100];
    uint64_t rs = 8;
    ssh_buf_init(&b, 0, 0);
    /* Warm up: two chunks in, one out, so the queue holds one chunk. */
    test_rand(&rs, prev, sizeof(prev));
    assert_int_equal(ssh_buf_put(&b, prev, sizeof(prev)), 0);
    assert_int_equal(ssh_buf_put(&b, prev, sizeof(prev)), 0);
    assert_int_equal(ssh_buf_consume(&b, 100), 0);
    const uint8_t *data = b.data;
    size_t cap = b.cap;

    for (int i = 0; i < 1000; i++) {
        test_rand(&rs, chunk, sizeof(chunk));
        assert_int_equal(ssh_buf_put(&b, chunk, sizeof(chunk)), 0);
        assert_int_equal(ssh_buf_len(&b), 200);
        if (memcmp(ssh_buf_ptr(&b), prev, 100) != 0 || memcmp(ssh_buf_ptr(&b) + 100, chunk, 100))
            fail_msg("queue content wrong at round %d", i);
        assert_int_equal(ssh_buf_consume(&b, 100), 0);
        memcpy(prev, chunk, sizeof(prev));
    }
    assert_ptr_equal(b.data, data);
    assert_int_equal(b.cap, cap);
    ssh_buf_free(&b);
}

/* ---- secret buffers ------------------------------------------------------ */

static int all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != 0)
            return 0;
    return 1;
}

static void test_secret(void **state)
{
    (void)state;
    ssh_buf b;
    uint8_t *p;

    /* reset() wipes the whole allocation. */
    ssh_buf_init(&b, 0, SSH_BUF_SECRET);
    assert_int_equal(ssh_buf_put(&b, "hunter2", 7), 0);
    const uint8_t *data = b.data;
    size_t cap = b.cap;
    ssh_buf_reset(&b);
    assert_int_equal(ssh_buf_len(&b), 0);
    assert_ptr_equal(b.data, data);
    assert_true(all_zero(b.data, cap));

    /* Sliding the live bytes to the front wipes where they were. */
    uint8_t fill[1000];
    memset(fill, 0xaa, sizeof(fill));
    assert_int_equal(ssh_buf_put(&b, fill, 200), 0);
    assert_int_equal(ssh_buf_consume(&b, 150), 0);
    assert_int_equal(b.cap, 256); /* so that 150 more bytes force the slide */
    assert_int_equal(ssh_buf_reserve(&b, 150, &p), 0);
    assert_ptr_equal(b.data, data);
    assert_int_equal(b.off, 0);
    assert_int_equal(ssh_buf_len(&b), 50);
    assert_memory_equal(ssh_buf_ptr(&b), fill, 50);
    assert_true(all_zero(p, 150)); /* the old copies of the secret are gone */

    /* Growing keeps the content (the old block is wiped before free(), which
     * ASan would flag if it were touched after). */
    assert_int_equal(ssh_buf_put(&b, fill, 1000), 0);
    assert_int_equal(ssh_buf_len(&b), 1050);
    ssh_buf_free(&b);
    ssh_buf_free(&b); /* twice is fine */
    assert_null(b.data);
    /* A freed buffer is empty and reusable, with its limit and flags. */
    assert_int_equal(b.flags, SSH_BUF_SECRET);
    assert_int_equal(ssh_buf_put_u32(&b, 1), 0);
    ssh_buf_free(&b);
}

/* ---- name-lists ---------------------------------------------------------- */

static void test_namelist_has(void **state)
{
    (void)state;
    const char *list = "aes128-ctr,aes256-ctr,chacha20-poly1305@openssh.com";
    assert_true(ssh_namelist_has(list, "aes128-ctr"));
    assert_true(ssh_namelist_has(list, "aes256-ctr"));
    assert_true(ssh_namelist_has(list, "chacha20-poly1305@openssh.com"));
    assert_false(ssh_namelist_has(list, "aes128"));                /* prefix */
    assert_false(ssh_namelist_has(list, "ctr"));                   /* suffix */
    assert_false(ssh_namelist_has(list, "128-ctr"));               /* inside */
    assert_false(ssh_namelist_has(list, "aes128-ctr,aes256-ctr")); /* two names */
    assert_false(ssh_namelist_has(list, "chacha20-poly1305"));
    assert_false(ssh_namelist_has(list, "aes128-ctrx"));
    assert_false(ssh_namelist_has(list, ""));
    assert_false(ssh_namelist_has("", "aes128-ctr"));
    assert_false(ssh_namelist_has(NULL, "aes128-ctr"));
    assert_true(ssh_namelist_has(",,aes128-ctr,", "aes128-ctr"));
    assert_true(ssh_namelist_has("x", "x"));
}

static void test_namelist_match(void **state)
{
    (void)state;
    char out[64];
    /* RFC 4253 section 7.1: the first client algorithm the server has. */
    assert_int_equal(
        ssh_namelist_match("aes256-ctr,aes128-ctr", "aes128-ctr,aes256-ctr", out, sizeof(out)), 0);
    assert_string_equal(out, "aes256-ctr");
    assert_int_equal(
        ssh_namelist_match("aes128-ctr,aes256-ctr", "aes256-ctr,aes128-ctr", out, sizeof(out)), 0);
    assert_string_equal(out, "aes128-ctr");
    assert_int_equal(ssh_namelist_match("none,zlib", "zlib", out, sizeof(out)), 0);
    assert_string_equal(out, "zlib");
    assert_int_equal(ssh_namelist_match(",,x", "y,x", out, sizeof(out)), 0);
    assert_string_equal(out, "x");

    strcpy(out, "keep");
    check_rv("client name is a prefix",
             ssh_namelist_match("aes128", "aes128-ctr", out, sizeof(out)), SSH_ERR_FORMAT);
    check_rv("server name is a prefix",
             ssh_namelist_match("aes128-ctr", "aes128", out, sizeof(out)), SSH_ERR_FORMAT);
    check_rv("nothing in common", ssh_namelist_match("a,b", "c,d", out, sizeof(out)),
             SSH_ERR_FORMAT);
    check_rv("empty client list", ssh_namelist_match("", "a", out, sizeof(out)), SSH_ERR_FORMAT);
    check_rv("empty server list", ssh_namelist_match("a", "", out, sizeof(out)), SSH_ERR_FORMAT);
    check_rv("NULL server list", ssh_namelist_match("a", NULL, out, sizeof(out)), SSH_ERR_FORMAT);
    assert_string_equal(out, "keep");

    /* Output size: "aes128-ctr" needs 11 bytes. */
    check_rv("10-byte output", ssh_namelist_match("aes128-ctr", "aes128-ctr", out, 10),
             SSH_ERR_TOO_LONG);
    assert_int_equal(ssh_namelist_match("aes128-ctr", "aes128-ctr", out, 11), 0);
    assert_string_equal(out, "aes128-ctr");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_integers),
        cmocka_unit_test(test_put_strings),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_string_lengths),
        cmocka_unit_test(test_decode_integers),
        cmocka_unit_test(test_end),
        cmocka_unit_test(test_text_strings),
        cmocka_unit_test(test_mpint_decode),
        cmocka_unit_test(test_mpint_encode),
        cmocka_unit_test(test_max_size),
        cmocka_unit_test(test_reserve_commit_consume),
        cmocka_unit_test(test_queue_no_realloc),
        cmocka_unit_test(test_secret),
        cmocka_unit_test(test_namelist_has),
        cmocka_unit_test(test_namelist_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
