/*
 * test_tun_cfgval.c - value syntaxes shared by the configuration readers
 * (tunnel/tun_cfgval.h): yes/no, integers, TIME FORMATS, sizes, and the
 * address forms of ListenAddress/PermitOpen/PermitListen/Match Address.
 */
#include "util.h"

#include <limits.h>
#include <stdint.h>

#include "tun_cfgval.h"

static void test_yesno_int(void **state)
{
    (void)state;
    int b = -1;
    assert_int_equal(tun_parse_yesno("YES", &b), 0);
    assert_int_equal(b, 1);
    assert_int_equal(tun_parse_yesno("no", &b), 0);
    assert_int_equal(b, 0);
    assert_int_equal(tun_parse_yesno("yess", &b), -1);
    assert_int_equal(tun_parse_yesno("", &b), -1);
    long n = 0;
    assert_int_equal(tun_parse_int("42", 0, 100, &n), 0);
    assert_int_equal(n, 42);
    assert_int_equal(tun_parse_int("-3", -5, 5, &n), 0);
    assert_int_equal(n, -3);
    assert_int_equal(tun_parse_int("101", 0, 100, &n), -1);
    assert_int_equal(tun_parse_int(" 1", 0, 100, &n), -1);  /* strtol would take it */
    assert_int_equal(tun_parse_int("+1", 0, 100, &n), -1);
    assert_int_equal(tun_parse_int("1x", 0, 100, &n), -1);
    assert_int_equal(tun_parse_int("99999999999999999999", 0, LONG_MAX, &n), -1);
}

static void test_time(void **state)
{
    (void)state;
    int64_t t = -1;
    assert_int_equal(tun_parse_time("90", &t), 0);
    assert_int_equal(t, 90);
    assert_int_equal(tun_parse_time("1h30m", &t), 0);
    assert_int_equal(t, 5400);
    assert_int_equal(tun_parse_time("2d", &t), 0);
    assert_int_equal(t, 172800);
    assert_int_equal(tun_parse_time("1W1s", &t), 0);
    assert_int_equal(t, 604801);
    assert_int_equal(tun_parse_time("", &t), -1);
    assert_int_equal(tun_parse_time("1y", &t), -1);
    assert_int_equal(tun_parse_time("-1", &t), -1);
    assert_int_equal(tun_parse_time("h", &t), -1);
    assert_int_equal(tun_parse_time("9223372036854775807w", &t), -1);
    int ti = 0;
    assert_int_equal(tun_parse_time_int("10m", &ti), 0);
    assert_int_equal(ti, 600);
    assert_int_equal(tun_parse_time_int("100000w", &ti), -1); /* > INT_MAX seconds */
}

static void test_size(void **state)
{
    (void)state;
    int64_t s = -1;
    assert_int_equal(tun_parse_size("1024", &s), 0);
    assert_int_equal(s, 1024);
    assert_int_equal(tun_parse_size("64K", &s), 0);
    assert_int_equal(s, 65536);
    assert_int_equal(tun_parse_size("1g", &s), 0);
    assert_int_equal(s, 1LL << 30);
    assert_int_equal(tun_parse_size("2T", &s), 0);
    assert_int_equal(s, 2LL << 40);
    assert_int_equal(tun_parse_size("1KB", &s), -1);
    assert_int_equal(tun_parse_size("-1", &s), -1);
    assert_int_equal(tun_parse_size("99999999999T", &s), -1);
}

static void test_addresses(void **state)
{
    (void)state;
    assert_true(tun_valid_port("22", 0));
    assert_false(tun_valid_port("0", 0));
    assert_false(tun_valid_port("65536", 0));
    assert_true(tun_valid_port("*", 1));
    assert_false(tun_valid_port("*", 0));
    assert_true(tun_valid_hostport("db.example.com:5432", 0, 0, 0));
    assert_true(tun_valid_hostport("[::1]:22", 0, 0, 0));
    assert_true(tun_valid_hostport("*:*", 1, 0, 0));
    assert_false(tun_valid_hostport("db:", 0, 0, 0));
    assert_false(tun_valid_hostport("db", 0, 0, 0));
    assert_true(tun_valid_hostport("db", 0, 1, 0));
    assert_true(tun_valid_hostport("fe80::1%eth0", 0, 1, 0));
    assert_true(tun_valid_hostport("8080", 0, 0, 1));
    assert_false(tun_valid_hostport("[::1", 0, 1, 0));
    assert_false(tun_valid_hostport("bad host:22", 0, 0, 0));
    assert_true(tun_valid_cidr("10.0.0.0/8"));
    assert_true(tun_valid_cidr("2001:db8::/32"));
    assert_false(tun_valid_cidr("10.0.0.0/33"));
    assert_false(tun_valid_cidr("10.0.0.0"));
    assert_true(tun_valid_pattern_list("10.0.0.0/8,!10.1.2.3,*.example.com", 1));
    assert_false(tun_valid_pattern_list("a,,b", 0));
    assert_false(tun_valid_pattern_list("!", 0));
    assert_false(tun_valid_pattern_list("10.0.0.0/99", 1));
    assert_true(tun_valid_pattern_list("10.0.0.0/99", 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_yesno_int),
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_size),
        cmocka_unit_test(test_addresses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
