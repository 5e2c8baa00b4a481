/*
 * test_tun_jumpspec.c - ProxyJump values (tunnel/client/tun_jumpspec.h):
 * the last hop and the text before it, ssh:// URIs, brackets, users at the
 * last '@', what is refused, and the form ssh -G prints.
 */
#include "util.h"

#include <stdlib.h>
#include <string.h>

#include "tun_jumpspec.h"

static void test_single(void **state)
{
    (void)state;
    tun_jumpspec j;
    assert_int_equal(tun_jumpspec_parse("bastion", 0, &j), 0);
    assert_string_equal(j.host, "bastion");
    assert_null(j.user);
    assert_int_equal(j.port, -1);
    assert_null(j.extra);
    tun_jumpspec_free(&j);
    assert_int_equal(tun_jumpspec_parse("a@b@gw.example:2222", 0, &j), 0);
    assert_string_equal(j.user, "a@b"); /* the user ends at the last '@' */
    assert_string_equal(j.host, "gw.example");
    assert_int_equal(j.port, 2222);
    tun_jumpspec_free(&j);
    assert_int_equal(tun_jumpspec_parse("[::1]:22", 0, &j), 0);
    assert_string_equal(j.host, "::1");
    assert_int_equal(j.port, 22);
    tun_jumpspec_free(&j);
}

static void test_chain(void **state)
{
    (void)state;
    tun_jumpspec j;
    /* The last element is the hop before the destination; the rest is
     * handed on as written (ssh's jump_extra). */
    assert_int_equal(tun_jumpspec_parse("u@j1:2222,ssh://x@j2:33 # comment", 0, &j), 0);
    assert_string_equal(j.user, "x");
    assert_string_equal(j.host, "j2");
    assert_int_equal(j.port, 33);
    assert_string_equal(j.extra, "u@j1:2222");
    char buf[256];
    tun_jumpspec_format(&j, buf, sizeof(buf));
    assert_string_equal(buf, "u@j1:2222,x@j2:33");
    tun_jumpspec_free(&j);
    assert_int_equal(tun_jumpspec_parse("a,b,c", 0, &j), 0);
    assert_string_equal(j.host, "c");
    assert_string_equal(j.extra, "a,b");
    tun_jumpspec_free(&j);
    assert_int_equal(tun_jumpspec_parse("ssh://u;fingerprint=x@h/", 0, &j), 0);
    assert_string_equal(j.user, "u");
    assert_string_equal(j.host, "h");
    tun_jumpspec_free(&j);
}

static void test_format_numeric(void **state)
{
    (void)state;
    tun_jumpspec j;
    char buf[256];
    assert_int_equal(tun_jumpspec_parse("127.0.0.1:22", 0, &j), 0);
    tun_jumpspec_format(&j, buf, sizeof(buf));
    assert_string_equal(buf, "[127.0.0.1]:22");
    tun_jumpspec_free(&j);
    assert_int_equal(tun_jumpspec_parse("[fe80::1]", 0, &j), 0);
    tun_jumpspec_format(&j, buf, sizeof(buf));
    assert_string_equal(buf, "[fe80::1]");
    tun_jumpspec_free(&j);
}

static void test_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",       ",",         "a,,b",     "@h",        "h:0",    "h:65536", "h:x", "[::1",
        "[::1]x", "ssh://h/p", "ssh://@h", "a,h:99999", "ssh://", "u@",      "h:",  "[]:22"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        tun_jumpspec j;
        if (tun_jumpspec_parse(bad[i], 0, &j) == 0)
            fail_msg("accepted \"%s\"", bad[i]);
    }
    /* The command line is stricter, as ssh's -J. */
    static const char *const strict_bad[] = {"-oProxyCommand=x", "a b", "h;x", "u'@h", "a,$(x)"};
    for (size_t i = 0; i < sizeof(strict_bad) / sizeof(strict_bad[0]); i++) {
        tun_jumpspec j;
        if (tun_jumpspec_parse(strict_bad[i], 1, &j) == 0)
            fail_msg("strict: accepted \"%s\"", strict_bad[i]);
    }
    tun_jumpspec j;
    assert_int_equal(tun_jumpspec_parse("user.name@host-1.example:22", 1, &j), 0);
    tun_jumpspec_free(&j);
}

/* One destination (sshtun's ssh:// command-line form). */
static void test_parse_one(void **state)
{
    (void)state;
    char *u, *h;
    int p;
    assert_int_equal(tun_jumpspec_parse_one("ssh://al;x=1@[::1]:2222/", &u, &h, &p), 0);
    assert_string_equal(u, "al");
    assert_string_equal(h, "::1");
    assert_int_equal(p, 2222);
    free(u);
    free(h);
    assert_int_equal(tun_jumpspec_parse_one("ssh://host", &u, &h, &p), 0);
    assert_null(u);
    assert_string_equal(h, "host");
    assert_int_equal(p, -1);
    free(h);
    const char *bad[] = {"ssh://host/path", "ssh://h:0", "ssh://h:70000", "ssh://@h",
                         "ssh://", "ssh://u@", "ssh://[::1", "ssh://h:x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        u = h = (char *)"unchanged";
        assert_int_equal(tun_jumpspec_parse_one(bad[i], &u, &h, &p), -1);
        assert_null(u);
        assert_null(h);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single),
        cmocka_unit_test(test_chain),
        cmocka_unit_test(test_format_numeric),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_parse_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
