/*
 * test_tun_remote.c - the pure parts of "using the remote side" in the
 * client: the escape filter (tunnel/client/tun_escape.h), the X11 setup
 * check and cookie substitution (tun_x11.h) and the random art
 * (tun_randomart.h).
 */
#include "util.h"

#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "tun_escape.h"
#include "tun_randomart.h"
#include "tun_x11.h"

/* ---- escapes ----------------------------------------------------------------------------------
 */

typedef struct {
    int quit, brk, rekey, background, listed;
    char fwd[128];
} calls;

static void c_quit(void *a)
{
    ((calls *)a)->quit++;
}
static void c_brk(void *a)
{
    ((calls *)a)->brk++;
}
static void c_rekey(void *a)
{
    ((calls *)a)->rekey++;
}
static void c_bg(void *a)
{
    ((calls *)a)->background++;
}
static void c_list(void *a, char *buf, size_t len)
{
    ((calls *)a)->listed++;
    snprintf(buf, len, "list\r\n");
}
static int c_fwd(void *a, char kind, int cancel, const char *spec, char *msg, size_t msgsz)
{
    (void)msg;
    (void)msgsz;
    snprintf(((calls *)a)->fwd, sizeof(((calls *)a)->fwd), "%s%c %s", cancel ? "K" : "", kind,
             spec);
    return 0;
}

static calls cs;
static tun_escape_ops ops;
static int null_fd = -1;

static void esc_init(tun_escape *e, int ch, int cmdline)
{
    memset(&cs, 0, sizeof(cs));
    memset(&ops, 0, sizeof(ops));
    ops.quit = c_quit;
    ops.brk = c_brk;
    ops.rekey = c_rekey;
    ops.background = c_bg;
    ops.list = c_list;
    ops.forward = c_fwd;
    ops.cmdline_enabled = cmdline;
    ops.levels = 0;
    ops.arg = &cs;
    if (null_fd < 0)
        null_fd = open("/dev/null", O_WRONLY);
    tun_escape_init(e, ch, null_fd, &ops);
}

/* Feed `in` in pieces of `step` bytes; the concatenated output. */
static size_t feed(tun_escape *e, const char *in, size_t step, char *out)
{
    size_t n = strlen(in), o = 0;
    for (size_t i = 0; i < n && !e->closed; i += step) {
        size_t k = n - i < step ? n - i : step;
        long r = tun_escape_filter(e, (const uint8_t *)in + i, k, (uint8_t *)out + o);
        assert_true(r >= 0 && (size_t)r <= k + 1);
        o += (size_t)r;
    }
    out[o] = '\0';
    return o;
}

static void test_escape_rules(void **state)
{
    (void)state;
    static const size_t steps[] = {1, 2, 3, 100};
    for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
        tun_escape e;
        char out[256];
        esc_init(&e, '~', 0);
        /* Only at a line start (the very first byte is one). */
        feed(&e, "a~.b\n~~x\n~x\n", steps[s], out);
        assert_string_equal(out, "a~.b\n~x\n~x\n");
        assert_int_equal(cs.quit, 0);
        feed(&e, "\r~B~R\nx~R~#\n~#~.", steps[s], out);
        /* An escape leaves us where we were (at a line start, as in ssh):
         * "~B~R" are two escapes; after "x" neither "~R" nor "~#" is. */
        assert_string_equal(out, "\r\nx~R~#\n");
        assert_int_equal(cs.brk, 1);
        assert_int_equal(cs.rekey, 1);
        assert_int_equal(cs.listed, 1);
        /* "~#" consumed leaves us at a line start, so ~. counts. */
        assert_int_equal(cs.quit, 1);
    }
}

static void test_escape_held_back(void **state)
{
    (void)state;
    tun_escape e;
    char out[16];
    esc_init(&e, '~', 0);
    /* The escape character ends a read: held back, then sent with the
     * next byte, which may make the output one byte longer than the input. */
    assert_int_equal(tun_escape_filter(&e, (const uint8_t *)"~", 1, (uint8_t *)out), 0);
    assert_int_equal(tun_escape_filter(&e, (const uint8_t *)"q", 1, (uint8_t *)out), 2);
    assert_memory_equal(out, "~q", 2);
    /* Another escape character: ^A. */
    esc_init(&e, 1, 0);
    assert_int_equal(tun_escape_filter(&e, (const uint8_t *)"~.\n\001.", 5, (uint8_t *)out), 3);
    assert_memory_equal(out, "~.\n", 3);
    assert_int_equal(cs.quit, 1);
}

static void test_escape_background_and_cmdline(void **state)
{
    (void)state;
    tun_escape e;
    char out[64];
    esc_init(&e, '~', 0);
    /* ~&: a ^D for the remote shell, then the input ends. */
    size_t n = feed(&e, "ls\n~&more", 100, out);
    assert_int_equal(n, 4);
    assert_memory_equal(out, "ls\n\004", 4);
    assert_int_equal(cs.background, 1);
    assert_true(e.closed);
    /* ~C without EnableEscapeCommandline does nothing else. */
    esc_init(&e, '~', 0);
    feed(&e, "~C-L 1:h:2\n", 100, out);
    assert_string_equal(cs.fwd, "");
    assert_string_equal(out, "-L 1:h:2\n");
    /* With it, the line is edited here (backspace, ^U) and runs on Enter;
     * none of it reaches the channel. */
    esc_init(&e, '~', 1);
    n = feed(&e, "~C-KL 80xx\177\177\n", 100, out);
    assert_int_equal(n, 0);
    assert_string_equal(cs.fwd, "KL 80");
    esc_init(&e, '~', 1);
    feed(&e, "~Cjunk\025 -R 9:h:1\rafter", 3, out);
    assert_string_equal(cs.fwd, "R 9:h:1");
    assert_string_equal(out, "after");
}

/* ---- X11 setup
 * ------------------------------------------------------------------------------------ */

/* An X11 connection setup in byte order `bo` with name and data. */
static size_t x11_setup(uint8_t *b, char bo, const char *name, const uint8_t *data, size_t dl)
{
    size_t nl = strlen(name), o = 12;
    memset(b, 0, 12);
    b[0] = (uint8_t)bo;
    if (bo == 'B') {
        b[2] = 0, b[3] = 11; /* protocol 11.0 */
        b[6] = (uint8_t)(nl >> 8), b[7] = (uint8_t)nl;
        b[8] = (uint8_t)(dl >> 8), b[9] = (uint8_t)dl;
    } else {
        b[2] = 11;
        b[6] = (uint8_t)nl, b[7] = (uint8_t)(nl >> 8);
        b[8] = (uint8_t)dl, b[9] = (uint8_t)(dl >> 8);
    }
    memcpy(b + o, name, nl);
    o += (nl + 3) & ~(size_t)3;
    memcpy(b + o, data, dl);
    o += (dl + 3) & ~(size_t)3;
    return o;
}

static void test_x11_substitute(void **state)
{
    (void)state;
    uint8_t fake[16], real[16], other[16], b[128];
    memset(fake, 0x11, 16);
    memset(real, 0x22, 16);
    memset(other, 0x33, 16);
    const char *why = NULL;
    const char *p = "MIT-MAGIC-COOKIE-1";
    for (int order = 0; order < 2; order++) {
        char bo = order ? 'B' : 'l';
        size_t n = x11_setup(b, bo, p, fake, 16);
        /* Every prefix is "not yet". */
        for (size_t k = 0; k < n; k++)
            assert_int_equal(tun_x11_substitute(b, k, p, fake, real, 16, &why), 0);
        assert_int_equal(tun_x11_substitute(b, n, p, fake, real, 16, &why), 1);
        assert_memory_equal(b + 12 + 20, real, 16);
        /* The same again now fails: the fake is gone. */
        assert_int_equal(tun_x11_substitute(b, n, p, fake, real, 16, &why), -1);
        n = x11_setup(b, bo, p, other, 16);
        assert_int_equal(tun_x11_substitute(b, n, p, fake, real, 16, &why), -1);
        assert_string_equal(why, "X11 auth data does not match fake data");
        assert_memory_equal(b + 12 + 20, other, 16); /* untouched */
        n = x11_setup(b, bo, p, fake, 8);
        assert_int_equal(tun_x11_substitute(b, n, p, fake, real, 16, &why), -1);
        n = x11_setup(b, bo, "XDM-AUTHORIZATION-1", fake, 16);
        assert_int_equal(tun_x11_substitute(b, n, p, fake, real, 16, &why), -1);
        assert_string_equal(why, "X11 connection uses different authentication protocol");
    }
    memset(b, 0, sizeof(b));
    b[0] = 'x';
    assert_int_equal(tun_x11_substitute(b, 12, p, fake, real, 16, &why), -1);
}

/* ---- random art
 * ------------------------------------------------------------------------------------- */

static void test_randomart(void **state)
{
    (void)state;
    uint8_t d[32];
    memset(d, 0, sizeof(d));
    char art[TUN_RANDOMART_MAX];
    assert_int_equal(
        tun_randomart_draw(d, sizeof(d), "[ED25519 256]", "[SHA256]", art, sizeof(art)), 0);
    /* Moves (7,3) (6,2) (5,1) (4,0), then along the top wall to (0,0),
     * where the other 120 end: one visit each ('.'), the corner capped
     * and then marked E; the start is S. */
    const char *want = "+--[ED25519 256]--+\n"
                       "|E....            |\n"
                       "|     .           |\n"
                       "|      .          |\n"
                       "|       .         |\n"
                       "|        S        |\n"
                       "|                 |\n"
                       "|                 |\n"
                       "|                 |\n"
                       "|                 |\n"
                       "+----[SHA256]-----+";
    assert_string_equal(art, want);
    assert_int_equal(tun_randomart_draw(d, sizeof(d), "x", "y", art, 100), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape_rules),
        cmocka_unit_test(test_escape_held_back),
        cmocka_unit_test(test_escape_background_and_cmdline),
        cmocka_unit_test(test_x11_substitute),
        cmocka_unit_test(test_randomart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
